/*
 * The direct registry through the public API: one list per subscribed service, delivered
 * once and never inside subscribe, on a caller's event_base and on a built-in loop.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <motan/registry.h>

#include "tu_registry.h"

/* ---- tests ---------------------------------------------------------------------------- */

static void check_lists(int builtin)
{
    tu_env e;
    tu_env_init_mode(&e, builtin);
    motan_registry *reg = tu_registry(
        e.loop, "direct://127.0.0.1:8002,10.0.0.2:8003,[unix:/tmp/echo.sock]?connections=3");
    motan_url *svc = tu_url("motan2:///com.example.EchoService?group=g1&requestTimeout=50");
    tu_rec r;
    tu_rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    if (!builtin)
        ck_assert_int_eq(tu_rec_calls(&r), 0); /* never inside subscribe */
    ck_assert(tu_rec_wait(&e, &r, 1, 2000));
    tu_list l;
    tu_rec_last(&r, &l);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.nodes[0],
                     "motan2://127.0.0.1:8002/com.example.EchoService?group=g1&connections=3");
    ck_assert_str_eq(l.nodes[1],
                     "motan2://10.0.0.2:8003/com.example.EchoService?group=g1&connections=3");
    ck_assert_str_eq(
        l.nodes[2],
        "motan2://[unix:/tmp/echo.sock]/com.example.EchoService?group=g1&connections=3");

    /* Once only. */
    tu_run_for(&e, 100);
    ck_assert_int_eq(tu_rec_calls(&r), 1);

    /* Another service without a group: default_rpc. */
    motan_url *svc2 = tu_url("motan2:///com.example.Other");
    tu_rec r2;
    tu_rec_init(&r2);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc2, tu_rec_cb, &r2), MOTAN_OK);
    ck_assert(tu_rec_wait(&e, &r2, 1, 2000));
    tu_rec_last(&r2, &l);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.nodes[0],
                     "motan2://127.0.0.1:8002/com.example.Other?group=default_rpc&connections=3");
    ck_assert_int_eq(tu_rec_calls(&r), 1);

    /* A second listener of the same service gets the list too; a duplicate is not added. */
    tu_rec r3;
    tu_rec_init(&r3);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r3), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r3), MOTAN_OK);
    ck_assert(tu_rec_wait(&e, &r3, 1, 2000));
    tu_run_for(&e, 50);
    ck_assert_int_eq(tu_rec_calls(&r3), 1);
    ck_assert_int_eq(tu_rec_calls(&r), 1);

    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, tu_rec_cb, &r), MOTAN_ENOTFOUND);

    /* Publishing is not what direct does. */
    motan_url *node = tu_url("motan2://127.0.0.1:9000/com.example.EchoService?group=g1");
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
    tu_env_free(&e);
}

START_TEST(test_lists_caller_loop) { check_lists(0); }
END_TEST

START_TEST(test_lists_builtin_loop) { check_lists(1); }
END_TEST

START_TEST(test_unsubscribe_before_delivery)
{
    tu_env e;
    tu_env_init(&e);
    motan_registry *reg = tu_registry(e.loop, "direct://127.0.0.1:8002");
    motan_url *svc = tu_url("motan2:///com.example.EchoService");
    tu_rec r;
    tu_rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    tu_run_for(&e, 50);
    ck_assert_int_eq(tu_rec_calls(&r), 0);

    /* Freed with a delivery pending: nothing runs afterwards. */
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    motan_registry_free(reg);
    tu_run_for(&e, 50);
    ck_assert_int_eq(tu_rec_calls(&r), 0);
    motan_url_free(svc);
    tu_env_free(&e);
}
END_TEST

START_TEST(test_unsubscribe_inside_listener)
{
    tu_env e;
    tu_env_init(&e);
    motan_registry *reg = tu_registry(e.loop, "direct://127.0.0.1:8002");
    motan_url *svc = tu_url("motan2:///com.example.EchoService");
    tu_rec r;
    tu_rec_init(&r);
    tu_rec_unsubscribe_inside(&r, reg, svc);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert(tu_rec_wait(&e, &r, 1, 2000));
    tu_run_for(&e, 20);
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, tu_rec_cb, &r), MOTAN_ENOTFOUND);
    /* Subscribing again delivers again. */
    tu_rec_unsubscribe_inside(&r, NULL, NULL);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert(tu_rec_wait(&e, &r, 2, 2000));
    motan_registry_free(reg);
    motan_url_free(svc);
    tu_env_free(&e);
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
    tu_env e;
    tu_env_init(&e);
    g_free_me = tu_registry(e.loop, "direct://127.0.0.1:8002");
    motan_url *svc = tu_url("motan2:///com.example.EchoService");
    motan_url *svc2 = tu_url("motan2:///com.example.Other");
    int calls = 0;
    ck_assert_int_eq(motan_registry_subscribe(g_free_me, svc, free_inside, &calls), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(g_free_me, svc2, free_inside, &calls), MOTAN_OK);
    tu_run_for(&e, 50);
    ck_assert_int_eq(calls, 1); /* the second listener is not called after the free */
    motan_url_free(svc);
    motan_url_free(svc2);
    tu_env_free(&e);
}
END_TEST

START_TEST(test_bad_urls)
{
    tu_env e;
    tu_env_init(&e);
    const char *bad[] = {"direct:///com.example.EchoService", "direct://127.0.0.1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *u = tu_url(bad[i]);
        motan_registry *r = (motan_registry *)1;
        char err[256] = "";
        ck_assert_int_eq(motan_registry_new(e.loop, u, &r, err, sizeof(err)), MOTAN_EURL);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err, "direct registry") != NULL, "%s", err);
        motan_url_free(u);
    }
    motan_url *u = tu_url("nosuch://127.0.0.1:1");
    motan_registry *r = NULL;
    char err[256] = "";
    ck_assert_int_eq(motan_registry_new(e.loop, u, &r, err, sizeof(err)), MOTAN_ENOTFOUND);
    motan_url_free(u);
    ck_assert_ptr_nonnull(motan_registry_find_ops("direct"));
    ck_assert_ptr_nonnull(motan_registry_find_ops("FILE"));
    ck_assert_ptr_nonnull(motan_registry_find_ops("consul"));
    tu_env_free(&e);
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
