/*
 * Simple serialization: the streaming writer, the tree decoders, the visitor, request and
 * response bodies, the serialization table, and hostile inputs (§5, §9.2-§9.4).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* B's content is hex; B is emptied. */
static void expect_hex(const char *hex)
{
    char *h = tu_hex_encode(motan_buf_data(B), motan_buf_len(B));
    ck_assert_str_eq(h, hex);
    free(h);
    motan_buf_reset(B);
}

static uint8_t *bytes_of(const char *hex, size_t *len)
{
    uint8_t *p;
    ck_assert_int_eq(tu_hex_decode(hex, &p, len), 0);
    return p;
}

static motan_value *dec(const char *hex)
{
    size_t len;
    uint8_t *p = bytes_of(hex, &len);
    char err[128] = "";
    motan_value *v = NULL;
    int rc = motan_simple_decode(p, len, A, &v, err, sizeof(err));
    free(p);
    ck_assert_msg(rc == MOTAN_OK, "decode %s: %s", hex, err);
    return v;
}

static void expect_err(const char *hex, const char *msg)
{
    size_t len;
    uint8_t *p = bytes_of(hex, &len);
    char err[128] = "";
    motan_value *v = (motan_value *)1;
    int rc = motan_simple_decode(p, len, A, &v, err, sizeof(err));
    free(p);
    ck_assert_int_eq(rc, MOTAN_EDECODE);
    ck_assert_ptr_null(v);
    ck_assert_str_eq(err, msg);
}

static motan_value *tj(const char *text)
{
    motan_value *v = NULL;
    char err[128] = "";
    ck_assert_msg(motan_tjson_parse(text, strlen(text), A, &v, err, sizeof(err)) == 0, "%s", err);
    return v;
}

static void expect_value(const char *hex, const char *text)
{
    motan_value *got = dec(hex), *want = tj(text);
    char *t = motan_tjson_format(got);
    ck_assert_msg(motan_value_equal(got, want), "%s decoded to %s, want %s", hex, t, text);
    motan_free(t);
}

/* ---- writer --------------------------------------------------------------------------- */

/* CPU time of this process: timing checks must not fail because the machine is busy. */
static uint64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

START_TEST(write_scalars)
{
    motan_simple_write_null(B);
    expect_hex("00");
    motan_simple_write_string(B, "", 0);
    expect_hex("0100000000");
    motan_simple_write_string(B, "abc", 3);
    expect_hex("0100000003616263");
    motan_simple_write_string(B, "\xe4\xb8\xad", 3);
    expect_hex("0100000003e4b8ad");
    motan_simple_write_bytes(B, "\x00\xff", 2);
    expect_hex("030000000200ff");
    motan_simple_write_bytes(B, NULL, 0);
    expect_hex("0300000000");
    motan_simple_write_bool(B, 1);
    motan_simple_write_bool(B, 0);
    motan_simple_write_bool(B, 7);
    expect_hex("050105000501");
    motan_simple_write_byte(B, 0x7f);
    motan_simple_write_byte(B, 0xff);
    expect_hex("067f06ff");
    motan_simple_write_int16(B, 1);
    motan_simple_write_int16(B, -2);
    motan_simple_write_int16(B, -32768);
    expect_hex("07000107fffe078000");
}
END_TEST

START_TEST(write_varints)
{
    static const struct {
        int32_t v;
        const char *hex;
    } i32[] = {{0, "0800"},          {1, "0802"},           {-1, "0801"},
               {2, "0804"},          {-2, "0803"},          {63, "087e"},
               {-64, "087f"},        {64, "088001"},        {300, "08d804"},
               {-300, "08d704"},     {42, "0854"},          {1 << 30, "088080808008"},
               {-(1 << 30), "08ffffffff07"}, {-(1 << 30) - 1, "088180808008"},
               {INT32_MAX, "08feffffff0f"},  {INT32_MIN, "08ffffffff0f"}};
    static const struct {
        int64_t v;
        const char *hex;
    } i64[] = {{0, "0900"},
               {1, "0902"},
               {-1, "0901"},
               {150, "09ac02"},
               {42, "0954"},
               {2147483648LL, "098080808010"},
               {-2147483648LL, "09ffffffff0f"},
               {4294967296LL, "098080808020"},
               {INT64_MAX, "09feffffffffffffffff01"},
               {INT64_MIN, "09ffffffffffffffffff01"}};
    for (size_t i = 0; i < sizeof(i32) / sizeof(i32[0]); i++) {
        motan_simple_write_int32(B, i32[i].v);
        expect_hex(i32[i].hex);
    }
    for (size_t i = 0; i < sizeof(i64) / sizeof(i64[0]); i++) {
        motan_simple_write_int64(B, i64[i].v);
        expect_hex(i64[i].hex);
    }
}
END_TEST

START_TEST(write_floats)
{
    motan_simple_write_float32(B, 1.5f);
    expect_hex("0a3fc00000");
    motan_simple_write_float32(B, -0.1f);
    expect_hex("0abdcccccd");
    motan_simple_write_float64(B, 1.5);
    expect_hex("0b3ff8000000000000");
    motan_simple_write_float64(B, -0.1);
    expect_hex("0bbfb999999999999a");
    motan_simple_write_float64(B, INFINITY);
    expect_hex("0b7ff0000000000000");
    motan_simple_write_float64(B, NAN); /* C's NaN: libmotan encodes 7ff8...00 (S23) */
    expect_hex("0b7ff8000000000000");
    /* bits are written verbatim: Go's NaN keeps its payload */
    uint64_t bits = 0x7ff8000000000001ULL;
    double gonan;
    memcpy(&gonan, &bits, 8);
    motan_simple_write_float64(B, gonan);
    expect_hex("0b7ff8000000000001");
    motan_simple_write_float64(B, -0.0);
    expect_hex("0b8000000000000000");
}
END_TEST

START_TEST(write_containers_streaming)
{
    size_t m, inner;
    /* S24 string map via raw items */
    ck_assert_int_eq(motan_simple_begin(B, MOTAN_T_STRING_MAP, &m), 0);
    motan_simple_write_raw(B, "k", 1);
    motan_simple_write_raw(B, "v", 1);
    ck_assert_int_eq(motan_simple_end(B, m), 0);
    expect_hex("020000000a000000016b0000000176");
    /* S25, S27 */
    motan_simple_begin(B, MOTAN_T_STRING_MAP, &m);
    motan_simple_end(B, m);
    expect_hex("0200000000");
    motan_simple_begin(B, MOTAN_T_STRING_ARRAY, &m);
    motan_simple_write_raw(B, "", 0);
    motan_simple_end(B, m);
    expect_hex("040000000400000000");
    /* S28, S29, S30 */
    motan_simple_begin(B, MOTAN_T_MAP, &m);
    motan_simple_write_string(B, "k", 1);
    motan_simple_write_int64(B, 1);
    motan_simple_end(B, m);
    expect_hex("140000000801000000016b0902");
    motan_simple_begin(B, MOTAN_T_MAP, &m);
    motan_simple_write_int64(B, 7);
    motan_simple_write_string(B, "x", 1);
    motan_simple_end(B, m);
    expect_hex("1400000008090e010000000178");
    motan_simple_begin(B, MOTAN_T_MAP, &m);
    motan_simple_write_bool(B, 1);
    motan_simple_write_string(B, "x", 1);
    motan_simple_end(B, m);
    expect_hex("14000000080501010000000178");
    /* S34: Java form with a null element */
    motan_simple_begin(B, MOTAN_T_ARRAY, &m);
    motan_simple_write_string(B, "a", 1);
    motan_simple_write_int32(B, 1);
    motan_simple_write_null(B);
    motan_simple_write_bool(B, 1);
    motan_simple_end(B, m);
    expect_hex("150000000b0100000001610802000501");
    /* S36: nested begin/end */
    motan_simple_begin(B, MOTAN_T_ARRAY, &m);
    motan_simple_begin(B, MOTAN_T_STRING_MAP, &inner);
    motan_simple_write_raw(B, "k", 1);
    motan_simple_write_raw(B, "v", 1);
    motan_simple_end(B, inner);
    motan_simple_begin(B, MOTAN_T_STRING_ARRAY, &inner);
    motan_simple_write_raw(B, "x", 1);
    motan_simple_end(B, inner);
    motan_simple_write_bytes(B, "\x01", 1);
    motan_simple_end(B, m);
    expect_hex("150000001f020000000a000000016b000000017604000000050000000178030000000101");
    /* misuse */
    ck_assert_int_eq(motan_simple_begin(B, MOTAN_T_INT32, &m), MOTAN_EINVAL);
    ck_assert_int_eq(motan_simple_begin(B, MOTAN_T_ARRAY, NULL), MOTAN_EINVAL);
    ck_assert_int_eq(motan_simple_end(B, 100), MOTAN_EINVAL);
    ck_assert_uint_eq(motan_buf_len(B), 0);
}
END_TEST

START_TEST(write_value_trees)
{
    ck_assert_int_eq(motan_simple_write_value(B, tj("[{\"$string_map\":{\"k\":\"v\"}},"
                                                    "{\"$string_array\":[\"x\"]},{\"$bytes\":\"AQ==\"}]")),
                     0);
    expect_hex("150000001f020000000a000000016b000000017604000000050000000178030000000101");
    motan_simple_write_value(B, tj("[1,2]"));
    expect_hex("150000000409020904");
    motan_simple_write_value(B, tj("{\"$string_array\":[\"a\",\"b\"]}"));
    expect_hex("040000000a00000001610000000162");
    motan_simple_write_value(B, tj("{}"));
    expect_hex("1400000000");
    motan_simple_write_value(B, tj("[]"));
    expect_hex("1500000000");
    motan_simple_write_value(B, tj("{\"$float64\":\"NaN\"}")); /* typed JSON NaN = Go's bits */
    expect_hex("0b7ff8000000000001");
    ck_assert_int_eq(motan_simple_write_value(B, NULL), MOTAN_EINVAL);
}
END_TEST

static motan_value *nested_arrays(int depth)
{
    motan_value *v = motan_value_new_container(A, MOTAN_T_ARRAY);
    for (int i = 1; i < depth; i++) {
        motan_value *outer = motan_value_new_container(A, MOTAN_T_ARRAY);
        motan_value_append(outer, v);
        v = outer;
    }
    return v;
}

START_TEST(write_depth_limit)
{
    ck_assert_int_eq(motan_simple_write_value(B, nested_arrays(64)), MOTAN_OK);
    ck_assert_uint_eq(motan_buf_len(B), 64 * 5);
    motan_buf_reset(B);
    motan_simple_write_null(B);
    ck_assert_int_eq(motan_simple_write_value(B, nested_arrays(65)), MOTAN_ETOOBIG);
    ck_assert_uint_eq(motan_buf_len(B), 1); /* left as it was */
}
END_TEST

START_TEST(warm_paths_do_not_allocate)
{
    tu_count_allocs_start();
    motan_buf *b = motan_buf_new(0);
    motan_arena *a = motan_arena_new();
    uint8_t body[] = {0x01, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0x09, 0x54};
    for (int round = 0; round < 3; round++) {
        if (round == 2)
            tu_count_allocs_start(); /* warm from here on */
        motan_buf_reset(b);
        size_t m;
        motan_simple_write_string(b, "hello", 5);
        motan_simple_write_int64(b, 42);
        motan_simple_write_int32(b, -7);
        motan_simple_write_int16(b, 3);
        motan_simple_write_float64(b, 2.5);
        motan_simple_write_float32(b, 2.5f);
        motan_simple_begin(b, MOTAN_T_STRING_MAP, &m);
        motan_simple_write_raw(b, "k", 1);
        motan_simple_write_raw(b, "v", 1);
        motan_simple_end(b, m);
        motan_arena_reset(a);
        motan_value *v;
        ck_assert_int_eq(motan_simple_decode_seq(body, sizeof(body), a, &v, NULL, 0), 0);
        ck_assert_int_eq(motan_simple_write_value(b, v), 0);
    }
    long warm = tu_allocs();
    motan_arena_free(a);
    motan_buf_free(b);
    tu_count_allocs_stop();
    ck_assert_int_eq(warm, 0);
}
END_TEST

/* ---- reader --------------------------------------------------------------------------- */

START_TEST(read_scalars)
{
    ck_assert_int_eq(motan_value_type(dec("00")), MOTAN_T_NULL);
    expect_value("0100000003e4b8ad", "\"中\"");
    expect_value("0501", "true");
    expect_value("0500", "false");
    expect_value("0502", "false"); /* R01: anything but 01 is false */
    expect_value("05ff", "false");
    motan_value *b = dec("06ff");
    ck_assert_int_eq(motan_value_type(b), MOTAN_T_BYTE);
    ck_assert_int_eq(motan_value_get_int(b), 255);
    ck_assert_int_eq(motan_value_get_int(dec("07fffe")), -2);
    ck_assert_int_eq(motan_value_get_int(dec("078000")), -32768);
    ck_assert(motan_value_get_float(dec("0abdcccccd")) == (double)-0.1f);
    ck_assert(isnan(motan_value_get_float(dec("0b7ff8000000000000"))));
    ck_assert(isnan(motan_value_get_float(dec("0b7ff8000000000001"))));
    ck_assert(isnan(motan_value_get_float(dec("0a7fc00001"))));
    /* R10: bytes stay bytes */
    motan_value *r10 = dec("0300000002abcd");
    ck_assert_int_eq(motan_value_type(r10), MOTAN_T_BYTES);
}
END_TEST

/*
 * Java's int32 quirk (§5.3): zigzag in a Java int, sign-extended to a long, then a varint of
 * up to 10 bytes. The conformance vectors pin three such forms; here the rule is applied to
 * every int32 whose zigzag has bit 31 set along a sweep, and each must decode exactly.
 */
static size_t java_int32_form(int32_t n, uint8_t *out)
{
    uint64_t u = (uint64_t)(int64_t)(int32_t)(((uint32_t)n << 1) ^ (uint32_t)(n >> 31));
    size_t k = 0;
    out[k++] = 0x08;
    while (u >= 0x80) {
        out[k++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    out[k++] = (uint8_t)u;
    return k;
}

START_TEST(read_java_int32_forms)
{
    int tested = 0;
    for (int64_t v = INT32_MIN; v <= INT32_MAX; v += 65537) {
        int32_t n = (int32_t)v;
        uint8_t form[12];
        size_t len = java_int32_form(n, form);
        if (len != 11) /* bit 31 clear: the same bytes as Go's */
            continue;
        motan_value *out = NULL;
        ck_assert_int_eq(motan_simple_decode(form, len, A, &out, NULL, 0), MOTAN_OK);
        ck_assert_int_eq(motan_value_type(out), MOTAN_T_INT32);
        ck_assert_int_eq(motan_value_get_int(out), n);
        tested++;
    }
    ck_assert_int_gt(tested, 30000);
}
END_TEST

START_TEST(read_varints)
{
    /* §9.2 S13-S17: the Go forms of int32 (Java's 10-byte forms: read_java_int32_forms) */
    expect_value("088080808008", "{\"$int32\":1073741824}");
    expect_value("08ffffffff07", "{\"$int32\":-1073741824}");
    expect_value("088180808008", "{\"$int32\":-1073741825}");
    expect_value("08feffffff0f", "{\"$int32\":2147483647}");
    expect_value("08ffffffff0f", "{\"$int32\":-2147483648}");
    expect_value("09ac02", "150");
    expect_value("09feffffffffffffffff01", "9223372036854775807");
    expect_value("09ffffffffffffffffff01", "-9223372036854775808");
    /* a non-minimal varint is accepted; unused bits of the 10th byte are not checked */
    expect_value("098000", "0");
    expect_value("09feffffffffffffffff7f", "9223372036854775807");
    /* errors */
    expect_err("088080808080808080808001", "varint longer than 10 bytes at offset 0");
    expect_err("09ffffffffffffffffffff", "varint longer than 10 bytes at offset 0");
    expect_err("0880", "input ends inside varint at offset 0");
    expect_err("09", "input ends inside varint at offset 0");
    expect_err("15000000020880", "entry overruns declared size at offset 5");
}
END_TEST

START_TEST(read_errors)
{
    expect_err("", "no value at offset 0");
    expect_err("0100000005616263", "string longer than input at offset 0"); /* R02 */
    expect_err("0c00", "unknown tag 12 at offset 0");                        /* R03 */
    expect_err("ffffffff", "unknown tag 255 at offset 0");                   /* R07 */
    expect_err("0200000009000000016b0000000176",
               "entry overruns declared size at offset 10"); /* R05 */
    expect_err("020000000b000000016b0000000176",
               "declared size exceeds input at offset 0"); /* R06 */
    expect_err("15000000020c00", "unknown tag 12 at offset 5");
    expect_err("1500000002150000", "entry overruns declared size at offset 5");
    expect_err("15000000050100000009", "entry overruns declared size at offset 5");
    expect_err("08000800", "trailing bytes after value at offset 2"); /* B05 as one value */
}
END_TEST

START_TEST(read_short_scalars)
{
    expect_err("05", "bool longer than input at offset 0");
    expect_err("06", "byte longer than input at offset 0");
    expect_err("0700", "int16 longer than input at offset 0");
    expect_err("0a000000", "float32 longer than input at offset 0");
    expect_err("0b00000000000000", "float64 longer than input at offset 0");
    expect_err("01000000", "string longer than input at offset 0");
    expect_err("03000001", "bytes longer than input at offset 0");
    expect_err("1500", "declared size exceeds input at offset 0");
    expect_err("15000000010b", "entry overruns declared size at offset 5");
    expect_err("0200000003000000", "entry overruns declared size at offset 5");
    expect_err("0200000005000000016b", "map key without value at offset 5");
    expect_err("14000000020800", "map key without value at offset 5");
}
END_TEST

START_TEST(read_containers)
{
    expect_value("15000000020802", "[{\"$int32\":1}]"); /* R08 */
    expect_value("150000000a01000000016108020501", "[\"a\",{\"$int32\":1},true]");
    expect_value("150000000b0100000001610802000501", "[\"a\",{\"$int32\":1},null,true]");
    /* empty containers keep their tag */
    ck_assert_int_eq(motan_value_type(dec("0200000000")), MOTAN_T_STRING_MAP);
    ck_assert_int_eq(motan_value_type(dec("0400000000")), MOTAN_T_STRING_ARRAY);
    ck_assert_int_eq(motan_value_type(dec("1400000000")), MOTAN_T_MAP);
    ck_assert_int_eq(motan_value_type(dec("1500000000")), MOTAN_T_ARRAY);
    ck_assert_uint_eq(motan_value_count(dec("1500000000")), 0);
    /* decoded strings are copies with a NUL */
    motan_value *sa = dec("040000000a00000001610000000162");
    size_t len;
    const char *p = motan_value_get_data(motan_value_at(sa, 1), &len);
    ck_assert_str_eq(p, "b");
    ck_assert_int_eq(motan_value_type(motan_value_at(sa, 1)), MOTAN_T_STRING);
    /* lookups on decoded maps */
    motan_value *m = dec("140000000801000000016b0902");
    ck_assert_int_eq(motan_value_get_int(motan_value_map_get(m, "k", 1)), 1);
}
END_TEST

START_TEST(duplicate_keys_last_wins)
{
    /* map {"a":1, "b":2, "a":3} -> {"a":3, "b":2} */
    size_t m;
    motan_simple_begin(B, MOTAN_T_MAP, &m);
    motan_simple_write_string(B, "a", 1);
    motan_simple_write_int64(B, 1);
    motan_simple_write_string(B, "b", 1);
    motan_simple_write_int64(B, 2);
    motan_simple_write_string(B, "a", 1);
    motan_simple_write_int64(B, 3);
    motan_simple_end(B, m);
    motan_value *v;
    ck_assert_int_eq(motan_simple_decode(motan_buf_data(B), motan_buf_len(B), A, &v, NULL, 0), 0);
    ck_assert(motan_value_equal(v, tj("{\"a\":3,\"b\":2}")));
    motan_buf_reset(B);
    /* string map {"k":"v","k":"w"} -> {"k":"w"} */
    motan_simple_begin(B, MOTAN_T_STRING_MAP, &m);
    motan_simple_write_raw(B, "k", 1);
    motan_simple_write_raw(B, "v", 1);
    motan_simple_write_raw(B, "k", 1);
    motan_simple_write_raw(B, "w", 1);
    motan_simple_end(B, m);
    ck_assert_int_eq(motan_simple_decode(motan_buf_data(B), motan_buf_len(B), A, &v, NULL, 0), 0);
    ck_assert(motan_value_equal(v, tj("{\"$string_map\":{\"k\":\"w\"}}")));
    motan_buf_reset(B);
    /* above the linear threshold: 40 keys, each twice, second time with value+100 */
    motan_simple_begin(B, MOTAN_T_MAP, &m);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 40; i++) {
            motan_simple_write_int32(B, i);
            motan_simple_write_int32(B, i + 100 * round);
        }
    motan_simple_end(B, m);
    ck_assert_int_eq(motan_simple_decode(motan_buf_data(B), motan_buf_len(B), A, &v, NULL, 0), 0);
    ck_assert_uint_eq(motan_value_count(v), 40);
    for (int i = 0; i < 40; i++) {
        ck_assert_int_eq(motan_value_get_int(motan_value_key_at(v, (size_t)i)), i);
        ck_assert_int_eq(motan_value_get_int(motan_value_value_at(v, (size_t)i)), i + 100);
    }
}
END_TEST

/* 64 nested arrays decode; 65 fail with the offset of the 65th (R09). */
static uint8_t *nested_bytes(int depth, size_t *len)
{
    *len = (size_t)depth * 5;
    uint8_t *p = malloc(*len);
    for (int i = 0; i < depth; i++) {
        p[5 * i] = 0x15;
        uint32_t inner = (uint32_t)(depth - i - 1) * 5;
        p[5 * i + 1] = (uint8_t)(inner >> 24);
        p[5 * i + 2] = (uint8_t)(inner >> 16);
        p[5 * i + 3] = (uint8_t)(inner >> 8);
        p[5 * i + 4] = (uint8_t)inner;
    }
    return p;
}

START_TEST(nesting_limit)
{
    size_t len;
    char err[128];
    motan_value *v;
    uint8_t *p = nested_bytes(64, &len);
    ck_assert_int_eq(motan_simple_decode(p, len, A, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_simple_visit(p, len, NULL, NULL, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_simple_decode_seq(p, len, A, &v, err, sizeof(err)), 0);
    free(p);
    p = nested_bytes(65, &len);
    ck_assert_int_eq(motan_simple_decode(p, len, A, &v, err, sizeof(err)), MOTAN_EDECODE);
    ck_assert_str_eq(err, "nesting deeper than 64 at offset 320");
    ck_assert_int_eq(motan_simple_visit(p, len, NULL, NULL, NULL, err, sizeof(err)),
                     MOTAN_EDECODE);
    ck_assert_str_eq(err, "nesting deeper than 64 at offset 320");
    ck_assert_int_eq(motan_simple_decode_seq(p, len, A, &v, err, sizeof(err)), MOTAN_EDECODE);
    free(p);
}
END_TEST

START_TEST(prefix_and_consumed)
{
    size_t len, used = 0;
    uint8_t *p = bytes_of("0802ffff", &len);
    motan_value *v;
    ck_assert_int_eq(motan_simple_decode_prefix(p, len, A, &v, &used, NULL, 0), 0);
    ck_assert_uint_eq(used, 2);
    ck_assert_int_eq(motan_value_get_int(v), 1);
    used = 0;
    ck_assert_int_eq(motan_simple_visit(p, len, NULL, NULL, &used, NULL, 0), 0);
    ck_assert_uint_eq(used, 2);
    free(p);
    ck_assert_int_eq(motan_simple_decode_prefix(NULL, 0, A, &v, &used, NULL, 0), MOTAN_EDECODE);
    ck_assert_int_eq(motan_simple_decode(NULL, 3, A, &v, NULL, 0), MOTAN_EINVAL);
}
END_TEST

/* ---- visitor -------------------------------------------------------------------------- */

typedef struct rec {
    int nulls, bools, ints, floats, datas, begins, ends;
    int64_t int_sum;
    size_t counts[8];
    int ncounts;
    const uint8_t *lo, *hi; /* input range: data must point into it */
    int outside;
    int stop_at; /* stop when the total number of callbacks reaches this (0: never) */
    int calls;
    char trace[256];
} rec;

static int step(rec *r, char c)
{
    size_t n = strlen(r->trace);
    if (n + 1 < sizeof(r->trace)) {
        r->trace[n] = c;
        r->trace[n + 1] = '\0';
    }
    return r->stop_at && ++r->calls >= r->stop_at;
}
static int v_null(void *u) { return ((rec *)u)->nulls++, step(u, 'n'); }
static int v_bool(int b, void *u) { return ((rec *)u)->bools++, step(u, b ? 'T' : 'F'); }
static int v_int(motan_type t, int64_t v, void *u)
{
    rec *r = u;
    r->ints++;
    r->int_sum += v;
    return step(u, t == MOTAN_T_INT32 ? 'i' : t == MOTAN_T_INT64 ? 'l' : t == MOTAN_T_BYTE ? 'y' : 'h');
}
static int v_float(motan_type t, double v, void *u)
{
    (void)v;
    ((rec *)u)->floats++;
    return step(u, t == MOTAN_T_FLOAT32 ? 'f' : 'd');
}
static int v_data(motan_type t, const char *p, size_t len, void *u)
{
    rec *r = u;
    r->datas++;
    if ((const uint8_t *)p < r->lo || (const uint8_t *)p + len > r->hi)
        r->outside = 1;
    return step(u, t == MOTAN_T_STRING ? 's' : 'b');
}
static int v_begin(motan_type t, size_t count, void *u)
{
    rec *r = u;
    r->begins++;
    if (r->ncounts < 8)
        r->counts[r->ncounts++] = count;
    return step(u, t == MOTAN_T_ARRAY ? '[' : t == MOTAN_T_MAP ? '{' : t == MOTAN_T_STRING_MAP ? '<' : '(');
}
static int v_end(motan_type t, void *u)
{
    (void)t;
    ((rec *)u)->ends++;
    return step(u, ')');
}

static const motan_visitor VIS = {v_null, v_bool, v_int, v_float, v_data, v_begin, v_end};

START_TEST(visitor_callbacks)
{
    size_t len, used;
    /* [{"k":"v"}, ["x"], bytes 01, {int64 7: "x"}, null, true, float32, float64, int16, byte] */
    motan_value *v = tj("[{\"$string_map\":{\"k\":\"v\"}},{\"$string_array\":[\"x\"]},"
                        "{\"$bytes\":\"AQ==\"},{\"$map\":[[7,\"x\"]]},null,true,"
                        "{\"$float32\":1.5},2.5,{\"$int16\":-3},{\"$byte\":200}]");
    ck_assert_int_eq(motan_simple_write_value(B, v), 0);
    const uint8_t *p = motan_buf_data(B);
    len = motan_buf_len(B);
    rec r = {0};
    r.lo = p;
    r.hi = p + len;
    ck_assert_int_eq(motan_simple_visit(p, len, &VIS, &r, &used, NULL, 0), 0);
    ck_assert_uint_eq(used, len);
    ck_assert_str_eq(r.trace, "[<ss)(s)b{ls)nTfdhy)");
    ck_assert_int_eq(r.begins, 4);
    ck_assert_int_eq(r.ends, 4);
    ck_assert_uint_eq(r.counts[0], 10); /* array elements */
    ck_assert_uint_eq(r.counts[1], 1);  /* string map entries */
    ck_assert_uint_eq(r.counts[2], 1);  /* string array items */
    ck_assert_uint_eq(r.counts[3], 1);  /* map entries */
    ck_assert_int_eq(r.int_sum, 7 - 3 + 200);
    ck_assert_int_eq(r.outside, 0); /* zero copy: every pointer is into the input */
    ck_assert_int_eq(r.datas, 5);

    /* all callbacks NULL, and no visitor at all, just validate */
    motan_visitor none = {0};
    ck_assert_int_eq(motan_simple_visit(p, len, &none, NULL, NULL, NULL, 0), 0);
    ck_assert_int_eq(motan_simple_visit(p, len, NULL, NULL, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(visitor_stop)
{
    size_t len;
    uint8_t *p = bytes_of("150000000a01000000016108020501", &len);
    for (int stop = 1; stop <= 5; stop++) {
        rec r = {0};
        char err[128] = "";
        r.stop_at = stop;
        r.lo = p;
        r.hi = p + len;
        ck_assert_int_eq(motan_simple_visit(p, len, &VIS, &r, NULL, err, sizeof(err)),
                         MOTAN_EINVAL);
        ck_assert_int_eq(r.calls, stop);
        ck_assert_ptr_nonnull(strstr(err, "stopped by callback"));
    }
    rec r = {0};
    r.stop_at = 6; /* never reached: 5 callbacks in total */
    ck_assert_int_eq(motan_simple_visit(p, len, &VIS, &r, NULL, NULL, 0), 0);
    free(p);
}
END_TEST

START_TEST(visitor_errors_after_callbacks)
{
    size_t len;
    char err[128];
    uint8_t *p = bytes_of("15000000070802150000000c", &len);
    rec r = {0};
    ck_assert_int_eq(motan_simple_visit(p, len, &VIS, &r, NULL, err, sizeof(err)), MOTAN_EDECODE);
    ck_assert_str_eq(err, "entry overruns declared size at offset 7");
    free(p);
}
END_TEST

/* ---- bodies and the serialization table ---------------------------------------------- */

static motan_value *seq(const char *hex)
{
    size_t len;
    uint8_t *p = bytes_of(hex, &len);
    motan_value *v = NULL;
    char err[128] = "";
    int rc = motan_deserialize_args(MOTAN_SER_SIMPLE, p, len, A, &v, err, sizeof(err));
    free(p);
    ck_assert_msg(rc == 0, "%s: %s", hex, err);
    return v;
}

START_TEST(bodies)
{
    /* B01-B05 as request bodies (sequences) */
    ck_assert(motan_value_equal(seq("010000000568656c6c6f0954"), tj("[\"hello\",42]")));
    ck_assert(motan_value_equal(seq(""), tj("[]")));
    ck_assert(motan_value_equal(seq("01000000016100020000000a00000001780000000179"),
                                tj("[\"a\",null,{\"$string_map\":{\"x\":\"y\"}}]")));
    ck_assert(motan_value_equal(seq("00"), tj("[null]")));
    ck_assert(motan_value_equal(seq("08000800"), tj("[{\"$int32\":0},{\"$int32\":0}]")));

    /* as response bodies: one value, empty is null, two values are an error */
    motan_value *v;
    char err[128];
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_SIMPLE, NULL, 0, A, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_NULL);
    uint8_t one[] = {0x00}, two[] = {0x08, 0x00, 0x08, 0x00};
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_SIMPLE, one, 1, A, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_NULL);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_SIMPLE, two, 4, A, &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    ck_assert_ptr_nonnull(strstr(err, "trailing bytes"));

    /* seq errors point at the bad value */
    size_t len;
    uint8_t *p = bytes_of("08020c", &len);
    ck_assert_int_eq(motan_simple_decode_seq(p, len, A, &v, err, sizeof(err)), MOTAN_EDECODE);
    ck_assert_str_eq(err, "unknown tag 12 at offset 2");
    free(p);
}
END_TEST

START_TEST(serialize_dispatch)
{
    const motan_value *args[3] = {tj("\"hello\""), tj("42")};
    char err[128];
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_SIMPLE, args, 2, B, err, sizeof(err)), 0);
    expect_hex("010000000568656c6c6f0954"); /* B01 */
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_SIMPLE, NULL, 0, B, err, sizeof(err)), 0);
    expect_hex(""); /* B02 */
    args[0] = tj("\"a\"");
    args[1] = tj("null");
    args[2] = tj("{\"$string_map\":{\"x\":\"y\"}}");
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_SIMPLE, args, 3, B, err, sizeof(err)), 0);
    expect_hex("01000000016100020000000a00000001780000000179"); /* B03 */
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_SIMPLE, tj("\"ok\""), B, err, sizeof(err)), 0);
    expect_hex("01000000026f6b");

    /* a failing argument leaves the buffer as it was */
    motan_simple_write_null(B);
    args[1] = NULL;
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_SIMPLE, args, 3, B, err, sizeof(err)),
                     MOTAN_EINVAL);
    expect_hex("00");

    /* unsupported serializations */
    ck_assert_int_eq(motan_serialize_args(MOTAN_SER_HPROSE, args, 1, B, err, sizeof(err)),
                     MOTAN_EUNSUPPORTED);
    ck_assert_str_eq(err, "serialization hprose (4) is not supported");
    ck_assert_int_eq(motan_serialize_value(MOTAN_SER_BREEZE, args[0], B, err, sizeof(err)),
                     MOTAN_EUNSUPPORTED);
    ck_assert_str_eq(err, "serialization breeze (8) is not supported");
    motan_value *v;
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_HESSIAN2, NULL, 0, A, &v, err, sizeof(err)),
                     MOTAN_EUNSUPPORTED);
    ck_assert_int_eq(motan_deserialize_args(17, NULL, 0, A, &v, err, sizeof(err)),
                     MOTAN_EUNSUPPORTED);
    ck_assert_str_eq(err, "serialization unknown (17) is not supported");
    ck_assert_uint_eq(motan_buf_len(B), 0);
}
END_TEST

START_TEST(serialization_names)
{
    static const char *names[] = {"hessian2", "grpc-pb",  "json",         "msgpack", "hprose",
                                  "protobuf", "simple",   "grpc-pb-json", "breeze"};
    for (int i = 0; i < 9; i++) {
        ck_assert_str_eq(motan_serialization_name(i), names[i]);
        ck_assert_int_eq(motan_serialization_by_name(names[i]), i);
    }
    ck_assert_int_eq(motan_serialization_by_name("SIMPLE"), 6);
    ck_assert_int_eq(motan_serialization_by_name("fastjson"), 2);
    ck_assert_int_eq(motan_serialization_by_name("pb"), 1);
    ck_assert_int_eq(motan_serialization_by_name("grpc-json"), 7);
    ck_assert_int_eq(motan_serialization_by_name("nope"), MOTAN_ENOTFOUND);
    ck_assert_int_eq(motan_serialization_by_name(NULL), MOTAN_ENOTFOUND);
    ck_assert_str_eq(motan_serialization_name(9), "unknown");
    ck_assert_str_eq(motan_serialization_name(-1), "unknown");
    ck_assert_int_eq(motan_serialization_supported(MOTAN_SER_SIMPLE), 1);
    ck_assert_int_eq(motan_serialization_supported(MOTAN_SER_MSGPACK), 1);
    ck_assert_int_eq(motan_serialization_supported(MOTAN_SER_JSON), 1);
    ck_assert_int_eq(motan_serialization_supported(MOTAN_SER_HESSIAN2), 0);
    ck_assert_int_eq(motan_serialization_supported(99), 0);
}
END_TEST

/* ---- hostile inputs ------------------------------------------------------------------- */

static int slow_env(void) { return getenv("MOTAN_SANITIZER") || getenv("LD_PRELOAD"); }

START_TEST(huge_declared_sizes)
{
    expect_err("15ffffffff", "declared size exceeds input at offset 0");
    expect_err("01ffffffff00", "string longer than input at offset 0");
    expect_err("02ffffffff", "declared size exceeds input at offset 0");
    expect_err("04fffffff0", "declared size exceeds input at offset 0");
    expect_err("150000000a15fffffff00000000000", "entry overruns declared size at offset 5");
    expect_err("0400000008ffffffff00000000", "entry overruns declared size at offset 5");
    /* a million tiny elements: the items array is sized from the real count */
    size_t n = 1000000;
    uint8_t *p = malloc(5 + n);
    p[0] = 0x15;
    p[1] = (uint8_t)(n >> 24);
    p[2] = (uint8_t)(n >> 16);
    p[3] = (uint8_t)(n >> 8);
    p[4] = (uint8_t)n;
    memset(p + 5, 0, n);
    motan_value *v;
    ck_assert_int_eq(motan_simple_decode(p, 5 + n, A, &v, NULL, 0), 0);
    ck_assert_uint_eq(motan_value_count(v), n);
    free(p);
}
END_TEST

/* 1M entries, every key twice: decoding must stay linear (hash dedup), last value wins. */
START_TEST(million_entry_map_with_duplicates)
{
    const int N = 1000000;
    size_t m;
    motan_simple_begin(B, MOTAN_T_MAP, &m);
    for (int i = 0; i < N; i++) {
        motan_simple_write_int64(B, i % (N / 2));
        motan_simple_write_int32(B, i);
    }
    motan_simple_end(B, m);
    motan_value *v;
    char err[128] = "";
    uint64_t t0 = cpu_us();
    int rc = motan_simple_decode(motan_buf_data(B), motan_buf_len(B), A, &v, err, sizeof(err));
    uint64_t us = cpu_us() - t0;
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(motan_value_count(v), (size_t)N / 2);
    int bad = 0;
    for (int i = 0; i < N / 2; i++)
        if (motan_value_get_int(motan_value_key_at(v, (size_t)i)) != i ||
            motan_value_get_int(motan_value_value_at(v, (size_t)i)) != i + N / 2)
            bad = 1;
    ck_assert_int_eq(bad, 0);
    if (!slow_env())
        ck_assert_msg(us < 3000000, "1M-entry map took %llu us", (unsigned long long)us);

    /* 1M distinct string keys */
    motan_buf_reset(B);
    motan_arena_reset(A);
    char k[24];
    motan_simple_begin(B, MOTAN_T_STRING_MAP, &m);
    for (int i = 0; i < N; i++) {
        int kn = snprintf(k, sizeof(k), "%d", i);
        motan_simple_write_raw(B, k, (size_t)kn);
        motan_simple_write_raw(B, "", 0);
    }
    motan_simple_end(B, m);
    t0 = cpu_us();
    rc = motan_simple_decode(motan_buf_data(B), motan_buf_len(B), A, &v, err, sizeof(err));
    us = cpu_us() - t0;
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(motan_value_count(v), (size_t)N);
    ck_assert_ptr_nonnull(motan_value_map_get(v, "999999", 6));
    if (!slow_env())
        ck_assert_msg(us < 3000000, "1M-key string map took %llu us", (unsigned long long)us);
}
END_TEST

/* "hello", 42 as a request body with a reused arena: well under 100 ns on a normal build. */
START_TEST(seq_decode_speed)
{
    static const uint8_t body[] = {0x01, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0x09, 0x54};
    const int N = slow_env() ? 1000 : 2000000;
    motan_value *v = NULL;
    int bad = 0;
    uint64_t t0 = cpu_us();
    for (int i = 0; i < N; i++) {
        motan_arena_reset(A);
        bad |= motan_simple_decode_seq(body, sizeof(body), A, &v, NULL, 0);
    }
    uint64_t us = cpu_us() - t0;
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(motan_value_count(v), 2);
    double ns = us * 1000.0 / N;
    if (!slow_env()) {
        fprintf(stderr, "simple seq decode (\"hello\", 42): %.1f ns/op\n", ns);
        ck_assert_msg(ns < 250, "seq decode took %.1f ns", ns);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("simple");
    TCase *w = tcase_create("writer");
    tcase_add_checked_fixture(w, setup, teardown);
    tcase_add_test(w, write_scalars);
    tcase_add_test(w, write_varints);
    tcase_add_test(w, write_floats);
    tcase_add_test(w, write_containers_streaming);
    tcase_add_test(w, write_value_trees);
    tcase_add_test(w, write_depth_limit);
    tcase_add_test(w, warm_paths_do_not_allocate);
    suite_add_tcase(s, w);

    TCase *r = tcase_create("reader");
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_test(r, read_scalars);
    tcase_add_test(r, read_varints);
    tcase_add_test(r, read_java_int32_forms);
    tcase_add_test(r, read_errors);
    tcase_add_test(r, read_short_scalars);
    tcase_add_test(r, read_containers);
    tcase_add_test(r, duplicate_keys_last_wins);
    tcase_add_test(r, nesting_limit);
    tcase_add_test(r, prefix_and_consumed);
    suite_add_tcase(s, r);

    TCase *v = tcase_create("visitor");
    tcase_add_checked_fixture(v, setup, teardown);
    tcase_add_test(v, visitor_callbacks);
    tcase_add_test(v, visitor_stop);
    tcase_add_test(v, visitor_errors_after_callbacks);
    suite_add_tcase(s, v);

    TCase *b = tcase_create("bodies");
    tcase_add_checked_fixture(b, setup, teardown);
    tcase_add_test(b, bodies);
    tcase_add_test(b, serialize_dispatch);
    tcase_add_test(b, serialization_names);
    suite_add_tcase(s, b);

    TCase *h = tcase_create("hostile");
    tcase_add_checked_fixture(h, setup, teardown);
    tcase_set_timeout(h, 300);
    tcase_add_test(h, huge_declared_sizes);
    tcase_add_test(h, million_entry_map_with_duplicates);
    tcase_add_test(h, seq_decode_speed);
    suite_add_tcase(s, h);
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
