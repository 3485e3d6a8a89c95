/*
 * libFuzzer target for JSON bodies (id 2): arbitrary text as a response body and as request
 * arguments, fastjson extras included. Whatever decodes must encode again, decode to an equal
 * value and encode to the same text; it must also encode as msgpack.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static motan_arena *arena;
static motan_buf *buf, *buf2;

static int encode(const motan_value *v, int args, motan_buf *b)
{
    char err[160];
    motan_buf_reset(b);
    if (!args)
        return motan_serialize_value(MOTAN_SER_JSON, v, b, err, sizeof(err));
    size_t n = motan_value_count(v);
    const motan_value **a = malloc((n ? n : 1) * sizeof(*a));
    if (!a)
        abort();
    for (size_t i = 0; i < n; i++)
        a[i] = motan_value_at(v, i);
    int rc = motan_serialize_args(MOTAN_SER_JSON, a, n, b, err, sizeof(err));
    free(a);
    return rc;
}

static void round_trip(const motan_value *v, int args)
{
    char err[160];
    motan_value *w = NULL;
    if (encode(v, args, buf) != MOTAN_OK)
        abort();
    int rc = args ? motan_deserialize_args(MOTAN_SER_JSON, motan_buf_data(buf), motan_buf_len(buf),
                                           arena, &w, err, sizeof(err))
                  : motan_deserialize_value(MOTAN_SER_JSON, motan_buf_data(buf),
                                            motan_buf_len(buf), arena, &w, err, sizeof(err));
    if (rc != MOTAN_OK || !motan_value_equal(v, w))
        abort();
    if (encode(w, args, buf2) != MOTAN_OK || motan_buf_len(buf) != motan_buf_len(buf2) ||
        memcmp(motan_buf_data(buf), motan_buf_data(buf2), motan_buf_len(buf)) != 0)
        abort();
    /* Every value JSON carries also encodes as msgpack (arguments one by one: the array that
     * holds them is not itself a value and would add a nesting level). */
    size_t n = args ? motan_value_count(v) : 1;
    for (size_t i = 0; i < n; i++) {
        motan_buf_reset(buf2);
        if (motan_serialize_value(MOTAN_SER_MSGPACK, args ? motan_value_at(v, i) : v, buf2, err,
                                  sizeof(err)) != MOTAN_OK)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) {
        arena = motan_arena_new();
        buf = motan_buf_new(0);
        buf2 = motan_buf_new(0);
        if (!arena || !buf || !buf2)
            abort();
    }
    motan_arena_reset(arena);
    motan_value *v = NULL;
    char err[160];

    int rc = motan_deserialize_value(MOTAN_SER_JSON, data, size, arena, &v, err, sizeof(err));
    if (rc == MOTAN_OK)
        round_trip(v, 0);
    else if (rc != MOTAN_EDECODE || v)
        abort();

    rc = motan_deserialize_args(MOTAN_SER_JSON, data, size, arena, &v, err, sizeof(err));
    if (rc == MOTAN_OK)
        round_trip(v, 1);
    else if (rc != MOTAN_EDECODE || v)
        abort();
    return 0;
}
