/* The listening socket (TCP on 127.0.0.1 or Unix) and accepting connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "srv.h"

static void on_accept(evutil_socket_t fd, short what, void *arg);

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    srv_server *s = arg;
    event_add(s->listen_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    srv_server *s = arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: back off instead of spinning on a ready listener. */
                srv_log(s, "accept: %s; pausing 100 ms", strerror(errno));
                struct timeval tv = {0, 100000};
                event_del(s->listen_ev);
                evtimer_add(s->accept_retry_ev, &tv);
            }
            return;
        }
        if (!s->opt.unix_path) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        srv_conn_new(s, fd);
    }
}

static int open_tcp(srv_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    s->listen_fd = fd;
    int one = 1;
    /* So that a restarted server gets its port back while old connections linger. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->opt.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
        return -1;
    socklen_t sl = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &sl))
        return -1;
    s->port = ntohs(sa.sin_port);
    return 0;
}

static int open_unix(srv_server *s)
{
    const char *path = s->opt.unix_path;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* A socket left behind by a killed server would make bind fail. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    s->listen_fd = fd; /* only a bound path is ours to unlink */
    return 0;
}

int srv_listener_open(srv_server *s)
{
    int rc = s->opt.unix_path ? open_unix(s) : open_tcp(s);
    if (rc == 0 && !s->opt.refuse && listen(s->listen_fd, 4096))
        rc = -1;
    if (rc) {
        fprintf(stderr, "motan-test-server: cannot listen on %s: %s\n",
                s->opt.unix_path ? s->opt.unix_path : "127.0.0.1", strerror(errno));
        return -1;
    }
    if (s->opt.refuse)
        return 0;
    s->listen_ev = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST, on_accept, s);
    s->accept_retry_ev = evtimer_new(s->base, on_accept_retry, s);
    if (!s->listen_ev || !s->accept_retry_ev || event_add(s->listen_ev, NULL)) {
        fprintf(stderr, "motan-test-server: cannot watch the listener\n");
        return -1;
    }
    return 0;
}

void srv_listener_close(srv_server *s)
{
    if (s->listen_ev)
        event_free(s->listen_ev);
    if (s->accept_retry_ev)
        event_free(s->accept_retry_ev);
    s->listen_ev = s->accept_retry_ev = NULL;
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        if (s->opt.unix_path)
            unlink(s->opt.unix_path);
    }
    s->listen_fd = -1;
}
