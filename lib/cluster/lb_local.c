/*
 * localFirst: endpoints on this machine first, chosen by activeWeight among themselves;
 * when none of them qualifies, activeWeight among all.
 *
 * "On this machine" is decided at update time, without DNS (picks run on the loop): a Unix
 * socket, "localhost", the host name of this machine, 127.0.0.0/8, ::1 (also IPv4-mapped),
 * or an address of one of the interfaces getifaddrs lists then. A name that merely resolves
 * to a local address is not recognised.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/lb_int.h"

typedef struct local_state {
    uint64_t rng;
    size_t n;        /* endpoints the classification was made for */
    uint32_t *local; /* indices of the local ones */
    size_t nlocal;
} local_state;

/* This machine's interface addresses, for one update. */
typedef struct ifaddr_set {
    struct ifaddrs *list;
    char hostname[256];
} ifaddr_set;

static int is_loopback(int family, const void *addr)
{
    if (family == AF_INET)
        return ((const uint8_t *)addr)[0] == 127;
    const struct in6_addr *a6 = addr;
    if (IN6_IS_ADDR_LOOPBACK(a6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
}

static int on_interface(const ifaddr_set *set, int family, const void *addr)
{
    for (const struct ifaddrs *i = set->list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != family)
            continue;
        if (family == AF_INET) {
            const struct sockaddr_in *s = (const void *)i->ifa_addr;
            if (!memcmp(&s->sin_addr, addr, sizeof(s->sin_addr)))
                return 1;
        } else {
            const struct sockaddr_in6 *s = (const void *)i->ifa_addr;
            if (!memcmp(&s->sin6_addr, addr, sizeof(s->sin6_addr)))
                return 1;
        }
    }
    return 0;
}

static int is_local(const ifaddr_set *set, const motan_endpoint *e)
{
    const motan_url *u = motan_endpoint_get_url(e);
    if (!u || motan_url_addr_count(u) == 0)
        return 0;
    if (motan_url_addr_is_unix(u, 0))
        return 1;
    const char *host = motan_url_addr_host(u, 0);
    if (!host || !*host)
        return 0;
    if (!strcasecmp(host, "localhost") || (set->hostname[0] && !strcasecmp(host, set->hostname)))
        return 1;
    struct in6_addr a; /* large enough for either family */
    int family = inet_pton(AF_INET, host, &a) == 1    ? AF_INET
                 : inet_pton(AF_INET6, host, &a) == 1 ? AF_INET6
                                                      : 0;
    return family && (is_loopback(family, &a) || on_interface(set, family, &a));
}

static void *local_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    local_state *st = motan__calloc(1, sizeof(*st));
    if (st)
        st->rng = motan__lb_seed(st);
    return st;
}

static void local_clear(local_state *st)
{
    motan_free(st->local);
    st->local = NULL;
    st->n = st->nlocal = 0;
}

static void local_destroy(void *state)
{
    local_clear(state);
    motan_free(state);
}

static void local_update(void *state, motan_endpoint *const *eps, size_t n)
{
    local_state *st = state;
    local_clear(st);
    if (n == 0 || n > UINT32_MAX)
        return;
    st->local = motan_malloc(n * sizeof(*st->local));
    if (!st->local)
        return; /* picks fall back to activeWeight among all until the next update */
    ifaddr_set set = {0};
    if (getifaddrs(&set.list) != 0)
        set.list = NULL;
    if (gethostname(set.hostname, sizeof(set.hostname) - 1) != 0)
        set.hostname[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (is_local(&set, eps[i]))
            st->local[st->nlocal++] = (uint32_t)i;
    if (set.list)
        freeifaddrs(set.list);
    st->n = n;
}

static motan_endpoint *local_pick(void *state, const motan_request *req,
                                  motan_endpoint *const *eps, size_t n,
                                  motan_endpoint *const *exclude, size_t nexclude)
{
    local_state *st = state;
    MOTAN_UNUSED(req);
    if (st->n == n && st->nlocal) {
        motan_endpoint *e =
            motan__lb_least_active(&st->rng, eps, st->local, st->nlocal, exclude, nexclude);
        if (e)
            return e;
    }
    return motan__lb_least_active(&st->rng, eps, NULL, n, exclude, nexclude);
}

const motan_lb_ops motan__lb_local = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "localFirst",
    .create = local_create,
    .destroy = local_destroy,
    .update = local_update,
    .pick = local_pick,
};
