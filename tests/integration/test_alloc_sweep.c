/*
 * Allocation-failure sweep: for every k, the k-th libmotan allocation of a scenario fails
 * (once), and the scenario must still hold every promise: no crash, no hang, every accepted
 * call completed exactly once, constructors that fail say why in errbuf, and nothing leaks
 * (the hooks count live blocks; `make sweep-valgrind` runs the same sweep under memcheck).
 *
 * Scenarios: a blocking call, big bytes answers kept as views, async calls, submit/poll, client new/free with a file
 * registry, and failover across a killed server. MOTAN_SWEEP_STRIDE=n tries every n-th k
 * only (the default, 1, is every k).
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"

static tu_server g_srv, g_dead;
static char g_url[256], g_failover_url[512], g_file_url[512], g_file[256];

/* libevent's own allocations, counted too: a leak of an evbuffer or an event shows. */
static atomic_long g_ev_live;

static void *ev_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&g_ev_live, 1);
    return p;
}

static void *ev_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&g_ev_live, 1);
    return q;
}

static void ev_free(void *p)
{
    if (p)
        atomic_fetch_sub(&g_ev_live, 1);
    free(p);
}

/* The k being tried, for the crash report. */
static volatile sig_atomic_t g_k;
static const char *volatile g_scenario = "";

static void on_crash(int sig)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "alloc sweep: signal %d in scenario %s at k=%d\n", sig,
                     g_scenario, (int)g_k);
    (void)!write(2, msg, (size_t)n);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void setup(void)
{
    const char *args[] = {"--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
    snprintf(g_url, sizeof(g_url),
             "motan2://127.0.0.1:%d/com.example.EchoService?connections=1&requestTimeout=250",
             g_srv.port);
    /* A port nobody listens on any more: a killed server. */
    ck_assert_int_eq(tu_server_start(&g_dead, args), 0);
    int dead_port = g_dead.port;
    tu_server_kill(&g_dead);
    snprintf(g_failover_url, sizeof(g_failover_url),
             "motan2://127.0.0.1:%d,127.0.0.1:%d/com.example.EchoService?connections=1&"
             "requestTimeout=250&haStrategy=failover&retries=1&loadbalance=roundrobin&"
             "errorCountThreshold=0",
             dead_port, g_srv.port);
    snprintf(g_file, sizeof(g_file), "/tmp/motan-sweep-%d.json", (int)getpid());
    FILE *f = fopen(g_file, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"services\":{\"com.example.EchoService\":{\"default_rpc\":[\"127.0.0.1:%d\"]}}}\n",
            g_srv.port);
    fclose(f);
    snprintf(g_file_url, sizeof(g_file_url),
             "file://%s/com.example.EchoService?connections=1&requestTimeout=250&interval=50",
             g_file);
    signal(SIGSEGV, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGBUS, on_crash);
}

static void teardown(void)
{
    unlink(g_file);
    ck_assert_int_eq(tu_server_stop(&g_srv), 0);
}

/* A new client, or NULL after checking that the failure was explained. */
static motan_client *client(const char *url)
{
    char err[256] = "";
    motan_client *c = NULL;
    int rc = motan_client_new(url, &c, err, sizeof(err));
    if (rc != MOTAN_OK) {
        ck_assert_msg(c == NULL, "k=%d: a failed motan_client_new left a client", (int)g_k);
        ck_assert_msg(err[0], "k=%d: motan_client_new failed with %s and an empty errbuf",
                      (int)g_k, motan_errname(rc));
        return NULL;
    }
    return c;
}

static motan_request *echo_request(motan_client *c, int i)
{
    motan_request *r = motan_client_request(c, "echo");
    if (r) {
        motan_value *v = motan_value_new_int32(motan_request_arena(r), i);
        if (v)
            motan_request_add_arg(r, v);
    }
    return r;
}

static int v_is_bytes(const motan_response *r)
{
    return motan_value_type(motan_response_get_value(r)) == MOTAN_T_BYTES;
}

/* ---- scenarios: each runs once with the k-th allocation failing ------------------------ */

/* n blocking calls through a client for url: each returns once, with a response. */
static void blocking_calls(const char *url, int n)
{
    motan_client *c = client(url);
    if (!c)
        return;
    for (int i = 0; i < n; i++) {
        motan_request *r = echo_request(c, i);
        if (!r)
            continue;
        motan_response *resp = NULL;
        int rc = motan_client_call(c, r, &resp);
        ck_assert_msg(resp != NULL, "k=%d: a blocking call returned %s without a response",
                      (int)g_k, motan_errname(rc));
        ck_assert_int_eq(rc, motan_response_get_code(resp));
        motan_response_free(resp);
        motan_request_free(r);
    }
    motan_client_free(c);
}

static void sc_blocking(void) { blocking_calls(g_url, 2); }

/*
 * Big bytes answers, which a response keeps as views into the received memory: three calls
 * whose responses all live until the end, where each still holds its own bytes.
 */
static void sc_big_views(void)
{
    enum { N = 3, BIG = 70 * 1024 };
    motan_client *c = client(g_url);
    if (!c)
        return;
    motan_response *kept[N] = {NULL};
    static uint8_t blob[BIG];
    for (int i = 0; i < N; i++) {
        motan_request *r = motan_client_request(c, "echo");
        if (!r)
            continue;
        memset(blob, 'a' + i, sizeof(blob));
        motan_value *v = motan_value_new_bytes(motan_request_arena(r), blob, sizeof(blob));
        if (v)
            motan_request_add_arg(r, v);
        int rc = motan_client_call(c, r, &kept[i]);
        ck_assert_msg(kept[i] != NULL, "k=%d: a blocking call returned %s without a response",
                      (int)g_k, motan_errname(rc));
        ck_assert_int_eq(rc, motan_response_get_code(kept[i]));
        motan_request_free(r);
    }
    for (int i = 0; i < N; i++) {
        size_t len = 0;
        const char *d = NULL;
        if (!kept[i])
            continue; /* its request could not be made */
        if (motan_response_get_code(kept[i]) == MOTAN_OK && v_is_bytes(kept[i]))
            d = motan_value_get_data(motan_response_get_value(kept[i]), &len);
        size_t j = 0; /* one assertion, not one per byte (each is a message to check's parent) */
        while (d && j < len && d[j] == 'a' + i)
            j++;
        ck_assert_msg(!d || j == len, "k=%d: answer %d byte %zu is 0x%02x", (int)g_k, i, j,
                      (unsigned char)d[j]);
        ck_assert(!d || len == BIG);
        motan_response_free(kept[i]);
    }
    motan_client_free(c);
}

/* Async calls: the callback of every accepted call runs exactly once, before the free ends. */
typedef struct acall {
    atomic_int runs;
} acall;

static void acall_cb(motan_response *r, void *ud)
{
    acall *a = ud;
    ck_assert_msg(r != NULL, "k=%d: a callback got no response", (int)g_k);
    motan_response_free(r);
    atomic_fetch_add(&a->runs, 1);
}

static void sc_async(void)
{
    motan_client *c = client(g_url);
    if (!c)
        return;
    enum { N = 4 };
    acall calls[N];
    motan_request *reqs[N] = {NULL};
    int accepted[N] = {0};
    for (int i = 0; i < N; i++) {
        atomic_init(&calls[i].runs, 0);
        reqs[i] = echo_request(c, i);
        if (reqs[i])
            accepted[i] = motan_client_call_async(c, reqs[i], acall_cb, &calls[i]) == MOTAN_OK;
    }
    uint64_t end = motan_now_us() + 5000000;
    for (int i = 0; i < N; i++)
        while (accepted[i] && atomic_load(&calls[i].runs) == 0 && motan_now_us() < end)
            usleep(200);
    motan_client_free(c);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(atomic_load(&calls[i].runs) == accepted[i],
                      "k=%d: async call %d (accepted %d) completed %d times", (int)g_k, i,
                      accepted[i], atomic_load(&calls[i].runs));
        motan_request_free(reqs[i]);
    }
}

/* submit/poll: every accepted tag comes back exactly once. */
static void sc_submit_poll(void)
{
    motan_client *c = client(g_url);
    if (!c)
        return;
    enum { N = 8 };
    motan_request *reqs[N] = {NULL};
    int accepted[N] = {0}, seen[N] = {0}, want = 0;
    for (int i = 0; i < N; i++) {
        reqs[i] = echo_request(c, i);
        if (reqs[i] && motan_client_submit(c, reqs[i], (uint64_t)i) == MOTAN_OK) {
            accepted[i] = 1;
            want++;
        }
    }
    int got = 0;
    uint64_t end = motan_now_us() + 5000000;
    while (got < want && motan_now_us() < end) {
        motan_response *resp = NULL;
        uint64_t tag = 99;
        int n = motan_client_poll(c, 100, &resp, &tag);
        ck_assert_msg(n >= 0, "k=%d: poll failed with %s", (int)g_k, motan_errname(n));
        if (n == 0)
            continue;
        ck_assert_msg(resp != NULL, "k=%d: poll returned tag %llu without a response", (int)g_k,
                      (unsigned long long)tag);
        ck_assert_msg(tag < N && accepted[tag] && !seen[tag], "k=%d: tag %llu polled unexpectedly",
                      (int)g_k, (unsigned long long)tag);
        seen[tag] = 1;
        got++;
        motan_response_free(resp);
    }
    ck_assert_msg(got == want, "k=%d: %d of %d submitted calls came back from poll", (int)g_k, got,
                  want);
    motan_client_free(c);
    for (int i = 0; i < N; i++)
        motan_request_free(reqs[i]);
}

/* A file registry: new, wait for its list, one call, free. */
static void sc_file_registry(void)
{
    motan_client *c = client(g_file_url);
    if (!c)
        return;
    motan_client_wait_ready(c, 100);
    motan_request *r = echo_request(c, 1);
    if (r) {
        motan_response *resp = NULL;
        motan_client_call(c, r, &resp);
        ck_assert_msg(resp != NULL, "k=%d: no response", (int)g_k);
        motan_response_free(resp);
        motan_request_free(r);
    }
    motan_client_free(c);
}

/* Failover: round robin sends every other call to the killed server first. */
static void sc_failover(void) { blocking_calls(g_failover_url, 3); }

/* ---- the sweep ------------------------------------------------------------------------ */

static unsigned long stride(void)
{
    const char *s = getenv("MOTAN_SWEEP_STRIDE");
    long v = s ? atol(s) : 1;
    return v > 0 ? (unsigned long)v : 1;
}

static void sweep(const char *name, void (*scenario)(void))
{
    g_scenario = name;
    /* How many allocations a clean run makes (they vary a little with timing). */
    g_k = 0;
    tu_fail_alloc_start(0);
    long live0 = tu_fail_alloc_live();
    scenario();
    unsigned long total = tu_fail_alloc_seen();
    ck_assert_msg(tu_fail_alloc_live() == live0, "%s: %ld blocks leaked by a clean run", name,
                  tu_fail_alloc_live() - live0);
    ck_assert_uint_gt(total, 10);
    unsigned long step = stride(), tried = 0, fired = 0;
    uint64_t t0 = motan_now_us();
    for (unsigned long k = 1; k <= total + 10; k += step) {
        g_k = (sig_atomic_t)k;
        tu_fail_alloc_start(k);
        long before = tu_fail_alloc_live(), ev_before = atomic_load(&g_ev_live);
        uint64_t r0 = motan_now_us();
        scenario();
        if (getenv("MOTAN_SWEEP_SLOW") && motan_now_us() - r0 > 100000)
            fprintf(stderr, "alloc sweep %s: k=%lu took %.0f ms\n", name, k,
                    (double)(motan_now_us() - r0) / 1000);
        tried++;
        fired += tu_fail_alloc_fired() != 0;
        long leaked = tu_fail_alloc_live() - before;
        ck_assert_msg(leaked == 0, "%s: k=%lu leaked %ld blocks", name, k, leaked);
        leaked = atomic_load(&g_ev_live) - ev_before;
        ck_assert_msg(leaked == 0, "%s: k=%lu leaked %ld libevent blocks", name, k, leaked);
    }
    tu_fail_alloc_stop();
    fprintf(stderr, "alloc sweep %s: %lu allocations, %lu runs (%lu failed one), %.1f s\n", name,
            total, tried, fired, (double)(motan_now_us() - t0) / 1e6);
}

START_TEST(sweep_blocking) { sweep("blocking call", sc_blocking); }
END_TEST

START_TEST(sweep_big_views) { sweep("big bytes answers kept as views", sc_big_views); }
END_TEST

START_TEST(sweep_async) { sweep("async calls", sc_async); }
END_TEST

START_TEST(sweep_submit_poll) { sweep("submit/poll", sc_submit_poll); }
END_TEST

START_TEST(sweep_file_registry) { sweep("file registry new/free", sc_file_registry); }
END_TEST

START_TEST(sweep_failover) { sweep("failover across a killed server", sc_failover); }
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("alloc_sweep");
    TCase *tc = tcase_create("alloc_sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sweep_blocking);
    tcase_add_test(tc, sweep_big_views);
    tcase_add_test(tc, sweep_async);
    tcase_add_test(tc, sweep_submit_poll);
    tcase_add_test(tc, sweep_file_registry);
    tcase_add_test(tc, sweep_failover);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    event_set_mem_functions(ev_malloc, ev_realloc, ev_free); /* before libevent allocates */
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(sweep_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
