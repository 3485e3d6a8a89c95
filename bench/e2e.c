/*
 * make bench-e2e: libmotan against motan-test-server on loopback, next to a floor client
 * (plain blocking write/read on one connection, pre-encoded requests, same number in
 * flight) measured right after it in the same run. The machine first, then three lines per
 * figure:
 *   # machine: <N> cpus, <model name> ...
 *   e2e.<inflight>.<size> <rps> rps <p50_us> p50 <p99_us> p99 <cpu_us> cpu_us_per_call
 *   e2e.floor.<inflight>.<size> ...
 *   e2e.ratio.<inflight>.<size> <libmotan rps / floor rps> x_floor
 * Client CPU is getrusage(RUSAGE_SELF) over the run (the server is another process).
 * BENCH_SECONDS (default 1.5) sets the length of each run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    uint64_t now = motan_now_us();
    if (!resp || motan_response_get_code(resp) != MOTAN_OK)
        r->errors++;
    else
        tu_lat_add(&r->st, now - s->sent);
    motan_response_free(resp);
    if (now < r->deadline)
        send_one(s);
    else if (--r->active == 0)
        event_base_loopbreak(r->base);
}

static void send_one(slot *s)
{
    s->sent = motan_now_us();
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

/* Returns the calls per second. */
static double bench_motan(int port, int inflight, size_t size, const char *label)
{
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    motan_loop *loop;
    char err[256], text[256];
    if (motan_loop_new_with_base(base, &loop, err, sizeof(err)) != MOTAN_OK)
        exit(1);
    snprintf(text, sizeof(text),
             "motan2://127.0.0.1:%d/com.example.EchoService?connections=1&requestTimeout=5000", port);
    motan_url *u = tu_url(text);
    run r = {.base = base, .inflight = inflight};
    if (motan_endpoint_new(loop, u, &r.ep, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "endpoint: %s\n", err);
        exit(1);
    }
    motan_url_free(u);
    slot *slots = calloc((size_t)inflight, sizeof(slot));
    for (int i = 0; i < inflight; i++) {
        slots[i].r = &r;
        slots[i].req = echo_request(size);
    }
    /* Warm-up: connect and run briefly. */
    r.deadline = motan_now_us() + 200000;
    r.active = inflight;
    for (int i = 0; i < inflight; i++)
        send_one(&slots[i]);
    event_base_dispatch(base);
    tu_lat_reset(&r.st);

    r.active = inflight;
    tu_lat_start(&r.st);
    r.deadline = r.st.t0 + (uint64_t)(g_seconds * 1e6);
    for (int i = 0; i < inflight; i++)
        send_one(&slots[i]);
    event_base_dispatch(base);
    tu_lat_stop(&r.st);
    if (r.errors)
        fprintf(stderr, "%s: %d errors\n", label, r.errors);
    double rps = tu_lat_report(label, &r.st);
    for (int i = 0; i < inflight; i++)
        motan_request_free(slots[i].req);
    free(slots);
    motan_endpoint_free(r.ep);
    motan_loop_free(loop);
    event_base_free(base);
    return rps;
}

static double bench_floor(const tu_server *srv, int inflight, size_t size, const char *label)
{
    motan_request *req = echo_request(size);
    motan_request_set_service(req, "com.example.EchoService");
    motan_request_set_group(req, "default_rpc");
    motan_buf *frame = motan_buf_new(0);
    tu_bench_encode(req, frame);
    double rps = tu_bench_floor(label, srv, 1, inflight, frame, g_seconds);
    motan_buf_free(frame);
    motan_request_free(req);
    return rps;
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
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < 3; k++) {
            char label[64];
            snprintf(label, sizeof(label), "e2e.%d.%zu", inflights[i], sizes[k]);
            double rps = bench_motan(srv.port, inflights[i], sizes[k], label);
            snprintf(label, sizeof(label), "e2e.floor.%d.%zu", inflights[i], sizes[k]);
            double floor_rps = bench_floor(&srv, inflights[i], sizes[k], label);
            snprintf(label, sizeof(label), "e2e.ratio.%d.%zu", inflights[i], sizes[k]);
            tu_bench_ratio(label, rps, floor_rps);
        }
    }
    return tu_server_stop(&srv) == 0 ? 0 : 1;
}
