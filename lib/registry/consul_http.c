/*
 * One HTTP request to a Consul agent on libevent's HTTP client, one connection per request
 * (a blocking query holds its connection anyway, and a private connection makes cancelling
 * a plain free). libevent 2.1 has one timeout for connect, read and write, so both limits
 * are our own timers: the connect timer looks at the socket (connected or not), the total
 * timer ends the request whatever it is doing.
 *
 * The result is handed over from a 0-timeout event, outside libevent's HTTP callbacks, so
 * the callback may free anything, including the connection.
 */
#include <stdio.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "registry/registry_int.h"

#define CHTTP_MAX_BODY (32 << 20)

struct motan__chttp {
    struct evhttp_connection *evcon;
    struct evhttp_request *req; /* until libevent's callback or our abort */
    struct event *t_connect, *t_total, *t_done;
    int total_ms;
    int status;
    int lib_err; /* last evhttp_request_error + 1, 0: none */
    char *index;
    char *body;
    size_t len;
    char err[200];
    motan__chttp_cb cb;
    void *userdata;
};

static void free_req(motan__chttp *r)
{
    if (r->evcon)
        evhttp_connection_free(r->evcon); /* frees a pending request, no callback */
    if (r->t_connect)
        event_free(r->t_connect);
    if (r->t_total)
        event_free(r->t_total);
    if (r->t_done)
        event_free(r->t_done);
    motan_free(r->index);
    motan_free(r->body);
    motan_free(r);
}

/* The request is over (answered, failed or timed out): report from the loop. */
static void finish(motan__chttp *r)
{
    static const struct timeval zero = {0, 0};
    r->req = NULL;
    evtimer_del(r->t_connect);
    evtimer_del(r->t_total);
    evtimer_add(r->t_done, &zero);
}

/* Ends a request still in progress: dropping the connection drops it. */
static void abort_req(motan__chttp *r, const char *why)
{
    snprintf(r->err, sizeof(r->err), "%s", why);
    evhttp_connection_free(r->evcon);
    r->evcon = NULL;
    finish(r);
}

static const char *lib_err_text(int e)
{
    switch (e - 1) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection closed before the response";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid response header";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection failed";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "response too large";
    default:
        return "connection failed";
    }
}

static void on_error(enum evhttp_request_error e, void *arg)
{
    motan__chttp *r = arg;
    r->lib_err = (int)e + 1;
}

static void on_done(struct evhttp_request *req, void *arg)
{
    motan__chttp *r = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code <= 0) {
        snprintf(r->err, sizeof(r->err), "%s", lib_err_text(r->lib_err));
        finish(r);
        return;
    }
    r->status = code;
    const char *idx = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Consul-Index");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    r->body = motan_malloc(n + 1);
    r->index = idx ? motan__strdup(idx) : NULL;
    if (!r->body || (idx && !r->index)) {
        r->status = 0;
        snprintf(r->err, sizeof(r->err), "out of memory");
    } else {
        evbuffer_copyout(in, r->body, n);
        r->body[n] = '\0';
        r->len = n;
    }
    finish(r);
}

static void on_connect_timer(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    struct bufferevent *bev = r->req ? evhttp_connection_get_bufferevent(r->evcon) : NULL;
    evutil_socket_t s = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (r->req && (s < 0 || getpeername(s, (struct sockaddr *)&ss, &sl) != 0))
        abort_req(r, "connect timed out");
}

static void on_total_timer(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    char why[64];
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    snprintf(why, sizeof(why), "no response within %d ms", r->total_ms);
    if (r->req)
        abort_req(r, why);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    r->cb(r->userdata, r->status, r->err, r->index, r->body ? r->body : "", r->len);
    free_req(r);
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

int motan__chttp_start(struct event_base *base, const char *host, int port, const char *method,
                       const char *uri, const char *body, int connect_ms, int total_ms,
                       motan__chttp_cb cb, void *userdata, motan__chttp **out)
{
    enum evhttp_cmd_type type = !strcmp(method, "PUT") ? EVHTTP_REQ_PUT : EVHTTP_REQ_GET;
    motan__chttp *r = motan__calloc(1, sizeof(*r));
    *out = NULL;
    if (!r)
        return MOTAN_ENOMEM;
    r->cb = cb;
    r->userdata = userdata;
    r->total_ms = total_ms;
    r->t_connect = evtimer_new(base, on_connect_timer, r);
    r->t_total = evtimer_new(base, on_total_timer, r);
    r->t_done = evtimer_new(base, on_report, r);
    r->evcon = evhttp_connection_base_new(base, NULL, host, (ev_uint16_t)port);
    r->req = evhttp_request_new(on_done, r);
    if (!r->t_connect || !r->t_total || !r->t_done || !r->evcon || !r->req) {
        if (r->req)
            evhttp_request_free(r->req);
        free_req(r);
        return MOTAN_ENOMEM;
    }
    /* libevent's own timer is only a backstop; ours are tighter. */
    struct timeval backstop = tv_ms(total_ms + 1000);
    evhttp_connection_set_timeout_tv(r->evcon, &backstop);
    evhttp_connection_set_max_body_size(r->evcon, CHTTP_MAX_BODY);
    evhttp_request_set_error_cb(r->req, on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    char hostport[300], clen[32];
    snprintf(hostport, sizeof(hostport), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    size_t blen = body ? strlen(body) : 0;
    snprintf(clen, sizeof(clen), "%zu", blen);
    int rc = evhttp_add_header(h, "Host", hostport) | evhttp_add_header(h, "Connection", "close") |
             evhttp_add_header(h, "Accept", "application/json");
    if (type == EVHTTP_REQ_PUT)
        rc |= evhttp_add_header(h, "Content-Length", clen) |
              (blen ? evhttp_add_header(h, "Content-Type", "application/json") : 0);
    if (blen)
        rc |= evbuffer_add(evhttp_request_get_output_buffer(r->req), body, blen);
    if (rc) {
        evhttp_request_free(r->req);
        r->req = NULL;
        free_req(r);
        return MOTAN_ENOMEM;
    }
    /* Armed first: a refused connect may complete the request inside evhttp_make_request. */
    struct timeval tc = tv_ms(connect_ms), tt = tv_ms(total_ms);
    evtimer_add(r->t_connect, &tc);
    evtimer_add(r->t_total, &tt);
    if (evhttp_make_request(r->evcon, r->req, type, uri) != 0) {
        r->req = NULL; /* it only fails when copying uri failed, and then frees req */
        free_req(r);
        return MOTAN_ENOMEM;
    }
    *out = r;
    return MOTAN_OK;
}

void motan__chttp_cancel(motan__chttp *r)
{
    if (r)
        free_req(r);
}
