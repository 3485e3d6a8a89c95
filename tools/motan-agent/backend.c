/*
 * The HTTP backend of an exported service (provider: http), over TCP (proxyAddress
 * host:port) or a Unix socket (unix:PATH), through the same client (hpool.c). A motan
 * request becomes
 *
 *   POST /<method> HTTP/1.1            Content-Type: application/json, Content-Length
 *   X-Motan-Service, X-Motan-Group, X-Motan-Method, X-Motan-Request-Id, X-Motan-Source
 *   [arg1, arg2, ...]                  (the arguments in the JSON serialization, docs/serialization.md)
 *
 * and a 2xx answer's JSON body becomes the result (an empty body: null; a body that is not
 * JSON: a string). Other statuses are business errors (errcode = the status). A probe every
 * healthInterval ms (and after every request that got no answer) connects to the backend and
 * decides whether it is up; for a host name it resolves the name first (evdns, on the loop:
 * nothing here blocks) and tries each address, and the one that connects is where requests
 * go until the next probe.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "agent.h"

#define MAX_ADDRS 8

/* Look-ups cancelled whose (deferred) callback has not run yet: the exit lets them end. */
static int cancelled_lookups;

typedef struct bcall {
    backend *b;
    motan_reply *reply;
    hp_req *hq;
    uint64_t start_us;
    size_t req_bytes;
    struct bcall *prev, *next;
} bcall;

struct backend {
    export_service *svc;
    struct event_base *base;
    char *host;               /* TCP: the name or address; NULL for a Unix socket */
    char port[8];
    const char *host_header;
    struct sockaddr_storage addr[MAX_ADDRS]; /* what the probe tries, in order */
    int addrlen[MAX_ADDRS];
    int naddrs, next_addr;
    int numeric;              /* addr[0] is the address (a number or a socket path) */
    hpool *pool;
    int up;
    char why[200];            /* why the last probe failed */
    struct event *probe_timer;
    struct bufferevent *probe;
    struct evdns_getaddrinfo_request *dns_req;
    int probing, resolving;
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

static void probe_next(backend *b);

static void probe_end(backend *b, int up)
{
    b->probing = 0;
    if (up) {
        int i = b->next_addr - 1;
        hpool_set_addr(b->pool, (struct sockaddr *)&b->addr[i], b->addrlen[i]);
        b->why[0] = '\0';
    }
    set_up(b, up);
}

static void probe_done(struct bufferevent *bev, short what, void *arg)
{
    backend *b = arg;
    int err = EVUTIL_SOCKET_ERROR();
    bufferevent_free(bev);
    b->probe = NULL;
    if (what & BEV_EVENT_CONNECTED) {
        probe_end(b, 1);
        return;
    }
    snprintf(b->why, sizeof(b->why), "connect: %s",
             what & BEV_EVENT_TIMEOUT ? "timed out" : err ? strerror(err) : "failed");
    probe_next(b);
}

/* Tries the next address; down when none is left. */
static void probe_next(backend *b)
{
    while (b->next_addr < b->naddrs) {
        int i = b->next_addr++, connected;
        int fd = hp_connect((struct sockaddr *)&b->addr[i], b->addrlen[i], &connected);
        if (fd < 0 && errno == EAGAIN && b->addr[i].ss_family == AF_UNIX) {
            probe_end(b, 1); /* a full listen queue: somebody listens, busy */
            return;
        }
        if (fd < 0) {
            snprintf(b->why, sizeof(b->why), "connect: %s", strerror(errno));
            continue;
        }
        if (connected) {
            close(fd);
            probe_end(b, 1);
            return;
        }
        b->probe = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!b->probe) {
            close(fd);
            break;
        }
        struct timeval tv = {b->svc->c.health_ms / 1000, (b->svc->c.health_ms % 1000) * 1000};
        bufferevent_set_timeouts(b->probe, NULL, &tv);
        bufferevent_setcb(b->probe, NULL, NULL, probe_done, b);
        bufferevent_socket_connect(b->probe, NULL, 0);
        return;
    }
    probe_end(b, 0);
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    if (result == EVUTIL_EAI_CANCEL) { /* backend_free: b is gone */
        if (res)
            evutil_freeaddrinfo(res);
        cancelled_lookups--;
        return;
    }
    backend *b = arg;
    b->dns_req = NULL;
    b->resolving = 0;
    b->naddrs = b->next_addr = 0;
    for (struct evutil_addrinfo *ai = res; ai && b->naddrs < MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(b->addr[0]))
            continue;
        memcpy(&b->addr[b->naddrs], ai->ai_addr, ai->ai_addrlen);
        b->addrlen[b->naddrs++] = (int)ai->ai_addrlen;
    }
    if (res)
        evutil_freeaddrinfo(res);
    if (result || !b->naddrs) {
        snprintf(b->why, sizeof(b->why), "cannot resolve %s: %s", b->host,
                 result ? evutil_gai_strerror(result) : "no address");
        probe_end(b, 0);
        return;
    }
    probe_next(b);
}

static void probe_start(backend *b)
{
    if (b->probing)
        return;
    b->probing = 1;
    b->next_addr = 0;
    if (b->numeric) {
        probe_next(b);
        return;
    }
    struct evdns_base *dns = agent_dns(b->svc->ag);
    if (!dns) {
        snprintf(b->why, sizeof(b->why), "cannot resolve %s: out of memory", b->host);
        probe_end(b, 0);
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_NUMERICSERV; /* every family: the probe tries each address */
    b->resolving = 1;
    struct evdns_getaddrinfo_request *r = evdns_getaddrinfo(dns, b->host, b->port, &hints, resolved, b);
    if (b->resolving) /* not answered at once (from /etc/hosts) */
        b->dns_req = r;
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

/* A failure of the exchange itself (no answer, a broken one): errtype 1. */
static void answer_failure(bcall *c, int result, const char *why)
{
    backend *b = c->b;
    char msg[512];
    int n;
    if (result == HP_BAD)
        n = snprintf(msg, sizeof(msg), "backend %s sent a broken answer: %s", b->svc->c.proxy, why);
    else
        n = snprintf(msg, sizeof(msg), "backend %s gave no answer: %s", b->svc->c.proxy, why);
    finish(c, result == HP_TIMEOUT ? MOTAN_ETIMEOUT : result == HP_BAD ? MOTAN_EPROTO : MOTAN_ECONNECT, 0, 0);
    motan_reply_error(c->reply, result == HP_BAD ? 502 : 503, 1, msg,
                      (size_t)(n < 0 ? 0 : n >= (int)sizeof(msg) ? (int)sizeof(msg) - 1 : n));
}

static void on_answer(void *arg, int result, const h1_resp *h, const char *why)
{
    bcall *c = arg;
    backend *b = c->b;
    motan_reply *reply = c->reply;
    unlink_call(c);
    if (result != HP_OK) {
        answer_failure(c, result, why);
        free(c);
        if (result != HP_BAD)
            probe_start(b); /* down, or only slow? the probe says */
        return;
    }
    int status = h->status;
    size_t len = evbuffer_get_length(h->body);
    const uint8_t *body = len ? evbuffer_pullup(h->body, -1) : (const uint8_t *)"";
    if (!body) {
        finish(c, MOTAN_ENOMEM, status, len);
        motan_reply_drop(reply);
        free(c);
        return;
    }
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

/* "Name: value\r\n", control characters of the value (from callers) written as '?'. */
static int put_header(motan_buf *out, const char *name, const char *value)
{
    int rc = motan_buf_append(out, name, strlen(name));
    rc = rc ? rc : motan_buf_append(out, ": ", 2);
    for (const char *p = value; rc == MOTAN_OK && *p; p++) {
        char ch = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        rc = motan_buf_append(out, &ch, 1);
    }
    return rc ? rc : motan_buf_append(out, "\r\n", 2);
}

/* The whole HTTP request for q with body json. */
static int build_request(backend *b, const motan_server_request *q, const motan_buf *json, motan_buf *out)
{
    export_service *svc = b->svc;
    const char *method = motan_server_request_method(q, NULL);
    const char *src = motan_server_request_meta(q, "M_s", NULL);
    char *path = evhttp_uriencode(method, -1, 0), id[32], len[32];
    if (!path)
        return MOTAN_ENOMEM;
    snprintf(id, sizeof(id), "%llu", (unsigned long long)motan_server_request_id(q));
    snprintf(len, sizeof(len), "%zu", motan_buf_len(json));
    int rc = motan_buf_append(out, "POST /", 6);
    rc = rc ? rc : motan_buf_append(out, path, strlen(path));
    free(path);
    rc = rc ? rc : motan_buf_append(out, " HTTP/1.1\r\n", 11);
    rc = rc ? rc : put_header(out, "Host", b->host_header);
    rc = rc ? rc : put_header(out, "Content-Type", "application/json");
    rc = rc ? rc : put_header(out, "Content-Length", len);
    rc = rc ? rc : put_header(out, "X-Motan-Service", svc->c.path);
    rc = rc ? rc : put_header(out, "X-Motan-Group", svc->c.group);
    rc = rc ? rc : put_header(out, "X-Motan-Method", method);
    rc = rc ? rc : put_header(out, "X-Motan-Request-Id", id);
    if (src && *src)
        rc = rc ? rc : put_header(out, "X-Motan-Source", src);
    rc = rc ? rc : motan_buf_append(out, "\r\n", 2);
    return rc ? rc : motan_buf_append(out, motan_buf_data(json), motan_buf_len(json));
}

void backend_call(backend *b, const motan_server_request *q, motan_reply *reply)
{
    export_service *svc = b->svc;
    const motan_value *args = NULL;
    char err[300];
    motan_server_request_args(q, &args, err, sizeof(err)); /* decoded before the handler ran */
    size_t n = args ? motan_value_count(args) : 0;
    const motan_value **list = calloc(n + 1, sizeof(*list));
    motan_buf *json = motan_buf_new(256), *req = motan_buf_new(512);
    bcall *c = calloc(1, sizeof(*c));
    if (!list || !json || !req || !c) {
        free(list);
        motan_buf_free(json);
        motan_buf_free(req);
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
        motan_buf_free(req);
        free(c);
        motan_reply_error(reply, 500, 1, msg, (size_t)m);
        return;
    }
    c->b = b;
    c->reply = reply;
    c->start_us = motan_now_us();
    c->req_bytes = motan_buf_len(json);
    svc->inflight++;
    rc = build_request(b, q, json, req);
    motan_buf_free(json);
    if (rc == MOTAN_OK)
        c->hq = hpool_send(b->pool, motan_buf_data(req), motan_buf_len(req), svc->c.timeout_ms,
                           on_answer, c);
    motan_buf_free(req);
    if (!c->hq) {
        finish(c, MOTAN_ENOMEM, 0, 0);
        motan_reply_error(reply, 500, 1, "agent out of memory", 19);
        free(c);
        return;
    }
    c->next = b->calls;
    if (b->calls)
        b->calls->prev = c;
    b->calls = c;
}

/* ---- life ------------------------------------------------------------------------------ */

/* proxyAddress (checked by conf.c): unix:PATH, a numeric host:port, or a name and a port. */
static int parse_address(backend *b, const char *proxy, char *err, size_t errlen)
{
    if (!strncmp(proxy, "unix:", 5)) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&b->addr[0];
        size_t n = strlen(proxy + 5);
        if (n == 0 || n >= sizeof(sun->sun_path)) {
            snprintf(err, errlen, "proxyAddress %s: not a Unix socket path", proxy);
            return -1;
        }
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, proxy + 5, n + 1);
        b->addrlen[0] = (int)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        b->naddrs = 1;
        b->numeric = 1;
        b->host_header = "localhost";
        return 0;
    }
    b->host_header = proxy;
    int len = (int)sizeof(b->addr[0]);
    if (evutil_parse_sockaddr_port(proxy, (struct sockaddr *)&b->addr[0], &len) == 0) {
        b->addrlen[0] = len;
        b->naddrs = 1;
        b->numeric = 1;
        return 0;
    }
    const char *colon = strrchr(proxy, ':');
    if (!colon || colon == proxy || strlen(colon + 1) >= sizeof(b->port)) {
        snprintf(err, errlen, "proxyAddress %s: not host:port", proxy);
        return -1;
    }
    b->host = strndup(proxy, (size_t)(colon - proxy));
    snprintf(b->port, sizeof(b->port), "%s", colon + 1);
    if (!b->host) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

backend *backend_new(export_service *svc, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->svc = svc;
    b->base = svc->ag->base;
    if (parse_address(b, svc->c.proxy, err, errlen) != 0) {
        backend_free(b);
        return NULL;
    }
    b->pool = hpool_new(b->base, svc->c.connections, MOTAN_DEFAULT_MAX_CONTENT);
    b->probe_timer = event_new(b->base, -1, EV_PERSIST, on_probe_timer, b);
    struct timeval every = {svc->c.health_ms / 1000, (svc->c.health_ms % 1000) * 1000};
    if (!b->pool || !b->probe_timer || event_add(b->probe_timer, &every) != 0) {
        snprintf(err, errlen, "out of memory");
        backend_free(b);
        return NULL;
    }
    if (b->numeric)
        hpool_set_addr(b->pool, (struct sockaddr *)&b->addr[0], b->addrlen[0]);
    /* down until the first probe connects; it runs from the loop, once svc has its backend */
    event_active(b->probe_timer, EV_TIMEOUT, 1);
    return b;
}

int backend_up(const backend *b) { return b && b->up; }

int backend_cancelled_lookups(void) { return cancelled_lookups; }

const char *backend_why(const backend *b) { return b && b->why[0] ? b->why : NULL; }

int backend_conns(const backend *b) { return b ? hpool_open_conns(b->pool) : 0; }

uint64_t backend_connects(const backend *b) { return b ? hpool_connects(b->pool) : 0; }

void backend_free(backend *b)
{
    if (!b)
        return;
    while (b->calls) { /* only at exit: answer what is still open */
        bcall *c = b->calls;
        unlink_call(c);
        hp_req_cancel(c->hq);
        finish(c, MOTAN_ECANCELLED, 0, 0);
        motan_reply_error(c->reply, 503, 1, "the agent is stopping", 21);
        free(c);
    }
    if (b->dns_req) {
        cancelled_lookups++;
        evdns_getaddrinfo_cancel(b->dns_req); /* its callback runs later, cancelled */
    }
    if (b->probe)
        bufferevent_free(b->probe);
    if (b->probe_timer)
        event_free(b->probe_timer);
    hpool_free(b->pool);
    free(b->host);
    free(b);
}
