/*
 * random: uniform among the qualifying endpoints, with no bias from skipping. Go probes
 * forward from a random index, which hands an unavailable endpoint's share to its right-hand
 * neighbour; here a rejected draw is simply redrawn (a few times), and when most endpoints
 * are out a two-pass scan picks the k-th qualifying one. Both stages are uniform over the
 * same set, so the result is exactly uniform (up to the PRNG's n / 2^32 rounding).
 */
#include "cluster/lb_int.h"

/* Redraws before the exact scan: with half the endpoints out, 2^-8 of picks scan. */
#define RANDOM_DRAWS 8

typedef struct random_state {
    uint64_t rng;
} random_state;

static void *random_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    random_state *st = motan_malloc(sizeof(*st));
    if (st)
        st->rng = motan__lb_seed(st);
    return st;
}

static void random_destroy(void *state) { motan_free(state); }

static void random_update(void *state, motan_endpoint *const *eps, size_t n)
{
    MOTAN_UNUSED(state);
    MOTAN_UNUSED(eps);
    MOTAN_UNUSED(n);
}

static motan_endpoint *random_pick(void *state, const motan_request *req,
                                   motan_endpoint *const *eps, size_t n,
                                   motan_endpoint *const *exclude, size_t nexclude)
{
    random_state *st = state;
    MOTAN_UNUSED(req);
    if (n == 0)
        return NULL;
    for (int i = 0; i < RANDOM_DRAWS; i++) {
        motan_endpoint *e = eps[motan__lb_below(&st->rng, n)];
        if (motan__lb_ok(e, exclude, nexclude))
            return e;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += (size_t)motan__lb_ok(eps[i], exclude, nexclude);
    if (count == 0)
        return NULL;
    size_t k = motan__lb_below(&st->rng, count);
    for (size_t i = 0; i < n; i++)
        if (motan__lb_ok(eps[i], exclude, nexclude) && k-- == 0)
            return eps[i];
    return NULL;
}

const motan_lb_ops motan__lb_random = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "random",
    .create = random_create,
    .destroy = random_destroy,
    .update = random_update,
    .pick = random_pick,
};
