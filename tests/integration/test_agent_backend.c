/*
 * motan-agent's HTTP backends (tools/motan-agent/hpool.c, http1.c) with a real python3
 * backend (tests/support/http/backend.py) on TCP and on a Unix socket: the same mapping on
 * both, keep-alive connections reused (and the ones the backend closes left behind), a
 * backend killed and restarted, host names resolved on the loop, and hostile answers
 * (garbage, endless heads and bodies, truncated chunks, silence) that each get the caller a
 * clear error within the timeout while the agent stays healthy and its memory bounded.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "agent_proc.h"
#include "testutil.h"
#include "tu_loop.h"
#include "tu_srv.h"

#define WEB "com.example.Web"

static int ms(int v) { return tu_slow() ? v * 5 : v; }

typedef struct fixture {
    tu_backend be;
    tu_agent ag;
    motan_client *c;
} fixture;

/* A backend (unix_socket or TCP), an agent exporting WEB to it (extra: more service keys). */
static void up(fixture *f, int unix_socket, const char *extra)
{
    if (unix_socket)
        ck_assert_int_eq(tu_backend_start_unix(&f->be), 0);
    else
        ck_assert_int_eq(tu_backend_start(&f->be, 0), 0);
    char *y = tu_fmt("motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
                     "motan-service:\n  web:\n    path: " WEB "\n    proxyAddress: %s\n"
                     "    healthInterval: 100\n%s",
                     f->be.addr, extra ? extra : "");
    ck_assert_int_eq(tu_agent_start(&f->ag, y), 0);
    free(y);
    ck_assert(tu_agent_wait_backend(&f->ag, 1, ms(10000)));
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/" WEB "?requestTimeout=%d", f->ag.eport, ms(8000));
    ck_assert_int_eq(motan_client_new(url, &f->c, err, sizeof(err)), MOTAN_OK);
}

static void down(fixture *f)
{
    motan_client_free(f->c);
    ck_assert_int_eq(tu_agent_stop(&f->ag), 0);
    tu_backend_free(&f->be);
}

static double metric(const fixture *f, const char *name)
{
    int found;
    double v = tu_agent_metric(&f->ag, name, NULL, &found);
    ck_assert_int_eq(found, 1);
    return v;
}

/* The call succeeded with the typed JSON want (motan_tjson_format of the value). */
static void ok_tjson(motan_response *resp, const char *want)
{
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s: %s",
                  motan_errname(motan_response_get_code(resp)), motan_response_get_errmsg(resp));
    char *text = motan_tjson_format(motan_response_get_value(resp));
    ck_assert_str_eq(text, want);
    motan_free(text);
    motan_response_free(resp);
}

/* _i 0: TCP, 1: a Unix socket. Every row of docs/agent.md's mapping, on both. */
START_TEST(mapping_is_the_same_on_both_transports)
{
    fixture f;
    up(&f, _i, NULL);
    ok_tjson(tu_call(f.c, "add", "40", "2", NULL), "42");
    ok_tjson(tu_call(f.c, "echo", "{\"k\":[1,\"two\",3.5,null,true]}", NULL),
             "{\"k\":[1,\"two\",3.5,null,true]}");
    ok_tjson(tu_call(f.c, "text", NULL), "\"plain words\"");
    ok_tjson(tu_call(f.c, "empty", NULL), "null");
    ok_tjson(tu_call(f.c, "http10", NULL), "1010");
    ok_tjson(tu_call(f.c, "closed", NULL), "\"until the end\"");
    /* bodies over many reads, by length and in chunks with extensions and trailers */
    motan_response *resp = tu_call(f.c, "big", "300000", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_uint_eq(strlen(tu_resp_str(resp)), 300000);
    ck_assert_uint_eq(strspn(tu_resp_str(resp), "x"), 300000);
    motan_response_free(resp);
    resp = tu_call(f.c, "chunked", "50000", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_uint_eq(strspn(tu_resp_str(resp), "y"), 50000);
    ck_assert_uint_eq(strlen(tu_resp_str(resp)), 50000);
    motan_response_free(resp);
    /* statuses other than 2xx: business errors with the status and the body */
    resp = tu_call(f.c, "fail", "\"boom\"", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_int_eq(motan_response_get_errtype(resp), 2);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "HTTP 500 from the backend: boom");
    motan_response_free(resp);
    resp = tu_call(f.c, "nosuch", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 404);
    motan_response_free(resp);
    /* the request's headers; a caller's control characters cannot make headers of their own */
    motan_request *r = motan_client_request(f.c, "headers");
    ck_assert_int_eq(motan_request_set_application(r, "app\rX-Motan-Evil: 1"), MOTAN_OK);
    motan_client_call(f.c, r, &resp);
    motan_request_free(r);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    const motan_value *h = motan_response_get_value(resp);
    const char *want_host = _i ? "localhost" : f.be.addr;
    static const char *const keys[] = {"X-Motan-Service", "X-Motan-Group", "X-Motan-Method",
                                       "X-Motan-Source", "Host"};
    const char *want[] = {WEB, "default_rpc", "headers", "app?X-Motan-Evil: 1", want_host};
    for (size_t i = 0; i < 5; i++) {
        const motan_value *v = motan_value_map_get(h, keys[i], strlen(keys[i]));
        ck_assert_msg(v, "no %s", keys[i]);
        ck_assert_str_eq(motan_value_get_data(v, NULL), want[i]);
    }
    ck_assert_ptr_nonnull(motan_value_map_get(h, "X-Motan-Request-Id", 18));
    ck_assert_ptr_null(motan_value_map_get(h, "X-Motan-Evil", 12));
    motan_response_free(resp);
    down(&f);
}
END_TEST

/* One connection carries call after call; answers that end the connection start a new one. */
START_TEST(keep_alive_reuses_connections)
{
    fixture f;
    up(&f, _i, "    connections: 2\n");
    int first = -1;
    for (int i = 1; i <= 5; i++) {
        motan_response *resp = tu_call(f.c, "conn", NULL);
        ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
        const motan_value *v = motan_response_get_value(resp);
        int conn = (int)motan_value_get_int(motan_value_at(v, 0));
        if (first < 0)
            first = conn;
        ck_assert_int_eq(conn, first);                                   /* the same one */
        ck_assert_int_eq((int)motan_value_get_int(motan_value_at(v, 1)), i); /* i-th request on it */
        motan_response_free(resp);
    }
    ck_assert_int_eq((int)metric(&f, "motan_agent_backend_connects_total"), 1);
    ck_assert_int_eq((int)metric(&f, "motan_agent_backend_connections"), 1);
    /* Connection: close, HTTP/1.0 and bytes after an answer: each connection is left */
    ok_tjson(tu_call(f.c, "closed", NULL), "\"until the end\"");
    ok_tjson(tu_call(f.c, "http10", NULL), "1010");
    ok_tjson(tu_call(f.c, "extra", NULL), "42");
    ok_tjson(tu_call(f.c, "add", "1", "1", NULL), "2");
    ck_assert_int_eq((int)metric(&f, "motan_agent_backend_connects_total"), 4);
    /* eight calls at once over at most two connections: they wait their turn */
    motan_request *rs[8];
    for (int i = 0; i < 8; i++) {
        rs[i] = motan_client_request(f.c, "sleep");
        motan_request_add_arg(rs[i], motan_value_new_int32(motan_request_arena(rs[i]), 100));
        ck_assert_int_eq(motan_client_submit(f.c, rs[i], (uint64_t)i), MOTAN_OK);
    }
    for (int i = 0; i < 8; i++) {
        motan_response *resp;
        uint64_t tag;
        ck_assert_int_eq(motan_client_poll(f.c, ms(10000), &resp, &tag), 1);
        ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
        motan_response_free(resp);
    }
    for (int i = 0; i < 8; i++)
        motan_request_free(rs[i]);
    ck_assert_int_le((int)metric(&f, "motan_agent_backend_connections"), 2);
    ck_assert_int_le((int)metric(&f, "motan_agent_backend_connects_total"), 5);
    down(&f);
}
END_TEST

/* A kept connection that closes before any byte of an answer: sent again on a new one. */
START_TEST(a_closing_kept_connection_is_retried_once)
{
    fixture f;
    up(&f, _i, "    connections: 1\n");
    ok_tjson(tu_call(f.c, "dropnext", NULL), "true");
    ok_tjson(tu_call(f.c, "add", "2", "3", NULL), "5"); /* its first try met the closing connection */
    ck_assert_int_eq((int)metric(&f, "motan_agent_backend_connects_total"), 2);
    /*
     * A backend that closes every time: the kept connection's try, then one on a new
     * connection, and no more (a new connection closing is not tried again); the caller hears.
     */
    motan_response *resp = tu_call(f.c, "bad_closenow", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 503);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "gave no answer: the connection closed before an answer"),
                  "%s", motan_response_get_errmsg(resp));
    motan_response_free(resp);
    ok_tjson(tu_call(f.c, "seen", "\"bad_closenow\"", NULL), "2");
    down(&f);
}
END_TEST

/* A heartbeat to the export port: 1 answered, 0 the connection closed (every backend down). */
static int heartbeat_answered(const fixture *f)
{
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, f->ag.eport), 0);
    motan_buf *b = motan_buf_new(16);
    ck_assert_int_eq(motan_frame_write_heartbeat(b, 77, 0), MOTAN_OK);
    ck_assert_int_eq(tu_wire_send(&w, motan_buf_data(b), motan_buf_len(b)), 0);
    motan_buf_free(b);
    int rc = tu_wire_frame(&w, ms(5000));
    tu_wire_close(&w);
    ck_assert_msg(rc == MOTAN_OK || rc == TU_WIRE_EOF || rc == TU_WIRE_ERROR, "heartbeat: %d", rc);
    return rc == MOTAN_OK;
}

/* Killed: down (503 saying why, heartbeats refused); restarted: up, and the first call works. */
START_TEST(backend_killed_and_restarted)
{
    fixture f;
    up(&f, _i, NULL);
    ok_tjson(tu_call(f.c, "add", "1", "2", NULL), "3"); /* a kept connection now */
    ck_assert(heartbeat_answered(&f));
    tu_backend_stop(&f.be);
    ck_assert(tu_agent_wait_backend(&f.ag, 0, ms(10000)));
    ck_assert(!heartbeat_answered(&f));
    motan_response *resp = tu_call(f.c, "add", "1", "2", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 503);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "is down (connect: Connection refused)"), "%s",
                  motan_response_get_errmsg(resp));
    motan_response_free(resp);
    ck_assert_int_eq((int)metric(&f, "motan_agent_backend_connections"), 0); /* the kept one left */
    if (_i) { /* the socket file gone too */
        unlink(f.be.path);
        uint64_t end = motan_now_us() + (uint64_t)ms(5000) * 1000u;
        for (;;) {
            resp = tu_call(f.c, "add", "1", "2", NULL);
            int hit = strstr(motan_response_get_errmsg(resp), "(connect: No such file or directory)") != NULL;
            motan_response_free(resp);
            if (hit)
                break;
            ck_assert(motan_now_us() < end);
            usleep(20000);
        }
    }
    ck_assert_int_eq(tu_backend_restart(&f.be), 0);
    ck_assert(tu_agent_wait_backend(&f.ag, 1, ms(10000)));
    ck_assert(heartbeat_answered(&f));
    ok_tjson(tu_call(f.c, "add", "2", "2", NULL), "4");
    down(&f);
}
END_TEST

/* A host name is resolved on the agent's loop (evdns, /etc/hosts): localhost works. */
START_TEST(host_names_resolve_on_the_loop)
{
    tu_backend be;
    ck_assert_int_eq(tu_backend_start(&be, 0), 0);
    char *y = tu_fmt("motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
                     "motan-service:\n  web:\n    path: " WEB "\n    proxyAddress: localhost:%d\n"
                     "    healthInterval: 100\n"
                     "  gone:\n    path: com.example.Gone\n    proxyAddress: nonexistent.invalid:80\n"
                     "    healthInterval: 100\n",
                     be.port);
    tu_agent ag;
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_agent_start(&ag, y), 0); /* no look-up holds the start */
    free(y);
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, (unsigned)ms(3000));
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/" WEB "?requestTimeout=%d", ag.eport, ms(8000));
    motan_client *c;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    motan_response *resp = NULL;
    uint64_t end = motan_now_us() + (uint64_t)ms(10000) * 1000u;
    for (;;) { /* up after the first probe */
        resp = tu_call(c, "add", "20", "22", NULL);
        if (motan_response_get_code(resp) == MOTAN_OK || motan_now_us() > end)
            break;
        motan_response_free(resp);
        usleep(20000);
    }
    ok_tjson(resp, "42");
    motan_client_free(c);
    /* the name that does not resolve: down, answered at once, the agent unaffected */
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.Gone?requestTimeout=%d", ag.eport, ms(8000));
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    resp = tu_call(c, "add", "1", "2", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 503);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "is down"), "%s", motan_response_get_errmsg(resp));
    motan_response_free(resp);
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&ag), 0);
    tu_backend_free(&be);
}
END_TEST

static const struct {
    const char *method;
    int errcode;
    const char *msg;
} hostile[] = {
    {"bad_garbage", 502, "sent a broken answer: the status line is not HTTP/1.x: \"SSH-2.0-OpenSSH_9.2\""},
    {"bad_bigheaders", 502, "sent a broken answer: a head larger than 65536 bytes"},
    {"bad_manyheaders", 502, "sent a broken answer: more than 100 header lines"},
    {"bad_longline", 502, "sent a broken answer: a line longer than 8192 bytes"},
    {"bad_truncchunk", 502, "sent a broken answer: the connection closed in the middle of the body"},
    {"bad_midclose", 502, "sent a broken answer: the connection closed in the middle of the body"},
    {"bad_hugelength", 502, "sent a broken answer: a body of 99999999999 bytes, over the limit of 10485760"},
    {"bad_endless", 502, "sent a broken answer: a body over the limit of 10485760 bytes"},
    {"bad_badlength", 502, "sent a broken answer: a bad Content-Length: \"12abc\""},
    {"bad_twolengths", 502, "sent a broken answer: two different Content-Lengths (4)"},
    {"bad_folded", 502, "sent a broken answer: an obsolete folded header line"},
    {"bad_silent", 503, "gave no answer: no answer within %d ms"},
    {"bad_slowloris", 503, "gave no answer: no answer within %d ms"},
};

/* Each hostile answer: a clear error within the timeout, and the next call works. */
START_TEST(hostile_backends_get_clear_errors)
{
    fixture f;
    /* under memcheck reading 10 MiB takes longer than 300 ms */
    int wrapped = getenv("MOTAN_AGENT_WRAPPER") && *getenv("MOTAN_AGENT_WRAPPER");
    int tmo = wrapped ? 5000 : 300;
    char *extra = tu_fmt("    requestTimeout: %d\n", tmo);
    up(&f, 1, extra);
    free(extra);
    long rss_first = 0;
    for (int round = 0; round < (wrapped ? 1 : 3); round++) { /* memcheck: leaks, not RSS */
        for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
            char want[200];
            snprintf(want, sizeof(want), hostile[i].msg, tmo);
            uint64_t t0 = motan_now_us();
            motan_response *resp = tu_call(f.c, hostile[i].method, NULL);
            uint64_t took_ms = (motan_now_us() - t0) / 1000;
            ck_assert_msg(motan_response_get_errcode(resp) == hostile[i].errcode, "%s: errcode %lld: %s",
                          hostile[i].method, (long long)motan_response_get_errcode(resp),
                          motan_response_get_errmsg(resp));
            ck_assert_int_eq(motan_response_get_errtype(resp), 1);
            ck_assert_msg(strstr(motan_response_get_errmsg(resp), want), "%s: %s",
                          hostile[i].method, motan_response_get_errmsg(resp));
            ck_assert_msg(took_ms < (unsigned)(tmo + ms(2000)), "%s took %llu ms", hostile[i].method,
                          (unsigned long long)took_ms);
            motan_response_free(resp);
            ok_tjson(tu_call(f.c, "add", "1", "1", NULL), "2");
        }
        /* none of it left a connection behind (the good calls' kept one aside) */
        ck_assert_int_le((int)metric(&f, "motan_agent_backend_connections"), 1);
        long rss = (long)metric(&f, "motan_agent_resident_memory_bytes") / 1024;
        if (round == 0)
            rss_first = rss;
        else if (!wrapped && !tu_slow()) /* memcheck and ASan keep freed memory on purpose */
            ck_assert_msg(rss - rss_first < 24 * 1024, "RSS grew from %ld to %ld KiB", rss_first, rss);
    }
    ck_assert(tu_agent_wait_backend(&f.ag, 1, ms(1000))); /* broken answers are not "down" */
    down(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_agent_backend");
    TCase *t = tcase_create("backend");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, mapping_is_the_same_on_both_transports, 0, 2);
    tcase_add_loop_test(t, keep_alive_reuses_connections, 0, 2);
    tcase_add_loop_test(t, a_closing_kept_connection_is_retried_once, 0, 2);
    tcase_add_loop_test(t, backend_killed_and_restarted, 0, 2);
    tcase_add_test(t, host_names_resolve_on_the_loop);
    tcase_add_test(t, hostile_backends_get_clear_errors);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
