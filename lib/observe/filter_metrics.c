/*
 * metrics: counts every call and attempt into the chain's stats. The call's series is
 * looked up once, at before, and kept in the call's slot; attempts find theirs through a
 * small cache on it. Recording is a few relaxed stores on the loop thread's own counters.
 */
#include "observe/observe_int.h"

static int m_before(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__series *cs = motan__series_call(motan__chain_writer(call), call->service, call->group,
                                           call->method);
    call->data[call->cur] = cs;
    if (cs)
        motan__ctr_add(&cs->started, 1);
    return MOTAN_OK; /* out of memory: not counted, not refused */
}

static motan__series *attempt_series(motan_filter_call *call)
{
    motan__series *cs = call->data[call->cur];
    return cs ? motan__series_attempt(motan__chain_writer(call), cs, call->endpoint) : NULL;
}

static void m_attempt_start(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__series *as = attempt_series(call);
    if (as)
        motan__ctr_add(&as->started, 1);
}

static void m_attempt_end(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__series *as = attempt_series(call);
    if (!as)
        return;
    motan__series_finish(as, call->code, call->latency_us);
    if (as->ep_series)
        atomic_store_explicit(&as->ep_series->available, call->available != 0,
                              memory_order_relaxed);
}

static void m_after(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__series *cs = call->data[call->cur];
    if (cs)
        motan__series_finish(cs, call->code, call->latency_us);
}

const motan_filter_ops motan__filter_metrics = {
    .struct_size = sizeof(motan_filter_ops),
    .name = "metrics",
    .before = m_before,
    .attempt_start = m_attempt_start,
    .attempt_end = m_attempt_end,
    .after = m_after,
};
