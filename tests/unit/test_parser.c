/* The incremental parser: any chunking, early refusal, sticky errors, view lifetime. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"

/* Appends frame number i of a varied stream to b (kinds, metadata, gzip, body sizes). */
static void add_frame(motan_buf *b, uint64_t i, uint64_t *rnd)
{
    size_t mark;
    uint8_t flags = (uint8_t)(i % 5 == 0 ? MOTAN_FLAG_HEARTBEAT | (i & 1) : (i & 1));
    motan_frame_write_begin(b, flags, (uint8_t)(i % 7 == 3), 6, i * 7919, &mark);
    size_t nmeta = tu_rand(rnd) % 5;
    for (size_t k = 0; k < nmeta; k++) {
        char key[16], val[64];
        int kl = snprintf(key, sizeof(key), "k%zu", k);
        size_t vl = tu_rand(rnd) % sizeof(val);
        for (size_t j = 0; j < vl; j++)
            val[j] = (char)('a' + tu_rand(rnd) % 26);
        motan_frame_write_meta(b, mark, key, (size_t)kl, val, vl);
    }
    motan_frame_write_body_begin(b, mark);
    size_t blen = tu_rand(rnd) % 4 == 0 ? tu_rand(rnd) % 20000 : tu_rand(rnd) % 40;
    for (size_t j = 0; j < blen; j++) {
        uint8_t c = (uint8_t)(j % 3 ? 'x' : tu_rand(rnd));
        motan_buf_append(b, &c, 1);
    }
    motan_frame_write_end(b, mark, i % 3 == 0 ? 100 : 0);
}

/* Compares two parsed frames field by field. */
static void same_frame(const motan_frame *a, const motan_frame *b)
{
    ck_assert_int_eq(motan_frame_get_kind(a), motan_frame_get_kind(b));
    ck_assert_uint_eq(motan_frame_get_flags(a), motan_frame_get_flags(b));
    ck_assert_int_eq(motan_frame_get_status(a), motan_frame_get_status(b));
    ck_assert_int_eq(motan_frame_get_serialization(a), motan_frame_get_serialization(b));
    ck_assert(motan_frame_get_request_id(a) == motan_frame_get_request_id(b));
    ck_assert_uint_eq(motan_frame_meta_count(a), motan_frame_meta_count(b));
    for (size_t i = 0; i < motan_frame_meta_count(a); i++) {
        size_t l1, l2;
        const char *k1 = motan_frame_meta_key(a, i, &l1), *k2 = motan_frame_meta_key(b, i, &l2);
        ck_assert_uint_eq(l1, l2);
        ck_assert(memcmp(k1, k2, l1) == 0);
        k1 = motan_frame_meta_value(a, i, &l1);
        k2 = motan_frame_meta_value(b, i, &l2);
        ck_assert_uint_eq(l1, l2);
        ck_assert(l1 == 0 || memcmp(k1, k2, l1) == 0);
    }
    size_t l1, l2;
    const uint8_t *b1 = motan_frame_body(a, &l1), *b2 = motan_frame_body(b, &l2);
    ck_assert_uint_eq(l1, l2);
    ck_assert(l1 == 0 || memcmp(b1, b2, l1) == 0);
}

START_TEST(random_chunks)
{
    uint64_t rnd = 0x9e3779b97f4a7c15ULL + (uint64_t)_i;
    motan_buf *stream = motan_buf_new(0);
    size_t nframes = 200;
    size_t *offs = malloc((nframes + 1) * sizeof(size_t));
    for (size_t i = 0; i < nframes; i++) {
        offs[i] = motan_buf_len(stream);
        add_frame(stream, i, &rnd);
    }
    offs[nframes] = motan_buf_len(stream);
    const uint8_t *s = motan_buf_data(stream);
    size_t total = motan_buf_len(stream);

    motan_parser *p = motan_parser_new(0);
    motan_frame *got = motan_frame_new(), *want = motan_frame_new();
    size_t pos = 0, seen = 0;
    /* Chunk sizes: mostly tiny, sometimes large, sometimes everything left. */
    while (pos < total) {
        uint64_t r = tu_rand(&rnd);
        size_t n = r % 10 < 6 ? r % 8 + 1 : r % 10 < 9 ? r % 30000 : total - pos;
        if (n > total - pos)
            n = total - pos;
        ck_assert_int_eq(motan_parser_feed(p, s + pos, n), MOTAN_OK);
        pos += n;
        int rc;
        while ((rc = motan_parser_next(p, got, NULL, 0)) == MOTAN_OK) {
            ck_assert_uint_lt(seen, nframes);
            size_t c;
            ck_assert_int_eq(motan_frame_parse(want, s + offs[seen], total - offs[seen], 0, &c,
                                               NULL, 0),
                             MOTAN_OK);
            ck_assert_uint_eq(c, offs[seen + 1] - offs[seen]);
            same_frame(got, want);
            seen++;
            ck_assert_uint_eq(motan_parser_buffered(p), pos - offs[seen]);
        }
        ck_assert_int_eq(rc, MOTAN_EAGAIN);
    }
    ck_assert_uint_eq(seen, nframes);
    ck_assert_uint_eq(motan_parser_buffered(p), 0);
    motan_frame_free(got);
    motan_frame_free(want);
    motan_parser_free(p);
    free(offs);
    motan_buf_free(stream);
}
END_TEST

START_TEST(views_live_until_next_call)
{
    motan_buf *b = motan_buf_new(0);
    uint64_t rnd = 1;
    add_frame(b, 1, &rnd);
    add_frame(b, 2, &rnd);
    motan_parser *p = motan_parser_new(0);
    motan_frame *f1 = motan_frame_new(), *f2 = motan_frame_new(), *w = motan_frame_new();
    ck_assert_int_eq(motan_parser_feed(p, motan_buf_data(b), motan_buf_len(b)), MOTAN_OK);
    ck_assert_uint_eq(motan_parser_buffered(p), motan_buf_len(b));
    ck_assert_int_eq(motan_parser_next(p, f1, NULL, 0), MOTAN_OK);
    size_t c;
    motan_frame_parse(w, motan_buf_data(b), motan_buf_len(b), 0, &c, NULL, 0);
    ck_assert_uint_eq(motan_parser_buffered(p), motan_buf_len(b) - c);
    same_frame(f1, w);
    ck_assert_int_eq(motan_parser_next(p, f2, NULL, 0), MOTAN_OK);
    motan_frame_parse(w, motan_buf_data(b) + c, motan_buf_len(b) - c, 0, NULL, NULL, 0);
    same_frame(f2, w);
    ck_assert_int_eq(motan_parser_next(p, f2, NULL, 0), MOTAN_EAGAIN);
    ck_assert_int_eq(motan_parser_next(p, f2, NULL, 0), MOTAN_EAGAIN);
    ck_assert_uint_eq(motan_parser_buffered(p), 0);
    /* Feeding nothing is fine. */
    ck_assert_int_eq(motan_parser_feed(p, NULL, 0), MOTAN_OK);
    motan_frame_free(f1);
    motan_frame_free(f2);
    motan_frame_free(w);
    motan_parser_free(p);
    motan_buf_free(b);
}
END_TEST

START_TEST(oversized_body_not_buffered)
{
    motan_parser *p = motan_parser_new(0);
    size_t n;
    /* bad_body_over_limit, then a flood of body bytes in the same chunk. */
    uint8_t *d = tu_vector_bytes("frames.json", "bad_body_over_limit", &n);
    size_t big = 1 << 20;
    uint8_t *chunk = calloc(1, n + big);
    memcpy(chunk, d, n);
    ck_assert_int_eq(motan_parser_feed(p, chunk, n + big), MOTAN_ETOOBIG);
    ck_assert_uint_le(motan_parser_buffered(p), 21);
    /* Sticky, with the reason. */
    ck_assert_int_eq(motan_parser_feed(p, chunk, 10), MOTAN_ETOOBIG);
    motan_frame *f = motan_frame_new();
    char err[128];
    ck_assert_int_eq(motan_parser_next(p, f, err, sizeof(err)), MOTAN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "body size 10485761 over limit 10485760"));
    ck_assert_int_eq(motan_parser_next(p, f, err, sizeof(err)), MOTAN_ETOOBIG);
    motan_parser_free(p);

    /* Metadata size over a custom limit: refused at byte 17. */
    p = motan_parser_new(100);
    memset(chunk, 0, 200);
    memcpy(chunk, "\xf1\xf1\x00\x08\x30\0\0\0\0\0\0\0\1\0\0\0\x65", 17);
    for (size_t i = 0; i < 16; i++)
        ck_assert_int_eq(motan_parser_feed(p, chunk + i, 1), MOTAN_OK);
    ck_assert_int_eq(motan_parser_feed(p, chunk + 16, 184), MOTAN_ETOOBIG);
    ck_assert_uint_eq(motan_parser_buffered(p), 17);
    motan_parser_free(p);
    free(chunk);
    free(d);
    motan_frame_free(f);
}
END_TEST

START_TEST(header_errors_at_once)
{
    static const struct {
        const char *bytes;
        size_t len;
        int rc;
    } cases[] = {
        {"\xf0", 1, MOTAN_EPROTO},
        {"\xf1\x00", 2, MOTAN_EPROTO},
        {"\xf1\xf1\x00\x00", 4, MOTAN_EMOTAN1},
        {"\xf1\xf1\x00\x10", 4, MOTAN_EVERSION},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        motan_parser *p = motan_parser_new(0);
        for (size_t k = 0; k + 1 < cases[i].len; k++)
            ck_assert_int_eq(motan_parser_feed(p, cases[i].bytes + k, 1), MOTAN_OK);
        ck_assert_int_eq(motan_parser_feed(p, cases[i].bytes + cases[i].len - 1, 1), cases[i].rc);
        motan_frame *f = motan_frame_new();
        ck_assert_int_eq(motan_parser_next(p, f, NULL, 0), cases[i].rc);
        motan_frame_free(f);
        motan_parser_free(p);
    }
}
END_TEST

START_TEST(good_frames_before_bad_one)
{
    motan_buf *b = motan_buf_new(0);
    motan_frame_write_heartbeat(b, 1, 1);
    motan_frame_write_heartbeat(b, 2, 1);
    motan_buf_append(b, "\xf1\xf1\x00\x00", 4); /* motan1 */
    motan_parser *p = motan_parser_new(0);
    ck_assert_int_eq(motan_parser_feed(p, motan_buf_data(b), motan_buf_len(b)), MOTAN_EMOTAN1);
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(motan_parser_next(p, f, NULL, 0), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(f), 1);
    ck_assert_int_eq(motan_parser_next(p, f, NULL, 0), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(f), 2);
    ck_assert_int_eq(motan_parser_next(p, f, NULL, 0), MOTAN_EMOTAN1);
    motan_frame_free(f);
    motan_parser_free(p);
    motan_buf_free(b);
}
END_TEST

START_TEST(odd_metadata)
{
    motan_frame *f = motan_frame_new();
    char err[128];
    /* Whole frame (bad_odd_meta): refused when taken out. */
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", "bad_odd_meta", &n);
    motan_parser *p = motan_parser_new(0);
    int rc = motan_parser_feed(p, d, n);
    ck_assert(rc == MOTAN_OK || rc == MOTAN_EPROTO);
    ck_assert_int_eq(motan_parser_next(p, f, err, sizeof(err)), MOTAN_EPROTO);
    ck_assert_str_eq(err, "odd metadata segments");
    ck_assert_int_eq(motan_parser_feed(p, d, 1), MOTAN_EPROTO);
    motan_parser_free(p);
    free(d);
    /* Odd metadata with a body still to come: refused before the body. */
    d = tu_vector_bytes("frames.json", "bad_odd_meta", &n);
    d[n - 2] = 1; /* body size 256, not present yet */
    p = motan_parser_new(0);
    ck_assert_int_eq(motan_parser_feed(p, d, n), MOTAN_EPROTO);
    motan_parser_free(p);
    free(d);
    /* A bad gzip body is found when the frame is taken out; the error sticks. */
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_GZIP, 0, 6, 1, &mark);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, "garbage", 7);
    motan_frame_write_end(b, mark, 0);
    p = motan_parser_new(0);
    ck_assert_int_eq(motan_parser_feed(p, motan_buf_data(b), motan_buf_len(b)), MOTAN_OK);
    ck_assert_int_eq(motan_parser_next(p, f, err, sizeof(err)), MOTAN_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "bad gzip body"));
    ck_assert_int_eq(motan_parser_next(p, f, NULL, 0), MOTAN_EPROTO);
    ck_assert_int_eq(motan_parser_feed(p, "x", 1), MOTAN_EPROTO);
    motan_parser_free(p);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(large_frame_small_chunks)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark, blen = 3 << 20;
    motan_frame_write_begin(b, 1, 0, 6, 99, &mark);
    motan_frame_write_meta(b, mark, "M_pt", 4, "1", 1);
    motan_frame_write_body_begin(b, mark);
    uint8_t *body = malloc(blen);
    for (size_t i = 0; i < blen; i++)
        body[i] = (uint8_t)(i * 31);
    motan_buf_append(b, body, blen);
    motan_frame_write_end(b, mark, 0);
    motan_frame_write_heartbeat(b, 100, 1);
    motan_parser *p = motan_parser_new(0);
    motan_frame *f = motan_frame_new();
    const uint8_t *d = motan_buf_data(b);
    size_t len = motan_buf_len(b), pos = 0, got = 0;
    while (pos < len) {
        size_t n = len - pos < 4096 ? len - pos : 4096;
        ck_assert_int_eq(motan_parser_feed(p, d + pos, n), MOTAN_OK);
        pos += n;
        while (motan_parser_next(p, f, NULL, 0) == MOTAN_OK) {
            size_t l;
            const uint8_t *pb = motan_frame_body(f, &l);
            if (got == 0) {
                ck_assert_uint_eq(l, blen);
                ck_assert(memcmp(pb, body, blen) == 0);
            } else {
                ck_assert_uint_eq(motan_frame_get_request_id(f), 100);
            }
            got++;
        }
    }
    ck_assert_uint_eq(got, 2);
    motan_frame_free(f);
    motan_parser_free(p);
    free(body);
    motan_buf_free(b);
}
END_TEST

START_TEST(no_alloc_when_warm)
{
    motan_buf *b = motan_buf_new(0);
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", "resp_ok", &n);
    for (int i = 0; i < 8; i++)
        motan_buf_append(b, d, n);
    motan_parser *p = motan_parser_new(0);
    motan_frame *f = motan_frame_new();
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            tu_count_allocs_start();
        for (int k = 0; k < 100; k++) {
            ck_assert_int_eq(motan_parser_feed(p, motan_buf_data(b), motan_buf_len(b)), MOTAN_OK);
            int c = 0;
            while (motan_parser_next(p, f, NULL, 0) == MOTAN_OK)
                c++;
            ck_assert_int_eq(c, 8);
        }
    }
    ck_assert_uint_eq(tu_allocs(), 0);
    tu_count_allocs_stop();
    motan_frame_free(f);
    motan_parser_free(p);
    motan_buf_free(b);
    free(d);
}
END_TEST

START_TEST(bad_args)
{
    motan_parser *p = motan_parser_new(0);
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(motan_parser_feed(NULL, "x", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_parser_feed(p, NULL, 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_parser_next(NULL, f, NULL, 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_parser_next(p, NULL, NULL, 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_parser_next(p, f, NULL, 0), MOTAN_EAGAIN);
    motan_parser_free(NULL);
    motan_parser_free(p);
    motan_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parser");
    TCase *t = tcase_create("parser");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, random_chunks, 0, 8);
    tcase_add_test(t, views_live_until_next_call);
    tcase_add_test(t, oversized_body_not_buffered);
    tcase_add_test(t, header_errors_at_once);
    tcase_add_test(t, good_frames_before_bad_one);
    tcase_add_test(t, odd_metadata);
    tcase_add_test(t, large_frame_small_chunks);
    tcase_add_test(t, no_alloc_when_warm);
    tcase_add_test(t, bad_args);
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
