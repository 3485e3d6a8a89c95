/*
 * Request dispatch: every whole frame at the front of a connection's input is copied into a
 * reply of its own (so the request stays valid however long its handler keeps it), parsed,
 * and handed to its handler. dispatch() is the one place a request meets the server's
 * logic: heartbeats, the drain, the handler lookup, argument decoding, the deadline.
 * Filters (filters.c: observability, the agent) hook in there.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_int.h"
#include "server/server_int.h"

/* Java servers take this request (no heartbeat bit) as a heartbeat too (spec §4.2). */
#define JAVA_HB_SERVICE "com.weibo.api.motan.rpc.heartbeat"
#define MAX_TMO_MS 86400000

/*
 * Every metadata key and value becomes a C string: the byte after each (a '\n', or the
 * first byte of the body size) is in the reply's own copy and no longer needed once parsed.
 */
static void terminate(motan_reply *r)
{
    const motan_frame *f = r->req.frame;
    uint8_t *base = r->copy.data;
    for (size_t i = 0, n = motan_frame_meta_count(f); i < n; i++) {
        size_t kl = 0, vl = 0;
        const char *k = motan_frame_meta_key(f, i, &kl);
        const char *v = motan_frame_meta_value(f, i, &vl);
        base[(const uint8_t *)k - base + kl] = '\0';
        base[(const uint8_t *)v - base + vl] = '\0';
    }
}

/* M_tmo (decimal ms > 0), else -1. */
static int64_t parse_tmo(const char *v, size_t len)
{
    int64_t ms = 0;
    if (!v || !len || len > 12)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        ms = ms * 10 + (v[i] - '0');
    }
    return ms > 0 ? (ms > MAX_TMO_MS ? MAX_TMO_MS : ms) : -1;
}

static void run_handler(motan_reply *r, const motan__shandler *h)
{
    r->state = REPLY_HANDLER;
    h->fn(&r->req, r, h->userdata);
    if (r->state == REPLY_HANDLER)
        motan__reply_park(r); /* kept for later: it stays open, its deadline armed */
}

static void heartbeat(motan_server *s, motan__sconn *c, motan_reply *r, int java)
{
    atomic_fetch_add(&s->st_heartbeats, 1);
    if (!s->heartbeat.fn) {
        motan__reply_default_heartbeat(s, c, r->id, java);
        motan__reply_recycle(r);
        return;
    }
    r->heartbeat = 1;
    r->java_hb = java;
    run_handler(r, &s->heartbeat);
}

static void dispatch(motan_server *s, motan__sconn *c, motan_reply *r)
{
    motan_frame *f = r->req.frame;
    motan_frame_kind kind = motan_frame_get_kind(f);
    r->id = motan_frame_get_request_id(f);
    r->ser = motan_frame_get_serialization(f);
    r->mingz = s->mingz;
    r->max_decoded = s->max_decoded ? s->max_decoded : 4 * s->max_content;
    r->timeout_ms = -1;
    memcpy(r->req.peer, c->peer, sizeof(r->req.peer));
    if (kind == MOTAN_FRAME_RESPONSE || kind == MOTAN_FRAME_HEARTBEAT_RESPONSE) {
        motan__reply_recycle(r); /* answers to nothing we asked: ignored */
        return;
    }
    if (kind == MOTAN_FRAME_HEARTBEAT_REQUEST) {
        heartbeat(s, c, r, r->ser == MOTAN_SER_GRPC_PB); /* Java's header carries id 1 */
        return;
    }
    motan_server_request *q = &r->req;
    q->service = motan_frame_meta_get(f, "M_p", 3, &q->slen);
    q->method = motan_frame_meta_get(f, "M_m", 3, &q->mlen);
    if (!q->service) {
        q->service = "";
        q->slen = 0;
    }
    if (!q->method) {
        q->method = "";
        q->mlen = 0;
    }
    if (q->slen == sizeof(JAVA_HB_SERVICE) - 1 && !memcmp(q->service, JAVA_HB_SERVICE, q->slen) &&
        q->mlen == 9 && !memcmp(q->method, "heartbeat", 9)) {
        heartbeat(s, c, r, 1);
        return;
    }
    atomic_fetch_add(&s->st_requests, 1);

    size_t tlen = 0;
    const char *tv = s->client_deadline ? motan_frame_meta_get(f, "M_tmo", 5, &tlen) : NULL;
    int64_t tmo = parse_tmo(tv, tlen);
    if (tmo < 0 && s->request_timeout_ms > 0)
        tmo = s->request_timeout_ms;
    r->timeout_ms = tmo;
    r->deadline_us = tmo > 0 ? r->recv_us + (uint64_t)tmo * 1000u : 0;

    const motan__ssvc *svc;
    const motan__shandler *h = motan__srv_find(s, q->service, q->slen, q->method, q->mlen, &svc);
    if (s->filtering && motan__srv_filter_begin(s, r, svc) != MOTAN_OK)
        return; /* a filter refused it: answered */
    if (s->draining) {
        motan__reply_builtin_error(r, 503, 1, "service unavailable: the server is shutting down");
        return;
    }
    if (svc && svc->mingz >= 0)
        r->mingz = (size_t)svc->mingz;
    if (!h) {
        if (!svc)
            motan__reply_builtin_error(r, 404, 1, "provider not exist serviceKey=%.*s",
                                       (int)(q->slen > 900 ? 900 : q->slen), q->service);
        else
            motan__reply_builtin_error(r, 500, 1, "method %.*s is not found in provider.",
                                       (int)(q->mlen > 900 ? 900 : q->mlen), q->method);
        return;
    }
    if (!h->raw && motan__reply_decode(r) != MOTAN_OK) {
        motan__reply_builtin_error(r, 500, 1, "deserialize fail: %s", q->args_err);
        return;
    }
    run_handler(r, h);
}

/* A frame the server refuses (rc, err: the codec's reason): a Java-style answer when too large. */
static void refuse(motan__sconn *c, int rc, const char *err, const uint8_t *data, size_t len)
{
    motan_server *s = c->srv;
    atomic_fetch_add(&s->st_protocol_errors, 1);
    if (rc == MOTAN_ETOOBIG && len >= MOTAN__HDR_META)
        motan__reply_too_large(c, data, err);
    motan__sconn_close_after_flush(c, 0);
}

size_t motan__srv_input(motan__sconn *c, const uint8_t *data, size_t len, uint64_t now_us)
{
    motan_server *s = c->srv;
    size_t off = 0;
    c->need = 0;
    c->stalled = 0;
    while (!c->closing && !c->close_when_idle && off < len) {
        /* Over budget: the rest waits in the input until the output drains (conn.c). */
        if (c->unsent + c->held > s->max_buffered) {
            c->stalled = 1;
            break;
        }
        size_t span = 0;
        char err[256] = "";
        int rc = motan__frame_check(data + off, len - off, s->max_content, &span, err, sizeof(err));
        if (rc == MOTAN_EAGAIN) {
            c->need = span;
            break;
        }
        if (rc != MOTAN_OK) {
            refuse(c, rc, err, data + off, len - off);
            break;
        }
        motan_reply *r = motan__reply_get(s);
        if (!r || motan_buf_append(&r->copy, data + off, span) != MOTAN_OK) {
            if (r)
                motan__reply_recycle(r);
            motan__sconn_close_after_flush(c, 0); /* out of memory: this client goes */
            break;
        }
        size_t consumed;
        rc = motan_frame_parse(r->req.frame, r->copy.data, r->copy.len, s->max_content, &consumed,
                               err, sizeof(err));
        if (rc != MOTAN_OK) {
            motan__reply_recycle(r);
            refuse(c, rc, err, data + off, len - off);
            break;
        }
        off += span;
        terminate(r);
        r->conn = c;
        r->recv_us = now_us;
        dispatch(s, c, r);
    }
    return off;
}
