/*
 * libmotan observability: call statistics (a pull API, JSON and Prometheus text) and the
 * filter chain every client call (and, with a server, every dispatched request) runs
 * through. docs/observability.md lists every metric, bucket and metadata key.
 *
 * Filters are named in the client URL, in order: filter=trace,accessLog,metrics. Built-ins:
 *   metrics    counts calls and attempts into the client's stats (below);
 *   accessLog  one line per call through the log callback (level info);
 *   trace      W3C trace context: traceparent/tracestate and requestIdFromClient metadata.
 * Your own filters are registered by name with motan_filter_register.
 */
#ifndef MOTAN_OBSERVE_H
#define MOTAN_OBSERVE_H

#include <motan/codec.h>

/* ==== statistics ======================================================================== */

/*
 * A stats source: counters and latency histograms per (side, service, group, method) for
 * calls, per (side, service, group, method, endpoint) for attempts, and the availability
 * (fused or not) of each endpoint. Clients feed one (their own, or one given with
 * motan_config_set_stats, so that several clients and a server share it); each feeding
 * loop thread writes its own counters and readers add them up, so recording takes no lock
 * and no atomic read-modify-write. Thread-safe; reference-counted.
 */
typedef struct motan_stats motan_stats;

/* owned: free with motan_stats_free (drops the caller's reference; users keep theirs). */
int motan_stats_new(motan_stats **out);
void motan_stats_free(motan_stats *s);

/*
 * Latency histograms have fixed buckets (docs/observability.md): motan_stats_bucket_count()
 * upper bounds in microseconds, ascending, the last one UINT64_MAX (+Inf). Counts are per
 * bucket (a latency equal to a bound falls in that bound's bucket).
 */
size_t motan_stats_bucket_count(void);
uint64_t motan_stats_bucket_bound_us(size_t i);

/* What a series counts. */
typedef enum motan_stats_kind {
    MOTAN_STATS_CALL = 0,    /* calls as the caller sees them (retries included) */
    MOTAN_STATS_ATTEMPT = 1, /* attempts sent to one endpoint, counted when they end */
    MOTAN_STATS_ENDPOINT = 2 /* an endpoint's availability and calls in flight */
} motan_stats_kind;

/*
 * One series of a snapshot, as motan_stats_walk hands it out (borrowed for the visit).
 * struct_size is the size the library filled in: fields may be added at the end.
 */
typedef struct motan_stats_series {
    size_t struct_size;
    int kind;                         /* motan_stats_kind */
    const char *side;                 /* "client" or "server" */
    const char *service, *group;
    const char *method;               /* "" for ENDPOINT */
    const char *endpoint;             /* "" for CALL */
    uint64_t started;                 /* CALL: calls begun; ATTEMPT: = count */
    uint64_t count;                   /* finished: the histogram's count */
    uint64_t ok;                      /* finished with MOTAN_OK */
    uint64_t in_flight;               /* CALL: started - count; ENDPOINT: as reported; else 0 */
    uint64_t sum_us;                  /* total latency of the finished ones */
    size_t nbuckets;                  /* motan_stats_bucket_count() */
    const uint64_t *buckets;          /* per-bucket counts, nbuckets of them */
    size_t ncodes;                    /* errors by code: codes[i] happened code_counts[i] times */
    const int *codes;                 /* MOTAN_E* codes (-1, -2, ...; 0 for unknown codes) */
    const uint64_t *code_counts;
    double p50_us, p90_us, p99_us, p999_us; /* from the buckets (interpolated), 0 when empty */
    int available;                    /* ENDPOINT: 1 available, 0 fused */
} motan_stats_series;

/*
 * Calls visit for each series of a consistent snapshot (series fed by several threads are
 * added up), sorted by kind, side, service, group, method, endpoint; visit returns 0 to go
 * on. Returns MOTAN_OK, MOTAN_ENOMEM, or visit's non-zero value.
 */
typedef int (*motan_stats_visitor)(const motan_stats_series *series, void *userdata);
int motan_stats_walk(motan_stats *s, motan_stats_visitor visit, void *userdata);

/*
 * The snapshot as JSON (docs/observability.md). owned: free with motan_free; NULL on out
 * of memory.
 */
char *motan_stats_json(motan_stats *s);

/*
 * Prometheus text exposition (format 0.0.4) of n sources, merged: one family per metric
 * name (motan_client_calls_total, motan_client_call_duration_seconds, ...), series with
 * the same labels added up. *out: owned, NUL-terminated, free with motan_free; *len (may be
 * NULL) its length. Serve it as "text/plain; version=0.0.4".
 */
int motan_stats_prometheus(motan_stats *const *sources, size_t n, char **out, size_t *len);

/* ==== filters =========================================================================== */

/* One call (or dispatched request) as filters see it. Borrowed inside a hook only. */
typedef struct motan_filter_call motan_filter_call;

typedef enum motan_side { MOTAN_SIDE_CLIENT = 0, MOTAN_SIDE_SERVER = 1 } motan_side;

/* Filter flags. */
typedef enum motan_filter_flags {
    /* Attempts measure their phases (motan_filter_call_phase_us); costs a few clock reads. */
    MOTAN_FILTER_PHASES = 1
} motan_filter_flags;

/*
 * A filter. Hooks run on the loop thread of the call, in chain order for before and
 * attempt_start, in reverse order for attempt_end and after (an onion). Any hook may be
 * NULL. before may reject the call by returning a MOTAN_E* code (with an optional message,
 * motan_filter_call_set_errmsg): the call then completes with that code without being sent,
 * and only the filters whose before ran (earlier ones) see after. Every attempt_start is
 * matched by one attempt_end, every accepted before by one after.
 */
typedef struct motan_filter_ops {
    size_t struct_size; /* sizeof(motan_filter_ops) as compiled by the registrant */
    const char *name;
    unsigned flags;     /* motan_filter_flags */
    void *userdata;     /* handed to create */
    /*
     * State for one chain (a client, or a server's dispatch): url is the client's URL,
     * stats the source the chain feeds (borrowed, lives as long as the state). NULL create:
     * the state is userdata. Returning NULL fails the client's creation.
     */
    void *(*create)(const motan_url *url, int side, motan_stats *stats, void *userdata);
    void (*destroy)(void *state);
    int (*before)(void *state, motan_filter_call *call);
    void (*attempt_start)(void *state, motan_filter_call *call);
    void (*attempt_end)(void *state, motan_filter_call *call);
    void (*after)(void *state, motan_filter_call *call);
} motan_filter_ops;

/*
 * Registers ops (copied) under ops->name. MOTAN_EINVAL for a missing name, a struct_size
 * smaller than the first version of this struct or larger with non-zero unknown fields, or a
 * name already taken. Names are case-sensitive.
 */
int motan_filter_register(const motan_filter_ops *ops);
/* 1 when a filter of that name is registered (built-ins included). */
int motan_filter_exists(const char *name);

/* ---- what a hook can read ---- */

int motan_filter_call_side(const motan_filter_call *call);
const char *motan_filter_call_service(const motan_filter_call *call);
const char *motan_filter_call_group(const motan_filter_call *call);
const char *motan_filter_call_method(const motan_filter_call *call);
int motan_filter_call_serialization(const motan_filter_call *call);
/*
 * Bytes of the request body. On the client, arguments not prepared (motan_request_prepare)
 * are measured by serializing them once more (calls never write to the request), the first
 * time a hook asks: chains whose hooks never ask do not pay for it.
 */
size_t motan_filter_call_request_size(const motan_filter_call *call);
/*
 * Metadata of the request: what filters added (motan_filter_call_set_meta) first, then the
 * request's own; NULL when absent. Borrowed for the hook.
 */
const char *motan_filter_call_get_meta(const motan_filter_call *call, const char *key);
/* Monotonic start of the call (motan_now_us clock). */
uint64_t motan_filter_call_start_us(const motan_filter_call *call);
/*
 * Inside attempt_start / attempt_end: the attempt's number (0, 1, ...) and endpoint
 * ("host:port"); elsewhere -1 and the last attempt's endpoint ("" before any; "?" when some
 * endpoint was freed since that attempt ended, as it may have been this one).
 */
int motan_filter_call_attempt(const motan_filter_call *call);
const char *motan_filter_call_endpoint(const motan_filter_call *call);
/* Attempts sent so far. */
int motan_filter_call_attempts(const motan_filter_call *call);
/* attempt_end: 1 when the endpoint is still available after it, 0 when it is fused. */
int motan_filter_call_endpoint_available(const motan_filter_call *call);
/*
 * attempt_end and after: the result code, its latency in microseconds (of the attempt,
 * or of the whole call), the response (NULL when there is none, e.g. on a server), its body
 * size (on a server: the answer frame's), and (attempt_end, with MOTAN_FILTER_PHASES) the
 * time spent in each phase.
 */
int motan_filter_call_code(const motan_filter_call *call);
uint64_t motan_filter_call_latency_us(const motan_filter_call *call);
const motan_response *motan_filter_call_response(const motan_filter_call *call);
size_t motan_filter_call_response_size(const motan_filter_call *call);
uint64_t motan_filter_call_phase_us(const motan_filter_call *call, int phase);
/*
 * Trace context once the `trace` filter ran (NULL otherwise): the call's span as W3C
 * traceparent text "00-<trace-id>-<span-id>-<flags>", the parent span id (16 hex
 * digits; NULL for a root span), and the requestIdFromClient value. Borrowed for the call.
 */
const char *motan_filter_call_traceparent(const motan_filter_call *call);
const char *motan_filter_call_parent_span_id(const motan_filter_call *call);
const char *motan_filter_call_request_id(const motan_filter_call *call);
/*
 * A pointer-sized slot per filter and call (NULL at before), e.g. for what before looked up
 * and after needs. Valid in the hooks of the filter that owns it.
 */
void **motan_filter_call_data(motan_filter_call *call);

/* ---- what a hook can do ---- */

/*
 * before only: adds (or replaces) metadata sent with every attempt of this call; the
 * caller's request is not changed. Keys: non-empty, no '\n', not reserved (M_*); values: no
 * '\n', "" removes (also the request's own entry of that key). MOTAN_EINVAL otherwise (or
 * outside before), MOTAN_ENOMEM (16 entries at most). On a server nothing is sent.
 */
int motan_filter_call_set_meta(motan_filter_call *call, const char *key, const char *value);
/* before only, with a rejection: the message the caller gets (copied). */
void motan_filter_call_set_errmsg(motan_filter_call *call, const char *msg);

/* ==== chains (for layers that run calls: the cluster, a server) ======================== */

/*
 * The filters of one client or server, with their state. Single-threaded: a chain runs on
 * one loop thread (a server with several threads makes one per thread, feeding one stats).
 */
typedef struct motan_filter_chain motan_filter_chain;

/*
 * names: comma-separated filter names (NULL or "": an empty chain, which costs nothing);
 * stats: the source its filters feed (a reference is kept). Unknown names: MOTAN_EURL with
 * errbuf. owned: free with motan_filter_chain_free once no call runs through it.
 */
int motan_filter_chain_new(const char *names, const motan_url *url, int side, motan_stats *stats,
                           motan_filter_chain **out, char *errbuf, size_t errlen);
void motan_filter_chain_free(motan_filter_chain *ch);
/* Number of filters; the OR of their flags. */
size_t motan_filter_chain_length(const motan_filter_chain *ch);
unsigned motan_filter_chain_flags(const motan_filter_chain *ch);
/* The stats source (borrowed). */
motan_stats *motan_filter_chain_stats(const motan_filter_chain *ch);

/* Looks metadata up in the request (or incoming frame) a call was started with. */
typedef const char *(*motan_meta_lookup)(const void *source, const char *key);

/*
 * Starts a call: runs the before hooks. *out always gets the call context (borrowed from
 * the chain until motan_filter_chain_end, which must follow exactly once, also after a
 * rejection). Returns MOTAN_OK, the rejecting filter's code (message in errbuf, may be NULL),
 * or MOTAN_ENOMEM (*out NULL). Strings are borrowed until _end; service must moreover keep
 * its text for as long as the chain lives (statistics are looked up by its address: pass
 * the cluster's or server's own copy, not the request's).
 */
int motan_filter_chain_begin(motan_filter_chain *ch, const char *service, const char *group,
                             const char *method, int serialization, size_t request_size,
                             motan_meta_lookup lookup, const void *source, uint64_t start_us,
                             motan_filter_call **out, char *errbuf, size_t errlen);
/* Metadata the filters added: *n entries meta[2i] = meta[2i + 1], borrowed until _end. */
const char *const *motan_filter_call_added_meta(const motan_filter_call *call, size_t *n);
/* Attempt number attempt (0, 1, ...) was sent to endpoint (borrowed until its end). */
void motan_filter_chain_attempt_start(motan_filter_call *call, int attempt, const char *endpoint);
/* It finished with code after latency_us; resp may be NULL. */
void motan_filter_chain_attempt_end(motan_filter_call *call, int attempt, const char *endpoint,
                                    int code, const motan_response *resp, int available,
                                    uint64_t latency_us);
/*
 * The call finished with code at end_us: runs the after hooks and gives the call context
 * back. resp may be NULL, response_size is then the size of the answer's body.
 */
void motan_filter_chain_end(motan_filter_call *call, int code, const motan_response *resp,
                            size_t response_size, uint64_t end_us);
/*
 * The availability of an endpoint (1 available, 0 fused) and its calls in flight, for the
 * stats' endpoint series, reported from the chain's thread by its owner (a client refreshes
 * its endpoints every second while filters run, and for motan_client_stats_json).
 */
void motan_filter_chain_report_endpoint(motan_filter_chain *ch, const char *service,
                                        const char *group, const char *endpoint, int available,
                                        uint64_t in_flight);

#endif /* MOTAN_OBSERVE_H */
