/*
 * Host names of endpoints are resolved on the loop without blocking it (the loop's evdns,
 * pointed at a fake DNS server that answers slowly), every resolved address is tried in
 * turn, and a resolution failure says why.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/transport.h>

#include "server_proc.h"
#include "tu_dns.h"
#include "tu_loop.h"

static tu_server g_srv;
static tu_dns *g_dns;

static void setup(void)
{
    const char *args[] = {"--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
    g_dns = tu_dns_start();
}

static void teardown(void)
{
    tu_dns_stop(g_dns);
    ck_assert_int_eq(tu_server_stop(&g_srv), 0);
}

typedef struct outcome {
    int calls;
    int code;
    char msg[512];
    uint64_t done_us;
} outcome;

static void cb(motan_response *r, void *ud)
{
    outcome *o = ud;
    o->calls++;
    o->code = motan_response_get_code(r);
    o->done_us = motan_now_us();
    snprintf(o->msg, sizeof(o->msg), "%s", motan_response_get_errmsg(r));
    motan_response_free(r);
}

static motan_endpoint *endpoint(tu_env *e, const char *host, const char *params)
{
    char text[256], err[256];
    snprintf(text, sizeof(text), "motan2://%s:%d/com.example.EchoService?%s", host, g_srv.port,
             params ? params : "connections=1");
    motan_url *u = tu_url(text);
    motan_endpoint *ep = NULL;
    ck_assert_msg(motan_endpoint_new(e->loop, u, &ep, err, sizeof(err)) == MOTAN_OK, "%s", err);
    motan_url_free(u);
    return ep;
}

static void call(tu_env *e, motan_endpoint *ep, int timeout_ms, outcome *o)
{
    motan_request *r = motan_request_new("echo");
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 1));
    memset(o, 0, sizeof(*o));
    ck_assert_int_eq(motan_endpoint_call(ep, r, timeout_ms, cb, o, NULL), MOTAN_OK);
    ck_assert(tu_run_until(e, &o->calls, 1, timeout_ms + 5000));
    motan_request_free(r);
}

/*
 * Item 2: a name that takes 500 ms to resolve must not stall the loop's other calls, and of
 * its two addresses the first refuses: the second must be tried.
 */
START_TEST(slow_name_does_not_stall_the_loop)
{
    tu_env e;
    tu_env_init(&e);
    tu_dns_use(g_dns, e.loop);
    tu_dns_add(g_dns, "slow.test", "127.0.0.3,127.0.0.1", 500);
    motan_endpoint *healthy = endpoint(&e, "127.0.0.1", NULL);
    outcome o;
    call(&e, healthy, 1000, &o); /* connected */
    ck_assert_int_eq(o.code, MOTAN_OK);
    uint64_t t0 = motan_now_us();
    motan_endpoint *slow = endpoint(&e, "slow.test", "connections=1&connectTimeout=3000");
    outcome so;
    memset(&so, 0, sizeof(so));
    motan_request *r = motan_request_new("echo");
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 2));
    ck_assert_int_eq(motan_endpoint_call(slow, r, 5000, cb, &so, NULL), MOTAN_OK);
    /* While slow.test resolves, the healthy endpoint answers at loop speed. */
    int quick = 0;
    while (motan_now_us() - t0 < 400000) {
        uint64_t c0 = motan_now_us();
        call(&e, healthy, 1000, &o);
        ck_assert_int_eq(o.code, MOTAN_OK);
        /* A loop blocked by the resolution would hold it 500 ms; a host stall is shorter. */
        ck_assert_msg(o.done_us - c0 < 350000, "a healthy call took %llu ms while a name resolved",
                      (unsigned long long)((o.done_us - c0) / 1000));
        quick++;
    }
    ck_assert_int_gt(quick, 3);
    ck_assert_int_eq(so.calls, 0); /* still resolving */
    ck_assert(tu_run_until(&e, &so.calls, 1, 5000));
    ck_assert_msg(so.code == MOTAN_OK, "%s %s", motan_errname(so.code), so.msg);
    ck_assert_uint_ge(so.done_us - t0, 450000);
    ck_assert_int_ge(tu_dns_queries(g_dns, "slow.test"), 1);
    motan_request_free(r);
    motan_endpoint_free(slow);
    motan_endpoint_free(healthy);
    tu_env_free(&e);
}
END_TEST

/* Failures carry their real cause. */
START_TEST(resolve_failures_say_why)
{
    tu_env e;
    tu_env_init(&e);
    tu_dns_use(g_dns, e.loop);
    tu_dns_add(g_dns, "nx.test", NULL, 0);
    tu_dns_add(g_dns, "dead.test", "127.0.0.3,127.0.0.4", 0);
    tu_dns_add(g_dns, "slower.test", "127.0.0.1", 2000);
    outcome o;
    motan_endpoint *ep = endpoint(&e, "nx.test", NULL);
    call(&e, ep, 2000, &o);
    ck_assert_int_eq(o.code, MOTAN_ECONNECT);
    ck_assert_msg(strstr(o.msg, "cannot resolve nx.test: ") && strstr(o.msg, "known"), "%s", o.msg);
    motan_endpoint_free(ep);

    ep = endpoint(&e, "dead.test", NULL);
    call(&e, ep, 2000, &o);
    ck_assert_int_eq(o.code, MOTAN_ECONNECT);
    ck_assert_msg(strstr(o.msg, "any of the 2 addresses of dead.test") &&
                      strstr(o.msg, "127.0.0.4: Connection refused"),
                  "%s", o.msg);
    motan_endpoint_free(ep);

    ep = endpoint(&e, "slower.test", "connections=1&connectTimeout=300");
    call(&e, ep, 2000, &o);
    ck_assert_int_eq(o.code, MOTAN_ECONNECT);
    ck_assert_msg(strstr(o.msg, "cannot resolve slower.test: no answer within 300 ms"), "%s", o.msg);
    /* Freed with the name still being resolved: no callback, no leak (valgrind). */
    motan_endpoint_free(ep);
    tu_env_free(&e);
}
END_TEST

/* A built-in loop resolves on its own thread just the same. */
START_TEST(builtin_loop_resolves)
{
    tu_env e;
    tu_env_init_builtin(&e);
    tu_dns_use(g_dns, e.loop);
    tu_dns_add(g_dns, "svc.test", "127.0.0.1", 50);
    char text[256], err[256];
    snprintf(text, sizeof(text), "motan2://svc.test:%d/com.example.EchoService", g_srv.port);
    motan_url *u = tu_url(text);
    motan_endpoint *ep = NULL;
    ck_assert_msg(motan_endpoint_new(e.loop, u, &ep, err, sizeof(err)) == MOTAN_OK, "%s", err);
    motan_url_free(u);
    motan_request *r = motan_request_new("echo");
    motan_response *resp = NULL;
    ck_assert_int_eq(motan_endpoint_call_sync(ep, r, 3000, &resp), MOTAN_OK);
    motan_response_free(resp);
    motan_request_free(r);
    motan_endpoint_free(ep);
    tu_env_free(&e);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("dns");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, slow_name_does_not_stall_the_loop);
    tcase_add_test(tc, resolve_failures_say_why);
    tcase_add_test(tc, builtin_loop_resolves);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(dns_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
