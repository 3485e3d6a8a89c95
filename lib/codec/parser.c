/*
 * Incremental frame parser. Input is copied in only up to the next point where something
 * can be decided about the current frame (17 bytes: the metadata size; 21+M: the body
 * size; then the whole frame), and checked there, so an oversized declared length is
 * refused before its bytes are buffered. Returned frames are views into the buffer: bytes
 * are dropped and moved only at the start of the next call, never while views are live.
 *
 * Buffer layout: [start, ready) whole frames not yet returned, [ready, in.len) the frame
 * being gathered; its next check is at ready + need.
 */
#include "codec/codec_int.h"

/* A buffer this big is released when it empties (one large frame should not pin it). */
#define KEEP_CAP ((size_t)1 << 20)

struct motan_parser {
    size_t max;
    motan_buf in;
    size_t start, ready, need;
    size_t last; /* length of the frame handed out last, dropped at the next call */
    int err;
    char errmsg[160];
};

MOTAN_EXPORT motan_parser *motan_parser_new(size_t max_content)
{
    motan_parser *p = motan__calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->max = max_content ? max_content : MOTAN_DEFAULT_MAX_CONTENT;
    p->need = MOTAN__HDR_META;
    return p;
}

MOTAN_EXPORT void motan_parser_free(motan_parser *p)
{
    if (!p)
        return;
    motan_free(p->in.data);
    motan_free(p);
}

static void drop_last(motan_parser *p)
{
    p->start += p->last;
    p->last = 0;
}

/* Moves the unreturned bytes to the front (views of returned frames are dead by now). */
static void compact(motan_parser *p)
{
    if (p->start == 0)
        return;
    if (p->start == p->in.len) {
        p->start = p->ready = p->in.len = 0;
        if (p->in.cap > KEEP_CAP) {
            motan_free(p->in.data);
            p->in.data = NULL;
            p->in.cap = 0;
        }
        return;
    }
    memmove(p->in.data, p->in.data + p->start, p->in.len - p->start);
    p->in.len -= p->start;
    p->ready -= p->start;
    p->start = 0;
}

/* A fresh buffer starts at 4 KiB (what most frames fit in), then doubles as motan_buf does. */
static int reserve(motan_parser *p, size_t extra)
{
    return motan__buf_ensure(&p->in, p->in.cap || extra > 4096 ? extra : 4096);
}

static int fail(motan_parser *p, int rc)
{
    p->err = rc;
    return rc;
}

MOTAN_EXPORT int motan_parser_feed(motan_parser *p, const void *data, size_t len)
{
    if (!p || (!data && len))
        return MOTAN_EINVAL;
    if (p->err)
        return p->err;
    drop_last(p);
    compact(p);
    const uint8_t *in = data;
    while (len > 0) {
        size_t have = p->in.len - p->ready;
        size_t take = p->need - have;
        if (take > len)
            take = len;
        if (reserve(p, take) != MOTAN_OK) {
            motan__errf(p->errmsg, sizeof(p->errmsg), MOTAN_ENOMEM, "out of memory for input");
            return fail(p, MOTAN_ENOMEM);
        }
        motan__buf_put(&p->in, in, take);
        in += take;
        len -= take;
        have += take;
        /* The header is checked byte by byte (cheap); later only at the decision points. */
        if (have < MOTAN__HDR_META || have >= p->need) {
            size_t need;
            int rc = motan__frame_check(p->in.data + p->ready, have, p->max, &need, p->errmsg,
                                        sizeof(p->errmsg));
            if (rc == MOTAN_OK) {
                p->ready += need;
                p->need = MOTAN__HDR_META;
            } else if (rc == MOTAN_EAGAIN) {
                p->need = need;
            } else {
                return fail(p, rc);
            }
        }
    }
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_parser_next(motan_parser *p, motan_frame *f, char *errbuf, size_t errlen)
{
    if (!p || !f)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no parser or no frame");
    drop_last(p);
    /* Whole frames that came before a bad one are still handed out. */
    if (p->start < p->ready) {
        size_t n;
        int rc = motan_frame_parse(f, p->in.data + p->start, p->ready - p->start, p->max, &n,
                                   p->errmsg, sizeof(p->errmsg));
        if (rc == MOTAN_OK) {
            p->last = n;
            return MOTAN_OK;
        }
        /* The checked frame is still bad (metadata, gzip): the stream is lost. */
        p->ready = p->start;
        p->err = rc;
    }
    if (p->err)
        return motan__errf(errbuf, errlen, p->err, "%s", p->errmsg);
    return MOTAN_EAGAIN;
}

MOTAN_EXPORT size_t motan_parser_buffered(const motan_parser *p)
{
    return p->in.len - p->start - p->last;
}
