/*
 * What issue 19 promises about the call path, against the test server: a warm call
 * allocates nothing in libmotan (blocking, async, pull queue, caller's loop; with and
 * without the metrics filter), counted through motan_set_allocator.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"

static tu_server g_srv;
static char g_url[256];

static void setup(void)
{
    const char *args[] = {"--name", "s0", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
    snprintf(g_url, sizeof(g_url), "motan2://127.0.0.1:%d/com.example.EchoService", g_srv.port);
}

static void teardown(void) { ck_assert_int_eq(tu_server_stop(&g_srv), 0); }

static motan_client *client_for(const char *params)
{
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s?%s", g_url, params);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s: %s", url, err);
    return c;
}

static motan_request *echo_request(motan_client *c, size_t size)
{
    motan_request *r = motan_client_request(c, "echo");
    char *blob = malloc(size + 1);
    memset(blob, 'x', size);
    blob[size] = '\0';
    ck_assert_int_eq(motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), blob, size)),
                     MOTAN_OK);
    free(blob);
    return r;
}

/* ---- allocation-free warm calls ------------------------------------------------------------ */

/*
 * Pools grow to the most records ever live at once: with 8 calls in flight that is up to
 * 16 (a round's records may not be back yet when the next round starts), which a warm-up
 * of a few hundred calls reaches.
 */
enum { WARM = 400, COUNTED = 200 };

static void check_echo(motan_response *resp, size_t size)
{
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    size_t len = 0;
    const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, size);
}

/* Allocations of n blocking calls after WARM of them. */
static unsigned long long blocking_allocs(const char *params, size_t size, int n)
{
    motan_client *c = client_for(params);
    motan_request *r = echo_request(c, size);
    tu_count_allocs_start(); /* empties the caches: the warm-up fills them under these hooks */
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM)
            tu_count_allocs_reset();
        motan_response *resp = NULL;
        motan_client_call(c, r, &resp);
        check_echo(resp, size);
        motan_response_free(resp);
    }
    unsigned long long allocs = tu_allocs();
    tu_count_allocs_stop();
    motan_request_free(r);
    motan_client_free(c);
    return allocs;
}

START_TEST(test_blocking_calls_allocate_nothing)
{
    unsigned long long plain = blocking_allocs("requestTimeout=3000", 16, COUNTED);
    unsigned long long metrics = blocking_allocs("requestTimeout=3000&filter=metrics", 16, COUNTED);
    unsigned long long kib = blocking_allocs("requestTimeout=3000", 1024, COUNTED);
    ck_assert_msg(plain == 0 && metrics == 0 && kib == 0,
                  "allocations in %d warm blocking calls: %llu, with filter=metrics %llu, 1 KiB %llu",
                  COUNTED, plain, metrics, kib);
}
END_TEST

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, bad;
} counter;

static void count_cb(motan_response *resp, void *ud)
{
    counter *k = ud;
    int ok = motan_response_get_code(resp) == MOTAN_OK;
    motan_response_free(resp);
    pthread_mutex_lock(&k->mu);
    k->done++;
    k->bad += !ok;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void wait_count(counter *k, int target)
{
    pthread_mutex_lock(&k->mu);
    while (k->done < target)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
}

/* Async calls on the built-in loop, 8 in flight at a time. */
static unsigned long long async_allocs(const char *params, int n)
{
    motan_client *c = client_for(params);
    motan_request *r = echo_request(c, 16);
    counter k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    tu_count_allocs_start();
    int sent = 0;
    for (int round = 0; round < (WARM + n) / 8; round++) {
        if (round == WARM / 8)
            tu_count_allocs_reset();
        for (int i = 0; i < 8; i++, sent++)
            ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &k), MOTAN_OK);
        wait_count(&k, sent);
    }
    unsigned long long allocs = tu_allocs();
    tu_count_allocs_stop();
    ck_assert_int_eq(k.bad, 0);
    motan_request_free(r);
    motan_client_free(c);
    return allocs;
}

/* The pull queue: submit 8, poll 8. */
static unsigned long long queue_allocs(const char *params, int n)
{
    motan_client *c = client_for(params);
    motan_request *r = echo_request(c, 16);
    tu_count_allocs_start();
    for (int round = 0; round < (WARM + n) / 8; round++) {
        if (round == WARM / 8)
            tu_count_allocs_reset();
        for (int i = 0; i < 8; i++)
            ck_assert_int_eq(motan_client_submit(c, r, (uint64_t)i), MOTAN_OK);
        for (int i = 0; i < 8; i++) {
            motan_response *resp = NULL;
            ck_assert_int_eq(motan_client_poll(c, 5000, &resp, NULL), 1);
            check_echo(resp, 16);
            motan_response_free(resp);
        }
    }
    unsigned long long allocs = tu_allocs();
    tu_count_allocs_stop();
    motan_request_free(r);
    motan_client_free(c);
    return allocs;
}

START_TEST(test_async_and_queued_calls_allocate_nothing)
{
    unsigned long long a = async_allocs("requestTimeout=3000", COUNTED);
    unsigned long long am = async_allocs("requestTimeout=3000&filter=metrics", COUNTED);
    unsigned long long q = queue_allocs("requestTimeout=3000", COUNTED);
    unsigned long long qm = queue_allocs("requestTimeout=3000&filter=metrics", COUNTED);
    ck_assert_msg(a == 0 && am == 0 && q == 0 && qm == 0,
                  "allocations in %d warm calls: async %llu (metrics %llu), submit/poll %llu "
                  "(metrics %llu)", COUNTED, a, am, q, qm);
}
END_TEST

static void loop_cb(motan_response *resp, void *ud)
{
    int *done = ud;
    if (motan_response_get_code(resp) == MOTAN_OK)
        (*done)++;
    motan_response_free(resp);
}

/* Async calls on the caller's event_base (this thread runs it). */
static unsigned long long caller_loop_allocs(const char *params, int n)
{
    tu_env env;
    tu_env_init(&env);
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s?%s", g_url, params);
    motan_client *c;
    ck_assert_int_eq(motan_client_new_with_base(env.base, url, &c, err, sizeof(err)), MOTAN_OK);
    motan_request *r = echo_request(c, 16);
    int done = 0;
    tu_count_allocs_start();
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM)
            tu_count_allocs_reset();
        ck_assert_int_eq(motan_client_call_async(c, r, loop_cb, &done), MOTAN_OK);
        ck_assert(tu_run_until(&env, &done, i + 1, 5000));
    }
    unsigned long long allocs = tu_allocs();
    tu_count_allocs_stop();
    motan_request_free(r);
    motan_client_free(c);
    tu_env_free(&env);
    return allocs;
}

START_TEST(test_caller_loop_calls_allocate_nothing)
{
    unsigned long long plain = caller_loop_allocs("requestTimeout=3000", COUNTED);
    unsigned long long metrics = caller_loop_allocs("requestTimeout=3000&filter=metrics", COUNTED);
    ck_assert_msg(plain == 0 && metrics == 0,
                  "allocations in %d warm calls on the caller's loop: %llu, metrics %llu", COUNTED,
                  plain, metrics);
}
END_TEST

static Suite *perf_suite(void)
{
    Suite *s = suite_create("perf_paths");
    TCase *tc = tcase_create("warm");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_blocking_calls_allocate_nothing);
    tcase_add_test(tc, test_async_and_queued_calls_allocate_nothing);
    tcase_add_test(tc, test_caller_loop_calls_allocate_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(perf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
