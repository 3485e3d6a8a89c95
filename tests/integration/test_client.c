/*
 * The client API end to end against the test server: URL and typed configuration, blocking
 * and async calls in both loop modes, the pull queue, per-method parameters, serializations,
 * error codes and messages, freeing with calls in flight.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"

static tu_server g_srv;
static char g_url[256];

static void setup(void)
{
    const char *args[] = {"--name", "s0", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
    snprintf(g_url, sizeof(g_url), "motan2://127.0.0.1:%d/com.example.EchoService", g_srv.port);
}

static void teardown(void) { ck_assert_int_eq(tu_server_stop(&g_srv), 0); }

static motan_client *client_for(const char *params)
{
    char url[512], err[256];
    snprintf(url, sizeof(url), "%s%s%s", g_url, params ? "?" : "", params ? params : "");
    motan_client *c = NULL;
    int rc = motan_client_new(url, &c, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s: %s", url, err);
    return c;
}

static motan_request *req_json(motan_client *c, const char *method, const char *arg)
{
    motan_request *r = motan_client_request(c, method);
    if (arg) {
        motan_value *v;
        char err[128];
        ck_assert_int_eq(motan_tjson_parse(arg, strlen(arg), motan_request_arena(r), &v, err, sizeof(err)),
                         MOTAN_OK);
        motan_request_add_arg(r, v);
    }
    return r;
}

static char *value_text(const motan_response *resp)
{
    static char buf[4096];
    char *t = motan_tjson_format(motan_response_get_value(resp));
    snprintf(buf, sizeof(buf), "%s", t ? t : "<null>");
    motan_free(t);
    return buf;
}

START_TEST(test_sync_echo_types)
{
    motan_client *c = client_for(NULL);
    const char *vals[] = {"\"hi\"", "null", "true", "{\"$int32\":7}", "{\"$int16\":-2}", "{\"$byte\":255}",
                          "1.5", "{\"$float32\":1.5}", "{\"$bytes\":\"AP8=\"}", "[1,\"a\",null]",
                          "{\"$string_map\":{\"k\":\"v\"}}", "{\"$string_array\":[\"a\"]}",
                          "{\"$map\":[[1,2]]}", "{\"k\":{\"n\":[]}}"};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        motan_request *r = req_json(c, "echo", vals[i]);
        motan_response *resp = NULL;
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        ck_assert_str_eq(value_text(resp), vals[i]);
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Server"), "s0");
        ck_assert_int_ge(motan_response_get_process_time(resp), 0);
        motan_response_free(resp);
        motan_request_free(r);
    }
    motan_client_free(c);
}
END_TEST

START_TEST(test_errors_have_codes_and_places)
{
    motan_client *c = client_for("requestTimeout=200");
    motan_response *resp = NULL;
    motan_request *r = req_json(c, "fail", "\"user gone\"");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errtype(resp), 2);
    ck_assert_int_eq(motan_response_get_errcode(resp), 30001);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "user gone");
    ck_assert_ptr_null(motan_response_get_value(resp));
    motan_response_free(resp);
    motan_request_free(r);

    r = req_json(c, "sleep", "1000");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ETIMEOUT);
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(resp), "com.example.EchoService.sleep"));
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(resp), "127.0.0.1"));
    ck_assert_int_eq(motan_response_get_errtype(resp), -1);
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);

    /* Nothing listens: connection error naming the endpoint and the method. */
    char err[256];
    ck_assert_int_eq(motan_client_new("motan2://127.0.0.1:1/com.example.EchoService", &c, err, sizeof(err)),
                     MOTAN_OK);
    r = req_json(c, "echo", "1");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ECONNECT);
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(resp), "127.0.0.1:1"));
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(resp), "com.example.EchoService.echo"));
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
}
END_TEST

START_TEST(test_bad_urls)
{
    const char *bad[] = {
        "nonsense",
        "motan2:///com.example.EchoService",
        "motan2://127.0.0.1:8002/",
        "motan2://127.0.0.1:8002/svc?requestTimeout=abc",
        "motan2://127.0.0.1:8002/svc?retries=-1",
        "motan2://127.0.0.1:8002/svc?loadbalance=nope",
        "motan2://127.0.0.1:8002/svc?haStrategy=nope",
        "motan2://127.0.0.1:8002/svc?serialization=hessian2",
        "motan2://127.0.0.1:8002/svc?hello.requestTimeout=0",
        "nosuchregistry://127.0.0.1:1/svc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_client *c = (motan_client *)1;
        char err[256] = "";
        int rc = motan_client_new(bad[i], &c, err, sizeof(err));
        ck_assert_msg(rc != MOTAN_OK, "%s accepted", bad[i]);
        ck_assert_ptr_null(c);
        ck_assert_msg(err[0], "%s: no message", bad[i]);
    }
}
END_TEST

/* Messages say what was written: port 0 is not "no port", a huge number is not clamped. */
START_TEST(test_bad_url_messages)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"motan2://127.0.0.1:0/svc", "port 0"},
        {"motan2://127.0.0.1/svc", "none or port 0"},
        {"motan2://127.0.0.1:1/svc?connections=99999999999999999999",
         "connections=99999999999999999999 is out of range 1..64"},
        {"motan2://127.0.0.1:1/svc?connections=-99999999999999999999",
         "connections=-99999999999999999999 is out of range"},
        {"motan2://127.0.0.1:1/svc?requestTimeout=86400001", "requestTimeout=86400001 is out of"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        motan_client *c = NULL;
        char err[256] = "";
        int rc = motan_client_new(cases[i].url, &c, err, sizeof(err));
        ck_assert_msg(rc == MOTAN_EURL, "%s: %s", cases[i].url, motan_errname(rc));
        ck_assert_msg(strstr(err, cases[i].want), "%s: \"%s\" not in \"%s\"", cases[i].url,
                      cases[i].want, err);
    }
    /* The typed setters say the same. */
    motan_config *cfg = NULL;
    char err[256] = "";
    ck_assert_int_eq(motan_config_new("motan2://127.0.0.1:1/svc", &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "maxPending", "123456789012345678901", err, sizeof(err)),
                     MOTAN_EURL);
    ck_assert_msg(strstr(err, "maxPending=123456789012345678901 is out of range"), "%s", err);
    motan_config_free(cfg);
}
END_TEST

START_TEST(test_config_setters)
{
    motan_config *cfg = NULL;
    char err[256];
    ck_assert_int_eq(motan_config_new(g_url, &cfg, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_request_timeout(cfg, 100), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_retries(cfg, 1), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_loadbalance(cfg, "roundrobin"), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_ha_strategy(cfg, "failover"), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_connections(cfg, 1), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_group(cfg, "g1"), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_application(cfg, "tests"), MOTAN_OK);
    ck_assert_int_eq(motan_config_set_request_timeout(cfg, 0), MOTAN_EURL);
    ck_assert_int_eq(motan_config_set_loadbalance(cfg, "nope"), MOTAN_EURL);
    ck_assert_int_eq(motan_config_set(cfg, NULL, "noSuchKey", "1", err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_nonnull(strstr(err, "noSuchKey"));
    ck_assert_int_eq(motan_config_set(cfg, "echo", "requestTimeout", "2000", err, sizeof(err)), MOTAN_OK);
    char *text = motan_config_to_url(cfg);
    ck_assert_ptr_nonnull(strstr(text, "requestTimeout=100"));
    ck_assert_ptr_nonnull(strstr(text, "echo.requestTimeout=2000"));
    motan_free(text);
    motan_client *c = NULL;
    ck_assert_int_eq(motan_client_new_config(cfg, NULL, &c, err, sizeof(err)), MOTAN_OK);
    motan_config_free(cfg);
    /* requestTimeout=100 for sleep, but echo may take 2000. */
    motan_response *resp;
    motan_request *r = req_json(c, "sleep", "300");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ETIMEOUT);
    motan_response_free(resp);
    motan_request_free(r);
    r = req_json(c, "echo", "\"slow\"");
    motan_request_set_meta(r, "X-Fault", "delay:300");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
}
END_TEST

START_TEST(test_method_override_in_url)
{
    motan_client *c = client_for("requestTimeout=2000&sleep.requestTimeout=50");
    motan_response *resp;
    motan_request *r = req_json(c, "sleep", "200");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ETIMEOUT);
    motan_response_free(resp);
    motan_request_free(r);
    r = req_json(c, "echo", "1");
    motan_request_set_meta(r, "X-Fault", "delay:200");
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    motan_response_free(resp);
    /* A per-call timeout beats both. */
    motan_request_set_timeout(r, 50);
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ETIMEOUT);
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
}
END_TEST

static const char *sers[] = {"simple", "msgpack", "json"};

START_TEST(test_serializations)
{
    char params[64];
    snprintf(params, sizeof(params), "serialization=%s", sers[_i]);
    motan_client *c = client_for(params);
    /* Values every serialization carries exactly. */
    const char *vals[] = {"\"hi\"", "42", "true", "null", "[1,\"x\"]", "{\"k\":\"v\"}", "-0.5"};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        motan_request *r = req_json(c, "echo", vals[i]);
        motan_response *resp;
        int rc = motan_client_call(c, r, &resp);
        ck_assert_msg(rc == MOTAN_OK, "%s %s: %s", sers[_i], vals[i], motan_response_get_errmsg(resp));
        ck_assert_str_eq(value_text(resp), vals[i]);
        /* The body really travelled in that serialization. */
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Serialization"), sers[_i]);
        motan_response_free(resp);
        motan_request_free(r);
    }
    motan_request *r = motan_client_request(c, "add");
    motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 40));
    motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), 2));
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    ck_assert_str_eq(value_text(resp), "42");
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
}
END_TEST

/* ---- async on the caller's loop ------------------------------------------------------- */

typedef struct acount {
    int done, ok;
    struct event_base *base;
} acount;

static void async_cb(motan_response *resp, void *ud)
{
    acount *a = ud;
    a->done++;
    if (resp && motan_response_get_code(resp) == MOTAN_OK)
        a->ok++;
    motan_response_free(resp);
}

START_TEST(test_async_caller_loop)
{
    struct event_base *base = event_base_new();
    motan_client *c = NULL;
    char err[256];
    ck_assert_int_eq(motan_client_new_with_base(base, g_url, &c, err, sizeof(err)), MOTAN_OK);
    motan_request *r = req_json(c, "echo", "\"x\"");
    /* Blocking calls are refused on a caller's loop. */
    motan_response *resp = NULL;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_EDEADLOCK);
    motan_response_free(resp);
    acount a = {0};
    /* Issued before the registry delivered the list: they wait for it, then run. */
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(motan_client_call_async(c, r, async_cb, &a), MOTAN_OK);
    ck_assert_int_eq(a.done, 0);
    uint64_t end = motan_now_us() + 5000000;
    while (a.done < 100 && motan_now_us() < end)
        event_base_loop(base, EVLOOP_ONCE);
    ck_assert_int_eq(a.ok, 100);
    motan_request_free(r);
    motan_client_free(c);
    event_base_free(base);
}
END_TEST

/* ---- pull queue ----------------------------------------------------------------------- */

START_TEST(test_submit_poll)
{
    motan_client *c = client_for(NULL);
    int fd = motan_client_completion_fd(c);
    ck_assert_int_ge(fd, 0);
    motan_response *resp = NULL;
    uint64_t tag = 0;
    ck_assert_int_eq(motan_client_poll(c, 0, &resp, &tag), 0);
    enum { N = 50 };
    motan_request *reqs[N];
    for (int i = 0; i < N; i++) {
        char arg[16];
        snprintf(arg, sizeof(arg), "%d", i);
        reqs[i] = req_json(c, "echo", arg);
        ck_assert_int_eq(motan_client_submit(c, reqs[i], (uint64_t)i + 1000), MOTAN_OK);
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
    int seen[N] = {0};
    for (int k = 0; k < N; k++) {
        ck_assert_int_eq(motan_client_poll(c, 5000, &resp, &tag), 1);
        ck_assert(tag >= 1000 && tag < 1000 + N);
        ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
        ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), (int64_t)(tag - 1000));
        seen[tag - 1000]++;
        motan_response_free(resp);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    /* Empty again: the fd is not readable and poll times out. */
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    ck_assert_int_eq(motan_client_poll(c, 20, &resp, &tag), 0);
    for (int i = 0; i < N; i++)
        motan_request_free(reqs[i]);
    motan_client_free(c);
}
END_TEST

/* Cancelling a submitted call by tag: it comes back at once as MOTAN_ECANCELLED, others go on. */
START_TEST(test_cancel_submitted)
{
    motan_client *c = client_for("requestTimeout=5000");
    motan_request *slow = req_json(c, "sleep", "3000");
    motan_request *fast = req_json(c, "sleep", "100");
    ck_assert_int_eq(motan_client_submit(c, slow, 5), MOTAN_OK);
    ck_assert_int_eq(motan_client_submit(c, fast, 6), MOTAN_OK);
    usleep(20000);
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(motan_client_cancel(c, 5), MOTAN_OK);
    motan_response *resp = NULL;
    uint64_t tag = 0;
    ck_assert_int_eq(motan_client_poll(c, 2000, &resp, &tag), 1);
    ck_assert_uint_eq(tag, 5);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_ECANCELLED);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "cancelled"), "%s",
                  motan_response_get_errmsg(resp));
    ck_assert_uint_lt(motan_now_us() - t0, 1000000); /* not the 3 s of the sleep */
    motan_response_free(resp);
    ck_assert_int_eq(motan_client_cancel(c, 5), MOTAN_ENOTFOUND);
    ck_assert_int_eq(motan_client_poll(c, 2000, &resp, &tag), 1);
    ck_assert_uint_eq(tag, 6);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    motan_response_free(resp);
    ck_assert_int_eq(motan_client_cancel(c, 6), MOTAN_ENOTFOUND);
    motan_request_free(slow);
    motan_request_free(fast);
    motan_client_free(c);
}
END_TEST

/* ---- threads and lifecycle ------------------------------------------------------------ */

typedef struct targ {
    motan_client *c;
    int id, bad;
} targ;

static void *worker(void *p)
{
    targ *t = p;
    for (int i = 0; i < 300; i++) {
        motan_request *r = motan_client_request(t->c, "add");
        motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), t->id));
        motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), i));
        motan_response *resp;
        if (motan_client_call(t->c, r, &resp) != MOTAN_OK ||
            motan_value_get_int(motan_response_get_value(resp)) != t->id + i)
            t->bad++;
        motan_response_free(resp);
        motan_request_free(r);
    }
    return NULL;
}

START_TEST(test_threads)
{
    motan_client *c = client_for(NULL);
    pthread_t th[8];
    targ t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = (targ){.c = c, .id = i * 1000};
        pthread_create(&th[i], NULL, worker, &t[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(t[i].bad, 0);
    }
    motan_client_free(c);
}
END_TEST

START_TEST(test_free_in_flight)
{
    motan_client *c = client_for(NULL);
    motan_request *r = req_json(c, "sleep", "800");
    acount a = {0};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(motan_client_call_async(c, r, async_cb, &a), MOTAN_OK);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(motan_client_submit(c, r, (uint64_t)i), MOTAN_OK);
    /* All 30 started on the loop (each sleeps 800 ms at the server): free them in flight. */
    motan_cluster *cl = motan_client_get_cluster(c);
    for (int i = 0; i < 2000 && motan_cluster_stat(cl, "calls") < 30; i++)
        usleep(1000);
    ck_assert_uint_eq(motan_cluster_stat(cl, "calls"), 30);
    motan_client_free(c);
    ck_assert_int_eq(a.done, 20);
    ck_assert_int_eq(a.ok, 0);
    motan_request_free(r);
}
END_TEST

START_TEST(test_no_endpoint_mentions_registry)
{
    /* A Consul agent that does not exist: no list ever arrives. */
    char err[256];
    motan_client *c = NULL;
    ck_assert_int_eq(motan_client_new("consul://127.0.0.1:1/com.example.EchoService?requestTimeout=300",
                                      &c, err, sizeof(err)),
                     MOTAN_OK);
    motan_request *r = req_json(c, "echo", "1");
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_ENOENDPOINT);
    const char *msg = motan_response_get_errmsg(resp);
    ck_assert_ptr_nonnull(strstr(msg, "com.example.EchoService.echo"));
    ck_assert_ptr_nonnull(strstr(msg, "registry"));
    motan_response_free(resp);
    motan_request_free(r);
    ck_assert_int_eq(motan_client_wait_ready(c, 50), MOTAN_ENOENDPOINT);
    motan_client_free(c);
}
END_TEST

START_TEST(test_file_registry_url)
{
    char path[256], url[512], err[256];
    snprintf(path, sizeof(path), "/tmp/motan-client-test-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"services\":{\"com.example.EchoService\":{\"default_rpc\":[\"127.0.0.1:%d\"]}}}\n",
            g_srv.port);
    fclose(f);
    snprintf(url, sizeof(url), "file://%s/com.example.EchoService", path);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    ck_assert_int_eq(motan_client_wait_ready(c, 3000), MOTAN_OK);
    motan_request *r = req_json(c, "name", NULL);
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
    ck_assert_str_eq(value_text(resp), "\"s0\"");
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
    unlink(path);
}
END_TEST

/*
 * Pass-through: a prebuilt body goes out as it is and the answer's body comes back
 * undecoded (what a proxy forwards), in every serialization; errors keep their details.
 */
START_TEST(test_raw_passthrough)
{
    motan_client *c = client_for(NULL);
    for (int i = 0; i < 3; i++) {
        int ser = motan_serialization_by_name(sers[i]);
        motan_arena *a = motan_arena_new();
        motan_value *v;
        const char *text = "{\"$string_map\":{\"k\":\"v\"}}";
        char err[128];
        ck_assert_int_eq(motan_tjson_parse(text, strlen(text), a, &v, err, sizeof(err)), MOTAN_OK);
        motan_buf *body = motan_buf_new(0), *want = motan_buf_new(0);
        const motan_value *args[] = {v};
        ck_assert_int_eq(motan_serialize_args(ser, args, 1, body, err, sizeof(err)), MOTAN_OK);
        ck_assert_int_eq(motan_serialize_value(ser, v, want, err, sizeof(err)), MOTAN_OK);

        motan_request *r = motan_client_request(c, "echo");
        motan_request_set_body(r, ser, motan_buf_data(body), motan_buf_len(body));
        motan_request_set_raw_response(r, 1);
        ck_assert_int_eq(motan_request_get_raw_response(r), 1);
        motan_response *resp;
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        size_t len;
        const uint8_t *got = motan_response_get_body(resp, &len);
        ck_assert_ptr_null(motan_response_get_value(resp));
        ck_assert_int_eq(motan_response_get_serialization(resp), ser);
        ck_assert_uint_eq(len, motan_buf_len(want));
        ck_assert_mem_eq(got, motan_buf_data(want), len);
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Serialization"), sers[i]);
        motan_response_free(resp);

        /* the same request decoded: a value, no body */
        motan_request_set_raw_response(r, 0);
        ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_OK);
        ck_assert_ptr_null(motan_response_get_body(resp, NULL));
        ck_assert_uint_eq(motan_value_count(motan_response_get_value(resp)), 1);
        motan_response_free(resp);
        motan_request_free(r);
        motan_buf_free(body);
        motan_buf_free(want);
        motan_arena_free(a);
    }
    /* A remote error through a raw call: code, errcode and M_e as always. */
    motan_request *r = req_json(c, "fail", "\"no\"");
    motan_request_set_raw_response(r, 1);
    motan_response *resp;
    ck_assert_int_eq(motan_client_call(c, r, &resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 30001);
    ck_assert_int_eq(motan_response_get_errtype(resp), 2);
    ck_assert_ptr_nonnull(motan_response_get_meta(resp, "M_e"));
    motan_response_free(resp);
    motan_request_free(r);
    motan_client_free(c);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sync_echo_types);
    tcase_add_test(tc, test_errors_have_codes_and_places);
    tcase_add_test(tc, test_bad_urls);
    tcase_add_test(tc, test_bad_url_messages);
    tcase_add_test(tc, test_config_setters);
    tcase_add_test(tc, test_method_override_in_url);
    tcase_add_loop_test(tc, test_serializations, 0, 3);
    tcase_add_test(tc, test_async_caller_loop);
    tcase_add_test(tc, test_submit_poll);
    tcase_add_test(tc, test_cancel_submitted);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_free_in_flight);
    tcase_add_test(tc, test_no_endpoint_mentions_registry);
    tcase_add_test(tc, test_file_registry_url);
    tcase_add_test(tc, test_raw_passthrough);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
