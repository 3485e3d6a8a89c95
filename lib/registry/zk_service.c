/*
 * ZooKeeper subscriptions: watch /motan/<group>/<path>/server, read every child's data, and
 * hand the FULL list to subs.c (which compares it with the last one and calls the listeners
 * from its own event).
 *
 * Each service counts its requests in flight; a list is computed only when none is left
 * (every child read after the last children answer) and the session is connected, so a
 * listener never sees a half-read list and nothing is sent while ZooKeeper is away. Requests
 * and watches name their service by id or by path, never by pointer: a service may be gone
 * when the answer arrives (unsubscribed), and the client keeps watches we cannot cancel.
 */
#include <stdio.h>
#include <stdlib.h>

#include "registry/zk_int.h"

typedef struct svc_req {
    motan__zk *z;
    uint64_t svc_id;
    char name[]; /* the child, for data reads */
} svc_req;

/* ---- lookup ----------------------------------------------------------------------------- */

static motan__zk_watch *by_id(motan__zk *z, uint64_t id)
{
    for (motan__zk_watch *s = z->watches; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static motan__zk_watch *by_server_path(motan__zk *z, const char *path)
{
    for (motan__zk_watch *s = z->watches; s; s = s->next)
        if (path && !strcmp(s->server_path, path))
            return s;
    return NULL;
}

static motan__zk_child *find_kid(motan__zk_watch *s, const char *name)
{
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].name && !strcmp(s->kids[i].name, name)) /* NULL: moved away */
            return &s->kids[i];
    return NULL;
}

static void kid_free(motan__zk_child *k)
{
    motan_free(k->name);
    motan_free(k->data);
}

static void remove_kid(motan__zk_watch *s, motan__zk_child *k)
{
    size_t i = (size_t)(k - s->kids);
    kid_free(k);
    memmove(&s->kids[i], &s->kids[i + 1], (s->nkids - i - 1) * sizeof(*k));
    s->nkids--;
}

static svc_req *new_req(motan__zk *z, motan__zk_watch *s, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    svc_req *q = motan_malloc(sizeof(*q) + n + 1);
    if (!q)
        return NULL;
    q->z = z;
    q->svc_id = s->id;
    memcpy(q->name, name ? name : "", n + 1);
    return q;
}

/* Takes the request back from a completion; its service when it still exists. */
static motan__zk_watch *req_done(const void *data, motan__zk **zp)
{
    svc_req *q = (svc_req *)data;
    motan__zk *z = q->z;
    motan__zk_watch *s = by_id(z, q->svc_id);
    if (s)
        s->outstanding--;
    *zp = z;
    return s;
}

static int usable(motan__zk *z) { return z->zh && z->connected && !z->closing; }

/* ---- the list --------------------------------------------------------------------------- */

/* motan2://<host:port>/<path>?group=<group> for a child whose data says nothing usable. */
static motan_url *url_from_name(const motan__zk_watch *s, const char *name)
{
    size_t n = strlen(name) + strlen(s->v->path) + 16;
    char *text = motan_malloc(n);
    motan_url *u = NULL;
    if (!text)
        return NULL;
    snprintf(text, n, "motan2://%s/%s", name, s->v->path);
    if (motan_url_parse(text, strlen(text), &u, NULL, 0) == MOTAN_OK &&
        (motan_url_addr_count(u) != 1 || motan_url_addr_port(u, 0) <= 0 ||
         motan_url_set_param(u, "group", s->v->group) != MOTAN_OK)) {
        motan_url_free(u);
        u = NULL;
    }
    motan_free(text);
    return u;
}

static motan_url *kid_url(const motan__zk_watch *s, const motan__zk_child *k)
{
    motan_url *u = NULL;
    if (k->has_data && k->len &&
        motan_url_parse_node_data(k->data, k->len, &u, NULL, 0) == MOTAN_OK) {
        if (motan_url_addr_count(u) > 0)
            return u;
        motan_url_free(u);
    }
    return url_from_name(s, k->name);
}

static int cmp_kids(const void *a, const void *b)
{
    const motan__zk_child *x = *(const motan__zk_child *const *)a;
    const motan__zk_child *y = *(const motan__zk_child *const *)b;
    return strcmp(x->name, y->name);
}

/* Builds the list once everything is read and hands it to subs.c. */
static void maybe_update(motan__zk *z, motan__zk_watch *s)
{
    if (!usable(z) || !s->have_children || s->outstanding > 0)
        return;
    size_t n = 0;
    const motan__zk_child **order = motan_malloc((s->nkids ? s->nkids : 1) * sizeof(*order));
    motan_url **urls = s->nkids ? motan__calloc(s->nkids, sizeof(*urls)) : NULL;
    if (!order || (s->nkids && !urls)) {
        motan_free(order);
        motan_free(urls);
        motan__zk_setf(z->op_err, "out of memory building the node list of %s", s->server_path);
        return;
    }
    for (size_t i = 0; i < s->nkids; i++)
        order[i] = &s->kids[i];
    qsort(order, s->nkids, sizeof(*order), cmp_kids);
    for (size_t i = 0; i < s->nkids; i++) {
        motan_url *u = kid_url(s, order[i]);
        if (u) /* else neither data nor name makes a node URL */
            urls[n++] = u;
    }
    motan_free(order);
    if (!n) {
        motan_free(urls);
        urls = NULL;
    }
    motan__rsubs_set(&z->subs, s->v, urls, n);
}

/* ---- reads ------------------------------------------------------------------------------ */

static void children_done(int rc, const struct String_vector *strings, const struct Stat *stat,
                          const void *data);
static void data_done(int rc, const char *value, int len, const struct Stat *stat,
                      const void *data);
static void exists_done(int rc, const struct Stat *stat, const void *data);
static void child_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
static void data_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
static void exists_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

static void read_failed(motan__zk *z, motan__zk_watch *s, svc_req *q, int rc, const char *what)
{
    s->outstanding--;
    motan__zk_setf(z->op_err, "cannot %s %s: %s", what, s->server_path,
                   q ? zerror(rc) : "out of memory");
    motan_free(q);
}

static void read_children(motan__zk *z, motan__zk_watch *s)
{
    if (!usable(z))
        return;
    svc_req *q = new_req(z, s, NULL);
    s->outstanding++;
    int rc = q ? zoo_awget_children2(z->zh, s->server_path, child_watcher, z, children_done, q)
               : ZSYSTEMERROR;
    if (rc != ZOK)
        read_failed(z, s, q, rc, "list");
}

static void read_data(motan__zk *z, motan__zk_watch *s, const char *name)
{
    if (!usable(z))
        return;
    size_t n = strlen(s->server_path) + strlen(name) + 2;
    char *path = motan_malloc(n);
    svc_req *q = path ? new_req(z, s, name) : NULL;
    s->outstanding++;
    int rc = ZSYSTEMERROR;
    if (q) {
        snprintf(path, n, "%s/%s", s->server_path, name);
        rc = zoo_awget(z->zh, path, data_watcher, z, data_done, q);
    }
    motan_free(path);
    if (rc != ZOK)
        read_failed(z, s, q, rc, "read a node of");
}

/* The /server node is missing: an empty list until it appears. */
static void watch_exists(motan__zk *z, motan__zk_watch *s)
{
    if (!usable(z))
        return;
    svc_req *q = new_req(z, s, NULL);
    s->outstanding++;
    int rc = q ? zoo_awexists(z->zh, s->server_path, exists_watcher, z, exists_done, q)
               : ZSYSTEMERROR;
    if (rc != ZOK)
        read_failed(z, s, q, rc, "watch");
}

/* The new children: kept ones keep their data, new ones are read. */
static void set_children(motan__zk *z, motan__zk_watch *s, const struct String_vector *v)
{
    size_t n = v && v->count > 0 ? (size_t)v->count : 0;
    motan__zk_child *kids = motan__calloc(n ? n : 1, sizeof(*kids));
    if (!kids) {
        motan__zk_setf(z->op_err, "out of memory reading %s", s->server_path);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        motan__zk_child *old = find_kid(s, v->data[i]);
        if (old) {
            kids[m++] = *old;
            old->name = NULL; /* moved */
            old->data = NULL;
        } else if ((kids[m].name = motan__strdup(v->data[i])) != NULL) {
            m++;
        }
    }
    for (size_t i = 0; i < s->nkids; i++)
        kid_free(&s->kids[i]);
    motan_free(s->kids);
    s->kids = kids;
    s->nkids = m;
    for (size_t i = 0; i < m; i++)
        if (!kids[i].has_data)
            read_data(z, s, kids[i].name);
}

static void children_done(int rc, const struct String_vector *strings, const struct Stat *stat,
                          const void *data)
{
    motan__zk *z;
    motan__zk_watch *s = req_done(data, &z);
    MOTAN_UNUSED(stat);
    motan_free((void *)data);
    if (!s || rc == ZCLOSING || z->closing)
        return;
    if (rc == ZOK) {
        set_children(z, s, strings);
        s->have_children = 1;
    } else if (rc == ZNONODE) {
        set_children(z, s, NULL);
        s->have_children = 1;
        watch_exists(z, s);
    } else if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT && rc != ZSESSIONEXPIRED) {
        motan__zk_setf(z->op_err, "cannot list %s: %s", s->server_path, zerror(rc));
    }
    /* Lost connections are read again on reconnect. */
    maybe_update(z, s);
}

static void data_done(int rc, const char *value, int len, const struct Stat *stat,
                      const void *data)
{
    motan__zk *z;
    motan__zk_watch *s = req_done(data, &z);
    const char *name = ((const svc_req *)data)->name;
    MOTAN_UNUSED(stat);
    motan__zk_child *k = s && rc != ZCLOSING && !z->closing ? find_kid(s, name) : NULL;
    motan_free((void *)data);
    if (!s || rc == ZCLOSING || z->closing)
        return;
    if (k && rc == ZOK) {
        uint8_t *copy = NULL;
        size_t n = value && len > 0 ? (size_t)len : 0;
        if (n && !(copy = motan_malloc(n))) {
            motan__zk_setf(z->op_err, "out of memory reading %s", s->server_path);
        } else {
            if (n)
                memcpy(copy, value, n);
            motan_free(k->data);
            k->data = copy;
            k->len = n;
            k->has_data = 1;
        }
    } else if (k && rc == ZNONODE) {
        remove_kid(s, k); /* gone; the children watch says so too */
    }
    maybe_update(z, s);
}

static void exists_done(int rc, const struct Stat *stat, const void *data)
{
    motan__zk *z;
    motan__zk_watch *s = req_done(data, &z);
    MOTAN_UNUSED(stat);
    motan_free((void *)data);
    if (!s || rc == ZCLOSING || z->closing)
        return;
    if (rc == ZOK) /* created between the two reads */
        read_children(z, s);
    maybe_update(z, s);
}

/* ---- watches (also called with every session event: those are handled elsewhere) ------- */

static int watch_live(zhandle_t *zh, int type, motan__zk *z)
{
    return type != ZOO_SESSION_EVENT && !z->closing && zh == z->zh;
}

static void child_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    motan__zk *z = ctx;
    MOTAN_UNUSED(state);
    motan__zk_watch *s = watch_live(zh, type, z) ? by_server_path(z, path) : NULL;
    if (s)
        read_children(z, s);
}

static void exists_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    motan__zk *z = ctx;
    MOTAN_UNUSED(state);
    motan__zk_watch *s = watch_live(zh, type, z) ? by_server_path(z, path) : NULL;
    if (s && type == ZOO_CREATED_EVENT)
        read_children(z, s);
}

static void data_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    motan__zk *z = ctx;
    MOTAN_UNUSED(state);
    /* Deleted may also mean deleted and created again (a re-registration): read it again. */
    if (!watch_live(zh, type, z) || (type != ZOO_CHANGED_EVENT && type != ZOO_DELETED_EVENT) ||
        !path)
        return;
    const char *slash = strrchr(path, '/');
    if (!slash)
        return;
    for (motan__zk_watch *s = z->watches; s; s = s->next) {
        size_t n = strlen(s->server_path);
        if ((size_t)(slash - path) == n && !strncmp(path, s->server_path, n) &&
            find_kid(s, slash + 1))
            read_data(z, s, slash + 1);
    }
}

void motan__zk_services_sync(motan__zk *z)
{
    for (motan__zk_watch *s = z->watches; s; s = s->next) {
        s->have_children = 0;
        read_children(z, s);
        for (size_t i = 0; i < s->nkids; i++)
            read_data(z, s, s->kids[i].name);
    }
}

/* ---- subscribe / unsubscribe ------------------------------------------------------------ */

/* ZooKeeper's path rules: no empty, "." or ".." component, no control characters. */
int motan__zk_valid_part(const char *p)
{
    if (!*p || *p == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//"))
        return 0;
    for (const char *c = p; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return 0;
        if (*c == '.' && (c == p || c[-1] == '/')) {
            size_t dots = c[1] == '.' ? 2 : 1;
            if (c[dots] == '\0' || c[dots] == '/')
                return 0;
        }
    }
    return 1;
}

static void watch_free(motan__zk_watch *s)
{
    for (size_t i = 0; i < s->nkids; i++)
        kid_free(&s->kids[i]);
    motan_free(s->kids);
    motan_free(s->server_path);
    motan_free(s);
}

static motan__zk_watch *watch_new(motan__zk *z, motan__rsvc *v)
{
    motan__zk_watch *s = motan__calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    size_t n = strlen(v->group) + strlen(v->path) + 16;
    s->id = ++z->next_id;
    s->v = v;
    s->server_path = motan_malloc(n);
    if (!s->server_path) {
        motan_free(s);
        return NULL;
    }
    snprintf(s->server_path, n, "/motan/%s/%s/server", v->group, v->path);
    return s;
}

int motan__zk_subscribe(motan__zk *z, const motan_url *service, motan_registry_listener cb,
                        void *userdata)
{
    const char *path = motan_url_get_path(service), *group = motan__rsubs_group(service);
    if (!motan__zk_valid_part(path) || !motan__zk_valid_part(group) || strchr(group, '/'))
        return MOTAN_EINVAL;
    motan__rsvc *v;
    int created;
    int rc = motan__rsubs_add(&z->subs, service, cb, userdata, &v, &created);
    if (rc != MOTAN_OK || !created)
        return rc;
    motan__zk_watch *s = watch_new(z, v);
    if (!s) {
        motan__rsubs_remove(&z->subs, service, cb, userdata);
        return MOTAN_ENOMEM;
    }
    v->impl = s;
    s->next = z->watches;
    z->watches = s;
    read_children(z, s);
    return MOTAN_OK;
}

int motan__zk_unsubscribe(motan__zk *z, const motan_url *service, motan_registry_listener cb,
                          void *userdata)
{
    return motan__rsubs_remove(&z->subs, service, cb, userdata);
}

/* Its answers and watches still come: they find no watch and are dropped. */
void motan__zk_service_gone(void *owner, motan__rsvc *v)
{
    motan__zk *z = owner;
    motan__zk_watch *s = v->impl;
    for (motan__zk_watch **pp = &z->watches; s && *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            watch_free(s);
            return;
        }
    }
}

void motan__zk_services_free(motan__zk *z)
{
    while (z->watches) {
        motan__zk_watch *s = z->watches;
        z->watches = s->next;
        watch_free(s);
    }
    motan__rsubs_close(&z->subs);
}
