/* Private to lib/cluster: cluster state, per-group endpoint sets, the HA call context. */
#ifndef MOTAN_CLUSTER_INT_H
#define MOTAN_CLUSTER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include <motan/cluster.h>
#include <motan/observe.h>

#include "cluster/guard_int.h"
#include "core/core_int.h"
#include "transport/tq_int.h"

#define MOTAN_HA_MAX_ATTEMPTS 16
/* Finished call contexts a cluster keeps for reuse. */
#define MOTAN__HA_CALL_POOL 1024
/* The backstop deadline of a call: requestTimeout x (retries + 1) plus this margin. */
#define MOTAN__BACKSTOP_MARGIN_MS 1000

/* The endpoints of one group, with their LB state. */
typedef struct motan__group {
    char *name;
    motan_endpoint **eps;
    size_t n;
    void *lb_state;
    int weight;  /* from the rule; 0 = not named by it */
    int current; /* smooth weighted round robin over groups */
    struct motan__guard *guard; /* ejection and slow start (guard.c) */
} motan__group;

/* An endpoint taken out of the cluster, freed once its calls are done. */
typedef struct motan__drain {
    motan_endpoint *ep;
    uint64_t deadline_us; /* freed (cancelling what is left) after this */
    struct motan__drain *next;
} motan__drain;

typedef struct motan__attempt {
    motan_ha_call *call;
    motan_endpoint *ep;
    uint64_t call_id;
    uint64_t start_us;
    int inflight;
    int cancelled;
    int filtered; /* the chain saw it start and has not seen it end */
} motan__attempt;

struct motan_ha_call {
    /* Cleared on every (re)use, up to `c` (a small block: no slow rep-stos memset). */
    motan__group *group;
    motan_response *deferred; /* completion waiting in the cluster's done list */
    char *send_group;         /* the rule's group to send as M_g (owned), or NULL */
    struct motan_ha_call *prev, *next; /* cluster's live list, then its done list */
    int nattempts;
    int inflight;
    int timer_set;     /* timer (below) is armed */
    int completed;
    int parked;        /* waiting for the cluster's first node list */
    int backstop_set;  /* backstop (below) is armed */
    int nfiltered;     /* attempts with filtered set */
    motan_filter_call *fc; /* with a filter chain: the call as filters see it */
    /* filter=metrics alone: its hot path run here, no filter context (ms NULL: uncounted). */
    struct motan__writer *mw;
    struct motan__series *ms;
    uint64_t now_us;       /* inside an attempt's completion: its end time, else 0 */
    /* Set by motan_cluster_call. */
    motan_cluster *c;
    const motan_request *req; /* only read: one request may be in flight several times */
    motan_response_cb cb;
    void *userdata;
    uint64_t deadline_us;
    uint64_t start_us; /* coarse clock: the budget deposit and first pick use it */
    uint64_t fstart_us; /* with a filter chain: when motan_cluster_call was called (precise) */
    int start_inline;   /* ... on the loop thread: the first attempt starts at fstart_us */
    int timeout_ms;
    int refs;          /* completion pending + attempts in flight + code running on it */
    int backstop_ms;
    int starting;      /* inside motan_cluster_call: completion must be deferred */
    _Alignas(16) uint8_t scratch[64]; /* cleared on its own */
    /* Not cleared on reuse: timer is assigned before use, only att[0..nattempts) is read. */
    struct event timer;
    motan__tq_node backstop; /* completes the call with MOTAN_ETIMEOUT whatever the HA does */
    motan__attempt att[MOTAN_HA_MAX_ATTEMPTS];
};

/*
 * When the call started, on the coarse clock its deadline was set with (or the test clock):
 * the time of the call's budget deposit and first pick, without reading a clock again.
 */
static inline uint64_t motan__call_start_us(const motan_ha_call *call)
{
    return motan__cluster_clock ? motan__cluster_clock() : call->start_us;
}

/* Integer parameters HA strategies read on every call, cached by key pointer. */
#define MOTAN__PARAM_CACHE 8

struct motan_cluster {
    motan_loop *loop;
    motan_url *url;
    char *path;
    const motan_lb_ops *lb;
    const motan_ha_ops *ha;
    void *ha_state;
    int empty_protection;
    int max_timeout_ms;
    motan__group own;
    motan__group **groups; /* other groups named by the rule */
    size_t ngroups;
    int rule_active;
    int ever_updated; /* a node list arrived: calls before it wait (parked) */
    int has_method_params; /* some "<method>.<key>" parameter: no caching by key */
    int timeout_ms;        /* requestTimeout */
    motan_filter_chain *chain;          /* NULL: no filters (nothing is measured) */
    int metrics_only;                   /* chain is filter=metrics alone (its short path) */
    struct motan__writer *mwriter;      /* ... and its counters */
    unsigned call_flags;                /* motan_call_flags for attempts (phases) */
    motan_buf *measure; /* loop thread: sizes unprepared arguments for the filters */
    int serialization;  /* the URL's (what the endpoints send by default), -1: none */
    struct {
        const char *key;
        int64_t def, value;
    } pcache[MOTAN__PARAM_CACHE];
    int npcache;
    motan__tqs backstops; /* loop thread: the calls' backstops */
    /* Finished call contexts for reuse: calls start on any thread, end on the loop's. */
    motan__freelist pool;
    motan_cluster_groups_cb groups_cb;
    void *groups_ud;
    motan__drain *draining;
    struct event drain_timer;
    int drain_timer_set;
    motan_ha_call *live_head, *live_tail;
    motan_ha_call *done_head, *done_tail;
    struct event done_ev;
    atomic_int closing; /* set on the loop thread, read by motan_cluster_call on any */
    int busy;
    int free_pending;
    struct motan__resil *resil; /* retry budget and guard parameters (resilience.c) */
    atomic_uint_fast64_t st_calls, st_ok, st_errors, st_retries, st_backups, st_backups_won,
        st_no_endpoint, st_ejections, st_budget_exhausted;
};

/* Counters: written on the loop thread only, read from any (no locked instruction needed). */
static inline void motan__count(atomic_uint_fast64_t *ctr)
{
    atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* cluster.c */
void motan__cluster_hold(motan_cluster *c);
void motan__cluster_release(motan_cluster *c);
/* The group a new call goes to (the rule's weighted choice, else the own group). */
motan__group *motan__cluster_choose_group(motan_cluster *c);

/* cluster_call.c */
/* The cluster's live and done lists. */
MOTAN__DLIST(motan__call_list, motan_ha_call)
/* Cancels every live call (cluster free). */
void motan__cluster_cancel_calls(motan_cluster *c);
/* The first node list arrived: start the calls that waited for it. */
void motan__cluster_unpark(motan_cluster *c);
void motan__cluster_on_done(evutil_socket_t fd, short what, void *arg);
/* A call's backstop expired (its node in the cluster's backstops). */
void motan__cluster_on_backstop(motan__tq_node *n);

/* addr_index.c: node URLs by first address, for O(n) list updates. */
typedef struct motan__addr_slot {
    const motan_url *url; /* NULL: empty */
    uint64_t hash;        /* of url's address: most probes end without reading url */
    size_t idx;           /* the user's payload */
} motan__addr_slot;
typedef struct motan__addr_index {
    motan__addr_slot *slots;
    size_t mask;
} motan__addr_index;
/* Whether two URLs have the same first address (neither without one). */
int motan__addr_same(const motan_url *a, const motan_url *b);
/* Room for n URLs (each with an address). */
int motan__addr_index_init(motan__addr_index *ix, size_t n);
void motan__addr_index_free(motan__addr_index *ix);
/* The slot holding u's address, or the empty one where it goes (u must have an address);
 * filling an empty one: set url and idx, keep hash. */
motan__addr_slot *motan__addr_index_slot(motan__addr_index *ix, const motan_url *u);

/* resilience.c: retry budget, outlier ejection and slow start, wired in (docs/cluster.md). */
/* Parses the parameters into c->resil; MOTAN_EURL (errbuf names the parameter). */
int motan__resil_new(motan_cluster *c, char *errbuf, size_t errlen);
void motan__resil_free(motan_cluster *c);
int motan__resil_group_init(motan_cluster *c, motan__group *g);
void motan__resil_group_free(motan__group *g);
/* g's list changed (after the LB's update). */
void motan__resil_group_sync(motan_cluster *c, motan__group *g);
/* A call starts at now_us (deposits into the retry budget). */
void motan__resil_on_call(motan_cluster *c, uint64_t now_us);
/* 1 when the retry budget allows one more attempt of a call (a retry or a backup). */
int motan__resil_allow_retry(motan_cluster *c);
/* The LB's pick in g, minus tried and ejected endpoints, thinned by slow start. */
motan_endpoint *motan__resil_pick(motan_cluster *c, motan__group *g, const motan_request *req,
                                  motan_endpoint *const *tried, size_t ntried);
/* An attempt to ep sent at start_us (motan_now_us) ended with resp (borrowed), or was
 * abandoned in flight. */
void motan__resil_observe(motan_cluster *c, motan__group *g, motan_endpoint *ep,
                          const motan_response *resp, int abandoned, uint64_t start_us);

/* group_rule.c: "g1:3,g2,g3:1" -> names and weights (clamped 1..100). */
int motan__rule_parse(const char *text, char ***names, int **weights, size_t *n);
void motan__rule_free(char **names, int *weights, size_t n);

/* ha.c, lb registry from lb.c */
extern const motan_ha_ops motan__ha_failfast;
extern const motan_ha_ops motan__ha_failover;
extern const motan_ha_ops motan__ha_backup;
/* The first attempt of a built-in strategy: sends it to a picked endpoint, or fails the call
 * (counting no_endpoint when there is none). MOTAN_OK when sent. */
int motan__ha_send_first(motan_ha_call *call);

#endif
