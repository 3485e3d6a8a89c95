/*
 * codec_roundtrip: one value through the Simple serialization and back.
 *
 *   $ codec_roundtrip '["hello", {"$int32": 42}]'
 *   value:  ["hello",{"$int32":42}]
 *   simple: 150000000c010000000568656c6c6f0854
 *   back:   ["hello",{"$int32":42}]
 *
 * The value is written in typed JSON (docs/typed-json.md): plain JSON, plus one-key
 * "$" objects for the exact Simple types ({"$int32": 1}, {"$bytes": "AP8="}, ...).
 * Build: cc codec_roundtrip.c $(pkg-config --cflags --libs libmotan)
 */
#include <stdio.h>
#include <string.h>

#include <motan/codec.h>

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TYPED_JSON\n", argv[0]);
        return 2;
    }
    char err[256];
    int rc = 1;
    /* Every value lives in an arena; freeing the arena frees them all. */
    motan_arena *arena = motan_arena_new();
    motan_buf *buf = motan_buf_new(0);
    motan_value *value = NULL, *back = NULL;
    char *text = NULL, *back_text = NULL;
    if (!arena || !buf) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }

    /* Text -> value. */
    if (motan_tjson_parse(argv[1], strlen(argv[1]), arena, &value, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "bad value: %s\n", err);
        rc = 2;
        goto out;
    }
    text = motan_tjson_format(value);

    /* Value -> Simple bytes, appended to a growable buffer. */
    if (motan_simple_write_value(buf, value) != MOTAN_OK) {
        fprintf(stderr, "cannot encode\n");
        goto out;
    }

    /* Bytes -> a new value in the same arena: exactly one value must be there. */
    if (motan_simple_decode(motan_buf_data(buf), motan_buf_len(buf), arena, &back, err,
                            sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "cannot decode: %s\n", err);
        goto out;
    }
    back_text = motan_tjson_format(back);
    if (!text || !back_text) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }

    printf("value:  %s\n", text);
    printf("simple: ");
    print_hex(motan_buf_data(buf), motan_buf_len(buf));
    printf("back:   %s\n", back_text);
    rc = motan_value_equal(value, back) ? 0 : 1;
    if (rc)
        fprintf(stderr, "the decoded value differs\n");
out:
    /* Strings handed out by the library are freed with motan_free. */
    motan_free(text);
    motan_free(back_text);
    motan_buf_free(buf);
    motan_arena_free(arena);
    return rc;
}
