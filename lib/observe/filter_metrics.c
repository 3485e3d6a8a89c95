/*
 * metrics: counts every call and attempt into the chain's stats (metrics_int.h; chains run
 * it inline, these ops are what the registry lists).
 */
#include "observe/metrics_int.h"

static int m_before(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__metrics_before(call, call->cur);
    return MOTAN_OK;
}

static void m_attempt_end(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__metrics_attempt_end(call, call->cur);
}

static void m_after(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    motan__metrics_after(call, call->cur);
}

const motan_filter_ops motan__filter_metrics = {
    .struct_size = sizeof(motan_filter_ops),
    .name = "metrics",
    .before = m_before,
    .attempt_end = m_attempt_end,
    .after = m_after,
};
