/*
 * make bench-stalled: tail latency with one stalled replica (Linkerd's experiment). Eleven
 * motan-test-servers on loopback, the last one started with --fault delay:100 (every answer
 * 100 ms late); the same closed loop of echo calls (64 in flight) runs once per strategy on a
 * fresh cluster: the load balancers random, roundrobin, activeWeight and p2c, each alone
 * (haStrategy=failover, retries=0) and with haStrategy=backupRequest under the retry budget
 * (the defaults: backup after the 90th percentile, backupRequestMaxRetryRatio=15,
 * retryBudgetRatio=0.2). Outlier ejection is off (maxEjectionPercent=0) so that the lines
 * compare the strategies themselves; STALLED_EJECT=1 adds lines "<lb>+eject" with it on
 * (maxEjectionPercent=10: one of the eleven). One line per strategy on stdout:
 *   stalled lb=<name> calls=<n> ok=<n> p50_us=<n> p99_us=<n> p999_us=<n>
 *   stalled lb=<name>+backup calls=<n> ...
 * and on stderr what each cost: attempts per call, backups, the stalled server's share.
 * STALLED_CALLS (default 100000, at least 1000) sets the calls per strategy, after a warm-up
 * of 2000 calls that are not counted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <motan/cluster.h>

#include "server_proc.h"
#include "tu_loop.h"

#define SERVERS 11
#define INFLIGHT 64
#define WARMUP 2000

static const char *const lbs[] = {"random", "roundrobin", "activeWeight", "p2c"};

typedef struct run {
    motan_cluster *c;
    struct event_base *base;
    int to_send, active, counting;
    uint32_t *lat; /* us of each counted call */
    size_t nlat;
    uint64_t ok;
} run;

typedef struct slot {
    run *r;
    motan_request *req;
    uint64_t sent;
} slot;

static void send_one(slot *s);

static void on_resp(motan_response *resp, void *ud)
{
    slot *s = ud;
    run *r = s->r;
    uint64_t us = motan_now_us() - s->sent;
    if (r->counting) {
        r->lat[r->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        r->ok += resp && motan_response_get_code(resp) == MOTAN_OK;
    }
    motan_response_free(resp);
    if (r->to_send > 0)
        send_one(s);
    else if (--r->active == 0)
        event_base_loopbreak(r->base);
}

static void send_one(slot *s)
{
    s->r->to_send--;
    s->sent = motan_now_us();
    if (motan_cluster_call(s->r->c, s->req, on_resp, s) != MOTAN_OK) {
        fprintf(stderr, "stalled: a call was refused\n");
        exit(1);
    }
}

/* n calls through r->c, INFLIGHT at a time. */
static void closed_loop(run *r, slot *slots, int n)
{
    r->to_send = n;
    r->active = INFLIGHT;
    for (int i = 0; i < INFLIGHT; i++)
        send_one(&slots[i]);
    event_base_dispatch(r->base);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void bench(struct event_base *base, motan_loop *loop, const tu_server *srv, const char *lb,
                  const char *variant, int calls)
{
    const char *extra = !strcmp(variant, "backup")  ? "haStrategy=backupRequest&maxEjectionPercent=0"
                        : !strcmp(variant, "eject") ? "haStrategy=failover&maxEjectionPercent=10"
                                                    : "haStrategy=failover&maxEjectionPercent=0";
    char text[512], err[256];
    snprintf(text, sizeof(text),
             "motan2:///com.example.EchoService?loadbalance=%s&%s&requestTimeout=5000&"
             "connections=1",
             lb, extra);
    motan_url *su = tu_url(text);
    run r = {.base = base};
    if (motan_cluster_new(loop, su, &r.c, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "stalled: %s\n", err);
        exit(1);
    }
    motan_url_free(su);
    motan_url *nodes[SERVERS];
    for (int i = 0; i < SERVERS; i++) {
        snprintf(text, sizeof(text), "motan2://127.0.0.1:%d/com.example.EchoService", srv[i].port);
        nodes[i] = tu_url(text);
    }
    motan_cluster_update(r.c, (const motan_url *const *)nodes, SERVERS);
    for (int i = 0; i < SERVERS; i++)
        motan_url_free(nodes[i]);
    slot slots[INFLIGHT];
    for (int i = 0; i < INFLIGHT; i++) {
        slots[i].r = &r;
        slots[i].req = motan_request_new("echo");
        motan_request_add_arg(slots[i].req, motan_value_new_string(
                                                motan_request_arena(slots[i].req), "0123456789abcdef", 16));
    }
    closed_loop(&r, slots, WARMUP);
    r.lat = malloc((size_t)calls * sizeof(*r.lat));
    r.counting = 1;
    motan_endpoint *stalled = NULL;
    for (size_t i = 0; i < motan_cluster_endpoint_count(r.c); i++) {
        motan_endpoint *ep = motan_cluster_endpoint_at(r.c, i);
        snprintf(text, sizeof(text), "127.0.0.1:%d", srv[SERVERS - 1].port);
        if (!strcmp(motan_endpoint_get_address(ep), text))
            stalled = ep;
    }
    uint64_t att0 = 0, st0 = stalled ? motan_endpoint_stat(stalled, "calls") : 0;
    for (size_t i = 0; i < motan_cluster_endpoint_count(r.c); i++)
        att0 += motan_endpoint_stat(motan_cluster_endpoint_at(r.c, i), "calls");
    uint64_t bk0 = motan_cluster_stat(r.c, "backups"), t0 = motan_now_us();
    closed_loop(&r, slots, calls);
    double secs = (double)(motan_now_us() - t0) / 1e6;
    uint64_t att = 0;
    for (size_t i = 0; i < motan_cluster_endpoint_count(r.c); i++)
        att += motan_endpoint_stat(motan_cluster_endpoint_at(r.c, i), "calls");
    att -= att0;
    qsort(r.lat, r.nlat, sizeof(*r.lat), cmp_u32);
    char name[64];
    snprintf(name, sizeof(name), "%s%s%s", lb, *variant ? "+" : "", variant);
    printf("stalled lb=%s calls=%zu ok=%llu p50_us=%u p99_us=%u p999_us=%u\n", name, r.nlat,
           (unsigned long long)r.ok, r.lat[r.nlat / 2], r.lat[(r.nlat * 99) / 100],
           r.lat[(r.nlat * 999) / 1000]);
    fflush(stdout);
    uint64_t st = stalled ? motan_endpoint_stat(stalled, "calls") - st0 : 0;
    fprintf(stderr,
            "stalled lb=%s: %.1f s, %.0f calls/s, attempts/call %.3f, backups %llu, "
            "ejections %llu, stalled server %.2f %% of attempts\n",
            name, secs, (double)r.nlat / secs, (double)att / (double)r.nlat,
            (unsigned long long)(motan_cluster_stat(r.c, "backups") - bk0),
            (unsigned long long)motan_cluster_stat(r.c, "ejections"),
            att ? 100.0 * (double)st / (double)att : 0.0);
    for (int i = 0; i < INFLIGHT; i++)
        motan_request_free(slots[i].req);
    free(r.lat);
    motan_cluster_free(r.c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *env = getenv("STALLED_CALLS");
    int calls = env ? atoi(env) : 100000;
    if (calls < 1000)
        calls = 1000;
    tu_server srv[SERVERS];
    for (int i = 0; i < SERVERS; i++) {
        const char *normal[] = {"--quiet", NULL};
        const char *slow[] = {"--quiet", "--fault", "delay:100", NULL};
        if (tu_server_start(&srv[i], i == SERVERS - 1 ? slow : normal) != 0)
            return 1;
    }
    struct event_base *base = event_base_new();
    motan_loop *loop;
    char err[256];
    if (!base || motan_loop_new_with_base(base, &loop, err, sizeof(err)) != MOTAN_OK)
        return 1;
    const char *variants[] = {"", "backup", "eject"};
    int nvariants = getenv("STALLED_EJECT") && atoi(getenv("STALLED_EJECT")) ? 3 : 2;
    for (int v = 0; v < nvariants; v++)
        for (size_t i = 0; i < sizeof(lbs) / sizeof(lbs[0]); i++)
            bench(base, loop, srv, lbs[i], variants[v], calls);
    motan_loop_free(loop);
    event_base_free(base);
    for (int i = 0; i < SERVERS; i++)
        tu_server_stop(&srv[i]);
    return 0;
}
