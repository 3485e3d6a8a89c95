/*
 * Every request, through one raw handler of the layer: pick the fault, check service and
 * method, decode, run the method, answer now or arm a timer (sleep, delay:N) for a delayed
 * answer. Heartbeats are answered in the --heartbeat style.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/* ---- jobs --------------------------------------------------------------------------------- */

srv_job *srv_job_new(srv_server *s, motan_reply *reply, int kind,
                     void (*fire)(evutil_socket_t, short, void *), uint32_t ms)
{
    srv_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->ev = evtimer_new(s->base, fire, j))) {
        free(j);
        srv_log(s, "out of memory for a delayed answer; dropped");
        motan_reply_drop(reply);
        return NULL;
    }
    j->srv = s;
    j->reply = reply;
    j->kind = kind;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(j->ev, &tv);
    j->next = s->jobs;
    if (s->jobs)
        s->jobs->prev = j;
    s->jobs = j;
    return j;
}

void srv_job_free(srv_job *j)
{
    srv_server *s = j->srv;
    if (j->prev)
        j->prev->next = j->next;
    else
        s->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    event_free(j->ev);
    free(j->bytes);
    free(j);
}

void srv_jobs_cancel(srv_server *s)
{
    while (s->jobs) {
        srv_job *j = s->jobs;
        if (j->kind == SRV_JOB_DELAY)
            motan_reply_discard(j->reply);
        else
            motan_reply_end(j->reply);
        srv_job_free(j);
    }
}

static void job_fire(evutil_socket_t fd, short what, void *arg)
{
    srv_job *j = arg;
    (void)fd;
    (void)what;
    srv_answer a = j->a;
    motan_reply *reply = j->reply;
    srv_server *s = j->srv;
    srv_job_free(j);
    srv_respond(s, reply, &a);
}

/* ---- requests ----------------------------------------------------------------------------- */

static void set_error(srv_answer *a, int64_t code, int type, const char *msg, size_t len)
{
    a->is_error = 1;
    a->errcode = code;
    a->errtype = type;
    a->errmsg = msg;
    a->errmsg_len = len;
}

/* An error whose text is formatted now and kept in the reply's arena (for delayed answers). */
static void set_errorf(srv_answer *a, motan_reply *reply, int64_t code, const char *fmt,
                       const char *arg, size_t len)
{
    char text[1024];
    int n = snprintf(text, sizeof(text), fmt, (int)(len > 900 ? 900 : len), arg);
    char *copy = motan_arena_alloc(motan_reply_arena(reply), (size_t)n + 1);
    if (copy)
        memcpy(copy, text, (size_t)n + 1);
    set_error(a, code, 1, copy ? copy : "server out of memory", copy ? (size_t)n : 20);
}

/* The per-request X-Fault wins over --fault; --fault-rate draws for each request. */
static int pick_fault(srv_server *s, const motan_server_request *req, srv_fault *out)
{
    size_t vlen;
    const char *v = motan_server_request_meta(req, "X-Fault", &vlen);
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

void srv_on_request(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    srv_server *s = userdata;
    char err[512];
    srv_answer a;
    memset(&a, 0, sizeof(a));
    a.id = motan_server_request_id(req);
    a.ser = motan_server_request_serialization(req);
    a.recv_us = motan_now_us();

    if (pick_fault(s, req, &a.fault)) {
        size_t vlen;
        const char *v = motan_server_request_meta(req, "X-Fault", &vlen);
        set_errorf(&a, reply, 500, "bad X-Fault: %.*s", v, vlen);
        a.fault.kind = SRV_F_NONE;
        srv_respond(s, reply, &a);
        return;
    }
    if (a.fault.kind == SRV_F_NOREPLY) {
        motan_reply_discard(reply);
        return;
    }

    size_t plen, mlen;
    const char *path = motan_server_request_service(req, &plen);
    const char *method = motan_server_request_method(req, &mlen);
    uint32_t delay = a.fault.kind == SRV_F_DELAY ? a.fault.n : 0;
    srv_call call;
    memset(&call, 0, sizeof(call));
    call.req = req;

    if (plen != strlen(SRV_SERVICE) || memcmp(path, SRV_SERVICE, plen) != 0) {
        set_errorf(&a, reply, 404, "provider not exist serviceKey=%.*s", path, plen);
    } else if (!srv_method_exists(method, mlen)) {
        set_errorf(&a, reply, 500, "method %.*s is not found in provider.", method, mlen);
    } else {
        const motan_value *args = NULL;
        err[0] = '\0';
        if (motan_server_request_args(req, &args, err, sizeof(err)) != MOTAN_OK) {
            set_errorf(&a, reply, 500, "deserialize fail: %.*s", err, strlen(err));
        } else {
            srv_method_call(s, motan_reply_arena(reply), method, mlen, args, &call);
            delay += call.delay_ms;
            if (call.errcode && call.errmsg == call.errbuf)
                set_errorf(&a, reply, call.errcode, "%.*s", call.errbuf, call.errmsg_len);
            else if (call.errcode)
                set_error(&a, call.errcode, call.errtype, call.errmsg, call.errmsg_len);
            else
                a.result = call.result;
            a.errtype = call.errcode ? call.errtype : a.errtype;
        }
    }
    if (!delay) {
        srv_respond(s, reply, &a);
        return;
    }
    srv_job *j = srv_job_new(s, reply, SRV_JOB_DELAY, job_fire, delay);
    if (j)
        j->a = a;
}
