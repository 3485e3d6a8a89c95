/* What a handler reads of its request: views into the reply's own copy of the frame. */
#include "server/server_int.h"

static motan_reply *reply_of(const motan_server_request *r)
{
    return (motan_reply *)(uintptr_t)r; /* the request is the reply's first member */
}

static const char *str(const char *p, size_t n, size_t *len)
{
    if (len)
        *len = n;
    return p;
}

MOTAN_EXPORT const char *motan_server_request_service(const motan_server_request *r, size_t *len)
{
    return r->service ? str(r->service, r->slen, len) : str("", 0, len);
}

MOTAN_EXPORT const char *motan_server_request_method(const motan_server_request *r, size_t *len)
{
    return r->method ? str(r->method, r->mlen, len) : str("", 0, len);
}

MOTAN_EXPORT const char *motan_server_request_meta(const motan_server_request *r, const char *key,
                                                   size_t *len)
{
    size_t vlen = 0;
    const char *v = key ? motan_frame_meta_get(r->frame, key, strlen(key), &vlen) : NULL;
    if (len)
        *len = v ? vlen : 0;
    return v;
}

MOTAN_EXPORT size_t motan_server_request_meta_count(const motan_server_request *r)
{
    return motan_frame_meta_count(r->frame);
}

MOTAN_EXPORT const char *motan_server_request_meta_key(const motan_server_request *r, size_t i,
                                                       size_t *len)
{
    return motan_frame_meta_key(r->frame, i, len);
}

MOTAN_EXPORT const char *motan_server_request_meta_value(const motan_server_request *r, size_t i,
                                                         size_t *len)
{
    return motan_frame_meta_value(r->frame, i, len);
}

MOTAN_EXPORT uint64_t motan_server_request_id(const motan_server_request *r)
{
    return motan_frame_get_request_id(r->frame);
}

MOTAN_EXPORT int motan_server_request_serialization(const motan_server_request *r)
{
    return motan_frame_get_serialization(r->frame);
}

MOTAN_EXPORT int motan_server_request_flags(const motan_server_request *r)
{
    return motan_frame_get_flags(r->frame);
}

MOTAN_EXPORT const uint8_t *motan_server_request_body(const motan_server_request *r, size_t *len)
{
    return motan_frame_body(r->frame, len);
}

MOTAN_EXPORT int motan_server_request_args(const motan_server_request *r, const motan_value **args,
                                           char *errbuf, size_t errlen)
{
    if (!r || !args)
        return MOTAN_EINVAL;
    int rc = motan__reply_decode(reply_of(r));
    *args = rc == MOTAN_OK ? r->args : NULL;
    if (rc != MOTAN_OK)
        motan__errf(errbuf, errlen, rc, "%s", r->args_err);
    return rc;
}

MOTAN_EXPORT const char *motan_server_request_peer(const motan_server_request *r)
{
    return r->peer;
}
