/*
 * Non-blocking sockets to one resolved address (TCP, IPv4 or IPv6) or a Unix path. Names
 * are resolved by the caller, asynchronously (conn.c): nothing here blocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport/transport_int.h"

static int start_connect(int fd, const struct sockaddr *sa, socklen_t len, int *in_progress)
{
    *in_progress = 0;
    if (connect(fd, sa, len) == 0)
        return fd;
    if (errno == EINPROGRESS || errno == EAGAIN) {
        *in_progress = 1;
        return fd;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int motan__sock_connect_unix(const char *path, int *in_progress)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    return start_connect(fd, (struct sockaddr *)&sun, sizeof(sun), in_progress);
}

int motan__sock_connect_addr(const struct sockaddr *sa, unsigned len, int *in_progress)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return start_connect(fd, sa, (socklen_t)len, in_progress);
}

struct evutil_addrinfo *motan__sock_numeric(const char *host, int port,
                                            struct evutil_addrinfo *hints, char port_text[16])
{
    snprintf(port_text, 16, "%d", port);
    memset(hints, 0, sizeof(*hints));
    hints->ai_family = AF_UNSPEC;
    hints->ai_socktype = SOCK_STREAM;
    hints->ai_protocol = IPPROTO_TCP;
    hints->ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
    struct evutil_addrinfo *res = NULL;
    int rc = evutil_getaddrinfo(host, port_text, hints, &res);
    hints->ai_flags = EVUTIL_AI_NUMERICSERV; /* for the name lookup */
    return rc == 0 ? res : NULL;
}

void motan__sock_addr_text(const struct evutil_addrinfo *ai, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ai->ai_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
    else if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof(ip));
    snprintf(out, len, "%s", ip);
}
