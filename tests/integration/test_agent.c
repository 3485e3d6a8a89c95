/*
 * motan-agent as a real process (tests/support/lib/agent_proc.h) with two motan-test-servers
 * behind it: the forward proxy (a server killed under load loses no call, bodies and
 * metadata pass through, motan-go's unknown-service error, M_tmo bounds, a Unix socket),
 * the HTTP entry, the management paths and /metrics as Prometheus text, bad YAML (file,
 * line, key; exit 2), SIGHUP reload under load and the SIGTERM drain.
 * ZooKeeper and the HTTP-backend exports: test_agent_zk.c.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <motan/motan.h>

#include "agent_proc.h"
#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"
#include "tu_prom.h"

#define SVC "com.example.EchoService"

static tu_server g_a, g_b;
static tu_agent g_ag;

static int ms(int v) { return tu_slow() ? v * 5 : v; }

static void servers_up(void)
{
    const char *a[] = {"--name", "a", "--quiet", NULL}, *b[] = {"--name", "b", "--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&g_a, a), 0);
    ck_assert_int_eq(tu_server_start(&g_b, b), 0);
}

static void servers_down(void)
{
    tu_server_kill(&g_a);
    tu_server_kill(&g_b);
}

/* The agent in front of both servers; extra goes at the end of motan-agent's section. */
static char *yaml_two(const char *agent_extra, const char *refer_extra)
{
    return tu_fmt("motan-agent:\n"
               "  port: 0\n"
               "  eport: 0\n"
               "  mport: 0\n"
               "  hport: 0\n"
               "  application: agent-test\n"
               "  log_dir: @DIR@\n"
               "%s"
               "motan-registry:\n"
               "  direct:\n"
               "    protocol: direct\n"
               "    address: 127.0.0.1:%d,127.0.0.1:%d\n"
               "motan-basicRefer:\n"
               "  base:\n"
               "    requestTimeout: 1000\n"
               "    haStrategy: failover\n"
               "    retries: 2\n"
               "    loadbalance: roundrobin\n"
               "motan-refer:\n"
               "  echo:\n"
               "    path: " SVC "\n"
               "    registry: direct\n"
               "    basicRefer: base\n"
               "%s",
               agent_extra ? agent_extra : "", g_a.port, g_b.port, refer_extra ? refer_extra : "");
}

static void agent_up(const char *agent_extra, const char *refer_extra)
{
    char *y = yaml_two(agent_extra, refer_extra);
    ck_assert_int_eq(tu_agent_start(&g_ag, y), 0);
    free(y);
}

static motan_client *client_at(const char *url_fmt, ...)
{
    char url[512], err[256];
    va_list ap;
    va_start(ap, url_fmt);
    vsnprintf(url, sizeof(url), url_fmt, ap);
    va_end(ap);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s: %s", url, err);
    return c;
}

/* A client of the agent's forward port. */
static motan_client *via_agent(const char *params)
{
    return client_at("motan2://127.0.0.1:%d/" SVC "?requestTimeout=3000%s%s", g_ag.port,
                     params ? "&" : "", params ? params : "");
}

/* ---- load: threads calling through the agent until told to stop -------------------------- */

typedef struct load {
    motan_client *c;
    const char *method;
    atomic_int stop;
    atomic_long ok, failed, a_seen, b_seen;
    char first_error[512];
    pthread_mutex_t mu;
    pthread_t th[4];
    int nth;
} load;

static void *load_main(void *p)
{
    load *l = p;
    while (!atomic_load(&l->stop)) {
        motan_response *resp = tu_call(l->c, l->method, NULL);
        if (motan_response_get_code(resp) == MOTAN_OK) {
            atomic_fetch_add(&l->ok, 1);
            if (!strcmp(tu_resp_str(resp), "a"))
                atomic_fetch_add(&l->a_seen, 1);
            else if (!strcmp(tu_resp_str(resp), "b"))
                atomic_fetch_add(&l->b_seen, 1);
        } else {
            pthread_mutex_lock(&l->mu);
            if (!l->first_error[0])
                snprintf(l->first_error, sizeof(l->first_error), "%s: %s",
                         motan_errname(motan_response_get_code(resp)), motan_response_get_errmsg(resp));
            pthread_mutex_unlock(&l->mu);
            atomic_fetch_add(&l->failed, 1);
        }
        motan_response_free(resp);
    }
    return NULL;
}

static void load_start(load *l, motan_client *c, const char *method, int threads)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    l->c = c;
    l->method = method;
    l->nth = threads;
    for (int i = 0; i < threads; i++)
        ck_assert_int_eq(pthread_create(&l->th[i], NULL, load_main, l), 0);
}

/* Waits until at least n calls succeeded (or timeout); 1 when they did. */
static int load_wait(load *l, long n, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (atomic_load(&l->ok) + atomic_load(&l->failed) < n) {
        if (motan_now_us() > end)
            return 0;
        usleep(2000);
    }
    return 1;
}

static void load_stop(load *l)
{
    atomic_store(&l->stop, 1);
    for (int i = 0; i < l->nth; i++)
        pthread_join(l->th[i], NULL);
    pthread_mutex_destroy(&l->mu);
}

/* ---- the forward proxy ------------------------------------------------------------------- */

START_TEST(kill_one_server_loses_no_call)
{
    servers_up();
    agent_up(NULL, NULL);
    motan_client *c = via_agent(NULL);
    load l;
    load_start(&l, c, "name", 4);
    ck_assert(load_wait(&l, 400, ms(20000)));
    ck_assert_int_gt(atomic_load(&l.a_seen), 0); /* both served before the kill */
    ck_assert_int_gt(atomic_load(&l.b_seen), 0);
    tu_server_kill(&g_a);
    long at_kill = atomic_load(&l.ok) + atomic_load(&l.failed);
    ck_assert(load_wait(&l, at_kill + 1500, ms(30000)));
    load_stop(&l);
    fprintf(stderr, "kill_one_server_loses_no_call: %ld calls, %ld after the kill, a %ld, b %ld\n",
            atomic_load(&l.ok) + atomic_load(&l.failed), atomic_load(&l.ok) + atomic_load(&l.failed) - at_kill,
            atomic_load(&l.a_seen), atomic_load(&l.b_seen));
    ck_assert_msg(atomic_load(&l.failed) == 0, "%ld of %ld calls failed, first: %s",
                  atomic_load(&l.failed), atomic_load(&l.ok) + atomic_load(&l.failed), l.first_error);
    /* the dead server is fused now: every call goes to b */
    for (int i = 0; i < 20; i++) {
        motan_response *resp = tu_call(c, "name", NULL);
        ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
        ck_assert_str_eq(tu_resp_str(resp), "b");
        motan_response_free(resp);
    }
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

START_TEST(unknown_service_is_motan_go_error)
{
    servers_up();
    agent_up(NULL, NULL);
    motan_client *c = client_at("motan2://127.0.0.1:%d/com.example.Nope", g_ag.port);
    motan_response *resp = tu_call(c, "name", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 400);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_str_eq(motan_response_get_errmsg(resp),
                     "cluster not found. cluster: cluster not found. service: com.example.Nope");
    motan_response_free(resp);
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

START_TEST(bodies_and_metadata_pass_through)
{
    servers_up();
    agent_up(NULL, NULL);
    static const char *sers[] = {"simple", "msgpack", "json"};
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof(p), "serialization=%s", sers[i]);
        motan_client *c = via_agent(p);
        motan_response *resp = tu_call(c, "echo", "{\"k\":[1,\"two\",3.5,null,true]}", NULL);
        ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s: %s", sers[i],
                      motan_response_get_errmsg(resp));
        /* the server saw the body in this serialization and answered in it, through the agent */
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Serialization"), sers[i]);
        ck_assert_ptr_nonnull(motan_response_get_meta(resp, "X-Server"));
        const motan_value *v = motan_value_map_get(motan_response_get_value(resp), "k", 1);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(motan_value_count(v), 5);
        motan_response_free(resp);
        motan_client_free(c);
    }
    motan_client *c = via_agent(NULL);
    /* a caller's attachments reach the server (a fault here), its answer comes back as sent */
    motan_request *r = motan_client_request(c, "echo");
    motan_request_set_meta(r, "X-Fault", "error-java");
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 10001);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "injected error");
    ck_assert_int_ge(motan_response_get_process_time(resp), 0);
    motan_response_free(resp);
    motan_request_free(r);
    /* group and source are filled from the refer; M_tmo is kept within [500, 2000] */
    const char *cases[][2] = {{"100", "500"}, {"700", "700"}, {"9000", "2000"}};
    for (int i = 0; i < 3; i++) {
        r = motan_client_request(c, "meta");
        motan_request_set_timeout(r, atoi(cases[i][0]));
        motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), "M_tmo", 5));
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        /* the server sees what is left when the agent sends: a few ms less under memcheck */
        int got = atoi(tu_resp_str(resp)), want = atoi(cases[i][1]);
        ck_assert_msg(got <= want && got >= want - (tu_slow() ? 100 : 20), "M_tmo %d, want %d", got, want);
        motan_response_free(resp);
        motan_request_free(r);
    }
    resp = tu_call(c, "meta", "\"M_s\"", NULL);
    ck_assert_str_eq(tu_resp_str(resp), "agent-test");
    motan_response_free(resp);
    motan_client_free(c);
    /* a caller without a group: the refer's */
    c = client_at("motan2://127.0.0.1:%d/" SVC "?application=php-app", g_ag.port);
    resp = tu_call(c, "meta", "\"M_s\"", NULL);
    ck_assert_str_eq(tu_resp_str(resp), "php-app");
    motan_response_free(resp);
    resp = tu_call(c, "meta", "\"M_g\"", NULL);
    ck_assert_str_eq(tu_resp_str(resp), "default_rpc");
    motan_response_free(resp);
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

START_TEST(unix_socket_callers)
{
    servers_up();
    agent_up("  unixSock: @DIR@/agent.sock\n", NULL);
    motan_client *c = client_at("motan2://[unix:%s/agent.sock]/" SVC, g_ag.dir);
    motan_response *resp = tu_call(c, "add", "40", "2", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 42);
    motan_response_free(resp);
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

/* ---- HTTP ---------------------------------------------------------------------------------- */

START_TEST(http_entry)
{
    servers_up();
    agent_up(NULL, NULL);
    char *body;
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/" SVC "/add", "[40,2]", &body), 200);
    ck_assert_str_eq(body, "42");
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/" SVC "/echo", "[{\"k\":[1,\"x\"]}]", &body), 200);
    ck_assert_str_eq(body, "{\"k\":[1,\"x\"]}");
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/" SVC "/echo?group=default_rpc", "", &body), 200);
    ck_assert_str_eq(body, "null");
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/" SVC "/fail", "[\"no\"]", &body), 502);
    ck_assert_ptr_nonnull(strstr(body, "\"errcode\":30001"));
    ck_assert_ptr_nonnull(strstr(body, "\"errmsg\":\"no\""));
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/com.example.Nope/x", "[]", &body), 404);
    ck_assert_ptr_nonnull(strstr(body, "cluster not found"));
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/" SVC "/add", "[40,", &body), 400);
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "GET", "/" SVC "/add", NULL, &body), 405);
    free(body);
    ck_assert_int_eq(tu_http(g_ag.hport, "POST", "/noservice", "[]", &body), 404);
    free(body);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

/* Checks text with the strict reader (tests/support/lib/tu_prom.h): every family motan_. */
static int prom_check(const char *text, char *why, size_t wlen)
{
    tu_prom p;
    int ok = tu_prom_parse(text, &p) == 0;
    if (!ok)
        snprintf(why, wlen, "%s", p.err);
    for (const char *t = p.types; ok && t && *t; t = strchr(t, '\n') + 1)
        if (strncmp(t, "motan_", 6)) {
            snprintf(why, wlen, "family %.*s does not start with motan_", (int)strcspn(t, " "), t);
            ok = 0;
        }
    tu_prom_free(&p);
    return ok;
}

/* The sum of the samples of name whose labels include every "k=\"v\"" of want. */
START_TEST(management_and_metrics)
{
    servers_up();
    agent_up(NULL, NULL);
    char *body;
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/", NULL, &body), 503); /* starts unavailable */
    free(body);
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/200", NULL, &body), 200);
    ck_assert_str_eq(body, "ok.");
    free(body);
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/", NULL, &body), 200);
    free(body);
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/version", NULL, &body), 200);
    ck_assert_str_eq(body, motan_version());
    free(body);
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/status", NULL, &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"status\": 200"));
    free(body);
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/nope", NULL, &body), 404);
    free(body);

    motan_client *c = via_agent(NULL);
    for (int i = 0; i < 5; i++)
        motan_response_free(tu_call(c, "add", "1", "2", NULL));
    for (int i = 0; i < 2; i++)
        motan_response_free(tu_call(c, "fail", "\"x\"", NULL));
    motan_client_free(c);
    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/registry/list", NULL, &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"subscribe_nodes\""));
    char ep[64];
    snprintf(ep, sizeof(ep), "\"address\": \"127.0.0.1:%d\"", g_b.port);
    ck_assert_ptr_nonnull(strstr(body, ep));
    ck_assert_ptr_nonnull(strstr(body, "\"fused\": false"));
    free(body);

    ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/metrics", NULL, &body), 200);
    char why[256];
    ck_assert_msg(prom_check(body, why, sizeof(why)), "%s\n%s", why, body);
    int found;
    const char *add_ok[] = {"method=\"add\"", "code=\"MOTAN_OK\"", NULL};
    ck_assert_int_eq((int)tu_prom_sum(body, "motan_client_calls_total", add_ok, &found), 5);
    ck_assert_int_eq(found, 1);
    const char *fail[] = {"method=\"fail\"", "code=\"MOTAN_EREMOTE\"", NULL};
    ck_assert_int_eq((int)tu_prom_sum(body, "motan_client_calls_total", fail, &found), 2);
    const char *add[] = {"method=\"add\"", NULL};
    ck_assert_int_eq((int)tu_prom_sum(body, "motan_client_call_duration_seconds_count", add, &found), 5);
    /* per endpoint: the two servers shared the calls (roundrobin) */
    ck_assert_int_eq((int)tu_prom_sum(body, "motan_client_attempts_total", add_ok, &found), 5);
    ck_assert_int_eq(found, 2);
    ck_assert_int_eq((int)tu_prom_sum(body, "motan_client_endpoint_available", NULL, &found), 2);
    ck_assert_int_gt(tu_prom_sum(body, "motan_agent_resident_memory_bytes", NULL, &found), 1e5);
    ck_assert_int_eq((int)tu_prom_sum(body, "motan_agent_available", NULL, &found), 1);
    const char *fwd[] = {"listener=\"forward\"", NULL};
    tu_prom_sum(body, "motan_agent_connections", fwd, &found);
    ck_assert_int_eq(found, 1);
    free(body);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

/* ---- configuration errors ------------------------------------------------------------------ */

START_TEST(bad_yaml_names_file_line_and_key)
{
    static const struct {
        const char *yaml, *where, *why;
    } cases[] = {
        {"motan-agent:\n  prot: 1\n", ":2: motan-agent.prot:", "did you mean \"port\"?"},
        {"motan-agent:\n  port: 70000\n", ":2: motan-agent.port:", "out of range"},
        {"motan-agent:\n  port: [1\n", ":3:", ""},
        {"motan-refers:\n  x: {}\n", ":1: motan-refers:", "did you mean \"motan-refer\"?"},
        {"motan-registry:\n  d:\n    protocol: direct\n    address: 127.0.0.1:1\n"
         "motan-refer:\n  echo:\n    path: a.B\n    registry: d\n    requestTimout: 10\n",
         ":9: motan-refer.echo.requestTimout:", "did you mean \"requestTimeout\"?"},
        {"motan-registry:\n  d:\n    protocol: direct\n    address: 127.0.0.1:1\n"
         "motan-refer:\n  echo:\n    path: a.B\n    registry: d\n    retries: many\n",
         ":9: motan-refer.echo.retries:", "not an integer"},
        {"motan-refer:\n  echo:\n    path: a.B\n    registry: nope\n", ":4: motan-refer.echo.registry:",
         "no \"nope\" in motan-registry"},
        {"motan-registry:\n  d:\n    protocol: direct\n    address: 127.0.0.1:1\n"
         "motan-refer:\n  echo:\n    path: a.B\n    registry: d\n    basicRefer: missing\n",
         ":9: motan-refer.echo.basicRefer:", "no \"missing\" in motan-basicRefer"},
        {"motan-registry:\n  z:\n    protocol: zookeeper\n    address: 127.0.0.1:2181\n    sesionTimeout: 1\n",
         ":5: motan-registry.z.sesionTimeout:", "did you mean \"sessionTimeout\"?"},
        {"motan-service:\n  s:\n    path: a.B\n    proxyAddres: 127.0.0.1:80\n",
         ":4: motan-service.s.proxyAddres:", "did you mean \"proxyAddress\"?"},
        {"motan-service:\n  s:\n    path: a.B\n    provider: grpc\n    proxyAddress: 127.0.0.1:80\n",
         ":4: motan-service.s.provider:", "not supported"},
        {"motan-agent:\n  port: 1\n  port: 2\n", ":3: port:", "duplicate key"},
        {"motan-service:\n  s:\n    path: a.B\n    proxyAddress: \"unix:\"\n",
         ":4: motan-service.s.proxyAddress:", "no socket path after unix:"},
        {"motan-service:\n  s:\n    path: a.B\n    proxyAddress: unix:/run/"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
         ":4: motan-service.s.proxyAddress:", "the socket path is 127 bytes long (at most 107)"},
        {"motan-service:\n  s:\n    path: a.B\n    proxyAddress: localhost\n",
         ":4: motan-service.s.proxyAddress:", "\"localhost\" is not host:port or unix:PATH"},
        {"motan-service:\n  s:\n    path: a.B\n    proxyAddress: http://127.0.0.1:80\n",
         ":4: motan-service.s.proxyAddress:", "is not host:port or unix:PATH"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[8192], want[512];
        const char *file;
        int rc = tu_agent_run(cases[i].yaml, out, sizeof(out), ms(10000), &file);
        ck_assert_msg(rc == 2, "case %zu: exit %d, output: %s", i, rc, out);
        snprintf(want, sizeof(want), "%s%s", file, cases[i].where);
        ck_assert_msg(strstr(out, want), "case %zu: no \"%s\" in: %s", i, want, out);
        ck_assert_msg(strstr(out, cases[i].why), "case %zu: no \"%s\" in: %s", i, cases[i].why, out);
        ck_assert_msg(!strstr(out, "ready"), "case %zu: it listened: %s", i, out);
    }
}
END_TEST

/* ---- operations ---------------------------------------------------------------------------- */

static int log_count(const char *needle)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/agent.log", g_ag.dir);
    size_t len;
    char *text = tu_read_file(path, &len);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

static int wait_log(const char *needle, int n, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (log_count(needle) < n)
        if (motan_now_us() > end)
            return 0;
        else
            usleep(5000);
    return 1;
}

START_TEST(sighup_reload_under_load)
{
    servers_up();
    agent_up(NULL, "  gone:\n    path: com.example.Gone\n    registry: direct\n");
    motan_client *c = via_agent(NULL);
    load l;
    load_start(&l, c, "name", 3);
    ck_assert(load_wait(&l, 300, ms(20000)));
    /* remove one refer, add another of the same service in group g2, then change it */
    static const char *steps[] = {
        "  added:\n    path: " SVC "\n    group: g2\n    registry: direct\n",
        "  added:\n    path: " SVC "\n    group: g2\n    registry: direct\n    requestTimeout: 700\n",
        "  added:\n    path: " SVC "\n    group: g2\n    registry: direct\n    requestTimeout: 800\n"};
    for (int i = 0; i < 3; i++) {
        char *y = yaml_two(NULL, steps[i]);
        ck_assert_int_eq(tu_agent_rewrite(&g_ag, y), 0);
        free(y);
        ck_assert_int_eq(tu_agent_signal(&g_ag, SIGHUP), 0);
        ck_assert(wait_log("reload: 2 refers", i + 1, ms(10000)));
        long now = atomic_load(&l.ok) + atomic_load(&l.failed);
        ck_assert(load_wait(&l, now + 200, ms(20000)));
    }
    load_stop(&l);
    ck_assert_msg(atomic_load(&l.failed) == 0, "%ld calls failed across reloads, first: %s",
                  atomic_load(&l.failed), l.first_error);
    /* the unchanged refer kept its client; the changed one got a new one each time */
    ck_assert_int_eq(log_count("refer echo: motan2://"), 1);
    ck_assert_int_eq(log_count("refer added: motan2://"), 3);
    ck_assert_int_eq(log_count("refer gone: removed"), 1);
    ck_assert(wait_log("refer gone: released", 1, ms(5000)));
    motan_client_free(c);
    /* the new refer answers its group, the removed one is gone */
    c = via_agent("group=g2");
    motan_response *resp = tu_call(c, "meta", "\"M_g\"", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_str_eq(tu_resp_str(resp), "g2");
    motan_response_free(resp);
    motan_client_free(c);
    c = client_at("motan2://127.0.0.1:%d/com.example.Gone", g_ag.port);
    resp = tu_call(c, "name", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 400);
    motan_response_free(resp);
    motan_client_free(c);
    /* a broken file changes nothing */
    ck_assert_int_eq(tu_agent_rewrite(&g_ag, "motan-agent:\n  prot: 1\n"), 0);
    ck_assert_int_eq(tu_agent_signal(&g_ag, SIGHUP), 0);
    ck_assert(wait_log("the running configuration stays", 1, ms(10000)));
    c = via_agent(NULL);
    resp = tu_call(c, "name", NULL);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    motan_response_free(resp);
    motan_client_free(c);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    servers_down();
}
END_TEST

/* Exports follow reloads too: a removed service stops being served, an added one starts. */
START_TEST(sighup_reloads_exports)
{
    tu_backend be;
    ck_assert_int_eq(tu_backend_start(&be, 0), 0);
    char *one = tu_fmt("motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
                    "motan-service:\n  hello:\n    path: com.example.Hello\n"
                    "    proxyAddress: 127.0.0.1:%d\n    healthInterval: 100\n",
                    be.port);
    char *two = tu_fmt("motan-agent:\n  port: 0\n  eport: 0\n  mport: 0\n  log_dir: @DIR@\n"
                    "motan-service:\n  bye:\n    path: com.example.Bye\n"
                    "    proxyAddress: 127.0.0.1:%d\n    healthInterval: 100\n",
                    be.port);
    ck_assert_int_eq(tu_agent_start(&g_ag, one), 0);
    ck_assert(wait_log("backend 127.0.0.1", 1, ms(10000)));
    motan_client *hello = client_at("motan2://127.0.0.1:%d/com.example.Hello", g_ag.eport);
    motan_client *bye = client_at("motan2://127.0.0.1:%d/com.example.Bye", g_ag.eport);
    motan_response *resp = tu_call(hello, "add", "40", "2", NULL);
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 42);
    motan_response_free(resp);
    resp = tu_call(bye, "add", "1", "2", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 404); /* not exported (yet) */
    motan_response_free(resp);
    ck_assert_int_eq(tu_agent_rewrite(&g_ag, two), 0);
    ck_assert_int_eq(tu_agent_signal(&g_ag, SIGHUP), 0);
    ck_assert(wait_log("reload: 0 refers, 1 services", 1, ms(10000)));
    ck_assert(wait_log("backend 127.0.0.1", 2, ms(10000)));
    resp = tu_call(bye, "echo", "\"b\"", NULL);
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    ck_assert_str_eq(tu_resp_str(resp), "b");
    motan_response_free(resp);
    resp = tu_call(hello, "add", "1", "2", NULL);
    ck_assert_int_eq(motan_response_get_errcode(resp), 404);
    motan_response_free(resp);
    motan_client_free(hello);
    motan_client_free(bye);
    free(one);
    free(two);
    ck_assert_int_eq(tu_agent_stop(&g_ag), 0);
    tu_backend_stop(&be);
}
END_TEST

typedef struct slow_call {
    motan_client *c;
    int code;
} slow_call;

static void *slow_main(void *p)
{
    slow_call *s = p;
    motan_response *resp = tu_call(s->c, "sleep", "600", NULL);
    s->code = motan_response_get_code(resp);
    motan_response_free(resp);
    return NULL;
}

START_TEST(sigterm_drains)
{
    servers_up();
    agent_up(NULL, "    requestTimeout: 3000\n");
    motan_client *c = via_agent(NULL);
    slow_call sc[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        sc[i].c = c;
        sc[i].code = 1;
        ck_assert_int_eq(pthread_create(&th[i], NULL, slow_main, &sc[i]), 0);
    }
    /* all six in flight in the agent before the signal */
    const char *sleep_l[] = {"method=\"sleep\"", NULL};
    uint64_t end = motan_now_us() + (uint64_t)ms(10000) * 1000u;
    for (;;) {
        char *body;
        int found;
        ck_assert_int_eq(tu_http(g_ag.mport, "GET", "/metrics", NULL, &body), 200);
        double n = tu_prom_sum(body, "motan_client_calls_in_flight", sleep_l, &found);
        free(body);
        if (n == 6)
            break;
        ck_assert(motan_now_us() < end);
        usleep(2000);
    }
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(tu_agent_signal(&g_ag, SIGTERM), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(sc[i].code, MOTAN_OK);
    }
    ck_assert_int_eq(tu_agent_wait(&g_ag, ms(10000)), 0);
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, (unsigned)ms(5000));
    motan_client_free(c);
    tu_agent_stop(&g_ag);
    servers_down();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_agent");
    TCase *t = tcase_create("agent");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, kill_one_server_loses_no_call);
    tcase_add_test(t, unknown_service_is_motan_go_error);
    tcase_add_test(t, bodies_and_metadata_pass_through);
    tcase_add_test(t, unix_socket_callers);
    tcase_add_test(t, http_entry);
    tcase_add_test(t, management_and_metrics);
    tcase_add_test(t, bad_yaml_names_file_line_and_key);
    tcase_add_test(t, sighup_reload_under_load);
    tcase_add_test(t, sighup_reloads_exports);
    tcase_add_test(t, sigterm_drains);
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
