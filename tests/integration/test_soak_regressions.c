/*
 * Bugs `make soak` found, each reduced to a deterministic check:
 *   - a server that stops in the middle of a response frame (X-Fault endless-meta) blocked
 *     its connection, heartbeats included, for good: the endpoint never came back;
 *   - a rule update that drops a group while one of its calls is in flight freed the group
 *     the call's failover retry then picked from (heap use after free);
 *   - the reused frame kept a gzip bomb's 10 MiB inflate buffer for the endpoint's life.
 */
#include <check.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <motan/client.h>
#include <motan/cluster.h>

#include "server_proc.h"
#include "tu_loop.h"

static int name_call(motan_client *c, const char *fault, char *server, size_t len)
{
    motan_request *r = motan_client_request(c, "name");
    ck_assert_ptr_nonnull(r);
    if (fault)
        motan_request_set_meta(r, "X-Fault", fault);
    motan_response *resp = NULL;
    int rc = motan_client_call(c, r, &resp);
    if (server) {
        const motan_value *v = rc == MOTAN_OK ? motan_response_get_value(resp) : NULL;
        size_t n = 0;
        const char *d = v ? motan_value_get_data(v, &n) : NULL;
        snprintf(server, len, "%.*s", d ? (int)n : 0, d ? d : "");
    }
    motan_response_free(resp);
    motan_request_free(r);
    return rc;
}

/* One connection, stalled mid-frame: the connection must be dropped and calls recover. */
START_TEST(test_stalled_frame_closes_connection)
{
    tu_server s;
    ck_assert_int_eq(tu_server_start(&s, (const char *const[]){"--quiet", NULL}), 0);
    char url[256], err[256];
    snprintf(url, sizeof(url),
             "motan2://127.0.0.1:%d/com.example.EchoService?connections=1&requestTimeout=%d"
             "&keepaliveInterval=200",
             s.port, tu_slow() ? 1000 : 200);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(name_call(c, NULL, NULL, 0), MOTAN_OK);
    ck_assert_int_eq(name_call(c, "endless-meta", NULL, 0), MOTAN_ETIMEOUT);
    /* Before the fix every later call timed out (then: no endpoint) for as long as it ran. */
    int ok = 0;
    for (int i = 0; i < 40 && !ok; i++) {
        ok = name_call(c, NULL, NULL, 0) == MOTAN_OK;
        if (!ok)
            usleep(100000);
    }
    ck_assert_msg(ok, "the connection stayed blocked behind the never-ending frame");
    motan_client_free(c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

typedef struct done {
    int n;
    int code;
    char server[64];
} done;

static void done_cb(motan_response *r, void *ud)
{
    done *d = ud;
    d->code = r ? motan_response_get_code(r) : MOTAN_ENOMEM;
    const char *srv = r ? motan_response_get_meta(r, "X-Server") : NULL;
    snprintf(d->server, sizeof(d->server), "%s", srv ? srv : "");
    motan_response_free(r);
    __atomic_store_n(&d->n, 1, __ATOMIC_SEQ_CST);
}

static void update(motan_cluster *c, const char *group, const char *a, const char *b)
{
    motan_url *nodes[2] = {tu_url(a), b ? tu_url(b) : NULL};
    size_t n = b ? 2 : 1;
    int rc = group ? motan_cluster_update_group(c, group, (const motan_url *const *)nodes, n)
                   : motan_cluster_update(c, (const motan_url *const *)nodes, n);
    ck_assert_int_eq(rc, MOTAN_OK);
    motan_url_free(nodes[0]);
    motan_url_free(nodes[1]);
}

/* The call goes to group gB, gB goes away, the call fails there and retries: in the own group. */
START_TEST(test_group_dropped_under_a_retrying_call)
{
    tu_server a, b;
    ck_assert_int_eq(tu_server_start(&a, (const char *const[]){"--quiet", "--name", "A", NULL}), 0);
    /* B answers every request by closing the connection, after the sleep asked for. */
    ck_assert_int_eq(tu_server_start(&b, (const char *const[]){"--quiet", "--name", "B", "--fault",
                                                               "close", NULL}),
                     0);
    tu_env e;
    tu_env_init_builtin(&e);
    motan_url *su = tu_url("motan2:///com.example.EchoService?haStrategy=failover&retries=2"
                           "&requestTimeout=5000");
    motan_cluster *c = NULL;
    char err[256], na[128], nb[128], rule[160];
    ck_assert_msg(motan_cluster_new(e.loop, su, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    motan_url_free(su);
    snprintf(na, sizeof(na), "motan2://127.0.0.1:%d/com.example.EchoService", a.port);
    snprintf(nb, sizeof(nb), "motan2://127.0.0.1:%d/com.example.EchoService?group=gB", b.port);
    snprintf(rule, sizeof(rule),
             "rule://0.0.0.0/com.example.EchoService?weights=default_rpc:1,gB:100");
    update(c, NULL, na, rule);
    update(c, "gB", nb, NULL);

    motan_request *req = motan_request_new("sleep");
    motan_request_add_arg(req, motan_value_new_int32(motan_request_arena(req), 400));
    done d = {0};
    ck_assert_int_eq(motan_cluster_call(c, req, done_cb, &d), MOTAN_OK);
    usleep(150000);
    update(c, NULL, na, NULL); /* no rule any more: gB is dropped while the call waits on B */
    for (int i = 0; i < 500 && !__atomic_load_n(&d.n, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    ck_assert_int_eq(d.n, 1);
    ck_assert_msg(d.code == MOTAN_OK, "code %s", motan_errname(d.code));
    ck_assert_str_eq(d.server, "A");
    motan_request_free(req);
    motan_cluster_free(c);
    tu_env_free(&e);
    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert_int_eq(tu_server_stop(&b), 0);
}
END_TEST

/* A gzip bomb (64 MiB of zeros, refused at 10 MiB) must not leave 10 MiB behind per endpoint. */
START_TEST(test_gzip_bomb_buffer_not_kept)
{
    tu_server s;
    ck_assert_int_eq(tu_server_start(&s, (const char *const[]){"--quiet", NULL}), 0);
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService?requestTimeout=5000",
             s.port);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(name_call(c, NULL, NULL, 0), MOTAN_OK);
    long before = tu_rss_kb();
    for (int i = 0; i < 3; i++) {
        /* ETOOBIG closes the connection: a call may find none connected for a moment. */
        int rc = MOTAN_ECONNECT;
        for (int k = 0; k < 20 && rc == MOTAN_ECONNECT; k++)
            if ((rc = name_call(c, "gzip-bomb", NULL, 0)) == MOTAN_ECONNECT)
                usleep(50000);
        ck_assert_int_eq(rc, MOTAN_ETOOBIG);
    }
    long after = tu_rss_kb();
    int rc = MOTAN_ECONNECT;
    for (int k = 0; k < 20 && rc == MOTAN_ECONNECT; k++)
        if ((rc = name_call(c, NULL, NULL, 0)) == MOTAN_ECONNECT)
            usleep(50000);
    ck_assert_int_eq(rc, MOTAN_OK);
    /* Large blocks are mmap'd (main) and go back at free; sanitizers keep them. */
    if (!tu_slow())
        ck_assert_msg(after - before < 4096, "RSS grew from %ld to %ld kB", before, after);
    motan_client_free(c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

static Suite *soak_suite(void)
{
    Suite *s = suite_create("soak_regressions");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stalled_frame_closes_connection);
    tcase_add_test(tc, test_group_dropped_under_a_retrying_call);
    tcase_add_test(tc, test_gzip_bomb_buffer_not_kept);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Not glibc's sliding threshold, which would keep freed 10 MiB blocks on the heap. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    SRunner *sr = srunner_create(soak_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
