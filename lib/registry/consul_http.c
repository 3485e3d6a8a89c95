/*
 * One HTTP/1.1 request to a Consul agent, on our own non-blocking socket, one connection per
 * request (a blocking query holds its connection anyway, and cancelling is closing it):
 * - the agent's host name is resolved on the loop (the loop's evdns; never a blocking
 *   getaddrinfo), and every address it resolved to is tried in turn within the connect
 *   timeout; the total timeout ends the request whatever it is doing;
 * - writes use MSG_NOSIGNAL: an agent that closes the connection cannot raise SIGPIPE in the
 *   caller's process (libevent's HTTP client wrote with writev, which did, on a caller's loop);
 * - the answer is read until its Content-Length, its last chunk, or the end of the stream.
 *
 * The result is handed over from a 0-timeout event, never inside motan__chttp_start, so the
 * callback may free anything. motan__chttp_sync is the blocking form for the farewell.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "registry/registry_int.h"
#include "transport/sock.h"

#define CHTTP_MAX_BODY (32 << 20)

struct motan__chttp {
    struct event_base *base;
    char host[256];
    int port;
    motan_buf *req;  /* the request bytes; sent counts what went out */
    size_t sent;
    motan_buf *in;   /* the answer as received */
    int fd;
    struct event *io, *t_connect, *t_total, *t_done;
    struct evdns_getaddrinfo_request *dns_req;
    int resolving; /* the agent's name is being resolved */
    struct evutil_addrinfo *addrs, *next;
    int connect_ms, total_ms;
    int finished;
    int status;
    char *index;
    char *body;
    size_t len;
    char err[200];
    char addr_err[120]; /* why the last address failed */
    char *peer_out;     /* gets the address that answered (may be NULL) */
    motan__chttp_cb cb;
    void *userdata;
};

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void close_fd(motan__chttp *r)
{
    if (r->io) {
        event_free(r->io);
        r->io = NULL;
    }
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

static void free_req(motan__chttp *r)
{
    if (r->dns_req) {
        struct evdns_getaddrinfo_request *d = r->dns_req;
        r->dns_req = NULL;
        evdns_getaddrinfo_cancel(d); /* its callback runs now, cancelled */
    }
    if (r->addrs)
        evutil_freeaddrinfo(r->addrs);
    close_fd(r);
    if (r->t_connect)
        event_free(r->t_connect);
    if (r->t_total)
        event_free(r->t_total);
    if (r->t_done)
        event_free(r->t_done);
    motan_buf_free(r->req);
    motan_buf_free(r->in);
    motan_free(r->index);
    motan_free(r->body);
    motan_free(r);
}

/* The request is over (answered, failed or timed out): report from the loop. */
static void finish(motan__chttp *r, const char *why)
{
    static const struct timeval zero = {0, 0};
    if (r->finished)
        return;
    r->finished = 1;
    if (why)
        snprintf(r->err, sizeof(r->err), "%s", why);
    close_fd(r);
    evtimer_del(r->t_connect);
    evtimer_del(r->t_total);
    evtimer_add(r->t_done, &zero);
}

/* ---- the answer ------------------------------------------------------------------------ */

static const char *find_header(const char *h, size_t hlen, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    for (const char *p = h, *end = h + hlen; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if ((size_t)(le - p) > n && p[n] == ':' && !strncasecmp(p, name, n)) {
            const char *v = p + n + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

/* Decodes a chunked body in place; 1 when complete, 0 when more is needed, -1 malformed. */
static int dechunk(const char *b, size_t n, char *out, size_t *outlen)
{
    size_t i = 0, o = 0;
    for (;;) {
        const char *eol = memchr(b + i, '\n', n - i);
        if (!eol)
            return 0;
        char *end;
        unsigned long long sz = strtoull(b + i, &end, 16);
        if (end == b + i)
            return -1;
        i = (size_t)(eol - b) + 1;
        if (sz == 0) {
            *outlen = o;
            return 1; /* trailers, if any, are ignored */
        }
        if (sz > CHTTP_MAX_BODY || n - i < sz + 2)
            return sz > CHTTP_MAX_BODY ? -1 : 0;
        if (out)
            memmove(out + o, b + i, sz);
        o += sz;
        i += sz + 2; /* the chunk's CRLF */
    }
}

/* 1: the whole answer is in (taken into r); 0: not yet; -1: malformed (r->err set). */
static int parse_answer(motan__chttp *r, int eof)
{
    const char *d = (const char *)motan_buf_data(r->in);
    size_t n = motan_buf_len(r->in);
    const char *sep = n >= 4 ? memmem(d, n, "\r\n\r\n", 4) : NULL;
    if (!sep)
        return eof ? -1 : 0;
    size_t hlen = (size_t)(sep - d) + 4;
    int status = 0;
    if (sscanf(d, "HTTP/%*d.%*d %d", &status) != 1 || status < 100)
        return -1;
    const char *body = d + hlen;
    size_t blen = n - hlen, vl;
    const char *te = find_header(d, hlen, "Transfer-Encoding", &vl);
    const char *cl = find_header(d, hlen, "Content-Length", &vl);
    if (te && vl >= 7 && !strncasecmp(te + vl - 7, "chunked", 7)) {
        size_t out;
        int rc = dechunk(body, blen, NULL, &out);
        if (rc <= 0)
            return rc < 0 || eof ? -1 : 0;
        r->body = motan_malloc(out + 1);
        if (!r->body)
            return -1;
        dechunk(body, blen, r->body, &out);
        r->len = out;
    } else {
        size_t want = blen;
        if (cl) {
            want = (size_t)strtoull(cl, NULL, 10);
            if (want > CHTTP_MAX_BODY)
                return -1;
            if (blen < want)
                return eof ? -1 : 0;
        } else if (!eof) {
            return 0; /* no length: the end of the stream ends it */
        }
        r->body = motan_malloc(want + 1);
        if (!r->body)
            return -1;
        memcpy(r->body, body, want);
        r->len = want;
    }
    r->body[r->len] = '\0';
    const char *idx = find_header(d, hlen, "X-Consul-Index", &vl);
    if (idx && !(r->index = motan__strndup(idx, vl)))
        return -1;
    r->status = status;
    return 1;
}

/* ---- the connection -------------------------------------------------------------------- */

static void try_next(motan__chttp *r);

/* A failed send or recv: "<what> failed: <errno text>". */
static void fail_errno(motan__chttp *r, const char *what)
{
    char why[160];
    snprintf(why, sizeof(why), "%s failed: %s", what, strerror(errno));
    finish(r, why);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    MOTAN_UNUSED(what);
    for (;;) {
        if (r->sent < motan_buf_len(r->req)) {
            ssize_t w = send(fd, motan_buf_data(r->req) + r->sent, motan_buf_len(r->req) - r->sent,
                             MSG_NOSIGNAL);
            if (w < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (w < 0) {
                fail_errno(r, "write");
                return;
            }
            r->sent += (size_t)w;
            if (r->sent < motan_buf_len(r->req))
                continue;
            /* All sent: from now on, wait for the answer. */
            event_del(r->io);
            event_assign(r->io, r->base, fd, EV_READ | EV_PERSIST, on_io, r);
            event_add(r->io, NULL);
            return;
        }
        if (motan_buf_reserve(r->in, 16384) != MOTAN_OK) {
            finish(r, "out of memory");
            return;
        }
        ssize_t n = recv(fd, r->in->data + r->in->len, 16384, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0) {
            fail_errno(r, "read");
            return;
        }
        r->in->len += (size_t)n; /* received in place: reserved above */
        if (motan_buf_len(r->in) > CHTTP_MAX_BODY + 65536) {
            finish(r, "response too large");
            return;
        }
        int rc = parse_answer(r, n == 0);
        if (rc > 0) {
            finish(r, NULL);
            return;
        }
        if (rc < 0) {
            finish(r, n == 0 && motan_buf_len(r->in) == 0 ? "connection closed before the response"
                                                           : "invalid response");
            return;
        }
        if (n == 0)
            return;
    }
}

/* The address being tried is connected: send the request. */
static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    MOTAN_UNUSED(what);
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (err) {
        snprintf(r->addr_err, sizeof(r->addr_err), "%s", strerror(err));
        close_fd(r);
        try_next(r);
        return;
    }
    evtimer_del(r->t_connect);
    if (r->peer_out) {
        for (struct evutil_addrinfo *ai = r->addrs; ai; ai = ai->ai_next)
            if (ai->ai_next == r->next)
                motan__sock_addr_text(ai, r->peer_out, INET6_ADDRSTRLEN);
    }
    event_free(r->io);
    r->io = event_new(r->base, fd, EV_WRITE | EV_PERSIST, on_io, r);
    if (!r->io || event_add(r->io, NULL) != 0)
        finish(r, "out of memory");
}

static void on_connect_timer(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    if (r->resolving) {
        finish(r, "cannot resolve the agent's name: no answer in time");
        return;
    }
    snprintf(r->addr_err, sizeof(r->addr_err), "connect timed out");
    close_fd(r);
    try_next(r);
}

static void try_next(motan__chttp *r)
{
    while (r->next) {
        struct evutil_addrinfo *ai = r->next;
        r->next = ai->ai_next;
        int in_progress;
        int fd = motan__sock_connect_addr(ai->ai_addr, (unsigned)ai->ai_addrlen, &in_progress);
        if (fd >= 0) {
            r->fd = fd;
            r->io = event_new(r->base, fd, EV_WRITE, on_connect, r);
            struct timeval tc = tv_ms(r->connect_ms);
            if (!r->io || event_add(r->io, NULL) != 0) {
                finish(r, "out of memory");
                return;
            }
            evtimer_add(r->t_connect, &tc);
            return;
        }
        int err = errno;
        char ip[INET6_ADDRSTRLEN];
        motan__sock_addr_text(ai, ip, sizeof(ip));
        snprintf(r->addr_err, sizeof(r->addr_err), "%s: %s", ip, strerror(err));
    }
    char why[200];
    snprintf(why, sizeof(why), "connection failed (%s)", r->addr_err[0] ? r->addr_err : "no address");
    finish(r, why);
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    motan__chttp *r = arg;
    if (result == EVUTIL_EAI_CANCEL) {
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    r->dns_req = NULL;
    r->resolving = 0;
    if (result || !res) {
        if (res)
            evutil_freeaddrinfo(res);
        char why[200];
        snprintf(why, sizeof(why), "cannot resolve %.100s: %s", r->host,
                 result ? evutil_gai_strerror(result) : "no address");
        finish(r, why);
        return;
    }
    evtimer_del(r->t_connect);
    r->addrs = r->next = res;
    try_next(r);
}

static void on_total_timer(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    char why[64];
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    snprintf(why, sizeof(why), "no response within %d ms", r->total_ms);
    finish(r, why);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    motan__chttp *r = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    r->cb(r->userdata, r->status, r->err, r->index, r->body ? r->body : "", r->len);
    free_req(r);
}

/* The request's bytes: Connection: close, a Host header, the body when there is one. */
static int build_request(motan_buf *b, const char *host, int port, const char *method,
                         const char *uri, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nConnection: close\r\n"
                     "Accept: application/json\r\n",
                     method, uri, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
                     port);
    if (n < 0 || (size_t)n >= sizeof(head))
        return MOTAN_EINVAL;
    int rc = motan_buf_append(b, head, (size_t)n);
    if (rc == MOTAN_OK && !strcmp(method, "PUT")) {
        n = snprintf(head, sizeof(head), "Content-Length: %zu\r\n%s", blen,
                     blen ? "Content-Type: application/json\r\n" : "");
        rc = motan_buf_append(b, head, (size_t)n);
    }
    if (rc == MOTAN_OK)
        rc = motan_buf_append(b, "\r\n", 2);
    if (rc == MOTAN_OK && blen)
        rc = motan_buf_append(b, body, blen);
    return rc;
}

int motan__chttp_start(struct event_base *base, struct evdns_base *dns, const char *host, int port,
                       const char *method, const char *uri, const char *body, int connect_ms,
                       int total_ms, char *peer_out, motan__chttp_cb cb, void *userdata,
                       motan__chttp **out)
{
    *out = NULL;
    motan__chttp *r = motan__calloc(1, sizeof(*r));
    if (!r)
        return MOTAN_ENOMEM;
    r->base = base;
    r->fd = -1;
    r->port = port;
    r->cb = cb;
    r->userdata = userdata;
    r->connect_ms = connect_ms;
    r->total_ms = total_ms;
    r->peer_out = peer_out;
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->req = motan_buf_new(512);
    r->in = motan_buf_new(0);
    r->t_connect = evtimer_new(base, on_connect_timer, r);
    r->t_total = evtimer_new(base, on_total_timer, r);
    r->t_done = evtimer_new(base, on_report, r);
    if (!r->req || !r->in || !r->t_connect || !r->t_total || !r->t_done ||
        build_request(r->req, host, port, method, uri, body) != MOTAN_OK) {
        free_req(r);
        return MOTAN_ENOMEM;
    }
    struct timeval tt = tv_ms(total_ms), tc = tv_ms(connect_ms);
    evtimer_add(r->t_total, &tt);
    char ps[16];
    struct evutil_addrinfo hints, *res = motan__sock_numeric(host, port, &hints, ps);
    if (res) {
        r->addrs = r->next = res;
        try_next(r); /* failures are reported from the loop (finish), never in here */
    } else if (!dns) {
        finish(r, "cannot resolve the agent's name: no resolver");
    } else {
        evtimer_add(r->t_connect, &tc); /* resolving counts against the connect timeout */
        r->resolving = 1;
        struct evdns_getaddrinfo_request *d = evdns_getaddrinfo(dns, host, ps, &hints, resolved, r);
        if (r->resolving) /* not answered at once */
            r->dns_req = d;
    }
    *out = r;
    return MOTAN_OK;
}

void motan__chttp_cancel(motan__chttp *r)
{
    if (r)
        free_req(r);
}

/* ---- the blocking form ----------------------------------------------------------------- */

/* Waits for fd to be ready for events until deadline_us; 1 ready, 0 not. */
static int wait_fd(int fd, short events, uint64_t deadline_us)
{
    uint64_t now = motan_now_us();
    if (now >= deadline_us)
        return 0;
    struct pollfd p = {fd, events, 0};
    int ms = (int)((deadline_us - now + 999) / 1000);
    return poll(&p, 1, ms) > 0;
}

int motan__chttp_sync(const char *ip, int port, const char *host, const char *method,
                      const char *uri, int total_ms)
{
    char ps[16];
    struct evutil_addrinfo hints, *res = motan__sock_numeric(ip, port, &hints, ps);
    if (!res)
        return 0;
    uint64_t deadline = motan_now_us() + (uint64_t)total_ms * 1000u;
    int status = 0;
    motan_buf *b = motan_buf_new(512);
    int in_progress;
    int fd = motan__sock_connect_addr(res->ai_addr, (unsigned)res->ai_addrlen, &in_progress);
    if (b && fd >= 0 && build_request(b, host, port, method, uri, NULL) == MOTAN_OK &&
        wait_fd(fd, POLLOUT, deadline)) {
        size_t sent = 0, len = motan_buf_len(b);
        while (sent < len && wait_fd(fd, POLLOUT, deadline)) {
            ssize_t w = send(fd, motan_buf_data(b) + sent, len - sent, MSG_NOSIGNAL);
            if (w == 0 || (w < 0 && errno != EAGAIN && errno != EINTR))
                break; /* errno is stale after 0 */
            if (w > 0)
                sent += (size_t)w;
        }
        char line[64];
        size_t got = 0;
        while (sent == len && got < sizeof(line) - 1 && !memchr(line, '\n', got) &&
               wait_fd(fd, POLLIN, deadline)) {
            ssize_t n = recv(fd, line + got, sizeof(line) - 1 - got, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break; /* closed: errno is stale */
            if (n > 0)
                got += (size_t)n;
        }
        line[got] = '\0';
        if (sscanf(line, "HTTP/%*d.%*d %d", &status) != 1)
            status = 0;
    }
    if (fd >= 0)
        close(fd);
    motan_buf_free(b);
    evutil_freeaddrinfo(res);
    return status;
}
