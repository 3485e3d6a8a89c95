/*
 * Endpoint health as motan-go does it: consecutive failures that are not business errors
 * (errtype 2) fuse the endpoint after errorCountThreshold; while fused, a Go-form heartbeat
 * goes out every keepaliveInterval until one is answered, which makes it available again.
 */
#include "transport/transport_int.h"

static void on_keepalive(evutil_socket_t fd, short what, void *arg);

static int is_local(int code)
{
    /* The server is not to blame for these (ETOOBIG: this client's maxContentLength). */
    return code == MOTAN_ECANCELLED || code == MOTAN_EBUSY || code == MOTAN_EINVAL ||
           code == MOTAN_ENOMEM || code == MOTAN_EUNSUPPORTED || code == MOTAN_ECLOSED ||
           code == MOTAN_ETOOBIG;
}

void motan__health_record(motan_endpoint *ep, int code, int errtype)
{
    if (code == MOTAN_OK || (code == MOTAN_EREMOTE && errtype == 2)) {
        ep->consecutive_errors = 0;
        return;
    }
    if (is_local(code) || !atomic_load(&ep->available) || ep->health_paused)
        return;
    ep->consecutive_errors++;
    if (ep->error_threshold <= 0 || ep->consecutive_errors < ep->error_threshold || ep->closing)
        return;
    atomic_store(&ep->available, 0);
    motan__log(MOTAN_LOG_WARN, "endpoint %s fused after %d consecutive errors (last: %s); "
               "heartbeats every %d ms", ep->address, ep->consecutive_errors, motan_errname(code),
               ep->keepalive_ms);
    if (!ep->keepalive_set) {
        struct timeval tv = {ep->keepalive_ms / 1000, (ep->keepalive_ms % 1000) * 1000};
        event_assign(&ep->keepalive, motan_loop_get_base(ep->loop), -1, EV_PERSIST, on_keepalive, ep);
        event_add(&ep->keepalive, &tv);
        ep->keepalive_set = 1;
    }
}

void motan__health_stop(motan_endpoint *ep)
{
    if (ep->keepalive_set) {
        event_del(&ep->keepalive);
        ep->keepalive_set = 0;
    }
}

void motan__health_heartbeat_done(motan_endpoint *ep, int ok)
{
    ep->heartbeat_inflight = 0;
    if (!ok || ep->closing)
        return;
    ep->consecutive_errors = 0;
    if (!atomic_exchange(&ep->available, 1))
        motan__log(MOTAN_LOG_INFO, "endpoint %s answered a heartbeat: available again",
                   ep->address);
    motan__health_stop(ep);
}

static void heartbeat_cb(motan_response *resp, void *userdata)
{
    MOTAN_UNUSED(userdata);
    motan_response_free(resp);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    motan_endpoint *ep = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    if (ep->heartbeat_inflight || ep->closing)
        return;
    motan__call *call = motan__calloc(1, sizeof(*call));
    if (!call)
        return;
    motan__endpoint_hold(ep);
    call->id = motan__next_request_id();
    call->ep = ep;
    call->cb = heartbeat_cb;
    call->timeout_ms = ep->keepalive_ms;
    ep->heartbeat_inflight = 1;
    atomic_fetch_add(&ep->inflight, 1);
    atomic_fetch_add(&ep->st_heartbeats, 1);
    motan__endpoint_start(call);
    motan__endpoint_release(ep);
}
