/*
 * The repeat mode of `motan call` (tools/motan/call_repeat.c and call_stats.c), driven
 * directly: the statistics (nearest-rank percentiles, the count per error code, the summary
 * line) and the ownership of requests when calls fail to start. The sweep fails the k-th
 * allocation the run makes on its own thread, for every k: each run must still end, count
 * every call exactly once and never free a request the library still borrows (the CLI
 * suite runs this file under valgrind, `make asan` under ASan, which see such a free).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "server_proc.h"

/* ---- statistics ------------------------------------------------------------------------ */

/* The summary line of s over seconds is exactly want. */
static void expect_summary(const cli_stats *s, double seconds, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    cli_stats_print(s, seconds, f);
    fclose(f);
    ck_assert_str_eq(text, want);
    free(text);
}

START_TEST(test_percentiles_exact)
{
    cli_stats *s = cli_stats_new();
    ck_assert_uint_eq(cli_stats_percentile(s, 500), 0);
    /* 1..200 (below 256 us every latency has a bucket of its own), in a scrambled order:
     * the rank-k latency is k */
    for (uint64_t i = 0; i < 200; i++)
        cli_stats_add(s, MOTAN_OK, (i * 7919) % 200 + 1);
    ck_assert_uint_eq(cli_stats_calls(s), 200);
    ck_assert_uint_eq(cli_stats_errors(s), 0);
    ck_assert_uint_eq(cli_stats_percentile(s, 500), 100);
    ck_assert_uint_eq(cli_stats_percentile(s, 990), 198);
    ck_assert_uint_eq(cli_stats_percentile(s, 999), 200); /* rank ceil(199.8) */
    ck_assert_uint_eq(cli_stats_percentile(s, 1000), 200);
    expect_summary(s, 0.5, "calls 200 ok 200 errors 0 rps 400 p50_us 100 p99_us 198 p999_us 200 "
                           "max_us 200\n");
    cli_stats_free(s);
}
END_TEST

START_TEST(test_percentiles_small_and_large)
{
    cli_stats *s = cli_stats_new();
    cli_stats_add(s, MOTAN_OK, 301);
    /* one call: every percentile is that call, even inside a 2-wide bucket */
    ck_assert_uint_eq(cli_stats_percentile(s, 500), 301);
    ck_assert_uint_eq(cli_stats_percentile(s, 999), 301);
    cli_stats_free(s);

    s = cli_stats_new();
    for (int i = 0; i < 99; i++)
        cli_stats_add(s, MOTAN_OK, 40);
    cli_stats_add(s, MOTAN_ETIMEOUT, 5000000); /* 5 s */
    ck_assert_uint_eq(cli_stats_percentile(s, 500), 40);
    ck_assert_uint_eq(cli_stats_percentile(s, 990), 40);
    ck_assert_uint_eq(cli_stats_percentile(s, 999), 5000000);
    cli_stats_free(s);

    /* above 256 us: within 1/128 of the true value, never below it, never above max */
    s = cli_stats_new();
    const uint64_t vals[] = {257, 1000, 123456, 987654321, 1ULL << 40, UINT64_MAX - 1};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        cli_stats_add(s, MOTAN_OK, vals[i]);
        uint64_t got = cli_stats_percentile(s, 1000);
        ck_assert_uint_eq(got, vals[i]); /* the max is exact */
        cli_stats *one = cli_stats_new();
        cli_stats_add(one, MOTAN_OK, vals[i]);
        cli_stats_add(one, MOTAN_OK, UINT64_MAX);
        uint64_t p50 = cli_stats_percentile(one, 500);
        ck_assert_uint_ge(p50, vals[i]);
        ck_assert_uint_le(p50 - vals[i], vals[i] / 128);
        cli_stats_free(one);
    }
    cli_stats_free(s);
}
END_TEST

START_TEST(test_summary_counts_per_code)
{
    cli_stats *s = cli_stats_new();
    cli_stats_add(s, MOTAN_OK, 10);
    cli_stats_add(s, MOTAN_ECONNECT, 10);
    cli_stats_add(s, MOTAN_ETIMEOUT, 10);
    cli_stats_add(s, -40, 10); /* no such code */
    cli_stats_add(s, MOTAN_OK, 10);
    cli_stats_add(s, MOTAN_ETIMEOUT, 10);
    cli_stats_add(s, MOTAN_ENOMEM, 10);
    cli_stats_add(s, 7, 10);   /* nor this */
    cli_stats_add(s, MOTAN_EREMOTE, 10);
    ck_assert_uint_eq(cli_stats_calls(s), 9);
    ck_assert_uint_eq(cli_stats_errors(s), 7);
    /* the prefix of earlier versions, then the new fields; codes in their order */
    expect_summary(s, 3.0, "calls 9 ok 2 errors 7 rps 3 p50_us 10 p99_us 10 p999_us 10 max_us 10 "
                           "err_ENOMEM 1 err_ETIMEOUT 2 err_ECONNECT 1 err_EREMOTE 1 err_EUNKNOWN 2\n");
    cli_stats_free(s);
}
END_TEST

/* ---- runs against a test server ---------------------------------------------------------- */

static tu_server g_srv;

static void setup(void) { ck_assert_int_eq(tu_server_start(&g_srv, NULL), 0); }
static void teardown(void) { ck_assert_int_eq(tu_server_stop(&g_srv), 0); }

static motan_client *client(void)
{
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService?requestTimeout=5000",
             g_srv.port);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(motan_client_wait_ready(c, 5000), MOTAN_OK);
    return c;
}

typedef struct maker {
    motan_client *cl;
    const char *method;
    int made;
} maker;

static motan_request *make(void *ud, int *code)
{
    maker *m = ud;
    motan_request *r = motan_client_request(m->cl, m->method);
    motan_value *v = r ? motan_value_new_string(motan_request_arena(r), "0123456789abcdef", 16) : NULL;
    if (!v || motan_request_add_arg(r, v) != MOTAN_OK) {
        motan_request_free(r);
        *code = CLI_EDATA;
        return NULL;
    }
    m->made++;
    return r;
}

typedef struct result {
    int rc;
    char *out;
    long calls, ok, errors;
} result;

static result run(motan_client *cl, const char *method, long n, long c)
{
    result res = {0};
    size_t len = 0;
    FILE *f = open_memstream(&res.out, &len);
    ck_assert_ptr_nonnull(f);
    maker m = {cl, method, 0};
    res.rc = cli_call_repeat(cl, n, c, make, &m, f);
    fclose(f);
    res.calls = res.ok = res.errors = -1;
    if (len)
        ck_assert_int_eq(sscanf(res.out, "calls %ld ok %ld errors %ld ", &res.calls, &res.ok, &res.errors), 3);
    return res;
}

START_TEST(test_run_ok)
{
    motan_client *cl = client();
    result r = run(cl, "echo", 50, 4);
    ck_assert_int_eq(r.rc, CLI_OK);
    ck_assert_int_eq(r.calls, 50);
    ck_assert_int_eq(r.ok, 50);
    ck_assert_ptr_null(strstr(r.out, "err_"));
    ck_assert_int_eq(r.out[strlen(r.out) - 1], '\n');
    ck_assert_ptr_eq(strchr(r.out, '\n'), r.out + strlen(r.out) - 1); /* one line */
    free(r.out);
    /* -n 1 is a run too: the summary line, not the result */
    r = run(cl, "echo", 1, 1);
    ck_assert_int_eq(r.rc, CLI_OK);
    ck_assert_int_eq(r.calls, 1);
    free(r.out);
    motan_client_free(cl);
}
END_TEST

START_TEST(test_run_remote_errors)
{
    motan_client *cl = client();
    result r = run(cl, "fail", 20, 3);
    ck_assert_int_eq(r.rc, CLI_EDATA);
    ck_assert_int_eq(r.calls, 20);
    ck_assert_int_eq(r.errors, 20);
    ck_assert_msg(strstr(r.out, " err_EREMOTE 20\n"), "%s", r.out);
    free(r.out);
    motan_client_free(cl);
}
END_TEST

/* Fails the g_fail_at-th allocation libmotan makes on the thread of the run (0: none). */
static pthread_t g_run_thread;
static unsigned long g_allocs, g_fail_at;

static int refuse(void)
{
    if (!pthread_equal(pthread_self(), g_run_thread))
        return 0;
    return ++g_allocs == g_fail_at;
}

static void *sweep_malloc(size_t n) { return refuse() ? NULL : malloc(n); }
static void *sweep_realloc(void *p, size_t n) { return refuse() ? NULL : realloc(p, n); }

START_TEST(test_run_alloc_failure_sweep)
{
    enum { N = 12, C = 4 };
    int submit_failed_mid_run = 0, build_failed = 0;
    unsigned long k;
    g_run_thread = pthread_self();
    for (k = 1; k < 5000; k++) {
        motan_client *cl = client();
        g_allocs = 0;
        g_fail_at = k;
        motan_set_allocator(sweep_malloc, sweep_realloc, free);
        result r = run(cl, "echo", N, C);
        motan_set_allocator(NULL, NULL, NULL);
        int injected = g_allocs >= k;
        g_fail_at = 0;
        if (r.calls < 0) { /* no summary: a request could not be built, no call started */
            ck_assert_int_ne(r.rc, CLI_OK);
            build_failed++;
        } else {
            ck_assert_msg(r.calls == N && r.ok + r.errors == N, "k=%lu: %s", k, r.out);
            ck_assert_int_eq(r.rc == CLI_OK, r.errors == 0);
            if (r.errors && r.ok && strstr(r.out, "err_ENOMEM"))
                submit_failed_mid_run++;
        }
        free(r.out);
        motan_client_free(cl);
        if (!injected)
            break; /* the run made fewer than k allocations: every one has been failed once */
    }
    ck_assert_msg(k < 5000, "the sweep did not end");
    ck_assert_int_gt(build_failed, 0);
    /* a call failed to start while others were in flight: the path that once freed them */
    ck_assert_int_gt(submit_failed_mid_run, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_repeat");
    TCase *tc = tcase_create("stats");
    tcase_add_test(tc, test_percentiles_exact);
    tcase_add_test(tc, test_percentiles_small_and_large);
    tcase_add_test(tc, test_summary_counts_per_code);
    suite_add_tcase(s, tc);
    tc = tcase_create("run");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_run_ok);
    tcase_add_test(tc, test_run_remote_errors);
    tcase_add_test(tc, test_run_alloc_failure_sweep);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
