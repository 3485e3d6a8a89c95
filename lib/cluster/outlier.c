/*
 * Outlier ejection, evaluated once per outlierInterval (lazily, by the first pick after it):
 *
 * - every endpoint with at least outlierMinRequests attempts in the window is judged
 *   against the median of the judged ones (at least OUTLIER_MIN_JUDGED of them): its error
 *   rate at least outlierErrorPercent points above the median's, or its mean latency at
 *   least outlierLatencyFactor times the median's and at least outlierLatencyMin, makes it
 *   an outlier. Relative to the median on purpose: when every endpoint fails or is slow
 *   (the service itself is down), nobody is ejected and the calls show the real error;
 * - outliers are ejected worst first while the group has fewer than its cap ejected
 *   (maxEjectionPercent of the list, rounded down, at most MOTAN__EJECT_MAX) and at least
 *   one other available endpoint stays in;
 * - an ejection lasts outlierEjectionTime x the endpoint's ejections in a row (growing, at
 *   most OUTLIER_MAX_MULT times); a judged window without fault takes one off the count.
 *   When it ends the endpoint is back (ramping when slow start is on); fused endpoints
 *   still come back by heartbeats, as always;
 * - fused endpoints that answer heartbeats again start ramping too (slow start): seen down
 *   at an evaluation, or their heartbeat count moved since the last one.
 */
#include <stdlib.h>

#include "cluster/guard_int.h"

#define OUTLIER_MIN_JUDGED 3
#define OUTLIER_MAX_MULT 10

typedef struct judged {
    size_t i;
    double err, lat_us, severity;
} judged;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int by_severity_desc(const void *a, const void *b)
{
    double x = ((const judged *)a)->severity, y = ((const judged *)b)->severity;
    return x > y ? -1 : x < y;
}

/* Ends due ejections and ramps, notices recoveries; the number of available, in endpoints. */
static size_t settle(motan__guard *g, uint64_t now)
{
    const motan__guard_cfg *cfg = g->cfg;
    size_t avail_in = 0;
    for (size_t i = 0; i < g->n; i++) {
        motan__eprec *r = &g->rec[i];
        int avail = motan_endpoint_is_available(r->ep);
        if (r->ejected_until && now >= r->ejected_until) {
            r->ejected_until = 0;
            if (cfg->slow_start_us)
                r->ramp_since = now ? now : 1;
        }
        /* Heartbeats go out only while an endpoint is fused: a count that moved means it
         * was down since the last evaluation, however briefly. */
        uint64_t hb = cfg->slow_start_us ? motan_endpoint_stat(r->ep, "heartbeats") : 0;
        if (!avail) {
            r->was_down = 1;
        } else if (r->was_down || hb != r->heartbeats) {
            r->was_down = 0;
            if (cfg->slow_start_us)
                r->ramp_since = now ? now : 1;
        }
        r->heartbeats = hb;
        if (r->ramp_since && motan__slow_start_factor(r->ramp_since, now, cfg->slow_start_us) >= 1.0)
            r->ramp_since = 0;
        avail_in += avail && !r->ejected_until;
    }
    return avail_in;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void eject_outliers(motan__guard *g, uint64_t now, size_t avail_in)
{
    const motan__guard_cfg *cfg = g->cfg;
    size_t nj = 0;
    for (size_t i = 0; i < g->n; i++)
        nj += !g->rec[i].ejected_until && g->rec[i].calls >= cfg->min_requests;
    if (nj < OUTLIER_MIN_JUDGED)
        return;
    judged *j = motan_malloc(nj * sizeof(*j));
    double *tmp = motan_malloc(nj * sizeof(*tmp));
    if (!j || !tmp) {
        motan_free(j);
        motan_free(tmp);
        return; /* no memory: no ejection this round */
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        const motan__eprec *r = &g->rec[i];
        if (r->ejected_until || r->calls < cfg->min_requests)
            continue;
        j[k].i = i;
        j[k].err = (double)r->errors / r->calls;
        j[k].lat_us = (double)r->lat_sum_us / r->calls;
        k++;
    }
    for (k = 0; k < nj; k++)
        tmp[k] = j[k].err;
    double med_err = median(tmp, nj);
    for (k = 0; k < nj; k++)
        tmp[k] = j[k].lat_us;
    double med_lat = median(tmp, nj);
    double lat_bar = cfg->latency_factor * (med_lat > 1.0 ? med_lat : 1.0);
    size_t nout = 0;
    for (k = 0; k < nj; k++) {
        double sev = 0;
        if (j[k].err - med_err >= cfg->error_excess - 1e-9)
            sev = (j[k].err - med_err) / (cfg->error_excess > 0 ? cfg->error_excess : 1.0);
        if (j[k].lat_us >= lat_bar && j[k].lat_us >= (double)cfg->latency_min_us &&
            j[k].lat_us / lat_bar > sev)
            sev = j[k].lat_us / lat_bar;
        motan__eprec *r = &g->rec[j[k].i];
        if (sev > 0) {
            j[k].severity = sev;
            j[nout++] = j[k];
        } else if (r->ejections) {
            r->ejections--; /* a judged window without fault */
        }
    }
    qsort(j, nout, sizeof(*j), by_severity_desc);
    for (k = 0; k < nout && g->nejected < g->cap; k++) {
        motan__eprec *r = &g->rec[j[k].i];
        int avail = motan_endpoint_is_available(r->ep);
        if (avail && avail_in <= 1)
            break; /* at least one endpoint stays */
        if (r->ejections < OUTLIER_MAX_MULT)
            r->ejections++;
        r->ejected_until = now + cfg->eject_us * r->ejections;
        r->ramp_since = 0;
        avail_in -= (size_t)avail;
        g->ejected[g->nejected++] = r->ep;
        if (cfg->st_ejections)
            atomic_fetch_add_explicit(cfg->st_ejections, 1, memory_order_relaxed);
    }
    motan_free(j);
    motan_free(tmp);
}

void motan__outlier_evaluate(motan__guard *g, uint64_t now_us)
{
    size_t avail_in = settle(g, now_us);
    motan__guard_index(g);
    if (g->cap)
        eject_outliers(g, now_us, avail_in);
    for (size_t i = 0; i < g->n; i++) {
        g->rec[i].calls = g->rec[i].errors = 0;
        g->rec[i].lat_sum_us = 0;
    }
    motan__guard_index(g);
    g->next_eval_us = now_us + g->cfg->interval_us;
}
