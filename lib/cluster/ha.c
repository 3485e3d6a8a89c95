/* HA strategies by name: the built-ins plus what users register. */
#include <pthread.h>
#include <strings.h>

#include "cluster/cluster_int.h"

#define MAX_HA 32

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static const motan_ha_ops *g_ops[MAX_HA];
static size_t g_n;

static void add_builtins(void)
{
    if (g_n)
        return;
    g_ops[g_n++] = &motan__ha_failfast;
    g_ops[g_n++] = &motan__ha_failover;
    g_ops[g_n++] = &motan__ha_backup;
}

MOTAN_EXPORT int motan_ha_register(const motan_ha_ops *ops)
{
    if (!ops || ops->struct_size != sizeof(motan_ha_ops) || !ops->name || !*ops->name ||
        !ops->create || !ops->destroy || !ops->start || !ops->on_attempt)
        return MOTAN_EINVAL;
    int rc = MOTAN_OK;
    pthread_mutex_lock(&g_mu);
    add_builtins();
    for (size_t i = 0; i < g_n; i++)
        if (!strcasecmp(g_ops[i]->name, ops->name))
            rc = MOTAN_EINVAL;
    if (rc == MOTAN_OK && g_n == MAX_HA)
        rc = MOTAN_ENOMEM;
    if (rc == MOTAN_OK)
        g_ops[g_n++] = ops;
    pthread_mutex_unlock(&g_mu);
    return rc;
}

int motan__ha_send_first(motan_ha_call *call)
{
    motan_endpoint *ep = motan_ha_call_pick(call);
    if (!ep) {
        motan_ha_call_count(call, "no_endpoint");
        motan_ha_call_fail(call, MOTAN_ENOENDPOINT, "no available endpoint");
        return MOTAN_ENOENDPOINT;
    }
    int rc = motan_ha_call_send(call, ep, NULL);
    if (rc != MOTAN_OK)
        motan_ha_call_fail(call, rc, motan_strerror(rc));
    return rc;
}

MOTAN_EXPORT const motan_ha_ops *motan_ha_find(const char *name)
{
    const motan_ha_ops *found = NULL;
    if (!name)
        return NULL;
    pthread_mutex_lock(&g_mu);
    add_builtins();
    for (size_t i = 0; i < g_n && !found; i++)
        if (!strcasecmp(g_ops[i]->name, name))
            found = g_ops[i];
    pthread_mutex_unlock(&g_mu);
    return found;
}
