/*
 * msgpack bodies (id 3, docs/serialization.md): exact bytes for every type in both
 * directions, the other msgpack forms a plain peer may send, request and response bodies,
 * malformed input, nesting limits, and 20 000 random trees round-tripping with exact types.
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

static char *nospace(const char *hex)
{
    char *h = malloc(strlen(hex) + 1);
    size_t n = 0;
    for (const char *p = hex; *p; p++)
        if (*p != ' ')
            h[n++] = *p;
    h[n] = '\0';
    return h;
}

/* Hex with optional spaces -> malloc'd bytes. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    char *h = nospace(hex);
    uint8_t *out;
    ck_assert_msg(tu_hex_decode(h, &out, len) == 0, "bad hex %s", hex);
    free(h);
    return out;
}

static motan_value *tj(const char *text)
{
    motan_value *v = NULL;
    char err[128] = "";
    ck_assert_msg(motan_tjson_parse(text, strlen(text), A, &v, err, sizeof(err)) == 0, "%s: %s",
                  text, err);
    return v;
}

/* B's content as hex (spaces in want ignored); B is emptied. */
static void expect_hex(const char *want)
{
    char *h = tu_hex_encode(motan_buf_data(B), motan_buf_len(B));
    char *w = nospace(want);
    ck_assert_str_eq(h, w);
    free(h);
    free(w);
    motan_buf_reset(B);
}

static motan_value *dec(const char *hex)
{
    size_t len;
    uint8_t *p = unhex(hex, &len);
    char err[160] = "";
    motan_value *v = NULL;
    int rc = motan_deserialize_value(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err));
    free(p);
    ck_assert_msg(rc == MOTAN_OK, "decode %s: %s", hex, err);
    return v;
}

static void expect_value(const char *hex, const char *text)
{
    motan_value *v = dec(hex), *want = tj(text);
    char *got = motan_tjson_format(v);
    ck_assert_msg(motan_value_equal(v, want), "%s decoded to %s, want %s", hex, got, text);
    motan_free(got);
}

static void expect_err(const char *hex, const char *msg)
{
    size_t len;
    uint8_t *p = unhex(hex, &len);
    char err[160] = "";
    motan_value *v = (motan_value *)1;
    int rc = motan_deserialize_value(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err));
    free(p);
    ck_assert_msg(rc == MOTAN_EDECODE, "%s: rc %d", hex, rc);
    ck_assert_ptr_null(v);
    ck_assert_str_eq(err, msg);
}

/* Encoding text's value gives hex, and decoding hex gives the value back. */
static void both(const char *text, const char *hex)
{
    char err[160] = "";
    motan_value *v = tj(text);
    ck_assert_msg(motan_serialize_value(MOTAN_SER_MSGPACK, v, B, err, sizeof(err)) == 0, "%s: %s",
                  text, err);
    expect_hex(hex);
    expect_value(hex, text);
}

/* ---- every type, both directions ------------------------------------------------------ */

START_TEST(scalars)
{
    both("null", "c0");
    both("true", "c3");
    both("false", "c2");
    both("{\"$byte\":127}", "d4 01 7f");
    both("{\"$byte\":255}", "d4 01 ff");
    both("{\"$byte\":0}", "d4 01 00");
    both("{\"$int16\":1}", "d5 02 0001");
    both("{\"$int16\":-2}", "d5 02 fffe");
    both("{\"$int16\":-32768}", "d5 02 8000");
    both("{\"$int32\":300}", "d6 03 0000012c");
    both("{\"$int32\":-1}", "d6 03 ffffffff");
    both("{\"$int32\":-2147483648}", "d6 03 80000000");
    both("{\"$float32\":1.5}", "ca 3fc00000");
    both("{\"$float32\":-0.1}", "ca bdcccccd");
    both("{\"$float32\":\"Infinity\"}", "ca 7f800000");
    both("1.5", "cb 3ff8000000000000");
    both("-0.0", "cb 8000000000000000");
    both("{\"$float64\":\"-Infinity\"}", "cb fff0000000000000");
    /* NaN bits are written as they are */
    uint64_t bits = 0x7ff8000000000001ULL;
    double nan;
    memcpy(&nan, &bits, 8);
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_MSGPACK, motan_value_new_float64(A, nan), B,
                                           NULL, 0),
                     0);
    expect_hex("cb 7ff8000000000001");
}
END_TEST

START_TEST(int64_forms)
{
    both("0", "00");
    both("1", "01");
    both("127", "7f");
    both("128", "cc 80");
    both("255", "cc ff");
    both("256", "cd 0100");
    both("65535", "cd ffff");
    both("65536", "ce 00010000");
    both("4294967295", "ce ffffffff");
    both("4294967296", "cf 0000000100000000");
    both("9223372036854775807", "cf 7fffffffffffffff");
    both("-1", "ff");
    both("-32", "e0");
    both("-33", "d0 df");
    both("-128", "d0 80");
    both("-129", "d1 ff7f");
    both("-32768", "d1 8000");
    both("-32769", "d2 ffff7fff");
    both("-2147483648", "d2 80000000");
    both("-2147483649", "d3 ffffffff7fffffff");
    both("-9223372036854775808", "d3 8000000000000000");
}
END_TEST

START_TEST(strings_and_bytes)
{
    both("\"\"", "a0");
    both("\"abc\"", "a3 616263");
    both("\"\\u4e2d\"", "a3 e4b8ad");
    both("{\"$string\":\"/w==\"}", "a1 ff"); /* str carries any bytes */
    both("{\"$bytes\":\"\"}", "c4 00");
    both("{\"$bytes\":\"AP8=\"}", "c4 02 00ff");

    /* length boundaries: fixstr 31, str8 32..255, str16, str32; bin8, bin16, bin32 */
    static const struct {
        size_t len;
        const char *hdr_s, *hdr_b;
    } sizes[] = {{31, "bf", "c41f"},           {32, "d920", "c420"},
                 {255, "d9ff", "c4ff"},         {256, "da0100", "c50100"},
                 {65535, "daffff", "c5ffff"},   {65536, "db00010000", "c600010000"}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i].len;
        char *s = malloc(n);
        memset(s, 'x', n);
        for (int bytes = 0; bytes < 2; bytes++) {
            motan_value *v =
                bytes ? motan_value_new_bytes(A, s, n) : motan_value_new_string(A, s, n);
            ck_assert_int_eq(motan_serialize_value(MOTAN_SER_MSGPACK, v, B, NULL, 0), 0);
            const char *hdr = bytes ? sizes[i].hdr_b : sizes[i].hdr_s;
            size_t hl = strlen(hdr) / 2;
            ck_assert_uint_eq(motan_buf_len(B), hl + n);
            char *h = tu_hex_encode(motan_buf_data(B), hl);
            ck_assert_str_eq(h, hdr);
            free(h);
            motan_value *back = NULL;
            ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, motan_buf_data(B),
                                                     motan_buf_len(B), A, &back, NULL, 0),
                             0);
            ck_assert(motan_value_equal(v, back));
            motan_buf_reset(B);
        }
        free(s);
    }
}
END_TEST

START_TEST(containers)
{
    /* string map and string array: plain msgpack when non-empty */
    both("{\"$string_map\":{\"k\":\"v\"}}", "81 a16b a176");
    both("{\"$string_array\":[\"a\",\"b\"]}", "92 a161 a162");
    /* empty ones: ext 6 / ext 7 around the empty map / array */
    both("{\"$string_map\":{}}", "d4 06 80");
    both("{\"$string_array\":[]}", "d4 07 90");
    /* generic map and array: plain, unless every entry is a string (ext 4 / ext 5) */
    both("{}", "80");
    both("[]", "90");
    both("{\"k\":1}", "81 a16b 01");
    both("{\"$map\":[[7,\"x\"]]}", "81 07 a178");
    both("{\"$map\":[[true,\"x\"]]}", "81 c3 a178");
    both("[1,2]", "92 01 02");
    both("[\"a\",{\"$int32\":1},true]", "93 a161 d603 00000001 c3");
    both("[\"a\",null]", "92 a161 c0");
    both("{\"k\":\"v\"}", "c7 05 04 81 a16b a176");
    both("[\"a\"]", "c7 03 05 91 a161");
    both("[\"ab\"]", "d6 05 91 a26162");      /* a 4-byte payload is a fixext 4 */
    both("[\"a\",\"b\"]", "c7 05 05 92 a161 a162");
    /* nested */
    both("[{\"$string_map\":{\"k\":\"v\"}},{\"$string_array\":[\"x\"]},{\"$bytes\":\"AQ==\"}]",
         "93 81a16ba176 91a178 c40101");
    both("{\"m\":{\"k\":\"v\"},\"a\":[[\"x\"]]}",
         "82 a16d c70504 81a16ba176 a161 91 c70305 91a178");
    /* 16 elements and entries: array16 / map16 */
    char text[256] = "[", hex[256] = "dc0010";
    for (int i = 0; i < 16; i++) {
        strcat(text, i ? ",1" : "1");
        strcat(hex, "01");
    }
    strcat(text, "]");
    both(text, hex);
    strcpy(text, "{");
    strcpy(hex, "de0010");
    for (int i = 0; i < 16; i++) {
        char e[32];
        snprintf(e, sizeof(e), "%s\"%c\":%d", i ? "," : "", 'a' + i, i);
        strcat(text, e);
        snprintf(e, sizeof(e), "a1%02x%02x", 'a' + i, i);
        strcat(hex, e);
    }
    strcat(text, "}");
    both(text, hex);
}
END_TEST

/* ---- what a plain msgpack peer may send ----------------------------------------------- */

START_TEST(other_forms)
{
    expect_value("cc 01", "1");
    expect_value("cd 0001", "1");
    expect_value("ce 00000001", "1");
    expect_value("cf 0000000000000001", "1");
    expect_value("d0 01", "1");
    expect_value("d1 ffff", "-1");
    expect_value("d2 ffffffff", "-1");
    expect_value("d3 ffffffffffffffff", "-1");
    expect_value("d9 03 616263", "\"abc\"");
    expect_value("da 0003 616263", "\"abc\"");
    expect_value("db 00000003 616263", "\"abc\"");
    expect_value("c5 0001 ff", "{\"$bytes\":\"/w==\"}");
    expect_value("c6 00000001 ff", "{\"$bytes\":\"/w==\"}");
    expect_value("dc 0002 01 02", "[1,2]");
    expect_value("dd 00000002 01 02", "[1,2]");
    expect_value("de 0001 01 02", "{\"$map\":[[1,2]]}");
    expect_value("df 00000001 01 02", "{\"$map\":[[1,2]]}");
    /* ext 8/16/32 forms of the fixext types */
    expect_value("c7 01 01 7f", "{\"$byte\":127}");
    expect_value("c8 0002 02 fffe", "{\"$int16\":-2}");
    expect_value("c9 00000004 03 0000012c", "{\"$int32\":300}");
    /* wrappers the encoder does not emit, still read */
    expect_value("c7 05 06 81 a16b a176", "{\"$string_map\":{\"k\":\"v\"}}");
    expect_value("c7 03 07 91 a161", "{\"$string_array\":[\"a\"]}");
    expect_value("d4 04 80", "{}");
    expect_value("d4 05 90", "[]");
    expect_value("c7 03 05 92 01 02", "[1,2]");
    expect_value("c7 03 04 81 01 02", "{\"$map\":[[1,2]]}");
    /* duplicate keys: last wins at the first position */
    expect_value("83 a16b 01 a16a 02 a16b 03", "{\"k\":3,\"j\":2}");
    expect_value("82 a16b a161 a16b a162", "{\"$string_map\":{\"k\":\"b\"}}");
    /* NaN payloads decode to NaN */
    motan_value *v = dec("cb 7ff8000000000001");
    ck_assert(isnan(motan_value_get_float(v)));
    v = dec("ca 7fc00001");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_FLOAT32);
    ck_assert(isnan(motan_value_get_float(v)));
    /* strings are NUL-terminated copies */
    size_t len;
    const char *s = motan_value_get_data(dec("a3 616263"), &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(s[3], 0);
}
END_TEST

/* ---- malformed input ------------------------------------------------------------------ */

START_TEST(malformed)
{
    expect_err("c1", "msgpack: invalid type byte 0xc1 at offset 0");
    expect_err("91 c1", "msgpack: invalid type byte 0xc1 at offset 1");
    /* truncated */
    expect_err("cd 01", "msgpack: truncated value at offset 0");
    expect_err("cf 00000000", "msgpack: truncated value at offset 0");
    expect_err("ca 3fc000", "msgpack: truncated value at offset 0");
    expect_err("a3 6162", "msgpack: string longer than the input at offset 0");
    expect_err("d9", "msgpack: truncated value at offset 0");
    expect_err("c4 02 00", "msgpack: bytes longer than the input at offset 0");
    expect_err("92 01", "msgpack: array has more elements than the input can hold at offset 0");
    expect_err("82 01 02 03", "msgpack: map has more entries than the input can hold at offset 0");
    expect_err("92 01 a3 61", "msgpack: string longer than the input at offset 2");
    expect_err("d5 02 00", "msgpack: ext payload longer than the input at offset 0");
    expect_err("c7 05", "msgpack: truncated value at offset 0");
    expect_err("c7", "msgpack: truncated value at offset 0");
    /* hostile counts are refused before anything is allocated */
    expect_err("dd ffffffff",
               "msgpack: array has more elements than the input can hold at offset 0");
    expect_err("df ffffffff 00",
               "msgpack: map has more entries than the input can hold at offset 0");
    expect_err("db ffffffff", "msgpack: string longer than the input at offset 0");
    expect_err("c9 ffffffff 01", "msgpack: ext payload longer than the input at offset 0");
    /* trailing bytes */
    expect_err("c0 c0", "msgpack: trailing bytes after the value at offset 1");
    expect_err("92 01 02 03", "msgpack: trailing bytes after the value at offset 3");
    /* integers beyond int64 */
    expect_err("cf 8000000000000000",
               "msgpack: unsigned integer above the int64 range at offset 0");
    expect_err("cf ffffffffffffffff",
               "msgpack: unsigned integer above the int64 range at offset 0");
    /* ext payload sizes */
    expect_err("d5 01 0000", "msgpack: ext type 1 needs 1 payload bytes, not 2 at offset 0");
    expect_err("c7 00 01", "msgpack: ext type 1 needs 1 payload bytes, not 0 at offset 0");
    expect_err("d4 02 00", "msgpack: ext type 2 needs 2 payload bytes, not 1 at offset 0");
    expect_err("d6 02 00000000", "msgpack: ext type 2 needs 2 payload bytes, not 4 at offset 0");
    expect_err("d5 03 0000", "msgpack: ext type 3 needs 4 payload bytes, not 2 at offset 0");
    expect_err("d7 03 0000000000000000",
               "msgpack: ext type 3 needs 4 payload bytes, not 8 at offset 0");
    /* other ext types, the msgpack timestamp (-1) included */
    expect_err("d4 08 00", "msgpack: unsupported ext type 8 at offset 0");
    expect_err("d6 ff 00000000", "msgpack: unsupported ext type -1 at offset 0");
    expect_err("d4 00 00", "msgpack: unsupported ext type 0 at offset 0");
    /* wrappers holding the wrong thing */
    expect_err("d4 04 90", "msgpack: ext type 4 does not hold a msgpack map at offset 0");
    expect_err("d4 05 80", "msgpack: ext type 5 does not hold a msgpack array at offset 0");
    expect_err("d4 06 c0", "msgpack: ext type 6 does not hold a msgpack map at offset 0");
    expect_err("c7 00 07", "msgpack: ext type 7 does not hold a msgpack array at offset 0");
    expect_err("d5 04 80 80", "msgpack: ext payload holds more than one value at offset 0");
    expect_err("c7 03 06 81 01 02", "msgpack: string map ext holds a non-string at offset 0");
    expect_err("c7 03 07 91 a0 c0", "msgpack: ext payload holds more than one value at offset 0");
    expect_err("c7 02 07 91 01", "msgpack: string array ext holds a non-string at offset 0");
    expect_err("91 c7 02 05 92 01", "msgpack: array has more elements than the input can hold "
                                    "at offset 4");
    /* a failed request body */
    size_t len;
    uint8_t *p = unhex("01 02 c1", &len);
    char err[160];
    motan_value *v = (motan_value *)1;
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    ck_assert_ptr_null(v);
    ck_assert_str_eq(err, "msgpack: invalid type byte 0xc1 at offset 2");
    free(p);
}
END_TEST

/* n nested arrays (fixarray of 1) around nil. */
static uint8_t *nested(int n, size_t *len)
{
    uint8_t *p = malloc((size_t)n + 1);
    memset(p, 0x91, (size_t)n);
    p[n] = 0xc0;
    *len = (size_t)n + 1;
    return p;
}

START_TEST(nesting)
{
    size_t len;
    char err[160];
    motan_value *v = NULL;
    uint8_t *p = nested(64, &len);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err)),
                     0);
    /* the same tree encodes to the same bytes */
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_MSGPACK, v, B, err, sizeof(err)), 0);
    ck_assert_uint_eq(motan_buf_len(B), len);
    ck_assert_int_eq(memcmp(motan_buf_data(B), p, len), 0);
    motan_buf_reset(B);
    free(p);

    p = nested(65, &len);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    ck_assert_str_eq(err, "msgpack: nesting deeper than 64 at offset 64");
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    free(p);

    /* wrappers count as the container they hold: 63 arrays around ext 5 ["a"] */
    uint8_t w[80];
    memset(w, 0x91, 63);
    memcpy(w + 63, "\xc7\x03\x05\x91\xa1\x61", 6);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, w, 69, A, &v, err, sizeof(err)), 0);
    w[0] = 0x91;
    uint8_t w2[80];
    w2[0] = 0x91;
    memcpy(w2 + 1, w, 69);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, w2, 70, A, &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    ck_assert_str_eq(err, "msgpack: nesting deeper than 64 at offset 67");

    /* a deeper tree does not encode */
    motan_value *root = motan_value_new_container(A, MOTAN_T_ARRAY), *c = root;
    for (int i = 0; i < 64; i++) {
        motan_value *next = motan_value_new_container(A, MOTAN_T_ARRAY);
        ck_assert_int_eq(motan_value_append(c, next), 0);
        c = next;
    }
    motan_buf_append(B, "x", 1);
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_MSGPACK, root, B, err, sizeof(err)),
                     MOTAN_ETOOBIG);
    ck_assert_str_eq(err, "msgpack: nesting deeper than 64");
    ck_assert_uint_eq(motan_buf_len(B), 1); /* left as it was */
}
END_TEST

/* ---- bodies ----------------------------------------------------------------------------- */

START_TEST(bodies)
{
    char err[160];
    motan_value *v = NULL;
    /* empty bodies */
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, NULL, 0, A, &v, err, sizeof(err)),
                     0);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_NULL);
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_MSGPACK, NULL, 0, A, &v, err, sizeof(err)),
                     0);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_ARRAY);
    ck_assert_uint_eq(motan_value_count(v), 0);
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_MSGPACK, NULL, 0, B, err, sizeof(err)), 0);
    ck_assert_uint_eq(motan_buf_len(B), 0);

    /* ("hello", 42L, int32 7, {"k":"v"}, null): consecutive objects */
    const motan_value *args[] = {tj("\"hello\""), tj("42"), tj("{\"$int32\":7}"),
                                 tj("{\"$string_map\":{\"k\":\"v\"}}"), tj("null")};
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_MSGPACK, args, 5, B, err, sizeof(err)), 0);
    const char *hex = "a568656c6c6f 2a d60300000007 81a16ba176 c0";
    size_t len;
    uint8_t *p = unhex(hex, &len);
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(motan_value_count(v), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert(motan_value_equal(motan_value_at(v, i), args[i]));
    /* the same bytes are not one response value */
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_MSGPACK, p, len, A, &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    ck_assert_str_eq(err, "msgpack: trailing bytes after the value at offset 6");
    free(p);
    expect_hex(hex);

    /* an argument that cannot be encoded: named, and the buffer is left as it was */
    motan_value *deep = motan_value_new_container(A, MOTAN_T_ARRAY), *c = deep;
    for (int i = 0; i < 64; i++) { /* 65 levels, maps and arrays alternating */
        motan_value *next = motan_value_new_container(A, i % 2 ? MOTAN_T_ARRAY : MOTAN_T_MAP);
        if (motan_value_type(c) == MOTAN_T_ARRAY)
            ck_assert_int_eq(motan_value_append(c, next), 0);
        else
            ck_assert_int_eq(motan_value_map_put(c, tj("1"), next), 0);
        c = next;
    }
    const motan_value *bad[] = {tj("1"), deep};
    motan_buf_append(B, "zz", 2);
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_MSGPACK, bad, 2, B, err, sizeof(err)),
                     MOTAN_ETOOBIG);
    ck_assert_str_eq(err, "argument 1: msgpack: nesting deeper than 64");
    ck_assert_uint_eq(motan_buf_len(B), 2);
    ck_assert(motan_serialization_supported(MOTAN_SER_MSGPACK));
}
END_TEST

/* ---- property: random trees, exact round trip ------------------------------------------- */

#define TREES 20000
#define MAX_DEPTH 6

static uint64_t rnd_state;
static uint64_t rnd(void) { return tu_rand(&rnd_state); }
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

/* Any bytes, with a bias to short ones and to all-string containers (the ext wrappers). */
static size_t gen_bytes(char *buf)
{
    size_t n = below(4) ? below(6) : below(300);
    for (size_t i = 0; i < n; i++)
        buf[i] = below(3) ? (char)('a' + below(26)) : (char)below(256);
    return n;
}

static motan_value *gen_string(motan_arena *a)
{
    char buf[300];
    return motan_value_new_string(a, buf, gen_bytes(buf));
}

static motan_value *gen(motan_arena *a, int depth)
{
    static const motan_type types[] = {
        MOTAN_T_NULL,  MOTAN_T_STRING, MOTAN_T_BYTES,   MOTAN_T_BOOL,    MOTAN_T_BYTE,
        MOTAN_T_INT16, MOTAN_T_INT32,  MOTAN_T_INT64,   MOTAN_T_FLOAT32, MOTAN_T_FLOAT64,
        MOTAN_T_MAP,   MOTAN_T_ARRAY,  MOTAN_T_STRING_MAP, MOTAN_T_STRING_ARRAY};
    char buf[300];
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
        return gen_string(a);
    case MOTAN_T_BYTES:
        return motan_value_new_bytes(a, buf, gen_bytes(buf));
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
        uint32_t bits = (uint32_t)rnd();
        float f;
        memcpy(&f, &bits, 4);
        return motan_value_new_float32(a, below(4) ? f : (float)(int)below(100) / 4);
    }
    case MOTAN_T_FLOAT64: {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, 8);
        return motan_value_new_float64(a, below(4) ? d : below(2) ? -0.0 : (double)big / 3);
    }
    default:
        break;
    }
    motan_value *c = motan_value_new_container(a, t);
    unsigned n = below(4) == 0 ? 0 : below(depth == 0 ? 20 : 5);
    int only_strings = below(3) == 0; /* generic containers that need the ext wrapper */
    for (unsigned i = 0; i < n; i++) {
        int rc;
        switch (t) {
        case MOTAN_T_ARRAY:
            rc = motan_value_append(c, only_strings ? gen_string(a) : gen(a, depth + 1));
            break;
        case MOTAN_T_STRING_ARRAY:
            rc = motan_value_append(c, gen_string(a));
            break;
        case MOTAN_T_STRING_MAP:
            rc = motan_value_map_put(c, gen_string(a), gen_string(a));
            break;
        default:
            if (only_strings)
                rc = motan_value_map_put(c, gen_string(a), gen_string(a));
            else if (below(2))
                rc = motan_value_map_put(c, gen_string(a), gen(a, depth + 1));
            else
                rc = motan_value_map_put(c, gen(a, depth + 1), gen(a, depth + 1));
        }
        if (rc != MOTAN_OK)
            return NULL;
    }
    return c;
}

static void count_types(const motan_value *v, int *seen)
{
    motan_type t = motan_value_type(v);
    seen[t]++;
    for (size_t i = 0; i < motan_value_count(v); i++) {
        if (t == MOTAN_T_MAP || t == MOTAN_T_STRING_MAP) {
            count_types(motan_value_key_at(v, i), seen);
            count_types(motan_value_value_at(v, i), seen);
        } else {
            count_types(motan_value_at(v, i), seen);
        }
    }
}

START_TEST(property_round_trip)
{
    motan_arena *a = motan_arena_new();
    motan_buf *b = motan_buf_new(0);
    int seen[32] = {0};
    rnd_state = 0x6d736770ULL; /* "msgp" */
    for (int i = 0; i < TREES; i++) {
        motan_arena_reset(a);
        motan_buf_reset(b);
        motan_value *v = gen(a, 0), *back = NULL, *w = NULL;
        char err[160] = "";
        ck_assert_msg(v != NULL, "tree %d: building failed", i);
        count_types(v, seen);
        if (motan_serialize_value(MOTAN_SER_MSGPACK, v, b, err, sizeof(err)) != MOTAN_OK)
            ck_abort_msg("tree %d: encode: %s", i, err);
        if (motan_deserialize_value(MOTAN_SER_MSGPACK, motan_buf_data(b), motan_buf_len(b), a,
                                    &back, err, sizeof(err)) != MOTAN_OK ||
            !motan_value_equal(v, back)) {
            char *t = motan_tjson_format(v);
            ck_abort_msg("tree %d: %s: %s", i, err[0] ? err : "decoded value differs", t);
        }
        /* as the only argument of a request, and followed by a second one */
        const motan_value *args[2] = {v, back};
        motan_buf_reset(b);
        ck_assert_int_eq(motan_serialize_args(MOTAN_SER_MSGPACK, args, 2, b, err, sizeof(err)), 0);
        if (motan_deserialize_args(MOTAN_SER_MSGPACK, motan_buf_data(b), motan_buf_len(b), a, &w,
                                   err, sizeof(err)) != MOTAN_OK ||
            motan_value_count(w) != 2 || !motan_value_equal(motan_value_at(w, 0), v) ||
            !motan_value_equal(motan_value_at(w, 1), v))
            ck_abort_msg("tree %d: args: %s", i, err);
    }
    static const int all[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ck_assert_msg(seen[all[i]] > 100, "type %d generated %d times", all[i], seen[all[i]]);
    motan_buf_free(b);
    motan_arena_free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ser_msgpack");
    TCase *tc = tcase_create("msgpack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scalars);
    tcase_add_test(tc, int64_forms);
    tcase_add_test(tc, strings_and_bytes);
    tcase_add_test(tc, containers);
    tcase_add_test(tc, other_forms);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, nesting);
    tcase_add_test(tc, bodies);
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
