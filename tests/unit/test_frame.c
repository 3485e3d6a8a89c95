/* motan2 frames: the writer and the one-shot parser (§1-§4). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static int hexeq(const motan_buf *b, const char *hex)
{
    char *h = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
    int eq = strcmp(h, hex) == 0;
    if (!eq)
        fprintf(stderr, "got  %s\nwant %s\n", h, hex);
    free(h);
    return eq;
}

/* 1 when b holds exactly the bytes of the named vector. */
static int vector_eq(const motan_buf *b, const char *name)
{
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", name, &n);
    int eq = n == motan_buf_len(b) && memcmp(d, motan_buf_data(b), n) == 0;
    if (!eq) {
        char *h = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
        fprintf(stderr, "%s: got %s\n", name, h);
        free(h);
    }
    free(d);
    return eq;
}

/* A raw frame: header, the metadata block as given, the body as given. */
static motan_buf *raw_frame(uint8_t flags, uint8_t verstat, uint8_t serb, uint64_t id,
                            const char *meta, size_t mlen, const void *body, size_t blen)
{
    motan_buf *b = motan_buf_new(0);
    uint8_t h[17] = {0xf1, 0xf1, flags, verstat, serb};
    for (int i = 0; i < 8; i++)
        h[5 + i] = (uint8_t)(id >> (56 - 8 * i));
    h[13] = (uint8_t)(mlen >> 24);
    h[14] = (uint8_t)(mlen >> 16);
    h[15] = (uint8_t)(mlen >> 8);
    h[16] = (uint8_t)mlen;
    motan_buf_append(b, h, 17);
    motan_buf_append(b, meta, mlen);
    uint8_t s[4] = {(uint8_t)(blen >> 24), (uint8_t)(blen >> 16), (uint8_t)(blen >> 8),
                    (uint8_t)blen};
    motan_buf_append(b, s, 4);
    motan_buf_append(b, body, blen);
    return b;
}

static int parse_buf(motan_frame *f, const motan_buf *b, size_t *consumed)
{
    return motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, consumed, NULL, 0);
}

static const char *meta_get(const motan_frame *f, const char *k, size_t *vl)
{
    return motan_frame_meta_get(f, k, strlen(k), vl);
}

static int meta_is(const motan_frame *f, const char *k, const char *v)
{
    size_t vl;
    const char *p = meta_get(f, k, &vl);
    return p && vl == strlen(v) && memcmp(p, v, vl) == 0;
}

/* ---- writer ------------------------------------------------------------------------------ */

START_TEST(write_header_bytes)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    ck_assert_int_eq(motan_frame_write_begin(b, 0, 0, 6, 16, &mark), MOTAN_OK);
    ck_assert_uint_eq(mark, 0);
    ck_assert_int_eq(motan_frame_write_body_begin(b, mark), MOTAN_OK);
    ck_assert_int_eq(motan_frame_write_end(b, mark, 0), MOTAN_OK);
    ck_assert(hexeq(b, "f1f10008300000000000000010" "00000000" "00000000"));
    motan_buf_reset(b);
    /* F25: proxy + oneway + gzip bits, status 1, id -1. */
    ck_assert_int_eq(motan_frame_write_begin(b, 0x0e, 1, 0, UINT64_MAX, &mark), MOTAN_OK);
    ck_assert(hexeq(b, "f1f10e0900ffffffffffffffff00000000"));
    /* Serialization bytes for ids 0..8. */
    static const char *sb[] = {"00", "08", "10", "18", "20", "28", "30", "38", "40"};
    for (int i = 0; i <= 8; i++) {
        motan_buf_reset(b);
        motan_frame_write_begin(b, 0, 0, (uint8_t)i, 0, &mark);
        char *h = tu_hex_encode(motan_buf_data(b) + 4, 1);
        ck_assert_str_eq(h, sb[i]);
        free(h);
    }
    motan_buf_free(b);
}
END_TEST

START_TEST(write_begin_rejects_bad_fields)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    ck_assert_int_eq(motan_frame_write_begin(b, 0, 8, 6, 1, &mark), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_write_begin(b, 0, 0, 32, 1, &mark), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_write_begin(NULL, 0, 0, 6, 1, &mark), MOTAN_EINVAL);
    ck_assert_uint_eq(motan_buf_len(b), 0);
    motan_buf_free(b);
}
END_TEST

START_TEST(write_meta_rules)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_buf_append(b, "xyz", 3); /* a frame need not start at offset 0 */
    ck_assert_int_eq(motan_frame_write_begin(b, 0, 0, 6, 2, &mark), MOTAN_OK);
    ck_assert_uint_eq(mark, 3);
    ck_assert_int_eq(motan_frame_write_meta(b, mark, "M_p", 3, "s", 1), MOTAN_OK);
    size_t len = motan_buf_len(b);
    /* F14: empty value skipped, '\n' and empty keys refused, nothing written. */
    ck_assert_int_eq(motan_frame_write_meta(b, mark, "M_v", 3, "", 0), MOTAN_OK);
    ck_assert_int_eq(motan_frame_write_meta(b, mark, "bad", 3, "a\nb", 3), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_write_meta(b, mark, "b\nd", 3, "x", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_write_meta(b, mark, "", 0, "x", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_write_meta(b, mark, NULL, 0, "x", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_write_meta(b, mark + 1, "k", 1, "x", 1), MOTAN_EINVAL);
    ck_assert_uint_eq(motan_buf_len(b), len);
    ck_assert_int_eq(motan_frame_write_body_begin(b, mark), MOTAN_OK);
    ck_assert_int_eq(motan_frame_write_end(b, mark, 0), MOTAN_OK);
    ck_assert(hexeq(b, "78797a" "f1f10008300000000000000002000000054d5f700a7300000000"));
    motan_buf_free(b);
}
END_TEST

START_TEST(write_body_and_sizes)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, 0, 0, 6, 16, &mark);
    motan_frame_write_meta(b, mark, "M_p", 3, "com.example.Hello", 17);
    motan_frame_write_meta(b, mark, "M_m", 3, "hello", 5);
    motan_frame_write_meta(b, mark, "M_pp", 4, "motan2", 6);
    motan_frame_write_body_begin(b, mark);
    motan_simple_write_string(b, "world", 5);
    ck_assert_int_eq(motan_frame_write_end(b, mark, 0), MOTAN_OK);
    ck_assert(vector_eq(b, "req_hello_world"));
    /* end without body_begin is refused */
    motan_buf_reset(b);
    motan_frame_write_begin(b, 0, 0, 6, 1, &mark);
    motan_frame_write_meta(b, mark, "k", 1, "v", 1);
    ck_assert_int_eq(motan_frame_write_end(b, mark, 0), MOTAN_EINVAL);
    motan_buf_free(b);
}
END_TEST

START_TEST(write_gzip_threshold)
{
    motan_buf *b = motan_buf_new(0);
    motan_frame *f = motan_frame_new();
    uint8_t body[64];
    memset(body, 'a', sizeof(body));
    for (size_t mingz = 0; mingz <= 80; mingz += 16) {
        size_t mark;
        motan_buf_reset(b);
        motan_frame_write_begin(b, 0, 0, 6, 32, &mark);
        motan_frame_write_meta(b, mark, "M_p", 3, "s", 1);
        motan_frame_write_body_begin(b, mark);
        motan_buf_append(b, body, sizeof(body));
        ck_assert_int_eq(motan_frame_write_end(b, mark, mingz), MOTAN_OK);
        int gz = (motan_buf_data(b)[2] & MOTAN_FLAG_GZIP) != 0;
        ck_assert_int_eq(gz, mingz > 0 && sizeof(body) > mingz);
        if (gz) {
            /* Go's gzip header: 1f8b 08 00 00000000 04 ff */
            const uint8_t *z = motan_buf_data(b) + 17 + 5 + 4;
            static const uint8_t goh[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff};
            ck_assert_mem_eq(z, goh, sizeof(goh));
        }
        size_t n, blen;
        ck_assert_int_eq(parse_buf(f, b, &n), MOTAN_OK);
        ck_assert_uint_eq(n, motan_buf_len(b));
        const uint8_t *pb = motan_frame_body(f, &blen);
        ck_assert_uint_eq(blen, sizeof(body));
        ck_assert_mem_eq(pb, body, sizeof(body));
    }
    /* A body exactly mingz long is not compressed ("longer than"). */
    size_t mark;
    motan_buf_reset(b);
    motan_frame_write_begin(b, 0, 0, 6, 1, &mark);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, body, 64);
    motan_frame_write_end(b, mark, 64);
    ck_assert_int_eq(motan_buf_data(b)[2] & MOTAN_FLAG_GZIP, 0);
    motan_frame_free(f);
    motan_buf_free(b);
}
END_TEST

START_TEST(write_heartbeats)
{
    motan_buf *b = motan_buf_new(0);
    ck_assert_int_eq(motan_frame_write_heartbeat(b, 0x0102030405060708ULL, 0), MOTAN_OK);
    ck_assert(vector_eq(b, "hb_request_go"));
    motan_buf_reset(b);
    ck_assert_int_eq(motan_frame_write_heartbeat(b, 0x0102030405060708ULL, 1), MOTAN_OK);
    ck_assert(vector_eq(b, "hb_response_go"));
    motan_buf_free(b);
}
END_TEST

START_TEST(write_error_meta_go_form)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 1, 6, 16, &mark);
    ck_assert_int_eq(motan_frame_write_error_meta(b, mark, 500, 1, "boom", 4), MOTAN_OK);
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    /* F12, byte for byte. */
    ck_assert(vector_eq(b, "resp_err_go"));
    motan_buf_free(b);
}
END_TEST

START_TEST(write_no_alloc_when_warm)
{
    motan_buf *b = motan_buf_new(4096);
    tu_count_allocs_start();
    for (int i = 0; i < 100; i++) {
        size_t mark;
        motan_buf_reset(b);
        motan_frame_write_begin(b, 0, 0, 6, (uint64_t)i, &mark);
        motan_frame_write_meta(b, mark, "M_p", 3, "com.weibo.api.HelloService", 26);
        motan_frame_write_meta(b, mark, "M_m", 3, "hello", 5);
        motan_frame_write_body_begin(b, mark);
        motan_simple_write_string(b, "hello", 5);
        motan_simple_write_int64(b, 42);
        motan_frame_write_end(b, mark, 0);
    }
    ck_assert_uint_eq(tu_allocs(), 0);
    tu_count_allocs_stop();
    motan_buf_free(b);
}
END_TEST

/* ---- parser: header checks in byte order, EAGAIN need values ------------------------------ */

START_TEST(parse_need_values)
{
    /* F07: M = 0x2b = 43, B = 10; total 21 + 43 + 10 = 74 */
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", "req_hello_world", &n);
    ck_assert_uint_eq(n, 74);
    motan_frame *f = motan_frame_new();
    for (size_t len = 0; len < n; len++) {
        size_t need = 0;
        ck_assert_int_eq(motan_frame_parse(f, d, len, 0, &need, NULL, 0), MOTAN_EAGAIN);
        size_t want = len < 17 ? 21 : len < 64 ? 64 : 74;
        ck_assert_uint_eq(need, want);
        ck_assert_uint_gt(need, len);
    }
    size_t c;
    ck_assert_int_eq(motan_frame_parse(f, d, n, 0, &c, NULL, 0), MOTAN_OK);
    ck_assert_uint_eq(c, n);
    /* Trailing bytes of the next frame are not consumed. */
    uint8_t *d2 = malloc(n + 5);
    memcpy(d2, d, n);
    memcpy(d2 + n, "\xf1\xf1\x00\x08\x30", 5);
    ck_assert_int_eq(motan_frame_parse(f, d2, n + 5, 0, &c, NULL, 0), MOTAN_OK);
    ck_assert_uint_eq(c, n);
    free(d2);
    free(d);
    motan_frame_free(f);
}
END_TEST

START_TEST(parse_rejections)
{
    motan_frame *f = motan_frame_new();
    char err[128];
    size_t c;
    /* Magic: as soon as byte 0 or byte 1 is wrong. */
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf0", 1, 0, &c, err, sizeof(err)),
                     MOTAN_EPROTO);
    ck_assert_str_eq(err, "bad magic");
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf1\xf0", 2, 0, &c, err, sizeof(err)),
                     MOTAN_EPROTO);
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf1", 1, 0, &c, NULL, 0), MOTAN_EAGAIN);
    /* Version byte 3 >> 3: 0 is motan1, 2..31 unsupported. */
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf1\xf1\x00\x00", 4, 0, &c, err,
                                       sizeof(err)),
                     MOTAN_EMOTAN1);
    ck_assert_str_eq(err, "peer speaks motan1");
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf1\xf1\x00\x10", 4, 0, &c, err,
                                       sizeof(err)),
                     MOTAN_EVERSION);
    ck_assert_str_eq(err, "unsupported version 2");
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf1\xf1\x00\xff", 4, 0, &c, err,
                                       sizeof(err)),
                     MOTAN_EVERSION);
    ck_assert_str_eq(err, "unsupported version 31");
    /* Status bits do not matter for the version: 0x0f is version 1, status 7. */
    ck_assert_int_eq(motan_frame_parse(f, (const uint8_t *)"\xf1\xf1\x00\x0f", 4, 0, &c, NULL, 0),
                     MOTAN_EAGAIN);
    motan_frame_free(f);
}
END_TEST

START_TEST(parse_size_limits)
{
    motan_frame *f = motan_frame_new();
    size_t c;
    char err[128];
    /* Metadata size over the limit: known at 17 bytes. */
    motan_buf *b = raw_frame(0, 8, 0x30, 1, "", 0, "", 0);
    uint8_t *d = (uint8_t *)motan_buf_data(b);
    d[13] = 0;
    d[14] = 0xa0;
    d[15] = 0;
    d[16] = 1; /* 10485761 */
    ck_assert_int_eq(motan_frame_parse(f, d, 17, 0, &c, err, sizeof(err)), MOTAN_ETOOBIG);
    ck_assert_int_eq(motan_frame_parse(f, d, 16, 0, &c, NULL, 0), MOTAN_EAGAIN);
    d[16] = 0; /* exactly 10 MiB: passes ("greater than" rule), needs 21 + M */
    ck_assert_int_eq(motan_frame_parse(f, d, 17, 0, &c, NULL, 0), MOTAN_EAGAIN);
    ck_assert_uint_eq(c, 21 + 10485760);
    /* A custom limit. */
    d[14] = 0;
    d[16] = 101;
    ck_assert_int_eq(motan_frame_parse(f, d, 17, 100, &c, NULL, 0), MOTAN_ETOOBIG);
    d[16] = 100;
    ck_assert_int_eq(motan_frame_parse(f, d, 17, 100, &c, NULL, 0), MOTAN_EAGAIN);
    motan_buf_free(b);

    /* Body size over the limit: known at 21 + M, before any body byte. */
    b = raw_frame(0, 8, 0x30, 1, "k\nv", 3, "", 0);
    d = (uint8_t *)motan_buf_data(b);
    d[20] = 0;
    d[21] = 0xa0;
    d[22] = 0;
    d[23] = 1;
    ck_assert_int_eq(motan_frame_parse(f, d, 23, 0, &c, NULL, 0), MOTAN_EAGAIN);
    ck_assert_uint_eq(c, 24);
    ck_assert_int_eq(motan_frame_parse(f, d, 24, 0, &c, err, sizeof(err)), MOTAN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "body size"));
    d[23] = 0; /* exactly the limit */
    ck_assert_int_eq(motan_frame_parse(f, d, 24, 0, &c, NULL, 0), MOTAN_EAGAIN);
    ck_assert_uint_eq(c, 24 + 10485760);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(parse_header_fields_and_kinds)
{
    static const struct {
        uint8_t flags;
        motan_frame_kind kind;
    } cases[] = {
        {0x00, MOTAN_FRAME_REQUEST},
        {0x01, MOTAN_FRAME_RESPONSE},
        {0x06, MOTAN_FRAME_REQUEST}, /* proxy, oneway ignored */
        {0xe1, MOTAN_FRAME_RESPONSE}, /* reserved bits ignored */
        {0x10, MOTAN_FRAME_HEARTBEAT_REQUEST},
        {0x12, MOTAN_FRAME_HEARTBEAT_REQUEST},
        {0x11, MOTAN_FRAME_HEARTBEAT_RESPONSE},
        {0x13, MOTAN_FRAME_HEARTBEAT_RESPONSE},
    };
    motan_frame *f = motan_frame_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        motan_buf *b = raw_frame(cases[i].flags, 0x08, 0x40 | 0x05, 0xfedcba9876543210ULL, "", 0,
                                 "", 0);
        ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
        ck_assert_int_eq(motan_frame_get_kind(f), cases[i].kind);
        ck_assert_uint_eq(motan_frame_get_flags(f), cases[i].flags);
        ck_assert_int_eq(motan_frame_get_serialization(f), 8); /* low bits ignored */
        ck_assert_int_eq(motan_frame_get_status(f), 0);
        ck_assert(motan_frame_get_request_id(f) == 0xfedcba9876543210ULL);
        ck_assert_uint_eq(motan_frame_meta_count(f), 0);
        motan_buf_free(b);
    }
    motan_buf *b = raw_frame(1, 0x0f, 0xf8, 0, "", 0, "", 0);
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_frame_get_status(f), 7);
    ck_assert_int_eq(motan_frame_get_serialization(f), 31);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

/* ---- metadata (§2.3) --------------------------------------------------------------------- */

START_TEST(meta_edge_cases)
{
    motan_frame *f = motan_frame_new();
    char err[64];
    static const struct {
        const char *block;
        int ok;
        size_t count;
        const char *kv[6]; /* expected lookups, key then value */
    } cases[] = {
        {"M_p\ns\nM_m\nm\n", 1, 2, {"M_p", "s", "M_m", "m"}},
        {"a\n\nb\nc", 1, 2, {"a", "", "b", "c"}},
        {"a\nb\nc\n", 1, 2, {"a", "b", "c", ""}},
        {"M_p", 0, 0, {0}},
        {"k\n1\nk\n2", 1, 2, {"k", "2"}},
        {"\nv\nk\nx", 0, 0, {0}},
        {"", 1, 0, {0}},
        {"\n", 1, 0, {0}},
        {"\n\n\nk\nv", 1, 1, {"k", "v"}},
        {"k\n", 1, 1, {"k", ""}},
        {"k\nv\n\n", 1, 1, {"k", "v"}},
        {"k\nv\n\n\n", 1, 1, {"k", "v"}}, /* empty segments with no key pending: skipped */
        {"k\n\n\n", 1, 1, {"k", ""}},
        {"k\n\n\nv", 0, 0, {0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        motan_buf *b = raw_frame(0, 8, 0x30, 7, cases[i].block, strlen(cases[i].block), "", 0);
        int rc = motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, err,
                                   sizeof(err));
        if (!cases[i].ok) {
            ck_assert_msg(rc == MOTAN_EPROTO, "case %zu", i);
            ck_assert_str_eq(err, "odd metadata segments");
        } else {
            ck_assert_msg(rc == MOTAN_OK, "case %zu", i);
            ck_assert_uint_eq(motan_frame_meta_count(f), cases[i].count);
            for (int k = 0; k < 6 && cases[i].kv[k]; k += 2)
                ck_assert_msg(meta_is(f, cases[i].kv[k], cases[i].kv[k + 1]), "case %zu key %s",
                              i, cases[i].kv[k]);
        }
        motan_buf_free(b);
    }
    motan_frame_free(f);
}
END_TEST

START_TEST(meta_wire_order_and_duplicates)
{
    motan_frame *f = motan_frame_new();
    const char *block = "k\n1\nx\ny\nk\n2";
    motan_buf *b = raw_frame(0, 8, 0x30, 7, block, strlen(block), "", 0);
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_meta_count(f), 3);
    size_t kl, vl;
    const char *k = motan_frame_meta_key(f, 0, &kl), *v = motan_frame_meta_value(f, 0, &vl);
    ck_assert_uint_eq(kl, 1);
    ck_assert_int_eq(k[0], 'k');
    ck_assert_uint_eq(vl, 1);
    ck_assert_int_eq(v[0], '1');
    ck_assert(meta_is(f, "k", "2"));
    ck_assert(meta_is(f, "x", "y"));
    ck_assert_ptr_null(meta_get(f, "K", NULL));
    ck_assert_ptr_null(meta_get(f, "kk", NULL));
    ck_assert_ptr_null(motan_frame_meta_key(f, 3, NULL));
    ck_assert_ptr_null(motan_frame_meta_value(f, 3, NULL));
    /* Views point into the input. */
    ck_assert_ptr_eq(k, (const char *)motan_buf_data(b) + 17);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(meta_many_entries)
{
    /* A hostile frame with a million entries parses; lookups find the last duplicate. */
    size_t n = 1000000;
    motan_buf *m = motan_buf_new(0);
    for (size_t i = 0; i < n; i++)
        motan_buf_append(m, i + 1 < n ? "a\nb\n" : "a\nz", i + 1 < n ? 4 : 3);
    motan_buf *b = raw_frame(0, 8, 0x30, 7, (const char *)motan_buf_data(m), motan_buf_len(m),
                             "", 0);
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_meta_count(f), n);
    ck_assert(meta_is(f, "a", "z"));
    /* The frame is reusable afterwards for an ordinary frame. */
    motan_buf *small = raw_frame(0, 8, 0x30, 7, "k\nv", 3, "", 0);
    ck_assert_int_eq(parse_buf(f, small, NULL), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_meta_count(f), 1);
    motan_buf_free(small);
    motan_buf_free(b);
    motan_buf_free(m);
    motan_frame_free(f);
}
END_TEST

/* ---- body, gzip, reuse ------------------------------------------------------------------- */

START_TEST(parse_body_view_and_reuse)
{
    motan_frame *f = motan_frame_new();
    motan_buf *b = raw_frame(1, 8, 0x30, 16, "M_pt\n3", 6, "\x01\x00\x00\x00\x02ok", 7);
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    size_t blen;
    const uint8_t *body = motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 7);
    ck_assert_ptr_eq(body, motan_buf_data(b) + 17 + 6 + 4);
    ck_assert_int_eq(motan_frame_error(f, NULL, NULL, NULL, NULL), 0);

    /* After warm-up, parsing ordinary frames allocates nothing. */
    tu_count_allocs_start();
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    ck_assert_uint_eq(tu_allocs(), 0);
    tu_count_allocs_stop();

    /* A failed parse leaves an empty frame behind. */
    motan_buf *odd = raw_frame(1, 8, 0x30, 16, "M_pt", 4, "", 0);
    ck_assert_int_eq(parse_buf(f, odd, NULL), MOTAN_EPROTO);
    ck_assert_uint_eq(motan_frame_meta_count(f), 0);
    motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 0);
    motan_buf_free(odd);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(parse_error_response_fields)
{
    motan_frame *f = motan_frame_new();
    const char *m = "M_e\n{\"errcode\":404,\"errmsg\":\"a\\u003cb \\u0026 \\\"c\\\"\",\"errtype\":2}";
    motan_buf *b = raw_frame(1, 9, 0x30, 16, m, strlen(m), "", 0);
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    int64_t code;
    int type;
    const char *msg;
    size_t ml;
    ck_assert_int_eq(motan_frame_error(f, &code, &type, &msg, &ml), 1);
    ck_assert_int_eq(code, 404);
    ck_assert_int_eq(type, 2);
    ck_assert_uint_eq(ml, strlen("a<b & \"c\""));
    ck_assert_mem_eq(msg, "a<b & \"c\"", ml);
    motan_buf_free(b);
    /* Any non-zero status is an error; a heartbeat never is. */
    b = raw_frame(1, 0x0a, 0x30, 1, "", 0, "", 0);
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_frame_error(f, &code, &type, &msg, &ml), 1);
    ck_assert_int_eq(code, 0);
    ck_assert_int_eq(type, 1);
    ck_assert_mem_eq(msg, "no error details", ml);
    motan_buf_free(b);
    b = raw_frame(0x11, 0x09, 0x30, 1, "", 0, "", 0);
    ck_assert_int_eq(parse_buf(f, b, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_frame_error(f, &code, &type, &msg, &ml), 0);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(parse_bad_args)
{
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(motan_frame_parse(NULL, (const uint8_t *)"", 0, 0, NULL, NULL, 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_frame_parse(f, NULL, 3, 0, NULL, NULL, 0), MOTAN_EINVAL);
    size_t c = 0;
    ck_assert_int_eq(motan_frame_parse(f, NULL, 0, 0, &c, NULL, 0), MOTAN_EAGAIN);
    ck_assert_uint_eq(c, 21);
    motan_frame_free(NULL);
    motan_frame_free(f);
}
END_TEST

/*
 * The metadata split of random blocks, short and long, against the rule written out here:
 * segments end at every newline and at the end, an empty segment where a key is due is
 * skipped, a key left without a value is an error.
 */
START_TEST(meta_split_matches_the_rule)
{
    motan_frame *f = motan_frame_new();
    unsigned seed = 12345;
    char meta[1400];
    for (int round = 0; round < 3000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t mlen = (seed >> 8) % (round % 2 ? 40 : sizeof(meta));
        for (size_t j = 0; j < mlen; j++) {
            seed = seed * 1103515245u + 12345u;
            unsigned c = (seed >> 16) % 7;
            meta[j] = c < 2 ? '\n' : (char)('a' + c);
        }
        size_t ek[800], el[800], vk[800], vl[800], n = 0, p = 0, kk = 0, kl = 0;
        int pending = 0;
        for (size_t q = 0; q <= mlen; q++) {
            if (q < mlen && meta[q] != '\n')
                continue;
            if (pending) {
                ek[n] = kk, el[n] = kl, vk[n] = p, vl[n] = q - p, n++;
                pending = 0;
            } else if (q > p) {
                kk = p, kl = q - p, pending = 1;
            }
            p = q + 1;
        }
        motan_buf *b = raw_frame(0, 8, 0x30, 1, meta, mlen, "", 0);
        int rc = parse_buf(f, b, NULL); /* the entries point into b */
        int ok = pending ? rc == MOTAN_EPROTO : rc == MOTAN_OK && motan_frame_meta_count(f) == n;
        for (size_t j = 0; ok && !pending && j < n; j++) {
            size_t a, c;
            const char *k = motan_frame_meta_key(f, j, &a);
            const char *v = motan_frame_meta_value(f, j, &c);
            ok = a == el[j] && !memcmp(k, meta + ek[j], a) && c == vl[j] && !memcmp(v, meta + vk[j], c);
        }
        motan_buf_free(b);
        ck_assert_msg(ok, "round %d: %zu bytes, rc %d, %zu entries expected, %zu seen (pending %d)",
                      round, mlen, rc, n, motan_frame_meta_count(f), pending);
    }
    motan_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("frame");
    TCase *w = tcase_create("write");
    tcase_add_test(w, write_header_bytes);
    tcase_add_test(w, write_begin_rejects_bad_fields);
    tcase_add_test(w, write_meta_rules);
    tcase_add_test(w, write_body_and_sizes);
    tcase_add_test(w, write_gzip_threshold);
    tcase_add_test(w, write_heartbeats);
    tcase_add_test(w, write_error_meta_go_form);
    tcase_add_test(w, write_no_alloc_when_warm);
    suite_add_tcase(s, w);
    TCase *p = tcase_create("parse");
    tcase_set_timeout(p, 60);
    tcase_add_test(p, parse_need_values);
    tcase_add_test(p, parse_rejections);
    tcase_add_test(p, parse_size_limits);
    tcase_add_test(p, parse_header_fields_and_kinds);
    tcase_add_test(p, meta_edge_cases);
    tcase_add_test(p, meta_wire_order_and_duplicates);
    tcase_add_test(p, meta_many_entries);
    tcase_add_test(p, parse_body_view_and_reuse);
    tcase_add_test(p, parse_error_response_fields);
    tcase_add_test(p, parse_bad_args);
    tcase_add_test(p, meta_split_matches_the_rule);
    suite_add_tcase(s, p);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
