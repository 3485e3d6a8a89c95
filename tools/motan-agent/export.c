/*
 * Exported services (motan-service): a handler per service path on the export server, each
 * request forwarded to the service's HTTP backend (backend.c). A service is registered while
 * the agent is switched on (/200) and its backend answers; /503, a backend going down, a
 * reload that removes it and the drain unregister it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent.h"

motan_registry *agent_registry(agent *ag, const char *url, char *err, size_t errlen)
{
    for (regobj *r = ag->regs; r; r = r->next)
        if (!strcmp(r->url, url))
            return r->reg;
    regobj *r = calloc(1, sizeof(*r));
    motan_url *u = NULL;
    if (!r || !(r->url = strdup(url))) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (motan_url_parse(url, strlen(url), &u, err, errlen) != MOTAN_OK ||
        motan_registry_new(ag->loop, u, &r->reg, err, errlen) != MOTAN_OK) {
        motan_url_free(u);
        free(r->url);
        free(r);
        return NULL;
    }
    motan_url_free(u);
    r->next = ag->regs;
    ag->regs = r;
    return r->reg;
}

static void set_registered(export_service *svc, int on)
{
    if (!svc->reg || on == svc->registered)
        return;
    int rc = on ? motan_registry_register(svc->reg, svc->node)
                : motan_registry_unregister(svc->reg, svc->node);
    char *u = motan_url_format(svc->node);
    if (rc == MOTAN_EUNSUPPORTED)
        agent_log(LOG_INFO, "service %s: registry %s does not publish nodes (%s kept local)",
                  svc->c.id, svc->c.registry, u ? u : "");
    else if (rc != MOTAN_OK)
        agent_log(LOG_ERROR, "service %s: cannot %sregister %s: %s", svc->c.id, on ? "" : "un",
                  u ? u : "", motan_strerror(rc));
    else
        agent_log(LOG_INFO, "service %s: %sregistered %s", svc->c.id, on ? "" : "un", u ? u : "");
    motan_free(u);
    svc->registered = on;
}

/* Registered exactly while the agent is on, not draining, and the backend answers. */
static void update(export_service *svc)
{
    agent *ag = svc->ag;
    set_registered(svc, ag->available && !ag->draining && !svc->retired && backend_up(svc->be));
}

void service_backend_changed(export_service *svc, int up)
{
    const char *why = up ? NULL : backend_why(svc->be);
    agent_log(up ? LOG_INFO : LOG_WARN, "service %s: backend %s is %s%s%s%s", svc->c.id, svc->c.proxy,
              up ? "up" : "down", why ? " (" : "", why ? why : "", why ? ")" : "");
    update(svc);
}

void services_set_available(agent *ag, int available)
{
    ag->available = available;
    for (export_service *s = ag->services; s; s = s->next)
        update(s);
}

void services_unregister_all(agent *ag)
{
    for (export_service *s = ag->services; s; s = s->next)
        set_registered(s, 0);
}

static export_service *find(agent *ag, const char *path, const char *group)
{
    export_service *only = NULL;
    size_t n = 0;
    for (export_service *s = ag->services; s; s = s->next) {
        if (strcmp(s->c.path, path))
            continue;
        if (group && !strcmp(s->c.group, group))
            return s;
        only = s;
        n++;
    }
    return n == 1 ? only : NULL; /* another group's only provider of the path serves too */
}

/* A typed handler: the arguments are decoded by the server before it runs. */
static void on_export(const motan_server_request *q, motan_reply *reply, void *userdata)
{
    agent *ag = userdata;
    const char *path = motan_server_request_service(q, NULL);
    const char *group = motan_server_request_meta(q, "M_g", NULL);
    export_service *svc = find(ag, path, group && *group ? group : NULL);
    if (!svc) {
        char msg[600];
        int n = snprintf(msg, sizeof(msg), "not found provider for %s_%s", group ? group : "", path);
        motan_reply_error(reply, 500, 1, msg, (size_t)(n < 0 ? 0 : n));
        return;
    }
    if (!backend_up(svc->be)) {
        char msg[600];
        const char *why = backend_why(svc->be);
        int n = snprintf(msg, sizeof(msg), "service unavailable: the backend %s of %s is down%s%s%s",
                         svc->c.proxy, svc->c.path, why ? " (" : "", why ? why : "", why ? ")" : "");
        motan_reply_error(reply, 503, 1, msg, (size_t)(n < 0 ? 0 : n));
        return;
    }
    backend_call(svc->be, q, reply);
}

/* While every backend is down the export port says so to heartbeats: motan-go's way. */
void export_heartbeat(const motan_server_request *q, motan_reply *reply, void *userdata)
{
    agent *ag = userdata;
    (void)q;
    int any = ag->services == NULL;
    for (export_service *s = ag->services; s && !any; s = s->next)
        any = backend_up(s->be);
    if (any)
        motan_reply_heartbeat(reply);
    else
        motan_reply_close(reply, 0);
}

static int same(const export_service *s, const conf_service *c, const agent_conf *ac)
{
    const conf_service *o = &s->c;
    if (strcmp(o->id, c->id) || strcmp(o->path, c->path) || strcmp(o->group, c->group) ||
        strcmp(o->node, c->node) || strcmp(o->proxy, c->proxy) || o->port != c->port ||
        o->timeout_ms != c->timeout_ms || o->health_ms != c->health_ms ||
        o->connections != c->connections || !o->registry != !c->registry)
        return 0;
    if (!c->registry)
        return 1;
    const conf_registry *r = conf_registry_find(ac, c->registry);
    return r && s->reg_url && !strcmp(s->reg_url, r->url);
}

static void service_destroy(export_service *s)
{
    backend_free(s->be);
    motan_url_free(s->node);
    free(s->reg_url);
    conf_service_clear(&s->c);
    free(s);
}

/* The export port of c: eport's port (as bound) for eport itself and for port 0. */
static int port_of(agent *ag, const agent_conf *ac, const conf_service *c)
{
    return c->port == ac->eport || c->port == 0 ? ag->eport : c->port;
}

static int listen_port(agent *ag, int port, char *err, size_t errlen)
{
    for (size_t i = 0; i < ag->nexport_ports; i++)
        if (ag->export_ports[i] == port)
            return 0;
    char addr[64];
    snprintf(addr, sizeof(addr), "0.0.0.0:%d", port);
    int *p = realloc(ag->export_ports, (ag->nexport_ports + 1) * sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ag->export_ports = p;
    if (motan_server_listen(ag->exp, addr, NULL, err, errlen) != MOTAN_OK)
        return -1;
    ag->export_ports[ag->nexport_ports++] = port;
    return 0;
}

static export_service *service_new(agent *ag, const agent_conf *ac, const conf_service *c, char *err,
                            size_t errlen)
{
    export_service *s = calloc(1, sizeof(*s));
    char e[512] = "", url[4096];
    if (!s || conf_service_copy(&s->c, c)) {
        free(s);
        snprintf(err, errlen, "%s:%d: motan-service.%s: out of memory", ac->file, c->line, c->id);
        return NULL;
    }
    s->ag = ag;
    int port = port_of(ag, ac, c);
    snprintf(url, sizeof(url), "motan2://%s:%d/%s?%s&nodeType=service", ac->host, port, c->path,
             c->node);
    int ok = motan_url_parse(url, strlen(url), &s->node, e, sizeof(e)) == MOTAN_OK;
    /* the server applies the node's parameters (mingzSize) to the export_service */
    ok = ok && motan_server_export(ag->exp, NULL, url, e, sizeof(e)) == MOTAN_OK;
    ok = ok && listen_port(ag, port, e, sizeof(e)) == 0;
    if (ok && c->registry) {
        const conf_registry *r = conf_registry_find(ac, c->registry);
        s->reg_url = r ? strdup(r->url) : NULL;
        s->reg = s->reg_url ? agent_registry(ag, s->reg_url, e, sizeof(e)) : NULL;
        ok = s->reg != NULL;
    }
    ok = ok && (s->be = backend_new(s, e, sizeof(e))) != NULL;
    if (!ok) {
        snprintf(err, errlen, "%s:%d: motan-service.%s: %s", ac->file, c->line, c->id,
                 e[0] ? e : "out of memory");
        service_destroy(s);
        return NULL;
    }
    return s;
}

/* A path no service exports any more: as if it had never been (the server keeps its name). */
static void on_gone(const motan_server_request *q, motan_reply *reply, void *userdata)
{
    char msg[600];
    (void)userdata;
    int n = snprintf(msg, sizeof(msg), "provider not exist serviceKey=%.500s",
                     motan_server_request_service(q, NULL));
    motan_reply_error(reply, 404, 1, msg, (size_t)(n < 0 ? 0 : n));
}

/* The handler of a path: on_export while any live service has that path. */
static void handlers_sync(agent *ag, const char *path)
{
    for (export_service *s = ag->services; s; s = s->next)
        if (!strcmp(s->c.path, path)) {
            motan_server_handle(ag->exp, path, NULL, on_export, ag);
            return;
        }
    motan_server_handle_raw(ag->exp, path, NULL, on_gone, ag);
}

static void retire(export_service *s)
{
    agent *ag = s->ag;
    s->retired = 1;
    set_registered(s, 0);
    s->next = ag->retired_services;
    ag->retired_services = s;
    handlers_sync(ag, s->c.path);
    if (s->inflight == 0)
        event_active(ag->ev_reap, EV_TIMEOUT, 1);
}

void services_reap(agent *ag)
{
    for (export_service **pp = &ag->retired_services; *pp;) {
        export_service *s = *pp;
        if (s->inflight) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        service_destroy(s);
    }
}

int services_apply(agent *ag, const agent_conf *ac, char *err, size_t errlen)
{
    export_service **kept = calloc(ac->nservices + 1, sizeof(*kept));
    export_service *fresh = NULL, **tail = &fresh;
    if (!kept) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ac->nservices; i++) {
        for (export_service *s = ag->services; s && !kept[i]; s = s->next)
            if (same(s, &ac->services[i], ac))
                kept[i] = s;
        if (kept[i])
            continue;
        export_service *s = service_new(ag, ac, &ac->services[i], err, errlen);
        if (!s) {
            while (fresh) {
                export_service *f = fresh;
                fresh = f->next;
                service_destroy(f);
            }
            free(kept);
            return -1;
        }
        *tail = s;
        tail = &s->next;
    }
    export_service *table = NULL, **tt = &table, *n = fresh;
    for (size_t i = 0; i < ac->nservices; i++) {
        export_service *s = kept[i];
        if (!s) {
            s = n;
            n = n->next;
            agent_log(LOG_INFO, "service %s: exported on port %d, backend http://%s", s->c.id,
                      motan_url_addr_port(s->node, 0), s->c.proxy);
        } else {
            for (export_service **pp = &ag->services; *pp; pp = &(*pp)->next)
                if (*pp == s) {
                    *pp = s->next;
                    break;
                }
        }
        s->next = NULL;
        *tt = s;
        tt = &s->next;
    }
    export_service *old = ag->services;
    ag->services = table;
    while (old) {
        export_service *s = old;
        old = s->next;
        agent_log(LOG_INFO, "service %s: removed", s->c.id);
        retire(s);
    }
    for (export_service *s = ag->services; s; s = s->next) {
        handlers_sync(ag, s->c.path);
        update(s);
    }
    free(kept);
    return 0;
}

void services_free_all(agent *ag)
{
    services_unregister_all(ag);
    for (export_service **list = &ag->services;; list = &ag->retired_services) {
        while (*list) {
            export_service *s = *list;
            *list = s->next;
            service_destroy(s);
        }
        if (list == &ag->retired_services)
            break;
    }
    while (ag->regs) {
        regobj *r = ag->regs;
        ag->regs = r->next;
        motan_registry_free(r->reg);
        free(r->url);
        free(r);
    }
}
