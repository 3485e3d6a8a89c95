/*
 * Cluster against 3-5 real test servers: failover through a server kill, backup requests
 * against a slow tail and their budget, fusing and heartbeat recovery, list updates that
 * keep connections, group weights, LB spread seen from the servers, freeing in flight.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/cluster.h>
#include <motan/observe.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"

/* ---- harness -------------------------------------------------------------------------- */

static motan_cluster *cluster_new(tu_env *e, const char *params)
{
    char text[512], err[256];
    snprintf(text, sizeof(text), "motan2:///com.example.EchoService?%s", params ? params : "");
    motan_url *u = tu_url(text);
    motan_cluster *c = NULL;
    int rc = motan_cluster_new(e->loop, u, &c, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "cluster_new: %s", err);
    motan_url_free(u);
    return c;
}

static void start_servers(tu_server *s, int n, const char *const *extra)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%d", i);
        const char *args[16] = {"--name", name};
        int k = 2;
        for (int j = 0; extra && extra[j] && k < 15; j++)
            args[k++] = extra[j];
        args[k] = NULL;
        ck_assert_int_eq(tu_server_start(&s[i], args), 0);
    }
}

static void stop_servers(tu_server *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i].pid)
            ck_assert_int_eq(tu_server_stop(&s[i]), 0);
}

/* s0, s1 and s2, s2 with --fault fault. */
static void start_one_faulty(tu_server *s, const char *fault)
{
    const char *a0[] = {"--name", "s0", NULL}, *a1[] = {"--name", "s1", NULL};
    const char *a2[] = {"--name", "s2", "--fault", fault, NULL};
    ck_assert_int_eq(tu_server_start(&s[0], a0), 0);
    ck_assert_int_eq(tu_server_start(&s[1], a1), 0);
    ck_assert_int_eq(tu_server_start(&s[2], a2), 0);
}

/* Points the cluster at servers (node params appended to each node URL). */
static void set_nodes(motan_cluster *c, const char *group, tu_server *s, int n,
                      const char *const *node_params)
{
    motan_url *nodes[8];
    for (int i = 0; i < n; i++) {
        char text[256];
        snprintf(text, sizeof(text), "motan2://127.0.0.1:%d/com.example.EchoService?%s", s[i].port,
                 node_params && node_params[i] ? node_params[i] : "");
        nodes[i] = tu_url(text);
    }
    int rc = group ? motan_cluster_update_group(c, group, (const motan_url *const *)nodes, (size_t)n)
                   : motan_cluster_update(c, (const motan_url *const *)nodes, (size_t)n);
    ck_assert_int_eq(rc, MOTAN_OK);
    for (int i = 0; i < n; i++)
        motan_url_free(nodes[i]);
}

/* A pipeline of echo calls, counting answers per server (X-Server). */
typedef struct load {
    tu_env *e;
    motan_cluster *c;
    int total, next, completed, failed, inflight_max;
    int per_server[8];
    uint64_t *lat_us;
    int nlat;
    char first_error[512];
    const char *hash_keys; /* non-NULL: per-call consistent-hash key "k<i>" */
} load;

typedef struct slot {
    load *l;
    motan_request *req;
    uint64_t sent;
} slot;

static void load_issue(slot *s);

static void load_cb(motan_response *r, void *ud)
{
    slot *s = ud;
    load *l = s->l;
    l->completed++;
    if (l->lat_us)
        l->lat_us[l->nlat++] = motan_now_us() - s->sent;
    if (!r || motan_response_get_code(r) != MOTAN_OK) {
        if (!l->failed++ && r)
            snprintf(l->first_error, sizeof(l->first_error), "%s: %s",
                     motan_errname(motan_response_get_code(r)), motan_response_get_errmsg(r));
    } else {
        const char *srv = motan_response_get_meta(r, "X-Server");
        if (srv && srv[0] == 's' && srv[1] >= '0' && srv[1] <= '7')
            l->per_server[srv[1] - '0']++;
    }
    motan_response_free(r);
    load_issue(s);
}

static void load_issue(slot *s)
{
    load *l = s->l;
    if (l->next >= l->total)
        return;
    int i = l->next++;
    if (!s->req) {
        s->req = motan_request_new("echo");
        motan_request_add_arg(s->req, motan_value_new_string(motan_request_arena(s->req), "x", 1));
    }
    if (l->hash_keys) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i % 1000);
        motan_request_set_hash_key(s->req, key, strlen(key));
    }
    s->sent = motan_now_us();
    ck_assert_int_eq(motan_cluster_call(l->c, s->req, load_cb, s), MOTAN_OK);
}

static slot *load_start(load *l, int inflight)
{
    slot *slots = calloc((size_t)inflight, sizeof(slot));
    for (int k = 0; k < inflight; k++) {
        slots[k].l = l;
        load_issue(&slots[k]);
    }
    return slots;
}

static void load_end(slot *slots, int inflight)
{
    for (int k = 0; k < inflight; k++)
        motan_request_free(slots[k].req);
    free(slots);
}

/* A whole load: l->total calls, inflight at a time, run to completion within timeout_ms. */
static void load_run(load *l, int inflight, int timeout_ms)
{
    slot *slots = load_start(l, inflight);
    ck_assert_msg(tu_run_until(l->e, &l->completed, l->total, timeout_ms),
                  "%d of %d calls completed", l->completed, l->total);
    load_end(slots, inflight);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- failover through a server kill --------------------------------------------------- */

START_TEST(test_failover_server_killed)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "haStrategy=failover&retries=1&loadbalance=roundrobin");
    set_nodes(c, NULL, s, 3, NULL);
    load l = {.e = &e, .c = c, .total = tu_slow() ? 3000 : 30000};
    slot *slots = load_start(&l, 32);
    ck_assert(tu_run_until(&e, &l.completed, l.total / 3, 60000));
    tu_server_kill(&s[1]);
    ck_assert(tu_run_until(&e, &l.completed, l.total, 120000));
    ck_assert_msg(l.failed == 0, "%d calls failed, first: %s", l.failed, l.first_error);
    ck_assert_int_gt(motan_cluster_stat(c, "retries"), 0);
    ck_assert_int_gt(l.per_server[0], l.total / 4);
    ck_assert_int_gt(l.per_server[2], l.total / 4);
    /* The dead server was fused: the LB stopped sending there. */
    ck_assert_int_lt(l.per_server[1], l.total / 2);
    load_end(slots, 32);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

/* Without retries the same kill shows errors: the test above is not vacuous. */
START_TEST(test_failfast_server_killed_shows_errors)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "haStrategy=failfast&loadbalance=roundrobin");
    set_nodes(c, NULL, s, 3, NULL);
    load l = {.e = &e, .c = c, .total = 6000};
    slot *slots = load_start(&l, 32);
    ck_assert(tu_run_until(&e, &l.completed, 2000, 60000));
    tu_server_kill(&s[1]);
    ck_assert(tu_run_until(&e, &l.completed, l.total, 60000));
    ck_assert_int_gt(l.failed, 0);
    load_end(slots, 32);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

/* ---- backup requests ------------------------------------------------------------------ */

START_TEST(test_backup_request_cuts_tail)
{
    /* s0 answers 5% of its calls after 300 ms: a slow tail. */
    tu_server s[3];
    const char *slow_args[] = {"--name", "s0", "--fault", "delay:300", "--fault-rate", "5", "--seed", "7", NULL};
    ck_assert_int_eq(tu_server_start(&s[0], slow_args), 0);
    const char *a1[] = {"--name", "s1", NULL}, *a2[] = {"--name", "s2", NULL};
    ck_assert_int_eq(tu_server_start(&s[1], a1), 0);
    ck_assert_int_eq(tu_server_start(&s[2], a2), 0);
    tu_env e;
    tu_env_init(&e);
    const char *modes[] = {"haStrategy=failfast&loadbalance=roundrobin&requestTimeout=2000",
                           "haStrategy=backupRequest&loadbalance=roundrobin&requestTimeout=2000&"
                           "backupRequestDelayTime=30"};
    uint64_t p99[2];
    for (int m = 0; m < 2; m++) {
        motan_cluster *c = cluster_new(&e, modes[m]);
        set_nodes(c, NULL, s, 3, NULL);
        load l = {.e = &e, .c = c, .total = tu_slow() ? 1500 : 6000};
        l.lat_us = calloc((size_t)l.total, sizeof(uint64_t));
        load_run(&l, 16, 120000);
        ck_assert_msg(l.failed == 0, "%s: %d failed, first: %s", modes[m], l.failed, l.first_error);
        qsort(l.lat_us, (size_t)l.nlat, sizeof(uint64_t), cmp_u64);
        p99[m] = l.lat_us[(l.nlat * 99) / 100];
        uint64_t backups = motan_cluster_stat(c, "backups");
        if (m == 1) {
            ck_assert_int_gt(backups, 0);
            ck_assert_msg(backups * 100 <= (uint64_t)l.total * 15, "%llu backups for %d calls",
                          (unsigned long long)backups, l.total);
            ck_assert_int_gt(motan_cluster_stat(c, "backups_won"), 0);
        } else {
            ck_assert_int_eq(backups, 0);
        }
        free(l.lat_us);
        motan_cluster_free(c);
    }
    /* Without backups the 99th percentile is the slow tail; with them it is far below. */
    ck_assert_msg(p99[0] >= 250000, "failfast p99 %llu us", (unsigned long long)p99[0]);
    ck_assert_msg(p99[1] < 150000, "backupRequest p99 %llu us", (unsigned long long)p99[1]);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

START_TEST(test_backup_budget_caps_copies)
{
    /* Every server is slow: every call would want a copy; the budget allows 15%. */
    tu_server s[3];
    const char *extra[] = {"--fault", "delay:40", NULL};
    start_servers(s, 3, extra);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "haStrategy=backupRequest&backupRequestDelayTime=5&"
                                       "requestTimeout=2000");
    set_nodes(c, NULL, s, 3, NULL);
    load l = {.e = &e, .c = c, .total = tu_slow() ? 400 : 2000};
    load_run(&l, 32, 120000);
    ck_assert_int_eq(l.failed, 0);
    uint64_t backups = motan_cluster_stat(c, "backups");
    ck_assert_msg(backups > 0 && backups * 100 <= (uint64_t)l.total * 15 + 100,
                  "%llu backups for %d calls", (unsigned long long)backups, l.total);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

/* ---- fusing and recovery -------------------------------------------------------------- */

START_TEST(test_flapping_server_fused_then_recovered)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "haStrategy=failover&retries=2&loadbalance=roundrobin&"
                                       "errorCountThreshold=5&keepaliveInterval=100");
    set_nodes(c, NULL, s, 3, NULL);
    motan_endpoint *ep1 = NULL;
    for (size_t i = 0; i < motan_cluster_endpoint_count(c); i++) {
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", s[1].port);
        if (!strcmp(motan_endpoint_get_address(motan_cluster_endpoint_at(c, i)), addr))
            ep1 = motan_cluster_endpoint_at(c, i);
    }
    ck_assert_ptr_nonnull(ep1);
    for (int round = 0; round < 2; round++) {
        tu_server_kill(&s[1]);
        load l = {.e = &e, .c = c, .total = 3000};
        load_run(&l, 16, 60000);
        ck_assert_msg(l.failed == 0, "round %d: %d failed: %s", round, l.failed, l.first_error);
        ck_assert_msg(!motan_endpoint_is_available(ep1), "round %d: not fused", round);
        ck_assert_int_eq(tu_server_restart(&s[1]), 0);
        uint64_t t0 = motan_now_us();
        while (!motan_endpoint_is_available(ep1) && motan_now_us() - t0 < 5000000)
            tu_run_for(&e, 20);
        ck_assert_msg(motan_endpoint_is_available(ep1), "round %d: not recovered", round);
        load l2 = {.e = &e, .c = c, .total = 3000};
        load_run(&l2, 16, 60000);
        ck_assert_int_eq(l2.failed, 0);
        ck_assert_msg(l2.per_server[1] > 500, "round %d: recovered server got %d calls", round,
                      l2.per_server[1]);
    }
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

/* ---- load balancing seen from the servers --------------------------------------------- */

START_TEST(test_roundrobin_even)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "loadbalance=roundrobin");
    set_nodes(c, NULL, s, 3, NULL);
    load l = {.e = &e, .c = c, .total = 3000};
    load_run(&l, 1, 60000);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(l.per_server[i], 1000);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

START_TEST(test_wrr_weights)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "loadbalance=wrr");
    const char *w[] = {"weight=1", "weight=2", "weight=5"};
    set_nodes(c, NULL, s, 3, w);
    load l = {.e = &e, .c = c, .total = 8000};
    load_run(&l, 1, 60000);
    ck_assert_int_eq(l.per_server[0], 1000);
    ck_assert_int_eq(l.per_server[1], 2000);
    ck_assert_int_eq(l.per_server[2], 5000);
    /* A weight change applies in place, without new connections. */
    motan_endpoint *ep0 = motan_cluster_endpoint_at(c, 0);
    uint64_t connects = motan_endpoint_stat(ep0, "connects");
    const char *w2[] = {"weight=5", "weight=2", "weight=1"};
    set_nodes(c, NULL, s, 3, w2);
    ck_assert_ptr_eq(motan_cluster_endpoint_at(c, 0), ep0);
    load l2 = {.e = &e, .c = c, .total = 8000};
    load_run(&l2, 1, 60000);
    ck_assert_int_eq(l2.per_server[0], 5000);
    ck_assert_int_eq(l2.per_server[2], 1000);
    ck_assert_int_eq(motan_endpoint_stat(ep0, "connects"), connects);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

START_TEST(test_consistent_sticky)
{
    tu_server s[4];
    start_servers(s, 4, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "loadbalance=consistent");
    set_nodes(c, NULL, s, 4, NULL);
    int where[50];
    for (int k = 0; k < 50; k++) {
        for (int rep = 0; rep < 3; rep++) {
            motan_request *r = motan_request_new("name");
            char key[16];
            snprintf(key, sizeof(key), "user%d", k);
            motan_request_set_hash_key(r, key, strlen(key));
            load l = {0};
            slot sl = {.l = &l, .req = r};
            l.total = 1;
            l.next = 1;
            ck_assert_int_eq(motan_cluster_call(c, r, load_cb, &sl), MOTAN_OK);
            ck_assert(tu_run_until(&e, &l.completed, 1, 5000));
            ck_assert_int_eq(l.failed, 0);
            int srv = -1;
            for (int i = 0; i < 4; i++)
                if (l.per_server[i])
                    srv = i;
            if (rep == 0)
                where[k] = srv;
            else
                ck_assert_int_eq(srv, where[k]);
            motan_request_free(r);
        }
    }
    int used[4] = {0};
    for (int k = 0; k < 50; k++)
        used[where[k]]++;
    for (int i = 0; i < 4; i++)
        ck_assert_int_gt(used[i], 0);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 4);
}
END_TEST

/* ---- list updates --------------------------------------------------------------------- */

START_TEST(test_update_keeps_drains_and_adds)
{
    tu_server s[4];
    start_servers(s, 4, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "loadbalance=roundrobin&requestTimeout=3000");
    set_nodes(c, NULL, s, 3, NULL);
    ck_assert_int_eq(motan_cluster_endpoint_count(c), 3);
    motan_endpoint *kept = motan_cluster_endpoint_at(c, 0);
    tu_run_for(&e, 100);
    uint64_t connects = motan_endpoint_stat(kept, "connects");
    /* Slow calls in flight on every endpoint, then s2 is removed and s3 added. */
    motan_request *r = motan_request_new("sleep");
    motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 300));
    load l = {.e = &e, .c = c};
    slot sl[6];
    memset(sl, 0, sizeof(sl));
    for (int i = 0; i < 6; i++) {
        sl[i].l = &l;
        sl[i].req = r;
        ck_assert_int_eq(motan_cluster_call(c, r, load_cb, &sl[i]), MOTAN_OK);
    }
    tu_run_for(&e, 50);
    tu_server next[3] = {s[0], s[1], s[3]};
    set_nodes(c, NULL, next, 3, NULL);
    ck_assert_int_eq(motan_cluster_endpoint_count(c), 3);
    ck_assert_ptr_eq(motan_cluster_endpoint_at(c, 0), kept);
    ck_assert(tu_run_until(&e, &l.completed, 6, 5000));
    ck_assert_msg(l.failed == 0, "drained calls failed: %s", l.first_error);
    ck_assert_int_eq(motan_endpoint_stat(kept, "connects"), connects);
    /* Calls now reach s3 and never s2. */
    load l2 = {.e = &e, .c = c, .total = 300};
    load_run(&l2, 4, 30000);
    ck_assert_int_eq(l2.failed, 0);
    ck_assert_int_eq(l2.per_server[2], 0);
    ck_assert_int_eq(l2.per_server[3], 100);
    /* Empty-list protection keeps the last list. */
    ck_assert_int_eq(motan_cluster_update(c, NULL, 0), MOTAN_OK);
    ck_assert_int_eq(motan_cluster_endpoint_count(c), 3);
    motan_request_free(r);
    motan_cluster_free(c);
    /* Without protection an empty list empties the cluster: calls fail with no endpoint. */
    c = cluster_new(&e, "emptyNodeProtection=false");
    set_nodes(c, NULL, s, 2, NULL);
    ck_assert_int_eq(motan_cluster_update(c, NULL, 0), MOTAN_OK);
    ck_assert_int_eq(motan_cluster_endpoint_count(c), 0);
    load l3 = {.e = &e, .c = c, .total = 1};
    load_run(&l3, 1, 2000);
    ck_assert_int_eq(l3.failed, 1);
    ck_assert_ptr_nonnull(strstr(l3.first_error, "MOTAN_ENOENDPOINT"));
    ck_assert_ptr_nonnull(strstr(l3.first_error, "com.example.EchoService.echo"));
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 4);
}
END_TEST

/* ---- group weights -------------------------------------------------------------------- */

static char seen_groups[256];

static void groups_cb(const char *const *groups, size_t n, void *ud)
{
    (void)ud;
    seen_groups[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(seen_groups, groups[i]);
        strcat(seen_groups, ";");
    }
}

START_TEST(test_group_weights)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "group=main&loadbalance=roundrobin");
    motan_cluster_set_groups_listener(c, groups_cb, NULL);
    /* Own group: s0 plus a rule sending traffic to gA (3) and gB (1). */
    motan_url *nodes[2];
    char text[128];
    snprintf(text, sizeof(text), "motan2://127.0.0.1:%d/com.example.EchoService", s[0].port);
    nodes[0] = tu_url(text);
    nodes[1] = tu_url("rule://0.0.0.0/com.example.EchoService?weights=gA:3,gB:1");
    ck_assert_int_eq(motan_cluster_update(c, (const motan_url *const *)nodes, 2), MOTAN_OK);
    ck_assert_str_eq(seen_groups, "gA;gB;");
    set_nodes(c, "gA", &s[1], 1, NULL);
    set_nodes(c, "gB", &s[2], 1, NULL);
    load l = {.e = &e, .c = c, .total = 4000};
    load_run(&l, 1, 60000);
    ck_assert_int_eq(l.failed, 0);
    ck_assert_int_eq(l.per_server[0], 0);
    ck_assert_int_eq(l.per_server[1], 3000);
    ck_assert_int_eq(l.per_server[2], 1000);
    /* Rule gone: everything back to the own group. */
    ck_assert_int_eq(motan_cluster_update(c, (const motan_url *const *)nodes, 1), MOTAN_OK);
    ck_assert_str_eq(seen_groups, "");
    load l2 = {.e = &e, .c = c, .total = 100};
    load_run(&l2, 1, 60000);
    ck_assert_int_eq(l2.per_server[0], 100);
    motan_url_free(nodes[0]);
    motan_url_free(nodes[1]);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

/* ---- lifecycle ------------------------------------------------------------------------ */

static int cancelled_count, total_count;

static void count_cb(motan_response *r, void *ud)
{
    (void)ud;
    total_count++;
    if (r && motan_response_get_code(r) == MOTAN_ECANCELLED)
        cancelled_count++;
    motan_response_free(r);
}

START_TEST(test_free_in_flight)
{
    tu_server s[2];
    start_servers(s, 2, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "haStrategy=backupRequest&backupRequestDelayTime=10");
    set_nodes(c, NULL, s, 2, NULL);
    motan_request *r = motan_request_new("sleep");
    motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 500));
    cancelled_count = total_count = 0;
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(motan_cluster_call(c, r, count_cb, NULL), MOTAN_OK);
    tu_run_for(&e, 60);
    motan_cluster_free(c);
    ck_assert_int_eq(total_count, 50);
    ck_assert_int_eq(cancelled_count, 50);
    tu_run_for(&e, 100);
    ck_assert_int_eq(total_count, 50);
    motan_request_free(r);
    tu_env_free(&e);
    stop_servers(s, 2);
}
END_TEST

/* filter=metrics alone runs its hooks inside the cluster: every attempt of a call counts once,
 * also one still out when the call completes (cancelled). */
typedef struct met_seen {
    int calls, attempts;
    uint64_t call_count, call_ok, ok_attempts, cancelled_attempts, attempt_count;
} met_seen;

static int met_visit(const motan_stats_series *s, void *ud)
{
    met_seen *m = ud;
    if (strcmp(s->method, "sleep") != 0)
        return 0;
    if (s->kind == MOTAN_STATS_CALL) {
        m->calls++;
        m->call_count += s->count;
        m->call_ok += s->ok;
    } else if (s->kind == MOTAN_STATS_ATTEMPT) {
        m->attempts++;
        m->attempt_count += s->count;
        m->ok_attempts += s->ok;
        for (size_t i = 0; i < s->ncodes; i++)
            if (s->codes[i] == MOTAN_ECANCELLED)
                m->cancelled_attempts += s->code_counts[i];
    }
    return 0;
}

START_TEST(test_metrics_counts_every_attempt)
{
    tu_server s[2];
    start_servers(s, 2, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    motan_filter_chain *ch;
    ck_assert_int_eq(motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, st, &ch, NULL, 0),
                     MOTAN_OK);
    motan_cluster *c = cluster_new(&e, "haStrategy=backupRequest&backupRequestDelayTime=20&"
                                       "backupRequestMaxRetryRatio=100&loadbalance=roundrobin");
    ck_assert_int_eq(motan_cluster_set_filters(c, ch), MOTAN_OK);
    set_nodes(c, NULL, s, 2, NULL);
    motan_request *r = motan_request_new("sleep");
    motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 100));
    cancelled_count = total_count = 0;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(motan_cluster_call(c, r, count_cb, NULL), MOTAN_OK);
    ck_assert_int_eq(tu_run_until(&e, &total_count, 4, 3000), 1);
    ck_assert_int_eq(cancelled_count, 0);
    met_seen m = {0};
    ck_assert_int_eq(motan_stats_walk(st, met_visit, &m), MOTAN_OK);
    ck_assert_int_eq(m.calls, 1);
    ck_assert_uint_eq(m.call_count, 4);
    ck_assert_uint_eq(m.call_ok, 4);
    ck_assert_int_eq(m.attempts, 2); /* one series per endpoint */
    /* Each call: its first attempt answered, the backup (sent after 20 ms) cancelled. */
    ck_assert_uint_eq(m.ok_attempts, 4);
    ck_assert_uint_eq(m.cancelled_attempts, 4);
    ck_assert_uint_eq(m.attempt_count, 8);
    motan_cluster_free(c);
    motan_filter_chain_free(ch);
    motan_stats_free(st);
    motan_request_free(r);
    tu_env_free(&e);
    stop_servers(s, 2);
}
END_TEST

/* A user HA strategy: always the first endpoint, fails with its own message when none. */
static void *my_create(const motan_url *u)
{
    (void)u;
    static int x;
    return &x;
}
static void my_destroy(void *s) { (void)s; }
static void my_start(void *s, motan_ha_call *call)
{
    (void)s;
    motan_endpoint *ep = motan_ha_call_pick(call);
    if (!ep || motan_ha_call_send(call, ep, NULL) != MOTAN_OK)
        motan_ha_call_fail(call, MOTAN_ENOENDPOINT, "custom: nothing");
}
static void my_on_attempt(void *s, motan_ha_call *call, int a, motan_response *r)
{
    (void)s;
    (void)a;
    motan_response_set_endpoint(r, "custom");
    motan_ha_call_complete(call, r);
}
static const motan_ha_ops my_ha = {sizeof(motan_ha_ops), "mine", my_create, my_destroy, my_start,
                                   my_on_attempt, NULL};

static char last_endpoint[64];
static void ep_cb(motan_response *r, void *ud)
{
    (void)ud;
    total_count++;
    snprintf(last_endpoint, sizeof(last_endpoint), "%s", motan_response_get_endpoint(r));
    motan_response_free(r);
}

START_TEST(test_custom_ha)
{
    ck_assert_int_eq(motan_ha_register(&my_ha), MOTAN_OK);
    ck_assert_int_eq(motan_ha_register(&my_ha), MOTAN_EINVAL);
    ck_assert_ptr_eq(motan_ha_find("mine"), &my_ha);
    tu_server s[1];
    start_servers(s, 1, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "haStrategy=mine");
    set_nodes(c, NULL, s, 1, NULL);
    motan_request *r = motan_request_new("echo");
    total_count = 0;
    ck_assert_int_eq(motan_cluster_call(c, r, ep_cb, NULL), MOTAN_OK);
    ck_assert(tu_run_until(&e, &total_count, 1, 3000));
    ck_assert_str_eq(last_endpoint, "custom");
    motan_request_free(r);
    motan_cluster_free(c);
    char err[256];
    motan_url *u = tu_url("motan2:///svc?haStrategy=nope");
    motan_cluster *bad = NULL;
    ck_assert_int_eq(motan_cluster_new(e.loop, u, &bad, err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_nonnull(strstr(err, "nope"));
    motan_url_free(u);
    tu_env_free(&e);
    stop_servers(s, 1);
}
END_TEST

START_TEST(test_builtin_loop_sync)
{
    tu_server s[2];
    start_servers(s, 2, NULL);
    motan_loop *loop;
    char err[256];
    ck_assert_int_eq(motan_loop_new(&loop, err, sizeof(err)), MOTAN_OK);
    motan_url *u = tu_url("motan2:///com.example.EchoService?haStrategy=failover&retries=1");
    motan_cluster *c;
    ck_assert_int_eq(motan_cluster_new(loop, u, &c, err, sizeof(err)), MOTAN_OK);
    motan_url_free(u);
    set_nodes(c, NULL, s, 2, NULL);
    for (int i = 0; i < 200; i++) {
        motan_request *r = motan_request_new("add");
        motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), i));
        motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 1));
        motan_response *resp = NULL;
        ck_assert_int_eq(motan_cluster_call_sync(c, r, &resp), MOTAN_OK);
        ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), i + 1);
        motan_response_free(resp);
        motan_request_free(r);
    }
    motan_cluster_free(c);
    motan_loop_free(loop);
    stop_servers(s, 2);
}
END_TEST

/* ---- deadline propagation (M_tmo) ---------------------------------------------------- */

/* One answer as the test server's meta("M_tmo") gives it: the value and who answered. */
typedef struct meta_answer {
    int done, code;
    long tmo;
    char server[16];
} meta_answer;

static void meta_cb(motan_response *r, void *ud)
{
    meta_answer *a = ud;
    a->done = 1;
    a->code = r ? motan_response_get_code(r) : MOTAN_ENOMEM;
    a->tmo = -1;
    if (a->code == MOTAN_OK) {
        size_t len = 0;
        const char *v = motan_value_get_data(motan_response_get_value(r), &len);
        char num[16] = "";
        if (v && len < sizeof(num))
            memcpy(num, v, len);
        a->tmo = v ? strtol(num, NULL, 10) : -1;
        const char *srv = motan_response_get_meta(r, "X-Server");
        snprintf(a->server, sizeof(a->server), "%s", srv ? srv : "");
    }
    motan_response_free(r);
}

/* meta("M_tmo") through c; request timeout t (0: the URL's). */
static meta_answer call_tmo(tu_env *e, motan_cluster *c, int t)
{
    motan_request *r = motan_request_new("meta");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "M_tmo", 5));
    motan_request_set_timeout(r, t);
    meta_answer a = {0};
    ck_assert_int_eq(motan_cluster_call(c, r, meta_cb, &a), MOTAN_OK);
    ck_assert(tu_run_until(e, &a.done, 1, 10000));
    ck_assert_int_eq(a.code, MOTAN_OK);
    /* The per-attempt deadline lives in the call: the caller's request is unchanged. */
    ck_assert_uint_eq(motan_request_meta_count(r), 0);
    motan_request_free(r);
    return a;
}

START_TEST(test_deadline_in_metadata)
{
    tu_server s[2];
    const char *slow[] = {"--name", "s0", "--fault", "delay:1000", NULL};
    const char *fast[] = {"--name", "s1", NULL};
    ck_assert_int_eq(tu_server_start(&s[0], slow), 0);
    ck_assert_int_eq(tu_server_start(&s[1], fast), 0);
    tu_env e;
    tu_env_init(&e);
    /* Every attempt carries what is left of the call's time (the coarse clock may have
     * ticked a few ms since the call started; more under valgrind). */
    long slack = tu_slow() ? 150 : 10;
    motan_cluster *c = cluster_new(&e, "requestTimeout=2000&meta.requestTimeout=700");
    set_nodes(c, NULL, &s[1], 1, NULL);
    meta_answer a = call_tmo(&e, c, 0);
    ck_assert_msg(a.tmo > 700 - slack && a.tmo <= 700, "M_tmo %ld for meta.requestTimeout=700",
                  a.tmo);
    a = call_tmo(&e, c, 321);
    ck_assert_msg(a.tmo > 321 - slack && a.tmo <= 321, "M_tmo %ld for a 321 ms request", a.tmo);
    motan_cluster_free(c);
    /* A backup request sent after 200 ms carries the 1800 ms left, not the full 2000. */
    c = cluster_new(&e, "requestTimeout=2000&haStrategy=backupRequest&loadbalance=roundrobin&"
                        "backupRequestDelayTime=200&backupRequestMaxRetryRatio=100");
    set_nodes(c, NULL, s, 2, NULL);
    int backups_seen = 0;
    for (int i = 0; i < 4; i++) {
        a = call_tmo(&e, c, 0);
        ck_assert_str_eq(a.server, "s1");
        /* A backup leaves at 200 ms by the precise clock; the deadline is on the coarse one,
         * which may lag a tick (a few ms): 1800 plus that is still a backup. */
        if (a.tmo <= 1810) {
            /* Less than 1800 when the backup timer fired late (a stalled host): still a backup. */
            ck_assert_msg(a.tmo > 1000, "a backup's M_tmo %ld", a.tmo);
            backups_seen++;
        } else {
            ck_assert_msg(a.tmo > 2000 - slack && a.tmo <= 2000, "a first attempt's M_tmo %ld",
                          a.tmo);
        }
    }
    ck_assert_int_gt(backups_seen, 0);
    ck_assert_uint_eq(motan_cluster_stat(c, "backups_won"), (uint64_t)backups_seen);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 2);
}
END_TEST

/* ---- retry budget ---------------------------------------------------------------------- */

START_TEST(test_retry_budget_exhausted)
{
    /* Every answer is a (retryable) framework error; fusing is off. */
    tu_server s[2];
    const char *extra[] = {"--fault", "error-go", NULL};
    start_servers(s, 2, extra);
    tu_env e;
    tu_env_init(&e);
    const char *modes[] = {
        /* no ratio, a reserve of 1 per second: 10 retries in the 10 s window */
        "haStrategy=failover&retries=1&errorCountThreshold=0&retryBudgetRatio=0&"
        "retryBudgetMin=1",
        /* the defaults (0.2 of the calls + a reserve of 100): every call retries */
        "haStrategy=failover&retries=1&errorCountThreshold=0"};
    for (int m = 0; m < 2; m++) {
        motan_cluster *c = cluster_new(&e, modes[m]);
        set_nodes(c, NULL, s, 2, NULL);
        load l = {.e = &e, .c = c, .total = 50};
        load_run(&l, 1, 30000);
        /* When the budget says no, a call fails with its own error, not a budget error. */
        ck_assert_int_eq(l.failed, 50);
        ck_assert_msg(strstr(l.first_error, "MOTAN_EREMOTE") && strstr(l.first_error, "injected"),
                      "%s", l.first_error);
        ck_assert_uint_eq(motan_cluster_stat(c, "retries"), m == 0 ? 10 : 50);
        ck_assert_uint_eq(motan_cluster_stat(c, "budget_exhausted"), m == 0 ? 40 : 0);
        motan_cluster_free(c);
    }
    tu_env_free(&e);
    stop_servers(s, 2);
}
END_TEST

START_TEST(test_backup_requests_under_retry_budget)
{
    /* Every server is slow, every call would want a backup after 5 ms and
     * backupRequestMaxRetryRatio=100 would allow one per call: the retry budget decides. */
    tu_server s[3];
    const char *extra[] = {"--fault", "delay:20", NULL};
    start_servers(s, 3, extra);
    tu_env e;
    tu_env_init(&e);
    const char *modes[] = {"retryBudgetRatio=0&retryBudgetMin=0", "retryBudgetRatio=0.2"};
    for (int m = 0; m < 2; m++) {
        char params[256];
        snprintf(params, sizeof(params),
                 "haStrategy=backupRequest&backupRequestDelayTime=5&"
                 "backupRequestMaxRetryRatio=100&requestTimeout=2000&%s",
                 modes[m]);
        motan_cluster *c = cluster_new(&e, params);
        set_nodes(c, NULL, s, 3, NULL);
        load l = {.e = &e, .c = c, .total = tu_slow() ? 300 : 1000};
        load_run(&l, 32, 120000);
        ck_assert_int_eq(l.failed, 0);
        uint64_t backups = motan_cluster_stat(c, "backups");
        if (m == 0) {
            ck_assert_uint_eq(backups, 0);
        } else {
            /* 20 % of the calls plus the reserve of 100 in the window, and some were sent. */
            ck_assert_msg(backups > 0 && backups <= (uint64_t)l.total / 5 + 100,
                          "%llu backups for %d calls", (unsigned long long)backups, l.total);
        }
        ck_assert_uint_gt(motan_cluster_stat(c, "budget_exhausted"), 0);
        motan_cluster_free(c);
    }
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

/* ---- p2c, outlier ejection, slow start against real servers ---------------------------- */

START_TEST(test_p2c_avoids_stalled_server)
{
    tu_server s[3];
    start_one_faulty(s, "delay:100");
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, "loadbalance=p2c&requestTimeout=5000");
    set_nodes(c, NULL, s, 3, NULL);
    load l = {.e = &e, .c = c, .total = tu_slow() ? 600 : 3000};
    load_run(&l, 8, 120000);
    ck_assert_int_eq(l.failed, 0);
    /* The stalled server gets the few calls sent before its first (slow) answer, then
     * none: its estimate decays over ewmaDecay (10 s), far longer than this run. */
    ck_assert_msg(l.per_server[2] < l.total / 50, "stalled server got %d of %d calls",
                  l.per_server[2], l.total);
    ck_assert_int_gt(l.per_server[0], l.total / 4);
    ck_assert_int_gt(l.per_server[1], l.total / 4);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

START_TEST(test_outlier_ejected_end_to_end)
{
    tu_server s[3];
    start_one_faulty(s, "delay:30");
    tu_env e;
    tu_env_init(&e);
    /* 34 % of 3 endpoints: one may go; windows of 200 ms with at least 5 calls. */
    motan_cluster *c = cluster_new(&e, "loadbalance=roundrobin&maxEjectionPercent=34&"
                                       "outlierInterval=200&outlierMinRequests=5&"
                                       "outlierLatencyMin=5&requestTimeout=5000");
    set_nodes(c, NULL, s, 3, NULL);
    for (int round = 0; round < 50 && motan_cluster_stat(c, "ejections") == 0; round++) {
        load l = {.e = &e, .c = c, .total = 60};
        load_run(&l, 8, 60000);
        ck_assert_int_eq(l.failed, 0);
    }
    ck_assert_uint_eq(motan_cluster_stat(c, "ejections"), 1);
    /* Out for outlierEjectionTime (30 s): round robin skips it like a fused endpoint. */
    load l = {.e = &e, .c = c, .total = 600};
    load_run(&l, 8, 60000);
    ck_assert_int_eq(l.failed, 0);
    ck_assert_int_eq(l.per_server[2], 0);
    ck_assert_int_eq(l.per_server[0], 300);
    ck_assert_int_eq(l.per_server[1], 300);
    ck_assert_uint_eq(motan_cluster_stat(c, "ejections"), 1);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

START_TEST(test_slow_start_after_recovery)
{
    tu_server s[3];
    start_servers(s, 3, NULL);
    tu_env e;
    tu_env_init(&e);
    motan_cluster *c = cluster_new(&e, tu_slow() ? "haStrategy=failover&retries=2&"
                                                   "errorCountThreshold=2&keepaliveInterval=50&"
                                                   "slowStartWindow=60000&outlierInterval=20"
                                                 : "haStrategy=failover&retries=2&"
                                                   "errorCountThreshold=2&keepaliveInterval=50&"
                                                   "slowStartWindow=10000&outlierInterval=20");
    set_nodes(c, NULL, s, 3, NULL);
    motan_endpoint *ep1 = NULL;
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s[1].port);
    for (size_t i = 0; i < motan_cluster_endpoint_count(c); i++)
        if (!strcmp(motan_endpoint_get_address(motan_cluster_endpoint_at(c, i)), addr))
            ep1 = motan_cluster_endpoint_at(c, i);
    ck_assert_ptr_nonnull(ep1);
    /* The first list is served in full at once. */
    load l0 = {.e = &e, .c = c, .total = 900};
    load_run(&l0, 4, 60000);
    ck_assert_int_gt(l0.per_server[1], 200);
    /* s1 dies and is fused, while calls go on (evaluations see it down)... */
    tu_server_kill(&s[1]);
    for (int round = 0; round < 100 && motan_endpoint_is_available(ep1); round++) {
        load l = {.e = &e, .c = c, .total = 30};
        load_run(&l, 4, 60000);
    }
    ck_assert(!motan_endpoint_is_available(ep1));
    load l1 = {.e = &e, .c = c, .total = 100};
    load_run(&l1, 4, 60000);
    /* ...comes back (heartbeats), and ramps from 10 % of its share over 10 s (60 s under
     * valgrind, where the 900 calls take longer). */
    ck_assert_int_eq(tu_server_restart(&s[1]), 0);
    uint64_t t0 = motan_now_us();
    while (!motan_endpoint_is_available(ep1) && motan_now_us() - t0 < 5000000)
        tu_run_for(&e, 10);
    ck_assert(motan_endpoint_is_available(ep1));
    load l2 = {.e = &e, .c = c, .total = 900};
    load_run(&l2, 4, 60000);
    ck_assert_int_eq(l2.failed, 0);
    /* A full share would be ~300; ramping from 10 % it is far less, but not nothing. */
    ck_assert_msg(l2.per_server[1] < 150, "recovered server got %d of 900", l2.per_server[1]);
    ck_assert_int_gt(l2.per_server[1], 0);
    motan_cluster_free(c);
    tu_env_free(&e);
    stop_servers(s, 3);
}
END_TEST

START_TEST(test_bad_parameters)
{
    tu_env e;
    tu_env_init(&e);
    static const struct {
        const char *params, *says;
    } bad[] = {
        {"retryBudgetRatio=x", "retryBudgetRatio=x is not a number"},
        {"maxEjectionPercent=200", "maxEjectionPercent=200 is out of range"},
        {"serialization=nope", "serialization \"nope\" is not supported"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], err[256] = "";
        snprintf(text, sizeof(text), "motan2:///com.example.EchoService?%s", bad[i].params);
        motan_url *u = tu_url(text);
        motan_cluster *c = NULL;
        ck_assert_int_eq(motan_cluster_new(e.loop, u, &c, err, sizeof(err)), MOTAN_EURL);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(err, bad[i].says), "%s: %s", bad[i].params, err);
        motan_url_free(u);
    }
    tu_env_free(&e);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_failover_server_killed);
    tcase_add_test(tc, test_failfast_server_killed_shows_errors);
    tcase_add_test(tc, test_backup_request_cuts_tail);
    tcase_add_test(tc, test_backup_budget_caps_copies);
    tcase_add_test(tc, test_flapping_server_fused_then_recovered);
    tcase_add_test(tc, test_roundrobin_even);
    tcase_add_test(tc, test_wrr_weights);
    tcase_add_test(tc, test_consistent_sticky);
    tcase_add_test(tc, test_update_keeps_drains_and_adds);
    tcase_add_test(tc, test_group_weights);
    tcase_add_test(tc, test_free_in_flight);
    tcase_add_test(tc, test_custom_ha);
    tcase_add_test(tc, test_builtin_loop_sync);
    tcase_add_test(tc, test_deadline_in_metadata);
    tcase_add_test(tc, test_retry_budget_exhausted);
    tcase_add_test(tc, test_backup_requests_under_retry_budget);
    tcase_add_test(tc, test_p2c_avoids_stalled_server);
    tcase_add_test(tc, test_outlier_ejected_end_to_end);
    tcase_add_test(tc, test_slow_start_after_recovery);
    tcase_add_test(tc, test_bad_parameters);
    tcase_add_test(tc, test_metrics_counts_every_attempt);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(cluster_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
