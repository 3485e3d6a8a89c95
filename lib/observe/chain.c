/*
 * Filter chains and the call contexts that run through them. A context comes from the
 * chain's pool (allocated once per call in flight at the peak, then reused), so a chain
 * costs no allocation per call once warm; a layer with an empty chain does not call it.
 */
#include <stdio.h>

#include "observe/chain_int.h"
#include "observe/metrics_int.h"

#define POOL_MAX 1024

/* ---- chains --------------------------------------------------------------------------- */

static int add_filter(motan_filter_chain *ch, const char *name, size_t len, const motan_url *url,
                      char *errbuf, size_t errlen)
{
    const motan_filter_ops *ops = motan__filter_find(name, len);
    if (!ops)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown filter \"%.*s\"", (int)len, name);
    for (size_t i = 0; i < ch->n; i++)
        if (ch->ops[i] == ops)
            return motan__errf(errbuf, errlen, MOTAN_EURL, "filter \"%.*s\" is listed twice",
                               (int)len, name);
    if (ch->n == MOTAN__MAX_FILTERS)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "more than %d filters", MOTAN__MAX_FILTERS);
    void *state = ops->userdata;
    if (ops->create && !(state = ops->create(url, ch->side, ch->stats, ops->userdata)))
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "filter \"%s\" could not be created",
                           ops->name);
    if (ops->before == motan__filter_metrics.before)
        ch->metrics_at = (int)ch->n;
    ch->has_attempt_start |= ops->attempt_start != NULL;
    ch->ops[ch->n] = ops;
    ch->state[ch->n++] = state;
    ch->flags |= ops->flags;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_filter_chain_new(const char *names, const motan_url *url, int side,
                                        motan_stats *stats, motan_filter_chain **out, char *errbuf,
                                        size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!stats || (side != MOTAN_SIDE_CLIENT && side != MOTAN_SIDE_SERVER))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "a chain needs a stats source and a side");
    motan_filter_chain *ch = motan__calloc(1, sizeof(*ch));
    if (!ch)
        return MOTAN_ENOMEM;
    ch->side = side;
    ch->metrics_at = -1;
    ch->stats = stats;
    motan__stats_ref(stats);
    int rc = (ch->writer = motan__writer_new(stats, side)) ? MOTAN_OK : MOTAN_ENOMEM;
    for (const char *p = names ? names : ""; rc == MOTAN_OK && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed && p[trimmed - 1] == ' ')
            trimmed--;
        if (trimmed)
            rc = add_filter(ch, p, trimmed, url, errbuf, errlen);
        p += len;
    }
    if (rc != MOTAN_OK) {
        motan_filter_chain_free(ch);
        return rc;
    }
    ch->metrics_only = ch->n == 1 && ch->metrics_at == 0;
    *out = ch;
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_filter_chain_free(motan_filter_chain *ch)
{
    if (!ch)
        return;
    for (size_t i = ch->n; i-- > 0;)
        if (ch->ops[i]->create && ch->ops[i]->destroy)
            ch->ops[i]->destroy(ch->state[i]);
    while (ch->pool) {
        motan_filter_call *next = ch->pool->next_free;
        motan_free(ch->pool);
        ch->pool = next;
    }
    motan__writer_retire(ch->writer);
    motan_stats_free(ch->stats);
    motan_free(ch);
}

MOTAN_EXPORT size_t motan_filter_chain_length(const motan_filter_chain *ch) { return ch ? ch->n : 0; }

MOTAN_EXPORT unsigned motan_filter_chain_flags(const motan_filter_chain *ch)
{
    return ch ? ch->flags : 0;
}

MOTAN_EXPORT motan_stats *motan_filter_chain_stats(const motan_filter_chain *ch)
{
    return ch ? ch->stats : NULL;
}

MOTAN_EXPORT void motan_filter_chain_report_endpoint(motan_filter_chain *ch, const char *service,
                                                     const char *group, const char *endpoint,
                                                     int available, uint64_t in_flight)
{
    if (!ch)
        return;
    motan__series *s = motan__series_get(ch->writer, MOTAN_STATS_ENDPOINT, service, group, "",
                                         endpoint);
    if (s) {
        atomic_store_explicit(&s->available, available != 0, memory_order_relaxed);
        atomic_store_explicit(&s->in_flight, in_flight, memory_order_relaxed);
    }
}

/* ---- calls ---------------------------------------------------------------------------- */

static void call_release(motan_filter_call *call)
{
    motan_filter_chain *ch = call->chain;
    while (call->overflow) {
        void *next = *(void **)call->overflow;
        motan_free(call->overflow);
        call->overflow = next;
    }
    if (ch->npool < POOL_MAX) {
        call->next_free = ch->pool;
        ch->pool = call;
        ch->npool++;
    } else {
        motan_free(call);
    }
}

/* A context from the chain's pool, or a new one (NULL: out of memory). */
static motan_filter_call *call_get(motan_filter_chain *ch)
{
    motan_filter_call *call = ch->pool;
    if (!call)
        return motan_malloc(sizeof(*call));
    ch->pool = call->next_free;
    ch->npool--;
    return call;
}

/* The common chain, filter=metrics: only what its hooks and the caller read are set. */
static motan_filter_call *metrics_begin(motan_filter_chain *ch, motan_filter_call *call,
                                        const char *service, const char *group,
                                        const char *method, uint64_t start_us)
{
    call->chain = ch;
    call->stage = 0;
    call->nbefore = 1;
    call->nattempts = 0;
    call->traced = 0;
    call->nmeta = 0;
    call->overflow = NULL;
    call->size_fn = NULL;
    call->service = service ? service : "";
    call->group = group ? group : "";
    call->method = method ? method : "";
    call->start_us = start_us;
    motan__metrics_before(call, 0);
    return call;
}

struct motan__writer *motan__filter_chain_writer(const motan_filter_chain *ch)
{
    return ch->writer;
}

static int begin(motan_filter_chain *ch, const char *service, const char *group,
                 const char *method, int serialization, size_t request_size, motan__size_fn size,
                 void *size_arg, motan_meta_lookup lookup, const void *source, uint64_t start_us,
                 motan_filter_call **out, char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!ch)
        return MOTAN_EINVAL;
    motan_filter_call *call = call_get(ch);
    if (!call)
        return MOTAN_ENOMEM;
    if (ch->metrics_only) { /* its hook reads no size, lookup or source */
        call->serialization = serialization;
        call->request_size = request_size;
        *out = metrics_begin(ch, call, service, group, method, start_us);
        return MOTAN_OK;
    }
    /* A small block, not the whole context: that would cost more than the rest of a call. */
    memset(&call->stage, 0,
           offsetof(motan_filter_call, overflow) + sizeof(void *) - offsetof(motan_filter_call, stage));
    call->chain = ch;
    call->attempt = -1;
    call->available = 1;
    call->endpoint = "";
    call->service = service ? service : "";
    call->group = group ? group : "";
    call->method = method ? method : "";
    call->serialization = serialization;
    call->request_size = request_size;
    call->size_fn = size;
    call->size_arg = size_arg;
    call->lookup = lookup;
    call->source = source;
    call->start_us = start_us;
    *out = call;
    call->stage = FC_BEFORE;
    int rc = MOTAN_OK;
    for (size_t i = 0; i < ch->n; i++) {
        if ((int)i == ch->metrics_at) {
            motan__metrics_before(call, (int)i);
        } else if (ch->ops[i]->before) {
            call->cur = (int)i;
            call->data[i] = NULL;
            call->errmsg[0] = '\0';
            rc = ch->ops[i]->before(ch->state[i], call);
            if (rc != MOTAN_OK) {
                if (rc > 0)
                    rc = MOTAN_EINVAL; /* not a code: refuse anyway */
                motan__errf(errbuf, errlen, rc, "rejected by filter %s: %s", ch->ops[i]->name,
                            call->errmsg[0] ? call->errmsg : motan_strerror(rc));
                break;
            }
        }
        call->nbefore = (int)i + 1;
    }
    call->stage = 0;
    return rc;
}

int motan__filter_chain_metrics_only(const motan_filter_chain *ch) { return ch->metrics_only; }

MOTAN_EXPORT int motan_filter_chain_begin(motan_filter_chain *ch, const char *service,
                                          const char *group, const char *method, int serialization,
                                          size_t request_size, motan_meta_lookup lookup,
                                          const void *source, uint64_t start_us,
                                          motan_filter_call **out, char *errbuf, size_t errlen)
{
    return begin(ch, service, group, method, serialization, request_size, NULL, NULL, lookup,
                 source, start_us, out, errbuf, errlen);
}

int motan__filter_chain_begin_lazy(motan_filter_chain *ch, const char *service,
                                   const char *group, const char *method, int serialization,
                                   motan__size_fn size, void *size_arg, motan_meta_lookup lookup,
                                   const void *source, uint64_t start_us, motan_filter_call **out,
                                   char *errbuf, size_t errlen)
{
    return begin(ch, service, group, method, serialization, 0, size, size_arg, lookup, source,
                 start_us, out, errbuf, errlen);
}

MOTAN_EXPORT const char *const *motan_filter_call_added_meta(const motan_filter_call *call,
                                                              size_t *n)
{
    *n = call ? call->nmeta : 0;
    return call ? call->meta : NULL;
}

MOTAN_EXPORT void motan_filter_chain_attempt_start(motan_filter_call *call, int attempt,
                                                   const char *endpoint)
{
    motan_filter_chain *ch = call->chain;
    call->endpoint = endpoint ? endpoint : "";
    if (attempt + 1 > call->nattempts)
        call->nattempts = attempt + 1;
    if (!ch->has_attempt_start)
        return;
    call->attempt = attempt;
    call->stage = FC_ATTEMPT;
    for (int i = 0; i < call->nbefore; i++) {
        if (ch->ops[i]->attempt_start) {
            call->cur = i;
            ch->ops[i]->attempt_start(ch->state[i], call);
        }
    }
    call->stage = 0;
    call->attempt = -1;
}

MOTAN_EXPORT void motan_filter_chain_attempt_end(motan_filter_call *call, int attempt,
                                                 const char *endpoint, int code,
                                                 const motan_response *resp, int available,
                                                 uint64_t latency_us)
{
    motan_filter_chain *ch = call->chain;
    if (ch->metrics_only) {
        motan__metrics_attempt(ch->writer, call->data[0], endpoint ? endpoint : "", code,
                               available, latency_us);
        return;
    }
    call->attempt = attempt;
    call->endpoint = endpoint ? endpoint : "";
    call->code = code;
    call->resp = resp; /* its size, when asked */
    call->available = available;
    call->latency_us = latency_us;
    call->stage = FC_ATTEMPT;
    for (int i = call->nbefore; i-- > 0;) {
        if (i == ch->metrics_at) {
            motan__metrics_attempt_end(call, i);
        } else if (ch->ops[i]->attempt_end) {
            call->cur = i;
            ch->ops[i]->attempt_end(ch->state[i], call);
        }
    }
    call->stage = 0;
    call->resp = NULL;
    call->attempt = -1;
    /* The endpoint may go once its attempt is over: trusted while no endpoint was freed. */
    call->ep_epoch = atomic_load_explicit(&motan__endpoint_epoch, memory_order_relaxed);
}

MOTAN_EXPORT void motan_filter_chain_end(motan_filter_call *call, int code,
                                         const motan_response *resp, size_t response_size,
                                         uint64_t end_us)
{
    if (!call)
        return;
    motan_filter_chain *ch = call->chain;
    if (ch->metrics_only) {
        if (call->data[0])
            motan__series_finish(call->data[0], code,
                                 end_us > call->start_us ? end_us - call->start_us : 0);
        call_release(call);
        return;
    }
    call->code = code;
    call->resp = resp;
    call->resp_size = response_size; /* resp's own, when asked */
    call->latency_us = end_us > call->start_us ? end_us - call->start_us : 0;
    call->stage = FC_AFTER;
    for (int i = call->nbefore; i-- > 0;) {
        if (i == ch->metrics_at) {
            motan__metrics_after(call, i);
        } else if (ch->ops[i]->after) {
            call->cur = i;
            ch->ops[i]->after(ch->state[i], call);
        }
    }
    call_release(call);
}

/* ---- what hooks read ------------------------------------------------------------------ */

MOTAN_EXPORT int motan_filter_call_side(const motan_filter_call *c) { return c->chain->side; }
MOTAN_EXPORT const char *motan_filter_call_service(const motan_filter_call *c) { return c->service; }
MOTAN_EXPORT const char *motan_filter_call_group(const motan_filter_call *c) { return c->group; }
MOTAN_EXPORT const char *motan_filter_call_method(const motan_filter_call *c) { return c->method; }
MOTAN_EXPORT int motan_filter_call_serialization(const motan_filter_call *c) { return c->serialization; }
MOTAN_EXPORT size_t motan_filter_call_request_size(const motan_filter_call *c)
{
    motan_filter_call *m = (motan_filter_call *)c; /* measured once, when first asked */
    if (m->size_fn) {
        m->request_size = m->size_fn(m->size_arg);
        m->size_fn = NULL;
    }
    return m->request_size;
}
MOTAN_EXPORT uint64_t motan_filter_call_start_us(const motan_filter_call *c) { return c->start_us; }
MOTAN_EXPORT int motan_filter_call_attempt(const motan_filter_call *c) { return c->attempt; }
MOTAN_EXPORT const char *motan_filter_call_endpoint(const motan_filter_call *c)
{
    if (c->stage == FC_ATTEMPT || c->ep_epoch == atomic_load(&motan__endpoint_epoch))
        return c->endpoint;
    return "?"; /* the last attempt's endpoint was (or may have been) freed since */
}
MOTAN_EXPORT int motan_filter_call_attempts(const motan_filter_call *c) { return c->nattempts; }
MOTAN_EXPORT int motan_filter_call_endpoint_available(const motan_filter_call *c) { return c->available; }
MOTAN_EXPORT int motan_filter_call_code(const motan_filter_call *c) { return c->code; }
MOTAN_EXPORT uint64_t motan_filter_call_latency_us(const motan_filter_call *c) { return c->latency_us; }
MOTAN_EXPORT const motan_response *motan_filter_call_response(const motan_filter_call *c) { return c->resp; }
MOTAN_EXPORT size_t motan_filter_call_response_size(const motan_filter_call *c)
{
    return c->resp ? motan_response_get_body_size(c->resp) : c->resp_size;
}
MOTAN_EXPORT void **motan_filter_call_data(motan_filter_call *c) { return &c->data[c->cur]; }

MOTAN_EXPORT uint64_t motan_filter_call_phase_us(const motan_filter_call *c, int phase)
{
    return c->resp ? motan_response_get_phase_us(c->resp, phase) : 0;
}

MOTAN_EXPORT const char *motan_filter_call_traceparent(const motan_filter_call *c)
{
    return c->traced ? c->traceparent : NULL;
}

MOTAN_EXPORT const char *motan_filter_call_parent_span_id(const motan_filter_call *c)
{
    return c->traced && c->parent_span[0] ? c->parent_span : NULL;
}

MOTAN_EXPORT const char *motan_filter_call_request_id(const motan_filter_call *c)
{
    return c->traced && c->request_id[0] ? c->request_id : NULL;
}

static const char **added_slot(const motan_filter_call *c, const char *key)
{
    for (size_t i = 0; i < c->nmeta; i++)
        if (!strcmp(c->meta[2 * i], key))
            return (const char **)&c->meta[2 * i];
    return NULL;
}

MOTAN_EXPORT const char *motan_filter_call_get_meta(const motan_filter_call *c, const char *key)
{
    if (!c || !key)
        return NULL;
    const char **slot = added_slot(c, key);
    if (slot) /* "" stands for removed */
        return *slot[1] ? slot[1] : NULL;
    return c->lookup ? c->lookup(c->source, key) : NULL;
}

/* ---- what hooks do -------------------------------------------------------------------- */

/* A copy of s that lives as long as the call. */
static const char *keep(motan_filter_call *c, const char *s)
{
    size_t n = strlen(s) + 1;
    if (c->text_used + n <= sizeof(c->text)) {
        char *p = c->text + c->text_used;
        memcpy(p, s, n);
        c->text_used += n;
        return p;
    }
    void **block = motan_malloc(sizeof(void *) + n);
    if (!block)
        return NULL;
    *block = c->overflow;
    c->overflow = block;
    return memcpy(block + 1, s, n);
}

MOTAN_EXPORT int motan_filter_call_set_meta(motan_filter_call *c, const char *key,
                                            const char *value)
{
    if (!c || c->stage != FC_BEFORE || !key || !*key || !value || strchr(key, '\n') ||
        strchr(value, '\n') || !strncmp(key, "M_", 2))
        return MOTAN_EINVAL;
    const char **slot = added_slot(c, key);
    if (!slot && c->nmeta == MOTAN__MAX_META)
        return MOTAN_ENOMEM;
    const char *v = keep(c, value);
    const char *k = slot ? slot[0] : keep(c, key);
    if (!v || !k)
        return MOTAN_ENOMEM;
    if (!slot) {
        slot = &c->meta[2 * c->nmeta++];
        slot[0] = k;
    }
    slot[1] = v;
    return MOTAN_OK;
}

void motan__call_put_meta(motan_filter_call *c, const char *key, const char *value)
{
    const char **slot = added_slot(c, key);
    if (!slot) {
        if (c->nmeta == MOTAN__MAX_META)
            return;
        slot = &c->meta[2 * c->nmeta++];
        slot[0] = key;
    }
    slot[1] = value;
}

MOTAN_EXPORT void motan_filter_call_set_errmsg(motan_filter_call *c, const char *msg)
{
    if (c && c->stage == FC_BEFORE)
        snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg ? msg : "");
}
