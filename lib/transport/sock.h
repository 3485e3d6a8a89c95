/*
 * Sockets and addresses, shared by the transport and the registries' own clients (ZooKeeper
 * ensemble resolution, the Consul HTTP client). Nothing here blocks: names are resolved by
 * the callers with evdns (motan_loop_get_dns).
 */
#ifndef MOTAN_TRANSPORT_SOCK_H
#define MOTAN_TRANSPORT_SOCK_H

#include <stddef.h>

#include <event2/util.h>

/* A non-blocking TCP (no Nagle) socket connecting to sa; -1 with errno. */
int motan__sock_connect_addr(const struct sockaddr *sa, unsigned len, int *in_progress);
/* A non-blocking socket connecting to a Unix path; -1 with errno. */
int motan__sock_connect_unix(const char *path, int *in_progress);
/*
 * The addresses of host:port when host is a numeric address (owned: evutil_freeaddrinfo),
 * else NULL. Either way hints and port_text are left ready for evdns_getaddrinfo of the name.
 */
struct evutil_addrinfo *motan__sock_numeric(const char *host, int port,
                                            struct evutil_addrinfo *hints, char port_text[16]);
/* ai's IP address as text ("?" when it has none). */
void motan__sock_addr_text(const struct evutil_addrinfo *ai, char *out, size_t len);

#endif
