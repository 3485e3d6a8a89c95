/*
 * Exports through real registries. A private ZooKeeper (tests/support/lib/zk_proc.h): the
 * node appears where Java and Go servers put it (a libmotan subscriber and a zookeeper://
 * client find it and call the server), stays while the session is kept alive, and goes at
 * once on drain and on free (not a session expiry later). The Consul agent stand-in
 * (consul_fixture.h): registered with a TTL check that keeps passing, called through
 * consul://, deregistered by the drain. A services file (file://): two servers' nodes written
 * into it, called through file://, taken out by the drain and by free.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "consul_fixture.h"
#include "testutil.h"
#include "tu_registry.h"
#include "tu_srv.h"
#include "zk_proc.h"


static tu_zk g_zk;

static int ms(int v) { return tu_slow() ? v * 5 : v; }

typedef struct fixture {
    tu_srv t;
    motan_registry *reg;  /* the server's, on its loop */
    motan_loop *sloop;    /* the subscriber's */
    motan_registry *sreg;
    motan_url *service;
    tu_rec rec;
    char node[64];        /* "127.0.0.1:<port>" */
} fixture;

/* A server exporting TU_SVC in group, and a subscriber watching that group. */
static void up(fixture *f, const char *group, const char *reg_params)
{
    char text[512], err[512];
    tu_srv_start(&f->t, 1, NULL);
    ck_assert_int_eq(motan_server_handle(f->t.s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    snprintf(text, sizeof(text), "zookeeper://%s?%s", g_zk.hosts, reg_params ? reg_params : "");
    f->reg = tu_registry(f->t.e.loop, text);
    snprintf(text, sizeof(text), "motan2://127.0.0.1:0/%s?group=%s", TU_SVC, group);
    ck_assert_msg(motan_server_export(f->t.s, f->reg, text, err, sizeof(err)) == MOTAN_OK, "%s", err);
    snprintf(f->node, sizeof(f->node), "127.0.0.1:%d", f->t.port);

    ck_assert_int_eq(motan_loop_new(&f->sloop, err, sizeof(err)), MOTAN_OK);
    snprintf(text, sizeof(text), "zookeeper://%s", g_zk.hosts);
    f->sreg = tu_registry(f->sloop, text);
    snprintf(text, sizeof(text), "motan2://127.0.0.1:0/%s?group=%s", TU_SVC, group);
    f->service = tu_url(text);
    tu_rec_init(&f->rec);
    ck_assert_int_eq(motan_registry_subscribe(f->sreg, f->service, tu_rec_cb, &f->rec), MOTAN_OK);
}

static void down(fixture *f)
{
    motan_server_free(f->t.s);
    f->t.s = NULL;
    motan_registry_free(f->reg);
    tu_srv_stop(&f->t);
    motan_registry_free(f->sreg);
    motan_loop_free(f->sloop);
    motan_url_free(f->service);
    tu_rec_destroy(&f->rec);
}

START_TEST(export_is_found_and_called)
{
    fixture f;
    up(&f, "srv-g1", NULL);
    ck_assert(tu_rec_wait_list(&f.rec, 1, f.node, ms(10000)));
    ck_assert(tu_rec_has(&f.rec, "nodeType=service"));
    /* A client following the registry calls the server. */
    char url[256], err[256];
    snprintf(url, sizeof(url), "zookeeper://%s/%s?group=srv-g1", g_zk.hosts, TU_SVC);
    motan_client *c;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_client_wait_ready(c, ms(10000)), MOTAN_OK);
    motan_request *r = motan_client_request(c, "echo");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "zk", 2));
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    ck_assert_str_eq(motan_value_get_data(motan_response_get_value(resp), NULL), "zk");
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
    /* The drain takes the node away at once (sessions last 10 s: this is no expiry). */
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(motan_server_shutdown(f.t.s, 2000), MOTAN_OK);
    ck_assert(tu_rec_wait_list(&f.rec, 0, NULL, ms(5000)));
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, (unsigned)ms(5000));
    down(&f);
}
END_TEST

START_TEST(session_kept_alive_and_free_unregisters)
{
    fixture f;
    /* 2 s, not ZooKeeper's least (1 s): a host stall of a few hundred ms between pings must
     * not end the session. */
    up(&f, "srv-g2", "sessionTimeout=2000");
    ck_assert(tu_rec_wait_list(&f.rec, 1, f.node, ms(10000)));
    /* Three session timeouts later the node is still there: the session is kept alive. */
    sleep(6);
    ck_assert_int_eq(tu_rec_n(&f.rec), 1);
    ck_assert(tu_rec_has(&f.rec, f.node));
    /* Freeing the server unregisters (the registry itself still runs). */
    motan_server_free(f.t.s);
    f.t.s = NULL;
    ck_assert(tu_rec_wait_list(&f.rec, 0, NULL, ms(5000)));
    down(&f);
}
END_TEST

/* The server and a registry on its loop; the caller exports. */
static motan_registry *server_with_registry(tu_srv *t, const char *reg_url)
{
    tu_srv_start(t, 1, NULL);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    return tu_registry(t->e.loop, reg_url);
}

static int wait_consul(tu_consul *c, const char *what, int n, int timeout_ms)
{
    uint64_t t0 = motan_now_us();
    while (tu_consul_count(c, what) < n && motan_now_us() - t0 < (uint64_t)timeout_ms * 1000)
        usleep(5000);
    return tu_consul_count(c, what) >= n;
}

START_TEST(export_through_consul)
{
    tu_consul *consul = tu_consul_start();
    ck_assert_ptr_nonnull(consul);
    char text[256], err[512], id[128];
    snprintf(text, sizeof(text), "consul://127.0.0.1:%d?ttl=3", tu_consul_port(consul));
    tu_srv t;
    motan_registry *reg = server_with_registry(&t, text);
    ck_assert_msg(motan_server_export(t.s, reg, "motan2://127.0.0.1:0/" TU_SVC "?group=cg", err,
                                      sizeof(err)) == MOTAN_OK, "%s", err);
    snprintf(id, sizeof(id), "127.0.0.1:%d-%s", t.port, TU_SVC);
    /* Registered with motan's naming, its TTL check passed, and passed again within the TTL. */
    ck_assert(wait_consul(consul, "pass", 1, ms(3000)));
    int passing = 0, port = 0;
    ck_assert(tu_consul_get(consul, "motanrpc_cg", id, &passing, &port, NULL, 0, NULL, 0));
    ck_assert_int_eq(passing, 1);
    ck_assert_int_eq(port, t.port);
    ck_assert(wait_consul(consul, "pass", 2, ms(3000)));
    /* A consul:// client finds it and calls it. */
    snprintf(text, sizeof(text), "consul://127.0.0.1:%d/%s?group=cg", tu_consul_port(consul), TU_SVC);
    motan_client *c;
    ck_assert_msg(motan_client_new(text, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(motan_client_wait_ready(c, ms(5000)), MOTAN_OK);
    motan_request *r = motan_client_request(c, "echo");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "consul", 6));
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    ck_assert_str_eq(motan_value_get_data(motan_response_get_value(resp), NULL), "consul");
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
    /* The drain deregisters. */
    ck_assert_int_eq(motan_server_shutdown(t.s, 2000), MOTAN_OK);
    ck_assert(wait_consul(consul, "deregister", 1, ms(3000)));
    ck_assert(!tu_consul_get(consul, "motanrpc_cg", id, NULL, NULL, NULL, 0, NULL, 0));
    motan_server_free(t.s);
    t.s = NULL;
    motan_registry_free(reg);
    tu_srv_stop(&t);
    tu_consul_free(consul);
}
END_TEST

/* calls echo(text) through a client for url. */
static void echo_call(const char *url, const char *text, int calls)
{
    char err[512];
    motan_client *c;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(motan_client_wait_ready(c, ms(5000)), MOTAN_OK);
    for (int i = 0; i < calls; i++) {
        motan_request *r = motan_client_request(c, "echo");
        motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), text, strlen(text)));
        motan_response *resp;
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        ck_assert_str_eq(motan_value_get_data(motan_response_get_value(resp), NULL), text);
        motan_response_free(resp);
        motan_request_free(r);
    }
    motan_client_free(c);
}

/*
 * Two servers export into one services file (beside a hand-written entry): each node is in
 * the file when export returns, written as ZooKeeper's are; a file:// client finds both and
 * calls them; the drain takes the first one's node out before shutdown returns, freeing the
 * second takes out its own, and the hand-written entry stays.
 */
START_TEST(export_through_a_file)
{
    char dir[] = "/tmp/motan-srv-export-XXXXXX", path[128], lock[140], text[256], err[512];
    char want[512], l[2048];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/services.json", dir);
    snprintf(lock, sizeof(lock), "%s.lock", path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"services\": {\"" TU_SVC "\": {\"other\": [\"10.0.0.9:8002\"]}}}\n", f);
    fclose(f);
    snprintf(text, sizeof(text), "file://%s", path);
    tu_srv a, b;
    motan_registry *ra = server_with_registry(&a, text), *rb = server_with_registry(&b, text);
    const char *node = "motan2://127.0.0.1:0/" TU_SVC "?group=fg";
    ck_assert_msg(motan_server_export(a.s, ra, node, err, sizeof(err)) == MOTAN_OK, "%s", err);
    snprintf(want, sizeof(want), "motan2://127.0.0.1:%d/" TU_SVC "?group=fg&nodeType=service",
             a.port);
    ck_assert_str_eq(tu_services_list(path, TU_SVC, "fg", l, sizeof(l)), want);
    ck_assert_msg(motan_server_export(b.s, rb, node, err, sizeof(err)) == MOTAN_OK, "%s", err);
    char nb[160];
    snprintf(nb, sizeof(nb), "motan2://127.0.0.1:%d/" TU_SVC "?group=fg&nodeType=service", b.port);
    snprintf(want + strlen(want), sizeof(want) - strlen(want), "|%s", nb);
    ck_assert_str_eq(tu_services_list(path, TU_SVC, "fg", l, sizeof(l)), want);

    /* A client following the file calls both servers. */
    snprintf(text, sizeof(text), "file://%s/%s?group=fg&loadbalance=roundrobin", path, TU_SVC);
    echo_call(text, "file", 4);
    ck_assert_uint_ge(motan_server_stat(a.s, "requests"), 1);
    ck_assert_uint_ge(motan_server_stat(b.s, "requests"), 1);

    /* The drain: out of the file when shutdown returns. */
    ck_assert_int_eq(motan_server_shutdown(a.s, 2000), MOTAN_OK);
    ck_assert_str_eq(tu_services_list(path, TU_SVC, "fg", l, sizeof(l)), nb);
    /* Free: the same. */
    motan_server_free(b.s);
    b.s = NULL;
    ck_assert_str_eq(tu_services_list(path, TU_SVC, "fg", l, sizeof(l)), "");
    ck_assert_str_eq(tu_services_list(path, TU_SVC, "other", l, sizeof(l)), "10.0.0.9:8002");
    char msg[512];
    motan_registry_errmsg(ra, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");
    motan_server_free(a.s);
    a.s = NULL;
    motan_registry_free(ra);
    motan_registry_free(rb);
    tu_srv_stop(&a);
    tu_srv_stop(&b);
    unlink(path);
    unlink(lock);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_srv_export");
    TCase *t = tcase_create("export");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, export_is_found_and_called);
    tcase_add_test(t, session_kept_alive_and_free_unregisters);
    tcase_add_test(t, export_through_consul);
    tcase_add_test(t, export_through_a_file);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Once per binary, from the main thread, before any loop thread exists. */
    if (tu_zk_start(&g_zk) != 0) {
        fprintf(stderr, "test_srv_export: cannot start ZooKeeper\n");
        return 1;
    }
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    tu_zk_free(&g_zk);
    return failed ? 1 : 0;
}
