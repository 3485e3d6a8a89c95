/*
 * The forward proxy: a raw handler on the agent's motan2 server (port, unixSock). Only the
 * header and the metadata of a request are read; the body goes to the refer's cluster as it
 * came (motan_request_set_body) and the answer's body comes back undecoded
 * (motan_request_set_raw_response), so any serialization passes both ways.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

typedef struct fwd_call {
    refer *rf;
    motan_reply *reply;
    motan_request *req;
    uint64_t start_us;
    size_t req_bytes;
} fwd_call;

/* Keys the client writes itself (a caller's values are applied through the setters). */
static const char *const own_keys[] = {"M_p", "M_m", "M_md", "M_g", "M_v", "M_s", "M_mdu",
                                       "M_pp", "M_tmo", NULL};

static int own_key(const char *k)
{
    if (k[0] != 'M' || k[1] != '_')
        return 0;
    for (size_t i = 0; own_keys[i]; i++)
        if (!strcmp(own_keys[i], k))
            return 1;
    return 0;
}

int64_t forward_errcode(int code)
{
    switch (code) { /* the codes motan-go's client synthesises (spec §3.3) */
    case MOTAN_ENOENDPOINT:
        return 1001;
    case MOTAN_ECONNECT:
        return 1002;
    case MOTAN_ETIMEOUT:
        return 10003;
    case MOTAN_EBUSY:
        return 10002;
    case MOTAN_ECANCELLED:
        return 10004;
    default:
        return 400;
    }
}

static const char *meta(const motan_server_request *q, const char *key)
{
    const char *v = motan_server_request_meta(q, key, NULL);
    return v && *v ? v : NULL;
}

static void access_line(const fwd_call *fc, const motan_server_request *q, const char *group,
                        const motan_response *resp, int code, uint64_t lat, size_t resp_bytes)
{
    char line[1400];
    const char *ep = resp ? motan_response_get_endpoint(resp) : "";
    int n = snprintf(line, sizeof(line),
                     "forward %s.%s group=%s peer=%s endpoint=%s code=%s latency_us=%" PRIu64
                     " request_bytes=%zu response_bytes=%zu",
                     motan_server_request_service(q, NULL), motan_server_request_method(q, NULL),
                     group, motan_server_request_peer(q), *ep ? ep : "-", motan_errname(code), lat,
                     fc ? fc->req_bytes : 0, resp_bytes);
    if (code != MOTAN_OK && n > 0 && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, " errcode=%lld errtype=%d error=\"%.300s\"",
                 (long long)(resp ? motan_response_get_errcode(resp) : 0),
                 resp ? motan_response_get_errtype(resp) : 1,
                 resp ? motan_response_get_errmsg(resp) : "");
    agent_access(line);
}

static void on_upstream(motan_response *resp, void *userdata)
{
    fwd_call *fc = userdata;
    motan_reply *reply = fc->reply;
    const motan_server_request *q = motan_reply_request(reply);
    int code = resp ? motan_response_get_code(resp) : MOTAN_ENOMEM;
    uint64_t lat = motan_now_us() - fc->start_us;
    size_t blen = 0;
    const uint8_t *body = resp ? motan_response_get_body(resp, &blen) : NULL;
    const char *group = motan_request_get_group(fc->req);

    access_line(fc, q, group, resp, code, lat, blen);

    int ser = resp ? motan_response_get_serialization(resp) : -1;
    if (ser < 0)
        ser = motan_server_request_serialization(q);
    if (code == MOTAN_OK || (code == MOTAN_EREMOTE && motan_response_get_meta(resp, "M_e"))) {
        /* the server's answer as it was: metadata (M_pt, M_e, ...), status and body */
        for (size_t i = 0, n = motan_response_meta_count(resp); i < n; i++) {
            const char *k = motan_response_meta_key(resp, i), *v = motan_response_meta_value(resp, i);
            motan_reply_set_meta(reply, k, strlen(k), v, strlen(v));
        }
        motan_reply_send_raw(reply, ser, code == MOTAN_OK ? 0 : 1, code == MOTAN_OK ? body : NULL,
                             code == MOTAN_OK ? blen : 0);
    } else if (code == MOTAN_EREMOTE) {
        const char *m = motan_response_get_errmsg(resp);
        motan_reply_error(reply, motan_response_get_errcode(resp), motan_response_get_errtype(resp), m,
                          strlen(m));
    } else {
        const char *m = resp ? motan_response_get_errmsg(resp) : "out of memory";
        motan_reply_error(reply, forward_errcode(code), 1, m, strlen(m));
    }
    refer_release(fc->rf);
    motan_response_free(resp);
    motan_request_free(fc->req);
    free(fc);
}

/* The answer to a request the agent cannot route (motan-go's errcode 400, its message). */
static void not_routed(agent *ag, const motan_server_request *q, motan_reply *reply, int code,
                       const char *msg)
{
    char text[1200];
    snprintf(text, sizeof(text), "cluster not found. cluster: %s", msg);
    ag->unrouted++;
    const char *group = meta(q, "M_g");
    access_line(NULL, q, group ? group : "", NULL, code, 0, 0);
    agent_log(LOG_WARN, "forward: %s (peer %s, request id %" PRIu64 ")", text,
              motan_server_request_peer(q), motan_server_request_id(q));
    motan_reply_error(reply, 400, 1, text, strlen(text));
}

void forward_handler(const motan_server_request *q, motan_reply *reply, void *userdata)
{
    agent *ag = userdata;
    const char *svc_name = motan_server_request_service(q, NULL);
    const char *method = motan_server_request_method(q, NULL);
    const char *group = meta(q, "M_g"), *version = meta(q, "M_v");
    char msg[1024];
    refer *rf = refer_find(ag, svc_name, group, version, msg, sizeof(msg));
    if (!rf) {
        not_routed(ag, q, reply, MOTAN_ENOTFOUND, msg);
        return;
    }
    fwd_call *fc = calloc(1, sizeof(*fc));
    motan_request *req = fc ? motan_request_new(*method ? method : NULL) : NULL;
    if (!req) {
        free(fc);
        motan_reply_error(reply, 500, 1, "agent out of memory", 19);
        return;
    }
    /* Identity: what the caller sent, a missing group or source filled from the refer. */
    int rc = motan_request_set_service(req, svc_name);
    if (rc == MOTAN_OK)
        rc = motan_request_set_group(req, group ? group : rf->c.group);
    if (rc == MOTAN_OK && version)
        rc = motan_request_set_version(req, version);
    if (rc == MOTAN_OK) {
        const char *src = meta(q, "M_s");
        if (!src)
            src = meta(q, "application");
        rc = motan_request_set_application(req, src ? src : rf->c.application);
    }
    const char *md = meta(q, "M_md"), *mdu = meta(q, "M_mdu");
    if (rc == MOTAN_OK && md)
        rc = motan_request_set_method_desc(req, md);
    if (rc == MOTAN_OK && mdu)
        rc = motan_request_set_module(req, mdu);
    for (size_t i = 0, n = motan_server_request_meta_count(q); rc == MOTAN_OK && i < n; i++) {
        const char *k = motan_server_request_meta_key(q, i, NULL);
        const char *v = motan_server_request_meta_value(q, i, NULL);
        if (!own_key(k) && *v)
            rc = motan_request_set_meta(req, k, v);
    }
    /* The caller's deadline, within the refer's bounds (motan-go: [timeout/2, timeout*2]). */
    const char *tmo = meta(q, "M_tmo");
    if (tmo) {
        long t = strtol(tmo, NULL, 10);
        if (t > 0) {
            if (t < rf->c.min_tmo)
                t = rf->c.min_tmo;
            if (t > rf->c.max_tmo)
                t = rf->c.max_tmo;
            motan_request_set_timeout(req, (int)t);
        }
    }
    size_t blen;
    const uint8_t *body = motan_server_request_body(q, &blen);
    if (rc == MOTAN_OK)
        rc = motan_request_set_body(req, motan_server_request_serialization(q), body, blen);
    if (rc == MOTAN_OK)
        rc = motan_request_set_raw_response(req, 1);
    if (rc != MOTAN_OK) {
        char text[256];
        snprintf(text, sizeof(text), "agent: cannot forward the request: %s", motan_strerror(rc));
        motan_reply_error(reply, 400, 1, text, strlen(text));
        motan_request_free(req);
        free(fc);
        return;
    }
    fc->rf = rf;
    fc->reply = reply;
    fc->req = req;
    fc->req_bytes = blen;
    fc->start_us = motan_now_us();
    refer_hold(rf);
    rc = motan_client_call_async(rf->client, req, on_upstream, fc);
    if (rc != MOTAN_OK) {
        motan_response *resp = motan_response_new();
        if (resp)
            motan_response_set_error(resp, rc, "the call could not start");
        on_upstream(resp, fc);
    }
}
