/*
 * A request as data: the reserved metadata fields, attachments, arguments (in the
 * request's arena) or a ready body, and the encoder that writes the whole frame (§2.7, §3.2).
 * Strings are stored with their lengths so that encoding never measures or copies twice.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "codec/codec_int.h"

/* Reserved fields, in the order they go on the wire (§3.2). */
enum { F_SERVICE, F_METHOD, F_MD, F_GROUP, F_VERSION, F_APP, F_MODULE, F_COUNT };

static const struct {
    const char *key;
    size_t klen;
} fkeys[F_COUNT] = {
    {"M_p", 3}, {"M_m", 3}, {"M_md", 4}, {"M_g", 3}, {"M_v", 3}, {"M_s", 3}, {"M_mdu", 5},
};

/* Keys set by the client itself: refused as attachments. */
static const char *const reserved[] = {"M_p", "M_m",   "M_md", "M_g",  "M_v",
                                       "M_s", "M_mdu", "M_pp", "M_tmo"};

typedef struct rstr {
    char *p; /* owned, NUL-terminated; NULL when unset */
    size_t len;
} rstr;

typedef struct attach {
    rstr k, v;
} attach;

/* Where the body comes from. */
enum { BODY_ARGS, BODY_RAW, BODY_STREAM };

/*
 * What keeps a request's bytes alive while a transport writes them by reference
 * (motan_request_encode_refs): one count for the request while it lives and one per
 * reference out. The request's body and arena pass to it when the request is freed; a body
 * replaced while references are out is kept here too. Freed with the last count.
 */
struct motan_request_hold {
    atomic_size_t refs;
    uint8_t *body;
    motan_arena *arena;
    uint8_t **retired;
    size_t nretired;
};

struct motan_request {
    _Atomic(motan_request_hold *) hold; /* made on first reference (any sending thread) */
    rstr f[F_COUNT];
    attach *att;
    size_t natt, catt;
    motan_arena *arena;
    motan_value **args;
    size_t nargs, cargs;
    motan_buf body;
    int body_from;
    int dirty;    /* BODY_ARGS: the body does not reflect the arguments yet */
    int body_ser; /* BODY_ARGS: the serialization the prepared body is in */
    int ser, ser_set;
    int timeout_ms;
    char *hash;
    size_t hash_len;
    int raw_response; /* pass-through: the response keeps its body undecoded */
    uint64_t meta_gen; /* new with every change of f or att: keys motan__meta_cache */
};

/* Process-wide, so that a request made where a freed one was never matches its entries. */
static atomic_uint_fast64_t meta_gens;

static void meta_changed(motan_request *r)
{
    r->meta_gen = atomic_fetch_add_explicit(&meta_gens, 1, memory_order_relaxed) + 1;
}

static void rstr_free(rstr *s)
{
    motan_free(s->p);
    s->p = NULL;
    s->len = 0;
}

/* Copies s (NULL or "" clears); '\n' cannot travel in metadata (§2.3). */
static int rstr_set(rstr *dst, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n && memchr(s, '\n', n))
        return MOTAN_EINVAL;
    char *p = NULL;
    if (n && !(p = motan__strndup(s, n)))
        return MOTAN_ENOMEM;
    motan_free(dst->p);
    dst->p = p;
    dst->len = n;
    return MOTAN_OK;
}

MOTAN_EXPORT motan_request *motan_request_new(const char *method)
{
    motan_request *r = motan__calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ser = MOTAN_SER_SIMPLE;
    r->dirty = 1;
    meta_changed(r);
    if (method && rstr_set(&r->f[F_METHOD], method) != MOTAN_OK) {
        motan_free(r);
        return NULL;
    }
    return r;
}

MOTAN_EXPORT void motan_request_hold_release(motan_request_hold *h)
{
    if (!h || atomic_fetch_sub(&h->refs, 1) != 1)
        return;
    for (size_t i = 0; i < h->nretired; i++)
        motan_free(h->retired[i]);
    motan_free(h->retired);
    motan_free(h->body);
    motan_arena_free(h->arena);
    motan_free(h);
}

/* r's hold, made when first needed (senders on several threads may race: one wins). */
static motan_request_hold *hold_of(const motan_request *r)
{
    motan_request *w = (motan_request *)r; /* only the atomic hold pointer is written */
    motan_request_hold *h = atomic_load(&w->hold);
    if (h)
        return h;
    motan_request_hold *fresh = motan__calloc(1, sizeof(*fresh));
    if (!fresh)
        return NULL;
    atomic_init(&fresh->refs, 1); /* the request's own */
    if (atomic_compare_exchange_strong(&w->hold, &h, fresh))
        return fresh;
    motan_free(fresh);
    return h;
}

/*
 * Before the body's memory is replaced or written: while references into it may still be
 * waiting to be written, it goes to the hold and the request starts a fresh one.
 */
static int body_detach(motan_request *r)
{
    motan_request_hold *h = atomic_load(&r->hold);
    if (!h || !r->body.data || atomic_load(&h->refs) <= 1)
        return MOTAN_OK;
    uint8_t **n = motan_realloc(h->retired, (h->nretired + 1) * sizeof(*n));
    if (!n)
        return MOTAN_ENOMEM;
    h->retired = n;
    n[h->nretired++] = r->body.data;
    r->body.data = NULL;
    r->body.len = r->body.cap = 0;
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_request_free(motan_request *r)
{
    if (!r)
        return;
    motan_request_hold *h = atomic_load(&r->hold);
    if (h) { /* what references may point into lives until they are written */
        h->body = r->body.data;
        h->arena = r->arena;
        r->body.data = NULL;
        r->arena = NULL;
        motan_request_hold_release(h);
    }
    for (int i = 0; i < F_COUNT; i++)
        rstr_free(&r->f[i]);
    for (size_t i = 0; i < r->natt; i++) {
        rstr_free(&r->att[i].k);
        rstr_free(&r->att[i].v);
    }
    motan_free(r->att);
    motan_arena_free(r->arena);
    motan_free(r->args);
    motan_free(r->body.data);
    motan_free(r->hash);
    motan_free(r);
}

/* ---- reserved fields --------------------------------------------------------------------- */

#define FIELD(name, idx)                                                                        \
    MOTAN_EXPORT int motan_request_set_##name(motan_request *r, const char *v)                  \
    {                                                                                           \
        if (!r)                                                                                 \
            return MOTAN_EINVAL;                                                                \
        meta_changed(r);                                                                        \
        return rstr_set(&r->f[idx], v);                                                         \
    }
FIELD(method, F_METHOD)
FIELD(service, F_SERVICE)
FIELD(method_desc, F_MD)
FIELD(group, F_GROUP)
FIELD(version, F_VERSION)
FIELD(application, F_APP)
FIELD(module, F_MODULE)
#undef FIELD

MOTAN_EXPORT const char *motan_request_get_method(const motan_request *r) { return r->f[F_METHOD].p; }
MOTAN_EXPORT const char *motan_request_get_service(const motan_request *r) { return r->f[F_SERVICE].p; }
MOTAN_EXPORT const char *motan_request_get_method_desc(const motan_request *r) { return r->f[F_MD].p; }
MOTAN_EXPORT const char *motan_request_get_group(const motan_request *r) { return r->f[F_GROUP].p; }
MOTAN_EXPORT const char *motan_request_get_version(const motan_request *r) { return r->f[F_VERSION].p; }
MOTAN_EXPORT const char *motan_request_get_application(const motan_request *r) { return r->f[F_APP].p; }

/* ---- attachments ------------------------------------------------------------------------- */

static attach *find_att(const motan_request *r, const char *key)
{
    for (size_t i = 0; i < r->natt; i++)
        if (strcmp(r->att[i].k.p, key) == 0)
            return &r->att[i];
    return NULL;
}

MOTAN_EXPORT int motan_request_set_meta(motan_request *r, const char *key, const char *val)
{
    if (!r || !key || !*key || strchr(key, '\n') || (val && strchr(val, '\n')))
        return MOTAN_EINVAL;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(key, reserved[i]) == 0)
            return MOTAN_EINVAL;
    meta_changed(r);
    attach *a = find_att(r, key);
    if (!val || !*val) {
        if (a) {
            rstr_free(&a->k);
            rstr_free(&a->v);
            size_t i = (size_t)(a - r->att);
            memmove(a, a + 1, (r->natt - i - 1) * sizeof(*a));
            r->natt--;
        }
        return MOTAN_OK;
    }
    if (a)
        return rstr_set(&a->v, val);
    if (r->natt == r->catt) {
        size_t n = r->catt ? r->catt * 2 : 4;
        attach *na = motan_realloc(r->att, n * sizeof(*na));
        if (!na)
            return MOTAN_ENOMEM;
        r->att = na;
        r->catt = n;
    }
    attach *na = &r->att[r->natt];
    memset(na, 0, sizeof(*na));
    if (rstr_set(&na->k, key) != MOTAN_OK)
        return MOTAN_ENOMEM;
    if (rstr_set(&na->v, val) != MOTAN_OK) {
        rstr_free(&na->k);
        return MOTAN_ENOMEM;
    }
    r->natt++;
    return MOTAN_OK;
}

MOTAN_EXPORT const char *motan_request_get_meta(const motan_request *r, const char *key)
{
    if (!r || !key)
        return NULL;
    attach *a = find_att(r, key);
    return a ? a->v.p : NULL;
}

MOTAN_EXPORT size_t motan_request_meta_count(const motan_request *r) { return r->natt; }

MOTAN_EXPORT const char *motan_request_meta_key(const motan_request *r, size_t i)
{
    return i < r->natt ? r->att[i].k.p : NULL;
}

MOTAN_EXPORT const char *motan_request_meta_value(const motan_request *r, size_t i)
{
    return i < r->natt ? r->att[i].v.p : NULL;
}

/* ---- arguments and body ------------------------------------------------------------------ */

MOTAN_EXPORT motan_arena *motan_request_arena(motan_request *r)
{
    if (r && !r->arena)
        r->arena = motan_arena_new();
    return r ? r->arena : NULL;
}

MOTAN_EXPORT int motan_request_add_arg(motan_request *r, motan_value *v)
{
    if (!r || !v)
        return MOTAN_EINVAL;
    if (r->body_from != BODY_ARGS) {
        r->body_from = BODY_ARGS;
        r->nargs = 0;
    }
    if (r->nargs == r->cargs) {
        size_t n = r->cargs ? r->cargs * 2 : 4;
        motan_value **na = motan_realloc(r->args, n * sizeof(*na));
        if (!na)
            return MOTAN_ENOMEM;
        r->args = na;
        r->cargs = n;
    }
    r->args[r->nargs++] = v;
    r->dirty = 1;
    return MOTAN_OK;
}

MOTAN_EXPORT size_t motan_request_arg_count(const motan_request *r)
{
    return r->body_from == BODY_ARGS ? r->nargs : 0;
}

MOTAN_EXPORT const motan_value *motan_request_arg(const motan_request *r, size_t i)
{
    return r->body_from == BODY_ARGS && i < r->nargs ? r->args[i] : NULL;
}

MOTAN_EXPORT int motan_request_set_body(motan_request *r, int ser, const void *data, size_t len)
{
    if (!r || ser < 0 || ser > 31 || (len && !data))
        return MOTAN_EINVAL;
    int rc = body_detach(r);
    if (rc != MOTAN_OK)
        return rc;
    r->body.len = 0;
    rc = motan_buf_append(&r->body, data, len);
    if (rc != MOTAN_OK)
        return rc;
    r->body_from = BODY_RAW;
    r->nargs = 0;
    r->dirty = 0;
    r->ser = ser;
    r->ser_set = 1;
    return MOTAN_OK;
}

MOTAN_EXPORT motan_buf *motan_request_body_buf(motan_request *r)
{
    if (!r || body_detach(r) != MOTAN_OK)
        return NULL;
    if (r->body_from != BODY_STREAM) {
        r->body.len = 0;
        r->body_from = BODY_STREAM;
        r->nargs = 0;
        r->dirty = 0;
    }
    r->ser = MOTAN_SER_SIMPLE;
    r->ser_set = 1;
    return &r->body;
}

MOTAN_EXPORT int motan_request_set_serialization(motan_request *r, int ser)
{
    if (!r || ser < 0 || ser > 31)
        return MOTAN_EINVAL;
    if (ser != r->ser && r->body_from == BODY_ARGS)
        r->dirty = 1;
    r->ser = ser;
    r->ser_set = 1;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_request_get_serialization(const motan_request *r)
{
    return r->ser_set ? r->ser : -1;
}

MOTAN_EXPORT void motan_request_set_timeout(motan_request *r, int timeout_ms)
{
    if (r)
        r->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
}

MOTAN_EXPORT int motan_request_get_timeout(const motan_request *r) { return r->timeout_ms; }

MOTAN_EXPORT int motan_request_set_hash_key(motan_request *r, const char *key, size_t len)
{
    if (!r || (len && !key))
        return MOTAN_EINVAL;
    char *p = NULL;
    if (key && !(p = motan__strndup(key, len)))
        return MOTAN_ENOMEM;
    motan_free(r->hash);
    r->hash = p;
    r->hash_len = p ? len : 0;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_request_set_raw_response(motan_request *r, int raw)
{
    if (!r)
        return MOTAN_EINVAL;
    r->raw_response = raw != 0;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_request_get_raw_response(const motan_request *r)
{
    return r ? r->raw_response : 0;
}

MOTAN_EXPORT const char *motan_request_get_hash_key(const motan_request *r, size_t *len)
{
    if (len)
        *len = r->hash_len;
    return r->hash;
}

MOTAN_EXPORT int motan_request_prepare(motan_request *r, char *errbuf, size_t errlen)
{
    if (!r)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no request");
    if (r->body_from != BODY_ARGS || !r->dirty)
        return MOTAN_OK;
    if (!motan_serialization_supported(r->ser))
        return motan__errf(errbuf, errlen, MOTAN_EUNSUPPORTED,
                           "serialization %d (%s) is not supported", r->ser,
                           motan_serialization_name(r->ser));
    int rc = body_detach(r);
    if (rc != MOTAN_OK)
        return motan__errf(errbuf, errlen, rc, "out of memory for the request body");
    r->body.len = 0;
    rc = motan_serialize_args(r->ser, (const motan_value *const *)r->args, r->nargs, &r->body,
                                  errbuf, errlen);
    if (rc != MOTAN_OK) {
        r->body.len = 0;
        return rc;
    }
    r->dirty = 0;
    r->body_ser = r->ser;
    return MOTAN_OK;
}

MOTAN_EXPORT const uint8_t *motan_request_body(const motan_request *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : (const uint8_t *)"";
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* 1 when key is one of the nmeta extra entries. */
static int overridden(const char *const *meta, size_t nmeta, const rstr *key)
{
    for (size_t i = 0; i < nmeta; i++)
        if (strlen(meta[2 * i]) == key->len && !memcmp(meta[2 * i], key->p, key->len))
            return 1;
    return 0;
}

/* A reserved field as sent: the request's own, else what the sender fills in. */
static rstr field_for(const motan_request *r, int i, const motan_request_fill *fill)
{
    rstr v = r->f[i];
    const char *f = NULL;
    if (fill && i == F_GROUP && fill->group_override)
        f = fill->group_override;
    else if (v.p || !fill)
        return v;
    else if (i == F_SERVICE)
        f = fill->service;
    else if (i == F_GROUP)
        f = fill->group;
    else if (i == F_VERSION)
        f = fill->version;
    else if (i == F_APP)
        f = fill->application;
    rstr out = {(char *)f, f ? strlen(f) : 0};
    return f && *f ? out : v;
}

/* Where motan_request_encode_refs lists the bytes it does not copy (NULL: copy all). */
typedef struct ref_sink {
    motan_encode_ref *refs;
    size_t max, n, total;
    motan_request_hold *hold; /* the request's, once a reference is made */
} ref_sink;

static motan_request_hold *hold_of(const motan_request *r);

/* 1 when len bytes can go by reference (room in refs, big enough, a hold for them). */
static int ref_ok(const motan_request *r, ref_sink *z, size_t len)
{
    if (!z || z->n == z->max || len < MOTAN_ENCODE_REF_MIN)
        return 0;
    if (!z->hold)
        z->hold = hold_of(r); /* made with the first reference: small requests need none */
    return z->hold != NULL;
}

static void ref_add(ref_sink *z, const motan_buf *out, const void *p, size_t len)
{
    z->refs[z->n].offset = out->len;
    z->refs[z->n].data = p;
    z->refs[z->n].len = len;
    z->n++;
    z->total += len;
}

/* Simple arguments one after the other, big top-level strings and bytes by reference. */
static int args_by_ref(const motan_request *r, motan_buf *out, ref_sink *z)
{
    for (size_t i = 0; i < r->nargs; i++) {
        const motan_value *v = r->args[i];
        if ((v->type == MOTAN_T_STRING || v->type == MOTAN_T_BYTES) && v->u.s.len <= UINT32_MAX &&
            ref_ok(r, z, v->u.s.len)) {
            int rc = motan__buf_ensure(out, 5);
            if (rc != MOTAN_OK)
                return rc;
            motan__buf_put_u8(out, v->type); /* tag and length as the Simple writer puts them */
            motan__buf_put_u32be(out, (uint32_t)v->u.s.len);
            ref_add(z, out, v->u.s.p, v->u.s.len);
            continue;
        }
        int rc = motan_simple_write_value(out, v);
        if (rc != MOTAN_OK)
            return rc;
    }
    return MOTAN_OK;
}

/* ---- the metadata cache (codec_int.h) ----------------------------------------------------- */

void motan__meta_cache_clear(motan__meta_cache *mc)
{
    for (int i = 0; i < MOTAN__MC_SLOTS; i++)
        mc->key[i].r = NULL;
}

void motan__meta_cache_free(motan__meta_cache *mc)
{
    motan_free(mc->bytes);
    mc->bytes = NULL;
    motan__meta_cache_clear(mc);
}

/* The slot that has r, or -1. */
static int mc_slot(const motan__meta_cache *mc, const motan_request *r)
{
    for (int i = 0; i < MOTAN__MC_SLOTS; i++)
        if (mc->key[i].r == r)
            return i;
    return -1;
}

/* The stored block of r for this timeout, or NULL. */
static const uint8_t *mc_find(const motan__meta_cache *mc, const motan_request *r,
                              int timeout_ms, size_t *len)
{
    int i = mc_slot(mc, r);
    if (i < 0 || mc->key[i].gen != r->meta_gen || mc->key[i].timeout_ms != timeout_ms ||
        !mc->key[i].len)
        return NULL;
    *len = mc->key[i].len;
    return mc->bytes + (size_t)i * MOTAN__MC_BYTES;
}

/* After a miss: the block of r just written, stored if r was seen unchanged before. */
static void mc_note(motan__meta_cache *mc, const motan_request *r, int timeout_ms,
                    const uint8_t *block, size_t len)
{
    int i = mc_slot(mc, r);
    if (i >= 0 && mc->key[i].gen == r->meta_gen && mc->key[i].timeout_ms == timeout_ms) {
        if (len == 0 || len > MOTAN__MC_BYTES)
            return;
        if (!mc->bytes && !(mc->bytes = motan_malloc(MOTAN__MC_SLOTS * MOTAN__MC_BYTES)))
            return; /* out of memory: no cache, nothing else changes */
        memcpy(mc->bytes + (size_t)i * MOTAN__MC_BYTES, block, len);
        mc->key[i].len = (unsigned)len;
        return;
    }
    if (i < 0)
        i = (int)(mc->next++ % MOTAN__MC_SLOTS); /* round robin: no bookkeeping on hits */
    mc->key[i].r = r;
    mc->key[i].gen = r->meta_gen;
    mc->key[i].timeout_ms = timeout_ms;
    mc->key[i].len = 0;
}

static int encode_impl(const motan_request *r, const motan_request_fill *fill,
                       uint64_t request_id, int timeout_ms, size_t mingz, motan_buf *out,
                       ref_sink *z, motan__meta_cache *mc, char *errbuf, size_t errlen)
{
    if (!r || !out)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no request or no output buffer");
    if (mc && (!fill || fill->group_override || (fill->meta && fill->nmeta)))
        mc = NULL;
    size_t cached_len = 0;
    const uint8_t *cached = mc ? mc_find(mc, r, timeout_ms, &cached_len) : NULL;
    rstr f[F_COUNT];
    for (int i = 0; !cached && i < F_COUNT; i++)
        f[i] = field_for(r, i, fill);
    if (!cached && !f[F_SERVICE].p)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "request has no service (M_p)");
    if (!cached && !f[F_METHOD].p)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "request has no method (M_m)");
    int ser = r->ser_set ? r->ser
              : fill && fill->serialization > 0 ? fill->serialization
                                                 : MOTAN_SER_SIMPLE;
    /* Arguments not prepared in this serialization go straight into the frame (r stays as it is). */
    int direct = r->body_from == BODY_ARGS && (r->dirty || r->body_ser != ser);
    if (direct && !motan_serialization_supported(ser))
        return motan__errf(errbuf, errlen, MOTAN_EUNSUPPORTED,
                           "serialization %d (%s) is not supported", ser,
                           motan_serialization_name(ser));
    const char *const *meta = fill ? fill->meta : NULL;
    size_t nmeta = meta ? fill->nmeta : 0;
    /* By reference only what is sent as it is: a body that may be gzipped is copied. */
    int ref_body = z && !direct && (!mingz || r->body.len <= mingz) && ref_ok(r, z, r->body.len);
    int ref_args = z && direct && ser == MOTAN_SER_SIMPLE && !mingz;
    if (!ref_body && !ref_args)
        z = NULL;

    /* One reservation for the whole frame keeps every append below on the fast path. */
    size_t need = MOTAN_FRAME_MIN + (direct || ref_body ? 0 : r->body.len) + 16 + 20 + cached_len;
    for (int i = 0; !cached && i < F_COUNT; i++)
        need += f[i].len + fkeys[i].klen + 2;
    for (size_t i = 0; !cached && i < r->natt; i++)
        need += r->att[i].k.len + r->att[i].v.len + 2;
    for (size_t i = 0; i < 2 * nmeta; i++) {
        if (!meta[i] || strchr(meta[i], '\n') || (i % 2 == 0 && !*meta[i]))
            return motan__errf(errbuf, errlen, MOTAN_EINVAL, "bad extra metadata entry %zu", i / 2);
        need += strlen(meta[i]) + 1;
    }
    int rc = motan__buf_ensure(out, need);
    if (rc != MOTAN_OK)
        return motan__errf(errbuf, errlen, rc, "out of memory for the request frame");

    size_t mark = out->len;
    rc = motan_frame_write_begin(out, 0, 0, (uint8_t)ser, request_id, &mark);
    if (cached && rc == MOTAN_OK) {
        memcpy(out->data + out->len, cached, cached_len); /* reserved above */
        out->len += cached_len;
        goto meta_done;
    }
    for (int i = 0; i < F_COUNT && rc == MOTAN_OK; i++)
        if (f[i].p)
            rc = motan__frame_meta_put(out, mark, fkeys[i].key, fkeys[i].klen, f[i].p, f[i].len);
    if (rc == MOTAN_OK)
        rc = motan__frame_meta_put(out, mark, "M_pp", 4, "motan2", 6);
    if (rc == MOTAN_OK && timeout_ms > 0) {
        char num[24];
        rc = motan__frame_meta_put(out, mark, "M_tmo", 5, num,
                                   motan__put_dec(num, (unsigned)timeout_ms));
    }
    for (size_t i = 0; i < r->natt && rc == MOTAN_OK; i++)
        if (!nmeta || !overridden(meta, nmeta, &r->att[i].k))
            rc = motan__frame_meta_put(out, mark, r->att[i].k.p, r->att[i].k.len, r->att[i].v.p,
                                       r->att[i].v.len);
    for (size_t i = 0; i < nmeta && rc == MOTAN_OK; i++)
        if (*meta[2 * i + 1])
            rc = motan__frame_meta_put(out, mark, meta[2 * i], strlen(meta[2 * i]),
                                       meta[2 * i + 1], strlen(meta[2 * i + 1]));
    if (rc == MOTAN_OK && mc)
        mc_note(mc, r, timeout_ms, out->data + mark + MOTAN__HDR_META,
                out->len - mark - MOTAN__HDR_META);
meta_done:
    if (rc == MOTAN_OK)
        rc = motan_frame_write_body_begin(out, mark);
    size_t body_start = out->len;
    if (rc == MOTAN_OK && direct && z) {
        rc = args_by_ref(r, out, z);
        if (rc != MOTAN_OK) {
            out->len = mark;
            z->n = 0;
            return motan__errf(errbuf, errlen, rc, "cannot encode the arguments: %s",
                               motan_strerror(rc));
        }
    } else if (rc == MOTAN_OK && direct) {
        rc = motan_serialize_args(ser, (const motan_value *const *)r->args, r->nargs, out, errbuf,
                                  errlen);
        if (rc != MOTAN_OK) {
            out->len = mark;
            return rc;
        }
    } else if (rc == MOTAN_OK && z) {
        ref_add(z, out, r->body.data, r->body.len);
    } else if (rc == MOTAN_OK) {
        rc = motan_buf_append(out, r->body.data, r->body.len);
    }
    if (rc == MOTAN_OK && z && z->n) { /* no gzip here: the size counts the referenced bytes */
        size_t blen = out->len - body_start + z->total;
        if (blen > UINT32_MAX)
            rc = MOTAN_ETOOBIG;
        else
            motan__put_u32be(out->data + body_start - 4, (uint32_t)blen);
    } else if (rc == MOTAN_OK) {
        rc = motan_frame_write_end(out, mark, mingz);
    }
    if (rc != MOTAN_OK) {
        out->len = mark;
        if (z)
            z->n = 0;
        return motan__errf(errbuf, errlen, rc, "cannot encode the request frame: %s",
                           motan_strerror(rc));
    }
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_request_encode_filled(const motan_request *r, const motan_request_fill *fill,
                                             uint64_t request_id, int timeout_ms, size_t mingz,
                                             motan_buf *out, char *errbuf, size_t errlen)
{
    return encode_impl(r, fill, request_id, timeout_ms, mingz, out, NULL, NULL, errbuf, errlen);
}

int motan__request_encode_cached(const motan_request *r, const motan_request_fill *fill,
                                 uint64_t request_id, int timeout_ms, size_t mingz, motan_buf *out,
                                 motan_encode_ref *refs, size_t nrefs_max, size_t *nrefs,
                                 motan_request_hold **hold, motan__meta_cache *mc, char *errbuf,
                                 size_t errlen)
{
    if (!nrefs || !hold || (nrefs_max && !refs))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no place for the references");
    *nrefs = 0;
    *hold = NULL;
    ref_sink z = {refs, nrefs_max, 0, 0, NULL}; /* without memory for a hold: copied */
    int rc = encode_impl(r, fill, request_id, timeout_ms, mingz, out, nrefs_max ? &z : NULL, mc,
                         errbuf, errlen);
    if (rc == MOTAN_OK && z.n) {
        atomic_fetch_add(&z.hold->refs, z.n);
        *nrefs = z.n;
        *hold = z.hold;
    }
    return rc;
}

MOTAN_EXPORT int motan_request_encode_refs(const motan_request *r, const motan_request_fill *fill,
                                           uint64_t request_id, int timeout_ms, size_t mingz,
                                           motan_buf *out, motan_encode_ref *refs, size_t nrefs_max,
                                           size_t *nrefs, motan_request_hold **hold, char *errbuf,
                                           size_t errlen)
{
    return motan__request_encode_cached(r, fill, request_id, timeout_ms, mingz, out, refs,
                                        nrefs_max, nrefs, hold, NULL, errbuf, errlen);
}

MOTAN_EXPORT int motan_request_encode_ex(motan_request *r, uint64_t request_id, int timeout_ms,
                                         size_t mingz, const char *const *meta, size_t nmeta,
                                         motan_buf *out, char *errbuf, size_t errlen)
{
    if (!r || !out)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no request or no output buffer");
    if (!r->f[F_SERVICE].p)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "request has no service (M_p)");
    if (!r->f[F_METHOD].p)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "request has no method (M_m)");
    int rc = motan_request_prepare(r, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    motan_request_fill fill = {.meta = meta, .nmeta = meta ? nmeta : 0};
    return motan_request_encode_filled(r, &fill, request_id, timeout_ms, mingz, out, errbuf,
                                       errlen);
}

MOTAN_EXPORT int motan_request_encode(motan_request *r, uint64_t request_id, int timeout_ms,
                                      size_t mingz, motan_buf *out, char *errbuf, size_t errlen)
{
    return motan_request_encode_ex(r, request_id, timeout_ms, mingz, NULL, 0, out, errbuf, errlen);
}
