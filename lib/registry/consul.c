/*
 * The consul registry: consul://host:port (default 127.0.0.1:8500), as weibocom/motan's
 * motan-registry-consul uses Consul (docs/registries.md):
 * - discovery: one watch per motan group, a blocking query loop on
 *   GET /v1/health/service/motanrpc_<group>?passing&index=<X-Consul-Index>&wait=<wait>;
 *   its entries are split by path among the group's subscribed services;
 * - publishing: PUT /v1/agent/service/register with a TTL check, kept alive by
 *   PUT /v1/agent/check/pass/service:<id> every 2/3 TTL; PUT /v1/agent/service/deregister/<id>.
 * Errors (connect, timeout, non-200, bad JSON) keep the last lists, set errmsg and retry after
 * a doubling backoff (100 ms .. 5 s) with a non-blocking query, so recovery shows at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "registry/registry_int.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* motan_registry_free waits at most this long for its deregistrations (in all). */
#define FAREWELL_MS 100

typedef struct consul_state consul_state;

/* The blocking-query loop of one group. */
typedef struct cwatch {
    consul_state *st;
    char *group;
    char *uri_base;      /* /v1/health/service/motanrpc_<group>?passing */
    uint64_t index;      /* 0: the next query does not block */
    uint64_t seen;       /* the index of the last answer processed, 0: none yet */
    int healthy;         /* the last query succeeded: the next one may block */
    uint64_t sent_index; /* of the query in flight, 0: not a blocking one */
    uint64_t sent_us;
    motan__chttp *req;
    struct event *retry;
    int backoff_ms;
    int refs;          /* subscribed services of this group */
    motan_url **nodes; /* every node of the last answer (all paths) */
    size_t n;
    int known;
    char err[320];
    struct cwatch *next;
} cwatch;

/* One node this registry publishes. */
typedef struct creg {
    consul_state *st;
    char *id;
    char *body; /* the register request */
    int alive;  /* registered and passed at least once */
    motan__chttp *req;
    int step; /* 0: register, 1: pass */
    struct event *retry;
    int backoff_ms;
    struct creg *next;
} creg;

/* A deregistration in flight. */
typedef struct cdereg {
    consul_state *st;
    char *id;
    motan__chttp *req;
    struct cdereg *next;
} cdereg;

struct consul_state {
    motan_loop *loop;
    struct event_base *base;
    char host[256];
    char peer[64]; /* the agent's address that last answered ("" before any) */
    int port;
    int wait_ms, connect_ms, request_ms, ttl_s;
    cwatch *watches;
    creg *regs;
    cdereg *deregs;
    struct event *heartbeat;
    char reg_err[320];
    char errmsg[400];
    motan__rsubs subs;
};

static void watch_start(cwatch *w);

/* ---- helpers -------------------------------------------------------------------------- */

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static int next_backoff(int *b)
{
    int cur = *b ? *b : BACKOFF_MIN_MS;
    *b = cur * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : cur * 2;
    return cur;
}

/* "30", "30s", "500ms", "2m" -> ms; -1 when unparsable. */
static int parse_duration_ms(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    long mul = !strcmp(end, "ms")             ? 1
               : (!*end || !strcmp(end, "s")) ? 1000
               : !strcmp(end, "m")            ? 60000
                                              : -1;
    if (mul < 0 || v > 600000 / mul)
        return -1;
    return (int)(v * mul);
}

static int start_request(consul_state *st, const char *method, const char *uri, const char *body,
                         int total_ms, motan__chttp_cb cb, void *ud, motan__chttp **out)
{
    return motan__chttp_start(st->base, motan_loop_get_dns(st->loop), st->host, st->port, method,
                              uri, body, st->connect_ms, total_ms, st->peer, cb, ud, out);
}

/* "HTTP 500: <start of the body>" or the transport error. */
static void describe(char *buf, size_t len, const char *what, int status, const char *err,
                     const char *body)
{
    if (status == 0) {
        snprintf(buf, len, "%s: %s", what, err);
        return;
    }
    int n = 0;
    while (body[n] && body[n] != '\n' && n < 120)
        n++;
    snprintf(buf, len, "%s: HTTP %d%s%.*s", what, status, n ? ": " : "", n, body);
}

/* ---- discovery ------------------------------------------------------------------------ */

static int protocol_matches(const motan_url *service, const motan_url *node)
{
    const char *p = motan_url_get_protocol(service);
    return !*p || !strcmp(p, motan_url_get_protocol(node)) ||
           !strcmp(motan_url_get_protocol(node), "rule");
}

/* Gives service v the nodes of its watch's last answer that belong to it. */
static void publish_one(cwatch *w, motan__rsvc *v)
{
    motan_url **nodes = motan__calloc(w->n ? w->n : 1, sizeof(*nodes));
    size_t k = 0;
    for (size_t i = 0; nodes && i < w->n; i++) {
        const motan_url *u = w->nodes[i];
        if (strcmp(motan_url_get_path(u), v->path) || !protocol_matches(v->service, u))
            continue;
        nodes[k] = motan_url_clone(u);
        if (!nodes[k]) {
            motan__rsubs_free_nodes(nodes, k);
            return; /* out of memory: the last list stays */
        }
        k++;
    }
    if (!nodes)
        return;
    if (!k) {
        motan_free(nodes);
        nodes = NULL;
    }
    motan__rsubs_set(&w->st->subs, v, nodes, k);
}

static void publish(cwatch *w)
{
    for (size_t i = 0; i < w->st->subs.nsvcs; i++)
        if (w->st->subs.svcs[i]->impl == w)
            publish_one(w, w->st->subs.svcs[i]);
}

static void watch_fail(cwatch *w, const char *why)
{
    int delay = next_backoff(&w->backoff_ms);
    motan__errf(w->err, sizeof(w->err), 0, "consul registry %s:%d: %s (retrying in %d ms)",
                w->st->host, w->st->port, why, delay);
    w->healthy = 0;
    struct timeval tv = tv_ms(delay);
    evtimer_add(w->retry, &tv);
}

static void watch_answer(void *ud, int status, const char *err, const char *index, const char *body,
                         size_t len)
{
    cwatch *w = ud;
    char why[300];
    w->req = NULL;
    if (status != 200) {
        describe(why, sizeof(why), w->uri_base, status, err, body);
        watch_fail(w, why);
        return;
    }
    char *end = NULL;
    uint64_t idx = index ? strtoull(index, &end, 10) : 0;
    if (!index || end == index || *end) {
        motan__errf(why, sizeof(why), 0, "%s: no X-Consul-Index in the answer", w->uri_base);
        watch_fail(w, why);
        return;
    }
    /* Parsed even when the index did not move: a garbage answer is an error, not a no-op. */
    motan_url **nodes;
    size_t n, skipped;
    int rc = motan__consul_nodes(body, len, w->group, &nodes, &n, &skipped, why, sizeof(why));
    if (rc != MOTAN_OK) {
        char msg[300];
        motan__errf(msg, sizeof(msg), 0, "%s: %s", w->uri_base,
                    rc == MOTAN_ENOMEM ? "out of memory" : why);
        watch_fail(w, msg);
        return;
    }
    if (skipped)
        motan__errf(w->err, sizeof(w->err), 0, "consul registry %s:%d: %s: %s", w->st->host,
                    w->st->port, w->uri_base, why);
    else
        w->err[0] = '\0';
    /* Same index: nothing changed (the wait expired, or a write did not touch this). */
    if (!w->known || idx != w->seen) {
        motan__rsubs_free_nodes(w->nodes, w->n);
        w->nodes = nodes;
        w->n = n;
        w->known = 1;
        w->seen = idx;
        publish(w);
    } else {
        motan__rsubs_free_nodes(nodes, n);
    }
    /* An unchanged index long before the wait is over would make a busy loop: back off
     * (Consul's docs ask clients to rate-limit blocking queries). */
    int early = w->sent_index && idx == w->sent_index &&
                motan_now_us() - w->sent_us < (uint64_t)w->st->wait_ms * 500u;
    /* Consul: an index that goes backwards means a reset, start over from 0; one that is 0
     * would never block, use 1. */
    w->index = idx < w->index ? 0 : idx ? idx : 1;
    w->healthy = 1;
    if (early) {
        struct timeval tv = tv_ms(next_backoff(&w->backoff_ms));
        evtimer_add(w->retry, &tv);
        return;
    }
    w->backoff_ms = 0;
    watch_start(w);
}

static void watch_start(cwatch *w)
{
    consul_state *st = w->st;
    char uri[1024];
    int total = st->request_ms;
    w->sent_index = w->healthy ? w->index : 0;
    w->sent_us = motan_now_us();
    if (w->sent_index) {
        int whole = st->wait_ms % 1000 == 0;
        snprintf(uri, sizeof(uri), "%s&index=%" PRIu64 "&wait=%d%s", w->uri_base, w->index,
                 whole ? st->wait_ms / 1000 : st->wait_ms, whole ? "s" : "ms");
        /* Consul adds up to wait/16 of jitter. */
        total += st->wait_ms + st->wait_ms / 16;
    } else {
        snprintf(uri, sizeof(uri), "%s", w->uri_base);
    }
    int rc = start_request(st, "GET", uri, NULL, total, watch_answer, w, &w->req);
    if (rc != MOTAN_OK)
        watch_fail(w, "cannot start an HTTP request");
}

static void watch_retry(evutil_socket_t fd, short what, void *arg)
{
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    watch_start(arg);
}

static void watch_free(cwatch *w)
{
    motan__chttp_cancel(w->req);
    if (w->retry)
        event_free(w->retry);
    motan__rsubs_free_nodes(w->nodes, w->n);
    motan_free(w->group);
    motan_free(w->uri_base);
    motan_free(w);
}

static cwatch *watch_get(consul_state *st, const char *group)
{
    for (cwatch *w = st->watches; w; w = w->next)
        if (!strcmp(w->group, group))
            return w;
    cwatch *w = motan__calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->st = st;
    w->group = motan__strdup(group);
    char *name = motan_malloc(strlen(group) + sizeof(MOTAN__CONSUL_PREFIX));
    char *esc = NULL;
    if (name) {
        sprintf(name, "%s%s", MOTAN__CONSUL_PREFIX, group);
        esc = motan__consul_escape(name, 0);
    }
    size_t n = esc ? strlen(esc) + 40 : 0;
    w->uri_base = esc ? motan_malloc(n) : NULL;
    if (w->uri_base)
        snprintf(w->uri_base, n, "/v1/health/service/%s?passing", esc);
    motan_free(name);
    motan_free(esc);
    w->retry = evtimer_new(st->base, watch_retry, w);
    if (!w->group || !w->uri_base || !w->retry) {
        watch_free(w);
        return NULL;
    }
    w->next = st->watches;
    st->watches = w;
    watch_start(w);
    return w;
}

static void on_gone(void *owner, motan__rsvc *v)
{
    consul_state *st = owner;
    cwatch *w = v->impl;
    if (!w || --w->refs > 0)
        return;
    for (cwatch **p = &st->watches; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    watch_free(w);
}

/* ---- publishing ----------------------------------------------------------------------- */

static void reg_step(creg *g);

static void reg_fail(creg *g, const char *why)
{
    int delay = next_backoff(&g->backoff_ms);
    motan__errf(g->st->reg_err, sizeof(g->st->reg_err), 0,
                "consul registry %s:%d: %s (retrying in %d ms)", g->st->host, g->st->port, why,
                delay);
    g->step = 0; /* start over with the registration: the agent may have lost it */
    struct timeval tv = tv_ms(delay);
    evtimer_add(g->retry, &tv);
}

static void reg_answer(void *ud, int status, const char *err, const char *index, const char *body,
                       size_t len)
{
    creg *g = ud;
    char what[300];
    MOTAN_UNUSED(index);
    MOTAN_UNUSED(len);
    g->req = NULL;
    if (status != 200) {
        motan__errf(what, sizeof(what), 0, "%s %s", g->step ? "passing check of" : "registering",
                    g->id);
        char why[400];
        describe(why, sizeof(why), what, status, err, body);
        reg_fail(g, why);
        return;
    }
    if (g->step == 0) {
        g->step = 1;
        reg_step(g);
        return;
    }
    g->alive = 1;
    g->backoff_ms = 0;
    g->st->reg_err[0] = '\0';
}

static void reg_step(creg *g)
{
    char uri[1024];
    char *esc = motan__consul_escape(g->id, 0);
    if (!esc) {
        reg_fail(g, "out of memory");
        return;
    }
    if (g->step == 0)
        snprintf(uri, sizeof(uri), "/v1/agent/service/register");
    else
        snprintf(uri, sizeof(uri), "/v1/agent/check/pass/service:%s", esc);
    motan_free(esc);
    int rc = start_request(g->st, "PUT", uri, g->step == 0 ? g->body : NULL, g->st->request_ms,
                           reg_answer, g, &g->req);
    if (rc != MOTAN_OK)
        reg_fail(g, "cannot start an HTTP request");
}

static void reg_retry(evutil_socket_t fd, short what, void *arg)
{
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    reg_step(arg);
}

static void heartbeat(evutil_socket_t fd, short what, void *arg)
{
    consul_state *st = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    for (creg *g = st->regs; g; g = g->next) {
        if (!g->req && !evtimer_pending(g->retry, NULL)) {
            g->step = g->alive ? 1 : 0;
            reg_step(g);
        }
    }
}

static void reg_free(creg *g)
{
    motan__chttp_cancel(g->req);
    if (g->retry)
        event_free(g->retry);
    motan_free(g->id);
    motan_free(g->body);
    motan_free(g);
}

static void dereg_free(cdereg *d)
{
    motan__chttp_cancel(d->req);
    motan_free(d->id);
    motan_free(d);
}

static void dereg_answer(void *ud, int status, const char *err, const char *index, const char *body,
                         size_t len)
{
    cdereg *d = ud;
    consul_state *st = d->st;
    MOTAN_UNUSED(index);
    MOTAN_UNUSED(len);
    d->req = NULL;
    if (status != 200) {
        char what[300];
        motan__errf(what, sizeof(what), 0, "deregistering %s", d->id);
        char why[400];
        describe(why, sizeof(why), what, status, err, body);
        motan__errf(st->reg_err, sizeof(st->reg_err), 0, "consul registry %s:%d: %s", st->host,
                    st->port, why);
    }
    for (cdereg **p = &st->deregs; *p; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    dereg_free(d);
}

/* The URI of PUT /v1/agent/service/deregister/<id>. */
static int dereg_uri(const char *id, char *uri, size_t len)
{
    char *esc = motan__consul_escape(id, 0);
    if (!esc)
        return MOTAN_ENOMEM;
    snprintf(uri, len, "/v1/agent/service/deregister/%s", esc);
    motan_free(esc);
    return MOTAN_OK;
}

static int dereg_send(consul_state *st, const char *id, motan__chttp_cb cb, void *ud,
                      motan__chttp **out)
{
    char uri[1024];
    int rc = dereg_uri(id, uri, sizeof(uri));
    return rc == MOTAN_OK ? start_request(st, "PUT", uri, NULL, st->request_ms, cb, ud, out) : rc;
}

/* ---- ops ------------------------------------------------------------------------------ */

static void free_state(void *owner)
{
    consul_state *st = owner;
    while (st->watches) {
        cwatch *w = st->watches;
        st->watches = w->next;
        watch_free(w);
    }
    while (st->regs) {
        creg *g = st->regs;
        st->regs = g->next;
        reg_free(g);
    }
    while (st->deregs) {
        cdereg *d = st->deregs;
        st->deregs = d->next;
        dereg_free(d);
    }
    if (st->heartbeat)
        event_free(st->heartbeat);
    motan__rsubs_close(&st->subs);
    motan_free(st);
}

static int consul_create(motan_loop *loop, const motan_url *url, void **state, char *errbuf,
                         size_t errlen)
{
    size_t na = motan_url_addr_count(url);
    if (na > 1 || (na == 1 && motan_url_addr_is_unix(url, 0)))
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "consul registry: one host:port, the local agent's, is expected");
    const char *host =
        na && *motan_url_addr_host(url, 0) ? motan_url_addr_host(url, 0) : "127.0.0.1";
    int port = na && motan_url_addr_port(url, 0) ? motan_url_addr_port(url, 0) : 8500;
    const char *wait = motan_url_get_str(url, NULL, "wait", "30s");
    int wait_ms = parse_duration_ms(wait);
    int64_t connect_ms = motan_url_get_int(url, NULL, "connectTimeout", 1000);
    int64_t request_ms = motan_url_get_int(url, NULL, "requestTimeout", 1000);
    int64_t ttl = motan_url_get_int(url, NULL, "ttl", 30);
    if (wait_ms <= 0)
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "consul registry: bad wait \"%s\" (\"30s\", \"500ms\", at most 10m)",
                           wait);
    if (connect_ms <= 0 || connect_ms > 600000 || request_ms <= 0 || request_ms > 600000)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "consul registry: bad timeout");
    if (ttl < 3 || ttl > 86400)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "consul registry: bad ttl (3..86400 s)");
    if (strlen(host) >= 256)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "consul registry: host name too long");
    consul_state *st = motan__calloc(1, sizeof(*st));
    if (!st)
        return MOTAN_ENOMEM;
    st->loop = loop;
    st->base = motan_loop_get_base(loop);
    snprintf(st->host, sizeof(st->host), "%s", host);
    st->port = port;
    st->wait_ms = wait_ms;
    st->connect_ms = (int)connect_ms;
    st->request_ms = (int)request_ms;
    st->ttl_s = (int)ttl;
    st->heartbeat = event_new(st->base, -1, EV_PERSIST, heartbeat, st);
    if (!st->heartbeat || motan__rsubs_init(&st->subs, st->base, st) != MOTAN_OK) {
        free_state(st);
        return MOTAN_ENOMEM;
    }
    st->subs.on_gone = on_gone;
    st->subs.free_owner = free_state;
    struct timeval tv = tv_ms(st->ttl_s * 2000 / 3);
    event_add(st->heartbeat, &tv);
    *state = st;
    return MOTAN_OK;
}

/*
 * Deregisters what this registry published, waiting FAREWELL_MS at most in all (an agent
 * that does not answer must not hold up the loop: what it missed expires with its TTL
 * check). Blocking, to the address that answered last (or the URL's, when it is one).
 */
static void farewell(consul_state *st)
{
    const char *ip = st->peer[0] ? st->peer : st->host;
    uint64_t end = motan_now_us() + FAREWELL_MS * 1000u;
    char uri[1024];
    for (creg *g = st->regs; g; g = g->next) {
        uint64_t now = motan_now_us();
        if (now >= end || dereg_uri(g->id, uri, sizeof(uri)) != MOTAN_OK)
            break;
        motan__chttp_sync(ip, st->port, st->host, "PUT", uri, (int)((end - now) / 1000) + 1);
    }
    for (cdereg *d = st->deregs; d; d = d->next) {
        uint64_t now = motan_now_us();
        if (now >= end || dereg_uri(d->id, uri, sizeof(uri)) != MOTAN_OK)
            break;
        motan__chttp_sync(ip, st->port, st->host, "PUT", uri, (int)((end - now) / 1000) + 1);
    }
}

static void consul_destroy(void *state)
{
    consul_state *st = state;
    /* Nothing of ours may run once destroy returns: stop it all now. */
    for (cwatch *w = st->watches; w; w = w->next) {
        motan__chttp_cancel(w->req);
        w->req = NULL;
        evtimer_del(w->retry);
    }
    for (creg *g = st->regs; g; g = g->next) {
        motan__chttp_cancel(g->req);
        g->req = NULL;
        evtimer_del(g->retry);
    }
    for (cdereg *d = st->deregs; d; d = d->next) {
        motan__chttp_cancel(d->req);
        d->req = NULL;
    }
    event_del(st->heartbeat);
    /* In a child process after fork() the registrations are the parent's to keep. */
    if (!motan_loop_forked(st->loop))
        farewell(st);
    if (!motan__rsubs_defer_free(&st->subs))
        free_state(st);
}

static int consul_subscribe(void *state, const motan_url *service, motan_registry_listener cb,
                            void *userdata)
{
    consul_state *st = state;
    motan__rsvc *v;
    int created;
    int rc = motan__rsubs_add(&st->subs, service, cb, userdata, &v, &created);
    if (rc != MOTAN_OK || !created)
        return rc;
    cwatch *w = watch_get(st, v->group);
    if (!w) {
        motan__rsubs_remove(&st->subs, service, cb, userdata);
        return MOTAN_ENOMEM;
    }
    v->impl = w;
    w->refs++;
    if (w->known)
        publish_one(w, v);
    return MOTAN_OK;
}

static int consul_unsubscribe(void *state, const motan_url *service, motan_registry_listener cb,
                              void *userdata)
{
    consul_state *st = state;
    return motan__rsubs_remove(&st->subs, service, cb, userdata);
}

static int consul_register(void *state, const motan_url *node)
{
    consul_state *st = state;
    char *id, *body;
    int rc = motan__consul_service(node, st->ttl_s, &id, &body, NULL, 0);
    if (rc != MOTAN_OK)
        return rc;
    for (creg *g = st->regs; g; g = g->next) {
        if (!strcmp(g->id, id)) {
            /* Already published: refresh what is published. */
            motan_free(g->body);
            g->body = body;
            motan_free(id);
            motan__chttp_cancel(g->req);
            g->req = NULL;
            evtimer_del(g->retry);
            g->step = 0;
            reg_step(g);
            return MOTAN_OK;
        }
    }
    creg *g = motan__calloc(1, sizeof(*g));
    if (g)
        g->retry = evtimer_new(st->base, reg_retry, g);
    if (!g || !g->retry) {
        motan_free(g);
        motan_free(id);
        motan_free(body);
        return MOTAN_ENOMEM;
    }
    g->st = st;
    g->id = id;
    g->body = body;
    g->next = st->regs;
    st->regs = g;
    reg_step(g);
    return MOTAN_OK;
}

static int consul_unregister(void *state, const motan_url *node)
{
    consul_state *st = state;
    char *id, *body;
    int rc = motan__consul_service(node, st->ttl_s, &id, &body, NULL, 0);
    if (rc != MOTAN_OK)
        return rc;
    motan_free(body);
    for (creg **p = &st->regs; *p; p = &(*p)->next) {
        if (!strcmp((*p)->id, id)) {
            creg *g = *p;
            *p = g->next;
            reg_free(g);
            break;
        }
    }
    /* Sent even for a node published elsewhere: deregistering is idempotent in Consul. */
    cdereg *d = motan__calloc(1, sizeof(*d));
    if (!d) {
        motan_free(id);
        return MOTAN_ENOMEM;
    }
    d->st = st;
    d->id = id;
    rc = dereg_send(st, d->id, dereg_answer, d, &d->req);
    if (rc != MOTAN_OK) {
        dereg_free(d);
        return rc;
    }
    d->next = st->deregs;
    st->deregs = d;
    return MOTAN_OK;
}

static const char *consul_errmsg(void *state)
{
    consul_state *st = state;
    st->errmsg[0] = '\0';
    for (cwatch *w = st->watches; w && !st->errmsg[0]; w = w->next)
        if (w->err[0])
            snprintf(st->errmsg, sizeof(st->errmsg), "%s", w->err);
    if (!st->errmsg[0] && st->reg_err[0])
        snprintf(st->errmsg, sizeof(st->errmsg), "%s", st->reg_err);
    return st->errmsg;
}

/* What consul_create reads. On a client URL connectTimeout and requestTimeout are the
 * client's (client parameters never reach the registry): only wait and ttl get here. */
static const char *const consul_params[] = {"wait", "ttl", "connectTimeout", "requestTimeout",
                                            NULL};

const motan_registry_ops motan__registry_consul = {
    .struct_size = sizeof(motan_registry_ops),
    .scheme = "consul",
    .create = consul_create,
    .destroy = consul_destroy,
    .subscribe = consul_subscribe,
    .unsubscribe = consul_unsubscribe,
    .register_node = consul_register,
    .unregister_node = consul_unregister,
    .errmsg = consul_errmsg,
    .params = consul_params,
};
