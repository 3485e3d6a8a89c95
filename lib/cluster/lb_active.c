/*
 * activeWeight: the endpoint with the fewest calls in flight. Like Java's
 * ActiveWeightLoadBalance it stays O(1): from a random start it looks at no more than
 * MOTAN__LB_ACTIVE_WINDOW (10) qualifying endpoints and keeps the least loaded, so with more
 * than 10 endpoints the choice is the best of a random window, not the global minimum
 * (unqualified ones are stepped over and do not count, so a pick may scan all n when most
 * are out). Ties are broken uniformly (one draw among them), not by position.
 */
#include "cluster/lb_int.h"

typedef struct active_state {
    uint64_t rng;
} active_state;

motan_endpoint *motan__lb_least_active(uint64_t *rng, motan_endpoint *const *eps,
                                       const uint32_t *idx, size_t nidx,
                                       motan_endpoint *const *exclude, size_t nexclude)
{
    if (nidx == 0)
        return NULL;
    /* The least-loaded seen so far, all tied; one draw among them at the end. */
    motan_endpoint *ties[MOTAN__LB_ACTIVE_WINDOW];
    size_t nties = 0, best_load = 0;
    size_t i = motan__lb_below(rng, nidx);
    int seen = 0;
    for (size_t k = 0; k < nidx && seen < MOTAN__LB_ACTIVE_WINDOW; k++) {
        motan_endpoint *e = idx ? eps[idx[i]] : eps[i];
        if (++i == nidx)
            i = 0;
        if (!motan__lb_ok(e, exclude, nexclude))
            continue;
        seen++;
        size_t load = motan_endpoint_inflight(e);
        if (nties == 0 || load < best_load) {
            best_load = load;
            nties = 0;
        } else if (load > best_load) {
            continue;
        }
        ties[nties++] = e;
    }
    if (nties <= 1)
        return nties ? ties[0] : NULL;
    return ties[motan__lb_below(rng, nties)];
}

static void *active_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    active_state *st = motan_malloc(sizeof(*st));
    if (st)
        st->rng = motan__lb_seed(st);
    return st;
}

static void active_destroy(void *state) { motan_free(state); }

static void active_update(void *state, motan_endpoint *const *eps, size_t n)
{
    MOTAN_UNUSED(state);
    MOTAN_UNUSED(eps);
    MOTAN_UNUSED(n);
}

static motan_endpoint *active_pick(void *state, const motan_request *req,
                                   motan_endpoint *const *eps, size_t n,
                                   motan_endpoint *const *exclude, size_t nexclude)
{
    active_state *st = state;
    MOTAN_UNUSED(req);
    return motan__lb_least_active(&st->rng, eps, NULL, n, exclude, nexclude);
}

const motan_lb_ops motan__lb_active = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "activeWeight",
    .create = active_create,
    .destroy = active_destroy,
    .update = active_update,
    .pick = active_pick,
};
