/*
 * Exports: a service's node URL published through a registry the caller created (any the
 * client side knows: ZooKeeper in the Java/Go layout, Consul, file, or a plug-in), kept there
 * by the registry (sessions, TTL checks) and unregistered on drain and free.
 */
#include <stdio.h>

#include "server/server_int.h"

/* Parameters an export URL may carry: published for callers, or configuring the service. */
static const char *const node_keys[] = {"group",       "version", "nodeType",      "weight",
                                        "application", "module",  "serialization", "mingzSize",
                                        "requestTimeout"};

static int check_node(motan_server *s, const motan_url *u, char *errbuf, size_t errlen)
{
    const char *proto = motan_url_get_protocol(u);
    const char *path = motan_url_get_path(u);
    if (!proto || strcmp(proto, "motan2"))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "export URL must be motan2://, not %s://",
                           proto ? proto : "");
    if (!path || !*path)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "export URL names no service");
    if (motan_url_addr_count(u) != 1 || motan_url_addr_is_unix(u, 0) ||
        !*motan_url_addr_host(u, 0))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "export URL needs one host:port");
    for (size_t i = 0; i < motan_url_param_count(u); i++) {
        const char *k = motan_url_param_key(u, i);
        size_t j = 0;
        while (j < sizeof(node_keys) / sizeof(node_keys[0]) && strcmp(node_keys[j], k))
            j++;
        if (j == sizeof(node_keys) / sizeof(node_keys[0])) {
            const char *near = motan__closest(k, node_keys, j);
            return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown export parameter \"%s\"%s%s%s",
                               k, near ? " (did you mean \"" : "", near ? near : "",
                               near ? "\"?)" : "");
        }
    }
    const char *nt = motan_url_get_param(u, "nodeType");
    if (nt && strcmp(nt, "service"))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "an export is nodeType=service, not %s", nt);
    const char *gz = motan_url_get_param(u, "mingzSize");
    return gz ? motan__srv_param(s, path, "mingzSize", gz, errbuf, errlen) : MOTAN_OK;
}

/* *out = u with the listener's port when it says 0, and nodeType=service (owned). */
static int node_for(motan_server *s, const motan_url *u, motan_url **out, char *errbuf,
                    size_t errlen)
{
    int port = motan_url_addr_port(u, 0);
    if (port <= 0 && !(port = motan__srv_tcp_port(s)))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL,
                           "export URL has port 0 and no TCP listener is open");
    motan_url *n = motan_url_new("motan2");
    int rc = n ? motan_url_add_addr(n, motan_url_addr_host(u, 0), port) : MOTAN_ENOMEM;
    if (rc == MOTAN_OK)
        rc = motan_url_set_path(n, motan_url_get_path(u));
    for (size_t i = 0; rc == MOTAN_OK && i < motan_url_param_count(u); i++)
        rc = motan_url_set_param(n, motan_url_param_key(u, i), motan_url_param_value(u, i));
    if (rc == MOTAN_OK && !motan_url_get_param(n, "nodeType"))
        rc = motan_url_set_param(n, "nodeType", "service");
    if (rc != MOTAN_OK) {
        motan_url_free(n);
        return motan__errf(errbuf, errlen, rc, "cannot build the node URL: %s", motan_strerror(rc));
    }
    *out = n;
    return MOTAN_OK;
}

typedef struct export_job {
    motan_server *s;
    motan_registry *reg;
    const char *url;
    char *errbuf;
    size_t errlen;
    int rc;
} export_job;

static void export_on_loop(void *arg)
{
    export_job *j = arg;
    motan_server *s = j->s;
    motan_url *u = NULL, *node = NULL;
    motan__sexport *e = NULL;
    if (s->draining) {
        j->rc = motan__errf(j->errbuf, j->errlen, MOTAN_ECLOSED, "the server is shutting down");
        return;
    }
    j->rc = motan_url_parse(j->url, strlen(j->url), &u, j->errbuf, j->errlen);
    if (j->rc == MOTAN_OK)
        j->rc = check_node(s, u, j->errbuf, j->errlen);
    if (j->rc != MOTAN_OK || !j->reg)
        goto out;
    if ((j->rc = node_for(s, u, &node, j->errbuf, j->errlen)) != MOTAN_OK)
        goto out;
    if (!(e = motan__calloc(1, sizeof(*e)))) {
        j->rc = motan__errf(j->errbuf, j->errlen, MOTAN_ENOMEM, "out of memory");
        goto out;
    }
    j->rc = motan_registry_register(j->reg, node);
    if (j->rc != MOTAN_OK) {
        char why[256];
        motan_registry_errmsg(j->reg, why, sizeof(why));
        motan__errf(j->errbuf, j->errlen, j->rc, "cannot register %s: %s%s%s", j->url,
                    motan_strerror(j->rc), *why ? ": " : "", why);
        goto out;
    }
    e->registry = j->reg;
    e->node = node;
    e->next = s->exports;
    s->exports = e;
    node = NULL;
    e = NULL;
out:
    motan_free(e);
    motan_url_free(node);
    motan_url_free(u);
}

MOTAN_EXPORT int motan_server_export(motan_server *s, motan_registry *registry, const char *url,
                                     char *errbuf, size_t errlen)
{
    if (!s || !url)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "missing server or URL");
    export_job j = {s, registry, url, errbuf, errlen, MOTAN_OK};
    int rc = motan_loop_run_wait(s->loop, export_on_loop, &j);
    return rc == MOTAN_OK ? j.rc : rc;
}

void motan__srv_unexport_all(motan_server *s)
{
    while (s->exports) {
        motan__sexport *e = s->exports;
        s->exports = e->next;
        motan_registry_unregister(e->registry, e->node);
        motan_url_free(e->node);
        motan_free(e);
    }
}
