/*
 * Frame writer (§1, §2): header and metadata go straight into the caller's buffer, sizes
 * are patched in place, so a frame costs no allocation once the buffer is warm.
 * mark is the offset of the frame's first byte in b.
 */
#include "codec/codec_int.h"

/* The frame at mark must exist in b up to its metadata. */
static int bad_mark(const motan_buf *b, size_t mark)
{
    return mark > b->len || b->len - mark < MOTAN__HDR_META || b->data[mark] != 0xF1 ||
           b->data[mark + 1] != 0xF1;
}

static inline void put_header(uint8_t *p, uint8_t flags, uint8_t status, uint8_t ser,
                              uint64_t id)
{
    p[0] = 0xF1;
    p[1] = 0xF1;
    p[2] = flags;
    p[3] = (uint8_t)((1u << 3) | status);
    p[4] = (uint8_t)(ser << 3);
    motan__put_u64be(p + 5, id);
    motan__put_u32be(p + MOTAN__HDR_META_SIZE, 0);
}

MOTAN_EXPORT int motan_frame_write_begin(motan_buf *b, uint8_t flags, uint8_t status,
                                         uint8_t serialization, uint64_t request_id,
                                         size_t *mark)
{
    if (!b || status > 7 || serialization > 31)
        return MOTAN_EINVAL;
    int rc = motan__buf_ensure(b, MOTAN__HDR_META);
    if (rc != MOTAN_OK)
        return rc;
    if (mark)
        *mark = b->len;
    put_header(b->data + b->len, flags, status, serialization, request_id);
    b->len += MOTAN__HDR_META;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_frame_write_meta(motan_buf *b, size_t mark, const char *key, size_t klen,
                                        const char *val, size_t vlen)
{
    if (!b || bad_mark(b, mark) || !key || klen == 0 || (vlen && !val))
        return MOTAN_EINVAL;
    if (memchr(key, '\n', klen) || (vlen && memchr(val, '\n', vlen)))
        return MOTAN_EINVAL;
    if (vlen == 0)
        return MOTAN_OK; /* Go skips empty values; so do we (§2.3) */
    return motan__frame_meta_put(b, mark, key, klen, val, vlen);
}

MOTAN_EXPORT int motan_frame_write_error_meta(motan_buf *b, size_t mark, int64_t errcode,
                                              int errtype, const char *msg, size_t msglen)
{
    if (!b || bad_mark(b, mark) || (msglen && !msg))
        return MOTAN_EINVAL;
    int rc = motan__buf_ensure(b, 5);
    if (rc != MOTAN_OK)
        return rc;
    size_t undo = b->len;
    if (b->len > mark + MOTAN__HDR_META)
        motan__buf_put_u8(b, '\n');
    motan__buf_put(b, "M_e\n", 4);
    rc = motan__errjson_write(b, errcode, errtype, msg ? msg : "", msglen);
    if (rc != MOTAN_OK)
        b->len = undo;
    return rc;
}

MOTAN_EXPORT int motan_frame_write_body_begin(motan_buf *b, size_t mark)
{
    if (!b || bad_mark(b, mark))
        return MOTAN_EINVAL;
    size_t m = b->len - mark - MOTAN__HDR_META;
    if (m > UINT32_MAX)
        return MOTAN_ETOOBIG;
    int rc = motan__buf_ensure(b, 4);
    if (rc != MOTAN_OK)
        return rc;
    motan__put_u32be(b->data + mark + MOTAN__HDR_META_SIZE, (uint32_t)m);
    motan__buf_put_u32be(b, 0);
    return MOTAN_OK;
}

/* Replaces the body at b[start..] with its gzip form (appended after it, then moved down). */
static int gzip_body(motan_buf *b, size_t start)
{
    size_t blen = b->len - start;
    /* Room for the compressed copy up front, so the body rarely moves while zlib reads it. */
    int rc = motan__buf_ensure(b, blen + blen / 1000 + 64);
    if (rc == MOTAN_OK)
        rc = motan__gzip(b->data + start, blen, b);
    if (rc != MOTAN_OK) {
        b->len = start + blen;
        return rc;
    }
    size_t zlen = b->len - start - blen;
    memmove(b->data + start, b->data + start + blen, zlen);
    b->len = start + zlen;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_frame_write_end(motan_buf *b, size_t mark, size_t mingz)
{
    if (!b || bad_mark(b, mark))
        return MOTAN_EINVAL;
    uint32_t m = motan__get_u32be(b->data + mark + MOTAN__HDR_META_SIZE);
    size_t start = mark + MOTAN__HDR_META + (size_t)m + 4; /* first body byte */
    if (b->len < start)
        return MOTAN_EINVAL; /* motan_frame_write_body_begin was not called */
    if (mingz > 0 && b->len - start > mingz) {
        int rc = gzip_body(b, start);
        if (rc != MOTAN_OK)
            return rc;
        b->data[mark + 2] |= MOTAN_FLAG_GZIP;
    }
    size_t blen = b->len - start;
    if (blen > UINT32_MAX)
        return MOTAN_ETOOBIG;
    motan__put_u32be(b->data + start - 4, (uint32_t)blen);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_frame_write_heartbeat(motan_buf *b, uint64_t request_id, int response)
{
    if (!b)
        return MOTAN_EINVAL;
    int rc = motan__buf_ensure(b, MOTAN_FRAME_MIN);
    if (rc != MOTAN_OK)
        return rc;
    /* Go form (§4.1): proxy bit set, Simple serialization byte. */
    uint8_t flags = MOTAN_FLAG_HEARTBEAT | MOTAN_FLAG_PROXY | (response ? MOTAN_FLAG_RESPONSE : 0);
    put_header(b->data + b->len, flags, 0, MOTAN_SER_SIMPLE, request_id);
    b->len += MOTAN__HDR_META;
    motan__buf_put_u32be(b, 0);
    return MOTAN_OK;
}
