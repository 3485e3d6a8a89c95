/* Private to lib/observe: stats series and writers, the chain and its call contexts. */
#ifndef MOTAN_OBSERVE_INT_H
#define MOTAN_OBSERVE_INT_H

#include <stdatomic.h>

#include <motan/observe.h>

#include "core/core_int.h"

#define MOTAN__NBUCKETS 20
/* Error codes by -code: 1..MOTAN__MAXCODE; anything else counts as "other" (slot 0). */
#define MOTAN__MAXCODE 24
#define MOTAN__MAX_FILTERS 16
#define MOTAN__MAX_META 16
#define MOTAN__META_TEXT 512

extern const uint64_t motan__bucket_us[MOTAN__NBUCKETS];
/* By bit length of a latency: the first bucket whose bound is >= its lowest value. */
extern const uint8_t motan__bucket_from_bits[65];

/* Index of the bucket of a latency: the first bound >= us. Bounds at least double from one
 * to the next, so from the first candidate for its bit length one compare is left. */
static inline size_t motan__bucket_of(uint64_t us)
{
    size_t i = motan__bucket_from_bits[us ? 64 - __builtin_clzll(us) : 0];
    while (us > motan__bucket_us[i]) /* at most once: the last bound is UINT64_MAX */
        i++;
    return i;
}

/*
 * A counter with one writing thread: a relaxed load and store (no locked instruction);
 * readers on other threads see a value that was current at some point.
 */
typedef atomic_uint_fast64_t motan__ctr;

static inline void motan__ctr_add(motan__ctr *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline uint64_t motan__ctr_get(const motan__ctr *c)
{
    return atomic_load_explicit((motan__ctr *)c, memory_order_relaxed);
}

typedef struct motan__series motan__series;

/* The last endpoints an attempt series was looked up for, per call series. */
#define MOTAN__EP_CACHE 4

struct motan__series {
    motan__series *next;  /* the writer's list (read by snapshots under the stats lock) */
    motan__series *hnext; /* hash chain (writer only) */
    uint64_t hash;
    int side, kind;
    char *service, *group, *method, *endpoint; /* owned; "" when not part of the key */
    motan__series *ep_series;                  /* ATTEMPT: the endpoint's availability */
    struct {
        const char *addr; /* an endpoint's address string, valid while epoch holds */
        unsigned epoch;
        motan__series *s;
    } ep_cache[MOTAN__EP_CACHE]; /* CALL: attempt series by endpoint (writer only) */
    unsigned ep_next;
    motan__ctr started, sum_us;
    motan__ctr buckets[MOTAN__NBUCKETS];
    motan__ctr codes[MOTAN__MAXCODE + 1]; /* finished with -code; [0]: others */
    motan__ctr ok;
    atomic_int available;  /* ENDPOINT */
    motan__ctr in_flight;  /* ENDPOINT: as last reported */
};

#define MOTAN__CALL_CACHE 8

/* The series one thread writes (a chain), or the archive of retired chains. */
typedef struct motan__writer {
    struct motan__writer *next;
    motan_stats *stats;
    int side;
    motan__series *head;  /* newest first */
    motan__series **table; /* writer only */
    size_t mask, count;
    struct {
        const char *service, *group; /* stable by contract (motan_filter_chain_begin) */
        motan__series *s;
    } call_cache[MOTAN__CALL_CACHE]; /* writer only */
} motan__writer;

struct motan_stats {
    pthread_mutex_t mu; /* the writer list, series lists (insertion), the archive */
    atomic_int refs;
    motan__writer *writers;
    motan__writer archive; /* what chains that are gone recorded */
};

/* stats.c */
void motan__stats_ref(motan_stats *s);
/* A writer for one thread's chain; NULL on out of memory. */
motan__writer *motan__writer_new(motan_stats *s, int side);
/* Folds the writer's counts into the archive and frees it. */
void motan__writer_retire(motan__writer *w);
/* The series of the key (created on first use); NULL on out of memory. */
motan__series *motan__series_get(motan__writer *w, int kind, const char *service,
                                 const char *group, const char *method, const char *endpoint);
/* Slow paths of metrics_int.h's lookups: fill the caches. */
motan__series *motan__series_call_slow(motan__writer *w, const char *service, const char *group,
                                       const char *method, unsigned slot);
motan__series *motan__series_attempt_slow(motan__writer *w, motan__series *cs, const char *ep,
                                          unsigned epoch);

/* One series of a snapshot: keys copied, counts added up over writers. */
typedef struct motan__snap {
    int kind, side;
    const char *service, *group, *method, *endpoint;
    uint64_t started, sum_us, ok, in_flight;
    uint64_t buckets[MOTAN__NBUCKETS];
    uint64_t codes[MOTAN__MAXCODE + 1];
    int available;
} motan__snap;

/*
 * A merged, sorted snapshot of n sources in arena a: *out gets *nout entries (arena
 * memory). MOTAN_OK or MOTAN_ENOMEM.
 */
int motan__stats_snapshot(motan_stats *const *src, size_t n, motan_arena *a, motan__snap **out,
                          size_t *nout);
uint64_t motan__snap_count(const motan__snap *s);
/* The q-quantile (0..1) of the snapshot's histogram in µs, Prometheus-style interpolation. */
double motan__snap_quantile(const motan__snap *s, double q);
/* The code of error slot i (1..MOTAN__MAXCODE), or 0 for the "other" slot. */
static inline int motan__code_of_slot(int i) { return -i; }

/* stats_out.c: text building with a sticky error (out of memory somewhere = no text). */
typedef struct motan__out {
    motan_buf *b;
    int err;
} motan__out;
void motan__out_put(motan__out *o, const char *s, size_t n);
void motan__out_str(motan__out *o, const char *s);
void motan__out_fmt(motan__out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (owned: motan_free) and its length, or NULL after an error; frees the buffer. */
char *motan__out_finish(motan__out *o, size_t *len);

/* ---- filters -------------------------------------------------------------------------- */

/* filter.c: the registered ops (copies, never freed), by name; NULL when unknown. */
const motan_filter_ops *motan__filter_find(const char *name, size_t len);
extern const motan_filter_ops motan__filter_metrics;
extern const motan_filter_ops motan__filter_accesslog;
extern const motan_filter_ops motan__filter_trace;

enum { FC_BEFORE = 1, FC_ATTEMPT, FC_AFTER };

struct motan_filter_call {
    motan_filter_chain *chain;
    motan_filter_call *next_free;
    /* Cleared by begin in one go (stage .. overflow). */
    int stage;   /* FC_* of the hooks running */
    int nbefore; /* filters whose before accepted the call */
    int nattempts;
    int code;
    int cur;    /* index of the filter whose hook runs */
    int traced; /* the trace filter ran */
    uint64_t latency_us;
    const motan_response *resp;
    size_t resp_size;
    size_t nmeta, text_used;
    void *overflow; /* heap blocks for text that did not fit, freed with the call */
    /* Set by begin. */
    int attempt; /* the attempt whose hooks run, -1 outside them */
    int available;
    const char *endpoint;  /* the attempt's, or the last attempt's (checked with ep_epoch) */
    unsigned ep_epoch;     /* motan__endpoint_epoch when endpoint was last known alive */
    const char *service, *group, *method;
    int serialization;
    size_t request_size;
    size_t (*size_fn)(void *); /* request_size not measured yet (chain_int.h) */
    void *size_arg;
    motan_meta_lookup lookup;
    const void *source;
    uint64_t start_us;
    /* Written before they are read. */
    void *data[MOTAN__MAX_FILTERS];
    const char *meta[2 * MOTAN__MAX_META];
    char traceparent[56];
    char parent_span[17];
    char request_id[24];
    char errmsg[256];
    char text[MOTAN__META_TEXT];
};

struct motan_filter_chain {
    int side;
    motan_stats *stats;
    motan__writer *writer;
    size_t n;
    const motan_filter_ops *ops[MOTAN__MAX_FILTERS];
    void *state[MOTAN__MAX_FILTERS];
    unsigned flags;
    motan_filter_call *pool;
    int npool;
    int metrics_at; /* index of the built-in metrics filter (run inline), -1 */
    int has_attempt_start; /* some filter has an attempt_start hook */
    int metrics_only;      /* the chain is the metrics filter alone: its short path */
};

/*
 * Built-in filters: adds (or replaces) metadata of the call without copying or checking:
 * key and value must be valid metadata text that lives as long as the call (literals, the
 * call's own buffers). Dropped when the call has no room left.
 */
void motan__call_put_meta(motan_filter_call *c, const char *key, const char *value);

/* The chain's stats writer (for built-in filters); never NULL. */
static inline motan__writer *motan__chain_writer(const motan_filter_call *call)
{
    return call->chain->writer;
}

#endif
