/*
 * Private to lib/cluster: what protects a cluster's tail latency beside the load balancer
 * (docs/cluster.md): the retry budget (retry_budget.c), outlier ejection (outlier.c) and
 * slow start (slow_start.c) over per-endpoint records of each group (guard.c), wired into
 * the cluster by resilience.c. The pure parts take the time as an argument (tests drive them
 * with a fake clock); the wiring reads motan__cluster_now_us().
 */
#ifndef MOTAN_GUARD_INT_H
#define MOTAN_GUARD_INT_H

#include <stdatomic.h>

#include "cluster/lb_int.h"

/* ---- configuration (URL parameters, cluster-wide) ------------------------------------- */

typedef struct motan__guard_cfg {
    int max_eject_pct;       /* maxEjectionPercent (10); 0: no ejection */
    uint64_t interval_us;    /* outlierInterval (1000 ms): evaluation period and window */
    uint32_t min_requests;   /* outlierMinRequests (10) in a window to be judged */
    double error_excess;     /* outlierErrorPercent (30) / 100: error rate above the median */
    double latency_factor;   /* outlierLatencyFactor (5): mean latency over the median's */
    uint64_t latency_min_us; /* outlierLatencyMin (10 ms): and at least this */
    uint64_t eject_us;       /* outlierEjectionTime (30000 ms), times the ejection count */
    uint64_t slow_start_us;  /* slowStartWindow (0: off) */
    double budget_ratio;     /* retryBudgetRatio (0.2) */
    double budget_min;       /* retryBudgetMin (10 per second) */
    atomic_uint_fast64_t *st_ejections; /* counter bumped per ejection (may be NULL) */
} motan__guard_cfg;

/* Parses and checks the parameters (and ewmaDecay); MOTAN_EURL naming a bad one. */
int motan__guard_cfg_parse(const motan_url *service, motan__guard_cfg *cfg, char *errbuf,
                           size_t errlen);

/* ---- retry budget ----------------------------------------------------------------------- */

#define MOTAN__BUDGET_WINDOW_S 10

/*
 * Retries and backup requests over the last MOTAN__BUDGET_WINDOW_S seconds may be at most
 * ratio x calls + min_per_s x MOTAN__BUDGET_WINDOW_S (Finagle's RetryBudget, in 1 s buckets).
 */
typedef struct motan__budget {
    double ratio, min_per_s;
    uint64_t sec[MOTAN__BUDGET_WINDOW_S]; /* second of each bucket (+1: 0 is unused) */
    uint32_t calls[MOTAN__BUDGET_WINDOW_S], retries[MOTAN__BUDGET_WINDOW_S];
    uint64_t cur_end_us; /* deposits before this go to bucket cur (no division per call) */
    size_t cur;
} motan__budget;

void motan__budget_init(motan__budget *b, double ratio, double min_per_s);
/* A call started. */
void motan__budget_deposit(motan__budget *b, uint64_t now_us);
/* 1 (and counted) when one more retry fits, else 0. */
int motan__budget_withdraw(motan__budget *b, uint64_t now_us);

/* ---- slow start ------------------------------------------------------------------------- */

/* Share of its full traffic an endpoint ramping since since_us gets: 10 % .. 100 %, linear. */
double motan__slow_start_factor(uint64_t since_us, uint64_t now_us, uint64_t window_us);

/* ---- per-group guard: records, ejection, slow start ------------------------------------- */

/* Ejected endpoints of a group at once, whatever maxEjectionPercent allows. */
#define MOTAN__EJECT_MAX 64
/* Tried endpoints a pick excludes (the HA attempt limit). */
#define MOTAN__GUARD_TRIED_MAX 16

typedef struct motan__eprec {
    motan_endpoint *ep;
    uint32_t calls, errors;  /* this window (abandoned attempts count as calls) */
    uint64_t lat_sum_us;
    uint64_t ejected_until;  /* 0: not ejected */
    uint64_t ramp_since;     /* slow start began; 0: full share */
    unsigned ejections;      /* in a row, the multiplier of the next ejection time */
    uint64_t heartbeats;     /* the endpoint's heartbeat count at the last evaluation */
    int was_down;            /* unavailable (fused) at the last evaluation */
} motan__eprec;

typedef struct motan__guard {
    const motan__guard_cfg *cfg;
    motan__eprec *rec; /* parallel to the group's list */
    size_t n;
    motan__epmap map;
    size_t cap;      /* ejections allowed at once for this list */
    int evaluates;   /* evaluations have work: cap, ejections or slow start */
    size_t nramping; /* records with ramp_since */
    motan_endpoint *ejected[MOTAN__EJECT_MAX];
    size_t nejected;
    uint64_t next_eval_us;
    uint64_t rng;
    int seeded; /* a non-empty list was seen: later newcomers ramp */
} motan__guard;

/* Nothing to exclude or thin and no evaluation due: a pick is the LB's alone (every call). */
static inline int motan__guard_idle(const motan__guard *g, uint64_t now_us)
{
    return !g || (!g->nejected && !g->nramping && (!g->evaluates || now_us < g->next_eval_us));
}

/* owned: motan__guard_free. cfg is borrowed for the guard's life. NULL on out of memory. */
motan__guard *motan__guard_new(const motan__guard_cfg *cfg);
void motan__guard_free(motan__guard *g);
/* The group's list changed: kept endpoints keep their records, newcomers ramp. */
void motan__guard_sync(motan__guard *g, motan_endpoint *const *eps, size_t n, uint64_t now_us);
/* An attempt to ep ended. */
void motan__guard_observe(motan__guard *g, motan_endpoint *ep, motan_lb_outcome outcome,
                          uint64_t latency_us);
/*
 * The LB's pick among eps that are neither tried nor ejected, thinned by slow start; falls
 * back to a tried one, then to an ejected one, rather than to none.
 */
motan_endpoint *motan__guard_pick(motan__guard *g, const motan_lb_ops *lb, void *lb_state,
                                  const motan_request *req, motan_endpoint *const *eps, size_t n,
                                  motan_endpoint *const *tried, size_t ntried, uint64_t now_us);
/* The record of ep, or NULL. */
motan__eprec *motan__guard_rec(const motan__guard *g, const motan_endpoint *ep);
/* Rebuilds the ejected list and the ramp count from the records. */
void motan__guard_index(motan__guard *g);

/* outlier.c: one evaluation (ends ejections and ramps, ejects outliers, opens a window). */
void motan__outlier_evaluate(motan__guard *g, uint64_t now_us);

#endif
