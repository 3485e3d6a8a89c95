/*
 * One multiplexed connection of an endpoint.
 *
 * Writing: calls wait in `unsent` and are encoded into the output evbuffer only while it
 * holds less than OUT_HIGH_WATER bytes, so a server that stops reading makes calls time
 * out in the queue (and leave it) instead of growing memory without bound. Everything
 * queued during one loop iteration goes out in one writev.
 *
 * Reading: bytes land in one linear buffer and frames are parsed in place; a response body
 * is copied once, when it is decoded into the response's arena.
 *
 * Connecting: a host name is resolved on the loop (the loop's evdns, never a blocking
 * getaddrinfo: one slow name must not stall the other connections), then every address it
 * resolved to is tried in turn, each within connectTimeout.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "transport/transport_int.h"

#define OUT_HIGH_WATER (256 * 1024)
#define READ_CHUNK (256 * 1024)
/* A partial frame from which on the next read takes just its rest (see do_read). */
#define READ_REST_MIN (32 * 1024)
#define READS_PER_EVENT 8
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Calls in flight on a connection up to which a new call is written at once (write_now). */
#define EAGER_PENDING 8
/* An input buffer grown past this by a large frame is given back once it is empty. */
#define IN_KEEP_MAX (1024 * 1024)
/* Frames from which on a response may keep views into the input memory. */
#define HOLD_MIN (32 * 1024)
/* Referenced (not copied) pieces of one encoded request. */
#define MAX_REFS 8

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_flush(evutil_socket_t fd, short what, void *arg);

int motan__conn_init(motan__conn *c, motan_endpoint *ep)
{
    struct event_base *base = motan_loop_get_base(ep->loop);
    c->ep = ep;
    c->fd = -1;
    c->state = CONN_IDLE;
    c->out = evbuffer_new();
    c->in = motan_buf_new(0); /* grown on the first read: an idle node costs no buffer */
    if (!c->out || !c->in)
        return MOTAN_ENOMEM;
    event_assign(&c->flush_ev, base, -1, 0, on_flush, c);
    event_assign(&c->cev, base, -1, 0, on_timer, c);
    c->events_ready = 1;
    return MOTAN_OK;
}

/*
 * 1 when the connection alone owns its input memory again: no block, or a block that no
 * response holds any more (it leaves the memory to the connection).
 */
static int in_own(motan__conn *c)
{
    motan__inblk *b = c->in_blk;
    if (!b)
        return 1;
    if (atomic_load_explicit(&b->refs, memory_order_acquire) != 1)
        return 0;
    b->data = NULL; /* the views are gone: the memory is the connection's again */
    b->cap = 0;
    c->in_blk = NULL;
    motan__inblk_release(b);
    return 1;
}

/*
 * Responses hold views into the input memory, which has no room left: the unparsed bytes
 * move to the spare memory (grown to want more), the shared block is left to its holders.
 */
static int in_unshare(motan__conn *c, size_t want)
{
    size_t have = c->in->len - c->in_off;
    size_t cap = have + want < READ_CHUNK ? READ_CHUNK : have + want;
    if (c->spare_cap < cap) {
        uint8_t *p = motan_realloc(c->spare, cap);
        if (!p)
            return MOTAN_ENOMEM;
        c->spare = p;
        c->spare_cap = cap;
    }
    if (have)
        memcpy(c->spare, c->in->data + c->in_off, have);
    c->in->data = c->spare;
    c->in->cap = c->spare_cap;
    c->in->len = have;
    c->in_off = 0;
    c->spare = NULL;
    c->spare_cap = 0;
    motan__inblk *b = c->in_blk;
    c->in_blk = NULL;
    motan__inblk_release(b);
    return MOTAN_OK;
}

/* Gives up the input memory (and the spare): freed, or left to the responses holding it. */
static void in_free(motan__conn *c)
{
    if (!in_own(c)) {
        motan__inblk *b = c->in_blk;
        c->in_blk = NULL;
        motan__inblk_release(b);
    } else {
        motan_free(c->in->data);
    }
    c->in->data = NULL;
    c->in->cap = c->in->len = 0;
    c->in_off = 0;
    motan_free(c->spare);
    c->spare = NULL;
    c->spare_cap = 0;
    c->frame_at = NULL;
}

/* Empty input: do not keep a large frame's buffer (any buffer once closed) for long. */
static void shrink_input(motan__conn *c, size_t keep)
{
    if (c->in->len == 0 && c->in->cap > keep)
        in_free(c);
}

int motan__conn_hold_frame(motan__conn *c, motan__frame_hold *h)
{
    /* A response keeps the whole memory alive: only frames big next to it may pin it. */
    if (!c->frame_at || c->frame_len < HOLD_MIN || c->frame_len < c->in->cap / 8)
        return 0;
    if (!c->in_blk) {
        motan__inblk *b = motan__inblk_get();
        if (!b)
            return 0;
        if (b->data && !c->spare) { /* a pooled block's memory becomes the spare */
            c->spare = b->data;
            c->spare_cap = b->cap;
        } else {
            motan_free(b->data);
        }
        b->data = c->in->data;
        b->cap = c->in->cap;
        c->in_blk = b;
    }
    atomic_fetch_add_explicit(&c->in_blk->refs, 1, memory_order_relaxed);
    h->release = motan__inblk_release;
    h->ctx = c->in_blk;
    h->lo = c->frame_at;
    h->hi = c->frame_at + c->frame_len;
    return 1;
}

/* Closes the socket of the address being tried (the connection attempt may go on). */
static void close_fd(motan__conn *c)
{
    if (c->fd >= 0) {
        event_del(&c->rev);
        event_del(&c->wev);
        close(c->fd);
        c->fd = -1;
    }
}

/* Ends a resolution or connection attempt in progress: no callback of it runs afterwards. */
static void stop_connecting(motan__conn *c)
{
    c->resolving = 0;
    if (c->dns_req) {
        struct evdns_getaddrinfo_request *r = c->dns_req;
        c->dns_req = NULL;
        evdns_getaddrinfo_cancel(r); /* its callback runs now, with EVUTIL_EAI_CANCEL */
    }
    if (c->addrs) {
        evutil_freeaddrinfo(c->addrs);
        c->addrs = c->next_addr = NULL;
    }
}

static void close_socket(motan__conn *c)
{
    stop_connecting(c);
    close_fd(c);
    motan__budget_put(c);
    event_del(&c->cev);
    event_del(&c->flush_ev);
    c->flush_scheduled = 0;
    c->out_lost = 0;
    c->state = CONN_IDLE;
    c->generation++;
    in_free(c);
    c->need = 0;
    c->frame_since_us = 0;
    evbuffer_drain(c->out, evbuffer_get_length(c->out));
}

void motan__conn_destroy(motan__conn *c)
{
    /* A connection whose setup failed half way still owns what it got. */
    if (c->events_ready)
        close_socket(c);
    if (c->out)
        evbuffer_free(c->out);
    if (c->in)
        in_free(c);
    motan_buf_free(c->in);
    c->out = NULL;
    c->in = NULL;
    c->events_ready = 0;
}

static void schedule_reconnect(motan__conn *c)
{
    motan_endpoint *ep = c->ep;
    if (ep->closing)
        return;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    c->retry_at_us = motan_now_us() + (uint64_t)c->backoff_ms * 1000u;
    if (!motan__budget_eager(ep))
        return; /* thousands of nodes: the next call that picks c reconnects it */
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    event_add(&c->cev, &tv);
}

void motan__conn_fail(motan__conn *c, int code, const char *msg)
{
    motan_endpoint *ep = c->ep;
    int was_connected = c->state == CONN_CONNECTED;
    close_socket(c);
    if (code != MOTAN_ECANCELLED)
        motan__endpoint_set_error(ep, "%s", msg);
    if (!was_connected)
        atomic_fetch_add(&ep->st_conn_failures, 1);
    /*
     * Fail calls one at a time from the live lists: a callback may free the endpoint (which
     * cancels what is left) or start new calls, which must not land on this connection.
     */
    c->failing = 1;
    /* One lost connection is one failure for health, however many calls it takes along. */
    int had_calls = c->sent_head || c->unsent_head;
    ep->health_paused++;
    motan__call *call;
    while (!ep->closing && ((call = c->sent_head) || (call = c->unsent_head))) {
        if (call->req)
            motan__call_fail(call, code, "%s (calling %s.%s on %s)", msg, motan__call_service(call),
                             motan_request_get_method(call->req), ep->address);
        else
            motan__call_fail(call, code, "%s (heartbeat to %s)", msg, ep->address);
    }
    ep->health_paused--;
    c->failing = 0;
    if (had_calls && !ep->closing)
        motan__health_record(ep, code, -1);
    schedule_reconnect(c);
}

static void connected(motan__conn *c)
{
    stop_connecting(c); /* the other addresses are not needed */
    c->state = CONN_CONNECTED;
    c->connected_us = motan_now_us();
    c->ep->last_error[0] = '\0';
    c->backoff_ms = 0;
    c->retry_at_us = 0;
    event_del(&c->cev);
    event_del(&c->wev);
    event_add(&c->rev, NULL);
    atomic_fetch_add(&c->ep->st_connects, 1);
    if (c->unsent_head && !c->flush_scheduled) {
        c->flush_scheduled = 1;
        event_active(&c->flush_ev, EV_TIMEOUT, 1);
    }
    if (!c->pending)
        motan__budget_set_idle(c, 1);
}

void motan__conn_close_idle(motan__conn *c)
{
    close_socket(c);
    c->backoff_ms = 0;
    c->retry_at_us = 0;
    atomic_fetch_add(&c->ep->st_idle_closed, 1);
}

static void arm_connect_timer(motan__conn *c)
{
    int ms = c->ep->connect_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&c->cev, &tv);
}

/* A socket is connecting (or connected) to the address being tried. */
static void use_fd(motan__conn *c, int fd, int in_progress)
{
    struct event_base *base = motan_loop_get_base(c->ep->loop);
    c->fd = fd;
    event_assign(&c->rev, base, fd, EV_READ | EV_PERSIST, on_io, c);
    event_assign(&c->wev, base, fd, EV_WRITE | EV_PERSIST, on_io, c);
    if (!in_progress) {
        connected(c);
        return;
    }
    event_add(&c->wev, NULL);
    arm_connect_timer(c);
}

/* Tries the next resolved address; when none is left the attempt has failed. */
static void try_next_address(motan__conn *c)
{
    motan_endpoint *ep = c->ep;
    while (c->next_addr) {
        struct evutil_addrinfo *ai = c->next_addr;
        c->next_addr = ai->ai_next;
        c->tried++;
        int in_progress = 0;
        int fd = motan__sock_connect_addr(ai->ai_addr, (unsigned)ai->ai_addrlen, &in_progress);
        if (fd >= 0) {
            use_fd(c, fd, in_progress);
            return;
        }
        int err = errno;
        char ip[64];
        motan__sock_addr_text(ai, ip, sizeof(ip));
        snprintf(c->last_err, sizeof(c->last_err), "%s: %s", ip, strerror(err));
    }
    char msg[256];
    if (c->tried > 1)
        snprintf(msg, sizeof(msg), "cannot connect to any of the %d addresses of %s (last %s)",
                 c->tried, ep->host, c->last_err);
    else
        snprintf(msg, sizeof(msg), "cannot connect (%s)", c->last_err);
    motan__conn_fail(c, MOTAN_ECONNECT, msg);
}

/* The address being tried failed (refused, timed out): on to the next one. */
static void address_failed(motan__conn *c, const char *why)
{
    char ip[64] = "?";
    /* The address just tried is the one before next_addr. */
    for (struct evutil_addrinfo *ai = c->addrs; ai; ai = ai->ai_next)
        if (ai->ai_next == c->next_addr) {
            motan__sock_addr_text(ai, ip, sizeof(ip));
            break;
        }
    snprintf(c->last_err, sizeof(c->last_err), "%s: %s", ip, why);
    close_fd(c);
    event_del(&c->cev);
    try_next_address(c);
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    motan__conn *c = arg;
    if (result == EVUTIL_EAI_CANCEL) { /* stop_connecting: the connection is not waiting */
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    motan_endpoint *ep = c->ep;
    c->dns_req = NULL;
    c->resolving = 0;
    motan__endpoint_hold(ep);
    if (result != 0 || !res) {
        if (res)
            evutil_freeaddrinfo(res);
        char msg[256];
        snprintf(msg, sizeof(msg), "cannot resolve %s: %s", ep->host,
                 result ? evutil_gai_strerror(result) : "no address");
        motan__conn_fail(c, MOTAN_ECONNECT, msg);
    } else {
        event_del(&c->cev);
        c->addrs = c->next_addr = res;
        try_next_address(c);
    }
    motan__endpoint_release(ep);
}

int motan__conn_connect(motan__conn *c, int may_evict)
{
    motan_endpoint *ep = c->ep;
    if (c->state != CONN_IDLE || ep->closing)
        return MOTAN_OK;
    event_del(&c->cev);
    if (!motan__budget_take(c, may_evict)) {
        /* Not a failure of the server: no backoff, the next call that needs c tries again. */
        motan__endpoint_set_error(ep, "the client's connectionBudget of %zu sockets is in use, "
                                      "none of them idle", ep->conn_budget);
        c->retry_at_us = 0;
        return MOTAN_EBUSY;
    }
    c->state = CONN_CONNECTING;
    c->tried = 0;
    c->last_err[0] = '\0';
    if (ep->is_unix) {
        int in_progress = 0;
        int fd = motan__sock_connect_unix(ep->host, &in_progress);
        if (fd < 0) { /* conn_fail gives the budget back */
            char msg[160];
            snprintf(msg, sizeof(msg), "cannot connect: %s", strerror(errno));
            motan__conn_fail(c, MOTAN_ECONNECT, msg);
            return MOTAN_ECONNECT;
        }
        use_fd(c, fd, in_progress);
        return MOTAN_OK;
    }
    char port[16];
    struct evutil_addrinfo hints, *res = motan__sock_numeric(ep->host, ep->port, &hints, port);
    /* An address needs no resolver (and no resolver is made for it). */
    if (res) {
        c->addrs = c->next_addr = res;
        try_next_address(c);
        return c->state == CONN_IDLE ? MOTAN_ECONNECT : MOTAN_OK;
    }
    struct evdns_base *dns = motan_loop_get_dns(ep->loop);
    if (!dns) {
        motan__conn_fail(c, MOTAN_ECONNECT, "cannot resolve host names: no resolver (evdns)");
        return MOTAN_ECONNECT;
    }
    c->resolving = 1;
    arm_connect_timer(c); /* resolving counts against connectTimeout */
    struct evdns_getaddrinfo_request *r = evdns_getaddrinfo(dns, ep->host, port, &hints, resolved, c);
    if (c->resolving) /* not answered at once (from /etc/hosts, or a failure) */
        c->dns_req = r;
    return MOTAN_OK;
}

static int send_out(motan__conn *c);
static int encode_one(motan__conn *c, motan__call *call, char *err, size_t errlen);
static int encode_call(motan__conn *c, motan__call *call, motan_encode_ref *refs, size_t *nrefs,
                       motan_request_hold **hold, char *err, size_t errlen);
static int add_frame(motan__conn *c, const motan_encode_ref *refs, size_t nrefs,
                     motan_request_hold *hold);
static void mark_sent(motan__conn *c, motan__call *call);

/*
 * With few calls in flight on a connection a call is written at once instead of at the end
 * of the loop iteration: the server starts on it while later calls are still being made, so
 * client and server work side by side instead of taking turns with batches (the lag at 8 in
 * flight). With many in flight, batching one write per iteration costs fewer syscalls, and
 * the server has enough queued to stay busy. 1 when call went out (or is in out with the
 * write event armed); 0: leave it to the flush, which also reports any failure (a failure
 * must not complete a call inside the function that made it).
 */
static int write_now(motan__conn *c, motan__call *call)
{
    char err[256];
    motan_encode_ref refs[MAX_REFS];
    size_t nrefs = 0;
    motan_request_hold *hold = NULL;
    if (c->unsent_head != call || call->next || evbuffer_get_length(c->out) != 0 ||
        encode_call(c, call, refs, &nrefs, &hold, err, sizeof(err)) != MOTAN_OK)
        return 0;
    if (nrefs) { /* the referenced bytes go through out, which holds them until written */
        if (add_frame(c, refs, nrefs, hold) != MOTAN_OK)
            return 0;
        mark_sent(c, call);
        int n = send_out(c);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return 0; /* the flush writes again and fails the connection */
        if (evbuffer_get_length(c->out) > 0)
            event_add(&c->wev, NULL);
        return 1;
    }
    /* Small frames straight from scratch: no output chain made, peeked and freed per call. */
    const uint8_t *p = motan_buf_data(c->ep->scratch);
    size_t len = motan_buf_len(c->ep->scratch);
    ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
    if (w < 0)
        return 0; /* nothing went: the call stays queued, the flush encodes it again */
    mark_sent(c, call);
    if ((size_t)w == len)
        return 1;
    if (evbuffer_add(c->out, p + w, len - (size_t)w) != 0) {
        c->out_lost = 1; /* half a frame on the wire: the connection is lost, at the flush */
        return 0;
    }
    event_add(&c->wev, NULL);
    return 1;
}

void motan__conn_enqueue(motan__conn *c, motan__call *call)
{
    call->conn = c;
    call->state = CALL_QUEUED;
    call->waited_connect = c->state != CONN_CONNECTED;
    motan__calls_push(&c->unsent_head, &c->unsent_tail, call);
    if (c->pending++ == 0)
        motan__budget_set_idle(c, 0);
    if (c->state == CONN_CONNECTED && !c->flush_scheduled) {
        if (c->pending <= EAGER_PENDING && write_now(c, call))
            return;
        c->flush_scheduled = 1;
        event_active(&c->flush_ev, EV_TIMEOUT, 1);
    }
}

void motan__conn_unlink(motan__conn *c, motan__call *call)
{
    if (call->state == CALL_QUEUED)
        motan__calls_remove(&c->unsent_head, &c->unsent_tail, call);
    else if (call->state == CALL_SENT)
        motan__calls_remove(&c->sent_head, &c->sent_tail, call);
    if (--c->pending == 0 && c->state == CONN_CONNECTED)
        motan__budget_set_idle(c, 1);
    call->conn = NULL;
}

/*
 * A request against maxContentLength, as the server will check it (metadata, body as sent,
 * body gunzipped): a frame over it would only make the server close the connection, failing
 * every other call on it. encoded: the frame is in ep->scratch (else only the body is known).
 */
static int check_size(const motan_endpoint *ep, const motan__call *call, int encoded,
                      char *err, size_t len)
{
    const motan_request *req = call->req;
    size_t meta = 0, body = 0, plain = 0;
    motan_request_body(req, &plain);
    if (encoded) { /* motan2 header: metadata size at 13, metadata from 17, then the body size */
        const uint8_t *f = motan_buf_data(ep->scratch);
        meta = motan__get_u32be(f + 13);
        body = motan__get_u32be(f + 17 + meta);
    }
    size_t worst = meta > body ? meta : body;
    if (plain > worst)
        worst = plain;
    if (worst <= ep->max_content)
        return MOTAN_OK;
    return motan__errf(err, len, MOTAN_ETOOBIG,
                       "request %s.%s not sent: its %s of %zu bytes is over maxContentLength (%zu) "
                       "of %s", motan__call_service(call), motan_request_get_method(req),
                       worst == meta ? "metadata" : "body", worst, ep->max_content, ep->address);
}

/*
 * Encodes the first queued call into the output buffer. MOTAN_OK: it moved to the sent list;
 * else it is still queued and err says why (the caller fails it, or leaves that to a flush).
 */
static void release_ref(const void *data, size_t len, void *hold)
{
    MOTAN_UNUSED(data);
    MOTAN_UNUSED(len);
    motan_request_hold_release(hold);
}

/*
 * evbuffer_add behind a reference chain sizes its new chain after that chain, not after the
 * bytes added: behind a 64 KiB bytes value a 128 KiB malloc a call, which glibc serves with
 * mmap and munmap while its threshold is still low (at 8 in flight the server then waited on
 * the client: 0.47-0.59 of the floor). A chain the piece's size is made first; nothing is
 * added for an empty piece.
 */
static int out_add(struct evbuffer *b, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    return evbuffer_expand(b, n) == 0 && evbuffer_add(b, p, n) == 0 ? 0 : -1;
}

/*
 * The encoded frame into out: scratch's bytes with the referenced ones in between, added by
 * reference (each released once written or dropped). All or nothing: a frame is built
 * apart first, so that a failure leaves no half frame in out.
 */
static int add_frame(motan__conn *c, const motan_encode_ref *refs, size_t nrefs,
                     motan_request_hold *hold)
{
    motan_endpoint *ep = c->ep;
    const uint8_t *p = motan_buf_data(ep->scratch);
    size_t len = motan_buf_len(ep->scratch);
    if (!nrefs) /* out may end with an earlier frame's reference */
        return out_add(c->out, p, len) == 0 ? MOTAN_OK : MOTAN_ENOMEM;
    size_t pos = 0, added = 0;
    int ok = ep->zscratch || (ep->zscratch = evbuffer_new());
    while (ok && added < nrefs) {
        const motan_encode_ref *r = &refs[added];
        ok = out_add(ep->zscratch, p + pos, r->offset - pos) == 0 &&
             evbuffer_add_reference(ep->zscratch, r->data, r->len, release_ref, hold) == 0;
        if (ok)
            added++;
        pos = r->offset;
    }
    ok = ok && out_add(ep->zscratch, p + pos, len - pos) == 0 &&
         evbuffer_add_buffer(c->out, ep->zscratch) == 0;
    if (!ok) {
        for (size_t k = added; k < nrefs; k++) /* never added (the others: by the drain) */
            motan_request_hold_release(hold);
        if (ep->zscratch)
            evbuffer_drain(ep->zscratch, evbuffer_get_length(ep->zscratch));
        return MOTAN_ENOMEM;
    }
    return MOTAN_OK;
}

/* The frame of call into ep->scratch (references listed in refs), checked against the limit. */
static int encode_call(motan__conn *c, motan__call *call, motan_encode_ref *refs, size_t *nrefs,
                       motan_request_hold **hold, char *err, size_t errlen)
{
    motan_endpoint *ep = c->ep;
    motan_buf_reset(ep->scratch);
    *nrefs = 0;
    *hold = NULL;
    /* An oversized body is refused before it is encoded, the metadata once it is. */
    err[0] = '\0';
    int rc = call->req ? check_size(ep, call, 0, err, errlen) : MOTAN_OK;
    if (rc == MOTAN_OK && call->req)
        rc = motan__call_encode(call, ep->scratch, refs, MAX_REFS, nrefs, hold, err, errlen);
    else if (rc == MOTAN_OK)
        rc = motan_frame_write_heartbeat(ep->scratch, call->id, 0);
    if (rc == MOTAN_OK && call->req)
        rc = check_size(ep, call, 1, err, errlen);
    if (rc != MOTAN_OK) {
        for (size_t k = 0; k < *nrefs; k++)
            motan_request_hold_release(*hold);
        *nrefs = 0;
    }
    return rc;
}

static void mark_sent(motan__conn *c, motan__call *call)
{
    motan__calls_remove(&c->unsent_head, &c->unsent_tail, call);
    motan__calls_push(&c->sent_head, &c->sent_tail, call);
    call->state = CALL_SENT;
    if (MOTAN_UNLIKELY(call->flags & MOTAN_CALL_PHASES))
        call->t_sent = motan_now_us();
}

static int encode_one(motan__conn *c, motan__call *call, char *err, size_t errlen)
{
    motan_encode_ref refs[MAX_REFS];
    size_t nrefs;
    motan_request_hold *hold;
    int rc = encode_call(c, call, refs, &nrefs, &hold, err, errlen);
    if (rc == MOTAN_OK)
        rc = add_frame(c, refs, nrefs, hold);
    if (rc == MOTAN_OK)
        mark_sent(c, call);
    return rc;
}

/* Encodes queued calls into the output buffer, up to the high-water mark. */
static void encode_queued(motan__conn *c)
{
    motan_endpoint *ep = c->ep;
    uint64_t gen = c->generation;
    char err[256];
    while (c->unsent_head && evbuffer_get_length(c->out) < OUT_HIGH_WATER) {
        motan__call *call = c->unsent_head;
        int rc = encode_one(c, call, err, sizeof(err));
        if (rc == MOTAN_OK)
            continue;
        if (rc == MOTAN_ETOOBIG)
            motan__call_fail(call, rc, "%s", err);
        else
            motan__call_fail(call, rc, "cannot encode the request (calling %s.%s on %s): %s",
                             motan__call_service(call), motan_request_get_method(call->req),
                             ep->address, err[0] ? err : motan_strerror(rc));
        if (ep->closing || gen != c->generation)
            return;
    }
}

/* writev without SIGPIPE: a peer that went away must not kill the caller's process. */
static int send_out(motan__conn *c)
{
    struct evbuffer_iovec vec[64];
    int n = evbuffer_peek(c->out, -1, NULL, vec, 64);
    if (n > 64)
        n = 64;
    struct iovec iov[64];
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = vec[i].iov_base;
        iov[i].iov_len = vec[i].iov_len;
    }
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (w > 0)
        evbuffer_drain(c->out, (size_t)w);
    return (int)w;
}

static void do_write(motan__conn *c)
{
    motan_endpoint *ep = c->ep;
    uint64_t gen = c->generation;
    if (MOTAN_UNLIKELY(c->out_lost)) {
        motan__conn_fail(c, MOTAN_ENOMEM, "out of memory for the rest of a request being written");
        return;
    }
    encode_queued(c);
    if (ep->closing || gen != c->generation || c->state != CONN_CONNECTED)
        return;
    while (evbuffer_get_length(c->out) > 0) {
        int n = send_out(c);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            char msg[160];
            snprintf(msg, sizeof(msg), "write failed: %s", strerror(errno));
            motan__conn_fail(c, MOTAN_ECONNECT, msg);
            return;
        }
        if (evbuffer_get_length(c->out) < OUT_HIGH_WATER && c->unsent_head) {
            encode_queued(c);
            if (ep->closing || gen != c->generation)
                return;
        }
        if (n == 0)
            break;
    }
    if (evbuffer_get_length(c->out) > 0 || c->unsent_head)
        event_add(&c->wev, NULL);
    else
        event_del(&c->wev);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    motan__conn *c = arg;
    motan_endpoint *ep = c->ep;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    c->flush_scheduled = 0;
    if (c->state != CONN_CONNECTED)
        return;
    motan__endpoint_hold(ep);
    do_write(c);
    motan__endpoint_release(ep);
}

void motan__conn_consumed(motan__conn *c, size_t pos)
{
    /*
     * The partial frame stays where it is (moving it to the front after every read copied
     * about one big frame per big frame); do_read compacts only when the room runs out.
     * need was measured from that frame's start (the parser saw data + pos): it stays.
     */
    c->in_off += pos;
    if (c->in_off == c->in->len && in_own(c)) /* else responses still read the memory */
        c->in->len = c->in_off = 0;
}

/*
 * Parses every whole frame in the input buffer, counting them into *frames; returns 0 when
 * the connection went away.
 */
static int parse_frames(motan__conn *c, int *frames)
{
    motan_endpoint *ep = c->ep;
    uint64_t gen = c->generation;
    const uint8_t *data = motan_buf_data(c->in) + c->in_off;
    size_t len = motan_buf_len(c->in) - c->in_off, pos = 0;
    char err[256];
    while (pos < len) {
        size_t used = 0;
        err[0] = '\0';
        int rc = motan_frame_parse(ep->frame, data + pos, len - pos, ep->max_content, &used, err,
                                   sizeof(err));
        if (rc == MOTAN_EAGAIN) {
            c->need = used;
            break;
        }
        if (rc != MOTAN_OK) {
            char msg[320];
            snprintf(msg, sizeof(msg), "bad frame from server: %s", err[0] ? err : motan_strerror(rc));
            motan__conn_fail(c, rc, msg);
            return 0;
        }
        c->frame_at = data + pos;
        c->frame_len = used;
        pos += used;
        c->need = 0;
        motan__endpoint_on_frame(ep, c, ep->frame);
        ++*frames;
        c->frame_at = NULL;
        if (ep->closing || gen != c->generation)
            return 0;
    }
    motan__conn_consumed(c, pos);
    if (c->in->len == c->in_off) { /* no partial frame (the memory may still be lent) */
        c->frame_since_us = 0;
        shrink_input(c, IN_KEEP_MAX);
    } else if (pos || !c->frame_since_us) {
        c->frame_since_us = motan__now_coarse_us();
    }
    return 1;
}

/*
 * A server that stops in the middle of a frame (or never ends one) blocks every later answer
 * on the connection, heartbeats included, for good. When a call times out while a frame has
 * been arriving for at least that call's whole timeout, and no call still waits for that
 * frame (its own call timed out or was cancelled), nothing can arrive any more: close.
 */
void motan__conn_check_stall(motan__conn *c, int timeout_ms)
{
    motan_endpoint *ep = c->ep;
    if (c->state != CONN_CONNECTED || c->failing || !c->frame_since_us || ep->closing)
        return;
    uint64_t now = motan__now_coarse_us();
    if (now < c->frame_since_us || now - c->frame_since_us < (uint64_t)timeout_ms * 1000u)
        return;
    if (c->in->len - c->in_off >= 13) { /* the header up to the request id is in */
        motan__call *owner =
            motan__idmap_get(&ep->calls, motan__get_u64be(c->in->data + c->in_off + 5));
        if (owner && owner->conn == c && owner->state == CALL_SENT)
            return;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "connection closed: a response has been arriving for %llu ms "
                               "that no call waits for",
             (unsigned long long)((now - c->frame_since_us) / 1000));
    motan__conn_fail(c, MOTAN_ECONNECT, msg);
}

/*
 * Reads until the socket is drained, at most READS_PER_EVENT times. A read that brought
 * several answers is followed by another one even when it did not fill the room: the calls
 * their callbacks made went out at once (write_now), and while they were being made the
 * server has usually answered the first of them, so reading again costs one read where going
 * back to the loop costs an epoll_wait and a timerfd_settime first (at 8 in flight epoll_waits
 * fell from 0.16 to 0.03 a call). Not while a flush is due: queued calls go out first. One
 * answer a read (one call in flight) leaves it to the loop: the next answer is a round trip
 * away and the read would find nothing.
 *
 * A big partial frame (READ_REST_MIN) whose rest fits behind it is read up to its end only:
 * the frame then ends where the read does and the emptied buffer starts again at the front.
 * Reading on past it ended most reads inside the next big frame, which then moved to the
 * front: at 8 in flight with 64 KiB answers, 3 to 8 KiB copied a call.
 */
static void do_read(motan__conn *c)
{
    motan_endpoint *ep = c->ep;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        if (c->in_blk && c->in_off == c->in->len && in_own(c))
            c->in->len = c->in_off = 0; /* the views are gone: read into the hot start again */
        size_t have = c->in->len - c->in_off, rest = c->need > have ? c->need - have : 0, limit;
        if (c->need >= READ_REST_MIN && rest && c->in->cap - c->in->len >= rest) {
            limit = rest; /* behind views held in the memory too: they are all in front */
        } else {
            size_t want = rest > READ_CHUNK ? rest : READ_CHUNK;
            if (c->in->cap - c->in->len < want && !in_own(c)) {
                if (in_unshare(c, want) != MOTAN_OK) {
                    motan__conn_fail(c, MOTAN_ENOMEM, "out of memory for a response");
                    return;
                }
            } else if (c->in_off && c->in->cap - c->in->len < want && have <= c->in->cap / 4) {
                /* Out of room behind the partial frame: it moves to the front now, while it
                 * is small next to the buffer (else the buffer grows: moves stay rare). */
                memmove(c->in->data, c->in->data + c->in_off, have);
                c->in->len = have;
                c->in_off = 0;
            }
            if (motan__buf_ensure(c->in, want) != MOTAN_OK) {
                motan__conn_fail(c, MOTAN_ENOMEM, "out of memory for a response");
                return;
            }
            limit = c->in->cap - c->in->len;
        }
        ssize_t n = read(c->fd, c->in->data + c->in->len, limit);
        if (n > 0) {
            c->in->len += (size_t)n;
            c->read_us = 0; /* new bytes: a new time, taken when a call wants it */
            int frames = 0;
            if (!parse_frames(c, &frames) || ep->closing)
                return;
            if ((size_t)n < limit && (frames < 2 || c->flush_scheduled || !c->sent_head))
                return;
            continue;
        }
        if (n == 0) {
            motan__conn_fail(c, MOTAN_ECONNECT,
                             c->in->len > c->in_off
                                 ? "connection closed by the server inside a frame"
                                 : "connection closed by the server");
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        char msg[160];
        snprintf(msg, sizeof(msg), "read failed: %s", strerror(errno));
        motan__conn_fail(c, MOTAN_ECONNECT, msg);
        return;
    }
}

static void finish_connect(motan__conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        address_failed(c, strerror(err));
        return;
    }
    connected(c);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    motan__conn *c = arg;
    motan_endpoint *ep = c->ep;
    MOTAN_UNUSED(fd);
    motan__endpoint_hold(ep);
    uint64_t gen = c->generation;
    if (c->state == CONN_CONNECTING) {
        if (what & EV_WRITE)
            finish_connect(c);
    } else if (c->state == CONN_CONNECTED) {
        if (what & EV_READ)
            do_read(c);
        if ((what & EV_WRITE) && !ep->closing && gen == c->generation && c->state == CONN_CONNECTED)
            do_write(c);
    }
    motan__endpoint_release(ep);
}

/* Connect timeout while connecting; reconnect time after a failure. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    motan__conn *c = arg;
    motan_endpoint *ep = c->ep;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan__endpoint_hold(ep);
    if (c->state == CONN_CONNECTING && c->resolving) {
        char msg[160];
        snprintf(msg, sizeof(msg), "cannot resolve %s: no answer within %d ms (connectTimeout)",
                 ep->host, ep->connect_timeout_ms);
        motan__conn_fail(c, MOTAN_ECONNECT, msg);
    } else if (c->state == CONN_CONNECTING) {
        char why[64];
        snprintf(why, sizeof(why), "connect timed out after %d ms", ep->connect_timeout_ms);
        address_failed(c, why);
    } else if (c->state == CONN_IDLE) {
        motan__conn_connect(c, 0); /* a reconnect nobody waits for takes no idle one's place */
    }
    motan__endpoint_release(ep);
}
