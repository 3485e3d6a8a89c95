/*
 * roundrobin: a cursor over the endpoint list. The cursor moves to just after the endpoint
 * picked, so skipped endpoints do not hand their turns to a neighbour: every qualifying
 * endpoint gets exactly one pick per round.
 */
#include "cluster/lb_int.h"

typedef struct rr_state {
    size_t next;
} rr_state;

static void *rr_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    rr_state *st = motan_malloc(sizeof(*st));
    if (st) {
        /* Clients started together should not all begin with the first endpoint. */
        uint64_t seed = motan__lb_seed(st);
        st->next = (size_t)(seed >> 33);
    }
    return st;
}

static void rr_destroy(void *state) { motan_free(state); }

static void rr_update(void *state, motan_endpoint *const *eps, size_t n)
{
    MOTAN_UNUSED(state);
    MOTAN_UNUSED(eps);
    MOTAN_UNUSED(n);
}

static motan_endpoint *rr_pick(void *state, const motan_request *req, motan_endpoint *const *eps,
                               size_t n, motan_endpoint *const *exclude, size_t nexclude)
{
    rr_state *st = state;
    MOTAN_UNUSED(req);
    if (n == 0)
        return NULL;
    size_t i = st->next < n ? st->next : st->next % n;
    for (size_t k = 0; k < n; k++) {
        motan_endpoint *e = eps[i];
        if (++i == n)
            i = 0;
        if (motan__lb_ok(e, exclude, nexclude)) {
            st->next = i;
            return e;
        }
    }
    return NULL;
}

const motan_lb_ops motan__lb_roundrobin = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "roundrobin",
    .create = rr_create,
    .destroy = rr_destroy,
    .update = rr_update,
    .pick = rr_pick,
};
