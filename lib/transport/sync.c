/* Blocking calls on the built-in loop: an async call plus a condition variable. */
#include "transport/transport_int.h"

static void sync_cb(motan_response *resp, void *userdata) { motan__waiter_post(userdata, resp); }

static motan_response *error_response(int code, const char *msg)
{
    motan_response *r = motan_response_new_or_oom();
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
    if (motan_loop_forked(e->loop)) {
        *out = error_response(MOTAN_EFORKED, "the endpoint's loop was created before fork(): "
                                             "in this child process it can only be freed");
        return MOTAN_EFORKED;
    }
    if (!motan_loop_is_builtin(e->loop) || motan_loop_in_loop_thread(e->loop)) {
        *out = error_response(MOTAN_EDEADLOCK, "blocking calls need the built-in loop and another thread");
        return MOTAN_EDEADLOCK;
    }
    motan__waiter w;
    motan__waiter_init(&w);
    int rc = motan_endpoint_call(e, req, timeout_ms, sync_cb, &w, NULL);
    if (rc == MOTAN_OK) {
        *out = motan__waiter_wait(&w);
        rc = motan_response_get_code(*out);
    } else {
        *out = error_response(rc, motan_strerror(rc));
    }
    motan__waiter_destroy(&w);
    return rc;
}
