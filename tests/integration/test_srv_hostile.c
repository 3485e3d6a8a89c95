/*
 * Hostile clients against the server layer: garbage, truncated and malformed frames, a 4 GiB
 * length, slow writers, clients that never read, connections reset with answers pending.
 * Each case checks that the server closes what it must, keeps serving everyone else, and
 * that its resident memory stays bounded.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <motan/motan.h>

#include "testutil.h"
#include "tu_srv.h"

#define TMO 5000

static int slow(void) { return tu_slow() ? 10 : 1; }

static void start(tu_srv *t, const char *const *params)
{
    tu_srv_start(t, 1, params);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "big", tu_srv_big, NULL), MOTAN_OK);
}

/* A well-behaved client still gets its answer, promptly. */
static void still_serves(const tu_srv *t)
{
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t->port), 0);
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_wire_request(&w, 77, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, "\x05\x01", 2), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 77);
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, 1000 * (unsigned)slow());
    tu_wire_close(&w);
}

/* Sends bytes (hex); the server must close the connection. */
static void closes_on(const tu_srv *t, const char *hex)
{
    uint8_t *p;
    size_t n;
    ck_assert_int_eq(tu_hex_decode(hex, &p, &n), 0);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t->port), 0);
    ck_assert_int_eq(tu_wire_send(&w, p, n), 0);
    int r = tu_wire_until_closed(&w, TMO);
    ck_assert_msg(r == TU_WIRE_EOF || r == TU_WIRE_ERROR, "%s: %d", hex, r);
    tu_wire_close(&w);
    free(p);
}

START_TEST(garbage_and_malformed_frames)
{
    tu_srv t;
    start(&t, NULL);
    closes_on(&t, "474554202f20485454502f312e310d0a0d0a");       /* GET / HTTP/1.1 */
    closes_on(&t, "f1f000083000000000000000070000000000000000"); /* bad magic (F23) */
    closes_on(&t, "f1f100003000000000000000070000000000000000"); /* motan1 version (F17) */
    closes_on(&t, "f1f100103000000000000000070000000000000000"); /* version 2 (F18) */
    closes_on(&t, "f1f10008300000000000000007000000034d5f7000000000"); /* odd metadata (F19) */
    /* A gzip bit on a body that is not gzip. */
    closes_on(&t, "f1f10808300000000000000007000000000000000400010203");
    /* Whole frames before the bad one are answered first. */
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 5, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, NULL, 0), 0);
    ck_assert_int_eq(tu_wire_send(&w, "\xba\xad", 2), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 5);
    ck_assert_int_eq(tu_wire_until_closed(&w, TMO), TU_WIRE_EOF);
    tu_wire_close(&w);
    ck_assert_uint_ge(motan_server_stat(t.s, "protocol_errors"), 7);
    still_serves(&t);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(four_gib_length_refused_from_the_header)
{
    tu_srv t;
    start(&t, NULL);
    long rss0 = tu_rss_kb();
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    /* Metadata size 0, body size 0xffffffff, no body: answered and closed at once. */
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_wire_send(&w, "\xf1\xf1\x00\x08\x30\x00\x00\x00\x00\x00\x00\x00\x09"
                                      "\x00\x00\x00\x00\xff\xff\xff\xff", 21), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 9);
    ck_assert_int_eq(tu_wire_until_closed(&w, TMO), TU_WIRE_EOF);
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, 1000 * (unsigned)slow());
    ck_assert(tu_rss_within(rss0, 4 * 1024, "4 GiB length"));
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(truncated_frames_and_stalled_writers)
{
    const char *params[] = {"idleTimeout", "300", NULL};
    tu_srv t;
    start(&t, params);
    /* Half a frame, then the client goes: nothing to answer, nothing kept. */
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_send(&w, "\xf1\xf1\x00\x08\x30\x00\x00\x00\x00\x00\x00\x00\x01"
                                      "\x00\x00\x00\x00\x00\x00\x00\x64xyz", 24), 0);
    tu_wire_close(&w);
    /* Half a frame, then silence: closed by idleTimeout. */
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_send(&w, "\xf1\xf1\x00\x08\x30\x00\x00\x00\x00", 9), 0);
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_wire_until_closed(&w, TMO * slow()), TU_WIRE_EOF);
    ck_assert_uint_ge((motan_now_us() - t0) / 1000, 280);
    tu_wire_close(&w);
    ck_assert_uint_eq(motan_server_stat(t.s, "idle_closed"), 1);
    still_serves(&t);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(slow_writers_declaring_big_frames)
{
    /* 100 clients each announce a 10 MiB body and trickle it a byte at a time. */
    enum { N = 100 };
    tu_srv t;
    start(&t, NULL);
    static tu_wire w[N];
    long rss0 = tu_rss_kb();
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(tu_wire_open(&w[i], t.port), 0);
        ck_assert_int_eq(tu_wire_send(&w[i], "\xf1\xf1\x00\x08\x30\x00\x00\x00\x00\x00\x00\x00\x01"
                                             "\x00\x00\x00\x00\x00\xa0\x00\x00", 21), 0);
    }
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(tu_wire_send(&w[i], "s", 1), 0);
        usleep(10000);
    }
    still_serves(&t);
    /* The server holds what arrived (a few KiB), not what was announced (1000 MiB). */
    ck_assert(tu_rss_within(rss0, 32 * 1024, "slow writers"));
    /* still_serves' own connection may still be closing */
    ck_assert(tu_srv_wait_stat(&t, "connections", N, 1, TMO));
    for (int i = 0; i < N; i++)
        tu_wire_close(&w[i]);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(clients_that_never_read)
{
    /* 20 clients ask for 64 MiB of answers each and read nothing. */
    enum { N = 20, PER = 64 };
    const char *params[] = {"maxBufferedBytes", "1048576", NULL};
    tu_srv t;
    start(&t, params);
    static tu_wire w[N];
    motan_buf *b = motan_buf_new(0);
    motan_simple_write_int64(b, 1024 * 1024);
    long rss0 = tu_rss_kb();
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(tu_wire_open(&w[i], t.port), 0);
        for (uint64_t k = 1; k <= PER; k++)
            ck_assert_int_eq(tu_wire_request(&w[i], k, MOTAN_SER_SIMPLE, TU_SVC, "big", NULL,
                                             motan_buf_data(b), motan_buf_len(b)), 0);
    }
    ck_assert(tu_srv_wait_stat(&t, "paused", N, 1, TMO));
    still_serves(&t);
    /* Each holds about maxBufferedBytes plus one answer, not 64 MiB. */
    ck_assert(tu_rss_within(rss0, N * 3 * 1024, "clients that never read"));
    /* They give up without reading (RST): everything is let go. */
    for (int i = 0; i < N; i++) {
        struct linger lg = {1, 0};
        setsockopt(w[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        tu_wire_close(&w[i]);
    }
    ck_assert(tu_srv_wait_stat(&t, "connections", 0, 1, TMO));
    still_serves(&t);
    motan_buf_free(b);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(connection_churn)
{
    tu_srv t;
    start(&t, NULL);
    for (int i = 0; i < 300 / slow(); i++) {
        tu_wire w;
        ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
        if (i % 3 == 0)
            tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, NULL, 0);
        if (i % 3 == 1) {
            struct linger lg = {1, 0};
            setsockopt(w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        tu_wire_close(&w);
    }
    still_serves(&t);
    ck_assert(tu_srv_wait_stat(&t, "connections", 0, 1, TMO));
    tu_srv_stop(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_srv_hostile");
    TCase *t = tcase_create("hostile");
    tcase_set_timeout(t, 60 * slow());
    tcase_add_test(t, garbage_and_malformed_frames);
    tcase_add_test(t, four_gib_length_refused_from_the_header);
    tcase_add_test(t, truncated_frames_and_stalled_writers);
    tcase_add_test(t, slow_writers_declaring_big_frames);
    tcase_add_test(t, clients_that_never_read);
    tcase_add_test(t, connection_churn);
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
