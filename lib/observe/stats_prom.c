/*
 * Prometheus text exposition, format 0.0.4: for each family one # HELP and one # TYPE line,
 * then all its samples together; label values escape backslash, double quote and newline;
 * histograms have cumulative _bucket samples ending with le="+Inf" (= _count), then _sum and
 * _count. Names: docs/observability.md.
 */
#include <stdio.h>

#include "observe/observe_int.h"

typedef struct family {
    const char *suffix; /* after "motan_<side>_" */
    const char *type;
    const char *help;
} family;

static const family call_families[] = {
    {"calls_total", "counter", "Calls finished, by result code."},
    {"calls_in_flight", "gauge", "Calls started and not yet finished."},
    {"call_duration_seconds", "histogram", "Call latency, retries included."},
};
static const family attempt_families[] = {
    {"attempts_total", "counter", "Attempts finished on an endpoint, by result code."},
    {"attempt_duration_seconds", "histogram", "Latency of one attempt on an endpoint."},
};
static const family endpoint_families[] = {
    {"endpoint_available", "gauge", "1 while the endpoint takes calls, 0 while it is fused."},
    {"endpoint_in_flight", "gauge", "Calls in flight on the endpoint, as last refreshed."},
};

static void label_value(motan__out *o, const char *v)
{
    motan__out_str(o, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            motan__out_str(o, "\\\\");
        else if (*p == '"')
            motan__out_str(o, "\\\"");
        else if (*p == '\n')
            motan__out_str(o, "\\n");
        else
            motan__out_put(o, p, 1);
    }
    motan__out_str(o, "\"");
}

/* name{service="",group="",[method="",][endpoint="",] then extra (already formatted) */
static void sample_start(motan__out *o, const char *side, const char *name, const char *suffix,
                         const motan__snap *s)
{
    motan__out_fmt(o, "motan_%s_%s%s{service=", side, name, suffix);
    label_value(o, s->service);
    motan__out_str(o, ",group=");
    label_value(o, s->group);
    if (s->kind != MOTAN_STATS_ENDPOINT) {
        motan__out_str(o, ",method=");
        label_value(o, s->method);
    }
    if (s->kind != MOTAN_STATS_CALL) {
        motan__out_str(o, ",endpoint=");
        label_value(o, s->endpoint);
    }
}

/* A bound in seconds, shortest exact decimal: 50 -> 0.00005, 2500000 -> 2.5. */
static void seconds_text(uint64_t us, char *buf, size_t len)
{
    uint64_t whole = us / 1000000u, frac = us % 1000000u;
    if (!frac) {
        snprintf(buf, len, "%llu", (unsigned long long)whole);
        return;
    }
    char f[8];
    snprintf(f, sizeof(f), "%06llu", (unsigned long long)frac);
    size_t n = 6;
    while (n > 1 && f[n - 1] == '0')
        n--;
    f[n] = '\0';
    snprintf(buf, len, "%llu.%s", (unsigned long long)whole, f);
}

static void histogram(motan__out *o, const char *side, const char *name, const motan__snap *s)
{
    uint64_t cum = 0;
    for (int i = 0; i < MOTAN__NBUCKETS; i++) {
        char le[32];
        cum += s->buckets[i];
        if (i == MOTAN__NBUCKETS - 1)
            snprintf(le, sizeof(le), "+Inf");
        else
            seconds_text(motan__bucket_us[i], le, sizeof(le));
        sample_start(o, side, name, "_bucket", s);
        motan__out_fmt(o, ",le=\"%s\"} %llu\n", le, (unsigned long long)cum);
    }
    char sum[40];
    seconds_text(s->sum_us, sum, sizeof(sum));
    sample_start(o, side, name, "_sum", s);
    motan__out_fmt(o, "} %s\n", sum);
    sample_start(o, side, name, "_count", s);
    motan__out_fmt(o, "} %llu\n", (unsigned long long)cum);
}

static void sample(motan__out *o, const char *side, const family *f, int index,
                   const motan__snap *s)
{
    uint64_t count = motan__snap_count(s);
    if (f->type[0] == 'h') { /* histogram */
        histogram(o, side, f->suffix, s);
        return;
    }
    if (s->kind == MOTAN_STATS_ENDPOINT) {
        sample_start(o, side, f->suffix, "", s);
        if (index == 0)
            motan__out_fmt(o, "} %d\n", s->available ? 1 : 0);
        else
            motan__out_fmt(o, "} %llu\n", (unsigned long long)s->in_flight);
        return;
    }
    if (f->type[0] == 'g') { /* calls in flight */
        sample_start(o, side, f->suffix, "", s);
        motan__out_fmt(o, "} %llu\n",
                       (unsigned long long)(s->started > count ? s->started - count : 0));
        return;
    }
    if (s->ok) {
        sample_start(o, side, f->suffix, "", s);
        motan__out_fmt(o, ",code=\"MOTAN_OK\"} %llu\n", (unsigned long long)s->ok);
    }
    for (int i = 1; i <= MOTAN__MAXCODE + 1; i++) {
        int slot = i % (MOTAN__MAXCODE + 1); /* the "other" slot last */
        if (!s->codes[slot])
            continue;
        sample_start(o, side, f->suffix, "", s);
        motan__out_fmt(o, ",code=\"%s\"} %llu\n",
                       slot ? motan_errname(motan__code_of_slot(slot)) : "MOTAN_EUNKNOWN",
                       (unsigned long long)s->codes[slot]);
    }
}

MOTAN_EXPORT int motan_stats_prometheus(motan_stats *const *sources, size_t n, char **out,
                                        size_t *len)
{
    if (!out || (n && !sources))
        return MOTAN_EINVAL;
    *out = NULL;
    if (len)
        *len = 0;
    motan_arena *a = motan_arena_new();
    motan__out o = {motan_buf_new(8192), 0};
    if (!a || !o.b) {
        motan_arena_free(a);
        motan_buf_free(o.b);
        return MOTAN_ENOMEM;
    }
    motan__snap *snap;
    size_t ns;
    o.err = motan__stats_snapshot(sources, n, a, &snap, &ns);
    /* The snapshot is sorted by kind, then side: each (kind, side) run is one set of families. */
    for (size_t i = 0; i < ns && !o.err;) {
        size_t j = i;
        while (j < ns && snap[j].kind == snap[i].kind && snap[j].side == snap[i].side)
            j++;
        const char *side = snap[i].side ? "server" : "client";
        const family *fams = snap[i].kind == MOTAN_STATS_CALL      ? call_families
                             : snap[i].kind == MOTAN_STATS_ATTEMPT ? attempt_families
                                                                   : endpoint_families;
        int nf = snap[i].kind == MOTAN_STATS_CALL ? 3 : 2;
        for (int f = 0; f < nf; f++) {
            motan__out_fmt(&o, "# HELP motan_%s_%s %s\n", side, fams[f].suffix, fams[f].help);
            motan__out_fmt(&o, "# TYPE motan_%s_%s %s\n", side, fams[f].suffix, fams[f].type);
            for (size_t k = i; k < j; k++)
                sample(&o, side, &fams[f], f, &snap[k]);
        }
        i = j;
    }
    motan_arena_free(a);
    int rc = o.err;
    *out = motan__out_finish(&o, len);
    if (!*out)
        return rc ? rc : MOTAN_ENOMEM;
    return MOTAN_OK;
}
