/*
 * The server's limits, each hit on purpose: maxContentLength (metadata, body, gunzipped
 * body), maxConnections, idleTimeout, and back-pressure from a client that sends without
 * reading (maxBufferedBytes), with the server's memory measured.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "testutil.h"
#include "tu_srv.h"

#define TMO 5000

static int slow(void) { return tu_slow() ? 10 : 1; }

static motan_reply *g_held;

static void h_hold(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    (void)ud;
    g_held = reply; /* answered later by the test (loop thread: a caller's-loop server) */
}

static void start(tu_srv *t, int builtin, const char *const *params)
{
    tu_srv_start(t, builtin, params);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "big", tu_srv_big, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "hold", h_hold, NULL), MOTAN_OK);
}

/* A Simple string body of n bytes. */
static motan_buf *string_body(size_t n)
{
    char *s = malloc(n);
    memset(s, 's', n);
    motan_buf *b = motan_buf_new(0);
    motan_simple_write_string(b, s, n);
    free(s);
    return b;
}

static void expect_too_large(tu_wire *w, uint64_t id)
{
    ck_assert_int_eq(tu_wire_frame(w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w->f), id);
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, w->f);
    ck_assert_int_eq(motan_response_get_errcode(resp), 10201);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "request too large"), "%s",
                  motan_response_get_errmsg(resp));
    motan_response_free(resp);
    ck_assert_int_eq(tu_wire_until_closed(w, TMO), TU_WIRE_EOF);
}

START_TEST(max_content_length)
{
    const char *params[] = {"maxContentLength", "1000", NULL};
    tu_srv t;
    start(&t, 1, params);
    tu_wire w;
    /* A body of exactly the limit passes ("greater than" is refused, spec §2.5). */
    motan_buf *b = string_body(1000 - 5);
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, motan_buf_data(b),
                                     motan_buf_len(b)), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_int_eq(motan_frame_get_status(w.f), 0);
    motan_buf_free(b);
    /* One byte more: answered with Java's "request too large", then the connection closes. */
    b = string_body(1000 - 4);
    ck_assert_int_eq(tu_wire_request(&w, 2, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, motan_buf_data(b),
                                     motan_buf_len(b)), 0);
    expect_too_large(&w, 2);
    tu_wire_close(&w);
    motan_buf_free(b);
    /* Metadata over the limit: refused from its size field, before it arrives. */
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_send(&w, "\xf1\xf1\x00\x08\x30\x00\x00\x00\x00\x00\x00\x00\x03"
                                      "\x00\x10\x00\x00", 17), 0);
    expect_too_large(&w, 3);
    tu_wire_close(&w);
    /* A gzip body that inflates past the limit. */
    b = string_body(5000);
    motan_buf *z = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(z, 0, 0, MOTAN_SER_SIMPLE, 4, &mark);
    motan_frame_write_meta(z, mark, "M_p", 3, TU_SVC, strlen(TU_SVC));
    motan_frame_write_meta(z, mark, "M_m", 3, "echo", 4);
    motan_frame_write_body_begin(z, mark);
    motan_buf_append(z, motan_buf_data(b), motan_buf_len(b));
    ck_assert_int_eq(motan_frame_write_end(z, mark, 1), MOTAN_OK);
    ck_assert_uint_lt(motan_buf_len(z), 1000);
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_send(&w, motan_buf_data(z), motan_buf_len(z)), 0);
    expect_too_large(&w, 4);
    tu_wire_close(&w);
    motan_buf_free(z);
    motan_buf_free(b);
    ck_assert_uint_eq(motan_server_stat(t.s, "protocol_errors"), 3);
    tu_srv_stop(&t);
}
END_TEST

/* A request whose gzipped body is a Simple array of n nulls (n + 5 bytes inflated). */
static void send_nulls(tu_wire *w, uint64_t id, const char *method, size_t n)
{
    motan_buf *z = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(z, 0, 0, MOTAN_SER_SIMPLE, id, &mark);
    motan_frame_write_meta(z, mark, "M_p", 3, TU_SVC, strlen(TU_SVC));
    method = method ? method : "echo";
    motan_frame_write_meta(z, mark, "M_m", 3, method, strlen(method));
    motan_frame_write_body_begin(z, mark);
    uint8_t head[5] = {MOTAN_T_ARRAY, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    motan_buf_append(z, head, 5);
    uint8_t *zeros = calloc(1, n);
    motan_buf_append(z, zeros, n);
    free(zeros);
    ck_assert_int_eq(motan_frame_write_end(z, mark, 1), MOTAN_OK);
    ck_assert_int_eq(tu_wire_send(w, motan_buf_data(z), motan_buf_len(z)), 0);
    motan_buf_free(z);
}

static const char *g_raw_err;

/* A raw handler decoding on demand: the same budget applies. */
static void h_raw_args(const motan_server_request *req, motan_reply *reply, void *ud)
{
    static char err[256];
    const motan_value *args;
    (void)ud;
    int rc = motan_server_request_args(req, &args, err, sizeof(err));
    g_raw_err = rc == MOTAN_ETOOBIG ? err : "not ETOOBIG";
    motan_reply_error(reply, 500, 1, err, strlen(err));
}

START_TEST(decoded_size_budget)
{
    /* 5 MB of nulls (a 5 KB gzip body) decode to ~40 bytes each: far past the budget. */
    const char *params[] = {"maxDecodedSize", "1000000", NULL};
    tu_srv t;
    start(&t, 1, params);
    ck_assert_int_eq(motan_server_handle_raw(t.s, TU_SVC, "raw", h_raw_args, NULL), MOTAN_OK);
    long rss0 = tu_rss_kb();
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    send_nulls(&w, 1, NULL, 5000000);
    ck_assert_int_eq(tu_wire_frame(&w, TMO * slow()), MOTAN_OK);
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, w.f);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_str_eq(motan_response_get_errmsg(resp),
                     "deserialize fail: decoded values exceed maxDecodedSize (1000000 bytes)");
    ck_assert(tu_rss_within(rss0, 24 * 1024, "decoded-size budget"));
    send_nulls(&w, 2, "raw", 5000000);
    ck_assert_int_eq(tu_wire_frame(&w, TMO * slow()), MOTAN_OK);
    ck_assert_str_eq(g_raw_err, "decoded values exceed maxDecodedSize (1000000 bytes)");
    /* Within the budget it decodes, on the same connection. */
    send_nulls(&w, 3, NULL, 1000);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_int_eq(motan_frame_get_status(w.f), 0);
    tu_wire_close(&w);
    tu_srv_stop(&t);
    /* The default is 4 x maxContentLength. */
    const char *small[] = {"maxContentLength", "1000000", NULL};
    start(&t, 1, small);
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    send_nulls(&w, 4, NULL, 999000);
    ck_assert_int_eq(tu_wire_frame(&w, TMO * slow()), MOTAN_OK);
    motan_response_set_frame(resp, w.f);
    ck_assert_str_eq(motan_response_get_errmsg(resp),
                     "deserialize fail: decoded values exceed maxDecodedSize (4000000 bytes)");
    motan_response_free(resp);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

static void echo_ok(tu_wire *w, uint64_t id)
{
    ck_assert_int_eq(tu_wire_request(w, id, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, NULL, 0), 0);
    ck_assert_int_eq(tu_wire_frame(w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w->f), id);
}

START_TEST(max_connections)
{
    const char *params[] = {"maxConnections", "2", NULL};
    tu_srv t;
    start(&t, 1, params);
    tu_wire a, b, c;
    ck_assert_int_eq(tu_wire_open(&a, t.port), 0);
    ck_assert_int_eq(tu_wire_open(&b, t.port), 0);
    echo_ok(&a, 1);
    echo_ok(&b, 2);
    /* The third is accepted by the kernel and reset by the server at once. */
    ck_assert_int_eq(tu_wire_open(&c, t.port), 0);
    int r = tu_wire_until_closed(&c, TMO);
    ck_assert_msg(r == TU_WIRE_EOF || r == TU_WIRE_ERROR, "%d", r);
    tu_wire_close(&c);
    ck_assert_uint_eq(motan_server_stat(t.s, "refused"), 1);
    echo_ok(&a, 3);
    /* Room again once one goes. */
    tu_wire_close(&b);
    ck_assert(tu_srv_wait_stat(&t, "connections", 1, 1, TMO));
    ck_assert_int_eq(tu_wire_open(&c, t.port), 0);
    echo_ok(&c, 4);
    tu_wire_close(&a);
    tu_wire_close(&c);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(idle_timeout)
{
    const char *params[] = {"idleTimeout", "200", NULL};
    tu_srv t;
    start(&t, 0, params); /* the test's loop: the held reply is answered from here */
    tu_wire idle, busy, held;
    ck_assert_int_eq(tu_wire_open(&idle, t.port), 0);
    ck_assert_int_eq(tu_wire_open(&busy, t.port), 0);
    ck_assert_int_eq(tu_wire_open(&held, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&held, 1, MOTAN_SER_SIMPLE, TU_SVC, "hold", NULL, NULL, 0), 0);
    uint64_t t0 = motan_now_us();
    uint64_t sent = t0;
    int closed = 0;
    /* busy talks every 50 ms, held waits for its answer, idle says nothing. */
    while (motan_now_us() - t0 < 700000) {
        tu_run_once(&t.e);
        if (motan_now_us() - sent > 50000) {
            ck_assert_int_eq(tu_wire_request(&busy, 2, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, NULL, 0), 0);
            sent = motan_now_us();
        }
        if (!closed && motan_server_stat(t.s, "idle_closed") == 1) {
            closed = 1;
            uint64_t after = (motan_now_us() - t0) / 1000;
            ck_assert_msg(after >= 195, "closed after %llu ms", (unsigned long long)after);
        }
    }
    ck_assert_int_eq(closed, 1);
    ck_assert_uint_eq(motan_server_stat(t.s, "connections"), 2);
    ck_assert_int_eq(tu_wire_until_closed(&idle, 10), TU_WIRE_EOF);
    ck_assert_ptr_nonnull(g_held);
    motan_reply_send(g_held, motan_value_new_null(motan_reply_arena(g_held)));
    g_held = NULL;
    tu_run_for(&t.e, 20);
    ck_assert_int_eq(tu_wire_frame(&held, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(held.f), 1);
    /* Answered, it is idle too now. */
    t0 = motan_now_us();
    while (motan_server_stat(t.s, "idle_closed") < 2 && motan_now_us() - t0 < (uint64_t)TMO * 1000)
        tu_run_once(&t.e);
    ck_assert_uint_eq(motan_server_stat(t.s, "idle_closed"), 2);
    tu_wire_close(&idle);
    tu_wire_close(&busy);
    tu_wire_close(&held);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(back_pressure_from_a_client_that_does_not_read)
{
    const char *params[] = {"maxBufferedBytes", "1048576", NULL};
    tu_srv t;
    start(&t, 1, params);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    /* 400 requests for 256 KiB each (100 MiB of answers), none read for now. */
    motan_buf *b = motan_buf_new(0);
    motan_simple_write_int64(b, 256 * 1024);
    long rss0 = tu_rss_kb();
    enum { N = 400 };
    for (uint64_t i = 1; i <= N; i++)
        ck_assert_int_eq(tu_wire_request(&w, i, MOTAN_SER_SIMPLE, TU_SVC, "big", NULL, motan_buf_data(b),
                                         motan_buf_len(b)), 0);
    ck_assert(tu_srv_wait_stat(&t, "paused", 1, 1, TMO));
    usleep(200000); /* a server that did not stop would keep answering (and growing) now */
    ck_assert(tu_rss_within(rss0, 24 * 1024, "back-pressure"));
    ck_assert_uint_lt(motan_server_stat(t.s, "requests"), N);
    /* Reading resumes it: every answer arrives, in order, whole. */
    for (uint64_t i = 1; i <= N; i++) {
        ck_assert_int_eq(tu_wire_frame(&w, TMO * slow()), MOTAN_OK);
        ck_assert_uint_eq(motan_frame_get_request_id(w.f), i);
        size_t bl;
        motan_frame_body(w.f, &bl);
        ck_assert_uint_eq(bl, 5 + 256 * 1024);
    }
    ck_assert_uint_eq(motan_server_stat(t.s, "requests"), N);
    motan_buf_free(b);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_srv_limits");
    TCase *t = tcase_create("limits");
    tcase_set_timeout(t, 60 * slow());
    tcase_add_test(t, max_content_length);
    tcase_add_test(t, decoded_size_budget);
    tcase_add_test(t, max_connections);
    tcase_add_test(t, idle_timeout);
    tcase_add_test(t, back_pressure_from_a_client_that_does_not_read);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
