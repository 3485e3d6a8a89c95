/*
 * What protects the tail beside the load balancer (lib/cluster/guard_int.h): the retry
 * budget's arithmetic, slow start's share over time, outlier ejection (latency and error
 * outliers, the cap, at least one endpoint staying, growing ejection times, returning), the
 * parameters. Deterministic: the time is an argument (a fake clock), picks use the random LB
 * with a fixed seed, outcomes are fed to the guard directly. Endpoints are real (tu_eps.h).
 *
 * Statistical bounds: shares over PICKS = 30000 picks have a standard deviation below
 * 0.3 %; the +-3 % bounds are > 10 sigma away.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/cluster.h>

#include "cluster/guard_int.h"
#include "tu_eps.h"
#include "tu_loop.h"

#define PICKS 30000
#define SEC 1000000ull
#define T0 (1000 * SEC)

static const motan_lb_ops *rnd;
static void *rnd_state;
static motan_url *service;

static void setup(void)
{
    tu_eps_setup();
    motan__lb_test_seed = 7;
    rnd = motan_lb_find("random");
    service = tu_url("motan2://127.0.0.1:1/" TU_EPS_SERVICE);
    rnd_state = rnd->create(service);
}

static void teardown(void)
{
    rnd->destroy(rnd_state);
    motan_url_free(service);
    tu_eps_teardown();
    motan__lb_test_seed = 0;
}

/* Guard parameters from URL parameters (as a cluster reads them). */
static motan__guard_cfg cfg_of(const char *params, atomic_uint_fast64_t *ejections)
{
    char text[512], err[256];
    snprintf(text, sizeof(text), "motan2://127.0.0.1:1/" TU_EPS_SERVICE "?%s", params);
    motan_url *u = tu_url(text);
    motan__guard_cfg cfg;
    ck_assert_msg(motan__guard_cfg_parse(u, &cfg, err, sizeof(err)) == MOTAN_OK, "%s", err);
    motan_url_free(u);
    cfg.st_ejections = ejections;
    return cfg;
}

static void refused(motan_endpoint **eps, int n)
{
    for (int i = 0; i < n; i++)
        eps[i] = tu_eps_refused(NULL);
}

/* A guard with cfg over eps[0..n), its first list at T0. */
static motan__guard *guard_on(const motan__guard_cfg *cfg, motan_endpoint **eps, size_t n)
{
    motan__guard *g = motan__guard_new(cfg);
    ck_assert_ptr_nonnull(g);
    motan__guard_sync(g, eps, n, T0);
    return g;
}

static motan_endpoint *pick(motan__guard *g, motan_endpoint **eps, size_t n,
                            motan_endpoint **tried, size_t nt, uint64_t now)
{
    return motan__guard_pick(g, rnd, rnd_state, NULL, eps, n, tried, nt, now);
}

static int index_of(const motan_endpoint *e, motan_endpoint **eps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (eps[i] == e)
            return (int)i;
    return -1;
}

static void count_picks(motan__guard *g, motan_endpoint **eps, size_t n, uint64_t now, int picks,
                        int *counts)
{
    memset(counts, 0, n * sizeof(*counts));
    for (int k = 0; k < picks; k++) {
        int i = index_of(pick(g, eps, n, NULL, 0, now), eps, n);
        ck_assert_int_ge(i, 0);
        counts[i]++;
    }
}

static void assert_share(int count, int total, double expect, double tol, const char *what)
{
    double share = (double)count / total;
    ck_assert_msg(share >= expect - tol && share <= expect + tol,
                  "%s: share %.4f, expected %.4f +- %.3f", what, share, expect, tol);
}

/* calls outcomes of latency us each, errors of them failed. */
static void feed(motan__guard *g, motan_endpoint *ep, int calls, int errors, uint64_t us)
{
    for (int i = 0; i < calls; i++)
        motan__guard_observe(g, ep, i < errors ? MOTAN_LB_FAILED : MOTAN_LB_ANSWERED, us);
}

/* The same window for eps[0..n). */
static void feed_all(motan__guard *g, motan_endpoint **eps, int n, int calls, int errors,
                     uint64_t us)
{
    for (int i = 0; i < n; i++)
        feed(g, eps[i], calls, errors, us);
}

static int ejected(motan__guard *g, motan_endpoint *ep)
{
    motan__eprec *r = motan__guard_rec(g, ep);
    ck_assert_ptr_nonnull(r);
    return r->ejected_until != 0;
}

static int count_ejected(motan__guard *g, motan_endpoint **eps, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += ejected(g, eps[i]);
    return k;
}

/* ---- retry budget ---------------------------------------------------------------------- */

START_TEST(test_budget_arithmetic)
{
    motan__budget b;
    /* No calls yet: the reserve, 10 per second over the 10 s window = 100 retries. */
    motan__budget_init(&b, 0.2, 10);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(motan__budget_withdraw(&b, T0), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0), 0);
    /* 1000 calls add 20 % of them: 200 more. */
    for (int i = 0; i < 1000; i++)
        motan__budget_deposit(&b, T0 + SEC / 2);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(motan__budget_withdraw(&b, T0 + SEC / 2), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0 + SEC / 2), 0);
    /* Still counted 9.9 s later (buckets of seconds T0 .. T0+9 are in the window)... */
    ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 9 * SEC + 900000), 0);
    /* ...gone once the window has passed: the reserve is back, the calls are not. */
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 10 * SEC), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 10 * SEC), 0);
    /* The window slides by seconds: 100 calls at T0+15 allow 20 more retries... */
    for (int i = 0; i < 100; i++)
        motan__budget_deposit(&b, T0 + 15 * SEC);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 15 * SEC), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 15 * SEC), 0);
    /* ...and at T0+20 the 100 retries of T0+10 expire while those calls and 20 retries stay. */
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 20 * SEC), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0 + 20 * SEC), 0);

    /* Ratio only, no reserve: exactly half of the calls. */
    motan__budget_init(&b, 0.5, 0);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0), 0);
    for (int i = 0; i < 10; i++)
        motan__budget_deposit(&b, T0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(motan__budget_withdraw(&b, T0), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0), 0);
    /* Nothing at all. */
    motan__budget_init(&b, 0, 0);
    for (int i = 0; i < 1000; i++)
        motan__budget_deposit(&b, T0);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0), 0);
    /* A fractional reserve: 0.15 per second = 1.5 per window, so one retry. */
    motan__budget_init(&b, 0, 0.15);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0), 1);
    ck_assert_int_eq(motan__budget_withdraw(&b, T0), 0);
}
END_TEST

/* ---- slow start ------------------------------------------------------------------------ */

START_TEST(test_slow_start_factor)
{
    uint64_t w = 10 * SEC;
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0, w), 0.1, 1e-9);
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0 + SEC / 2, w), 0.1, 1e-9); /* floor */
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0 + 2 * SEC, w), 0.2, 1e-9);
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0 + 5 * SEC, w), 0.5, 1e-9);
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0 + 9 * SEC, w), 0.9, 1e-9);
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0 + 10 * SEC, w), 1.0, 1e-9);
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0 + 99 * SEC, w), 1.0, 1e-9);
    ck_assert_double_eq_tol(motan__slow_start_factor(0, T0, w), 1.0, 1e-9); /* not ramping */
    ck_assert_double_eq_tol(motan__slow_start_factor(T0, T0, 0), 1.0, 1e-9);  /* off */
}
END_TEST

START_TEST(test_slow_start_shares_over_time)
{
    motan_endpoint *eps[2];
    refused(eps, 2);
    motan__guard_cfg cfg = cfg_of("slowStartWindow=10000", NULL);
    motan__guard *g = motan__guard_new(&cfg);
    ck_assert_ptr_nonnull(g);
    /* The first list is served at once: nothing to shift traffic from. */
    motan__guard_sync(g, eps, 1, T0);
    int counts[2];
    count_picks(g, eps, 1, T0, 100, counts);
    ck_assert_int_eq(counts[0], 100);
    /* A newcomer ramps: its half share times 10 %, 25 %, 50 %, 90 %, then all of it. */
    motan__guard_sync(g, eps, 2, T0);
    static const struct {
        uint64_t at;
        double share;
    } steps[] = {{0, 0.05}, {SEC / 2, 0.05}, {5 * SEC / 2, 0.125}, {5 * SEC, 0.25},
                 {9 * SEC, 0.45}, {10 * SEC, 0.5}, {30 * SEC, 0.5}};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        count_picks(g, eps, 2, T0 + steps[s].at, PICKS, counts);
        char what[64];
        snprintf(what, sizeof(what), "newcomer at %.1f s", (double)steps[s].at / SEC);
        assert_share(counts[1], PICKS, steps[s].share, 0.03, what);
    }
    ck_assert_uint_eq(g->nramping, 0);
    /* Only a ramping endpoint qualifies: it gets every call, ramp or not. */
    motan_endpoint *more[3] = {eps[0], eps[1], tu_eps_refused(NULL)};
    motan__guard_sync(g, more, 3, T0 + 40 * SEC);
    motan_endpoint *tried[2] = {eps[0], eps[1]};
    for (int k = 0; k < 100; k++)
        ck_assert_ptr_eq(pick(g, more, 3, tried, 2, T0 + 40 * SEC), more[2]);
    motan__guard_free(g);
}
END_TEST

/* ---- outlier ejection ------------------------------------------------------------------ */

START_TEST(test_eject_latency_outlier_within_cap)
{
    motan_endpoint *eps[11];
    refused(eps, 11);
    atomic_uint_fast64_t ejections = 0;
    motan__guard_cfg cfg = cfg_of("outlierInterval=1000", &ejections); /* 10 %: 1 of 11 */
    motan__guard *g = guard_on(&cfg, eps, 11);
    ck_assert_uint_eq(g->cap, 1);
    feed_all(g, eps, 9, 20, 0, 1000);
    feed(g, eps[9], 20, 0, 50000);
    feed(g, eps[10], 20, 0, 100000);
    /* Evaluated by the first pick after the interval: only the worst goes (the cap). */
    pick(g, eps, 11, NULL, 0, T0 + SEC - 1);
    ck_assert_int_eq(count_ejected(g, eps, 11), 0);
    pick(g, eps, 11, NULL, 0, T0 + SEC);
    ck_assert_int_eq(ejected(g, eps[10]), 1);
    ck_assert_int_eq(count_ejected(g, eps, 11), 1);
    ck_assert_uint_eq(atomic_load(&ejections), 1);
    int counts[11];
    count_picks(g, eps, 11, T0 + SEC, PICKS, counts);
    ck_assert_int_eq(counts[10], 0);
    ck_assert_int_gt(counts[9], 0);
    /* Fewer calls than outlierMinRequests are not judged. */
    feed_all(g, eps, 9, 20, 0, 1000);
    feed(g, eps[9], 9, 0, 50000);
    pick(g, eps, 11, NULL, 0, T0 + 2 * SEC);
    ck_assert_int_eq(ejected(g, eps[9]), 0);
    /* Slow but under outlierLatencyMin (10 ms) is no outlier either. */
    motan__guard_free(g);
    motan__guard_cfg c2 = cfg_of("maxEjectionPercent=50", NULL);
    g = guard_on(&c2, eps, 11);
    feed_all(g, eps, 10, 20, 0, 100);
    feed(g, eps[10], 20, 0, 9000); /* 90 x the median, 9 ms */
    pick(g, eps, 11, NULL, 0, T0 + SEC);
    ck_assert_int_eq(count_ejected(g, eps, 11), 0);
    motan__guard_free(g);
}
END_TEST

START_TEST(test_eject_error_outlier)
{
    motan_endpoint *eps[10];
    refused(eps, 10);
    motan__guard_cfg cfg = cfg_of("outlierErrorPercent=30", NULL);
    motan__guard *g = guard_on(&cfg, eps, 10);
    feed_all(g, eps, 8, 20, 1, 1000); /* 5 % errors: the median */
    feed(g, eps[8], 20, 6, 1000);     /* 30 %: 25 points above, not far enough */
    feed(g, eps[9], 20, 8, 1000);     /* 40 %: 35 points above */
    pick(g, eps, 10, NULL, 0, T0 + SEC);
    ck_assert_int_eq(ejected(g, eps[9]), 1);
    ck_assert_int_eq(count_ejected(g, eps, 10), 1);
    /* Everyone failing is no outlier: the service is down, nobody is ejected. */
    motan__guard_free(g);
    g = guard_on(&cfg, eps, 10);
    for (int i = 0; i < 10; i++)
        feed(g, eps[i], 20, 20, 100 * (uint64_t)(i + 1));
    pick(g, eps, 10, NULL, 0, T0 + SEC);
    ck_assert_int_eq(count_ejected(g, eps, 10), 0);
    motan__guard_free(g);
}
END_TEST

START_TEST(test_eject_all_bad_one_stays)
{
    /* maxEjectionPercent=100 and every endpoint worse than the next: rounds eject the worst
     * of those left, but never the last ones. */
    enum { N = 10 };
    motan_endpoint *eps[N];
    refused(eps, N);
    motan__guard_cfg cfg = cfg_of("maxEjectionPercent=100&outlierLatencyFactor=1.5&"
                                  "outlierLatencyMin=0",
                                  NULL);
    motan__guard *g = guard_on(&cfg, eps, N);
    ck_assert_uint_eq(g->cap, N - 1);
    int prev = 0, rounds = 0;
    for (int round = 1; round <= 30; round++) {
        for (int i = 0; i < N; i++)
            if (!ejected(g, eps[i]))
                feed(g, eps[i], 20, 0, 1000u << i);
        pick(g, eps, N, NULL, 0, T0 + (uint64_t)round * SEC);
        int now = count_ejected(g, eps, N);
        ck_assert_int_le(now, N - 1);
        if (now > prev)
            rounds = round;
        prev = now;
    }
    ck_assert_int_gt(prev, 0);
    ck_assert_int_le(prev, N - 1);
    ck_assert_int_eq(ejected(g, eps[0]), 0); /* the best one always stays */
    ck_assert_int_lt(rounds, 30);             /* and it settled */
    /* Every call still finds an endpoint that is in. */
    int counts[N];
    count_picks(g, eps, N, T0 + 31 * SEC, 1000, counts);
    for (int i = 0; i < N; i++)
        if (ejected(g, eps[i]))
            ck_assert_int_eq(counts[i], 0);
    motan__guard_free(g);

    /* The last available endpoint stays even when it is the outlier: the others are fused. */
    motan_endpoint *five[5];
    refused(five, 5);
    for (int i = 0; i < 4; i++)
        tu_eps_fuse(five[i]);
    g = guard_on(&cfg, five, 5);
    feed_all(g, five, 4, 20, 0, 1000);
    feed(g, five[4], 20, 0, 100000);
    pick(g, five, 5, NULL, 0, T0 + SEC);
    ck_assert_int_eq(count_ejected(g, five, 5), 0);
    for (int k = 0; k < 100; k++)
        ck_assert_ptr_eq(pick(g, five, 5, NULL, 0, T0 + SEC), five[4]);
    motan__guard_free(g);
}
END_TEST

START_TEST(test_eject_grows_and_returns)
{
    motan_endpoint *eps[10];
    refused(eps, 10);
    motan__guard_cfg cfg =
        cfg_of("outlierEjectionTime=30000&slowStartWindow=10000", NULL);
    motan__guard *g = guard_on(&cfg, eps, 10);
    uint64_t t = T0;
    /* One window: eps[9] is slow. */
#define WINDOW(slow_us)                                                                           \
    do {                                                                                         \
        for (int i = 0; i < 9; i++)                                                              \
            feed(g, eps[i], 20, 0, 1000);                                                        \
        if (!ejected(g, eps[9]))                                                                 \
            feed(g, eps[9], 20, 0, slow_us);                                                     \
        t += SEC;                                                                                \
        pick(g, eps, 10, NULL, 0, t);                                                            \
    } while (0)
    WINDOW(100000);
    ck_assert_int_eq(ejected(g, eps[9]), 1);
    uint64_t out_at = t;
    /* Out for 30 s (1 x outlierEjectionTime), then back, ramping. */
    while (t < out_at + 29 * SEC) {
        WINDOW(100000);
        ck_assert_int_eq(ejected(g, eps[9]), 1);
    }
    WINDOW(100000);
    ck_assert_int_eq(ejected(g, eps[9]), 0);
    ck_assert_uint_ne(motan__guard_rec(g, eps[9])->ramp_since, 0);
    int counts[10];
    count_picks(g, eps, 10, t, PICKS, counts);
    assert_share(counts[9], PICKS, 0.1 * 0.1, 0.01, "back, ramping");
    /* Still slow: out again, now for 60 s (2 x). */
    WINDOW(100000);
    ck_assert_int_eq(ejected(g, eps[9]), 1);
    out_at = t;
    while (t < out_at + 59 * SEC) {
        WINDOW(100000);
        ck_assert_int_eq(ejected(g, eps[9]), 1);
    }
    WINDOW(100000);
    ck_assert_int_eq(ejected(g, eps[9]), 0);
    ck_assert_uint_eq(motan__guard_rec(g, eps[9])->ejections, 2);
    /* Healthy windows take the count back down, one per window. */
    WINDOW(1000);
    WINDOW(1000);
    ck_assert_uint_eq(motan__guard_rec(g, eps[9])->ejections, 0);
    /* Ramp over after slowStartWindow: the full share. */
    t += 10 * SEC;
    count_picks(g, eps, 10, t, PICKS, counts);
    assert_share(counts[9], PICKS, 0.1, 0.03, "back, full share");
#undef WINDOW
    motan__guard_free(g);
}
END_TEST

START_TEST(test_eject_fallback_and_list_changes)
{
    motan_endpoint *eps[10];
    refused(eps, 10);
    motan__guard_cfg cfg = cfg_of("maxEjectionPercent=20", NULL);
    motan__guard *g = guard_on(&cfg, eps, 10);
    feed_all(g, eps, 8, 20, 0, 1000);
    feed(g, eps[8], 20, 0, 100000);
    feed(g, eps[9], 20, 0, 100000);
    pick(g, eps, 10, NULL, 0, T0 + SEC);
    ck_assert_int_eq(count_ejected(g, eps, 10), 2);
    /* Every endpoint in was tried: a tried one again rather than an ejected one... */
    for (int k = 0; k < 100; k++) {
        motan_endpoint *e = pick(g, eps, 10, eps, 8, T0 + SEC);
        ck_assert_int_lt(index_of(e, eps, 10), 8);
    }
    /* ...and with only ejected ones qualifying, one of them rather than none. */
    for (int i = 0; i < 8; i++)
        tu_eps_fuse(eps[i]);
    for (int k = 0; k < 100; k++)
        ck_assert_int_ge(index_of(pick(g, eps, 10, NULL, 0, T0 + SEC), eps, 10), 8);
    /* A new list keeps the records of kept endpoints; removed ones are forgotten. */
    motan_endpoint *next[3] = {eps[9], eps[0], tu_eps_refused(NULL)};
    motan__guard_sync(g, next, 3, T0 + SEC);
    ck_assert_int_eq(ejected(g, eps[9]), 1);
    ck_assert_ptr_null(motan__guard_rec(g, eps[8]));
    ck_assert_uint_eq(g->nejected, 1);
    ck_assert_uint_eq(g->cap, 0); /* 20 % of 3 */
    motan__guard_free(g);
}
END_TEST

/* ---- parameters ------------------------------------------------------------------------ */

START_TEST(test_params)
{
    motan__guard_cfg cfg = cfg_of("", NULL);
    ck_assert_int_eq(cfg.max_eject_pct, 10);
    ck_assert_uint_eq(cfg.interval_us, 1000000);
    ck_assert_uint_eq(cfg.min_requests, 10);
    ck_assert_double_eq_tol(cfg.error_excess, 0.3, 1e-9);
    ck_assert_double_eq_tol(cfg.latency_factor, 5, 1e-9);
    ck_assert_uint_eq(cfg.latency_min_us, 10000);
    ck_assert_uint_eq(cfg.eject_us, 30000000);
    ck_assert_uint_eq(cfg.slow_start_us, 0);
    ck_assert_double_eq_tol(cfg.budget_ratio, 0.2, 1e-9);
    ck_assert_double_eq_tol(cfg.budget_min, 10, 1e-9);
    cfg = cfg_of("retryBudgetRatio=0.05&retryBudgetMin=2.5&slowStartWindow=500", NULL);
    ck_assert_double_eq_tol(cfg.budget_ratio, 0.05, 1e-9);
    ck_assert_double_eq_tol(cfg.budget_min, 2.5, 1e-9);
    ck_assert_uint_eq(cfg.slow_start_us, 500000);
    static const struct {
        const char *params, *says;
    } bad[] = {
        {"retryBudgetRatio=abc", "retryBudgetRatio=abc is not a number"},
        {"retryBudgetRatio=-0.1", "out of range"},
        {"maxEjectionPercent=101", "maxEjectionPercent=101 is out of range 0..100"},
        {"maxEjectionPercent=5.5", "is not an integer"},
        {"ewmaDecay=0", "ewmaDecay=0 is out of range"},
        {"outlierLatencyFactor=0.5", "outlierLatencyFactor"},
        {"slowStartWindow=10s", "slowStartWindow=10s is not an integer"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], err[256] = "";
        snprintf(text, sizeof(text), "motan2://127.0.0.1:1/svc?%s", bad[i].params);
        motan_url *u = tu_url(text);
        ck_assert_msg(motan__guard_cfg_parse(u, &cfg, err, sizeof(err)) == MOTAN_EURL, "%s accepted",
                      bad[i].params);
        ck_assert_msg(strstr(err, bad[i].says), "%s: %s", bad[i].params, err);
        motan_url_free(u);
    }
}
END_TEST

static Suite *guard_suite(void)
{
    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("guard");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_budget_arithmetic);
    tcase_add_test(tc, test_slow_start_factor);
    tcase_add_test(tc, test_slow_start_shares_over_time);
    tcase_add_test(tc, test_eject_latency_outlier_within_cap);
    tcase_add_test(tc, test_eject_error_outlier);
    tcase_add_test(tc, test_eject_all_bad_one_stays);
    tcase_add_test(tc, test_eject_grows_and_returns);
    tcase_add_test(tc, test_eject_fallback_and_list_changes);
    tcase_add_test(tc, test_params);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(guard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
