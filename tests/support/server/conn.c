/*
 * One client connection: read everything available, dispatch every whole frame in place,
 * write all answers in one go; byte-per-ms and endless trickles for the faults that need them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "srv.h"

#define READ_CHUNK (64 * 1024)
#define READ_BUDGET (4 * 1024 * 1024) /* per callback, so one client cannot starve others */
#define OUT_HIGH (8 * 1024 * 1024)    /* stop reading above this much unwritten output */
#define OUT_LOW (1024 * 1024)
#define IN_KEEP (1024 * 1024)         /* an empty input buffer larger than this is freed */
#define ENDLESS_TOTAL 10485760u
#define ENDLESS_CHUNK 1024

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_trickle(evutil_socket_t fd, short what, void *arg);
static void on_endless(evutil_socket_t fd, short what, void *arg);

srv_conn *srv_conn_new(srv_server *s, int fd)
{
    srv_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->srv = s;
    c->fd = fd;
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->trickle_ev = evtimer_new(s->base, on_trickle, c);
    c->endless_ev = event_new(s->base, -1, EV_PERSIST, on_endless, c);
    c->out = motan_buf_new(0);
    c->spare = motan_buf_new(0);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (!c->rev || !c->wev || !c->trickle_ev || !c->endless_ev || !c->out || !c->spare) {
        srv_log(s, "out of memory for a connection");
        srv_conn_destroy(c);
        return NULL;
    }
    if (!s->opt.no_read)
        event_add(c->rev, NULL);
    return c;
}

void srv_conn_destroy(srv_conn *c)
{
    srv_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv_jobs_cancel(c);
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->trickle_ev)
        event_free(c->trickle_ev);
    if (c->endless_ev)
        event_free(c->endless_ev);
    if (c->closing == SRV_CLOSE_RESET) {
        struct linger lg = {1, 0}; /* abortive close: the peer gets an RST */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    free(c->in);
    motan_buf_free(c->out);
    motan_buf_free(c->spare);
    free(c->slow);
    free(c);
}

void srv_conn_close_after_flush(srv_conn *c, int reset)
{
    if (!c->closing || reset)
        c->closing = reset ? SRV_CLOSE_RESET : SRV_CLOSE_FLUSH;
    event_del(c->rev);
    event_del(c->endless_ev);
    srv_jobs_cancel(c);
}

int srv_conn_mark_slow(srv_conn *c, size_t start, size_t end)
{
    if (c->nslow == c->slow_cap) {
        size_t cap = c->slow_cap ? c->slow_cap * 2 : 4;
        srv_range *r = realloc(c->slow, cap * sizeof(*r));
        if (!r)
            return -1;
        c->slow = r;
        c->slow_cap = cap;
    }
    c->slow[c->nslow].start = start;
    c->slow[c->nslow].end = end;
    c->nslow++;
    return 0;
}

void srv_conn_start_endless(srv_conn *c)
{
    struct timeval ms = {0, 1000};
    c->endless = 1;
    c->endless_left = ENDLESS_TOTAL - 1; /* one byte short: the frame never completes */
    event_add(c->endless_ev, &ms);
}

/* Moves the unwritten tail to the spare buffer so the written head can be reused. */
static void compact(srv_conn *c)
{
    size_t off = c->out_off, len = motan_buf_len(c->out);
    motan_buf_reset(c->spare);
    if (motan_buf_append(c->spare, motan_buf_data(c->out) + off, len - off))
        return; /* out of memory: keep growing instead */
    motan_buf *t = c->out;
    c->out = c->spare;
    c->spare = t;
    motan_buf_reset(c->spare);
    c->out_off = 0;
    for (size_t i = 0; i < c->nslow; i++) {
        c->slow[i].start -= off;
        c->slow[i].end -= off;
    }
}

int srv_conn_flush(srv_conn *c)
{
    struct timeval ms = {0, 1000};
    int blocked = 0;
    for (;;) {
        size_t len = motan_buf_len(c->out);
        if (c->out_off >= len)
            break;
        size_t lim = len;
        if (c->nslow) {
            if (c->slow[0].start <= c->out_off) {
                if (!evtimer_pending(c->trickle_ev, NULL))
                    evtimer_add(c->trickle_ev, &ms);
                break;
            }
            lim = c->slow[0].start;
        }
        ssize_t n = send(c->fd, motan_buf_data(c->out) + c->out_off, lim - c->out_off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            blocked = 1;
            break;
        }
        srv_conn_destroy(c); /* the peer is gone */
        return -1;
    }
    size_t len = motan_buf_len(c->out);
    if (c->out_off >= len) {
        motan_buf_reset(c->out);
        c->out_off = 0;
        c->nslow = 0;
        if (c->closing) {
            srv_conn_destroy(c);
            return -1;
        }
    } else if (c->out_off >= 64 * 1024 && c->out_off * 2 >= len) {
        compact(c);
    }
    if (blocked)
        event_add(c->wev, NULL);
    else
        event_del(c->wev);

    size_t pending = motan_buf_len(c->out) - c->out_off;
    if (!c->paused && pending > OUT_HIGH && !c->closing) {
        event_del(c->rev);
        c->paused = 1;
    } else if (c->paused && pending < OUT_LOW && !c->closing) {
        c->paused = 0;
        if (!c->srv->opt.no_read)
            event_add(c->rev, NULL);
    }
    return 0;
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    srv_conn_flush(arg);
}

static void on_trickle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    srv_conn *c = arg;
    struct timeval ms = {0, 1000};
    if (!c->nslow || c->slow[0].start > c->out_off) {
        srv_conn_flush(c);
        return;
    }
    ssize_t n = send(c->fd, motan_buf_data(c->out) + c->out_off, 1, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        srv_conn_destroy(c);
        return;
    }
    if (n == 1 && ++c->out_off >= c->slow[0].end) {
        c->nslow--;
        memmove(c->slow, c->slow + 1, c->nslow * sizeof(*c->slow));
    }
    if (c->nslow && c->slow[0].start <= c->out_off)
        evtimer_add(c->trickle_ev, &ms);
    else
        srv_conn_flush(c);
}

static void on_endless(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    srv_conn *c = arg;
    static char chunk[ENDLESS_CHUNK];
    if (!chunk[0]) {
        for (size_t i = 0; i < sizeof(chunk); i += 4)
            memcpy(chunk + i, "k\nv\n", 4);
    }
    if (!c->endless_left) {
        event_del(c->endless_ev);
        return;
    }
    /* Only top up when the client keeps reading: memory stays bounded on both sides. */
    if (motan_buf_len(c->out) - c->out_off >= 64 * 1024)
        return;
    size_t n = c->endless_left < ENDLESS_CHUNK ? c->endless_left : ENDLESS_CHUNK;
    if (motan_buf_append(c->out, chunk, n))
        return;
    c->endless_left -= n;
    srv_conn_flush(c);
}

static int grow_in(srv_conn *c, size_t want)
{
    if (c->in_cap - c->in_len >= want)
        return 0;
    size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
    while (cap - c->in_len < want)
        cap *= 2;
    uint8_t *p = realloc(c->in, cap);
    if (!p)
        return -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    srv_conn *c = arg;
    size_t total = 0;
    int eof = 0;
    for (;;) {
        size_t want = READ_CHUNK;
        if (c->need > c->in_len && c->need - c->in_len > want)
            want = c->need - c->in_len;
        if (grow_in(c, want)) {
            srv_log(c->srv, "out of memory reading a request; closing");
            srv_conn_destroy(c);
            return;
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            total += (size_t)n;
            if ((size_t)n < room || total >= READ_BUDGET)
                break;
            continue;
        }
        if (n == 0) {
            eof = 1;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        srv_conn_destroy(c); /* ECONNRESET and the like */
        return;
    }

    size_t used = srv_dispatch(c, c->in, c->in_len, motan_now_us());
    if (c->closing || used >= c->in_len) {
        c->in_len = 0;
        c->need = 0;
    } else if (used) {
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
    if (!c->in_len && c->in_cap > IN_KEEP) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    /* The peer is gone or half-closed: send what is queued, drop delayed answers. */
    if (eof)
        srv_conn_close_after_flush(c, 0);
    srv_conn_flush(c);
}
