/*
 * Simple writer (§5): each call makes room once, then stores without further checks, so a
 * warm buffer costs no allocation. Varints follow Go: int32 is zigzagged in 32 bits and
 * written as the varint of that u32 (at most 5 bytes); int64 at most 10 bytes.
 */
#include "codec/codec_int.h"

static inline void put_varint(motan_buf *b, uint64_t v)
{
    uint8_t *p = b->data + b->len;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    b->len += n;
}

static inline int put_tagged_data(motan_buf *b, int tag, const void *p, size_t len)
{
    if (len > UINT32_MAX)
        return MOTAN_ETOOBIG;
    if (len && !p)
        return MOTAN_EINVAL;
    size_t hdr = tag >= 0 ? 5 : 4;
    if (len > SIZE_MAX - hdr)
        return MOTAN_ETOOBIG;
    int rc = motan__buf_ensure(b, hdr + len);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    if (tag >= 0)
        motan__buf_put_u8(b, (uint8_t)tag);
    motan__buf_put_u32be(b, (uint32_t)len);
    motan__buf_put(b, p, len);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_write_null(motan_buf *b)
{
    int rc = motan__buf_ensure(b, 1);
    if (MOTAN_LIKELY(rc == MOTAN_OK))
        motan__buf_put_u8(b, MOTAN_T_NULL);
    return rc;
}

static inline int put2(motan_buf *b, uint8_t tag, uint8_t v)
{
    int rc = motan__buf_ensure(b, 2);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    b->data[b->len] = tag;
    b->data[b->len + 1] = v;
    b->len += 2;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_write_bool(motan_buf *b, int v)
{
    return put2(b, MOTAN_T_BOOL, v ? 1 : 0);
}

MOTAN_EXPORT int motan_simple_write_byte(motan_buf *b, uint8_t v)
{
    return put2(b, MOTAN_T_BYTE, v);
}

MOTAN_EXPORT int motan_simple_write_int16(motan_buf *b, int16_t v)
{
    int rc = motan__buf_ensure(b, 3);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    uint8_t *p = b->data + b->len;
    p[0] = MOTAN_T_INT16;
    p[1] = (uint8_t)((uint16_t)v >> 8);
    p[2] = (uint8_t)v;
    b->len += 3;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_write_int32(motan_buf *b, int32_t v)
{
    int rc = motan__buf_ensure(b, 6);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    motan__buf_put_u8(b, MOTAN_T_INT32);
    put_varint(b, motan__zz32(v));
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_write_int64(motan_buf *b, int64_t v)
{
    int rc = motan__buf_ensure(b, 11);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    motan__buf_put_u8(b, MOTAN_T_INT64);
    put_varint(b, motan__zz64(v));
    return MOTAN_OK;
}

/* Float bits are written verbatim, NaN payloads included. */
MOTAN_EXPORT int motan_simple_write_float32(motan_buf *b, float v)
{
    int rc = motan__buf_ensure(b, 5);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    uint32_t bits;
    memcpy(&bits, &v, 4);
    motan__buf_put_u8(b, MOTAN_T_FLOAT32);
    motan__buf_put_u32be(b, bits);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_write_float64(motan_buf *b, double v)
{
    int rc = motan__buf_ensure(b, 9);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    motan__buf_put_u8(b, MOTAN_T_FLOAT64);
    motan__put_u64be(b->data + b->len, bits);
    b->len += 8;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_write_string(motan_buf *b, const char *s, size_t len)
{
    return put_tagged_data(b, MOTAN_T_STRING, s, len);
}

MOTAN_EXPORT int motan_simple_write_bytes(motan_buf *b, const void *p, size_t len)
{
    return put_tagged_data(b, MOTAN_T_BYTES, p, len);
}

MOTAN_EXPORT int motan_simple_write_raw(motan_buf *b, const char *s, size_t len)
{
    return put_tagged_data(b, -1, s, len);
}

MOTAN_EXPORT int motan_simple_begin(motan_buf *b, motan_type container, size_t *mark)
{
    if (!motan__is_container(container) || !mark)
        return MOTAN_EINVAL;
    int rc = motan__buf_ensure(b, 5);
    if (MOTAN_UNLIKELY(rc != MOTAN_OK))
        return rc;
    motan__buf_put_u8(b, (uint8_t)container);
    *mark = b->len;
    motan__buf_put_u32be(b, 0);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_end(motan_buf *b, size_t mark)
{
    if (mark > b->len || b->len - mark < 4)
        return MOTAN_EINVAL;
    size_t n = b->len - mark - 4;
    if (n > UINT32_MAX)
        return MOTAN_ETOOBIG;
    motan__put_u32be(b->data + mark, (uint32_t)n);
    return MOTAN_OK;
}

static int write_tree(motan_buf *b, const motan_value *v, int depth)
{
    if (!v)
        return MOTAN_EINVAL;
    switch (v->type) {
    case MOTAN_T_NULL:
        return motan_simple_write_null(b);
    case MOTAN_T_BOOL:
        return motan_simple_write_bool(b, v->u.b);
    case MOTAN_T_BYTE:
        return motan_simple_write_byte(b, v->u.byte);
    case MOTAN_T_INT16:
        return motan_simple_write_int16(b, (int16_t)v->u.i);
    case MOTAN_T_INT32:
        return motan_simple_write_int32(b, (int32_t)v->u.i);
    case MOTAN_T_INT64:
        return motan_simple_write_int64(b, v->u.i);
    case MOTAN_T_FLOAT32:
        return motan_simple_write_float32(b, v->u.f32);
    case MOTAN_T_FLOAT64:
        return motan_simple_write_float64(b, v->u.f64);
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES:
        return put_tagged_data(b, v->type, v->u.s.p, v->u.s.len);
    case MOTAN_T_STRING_MAP:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_ARRAY: {
        /* Deeper trees could not be decoded again (MOTAN_MAX_DEPTH). */
        if (depth >= MOTAN_MAX_DEPTH)
            return MOTAN_ETOOBIG;
        size_t mark, slots = motan__is_map(v->type) ? 2 * v->u.c.count : v->u.c.count;
        int raw = v->type == MOTAN_T_STRING_MAP || v->type == MOTAN_T_STRING_ARRAY;
        int rc = motan_simple_begin(b, (motan_type)v->type, &mark);
        for (size_t i = 0; rc == MOTAN_OK && i < slots; i++) {
            const motan_value *it = v->u.c.items[i];
            if (!raw)
                rc = write_tree(b, it, depth + 1);
            else if (!it || it->type != MOTAN_T_STRING)
                rc = MOTAN_EINVAL;
            else
                rc = put_tagged_data(b, -1, it->u.s.p, it->u.s.len);
        }
        return rc == MOTAN_OK ? motan_simple_end(b, mark) : rc;
    }
    default:
        return MOTAN_EINVAL;
    }
}

/* On failure b is left as it was. */
MOTAN_EXPORT int motan_simple_write_value(motan_buf *b, const motan_value *v)
{
    size_t start = b->len;
    int rc = write_tree(b, v, 0);
    if (rc != MOTAN_OK)
        b->len = start;
    return rc;
}
