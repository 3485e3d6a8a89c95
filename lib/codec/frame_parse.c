/*
 * Frame parser (§1-§4): checks run in the order the bytes arrive, so a bad or oversized
 * frame is refused as soon as the bytes that prove it are in (before its body is read).
 * The parsed frame is a set of views into the input; only a gzip body is copied (inflated
 * into the frame's own reusable buffer, under the size cap).
 */
#include "codec/codec_int.h"

static const char no_details[] = "no error details";

/* Inflated bodies over this get a buffer of their own, freed at the next parse. */
#define INFLATED_KEEP_MAX ((size_t)1024 * 1024)

MOTAN_EXPORT motan_frame *motan_frame_new(void) { return motan__calloc(1, sizeof(motan_frame)); }

MOTAN_EXPORT void motan_frame_free(motan_frame *f)
{
    if (!f)
        return;
    motan_free(f->ents);
    motan_free(f->inflated.data);
    motan_free(f->errbuf.data);
    motan__gunzip_free(f->zs);
    motan_free(f);
}

int motan__frame_check(const uint8_t *d, size_t len, size_t max, size_t *need, char *errbuf,
                       size_t errlen)
{
    if (max == 0)
        max = MOTAN_DEFAULT_MAX_CONTENT;
    if ((len >= 1 && d[0] != 0xF1) || (len >= 2 && d[1] != 0xF1))
        return motan__errf(errbuf, errlen, MOTAN_EPROTO, "bad magic");
    if (len >= 4) {
        unsigned ver = d[3] >> 3;
        if (ver == 0)
            return motan__errf(errbuf, errlen, MOTAN_EMOTAN1, "peer speaks motan1");
        if (ver != 1)
            return motan__errf(errbuf, errlen, MOTAN_EVERSION, "unsupported version %u", ver);
    }
    if (len < MOTAN__HDR_META) {
        *need = MOTAN__HDR_META;
        return MOTAN_EAGAIN;
    }
    uint32_t m = motan__get_u32be(d + MOTAN__HDR_META_SIZE);
    if (m > max)
        return motan__errf(errbuf, errlen, MOTAN_ETOOBIG, "metadata size %u over limit %zu", m,
                           max);
    size_t meta_end = (size_t)MOTAN__HDR_META + m, body_at = meta_end + 4;
    uint32_t bsz = 0;
    int complete = 0;
    if (len >= body_at) {
        bsz = motan__get_u32be(d + meta_end);
        complete = len - body_at >= bsz;
    }
    /* A whole frame's metadata is split (and checked) by the parse itself. */
    if (!complete && len >= meta_end &&
        motan__meta_check((const char *)d + MOTAN__HDR_META, m) != MOTAN_OK)
        return motan__errf(errbuf, errlen, MOTAN_EPROTO, "odd metadata segments");
    if (len < body_at) {
        *need = body_at;
        return MOTAN_EAGAIN;
    }
    if (bsz > max)
        return motan__errf(errbuf, errlen, MOTAN_ETOOBIG, "body size %u over limit %zu", bsz,
                           max);
    *need = body_at + bsz;
    return complete ? MOTAN_OK : MOTAN_EAGAIN;
}

/* The frame is reused for every frame of a connection: a bomb's buffer must not stay. */
static void drop_big_inflated(motan_frame *f)
{
    if (f->inflated.cap > INFLATED_KEEP_MAX) {
        motan_free(f->inflated.data);
        f->inflated.data = NULL;
        f->inflated.cap = f->inflated.len = 0;
    }
}

static void clear(motan_frame *f)
{
    f->nents = 0;
    f->meta = NULL;
    f->body = NULL;
    f->body_len = 0;
    f->is_error = 0;
    f->errcode = 0;
    f->errtype = 0;
    f->errmsg = NULL;
    f->errmsg_len = 0;
}

/* Fills the error fields of f from its status and M_e (§3.3). */
static int load_error(motan_frame *f)
{
    f->is_error = 1;
    f->errcode = 0;
    f->errtype = 1;
    size_t elen;
    const char *e = motan_frame_meta_get(f, "M_e", 3, &elen);
    if (!e || elen == 0) {
        f->errmsg = no_details;
        f->errmsg_len = sizeof(no_details) - 1;
        return MOTAN_OK;
    }
    int64_t code;
    int type;
    int rc = motan__errjson_parse(e, elen, &code, &type, &f->errbuf);
    if (rc == MOTAN_ENOMEM)
        return rc;
    if (rc != MOTAN_OK) {
        /* Unparsable: report the raw text, as Java does. */
        f->errmsg = e;
        f->errmsg_len = elen;
        return MOTAN_OK;
    }
    f->errcode = code;
    f->errtype = type;
    f->errmsg = f->errbuf.len ? (const char *)f->errbuf.data : "";
    f->errmsg_len = f->errbuf.len;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_frame_parse(motan_frame *f, const uint8_t *data, size_t len,
                                   size_t max_content, size_t *consumed, char *errbuf,
                                   size_t errlen)
{
    if (!f || (!data && len))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no frame or no data");
    clear(f);
    drop_big_inflated(f);
    if (max_content == 0)
        max_content = MOTAN_DEFAULT_MAX_CONTENT;
    size_t total = 0;
    int rc = motan__frame_check(data, len, max_content, &total, errbuf, errlen);
    if (rc == MOTAN_EAGAIN) {
        if (consumed)
            *consumed = total < MOTAN_FRAME_MIN ? MOTAN_FRAME_MIN : total;
        return rc;
    }
    if (rc != MOTAN_OK)
        return rc;

    f->flags = data[2];
    f->status = data[3] & 7;
    f->ser = data[4] >> 3;
    f->id = motan__get_u64be(data + 5);
    if (f->flags & MOTAN_FLAG_HEARTBEAT)
        f->kind = (f->flags & MOTAN_FLAG_RESPONSE) ? MOTAN_FRAME_HEARTBEAT_RESPONSE
                                                   : MOTAN_FRAME_HEARTBEAT_REQUEST;
    else
        f->kind = (f->flags & MOTAN_FLAG_RESPONSE) ? MOTAN_FRAME_RESPONSE : MOTAN_FRAME_REQUEST;

    uint32_t m = motan__get_u32be(data + MOTAN__HDR_META_SIZE);
    rc = motan__frame_split_meta(f, (const char *)data + MOTAN__HDR_META, m, errbuf, errlen);
    if (rc != MOTAN_OK) {
        clear(f);
        return rc;
    }
    size_t body_at = (size_t)MOTAN__HDR_META + m + 4;
    f->body = data + body_at;
    f->body_len = total - body_at;
    /* Heartbeats are recognised whatever their body (§4), so theirs is left as it came. */
    if ((f->flags & MOTAN_FLAG_GZIP) && f->body_len && !(f->flags & MOTAN_FLAG_HEARTBEAT)) {
        rc = motan__gunzip(&f->zs, f->body, f->body_len, max_content, &f->inflated, errbuf,
                           errlen);
        if (rc != MOTAN_OK) {
            clear(f);
            drop_big_inflated(f);
            return rc;
        }
        f->body = f->inflated.data ? f->inflated.data : (const uint8_t *)"";
        f->body_len = f->inflated.len;
    }
    if (f->status != 0 && !(f->flags & MOTAN_FLAG_HEARTBEAT)) {
        rc = load_error(f);
        if (rc != MOTAN_OK) {
            clear(f);
            return motan__errf(errbuf, errlen, rc, "out of memory for M_e");
        }
    }
    if (consumed)
        *consumed = total;
    return MOTAN_OK;
}

MOTAN_EXPORT motan_frame_kind motan_frame_get_kind(const motan_frame *f) { return f->kind; }
MOTAN_EXPORT uint8_t motan_frame_get_flags(const motan_frame *f) { return f->flags; }
MOTAN_EXPORT int motan_frame_get_status(const motan_frame *f) { return f->status; }
MOTAN_EXPORT int motan_frame_get_serialization(const motan_frame *f) { return f->ser; }
MOTAN_EXPORT uint64_t motan_frame_get_request_id(const motan_frame *f) { return f->id; }

MOTAN_EXPORT const uint8_t *motan_frame_body(const motan_frame *f, size_t *len)
{
    if (len)
        *len = f->body_len;
    return f->body;
}

MOTAN_EXPORT int motan_frame_error(const motan_frame *f, int64_t *errcode, int *errtype,
                                   const char **msg, size_t *msglen)
{
    if (!f || !f->is_error)
        return 0;
    if (errcode)
        *errcode = f->errcode;
    if (errtype)
        *errtype = f->errtype;
    if (msg)
        *msg = f->errmsg;
    if (msglen)
        *msglen = f->errmsg_len;
    return 1;
}
