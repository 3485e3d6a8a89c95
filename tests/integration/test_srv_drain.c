/*
 * Graceful drain (motan_server_shutdown): the exports go first, the listeners close, what is
 * in flight is answered and written, new requests get 503, heartbeats close their connection
 * (motan-go's 503 state), then the connections close; a timeout ends it all the same.
 * Registrations go through a recording registry plug-in (the motan_registry_ops extension).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "testutil.h"
#include "tu_srv.h"

#define TMO 5000

static int slow(void) { return tu_slow() ? 10 : 1; }

/* ---- a registry that records what it is told --------------------------------------------- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[4096];

static void logf_(const char *what, const motan_url *node)
{
    char *u = motan_url_format(node);
    pthread_mutex_lock(&g_mu);
    size_t n = strlen(g_log);
    snprintf(g_log + n, sizeof(g_log) - n, "%s %s\n", what, u);
    pthread_mutex_unlock(&g_mu);
    motan_free(u);
}

static int rec_create(motan_loop *l, const motan_url *u, void **state, char *e, size_t el)
{
    (void)l, (void)u, (void)e, (void)el;
    *state = g_log;
    return MOTAN_OK;
}
static void rec_destroy(void *st) { (void)st; }
static int rec_sub(void *st, const motan_url *s, motan_registry_listener cb, void *ud)
{
    (void)st, (void)s, (void)cb, (void)ud;
    return MOTAN_OK;
}
static int rec_register(void *st, const motan_url *node)
{
    (void)st;
    logf_("register", node);
    return MOTAN_OK;
}
static int rec_unregister(void *st, const motan_url *node)
{
    (void)st;
    logf_("unregister", node);
    return MOTAN_OK;
}

static const motan_registry_ops rec_ops = {
    .struct_size = sizeof(motan_registry_ops), .scheme = "rec", .create = rec_create,
    .destroy = rec_destroy, .subscribe = rec_sub, .unsubscribe = rec_sub,
    .register_node = rec_register, .unregister_node = rec_unregister,
};

static const char *log_text(void)
{
    static char copy[4096];
    pthread_mutex_lock(&g_mu);
    memcpy(copy, g_log, sizeof(copy));
    pthread_mutex_unlock(&g_mu);
    return copy;
}

/* ---- held replies, answered by a thread when released -------------------------------------- */

static pthread_mutex_t h_mu = PTHREAD_MUTEX_INITIALIZER;
static motan_reply *h_q[64];
static int h_n;

static void h_hold(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    (void)ud;
    pthread_mutex_lock(&h_mu);
    h_q[h_n++] = reply;
    pthread_mutex_unlock(&h_mu);
}

static int held(void)
{
    pthread_mutex_lock(&h_mu);
    int n = h_n;
    pthread_mutex_unlock(&h_mu);
    return n;
}

static void *answer_all(void *arg)
{
    usleep((useconds_t)(intptr_t)arg * 1000);
    pthread_mutex_lock(&h_mu);
    for (int i = 0; i < h_n; i++)
        motan_reply_send(h_q[i], motan_value_new_int64(motan_reply_arena(h_q[i]), i));
    h_n = 0;
    pthread_mutex_unlock(&h_mu);
    return NULL;
}

static void wait_held(int n)
{
    uint64_t t0 = motan_now_us();
    while (held() < n && motan_now_us() - t0 < (uint64_t)TMO * 1000)
        usleep(1000);
    ck_assert_int_eq(held(), n);
}

static motan_registry *start(tu_srv *t, int builtin)
{
    tu_srv_start(t, builtin, NULL);
    motan_registry_register_ops(&rec_ops); /* once per process; later calls: EINVAL */
    g_log[0] = '\0';
    h_n = 0;
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "hold", h_hold, NULL), MOTAN_OK);
    motan_url *u = tu_url("rec://x");
    motan_registry *reg;
    char err[256];
    ck_assert_int_eq(motan_registry_new(t->e.loop, u, &reg, err, sizeof(err)), MOTAN_OK);
    motan_url_free(u);
    /* Port 0: the listener's. */
    ck_assert_int_eq(motan_server_export(t->s, reg, "motan2://127.0.0.1:0/" TU_SVC "?group=g1", err,
                                         sizeof(err)), MOTAN_OK);
    char want[256];
    snprintf(want, sizeof(want), "register motan2://127.0.0.1:%d/%s?group=g1&nodeType=service\n",
             t->port, TU_SVC);
    ck_assert_str_eq(log_text(), want);
    return reg;
}

/* The server, then the registry it exported through, then the loop of both. */
static void stop(tu_srv *t, motan_registry *reg)
{
    motan_server_free(t->s);
    t->s = NULL;
    motan_registry_free(reg);
    tu_srv_stop(t);
}

static void request(tu_wire *w, uint64_t id, const char *method)
{
    ck_assert_int_eq(tu_wire_request(w, id, MOTAN_SER_SIMPLE, TU_SVC, method, NULL, NULL, 0), 0);
}

/* ---- tests ---------------------------------------------------------------------------------- */

START_TEST(drain_answers_what_is_in_flight)
{
    tu_srv t;
    motan_registry *reg = start(&t, 1);
    tu_wire w, idle;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_open(&idle, t.port), 0);
    for (uint64_t i = 1; i <= 5; i++)
        request(&w, i, "hold");
    wait_held(5);
    /* The answers come 300 ms into the drain; shutdown waits for them. */
    pthread_t th;
    uint64_t t0 = motan_now_us(); /* before the thread: its 300 ms start at its creation */
    pthread_create(&th, NULL, answer_all, (void *)(intptr_t)300);
    ck_assert_int_eq(motan_server_shutdown(t.s, 5000 * slow()), MOTAN_OK);
    uint64_t took = (motan_now_us() - t0) / 1000;
    ck_assert_msg(took >= 280, "%llu ms", (unsigned long long)took);
    pthread_join(th, NULL);
    /* Unregistered first. */
    ck_assert_msg(strstr(log_text(), "\nunregister motan2://127.0.0.1:"), "%s", log_text());
    /* Every answer was written, then the connection closed; the idle one closed too. */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
        ck_assert_int_eq(motan_frame_get_status(w.f), 0);
    }
    ck_assert_int_eq(tu_wire_until_closed(&w, TMO), TU_WIRE_EOF);
    ck_assert_int_eq(tu_wire_until_closed(&idle, TMO), TU_WIRE_EOF);
    /* Nobody is listening any more. */
    tu_wire x;
    ck_assert_int_eq(tu_wire_open(&x, t.port), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    ck_assert_uint_eq(motan_server_stat(t.s, "connections"), 0);
    ck_assert_int_eq(motan_server_shutdown(t.s, 100), MOTAN_ECLOSED);
    char err[256];
    ck_assert_int_eq(motan_server_listen(t.s, "127.0.0.1:0", NULL, err, sizeof(err)), MOTAN_ECLOSED);
    tu_wire_close(&w);
    tu_wire_close(&idle);
    stop(&t, reg);
}
END_TEST

typedef struct drained {
    int calls, code;
    motan_server **free_it;
} drained;

static void on_drained(motan_server *s, int code, void *ud)
{
    drained *d = ud;
    d->calls++;
    d->code = code;
    if (d->free_it) {
        motan_server_free(s); /* allowed: completion runs on its own event */
        *d->free_it = NULL;
    }
}

START_TEST(new_requests_and_heartbeats_during_a_drain)
{
    tu_srv t;
    motan_registry *reg = start(&t, 0); /* the test's loop: everything below runs in it */
    tu_wire a, b, c;
    ck_assert_int_eq(tu_wire_open(&a, t.port), 0);
    ck_assert_int_eq(tu_wire_open(&b, t.port), 0);
    ck_assert_int_eq(tu_wire_open(&c, t.port), 0);
    request(&a, 1, "hold");
    while (held() < 1)
        tu_run_once(&t.e);
    drained d = {0, 0, &t.s};
    ck_assert_int_eq(motan_server_shutdown(t.s, 1000), MOTAN_EDEADLOCK);
    ck_assert_int_eq(motan_server_shutdown_async(t.s, 5000 * slow(), on_drained, &d), MOTAN_OK);
    /* b: a request now is refused with 503; c: a heartbeat closes it (no answer). */
    request(&b, 2, "hold");
    motan_buf *hb = motan_buf_new(0);
    motan_frame_write_heartbeat(hb, 3, 0);
    ck_assert_int_eq(tu_wire_send(&c, motan_buf_data(hb), motan_buf_len(hb)), 0);
    /* a: its heartbeat does not cut off the answer it is still owed. */
    ck_assert_int_eq(tu_wire_send(&a, motan_buf_data(hb), motan_buf_len(hb)), 0);
    motan_buf_free(hb);
    tu_run_for(&t.e, 100);
    ck_assert_int_eq(d.calls, 0);
    ck_assert_int_eq(tu_wire_frame(&b, TMO), MOTAN_OK);
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, b.f);
    ck_assert_int_eq(motan_response_get_errcode(resp), 503);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "service unavailable: the server is shutting down");
    motan_response_free(resp);
    ck_assert_int_eq(tu_wire_until_closed(&c, 10), TU_WIRE_EOF);
    ck_assert_uint_eq(tu_wire_buffered(&c), 0);
    /* The held answer goes out, then everything closes and the callback frees the server. */
    answer_all(0);
    uint64_t t0 = motan_now_us();
    while (!d.calls && motan_now_us() - t0 < (uint64_t)TMO * 1000)
        tu_run_once(&t.e);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.code, MOTAN_OK);
    ck_assert_ptr_null(t.s);
    ck_assert_int_eq(tu_wire_frame(&a, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(a.f), 1);
    ck_assert_int_eq(tu_wire_until_closed(&a, TMO), TU_WIRE_EOF);
    ck_assert_int_eq(tu_wire_until_closed(&b, TMO), TU_WIRE_EOF);
    tu_wire_close(&a);
    tu_wire_close(&b);
    tu_wire_close(&c);
    stop(&t, reg);
}
END_TEST

START_TEST(drain_timeout)
{
    tu_srv t;
    motan_registry *reg = start(&t, 1);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    request(&w, 1, "hold");
    wait_held(1);
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(motan_server_shutdown(t.s, 300), MOTAN_ETIMEOUT);
    ck_assert_uint_ge((motan_now_us() - t0) / 1000, 295);
    ck_assert_int_eq(tu_wire_until_closed(&w, TMO), TU_WIRE_EOF);
    answer_all(0); /* too late: freed, not sent */
    tu_wire_close(&w);
    stop(&t, reg);
}
END_TEST

START_TEST(free_during_a_drain)
{
    tu_srv t;
    motan_registry *reg = start(&t, 1);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    request(&w, 1, "hold");
    wait_held(1);
    static drained d;
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(motan_server_shutdown_async(t.s, 5000, on_drained, &d), MOTAN_OK);
    motan_server_free(t.s);
    t.s = NULL;
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.code, MOTAN_ECANCELLED);
    answer_all(0);
    ck_assert_int_eq(tu_wire_until_closed(&w, TMO), TU_WIRE_EOF);
    /* Unregistered once, by the drain. */
    const char *log = log_text(), *first = strstr(log, "unregister");
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(strstr(first + 1, "unregister"));
    tu_wire_close(&w);
    stop(&t, reg);
}
END_TEST

START_TEST(export_urls_are_checked)
{
    tu_srv t;
    motan_registry *reg = start(&t, 1);
    char err[256];
    ck_assert_int_eq(motan_server_export(t.s, reg, "motan2://127.0.0.1:1/" TU_SVC "?gruop=g", err,
                                         sizeof(err)), MOTAN_EURL);
    ck_assert_str_eq(err, "unknown export parameter \"gruop\" (did you mean \"group\"?)");
    ck_assert_int_eq(motan_server_export(t.s, reg, "http://127.0.0.1:1/" TU_SVC, err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_int_eq(motan_server_export(t.s, reg, "motan2://127.0.0.1:1/", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_int_eq(motan_server_export(t.s, reg, "motan2://127.0.0.1:1/" TU_SVC "?nodeType=referer",
                                         err, sizeof(err)), MOTAN_EURL);
    ck_assert_int_eq(motan_server_export(t.s, reg, "motan2://127.0.0.1:1/" TU_SVC "?mingzSize=x", err,
                                         sizeof(err)), MOTAN_EURL);
    /* Without a registry: only the service's parameters. */
    ck_assert_int_eq(motan_server_export(t.s, NULL, "motan2://127.0.0.1:1/" TU_SVC "?mingzSize=5", err,
                                         sizeof(err)), MOTAN_OK);
    ck_assert_ptr_null(strstr(log_text(), ":1/"));
    motan_server_free(t.s); /* unregisters what is still exported */
    t.s = NULL;
    ck_assert_msg(strstr(log_text(), "\nunregister motan2://127.0.0.1:"), "%s", log_text());
    stop(&t, reg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_srv_drain");
    TCase *t = tcase_create("drain");
    tcase_set_timeout(t, 60 * slow());
    tcase_add_test(t, drain_answers_what_is_in_flight);
    tcase_add_test(t, new_requests_and_heartbeats_during_a_drain);
    tcase_add_test(t, drain_timeout);
    tcase_add_test(t, free_during_a_drain);
    tcase_add_test(t, export_urls_are_checked);
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
