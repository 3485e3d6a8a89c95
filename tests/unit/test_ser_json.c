/*
 * JSON bodies (id 2, fastjson-compatible, docs/serialization.md): exact text for every type,
 * what comes back from a JSON round trip, fastjson's extras ("@type" members, L/S/B/F/D
 * number suffixes), request and response bodies, errors, and a property test over random
 * trees (decoded values match the documented mapping; re-encoding gives the same text).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "testutil.h"

static motan_arena *A;
static motan_buf *B;

static void setup(void)
{
    A = motan_arena_new();
    B = motan_buf_new(0);
}

static void teardown(void)
{
    motan_arena_free(A);
    motan_buf_free(B);
}

static motan_value *tj(const char *text)
{
    motan_value *v = NULL;
    char err[128] = "";
    ck_assert_msg(motan_tjson_parse(text, strlen(text), A, &v, err, sizeof(err)) == 0, "%s: %s",
                  text, err);
    return v;
}

/* B's content is want; B is emptied. */
static void expect_text(const char *want)
{
    ck_assert_uint_eq(motan_buf_len(B), strlen(want));
    ck_assert_msg(memcmp(motan_buf_data(B), want, strlen(want)) == 0, "got %.*s, want %s",
                  (int)motan_buf_len(B), (const char *)motan_buf_data(B), want);
    motan_buf_reset(B);
}

static void enc_value(const motan_value *v, const char *want)
{
    char err[160] = "";
    ck_assert_msg(motan_serialize_value(MOTAN_SER_JSON, v, B, err, sizeof(err)) == 0, "%s: %s",
                  want, err);
    expect_text(want);
}

/* Encoding the typed-JSON value gives want. */
static void enc(const char *typed, const char *want) { enc_value(tj(typed), want); }

static motan_value *dec_n(const char *text, size_t len)
{
    char err[160] = "";
    motan_value *v = NULL;
    int rc = motan_deserialize_value(MOTAN_SER_JSON, (const uint8_t *)text, len, A, &v, err,
                                     sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "decode %s: %s", text, err);
    return v;
}

/* Decoding the JSON body text gives the typed-JSON value want. */
static void dec(const char *text, const char *want)
{
    motan_value *v = dec_n(text, strlen(text)), *w = tj(want);
    char *got = motan_tjson_format(v);
    ck_assert_msg(motan_value_equal(v, w), "%s decoded to %s, want %s", text, got, want);
    motan_free(got);
}

static void dec_err(const char *text, const char *msg)
{
    char err[160] = "";
    motan_value *v = (motan_value *)1;
    int rc = motan_deserialize_value(MOTAN_SER_JSON, (const uint8_t *)text, strlen(text), A, &v,
                                     err, sizeof(err));
    ck_assert_msg(rc == MOTAN_EDECODE, "%s: rc %d", text, rc);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err, msg) != NULL, "%s: error \"%s\" lacks \"%s\"", text, err, msg);
}

static void enc_err(const motan_value *v, int code, const char *msg)
{
    char err[160] = "";
    motan_buf_append(B, "x", 1);
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_JSON, v, B, err, sizeof(err)), code);
    ck_assert_str_eq(err, msg);
    expect_text("x"); /* left as it was */
}

/* ---- encoding: every type --------------------------------------------------------------- */

START_TEST(encode_scalars)
{
    enc("null", "null");
    enc("true", "true");
    enc("false", "false");
    enc("\"\"", "\"\"");
    enc("\"abc\"", "\"abc\"");
    enc_value(motan_value_new_string(A, "a\"\\\n\t\r\b\f\x01\x1f/\xc3\xa9\x7f", 14),
              "\"a\\\"\\\\\\n\\t\\r\\b\\f\\u0001\\u001f/\xc3\xa9\x7f\"");
    enc_value(motan_value_new_string(A, "a\0b", 3), "\"a\\u0000b\"");
    enc("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    /* bytes: base64, as fastjson writes byte[] */
    enc("{\"$bytes\":\"\"}", "\"\"");
    enc("{\"$bytes\":\"AP8=\"}", "\"AP8=\"");
    enc_value(motan_value_new_bytes(A, "abc", 3), "\"YWJj\"");
    enc_value(motan_value_new_bytes(A, "ab", 2), "\"YWI=\"");
    enc_value(motan_value_new_bytes(A, "abcd", 4), "\"YWJjZA==\"");
    /* integers: byte in Java's (signed) view */
    enc("{\"$byte\":127}", "127");
    enc("{\"$byte\":128}", "-128");
    enc("{\"$byte\":255}", "-1");
    enc("{\"$byte\":0}", "0");
    enc("{\"$int16\":-32768}", "-32768");
    enc("{\"$int16\":32767}", "32767");
    enc("{\"$int32\":2147483647}", "2147483647");
    enc("{\"$int32\":-2147483648}", "-2147483648");
    enc("0", "0");
    enc("-9223372036854775808", "-9223372036854775808");
    enc("9223372036854775807", "9223372036854775807");
}
END_TEST

START_TEST(encode_floats)
{
    static const struct {
        double d;
        const char *text;
    } f64[] = {{1.5, "1.5"},          {1.0, "1.0"},
               {0.1, "0.1"},          {-0.0, "-0.0"},
               {0.0, "0.0"},          {100, "100.0"},
               {-2.5, "-2.5"},        {1e300, "1e+300"},
               {1e16, "1e+16"},       {1e15, "1000000000000000.0"},
               {1e-5, "1e-05"},       {0.0001, "0.0001"},
               {5e-324, "5e-324"},    {123456.789, "123456.789"},
               {1.7976931348623157e308, "1.7976931348623157e+308"},
               {0.30000000000000004, "0.30000000000000004"}};
    for (size_t i = 0; i < sizeof(f64) / sizeof(f64[0]); i++)
        enc_value(motan_value_new_float64(A, f64[i].d), f64[i].text);
    static const struct {
        float f;
        const char *text;
    } f32[] = {{0.1f, "0.1"},
               {1.5f, "1.5"},
               {-0.0f, "-0.0"},
               {3.4028235e38f, "3.4028235e+38"},
               {16777216.0f, "16777216.0"},
               {1e-45f, "1e-45"},
               {0.3f, "0.3"}};
    for (size_t i = 0; i < sizeof(f32) / sizeof(f32[0]); i++)
        enc_value(motan_value_new_float32(A, f32[i].f), f32[i].text);
}
END_TEST

START_TEST(encode_containers)
{
    enc("{\"$string_map\":{\"k\":\"v\",\"a\":\"b\"}}", "{\"k\":\"v\",\"a\":\"b\"}");
    enc("{\"$string_map\":{}}", "{}");
    enc("{\"$string_array\":[\"a\",\"\"]}", "[\"a\",\"\"]");
    enc("{\"$string_array\":[]}", "[]");
    enc("{\"k\":1,\"n\":null,\"\\u00e9\\n\":[true]}",
        "{\"k\":1,\"n\":null,\"\xc3\xa9\\n\":[true]}");
    enc("{}", "{}");
    enc("[]", "[]");
    enc("[1,\"x\",[],{},{\"$int32\":3},{\"$float32\":0.5}]", "[1,\"x\",[],{},3,0.5]");
    enc("[{\"$string_map\":{\"k\":\"v\"}},{\"$string_array\":[\"x\"]},{\"$bytes\":\"AQ==\"}]",
        "[{\"k\":\"v\"},[\"x\"],\"AQ==\"]");
}
END_TEST

START_TEST(encode_errors)
{
    enc_err(motan_value_new_string(A, "a\xff", 2), MOTAN_EINVAL,
            "JSON: string is not valid UTF-8 (JSON text cannot carry it)");
    enc_err(motan_value_new_string(A, "\xed\xa0\x80", 3), MOTAN_EINVAL, /* a surrogate */
            "JSON: string is not valid UTF-8 (JSON text cannot carry it)");
    motan_value *m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_string(A, "\xc3", 1), tj("1"));
    enc_err(m, MOTAN_EINVAL, "JSON: map key is not valid UTF-8 (JSON text cannot carry it)");
    enc_err(tj("{\"$map\":[[\"a\",1],[7,\"x\"]]}"), MOTAN_EINVAL,
            "JSON: map key 1 is int64, JSON object keys must be strings");
    enc_err(tj("{\"$map\":[[{\"$bytes\":\"\"},1]]}"), MOTAN_EINVAL,
            "JSON: map key 0 is bytes, JSON object keys must be strings");
    enc_err(tj("[{\"$map\":[[null,1]]}]"), MOTAN_EINVAL,
            "JSON: map key 0 is null, JSON object keys must be strings");
    enc_err(tj("{\"$float64\":\"NaN\"}"), MOTAN_EINVAL, "JSON: float64 NaN has no JSON form");
    enc_err(tj("[{\"$float32\":\"-Infinity\"}]"), MOTAN_EINVAL,
            "JSON: float32 -Infinity has no JSON form");
    enc_err(tj("{\"$float64\":\"Infinity\"}"), MOTAN_EINVAL,
            "JSON: float64 Infinity has no JSON form");
    /* 65 levels */
    motan_value *root = motan_value_new_container(A, MOTAN_T_ARRAY), *c = root;
    for (int i = 0; i < 64; i++) {
        motan_value *next = motan_value_new_container(A, MOTAN_T_ARRAY);
        ck_assert_int_eq(motan_value_append(c, next), 0);
        c = next;
    }
    enc_err(root, MOTAN_ETOOBIG, "JSON: nesting deeper than 64");
    /* an argument that cannot be encoded is named; the buffer is left as it was */
    const motan_value *args[] = {tj("1"), tj("[{\"$float64\":\"NaN\"}]")};
    char err[160];
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_JSON, args, 2, B, err, sizeof(err)),
                     MOTAN_EINVAL);
    ck_assert_str_eq(err, "argument 1: JSON: float64 NaN has no JSON form");
    ck_assert_uint_eq(motan_buf_len(B), 0);
}
END_TEST

/* ---- decoding ----------------------------------------------------------------------------- */

START_TEST(decode_plain)
{
    dec("null", "null");
    dec("true", "true");
    dec("false", "false");
    dec("12", "12");
    dec("-0", "0");
    dec("-9223372036854775808", "-9223372036854775808");
    dec("1.5", "1.5");
    dec("-0.0", "-0.0");
    dec("1e2", "100.0");
    dec("1E-2", "0.01");
    dec(" \n\t 7 \r\n", "7");
    dec("\"a\\u00e9\\ud83d\\ude00\\/\\\"\"", "\"a\\u00e9\\ud83d\\ude00/\\\"\"");
    dec("{\"b\":1,\"a\":[1.5,\"x\",null,true,false],\"c\":{}}",
        "{\"b\":1,\"a\":[1.5,\"x\",null,true,false],\"c\":{}}");
    dec("[]", "[]");
    dec("{\"k\":\"v\"}", "{\"k\":\"v\"}"); /* an object is a MAP, even with string values */
    dec("[\"a\"]", "[\"a\"]");               /* an array is an ARRAY */
    /* a repeated key: the last value, at the first position */
    dec("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
    /* \u0000 in a string */
    motan_value *v = dec_n("\"a\\u0000b\"", 10);
    size_t len;
    const char *s = motan_value_get_data(v, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(memcmp(s, "a\0b", 4), 0);
    /* many members: lookups work on the decoded map */
    char text[2048] = "{";
    for (int i = 0; i < 100; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\"k%d\":%d", i ? "," : "", i,
                 i);
    strcat(text, "}");
    v = dec_n(text, strlen(text));
    ck_assert_uint_eq(motan_value_count(v), 100);
    ck_assert_int_eq(motan_value_get_int(motan_value_map_get(v, "k77", 3)), 77);
}
END_TEST

START_TEST(decode_fastjson)
{
    /* "@type" members are dropped at any depth */
    dec("{\"@type\":\"java.util.HashMap\",\"a\":{\"@type\":\"com.x.Foo\",\"b\":1},"
        "\"c\":[{\"@type\":\"Y\"},{\"d\":{\"@type\":\"Z\",\"e\":[2]}}]}",
        "{\"a\":{\"b\":1},\"c\":[{},{\"d\":{\"e\":[2]}}]}");
    dec("{\"a\":1,\"@type\":\"X\"}", "{\"a\":1}");
    dec("[{\"@type\":\"X\"}]", "[{}]");
    /* only that exact key, and never a value */
    dec("{\"@Type\":1,\"type\":2,\"x\":\"@type\",\"@type2\":3}",
        "{\"@Type\":1,\"type\":2,\"x\":\"@type\",\"@type2\":3}");
    /* number suffixes */
    dec("12L", "12");
    dec("[12L,3S,1B,1.5F,2.5D,-7L,1e3D,0L,-0.5D]", "[12,3,1,1.5,2.5,-7,1000.0,0,-0.5]");
    dec("{\"a\":12L,\"b\":[1L]}", "{\"a\":12,\"b\":[1]}");
    dec(" 5L ", "5");
    dec("{\"@type\":\"java.util.HashMap\",\"n\":1L}", "{\"n\":1}");
    /* inside strings nothing changes, escapes included */
    dec("[\"12L\",\"x\\\"1L\\\"\",\"\\\\\",\"2D\",3L,\"\\\\\\\"4F\"]",
        "[\"12L\",\"x\\\"1L\\\"\",\"\\\\\",\"2D\",3,\"\\\\\\\"4F\"]");
    dec("{\"1L\":\"2S\"}", "{\"1L\":\"2S\"}");
    /* only one letter, only after a digit or '.', only those letters */
    dec_err("12LL", "JSON: ");
    dec_err("[1,L]", "JSON: ");
    dec_err("trueL", "JSON: ");
    dec_err("12l", "JSON: ");
    dec_err("12X", "JSON: ");
    dec_err("L", "JSON: ");
}
END_TEST

START_TEST(decode_errors)
{
    dec_err("[1,", "JSON: ");
    dec_err("[1,", "at line 1 column");
    dec_err("{\"a\"}", "JSON: ");
    dec_err("1 2", "JSON: ");
    dec_err("nul", "JSON: ");
    dec_err("\"a\xff\"", "JSON: "); /* invalid UTF-8 in the text */
    dec_err("\"\\ud800\"", "JSON: "); /* a lone surrogate */
    dec_err("9223372036854775808", "JSON: ");
    dec_err("-9223372036854775809", "JSON: ");
    dec_err("1e400", "JSON: ");
    dec_err("{\"a\\u0000\":1}", "JSON: "); /* jansson: no NUL in keys */
    dec_err("   ", "JSON: ");
    dec_err("NaN", "JSON: ");
    /* nesting: 64 levels decode, 65 do not */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    motan_value *v = dec_n(deep, 128);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_ARRAY);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    dec_err(deep, "JSON: nesting deeper than 64");
    char *obj = malloc(65 * 6 + 2);
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)sprintf(obj + n, "{\"a\":");
    obj[n++] = '1';
    memset(obj + n, '}', 65);
    obj[n + 65] = '\0';
    dec_err(obj, "JSON: nesting deeper than 64");
    free(obj);
}
END_TEST

START_TEST(bodies)
{
    char err[160];
    motan_value *v = NULL;
    /* empty bodies: null, no arguments */
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_JSON, NULL, 0, A, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_NULL);
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_JSON, NULL, 0, A, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_ARRAY);
    ck_assert_uint_eq(motan_value_count(v), 0);
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_JSON, NULL, 0, B, err, sizeof(err)), 0);
    ck_assert_uint_eq(motan_buf_len(B), 0);

    /* arguments: one array */
    const motan_value *args[] = {tj("\"hello\""), tj("42"), tj("{\"$int32\":7}"), tj("null"),
                                 tj("{\"$string_map\":{\"k\":\"v\"}}")};
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_JSON, args, 5, B, err, sizeof(err)), 0);
    const char *text = "[\"hello\",42,7,null,{\"k\":\"v\"}]";
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_JSON, motan_buf_data(B), motan_buf_len(B),
                                            A, &v, err, sizeof(err)),
                     0);
    expect_text(text);
    ck_assert(motan_value_equal(v, tj("[\"hello\",42,7,null,{\"k\":\"v\"}]")));
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_JSON, args + 3, 1, B, err, sizeof(err)), 0);
    expect_text("[null]");

    /* an arguments body that is not an array */
    static const char *not_args[] = {"{\"a\":1}", "null", "1", "\"x\""};
    for (size_t i = 0; i < 4; i++) {
        v = (motan_value *)1;
        ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_JSON, (const uint8_t *)not_args[i],
                                                strlen(not_args[i]), A, &v, err, sizeof(err)),
                         MOTAN_EDECODE);
        ck_assert_ptr_null(v);
        ck_assert_str_eq(err, "JSON: a request body must be one JSON array of the arguments");
    }
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_JSON, (const uint8_t *)" [ ] ", 5, A, &v,
                                            err, sizeof(err)),
                     0);
    ck_assert_uint_eq(motan_value_count(v), 0);
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_JSON, (const uint8_t *)"[1L,\"a\"", 7, A, &v,
                                            err, sizeof(err)),
                     MOTAN_EDECODE);
    /* every argument may nest 64 levels */
    char deep[140] = "[";
    memset(deep + 1, '[', 64);
    memset(deep + 65, ']', 64);
    strcpy(deep + 129, ",1]");
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_JSON, (const uint8_t *)deep, strlen(deep), A,
                                            &v, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(motan_value_count(v), 2);
    /* a response is one value of any kind */
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_JSON, tj("null"), B, err, sizeof(err)), 0);
    expect_text("null");
    ck_assert(motan_serialization_supported(MOTAN_SER_JSON));
}
END_TEST

/* All 14 types through a JSON round trip: what comes back (docs/serialization.md). */
START_TEST(round_trip_types)
{
    const char *in = "[null,\"s\",{\"$string_map\":{\"k\":\"v\"}},{\"$bytes\":\"AP8=\"},"
                     "{\"$string_array\":[\"a\"]},true,{\"$byte\":255},{\"$int16\":-2},"
                     "{\"$int32\":7},8,{\"$float32\":0.1},0.25,{\"k\":1},[1]]";
    const char *out = "[null,\"s\",{\"k\":\"v\"},\"AP8=\",[\"a\"],true,-1,-2,7,8,0.1,0.25,"
                      "{\"k\":1},[1]]";
    char err[160];
    motan_value *v;
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_JSON, tj(in), B, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_JSON, motan_buf_data(B), motan_buf_len(B),
                                             A, &v, err, sizeof(err)),
                     0);
    expect_text(out);
    ck_assert(motan_value_equal(v, tj(out)));
    /* the float32 came back as the float64 of its shortest text */
    ck_assert_int_eq(motan_value_type(motan_value_at(v, 10)), MOTAN_T_FLOAT64);
    ck_assert(motan_value_get_float(motan_value_at(v, 10)) == 0.1);
}
END_TEST

/* ---- property ----------------------------------------------------------------------------- */

#define TREES 5000
#define MAX_DEPTH 5

static uint64_t rnd_state;
static uint64_t rnd(void) { return tu_rand(&rnd_state); }
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

static motan_value *gen_string(motan_arena *a, int nul_ok)
{
    static const char *pieces[] = {"a", "Z", "0", " ", "$", "\"", "\\", "\n", "\t", "\x01",
                                   "\x7f", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "/",
                                   "L", "1", "F", "."};
    char buf[200];
    size_t n = 0, len = below(4) ? below(6) : below(40);
    for (size_t i = 0; i < len; i++) {
        const char *p = pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    if (nul_ok && below(8) == 0)
        buf[n++] = '\0';
    return motan_value_new_string(a, buf, n);
}

static double finite_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return isfinite(d) ? d : (double)(int64_t)bits / 1024;
}

static motan_value *gen(motan_arena *a, int level)
{
    static const motan_type types[] = {
        MOTAN_T_NULL,  MOTAN_T_STRING, MOTAN_T_BYTES,   MOTAN_T_BOOL,    MOTAN_T_BYTE,
        MOTAN_T_INT16, MOTAN_T_INT32,  MOTAN_T_INT64,   MOTAN_T_FLOAT32, MOTAN_T_FLOAT64,
        MOTAN_T_MAP,   MOTAN_T_ARRAY,  MOTAN_T_STRING_MAP, MOTAN_T_STRING_ARRAY};
    char buf[64];
    motan_type t = level >= MAX_DEPTH ? types[below(10)]
                   : level < 2 && below(2) ? types[10 + below(4)]
                                           : types[below(14)];
    int64_t big = (int64_t)(rnd() >> below(64));
    switch (t) {
    case MOTAN_T_NULL:
        return motan_value_new_null(a);
    case MOTAN_T_STRING:
        return gen_string(a, 1);
    case MOTAN_T_BYTES: {
        size_t n = below(20);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)rnd();
        return motan_value_new_bytes(a, buf, n);
    }
    case MOTAN_T_BOOL:
        return motan_value_new_bool(a, (int)below(2));
    case MOTAN_T_BYTE:
        return motan_value_new_byte(a, (uint8_t)below(256));
    case MOTAN_T_INT16:
        return motan_value_new_int16(a, (int16_t)rnd());
    case MOTAN_T_INT32:
        return motan_value_new_int32(a, (int32_t)big);
    case MOTAN_T_INT64:
        return motan_value_new_int64(a, below(2) ? -big : big);
    case MOTAN_T_FLOAT32: {
        float f = (float)finite_of(rnd());
        return motan_value_new_float32(a, isfinite(f) ? f : 0.5f);
    }
    case MOTAN_T_FLOAT64:
        return motan_value_new_float64(a, below(2) ? finite_of(rnd()) : (double)big / 7);
    default:
        break;
    }
    motan_value *c = motan_value_new_container(a, t);
    unsigned n = below(level == 0 ? 8 : 4);
    for (unsigned i = 0; i < n; i++) {
        int rc;
        if (t == MOTAN_T_ARRAY)
            rc = motan_value_append(c, gen(a, level + 1));
        else if (t == MOTAN_T_STRING_ARRAY)
            rc = motan_value_append(c, gen_string(a, 1));
        else /* keys: strings without NUL (jansson) */
            rc = motan_value_map_put(c, gen_string(a, 0),
                                     t == MOTAN_T_MAP ? gen(a, level + 1) : gen_string(a, 1));
        if (rc != MOTAN_OK)
            return NULL;
    }
    return c;
}

static size_t b64_len(size_t n) { return (n + 2) / 3 * 4; }

/* d is what the documented JSON mapping makes of v. */
static int matches(const motan_value *v, const motan_value *d)
{
    motan_type t = motan_value_type(v), dt = motan_value_type(d);
    size_t n = motan_value_count(v);
    switch (t) {
    case MOTAN_T_NULL:
    case MOTAN_T_BOOL:
    case MOTAN_T_STRING:
    case MOTAN_T_INT64:
    case MOTAN_T_FLOAT64:
        return motan_value_equal(v, d);
    case MOTAN_T_BYTES: {
        size_t len, dlen;
        motan_value_get_data(v, &len);
        motan_value_get_data(d, &dlen);
        return dt == MOTAN_T_STRING && dlen == b64_len(len);
    }
    case MOTAN_T_BYTE:
        return dt == MOTAN_T_INT64 && motan_value_get_int(d) == (int8_t)motan_value_get_int(v);
    case MOTAN_T_INT16:
    case MOTAN_T_INT32:
        return dt == MOTAN_T_INT64 && motan_value_get_int(d) == motan_value_get_int(v);
    case MOTAN_T_FLOAT32: {
        double x = motan_value_get_float(d);
        float f = (float)motan_value_get_float(v);
        return dt == MOTAN_T_FLOAT64 && (float)x == f && !signbit(x) == !signbit(f);
    }
    case MOTAN_T_MAP:
    case MOTAN_T_STRING_MAP:
        if (dt != MOTAN_T_MAP || motan_value_count(d) != n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!motan_value_equal(motan_value_key_at(v, i), motan_value_key_at(d, i)) ||
                !matches(motan_value_value_at(v, i), motan_value_value_at(d, i)))
                return 0;
        return 1;
    default:
        if (dt != MOTAN_T_ARRAY || motan_value_count(d) != n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!matches(motan_value_at(v, i), motan_value_at(d, i)))
                return 0;
        return 1;
    }
}

START_TEST(property_round_trip)
{
    motan_arena *a = motan_arena_new();
    motan_buf *b = motan_buf_new(0), *b2 = motan_buf_new(0);
    rnd_state = 0x6a736f6eULL; /* "json" */
    for (int i = 0; i < TREES; i++) {
        motan_arena_reset(a);
        motan_buf_reset(b);
        motan_buf_reset(b2);
        motan_value *v = gen(a, 0), *back = NULL;
        char err[160] = "";
        ck_assert_msg(v != NULL, "tree %d: building failed", i);
        if (motan_serialize_value(MOTAN_SER_JSON, v, b, err, sizeof(err)) != MOTAN_OK)
            ck_abort_msg("tree %d: encode: %s", i, err);
        if (motan_deserialize_value(MOTAN_SER_JSON, motan_buf_data(b), motan_buf_len(b), a, &back,
                                    err, sizeof(err)) != MOTAN_OK ||
            !matches(v, back))
            ck_abort_msg("tree %d: %s: %.*s from %s", i, err[0] ? err : "decoded value differs",
                         (int)motan_buf_len(b), (const char *)motan_buf_data(b),
                         motan_tjson_format(v));
        /* the decoded value encodes to the same text */
        ck_assert_int_eq(motan_serialize_value(MOTAN_SER_JSON, back, b2, err, sizeof(err)), 0);
        ck_assert_msg(motan_buf_len(b) == motan_buf_len(b2) &&
                          memcmp(motan_buf_data(b), motan_buf_data(b2), motan_buf_len(b)) == 0,
                      "tree %d: text not stable: %.*s", i, (int)motan_buf_len(b),
                      (const char *)motan_buf_data(b));
    }
    motan_buf_free(b2);
    motan_buf_free(b);
    motan_arena_free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ser_json");
    TCase *tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, encode_scalars);
    tcase_add_test(tc, encode_floats);
    tcase_add_test(tc, encode_containers);
    tcase_add_test(tc, encode_errors);
    tcase_add_test(tc, decode_plain);
    tcase_add_test(tc, decode_fastjson);
    tcase_add_test(tc, decode_errors);
    tcase_add_test(tc, bodies);
    tcase_add_test(tc, round_trip_types);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("property");
    tcase_set_timeout(tp, 600);
    tcase_add_test(tp, property_round_trip);
    suite_add_tcase(s, tp);
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
