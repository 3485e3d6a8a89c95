/* Blocking calls on the built-in loop: an async call plus a condition variable. */
#include "transport/transport_int.h"

typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    motan_response *resp;
    int done;
} sync_wait;

static void sync_cb(motan_response *resp, void *userdata)
{
    sync_wait *w = userdata;
    pthread_mutex_lock(&w->mu);
    w->resp = resp;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static motan_response *error_response(int code, const char *msg)
{
    motan_response *r = motan_response_new();
    if (r)
        motan_response_set_error(r, code, msg);
    return r;
}

MOTAN_EXPORT int motan_endpoint_call_sync(motan_endpoint *e, motan_request *req, int timeout_ms,
                                          motan_response **out)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!e || !req)
        return MOTAN_EINVAL;
    if (!motan_loop_is_builtin(e->loop) || motan_loop_in_loop_thread(e->loop)) {
        *out = error_response(MOTAN_EDEADLOCK, "blocking calls need the built-in loop and another thread");
        return MOTAN_EDEADLOCK;
    }
    sync_wait w = {.done = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = motan_endpoint_call(e, req, timeout_ms, sync_cb, &w, NULL);
    if (rc == MOTAN_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        *out = w.resp;
        rc = w.resp ? motan_response_get_code(w.resp) : MOTAN_ENOMEM;
    } else {
        *out = error_response(rc, motan_strerror(rc));
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}
