/*
 * The observability layer on its own: filter registration rules, chains driven by hand
 * (hook order, rejection, metadata), the trace filter's W3C parsing, stats counted from a
 * known sequence and read back through the walker, JSON and Prometheus text (checked with
 * the format reader of tu_prom.h, which is itself tested first), the log sink, and out of
 * memory everywhere.
 */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <motan/observe.h>

#include "testutil.h"
#include "tu_prom.h"

/* ---- the format reader rejects what the format forbids ------------------------------ */

START_TEST(test_prom_reader_rules)
{
    static const char good[] =
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
        "\n"
        "# Escaping in label values:\n"
        "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
        "metric_without_timestamp_and_labels 12.47\n"
        "# TYPE http_request_duration_seconds histogram\n"
        "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
        "http_request_duration_seconds_bucket{le=\"0.1\"} 33444\n"
        "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
        "http_request_duration_seconds_sum 53423\n"
        "http_request_duration_seconds_count 144320\n";
    tu_prom p;
    ck_assert_msg(tu_prom_parse(good, &p) == 0, "%s", p.err);
    ck_assert_double_eq(tu_prom_value(&p, "http_requests_total{code=\"400\",method=\"post\"}"), 3);
    ck_assert_str_eq(tu_prom_type(&p, "http_request_duration_seconds"), "histogram");
    tu_prom_free(&p);

    static const char *const bad[] = {
        "a 1",                                            /* no final line feed */
        "1a 1\n",                                         /* name */
        "a{__x=\"1\"} 1\n",                               /* reserved label */
        "a{x=\"\\t\"} 1\n",                               /* escape */
        "a{x=\"1\",x=\"2\"} 1\n",                         /* label twice */
        "a{x=\"1} 1\n",                                   /* unterminated */
        "a one\n",                                        /* value */
        "a 1 12.5\n",                                     /* timestamp */
        "# TYPE a counter\n# TYPE a counter\na 1\n",      /* TYPE twice */
        "# HELP a x\n# HELP a y\na 1\n",                  /* HELP twice */
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n", /* not contiguous */
        "a 1\n# TYPE a gauge\n",                          /* TYPE after samples */
        "# TYPE a blob\na 1\n",                           /* type */
        "a 1\na 2\n",                                     /* series twice */
        "# TYPE c counter\nc -1\n",                       /* negative counter */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",       /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",    /* count */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",             /* no sum */
        "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n",                 /* no le */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(tu_prom_parse(bad[i], &p) != 0, "accepted: %s", bad[i]);
        tu_prom_free(&p);
    }
}
END_TEST

/* ---- registration --------------------------------------------------------------------- */

static void *null_create(const motan_url *u, int side, motan_stats *st, void *ud)
{
    (void)u;
    (void)side;
    (void)st;
    (void)ud;
    return NULL;
}

START_TEST(test_register_rules)
{
    motan_filter_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.name = "unitNothing";
    ops.struct_size = sizeof(ops) - sizeof(void *); /* shorter than any published version */
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_EINVAL);
    ck_assert(!motan_filter_exists("unitNothing"));
    ops.struct_size = sizeof(ops);
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
    ck_assert(motan_filter_exists("unitNothing"));
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_EINVAL); /* taken */
    ops.name = "metrics";
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_EINVAL); /* a built-in */
    ops.name = "a,b";
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_EINVAL);
    ops.name = "";
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_EINVAL);
    ops.name = NULL;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_EINVAL);
    ck_assert_int_eq(motan_filter_register(NULL), MOTAN_EINVAL);

    /* A registrant built against a longer struct: unknown fields must be zero. */
    struct {
        motan_filter_ops ops;
        void *newer;
    } big;
    memset(&big, 0, sizeof(big));
    big.ops.struct_size = sizeof(big);
    big.ops.name = "unitNewer";
    big.newer = &big;
    ck_assert_int_eq(motan_filter_register(&big.ops), MOTAN_EINVAL);
    big.newer = NULL;
    ck_assert_int_eq(motan_filter_register(&big.ops), MOTAN_OK);

    ck_assert(motan_filter_exists("metrics") && motan_filter_exists("accessLog") &&
              motan_filter_exists("trace"));
    ck_assert(!motan_filter_exists("Metrics") && !motan_filter_exists(NULL));

    /* Chains name registered filters once each; a create that fails fails the chain. */
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    motan_filter_chain *ch = (motan_filter_chain *)1;
    char err[256] = "";
    ck_assert_int_eq(motan_filter_chain_new("metrics, nope", NULL, MOTAN_SIDE_CLIENT, st, &ch, err,
                                            sizeof(err)),
                     MOTAN_EURL);
    ck_assert_ptr_null(ch);
    ck_assert_str_eq(err, "unknown filter \"nope\"");
    ck_assert_int_eq(motan_filter_chain_new("metrics,trace,metrics", NULL, MOTAN_SIDE_CLIENT, st,
                                            &ch, err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    motan_filter_ops failing;
    memset(&failing, 0, sizeof(failing));
    failing.struct_size = sizeof(failing);
    failing.name = "unitFailingCreate";
    failing.create = null_create;
    ck_assert_int_eq(motan_filter_register(&failing), MOTAN_OK);
    ck_assert_int_eq(motan_filter_chain_new("unitFailingCreate", NULL, MOTAN_SIDE_CLIENT, st, &ch,
                                            err, sizeof(err)),
                     MOTAN_ENOMEM);
    ck_assert_int_eq(motan_filter_chain_new(" trace , ,metrics,", NULL, MOTAN_SIDE_CLIENT, st, &ch,
                                            err, sizeof(err)),
                     MOTAN_OK);
    ck_assert_uint_eq(motan_filter_chain_length(ch), 2);
    ck_assert_ptr_eq(motan_filter_chain_stats(ch), st);
    motan_filter_chain_free(ch);
    ck_assert_int_eq(motan_filter_chain_new(NULL, NULL, MOTAN_SIDE_CLIENT, st, &ch, err, sizeof(err)),
                     MOTAN_OK);
    ck_assert_uint_eq(motan_filter_chain_length(ch), 0);
    motan_filter_chain_free(ch);
    ck_assert_int_eq(motan_filter_chain_new("", NULL, MOTAN_SIDE_CLIENT, NULL, &ch, err, sizeof(err)),
                     MOTAN_EINVAL);
    motan_stats_free(st);
}
END_TEST

/* ---- hook order, rejection, metadata ------------------------------------------------- */

static char g_trail[2048];

static void note(const char *who, const char *what)
{
    size_t n = strlen(g_trail);
    snprintf(g_trail + n, sizeof(g_trail) - n, "%s%s.%s", n ? " " : "", who, what);
}

static int rec_before(void *st, motan_filter_call *call)
{
    note(st, "before");
    *motan_filter_call_data(call) = st; /* each filter has its own slot */
    return MOTAN_OK;
}
static void rec_astart(void *st, motan_filter_call *call)
{
    char what[64];
    snprintf(what, sizeof(what), "astart%d@%s", motan_filter_call_attempt(call),
             motan_filter_call_endpoint(call));
    note(st, what);
    ck_assert_ptr_eq(*motan_filter_call_data(call), st);
}
static void rec_aend(void *st, motan_filter_call *call)
{
    char what[64];
    snprintf(what, sizeof(what), "aend%d:%s", motan_filter_call_attempt(call),
             motan_errname(motan_filter_call_code(call)));
    note(st, what);
}
static void rec_after(void *st, motan_filter_call *call)
{
    char what[64];
    snprintf(what, sizeof(what), "after:%s", motan_errname(motan_filter_call_code(call)));
    note(st, what);
    ck_assert_ptr_eq(*motan_filter_call_data(call), st);
    /* Outside before nothing may be added. */
    ck_assert_int_eq(motan_filter_call_set_meta(call, "late", "1"), MOTAN_EINVAL);
}

static void register_recorder(const char *name)
{
    motan_filter_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.struct_size = sizeof(ops);
    ops.name = name;
    ops.userdata = (void *)name; /* no create: the state is the userdata */
    ops.before = rec_before;
    ops.attempt_start = rec_astart;
    ops.attempt_end = rec_aend;
    ops.after = rec_after;
    ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
}

static int deny_before(void *st, motan_filter_call *call)
{
    (void)st;
    note("deny", "before");
    ck_assert_int_eq(motan_filter_call_set_meta(call, "X-Added", "v1"), MOTAN_OK);
    motan_filter_call_set_errmsg(call, "over quota");
    return MOTAN_EBUSY;
}

/* Source metadata for hand-driven chains: "k=v" strings, NULL-terminated. */
static const char *lookup(const void *src, const char *key)
{
    for (const char *const *kv = src; *kv; kv++) {
        size_t n = strlen(key);
        if (!strncmp(*kv, key, n) && (*kv)[n] == '=')
            return *kv + n + 1;
    }
    return NULL;
}

START_TEST(test_chain_order_reject_meta)
{
    static int registered;
    if (!registered++) {
        register_recorder("f1");
        register_recorder("f2");
        register_recorder("f3");
        motan_filter_ops deny;
        memset(&deny, 0, sizeof(deny));
        deny.struct_size = sizeof(deny);
        deny.name = "deny";
        deny.before = deny_before;
        deny.after = rec_after; /* never runs: its own before rejected */
        ck_assert_int_eq(motan_filter_register(&deny), MOTAN_OK);
    }
    motan_stats *st;
    motan_stats_new(&st);
    motan_filter_chain *ch;
    char err[256];
    ck_assert_int_eq(motan_filter_chain_new("f1,f2,f3", NULL, MOTAN_SIDE_CLIENT, st, &ch, err,
                                            sizeof(err)),
                     MOTAN_OK);
    const char *src[] = {"a=1", NULL};
    motan_filter_call *call;
    g_trail[0] = '\0';
    ck_assert_int_eq(motan_filter_chain_begin(ch, "svc", "g", "m", 6, 10, lookup, src, 100, &call,
                                              err, sizeof(err)),
                     MOTAN_OK);
    motan_filter_chain_attempt_start(call, 0, "h:1");
    motan_filter_chain_attempt_end(call, 0, "h:1", MOTAN_ECONNECT, NULL, 1, 5);
    motan_filter_chain_attempt_start(call, 1, "h:2");
    motan_filter_chain_attempt_end(call, 1, "h:2", MOTAN_OK, NULL, 1, 7);
    ck_assert_int_eq(motan_filter_call_attempts(call), 2);
    ck_assert_str_eq(motan_filter_call_endpoint(call), "h:2");
    motan_filter_chain_end(call, MOTAN_OK, NULL, 3, 150);
    ck_assert_str_eq(g_trail,
                     "f1.before f2.before f3.before "
                     "f1.astart0@h:1 f2.astart0@h:1 f3.astart0@h:1 "
                     "f3.aend0:MOTAN_ECONNECT f2.aend0:MOTAN_ECONNECT f1.aend0:MOTAN_ECONNECT "
                     "f1.astart1@h:2 f2.astart1@h:2 f3.astart1@h:2 "
                     "f3.aend1:MOTAN_OK f2.aend1:MOTAN_OK f1.aend1:MOTAN_OK "
                     "f3.after:MOTAN_OK f2.after:MOTAN_OK f1.after:MOTAN_OK");
    motan_filter_chain_free(ch);

    /* A rejection: later filters never see the call, earlier ones see it end. */
    ck_assert_int_eq(motan_filter_chain_new("f1,deny,f2", NULL, MOTAN_SIDE_CLIENT, st, &ch, err,
                                            sizeof(err)),
                     MOTAN_OK);
    g_trail[0] = '\0';
    ck_assert_int_eq(motan_filter_chain_begin(ch, "svc", "g", "m", 6, 10, lookup, src, 100, &call,
                                              err, sizeof(err)),
                     MOTAN_EBUSY);
    ck_assert_str_eq(err, "rejected by filter deny: over quota");
    motan_filter_chain_end(call, MOTAN_EBUSY, NULL, 0, 101);
    ck_assert_str_eq(g_trail, "f1.before deny.before f1.after:MOTAN_EBUSY");
    motan_filter_chain_free(ch);
    motan_stats_free(st);
}
END_TEST

static int meta_before(void *st, motan_filter_call *call)
{
    (void)st;
    ck_assert_int_eq(motan_filter_call_set_meta(call, "M_p", "x"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_filter_call_set_meta(call, "", "x"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_filter_call_set_meta(call, "k\n", "x"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_filter_call_set_meta(call, "k", "x\ny"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_filter_call_set_meta(call, "k", NULL), MOTAN_EINVAL);
    ck_assert_str_eq(motan_filter_call_get_meta(call, "a"), "1");
    ck_assert_int_eq(motan_filter_call_set_meta(call, "a", "2"), MOTAN_OK); /* shadows */
    ck_assert_str_eq(motan_filter_call_get_meta(call, "a"), "2");
    ck_assert_int_eq(motan_filter_call_set_meta(call, "a", "3"), MOTAN_OK); /* replaces */
    ck_assert_int_eq(motan_filter_call_set_meta(call, "b", ""), MOTAN_OK);  /* suppresses */
    ck_assert_ptr_null(motan_filter_call_get_meta(call, "b"));
    /* Long values spill out of the call's own space and are still kept. */
    char big[700];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(motan_filter_call_set_meta(call, "big", big), MOTAN_OK);
    ck_assert_int_eq(motan_filter_call_set_meta(call, "big2", big), MOTAN_OK);
    char key[16];
    int added = 4, rc = MOTAN_OK;
    for (int i = 0; rc == MOTAN_OK; i++, added++) {
        snprintf(key, sizeof(key), "k%d", i);
        rc = motan_filter_call_set_meta(call, key, "v");
    }
    ck_assert_int_eq(rc, MOTAN_ENOMEM); /* a fixed number of entries */
    ck_assert_int_eq(added - 1, 16);
    return MOTAN_OK;
}

START_TEST(test_call_meta)
{
    static int registered;
    if (!registered++) {
        motan_filter_ops ops;
        memset(&ops, 0, sizeof(ops));
        ops.struct_size = sizeof(ops);
        ops.name = "unitMeta";
        ops.before = meta_before;
        ck_assert_int_eq(motan_filter_register(&ops), MOTAN_OK);
    }
    motan_stats *st;
    motan_stats_new(&st);
    motan_filter_chain *ch;
    ck_assert_int_eq(motan_filter_chain_new("unitMeta", NULL, MOTAN_SIDE_CLIENT, st, &ch, NULL, 0),
                     MOTAN_OK);
    const char *src[] = {"a=1", "b=2", NULL};
    motan_filter_call *call;
    ck_assert_int_eq(motan_filter_chain_begin(ch, "s", "g", "m", 6, 0, lookup, src, 0, &call, NULL, 0),
                     MOTAN_OK);
    size_t n;
    const char *const *kv = motan_filter_call_added_meta(call, &n);
    ck_assert_uint_eq(n, 16);
    ck_assert_str_eq(kv[0], "a");
    ck_assert_str_eq(kv[1], "3");
    ck_assert_str_eq(kv[2], "b");
    ck_assert_str_eq(kv[3], "");
    ck_assert_uint_eq(strlen(kv[5]), 699);
    ck_assert_uint_eq(strlen(kv[7]), 699);
    motan_filter_chain_end(call, MOTAN_OK, NULL, 0, 1);
    motan_filter_chain_free(ch);
    motan_stats_free(st);
}
END_TEST

/* ---- the trace filter ------------------------------------------------------------------ */

static int is_traceparent(const char *t)
{
    if (!t || strlen(t) != 55 || strncmp(t, "00-", 3) || t[35] != '-' || t[52] != '-')
        return 0;
    for (int i = 3; i < 55; i++)
        if (i != 35 && i != 52 && !strchr("0123456789abcdef", t[i]))
            return 0;
    return strncmp(t + 3, "00000000000000000000000000000000", 32) &&
           strncmp(t + 36, "0000000000000000", 16);
}

/* Runs one call through a trace chain; returns the added metadata as "k=v;k=v". */
static void trace_once(int side, const char *const *src, char *added, size_t len, char *tp,
                       char *parent, char *rid)
{
    motan_stats *st;
    motan_stats_new(&st);
    motan_filter_chain *ch;
    ck_assert_int_eq(motan_filter_chain_new("trace", NULL, side, st, &ch, NULL, 0), MOTAN_OK);
    motan_filter_call *call;
    ck_assert_int_eq(motan_filter_chain_begin(ch, "s", "g", "m", 6, 0, lookup, src, 0, &call, NULL, 0),
                     MOTAN_OK);
    size_t n;
    const char *const *kv = motan_filter_call_added_meta(call, &n);
    added[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(added + strlen(added), len - strlen(added), "%s%s=%s", i ? ";" : "", kv[2 * i],
                 kv[2 * i + 1]);
    snprintf(tp, 64, "%s", motan_filter_call_traceparent(call));
    const char *p = motan_filter_call_parent_span_id(call);
    snprintf(parent, 32, "%s", p ? p : "(none)");
    snprintf(rid, 32, "%s", motan_filter_call_request_id(call));
    motan_filter_chain_end(call, MOTAN_OK, NULL, 0, 1);
    motan_filter_chain_free(ch);
    motan_stats_free(st);
}

START_TEST(test_trace_context)
{
    char added[512], tp[64], parent[32], rid[32], want[256];
    /* No context: a new trace, sampled, a new request id. */
    const char *none[] = {NULL};
    trace_once(MOTAN_SIDE_CLIENT, none, added, sizeof(added), tp, parent, rid);
    ck_assert_msg(is_traceparent(tp), "%s", tp);
    ck_assert_str_eq(tp + 53, "01");
    ck_assert_str_eq(parent, "(none)");
    ck_assert_uint_ge(strlen(rid), 15);
    snprintf(want, sizeof(want), "traceparent=%s;requestIdFromClient=%s", tp, rid);
    ck_assert_str_eq(added, want);

    /* A parent: same trace, the parent's span as parent, a new span; tracestate untouched. */
    const char *child[] = {"traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                           "tracestate=congo=t61rcWkgMzE", "requestIdFromClient=123456", NULL};
    trace_once(MOTAN_SIDE_CLIENT, child, added, sizeof(added), tp, parent, rid);
    ck_assert_msg(is_traceparent(tp), "%s", tp);
    ck_assert_int_eq(strncmp(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36), 0);
    ck_assert_str_ne(tp + 36, "00f067aa0ba902b7-00");
    ck_assert_str_eq(tp + 52, "-00"); /* not sampled upstream: not sampled here */
    ck_assert_str_eq(parent, "00f067aa0ba902b7");
    ck_assert_str_eq(rid, "123456");
    snprintf(want, sizeof(want), "traceparent=%s", tp);
    ck_assert_str_eq(added, want);

    /* A later version may be longer, after a '-'. */
    const char *v1[] = {"traceparent=01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what", NULL};
    trace_once(MOTAN_SIDE_CLIENT, v1, added, sizeof(added), tp, parent, rid);
    ck_assert_str_eq(parent, "00f067aa0ba902b7");
    ck_assert_int_eq(strncmp(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36), 0);

    /* Invalid ones start a new trace and drop the tracestate. */
    static const char *const invalid[] = {
        "traceparent=00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
        "traceparent=00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace */
        "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero span */
        "traceparent=ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version ff */
        "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* 00 is 55 */
        "traceparent=01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* no '-' */
        "traceparent=00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  /* dashes */
        "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",  /* flags */
        "traceparent=junk",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        const char *src[] = {invalid[i], "tracestate=a=1", NULL};
        trace_once(MOTAN_SIDE_CLIENT, src, added, sizeof(added), tp, parent, rid);
        ck_assert_msg(is_traceparent(tp), "%s -> %s", invalid[i], tp);
        ck_assert_msg(strncmp(tp + 3, "4bf92f3577b34da6a3ce929d0e0e4736", 32), "%s", invalid[i]);
        ck_assert_str_eq(parent, "(none)");
        snprintf(want, sizeof(want), "traceparent=%s;tracestate=;requestIdFromClient=%s", tp, rid);
        ck_assert_str_eq(added, want);
    }

    /* Server side: the incoming context is read, nothing is added. */
    trace_once(MOTAN_SIDE_SERVER, child, added, sizeof(added), tp, parent, rid);
    ck_assert_str_eq(parent, "00f067aa0ba902b7");
    ck_assert_str_eq(added, "");

    /* Spans and request ids differ from call to call. */
    char tp2[64], rid2[32];
    trace_once(MOTAN_SIDE_CLIENT, none, added, sizeof(added), tp, parent, rid);
    trace_once(MOTAN_SIDE_CLIENT, none, added, sizeof(added), tp2, parent, rid2);
    ck_assert_str_ne(tp, tp2);
}
END_TEST

/* ---- stats from a known sequence ------------------------------------------------------ */

typedef struct seen {
    int n;
    char keys[16][160];
    motan_stats_series s[16];
    uint64_t buckets[16][32];
    char errors[16][160];
} seen;

static int visit(const motan_stats_series *s, void *ud)
{
    seen *v = ud;
    ck_assert_uint_eq(s->struct_size, sizeof(motan_stats_series));
    ck_assert_int_lt(v->n, 16);
    snprintf(v->keys[v->n], sizeof(v->keys[0]), "%d %s %s %s %s %s", s->kind, s->side, s->service,
             s->group, s->method, s->endpoint);
    v->s[v->n] = *s;
    memcpy(v->buckets[v->n], s->buckets, s->nbuckets * sizeof(uint64_t));
    v->errors[v->n][0] = '\0';
    for (size_t i = 0; i < s->ncodes; i++)
        snprintf(v->errors[v->n] + strlen(v->errors[v->n]), 160 - strlen(v->errors[v->n]), "%s=%llu ",
                 motan_errname(s->codes[i]), (unsigned long long)s->code_counts[i]);
    v->n++;
    return 0;
}

/* One call with attempts (endpoint, code, latency) and its result. */
static void run_call(motan_filter_chain *ch, const char *method, int n, const char *const *eps,
                     const int *codes, const uint64_t *lat, int code, uint64_t total)
{
    motan_filter_call *call;
    int rc = motan_filter_chain_begin(ch, "svc", "g1", method, 6, 4, NULL, NULL, 1000, &call, NULL, 0);
    if (rc == MOTAN_ENOMEM && !call)
        return; /* test_out_of_memory: no context, the call goes unfiltered */
    ck_assert_int_eq(rc, MOTAN_OK);
    for (int i = 0; i < n; i++) {
        motan_filter_chain_attempt_start(call, i, eps[i]);
        motan_filter_chain_attempt_end(call, i, eps[i], codes[i], NULL, codes[i] != MOTAN_ECONNECT,
                                       lat[i]);
    }
    motan_filter_chain_end(call, code, NULL, 8, 1000 + total);
}

static void record_sequence(motan_filter_chain *ch)
{
    const char *a[] = {"h:1"}, *ab[] = {"h:1", "h:2"};
    int ok[] = {MOTAN_OK}, rem[] = {MOTAN_EREMOTE}, tmo[] = {MOTAN_ETIMEOUT},
        retry[] = {MOTAN_ECONNECT, MOTAN_OK};
    uint64_t l40[] = {40}, l150[] = {150}, l700[] = {700}, l3000[] = {3000}, l120k[] = {120000},
             lr[] = {60, 900};
    run_call(ch, "echo", 1, a, ok, l40, MOTAN_OK, 40);
    run_call(ch, "echo", 1, a, ok, l150, MOTAN_OK, 150);
    run_call(ch, "echo", 1, a, ok, l700, MOTAN_OK, 700);
    run_call(ch, "fail", 1, a, rem, l3000, MOTAN_EREMOTE, 3000);
    run_call(ch, "sleep", 1, a, tmo, l120k, MOTAN_ETIMEOUT, 120000);
    run_call(ch, "sleep", 1, a, tmo, l120k, MOTAN_ETIMEOUT, 120000);
    run_call(ch, "echo", 2, ab, retry, lr, MOTAN_OK, 1000); /* a retry on another endpoint */
}

START_TEST(test_stats_sequence)
{
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    motan_filter_chain *ch;
    ck_assert_int_eq(motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, st, &ch, NULL, 0),
                     MOTAN_OK);
    record_sequence(ch);
    /* One call still in flight. */
    motan_filter_call *open_call;
    ck_assert_int_eq(motan_filter_chain_begin(ch, "svc", "g1", "echo", 6, 4, NULL, NULL, 5, &open_call,
                                              NULL, 0),
                     MOTAN_OK);
    motan_filter_chain_attempt_start(open_call, 0, "h:1");

    ck_assert_uint_eq(motan_stats_bucket_count(), 20);
    ck_assert_uint_eq(motan_stats_bucket_bound_us(0), 50);
    ck_assert_uint_eq(motan_stats_bucket_bound_us(19), UINT64_MAX);
    seen v;
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(motan_stats_walk(st, visit, &v), MOTAN_OK);
    ck_assert_int_eq(v.n, 9);
    ck_assert_str_eq(v.keys[0], "0 client svc g1 echo ");
    ck_assert_str_eq(v.keys[1], "0 client svc g1 fail ");
    ck_assert_str_eq(v.keys[2], "0 client svc g1 sleep ");
    ck_assert_str_eq(v.keys[3], "1 client svc g1 echo h:1");
    ck_assert_str_eq(v.keys[4], "1 client svc g1 echo h:2");
    ck_assert_str_eq(v.keys[5], "1 client svc g1 fail h:1");
    ck_assert_str_eq(v.keys[6], "1 client svc g1 sleep h:1");
    ck_assert_str_eq(v.keys[7], "2 client svc g1  h:1");
    ck_assert_str_eq(v.keys[8], "2 client svc g1  h:2");
    /* echo calls: 40, 150, 700, 1000 µs, all ok, one in flight */
    motan_stats_series *e = &v.s[0];
    ck_assert_uint_eq(e->started, 5);
    ck_assert_uint_eq(e->count, 4);
    ck_assert_uint_eq(e->ok, 4);
    ck_assert_uint_eq(e->in_flight, 1);
    ck_assert_uint_eq(e->sum_us, 40 + 150 + 700 + 1000);
    ck_assert_uint_eq(e->ncodes, 0);
    ck_assert_uint_eq(v.buckets[0][0], 1); /* <= 50 */
    ck_assert_uint_eq(v.buckets[0][2], 1); /* <= 200 */
    ck_assert_uint_eq(v.buckets[0][4], 2); /* <= 1000: 700 and exactly 1000 */
    /* p50: rank 2 falls at the top of the 100..200 bucket; p90: rank 3.6 in 500..1000 */
    ck_assert_double_eq_tol(e->p50_us, 200, 1e-9);
    ck_assert_double_eq_tol(e->p90_us, 500 + 500 * 0.8, 1e-9);
    ck_assert_double_eq_tol(e->p999_us, 500 + 500 * (3.996 - 2) / 2, 1e-9);
    ck_assert_uint_eq(v.s[1].count, 1);
    ck_assert_uint_eq(v.s[1].ok, 0);
    ck_assert_str_eq(v.errors[1], "MOTAN_EREMOTE=1 ");
    ck_assert_uint_eq(v.s[2].count, 2);
    ck_assert_str_eq(v.errors[2], "MOTAN_ETIMEOUT=2 ");
    ck_assert_uint_eq(v.buckets[2][10], 0); /* 120 ms is above 100 ms ... */
    ck_assert_uint_eq(v.buckets[2][11], 2); /* ... and at most 200 ms */
    ck_assert_double_eq_tol(v.s[2].p50_us, 150000, 1e-9);
    /* attempts (counted when they end): echo on h:1 = 40, 150, 700 ok, 60 ECONNECT (the
     * one in flight is not counted yet); echo on h:2 = 900 */
    ck_assert_uint_eq(v.s[3].started, 4);
    ck_assert_uint_eq(v.s[3].count, 4);
    ck_assert_uint_eq(v.s[3].ok, 3);
    ck_assert_uint_eq(v.s[3].in_flight, 0);
    ck_assert_str_eq(v.errors[3], "MOTAN_ECONNECT=1 ");
    ck_assert_uint_eq(v.s[4].count, 1);
    ck_assert_uint_eq(v.s[4].sum_us, 900);
    ck_assert_int_eq(v.s[7].available, 0); /* h:1's last attempt to end failed to connect */
    ck_assert_int_eq(v.s[8].available, 1);
    ck_assert_uint_eq(v.s[7].in_flight, 0);
    motan_filter_chain_report_endpoint(ch, "svc", "g1", "h:1", 1, 3);
    memset(&v, 0, sizeof(v));
    motan_stats_walk(st, visit, &v);
    ck_assert_int_eq(v.s[7].available, 1);
    ck_assert_uint_eq(v.s[7].in_flight, 3);

    /* JSON says the same. */
    char *text = motan_stats_json(st);
    ck_assert_ptr_nonnull(text);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", jerr.text, text);
    ck_assert_int_eq(json_array_size(json_object_get(j, "buckets_us")), 19);
    json_t *series = json_object_get(j, "series");
    ck_assert_int_eq(json_array_size(series), 9);
    json_t *s0 = json_array_get(series, 0);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "kind")), "call");
    ck_assert_str_eq(json_string_value(json_object_get(s0, "method")), "echo");
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "in_flight")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "sum_us")), 1890);
    ck_assert_double_eq_tol(json_number_value(json_object_get(s0, "p50_us")), 200, 1e-9);
    json_t *s2 = json_array_get(series, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(s2, "errors"), "MOTAN_ETIMEOUT")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(s2, "buckets")), 20);
    json_t *s3 = json_array_get(series, 3);
    ck_assert_str_eq(json_string_value(json_object_get(s3, "kind")), "attempt");
    ck_assert_ptr_null(json_object_get(s3, "in_flight"));
    ck_assert_int_eq(json_integer_value(json_object_get(s3, "count")), 4);
    json_t *s8 = json_array_get(series, 8);
    ck_assert_str_eq(json_string_value(json_object_get(s8, "kind")), "endpoint");
    ck_assert(json_is_true(json_object_get(s8, "available")));
    ck_assert_int_eq(json_integer_value(json_object_get(s8, "in_flight")), 0);
    ck_assert_ptr_null(json_object_get(s8, "count"));
    json_decref(j);
    motan_free(text);

    /* Prometheus: valid, and the same numbers. */
    char *prom = NULL;
    size_t plen = 0;
    ck_assert_int_eq(motan_stats_prometheus(&st, 1, &prom, &plen), MOTAN_OK);
    ck_assert_uint_eq(plen, strlen(prom));
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_calls_total"), "counter");
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_calls_in_flight"), "gauge");
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_call_duration_seconds"), "histogram");
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_attempts_total"), "counter");
    ck_assert_ptr_null(tu_prom_type(&p, "motan_client_attempts_in_flight"));
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_endpoint_in_flight"), "gauge");
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_endpoint_in_flight{service=\"svc\",group=\"g1\",endpoint=\"h:1\"}"), 3);
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_attempt_duration_seconds"), "histogram");
    ck_assert_str_eq(tu_prom_type(&p, "motan_client_endpoint_available"), "gauge");
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"svc\",group=\"g1\",method=\"echo\",code=\"MOTAN_OK\"}"), 4);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"svc\",group=\"g1\",method=\"sleep\",code=\"MOTAN_ETIMEOUT\"}"), 2);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_in_flight{service=\"svc\",group=\"g1\",method=\"echo\"}"), 1);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_call_duration_seconds_bucket{service=\"svc\",group=\"g1\",method=\"echo\",le=\"0.0002\"}"), 2);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_call_duration_seconds_bucket{service=\"svc\",group=\"g1\",method=\"echo\",le=\"+Inf\"}"), 4);
    ck_assert_double_eq_tol(tu_prom_value(&p, "motan_client_call_duration_seconds_sum{service=\"svc\",group=\"g1\",method=\"echo\"}"), 0.00189, 1e-12);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_attempts_total{service=\"svc\",group=\"g1\",method=\"echo\",endpoint=\"h:1\",code=\"MOTAN_ECONNECT\"}"), 1);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_endpoint_available{service=\"svc\",group=\"g1\",endpoint=\"h:2\"}"), 1);
    ck_assert_uint_eq(tu_prom_count(&p, "motan_client_call_duration_seconds_bucket{"), 3 * 20);
    tu_prom_free(&p);
    motan_free(prom);

    /* The chain goes (its in-flight call ended first): the counts stay in the source. */
    motan_filter_chain_attempt_end(open_call, 0, "h:1", MOTAN_ECANCELLED, NULL, 1, 10);
    motan_filter_chain_end(open_call, MOTAN_ECANCELLED, NULL, 0, 20);
    motan_filter_chain_free(ch);
    memset(&v, 0, sizeof(v));
    motan_stats_walk(st, visit, &v);
    ck_assert_int_eq(v.n, 7); /* endpoint availability is gone with the chain */
    ck_assert_uint_eq(v.s[0].count, 5);
    ck_assert_str_eq(v.errors[0], "MOTAN_ECANCELLED=1 ");
    motan_stats_free(st);
}
END_TEST

/* Two chains feeding one source, and two sources: series with the same labels add up. */
/* Every latency counts in the first bucket whose bound is >= it (bounds, powers of two, ±1). */
START_TEST(test_bucket_of_every_width)
{
    motan_stats *st;
    ck_assert_int_eq(motan_stats_new(&st), MOTAN_OK);
    motan_filter_chain *ch;
    ck_assert_int_eq(motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, st, &ch, NULL, 0),
                     MOTAN_OK);
    size_t nb = motan_stats_bucket_count();
    uint64_t want[32] = {0}, lat[400];
    size_t n = 0;
    lat[n++] = 0;
    lat[n++] = UINT64_MAX;
    for (int k = 0; k < 64; k++)
        for (int d = -1; d <= 1; d++)
            lat[n++] = ((uint64_t)1 << k) + (uint64_t)(int64_t)d;
    for (size_t i = 0; i + 1 < nb; i++)
        for (int d = -1; d <= 1; d++)
            lat[n++] = motan_stats_bucket_bound_us(i) + (uint64_t)(int64_t)d;
    ck_assert_uint_le(n, sizeof(lat) / sizeof(lat[0]));
    for (size_t k = 0; k < n; k++) {
        size_t b = 0;
        while (lat[k] > motan_stats_bucket_bound_us(b))
            b++;
        want[b]++;
        motan_filter_call *call;
        ck_assert_int_eq(motan_filter_chain_begin(ch, "svc", "g", "m", 6, 4, NULL, NULL, 0, &call,
                                                  NULL, 0),
                         MOTAN_OK);
        motan_filter_chain_end(call, MOTAN_OK, NULL, 0, lat[k]);
    }
    seen v;
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(motan_stats_walk(st, visit, &v), MOTAN_OK);
    ck_assert_int_eq(v.n, 1);
    ck_assert_uint_eq(v.s[0].count, n);
    for (size_t i = 0; i < nb; i++)
        ck_assert_msg(v.buckets[0][i] == want[i], "bucket %zu (bound %llu): %llu latencies, want %llu",
                      i, (unsigned long long)motan_stats_bucket_bound_us(i),
                      (unsigned long long)v.buckets[0][i], (unsigned long long)want[i]);
    motan_filter_chain_free(ch);
    motan_stats_free(st);
}
END_TEST

START_TEST(test_stats_merge)
{
    motan_stats *st, *other;
    motan_stats_new(&st);
    motan_stats_new(&other);
    motan_filter_chain *c1, *c2, *c3, *srv;
    motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, st, &c1, NULL, 0);
    motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, st, &c2, NULL, 0);
    motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, other, &c3, NULL, 0);
    motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_SERVER, st, &srv, NULL, 0);
    record_sequence(c1);
    record_sequence(c2);
    record_sequence(c3);
    motan_filter_call *call;
    motan_filter_chain_begin(srv, "svc", "g1", "echo", 6, 4, NULL, NULL, 0, &call, NULL, 0);
    motan_filter_chain_end(call, MOTAN_OK, NULL, 9, 30);
    motan_filter_chain_free(c2); /* its counts stay */
    motan_stats *both[] = {st, other};
    char *prom;
    ck_assert_int_eq(motan_stats_prometheus(both, 2, &prom, NULL), MOTAN_OK);
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"svc\",group=\"g1\",method=\"echo\",code=\"MOTAN_OK\"}"), 12);
    ck_assert_double_eq(tu_prom_value(&p, "motan_server_calls_total{service=\"svc\",group=\"g1\",method=\"echo\",code=\"MOTAN_OK\"}"), 1);
    ck_assert_double_eq(tu_prom_value(&p, "motan_server_call_duration_seconds_count{service=\"svc\",group=\"g1\",method=\"echo\"}"), 1);
    ck_assert_str_eq(tu_prom_type(&p, "motan_server_calls_total"), "counter");
    tu_prom_free(&p);
    motan_free(prom);
    /* No source, or empty ones: an empty (valid) exposition. */
    ck_assert_int_eq(motan_stats_prometheus(NULL, 0, &prom, NULL), MOTAN_OK);
    ck_assert_str_eq(prom, "");
    motan_free(prom);
    ck_assert_int_eq(motan_stats_prometheus(NULL, 1, &prom, NULL), MOTAN_EINVAL);
    motan_filter_chain_free(c1);
    motan_filter_chain_free(c3);
    motan_filter_chain_free(srv);
    motan_stats_free(st);
    motan_stats_free(other);
}
END_TEST

/* Label values are escaped; the walker's visitor can stop the walk. */
static int stop_at_first(const motan_stats_series *s, void *ud)
{
    (void)s;
    ++*(int *)ud;
    return 7;
}

START_TEST(test_stats_escaping)
{
    motan_stats *st;
    motan_stats_new(&st);
    motan_filter_chain *ch;
    motan_filter_chain_new("metrics", NULL, MOTAN_SIDE_CLIENT, st, &ch, NULL, 0);
    motan_filter_call *call;
    motan_filter_chain_begin(ch, "a\"b\\c\nd", "g", "m\"", 6, 0, NULL, NULL, 0, &call, NULL, 0);
    motan_filter_chain_end(call, -99, NULL, 0, 70000000); /* unknown code, over 60 s */
    char *prom;
    ck_assert_int_eq(motan_stats_prometheus(&st, 1, &prom, NULL), MOTAN_OK);
    tu_prom p;
    ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s\n%s", p.err, prom);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"a\\\"b\\\\c\\nd\",group=\"g\",method=\"m\\\"\",code=\"MOTAN_EUNKNOWN\"}"), 1);
    ck_assert_double_eq(tu_prom_value(&p, "motan_client_call_duration_seconds_bucket{service=\"a\\\"b\\\\c\\nd\",group=\"g\",method=\"m\\\"\",le=\"60\"}"), 0);
    tu_prom_free(&p);
    motan_free(prom);
    char *text = motan_stats_json(st);
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *s0 = json_array_get(json_object_get(j, "series"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "service")), "a\"b\\c\nd");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(s0, "errors"), "other")), 1);
    ck_assert_double_eq(json_number_value(json_object_get(s0, "p99_us")), 60000000); /* +Inf */
    json_decref(j);
    motan_free(text);
    int visits = 0;
    ck_assert_int_eq(motan_stats_walk(st, stop_at_first, &visits), 7);
    ck_assert_int_eq(visits, 1);
    ck_assert_int_eq(motan_stats_walk(st, NULL, NULL), MOTAN_EINVAL);
    motan_filter_chain_free(ch);
    motan_stats_free(st);
}
END_TEST

/* ---- the log sink ----------------------------------------------------------------------- */

typedef struct logged {
    int n, nested_rc;
    int levels[8];
    char last[256];
} logged;

static void capture(int level, const char *msg, void *ud)
{
    logged *l = ud;
    if (l->n < 8)
        l->levels[l->n] = level;
    l->n++;
    snprintf(l->last, sizeof(l->last), "%s", msg);
    motan_log(MOTAN_LOG_ERROR, "from inside the callback"); /* dropped, no recursion */
    l->nested_rc = motan_set_log_callback(NULL, MOTAN_LOG_ERROR, NULL);
}

/* What the default sink wrote to stderr while fn ran. */
static void stderr_of(void (*fn)(void), char *out, size_t len)
{
    fflush(stderr);
    int saved = dup(2), fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    dup2(fds[1], 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, len - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fds[0]);
}

static void log_some(void)
{
    motan_log(MOTAN_LOG_ERROR, "boom");
    motan_log(MOTAN_LOG_WARN, "not shown");
    motan_log(MOTAN_LOG_INFO, "not shown");
}

START_TEST(test_log_sink)
{
    char out[512];
    stderr_of(log_some, out, sizeof(out)); /* the default: errors only, to stderr */
    ck_assert_str_eq(out, "libmotan: error: boom\n");
    ck_assert(motan_log_enabled(MOTAN_LOG_ERROR));
    ck_assert(!motan_log_enabled(MOTAN_LOG_WARN));

    logged l;
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(motan_set_log_callback(capture, MOTAN_LOG_INFO, &l), MOTAN_OK);
    motan_log(MOTAN_LOG_DEBUG, "d");
    motan_log(MOTAN_LOG_INFO, "i");
    motan_log(MOTAN_LOG_WARN, "w");
    motan_log(MOTAN_LOG_ERROR, "e");
    motan_log(7, "bad level");
    motan_log(MOTAN_LOG_ERROR, NULL);
    ck_assert_int_eq(l.n, 3);
    ck_assert_int_eq(l.levels[0], MOTAN_LOG_INFO);
    ck_assert_int_eq(l.levels[2], MOTAN_LOG_ERROR);
    ck_assert_str_eq(l.last, "e");
    ck_assert_int_eq(l.nested_rc, MOTAN_EDEADLOCK);
    ck_assert(motan_log_enabled(MOTAN_LOG_INFO) && !motan_log_enabled(MOTAN_LOG_DEBUG));

    ck_assert_int_eq(motan_set_log_callback(capture, 99, &l), MOTAN_OK); /* = debug */
    motan_log(MOTAN_LOG_DEBUG, "d");
    ck_assert_int_eq(l.n, 4);
    ck_assert_int_eq(motan_set_log_callback(capture, -5, &l), MOTAN_OK); /* nothing */
    motan_log(MOTAN_LOG_ERROR, "e");
    ck_assert_int_eq(l.n, 4);
    ck_assert(!motan_log_enabled(MOTAN_LOG_ERROR));

    ck_assert_str_eq(motan_log_level_name(MOTAN_LOG_WARN), "warn");
    ck_assert_str_eq(motan_log_level_name(9), "unknown");
    ck_assert_int_eq(motan_set_log_callback(NULL, MOTAN_LOG_ERROR, NULL), MOTAN_OK);
    stderr_of(log_some, out, sizeof(out));
    ck_assert_str_eq(out, "libmotan: error: boom\n");
}
END_TEST

/* ---- out of memory ---------------------------------------------------------------------- */

static long budget;
static void *fail_malloc(size_t n) { return budget-- > 0 ? malloc(n) : NULL; }
static void *fail_realloc(void *p, size_t n) { return budget-- > 0 ? realloc(p, n) : NULL; }

START_TEST(test_out_of_memory)
{
    int complete = 0;
    for (long limit = 0; limit < 400 && !complete; limit++) {
        budget = limit;
        motan_set_allocator(fail_malloc, fail_realloc, free);
        motan_stats *st = NULL;
        motan_filter_chain *ch = NULL;
        char *json = NULL, *prom = NULL;
        int rc = motan_stats_new(&st);
        if (rc == MOTAN_OK)
            rc = motan_filter_chain_new("trace,metrics,accessLog", NULL, MOTAN_SIDE_CLIENT, st, &ch,
                                        NULL, 0);
        if (rc == MOTAN_OK) {
            record_sequence(ch); /* recording never fails a call */
            motan_filter_chain_report_endpoint(ch, "svc", "g1", "h:3", 0, 1);
            json = motan_stats_json(st);
            rc = motan_stats_prometheus(&st, 1, &prom, NULL);
            if (rc == MOTAN_OK)
                ck_assert_ptr_nonnull(prom);
            else
                ck_assert_int_eq(rc, MOTAN_ENOMEM);
            complete = json && prom;
        } else {
            ck_assert_int_eq(rc, MOTAN_ENOMEM);
            ck_assert_ptr_null(ch);
        }
        motan_set_allocator(NULL, NULL, NULL);
        if (complete) { /* with enough memory everything was counted */
            tu_prom p;
            ck_assert_msg(tu_prom_parse(prom, &p) == 0, "%s", p.err);
            ck_assert_double_eq(tu_prom_value(&p, "motan_client_calls_total{service=\"svc\",group=\"g1\",method=\"echo\",code=\"MOTAN_OK\"}"), 4);
            tu_prom_free(&p);
        }
        motan_free(json);
        motan_free(prom);
        motan_filter_chain_free(ch);
        motan_stats_free(st);
    }
    ck_assert_msg(complete, "never completed");
}
END_TEST

static Suite *observe_suite(void)
{
    Suite *s = suite_create("observe");
    TCase *tc = tcase_create("observe");
    tcase_add_test(tc, test_prom_reader_rules);
    tcase_add_test(tc, test_register_rules);
    tcase_add_test(tc, test_chain_order_reject_meta);
    tcase_add_test(tc, test_call_meta);
    tcase_add_test(tc, test_trace_context);
    tcase_add_test(tc, test_stats_sequence);
    tcase_add_test(tc, test_bucket_of_every_width);
    tcase_add_test(tc, test_stats_merge);
    tcase_add_test(tc, test_stats_escaping);
    tcase_add_test(tc, test_log_sink);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(observe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
