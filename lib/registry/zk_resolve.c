/*
 * The ensemble's addresses for zookeeper_init. The C client would resolve host names with a
 * blocking getaddrinfo on the loop thread; here every name is resolved on the loop's evdns
 * first (all at once) and the client gets every address each name resolved to, as
 * "ip:port,ip:port" (it tries them in turn). Addresses in the URL need no resolver.
 */
#include <stdio.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "registry/zk_int.h"
#include "transport/sock.h"

int motan__zk_hosts_init(motan__zk *z, const motan_url *url, char *errbuf, size_t errlen)
{
    size_t n = motan_url_addr_count(url), cap = 1;
    if (n == 0)
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "zookeeper registry URL has no host:port (zookeeper://h:p[,h:p]/...)");
    for (size_t i = 0; i < n; i++) {
        const char *h = motan_url_addr_host(url, i);
        int port = motan_url_addr_port(url, i);
        if (motan_url_addr_is_unix(url, i) || !*h || port <= 0 || port > 65535)
            return motan__errf(errbuf, errlen, MOTAN_EURL,
                               "zookeeper registry address %zu is not host:port", i + 1);
        cap += strlen(h) + 8;
    }
    z->ens = motan__calloc(n, sizeof(*z->ens));
    z->hosts = motan_malloc(cap);
    if (!z->ens || !z->hosts)
        return MOTAN_ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const char *h = motan_url_addr_host(url, i);
        int port = motan_url_addr_port(url, i);
        if (!(z->ens[i].name = motan__strdup(h)))
            return MOTAN_ENOMEM;
        z->ens[i].port = port;
        z->nens = i + 1;
        off += (size_t)snprintf(z->hosts + off, cap - off, "%s%s:%d", i ? "," : "", h, port);
    }
    return MOTAN_OK;
}

void motan__zk_resolve_cancel(motan__zk *z)
{
    for (size_t i = 0; i < z->nens; i++) {
        motan__zk_host *h = &z->ens[i];
        if (h->req) {
            struct evdns_getaddrinfo_request *r = h->req;
            h->req = NULL;
            evdns_getaddrinfo_cancel(r); /* calls resolved() with EVUTIL_EAI_CANCEL */
        }
        if (h->res) {
            evutil_freeaddrinfo(h->res);
            h->res = NULL;
        }
        h->pending = 0;
    }
    z->resolving = 0;
}

void motan__zk_hosts_free(motan__zk *z)
{
    motan__zk_resolve_cancel(z);
    for (size_t i = 0; i < z->nens; i++)
        motan_free(z->ens[i].name);
    motan_free(z->ens);
    z->ens = NULL;
    z->nens = 0;
    motan_free(z->hosts);
    z->hosts = NULL;
}

/* Every answer is in: the address list, or why there is none. */
static void finish(motan__zk *z)
{
    size_t cap = 1, off = 0;
    for (size_t i = 0; i < z->nens; i++)
        for (struct evutil_addrinfo *ai = z->ens[i].res; ai; ai = ai->ai_next)
            cap += INET6_ADDRSTRLEN + 8;
    char *list = motan_malloc(cap);
    char why[MOTAN_ZK_ERRLEN] = "";
    for (size_t i = 0; i < z->nens && list; i++) {
        motan__zk_host *h = &z->ens[i];
        if (!h->res && !why[0])
            snprintf(why, sizeof(why), "cannot resolve %s: %s", h->name,
                     h->err ? evutil_gai_strerror(h->err) : "no address");
        for (struct evutil_addrinfo *ai = h->res; ai; ai = ai->ai_next) {
            char ip[64];
            motan__sock_addr_text(ai, ip, sizeof(ip));
            if (ip[0] == '?')
                continue;
            off += (size_t)snprintf(list + off, cap - off, "%s%s:%d", off ? "," : "", ip, h->port);
        }
        if (h->res)
            evutil_freeaddrinfo(h->res); /* not NULL: libevent's does not take it */
        h->res = NULL;
    }
    z->resolving = 0;
    if (list && !off) {
        motan_free(list);
        list = NULL;
    }
    motan__zk_resolved(z, list, list ? NULL : why[0] ? why : "out of memory");
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    motan__zk_host *h = arg;
    motan__zk *z = h->z;
    if (result == EVUTIL_EAI_CANCEL) {
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    h->req = NULL;
    h->res = res;
    h->err = result;
    h->pending = 0;
    for (size_t i = 0; i < z->nens; i++)
        if (z->ens[i].pending)
            return;
    if (z->resolving)
        finish(z);
}

void motan__zk_resolve(motan__zk *z)
{
    motan__zk_resolve_cancel(z);
    z->resolving = 1;
    struct evdns_base *dns = NULL;
    for (size_t i = 0; i < z->nens; i++)
        z->ens[i].pending = 1;
    for (size_t i = 0; i < z->nens && z->resolving; i++) {
        motan__zk_host *h = &z->ens[i];
        h->z = z;
        char port[16];
        struct evutil_addrinfo hints, *res = motan__sock_numeric(h->name, h->port, &hints, port);
        if (res) {
            resolved(0, res, h);
            continue;
        }
        if (!dns && !(dns = motan_loop_get_dns(z->loop))) {
            resolved(EVUTIL_EAI_FAIL, NULL, h);
            continue;
        }
        struct evdns_getaddrinfo_request *r = evdns_getaddrinfo(dns, h->name, port, &hints,
                                                                resolved, h);
        if (h->pending) /* not answered at once */
            h->req = r;
    }
}
