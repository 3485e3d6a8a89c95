/*
 * Client: URL -> registry (direct for motan2:// address lists) -> cluster, on a built-in or
 * a caller's loop. The registry's lists feed the cluster; groups named by a rule get their
 * own subscriptions.
 */
#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

/* ---- registry wiring (loop thread) ---------------------------------------------------- */

static void on_nodes(const motan_url *const *nodes, size_t n, void *userdata)
{
    motan__sub *s = userdata;
    motan_client *c = s->client;
    if (c->closing)
        return;
    if (s == c->subs)
        motan_cluster_update(c->cluster, nodes, n);
    else
        motan_cluster_update_group(c->cluster, s->group, nodes, n);
}

static motan__sub *sub_new(motan_client *c, const char *group)
{
    motan__sub *s = motan__calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->client = c;
    s->group = motan__strdup(group);
    s->service = motan_url_new("motan2");
    if (!s->group || !s->service || motan_url_set_path(s->service, c->service) != MOTAN_OK ||
        motan_url_set_param(s->service, "group", group) != MOTAN_OK) {
        motan_free(s->group);
        motan_url_free(s->service);
        motan_free(s);
        return NULL;
    }
    /* Path and group name the service; client parameters are none of the registry's business. */
    return s;
}

static void sub_free(motan__sub *s)
{
    motan_free(s->group);
    motan_url_free(s->service);
    motan_free(s);
}

/* The rule names other groups: subscribe to the new ones, drop the others. */
static void on_groups(const char *const *groups, size_t n, void *userdata)
{
    motan_client *c = userdata;
    if (c->closing || !c->subs)
        return;
    motan__sub **pp = &c->subs->next;
    while (*pp) {
        motan__sub *s = *pp;
        int keep = 0;
        for (size_t i = 0; i < n && !keep; i++)
            keep = !strcmp(groups[i], s->group);
        if (keep) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        motan_registry_unsubscribe(c->registry, s->service, on_nodes, s);
        sub_free(s);
    }
    for (size_t i = 0; i < n; i++) {
        int have = !strcmp(groups[i], c->subs->group);
        for (motan__sub *s = c->subs->next; s && !have; s = s->next)
            have = !strcmp(groups[i], s->group);
        if (have)
            continue;
        motan__sub *s = sub_new(c, groups[i]);
        if (!s)
            continue;
        s->next = c->subs->next;
        c->subs->next = s;
        motan_registry_subscribe(c->registry, s->service, on_nodes, s);
    }
}

/* ---- creation ------------------------------------------------------------------------- */

/*
 * motan2://h:p,h:p/svc -> direct://h:p,h:p; other schemes: the URL minus its last path
 * segment (file:///etc/x.json/svc -> file:///etc/x.json).
 */
static int split_url(motan_client *c, char *errbuf, size_t errlen)
{
    const char *proto = motan_url_get_protocol(c->url);
    const char *path = motan_url_get_path(c->url);
    if (!path || !*path)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "the URL names no service (.../<service>?...)");
    const char *slash = strrchr(path, '/');
    c->service = motan__strdup(slash ? slash + 1 : path);
    if (!c->service)
        return MOTAN_ENOMEM;
    if (!*c->service)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "the URL's service name is empty");
    int direct = !strcasecmp(proto, "motan2") || !strcasecmp(proto, "motan");
    if (direct && motan_url_addr_count(c->url) == 0)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "a %s:// URL needs at least one host:port", proto);
    c->reg_url = motan_url_new(direct ? "direct" : proto);
    if (!c->reg_url)
        return MOTAN_ENOMEM;
    for (size_t i = 0; i < motan_url_addr_count(c->url); i++) {
        const char *h = motan_url_addr_host(c->url, i);
        int rc;
        if (motan_url_addr_is_unix(c->url, i)) {
            char buf[512];
            snprintf(buf, sizeof(buf), "unix:%s", h);
            rc = motan_url_add_addr(c->reg_url, buf, 0);
        } else {
            rc = motan_url_add_addr(c->reg_url, h, motan_url_addr_port(c->url, i));
        }
        if (rc != MOTAN_OK)
            return motan__errf(errbuf, errlen, rc, "bad address %s in the URL", h);
    }
    if (slash) {
        char *rp = motan__strndup(path, (size_t)(slash - path));
        int rc = rp ? motan_url_set_path(c->reg_url, rp) : MOTAN_ENOMEM;
        motan_free(rp);
        if (rc != MOTAN_OK)
            return rc;
    }
    /* Only the registry's own parameters (client ones, e.g. requestTimeout, never reach it). */
    for (size_t i = 0; i < motan_url_param_count(c->url); i++) {
        const char *k = motan_url_param_key(c->url, i);
        if (motan__param_is_registry(proto, k) &&
            motan_url_set_param(c->reg_url, k, motan_url_param_value(c->url, i)) != MOTAN_OK)
            return MOTAN_ENOMEM;
    }
    return MOTAN_OK;
}

/*
 * The `filter` parameter's chain, feeding the configured stats or the client's own; the
 * chain holds the reference the client uses.
 */
static int build_filters(motan_client *c, motan_stats *shared, char *errbuf, size_t errlen)
{
    motan_stats *own = NULL;
    if (!shared && motan_stats_new(&own) != MOTAN_OK)
        return MOTAN_ENOMEM;
    int rc = motan_filter_chain_new(motan_url_get_param(c->url, "filter"), c->url,
                                    MOTAN_SIDE_CLIENT, shared ? shared : own, &c->chain, errbuf,
                                    errlen);
    motan_stats_free(own);
    c->stats = motan_filter_chain_stats(c->chain);
    return rc;
}

static int build_cluster(motan_client *c, char *errbuf, size_t errlen)
{
    motan_url *svc = motan_url_new("motan2");
    if (!svc || motan_url_set_path(svc, c->service) != MOTAN_OK) {
        motan_url_free(svc);
        return MOTAN_ENOMEM;
    }
    const char *proto = motan_url_get_protocol(c->url);
    for (size_t i = 0; i < motan_url_param_count(c->url); i++) {
        const char *k = motan_url_param_key(c->url, i);
        if (!motan__param_is_registry(proto, k) &&
            motan_url_set_param(svc, k, motan_url_param_value(c->url, i)) != MOTAN_OK) {
            motan_url_free(svc);
            return MOTAN_ENOMEM;
        }
    }
    int rc = motan_cluster_new(c->loop, svc, &c->cluster, errbuf, errlen);
    motan_url_free(svc);
    if (rc != MOTAN_OK)
        return rc;
    motan_cluster_set_groups_listener(c->cluster, on_groups, c);
    return motan_cluster_set_filters(c->cluster, c->chain);
}

typedef struct sub_args {
    motan_client *c;
    int rc;
} sub_args;

void motan__client_report_endpoints(motan_client *c)
{
    const char *group = motan_url_get_str(c->url, NULL, "group", "default_rpc");
    for (size_t i = 0; i < motan_cluster_endpoint_count(c->cluster); i++) {
        motan_endpoint *ep = motan_cluster_endpoint_at(c->cluster, i);
        motan_filter_chain_report_endpoint(c->chain, c->service, group,
                                           motan_endpoint_get_address(ep),
                                           motan_endpoint_is_available(ep),
                                           motan_endpoint_inflight(ep));
    }
}

static void on_stats_timer(evutil_socket_t fd, short what, void *arg)
{
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan__client_report_endpoints(arg);
}

static void subscribe_in_loop(void *arg)
{
    sub_args *a = arg;
    motan_client *c = a->c;
    /* Filters count calls as they go; a fused endpoint that gets none still changes state. */
    if (motan_filter_chain_length(c->chain)) {
        c->stats_ev = event_new(motan_loop_get_base(c->loop), -1, EV_PERSIST, on_stats_timer, c);
        struct timeval tv = {1, 0};
        if (c->stats_ev)
            event_add(c->stats_ev, &tv);
    }
    c->subs = sub_new(c, motan_url_get_str(c->url, NULL, "group", "default_rpc"));
    a->rc = c->subs ? motan_registry_subscribe(c->registry, c->subs->service, on_nodes, c->subs)
                    : MOTAN_ENOMEM;
}

static void client_destroy(motan_client *c);

/* On base (a loop of its own around it), on loop (shared), or both NULL: a built-in loop of its own. */
static int client_create(const motan_url *url, motan_stats *stats, struct event_base *base,
                         motan_loop *loop, motan_client **out, char *errbuf, size_t errlen)
{
    motan_client *c = motan__calloc(1, sizeof(*c));
    if (!c)
        return MOTAN_ENOMEM;
    c->qfd = -1;
    pthread_mutex_init(&c->qmu, NULL);
    motan__freelist_init(&c->spare, MOTAN__ACALL_POOL, offsetof(motan__acall, next));
    /* poll's deadlines are on the monotonic clock: a wall-clock step must not shorten them. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->qcv, &ca);
    pthread_condattr_destroy(&ca);
    c->url = motan_url_clone(url);
    /* url comes from a motan_config: its parameters were checked there. */
    int rc = c->url ? MOTAN_OK : MOTAN_ENOMEM;
    if (rc == MOTAN_OK)
        rc = split_url(c, errbuf, errlen);
    if (rc == MOTAN_OK) {
        c->qfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->qfd < 0)
            rc = motan__errf(errbuf, errlen, MOTAN_ENOMEM,
                             "cannot create the client's completion eventfd: %s", strerror(errno));
    }
    if (rc == MOTAN_OK && loop) {
        c->loop = loop;
        if (motan_loop_forked(loop))
            rc = motan__errf(errbuf, errlen, MOTAN_EFORKED,
                             "the loop was created before fork(): make a new one in this process");
    } else if (rc == MOTAN_OK) {
        c->owns_loop = 1;
        rc = base ? motan_loop_new_with_base(base, &c->loop, errbuf, errlen)
                  : motan_loop_new(&c->loop, errbuf, errlen);
    }
    if (rc == MOTAN_OK)
        rc = build_filters(c, stats, errbuf, errlen);
    if (rc == MOTAN_OK)
        rc = build_cluster(c, errbuf, errlen);
    if (rc == MOTAN_OK)
        rc = motan_registry_new(c->loop, c->reg_url, &c->registry, errbuf, errlen);
    if (rc == MOTAN_OK) {
        sub_args a = {.c = c};
        rc = motan_loop_run_wait(c->loop, subscribe_in_loop, &a);
        if (rc == MOTAN_OK)
            rc = a.rc;
        if (rc != MOTAN_OK)
            motan__errf(errbuf, errlen, rc, "cannot subscribe to %s in the registry", c->service);
    }
    if (rc != MOTAN_OK) {
        client_destroy(c);
        return rc;
    }
    *out = c;
    return MOTAN_OK;
}

static int client_new_config_impl(const motan_config *cfg, struct event_base *base,
                                  motan_client **out, char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!cfg)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no configuration given");
    return client_create(cfg->url, cfg->stats, base, NULL, out, errbuf, errlen);
}

MOTAN_EXPORT int motan_client_new_config(const motan_config *cfg, struct event_base *base,
                                         motan_client **out, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen,
                                 client_new_config_impl(cfg, base, out, errbuf, errlen));
}

static int new_from_text(const char *url, struct event_base *base, motan_loop *loop,
                         motan_client **out, char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    motan_config *cfg = NULL;
    int rc = motan_config_new(url, &cfg, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    rc = client_create(cfg->url, NULL, base, loop, out, errbuf, errlen);
    motan_config_free(cfg);
    return rc;
}

static int client_new_impl(const char *url, motan_client **out, char *errbuf, size_t errlen)
{
    return new_from_text(url, NULL, NULL, out, errbuf, errlen);
}

MOTAN_EXPORT int motan_client_new(const char *url, motan_client **out, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, client_new_impl(url, out, errbuf, errlen));
}

static int client_new_with_base_impl(struct event_base *base, const char *url, motan_client **out,
                                     char *errbuf, size_t errlen)
{
    if (!base) {
        if (out)
            *out = NULL;
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no event_base given");
    }
    return new_from_text(url, base, NULL, out, errbuf, errlen);
}

MOTAN_EXPORT int motan_client_new_with_base(struct event_base *base, const char *url,
                                            motan_client **out, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen,
                                 client_new_with_base_impl(base, url, out, errbuf, errlen));
}

static int on_loop_impl(motan_loop *loop, const char *url, const motan_config *cfg,
                        motan_client **out, char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!loop)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no loop given");
    if (cfg)
        return client_create(cfg->url, cfg->stats, NULL, loop, out, errbuf, errlen);
    if (!url)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no URL given");
    return new_from_text(url, NULL, loop, out, errbuf, errlen);
}

MOTAN_EXPORT int motan_client_new_on_loop(motan_loop *loop, const char *url, motan_client **out,
                                          char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, on_loop_impl(loop, url, NULL, out, errbuf, errlen));
}

MOTAN_EXPORT int motan_client_new_config_on_loop(const motan_config *cfg, motan_loop *loop,
                                                 motan_client **out, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    if (!cfg) {
        if (out)
            *out = NULL;
        return motan__errbuf_default(errbuf, errlen,
                                     motan__errf(errbuf, errlen, MOTAN_EINVAL, "no configuration given"));
    }
    return motan__errbuf_default(errbuf, errlen, on_loop_impl(loop, NULL, cfg, out, errbuf, errlen));
}

/* ---- destruction ---------------------------------------------------------------------- */

static void unsubscribe_all(void *arg)
{
    motan_client *c = arg;
    atomic_store(&c->closing, 1);
    if (c->stats_ev) {
        event_free(c->stats_ev);
        c->stats_ev = NULL;
    }
    while (c->subs) {
        motan__sub *s = c->subs;
        c->subs = s->next;
        motan_registry_unsubscribe(c->registry, s->service, on_nodes, s);
        sub_free(s);
    }
}

/*
 * In dependency order: the cluster's last completions (cancelled or already waiting) still
 * ask the registry why there is no endpoint (explain), so the registry goes after it.
 */
static void client_destroy(motan_client *c)
{
    if (c->loop && motan_loop_forked(c->loop)) {
        /*
         * A child process: the parent's threads (the loop's, callers blocked in a call) did
         * not come along and may have held these. The completion eventfd is shared with the
         * parent: closed first, so that no cancelled call signals the parent's poller.
         */
        pthread_mutex_init(&c->qmu, NULL);
        pthread_cond_init(&c->qcv, NULL);
        pthread_mutex_init(&c->spare.mu, NULL);
        if (c->qfd >= 0)
            close(c->qfd);
        c->qfd = -1;
    }
    if (c->loop && c->registry)
        motan_loop_run_wait(c->loop, unsubscribe_all, c);
    atomic_store(&c->closing, 1);
    motan_cluster_free(c->cluster); /* cancels what is in flight: queued completions arrive */
    c->cluster = NULL;
    motan_registry_free(c->registry);
    c->registry = NULL;
    if (c->loop && c->owns_loop)
        motan_loop_free(c->loop);
    while (c->qhead) {
        motan__done *d = c->qhead;
        c->qhead = d->next;
        motan_response_free(d->resp);
        motan_free(d);
    }
    motan_filter_chain_free(c->chain); /* no call runs any more */
    if (c->qfd >= 0)
        close(c->qfd);
    motan__freelist_drain(&c->spare, motan_free);
    pthread_cond_destroy(&c->qcv);
    pthread_mutex_destroy(&c->qmu);
    pthread_mutex_destroy(&c->spare.mu);
    motan_url_free(c->url);
    motan_url_free(c->reg_url);
    motan_free(c->service);
    motan_free(c);
}

MOTAN_EXPORT void motan_client_free(motan_client *c)
{
    if (c)
        client_destroy(c);
}

/* ---- introspection -------------------------------------------------------------------- */

MOTAN_EXPORT const char *motan_client_get_service(const motan_client *c) { return c->service; }

MOTAN_EXPORT const motan_url *motan_client_get_url(const motan_client *c) { return c->url; }

MOTAN_EXPORT motan_cluster *motan_client_get_cluster(motan_client *c) { return c->cluster; }

MOTAN_EXPORT motan_stats *motan_client_get_stats(motan_client *c) { return c ? c->stats : NULL; }

static void report_in_loop(void *arg) { motan__client_report_endpoints(arg); }

MOTAN_EXPORT char *motan_client_stats_json(motan_client *c)
{
    if (!c)
        return NULL;
    if (motan_loop_in_loop_thread(c->loop))
        report_in_loop(c);
    else if (motan_loop_is_builtin(c->loop))
        motan_loop_run_wait(c->loop, report_in_loop, c);
    return motan_stats_json(c->stats);
}

MOTAN_EXPORT void motan_client_registry_status(motan_client *c, char *buf, size_t len)
{
    motan_registry_errmsg(c ? c->registry : NULL, buf, len);
}

typedef struct count_args {
    motan_client *c;
    size_t n;
} count_args;

static void count_in_loop(void *arg)
{
    count_args *a = arg;
    a->n = motan_cluster_endpoint_count(a->c->cluster);
}

MOTAN_EXPORT size_t motan_client_endpoint_count(motan_client *c)
{
    if (!c)
        return 0;
    count_args a = {.c = c};
    if (motan_loop_run_wait(c->loop, count_in_loop, &a) != MOTAN_OK)
        return 0;
    return a.n;
}

MOTAN_EXPORT int motan_client_wait_ready(motan_client *c, int timeout_ms)
{
    if (!c)
        return MOTAN_EINVAL;
    if (motan_loop_forked(c->loop))
        return MOTAN_EFORKED;
    if (motan_loop_in_loop_thread(c->loop)) {
        count_args a = {.c = c};
        count_in_loop(&a);
        return a.n ? MOTAN_OK : MOTAN_EDEADLOCK;
    }
    uint64_t end = motan_now_us() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000u;
    for (;;) {
        count_args a = {.c = c};
        motan_loop_run_wait(c->loop, count_in_loop, &a);
        if (a.n)
            return MOTAN_OK;
        if (motan_now_us() >= end)
            return MOTAN_ENOENDPOINT;
        usleep(5000);
    }
}
