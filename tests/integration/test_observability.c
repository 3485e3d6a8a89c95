/*
 * Observability end to end against the test server: filters named in the client URL run in
 * order around every call and attempt, may reject a call or add metadata (without touching
 * the caller's request); stats match a known sequence of successes, failures and timeouts
 * exactly (JSON, walker, Prometheus text checked by tu_prom); clients share a stats source;
 * the trace filter's traceparent is what the server sees (meta() echoes the metadata);
 * phases are measured when a filter asks; the log sink takes lines from many threads while
 * it is being swapped (run under TSan), and libevent's and ZooKeeper's lines too.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"
#include "tu_prom.h"

static tu_server g_srv;
static char g_url[256];
static char g_ep[64];

/* ---- test filters ------------------------------------------------------------------------ */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_trail[4096];
static char g_details[512];

static void note(const char *who, const char *what)
{
    pthread_mutex_lock(&g_mu);
    size_t n = strlen(g_trail);
    snprintf(g_trail + n, sizeof(g_trail) - n, "%s%s.%s", n ? " " : "", who, what);
    pthread_mutex_unlock(&g_mu);
}

static int rec_before(void *st, motan_filter_call *call)
{
    (void)call;
    note(st, "before");
    return MOTAN_OK;
}
static void rec_astart(void *st, motan_filter_call *call)
{
    char w[32];
    snprintf(w, sizeof(w), "astart%d", motan_filter_call_attempt(call));
    note(st, w);
}
static void rec_aend(void *st, motan_filter_call *call)
{
    char w[64];
    snprintf(w, sizeof(w), "aend%d:%s", motan_filter_call_attempt(call),
             motan_errname(motan_filter_call_code(call)));
    note(st, w);
}
static void rec_after(void *st, motan_filter_call *call)
{
    char w[64];
    snprintf(w, sizeof(w), "after:%s", motan_errname(motan_filter_call_code(call)));
    note(st, w);
    if (strcmp(st, "rec1"))
        return;
    const motan_response *r = motan_filter_call_response(call);
    pthread_mutex_lock(&g_mu);
    snprintf(g_details, sizeof(g_details), "%s|%s|%s|%s|%d|%d|req>0:%d|resp=%zu/%zu|lat>0:%d",
             motan_filter_call_side(call) == MOTAN_SIDE_CLIENT ? "client" : "server",
             motan_filter_call_service(call), motan_filter_call_group(call),
             motan_filter_call_method(call), motan_filter_call_serialization(call),
             motan_filter_call_attempts(call), motan_filter_call_request_size(call) > 0,
             motan_filter_call_response_size(call), r ? motan_response_get_body_size(r) : 0,
             motan_filter_call_latency_us(call) > 0);
    pthread_mutex_unlock(&g_mu);
}

static int deny_before(void *st, motan_filter_call *call)
{
    (void)st;
    if (!motan_filter_call_get_meta(call, "X-Deny"))
        return MOTAN_OK;
    motan_filter_call_set_errmsg(call, "denied by test");
    return MOTAN_EBUSY;
}

static int tenant_before(void *st, motan_filter_call *call)
{
    (void)st;
    return motan_filter_call_set_meta(call, "X-Tenant", "t1");
}

/* An "exporter": the span (traceparent) at start, phases per attempt, latency at the end. */
static char g_span[64], g_rid[32];
static uint64_t g_phase[MOTAN_PHASE_COUNT], g_attempt_us, g_call_us;

static int span_before(void *st, motan_filter_call *call)
{
    (void)st;
    const char *tp = motan_filter_call_traceparent(call);
    const char *rid = motan_filter_call_request_id(call);
    pthread_mutex_lock(&g_mu);
    snprintf(g_span, sizeof(g_span), "%s", tp ? tp : "(none)");
    snprintf(g_rid, sizeof(g_rid), "%s", rid ? rid : "(none)");
    pthread_mutex_unlock(&g_mu);
    return MOTAN_OK;
}
static void span_aend(void *st, motan_filter_call *call)
{
    (void)st;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < MOTAN_PHASE_COUNT; i++)
        g_phase[i] = motan_filter_call_phase_us(call, i);
    g_attempt_us = motan_filter_call_latency_us(call);
    pthread_mutex_unlock(&g_mu);
}
static void span_after(void *st, motan_filter_call *call)
{
    (void)st;
    pthread_mutex_lock(&g_mu);
    g_call_us = motan_filter_call_latency_us(call);
    pthread_mutex_unlock(&g_mu);
}

static void register_filters(void)
{
    static int done;
    if (done++)
        return; /* CK_FORK=no: once per process */
    motan_filter_ops ops;
    const char *recs[] = {"rec1", "rec2"};
    for (int i = 0; i < 2; i++) {
        memset(&ops, 0, sizeof(ops));
        ops.struct_size = sizeof(ops);
        ops.name = recs[i];
        ops.userdata = (void *)recs[i];
        ops.before = rec_before;
        ops.attempt_start = rec_astart;
        ops.attempt_end = rec_aend;
        ops.after = rec_after;
        ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
    }
    memset(&ops, 0, sizeof(ops));
    ops.struct_size = sizeof(ops);
    ops.name = "deny";
    ops.before = deny_before;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
    ops.name = "tenant";
    ops.before = tenant_before;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
    memset(&ops, 0, sizeof(ops));
    ops.struct_size = sizeof(ops);
    ops.name = "spans";
    ops.flags = MOTAN_FILTER_PHASES;
    ops.before = span_before;
    ops.attempt_end = span_aend;
    ops.after = span_after;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
}

static void setup(void)
{
    const char *args[] = {"--name", "s0", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
    snprintf(g_url, sizeof(g_url), "motan2://127.0.0.1:%d/com.example.EchoService", g_srv.port);
    snprintf(g_ep, sizeof(g_ep), "127.0.0.1:%d", g_srv.port);
    register_filters();
    g_trail[0] = '\0';
}

static void teardown(void) { ck_assert_int_eq(tu_server_stop(&g_srv), 0); }

static motan_client *client_for(const char *params)
{
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s?%s", g_url, params);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s: %s", url, err);
    return c;
}

static int call1(motan_client *c, const char *method, const char *arg, int timeout_ms,
                 const char *mk, const char *mv, motan_response **keep)
{
    motan_request *r = motan_client_request(c, method);
    if (arg) {
        motan_value *v;
        ck_assert_int_eq(motan_tjson_parse(arg, strlen(arg), motan_request_arena(r), &v, NULL, 0),
                         MOTAN_OK);
        motan_request_add_arg(r, v);
    }
    if (timeout_ms)
        motan_request_set_timeout(r, timeout_ms);
    if (mk)
        ck_assert_int_eq(motan_request_set_meta(r, mk, mv), MOTAN_OK);
    motan_response *resp = NULL;
    int rc = motan_client_call(c, r, &resp);
    if (keep)
        *keep = resp;
    else
        motan_response_free(resp);
    motan_request_free(r);
    return rc;
}

static json_t *stats_of(motan_client *c)
{
    char *text = motan_client_stats_json(c);
    ck_assert_ptr_nonnull(text);
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "%s: %s", e.text, text);
    motan_free(text);
    return j;
}

/* The series of kind with method (and endpoint, for attempts), or NULL. */
static json_t *series(json_t *j, const char *kind, const char *method, const char *endpoint)
{
    json_t *all = json_object_get(j, "series"), *s;
    size_t i;
    json_array_foreach(all, i, s)
    {
        const char *m = json_string_value(json_object_get(s, "method"));
        const char *e = json_string_value(json_object_get(s, "endpoint"));
        if (!strcmp(json_string_value(json_object_get(s, "kind")), kind) &&
            (!method || (m && !strcmp(m, method))) && (!endpoint || (e && !strcmp(e, endpoint))))
            return s;
    }
    return NULL;
}

static long long num(json_t *s, const char *key)
{
    json_t *v = json_object_get(s, key);
    ck_assert_msg(v != NULL, "no %s", key);
    return json_integer_value(v);
}

static long long err_count(json_t *s, const char *code)
{
    return json_integer_value(json_object_get(json_object_get(s, "errors"), code));
}

/* ---- order ------------------------------------------------------------------------------- */

START_TEST(test_filters_in_order)
{
    motan_client *c = client_for("filter=rec1,rec2&retries=2");
    motan_response *resp;
    ck_assert_int_eq(call1(c, "echo", "\"hi\"", 0, NULL, NULL, &resp), MOTAN_OK);
    ck_assert_str_eq(g_trail, "rec1.before rec2.before rec1.astart0 rec2.astart0 "
                              "rec2.aend0:MOTAN_OK rec1.aend0:MOTAN_OK "
                              "rec2.after:MOTAN_OK rec1.after:MOTAN_OK");
    char want[512];
    snprintf(want, sizeof(want),
             "client|com.example.EchoService|default_rpc|echo|6|1|req>0:1|resp=%zu/%zu|lat>0:1",
             motan_response_get_body_size(resp), motan_response_get_body_size(resp));
    ck_assert_str_eq(g_details, want);
    ck_assert_uint_eq(motan_response_get_body_size(resp), 7); /* Simple "hi" */
    /* Without a filter asking, no phase is measured. */
    for (int i = 0; i < MOTAN_PHASE_COUNT; i++)
        ck_assert_uint_eq(motan_response_get_phase_us(resp, i), 0);
    motan_response_free(resp);

    /* Every attempt of a failing call: the connection is closed under each of the three. */
    g_trail[0] = '\0';
    ck_assert_int_eq(call1(c, "echo", "1", 0, "X-Fault", "close", NULL), MOTAN_ECONNECT);
    ck_assert_str_eq(g_trail,
                     "rec1.before rec2.before "
                     "rec1.astart0 rec2.astart0 rec2.aend0:MOTAN_ECONNECT rec1.aend0:MOTAN_ECONNECT "
                     "rec1.astart1 rec2.astart1 rec2.aend1:MOTAN_ECONNECT rec1.aend1:MOTAN_ECONNECT "
                     "rec1.astart2 rec2.astart2 rec2.aend2:MOTAN_ECONNECT rec1.aend2:MOTAN_ECONNECT "
                     "rec2.after:MOTAN_ECONNECT rec1.after:MOTAN_ECONNECT");
    motan_client_free(c);
}
END_TEST

/* ---- rejection ----------------------------------------------------------------------------- */

START_TEST(test_rejecting_filter)
{
    motan_client *c = client_for("filter=metrics,rec1,deny,rec2");
    motan_response *resp;
    ck_assert_int_eq(call1(c, "echo", "1", 0, "X-Deny", "1", &resp), MOTAN_EBUSY);
    ck_assert_str_eq(motan_response_get_errmsg(resp),
                     "rejected by filter deny: denied by test (calling com.example.EchoService.echo)");
    motan_response_free(resp);
    ck_assert_str_eq(g_trail, "rec1.before rec1.after:MOTAN_EBUSY");
    ck_assert_int_eq(call1(c, "echo", "1", 0, NULL, NULL, NULL), MOTAN_OK);
    json_t *j = stats_of(c);
    json_t *s = series(j, "call", "echo", NULL);
    ck_assert_int_eq(num(s, "count"), 2);
    ck_assert_int_eq(num(s, "ok"), 1);
    ck_assert_int_eq(err_count(s, "MOTAN_EBUSY"), 1);
    /* The rejected call never reached an endpoint. */
    ck_assert_int_eq(num(series(j, "attempt", "echo", g_ep), "count"), 1);
    json_decref(j);
    motan_client_free(c);
}
END_TEST

/* ---- stats of a known sequence ------------------------------------------------------------ */

typedef struct walked {
    int calls_seen;
    uint64_t echo_count, sleep_timeouts;
} walked;

static int walk_cb(const motan_stats_series *s, void *ud)
{
    walked *w = ud;
    if (s->kind != MOTAN_STATS_CALL)
        return 0;
    w->calls_seen++;
    if (!strcmp(s->method, "echo"))
        w->echo_count = s->count;
    for (size_t i = 0; i < s->ncodes; i++)
        if (!strcmp(s->method, "sleep") && s->codes[i] == MOTAN_ETIMEOUT)
            w->sleep_timeouts = s->code_counts[i];
    return 0;
}

START_TEST(test_stats_known_sequence)
{
    motan_client *c = client_for("filter=metrics");
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(call1(c, "echo", "\"x\"", 0, NULL, NULL, NULL), MOTAN_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(call1(c, "fail", "\"no\"", 0, NULL, NULL, NULL), MOTAN_EREMOTE);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(call1(c, "sleep", "400", 100, NULL, NULL, NULL), MOTAN_ETIMEOUT);

    json_t *j = stats_of(c);
    json_t *e = series(j, "call", "echo", NULL), *f = series(j, "call", "fail", NULL),
           *t = series(j, "call", "sleep", NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "service")), "com.example.EchoService");
    ck_assert_str_eq(json_string_value(json_object_get(e, "group")), "default_rpc");
    ck_assert_str_eq(json_string_value(json_object_get(e, "side")), "client");
    ck_assert_int_eq(num(e, "started"), 5);
    ck_assert_int_eq(num(e, "count"), 5);
    ck_assert_int_eq(num(e, "ok"), 5);
    ck_assert_int_eq(num(e, "in_flight"), 0);
    ck_assert_int_eq(json_object_size(json_object_get(e, "errors")), 0);
    ck_assert_int_eq(num(f, "count"), 3);
    ck_assert_int_eq(num(f, "ok"), 0);
    ck_assert_int_eq(err_count(f, "MOTAN_EREMOTE"), 3);
    ck_assert_int_eq(json_object_size(json_object_get(f, "errors")), 1);
    ck_assert_int_eq(num(t, "count"), 2);
    ck_assert_int_eq(err_count(t, "MOTAN_ETIMEOUT"), 2);
    ck_assert_int_eq(json_object_size(json_object_get(t, "errors")), 1);
    /* Timeouts after about 100 ms: the 50-100, 100-200 and 200-500 ms buckets, nothing else. */
    json_t *b = json_object_get(t, "buckets");
    long long near = 0, total = 0;
    for (size_t i = 0; i < json_array_size(b); i++) {
        long long n = json_integer_value(json_array_get(b, i));
        total += n;
        if (i >= 9 && i <= 12)
            near += n;
    }
    ck_assert_int_eq(total, 2);
    ck_assert_int_eq(near, 2);
    ck_assert_int_ge(num(t, "sum_us"), 2 * 90000);
    /* The same per endpoint, and the endpoint is up. */
    ck_assert_int_eq(num(series(j, "attempt", "echo", g_ep), "count"), 5);
    ck_assert_int_eq(err_count(series(j, "attempt", "fail", g_ep), "MOTAN_EREMOTE"), 3);
    ck_assert_int_eq(err_count(series(j, "attempt", "sleep", g_ep), "MOTAN_ETIMEOUT"), 2);
    json_t *ep = series(j, "endpoint", NULL, g_ep);
    ck_assert_ptr_nonnull(ep);
    ck_assert(json_is_true(json_object_get(ep, "available")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "series")), 3 + 3 + 1);
    json_decref(j);

    walked w = {0};
    ck_assert_int_eq(motan_stats_walk(motan_client_get_stats(c), walk_cb, &w), MOTAN_OK);
    ck_assert_int_eq(w.calls_seen, 3);
    ck_assert_uint_eq(w.echo_count, 5);
    ck_assert_uint_eq(w.sleep_timeouts, 2);

    motan_stats *st = motan_client_get_stats(c);
    char *prom;
    ck_assert_int_eq(motan_stats_prometheus(&st, 1, &prom, NULL), MOTAN_OK);
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    char key[512];
    snprintf(key, sizeof(key),
             "motan_client_calls_total{service=\"com.example.EchoService\",group=\"default_rpc\","
             "method=\"fail\",code=\"MOTAN_EREMOTE\"}");
    ck_assert_double_eq(tu_prom_value(&p, key), 3);
    snprintf(key, sizeof(key),
             "motan_client_attempts_total{service=\"com.example.EchoService\",group=\"default_rpc\","
             "method=\"echo\",endpoint=\"%s\",code=\"MOTAN_OK\"}",
             g_ep);
    ck_assert_double_eq(tu_prom_value(&p, key), 5);
    snprintf(key, sizeof(key),
             "motan_client_call_duration_seconds_count{service=\"com.example.EchoService\","
             "group=\"default_rpc\",method=\"sleep\"}");
    ck_assert_double_eq(tu_prom_value(&p, key), 2);
    snprintf(key, sizeof(key),
             "motan_client_endpoint_available{service=\"com.example.EchoService\","
             "group=\"default_rpc\",endpoint=\"%s\"}",
             g_ep);
    ck_assert_double_eq(tu_prom_value(&p, key), 1);
    tu_prom_free(&p);
    motan_free(prom);
    ck_assert_uint_eq(motan_cluster_stat(motan_client_get_cluster(c), "calls"), 10);
    motan_client_free(c);
}
END_TEST

/* ---- one source, several clients ---------------------------------------------------------- */

START_TEST(test_shared_stats)
{
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    motan_client *c[2];
    for (int i = 0; i < 2; i++) {
        char url[512], err[256];
        snprintf(url, sizeof(url), "%s?filter=metrics", g_url);
        motan_config *cfg;
        ck_assert_int_eq(motan_config_new(url, &cfg, err, sizeof(err)), MOTAN_OK);
        ck_assert_int_eq(motan_config_set_stats(cfg, st), MOTAN_OK);
        ck_assert_int_eq(motan_client_new_config(cfg, NULL, &c[i], err, sizeof(err)), MOTAN_OK);
        motan_config_free(cfg);
        ck_assert_ptr_eq(motan_client_get_stats(c[i]), st);
    }
    motan_stats_free(st); /* the clients keep it */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            ck_assert_int_eq(call1(c[k], "echo", "1", 0, NULL, NULL, NULL), MOTAN_OK);
    json_t *j = stats_of(c[0]);
    ck_assert_int_eq(num(series(j, "call", "echo", NULL), "count"), 6);
    json_decref(j);
    motan_client_free(c[1]); /* its counts stay */
    ck_assert_int_eq(call1(c[0], "echo", "1", 0, NULL, NULL, NULL), MOTAN_OK);
    motan_stats *mine = motan_client_get_stats(c[0]);
    char *prom;
    ck_assert_int_eq(motan_stats_prometheus(&mine, 1, &prom, NULL), MOTAN_OK);
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"com.example.EchoService\","
                                          "group=\"default_rpc\",method=\"echo\",code=\"MOTAN_OK\"}"),
                        7);
    tu_prom_free(&p);
    motan_free(prom);
    motan_client_free(c[0]);
}
END_TEST

/* ---- trace context, as the server sees it ------------------------------------------------- */

/* The value of key in the string map that meta() returned. */
static const char *server_meta(const motan_response *resp, const char *key)
{
    const motan_value *m = motan_response_get_value(resp);
    ck_assert_int_eq(motan_value_type(m), MOTAN_T_STRING_MAP);
    const motan_value *v = motan_value_map_get(m, key, strlen(key));
    return v ? motan_value_get_data(v, NULL) : NULL;
}

START_TEST(test_traceparent_seen_by_server)
{
    motan_client *c = client_for("filter=trace,spans,tenant");
    motan_response *resp;
    ck_assert_int_eq(call1(c, "meta", NULL, 0, NULL, NULL, &resp), MOTAN_OK);
    const char *tp = server_meta(resp, "traceparent");
    ck_assert_ptr_nonnull(tp);
    ck_assert_uint_eq(strlen(tp), 55);
    ck_assert_str_eq(tp, g_span); /* the span a later filter was given is the one sent */
    ck_assert_str_eq(server_meta(resp, "requestIdFromClient"), g_rid);
    ck_assert_str_eq(server_meta(resp, "X-Tenant"), "t1");
    motan_response_free(resp);

    /* A caller in a trace: the call is a child span; tracestate travels on. */
    motan_request *r = motan_client_request(c, "meta");
    const char *parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    motan_request_set_meta(r, "traceparent", parent);
    motan_request_set_meta(r, "tracestate", "congo=t61rcWkgMzE");
    motan_request_set_meta(r, "requestIdFromClient", "777");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    char first[64];
    snprintf(first, sizeof(first), "%s", server_meta(resp, "traceparent"));
    tp = first;
    ck_assert_int_eq(strncmp(tp, parent, 36), 0); /* same version and trace-id */
    ck_assert_str_ne(tp, parent);                 /* a new span */
    ck_assert_str_eq(tp, g_span);
    ck_assert_str_eq(server_meta(resp, "tracestate"), "congo=t61rcWkgMzE");
    ck_assert_str_eq(server_meta(resp, "requestIdFromClient"), "777");
    motan_response_free(resp);
    /* The caller's request is not changed by what filters added. */
    ck_assert_str_eq(motan_request_get_meta(r, "traceparent"), parent);
    ck_assert_ptr_null(motan_request_get_meta(r, "X-Tenant"));
    ck_assert_uint_eq(motan_request_meta_count(r), 3);
    /* Sent again, it is another span of the same trace. */
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    ck_assert_int_eq(strncmp(server_meta(resp, "traceparent"), parent, 36), 0);
    ck_assert_str_ne(server_meta(resp, "traceparent"), tp);
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);

    /* Without the trace filter nothing is added. */
    c = client_for("filter=spans");
    ck_assert_int_eq(call1(c, "meta", NULL, 0, NULL, NULL, &resp), MOTAN_OK);
    ck_assert_ptr_null(server_meta(resp, "traceparent"));
    ck_assert_str_eq(g_span, "(none)");
    motan_response_free(resp);
    motan_client_free(c);
}
END_TEST

/* ---- phases --------------------------------------------------------------------------------- */

START_TEST(test_phases)
{
    motan_client *c = client_for("filter=spans");
    ck_assert_int_eq(call1(c, "echo", "1", 0, NULL, NULL, NULL), MOTAN_OK); /* connected */
    motan_response *resp;
    ck_assert_int_eq(call1(c, "sleep", "30", 0, NULL, NULL, &resp), MOTAN_OK);
    uint64_t sum = 0;
    for (int i = 0; i < MOTAN_PHASE_COUNT; i++) {
        ck_assert_uint_eq(g_phase[i], motan_response_get_phase_us(resp, i));
        sum += g_phase[i];
    }
    ck_assert_uint_ge(g_phase[MOTAN_PHASE_WAIT], 25000);
    ck_assert_uint_eq(g_phase[MOTAN_PHASE_CONNECT], 0);
    ck_assert_uint_le(sum, g_attempt_us + 2000); /* phases are parts of the attempt */
    ck_assert_uint_ge(g_call_us + 2000, g_attempt_us);
    motan_response_free(resp);
    motan_client_free(c);
}
END_TEST

/* ---- the log sink from many threads --------------------------------------------------------- */

typedef struct sink {
    atomic_int lines, inside, bad;
} sink;

static void sink_cb(int level, const char *msg, void *ud)
{
    sink *s = ud;
    atomic_fetch_add(&s->inside, 1);
    if (level != MOTAN_LOG_INFO || strncmp(msg, "client com.example.EchoService.echo group=default_rpc "
                                                "endpoint=127.0.0.1:", 73) ||
        !strstr(msg, " attempts=1 code=MOTAN_OK latency_us=") ||
        !strstr(msg, " request_bytes=") || strstr(msg, " request_bytes=0 ")) /* measured */
        atomic_fetch_add(&s->bad, 1);
    atomic_fetch_add(&s->lines, 1);
    atomic_fetch_sub(&s->inside, 1);
}

enum { LOG_THREADS = 3, LOG_CALLS = 40 };

static void *log_worker(void *arg)
{
    motan_client *c = arg;
    for (int i = 0; i < LOG_CALLS; i++)
        if (call1(c, "echo", "1", 0, NULL, NULL, NULL) != MOTAN_OK)
            return (void *)1;
    return NULL;
}

START_TEST(test_log_from_threads)
{
    static sink a, b; /* static: the callback may still be called with them at free time */
    atomic_store(&a.lines, 0);
    atomic_store(&b.lines, 0);
    ck_assert_int_eq(motan_set_log_callback(sink_cb, MOTAN_LOG_INFO, &a), MOTAN_OK);
    motan_client *c[LOG_THREADS];
    pthread_t t[LOG_THREADS];
    for (int i = 0; i < LOG_THREADS; i++)
        c[i] = client_for("filter=accessLog"); /* each its own loop thread */
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_create(&t[i], NULL, log_worker, c[i]);
    /* Swap sinks while the loops log: once set returns, nobody is in the old one. */
    for (int k = 0; k < 200; k++) {
        sink *next = k % 2 ? &a : &b, *old = k % 2 ? &b : &a;
        ck_assert_int_eq(motan_set_log_callback(sink_cb, MOTAN_LOG_INFO, next), MOTAN_OK);
        ck_assert_int_eq(atomic_load(&old->inside), 0);
        usleep(200);
    }
    for (int i = 0; i < LOG_THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        ck_assert_ptr_null(rc);
    }
    ck_assert_int_eq(motan_set_log_callback(NULL, MOTAN_LOG_ERROR, NULL), MOTAN_OK);
    for (int i = 0; i < LOG_THREADS; i++)
        motan_client_free(c[i]);
    /* Every call logged exactly one well-formed line, in one sink or the other. */
    ck_assert_int_eq(atomic_load(&a.lines) + atomic_load(&b.lines), LOG_THREADS * LOG_CALLS);
    ck_assert_int_eq(atomic_load(&a.bad) + atomic_load(&b.bad), 0);
}
END_TEST

/* libevent's and ZooKeeper's messages reach the sink instead of stderr. */
typedef struct third {
    pthread_mutex_t mu;
    int libevent_warn, zk_error;
    char first_zk[256];
} third;

static void third_cb(int level, const char *msg, void *ud)
{
    third *t = ud;
    pthread_mutex_lock(&t->mu);
    if (!strncmp(msg, "libevent: ", 10) && level == MOTAN_LOG_WARN)
        t->libevent_warn++;
    /* The ZooKeeper client's errors are retried connection trouble: warnings here. */
    if (!strncmp(msg, "zookeeper: ", 11) && level == MOTAN_LOG_WARN && !t->zk_error++)
        snprintf(t->first_zk, sizeof(t->first_zk), "%s", msg);
    pthread_mutex_unlock(&t->mu);
}

START_TEST(test_third_party_logs)
{
    static third t = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ck_assert_int_eq(motan_set_log_callback(third_cb, MOTAN_LOG_DEBUG, &t), MOTAN_OK);
    /* A loop exists once a client does; then libevent's warnings are ours. */
    motan_client *c = client_for("filter=metrics");
    ck_assert_int_eq(evutil_make_socket_nonblocking(-1), -1);
    pthread_mutex_lock(&t.mu);
    ck_assert_int_eq(t.libevent_warn, 1);
    pthread_mutex_unlock(&t.mu);
    motan_client_free(c);

    char err[256];
    motan_client *zk = NULL;
    ck_assert_int_eq(motan_client_new("zookeeper://127.0.0.1:1/com.example.EchoService", &zk, err,
                                      sizeof(err)),
                     MOTAN_OK);
    int seen = 0;
    for (int i = 0; i < 500 && !seen; i++) {
        pthread_mutex_lock(&t.mu);
        seen = t.zk_error;
        pthread_mutex_unlock(&t.mu);
        if (!seen)
            usleep(10000);
    }
    motan_client_free(zk);
    ck_assert_int_eq(motan_set_log_callback(NULL, MOTAN_LOG_ERROR, NULL), MOTAN_OK);
    ck_assert_msg(seen, "no ZooKeeper error reached the sink (as a warning)");
}
END_TEST

/* The library's own lines: an endpoint that fuses says so (warn). */
static char g_fused[256];
static pthread_mutex_t g_fused_mu = PTHREAD_MUTEX_INITIALIZER;

static void fused_cb(int level, const char *msg, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&g_fused_mu);
    if (level == MOTAN_LOG_WARN && strstr(msg, " fused after "))
        snprintf(g_fused, sizeof(g_fused), "%s", msg);
    pthread_mutex_unlock(&g_fused_mu);
}

START_TEST(test_fusing_is_logged)
{
    ck_assert_int_eq(motan_set_log_callback(fused_cb, MOTAN_LOG_WARN, NULL), MOTAN_OK);
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:1/com.example.EchoService?errorCountThreshold=1");
    motan_client *c;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(call1(c, "echo", "1", 0, NULL, NULL, NULL), MOTAN_ECONNECT);
    motan_client_free(c);
    ck_assert_int_eq(motan_set_log_callback(NULL, MOTAN_LOG_ERROR, NULL), MOTAN_OK);
    ck_assert_msg(!strncmp(g_fused, "endpoint 127.0.0.1:1 fused after 1 consecutive errors (last: "
                                    "MOTAN_ECONNECT)", 73),
                  "[%s]", g_fused);
}
END_TEST

/* ---- configuration -------------------------------------------------------------------------- */

START_TEST(test_filter_parameter)
{
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s?filter=metrics,nope", g_url);
    motan_client *c = (motan_client *)1;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, "unknown filter \"nope\"");
    motan_config *cfg;
    ck_assert_int_eq(motan_config_new(g_url, &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "filter", "trace,nope", err, sizeof(err)), MOTAN_EURL);
    ck_assert_int_eq(motan_config_set(cfg, "echo", "filter", "metrics", err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_nonnull(strstr(err, "not per method"));
    ck_assert_int_eq(motan_config_set(cfg, NULL, "filter", "trace, metrics", err, sizeof(err)),
                     MOTAN_OK);
    ck_assert_int_eq(motan_client_new_config(cfg, NULL, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(call1(c, "echo", "1", 0, NULL, NULL, NULL), MOTAN_OK);
    json_t *j = stats_of(c);
    ck_assert_int_eq(num(series(j, "call", "echo", NULL), "count"), 1);
    json_decref(j);
    motan_client_free(c);
    motan_config_free(cfg);

    /* No filter: nothing counted, endpoints still reported. */
    c = client_for("requestTimeout=500");
    ck_assert_int_eq(call1(c, "echo", "1", 0, NULL, NULL, NULL), MOTAN_OK);
    j = stats_of(c);
    ck_assert_ptr_null(series(j, "call", "echo", NULL));
    ck_assert_ptr_nonnull(series(j, "endpoint", NULL, g_ep));
    json_decref(j);
    motan_client_free(c);
}
END_TEST

/* ---- a client on the caller's loop ------------------------------------------------------------ */

static void count_cb(motan_response *resp, void *ud)
{
    ++*(int *)ud;
    motan_response_free(resp);
}

START_TEST(test_metrics_on_caller_loop)
{
    tu_env env;
    tu_env_init(&env);
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s?filter=metrics,accessLog", g_url);
    motan_client *c;
    ck_assert_int_eq(motan_client_new_with_base(env.base, url, &c, err, sizeof(err)), MOTAN_OK);
    motan_request *r = motan_client_request(c, "echo");
    int done = 0;
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &done), MOTAN_OK);
    ck_assert(tu_run_until(&env, &done, 20, 5000));
    json_t *j = stats_of(c); /* this thread runs the loop */
    ck_assert_int_eq(num(series(j, "call", "echo", NULL), "count"), 20);
    ck_assert_int_eq(num(series(j, "call", "echo", NULL), "ok"), 20);
    json_decref(j);
    motan_request_free(r);
    motan_client_free(c);
    tu_env_free(&env);
}
END_TEST

/* ---- the cost in allocations ----------------------------------------------------------------- */

/* Allocations libmotan makes for n warm calls on the caller's loop with params. */
static unsigned long long allocs_for(const char *params, int n)
{
    tu_env env;
    tu_env_init(&env);
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s?%s", g_url, params);
    motan_client *c;
    ck_assert_int_eq(motan_client_new_with_base(env.base, url, &c, err, sizeof(err)), MOTAN_OK);
    motan_request *r = motan_client_request(c, "echo");
    int done = 0;
    for (int i = 0; i < 50; i++) /* warm: connections, pools, series */
        ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &done), MOTAN_OK);
    ck_assert(tu_run_until(&env, &done, 50, 5000));
    done = 0;
    tu_count_allocs_start();
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(motan_client_call_async(c, r, count_cb, &done), MOTAN_OK);
        ck_assert(tu_run_until(&env, &done, i + 1, 5000));
    }
    tu_count_allocs_stop();
    motan_request_free(r);
    motan_client_free(c);
    tu_env_free(&env);
    return tu_allocs();
}

START_TEST(test_filters_allocate_nothing_per_call)
{
    unsigned long long none = allocs_for("requestTimeout=2000", 100);
    unsigned long long metrics = allocs_for("filter=metrics", 100);
    unsigned long long all = allocs_for("filter=trace,accessLog,metrics,spans", 100);
    ck_assert_msg(metrics == none && all == none, "allocations for 100 calls: none %llu, metrics "
                  "%llu, trace+accessLog+metrics+spans %llu", none, metrics, all);
}
END_TEST

static Suite *observe_suite(void)
{
    Suite *s = suite_create("observe");
    TCase *tc = tcase_create("observe");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_filters_in_order);
    tcase_add_test(tc, test_rejecting_filter);
    tcase_add_test(tc, test_stats_known_sequence);
    tcase_add_test(tc, test_shared_stats);
    tcase_add_test(tc, test_traceparent_seen_by_server);
    tcase_add_test(tc, test_phases);
    tcase_add_test(tc, test_log_from_threads);
    tcase_add_test(tc, test_third_party_logs);
    tcase_add_test(tc, test_fusing_is_logged);
    tcase_add_test(tc, test_filter_parameter);
    tcase_add_test(tc, test_metrics_on_caller_loop);
    tcase_add_test(tc, test_filters_allocate_nothing_per_call);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(observe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
