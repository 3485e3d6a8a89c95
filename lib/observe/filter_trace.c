/*
 * trace: W3C trace context (https://www.w3.org/TR/trace-context/) and motan's request id.
 *
 * Client side: a valid `traceparent` on the request (the caller's span, e.g. taken from the
 * request being served) makes this call a child span of it: same trace-id, a new span id,
 * the sampled flag kept, and `tracestate` travels on unchanged; without one (or with an
 * invalid one, whose tracestate is then dropped) the call starts a new trace. The call's
 * traceparent replaces the request's in the metadata sent. `requestIdFromClient` (Java
 * motan's key for the id of the call that started a chain) is kept when the request has it,
 * else set to a new id made like Java's, (ms << 20) + counter.
 * Server side: the same reading of the incoming metadata, nothing is written.
 * The span is available to later filters (motan_filter_call_traceparent, ...): put an
 * exporter after trace in the list and give it before (span start) and after (span end).
 */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "observe/observe_int.h"

typedef struct trace_state {
    uint64_t s[2]; /* xorshift128+ */
    uint32_t counter;
} trace_state;

static uint64_t next_rand(trace_state *t)
{
    uint64_t x = t->s[0], y = t->s[1];
    t->s[0] = y;
    x ^= x << 23;
    t->s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return t->s[1] + y;
}

static void *t_create(const motan_url *url, int side, motan_stats *stats, void *userdata)
{
    MOTAN_UNUSED(url);
    MOTAN_UNUSED(side);
    MOTAN_UNUSED(stats);
    MOTAN_UNUSED(userdata);
    trace_state *t = motan__calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (getrandom(t->s, sizeof(t->s), GRND_NONBLOCK) != (ssize_t)sizeof(t->s)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        t->s[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
        t->s[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)t;
    }
    t->s[0] |= 1; /* never the all-zero state */
    return t;
}

static void t_destroy(void *state) { motan_free(state); }

static int lower_hex(const char *p, size_t n, int *all_zero)
{
    int zero = 1;
    for (size_t i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
        zero &= p[i] == '0';
    }
    if (all_zero)
        *all_zero = zero;
    return 1;
}

/* traceparent: version "-" trace-id "-" parent-id "-" flags, lowercase hex (§3.2). */
static int parse_traceparent(const char *v, const char **trace, const char **parent, int *flags)
{
    if (!v)
        return 0;
    size_t n = strlen(v);
    int zero;
    if (n < 55 || !lower_hex(v, 2, NULL) || !strncmp(v, "ff", 2) || v[2] != '-' ||
        v[35] != '-' || v[52] != '-')
        return 0;
    if (!strncmp(v, "00", 2) ? n != 55 : (n > 55 && v[55] != '-')) /* later versions may grow */
        return 0;
    if (!lower_hex(v + 3, 32, &zero) || zero || !lower_hex(v + 36, 16, &zero) || zero ||
        !lower_hex(v + 53, 2, NULL))
        return 0;
    *trace = v + 3;
    *parent = v + 36;
    *flags = motan__hexval(v[53]) * 16 + motan__hexval(v[54]);
    return 1;
}

static void put_hex64(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 14; i >= 0; i -= 2) { /* a byte at a time */
        out[i] = digits[(v >> 4) & 15];
        out[i + 1] = digits[v & 15];
        v >>= 8;
    }
}

static uint64_t nonzero(trace_state *t)
{
    uint64_t v;
    while (!(v = next_rand(t)))
        ;
    return v;
}

static int t_before(void *state, motan_filter_call *call)
{
    trace_state *t = state;
    const char *in = motan_filter_call_get_meta(call, "traceparent");
    const char *trace = NULL, *parent = NULL;
    int flags = 1; /* a new trace is sampled */
    int valid = parse_traceparent(in, &trace, &parent, &flags);
    char *tp = call->traceparent; /* 00-<32>-<16>-<2> */
    memcpy(tp, "00-", 3);
    if (valid) {
        memcpy(tp + 3, trace, 32);
        memcpy(call->parent_span, parent, 16);
        call->parent_span[16] = '\0';
    } else {
        put_hex64(tp + 3, nonzero(t));
        put_hex64(tp + 19, next_rand(t));
        call->parent_span[0] = '\0';
    }
    tp[35] = '-';
    put_hex64(tp + 36, nonzero(t));
    memcpy(tp + 52, flags & 1 ? "-01" : "-00", 4); /* only the sampled flag is defined (level 1) */
    call->traced = 1;

    const char *rid = motan_filter_call_get_meta(call, "requestIdFromClient");
    int new_id = !(rid && *rid && strlen(rid) < sizeof(call->request_id));
    if (!new_id) {
        memcpy(call->request_id, rid, strlen(rid) + 1); /* already on the request */
    } else {
        struct timespec ts; /* milliseconds: the coarse clock is plenty */
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        uint64_t id = (ms << 20) + (t->counter++ & 0xfffff);
        call->request_id[motan__put_dec(call->request_id, id)] = '\0';
    }
    if (motan_filter_call_side(call) != MOTAN_SIDE_CLIENT)
        return MOTAN_OK;
    /* Our own texts, valid for the call: no copy, no check (no newline can be in them). */
    motan__call_put_meta(call, "traceparent", tp);
    if (!valid && motan_filter_call_get_meta(call, "tracestate"))
        motan__call_put_meta(call, "tracestate", "");
    if (new_id)
        motan__call_put_meta(call, "requestIdFromClient", call->request_id);
    return MOTAN_OK; /* no room for metadata: the call goes anyway */
}

const motan_filter_ops motan__filter_trace = {
    .struct_size = sizeof(motan_filter_ops),
    .name = "trace",
    .create = t_create,
    .destroy = t_destroy,
    .before = t_before,
};
