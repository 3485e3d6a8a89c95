/*
 * Listening sockets (TCP "host:port", "[v6]:port", Unix "unix:/path") and accepting, with
 * the maxConnections limit: a connection past it is accepted and reset at once, so the
 * client learns at once instead of waiting in the backlog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/server_int.h"

#define BACKLOG 4096

static void on_accept(evutil_socket_t fd, short what, void *arg);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    motan__slistener *l = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    event_add(&l->ev, NULL);
}

static void refuse(int fd)
{
    struct linger lg = {1, 0}; /* an RST: the client sees the refusal at once */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    motan__slistener *l = arg;
    motan_server *s = l->srv;
    MOTAN_UNUSED(what);
    for (int i = 0; i < 256; i++) { /* a bounded batch: other events get their turn */
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: back off instead of spinning on a ready listener. */
                struct timeval tv = {0, 100000};
                event_del(&l->ev);
                event_add(&l->retry_ev, &tv);
            }
            return;
        }
        if (s->max_conns && atomic_load(&s->st_connections) >= s->max_conns) {
            atomic_fetch_add(&s->st_refused, 1);
            refuse(fd);
            continue;
        }
        if (!l->unix_path) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (motan__sconn_new(s, fd, l->unix_path != NULL))
            atomic_fetch_add(&s->st_accepted, 1);
    }
}

/* "host:port" or "[v6]:port" into host and port text; MOTAN_EINVAL when malformed. */
static int split_hostport(const char *a, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon;
    const char *h = a;
    size_t n;
    if (*a == '[') {
        const char *close = strchr(a, ']');
        if (!close || close[1] != ':')
            return MOTAN_EINVAL;
        h = a + 1;
        n = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(a, ':');
        if (!colon)
            return MOTAN_EINVAL;
        n = (size_t)(colon - a);
    }
    if (n >= hlen || strlen(colon + 1) >= plen || !colon[1])
        return MOTAN_EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    strcpy(port, colon + 1);
    return MOTAN_OK;
}

static int open_tcp(const char *address, int *port, char *errbuf, size_t errlen)
{
    char host[256], ports[16];
    if (split_hostport(address, host, sizeof(host), ports, sizeof(ports)) != MOTAN_OK)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL,
                           "bad listen address \"%s\" (host:port, [v6]:port or unix:/path)",
                           address);
    char *end;
    long p = strtol(ports, &end, 10);
    if (*end || p < 0 || p > 65535)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "bad port in \"%s\"", address);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(*host ? host : NULL, ports, &hints, &res);
    if (gai != 0 || !res)
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot resolve \"%s\": %s", host,
                           gai_strerror(gai));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* SO_REUSEADDR: a restarted server gets its port back while old connections linger. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, BACKLOG)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot listen on %s: %s", address,
                           strerror(e));
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int open_unix(const char *path, char *errbuf, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    if (!*path || strlen(path) >= sizeof(sa.sun_path))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "bad Unix socket path \"%s\"", path);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* A socket left behind by a killed server would make bind fail; other files stay. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot listen on unix:%s: %s", path,
                           strerror(e));
    }
    if (listen(fd, BACKLOG)) {
        int e = errno;
        close(fd);
        unlink(path);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot listen on unix:%s: %s", path,
                           strerror(e));
    }
    return fd;
}

static void listener_free(motan__slistener *l)
{
    event_del(&l->ev);
    event_del(&l->retry_ev);
    if (l->fd >= 0)
        close(l->fd);
    if (l->unix_path) {
        unlink(l->unix_path); /* only a path we bound is ours to remove */
        motan_free(l->unix_path);
    }
    motan_free(l);
}

/*
 * The socket is made on the calling thread: a host name is resolved there (the system
 * resolver blocks), never on a built-in loop that serves calls meanwhile.
 */
int motan__srv_listener_open(const char *address, motan__slistener **out, char *errbuf,
                             size_t errlen)
{
    motan__slistener *l = motan__calloc(1, sizeof(*l));
    if (!l)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    int is_unix = !strncmp(address, "unix:", 5);
    if (is_unix && !(l->unix_path = motan__strdup(address + 5))) {
        motan_free(l);
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    }
    l->fd = is_unix ? open_unix(address + 5, errbuf, errlen)
                    : open_tcp(address, &l->port, errbuf, errlen);
    if (l->fd < 0) {
        int rc = l->fd;
        motan_free(l->unix_path);
        motan_free(l);
        return rc;
    }
    *out = l;
    return MOTAN_OK;
}

void motan__srv_listener_discard(motan__slistener *l)
{
    close(l->fd);
    if (l->unix_path) {
        unlink(l->unix_path);
        motan_free(l->unix_path);
    }
    motan_free(l);
}

/* Loop thread: l starts accepting for s (on failure it is discarded). */
int motan__srv_listener_attach(motan_server *s, motan__slistener *l, char *errbuf,
                               size_t errlen)
{
    l->srv = s;
    event_assign(&l->ev, s->base, l->fd, EV_READ | EV_PERSIST, on_accept, l);
    event_assign(&l->retry_ev, s->base, -1, 0, on_retry, l);
    if (event_add(&l->ev, NULL)) {
        listener_free(l);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot watch the listener");
    }
    l->next = s->listeners;
    s->listeners = l;
    return MOTAN_OK;
}

void motan__srv_listeners_close(motan_server *s)
{
    while (s->listeners) {
        motan__slistener *l = s->listeners;
        s->listeners = l->next;
        listener_free(l);
    }
}

int motan__srv_tcp_port(const motan_server *s)
{
    int port = 0;
    for (const motan__slistener *l = s->listeners; l; l = l->next)
        if (!l->unix_path)
            port = l->port; /* the list is newest first: the last TCP one is the first opened */
    return port;
}
