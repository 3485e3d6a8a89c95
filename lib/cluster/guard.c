/*
 * The guard of one group: a record per endpoint (window counters, ejection, slow start),
 * kept parallel to the group's list and found by pointer through an epmap. Picks go through
 * it: ejected endpoints are excluded (the LB's own exclusion, so round robin and consistent
 * hashing skip them exactly as they skip fused ones), ramping ones are thinned. When the
 * group cannot eject (too small for maxEjectionPercent) and slow start is off, a pick costs
 * one test more than the LB's.
 */
#include "cluster/guard_int.h"

motan__guard *motan__guard_new(const motan__guard_cfg *cfg)
{
    motan__guard *g = motan__calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->cfg = cfg;
    g->rng = motan__lb_seed(g);
    return g;
}

void motan__guard_free(motan__guard *g)
{
    if (!g)
        return;
    motan__epmap_free(&g->map);
    motan_free(g->rec);
    motan_free(g);
}

motan__eprec *motan__guard_rec(const motan__guard *g, const motan_endpoint *ep)
{
    long i = motan__epmap_get(&g->map, ep);
    return i >= 0 ? &g->rec[i] : NULL;
}

void motan__guard_index(motan__guard *g)
{
    g->nejected = 0;
    g->nramping = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (g->rec[i].ejected_until && g->nejected < MOTAN__EJECT_MAX)
            g->ejected[g->nejected++] = g->rec[i].ep;
        g->nramping += g->rec[i].ramp_since != 0;
    }
    /* Due evaluations end ejections too: a shrunk list may allow none but still have some. */
    g->evaluates = g->cap || g->nejected || g->cfg->slow_start_us;
}

void motan__guard_sync(motan__guard *g, motan_endpoint *const *eps, size_t n, uint64_t now_us)
{
    void *rec = g->rec;
    /* No memory: no records, the LB alone decides until the next list. */
    if (motan__epmap_carry(&g->map, &rec, sizeof(motan__eprec), eps, n) != MOTAN_OK)
        n = 0;
    g->rec = rec;
    g->n = n;
    for (size_t i = 0; i < n; i++) {
        motan__eprec *r = &g->rec[i];
        if (!r->ep) { /* a newcomer */
            if (g->cfg->slow_start_us)
                r->heartbeats = motan_endpoint_stat(eps[i], "heartbeats");
            if (g->seeded && g->cfg->slow_start_us)
                r->ramp_since = now_us ? now_us : 1;
        }
        r->ep = eps[i];
    }
    g->seeded |= n > 0;
    /* never more than max_eject_pct of the list, and at least one endpoint stays */
    g->cap = g->cfg->max_eject_pct > 0 ? n * (size_t)g->cfg->max_eject_pct / 100 : 0;
    if (g->cap >= n)
        g->cap = n ? n - 1 : 0;
    if (g->cap > MOTAN__EJECT_MAX)
        g->cap = MOTAN__EJECT_MAX;
    motan__guard_index(g); /* after cap: it decides whether evaluations have work */
    if (!g->next_eval_us)
        g->next_eval_us = now_us + g->cfg->interval_us;
}

void motan__guard_observe(motan__guard *g, motan_endpoint *ep, motan_lb_outcome outcome,
                          uint64_t latency_us)
{
    if (!g->cap)
        return; /* nothing is judged */
    motan__eprec *r = motan__guard_rec(g, ep);
    if (!r)
        return;
    if (r->calls < UINT32_MAX)
        r->calls++;
    r->errors += outcome == MOTAN_LB_FAILED;
    r->lat_sum_us += latency_us;
}

/* A uniform draw in [0, 1). */
static double unit_draw(motan__guard *g)
{
    return (double)(motan__lb_rand(&g->rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* The LB's choice excluding ex[0..nex), thinned by slow start; ex[nex] must be writable. */
static motan_endpoint *pick_thinned(motan__guard *g, const motan_lb_ops *lb, void *st,
                                    const motan_request *req, motan_endpoint *const *eps,
                                    size_t n, motan_endpoint **ex, size_t nex, uint64_t now_us)
{
    motan_endpoint *ep = lb->pick(st, req, eps, n, ex, nex);
    if (!ep || !g->nramping)
        return ep;
    motan__eprec *r = motan__guard_rec(g, ep);
    if (!r || !r->ramp_since)
        return ep;
    double f = motan__slow_start_factor(r->ramp_since, now_us, g->cfg->slow_start_us);
    if (f >= 1.0) {
        r->ramp_since = 0;
        g->nramping--;
        return ep;
    }
    if (unit_draw(g) < f)
        return ep;
    ex[nex] = ep; /* not this time: another endpoint if there is one */
    motan_endpoint *other = lb->pick(st, req, eps, n, ex, nex + 1);
    return other ? other : ep;
}

motan_endpoint *motan__guard_pick(motan__guard *g, const motan_lb_ops *lb, void *lb_state,
                                  const motan_request *req, motan_endpoint *const *eps, size_t n,
                                  motan_endpoint *const *tried, size_t ntried, uint64_t now_us)
{
    if (g->evaluates && now_us >= g->next_eval_us)
        motan__outlier_evaluate(g, now_us);
    if (!g->nejected && !g->nramping) {
        motan_endpoint *ep = lb->pick(lb_state, req, eps, n, tried, ntried);
        return ep || !ntried ? ep : lb->pick(lb_state, req, eps, n, NULL, 0);
    }
    /* One list excludes the tried ones, then the ejected ones, then a thinned one. */
    motan_endpoint *ex[MOTAN__GUARD_TRIED_MAX + MOTAN__EJECT_MAX + 1];
    size_t nt = ntried < MOTAN__GUARD_TRIED_MAX ? ntried : MOTAN__GUARD_TRIED_MAX;
    size_t ne = g->nejected;
    if (nt)
        memcpy(ex, tried, nt * sizeof(*ex));
    if (ne)
        memcpy(ex + nt, g->ejected, ne * sizeof(*ex));
    motan_endpoint *ep = pick_thinned(g, lb, lb_state, req, eps, n, ex, nt + ne, now_us);
    if (!ep && nt) /* every other one tried: a tried one again, still not an ejected one */
        ep = lb->pick(lb_state, req, eps, n, ex + nt, ne);
    if (!ep && ne) /* only ejected ones qualify: better them than no endpoint */
        ep = lb->pick(lb_state, req, eps, n, ex, nt);
    if (!ep && nt && ne)
        ep = lb->pick(lb_state, req, eps, n, NULL, 0);
    return ep;
}
