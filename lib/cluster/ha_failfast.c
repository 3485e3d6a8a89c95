/* failfast: one attempt, its outcome is the call's. */
#include "cluster/cluster_int.h"

static void *ff_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    static int token;
    return &token; /* stateless */
}

static void ff_destroy(void *state) { MOTAN_UNUSED(state); }

static void ff_start(void *state, motan_ha_call *call)
{
    MOTAN_UNUSED(state);
    motan__ha_send_first(call);
}

static void ff_on_attempt(void *state, motan_ha_call *call, int attempt, motan_response *resp)
{
    MOTAN_UNUSED(state);
    MOTAN_UNUSED(attempt);
    motan_ha_call_complete(call, resp);
}

const motan_ha_ops motan__ha_failfast = {
    .struct_size = sizeof(motan_ha_ops),
    .name = "failfast",
    .create = ff_create,
    .destroy = ff_destroy,
    .start = ff_start,
    .on_attempt = ff_on_attempt,
};
