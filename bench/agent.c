/*
 * make bench-agent: what motan-agent costs (docs/agent.md).
 *
 * 1. Added latency. One motan-test-server; a motan-agent in front of it (one refer, access
 *    log to a file). A libmotan client (one connection, a closed loop of N async calls on its
 *    own event_base) calls echo("16 bytes") directly, then through the agent, for each of 1,
 *    8 and 64 calls in flight, in the same run:
 *      agent.latency.<inflight> direct_p50_us A direct_p99_us B agent_p50_us C agent_p99_us D
 *          added_p50_us C-A added_p99_us D-B agent_cpu_us_per_call E direct_rps F agent_rps G
 *    Agent CPU is the agent process's user + system time over its run (/proc/<pid>/stat).
 * 2. PHP-style calls: a new client process per call (build/bin/motan call ...), as a PHP-FPM
 *    worker does, alternating a client that reads ZooKeeper itself with one that calls the
 *    agent (whose refer follows the same ZooKeeper):
 *      agent.php.<direct|agent> <n> calls mean_ms X p50_ms Y p99_ms Z
 * BENCH_SECONDS (default 1.5) sets each latency run, BENCH_PHP_CALLS (default 1000) the calls
 * of each kind (0 skips part 2).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/motan.h>

#include "agent_proc.h"
#include "server_proc.h"
#include "testutil.h"
#include "tu_bench.h"
#include "tu_loop.h"
#include "zk_proc.h"

#define SVC "com.example.EchoService"

static double g_seconds = 1.5;
static tu_lat g_lat; /* the samples of the open run */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of l's samples (sorted here). */
static double quantile(tu_lat *l, double q)
{
    qsort(l->lat, l->n, sizeof(uint64_t), cmp_u64);
    return l->n ? (double)l->lat[(size_t)(q * (double)(l->n - 1))] : 0;
}

/* ---- the client: a closed loop of async calls, each timed --------------------------------- */

typedef struct slot {
    struct loop_state *s;
    uint64_t start;
} slot;

typedef struct loop_state {
    motan_endpoint *ep;
    motan_request *req;
    struct event_base *base;
    uint64_t deadline;
    uint64_t done;
    int active, errors, record;
    slot slots[64];
} loop_state;

static void again(slot *sl);

static void on_answer(motan_response *resp, void *ud)
{
    slot *sl = ud;
    loop_state *s = sl->s;
    uint64_t now = motan_now_us();
    if (!resp || motan_response_get_code(resp) != MOTAN_OK)
        s->errors++;
    motan_response_free(resp);
    s->done++;
    if (s->record)
        tu_lat_add(&g_lat, now - sl->start);
    if (now < s->deadline)
        again(sl);
    else if (--s->active == 0)
        event_base_loopbreak(s->base);
}

static void again(slot *sl)
{
    sl->start = motan_now_us();
    if (motan_endpoint_call(sl->s->ep, sl->s->req, 5000, on_answer, sl, NULL) != MOTAN_OK) {
        fprintf(stderr, "bench-agent: a call did not start\n");
        exit(1);
    }
}

static uint64_t run_for(loop_state *s, int inflight, double seconds, int record)
{
    s->done = 0;
    s->active = inflight;
    s->record = record;
    s->deadline = motan_now_us() + (uint64_t)(seconds * 1e6);
    for (int i = 0; i < inflight; i++) {
        s->slots[i].s = s;
        again(&s->slots[i]);
    }
    event_base_dispatch(s->base);
    return s->done;
}

typedef struct figure {
    double p50, p99, rps, cpu_per_call;
} figure;

/* One measured run against port; cpu_pid's CPU per call when > 0. */
static figure measure(int port, int inflight, pid_t cpu_pid)
{
    struct event_base *base = event_base_new();
    motan_loop *loop;
    char err[256], url[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/" SVC "?connections=1", port);
    motan_url *u = tu_url(url);
    loop_state s;
    memset(&s, 0, sizeof(s));
    s.base = base;
    if (motan_loop_new_with_base(base, &loop, err, sizeof(err)) ||
        motan_endpoint_new(loop, u, &s.ep, err, sizeof(err))) {
        fprintf(stderr, "bench-agent: %s\n", err);
        exit(1);
    }
    motan_url_free(u);
    s.req = motan_request_new("echo");
    motan_request_set_service(s.req, SVC);
    motan_request_add_arg(s.req, motan_value_new_bytes(motan_request_arena(s.req), "0123456789abcdef", 16));
    run_for(&s, inflight, 0.2, 0); /* connect, warm up */
    tu_lat_reset(&g_lat);
    double cpu0 = cpu_pid > 0 ? tu_proc_cpu_us(cpu_pid) : 0;
    uint64_t t0 = motan_now_us();
    uint64_t n = run_for(&s, inflight, g_seconds, 1);
    double secs = (double)(motan_now_us() - t0) / 1e6;
    double cpu = cpu_pid > 0 ? tu_proc_cpu_us(cpu_pid) - cpu0 : 0;
    if (s.errors)
        fprintf(stderr, "bench-agent: %d errors at %d in flight\n", s.errors, inflight);
    figure f = {quantile(&g_lat, 0.5), quantile(&g_lat, 0.99), (double)n / secs,
                n ? cpu / (double)n : 0};
    tu_lat_reset(&g_lat);
    motan_request_free(s.req);
    motan_endpoint_free(s.ep);
    motan_loop_free(loop);
    event_base_free(base);
    return f;
}

static void latency(void)
{
    tu_server srv;
    const char *args[] = {"--quiet", NULL};
    if (tu_server_start(&srv, args)) {
        fprintf(stderr, "bench-agent: cannot start motan-test-server\n");
        exit(1);
    }
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
             "motan-registry:\n  direct:\n    protocol: direct\n    address: 127.0.0.1:%d\n"
             "motan-refer:\n  echo:\n    path: " SVC "\n    registry: direct\n"
             "    requestTimeout: 5000\n    connections: 1\n",
             srv.port);
    tu_agent ag;
    if (tu_agent_start(&ag, yaml)) {
        fprintf(stderr, "bench-agent: cannot start motan-agent\n");
        exit(1);
    }
    const int inflights[] = {1, 8, 64};
    for (int i = 0; i < 3; i++) {
        figure d = measure(srv.port, inflights[i], 0);
        figure a = measure(ag.port, inflights[i], ag.pid);
        printf("agent.latency.%d direct_p50_us %.0f direct_p99_us %.0f agent_p50_us %.0f agent_p99_us %.0f"
               " added_p50_us %.0f added_p99_us %.0f agent_cpu_us_per_call %.2f direct_rps %.0f"
               " agent_rps %.0f\n",
               inflights[i], d.p50, d.p99, a.p50, a.p99, a.p50 - d.p50, a.p99 - d.p99, a.cpu_per_call,
               d.rps, a.rps);
        fflush(stdout);
    }
    tu_agent_stop(&ag);
    tu_server_stop(&srv);
}

/* ---- PHP-style: one process per call ------------------------------------------------------ */

/* Runs `motan call URL echo "x"` once; its wall time in µs, or -1 when it failed. */
static double one_process(const char *cli, const char *url)
{
    uint64_t t0 = motan_now_us();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 1);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(cli, cli, "call", "--timeout", "3000", url, "echo", "\"x\"", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return (double)(motan_now_us() - t0);
}

static void php_style(int calls)
{
    tu_zk zk;
    if (tu_zk_start(&zk)) {
        fprintf(stderr, "bench-agent: no ZooKeeper: PHP-style part skipped\n");
        return;
    }
    char reg[128], yaml[1024], cli[512], direct[256], via[256];
    snprintf(reg, sizeof(reg), "zookeeper://%s", zk.hosts);
    const char *args[] = {"--quiet", "--register", reg, "--group", "bench", NULL};
    tu_server srv;
    if (tu_server_start(&srv, args)) {
        fprintf(stderr, "bench-agent: cannot start a registered motan-test-server\n");
        exit(1);
    }
    snprintf(yaml, sizeof(yaml),
             "motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
             "motan-registry:\n  zk:\n    protocol: zookeeper\n    address: %s\n"
             "motan-refer:\n  echo:\n    path: " SVC "\n    group: bench\n    registry: zk\n",
             zk.hosts);
    tu_agent ag;
    if (tu_agent_start(&ag, yaml)) {
        fprintf(stderr, "bench-agent: cannot start motan-agent\n");
        exit(1);
    }
    snprintf(cli, sizeof(cli), "%s/%s/bin/motan", tu_root(), tu_build());
    snprintf(direct, sizeof(direct), "zookeeper://%s/" SVC "?group=bench", zk.hosts);
    snprintf(via, sizeof(via), "motan2://127.0.0.1:%d/" SVC, ag.port);
    /* the agent's refer has its list once a call through it succeeds */
    for (int i = 0; i < 100 && one_process(cli, via) < 0; i++)
        usleep(50000);
    tu_lat t[2];
    int failed[2] = {0, 0};
    memset(t, 0, sizeof(t));
    double sum[2] = {0, 0};
    for (int i = 0; i < 2 * calls; i++) { /* alternating: both see the same machine */
        int k = i % 2;
        double us = one_process(cli, k ? via : direct);
        if (us < 0) {
            failed[k]++;
            continue;
        }
        tu_lat_add(&t[k], (uint64_t)us);
        sum[k] += us;
    }
    for (int k = 0; k < 2; k++) {
        size_t n = t[k].n;
        printf("agent.php.%s %zu calls mean_ms %.2f p50_ms %.2f p99_ms %.2f failed %d\n",
               k ? "agent" : "direct", n, n ? sum[k] / (double)n / 1000.0 : 0,
               quantile(&t[k], 0.5) / 1000.0, quantile(&t[k], 0.99) / 1000.0, failed[k]);
        tu_lat_reset(&t[k]);
    }
    fflush(stdout);
    tu_agent_stop(&ag);
    tu_server_stop(&srv);
    tu_zk_free(&zk);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *secs = getenv("BENCH_SECONDS"), *php = getenv("BENCH_PHP_CALLS");
    if (secs && atof(secs) > 0)
        g_seconds = atof(secs);
    int calls = php ? atoi(php) : 1000;
    tu_bench_machine();
    /* ZooKeeper's supervisor is forked before any thread exists */
    if (calls > 0)
        php_style(calls);
    latency();
    free(g_lat.lat);
    return 0;
}
