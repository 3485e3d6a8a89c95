/*
 * libmotan transport: event loops and endpoints (one server, a pool of multiplexed
 * connections, timeouts, heartbeats, reconnects).
 *
 * Loop modes, one code path:
 * - caller's loop (motan_loop_new_with_base): everything runs in that event_base's callbacks;
 *   every function here must be called from the loop's thread;
 * - built-in loop (motan_loop_new): the library runs the loop on its own thread; calls may
 *   come from any thread and are handed over through a queue; blocking calls are allowed
 *   from any thread but the loop's own.
 * Callbacks always run on the loop thread, never inside the call that started them.
 */
#ifndef MOTAN_TRANSPORT_H
#define MOTAN_TRANSPORT_H

#include <motan/codec.h>

struct event_base;
struct evdns_base;

/* ==== loops ============================================================================= */

typedef struct motan_loop motan_loop;

/* A built-in loop running on its own thread. owned: free with motan_loop_free. */
int motan_loop_new(motan_loop **out, char *errbuf, size_t errlen);
/* Wraps the caller's event_base, which must outlive the loop. owned: motan_loop_free. */
int motan_loop_new_with_base(struct event_base *base, motan_loop **out, char *errbuf,
                             size_t errlen);
/*
 * Built-in loop: runs the queued tasks, stops and joins the thread (needs no memory). Free
 * every endpoint, cluster, registry and client on the loop first. From the loop's own
 * thread (a callback or task) it returns at once: the loop stops when the callback returns
 * and its thread frees it.
 */
void motan_loop_free(motan_loop *l);
/* The event_base (borrowed). */
struct event_base *motan_loop_get_base(motan_loop *l);
/*
 * The loop's asynchronous resolver (libevent evdns, configured from /etc/resolv.conf and
 * /etc/hosts), created on first use; borrowed, lives with the loop; NULL when it cannot be
 * created. Loop thread only. Every host name libmotan connects to (endpoints, ZooKeeper,
 * Consul) is resolved through it, never with a blocking getaddrinfo on the loop, and every
 * address a name resolves to is tried in turn. Point it elsewhere with evdns's own API
 * (e.g. evdns_base_nameserver_ip_add).
 */
struct evdns_base *motan_loop_get_dns(motan_loop *l);
/* 1 for a built-in loop. */
int motan_loop_is_builtin(const motan_loop *l);
/* 1 when the calling thread is the loop's thread (in a child process after fork(): always). */
int motan_loop_in_loop_thread(const motan_loop *l);
/*
 * 1 in a child process created by fork() after l was created. Its loop thread did not come
 * along: calls on l's endpoints and clusters fail with MOTAN_EFORKED, motan_loop_run runs
 * fn on the calling thread, and the *_free functions release memory and close the child's
 * copies of the descriptors without a byte sent or an event of the parent's changed (a
 * built-in loop's event_base is rebuilt with event_reinit first; the caller of
 * motan_loop_new_with_base calls event_reinit on its base in the child before freeing).
 */
int motan_loop_forked(const motan_loop *l);
/*
 * Runs fn(userdata) on the loop thread: at once when called from it, otherwise queued and
 * the loop woken. MOTAN_ECLOSED once the loop is stopping (fn then never runs); in a child
 * after fork() fn runs at once, or MOTAN_EFORKED when the loop could not be taken over.
 */
int motan_loop_run(motan_loop *l, void (*fn)(void *userdata), void *userdata);
/* As motan_loop_run, then waits until fn has returned. */
int motan_loop_run_wait(motan_loop *l, void (*fn)(void *userdata), void *userdata);

/* ==== endpoints ========================================================================= */

/*
 * Completion of a call. resp is owned by the callback (free it with motan_response_free).
 * Runs exactly once per accepted call, on the loop thread.
 */
typedef void (*motan_response_cb)(motan_response *resp, void *userdata);

typedef struct motan_endpoint motan_endpoint;

/*
 * One server. node: motan2://host:port or motan2://[unix:/path]; parameters (§8.2 defaults):
 * connections (2), requestTimeout (1000 ms), connectTimeout (1000 ms), maxPending (10000 per
 * connection), errorCountThreshold (10, <= 0 disables), keepaliveInterval (1000 ms),
 * maxContentLength (10 MiB), maxDecodedSize (4 x maxContentLength: the decoded-size budget
 * of one response, codec.h), mingzSize (0 = no gzip), the service identity (path, group,
 * version, application, serialization) sent for requests that lack them (the request itself
 * is never written to), and
 * connectionBudget (the loop's sockets together; default half the open-file limit, >= 64).
 * Connections open at creation while all the loop's connections fit in the budget (and then
 * reconnect by themselves); past it a connection opens when a call needs one, closing the
 * loop's least recently used idle connection if the budget is spent (no idle one: the call
 * fails with MOTAN_EBUSY). A request over maxContentLength fails with MOTAN_ETOOBIG unsent.
 * owned: free with motan_endpoint_free.
 */
int motan_endpoint_new(motan_loop *l, const motan_url *node, motan_endpoint **out, char *errbuf,
                       size_t errlen);
/*
 * Completes every call in flight with MOTAN_ECANCELLED, then frees. No callback of e runs
 * after it returns. From another thread with a built-in loop it waits for the loop.
 */
void motan_endpoint_free(motan_endpoint *e);

/*
 * Starts a call. timeout_ms <= 0: the request's timeout, else the node's requestTimeout (or
 * "<method>.requestTimeout"). On MOTAN_OK cb runs exactly once later (result, remote error,
 * timeout, connection error, busy, cancel) and *call_id (may be NULL) identifies the call for
 * motan_endpoint_cancel. Any other return means cb never runs (MOTAN_EINVAL, MOTAN_ECLOSED).
 * req is borrowed (only read) until cb has run.
 */
int motan_endpoint_call(motan_endpoint *e, motan_request *req, int timeout_ms,
                        motan_response_cb cb, void *userdata, uint64_t *call_id);
/* Flags of motan_endpoint_call_ex. */
typedef enum motan_call_flags {
    /* Measure the call's phases into its response (motan_response_get_phase_us). */
    MOTAN_CALL_PHASES = 1,
    /* Stamp the response with the time it was read (motan_response_get_received_us); the
     * clock is read once per batch of answers read together. */
    MOTAN_CALL_RECEIVED = 2
} motan_call_flags;

/*
 * As motan_endpoint_call, plus: group (borrowed until cb has run; NULL: the request's own)
 * sent as M_g instead of the request's group; nmeta extra metadata entries
 * meta[2i] = meta[2i + 1] sent after the request's attachments (motan_request_encode_ex; the
 * array and strings are borrowed until cb has run or motan_endpoint_cancel has returned: a
 * cancelled call is never encoded); and flags (motan_call_flags). Calls never write to the
 * request: what it leaves unset (service, group, version, application, serialization) is
 * taken from the node URL when encoding, so one request may be in flight on several
 * endpoints at once.
 */
int motan_endpoint_call_ex(motan_endpoint *e, const motan_request *req, const char *group,
                           int timeout_ms, const char *const *meta, size_t nmeta, unsigned flags,
                           motan_response_cb cb, void *userdata, uint64_t *call_id);
/*
 * Completes the call with MOTAN_ECANCELLED (its late response is dropped). Loop thread only.
 * MOTAN_ENOTFOUND when it already completed.
 */
int motan_endpoint_cancel(motan_endpoint *e, uint64_t call_id);
/*
 * Blocking call (built-in loop only, from any thread but the loop's): *out gets the response
 * (owned: free with motan_response_free) and the return value is its code.
 */
int motan_endpoint_call_sync(motan_endpoint *e, motan_request *req, int timeout_ms,
                             motan_response **out);

/*
 * Replaces the node URL of e with one for the same address and applies its parameters
 * (timeouts, thresholds, limits, weight for load balancers) while keeping the connections
 * (`connections` itself is not changed). Loop thread only, and not while other threads call
 * e (its URL is read there). MOTAN_EINVAL for another address.
 */
int motan_endpoint_update_url(motan_endpoint *e, const motan_url *node, char *errbuf,
                              size_t errlen);

/* Health and statistics (loop thread, or racy-but-safe reads from others). */
int motan_endpoint_is_available(const motan_endpoint *e);
/* Calls in flight. */
size_t motan_endpoint_inflight(const motan_endpoint *e);
/* "host:port" or "unix:/path" (borrowed, lives with e). */
const char *motan_endpoint_get_address(const motan_endpoint *e);
/*
 * The node URL. Borrowed: valid until motan_endpoint_update_url replaces it (a cluster does
 * that whenever a node's parameters change in the registry) or e is freed, so read it on
 * the loop thread and copy what you keep.
 */
const motan_url *motan_endpoint_get_url(const motan_endpoint *e);
/* Counters since creation. */
uint64_t motan_endpoint_stat(const motan_endpoint *e, const char *name);

#endif /* MOTAN_TRANSPORT_H */
