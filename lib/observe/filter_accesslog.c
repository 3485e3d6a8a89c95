/*
 * accessLog: one line per call through the log callback at level info (nothing is formatted
 * while info is not enabled). Fields, in order (docs/observability.md):
 *   <side> <service>.<method> group=G endpoint=E attempts=N code=C latency_us=T
 *   request_bytes=Q response_bytes=R [requestId=I] [traceparent=P] [errcode=X errtype=Y]
 *   [error="message"]
 */
#include <stdio.h>

#include "observe/observe_int.h"

static void a_after(void *state, motan_filter_call *call)
{
    MOTAN_UNUSED(state);
    if (!motan_log_enabled(MOTAN_LOG_INFO))
        return;
    char line[1536];
    const char *ep = motan_filter_call_endpoint(call);
    int n = snprintf(line, sizeof(line),
                     "%s %s.%s group=%s endpoint=%s attempts=%d code=%s latency_us=%llu "
                     "request_bytes=%zu response_bytes=%zu",
                     call->chain->side == MOTAN_SIDE_SERVER ? "server" : "client", call->service,
                     call->method, call->group, ep[0] ? ep : "-",
                     call->nattempts, motan_errname(call->code),
                     (unsigned long long)call->latency_us, motan_filter_call_request_size(call),
                     motan_filter_call_response_size(call));
    if (n > 0 && (size_t)n < sizeof(line) && call->traced)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s traceparent=%s",
                      call->request_id[0] ? " requestId=" : "", call->request_id,
                      call->traceparent);
    const motan_response *r = call->resp;
    if (n > 0 && (size_t)n < sizeof(line) && r && call->code != MOTAN_OK) {
        if (call->code == MOTAN_EREMOTE)
            n += snprintf(line + n, sizeof(line) - (size_t)n, " errcode=%lld errtype=%d",
                          (long long)motan_response_get_errcode(r), motan_response_get_errtype(r));
        if (n > 0 && (size_t)n < sizeof(line))
            snprintf(line + n, sizeof(line) - (size_t)n, " error=\"%s\"",
                     motan_response_get_errmsg(r));
    }
    for (char *p = line; *p; p++) /* one line, whatever the server's message holds */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    motan_log(MOTAN_LOG_INFO, line);
}

const motan_filter_ops motan__filter_accesslog = {
    .struct_size = sizeof(motan_filter_ops),
    .name = "accessLog",
    .after = a_after,
};
