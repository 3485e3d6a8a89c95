/*
 * The consul registry through the public API, against the in-process Consul fixture
 * (tests/support/lib/consul_fixture.h): motan's naming (motanrpc_<group>, URL_ and protocol_
 * tags), blocking queries (few requests, changes seen at once, same index quiet), errors and
 * outages keeping the last list, register / deregister / TTL pass, freeing with a query
 * blocked, both loop modes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <motan/registry.h>

#include "consul_fixture.h"
#include "tu_registry.h"

/* ---- harness -------------------------------------------------------------------------- */

#define SVC "motanrpc_g1"

/* A loop and the Consul fixture. */
typedef struct env {
    tu_env t;
    tu_consul *consul;
} env;

static void env_init(env *e, int builtin)
{
    e->consul = tu_consul_start();
    ck_assert_ptr_nonnull(e->consul);
    tu_env_init_mode(&e->t, builtin);
}

static void env_free(env *e)
{
    tu_env_free(&e->t);
    tu_consul_free(e->consul);
}

/* Runs the loop until the fixture counter `what` reaches target. */
static int wait_count(env *e, const char *what, int target, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (tu_consul_count(e->consul, what) < target && motan_now_us() < end)
        tu_run_once(&e->t);
    return tu_consul_count(e->consul, what) >= target;
}

/* Runs the loop until errmsg contains needle (needle "" : until it is empty). */
static int wait_errmsg(env *e, motan_registry *reg, const char *needle, int timeout_ms, char *msg,
                       size_t len)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        motan_registry_errmsg(reg, msg, len);
        int ok = *needle ? strstr(msg, needle) != NULL : msg[0] == '\0';
        if (ok)
            return 1;
        if (motan_now_us() >= end)
            return 0;
        tu_run_once(&e->t);
    }
}

static motan_registry *consul_registry(env *e, const char *params)
{
    char text[256];
    snprintf(text, sizeof(text), "consul://127.0.0.1:%d?%s", tu_consul_port(e->consul),
             params ? params : "");
    return tu_registry(e->t.loop, text);
}

/* An instance as a Java motan server registers it (ConsulUtils.buildService). */
static void put_java(env *e, const char *host, int port, const char *path, const char *extra)
{
    char id[256], tag_url[512];
    snprintf(id, sizeof(id), "%s:%d-%s", host, port, path);
    /* URLEncoder.encode("motan2://host:port/path?group=g1&nodeType=service&<extra>&") */
    snprintf(tag_url, sizeof(tag_url),
             "URL_motan2%%3A%%2F%%2F%s%%3A%d%%2F%s%%3Fgroup%%3Dg1%%26nodeType%%3Dservice%s%%26",
             host, port, path, extra ? extra : "");
    const char *tags[] = {"protocol_motan2", tag_url, NULL};
    tu_consul_put(e->consul, SVC, id, host, port, tags);
}

static const char *ECHO = "com.example.EchoService";

/* Subscribes r (initialised here) to EchoService of group g1; returns that service URL. */
static motan_url *subscribe_g1(motan_registry *reg, tu_rec *r)
{
    motan_url *svc = tu_url("motan2:///com.example.EchoService?group=g1");
    tu_rec_init(r);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, r), MOTAN_OK);
    return svc;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void check_initial_and_changes(int builtin)
{
    env e;
    env_init(&e, builtin);
    put_java(&e, "127.0.0.1", 8002, ECHO, "%26weight%3D3");
    put_java(&e, "127.0.0.2", 8003, ECHO, NULL);
    put_java(&e, "127.0.0.9", 8009, "com.example.Other", NULL);
    /* Without a URL_ tag (Java's fallback) and without Service.Address (Node.Address). */
    const char *tags[] = {"protocol_motan2", NULL};
    tu_consul_put(e.consul, SVC, "x:1-com.example.EchoService", "", 8004, tags);
    /* Not passing: left out by ?passing. */
    put_java(&e, "127.0.0.5", 8005, ECHO, NULL);
    tu_consul_set_passing(e.consul, SVC, "127.0.0.5:8005-com.example.EchoService", 0);

    motan_registry *reg = consul_registry(&e, "wait=5s");
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    if (!builtin)
        ck_assert_int_eq(tu_rec_calls(&r), 0);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    tu_list l;
    tu_rec_last(&r, &l);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.nodes[0], "motan2://127.0.0.1:8002/com.example.EchoService?group=g1&"
                                 "nodeType=service&weight=3");
    ck_assert_str_eq(l.nodes[1],
                     "motan2://127.0.0.2:8003/com.example.EchoService?group=g1&nodeType=service");
    ck_assert_str_eq(l.nodes[2],
                     "motan2://127.0.0.1:8004/com.example.EchoService?group=g1&nodeType=service");
    char msg[512];
    motan_registry_errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");

    /* Now blocking: one query parked at the fixture. */
    ck_assert(wait_count(&e, "parked", 1, 2000));
    int before = tu_consul_count(e.consul, "health");

    /* Added: seen at once (well within the 5 s wait). */
    uint64_t t0 = motan_now_us();
    put_java(&e, "127.0.0.3", 8006, ECHO, NULL);
    ck_assert(tu_rec_wait(&e.t, &r, 2, 2000));
    ck_assert_uint_lt(motan_now_us() - t0, 1000000u);
    ck_assert_uint_eq(tu_rec_n(&r), 4);
    ck_assert(tu_rec_has(&r, "127.0.0.3:8006"));

    /* Removed. */
    t0 = motan_now_us();
    ck_assert_int_eq(tu_consul_remove(e.consul, SVC, "127.0.0.1:8002-com.example.EchoService"), 0);
    ck_assert(tu_rec_wait(&e.t, &r, 3, 2000));
    ck_assert_uint_lt(motan_now_us() - t0, 1000000u);
    ck_assert_uint_eq(tu_rec_n(&r), 3);
    ck_assert(!tu_rec_has(&r, "127.0.0.1:8002"));

    /* Back to passing: seen too. */
    tu_consul_set_passing(e.consul, SVC, "127.0.0.5:8005-com.example.EchoService", 1);
    ck_assert(tu_rec_wait(&e.t, &r, 4, 2000));
    ck_assert(tu_rec_has(&r, "127.0.0.5:8005"));

    /* A change to another service of the group does not notify this one. */
    put_java(&e, "127.0.0.9", 8010, "com.example.Other", NULL);
    tu_run_for(&e.t, 200);
    ck_assert_int_eq(tu_rec_calls(&r), 4);

    /* Long polling, not polling: a handful of requests for four changes. */
    ck_assert(wait_count(&e, "parked", 1, 2000));
    int used = tu_consul_count(e.consul, "health") - before;
    ck_assert_msg(used <= 6, "%d health queries", used);

    motan_registry_free(reg);
    motan_url_free(svc);
    env_free(&e);
}

START_TEST(test_initial_and_changes_caller_loop) { check_initial_and_changes(0); }
END_TEST

START_TEST(test_initial_and_changes_builtin_loop) { check_initial_and_changes(1); }
END_TEST

START_TEST(test_same_index_is_quiet)
{
    env e;
    env_init(&e, 0);
    put_java(&e, "127.0.0.1", 8002, ECHO, NULL);
    motan_registry *reg = consul_registry(&e, "wait=200ms");
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));

    /* The wait expires again and again (same index): no notification. */
    int h0 = tu_consul_count(e.consul, "health");
    tu_run_for(&e.t, 1100);
    int h1 = tu_consul_count(e.consul, "health");
    ck_assert_msg(h1 - h0 >= 3 && h1 - h0 <= 8, "%d queries in 1.1 s with wait=200ms", h1 - h0);
    ck_assert_int_gt(tu_consul_count(e.consul, "blocking"), 3);
    ck_assert_int_eq(tu_rec_calls(&r), 1);

    /* A write that changes only the index: no notification either. */
    tu_consul_touch(e.consul, SVC);
    tu_run_for(&e.t, 300);
    ck_assert_int_eq(tu_rec_calls(&r), 1);

    /* The index goes backwards (a Consul reset): start over, still no notification. */
    tu_consul_set_index(e.consul, SVC, 1);
    tu_run_for(&e.t, 300);
    ck_assert_int_eq(tu_rec_calls(&r), 1);
    /* ... and later changes still come through. */
    put_java(&e, "127.0.0.2", 8003, ECHO, NULL);
    ck_assert(tu_rec_wait(&e.t, &r, 2, 2000));
    ck_assert_uint_eq(tu_rec_n(&r), 2);
    char msg[512];
    motan_registry_errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");

    motan_registry_free(reg);
    motan_url_free(svc);
    env_free(&e);
}
END_TEST

static void check_errors(int bad_json)
{
    env e;
    env_init(&e, 0);
    put_java(&e, "127.0.0.1", 8002, ECHO, NULL);
    put_java(&e, "127.0.0.2", 8003, ECHO, NULL);
    motan_registry *reg = consul_registry(&e, "wait=5s");
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    ck_assert(wait_count(&e, "parked", 1, 2000));

    /* Every query fails from now on; a change wakes the parked one first. */
    if (bad_json)
        tu_consul_bad_json_next(e.consul, 1000);
    else
        tu_consul_fail_next(e.consul, 1000);
    ck_assert_int_eq(tu_consul_remove(e.consul, SVC, "127.0.0.2:8003-com.example.EchoService"), 0);
    ck_assert(tu_rec_wait(&e.t, &r, 2, 2000)); /* the parked query saw the removal */
    ck_assert_uint_eq(tu_rec_n(&r), 1);
    char msg[512];
    ck_assert_msg(wait_errmsg(&e, reg, bad_json ? "bad JSON" : "HTTP 500", 2000, msg, sizeof(msg)),
                  "%s", msg);
    ck_assert_msg(strstr(msg, "motanrpc_g1") != NULL, "%s", msg);
    if (!bad_json)
        ck_assert_msg(strstr(msg, "No cluster leader") != NULL, "%s", msg);

    /* Meanwhile: the list changes, nothing is notified, and retries back off. */
    put_java(&e, "127.0.0.4", 8004, ECHO, NULL);
    int h0 = tu_consul_count(e.consul, "health");
    tu_run_for(&e.t, 700);
    int tries = tu_consul_count(e.consul, "health") - h0;
    ck_assert_msg(tries >= 1 && tries <= 5, "%d retries in 700 ms", tries);
    ck_assert_int_eq(tu_rec_calls(&r), 2);
    ck_assert_uint_eq(tu_rec_n(&r), 1);

    /* Recovery: errmsg clears and the change made meanwhile arrives. */
    tu_consul_fail_next(e.consul, 0);
    tu_consul_bad_json_next(e.consul, 0);
    ck_assert(tu_rec_wait(&e.t, &r, 3, 8000));
    ck_assert_uint_eq(tu_rec_n(&r), 2);
    ck_assert(tu_rec_has(&r, "127.0.0.4:8004"));
    ck_assert_msg(wait_errmsg(&e, reg, "", 1000, msg, sizeof(msg)), "%s", msg);

    motan_registry_free(reg);
    motan_url_free(svc);
    env_free(&e);
}

START_TEST(test_http_500) { check_errors(0); }
END_TEST

START_TEST(test_bad_json) { check_errors(1); }
END_TEST

START_TEST(test_outage)
{
    env e;
    env_init(&e, 0);
    put_java(&e, "127.0.0.1", 8002, ECHO, NULL);
    motan_registry *reg = consul_registry(&e, "wait=5s");
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    ck_assert(wait_count(&e, "parked", 1, 2000));

    tu_consul_stop(e.consul);
    char msg[512];
    ck_assert_msg(wait_errmsg(&e, reg, "consul registry 127.0.0.1", 2000, msg, sizeof(msg)), "%s",
                  msg);
    ck_assert_msg(strstr(msg, "retrying") != NULL, "%s", msg);
    /* Changes made while it is down (the fixture keeps its state). */
    put_java(&e, "127.0.0.2", 8003, ECHO, NULL);
    tu_run_for(&e.t, 500);
    ck_assert_int_eq(tu_rec_calls(&r), 1);
    ck_assert_uint_eq(tu_rec_n(&r), 1);

    ck_assert_int_eq(tu_consul_restart(e.consul), 0);
    ck_assert(tu_rec_wait(&e.t, &r, 2, 8000));
    ck_assert_uint_eq(tu_rec_n(&r), 2);
    ck_assert_msg(wait_errmsg(&e, reg, "", 1000, msg, sizeof(msg)), "%s", msg);
    /* And it blocks again. */
    ck_assert(wait_count(&e, "parked", 1, 2000));
    put_java(&e, "127.0.0.3", 8004, ECHO, NULL);
    ck_assert(tu_rec_wait(&e.t, &r, 3, 2000));

    motan_registry_free(reg);
    motan_url_free(svc);
    env_free(&e);
}
END_TEST

START_TEST(test_unreachable_agent)
{
    env e;
    env_init(&e, 0);
    int port = tu_consul_port(e.consul);
    tu_consul_stop(e.consul);
    char text[128], err[256];
    snprintf(text, sizeof(text), "consul://127.0.0.1:%d?connectTimeout=200&requestTimeout=300",
             port);
    motan_registry *reg = tu_registry(e.t.loop, text);
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    char msg[512];
    ck_assert_msg(wait_errmsg(&e, reg, "connection", 2000, msg, sizeof(msg)), "%s", msg);
    ck_assert_int_eq(tu_rec_calls(&r), 0);
    motan_registry_free(reg);
    motan_url_free(svc);

    /* Bad registry URLs. */
    const char *bad[] = {"consul://127.0.0.1:8500?wait=forever", "consul://127.0.0.1:8500?wait=11m",
                         "consul://a:1,b:2", "consul://127.0.0.1:8500?ttl=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *b = tu_url(bad[i]);
        motan_registry *br = NULL;
        ck_assert_int_eq(motan_registry_new(e.t.loop, b, &br, err, sizeof(err)), MOTAN_EURL);
        ck_assert_msg(strstr(err, "consul registry") != NULL, "%s", err);
        motan_url_free(b);
    }
    env_free(&e);
}
END_TEST

START_TEST(test_register_deregister)
{
    env e;
    env_init(&e, 0);
    motan_registry *reg = consul_registry(&e, "wait=5s");
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    ck_assert_uint_eq(tu_rec_n(&r), 0); /* nothing registered yet: known to be empty */

    motan_url *node = tu_url("motan2://127.0.0.7:8002/com.example.EchoService?group=g1&weight=3");
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_OK);
    const char *id = "127.0.0.7:8002-com.example.EchoService";
    ck_assert(wait_count(&e, "pass", 1, 2000));
    int passing = 0, port = 0;
    char addr[64], tags[1024];
    ck_assert(
        tu_consul_get(e.consul, SVC, id, &passing, &port, addr, sizeof(addr), tags, sizeof(tags)));
    ck_assert_int_eq(passing, 1);
    ck_assert_int_eq(port, 8002);
    ck_assert_str_eq(addr, "127.0.0.7");
    ck_assert_str_eq(tags, "protocol_motan2\nURL_motan2%3A%2F%2F127.0.0.7%3A8002%2Fcom.example."
                           "EchoService%3Fgroup%3Dg1%26weight%3D3");
    /* The subscriber sees it (it passed its TTL check). */
    ck_assert(tu_rec_wait(&e.t, &r, 2, 2000));
    tu_list l;
    tu_rec_last(&r, &l);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.nodes[0],
                     "motan2://127.0.0.7:8002/com.example.EchoService?group=g1&weight=3");

    ck_assert_int_eq(motan_registry_unregister(reg, node), MOTAN_OK);
    ck_assert(wait_count(&e, "deregister", 1, 2000));
    ck_assert(!tu_consul_get(e.consul, SVC, id, NULL, NULL, NULL, 0, NULL, 0));
    ck_assert(tu_rec_wait(&e.t, &r, 3, 2000));
    ck_assert_uint_eq(tu_rec_n(&r), 0);

    /* Freeing deregisters what is still registered. */
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_OK);
    ck_assert(wait_count(&e, "pass", 2, 2000));
    ck_assert(tu_consul_get(e.consul, SVC, id, NULL, NULL, NULL, 0, NULL, 0));
    motan_registry_free(reg);
    ck_assert_int_eq(tu_consul_count(e.consul, "deregister"), 2);
    ck_assert(!tu_consul_get(e.consul, SVC, id, NULL, NULL, NULL, 0, NULL, 0));

    /* A node without host, port or path is refused. */
    reg = consul_registry(&e, NULL);
    motan_url *bad = tu_url("motan2:///com.example.EchoService");
    ck_assert_int_eq(motan_registry_register(reg, bad), MOTAN_EINVAL);
    motan_registry_free(reg);
    motan_url_free(bad);
    motan_url_free(node);
    motan_url_free(svc);
    env_free(&e);
}
END_TEST

START_TEST(test_register_while_agent_down)
{
    env e;
    env_init(&e, 0);
    motan_registry *reg = consul_registry(&e, "connectTimeout=200&requestTimeout=300");
    tu_consul_stop(e.consul);
    motan_url *node = tu_url("motan2://127.0.0.7:8002/com.example.EchoService?group=g1");
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_OK);
    char msg[512];
    ck_assert_msg(wait_errmsg(&e, reg, "registering 127.0.0.7:8002-com.example.EchoService", 2000,
                              msg, sizeof(msg)),
                  "%s", msg);
    ck_assert_int_eq(tu_consul_restart(e.consul), 0);
    /* Retried with backoff until it gets through. */
    ck_assert(wait_count(&e, "pass", 1, 8000));
    ck_assert_msg(wait_errmsg(&e, reg, "", 1000, msg, sizeof(msg)), "%s", msg);
    motan_registry_free(reg);
    motan_url_free(node);
    env_free(&e);
}
END_TEST

START_TEST(test_free_with_query_in_flight)
{
    env e;
    env_init(&e, 0);
    put_java(&e, "127.0.0.1", 8002, ECHO, NULL);
    motan_registry *reg = consul_registry(&e, "wait=30s");
    motan_url *svc = tu_url("motan2:///com.example.EchoService?group=g1");
    motan_url *svc2 = tu_url("motan2:///com.example.EchoService?group=g2");
    tu_rec r, r2;
    tu_rec_init(&r);
    tu_rec_init(&r2);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc2, tu_rec_cb, &r2), MOTAN_OK);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    ck_assert(wait_count(&e, "parked", 2, 2000));

    uint64_t t0 = motan_now_us();
    motan_registry_free(reg);
    ck_assert_uint_lt(motan_now_us() - t0, 200000u);
    /* Nothing of it runs afterwards, even when the fixture answers. */
    put_java(&e, "127.0.0.2", 8003, ECHO, NULL);
    tu_run_for(&e.t, 200);
    ck_assert_int_eq(tu_rec_calls(&r), 1);

    /* Unsubscribing the last service of a group ends its query too. */
    reg = consul_registry(&e, "wait=30s");
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert(tu_rec_wait(&e.t, &r, 2, 3000));
    ck_assert_int_eq(motan_registry_unsubscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    put_java(&e, "127.0.0.3", 8004, ECHO, NULL);
    tu_run_for(&e.t, 200);
    ck_assert_int_eq(tu_rec_calls(&r), 2);
    motan_registry_free(reg);

    motan_url_free(svc);
    motan_url_free(svc2);
    env_free(&e);
}
END_TEST

START_TEST(test_builtin_register_and_free)
{
    env e;
    env_init(&e, 1);
    motan_registry *reg = consul_registry(&e, "wait=5s");
    motan_url *node = tu_url("motan2://127.0.0.8:8002/com.example.EchoService?group=g1");
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_OK);
    ck_assert(wait_count(&e, "pass", 1, 3000));
    tu_rec r;
    motan_url *svc = subscribe_g1(reg, &r);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    ck_assert_uint_eq(tu_rec_n(&r), 1);
    motan_registry_free(reg);
    ck_assert_int_eq(tu_consul_count(e.consul, "deregister"), 1);
    motan_url_free(node);
    motan_url_free(svc);
    env_free(&e);
}
END_TEST

START_TEST(test_entries_and_protocols)
{
    env e;
    env_init(&e, 0);
    put_java(&e, "127.0.0.1", 8002, ECHO, NULL);
    const char *bad_tag[] = {"protocol_motan2", "URL_motan2%3A%2F%2Fx%ZZ", NULL};
    tu_consul_put(e.consul, SVC, "127.0.0.2:8003-com.example.EchoService", "127.0.0.2", 8003,
                  bad_tag);
    tu_consul_put(e.consul, SVC, "127.0.0.3:0-com.example.EchoService", "127.0.0.3", 0, NULL);
    /* A Java motan1 ("motan") node of the same path. */
    const char *v1[] = {"protocol_motan",
                        "URL_motan%3A%2F%2F127.0.0.4%3A8004%2Fcom.example.EchoService%3Fgroup%3Dg1",
                        NULL};
    tu_consul_put(e.consul, SVC, "127.0.0.4:8004-com.example.EchoService", "127.0.0.4", 8004, v1);
    motan_registry *reg = consul_registry(&e, "wait=5s");
    motan_url *svc = tu_url("motan2:///com.example.EchoService?group=g1");
    motan_url *svc_v1 = tu_url("motan:///com.example.EchoService?group=g1");
    tu_rec r, r1;
    tu_rec_init(&r);
    tu_rec_init(&r1);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc, tu_rec_cb, &r), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, svc_v1, tu_rec_cb, &r1), MOTAN_OK);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 3000));
    ck_assert(tu_rec_wait(&e.t, &r1, 1, 3000));
    ck_assert_uint_eq(tu_rec_n(&r), 1);
    ck_assert(tu_rec_has(&r, "127.0.0.1:8002"));
    tu_list l1;
    tu_rec_last(&r1, &l1);
    ck_assert_uint_eq(l1.n, 1);
    ck_assert_str_eq(l1.nodes[0], "motan://127.0.0.4:8004/com.example.EchoService?group=g1");
    char msg[512];
    motan_registry_errmsg(reg, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "skipped entry 1") && strstr(msg, "127.0.0.2:8003-com.example"), "%s",
                  msg);
    /* Once the bad entries are gone, so is the message. */
    tu_consul_remove(e.consul, SVC, "127.0.0.2:8003-com.example.EchoService");
    tu_consul_remove(e.consul, SVC, "127.0.0.3:0-com.example.EchoService");
    ck_assert_msg(wait_errmsg(&e, reg, "", 2000, msg, sizeof(msg)), "%s", msg);
    ck_assert_int_eq(tu_rec_calls(&r), 1);
    motan_registry_free(reg);
    motan_url_free(svc);
    motan_url_free(svc_v1);
    env_free(&e);
}
END_TEST

/* Every 2/3 TTL the check is passed; an agent that lost the service gets it registered again. */
START_TEST(test_heartbeat_reregisters)
{
    env e;
    env_init(&e, 0);
    motan_registry *reg = consul_registry(&e, "ttl=3");
    motan_url *node = tu_url("motan2://127.0.0.7:8002/com.example.EchoService?group=g1");
    const char *id = "127.0.0.7:8002-com.example.EchoService";
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_OK);
    ck_assert(wait_count(&e, "pass", 1, 2000));
    ck_assert_int_eq(tu_consul_count(e.consul, "register"), 1);
    ck_assert_int_eq(tu_consul_remove(e.consul, SVC, id), 0); /* the agent forgot it */
    ck_assert(wait_count(&e, "register", 2, 4000));
    ck_assert(wait_count(&e, "pass", 3, 2000)); /* the failed pass, then the new one */
    int passing = 0;
    ck_assert(tu_consul_get(e.consul, SVC, id, &passing, NULL, NULL, 0, NULL, 0));
    ck_assert_int_eq(passing, 1);
    char msg[512];
    ck_assert_msg(wait_errmsg(&e, reg, "", 1000, msg, sizeof(msg)), "%s", msg);
    motan_registry_free(reg);
    motan_url_free(node);
    env_free(&e);
}
END_TEST

/* A listener that never accepts; with fill, its accept queue is full so connects hang. */
static int silent_listener(int fill, int *port, int *fillers)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(a);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(ls, fill ? 0 : 16), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &sl), 0);
    *port = ntohs(a.sin_port);
    for (int i = 0; i < fill; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(c, F_SETFL, O_NONBLOCK);
        (void)!connect(c, (struct sockaddr *)&a, sizeof(a));
        fillers[i] = c;
    }
    usleep(50000);
    return ls;
}

static void check_timeout(int fill, const char *needle, int min_ms, int max_ms)
{
    env e;
    env_init(&e, 0);
    int port, fillers[8];
    int ls = silent_listener(fill, &port, fillers);
    char text[160], msg[512];
    snprintf(text, sizeof(text), "consul://127.0.0.1:%d?connectTimeout=200&requestTimeout=300",
             port);
    motan_registry *reg = tu_registry(e.t.loop, text);
    tu_rec r;
    uint64_t t0 = motan_now_us();
    motan_url *svc = subscribe_g1(reg, &r);
    ck_assert_msg(wait_errmsg(&e, reg, needle, 3000, msg, sizeof(msg)), "%s", msg);
    uint64_t ms = (motan_now_us() - t0) / 1000;
    ck_assert_msg(ms >= (uint64_t)min_ms && ms <= (uint64_t)max_ms, "%s after %d ms", needle,
                  (int)ms);
    ck_assert_int_eq(tu_rec_calls(&r), 0);
    /* Freed while the retry's request hangs. */
    tu_run_for(&e.t, 150);
    motan_registry_free(reg);
    motan_url_free(svc);
    close(ls);
    for (int i = 0; i < fill; i++)
        close(fillers[i]);
    env_free(&e);
}

START_TEST(test_connect_timeout) { check_timeout(3, "connect timed out", 180, 1000); }
END_TEST

START_TEST(test_response_timeout) { check_timeout(0, "no response within 300 ms", 280, 1100); }
END_TEST

/* One raw HTTP/1.0 exchange with the fixture: status and body. */
static int raw_http(tu_consul *c, const char *method, const char *path, char *body, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)tu_consul_port(c));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[512], resp[8192];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nContent-Length: 0\r\n\r\n", method, path);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t k;
    while ((k = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)k;
    close(fd);
    resp[got] = '\0';
    int status = 0;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    return status;
}

START_TEST(test_fixture_semantics)
{
    tu_consul *c = tu_consul_start();
    ck_assert_ptr_nonnull(c);
    const char *ta[] = {"a", "both", NULL}, *tb[] = {"b", "both", NULL};
    tu_consul_put(c, "web", "w1", "10.0.0.1", 80, ta);
    tu_consul_put(c, "web", "w2", "10.0.0.2", 80, tb);
    tu_consul_set_passing(c, "web", "w2", 0);
    char body[4096];
    ck_assert_int_eq(raw_http(c, "GET", "/v1/health/service/web", body, sizeof(body)), 200);
    ck_assert(strstr(body, "\"w1\"") && strstr(body, "\"w2\"") && strstr(body, "critical"));
    ck_assert_int_eq(raw_http(c, "GET", "/v1/health/service/web?passing", body, sizeof(body)), 200);
    ck_assert(strstr(body, "\"w1\"") && !strstr(body, "\"w2\""));
    ck_assert_int_eq(raw_http(c, "GET", "/v1/health/service/web?tag=b", body, sizeof(body)), 200);
    ck_assert(!strstr(body, "\"w1\"") && strstr(body, "\"w2\""));
    ck_assert_int_eq(raw_http(c, "GET", "/v1/health/service/nope", body, sizeof(body)), 200);
    ck_assert_str_eq(body, "[]");

    /* Blocking: the current index waits for `wait`, an old one answers at once. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/health/service/web?index=%llu&wait=300ms",
             (unsigned long long)tu_consul_index(c, "web"));
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(raw_http(c, "GET", path, body, sizeof(body)), 200);
    ck_assert_uint_ge(motan_now_us() - t0, 280000u);
    snprintf(path, sizeof(path), "/v1/health/service/web?index=%llu&wait=5s",
             (unsigned long long)tu_consul_index(c, "web") - 1);
    t0 = motan_now_us();
    ck_assert_int_eq(raw_http(c, "GET", path, body, sizeof(body)), 200);
    ck_assert_uint_lt(motan_now_us() - t0, 200000u);

    /* Agent endpoints. */
    ck_assert_int_eq(raw_http(c, "PUT", "/v1/agent/check/pass/service:w2", body, sizeof(body)),
                     200);
    int passing = 0;
    ck_assert(tu_consul_get(c, "web", "w2", &passing, NULL, NULL, 0, NULL, 0));
    ck_assert_int_eq(passing, 1);
    ck_assert_int_eq(raw_http(c, "PUT", "/v1/agent/service/deregister/w2", body, sizeof(body)),
                     200);
    ck_assert_int_eq(raw_http(c, "PUT", "/v1/agent/service/deregister/w2", body, sizeof(body)),
                     404);
    ck_assert_int_eq(raw_http(c, "GET", "/v1/agent/service/register", body, sizeof(body)), 405);
    ck_assert_int_eq(tu_consul_count(c, "health"), 6);
    ck_assert_int_eq(tu_consul_count(c, "blocking"), 2);
    tu_consul_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("registry_consul");
    TCase *tc = tcase_create("consul");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_initial_and_changes_caller_loop);
    tcase_add_test(tc, test_initial_and_changes_builtin_loop);
    tcase_add_test(tc, test_same_index_is_quiet);
    tcase_add_test(tc, test_http_500);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_outage);
    tcase_add_test(tc, test_unreachable_agent);
    tcase_add_test(tc, test_register_deregister);
    tcase_add_test(tc, test_register_while_agent_down);
    tcase_add_test(tc, test_free_with_query_in_flight);
    tcase_add_test(tc, test_builtin_register_and_free);
    tcase_add_test(tc, test_entries_and_protocols);
    tcase_add_test(tc, test_heartbeat_reregisters);
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_test(tc, test_response_timeout);
    tcase_add_test(tc, test_fixture_semantics);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
