/*
 * libFuzzer target for the Simple reader: the tree decoder and the visitor must agree on
 * every input; a decoded value must re-encode and decode back to an equal value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ctx {
    const uint8_t *lo, *hi;
    long calls, depth, max_depth;
} ctx;

static int check_data(motan_type t, const char *p, size_t len, void *u)
{
    ctx *c = u;
    (void)t;
    if ((const uint8_t *)p < c->lo || (const uint8_t *)p + len > c->hi)
        abort(); /* zero copy: views must point into the input */
    c->calls++;
    return 0;
}
static int on_begin(motan_type t, size_t count, void *u)
{
    ctx *c = u;
    (void)t;
    if (count > (size_t)(c->hi - c->lo))
        abort(); /* every element takes at least one byte */
    if (++c->depth > c->max_depth)
        c->max_depth = c->depth;
    return 0;
}
static int on_end(motan_type t, void *u)
{
    (void)t;
    ((ctx *)u)->depth--;
    return 0;
}
static int on_null(void *u) { return ((ctx *)u)->calls++, 0; }

static const motan_visitor VIS = {on_null, NULL, NULL, NULL, check_data, on_begin, on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static motan_arena *arena;
    static motan_buf *buf;
    if (!arena) {
        arena = motan_arena_new();
        buf = motan_buf_new(0);
        if (!arena || !buf)
            abort();
    }
    motan_arena_reset(arena);
    motan_value *v = NULL, *w = NULL;
    size_t used = 0, vused = 0;
    char err[160];
    ctx c = {data, data + size, 0, 0, 0};

    int rc = motan_simple_decode_prefix(data, size, arena, &v, &used, err, sizeof(err));
    int vrc = motan_simple_visit(data, size, &VIS, &c, &vused, err, sizeof(err));
    if (rc != vrc || (rc != MOTAN_OK && rc != MOTAN_EDECODE))
        abort();
    if (rc == MOTAN_OK) {
        if (used != vused || used > size || c.depth != 0 || c.max_depth > MOTAN_MAX_DEPTH)
            abort();
        motan_buf_reset(buf);
        if (motan_simple_write_value(buf, v) != MOTAN_OK)
            abort();
        if (motan_simple_decode(motan_buf_data(buf), motan_buf_len(buf), arena, &w, err,
                                sizeof(err)) != MOTAN_OK ||
            !motan_value_equal(v, w))
            abort();
        char *text = motan_tjson_format(v); /* exercises the writer on arbitrary bytes */
        if (!text)
            abort();
        motan_free(text);
    }
    /* as a request body */
    rc = motan_simple_decode_seq(data, size, arena, &v, err, sizeof(err));
    if (rc == MOTAN_OK) {
        motan_buf_reset(buf);
        const motan_value *args[4];
        size_t n = motan_value_count(v) < 4 ? motan_value_count(v) : 4;
        for (size_t i = 0; i < n; i++)
            args[i] = motan_value_at(v, i);
        if (motan_serialize_args(MOTAN_SER_SIMPLE, args, n, buf, err, sizeof(err)) != MOTAN_OK)
            abort();
    } else if (rc != MOTAN_EDECODE) {
        abort();
    }
    return 0;
}
