/*
 * Request dispatch: parse whole frames in place, pick the fault, run the method, answer
 * now or arm a timer (sleep, delay:N) for a delayed answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/* A delayed answer; body and message are copied behind it. */
typedef struct srv_job {
    srv_conn *conn;
    struct srv_job *prev, *next;
    struct event *ev;
    srv_answer a;
    uint8_t data[];
} srv_job;

static void job_unlink(srv_job *j)
{
    srv_conn *c = j->conn;
    if (j->prev)
        j->prev->next = j->next;
    else
        c->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void job_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    srv_job *j = arg;
    srv_conn *c = j->conn;
    job_unlink(j);
    srv_respond(c, &j->a);
    event_free(j->ev);
    free(j);
    srv_conn_flush(c);
}

void srv_jobs_cancel(srv_conn *c)
{
    while (c->jobs) {
        srv_job *j = c->jobs;
        c->jobs = j->next;
        event_free(j->ev);
        free(j);
    }
}

static void schedule(srv_conn *c, const srv_answer *a, uint64_t delay_ms)
{
    size_t blen = a->is_error ? 0 : a->body_len;
    size_t mlen = a->is_error ? a->errmsg_len : 0;
    srv_job *j = malloc(sizeof(*j) + blen + mlen + 1);
    if (!j) {
        srv_log(c->srv, "out of memory for a delayed answer; dropped");
        return;
    }
    j->conn = c;
    j->a = *a;
    if (blen)
        memcpy(j->data, a->body, blen);
    if (mlen)
        memcpy(j->data + blen, a->errmsg, mlen);
    j->a.body = j->data;
    j->a.errmsg = (const char *)j->data + blen;
    j->ev = evtimer_new(c->srv->base, job_fire, j);
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000 * 1000)};
    if (!j->ev || evtimer_add(j->ev, &tv)) {
        if (j->ev)
            event_free(j->ev);
        free(j);
        srv_log(c->srv, "cannot arm a timer; answer dropped");
        return;
    }
    j->prev = NULL;
    j->next = c->jobs;
    if (c->jobs)
        c->jobs->prev = j;
    c->jobs = j;
}

static void set_error(srv_answer *a, int64_t code, int type, const char *msg, size_t len)
{
    a->is_error = 1;
    a->errcode = code;
    a->errtype = type;
    a->errmsg = msg;
    a->errmsg_len = len;
}

/* The per-request X-Fault wins over --fault; --fault-rate draws for each request. */
static int pick_fault(srv_server *s, const motan_frame *f, srv_fault *out)
{
    size_t vlen;
    const char *v = motan_frame_meta_get(f, "X-Fault", 7, &vlen);
    if (v)
        return srv_fault_parse(v, vlen, out);
    out->kind = SRV_F_NONE;
    out->n = 0;
    if (!s->opt.has_fault)
        return 0;
    if (s->opt.fault_rate >= 0 &&
        (double)(srv_rand(s) % 1000000) >= s->opt.fault_rate * 10000.0)
        return 0;
    *out = s->opt.fault;
    return 0;
}

static void handle_request(srv_conn *c, const motan_frame *f, uint64_t now_us)
{
    srv_server *s = c->srv;
    char text[1024], err[512];
    srv_answer a;
    memset(&a, 0, sizeof(a));
    a.id = motan_frame_get_request_id(f);
    a.ser = motan_frame_get_serialization(f);
    a.recv_us = now_us;

    if (pick_fault(s, f, &a.fault)) {
        size_t vlen;
        const char *v = motan_frame_meta_get(f, "X-Fault", 7, &vlen);
        int n = snprintf(text, sizeof(text), "bad X-Fault: %.*s", (int)(vlen > 900 ? 900 : vlen), v);
        set_error(&a, 500, 1, text, (size_t)n);
        a.fault.kind = SRV_F_NONE;
        srv_respond(c, &a);
        return;
    }
    if (a.fault.kind == SRV_F_NOREPLY)
        return;

    size_t plen = 0, mlen = 0, blen = 0;
    const char *path = motan_frame_meta_get(f, "M_p", 3, &plen);
    const char *method = motan_frame_meta_get(f, "M_m", 3, &mlen);
    const uint8_t *body = motan_frame_body(f, &blen);
    if (!method)
        method = "";
    uint64_t delay = a.fault.kind == SRV_F_DELAY ? a.fault.n : 0;
    srv_call call;
    memset(&call, 0, sizeof(call));
    call.frame = f;

    if (!path || plen != strlen(SRV_SERVICE) || memcmp(path, SRV_SERVICE, plen) != 0) {
        int n = snprintf(text, sizeof(text), "provider not exist serviceKey=%.*s",
                         (int)(plen > 900 ? 900 : plen), path ? path : "");
        set_error(&a, 404, 1, text, (size_t)n);
    } else if (!srv_method_exists(method, mlen)) {
        int n = snprintf(text, sizeof(text), "method %.*s is not found in provider.",
                         (int)(mlen > 900 ? 900 : mlen), method);
        set_error(&a, 500, 1, text, (size_t)n);
    } else {
        motan_value *args = NULL;
        motan_arena_reset(s->arena);
        err[0] = '\0';
        int rc = motan_deserialize_args(a.ser, body, blen, s->arena, &args, err, sizeof(err));
        if (rc != MOTAN_OK) {
            int n = snprintf(text, sizeof(text), "deserialize fail: %s",
                             err[0] ? err : motan_strerror(rc));
            set_error(&a, 500, 1, text, (size_t)n);
        } else {
            srv_method_call(s, method, mlen, args, &call);
            delay += call.delay_ms;
            if (call.errcode) {
                set_error(&a, call.errcode, call.errtype, call.errmsg, call.errmsg_len);
            } else {
                motan_buf_reset(s->body);
                err[0] = '\0';
                rc = motan_serialize_value(a.ser, call.result, s->body, err, sizeof(err));
                if (rc != MOTAN_OK) {
                    int n = snprintf(text, sizeof(text), "serialize fail: %s",
                                     err[0] ? err : motan_strerror(rc));
                    set_error(&a, 500, 1, text, (size_t)n);
                } else {
                    a.body = motan_buf_data(s->body);
                    a.body_len = motan_buf_len(s->body);
                }
            }
        }
    }
    if (delay)
        schedule(c, &a, delay);
    else
        srv_respond(c, &a);
}

size_t srv_dispatch(srv_conn *c, const uint8_t *data, size_t len, uint64_t now_us)
{
    srv_server *s = c->srv;
    size_t off = 0;
    char err[256];
    c->need = 0;
    while (!c->closing && off < len) {
        size_t consumed = 0;
        err[0] = '\0';
        int rc = motan_frame_parse(s->frame, data + off, len - off, 0, &consumed, err,
                                   sizeof(err));
        if (rc == MOTAN_EAGAIN) {
            c->need = consumed > len - off ? consumed : 0;
            break;
        }
        if (rc != MOTAN_OK) {
            srv_log(s, "closing a connection: %s (%s)", motan_errname(rc), err);
            srv_conn_close_after_flush(c, 0);
            break;
        }
        off += consumed;
        switch (motan_frame_get_kind(s->frame)) {
        case MOTAN_FRAME_REQUEST:
            handle_request(c, s->frame, now_us);
            break;
        case MOTAN_FRAME_HEARTBEAT_REQUEST:
            srv_respond_heartbeat(c, s->frame);
            break;
        default:
            break; /* answers to hb-storm heartbeats and stray responses */
        }
    }
    return off;
}
