/*
 * Replies: one per request, pooled. A reply is finished exactly once, from any thread:
 * on the loop thread the answer goes straight into its connection's output; on another
 * thread it is built there (serialising the value off the loop) and handed over through the
 * hub's inbox, which never allocates. The deadline timer answers a reply its handler has
 * not finished in time; finishing it later then only frees it.
 *
 * What outlives the server is the hub: a reply finished after motan_server_free finds it
 * dead and frees itself; the hub goes with the last such reply.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "codec/codec_int.h"
#include "server/server_int.h"

#define POOL_MAX 1024
#define COPY_KEEP (256 * 1024)
#define BUF_KEEP (64 * 1024)
#define REPLY_COST 512 /* what an open reply costs beside its request, for the budget */

enum { A_VALUE, A_RAW, A_ERROR, A_NONE, A_HEARTBEAT };
enum { FIN_NONE, FIN_BYTES, FIN_HEARTBEAT };

/* What a finishing call answers. */
typedef struct answer {
    int kind;
    const motan_value *v;
    int ser, status;
    const void *body;
    size_t len;
    int64_t code;
    int type;
    const char *msg;
    size_t msglen;
} answer;

static int on_loop_thread(const motan__shub *h)
{
    return pthread_equal(pthread_self(), h->loop_thread);
}

/* ---- the hub -------------------------------------------------------------------------------- */

static void deliver(motan_reply *r);

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    motan_server *s = arg;
    uint64_t v;
    MOTAN_UNUSED(what);
    (void)!read(fd, &v, sizeof(v)); /* resets the eventfd; EAGAIN is harmless */
    pthread_mutex_lock(&s->hub->mu);
    motan_reply *r = s->hub->head;
    s->hub->head = s->hub->tail = NULL;
    s->hub->wake_pending = 0;
    for (motan_reply *q = r; q; q = q->inext)
        q->queued = 0;
    pthread_mutex_unlock(&s->hub->mu);
    while (r) {
        motan_reply *next = r->inext;
        deliver(r);
        r = next;
    }
}

int motan__shub_new(motan_server *s, char *errbuf, size_t errlen)
{
    motan__shub *h = motan__calloc(1, sizeof(*h));
    if (!h)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->wake_fd < 0) {
        motan_free(h);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "eventfd: %s", strerror(errno));
    }
    pthread_mutex_init(&h->mu, NULL);
    atomic_init(&h->refs, 1);
    h->alive = 1;
    h->loop_thread = pthread_self(); /* this runs on the loop thread */
    event_assign(&s->wake_ev, s->base, h->wake_fd, EV_READ | EV_PERSIST, on_wake, s);
    if (event_add(&s->wake_ev, NULL)) {
        close(h->wake_fd);
        pthread_mutex_destroy(&h->mu);
        motan_free(h);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot watch the server's eventfd");
    }
    s->hub = h;
    return MOTAN_OK;
}

static void hub_unref(motan__shub *h)
{
    if (atomic_fetch_sub(&h->refs, 1) == 1) {
        pthread_mutex_destroy(&h->mu);
        motan_free(h);
    }
}

static void reply_free(motan_reply *r);

static void unlink_server(motan_reply *r)
{
    motan_server *s = r->srv;
    if (r->sprev)
        r->sprev->snext = r->snext;
    else
        s->out_replies = r->snext;
    if (r->snext)
        r->snext->sprev = r->sprev;
    r->sprev = r->snext = NULL;
}

void motan__shub_close(motan_server *s)
{
    motan__shub *h = s->hub;
    event_del(&s->wake_ev);
    pthread_mutex_lock(&h->mu);
    h->alive = 0;
    motan_reply *inbox = h->head;
    h->head = h->tail = NULL;
    /* Under the lock: a thread finishing one of them now sees the hub dead and frees it. */
    for (motan_reply *r = s->out_replies; r;) {
        motan_reply *next = r->snext;
        if (!r->queued)
            motan__reply_orphan(r); /* still with its handler */
        r = next;
    }
    pthread_mutex_unlock(&h->mu);
    close(h->wake_fd);
    while (inbox) {
        motan_reply *next = inbox->inext;
        reply_free(inbox);
        inbox = next;
    }
    s->hub = NULL;
    hub_unref(h);
}

/* ---- pool ------------------------------------------------------------------------------------ */

static void on_deadline(evutil_socket_t fd, short what, void *arg);

motan_reply *motan__reply_get(motan_server *s)
{
    motan_reply *r = s->pool;
    if (r) {
        s->pool = r->next;
        s->npool--;
    } else {
        if (!(r = motan__calloc(1, sizeof(*r))))
            return NULL;
        r->req.frame = motan_frame_new();
        r->arena = motan_arena_new();
        if (!r->req.frame || !r->arena) {
            motan_frame_free(r->req.frame);
            motan_arena_free(r->arena);
            motan_free(r);
            return NULL;
        }
        r->srv = s;
        event_assign(&r->timer, s->base, -1, 0, on_deadline, r);
    }
    r->hub = s->hub;
    r->prev = r->next = NULL;
    r->state = REPLY_HANDLER;
    r->snext = s->out_replies;
    r->sprev = NULL;
    if (s->out_replies)
        s->out_replies->sprev = r;
    s->out_replies = r;
    return r;
}

static void shrink(motan_buf *b, size_t keep)
{
    b->len = 0;
    if (b->cap > keep) {
        motan_free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

static void reply_free(motan_reply *r)
{
    if (r->srv && r->state != REPLY_POOLED)
        unlink_server(r);
    int orphan = r->orphaned;
    motan__shub *h = r->hub;
    if (r->timer_set)
        event_del(&r->timer);
    motan_frame_free(r->req.frame);
    motan_arena_free(r->arena);
    motan_free(r->copy.data);
    motan_free(r->meta.data);
    motan_free(r->out.data);
    motan_free(r);
    if (orphan)
        hub_unref(h);
}

static void cancel_timer(motan_reply *r)
{
    if (r->timer_set) {
        event_del(&r->timer);
        r->timer_set = 0;
    }
}

/* r is no longer owed on its connection (answered, abandoned or finished). */
static void detach(motan_reply *r)
{
    motan__sconn *c = r->conn;
    cancel_timer(r);
    r->seg = NULL;
    if (!c)
        return;
    r->conn = NULL;
    if (r->state != REPLY_OPEN)
        return; /* never parked: not on the connection's list */
    if (r->prev)
        r->prev->next = r->next;
    else
        c->replies = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->held -= r->held;
    r->held = 0;
    atomic_fetch_sub(&c->srv->st_open_replies, 1);
}

void motan__reply_recycle(motan_reply *r)
{
    motan_server *s = r->srv;
    motan__sconn *c = r->conn;
    if (r->fc && s)
        motan__srv_filter_end(r); /* answered (or given up): the filters see the end */
    detach(r);
    if (!s) {
        reply_free(r);
        return;
    }
    int was_open = r->state == REPLY_OPEN;
    if (s->npool >= POOL_MAX) {
        reply_free(r);
    } else {
        unlink_server(r);
        r->state = REPLY_POOLED;
        memset(&r->req.service, 0, sizeof(r->req) - offsetof(motan_server_request, service));
        shrink(&r->copy, COPY_KEEP);
        shrink(&r->meta, BUF_KEEP);
        shrink(&r->out, BUF_KEEP);
        motan_arena_reset(r->arena);
        r->heartbeat = r->java_hb = r->has_pt = 0;
        r->fin = FIN_NONE;
        r->mingz = 0;
        r->deadline_us = 0;
        r->next = s->pool;
        s->pool = r;
        s->npool++;
    }
    if (c)
        motan__sconn_update(c);
    if (was_open)
        motan__srv_drain_check(s);
}

void motan__reply_park(motan_reply *r)
{
    motan__sconn *c = r->conn;
    r->state = REPLY_OPEN;
    if (!c || c->closing) {
        r->conn = NULL; /* the connection stopped answering while the handler ran */
        return;
    }
    r->next = c->replies;
    r->prev = NULL;
    if (c->replies)
        c->replies->prev = r;
    c->replies = r;
    r->held = r->copy.len + REPLY_COST;
    c->held += r->held;
    atomic_fetch_add(&c->srv->st_open_replies, 1);
    if (r->deadline_us && !r->seg) {
        uint64_t now = motan_now_us();
        uint64_t left = r->deadline_us > now ? r->deadline_us - now : 0;
        struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
        event_add(&r->timer, &tv);
        r->timer_set = 1;
    }
}

void motan__reply_abandon(motan_reply *r)
{
    motan_server *s = r->conn ? r->conn->srv : NULL;
    detach(r);
    if (s)
        motan__srv_drain_check(s);
}

void motan__reply_orphan(motan_reply *r)
{
    detach(r);
    unlink_server(r);
    r->srv = NULL;
    r->orphaned = 1;
    atomic_fetch_add(&r->hub->refs, 1);
}

/* ---- building answers -------------------------------------------------------------------- */

/*
 * One response frame for a into dst. with_meta: the handler's metadata (not from the
 * deadline timer, which must not read what another thread may be writing). An encoding
 * failure becomes a 500 answer; the return value is the failure.
 */
static int build(motan_reply *r, const answer *a, motan_buf *dst, int with_meta)
{
    char pt[24], err[256] = "";
    size_t start = dst->len, mark;
    int status = a->kind == A_ERROR ? 1 : a->kind == A_RAW ? a->status : 0;
    int ser = a->kind == A_RAW ? a->ser : r->ser;
    int rc = motan_frame_write_begin(dst, MOTAN_FLAG_RESPONSE, (uint8_t)status, (uint8_t)ser, r->id,
                                     &mark);
    if (rc == MOTAN_OK && !(with_meta && r->has_pt)) {
        uint64_t now = motan_now_us();
        size_t n = motan__put_dec(pt, now > r->recv_us ? (now - r->recv_us) / 1000 : 0);
        rc = motan_frame_write_meta(dst, mark, "M_pt", 4, pt, n);
    }
    if (rc == MOTAN_OK && with_meta && r->meta.len) {
        if (dst->len > mark + MOTAN__HDR_META) /* the header's bytes: some metadata is in */
            rc = motan_buf_append(dst, "\n", 1);
        if (rc == MOTAN_OK)
            rc = motan_buf_append(dst, r->meta.data, r->meta.len);
    }
    if (rc == MOTAN_OK && a->kind == A_ERROR)
        rc = motan_frame_write_error_meta(dst, mark, a->code, a->type, a->msg, a->msglen);
    if (rc == MOTAN_OK)
        rc = motan_frame_write_body_begin(dst, mark);
    if (rc == MOTAN_OK && a->kind == A_VALUE) {
        rc = motan_serialize_value(ser, a->v, dst, err, sizeof(err));
        if (rc != MOTAN_OK && rc != MOTAN_ENOMEM) {
            motan_buf_truncate(dst, start);
            char msg[300];
            int n = snprintf(msg, sizeof(msg), "serialize fail: %s",
                             err[0] ? err : motan_strerror(rc));
            answer e = {.kind = A_ERROR, .code = 500, .type = 1, .msg = msg, .msglen = (size_t)n};
            build(r, &e, dst, with_meta);
            return rc;
        }
    }
    if (rc == MOTAN_OK && a->kind == A_RAW && a->len)
        rc = motan_buf_append(dst, a->body, a->len);
    if (rc == MOTAN_OK)
        rc = motan_frame_write_end(dst, mark, a->kind == A_ERROR ? 0 : r->mingz);
    if (rc != MOTAN_OK)
        motan_buf_truncate(dst, start);
    return rc;
}

/* a into c's output (loop thread); without memory the client loses the connection. */
static int answer_on(motan__sconn *c, motan_reply *r, const answer *a, int with_meta)
{
    motan_buf *dst = motan__sconn_tail(c);
    if (!dst) {
        motan__sconn_close_after_flush(c, 0);
        return MOTAN_ENOMEM;
    }
    size_t start = dst->len;
    int rc = build(r, a, dst, with_meta);
    if (rc == MOTAN_ENOMEM && dst->len == start)
        motan__sconn_close_after_flush(c, 0);
    motan__sconn_added(c, dst->len - start);
    r->fsize = dst->len - start;
    if (rc != MOTAN_OK)
        r->fcode = dst->len > start ? MOTAN_EREMOTE : MOTAN_ECONNECT; /* a 500, or nothing */
    if (a->kind == A_ERROR || rc != MOTAN_OK)
        atomic_fetch_add(&c->srv->st_errors, 1);
    return rc;
}

void motan__reply_default_heartbeat(motan_server *s, motan__sconn *c, uint64_t id, int java)
{
    if (s->draining) {
        motan__sconn_close_when_idle(c); /* motan-go's 503 state */
        return;
    }
    motan_buf *dst = motan__sconn_tail(c);
    size_t start = dst ? dst->len : 0;
    int rc = MOTAN_ENOMEM;
    if (dst && java) {
        /* Java form (§4.1): 11 08 08, no proxy bit, serialization 1. */
        uint8_t h[MOTAN_FRAME_MIN] = {0xf1, 0xf1, MOTAN_FLAG_RESPONSE | MOTAN_FLAG_HEARTBEAT,
                                      0x08, 0x08};
        motan__put_u64be(h + 5, id);
        rc = motan_buf_append(dst, h, sizeof(h));
    } else if (dst) {
        rc = motan_frame_write_heartbeat(dst, id, 1);
    }
    if (rc != MOTAN_OK) {
        motan__sconn_close_after_flush(c, 0);
        return;
    }
    motan__sconn_added(c, dst->len - start);
}

void motan__reply_too_large(motan__sconn *c, const uint8_t *hdr, const char *why)
{
    char msg[320];
    int n = snprintf(msg, sizeof(msg), "request too large: %s", why);
    motan_reply r;
    memset(&r, 0, sizeof(r));
    r.id = motan__get_u64be(hdr + 5);
    r.ser = hdr[4] >> 3;
    r.recv_us = motan_now_us();
    answer a = {.kind = A_ERROR, .code = 10201, .type = 1, .msg = msg, .msglen = (size_t)n};
    answer_on(c, &r, &a, 0);
}

/* ---- finishing ----------------------------------------------------------------------------- */

/* Loop thread, from the inbox: what another thread finished goes out now. */
static void deliver(motan_reply *r)
{
    motan__sconn *c = r->conn;
    r->fcode = c ? r->fkind : MOTAN_ECONNECT;
    r->fsize = r->out.len;
    if (c && r->fin == FIN_BYTES && r->out.len) {
        motan_buf *dst = motan__sconn_tail(c);
        if (dst && motan_buf_append(dst, r->out.data, r->out.len) == MOTAN_OK)
            motan__sconn_added(c, r->out.len);
        else
            motan__sconn_close_after_flush(c, 0);
    } else if (c && r->fin == FIN_HEARTBEAT) {
        motan__reply_default_heartbeat(c->srv, c, r->id, r->java_hb);
    }
    motan__reply_recycle(r);
}

/* What the filters are told a reply was answered with. */
static int outcome(const answer *a)
{
    switch (a->kind) {
    case A_VALUE:
        return MOTAN_OK;
    case A_RAW:
        return a->status ? MOTAN_EREMOTE : MOTAN_OK;
    case A_ERROR:
        return MOTAN_EREMOTE;
    default:
        return MOTAN_ECANCELLED; /* nothing sent */
    }
}

static int finish(motan_reply *r, const answer *a)
{
    int rc = MOTAN_OK;
    if (!on_loop_thread(r->hub)) {
        motan__shub *h = r->hub;
        r->out.len = 0;
        r->fin = FIN_NONE;
        if (a->kind == A_HEARTBEAT) {
            r->fin = FIN_HEARTBEAT;
        } else if (a->kind != A_NONE) {
            rc = build(r, a, &r->out, 1);
            r->fin = FIN_BYTES;
        }
        /* For the filters, read by deliver (the deadline timer may be at r->fc meanwhile). */
        r->fkind = rc == MOTAN_OK ? outcome(a) : MOTAN_EREMOTE; /* else answered 500 */
        pthread_mutex_lock(&h->mu);
        if (!h->alive) {
            pthread_mutex_unlock(&h->mu);
            reply_free(r); /* the server is gone */
            return rc;
        }
        r->inext = NULL;
        r->queued = 1;
        if (h->tail)
            h->tail->inext = r;
        else
            h->head = r;
        h->tail = r;
        int wake = !h->wake_pending;
        h->wake_pending = 1;
        pthread_mutex_unlock(&h->mu);
        if (wake) {
            uint64_t one = 1;
            (void)!write(h->wake_fd, &one, sizeof(one));
        }
        return rc;
    }
    motan__sconn *c = r->conn;
    r->fcode = c ? outcome(a) : MOTAN_ECONNECT; /* answer_on corrects a failed encoding */
    if (c && r->seg) {
        r->seg->open = 0; /* a stream finished by another call ends where it is */
    } else if (c && a->kind == A_HEARTBEAT) {
        motan__reply_default_heartbeat(c->srv, c, r->id, r->java_hb);
    } else if (c && a->kind != A_NONE) {
        rc = answer_on(c, r, a, 1);
    }
    motan__reply_recycle(r);
    return rc;
}

void motan__reply_builtin_error(motan_reply *r, int64_t code, int type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    answer a = {.kind = A_ERROR, .code = code, .type = type, .msg = msg,
                .msglen = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n};
    finish(r, &a);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    motan_reply *r = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    r->timer_set = 0;
    motan__sconn *c = r->conn;
    if (!c || r->seg)
        return;
    motan_server *s = c->srv;
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "request timed out after %lld ms (deadline from %s)",
                     (long long)r->timeout_ms,
                     s->client_deadline && motan_frame_meta_get(r->req.frame, "M_tmo", 5, NULL)
                         ? "M_tmo"
                         : "requestTimeout");
    answer a = {.kind = A_ERROR, .code = 10003, .type = 1, .msg = msg, .msglen = (size_t)n};
    answer_on(c, r, &a, 0);
    atomic_fetch_add(&s->st_timeouts, 1);
    if (r->fc) { /* the answer the client gets: the end for the filters */
        r->fcode = MOTAN_ETIMEOUT;
        motan__srv_filter_end(r);
    }
    /* Answered: the handler still finishes it, which then only frees it. */
    detach(r);
    motan__sconn_update(c);
    motan__srv_drain_check(s);
}

/* ---- the public calls ------------------------------------------------------------------------ */

MOTAN_EXPORT const motan_server_request *motan_reply_request(const motan_reply *r)
{
    return r ? &r->req : NULL;
}

MOTAN_EXPORT motan_arena *motan_reply_arena(motan_reply *r) { return r ? r->arena : NULL; }

MOTAN_EXPORT int64_t motan_reply_remaining_ms(const motan_reply *r)
{
    if (!r || !r->deadline_us)
        return -1;
    uint64_t now = motan_now_us();
    return r->deadline_us > now ? (int64_t)((r->deadline_us - now) / 1000) : 0;
}

MOTAN_EXPORT int motan_reply_set_meta(motan_reply *r, const char *key, size_t klen,
                                      const char *val, size_t vlen)
{
    if (!r || !key || !klen || (vlen && !val) || memchr(key, '\n', klen) ||
        (vlen && memchr(val, '\n', vlen)))
        return MOTAN_EINVAL;
    if (!vlen)
        return MOTAN_OK; /* as the frame writer: empty values are not sent (§2.3) */
    int rc = motan__buf_ensure(&r->meta, klen + vlen + 2);
    if (rc != MOTAN_OK)
        return rc;
    if (r->meta.len)
        motan__buf_put_u8(&r->meta, '\n');
    motan__buf_put(&r->meta, key, klen);
    motan__buf_put_u8(&r->meta, '\n');
    motan__buf_put(&r->meta, val, vlen);
    if (klen == 4 && !memcmp(key, "M_pt", 4))
        r->has_pt = 1;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_reply_send(motan_reply *r, const motan_value *v)
{
    if (!r)
        return MOTAN_EINVAL;
    if (!v) {
        motan_reply_drop(r);
        return MOTAN_EINVAL;
    }
    answer a = {.kind = A_VALUE, .v = v};
    return finish(r, &a);
}

MOTAN_EXPORT int motan_reply_send_raw(motan_reply *r, int serialization, int status,
                                      const void *body, size_t len)
{
    if (!r)
        return MOTAN_EINVAL;
    if (serialization < 0 || serialization > 31 || status < 0 || status > 7 || (len && !body)) {
        motan_reply_drop(r);
        return MOTAN_EINVAL;
    }
    answer a = {.kind = A_RAW, .ser = serialization, .status = status, .body = body, .len = len};
    return finish(r, &a);
}

MOTAN_EXPORT int motan_reply_error(motan_reply *r, int64_t errcode, int errtype, const char *msg,
                                   size_t len)
{
    if (!r)
        return MOTAN_EINVAL;
    answer a = {.kind = A_ERROR, .code = errcode, .type = errtype, .msg = msg ? msg : "",
                .msglen = msg ? len : 0};
    return finish(r, &a);
}

MOTAN_EXPORT void motan_reply_drop(motan_reply *r)
{
    static const char msg[] = "request dropped by the handler";
    if (r)
        motan_reply_error(r, 500, 1, msg, sizeof(msg) - 1);
}

MOTAN_EXPORT void motan_reply_discard(motan_reply *r)
{
    answer a = {.kind = A_NONE};
    if (r)
        finish(r, &a);
}

MOTAN_EXPORT int motan_reply_heartbeat(motan_reply *r)
{
    if (!r)
        return MOTAN_EINVAL;
    if (!r->heartbeat) {
        static const char msg[] = "not a heartbeat request";
        motan_reply_error(r, 500, 1, msg, sizeof(msg) - 1);
        return MOTAN_EINVAL;
    }
    answer a = {.kind = A_HEARTBEAT};
    return finish(r, &a);
}

MOTAN_EXPORT int motan_reply_write(motan_reply *r, const void *data, size_t len)
{
    if (!r || (len && !data) || !on_loop_thread(r->hub))
        return MOTAN_EINVAL;
    motan__sconn *c = r->conn;
    if (!c)
        return MOTAN_ECLOSED; /* nobody to write to; still end the reply */
    if (!r->seg) {
        cancel_timer(r); /* the stream is the answer now */
        if (!(r->seg = motan__sconn_open_seg(c)))
            return MOTAN_ENOMEM;
    }
    int rc = motan_buf_append(&r->seg->buf, data, len);
    if (rc == MOTAN_OK)
        motan__sconn_added(c, len);
    return rc;
}

MOTAN_EXPORT int motan_reply_end(motan_reply *r)
{
    if (!r || !on_loop_thread(r->hub))
        return MOTAN_EINVAL;
    motan__sconn *c = r->conn;
    if (r->seg) {
        r->seg->open = 0;
        r->seg = NULL;
        motan__sconn_added(c, 0);
    }
    r->fcode = c ? MOTAN_OK : MOTAN_ECONNECT; /* a stream: its bytes were the answer */
    motan__reply_recycle(r);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_reply_close(motan_reply *r, int reset)
{
    if (!r || !on_loop_thread(r->hub))
        return MOTAN_EINVAL;
    if (r->conn)
        motan__sconn_close_after_flush(r->conn, reset); /* detaches r as well */
    r->fcode = MOTAN_ECONNECT;
    motan__reply_recycle(r);
    return MOTAN_OK;
}

MOTAN_EXPORT size_t motan_reply_backlog(const motan_reply *r)
{
    return r && r->conn && on_loop_thread(r->hub) ? r->conn->unsent : 0;
}

/* ---- arguments --------------------------------------------------------------------------- */

int motan__reply_decode(motan_reply *r)
{
    motan_server_request *q = &r->req;
    if (q->args_state)
        return q->args_rc;
    size_t len;
    const uint8_t *body = motan_frame_body(q->frame, &len);
    motan_value *args = NULL;
    q->args_err[0] = '\0';
    /* The decoded-size budget (maxDecodedSize): what the values of this body may take. */
    size_t used = motan_arena_used(r->arena);
    motan_arena_set_limit(r->arena, r->max_decoded > SIZE_MAX - used ? 0 : used + r->max_decoded);
    q->args_rc = motan_deserialize_args(r->ser, body, len, r->arena, &args, q->args_err,
                                        sizeof(q->args_err));
    motan_arena_set_limit(r->arena, 0);
    if (q->args_rc != MOTAN_OK && !q->args_err[0])
        snprintf(q->args_err, sizeof(q->args_err), "%s", motan_strerror(q->args_rc));
    q->args = args;
    q->args_state = 1;
    return q->args_rc;
}
