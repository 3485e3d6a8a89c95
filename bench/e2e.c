/*
 * make bench-e2e: libmotan against motan-test-server on loopback, next to a floor client
 * (plain blocking write/read on one connection, pre-encoded requests, same number in
 * flight). One line per figure:
 *   e2e.<inflight>.<size> <rps> rps <p50_us> p50 <p99_us> p99 <cpu_us> cpu_us_per_call
 *   e2e.floor.<inflight>.<size> ...
 * Client CPU is getrusage(RUSAGE_SELF) over the run (the server is another process).
 * BENCH_SECONDS (default 1.5) sets the length of each run.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/transport.h>

#include "server_proc.h"
#include "tu_loop.h"

static double g_seconds = 1.5;

typedef struct stats {
    uint64_t *lat; /* µs per call */
    size_t n, cap;
    uint64_t t0, t1;
    double cpu0, cpu1;
} stats;

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static void stats_add(stats *s, uint64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1 << 16;
        s->lat = realloc(s->lat, s->cap * sizeof(uint64_t));
    }
    s->lat[s->n++] = us;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, stats *s)
{
    qsort(s->lat, s->n, sizeof(uint64_t), cmp_u64);
    double secs = (double)(s->t1 - s->t0) / 1e6;
    double rps = (double)s->n / secs;
    uint64_t p50 = s->n ? s->lat[s->n / 2] : 0;
    uint64_t p99 = s->n ? s->lat[(s->n * 99) / 100] : 0;
    double cpu = s->n ? (s->cpu1 - s->cpu0) / (double)s->n : 0;
    printf("%s %.0f rps %llu p50 %llu p99 %.2f cpu_us_per_call\n", name, rps, (unsigned long long)p50,
           (unsigned long long)p99, cpu);
    fflush(stdout);
    free(s->lat);
    memset(s, 0, sizeof(*s));
}

/* ---- libmotan ------------------------------------------------------------------------- */

typedef struct run {
    motan_endpoint *ep;
    struct event_base *base;
    stats st;
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
        stats_add(&r->st, now - s->sent);
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

static void bench_motan(int port, int inflight, size_t size, const char *label)
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
    free(r.st.lat);
    memset(&r.st, 0, sizeof(r.st));

    r.active = inflight;
    r.st.t0 = motan_now_us();
    r.st.cpu0 = cpu_now();
    r.deadline = r.st.t0 + (uint64_t)(g_seconds * 1e6);
    for (int i = 0; i < inflight; i++)
        send_one(&slots[i]);
    event_base_dispatch(base);
    r.st.t1 = motan_now_us();
    r.st.cpu1 = cpu_now();
    if (r.errors)
        fprintf(stderr, "%s: %d errors\n", label, r.errors);
    report(label, &r.st);
    for (int i = 0; i < inflight; i++)
        motan_request_free(slots[i].req);
    free(slots);
    motan_endpoint_free(r.ep);
    motan_loop_free(loop);
    event_base_free(base);
}

/* ---- floor: blocking write/read, pre-encoded frames ----------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct reader {
    int fd;
    uint8_t *buf;
    size_t cap, start, end;
} reader;

/* Ensures n bytes are buffered from r->start. */
static int fill(reader *r, size_t n)
{
    if (r->end - r->start >= n)
        return 0;
    if (r->start + n > r->cap) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (n > r->cap) {
            r->cap = n * 2;
            r->buf = realloc(r->buf, r->cap);
        }
    }
    while (r->end - r->start < n) {
        ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        r->end += (size_t)got;
    }
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Skips one response frame. */
static int read_frame(reader *r)
{
    if (fill(r, 17))
        return -1;
    uint32_t m = be32(r->buf + r->start + 13);
    if (fill(r, 21 + (size_t)m))
        return -1;
    uint32_t b = be32(r->buf + r->start + 17 + m);
    if (fill(r, 21 + (size_t)m + b))
        return -1;
    r->start += 21 + (size_t)m + b;
    return 0;
}

static void bench_floor(const tu_server *srv, int inflight, size_t size, const char *label)
{
    motan_request *req = echo_request(size);
    motan_request_set_service(req, "com.example.EchoService");
    motan_request_set_group(req, "default_rpc");
    motan_buf *frame = motan_buf_new(0);
    char err[128];
    motan_request_prepare(req, err, sizeof(err));
    motan_request_encode(req, 1, 5000, 0, frame, err, sizeof(err));
    int fd = tu_server_connect(srv);
    if (fd < 0) {
        perror("floor connect");
        exit(1);
    }
    reader rd = {.fd = fd, .cap = 1 << 20};
    rd.buf = malloc(rd.cap);
    uint64_t *sent = calloc((size_t)inflight, sizeof(uint64_t));
    stats st = {0};
    const uint8_t *p = motan_buf_data(frame);
    size_t n = motan_buf_len(frame);
    for (int phase = 0; phase < 2; phase++) {
        uint64_t start = motan_now_us();
        uint64_t deadline = start + (phase ? (uint64_t)(g_seconds * 1e6) : 200000);
        if (phase) {
            st.t0 = start;
            st.cpu0 = cpu_now();
        }
        /* Answers come back in order: a ring of send times. */
        size_t head = 0, tail = 0, outstanding = 0;
        for (int i = 0; i < inflight; i++) {
            sent[tail] = motan_now_us();
            tail = (tail + 1) % (size_t)inflight;
            outstanding++;
            if (write_all(fd, p, n))
                exit(1);
        }
        while (outstanding) {
            if (read_frame(&rd))
                exit(1);
            uint64_t now = motan_now_us();
            if (phase)
                stats_add(&st, now - sent[head]);
            head = (head + 1) % (size_t)inflight;
            outstanding--;
            if (now < deadline) {
                sent[tail] = now;
                tail = (tail + 1) % (size_t)inflight;
                outstanding++;
                if (write_all(fd, p, n))
                    exit(1);
            }
        }
    }
    st.t1 = motan_now_us();
    st.cpu1 = cpu_now();
    report(label, &st);
    close(fd);
    free(rd.buf);
    free(sent);
    motan_buf_free(frame);
    motan_request_free(req);
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
    const int inflights[] = {1, 8, 64};
    const size_t sizes[] = {16, 1024, 65536};
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < 3; k++) {
            char label[64];
            snprintf(label, sizeof(label), "e2e.%d.%zu", inflights[i], sizes[k]);
            bench_motan(srv.port, inflights[i], sizes[k], label);
            snprintf(label, sizeof(label), "e2e.floor.%d.%zu", inflights[i], sizes[k]);
            bench_floor(&srv, inflights[i], sizes[k], label);
        }
    }
    return tu_server_stop(&srv) == 0 ? 0 : 1;
}
