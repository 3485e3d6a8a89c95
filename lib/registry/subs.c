/*
 * Subscriptions shared by the direct, file and consul registries: services keyed by path and
 * group, their current node lists, and delivery of a list to listeners from a 0-timeout event
 * so that no listener ever runs inside the call that subscribed it.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "registry/registry_int.h"

const char *motan__rsubs_group(const motan_url *service)
{
    const char *g = motan_url_get_param(service, "group");
    return g && *g ? g : "default_rpc";
}

void motan__rsubs_free_nodes(motan_url **nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        motan_url_free(nodes[i]);
    motan_free(nodes);
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        motan_free(keys[i]);
    motan_free(keys);
}

static void svc_free(motan__rsvc *v)
{
    motan__rsubs_free_nodes(v->nodes, v->n);
    free_keys(v->keys, v->n);
    motan_url_free(v->service);
    motan_free(v->path);
    motan_free(v->group);
    motan_free(v->lis);
    motan_free(v);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg);

int motan__rsubs_init(motan__rsubs *s, struct event_base *base, void *owner)
{
    memset(s, 0, sizeof(*s));
    s->owner = owner;
    s->kick = evtimer_new(base, kick_cb, s);
    return s->kick ? MOTAN_OK : MOTAN_ENOMEM;
}

void motan__rsubs_close(motan__rsubs *s)
{
    if (s->kick)
        event_free(s->kick);
    s->kick = NULL;
    for (size_t i = 0; i < s->nsvcs; i++)
        svc_free(s->svcs[i]);
    motan_free(s->svcs);
    s->svcs = NULL;
    s->nsvcs = s->csvcs = 0;
}

int motan__rsubs_defer_free(motan__rsubs *s)
{
    if (!s->notifying)
        return 0;
    s->dead = 1;
    return 1;
}

static void kick(motan__rsubs *s)
{
    static const struct timeval zero = {0, 0};
    if (s->kick && !evtimer_pending(s->kick, NULL))
        evtimer_add(s->kick, &zero);
}

/* A service is its protocol, path and group (consul filters nodes by protocol). */
static motan__rsvc *find(const motan__rsubs *s, const motan_url *service)
{
    const char *path = motan_url_get_path(service), *group = motan__rsubs_group(service);
    const char *proto = motan_url_get_protocol(service);
    for (size_t i = 0; i < s->nsvcs; i++) {
        motan__rsvc *v = s->svcs[i];
        if (!strcmp(v->path, path) && !strcmp(v->group, group) &&
            !strcmp(motan_url_get_protocol(v->service), proto))
            return v;
    }
    return NULL;
}

/* Drops listeners removed during a round, then services nobody listens to any more. */
static void sweep(motan__rsubs *s)
{
    size_t w = 0;
    for (size_t i = 0; i < s->nsvcs; i++) {
        motan__rsvc *v = s->svcs[i];
        size_t lw = 0;
        for (size_t j = 0; j < v->nlis; j++)
            if (v->lis[j].cb)
                v->lis[lw++] = v->lis[j];
        v->nlis = lw;
        if (v->nlis) {
            s->svcs[w++] = v;
            continue;
        }
        if (s->on_gone)
            s->on_gone(s->owner, v);
        svc_free(v);
    }
    s->nsvcs = w;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    motan__rsubs *s = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    s->notifying = 1;
    /* Counts are re-read every turn: listeners may subscribe or unsubscribe meanwhile. */
    for (size_t i = 0; i < s->nsvcs && !s->dead; i++) {
        motan__rsvc *v = s->svcs[i];
        for (size_t j = 0; j < v->nlis && !s->dead; j++) {
            motan__rlis l = v->lis[j];
            if (!l.cb || !l.pending)
                continue;
            v->lis[j].pending = 0;
            l.cb((const motan_url *const *)v->nodes, v->n, l.userdata);
        }
    }
    s->notifying = 0;
    if (s->dead) {
        s->free_owner(s->owner);
        return;
    }
    sweep(s);
}

int motan__rsubs_add(motan__rsubs *s, const motan_url *service, motan_registry_listener cb,
                     void *userdata, motan__rsvc **out, int *created)
{
    const char *path = motan_url_get_path(service), *group = motan__rsubs_group(service);
    motan__rsvc *v = find(s, service);
    *created = 0;
    if (!v) {
        if (s->nsvcs == s->csvcs) {
            size_t n = s->csvcs ? 2 * s->csvcs : 4;
            motan__rsvc **ns = motan_realloc(s->svcs, n * sizeof(*ns));
            if (!ns)
                return MOTAN_ENOMEM;
            s->svcs = ns;
            s->csvcs = n;
        }
        v = motan__calloc(1, sizeof(*v));
        if (!v)
            return MOTAN_ENOMEM;
        v->path = motan__strdup(path);
        v->group = motan__strdup(group);
        v->service = motan_url_clone(service);
        if (!v->path || !v->group || !v->service) {
            svc_free(v);
            return MOTAN_ENOMEM;
        }
        s->svcs[s->nsvcs++] = v;
        *created = 1;
    }
    *out = v;
    for (size_t j = 0; j < v->nlis; j++)
        if (v->lis[j].cb == cb && v->lis[j].userdata == userdata)
            return MOTAN_OK;
    if (v->nlis == v->clis) {
        size_t n = v->clis ? 2 * v->clis : 2;
        motan__rlis *nl = motan_realloc(v->lis, n * sizeof(*nl));
        if (!nl) {
            if (!v->nlis) {
                s->nsvcs--;
                svc_free(v);
            }
            return MOTAN_ENOMEM;
        }
        v->lis = nl;
        v->clis = n;
    }
    v->lis[v->nlis++] = (motan__rlis){cb, userdata, v->known};
    if (v->known)
        kick(s);
    return MOTAN_OK;
}

int motan__rsubs_remove(motan__rsubs *s, const motan_url *service, motan_registry_listener cb,
                        void *userdata)
{
    motan__rsvc *v = find(s, service);
    for (size_t j = 0; v && j < v->nlis; j++) {
        if (v->lis[j].cb == cb && v->lis[j].userdata == userdata) {
            v->lis[j].cb = NULL;
            if (!s->notifying)
                sweep(s);
            return MOTAN_OK;
        }
    }
    return MOTAN_ENOTFOUND;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted text forms of nodes; NULL on out of memory (the lists then count as different). */
static char **make_keys(motan_url **nodes, size_t n)
{
    char **k = motan__calloc(n ? n : 1, sizeof(*k));
    for (size_t i = 0; k && i < n; i++) {
        k[i] = motan_url_format(nodes[i]);
        if (!k[i]) {
            free_keys(k, n);
            return NULL;
        }
    }
    if (k)
        qsort(k, n, sizeof(*k), cmp_str);
    return k;
}

int motan__rsubs_set(motan__rsubs *s, motan__rsvc *v, motan_url **nodes, size_t n)
{
    char **keys = make_keys(nodes, n);
    int same = v->known && keys && v->keys && n == v->n;
    for (size_t i = 0; same && i < n; i++)
        same = !strcmp(keys[i], v->keys[i]);
    if (same) {
        free_keys(keys, n);
        motan__rsubs_free_nodes(nodes, n);
        return 0;
    }
    motan__rsubs_free_nodes(v->nodes, v->n);
    free_keys(v->keys, v->n);
    v->nodes = nodes;
    v->keys = keys;
    v->n = n;
    v->known = 1;
    for (size_t j = 0; j < v->nlis; j++)
        v->lis[j].pending = 1;
    kick(s);
    return 1;
}
