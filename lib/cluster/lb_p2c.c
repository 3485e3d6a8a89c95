/*
 * p2c: power of two random choices over peak-EWMA latency (Finagle's and Linkerd's
 * balancer). Two distinct qualifying endpoints are drawn at random and the one with the
 * lower load wins: load = cost x (calls in flight + 1), cost = the endpoint's peak-EWMA
 * latency in microseconds. O(1) per pick: two draws, two cost reads.
 *
 * Cost (peak-EWMA, time constant tau = ewmaDecay ms, default 10 s): a latency above the
 * current estimate replaces it at once (peak-sensitive: a stall shows on its first slow
 * answer); a lower one pulls it down with weight 1 - e^(-dt/tau), dt the time since the
 * last observation; between observations the estimate decays toward zero, so an endpoint
 * that stopped being chosen is tried again after a while and re-measured. A failure counts
 * as at least P2C_FAIL_FACTOR times the group's typical latency (a fast error must not
 * attract traffic); an abandoned attempt (another answered first) can only raise the cost.
 * An endpoint with no observation yet costs the group's typical latency (a running average
 * of all answers): neutral, neither flooded nor starved.
 */
#include <math.h>

#include "cluster/lb_int.h"

#define P2C_DRAWS 8          /* random draws for two qualifying endpoints before a scan */
#define P2C_FAIL_FACTOR 10.0 /* a failure costs at least this many typical latencies */
#define P2C_TYPICAL_SHIFT 5  /* typical latency: running average with weight 1/32 */

typedef struct p2c_ep {
    motan_endpoint *ep;
    double cost_us;    /* the estimate as of stamp_us */
    uint64_t stamp_us; /* last observation; 0: none yet (neutral cost) */
} p2c_ep;

typedef struct p2c_state {
    uint64_t rng;
    double tau_us;
    p2c_ep *e; /* parallel to the last update's list */
    size_t n;
    motan__epmap map;
    double typical_us; /* 0 until the first answer */
} p2c_state;

static void *p2c_create(const motan_url *service)
{
    p2c_state *st = motan__calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->rng = motan__lb_seed(st);
    int64_t decay = motan_url_get_int(service, NULL, "ewmaDecay", 10000);
    st->tau_us = (double)(decay > 0 ? decay : 10000) * 1000.0;
    return st;
}

static void p2c_destroy(void *state)
{
    p2c_state *st = state;
    motan__epmap_free(&st->map);
    motan_free(st->e);
    motan_free(st);
}

/* Kept endpoints keep their estimates; new ones start without (neutral). */
static void p2c_update(void *state, motan_endpoint *const *eps, size_t n)
{
    p2c_state *st = state;
    void *e = st->e;
    /* No memory: no state, picks fall back to neutral costs until the next update. */
    st->n = motan__epmap_carry(&st->map, &e, sizeof(p2c_ep), eps, n) == MOTAN_OK ? n : 0;
    st->e = e;
    for (size_t i = 0; i < st->n; i++)
        st->e[i].ep = eps[i];
}

static inline double decay_weight(const p2c_state *st, uint64_t from, uint64_t now)
{
    return now > from ? exp(-(double)(now - from) / st->tau_us) : 1.0;
}

/* The state of eps[i] (the update's list, or the map when pick got another list). */
static inline const p2c_ep *find(const p2c_state *st, motan_endpoint *const *eps, size_t i)
{
    if (i < st->n && st->e[i].ep == eps[i])
        return &st->e[i];
    long k = motan__epmap_get(&st->map, eps[i]);
    return k >= 0 ? &st->e[k] : NULL;
}

static double load_of(const p2c_state *st, motan_endpoint *const *eps, size_t i, uint64_t now)
{
    const p2c_ep *e = find(st, eps, i);
    double cost = st->typical_us;
    if (e && e->stamp_us)
        cost = e->cost_us * decay_weight(st, e->stamp_us, now);
    /* +1 us: zero-cost endpoints still compare by their calls in flight. */
    return (cost + 1.0) * (double)(motan_endpoint_inflight(eps[i]) + 1);
}

static motan_endpoint *p2c_pick(void *state, const motan_request *req, motan_endpoint *const *eps,
                                size_t n, motan_endpoint *const *exclude, size_t nexclude)
{
    p2c_state *st = state;
    MOTAN_UNUSED(req);
    if (n == 0)
        return NULL;
    size_t cand[2], nc = 0;
    for (int k = 0; k < P2C_DRAWS && nc < 2; k++) {
        size_t i = motan__lb_below(&st->rng, n);
        if (nc == 1 && eps[i] == eps[cand[0]])
            continue;
        if (motan__lb_ok(eps[i], exclude, nexclude))
            cand[nc++] = i;
    }
    if (nc < 2) {
        /* Most are out: two distinct ones uniformly among the qualifying (two scans). */
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
            count += (size_t)motan__lb_ok(eps[i], exclude, nexclude);
        if (count == 0)
            return NULL;
        if (count == 1)
            for (size_t i = 0; i < n; i++)
                if (motan__lb_ok(eps[i], exclude, nexclude))
                    return eps[i];
        size_t a = motan__lb_below(&st->rng, count);
        size_t b = (a + 1 + motan__lb_below(&st->rng, count - 1)) % count;
        nc = 0;
        for (size_t i = 0, k = 0; i < n && nc < 2; i++) {
            if (!motan__lb_ok(eps[i], exclude, nexclude))
                continue;
            if (k == a || k == b)
                cand[nc++] = i;
            k++;
        }
    }
    uint64_t now = motan__cluster_now_us();
    double la = load_of(st, eps, cand[0], now), lb = load_of(st, eps, cand[1], now);
    return eps[lb < la ? cand[1] : cand[0]];
}

static void p2c_observe(void *state, motan_endpoint *ep, motan_lb_outcome outcome,
                        uint64_t latency_us)
{
    p2c_state *st = state;
    long k = motan__epmap_get(&st->map, ep);
    if (k < 0)
        return; /* no longer in the list */
    p2c_ep *e = &st->e[k];
    double rtt = (double)latency_us;
    if (outcome == MOTAN_LB_ANSWERED) {
        st->typical_us = st->typical_us > 0
                             ? st->typical_us + (rtt - st->typical_us) / (1 << P2C_TYPICAL_SHIFT)
                             : (rtt > 0 ? rtt : 1.0);
    } else if (outcome == MOTAN_LB_FAILED && rtt < P2C_FAIL_FACTOR * st->typical_us) {
        rtt = P2C_FAIL_FACTOR * st->typical_us;
    }
    uint64_t now = motan__cluster_now_us();
    if (!e->stamp_us) {
        e->cost_us = outcome == MOTAN_LB_ABANDONED && rtt < st->typical_us ? st->typical_us : rtt;
    } else {
        double w = decay_weight(st, e->stamp_us, now);
        double est = e->cost_us * w;
        if (rtt > est)
            e->cost_us = rtt;
        else if (outcome != MOTAN_LB_ABANDONED)
            e->cost_us = est * w + rtt * (1.0 - w);
        else
            e->cost_us = est;
    }
    e->stamp_us = now ? now : 1;
}

const motan_lb_ops motan__lb_p2c = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "p2c",
    .create = p2c_create,
    .destroy = p2c_destroy,
    .update = p2c_update,
    .pick = p2c_pick,
    .observe = p2c_observe,
};
