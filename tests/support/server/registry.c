/*
 * --register URL: the server publishes itself as
 * motan2://127.0.0.1:<port>/com.example.EchoService?group=<G>&nodeType=service[&weight=N]
 * through the layer's export, with a registry of the library on the server's own loop.
 * The registry retries in the background when it cannot be reached; SIGTERM unregisters
 * (freeing the server does) before the registry is freed.
 */
#include <stdio.h>
#include <string.h>

#include "srv.h"

int srv_registry_start(srv_server *s)
{
    char err[512] = "", node[512];
    motan_url *reg_url = NULL;
    int rc = motan_url_parse(s->opt.register_url, strlen(s->opt.register_url), &reg_url, err,
                             sizeof(err));
    if (rc == MOTAN_OK)
        rc = motan_registry_new(s->loop, reg_url, &s->registry, err, sizeof(err));
    motan_url_free(reg_url);
    int n = snprintf(node, sizeof(node), "motan2://127.0.0.1:%d/%s?group=%s&nodeType=service",
                     s->port, SRV_SERVICE, s->opt.group ? s->opt.group : "default_rpc");
    if (s->opt.weight)
        snprintf(node + n, sizeof(node) - (size_t)n, "&weight=%d", s->opt.weight);
    if (rc == MOTAN_OK)
        rc = motan_server_export(s->server, s->registry, node, err, sizeof(err));
    if (rc != MOTAN_OK) {
        fprintf(stderr, "motan-test-server: --register %s: %s%s%s\n", s->opt.register_url,
                motan_strerror(rc), *err ? ": " : "", err);
        return -1;
    }
    srv_log(s, "registering %s in %s", node, s->opt.register_url);
    return 0;
}

void srv_registry_stop(srv_server *s)
{
    motan_registry_free(s->registry);
    s->registry = NULL;
}
