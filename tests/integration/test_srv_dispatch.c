/*
 * The server layer's dispatch, end to end over loopback: handlers per method, per service
 * and for everything, raw handlers passing bodies through, the three serializations, gzip
 * both ways, heartbeats in Go and Java form, unknown service and method answered as a
 * motan-go server answers them, response metadata, both loop modes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/motan.h>

#include "testutil.h"
#include "tu_srv.h"

#define TMO 5000

static int slow(void) { return tu_slow() ? 10 : 1; }

/* ---- handlers ------------------------------------------------------------------------------ */

static void h_add(const motan_server_request *req, motan_reply *reply, void *ud)
{
    const motan_value *args;
    (void)ud;
    motan_server_request_args(req, &args, NULL, 0);
    int64_t v = motan_value_get_int(motan_value_at(args, 0)) + motan_value_get_int(motan_value_at(args, 1));
    motan_reply_send(reply, motan_value_new_int64(motan_reply_arena(reply), v));
}

/* Answers the string ud (which handler ran). */
static void h_tag(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)req;
    motan_reply_send(reply, motan_value_new_string(motan_reply_arena(reply), ud, strlen(ud)));
}

static void setup_echo(tu_srv *t, int builtin, const char *const *params)
{
    tu_srv_start(t, builtin, params);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "echo", tu_srv_echo, NULL), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(t->s, TU_SVC, "add", h_add, NULL), MOTAN_OK);
}

/* ---- a blocking client ------------------------------------------------------------------------ */

/* method(typed JSON args...) -> typed JSON of the answer, or "ERR <code> <errcode> <msg>". */
static const char *call_text(motan_client *c, const char *method, const char *const *args)
{
    static char out[4096];
    motan_request *r = motan_client_request(c, method);
    for (size_t i = 0; args && args[i]; i++) {
        motan_value *v;
        ck_assert_int_eq(motan_tjson_parse(args[i], strlen(args[i]), motan_request_arena(r), &v, NULL, 0),
                         MOTAN_OK);
        motan_request_add_arg(r, v);
    }
    motan_response *resp;
    int rc = motan_client_call(c, r, &resp);
    if (rc == MOTAN_OK) {
        char *t = motan_tjson_format(motan_response_get_value(resp));
        snprintf(out, sizeof(out), "%s", t);
        motan_free(t);
    } else {
        snprintf(out, sizeof(out), "ERR %s %lld %s", motan_errname(rc),
                 (long long)motan_response_get_errcode(resp), motan_response_get_errmsg(resp));
    }
    motan_response_free(resp);
    motan_request_free(r);
    return out;
}

/* ---- tests ------------------------------------------------------------------------------------- */

START_TEST(echo_add_every_serialization)
{
    tu_srv t;
    setup_echo(&t, 1, NULL);
    static const char *const sers[] = {"simple", "msgpack", "json"};
    for (size_t i = 0; i < 3; i++) {
        char params[64];
        snprintf(params, sizeof(params), "serialization=%s", sers[i]);
        motan_client *c = tu_srv_client(&t, params);
        const char *a1[] = {"\"hello\"", NULL};
        ck_assert_str_eq(call_text(c, "echo", a1), "\"hello\"");
        const char *a2[] = {"{\"$int64\":40}", "{\"$int64\":2}", NULL};
        ck_assert_str_eq(call_text(c, "add", a2), "42");
        const char *a3[] = {"{\"k\":[1,2.5,true,null]}", NULL};
        const char *got = call_text(c, "echo", a3);
        ck_assert_msg(strstr(got, "\"k\"") && strstr(got, "2.5"), "%s: %s", sers[i], got);
        motan_client_free(c);
    }
    ck_assert_uint_eq(motan_server_stat(t.s, "requests"), 9);
    tu_srv_stop(&t);
}
END_TEST

typedef struct counter {
    int done, ok;
} counter;

static void on_resp(motan_response *resp, void *ud)
{
    counter *n = ud;
    n->done++;
    n->ok += resp && motan_response_get_code(resp) == MOTAN_OK &&
             motan_value_get_int(motan_response_get_value(resp)) == 42;
    motan_response_free(resp);
}

START_TEST(callers_event_base)
{
    /* Server and endpoint on the test's own event_base: everything runs in its callbacks. */
    tu_srv t;
    setup_echo(&t, 0, NULL);
    motan_endpoint *ep = tu_srv_endpoint(&t);
    motan_request *r = motan_request_new("add");
    motan_request_set_service(r, TU_SVC);
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 40));
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 2));
    counter n = {0, 0};
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(motan_endpoint_call(ep, r, 2000, on_resp, &n, NULL), MOTAN_OK);
    ck_assert(tu_run_until(&t.e, &n.done, 200, TMO * slow()));
    ck_assert_int_eq(n.ok, 200);
    motan_endpoint_free(ep);
    motan_request_free(r);
    tu_srv_stop(&t);
}
END_TEST

/* The next frame's M_e text must be want exactly, with status 1, ser and an empty body. */
static void expect_error(tu_wire *w, uint64_t id, int ser, const char *want)
{
    ck_assert_int_eq(tu_wire_frame(w, TMO), MOTAN_OK);
    ck_assert_int_eq(motan_frame_get_kind(w->f), MOTAN_FRAME_RESPONSE);
    ck_assert_uint_eq(motan_frame_get_request_id(w->f), id);
    ck_assert_int_eq(motan_frame_get_status(w->f), 1);
    ck_assert_int_eq(motan_frame_get_serialization(w->f), ser);
    size_t vl, bl;
    const char *v = motan_frame_meta_get(w->f, "M_e", 3, &vl);
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(vl == strlen(want) && !memcmp(v, want, vl), "M_e %.*s", (int)vl, v);
    ck_assert_ptr_nonnull(motan_frame_meta_get(w->f, "M_pt", 4, NULL));
    motan_frame_body(w->f, &bl);
    ck_assert_uint_eq(bl, 0);
}

START_TEST(unknown_service_and_method_as_go)
{
    /* The texts a motan-go server sends (spec §11, docs/test-server.md). */
    tu_srv t;
    setup_echo(&t, 1, NULL);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, "com.example.Nope", "echo", NULL, NULL, 0), 0);
    expect_error(&w, 1, MOTAN_SER_SIMPLE,
                 "{\"errcode\":404,\"errmsg\":\"provider not exist serviceKey=com.example.Nope\",\"errtype\":1}");
    ck_assert_int_eq(tu_wire_request(&w, 2, MOTAN_SER_SIMPLE, TU_SVC, "nosuch", NULL, NULL, 0), 0);
    expect_error(&w, 2, MOTAN_SER_SIMPLE,
                 "{\"errcode\":500,\"errmsg\":\"method nosuch is not found in provider.\",\"errtype\":1}");
    /* As Go: the method name's first letter may be upper case; not the rest. */
    ck_assert_int_eq(tu_wire_request(&w, 3, MOTAN_SER_JSON, TU_SVC, "ECHO", NULL, NULL, 0), 0);
    expect_error(&w, 3, MOTAN_SER_JSON,
                 "{\"errcode\":500,\"errmsg\":\"method ECHO is not found in provider.\",\"errtype\":1}");
    ck_assert_int_eq(tu_wire_request(&w, 4, MOTAN_SER_SIMPLE, NULL, "echo", NULL, NULL, 0), 0);
    expect_error(&w, 4, MOTAN_SER_SIMPLE,
                 "{\"errcode\":404,\"errmsg\":\"provider not exist serviceKey=\",\"errtype\":1}");
    tu_wire_close(&w);

    motan_client *c = tu_srv_client(&t, NULL);
    const char *a[] = {"\"x\"", NULL};
    ck_assert_str_eq(call_text(c, "Echo", a), "\"x\"");
    motan_client_free(c);
    ck_assert_uint_eq(motan_server_stat(t.s, "errors"), 4);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(method_service_and_global_handlers)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    motan_server *s = t.s;
    ck_assert_int_eq(motan_server_handle(s, TU_SVC, "one", h_tag, "one"), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(s, TU_SVC, NULL, h_tag, "svc"), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(s, NULL, NULL, h_tag, "all"), MOTAN_OK);
    ck_assert_int_eq(motan_server_handle(s, NULL, "m", h_tag, "x"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_server_handle(s, "", NULL, h_tag, "x"), MOTAN_EINVAL);
    motan_client *c = tu_srv_client(&t, NULL);
    ck_assert_str_eq(call_text(c, "one", NULL), "\"one\"");
    ck_assert_str_eq(call_text(c, "One", NULL), "\"one\"");
    ck_assert_str_eq(call_text(c, "two", NULL), "\"svc\"");
    motan_client_free(c);
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/other.Service", t.port);
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_str_eq(call_text(c, "any", NULL), "\"all\"");
    motan_client_free(c);
    /* Registering again replaces; a NULL handler removes (the next level answers). */
    ck_assert_int_eq(motan_server_handle(s, TU_SVC, "one", h_tag, "ONE"), MOTAN_OK);
    c = tu_srv_client(&t, NULL);
    ck_assert_str_eq(call_text(c, "one", NULL), "\"ONE\"");
    ck_assert_int_eq(motan_server_handle(s, TU_SVC, "one", NULL, NULL), MOTAN_OK);
    ck_assert_str_eq(call_text(c, "one", NULL), "\"svc\"");
    ck_assert_int_eq(motan_server_handle(s, TU_SVC, NULL, NULL, NULL), MOTAN_OK);
    ck_assert_str_eq(call_text(c, "one", NULL), "\"all\"");
    ck_assert_int_eq(motan_server_handle(s, NULL, NULL, NULL, NULL), MOTAN_OK);
    ck_assert_str_eq(call_text(c, "one", NULL),
                     "ERR MOTAN_EREMOTE 500 method one is not found in provider.");
    motan_client_free(c);
    tu_srv_stop(&t);
}
END_TEST

/* A proxy's view: the body and metadata as they came, answered with a chosen serialization. */
static void h_passthrough(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)ud;
    size_t blen, vlen, n = motan_server_request_meta_count(req);
    const uint8_t *body = motan_server_request_body(req, &blen);
    for (size_t i = 0; i < n; i++) {
        size_t kl, vl;
        const char *k = motan_server_request_meta_key(req, i, &kl);
        const char *v = motan_server_request_meta_value(req, i, &vl);
        if (kl > 2 && !memcmp(k, "X-", 2))
            ck_assert_int_eq(motan_reply_set_meta(reply, k, kl, v, vl), MOTAN_OK);
    }
    const char *ser = motan_server_request_meta(req, "X-Answer-Ser", &vlen);
    motan_reply_send_raw(reply, ser ? atoi(ser) : motan_server_request_serialization(req), 0, body,
                         blen);
}

START_TEST(raw_handler_passes_bodies_through)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    ck_assert_int_eq(motan_server_handle_raw(t.s, NULL, NULL, h_passthrough, NULL), MOTAN_OK);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    /* Bytes no codec could decode go through untouched, with the serialization asked for. */
    static const uint8_t body[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    const char *meta[] = {"X-Trace", "t-1", "X-Answer-Ser", "3", "Other", "dropped", NULL};
    ck_assert_int_eq(tu_wire_request(&w, 7, MOTAN_SER_HESSIAN2, "any.Service", "m", meta, body,
                                     sizeof(body)), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 7);
    ck_assert_int_eq(motan_frame_get_status(w.f), 0);
    ck_assert_int_eq(motan_frame_get_serialization(w.f), MOTAN_SER_MSGPACK);
    size_t bl, vl;
    const uint8_t *b = motan_frame_body(w.f, &bl);
    ck_assert_uint_eq(bl, sizeof(body));
    ck_assert(!memcmp(b, body, bl));
    const char *v = motan_frame_meta_get(w.f, "X-Trace", 7, &vl);
    ck_assert(v && vl == 3 && !memcmp(v, "t-1", 3));
    ck_assert_ptr_null(motan_frame_meta_get(w.f, "Other", 5, NULL));
    /* Metadata order: M_pt first, then the handler's in call order. */
    size_t kl;
    ck_assert(!memcmp(motan_frame_meta_key(w.f, 0, &kl), "M_pt", 4));
    ck_assert(!memcmp(motan_frame_meta_key(w.f, 1, &kl), "X-Trace", 7));
    ck_assert(!memcmp(motan_frame_meta_key(w.f, 2, &kl), "X-Answer-Ser", 12));
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(undecodable_arguments)
{
    tu_srv t;
    setup_echo(&t, 1, NULL);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, "\x0c\x00", 2), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, w.f);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_msg(!strncmp(motan_response_get_errmsg(resp), "deserialize fail: ", 18), "%s",
                  motan_response_get_errmsg(resp));
    ck_assert_int_eq(tu_wire_request(&w, 2, MOTAN_SER_HESSIAN2, TU_SVC, "echo", NULL, "\x53\x00", 2), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_int_eq(motan_frame_get_serialization(w.f), MOTAN_SER_HESSIAN2);
    motan_response_set_frame(resp, w.f);
    ck_assert_msg(strstr(motan_response_get_errmsg(resp), "not supported"), "%s",
                  motan_response_get_errmsg(resp));
    /* The connection is still good. */
    ck_assert_int_eq(tu_wire_request(&w, 3, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, "\x01\x00\x00\x00\x01z", 6), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_int_eq(motan_frame_get_status(w.f), 0);
    motan_response_free(resp);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(gzip_requests_and_responses)
{
    tu_srv t;
    setup_echo(&t, 1, NULL);
    char err[256];
    ck_assert_int_eq(motan_server_set(t.s, TU_SVC, "mingzSize", "100", err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(motan_server_set(t.s, TU_SVC, "maxConnections", "1", err, sizeof(err)), MOTAN_EURL);
    ck_assert_msg(strstr(err, "whole server"), "%s", err);
    /* The client gzips its request bodies; the service gzips answers over 100 bytes. */
    motan_client *c = tu_srv_client(&t, "mingzSize=10");
    char big[600], arg[700];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(arg, sizeof(arg), "\"%s\"", big);
    const char *a[] = {arg, NULL};
    ck_assert_str_eq(call_text(c, "echo", a), arg);
    motan_client_free(c);
    /* On the wire: the gzip bit on the long answer, not on a short one. */
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    motan_buf *b = motan_buf_new(0);
    motan_simple_write_string(b, big, strlen(big));
    ck_assert_int_eq(tu_wire_request(&w, 1, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, motan_buf_data(b),
                                     motan_buf_len(b)), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert(motan_frame_get_flags(w.f) & MOTAN_FLAG_GZIP);
    ck_assert_int_eq(tu_wire_request(&w, 2, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, "\x01\x00\x00\x00\x01z", 6), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert(!(motan_frame_get_flags(w.f) & MOTAN_FLAG_GZIP));
    motan_buf_free(b);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

static void send_hex(tu_wire *w, const char *hex)
{
    uint8_t *p;
    size_t n;
    ck_assert_int_eq(tu_hex_decode(hex, &p, &n), 0);
    ck_assert_int_eq(tu_wire_send(w, p, n), 0);
    free(p);
}

static void expect_bytes(tu_wire *w, const char *hex)
{
    ck_assert_int_eq(tu_wire_frame(w, TMO), MOTAN_OK);
    char *got = tu_hex_encode(motan_buf_data(w->in), w->eat);
    ck_assert_str_eq(got, hex);
    free(got);
}

START_TEST(heartbeats_go_and_java)
{
    tu_srv t;
    setup_echo(&t, 1, NULL);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    /* The conformance vectors' heartbeats: Go's answered in Go form, Java's in Java form. */
    size_t n;
    uint8_t *go = tu_vector_bytes("frames.json", "hb_request_go", &n);
    ck_assert_int_eq(tu_wire_send(&w, go, n), 0);
    free(go);
    expect_bytes(&w, "f1f113083001020304050607080000000000000000");
    uint8_t *java = tu_vector_bytes("frames.json", "hb_request_java", &n);
    ck_assert_int_eq(tu_wire_send(&w, java, n), 0);
    free(java);
    expect_bytes(&w, "f1f111080801020304050607080000000000000000");
    /* Java's other form: a request for the heartbeat service, answered as a heartbeat. */
    ck_assert_int_eq(tu_wire_request(&w, 0x0102030405060708ULL, MOTAN_SER_HESSIAN2,
                                     "com.weibo.api.motan.rpc.heartbeat", "heartbeat", NULL, NULL, 0), 0);
    expect_bytes(&w, "f1f111080801020304050607080000000000000000");
    /* Responses (to nothing the server asked) are ignored; the connection stays. */
    send_hex(&w, "f1f113083001020304050607080000000000000000");
    send_hex(&w, "f1f10108300000000000000010000000064d5f70740a330000000701000000026f6b");
    ck_assert_int_eq(tu_wire_request(&w, 9, MOTAN_SER_SIMPLE, TU_SVC, "echo", NULL, NULL, 0), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 9);
    ck_assert_uint_eq(motan_server_stat(t.s, "heartbeats"), 3);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

static void h_meta(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)ud;
    (void)req;
    ck_assert_int_eq(motan_reply_set_meta(reply, "a", 1, "1", 1), MOTAN_OK);
    ck_assert_int_eq(motan_reply_set_meta(reply, "empty", 5, "", 0), MOTAN_OK);
    ck_assert_int_eq(motan_reply_set_meta(reply, "bad\n", 4, "x", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_reply_set_meta(reply, "b", 1, "x\ny", 3), MOTAN_EINVAL);
    ck_assert_int_eq(motan_reply_set_meta(reply, "", 0, "x", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_reply_set_meta(reply, "M_pt", 4, "77", 2), MOTAN_OK);
    motan_reply_error(reply, 30001, 2, "biz <&>", 7);
}

START_TEST(response_metadata_and_errors)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    ck_assert_int_eq(motan_server_handle(t.s, TU_SVC, "m", h_meta, NULL), MOTAN_OK);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    ck_assert_int_eq(tu_wire_request(&w, 5, MOTAN_SER_SIMPLE, TU_SVC, "m", NULL, NULL, 0), 0);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    /* a, then the handler's M_pt instead of the server's, then M_e (Go's escaping). */
    ck_assert_uint_eq(motan_frame_meta_count(w.f), 3);
    size_t l;
    ck_assert(!memcmp(motan_frame_meta_key(w.f, 0, &l), "a", 1));
    ck_assert(!memcmp(motan_frame_meta_key(w.f, 1, &l), "M_pt", 4));
    ck_assert(!memcmp(motan_frame_meta_value(w.f, 1, &l), "77", 2));
    const char *e = motan_frame_meta_value(w.f, 2, &l);
    const char *want = "{\"errcode\":30001,\"errmsg\":\"biz \\u003c\\u0026\\u003e\",\"errtype\":2}";
    ck_assert_msg(l == strlen(want) && !memcmp(e, want, l), "%.*s", (int)l, e);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

static void h_inspect(const motan_server_request *req, motan_reply *reply, void *ud)
{
    char *out = ud;
    size_t l;
    snprintf(out, 512, "id=%llu ser=%d flags=%d peer=%s svc=%s m=%s meta=%zu x=%s body=%zu",
             (unsigned long long)motan_server_request_id(req), motan_server_request_serialization(req),
             motan_server_request_flags(req), motan_server_request_peer(req),
             motan_server_request_service(req, NULL), motan_server_request_method(req, &l),
             motan_server_request_meta_count(req), motan_server_request_meta(req, "x", NULL),
             (motan_server_request_body(req, &l), l));
    ck_assert_int_eq(motan_reply_remaining_ms(reply), -1);
    ck_assert_ptr_eq(motan_reply_request(reply), req);
    motan_reply_send(reply, motan_value_new_null(motan_reply_arena(reply)));
}

START_TEST(request_view)
{
    tu_srv t;
    tu_srv_start(&t, 1, NULL);
    static char seen[512];
    ck_assert_int_eq(motan_server_handle_raw(t.s, TU_SVC, "i", h_inspect, seen), MOTAN_OK);
    tu_wire w;
    ck_assert_int_eq(tu_wire_open(&w, t.port), 0);
    /* A oneway request is answered like any other (as Go and Java servers do). */
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_ONEWAY, 0, MOTAN_SER_SIMPLE, 1234, &mark);
    motan_frame_write_meta(b, mark, "M_p", 3, TU_SVC, strlen(TU_SVC));
    motan_frame_write_meta(b, mark, "M_m", 3, "i", 1);
    motan_frame_write_meta(b, mark, "x", 1, "y", 1);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, "\x05\x01", 2);
    motan_frame_write_end(b, mark, 0);
    ck_assert_int_eq(tu_wire_send(&w, motan_buf_data(b), motan_buf_len(b)), 0);
    motan_buf_free(b);
    ck_assert_int_eq(tu_wire_frame(&w, TMO), MOTAN_OK);
    ck_assert_uint_eq(motan_frame_get_request_id(w.f), 1234);
    ck_assert_msg(!strncmp(seen, "id=1234 ser=6 flags=4 peer=127.0.0.1:", 37), "%s", seen);
    ck_assert_msg(strstr(seen, " svc=" TU_SVC " m=i meta=3 x=y body=2"), "%s", seen);
    tu_wire_close(&w);
    tu_srv_stop(&t);
}
END_TEST

START_TEST(listeners_and_parameters)
{
    tu_srv t;
    setup_echo(&t, 1, NULL);
    char err[256], path[128];
    int port = -1;
    snprintf(path, sizeof(path), "unix:/tmp/motan-srv-%d.sock", (int)getpid());
    ck_assert_int_eq(motan_server_listen(t.s, path, &port, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_eq(port, 0);
    ck_assert_int_eq(motan_server_listen(t.s, "127.0.0.1:0", &port, err, sizeof(err)), MOTAN_OK);
    ck_assert_int_gt(port, 0);
    ck_assert_int_ne(port, t.port);
    /* Both TCP listeners and the Unix one serve. */
    char url[256];
    snprintf(url, sizeof(url), "motan2://[%s]/%s", path, TU_SVC);
    motan_client *c;
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    const char *a[] = {"\"u\"", NULL};
    ck_assert_str_eq(call_text(c, "echo", a), "\"u\"");
    motan_client_free(c);
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/%s", port, TU_SVC);
    ck_assert_int_eq(motan_client_new(url, &c, err, sizeof(err)), MOTAN_OK);
    ck_assert_str_eq(call_text(c, "echo", a), "\"u\"");
    motan_client_free(c);
    ck_assert_int_eq(motan_server_listen(t.s, "127.0.0.1:99999", NULL, err, sizeof(err)), MOTAN_EINVAL);
    ck_assert_int_eq(motan_server_listen(t.s, "nocolon", NULL, err, sizeof(err)), MOTAN_EINVAL);
    char taken[64];
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", t.port);
    ck_assert_int_eq(motan_server_listen(t.s, taken, NULL, err, sizeof(err)), MOTAN_EIO);
    ck_assert_msg(strstr(err, "cannot listen"), "%s", err);
    /* Parameters: a known set, checked values. */
    ck_assert_int_eq(motan_server_set(t.s, NULL, "maxConections", "5", err, sizeof(err)), MOTAN_EURL);
    ck_assert_str_eq(err, "unknown server parameter \"maxConections\" (did you mean \"maxConnections\"?)");
    ck_assert_int_eq(motan_server_set(t.s, NULL, "idleTimeout", "-1", err, sizeof(err)), MOTAN_EURL);
    ck_assert_int_eq(motan_server_set(t.s, NULL, "clientDeadline", "maybe", err, sizeof(err)), MOTAN_EURL);
    ck_assert_int_eq(motan_server_set(t.s, NULL, "idleTimeout", "60000", err, sizeof(err)), MOTAN_OK);
    tu_srv_stop(&t);
    ck_assert_int_ne(access(path + 5, F_OK), 0); /* the socket file went with the listener */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_srv_dispatch");
    TCase *t = tcase_create("dispatch");
    tcase_set_timeout(t, 60 * slow());
    tcase_add_test(t, echo_add_every_serialization);
    tcase_add_test(t, callers_event_base);
    tcase_add_test(t, unknown_service_and_method_as_go);
    tcase_add_test(t, method_service_and_global_handlers);
    tcase_add_test(t, raw_handler_passes_bodies_through);
    tcase_add_test(t, undecodable_arguments);
    tcase_add_test(t, gzip_requests_and_responses);
    tcase_add_test(t, heartbeats_go_and_java);
    tcase_add_test(t, response_metadata_and_errors);
    tcase_add_test(t, request_view);
    tcase_add_test(t, listeners_and_parameters);
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
