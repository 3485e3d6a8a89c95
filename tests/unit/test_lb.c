/*
 * Load balancers (lib/cluster/lb*.c): the registry (names, aliases, custom LBs, duplicates),
 * then every built-in on real endpoints of a caller-owned loop: skipping unavailable and
 * excluded endpoints, NULL when nothing qualifies, and each LB's own distribution.
 *
 * Endpoints point at 127.0.0.1 sockets of this process: "refused" ones are bound but not
 * listening (a call fails at once with MOTAN_ECONNECT, which with errorCountThreshold=1 makes
 * the endpoint unavailable); "black hole" ones listen but never accept or read, so calls to
 * them stay in flight (deterministic load for activeWeight) until the endpoint is freed.
 *
 * Statistical bounds: with >= 30000 picks the standard deviation of a share p is at most
 * sqrt(p(1-p)/30000) < 0.3 %, so the stated +-3 % bounds are > 10 sigma away.
 */
#include <arpa/inet.h>
#include <check.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/cluster.h>

#include "testutil.h"

#define SERVICE "com.example.EchoService"
#define PICKS 30000

/* ---- harness -------------------------------------------------------------------------- */

static struct event_base *base;
static motan_loop *loop;
static motan_url *service;
static motan_endpoint *all_eps[64];
static size_t n_eps;
static motan_request *all_reqs[256];
static size_t n_reqs;
static int all_fds[64];
static size_t n_fds;
static int load_done; /* load calls complete (cancelled) when their endpoint is freed */

static void setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    char err[256];
    ck_assert_int_eq(motan_loop_new_with_base(base, &loop, err, sizeof(err)), MOTAN_OK);
    const char *s = "motan2://127.0.0.1:1/" SERVICE "?group=g";
    ck_assert_int_eq(motan_url_parse(s, strlen(s), &service, err, sizeof(err)), MOTAN_OK);
}

static void teardown(void)
{
    for (size_t i = 0; i < n_eps; i++)
        motan_endpoint_free(all_eps[i]);
    for (size_t i = 0; i < n_reqs; i++)
        motan_request_free(all_reqs[i]);
    for (size_t i = 0; i < n_fds; i++)
        close(all_fds[i]);
    n_eps = n_reqs = n_fds = 0;
    motan_url_free(service);
    motan_loop_free(loop);
    event_base_free(base);
}

/* A 127.0.0.1 TCP port held by this process: listening (black hole) or not (refused). */
static int local_port(int do_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (do_listen)
        ck_assert_int_eq(listen(fd, 128), 0);
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    ck_assert_uint_lt(n_fds, sizeof(all_fds) / sizeof(all_fds[0]));
    all_fds[n_fds++] = fd;
    return ntohs(sa.sin_port);
}

static motan_endpoint *ep_url(const char *addr, const char *extra)
{
    char text[512], err[256];
    snprintf(text, sizeof(text),
             "motan2://%s/" SERVICE "?errorCountThreshold=1&keepaliveInterval=3600000"
             "&connections=1%s%s",
             addr, extra ? "&" : "", extra ? extra : "");
    motan_url *u = NULL;
    ck_assert_int_eq(motan_url_parse(text, strlen(text), &u, err, sizeof(err)), MOTAN_OK);
    motan_endpoint *ep = NULL;
    int rc = motan_endpoint_new(loop, u, &ep, err, sizeof(err));
    motan_url_free(u);
    ck_assert_msg(rc == MOTAN_OK, "endpoint %s: %s", text, err);
    ck_assert_uint_lt(n_eps, sizeof(all_eps) / sizeof(all_eps[0]));
    all_eps[n_eps++] = ep;
    return ep;
}

static motan_endpoint *ep_at(const char *host, int port, const char *extra)
{
    char addr[300];
    snprintf(addr, sizeof(addr), "%s:%d", host, port);
    return ep_url(addr, extra);
}

/* An endpoint on a refused port: available until a call fails. */
static motan_endpoint *ep_refused(const char *extra)
{
    return ep_at("127.0.0.1", local_port(0), extra);
}

static motan_request *new_req(const char *hash_key)
{
    motan_request *r = motan_request_new("echo");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(motan_request_set_service(r, SERVICE), MOTAN_OK);
    if (hash_key)
        ck_assert_int_eq(motan_request_set_hash_key(r, hash_key, strlen(hash_key)), MOTAN_OK);
    ck_assert_uint_lt(n_reqs, sizeof(all_reqs) / sizeof(all_reqs[0]));
    all_reqs[n_reqs++] = r;
    return r;
}

static void count_cb(motan_response *r, void *ud)
{
    (*(int *)ud)++;
    motan_response_free(r);
}

/* One failing call (refused port, errorCountThreshold=1) fuses the endpoint. */
static void make_unavailable(motan_endpoint *ep)
{
    int done = 0;
    ck_assert_int_eq(motan_endpoint_call(ep, new_req(NULL), 0, count_cb, &done, NULL), MOTAN_OK);
    uint64_t end = motan_now_us() + 10000000u;
    while (!done && motan_now_us() < end)
        event_base_loop(base, EVLOOP_ONCE);
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(motan_endpoint_is_available(ep), 0);
}

/* k calls that stay in flight (a black-hole endpoint). */
static void add_load(motan_endpoint *ep, int k)
{
    size_t before = motan_endpoint_inflight(ep);
    for (int i = 0; i < k; i++)
        ck_assert_int_eq(
            motan_endpoint_call(ep, new_req(NULL), 600000, count_cb, &load_done, NULL),
            MOTAN_OK);
    ck_assert_uint_eq(motan_endpoint_inflight(ep), before + (size_t)k);
}

/* An LB instance. */
typedef struct lbx {
    const motan_lb_ops *ops;
    void *st;
} lbx;

static lbx lb_new(const char *name)
{
    lbx x = {motan_lb_find(name), NULL};
    ck_assert_msg(x.ops != NULL, "no LB %s", name);
    x.st = x.ops->create(service);
    ck_assert_ptr_nonnull(x.st);
    return x;
}

static void lb_free(lbx *x) { x->ops->destroy(x->st); }

static void lb_update(lbx *x, motan_endpoint **eps, size_t n) { x->ops->update(x->st, eps, n); }

static motan_endpoint *lb_pick(lbx *x, const motan_request *req, motan_endpoint **eps, size_t n,
                               motan_endpoint **ex, size_t nex)
{
    return x->ops->pick(x->st, req, eps, n, ex, nex);
}

static int index_of(const motan_endpoint *e, motan_endpoint **eps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (eps[i] == e)
            return (int)i;
    return -1;
}

/* counts[i] += picks of eps[i]; every pick must be one of eps. */
static void count_picks(lbx *x, const motan_request *req, motan_endpoint **eps, size_t n,
                        motan_endpoint **ex, size_t nex, int picks, int *counts)
{
    for (int k = 0; k < picks; k++) {
        int i = index_of(lb_pick(x, req, eps, n, ex, nex), eps, n);
        ck_assert_int_ge(i, 0);
        counts[i]++;
    }
}

static void assert_share(int count, int total, double expect, double tol, const char *what)
{
    double share = (double)count / total;
    ck_assert_msg(share >= expect - tol && share <= expect + tol,
                  "%s: share %.4f, expected %.4f +- %.3f", what, share, expect, tol);
}

static const char *const builtins[] = {"random",       "roundrobin", "wrr",
                                       "activeWeight", "consistent", "localFirst"};

/* ---- registry ------------------------------------------------------------------------- */

START_TEST(test_find_builtins)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        const motan_lb_ops *ops = motan_lb_find(builtins[i]);
        ck_assert_msg(ops != NULL, "%s", builtins[i]);
        ck_assert_str_eq(ops->name, builtins[i]);
    }
    /* Case-insensitive, and the Java/Go spellings. */
    ck_assert_ptr_eq(motan_lb_find("RANDOM"), motan_lb_find("random"));
    ck_assert_ptr_eq(motan_lb_find("activeweight"), motan_lb_find("activeWeight"));
    ck_assert_ptr_eq(motan_lb_find("LOCALFIRST"), motan_lb_find("localFirst"));
    ck_assert_ptr_eq(motan_lb_find("RoundRobin"), motan_lb_find("roundrobin"));
    ck_assert_ptr_eq(motan_lb_find("consistentHashKey"), motan_lb_find("consistent"));
    ck_assert_ptr_eq(motan_lb_find("CONSISTENTHASHKEY"), motan_lb_find("consistent"));
    ck_assert_ptr_eq(motan_lb_find("configurableWeight"), motan_lb_find("wrr"));
    ck_assert_ptr_null(motan_lb_find("nosuchlb"));
    ck_assert_ptr_null(motan_lb_find(""));
    ck_assert_ptr_null(motan_lb_find(NULL));
}
END_TEST

/* A custom LB: always the last qualifying endpoint. */
static int custom_updates;
static void *custom_create(const motan_url *u)
{
    (void)u;
    return malloc(1);
}
static void custom_destroy(void *st) { free(st); }
static void custom_update(void *st, motan_endpoint *const *eps, size_t n)
{
    (void)st;
    (void)eps;
    (void)n;
    custom_updates++;
}
static motan_endpoint *custom_pick(void *st, const motan_request *req, motan_endpoint *const *eps,
                                   size_t n, motan_endpoint *const *ex, size_t nex)
{
    (void)st;
    (void)req;
    (void)ex;
    (void)nex;
    return n ? eps[n - 1] : NULL;
}

START_TEST(test_register_custom)
{
#define CUSTOM_LB(name, pick)                                                                    \
    {sizeof(motan_lb_ops), name, custom_create, custom_destroy, custom_update, pick}
    static const motan_lb_ops mine = CUSTOM_LB("lastOne", custom_pick);
    static const motan_lb_ops dup = CUSTOM_LB("LASTONE", custom_pick);
    static const motan_lb_ops builtin_dup = CUSTOM_LB("Random", custom_pick);
    static const motan_lb_ops alias_dup = CUSTOM_LB("consistentHashKey", custom_pick);
    static const motan_lb_ops no_pick = CUSTOM_LB("noPick", NULL);
    static const motan_lb_ops no_name = CUSTOM_LB("", custom_pick);
#undef CUSTOM_LB
    ck_assert_int_eq(motan_lb_register(&mine), MOTAN_OK);
    ck_assert_ptr_eq(motan_lb_find("lastOne"), &mine);
    ck_assert_ptr_eq(motan_lb_find("lastone"), &mine);
    ck_assert_int_eq(motan_lb_register(&mine), MOTAN_EINVAL);
    ck_assert_int_eq(motan_lb_register(&dup), MOTAN_EINVAL);
    ck_assert_int_eq(motan_lb_register(&builtin_dup), MOTAN_EINVAL);
    ck_assert_int_eq(motan_lb_register(&alias_dup), MOTAN_EINVAL);
    ck_assert_int_eq(motan_lb_register(&no_pick), MOTAN_EINVAL);
    ck_assert_int_eq(motan_lb_register(&no_name), MOTAN_EINVAL);
    ck_assert_int_eq(motan_lb_register(NULL), MOTAN_EINVAL);
    ck_assert_ptr_eq(motan_lb_find("lastOne"), &mine);
    ck_assert_ptr_null(motan_lb_find("noPick"));
    ck_assert_str_eq(motan_lb_find("random")->name, "random");

    /* It is used through its ops like any built-in. */
    motan_endpoint *eps[2] = {ep_refused(NULL), ep_refused(NULL)};
    lbx x = lb_new("LastOne");
    lb_update(&x, eps, 2);
    ck_assert_int_eq(custom_updates, 1);
    ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 2, NULL, 0), eps[1]);
    lb_free(&x);
}
END_TEST

/* ---- every built-in: skipping and NULL --------------------------------------------------- */

START_TEST(test_skip_and_null)
{
    const char *name = builtins[_i];
    motan_endpoint *eps[4];
    for (int i = 0; i < 4; i++)
        eps[i] = ep_refused(i == 1 ? "weight=50" : NULL);
    make_unavailable(eps[0]);
    motan_request *keyless = new_req(NULL);
    motan_request *keyed[8];
    for (int i = 0; i < 8; i++) {
        char key[32];
        snprintf(key, sizeof(key), "user-%d", i);
        keyed[i] = new_req(key);
    }

    lbx x = lb_new(name);
    /* Before any update and with an empty list: nothing. */
    ck_assert_ptr_null(lb_pick(&x, keyless, eps, 0, NULL, 0));
    lb_update(&x, eps, 0);
    ck_assert_ptr_null(lb_pick(&x, keyless, eps, 0, NULL, 0));

    lb_update(&x, eps, 4);
    motan_endpoint *ex[3] = {eps[2], eps[3], eps[1]};
    int counts[4] = {0};
    for (int k = 0; k < 3000; k++) {
        const motan_request *req = k % 2 ? keyless : keyed[k % 8];
        int i = index_of(lb_pick(&x, req, eps, 4, ex, 1), eps, 4);
        ck_assert_msg(i == 1 || i == 3, "%s picked %d", name, i);
        counts[i]++;
    }
    ck_assert_msg(counts[1] > 0 && counts[3] > 0, "%s: %d %d", name, counts[1], counts[3]);

    /* Only one qualifies. */
    for (int k = 0; k < 100; k++)
        ck_assert_ptr_eq(lb_pick(&x, k % 2 ? keyless : keyed[k % 8], eps, 4, ex, 2), eps[1]);
    /* None: the rest is unavailable or excluded. */
    for (int k = 0; k < 100; k++)
        ck_assert_ptr_null(lb_pick(&x, k % 2 ? keyless : keyed[k % 8], eps, 4, ex, 3));
    /* A list of unavailable endpoints only. */
    lb_update(&x, eps, 1);
    for (int k = 0; k < 100; k++)
        ck_assert_ptr_null(lb_pick(&x, k % 2 ? keyless : keyed[k % 8], eps, 1, NULL, 0));

    /* A list that differs from the last update (update failed): still only qualifying ones. */
    lb_update(&x, eps, 4);
    motan_endpoint *other[3] = {eps[0], eps[3], eps[2]};
    for (int k = 0; k < 300; k++) {
        motan_endpoint *e = lb_pick(&x, k % 2 ? keyless : keyed[k % 8], other, 3, ex, 1);
        ck_assert_ptr_eq(e, eps[3]);
    }
    lb_free(&x);
}
END_TEST

/* ---- random -------------------------------------------------------------------------------- */

START_TEST(test_random_uniform)
{
    motan_endpoint *eps[5];
    for (int i = 0; i < 5; i++)
        eps[i] = ep_refused(NULL);
    lbx x = lb_new("random");
    lb_update(&x, eps, 4);
    int counts[5] = {0};
    count_picks(&x, NULL, eps, 4, NULL, 0, 40000, counts);
    for (int i = 0; i < 4; i++)
        assert_share(counts[i], 40000, 0.25, 0.03, "random 4");

    /* An unavailable endpoint's share is spread evenly, not given to its neighbour. */
    make_unavailable(eps[0]);
    memset(counts, 0, sizeof(counts));
    count_picks(&x, NULL, eps, 4, NULL, 0, PICKS, counts);
    ck_assert_int_eq(counts[0], 0);
    for (int i = 1; i < 4; i++)
        assert_share(counts[i], PICKS, 1.0 / 3, 0.03, "random, first unavailable");

    /* Mostly out (3 of 5 unqualified): the exact-scan fallback is uniform too. */
    lb_update(&x, eps, 5);
    motan_endpoint *ex[2] = {eps[1], eps[2]};
    memset(counts, 0, sizeof(counts));
    count_picks(&x, NULL, eps, 5, ex, 2, PICKS, counts);
    ck_assert_int_eq(counts[0] + counts[1] + counts[2], 0);
    assert_share(counts[3], PICKS, 0.5, 0.03, "random 2 of 5");
    assert_share(counts[4], PICKS, 0.5, 0.03, "random 2 of 5");
    lb_free(&x);
}
END_TEST

/* ---- roundrobin ------------------------------------------------------------------------ */

START_TEST(test_roundrobin_exact)
{
    motan_endpoint *eps[4];
    for (int i = 0; i < 4; i++)
        eps[i] = ep_refused(NULL);
    lbx x = lb_new("roundrobin");
    lb_update(&x, eps, 3);
    int counts[4] = {0};
    int prev = index_of(lb_pick(&x, NULL, eps, 3, NULL, 0), eps, 3);
    for (int k = 0; k < PICKS; k++) {
        int i = index_of(lb_pick(&x, NULL, eps, 3, NULL, 0), eps, 3);
        ck_assert_int_eq(i, (prev + 1) % 3); /* strictly in turn */
        counts[i]++;
        prev = i;
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(counts[i], PICKS / 3);

    /* Skipped endpoints give their turn to no one in particular: exact halves. */
    lb_update(&x, eps, 4);
    make_unavailable(eps[1]);
    motan_endpoint *ex[1] = {eps[2]};
    memset(counts, 0, sizeof(counts));
    count_picks(&x, NULL, eps, 4, ex, 1, PICKS, counts);
    ck_assert_int_eq(counts[0], PICKS / 2);
    ck_assert_int_eq(counts[3], PICKS / 2);
    lb_free(&x);
}
END_TEST

/* ---- wrr ------------------------------------------------------------------------------- */

START_TEST(test_wrr_exact_counts)
{
    motan_endpoint *eps[3] = {ep_refused("weight=30"), ep_refused("weight=20"),
                              ep_refused("weight=10")};
    lbx x = lb_new("wrr");
    lb_update(&x, eps, 3);
    int counts[3] = {0};
    count_picks(&x, NULL, eps, 3, NULL, 0, PICKS, counts); /* 5000 periods of 6 */
    ck_assert_int_eq(counts[0], PICKS / 2);
    ck_assert_int_eq(counts[1], PICKS / 3);
    ck_assert_int_eq(counts[2], PICKS / 6);

    /* The middle one excluded: its turns are skipped, 3:1 stays exact. */
    motan_endpoint *ex[1] = {eps[1]};
    memset(counts, 0, sizeof(counts));
    count_picks(&x, NULL, eps, 3, ex, 1, 40000, counts);
    ck_assert_int_eq(counts[0], 30000);
    ck_assert_int_eq(counts[2], 10000);

    /* Unavailable works the same way. */
    make_unavailable(eps[0]);
    memset(counts, 0, sizeof(counts));
    count_picks(&x, NULL, eps, 3, NULL, 0, 30000, counts);
    ck_assert_int_eq(counts[0], 0);
    ck_assert_int_eq(counts[1], 20000);
    ck_assert_int_eq(counts[2], 10000);
    lb_free(&x);
}
END_TEST

START_TEST(test_wrr_weights_parsed)
{
    /* "abc" -> 10, 0 -> 1 (clamped), 9999 -> 500 (clamped), Go's META_WEIGHT -> 20,
     * no weight -> 10: a period of 10+1+500+20+10 = 541. */
    motan_endpoint *eps[5] = {ep_refused("weight=abc"), ep_refused("weight=0"),
                              ep_refused("weight=9999"), ep_refused("META_WEIGHT=20"),
                              ep_refused(NULL)};
    lbx x = lb_new("configurableWeight");
    lb_update(&x, eps, 5);
    int counts[5] = {0};
    count_picks(&x, NULL, eps, 5, NULL, 0, 541 * 60, counts);
    ck_assert_int_eq(counts[0], 600);
    ck_assert_int_eq(counts[1], 60);
    ck_assert_int_eq(counts[2], 30000);
    ck_assert_int_eq(counts[3], 1200);
    ck_assert_int_eq(counts[4], 600);
    lb_free(&x);
}
END_TEST

START_TEST(test_wrr_smooth)
{
    motan_endpoint *eq[3] = {ep_refused(NULL), ep_refused(NULL), ep_refused(NULL)};
    lbx x = lb_new("wrr");
    lb_update(&x, eq, 3);
    int prev = -1;
    for (int k = 0; k < PICKS; k++) {
        int i = index_of(lb_pick(&x, NULL, eq, 3, NULL, 0), eq, 3);
        ck_assert_int_ge(i, 0);
        ck_assert_int_ne(i, prev); /* 1:1:1 never repeats */
        prev = i;
    }

    /* nginx's sequence for 5:1:1: a a b a c a a, period after period. */
    motan_endpoint *abc[3] = {ep_refused("weight=5"), ep_refused("weight=1"),
                              ep_refused("weight=1")};
    lb_update(&x, abc, 3);
    static const char want[] = "aabacaa";
    for (int k = 0; k < 7 * 5000; k++) {
        int i = index_of(lb_pick(&x, NULL, abc, 3, NULL, 0), abc, 3);
        ck_assert_msg(i == want[k % 7] - 'a', "pick %d: %c, want %c", k, 'a' + i, want[k % 7]);
    }
    lb_free(&x);
}
END_TEST

/* ---- activeWeight -------------------------------------------------------------------- */

START_TEST(test_active_least_loaded)
{
    motan_endpoint *eps[4];
    for (int i = 0; i < 3; i++)
        eps[i] = ep_at("127.0.0.1", local_port(1), NULL);
    eps[3] = ep_refused(NULL);
    make_unavailable(eps[3]); /* idle, but out */
    add_load(eps[0], 3);
    add_load(eps[1], 1);

    lbx x = lb_new("activeWeight");
    lb_update(&x, eps, 4);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, NULL, 0), eps[2]);
    motan_endpoint *ex[1] = {eps[2]};
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, ex, 1), eps[1]);

    /* A tie (1, 1) is broken evenly. */
    add_load(eps[2], 1);
    int counts[4] = {0};
    count_picks(&x, NULL, eps, 4, NULL, 0, PICKS, counts);
    ck_assert_int_eq(counts[0] + counts[3], 0);
    assert_share(counts[1], PICKS, 0.5, 0.03, "activeWeight tie");
    assert_share(counts[2], PICKS, 0.5, 0.03, "activeWeight tie");
    lb_free(&x);
}
END_TEST

/* ---- consistent ---------------------------------------------------------------------- */

#define NKEYS 30000

static motan_request *keyreq;

static motan_endpoint *pick_key(lbx *x, int key, motan_endpoint **eps, size_t n,
                                motan_endpoint **ex, size_t nex)
{
    char k[32];
    int len = snprintf(k, sizeof(k), "key-%d", key);
    ck_assert_int_eq(motan_request_set_hash_key(keyreq, k, (size_t)len), MOTAN_OK);
    return lb_pick(x, keyreq, eps, n, ex, nex);
}

static motan_endpoint *map_before[NKEYS];

START_TEST(test_consistent_mapping)
{
    motan_endpoint *eps[5];
    for (int i = 0; i < 5; i++)
        eps[i] = ep_refused(NULL);
    keyreq = new_req("x");
    lbx x = lb_new("consistentHashKey");
    lb_update(&x, eps, 5);
    int counts[5] = {0};
    for (int k = 0; k < NKEYS; k++) {
        map_before[k] = pick_key(&x, k, eps, 5, NULL, 0);
        counts[index_of(map_before[k], eps, 5)]++;
    }
    /* Roughly even: with 160 virtual nodes an endpoint's arc of the ring varies by ~8 %
     * (relative, 1 sigma) with the addresses, whose ports are random here; 20 % +- 10 %
     * is > 6 sigma. */
    for (int i = 0; i < 5; i++)
        assert_share(counts[i], NKEYS, 0.2, 0.1, "consistent spread");

    /* Same key, same endpoint: again, and in another state given the list in another order. */
    lbx y = lb_new("consistent");
    motan_endpoint *shuffled[5] = {eps[3], eps[0], eps[4], eps[2], eps[1]};
    lb_update(&y, shuffled, 5);
    for (int k = 0; k < NKEYS; k++) {
        ck_assert_ptr_eq(pick_key(&x, k, eps, 5, NULL, 0), map_before[k]);
        ck_assert_ptr_eq(pick_key(&y, k, shuffled, 5, NULL, 0), map_before[k]);
    }

    /* Removing eps[2] remaps exactly the keys that were on it. */
    motan_endpoint *four[4] = {eps[0], eps[1], eps[3], eps[4]};
    lb_update(&y, four, 4);
    int moved = 0;
    for (int k = 0; k < NKEYS; k++) {
        motan_endpoint *e = pick_key(&y, k, four, 4, NULL, 0);
        if (map_before[k] == eps[2]) {
            ck_assert_ptr_ne(e, eps[2]);
            moved++;
        } else {
            ck_assert_ptr_eq(e, map_before[k]);
        }
    }
    ck_assert_int_eq(moved, counts[2]);

    /* Excluding or fusing eps[2] instead moves its keys to the same place as removing it. */
    motan_endpoint *ex[1] = {eps[2]};
    for (int k = 0; k < NKEYS; k += 7)
        ck_assert_ptr_eq(pick_key(&x, k, eps, 5, ex, 1), pick_key(&y, k, four, 4, NULL, 0));
    make_unavailable(eps[2]);
    for (int k = 0; k < NKEYS; k += 7)
        ck_assert_ptr_eq(pick_key(&x, k, eps, 5, NULL, 0), pick_key(&y, k, four, 4, NULL, 0));
    lb_free(&y);

    /* Without a hash key: random points, spread over all qualifying endpoints. */
    memset(counts, 0, sizeof(counts));
    count_picks(&x, new_req(NULL), eps, 5, NULL, 0, PICKS, counts);
    ck_assert_int_eq(counts[2], 0);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            assert_share(counts[i], PICKS, 0.25, 0.125, "consistent without key");
    lb_free(&x);
}
END_TEST

/* ---- localFirst ------------------------------------------------------------------------ */

/* A non-loopback IPv4 address of this machine, or "" when it has none. */
static void interface_ipv4(char *out, size_t len)
{
    out[0] = '\0';
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        if ((ntohl(sa->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &sa->sin_addr, out, (socklen_t)len);
        break;
    }
    freeifaddrs(list);
}

START_TEST(test_local_first)
{
    /* TEST-NET-2 and -3 addresses stand for remote hosts (this sandbox uses TEST-NET-1). */
    motan_endpoint *eps[4] = {ep_at("198.51.100.7", 9, NULL),
                              ep_at("127.0.0.1", local_port(1), NULL),
                              ep_at("203.0.113.7", 9, NULL),
                              ep_at("localhost", local_port(0), NULL)};
    lbx x = lb_new("LocalFirst");
    lb_update(&x, eps, 4);
    int counts[4] = {0};
    count_picks(&x, NULL, eps, 4, NULL, 0, PICKS, counts);
    ck_assert_int_eq(counts[0] + counts[2], 0);
    assert_share(counts[1], PICKS, 0.5, 0.03, "local tie");
    assert_share(counts[3], PICKS, 0.5, 0.03, "local tie");

    /* Among the local ones, the least loaded; a loaded local one still beats idle remotes. */
    add_load(eps[1], 2);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, NULL, 0), eps[3]);
    motan_endpoint *ex[2] = {eps[3], eps[1]};
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, ex, 1), eps[1]);
    /* No local one qualifies: activeWeight among all. */
    memset(counts, 0, sizeof(counts));
    count_picks(&x, NULL, eps, 4, ex, 2, PICKS, counts);
    assert_share(counts[0], PICKS, 0.5, 0.03, "remote tie");
    assert_share(counts[2], PICKS, 0.5, 0.03, "remote tie");
    make_unavailable(eps[3]);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, NULL, 0), eps[1]);

    /* Unix sockets, ::1 and this machine's interface addresses are local too. */
    motan_endpoint *more[4] = {eps[0], ep_url("[unix:/nonexistent/motan-lb.sock]", NULL),
                               ep_url("[::1]:9", NULL), NULL};
    size_t n = 3;
    char ip[64];
    interface_ipv4(ip, sizeof(ip));
    if (ip[0])
        more[n++] = ep_at(ip, 9, NULL);
    lb_update(&x, more, n);
    for (size_t skip = 1; skip < n; skip++) {
        /* Excluding all local ones but `skip` leaves only it. */
        motan_endpoint *others[3];
        size_t no = 0;
        for (size_t j = 1; j < n; j++)
            if (j != skip)
                others[no++] = more[j];
        for (int k = 0; k < 200; k++)
            ck_assert_msg(lb_pick(&x, NULL, more, n, others, no) == more[skip],
                          "%s not taken as local", motan_endpoint_get_address(more[skip]));
    }
    lb_free(&x);
}
END_TEST

static Suite *lb_suite(void)
{
    Suite *s = suite_create("lb");
    TCase *reg = tcase_create("registry");
    tcase_add_checked_fixture(reg, setup, teardown);
    tcase_add_test(reg, test_find_builtins);
    tcase_add_test(reg, test_register_custom);
    suite_add_tcase(s, reg);

    TCase *all = tcase_create("all");
    tcase_add_checked_fixture(all, setup, teardown);
    tcase_set_timeout(all, 60);
    tcase_add_loop_test(all, test_skip_and_null, 0, (int)(sizeof(builtins) / sizeof(builtins[0])));
    suite_add_tcase(s, all);

    TCase *each = tcase_create("each");
    tcase_add_checked_fixture(each, setup, teardown);
    tcase_set_timeout(each, 60);
    tcase_add_test(each, test_random_uniform);
    tcase_add_test(each, test_roundrobin_exact);
    tcase_add_test(each, test_wrr_exact_counts);
    tcase_add_test(each, test_wrr_weights_parsed);
    tcase_add_test(each, test_wrr_smooth);
    tcase_add_test(each, test_active_least_loaded);
    tcase_add_test(each, test_consistent_mapping);
    tcase_add_test(each, test_local_first);
    suite_add_tcase(s, each);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lb_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
