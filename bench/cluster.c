/*
 * make bench-cluster. One line per figure:
 *   cluster.<lb>.<n> <ns> ns      pick + HA bookkeeping per call, n = 3 and 100 endpoints
 *   cluster.e2e.3 <rps> rps <p50_us> p50 <p99_us> p99 <cpu_us> cpu_us_per_call
 *
 * The first figures run whole cluster calls (motan_cluster_call: call context, group choice,
 * the failover strategy's start, the LB pick, the attempt bookkeeping, completion and
 * delivery) with the attempt answered at once by a stand-in endpoint layer: an HA strategy
 * registered for the benchmark does exactly what failover does but completes the attempt
 * locally instead of sending it, so only cluster code is timed (CPU time of this thread).
 * The e2e figure runs failover + roundrobin over 3 test servers at 64 in flight, alternating
 * (BENCH_ROUNDS slices each, default 3) with the floor client (tu_bench.h: blocking
 * write/read, pre-encoded requests) keeping as many in flight over one connection to each of
 * the same servers:
 *   cluster.e2e.floor.3 <rps> rps ...
 *   cluster.e2e.ratio.3 <libmotan rps / floor rps> x_floor
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <motan/cluster.h>

#include "server_proc.h"
#include "tu_bench.h"
#include "tu_loop.h"

#define BATCH 256

static const char *const lbs[] = {"random",     "roundrobin", "wrr", "activeWeight",
                                  "consistent", "localFirst", "p2c"};

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* failover's bookkeeping with the attempt answered in place. */
static motan_response *g_resp;

static void *bh_create(const motan_url *u)
{
    (void)u;
    static int token;
    return &token;
}
static void bh_destroy(void *s) { (void)s; }
static void bh_start(void *s, motan_ha_call *call)
{
    (void)s;
    int *retries = motan_ha_call_scratch(call);
    *retries = (int)motan_ha_call_param_int(call, "retries", 0);
    motan_endpoint *ep = motan_ha_call_pick(call);
    if (!ep) {
        motan_ha_call_fail(call, MOTAN_ENOENDPOINT, "no endpoint");
        return;
    }
    motan_ha_call_complete(call, g_resp);
}
static void bh_on_attempt(void *s, motan_ha_call *call, int a, motan_response *r)
{
    (void)s;
    (void)a;
    motan_ha_call_complete(call, r);
}
static const motan_ha_ops bench_ha = {sizeof(motan_ha_ops), "benchFailover", bh_create, bh_destroy,
                                      bh_start, bh_on_attempt, NULL};

static int g_done;
static void done_cb(motan_response *r, void *ud)
{
    (void)r; /* g_resp is shared and never freed by the callback */
    (void)ud;
    g_done++;
}

static void bench_pick(struct event_base *base, motan_loop *loop, const char *lb, int n)
{
    char text[256], err[256];
    snprintf(text, sizeof(text),
             "motan2:///com.example.EchoService?loadbalance=%s&haStrategy=benchFailover&connections=1",
             lb);
    motan_url *su = tu_url(text);
    motan_cluster *c;
    if (motan_cluster_new(loop, su, &c, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    motan_url_free(su);
    motan_url **nodes = calloc((size_t)n, sizeof(*nodes));
    for (int i = 0; i < n; i++) {
        /* Addresses nobody listens on: endpoints stay available as long as no call fails. */
        snprintf(text, sizeof(text), "motan2://127.0.0.%d:%d/com.example.EchoService?weight=%d",
                 1 + i / 200, 20000 + i, 1 + i % 7);
        nodes[i] = tu_url(text);
    }
    motan_cluster_update(c, (const motan_url *const *)nodes, (size_t)n);
    motan_request *reqs[64];
    for (int k = 0; k < 64; k++) {
        reqs[k] = motan_request_new("echo");
        char key[16];
        snprintf(key, sizeof(key), "user%d", k);
        motan_request_set_hash_key(reqs[k], key, strlen(key));
    }
    double best = 1e30;
    for (int run = -1; run < 3; run++) {
        int calls = 0;
        double t0 = cpu_ns();
        while (cpu_ns() - t0 < 1e8) {
            g_done = 0;
            for (int k = 0; k < BATCH; k++)
                motan_cluster_call(c, reqs[k & 63], done_cb, NULL);
            while (g_done < BATCH)
                event_base_loop(base, EVLOOP_NONBLOCK);
            calls += BATCH;
        }
        double ns = (cpu_ns() - t0) / calls;
        if (run >= 0 && ns < best)
            best = ns;
    }
    printf("cluster.%s.%d %.0f ns\n", lb, n, best);
    fflush(stdout);
    for (int k = 0; k < 64; k++)
        motan_request_free(reqs[k]);
    for (int i = 0; i < n; i++)
        motan_url_free(nodes[i]);
    free(nodes);
    motan_cluster_free(c);
}

/* ---- e2e over three servers ----------------------------------------------------------- */

typedef struct e2e {
    motan_cluster *c;
    struct event_base *base;
    uint64_t deadline;
    tu_lat st;
    int active, errors;
} e2e;

typedef struct slot {
    e2e *e;
    motan_request *req;
    uint64_t sent;
} slot;

static void e2e_send(slot *s);

static void e2e_cb(motan_response *r, void *ud)
{
    slot *s = ud;
    e2e *e = s->e;
    uint64_t now = motan_now_us();
    if (!r || motan_response_get_code(r) != MOTAN_OK)
        e->errors++;
    tu_lat_add(&e->st, now - s->sent);
    motan_response_free(r);
    if (now < e->deadline)
        e2e_send(s);
    else if (--e->active == 0)
        event_base_loopbreak(e->base);
}

static void e2e_send(slot *s)
{
    s->sent = motan_now_us();
    motan_cluster_call(s->e->c, s->req, e2e_cb, s);
}

static void bench_e2e(struct event_base *base, motan_loop *loop)
{
    tu_server srv[3];
    const char *args[] = {"--quiet", NULL};
    for (int i = 0; i < 3; i++)
        if (tu_server_start(&srv[i], args) != 0)
            exit(1);
    char err[256], text[256];
    motan_url *su =
        tu_url("motan2:///com.example.EchoService?loadbalance=roundrobin&haStrategy=failover&"
               "retries=1&connections=1&requestTimeout=5000");
    e2e e = {.base = base};
    if (motan_cluster_new(loop, su, &e.c, err, sizeof(err)) != MOTAN_OK)
        exit(1);
    motan_url_free(su);
    motan_url *nodes[3];
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "motan2://127.0.0.1:%d/com.example.EchoService", srv[i].port);
        nodes[i] = tu_url(text);
    }
    motan_cluster_update(e.c, (const motan_url *const *)nodes, 3);
    enum { INFLIGHT = 64 };
    slot slots[INFLIGHT];
    for (int i = 0; i < INFLIGHT; i++) {
        slots[i].e = &e;
        slots[i].req = motan_request_new("echo");
        motan_request_add_arg(slots[i].req,
                              motan_value_new_string(motan_request_arena(slots[i].req), "0123456789abcdef", 16));
    }
    motan_request *req = motan_request_new("echo");
    motan_request_add_arg(req, motan_value_new_string(motan_request_arena(req), "0123456789abcdef", 16));
    motan_buf *frame = tu_bench_frame(req);
    tu_floor *f = tu_floor_open(srv, 3, INFLIGHT, frame);
    tu_lat floor_st = {0};
    const char *secs = getenv("BENCH_SECONDS");
    double seconds = secs && atof(secs) > 0 ? atof(secs) : 2.0;
    int rounds = tu_bench_rounds();
    /* a warm-up slice, then the cluster and the floor in alternating slices */
    for (int i = 0; i <= rounds; i++) {
        if (i == 1)
            tu_lat_reset(&e.st);
        e.active = INFLIGHT;
        tu_lat_start(&e.st);
        e.deadline = e.st.t0 + (uint64_t)((i ? seconds / rounds : 0.3) * 1e6);
        for (int k = 0; k < INFLIGHT; k++)
            e2e_send(&slots[k]);
        event_base_dispatch(base);
        tu_lat_stop(&e.st);
        if (i)
            tu_floor_run(f, seconds / rounds, &floor_st);
    }
    if (e.errors)
        fprintf(stderr, "cluster.e2e: %d errors\n", e.errors);
    double rps = tu_lat_report("cluster.e2e.3", &e.st);
    double floor_rps = tu_lat_report("cluster.e2e.floor.3", &floor_st);
    tu_bench_ratio("cluster.e2e.ratio.3", rps, floor_rps);
    tu_floor_close(f);
    motan_buf_free(frame);
    motan_request_free(req);
    for (int i = 0; i < INFLIGHT; i++)
        motan_request_free(slots[i].req);
    for (int i = 0; i < 3; i++)
        motan_url_free(nodes[i]);
    tu_lat_reset(&e.st);
    motan_cluster_free(e.c);
    for (int i = 0; i < 3; i++)
        tu_server_stop(&srv[i]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    motan_loop *loop;
    char err[256];
    if (motan_loop_new_with_base(base, &loop, err, sizeof(err)) != MOTAN_OK)
        return 1;
    motan_ha_register(&bench_ha);
    g_resp = motan_response_new();
    tu_bench_machine();
    const char *only = getenv("BENCH_LB");
    for (size_t i = 0; i < sizeof(lbs) / sizeof(lbs[0]); i++) {
        if (only && strcmp(only, lbs[i]))
            continue;
        bench_pick(base, loop, lbs[i], 3);
        bench_pick(base, loop, lbs[i], 100);
    }
    motan_response_free(g_resp);
    if (!getenv("BENCH_NO_E2E"))
        bench_e2e(base, loop);
    motan_loop_free(loop);
    event_base_free(base);
    return 0;
}
