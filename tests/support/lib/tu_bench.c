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

static double user_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
}

static double sleeps(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_nvcsw;
}

/* CPU time of another process (all its threads), µs, from the scheduler's own count. */
static double peer_cpu_us(int pid)
{
    char path[64];
    double us = 0;
    snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    unsigned long long ns;
    if (f && fscanf(f, "%llu", &ns) == 1)
        us = (double)ns / 1e3;
    if (f)
        fclose(f);
    return us;
}

/* Voluntary context switches of another process's threads (it blocked), from /proc. */
static double peer_sleeps(int pid)
{
    char path[64], line[128];
    double n = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
            n = (double)v;
    }
    if (f)
        fclose(f);
    return n;
}

void tu_lat_start(tu_lat *s)
{
    s->t0 = motan_now_us();
    s->cpu0 = tu_cpu_us();
    s->user0 = user_us();
    s->sleeps0 = sleeps();
    s->peer0 = peer_cpu_us(s->peer_pid);
    s->peer_sleeps0 = peer_sleeps(s->peer_pid);
}

void tu_lat_stop(tu_lat *s)
{
    s->wall_us += motan_now_us() - s->t0;
    s->cpu_us += tu_cpu_us() - s->cpu0;
    s->user_us += user_us() - s->user0;
    s->sleeps += sleeps() - s->sleeps0;
    s->peer_us += peer_cpu_us(s->peer_pid) - s->peer0;
    s->peer_sleeps += peer_sleeps(s->peer_pid) - s->peer_sleeps0;
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
    int peer = s->peer_pid;
    free(s->lat);
    memset(s, 0, sizeof(*s));
    s->peer_pid = peer;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double tu_lat_report(const char *name, tu_lat *s)
{
    qsort(s->lat, s->n, sizeof(uint64_t), cmp_u64);
    double secs = (double)s->wall_us / 1e6;
    double rps = secs > 0 ? (double)s->n / secs : 0;
    uint64_t p50 = s->n ? s->lat[s->n / 2] : 0;
    uint64_t p99 = s->n ? s->lat[(s->n * 99) / 100] : 0;
    double cpu = s->n ? s->cpu_us / (double)s->n : 0;
    printf("%s %.0f rps %llu p50 %llu p99 %.2f cpu_us_per_call\n", name, rps, (unsigned long long)p50,
           (unsigned long long)p99, cpu);
    fflush(stdout);
    /* The user part on stderr (stdout's line format is fixed): kernel and library apart. */
    double n = s->n ? (double)s->n : 1;
    fprintf(stderr, "# %s.user_us_per_call %.2f\n", name, s->user_us / n);
    /* Which side is the bottleneck, and how often the client blocked (a wake-up each). */
    fprintf(stderr, "# %s.sleeps_per_call %.3f\n", name, s->sleeps / n);
    if (s->peer_pid)
        fprintf(stderr, "# %s.server_cpu_us_per_call %.2f\n# %s.server_sleeps_per_call %.3f\n",
                name, s->peer_us / n, name, s->peer_sleeps / n);
    tu_lat_reset(s);
    return rps;
}

void tu_bench_ratio(const char *name, double rps, double floor_rps)
{
    printf("%s %.2f x_floor\n", name, floor_rps > 0 ? rps / floor_rps : 0.0);
    fflush(stdout);
}

int tu_bench_rounds(void)
{
    const char *r = getenv("BENCH_ROUNDS");
    int n = r ? atoi(r) : 0;
    return n > 0 ? n : 3;
}

int tu_bench_selected(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t w = strcspn(p, " ,");
        if (w == n && !strncmp(p, name, n))
            return 1;
        p += w;
    }
    return 0;
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

motan_buf *tu_bench_frame(motan_request *req)
{
    char err[128] = "";
    motan_buf *frame = motan_buf_new(0);
    motan_request_set_service(req, "com.example.EchoService");
    motan_request_set_group(req, "default_rpc");
    if (!frame || motan_request_prepare(req, err, sizeof(err)) != MOTAN_OK ||
        motan_request_encode(req, 1, 5000, 0, frame, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "bench: cannot encode the request: %s\n", err);
        exit(1);
    }
    return frame;
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

struct tu_floor {
    reader *rd; /* one per server */
    int nsrv, inflight;
    const motan_buf *frame;
    uint64_t *sent; /* a ring of the calls in flight: send time and connection */
    int *conn;
    size_t next_conn;
};

/* Keeps inflight calls going until the deadline, then lets them finish. */
static void floor_slice(tu_floor *f, uint64_t deadline, tu_lat *st)
{
    const uint8_t *p = motan_buf_data(f->frame);
    size_t n = motan_buf_len(f->frame), ring = (size_t)f->inflight;
    /* Answers come back in order on each connection and call k goes to connection
     * k % nsrv, so the oldest call's connection holds the next answer. */
    size_t head = 0, tail = 0, outstanding = 0;
    for (int i = 0; i < f->inflight; i++) {
        f->sent[tail] = motan_now_us();
        f->conn[tail] = (int)(f->next_conn++ % (size_t)f->nsrv);
        write_all(f->rd[f->conn[tail]].fd, p, n);
        tail = (tail + 1) % ring;
        outstanding++;
    }
    while (outstanding) {
        read_frame(&f->rd[f->conn[head]]);
        uint64_t now = motan_now_us();
        if (st)
            tu_lat_add(st, now - f->sent[head]);
        head = (head + 1) % ring;
        outstanding--;
        if (now < deadline) {
            f->sent[tail] = now;
            f->conn[tail] = (int)(f->next_conn++ % (size_t)f->nsrv);
            write_all(f->rd[f->conn[tail]].fd, p, n);
            tail = (tail + 1) % ring;
            outstanding++;
        }
    }
}

tu_floor *tu_floor_open(const tu_server *srv, int nsrv, int inflight, const motan_buf *frame)
{
    tu_floor *f = calloc(1, sizeof(*f));
    if (!f || !(f->rd = calloc((size_t)nsrv, sizeof(reader))) ||
        !(f->sent = calloc((size_t)inflight, sizeof(uint64_t))) ||
        !(f->conn = calloc((size_t)inflight, sizeof(int))))
        exit(1);
    f->nsrv = nsrv;
    f->inflight = inflight;
    f->frame = frame;
    for (int i = 0; i < nsrv; i++) {
        if ((f->rd[i].fd = tu_server_connect(&srv[i])) < 0) {
            perror("floor connect");
            exit(1);
        }
        f->rd[i].cap = 1 << 20;
        f->rd[i].buf = malloc(f->rd[i].cap);
    }
    floor_slice(f, motan_now_us() + 200000, NULL); /* warm-up */
    return f;
}

void tu_floor_run(tu_floor *f, double seconds, tu_lat *st)
{
    tu_lat_start(st);
    floor_slice(f, motan_now_us() + (uint64_t)(seconds * 1e6), st);
    tu_lat_stop(st);
}

void tu_floor_close(tu_floor *f)
{
    for (int i = 0; i < f->nsrv; i++) {
        close(f->rd[i].fd);
        free(f->rd[i].buf);
    }
    free(f->rd);
    free(f->sent);
    free(f->conn);
    free(f);
}

double tu_bench_floor(const char *name, const tu_server *srv, int nsrv, int inflight,
                      const motan_buf *frame, double seconds)
{
    tu_floor *f = tu_floor_open(srv, nsrv, inflight, frame);
    tu_lat st = {0};
    tu_floor_run(f, seconds, &st);
    tu_floor_close(f);
    return tu_lat_report(name, &st);
}
