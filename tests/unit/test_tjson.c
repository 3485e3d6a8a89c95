/* Typed JSON (docs/typed-json.md): reading, canonical writing, errors, round trips. */
#include <check.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "testutil.h"

static motan_arena *A;

static void setup(void) { A = motan_arena_new(); }
static void teardown(void) { motan_arena_free(A); }

static motan_value *parse(const char *text)
{
    motan_value *v = NULL;
    char err[160] = "";
    int rc = motan_tjson_parse(text, strlen(text), A, &v, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "parse %s: %s", text, err);
    return v;
}

static void expect_text(const motan_value *v, const char *want)
{
    char *t = motan_tjson_format(v);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t, want);
    motan_free(t);
}

/* text is canonical: text -> value -> text gives it back. */
static void canonical(const char *text) { expect_text(parse(text), text); }

static void parse_fails(const char *text, const char *why)
{
    motan_value *v = (motan_value *)1;
    char err[160] = "";
    ck_assert_int_eq(motan_tjson_parse(text, strlen(text), A, &v, err, sizeof(err)), MOTAN_EDECODE);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err, why) != NULL, "%s: error \"%s\" does not say \"%s\"", text, err, why);
}

START_TEST(examples_table)
{
    static const struct {
        const char *text, *hex;
    } ex[] = {
        {"{\"$int32\":1}", "0802"},
        {"42", "0954"},
        {"{\"$string_map\":{\"k\":\"v\"}}", "020000000a000000016b0000000176"},
        {"{\"k\":1}", "140000000801000000016b0902"},
        {"{\"$map\":[[7,\"x\"]]}", "1400000008090e010000000178"},
        {"[\"a\",{\"$int32\":1},true]", "150000000a01000000016108020501"},
        {"{\"$bytes\":\"AP8=\"}", "030000000200ff"},
    };
    motan_buf *b = motan_buf_new(0);
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        motan_buf_reset(b);
        ck_assert_int_eq(motan_simple_write_value(b, parse(ex[i].text)), 0);
        char *h = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
        ck_assert_str_eq(h, ex[i].hex);
        motan_value *v;
        ck_assert_int_eq(motan_simple_decode(motan_buf_data(b), motan_buf_len(b), A, &v, NULL, 0), 0);
        expect_text(v, ex[i].text);
        free(h);
    }
    motan_buf_free(b);
}
END_TEST

START_TEST(reading_table)
{
    motan_value *v = parse("null");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_NULL);
    ck_assert_int_eq(motan_value_get_bool(parse("true")), 1);
    ck_assert_int_eq(motan_value_type(parse("false")), MOTAN_T_BOOL);
    ck_assert_int_eq(motan_value_type(parse("\"t\"")), MOTAN_T_STRING);
    ck_assert_int_eq(motan_value_type(parse("7")), MOTAN_T_INT64);
    ck_assert_int_eq(motan_value_type(parse("-0")), MOTAN_T_INT64);
    ck_assert_int_eq(motan_value_type(parse("7.0")), MOTAN_T_FLOAT64);
    ck_assert_int_eq(motan_value_type(parse("7e0")), MOTAN_T_FLOAT64);
    ck_assert_int_eq(motan_value_type(parse("[1]")), MOTAN_T_ARRAY);
    ck_assert_int_eq(motan_value_type(parse("{\"a\":1}")), MOTAN_T_MAP);

    v = parse("{\"$byte\":-1}");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_BYTE);
    ck_assert_int_eq(motan_value_get_int(v), 255);
    ck_assert_int_eq(motan_value_get_int(parse("{\"$byte\":-128}")), 128);
    ck_assert_int_eq(motan_value_get_int(parse("{\"$byte\":0}")), 0);
    ck_assert_int_eq(motan_value_type(parse("{\"$int16\":-32768}")), MOTAN_T_INT16);
    ck_assert_int_eq(motan_value_get_int(parse("{\"$int16\":32767}")), 32767);
    ck_assert_int_eq(motan_value_get_int(parse("{\"$int32\":-2147483648}")), INT32_MIN);
    v = parse("{\"$int64\":9223372036854775807}");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_INT64);
    ck_assert(motan_value_get_int(v) == INT64_MAX);

    v = parse("{\"$float32\":1.5}");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_FLOAT32);
    ck_assert(motan_value_get_float(v) == 1.5);
    ck_assert(motan_value_get_float(parse("{\"$float32\":2}")) == 2.0);
    ck_assert(isnan(motan_value_get_float(parse("{\"$float32\":\"NaN\"}"))));
    ck_assert(motan_value_get_float(parse("{\"$float32\":\"-Infinity\"}")) == -INFINITY);
    ck_assert_int_eq(motan_value_type(parse("{\"$float64\":3}")), MOTAN_T_FLOAT64);
    ck_assert(motan_value_get_float(parse("{\"$float64\":\"Infinity\"}")) == INFINITY);

    size_t len;
    v = parse("{\"$bytes\":\"AP8=\"}");
    const char *p = motan_value_get_data(v, &len);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_BYTES);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq((uint8_t)p[1], 0xff);
    ck_assert_uint_eq(motan_value_count(parse("{\"$bytes\":\"\"}")), 0);
    v = parse("{\"$string\":\"/w==\"}");
    p = motan_value_get_data(v, &len);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_STRING);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq((uint8_t)p[0], 0xff);
    ck_assert_int_eq(p[1], '\0');

    v = parse("{\"$string_map\":{\"z\":\"1\",\"a\":\"2\"}}");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_STRING_MAP);
    ck_assert_str_eq(motan_value_get_data(motan_value_key_at(v, 0), NULL), "z");
    v = parse("{\"$string_array\":[\"a\",\"\"]}");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_STRING_ARRAY);
    ck_assert_uint_eq(motan_value_count(v), 2);
    v = parse("{\"$map\":[[true,1],[null,2],[[1],3]]}");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_MAP);
    ck_assert_int_eq(motan_value_type(motan_value_key_at(v, 2)), MOTAN_T_ARRAY);
    ck_assert(motan_value_equal(parse("{\"$array\":[1,\"x\"]}"), parse("[1,\"x\"]")));
    ck_assert(motan_value_equal(parse("{\"$map\":[]}"), parse("{}")));
    ck_assert(motan_value_equal(parse("{\"$map\":[[\"a\",1]]}"), parse("{\"a\":1}")));
    ck_assert(!motan_value_equal(parse("{\"$int32\":1}"), parse("1")));
}
END_TEST

START_TEST(nan_bits_and_strings_with_nul)
{
    /* "NaN" reads as Go's math.NaN(), the bits the float64_nan vector expects */
    motan_buf *b = motan_buf_new(0);
    motan_simple_write_value(b, parse("{\"$float64\":\"NaN\"}"));
    char *h = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
    ck_assert_str_eq(h, "0b7ff8000000000001");
    free(h);
    motan_buf_free(b);

    size_t len;
    const char *p = motan_value_get_data(parse("\"a\\u0000b\""), &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(p, "a\0b", 4) == 0);
}
END_TEST

START_TEST(object_order_and_duplicates)
{
    motan_value *v = parse("{\"z\":1,\"a\":2,\"m\":3}");
    ck_assert_str_eq(motan_value_get_data(motan_value_key_at(v, 0), NULL), "z");
    ck_assert_str_eq(motan_value_get_data(motan_value_key_at(v, 1), NULL), "a");
    ck_assert_str_eq(motan_value_get_data(motan_value_key_at(v, 2), NULL), "m");
    /* duplicates: last wins at the first position */
    expect_text(parse("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\":3,\"b\":2}");
    expect_text(parse("{\"$map\":[[1,\"x\"],[2,\"y\"],[1,\"z\"]]}"), "{\"$map\":[[1,\"z\"],[2,\"y\"]]}");
    expect_text(parse("{\"$string_map\":{\"k\":\"v\",\"k\":\"w\"}}"), "{\"$string_map\":{\"k\":\"w\"}}");
}
END_TEST

START_TEST(errors)
{
    parse_fails("", "typed JSON");
    parse_fails("[1,2", "line 1");
    parse_fails("{\"a\":}", "column");
    parse_fails("1 2", "typed JSON");
    parse_fails("99999999999999999999", "too big");
    parse_fails("1e999", "overflow");
    parse_fails("{\"$int64\":9223372036854775808}", "too big");
    parse_fails("{\"$nope\":1}", "unknown typed-JSON key");
    parse_fails("{\"$int32\":1,\"$int64\":2}", "only key");
    parse_fails("{\"a\":1,\"$int64\":2}", "only key");
    parse_fails("{\"$byte\":256}", "out of range");
    parse_fails("{\"$byte\":-129}", "out of range");
    parse_fails("{\"$int16\":32768}", "out of range");
    parse_fails("{\"$int16\":-32769}", "out of range");
    parse_fails("{\"$int32\":2147483648}", "out of range");
    parse_fails("{\"$int32\":-2147483649}", "out of range");
    parse_fails("{\"$int32\":1.0}", "integer");
    parse_fails("{\"$int64\":\"1\"}", "integer");
    parse_fails("{\"$float64\":\"nan\"}", "NaN");
    parse_fails("{\"$float64\":null}", "number");
    parse_fails("{\"$float32\":1e39}", "float32 range");
    parse_fails("{\"$bytes\":\"AP8\"}", "base64");
    parse_fails("{\"$bytes\":\"AP8*\"}", "base64");
    parse_fails("{\"$bytes\":\"A=P8\"}", "base64");
    parse_fails("{\"$bytes\":\"AP9=\"}", "base64");
    parse_fails("{\"$bytes\":1}", "base64");
    parse_fails("{\"$string\":\"===\"}", "base64");
    parse_fails("{\"$string_map\":{\"k\":1}}", "must be a string");
    parse_fails("{\"$string_map\":[\"k\"]}", "object");
    parse_fails("{\"$string_array\":[\"a\",1]}", "must be a string");
    parse_fails("{\"$string_array\":[null]}", "must be a string");
    parse_fails("{\"$string_array\":{}}", "array");
    parse_fails("{\"$map\":[[1]]}", "pair");
    parse_fails("{\"$map\":[[1,2,3]]}", "pair");
    parse_fails("{\"$map\":{}}", "pairs");
    parse_fails("{\"$array\":{}}", "array");
    parse_fails("{\"$map\":[[{\"$x\":1},2]]}", "unknown");
    parse_fails("[1,{\"$int16\":true}]", "integer");
    motan_value *v;
    ck_assert_int_eq(motan_tjson_parse(NULL, 1, A, &v, NULL, 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_tjson_parse("1", 1, A, NULL, NULL, 0), MOTAN_EINVAL);
}
END_TEST

/* depth containers: depth - 1 times open, then inner (itself a container), then the closes. */
static char *nested(const char *open, const char *inner, const char *close, int depth)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc((lo + lc) * (size_t)depth + li + 1), *q = s;
    for (int i = 1; i < depth; i++, q += lo)
        memcpy(q, open, lo);
    memcpy(q, inner, li);
    q += li;
    for (int i = 1; i < depth; i++, q += lc)
        memcpy(q, close, lc);
    *q = '\0';
    return s;
}

START_TEST(nesting_limit)
{
    static const char *forms[][3] = {{"[", "[]", "]"},
                                     {"{\"k\":", "{}", "}"},
                                     {"{\"$array\":[", "{\"$string_array\":[]}", "]}"},
                                     {"{\"$map\":[[1,", "{\"$string_map\":{}}", "]]}"}};
    for (size_t f = 0; f < 4; f++) {
        char *ok = nested(forms[f][0], forms[f][1], forms[f][2], 64);
        char *bad = nested(forms[f][0], forms[f][1], forms[f][2], 65);
        motan_value *v;
        char err[160] = "";
        ck_assert_msg(motan_tjson_parse(ok, strlen(ok), A, &v, err, sizeof(err)) == MOTAN_OK,
                      "form %zu: %s", f, err);
        parse_fails(bad, "nesting deeper than 64");
        free(ok);
        free(bad);
    }
}
END_TEST

START_TEST(write_numbers)
{
    expect_text(motan_value_new_float64(A, 1.0), "1.0");
    expect_text(motan_value_new_float64(A, -0.1), "-0.1");
    expect_text(motan_value_new_float64(A, 1e300), "1e+300");
    expect_text(motan_value_new_float64(A, -0.0), "-0.0");
    expect_text(motan_value_new_float64(A, 0.0), "0.0");
    expect_text(motan_value_new_float64(A, 0.1 + 0.2), "0.30000000000000004");
    expect_text(motan_value_new_float64(A, 5e-324), "5e-324");
    expect_text(motan_value_new_float64(A, 1.7976931348623157e308), "1.7976931348623157e+308");
    expect_text(motan_value_new_float64(A, 123456.0), "123456.0");
    expect_text(motan_value_new_float64(A, 100.0), "100.0");
    expect_text(motan_value_new_float64(A, 0.0001), "0.0001");
    expect_text(motan_value_new_float64(A, 0.00012), "0.00012");
    expect_text(motan_value_new_float64(A, 1e-5), "1e-05");
    expect_text(motan_value_new_float64(A, -1.5e-7), "-1.5e-07");
    expect_text(motan_value_new_float64(A, 1234567890123456.0), "1234567890123456.0");
    expect_text(motan_value_new_float64(A, 1e16), "1e+16");
    expect_text(motan_value_new_float64(A, 12.5), "12.5");
    expect_text(motan_value_new_float64(A, NAN), "{\"$float64\":\"NaN\"}");
    expect_text(motan_value_new_float64(A, INFINITY), "{\"$float64\":\"Infinity\"}");
    expect_text(motan_value_new_float64(A, -INFINITY), "{\"$float64\":\"-Infinity\"}");
    expect_text(motan_value_new_float32(A, 1.5f), "{\"$float32\":1.5}");
    expect_text(motan_value_new_float32(A, -0.1f), "{\"$float32\":-0.1}");
    expect_text(motan_value_new_float32(A, 0.3f), "{\"$float32\":0.3}");
    expect_text(motan_value_new_float32(A, 16777216.0f), "{\"$float32\":16777216.0}");
    expect_text(motan_value_new_float32(A, 3.4028235e38f), "{\"$float32\":3.4028235e+38}");
    expect_text(motan_value_new_float32(A, 1e-45f), "{\"$float32\":1e-45}");
    expect_text(motan_value_new_float32(A, NAN), "{\"$float32\":\"NaN\"}");
    expect_text(motan_value_new_float32(A, -INFINITY), "{\"$float32\":\"-Infinity\"}");
    expect_text(motan_value_new_byte(A, 255), "{\"$byte\":255}");
    expect_text(motan_value_new_int16(A, -32768), "{\"$int16\":-32768}");
    expect_text(motan_value_new_int32(A, INT32_MIN), "{\"$int32\":-2147483648}");
    expect_text(motan_value_new_int64(A, INT64_MIN), "-9223372036854775808");
}
END_TEST

START_TEST(write_strings)
{
    expect_text(motan_value_new_string(A, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    expect_text(motan_value_new_string(A, "\n\t\r\b\f\x01\x1f\x7f", 8),
                "\"\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"");
    expect_text(motan_value_new_string(A, "\0", 1), "\"\\u0000\"");
    expect_text(motan_value_new_string(A, "/\xe4\xb8\xad\xf0\x9f\x98\x80", 8),
                "\"/\xe4\xb8\xad\xf0\x9f\x98\x80\"");
    /* invalid UTF-8 -> $string base64: lone byte, overlong, surrogate, > U+10FFFF, truncated */
    expect_text(motan_value_new_string(A, "\xff", 1), "{\"$string\":\"/w==\"}");
    expect_text(motan_value_new_string(A, "\xc0\x80", 2), "{\"$string\":\"wIA=\"}");
    expect_text(motan_value_new_string(A, "\xe0\x80\x80", 3), "{\"$string\":\"4ICA\"}");
    expect_text(motan_value_new_string(A, "\xed\xa0\x80", 3), "{\"$string\":\"7aCA\"}");
    expect_text(motan_value_new_string(A, "\xf4\x90\x80\x80", 4), "{\"$string\":\"9JCAgA==\"}");
    expect_text(motan_value_new_string(A, "a\xe4\xb8", 3), "{\"$string\":\"YeS4\"}");
    /* the edges that are valid */
    expect_text(motan_value_new_string(A, "\xed\x9f\xbf\xf4\x8f\xbf\xbf", 7),
                "\"\xed\x9f\xbf\xf4\x8f\xbf\xbf\"");
    expect_text(motan_value_new_bytes(A, "", 0), "{\"$bytes\":\"\"}");
    expect_text(motan_value_new_bytes(A, "a", 1), "{\"$bytes\":\"YQ==\"}");
    expect_text(motan_value_new_bytes(A, "ab", 2), "{\"$bytes\":\"YWI=\"}");
    expect_text(motan_value_new_bytes(A, "abc", 3), "{\"$bytes\":\"YWJj\"}");
}
END_TEST

START_TEST(write_maps)
{
    motan_value *m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_string(A, "a", 1), motan_value_new_int64(A, 1));
    motan_value_map_put(m, motan_value_new_string(A, "", 0), motan_value_new_null(A));
    expect_text(m, "{\"a\":1,\"\":null}");
    /* a key starting with $ forces the $map form */
    motan_value_map_put(m, motan_value_new_string(A, "$x", 2), motan_value_new_bool(A, 1));
    expect_text(m, "{\"$map\":[[\"a\",1],[\"\",null],[\"$x\",true]]}");
    /* as does a key with NUL or invalid UTF-8, or a non-string key */
    m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_string(A, "a\0", 2), motan_value_new_int64(A, 1));
    expect_text(m, "{\"$map\":[[\"a\\u0000\",1]]}");
    m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_string(A, "\xff", 1), motan_value_new_int64(A, 1));
    expect_text(m, "{\"$map\":[[{\"$string\":\"/w==\"},1]]}");
    m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_bytes(A, "k", 1), motan_value_new_int64(A, 1));
    expect_text(m, "{\"$map\":[[{\"$bytes\":\"aw==\"},1]]}");

    /* string map / string array: invalid UTF-8 becomes U+FFFD (lossy), NUL in keys too */
    motan_value *sm = motan_value_new_container(A, MOTAN_T_STRING_MAP);
    motan_value_map_put(sm, motan_value_new_string(A, "k\xff", 2), motan_value_new_string(A, "\xc0", 1));
    motan_value_map_put(sm, motan_value_new_string(A, "n\0", 2), motan_value_new_string(A, "v\0", 2));
    motan_value_map_put(sm, motan_value_new_string(A, "$d", 2), motan_value_new_string(A, "\"", 1));
    expect_text(sm, "{\"$string_map\":{\"k\xef\xbf\xbd\":\"\xef\xbf\xbd\",\"n\xef\xbf\xbd\":"
                    "\"v\\u0000\",\"$d\":\"\\\"\"}}");
    motan_value *sa = motan_value_new_container(A, MOTAN_T_STRING_ARRAY);
    motan_value_append(sa, motan_value_new_string(A, "\xe4\xb8", 2));
    motan_value_append(sa, motan_value_new_string(A, "ok", 2));
    expect_text(sa, "{\"$string_array\":[\"\xef\xbf\xbd\xef\xbf\xbd\",\"ok\"]}");
}
END_TEST

START_TEST(canonical_round_trips)
{
    static const char *texts[] = {
        "null", "true", "false", "\"\"", "\"a\\\"\\\\\\n\\u0000\xe4\xb8\xad\"", "0", "-1",
        "9223372036854775807", "1.0", "-0.0", "1e+300", "2.5e-10", "0.1",
        "{\"$float64\":\"NaN\"}", "{\"$float64\":\"-Infinity\"}", "{\"$float32\":0.1}",
        "{\"$float32\":\"Infinity\"}", "{\"$byte\":0}", "{\"$byte\":128}", "{\"$int16\":7}",
        "{\"$int32\":-7}", "{\"$bytes\":\"AAEC\"}", "{\"$string\":\"gA==\"}", "[]", "{}",
        "{\"$string_map\":{}}", "{\"$string_array\":[]}",
        "{\"$string_map\":{\"$k\":\"v\",\"\":\"\"}}", "{\"$string_array\":[\"\",\"a\"]}",
        "{\"$map\":[[null,null],[[],{}],[{\"$int32\":1},1]]}",
        "{\"$map\":[[\"$a\",1]]}", "{\"a\":{\"b\":[1,{\"c\":null}]}}",
        "[\"a\",{\"$int32\":1},null,true,[{\"$string_map\":{\"k\":\"v\"}}]]",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        canonical(texts[i]);
    /* $int64 and $array are accepted but not canonical */
    expect_text(parse("{\"$int64\":5}"), "5");
    expect_text(parse("{\"$array\":[]}"), "[]");
    expect_text(parse("{\"$float64\":1}"), "1.0");
    expect_text(parse("1E2"), "100.0");
    expect_text(parse(" [ 1 , 2 ] "), "[1,2]");
}
END_TEST

/* The writer must not depend on LC_NUMERIC. */
START_TEST(locale_independent)
{
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
        return; /* no such locale installed: nothing to check */
    expect_text(motan_value_new_float64(A, 1.5), "1.5");
    expect_text(motan_value_new_float32(A, 0.25f), "{\"$float32\":0.25}");
    ck_assert(motan_value_get_float(parse("2.5")) == 2.5);
    setlocale(LC_NUMERIC, "C");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tjson");
    TCase *tc = tcase_create("tjson");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, examples_table);
    tcase_add_test(tc, reading_table);
    tcase_add_test(tc, nan_bits_and_strings_with_nul);
    tcase_add_test(tc, object_order_and_duplicates);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, nesting_limit);
    tcase_add_test(tc, write_numbers);
    tcase_add_test(tc, write_strings);
    tcase_add_test(tc, write_maps);
    tcase_add_test(tc, canonical_round_trips);
    tcase_add_test(tc, locale_independent);
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
