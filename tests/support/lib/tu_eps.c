/* Endpoints on local ports for LB tests (tu_eps.h). */
#include "tu_eps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

static struct event_base *base;
static motan_loop *loop;
static motan_endpoint *all_eps[64];
static size_t n_eps;
static motan_request *all_reqs[256];
static size_t n_reqs;
static int all_fds[64];
static size_t n_fds;
static int load_done; /* load calls complete (cancelled) when their endpoint is freed */

static void die(const char *what, const char *why)
{
    fprintf(stderr, "tu_eps: %s: %s\n", what, why);
    abort();
}

void tu_eps_setup(void)
{
    char err[256];
    base = event_base_new();
    if (!base)
        die("event_base_new", "failed");
    if (motan_loop_new_with_base(base, &loop, err, sizeof(err)) != MOTAN_OK)
        die("motan_loop_new_with_base", err);
}

void tu_eps_teardown(void)
{
    for (size_t i = 0; i < n_eps; i++)
        motan_endpoint_free(all_eps[i]);
    for (size_t i = 0; i < n_reqs; i++)
        motan_request_free(all_reqs[i]);
    for (size_t i = 0; i < n_fds; i++)
        close(all_fds[i]);
    n_eps = n_reqs = n_fds = 0;
    motan_loop_free(loop);
    event_base_free(base);
    loop = NULL;
    base = NULL;
}

motan_loop *tu_eps_loop(void) { return loop; }

int tu_eps_port(int do_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        (do_listen && listen(fd, 128) != 0) ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        die("local port", strerror(errno));
    if (n_fds == sizeof(all_fds) / sizeof(all_fds[0]))
        die("local port", "too many");
    all_fds[n_fds++] = fd;
    return ntohs(sa.sin_port);
}

motan_endpoint *tu_eps_url(const char *addr, const char *extra)
{
    char text[512], err[256];
    snprintf(text, sizeof(text),
             "motan2://%s/" TU_EPS_SERVICE "?errorCountThreshold=1&keepaliveInterval=3600000"
             "&connections=1%s%s",
             addr, extra ? "&" : "", extra ? extra : "");
    motan_url *u = NULL;
    if (motan_url_parse(text, strlen(text), &u, err, sizeof(err)) != MOTAN_OK)
        die(text, err);
    motan_endpoint *ep = NULL;
    int rc = motan_endpoint_new(loop, u, &ep, err, sizeof(err));
    motan_url_free(u);
    if (rc != MOTAN_OK)
        die(text, err);
    if (n_eps == sizeof(all_eps) / sizeof(all_eps[0]))
        die(text, "too many endpoints");
    all_eps[n_eps++] = ep;
    return ep;
}

motan_endpoint *tu_eps_at(const char *host, int port, const char *extra)
{
    char addr[300];
    snprintf(addr, sizeof(addr), "%s:%d", host, port);
    return tu_eps_url(addr, extra);
}

motan_endpoint *tu_eps_refused(const char *extra)
{
    return tu_eps_at("127.0.0.1", tu_eps_port(0), extra);
}

motan_request *tu_eps_req(const char *hash_key)
{
    motan_request *r = motan_request_new("echo");
    if (!r || motan_request_set_service(r, TU_EPS_SERVICE) != MOTAN_OK ||
        (hash_key && motan_request_set_hash_key(r, hash_key, strlen(hash_key)) != MOTAN_OK))
        die("request", "out of memory");
    if (n_reqs == sizeof(all_reqs) / sizeof(all_reqs[0]))
        die("request", "too many");
    all_reqs[n_reqs++] = r;
    return r;
}

static void count_cb(motan_response *r, void *ud)
{
    (*(int *)ud)++;
    motan_response_free(r);
}

void tu_eps_fuse(motan_endpoint *ep)
{
    int done = 0;
    if (motan_endpoint_call(ep, tu_eps_req(NULL), 0, count_cb, &done, NULL) != MOTAN_OK)
        die("fuse", "call refused");
    uint64_t end = motan_now_us() + 10000000u;
    while (!done && motan_now_us() < end)
        event_base_loop(base, EVLOOP_ONCE);
    if (!done || motan_endpoint_is_available(ep))
        die("fuse", "the endpoint is still available");
}

void tu_eps_load(motan_endpoint *ep, int k)
{
    size_t before = motan_endpoint_inflight(ep);
    for (int i = 0; i < k; i++)
        if (motan_endpoint_call(ep, tu_eps_req(NULL), 600000, count_cb, &load_done, NULL) !=
            MOTAN_OK)
            die("load", "call refused");
    if (motan_endpoint_inflight(ep) != before + (size_t)k)
        die("load", "calls not in flight");
}
