/*
 * The HTTP entry (hport, off unless enabled): POST /<service>/<method>[?group=G&version=V]
 * with a JSON array of arguments calls the service through its refer and answers its result
 * as JSON (the JSON serialization's mapping, docs/serialization.md). For curl and for
 * languages without a binding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent.h"

typedef struct hcall {
    agent *ag;
    refer *rf;
    struct evhttp_request *hreq;
    motan_request *req;
    uint64_t start_us;
} hcall;

/* {"code":"MOTAN_E...","errcode":N,"errtype":T,"errmsg":"..."} */
static void reply_error(struct evhttp_request *h, int status, int code, int64_t errcode, int errtype,
                        const char *msg)
{
    motan_arena *a = motan_arena_new();
    motan_value *m = a ? motan_value_new_container(a, MOTAN_T_MAP) : NULL;
    motan_buf *b = motan_buf_new(128);
    const char *name = motan_errname(code);
    if (m && b) {
        motan_value_map_put(m, motan_value_new_string(a, "code", 4),
                            motan_value_new_string(a, name, strlen(name)));
        motan_value_map_put(m, motan_value_new_string(a, "errcode", 7), motan_value_new_int64(a, errcode));
        motan_value_map_put(m, motan_value_new_string(a, "errtype", 7), motan_value_new_int32(a, errtype));
        motan_value_map_put(m, motan_value_new_string(a, "errmsg", 6),
                            motan_value_new_string(a, msg, strlen(msg)));
    }
    char err[64];
    if (m && b && motan_serialize_value(MOTAN_SER_JSON, m, b, err, sizeof(err)) == MOTAN_OK)
        agent_http_send(h, status, "application/json", (const char *)motan_buf_data(b), motan_buf_len(b));
    else
        evhttp_send_error(h, status, NULL);
    motan_buf_free(b);
    motan_arena_free(a);
}

static int status_of(int code)
{
    switch (code) {
    case MOTAN_EREMOTE:
        return 502;
    case MOTAN_ETIMEOUT:
        return 504;
    case MOTAN_ENOENDPOINT:
    case MOTAN_ECONNECT:
    case MOTAN_EBUSY:
        return 503;
    default:
        return 500;
    }
}

static void on_done(motan_response *resp, void *userdata)
{
    hcall *hc = userdata;
    agent *ag = hc->ag;
    int code = resp ? motan_response_get_code(resp) : MOTAN_ENOMEM;
    uint64_t lat = motan_now_us() - hc->start_us;
    char line[800];
    snprintf(line, sizeof(line), "http %s.%s group=%s endpoint=%s code=%s latency_us=%llu",
             hc->rf->c.path, motan_request_get_method(hc->req), motan_request_get_group(hc->req),
             resp && *motan_response_get_endpoint(resp) ? motan_response_get_endpoint(resp) : "-",
             motan_errname(code), (unsigned long long)lat);
    agent_access(line);
    if (code == MOTAN_OK) {
        motan_buf *b = motan_buf_new(256);
        char err[256];
        int rc = b ? motan_serialize_value(MOTAN_SER_JSON, motan_response_get_value(resp), b, err,
                                           sizeof(err))
                   : MOTAN_ENOMEM;
        if (rc == MOTAN_OK)
            agent_http_send(hc->hreq, 200, "application/json", (const char *)motan_buf_data(b), motan_buf_len(b));
        else
            reply_error(hc->hreq, 502, rc, 0, 1,
                        rc == MOTAN_ENOMEM ? "out of memory" : "the result has no JSON form");
        motan_buf_free(b);
    } else {
        reply_error(hc->hreq, status_of(code), code,
                    code == MOTAN_EREMOTE ? motan_response_get_errcode(resp) : forward_errcode(code),
                    resp ? (motan_response_get_errtype(resp) < 0 ? 1 : motan_response_get_errtype(resp)) : 1,
                    resp ? motan_response_get_errmsg(resp) : "out of memory");
    }
    motan_response_free(resp);
    motan_request_free(hc->req);
    refer_release(hc->rf);
    free(hc);
    ag->http_inflight--;
    if (ag->draining)
        agent_drain_step(ag);
}

/* "/svc/method" -> decoded service and method (owned); -1 when the path has no such form. */
static int split_path(const char *uri, char **svc_name, char **method)
{
    const char *q = strchr(uri, '?');
    size_t n = q ? (size_t)(q - uri) : strlen(uri);
    char *path = strndup(uri, n);
    if (!path)
        return -1;
    char *last = strrchr(path, '/');
    if (!last || last == path || path[0] != '/' || !last[1]) {
        free(path);
        return -1;
    }
    *last = '\0';
    *svc_name = evhttp_uridecode(path + 1, 0, NULL);
    *method = evhttp_uridecode(last + 1, 0, NULL);
    free(path);
    if (!*svc_name || !*method || !**svc_name || strchr(*svc_name, '\n') || strchr(*method, '\n')) {
        free(*svc_name);
        free(*method);
        return -1;
    }
    return 0;
}

static void on_request(struct evhttp_request *h, void *userdata)
{
    agent *ag = userdata;
    if (ag->draining) {
        reply_error(h, 503, MOTAN_ECLOSED, 503, 1, "the agent is shutting down");
        return;
    }
    if (evhttp_request_get_command(h) != EVHTTP_REQ_POST) {
        reply_error(h, 405, MOTAN_EINVAL, 405, 1, "use POST /<service>/<method> with a JSON array of arguments");
        return;
    }
    char *svc_name = NULL, *method = NULL;
    if (split_path(evhttp_request_get_uri(h), &svc_name, &method)) {
        reply_error(h, 404, MOTAN_EINVAL, 404, 1, "the path must be /<service>/<method>");
        return;
    }
    struct evkeyvalq qs = {0};
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(h));
    evhttp_parse_query_str(query ? query : "", &qs); /* initialises qs in every case */
    const char *group = evhttp_find_header(&qs, "group"), *version = evhttp_find_header(&qs, "version");
    char msg[1024];
    refer *rf = refer_find(ag, svc_name, group, version, msg, sizeof(msg));
    hcall *hc = NULL;
    motan_request *req = NULL;
    if (!rf) {
        char text[1100];
        snprintf(text, sizeof(text), "cluster not found. cluster: %s", msg);
        reply_error(h, 404, MOTAN_ENOTFOUND, 400, 1, text);
        goto out;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(h);
    size_t len = evbuffer_get_length(in);
    const uint8_t *body = len ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
    motan_value *args = NULL;
    char err[300];
    req = motan_request_new(method);
    hc = calloc(1, sizeof(*hc));
    if (!req || !hc) {
        reply_error(h, 500, MOTAN_ENOMEM, 500, 1, "out of memory");
        goto out;
    }
    /* Decoded into the request's own arena: the arguments are added as they are. */
    if (motan_deserialize_args(MOTAN_SER_JSON, body, len, motan_request_arena(req), &args, err,
                               sizeof(err)) != MOTAN_OK) {
        char text[400];
        snprintf(text, sizeof(text), "the body must be a JSON array of arguments: %s", err);
        reply_error(h, 400, MOTAN_EDECODE, 400, 1, text);
        goto out;
    }
    int rc = motan_request_set_service(req, rf->c.path);
    if (rc == MOTAN_OK)
        rc = motan_request_set_group(req, group && *group ? group : rf->c.group);
    if (rc == MOTAN_OK && version && *version)
        rc = motan_request_set_version(req, version);
    if (rc == MOTAN_OK)
        rc = motan_request_set_application(req, rf->c.application);
    for (size_t i = 0; rc == MOTAN_OK && i < motan_value_count(args); i++)
        rc = motan_request_add_arg(req, (motan_value *)motan_value_at(args, i));
    if (rc != MOTAN_OK) {
        reply_error(h, 400, rc, 400, 1, motan_strerror(rc));
        goto out;
    }
    hc->ag = ag;
    hc->rf = rf;
    hc->hreq = h;
    hc->req = req;
    hc->start_us = motan_now_us();
    refer_hold(rf);
    ag->http_inflight++;
    if (motan_client_call_async(rf->client, req, on_done, hc) != MOTAN_OK) {
        motan_response *resp = motan_response_new();
        if (resp)
            motan_response_set_error(resp, MOTAN_ECLOSED, "the call could not start");
        on_done(resp, hc);
    }
    req = NULL;
    hc = NULL;
out:
    evhttp_clear_headers(&qs);
    motan_request_free(req);
    free(hc);
    free(svc_name);
    free(method);
}

int http_entry_start(agent *ag, int port, char *err, size_t errlen)
{
    ag->hhttp = evhttp_new(ag->base);
    if (!ag->hhttp) {
        snprintf(err, errlen, "hport: out of memory");
        return -1;
    }
    evhttp_set_allowed_methods(ag->hhttp, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_max_body_size(ag->hhttp, 10485760);
    evhttp_set_gencb(ag->hhttp, on_request, ag);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(ag->hhttp, "0.0.0.0", (ev_uint16_t)port);
    if (!s) {
        snprintf(err, errlen, "hport: cannot listen on port %d", port);
        return -1;
    }
    ag->hhttp_sock = s;
    ag->hport = agent_bound_port(evhttp_bound_socket_get_fd(s));
    return 0;
}
