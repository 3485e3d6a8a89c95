/* Benchmark helpers (tu_bench.h): samples, the report and ratio lines, the floor client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tu_bench.h"

double tu_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

void tu_lat_start(tu_lat *s)
{
    s->t0 = motan_now_us();
    s->cpu0 = tu_cpu_us();
}

void tu_lat_stop(tu_lat *s)
{
    s->t1 = motan_now_us();
    s->cpu1 = tu_cpu_us();
}

void tu_lat_add(tu_lat *s, uint64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1 << 16;
        s->lat = realloc(s->lat, s->cap * sizeof(uint64_t));
        if (!s->lat) {
            perror("bench samples");
            exit(1);
        }
    }
    s->lat[s->n++] = us;
}

void tu_lat_reset(tu_lat *s)
{
    free(s->lat);
    memset(s, 0, sizeof(*s));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double tu_lat_report(const char *name, tu_lat *s)
{
    qsort(s->lat, s->n, sizeof(uint64_t), cmp_u64);
    double secs = (double)(s->t1 - s->t0) / 1e6;
    double rps = secs > 0 ? (double)s->n / secs : 0;
    uint64_t p50 = s->n ? s->lat[s->n / 2] : 0;
    uint64_t p99 = s->n ? s->lat[(s->n * 99) / 100] : 0;
    double cpu = s->n ? (s->cpu1 - s->cpu0) / (double)s->n : 0;
    printf("%s %.0f rps %llu p50 %llu p99 %.2f cpu_us_per_call\n", name, rps, (unsigned long long)p50,
           (unsigned long long)p99, cpu);
    fflush(stdout);
    tu_lat_reset(s);
    return rps;
}

void tu_bench_ratio(const char *name, double rps, double floor_rps)
{
    printf("%s %.2f x_floor\n", name, floor_rps > 0 ? rps / floor_rps : 0.0);
    fflush(stdout);
}

/* The value of the first "key : value" line of /proc/cpuinfo, or "". */
static void cpuinfo(const char *key, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, key, klen) != 0 || !colon || strspn(line + klen, " \t") != (size_t)(colon - line) - klen)
            continue;
        snprintf(out, len, "%s", colon + 1 + strspn(colon + 1, " \t"));
        out[strcspn(out, "\n")] = '\0';
        break;
    }
    if (f)
        fclose(f);
}

void tu_bench_machine(void)
{
    char name[256], family[32], model[32], flags[4096];
    cpuinfo("model name", name, sizeof(name));
    cpuinfo("cpu family", family, sizeof(family));
    cpuinfo("model", model, sizeof(model));
    cpuinfo("flags", flags, sizeof(flags));
    printf("# machine: %ld cpus, %s (cpu family %s, model %s)%s\n", sysconf(_SC_NPROCESSORS_ONLN),
           name[0] ? name : "unknown CPU", family[0] ? family : "?", model[0] ? model : "?",
           strstr(flags, " hypervisor") ? ", virtual machine" : "");
    fflush(stdout);
}

void tu_bench_encode(motan_request *req, motan_buf *frame)
{
    char err[128];
    if (motan_request_prepare(req, err, sizeof(err)) != MOTAN_OK ||
        motan_request_encode(req, 1, 5000, 0, frame, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "bench: cannot encode the request: %s\n", err);
        exit(1);
    }
}

/* ---- the floor client ------------------------------------------------------------------ */

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("floor write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

typedef struct reader {
    int fd;
    uint8_t *buf;
    size_t cap, start, end;
} reader;

/* Ensures n bytes are buffered from r->start. */
static void fill(reader *r, size_t n)
{
    if (r->end - r->start >= n)
        return;
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
        if (got <= 0) {
            fprintf(stderr, "floor read: %s\n", got ? strerror(errno) : "connection closed");
            exit(1);
        }
        r->end += (size_t)got;
    }
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Skips one response frame. */
static void read_frame(reader *r)
{
    fill(r, 17);
    uint32_t m = be32(r->buf + r->start + 13);
    fill(r, 21 + (size_t)m);
    uint32_t b = be32(r->buf + r->start + 17 + m);
    fill(r, 21 + (size_t)m + b);
    r->start += 21 + (size_t)m + b;
}

double tu_bench_floor(const char *name, const tu_server *srv, int nsrv, int inflight,
                      const motan_buf *frame, double seconds)
{
    reader *rd = calloc((size_t)nsrv, sizeof(reader));
    /* Answers come back in order on each connection and request k goes to connection
     * k % nsrv, so the oldest request's connection holds the next answer: a ring. */
    uint64_t *sent = calloc((size_t)inflight, sizeof(uint64_t));
    int *conn = calloc((size_t)inflight, sizeof(int));
    if (!rd || !sent || !conn)
        exit(1);
    for (int i = 0; i < nsrv; i++) {
        if ((rd[i].fd = tu_server_connect(&srv[i])) < 0) {
            perror("floor connect");
            exit(1);
        }
        rd[i].cap = 1 << 20;
        rd[i].buf = malloc(rd[i].cap);
    }
    const uint8_t *p = motan_buf_data(frame);
    size_t n = motan_buf_len(frame);
    tu_lat st = {0};
    size_t next_conn = 0;
    for (int phase = 0; phase < 2; phase++) {
        if (phase)
            tu_lat_start(&st);
        uint64_t deadline = motan_now_us() + (phase ? (uint64_t)(seconds * 1e6) : 200000);
        size_t head = 0, tail = 0, outstanding = 0;
        for (int i = 0; i < inflight; i++) {
            sent[tail] = motan_now_us();
            conn[tail] = (int)(next_conn++ % (size_t)nsrv);
            write_all(rd[conn[tail]].fd, p, n);
            tail = (tail + 1) % (size_t)inflight;
            outstanding++;
        }
        while (outstanding) {
            read_frame(&rd[conn[head]]);
            uint64_t now = motan_now_us();
            if (phase)
                tu_lat_add(&st, now - sent[head]);
            head = (head + 1) % (size_t)inflight;
            outstanding--;
            if (now < deadline) {
                sent[tail] = now;
                conn[tail] = (int)(next_conn++ % (size_t)nsrv);
                write_all(rd[conn[tail]].fd, p, n);
                tail = (tail + 1) % (size_t)inflight;
                outstanding++;
            }
        }
    }
    tu_lat_stop(&st);
    double rps = tu_lat_report(name, &st);
    for (int i = 0; i < nsrv; i++) {
        close(rd[i].fd);
        free(rd[i].buf);
    }
    free(rd);
    free(sent);
    free(conn);
    return rps;
}
