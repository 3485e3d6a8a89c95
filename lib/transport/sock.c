/* Non-blocking sockets to an endpoint's address: TCP (IPv4, IPv6, names) or Unix. */
#include <errno.h>
#include <netdb.h>
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

static int connect_unix(const char *path, int *in_progress)
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

int motan__sock_connect(const motan_endpoint *ep, int *in_progress)
{
    if (ep->is_unix)
        return connect_unix(ep->host, in_progress);

    char port[16];
    snprintf(port, sizeof(port), "%d", ep->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(ep->host, port, &hints, &res);
    if (gai != 0 || !res) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fd = start_connect(fd, res->ai_addr, res->ai_addrlen, in_progress);
    freeaddrinfo(res);
    return fd;
}
