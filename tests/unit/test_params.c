/*
 * Strict client URLs (lib/client/params.c): unknown keys are MOTAN_EURL with a "did you
 * mean", registry parameters are each registry's own and client parameters never reach the
 * registry, nodes from registries stay lenient; and the plug-in ops tables' struct_size.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <motan/client.h>

static int new_client(const char *url, char *err, size_t errlen)
{
    motan_client *c = NULL;
    err[0] = '\0';
    int rc = motan_client_new(url, &c, err, errlen);
    if (rc != MOTAN_OK)
        ck_assert_ptr_null(c);
    motan_client_free(c);
    return rc;
}

/* The review's case: a misspelled key used to be ignored, the call ran with the default. */
START_TEST(typo_is_an_error_with_a_suggestion)
{
    char err[256];
    ck_assert_int_eq(
        new_client("motan2://127.0.0.1:1/com.example.EchoService?requestTimout=5", err, sizeof(err)),
        MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"requestTimout\" (did you mean \"requestTimeout\"?)");
    motan_config *cfg = NULL;
    ck_assert_int_eq(motan_config_new("motan2://127.0.0.1:1/svc?retires=1", &cfg, err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, "unknown parameter \"retires\" (did you mean \"retries\"?)");
    /* Per-method keys: the method stays, the parameter is corrected. */
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?hello.requestTimout=5", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err,
                     "unknown parameter \"hello.requestTimout\" (did you mean \"hello.requestTimeout\"?)");
    /* Letter case is a typo too. */
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?loadBalance=random", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"loadBalance\" (did you mean \"loadbalance\"?)");
    /* Nothing close: no guess. */
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?frobnicate=1", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"frobnicate\"");
    /* Known ones, per method too, still pass. */
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?requestTimeout=5&hello.retries=2&"
                                "maxDecodedSize=1000&emptyNodeProtection=false",
                                err, sizeof(err)),
                     MOTAN_OK);
}
END_TEST

START_TEST(config_set_is_strict)
{
    char err[256];
    motan_config *cfg = NULL;
    ck_assert_int_eq(motan_config_new("motan2://127.0.0.1:1/svc", &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "requestTimout", "5", err, sizeof(err)), MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"requestTimout\" (did you mean \"requestTimeout\"?)");
    ck_assert_int_eq(motan_config_set(cfg, "hello", "retriez", "1", err, sizeof(err)), MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"hello.retriez\" (did you mean \"hello.retries\"?)");
    /* A registry's parameter is not a direct list's. */
    ck_assert_int_eq(motan_config_set(cfg, NULL, "sessionTimeout", "5000", err, sizeof(err)),
                     MOTAN_EURL);
    char *text = motan_config_to_url(cfg);
    ck_assert_ptr_null(strstr(text, "requestTimout"));
    ck_assert_ptr_null(strstr(text, "sessionTimeout"));
    motan_free(text);
    motan_config_free(cfg);
    /* ... but it is ZooKeeper's, and not per method. */
    ck_assert_int_eq(motan_config_new("zookeeper://127.0.0.1:1/svc", &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "sessionTimeout", "5000", err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "sessionTimout", "5000", err, sizeof(err)), MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"sessionTimout\" (did you mean \"sessionTimeout\"?)");
    ck_assert_int_eq(motan_config_set(cfg, "hello", "sessionTimeout", "5000", err, sizeof(err)),
                     MOTAN_EURL);
    motan_config_free(cfg);
}
END_TEST

/* ---- a registry plug-in that records what it is given ---------------------------------- */

typedef struct probe {
    motan_loop *loop;
    char create_url[512];
    char service_url[512];
    motan_registry_listener cb;
    void *ud;
} probe;

static probe g_probe;

static int probe_create(motan_loop *loop, const motan_url *url, void **state, char *errbuf,
                        size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    char *t = motan_url_format(url);
    snprintf(g_probe.create_url, sizeof(g_probe.create_url), "%s", t);
    motan_free(t);
    g_probe.loop = loop;
    *state = &g_probe;
    return MOTAN_OK;
}

static void probe_destroy(void *state) { (void)state; }

/* A Java provider's node: dozens of keys libmotan does not know, which must be accepted. */
static void deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    probe *p = arg;
    char text[1024];
    snprintf(text, sizeof(text),
             "motan2://127.0.0.1:1/com.example.EchoService?group=g7&nodeType=service&"
             "accessLog=false&export=motan:8002&protocol=motan2&refreshTimestamp=1700000000000&"
             "maxWorkerThread=800&shareChannel=true&requestTimout=5&filter=statistic");
    motan_url *u = NULL;
    ck_assert_int_eq(motan_url_parse(text, strlen(text), &u, NULL, 0), MOTAN_OK);
    const motan_url *nodes[1] = {u};
    p->cb(nodes, 1, p->ud);
    motan_url_free(u);
}

static int probe_subscribe(void *state, const motan_url *service, motan_registry_listener cb,
                           void *userdata)
{
    probe *p = state;
    char *t = motan_url_format(service);
    snprintf(p->service_url, sizeof(p->service_url), "%s", t);
    motan_free(t);
    p->cb = cb;
    p->ud = userdata;
    static const struct timeval zero = {0, 0};
    event_base_once(motan_loop_get_base(p->loop), -1, EV_TIMEOUT, deliver, p, &zero);
    return MOTAN_OK;
}

static int probe_unsubscribe(void *state, const motan_url *service, motan_registry_listener cb,
                             void *userdata)
{
    (void)state;
    (void)service;
    (void)cb;
    (void)userdata;
    return MOTAN_OK;
}

static const char *const probe_params[] = {"probeInterval", NULL};

static const motan_registry_ops probe_ops = {
    .struct_size = sizeof(motan_registry_ops),
    .scheme = "probe",
    .create = probe_create,
    .destroy = probe_destroy,
    .subscribe = probe_subscribe,
    .unsubscribe = probe_unsubscribe,
    .params = probe_params,
};

START_TEST(client_parameters_never_reach_the_registry)
{
    ck_assert_int_eq(motan_registry_register_ops(&probe_ops), MOTAN_OK);
    char err[256];
    motan_client *c = NULL;
    int rc = motan_client_new("probe://10.0.0.1:9/com.example.EchoService?requestTimeout=700000&"
                              "probeInterval=5&group=g7&connections=1&hello.retries=1",
                              &c, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s", err);
    ck_assert_str_eq(g_probe.create_url, "probe://10.0.0.1:9?probeInterval=5");
    ck_assert_str_eq(g_probe.service_url, "motan2:///com.example.EchoService?group=g7");
    /* The node with its unknown keys (a typo among them) became an endpoint. */
    ck_assert_int_eq(motan_client_wait_ready(c, 5000), MOTAN_OK);
    motan_client_free(c);
    /* Keys known to neither side, and the registry's with a typo, are refused. */
    ck_assert_int_eq(new_client("probe://10.0.0.1:9/svc?probeIntervall=5", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err, "unknown parameter \"probeIntervall\" (did you mean \"probeInterval\"?)");
}
END_TEST

/* The review's case: consul's own timeout check saw the client's requestTimeout. */
START_TEST(consul_gets_no_client_timeout)
{
    char err[256];
    if (!motan_registry_find_ops("consul"))
        return; /* built with WITH_CONSUL=0 */
    int rc = new_client("consul://127.0.0.1:1/com.example.EchoService?requestTimeout=700000", err,
                        sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s", err);
    /* Its own parameters still reach it (and are checked there). */
    ck_assert_int_eq(new_client("consul://127.0.0.1:1/svc?ttl=1", err, sizeof(err)), MOTAN_EURL);
    ck_assert_msg(strstr(err, "ttl"), "%s", err);
    ck_assert_int_eq(new_client("consul://127.0.0.1:1/svc?wait=5s&ttl=10", err, sizeof(err)),
                     MOTAN_OK);
}
END_TEST

/* ---- plug-in tables carry their size --------------------------------------------------- */

static void *lb_create(const motan_url *u)
{
    (void)u;
    static int token;
    return &token;
}
static void lb_destroy(void *s) { (void)s; }
static void lb_update(void *s, motan_endpoint *const *eps, size_t n)
{
    (void)s;
    (void)eps;
    (void)n;
}
static motan_endpoint *lb_pick(void *s, const motan_request *r, motan_endpoint *const *eps, size_t n,
                               motan_endpoint *const *ex, size_t nex)
{
    (void)s;
    (void)r;
    (void)ex;
    (void)nex;
    return n ? eps[0] : NULL;
}
static void ha_start(void *s, motan_ha_call *c)
{
    (void)s;
    motan_ha_call_fail(c, MOTAN_ENOENDPOINT, "none");
}
static void ha_on_attempt(void *s, motan_ha_call *c, int a, motan_response *r)
{
    (void)s;
    (void)a;
    motan_ha_call_complete(c, r);
}

START_TEST(ops_tables_are_checked_for_their_size)
{
    motan_lb_ops lb = {.struct_size = sizeof(motan_lb_ops) - 8, .name = "sizedLb", .create = lb_create,
                       .destroy = lb_destroy, .update = lb_update, .pick = lb_pick};
    ck_assert_int_eq(motan_lb_register(&lb), MOTAN_EINVAL);
    lb.struct_size = sizeof(motan_lb_ops) + 8;
    ck_assert_int_eq(motan_lb_register(&lb), MOTAN_EINVAL);
    static motan_lb_ops lb_ok;
    lb_ok = lb;
    lb_ok.struct_size = sizeof(motan_lb_ops);
    ck_assert_int_eq(motan_lb_register(&lb_ok), MOTAN_OK);

    motan_ha_ops ha = {.struct_size = 0, .name = "sizedHa", .create = lb_create, .destroy = lb_destroy,
                       .start = ha_start, .on_attempt = ha_on_attempt};
    ck_assert_int_eq(motan_ha_register(&ha), MOTAN_EINVAL);
    static motan_ha_ops ha_ok;
    ha_ok = ha;
    ha_ok.struct_size = sizeof(motan_ha_ops);
    ck_assert_int_eq(motan_ha_register(&ha_ok), MOTAN_OK);

    motan_registry_ops reg = probe_ops;
    reg.scheme = "sizedReg";
    reg.struct_size = sizeof(motan_registry_ops) / 2;
    ck_assert_int_eq(motan_registry_register_ops(&reg), MOTAN_EINVAL);
    ck_assert_ptr_null(motan_registry_find_ops("sizedReg"));
}
END_TEST

/* The cluster's tail-latency parameters (docs/cluster.md) are client parameters. */
START_TEST(tail_latency_parameters)
{
    char err[256];
    ck_assert_msg(new_client("motan2://127.0.0.1:1/svc?loadbalance=p2c&ewmaDecay=5000&"
                             "retryBudgetRatio=0.1&retryBudgetMin=2.5&maxEjectionPercent=20&"
                             "slowStartWindow=1000&outlierInterval=100&outlierMinRequests=5&"
                             "outlierErrorPercent=40&outlierLatencyFactor=2.5&"
                             "outlierLatencyMin=1&outlierEjectionTime=5000",
                             err, sizeof(err)) == MOTAN_OK,
                  "%s", err);
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?retryBudgetRation=0.1", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err,
                     "unknown parameter \"retryBudgetRation\" (did you mean \"retryBudgetRatio\"?)");
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?retryBudgetRatio=lots", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err, "parameter retryBudgetRatio=lots is not a number");
    ck_assert_int_eq(new_client("motan2://127.0.0.1:1/svc?maxEjectionPercent=101", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_str_eq(err, "parameter maxEjectionPercent=101 is out of range 0..100");
    motan_config *cfg = NULL;
    ck_assert_int_eq(motan_config_new("motan2://127.0.0.1:1/svc", &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "outlierLatencyFactor", "0.5", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "slowStartWindow", "30000", err, sizeof(err)),
                     MOTAN_OK);
    motan_config_free(cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("params");
    TCase *t = tcase_create("params");
    tcase_add_test(t, typo_is_an_error_with_a_suggestion);
    tcase_add_test(t, config_set_is_strict);
    tcase_add_test(t, client_parameters_never_reach_the_registry);
    tcase_add_test(t, consul_gets_no_client_timeout);
    tcase_add_test(t, ops_tables_are_checked_for_their_size);
    tcase_add_test(t, tail_latency_parameters);
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
