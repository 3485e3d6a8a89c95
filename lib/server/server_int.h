/* Private to lib/server: the server, its listeners, connections, replies and tables. */
#ifndef MOTAN_SERVER_INT_H
#define MOTAN_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include <motan/observe.h>
#include <motan/server.h>

#include "core/core_int.h"

/* ---- names -> values (tables.c) ---------------------------------------------------------- */

typedef struct motan__sentry {
    char *name; /* owned, NUL-terminated; NULL: empty slot */
    size_t len;
    uint32_t hash;
    void *val;
} motan__sentry;

/* Open addressing, power-of-two size, never shrinks. */
typedef struct motan__stable {
    motan__sentry *slots;
    size_t mask, count;
} motan__stable;

uint32_t motan__stable_hash(const char *p, size_t len);
void *motan__stable_get(const motan__stable *t, const char *name, size_t len);
/* Inserts or replaces; MOTAN_ENOMEM. */
int motan__stable_put(motan__stable *t, const char *name, size_t len, void *val);
/* Frees the names; vals are the caller's (free them first through motan__stable_each). */
void motan__stable_free(motan__stable *t);
void motan__stable_each(motan__stable *t, void (*fn)(void *val));

/* ---- handlers and services (server.c) --------------------------------------------------- */

typedef struct motan__shandler {
    motan_server_handler fn; /* NULL: none */
    void *userdata;
    int raw;
} motan__shandler;

typedef struct motan__ssvc {
    char *name;               /* owned: the stable label of its statistics */
    motan__shandler fallback; /* every method without its own */
    motan__stable methods;    /* name -> motan__shandler */
    int64_t mingz;            /* mingzSize; -1: the server's */
} motan__ssvc;

/* ---- what outlives the server: the cross-thread inbox of finished replies (reply.c) ---- */

typedef struct motan__shub {
    pthread_mutex_t mu;
    atomic_int refs;          /* the server + every orphaned reply */
    int alive;                /* guarded by mu: the server exists */
    pthread_t loop_thread;
    motan_reply *head, *tail; /* guarded by mu: replies finished on other threads */
    int wake_pending;         /* guarded by mu */
    int wake_fd;              /* eventfd, written when the inbox becomes non-empty */
} motan__shub;

/* ---- connections (conn.c) ---------------------------------------------------------------- */

/* One piece of a connection's output; a streaming reply owns an open one until it ends. */
typedef struct motan__sseg {
    struct motan__sseg *next;
    motan_buf buf;
    size_t off; /* written so far */
    int open;
} motan__sseg;

enum { SCONN_OPEN = 0, SCONN_FLUSH = 1, SCONN_RESET = 2 };

typedef struct motan__sconn {
    motan_server *srv;
    struct motan__sconn *prev, *next;
    int fd;
    int is_unix;
    struct event rev, wev, flush_ev, idle_ev;
    int reading, writing, flush_scheduled, in_read;
    motan_buf in;      /* received bytes; whole frames are copied out into replies */
    size_t need;       /* bytes the frame at the front needs, when known */
    motan__sseg *head, *tail, *spare;
    size_t unsent;     /* bytes in the segments not yet written */
    size_t held;       /* bytes held by the connection's open replies */
    motan_reply *replies; /* open replies answered on this connection */
    int closing;       /* SCONN_* */
    int close_when_idle; /* a heartbeat during a drain: close once nothing is owed */
    int paused;        /* reading stopped for back-pressure */
    int stalled;       /* whole frames wait in the input for the output to drain */
    uint64_t active_us; /* last byte read or written (coarse clock) */
    char peer[64];
} motan__sconn;

/* ---- replies (reply.c) -------------------------------------------------------------------- */

struct motan_server_request {
    motan_frame *frame;
    const char *service, *method;
    size_t slen, mlen;
    const motan_value *args;
    int args_state; /* 0 not decoded, 1 decoded (args_rc) */
    int args_rc;
    char args_err[192];
    char peer[64];
};

enum { REPLY_POOLED, REPLY_HANDLER, REPLY_OPEN };

struct motan_reply {
    motan_server_request req; /* first: request <-> reply */
    motan_server *srv;        /* NULL once orphaned */
    motan__shub *hub;
    motan__sconn *conn;       /* the connection to answer on; NULL once nothing is owed */
    struct motan_reply *prev, *next;   /* conn->replies, or the pool */
    struct motan_reply *inext;         /* the hub's inbox */
    struct motan_reply *sprev, *snext; /* the server's list of replies out of the pool */
    motan_buf copy;           /* the request frame, parsed into req.frame */
    motan_arena *arena;
    motan_buf meta;           /* response metadata set by the handler: "k\nv\nk\nv" */
    motan_buf out;            /* the answer built on another thread */
    motan__sseg *seg;         /* streaming: the segment being written */
    uint64_t id;
    int ser;
    int heartbeat;            /* a heartbeat request (default answer in kind) */
    int java_hb;              /* ... Java form */
    int has_pt;               /* the handler set M_pt */
    int state;
    int fin;                  /* FIN_*: what the inbox does with it */
    int queued;               /* in the hub's inbox (guarded by the hub's mutex) */
    int orphaned;             /* the server is gone; holds a reference to the hub */
    size_t mingz;
    size_t max_decoded;       /* the budget of decoding the arguments */
    size_t held;              /* counted in conn->held */
    uint64_t recv_us, deadline_us; /* deadline 0: none */
    int64_t timeout_ms;
    struct event timer;
    int timer_set;
    /* filters (filters.c): the request as they see it, and how it was answered */
    motan_filter_call *fc;    /* NULL: no filter runs (or they have seen the end) */
    int fcode;                /* MOTAN_OK, MOTAN_EREMOTE (an exception), ... (loop thread) */
    int fkind;                /* the same, from a finish on another thread (for deliver) */
    size_t fsize;             /* bytes of the answer frame */
};

/* ---- listeners (listen.c) and exports (export.c) ------------------------------------------- */

typedef struct motan__slistener {
    struct motan__slistener *next;
    motan_server *srv;
    int fd;
    int port;        /* 0 for Unix */
    char *unix_path; /* owned; the file is removed on close */
    struct event ev, retry_ev;
} motan__slistener;

typedef struct motan__sexport {
    struct motan__sexport *next;
    motan_registry *registry;
    motan_url *node;
} motan__sexport;

/* ---- the server (server.c) -------------------------------------------------------------- */

struct motan_server {
    motan_loop *loop;
    struct event_base *base;
    motan__shub *hub;
    struct event wake_ev, done_ev, drain_ev;
    motan__stable services;   /* name -> motan__ssvc */
    motan__shandler fallback; /* every request nothing else takes */
    motan__shandler heartbeat;
    motan__slistener *listeners;
    motan__sexport *exports;
    motan__sconn *conns;
    motan_reply *pool;        /* recycled replies */
    size_t npool;
    motan_reply *out_replies; /* every reply out of the pool (sprev/snext) */
    /* parameters */
    size_t max_content;
    size_t max_decoded;       /* 0: 4 x max_content */
    size_t max_conns;
    int idle_ms;
    size_t max_buffered;
    int request_timeout_ms;
    int client_deadline;
    size_t mingz;             /* mingzSize of services without their own */
    /* filters and statistics (filters.c) */
    motan_filter_chain *chain; /* never NULL once created; may be empty */
    int filtering;             /* the chain has filters */
    char *filters;             /* the `filter` parameter, owned (NULL: none) */
    /* lifecycle */
    int busy;                 /* > 0 while a callback that may run user code is on the stack */
    int free_pending;
    int draining, drain_phase;
    motan_server_drained_cb drain_cb;
    void *drain_ud;
    int drain_code;
    /* statistics */
    atomic_uint_fast64_t st_requests, st_heartbeats, st_errors, st_timeouts, st_accepted,
        st_refused, st_idle_closed, st_paused, st_protocol_errors, st_connections,
        st_open_replies;
};

/* server.c */
/* Entry/exit of every libevent callback that may run user code: a free inside runs at exit. */
void motan__srv_hold(motan_server *s);
void motan__srv_release(motan_server *s);
/* The handler for (service, method), or NULL. *svc gets the service (NULL when unknown). */
const motan__shandler *motan__srv_find(const motan_server *s, const char *service, size_t slen,
                                       const char *method, size_t mlen, const motan__ssvc **svc);
/* Parameters (params.c): key is validated; service NULL = the server's. */
int motan__srv_param(motan_server *s, const char *service, const char *key, const char *value,
                     char *errbuf, size_t errlen);
motan__ssvc *motan__srv_service(motan_server *s, const char *name, int create);

/* listen.c: a listener is opened on any thread, then attached on the loop thread. */
int motan__srv_listener_open(const char *address, motan__slistener **out, char *errbuf,
                             size_t errlen);
void motan__srv_listener_discard(motan__slistener *l);
int motan__srv_listener_attach(motan_server *s, motan__slistener *l, char *errbuf,
                               size_t errlen);
void motan__srv_listeners_close(motan_server *s);
/* The first TCP listener's port, 0 when there is none. */
int motan__srv_tcp_port(const motan_server *s);

/* conn.c */
motan__sconn *motan__sconn_new(motan_server *s, int fd, int is_unix);
/* Closes at once (no flush); open replies are abandoned. */
void motan__sconn_destroy(motan__sconn *c);
/* Stops reading, abandons open replies, closes once the queued output is written. */
void motan__sconn_close_after_flush(motan__sconn *c, int reset);
/* The buffer a whole answer is appended to (the tail, unless a stream holds it). */
motan_buf *motan__sconn_tail(motan__sconn *c);
/* n bytes were appended to the output: write them at the end of this loop iteration. */
void motan__sconn_added(motan__sconn *c, size_t n);
/* A new open segment at the tail for a streaming reply; NULL on out of memory. */
motan__sseg *motan__sconn_open_seg(motan__sconn *c);
/* Re-checks back-pressure and closing after held bytes or replies changed. */
void motan__sconn_update(motan__sconn *c);
/* Reading stops for good; the connection closes once nothing is owed (drain heartbeats). */
void motan__sconn_close_when_idle(motan__sconn *c);

/* dispatch.c: every whole frame at the front of the input; returns the bytes consumed. */
size_t motan__srv_input(motan__sconn *c, const uint8_t *data, size_t len, uint64_t now_us);

/* reply.c */
int motan__shub_new(motan_server *s, char *errbuf, size_t errlen);
/*
 * Server free, once the connections are gone: replies still with their handlers are
 * orphaned, those queued in the inbox freed; drops the server's reference.
 */
void motan__shub_close(motan_server *s);
motan_reply *motan__reply_get(motan_server *s);
/* Back to the pool (or freed): the reply is done. */
void motan__reply_recycle(motan_reply *r);
/* The handler returned without finishing r: it stays open on conn, its deadline armed. */
void motan__reply_park(motan_reply *r);
/* conn is going away or stops answering: r is answered nowhere. */
void motan__reply_abandon(motan_reply *r);
/* Server free: r (still held by its handler) no longer refers to the server. */
void motan__reply_orphan(motan_reply *r);
/* The server's own answers to a request being dispatched (loop thread). */
void motan__reply_builtin_error(motan_reply *r, int64_t code, int type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Decodes the arguments once (server's limits); rc, message in r->req.args_err. */
int motan__reply_decode(motan_reply *r);
/* The default answer to a heartbeat (loop thread). */
void motan__reply_default_heartbeat(motan_server *s, motan__sconn *c, uint64_t id, int java);
/* A request over maxContentLength: the Java-style answer (id and serialization from its header). */
void motan__reply_too_large(motan__sconn *c, const uint8_t *hdr, const char *why);

/* export.c */
void motan__srv_unexport_all(motan_server *s);

/* filters.c: the `filter` parameter's chain around every request (not heartbeats). */
int motan__srv_filters_init(motan_server *s, char *errbuf, size_t errlen);
int motan__srv_set_filters(motan_server *s, const char *names, char *errbuf, size_t errlen);
/* Starts r through the chain; MOTAN_OK, else r was rejected and is answered (finished). */
int motan__srv_filter_begin(motan_server *s, motan_reply *r, const motan__ssvc *svc);
/* r is answered (r->fcode, r->fsize): the chain sees the end. */
void motan__srv_filter_end(motan_reply *r);
/* Server free: replies still open end for the filters (MOTAN_ECANCELLED); the chain goes. */
void motan__srv_filters_free(motan_server *s);

/* drain.c: the open reply count or the connection count went down. */
void motan__srv_drain_check(motan_server *s);
void motan__srv_drain_init(motan_server *s);
void motan__srv_drain_cancel(motan_server *s);

#endif
