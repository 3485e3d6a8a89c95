/*
 * One client connection: read what is there (bounded per callback), hand every whole frame
 * to the dispatch, write all answers of a loop iteration in one go.
 *
 * Output is a queue of segments: answers are appended to the tail; a streaming reply gets a
 * segment of its own, and what is queued after it waits until it ends. Memory is bounded:
 * when unsent output plus the requests the connection's handlers hold exceed
 * maxBufferedBytes, frames already read wait in the input and the connection is not read
 * until it is below an eighth of that, so a client that sends without reading stalls
 * itself, not the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server_int.h"

#define READ_CHUNK (64 * 1024)
#define READ_BUDGET (4 * 1024 * 1024) /* per callback, so one client cannot starve others */
#define READ_AHEAD_MAX (1024 * 1024)   /* a large frame's buffer grows as its bytes come */
#define KEEP_MAX (1024 * 1024)         /* an empty buffer larger than this is given back */
#define COMPACT_MIN (64 * 1024)
#define CLOSE_LINGER_MS 10000          /* a closing connection whose peer never reads */

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_flush(evutil_socket_t fd, short what, void *arg);
static void on_idle(evutil_socket_t fd, short what, void *arg);
static int flush(motan__sconn *c);

static void arm_idle(motan__sconn *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&c->idle_ev, &tv);
}

static void peer_name(motan__sconn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "";
    snprintf(c->peer, sizeof(c->peer), "unix");
    if (c->is_unix || getpeername(c->fd, (struct sockaddr *)&ss, &sl))
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip, ntohs(in6->sin6_port));
    }
}

motan__sconn *motan__sconn_new(motan_server *s, int fd, int is_unix)
{
    motan__sconn *c = motan__calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->srv = s;
    c->fd = fd;
    c->is_unix = is_unix;
    peer_name(c);
    event_assign(&c->rev, s->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->wev, s->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    event_assign(&c->flush_ev, s->base, -1, 0, on_flush, c);
    event_assign(&c->idle_ev, s->base, -1, 0, on_idle, c);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    atomic_fetch_add(&s->st_connections, 1);
    c->active_us = motan__now_coarse_us();
    event_add(&c->rev, NULL);
    c->reading = 1;
    if (s->idle_ms > 0)
        arm_idle(c, s->idle_ms);
    return c;
}

static void seg_free(motan__sseg *g)
{
    motan_free(g->buf.data);
    motan_free(g);
}

void motan__sconn_destroy(motan__sconn *c)
{
    motan_server *s = c->srv;
    while (c->replies)
        motan__reply_abandon(c->replies);
    event_del(&c->rev);
    event_del(&c->wev);
    event_del(&c->flush_ev);
    event_del(&c->idle_ev);
    if (c->closing == SCONN_RESET) {
        struct linger lg = {1, 0}; /* abortive close: the peer gets an RST */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    while (c->head) {
        motan__sseg *g = c->head;
        c->head = g->next;
        seg_free(g);
    }
    if (c->spare)
        seg_free(c->spare);
    motan_free(c->in.data);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub(&s->st_connections, 1);
    motan_free(c);
    motan__srv_drain_check(s);
}

static void stop_reading(motan__sconn *c)
{
    if (c->reading) {
        event_del(&c->rev);
        c->reading = 0;
    }
}

static void schedule_flush(motan__sconn *c)
{
    if (!c->flush_scheduled && !c->in_read) {
        c->flush_scheduled = 1;
        event_active(&c->flush_ev, EV_TIMEOUT, 1);
    }
}

void motan__sconn_close_after_flush(motan__sconn *c, int reset)
{
    if (c->closing == SCONN_OPEN || reset)
        c->closing = reset ? SCONN_RESET : SCONN_FLUSH;
    stop_reading(c);
    while (c->replies)
        motan__reply_abandon(c->replies);
    /* What streams wrote so far goes out; nothing more will be added to them. */
    for (motan__sseg *g = c->head; g; g = g->next)
        g->open = 0;
    arm_idle(c, CLOSE_LINGER_MS);
    schedule_flush(c);
}

void motan__sconn_close_when_idle(motan__sconn *c)
{
    c->close_when_idle = 1;
    stop_reading(c);
    schedule_flush(c);
}

/* ---- output ------------------------------------------------------------------------------ */

static motan__sseg *seg_new(motan__sconn *c)
{
    motan__sseg *g = c->spare;
    if (g)
        c->spare = NULL;
    else if (!(g = motan__calloc(1, sizeof(*g))))
        return NULL;
    g->next = NULL;
    g->off = g->buf.len = 0;
    g->open = 0;
    if (c->tail)
        c->tail->next = g;
    else
        c->head = g;
    c->tail = g;
    return g;
}

motan_buf *motan__sconn_tail(motan__sconn *c)
{
    motan__sseg *g = c->tail;
    if (!g || g->open)
        g = seg_new(c);
    return g ? &g->buf : NULL;
}

motan__sseg *motan__sconn_open_seg(motan__sconn *c)
{
    motan__sseg *g = seg_new(c);
    if (g)
        g->open = 1;
    return g;
}

void motan__sconn_added(motan__sconn *c, size_t n)
{
    c->unsent += n;
    if (n)
        schedule_flush(c);
}

/* Back-pressure and the conditions that end a connection; 0 when c was destroyed. */
static int check(motan__sconn *c)
{
    motan_server *s = c->srv;
    int stream_open = c->head && c->head->open;
    if ((c->closing && !c->unsent && !stream_open) ||
        (c->close_when_idle && !c->unsent && !c->replies && !stream_open)) {
        motan__sconn_destroy(c);
        return 0;
    }
    if (c->closing || c->close_when_idle)
        return 1;
    size_t used = c->unsent + c->held;
    if (!c->paused && used > s->max_buffered) {
        c->paused = 1;
        stop_reading(c);
        atomic_fetch_add(&s->st_paused, 1);
    } else if (c->paused && used < s->max_buffered / 8) {
        c->paused = 0;
        event_add(&c->rev, NULL);
        c->reading = 1;
        if (c->in.len)
            event_active(&c->rev, EV_READ, 1); /* frames left unanswered in the input first */
    } else if (!c->paused && c->stalled && used <= s->max_buffered) {
        c->stalled = 0;
        event_active(&c->rev, EV_READ, 1);
    }
    return 1;
}

void motan__sconn_update(motan__sconn *c)
{
    if (!c->in_read)
        check(c);
}

static void pop_head(motan__sconn *c)
{
    motan__sseg *g = c->head;
    c->head = g->next;
    if (!c->head)
        c->tail = NULL;
    if (!c->spare && g->buf.cap <= KEEP_MAX) {
        c->spare = g;
    } else {
        seg_free(g);
    }
}

/* Writes what it can. 0, or -1 when c was destroyed (written out and closed, or a write error). */
static int flush(motan__sconn *c)
{
    int blocked = 0;
    while (c->head) {
        motan__sseg *g = c->head;
        size_t avail = g->buf.len - g->off;
        if (avail) {
            ssize_t n = send(c->fd, g->buf.data + g->off, avail, MSG_NOSIGNAL);
            if (n > 0) {
                g->off += (size_t)n;
                c->unsent -= (size_t)n;
                c->active_us = motan__now_coarse_us();
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                blocked = 1;
                break;
            }
            motan__sconn_destroy(c); /* the peer is gone */
            return -1;
        }
        if (g->open)
            break; /* a stream: later answers wait for its end */
        if (g->next) {
            pop_head(c);
            continue;
        }
        g->off = g->buf.len = 0;
        if (g->buf.cap > KEEP_MAX) {
            motan_free(g->buf.data);
            g->buf.data = NULL;
            g->buf.cap = 0;
        }
        break;
    }
    motan__sseg *g = c->head;
    if (g && g->off >= COMPACT_MIN && g->off * 2 >= g->buf.len) {
        memmove(g->buf.data, g->buf.data + g->off, g->buf.len - g->off);
        g->buf.len -= g->off;
        g->off = 0;
    }
    if (blocked && !c->writing) {
        event_add(&c->wev, NULL);
        c->writing = 1;
    } else if (!blocked && c->writing) {
        event_del(&c->wev);
        c->writing = 0;
    }
    return check(c) ? 0 : -1;
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    flush(arg);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    motan__sconn *c = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    c->flush_scheduled = 0;
    flush(c);
}

/* idleTimeout, or the linger of a closing connection whose peer does not read. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    motan__sconn *c = arg;
    motan_server *s = c->srv;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    if (c->closing) {
        motan__sconn_destroy(c);
        return;
    }
    if (s->idle_ms <= 0)
        return;
    uint64_t now = motan__now_coarse_us(), idle_us = (uint64_t)s->idle_ms * 1000u;
    uint64_t quiet = now > c->active_us ? now - c->active_us : 0;
    if (quiet >= idle_us && !c->replies) {
        atomic_fetch_add(&s->st_idle_closed, 1);
        motan__sconn_destroy(c);
        return;
    }
    /* Busy handlers keep it; otherwise look again when it could have been idle long enough. */
    uint64_t left = quiet >= idle_us ? idle_us : idle_us - quiet;
    arm_idle(c, (int)(left / 1000) + 1);
}

/* ---- input --------------------------------------------------------------------------------- */

/* Empty input: do not keep a large frame's buffer for the life of the connection. */
static void shrink_input(motan__sconn *c)
{
    if (c->in.len == 0 && c->in.cap > KEEP_MAX) {
        motan_free(c->in.data);
        c->in.data = NULL;
        c->in.cap = 0;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    motan__sconn *c = arg;
    motan_server *s = c->srv;
    MOTAN_UNUSED(what);
    motan__srv_hold(s);
    size_t total = 0;
    int eof = 0;
    for (;;) {
        size_t want = READ_CHUNK;
        if (c->need > c->in.len && c->need - c->in.len > want)
            want = c->need - c->in.len > READ_AHEAD_MAX ? READ_AHEAD_MAX : c->need - c->in.len;
        if (motan__buf_ensure(&c->in, want) != MOTAN_OK) {
            motan__sconn_destroy(c); /* out of memory for a request */
            goto out;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t n = recv(fd, c->in.data + c->in.len, room, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
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
        motan__sconn_destroy(c); /* ECONNRESET and the like */
        goto out;
    }
    if (total)
        c->active_us = motan__now_coarse_us();

    c->in_read = 1;
    size_t used = motan__srv_input(c, c->in.data, c->in.len, motan_now_us());
    c->in_read = 0;
    if (c->closing || used >= c->in.len) {
        c->in.len = 0;
        c->need = 0;
    } else if (used) {
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
    }
    shrink_input(c);
    /* The peer is gone or half-closed: send what is queued, drop what is still open. */
    if (eof)
        motan__sconn_close_after_flush(c, 0);
    flush(c);
out:
    motan__srv_release(s);
}
