/*
 * Hostile servers: each misbehaviour gets its error, the call completes exactly once, and
 * time and memory stay bounded (resident memory measured around each case).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/transport.h>

#include "server_proc.h"
#include "tu_loop.h"

typedef struct outcome {
    int calls; /* callbacks run: must end at exactly 1 per call */
    int code;
    char msg[512];
} outcome;

static void cb(motan_response *r, void *ud)
{
    outcome *o = ud;
    o->calls++;
    o->code = r ? motan_response_get_code(r) : MOTAN_ENOMEM;
    snprintf(o->msg, sizeof(o->msg), "%s", r ? motan_response_get_errmsg(r) : "");
    motan_response_free(r);
}

typedef struct hostile {
    tu_server srv;
    tu_env e;
    motan_endpoint *ep;
    long rss0;
} hostile;

static void open_case(hostile *h, const char *const *server_args, const char *params)
{
    ck_assert_int_eq(tu_server_start(&h->srv, server_args), 0);
    tu_env_init(&h->e);
    char text[256], err[256];
    snprintf(text, sizeof(text), "motan2://127.0.0.1:%d/com.example.EchoService?%s", h->srv.port,
             params ? params : "errorCountThreshold=0");
    motan_url *u = tu_url(text);
    ck_assert_int_eq(motan_endpoint_new(h->e.loop, u, &h->ep, err, sizeof(err)), MOTAN_OK);
    motan_url_free(u);
    tu_run_for(&h->e, 50); /* connected */
    h->rss0 = tu_rss_kb();
}

static void close_case(hostile *h)
{
    motan_endpoint_free(h->ep);
    tu_env_free(&h->e);
    ck_assert_int_eq(tu_server_stop(&h->srv), 0);
}

/* One call with an X-Fault; returns once it completed (and a little longer, to see dupes). */
static void call_with_fault(hostile *h, const char *fault, int timeout_ms, outcome *o)
{
    motan_request *r = motan_request_new("echo");
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "x", 1));
    if (fault)
        motan_request_set_meta(r, "X-Fault", fault);
    memset(o, 0, sizeof(*o));
    ck_assert_int_eq(motan_endpoint_call(h->ep, r, timeout_ms, cb, o, NULL), MOTAN_OK);
    ck_assert(tu_run_until(&h->e, &o->calls, 1, timeout_ms + 10000));
    tu_run_for(&h->e, 100);
    ck_assert_int_eq(o->calls, 1);
    motan_request_free(r);
}

static long grown_kb(const hostile *h) { return tu_rss_kb() - h->rss0; }

START_TEST(test_length_4gib)
{
    hostile h;
    open_case(&h, NULL, NULL);
    outcome o;
    const char *faults[] = {"oversize", "oversize-meta"};
    for (int i = 0; i < 2; i++) {
        uint64_t t0 = motan_now_us();
        call_with_fault(&h, faults[i], 5000, &o);
        ck_assert_msg(o.code == MOTAN_ETOOBIG, "%s: %s %s", faults[i], motan_errname(o.code), o.msg);
        /* Refused from the header: no 4 GiB buffer, no wait for bytes that never come. */
        ck_assert_uint_lt((motan_now_us() - t0) / 1000, 1000);
        ck_assert_int_lt(grown_kb(&h), 8 * 1024);
    }
    close_case(&h);
}
END_TEST

START_TEST(test_gzip_bomb)
{
    hostile h;
    open_case(&h, NULL, NULL);
    outcome o;
    call_with_fault(&h, "gzip-bomb", 10000, &o);
    ck_assert_msg(o.code == MOTAN_ETOOBIG, "%s %s", motan_errname(o.code), o.msg);
    /* It inflates to 64 MiB: the cap (maxContentLength, 10 MiB) held. */
    ck_assert_int_lt(grown_kb(&h), 32 * 1024);
    /* A smaller cap holds too. */
    close_case(&h);
    open_case(&h, NULL, "errorCountThreshold=0&maxContentLength=100000");
    call_with_fault(&h, "gzip-bomb", 10000, &o);
    ck_assert_int_eq(o.code, MOTAN_ETOOBIG);
    ck_assert_int_lt(grown_kb(&h), 4 * 1024);
    close_case(&h);
}
END_TEST

/*
 * ~10 KB of gzip inflating to 10 MiB of Simple nulls, within maxContentLength: decoding used
 * to build a 48-byte node per null (about 500 MiB). The decoded-size budget (maxDecodedSize,
 * default 4 x maxContentLength) stops it with MOTAN_ETOOBIG, memory bounded by the budget.
 */
START_TEST(test_gzip_nulls)
{
    hostile h;
    open_case(&h, NULL, NULL);
    outcome o;
    call_with_fault(&h, "gzip-nulls", 10000, &o);
    ck_assert_msg(o.code == MOTAN_ETOOBIG, "%s %s", motan_errname(o.code), o.msg);
    ck_assert_msg(strstr(o.msg, "maxDecodedSize"), "%s", o.msg);
    /* (sanitizers keep freed memory and shadow it: resident size means little there) */
    if (!tu_slow())
        ck_assert_int_lt(grown_kb(&h), 64 * 1024);
    close_case(&h);
    /* A budget of its own; a small answer still fits it, the nulls do not. */
    open_case(&h, NULL, "errorCountThreshold=0&maxDecodedSize=100000");
    call_with_fault(&h, "gzip-nulls", 10000, &o);
    ck_assert_int_eq(o.code, MOTAN_ETOOBIG);
    ck_assert_msg(strstr(o.msg, "maxDecodedSize (100000 bytes)"), "%s", o.msg);
    if (!tu_slow()) /* the 10 MiB inflated body, not the values */
        ck_assert_int_lt(grown_kb(&h), 24 * 1024);
    call_with_fault(&h, NULL, 5000, &o);
    ck_assert_msg(o.code == MOTAN_OK, "%s %s", motan_errname(o.code), o.msg);
    close_case(&h);
}
END_TEST

START_TEST(test_endless_metadata)
{
    hostile h;
    open_case(&h, NULL, "errorCountThreshold=0&maxContentLength=1000000");
    outcome o;
    uint64_t t0 = motan_now_us();
    /* With a 1 MB limit the 10 MiB metadata block is refused from its size field. */
    call_with_fault(&h, "endless-meta", 500, &o);
    ck_assert_msg(o.code == MOTAN_ETOOBIG, "%s %s", motan_errname(o.code), o.msg);
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, 400);
    close_case(&h);
    /* Within the default limit the trickle never ends: the call times out, memory stays bounded. */
    open_case(&h, NULL, NULL);
    call_with_fault(&h, "endless-meta", 700, &o);
    ck_assert_msg(o.code == MOTAN_ETIMEOUT, "%s %s", motan_errname(o.code), o.msg);
    ck_assert_int_lt(grown_kb(&h), 12 * 1024);
    close_case(&h);
}
END_TEST

START_TEST(test_unknown_and_duplicate_ids)
{
    hostile h;
    open_case(&h, NULL, NULL);
    outcome o;
    call_with_fault(&h, "wrong-id", 300, &o);
    ck_assert_int_eq(o.code, MOTAN_ETIMEOUT);
    ck_assert_int_eq(motan_endpoint_stat(h.ep, "unknown_responses"), 1);
    /* The connection survived: the next call works. */
    call_with_fault(&h, NULL, 1000, &o);
    ck_assert_int_eq(o.code, MOTAN_OK);
    /* A duplicate answer: delivered once, the copy dropped. */
    call_with_fault(&h, "duplicate", 1000, &o);
    ck_assert_int_eq(o.code, MOTAN_OK);
    ck_assert_int_eq(motan_endpoint_stat(h.ep, "unknown_responses"), 2);
    close_case(&h);
}
END_TEST

START_TEST(test_heartbeat_storm)
{
    hostile h;
    open_case(&h, NULL, NULL);
    outcome o;
    uint64_t t0 = motan_now_us();
    call_with_fault(&h, "hb-storm:50000", 10000, &o);
    ck_assert_msg(o.code == MOTAN_OK, "%s %s", motan_errname(o.code), o.msg);
    if (!tu_slow())
        ck_assert_uint_lt((motan_now_us() - t0) / 1000, 3000);
    ck_assert_int_lt(grown_kb(&h), 8 * 1024);
    close_case(&h);
}
END_TEST

START_TEST(test_server_never_reads)
{
    const char *args[] = {"--no-read", NULL};
    hostile h;
    open_case(&h, args, "errorCountThreshold=0&connections=1");
    enum { N = 400 };
    motan_request *r = motan_request_new("echo");
    static uint8_t blob[256 * 1024];
    motan_request_add_arg(r, motan_value_new_bytes(motan_request_arena(r), blob, sizeof(blob)));
    static outcome o[N];
    memset(o, 0, sizeof(o));
    /* 100 MiB of requests toward a server that reads nothing. */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(motan_endpoint_call(h.ep, r, 300, cb, &o[i], NULL), MOTAN_OK);
    long peak = 0;
    int done = 0;
    uint64_t end = motan_now_us() + 20000000;
    while (done < N && motan_now_us() < end) {
        tu_run_for(&h.e, 20);
        long g = grown_kb(&h);
        if (g > peak)
            peak = g;
        done = 0;
        for (int i = 0; i < N; i++)
            done += o[i].calls;
    }
    ck_assert_int_eq(done, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(o[i].calls, 1);
        ck_assert_int_eq(o[i].code, MOTAN_ETIMEOUT);
    }
    /* Bounded by the output high-water mark, not by what was asked. */
    ck_assert_msg(peak < 16 * 1024, "memory grew by %ld KiB", peak);
    motan_request_free(r);
    close_case(&h);
}
END_TEST

START_TEST(test_garbage_reset_motan1)
{
    hostile h;
    open_case(&h, NULL, NULL);
    outcome o;
    const struct {
        const char *fault;
        int code;
    } cases[] = {{"garbage", MOTAN_EPROTO}, {"reset", MOTAN_ECONNECT}, {"close-mid", MOTAN_ECONNECT},
                 {"motan1", MOTAN_EMOTAN1}, {"version2", MOTAN_EVERSION}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_with_fault(&h, cases[i].fault, 2000, &o);
        ck_assert_msg(o.code == cases[i].code, "%s: %s %s", cases[i].fault, motan_errname(o.code), o.msg);
        /* The endpoint reconnects and serves again. */
        int ok = 0;
        for (int k = 0; k < 50 && !ok; k++) {
            call_with_fault(&h, NULL, 1000, &o);
            ok = o.code == MOTAN_OK;
            if (!ok)
                tu_run_for(&h.e, 100);
        }
        ck_assert_msg(ok, "%s: no recovery: %s", cases[i].fault, o.msg);
    }
    close_case(&h);
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_length_4gib);
    tcase_add_test(tc, test_gzip_bomb);
    tcase_add_test(tc, test_gzip_nulls);
    tcase_add_test(tc, test_endless_metadata);
    tcase_add_test(tc, test_unknown_and_duplicate_ids);
    tcase_add_test(tc, test_heartbeat_storm);
    tcase_add_test(tc, test_server_never_reads);
    tcase_add_test(tc, test_garbage_reset_motan1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(hostile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
