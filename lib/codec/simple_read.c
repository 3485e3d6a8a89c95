/*
 * Simple pull reader (§5.3-§5.8, §9.4) and the zero-copy visitor built on it.
 *
 * Entering a container first walks its direct children once (nested containers are
 * skipped in O(1) by their byte length) to count them and to prove they end exactly at
 * the declared end; the tree decoder uses the count to allocate each items array once.
 */
#include "codec/codec_int.h"

static const char *type_name(int tag)
{
    switch (tag) {
    case MOTAN_T_STRING:
        return "string";
    case MOTAN_T_BYTES:
        return "bytes";
    case MOTAN_T_BOOL:
        return "bool";
    case MOTAN_T_BYTE:
        return "byte";
    case MOTAN_T_INT16:
        return "int16";
    case MOTAN_T_FLOAT32:
        return "float32";
    case MOTAN_T_FLOAT64:
        return "float64";
    case MOTAN_T_STRING_MAP:
        return "string map";
    case MOTAN_T_STRING_ARRAY:
        return "string array";
    case MOTAN_T_MAP:
        return "map";
    default:
        return "array";
    }
}

static size_t off(const motan__sreader *r, const uint8_t *q) { return (size_t)(q - r->base); }

/* Something at q does not fit before lim: inside a container it overruns the declared size. */
static int overrun(motan__sreader *r, const uint8_t *q, int inside, int tag)
{
    if (inside)
        return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                           "entry overruns declared size at offset %zu", off(r, q));
    if (tag == MOTAN_T_INT32 || tag == MOTAN_T_INT64)
        return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                           "input ends inside varint at offset %zu", off(r, q));
    if (motan__is_container(tag))
        return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                           "declared size exceeds input at offset %zu", off(r, q));
    return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE, "%s longer than input at offset %zu",
                       type_name(tag), off(r, q));
}

/*
 * Varint at q (after the tag at t) of at most 10 bytes, none past lim. Returns the byte after
 * it, or NULL with the error in *rc.
 */
static inline const uint8_t *varint(motan__sreader *r, const uint8_t *t, const uint8_t *q,
                                    const uint8_t *lim, int inside, uint64_t *out, int *rc)
{
    if (MOTAN_LIKELY(q < lim && q[0] < 0x80)) {
        *out = q[0];
        return q + 1;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (q + i >= lim) {
            *rc = overrun(r, t, inside, t[0]);
            return NULL;
        }
        uint8_t c = q[i];
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *out = v;
            return q + i + 1;
        }
    }
    *rc = motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                      "varint longer than 10 bytes at offset %zu", off(r, t));
    return NULL;
}

/*
 * End of the tagged value at q (before lim); containers are skipped by their byte length
 * without looking inside. Returns NULL with *rc on error.
 */
static const uint8_t *skip_tagged(motan__sreader *r, const uint8_t *q, const uint8_t *lim,
                                  int inside, int *rc)
{
    size_t room = (size_t)(lim - q);
    uint64_t dummy;
    switch (q[0]) {
    case MOTAN_T_NULL:
        return q + 1;
    case MOTAN_T_BOOL:
    case MOTAN_T_BYTE:
        if (room >= 2)
            return q + 2;
        break;
    case MOTAN_T_INT16:
        if (room >= 3)
            return q + 3;
        break;
    case MOTAN_T_INT32:
    case MOTAN_T_INT64:
        return varint(r, q, q + 1, lim, inside, &dummy, rc);
    case MOTAN_T_FLOAT32:
        if (room >= 5)
            return q + 5;
        break;
    case MOTAN_T_FLOAT64:
        if (room >= 9)
            return q + 9;
        break;
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES:
    case MOTAN_T_STRING_MAP:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_ARRAY:
        if (room >= 5 && motan__get_u32be(q + 1) <= room - 5)
            return q + 5 + motan__get_u32be(q + 1);
        break;
    default:
        *rc = motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE, "unknown tag %u at offset %zu",
                          q[0], off(r, q));
        return NULL;
    }
    *rc = overrun(r, q, inside, q[0]);
    return NULL;
}

/* Counts the direct children of a container of type t spanning [q, lim). */
static int count_children(motan__sreader *r, int t, const uint8_t *q, const uint8_t *lim,
                          int inside, size_t *count)
{
    size_t n = 0;
    int rc = MOTAN_OK;
    const uint8_t *last = q;
    if (t == MOTAN_T_STRING_MAP || t == MOTAN_T_STRING_ARRAY) {
        while (q < lim) {
            size_t room = (size_t)(lim - q);
            if (room < 4 || motan__get_u32be(q) > room - 4)
                return overrun(r, q, 1, MOTAN_T_STRING);
            last = q;
            q += 4 + motan__get_u32be(q);
            n++;
        }
    } else {
        while (q < lim) {
            last = q;
            q = skip_tagged(r, q, lim, inside, &rc);
            if (!q)
                return rc;
            n++;
        }
    }
    if (motan__is_map(t)) {
        if (n % 2)
            return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                               "map key without value at offset %zu", off(r, last));
        n /= 2;
    }
    *count = n;
    return MOTAN_OK;
}

void motan__sr_init(motan__sreader *r, const uint8_t *data, size_t len, char *errbuf,
                    size_t errlen)
{
    static const uint8_t empty[1];
    if (!data)
        data = empty, len = 0; /* no arithmetic on NULL */
    r->base = r->p = data;
    r->end = data + len;
    r->depth = 0;
    r->view_min = 0;
    r->views = 0;
    r->errbuf = errbuf;
    r->errlen = errlen;
}

int motan__sr_count_seq(motan__sreader *r, size_t *count)
{
    return count_children(r, MOTAN_T_ARRAY, r->p, r->end, 0, count);
}

/* Reads the tagged value at r->p (before lim) into t. */
static int read_tagged(motan__sreader *r, motan__stok *t, const uint8_t *lim, int inside)
{
    const uint8_t *q = r->p;
    size_t room = (size_t)(lim - q);
    int rc = MOTAN_OK;
    uint64_t u;
    t->kind = MOTAN__TOK_VALUE;
    t->type = q[0];
    t->offset = off(r, q);
    switch (q[0]) {
    case MOTAN_T_NULL:
        r->p = q + 1;
        return MOTAN_OK;
    case MOTAN_T_BOOL:
        if (room < 2)
            break;
        t->v.b = q[1] == 1; /* Go and Java: anything but 01 is false */
        r->p = q + 2;
        return MOTAN_OK;
    case MOTAN_T_BYTE:
        if (room < 2)
            break;
        t->v.i = q[1];
        r->p = q + 2;
        return MOTAN_OK;
    case MOTAN_T_INT16:
        if (room < 3)
            break;
        t->v.i = (int16_t)(uint16_t)((q[1] << 8) | q[2]);
        r->p = q + 3;
        return MOTAN_OK;
    case MOTAN_T_INT32:
        /* Java writes 10-byte sign-extended forms: truncate to 32 bits first (§5.3). */
        if (!(r->p = varint(r, q, q + 1, lim, inside, &u, &rc))) {
            r->p = q;
            return rc;
        }
        t->v.i = motan__unzz32((uint32_t)u);
        return MOTAN_OK;
    case MOTAN_T_INT64:
        if (!(r->p = varint(r, q, q + 1, lim, inside, &u, &rc))) {
            r->p = q;
            return rc;
        }
        t->v.i = motan__unzz64(u);
        return MOTAN_OK;
    case MOTAN_T_FLOAT32: {
        if (room < 5)
            break;
        uint32_t bits = motan__get_u32be(q + 1);
        memcpy(&t->v.f32, &bits, 4);
        r->p = q + 5;
        return MOTAN_OK;
    }
    case MOTAN_T_FLOAT64: {
        if (room < 9)
            break;
        uint64_t bits = motan__get_u64be(q + 1);
        memcpy(&t->v.f64, &bits, 8);
        r->p = q + 9;
        return MOTAN_OK;
    }
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES: {
        if (room < 5 || motan__get_u32be(q + 1) > room - 5)
            break;
        t->v.s.len = motan__get_u32be(q + 1);
        t->v.s.p = (const char *)q + 5;
        r->p = q + 5 + t->v.s.len;
        return MOTAN_OK;
    }
    case MOTAN_T_STRING_MAP:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_ARRAY: {
        if (room < 5 || motan__get_u32be(q + 1) > room - 5)
            break;
        if (r->depth >= MOTAN_MAX_DEPTH)
            return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                               "nesting deeper than %d at offset %zu", MOTAN_MAX_DEPTH, off(r, q));
        const uint8_t *cend = q + 5 + motan__get_u32be(q + 1);
        rc = count_children(r, q[0], q + 5, cend, 1, &t->count);
        if (rc != MOTAN_OK)
            return rc;
        r->stack[r->depth].end = cend;
        r->stack[r->depth].type = q[0];
        r->depth++;
        t->kind = MOTAN__TOK_BEGIN;
        r->p = q + 5;
        return MOTAN_OK;
    }
    default:
        return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE, "unknown tag %u at offset %zu",
                           q[0], off(r, q));
    }
    return overrun(r, q, inside, q[0]);
}

int motan__sr_next(motan__sreader *r, motan__stok *t)
{
    if (r->depth == 0) {
        if (r->p >= r->end) {
            t->kind = MOTAN__TOK_EOF;
            t->offset = off(r, r->p);
            return MOTAN_OK;
        }
        return read_tagged(r, t, r->end, 0);
    }
    const uint8_t *lim = r->stack[r->depth - 1].end;
    uint8_t ct = r->stack[r->depth - 1].type;
    if (r->p >= lim) {
        t->kind = MOTAN__TOK_END;
        t->type = ct;
        t->offset = off(r, r->p);
        r->depth--;
        return MOTAN_OK;
    }
    if (ct == MOTAN_T_STRING_MAP || ct == MOTAN_T_STRING_ARRAY) {
        const uint8_t *q = r->p;
        size_t room = (size_t)(lim - q);
        if (room < 4 || motan__get_u32be(q) > room - 4)
            return overrun(r, q, 1, MOTAN_T_STRING);
        t->kind = MOTAN__TOK_VALUE;
        t->type = MOTAN_T_STRING;
        t->offset = off(r, q);
        t->v.s.len = motan__get_u32be(q);
        t->v.s.p = (const char *)q + 4;
        r->p = q + 4 + t->v.s.len;
        return MOTAN_OK;
    }
    return read_tagged(r, t, lim, 1);
}

/* ---- visitor -------------------------------------------------------------------------- */

static int dispatch(const motan_visitor *vis, const motan__stok *t, void *ud)
{
    if (!vis)
        return 0;
    switch (t->kind) {
    case MOTAN__TOK_BEGIN:
        return vis->on_begin ? vis->on_begin((motan_type)t->type, t->count, ud) : 0;
    case MOTAN__TOK_END:
        return vis->on_end ? vis->on_end((motan_type)t->type, ud) : 0;
    default:
        break;
    }
    switch (t->type) {
    case MOTAN_T_NULL:
        return vis->on_null ? vis->on_null(ud) : 0;
    case MOTAN_T_BOOL:
        return vis->on_bool ? vis->on_bool(t->v.b, ud) : 0;
    case MOTAN_T_FLOAT32:
        return vis->on_float ? vis->on_float(MOTAN_T_FLOAT32, t->v.f32, ud) : 0;
    case MOTAN_T_FLOAT64:
        return vis->on_float ? vis->on_float(MOTAN_T_FLOAT64, t->v.f64, ud) : 0;
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES:
        return vis->on_data ? vis->on_data((motan_type)t->type, t->v.s.p, t->v.s.len, ud) : 0;
    default:
        return vis->on_int ? vis->on_int((motan_type)t->type, t->v.i, ud) : 0;
    }
}

MOTAN_EXPORT int motan_simple_visit(const uint8_t *data, size_t len, const motan_visitor *vis,
                                    void *userdata, size_t *consumed, char *errbuf,
                                    size_t errlen)
{
    if (!data && len)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no input");
    motan__sreader r;
    motan__stok t;
    motan__sr_init(&r, data, len, errbuf, errlen);
    do {
        int rc = motan__sr_next(&r, &t);
        if (rc != MOTAN_OK)
            return rc;
        if (t.kind == MOTAN__TOK_EOF)
            return motan__errf(errbuf, errlen, MOTAN_EDECODE, "no value at offset %zu", t.offset);
        if (dispatch(vis, &t, userdata))
            return motan__errf(errbuf, errlen, MOTAN_EINVAL, "stopped by callback at offset %zu",
                               t.offset);
    } while (r.depth > 0);
    if (consumed)
        *consumed = (size_t)(r.p - r.base);
    return MOTAN_OK;
}
