/*
 * motan-agent -c FILE: start-up, signals (SIGTERM/SIGINT drain, SIGHUP reload), shutdown.
 *
 * Exit status: 0 after a drain, 1 when a port cannot be bound or the loop fails, 2 for a
 * bad command line or configuration (before anything listens).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>

#include <motan/observe.h>

#include "agent.h"

static const char usage[] =
    "usage: motan-agent -c FILE     run the agent with the motan-go agent YAML FILE\n"
    "       motan-agent --check -c FILE   check FILE and exit (0 good, 2 bad)\n"
    "       motan-agent --version\n"
    "docs/agent.md describes the file, the ports and the management paths.\n";

int agent_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

uint64_t agent_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

struct evdns_base *agent_dns(agent *ag)
{
    /* The loop's resolver, the one the refers' endpoints use: resolv.conf and /etc/hosts are
     * read once, when first needed; look-ups then never block the loop. */
    return motan_loop_get_dns(ag->loop);
}

/* ---- drain ----------------------------------------------------------------------------- */

void agent_drain_step(agent *ag)
{
    if (ag->draining && ag->drains_left == 0 && ag->http_inflight == 0)
        event_base_loopexit(ag->base, NULL);
}

static void on_drained(motan_server *s, int code, void *userdata)
{
    agent *ag = userdata;
    if (code != MOTAN_OK) {
        ag->drain_timed_out = 1;
        agent_log(LOG_WARN, "drain: the %s server abandoned replies after drainTimeout",
                  s == ag->fwd ? "forward" : "export");
    }
    ag->drains_left--;
    agent_drain_step(ag);
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
    agent *ag = arg;
    (void)fd;
    (void)what;
    agent_log(LOG_WARN, "drain: %lld HTTP-entry calls still open after drainTimeout",
              (long long)ag->http_inflight);
    ag->drain_timed_out = 1;
    event_base_loopexit(ag->base, NULL);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    agent *ag = arg;
    (void)what;
    if (ag->draining) {
        agent_log(LOG_WARN, "signal %d again: stopping now", (int)sig);
        event_base_loopexit(ag->base, NULL);
        return;
    }
    agent_log(LOG_INFO, "signal %d: draining (unregister, answer what is in flight, exit)", (int)sig);
    ag->draining = 1;
    services_unregister_all(ag);
    if (ag->hhttp_sock) {
        evhttp_del_accept_socket(ag->hhttp, ag->hhttp_sock);
        ag->hhttp_sock = NULL;
    }
    ag->drains_left = 2;
    if (motan_server_shutdown_async(ag->fwd, ag->conf->drain_ms, on_drained, ag) != MOTAN_OK)
        ag->drains_left--;
    if (motan_server_shutdown_async(ag->exp, ag->conf->drain_ms, on_drained, ag) != MOTAN_OK)
        ag->drains_left--;
    struct timeval tv = {ag->conf->drain_ms / 1000 + 1, (ag->conf->drain_ms % 1000) * 1000};
    ag->ev_drain_timer = evtimer_new(ag->base, on_drain_timer, ag);
    if (ag->ev_drain_timer)
        evtimer_add(ag->ev_drain_timer, &tv);
    agent_drain_step(ag);
}

/* ---- reload ---------------------------------------------------------------------------- */

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    agent *ag = arg;
    (void)sig;
    (void)what;
    char err[1024];
    log_reopen();
    if (ag->draining)
        return;
    agent_conf *c = conf_load(ag->conf_file, err, sizeof(err));
    if (!c) {
        agent_log(LOG_ERROR, "reload: %s (the running configuration stays)", err);
        return;
    }
    /* the agent's own section (ports, logs) takes a restart */
    agent_conf *o = ag->conf;
    if (c->port != o->port || c->eport != o->eport || c->mport != o->mport || c->hport != o->hport ||
        strcmp(c->host, o->host) || !c->unix_sock != !o->unix_sock ||
        (c->unix_sock && strcmp(c->unix_sock, o->unix_sock)))
        agent_log(LOG_WARN, "reload: motan-agent settings changed; they apply at the next start");
    c->port = o->port; /* what is in force (services compare their port with eport) */
    c->eport = o->eport;
    c->host = (free(c->host), strdup(o->host));
    if (!c->host) {
        conf_free(c);
        agent_log(LOG_ERROR, "reload: out of memory");
        return;
    }
    if (refers_apply(ag, c, err, sizeof(err)) != 0) {
        agent_log(LOG_ERROR, "reload: %s (the running configuration stays)", err);
        conf_free(c);
        return;
    }
    if (services_apply(ag, c, err, sizeof(err)) != 0)
        agent_log(LOG_ERROR, "reload: %s (refers were reloaded, services stay as they were)", err);
    ag->conf = c;
    conf_free(o);
    agent_log(LOG_INFO, "reload: %zu refers, %zu services", c->nrefers, c->nservices);
}

/* ---- start ----------------------------------------------------------------------------- */

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    log_flush();
}

static int listen_motan(motan_server *s, int port, int *bound, char *err, size_t errlen)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "0.0.0.0:%d", port);
    return motan_server_listen(s, addr, bound, err, errlen) == MOTAN_OK ? 0 : -1;
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f);
}

static int run(agent *ag)
{
    char err[1024];
    agent_conf *c = ag->conf;
    ag->started_us = motan_now_us();
    ag->base = event_base_new();
    if (!ag->base || motan_stats_new(&ag->stats) != MOTAN_OK ||
        motan_loop_new_with_base(ag->base, &ag->loop, err, sizeof(err)) != MOTAN_OK) {
        agent_log(LOG_ERROR, "start: cannot create the event loop");
        return 1;
    }
    ag->ev_reap = event_new(ag->base, -1, 0, refers_reap, ag);
    ag->ev_term = evsignal_new(ag->base, SIGTERM, on_term, ag);
    ag->ev_int = evsignal_new(ag->base, SIGINT, on_term, ag);
    ag->ev_hup = evsignal_new(ag->base, SIGHUP, on_hup, ag);
    ag->ev_flush = event_new(ag->base, -1, EV_PERSIST, on_flush, ag);
    struct timeval second = {1, 0};
    if (!ag->ev_reap || !ag->ev_term || !ag->ev_int || !ag->ev_hup || !ag->ev_flush ||
        event_add(ag->ev_term, NULL) || event_add(ag->ev_int, NULL) || event_add(ag->ev_hup, NULL) ||
        event_add(ag->ev_flush, &second)) {
        agent_log(LOG_ERROR, "start: cannot set up signals");
        return 1;
    }
    if (motan_server_new(ag->loop, &ag->fwd, err, sizeof(err)) != MOTAN_OK ||
        motan_server_new(ag->loop, &ag->exp, err, sizeof(err)) != MOTAN_OK) {
        agent_log(LOG_ERROR, "start: %s", err);
        return 1;
    }
    motan_server_handle_raw(ag->fwd, NULL, NULL, forward_handler, ag);
    motan_server_handle_heartbeat(ag->exp, export_heartbeat, ag);
    /* exports are counted by the server's metrics filter (forwarded calls by the refers') */
    if (motan_server_set(ag->exp, NULL, "filter", "metrics", err, sizeof(err)) != MOTAN_OK ||
        motan_server_set_stats(ag->exp, ag->stats) != MOTAN_OK) {
        agent_log(LOG_ERROR, "start: the export server's statistics: %s", err);
        return 1;
    }

    /* configuration errors first, before anything listens */
    if (refers_apply(ag, c, err, sizeof(err)) != 0) {
        fprintf(stderr, "motan-agent: %s\n", err);
        return 2;
    }
    if (listen_motan(ag->fwd, c->port, &ag->port, err, sizeof(err)) ||
        listen_motan(ag->exp, c->eport, &ag->eport, err, sizeof(err))) {
        agent_log(LOG_ERROR, "start: %s", err);
        return 1;
    }
    if (c->unix_sock) {
        char addr[1100];
        snprintf(addr, sizeof(addr), "unix:%s", c->unix_sock);
        if (motan_server_listen(ag->fwd, addr, NULL, err, sizeof(err)) != MOTAN_OK) {
            agent_log(LOG_ERROR, "start: unixSock: %s", err);
            return 1;
        }
    }
    ag->export_ports = malloc(sizeof(int));
    if (!ag->export_ports)
        return 1;
    ag->export_ports[0] = ag->eport;
    ag->nexport_ports = 1;
    if (services_apply(ag, c, err, sizeof(err)) != 0) {
        fprintf(stderr, "motan-agent: %s\n", err);
        return 2;
    }
    if (manage_start(ag, c->mport, err, sizeof(err)) ||
        (c->hport >= 0 && http_entry_start(ag, c->hport, err, sizeof(err)))) {
        agent_log(LOG_ERROR, "start: %s", err);
        return 1;
    }
    services_set_available(ag, c->available);
    if (c->pidfile && write_pidfile(c->pidfile) != 0)
        agent_log(LOG_WARN, "pidfile %s: %s", c->pidfile, strerror(errno));
    agent_log(LOG_INFO, "ready: port %d, eport %d, hport %d, mport %d%s%s; %zu refers, %zu services, %s",
              ag->port, ag->eport, c->hport >= 0 ? ag->hport : -1, ag->mport,
              c->unix_sock ? ", unixSock " : "", c->unix_sock ? c->unix_sock : "", c->nrefers,
              c->nservices, ag->available ? "200 (exports registered)" : "503 (until /200)");
    /* the one line on stdout: for supervisors and tests (port 0 picks a free port) */
    printf("motan-agent ready port=%d eport=%d hport=%d mport=%d\n", ag->port, ag->eport,
           c->hport >= 0 ? ag->hport : -1, ag->mport);
    fflush(stdout);
    if (event_base_dispatch(ag->base) < 0) {
        agent_log(LOG_ERROR, "the event loop failed");
        return 1;
    }
    agent_log(LOG_INFO, "stopped%s", ag->drain_timed_out ? " (drain timed out)" : "");
    return 0;
}

static void shutdown_all(agent *ag)
{
    if (ag->conf && ag->conf->pidfile && ag->base)
        unlink(ag->conf->pidfile);
    /* refers first: their cancelled calls answer on servers and HTTP requests still alive */
    refers_free_all(ag);
    if (ag->hhttp)
        evhttp_free(ag->hhttp);
    if (ag->mhttp)
        evhttp_free(ag->mhttp);
    services_free_all(ag);
    motan_server_free(ag->fwd);
    motan_server_free(ag->exp);
    /* A look-up cancelled by a freed backend ends in a deferred callback: let it run before
     * the loop frees its resolver (nothing else is left on the base to run). */
    for (int i = 0; i < 10 && backend_cancelled_lookups() > 0; i++) /* only after agent_dns */
        event_base_loop(ag->base, EVLOOP_NONBLOCK);
    if (ag->loop)
        motan_loop_free(ag->loop);
    if (ag->ev_reap)
        event_free(ag->ev_reap);
    if (ag->ev_term)
        event_free(ag->ev_term);
    if (ag->ev_int)
        event_free(ag->ev_int);
    if (ag->ev_hup)
        event_free(ag->ev_hup);
    if (ag->ev_drain_timer)
        event_free(ag->ev_drain_timer);
    if (ag->ev_flush)
        event_free(ag->ev_flush);
    motan_stats_free(ag->stats);
    free(ag->export_ports);
    if (ag->base)
        event_base_free(ag->base);
    conf_free(ag->conf);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            file = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            file = argv[i] + 9;
        } else if (!strcmp(argv[i], "--check")) {
            check = 1;
        } else if (!strcmp(argv[i], "--version")) {
            printf("motan-agent %s\n", motan_version());
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "motan-agent: unknown argument \"%s\"\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "motan-agent: no configuration file (-c FILE)\n%s", usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    agent ag;
    memset(&ag, 0, sizeof(ag));
    ag.conf_file = (char *)file;
    ag.conf = conf_load(file, err, sizeof(err));
    if (!ag.conf) {
        fprintf(stderr, "motan-agent: %s\n", err);
        return 2;
    }
    if (check) {
        printf("%s: ok (%zu registries, %zu refers, %zu services)\n", file, ag.conf->nregs,
               ag.conf->nrefers, ag.conf->nservices);
        conf_free(ag.conf);
        return 0;
    }
    if (log_open(ag.conf->log_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "motan-agent: %s\n", err);
        conf_free(ag.conf);
        return 2;
    }
    motan_set_log_callback(log_from_library, MOTAN_LOG_INFO, NULL);
    int rc = run(&ag);
    shutdown_all(&ag);
    motan_set_log_callback(NULL, MOTAN_LOG_ERROR, NULL);
    log_close();
    return rc;
}
