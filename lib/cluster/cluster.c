/*
 * Cluster: endpoint sets per group, atomic list updates (kept endpoints keep their
 * connections, removed ones drain), group weights from rule:// nodes, and the lifecycle.
 * Calls and the HA context live in cluster_call.c.
 */
#include <strings.h>

#include "cluster/cluster_int.h"

#define DRAIN_CHECK_MS 100

static void cluster_destroy(motan_cluster *c);

void motan__cluster_hold(motan_cluster *c) { c->busy++; }

void motan__cluster_release(motan_cluster *c)
{
    if (--c->busy == 0 && c->free_pending)
        cluster_destroy(c);
}

static void cluster_hold(void *c) { motan__cluster_hold(c); }
static void cluster_release(void *c) { motan__cluster_release(c); }

/* ---- creation ------------------------------------------------------------------------- */

typedef struct create_args {
    motan_loop *loop;
    const motan_url *service;
    motan_cluster *c;
    int rc;
    char *errbuf;
    size_t errlen;
} create_args;

static int group_init(motan_cluster *c, motan__group *g, const char *name)
{
    g->name = motan__strdup(name);
    g->lb_state = c->lb->create(c->url);
    if (motan__resil_group_init(c, g) != MOTAN_OK)
        return MOTAN_ENOMEM;
    return g->name && g->lb_state ? MOTAN_OK : MOTAN_ENOMEM;
}

static void group_clear(motan_cluster *c, motan__group *g)
{
    for (size_t i = 0; i < g->n; i++)
        motan_endpoint_free(g->eps[i]);
    motan_free(g->eps);
    g->eps = NULL;
    g->n = 0;
    if (g->lb_state)
        c->lb->destroy(g->lb_state);
    g->lb_state = NULL;
    motan__resil_group_free(g);
    motan_free(g->name);
    g->name = NULL;
}

static void create_in_loop(void *arg)
{
    create_args *a = arg;
    const motan_url *u = a->service;
    const char *lbname = motan_url_get_str(u, NULL, "loadbalance", "random");
    const char *haname = motan_url_get_str(u, NULL, "haStrategy", "failover");
    const motan_lb_ops *lb = motan_lb_find(lbname);
    const motan_ha_ops *ha = motan_ha_find(haname);
    if (!lb) {
        a->rc = motan__errf(a->errbuf, a->errlen, MOTAN_EURL, "unknown loadbalance \"%s\"", lbname);
        return;
    }
    if (!ha) {
        a->rc = motan__errf(a->errbuf, a->errlen, MOTAN_EURL, "unknown haStrategy \"%s\"", haname);
        return;
    }
    const char *path = motan_url_get_path(u);
    if (!path || !*path) {
        a->rc = motan__errf(a->errbuf, a->errlen, MOTAN_EURL, "the service URL has no path");
        return;
    }
    motan_cluster *c = motan__calloc(1, sizeof(*c));
    if (!c) {
        a->rc = MOTAN_ENOMEM;
        return;
    }
    motan__freelist_init(&c->pool, MOTAN__HA_CALL_POOL, offsetof(motan_ha_call, next));
    c->loop = a->loop;
    c->lb = lb;
    c->ha = ha;
    c->url = motan_url_clone(u);
    c->path = motan__strdup(path);
    const char *prot = motan_url_get_str(u, NULL, "emptyNodeProtection", "true");
    c->empty_protection = strcasecmp(prot, "false") != 0 && strcmp(prot, "0") != 0;
    c->max_timeout_ms = (int)motan_url_get_int(u, NULL, "requestTimeout", 1000);
    c->timeout_ms = c->max_timeout_ms > 0 ? c->max_timeout_ms : 1000;
    for (size_t i = 0; i < motan_url_param_count(u); i++) {
        const char *k = motan_url_param_key(u, i);
        const char *dot = strrchr(k, '.');
        if (dot && dot != k)
            c->has_method_params = 1;
        if (dot && !strcmp(dot + 1, "requestTimeout")) {
            int64_t t = motan_url_get_int(u, NULL, k, 0);
            if (t > c->max_timeout_ms)
                c->max_timeout_ms = (int)t;
        }
    }
    int rc = c->url && c->path ? MOTAN_OK : MOTAN_ENOMEM;
    if (rc == MOTAN_OK) {
        /* The endpoints send it (their URLs carry the service's parameters): check it once. */
        const char *ser = motan_url_get_param(c->url, "serialization");
        int id = c->serialization = ser ? motan_serialization_by_name(ser) : -1;
        if (ser && (id < 0 || !motan_serialization_supported(id)))
            rc = motan__errf(a->errbuf, a->errlen, MOTAN_EURL,
                             "serialization \"%s\" is not supported (simple, msgpack, json)", ser);
    }
    if (rc == MOTAN_OK)
        rc = motan__resil_new(c, a->errbuf, a->errlen);
    if (rc == MOTAN_OK)
        rc = group_init(c, &c->own, motan_url_get_str(u, NULL, "group", "default_rpc"));
    if (rc == MOTAN_OK && !(c->ha_state = ha->create(c->url)))
        rc = MOTAN_ENOMEM;
    if (rc != MOTAN_OK) {
        if (rc == MOTAN_ENOMEM) /* other errors wrote their own message */
            motan__errf(a->errbuf, a->errlen, rc, "out of memory creating a cluster");
        cluster_destroy(c);
        a->rc = rc;
        return;
    }
    struct event_base *base = motan_loop_get_base(c->loop);
    event_assign(&c->done_ev, base, -1, 0, motan__cluster_on_done, c);
    motan__tqs_init(&c->backstops, base, motan__cluster_on_backstop, cluster_hold, cluster_release,
                    c);
    a->c = c;
    a->rc = MOTAN_OK;
}

static int cluster_new_impl(motan_loop *l, const motan_url *service, motan_cluster **out,
                            char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!l || !service)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no loop or service URL given");
    create_args a = {.loop = l, .service = service, .errbuf = errbuf, .errlen = errlen};
    int rc = motan_loop_run_wait(l, create_in_loop, &a);
    if (rc != MOTAN_OK)
        return motan__errf(errbuf, errlen, rc, "the loop is closed");
    *out = a.c;
    return a.rc;
}

MOTAN_EXPORT int motan_cluster_new(motan_loop *l, const motan_url *service, motan_cluster **out,
                                   char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, cluster_new_impl(l, service, out, errbuf, errlen));
}

/* ---- destruction ---------------------------------------------------------------------- */

static void drain_free_all(motan_cluster *c)
{
    while (c->draining) {
        motan__drain *d = c->draining;
        c->draining = d->next;
        motan_endpoint_free(d->ep);
        motan_free(d);
    }
    if (c->drain_timer_set) {
        event_del(&c->drain_timer);
        c->drain_timer_set = 0;
    }
}

static void cluster_destroy(motan_cluster *c)
{
    drain_free_all(c);
    group_clear(c, &c->own);
    for (size_t i = 0; i < c->ngroups; i++) {
        group_clear(c, c->groups[i]);
        motan_free(c->groups[i]);
    }
    motan_free(c->groups);
    if (c->ha_state)
        c->ha->destroy(c->ha_state);
    motan__resil_free(c);
    if (c->done_ev.ev_base)
        event_del(&c->done_ev);
    motan__tqs_stop(&c->backstops);
    motan__freelist_drain(&c->pool, motan_free);
    pthread_mutex_destroy(&c->pool.mu);
    motan_buf_free(c->measure);
    motan_url_free(c->url);
    motan_free(c->path);
    motan_free(c);
}

static void free_in_loop(void *arg)
{
    motan_cluster *c = arg;
    if (c->closing)
        return;
    c->closing = 1;
    motan__cluster_hold(c);
    motan__cluster_cancel_calls(c);
    /* Endpoints deliver their cancelled attempts while being freed; calls are done by then. */
    drain_free_all(c);
    for (size_t i = 0; i < c->own.n; i++)
        motan_endpoint_free(c->own.eps[i]);
    c->own.n = 0;
    for (size_t k = 0; k < c->ngroups; k++) {
        for (size_t i = 0; i < c->groups[k]->n; i++)
            motan_endpoint_free(c->groups[k]->eps[i]);
        c->groups[k]->n = 0;
    }
    event_del(&c->done_ev);
    motan__tqs_stop(&c->backstops);
    c->free_pending = 1;
    motan__cluster_release(c);
}

MOTAN_EXPORT void motan_cluster_free(motan_cluster *c)
{
    if (!c)
        return;
    motan_loop_run_wait(c->loop, free_in_loop, c);
}

/* ---- draining ------------------------------------------------------------------------- */

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
    motan_cluster *c = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan__cluster_hold(c);
    uint64_t now = motan_now_us();
    motan__drain **pp = &c->draining;
    while (*pp && !c->closing) {
        motan__drain *d = *pp;
        if (motan_endpoint_inflight(d->ep) == 0 || now >= d->deadline_us) {
            *pp = d->next;
            motan_endpoint_free(d->ep);
            motan_free(d);
        } else {
            pp = &d->next;
        }
    }
    c->drain_timer_set = 0;
    if (c->draining && !c->closing) {
        struct timeval tv = {0, DRAIN_CHECK_MS * 1000};
        event_add(&c->drain_timer, &tv);
        c->drain_timer_set = 1;
    }
    motan__cluster_release(c);
}

static void drain_endpoint(motan_cluster *c, motan_endpoint *ep)
{
    if (motan_endpoint_inflight(ep) == 0) {
        motan_endpoint_free(ep);
        return;
    }
    motan__drain *d = motan__calloc(1, sizeof(*d));
    if (!d) {
        motan_endpoint_free(ep); /* cancels its calls: still exactly once */
        return;
    }
    d->ep = ep;
    d->deadline_us = motan_now_us() + (uint64_t)(2 * c->max_timeout_ms + 1000) * 1000u;
    d->next = c->draining;
    c->draining = d;
    if (!c->drain_timer_set) {
        event_assign(&c->drain_timer, motan_loop_get_base(c->loop), -1, 0, on_drain_timer, c);
        struct timeval tv = {0, DRAIN_CHECK_MS * 1000};
        event_add(&c->drain_timer, &tv);
        c->drain_timer_set = 1;
    }
}

/* ---- updates -------------------------------------------------------------------------- */

/* The endpoint's URL: the node with the service's parameters on top (group/weight stay the node's). */
static motan_url *merge_node(const motan_cluster *c, const motan_url *node)
{
    motan_url *m = motan_url_clone(node);
    if (!m)
        return NULL;
    if (motan_url_set_path(m, c->path) != MOTAN_OK) {
        motan_url_free(m);
        return NULL;
    }
    for (size_t i = 0; i < motan_url_param_count(c->url); i++) {
        const char *k = motan_url_param_key(c->url, i);
        if (!strcmp(k, "weight") || (!strcmp(k, "group") && motan_url_get_param(node, "group")))
            continue;
        if (motan_url_set_param(m, k, motan_url_param_value(c->url, i)) != MOTAN_OK) {
            motan_url_free(m);
            return NULL;
        }
    }
    return m;
}

static int same_params(const motan_url *a, const motan_url *b)
{
    if (motan_url_param_count(a) != motan_url_param_count(b))
        return 0;
    for (size_t i = 0; i < motan_url_param_count(a); i++) {
        const char *v = motan_url_get_param(b, motan_url_param_key(a, i));
        if (!v || strcmp(v, motan_url_param_value(a, i)))
            return 0;
    }
    return 1;
}

/* In the index: idx < nold is an old endpoint not yet kept, TAKEN an address already listed,
 * RETRY one whose endpoint could not be made (a later entry for it may try again). */
#define TAKEN SIZE_MAX
#define RETRY (SIZE_MAX - 1)

/*
 * Applies a node list (rule nodes already removed) to group g: old endpoints and new nodes
 * are matched by address through one hash index, O(n + nold).
 */
static int group_apply(motan_cluster *c, motan__group *g, const motan_url *const *nodes, size_t n)
{
    motan_endpoint **eps = motan__calloc(n ? n : 1, sizeof(*eps));
    motan__addr_index ix;
    if (!eps || motan__addr_index_init(&ix, n + g->n) != MOTAN_OK) {
        motan_free(eps);
        return MOTAN_ENOMEM;
    }
    motan_endpoint **old = g->eps;
    size_t nold = g->n, k = 0;
    for (size_t i = 0; i < nold; i++) {
        motan__addr_slot *s = motan__addr_index_slot(&ix, motan_endpoint_get_url(old[i]));
        if (!s->url) {
            s->url = motan_endpoint_get_url(old[i]);
            s->idx = i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (motan_url_addr_count(nodes[i]) == 0)
            continue; /* an endpoint needs an address */
        motan__addr_slot *s = motan__addr_index_slot(&ix, nodes[i]);
        if (s->url && s->idx == TAKEN)
            continue; /* listed twice */
        motan_url *m = merge_node(c, nodes[i]);
        if (!m)
            continue;
        motan_endpoint *ep = NULL;
        if (s->url && s->idx != RETRY) { /* kept: it keeps its connections */
            ep = old[s->idx];
            old[s->idx] = NULL;
        }
        if (ep && !same_params(motan_endpoint_get_url(ep), m)) {
            /* Parameters changed (e.g. weight): applied in place, connections kept. */
            char err[256];
            if (motan_endpoint_update_url(ep, m, err, sizeof(err)) != MOTAN_OK) {
                drain_endpoint(c, ep);
                ep = NULL;
            }
        }
        if (!ep) {
            char err[256];
            if (motan_endpoint_new(c->loop, m, &ep, err, sizeof(err)) != MOTAN_OK)
                ep = NULL;
        }
        motan_url_free(m);
        if (ep)
            eps[k++] = ep;
        s->url = nodes[i];
        s->idx = ep ? TAKEN : RETRY;
    }
    motan__addr_index_free(&ix);
    for (size_t i = 0; i < nold; i++)
        if (old[i])
            drain_endpoint(c, old[i]);
    motan_free(old);
    g->eps = eps;
    g->n = k;
    c->lb->update(g->lb_state, g->eps, g->n);
    motan__resil_group_sync(c, g);
    return MOTAN_OK;
}

static motan__group *find_group(motan_cluster *c, const char *name)
{
    if (!strcmp(name, c->own.name))
        return &c->own;
    for (size_t i = 0; i < c->ngroups; i++)
        if (!strcmp(c->groups[i]->name, name))
            return c->groups[i];
    return NULL;
}

/* Installs the rule's group set; notifies the listener when it changed. */
static void apply_rule(motan_cluster *c, const char *weights)
{
    char **names = NULL;
    int *w = NULL;
    size_t n = 0;
    if (weights && *weights && motan__rule_parse(weights, &names, &w, &n) != MOTAN_OK)
        n = 0;
    int changed = 0;
    /* Weights of existing groups, new groups for new names. */
    c->own.weight = 0;
    for (size_t i = 0; i < c->ngroups; i++)
        c->groups[i]->weight = 0;
    for (size_t i = 0; i < n; i++) {
        motan__group *g = find_group(c, names[i]);
        if (!g) {
            motan__group **ng = motan_realloc(c->groups, (c->ngroups + 1) * sizeof(*ng));
            if (!ng)
                continue;
            c->groups = ng;
            g = motan__calloc(1, sizeof(*g));
            if (!g || group_init(c, g, names[i]) != MOTAN_OK) {
                if (g) {
                    group_clear(c, g);
                    motan_free(g);
                }
                continue;
            }
            c->groups[c->ngroups++] = g;
            changed = 1;
        }
        g->weight = w[i];
    }
    /* Groups no longer named: their endpoints drain. */
    for (size_t i = 0; i < c->ngroups;) {
        motan__group *g = c->groups[i];
        if (g->weight) {
            i++;
            continue;
        }
        for (size_t j = 0; j < g->n; j++)
            drain_endpoint(c, g->eps[j]);
        g->n = 0;
        /* Its calls may still retry (failover, backup): from the own group, not freed memory. */
        for (motan_ha_call *call = c->live_head; call; call = call->next)
            if (call->group == g)
                call->group = &c->own;
        group_clear(c, g);
        motan_free(g);
        c->groups[i] = c->groups[--c->ngroups];
        changed = 1;
    }
    c->rule_active = n > 0;
    motan__rule_free(names, w, n);
    if (changed && c->groups_cb) {
        const char **list = motan__calloc(c->ngroups ? c->ngroups : 1, sizeof(char *));
        if (list) {
            for (size_t i = 0; i < c->ngroups; i++)
                list[i] = c->groups[i]->name;
            c->groups_cb(list, c->ngroups, c->groups_ud);
            motan_free(list);
        }
    }
}

typedef struct update_args {
    motan_cluster *c;
    const char *group; /* NULL: own group */
    const motan_url *const *nodes;
    size_t n;
    int rc;
} update_args;

static void update_in_loop(void *arg)
{
    update_args *a = arg;
    motan_cluster *c = a->c;
    if (c->closing) {
        a->rc = MOTAN_ECLOSED;
        return;
    }
    motan__cluster_hold(c);
    const motan_url **eps = motan__calloc(a->n ? a->n : 1, sizeof(*eps));
    if (!eps) {
        a->rc = MOTAN_ENOMEM;
        motan__cluster_release(c);
        return;
    }
    size_t k = 0;
    const motan_url *rule = NULL;
    for (size_t i = 0; i < a->n; i++) {
        const char *proto = motan_url_get_protocol(a->nodes[i]);
        if (!strcasecmp(proto, "rule"))
            rule = a->nodes[i];
        else if (!strcasecmp(proto, "motan2"))
            eps[k++] = a->nodes[i];
        /* other protocols (motan1 "motan", grpc, ...) are not ours to call */
    }
    motan__group *g = a->group ? find_group(c, a->group) : &c->own;
    a->rc = MOTAN_OK;
    if (!a->group) {
        const char *w = rule ? motan_url_get_param(rule, "weights") : NULL;
        if (rule && !w)
            w = motan_url_get_param(rule, "weight");
        apply_rule(c, w);
    }
    if (!g)
        a->rc = MOTAN_ENOTFOUND; /* a group the rule does not name (any more) */
    else if (k == 0 && c->empty_protection && g->n > 0)
        ; /* empty-list protection: keep the last non-empty list */
    else
        a->rc = group_apply(c, g, eps, k);
    motan_free(eps);
    if (!a->group && !c->ever_updated) {
        c->ever_updated = 1;
        motan__cluster_unpark(c);
    }
    motan__cluster_release(c);
}

MOTAN_EXPORT int motan_cluster_update(motan_cluster *c, const motan_url *const *nodes, size_t n)
{
    if (!c || (n && !nodes))
        return MOTAN_EINVAL;
    update_args a = {.c = c, .nodes = nodes, .n = n};
    int rc = motan_loop_run_wait(c->loop, update_in_loop, &a);
    return rc == MOTAN_OK ? a.rc : rc;
}

MOTAN_EXPORT int motan_cluster_update_group(motan_cluster *c, const char *group,
                                            const motan_url *const *nodes, size_t n)
{
    if (!c || !group || (n && !nodes))
        return MOTAN_EINVAL;
    update_args a = {.c = c, .group = group, .nodes = nodes, .n = n};
    int rc = motan_loop_run_wait(c->loop, update_in_loop, &a);
    return rc == MOTAN_OK ? a.rc : rc;
}

MOTAN_EXPORT void motan_cluster_set_groups_listener(motan_cluster *c, motan_cluster_groups_cb cb,
                                                    void *userdata)
{
    c->groups_cb = cb;
    c->groups_ud = userdata;
}

motan__group *motan__cluster_choose_group(motan_cluster *c)
{
    if (!c->rule_active)
        return &c->own;
    /* Smooth weighted round robin over the named groups that have endpoints. */
    motan__group *best = NULL;
    int total = 0;
    motan__group *cand[1 + 64];
    size_t nc = 0;
    if (c->own.weight && c->own.n)
        cand[nc++] = &c->own;
    for (size_t i = 0; i < c->ngroups && nc < 65; i++)
        if (c->groups[i]->weight && c->groups[i]->n)
            cand[nc++] = c->groups[i];
    for (size_t i = 0; i < nc; i++) {
        cand[i]->current += cand[i]->weight;
        total += cand[i]->weight;
        if (!best || cand[i]->current > best->current)
            best = cand[i];
    }
    if (!best)
        return &c->own;
    best->current -= total;
    return best;
}

/* ---- introspection -------------------------------------------------------------------- */

MOTAN_EXPORT size_t motan_cluster_endpoint_count(const motan_cluster *c) { return c->own.n; }

MOTAN_EXPORT motan_endpoint *motan_cluster_endpoint_at(const motan_cluster *c, size_t i)
{
    return i < c->own.n ? c->own.eps[i] : NULL;
}

MOTAN_EXPORT const motan_url *motan_cluster_get_url(const motan_cluster *c) { return c->url; }

MOTAN_EXPORT uint64_t motan_cluster_stat(const motan_cluster *c, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } stats[] = {
        {"calls", offsetof(motan_cluster, st_calls)},
        {"ok", offsetof(motan_cluster, st_ok)},
        {"errors", offsetof(motan_cluster, st_errors)},
        {"retries", offsetof(motan_cluster, st_retries)},
        {"backups", offsetof(motan_cluster, st_backups)},
        {"backups_won", offsetof(motan_cluster, st_backups_won)},
        {"no_endpoint", offsetof(motan_cluster, st_no_endpoint)},
        {"ejections", offsetof(motan_cluster, st_ejections)},
        {"budget_exhausted", offsetof(motan_cluster, st_budget_exhausted)},
    };
    if (!c || !name)
        return 0;
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
        if (!strcmp(stats[i].name, name))
            return atomic_load((atomic_uint_fast64_t *)((char *)c + stats[i].off));
    return 0;
}
