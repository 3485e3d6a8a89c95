/*
 * --register URL: the server publishes itself as
 * motan2://127.0.0.1:<port>/com.example.EchoService?group=<G>&nodeType=service[&weight=N]
 * through the library's registry API, on a motan_loop wrapping the server's own event_base.
 * The registry retries in the background when it cannot be reached; SIGTERM unregisters.
 */
#include <stdio.h>
#include <string.h>

#include "srv.h"

static motan_url *node_url(const srv_server *s)
{
    char weight[16];
    motan_url *u = motan_url_new("motan2");
    snprintf(weight, sizeof(weight), "%d", s->opt.weight);
    if (!u || motan_url_add_addr(u, "127.0.0.1", s->port) ||
        motan_url_set_path(u, SRV_SERVICE) ||
        motan_url_set_param(u, "group", s->opt.group ? s->opt.group : "default_rpc") ||
        motan_url_set_param(u, "nodeType", "service") ||
        (s->opt.weight && motan_url_set_param(u, "weight", weight))) {
        motan_url_free(u);
        return NULL;
    }
    return u;
}

int srv_registry_start(srv_server *s)
{
    char err[512] = "";
    motan_url *reg_url = NULL;
    int rc = motan_loop_new_with_base(s->base, &s->loop, err, sizeof(err));
    if (rc == MOTAN_OK)
        rc = motan_url_parse(s->opt.register_url, strlen(s->opt.register_url), &reg_url, err,
                             sizeof(err));
    if (rc == MOTAN_OK)
        rc = motan_registry_new(s->loop, reg_url, &s->registry, err, sizeof(err));
    motan_url_free(reg_url);
    if (rc == MOTAN_OK && !(s->node = node_url(s)))
        rc = MOTAN_ENOMEM;
    if (rc == MOTAN_OK && (rc = motan_registry_register(s->registry, s->node)) != MOTAN_OK)
        motan_registry_errmsg(s->registry, err, sizeof(err));
    if (rc != MOTAN_OK) {
        fprintf(stderr, "motan-test-server: --register %s: %s%s%s\n", s->opt.register_url,
                motan_strerror(rc), *err ? ": " : "", err);
        return -1;
    }
    char *text = motan_url_format(s->node);
    srv_log(s, "registering %s in %s", text ? text : "?", s->opt.register_url);
    motan_free(text);
    return 0;
}

void srv_registry_stop(srv_server *s)
{
    if (s->registry) {
        motan_registry_unregister(s->registry, s->node);
        motan_registry_free(s->registry);
        s->registry = NULL;
    }
    motan_url_free(s->node);
    s->node = NULL;
    if (s->loop) {
        motan_loop_free(s->loop);
        s->loop = NULL;
    }
}
