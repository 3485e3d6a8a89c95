/*
 * The outcome of a call. Everything a response hands out (value, metadata, messages) lives
 * in its arena, so one motan_response_free releases it all and a reset reuses the memory.
 * Only the endpoint has its own buffer: it is set by the transport before the frame arrives
 * and survives motan_response_set_frame.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_int.h"

typedef struct rmeta {
    const char *k, *v;
} rmeta;

struct motan_response {
    int code;
    const motan_value *value;
    const char *errmsg;
    int64_t errcode;
    int errtype;
    int64_t process_time;
    uint64_t id;
    motan_arena *arena;
    rmeta *meta;
    size_t nmeta, cmeta;
    size_t max_decoded; /* decoded-size budget of set_frame; 0: the default */
    const uint8_t *body; /* set_frame_raw: the body as received (in the arena) */
    size_t body_len;
    int ser;             /* serialization id of the frame; -1: none */
    motan__frame_hold hold; /* the received frame big bytes values point into; release NULL: none */
    motan_buf endpoint; /* NUL-terminated when not empty */
    size_t body_size;   /* of the frame it was filled from */
    uint64_t received_us;
    uint32_t phase_us[MOTAN_PHASE_COUNT];
    struct motan_response *next_spare; /* in the pool */
};

/*
 * Freed responses are kept for reuse (a warm call allocates none): process-wide, because a
 * response outlives the client that made it and is freed on any thread. Bounded in number
 * and in what each keeps (arena blocks, metadata slots); emptied when the allocator hooks
 * change. Off under AddressSanitizer, which must still see a response used after its free.
 */
#define POOL_MAX (MOTAN__ASAN ? 0 : 256)
#define POOL_KEEP_BLOCK (32 * 1024) /* largest arena block a pooled response keeps */
#define POOL_KEEP_META 32
#define POOL_KEEP_ENDPOINT 256

static motan__freelist g_pool =
    MOTAN__FREELIST_INIT(POOL_MAX, offsetof(struct motan_response, next_spare));
static pthread_once_t g_pool_once = PTHREAD_ONCE_INIT;

/* Values that point into the held frame are gone (or about to be): the frame may go. */
static void drop_hold(motan_response *r)
{
    void (*release)(void *) = r->hold.release;
    if (release) {
        r->hold.release = NULL;
        release(r->hold.ctx);
    }
}

static void destroy(motan_response *r)
{
    drop_hold(r);
    motan_arena_free(r->arena);
    motan_free(r->meta);
    motan_free(r->endpoint.data);
    motan_free(r);
}

static void destroy_v(void *r) { destroy(r); }

static void pool_drain(void) { motan__freelist_drain(&g_pool, destroy_v); }

static void pool_register(void) { motan__alloc_on_change(pool_drain); }

static motan_response *pool_get(void) { return POOL_MAX ? motan__freelist_get(&g_pool) : NULL; }

/* 1 when r went into the pool (its contents are gone). */
static int pool_put(motan_response *r)
{
    if (!POOL_MAX)
        return 0;
    pthread_once(&g_pool_once, pool_register);
    drop_hold(r); /* a pooled response pins no frame */
    if (r->cmeta > POOL_KEEP_META) {
        motan_free(r->meta);
        r->meta = NULL;
        r->cmeta = 0;
    }
    if (r->endpoint.cap > POOL_KEEP_ENDPOINT) {
        motan_free(r->endpoint.data);
        r->endpoint.data = NULL;
        r->endpoint.cap = 0;
    }
    motan__arena_trim(r->arena, POOL_KEEP_BLOCK);
    motan_arena_set_limit(r->arena, 0);
    motan_response *gone = motan__freelist_put(&g_pool, r);
    if (gone)
        destroy(gone);
    return 1;
}

/* The value of an empty body: shared, never written to. */
static const motan_value null_value = {.type = MOTAN_T_NULL};

/*
 * What a completion carries when not even a response can be allocated: shared, read-only
 * (every setter leaves it alone, motan_response_free ignores it), so a callback never gets
 * NULL and a call still completes exactly once.
 */
static motan_response oom_response = {
    .code = MOTAN_ENOMEM,
    .errmsg = "out of memory",
    .errtype = -1,
    .process_time = -1,
    .ser = -1,
};

/* Not the shared out-of-memory response (nor NULL): may be written. */
static int writable(const motan_response *r) { return r && r != &oom_response; }

static void clear_result(motan_response *r)
{
    motan_arena_reset(r->arena);
    drop_hold(r);
    r->code = MOTAN_OK;
    r->value = &null_value;
    r->errmsg = "";
    r->errcode = 0;
    r->errtype = -1;
    r->process_time = -1;
    r->nmeta = 0;
    r->body = NULL;
    r->body_len = 0;
    r->ser = -1;
    r->body_size = 0;
}

MOTAN_EXPORT motan_response *motan_response_new(void)
{
    motan_response *r = pool_get();
    if (r) {
        /* Everything but the kept memory (arena, metadata slots, endpoint buffer). */
        r->id = 0;
        r->max_decoded = 0;
        r->endpoint.len = 0;
        r->received_us = 0;
        memset(r->phase_us, 0, sizeof(r->phase_us));
        r->next_spare = NULL;
        clear_result(r);
        return r;
    }
    r = motan__calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->arena = motan_arena_new();
    if (!r->arena) {
        motan_free(r);
        return NULL;
    }
    clear_result(r);
    return r;
}

MOTAN_EXPORT motan_response *motan_response_new_or_oom(void)
{
    motan_response *r = motan_response_new();
    return r ? r : &oom_response;
}

MOTAN_EXPORT void motan_response_free(motan_response *r)
{
    if (!writable(r))
        return;
    if (!pool_put(r))
        destroy(r);
}

MOTAN_EXPORT void motan_response_reset(motan_response *r)
{
    if (!writable(r))
        return;
    clear_result(r);
    r->id = 0;
    r->endpoint.len = 0;
    memset(r->phase_us, 0, sizeof(r->phase_us));
    r->received_us = 0;
}

MOTAN_EXPORT int motan_response_get_code(const motan_response *r) { return r->code; }
MOTAN_EXPORT const motan_value *motan_response_get_value(const motan_response *r) { return r->value; }
MOTAN_EXPORT const char *motan_response_get_errmsg(const motan_response *r) { return r->errmsg; }
MOTAN_EXPORT int64_t motan_response_get_errcode(const motan_response *r) { return r->errcode; }
MOTAN_EXPORT int motan_response_get_errtype(const motan_response *r) { return r->errtype; }
MOTAN_EXPORT int64_t motan_response_get_process_time(const motan_response *r) { return r->process_time; }
MOTAN_EXPORT uint64_t motan_response_get_request_id(const motan_response *r) { return r->id; }
MOTAN_EXPORT motan_arena *motan_response_arena(motan_response *r) { return r->arena; }
MOTAN_EXPORT size_t motan_response_get_body_size(const motan_response *r) { return r->body_size; }

MOTAN_EXPORT uint64_t motan_response_get_received_us(const motan_response *r)
{
    return r->received_us;
}

MOTAN_EXPORT void motan_response_set_received_us(motan_response *r, uint64_t us)
{
    if (writable(r))
        r->received_us = us;
}

MOTAN_EXPORT uint64_t motan_response_get_phase_us(const motan_response *r, int phase)
{
    return phase >= 0 && phase < MOTAN_PHASE_COUNT ? r->phase_us[phase] : 0;
}

MOTAN_EXPORT void motan_response_set_phase_us(motan_response *r, int phase, uint64_t us)
{
    if (writable(r) && phase >= 0 && phase < MOTAN_PHASE_COUNT)
        r->phase_us[phase] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

MOTAN_EXPORT const char *motan_response_get_endpoint(const motan_response *r)
{
    return r->endpoint.len ? (const char *)r->endpoint.data : "";
}

MOTAN_EXPORT const char *motan_response_get_meta(const motan_response *r, const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = r->nmeta; i-- > 0;)
        if (strcmp(r->meta[i].k, key) == 0)
            return r->meta[i].v;
    return NULL;
}

MOTAN_EXPORT size_t motan_response_meta_count(const motan_response *r) { return r->nmeta; }

MOTAN_EXPORT const char *motan_response_meta_key(const motan_response *r, size_t i)
{
    return i < r->nmeta ? r->meta[i].k : NULL;
}

MOTAN_EXPORT const char *motan_response_meta_value(const motan_response *r, size_t i)
{
    return i < r->nmeta ? r->meta[i].v : NULL;
}

/* A message copied into the arena; a static fallback when memory runs out. */
static const char *arena_msg(motan_response *r, const char *msg, size_t len)
{
    const char *p = motan__arena_strndup(r->arena, msg ? msg : "", msg ? len : 0);
    return p ? p : "out of memory";
}

static int fail(motan_response *r, int code, const char *msg)
{
    r->code = code;
    r->value = NULL;
    r->errcode = 0;
    r->errtype = -1;
    r->errmsg = arena_msg(r, msg, strlen(msg));
    return code;
}

MOTAN_EXPORT void motan_response_set_error(motan_response *r, int code, const char *msg)
{
    if (!writable(r))
        return;
    fail(r, code < 0 ? code : MOTAN_EINVAL, msg ? msg : motan_strerror(code));
}

MOTAN_EXPORT void motan_response_set_remote_error(motan_response *r, int64_t errcode, int errtype,
                                                  const char *msg)
{
    if (!writable(r))
        return;
    r->code = MOTAN_EREMOTE;
    r->value = NULL;
    r->errcode = errcode;
    r->errtype = errtype;
    r->errmsg = arena_msg(r, msg, msg ? strlen(msg) : 0);
}

MOTAN_EXPORT int motan_response_set_value(motan_response *r, const motan_value *v)
{
    if (!writable(r))
        return r ? MOTAN_ENOMEM : MOTAN_EINVAL;
    const motan_value *c = &null_value;
    if (v && !(c = motan_value_copy(r->arena, v)))
        return fail(r, MOTAN_ENOMEM, "out of memory for the result value");
    r->code = MOTAN_OK;
    r->value = c;
    r->errmsg = "";
    r->errcode = 0;
    r->errtype = -1;
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_response_set_endpoint(motan_response *r, const char *endpoint)
{
    if (!writable(r))
        return;
    r->endpoint.len = 0;
    size_t n = endpoint ? strlen(endpoint) : 0;
    if (n && motan_buf_reserve(&r->endpoint, n + 1) == MOTAN_OK) {
        motan__buf_put(&r->endpoint, endpoint, n);
        r->endpoint.data[n] = '\0';
    }
}

MOTAN_EXPORT void motan_response_set_max_decoded(motan_response *r, size_t max_bytes)
{
    if (writable(r))
        r->max_decoded = max_bytes;
}

MOTAN_EXPORT void motan_response_set_request_id(motan_response *r, uint64_t id)
{
    if (writable(r))
        r->id = id;
}

/* M_pt as strtoll would read it up to a NUL, without its locale and errno cost: -1 if bad. */
static int64_t parse_pt(const char *s, size_t len)
{
    size_t n = s ? strnlen(s, len) : 0, i = 0;
    int neg = n && s[0] == '-';
    if (n == (size_t)neg)
        return -1;
    uint64_t v = 0, max = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    return neg ? (v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v) : (int64_t)v;
}

static int copy_meta(motan_response *r, const motan_frame *f)
{
    size_t n = motan_frame_meta_count(f);
    if (n > r->cmeta) {
        if (n > SIZE_MAX / sizeof(rmeta))
            return MOTAN_ENOMEM;
        rmeta *m = motan_realloc(r->meta, n * sizeof(*m));
        if (!m)
            return MOTAN_ENOMEM;
        r->meta = m;
        r->cmeta = n;
    }
    if (!n)
        return MOTAN_OK;
    /* One copy of the metadata block, each key and value ended by a NUL where a newline (or
     * the block's end) was: no allocation and no copy per entry. Entries are in wire order. */
    const motan__meta_ent *last = &f->ents[n - 1];
    size_t end = (size_t)last->voff + last->vlen;
    char *copy = motan_arena_alloc(r->arena, end + 1);
    if (!copy)
        return MOTAN_ENOMEM;
    memcpy(copy, f->meta, end);
    const motan__meta_ent *pt = NULL; /* the last M_pt, as motan_response_get_meta finds it */
    for (size_t i = 0; i < n; i++) {
        const motan__meta_ent *e = &f->ents[i];
        if (e->klen == 4 && !memcmp(copy + e->koff, "M_pt", 4))
            pt = e;
        copy[e->koff + e->klen] = '\0';
        copy[e->voff + e->vlen] = '\0';
        r->meta[i].k = copy + e->koff;
        r->meta[i].v = copy + e->voff;
    }
    r->nmeta = n;
    if (pt)
        r->process_time = parse_pt(copy + pt->voff, pt->vlen);
    return MOTAN_OK;
}

/*
 * What every frame gives: id, serialization, metadata, M_pt and, for status != 0, the remote
 * error. 1 when the response is complete after it (an error), 0 when the body is next.
 */
static int set_head(motan_response *r, const motan_frame *f)
{
    clear_result(r);
    r->id = motan_frame_get_request_id(f);
    r->ser = motan_frame_get_serialization(f);
    motan_frame_body(f, &r->body_size);
    if (copy_meta(r, f) != MOTAN_OK) {
        fail(r, MOTAN_ENOMEM, "out of memory for the response metadata");
        return 1;
    }

    int64_t errcode;
    int errtype;
    const char *msg;
    size_t msglen;
    if (motan_frame_error(f, &errcode, &errtype, &msg, &msglen)) {
        r->code = MOTAN_EREMOTE;
        r->value = NULL;
        r->errcode = errcode;
        r->errtype = errtype;
        r->errmsg = arena_msg(r, msg, msglen);
        return 1;
    }
    return 0;
}

/* The body as bytes in the arena (pass-through: nobody decodes it here). */
static int keep_body(motan_response *r, const uint8_t *body, size_t blen)
{
    uint8_t *copy = motan_arena_alloc(r->arena, blen + 1);
    if (!copy)
        return fail(r, MOTAN_ENOMEM, "out of memory for the response body");
    if (blen)
        memcpy(copy, body, blen);
    copy[blen] = 0;
    r->value = NULL;
    r->body = copy;
    r->body_len = blen;
    return MOTAN_OK;
}

MOTAN_EXPORT const uint8_t *motan_response_get_body(const motan_response *r, size_t *len)
{
    if (len)
        *len = r && r->body ? r->body_len : 0;
    return r ? r->body : NULL;
}

MOTAN_EXPORT int motan_response_get_serialization(const motan_response *r)
{
    return r ? r->ser : -1;
}

/* The hold applies: a body that sits in the held memory as received (not inflated). */
static int body_held(const motan__frame_hold *h, const motan_frame *f, const uint8_t *body,
                     size_t blen)
{
    return h && !(motan_frame_get_flags(f) & MOTAN_FLAG_GZIP) && body >= h->lo && body <= h->hi &&
           blen <= (size_t)(h->hi - body);
}

static int from_frame(motan_response *r, const motan_frame *f, int raw,
                      const motan__frame_hold *h, size_t *views)
{
    if (!r || !f)
        return MOTAN_EINVAL;
    if (!writable(r))
        return MOTAN_ENOMEM;
    if (set_head(r, f))
        return r->code;
    size_t blen;
    const uint8_t *body = motan_frame_body(f, &blen);
    if (raw && blen >= MOTAN__VIEW_MIN && body_held(h, f, body, blen)) {
        r->value = NULL; /* pass-through: the body as received, a view */
        r->body = body;
        r->body_len = blen;
        *views = 1;
        return MOTAN_OK;
    }
    if (raw)
        return keep_body(r, body, blen);
    motan_frame_kind kind = motan_frame_get_kind(f);
    if (blen == 0 || kind == MOTAN_FRAME_HEARTBEAT_REQUEST || kind == MOTAN_FRAME_HEARTBEAT_RESPONSE)
        return MOTAN_OK; /* null (§5.5), or a heartbeat: nothing to decode */
    int ser = motan_frame_get_serialization(f);
    char err[200], text[256];
    if (!motan_serialization_supported(ser)) {
        snprintf(text, sizeof(text), "unsupported serialization %d (%s) in the response", ser,
                 motan_serialization_name(ser));
        return fail(r, MOTAN_EUNSUPPORTED, text);
    }
    motan_value *v = NULL;
    err[0] = '\0';
    size_t budget = r->max_decoded ? r->max_decoded : MOTAN_DEFAULT_MAX_DECODED;
    size_t used = motan_arena_used(r->arena);
    motan_arena_set_limit(r->arena, budget > SIZE_MAX - used ? 0 : used + budget);
    int rc;
    if (ser == MOTAN_SER_SIMPLE && body_held(h, f, body, blen))
        rc = motan__budget_rc(r->arena,
                              motan__simple_decode_views(body, blen, r->arena, MOTAN__VIEW_MIN,
                                                         views, &v, err, sizeof(err)),
                              err, sizeof(err));
    else
        rc = motan_deserialize_value(ser, body, blen, r->arena, &v, err, sizeof(err));
    motan_arena_set_limit(r->arena, 0); /* the budget is the decode's, not the message's */
    if (rc == MOTAN_ETOOBIG)
        snprintf(err, sizeof(err), "decoded values exceed maxDecodedSize (%zu bytes)", budget);
    if (rc != MOTAN_OK) {
        snprintf(text, sizeof(text), "cannot decode the response body: %s",
                 err[0] ? err : motan_strerror(rc));
        return fail(r, rc == MOTAN_ENOMEM || rc == MOTAN_ETOOBIG ? rc : MOTAN_EDECODE, text);
    }
    r->value = v ? v : &null_value;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_response_set_frame_raw(motan_response *r, const motan_frame *f)
{
    return from_frame(r, f, 1, NULL, NULL);
}

MOTAN_EXPORT int motan_response_set_frame(motan_response *r, const motan_frame *f)
{
    return from_frame(r, f, 0, NULL, NULL);
}

int motan__response_set_frame_held(motan_response *r, const motan_frame *f, int raw,
                                   const motan__frame_hold *h)
{
    size_t views = 0;
    int rc = from_frame(r, f, raw, h, &views);
    if (rc == MOTAN_OK && views && writable(r))
        r->hold = *h; /* set_head dropped any earlier hold */
    else
        h->release(h->ctx);
    return rc;
}
