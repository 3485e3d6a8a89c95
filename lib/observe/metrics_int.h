/*
 * The metrics filter's hot path, inline: the chain runs it without an indirect call
 * (chain.c), filter_metrics.c wraps it in the filter ops. Per call: one lookup of the call's
 * series (by address for the owner's stable service and group, by content for the method),
 * one of each attempt's when it ends (by the endpoint string's address while no endpoint
 * was freed), and a few relaxed stores on the loop thread's own counters.
 */
#ifndef MOTAN_METRICS_INT_H
#define MOTAN_METRICS_INT_H

#include "observe/observe_int.h"

static inline void motan__series_finish(motan__series *s, int code, uint64_t latency_us)
{
    motan__ctr_add(&s->buckets[motan__bucket_of(latency_us)], 1);
    motan__ctr_add(&s->sum_us, latency_us);
    if (MOTAN_LIKELY(code == MOTAN_OK))
        motan__ctr_add(&s->ok, 1);
    else
        motan__ctr_add(&s->codes[code < 0 && -code <= MOTAN__MAXCODE ? -code : 0], 1);
}

static inline motan__series *motan__series_call(motan__writer *w, const char *service,
                                                const char *group, const char *method)
{
    unsigned slot = (unsigned)(((uintptr_t)method >> 4) ^ ((uintptr_t)method >> 9)) %
                    MOTAN__CALL_CACHE;
    motan__series *x = w->call_cache[slot].s;
    if (MOTAN_LIKELY(x && w->call_cache[slot].service == service &&
                     w->call_cache[slot].group == group && !strcmp(x->method, method)))
        return x;
    return motan__series_call_slow(w, service, group, method, slot);
}

static inline motan__series *motan__series_attempt(motan__writer *w, motan__series *cs,
                                                   const char *ep)
{
    unsigned epoch = atomic_load_explicit(&motan__endpoint_epoch, memory_order_relaxed);
    for (int i = 0; i < MOTAN__EP_CACHE; i++)
        if (cs->ep_cache[i].addr == ep && cs->ep_cache[i].epoch == epoch)
            return cs->ep_cache[i].s;
    return motan__series_attempt_slow(w, cs, ep, epoch);
}

static inline void motan__metrics_before(motan_filter_call *call, int index)
{
    motan__series *cs = motan__series_call(call->chain->writer, call->service, call->group,
                                           call->method);
    call->data[index] = cs;
    if (MOTAN_LIKELY(cs != NULL)) /* out of memory: not counted, not refused */
        motan__ctr_add(&cs->started, 1);
}

/*
 * An attempt is counted when it ends (its series found then): attempts in flight are
 * not tracked per method, the endpoint's own count is reported with its availability.
 */
static inline void motan__metrics_attempt(motan__writer *w, motan__series *cs, const char *ep,
                                          int code, int available, uint64_t latency_us)
{
    motan__series *as = cs ? motan__series_attempt(w, cs, ep) : NULL;
    if (!as)
        return;
    motan__ctr_add(&as->started, 1);
    motan__series_finish(as, code, latency_us);
    if (as->ep_series)
        atomic_store_explicit(&as->ep_series->available, available != 0, memory_order_relaxed);
}

static inline void motan__metrics_attempt_end(motan_filter_call *call, int index)
{
    motan__metrics_attempt(call->chain->writer, call->data[index], call->endpoint, call->code,
                           call->available, call->latency_us);
}

static inline void motan__metrics_after(motan_filter_call *call, int index)
{
    motan__series *cs = call->data[index];
    if (cs)
        motan__series_finish(cs, call->code, call->latency_us);
}

#endif
