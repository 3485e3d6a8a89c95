/*
 * --refuse and --no-read, which no real server does and the layer does not offer: a socket
 * that is bound but never listens (connects are refused), or one that accepts connections
 * and never reads from them (requests are never answered).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "srv.h"

#define MAX_HELD 4096

static int held[MAX_HELD]; /* accepted, never read; closed at exit */
static int nheld;

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    (void)arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (nheld < MAX_HELD)
            held[nheld++] = fd;
        else
            close(fd);
    }
}

static int bind_tcp(srv_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    s->dud_fd = fd;
    int one = 1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->opt.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &sl))
        return -1;
    s->port = ntohs(sa.sin_port);
    return 0;
}

static int bind_unix(srv_server *s)
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
    s->dud_fd = fd; /* only a bound path is ours to unlink */
    return 0;
}

int srv_dud_open(srv_server *s)
{
    int rc = s->opt.unix_path ? bind_unix(s) : bind_tcp(s);
    if (rc == 0 && s->opt.no_read && listen(s->dud_fd, 4096))
        rc = -1;
    if (rc) {
        fprintf(stderr, "motan-test-server: cannot listen on %s: %s\n",
                s->opt.unix_path ? s->opt.unix_path : "127.0.0.1", strerror(errno));
        return -1;
    }
    if (s->opt.refuse)
        return 0;
    s->dud_ev = event_new(s->base, s->dud_fd, EV_READ | EV_PERSIST, on_accept, s);
    if (!s->dud_ev || event_add(s->dud_ev, NULL)) {
        fprintf(stderr, "motan-test-server: cannot watch the listener\n");
        return -1;
    }
    return 0;
}

void srv_dud_close(srv_server *s)
{
    if (s->dud_ev)
        event_free(s->dud_ev);
    s->dud_ev = NULL;
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    nheld = 0;
    if (s->dud_fd >= 0) {
        close(s->dud_fd);
        if (s->opt.unix_path)
            unlink(s->opt.unix_path);
    }
    s->dud_fd = -1;
}
