/*
 * What issue 19 promises about the call path, against the test server: a warm call
 * allocates nothing in libmotan (blocking, async, pull queue, caller's loop; with and
 * without the metrics filter), counted through motan_set_allocator; many clients and a
 * server share one loop thread, a client freed leaves the others working, and a child
 * process after fork() cannot use the parent's shared loop but can make its own; big bytes
 * written by reference outlive the call and the request they came from (freed, or its body
 * replaced) until they are written, byte for byte (frees are poisoned; also under memcheck);
 * big bytes answers are views into the received memory, which stays intact while any
 * response holding one lives, on whatever thread it is freed, and costs no allocation.
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
#include <motan/server.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"
#include "tu_proxy.h"

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

static motan_request *bytes_request(motan_client *c, size_t size, char fill)
{
    motan_request *r = motan_client_request(c, "echo");
    char *blob = malloc(size);
    memset(blob, fill, size);
    ck_assert_int_eq(motan_request_add_arg(r, motan_value_new_bytes(motan_request_arena(r), blob, size)),
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
enum { WARM = 400, COUNTED = 1000 };

/*
 * Allowed allocations in n warm calls: a few, however large n is, never some per call. A
 * caller woken in its callback can start its next call before the loop thread has given the
 * previous call's records back (they return after the callback): a pool of records (client,
 * cluster, loop task) then grows by one, once. One allocation in 200 blocking calls with
 * filter=metrics was seen once in five runs of the suite and not reproduced in 60 000 more
 * calls; the bound keeps the test from failing on such a one-time growth while any
 * allocation per call (n of them) still fails it. Under AddressSanitizer, which keeps no
 * freed responses (so that a response used after its free is still seen), each call
 * moreover allocates its response (the object, its arena block, metadata slots, endpoint).
 */
#define POOL_GROWTH 3ULL
#ifdef __SANITIZE_ADDRESS__
#define WARM_ALLOWED(n) ((unsigned long long)(n) * 4 + POOL_GROWTH)
/* A big answer's views also take a block record, unpooled under AddressSanitizer too, and
 * now and then new input memory: when the caller frees its answer after the loop thread's
 * next read, the held block is left behind with no pool to take the next one from (seen:
 * 2 over in one of ten runs). A sixth allocation a call still fails it. */
#define WARM_ALLOWED_VIEWS(n) \
    ((unsigned long long)(n) * 5 + (unsigned long long)(n) / 50 + POOL_GROWTH)
#else
#define WARM_ALLOWED(n) POOL_GROWTH
#define WARM_ALLOWED_VIEWS(n) POOL_GROWTH
#endif

static void check_echo(motan_response *resp, size_t size)
{
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    size_t len = 0;
    const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, size);
}

/*
 * libevent's own allocations (event_set_mem_functions, set in main before any event base):
 * the large ones made while counting. A chain added behind a referenced bytes value must be
 * sized for what it holds, not after that value (it was a 128 KiB malloc a call).
 */
enum { EV_LARGE = 32 * 1024 };
static atomic_int g_ev_counting;
static atomic_ullong g_ev_large;

static void ev_note(size_t n)
{
    if (n >= EV_LARGE && atomic_load(&g_ev_counting))
        atomic_fetch_add(&g_ev_large, 1);
}

static void *ev_malloc(size_t n)
{
    ev_note(n);
    return malloc(n);
}

static void *ev_realloc(void *p, size_t n)
{
    ev_note(n);
    return realloc(p, n);
}

static void ev_free(void *p) { free(p); }

/*
 * Allocations of n blocking calls after WARM of them; libevent's large ones over the same
 * calls are left in g_ev_large.
 */
static unsigned long long blocking_allocs(const char *params, size_t size, int n)
{
    motan_client *c = client_for(params);
    motan_request *r = size > 4096 ? bytes_request(c, size, 'b') : echo_request(c, size);
    tu_count_allocs_start(); /* empties the caches: the warm-up fills them under these hooks */
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM) {
            tu_count_allocs_reset();
            atomic_store(&g_ev_large, 0);
            atomic_store(&g_ev_counting, 1);
        }
        motan_response *resp = NULL;
        motan_client_call(c, r, &resp);
        check_echo(resp, size);
        motan_response_free(resp);
    }
    atomic_store(&g_ev_counting, 0);
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
    /* 64 KiB of bytes: the answer is a view into the received memory (a copy would need a
     * new arena block each time: pooled responses keep none that large). */
    unsigned long long big = blocking_allocs("requestTimeout=3000", 65536, COUNTED);
    unsigned long long ok = WARM_ALLOWED(COUNTED);
    ck_assert_msg(plain <= ok && metrics <= ok && kib <= ok && big <= WARM_ALLOWED_VIEWS(COUNTED),
                  "allocations in %d warm blocking calls: %llu, with filter=metrics %llu, 1 KiB %llu,"
                  " 64 KiB bytes %llu",
                  COUNTED, plain, metrics, kib, big);
}
END_TEST

START_TEST(test_big_bytes_make_no_big_libevent_chains)
{
    blocking_allocs("requestTimeout=3000", 65536, COUNTED);
    unsigned long long large = atomic_load(&g_ev_large);
    ck_assert_msg(large == 0, "%llu libevent allocations of %d bytes or more in %d calls of %d",
                  large, (int)EV_LARGE, (int)COUNTED, 65536);
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
    unsigned long long ok = WARM_ALLOWED(COUNTED);
    ck_assert_msg(a <= ok && am <= ok && q <= ok && qm <= ok,
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
    unsigned long long ok = WARM_ALLOWED(COUNTED);
    ck_assert_msg(plain <= ok && metrics <= ok,
                  "allocations in %d warm calls on the caller's loop: %llu, metrics %llu", COUNTED,
                  plain, metrics);
}
END_TEST

/* ---- shared loops ------------------------------------------------------------------------- */

/* Threads of this process (/proc/self/status). */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

/*
 * The thread count once it is want, or the last one read after 2 s: a joined thread leaves
 * /proc's count a moment after pthread_join has returned (the kernel clears its tid first).
 */
static int threads_become(int want)
{
    int n = thread_count();
    for (int i = 0; i < 200 && n != want; i++) {
        usleep(10000);
        n = thread_count();
    }
    return n;
}

/* The thread count when two reads 10 ms apart agree (a thread of an earlier test may still
 * be going away). */
static int threads_settled(void)
{
    int n = thread_count();
    for (int i = 0; i < 100; i++) {
        usleep(10000);
        int m = thread_count();
        if (m == n)
            break;
        n = m;
    }
    return n;
}

static void local_echo(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)ud;
    const motan_value *args = NULL;
    char err[128];
    if (motan_server_request_args(req, &args, err, sizeof(err)) != MOTAN_OK ||
        motan_value_count(args) != 1)
        motan_reply_error(reply, 500, 1, "bad args", 8);
    else
        motan_reply_send(reply, motan_value_at(args, 0));
}

static void echo_ok(motan_client *c, const char *text)
{
    motan_request *r = motan_client_request(c, "echo");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), text, strlen(text)));
    motan_response *resp = NULL;
    int rc = motan_client_call(c, r, &resp);
    ck_assert_msg(rc == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    size_t len = 0;
    const char *got = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert(!memcmp(got, text, len));
    motan_response_free(resp);
    motan_request_free(r);
}

enum { NCLIENTS = 12 };

START_TEST(test_clients_and_a_server_share_one_loop)
{
    char err[256], url[512];
    int threads0 = threads_settled();
    motan_loop *loop;
    ck_assert_int_eq(motan_loop_new(&loop, err, sizeof(err)), MOTAN_OK);
    motan_server *srv;
    ck_assert_int_eq(motan_server_new(loop, &srv, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(srv, "com.example.Local", "echo", local_echo, NULL), MOTAN_OK);
    int port = 0;
    ck_assert_msg(motan_server_listen(srv, "127.0.0.1:0", &port, err, sizeof(err)) == MOTAN_OK, "%s", err);
    /* Half the clients call the test server, half the server on the same loop. */
    motan_client *cs[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        if (i % 2)
            snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.Local?requestTimeout=3000", port);
        else
            snprintf(url, sizeof(url), "%s?requestTimeout=3000", g_url);
        ck_assert_msg(motan_client_new_on_loop(loop, url, &cs[i], err, sizeof(err)) == MOTAN_OK, "%s", err);
    }
    ck_assert_int_eq(threads_become(threads0 + 1), threads0 + 1); /* one loop thread for all */
    for (int i = 0; i < NCLIENTS; i++)
        echo_ok(cs[i], i % 2 ? "local" : "remote");
    /* A call in flight on client 2 while client 0 is freed: it completes as usual. */
    motan_request *slow = motan_client_request(cs[2], "sleep");
    motan_request_add_arg(slow, motan_value_new_int32(motan_request_arena(slow), 200));
    counter k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    ck_assert_int_eq(motan_client_call_async(cs[2], slow, count_cb, &k), MOTAN_OK);
    motan_client_free(cs[0]);
    motan_client_free(cs[1]);
    cs[0] = cs[1] = NULL;
    wait_count(&k, 1);
    ck_assert_int_eq(k.bad, 0);
    motan_request_free(slow);
    for (int i = 2; i < NCLIENTS; i++)
        echo_ok(cs[i], "still here");
    ck_assert_int_eq(threads_become(threads0 + 1), threads0 + 1);
    /* Blocking calls need another thread than the loop's; a shared loop's thread is no exception. */
    for (int i = 2; i < NCLIENTS; i++)
        motan_client_free(cs[i]);
    motan_server_free(srv);
    motan_loop_free(loop);
    ck_assert_int_eq(threads_become(threads0), threads0);
}
END_TEST

START_TEST(test_shared_loop_config_variant_and_errors)
{
    char err[256] = "", url[512];
    motan_client *c = (motan_client *)1;
    ck_assert_int_eq(motan_client_new_on_loop(NULL, g_url, &c, err, sizeof(err)), MOTAN_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, "no loop given");
    motan_loop *loop;
    ck_assert_int_eq(motan_loop_new(&loop, err, sizeof(err)), MOTAN_OK);
    snprintf(url, sizeof(url), "%s?requestTimout=5", g_url);
    ck_assert_int_eq(motan_client_new_on_loop(loop, url, &c, err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_nonnull(strstr(err, "did you mean"));
    motan_config *cfg;
    ck_assert_int_eq(motan_config_new(g_url, &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_request_timeout(cfg, 3000), MOTAN_OK);
    motan_client *a, *b;
    ck_assert_int_eq(motan_client_new_config_on_loop(cfg, loop, &a, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_client_new_config_on_loop(cfg, loop, &b, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_client_new_config_on_loop(NULL, loop, &c, err, sizeof(err)), MOTAN_EINVAL);
    motan_config_free(cfg);
    echo_ok(a, "a");
    echo_ok(b, "b");
    motan_client_free(a);
    echo_ok(b, "b after a");
    motan_client_free(b);
    motan_loop_free(loop);
}
END_TEST

/* A client on the caller's event_base through a shared motan_loop wrapping it. */
START_TEST(test_shared_caller_loop)
{
    tu_env env;
    tu_env_init(&env);
    char err[256], url[512];
    motan_loop *loop;
    ck_assert_int_eq(motan_loop_new_with_base(env.base, &loop, err, sizeof(err)), MOTAN_OK);
    snprintf(url, sizeof(url), "%s?requestTimeout=3000", g_url);
    motan_client *a, *b;
    ck_assert_int_eq(motan_client_new_on_loop(loop, url, &a, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_client_new_on_loop(loop, url, &b, err, sizeof(err)), MOTAN_OK);
    motan_request *r = echo_request(a, 16);
    motan_response *resp = NULL;
    ck_assert_int_eq(motan_client_call(a, r, &resp), MOTAN_EDEADLOCK); /* not a built-in loop */
    motan_response_free(resp);
    int done = 0;
    ck_assert_int_eq(motan_client_call_async(a, r, loop_cb, &done), MOTAN_OK);
    ck_assert_int_eq(motan_client_call_async(b, r, loop_cb, &done), MOTAN_OK);
    ck_assert(tu_run_until(&env, &done, 2, 5000));
    motan_client_free(a);
    ck_assert_int_eq(motan_client_call_async(b, r, loop_cb, &done), MOTAN_OK);
    ck_assert(tu_run_until(&env, &done, 3, 5000));
    motan_request_free(r);
    motan_client_free(b);
    motan_loop_free(loop);
    tu_env_free(&env);
}
END_TEST

START_TEST(test_fork_with_a_shared_loop)
{
    char err[256], url[512];
    snprintf(url, sizeof(url), "%s?requestTimeout=3000", g_url);
    motan_loop *loop;
    ck_assert_int_eq(motan_loop_new(&loop, err, sizeof(err)), MOTAN_OK);
    motan_client *a;
    ck_assert_int_eq(motan_client_new_on_loop(loop, url, &a, err, sizeof(err)), MOTAN_OK);
    echo_ok(a, "before fork");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child: the parent's loop and its clients refuse; a loop of its own works. */
        int code = 0;
        motan_request *r = echo_request(a, 16);
        motan_response *resp = NULL;
        if (motan_client_call(a, r, &resp) != MOTAN_EFORKED)
            code |= 1;
        motan_response_free(resp);
        motan_client *b = NULL;
        if (motan_client_new_on_loop(loop, url, &b, err, sizeof(err)) != MOTAN_EFORKED || b)
            code |= 2;
        motan_loop *mine;
        motan_client *c = NULL;
        if (motan_loop_new(&mine, err, sizeof(err)) != MOTAN_OK ||
            motan_client_new_on_loop(mine, url, &c, err, sizeof(err)) != MOTAN_OK)
            _exit(4);
        resp = NULL;
        if (motan_client_call(c, r, &resp) != MOTAN_OK)
            code |= 8;
        motan_response_free(resp);
        motan_request_free(r);
        motan_client_free(c);
        motan_loop_free(mine);
        motan_client_free(a); /* the parent's: only freed */
        motan_loop_free(loop);
        _exit(code);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    echo_ok(a, "after fork"); /* the parent's loop was not disturbed by the child */
    motan_client_free(a);
    motan_loop_free(loop);
}
END_TEST

/* ---- zero-copy lifetimes ------------------------------------------------------------------- */

enum { BIG = 4 << 20 }; /* far more than the sockets hold: part stays queued by reference */

/* What the in-process server saw: big string arguments, and whether each was all `fill`. */
static atomic_int g_big_seen, g_big_good;
static atomic_int g_fill;

static void check_big(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)ud;
    const motan_value *args = NULL;
    char err[128];
    size_t len = 0;
    const char *p = NULL;
    if (motan_server_request_args(req, &args, err, sizeof(err)) == MOTAN_OK &&
        motan_value_count(args) == 1)
        p = motan_value_get_data(motan_value_at(args, 0), &len);
    if (p && len == BIG) {
        int good = 1;
        for (size_t i = 0; i < len && good; i++)
            good = p[i] == (char)atomic_load(&g_fill);
        atomic_fetch_add(&g_big_seen, 1);
        atomic_fetch_add(&g_big_good, good);
    }
    motan_reply_send(reply, motan_value_new_null(motan_reply_arena(reply)));
}

typedef struct zc_env {
    motan_loop *sloop;
    motan_server *srv;
    tu_proxy *proxy;
    motan_client *c;
} zc_env;

/*
 * A client -> proxy -> in-process server (check_big) on a loop of its own. Calls that pass
 * have the client's 5 s (4 MiB through the proxy, behind up to three others, on a busy
 * 2-core machine); calls made while the proxy is frozen are meant to time out, sooner.
 */
enum { FROZEN_TIMEOUT_MS = 300 };
static void zc_open(zc_env *z)
{
    char err[256], url[256];
    ck_assert_int_eq(motan_loop_new(&z->sloop, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_new(z->sloop, &z->srv, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(z->srv, "com.example.Big", NULL, check_big, NULL), MOTAN_OK);
    int port = 0;
    ck_assert_int_eq(motan_server_listen(z->srv, "127.0.0.1:0", &port, err, sizeof(err)), MOTAN_OK);
    z->proxy = tu_proxy_start(port);
    snprintf(url, sizeof(url),
             "motan2://127.0.0.1:%d/com.example.Big?requestTimeout=5000&connections=1"
             "&errorCountThreshold=0", tu_proxy_port(z->proxy));
    ck_assert_int_eq(motan_client_new(url, &z->c, err, sizeof(err)), MOTAN_OK);
    atomic_store(&g_big_seen, 0);
    atomic_store(&g_big_good, 0);
}

static void zc_close(zc_env *z)
{
    motan_client_free(z->c);
    tu_proxy_stop(z->proxy);
    motan_server_free(z->srv);
    motan_loop_free(z->sloop);
}

static motan_request *big_request(motan_client *c, char fill, int prepared)
{
    motan_request *r = motan_client_request(c, "check");
    char *blob = malloc(BIG);
    memset(blob, fill, BIG);
    if (prepared) { /* a ready Simple body: one string */
        motan_buf *b = motan_buf_new(BIG + 8);
        motan_simple_write_string(b, blob, BIG);
        ck_assert_int_eq(motan_request_set_body(r, MOTAN_SER_SIMPLE, motan_buf_data(b), motan_buf_len(b)),
                         MOTAN_OK);
        motan_buf_free(b);
    } else {
        motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), blob, BIG));
    }
    free(blob);
    return r;
}

static void wait_seen(int n)
{
    for (int i = 0; i < 1000 && atomic_load(&g_big_seen) < n; i++)
        usleep(10000);
    int seen = atomic_load(&g_big_seen);
    ck_assert_int_eq(seen, n);
}

/* How many big arguments arrived intact. */
static int good_count(void) { return atomic_load(&g_big_good); }

/*
 * The call times out while most of its bytes wait, by reference, behind a peer that stopped
 * reading; the caller frees the request. When the peer reads again they still arrive intact.
 */
START_TEST(test_request_freed_before_its_bytes_are_written)
{
    tu_fail_alloc_start(0); /* frees are poisoned: a reference to freed memory shows */
    zc_env z;
    zc_open(&z);
    for (int prepared = 0; prepared < 2; prepared++) {
        tu_proxy_freeze(z.proxy, 1);
        char fill = prepared ? 'p' : 'a';
        atomic_store(&g_fill, fill);
        motan_request *r = big_request(z.c, fill, prepared);
        motan_request_set_timeout(r, FROZEN_TIMEOUT_MS);
        motan_response *resp = NULL;
        ck_assert_int_eq(motan_client_call(z.c, r, &resp), MOTAN_ETIMEOUT);
        motan_response_free(resp);
        motan_request_free(r);
        tu_proxy_freeze(z.proxy, 0);
        wait_seen(prepared + 1);
        ck_assert_int_eq(good_count(), prepared + 1);
    }
    zc_close(&z);
    ck_assert_int_eq(tu_fail_alloc_live(), 0); /* and the held bytes went with the last write */
    tu_fail_alloc_stop();
}
END_TEST

/* The same while the request lives on and gets a new body: the old one is kept until written. */
START_TEST(test_body_replaced_while_its_bytes_wait)
{
    tu_fail_alloc_start(0);
    zc_env z;
    zc_open(&z);
    tu_proxy_freeze(z.proxy, 1);
    atomic_store(&g_fill, 'o');
    motan_request *r = big_request(z.c, 'o', 1);
    motan_request_set_timeout(r, FROZEN_TIMEOUT_MS);
    motan_response *resp = NULL;
    ck_assert_int_eq(motan_client_call(z.c, r, &resp), MOTAN_ETIMEOUT);
    motan_response_free(resp);
    /* New content in the same request (the old body's memory must not be reused yet). */
    char *blob = malloc(BIG);
    memset(blob, 'n', BIG);
    motan_buf *b = motan_buf_new(BIG + 8);
    motan_simple_write_string(b, blob, BIG);
    ck_assert_int_eq(motan_request_set_body(r, MOTAN_SER_SIMPLE, motan_buf_data(b), motan_buf_len(b)),
                     MOTAN_OK);
    motan_buf_free(b);
    free(blob);
    tu_proxy_freeze(z.proxy, 0);
    wait_seen(1);
    ck_assert_int_eq(good_count(), 1); /* the old content, intact */
    atomic_store(&g_fill, 'n');
    motan_request_set_timeout(r, 0); /* the client's 5 s: 4 MiB through the proxy */
    resp = NULL;
    int rc = motan_client_call(z.c, r, &resp);
    ck_assert_msg(rc == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    motan_response_free(resp);
    wait_seen(2);
    ck_assert_int_eq(good_count(), 2);
    motan_request_free(r);
    zc_close(&z);
    ck_assert_int_eq(tu_fail_alloc_live(), 0);
    tu_fail_alloc_stop();
}
END_TEST

/* One request with a big argument sent by 4 threads at once, 20 times each: every copy intact. */
typedef struct share_args {
    motan_client *c;
    motan_request *r;
    int ok;
} share_args;

static void *share_thread(void *arg)
{
    share_args *a = arg;
    for (int i = 0; i < 20; i++) {
        motan_response *resp = NULL;
        a->ok += motan_client_call(a->c, a->r, &resp) == MOTAN_OK;
        motan_response_free(resp);
    }
    return NULL;
}

START_TEST(test_one_big_request_on_many_threads)
{
    zc_env z;
    zc_open(&z);
    atomic_store(&g_fill, 's');
    motan_request *r = big_request(z.c, 's', 0);
    pthread_t t[4];
    share_args a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (share_args){z.c, r, 0};
        pthread_create(&t[i], NULL, share_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(a[i].ok, 20);
    }
    wait_seen(80);
    ck_assert_int_eq(good_count(), 80);
    motan_request_free(r);
    zc_close(&z);
}
END_TEST

/* ---- read-side views ------------------------------------------------------------------------ */

enum { KEPT = 48 };

static void check_fill(motan_response *resp, size_t size, char fill, int i)
{
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    const motan_value *v = motan_response_get_value(resp);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_BYTES);
    size_t len = 0;
    const char *d = motan_value_get_data(v, &len);
    ck_assert_uint_eq(len, size);
    size_t j = 0; /* one assertion, not one per byte (each is a message to check's parent) */
    while (j < len && d[j] == fill)
        j++;
    ck_assert_msg(j == len, "answer %d: byte %zu of %zu is 0x%02x, not '%c'", i, j, len,
                  (unsigned char)d[j], fill);
}

static size_t kept_size(int i) { return 40 * 1024 + (size_t)i * 1531; } /* crosses block ends */
static char kept_fill(int i) { return (char)('A' + i % 26); }

static void *free_half(void *arg)
{
    motan_response **kept = arg;
    for (int i = 0; i < KEPT; i += 2) {
        check_fill(kept[i], kept_size(i), kept_fill(i), i);
        motan_response_free(kept[i]);
        kept[i] = NULL;
    }
    return NULL;
}

/*
 * Answers kept while more arrive on the same connection: the memory a view points into is
 * never written again while a response holds it (frees are poisoned, so memory given back
 * too early reads 0xdd). Half are freed on another thread, the rest after more calls.
 */
START_TEST(test_kept_answers_keep_their_bytes)
{
    tu_fail_alloc_start(0);
    motan_client *c = client_for("requestTimeout=3000&connections=1");
    motan_response *kept[KEPT] = {NULL};
    for (int i = 0; i < KEPT; i++) {
        motan_request *r = bytes_request(c, kept_size(i), kept_fill(i));
        ck_assert_int_eq(motan_client_call(c, r, &kept[i]), MOTAN_OK);
        motan_request_free(r);
    }
    pthread_t t;
    pthread_create(&t, NULL, free_half, kept);
    for (int i = 0; i < 40; i++) { /* meanwhile more answers into the same memory */
        motan_request *r = bytes_request(c, 65536 + (size_t)i, 'z');
        motan_response *resp = NULL;
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        check_fill(resp, 65536 + (size_t)i, 'z', i);
        motan_response_free(resp);
        motan_request_free(r);
    }
    pthread_join(t, NULL);
    for (int i = 1; i < KEPT; i += 2) {
        check_fill(kept[i], kept_size(i), kept_fill(i), i);
        motan_response_free(kept[i]);
    }
    /* A response that outlives its client (and the connection) keeps its bytes too. */
    motan_request *r = bytes_request(c, 100000, 'q');
    motan_response *last = NULL;
    ck_assert_int_eq(motan_client_call(c, r, &last), MOTAN_OK);
    motan_request_free(r);
    motan_client_free(c);
    check_fill(last, 100000, 'q', -1);
    motan_response_free(last);
    ck_assert_int_eq(tu_fail_alloc_live(), 0); /* the last holder gave the memory back */
    tu_fail_alloc_stop();
}
END_TEST

/* Pass-through answers (the agent's): a big raw body is a view, kept intact, and allocates nothing. */
static void check_raw(motan_response *resp, size_t size, char fill)
{
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    size_t len = 0;
    const uint8_t *b = motan_response_get_body(resp, &len);
    ck_assert_uint_eq(len, size + 5); /* Simple: tag, 4-byte length, the bytes */
    ck_assert_int_eq(b[0], MOTAN_T_BYTES);
    size_t j = 5;
    while (j < len && b[j] == (uint8_t)fill)
        j++;
    ck_assert_msg(j == len, "raw body byte %zu of %zu is 0x%02x", j, len, b[j]);
}

START_TEST(test_raw_answers_are_views)
{
    tu_fail_alloc_start(0);
    motan_client *c = client_for("requestTimeout=3000&connections=1");
    motan_response *kept[8] = {NULL};
    for (int i = 0; i < 8; i++) {
        motan_request *r = bytes_request(c, 50000 + (size_t)i * 7000, kept_fill(i));
        motan_request_set_raw_response(r, 1);
        ck_assert_int_eq(motan_client_call(c, r, &kept[i]), MOTAN_OK);
        motan_request_free(r);
    }
    motan_request *r = bytes_request(c, 65536, 'r');
    motan_request_set_raw_response(r, 1);
    unsigned long long before = 0;
    for (int i = 0; i < WARM + COUNTED; i++) {
        if (i == WARM)
            before = tu_fail_alloc_seen();
        motan_response *resp = NULL;
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        if (i % 100 == 0)
            check_raw(resp, 65536, 'r');
        motan_response_free(resp);
    }
    unsigned long long allocs = tu_fail_alloc_seen() - before;
    ck_assert_msg(allocs <= WARM_ALLOWED_VIEWS(COUNTED),
                  "%llu allocations in %d warm 64 KiB pass-through calls", allocs, COUNTED);
    for (int i = 0; i < 8; i++) {
        check_raw(kept[i], 50000 + (size_t)i * 7000, kept_fill(i));
        motan_response_free(kept[i]);
    }
    motan_request_free(r);
    motan_client_free(c);
    ck_assert_int_eq(tu_fail_alloc_live(), 0);
    tu_fail_alloc_stop();
}
END_TEST

/* 8 in flight, answers freed by the callbacks on the loop thread and by the caller. */
typedef struct vstate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, bad;
    motan_response *held[8];
} vstate;

static void view_cb(motan_response *resp, void *ud)
{
    vstate *k = ud;
    pthread_mutex_lock(&k->mu);
    int ok = motan_response_get_code(resp) == MOTAN_OK &&
             motan_value_type(motan_response_get_value(resp)) == MOTAN_T_BYTES;
    size_t len = 0;
    const char *d = ok ? motan_value_get_data(motan_response_get_value(resp), &len) : NULL;
    for (size_t j = 0; d && j < len; j++)
        ok &= d[j] == 'v';
    int slot = k->done % 8;
    motan_response_free(k->held[slot]); /* the one kept 8 answers ago */
    k->held[slot] = (k->done % 3) ? resp : NULL;
    if (!(k->done % 3))
        motan_response_free(resp);
    k->done++;
    k->bad += !ok;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

START_TEST(test_views_with_calls_in_flight)
{
    tu_fail_alloc_start(0);
    motan_client *c = client_for("requestTimeout=3000&connections=1");
    motan_request *r = bytes_request(c, 65536, 'v');
    vstate k = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    enum { N = 400 };
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&k.mu);
        while (i - k.done >= 8)
            pthread_cond_wait(&k.cv, &k.mu);
        pthread_mutex_unlock(&k.mu);
        ck_assert_int_eq(motan_client_call_async(c, r, view_cb, &k), MOTAN_OK);
    }
    pthread_mutex_lock(&k.mu);
    while (k.done < N)
        pthread_cond_wait(&k.cv, &k.mu);
    pthread_mutex_unlock(&k.mu);
    ck_assert_int_eq(k.bad, 0);
    motan_request_free(r);
    motan_client_free(c);
    for (int i = 0; i < 8; i++)
        motan_response_free(k.held[i]);
    ck_assert_int_eq(tu_fail_alloc_live(), 0);
    tu_fail_alloc_stop();
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
    tcase_add_test(tc, test_big_bytes_make_no_big_libevent_chains);
    suite_add_tcase(s, tc);
    tc = tcase_create("shared_loops");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_clients_and_a_server_share_one_loop);
    tcase_add_test(tc, test_shared_loop_config_variant_and_errors);
    tcase_add_test(tc, test_shared_caller_loop);
    tcase_add_test(tc, test_fork_with_a_shared_loop);
    suite_add_tcase(s, tc);
    tc = tcase_create("zero_copy");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_request_freed_before_its_bytes_are_written);
    tcase_add_test(tc, test_body_replaced_while_its_bytes_wait);
    tcase_add_test(tc, test_one_big_request_on_many_threads);
    suite_add_tcase(s, tc);
    tc = tcase_create("read_views");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kept_answers_keep_their_bytes);
    tcase_add_test(tc, test_views_with_calls_in_flight);
    tcase_add_test(tc, test_raw_answers_are_views);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
    SRunner *sr = srunner_create(perf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
