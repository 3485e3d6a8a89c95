/*
 * Every entry of $MOTAN_VECTORS_DIR/simple.json, read at run time:
 *   both:   typed JSON text -> encode == hex, and decode(hex) equals the text's value;
 *   decode: decode(hex) equals the text's value;
 *   reject: decoding hex fails with MOTAN_EDECODE.
 * Each mismatch is printed with the vector's name; the test fails if there was any.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "testutil.h"

static int check_vector(json_t *e, int *checked)
{
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *mode = json_string_value(json_object_get(e, "mode"));
    const char *hex = json_string_value(json_object_get(e, "hex"));
    const char *text = json_string_value(json_object_get(e, "text"));
    char err[256] = "";
    uint8_t *bytes;
    size_t len;
    int bad = 0;

    if (!name || !mode || !hex || tu_hex_decode(hex, &bytes, &len) != 0) {
        fprintf(stderr, "vector %s: malformed entry\n", name ? name : "?");
        return 1;
    }
    motan_arena *a = motan_arena_new();
    motan_value *want = NULL, *got = NULL;
    if (strcmp(mode, "reject") == 0) {
        int rc = motan_simple_decode(bytes, len, a, &got, err, sizeof(err));
        if (rc != MOTAN_EDECODE) {
            fprintf(stderr, "vector %s: expected MOTAN_EDECODE, got %s\n", name, motan_errname(rc));
            bad = 1;
        }
        /* When even the first value is malformed, the visitor must refuse it too. */
        int prefix = motan_simple_decode_prefix(bytes, len, a, &got, NULL, NULL, 0);
        int visit = motan_simple_visit(bytes, len, NULL, NULL, NULL, NULL, 0);
        if (prefix != MOTAN_OK && visit != MOTAN_EDECODE) {
            fprintf(stderr, "vector %s: visitor accepts what the decoder rejects\n", name);
            bad = 1;
        }
    } else if (strcmp(mode, "both") == 0 || strcmp(mode, "decode") == 0) {
        if (!text || motan_tjson_parse(text, strlen(text), a, &want, err, sizeof(err)) != 0) {
            fprintf(stderr, "vector %s: cannot parse text: %s\n", name, err);
            bad = 1;
            goto out;
        }
        int rc = motan_simple_decode(bytes, len, a, &got, err, sizeof(err));
        if (rc != MOTAN_OK) {
            fprintf(stderr, "vector %s: decode failed: %s\n", name, err);
            bad = 1;
        } else if (!motan_value_equal(want, got)) {
            char *t = motan_tjson_format(got);
            fprintf(stderr, "vector %s: decoded %s, want %s\n", name, t ? t : "?", text);
            motan_free(t);
            bad = 1;
        }
        if (strcmp(mode, "both") == 0) {
            motan_buf *b = motan_buf_new(0);
            rc = motan_simple_write_value(b, want);
            char *h = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
            if (rc != MOTAN_OK || strcmp(h, hex) != 0) {
                fprintf(stderr, "vector %s: encoded %s, want %s\n", name, h, hex);
                bad = 1;
            }
            free(h);
            motan_buf_free(b);
        }
    } else {
        fprintf(stderr, "vector %s: unknown mode %s\n", name, mode);
        bad = 1;
    }
out:
    (*checked)++;
    motan_arena_free(a);
    free(bytes);
    return bad;
}

START_TEST(all_vectors)
{
    json_t *vectors = tu_load_vectors("simple.json");
    ck_assert(json_is_array(vectors));
    int failures = 0, checked = 0;
    size_t i;
    json_t *e;
    json_array_foreach(vectors, i, e) failures += check_vector(e, &checked);
    ck_assert_int_eq(checked, (int)json_array_size(vectors));
    ck_assert_int_gt(checked, 0);
    json_decref(vectors);
    ck_assert_msg(failures == 0, "%d of %d vectors failed (see stderr)", failures, checked);
}
END_TEST

/* The reject vectors' errors say why; check that the stated reason appears in errbuf. */
START_TEST(reject_reasons)
{
    json_t *vectors = tu_load_vectors("simple.json");
    int failures = 0;
    size_t i;
    json_t *e;
    json_array_foreach(vectors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "mode")), "reject") != 0)
            continue;
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *why = json_string_value(json_object_get(e, "error"));
        uint8_t *bytes;
        size_t len;
        char err[256] = "";
        ck_assert_int_eq(tu_hex_decode(json_string_value(json_object_get(e, "hex")), &bytes, &len),
                         0);
        motan_arena *a = motan_arena_new();
        motan_value *v;
        motan_simple_decode(bytes, len, a, &v, err, sizeof(err));
        if (!why || !strstr(err, why) || !strstr(err, "at offset")) {
            fprintf(stderr, "vector %s: error \"%s\" does not say \"%s\" at an offset\n", name, err,
                    why ? why : "?");
            failures++;
        }
        motan_arena_free(a);
        free(bytes);
    }
    json_decref(vectors);
    ck_assert_msg(failures == 0, "%d reject vectors with unclear errors", failures);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conformance_simple");
    TCase *tc = tcase_create("vectors");
    tcase_add_test(tc, all_vectors);
    tcase_add_test(tc, reject_reasons);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
