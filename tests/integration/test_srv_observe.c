/*
 * Filters on the server layer's dispatch: the `filter` server parameter, metrics counted as
 * motan_server_* series for every way a request is answered (a value, an exception, the
 * server's own 404/500, a deadline, a reply finished on another thread, a request still open
 * when the server goes), a filter refusing a request, the server span of the trace filter
 * (a child of the client's), and one stats source fed by a client and a server (an agent's
 * /metrics), checked with the Prometheus format reader.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <motan/motan.h>

#include "testutil.h"
#include "tu_prom.h"
#include "tu_srv.h"

/* ---- handlers ------------------------------------------------------------------------------ */

static void h_fail(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    (void)ud;
    motan_reply_error(reply, 30001, 2, "no", 2);
}

/* Finishes echo from a thread of its own after ms (the inbox path). */
typedef struct later {
    motan_reply *reply;
    int ms;
} later;

static void *later_thread(void *arg)
{
    later *l = arg;
    usleep((useconds_t)l->ms * 1000);
    const motan_server_request *req = motan_reply_request(l->reply);
    const motan_value *args = NULL;
    motan_server_request_args(req, &args, NULL, 0);
    motan_reply_send(l->reply, motan_value_at(args, 0));
    free(l);
    return NULL;
}

static void h_later(const motan_server_request *req, motan_reply *reply, void *ud)
{
    const motan_value *args = NULL;
    motan_server_request_args(req, &args, NULL, 0);
    later *l = malloc(sizeof(*l));
    l->reply = reply;
    l->ms = (int)(intptr_t)ud;
    pthread_t t;
    pthread_create(&t, NULL, later_thread, l);
    pthread_detach(t);
}

/* Answers the server span (motan_reply_traceparent), "" without one. */
static void h_span(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    (void)ud;
    const char *tp = motan_reply_traceparent(reply);
    motan_reply_send(reply, motan_value_new_string(motan_reply_arena(reply), tp ? tp : "",
                                                   tp ? strlen(tp) : 0));
}

/* Keeps the reply: it is still open when the server is freed. */
static motan_reply *g_kept;
static void h_keep(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    (void)ud;
    g_kept = reply;
}

/* ---- filters ------------------------------------------------------------------------------- */

static int deny_before(void *st, motan_filter_call *call)
{
    (void)st;
    if (!motan_filter_call_get_meta(call, "X-Deny"))
        return MOTAN_OK;
    motan_filter_call_set_errmsg(call, "not today");
    return MOTAN_EBUSY;
}

static char g_parent[32], g_side[16];
static int span_before(void *st, motan_filter_call *call)
{
    (void)st;
    const char *p = motan_filter_call_parent_span_id(call);
    snprintf(g_parent, sizeof(g_parent), "%s", p ? p : "(none)");
    snprintf(g_side, sizeof(g_side), "%s",
             motan_filter_call_side(call) == MOTAN_SIDE_SERVER ? "server" : "client");
    return MOTAN_OK;
}

static void register_filters(void)
{
    static int done;
    if (done++)
        return;
    motan_filter_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.struct_size = sizeof(ops);
    ops.name = "srvDeny";
    ops.before = deny_before;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
    ops.name = "srvSpan";
    ops.before = span_before;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* A server on a built-in loop: params, then stats (may be NULL), then handlers, then listen. */
static void start(tu_srv *t, const char *filters, motan_stats *stats)
{
    char err[512] = "";
    memset(t, 0, sizeof(*t));
    register_filters();
    tu_env_init_builtin(&t->e);
    ck_assert_int_eq(motan_server_new(t->e.loop, &t->s, err, sizeof(err)), MOTAN_OK);
    if (stats)
        ck_assert_int_eq(motan_server_set_stats(t->s, stats), MOTAN_OK);
    if (filters)
        ck_assert_msg(motan_server_set(t->s, NULL, "filter", filters, err, sizeof(err)) == MOTAN_OK,
                      "%s", err);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "fail", h_fail, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "later", h_later, (void *)(intptr_t)20),
                     MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "hold", h_later, (void *)(intptr_t)300),
                     MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "span", h_span, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "keep", h_keep, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_listen(t->s, "127.0.0.1:0", &t->port, err, sizeof(err)),
                     MOTAN_OK);
}

static int call(motan_client *c, const char *method, const char *mk, motan_response **keep)
{
    motan_request *r = motan_client_request(c, method);
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 7));
    if (mk)
        motan_request_set_meta(r, mk, "1");
    motan_response *resp = NULL;
    int rc = motan_client_call(c, r, &resp);
    if (keep)
        *keep = resp;
    else
        motan_response_free(resp);
    motan_request_free(r);
    return rc;
}

/* The server call series (service, method) of a walk. */
typedef struct found {
    const char *service, *method;
    int seen;
    uint64_t count, ok, in_flight, codes[32];
    int code_of[32];
    size_t ncodes;
    uint64_t sum_us;
} found;

static int find_visit(const motan_stats_series *s, void *ud)
{
    found *f = ud;
    if (s->kind != MOTAN_STATS_CALL || strcmp(s->side, "server") || strcmp(s->service, f->service) ||
        strcmp(s->method, f->method))
        return 0;
    f->seen = 1;
    f->count = s->count;
    f->ok = s->ok;
    f->in_flight = s->in_flight;
    f->sum_us = s->sum_us;
    f->ncodes = s->ncodes;
    for (size_t i = 0; i < s->ncodes && i < 32; i++) {
        f->code_of[i] = s->codes[i];
        f->codes[i] = s->code_counts[i];
    }
    return 0;
}

static found series_of(motan_stats *st, const char *service, const char *method)
{
    found f;
    memset(&f, 0, sizeof(f));
    f.service = service;
    f.method = method;
    ck_assert_int_eq(motan_stats_walk(st, find_visit, &f), MOTAN_OK);
    return f;
}

/* Waits for the counts of a series to reach n (replies end on the loop thread). */
static found wait_count(motan_stats *st, const char *service, const char *method, uint64_t n)
{
    found f = series_of(st, service, method);
    for (int i = 0; i < 500 && f.count < n; i++) {
        usleep(10000);
        f = series_of(st, service, method);
    }
    return f;
}

/* ---- tests --------------------------------------------------------------------------------- */

START_TEST(test_server_metrics)
{
    tu_srv t;
    start(&t, "metrics,accessLog", NULL);
    motan_client *c = tu_srv_client(&t, "requestTimeout=2000");
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(call(c, "echo", NULL, NULL), MOTAN_OK);
    for (int i = 0; i < 3; i++) /* finished on another thread */
        ck_assert_int_eq(call(c, "later", NULL, NULL), MOTAN_OK);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(call(c, "fail", NULL, NULL), MOTAN_EREMOTE);
    ck_assert_int_eq(call(c, "nosuch", NULL, NULL), MOTAN_EREMOTE); /* the server's 500 */
    motan_client_free(c);
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.Nobody", t.port);
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(call(c, "echo", NULL, NULL), MOTAN_EREMOTE); /* the server's 404 */
    motan_client_free(c);
    /* The deadline the client sent (M_tmo) answers first; the handler finishing later does
     * not count again. The client stays until the server has counted it: its close, racing
     * the server's deadline, would count as a lost connection. */
    motan_client *holder = tu_srv_client(&t, "requestTimeout=100");
    int rc = call(holder, "hold", NULL, NULL);
    ck_assert(rc == MOTAN_EREMOTE || rc == MOTAN_ETIMEOUT);

    motan_stats *st = motan_server_get_stats(t.s);
    found e = wait_count(st, TU_SVC, "echo", 5);
    ck_assert_uint_eq(e.count, 5);
    ck_assert_uint_eq(e.ok, 5);
    ck_assert_uint_eq(e.in_flight, 0);
    found l = wait_count(st, TU_SVC, "later", 3);
    ck_assert_uint_eq(l.ok, 3);
    ck_assert_uint_ge(l.sum_us, 3 * 15000); /* each waited 20 ms on its thread */
    found f = series_of(st, TU_SVC, "fail");
    ck_assert_uint_eq(f.count, 2);
    ck_assert_int_eq(f.ncodes, 1);
    ck_assert_int_eq(f.code_of[0], MOTAN_EREMOTE);
    ck_assert_uint_eq(f.codes[0], 2);
    ck_assert_uint_eq(series_of(st, TU_SVC, "nosuch").count, 1);
    found n = series_of(st, "", "echo"); /* an unknown service has no stable name */
    ck_assert_uint_eq(n.count, 1);
    ck_assert_int_eq(n.code_of[0], MOTAN_EREMOTE);
    found h = wait_count(st, TU_SVC, "hold", 1);
    motan_client_free(holder);
    ck_assert_uint_eq(h.count, 1);
    ck_assert_int_eq(h.code_of[0], MOTAN_ETIMEOUT);
    usleep(400000); /* the handler finishes now: nothing more is counted */
    h = series_of(st, TU_SVC, "hold");
    ck_assert_uint_eq(h.count, 1);
    ck_assert_uint_eq(h.in_flight, 0);

    char *prom;
    ck_assert_int_eq(motan_stats_prometheus(&st, 1, &prom, NULL), MOTAN_OK);
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    ck_assert_str_eq(tu_prom_type(&p, "motan_server_calls_total"), "counter");
    ck_assert_str_eq(tu_prom_type(&p, "motan_server_call_duration_seconds"), "histogram");
    ck_assert_double_eq(tu_prom_value(&p, "motan_server_calls_total{service=\"" TU_SVC "\","
                                          "group=\"\",method=\"echo\",code=\"MOTAN_OK\"}"),
                        5);
    ck_assert_double_eq(tu_prom_value(&p, "motan_server_calls_in_flight{service=\"" TU_SVC "\","
                                          "group=\"\",method=\"echo\"}"),
                        0);
    ck_assert_ptr_null(tu_prom_type(&p, "motan_client_calls_total"));
    tu_prom_free(&p);
    motan_free(prom);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(test_server_rejecting_filter)
{
    tu_srv t;
    start(&t, "metrics,srvDeny", NULL);
    motan_client *c = tu_srv_client(&t, NULL);
    motan_response *resp;
    ck_assert_int_eq(call(c, "echo", "X-Deny", &resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 503);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "rejected by filter srvDeny: not today");
    motan_response_free(resp);
    ck_assert_int_eq(call(c, "echo", NULL, NULL), MOTAN_OK);
    motan_client_free(c);
    found e = wait_count(motan_server_get_stats(t.s), TU_SVC, "echo", 2);
    ck_assert_uint_eq(e.count, 2);
    ck_assert_uint_eq(e.ok, 1);
    ck_assert_int_eq(e.code_of[0], MOTAN_EBUSY); /* the filter's code, not the answer's */
    tu_srv_stop(&t);
}
END_TEST

START_TEST(test_server_span)
{
    tu_srv t;
    start(&t, "trace,srvSpan", NULL);
    motan_client *c = tu_srv_client(&t, "filter=trace");
    motan_request *r = motan_client_request(c, "span");
    const char *parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    motan_request_set_meta(r, "traceparent", parent);
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    const char *span = motan_value_get_data(motan_response_get_value(resp), NULL);
    ck_assert_uint_eq(strlen(span), 55);
    ck_assert_int_eq(strncmp(span, parent, 36), 0); /* the same trace */
    /* The server span's parent is the client's span (not the caller's): three levels. */
    ck_assert_str_eq(g_side, "server");
    ck_assert_uint_eq(strlen(g_parent), 16);
    ck_assert_str_ne(g_parent, "00f067aa0ba902b7");
    ck_assert_int_ne(strncmp(span + 36, g_parent, 16), 0);
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
    tu_srv_stop(&t);

    start(&t, "metrics", NULL); /* no trace filter: no span */
    c = tu_srv_client(&t, "filter=trace");
    ck_assert_int_eq(call(c, "span", NULL, &resp), MOTAN_OK);
    ck_assert_str_eq(motan_value_get_data(motan_response_get_value(resp), NULL), "");
    motan_response_free(resp);
    motan_client_free(c);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(test_one_source_for_client_and_server)
{
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    tu_srv t;
    start(&t, "metrics", st);
    ck_assert_ptr_eq(motan_server_get_stats(t.s), st);
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/%s?filter=metrics", t.port, TU_SVC);
    motan_config *cfg;
    ck_assert_int_eq(motan_config_new(url, &cfg, err, sizeof(err)), MOTAN_OK);
    motan_config_set_stats(cfg, st);
    motan_client *c;
    ck_assert_int_eq(motan_client_new_config(cfg, NULL, &c, err, sizeof(err)), MOTAN_OK);
    motan_config_free(cfg);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(call(c, "echo", NULL, NULL), MOTAN_OK);
    wait_count(st, TU_SVC, "echo", 4);
    char *prom;
    ck_assert_int_eq(motan_stats_prometheus(&st, 1, &prom, NULL), MOTAN_OK);
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"" TU_SVC "\","
                                          "group=\"default_rpc\",method=\"echo\",code=\"MOTAN_OK\"}"),
                        4);
    ck_assert_double_eq(tu_prom_value(&p, "motan_server_calls_total{service=\"" TU_SVC "\","
                                          "group=\"\",method=\"echo\",code=\"MOTAN_OK\"}"),
                        4);
    tu_prom_free(&p);
    motan_free(prom);
    motan_client_free(c);
    motan_stats_free(st); /* the server keeps it */
    tu_srv_stop(&t);
}
END_TEST

START_TEST(test_open_reply_at_free)
{
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    tu_srv t;
    start(&t, "metrics", st);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "keep", NULL, NULL, 0), 0);
    ck_assert(tu_srv_wait_stat(&t, "open_replies", 1, 1, 5000));
    ck_assert_uint_eq(series_of(st, TU_SVC, "keep").in_flight, 1);
    tu_srv_stop(&t); /* the reply is still with its handler */
    found k = series_of(st, TU_SVC, "keep");
    ck_assert_uint_eq(k.count, 1);
    ck_assert_uint_eq(k.in_flight, 0);
    ck_assert_int_eq(k.code_of[0], MOTAN_ECANCELLED);
    motan_reply_discard(g_kept); /* finished after the free: it only frees itself */
    tu_wire_close(&w);
    motan_stats_free(st);
}
END_TEST

START_TEST(test_filter_parameter)
{
    tu_srv t;
    register_filters();
    tu_env_init_builtin(&t.e);
    char err[256];
    ck_assert_int_eq(motan_server_new(t.e.loop, &t.s, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_set(t.s, NULL, "filter", "metrics,nope", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err, "unknown filter \"nope\"");
    ck_assert_int_eq(motan_server_set(t.s, TU_SVC, "filter", "metrics", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_int_eq(motan_server_set(t.s, NULL, "filter", "metrics", err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_listen(t.s, "127.0.0.1:0", &t.port, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_set(t.s, NULL, "filter", "trace", err, sizeof(err)), MOTAN_EINVAL);
    motan_stats *st;
    motan_stats_new(&st);
    ck_assert_int_eq(motan_server_set_stats(t.s, st), MOTAN_EINVAL);
    ck_assert_int_eq(motan_server_set_stats(NULL, st), MOTAN_EINVAL);
    motan_stats_free(st);
    ck_assert_ptr_nonnull(motan_server_get_stats(t.s));
    ck_assert_ptr_null(motan_server_get_stats(NULL));
    ck_assert_ptr_null(motan_reply_traceparent(NULL));
    tu_srv_stop(&t);
}
END_TEST

static Suite *srv_observe_suite(void)
{
    Suite *s = suite_create("srv_observe");
    TCase *tc = tcase_create("srv_observe");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_server_metrics);
    tcase_add_test(tc, test_server_rejecting_filter);
    tcase_add_test(tc, test_server_span);
    tcase_add_test(tc, test_one_source_for_client_and_server);
    tcase_add_test(tc, test_open_reply_at_free);
    tcase_add_test(tc, test_filter_parameter);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(srv_observe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
