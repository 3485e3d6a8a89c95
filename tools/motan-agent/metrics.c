/*
 * The agent's own call statistics until the library's (issue 16: filters, stats,
 * motan_stats_prometheus) take over: per side, service, group, method (and endpoint for the
 * answering endpoint), calls by result code, a latency histogram and calls in flight, in the
 * family names and buckets the library uses (docs/observability.md), so that the switch
 * changes no dashboard. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "agent.h"

/* Upper bounds in microseconds (the library's table); the last bucket is +Inf. */
static const uint64_t bounds_us[] = {50,     100,     200,     500,      1000,     2000,    5000,
                                     10000,  20000,   50000,   100000,   200000,   500000,  1000000,
                                     2000000, 5000000, 10000000, 30000000, 60000000};
#define NBOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))
#define NCODES 32 /* -code of MOTAN_E*; the last slot is "other" */

struct mseries {
    int side;
    char *service, *group, *method, *endpoint; /* endpoint "" for the call series */
    uint64_t codes[NCODES];
    uint64_t buckets[NBOUNDS + 1];
    uint64_t count, sum_us;
    int64_t inflight;
    mseries *next;
};

struct metrics {
    mseries *head;
    size_t n;
};

metrics *metrics_new(void) { return calloc(1, sizeof(metrics)); }

void metrics_free(metrics *m)
{
    if (!m)
        return;
    while (m->head) {
        mseries *s = m->head;
        m->head = s->next;
        free(s->service);
        free(s->group);
        free(s->method);
        free(s->endpoint);
        free(s);
    }
    free(m);
}

mseries *metrics_series(metrics *m, int side, const char *service, const char *group,
                        const char *method, const char *endpoint)
{
    endpoint = endpoint ? endpoint : "";
    mseries **pp = &m->head;
    /* sorted by side, service, group, method, endpoint: the text comes out in a stable order */
    for (; *pp; pp = &(*pp)->next) {
        mseries *s = *pp;
        int c = s->side - side;
        if (!c)
            c = strcmp(s->service, service);
        if (!c)
            c = strcmp(s->group, group);
        if (!c)
            c = strcmp(s->method, method);
        if (!c)
            c = strcmp(s->endpoint, endpoint);
        if (!c)
            return s;
        if (c > 0)
            break;
    }
    if (m->n >= 100000)
        return NULL; /* a runaway label set (random method names) stops here */
    mseries *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->side = side;
    s->service = strdup(service);
    s->group = strdup(group);
    s->method = strdup(method);
    s->endpoint = strdup(endpoint);
    if (!s->service || !s->group || !s->method || !s->endpoint) {
        free(s->service);
        free(s->group);
        free(s->method);
        free(s->endpoint);
        free(s);
        return NULL;
    }
    s->next = *pp;
    *pp = s;
    m->n++;
    return s;
}

void metrics_start(mseries *s)
{
    if (s)
        s->inflight++;
}

void metrics_end(mseries *s, int code, uint64_t latency_us)
{
    if (!s)
        return;
    if (s->inflight > 0)
        s->inflight--;
    int idx = code <= 0 && -code < NCODES - 1 ? -code : NCODES - 1;
    s->codes[idx]++;
    size_t b = 0;
    while (b < NBOUNDS && latency_us > bounds_us[b])
        b++;
    s->buckets[b]++;
    s->count++;
    s->sum_us += latency_us;
}

uint64_t metrics_calls(const metrics *m, int side, const char *service, const char *group,
                       const char *method)
{
    uint64_t n = 0;
    for (const mseries *s = m->head; s; s = s->next)
        if (s->side == side && !s->endpoint[0] && !strcmp(s->service, service) &&
            (!group || !strcmp(s->group, group)) && (!method || !strcmp(s->method, method)))
            n += s->count;
    return n;
}

/* ---- Prometheus text (version 0.0.4) -------------------------------------------------- */

static void escaped(struct evbuffer *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            evbuffer_add(out, "\\\\", 2);
        else if (*v == '"')
            evbuffer_add(out, "\\\"", 2);
        else if (*v == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, v, 1);
    }
}

void prom_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(struct evbuffer *out, const char *name, const char *const *labels, size_t n,
                 double value)
{
    evbuffer_add_printf(out, "%s", name);
    for (size_t i = 0; i < n; i++) {
        evbuffer_add_printf(out, "%s%s=\"", i ? "," : "{", labels[2 * i]);
        escaped(out, labels[2 * i + 1]);
        evbuffer_add(out, "\"", 1);
    }
    if (n)
        evbuffer_add(out, "}", 1);
    if (value == (double)(int64_t)value)
        evbuffer_add_printf(out, " %lld\n", (long long)value);
    else
        evbuffer_add_printf(out, " %.9g\n", value);
}

static const char *side_name(int side) { return side == SIDE_SERVER ? "server" : "client"; }

/* counters of one kind (calls: endpoint ""; attempts: endpoint set) */
static void write_counts(const metrics *m, struct evbuffer *out, int side, int per_endpoint)
{
    char name[96];
    snprintf(name, sizeof(name), "motan_%s_%s_total", side_name(side),
             per_endpoint ? "attempts" : "calls");
    int any = 0;
    for (const mseries *s = m->head; s; s = s->next) {
        if (s->side != side || !s->endpoint[0] != !per_endpoint)
            continue;
        if (!any++)
            prom_family(out, name, "counter",
                        per_endpoint ? "Calls by the endpoint that answered and result code."
                                     : "Calls by result code.");
        for (int c = 0; c < NCODES; c++) {
            if (!s->codes[c])
                continue;
            const char *code = c == NCODES - 1 ? "other" : motan_errname(-c);
            const char *l[] = {"service", s->service, "group", s->group, "method", s->method,
                               "endpoint", s->endpoint, "code", code};
            if (per_endpoint)
                prom_sample(out, name, l, 5, (double)s->codes[c]);
            else {
                const char *l2[] = {"service", s->service, "group", s->group, "method", s->method,
                                    "code", code};
                prom_sample(out, name, l2, 4, (double)s->codes[c]);
            }
        }
    }
}

static void write_histograms(const metrics *m, struct evbuffer *out, int side, int per_endpoint)
{
    char name[96], bucket[112], sum[112], cnt[112];
    snprintf(name, sizeof(name), "motan_%s_%s_duration_seconds", side_name(side),
             per_endpoint ? "attempt" : "call");
    snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    snprintf(sum, sizeof(sum), "%s_sum", name);
    snprintf(cnt, sizeof(cnt), "%s_count", name);
    int any = 0;
    for (const mseries *s = m->head; s; s = s->next) {
        if (s->side != side || !s->endpoint[0] != !per_endpoint || !s->count)
            continue;
        if (!any++)
            prom_family(out, name, "histogram", "Call latency in seconds.");
        uint64_t cum = 0;
        char le[32];
        const char *l[] = {"service", s->service, "group", s->group, "method", s->method,
                           "endpoint", s->endpoint, "le", le};
        size_t nl = per_endpoint ? 5 : 4;
        if (!per_endpoint) {
            l[6] = "le";
            l[7] = le;
        }
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cum += s->buckets[b];
            if (b < NBOUNDS) { /* decimal seconds, as the library writes them: 0.00005 */
                snprintf(le, sizeof(le), "%.6f", (double)bounds_us[b] / 1e6);
                char *e = le + strlen(le) - 1;
                while (*e == '0')
                    *e-- = '\0';
                if (*e == '.')
                    *e = '\0';
            } else
                snprintf(le, sizeof(le), "+Inf");
            prom_sample(out, bucket, l, nl, (double)cum);
        }
        prom_sample(out, sum, l, nl - 1, (double)s->sum_us / 1e6);
        prom_sample(out, cnt, l, nl - 1, (double)s->count);
    }
}

static void write_inflight(const metrics *m, struct evbuffer *out, int side)
{
    char name[96];
    snprintf(name, sizeof(name), "motan_%s_calls_in_flight", side_name(side));
    int any = 0;
    for (const mseries *s = m->head; s; s = s->next) {
        if (s->side != side || s->endpoint[0] || !s->method[0])
            continue;
        if (!any++)
            prom_family(out, name, "gauge", "Calls started and not finished.");
        const char *l[] = {"service", s->service, "group", s->group, "method", s->method};
        prom_sample(out, name, l, 3, (double)s->inflight);
    }
}

void metrics_write(const metrics *m, struct evbuffer *out)
{
    for (int side = SIDE_CLIENT; side <= SIDE_SERVER; side++) {
        write_counts(m, out, side, 0);
        write_inflight(m, out, side);
        write_histograms(m, out, side, 0);
        write_counts(m, out, side, 1);
        write_histograms(m, out, side, 1);
    }
}
