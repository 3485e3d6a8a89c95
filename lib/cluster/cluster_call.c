/*
 * Cluster calls and the context HA strategies drive them through.
 *
 * A call holds references: one until it is completed, one per attempt in flight, one while
 * cluster code runs on it; it is freed when the last goes. Completion happens exactly once:
 * remaining attempts are cancelled and their late answers dropped.
 */
#include <stdio.h>

#include "cluster/cluster_int.h"
#include "observe/chain_int.h"
#include "observe/metrics_int.h"


static void backstop_stop(motan_ha_call *call)
{
    if (call->backstop_set) {
        motan__tq_remove(&call->backstop);
        call->backstop_set = 0;
    }
}

static void call_unref(motan_ha_call *call)
{
    if (--call->refs > 0)
        return;
    if (call->timer_set)
        event_del(&call->timer);
    backstop_stop(call);
    motan_free(call->send_group);
    motan_cluster *c = call->c;
    motan_free(c->closing ? call : motan__freelist_put(&c->pool, call));
}

/* A cleared call context: from the pool (any thread), else fresh. */
static motan_ha_call *call_alloc(motan_cluster *c)
{
    motan_ha_call *call = motan__freelist_get(&c->pool);
    if (!call)
        call = motan_malloc(sizeof(*call));
    if (call) {
        memset(call, 0, offsetof(motan_ha_call, c));
        memset(call->scratch, 0, sizeof(call->scratch));
    }
    return call;
}

static void deliver(motan_ha_call *call, motan_response *resp)
{
    motan_cluster *c = call->c;
    int code = motan_response_get_code(resp);
    if (code == MOTAN_OK)
        motan__count(&c->st_ok);
    else
        motan__count(&c->st_errors);
    if (call->fc || call->ms) {
        /* The end of an attempt that completes the call is the end of the call. */
        uint64_t end = call->now_us ? call->now_us : motan_now_us();
        if (call->fc)
            motan_filter_chain_end(call->fc, code, resp, 0, end);
        else
            motan__series_finish(call->ms, code, end > call->fstart_us ? end - call->fstart_us : 0);
        call->fc = NULL;
        call->ms = NULL;
    }
    call->cb(resp, call->userdata);
}

/* The chain sees attempt a end (once), with resp (may be NULL) or code. */
static void attempt_filtered_end(motan_ha_call *call, motan__attempt *a, int code,
                                 const motan_response *resp, uint64_t now)
{
    a->filtered = 0;
    call->nfiltered--;
    if (call->ms) {
        motan__metrics_attempt(call->mw, call->ms, motan_endpoint_get_address(a->ep), code,
                               motan_endpoint_is_available(a->ep), now - a->start_us);
        return;
    }
    motan_filter_chain_attempt_end(call->fc, (int)(a - call->att),
                                   motan_endpoint_get_address(a->ep), code, resp,
                                   motan_endpoint_is_available(a->ep), now - a->start_us);
}

MOTAN_EXPORT void motan_ha_call_complete(motan_ha_call *call, motan_response *resp)
{
    motan_cluster *c = call->c;
    if (call->completed) {
        motan_response_free(resp); /* a strategy completing twice: keep the first */
        return;
    }
    call->completed = 1;
    if (call->timer_set) {
        event_del(&call->timer);
        call->timer_set = 0;
    }
    backstop_stop(call);
    for (int i = 0; i < call->nattempts; i++)
        motan_ha_call_cancel(call, i);
    if (call->nfiltered) { /* attempts still out end, for the filters, before the call does */
        uint64_t now = 0;
        for (int i = 0; i < call->nattempts; i++)
            if (call->att[i].filtered)
                attempt_filtered_end(call, &call->att[i], MOTAN_ECANCELLED, NULL,
                                     now ? now : (now = motan_now_us()));
    }
    motan__call_list_remove(&c->live_head, &c->live_tail, call);
    if (call->starting) {
        /* Still inside motan_cluster_call: the caller's callback must wait for the loop. */
        call->deferred = resp;
        motan__call_list_push(&c->done_head, &c->done_tail, call);
        event_active(&c->done_ev, EV_TIMEOUT, 1);
        return; /* the completion reference goes with the done list */
    }
    deliver(call, resp);
    call_unref(call);
}

MOTAN_EXPORT void motan_ha_call_fail(motan_ha_call *call, int code, const char *msg)
{
    motan_response *resp = motan_response_new_or_oom();
    char text[640], where[160] = "";
    const motan__group *g = call->group;
    if (code == MOTAN_ENOENDPOINT) {
        size_t avail = 0;
        for (size_t i = 0; g && i < g->n; i++)
            avail += motan_endpoint_is_available(g->eps[i]) != 0;
        if (g)
            snprintf(where, sizeof(where), "; group %s has %zu endpoints, %zu available", g->name,
                     g->n, avail);
        else
            snprintf(where, sizeof(where), "; group %s", call->c->own.name);
    }
    const char *svc = motan_request_get_service(call->req), *m = motan_request_get_method(call->req);
    snprintf(text, sizeof(text), "%s (calling %s.%s%s)", msg, svc && *svc ? svc : call->c->path,
             m ? m : "", where);
    motan_response_set_error(resp, code, text);
    motan_ha_call_complete(call, resp);
}

void motan__cluster_on_done(evutil_socket_t fd, short what, void *arg)
{
    motan_cluster *c = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan__cluster_hold(c);
    motan_ha_call *last = c->done_tail, *call;
    while (!c->closing && (call = c->done_head)) {
        int was_last = call == last;
        motan__call_list_remove(&c->done_head, &c->done_tail, call);
        motan_response *resp = call->deferred;
        call->deferred = NULL;
        deliver(call, resp);
        call_unref(call);
        if (was_last)
            break;
    }
    if (c->done_head && !c->closing)
        event_active(&c->done_ev, EV_TIMEOUT, 1);
    motan__cluster_release(c);
}

void motan__cluster_cancel_calls(motan_cluster *c)
{
    motan_ha_call *call;
    /* Completions already waiting are delivered as they are. */
    while ((call = c->done_head)) {
        motan__call_list_remove(&c->done_head, &c->done_tail, call);
        motan_response *resp = call->deferred;
        call->deferred = NULL;
        deliver(call, resp);
        call_unref(call);
    }
    while ((call = c->live_head)) {
        call->refs++;
        motan_ha_call_fail(call, MOTAN_ECANCELLED, "cluster freed with the call in flight");
        call_unref(call);
    }
}

MOTAN_EXPORT int motan_cluster_cancel(motan_cluster *c, motan_response_cb cb, void *userdata)
{
    if (!c || !cb)
        return MOTAN_EINVAL;
    for (motan_ha_call *call = c->live_head; call; call = call->next) {
        if (call->cb != cb || call->userdata != userdata || call->completed)
            continue;
        motan__cluster_hold(c);
        call->refs++;
        call->starting = 1; /* delivered from the loop, not inside this call */
        call->parked = 0;
        motan_ha_call_fail(call, MOTAN_ECANCELLED, "call cancelled");
        call->starting = 0;
        call_unref(call);
        motan__cluster_release(c);
        return MOTAN_OK;
    }
    return MOTAN_ENOTFOUND;
}

/* ---- attempts ------------------------------------------------------------------------- */

static void attempt_cb(motan_response *resp, void *userdata)
{
    motan__attempt *a = userdata;
    motan_ha_call *call = a->call;
    motan_cluster *c = call->c;
    int index = (int)(a - call->att);
    a->inflight = 0;
    call->inflight--;
    if (a->filtered) {
        call->now_us = resp ? motan_response_get_received_us(resp) : 0;
        if (!call->now_us) /* a local outcome (timeout, cancel...): now */
            call->now_us = motan_now_us();
        attempt_filtered_end(call, a, resp ? motan_response_get_code(resp) : MOTAN_ENOMEM, resp,
                             call->now_us);
    }
    if (call->completed || a->cancelled || c->closing) {
        call->now_us = 0;
        motan_response_free(resp);
        call_unref(call);
        return;
    }
    motan__resil_observe(c, call->group, a->ep, resp, 0, a->start_us);
    motan__cluster_hold(c);
    c->ha->on_attempt(c->ha_state, call, index, resp);
    call->now_us = 0;
    call_unref(call);
    motan__cluster_release(c);
}

MOTAN_EXPORT int motan_ha_call_send(motan_ha_call *call, motan_endpoint *ep, int *attempt)
{
    if (!call || !ep || call->completed)
        return MOTAN_EINVAL;
    if (call->nattempts >= MOTAN_HA_MAX_ATTEMPTS)
        return MOTAN_EBUSY;
    int remaining = motan_ha_call_remaining_ms(call);
    if (remaining <= 0)
        return MOTAN_ETIMEOUT;
    motan__attempt *a = &call->att[call->nattempts];
    memset(a, 0, sizeof(*a));
    a->call = call;
    a->ep = ep;
    if (call->nattempts > 0 && !motan__resil_allow_retry(call->c))
        return MOTAN_EBUSY; /* the retry budget is spent */
    /* A first attempt sent straight from motan_cluster_call starts when the call did. */
    a->start_us = call->start_inline && !call->nattempts ? call->fstart_us : motan_now_us();
    int rc;
    if (call->fc || call->ms) {
        size_t nmeta = 0;
        const char *const *meta = call->fc ? motan_filter_call_added_meta(call->fc, &nmeta) : NULL;
        rc = motan_endpoint_call_ex(ep, call->req, call->send_group, remaining, meta, nmeta,
                                    call->c->call_flags | MOTAN_CALL_RECEIVED, attempt_cb, a,
                                    &a->call_id);
        if (rc == MOTAN_OK) {
            a->filtered = 1;
            call->nfiltered++;
            if (call->fc) /* metrics has no attempt_start */
                motan_filter_chain_attempt_start(call->fc, call->nattempts,
                                                 motan_endpoint_get_address(ep));
        }
    } else {
        rc = motan_endpoint_call_ex(ep, call->req, call->send_group, remaining, NULL, 0, 0,
                                    attempt_cb, a, &a->call_id);
    }
    if (rc != MOTAN_OK)
        return rc;
    a->inflight = 1;
    call->inflight++;
    call->refs++;
    if (attempt)
        *attempt = call->nattempts;
    call->nattempts++;
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_ha_call_cancel(motan_ha_call *call, int attempt)
{
    if (!call || attempt < 0 || attempt >= call->nattempts)
        return;
    motan__attempt *a = &call->att[attempt];
    if (!a->inflight || a->cancelled)
        return;
    a->cancelled = 1;
    motan__resil_observe(call->c, call->group, a->ep, NULL, 1, a->start_us);
    /* Its callback still runs once (with MOTAN_ECANCELLED, or a late result) and is dropped. */
    motan_endpoint_cancel(a->ep, a->call_id);
}

MOTAN_EXPORT motan_endpoint *motan_ha_call_pick(motan_ha_call *call)
{
    motan_cluster *c = call->c;
    motan__group *g = call->group;
    if (call->nattempts == 0 && motan__guard_idle(g->guard, motan__call_start_us(call)))
        return c->lb->pick(g->lb_state, call->req, g->eps, g->n, NULL, 0);
    motan_endpoint *tried[MOTAN_HA_MAX_ATTEMPTS];
    size_t nt = 0;
    for (int i = 0; i < call->nattempts && i < MOTAN_HA_MAX_ATTEMPTS; i++)
        tried[nt++] = call->att[i].ep;
    return motan__resil_pick(c, g, call->req, nt ? tried : NULL, nt);
}

MOTAN_EXPORT const motan_request *motan_ha_call_request(const motan_ha_call *call)
{
    return call->req;
}

MOTAN_EXPORT int motan_ha_call_attempts(const motan_ha_call *call) { return call->nattempts; }

MOTAN_EXPORT int motan_ha_call_inflight(const motan_ha_call *call) { return call->inflight; }

MOTAN_EXPORT uint64_t motan_ha_call_attempt_elapsed_us(const motan_ha_call *call, int attempt)
{
    if (attempt < 0 || attempt >= call->nattempts)
        return 0;
    return motan_now_us() - call->att[attempt].start_us;
}

MOTAN_EXPORT int motan_ha_call_remaining_ms(const motan_ha_call *call)
{
    uint64_t now = motan__now_coarse_us(); /* the clock of deadline_us */
    if (now >= call->deadline_us)
        return 0;
    return (int)((call->deadline_us - now + 999) / 1000);
}

MOTAN_EXPORT int64_t motan_ha_call_param_int(const motan_ha_call *call, const char *key, int64_t def)
{
    motan_cluster *c = call->c;
    if (c->has_method_params)
        return motan_url_get_int(c->url, motan_request_get_method(call->req), key, def);
    /* The URL never changes: strategies ask with literal keys, so cache by key pointer. */
    for (int i = 0; i < c->npcache; i++)
        if (c->pcache[i].key == key && c->pcache[i].def == def)
            return c->pcache[i].value;
    int64_t v = motan_url_get_int(c->url, NULL, key, def);
    if (c->npcache < MOTAN__PARAM_CACHE) {
        c->pcache[c->npcache].key = key;
        c->pcache[c->npcache].def = def;
        c->pcache[c->npcache].value = v;
        c->npcache++;
    }
    return v;
}

static void on_ha_timer(evutil_socket_t fd, short what, void *arg)
{
    motan_ha_call *call = arg;
    motan_cluster *c = call->c;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    call->timer_set = 0;
    if (call->completed || c->closing || !c->ha->on_timer)
        return;
    motan__cluster_hold(c);
    call->refs++;
    c->ha->on_timer(c->ha_state, call);
    call_unref(call);
    motan__cluster_release(c);
}

MOTAN_EXPORT void motan_ha_call_set_timer(motan_ha_call *call, int ms)
{
    if (call->completed)
        return;
    if (call->timer_set)
        event_del(&call->timer);
    event_assign(&call->timer, motan_loop_get_base(call->c->loop), -1, 0, on_ha_timer, call);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&call->timer, &tv);
    call->timer_set = 1;
}

MOTAN_EXPORT void *motan_ha_call_scratch(motan_ha_call *call) { return call->scratch; }

MOTAN_EXPORT void motan_ha_call_count(motan_ha_call *call, const char *name)
{
    motan_cluster *c = call->c;
    if (!strcmp(name, "retries"))
        motan__count(&c->st_retries);
    else if (!strcmp(name, "backups"))
        motan__count(&c->st_backups);
    else if (!strcmp(name, "backups_won"))
        motan__count(&c->st_backups_won);
    else if (!strcmp(name, "no_endpoint"))
        motan__count(&c->st_no_endpoint);
}

/* ---- starting calls ------------------------------------------------------------------- */

/* Picks the group and hands the call to the HA strategy. */
static void dispatch(motan_cluster *c, motan_ha_call *call)
{
    call->group = motan__cluster_choose_group(c);
    /* Another group's name goes with the attempts (a copy: groups come and go); the request
     * is not touched. Without memory for it the call stays in its own group. */
    if (call->group != &c->own && !(call->send_group = motan__strdup(call->group->name)))
        call->group = &c->own;
    motan__resil_on_call(c, motan__call_start_us(call));
    c->ha->start(c->ha_state, call);
}

static void on_park_timeout(evutil_socket_t fd, short what, void *arg)
{
    motan_ha_call *call = arg;
    motan_cluster *c = call->c;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    call->timer_set = 0;
    if (!call->parked || call->completed)
        return;
    call->parked = 0;
    motan__cluster_hold(c);
    call->refs++;
    motan_ha_call_fail(call, MOTAN_ENOENDPOINT, "no node list arrived from the registry in time");
    call_unref(call);
    motan__cluster_release(c);
}

void motan__cluster_unpark(motan_cluster *c)
{
    /* Live calls are in arrival order; dispatching may complete (and unlink) them. */
    motan_ha_call *call = c->live_head;
    while (call) {
        motan_ha_call *next = call->next;
        if (call->parked && !call->completed) {
            call->parked = 0;
            if (call->timer_set) {
                event_del(&call->timer);
                call->timer_set = 0;
            }
            /* Completions are deferred meanwhile, so no user code runs inside this walk. */
            call->refs++;
            call->starting = 1;
            dispatch(c, call);
            call->starting = 0;
            call_unref(call);
        }
        call = next;
    }
}

/* A plug-in that never completes a call must not hang its caller: the backstop does it. */
void motan__cluster_on_backstop(motan__tq_node *n)
{
    motan_ha_call *call = (motan_ha_call *)(void *)((char *)n - offsetof(motan_ha_call, backstop));
    motan_cluster *c = call->c;
    call->backstop_set = 0;
    if (call->completed)
        return;
    motan__cluster_hold(c);
    call->refs++;
    char msg[200];
    snprintf(msg, sizeof(msg),
             "no outcome within the call's backstop deadline (%d ms: requestTimeout x (retries + "
             "1) + %d ms; the %s strategy did not complete it)",
             call->backstop_ms, MOTAN__BACKSTOP_MARGIN_MS, c->ha->name);
    motan_ha_call_fail(call, MOTAN_ETIMEOUT, msg);
    call_unref(call);
    motan__cluster_release(c);
}

static void arm_backstop(motan_cluster *c, motan_ha_call *call)
{
    int64_t retries = motan_ha_call_param_int(call, "retries", 0);
    if (retries < 0)
        retries = 0;
    if (retries > MOTAN_HA_MAX_ATTEMPTS - 1)
        retries = MOTAN_HA_MAX_ATTEMPTS - 1;
    int64_t ms = (int64_t)call->timeout_ms * (retries + 1) + MOTAN__BACKSTOP_MARGIN_MS;
    call->backstop_ms = ms > 0x7fffffff ? 0x7fffffff : (int)ms;
    motan__tqs_add(&c->backstops, &call->backstop, call->backstop_ms);
    call->backstop_set = 1;
}

static const char *request_meta(const void *req, const char *key)
{
    return motan_request_get_meta(req, key);
}

/*
 * The size of req's arguments serialized in ser when they were not prepared
 * (motan_request_prepare): the request is only read, so they are serialized once more into
 * a scratch buffer (loop thread). 0 when there are none or they cannot be serialized.
 */
static size_t measure_args(motan_cluster *c, const motan_request *req, int ser)
{
    size_t nargs = motan_request_arg_count(req), size = 0;
    if (!nargs || (!c->measure && !(c->measure = motan_buf_new(256))))
        return 0;
    motan_buf_reset(c->measure);
    const motan_value *small[16], **args = small;
    if (nargs > 16 && !(args = motan_malloc(nargs * sizeof(*args))))
        return 0;
    for (size_t i = 0; i < nargs; i++)
        args[i] = motan_request_arg(req, i);
    if (motan_serialize_args(ser, args, nargs, c->measure, NULL, 0) == MOTAN_OK)
        size = motan_buf_len(c->measure);
    if (args != small)
        motan_free(args);
    if (motan_buf_len(c->measure) > 65536) { /* keep no big buffer around */
        motan_buf_free(c->measure);
        c->measure = NULL;
    }
    return size;
}

static int call_serialization(const motan_cluster *c, const motan_request *req)
{
    int ser = motan_request_get_serialization(req);
    if (ser < 0) /* what the endpoints will send */
        ser = c->serialization > 0 ? c->serialization : MOTAN_SER_SIMPLE;
    return ser;
}

/* The request size when a hook asks for it (most chains, metrics alone, never do). */
static size_t call_measure(void *arg)
{
    motan_ha_call *call = arg;
    return measure_args(call->c, call->req, call_serialization(call->c, call->req));
}

/* filter=metrics alone: its before hook, run here (it never rejects; out of memory for its
 * series: the call is not counted). */
static void metrics_begin(motan_cluster *c, motan_ha_call *call)
{
    const char *method = motan_request_get_method(call->req);
    call->mw = c->mwriter;
    call->ms = motan__series_call(call->mw, c->path ? c->path : "", c->own.name ? c->own.name : "",
                                  method ? method : "");
    if (MOTAN_LIKELY(call->ms != NULL))
        motan__ctr_add(&call->ms->started, 1);
}

/* The filters' before hooks; MOTAN_OK when the call goes on (it failed otherwise). */
static int filter_begin(motan_cluster *c, motan_ha_call *call)
{
    char err[320];
    const motan_request *req = call->req;
    /* The cluster's own path and group (stable strings, as the chain wants them): a call
     * goes to this cluster's endpoints whatever group or service its request names. */
    const char *method = motan_request_get_method(req);
    size_t body = 0;
    int ser = call_serialization(c, req);
    motan_request_body(req, &body);
    int rc = body ? motan_filter_chain_begin(c->chain, c->path, c->own.name, method, ser, body,
                                             request_meta, req, call->fstart_us, &call->fc, err,
                                             sizeof(err))
                  : motan__filter_chain_begin_lazy(c->chain, c->path, c->own.name, method, ser,
                                                   call_measure, call, request_meta, req,
                                                   call->fstart_us, &call->fc, err, sizeof(err));
    if (rc == MOTAN_OK || !call->fc) /* out of memory for a context: unfiltered */
        return MOTAN_OK;
    motan_response_free(call->deferred); /* the rejection is the call's outcome */
    call->deferred = NULL;
    motan_ha_call_fail(call, rc, err);
    return rc;
}

static void start_in_loop(void *arg)
{
    motan_ha_call *call = arg;
    motan_cluster *c = call->c;
    motan__count(&c->st_calls);
    motan__cluster_hold(c);
    call->refs++;
    motan__call_list_push(&c->live_head, &c->live_tail, call);
    if (!c->closing && !call->deferred)
        arm_backstop(c, call);
    int rejected = 0;
    if (c->metrics_only)
        metrics_begin(c, call);
    else if (c->chain)
        rejected = filter_begin(c, call) != MOTAN_OK;
    if (rejected) {
        /* completed with the filter's code */
    } else if (c->closing) {
        motan_ha_call_fail(call, MOTAN_ECANCELLED, "cluster is being freed");
    } else if (call->deferred) { /* failed on the caller's thread */
        motan_response *resp = call->deferred;
        call->deferred = NULL;
        motan_ha_call_complete(call, resp);
    } else if (!c->ever_updated) {
        /* No node list yet (a registry is still answering): wait for it, within the timeout. */
        call->parked = 1;
        call->start_inline = 0;
        event_assign(&call->timer, motan_loop_get_base(c->loop), -1, 0, on_park_timeout, call);
        struct timeval tv = {call->timeout_ms / 1000, (call->timeout_ms % 1000) * 1000};
        event_add(&call->timer, &tv);
        call->timer_set = 1;
    } else {
        dispatch(c, call);
    }
    call->start_inline = 0; /* later attempts (timers, unparking) read the clock */
    call->starting = 0;
    call_unref(call);
    motan__cluster_release(c);
}

MOTAN_EXPORT int motan_cluster_call(motan_cluster *c, motan_request *req, motan_response_cb cb,
                                    void *userdata)
{
    if (!c || !req || !cb)
        return MOTAN_EINVAL;
    if (c->closing)
        return MOTAN_ECLOSED;
    if (MOTAN_UNLIKELY(motan_loop_forked(c->loop)))
        return MOTAN_EFORKED;
    motan_ha_call *call = call_alloc(c);
    if (!call)
        return MOTAN_ENOMEM;
    call->c = c;
    call->req = req;
    call->cb = cb;
    call->userdata = userdata;
    call->refs = 1; /* until completed */
    call->starting = 1;
    if (c->chain) {
        call->fstart_us = motan_now_us();
        call->start_inline = motan_loop_in_loop_thread(c->loop);
    } else {
        call->start_inline = 0;
    }
    /* The coarse clock: a tick of slack on deadlines, a third of the cost. */
    uint64_t start_us = motan__now_coarse_us();
    int t = motan_request_get_timeout(req);
    if (t <= 0)
        t = c->has_method_params ? (int)motan_url_get_int(c->url, motan_request_get_method(req),
                                                          "requestTimeout", c->timeout_ms)
                                 : c->timeout_ms;
    call->timeout_ms = t;
    if (call->timeout_ms <= 0)
        call->timeout_ms = 1000;
    call->deadline_us = start_us + (uint64_t)call->timeout_ms * 1000u;
    call->start_us = start_us;
    char err[256] = "";
    int rc = MOTAN_OK;
    const char *m = motan_request_get_method(req);
    if (!m || !*m)
        rc = motan__errf(err, sizeof(err), MOTAN_EINVAL, "the request has no method");
    if (rc != MOTAN_OK) {
        call->deferred = motan_response_new();
        if (!call->deferred) {
            motan_free(call);
            return MOTAN_ENOMEM;
        }
        char msg[400];
        const char *svc = motan_request_get_service(req);
        snprintf(msg, sizeof(msg), "%s (calling %s.%s)", err, svc && *svc ? svc : c->path, m ? m : "");
        motan_response_set_error(call->deferred, rc, msg);
    }
    rc = motan_loop_run(c->loop, start_in_loop, call);
    if (rc != MOTAN_OK) {
        motan_response_free(call->deferred);
        motan_free(call);
    }
    return rc;
}

static void sync_cb(motan_response *resp, void *userdata) { motan__waiter_post(userdata, resp); }

typedef struct filters_args {
    motan_cluster *c;
    motan_filter_chain *chain;
} filters_args;

static void set_filters_in_loop(void *arg)
{
    filters_args *a = arg;
    a->c->chain = a->chain && motan_filter_chain_length(a->chain) ? a->chain : NULL;
    a->c->metrics_only = a->c->chain && motan__filter_chain_metrics_only(a->c->chain);
    a->c->mwriter = a->c->metrics_only ? motan__filter_chain_writer(a->c->chain) : NULL;
    a->c->call_flags =
        motan_filter_chain_flags(a->chain) & MOTAN_FILTER_PHASES ? MOTAN_CALL_PHASES : 0;
}

MOTAN_EXPORT int motan_cluster_set_filters(motan_cluster *c, motan_filter_chain *chain)
{
    if (!c)
        return MOTAN_EINVAL;
    filters_args a = {c, chain};
    return motan_loop_run_wait(c->loop, set_filters_in_loop, &a);
}

MOTAN_EXPORT int motan_cluster_call_sync(motan_cluster *c, motan_request *req, motan_response **out)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!c || !req)
        return MOTAN_EINVAL;
    if (motan_loop_forked(c->loop)) {
        *out = motan_response_new();
        if (*out)
            motan_response_set_error(*out, MOTAN_EFORKED,
                                     "the cluster's loop was created before fork(): in this "
                                     "child process it can only be freed");
        return MOTAN_EFORKED;
    }
    if (!motan_loop_is_builtin(c->loop) || motan_loop_in_loop_thread(c->loop)) {
        *out = motan_response_new_or_oom();
        motan_response_set_error(*out, MOTAN_EDEADLOCK,
                                 "blocking calls need the built-in loop and another thread");
        return MOTAN_EDEADLOCK;
    }
    motan__waiter w;
    motan__waiter_init(&w);
    int rc = motan_cluster_call(c, req, sync_cb, &w);
    if (rc == MOTAN_OK) {
        *out = motan__waiter_wait(&w);
        rc = motan_response_get_code(*out);
    } else {
        *out = motan_response_new_or_oom();
        motan_response_set_error(*out, rc, motan_strerror(rc));
    }
    motan__waiter_destroy(&w);
    return rc;
}
