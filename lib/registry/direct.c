/*
 * The direct registry: direct://h1:p1,h2:p2[,[unix:/path]]?params. Every subscribed service
 * gets one list, once: motan2://<addr>/<service path>?group=<service group> for each address,
 * plus every parameter of the registry URL. Nothing to watch, nothing to publish.
 */
#include <stdio.h>

#include "registry/registry_int.h"

typedef struct direct_state {
    motan_url *url; /* the registry URL */
    motan__rsubs subs;
} direct_state;

static void free_state(void *owner)
{
    direct_state *st = owner;
    motan__rsubs_close(&st->subs);
    motan_url_free(st->url);
    motan_free(st);
}

static int direct_create(motan_loop *loop, const motan_url *url, void **state, char *errbuf,
                         size_t errlen)
{
    if (!motan_url_addr_count(url))
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "direct registry: no address (direct://host:port[,host:port...])");
    for (size_t i = 0; i < motan_url_addr_count(url); i++)
        if (!motan_url_addr_is_unix(url, i) && !motan_url_addr_port(url, i))
            return motan__errf(errbuf, errlen, MOTAN_EURL,
                               "direct registry: address %s needs a port 1..65535 (none or port 0 "
                               "given)",
                               motan_url_addr_host(url, i));
    direct_state *st = motan__calloc(1, sizeof(*st));
    if (!st)
        return MOTAN_ENOMEM;
    st->url = motan_url_clone(url);
    if (!st->url || motan__rsubs_init(&st->subs, motan_loop_get_base(loop), st) != MOTAN_OK) {
        free_state(st);
        return MOTAN_ENOMEM;
    }
    st->subs.free_owner = free_state;
    *state = st;
    return MOTAN_OK;
}

static void direct_destroy(void *state)
{
    direct_state *st = state;
    if (!motan__rsubs_defer_free(&st->subs))
        free_state(st);
}

/* The node of address i for service v. */
static motan_url *make_node(const direct_state *st, size_t i, const motan__rsvc *v)
{
    motan_url *u = motan_url_new("motan2");
    if (!u)
        return NULL;
    const motan_url *r = st->url;
    char host[512];
    int n = snprintf(host, sizeof(host), "%s%s", motan_url_addr_is_unix(r, i) ? "unix:" : "",
                     motan_url_addr_host(r, i));
    int rc = n < 0 || (size_t)n >= sizeof(host) ? MOTAN_EINVAL : MOTAN_OK;
    if (rc == MOTAN_OK)
        rc = motan_url_add_addr(u, host, motan_url_addr_port(r, i));
    if (rc == MOTAN_OK)
        rc = motan_url_set_path(u, v->path);
    if (rc == MOTAN_OK)
        rc = motan_url_set_param(u, "group", v->group);
    for (size_t p = 0; rc == MOTAN_OK && p < motan_url_param_count(r); p++)
        if (strcmp(motan_url_param_key(r, p), "group"))
            rc = motan_url_set_param(u, motan_url_param_key(r, p), motan_url_param_value(r, p));
    if (rc != MOTAN_OK) {
        motan_url_free(u);
        return NULL;
    }
    return u;
}

static int direct_subscribe(void *state, const motan_url *service, motan_registry_listener cb,
                            void *userdata)
{
    direct_state *st = state;
    motan__rsvc *v;
    int created;
    int rc = motan__rsubs_add(&st->subs, service, cb, userdata, &v, &created);
    if (rc != MOTAN_OK || !created)
        return rc;
    size_t n = motan_url_addr_count(st->url);
    motan_url **nodes = motan__calloc(n, sizeof(*nodes));
    for (size_t i = 0; nodes && i < n; i++) {
        nodes[i] = make_node(st, i, v);
        if (!nodes[i]) {
            motan__rsubs_free_nodes(nodes, i);
            nodes = NULL;
        }
    }
    if (!nodes) {
        motan__rsubs_remove(&st->subs, service, cb, userdata);
        return MOTAN_ENOMEM;
    }
    motan__rsubs_set(&st->subs, v, nodes, n);
    return MOTAN_OK;
}

static int direct_unsubscribe(void *state, const motan_url *service, motan_registry_listener cb,
                              void *userdata)
{
    direct_state *st = state;
    return motan__rsubs_remove(&st->subs, service, cb, userdata);
}

const motan_registry_ops motan__registry_direct = {
    .struct_size = sizeof(motan_registry_ops),
    .scheme = "direct",
    .create = direct_create,
    .destroy = direct_destroy,
    .subscribe = direct_subscribe,
    .unsubscribe = direct_unsubscribe,
    /* No register_node / unregister_node: the front end answers MOTAN_EUNSUPPORTED. */
    .errmsg = NULL,
};
