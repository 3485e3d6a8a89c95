/*
 * motan_request_encode_filled: what a sender fills into a frame where the request leaves a
 * field unset, a rule's group sent instead of the request's, arguments serialized straight
 * into the frame, and the request never written to; motan_request_encode_refs lists big
 * bytes instead of copying them, and put back in their places they make the same frame; the
 * sender's metadata cache never changes a frame.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "codec/codec_int.h" /* motan__meta_cache */

static motan_frame *g_f;

/* Encodes r with fill and parses the frame back into g_f. */
static void encode(const motan_request *r, const motan_request_fill *fill, motan_buf *out)
{
    char err[256] = "";
    motan_buf_reset(out);
    int rc = motan_request_encode_filled(r, fill, 7, 100, 0, out, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s: %s", motan_errname(rc), err);
    ck_assert_int_eq(motan_frame_parse(g_f, motan_buf_data(out), motan_buf_len(out), 0, NULL, NULL, 0),
                     MOTAN_OK);
}

static const char *meta(const char *k)
{
    static char v[256];
    size_t n;
    const char *p = motan_frame_meta_get(g_f, k, strlen(k), &n);
    if (!p)
        return NULL;
    snprintf(v, sizeof(v), "%.*s", (int)n, p);
    return v;
}

START_TEST(fill_supplies_what_is_unset)
{
    g_f = motan_frame_new();
    motan_buf *out = motan_buf_new(0);
    motan_request *r = motan_request_new("echo");
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 5));
    motan_request_fill fill = {.service = "svc.A", .group = "g1", .version = "2.0",
                               .application = "app", .serialization = MOTAN_SER_MSGPACK};
    encode(r, &fill, out);
    ck_assert_str_eq(meta("M_p"), "svc.A");
    ck_assert_str_eq(meta("M_g"), "g1");
    ck_assert_str_eq(meta("M_v"), "2.0");
    ck_assert_str_eq(meta("M_s"), "app");
    ck_assert_int_eq(motan_frame_get_serialization(g_f), MOTAN_SER_MSGPACK);
    /* The arguments went out as msgpack, and the request was not written to. */
    size_t blen;
    const uint8_t *body = motan_frame_body(g_f, &blen);
    motan_arena *a = motan_arena_new();
    motan_value *args;
    ck_assert_int_eq(motan_deserialize_args(MOTAN_SER_MSGPACK, body, blen, a, &args, NULL, 0), MOTAN_OK);
    ck_assert_int_eq(motan_value_get_int(motan_value_at(args, 0)), 5);
    ck_assert_ptr_null(motan_request_get_service(r));
    ck_assert_ptr_null(motan_request_get_group(r));
    ck_assert_int_eq(motan_request_get_serialization(r), -1);
    motan_request_body(r, &blen);
    ck_assert_uint_eq(blen, 0);
    /* The request's own fields win over the fill; a rule's group wins over both. */
    motan_request_set_service(r, "svc.Own");
    motan_request_set_group(r, "own");
    encode(r, &fill, out);
    ck_assert_str_eq(meta("M_p"), "svc.Own");
    ck_assert_str_eq(meta("M_g"), "own");
    fill.group_override = "gB";
    encode(r, &fill, out);
    ck_assert_str_eq(meta("M_g"), "gB");
    ck_assert_str_eq(motan_request_get_group(r), "own");
    /* A zeroed fill names no serialization (0 would be hessian2): Simple goes out. */
    motan_request_fill zero = {0};
    zero.service = "svc.Z";
    motan_request *plain = motan_request_new("echo");
    motan_request_add_arg(plain, motan_value_new_int32(motan_request_arena(plain), 1));
    encode(plain, &zero, out);
    ck_assert_int_eq(motan_frame_get_serialization(g_f), MOTAN_SER_SIMPLE);
    motan_request_free(plain);
    /* No service anywhere: refused. */
    motan_request *bare = motan_request_new("echo");
    ck_assert_int_eq(motan_request_encode_filled(bare, NULL, 1, 0, 0, out, NULL, 0), MOTAN_EINVAL);
    motan_request_free(bare);
    motan_arena_free(a);
    motan_request_free(r);
    motan_buf_free(out);
    motan_frame_free(g_f);
}
END_TEST

START_TEST(prepared_body_is_used_in_its_serialization_only)
{
    g_f = motan_frame_new();
    motan_buf *out = motan_buf_new(0);
    motan_request *r = motan_request_new("echo");
    motan_request_set_service(r, "svc");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "x", 1));
    ck_assert_int_eq(motan_request_prepare(r, NULL, 0), MOTAN_OK); /* Simple */
    size_t plen;
    motan_request_body(r, &plen);
    encode(r, NULL, out);
    size_t blen;
    motan_frame_body(g_f, &blen);
    ck_assert_uint_eq(blen, plen);
    ck_assert_int_eq(motan_frame_get_serialization(g_f), MOTAN_SER_SIMPLE);
    /* Another serialization from the fill: encoded afresh, the prepared body kept. */
    motan_request_fill fill = {.serialization = MOTAN_SER_JSON};
    encode(r, &fill, out);
    const uint8_t *body = motan_frame_body(g_f, &blen);
    ck_assert_int_eq(motan_frame_get_serialization(g_f), MOTAN_SER_JSON);
    ck_assert_int_eq((int)blen, 5);
    ck_assert_int_eq(memcmp(body, "[\"x\"]", 5), 0);
    size_t again;
    motan_request_body(r, &again);
    ck_assert_uint_eq(again, plen);
    /* Arguments that cannot be encoded: the error, nothing appended. */
    motan_request *bad = motan_request_new("echo");
    motan_request_set_service(bad, "svc");
    motan_request_add_arg(bad, motan_value_new_string(motan_request_arena(bad), "\xff", 1));
    motan_buf_reset(out);
    char err[256] = "";
    ck_assert_int_ne(motan_request_encode_filled(bad, &fill, 1, 0, 0, out, err, sizeof(err)), MOTAN_OK);
    ck_assert(err[0]);
    ck_assert_uint_eq(motan_buf_len(out), 0);
    motan_request_free(bad);
    motan_request_free(r);
    motan_buf_free(out);
    motan_frame_free(g_f);
}
END_TEST

/* The frame out + refs would put on the wire. */
static motan_buf *assemble(const motan_buf *out, const motan_encode_ref *refs, size_t n)
{
    motan_buf *w = motan_buf_new(0);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_ge(refs[i].offset, pos);
        motan_buf_append(w, motan_buf_data(out) + pos, refs[i].offset - pos);
        motan_buf_append(w, refs[i].data, refs[i].len);
        pos = refs[i].offset;
    }
    motan_buf_append(w, motan_buf_data(out) + pos, motan_buf_len(out) - pos);
    return w;
}

/* encode_refs of r, reassembled, equals encode_filled of r; returns how many refs it made. */
static size_t same_frame(const motan_request *r, size_t mingz, size_t max)
{
    char err[256] = "";
    motan_request_fill fill = {.service = "svc"};
    motan_buf *plain = motan_buf_new(0), *out = motan_buf_new(0);
    ck_assert_int_eq(motan_request_encode_filled(r, &fill, 9, 100, mingz, plain, err, sizeof(err)), MOTAN_OK);
    motan_encode_ref refs[8];
    size_t n = 99;
    motan_request_hold *h = NULL;
    ck_assert_int_eq(motan_request_encode_refs(r, &fill, 9, 100, mingz, out, refs, max, &n, &h, err,
                                               sizeof(err)), MOTAN_OK);
    ck_assert(n == 0 ? h == NULL : h != NULL);
    motan_buf *w = assemble(out, refs, n);
    ck_assert_uint_eq(motan_buf_len(w), motan_buf_len(plain));
    ck_assert(!memcmp(motan_buf_data(w), motan_buf_data(plain), motan_buf_len(w)));
    size_t copied = motan_buf_len(out);
    for (size_t i = 0; i < n; i++) {
        copied += refs[i].len;
        motan_request_hold_release(h);
    }
    ck_assert_uint_eq(copied, motan_buf_len(plain)); /* nothing twice */
    motan_buf_free(w);
    motan_buf_free(out);
    motan_buf_free(plain);
    return n;
}

START_TEST(big_bytes_go_by_reference)
{
    enum { BIG = MOTAN_ENCODE_REF_MIN * 3 };
    char *blob = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        blob[i] = (char)(i * 7);
    motan_request *r = motan_request_new("m");
    motan_arena *a = motan_request_arena(r);
    /* small, big bytes, small, big string, one byte under the threshold */
    motan_request_add_arg(r, motan_value_new_int32(a, 5));
    motan_request_add_arg(r, motan_value_new_bytes(a, blob, BIG));
    motan_request_add_arg(r, motan_value_new_string(a, "x", 1));
    motan_request_add_arg(r, motan_value_new_string(a, blob, BIG - 1));
    motan_request_add_arg(r, motan_value_new_bytes(a, blob, MOTAN_ENCODE_REF_MIN - 1));
    ck_assert_uint_eq(same_frame(r, 0, 8), 2);
    ck_assert_uint_eq(same_frame(r, 0, 1), 1); /* no room for more: the rest copied */
    ck_assert_uint_eq(same_frame(r, 0, 0), 0);
    ck_assert_uint_eq(same_frame(r, 100, 8), 0); /* may be gzipped: copied */
    /* prepared: the body goes by reference, unless it is gzipped */
    char err[128];
    ck_assert_int_eq(motan_request_prepare(r, err, sizeof(err)), MOTAN_OK);
    ck_assert_uint_eq(same_frame(r, 0, 8), 1);
    ck_assert_uint_eq(same_frame(r, 100, 8), 0);
    size_t blen;
    motan_request_body(r, &blen);
    ck_assert_uint_eq(same_frame(r, blen, 8), 1); /* not longer than mingz: not gzipped */
    /* small requests make no hold at all (a request per call must cost no allocation) */
    motan_request *s = motan_request_new("m");
    motan_request_add_arg(s, motan_value_new_string(motan_request_arena(s), "hi", 2));
    ck_assert_uint_eq(same_frame(s, 0, 8), 0);
    motan_request_free(s);
    motan_request_free(r);
    free(blob);
}
END_TEST

/* Referenced bytes outlive the request until their holds are released. */
START_TEST(holds_keep_the_bytes_after_free)
{
    enum { BIG = MOTAN_ENCODE_REF_MIN * 2 };
    char *blob = malloc(BIG);
    memset(blob, 'q', BIG);
    motan_request *r = motan_request_new("m");
    motan_request_add_arg(r, motan_value_new_bytes(motan_request_arena(r), blob, BIG));
    motan_request_fill fill = {.service = "svc"};
    motan_buf *out = motan_buf_new(0);
    motan_encode_ref refs[2];
    size_t n = 0;
    motan_request_hold *h = NULL;
    char err[128];
    ck_assert_int_eq(motan_request_encode_refs(r, &fill, 1, 0, 0, out, refs, 2, &n, &h, err, sizeof(err)),
                     MOTAN_OK);
    ck_assert_uint_eq(n, 1);
    motan_request_free(r); /* memcheck/ASan: the bytes below must still be live */
    for (size_t i = 0; i < refs[0].len; i++)
        ck_assert_int_eq(refs[0].data[i], 'q');
    motan_request_hold_release(h); /* the last: frees them */
    motan_buf_free(out);
    free(blob);
}
END_TEST

/* Encodes r (call k of a run) with and without the cache: the same bytes, or the test fails. */
static void same_with_cache(const motan_request *r, const motan_request_fill *fill, int timeout_ms,
                            motan__meta_cache *mc, motan_buf *plain, motan_buf *cached, int k)
{
    char err[256] = "";
    size_t n;
    motan_request_hold *h;
    motan_buf_reset(plain);
    motan_buf_reset(cached);
    ck_assert_int_eq(motan__request_encode_cached(r, fill, (uint64_t)k, timeout_ms, 0, plain, NULL,
                                                  0, &n, &h, NULL, err, sizeof(err)),
                     MOTAN_OK);
    ck_assert_int_eq(motan__request_encode_cached(r, fill, (uint64_t)k, timeout_ms, 0, cached, NULL,
                                                  0, &n, &h, mc, err, sizeof(err)),
                     MOTAN_OK);
    ck_assert_msg(motan_buf_len(plain) == motan_buf_len(cached) &&
                      !memcmp(motan_buf_data(plain), motan_buf_data(cached), motan_buf_len(plain)),
                  "call %d: %zu bytes without the cache, %zu with it", k, motan_buf_len(plain),
                  motan_buf_len(cached));
}

START_TEST(meta_cache_never_changes_a_frame)
{
    motan__meta_cache mc;
    memset(&mc, 0, sizeof(mc));
    motan_buf *plain = motan_buf_new(0), *cached = motan_buf_new(0);
    motan_request_fill fill = {.service = "com.example.Svc", .group = "g1", .version = "1.0"};
    enum { N = MOTAN__MC_SLOTS + 1 };
    motan_request *r[N];
    for (int i = 0; i < N; i++) {
        r[i] = motan_request_new(i % 2 ? "echo" : "add");
        motan_request_add_arg(r[i], motan_value_new_int32(motan_request_arena(r[i]), i));
    }
    int k = 0;
    /* Sent again and again, first the slots' worth (hits from the third time), then one more. */
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < MOTAN__MC_SLOTS; i++)
            same_with_cache(r[i], &fill, 100, &mc, plain, cached, k++);
    ck_assert_ptr_nonnull(mc.bytes); /* it did store */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) /* more requests than slots: they evict one another */
            same_with_cache(r[i], &fill, 100, &mc, plain, cached, k++);
    for (int round = 0; round < 3; round++) {
        /* Every change of the request's metadata, and another timeout, after a hit. */
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++);
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++); /* a hit */
        same_with_cache(r[0], &fill, 200 + round, &mc, plain, cached, k++);
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++);
        motan_request_set_meta(r[0], "X-Round", round % 2 ? "odd" : "even");
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++);
        motan_request_set_group(r[0], round % 2 ? "g2" : "g3");
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++);
        motan_request_set_method(r[0], round % 2 ? "m1" : "m2");
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++);
        same_with_cache(r[0], &fill, 200 + round, &mc, plain, cached, k++);
        same_with_cache(r[0], &fill, 100, &mc, plain, cached, k++);
    }
    /* A group override and extra metadata are never served from the cache. */
    static const char *const extra[] = {"X-Trace", "abc"};
    motan_request_fill over = fill, with_meta = fill;
    over.group_override = "rule-group";
    with_meta.meta = extra;
    with_meta.nmeta = 1;
    for (int i = 0; i < 3; i++) {
        same_with_cache(r[1], &fill, 100, &mc, plain, cached, k++);
        same_with_cache(r[1], &over, 100, &mc, plain, cached, k++);
        same_with_cache(r[1], &with_meta, 100, &mc, plain, cached, k++);
    }
    /* A request freed and another made, maybe where it was: never the old one's block. */
    for (int i = 0; i < 20; i++) {
        same_with_cache(r[2], &fill, 100, &mc, plain, cached, k++);
        same_with_cache(r[2], &fill, 100, &mc, plain, cached, k++);
        motan_request_free(r[2]);
        r[2] = motan_request_new(i % 2 ? "after" : "before");
    }
    /* Cleared (the sender's fill changed): the new fill is sent. */
    same_with_cache(r[3], &fill, 100, &mc, plain, cached, k++);
    same_with_cache(r[3], &fill, 100, &mc, plain, cached, k++);
    motan__meta_cache_clear(&mc);
    fill.version = "2.0";
    same_with_cache(r[3], &fill, 100, &mc, plain, cached, k++);
    same_with_cache(r[3], &fill, 100, &mc, plain, cached, k++);
    for (int i = 0; i < N; i++)
        motan_request_free(r[i]);
    motan__meta_cache_free(&mc);
    motan_buf_free(plain);
    motan_buf_free(cached);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("request_fill");
    TCase *t = tcase_create("request_fill");
    tcase_add_test(t, fill_supplies_what_is_unset);
    tcase_add_test(t, prepared_body_is_used_in_its_serialization_only);
    tcase_add_test(t, big_bytes_go_by_reference);
    tcase_add_test(t, holds_keep_the_bytes_after_free);
    tcase_add_test(t, meta_cache_never_changes_a_frame);
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
