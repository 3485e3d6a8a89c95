#include "tu_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "tu_srv: %s: %s\n", what, err);
    abort();
}

void tu_srv_start(tu_srv *t, int builtin, const char *const *params)
{
    char err[512] = "";
    memset(t, 0, sizeof(*t));
    tu_env_init_mode(&t->e, builtin);
    if (motan_server_new(t->e.loop, &t->s, err, sizeof(err)) != MOTAN_OK)
        die("motan_server_new", err);
    for (size_t i = 0; params && params[i]; i += 2)
        if (motan_server_set(t->s, NULL, params[i], params[i + 1], err, sizeof(err)) != MOTAN_OK)
            die(params[i], err);
    if (motan_server_listen(t->s, "127.0.0.1:0", &t->port, err, sizeof(err)) != MOTAN_OK)
        die("motan_server_listen", err);
}

void tu_srv_stop(tu_srv *t)
{
    motan_server_free(t->s);
    t->s = NULL;
    tu_env_free(&t->e);
}

void tu_srv_echo(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    const motan_value *args = NULL;
    (void)userdata;
    motan_server_request_args(req, &args, NULL, 0);
    motan_reply_send(reply, motan_value_count(args) ? motan_value_at(args, 0)
                                                    : motan_value_new_null(motan_reply_arena(reply)));
}

void tu_srv_big(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    const motan_value *args = NULL;
    (void)userdata;
    motan_server_request_args(req, &args, NULL, 0);
    size_t n = motan_value_count(args) ? (size_t)motan_value_get_int(motan_value_at(args, 0)) : 0;
    void *p = n ? motan_arena_alloc(motan_reply_arena(reply), n) : NULL;
    if (p)
        memset(p, 'b', n);
    motan_reply_send(reply, motan_value_new_bytes(motan_reply_arena(reply), p, p ? n : 0));
}

motan_client *tu_srv_client(const tu_srv *t, const char *params)
{
    char url[512], err[256] = "";
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/%s%s%s", t->port, TU_SVC, params ? "?" : "",
             params ? params : "");
    motan_client *c = NULL;
    if (motan_client_new(url, &c, err, sizeof(err)) != MOTAN_OK)
        die(url, err);
    return c;
}

motan_endpoint *tu_srv_endpoint(const tu_srv *t)
{
    char url[128], err[256] = "";
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/%s", t->port, TU_SVC);
    motan_url *u = tu_url(url);
    motan_endpoint *ep = NULL;
    if (motan_endpoint_new(t->e.loop, u, &ep, err, sizeof(err)) != MOTAN_OK)
        die(url, err);
    motan_url_free(u);
    return ep;
}

int tu_srv_wait_stat(const tu_srv *t, const char *name, uint64_t want, int exact, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        uint64_t v = motan_server_stat(t->s, name);
        if (exact ? v == want : v >= want)
            return 1;
        if (motan_now_us() >= end) {
            fprintf(stderr, "tu_srv_wait_stat: %s is %llu, want %s%llu\n", name,
                    (unsigned long long)v, exact ? "" : ">= ", (unsigned long long)want);
            return 0;
        }
        usleep(1000);
    }
}

pid_t tu_echo_server_start(int *port)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/examples/echo_server", tu_root(), tu_build());
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(path, path, "0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[128] = "";
    int ok = pid > 0 && f && fgets(line, sizeof(line), f) &&
             sscanf(line, "listening 127.0.0.1:%d", port) == 1;
    if (f)
        fclose(f);
    else
        close(fds[0]);
    return ok ? pid : -1;
}

int tu_rss_within(long rss0, long max_kb, const char *what)
{
    long grown = tu_rss_kb() - rss0;
    if (tu_slow() || grown < max_kb)
        return 1;
    fprintf(stderr, "%s: resident memory grew by %ld KiB (bound %ld KiB)\n", what, grown, max_kb);
    return 0;
}

int tu_wire_open(tu_wire *w, int port)
{
    memset(w, 0, sizeof(*w));
    w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (w->fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(w->fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int e = errno;
        close(w->fd);
        w->fd = -1;
        errno = e;
        return -1;
    }
    w->in = motan_buf_new(65536);
    w->f = motan_frame_new();
    if (!w->in || !w->f)
        die("tu_wire_open", "out of memory");
    return 0;
}

void tu_wire_close(tu_wire *w)
{
    if (w->fd >= 0)
        close(w->fd);
    motan_buf_free(w->in);
    motan_frame_free(w->f);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}

int tu_wire_send(tu_wire *w, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = send(w->fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int tu_wire_request(tu_wire *w, uint64_t id, int ser, const char *service, const char *method,
                    const char *const *meta, const void *body, size_t blen)
{
    motan_buf *b = motan_buf_new(256);
    size_t mark;
    int rc = motan_frame_write_begin(b, 0, 0, (uint8_t)ser, id, &mark);
    if (!rc && service)
        rc = motan_frame_write_meta(b, mark, "M_p", 3, service, strlen(service));
    if (!rc && method)
        rc = motan_frame_write_meta(b, mark, "M_m", 3, method, strlen(method));
    for (size_t i = 0; !rc && meta && meta[i]; i += 2)
        rc = motan_frame_write_meta(b, mark, meta[i], strlen(meta[i]), meta[i + 1],
                                    strlen(meta[i + 1]));
    if (!rc)
        rc = motan_frame_write_body_begin(b, mark);
    if (!rc && blen)
        rc = motan_buf_append(b, body, blen);
    if (!rc)
        rc = motan_frame_write_end(b, mark, 0);
    if (!rc)
        rc = tu_wire_send(w, motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    return rc;
}

/* One read before deadline: 0 when bytes came, else TU_WIRE_EOF, _ERROR or _TIMEOUT. */
static int more(tu_wire *w, uint64_t deadline)
{
    uint64_t now = motan_now_us();
    if (now >= deadline)
        return TU_WIRE_TIMEOUT;
    struct pollfd p = {w->fd, POLLIN, 0};
    if (poll(&p, 1, (int)((deadline - now) / 1000) + 1) == 0)
        return TU_WIRE_TIMEOUT;
    uint8_t tmp[65536];
    ssize_t n = recv(w->fd, tmp, sizeof(tmp), 0);
    if (n < 0)
        return errno == EINTR ? 0 : TU_WIRE_ERROR;
    if (n == 0)
        return TU_WIRE_EOF;
    if (motan_buf_append(w->in, tmp, (size_t)n) != MOTAN_OK)
        die("tu_wire", "out of memory");
    return 0;
}

static void consume(tu_wire *w)
{
    size_t len = motan_buf_len(w->in);
    if (!w->eat)
        return;
    motan_buf *b = motan_buf_new(len - w->eat + 65536);
    motan_buf_append(b, motan_buf_data(w->in) + w->eat, len - w->eat);
    motan_buf_free(w->in);
    w->in = b;
    w->eat = 0;
}

int tu_wire_frame(tu_wire *w, int timeout_ms)
{
    consume(w);
    uint64_t deadline = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        if (motan_buf_len(w->in)) {
            size_t used = 0;
            int rc = motan_frame_parse(w->f, motan_buf_data(w->in), motan_buf_len(w->in), 0,
                                       &used, NULL, 0);
            if (rc == MOTAN_OK) {
                w->eat = used;
                return MOTAN_OK;
            }
            if (rc != MOTAN_EAGAIN)
                return rc;
        }
        int r = more(w, deadline);
        if (r)
            return r;
    }
}

int tu_wire_until_closed(tu_wire *w, int timeout_ms)
{
    uint64_t deadline = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    int r;
    while (!(r = more(w, deadline)))
        ;
    return r;
}

size_t tu_wire_buffered(const tu_wire *w) { return motan_buf_len(w->in) - w->eat; }
