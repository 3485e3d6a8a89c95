/*
 * libmotan server: export services over motan2 (docs/server.md).
 *
 *   motan_server *s;
 *   motan_server_new(loop, &s, err, sizeof err);
 *   motan_server_handle(s, "com.example.EchoService", "echo", on_echo, NULL);
 *   motan_server_listen(s, "127.0.0.1:8002", &port, err, sizeof err);
 *   motan_server_export(s, registry, "motan2://10.0.0.5:8002/com.example.EchoService?group=g1",
 *                       err, sizeof err);
 *   ...
 *   motan_server_shutdown(s, 5000);   (unregister, stop accepting, answer what is in flight)
 *   motan_server_free(s);
 *
 * A handler gets the request (borrowed: valid until its reply is finished) and a reply
 * handle. It finishes the reply exactly once, at once or later, from any thread:
 * motan_reply_send / _send_raw / _error / _drop / _discard (or, on the loop thread, the
 * streaming calls motan_reply_write + motan_reply_end, or motan_reply_close). After that the
 * handle and the request are gone. A reply whose request carried a deadline (M_tmo) and was
 * not finished in time is answered with a timeout exception by the server; finishing it
 * later is still required (it then frees it and sends nothing).
 *
 * Threads: a server lives on one motan_loop (built-in or the caller's event_base). With a
 * built-in loop every motan_server_* function may be called from any thread (it is handed to
 * the loop and waited for); with a caller's loop, from that loop's thread only. Handlers run
 * on the loop thread. motan_reply_* functions marked "any thread" may be called from any
 * thread in both modes; the others only on the loop thread.
 *
 * Errors answered by the server itself (status 1, empty body, Go-form M_e, spec §3.3):
 *   unknown service          404, errtype 1, "provider not exist serviceKey=<M_p>"
 *   unknown method           500, errtype 1, "method <M_m> is not found in provider."
 *   undecodable arguments    500, errtype 1, "deserialize fail: <why>"
 *   deadline passed          10003, errtype 1, "request timed out after <N> ms (deadline from ...)"
 *   reply dropped            500, errtype 1, "request dropped by the handler"
 *   draining                 503, errtype 1, "service unavailable: the server is shutting down"
 *   request too large        10201, errtype 1, "request too large: ..." (then the connection ends)
 */
#ifndef MOTAN_SERVER_H
#define MOTAN_SERVER_H

#include <motan/registry.h>

typedef struct motan_server motan_server;
/* One received request (borrowed by handlers). */
typedef struct motan_server_request motan_server_request;
/* The answer to one request. */
typedef struct motan_reply motan_reply;

/*
 * A request handler (loop thread). req is valid until reply is finished; reply must be
 * finished exactly once (see above). userdata as registered.
 */
typedef void (*motan_server_handler)(const motan_server_request *req, motan_reply *reply,
                                     void *userdata);

/* Completion of motan_server_shutdown_async (loop thread): MOTAN_OK or MOTAN_ETIMEOUT. */
typedef void (*motan_server_drained_cb)(motan_server *s, int code, void *userdata);

/* ==== the server ======================================================================== */

/* A server on loop (which must outlive it). owned: free with motan_server_free. */
int motan_server_new(motan_loop *loop, motan_server **out, char *errbuf, size_t errlen);
/*
 * Unregisters every export, closes listeners and connections at once (replies still open
 * are answered nowhere; finishing them later only frees them), frees. Safe inside a handler
 * (the free then completes when the handler returns). NULL is a no-op.
 */
void motan_server_free(motan_server *s);

/*
 * Sets a parameter of the whole server (service NULL) or of one service. Unknown keys and
 * bad values are MOTAN_EURL with a message ("did you mean" for a near miss). Server keys
 * (defaults): maxContentLength (10485760: metadata, body and gunzipped body of a request),
 * maxDecodedSize (4 x maxContentLength: bytes the decoded arguments of one request may
 * take), maxConnections (10000; 0 = no limit), idleTimeout (0 ms = never), maxBufferedBytes
 * (8388608: a connection holding more unsent output and open requests is not read, and the
 * frames it sent wait, until it is below an eighth of that), requestTimeout (0: the deadline
 * of requests without M_tmo; 0 = none), clientDeadline (true: M_tmo is the handler's
 * deadline), mingzSize (0: the default of services), filter (none: the filters every
 * request but heartbeats goes through, in order, e.g. "trace,accessLog,metrics"; set before
 * the server listens; docs/observability.md). Service keys: mingzSize (responses are gzipped
 * when their body is longer than it; 0 = never).
 */
int motan_server_set(motan_server *s, const char *service, const char *key, const char *value,
                     char *errbuf, size_t errlen);

/*
 * Starts listening on address: "host:port" (IPv4 or [IPv6]; port 0 picks a free one) or
 * "unix:/path" (a stale socket file is replaced; the file is removed when the listener
 * closes). *port (may be NULL) gets the bound port (0 for Unix). Several listeners per
 * server. MOTAN_EIO with the system's reason in errbuf. The socket is opened on the calling
 * thread, so a host name is resolved there (blocking, by the system resolver), not on a
 * built-in loop serving calls meanwhile; a numeric address never waits.
 */
int motan_server_listen(motan_server *s, const char *address, int *port, char *errbuf,
                        size_t errlen);

/*
 * Registers handler for (service, method): method NULL = every method of service without
 * its own handler; service NULL (method NULL) = every request nothing else takes. Method
 * names match exactly, or with the first letter's case changed ("echo" and "Echo", as Go
 * servers accept). The request's arguments are decoded before handler runs (a decoding
 * failure is answered by the server); registering again replaces the handler.
 */
int motan_server_handle(motan_server *s, const char *service, const char *method,
                        motan_server_handler handler, void *userdata);
/*
 * The same for a raw handler: the body is not decoded (motan_server_request_body; decode on
 * demand with motan_server_request_args), for proxies that pass bodies through.
 */
int motan_server_handle_raw(motan_server *s, const char *service, const char *method,
                            motan_server_handler handler, void *userdata);
/*
 * Replaces the answer to heartbeat requests (NULL restores the default: Go form to Go-style
 * heartbeats, Java form to Java ones, spec §4; during a drain the connection is closed once
 * its answers are written, as motan-go does in its 503 state). The handler's request has no
 * method or service; motan_reply_heartbeat gives the default answer.
 */
int motan_server_handle_heartbeat(motan_server *s, motan_server_handler handler,
                                  void *userdata);

/*
 * Publishes a service through registry (created by the caller on any loop; it must outlive
 * the server): url is the node, "motan2://host:port/<service>?group=...&version=..."; port 0
 * means the port of the first TCP listener; nodeType=service is added. Parameters such as
 * mingzSize also configure the service. Unregistered on shutdown and on free. registry
 * NULL only applies the parameters.
 */
int motan_server_export(motan_server *s, motan_registry *registry, const char *url,
                        char *errbuf, size_t errlen);

/*
 * Graceful drain: unregisters every export, closes the listeners, answers requests that
 * arrive from now on with 503 (and heartbeats as above), waits until every open reply is
 * finished and written, then closes the connections. Past timeout_ms the rest is closed
 * at once. Blocking: built-in loop, from another thread (else MOTAN_EDEADLOCK); returns
 * MOTAN_OK, or MOTAN_ETIMEOUT when replies had to be abandoned. The server stays to be freed.
 */
int motan_server_shutdown(motan_server *s, int timeout_ms);
/*
 * The same without blocking: cb (may be NULL) runs once on the loop thread when it is done,
 * from an event of its own (it may free the server). A free during the drain runs cb with
 * MOTAN_ECANCELLED from inside motan_server_free (then it must not free the server).
 */
int motan_server_shutdown_async(motan_server *s, int timeout_ms, motan_server_drained_cb cb,
                                void *userdata);

/*
 * Statistics of the `filter` chain (the `metrics` filter counts requests as motan_server_*
 * series: per service and method, by result, with latency). motan_server_set_stats makes the
 * server feed stats (a reference is kept) instead of a source of its own, so that a client
 * and a server (an agent) serve one /metrics; before the server listens, else MOTAN_EINVAL.
 * motan_server_get_stats: the source (borrowed, lives with s), for motan_stats_prometheus.
 */
int motan_server_set_stats(motan_server *s, motan_stats *stats);
motan_stats *motan_server_get_stats(motan_server *s);

/*
 * Counters (any thread): "requests", "heartbeats", "errors" (error answers), "timeouts"
 * (deadlines that answered), "connections" (open now), "accepted", "refused" (over
 * maxConnections), "idle_closed", "paused" (times reading stopped for back-pressure),
 * "protocol_errors", "open_replies" (now). 0 for unknown names.
 */
uint64_t motan_server_stat(const motan_server *s, const char *name);

/* ==== requests (borrowed; valid until the reply is finished; the reply's thread) ========= */

/*
 * Service path (M_p), method (M_m): "" when absent; *len (may be NULL) gets the length.
 * Every string here (metadata keys and values included) is also NUL-terminated.
 */
const char *motan_server_request_service(const motan_server_request *r, size_t *len);
const char *motan_server_request_method(const motan_server_request *r, size_t *len);
/* Metadata value of key, or NULL; entries in wire order. */
const char *motan_server_request_meta(const motan_server_request *r, const char *key,
                                      size_t *len);
size_t motan_server_request_meta_count(const motan_server_request *r);
const char *motan_server_request_meta_key(const motan_server_request *r, size_t i, size_t *len);
const char *motan_server_request_meta_value(const motan_server_request *r, size_t i,
                                            size_t *len);
uint64_t motan_server_request_id(const motan_server_request *r);
int motan_server_request_serialization(const motan_server_request *r);
/* Message-type bits as received (MOTAN_FLAG_*). */
int motan_server_request_flags(const motan_server_request *r);
/* The body after gunzip. */
const uint8_t *motan_server_request_body(const motan_server_request *r, size_t *len);
/*
 * The arguments as an ARRAY (decoded on first use, bounded by the server's limits; cached).
 * MOTAN_EDECODE, MOTAN_EUNSUPPORTED or MOTAN_ETOOBIG with the reason in errbuf.
 */
int motan_server_request_args(const motan_server_request *r, const motan_value **args,
                              char *errbuf, size_t errlen);
/* "ip:port" of the peer, "unix" for Unix sockets. */
const char *motan_server_request_peer(const motan_server_request *r);

/* ==== replies ============================================================================ */

/* The request (borrowed, as above). Any thread. */
const motan_server_request *motan_reply_request(const motan_reply *r);
/* An arena living as long as the reply, for building the result. Any thread (not shared). */
motan_arena *motan_reply_arena(motan_reply *r);
/*
 * Milliseconds left before the request's deadline (0 when passed), -1 when it has none.
 * Any thread.
 */
int64_t motan_reply_remaining_ms(const motan_reply *r);
/*
 * Adds response metadata, sent after M_pt in call order (a key set twice is sent twice;
 * readers take the last). Keys or values with '\n' and empty keys are MOTAN_EINVAL; an empty
 * value is skipped. Setting M_pt replaces the server's. Any thread, before finishing.
 */
int motan_reply_set_meta(motan_reply *r, const char *key, size_t klen, const char *val,
                         size_t vlen);

/*
 * Finishing calls: after any of them r is gone. Any thread. A failure to encode is
 * answered as an error (500) instead; the return value says so.
 * motan_reply_send: the value v (borrowed for the call), in the request's serialization.
 */
int motan_reply_send(motan_reply *r, const motan_value *v);
/* A pre-encoded body in serialization ser with status (0 normal, 1 exception). */
int motan_reply_send_raw(motan_reply *r, int serialization, int status, const void *body,
                         size_t len);
/* An exception (spec §3.3): errtype 0 framework, 1 service, 2 business. */
int motan_reply_error(motan_reply *r, int64_t errcode, int errtype, const char *msg,
                      size_t len);
/* Answers 500 "request dropped by the handler". */
void motan_reply_drop(motan_reply *r);
/* Sends nothing at all (the caller times out). */
void motan_reply_discard(motan_reply *r);
/* The default heartbeat answer (for heartbeat handlers; an error for other requests). */
int motan_reply_heartbeat(motan_reply *r);

/*
 * Loop thread only. Raw bytes as (part of) the answer: written as they are, in order; later
 * answers on the connection wait until motan_reply_end. For proxies passing whole frames
 * through and for streaming. motan_reply_end finishes the reply.
 */
int motan_reply_write(motan_reply *r, const void *data, size_t len);
int motan_reply_end(motan_reply *r);
/*
 * Loop thread only. Finishes the reply by closing its connection once what is queued before
 * it is written (reset: with an RST); other open replies of the connection are abandoned.
 */
int motan_reply_close(motan_reply *r, int reset);
/* Loop thread only. Bytes queued on the reply's connection and not yet written (0 if gone). */
size_t motan_reply_backlog(const motan_reply *r);

/*
 * With the `trace` filter on the server: the server span's W3C traceparent (child of the
 * caller's span, or a new trace), else NULL. Put it into the requests the handler makes as
 * their "traceparent" metadata, with the request's "tracestate" and "requestIdFromClient",
 * so that they continue the trace. Borrowed until the reply is finished; any thread.
 */
const char *motan_reply_traceparent(const motan_reply *r);

#endif /* MOTAN_SERVER_H */
