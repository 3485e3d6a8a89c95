/* Gzip bodies (§2.6): Go-compatible compression, tolerant decompression, the size cap. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"
#include "codec/codec_int.h"

/* zlib-compresses n zero bytes (windowBits: 31 gzip, 15 zlib) without holding them. */
static uint8_t *deflate_zeros(size_t n, int window_bits, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY), Z_OK);
    static uint8_t zeros[1 << 20];
    size_t cap = n / 500 + 1024, len = 0;
    uint8_t *out = malloc(cap);
    size_t left = n;
    int zrc;
    do {
        size_t feed = left < sizeof(zeros) ? left : sizeof(zeros);
        left -= feed;
        zs.next_in = zeros;
        zs.avail_in = (uInt)feed;
        do {
            if (cap - len < 4096) {
                cap *= 2;
                out = realloc(out, cap);
            }
            zs.next_out = out + len;
            zs.avail_out = (uInt)(cap - len);
            zrc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
            len = cap - zs.avail_out;
        } while (zs.avail_out == 0);
    } while (left || zrc != Z_STREAM_END);
    deflateEnd(&zs);
    *out_len = len;
    return out;
}

/* A request frame whose body is the given bytes, gzip bit set. */
static motan_buf *gz_frame(const uint8_t *z, size_t zlen)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_GZIP, 0, 6, 32, &mark);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, z, zlen);
    motan_frame_write_end(b, mark, 0);
    return b;
}

START_TEST(round_trip_sizes)
{
    static const size_t sizes[] = {1, 2, 100, 1000, 65536, 1 << 20, (1 << 20) + 7};
    motan_frame *f = motan_frame_new();
    motan_buf *b = motan_buf_new(0);
    uint64_t rnd = 12345;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        uint8_t *body = malloc(n);
        /* Half random (incompressible), half repetitive. */
        for (size_t i = 0; i < n; i++)
            body[i] = i < n / 2 ? (uint8_t)tu_rand(&rnd) : (uint8_t)(i % 7);
        size_t mark;
        motan_buf_reset(b);
        motan_frame_write_begin(b, 0, 0, 6, 1, &mark);
        motan_frame_write_meta(b, mark, "M_p", 3, "s", 1);
        motan_frame_write_body_begin(b, mark);
        motan_buf_append(b, body, n);
        ck_assert_int_eq(motan_frame_write_end(b, mark, 1), n > 1 ? MOTAN_OK : MOTAN_OK);
        ck_assert_int_eq((motan_buf_data(b)[2] & MOTAN_FLAG_GZIP) != 0, n > 1);
        size_t c, blen;
        ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, &c, NULL, 0),
                         MOTAN_OK);
        ck_assert_uint_eq(c, motan_buf_len(b));
        const uint8_t *pb = motan_frame_body(f, &blen);
        ck_assert_uint_eq(blen, n);
        ck_assert(memcmp(pb, body, n) == 0);
        free(body);
    }
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(go_vector_f15)
{
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", "req_gzip", &n);
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(motan_frame_parse(f, d, n, 0, NULL, NULL, 0), MOTAN_OK);
    size_t blen;
    const uint8_t *body = motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 69);
    ck_assert_mem_eq(body, "\x01\x00\x00\x00\x40", 5);
    for (size_t i = 5; i < blen; i++)
        ck_assert_int_eq(body[i], 'a');
    /* Parsed again into the same frame: same result, buffer reused. */
    ck_assert_int_eq(motan_frame_parse(f, d, n, 0, NULL, NULL, 0), MOTAN_OK);
    ck_assert_ptr_eq(motan_frame_body(f, &blen), body);
    free(d);
    motan_frame_free(f);
}
END_TEST

START_TEST(zlib_and_multi_member)
{
    const char *text = "hello hello hello hello";
    uint8_t z[256];
    uLongf zl = sizeof(z);
    ck_assert_int_eq(compress(z, &zl, (const Bytef *)text, strlen(text)), Z_OK);
    motan_frame *f = motan_frame_new();
    motan_buf *b = gz_frame(z, zl);
    size_t blen;
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    const uint8_t *p = motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, strlen(text));
    ck_assert_mem_eq(p, text, blen);
    motan_buf_free(b);

    /* Two gzip members back to back read as one body (Go and Java do). */
    motan_buf *two = motan_buf_new(0);
    ck_assert_int_eq(motan__gzip((const uint8_t *)"abc", 3, two), MOTAN_OK);
    ck_assert_int_eq(motan__gzip((const uint8_t *)"def", 3, two), MOTAN_OK);
    b = gz_frame(motan_buf_data(two), motan_buf_len(two));
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    p = motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 6);
    ck_assert_mem_eq(p, "abcdef", 6);
    motan_buf_free(b);
    motan_buf_free(two);
    motan_frame_free(f);
}
END_TEST

START_TEST(bad_gzip_bodies)
{
    motan_frame *f = motan_frame_new();
    motan_buf *good = motan_buf_new(0);
    ck_assert_int_eq(motan__gzip((const uint8_t *)"some body bytes", 15, good), MOTAN_OK);
    const uint8_t *g = motan_buf_data(good);
    size_t gl = motan_buf_len(good);
    char err[128];
    struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {
        {(const uint8_t *)"not gzip at all", 15},
        {g, gl - 1},              /* truncated trailer */
        {g, 12},                  /* header only */
        {g, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_buf *b = gz_frame(bad[i].p, bad[i].n);
        int rc = motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, err,
                                   sizeof(err));
        ck_assert_msg(rc == MOTAN_EPROTO, "case %zu: %d", i, rc);
        ck_assert_ptr_nonnull(strstr(err, "bad gzip body"));
        motan_buf_free(b);
    }
    /* Corrupted CRC. */
    uint8_t *c = malloc(gl);
    memcpy(c, g, gl);
    c[gl - 6] ^= 0xff;
    motan_buf *b = gz_frame(c, gl);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_EPROTO);
    motan_buf_free(b);
    /* Garbage after a valid member. */
    memcpy(c, g, gl);
    motan_buf *tail = motan_buf_new(0);
    motan_buf_append(tail, g, gl);
    motan_buf_append(tail, "junk", 4);
    b = gz_frame(motan_buf_data(tail), motan_buf_len(tail));
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_EPROTO);
    motan_buf_free(b);
    motan_buf_free(tail);
    free(c);
    /* An empty body with the gzip bit is just empty; a heartbeat body is left alone. */
    b = gz_frame((const uint8_t *)"", 0);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    motan_buf_free(b);
    b = gz_frame((const uint8_t *)"xx", 2);
    ((uint8_t *)motan_buf_data(b))[2] |= MOTAN_FLAG_HEARTBEAT;
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    size_t blen;
    motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 2);
    motan_buf_free(b);
    motan_buf_free(good);
    motan_frame_free(f);
}
END_TEST

START_TEST(bomb_is_capped)
{
    /* 100 MiB of zeros compress to ~100 KB: refused at the 10 MiB default cap. */
    size_t zl;
    uint8_t *z = deflate_zeros((size_t)100 << 20, 31, &zl);
    ck_assert_uint_lt(zl, 200000);
    motan_buf *b = gz_frame(z, zl);
    motan_frame *f = motan_frame_new();
    char err[128];
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, err,
                                       sizeof(err)),
                     MOTAN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "gunzipped body over limit 10485760"));
    /* The inflate buffer never grew past the cap (+1 byte to see the overflow). */
    ck_assert_uint_le(f->inflated.cap, 10485761);
    motan_buf_free(b);
    free(z);
    motan_frame_free(f);
}
END_TEST

START_TEST(cap_boundary)
{
    motan_frame *f = motan_frame_new();
    size_t zl;
    /* Exactly the cap passes, one more byte does not. */
    uint8_t *z = deflate_zeros(100000, 31, &zl);
    motan_buf *b = gz_frame(z, zl);
    size_t blen;
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 100000, NULL, NULL, 0),
                     MOTAN_OK);
    motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 100000);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 99999, NULL, NULL, 0),
                     MOTAN_ETOOBIG);
    motan_buf_free(b);
    free(z);
    /* zlib format too. */
    z = deflate_zeros(5000, 15, &zl);
    b = gz_frame(z, zl);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    motan_frame_body(f, &blen);
    ck_assert_uint_eq(blen, 5000);
    motan_buf_free(b);
    free(z);
    motan_frame_free(f);
}
END_TEST

START_TEST(internal_gunzip_api)
{
    motan_buf *z = motan_buf_new(0), *out = motan_buf_new(0);
    ck_assert_int_eq(motan__gzip((const uint8_t *)"", 0, z), MOTAN_OK);
    void *zs = NULL;
    ck_assert_int_eq(motan__gunzip(&zs, motan_buf_data(z), motan_buf_len(z), 10, out, NULL, 0),
                     MOTAN_OK);
    ck_assert_uint_eq(motan_buf_len(out), 0);
    /* The state is reused across calls. */
    void *first = zs;
    motan_buf_reset(z);
    motan__gzip((const uint8_t *)"0123456789", 10, z);
    ck_assert_int_eq(motan__gunzip(&zs, motan_buf_data(z), motan_buf_len(z), 10, out, NULL, 0),
                     MOTAN_OK);
    ck_assert_ptr_eq(zs, first);
    ck_assert_mem_eq(motan_buf_data(out), "0123456789", 10);
    ck_assert_int_eq(motan__gunzip(&zs, motan_buf_data(z), motan_buf_len(z), 9, out, NULL, 0),
                     MOTAN_ETOOBIG);
    motan__gunzip_free(zs);
    motan__gunzip_free(NULL);
    motan_buf_free(z);
    motan_buf_free(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gzip");
    TCase *t = tcase_create("gzip");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, round_trip_sizes);
    tcase_add_test(t, go_vector_f15);
    tcase_add_test(t, zlib_and_multi_member);
    tcase_add_test(t, bad_gzip_bodies);
    tcase_add_test(t, bomb_is_capped);
    tcase_add_test(t, cap_boundary);
    tcase_add_test(t, internal_gunzip_api);
    suite_add_tcase(s, t);
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
