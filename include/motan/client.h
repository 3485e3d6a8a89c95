/*
 * libmotan client: the one object most programs need. Created from one URL that names the
 * endpoints or a registry, the service and every parameter:
 *
 *   motan2://127.0.0.1:8002,127.0.0.1:8003/com.example.EchoService?requestTimeout=500
 *   zookeeper://10.0.0.1:2181,10.0.0.2:2181/com.example.EchoService?group=g1&retries=1
 *   consul://127.0.0.1:8500/com.example.EchoService
 *   file:///etc/motan/services.json/com.example.EchoService     (last segment = service)
 *
 * Parameters (defaults): group (default_rpc), version (1.0), application, module,
 * serialization (simple | msgpack | json), loadbalance (random), haStrategy (failover),
 * retries (0), requestTimeout (1000 ms), connectTimeout (1000 ms), connections (2),
 * connectionBudget (half the open-file limit, at least 64: the sockets of all endpoints
 * together; past it connections open on demand in place of idle ones),
 * maxPending (10000), errorCountThreshold (10), keepaliveInterval (1000 ms),
 * maxContentLength (10485760), maxDecodedSize (4 x maxContentLength), mingzSize (0),
 * backupRequestDelayTime,
 * backupRequestDelayRatio (90), backupRequestMaxRetryRatio (15), emptyNodeProtection
 * (true); any of them per method as "<method>.<param>" (e.g. hello.retries=2). The
 * registry's own parameters (zookeeper: sessionTimeout; file: interval; consul: wait, ttl;
 * motan_registry_ops.params) are passed to the registry, and nothing else is. Any other key
 * is MOTAN_EURL: `unknown parameter "requestTimout" (did you mean "requestTimeout"?)`.
 * filter (none): the client's filters in order, e.g. filter=trace,accessLog,metrics
 * (observe.h).
 *
 * Loop modes: motan_client_new runs a built-in loop thread (blocking calls from any thread,
 * async calls from any thread with callbacks on the loop thread, or a pull queue);
 * motan_client_new_with_base runs on the caller's event_base (async calls, from that loop's
 * thread only); motan_client_new_on_loop shares one loop (and its thread) among many clients.
 * A client is thread-safe on a built-in loop.
 *
 * fork(): a client stays with the process that made it. In a child, every call, submit,
 * poll and wait_ready returns MOTAN_EFORKED, and motan_client_free releases the memory and
 * closes the child's copies of its descriptors without sending a byte, changing an event of
 * the parent's or joining a thread (on a caller's event_base: event_reinit it first).
 */
#ifndef MOTAN_CLIENT_H
#define MOTAN_CLIENT_H

#include <motan/registry.h>

/* ==== configuration ===================================================================== */

/*
 * A client configuration: the URL plus typed setters. The URL and the setters validate:
 * unknown keys (with a "did you mean") and bad values are MOTAN_EURL with a message in
 * errbuf. owned: free with motan_config_free.
 */
typedef struct motan_config motan_config;

int motan_config_new(const char *url, motan_config **out, char *errbuf, size_t errlen);
void motan_config_free(motan_config *cfg);
/* Any parameter by name; method may be NULL (all methods) or a method name. */
int motan_config_set(motan_config *cfg, const char *method, const char *key, const char *value,
                     char *errbuf, size_t errlen);
int motan_config_set_group(motan_config *cfg, const char *group);
int motan_config_set_version(motan_config *cfg, const char *version);
int motan_config_set_application(motan_config *cfg, const char *application);
int motan_config_set_serialization(motan_config *cfg, const char *name);
int motan_config_set_loadbalance(motan_config *cfg, const char *name);
int motan_config_set_ha_strategy(motan_config *cfg, const char *name);
int motan_config_set_retries(motan_config *cfg, int retries);
int motan_config_set_request_timeout(motan_config *cfg, int ms);
int motan_config_set_connect_timeout(motan_config *cfg, int ms);
int motan_config_set_connections(motan_config *cfg, int n);
/* The effective URL text (owned: free with motan_free). */
char *motan_config_to_url(const motan_config *cfg);
/*
 * Clients created from cfg feed stats (a reference is kept until cfg and those clients are
 * freed) instead of a stats source of their own: one source for several clients (and a
 * server) serves one /metrics. NULL: each client gets its own.
 */
int motan_config_set_stats(motan_config *cfg, motan_stats *stats);

/* ==== client ============================================================================ */

typedef struct motan_client motan_client;

/* Built-in loop. owned: free with motan_client_free. */
int motan_client_new(const char *url, motan_client **out, char *errbuf, size_t errlen);
/* On the caller's event_base (which must outlive the client). */
int motan_client_new_with_base(struct event_base *base, const char *url, motan_client **out,
                               char *errbuf, size_t errlen);
/* From a configuration; base NULL = built-in loop. cfg is copied. */
int motan_client_new_config(const motan_config *cfg, struct event_base *base,
                            motan_client **out, char *errbuf, size_t errlen);
/*
 * On a loop shared with other clients and servers (motan_loop_new: one thread for all of
 * them, blocking calls allowed as with motan_client_new; motan_loop_new_with_base: the
 * caller's event_base). loop is borrowed: free every client on it before motan_loop_free.
 * Its connectionBudget is the loop's, shared by everything on it. A loop made before fork()
 * is refused in the child (MOTAN_EFORKED): make a new loop there. cfg is copied.
 */
int motan_client_new_on_loop(motan_loop *loop, const char *url, motan_client **out,
                             char *errbuf, size_t errlen);
int motan_client_new_config_on_loop(const motan_config *cfg, motan_loop *loop,
                                    motan_client **out, char *errbuf, size_t errlen);
/*
 * Completes every call in flight with MOTAN_ECANCELLED (callbacks run, queued completions
 * are freed), stops the registry and the loop thread. No callback runs after it returns.
 * It may be called from inside one of the client's own callbacks (free-from-callback is
 * supported, deferred): everything is torn down before it returns except the built-in loop
 * thread, which ends, and frees the loop, once that callback has returned. A shared loop
 * (motan_client_new_on_loop) is left running for the others.
 * In a child process after fork() see above.
 */
void motan_client_free(motan_client *c);

/*
 * Blocking call (built-in loop; from any thread but the loop's, else MOTAN_EDEADLOCK).
 * *out always gets a response (owned: motan_response_free) and the return value is its
 * code: MOTAN_OK, MOTAN_EREMOTE (server error: errcode/errtype/errmsg on the response),
 * MOTAN_ETIMEOUT, MOTAN_ECONNECT, MOTAN_ENOENDPOINT, ... The request is only read (never
 * written, so several threads may send the same request at once).
 */
int motan_client_call(motan_client *c, motan_request *req, motan_response **out);
/*
 * Async call: cb runs exactly once on the loop thread (never inside this call) with an owned
 * response. MOTAN_OK, or an error and cb never runs. req is borrowed until cb has run.
 */
int motan_client_call_async(motan_client *c, motan_request *req, motan_response_cb cb,
                            void *userdata);

/*
 * Pull-style completions, for languages where callbacks are awkward (FFI): submit a call with
 * a tag; poll takes finished calls in completion order. req is borrowed until it is polled.
 */
int motan_client_submit(motan_client *c, motan_request *req, uint64_t tag);
/*
 * Waits up to timeout_ms (-1: forever, 0: no wait) for a completion: returns 1 with *resp
 * (owned) and *tag, 0 when none arrived in time, or an error: MOTAN_EDEADLOCK for a wait
 * (timeout != 0) on the loop's own thread (always the case with a caller's-loop client).
 */
int motan_client_poll(motan_client *c, int timeout_ms, motan_response **resp, uint64_t *tag);
/* An fd that is readable while completions are queued (for select/poll/epoll). */
int motan_client_completion_fd(motan_client *c);
/*
 * Cancels the submitted calls with this tag that have not completed: each completes with
 * MOTAN_ECANCELLED and is polled as usual (soon, not inside this call); their requests are
 * borrowed until then. MOTAN_ENOTFOUND when none was in flight. From any thread; on a
 * caller's-loop client from the loop's thread.
 */
int motan_client_cancel(motan_client *c, uint64_t tag);

/* Convenience: a new request for method with the client's identity filled in. owned. */
motan_request *motan_client_request(motan_client *c, const char *method);
/* The service path, the configuration URL (borrowed, live with c). */
const char *motan_client_get_service(const motan_client *c);
const motan_url *motan_client_get_url(const motan_client *c);
/*
 * The cluster (borrowed) for statistics and endpoint introspection; its endpoint functions
 * are loop-thread only (motan_loop_run_wait, or a callback), its counters any thread.
 */
motan_cluster *motan_client_get_cluster(motan_client *c);
/* Endpoints of the client's own group now; any thread (a built-in loop is asked and waited for). */
size_t motan_client_endpoint_count(motan_client *c);
/* The registry's current problem, "" when healthy (copied into buf). */
void motan_client_registry_status(motan_client *c, char *buf, size_t len);
/* Waits (built-in loop) until the client has at least one endpoint, up to timeout_ms. */
int motan_client_wait_ready(motan_client *c, int timeout_ms);

/*
 * Statistics (docs/observability.md): what the `metrics` filter counted (filter=metrics in
 * the URL) and the availability of the endpoints, refreshed for this call.
 * motan_client_stats_json: the client's stats source as JSON (owned: free with motan_free;
 * NULL on out of memory); from any thread with the built-in loop, from the loop's thread
 * otherwise (from another thread the availability is the last refreshed, at most a second
 * old while filters run). motan_client_get_stats: the source itself (borrowed, lives with
 * c), for motan_stats_walk and motan_stats_prometheus.
 */
char *motan_client_stats_json(motan_client *c);
motan_stats *motan_client_get_stats(motan_client *c);

#endif /* MOTAN_CLIENT_H */
