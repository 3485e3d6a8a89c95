/*
 * An HTTP/1.1 client for one backend, TCP or Unix socket alike: at most max_conns keep-alive
 * connections (bufferevents), one request at a time on each, the others waiting in order for
 * the first free one. Every request has one deadline covering the wait, the connect, the
 * write and the whole answer; a connection that misbehaves (an invalid or cut-short answer,
 * bytes nobody asked for, a timeout in the middle of an answer) is closed, never reused.
 *
 * Idle connections keep reading: a backend closing one (its keep-alive timeout) is noticed
 * at once and it leaves the pool. Should a request still meet a closing connection (the race
 * of both ends at the same moment: the connection had carried answers before and closes
 * before a single byte of this one), it is sent once more, on another connection.
 *
 * Results are never delivered inside hpool_send: a failure found there (a Unix socket that
 * is not there) is delivered from the request's timer, made active at once.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "agent.h"

/* C_DONE: its answer is being delivered; kept or closed right after */
enum { C_CONNECTING, C_IDLE, C_BUSY, C_DONE };

typedef struct hconn {
    hpool *p;
    struct bufferevent *bev;
    int state;
    int reused;       /* has carried an answer before */
    int got;          /* bytes of the current answer arrived */
    hp_req *q;        /* C_BUSY */
    h1_resp resp;
    struct hconn *prev, *next;
} hconn;

struct hp_req {
    hpool *p;
    char *data;
    size_t len;
    int timeout_ms;
    struct event *timer;
    hconn *conn;      /* while on a connection */
    int queued;
    int retried;
    int failed;       /* a result waiting for the timer to deliver it */
    char why[200];
    hp_cb cb;
    void *arg;
    struct hp_req *prev, *next;         /* the wait queue */
    struct hp_req *all_prev, *all_next; /* every live request, for hpool_free */
};

struct hpool {
    struct event_base *base;
    struct sockaddr_storage addr;
    int addrlen;
    int max;
    size_t max_body;
    hconn *conns;
    int nconns, nconnecting;
    hp_req *qhead, *qtail;
    int nqueued;
    hp_req *all;
    uint64_t connects;
};

static void pump(hpool *p);

int hp_connect(const struct sockaddr *sa, int len, int *connected)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    *connected = connect(fd, sa, (socklen_t)len) == 0;
    if (!*connected && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- the wait queue -------------------------------------------------------------------- */

static void enqueue(hpool *p, hp_req *q, int front)
{
    q->queued = 1;
    q->prev = q->next = NULL;
    if (!p->qhead) {
        p->qhead = p->qtail = q;
    } else if (front) {
        q->next = p->qhead;
        p->qhead->prev = q;
        p->qhead = q;
    } else {
        q->prev = p->qtail;
        p->qtail->next = q;
        p->qtail = q;
    }
    p->nqueued++;
}

static void dequeue(hp_req *q)
{
    hpool *p = q->p;
    if (!q->queued)
        return;
    if (q->prev)
        q->prev->next = q->next;
    else
        p->qhead = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        p->qtail = q->prev;
    q->prev = q->next = NULL;
    q->queued = 0;
    p->nqueued--;
}

static void req_free(hp_req *q)
{
    hpool *p = q->p;
    if (q->all_prev)
        q->all_prev->all_next = q->all_next;
    else
        p->all = q->all_next;
    if (q->all_next)
        q->all_next->all_prev = q->all_prev;
    if (q->timer)
        event_free(q->timer);
    free(q->data);
    free(q);
}

/* The result, to the caller; q is gone after. */
static void deliver(hp_req *q, int result, const h1_resp *answer, const char *why)
{
    char w[200];
    snprintf(w, sizeof(w), "%s", why ? why : "");
    hp_cb cb = q->cb;
    void *arg = q->arg;
    req_free(q);
    cb(arg, result, answer, w);
}

/* A failure found where no callback may run: the timer delivers it, now. */
static void fail_later(hp_req *q, const char *fmt, const char *arg)
{
    snprintf(q->why, sizeof(q->why), fmt, arg);
    q->failed = 1;
    event_active(q->timer, EV_TIMEOUT, 1);
}

/* ---- connections ----------------------------------------------------------------------- */

static void conn_free(hconn *c)
{
    hpool *p = c->p;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->nconns--;
    if (c->state == C_CONNECTING)
        p->nconnecting--;
    if (c->q)
        c->q->conn = NULL;
    bufferevent_free(c->bev);
    h1_resp_clear(&c->resp);
    free(c);
}

/* The answer on c is complete (HP_OK) or c failed it; c is reused only after a clean answer. */
static void conn_done(hconn *c, int result, const char *why)
{
    hpool *p = c->p;
    hp_req *q = c->q;
    c->q = NULL;
    q->conn = NULL;
    /* reused only when nothing is left over either way (a backend answering before it has
     * read the whole request must close the connection) */
    int keep = result == HP_OK && c->resp.keep_alive &&
               evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
               evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
    c->state = C_DONE; /* nobody else's until the callback has read the answer */
    deliver(q, result, &c->resp, why);
    if (keep) {
        h1_resp_reset(&c->resp);
        c->state = C_IDLE;
        c->reused = 1;
    } else {
        conn_free(c);
    }
    pump(p);
}

static void start(hconn *c, hp_req *q)
{
    dequeue(q);
    c->state = C_BUSY;
    c->q = q;
    c->got = 0;
    q->conn = c;
    h1_resp_reset(&c->resp);
    if (bufferevent_write(c->bev, q->data, q->len) != 0) {
        c->q = NULL;
        q->conn = NULL;
        conn_free(c);
        fail_later(q, "out of memory%s", "");
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    hconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state != C_BUSY) { /* bytes nobody asked for: this connection cannot be trusted */
        hpool *p = c->p;
        conn_free(c);
        pump(p);
        return;
    }
    if (evbuffer_get_length(in))
        c->got = 1;
    int rc = h1_resp_parse(&c->resp, in, 0);
    if (rc == H1_DONE)
        conn_done(c, HP_OK, NULL);
    else if (rc == H1_ERROR)
        conn_done(c, HP_BAD, c->resp.error);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    hconn *c = arg;
    hpool *p = c->p;
    char why[200];
    int err = EVUTIL_SOCKET_ERROR();
    if (c->state == C_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            c->state = C_IDLE;
            p->nconnecting--;
            bufferevent_set_timeouts(bev, NULL, NULL);
            bufferevent_enable(bev, EV_READ);
            pump(p);
            return;
        }
        /* the connect failed: the first waiting request learns why (each one tries anew) */
        snprintf(why, sizeof(why), "cannot connect: %s",
                 what & BEV_EVENT_TIMEOUT ? "timed out" : err ? strerror(err) : "connection closed");
        conn_free(c);
        if (p->qhead) {
            hp_req *q = p->qhead;
            dequeue(q);
            evtimer_del(q->timer);
            deliver(q, HP_NOANSWER, NULL, why);
        }
        pump(p);
        return;
    }
    if (c->state == C_IDLE) { /* the backend closed an idle connection */
        conn_free(c);
        pump(p);
        return;
    }
    hp_req *q = c->q;
    if (what & BEV_EVENT_EOF) {
        int rc = h1_resp_parse(&c->resp, bufferevent_get_input(bev), 1);
        if (rc == H1_DONE) {
            c->resp.keep_alive = 0;
            conn_done(c, HP_OK, NULL);
            return;
        }
        snprintf(why, sizeof(why), "%s", c->got ? c->resp.error : "the connection closed before an answer");
    } else {
        snprintf(why, sizeof(why), "the connection failed: %s", err ? strerror(err) : "unknown error");
    }
    if (!c->got && c->reused && !q->retried) {
        /* a kept-alive connection closing as it was used: once more on a new one */
        c->q = NULL;
        q->conn = NULL;
        q->retried = 1;
        conn_free(c);
        enqueue(p, q, 1);
        pump(p);
        return;
    }
    conn_done(c, c->got ? HP_BAD : HP_NOANSWER, why);
}

/* A new connection to the pool's address (connect_ms to connect): 0, or -1 with errno. */
static int conn_open(hpool *p, int connect_ms)
{
    int connected;
    int fd = hp_connect((struct sockaddr *)&p->addr, p->addrlen, &connected);
    if (fd < 0)
        return -1;
    hconn *c = calloc(1, sizeof(*c));
    if (!c || h1_resp_init(&c->resp, p->max_body) != 0 ||
        !(c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        if (c)
            h1_resp_clear(&c->resp);
        free(c);
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    c->p = p;
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->nconns++;
    p->connects++;
    if (connected) {
        c->state = C_IDLE;
        bufferevent_enable(c->bev, EV_READ);
    } else {
        c->state = C_CONNECTING;
        p->nconnecting++;
        struct timeval tv = {connect_ms / 1000, (connect_ms % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, NULL, &tv); /* while connecting: the connect's */
        bufferevent_socket_connect(c->bev, NULL, 0); /* watches the connect in progress */
    }
    return 0;
}

/* Puts waiting requests on idle connections, opening new ones while allowed. */
static void pump(hpool *p)
{
    while (p->qhead) {
        hconn *idle = NULL;
        for (hconn *c = p->conns; c && !idle; c = c->next)
            if (c->state == C_IDLE && !c->q)
                idle = c;
        if (idle) {
            start(idle, p->qhead);
            continue;
        }
        if (p->nconns >= p->max || p->nconnecting >= p->nqueued)
            return;
        if (!p->addrlen) {
            hp_req *q = p->qhead;
            dequeue(q);
            fail_later(q, "cannot connect: %s", "no address yet");
            continue;
        }
        if (conn_open(p, p->qhead->timeout_ms) != 0) {
            hp_req *q = p->qhead;
            dequeue(q);
            fail_later(q, "cannot connect: %s", strerror(errno));
        }
    }
}

/* ---- requests -------------------------------------------------------------------------- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    hp_req *q = arg;
    hpool *p = q->p;
    (void)fd;
    (void)what;
    if (q->failed) {
        deliver(q, HP_NOANSWER, NULL, q->why);
        return;
    }
    char why[120];
    if (q->conn) {
        snprintf(why, sizeof(why), "no answer within %d ms", q->timeout_ms);
        hconn *c = q->conn;
        c->q = NULL;
        q->conn = NULL;
        conn_free(c); /* in the middle of an exchange: not reusable */
    } else {
        snprintf(why, sizeof(why), "no answer within %d ms (every one of the %d connections was busy"
                 " or connecting)", q->timeout_ms, p->max);
        dequeue(q);
    }
    deliver(q, HP_TIMEOUT, NULL, why);
    pump(p);
}

hp_req *hpool_send(hpool *p, const void *data, size_t len, int timeout_ms, hp_cb cb, void *arg)
{
    hp_req *q = calloc(1, sizeof(*q));
    if (!q || !(q->data = malloc(len ? len : 1)) || !(q->timer = evtimer_new(p->base, on_timer, q))) {
        if (q)
            free(q->data);
        free(q);
        return NULL;
    }
    memcpy(q->data, data, len);
    q->len = len;
    q->p = p;
    q->all_next = p->all;
    if (p->all)
        p->all->all_prev = q;
    p->all = q;
    q->cb = cb;
    q->arg = arg;
    q->timeout_ms = timeout_ms;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(q->timer, &tv);
    enqueue(p, q, 0);
    pump(p);
    return q;
}

void hp_req_cancel(hp_req *q)
{
    if (!q)
        return;
    if (q->conn) {
        hconn *c = q->conn;
        c->q = NULL;
        conn_free(c);
    }
    dequeue(q);
    req_free(q);
}

/* ---- the pool -------------------------------------------------------------------------- */

hpool *hpool_new(struct event_base *base, int max_conns, size_t max_body)
{
    hpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base = base;
    p->max = max_conns > 0 ? max_conns : 1;
    p->max_body = max_body;
    return p;
}

void hpool_set_addr(hpool *p, const struct sockaddr *sa, int len)
{
    if (len <= 0 || (size_t)len > sizeof(p->addr))
        return;
    memcpy(&p->addr, sa, (size_t)len);
    p->addrlen = len;
}

void hpool_free(hpool *p)
{
    if (!p)
        return;
    while (p->conns)
        conn_free(p->conns);
    while (p->all) {
        hp_req *q = p->all;
        dequeue(q);
        req_free(q);
    }
    free(p);
}

int hpool_open_conns(const hpool *p) { return p ? p->nconns : 0; }

uint64_t hpool_connects(const hpool *p) { return p ? p->connects : 0; }
