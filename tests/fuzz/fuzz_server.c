/*
 * libFuzzer target: the server's request path, whole. One server (a typed echo handler, a
 * raw fallback that answers with the request's metadata and body, a heartbeat handler, a
 * handler that streams, one that closes, one that holds its reply past a small deadline)
 * listens on a Unix socket; each input is written into a fresh connection, half-closed, and
 * the loop runs until the server has closed it. Replies held across inputs are finished
 * before the next one, so nothing may leak.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/motan.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *g_base;
static motan_loop *g_loop;
static motan_server *g_srv;
static struct sockaddr_un g_addr;
static motan_reply *g_held[64];
static int g_nheld;

static void h_echo(const motan_server_request *req, motan_reply *reply, void *ud)
{
    const motan_value *args;
    (void)ud;
    motan_server_request_args(req, &args, NULL, 0);
    if (motan_value_count(args))
        motan_reply_send(reply, motan_value_at(args, 0));
    else
        motan_reply_error(reply, 500, 1, "no argument", 11);
}

/* Everything else: metadata echoed (as a proxy would pass it back), body raw. */
static void h_raw(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)ud;
    size_t n = motan_server_request_meta_count(req), blen, kl, vl;
    for (size_t i = 0; i < n && i < 16; i++) {
        const char *k = motan_server_request_meta_key(req, i, &kl);
        const char *v = motan_server_request_meta_value(req, i, &vl);
        if (k[kl] || v[vl])
            __builtin_trap(); /* the strings are NUL-terminated at their length */
        motan_reply_set_meta(reply, k, kl, v, vl);
    }
    const uint8_t *body = motan_server_request_body(req, &blen);
    const char *m = motan_server_request_method(req, NULL);
    const motan_value *args;
    char err[128];
    if (!strcmp(m, "args") && motan_server_request_args(req, &args, err, sizeof(err)) == MOTAN_OK)
        motan_reply_send(reply, args);
    else if (!strcmp(m, "stream")) {
        motan_reply_write(reply, body, blen / 2);
        motan_reply_write(reply, body + blen / 2, blen - blen / 2);
        motan_reply_end(reply);
    } else if (!strcmp(m, "close"))
        motan_reply_close(reply, blen & 1);
    else if (!strcmp(m, "hold") && g_nheld < 64)
        g_held[g_nheld++] = reply;
    else if (!strcmp(m, "drop"))
        motan_reply_drop(reply);
    else
        motan_reply_send_raw(reply, motan_server_request_serialization(req), 0, body, blen);
}

static void h_heartbeat(const motan_server_request *req, motan_reply *reply, void *ud)
{
    (void)ud;
    if (motan_server_request_id(req) & 1)
        motan_reply_heartbeat(reply);
    else
        motan_reply_discard(reply);
}

static int setup(void)
{
    char err[256];
    const char *path = "/tmp/motan-fuzz-server.sock";
    snprintf(g_addr.sun_path, sizeof(g_addr.sun_path), "%s.%d", path, (int)getpid());
    g_addr.sun_family = AF_UNIX;
    char listen_at[128];
    snprintf(listen_at, sizeof(listen_at), "unix:%s", g_addr.sun_path);
    g_base = event_base_new();
    if (!g_base || motan_loop_new_with_base(g_base, &g_loop, err, sizeof(err)) ||
        motan_server_new(g_loop, &g_srv, err, sizeof(err)) ||
        motan_server_set(g_srv, NULL, "maxContentLength", "1048576", err, sizeof(err)) ||
        motan_server_set(g_srv, NULL, "maxDecodedSize", "4194304", err, sizeof(err)) ||
        motan_server_set(g_srv, NULL, "requestTimeout", "1", err, sizeof(err)) ||
        motan_server_set(g_srv, "com.example.EchoService", "mingzSize", "64", err, sizeof(err)) ||
        motan_server_handle(g_srv, "com.example.EchoService", "echo", h_echo, NULL) ||
        motan_server_handle_raw(g_srv, NULL, NULL, h_raw, NULL) ||
        motan_server_handle_heartbeat(g_srv, h_heartbeat, NULL) ||
        motan_server_listen(g_srv, listen_at, NULL, err, sizeof(err))) {
        fprintf(stderr, "fuzz_server: cannot set up: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = !setup();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) && errno != EINPROGRESS))
        abort();
    size_t sent = 0;
    int closed = 0;
    /* Write, read and run the loop until the server closes the connection. */
    for (int round = 0; round < 2000 && !closed; round++) {
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            if (sent == size)
                shutdown(fd, SHUT_WR);
        } else if (size == 0 && round == 0) {
            shutdown(fd, SHUT_WR);
        }
        event_base_loop(g_base, EVLOOP_NONBLOCK);
        uint8_t buf[65536];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
            ;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = 1;
        if (!closed && round > 20)
            poll(NULL, 0, 1); /* a deadline timer (1 ms) may be what is left */
    }
    close(fd);
    /* Held replies are finished (their connection is gone: they only free themselves). */
    for (int i = 0; i < g_nheld; i++)
        motan_reply_discard(g_held[i]);
    g_nheld = 0;
    event_base_loop(g_base, EVLOOP_NONBLOCK);
    return 0;
}
