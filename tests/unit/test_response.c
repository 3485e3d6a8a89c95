/* Responses as data: filled from frames (the vectors), from local and remote errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"

/* Parses the named vector into f and fills r from it; returns the response code. */
static int from_vector(motan_response *r, motan_frame *f, const char *name)
{
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", name, &n);
    ck_assert_int_eq(motan_frame_parse(f, d, n, 0, NULL, NULL, 0), MOTAN_OK);
    int rc = motan_response_set_frame(r, f);
    memset(d, 0xee, n); /* the response must not point into the input */
    free(d);
    return rc;
}

/* A response frame built from parts. */
static int from_parts(motan_response *r, motan_frame *f, uint8_t flags, uint8_t status, uint8_t ser,
                      const char *meta_k, const char *meta_v, const void *body, size_t blen)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, flags, status, ser, 77, &mark);
    if (meta_k)
        motan_frame_write_meta(b, mark, meta_k, strlen(meta_k), meta_v, strlen(meta_v));
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, body, blen);
    motan_frame_write_end(b, mark, 0);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    int rc = motan_response_set_frame(r, f);
    motan_buf_free(b);
    return rc;
}

START_TEST(new_is_empty_success)
{
    motan_response *r = motan_response_new();
    ck_assert_int_eq(motan_response_get_code(r), MOTAN_OK);
    ck_assert_ptr_nonnull(motan_response_get_value(r));
    ck_assert_int_eq(motan_value_type(motan_response_get_value(r)), MOTAN_T_NULL);
    ck_assert_str_eq(motan_response_get_errmsg(r), "");
    ck_assert_int_eq(motan_response_get_errcode(r), 0);
    ck_assert_int_eq(motan_response_get_errtype(r), -1);
    ck_assert_int_eq(motan_response_get_process_time(r), -1);
    ck_assert_uint_eq(motan_response_get_request_id(r), 0);
    ck_assert_str_eq(motan_response_get_endpoint(r), "");
    ck_assert_uint_eq(motan_response_meta_count(r), 0);
    ck_assert_ptr_null(motan_response_get_meta(r, "M_pt"));
    ck_assert_ptr_nonnull(motan_response_arena(r));
    motan_response_free(r);
    motan_response_free(NULL);
}
END_TEST

START_TEST(vector_resp_ok)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(from_vector(r, f, "resp_ok"), MOTAN_OK);
    const motan_value *v = motan_response_get_value(r);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_STRING);
    size_t l;
    const char *s = motan_value_get_data(v, &l);
    ck_assert_uint_eq(l, 2);
    ck_assert_mem_eq(s, "ok", 2);
    ck_assert_int_eq(motan_response_get_process_time(r), 3);
    ck_assert_uint_eq(motan_response_get_request_id(r), 16);
    ck_assert_uint_eq(motan_response_meta_count(r), 1);
    ck_assert_str_eq(motan_response_meta_key(r, 0), "M_pt");
    ck_assert_str_eq(motan_response_meta_value(r, 0), "3");
    ck_assert_str_eq(motan_response_get_meta(r, "M_pt"), "3");
    ck_assert_ptr_null(motan_response_meta_key(r, 1));
    ck_assert_ptr_null(motan_response_meta_value(r, 1));
    ck_assert_str_eq(motan_response_get_errmsg(r), "");
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(vector_null_results)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(from_vector(r, f, "resp_java_null"), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(r)), MOTAN_T_NULL);
    ck_assert_int_eq(motan_response_get_process_time(r), 3);
    ck_assert_int_eq(from_vector(r, f, "resp_go_empty"), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(r)), MOTAN_T_NULL);
    ck_assert_int_eq(motan_response_get_process_time(r), -1);
    ck_assert_uint_eq(motan_response_get_request_id(r), 3);
    ck_assert_uint_eq(motan_response_meta_count(r), 0);
    /* Heartbeat answers: success, null, whatever the serialization byte. */
    ck_assert_int_eq(from_vector(r, f, "hb_response_java"), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(r)), MOTAN_T_NULL);
    ck_assert_uint_eq(motan_response_get_request_id(r), 0x0102030405060708ULL);
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(vector_remote_errors)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    ck_assert_int_eq(from_vector(r, f, "resp_err_go"), MOTAN_EREMOTE);
    ck_assert_ptr_null(motan_response_get_value(r));
    ck_assert_int_eq(motan_response_get_errcode(r), 500);
    ck_assert_int_eq(motan_response_get_errtype(r), 1);
    ck_assert_str_eq(motan_response_get_errmsg(r), "boom");
    ck_assert_int_eq(motan_response_get_process_time(r), -1);
    ck_assert_int_eq(from_vector(r, f, "resp_err_java"), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(r), 10001);
    ck_assert_int_eq(motan_response_get_errtype(r), 1);
    ck_assert_str_eq(motan_response_get_errmsg(r), "boom");
    ck_assert_int_eq(motan_response_get_process_time(r), 3);
    ck_assert_uint_eq(motan_response_meta_count(r), 2);
    ck_assert(strncmp(motan_response_get_meta(r, "M_e"), "{\"errcode\":10001", 16) == 0);
    /* A success frame afterwards clears the error. */
    ck_assert_int_eq(from_vector(r, f, "resp_ok"), MOTAN_OK);
    ck_assert_int_eq(motan_response_get_errcode(r), 0);
    ck_assert_int_eq(motan_response_get_errtype(r), -1);
    ck_assert_str_eq(motan_response_get_errmsg(r), "");
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(bodies_that_fail)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    /* Unknown tag, trailing data (B05), truncated string. */
    static const struct {
        const char *b;
        size_t n;
    } bad[] = {{"\x0c\x00", 2}, {"\x08\x00\x08\x00", 4}, {"\x01\x00\x00\x00\x05" "abc", 8}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(from_parts(r, f, 1, 0, 6, NULL, NULL, bad[i].b, bad[i].n), MOTAN_EDECODE);
        ck_assert_ptr_null(motan_response_get_value(r));
        ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(r), "cannot decode"));
        ck_assert_int_eq(motan_response_get_errtype(r), -1);
    }
    /* A serialization without a codec: fine when empty, refused otherwise. */
    ck_assert_int_eq(from_parts(r, f, 1, 0, 4, NULL, NULL, "", 0), MOTAN_OK);
    ck_assert_int_eq(from_parts(r, f, 1, 0, 4, NULL, NULL, "\x00", 1), MOTAN_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(r), "unsupported serialization 4"));
    /* An error response with such a serialization is still read (Java uses 0). */
    ck_assert_int_eq(from_parts(r, f, 1, 1, 0, "M_e", "{\"errcode\":10201,\"errmsg\":\"too big\"}",
                                "", 0),
                     MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(r), 10201);
    ck_assert_int_eq(motan_response_get_errtype(r), 1);
    ck_assert_str_eq(motan_response_get_errmsg(r), "too big");
    /* Missing M_e, any non-zero status. */
    ck_assert_int_eq(from_parts(r, f, 1, 5, 6, NULL, NULL, "", 0), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(r), 0);
    ck_assert_int_eq(motan_response_get_errtype(r), 1);
    ck_assert_str_eq(motan_response_get_errmsg(r), "no error details");
    /* Raw text of an unparsable M_e; a NUL inside the message is cut at the C string. */
    ck_assert_int_eq(from_parts(r, f, 1, 1, 6, "M_e", "not json", "", 0), MOTAN_EREMOTE);
    ck_assert_str_eq(motan_response_get_errmsg(r), "not json");
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(process_time_parsing)
{
    static const struct {
        const char *v;
        int64_t pt;
    } cases[] = {{"0", 0}, {"3", 3}, {"007", 7}, {"-2", -2}, {"123456789012", 123456789012LL},
                 {"abc", -1}, {"12x", -1}, {" 5", -1}, {"-", -1}, {"+5", -1},
                 {"99999999999999999999", -1}, {"1.5", -1}, {"9223372036854775807", INT64_MAX},
                 {"-9223372036854775808", INT64_MIN}, {"9223372036854775808", -1},
                 {"-9223372036854775809", -1}};
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        from_parts(r, f, 1, 0, 6, "M_pt", cases[i].v, "", 0);
        ck_assert_msg(motan_response_get_process_time(r) == cases[i].pt, "%s", cases[i].v);
    }
    /* A later duplicate wins. */
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, 1, 0, 6, 1, &mark);
    motan_frame_write_meta(b, mark, "M_pt", 4, "1", 1);
    motan_frame_write_meta(b, mark, "x", 1, "y", 1);
    motan_frame_write_meta(b, mark, "M_pt", 4, "9", 1);
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0);
    motan_response_set_frame(r, f);
    ck_assert_int_eq(motan_response_get_process_time(r), 9);
    ck_assert_str_eq(motan_response_get_meta(r, "M_pt"), "9");
    ck_assert_uint_eq(motan_response_meta_count(r), 3);
    motan_buf_free(b);
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(setters)
{
    motan_response *r = motan_response_new();
    motan_response_set_endpoint(r, "127.0.0.1:8002");
    motan_response_set_request_id(r, 42);
    ck_assert_str_eq(motan_response_get_endpoint(r), "127.0.0.1:8002");
    ck_assert_uint_eq(motan_response_get_request_id(r), 42);

    motan_response_set_error(r, MOTAN_ETIMEOUT, "timed out after 1000 ms");
    ck_assert_int_eq(motan_response_get_code(r), MOTAN_ETIMEOUT);
    ck_assert_str_eq(motan_response_get_errmsg(r), "timed out after 1000 ms");
    ck_assert_int_eq(motan_response_get_errtype(r), -1);
    ck_assert_int_eq(motan_response_get_errcode(r), 0);
    ck_assert_ptr_null(motan_response_get_value(r));
    motan_response_set_error(r, MOTAN_ECONNECT, NULL);
    ck_assert_str_eq(motan_response_get_errmsg(r), motan_strerror(MOTAN_ECONNECT));

    motan_response_set_remote_error(r, 30001, 2, "business");
    ck_assert_int_eq(motan_response_get_code(r), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(r), 30001);
    ck_assert_int_eq(motan_response_get_errtype(r), 2);
    ck_assert_str_eq(motan_response_get_errmsg(r), "business");
    motan_response_set_remote_error(r, 1, 1, NULL);
    ck_assert_str_eq(motan_response_get_errmsg(r), "");

    /* set_value copies: the source arena can go away. */
    motan_arena *a = motan_arena_new();
    motan_value *m = motan_value_new_container(a, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_string(a, "k", 1), motan_value_new_int64(a, 5));
    ck_assert_int_eq(motan_response_set_value(r, m), MOTAN_OK);
    motan_arena_free(a);
    const motan_value *v = motan_response_get_value(r);
    ck_assert_int_eq(motan_response_get_code(r), MOTAN_OK);
    ck_assert_str_eq(motan_response_get_errmsg(r), "");
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_MAP);
    ck_assert_int_eq(motan_value_get_int(motan_value_map_get(v, "k", 1)), 5);
    ck_assert_int_eq(motan_response_set_value(r, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(r)), MOTAN_T_NULL);

    /* The endpoint survives set_frame; reset clears everything. */
    motan_frame *f = motan_frame_new();
    from_vector(r, f, "resp_ok");
    ck_assert_str_eq(motan_response_get_endpoint(r), "127.0.0.1:8002");
    motan_response_reset(r);
    ck_assert_int_eq(motan_response_get_code(r), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(r)), MOTAN_T_NULL);
    ck_assert_str_eq(motan_response_get_endpoint(r), "");
    ck_assert_uint_eq(motan_response_get_request_id(r), 0);
    ck_assert_uint_eq(motan_response_meta_count(r), 0);
    ck_assert_int_eq(motan_response_get_process_time(r), -1);
    motan_response_set_endpoint(r, NULL);
    ck_assert_str_eq(motan_response_get_endpoint(r), "");
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(gzip_body)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, 1, 0, 6, 1, &mark);
    motan_frame_write_body_begin(b, mark);
    char big[500];
    memset(big, 'z', sizeof(big));
    motan_simple_write_string(b, big, sizeof(big));
    motan_frame_write_end(b, mark, 10);
    ck_assert(motan_buf_data(b)[2] & MOTAN_FLAG_GZIP);
    motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0);
    ck_assert_int_eq(motan_response_set_frame(r, f), MOTAN_OK);
    size_t l;
    motan_value_get_data(motan_response_get_value(r), &l);
    ck_assert_uint_eq(l, sizeof(big));
    motan_buf_free(b);
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

START_TEST(reuse_without_allocation)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    size_t n;
    uint8_t *d = tu_vector_bytes("frames.json", "resp_ok", &n);
    motan_frame_parse(f, d, n, 0, NULL, NULL, 0);
    motan_response_set_frame(r, f);
    tu_count_allocs_start();
    for (int i = 0; i < 1000; i++) {
        motan_frame_parse(f, d, n, 0, NULL, NULL, 0);
        ck_assert_int_eq(motan_response_set_frame(r, f), MOTAN_OK);
        motan_response_reset(r);
    }
    size_t allocs = tu_allocs();
    tu_count_allocs_stop();
    ck_assert_uint_eq(allocs, 0);
    free(d);
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

/* Freed responses are reused without allocating, and all of them go back through the hooks
 * they came from when the hooks change (the pool and its lock-free hot slot alike). */
START_TEST(pooled_responses_follow_the_allocator)
{
    tu_count_allocs_start();
    motan_response *r[3];
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(r[i] = motan_response_new());
    for (int i = 0; i < 3; i++)
        motan_response_free(r[i]);
    unsigned long long made = tu_allocs();
    for (int round = 0; round < 4; round++) { /* one at a time, then all three again */
        motan_response *a = motan_response_new();
        ck_assert_ptr_nonnull(a);
        motan_response_free(a);
        for (int i = 0; i < 3; i++)
            ck_assert_ptr_nonnull(r[i] = motan_response_new());
        for (int i = 0; i < 3; i++)
            motan_response_free(r[i]);
    }
#if !defined(__SANITIZE_ADDRESS__) /* pools are off under AddressSanitizer */
    ck_assert_uint_eq(tu_allocs(), made);
#endif
    motan_response *many[300]; /* more than the pool keeps: the rest freed at once */
    for (int i = 0; i < 300; i++)
        ck_assert_ptr_nonnull(many[i] = motan_response_new());
    for (int i = 0; i < 300; i++)
        motan_response_free(many[i]);
    tu_count_allocs_stop(); /* empties the pools through the old hooks */
    ck_assert_uint_gt(made, 0);
    ck_assert_int_eq(tu_allocs_outstanding(), 0);
}
END_TEST

/* Pass-through: the body is kept as received (gunzipped), never decoded; errors still parse. */
START_TEST(raw_frames)
{
    motan_response *r = motan_response_new();
    motan_frame *f = motan_frame_new();
    ck_assert_ptr_null(motan_response_get_body(r, NULL));
    ck_assert_int_eq(motan_response_get_serialization(r), -1);

    /* A body no codec reads (serialization 0, hessian2) passes as it is, with its metadata. */
    static const uint8_t odd[] = {0x4f, 0xba, 0xad, 0x00, 0x01};
    motan_buf *b = motan_buf_new(0);
    size_t mark, len;
    motan_frame_write_begin(b, 1, 0, 0, 9, &mark);
    motan_frame_write_meta(b, mark, "M_pt", 4, "3", 1);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, odd, sizeof(odd));
    motan_frame_write_end(b, mark, 0);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    ck_assert_int_eq(motan_response_set_frame_raw(r, f), MOTAN_OK);
    memset((void *)motan_buf_data(b), 0xee, motan_buf_len(b)); /* copied, not pointed at */
    const uint8_t *body = motan_response_get_body(r, &len);
    ck_assert_uint_eq(len, sizeof(odd));
    ck_assert_mem_eq(body, odd, sizeof(odd));
    ck_assert_ptr_null(motan_response_get_value(r));
    ck_assert_int_eq(motan_response_get_serialization(r), 0);
    ck_assert_int_eq(motan_response_get_process_time(r), 3);
    ck_assert_uint_eq(motan_response_get_request_id(r), 9);

    /* A gzipped Simple body comes out gunzipped, byte for byte what was written. */
    motan_buf_reset(b);
    motan_frame_write_begin(b, 1, 0, 6, 10, &mark);
    motan_frame_write_body_begin(b, mark);
    size_t start = motan_buf_len(b);
    char big[300];
    memset(big, 'q', sizeof(big));
    motan_simple_write_string(b, big, sizeof(big));
    size_t plain = motan_buf_len(b) - start;
    uint8_t *want = malloc(plain);
    memcpy(want, motan_buf_data(b) + start, plain);
    motan_frame_write_end(b, mark, 10);
    ck_assert(motan_buf_data(b)[2] & MOTAN_FLAG_GZIP);
    motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0);
    ck_assert_int_eq(motan_response_set_frame_raw(r, f), MOTAN_OK);
    body = motan_response_get_body(r, &len);
    ck_assert_uint_eq(len, plain);
    ck_assert_mem_eq(body, want, plain);
    free(want);

    /* An error is an error: code, errcode and M_e kept for the proxy to pass on. */
    uint8_t *d = tu_vector_bytes("frames.json", "resp_err_go", &len);
    ck_assert_int_eq(motan_frame_parse(f, d, len, 0, NULL, NULL, 0), MOTAN_OK);
    ck_assert_int_eq(motan_response_set_frame_raw(r, f), MOTAN_EREMOTE);
    free(d);
    ck_assert_int_eq(motan_response_get_errcode(r), 500);
    ck_assert_ptr_nonnull(motan_response_get_meta(r, "M_e"));
    body = motan_response_get_body(r, &len);
    ck_assert_ptr_null(body);
    ck_assert_uint_eq(len, 0);

    /* An empty body is an empty body (not NULL); decoding again clears it. */
    motan_buf_reset(b);
    motan_frame_write_begin(b, 1, 0, 6, 11, &mark);
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0);
    ck_assert_int_eq(motan_response_set_frame_raw(r, f), MOTAN_OK);
    ck_assert_ptr_nonnull(motan_response_get_body(r, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(motan_response_set_frame(r, f), MOTAN_OK);
    ck_assert_ptr_null(motan_response_get_body(r, &len));
    ck_assert_int_eq(motan_response_get_serialization(r), 6);
    ck_assert_ptr_nonnull(motan_response_get_value(r));

    motan_buf_free(b);
    motan_frame_free(f);
    motan_response_free(r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("response");
    TCase *t = tcase_create("response");
    tcase_add_test(t, new_is_empty_success);
    tcase_add_test(t, vector_resp_ok);
    tcase_add_test(t, vector_null_results);
    tcase_add_test(t, vector_remote_errors);
    tcase_add_test(t, bodies_that_fail);
    tcase_add_test(t, process_time_parsing);
    tcase_add_test(t, setters);
    tcase_add_test(t, gzip_body);
    tcase_add_test(t, reuse_without_allocation);
    tcase_add_test(t, pooled_responses_follow_the_allocator);
    tcase_add_test(t, raw_frames);
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
