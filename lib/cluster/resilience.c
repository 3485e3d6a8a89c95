/*
 * Wiring of the tail-latency protections into the cluster (docs/cluster.md): the
 * parameters, one retry budget per cluster, one guard per group, and the few calls the
 * cluster makes into them (a call starts, an attempt is picked, sent again, or ends).
 */
#include <math.h>
#include <stdlib.h>

#include "cluster/cluster_int.h"
#include "cluster/guard_int.h"

struct motan__resil {
    motan__guard_cfg cfg;
    motan__budget budget;
};

/* ---- parameters ------------------------------------------------------------------------ */

static const struct resil_param {
    const char *key;
    double lo, hi;
    int integer;
} resil_params[] = {
    {"ewmaDecay", 1, 86400000, 1},          {"retryBudgetRatio", 0, 100, 0},
    {"retryBudgetMin", 0, 1000000, 0},      {"maxEjectionPercent", 0, 100, 1},
    {"slowStartWindow", 0, 86400000, 1},    {"outlierInterval", 1, 86400000, 1},
    {"outlierMinRequests", 1, 1000000, 1},  {"outlierErrorPercent", 1, 100, 1},
    {"outlierLatencyFactor", 1, 1000000, 0}, {"outlierLatencyMin", 0, 86400000, 1},
    {"outlierEjectionTime", 1, 86400000, 1},
};

static int param(const motan_url *u, const char *key, double *out, char *errbuf, size_t errlen)
{
    const struct resil_param *p = NULL;
    for (size_t i = 0; i < sizeof(resil_params) / sizeof(resil_params[0]) && !p; i++)
        if (!strcmp(resil_params[i].key, key))
            p = &resil_params[i];
    const char *raw = motan_url_get_str(u, NULL, key, NULL);
    if (!p || !raw)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s has no value", key);
    char *end;
    double v = p->integer ? (double)strtoll(raw, &end, 10) : strtod(raw, &end);
    if (end == raw || *end || !isfinite(v))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not %s", key, raw,
                           p->integer ? "an integer" : "a number");
    if (v < p->lo || v > p->hi)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is out of range %g..%g",
                           key, raw, p->lo, p->hi);
    *out = v;
    return MOTAN_OK;
}

int motan__guard_cfg_parse(const motan_url *u, motan__guard_cfg *cfg, char *errbuf,
                           size_t errlen)
{
    double v[sizeof(resil_params) / sizeof(resil_params[0])];
    for (size_t i = 0; i < sizeof(resil_params) / sizeof(resil_params[0]); i++) {
        int rc = param(u, resil_params[i].key, &v[i], errbuf, errlen);
        if (rc != MOTAN_OK)
            return rc;
    }
    memset(cfg, 0, sizeof(*cfg));
    /* v[0], ewmaDecay, is read by the p2c LB itself: checked here only. */
    cfg->budget_ratio = v[1];
    cfg->budget_min = v[2];
    cfg->max_eject_pct = (int)v[3];
    cfg->slow_start_us = (uint64_t)v[4] * 1000u;
    cfg->interval_us = (uint64_t)v[5] * 1000u;
    cfg->min_requests = (uint32_t)v[6];
    cfg->error_excess = v[7] / 100.0;
    cfg->latency_factor = v[8];
    cfg->latency_min_us = (uint64_t)v[9] * 1000u;
    cfg->eject_us = (uint64_t)v[10] * 1000u;
    return MOTAN_OK;
}

/* ---- cluster and groups ---------------------------------------------------------------- */

int motan__resil_new(motan_cluster *c, char *errbuf, size_t errlen)
{
    motan__guard_cfg cfg;
    int rc = motan__guard_cfg_parse(c->url, &cfg, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    c->resil = motan__calloc(1, sizeof(*c->resil));
    if (!c->resil)
        return MOTAN_ENOMEM;
    c->resil->cfg = cfg;
    c->resil->cfg.st_ejections = &c->st_ejections;
    motan__budget_init(&c->resil->budget, cfg.budget_ratio, cfg.budget_min);
    return MOTAN_OK;
}

void motan__resil_free(motan_cluster *c)
{
    motan_free(c->resil);
    c->resil = NULL;
}

int motan__resil_group_init(motan_cluster *c, motan__group *g)
{
    g->guard = c->resil ? motan__guard_new(&c->resil->cfg) : NULL;
    return g->guard ? MOTAN_OK : MOTAN_ENOMEM;
}

void motan__resil_group_free(motan__group *g)
{
    motan__guard_free(g->guard);
    g->guard = NULL;
}

void motan__resil_group_sync(motan_cluster *c, motan__group *g)
{
    MOTAN_UNUSED(c);
    if (g->guard)
        motan__guard_sync(g->guard, g->eps, g->n, motan__cluster_now_us());
}

/* ---- calls ----------------------------------------------------------------------------- */

void motan__resil_on_call(motan_cluster *c, uint64_t now_us)
{
    motan__budget_deposit(&c->resil->budget, now_us);
}

int motan__resil_allow_retry(motan_cluster *c)
{
    if (motan__budget_withdraw(&c->resil->budget, motan__cluster_now_us()))
        return 1;
    motan__count(&c->st_budget_exhausted);
    return 0;
}

motan_endpoint *motan__resil_pick(motan_cluster *c, motan__group *g, const motan_request *req,
                                  motan_endpoint *const *tried, size_t ntried)
{
    if (!g->guard) { /* only a group whose guard could not be allocated */
        motan_endpoint *ep = c->lb->pick(g->lb_state, req, g->eps, g->n, tried, ntried);
        return ep || !ntried ? ep : c->lb->pick(g->lb_state, req, g->eps, g->n, NULL, 0);
    }
    return motan__guard_pick(g->guard, c->lb, g->lb_state, req, g->eps, g->n, tried, ntried,
                             motan__cluster_now_us());
}

/* The server is not to blame for these (as the endpoint's health counts them). */
static int is_local(int code)
{
    return code == MOTAN_ECANCELLED || code == MOTAN_EBUSY || code == MOTAN_EINVAL ||
           code == MOTAN_ENOMEM || code == MOTAN_EUNSUPPORTED || code == MOTAN_ECLOSED;
}

void motan__resil_observe(motan_cluster *c, motan__group *g, motan_endpoint *ep,
                          const motan_response *resp, int abandoned, uint64_t start_us)
{
    if (!c->lb->observe && (!g->guard || !g->guard->cap))
        return; /* nobody listens: no clock read */
    motan_lb_outcome o = MOTAN_LB_ABANDONED;
    if (!abandoned) {
        int code = resp ? motan_response_get_code(resp) : MOTAN_ENOMEM;
        if (is_local(code))
            return;
        o = code == MOTAN_OK || (code == MOTAN_EREMOTE && motan_response_get_errtype(resp) == 2)
                ? MOTAN_LB_ANSWERED
                : MOTAN_LB_FAILED;
    }
    uint64_t now = motan_now_us(); /* the clock of start_us */
    uint64_t latency_us = now > start_us ? now - start_us : 0;
    if (c->lb->observe)
        c->lb->observe(g->lb_state, ep, o, latency_us);
    if (g->guard)
        motan__guard_observe(g->guard, ep, o, latency_us);
}
