/*
 * The decoded-size budget (codec.h): an arena limit bounds what every decoder builds, each
 * serialization fails with MOTAN_ETOOBIG naming maxDecodedSize, and a small gzip body that
 * inflates to millions of nulls no longer turns into hundreds of MiB of value nodes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

/* A Simple ARRAY of n nulls (the body of the review's amplification case). */
static motan_buf *simple_nulls(size_t n)
{
    motan_buf *b = motan_buf_new(n + 16);
    size_t mark;
    int rc = motan_simple_begin(b, MOTAN_T_ARRAY, &mark);
    /* No ck_assert per element: each one is a write to Check's pipe. */
    for (size_t i = 0; i < n && rc == MOTAN_OK; i++)
        rc = motan_simple_write_null(b);
    if (rc == MOTAN_OK)
        rc = motan_simple_end(b, mark);
    ck_assert_int_eq(rc, MOTAN_OK);
    return b;
}

/* msgpack array32 of n nils. */
static motan_buf *msgpack_nils(size_t n)
{
    motan_buf *b = motan_buf_new(n + 5);
    uint8_t h[5] = {0xdd, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    motan_buf_append(b, h, 5);
    for (size_t i = 0; i < n; i++)
        motan_buf_append(b, "\xc0", 1);
    return b;
}

/* JSON [null,null,...] of n nulls; closed = 0 leaves off the final ']' (invalid JSON). */
static motan_buf *json_nulls(size_t n, int closed)
{
    motan_buf *b = motan_buf_new(5 * n + 2);
    motan_buf_append(b, "[", 1);
    for (size_t i = 0; i < n; i++)
        motan_buf_append(b, i ? ",null" : "null", i ? 5 : 4);
    if (closed)
        motan_buf_append(b, "]", 1);
    return b;
}

static void assert_budget_error(int rc, const char *err)
{
    ck_assert_msg(rc == MOTAN_ETOOBIG, "rc %s (%s), want MOTAN_ETOOBIG", motan_errname(rc), err);
    ck_assert_msg(strstr(err, "maxDecodedSize"), "message does not name the parameter: %s", err);
}

START_TEST(arena_limit)
{
    motan_arena *a = motan_arena_new();
    ck_assert_uint_eq(motan_arena_get_limit(a), 0);
    motan_arena_set_limit(a, 64);
    ck_assert_ptr_nonnull(motan_arena_alloc(a, 40));
    ck_assert(!motan_arena_over_limit(a));
    ck_assert_ptr_null(motan_arena_alloc(a, 40)); /* 80 > 64 */
    ck_assert(motan_arena_over_limit(a));
    ck_assert_ptr_nonnull(motan_arena_alloc(a, 24)); /* 64: exactly the limit */
    ck_assert_ptr_null(motan_arena_alloc(a, 1));
    /* A reset keeps the limit and forgets the refusal. */
    motan_arena_reset(a);
    ck_assert(!motan_arena_over_limit(a));
    ck_assert_uint_eq(motan_arena_get_limit(a), 64);
    ck_assert_ptr_nonnull(motan_arena_alloc(a, 64));
    /* A limit below what is in use: nothing more fits. */
    motan_arena_set_limit(a, 8);
    ck_assert_ptr_null(motan_arena_alloc(a, 1));
    motan_arena_set_limit(a, 0);
    ck_assert_ptr_nonnull(motan_arena_alloc(a, 100000));
    motan_arena_free(a);
}
END_TEST

/* Item 7: rounding a huge size up to 8 wrapped to a few bytes, handed out as if it fitted. */
START_TEST(arena_huge_size_fails)
{
    motan_arena *a = motan_arena_new();
    ck_assert_ptr_null(motan_arena_alloc(a, SIZE_MAX));
    ck_assert_ptr_null(motan_arena_alloc(a, SIZE_MAX - 3));
    ck_assert_ptr_null(motan_arena_alloc(a, SIZE_MAX - 7));
    ck_assert_uint_eq(motan_arena_used(a), 0);
    motan_arena_free(a);
}
END_TEST

/* Every serialization, value and arguments: a budget smaller than the values -> ETOOBIG. */
START_TEST(every_serialization_honours_the_budget)
{
    const size_t n = 20000; /* about 1 MB of value nodes */
    struct {
        int ser;
        motan_buf *body;
    } cases[] = {
        {MOTAN_SER_SIMPLE, simple_nulls(n)},
        {MOTAN_SER_MSGPACK, msgpack_nils(n)},
        {MOTAN_SER_JSON, json_nulls(n, 1)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *d = motan_buf_data(cases[i].body);
        size_t len = motan_buf_len(cases[i].body);
        for (int args = 0; args < 2; args++) {
            motan_arena *a = motan_arena_new();
            motan_value *v = NULL;
            char err[256] = "";
            /* Unlimited, it decodes (and shows what it costs). */
            int rc = args ? motan_deserialize_args(cases[i].ser, d, len, a, &v, err, sizeof(err))
                          : motan_deserialize_value(cases[i].ser, d, len, a, &v, err, sizeof(err));
            ck_assert_msg(rc == MOTAN_OK, "%s: %s", motan_serialization_name(cases[i].ser), err);
            size_t cost = motan_arena_used(a);
            ck_assert_uint_gt(cost, n * 8);
            motan_arena_reset(a);
            motan_arena_set_limit(a, cost / 2);
            rc = args ? motan_deserialize_args(cases[i].ser, d, len, a, &v, err, sizeof(err))
                      : motan_deserialize_value(cases[i].ser, d, len, a, &v, err, sizeof(err));
            assert_budget_error(rc, err);
            ck_assert_uint_le(motan_arena_used(a), cost / 2);
            /* Exactly enough is enough. */
            motan_arena_reset(a);
            motan_arena_set_limit(a, cost);
            rc = args ? motan_deserialize_args(cases[i].ser, d, len, a, &v, err, sizeof(err))
                      : motan_deserialize_value(cases[i].ser, d, len, a, &v, err, sizeof(err));
            ck_assert_msg(rc == MOTAN_OK, "%s with its own cost as budget: %s",
                          motan_serialization_name(cases[i].ser), err);
            motan_arena_free(a);
        }
        motan_buf_free(cases[i].body);
    }
}
END_TEST

START_TEST(simple_tree_decoders_honour_the_budget)
{
    motan_buf *b = simple_nulls(5000);
    motan_arena *a = motan_arena_new();
    motan_arena_set_limit(a, 4096);
    motan_value *v;
    char err[256] = "";
    assert_budget_error(motan_simple_decode(motan_buf_data(b), motan_buf_len(b), a, &v, err,
                                            sizeof(err)),
                        err);
    size_t used;
    err[0] = '\0';
    assert_budget_error(motan_simple_decode_prefix(motan_buf_data(b), motan_buf_len(b), a, &v,
                                                   &used, err, sizeof(err)),
                        err);
    err[0] = '\0';
    assert_budget_error(motan_simple_decode_seq(motan_buf_data(b), motan_buf_len(b), a, &v, err,
                                                sizeof(err)),
                        err);
    motan_arena_free(a);
    motan_buf_free(b);
}
END_TEST

/* JSON is estimated before jansson builds its own (unbounded) tree: an unfinished text that
 * jansson would reject is refused for its size first. */
START_TEST(json_is_refused_before_parsing)
{
    motan_buf *b = json_nulls(100000, 0);
    motan_arena *a = motan_arena_new();
    motan_arena_set_limit(a, 64 * 1024);
    motan_value *v;
    char err[256] = "";
    assert_budget_error(motan_deserialize_value(MOTAN_SER_JSON, motan_buf_data(b), motan_buf_len(b),
                                                a, &v, err, sizeof(err)),
                        err);
    ck_assert_uint_eq(motan_arena_used(a), 0);
    /* Without a limit it is what it is: malformed. */
    motan_arena_set_limit(a, 0);
    ck_assert_int_eq(motan_deserialize_value(MOTAN_SER_JSON, motan_buf_data(b), motan_buf_len(b), a,
                                             &v, err, sizeof(err)),
                     MOTAN_EDECODE);
    motan_arena_free(a);
    motan_buf_free(b);
}
END_TEST

START_TEST(typed_json_honours_the_budget)
{
    motan_buf *b = json_nulls(20000, 1);
    motan_arena *a = motan_arena_new();
    motan_arena_set_limit(a, 16 * 1024);
    motan_value *v;
    char err[256] = "";
    assert_budget_error(motan_tjson_parse((const char *)motan_buf_data(b), motan_buf_len(b), a, &v,
                                          err, sizeof(err)),
                        err);
    /* Tagged values cost one node for three tokens: a small one fits a small budget. */
    motan_arena_reset(a);
    motan_arena_set_limit(a, 1024);
    const char *t = "[{\"$int32\":1},{\"$int32\":2},{\"$int16\":3}]";
    ck_assert_int_eq(motan_tjson_parse(t, strlen(t), a, &v, err, sizeof(err)), MOTAN_OK);
    motan_arena_free(a);
    motan_buf_free(b);
}
END_TEST

/* A response frame with a gzipped body (mingz 1). */
static motan_buf *gzip_response(const motan_buf *body)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    ck_assert_int_eq(motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 0, MOTAN_SER_SIMPLE, 9, &mark),
                     MOTAN_OK);
    motan_frame_write_meta(b, mark, "M_pt", 4, "1", 1);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, motan_buf_data(body), motan_buf_len(body));
    ck_assert_int_eq(motan_frame_write_end(b, mark, 1), MOTAN_OK);
    return b;
}

/*
 * The review's case: ~10 KB of gzip inflating to 10 MiB of Simple nulls (under
 * maxContentLength). Each null used to become a 48-byte node: about 500 MiB. With the
 * default budget (4 x maxContentLength) the response is MOTAN_ETOOBIG and its arena stays
 * within the budget.
 */
START_TEST(gzip_nulls_response_is_bounded)
{
    motan_buf *body = simple_nulls(MOTAN_DEFAULT_MAX_CONTENT - 64);
    motan_buf *frame = gzip_response(body);
    motan_buf_free(body);
    ck_assert_uint_lt(motan_buf_len(frame), 64 * 1024);
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(frame), motan_buf_len(frame), 0, NULL, NULL,
                                       0),
                     MOTAN_OK);
    motan_response *r = motan_response_new();
    int rc = motan_response_set_frame(r, f);
    assert_budget_error(rc, motan_response_get_errmsg(r));
    ck_assert_ptr_null(motan_response_get_value(r));
    ck_assert_uint_le(motan_arena_used(motan_response_arena(r)),
                      MOTAN_DEFAULT_MAX_DECODED + 64 * 1024);
    /* A response's own budget; and a body that fits it decodes. */
    motan_response_set_max_decoded(r, 100);
    motan_buf *small = simple_nulls(1);
    motan_buf *sframe = gzip_response(small);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(sframe), motan_buf_len(sframe), 0, NULL,
                                       NULL, 0),
                     MOTAN_OK);
    ck_assert_int_eq(motan_response_set_frame(r, f), MOTAN_OK);
    ck_assert_uint_eq(motan_value_count(motan_response_get_value(r)), 1);
    motan_buf_free(sframe);
    motan_buf_free(small);
    small = simple_nulls(1000);
    sframe = gzip_response(small);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(sframe), motan_buf_len(sframe), 0, NULL,
                                       NULL, 0),
                     MOTAN_OK);
    rc = motan_response_set_frame(r, f);
    assert_budget_error(rc, motan_response_get_errmsg(r));
    ck_assert_msg(strstr(motan_response_get_errmsg(r), "(100 bytes)"), "%s",
                  motan_response_get_errmsg(r));
    motan_buf_free(sframe);
    motan_buf_free(small);
    motan_response_free(r);
    motan_frame_free(f);
    motan_buf_free(frame);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("budget");
    TCase *t = tcase_create("budget");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, arena_limit);
    tcase_add_test(t, arena_huge_size_fails);
    tcase_add_test(t, every_serialization_honours_the_budget);
    tcase_add_test(t, simple_tree_decoders_honour_the_budget);
    tcase_add_test(t, json_is_refused_before_parsing);
    tcase_add_test(t, typed_json_honours_the_budget);
    tcase_add_test(t, gzip_nulls_response_is_bounded);
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
