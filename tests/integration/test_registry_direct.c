/*
 * The direct registry through the public API: one list per subscribed service, delivered
 * once and never inside subscribe, on a caller's event_base and on a built-in loop.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/registry.h>

/* ---- harness -------------------------------------------------------------------------- */

#define MAX_NODES 16

/* What a listener was told (the built-in loop calls it from its thread). */
typedef struct rec {
    pthread_mutex_t mu;
    int calls;
    size_t n;
    char nodes[MAX_NODES][256];
    int unsubscribe_inside; /* unsubscribe from inside the call */
    motan_registry *reg;
    const motan_url *service;
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_cb(const motan_url *const *nodes, size_t n, void *ud)
{
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->n = n;
    for (size_t i = 0; i < n && i < MAX_NODES; i++) {
        char *t = motan_url_format(nodes[i]);
        snprintf(r->nodes[i], sizeof(r->nodes[i]), "%s", t ? t : "?");
        motan_free(t);
    }
    pthread_mutex_unlock(&r->mu);
    if (r->unsubscribe_inside)
        ck_assert_int_eq(motan_registry_unsubscribe(r->reg, r->service, rec_cb, r), MOTAN_OK);
}

static int rec_calls(rec *r)
{
    pthread_mutex_lock(&r->mu);
    int c = r->calls;
    pthread_mutex_unlock(&r->mu);
    return c;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* A caller-owned event_base (base != NULL) or a built-in loop. */
typedef struct env {
    struct event_base *base;
    struct event *ticker;
    motan_loop *loop;
} env;

static void env_init(env *e, int builtin)
{
    char err[256];
    memset(e, 0, sizeof(*e));
    if (builtin) {
        ck_assert_int_eq(motan_loop_new(&e->loop, err, sizeof(err)), MOTAN_OK);
        return;
    }
    e->base = event_base_new();
    ck_assert_ptr_nonnull(e->base);
    e->ticker = event_new(e->base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(e->ticker, &tv);
    ck_assert_int_eq(motan_loop_new_with_base(e->base, &e->loop, err, sizeof(err)), MOTAN_OK);
}

static void env_free(env *e)
{
    motan_loop_free(e->loop);
    if (e->base) {
        event_free(e->ticker);
        event_base_free(e->base);
    }
}

/* Runs (or waits for) the loop until r has had target calls or timeout_ms passed. */
static int wait_calls(env *e, rec *r, int target, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (rec_calls(r) < target && motan_now_us() < end) {
        if (e->base)
            event_base_loop(e->base, EVLOOP_ONCE);
        else
            usleep(2000);
    }
    return rec_calls(r) >= target;
}

static void run_for(env *e, int ms)
{
    rec never;
    rec_init(&never);
    wait_calls(e, &never, 1, ms);
}

static motan_url *url(const char *text)
{
    motan_url *u = NULL;
    char err[256];
    ck_assert_msg(motan_url_parse(text, strlen(text), &u, err, sizeof(err)) == MOTAN_OK, "%s: %s",
                  text, err);
    return u;
}

static motan_registry *registry(env *e, const char *text)
{
    motan_url *u = url(text);
    motan_registry *r = NULL;
    char err[256];
    int rc = motan_registry_new(e->loop, u, &r, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s: %s", text, err);
    motan_url_free(u);
    return r;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void check_lists(int builtin)
{
    env e;
    env_init(&e, builtin);
    motan_registry *reg =
        registry(&e, "direct://127.0.0.1:8002,10.0.0.2:8003,[unix:/tmp/echo.sock]?connections=3");
    motan_url *svc = url("motan2:///com.example.EchoService?group=g1&requestTimeout=50");
    rec r;
    rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    if (!builtin)
        ck_assert_int_eq(rec_calls(&r), 0); /* never inside subscribe */
    ck_assert(wait_calls(&e, &r, 1, 2000));
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.nodes[0],
                     "motan2://127.0.0.1:8002/com.example.EchoService?group=g1&connections=3");
    ck_assert_str_eq(r.nodes[1],
                     "motan2://10.0.0.2:8003/com.example.EchoService?group=g1&connections=3");
    ck_assert_str_eq(
        r.nodes[2],
        "motan2://[unix:/tmp/echo.sock]/com.example.EchoService?group=g1&connections=3");

    /* Once only. */
    run_for(&e, 100);
    ck_assert_int_eq(rec_calls(&r), 1);

    /* Another service without a group: default_rpc. */
    motan_url *svc2 = url("motan2:///com.example.Other");
    rec r2;
    rec_init(&r2);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc2, rec_cb, &r2), MOTAN_OK);
    ck_assert(wait_calls(&e, &r2, 1, 2000));
    ck_assert_uint_eq(r2.n, 3);
    ck_assert_str_eq(r2.nodes[0],
                     "motan2://127.0.0.1:8002/com.example.Other?group=default_rpc&connections=3");
    ck_assert_int_eq(rec_calls(&r), 1);

    /* A second listener of the same service gets the list too; a duplicate is not added. */
    rec r3;
    rec_init(&r3);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r3), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r3), MOTAN_OK);
    ck_assert(wait_calls(&e, &r3, 1, 2000));
    run_for(&e, 50);
    ck_assert_int_eq(rec_calls(&r3), 1);
    ck_assert_int_eq(rec_calls(&r), 1);

    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, rec_cb, &r), MOTAN_ENOTFOUND);

    /* Publishing is not what direct does. */
    motan_url *node = url("motan2://127.0.0.1:9000/com.example.EchoService?group=g1");
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_EUNSUPPORTED);
    ck_assert_int_eq(motan_registry_unregister(reg, node), MOTAN_EUNSUPPORTED);
    char msg[128] = "x";
    motan_registry_errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");
    ck_assert_ptr_eq(motan_registry_get_loop(reg), e.loop);

    motan_registry_free(reg);
    motan_url_free(node);
    motan_url_free(svc);
    motan_url_free(svc2);
    env_free(&e);
}

START_TEST(test_lists_caller_loop) { check_lists(0); }
END_TEST

START_TEST(test_lists_builtin_loop) { check_lists(1); }
END_TEST

START_TEST(test_unsubscribe_before_delivery)
{
    env e;
    env_init(&e, 0);
    motan_registry *reg = registry(&e, "direct://127.0.0.1:8002");
    motan_url *svc = url("motan2:///com.example.EchoService");
    rec r;
    rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    run_for(&e, 50);
    ck_assert_int_eq(rec_calls(&r), 0);

    /* Freed with a delivery pending: nothing runs afterwards. */
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    motan_registry_free(reg);
    run_for(&e, 50);
    ck_assert_int_eq(rec_calls(&r), 0);
    motan_url_free(svc);
    env_free(&e);
}
END_TEST

START_TEST(test_unsubscribe_inside_listener)
{
    env e;
    env_init(&e, 0);
    motan_registry *reg = registry(&e, "direct://127.0.0.1:8002");
    motan_url *svc = url("motan2:///com.example.EchoService");
    rec r;
    rec_init(&r);
    r.unsubscribe_inside = 1;
    r.reg = reg;
    r.service = svc;
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    ck_assert(wait_calls(&e, &r, 1, 2000));
    run_for(&e, 20);
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, rec_cb, &r), MOTAN_ENOTFOUND);
    /* Subscribing again delivers again. */
    r.unsubscribe_inside = 0;
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, rec_cb, &r), MOTAN_OK);
    ck_assert(wait_calls(&e, &r, 2, 2000));
    motan_registry_free(reg);
    motan_url_free(svc);
    env_free(&e);
}
END_TEST

static motan_registry *g_free_me;

static void free_inside(const motan_url *const *nodes, size_t n, void *ud)
{
    (void)nodes;
    (void)n;
    (*(int *)ud)++;
    motan_registry_free(g_free_me);
}

START_TEST(test_free_inside_listener)
{
    env e;
    env_init(&e, 0);
    g_free_me = registry(&e, "direct://127.0.0.1:8002");
    motan_url *svc = url("motan2:///com.example.EchoService");
    motan_url *svc2 = url("motan2:///com.example.Other");
    int calls = 0;
    ck_assert_int_eq(motan_registry_subscribe(g_free_me, svc, free_inside, &calls), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(g_free_me, svc2, free_inside, &calls), MOTAN_OK);
    run_for(&e, 50);
    ck_assert_int_eq(calls, 1); /* the second listener is not called after the free */
    motan_url_free(svc);
    motan_url_free(svc2);
    env_free(&e);
}
END_TEST

START_TEST(test_bad_urls)
{
    env e;
    env_init(&e, 0);
    const char *bad[] = {"direct:///com.example.EchoService", "direct://127.0.0.1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *u = url(bad[i]);
        motan_registry *r = (motan_registry *)1;
        char err[256] = "";
        ck_assert_int_eq(motan_registry_new(e.loop, u, &r, err, sizeof(err)), MOTAN_EURL);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err, "direct registry") != NULL, "%s", err);
        motan_url_free(u);
    }
    motan_url *u = url("nosuch://127.0.0.1:1");
    motan_registry *r = NULL;
    char err[256] = "";
    ck_assert_int_eq(motan_registry_new(e.loop, u, &r, err, sizeof(err)), MOTAN_ENOTFOUND);
    motan_url_free(u);
    ck_assert_ptr_nonnull(motan_registry_find_ops("direct"));
    ck_assert_ptr_nonnull(motan_registry_find_ops("FILE"));
    ck_assert_ptr_nonnull(motan_registry_find_ops("consul"));
    env_free(&e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("registry_direct");
    TCase *tc = tcase_create("direct");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_lists_caller_loop);
    tcase_add_test(tc, test_lists_builtin_loop);
    tcase_add_test(tc, test_unsubscribe_before_delivery);
    tcase_add_test(tc, test_unsubscribe_inside_listener);
    tcase_add_test(tc, test_free_inside_listener);
    tcase_add_test(tc, test_bad_urls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
