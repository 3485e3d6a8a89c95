/*
 * The HTTP backend of an exported service (provider: http). A motan request becomes
 *
 *   POST /<method> HTTP/1.1            Content-Type: application/json
 *   X-Motan-Service, X-Motan-Group, X-Motan-Method, X-Motan-Request-Id, X-Motan-Source
 *   [arg1, arg2, ...]                  (the arguments in the JSON serialization, docs/serialization.md)
 *
 * and a 2xx answer's JSON body becomes the result (an empty body: null; a body that is not
 * JSON: a string). Other statuses are business errors (errcode = the status). Requests go
 * over a small pool of keep-alive evhttp connections; a TCP probe every healthInterval ms
 * (and every failed connection) decides whether the backend is up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "agent.h"

typedef struct bcall {
    backend *b;
    motan_reply *reply;
    struct evhttp_request *hreq;
    int conn;
    uint64_t start_us;
    size_t req_bytes;
    struct bcall *prev, *next;
} bcall;

struct backend {
    export_service *svc;
    struct event_base *base;
    char *host;
    int port;
    struct sockaddr_storage addr;
    int addrlen;
    struct evhttp_connection **conns;
    int *pending;
    int nconns;
    int up;
    struct event *probe_timer;
    struct bufferevent *probe;
    bcall *calls;
};

static void set_up(backend *b, int up)
{
    if (b->up == up)
        return;
    b->up = up;
    service_backend_changed(b->svc, up);
}

/* ---- the probe ------------------------------------------------------------------------- */

static void probe_done(struct bufferevent *bev, short what, void *arg)
{
    backend *b = arg;
    bufferevent_free(bev);
    b->probe = NULL;
    set_up(b, (what & BEV_EVENT_CONNECTED) != 0);
}

static void probe_start(backend *b)
{
    if (b->probe)
        return;
    b->probe = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!b->probe)
        return;
    struct timeval tv = {b->svc->c.health_ms / 1000, (b->svc->c.health_ms % 1000) * 1000};
    bufferevent_set_timeouts(b->probe, &tv, &tv);
    bufferevent_setcb(b->probe, NULL, NULL, probe_done, b);
    if (bufferevent_socket_connect(b->probe, (struct sockaddr *)&b->addr, b->addrlen) != 0) {
        bufferevent_free(b->probe);
        b->probe = NULL;
        set_up(b, 0);
    }
}

static void on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    probe_start(arg);
}

/* ---- calls ----------------------------------------------------------------------------- */

static void unlink_call(bcall *c)
{
    backend *b = c->b;
    if (c->prev)
        c->prev->next = c->next;
    else
        b->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->pending[c->conn]--;
}

static void finish(bcall *c, int code, int http_status, size_t resp_bytes)
{
    export_service *svc = c->b->svc;
    const motan_server_request *q = motan_reply_request(c->reply);
    uint64_t lat = motan_now_us() - c->start_us;
    char line[1024];
    snprintf(line, sizeof(line),
             "export %s.%s group=%s peer=%s backend=%s code=%s http_status=%d latency_us=%llu "
             "request_bytes=%zu response_bytes=%zu",
             svc->c.path, motan_server_request_method(q, NULL), svc->c.group,
             motan_server_request_peer(q), svc->c.proxy, motan_errname(code), http_status,
             (unsigned long long)lat, c->req_bytes, resp_bytes);
    agent_access(line);
    if (--svc->inflight == 0 && svc->retired)
        event_active(svc->ag->ev_reap, EV_TIMEOUT, 1);
}

static void on_http_done(struct evhttp_request *hreq, void *arg)
{
    bcall *c = arg;
    backend *b = c->b;
    motan_reply *reply = c->reply;
    unlink_call(c);
    int status = hreq ? evhttp_request_get_response_code(hreq) : 0;
    if (status == 0) {
        char msg[512];
        int n = snprintf(msg, sizeof(msg), "backend http://%s/ gave no answer (refused, closed or timed out)",
                         b->svc->c.proxy);
        finish(c, MOTAN_ECONNECT, 0, 0);
        motan_reply_error(reply, 503, 1, msg, (size_t)n);
        free(c);
        probe_start(b); /* down, or only slow? the probe says */
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(hreq);
    size_t len = evbuffer_get_length(in);
    const uint8_t *body = len ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
    if (status < 200 || status > 299) {
        char msg[700];
        int n = snprintf(msg, sizeof(msg), "HTTP %d from the backend: %.*s", status,
                         (int)(len > 500 ? 500 : len), (const char *)body);
        finish(c, MOTAN_EREMOTE, status, len);
        motan_reply_error(reply, status, 2, msg, (size_t)n);
        free(c);
        return;
    }
    motan_arena *a = motan_reply_arena(reply);
    motan_value *v = NULL;
    char err[256];
    if (len == 0)
        v = motan_value_new_null(a);
    else if (motan_deserialize_value(MOTAN_SER_JSON, body, len, a, &v, err, sizeof(err)) != MOTAN_OK)
        v = motan_value_new_string(a, (const char *)body, len); /* not JSON: the text */
    finish(c, v ? MOTAN_OK : MOTAN_ENOMEM, status, len);
    if (v)
        motan_reply_send(reply, v);
    else
        motan_reply_drop(reply);
    free(c);
}

void backend_call(backend *b, const motan_server_request *q, motan_reply *reply)
{
    export_service *svc = b->svc;
    const motan_value *args = NULL;
    char err[300];
    motan_server_request_args(q, &args, err, sizeof(err)); /* decoded before the handler ran */
    size_t n = args ? motan_value_count(args) : 0;
    const motan_value **list = calloc(n + 1, sizeof(*list));
    motan_buf *json = motan_buf_new(256);
    bcall *c = calloc(1, sizeof(*c));
    if (!list || !json || !c) {
        free(list);
        motan_buf_free(json);
        free(c);
        motan_reply_error(reply, 500, 1, "agent out of memory", 19);
        return;
    }
    for (size_t i = 0; i < n; i++)
        list[i] = motan_value_at(args, i);
    int rc = motan_serialize_args(MOTAN_SER_JSON, list, n, json, err, sizeof(err));
    free(list);
    if (rc == MOTAN_OK && motan_buf_len(json) == 0)
        rc = motan_buf_append(json, "[]", 2); /* no arguments: an empty array, never no body */
    if (rc != MOTAN_OK) {
        char msg[400];
        int m = snprintf(msg, sizeof(msg), "the arguments have no JSON form: %s", err);
        motan_buf_free(json);
        free(c);
        motan_reply_error(reply, 500, 1, msg, (size_t)m);
        return;
    }
    c->b = b;
    c->reply = reply;
    c->start_us = motan_now_us();
    c->req_bytes = motan_buf_len(json);
    const char *method = motan_server_request_method(q, NULL);
    svc->inflight++;

    struct evhttp_request *h = evhttp_request_new(on_http_done, c);
    char *path = evhttp_uriencode(method, -1, 0), uri[1200], id[32];
    const char *src = motan_server_request_meta(q, "M_s", NULL);
    snprintf(uri, sizeof(uri), "/%s", path ? path : "");
    snprintf(id, sizeof(id), "%llu", (unsigned long long)motan_server_request_id(q));
    free(path);
    int best = 0;
    for (int i = 1; i < b->nconns; i++)
        if (b->pending[i] < b->pending[best])
            best = i;
    c->conn = best;
    b->pending[best]++;
    c->next = b->calls;
    if (b->calls)
        b->calls->prev = c;
    b->calls = c;
    if (h) {
        struct evkeyvalq *hd = evhttp_request_get_output_headers(h);
        evhttp_add_header(hd, "Host", svc->c.proxy);
        evhttp_add_header(hd, "Content-Type", "application/json");
        evhttp_add_header(hd, "X-Motan-Service", svc->c.path);
        evhttp_add_header(hd, "X-Motan-Group", svc->c.group);
        evhttp_add_header(hd, "X-Motan-Method", method);
        evhttp_add_header(hd, "X-Motan-Request-Id", id);
        if (src && *src)
            evhttp_add_header(hd, "X-Motan-Source", src);
        evbuffer_add(evhttp_request_get_output_buffer(h), motan_buf_data(json), motan_buf_len(json));
        c->hreq = h;
    }
    motan_buf_free(json);
    /* evhttp_make_request frees h itself when it fails */
    if (!h || evhttp_make_request(b->conns[best], h, EVHTTP_REQ_POST, uri) != 0) {
        unlink_call(c);
        finish(c, MOTAN_ECONNECT, 0, 0);
        motan_reply_error(reply, 503, 1, "cannot send the request to the backend", 38);
        free(c);
    }
}

/* ---- life ------------------------------------------------------------------------------ */

backend *backend_new(export_service *svc, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->svc = svc;
    b->base = svc->ag->base;
    const char *colon = strrchr(svc->c.proxy, ':');
    b->host = strndup(svc->c.proxy, (size_t)(colon - svc->c.proxy));
    b->port = atoi(colon + 1);
    b->nconns = svc->c.connections;
    b->conns = calloc((size_t)b->nconns, sizeof(*b->conns));
    b->pending = calloc((size_t)b->nconns, sizeof(*b->pending));
    if (!b->host || !b->conns || !b->pending) {
        snprintf(err, errlen, "out of memory");
        backend_free(b);
        return NULL;
    }
    /* resolved once, here (blocking, like the registries): prefer IP addresses */
    struct evutil_addrinfo hints = {0}, *ai = NULL;
    char port[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", b->port);
    int g = evutil_getaddrinfo(b->host, port, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, errlen, "proxyAddress %s: %s", svc->c.proxy, evutil_gai_strerror(g));
        backend_free(b);
        return NULL;
    }
    memcpy(&b->addr, ai->ai_addr, ai->ai_addrlen);
    b->addrlen = (int)ai->ai_addrlen;
    evutil_freeaddrinfo(ai);
    for (int i = 0; i < b->nconns; i++) {
        b->conns[i] = evhttp_connection_base_new(b->base, NULL, b->host, (ev_uint16_t)b->port);
        if (!b->conns[i]) {
            snprintf(err, errlen, "cannot create an HTTP connection to %s", svc->c.proxy);
            backend_free(b);
            return NULL;
        }
        struct timeval tv = {svc->c.timeout_ms / 1000, (svc->c.timeout_ms % 1000) * 1000};
        evhttp_connection_set_timeout_tv(b->conns[i], &tv);
    }
    b->probe_timer = event_new(b->base, -1, EV_PERSIST, on_probe_timer, b);
    struct timeval every = {svc->c.health_ms / 1000, (svc->c.health_ms % 1000) * 1000};
    if (!b->probe_timer || event_add(b->probe_timer, &every) != 0) {
        snprintf(err, errlen, "out of memory");
        backend_free(b);
        return NULL;
    }
    probe_start(b); /* down until the first probe connects */
    return b;
}

int backend_up(const backend *b) { return b && b->up; }

void backend_free(backend *b)
{
    if (!b)
        return;
    while (b->calls) { /* only at exit: answer what is still open */
        bcall *c = b->calls;
        unlink_call(c);
        evhttp_cancel_request(c->hreq);
        finish(c, MOTAN_ECANCELLED, 0, 0);
        motan_reply_error(c->reply, 503, 1, "the agent is stopping", 21);
        free(c);
    }
    if (b->probe)
        bufferevent_free(b->probe);
    if (b->probe_timer)
        event_free(b->probe_timer);
    for (int i = 0; b->conns && i < b->nconns; i++)
        if (b->conns[i])
            evhttp_connection_free(b->conns[i]);
    free(b->conns);
    free(b->pending);
    free(b->host);
    free(b);
}
