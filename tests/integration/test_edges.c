/*
 * The client's promises at the edges (issue 13): teardown in dependency order, freeing from
 * inside a callback, a backstop deadline whatever a plug-in does, requests that calls only
 * read, poll deadlines. Against the test server, in both loop modes where it matters.
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
#include "tu_loop.h"

#include "transport/transport_int.h" /* motan__loop_threads */

static tu_server g_srv;

static void setup(void)
{
    const char *args[] = {"--name", "e0", "--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
}

static void teardown(void) { ck_assert_int_eq(tu_server_stop(&g_srv), 0); }

/* A built-in-loop client for the test server with the given URL parameters (may be ""). */
static motan_client *client_at(const char *params)
{
    char url[512], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService?%s", g_srv.port,
             params);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s: %s", url, err);
    return c;
}

/* Waits (10 s at most) until *v is not 0; returns it. */
static int wait_set(atomic_int *v)
{
    uint64_t t0 = motan_now_us();
    while (!atomic_load(v) && motan_now_us() - t0 < 10000000)
        usleep(2000);
    return atomic_load(v);
}

/* A file registry whose file lists no node for the service: calls fail with ENOENDPOINT. */
static void empty_file_url(char *url, size_t len, char *path, size_t plen)
{
    snprintf(path, plen, "/tmp/motan-edges-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"services\":{}}\n", f);
    fclose(f);
    snprintf(url, len, "file://%s/com.example.EchoService?requestTimeout=2000", path);
}

typedef struct counted {
    atomic_int calls;
    atomic_int code;
} counted;

static void count_cb(motan_response *r, void *ud)
{
    counted *c = ud;
    atomic_store(&c->code, motan_response_get_code(r));
    atomic_fetch_add(&c->calls, 1);
    motan_response_free(r);
}

/*
 * Item 1: client_destroy freed the registry before the cluster, and completions delivered
 * while the cluster is freed (an ENOENDPOINT answer still waiting in its done list) ask the
 * registry for its state (explain): a use after free. Freed memory is poisoned here, so the
 * old order reads garbage and crashes.
 */
START_TEST(free_delivers_with_the_registry_alive)
{
    char url[512], path[256], err[256];
    empty_file_url(url, sizeof(url), path, sizeof(path));
    tu_fail_alloc_start(0);
    tu_env e;
    tu_env_init(&e);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new_with_base(e.base, url, &c, err, sizeof(err)) == MOTAN_OK, "%s",
                  err);
    /* Until the registry's (empty) list is in, calls wait; then they fail at once. */
    counted first = {0};
    motan_request *r = motan_client_request(c, "echo");
    ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &first), MOTAN_OK);
    ck_assert(tu_run_until(&e, (const int *)&first.calls, 1, 5000));
    ck_assert_int_eq(atomic_load(&first.code), MOTAN_ENOENDPOINT);
    /* This one's ENOENDPOINT completion is deferred (never inside the call)... */
    counted second = {0};
    ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &second), MOTAN_OK);
    ck_assert_int_eq(atomic_load(&second.calls), 0);
    /* ... and delivered by the free, which must still have its registry for the message. */
    motan_client_free(c);
    ck_assert_int_eq(atomic_load(&second.calls), 1);
    ck_assert_int_eq(atomic_load(&second.code), MOTAN_ENOENDPOINT);
    motan_request_free(r);
    tu_env_free(&e);
    tu_fail_alloc_stop();
    unlink(path);
}
END_TEST

/* ---- item 5: a plug-in HA strategy that never completes ---------------------------- */

static void *bh_create(const motan_url *u)
{
    (void)u;
    static int token;
    return &token;
}
static void bh_destroy(void *s) { (void)s; }
/* Sends one attempt, then forgets the call: its answer is dropped, nothing completes it. */
static void bh_start(void *s, motan_ha_call *call)
{
    (void)s;
    motan_endpoint *ep = motan_ha_call_pick(call);
    if (ep)
        motan_ha_call_send(call, ep, NULL);
}
static void bh_on_attempt(void *s, motan_ha_call *call, int attempt, motan_response *r)
{
    (void)s;
    (void)call;
    (void)attempt;
    motan_response_free(r);
}
static const motan_ha_ops blackhole_ha = {
    .struct_size = sizeof(motan_ha_ops),
    .name = "blackhole",
    .create = bh_create,
    .destroy = bh_destroy,
    .start = bh_start,
    .on_attempt = bh_on_attempt,
};

typedef struct blocking_call {
    motan_client *c;
    motan_request *r;
    int rc;
    char msg[512];
    atomic_int done;
} blocking_call;

static void *blocking_thread(void *arg)
{
    blocking_call *b = arg;
    motan_response *resp = NULL;
    b->rc = motan_client_call(b->c, b->r, &resp);
    snprintf(b->msg, sizeof(b->msg), "%s", motan_response_get_errmsg(resp));
    motan_response_free(resp);
    atomic_store(&b->done, 1);
    return NULL;
}

/* Item 5: a blocking call through such a strategy used to wait forever. */
START_TEST(backstop_completes_what_a_plugin_forgets)
{
    motan_ha_register(&blackhole_ha); /* EINVAL when an earlier test in this process did it */
    ck_assert_ptr_nonnull(motan_ha_find("blackhole"));
    motan_client *c = client_at("haStrategy=blackhole&requestTimeout=200&retries=1");
    blocking_call b = {.c = c, .r = motan_client_request(c, "echo")};
    uint64_t t0 = motan_now_us();
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, blocking_thread, &b), 0);
    /* requestTimeout x (retries + 1) + 1000 ms margin = 1400 ms. */
    ck_assert_msg(wait_set(&b.done), "the blocking call is still waiting after 10 s");
    pthread_join(t, NULL);
    uint64_t ms = (motan_now_us() - t0) / 1000;
    ck_assert_msg(b.rc == MOTAN_ETIMEOUT, "%s: %s", motan_errname(b.rc), b.msg);
    ck_assert_msg(strstr(b.msg, "backstop deadline (1400 ms") && strstr(b.msg, "blackhole"), "%s",
                  b.msg);
    ck_assert_msg(ms >= 1350 && ms < 5000, "completed after %llu ms", (unsigned long long)ms);
    /* Async: the callback runs once, at the backstop. */
    counted a = {0};
    ck_assert_int_eq(motan_client_call_async(c, b.r, count_cb, &a), MOTAN_OK);
    ck_assert_int_eq(wait_set(&a.calls), 1);
    ck_assert_int_eq(atomic_load(&a.code), MOTAN_ETIMEOUT);
    motan_client_free(c);
    ck_assert_int_eq(atomic_load(&a.calls), 1);
    motan_request_free(b.r);
}
END_TEST

/* ---- item 6: calls only read the request ------------------------------------------- */

/* A call used to write service, group, version, application and serialization into it. */
START_TEST(calls_do_not_write_the_request)
{
    motan_client *c = client_at("version=2.0&application=edges&serialization=msgpack");
    motan_request *r = motan_request_new("echo");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "same", 4));
    for (int i = 0; i < 2; i++) {
        motan_response *resp = NULL;
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        /* The server answered in the serialization the URL asked for. */
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Serialization"), "msgpack");
        motan_response_free(resp);
        ck_assert_ptr_null(motan_request_get_service(r));
        ck_assert_ptr_null(motan_request_get_group(r));
        ck_assert_ptr_null(motan_request_get_version(r));
        ck_assert_ptr_null(motan_request_get_application(r));
        ck_assert_int_eq(motan_request_get_serialization(r), -1);
        size_t blen = 1;
        motan_request_body(r, &blen);
        ck_assert_uint_eq(blen, 0); /* not prepared behind the caller's back either */
    }
    motan_request_free(r);
    motan_client_free(c);
}
END_TEST

/* A rule sends every call to group gB: the request's own group used to be swapped to gB
 * while the call was in flight (and restored at completion). */
START_TEST(rule_group_is_not_written_into_the_request)
{
    char path[256], url[512], err[256];
    snprintf(path, sizeof(path), "/tmp/motan-edges-rule-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"services\":{\"com.example.EchoService\":{"
            "\"default_rpc\":[\"rule://0.0.0.0/com.example.EchoService?weights=gB:1\"],"
            "\"gB\":[\"127.0.0.1:%d\"]}}}\n",
            g_srv.port);
    fclose(f);
    snprintf(url, sizeof(url), "file://%s/com.example.EchoService?requestTimeout=3000", path);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    motan_request *r = motan_client_request(c, "sleep");
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 300));
    ck_assert_str_eq(motan_request_get_group(r), "default_rpc");
    counted a = {0};
    /* Until gB's list is in, a call may find no endpoint: retry until one goes through. */
    uint64_t t0 = motan_now_us();
    for (;;) {
        atomic_store(&a.calls, 0);
        ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &a), MOTAN_OK);
        usleep(100000);
        /* In flight (sleep 300): the request still names its own group. */
        ck_assert_str_eq(motan_request_get_group(r), "default_rpc");
        while (atomic_load(&a.calls) == 0)
            usleep(2000);
        if (atomic_load(&a.code) == MOTAN_OK || motan_now_us() - t0 > 5000000)
            break;
    }
    ck_assert_int_eq(atomic_load(&a.code), MOTAN_OK);
    ck_assert_str_eq(motan_request_get_group(r), "default_rpc");
    motan_request_free(r);
    motan_client_free(c);
    unlink(path);
}
END_TEST

typedef struct shared_req {
    motan_client *c;
    motan_request *r;
    atomic_int ok, bad;
} shared_req;

static void *share_thread(void *arg)
{
    shared_req *s = arg;
    for (int i = 0; i < 50; i++) {
        motan_response *resp = NULL;
        if (motan_client_call(s->c, s->r, &resp) == MOTAN_OK)
            atomic_fetch_add(&s->ok, 1);
        else
            atomic_fetch_add(&s->bad, 1);
        motan_response_free(resp);
    }
    return NULL;
}

/* One request in flight on several threads at once (a data race under TSan before). */
START_TEST(one_request_on_many_threads)
{
    shared_req s = {.c = client_at("version=2.0&serialization=json")};
    s.r = motan_request_new("echo");
    motan_request_add_arg(s.r, motan_value_new_int64(motan_request_arena(s.r), 7));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, share_thread, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&s.ok), 200);
    ck_assert_int_eq(atomic_load(&s.bad), 0);
    motan_request_free(s.r);
    motan_client_free(s.c);
}
END_TEST

/* ---- item 4: freeing from inside a callback --------------------------------------- */

/* Waits until the loop threads are back to n (a self-freed loop ends after its callback). */
static int threads_back_to(int n)
{
    uint64_t t0 = motan_now_us();
    while (motan__loop_threads() != n && motan_now_us() - t0 < 5000000)
        usleep(1000);
    return motan__loop_threads() == n;
}

typedef struct self_free {
    motan_client *c;
    atomic_int in_free;   /* inside motan_client_free */
    atomic_int freed;     /* motan_client_free returned */
    atomic_int late;      /* callbacks after it returned */
    atomic_int cancelled; /* the other calls, cancelled by the free */
} self_free;

static self_free g_sf;

static void other_cb(motan_response *r, void *ud)
{
    (void)ud;
    if (atomic_load(&g_sf.freed))
        atomic_fetch_add(&g_sf.late, 1);
    if (motan_response_get_code(r) == MOTAN_ECANCELLED)
        atomic_fetch_add(&g_sf.cancelled, 1);
    motan_response_free(r);
}

static void freeing_cb(motan_response *r, void *ud)
{
    (void)ud;
    motan_response_free(r);
    atomic_store(&g_sf.in_free, 1);
    motan_client_free(g_sf.c); /* its own callback, on its own loop thread */
    atomic_store(&g_sf.freed, 1);
}

/* Item 4: this joined its own thread (or freed the event_base under the running loop). */
START_TEST(client_freed_from_its_own_callback)
{
    int threads0 = motan__loop_threads();
    memset(&g_sf, 0, sizeof(g_sf));
    tu_fail_alloc_start(0); /* poisoned frees: the old free under the running loop crashes */
    g_sf.c = client_at("requestTimeout=5000");
    motan_request *slow = motan_client_request(g_sf.c, "sleep");
    motan_request_add_arg(slow, motan_value_new_int32(motan_request_arena(slow), 2000));
    motan_request *fast = motan_client_request(g_sf.c, "echo");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(motan_client_call_async(g_sf.c, slow, other_cb, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_client_call_async(g_sf.c, fast, freeing_cb, NULL), MOTAN_OK);
    ck_assert_msg(wait_set(&g_sf.freed), "motan_client_free from its callback did not return");
    /* The sleeping calls completed inside the free, cancelled; nothing ran after it. */
    ck_assert_int_eq(atomic_load(&g_sf.cancelled), 3);
    ck_assert(threads_back_to(threads0));
    ck_assert_int_eq(atomic_load(&g_sf.late), 0);
    motan_request_free(slow);
    motan_request_free(fast);
    tu_fail_alloc_stop();
}
END_TEST

static void caller_loop_free_cb(motan_response *r, void *ud)
{
    motan_response_free(r);
    motan_client **c = ud;
    motan_client_free(*c);
    *c = NULL;
}

START_TEST(caller_loop_client_freed_from_its_callback)
{
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService", g_srv.port);
    tu_env e;
    tu_env_init(&e);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new_with_base(e.base, url, &c, err, sizeof(err)) == MOTAN_OK, "%s",
                  err);
    motan_request *r = motan_client_request(c, "echo");
    counted other = {0};
    ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &other), MOTAN_OK);
    ck_assert_int_eq(motan_client_call_async(c, r, caller_loop_free_cb, &c), MOTAN_OK);
    uint64_t t0 = motan_now_us();
    while (c && motan_now_us() - t0 < 5000000)
        tu_run_once(&e);
    ck_assert_ptr_null(c);
    tu_run_for(&e, 50); /* the loop goes on without the client */
    ck_assert_int_eq(atomic_load(&other.calls), 1);
    motan_request_free(r);
    tu_env_free(&e);
}
END_TEST

static void free_own_loop(void *arg) { motan_loop_free(arg); }

/* A built-in loop freed from a task running on it, and one freed while memory runs out. */
START_TEST(loop_freed_from_itself_or_without_memory)
{
    int threads0 = motan__loop_threads();
    char err[256];
    motan_loop *l = NULL;
    ck_assert_int_eq(motan_loop_new(&l, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_loop_run(l, free_own_loop, l), MOTAN_OK);
    ck_assert(threads_back_to(threads0));
    /* motan_loop_free allocated its stop task; without memory it hung in pthread_join. */
    ck_assert_int_eq(motan_loop_new(&l, err, sizeof(err)), MOTAN_OK);
    tu_fail_alloc_start(1);
    motan_loop_free(l);
    tu_fail_alloc_stop();
    ck_assert(threads_back_to(threads0));
}
END_TEST

/* ---- item 7: counters and state read from other threads ------------------------- */

static motan_endpoint *g_ep;

static void grab_endpoint_cb(motan_response *r, void *ud)
{
    motan_client *c = ud;
    /* Loop thread: where the cluster's endpoint list may be read. */
    __atomic_store_n(&g_ep, motan_cluster_endpoint_at(motan_client_get_cluster(c), 0),
                     __ATOMIC_RELEASE);
    motan_response_free(r);
}

/* Statistics are documented readable from any thread: they must be atomics (make tsan). */
START_TEST(stats_read_from_other_threads)
{
    tu_server dead;
    const char *args[] = {"--refuse", "--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&dead, args), 0);
    char url[256], err[256];
    snprintf(url, sizeof(url),
             "motan2://127.0.0.1:%d/com.example.EchoService?errorCountThreshold=1000&"
             "requestTimeout=200",
             dead.port);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(motan_client_wait_ready(c, 2000), MOTAN_OK);
    ck_assert_uint_eq(motan_client_endpoint_count(c), 1);
    motan_request *r = motan_client_request(c, "echo");
    __atomic_store_n(&g_ep, NULL, __ATOMIC_RELEASE);
    ck_assert_int_eq(motan_client_call_async(c, r, grab_endpoint_cb, c), MOTAN_OK);
    uint64_t t0 = motan_now_us();
    while (!__atomic_load_n(&g_ep, __ATOMIC_ACQUIRE) && motan_now_us() - t0 < 5000000)
        usleep(1000);
    motan_endpoint *ep = __atomic_load_n(&g_ep, __ATOMIC_ACQUIRE);
    ck_assert_ptr_nonnull(ep);
    counted done = {0};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &done), MOTAN_OK);
    uint64_t seen = 0;
    do { /* while the loop thread updates them */
        seen += motan_endpoint_stat(ep, "consecutive_errors");
        seen += motan_endpoint_stat(ep, "calls") + motan_endpoint_inflight(ep);
        seen += motan_cluster_stat(motan_client_get_cluster(c), "errors");
        seen += (uint64_t)motan_endpoint_is_available(ep);
    } while (atomic_load(&done.calls) < 20);
    ck_assert_uint_gt(seen, 0);
    ck_assert_uint_gt(motan_endpoint_stat(ep, "consecutive_errors"), 0);
    motan_client_free(c);
    motan_request_free(r);
    tu_server_kill(&dead);
}
END_TEST

static Suite *edges_suite(void)
{
    Suite *s = suite_create("edges");
    TCase *tc = tcase_create("edges");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, free_delivers_with_the_registry_alive);
    tcase_add_test(tc, backstop_completes_what_a_plugin_forgets);
    tcase_add_test(tc, calls_do_not_write_the_request);
    tcase_add_test(tc, rule_group_is_not_written_into_the_request);
    tcase_add_test(tc, one_request_on_many_threads);
    tcase_add_test(tc, client_freed_from_its_own_callback);
    tcase_add_test(tc, caller_loop_client_freed_from_its_callback);
    tcase_add_test(tc, loop_freed_from_itself_or_without_memory);
    tcase_add_test(tc, stats_read_from_other_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(edges_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
