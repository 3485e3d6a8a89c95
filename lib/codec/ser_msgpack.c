/*
 * msgpack bodies (id 3), a libmotan convention (docs/serialization.md): every Simple type
 * round-trips exactly; plain msgpack peers see ordinary msgpack except for three ext types
 * for the narrow integers and an ext wrapper in the few cases where a plain map or array
 * would come back as another Simple type.
 *
 * Encoding uses msgpack-c's packer writing straight into the output buffer. Decoding is a
 * small reader of our own building values in the caller's arena: msgpack-c 4.0's unpacker
 * stops at 32 nested containers (MOTAN_MAX_DEPTH is 64) and allocates a container's declared
 * count before checking it against the input (5 bytes could ask for gigabytes).
 */
#include <msgpack.h>
#include <stdio.h>

#include "codec/codec_int.h"

enum {
    EXT_BYTE = 1,         /* 1 byte */
    EXT_INT16 = 2,        /* 2 bytes, big-endian */
    EXT_INT32 = 3,        /* 4 bytes, big-endian */
    EXT_MAP = 4,          /* one msgpack map -> MAP */
    EXT_ARRAY = 5,        /* one msgpack array -> ARRAY */
    EXT_STRING_MAP = 6,   /* one msgpack map of str -> STRING_MAP */
    EXT_STRING_ARRAY = 7, /* one msgpack array of str -> STRING_ARRAY */
};

/* ---- encoding ------------------------------------------------------------------------- */

typedef struct wr {
    msgpack_packer pk;
    char *errbuf;
    size_t errlen;
} wr;

static int sink(void *b, const char *p, size_t n) { return motan_buf_append(b, p, n); }

/* msgpack-c returns what sink returned: MOTAN_OK or MOTAN_ENOMEM. */
static int packed(wr *w, int rc)
{
    return rc == 0 ? MOTAN_OK : motan__errf(w->errbuf, w->errlen, MOTAN_ENOMEM, "out of memory");
}

static int too_big(wr *w, const char *what)
{
    return motan__errf(w->errbuf, w->errlen, MOTAN_ETOOBIG, "msgpack: %s longer than 2^32-1",
                       what);
}

/* 1 when the container has entries and every key, value or element is a STRING. */
static int all_strings(const motan_value *v)
{
    size_t slots = motan__is_map(v->type) ? 2 * v->u.c.count : v->u.c.count;
    for (size_t i = 0; i < slots; i++)
        if (!v->u.c.items[i] || v->u.c.items[i]->type != MOTAN_T_STRING)
            return 0;
    return slots > 0;
}

static size_t hdr_size(size_t n) { return n < 16 ? 1 : n < 65536 ? 3 : 5; }

static size_t str_size(size_t n) { return (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5) + n; }

/*
 * The ext type that must wrap container v (0: none): a plain map or array whose entries are
 * all str decodes as STRING_MAP / STRING_ARRAY unless empty, so the other cases are marked.
 */
static int wrapper(const motan_value *v)
{
    switch (v->type) {
    case MOTAN_T_MAP:
        return all_strings(v) ? EXT_MAP : 0;
    case MOTAN_T_ARRAY:
        return all_strings(v) ? EXT_ARRAY : 0;
    case MOTAN_T_STRING_MAP:
        return v->u.c.count ? 0 : EXT_STRING_MAP;
    default:
        return v->u.c.count ? 0 : EXT_STRING_ARRAY;
    }
}

/* Payload size of a wrapper: the container's header and its str items (all STRING). */
static size_t wrapped_size(const motan_value *v)
{
    size_t slots = motan__is_map(v->type) ? 2 * v->u.c.count : v->u.c.count;
    size_t n = hdr_size(v->u.c.count);
    for (size_t i = 0; i < slots; i++) {
        size_t s = v->u.c.items[i]->u.s.len;
        if (s > UINT32_MAX || n > SIZE_MAX - 5 - s)
            return SIZE_MAX;
        n += str_size(s);
    }
    return n;
}

static int put_fixed(wr *w, int8_t ext, uint64_t v, size_t n)
{
    char d[4];
    for (size_t i = 0; i < n; i++)
        d[i] = (char)(uint8_t)(v >> (8 * (n - 1 - i)));
    int rc = msgpack_pack_ext(&w->pk, n, ext);
    return packed(w, rc ? rc : msgpack_pack_ext_body(&w->pk, d, n));
}

static int enc(wr *w, const motan_value *v, int depth);

static int enc_container(wr *w, const motan_value *v, int depth)
{
    /* Deeper trees could not be decoded again. */
    if (depth >= MOTAN_MAX_DEPTH)
        return motan__errf(w->errbuf, w->errlen, MOTAN_ETOOBIG,
                           "msgpack: nesting deeper than %d", MOTAN_MAX_DEPTH);
    size_t n = v->u.c.count;
    if (n > UINT32_MAX)
        return too_big(w, "container");
    int ext = wrapper(v), rc = 0;
    if (ext) {
        size_t len = wrapped_size(v);
        if (len > UINT32_MAX)
            return too_big(w, "ext payload");
        rc = msgpack_pack_ext(&w->pk, len, (int8_t)ext);
    }
    int map = motan__is_map(v->type);
    if (!rc)
        rc = map ? msgpack_pack_map(&w->pk, n) : msgpack_pack_array(&w->pk, n);
    if (rc)
        return packed(w, rc);
    int strict = v->type == MOTAN_T_STRING_MAP || v->type == MOTAN_T_STRING_ARRAY;
    size_t slots = map ? 2 * n : n;
    for (size_t i = 0; i < slots; i++) {
        const motan_value *it = v->u.c.items[i];
        if (strict && (!it || it->type != MOTAN_T_STRING))
            return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL,
                               "msgpack: string container holds a non-string");
        int r = enc(w, it, depth + 1);
        if (r != MOTAN_OK)
            return r;
    }
    return MOTAN_OK;
}

static int enc(wr *w, const motan_value *v, int depth)
{
    msgpack_packer *pk = &w->pk;
    if (!v)
        return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL, "msgpack: NULL value");
    switch (v->type) {
    case MOTAN_T_NULL:
        return packed(w, msgpack_pack_nil(pk));
    case MOTAN_T_BOOL:
        return packed(w, v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    case MOTAN_T_BYTE:
        return put_fixed(w, EXT_BYTE, v->u.byte, 1);
    case MOTAN_T_INT16:
        return put_fixed(w, EXT_INT16, (uint16_t)v->u.i, 2);
    case MOTAN_T_INT32:
        return put_fixed(w, EXT_INT32, (uint32_t)v->u.i, 4);
    case MOTAN_T_INT64:
        return packed(w, msgpack_pack_int64(pk, v->u.i));
    case MOTAN_T_FLOAT32:
        return packed(w, msgpack_pack_float(pk, v->u.f32));
    case MOTAN_T_FLOAT64:
        return packed(w, msgpack_pack_double(pk, v->u.f64));
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES: {
        size_t n = v->u.s.len;
        if (n > UINT32_MAX)
            return too_big(w, v->type == MOTAN_T_STRING ? "string" : "bytes");
        if (v->type == MOTAN_T_STRING) {
            int rc = msgpack_pack_str(pk, n);
            return packed(w, rc ? rc : msgpack_pack_str_body(pk, v->u.s.p, n));
        }
        int rc = msgpack_pack_bin(pk, n);
        return packed(w, rc ? rc : msgpack_pack_bin_body(pk, v->u.s.p, n));
    }
    case MOTAN_T_ARRAY:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_STRING_MAP:
        return enc_container(w, v, depth);
    default:
        return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL, "msgpack: unknown type %d",
                           v->type);
    }
}

static int mp_args(const motan_value *const *args, size_t n, motan_buf *out, char *errbuf,
                   size_t errlen)
{
    char why[160];
    wr w = {{out, sink}, why, sizeof(why)};
    for (size_t i = 0; i < n; i++) {
        int rc = enc(&w, args[i], 0);
        if (rc != MOTAN_OK)
            return motan__errf(errbuf, errlen, rc, "argument %zu: %s", i, why);
    }
    return MOTAN_OK;
}

static int mp_value(const motan_value *v, motan_buf *out, char *errbuf, size_t errlen)
{
    wr w = {{out, sink}, errbuf, errlen};
    return enc(&w, v, 0);
}

/* ---- decoding ------------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *base; /* offsets in messages are relative to it */
    const uint8_t *p, *end;
    motan_arena *a;
    char *errbuf;
    size_t errlen;
} rd;

static size_t off(const rd *r, const uint8_t *q) { return (size_t)(q - r->base); }

static int bad(rd *r, const uint8_t *at, const char *what)
{
    return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE, "msgpack: %s at offset %zu", what,
                       off(r, at));
}

static int nomem(rd *r) { return motan__errf(r->errbuf, r->errlen, MOTAN_ENOMEM, "out of memory"); }

/* Big-endian unsigned of n bytes (n <= 8) at the cursor; the caller checked they exist. */
static uint64_t take_be(rd *r, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | r->p[i];
    r->p += n;
    return v;
}

/* Reads an n-byte field of the value that starts at v0, failing when the input ends first. */
static int field(rd *r, const uint8_t *v0, size_t n, uint64_t *out)
{
    if ((size_t)(r->end - r->p) < n)
        return bad(r, v0, "truncated value");
    *out = take_be(r, n);
    return MOTAN_OK;
}

static int scalar(rd *r, motan_type t, motan_value **out)
{
    *out = motan__value_alloc(r->a, t);
    return *out ? MOTAN_OK : nomem(r);
}

static int integer(rd *r, int64_t i, motan_type t, motan_value **out)
{
    int rc = scalar(r, t, out);
    if (rc == MOTAN_OK)
        (*out)->u.i = i;
    return rc;
}

/* str or bin of n bytes. */
static int data(rd *r, const uint8_t *v0, motan_type t, uint64_t n, motan_value **out)
{
    if ((uint64_t)(r->end - r->p) < n)
        return bad(r, v0, t == MOTAN_T_STRING ? "string longer than the input"
                                             : "bytes longer than the input");
    *out = motan__value_data(r->a, t, r->p, (size_t)n);
    r->p += n;
    return *out ? MOTAN_OK : nomem(r);
}

static int value(rd *r, int depth, motan_value **out);

/* A plain array or map of n elements (entries) whose header ended at r->p. */
static int container(rd *r, const uint8_t *v0, int map, uint64_t n, int depth,
                     motan_value **out)
{
    char msg[48];
    if (depth >= MOTAN_MAX_DEPTH) {
        snprintf(msg, sizeof(msg), "nesting deeper than %d", MOTAN_MAX_DEPTH);
        return bad(r, v0, msg);
    }
    /* Every element takes at least one byte: bounds the allocation by the input. */
    uint64_t slots = map ? 2 * n : n;
    if (slots > (uint64_t)(r->end - r->p))
        return bad(r, v0, map ? "map has more entries than the input can hold"
                              : "array has more elements than the input can hold");
    motan_value *c = motan__container_new(r->a, map ? MOTAN_T_MAP : MOTAN_T_ARRAY, (size_t)n);
    if (!c)
        return nomem(r);
    for (size_t i = 0; i < slots; i++) {
        int rc = value(r, depth + 1, &c->u.c.items[i]);
        if (rc != MOTAN_OK)
            return rc;
    }
    c->u.c.count = (size_t)n;
    if (all_strings(c))
        c->type = map ? MOTAN_T_STRING_MAP : MOTAN_T_STRING_ARRAY;
    if (map && motan__map_dedup(c) != MOTAN_OK)
        return nomem(r);
    *out = c;
    return MOTAN_OK;
}

/* Ext types 4..7: the payload p[0..n) is exactly one map or array, retyped. */
static int wrapped(rd *r, const uint8_t *v0, int ext, const uint8_t *p, size_t n, int depth,
                   motan_value **out)
{
    int map = ext == EXT_MAP || ext == EXT_STRING_MAP;
    int strict = ext == EXT_STRING_MAP || ext == EXT_STRING_ARRAY;
    uint8_t h = n ? p[0] : 0;
    int is_map = (h & 0xf0) == 0x80 || h == 0xde || h == 0xdf;
    int is_array = (h & 0xf0) == 0x90 || h == 0xdc || h == 0xdd;
    if (map ? !is_map : !is_array) {
        char msg[64];
        snprintf(msg, sizeof(msg), "ext type %d does not hold a msgpack %s", ext,
                 map ? "map" : "array");
        return bad(r, v0, msg);
    }
    rd sub = *r;
    sub.p = p;
    sub.end = p + n;
    int rc = value(&sub, depth, out);
    if (rc != MOTAN_OK)
        return rc;
    if (sub.p != sub.end)
        return bad(r, v0, "ext payload holds more than one value");
    motan_value *c = *out;
    if (strict && c->u.c.count && !all_strings(c))
        return bad(r, v0, map ? "string map ext holds a non-string"
                              : "string array ext holds a non-string");
    c->type = map ? (strict ? MOTAN_T_STRING_MAP : MOTAN_T_MAP)
                  : (strict ? MOTAN_T_STRING_ARRAY : MOTAN_T_ARRAY);
    return MOTAN_OK;
}

static int ext(rd *r, const uint8_t *v0, uint64_t n, int depth, motan_value **out)
{
    uint64_t t = 0;
    int rc = field(r, v0, 1, &t);
    if (rc != MOTAN_OK)
        return rc;
    int type = (int8_t)t;
    if ((uint64_t)(r->end - r->p) < n)
        return bad(r, v0, "ext payload longer than the input");
    const uint8_t *p = r->p;
    r->p += n;
    static const size_t want[] = {0, 1, 2, 4};
    char msg[80];
    switch (type) {
    case EXT_BYTE:
    case EXT_INT16:
    case EXT_INT32: {
        if (n != want[type]) {
            snprintf(msg, sizeof(msg), "ext type %d needs %zu payload bytes, not %llu", type,
                     want[type], (unsigned long long)n);
            return bad(r, v0, msg);
        }
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++)
            u = u << 8 | p[i];
        if (type == EXT_BYTE) {
            rc = scalar(r, MOTAN_T_BYTE, out);
            if (rc == MOTAN_OK)
                (*out)->u.byte = (uint8_t)u;
            return rc;
        }
        return type == EXT_INT16 ? integer(r, (int16_t)(uint16_t)u, MOTAN_T_INT16, out)
                                 : integer(r, (int32_t)(uint32_t)u, MOTAN_T_INT32, out);
    }
    case EXT_MAP:
    case EXT_ARRAY:
    case EXT_STRING_MAP:
    case EXT_STRING_ARRAY:
        return wrapped(r, v0, type, p, (size_t)n, depth, out);
    default:
        snprintf(msg, sizeof(msg), "unsupported ext type %d", type);
        return bad(r, v0, msg);
    }
}

static int value(rd *r, int depth, motan_value **out)
{
    const uint8_t *v0 = r->p;
    if (r->p >= r->end)
        return bad(r, v0, "truncated value");
    uint8_t c = *r->p++;
    uint64_t u = 0;
    int rc;
    if (c <= 0x7f || c >= 0xe0)
        return integer(r, (int8_t)c, MOTAN_T_INT64, out);
    if (c <= 0x8f)
        return container(r, v0, 1, c & 0x0f, depth, out);
    if (c <= 0x9f)
        return container(r, v0, 0, c & 0x0f, depth, out);
    if (c <= 0xbf)
        return data(r, v0, MOTAN_T_STRING, c & 0x1f, out);
    switch (c) {
    case 0xc0:
        return scalar(r, MOTAN_T_NULL, out);
    case 0xc2:
    case 0xc3:
        rc = scalar(r, MOTAN_T_BOOL, out);
        if (rc == MOTAN_OK)
            (*out)->u.b = c == 0xc3;
        return rc;
    case 0xc4:
    case 0xc5:
    case 0xc6: /* bin 8/16/32 */
        rc = field(r, v0, (size_t)1 << (c - 0xc4), &u);
        return rc != MOTAN_OK ? rc : data(r, v0, MOTAN_T_BYTES, u, out);
    case 0xc7:
    case 0xc8:
    case 0xc9: /* ext 8/16/32 */
        rc = field(r, v0, (size_t)1 << (c - 0xc7), &u);
        return rc != MOTAN_OK ? rc : ext(r, v0, u, depth, out);
    case 0xca:
    case 0xcb: { /* float 32/64: the bits as they are, NaN payloads included */
        rc = field(r, v0, c == 0xca ? 4 : 8, &u);
        if (rc == MOTAN_OK)
            rc = scalar(r, c == 0xca ? MOTAN_T_FLOAT32 : MOTAN_T_FLOAT64, out);
        if (rc != MOTAN_OK)
            return rc;
        if (c == 0xca) {
            uint32_t bits = (uint32_t)u;
            memcpy(&(*out)->u.f32, &bits, 4);
        } else {
            memcpy(&(*out)->u.f64, &u, 8);
        }
        return MOTAN_OK;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: /* uint 8..64 */
        rc = field(r, v0, (size_t)1 << (c - 0xcc), &u);
        if (rc != MOTAN_OK)
            return rc;
        if (u > INT64_MAX)
            return bad(r, v0, "unsigned integer above the int64 range");
        return integer(r, (int64_t)u, MOTAN_T_INT64, out);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: { /* int 8..64: sign-extend from the field's width */
        size_t n = (size_t)1 << (c - 0xd0);
        rc = field(r, v0, n, &u);
        if (rc != MOTAN_OK)
            return rc;
        int64_t i = n == 1 ? (int8_t)u : n == 2 ? (int16_t)u : n == 4 ? (int32_t)u : (int64_t)u;
        return integer(r, i, MOTAN_T_INT64, out);
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: /* fixext 1..16 */
        return ext(r, v0, (uint64_t)1 << (c - 0xd4), depth, out);
    case 0xd9:
    case 0xda:
    case 0xdb: /* str 8/16/32 */
        rc = field(r, v0, (size_t)1 << (c - 0xd9), &u);
        return rc != MOTAN_OK ? rc : data(r, v0, MOTAN_T_STRING, u, out);
    case 0xdc:
    case 0xdd: /* array 16/32 */
        rc = field(r, v0, c == 0xdc ? 2 : 4, &u);
        return rc != MOTAN_OK ? rc : container(r, v0, 0, u, depth, out);
    case 0xde:
    case 0xdf: /* map 16/32 */
        rc = field(r, v0, c == 0xde ? 2 : 4, &u);
        return rc != MOTAN_OK ? rc : container(r, v0, 1, u, depth, out);
    default: /* 0xc1: never used */
        return bad(r, v0, "invalid type byte 0xc1");
    }
}

static void rd_init(rd *r, const uint8_t *data, size_t len, motan_arena *a, char *errbuf,
                    size_t errlen)
{
    r->base = r->p = data;
    r->end = data + len;
    r->a = a;
    r->errbuf = errbuf;
    r->errlen = errlen;
}

/* Exactly one object; an empty body is null. */
static int mp_devalue(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                      char *errbuf, size_t errlen)
{
    rd r;
    rd_init(&r, data, len, a, errbuf, errlen);
    if (len == 0)
        return scalar(&r, MOTAN_T_NULL, out);
    motan_value *v;
    int rc = value(&r, 0, &v);
    if (rc != MOTAN_OK)
        return rc;
    if (r.p != r.end)
        return bad(&r, r.p, "trailing bytes after the value");
    *out = v;
    return MOTAN_OK;
}

/* Consecutive objects, one per argument, as an ARRAY. */
static int mp_deargs(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                     char *errbuf, size_t errlen)
{
    rd r;
    rd_init(&r, data, len, a, errbuf, errlen);
    motan_value *arr = motan__container_new(a, MOTAN_T_ARRAY, 0);
    if (!arr)
        return nomem(&r);
    while (r.p < r.end) {
        motan_value *v;
        int rc = value(&r, 0, &v);
        if (rc != MOTAN_OK)
            return rc;
        if (motan_value_append(arr, v) != MOTAN_OK)
            return nomem(&r);
    }
    *out = arr;
    return MOTAN_OK;
}

const motan__codec motan__msgpack_codec = {mp_args, mp_value, mp_devalue, mp_deargs};
