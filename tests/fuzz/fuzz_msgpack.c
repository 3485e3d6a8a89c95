/*
 * libFuzzer target for msgpack bodies (id 3): arbitrary bytes as a response body and as
 * request arguments. Whatever decodes must encode again and decode to an equal value (the
 * exact-type round trip of docs/serialization.md); the JSON writer gets the value too.
 */
#include <stdint.h>
#include <stdlib.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static motan_arena *arena;
static motan_buf *buf;

/* v re-encoded (as a value or as the arguments of an ARRAY) decodes to an equal value. */
static void round_trip(const motan_value *v, int args)
{
    char err[160];
    motan_value *w = NULL;
    motan_buf_reset(buf);
    int rc;
    if (args) {
        size_t n = motan_value_count(v);
        const motan_value **a = malloc((n ? n : 1) * sizeof(*a));
        if (!a)
            abort();
        for (size_t i = 0; i < n; i++)
            a[i] = motan_value_at(v, i);
        rc = motan_serialize_args(MOTAN_SER_MSGPACK, a, n, buf, err, sizeof(err));
        free(a);
    } else {
        rc = motan_serialize_value(MOTAN_SER_MSGPACK, v, buf, err, sizeof(err));
    }
    if (rc != MOTAN_OK)
        abort();
    rc = args ? motan_deserialize_args(MOTAN_SER_MSGPACK, motan_buf_data(buf), motan_buf_len(buf),
                                       arena, &w, err, sizeof(err))
              : motan_deserialize_value(MOTAN_SER_MSGPACK, motan_buf_data(buf),
                                        motan_buf_len(buf), arena, &w, err, sizeof(err));
    if (rc != MOTAN_OK || !motan_value_equal(v, w))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) {
        arena = motan_arena_new();
        buf = motan_buf_new(0);
        if (!arena || !buf)
            abort();
    }
    motan_arena_reset(arena);
    motan_value *v = NULL;
    char err[160];

    int rc = motan_deserialize_value(MOTAN_SER_MSGPACK, data, size, arena, &v, err, sizeof(err));
    if (rc == MOTAN_OK) {
        if (!v)
            abort();
        round_trip(v, 0);
        motan_buf_reset(buf);
        rc = motan_serialize_value(MOTAN_SER_JSON, v, buf, err, sizeof(err));
        if (rc != MOTAN_OK && rc != MOTAN_EINVAL) /* EINVAL: bytes or keys JSON cannot carry */
            abort();
    } else if (rc != MOTAN_EDECODE || v) {
        abort();
    }

    rc = motan_deserialize_args(MOTAN_SER_MSGPACK, data, size, arena, &v, err, sizeof(err));
    if (rc == MOTAN_OK)
        round_trip(v, 1);
    else if (rc != MOTAN_EDECODE || v)
        abort();
    return 0;
}
