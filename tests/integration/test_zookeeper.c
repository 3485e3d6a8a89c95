/*
 * The ZooKeeper registry against a real ZooKeeper server (tests/support/lib/zk_proc.h,
 * started once in main) and real motan-test-servers publishing themselves with --register:
 * nodes appear and disappear, groups, Java object-stream node data, data changes, ZooKeeper
 * down and back, session expiry (registry and server side), the register API, bad URLs.
 * Every test uses its own group, so tests do not see each other's nodes.
 */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_dns.h"
#include "tu_proxy.h"
#include "tu_registry.h"
#include "zk_proc.h"

static tu_zk g_zk;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* Valgrind and the sanitizers slow everything down. */
static int slow(int ms)
{
    return tu_slow() ? ms * 5 : ms;
}

/* ---- registries ------------------------------------------------------------------------ */

typedef struct reg {
    motan_loop *loop;
    motan_registry *r;
} reg;

static motan_url *url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static motan_url *url(const char *fmt, ...)
{
    char text[1024], err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    motan_url *u = NULL;
    int rc = motan_url_parse(text, strlen(text), &u, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s: %s", text, err);
    return u;
}

static void reg_open(reg *g, const char *params)
{
    char err[512] = "";
    ck_assert_int_eq(motan_loop_new(&g->loop, err, sizeof(err)), MOTAN_OK);
    motan_url *u = url("zookeeper://%s/?%s", g_zk.hosts, params ? params : "");
    int rc = motan_registry_new(g->loop, u, &g->r, err, sizeof(err));
    motan_url_free(u);
    ck_assert_msg(rc == MOTAN_OK, "motan_registry_new: %s", err);
}

static void reg_close(reg *g)
{
    motan_registry_free(g->r);
    motan_loop_free(g->loop);
}

static void sub(reg *g, const char *group, const char *path, tu_rec *r)
{
    motan_url *s = url("motan2://127.0.0.1:0/%s?group=%s", path, group);
    ck_assert_int_eq(motan_registry_subscribe(g->r, s, tu_rec_cb, r), MOTAN_OK);
    motan_url_free(s);
}

static void unsub(reg *g, const char *group, const char *path, tu_rec *r)
{
    motan_url *s = url("motan2://127.0.0.1:0/%s?group=%s", path, group);
    ck_assert_int_eq(motan_registry_unsubscribe(g->r, s, tu_rec_cb, r), MOTAN_OK);
    motan_url_free(s);
}

static void errmsg(reg *g, char *buf, size_t len) { motan_registry_errmsg(g->r, buf, len); }

/* Waits until errmsg is empty (want_ok) or not. */
static int wait_errmsg(reg *g, int want_ok, int timeout_ms)
{
    char buf[1024];
    int64_t deadline = now_ms() + slow(timeout_ms);
    do {
        errmsg(g, buf, sizeof(buf));
        if (want_ok == !buf[0])
            return 1;
        sleep_ms(20);
    } while (now_ms() < deadline);
    fprintf(stderr, "wait_errmsg: still \"%s\"\n", buf);
    return 0;
}

/* A motan-test-server publishing itself in group (extra: NULL-terminated more options). */
static void srv_start(tu_server *s, const char *group, const char *reg_params,
                      const char *const *extra)
{
    char regurl[256];
    const char *args[16] = {"--quiet", "--register", regurl, "--group", group};
    int n = 5;
    snprintf(regurl, sizeof(regurl), "zookeeper://%s?%s", g_zk.hosts,
             reg_params ? reg_params : "sessionTimeout=10000");
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    ck_assert_int_eq(tu_server_start(s, args), 0);
}

static const char *addr_of(const tu_server *s)
{
    static char buf[64];
    snprintf(buf, sizeof(buf), "127.0.0.1:%d/", s->port);
    return buf;
}

/* ---- a plain ZooKeeper client for looking behind the registry's back ------------------- */

typedef struct zkc {
    zhandle_t *zh;
    int connected;
} zkc;

typedef struct zop {
    int done, rc;
    char data[2048];
    int len;
    int64_t owner;
} zop;

static void quiet_log(const char *m) { (void)m; }

static void zkc_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkc *c = ctx;
    (void)zh;
    (void)path;
    if (type == ZOO_SESSION_EVENT)
        c->connected = state == ZOO_CONNECTED_STATE;
}

static void zkc_pump(zkc *c, int max_ms)
{
    int fd = -1, interest = 0, events = 0;
    struct timeval tv = {0, 0};
    zookeeper_interest(c->zh, &fd, &interest, &tv);
    int ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    if (ms > max_ms)
        ms = max_ms;
    struct pollfd p = {fd, (short)((interest & ZOOKEEPER_READ ? POLLIN : 0) |
                                   (interest & ZOOKEEPER_WRITE ? POLLOUT : 0)),
                       0};
    if (fd >= 0 && poll(&p, 1, ms) > 0) {
        events |= p.revents & (POLLIN | POLLHUP | POLLERR) ? ZOOKEEPER_READ : 0;
        events |= p.revents & POLLOUT ? ZOOKEEPER_WRITE : 0;
    } else if (fd < 0) {
        sleep_ms(ms > 0 ? ms : 1);
    }
    zookeeper_process(c->zh, events);
}

static void zkc_open(zkc *c)
{
    c->connected = 0;
    c->zh = zookeeper_init2(g_zk.hosts, zkc_watcher, 10000, NULL, c, ZOO_NO_LOG_CLIENTENV,
                            quiet_log);
    ck_assert_ptr_nonnull(c->zh);
    int64_t deadline = now_ms() + 10000;
    while (!c->connected && now_ms() < deadline)
        zkc_pump(c, 50);
    ck_assert_msg(c->connected, "test client cannot connect to ZooKeeper");
}

static void zkc_close(zkc *c) { zookeeper_close(c->zh); }

static int zkc_wait(zkc *c, zop *o)
{
    int64_t deadline = now_ms() + 10000;
    while (!o->done && now_ms() < deadline)
        zkc_pump(c, 50);
    ck_assert_msg(o->done, "ZooKeeper request timed out");
    return o->rc;
}

static void void_done(int rc, const void *data)
{
    zop *o = (zop *)data;
    o->rc = rc;
    o->done = 1;
}

static void string_done(int rc, const char *value, const void *data)
{
    (void)value;
    void_done(rc, data);
}

static void stat_done(int rc, const struct Stat *st, const void *data)
{
    zop *o = (zop *)data;
    o->owner = st ? st->ephemeralOwner : 0;
    void_done(rc, data);
}

static void data_done(int rc, const char *value, int len, const struct Stat *st,
                      const void *data)
{
    zop *o = (zop *)data;
    o->len = value && len > 0 && len < (int)sizeof(o->data) ? len : 0;
    if (o->len)
        memcpy(o->data, value, (size_t)o->len);
    o->data[o->len] = '\0';
    stat_done(rc, st, data);
}

static int zkc_create(zkc *c, const char *path, const void *data, int len, int flags)
{
    zop o = {0};
    zoo_acreate(c->zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, flags, string_done, &o);
    return zkc_wait(c, &o);
}

/* Creates path's missing ancestors (persistent, no data). */
static void zkc_parents(zkc *c, const char *path)
{
    char p[512];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int rc = zkc_create(c, p, "", 0, ZOO_PERSISTENT);
        ck_assert_msg(rc == ZOK || rc == ZNODEEXISTS, "create %s: %s", p, zerror(rc));
        *s = '/';
    }
}

static int zkc_set(zkc *c, const char *path, const void *data, int len)
{
    zop o = {0};
    zoo_aset(c->zh, path, data, len, -1, stat_done, &o);
    return zkc_wait(c, &o);
}

static int zkc_delete(zkc *c, const char *path)
{
    zop o = {0};
    zoo_adelete(c->zh, path, -1, void_done, &o);
    return zkc_wait(c, &o);
}

/* ZOK (with o->data and o->owner) or ZNONODE. */
static int zkc_get(zkc *c, const char *path, zop *o)
{
    memset(o, 0, sizeof(*o));
    zoo_aget(c->zh, path, 0, data_done, o);
    return zkc_wait(c, o);
}

/* Waits until path exists (want 1) or not (want 0); its ephemeral owner in *owner. */
static int zkc_wait_exists(zkc *c, const char *path, int want, int timeout_ms, int64_t *owner)
{
    int64_t deadline = now_ms() + slow(timeout_ms);
    zop o;
    do {
        int rc = zkc_get(c, path, &o);
        if ((rc == ZOK) == want) {
            if (owner)
                *owner = o.owner;
            return 1;
        }
        sleep_ms(20);
    } while (now_ms() < deadline);
    return 0;
}

/* Waits until s's node is in ZooKeeper (its registration is asynchronous). */
static void srv_wait_node(const tu_server *s, const char *group)
{
    char path[256];
    zkc c;
    snprintf(path, sizeof(path), "/motan/%s/com.example.EchoService/server/127.0.0.1:%d", group,
             s->port);
    zkc_open(&c);
    ck_assert_msg(zkc_wait_exists(&c, path, 1, 2000, NULL), "%s was not registered", path);
    zkc_close(&c);
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(test_bad_urls)
{
    motan_loop *l;
    motan_registry *r = NULL;
    char err[512];
    ck_assert_int_eq(motan_loop_new(&l, err, sizeof(err)), MOTAN_OK);

    static const struct {
        const char *url, *why;
    } bad[] = {
        {"zookeeper:///com.example.EchoService", "host:port"},
        {"zookeeper://127.0.0.1/x", "host:port"},
        {"zookeeper://[unix:/tmp/zk.sock]/x", "host:port"},
        {"zookeeper://127.0.0.1:2181/x?sessionTimeout=abc", "sessionTimeout"},
        {"zookeeper://127.0.0.1:2181/x?sessionTimeout=-5", "sessionTimeout"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *u = url("%s", bad[i].url);
        err[0] = '\0';
        int64_t t0 = now_ms();
        ck_assert_int_eq(motan_registry_new(l, u, &r, err, sizeof(err)), MOTAN_EURL);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err, bad[i].why), "%s: %s", bad[i].url, err);
        ck_assert_int_lt(now_ms() - t0, 1000);
        motan_url_free(u);
    }

    /* A name that does not resolve: resolved on the loop, so the registry is created at once
     * and says in errmsg what it is waiting for (then why it failed), trying again. */
    tu_dns *dns = tu_dns_start();
    tu_dns_use(dns, l);
    motan_url *nx = url("zookeeper://nonexistent.invalid:2181");
    int64_t t0 = now_ms();
    ck_assert_int_eq(motan_registry_new(l, nx, &r, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_lt(now_ms() - t0, 500);
    char msg[1024] = "";
    for (int i = 0; i < 200 && !strstr(msg, "cannot resolve"); i++) {
        motan_registry_errmsg(r, msg, sizeof(msg));
        sleep_ms(10);
    }
    ck_assert_msg(strstr(msg, "cannot resolve nonexistent.invalid: ") &&
                      strstr(msg, "nonexistent.invalid:2181"),
                  "errmsg: %s", msg);
    motan_registry_free(r);
    motan_url_free(nx);
    tu_dns_stop(dns);

    /* "zk" is the same registry. */
    motan_url *u = url("zk://%s", g_zk.hosts);
    ck_assert_int_eq(motan_registry_new(l, u, &r, err, sizeof(err)), MOTAN_OK);
    motan_url_free(u);

    tu_rec rc;
    tu_rec_init(&rc);
    motan_url *s = url("motan2://127.0.0.1:0/?group=g");
    ck_assert_int_eq(motan_registry_subscribe(r, s, tu_rec_cb, &rc), MOTAN_EINVAL);
    motan_url_free(s);
    s = url("motan2://127.0.0.1:0/a//b?group=g");
    ck_assert_int_eq(motan_registry_subscribe(r, s, tu_rec_cb, &rc), MOTAN_EINVAL);
    motan_url_free(s);
    s = url("motan2://127.0.0.1:0/svc?group=a/b");
    ck_assert_int_eq(motan_registry_subscribe(r, s, tu_rec_cb, &rc), MOTAN_EINVAL);
    ck_assert_int_eq(motan_registry_unsubscribe(r, s, tu_rec_cb, &rc), MOTAN_ENOTFOUND);
    motan_url_free(s);
    s = url("motan2://127.0.0.1/svc?group=g"); /* no port */
    ck_assert_int_eq(motan_registry_register(r, s), MOTAN_EINVAL);
    motan_url_free(s);
    s = url("motan2://127.0.0.1:80/?group=g"); /* no path */
    ck_assert_int_eq(motan_registry_register(r, s), MOTAN_EINVAL);
    motan_url_free(s);

    motan_registry_free(r);
    motan_loop_free(l);
    tu_rec_destroy(&rc);
}
END_TEST

START_TEST(test_unreachable)
{
    /* A port nobody listens on: the registry is created, retries, and says why. */
    tu_server dead;
    const char *args[] = {"--refuse", "--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&dead, args), 0);
    motan_loop *l;
    motan_registry *r;
    char err[512];
    ck_assert_int_eq(motan_loop_new(&l, err, sizeof(err)), MOTAN_OK);
    motan_url *u = url("zookeeper://127.0.0.1:%d?sessionTimeout=2000", dead.port);
    int64_t t0 = now_ms();
    ck_assert_int_eq(motan_registry_new(l, u, &r, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_lt(now_ms() - t0, 500);
    motan_url_free(u);

    tu_rec rc;
    tu_rec_init(&rc);
    motan_url *s = url("motan2://127.0.0.1:0/com.example.EchoService?group=g-unreach");
    ck_assert_int_eq(motan_registry_subscribe(r, s, tu_rec_cb, &rc), MOTAN_OK);
    motan_url_free(s);
    s = url("motan2://127.0.0.1:9/com.example.EchoService?group=g-unreach");
    ck_assert_int_eq(motan_registry_register(r, s), MOTAN_OK); /* queued until connected */
    motan_url_free(s);

    sleep_ms(1000);
    ck_assert_int_eq(tu_rec_calls(&rc), 0);
    char msg[1024];
    motan_registry_errmsg(r, msg, sizeof(msg));
    char port[32];
    snprintf(port, sizeof(port), "127.0.0.1:%d", dead.port);
    ck_assert_msg(strstr(msg, port), "errmsg: %s", msg);
    ck_assert_msg(strstr(msg, "refused"), "errmsg: %s", msg);

    t0 = now_ms();
    motan_registry_free(r);
    ck_assert_int_lt(now_ms() - t0, 500);
    motan_loop_free(l);
    tu_rec_destroy(&rc);
    tu_server_kill(&dead);
}
END_TEST

/*
 * Item 2: the ensemble's name resolves slowly (the fake DNS takes 400 ms) to two addresses,
 * the first refusing: the registry is created at once (the C client used to resolve with a
 * blocking getaddrinfo in zookeeper_init, on the loop) and connects through the second.
 */
START_TEST(test_ensemble_name_resolved_on_the_loop)
{
    tu_dns *dns = tu_dns_start();
    tu_dns_add(dns, "zk.test", "127.0.0.3,127.0.0.1", 400);
    reg g;
    char err[512] = "";
    ck_assert_int_eq(motan_loop_new(&g.loop, err, sizeof(err)), MOTAN_OK);
    tu_dns_use(dns, g.loop);
    motan_url *u = url("zookeeper://zk.test:%d?sessionTimeout=4000", g_zk.port);
    int64_t t0 = now_ms();
    ck_assert_int_eq(motan_registry_new(g.loop, u, &g.r, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_lt(now_ms() - t0, 200);
    motan_url_free(u);
    char msg[1024];
    errmsg(&g, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "resolving the ZooKeeper ensemble zk.test:"), "errmsg: %s", msg);
    tu_rec rc;
    tu_rec_init(&rc);
    sub(&g, "g-dns", "com.example.EchoService", &rc);
    ck_assert(tu_rec_wait_list(&rc, 0, NULL, slow(5000)));
    ck_assert(wait_errmsg(&g, 1, 2000));
    ck_assert_int_ge(tu_dns_queries(dns, "zk.test"), 1);
    reg_close(&g);
    tu_rec_destroy(&rc);
    tu_dns_stop(dns);
}
END_TEST

/*
 * Item 3: freeing a client (or a registry) while ZooKeeper hangs (a frozen proxy: connected,
 * nothing answered) used to block the loop in zookeeper_close for about 1.5 s. It must take
 * about 100 ms at most (the close first checks, for 50 ms, that ZooKeeper answers).
 */
START_TEST(test_free_while_zookeeper_hangs)
{
    tu_proxy *px = tu_proxy_start(g_zk.port);
    char url_text[256], err[512];
    snprintf(url_text, sizeof(url_text),
             "zookeeper://127.0.0.1:%d/com.example.EchoService?group=g-hung&sessionTimeout=4000",
             tu_proxy_port(px));
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url_text, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    char msg[512] = "x";
    int64_t deadline = now_ms() + slow(5000);
    while (msg[0] && now_ms() < deadline) {
        motan_client_registry_status(c, msg, sizeof(msg));
        sleep_ms(20);
    }
    ck_assert_msg(!msg[0], "not connected: %s", msg);
    tu_proxy_freeze(px, 1);
    int64_t t0 = now_ms();
    motan_client_free(c);
    int64_t took = now_ms() - t0;
    fprintf(stderr, "test_free_while_zookeeper_hangs: motan_client_free took %lld ms\n",
            (long long)took);
    ck_assert_msg(took < slow(250), "motan_client_free took %lld ms", (long long)took);

    /* A server's registry with a node to delete: the same bound. */
    tu_proxy_freeze(px, 0);
    reg g;
    ck_assert_int_eq(motan_loop_new(&g.loop, err, sizeof(err)), MOTAN_OK);
    motan_url *u = url("zookeeper://127.0.0.1:%d?sessionTimeout=4000", tu_proxy_port(px));
    ck_assert_int_eq(motan_registry_new(g.loop, u, &g.r, err, sizeof(err)), MOTAN_OK);
    motan_url_free(u);
    ck_assert(wait_errmsg(&g, 1, 5000));
    u = url("motan2://127.0.0.1:9/com.example.EchoService?group=g-hung");
    ck_assert_int_eq(motan_registry_register(g.r, u), MOTAN_OK);
    motan_url_free(u);
    tu_rec created;
    tu_rec_init(&created);
    sub(&g, "g-hung", "com.example.EchoService", &created);
    ck_assert(tu_rec_wait_list(&created, 1, "127.0.0.1:9", slow(5000)));
    unsub(&g, "g-hung", "com.example.EchoService", &created);
    tu_rec_destroy(&created);
    tu_proxy_freeze(px, 1);
    t0 = now_ms();
    motan_registry_free(g.r);
    took = now_ms() - t0;
    ck_assert_msg(took < slow(250), "motan_registry_free took %lld ms", (long long)took);
    motan_loop_free(g.loop);
    tu_proxy_stop(px);
}
END_TEST

START_TEST(test_servers_appear_disappear)
{
    reg g;
    tu_rec rc;
    tu_server a, b;
    tu_rec_init(&rc);
    reg_open(&g, NULL);
    /* Nothing exists under the group yet: an empty list, then the path appears. */
    sub(&g, "g-appear", "com.example.EchoService", &rc);
    ck_assert(tu_rec_wait_list(&rc, 0, NULL, slow(2000)));
    ck_assert(wait_errmsg(&g, 1, 2000));

    srv_start(&a, "g-appear", NULL, NULL);
    ck_assert(tu_rec_wait_list(&rc, 1, addr_of(&a), slow(1000)));
    ck_assert(tu_rec_has(&rc, "nodeType=service"));
    ck_assert(tu_rec_has(&rc, "group=g-appear"));
    srv_start(&b, "g-appear", NULL, NULL);
    ck_assert(tu_rec_wait_list(&rc, 2, addr_of(&b), slow(1000)));
    ck_assert(tu_rec_has(&rc, addr_of(&a)));

    ck_assert_int_eq(tu_server_stop(&a), 0); /* SIGTERM: the server deletes its node */
    ck_assert(tu_rec_wait_list(&rc, 1, addr_of(&b), slow(1000)));
    ck_assert_int_eq(tu_server_stop(&b), 0);
    ck_assert(tu_rec_wait_list(&rc, 0, NULL, slow(1000)));

    reg_close(&g);
    tu_rec_destroy(&rc);
}
END_TEST

START_TEST(test_groups_and_listeners)
{
    reg g;
    tu_rec ra, rb1, rb2;
    tu_server a, b1, b2;
    tu_rec_init(&ra);
    tu_rec_init(&rb1);
    tu_rec_init(&rb2);
    srv_start(&a, "g-a", NULL, NULL);
    srv_start(&b1, "g-b", NULL, NULL);
    const char *w7[] = {"--weight", "7", NULL};
    srv_start(&b2, "g-b", NULL, w7);
    srv_wait_node(&a, "g-a");
    srv_wait_node(&b1, "g-b");
    srv_wait_node(&b2, "g-b");

    reg_open(&g, NULL);
    sub(&g, "g-a", "com.example.EchoService", &ra);
    sub(&g, "g-b", "com.example.EchoService", &rb1);
    sub(&g, "g-b", "com.example.EchoService", &rb2);
    ck_assert(tu_rec_wait_list(&ra, 1, addr_of(&a), slow(2000)));
    ck_assert(tu_rec_wait_list(&rb1, 2, "weight=7", slow(2000)));
    ck_assert(tu_rec_wait_list(&rb2, 2, "weight=7", slow(2000)));
    ck_assert(!tu_rec_has(&ra, addr_of(&b1)));
    ck_assert_int_eq(tu_rec_calls(&ra), 1);
    ck_assert_int_eq(tu_rec_calls(&rb1), 1);

    /* A second subscribe of the same listener is a no-op; an unsubscribed one hears nothing. */
    sub(&g, "g-b", "com.example.EchoService", &rb1);
    unsub(&g, "g-b", "com.example.EchoService", &rb2);
    int before = tu_rec_calls(&rb2);
    ck_assert_int_eq(tu_server_stop(&b2), 0);
    ck_assert(tu_rec_wait_list(&rb1, 1, addr_of(&b1), slow(1000)));
    ck_assert_int_eq(tu_rec_calls(&rb1), 2);
    sleep_ms(200);
    ck_assert_int_eq(tu_rec_calls(&rb2), before);
    ck_assert_int_eq(tu_rec_calls(&ra), 1); /* other groups are untouched */

    /* A new listener of a known service gets the list in force. */
    tu_rec late;
    tu_rec_init(&late);
    sub(&g, "g-b", "com.example.EchoService", &late);
    ck_assert(tu_rec_wait_list(&late, 1, addr_of(&b1), slow(1000)));

    reg_close(&g);
    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert_int_eq(tu_server_stop(&b1), 0);
    tu_rec_destroy(&ra);
    tu_rec_destroy(&rb1);
    tu_rec_destroy(&rb2);
    tu_rec_destroy(&late);
}
END_TEST

/* ObjectOutputStream.writeObject(String) of a short ASCII string. */
static int java_string(const char *s, uint8_t *out)
{
    size_t n = strlen(s);
    memcpy(out, "\xac\xed\x00\x05\x74", 5);
    out[5] = (uint8_t)(n >> 8);
    out[6] = (uint8_t)n;
    memcpy(out + 7, s, n);
    return (int)n + 7;
}

START_TEST(test_java_node_data)
{
    const char *base = "/motan/g-java/com.example.JavaService/server";
    char path[256];
    uint8_t buf[512];
    zkc c;
    zkc_open(&c);
    snprintf(path, sizeof(path), "%s/x", base);
    zkc_parents(&c, path);

    int n = java_string("motan2://10.0.0.1:8001/com.example.JavaService?group=g-java&weight=3&",
                        buf);
    snprintf(path, sizeof(path), "%s/10.0.0.1:8001", base);
    ck_assert_int_eq(zkc_create(&c, path, buf, n, ZOO_PERSISTENT), ZOK);
    const char *plain = "motan2://10.0.0.2:8002/com.example.JavaService?group=g-java&k=v";
    snprintf(path, sizeof(path), "%s/10.0.0.2:8002", base);
    ck_assert_int_eq(zkc_create(&c, path, plain, (int)strlen(plain), ZOO_PERSISTENT), ZOK);
    snprintf(path, sizeof(path), "%s/10.0.0.3:8003", base); /* truncated stream */
    ck_assert_int_eq(zkc_create(&c, path, "\xac\xed\x00\x05\x74\x00\xff", 7, ZOO_PERSISTENT), ZOK);
    snprintf(path, sizeof(path), "%s/10.0.0.4:8004", base); /* no data */
    ck_assert_int_eq(zkc_create(&c, path, NULL, -1, ZOO_PERSISTENT), ZOK);

    reg g;
    tu_rec rc;
    tu_rec_init(&rc);
    reg_open(&g, NULL);
    sub(&g, "g-java", "com.example.JavaService", &rc);
    ck_assert(tu_rec_wait_list(&rc, 4, NULL, slow(2000)));
    char snap[8192];
    ck_assert_str_eq(tu_rec_list(&rc, snap, sizeof(snap)),
                     "motan2://10.0.0.1:8001/com.example.JavaService?group=g-java&weight=3\n"
                     "motan2://10.0.0.2:8002/com.example.JavaService?group=g-java&k=v\n"
                     "motan2://10.0.0.3:8003/com.example.JavaService?group=g-java\n"
                     "motan2://10.0.0.4:8004/com.example.JavaService?group=g-java\n");

    /* A node's data changes: the whole list again, with the new data. */
    const char *changed = "motan2://10.0.0.2:8002/com.example.JavaService?group=g-java&k=changed";
    snprintf(path, sizeof(path), "%s/10.0.0.2:8002", base);
    ck_assert_int_eq(zkc_set(&c, path, changed, (int)strlen(changed)), ZOK);
    ck_assert(tu_rec_wait_list(&rc, 4, "k=changed", slow(1000)));
    ck_assert_int_eq(tu_rec_calls(&rc), 2);
    /* Rewritten with the same text: nothing changed, nothing is sent. */
    ck_assert_int_eq(zkc_set(&c, path, changed, (int)strlen(changed)), ZOK);
    /* ... and a Java-serialized rewrite of node 3 fixes it. */
    n = java_string("motan2://10.0.0.3:8003/com.example.JavaService?group=g-java&fixed=1", buf);
    snprintf(path, sizeof(path), "%s/10.0.0.3:8003", base);
    ck_assert_int_eq(zkc_set(&c, path, buf, n), ZOK);
    ck_assert(tu_rec_wait_list(&rc, 4, "fixed=1", slow(1000)));
    ck_assert_int_eq(tu_rec_calls(&rc), 3);

    /* Deleted behind the registry's back. */
    snprintf(path, sizeof(path), "%s/10.0.0.1:8001", base);
    ck_assert_int_eq(zkc_delete(&c, path), ZOK);
    ck_assert(tu_rec_wait_list(&rc, 3, NULL, slow(1000)));
    ck_assert(!tu_rec_has(&rc, "10.0.0.1"));

    reg_close(&g);
    zkc_close(&c);
    tu_rec_destroy(&rc);
}
END_TEST

START_TEST(test_register_api)
{
    const char *node = "/motan/g-reg/com.example.RegService/server/127.0.0.1:9101";
    const char *stale = "/motan/g-reg/com.example.RegService/server/127.0.0.1:9102";
    reg pub, watch;
    tu_rec rc;
    zkc c;
    zop o;
    int64_t owner = 0;
    tu_rec_init(&rc);
    zkc_open(&c);
    reg_open(&pub, NULL);
    reg_open(&watch, NULL);
    sub(&watch, "g-reg", "com.example.RegService", &rc);
    ck_assert(tu_rec_wait_list(&rc, 0, NULL, slow(2000)));

    motan_url *u =
        url("motan2://127.0.0.1:9101/com.example.RegService?group=g-reg&nodeType=service");
    ck_assert_int_eq(motan_registry_register(pub.r, u), MOTAN_OK);
    ck_assert(zkc_wait_exists(&c, node, 1, 2000, &owner));
    ck_assert_int_ne(owner, 0); /* ephemeral */
    ck_assert_int_eq(zkc_get(&c, node, &o), ZOK);
    ck_assert_str_eq(o.data,
                     "motan2://127.0.0.1:9101/com.example.RegService?group=g-reg&nodeType=service");
    ck_assert(tu_rec_wait_list(&rc, 1, "127.0.0.1:9101", slow(1000)));

    ck_assert_int_eq(motan_registry_unregister(pub.r, u), MOTAN_OK);
    ck_assert(zkc_wait_exists(&c, node, 0, 2000, NULL));
    ck_assert(tu_rec_wait_list(&rc, 0, NULL, slow(1000)));
    ck_assert_int_eq(motan_registry_register(pub.r, u), MOTAN_OK); /* and back */
    ck_assert(tu_rec_wait_list(&rc, 1, "127.0.0.1:9101", slow(1000)));
    motan_url_free(u);

    /* A stale node (here persistent, with junk) is replaced by ours. */
    ck_assert_int_eq(zkc_create(&c, stale, "junk", 4, ZOO_PERSISTENT), ZOK);
    ck_assert(tu_rec_wait_list(&rc, 2, "127.0.0.1:9102", slow(1000)));
    u = url("motan2://127.0.0.1:9102/com.example.RegService?group=g-reg&weight=5");
    ck_assert_int_eq(motan_registry_register(pub.r, u), MOTAN_OK);
    motan_url_free(u);
    ck_assert(
        tu_rec_wait_list(&rc, 2, "9102/com.example.RegService?group=g-reg&weight=5", slow(1000)));
    ck_assert_int_eq(zkc_get(&c, stale, &o), ZOK);
    ck_assert_int_ne(o.owner, 0);

    /* Freeing the registry takes its nodes away at once. */
    char msg[512];
    errmsg(&pub, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");
    reg_close(&pub);
    ck_assert(zkc_wait_exists(&c, node, 0, 200, NULL));
    ck_assert(zkc_wait_exists(&c, stale, 0, 200, NULL));
    ck_assert(tu_rec_wait_list(&rc, 0, NULL, slow(1000)));

    reg_close(&watch);
    zkc_close(&c);
    tu_rec_destroy(&rc);
}
END_TEST

START_TEST(test_zookeeper_restart)
{
    reg g;
    tu_rec rc;
    tu_server a, b;
    char msg[1024];
    tu_rec_init(&rc);
    srv_start(&a, "g-restart", "sessionTimeout=2000", NULL);
    reg_open(&g, "sessionTimeout=4000");
    sub(&g, "g-restart", "com.example.EchoService", &rc);
    ck_assert(tu_rec_wait_list(&rc, 1, addr_of(&a), slow(2000)));
    ck_assert(wait_errmsg(&g, 1, 1000));
    int calls = tu_rec_calls(&rc);

    /* Down: no notification (the last list stays in force), errmsg says why. */
    ck_assert_int_eq(tu_zk_stop(&g_zk), 0);
    ck_assert(wait_errmsg(&g, 0, 2000));
    errmsg(&g, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, g_zk.hosts), "errmsg: %s", msg);
    sleep_ms(1000);
    ck_assert_int_eq(tu_rec_calls(&rc), calls);

    /* Back within the session: the same list (so no call), then later changes are seen. */
    ck_assert_int_eq(tu_zk_restart(&g_zk), 0);
    ck_assert(wait_errmsg(&g, 1, 10000));
    sleep_ms(300);
    ck_assert_int_eq(tu_rec_calls(&rc), calls);
    srv_start(&b, "g-restart", NULL, NULL);
    ck_assert(tu_rec_wait_list(&rc, 2, addr_of(&b), slow(2000)));
    /*
     * A client that connected while ZooKeeper was starting may wait for 2/3 of its session
     * timeout before it tries again (the server neither answers nor closes): A's session is
     * 2 s, so its node goes within 4 s at worst (deleted, or its session expired).
     */
    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert(tu_rec_wait_list(&rc, 1, addr_of(&b), slow(4000)));

    reg_close(&g);
    ck_assert_int_eq(tu_server_stop(&b), 0);
    tu_rec_destroy(&rc);
}
END_TEST

static void stall(void *arg)
{
    sleep_ms(*(int *)arg);
}

START_TEST(test_session_expiry)
{
    const char *node = "/motan/g-expiry/com.example.EchoService/server/127.0.0.1:9201";
    static int stall_ms;
    reg g;
    tu_rec rc;
    zkc c;
    tu_server s;
    int64_t owner = 0, owner2 = 0;
    tu_rec_init(&rc);
    zkc_open(&c);
    reg_open(&g, "sessionTimeout=1000");
    motan_url *u = url("motan2://127.0.0.1:9201/com.example.EchoService?group=g-expiry");
    ck_assert_int_eq(motan_registry_register(g.r, u), MOTAN_OK);
    motan_url_free(u);
    sub(&g, "g-expiry", "com.example.EchoService", &rc);
    ck_assert(tu_rec_wait_list(&rc, 1, "127.0.0.1:9201", slow(2000)));
    ck_assert(zkc_wait_exists(&c, node, 1, 1000, &owner));
    int calls = tu_rec_calls(&rc);

    /* The loop thread stalls (think: a long GC pause) past the session timeout. */
    stall_ms = 3500;
    ck_assert_int_eq(motan_loop_run(g.loop, stall, &stall_ms), MOTAN_OK);
    ck_assert_msg(zkc_wait_exists(&c, node, 0, 3000, NULL), "the session never expired");

    /* A new session: the node is published again, the subscription carries on. */
    ck_assert_msg(zkc_wait_exists(&c, node, 1, 5000, &owner2), "the node was not re-created");
    ck_assert_int_ne(owner2, 0);
    ck_assert_int_ne(owner2, owner);
    ck_assert(wait_errmsg(&g, 1, 2000));
    srv_start(&s, "g-expiry", NULL, NULL);
    ck_assert(tu_rec_wait_list(&rc, 2, addr_of(&s), slow(2000)));
    ck_assert(tu_rec_calls(&rc) >= calls + 1);

    /* The same on the server side: a stopped server's session expires, then it comes back. */
    tu_server t;
    srv_start(&t, "g-expiry", "sessionTimeout=1000", NULL);
    ck_assert(tu_rec_wait_list(&rc, 3, addr_of(&t), slow(2000)));
    kill(t.pid, SIGSTOP);
    ck_assert(tu_rec_wait_list(&rc, 2, addr_of(&s), slow(4000)));
    kill(t.pid, SIGCONT);
    ck_assert(tu_rec_wait_list(&rc, 3, addr_of(&t), slow(4000)));

    reg_close(&g);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    ck_assert_int_eq(tu_server_stop(&t), 0);
    zkc_close(&c);
    tu_rec_destroy(&rc);
}
END_TEST

static Suite *zookeeper_suite(void)
{
    Suite *s = suite_create("zookeeper");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_urls);
    tcase_add_test(tc, test_unreachable);
    tcase_add_test(tc, test_ensemble_name_resolved_on_the_loop);
    tcase_add_test(tc, test_free_while_zookeeper_hangs);
    tcase_add_test(tc, test_servers_appear_disappear);
    tcase_add_test(tc, test_groups_and_listeners);
    tcase_add_test(tc, test_java_node_data);
    tcase_add_test(tc, test_register_api);
    tcase_add_test(tc, test_zookeeper_restart);
    tcase_add_test(tc, test_session_expiry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Once per binary, from the main thread, before any loop thread exists. */
    if (tu_zk_start(&g_zk) != 0) {
        fprintf(stderr, "test_zookeeper: cannot start ZooKeeper\n");
        return 1;
    }
    SRunner *sr = srunner_create(zookeeper_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_zk_free(&g_zk);
    return failed ? 1 : 0;
}
