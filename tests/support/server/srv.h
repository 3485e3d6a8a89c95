/*
 * motan-test-server: a fault-injecting motan2 server for tests and benchmarks
 * (docs/test-server.md), built on the library's server layer (include/motan/server.h): the
 * layer listens, reads, frames and writes; this program decides every answer, and the
 * faults shape it out of raw bytes, streams and closes. Private to tests/support/server.
 */
#ifndef MOTAN_SRV_H
#define MOTAN_SRV_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <motan/server.h>

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

struct srv_job;

typedef struct srv_server {
    struct event_base *base;
    srv_options opt;
    char name[256];
    size_t name_len;
    int port;
    motan_loop *loop;      /* the library's view of base */
    motan_server *server;  /* NULL with --refuse and --no-read (dud.c serves those) */
    int dud_fd;            /* the --refuse / --no-read socket */
    struct event *dud_ev;
    struct srv_job *jobs;  /* answers that are not due yet, and trickles */
    motan_buf *tmp;        /* the answer being built out of line */
    motan_buf *tmp2;       /* version2: the frame whose header is replaced */
    uint64_t rng;
    uint64_t served;
    uint8_t *bomb;         /* gzip-bomb body, built on first use */
    size_t bomb_len;
    uint8_t *nulls;        /* gzip-nulls body, likewise */
    size_t nulls_len;
    motan_registry *registry;
} srv_server;

/* Logs to stderr unless --quiet. */
void srv_log(const srv_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* xorshift64* seeded by --seed. */
uint64_t srv_rand(srv_server *s);

/* ---- --register (registry.c) ------------------------------------------------------------ */

/* Publishes the listening server (--register). 0, or -1 with a message on stderr. */
int srv_registry_start(srv_server *s);
/* Frees the registry (after the server, which unregistered). No-op without one. */
void srv_registry_stop(srv_server *s);

/* ---- --refuse and --no-read (dud.c) ------------------------------------------------------ */

/* Binds (and with --no-read listens, accepting and never reading); sets s->port. 0 or -1. */
int srv_dud_open(srv_server *s);
void srv_dud_close(srv_server *s);

/* ---- requests (handler.c) ------------------------------------------------------------------ */

/* An answer to one request, as decided when it arrived. */
typedef struct srv_answer {
    uint64_t id;
    int ser;
    int is_error;
    int64_t errcode;
    int errtype;
    const char *errmsg;         /* lives in the reply's arena or is static */
    size_t errmsg_len;
    const motan_value *result;  /* likewise */
    srv_fault fault;
    uint64_t recv_us;
} srv_answer;

/* The raw handler of every request (the layer's fallback). */
void srv_on_request(const motan_server_request *req, motan_reply *reply, void *userdata);
/* The heartbeat handler (--heartbeat styles). */
void srv_on_heartbeat(const motan_server_request *req, motan_reply *reply, void *userdata);
/* Ends every job (their replies are discarded): shutdown. */
void srv_jobs_cancel(srv_server *s);

/* ---- EchoService (methods.c) ------------------------------------------------------------- */

typedef struct srv_call {
    const motan_server_request *req; /* the request (meta reads its metadata) */
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
/* Runs method m on args (an ARRAY), building results in a; fills call. */
void srv_method_call(srv_server *s, motan_arena *a, const char *m, size_t len,
                     const motan_value *args, srv_call *call);

/* ---- answers (respond.c) ----------------------------------------------------------------- */

/* Answers reply with a, shaped by its fault (finishing the reply, or starting a trickle). */
void srv_respond(srv_server *s, motan_reply *reply, const srv_answer *a);

/* ---- trickles (trickle.c): bytewise and endless-meta -------------------------------------- */

/* bytes (copied) go out one per write, 1 ms apart, once what is queued before is written. */
void srv_trickle_bytes(srv_server *s, motan_reply *reply, const uint8_t *bytes, size_t len);
/* After the endless header: k\nv\n bytes, 1 KiB per ms while the client reads, never ending. */
void srv_trickle_endless(srv_server *s, motan_reply *reply);

/* ---- jobs: a reply held with a timer (handler.c, trickle.c) --------------------------------- */

typedef struct srv_job {
    srv_server *srv;
    struct srv_job *prev, *next;
    motan_reply *reply;
    struct event *ev;
    srv_answer a;     /* delayed answers */
    uint8_t *bytes;   /* trickles: what is left to write (bytewise) */
    size_t len, off;
    size_t left;      /* endless: bytes still to write */
    int kind;         /* SRV_JOB_* */
} srv_job;

enum { SRV_JOB_DELAY, SRV_JOB_BYTES, SRV_JOB_ENDLESS };

/* A job for reply firing after ms; NULL when out of memory (the reply is then dropped). */
srv_job *srv_job_new(srv_server *s, motan_reply *reply, int kind, void (*fire)(evutil_socket_t,
                     short, void *), uint32_t ms);
/* Unlinks and frees the job (not its reply). */
void srv_job_free(srv_job *j);

#endif
