/*
 * motan-test-server through plain blocking sockets and the codec: every method, error
 * answers, every fault mode's bytes, heartbeat styles, options, pipelining, robustness and
 * a clean SIGTERM exit.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <motan/codec.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"

#define SERVICE "com.example.EchoService"
#define RD_EOF 100
#define RD_TIMEOUT 101
#define RD_ERROR 102

static int slow(void) { return tu_slow() ? 10 : 1; }

#define TMO (5000 * slow())

/* ---- a blocking client ------------------------------------------------------------------ */

typedef struct cli {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    size_t eat; /* length of the frame last returned, dropped on the next read */
    motan_frame *f;
    int err;    /* errno of the last failed read */
} cli;

static void cli_open(cli *c, const tu_server *s)
{
    memset(c, 0, sizeof(*c));
    c->fd = tu_server_connect(s);
    ck_assert_msg(c->fd >= 0, "connect: %s", strerror(errno));
    c->f = motan_frame_new();
    ck_assert_ptr_nonnull(c->f);
}

static void cli_close(cli *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    motan_frame_free(c->f);
    c->fd = -1;
    c->buf = NULL;
    c->f = NULL;
}

static void cli_drop(cli *c, size_t n)
{
    if (n > c->len)
        n = c->len;
    if (!n)
        return;
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* 1 bytes read, 0 EOF, -1 error (c->err), -2 timeout. */
static int cli_fill(cli *c, int timeout_ms)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = realloc(c->buf, c->cap);
        ck_assert_ptr_nonnull(c->buf);
    }
    struct pollfd p = {c->fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    if (rc == 0)
        return -2;
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n < 0) {
        c->err = errno;
        return -1;
    }
    if (n == 0)
        return 0;
    c->len += (size_t)n;
    return 1;
}

/* One read before deadline (motan_now_us): 0 when bytes came, else RD_EOF, RD_ERROR, RD_TIMEOUT. */
static int cli_more(cli *c, uint64_t deadline)
{
    uint64_t now = motan_now_us();
    if (now >= deadline)
        return RD_TIMEOUT;
    switch (cli_fill(c, (int)((deadline - now) / 1000) + 1)) {
    case 1:
        return 0;
    case 0:
        return RD_EOF;
    case -1:
        return RD_ERROR;
    default:
        return RD_TIMEOUT;
    }
}

/* The next frame into c->f: MOTAN_OK, a parse error, RD_EOF, RD_TIMEOUT or RD_ERROR. */
static int cli_frame(cli *c, int timeout_ms)
{
    cli_drop(c, c->eat);
    c->eat = 0;
    uint64_t deadline = motan_now_us() + (uint64_t)timeout_ms * 1000;
    for (;;) {
        if (c->len) {
            size_t consumed = 0;
            int rc = motan_frame_parse(c->f, c->buf, c->len, 0, &consumed, NULL, 0);
            if (rc == MOTAN_OK) {
                c->eat = consumed;
                return MOTAN_OK;
            }
            if (rc != MOTAN_EAGAIN)
                return rc;
        }
        int r = cli_more(c, deadline);
        if (r)
            return r;
    }
}

/* Waits until at least n bytes are buffered; returns the bytes buffered (fewer at EOF). */
static size_t cli_raw(cli *c, size_t n, int timeout_ms)
{
    cli_drop(c, c->eat);
    c->eat = 0;
    uint64_t deadline = motan_now_us() + (uint64_t)timeout_ms * 1000;
    while (c->len < n && !cli_more(c, deadline))
        ;
    return c->len;
}

/* Reads until EOF or error; RD_EOF, RD_ERROR (c->err) or RD_TIMEOUT. */
static int cli_until_closed(cli *c, int timeout_ms)
{
    uint64_t deadline = motan_now_us() + (uint64_t)timeout_ms * 1000;
    int r;
    while (!(r = cli_more(c, deadline)))
        ;
    return r;
}

static void send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        ck_assert_msg(w > 0, "send: %s", strerror(errno));
        b += w;
        n -= (size_t)w;
    }
}

static motan_request *req_new(const char *method, const char *fault)
{
    motan_request *r = motan_request_new(method);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(motan_request_set_service(r, SERVICE), MOTAN_OK);
    if (fault)
        ck_assert_int_eq(motan_request_set_meta(r, "X-Fault", fault), MOTAN_OK);
    return r;
}

static void arg_str(motan_request *r, const char *s)
{
    ck_assert_int_eq(
        motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), s, strlen(s))),
        MOTAN_OK);
}

static void arg_i64(motan_request *r, int64_t v)
{
    ck_assert_int_eq(motan_request_add_arg(r, motan_value_new_int64(motan_request_arena(r), v)),
                     MOTAN_OK);
}

static void req_append(motan_request *r, uint64_t id, motan_buf *b)
{
    char err[256] = "";
    ck_assert_msg(motan_request_encode(r, id, 0, 0, b, err, sizeof(err)) == MOTAN_OK, "%s", err);
}

static void req_send(cli *c, motan_request *r, uint64_t id)
{
    motan_buf *b = motan_buf_new(0);
    req_append(r, id, b);
    send_all(c->fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
}

/* The next frame, which must be the answer to id; owned response. */
static motan_response *cli_answer(cli *c, uint64_t id)
{
    int rc = cli_frame(c, TMO);
    ck_assert_msg(rc == MOTAN_OK, "reading an answer: %d", rc);
    ck_assert_int_eq(motan_frame_get_kind(c->f), MOTAN_FRAME_RESPONSE);
    ck_assert_uint_eq(motan_frame_get_request_id(c->f), id);
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, c->f);
    return resp;
}

static motan_response *call(cli *c, motan_request *r, uint64_t id)
{
    req_send(c, r, id);
    return cli_answer(c, id);
}

/* echo("hello") with an optional X-Fault, sent with id. */
static void send_echo(cli *c, uint64_t id, const char *fault)
{
    motan_request *r = req_new("echo", fault);
    arg_str(r, "hello");
    req_send(c, r, id);
    motan_request_free(r);
}

static void assert_hello(const motan_response *resp)
{
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    size_t len;
    const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(s, "hello", 5) == 0);
}

static void expect_hello(cli *c, uint64_t id)
{
    motan_response *resp = cli_answer(c, id);
    assert_hello(resp);
    motan_response_free(resp);
}

/* What parsing the buffered bytes as one frame gives (into c->f). */
static int parse_buffered(cli *c)
{
    size_t consumed;
    return motan_frame_parse(c->f, c->buf, c->len, 0, &consumed, NULL, 0);
}

/* The buffered bytes begin with the bytes of want_hex. */
static void expect_hex(const cli *c, const char *want_hex)
{
    char *hex = tu_hex_encode(c->buf, strlen(want_hex) / 2);
    ck_assert_str_eq(hex, want_hex);
    free(hex);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void start_server(tu_server *s, const char *const *args)
{
    ck_assert_msg(tu_server_start(s, args) == 0, "cannot start motan-test-server");
}

/* ---- the shared server ------------------------------------------------------------------ */

static tu_server g;

static void shared_up(void)
{
    static const char *const args[] = {"--name", "shared", NULL};
    if (tu_server_start(&g, args)) {
        fprintf(stderr, "test_server: cannot start the shared server\n");
        exit(1);
    }
}

static void shared_down(void)
{
    /* A crash or leak (under MOTAN_SERVER_WRAPPER=valgrind) shows as a bad exit status. */
    if (tu_server_stop(&g)) {
        fprintf(stderr, "test_server: the shared server did not exit with status 0\n");
        exit(1);
    }
}

/* ---- methods ---------------------------------------------------------------------------- */

START_TEST(echo_types)
{
    cli c;
    cli_open(&c, &g);
    motan_arena *a = motan_arena_new();
    const char *texts[] = {"abc", "", "12345678901234567890"};
    motan_value *vals[8];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        vals[n++] = motan_value_new_string(a, texts[i], strlen(texts[i]));
    vals[n++] = motan_value_new_int32(a, -7);
    vals[n++] = motan_value_new_float64(a, 1.5);
    vals[n++] = motan_value_new_bytes(a, "\0\1\2", 3);
    motan_value *m = motan_value_new_container(a, MOTAN_T_MAP);
    motan_value_map_put(m, motan_value_new_string(a, "k", 1), motan_value_new_int64(a, 1));
    vals[n++] = m;
    motan_value *arr = motan_value_new_container(a, MOTAN_T_ARRAY);
    motan_value_append(arr, motan_value_new_bool(a, 1));
    motan_value_append(arr, m);
    vals[n++] = arr;
    for (size_t i = 0; i < n; i++) {
        motan_request *r = req_new("echo", NULL);
        motan_request_add_arg(r, motan_value_copy(motan_request_arena(r), vals[i]));
        motan_response *resp = call(&c, r, 100 + i);
        ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
        ck_assert_msg(motan_value_equal(motan_response_get_value(resp), vals[i]), "value %zu", i);
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Server"), "shared");
        ck_assert_str_eq(motan_response_get_meta(resp, "X-Serialization"), "simple");
        ck_assert_int_ge(motan_response_get_process_time(resp), 0);
        motan_response_free(resp);
        motan_request_free(r);
    }
    /* No argument: null. */
    motan_request *r = req_new("Echo", NULL);
    motan_response *resp = call(&c, r, 1);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(resp)), MOTAN_T_NULL);
    motan_response_free(resp);
    motan_request_free(r);
    motan_arena_free(a);
    cli_close(&c);
}
END_TEST

START_TEST(add_ints)
{
    cli c;
    cli_open(&c, &g);
    motan_request *r = req_new("add", NULL);
    motan_arena *ra = motan_request_arena(r);
    motan_request_add_arg(r, motan_value_new_int32(ra, 40));
    motan_request_add_arg(r, motan_value_new_int16(ra, 2));
    motan_response *resp = call(&c, r, 7);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(resp)), MOTAN_T_INT64);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 42);
    motan_response_free(resp);
    motan_request_free(r);

    r = req_new("add", NULL);
    ra = motan_request_arena(r);
    motan_request_add_arg(r, motan_value_new_byte(ra, 255));
    motan_request_add_arg(r, motan_value_new_int64(ra, -1000000000000));
    resp = call(&c, r, 8);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), -1000000000000 + 255);
    motan_response_free(resp);
    motan_request_free(r);

    r = req_new("add", NULL);
    arg_str(r, "x");
    arg_i64(r, 1);
    resp = call(&c, r, 9);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(resp), "bad arguments"));
    ck_assert_str_eq(motan_response_get_meta(resp, "X-Server"), "shared");
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

START_TEST(sleep_and_order)
{
    cli c;
    cli_open(&c, &g);
    motan_request *r = req_new("sleep", NULL);
    arg_i64(r, 100);
    uint64_t t0 = motan_now_us();
    motan_response *resp = call(&c, r, 1);
    ck_assert_uint_ge(motan_now_us() - t0, 100000);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 100);
    ck_assert_int_ge(motan_response_get_process_time(resp), 99);
    motan_response_free(resp);

    /* A long sleep does not hold up a later echo: answers go out of order. */
    motan_request_free(r);
    r = req_new("sleep", NULL);
    arg_i64(r, 300);
    req_send(&c, r, 2);
    send_echo(&c, 3, NULL);
    expect_hello(&c, 3);
    resp = cli_answer(&c, 2);
    ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), 300);
    motan_response_free(resp);
    motan_request_free(r);

    r = req_new("sleep", NULL);
    arg_i64(r, -1);
    resp = call(&c, r, 4);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

START_TEST(fail_business_error)
{
    cli c;
    cli_open(&c, &g);
    motan_request *r = req_new("fail", NULL);
    arg_str(r, "boom \"quoted\" <x>");
    motan_response *resp = call(&c, r, 5);
    ck_assert_int_eq(motan_frame_get_status(c.f), 1);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 30001);
    ck_assert_int_eq(motan_response_get_errtype(resp), 2);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "boom \"quoted\" <x>");
    ck_assert_ptr_nonnull(motan_response_get_meta(resp, "M_pt"));
    ck_assert_str_eq(motan_response_get_meta(resp, "X-Server"), "shared");
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

START_TEST(big_bytes)
{
    cli c;
    cli_open(&c, &g);
    const int64_t sizes[] = {0, 1, 300, 1000000};
    for (size_t k = 0; k < 4; k++) {
        motan_request *r = req_new("big", NULL);
        arg_i64(r, sizes[k]);
        motan_response *resp = call(&c, r, 10 + k);
        const motan_value *v = motan_response_get_value(resp);
        ck_assert_int_eq(motan_value_type(v), MOTAN_T_BYTES);
        size_t len;
        const uint8_t *p = (const uint8_t *)motan_value_get_data(v, &len);
        ck_assert_uint_eq(len, (size_t)sizes[k]);
        for (size_t i = 0; i < len; i++)
            ck_assert_uint_eq(p[i], i & 0xff);
        motan_response_free(resp);
        motan_request_free(r);
    }
    cli_close(&c);
}
END_TEST

START_TEST(name_method)
{
    cli c;
    cli_open(&c, &g);
    motan_request *r = req_new("name", NULL);
    motan_response *resp = call(&c, r, 1);
    size_t len;
    const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(resp)), MOTAN_T_STRING);
    ck_assert_uint_eq(len, 6);
    ck_assert(memcmp(s, "shared", 6) == 0);
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

START_TEST(meta_method)
{
    cli c;
    cli_open(&c, &g);
    motan_request *r = req_new("meta", NULL);
    ck_assert_int_eq(motan_request_set_meta(r, "X-Probe", "42"), MOTAN_OK);
    arg_str(r, "X-Probe");
    motan_response *resp = call(&c, r, 1);
    size_t len;
    const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(resp)), MOTAN_T_STRING);
    ck_assert_uint_eq(len, 2);
    ck_assert(memcmp(s, "42", 2) == 0);
    motan_response_free(resp);
    motan_request_free(r);
    /* The deadline a client writes (M_tmo), and an absent key: null. */
    motan_buf *b = motan_buf_new(0);
    r = req_new("meta", NULL);
    arg_str(r, "M_tmo");
    ck_assert_int_eq(motan_request_encode(r, 2, 750, 0, b, NULL, 0), MOTAN_OK);
    send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
    resp = cli_answer(&c, 2);
    s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(s, "750", 3) == 0);
    motan_response_free(resp);
    motan_request_free(r);
    motan_buf_free(b);
    r = req_new("meta", NULL);
    arg_str(r, "X-Nope");
    resp = call(&c, r, 3);
    ck_assert_int_eq(motan_value_type(motan_response_get_value(resp)), MOTAN_T_NULL);
    motan_response_free(resp);
    motan_request_free(r);
    /* Not a string: bad arguments. */
    r = req_new("meta", NULL);
    arg_i64(r, 1);
    resp = call(&c, r, 4);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_ptr_nonnull(strstr(motan_response_get_errmsg(resp), "bad arguments for meta"));
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

START_TEST(unknown_method_and_service)
{
    cli c;
    cli_open(&c, &g);
    motan_request *r = req_new("nosuch", NULL);
    motan_response *resp = call(&c, r, 1);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "method nosuch is not found in provider.");
    ck_assert_ptr_nonnull(motan_response_get_meta(resp, "M_pt"));
    motan_response_free(resp);
    motan_request_free(r);

    r = req_new("echo", NULL);
    motan_request_set_service(r, "com.example.Nope");
    resp = call(&c, r, 2);
    ck_assert_int_eq(motan_response_get_errcode(resp), 404);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_str_eq(motan_response_get_errmsg(resp),
                     "provider not exist serviceKey=com.example.Nope");
    motan_response_free(resp);
    motan_request_free(r);

    r = req_new("echo", "no-such-fault");
    resp = call(&c, r, 3);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "bad X-Fault: no-such-fault");
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

/* A request frame built by hand, for serializations and bodies the request API refuses. */
static void send_raw_request(cli *c, uint64_t id, int ser, const void *body, size_t blen)
{
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    ck_assert_int_eq(motan_frame_write_begin(b, 0, 0, (uint8_t)ser, id, &mark), MOTAN_OK);
    motan_frame_write_meta(b, mark, "M_p", 3, SERVICE, strlen(SERVICE));
    motan_frame_write_meta(b, mark, "M_m", 3, "echo", 4);
    motan_frame_write_body_begin(b, mark);
    motan_buf_append(b, body, blen);
    ck_assert_int_eq(motan_frame_write_end(b, mark, 0), MOTAN_OK);
    send_all(c->fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
}

START_TEST(bad_serialization_and_body)
{
    cli c;
    cli_open(&c, &g);
    send_raw_request(&c, 1, MOTAN_SER_HESSIAN2, "\x53\x00\x01x", 4);
    motan_response *resp = cli_answer(&c, 1);
    ck_assert_int_eq(motan_frame_get_serialization(c.f), MOTAN_SER_HESSIAN2);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    ck_assert_msg(!strncmp(motan_response_get_errmsg(resp), "deserialize fail: ", 18), "%s",
                  motan_response_get_errmsg(resp));
    motan_response_free(resp);

    send_raw_request(&c, 2, MOTAN_SER_SIMPLE, "\x0c\x00", 2); /* unknown Simple tag */
    resp = cli_answer(&c, 2);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert(!strncmp(motan_response_get_errmsg(resp), "deserialize fail: ", 18));
    motan_response_free(resp);
    /* The connection is still good. */
    send_echo(&c, 3, NULL);
    expect_hello(&c, 3);
    cli_close(&c);
}
END_TEST

START_TEST(pipeline_1000)
{
    cli c;
    cli_open(&c, &g);
    motan_buf *b = motan_buf_new(0);
    for (uint64_t i = 1; i <= 1000; i++) {
        motan_request *r = req_new("echo", NULL);
        arg_i64(r, (int64_t)i * 3);
        req_append(r, i, b);
        motan_request_free(r);
    }
    send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    static uint8_t seen[1001];
    memset(seen, 0, sizeof(seen));
    for (int k = 0; k < 1000; k++) {
        ck_assert_int_eq(cli_frame(&c, TMO), MOTAN_OK);
        uint64_t id = motan_frame_get_request_id(c.f);
        ck_assert(id >= 1 && id <= 1000 && !seen[id]);
        seen[id] = 1;
        motan_response *resp = motan_response_new();
        motan_response_set_frame(resp, c.f);
        ck_assert_int_eq(motan_value_get_int(motan_response_get_value(resp)), (int64_t)id * 3);
        motan_response_free(resp);
    }
    cli_close(&c);
}
END_TEST

START_TEST(pipeline_mixed_delays)
{
    cli c;
    cli_open(&c, &g);
    motan_buf *b = motan_buf_new(0);
    char fault[32];
    for (uint64_t i = 1; i <= 300; i++) {
        snprintf(fault, sizeof(fault), "delay:%d", (int)(i % 7) * 15);
        motan_request *r = req_new("echo", i % 7 ? fault : NULL);
        arg_i64(r, (int64_t)i);
        req_append(r, i, b);
        motan_request_free(r);
    }
    send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    uint8_t seen[301] = {0};
    int out_of_order = 0;
    uint64_t last = 0;
    for (int k = 0; k < 300; k++) {
        ck_assert_int_eq(cli_frame(&c, TMO), MOTAN_OK);
        uint64_t id = motan_frame_get_request_id(c.f);
        ck_assert(id >= 1 && id <= 300 && !seen[id]);
        seen[id] = 1;
        out_of_order |= id < last;
        last = id;
    }
    ck_assert(out_of_order);
    cli_close(&c);
}
END_TEST

START_TEST(many_connections)
{
    enum { N = 200 };
    static cli cs[N];
    for (int i = 0; i < N; i++)
        cli_open(&cs[i], &g);
    for (int i = 0; i < N; i++)
        send_echo(&cs[i], (uint64_t)i + 1, NULL);
    for (int i = 0; i < N; i++) {
        expect_hello(&cs[i], (uint64_t)i + 1);
        cli_close(&cs[i]);
    }
}
END_TEST

START_TEST(client_garbage_closes)
{
    cli bad, good;
    cli_open(&bad, &g);
    cli_open(&good, &g);
    send_all(bad.fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    ck_assert_int_eq(cli_until_closed(&bad, TMO), RD_EOF);
    /* A motan1 frame is refused the same way. */
    cli m1;
    cli_open(&m1, &g);
    send_all(m1.fd, "\xf1\xf1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00", 21);
    ck_assert_int_eq(cli_until_closed(&m1, TMO), RD_EOF);
    send_echo(&good, 1, NULL);
    expect_hello(&good, 1);
    cli_close(&bad);
    cli_close(&m1);
    cli_close(&good);
}
END_TEST

START_TEST(disconnect_with_pending)
{
    for (int round = 0; round < 3; round++) {
        cli c;
        cli_open(&c, &g);
        motan_buf *b = motan_buf_new(0);
        for (uint64_t i = 1; i <= 100; i++) {
            motan_request *r = req_new("sleep", NULL);
            arg_i64(r, 50 + (int64_t)i);
            req_append(r, i, b);
            motan_request_free(r);
        }
        send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
        motan_buf_free(b);
        cli_close(&c);
    }
    usleep(300000); /* the timers would all have fired by now */
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 1, NULL);
    expect_hello(&c, 1);
    cli_close(&c);
}
END_TEST

START_TEST(heartbeat_go_default)
{
    cli c;
    cli_open(&c, &g);
    motan_buf *b = motan_buf_new(0);
    motan_frame_write_heartbeat(b, 0x0102030405060708ULL, 0);
    send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    ck_assert_uint_ge(cli_raw(&c, 21, TMO), 21);
    expect_hex(&c, "f1f113083001020304050607080000000000000000");
    cli_close(&c);
}
END_TEST

/* ---- faults, per request (X-Fault) ------------------------------------------------------- */

START_TEST(fault_delay)
{
    cli c;
    cli_open(&c, &g);
    uint64_t t0 = motan_now_us();
    send_echo(&c, 1, "delay:150");
    motan_response *resp = cli_answer(&c, 1);
    ck_assert_uint_ge(motan_now_us() - t0, 150000);
    assert_hello(resp);
    ck_assert_int_ge(motan_response_get_process_time(resp), 149);
    motan_response_free(resp);
    cli_close(&c);
}
END_TEST

START_TEST(fault_noreply)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 1, "noreply");
    ck_assert_int_eq(cli_frame(&c, 300), RD_TIMEOUT);
    send_echo(&c, 2, NULL);
    expect_hello(&c, 2);
    cli_close(&c);
}
END_TEST

START_TEST(fault_close)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 1, NULL);
    send_echo(&c, 2, "close");
    expect_hello(&c, 1); /* answers queued before the fault still go out */
    ck_assert_int_eq(cli_frame(&c, TMO), RD_EOF);
    cli_close(&c);
}
END_TEST

START_TEST(fault_reset)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 1, "reset");
    int rc = cli_until_closed(&c, TMO);
    ck_assert_int_eq(rc, RD_ERROR);
    ck_assert_int_eq(c.err, ECONNRESET);
    cli_close(&c);
}
END_TEST

START_TEST(fault_close_mid)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 1, NULL);
    ck_assert_int_eq(cli_frame(&c, TMO), MOTAN_OK);
    size_t full = c.eat;
    send_echo(&c, 2, "close-mid");
    ck_assert_int_eq(cli_frame(&c, TMO), RD_EOF);
    /* Half of the frame (M_pt may differ by a digit), then the end of the stream. */
    ck_assert_uint_ge(c.len, full / 2 - 1);
    ck_assert_uint_le(c.len, full / 2 + 1);
    ck_assert_uint_eq(c.buf[0], 0xf1);
    ck_assert_uint_eq(c.buf[1], 0xf1);
    cli_close(&c);
}
END_TEST

START_TEST(fault_garbage)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 1, "garbage");
    ck_assert_uint_ge(cli_raw(&c, 64, TMO), 64);
    ck_assert(!(c.buf[0] == 0xf1 && c.buf[1] == 0xf1));
    ck_assert_int_eq(parse_buffered(&c), MOTAN_EPROTO);
    cli_drop(&c, 64);
    /* The connection stays open. */
    send_echo(&c, 2, NULL);
    expect_hello(&c, 2);
    cli_close(&c);
}
END_TEST

START_TEST(fault_wrong_id)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 0x1234, "wrong-id");
    motan_response *resp = cli_answer(&c, 0x1234 ^ 0x8000000000000000ULL);
    assert_hello(resp);
    motan_response_free(resp);
    cli_close(&c);
}
END_TEST

START_TEST(fault_duplicate)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 77, "duplicate");
    expect_hello(&c, 77);
    expect_hello(&c, 77);
    ck_assert_int_eq(cli_frame(&c, 200), RD_TIMEOUT);
    cli_close(&c);
}
END_TEST

START_TEST(fault_oversize)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 0x42, "oversize");
    ck_assert_uint_eq(cli_raw(&c, 22, 300), 21); /* exactly the header, nothing more */
    expect_hex(&c, "f1f1010830000000000000004200000000ffffffff");
    ck_assert_int_eq(parse_buffered(&c), MOTAN_ETOOBIG);
    cli_close(&c);

    cli_open(&c, &g);
    send_echo(&c, 0x43, "oversize-meta");
    ck_assert_uint_eq(cli_raw(&c, 18, 300), 17);
    expect_hex(&c, "f1f10108300000000000000043ffffffff");
    ck_assert_int_eq(parse_buffered(&c), MOTAN_ETOOBIG);
    cli_close(&c);
}
END_TEST

START_TEST(fault_bytewise)
{
    cli c;
    cli_open(&c, &g);
    uint64_t t0 = motan_now_us();
    send_echo(&c, 5, "bytewise");
    int reads = 0;
    size_t consumed = 0;
    for (;;) {
        if (c.len && motan_frame_parse(c.f, c.buf, c.len, 0, &consumed, NULL, 0) == MOTAN_OK)
            break;
        ck_assert_int_eq(cli_fill(&c, TMO), 1);
        reads++;
    }
    /* One byte per ms: many small reads and at least (length - 1) ms. */
    ck_assert_int_ge(reads, 5);
    ck_assert_uint_ge(motan_now_us() - t0, (consumed - 1) * 1000);
    c.eat = consumed;
    motan_response *resp = motan_response_new();
    motan_response_set_frame(resp, c.f);
    assert_hello(resp);
    motan_response_free(resp);
    cli_close(&c);
}
END_TEST

START_TEST(fault_error_go)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 16, "error-go");
    motan_response *resp = cli_answer(&c, 16);
    ck_assert_uint_eq(c.buf[3], 0x09);
    ck_assert_uint_eq(c.buf[4], 0x30);
    ck_assert_uint_eq(motan_frame_meta_count(c.f), 1);
    size_t kl, vl, bl;
    const char *k = motan_frame_meta_key(c.f, 0, &kl);
    const char *v = motan_frame_meta_value(c.f, 0, &vl);
    ck_assert(kl == 3 && !memcmp(k, "M_e", 3));
    const char *want = "{\"errcode\":500,\"errmsg\":\"injected error\",\"errtype\":1}";
    ck_assert(vl == strlen(want) && !memcmp(v, want, vl));
    motan_frame_body(c.f, &bl);
    ck_assert_uint_eq(bl, 0);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_EREMOTE);
    ck_assert_int_eq(motan_response_get_errcode(resp), 500);
    ck_assert_str_eq(motan_response_get_errmsg(resp), "injected error");
    motan_response_free(resp);
    cli_close(&c);
}
END_TEST

START_TEST(fault_error_java)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 16, "error-java");
    motan_response *resp = cli_answer(&c, 16);
    ck_assert_uint_eq(c.buf[3], 0x09);
    ck_assert_uint_eq(c.buf[4], 0x00);
    ck_assert_uint_eq(motan_frame_meta_count(c.f), 2);
    size_t kl, vl;
    const char *k = motan_frame_meta_key(c.f, 0, &kl);
    ck_assert(kl == 4 && !memcmp(k, "M_pt", 4));
    k = motan_frame_meta_key(c.f, 1, &kl);
    const char *v = motan_frame_meta_value(c.f, 1, &vl);
    ck_assert(kl == 3 && !memcmp(k, "M_e", 3));
    const char *want = "{\"errcode\":10001,\"errtype\":1,\"errmsg\":\"injected error\"}";
    ck_assert(vl == strlen(want) && !memcmp(v, want, vl));
    ck_assert_int_eq(motan_response_get_errcode(resp), 10001);
    ck_assert_int_eq(motan_response_get_errtype(resp), 1);
    motan_response_free(resp);
    cli_close(&c);
}
END_TEST

START_TEST(fault_gzip)
{
    cli c;
    cli_open(&c, &g);
    char text[2000];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    motan_request *r = req_new("echo", "gzip");
    arg_str(r, text);
    motan_response *resp = call(&c, r, 3);
    ck_assert(motan_frame_get_flags(c.f) & MOTAN_FLAG_GZIP);
    ck_assert_uint_lt(be32(c.buf + 17 + be32(c.buf + 13)), 200); /* compressed on the wire */
    size_t len;
    const char *s = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert_uint_eq(len, sizeof(text) - 1);
    ck_assert(!memcmp(s, text, len));
    motan_response_free(resp);
    motan_request_free(r);
    cli_close(&c);
}
END_TEST

START_TEST(fault_gzip_bomb)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 9, "gzip-bomb");
    ck_assert_uint_ge(cli_raw(&c, 21, TMO), 21);
    ck_assert_uint_eq(c.buf[2], MOTAN_FLAG_RESPONSE | MOTAN_FLAG_GZIP);
    size_t need = 17 + be32(c.buf + 13) + 4;
    ck_assert_uint_ge(cli_raw(&c, need, TMO), need);
    size_t total = need + be32(c.buf + need - 4);
    ck_assert_uint_lt(total, 1024 * 1024);
    ck_assert_uint_ge(cli_raw(&c, total, TMO), total);
    ck_assert_int_eq(parse_buffered(&c), MOTAN_ETOOBIG);
    cli_close(&c);
}
END_TEST

START_TEST(fault_many_meta)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 4, "many-meta:100");
    motan_response *resp = cli_answer(&c, 4);
    assert_hello(resp);
    ck_assert_uint_eq(motan_frame_meta_count(c.f), 103); /* M_pt, X-Server, X-Serialization + 100 */
    ck_assert_str_eq(motan_response_get_meta(resp, "X-Meta-99"), "v99");
    motan_response_free(resp);
    cli_close(&c);
}
END_TEST

START_TEST(fault_endless_meta)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 6, "endless-meta");
    ck_assert_uint_ge(cli_raw(&c, 17, TMO), 17);
    expect_hex(&c, "f1f1010830000000000000000600a00000");
    uint64_t t0 = motan_now_us();
    while (motan_now_us() - t0 < 300000)
        cli_fill(&c, 50);
    ck_assert_uint_gt(c.len, 17 + 4096);
    ck_assert(!memcmp(c.buf + 17, "k\nv\nk\nv\n", 8));
    ck_assert_int_eq(parse_buffered(&c), MOTAN_EAGAIN);
    cli_close(&c);
}
END_TEST

START_TEST(fault_hb_storm)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 11, "hb-storm:3");
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(cli_frame(&c, TMO), MOTAN_OK);
        ck_assert_int_eq(motan_frame_get_kind(c.f), i % 2 ? MOTAN_FRAME_HEARTBEAT_REQUEST
                                                          : MOTAN_FRAME_HEARTBEAT_RESPONSE);
        ck_assert_uint_ne(motan_frame_get_request_id(c.f), 11);
    }
    expect_hello(&c, 11);
    cli_close(&c);
}
END_TEST

START_TEST(fault_motan1)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 0x0102030405060708ULL, "motan1");
    ck_assert_uint_eq(cli_raw(&c, 95, 300), 94);
    expect_hex(&c, "f1f1000001020304050607080000004ef0f0010001020304050607080000003eaced00057738"
                   "0021636f6d2e776569626f2e6170692e6d6f74616e2e7270632e68656172746265617400096865"
                   "617274626561740004766f696400000000");
    ck_assert_int_eq(parse_buffered(&c), MOTAN_EMOTAN1);
    cli_close(&c);
}
END_TEST

START_TEST(fault_version2)
{
    cli c;
    cli_open(&c, &g);
    send_echo(&c, 8, "version2");
    ck_assert_uint_ge(cli_raw(&c, 21, TMO), 21);
    ck_assert_uint_eq(c.buf[3], 0x10);
    ck_assert_uint_eq(be64(c.buf + 5), 8);
    ck_assert_int_eq(parse_buffered(&c), MOTAN_EVERSION);
    cli_close(&c);
}
END_TEST

/* ---- servers with options ----------------------------------------------------------------- */

static void hb_expect(const char *style, const char *meta, const char *want_hex)
{
    const char *args[] = {"--heartbeat", style, "--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    cli c;
    cli_open(&c, &s);
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_HEARTBEAT | MOTAN_FLAG_PROXY, 0, 6, 0x0102030405060708ULL,
                            &mark);
    if (meta)
        motan_frame_write_meta(b, mark, meta, strlen(meta), "v", 1);
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    if (!strcmp(style, "close")) {
        ck_assert_int_eq(cli_until_closed(&c, TMO), RD_EOF);
    } else if (!strcmp(style, "none")) {
        ck_assert_uint_eq(cli_raw(&c, 1, 300), 0);
        send_echo(&c, 2, NULL);
        expect_hello(&c, 2);
    } else {
        size_t n = strlen(want_hex) / 2;
        ck_assert_uint_eq(cli_raw(&c, n + 1, 300), n);
        expect_hex(&c, want_hex);
    }
    cli_close(&c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}

START_TEST(heartbeat_styles)
{
    hb_expect("go", NULL, "f1f113083001020304050607080000000000000000");
    hb_expect("java", NULL, "f1f111080801020304050607080000000000000000");
    hb_expect("lua", NULL, "f1f111083001020304050607080000000000000000");
    /* Lua echoes the metadata, each entry with a trailing newline: "a\nv\n". */
    hb_expect("lua", "a", "f1f1110830010203040506070800000004610a760a00000000");
    hb_expect("none", NULL, NULL);
    hb_expect("close", NULL, NULL);
}
END_TEST

START_TEST(refuse)
{
    const char *args[] = {"--refuse", "--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    ck_assert_int_gt(s.port, 0);
    ck_assert_int_lt(tu_server_connect(&s), 0);
    ck_assert_int_eq(errno, ECONNREFUSED);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(no_read)
{
    const char *args[] = {"--no-read", "--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    cli c;
    cli_open(&c, &s);
    send_echo(&c, 1, NULL);
    ck_assert_int_eq(cli_frame(&c, 300), RD_TIMEOUT);
    cli_close(&c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(unix_socket)
{
    char path[128];
    snprintf(path, sizeof(path), "/tmp/motan-test-%d.sock", (int)getpid());
    const char *args[] = {"--unix", path, "--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    ck_assert_str_eq(s.unix_path, path);
    cli c;
    cli_open(&c, &s);
    send_echo(&c, 1, NULL);
    expect_hello(&c, 1);
    cli_close(&c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    ck_assert_int_ne(access(path, F_OK), 0); /* the socket file is removed */
}
END_TEST

START_TEST(fault_option_and_override)
{
    const char *args[] = {"--fault", "wrong-id", "--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    cli c;
    cli_open(&c, &s);
    send_echo(&c, 1, NULL);
    expect_hello(&c, 1 ^ 0x8000000000000000ULL);
    send_echo(&c, 2, "none"); /* X-Fault wins over --fault */
    expect_hello(&c, 2);
    cli_close(&c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(fault_rate)
{
    const char *args[] = {"--fault", "wrong-id", "--fault-rate", "50", "--seed", "7", "--quiet",
                          NULL};
    tu_server s;
    start_server(&s, args);
    cli c;
    cli_open(&c, &s);
    motan_buf *b = motan_buf_new(0);
    for (uint64_t i = 1; i <= 400; i++) {
        motan_request *r = req_new("echo", NULL);
        req_append(r, i, b);
        motan_request_free(r);
    }
    send_all(c.fd, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    int wrong = 0;
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(cli_frame(&c, TMO), MOTAN_OK);
        wrong += motan_frame_get_request_id(c.f) > 400;
    }
    ck_assert_int_gt(wrong, 120);
    ck_assert_int_lt(wrong, 280);
    cli_close(&c);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(restart_same_port_and_default_name)
{
    const char *args[] = {"--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    int port = s.port;
    char want[64];
    snprintf(want, sizeof(want), "srv-%d", port);
    ck_assert_str_eq(s.name, want);

    cli c;
    cli_open(&c, &s);
    motan_request *r = req_new("name", NULL);
    motan_response *resp = call(&c, r, 1);
    size_t len;
    const char *got = motan_value_get_data(motan_response_get_value(resp), &len);
    ck_assert(len == strlen(want) && !memcmp(got, want, len));
    motan_response_free(resp);

    tu_server_kill(&s); /* a crash: the client sees the connection end */
    ck_assert_int_eq(s.pid, 0);
    ck_assert_int_eq(cli_frame(&c, TMO), RD_EOF);
    cli_close(&c);
    ck_assert_int_lt(tu_server_connect(&s), 0);

    ck_assert_int_eq(tu_server_restart(&s), 0);
    ck_assert_int_eq(s.port, port);
    cli_open(&c, &s);
    resp = call(&c, r, 2);
    ck_assert_int_eq(motan_response_get_code(resp), MOTAN_OK);
    motan_response_free(resp);
    /* Restarting a running server stops it first. */
    ck_assert_int_eq(tu_server_restart(&s), 0);
    ck_assert_int_eq(s.port, port);
    cli_close(&c);
    motan_request_free(r);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    ck_assert_int_eq(tu_server_stop(&s), -1); /* not running */
}
END_TEST

START_TEST(bad_options)
{
    static const char *const bad[][4] = {
        {"--fault", "bogus", NULL},
        {"--fault", "delay", NULL},
        {"--fault-rate", "50", NULL},
        {"--heartbeat", "php", NULL},
        {"--port", "70000", NULL},
        {"--nope", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tu_server s;
        ck_assert_int_eq(tu_server_start(&s, bad[i]), -1);
        ck_assert_int_eq(s.pid, 0);
    }
}
END_TEST

START_TEST(sigterm_after_traffic)
{
    const char *args[] = {"--quiet", NULL};
    tu_server s;
    start_server(&s, args);
    cli c, idle;
    cli_open(&c, &s);
    cli_open(&idle, &s);
    motan_request *r = req_new("sleep", NULL);
    arg_i64(r, 10000);
    req_send(&c, r, 1); /* still pending at SIGTERM */
    motan_request_free(r);
    send_echo(&c, 2, NULL);
    expect_hello(&c, 2);
    send_echo(&c, 3, "endless-meta");
    ck_assert_uint_ge(cli_raw(&c, 17, TMO), 17);
    ck_assert_int_eq(tu_server_stop(&s), 0);
    ck_assert_int_eq(cli_until_closed(&idle, TMO), RD_EOF);
    cli_close(&c);
    cli_close(&idle);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("test_server");
    TCase *t = tcase_create("shared");
    tcase_add_unchecked_fixture(t, shared_up, shared_down);
    tcase_set_timeout(t, 60 * slow());
    tcase_add_test(t, echo_types);
    tcase_add_test(t, add_ints);
    tcase_add_test(t, sleep_and_order);
    tcase_add_test(t, fail_business_error);
    tcase_add_test(t, big_bytes);
    tcase_add_test(t, name_method);
    tcase_add_test(t, meta_method);
    tcase_add_test(t, unknown_method_and_service);
    tcase_add_test(t, bad_serialization_and_body);
    tcase_add_test(t, pipeline_1000);
    tcase_add_test(t, pipeline_mixed_delays);
    tcase_add_test(t, many_connections);
    tcase_add_test(t, client_garbage_closes);
    tcase_add_test(t, disconnect_with_pending);
    tcase_add_test(t, heartbeat_go_default);
    tcase_add_test(t, fault_delay);
    tcase_add_test(t, fault_noreply);
    tcase_add_test(t, fault_close);
    tcase_add_test(t, fault_reset);
    tcase_add_test(t, fault_close_mid);
    tcase_add_test(t, fault_garbage);
    tcase_add_test(t, fault_wrong_id);
    tcase_add_test(t, fault_duplicate);
    tcase_add_test(t, fault_oversize);
    tcase_add_test(t, fault_bytewise);
    tcase_add_test(t, fault_error_go);
    tcase_add_test(t, fault_error_java);
    tcase_add_test(t, fault_gzip);
    tcase_add_test(t, fault_gzip_bomb);
    tcase_add_test(t, fault_many_meta);
    tcase_add_test(t, fault_endless_meta);
    tcase_add_test(t, fault_hb_storm);
    tcase_add_test(t, fault_motan1);
    tcase_add_test(t, fault_version2);
    suite_add_tcase(s, t);

    t = tcase_create("own");
    tcase_set_timeout(t, 60 * slow());
    tcase_add_test(t, heartbeat_styles);
    tcase_add_test(t, refuse);
    tcase_add_test(t, no_read);
    tcase_add_test(t, unix_socket);
    tcase_add_test(t, fault_option_and_override);
    tcase_add_test(t, fault_rate);
    tcase_add_test(t, restart_same_port_and_default_name);
    tcase_add_test(t, bad_options);
    tcase_add_test(t, sigterm_after_traffic);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(server_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
