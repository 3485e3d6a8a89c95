/*
 * motan-agent with a real ZooKeeper (tests/support/lib/zk_proc.h): a service exported to a
 * python3 http.server backend (on TCP, and on a Unix socket) is registered only after /200,
 * is found and called through ZooKeeper, leaves on /503 and comes back on /200, leaves while
 * its backend is down and returns with it, and leaves at once when the agent drains; a refer
 * follows a motan-test-server that registers itself in ZooKeeper.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "agent_proc.h"
#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"
#include "tu_registry.h"
#include "zk_proc.h"

#define HELLO "com.example.Hello"

static tu_zk g_zk;

static int ms(int v) { return tu_slow() ? v * 5 : v; }

typedef struct watch {
    motan_loop *loop;
    motan_registry *reg;
    motan_url *service;
    tu_rec rec;
} watch;

/* A subscriber watching service in group through the test's ZooKeeper. */
static void watch_start(watch *w, const char *service, const char *group)
{
    char err[256], text[512];
    ck_assert_int_eq(motan_loop_new(&w->loop, err, sizeof(err)), MOTAN_OK);
    snprintf(text, sizeof(text), "zookeeper://%s", g_zk.hosts);
    w->reg = tu_registry(w->loop, text);
    snprintf(text, sizeof(text), "motan2://127.0.0.1:0/%s?group=%s", service, group);
    w->service = tu_url(text);
    tu_rec_init(&w->rec);
    ck_assert_int_eq(motan_registry_subscribe(w->reg, w->service, tu_rec_cb, &w->rec), MOTAN_OK);
}

static void watch_stop(watch *w)
{
    motan_registry_free(w->reg);
    motan_loop_free(w->loop);
    motan_url_free(w->service);
    tu_rec_destroy(&w->rec);
}

static int http_ok(int port, const char *path)
{
    char *body;
    int st = tu_http(port, "GET", path, NULL, &body);
    free(body);
    return st == 200;
}

static motan_response *add(motan_client *c, int a, int b)
{
    motan_request *r = motan_client_request(c, "add");
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), a));
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), b));
    motan_response *resp;
    motan_client_call(c, r, &resp);
    motan_request_free(r);
    return resp;
}

/* _i 0: the backend on TCP; 1: on a Unix socket (proxyAddress unix:PATH). */
START_TEST(export_follows_200_503_and_the_backend)
{
    tu_backend be;
    if (_i)
        ck_assert_int_eq(tu_backend_start_unix(&be), 0);
    else
        ck_assert_int_eq(tu_backend_start(&be, 0), 0);
    char *y = tu_fmt("motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  host: 127.0.0.1\n"
                  "  log_dir: @DIR@\n"
                  "motan-registry:\n  zk:\n    protocol: zookeeper\n    address: %s\n"
                  "    registrySessionTimeout: 4000\n"
                  "motan-basicService:\n  web:\n    registry: zk\n    group: web-g\n"
                  "    provider: http\n    requestTimeout: 2000\n    healthInterval: 100\n"
                  "motan-service:\n  hello:\n    path: " HELLO "\n    basicService: web\n"
                  "    export: motan2:0\n    proxyAddress: %s\n",
                  g_zk.hosts, be.addr);
    tu_agent ag;
    ck_assert_int_eq(tu_agent_start(&ag, y), 0);
    free(y);
    watch w;
    watch_start(&w, HELLO, "web-g");
    char node[64];
    snprintf(node, sizeof(node), "127.0.0.1:%d", ag.eport);

    /* the agent starts unavailable: backend up, nothing registered */
    ck_assert(tu_agent_wait_backend(&ag, 1, ms(10000)));
    ck_assert(tu_rec_wait_list(&w.rec, 0, NULL, ms(10000)));
    ck_assert_int_eq(tu_rec_calls(&w.rec), 1);

    ck_assert(http_ok(ag.mport, "/200"));
    ck_assert(tu_rec_wait_list(&w.rec, 1, node, ms(10000)));
    ck_assert(tu_rec_has(&w.rec, "nodeType=service"));
    ck_assert(tu_rec_has(&w.rec, "requestTimeout=2000"));

    /* a client following ZooKeeper calls the HTTP backend through the agent */
    char url[256], err[256];
    snprintf(url, sizeof(url), "zookeeper://%s/" HELLO "?group=web-g&requestTimeout=3000", g_zk.hosts);
    motan_client *c;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_client_wait_ready(c, ms(10000)), MOTAN_OK);
    motan_response *resp = add(c, 40, 2);
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 42);
    motan_response_free(resp);

    ck_assert(http_ok(ag.mport, "/503"));
    ck_assert(tu_rec_wait_list(&w.rec, 0, NULL, ms(10000)));
    ck_assert(http_ok(ag.mport, "/200"));
    ck_assert(tu_rec_wait_list(&w.rec, 1, node, ms(10000)));

    /* the backend goes: unregistered, calls answered 503 by the agent; it comes back: again */
    tu_backend_stop(&be);
    ck_assert(tu_rec_wait_list(&w.rec, 0, NULL, ms(10000)));
    motan_client_free(c);
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/" HELLO "?group=web-g", ag.eport);
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    resp = add(c, 1, 1);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 503);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "is down (connect: Connection refused)"), "%s",
                  motan_response_get_errmsg(resp));
    motan_response_free(resp);
    ck_assert_int_eq(tu_backend_restart(&be), 0);
    ck_assert(tu_rec_wait_list(&w.rec, 1, node, ms(10000)));
    resp = add(c, 2, 3);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 5);
    motan_response_free(resp);
    motan_client_free(c);

    /* the drain unregisters at once (the session would keep the node for 4 s) */
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_agent_signal(&ag, SIGTERM), 0);
    ck_assert(tu_rec_wait_list(&w.rec, 0, NULL, ms(3000)));
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, (unsigned)ms(3000));
    ck_assert_int_eq(tu_agent_wait(&ag, ms(10000)), 0);
    tu_agent_stop(&ag);
    watch_stop(&w);
    tu_backend_free(&be);
}
END_TEST

START_TEST(refer_through_zookeeper)
{
    char reg[128];
    snprintf(reg, sizeof(reg), "zookeeper://%s?sessionTimeout=4000", g_zk.hosts);
    const char *args[] = {"--name", "zk-srv", "--quiet", "--register", reg, "--group", "zg", NULL};
    tu_server s;
    ck_assert_int_eq(tu_server_start(&s, args), 0);
    char *y = tu_fmt("motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
                  "motan-registry:\n  zk:\n    protocol: zk\n    host: 127.0.0.1\n    port: %d\n"
                  "motan-refer:\n  echo:\n    path: com.example.EchoService\n    group: zg\n"
                  "    registry: zk\n    requestTimeout: 2000\n",
                  g_zk.port);
    tu_agent ag;
    ck_assert_int_eq(tu_agent_start(&ag, y), 0);
    free(y);
    char url[128], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService?requestTimeout=3000",
             ag.port);
    motan_client *c;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    /* the refer's first list comes from ZooKeeper: calls wait for it within their timeout */
    motan_request *r = motan_client_request(c, "name");
    motan_response *resp = NULL;
    uint64_t end = motan_now_us() + (uint64_t)ms(10000) * 1000u;
    do {
        motan_response_free(resp);
        motan_client_call(c, r, &resp);
    } while (motan_response_get_code(resp) != MOTAN_OK && motan_now_us() < end);
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    ck_assert_str_eq(motan_value_get_data(motan_response_get_value(resp), NULL), "zk-srv");
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&ag), 0);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_agent_zk");
    TCase *t = tcase_create("zookeeper");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, export_follows_200_503_and_the_backend, 0, 2);
    tcase_add_test(t, refer_through_zookeeper);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (tu_zk_start(&g_zk) != 0) {
        fprintf(stderr, "test_agent_zk: cannot start ZooKeeper\n");
        return 1;
    }
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    tu_zk_free(&g_zk);
    return failed ? 1 : 0;
}
