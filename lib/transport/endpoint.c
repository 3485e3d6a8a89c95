/*
 * Endpoints: configuration, the call lifecycle (start, timeout, completion exactly once),
 * response dispatch by request id, and freeing with calls in flight.
 *
 * Every libevent callback of an endpoint runs between motan__endpoint_hold and
 * motan__endpoint_release; a user callback that frees the endpoint only marks it, and the
 * outermost release destroys it, so no code touches freed memory on the way out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "transport/transport_int.h"

#define MAX_CONNECTIONS 64

static void on_done(evutil_socket_t fd, short what, void *arg);
static void deliver_done(motan_endpoint *ep, motan__call *call);
static void endpoint_destroy(motan_endpoint *ep);

void motan__endpoint_hold(motan_endpoint *ep) { ep->busy++; }

void motan__endpoint_release(motan_endpoint *ep)
{
    if (--ep->busy == 0 && ep->free_pending)
        endpoint_destroy(ep);
}

/* ---- configuration -------------------------------------------------------------------- */

static int param_int(const motan_url *u, const char *key, int64_t lo, int64_t hi, int64_t *out,
                     char *errbuf, size_t errlen)
{
    const char *raw = motan_url_get_param(u, key);
    int64_t v = raw ? 0 : motan_url_get_int(u, NULL, key, 0); /* absent: the default */
    int range = 0;
    if (raw) {
        char *end;
        errno = 0;
        long long parsed = strtoll(raw, &end, 10);
        range = errno == ERANGE; /* clamped by strtoll: the message shows what was written */
        while (*end == ' ')
            end++;
        if (end == raw || *end)
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not an integer", key,
                               raw);
        v = parsed;
    }
    if (v < lo || v > hi || range) {
        char shown[32];
        snprintf(shown, sizeof(shown), "%lld", (long long)v);
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is out of range %lld..%lld",
                           key, raw ? raw : shown, (long long)lo, (long long)hi);
    }
    *out = v;
    return MOTAN_OK;
}

static int configure(motan_endpoint *ep, char *errbuf, size_t errlen)
{
    const motan_url *u = ep->url;
    int64_t v;
    int rc;
#define INT_PARAM(key, lo, hi, field)                                                            \
    do {                                                                                         \
        if ((rc = param_int(u, key, lo, hi, &v, errbuf, errlen)) != MOTAN_OK)                    \
            return rc;                                                                           \
        field = v;                                                                               \
    } while (0)
    INT_PARAM("connections", 1, MAX_CONNECTIONS, ep->nconns);
    INT_PARAM("requestTimeout", 1, 86400000, ep->request_timeout_ms);
    INT_PARAM("connectTimeout", 1, 86400000, ep->connect_timeout_ms);
    INT_PARAM("maxPending", 1, 100000000, ep->max_pending);
    INT_PARAM("errorCountThreshold", -1000000, 1000000, ep->error_threshold);
    INT_PARAM("keepaliveInterval", 1, 86400000, ep->keepalive_ms);
    INT_PARAM("maxContentLength", 21, 0x7fffffff, ep->max_content);
    INT_PARAM("mingzSize", 0, 0x7fffffff, ep->mingz);
    if (motan_url_get_param(u, "connectionBudget"))
        INT_PARAM("connectionBudget", 1, 10000000, ep->conn_budget);
    else
        ep->conn_budget = motan__budget_default();
    if (motan_url_get_param(u, "maxDecodedSize"))
        INT_PARAM("maxDecodedSize", 1, MOTAN__MAX_DECODED_LIMIT, ep->max_decoded);
    else
        ep->max_decoded = 4 * ep->max_content;
#undef INT_PARAM
    for (size_t i = 0; i < motan_url_param_count(u); i++)
        if (strchr(motan_url_param_key(u, i), '.'))
            ep->has_method_params = 1;
    ep->group = motan_url_get_str(u, NULL, "group", NULL);
    ep->version = motan_url_get_param(u, "version");
    ep->application = motan_url_get_param(u, "application");
    const char *ser = motan_url_get_param(u, "serialization");
    ep->serialization = ser ? motan_serialization_by_name(ser) : -1;

    if (motan_url_addr_count(u) != 1)
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "an endpoint needs exactly one address, the URL has %zu",
                           motan_url_addr_count(u));
    const char *host = motan_url_addr_host(u, 0);
    ep->is_unix = motan_url_addr_is_unix(u, 0);
    ep->port = motan_url_addr_port(u, 0);
    if (!ep->is_unix && !*host)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "endpoint address needs a host");
    if (!ep->is_unix && ep->port <= 0) /* the URL holds 0 for both ":0" and no port */
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "endpoint %s needs a port 1..65535 (none or port 0 given)", host);
    ep->host = motan__strdup(host);
    size_t alen = strlen(host) + 16;
    ep->address = motan_malloc(alen);
    if (!ep->host || !ep->address)
        return MOTAN_ENOMEM;
    if (ep->is_unix)
        snprintf(ep->address, alen, "unix:%s", host);
    else if (strchr(host, ':'))
        snprintf(ep->address, alen, "[%s]:%d", host, ep->port);
    else
        snprintf(ep->address, alen, "%s:%d", host, ep->port);
    return MOTAN_OK;
}

int motan__endpoint_timeout_for(const motan_endpoint *ep, const motan_request *req, int timeout_ms)
{
    if (timeout_ms > 0)
        return timeout_ms;
    int t = motan_request_get_timeout(req);
    if (t > 0)
        return t;
    if (ep->has_method_params) {
        const char *m = motan_request_get_method(req);
        int64_t v = motan_url_get_int(ep->url, m, "requestTimeout", ep->request_timeout_ms);
        if (v > 0 && v <= 86400000)
            return (int)v;
    }
    return ep->request_timeout_ms;
}

/* ---- creation and destruction ---------------------------------------------------------- */

typedef struct create_args {
    motan_loop *loop;
    const motan_url *node;
    motan_endpoint *ep;
    int rc;
    char *errbuf;
    size_t errlen;
} create_args;

/*
 * The connections, made when first needed: an endpoint of a list too long for the budget
 * that no call picks costs no connection state (two of them would be a third of its size).
 */
static int ensure_conns(motan_endpoint *ep)
{
    if (ep->conns)
        return MOTAN_OK;
    motan__conn *conns = motan__calloc((size_t)ep->nconns, sizeof(motan__conn));
    int rc = conns ? MOTAN_OK : MOTAN_ENOMEM;
    for (int i = 0; rc == MOTAN_OK && i < ep->nconns; i++)
        rc = motan__conn_init(&conns[i], ep);
    if (rc != MOTAN_OK) {
        for (int i = 0; conns && i < ep->nconns; i++)
            motan__conn_destroy(&conns[i]);
        motan_free(conns);
        return rc;
    }
    ep->conns = conns;
    return MOTAN_OK;
}

static void on_call_timeout(motan__tq_node *n);

static void ep_hold(void *ep) { motan__endpoint_hold(ep); }
static void ep_release(void *ep) { motan__endpoint_release(ep); }

static void create_in_loop(void *arg)
{
    create_args *a = arg;
    motan_endpoint *ep = motan__calloc(1, sizeof(*ep));
    if (!ep) {
        a->rc = MOTAN_ENOMEM;
        return;
    }
    ep->loop = a->loop;
    atomic_init(&ep->available, 1);
    ep->url = motan_url_clone(a->node);
    ep->frame = motan_frame_new();
    ep->scratch = motan_buf_new(0); /* sized by the first request */
    int rc = ep->url && ep->frame && ep->scratch ? motan__idmap_init(&ep->calls) : MOTAN_ENOMEM;
    if (rc == MOTAN_OK)
        rc = configure(ep, a->errbuf, a->errlen);
    if (rc == MOTAN_OK) {
        motan__budget_join(ep, 1);
        if (motan__budget_eager(ep))
            rc = ensure_conns(ep);
    }
    if (rc != MOTAN_OK) {
        if (rc == MOTAN_ENOMEM)
            motan__errf(a->errbuf, a->errlen, rc, "out of memory creating an endpoint");
        endpoint_destroy(ep);
        a->rc = rc;
        return;
    }
    event_assign(&ep->done_ev, motan_loop_get_base(ep->loop), -1, 0, on_done, ep);
    motan__tqs_init(&ep->tq, motan_loop_get_base(ep->loop), on_call_timeout, ep_hold, ep_release,
                    ep);
    /*
     * Connect now so the first call does not pay for it, while all the loop's connections
     * fit in the budget; past it (a list of many thousand nodes) an endpoint connects when a
     * call first picks it.
     */
    if (ep->conns)
        for (int i = 0; i < ep->nconns; i++)
            motan__conn_connect(&ep->conns[i], 0);
    a->ep = ep;
    a->rc = MOTAN_OK;
}

static int endpoint_new_impl(motan_loop *l, const motan_url *node, motan_endpoint **out,
                             char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!l || !node)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no loop or node URL given");
    create_args a = {.loop = l, .node = node, .rc = MOTAN_OK, .errbuf = errbuf, .errlen = errlen};
    int rc = motan_loop_run_wait(l, create_in_loop, &a);
    if (rc != MOTAN_OK)
        return motan__errf(errbuf, errlen, rc, "the loop is closed");
    *out = a.ep;
    return a.rc;
}

MOTAN_EXPORT int motan_endpoint_new(motan_loop *l, const motan_url *node, motan_endpoint **out,
                                    char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, endpoint_new_impl(l, node, out, errbuf, errlen));
}

static void endpoint_destroy(motan_endpoint *ep)
{
    atomic_fetch_add(&motan__endpoint_epoch, 1); /* its address string goes with it */
    motan__budget_join(ep, 0);
    motan__health_stop(ep);
    if (ep->conns)
        for (int i = 0; i < ep->nconns; i++)
            motan__conn_destroy(&ep->conns[i]);
    if (ep->done_ev.ev_base)
        event_del(&ep->done_ev);
    motan__tqs_stop(&ep->tq);
    motan_free(ep->conns);
    motan__meta_cache_free(&ep->mc);
    motan__idmap_free(&ep->calls);
    motan_frame_free(ep->frame);
    motan_buf_free(ep->scratch);
    if (ep->zscratch)
        evbuffer_free(ep->zscratch);
    motan_url_free(ep->url);
    motan_free(ep->host);
    motan_free(ep->address);
    motan_free(ep);
}

static void free_in_loop(void *arg)
{
    motan_endpoint *ep = arg;
    if (ep->closing)
        return;
    ep->closing = 1;
    motan__endpoint_hold(ep);
    /* Every call still alive completes now, exactly once. */
    size_t n = 0;
    uint64_t *ids = motan__idmap_keys(&ep->calls, &n);
    for (size_t i = 0; ids && i < n; i++) {
        motan__call *call = motan__idmap_get(&ep->calls, ids[i]);
        if (!call)
            continue;
        if (call->state == CALL_DONE) /* its completion was waiting in the done list */
            deliver_done(ep, call);
        else
            motan__call_fail(call, MOTAN_ECANCELLED, "endpoint %s was freed with the call in flight",
                             ep->address);
    }
    motan_free(ids);
    /* Completions of calls that never got a table entry (out of memory when they started). */
    while (ep->done_head)
        deliver_done(ep, ep->done_head);
    motan__health_stop(ep);
    for (int i = 0; ep->conns && i < ep->nconns; i++)
        motan__conn_fail(&ep->conns[i], MOTAN_ECANCELLED, "endpoint freed");
    /* Out of the loop's books now: a callback still running may free the loop (a client freed
     * from its callback on a caller's loop) before the last hold on ep goes. */
    motan__budget_join(ep, 0);
    event_del(&ep->done_ev);
    motan__tqs_stop(&ep->tq);
    ep->free_pending = 1;
    motan__endpoint_release(ep);
}

MOTAN_EXPORT void motan_endpoint_free(motan_endpoint *e)
{
    if (!e)
        return;
    motan_loop_run_wait(e->loop, free_in_loop, e);
}

/* ---- calls ---------------------------------------------------------------------------- */

static void timer_stop(motan__call *call)
{
    if (call->timer_set) {
        motan__tq_remove(&call->tqn);
        call->timer_set = 0;
    }
}

/* Stops the call's timer and takes it off its connection; it stays in the table. */
static void call_detach(motan__call *call)
{
    timer_stop(call);
    if (call->conn)
        motan__conn_unlink(call->conn, call);
    call->state = CALL_DONE;
}

static void call_release(motan__call *call)
{
    motan__idmap_remove(&call->ep->calls, call->id);
    call_detach(call);
}

/* MOTAN_CALL_PHASES: what was measured, into the response. */
static void put_phases(motan__call *call, motan_response *resp)
{
    uint64_t now = call->t_decoded ? call->t_decoded : motan_now_us();
    if (!call->t_start)
        return; /* never reached the loop's start (e.g. out of memory) */
    motan_response_set_phase_us(resp, MOTAN_PHASE_QUEUE, call->t_start - call->t_call);
    uint64_t ready = call->t_start;
    if (call->waited_connect && call->conn && call->conn->connected_us > call->t_start) {
        ready = call->conn->connected_us;
        motan_response_set_phase_us(resp, MOTAN_PHASE_CONNECT, ready - call->t_start);
    }
    if (!call->t_sent) { /* never written: the time went to writing (or connecting) */
        motan_response_set_phase_us(resp, call->waited_connect && ready == call->t_start
                                              ? MOTAN_PHASE_CONNECT
                                              : MOTAN_PHASE_WRITE,
                                    now - ready);
        return;
    }
    motan_response_set_phase_us(resp, MOTAN_PHASE_WRITE, call->t_sent > ready ? call->t_sent - ready : 0);
    uint64_t answered = call->t_frame ? call->t_frame : now;
    motan_response_set_phase_us(resp, MOTAN_PHASE_WAIT, answered - call->t_sent);
    if (call->t_frame)
        motan_response_set_phase_us(resp, MOTAN_PHASE_DECODE, now - call->t_frame);
}

void motan__call_complete(motan__call *call, motan_response *resp)
{
    motan_endpoint *ep = call->ep;
    if (MOTAN_UNLIKELY(call->flags & MOTAN_CALL_PHASES))
        put_phases(call, resp);
    call_release(call);
    atomic_fetch_sub(&ep->inflight, 1);
    int code = motan_response_get_code(resp);
    motan_response_set_endpoint(resp, ep->address);
    motan_response_set_request_id(resp, call->id);
    if (call->req) {
        if (code == MOTAN_OK)
            atomic_fetch_add(&ep->st_ok, 1);
        else
            atomic_fetch_add(&ep->st_errors, 1);
        if (code == MOTAN_ETIMEOUT)
            atomic_fetch_add(&ep->st_timeouts, 1);
        motan__health_record(ep, code, motan_response_get_errtype(resp));
    } else {
        motan__health_heartbeat_done(ep, code == MOTAN_OK);
    }
    motan__endpoint_hold(ep);
    /* The record goes back first: the callback may free the loop (a client on the caller's
     * base freed from its own callback). */
    motan_response_cb cb = call->cb;
    void *userdata = call->userdata;
    motan__loop_call_put(ep->loop, call);
    cb(resp, userdata);
    motan__endpoint_release(ep);
}

void motan__call_fail(motan__call *call, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Without memory the callback still runs once, with the shared out-of-memory response. */
    motan_response *resp = motan_response_new_or_oom();
    motan_response_set_error(resp, code, msg);
    motan__call_complete(call, resp);
}

void motan__call_defer(motan__call *call, motan_response *resp)
{
    motan_endpoint *ep = call->ep;
    call_detach(call);
    call->resp = resp;
    motan__calls_push(&ep->done_head, &ep->done_tail, call);
    event_active(&ep->done_ev, EV_TIMEOUT, 1);
}

static void defer_error(motan__call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void defer_error(motan__call *call, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    motan_response *resp = motan_response_new_or_oom();
    motan_response_set_error(resp, code, msg);
    motan__call_defer(call, resp);
}

/* Takes call off the done list and runs its callback with the response it was given. */
static void deliver_done(motan_endpoint *ep, motan__call *call)
{
    motan__calls_remove(&ep->done_head, &ep->done_tail, call);
    motan_response *resp = call->resp;
    call->resp = NULL;
    motan__call_complete(call, resp ? resp : motan_response_new_or_oom());
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    motan_endpoint *ep = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan__endpoint_hold(ep);
    /* Only what is queued now: completions added by these callbacks wait for the next turn. */
    motan__call *last = ep->done_tail;
    motan__call *call;
    while (!ep->closing && (call = ep->done_head)) {
        int was_last = call == last;
        deliver_done(ep, call);
        if (was_last)
            break;
    }
    if (ep->done_head && !ep->closing)
        event_active(&ep->done_ev, EV_TIMEOUT, 1);
    motan__endpoint_release(ep);
}

static void on_call_timeout(motan__tq_node *n)
{
    motan__call *call = (motan__call *)(void *)((char *)n - offsetof(motan__call, tqn));
    motan_endpoint *ep = call->ep;
    call->timer_set = 0;
    motan__endpoint_hold(ep);
    motan__conn *c = call->conn; /* the call is freed below; the connection lives with ep */
    uint64_t gen = c ? c->generation : 0;
    int timeout_ms = call->timeout_ms;
    if (call->req)
        motan__call_fail(call, MOTAN_ETIMEOUT, "timeout after %d ms calling %s.%s on %s%s",
                         call->timeout_ms, motan__call_service(call),
                         motan_request_get_method(call->req), ep->address,
                         call->state == CALL_QUEUED ? " (request not yet sent)" : "");
    else
        motan__call_fail(call, MOTAN_ETIMEOUT, "heartbeat timeout after %d ms on %s",
                         call->timeout_ms, ep->address);
    if (c && gen == c->generation)
        motan__conn_check_stall(c, timeout_ms);
    motan__endpoint_release(ep);
}

void motan__endpoint_set_error(motan_endpoint *ep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ep->last_error, sizeof(ep->last_error), fmt, ap);
    va_end(ap);
}

/* Why no connection could take a call: the last real cause, from the first call on. */
static const char *no_conn_reason(const motan_endpoint *ep)
{
    return ep->last_error[0] ? ep->last_error : "reconnecting";
}

/* *busy: 1 when maxPending stopped it, 2 when the connection budget did. */
static motan__conn *pick_conn(motan_endpoint *ep, int *busy)
{
    int n = ep->nconns;
    *busy = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (int k = 0; k < n; k++) {
            motan__conn *c = &ep->conns[(ep->rr + (unsigned)k) % (unsigned)n];
            if (c->failing)
                continue;
            if (pass == 2 && c->state == CONN_IDLE && motan_now_us() >= c->retry_at_us &&
                motan__conn_connect(c, 1) == MOTAN_EBUSY && !*busy)
                *busy = 2;
            int want = pass == 0 ? CONN_CONNECTED : CONN_CONNECTING;
            if (pass == 2)
                want = c->state == CONN_CONNECTED ? CONN_CONNECTED : CONN_CONNECTING;
            if (c->state != want)
                continue;
            if (c->pending >= ep->max_pending) {
                *busy = 1;
                continue;
            }
            ep->rr++;
            return c;
        }
    }
    return NULL;
}

void motan__endpoint_start(motan__call *call)
{
    motan_endpoint *ep = call->ep;
    if (MOTAN_UNLIKELY(call->flags & MOTAN_CALL_PHASES))
        call->t_start = motan_now_us();
    if (motan__idmap_put(&ep->calls, call->id, call) != MOTAN_OK) {
        /* Cannot track it: complete through the done list, which needs no table entry. */
        motan_response_free(call->resp); /* replaced below, not leaked */
        defer_error(call, MOTAN_ENOMEM, "out of memory");
        return;
    }
    if (call->resp) { /* failed before reaching the loop (e.g. arguments not encodable) */
        motan_response *resp = call->resp;
        call->resp = NULL;
        motan__call_defer(call, resp);
        return;
    }
    if (ep->closing) {
        defer_error(call, MOTAN_ECANCELLED, "endpoint %s is being freed", ep->address);
        return;
    }
    if (call->req && !atomic_load(&ep->available)) {
        defer_error(call, MOTAN_ECONNECT,
                    "endpoint %s is unavailable after %d consecutive errors (heartbeats every %d ms) "
                    "calling %s.%s",
                    ep->address, ep->consecutive_errors, ep->keepalive_ms, motan__call_service(call),
                    motan_request_get_method(call->req));
        return;
    }
    if (ensure_conns(ep) != MOTAN_OK) {
        defer_error(call, MOTAN_ENOMEM, "out of memory for the connections of %s", ep->address);
        return;
    }
    int busy;
    motan__conn *c = pick_conn(ep, &busy);
    if (!c) {
        /* A spent budget is the client's own limit, not the server's failure: EBUSY, which
         * endpoint health does not count. */
        int code = busy ? MOTAN_EBUSY : MOTAN_ECONNECT;
        if (busy == 1)
            defer_error(call, MOTAN_EBUSY,
                        "endpoint %s has %zu requests in flight on each connection (maxPending)",
                        ep->address, ep->max_pending);
        else if (call->req)
            defer_error(call, code, "no connection to %s (%s) calling %s.%s", ep->address,
                        no_conn_reason(ep), motan__call_service(call),
                        motan_request_get_method(call->req));
        else
            defer_error(call, code, "no connection to %s (%s)", ep->address, no_conn_reason(ep));
        return;
    }
    motan__tqs_add(&ep->tq, &call->tqn, call->timeout_ms);
    call->timer_set = 1;
    motan__conn_enqueue(c, call);
}

static void start_task(void *arg) { motan__endpoint_start(arg); }

const char *motan__call_service(const motan__call *call)
{
    const char *s = call->req ? motan_request_get_service(call->req) : NULL;
    return s && *s ? s : motan_url_get_path(call->ep->url);
}

/* What the node URL fills into requests that leave it unset: the request is only read. */
int motan__call_encode(const motan__call *call, motan_buf *out, motan_encode_ref *refs,
                       size_t nrefs_max, size_t *nrefs, motan_request_hold **hold, char *errbuf,
                       size_t errlen)
{
    motan_endpoint *ep = call->ep; /* its metadata cache is written */
    motan_request_fill fill = {
        .service = motan_url_get_path(ep->url),
        .group = ep->group,
        .version = ep->version,
        .application = ep->application,
        .serialization = ep->serialization,
        .group_override = call->group,
        .meta = call->meta,
        .nmeta = call->nmeta,
    };
    return motan__request_encode_cached(call->req, &fill, call->id, call->timeout_ms, ep->mingz,
                                        out, refs, nrefs_max, nrefs, hold,
                                        &ep->mc, errbuf, errlen);
}

MOTAN_EXPORT int motan_endpoint_call(motan_endpoint *e, motan_request *req, int timeout_ms,
                                     motan_response_cb cb, void *userdata, uint64_t *call_id)
{
    return motan_endpoint_call_ex(e, req, NULL, timeout_ms, NULL, 0, 0, cb, userdata, call_id);
}

MOTAN_EXPORT int motan_endpoint_call_ex(motan_endpoint *e, const motan_request *req,
                                        const char *group, int timeout_ms, const char *const *meta,
                                        size_t nmeta, unsigned flags, motan_response_cb cb,
                                        void *userdata, uint64_t *call_id)
{
    if (!e || !req || !cb || (nmeta && !meta))
        return MOTAN_EINVAL;
    if (atomic_load(&e->closing))
        return MOTAN_ECLOSED;
    if (MOTAN_UNLIKELY(motan_loop_forked(e->loop)))
        return MOTAN_EFORKED; /* no loop thread in this process; the sockets are the parent's */
    motan__call *call = motan__loop_call_get(e->loop, sizeof(*call));
    if (!call)
        return MOTAN_ENOMEM;
    call->meta = meta;
    call->nmeta = nmeta;
    call->flags = flags;
    if (MOTAN_UNLIKELY(flags & MOTAN_CALL_PHASES))
        call->t_call = motan_now_us();
    call->id = motan__next_request_id();
    call->ep = e;
    call->req = req;
    call->group = group;
    call->cb = cb;
    call->userdata = userdata;
    call->timeout_ms = motan__endpoint_timeout_for(e, req, timeout_ms);
    char err[256] = "";
    int rc = MOTAN_OK;
    if (!motan_request_get_method(req) || !*motan_request_get_method(req))
        rc = motan__errf(err, sizeof(err), MOTAN_EINVAL, "the request has no method");
    else if (!*motan__call_service(call))
        rc = motan__errf(err, sizeof(err), MOTAN_EINVAL, "the request has no service path");
    if (rc != MOTAN_OK) {
        call->resp = motan_response_new();
        if (!call->resp) {
            motan_free(call);
            return MOTAN_ENOMEM;
        }
        char msg[400];
        snprintf(msg, sizeof(msg), "%s (calling %s.%s)", err, motan__call_service(call),
                 motan_request_get_method(req) ? motan_request_get_method(req) : "");
        motan_response_set_error(call->resp, rc, msg);
    }
    atomic_fetch_add(&e->inflight, 1);
    atomic_fetch_add(&e->st_calls, 1);
    if (call_id)
        *call_id = call->id;
    if (motan_loop_in_loop_thread(e->loop)) {
        motan__endpoint_start(call);
        return MOTAN_OK;
    }
    call->task.fn = start_task;
    call->task.userdata = call;
    rc = motan__loop_post(e->loop, &call->task);
    if (rc != MOTAN_OK) {
        atomic_fetch_sub(&e->inflight, 1);
        motan_response_free(call->resp);
        motan_free(call);
    }
    return rc;
}

MOTAN_EXPORT int motan_endpoint_cancel(motan_endpoint *e, uint64_t call_id)
{
    if (!e)
        return MOTAN_EINVAL;
    motan__call *call = motan__idmap_get(&e->calls, call_id);
    if (!call || call->state == CALL_DONE)
        return MOTAN_ENOTFOUND;
    defer_error(call, MOTAN_ECANCELLED, "call cancelled"); /* stays findable until delivered */
    return MOTAN_OK;
}

/* ---- responses ------------------------------------------------------------------------ */

void motan__endpoint_on_frame(motan_endpoint *ep, motan__conn *c, const motan_frame *f)
{
    motan_frame_kind kind = motan_frame_get_kind(f);
    if (kind == MOTAN_FRAME_HEARTBEAT_REQUEST)
        return; /* a server's heartbeat: nothing to answer on a client connection */
    if (kind == MOTAN_FRAME_REQUEST) {
        motan__conn_fail(c, MOTAN_EPROTO, "the server sent a request frame");
        return;
    }
    motan__call *call = motan__idmap_get(&ep->calls, motan_frame_get_request_id(f));
    if (!call || call->conn != c || call->state != CALL_SENT) {
        atomic_fetch_add(&ep->st_unknown, 1); /* late, duplicate or unknown: dropped */
        return;
    }
    if (kind == MOTAN_FRAME_HEARTBEAT_RESPONSE && call->req) {
        atomic_fetch_add(&ep->st_unknown, 1);
        return;
    }
    motan_response *resp = motan_response_new_or_oom();
    if (MOTAN_UNLIKELY(call->flags & MOTAN_CALL_PHASES))
        call->t_frame = motan_now_us();
    if (call->flags & MOTAN_CALL_RECEIVED) {
        if (!c->read_us)
            c->read_us = call->t_frame ? call->t_frame : motan_now_us();
        motan_response_set_received_us(resp, c->read_us);
    }
    if (call->req) {
        int raw = motan_request_get_raw_response(call->req); /* pass-through: not decoded */
        motan__frame_hold h;
        if (!raw)
            motan_response_set_max_decoded(resp, ep->max_decoded);
        if (motan__conn_hold_frame(c, &h))
            motan__response_set_frame_held(resp, f, raw, &h); /* big bytes: views into the input */
        else if (raw)
            motan_response_set_frame_raw(resp, f);
        else
            motan_response_set_frame(resp, f);
    }
    if (MOTAN_UNLIKELY(call->flags & MOTAN_CALL_PHASES))
        call->t_decoded = motan_now_us();
    motan__call_complete(call, resp);
}

/* ---- parameter updates ---------------------------------------------------------------- */

MOTAN_EXPORT int motan_endpoint_update_url(motan_endpoint *e, const motan_url *node, char *errbuf,
                                           size_t errlen)
{
    if (!e || !node)
        return MOTAN_EINVAL;
    motan_endpoint probe = *e; /* configure() on a copy: the endpoint changes only on success */
    probe.url = motan_url_clone(node);
    probe.host = NULL;
    probe.address = NULL;
    probe.has_method_params = 0;
    if (!probe.url)
        return MOTAN_ENOMEM;
    int rc = configure(&probe, errbuf, errlen);
    if (rc == MOTAN_OK && (probe.is_unix != e->is_unix || probe.port != e->port ||
                           strcmp(probe.host, e->host)))
        rc = motan__errf(errbuf, errlen, MOTAN_EINVAL, "the new URL has another address (%s)",
                         probe.address);
    if (rc != MOTAN_OK) {
        motan_url_free(probe.url);
        motan_free(probe.host);
        motan_free(probe.address);
        return rc;
    }
    motan_url_free(e->url);
    e->url = probe.url;
    motan_free(probe.host);
    motan_free(probe.address);
    e->request_timeout_ms = probe.request_timeout_ms;
    e->connect_timeout_ms = probe.connect_timeout_ms;
    e->max_pending = probe.max_pending;
    e->error_threshold = probe.error_threshold;
    e->keepalive_ms = probe.keepalive_ms;
    e->conn_budget = probe.conn_budget;
    e->max_content = probe.max_content;
    e->max_decoded = probe.max_decoded;
    e->mingz = probe.mingz;
    e->has_method_params = probe.has_method_params;
    e->group = probe.group;
    e->version = probe.version;
    e->application = probe.application;
    e->serialization = probe.serialization;
    motan__meta_cache_clear(&e->mc); /* its blocks hold the old fill */
    return MOTAN_OK;
}

/* ---- introspection -------------------------------------------------------------------- */

MOTAN_EXPORT int motan_endpoint_is_available(const motan_endpoint *e)
{
    return atomic_load(&((motan_endpoint *)e)->available);
}

MOTAN_EXPORT size_t motan_endpoint_inflight(const motan_endpoint *e)
{
    return atomic_load(&((motan_endpoint *)e)->inflight);
}

MOTAN_EXPORT const char *motan_endpoint_get_address(const motan_endpoint *e) { return e->address; }

MOTAN_EXPORT const motan_url *motan_endpoint_get_url(const motan_endpoint *e) { return e->url; }

MOTAN_EXPORT uint64_t motan_endpoint_stat(const motan_endpoint *e, const char *name)
{
    motan_endpoint *ep = (motan_endpoint *)e;
    static const struct {
        const char *name;
        size_t off;
    } stats[] = {
        {"calls", offsetof(motan_endpoint, st_calls)},
        {"ok", offsetof(motan_endpoint, st_ok)},
        {"errors", offsetof(motan_endpoint, st_errors)},
        {"timeouts", offsetof(motan_endpoint, st_timeouts)},
        {"unknown_responses", offsetof(motan_endpoint, st_unknown)},
        {"heartbeats", offsetof(motan_endpoint, st_heartbeats)},
        {"connects", offsetof(motan_endpoint, st_connects)},
        {"connect_failures", offsetof(motan_endpoint, st_conn_failures)},
        {"idle_closed", offsetof(motan_endpoint, st_idle_closed)},
    };
    if (!ep || !name)
        return 0;
    if (!strcmp(name, "inflight"))
        return atomic_load(&ep->inflight);
    if (!strcmp(name, "consecutive_errors"))
        return (uint64_t)atomic_load(&ep->consecutive_errors);
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
        if (!strcmp(stats[i].name, name))
            return atomic_load((atomic_uint_fast64_t *)((char *)ep + stats[i].off));
    return 0;
}
