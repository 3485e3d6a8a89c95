/*
 * The management HTTP server (mport, motan-go's paths): /200 and /503 switch every export on
 * and off in the registries, /status, /registry/list, /metrics (Prometheus text), /version,
 * and / answering with the agent's status code (for load balancer checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include <motan/observe.h>

#include "agent.h"

void agent_http_send(struct evhttp_request *h, int status, const char *type, const char *body,
                     size_t len)
{
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(h), "Content-Type", type);
    if (out)
        evbuffer_add(out, body, len);
    evhttp_send_reply(h, status, NULL, out);
    if (out)
        evbuffer_free(out);
}

static void send_json(struct evhttp_request *h, char *text)
{
    if (!text) {
        evhttp_send_error(h, 500, "out of memory");
        return;
    }
    agent_http_send(h, 200, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

typedef struct count_args {
    const char *service;
    uint64_t n;
} count_args;

/* Requests the export server answered for one service (the metrics filter's series). */
static int count_server_calls(const motan_stats_series *s, void *userdata)
{
    count_args *a = userdata;
    if (s->kind == MOTAN_STATS_CALL && !strcmp(s->side, "server") && !strcmp(s->service, a->service))
        a->n += s->count;
    return 0;
}

char *manage_status(agent *ag)
{
    json_t *services = json_array(), *root = json_object(), *body = json_object();
    uint64_t total = 0;
    for (export_service *s = ag->services; s; s = s->next) {
        count_args ca = {s->c.path, 0};
        motan_stats_walk(ag->stats, count_server_calls, &ca);
        uint64_t n = ca.n;
        total += n;
        json_array_append_new(services,
                              json_pack("{s:s, s:s, s:b, s:b, s:I}", "group", s->c.group, "name",
                                        s->c.path, "registered", s->registered, "backend_up",
                                        backend_up(s->be), "period_call_count", (json_int_t)n));
    }
    json_object_set_new(body, "status", json_integer(ag->available ? 200 : 503));
    json_object_set_new(body, "service_period_call_count", json_integer((json_int_t)total));
    json_object_set_new(body, "services", services);
    json_object_set_new(root, "code", json_integer(200));
    json_object_set_new(root, "body", body);
    char *text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

char *manage_registry_list(agent *ag)
{
    json_t *subs = json_array(), *regs = json_array();
    for (refer *rf = ag->refers; rf; rf = rf->next) {
        motan_cluster *cl = motan_client_get_cluster(rf->client);
        json_t *eps = json_array();
        size_t fused = 0;
        for (size_t i = 0, n = motan_cluster_endpoint_count(cl); i < n; i++) {
            motan_endpoint *e = motan_cluster_endpoint_at(cl, i);
            int avail = motan_endpoint_is_available(e);
            fused += !avail;
            json_array_append_new(eps, json_pack("{s:s, s:b, s:b, s:I}", "address",
                                                 motan_endpoint_get_address(e), "available", avail,
                                                 "fused", !avail, "in_flight",
                                                 (json_int_t)motan_endpoint_inflight(e)));
        }
        char status[512];
        motan_client_registry_status(rf->client, status, sizeof(status));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "id", rf->c.id, "service",
                              rf->c.path, "group", rf->c.group, "registry", rf->c.registry, "url",
                              rf->c.url, "registry_error", status, "fused", (json_int_t)fused,
                              "endpoints", eps);
        if (o && rf->c.version)
            json_object_set_new(o, "version", json_string(rf->c.version));
        json_array_append_new(subs, o);
    }
    for (export_service *s = ag->services; s; s = s->next) {
        char *u = motan_url_format(s->node);
        json_array_append_new(regs, json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b, s:s}", "id", s->c.id,
                                              "service", s->c.path, "group", s->c.group, "registry",
                                              s->c.registry, "registered", s->registered,
                                              "backend_up", backend_up(s->be), "url", u ? u : ""));
        motan_free(u);
    }
    json_t *root = json_pack("{s:i, s:s, s:{s:o, s:o}}", "code", 200, "message", "ok", "body",
                             "register_nodes", regs, "subscribe_nodes", subs);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return text;
}

static void write_metrics(agent *ag, struct evbuffer *out)
{
    /* the calls, attempts and endpoints: the library's statistics (the metrics filter) */
    char *text = NULL;
    size_t len = 0;
    if (motan_stats_prometheus(&ag->stats, 1, &text, &len) == MOTAN_OK)
        evbuffer_add(out, text, len);
    motan_free(text);
    if (ag->refers)
        prom_family(out, "motan_agent_fused_endpoints", "gauge", "Endpoints of the refer that are fused.");
    for (refer *rf = ag->refers; rf; rf = rf->next) {
        motan_cluster *cl = motan_client_get_cluster(rf->client);
        size_t fused = 0;
        for (size_t i = 0, n = motan_cluster_endpoint_count(cl); i < n; i++)
            fused += !motan_endpoint_is_available(motan_cluster_endpoint_at(cl, i));
        const char *l[] = {"service", rf->c.path, "group", rf->c.group};
        prom_sample(out, "motan_agent_fused_endpoints", l, 2, (double)fused);
    }
    if (ag->services)
        prom_family(out, "motan_agent_backend_up", "gauge", "1 while the service's HTTP backend answers.");
    for (export_service *s = ag->services; s; s = s->next) {
        const char *l[] = {"service", s->c.path, "group", s->c.group};
        prom_sample(out, "motan_agent_backend_up", l, 2, backend_up(s->be));
    }
    if (ag->services)
        prom_family(out, "motan_agent_backend_connections", "gauge",
                    "Open HTTP connections to the service's backend.");
    for (export_service *s = ag->services; s; s = s->next) {
        const char *l[] = {"service", s->c.path, "group", s->c.group};
        prom_sample(out, "motan_agent_backend_connections", l, 2, backend_conns(s->be));
    }
    if (ag->services)
        prom_family(out, "motan_agent_backend_connects_total", "counter",
                    "HTTP connections opened to the service's backend.");
    for (export_service *s = ag->services; s; s = s->next) {
        const char *l[] = {"service", s->c.path, "group", s->c.group};
        prom_sample(out, "motan_agent_backend_connects_total", l, 2, (double)backend_connects(s->be));
    }
    if (ag->services)
        prom_family(out, "motan_agent_service_registered", "gauge", "1 while the service is registered.");
    for (export_service *s = ag->services; s; s = s->next) {
        const char *l[] = {"service", s->c.path, "group", s->c.group};
        prom_sample(out, "motan_agent_service_registered", l, 2, s->registered);
    }
    prom_family(out, "motan_agent_connections", "gauge", "Open motan2 connections by listener.");
    const char *lf[] = {"listener", "forward"}, *le[] = {"listener", "export"};
    prom_sample(out, "motan_agent_connections", lf, 1, (double)motan_server_stat(ag->fwd, "connections"));
    prom_sample(out, "motan_agent_connections", le, 1, (double)motan_server_stat(ag->exp, "connections"));
    prom_family(out, "motan_agent_unrouted_requests_total", "counter",
                "Forward requests for a service no refer serves.");
    prom_sample(out, "motan_agent_unrouted_requests_total", NULL, 0, (double)ag->unrouted);
    prom_family(out, "motan_agent_available", "gauge", "1 after /200, 0 after /503.");
    prom_sample(out, "motan_agent_available", NULL, 0, ag->available);
    prom_family(out, "motan_agent_resident_memory_bytes", "gauge", "Resident set size of the agent.");
    prom_sample(out, "motan_agent_resident_memory_bytes", NULL, 0, (double)agent_rss());
    prom_family(out, "motan_agent_uptime_seconds", "gauge", "Seconds since the agent started.");
    prom_sample(out, "motan_agent_uptime_seconds", NULL, 0,
                (double)((motan_now_us() - ag->started_us) / 1000000));
    prom_family(out, "motan_agent_info", "gauge", "The libmotan version of the agent.");
    const char *lv[] = {"version", motan_version()};
    prom_sample(out, "motan_agent_info", lv, 1, 1);
}

static void on_request(struct evhttp_request *h, void *userdata)
{
    agent *ag = userdata;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(h);
    const char *path = evhttp_uri_get_path(uri);
    if (!path || !*path)
        path = "/";
    if (!strcmp(path, "/200") || !strcmp(path, "/503")) {
        int on = path[1] == '2';
        agent_log(LOG_INFO, "management: %s: every export %s", path, on ? "on" : "off");
        services_set_available(ag, on);
        agent_http_send(h, 200, "text/plain", "ok.", 3);
    } else if (!strcmp(path, "/status")) {
        send_json(h, manage_status(ag));
    } else if (!strcmp(path, "/registry/list")) {
        send_json(h, manage_registry_list(ag));
    } else if (!strcmp(path, "/metrics")) {
        struct evbuffer *out = evbuffer_new();
        if (!out) {
            evhttp_send_error(h, 500, "out of memory");
            return;
        }
        write_metrics(ag, out);
        evhttp_add_header(evhttp_request_get_output_headers(h), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(h, 200, "OK", out);
        evbuffer_free(out);
    } else if (!strcmp(path, "/version")) {
        agent_http_send(h, 200, "text/plain", motan_version(), strlen(motan_version()));
    } else if (!strcmp(path, "/")) {
        int st = ag->available ? 200 : 503;
        const char *t = st == 200 ? "OK" : "Service Unavailable";
        agent_http_send(h, st, "text/plain", t, strlen(t));
    } else {
        agent_http_send(h, 404, "text/plain", "not found", 9);
    }
}

int manage_start(agent *ag, int port, char *err, size_t errlen)
{
    ag->mhttp = evhttp_new(ag->base);
    if (!ag->mhttp) {
        snprintf(err, errlen, "mport: out of memory");
        return -1;
    }
    evhttp_set_allowed_methods(ag->mhttp, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT);
    evhttp_set_gencb(ag->mhttp, on_request, ag);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(ag->mhttp, "0.0.0.0", (ev_uint16_t)port);
    if (!s) {
        snprintf(err, errlen, "mport: cannot listen on port %d", port);
        return -1;
    }
    ag->mport = agent_bound_port(evhttp_bound_socket_get_fd(s));
    return 0;
}
