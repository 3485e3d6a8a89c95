/*
 * motan-test-server: a single-threaded, fault-injecting motan2 server for tests and
 * benchmarks (docs/test-server.md). Private to tests/support/server.
 */
#ifndef MOTAN_SRV_H
#define MOTAN_SRV_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <motan/codec.h>
#include <motan/registry.h>

#define SRV_SERVICE "com.example.EchoService"

/* ---- faults (faults.c) ----------------------------------------------------------------- */

typedef enum srv_fault_kind {
    SRV_F_NONE = 0,
    SRV_F_DELAY,
    SRV_F_NOREPLY,
    SRV_F_CLOSE,
    SRV_F_RESET,
    SRV_F_CLOSE_MID,
    SRV_F_GARBAGE,
    SRV_F_WRONG_ID,
    SRV_F_DUPLICATE,
    SRV_F_OVERSIZE,
    SRV_F_OVERSIZE_META,
    SRV_F_BYTEWISE,
    SRV_F_ERROR_GO,
    SRV_F_ERROR_JAVA,
    SRV_F_GZIP,
    SRV_F_GZIP_BOMB,
    SRV_F_GZIP_NULLS,
    SRV_F_MANY_META,
    SRV_F_ENDLESS_META,
    SRV_F_HB_STORM,
    SRV_F_MOTAN1,
    SRV_F_VERSION2
} srv_fault_kind;

typedef struct srv_fault {
    srv_fault_kind kind;
    uint32_t n; /* delay:N, many-meta:N, hb-storm:N */
} srv_fault;

/* Parses "close", "delay:100"...; 0 or -1 (unknown mode, missing or bad N). */
int srv_fault_parse(const char *spec, size_t len, srv_fault *out);
/* Deflates 64 MiB of zeros into a gzip member (malloc'd); 0 or -1. */
int srv_gzip_bomb(uint8_t **out, size_t *len);
/* gzip-nulls: ~10 KB of gzip inflating to a 10 MiB Simple array of nulls (malloc'd). */
int srv_gzip_nulls(uint8_t **out, size_t *len);

/* ---- options and the server (main.c) ----------------------------------------------------- */

typedef enum srv_hb_mode { SRV_HB_GO, SRV_HB_JAVA, SRV_HB_LUA, SRV_HB_NONE, SRV_HB_CLOSE } srv_hb_mode;

typedef struct srv_options {
    int port;
    const char *unix_path;
    const char *name;
    srv_fault fault;
    int has_fault;
    double fault_rate; /* percent; < 0: every request */
    uint64_t seed;
    srv_hb_mode hb;
    int refuse;
    int no_read;
    int quiet;
    const char *register_url; /* --register: publish the server in this registry */
    const char *group;        /* --group (default default_rpc) */
    int weight;               /* --weight, 0: none */
} srv_options;

typedef struct srv_conn srv_conn;

typedef struct srv_server {
    struct event_base *base;
    srv_options opt;
    char name[256];
    size_t name_len;
    int listen_fd;
    int port;
    struct event *listen_ev;
    struct event *accept_retry_ev;
    srv_conn *conns;
    motan_frame *frame;    /* the request being handled (views into a connection's input) */
    motan_arena *arena;    /* its arguments and result, reset per request */
    motan_buf *body;       /* its serialized result */
    motan_buf *tmp;        /* scratch for answers built out of line */
    uint64_t rng;
    uint64_t served;
    uint8_t *bomb;         /* gzip-bomb body, built on first use */
    size_t bomb_len;
    uint8_t *nulls;        /* gzip-nulls body, likewise */
    size_t nulls_len;
    motan_loop *loop;      /* --register: the library's view of base */
    motan_registry *registry;
    motan_url *node;       /* what was registered */
} srv_server;

/* Logs to stderr unless --quiet. */
void srv_log(const srv_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* xorshift64* seeded by --seed. */
uint64_t srv_rand(srv_server *s);

/* ---- --register (registry.c) ------------------------------------------------------------ */

/* Publishes the listening server (--register). 0, or -1 with a message on stderr. */
int srv_registry_start(srv_server *s);
/* Unregisters and frees the registry (on SIGTERM, from the loop). No-op without one. */
void srv_registry_stop(srv_server *s);

/* ---- listener (listener.c) --------------------------------------------------------------- */

/* Binds (and unless --refuse, listens); sets s->port. 0 or -1 with a message on stderr. */
int srv_listener_open(srv_server *s);
void srv_listener_close(srv_server *s);

/* ---- connections (conn.c) ---------------------------------------------------------------- */

typedef struct srv_range {
    size_t start, end;
} srv_range;

struct srv_job;

struct srv_conn {
    srv_server *srv;
    srv_conn *prev, *next;
    int fd;
    struct event *rev, *wev, *trickle_ev, *endless_ev;
    uint8_t *in;          /* unparsed input */
    size_t in_len, in_cap;
    size_t need;          /* total bytes the partial frame at in[0] needs, when known */
    motan_buf *out;       /* answers not yet written, from out_off */
    motan_buf *spare;     /* compaction target, swapped with out */
    size_t out_off;
    srv_range *slow;      /* output ranges written one byte per ms (bytewise) */
    size_t nslow, slow_cap;
    struct srv_job *jobs; /* delayed answers */
    size_t endless_left;  /* endless-meta bytes still to trickle */
    int endless;          /* an endless frame is being sent: later answers are dropped */
    int closing;          /* 0, or SRV_CLOSE_* once the connection closes after a flush */
    int paused;           /* reading stopped while the output drains */
};

enum { SRV_CLOSE_FLUSH = 1, SRV_CLOSE_RESET = 2 };

/* Takes over an accepted, non-blocking fd. NULL on out of memory (fd closed). */
srv_conn *srv_conn_new(srv_server *s, int fd);
void srv_conn_destroy(srv_conn *c);
/* Writes what it can. 0, or -1 when c was destroyed (closed, or a write error). */
int srv_conn_flush(srv_conn *c);
/* Stops reading, drops delayed answers, closes (RST with reset) once the output is written. */
void srv_conn_close_after_flush(srv_conn *c, int reset);
/* The output bytes [start, end) go out one byte per write, 1 ms apart. */
int srv_conn_mark_slow(srv_conn *c, size_t start, size_t end);
/* Trickles the endless metadata after a header already in the output. */
void srv_conn_start_endless(srv_conn *c);

/* ---- request dispatch (dispatch.c) --------------------------------------------------------- */

/* An answer to one request, as decided when it arrived. */
typedef struct srv_answer {
    uint64_t id;
    int ser;
    int is_error;
    int64_t errcode;
    int errtype;
    const char *errmsg;
    size_t errmsg_len;
    const uint8_t *body; /* serialized result (is_error == 0) */
    size_t body_len;
    srv_fault fault;
    uint64_t recv_us;
} srv_answer;

/* Handles the whole frames at the start of data; returns the bytes consumed. */
size_t srv_dispatch(srv_conn *c, const uint8_t *data, size_t len, uint64_t now_us);
/* Frees c's delayed answers and their timers. */
void srv_jobs_cancel(srv_conn *c);

/* ---- EchoService (methods.c) ------------------------------------------------------------- */

typedef struct srv_call {
    const motan_frame *frame; /* the request (meta reads its metadata) */
    const motan_value *result;
    uint32_t delay_ms; /* sleep(ms) */
    int64_t errcode;   /* != 0: error answer */
    int errtype;
    const char *errmsg;
    size_t errmsg_len;
    char errbuf[512];
} srv_call;

/* 1 when the service has method m ("echo" or "Echo"). */
int srv_method_exists(const char *m, size_t len);
/* Runs method m on args (an ARRAY); fills call. */
void srv_method_call(srv_server *s, const char *m, size_t len, const motan_value *args,
                     srv_call *call);

/* ---- answers (respond.c) ----------------------------------------------------------------- */

/* Appends a's answer, shaped by its fault, to c's output (no write yet). */
void srv_respond(srv_conn *c, const srv_answer *a);
/* Answers a heartbeat request in the --heartbeat style. */
void srv_respond_heartbeat(srv_conn *c, const motan_frame *f);

#endif
