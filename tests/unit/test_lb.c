/*
 * Load balancers (lib/cluster/lb*.c): the registry (names, aliases, custom LBs, duplicates),
 * then every built-in on real endpoints of a caller-owned loop: skipping unavailable and
 * excluded endpoints, NULL when nothing qualifies, and each LB's own distribution.
 *
 * Endpoints (tu_eps.h) point at 127.0.0.1 sockets of this process: "refused" ones are bound but not
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

#include "cluster/lb_int.h" /* the clock and seed seams, for p2c */
#include "testutil.h"
#include "tu_eps.h"
#include "tu_loop.h"

#define SERVICE "com.example.EchoService"
#define PICKS 30000

/* ---- harness -------------------------------------------------------------------------- */

static motan_url *service;

static void setup(void)
{
    tu_eps_setup();
    service = tu_url("motan2://127.0.0.1:1/" SERVICE "?group=g");
}

static void teardown(void)
{
    motan_url_free(service);
    tu_eps_teardown();
    motan__cluster_clock = NULL;
    motan__lb_test_seed = 0;
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

static const char *const builtins[] = {"random",     "roundrobin", "wrr", "activeWeight",
                                       "consistent", "localFirst", "p2c"};

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
    {sizeof(motan_lb_ops), name, custom_create, custom_destroy, custom_update, pick, NULL}
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
    motan_endpoint *eps[2] = {tu_eps_refused(NULL), tu_eps_refused(NULL)};
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
        eps[i] = tu_eps_refused(i == 1 ? "weight=50" : NULL);
    tu_eps_fuse(eps[0]);
    motan_request *keyless = tu_eps_req(NULL);
    motan_request *keyed[8];
    for (int i = 0; i < 8; i++) {
        char key[32];
        snprintf(key, sizeof(key), "user-%d", i);
        keyed[i] = tu_eps_req(key);
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
        eps[i] = tu_eps_refused(NULL);
    lbx x = lb_new("random");
    lb_update(&x, eps, 4);
    int counts[5] = {0};
    count_picks(&x, NULL, eps, 4, NULL, 0, 40000, counts);
    for (int i = 0; i < 4; i++)
        assert_share(counts[i], 40000, 0.25, 0.03, "random 4");

    /* An unavailable endpoint's share is spread evenly, not given to its neighbour. */
    tu_eps_fuse(eps[0]);
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
        eps[i] = tu_eps_refused(NULL);
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
    tu_eps_fuse(eps[1]);
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
    motan_endpoint *eps[3] = {tu_eps_refused("weight=30"), tu_eps_refused("weight=20"),
                              tu_eps_refused("weight=10")};
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
    tu_eps_fuse(eps[0]);
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
    motan_endpoint *eps[5] = {tu_eps_refused("weight=abc"), tu_eps_refused("weight=0"),
                              tu_eps_refused("weight=9999"), tu_eps_refused("META_WEIGHT=20"),
                              tu_eps_refused(NULL)};
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
    motan_endpoint *eq[3] = {tu_eps_refused(NULL), tu_eps_refused(NULL), tu_eps_refused(NULL)};
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
    motan_endpoint *abc[3] = {tu_eps_refused("weight=5"), tu_eps_refused("weight=1"),
                              tu_eps_refused("weight=1")};
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
        eps[i] = tu_eps_at("127.0.0.1", tu_eps_port(1), NULL);
    eps[3] = tu_eps_refused(NULL);
    tu_eps_fuse(eps[3]); /* idle, but out */
    tu_eps_load(eps[0], 3);
    tu_eps_load(eps[1], 1);

    lbx x = lb_new("activeWeight");
    lb_update(&x, eps, 4);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, NULL, 0), eps[2]);
    motan_endpoint *ex[1] = {eps[2]};
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, ex, 1), eps[1]);

    /* A tie (1, 1) is broken evenly. */
    tu_eps_load(eps[2], 1);
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
        eps[i] = tu_eps_refused(NULL);
    keyreq = tu_eps_req("x");
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
    tu_eps_fuse(eps[2]);
    for (int k = 0; k < NKEYS; k += 7)
        ck_assert_ptr_eq(pick_key(&x, k, eps, 5, NULL, 0), pick_key(&y, k, four, 4, NULL, 0));
    lb_free(&y);

    /* Without a hash key: random points, spread over all qualifying endpoints. */
    memset(counts, 0, sizeof(counts));
    count_picks(&x, tu_eps_req(NULL), eps, 5, NULL, 0, PICKS, counts);
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
    motan_endpoint *eps[4] = {tu_eps_at("198.51.100.7", 9, NULL),
                              tu_eps_at("127.0.0.1", tu_eps_port(1), NULL),
                              tu_eps_at("203.0.113.7", 9, NULL),
                              tu_eps_at("localhost", tu_eps_port(0), NULL)};
    lbx x = lb_new("LocalFirst");
    lb_update(&x, eps, 4);
    int counts[4] = {0};
    count_picks(&x, NULL, eps, 4, NULL, 0, PICKS, counts);
    ck_assert_int_eq(counts[0] + counts[2], 0);
    assert_share(counts[1], PICKS, 0.5, 0.03, "local tie");
    assert_share(counts[3], PICKS, 0.5, 0.03, "local tie");

    /* Among the local ones, the least loaded; a loaded local one still beats idle remotes. */
    tu_eps_load(eps[1], 2);
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
    tu_eps_fuse(eps[3]);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 4, NULL, 0), eps[1]);

    /* Unix sockets, ::1 and this machine's interface addresses are local too. */
    motan_endpoint *more[4] = {eps[0], tu_eps_url("[unix:/nonexistent/motan-lb.sock]", NULL),
                               tu_eps_url("[::1]:9", NULL), NULL};
    size_t n = 3;
    char ip[64];
    interface_ipv4(ip, sizeof(ip));
    if (ip[0])
        more[n++] = tu_eps_at(ip, 9, NULL);
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

/* ---- p2c ----------------------------------------------------------------------------- */

/* A fake clock (microseconds) and a fixed seed: p2c's runs repeat exactly. */
static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static lbx p2c_new(const char *params)
{
    motan__cluster_clock = fake_clock;
    motan__lb_test_seed = 42;
    fake_now = 1000000000u; /* 1000 s */
    if (!params)
        return lb_new("p2c");
    char text[256];
    snprintf(text, sizeof(text), "motan2://127.0.0.1:1/" SERVICE "?%s", params);
    motan_url *u = tu_url(text);
    lbx x = {motan_lb_find("p2c"), NULL};
    x.st = x.ops->create(u);
    ck_assert_ptr_nonnull(x.st);
    motan_url_free(u);
    return x;
}

static void observe(lbx *x, motan_endpoint *ep, motan_lb_outcome o, uint64_t us)
{
    ck_assert(x->ops->observe != NULL);
    x->ops->observe(x->st, ep, o, us);
}

START_TEST(test_p2c_prefers_fast)
{
    motan_endpoint *eps[3] = {tu_eps_refused(NULL), tu_eps_refused(NULL), tu_eps_refused(NULL)};
    lbx x = p2c_new(NULL);
    lb_update(&x, eps, 3);
    observe(&x, eps[0], MOTAN_LB_ANSWERED, 1000);
    observe(&x, eps[1], MOTAN_LB_ANSWERED, 1000);
    observe(&x, eps[2], MOTAN_LB_ANSWERED, 100000); /* the stalled one */
    int counts[3] = {0};
    count_picks(&x, NULL, eps, 3, NULL, 0, PICKS, counts);
    /* Two distinct candidates: the slow one loses every pair it is in. */
    ck_assert_int_eq(counts[2], 0);
    assert_share(counts[0], PICKS, 0.5, 0.03, "p2c tie");
    assert_share(counts[1], PICKS, 0.5, 0.03, "p2c tie");
    /* Excluded or unavailable, the fast ones leave the slow one as the only choice. */
    motan_endpoint *ex[2] = {eps[0], eps[1]};
    for (int k = 0; k < 100; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 3, ex, 2), eps[2]);
    lb_free(&x);
}
END_TEST

START_TEST(test_p2c_inflight_times_cost)
{
    /* Black holes: calls stay in flight, so the load is cost x (in flight + 1). */
    motan_endpoint *eps[2] = {tu_eps_at("127.0.0.1", tu_eps_port(1), NULL),
                              tu_eps_at("127.0.0.1", tu_eps_port(1), NULL)};
    lbx x = p2c_new(NULL);
    lb_update(&x, eps, 2);
    observe(&x, eps[0], MOTAN_LB_ANSWERED, 1000);
    observe(&x, eps[1], MOTAN_LB_ANSWERED, 3000);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 2, NULL, 0), eps[0]);
    tu_eps_load(eps[0], 3); /* 1 ms x 4 > 3 ms x 1 */
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 2, NULL, 0), eps[1]);
    tu_eps_load(eps[1], 1); /* 3 ms x 2 > 1 ms x 4 */
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 2, NULL, 0), eps[0]);
    lb_free(&x);
}
END_TEST

/* The first second (after t0) at which the stalled endpoint is picked again while the other
 * keeps answering in 1 ms: its 100 ms estimate decays as e^(-t/tau). */
static int seconds_until_retried(lbx *x, motan_endpoint **eps)
{
    lb_update(x, eps, 2);
    observe(x, eps[0], MOTAN_LB_ANSWERED, 1000);
    observe(x, eps[1], MOTAN_LB_ANSWERED, 100000);
    for (int t = 1; t <= 600; t++) {
        fake_now += 1000000u;
        observe(x, eps[0], MOTAN_LB_ANSWERED, 1000);
        if (lb_pick(x, NULL, eps, 2, NULL, 0) == eps[1])
            return t;
    }
    return -1;
}

START_TEST(test_p2c_decay)
{
    motan_endpoint *eps[2] = {tu_eps_refused(NULL), tu_eps_refused(NULL)};
    /* tau = 10 s: 100000 e^(-t/10) < 1000 first at t = 47 (46.05 s). */
    lbx x = p2c_new(NULL);
    ck_assert_int_eq(seconds_until_retried(&x, eps), 47);
    /* Its next answer is fast: the estimate drops with it, it is back in the rotation. */
    observe(&x, eps[1], MOTAN_LB_ANSWERED, 1000);
    int counts[2] = {0};
    count_picks(&x, NULL, eps, 2, NULL, 0, 2000, counts);
    ck_assert_int_gt(counts[1], 0);
    lb_free(&x);
    /* ewmaDecay=5000: tau = 5 s, crossover at 23.03 s. */
    lbx y = p2c_new("ewmaDecay=5000");
    motan_endpoint *other[2] = {tu_eps_refused(NULL), tu_eps_refused(NULL)};
    ck_assert_int_eq(seconds_until_retried(&y, other), 24);
    lb_free(&y);
}
END_TEST

START_TEST(test_p2c_new_endpoint_neutral)
{
    motan_endpoint *eps[3] = {tu_eps_refused(NULL), tu_eps_refused(NULL), tu_eps_refused(NULL)};
    lbx x = p2c_new(NULL);
    lb_update(&x, eps, 2);
    /* The group's typical latency settles near 2 ms (answers of 1 and 3 ms alternate). */
    for (int k = 0; k < 500; k++) {
        observe(&x, eps[0], MOTAN_LB_ANSWERED, 1000);
        observe(&x, eps[1], MOTAN_LB_ANSWERED, 3000);
    }
    /* A newcomer costs the typical latency: it beats the 3 ms one, loses to the 1 ms one;
     * the kept ones keep their estimates. */
    lb_update(&x, eps, 3);
    int counts[3] = {0};
    count_picks(&x, NULL, eps, 3, NULL, 0, PICKS, counts);
    ck_assert_int_eq(counts[1], 0);
    assert_share(counts[0], PICKS, 2.0 / 3, 0.03, "p2c fastest");
    assert_share(counts[2], PICKS, 1.0 / 3, 0.03, "p2c newcomer");
    /* Before any answer at all, every endpoint is neutral: spread evenly. */
    lbx y = p2c_new(NULL);
    lb_update(&y, eps, 3);
    memset(counts, 0, sizeof(counts));
    count_picks(&y, NULL, eps, 3, NULL, 0, PICKS, counts);
    for (int i = 0; i < 3; i++)
        assert_share(counts[i], PICKS, 1.0 / 3, 0.03, "p2c cold");
    lb_free(&y);
    lb_free(&x);
}
END_TEST

START_TEST(test_p2c_failures_and_abandoned)
{
    motan_endpoint *eps[3] = {tu_eps_refused(NULL), tu_eps_refused(NULL), tu_eps_refused(NULL)};
    lbx x = p2c_new(NULL);
    lb_update(&x, eps, 2);
    observe(&x, eps[0], MOTAN_LB_ANSWERED, 2000);
    observe(&x, eps[1], MOTAN_LB_ANSWERED, 1000);
    /* A fast failure costs at least 10 typical latencies: it must not attract traffic. */
    observe(&x, eps[1], MOTAN_LB_FAILED, 50);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps, 2, NULL, 0), eps[0]);
    /* An abandoned attempt raises the estimate to its latency (a lower bound)... */
    lb_update(&x, eps + 1, 2); /* eps[1], eps[2]: eps[1] keeps its failure cost */
    observe(&x, eps[2], MOTAN_LB_ANSWERED, 1000);
    observe(&x, eps[2], MOTAN_LB_ABANDONED, 50000);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps + 1, 2, NULL, 0), eps[1]);
    /* ...and never lowers it. */
    observe(&x, eps[2], MOTAN_LB_ABANDONED, 10);
    for (int k = 0; k < 1000; k++)
        ck_assert_ptr_eq(lb_pick(&x, NULL, eps + 1, 2, NULL, 0), eps[1]);
    /* An endpoint not in the list is ignored. */
    observe(&x, eps[0], MOTAN_LB_ANSWERED, 1);
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

    TCase *p2c = tcase_create("p2c");
    tcase_add_checked_fixture(p2c, setup, teardown);
    tcase_set_timeout(p2c, 60);
    tcase_add_test(p2c, test_p2c_prefers_fast);
    tcase_add_test(p2c, test_p2c_inflight_times_cost);
    tcase_add_test(p2c, test_p2c_decay);
    tcase_add_test(p2c, test_p2c_new_endpoint_neutral);
    tcase_add_test(p2c, test_p2c_failures_and_abandoned);
    suite_add_tcase(s, p2c);
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
