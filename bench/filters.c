/*
 * make bench-filters: what the filter chain costs on the client call path, against
 * motan-test-server on loopback with 64 calls in flight (echo, 16 bytes). One line each:
 *   filters.<mode>.<chain> <rps> rps <cpu_us> cpu_us_per_call <user_us> user_us_per_call
 *       <allocs> allocs_per_call   (libmotan's heap allocations per warm call, the worst round)
 *   filters.<mode>.<chain>.overhead <pct> pct_cpu <pct> pct_user   (against no filters)
 * mode: loop (motan_client_call_async on the caller's event_base: one thread does all the
 * client's work) or builtin (submit/poll from one thread, the library's loop thread beside).
 * chain: none, metrics, trace+accessLog+metrics (accessLog formats nothing: info is off).
 *
 * The figure is CPU time of this process per call (getrusage: user + system, every thread),
 * not wall time: the server is another process and the machine may be busy. Runs alternate
 * between the chains, BENCH_ROUNDS (default 15) times each, BENCH_SECONDS (default 0.4)
 * long; the median of each is printed, and the overhead is the median of each round's ratio
 * to the run without filters just before it. BENCH_MODE=loop (or builtin) runs one mode only,
 * BENCH_CHAIN=<chain> one chain only (for a profiler: no overhead line, but the number of
 * calls made, warm-up included; under valgrind --tool=callgrind
 * --toggle-collect=event_base_loop with BENCH_MODE=loop that gives instructions per call,
 * which no other process's load disturbs).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"

#define INFLIGHT 64

static double g_seconds = 0.4;
static int g_rounds = 15;

typedef struct cpu {
    double user, sys; /* µs */
} cpu;

static cpu cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    cpu c = {(double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec,
             (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec};
    return c;
}

typedef struct run {
    motan_client *c;
    struct event_base *base;
    uint64_t deadline;
    long done, errors;
    int active;
} run;

typedef struct slot {
    run *r;
    motan_request *req;
} slot;

static void on_resp(motan_response *resp, void *ud);

static void send_one(slot *s)
{
    if (motan_client_call_async(s->r->c, s->req, on_resp, s) != MOTAN_OK) {
        fprintf(stderr, "call failed to start\n");
        exit(1);
    }
}

static void on_resp(motan_response *resp, void *ud)
{
    slot *s = ud;
    run *r = s->r;
    if (!resp || motan_response_get_code(resp) != MOTAN_OK)
        r->errors++;
    r->done++;
    motan_response_free(resp);
    if (motan_now_us() < r->deadline)
        send_one(s);
    else if (--r->active == 0)
        event_base_loopbreak(r->base);
}

static motan_request *echo_request(motan_client *c)
{
    motan_request *req = motan_client_request(c, "echo");
    char blob[16] = "0123456789abcdef";
    motan_request_add_arg(req, motan_value_new_bytes(motan_request_arena(req), blob, sizeof(blob)));
    return req;
}

typedef struct result {
    double rps, user, sys; /* calls/s, µs per call */
    long calls;            /* every call made, the warm-up's included */
    double allocs;         /* libmotan's heap allocations per timed call */
} result;

static result result_of(long calls, uint64_t t0, uint64_t t1, cpu c0, cpu c1)
{
    result r = {(double)calls / ((double)(t1 - t0) / 1e6), (c1.user - c0.user) / (double)calls,
                (c1.sys - c0.sys) / (double)calls, calls, (double)tu_allocs() / (double)calls};
    return r;
}

/* One timed run with the caller's loop. */
static result run_loop(const char *url, uint64_t seconds_us)
{
    struct event_base *base = event_base_new();
    char err[256];
    run r = {.base = base};
    if (motan_client_new_with_base(base, url, &r.c, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "client: %s\n", err);
        exit(1);
    }
    slot slots[INFLIGHT];
    for (int i = 0; i < INFLIGHT; i++) {
        slots[i].r = &r;
        slots[i].req = echo_request(r.c);
    }
    /* Warm-up: connections, pools, series (counted from the start: it empties the pools). */
    tu_count_allocs_start();
    r.deadline = motan_now_us() + 200000;
    r.active = INFLIGHT;
    for (int i = 0; i < INFLIGHT; i++)
        send_one(&slots[i]);
    event_base_dispatch(base);
    long warm = r.done;
    r.done = r.errors = 0;
    r.active = INFLIGHT;
    tu_count_allocs_reset();
    uint64_t t0 = motan_now_us();
    cpu c0 = cpu_now();
    r.deadline = t0 + seconds_us;
    for (int i = 0; i < INFLIGHT; i++)
        send_one(&slots[i]);
    event_base_dispatch(base);
    cpu c1 = cpu_now();
    uint64_t t1 = motan_now_us();
    if (r.errors)
        fprintf(stderr, "%s: %ld errors\n", url, r.errors);
    result out = result_of(r.done, t0, t1, c0, c1);
    out.calls += warm;
    tu_count_allocs_stop();
    for (int i = 0; i < INFLIGHT; i++)
        motan_request_free(slots[i].req);
    motan_client_free(r.c);
    event_base_free(base);
    return out;
}

/* One timed run with the built-in loop and the pull queue. */
static result run_builtin(const char *url, uint64_t seconds_us)
{
    char err[256];
    motan_client *c;
    if (motan_client_new(url, &c, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "client: %s\n", err);
        exit(1);
    }
    motan_request *reqs[INFLIGHT];
    for (int i = 0; i < INFLIGHT; i++)
        reqs[i] = echo_request(c);
    result out = {0, 0, 0, 0, 0};
    long all = 0;
    tu_count_allocs_start();
    for (int pass = 0; pass < 2; pass++) { /* warm-up, then the timed pass */
        if (pass)
            tu_count_allocs_reset();
        uint64_t t0 = motan_now_us(), end = t0 + (pass ? seconds_us : 200000);
        cpu c0 = cpu_now();
        long done = 0, active = INFLIGHT;
        for (int i = 0; i < INFLIGHT; i++)
            motan_client_submit(c, reqs[i], (uint64_t)i);
        while (active) {
            motan_response *resp;
            uint64_t tag;
            if (motan_client_poll(c, -1, &resp, &tag) != 1)
                break;
            done++;
            motan_response_free(resp);
            if (motan_now_us() < end)
                motan_client_submit(c, reqs[tag], tag);
            else
                active--;
        }
        all += done;
        if (pass)
            out = result_of(done, t0, motan_now_us(), c0, cpu_now());
    }
    tu_count_allocs_stop();
    for (int i = 0; i < INFLIGHT; i++)
        motan_request_free(reqs[i]);
    motan_client_free(c);
    out.calls = all;
    return out;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *s = getenv("BENCH_SECONDS");
    if (s && atof(s) > 0)
        g_seconds = atof(s);
    s = getenv("BENCH_ROUNDS");
    if (s && atoi(s) > 0)
        g_rounds = atoi(s) > 50 ? 50 : atoi(s);
    tu_server srv;
    const char *args[] = {"--quiet", NULL};
    if (tu_server_start(&srv, args) != 0)
        return 1;
    static const char *const chains[] = {"", "metrics", "trace,accessLog,metrics"};
    static const char *const labels[] = {"none", "metrics", "trace+accessLog+metrics"};
    enum { NCHAINS = 3 };
    static const char *const modes[] = {"loop", "builtin"};
    uint64_t us = (uint64_t)(g_seconds * 1e6);
    const char *only = getenv("BENCH_MODE"); /* loop or builtin: one mode only */
    const char *one = getenv("BENCH_CHAIN");  /* profiling: one chain only */
    for (int m = 0; m < 2; m++) {
        if (only && strcmp(only, modes[m]))
            continue;
        double total[NCHAINS][50], user[NCHAINS][50], rps[NCHAINS][50], allocs[NCHAINS] = {0};
        long calls[NCHAINS] = {0};
        for (int round = 0; round < g_rounds; round++)
            for (int k = 0; k < NCHAINS; k++) {
                if (one && strcmp(one, labels[k]))
                    continue;
                char url[256];
                snprintf(url, sizeof(url),
                         "motan2://127.0.0.1:%d/com.example.EchoService?connections=1&"
                         "requestTimeout=5000%s%s",
                         srv.port, chains[k][0] ? "&filter=" : "", chains[k]);
                result r = m ? run_builtin(url, us) : run_loop(url, us);
                total[k][round] = r.user + r.sys;
                user[k][round] = r.user;
                rps[k][round] = r.rps;
                calls[k] += r.calls;
                if (r.allocs > allocs[k])
                    allocs[k] = r.allocs; /* the worst round */
            }
        for (int k = 0; k < NCHAINS; k++) {
            if (one && strcmp(one, labels[k]))
                continue;
            /* The overhead of a round against the run without filters just before it (the
             * machine's load changes slowly): the median of those ratios. */
            double rt[50], ru[50];
            for (int i = 0; !one && i < g_rounds; i++) {
                rt[i] = total[k][i] / total[0][i];
                ru[i] = user[k][i] / user[0][i];
            }
            double c = median(total[k], g_rounds), u = median(user[k], g_rounds);
            printf("filters.%s.%s %.0f rps %.3f cpu_us_per_call %.3f user_us_per_call %.3f "
                   "allocs_per_call\n",
                   modes[m], labels[k], median(rps[k], g_rounds), c, u, allocs[k]);
            if (k && !one)
                printf("filters.%s.%s.overhead %.1f pct_cpu %.1f pct_user\n", modes[m], labels[k],
                       (median(rt, g_rounds) - 1) * 100.0, (median(ru, g_rounds) - 1) * 100.0);
            if (one) /* for an instruction counter: what to divide its total by */
                printf("filters.%s.%s.calls %ld\n", modes[m], labels[k], calls[k]);
            fflush(stdout);
        }
    }
    tu_server_stop(&srv);
    return 0;
}
