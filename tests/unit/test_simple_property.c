/*
 * Property tests over 100 000 random value trees (fixed seed): all 14 types, nesting up to
 * depth 6, random float bits (NaN payloads, -0.0, subnormals), strings with NUL, control
 * characters and invalid UTF-8.
 *   Simple:     encode -> decode -> equal, and the visitor consumes exactly the encoding;
 *   typed JSON: format -> parse -> equal, and formatting the result gives the same text.
 * String map and string array items are valid UTF-8 (NUL-free keys): typed JSON writes other
 * bytes there lossily, by design.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "testutil.h"

#define TREES 100000
#define MAX_DEPTH 6

static uint64_t rnd_state;
static uint64_t rnd(void) { return tu_rand(&rnd_state); }
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

/* Bytes: any byte values (valid UTF-8 or not) when raw, else valid UTF-8 text. */
static size_t gen_bytes(char *buf, int raw, int nul_ok)
{
    static const char *pieces[] = {"a", "Z", "0", " ", "$", "\"", "\\", "\n", "\t", "\x01",
                                   "\x7f", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "/"};
    size_t n = 0, len = below(4) ? below(6) : below(40);
    for (size_t i = 0; i < len; i++) {
        if (raw && below(4) == 0) {
            buf[n++] = (char)below(256);
            continue;
        }
        const char *p = pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    if (nul_ok && below(8) == 0)
        buf[n++] = '\0';
    return n;
}

static double gen_double(void)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1e300, 5e-324, 1e16, 1e-5, 100};
    double d;
    uint64_t bits;
    switch (below(3)) {
    case 0:
        bits = rnd();
        memcpy(&d, &bits, 8);
        return d;
    case 1:
        return (double)(int64_t)(rnd() >> below(64)) / (double)(1ULL << below(40));
    default:
        return special[below(sizeof(special) / sizeof(special[0]))];
    }
}

static motan_value *gen(motan_arena *a, int depth)
{
    static const motan_type types[] = {
        MOTAN_T_NULL,  MOTAN_T_STRING, MOTAN_T_BYTES,   MOTAN_T_BOOL,    MOTAN_T_BYTE,
        MOTAN_T_INT16, MOTAN_T_INT32,  MOTAN_T_INT64,   MOTAN_T_FLOAT32, MOTAN_T_FLOAT64,
        MOTAN_T_MAP,   MOTAN_T_ARRAY,  MOTAN_T_STRING_MAP, MOTAN_T_STRING_ARRAY};
    char buf[256], kbuf[256];
    motan_type t;
    if (depth >= MAX_DEPTH)
        t = types[below(10)];
    else if (depth < 3 && below(2))
        t = types[10 + below(4)];
    else
        t = types[below(14)];
    int64_t big = (int64_t)(rnd() >> below(64));
    switch (t) {
    case MOTAN_T_NULL:
        return motan_value_new_null(a);
    case MOTAN_T_STRING:
        return motan_value_new_string(a, buf, gen_bytes(buf, 1, 1));
    case MOTAN_T_BYTES:
        return motan_value_new_bytes(a, buf, gen_bytes(buf, 1, 1));
    case MOTAN_T_BOOL:
        return motan_value_new_bool(a, (int)below(2));
    case MOTAN_T_BYTE:
        return motan_value_new_byte(a, (uint8_t)below(256));
    case MOTAN_T_INT16:
        return motan_value_new_int16(a, (int16_t)rnd());
    case MOTAN_T_INT32:
        return motan_value_new_int32(a, below(2) ? (int32_t)big : (int32_t)(int8_t)rnd());
    case MOTAN_T_INT64:
        return motan_value_new_int64(a, below(2) ? -big : big);
    case MOTAN_T_FLOAT32: {
        if (below(2)) {
            uint32_t bits = (uint32_t)rnd();
            float f;
            memcpy(&f, &bits, 4);
            return motan_value_new_float32(a, f);
        }
        return motan_value_new_float32(a, (float)gen_double());
    }
    case MOTAN_T_FLOAT64:
        return motan_value_new_float64(a, gen_double());
    default:
        break;
    }
    motan_value *c = motan_value_new_container(a, t);
    unsigned n = below(depth == 0 ? 6 : 4);
    for (unsigned i = 0; i < n; i++) {
        int rc;
        switch (t) {
        case MOTAN_T_ARRAY:
            rc = motan_value_append(c, gen(a, depth + 1));
            break;
        case MOTAN_T_STRING_ARRAY:
            rc = motan_value_append(c, motan_value_new_string(a, buf, gen_bytes(buf, 0, 1)));
            break;
        case MOTAN_T_STRING_MAP: {
            size_t kn = gen_bytes(kbuf, 0, 0);
            rc = motan_value_map_put(c, motan_value_new_string(a, kbuf, kn),
                                     motan_value_new_string(a, buf, gen_bytes(buf, 0, 1)));
            break;
        }
        default: /* MAP: string keys mostly (bare objects), any type sometimes */
            if (below(3)) {
                size_t kn = gen_bytes(kbuf, below(8) == 0, below(8) == 0);
                rc = motan_value_map_put(c, motan_value_new_string(a, kbuf, kn), gen(a, depth + 1));
            } else {
                rc = motan_value_map_put(c, gen(a, depth + 1), gen(a, depth + 1));
            }
        }
        if (rc != MOTAN_OK)
            return NULL;
    }
    return c;
}

static int count_types(const motan_value *v, int *seen)
{
    int n = 1;
    seen[motan_value_type(v)] = 1;
    size_t c = motan_value_count(v);
    for (size_t i = 0; i < c; i++) {
        motan_type t = motan_value_type(v);
        if (t == MOTAN_T_MAP || t == MOTAN_T_STRING_MAP) {
            n += count_types(motan_value_key_at(v, i), seen);
            n += count_types(motan_value_value_at(v, i), seen);
        } else {
            n += count_types(motan_value_at(v, i), seen);
        }
    }
    return n;
}

START_TEST(simple_round_trip)
{
    motan_arena *a = motan_arena_new();
    motan_buf *b = motan_buf_new(0);
    int seen[32] = {0};
    long nodes = 0;
    rnd_state = 0x5eed5eed1234ULL;
    for (int i = 0; i < TREES; i++) {
        motan_arena_reset(a);
        motan_buf_reset(b);
        motan_value *v = gen(a, 0), *back = NULL;
        char err[160] = "";
        size_t used = 0;
        if (!v)
            ck_abort_msg("tree %d: building failed", i);
        nodes += count_types(v, seen);
        if (motan_simple_write_value(b, v) != MOTAN_OK)
            ck_abort_msg("tree %d: encode failed", i);
        if (motan_simple_decode(motan_buf_data(b), motan_buf_len(b), a, &back, err, sizeof(err)) !=
                MOTAN_OK ||
            !motan_value_equal(v, back)) {
            char *t = motan_tjson_format(v);
            ck_abort_msg("tree %d: %s: %s", i, err[0] ? err : "decoded value differs", t);
        }
        if (motan_simple_visit(motan_buf_data(b), motan_buf_len(b), NULL, NULL, &used, NULL, 0) !=
                MOTAN_OK ||
            used != motan_buf_len(b))
            ck_abort_msg("tree %d: visitor disagrees", i);
    }
    static const int all[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ck_assert_msg(seen[all[i]], "type %d never generated", all[i]);
    ck_assert_int_gt(nodes, TREES * 3L);
    motan_buf_free(b);
    motan_arena_free(a);
}
END_TEST

START_TEST(tjson_round_trip)
{
    motan_arena *a = motan_arena_new();
    rnd_state = 0x5eed5eed1234ULL; /* the same trees as above */
    for (int i = 0; i < TREES; i++) {
        motan_arena_reset(a);
        motan_value *v = gen(a, 0), *back = NULL;
        char err[160] = "";
        char *text = motan_tjson_format(v);
        if (!text)
            ck_abort_msg("tree %d: format failed", i);
        if (motan_tjson_parse(text, strlen(text), a, &back, err, sizeof(err)) != MOTAN_OK ||
            !motan_value_equal(v, back))
            ck_abort_msg("tree %d: %s: %s", i, err[0] ? err : "parsed value differs", text);
        char *again = motan_tjson_format(back);
        if (!again || strcmp(text, again) != 0)
            ck_abort_msg("tree %d: text not canonical: %s vs %s", i, text, again);
        motan_free(again);
        motan_free(text);
    }
    motan_arena_free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("simple_property");
    TCase *tc = tcase_create("property");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, simple_round_trip);
    tcase_add_test(tc, tjson_round_trip);
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
