#include "tu_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 32

struct tu_proxy {
    int lfd, port, target;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu;
    int frozen, stop;
    unsigned chop; /* xorshift state, 0: forward as read */
    char buf[256 * 1024];
    int a[MAX_PAIRS], b[MAX_PAIRS]; /* client side, server side; -1: free */
};

static void close_pair(tu_proxy *p, int i)
{
    close(p->a[i]);
    close(p->b[i]);
    p->a[i] = p->b[i] = -1;
}

static unsigned next_rand(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Server to client in random pieces, each sent alone after a short pause. */
static int send_chopped(tu_proxy *p, int fd, const char *buf, size_t n)
{
    while (n) {
        pthread_mutex_lock(&p->mu);
        unsigned r = next_rand(&p->chop), r2 = next_rand(&p->chop);
        pthread_mutex_unlock(&p->mu);
        /* Mostly small pieces, now and then one that ends far into the next frame. */
        size_t piece = r % 4 == 0 ? 1 + r2 % 65536 : 1 + r2 % 3000;
        if (piece > n)
            piece = n;
        usleep(r2 % 300);
        if (send(fd, buf, piece, MSG_NOSIGNAL) != (ssize_t)piece)
            return -1;
        buf += piece;
        n -= piece;
    }
    return 0;
}

static void *run(void *arg)
{
    tu_proxy *p = arg;
    for (;;) {
        struct pollfd fds[2 + 2 * MAX_PAIRS];
        int idx[2 + 2 * MAX_PAIRS], n = 0;
        pthread_mutex_lock(&p->mu);
        int frozen = p->frozen, stop = p->stop, chop = p->chop != 0;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        fds[n] = (struct pollfd){p->wake[0], POLLIN, 0};
        idx[n++] = -1;
        fds[n] = (struct pollfd){p->lfd, POLLIN, 0};
        idx[n++] = -2;
        for (int i = 0; i < MAX_PAIRS && !frozen; i++) {
            if (p->a[i] < 0)
                continue;
            fds[n] = (struct pollfd){p->a[i], POLLIN, 0};
            idx[n++] = i;
            fds[n] = (struct pollfd){p->b[i], POLLIN, 0};
            idx[n++] = MAX_PAIRS + i;
        }
        if (poll(fds, (nfds_t)n, 1000) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!fds[k].revents)
                continue;
            if (idx[k] == -1) {
                char c[16];
                (void)!read(p->wake[0], c, sizeof(c));
            } else if (idx[k] == -2) {
                int c = accept(p->lfd, NULL, NULL);
                if (c < 0)
                    continue;
                struct sockaddr_in t = {.sin_family = AF_INET,
                                        .sin_port = htons((uint16_t)p->target),
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int i = 0;
                while (i < MAX_PAIRS && p->a[i] >= 0)
                    i++;
                if (s < 0 || i == MAX_PAIRS || connect(s, (struct sockaddr *)&t, sizeof(t)) != 0) {
                    close(c);
                    if (s >= 0)
                        close(s);
                    continue;
                }
                p->a[i] = c;
                p->b[i] = s;
            } else {
                int i = idx[k] % MAX_PAIRS, from_a = idx[k] < MAX_PAIRS;
                if (p->a[i] < 0)
                    continue;
                char *buf = p->buf;
                ssize_t r = read(from_a ? p->a[i] : p->b[i], buf, sizeof(p->buf));
                int to = from_a ? p->b[i] : p->a[i];
                if (r <= 0 || (chop && !from_a
                                   ? send_chopped(p, to, buf, (size_t)r)
                                   : send(to, buf, (size_t)r, MSG_NOSIGNAL) != r))
                    close_pair(p, i);
            }
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (p->a[i] >= 0)
            close_pair(p, i);
    return NULL;
}

tu_proxy *tu_proxy_start(int target_port)
{
    tu_proxy *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->target = target_port;
    for (int i = 0; i < MAX_PAIRS; i++)
        p->a[i] = p->b[i] = -1;
    pthread_mutex_init(&p->mu, NULL);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(p->lfd, 16) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&a, &al) != 0 || pipe(p->wake) != 0 ||
        pthread_create(&p->thread, NULL, run, p) != 0) {
        perror("tu_proxy_start");
        abort();
    }
    p->port = ntohs(a.sin_port);
    return p;
}

int tu_proxy_port(const tu_proxy *p) { return p->port; }

void tu_proxy_freeze(tu_proxy *p, int frozen)
{
    pthread_mutex_lock(&p->mu);
    p->frozen = frozen;
    pthread_mutex_unlock(&p->mu);
    (void)!write(p->wake[1], "x", 1);
}

void tu_proxy_chop(tu_proxy *p, unsigned seed)
{
    pthread_mutex_lock(&p->mu);
    p->chop = seed;
    pthread_mutex_unlock(&p->mu);
}

void tu_proxy_stop(tu_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    (void)!write(p->wake[1], "x", 1);
    pthread_join(p->thread, NULL);
    close(p->lfd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
