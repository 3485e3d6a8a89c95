/*
 * Serialization ids and names (§1.4) and the body dispatch: a table of codecs by id. Simple
 * lives here, msgpack in ser_msgpack.c, JSON in ser_json.c; a new one is an entry in `codecs`.
 */
#include <strings.h>

#include "codec/codec_int.h"

/* ---- Simple bodies (§5.5) ------------------------------------------------------------- */

static int simple_args(const motan_value *const *args, size_t n, motan_buf *out, char *errbuf,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = motan_simple_write_value(out, args[i]);
        if (rc != MOTAN_OK)
            return motan__errf(errbuf, errlen, rc, "cannot encode argument %zu: %s", i,
                               motan_strerror(rc));
    }
    return MOTAN_OK;
}

static int simple_value(const motan_value *v, motan_buf *out, char *errbuf, size_t errlen)
{
    int rc = motan_simple_write_value(out, v);
    if (rc != MOTAN_OK)
        return motan__errf(errbuf, errlen, rc, "cannot encode value: %s", motan_strerror(rc));
    return MOTAN_OK;
}

/* Go answers null with an empty body, Java with 00: both are null. */
static int simple_devalue(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                          char *errbuf, size_t errlen)
{
    if (len == 0) {
        *out = motan_value_new_null(a);
        return *out ? MOTAN_OK
                    : motan__budget_rc(a, motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory"),
                                       errbuf, errlen);
    }
    return motan_simple_decode(data, len, a, out, errbuf, errlen);
}

static int simple_deargs(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                         char *errbuf, size_t errlen)
{
    return motan_simple_decode_seq(data, len, a, out, errbuf, errlen);
}

static const motan__codec simple_codec = {simple_args, simple_value, simple_devalue,
                                          simple_deargs};

/* ---- tables --------------------------------------------------------------------------- */

static const char *const names[] = {
    [MOTAN_SER_HESSIAN2] = "hessian2", [MOTAN_SER_GRPC_PB] = "grpc-pb",
    [MOTAN_SER_JSON] = "json",         [MOTAN_SER_MSGPACK] = "msgpack",
    [MOTAN_SER_HPROSE] = "hprose",     [MOTAN_SER_PROTOBUF] = "protobuf",
    [MOTAN_SER_SIMPLE] = "simple",     [MOTAN_SER_GRPC_JSON] = "grpc-pb-json",
    [MOTAN_SER_BREEZE] = "breeze",
};

#define NSER ((int)(sizeof(names) / sizeof(names[0])))

/* Other spellings the implementations use for the same ids (§1.4). */
static const struct {
    const char *name;
    int id;
} aliases[] = {
    {"hessian", MOTAN_SER_HESSIAN2},  {"pb", MOTAN_SER_GRPC_PB},
    {"fastjson", MOTAN_SER_JSON},     {"grpc-json", MOTAN_SER_GRPC_JSON},
};

static const motan__codec *const codecs[NSER] = {
    [MOTAN_SER_SIMPLE] = &simple_codec,
    [MOTAN_SER_MSGPACK] = &motan__msgpack_codec,
    [MOTAN_SER_JSON] = &motan__json_codec,
};

MOTAN_EXPORT int motan_serialization_by_name(const char *name)
{
    if (!name)
        return MOTAN_ENOTFOUND;
    for (int i = 0; i < NSER; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(name, aliases[i].name) == 0)
            return aliases[i].id;
    return MOTAN_ENOTFOUND;
}

MOTAN_EXPORT const char *motan_serialization_name(int id)
{
    return id >= 0 && id < NSER ? names[id] : "unknown";
}

MOTAN_EXPORT int motan_serialization_supported(int id)
{
    return id >= 0 && id < NSER && codecs[id] != NULL;
}

static const motan__codec *codec_for(int ser, char *errbuf, size_t errlen)
{
    if (motan_serialization_supported(ser))
        return codecs[ser];
    motan__errf(errbuf, errlen, MOTAN_EUNSUPPORTED, "serialization %s (%d) is not supported",
                motan_serialization_name(ser), ser);
    return NULL;
}

/* ---- dispatch ------------------------------------------------------------------------- */

/* On failure out is left as it was. */
MOTAN_EXPORT int motan_serialize_args(int ser, const motan_value *const *args, size_t n,
                                      motan_buf *out, char *errbuf, size_t errlen)
{
    if (!out || (n && !args))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    const motan__codec *c = codec_for(ser, errbuf, errlen);
    if (!c)
        return MOTAN_EUNSUPPORTED;
    size_t start = motan_buf_len(out);
    int rc = c->serialize_args(args, n, out, errbuf, errlen);
    if (rc != MOTAN_OK)
        motan_buf_truncate(out, start);
    return rc;
}

MOTAN_EXPORT int motan_serialize_value(int ser, const motan_value *v, motan_buf *out,
                                       char *errbuf, size_t errlen)
{
    if (!out || !v)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    const motan__codec *c = codec_for(ser, errbuf, errlen);
    if (!c)
        return MOTAN_EUNSUPPORTED;
    size_t start = motan_buf_len(out);
    int rc = c->serialize_value(v, out, errbuf, errlen);
    if (rc != MOTAN_OK)
        motan_buf_truncate(out, start);
    return rc;
}

MOTAN_EXPORT int motan_deserialize_value(int ser, const uint8_t *data, size_t len,
                                         motan_arena *a, motan_value **out, char *errbuf,
                                         size_t errlen)
{
    if (!out || !a || (!data && len))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    *out = NULL;
    const motan__codec *c = codec_for(ser, errbuf, errlen);
    if (!c)
        return MOTAN_EUNSUPPORTED;
    return motan__budget_rc(a, c->deserialize_value(data, len, a, out, errbuf, errlen), errbuf,
                            errlen);
}

MOTAN_EXPORT int motan_deserialize_args(int ser, const uint8_t *data, size_t len,
                                        motan_arena *a, motan_value **out, char *errbuf,
                                        size_t errlen)
{
    if (!out || !a || (!data && len))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    *out = NULL;
    const motan__codec *c = codec_for(ser, errbuf, errlen);
    if (!c)
        return MOTAN_EUNSUPPORTED;
    return motan__budget_rc(a, c->deserialize_args(data, len, a, out, errbuf, errlen), errbuf,
                            errlen);
}
