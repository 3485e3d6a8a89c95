/*
 * Stats sources: each chain (one loop thread) writes its own series with plain relaxed
 * stores; the series list of a writer only grows, under the source's lock, so snapshots
 * walk it under that lock while the writer keeps counting. A chain that goes away folds
 * its counts into the source's archive, so counters never go down.
 */
#include <stdlib.h>

#include "observe/observe_int.h"

/* docs/observability.md: the fixed latency buckets, microseconds. */
const uint64_t motan__bucket_us[MOTAN__NBUCKETS] = {
    50,      100,     200,     500,      1000,     2000,     5000,
    10000,   20000,   50000,   100000,   200000,   500000,   1000000,
    2000000, 5000000, 10000000, 30000000, 60000000, UINT64_MAX,
};

/* For bit length b (latencies 2^(b-1) .. 2^b - 1): the first i with motan__bucket_us[i] >=
 * 2^(b-1). Derived from the bounds above; test_observe checks every bucket_of against a scan. */
const uint8_t motan__bucket_from_bits[65] = {
    0,  0,  0,  0,  0,  0,  0,  1,  2,  3,  4,  5,  6,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 15, 16, 17, 18, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19,
    19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19,
};

MOTAN_EXPORT size_t motan_stats_bucket_count(void) { return MOTAN__NBUCKETS; }

MOTAN_EXPORT uint64_t motan_stats_bucket_bound_us(size_t i)
{
    return i < MOTAN__NBUCKETS ? motan__bucket_us[i] : 0;
}

MOTAN_EXPORT int motan_stats_new(motan_stats **out)
{
    if (!out)
        return MOTAN_EINVAL;
    motan_stats *s = motan__calloc(1, sizeof(*s));
    *out = s;
    if (!s)
        return MOTAN_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->refs, 1);
    s->archive.stats = s;
    return MOTAN_OK;
}

void motan__stats_ref(motan_stats *s) { atomic_fetch_add(&s->refs, 1); }

static void series_free(motan__series *x)
{
    motan_free(x->service);
    motan_free(x->group);
    motan_free(x->method);
    motan_free(x->endpoint);
    motan_free(x);
}

static void writer_clear(motan__writer *w)
{
    while (w->head) {
        motan__series *x = w->head;
        w->head = x->next;
        series_free(x);
    }
    motan_free(w->table);
    w->table = NULL;
    w->mask = w->count = 0;
}

MOTAN_EXPORT void motan_stats_free(motan_stats *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    /* Every chain holds a reference: no writer is left. */
    writer_clear(&s->archive);
    pthread_mutex_destroy(&s->mu);
    motan_free(s);
}

motan__writer *motan__writer_new(motan_stats *s, int side)
{
    motan__writer *w = motan__calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->stats = s;
    w->side = side;
    pthread_mutex_lock(&s->mu);
    w->next = s->writers;
    s->writers = w;
    pthread_mutex_unlock(&s->mu);
    return w;
}

/* ---- keys ----------------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *p)
{
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* a separator: ("ab","c") != ("a","bc") */
}

static uint64_t key_hash(int side, int kind, const char *service, const char *group, const char *method,
                         const char *endpoint)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind ^ ((uint64_t)side << 8);
    h = fnv(h, service);
    h = fnv(h, group);
    h = fnv(h, method);
    return fnv(h, endpoint);
}

static int key_eq(const motan__series *x, int side, int kind, const char *service,
                  const char *group, const char *method, const char *endpoint)
{
    return x->kind == kind && x->side == side && !strcmp(x->method, method) && !strcmp(x->endpoint, endpoint) &&
           !strcmp(x->group, group) && !strcmp(x->service, service);
}

static motan__series *table_find(const motan__writer *w, uint64_t h, int side, int kind,
                                 const char *service, const char *group, const char *method,
                                 const char *endpoint)
{
    if (!w->table)
        return NULL;
    for (motan__series *x = w->table[h & w->mask]; x; x = x->hnext)
        if (x->hash == h && key_eq(x, side, kind, service, group, method, endpoint))
            return x;
    return NULL;
}

static int table_add(motan__writer *w, motan__series *x)
{
    if (w->count + 1 > (w->mask + 1) / 4 * 3) {
        size_t cap = w->table ? (w->mask + 1) * 2 : 16;
        motan__series **t = motan__calloc(cap, sizeof(*t));
        if (!t)
            return MOTAN_ENOMEM;
        for (size_t i = 0; w->table && i <= w->mask; i++) {
            motan__series *y = w->table[i];
            while (y) {
                motan__series *next = y->hnext;
                y->hnext = t[y->hash & (cap - 1)];
                t[y->hash & (cap - 1)] = y;
                y = next;
            }
        }
        motan_free(w->table);
        w->table = t;
        w->mask = cap - 1;
    }
    x->hnext = w->table[x->hash & w->mask];
    w->table[x->hash & w->mask] = x;
    w->count++;
    return MOTAN_OK;
}

static motan__series *series_new(uint64_t h, int side, int kind, const char *service,
                                 const char *group, const char *method, const char *endpoint)
{
    motan__series *x = motan__calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->hash = h;
    x->side = side;
    x->kind = kind;
    x->service = motan__strdup(service);
    x->group = motan__strdup(group);
    x->method = motan__strdup(method);
    x->endpoint = motan__strdup(endpoint);
    atomic_init(&x->available, 1);
    if (!x->service || !x->group || !x->method || !x->endpoint) {
        series_free(x);
        return NULL;
    }
    return x;
}

motan__series *motan__series_get(motan__writer *w, int kind, const char *service,
                                 const char *group, const char *method, const char *endpoint)
{
    service = service ? service : "";
    group = group ? group : "";
    method = method ? method : "";
    endpoint = endpoint ? endpoint : "";
    uint64_t h = key_hash(w->side, kind, service, group, method, endpoint);
    motan__series *x = table_find(w, h, w->side, kind, service, group, method, endpoint);
    if (x)
        return x;
    motan__series *ep = NULL;
    if (kind == MOTAN_STATS_ATTEMPT &&
        !(ep = motan__series_get(w, MOTAN_STATS_ENDPOINT, service, group, "", endpoint)))
        return NULL;
    x = series_new(h, w->side, kind, service, group, method, endpoint);
    if (!x)
        return NULL;
    x->ep_series = ep;
    if (table_add(w, x) != MOTAN_OK) {
        series_free(x);
        return NULL;
    }
    pthread_mutex_lock(&w->stats->mu);
    x->next = w->head;
    w->head = x;
    pthread_mutex_unlock(&w->stats->mu);
    return x;
}

motan__series *motan__series_call_slow(motan__writer *w, const char *service, const char *group,
                                       const char *method, unsigned slot)
{
    motan__series *x = motan__series_get(w, MOTAN_STATS_CALL, service, group, method, "");
    if (x) {
        w->call_cache[slot].service = service;
        w->call_cache[slot].group = group;
        w->call_cache[slot].s = x;
    }
    return x;
}

motan__series *motan__series_attempt_slow(motan__writer *w, motan__series *cs, const char *ep,
                                          unsigned epoch)
{
    for (int i = 0; i < MOTAN__EP_CACHE; i++)
        if (cs->ep_cache[i].addr == ep && !strcmp(cs->ep_cache[i].s->endpoint, ep)) {
            cs->ep_cache[i].epoch = epoch; /* an endpoint went, not this one */
            return cs->ep_cache[i].s;
        }
    motan__series *x = motan__series_get(w, MOTAN_STATS_ATTEMPT, cs->service, cs->group,
                                         cs->method, ep);
    if (x) {
        unsigned slot = cs->ep_next++ % MOTAN__EP_CACHE;
        cs->ep_cache[slot].addr = ep;
        cs->ep_cache[slot].epoch = epoch;
        cs->ep_cache[slot].s = x;
    }
    return x;
}

/* ---- retiring a writer ---------------------------------------------------------------- */

static void add_counts(motan__series *dst, const motan__series *src)
{
    motan__ctr_add(&dst->started, motan__ctr_get(&src->started));
    motan__ctr_add(&dst->sum_us, motan__ctr_get(&src->sum_us));
    motan__ctr_add(&dst->ok, motan__ctr_get(&src->ok));
    for (int i = 0; i < MOTAN__NBUCKETS; i++)
        motan__ctr_add(&dst->buckets[i], motan__ctr_get(&src->buckets[i]));
    for (int i = 0; i <= MOTAN__MAXCODE; i++)
        motan__ctr_add(&dst->codes[i], motan__ctr_get(&src->codes[i]));
}

void motan__writer_retire(motan__writer *w)
{
    if (!w)
        return;
    motan_stats *s = w->stats;
    pthread_mutex_lock(&s->mu);
    for (motan__writer **pp = &s->writers; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    motan__writer *a = &s->archive;
    for (motan__series *x = w->head; x; x = x->next) {
        if (x->kind == MOTAN_STATS_ENDPOINT)
            continue; /* nobody watches those endpoints any more */
        motan__series *y = table_find(a, x->hash, x->side, x->kind, x->service, x->group,
                                      x->method, x->endpoint);
        if (!y && (y = series_new(x->hash, x->side, x->kind, x->service, x->group, x->method,
                                  x->endpoint)) != NULL) {
            if (table_add(a, y) != MOTAN_OK) {
                series_free(y);
                y = NULL;
            } else {
                y->next = a->head;
                a->head = y;
            }
        }
        if (y) /* out of memory: these counts are lost, the others stay */
            add_counts(y, x);
    }
    pthread_mutex_unlock(&s->mu);
    writer_clear(w);
    motan_free(w);
}

/* ---- snapshots ------------------------------------------------------------------------ */

static int snap_cmp(const void *pa, const void *pb)
{
    const motan__snap *a = pa, *b = pb;
    int d;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    if (a->side != b->side)
        return a->side - b->side;
    if ((d = strcmp(a->service, b->service)) || (d = strcmp(a->group, b->group)) ||
        (d = strcmp(a->method, b->method)))
        return d;
    return strcmp(a->endpoint, b->endpoint);
}

static size_t count_series(const motan__writer *w)
{
    size_t n = 0;
    for (const motan__series *x = w->head; x; x = x->next)
        n++;
    return n;
}

static int snap_one(motan_arena *a, const motan__series *x, motan__snap *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = x->kind;
    o->side = x->side;
    o->service = motan__arena_strndup(a, x->service, strlen(x->service));
    o->group = motan__arena_strndup(a, x->group, strlen(x->group));
    o->method = motan__arena_strndup(a, x->method, strlen(x->method));
    o->endpoint = motan__arena_strndup(a, x->endpoint, strlen(x->endpoint));
    if (!o->service || !o->group || !o->method || !o->endpoint)
        return MOTAN_ENOMEM;
    /* Finished counts first: started, read later, is never below them. */
    for (int i = 0; i < MOTAN__NBUCKETS; i++)
        o->buckets[i] = motan__ctr_get(&x->buckets[i]);
    for (int i = 0; i <= MOTAN__MAXCODE; i++)
        o->codes[i] = motan__ctr_get(&x->codes[i]);
    o->ok = motan__ctr_get(&x->ok);
    o->sum_us = motan__ctr_get(&x->sum_us);
    o->started = motan__ctr_get(&x->started);
    o->available = atomic_load(&((motan__series *)x)->available);
    o->in_flight = motan__ctr_get(&x->in_flight);
    return MOTAN_OK;
}

static void merge_into(motan__snap *d, const motan__snap *s)
{
    d->started += s->started;
    d->in_flight += s->in_flight;
    d->sum_us += s->sum_us;
    d->ok += s->ok;
    for (int i = 0; i < MOTAN__NBUCKETS; i++)
        d->buckets[i] += s->buckets[i];
    for (int i = 0; i <= MOTAN__MAXCODE; i++)
        d->codes[i] += s->codes[i];
    d->available = d->available && s->available; /* fused for one client: say so */
}

int motan__stats_snapshot(motan_stats *const *src, size_t n, motan_arena *a, motan__snap **out,
                          size_t *nout)
{
    size_t total = 0, used = 0;
    *out = NULL;
    *nout = 0;
    int rc = MOTAN_OK;
    for (size_t k = 0; k < n; k++) {
        motan_stats *s = src[k];
        if (!s)
            continue;
        pthread_mutex_lock(&s->mu);
        size_t more = count_series(&s->archive);
        for (motan__writer *w = s->writers; w; w = w->next)
            more += count_series(w);
        motan__snap *grown = motan_arena_alloc(a, (total + more + 1) * sizeof(motan__snap));
        if (!grown) {
            pthread_mutex_unlock(&s->mu);
            return MOTAN_ENOMEM;
        }
        if (used)
            memcpy(grown, *out, used * sizeof(motan__snap));
        *out = grown;
        total += more;
        for (motan__writer *w = s->writers; w && rc == MOTAN_OK; w = w->next)
            for (motan__series *x = w->head; x && rc == MOTAN_OK; x = x->next)
                rc = snap_one(a, x, &(*out)[used++]);
        for (motan__series *x = s->archive.head; x && rc == MOTAN_OK; x = x->next)
            rc = snap_one(a, x, &(*out)[used++]);
        pthread_mutex_unlock(&s->mu);
        if (rc != MOTAN_OK)
            return rc;
    }
    if (!used)
        return MOTAN_OK;
    qsort(*out, used, sizeof(motan__snap), snap_cmp);
    size_t m = 0;
    for (size_t i = 0; i < used; i++) {
        if (m && !snap_cmp(&(*out)[m - 1], &(*out)[i]))
            merge_into(&(*out)[m - 1], &(*out)[i]);
        else if (m++ != i)
            (*out)[m - 1] = (*out)[i];
    }
    *nout = m;
    return MOTAN_OK;
}

uint64_t motan__snap_count(const motan__snap *s)
{
    uint64_t n = 0;
    for (int i = 0; i < MOTAN__NBUCKETS; i++)
        n += s->buckets[i];
    return n;
}

double motan__snap_quantile(const motan__snap *s, double q)
{
    uint64_t count = motan__snap_count(s);
    if (!count)
        return 0;
    double rank = q * (double)count;
    uint64_t below = 0;
    for (int i = 0; i < MOTAN__NBUCKETS; i++) {
        uint64_t in = s->buckets[i];
        if (in && (double)(below + in) >= rank) {
            if (i == MOTAN__NBUCKETS - 1) /* +Inf: the highest finite bound, as Prometheus */
                return (double)motan__bucket_us[i - 1];
            double lo = i ? (double)motan__bucket_us[i - 1] : 0;
            double hi = (double)motan__bucket_us[i];
            return lo + (hi - lo) * (rank - (double)below) / (double)in;
        }
        below += in;
    }
    return (double)motan__bucket_us[MOTAN__NBUCKETS - 2];
}
