/*
 * make bench-e2e: libmotan against motan-test-server on loopback, next to a floor client
 * (plain blocking write/read on one connection, pre-encoded requests, same number in
 * flight) measured in the same run: BENCH_ROUNDS (default 3) alternating slices of each, so
 * that load from elsewhere on a shared machine falls on both. The machine first, then three
 * lines per figure:
 *   # machine: <N> cpus, <model name> ...
 *   e2e.<inflight>.<size> <rps> rps <p50_us> p50 <p99_us> p99 <cpu_us> cpu_us_per_call
 *   e2e.floor.<inflight>.<size> ...
 *   e2e.ratio.<inflight>.<size> <libmotan rps / floor rps> x_floor
 * Client CPU is getrusage(RUSAGE_SELF) over the run (the server is another process); on
 * stderr beside each figure its user part, the client's sleeps (voluntary context switches)
 * and the server's CPU (/proc/<pid>/schedstat), per call; beside each ratio the ratio of every
 * pair of slices (min, median, max) and the hypervisor's steal over the figure.
 * BENCH_SECONDS (default 1.5) sets the measured time of each side of a figure; BENCH_ONLY
 * ("8.16 64.65536") runs only the figures named; BENCH_SIDE=motan or floor runs only that
 * side (no ratio line), so that perf stat, nstat or strace see one of them alone.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/transport.h>

#include "server_proc.h"
#include "tu_bench.h"
#include "tu_loop.h"

static double g_seconds = 1.5;

/* ---- libmotan ------------------------------------------------------------------------- */

typedef struct run {
    motan_endpoint *ep;
    struct event_base *base;
    tu_lat st;
    uint64_t deadline;
    int inflight, active, errors;
    unsigned long long calls; /* all made, warm-up included (instructions per call) */
} run;

typedef struct slot {
    run *r;
    motan_request *req;
    uint64_t sent;
} slot;

static void send_one(slot *s, uint64_t now);

static void on_resp(motan_response *resp, void *ud)
{
    slot *s = ud;
    run *r = s->r;
    uint64_t now = motan_now_us();
    if (!resp || motan_response_get_code(resp) != MOTAN_OK)
        r->errors++;
    else
        tu_lat_add(&r->st, now - s->sent);
    motan_response_free(resp);
    r->calls++;
    if (now < r->deadline)
        send_one(s, now); /* one clock read for the answer and the next call, as the floor */
    else if (--r->active == 0)
        event_base_loopbreak(r->base);
}

static void send_one(slot *s, uint64_t now)
{
    s->sent = now;
    if (motan_endpoint_call(s->r->ep, s->req, 5000, on_resp, s, NULL) != MOTAN_OK) {
        fprintf(stderr, "call failed to start\n");
        exit(1);
    }
}

static motan_request *echo_request(size_t size)
{
    motan_request *req = motan_request_new("echo");
    uint8_t *blob = calloc(1, size);
    motan_request_add_arg(req, motan_value_new_bytes(motan_request_arena(req), blob, size));
    free(blob);
    return req;
}

/* libmotan's side of a figure: an endpoint on its own event_base, inflight slots. */
typedef struct side {
    struct event_base *base;
    motan_loop *loop;
    run r;
    slot *slots;
} side;

/* Sends from every slot until the deadline, then lets the calls finish. */
static void slice(side *m, uint64_t deadline)
{
    m->r.deadline = deadline;
    m->r.active = m->r.inflight;
    for (int i = 0; i < m->r.inflight; i++)
        send_one(&m->slots[i], motan_now_us());
    event_base_dispatch(m->base);
}

static void side_open(side *m, int port, int peer, int inflight, size_t size)
{
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    m->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    char err[256], text[256];
    if (motan_loop_new_with_base(m->base, &m->loop, err, sizeof(err)) != MOTAN_OK)
        exit(1);
    snprintf(text, sizeof(text),
             "motan2://127.0.0.1:%d/com.example.EchoService?connections=1&requestTimeout=5000", port);
    motan_url *u = tu_url(text);
    m->r = (run){.base = m->base, .inflight = inflight};
    if (motan_endpoint_new(m->loop, u, &m->r.ep, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "endpoint: %s\n", err);
        exit(1);
    }
    motan_url_free(u);
    m->slots = calloc((size_t)inflight, sizeof(slot));
    for (int i = 0; i < inflight; i++) {
        m->slots[i].r = &m->r;
        m->slots[i].req = echo_request(size);
    }
    slice(m, motan_now_us() + 200000); /* warm-up: connect and run briefly */
    tu_lat_reset(&m->r.st);
    m->r.st.peer_pid = peer;
}

static void side_close(side *m)
{
    for (int i = 0; i < m->r.inflight; i++)
        motan_request_free(m->slots[i].req);
    free(m->slots);
    motan_endpoint_free(m->r.ep);
    motan_loop_free(m->loop);
    event_base_free(m->base);
}

/* Time the hypervisor gave to others so far (steal, /proc/stat), summed over the CPUs, s. */
static double steal_seconds(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    return n == 8 ? (double)v[7] / (double)sysconf(_SC_CLK_TCK) : 0;
}

static double rate(size_t calls, uint64_t wall_us)
{
    return wall_us ? (double)calls * 1e6 / (double)wall_us : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * On stderr (stdout's lines are fixed): the ratio of each alternating pair of slices, as
 * min / median / max, and the CPU time the hypervisor took (steal) as a share of the
 * machine over the figure: a pair whose floor ran while the host took the CPU shows as an
 * outlier there, where the ratio of the totals hides it.
 */
static void rounds_line(const char *label, double *r, int n, double steal_s, double wall_s)
{
    qsort(r, (size_t)n, sizeof(double), cmp_double);
    double med = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double steal = wall_s > 0 && cpus > 0 ? 100 * steal_s / (wall_s * (double)cpus) : 0;
    fprintf(stderr, "# %s.ratio_per_round %.2f min %.2f median %.2f max (%d rounds) %.1f %% steal\n",
            label, r[0], med, r[n - 1], n, steal);
}

/* One figure: libmotan and the floor in alternating slices, then both lines and the ratio. */
static void figure(const tu_server *srv, int inflight, size_t size)
{
    side m;
    side_open(&m, srv->port, (int)srv->pid, inflight, size);
    motan_request *req = echo_request(size);
    motan_buf *frame = tu_bench_frame(req);
    tu_floor *f = tu_floor_open(srv, 1, inflight, frame);
    tu_lat floor_st = {.peer_pid = (int)srv->pid};
    int rounds = tu_bench_rounds();
    const char *side_only = getenv("BENCH_SIDE");
    int run_motan = !side_only || strcmp(side_only, "floor") != 0;
    int run_floor = !side_only || strcmp(side_only, "motan") != 0;
    double *per_round = calloc((size_t)rounds, sizeof(double));
    if (!per_round)
        exit(1);
    double steal0 = steal_seconds(), wall0 = (double)motan_now_us() / 1e6;
    for (int i = 0; i < rounds; i++) {
        size_t mn = m.r.st.n, fn = floor_st.n;
        uint64_t mw = m.r.st.wall_us, fw = floor_st.wall_us;
        if (run_motan) {
            tu_lat_start(&m.r.st);
            slice(&m, motan_now_us() + (uint64_t)(g_seconds / rounds * 1e6));
            tu_lat_stop(&m.r.st);
        }
        if (run_floor)
            tu_floor_run(f, g_seconds / rounds, &floor_st);
        double mr = rate(m.r.st.n - mn, m.r.st.wall_us - mw);
        double fr = rate(floor_st.n - fn, floor_st.wall_us - fw);
        per_round[i] = fr > 0 ? mr / fr : 0;
    }
    char label[64];
    snprintf(label, sizeof(label), "e2e.%d.%zu", inflight, size);
    if (run_motan && run_floor)
        rounds_line(label, per_round, rounds, steal_seconds() - steal0,
                    (double)motan_now_us() / 1e6 - wall0);
    free(per_round);
    if (m.r.errors)
        fprintf(stderr, "%s: %d errors\n", label, m.r.errors);
    /* Under callgrind (--toggle-collect=event_base_loop): Collected / calls = instructions per call. */
    fprintf(stderr, "# %s.calls %llu\n", label, m.r.calls);
    double rps = run_motan ? tu_lat_report(label, &m.r.st) : 0;
    snprintf(label, sizeof(label), "e2e.floor.%d.%zu", inflight, size);
    double floor_rps = run_floor ? tu_lat_report(label, &floor_st) : 0;
    snprintf(label, sizeof(label), "e2e.ratio.%d.%zu", inflight, size);
    if (run_motan && run_floor)
        tu_bench_ratio(label, rps, floor_rps);
    tu_floor_close(f);
    motan_buf_free(frame);
    motan_request_free(req);
    side_close(&m);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *secs = getenv("BENCH_SECONDS");
    if (secs && atof(secs) > 0)
        g_seconds = atof(secs);
    tu_server srv;
    const char *args[] = {"--quiet", NULL};
    if (tu_server_start(&srv, args) != 0)
        return 1;
    tu_bench_machine();
    const int inflights[] = {1, 8, 64};
    const size_t sizes[] = {16, 1024, 65536};
    const char *only = getenv("BENCH_ONLY"); /* e.g. "8.16 64.65536": just those figures */
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 3; k++) {
            char name[32];
            snprintf(name, sizeof(name), "%d.%zu", inflights[i], sizes[k]);
            if (!only || tu_bench_selected(only, name))
                figure(&srv, inflights[i], sizes[k]);
        }
    return tu_server_stop(&srv) == 0 ? 0 : 1;
}
