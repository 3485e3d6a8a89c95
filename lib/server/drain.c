/*
 * Graceful drain: unregister, stop accepting, answer what is in flight (new requests get
 * 503, heartbeats close their connection as motan-go does in its 503 state), then close.
 * The phases advance from the places where replies and connections go away; completion is
 * reported from an event of its own, so the callback may free the server.
 */
#include "server/server_int.h"

enum { DRAIN_WAIT = 1, DRAIN_CLOSING, DRAIN_DONE };

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    motan_server *s = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan_server_drained_cb cb = s->drain_cb;
    s->drain_cb = NULL;
    if (cb)
        cb(s, s->drain_code, s->drain_ud); /* may free s */
}

static void done(motan_server *s, int code)
{
    s->drain_phase = DRAIN_DONE;
    s->drain_code = code;
    event_del(&s->drain_ev);
    event_active(&s->done_ev, EV_TIMEOUT, 1);
}

void motan__srv_drain_check(motan_server *s)
{
    if (!s->draining || s->drain_phase == DRAIN_DONE)
        return;
    if (s->drain_phase == DRAIN_WAIT && atomic_load(&s->st_open_replies) == 0) {
        s->drain_phase = DRAIN_CLOSING; /* everything answered: write it out, then close */
        for (motan__sconn *c = s->conns; c; c = c->next)
            motan__sconn_close_after_flush(c, 0);
    }
    if (s->drain_phase == DRAIN_CLOSING && atomic_load(&s->st_connections) == 0)
        done(s, MOTAN_OK);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    motan_server *s = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    s->drain_phase = DRAIN_DONE; /* no more phase changes while the rest is closed */
    while (s->conns)
        motan__sconn_destroy(s->conns);
    done(s, MOTAN_ETIMEOUT);
}

void motan__srv_drain_init(motan_server *s)
{
    event_assign(&s->done_ev, s->base, -1, 0, on_done, s);
    event_assign(&s->drain_ev, s->base, -1, 0, on_timeout, s);
}

void motan__srv_drain_cancel(motan_server *s)
{
    event_del(&s->drain_ev);
    event_del(&s->done_ev);
    int code = s->drain_phase == DRAIN_DONE ? s->drain_code : MOTAN_ECANCELLED;
    s->drain_phase = DRAIN_DONE;
    motan_server_drained_cb cb = s->drain_cb;
    s->drain_cb = NULL;
    if (cb)
        cb(s, code, s->drain_ud);
}

typedef struct drain_job {
    motan_server *s;
    int timeout_ms;
    motan_server_drained_cb cb;
    void *ud;
    int rc;
} drain_job;

static void start_on_loop(void *arg)
{
    drain_job *j = arg;
    motan_server *s = j->s;
    if (s->draining || s->free_pending) {
        j->rc = MOTAN_ECLOSED;
        return;
    }
    j->rc = MOTAN_OK;
    s->draining = 1;
    s->drain_phase = DRAIN_WAIT;
    s->drain_cb = j->cb;
    s->drain_ud = j->ud;
    motan__srv_unexport_all(s);
    motan__srv_listeners_close(s);
    int ms = j->timeout_ms > 0 ? j->timeout_ms : 0;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&s->drain_ev, &tv);
    motan__srv_drain_check(s);
}

MOTAN_EXPORT int motan_server_shutdown_async(motan_server *s, int timeout_ms,
                                             motan_server_drained_cb cb, void *userdata)
{
    if (!s)
        return MOTAN_EINVAL;
    drain_job j = {s, timeout_ms, cb, userdata, MOTAN_OK};
    int rc = motan_loop_run_wait(s->loop, start_on_loop, &j);
    return rc == MOTAN_OK ? j.rc : rc;
}

typedef struct blocking {
    motan__waiter w;
    int code;
} blocking;

static void drained(motan_server *s, int code, void *userdata)
{
    blocking *b = userdata;
    MOTAN_UNUSED(s);
    b->code = code;
    motan__waiter_post(&b->w, NULL);
}

MOTAN_EXPORT int motan_server_shutdown(motan_server *s, int timeout_ms)
{
    if (!s)
        return MOTAN_EINVAL;
    if (!motan_loop_is_builtin(s->loop) || motan_loop_in_loop_thread(s->loop))
        return MOTAN_EDEADLOCK;
    blocking b;
    motan__waiter_init(&b.w);
    int rc = motan_server_shutdown_async(s, timeout_ms, drained, &b);
    if (rc == MOTAN_OK) {
        motan__waiter_wait(&b.w);
        rc = b.code;
    }
    motan__waiter_destroy(&b.w);
    return rc;
}
