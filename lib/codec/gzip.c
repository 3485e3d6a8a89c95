/*
 * Body compression (§2.6). Compression writes one RFC 1952 member with the header Go's
 * compress/gzip writes at BestSpeed (1f8b 08 00 00000000 04 ff). Decompression accepts gzip
 * (also several members back to back, as Go and Java read them) and zlib, and stops at a cap
 * so a small hostile body cannot expand without bound.
 */
#include <zlib.h>

#include "codec/codec_int.h"

/* zlib's counters are uInt: feed at most this much per call. */
#define ZCHUNK ((size_t)1 << 30)

int motan__gzip(const uint8_t *in, size_t len, motan_buf *out)
{
    /* in may point into out (the frame writer compresses a body in place): keep offsets. */
    uintptr_t ip = (uintptr_t)in, op = (uintptr_t)out->data;
    int alias = out->data && ip >= op && ip < op + out->cap;
    size_t in_off = alias ? (size_t)(ip - op) : 0;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return MOTAN_ENOMEM;
    gz_header h;
    memset(&h, 0, sizeof(h));
    h.os = 255; /* "unknown", as Go writes it */
    int rc = MOTAN_OK;
    if (deflateSetHeader(&zs, &h) != Z_OK) {
        rc = MOTAN_ENOMEM;
        goto done;
    }
    size_t done_in = 0;
    int zrc = Z_OK;
    while (zrc != Z_STREAM_END) {
        if (out->cap - out->len < 64) {
            size_t want = len - done_in;
            want = (want > ZCHUNK ? ZCHUNK : want) / 2 + 4096;
            if ((rc = motan__buf_ensure(out, want)) != MOTAN_OK)
                goto done;
        }
        const uint8_t *base = alias ? out->data + in_off : in;
        size_t feed = len - done_in;
        if (feed > ZCHUNK)
            feed = ZCHUNK;
        size_t room = out->cap - out->len;
        if (room > ZCHUNK)
            room = ZCHUNK;
        zs.next_in = (Bytef *)(uintptr_t)(base + done_in);
        zs.avail_in = (uInt)feed;
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)room;
        zrc = deflate(&zs, done_in + feed == len ? Z_FINISH : Z_NO_FLUSH);
        done_in += feed - zs.avail_in;
        out->len += room - zs.avail_out;
        if (zrc == Z_STREAM_ERROR) {
            rc = MOTAN_ENOMEM;
            goto done;
        }
        /* Z_BUF_ERROR only means "no room": the next round grows out. */
        if (zrc == Z_BUF_ERROR && out->cap - out->len >= 64)
            if ((rc = motan__buf_ensure(out, out->cap)) != MOTAN_OK)
                goto done;
    }
done:
    deflateEnd(&zs);
    return rc;
}

static z_stream *inflater(void **state)
{
    z_stream *zs = *state;
    if (zs) {
        if (inflateReset2(zs, 15 + 32) != Z_OK)
            return NULL;
        return zs;
    }
    zs = motan__calloc(1, sizeof(*zs));
    if (!zs)
        return NULL;
    /* 15 + 32: auto-detect a gzip or a zlib header. */
    if (inflateInit2(zs, 15 + 32) != Z_OK) {
        motan_free(zs);
        return NULL;
    }
    *state = zs;
    return zs;
}

/* Doubles out, but never past limit bytes (a bomb must not make us allocate twice the cap). */
static int grow_capped(motan_buf *out, size_t in_len, size_t limit)
{
    size_t n = out->cap ? out->cap * 2 : (in_len < 256 ? 1024 : in_len * 4);
    if (n < out->cap || n > limit)
        n = limit;
    uint8_t *d = motan_realloc(out->data, n);
    if (!d)
        return MOTAN_ENOMEM;
    out->data = d;
    out->cap = n;
    return MOTAN_OK;
}

int motan__gunzip(void **state, const uint8_t *in, size_t len, size_t cap, motan_buf *out,
                  char *errbuf, size_t errlen)
{
    out->len = 0;
    z_stream *zs = inflater(state);
    if (!zs)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory for gunzip");
    const uint8_t *p = in;
    size_t left = len;
    for (;;) {
        /* Output room up to cap + 1 bytes, so that going over the cap shows. */
        if (out->cap == out->len && grow_capped(out, len, cap + 1) != MOTAN_OK)
            return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory for gunzip");
        size_t room = out->cap - out->len;
        if (room > cap + 1 - out->len)
            room = cap + 1 - out->len;
        if (room > ZCHUNK)
            room = ZCHUNK;
        size_t feed = left < ZCHUNK ? left : ZCHUNK;
        zs->next_in = (Bytef *)(uintptr_t)p;
        zs->avail_in = (uInt)feed;
        zs->next_out = out->data + out->len;
        zs->avail_out = (uInt)room;
        int zrc = inflate(zs, Z_NO_FLUSH);
        size_t used = feed - zs->avail_in;
        p += used;
        left -= used;
        out->len += room - zs->avail_out;
        if (out->len > cap)
            return motan__errf(errbuf, errlen, MOTAN_ETOOBIG, "gunzipped body over limit %zu",
                               cap);
        switch (zrc) {
        case Z_STREAM_END:
            if (!left)
                return MOTAN_OK;
            /* Another member follows (anything else fails in inflate). */
            if (inflateReset2(zs, 15 + 32) != Z_OK)
                return motan__errf(errbuf, errlen, MOTAN_EPROTO, "bad gzip body");
            break;
        case Z_OK:
            break;
        case Z_BUF_ERROR:
            /* No progress: fine when out of output room (it grows), not when out of input. */
            if (zs->avail_out != 0 && !left)
                return motan__errf(errbuf, errlen, MOTAN_EPROTO, "bad gzip body (truncated)");
            break;
        case Z_MEM_ERROR:
            return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory for gunzip");
        default:
            return motan__errf(errbuf, errlen, MOTAN_EPROTO, "bad gzip body");
        }
    }
}

void motan__gunzip_free(void *state)
{
    z_stream *zs = state;
    if (!zs)
        return;
    inflateEnd(zs);
    motan_free(zs);
}
