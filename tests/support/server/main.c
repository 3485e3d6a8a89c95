/* motan-test-server: options, start-up, signals and orderly shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

void srv_log(const srv_server *s, const char *fmt, ...)
{
    if (s->opt.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "motan-test-server[%s]: ", s->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

uint64_t srv_rand(srv_server *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- options: one row per flag, so later flags are one row and one setter each ---------- */

static int parse_uint(const char *arg, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (!*arg || *arg == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int set_port(srv_options *o, const char *arg)
{
    unsigned long long v;
    if (parse_uint(arg, 65535, &v))
        return -1;
    o->port = (int)v;
    return 0;
}

static int set_unix(srv_options *o, const char *arg)
{
    o->unix_path = arg;
    return *arg ? 0 : -1;
}

static int set_name(srv_options *o, const char *arg)
{
    /* The name travels as a metadata value: no newline. */
    if (!*arg || strchr(arg, '\n') || strlen(arg) >= 256)
        return -1;
    o->name = arg;
    return 0;
}

static int set_fault(srv_options *o, const char *arg)
{
    if (srv_fault_parse(arg, strlen(arg), &o->fault))
        return -1;
    o->has_fault = o->fault.kind != SRV_F_NONE;
    return 0;
}

static int set_fault_rate(srv_options *o, const char *arg)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0 && v <= 100))
        return -1;
    o->fault_rate = v;
    return 0;
}

static int set_seed(srv_options *o, const char *arg)
{
    unsigned long long v;
    if (parse_uint(arg, UINT64_MAX, &v))
        return -1;
    o->seed = v;
    return 0;
}

static int set_heartbeat(srv_options *o, const char *arg)
{
    static const char *const names[] = {"go", "java", "lua", "none", "close"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(arg, names[i])) {
            o->hb = (srv_hb_mode)i;
            return 0;
        }
    }
    return -1;
}

static int set_refuse(srv_options *o, const char *arg)
{
    (void)arg;
    o->refuse = 1;
    return 0;
}

static int set_no_read(srv_options *o, const char *arg)
{
    (void)arg;
    o->no_read = 1;
    return 0;
}

static int set_quiet(srv_options *o, const char *arg)
{
    (void)arg;
    o->quiet = 1;
    return 0;
}

static int set_register(srv_options *o, const char *arg)
{
    motan_url *u = NULL;
    int rc = motan_url_parse(arg, strlen(arg), &u, NULL, 0);
    motan_url_free(u);
    o->register_url = arg;
    return rc == MOTAN_OK ? 0 : -1;
}

static int set_group(srv_options *o, const char *arg)
{
    o->group = arg;
    return *arg ? 0 : -1;
}

static int set_weight(srv_options *o, const char *arg)
{
    unsigned long long v;
    if (parse_uint(arg, 1000, &v) || v == 0)
        return -1;
    o->weight = (int)v;
    return 0;
}

typedef struct opt_def {
    const char *name;
    const char *argname; /* NULL: a flag without argument */
    int (*set)(srv_options *o, const char *arg);
    const char *help;
} opt_def;

static const opt_def opts[] = {
    {"port", "P", set_port, "listen on 127.0.0.1:P (0 or absent: a free port)"},
    {"unix", "PATH", set_unix, "listen on a Unix socket instead"},
    {"name", "NAME", set_name, "server name, sent as X-Server (default srv-<port>)"},
    {"fault", "SPEC", set_fault, "fault applied to every request (see docs/test-server.md)"},
    {"fault-rate", "PCT", set_fault_rate, "apply --fault to a random PCT% of requests only"},
    {"seed", "N", set_seed, "seed of --fault-rate and garbage bytes (default 1)"},
    {"heartbeat", "go|java|lua|none|close", set_heartbeat, "heartbeat answer style (default go)"},
    {"refuse", NULL, set_refuse, "bind but never listen: connects are refused"},
    {"no-read", NULL, set_no_read, "accept connections, never read from them"},
    {"quiet", NULL, set_quiet, "no log lines, no 'served N' at exit"},
    {"register", "URL", set_register, "publish the server in registry URL (zookeeper://h:p)"},
    {"group", "G", set_group, "group of the published node (default default_rpc)"},
    {"weight", "N", set_weight, "add weight=N (1..1000) to the published node"},
    {"help", NULL, NULL, "this text"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: motan-test-server [options]\n"
               "Serves com.example.EchoService over motan2: echo add sleep fail big name.\n");
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].argname ? " " : "",
                 opts[i].argname ? opts[i].argname : "");
        fprintf(f, "  %-34s %s\n", left, opts[i].help);
    }
}

/* 0: run, 1: --help printed, -1: bad command line (message printed). */
static int parse_args(int argc, char **argv, srv_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "motan-test-server: unexpected argument '%s'\n", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const opt_def *d = NULL;
        for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
            if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen))
                d = &opts[k];
        }
        if (!d) {
            fprintf(stderr, "motan-test-server: unknown option '%s'\n", argv[i]);
            return -1;
        }
        if (!d->set) {
            usage(stdout);
            return 1;
        }
        const char *arg = NULL;
        if (d->argname) {
            if (eq)
                arg = eq + 1;
            else if (i + 1 < argc)
                arg = argv[++i];
            else {
                fprintf(stderr, "motan-test-server: --%s needs %s\n", d->name, d->argname);
                return -1;
            }
        } else if (eq) {
            fprintf(stderr, "motan-test-server: --%s takes no argument\n", d->name);
            return -1;
        }
        if (d->set(o, arg)) {
            fprintf(stderr, "motan-test-server: bad value for --%s: '%s'\n", d->name,
                    arg ? arg : "");
            return -1;
        }
    }
    if (o->fault_rate >= 0 && !o->has_fault) {
        fprintf(stderr, "motan-test-server: --fault-rate needs --fault\n");
        return -1;
    }
    if ((o->group || o->weight) && !o->register_url) {
        fprintf(stderr, "motan-test-server: --group and --weight need --register\n");
        return -1;
    }
    if (o->register_url && o->unix_path) {
        fprintf(stderr, "motan-test-server: --register needs a TCP port, not --unix\n");
        return -1;
    }
    return 0;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    srv_server *s = arg;
    (void)sig;
    (void)what;
    event_base_loopbreak(s->base);
}

/* The server through the layer: one raw handler for everything, heartbeats in our style. */
static int serve(srv_server *s)
{
    char err[512] = "", addr[300];
    int rc = motan_server_new(s->loop, &s->server, err, sizeof(err));
    /* The faults decide when to answer: the client's M_tmo is not a deadline here. */
    if (rc == MOTAN_OK)
        rc = motan_server_set(s->server, NULL, "clientDeadline", "false", err, sizeof(err));
    if (rc == MOTAN_OK)
        rc = motan_server_handle_raw(s->server, NULL, NULL, srv_on_request, s);
    if (rc == MOTAN_OK)
        rc = motan_server_handle_heartbeat(s->server, srv_on_heartbeat, s);
    if (s->opt.unix_path)
        snprintf(addr, sizeof(addr), "unix:%s", s->opt.unix_path);
    else
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->opt.port);
    if (rc == MOTAN_OK)
        rc = motan_server_listen(s->server, addr, &s->port, err, sizeof(err));
    if (rc != MOTAN_OK) {
        fprintf(stderr, "motan-test-server: %s\n", *err ? err : motan_strerror(rc));
        return -1;
    }
    return 0;
}

static void server_free(srv_server *s)
{
    srv_jobs_cancel(s);      /* delayed answers are dropped */
    motan_server_free(s->server); /* unregisters: the node goes before the registry */
    s->server = NULL;
    srv_registry_stop(s);
    srv_dud_close(s);
    motan_loop_free(s->loop);
    s->loop = NULL;
    motan_buf_free(s->tmp);
    motan_buf_free(s->tmp2);
    free(s->bomb);
    free(s->nulls);
}

int main(int argc, char **argv)
{
    static srv_server srv;
    srv_server *s = &srv;
    s->dud_fd = -1;
    s->opt.fault_rate = -1;
    s->opt.seed = 1;
    int rc = parse_args(argc, argv, &s->opt);
    if (rc)
        return rc > 0 ? 0 : 2;
    s->rng = s->opt.seed ? s->opt.seed : 0x9E3779B97F4A7C15ULL;
    snprintf(s->name, sizeof(s->name), "%s", s->opt.name ? s->opt.name : "srv");
    signal(SIGPIPE, SIG_IGN);

    struct event *sigterm = NULL, *sigint = NULL;
    char err[512] = "";
    int status = 1;
    s->base = event_base_new();
    s->tmp = motan_buf_new(4096);
    s->tmp2 = motan_buf_new(4096);
    if (!s->base || !s->tmp || !s->tmp2 ||
        motan_loop_new_with_base(s->base, &s->loop, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "motan-test-server: cannot start: %s\n", *err ? err : "out of memory");
        goto out;
    }
    if ((s->opt.refuse || s->opt.no_read) ? srv_dud_open(s) : serve(s))
        goto out;
    if (!s->opt.name) {
        if (s->opt.unix_path)
            snprintf(s->name, sizeof(s->name), "srv-%s", s->opt.unix_path);
        else
            snprintf(s->name, sizeof(s->name), "srv-%d", s->port);
    }
    s->name_len = strlen(s->name);
    sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
    sigint = evsignal_new(s->base, SIGINT, on_signal, s);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
        fprintf(stderr, "motan-test-server: cannot install signal handlers\n");
        goto out;
    }

    if (s->opt.register_url && srv_registry_start(s))
        goto out;

    if (s->opt.unix_path)
        printf("%s\n", s->opt.unix_path);
    else
        printf("%d\n", s->port);
    fflush(stdout);
    srv_log(s, "listening on %s%s%s", s->opt.unix_path ? s->opt.unix_path : "127.0.0.1",
            s->opt.refuse ? " (refusing)" : "", s->opt.no_read ? " (not reading)" : "");

    if (event_base_dispatch(s->base) < 0) {
        fprintf(stderr, "motan-test-server: event loop failed\n");
        goto out;
    }
    status = 0;
out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    server_free(s);
    if (s->base)
        event_base_free(s->base);
    libevent_global_shutdown();
    if (status == 0 && !s->opt.quiet)
        fprintf(stderr, "served %llu\n", (unsigned long long)s->served);
    return status;
}
