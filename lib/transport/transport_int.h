/* Private to lib/transport: loop tasks, connections, calls, the pending table. */
#ifndef MOTAN_TRANSPORT_INT_H
#define MOTAN_TRANSPORT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include <motan/transport.h>

#include "codec/codec_int.h"
#include "transport/tq_int.h"
#include "core/core_int.h"
#include "transport/sock.h"

/* ---- loop ------------------------------------------------------------------------------- */

/* A unit of work for the loop thread; embedded in the object it belongs to when possible. */
typedef struct motan__task {
    void (*fn)(void *userdata);
    void *userdata;
    struct motan__task *next;
    int heap; /* allocated by motan_loop_run, freed after running */
} motan__task;

/* Queues t for the loop thread (any thread). MOTAN_ECLOSED when the loop is stopping. */
int motan__loop_post(motan_loop *l, motan__task *t);
/* Built-in loop threads still running (a loop freed from its own callback ends later). */
int motan__loop_threads(void);
/*
 * Endpoint calls (all of size `size`) for reuse: get gives a zeroed block, from the loop's
 * spares on its thread, else new (NULL: out of memory); put (loop thread) keeps or frees it.
 */
void *motan__loop_call_get(motan_loop *l, size_t size);
void motan__loop_call_put(motan_loop *l, void *p);

typedef struct motan__conn motan__conn;

/* The sockets of a loop's connections (connectionBudget) and its idle ones, oldest first. */
typedef struct motan__fdbudget {
    size_t wanted;                      /* connections of all the loop's endpoints */
    size_t open;                        /* connections holding a socket */
    motan__conn *idle_head, *idle_tail; /* connected, nothing pending */
} motan__fdbudget;

motan__fdbudget *motan__loop_budget(motan_loop *l);

/* ---- pending table: request id -> call, O(1) ------------------------------------------ */

typedef struct motan__idmap {
    uint64_t *keys; /* 0 = empty slot; ids are never 0 */
    void **vals;
    size_t mask;    /* capacity - 1, capacity a power of two */
    size_t count;
} motan__idmap;

int motan__idmap_init(motan__idmap *m);
void motan__idmap_free(motan__idmap *m);
int motan__idmap_put(motan__idmap *m, uint64_t id, void *val);
void *motan__idmap_get(const motan__idmap *m, uint64_t id);
void *motan__idmap_remove(motan__idmap *m, uint64_t id);
/* A snapshot of the ids in the table (owned: motan_free); NULL on out of memory. */
uint64_t *motan__idmap_keys(const motan__idmap *m, size_t *n);

/* Unique request ids for the whole process (below 2^53 in practice). */
uint64_t motan__next_request_id(void);

/* ---- calls and connections ------------------------------------------------------------- */

enum { CALL_NEW, CALL_QUEUED, CALL_SENT, CALL_DONE };

typedef struct motan__call {
    uint64_t id;
    motan_endpoint *ep;
    motan__conn *conn;
    const motan_request *req; /* NULL for heartbeats; only read */
    const char *group;        /* sent instead of the request's (borrowed), or NULL */
    motan_response_cb cb;
    void *userdata;
    int timeout_ms;
    int state;
    int timer_set;                   /* tqn is armed in the endpoint's timeouts */
    motan__tq_node tqn;
    struct motan__call *prev, *next; /* conn's unsent list, or the endpoint's done list */
    motan__task task;                /* hand-over to the loop thread */
    motan_response *resp;            /* completion waiting in the endpoint's done list */
    const char *const *meta;         /* extra metadata (motan_endpoint_call_ex), borrowed */
    size_t nmeta;
    unsigned flags;                  /* motan_call_flags */
    int waited_connect;              /* MOTAN_CALL_PHASES: queued on a connection not yet open */
    /* MOTAN_CALL_PHASES: when the call was made, started on the loop, encoded, answered */
    uint64_t t_call, t_start, t_sent, t_frame, t_decoded;
} motan__call;

enum { CONN_IDLE, CONN_CONNECTING, CONN_CONNECTED };

struct evdns_getaddrinfo_request;
struct evutil_addrinfo;

/* inblk.c: input memory a connection shares with responses that hold views into it. */
typedef struct motan__inblk {
    atomic_int refs;
    uint8_t *data; /* owned: freed or pooled with the block */
    size_t cap;
    struct motan__inblk *next; /* in the pool */
} motan__inblk;

/* A block with one reference (pooled: it may come with memory), NULL on out of memory. */
motan__inblk *motan__inblk_get(void);
/* Drops a reference (any thread); the last one pools or frees the block. */
void motan__inblk_release(void *b);

struct motan__conn {
    motan_endpoint *ep;
    int state;
    int fd;
    /* Connecting: the name is resolved on the loop (dns_req), then each address is tried. */
    int resolving;
    struct evdns_getaddrinfo_request *dns_req;
    struct evutil_addrinfo *addrs, *next_addr; /* owned list; the next one to try */
    int tried;                                 /* addresses tried in this attempt */
    char last_err[96];                         /* why the last one failed */
    struct event rev, wev, cev; /* read, write, connect/backoff timer */
    int events_ready;
    struct evbuffer *out;
    motan_buf *in;      /* received bytes, frames parsed in place */
    size_t in_off;      /* bytes at the front of `in` already parsed (moved out lazily) */
    size_t need;        /* bytes the frame being received needs in total */
    motan__inblk *in_blk; /* set: `in`'s memory is the block's, responses may hold views in it */
    uint8_t *spare;       /* owned memory for the input once the shared block is left */
    size_t spare_cap;
    const uint8_t *frame_at; /* the frame being delivered (in `in`) and its length */
    size_t frame_len;
    uint64_t frame_since_us; /* when the incomplete frame at the front of `in` began, 0: none */
    motan__call *unsent_head, *unsent_tail; /* waiting to be encoded into out */
    motan__call *sent_head, *sent_tail;     /* written (or in out), waiting for answers */
    size_t pending;     /* unsent + sent */
    int failing;        /* calls are being failed: pick another connection */
    struct event flush_ev; /* activated to write what was queued during this iteration */
    int flush_scheduled;
    int out_lost; /* part of a frame was written and the rest could not be kept: fail at flush */
    unsigned backoff_ms;
    uint64_t retry_at_us; /* no reconnect before this time */
    uint64_t generation;  /* bumped on every close: stale callbacks detect it */
    uint64_t connected_us; /* when the connection last opened (phases) */
    uint64_t read_us;      /* when the bytes being parsed were read, 0: not looked up yet */
    int counted;          /* holds a socket counted in the loop's budget */
    int idle;             /* in the budget's idle list */
    motan__conn *idle_prev, *idle_next;
};

/* ---- endpoint -------------------------------------------------------------------------- */

/* Largest maxDecodedSize accepted (1 PiB: far beyond memory, well inside int64 and size_t). */
#define MOTAN__MAX_DECODED_LIMIT ((int64_t)1 << 50)

struct motan_endpoint {
    motan_loop *loop;
    motan_url *url;
    char *address;       /* "host:port" or "unix:/path" */
    char *host;
    int port;
    int is_unix;
    int nconns;
    motan__conn *conns;
    unsigned rr;          /* round robin over connections */
    motan__idmap calls;   /* id -> live call */
    motan_frame *frame;   /* reused for every received frame */
    motan_buf *scratch;   /* request encoding */
    struct evbuffer *zscratch; /* a frame with bytes by reference, before it joins `out` */
    /* configuration */
    int request_timeout_ms;
    int connect_timeout_ms;
    size_t max_pending;
    int error_threshold;
    int keepalive_ms;
    size_t conn_budget;   /* connectionBudget: sockets of all the loop's connections */
    size_t max_content;
    size_t max_decoded; /* decoded-size budget of one response (maxDecodedSize) */
    size_t mingz;
    int has_method_params; /* some "<method>.<key>" parameter exists */
    /* Filled into requests that lack them (point into url): no URL lookups per call. */
    const char *group, *version, *application;
    int serialization; /* the URL's, -1 when it names none it knows */
    motan__meta_cache mc; /* metadata blocks of requests sent again (loop thread) */
    /* health; available and inflight share a cache line: load balancers read both */
    atomic_int available;
    atomic_size_t inflight;
    atomic_int consecutive_errors; /* written on the loop thread, read by stats anywhere */
    int health_paused; /* > 0 while a lost connection fails its calls (counted once) */
    struct event keepalive;
    int keepalive_set;
    int heartbeat_inflight;
    /* Why the last connection attempt or connection failed ("" when none did). */
    char last_error[192];
    /* completions that must not run inside the call that caused them */
    motan__call *done_head, *done_tail;
    struct event done_ev;
    /* calls waiting for their timeout, one FIFO per timeout value (endpoint.c) */
    motan__tqs tq;
    /* lifecycle */
    atomic_int closing;  /* set on the loop thread, read by motan_endpoint_call on any */
    int joined;          /* counted in the loop budget's `wanted` */
    int busy;            /* > 0 while callbacks of this endpoint run */
    int free_pending;    /* free requested inside a callback */
    /* statistics */
    atomic_uint_fast64_t st_calls, st_ok, st_errors, st_timeouts, st_unknown, st_heartbeats,
        st_connects, st_conn_failures, st_idle_closed;
};

/* conn.c */
int motan__conn_init(motan__conn *c, motan_endpoint *ep);
/*
 * Starts connecting an idle connection (no-op otherwise). may_evict: at the budget, close the
 * least recently used idle connection of the loop to make room (a call is waiting); else
 * leave c idle. MOTAN_EBUSY when there was no room (c stays idle, last_error says why),
 * MOTAN_ECONNECT when connect failed at once, else MOTAN_OK.
 */
int motan__conn_connect(motan__conn *c, int may_evict);
/* Closes a connected connection that has nothing pending, without planning a reconnect. */
void motan__conn_close_idle(motan__conn *c);
/* Closes the socket, fails every call on the connection with code/msg, plans a reconnect. */
void motan__conn_fail(motan__conn *c, int code, const char *msg);
/* Closes for good (endpoint free): no calls may remain. */
void motan__conn_destroy(motan__conn *c);
/* Queues call for writing (the call's timer is already armed). */
void motan__conn_enqueue(motan__conn *c, motan__call *call);
/*
 * The pos bytes at in_off of the input were whole frames: drops them (in_off moves past
 * them; the input empties when nothing is left and no response holds views into it),
 * keeping the partial frame, whose total length the read hint (need) already is.
 */
void motan__conn_consumed(motan__conn *c, size_t pos);
/*
 * During the delivery of a frame: lends the input memory the frame sits in, when the frame
 * is big enough next to that memory for views into it to be worth pinning it. 1 with *h set
 * (the taker releases it), 0 when the frame is to be copied as usual.
 */
int motan__conn_hold_frame(motan__conn *c, motan__frame_hold *h);
/* Takes call off the connection's lists. */
void motan__conn_unlink(motan__conn *c, motan__call *call);
/* A call on c timed out after timeout_ms: closes c if its input is stuck (conn.c). */
void motan__conn_check_stall(motan__conn *c, int timeout_ms);

/* Doubly-linked call lists (conn unsent/sent, endpoint done). */
MOTAN__DLIST(motan__calls, motan__call)

/* endpoint.c */
/* Entry/exit of every libevent callback of an endpoint: a free requested inside runs at exit. */
void motan__endpoint_hold(motan_endpoint *ep);
void motan__endpoint_release(motan_endpoint *ep);
/* Completes call with resp (owned), exactly once; the call is freed afterwards. */
void motan__call_complete(motan__call *call, motan_response *resp);
/* Completes call with a local error. */
void motan__call_fail(motan__call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A response frame arrived on connection c. */
void motan__endpoint_on_frame(motan_endpoint *ep, motan__conn *c, const motan_frame *f);
/* Starts the call on the loop thread (picks a connection, arms the timer). */
void motan__endpoint_start(motan__call *call);
/* Completes call later from the endpoint's done list (never inside the current call). */
void motan__call_defer(motan__call *call, motan_response *resp);
/* The service a call is for: the request's, else the node's path. */
const char *motan__call_service(const motan__call *call);
/*
 * Encodes call's request frame into out, filling in what the request leaves unset; big bytes
 * by reference (motan_request_encode_refs).
 */
int motan__call_encode(const motan__call *call, motan_buf *out, motan_encode_ref *refs,
                       size_t nrefs_max, size_t *nrefs, motan_request_hold **hold, char *errbuf,
                       size_t errlen);
/* Effective timeout of a call: explicit, else the request's, else "<method>.requestTimeout", else requestTimeout. */
int motan__endpoint_timeout_for(const motan_endpoint *ep, const motan_request *req, int timeout_ms);

/* health.c: consecutive failures fuse the endpoint; heartbeats bring it back. */
void motan__health_record(motan_endpoint *ep, int code, int errtype);
void motan__health_heartbeat_done(motan_endpoint *ep, int ok);
void motan__health_stop(motan_endpoint *ep);

/* Remembers why a connection failed, for the messages of calls that find none. */
void motan__endpoint_set_error(motan_endpoint *ep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* budget.c: the loop's connection sockets under connectionBudget, idle ones in LRU order. */
/* The default budget: half the process's open-file limit, at least 64. */
size_t motan__budget_default(void);
/* ep's connections join (1) or leave (0) the loop's total. */
void motan__budget_join(motan_endpoint *ep, int join);
/*
 * 1 while all the loop's connections fit in the budget: they connect at once and reconnect
 * by themselves. Past it connections open when a call needs one, and a failed one waits
 * for the next call instead of retrying in the background.
 */
int motan__budget_eager(const motan_endpoint *ep);
/* Counts a socket for c; at the budget closes an idle connection when may_evict. 0: no room. */
int motan__budget_take(motan__conn *c, int may_evict);
/* c's socket is closed. */
void motan__budget_put(motan__conn *c);
/* c is connected with nothing pending (1) or has work again (0). */
void motan__budget_set_idle(motan__conn *c, int idle);


#endif
