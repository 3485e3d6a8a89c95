/*
 * The registry front end: scheme -> implementation, and every call handed to the loop
 * thread (implementations only ever run there).
 */
#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#include "registry/registry_int.h"

#define MAX_REGISTRIES 32

/* The Makefile's WITH_ZOOKEEPER=0 / WITH_CONSUL=0 leave those registries out. */
#ifndef MOTAN_WITH_ZOOKEEPER
#define MOTAN_WITH_ZOOKEEPER 1
#endif
#ifndef MOTAN_WITH_CONSUL
#define MOTAN_WITH_CONSUL 1
#endif

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static const motan_registry_ops *g_ops[MAX_REGISTRIES];
static size_t g_nops;
static int g_builtins;

static void add_builtins(void)
{
    /* Called with g_mu held. */
    if (g_builtins)
        return;
    g_builtins = 1;
    g_ops[g_nops++] = &motan__registry_direct;
    g_ops[g_nops++] = &motan__registry_file;
#if MOTAN_WITH_ZOOKEEPER
    g_ops[g_nops++] = &motan__registry_zookeeper;
#endif
#if MOTAN_WITH_CONSUL
    g_ops[g_nops++] = &motan__registry_consul;
#endif
}

MOTAN_EXPORT int motan_registry_register_ops(const motan_registry_ops *ops)
{
    if (!ops || ops->struct_size != sizeof(motan_registry_ops) || !ops->scheme || !*ops->scheme ||
        !ops->create || !ops->destroy || !ops->subscribe || !ops->unsubscribe)
        return MOTAN_EINVAL;
    int rc = MOTAN_OK;
    pthread_mutex_lock(&g_mu);
    add_builtins();
    for (size_t i = 0; i < g_nops; i++)
        if (!strcasecmp(g_ops[i]->scheme, ops->scheme))
            rc = MOTAN_EINVAL;
    if (rc == MOTAN_OK && g_nops == MAX_REGISTRIES)
        rc = MOTAN_ENOMEM;
    if (rc == MOTAN_OK)
        g_ops[g_nops++] = ops;
    pthread_mutex_unlock(&g_mu);
    return rc;
}

MOTAN_EXPORT const motan_registry_ops *motan_registry_find_ops(const char *scheme)
{
    const motan_registry_ops *found = NULL;
    if (!scheme)
        return NULL;
    pthread_mutex_lock(&g_mu);
    add_builtins();
    for (size_t i = 0; i < g_nops && !found; i++)
        if (!strcasecmp(g_ops[i]->scheme, scheme))
            found = g_ops[i];
#if MOTAN_WITH_ZOOKEEPER
    /* "zk" is what Java calls a ZooKeeper registry storing plain-text node data. */
    if (!found && !strcasecmp(scheme, "zk"))
        found = &motan__registry_zookeeper;
#endif
    pthread_mutex_unlock(&g_mu);
    return found;
}

struct motan_registry {
    motan_loop *loop;
    const motan_registry_ops *ops;
    void *state;
};

/* One call handed to the loop thread. */
typedef struct reg_op {
    motan_registry *r;
    int kind;
    const motan_url *url;
    motan_registry_listener cb;
    void *userdata;
    int rc;
    char *errbuf;
    size_t errlen;
} reg_op;

enum { OP_CREATE, OP_DESTROY, OP_SUB, OP_UNSUB, OP_REG, OP_UNREG, OP_ERRMSG };

static void run_op(void *arg)
{
    reg_op *op = arg;
    motan_registry *r = op->r;
    switch (op->kind) {
    case OP_CREATE:
        op->rc = r->ops->create(r->loop, op->url, &r->state, op->errbuf, op->errlen);
        break;
    case OP_DESTROY:
        r->ops->destroy(r->state);
        break;
    case OP_SUB:
        op->rc = r->ops->subscribe(r->state, op->url, op->cb, op->userdata);
        break;
    case OP_UNSUB:
        op->rc = r->ops->unsubscribe(r->state, op->url, op->cb, op->userdata);
        break;
    case OP_REG:
        op->rc = r->ops->register_node ? r->ops->register_node(r->state, op->url) : MOTAN_EUNSUPPORTED;
        break;
    case OP_UNREG:
        op->rc = r->ops->unregister_node ? r->ops->unregister_node(r->state, op->url)
                                         : MOTAN_EUNSUPPORTED;
        break;
    case OP_ERRMSG: {
        const char *m = r->ops->errmsg ? r->ops->errmsg(r->state) : NULL;
        snprintf(op->errbuf, op->errlen, "%s", m ? m : "");
        break;
    }
    }
}

static int run(reg_op *op)
{
    int rc = motan_loop_run_wait(op->r->loop, run_op, op);
    return rc == MOTAN_OK ? op->rc : rc;
}

static int registry_new_impl(motan_loop *l, const motan_url *url, motan_registry **out,
                             char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!l || !url)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no loop or registry URL given");
    const char *scheme = motan_url_get_protocol(url);
    const motan_registry_ops *ops = motan_registry_find_ops(scheme);
    if (!ops)
        return motan__errf(errbuf, errlen, MOTAN_ENOTFOUND, "no registry for scheme \"%s\"", scheme);
    motan_registry *r = motan__calloc(1, sizeof(*r));
    if (!r)
        return MOTAN_ENOMEM;
    r->loop = l;
    r->ops = ops;
    reg_op op = {.r = r, .kind = OP_CREATE, .url = url, .errbuf = errbuf, .errlen = errlen};
    int rc = run(&op);
    if (rc != MOTAN_OK) {
        motan_free(r);
        return rc;
    }
    *out = r;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_registry_new(motan_loop *l, const motan_url *url, motan_registry **out,
                                    char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, registry_new_impl(l, url, out, errbuf, errlen));
}

MOTAN_EXPORT void motan_registry_free(motan_registry *r)
{
    if (!r)
        return;
    reg_op op = {.r = r, .kind = OP_DESTROY};
    run(&op);
    motan_free(r);
}

MOTAN_EXPORT int motan_registry_subscribe(motan_registry *r, const motan_url *service,
                                          motan_registry_listener cb, void *userdata)
{
    if (!r || !service || !cb)
        return MOTAN_EINVAL;
    reg_op op = {.r = r, .kind = OP_SUB, .url = service, .cb = cb, .userdata = userdata};
    return run(&op);
}

MOTAN_EXPORT int motan_registry_unsubscribe(motan_registry *r, const motan_url *service,
                                            motan_registry_listener cb, void *userdata)
{
    if (!r || !service || !cb)
        return MOTAN_EINVAL;
    reg_op op = {.r = r, .kind = OP_UNSUB, .url = service, .cb = cb, .userdata = userdata};
    return run(&op);
}

MOTAN_EXPORT int motan_registry_register(motan_registry *r, const motan_url *node)
{
    if (!r || !node)
        return MOTAN_EINVAL;
    reg_op op = {.r = r, .kind = OP_REG, .url = node};
    return run(&op);
}

MOTAN_EXPORT int motan_registry_unregister(motan_registry *r, const motan_url *node)
{
    if (!r || !node)
        return MOTAN_EINVAL;
    reg_op op = {.r = r, .kind = OP_UNREG, .url = node};
    return run(&op);
}

MOTAN_EXPORT void motan_registry_errmsg(motan_registry *r, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = '\0';
    if (!r)
        return;
    reg_op op = {.r = r, .kind = OP_ERRMSG, .errbuf = buf, .errlen = len};
    run(&op);
}

MOTAN_EXPORT motan_loop *motan_registry_get_loop(const motan_registry *r) { return r->loop; }
