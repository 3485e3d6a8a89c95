/*
 * Reading a stats source: the series walker and the JSON snapshot (docs/observability.md).
 * Both work on a merged snapshot taken in one arena.
 */
#include <stdio.h>

#include "observe/observe_int.h"

static const char *const kind_names[] = {"call", "attempt", "endpoint"};
static const char *const side_names[] = {"client", "server"};

/* Codes with a count, in slot order (-1, -2, ..., then "other" as 0). */
static size_t error_codes(const motan__snap *s, int *codes, uint64_t *counts)
{
    size_t n = 0;
    for (int i = 1; i <= MOTAN__MAXCODE; i++)
        if (s->codes[i]) {
            codes[n] = motan__code_of_slot(i);
            counts[n++] = s->codes[i];
        }
    if (s->codes[0]) {
        codes[n] = 0;
        counts[n++] = s->codes[0];
    }
    return n;
}

static void fill_series(const motan__snap *s, motan_stats_series *o, int *codes, uint64_t *counts)
{
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->kind = s->kind;
    o->side = side_names[s->side & 1];
    o->service = s->service;
    o->group = s->group;
    o->method = s->method;
    o->endpoint = s->endpoint;
    o->started = s->started;
    o->count = motan__snap_count(s);
    o->ok = s->ok;
    if (s->kind == MOTAN_STATS_CALL)
        o->in_flight = s->started > o->count ? s->started - o->count : 0;
    else
        o->in_flight = s->in_flight; /* as reported for an endpoint; 0 for attempts */
    o->sum_us = s->sum_us;
    o->nbuckets = MOTAN__NBUCKETS;
    o->buckets = s->buckets;
    o->ncodes = error_codes(s, codes, counts);
    o->codes = codes;
    o->code_counts = counts;
    o->p50_us = motan__snap_quantile(s, 0.5);
    o->p90_us = motan__snap_quantile(s, 0.9);
    o->p99_us = motan__snap_quantile(s, 0.99);
    o->p999_us = motan__snap_quantile(s, 0.999);
    o->available = s->available;
}

MOTAN_EXPORT int motan_stats_walk(motan_stats *s, motan_stats_visitor visit, void *userdata)
{
    if (!s || !visit)
        return MOTAN_EINVAL;
    motan_arena *a = motan_arena_new();
    if (!a)
        return MOTAN_ENOMEM;
    motan__snap *snap;
    size_t n;
    int rc = motan__stats_snapshot(&s, 1, a, &snap, &n);
    for (size_t i = 0; i < n && rc == MOTAN_OK; i++) {
        motan_stats_series o;
        int codes[MOTAN__MAXCODE + 1];
        uint64_t counts[MOTAN__MAXCODE + 1];
        fill_series(&snap[i], &o, codes, counts);
        rc = visit(&o, userdata);
    }
    motan_arena_free(a);
    return rc;
}

/* ---- text output -------------------------------------------------------------------- */

void motan__out_put(motan__out *o, const char *s, size_t n)
{
    if (!o->err && motan_buf_append(o->b, s, n) != MOTAN_OK)
        o->err = MOTAN_ENOMEM;
}

void motan__out_str(motan__out *o, const char *s) { motan__out_put(o, s, strlen(s)); }

void motan__out_fmt(motan__out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        motan__out_put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

char *motan__out_finish(motan__out *o, size_t *len)
{
    char *text = NULL;
    if (!o->err) {
        size_t n = motan_buf_len(o->b);
        text = motan__strndup((const char *)motan_buf_data(o->b), n);
        if (text && len)
            *len = n;
    }
    motan_buf_free(o->b);
    o->b = NULL;
    return text;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void put_str(motan__out *b, const char *s)
{
    motan__out_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            motan__out_put(b, esc, 2);
        } else if (*p < 0x20) {
            motan__out_fmt(b, "\\u%04x", *p);
        } else {
            motan__out_put(b, (const char *)p, 1);
        }
    }
    motan__out_str(b, "\"");
}

static void put_series(motan__out *b, const motan_stats_series *o)
{
    motan__out_str(b, "{\"kind\":");
    put_str(b, kind_names[o->kind]);
    motan__out_str(b, ",\"side\":");
    put_str(b, o->side);
    motan__out_str(b, ",\"service\":");
    put_str(b, o->service);
    motan__out_str(b, ",\"group\":");
    put_str(b, o->group);
    if (o->kind != MOTAN_STATS_ENDPOINT) {
        motan__out_str(b, ",\"method\":");
        put_str(b, o->method);
    }
    if (o->kind != MOTAN_STATS_CALL) {
        motan__out_str(b, ",\"endpoint\":");
        put_str(b, o->endpoint);
    }
    if (o->kind == MOTAN_STATS_ENDPOINT) {
        motan__out_fmt(b, ",\"available\":%s,\"in_flight\":%llu}", o->available ? "true" : "false",
                       (unsigned long long)o->in_flight);
        return;
    }
    if (o->kind == MOTAN_STATS_CALL)
        motan__out_fmt(b, ",\"started\":%llu,\"in_flight\":%llu", (unsigned long long)o->started,
                       (unsigned long long)o->in_flight);
    motan__out_fmt(b, ",\"count\":%llu,\"ok\":%llu,\"errors\":{", (unsigned long long)o->count,
                   (unsigned long long)o->ok);
    for (size_t i = 0; i < o->ncodes; i++)
        motan__out_fmt(b, "%s\"%s\":%llu", i ? "," : "",
                       o->codes[i] ? motan_errname(o->codes[i]) : "other",
                       (unsigned long long)o->code_counts[i]);
    motan__out_fmt(b, "},\"sum_us\":%llu,\"buckets\":[", (unsigned long long)o->sum_us);
    for (size_t i = 0; i < o->nbuckets; i++)
        motan__out_fmt(b, "%s%llu", i ? "," : "", (unsigned long long)o->buckets[i]);
    motan__out_fmt(b, "],\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f}",
                   o->p50_us, o->p90_us, o->p99_us, o->p999_us);
}

typedef struct json_ctx {
    motan__out *b;
    int n;
} json_ctx;

static int json_visit(const motan_stats_series *o, void *userdata)
{
    json_ctx *j = userdata;
    if (j->n++)
        motan__out_str(j->b, ",");
    put_series(j->b, o);
    return j->b->err;
}

MOTAN_EXPORT char *motan_stats_json(motan_stats *s)
{
    motan__out b = {motan_buf_new(4096), 0};
    if (!b.b)
        return NULL;
    motan__out_str(&b, "{\"buckets_us\":[");
    for (int i = 0; i < MOTAN__NBUCKETS - 1; i++)
        motan__out_fmt(&b, "%s%llu", i ? "," : "", (unsigned long long)motan__bucket_us[i]);
    motan__out_str(&b, "],\"series\":[");
    json_ctx j = {&b, 0};
    int rc = s ? motan_stats_walk(s, json_visit, &j) : MOTAN_OK;
    motan__out_str(&b, "]}");
    if (rc != MOTAN_OK && !b.err)
        b.err = rc;
    return motan__out_finish(&b, NULL);
}
