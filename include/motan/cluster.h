/*
 * libmotan cluster: the endpoints of one service (path + group + version), one load
 * balancer (LB) and one high-availability strategy (HA), both pluggable by name.
 *
 * Configuration comes from the service URL's parameters (spec §8.2), each with a per-method
 * override "<method>.<param>": loadbalance (random), haStrategy (failover), retries (0),
 * requestTimeout (1000), backupRequestDelayTime (unset: the backupRequestDelayRatio
 * percentile, 90, of recent latencies), backupRequestMaxRetryRatio (15 percent),
 * emptyNodeProtection (true), and every endpoint parameter (connections, connectTimeout, ...)
 * which is passed on to the endpoints. Tail-latency protections, cluster-wide (no per-method
 * override; docs/cluster.md): ewmaDecay (10000 ms, p2c), retryBudgetRatio (0.2) and
 * retryBudgetMin (10 per second), maxEjectionPercent (10) and the outlier* thresholds,
 * slowStartWindow (0, off). Every attempt carries what is left of the call's timeout as
 * M_tmo (ms).
 *
 * Threading: a cluster lives on one motan_loop. motan_cluster_call, _call_sync, _update and
 * _free may be called from any thread with a built-in loop (they are handed to the loop);
 * everything else, and every callback (LB, HA, completion), runs on the loop thread.
 */
#ifndef MOTAN_CLUSTER_H
#define MOTAN_CLUSTER_H

#include <motan/observe.h>
#include <motan/transport.h>

typedef struct motan_cluster motan_cluster;

/*
 * service: protocol://[addrs]/path?params; its addresses are ignored (endpoints come from
 * motan_cluster_update). owned: free with motan_cluster_free.
 */
int motan_cluster_new(motan_loop *l, const motan_url *service, motan_cluster **out, char *errbuf,
                      size_t errlen);
/*
 * Completes every call in flight with MOTAN_ECANCELLED (exactly once each), frees the
 * endpoints. No callback runs after it returns.
 */
void motan_cluster_free(motan_cluster *c);

/*
 * Replaces the node list of the cluster's own group, atomically: nodes with the same
 * address keep their endpoint and connections (their parameters, e.g. weight, are updated),
 * removed ones stop receiving calls and are freed once their calls have completed, new ones
 * connect. Node URLs are merged with the service URL (service parameters win). A list with
 * zero nodes is ignored unless emptyNodeProtection=false. Only motan2:// nodes become
 * endpoints (a motan1 "motan://" node or another protocol is skipped). rule:// pseudo-nodes are not
 * endpoints: the last one's "weights" (or Go's "weight") parameter, e.g. "groupA:3,groupB:1",
 * splits traffic between groups (weights clamped to 1..100; entries without ':' weigh 1).
 * The URLs are copied.
 */
int motan_cluster_update(motan_cluster *c, const motan_url *const *nodes, size_t n);
/* The node list of another group named by a rule (same rules as motan_cluster_update). */
int motan_cluster_update_group(motan_cluster *c, const char *group, const motan_url *const *nodes,
                               size_t n);
/*
 * Called (loop thread) whenever the set of groups named by the rule changes, with the group
 * names; a registry-aware owner subscribes to them and feeds motan_cluster_update_group.
 */
typedef void (*motan_cluster_groups_cb)(const char *const *groups, size_t n, void *userdata);
void motan_cluster_set_groups_listener(motan_cluster *c, motan_cluster_groups_cb cb,
                                       void *userdata);

/*
 * Starts a call: the HA strategy runs it; identity fields the request lacks (service, group,
 * version, application, serialization) are sent from the service URL and arguments not
 * prepared are encoded on the loop thread, all without writing to the request (one request
 * may be in flight several times, from several threads). On MOTAN_OK cb runs exactly once,
 * on the loop thread, never inside this call. req is borrowed (only read) until then.
 */
int motan_cluster_call(motan_cluster *c, motan_request *req, motan_response_cb cb,
                       void *userdata);
/*
 * Cancels the call started with cb/userdata that has not completed: cb then runs (from the
 * loop, not inside this call) with MOTAN_ECANCELLED, its attempts in flight are cancelled and
 * their late answers dropped. Loop thread only. MOTAN_ENOTFOUND when no such call is live.
 */
int motan_cluster_cancel(motan_cluster *c, motan_response_cb cb, void *userdata);
/* Blocking call (built-in loop, not from its thread). *out: owned response; returns its code. */
int motan_cluster_call_sync(motan_cluster *c, motan_request *req, motan_response **out);

/*
 * Runs every call through chain (motan_filter_chain_new; NULL: none): its filters see each
 * call and attempt, may reject calls and add metadata. Set it before the first call; chain
 * is borrowed and must outlive the cluster (free it after motan_cluster_free).
 */
int motan_cluster_set_filters(motan_cluster *c, motan_filter_chain *chain);

/* The current endpoints of the own group (loop thread; borrowed until the next update). */
size_t motan_cluster_endpoint_count(const motan_cluster *c);
motan_endpoint *motan_cluster_endpoint_at(const motan_cluster *c, size_t i);
/*
 * Counters: "calls", "ok", "errors", "retries", "backups", "backups_won", "no_endpoint",
 * "ejections" (outlier ejections), "budget_exhausted" (retries and backups the retry budget
 * refused).
 */
uint64_t motan_cluster_stat(const motan_cluster *c, const char *name);
/* The service URL (borrowed, lives with c). */
const motan_url *motan_cluster_get_url(const motan_cluster *c);

/* ==== load balancing ==================================================================== */

/* How an attempt ended, as a load balancer's observe hook is told. */
typedef enum motan_lb_outcome {
    MOTAN_LB_ANSWERED = 0,  /* a response: success or a business error (errtype 2) */
    MOTAN_LB_FAILED = 1,    /* the endpoint's fault: timeout, connection, protocol, remote error */
    MOTAN_LB_ABANDONED = 2  /* given up while in flight (another attempt answered first): the
                               latency is a lower bound */
} motan_lb_outcome;

/*
 * A load balancer, registered by name (built-ins: random, roundrobin, wrr, activeWeight,
 * consistent, localFirst, p2c). All functions run on the loop thread; state is per cluster
 * and per group.
 */
typedef struct motan_lb_ops {
    /* sizeof(motan_lb_ops) where the plug-in was compiled (checked at registration). */
    size_t struct_size;
    const char *name;
    /* New per-cluster state (may read the service URL); NULL on failure. */
    void *(*create)(const motan_url *service);
    void (*destroy)(void *state);
    /* The endpoint list changed (available or not; order is stable for kept endpoints). */
    void (*update)(void *state, motan_endpoint *const *eps, size_t n);
    /*
     * An available endpoint that is not in exclude[0..nexclude), or NULL. req gives the
     * method and the consistent-hash key.
     */
    motan_endpoint *(*pick)(void *state, const motan_request *req, motan_endpoint *const *eps,
                            size_t n, motan_endpoint *const *exclude, size_t nexclude);
    /*
     * Optional (NULL: not told): an attempt sent to ep ended after latency_us. ep was picked
     * from this state's group (it may have left the list since). Local failures (busy, out
     * of memory, bad request) are not reported.
     */
    void (*observe)(void *state, motan_endpoint *ep, motan_lb_outcome outcome,
                    uint64_t latency_us);
} motan_lb_ops;

/*
 * Registers ops (kept by pointer; must stay valid). MOTAN_EINVAL when the name is taken, a
 * function is missing or ops->struct_size is not sizeof(motan_lb_ops).
 */
int motan_lb_register(const motan_lb_ops *ops);
/* The ops registered under name, or NULL. */
const motan_lb_ops *motan_lb_find(const char *name);

/* ==== high availability ================================================================= */

/* One cluster call as an HA strategy sees it. */
typedef struct motan_ha_call motan_ha_call;

/*
 * An HA strategy, registered by name (built-ins: failfast, failover, backupRequest). The
 * cluster calls start once per call; the strategy sends attempts with motan_ha_call_send
 * and must eventually call motan_ha_call_complete exactly once (after which every remaining
 * attempt is cancelled and its late response dropped). Whatever a strategy does, every call
 * has a backstop deadline of requestTimeout x (retries + 1) + 1000 ms: a call still open then
 * completes with MOTAN_ETIMEOUT (and the strategy's later completion is ignored).
 */
typedef struct motan_ha_ops {
    /* sizeof(motan_ha_ops) where the plug-in was compiled (checked at registration). */
    size_t struct_size;
    const char *name;
    void *(*create)(const motan_url *service);
    void (*destroy)(void *state);
    void (*start)(void *state, motan_ha_call *call);
    /* Attempt `attempt` finished; resp is owned by the strategy (complete with it or free it). */
    void (*on_attempt)(void *state, motan_ha_call *call, int attempt, motan_response *resp);
    /* The timer set with motan_ha_call_set_timer fired (may be NULL if never used). */
    void (*on_timer)(void *state, motan_ha_call *call);
} motan_ha_ops;

/* As motan_lb_register: MOTAN_EINVAL also when ops->struct_size is not sizeof(motan_ha_ops). */
int motan_ha_register(const motan_ha_ops *ops);
const motan_ha_ops *motan_ha_find(const char *name);

/* The request (borrowed). */
const motan_request *motan_ha_call_request(const motan_ha_call *call);
/*
 * An endpoint picked by the cluster's LB among available ones this call has not tried and
 * that are not ejected as outliers (slow-starting ones get part of their share); a tried
 * one, then an ejected one, when nothing else is left; NULL when none is available.
 */
motan_endpoint *motan_ha_call_pick(motan_ha_call *call);
/*
 * Sends an attempt to ep with what is left of the call's timeout (also sent to the server as
 * M_tmo); *attempt gets its number (0, 1, ...). MOTAN_ETIMEOUT when no time is left. Every
 * attempt after the first (a retry, a backup) draws on the cluster's retry budget:
 * MOTAN_EBUSY when it is spent (complete the call with the error you have).
 */
int motan_ha_call_send(motan_ha_call *call, motan_endpoint *ep, int *attempt);
/* Cancels an attempt still in flight (its on_attempt will not run). */
void motan_ha_call_cancel(motan_ha_call *call, int attempt);
/* Attempts sent so far, and still in flight. */
int motan_ha_call_attempts(const motan_ha_call *call);
int motan_ha_call_inflight(const motan_ha_call *call);
/* Microseconds since the attempt was sent (for latency statistics). */
uint64_t motan_ha_call_attempt_elapsed_us(const motan_ha_call *call, int attempt);
/* Milliseconds left of the call's timeout (<= 0 when none). */
int motan_ha_call_remaining_ms(const motan_ha_call *call);
/* Integer parameter for this call's method ("<method>.<key>", then "<key>", then def). */
int64_t motan_ha_call_param_int(const motan_ha_call *call, const char *key, int64_t def);
/* One-shot timer (replaces any earlier one); fires on_timer. */
void motan_ha_call_set_timer(motan_ha_call *call, int ms);
/* 64 zeroed bytes of per-call scratch space for the strategy. */
void *motan_ha_call_scratch(motan_ha_call *call);
/* Delivers the final response (owned) to the caller; exactly once per call. */
void motan_ha_call_complete(motan_ha_call *call, motan_response *resp);
/* Completes with a local error. */
void motan_ha_call_fail(motan_ha_call *call, int code, const char *msg);
/* Bumps a cluster counter ("backups", "backups_won", "retries"). */
void motan_ha_call_count(motan_ha_call *call, const char *name);

#endif /* MOTAN_CLUSTER_H */
