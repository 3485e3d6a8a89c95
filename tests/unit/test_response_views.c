/*
 * Read-side views at the codec level: a response filled from a frame whose memory is lent
 * (motan__response_set_frame_held) points its big bytes values into that memory, copies
 * everything else, and lets go of the memory exactly once: at once when nothing points into
 * it (small values, strings, a gzip body, a decode error), else when it is reset, filled
 * again or freed; under allocation failures too. A big raw (pass-through) body is a view.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"
#include "codec/codec_int.h"

static int g_released;

static void release(void *ctx)
{
    ck_assert_ptr_eq(ctx, &g_released);
    g_released++;
}

/* A response frame with body[0..len) (gzip: the level, 0 for none). */
static motan_buf *frame_of(uint8_t ser, const void *body, size_t len, int gzip)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 0, ser, 9, &mark);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, body, len);
    motan_frame_write_end(b, mark, gzip);
    return b;
}

/* A Simple response frame: an array of a big bytes, a small bytes and a string (gzip: level). */
static motan_buf *frame_with(size_t big, int gzip)
{
    motan_arena *a = motan_arena_new();
    motan_value *arr = motan_value_new_container(a, MOTAN_T_ARRAY);
    char *blob = malloc(big);
    memset(blob, 'B', big);
    motan_value_append(arr, motan_value_new_bytes(a, blob, big));
    motan_value_append(arr, motan_value_new_bytes(a, "tiny", 4));
    motan_value_append(arr, motan_value_new_string(a, blob, big));
    free(blob);
    motan_buf *body = motan_buf_new(0);
    ck_assert_int_eq(motan_simple_write_value(body, arr), MOTAN_OK);
    motan_arena_free(a);
    motan_buf *b = frame_of(MOTAN_SER_SIMPLE, motan_buf_data(body), motan_buf_len(body), gzip);
    motan_buf_free(body);
    return b;
}

/* The whole of b lent, released into g_released. */
static motan__frame_hold hold_of(const motan_buf *b)
{
    return (motan__frame_hold){release, &g_released, motan_buf_data(b),
                               motan_buf_data(b) + motan_buf_len(b)};
}

static int fill_held(motan_response *r, motan_frame *f, motan_buf *b, int raw)
{
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    motan__frame_hold h = hold_of(b);
    return motan__response_set_frame_held(r, f, raw, &h);
}

static int inside(const motan_buf *b, const char *p)
{
    const char *lo = (const char *)motan_buf_data(b);
    return p >= lo && p < lo + motan_buf_len(b);
}

START_TEST(big_bytes_are_views_the_rest_copies)
{
    g_released = 0;
    motan_buf *b = frame_with(10000, 0);
    motan_frame *f = motan_frame_new();
    motan_response *r = motan_response_new();
    ck_assert_int_eq(fill_held(r, f, b, 0), MOTAN_OK);
    ck_assert_int_eq(g_released, 0); /* a value points into the frame: held */
    const motan_value *v = motan_response_get_value(r);
    size_t len;
    const char *big = motan_value_get_data(motan_value_at(v, 0), &len);
    ck_assert_uint_eq(len, 10000);
    ck_assert(inside(b, big));
    const char *tiny = motan_value_get_data(motan_value_at(v, 1), &len);
    ck_assert(!inside(b, tiny));
    ck_assert_int_eq(tiny[4], '\0');
    const char *str = motan_value_get_data(motan_value_at(v, 2), &len);
    ck_assert(!inside(b, str)); /* strings stay C strings */
    ck_assert_uint_eq(len, 10000);
    ck_assert_int_eq(str[len], '\0');
    /* A copy of the view is NUL-ended and independent of the frame. */
    motan_arena *a = motan_arena_new();
    motan_value *c = motan_value_copy(a, motan_value_at(v, 0));
    const char *cd = motan_value_get_data(c, &len);
    ck_assert(!inside(b, cd) && cd[len] == '\0' && len == 10000);
    motan_arena_free(a);

    motan_response_reset(r);
    ck_assert_int_eq(g_released, 1);
    motan_response_free(r);
    ck_assert_int_eq(g_released, 1);

    /* Filled again, and freed: one release each. */
    r = motan_response_new();
    ck_assert_int_eq(fill_held(r, f, b, 0), MOTAN_OK);
    ck_assert_int_eq(fill_held(r, f, b, 0), MOTAN_OK);
    ck_assert_int_eq(g_released, 2); /* the second fill let go of the first hold */
    motan_response_set_error(r, MOTAN_ETIMEOUT, "later");
    ck_assert_int_eq(g_released, 2); /* an error does not reset the arena: still held */
    motan_response_free(r);
    ck_assert_int_eq(g_released, 3);
    motan_frame_free(f);
    motan_buf_free(b);
}
END_TEST

START_TEST(nothing_to_view_releases_at_once)
{
    g_released = 0;
    motan_frame *f = motan_frame_new();
    motan_response *r = motan_response_new();
    motan_buf *small = frame_with(100, 0);
    ck_assert_int_eq(fill_held(r, f, small, 0), MOTAN_OK);
    ck_assert_int_eq(g_released, 1);
    motan_buf *gz = frame_with(10000, 6);
    ck_assert(motan_buf_data(gz)[2] & MOTAN_FLAG_GZIP);
    ck_assert_int_eq(fill_held(r, f, gz, 0), MOTAN_OK);
    ck_assert_int_eq(g_released, 2); /* inflated elsewhere: copied */
    size_t len;
    motan_value_get_data(motan_value_at(motan_response_get_value(r), 0), &len);
    ck_assert_uint_eq(len, 10000);
    /* A body that does not decode: the error, and the hold let go. */
    uint8_t body[] = {MOTAN_T_BYTES, 0, 0, 0x20, 0}; /* 8 KiB announced, none there */
    motan_buf *bad = frame_of(MOTAN_SER_SIMPLE, body, sizeof(body), 0);
    ck_assert_int_eq(fill_held(r, f, bad, 0), MOTAN_EDECODE);
    ck_assert_int_eq(g_released, 3);
    motan_response_free(r);
    ck_assert_int_eq(g_released, 3);
    motan_buf_free(small);
    motan_buf_free(gz);
    motan_buf_free(bad);
    motan_frame_free(f);
}
END_TEST

/* Pass-through: a big raw body is a view too (any serialization), a small one a copy. */
START_TEST(raw_bodies)
{
    g_released = 0;
    motan_frame *f = motan_frame_new();
    motan_response *r = motan_response_new();
    static uint8_t opaque[10000]; /* msgpack bytes: never decoded here */
    memset(opaque, 0xc1, sizeof(opaque));
    motan_buf *b = frame_of(MOTAN_SER_MSGPACK, opaque, sizeof(opaque), 0);
    ck_assert_int_eq(fill_held(r, f, b, 1), MOTAN_OK);
    size_t len, flen;
    const uint8_t *body = motan_response_get_body(r, &len);
    ck_assert_ptr_eq(body, motan_frame_body(f, &flen));
    ck_assert_uint_eq(len, flen);
    ck_assert_int_eq(motan_response_get_serialization(r), MOTAN_SER_MSGPACK);
    ck_assert_int_eq(g_released, 0);
    motan_buf *small = frame_with(100, 0);
    ck_assert_int_eq(fill_held(r, f, small, 1), MOTAN_OK);
    ck_assert_int_eq(g_released, 2); /* the first hold when filled again, the second at once */
    body = motan_response_get_body(r, &len);
    ck_assert(!inside(small, (const char *)body) && body[len] == 0);
    motan_response_free(r);
    ck_assert_int_eq(g_released, 2);
    motan_buf_free(b);
    motan_buf_free(small);
    motan_frame_free(f);
}
END_TEST

/* Every allocation failing in turn: an error or a result, and the hold let go exactly once. */
START_TEST(allocation_failures)
{
    motan_buf *b = frame_with(9000, 0);
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    int fired = 0;
    for (unsigned long k = 1; k < 40; k++) {
        g_released = 0;
        tu_fail_alloc_start(k);
        motan_response *r = motan_response_new_or_oom();
        motan__frame_hold h = hold_of(b);
        int rc = motan__response_set_frame_held(r, f, 0, &h);
        ck_assert_msg(rc == MOTAN_OK || rc == MOTAN_ENOMEM, "k=%lu: %s", k, motan_errname(rc));
        ck_assert_int_eq(rc, motan_response_get_code(r));
        if (rc == MOTAN_OK) {
            size_t len;
            const char *d =
                motan_value_get_data(motan_value_at(motan_response_get_value(r), 0), &len);
            ck_assert(len == 9000 && d[0] == 'B' && d[8999] == 'B');
        }
        motan_response_free(r);
        ck_assert_int_eq(g_released, 1);
        fired += tu_fail_alloc_fired() != 0;
        ck_assert_int_eq(tu_fail_alloc_live(), 0);
        tu_fail_alloc_stop();
    }
    ck_assert_int_gt(fired, 2);
    motan_frame_free(f);
    motan_buf_free(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("response_views");
    TCase *t = tcase_create("views");
    tcase_add_test(t, big_bytes_are_views_the_rest_copies);
    tcase_add_test(t, nothing_to_view_releases_at_once);
    tcase_add_test(t, raw_bodies);
    tcase_add_test(t, allocation_failures);
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
