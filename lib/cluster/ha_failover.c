/*
 * failover: on a failure that is not a business error (errtype 2), try again, on another
 * endpoint when there is one, up to `retries` more times, all within the call's timeout.
 */
#include "cluster/cluster_int.h"

typedef struct fo_scratch {
    int retries;
} fo_scratch;

static void *fo_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    static int token;
    return &token; /* stateless: retries are read per call (per-method overrides) */
}

static void fo_destroy(void *state) { MOTAN_UNUSED(state); }

static int send_next(motan_ha_call *call)
{
    motan_endpoint *ep = motan_ha_call_pick(call);
    if (!ep)
        return MOTAN_ENOENDPOINT;
    return motan_ha_call_send(call, ep, NULL);
}

static void fo_start(void *state, motan_ha_call *call)
{
    MOTAN_UNUSED(state);
    fo_scratch *s = motan_ha_call_scratch(call);
    int64_t r = motan_ha_call_param_int(call, "retries", 0);
    s->retries = r < 0 ? 0 : r > MOTAN_HA_MAX_ATTEMPTS - 1 ? MOTAN_HA_MAX_ATTEMPTS - 1 : (int)r;
    motan__ha_send_first(call);
}

static int retryable(const motan_response *resp)
{
    int code = motan_response_get_code(resp);
    if (code == MOTAN_OK || code == MOTAN_EINVAL || code == MOTAN_EUNSUPPORTED)
        return 0;
    return !(code == MOTAN_EREMOTE && motan_response_get_errtype(resp) == 2);
}

static void fo_on_attempt(void *state, motan_ha_call *call, int attempt, motan_response *resp)
{
    MOTAN_UNUSED(state);
    MOTAN_UNUSED(attempt);
    fo_scratch *s = motan_ha_call_scratch(call);
    if (!resp || !retryable(resp) || motan_ha_call_attempts(call) > s->retries ||
        motan_ha_call_remaining_ms(call) <= 0) {
        motan_ha_call_complete(call, resp);
        return;
    }
    if (send_next(call) != MOTAN_OK) {
        motan_ha_call_complete(call, resp); /* nowhere to go: the last failure stands */
        return;
    }
    motan_ha_call_count(call, "retries");
    motan_response_free(resp);
}

const motan_ha_ops motan__ha_failover = {
    .struct_size = sizeof(motan_ha_ops),
    .name = "failover",
    .create = fo_create,
    .destroy = fo_destroy,
    .start = fo_start,
    .on_attempt = fo_on_attempt,
};
