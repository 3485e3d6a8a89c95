/*
 * wrr: smooth weighted round robin (nginx, motan-go) on each node's weight.
 *
 * Running nginx's algorithm live costs O(n) per pick, so update() runs it once over a whole
 * period (sum of weights / their gcd picks) and stores the sequence; pick() walks it and
 * skips entries that do not qualify, which hands a skipped endpoint's turns to the others in
 * proportion to their weights. Building costs O(period * n); the period is capped (weights
 * scaled down, each kept >= 1) so that stays below ~8M steps (a few ms) and 64K entries.
 * Every update restarts at the beginning of the period (5:1:1 gives a a b a c a a).
 *
 * When more than WRR_WALK entries in a row are skipped (most endpoints out) or the state
 * does not match the list (update failed for lack of memory), the pick falls back to a
 * weighted random choice among the qualifying endpoints: O(n), same proportions on average.
 */
#include <stdlib.h>

#include "cluster/lb_int.h"

#define WRR_MAX_LEN 65536u
#define WRR_MAX_WORK (1u << 23)
#define WRR_WALK 16

typedef struct wrr_state {
    uint64_t rng;
    size_t n;          /* endpoints the schedule was built for */
    uint32_t *weights; /* [n], as configured (unscaled) */
    uint32_t *sched;   /* [len] endpoint indices, NULL when not built */
    size_t len;
    size_t pos;
} wrr_state;

int motan__lb_weight(const motan_endpoint *e)
{
    /* Raw parameters: motan_url_get_int would answer weight's §8.2 default for a missing
     * "weight" and hide "META_WEIGHT". */
    const motan_url *u = motan_endpoint_get_url(e);
    const char *raw = u ? motan_url_get_param(u, "weight") : NULL;
    if (!raw && u)
        raw = motan_url_get_param(u, "META_WEIGHT");
    if (!raw)
        return MOTAN__LB_WEIGHT_DEFAULT;
    char *end;
    long long w = strtoll(raw, &end, 10); /* out of range: LLONG_MIN/MAX, clamped below */
    while (*end == ' ')
        end++;
    if (end == raw || *end)
        return MOTAN__LB_WEIGHT_DEFAULT;
    if (w < 1)
        return 1;
    return w > MOTAN__LB_WEIGHT_MAX ? MOTAN__LB_WEIGHT_MAX : (int)w;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void *wrr_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    wrr_state *st = motan__calloc(1, sizeof(*st));
    if (st)
        st->rng = motan__lb_seed(st);
    return st;
}

static void wrr_clear(wrr_state *st)
{
    motan_free(st->weights);
    motan_free(st->sched);
    st->weights = NULL;
    st->sched = NULL;
    st->n = st->len = st->pos = 0;
}

static void wrr_destroy(void *state)
{
    wrr_clear(state);
    motan_free(state);
}

/* Divides w[] by their gcd; returns the period (their sum). */
static uint64_t reduce_gcd(uint64_t *w, size_t n)
{
    uint64_t g = 0, total = 0;
    for (size_t i = 0; i < n; i++)
        g = gcd64(g, w[i]);
    for (size_t i = 0; i < n; i++)
        total += (w[i] /= g);
    return total;
}

/* The period of w[], scaled down (each weight kept >= 1) when it exceeds limit: <= limit + n. */
static uint64_t reduce(uint64_t *w, size_t n, uint64_t limit)
{
    uint64_t total = reduce_gcd(w, n);
    if (total <= limit)
        return total;
    for (size_t i = 0; i < n; i++) {
        w[i] = w[i] * limit / total;
        if (w[i] == 0)
            w[i] = 1;
    }
    return reduce_gcd(w, n);
}

static int wrr_build(wrr_state *st, motan_endpoint *const *eps, size_t n)
{
    st->weights = motan_malloc(n * sizeof(*st->weights));
    uint64_t *w = motan_malloc(n * sizeof(*w));
    int64_t *cur = motan__calloc(n, sizeof(*cur));
    int rc = MOTAN_ENOMEM;
    if (!st->weights || !w || !cur)
        goto out;
    for (size_t i = 0; i < n; i++)
        w[i] = st->weights[i] = (uint32_t)motan__lb_weight(eps[i]);
    uint64_t limit = WRR_MAX_LEN;
    if (limit * n > WRR_MAX_WORK)
        limit = WRR_MAX_WORK / n;
    if (limit < n)
        limit = n;
    uint64_t total = reduce(w, n, limit);
    st->sched = motan_malloc((size_t)total * sizeof(*st->sched));
    if (!st->sched)
        goto out;
    /* nginx: every node gains its weight, the largest (first on ties) is picked and pays
     * the total back. */
    for (uint64_t t = 0; t < total; t++) {
        size_t best = 0;
        int64_t best_cur = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            int64_t c = cur[i] + (int64_t)w[i];
            cur[i] = c;
            if (c > best_cur) {
                best_cur = c;
                best = i;
            }
        }
        cur[best] -= (int64_t)total;
        st->sched[t] = (uint32_t)best;
    }
    st->len = (size_t)total;
    st->n = n;
    rc = MOTAN_OK;
out:
    motan_free(w);
    motan_free(cur);
    return rc;
}

static void wrr_update(void *state, motan_endpoint *const *eps, size_t n)
{
    wrr_state *st = state;
    wrr_clear(st);
    if (n > 0 && n <= UINT32_MAX && wrr_build(st, eps, n) != MOTAN_OK)
        wrr_clear(st); /* picks use the O(n) fallback until the next update */
}

/* Weighted random among the qualifying endpoints. */
static motan_endpoint *wrr_fallback(wrr_state *st, motan_endpoint *const *eps, size_t n,
                                    motan_endpoint *const *exclude, size_t nexclude)
{
    const uint32_t *w = st->n == n ? st->weights : NULL;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (motan__lb_ok(eps[i], exclude, nexclude))
            total += w ? w[i] : (uint64_t)motan__lb_weight(eps[i]);
    if (total == 0)
        return NULL;
    uint64_t r = motan__lb_rand(&st->rng) % total;
    for (size_t i = 0; i < n; i++) {
        if (!motan__lb_ok(eps[i], exclude, nexclude))
            continue;
        uint64_t wi = w ? w[i] : (uint64_t)motan__lb_weight(eps[i]);
        if (r < wi)
            return eps[i];
        r -= wi;
    }
    return NULL;
}

static motan_endpoint *wrr_pick(void *state, const motan_request *req, motan_endpoint *const *eps,
                                size_t n, motan_endpoint *const *exclude, size_t nexclude)
{
    wrr_state *st = state;
    MOTAN_UNUSED(req);
    if (n == 0)
        return NULL;
    if (!st->sched || st->n != n)
        return wrr_fallback(st, eps, n, exclude, nexclude);
    for (int k = 0; k < WRR_WALK; k++) {
        motan_endpoint *e = eps[st->sched[st->pos]];
        if (++st->pos == st->len)
            st->pos = 0;
        if (motan__lb_ok(e, exclude, nexclude))
            return e;
    }
    return wrr_fallback(st, eps, n, exclude, nexclude);
}

const motan_lb_ops motan__lb_wrr = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "wrr",
    .create = wrr_create,
    .destroy = wrr_destroy,
    .update = wrr_update,
    .pick = wrr_pick,
};
