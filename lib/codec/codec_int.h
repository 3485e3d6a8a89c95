/* Private to lib/codec: value layout and helpers shared by the codec's files. */
#ifndef MOTAN_CODEC_INT_H
#define MOTAN_CODEC_INT_H

#include <motan/codec.h>

#include "core/core_int.h"

/*
 * One node of a value tree; always allocated from an arena.
 * ARRAY / STRING_ARRAY: items[0..count). MAP / STRING_MAP: items[2*i] key, items[2*i+1]
 * value. STRING / BYTES: s.p (NUL-terminated copy in the arena) and s.len.
 */
struct motan_value {
    uint8_t type;
    union {
        int b;
        uint8_t byte;
        int64_t i;
        float f32;
        double f64;
        struct {
            const char *p;
            size_t len;
        } s;
        struct {
            motan_value **items;
            size_t count; /* elements, or entries for maps */
            size_t cap;   /* slots in items */
            motan_arena *arena;
        } c;
    } u;
};

static inline int motan__is_container(int t)
{
    return t == MOTAN_T_ARRAY || t == MOTAN_T_STRING_ARRAY || t == MOTAN_T_MAP ||
           t == MOTAN_T_STRING_MAP;
}

static inline int motan__is_map(int t) { return t == MOTAN_T_MAP || t == MOTAN_T_STRING_MAP; }

/* zigzag (§5.3) */
static inline uint64_t motan__zz64(int64_t n) { return ((uint64_t)n << 1) ^ (uint64_t)(n >> 63); }
static inline uint32_t motan__zz32(int32_t n) { return ((uint32_t)n << 1) ^ (uint32_t)(n >> 31); }
static inline int64_t motan__unzz64(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }
static inline int32_t motan__unzz32(uint32_t u) { return (int32_t)(u >> 1) ^ -(int32_t)(u & 1); }

/* ---- motan2 frames (frame_*.c, gzip.c, errjson.c, parser.c) ---- */

/* Header offsets of a frame (§1). */
#define MOTAN__HDR_META_SIZE 13 /* u32 metadata size */
#define MOTAN__HDR_META 17      /* metadata block */

/* One metadata entry as offsets into the metadata block (16 bytes: hostile frames have many). */
typedef struct motan__meta_ent {
    uint32_t koff, klen, voff, vlen;
} motan__meta_ent;

struct motan_frame {
    uint8_t flags, status, ser;
    motan_frame_kind kind;
    uint64_t id;
    const char *meta;          /* metadata block (view) */
    motan__meta_ent *ents;     /* entries of meta, wire order */
    size_t nents, cents;
    const uint8_t *body;       /* view into the input or into inflated */
    size_t body_len;
    motan_buf inflated;        /* reusable gunzip output */
    void *zs;                  /* reusable inflate state (gzip.c) */
    int is_error;              /* status != 0 on a non-heartbeat frame */
    int64_t errcode;
    int errtype;
    const char *errmsg;        /* into errbuf, into M_e, or static */
    size_t errmsg_len;
    motan_buf errbuf;          /* decoded errmsg */
};

/*
 * Checks the frame prefix d[0..len) in wire order. MOTAN_OK: the whole frame is present,
 * *need = its length. MOTAN_EAGAIN: *need = the length at which the next check can be made
 * (17, 21+M, then 21+M+B). Otherwise the error (text in errbuf). max 0 = default.
 */
int motan__frame_check(const uint8_t *d, size_t len, size_t max, size_t *need, char *errbuf,
                       size_t errlen);
/* Splits a metadata block the way Go does (§2.3) into f->ents; MOTAN_EPROTO when odd. */
int motan__frame_split_meta(motan_frame *f, const char *m, size_t mlen, char *errbuf,
                            size_t errlen);
/* MOTAN_OK when the metadata block splits into whole pairs (no storage). */
int motan__meta_check(const char *m, size_t mlen);
/*
 * Appends one metadata entry to the frame started at mark, without validation (the caller
 * checked: no '\n', non-empty key and value).
 */
static inline int motan__frame_meta_put(motan_buf *b, size_t mark, const char *k, size_t klen,
                                        const char *v, size_t vlen)
{
    int rc = motan__buf_ensure(b, klen + vlen + 2);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    uint8_t *p = b->data + b->len;
    if (b->len > mark + MOTAN__HDR_META)
        *p++ = '\n';
    memcpy(p, k, klen);
    p += klen;
    *p++ = '\n';
    if (vlen)
        memcpy(p, v, vlen);
    b->len = (size_t)(p + vlen - b->data);
    return MOTAN_OK;
}

/* gzip.c: appends a Go-style gzip member of in[0..len) to out. */
int motan__gzip(const uint8_t *in, size_t len, motan_buf *out);
/*
 * Inflates gzip or zlib data (concatenated gzip members too) into out (reset first), at
 * most cap bytes: MOTAN_ETOOBIG above, MOTAN_EPROTO for bad data. *zs keeps the inflate
 * state between calls; release it with motan__gunzip_free.
 */
int motan__gunzip(void **zs, const uint8_t *in, size_t len, size_t cap, motan_buf *out,
                  char *errbuf, size_t errlen);
void motan__gunzip_free(void *zs);

/*
 * errjson.c: M_e (§3.3). motan__errjson_parse: tolerant parse of an M_e object; msg gets the
 * decoded errmsg ("" when absent); MOTAN_EDECODE when text is not a JSON object.
 * motan__errjson_write: appends {"errcode":C,"errmsg":"...","errtype":T} as Go writes it.
 */
int motan__errjson_parse(const char *text, size_t len, int64_t *code, int *type, motan_buf *msg);
int motan__errjson_write(motan_buf *b, int64_t code, int type, const char *msg, size_t len);
/* Upper bound of the bytes motan__errjson_write appends for a message of len bytes. */
size_t motan__errjson_bound(size_t len);

/* ---- value internals (value.c) ------------------------------------------------------------ */

/*
 * Every items array of a container comes from motan__items_alloc: it keeps one hidden slot
 * before items[0] for a map's lazily built hash index. cap 0 means items may be NULL.
 * Map keys must not change once inserted (their hash is cached in the index).
 */
motan_value **motan__items_alloc(motan_arena *a, size_t slots);
/* A node of type t with nothing else set; NULL on out of memory. */
motan_value *motan__value_alloc(motan_arena *a, motan_type t);
/* A STRING or BYTES node with its NUL-terminated copy of p in one allocation. */
motan_value *motan__value_data(motan_arena *a, motan_type t, const void *p, size_t len);
/* An empty container of type t with room for n elements (entries for maps). */
motan_value *motan__container_new(motan_arena *a, motan_type t, size_t n);
/*
 * For a map whose items were filled in directly (count set): removes duplicate keys, the
 * last value winning at the position of the first occurrence; O(n) (hash index above 8
 * entries, kept for later lookups). MOTAN_ENOMEM is the only error.
 */
int motan__map_dedup(motan_value *m);
/* Tree operations stop (equal: unequal, copy/format: NULL) beyond this nesting. */
#define MOTAN__TREE_DEPTH_LIMIT 1000

/* ---- Simple pull reader (simple_read.c) --------------------------------------------------- */

enum { MOTAN__TOK_VALUE, MOTAN__TOK_BEGIN, MOTAN__TOK_END, MOTAN__TOK_EOF };

/* One token: a scalar (VALUE), the start or end of a container, or the end of the input. */
typedef struct motan__stok {
    int kind;
    uint8_t type;  /* VALUE: the scalar's type; BEGIN / END: the container's */
    size_t count;  /* BEGIN: elements, entries for maps */
    size_t offset; /* where the token starts in the input */
    union {
        int b;
        int64_t i; /* BYTE (0..255), INT16, INT32, INT64 */
        float f32;
        double f64;
        struct {
            const char *p; /* into the input */
            size_t len;
        } s;
    } v;
} motan__stok;

/*
 * Reads tokens of consecutive Simple values. A container's BEGIN is only returned after its
 * direct children were counted and checked to end exactly at its declared end; string map
 * and string array items come as STRING values, map keys and values alternate. Errors are
 * MOTAN_EDECODE with the reason and the byte offset in errbuf.
 */
typedef struct motan__sreader {
    const uint8_t *base; /* start of the input: offsets are relative to it */
    const uint8_t *p;    /* next byte */
    const uint8_t *end;  /* end of the input */
    int depth;           /* open containers */
    size_t view_min;     /* tree decode: bytes of at least this many are views; 0: copied */
    size_t views;        /* views the tree decode made */
    char *errbuf;
    size_t errlen;
    struct {
        const uint8_t *end;
        uint8_t type;
    } stack[MOTAN_MAX_DEPTH];
} motan__sreader;

void motan__sr_init(motan__sreader *r, const uint8_t *data, size_t len, char *errbuf,
                    size_t errlen);
/* The next token; at depth 0 with no input left, an EOF token. */
int motan__sr_next(motan__sreader *r, motan__stok *t);
/* Counts (and checks) the values from r->p to the end of the input; r must be at depth 0. */
int motan__sr_count_seq(motan__sreader *r, size_t *count);

/* ---- decoded-size budget (budget.c) ------------------------------------------------------- */

/*
 * A decoder's result: rc, or MOTAN_ETOOBIG with "decoded values exceed maxDecodedSize (N
 * bytes)" in errbuf when a failed because its limit refused an allocation.
 */
int motan__budget_rc(motan_arena *a, int rc, char *errbuf, size_t errlen);
/*
 * Before jansson parses t (its tree is not in a): MOTAN_ETOOBIG when the values in t cannot
 * fit what is left of a's limit (each value needs at least a node and a slot). per_value:
 * JSON tokens (values and keys) per decoded value at most (1 for plain JSON; typed JSON
 * spends an object, a key and a value on one tagged value: 3).
 */
int motan__json_budget(motan_arena *a, const char *t, size_t len, size_t per_value, char *errbuf,
                       size_t errlen);

/* ---- serializations (serialize.c) --------------------------------------------------------- */

/*
 * One body codec. To plug in a serialization, define a motan__codec and add it to the table
 * in serialize.c under its id.
 */
typedef struct motan__codec {
    int (*serialize_args)(const motan_value *const *args, size_t n, motan_buf *out,
                          char *errbuf, size_t errlen);
    int (*serialize_value)(const motan_value *v, motan_buf *out, char *errbuf, size_t errlen);
    int (*deserialize_value)(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                             char *errbuf, size_t errlen);
    int (*deserialize_args)(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                            char *errbuf, size_t errlen);
} motan__codec;

/* msgpack (ser_msgpack.c) and JSON (ser_json.c) bodies: docs/serialization.md. */
extern const motan__codec motan__msgpack_codec;
extern const motan__codec motan__json_codec;

/* ---- typed JSON helpers (tjson_write.c) --------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at p (n > 0 bytes left), 0 when invalid: no overlongs,
 * no surrogates, at most U+10FFFF (Go's utf8.DecodeRune rules).
 */
static inline size_t motan__utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* 1 when p[0..n) is valid UTF-8 (motan__utf8_len all through). */
int motan__utf8_valid(const char *p, size_t n);

/* text.c: shortest text reading back to d (to the same float when f32), always with '.' or
 * 'e' (1.0, 0.0001, 1e-05, 1e+16); d finite. Returns the length; out gets a NUL. */
#define MOTAN__REAL_MAX 48
size_t motan__fmt_real(char out[MOTAN__REAL_MAX], double d, int f32);
/* Standard padded base64 of p[0..n) into dst (4 * ((n + 2) / 3) chars, no NUL). */
void motan__base64(char *dst, const uint8_t *p, size_t n);

/*
 * Read-side views. A Simple tree decode with view_min > 0 makes every bytes value of at
 * least view_min bytes a view into the input (not copied, no NUL after it); *views counts
 * them. The caller keeps the input alive as long as the values.
 */
int motan__simple_decode_views(const uint8_t *data, size_t len, motan_arena *a, size_t view_min,
                               size_t *views, motan_value **out, char *errbuf, size_t errlen);
/* Bytes values of a held response frame of at least this many are views into it. */
#define MOTAN__VIEW_MIN 4096

/* The memory a received frame sits in, [lo, hi), and how to let go of it. */
typedef struct motan__frame_hold {
    void (*release)(void *ctx);
    void *ctx;
    const uint8_t *lo, *hi;
} motan__frame_hold;

/*
 * motan_response_set_frame (raw: _set_frame_raw) with the frame's memory on loan: big bytes
 * values of a Simple body (raw: a body of at least MOTAN__VIEW_MIN) become views into it, and
 * the response keeps the hold until it is reset, filled again or freed. Always consumes the
 * hold: released at once when nothing points into it.
 */
int motan__response_set_frame_held(motan_response *r, const motan_frame *f, int raw,
                                   const motan__frame_hold *h);

/*
 * The encoded metadata blocks of requests a sender sends again unchanged (request.c). A
 * block depends only on the request's fields and attachments (its meta_gen), the sender's
 * fill and the timeout, so a hit copies it instead of writing each entry; calls with a
 * group override or extra metadata (filters) are not cached. A block is stored the second
 * time the same request is seen unchanged, so one-shot requests never pay the copy, and the
 * bytes are allocated with the first store. One per endpoint, used on its loop thread;
 * cleared when the sender's fill changes.
 */
#define MOTAN__MC_SLOTS 8
#define MOTAN__MC_BYTES 192
typedef struct motan__meta_cache {
    struct {
        const void *r;
        uint64_t gen;
        int timeout_ms;
        unsigned len; /* 0: seen once, not stored */
    } key[MOTAN__MC_SLOTS];
    unsigned next;  /* the slot a new request takes */
    uint8_t *bytes; /* MOTAN__MC_SLOTS * MOTAN__MC_BYTES */
} motan__meta_cache;

/* motan_request_encode_refs with mc (may be NULL). */
int motan__request_encode_cached(const motan_request *r, const motan_request_fill *fill,
                                 uint64_t request_id, int timeout_ms, size_t mingz, motan_buf *out,
                                 motan_encode_ref *refs, size_t nrefs_max, size_t *nrefs,
                                 motan_request_hold **hold, motan__meta_cache *mc, char *errbuf,
                                 size_t errlen);
void motan__meta_cache_clear(motan__meta_cache *mc);
void motan__meta_cache_free(motan__meta_cache *mc);

#endif
