#include "tu_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>

#define MAX_NAMES 16
#define MAX_PENDING 64

typedef struct entry {
    char name[128];
    char addrs[256]; /* "" with nx set: NXDOMAIN */
    int nx;
    int delay_ms;
    int queries;
} entry;

typedef struct pending {
    uint64_t due_us;
    struct sockaddr_in to;
    uint8_t pkt[512];
    size_t len;
} pending;

struct tu_dns {
    int fd;
    int port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu;
    entry names[MAX_NAMES];
    int nnames;
    pending out[MAX_PENDING];
    int npending;
    int stop;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The question's name as dotted text; the offset just past it in *end. -1 when malformed. */
static int qname(const uint8_t *p, size_t len, size_t *end, char *out, size_t olen)
{
    size_t i = 12, o = 0;
    while (i < len && p[i]) {
        size_t l = p[i++];
        if (l > 63 || i + l > len || o + l + 2 > olen)
            return -1;
        if (o)
            out[o++] = '.';
        memcpy(out + o, p + i, l);
        o += l;
        i += l;
    }
    if (i >= len)
        return -1;
    out[o] = '\0';
    *end = i + 1;
    return 0;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Builds the answer to the question q[0..len) into out; its length, 0 to drop it. */
static size_t answer(tu_dns *d, const uint8_t *q, size_t len, uint8_t *out, int *delay_ms)
{
    char name[256];
    size_t qend;
    if (len < 17 || qname(q, len, &qend, name, sizeof(name)) < 0 || qend + 4 > len)
        return 0;
    unsigned qtype = (unsigned)q[qend] << 8 | q[qend + 1];
    size_t n = qend + 4;
    memcpy(out, q, n); /* id, flags, counts and the question as asked (case kept) */
    out[2] = 0x81; /* response, recursion desired */
    out[3] = 0x80; /* recursion available, NOERROR */
    put16(out + 6, 0);
    put16(out + 8, 0);
    put16(out + 10, 0);
    entry *e = NULL;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->nnames && !e; i++)
        if (!strcasecmp(d->names[i].name, name))
            e = &d->names[i];
    *delay_ms = e ? e->delay_ms : 0;
    if (!e || e->nx) {
        out[3] = 0x83; /* NXDOMAIN */
    } else if (qtype == 1) {
        e->queries++;
        char list[256];
        snprintf(list, sizeof(list), "%s", e->addrs);
        unsigned count = 0;
        for (char *tok = strtok(list, ","); tok && n + 16 <= 512; tok = strtok(NULL, ",")) {
            struct in_addr a;
            if (inet_pton(AF_INET, tok, &a) != 1)
                continue;
            uint8_t rr[16] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
            memcpy(rr + 12, &a, 4);
            memcpy(out + n, rr, 16);
            n += 16;
            count++;
        }
        put16(out + 6, count);
    }
    pthread_mutex_unlock(&d->mu);
    return n;
}

static void *serve(void *arg)
{
    tu_dns *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        int stop = d->stop;
        uint64_t now = now_us(), next = now + 1000000;
        /* Send what is due. */
        for (int i = 0; i < d->npending;) {
            pending *p = &d->out[i];
            if (p->due_us <= now) {
                (void)!sendto(d->fd, p->pkt, p->len, 0, (struct sockaddr *)&p->to, sizeof(p->to));
                d->out[i] = d->out[--d->npending];
                continue;
            }
            if (p->due_us < next)
                next = p->due_us;
            i++;
        }
        pthread_mutex_unlock(&d->mu);
        if (stop)
            return NULL;
        struct pollfd fds[2] = {{d->fd, POLLIN, 0}, {d->wake[0], POLLIN, 0}};
        int ms = (int)((next - now + 999) / 1000);
        if (poll(fds, 2, ms) <= 0)
            continue;
        if (fds[1].revents) {
            char b[16];
            (void)!read(d->wake[0], b, sizeof(b));
        }
        if (!(fds[0].revents & POLLIN))
            continue;
        uint8_t q[512];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (len <= 0)
            continue;
        pending p;
        int delay = 0;
        p.len = answer(d, q, (size_t)len, p.pkt, &delay);
        if (!p.len)
            continue;
        p.to = from;
        p.due_us = now_us() + (uint64_t)delay * 1000u;
        pthread_mutex_lock(&d->mu);
        if (d->npending < MAX_PENDING)
            d->out[d->npending++] = p;
        pthread_mutex_unlock(&d->mu);
    }
}

tu_dns *tu_dns_start(void)
{
    tu_dns *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    pthread_mutex_init(&d->mu, NULL);
    d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(d->fd, (struct sockaddr *)&a, &al) != 0 || pipe(d->wake) != 0 ||
        pthread_create(&d->thread, NULL, serve, d) != 0) {
        perror("tu_dns_start");
        abort();
    }
    d->port = ntohs(a.sin_port);
    return d;
}

void tu_dns_stop(tu_dns *d)
{
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_mutex_unlock(&d->mu);
    (void)!write(d->wake[1], "x", 1);
    pthread_join(d->thread, NULL);
    close(d->fd);
    close(d->wake[0]);
    close(d->wake[1]);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void tu_dns_add(tu_dns *d, const char *name, const char *addrs, int delay_ms)
{
    pthread_mutex_lock(&d->mu);
    if (d->nnames < MAX_NAMES) {
        entry *e = &d->names[d->nnames++];
        snprintf(e->name, sizeof(e->name), "%s", name);
        snprintf(e->addrs, sizeof(e->addrs), "%s", addrs ? addrs : "");
        e->nx = addrs == NULL;
        e->delay_ms = delay_ms;
    }
    pthread_mutex_unlock(&d->mu);
}

int tu_dns_queries(tu_dns *d, const char *name)
{
    int n = 0;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->nnames; i++)
        if (!strcasecmp(d->names[i].name, name))
            n = d->names[i].queries;
    pthread_mutex_unlock(&d->mu);
    return n;
}

typedef struct use_args {
    tu_dns *d;
    motan_loop *l;
    int ok;
} use_args;

static void use_task(void *arg)
{
    use_args *u = arg;
    struct evdns_base *dns = motan_loop_get_dns(u->l);
    char ns[64];
    snprintf(ns, sizeof(ns), "127.0.0.1:%d", u->d->port);
    u->ok = dns && evdns_base_clear_nameservers_and_suspend(dns) == 0 &&
            evdns_base_nameserver_ip_add(dns, ns) == 0 && evdns_base_resume(dns) == 0 &&
            evdns_base_set_option(dns, "timeout:", "3") == 0 &&
            evdns_base_set_option(dns, "attempts:", "1") == 0;
}

void tu_dns_use(tu_dns *d, motan_loop *l)
{
    use_args u = {d, l, 0};
    if (motan_loop_run_wait(l, use_task, &u) != MOTAN_OK || !u.ok) {
        fprintf(stderr, "tu_dns_use: cannot point the loop's resolver at 127.0.0.1:%d\n", d->port);
        abort();
    }
}
