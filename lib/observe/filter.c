/*
 * Filters by name: the built-ins plus what users register. Ops are copied into a fixed
 * table (never freed, so chains keep plain pointers); a caller compiled against an older,
 * shorter motan_filter_ops gets zeroes for the fields it does not know.
 */
#include <stddef.h>

#include "observe/observe_int.h"

#define MAX_FILTERS 64
#define NAME_MAX_LEN 64

typedef struct entry {
    motan_filter_ops ops;
    char name[NAME_MAX_LEN];
} entry;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static entry g_tab[MAX_FILTERS];
static size_t g_n;

static int add_locked(const motan_filter_ops *ops)
{
    size_t nlen = strlen(ops->name);
    if (!nlen || nlen >= NAME_MAX_LEN || strchr(ops->name, ','))
        return MOTAN_EINVAL;
    for (size_t i = 0; i < g_n; i++)
        if (!strcmp(g_tab[i].name, ops->name))
            return MOTAN_EINVAL;
    if (g_n == MAX_FILTERS)
        return MOTAN_ENOMEM;
    entry *e = &g_tab[g_n];
    memset(e, 0, sizeof(*e));
    size_t n = ops->struct_size < sizeof(e->ops) ? ops->struct_size : sizeof(e->ops);
    memcpy(&e->ops, ops, n);
    e->ops.struct_size = sizeof(e->ops);
    memcpy(e->name, ops->name, nlen + 1);
    e->ops.name = e->name;
    g_n++;
    return MOTAN_OK;
}

static void add_builtins(void)
{
    if (g_n)
        return;
    add_locked(&motan__filter_metrics);
    add_locked(&motan__filter_accesslog);
    add_locked(&motan__filter_trace);
}

/* The first published motan_filter_ops ends with `after`: no registrant is shorter. */
#define OPS_V1_SIZE (offsetof(motan_filter_ops, after) + sizeof(void (*)(void)))

MOTAN_EXPORT int motan_filter_register(const motan_filter_ops *ops)
{
    if (!ops || !ops->name || ops->struct_size < OPS_V1_SIZE)
        return MOTAN_EINVAL;
    /* A newer registrant: refuse fields this library would silently ignore. */
    for (size_t i = sizeof(motan_filter_ops); i < ops->struct_size; i++)
        if (((const unsigned char *)ops)[i])
            return MOTAN_EINVAL;
    pthread_mutex_lock(&g_mu);
    add_builtins();
    int rc = add_locked(ops);
    pthread_mutex_unlock(&g_mu);
    return rc;
}

const motan_filter_ops *motan__filter_find(const char *name, size_t len)
{
    const motan_filter_ops *found = NULL;
    pthread_mutex_lock(&g_mu);
    add_builtins();
    for (size_t i = 0; i < g_n && !found; i++)
        if (strlen(g_tab[i].name) == len && !memcmp(g_tab[i].name, name, len))
            found = &g_tab[i].ops;
    pthread_mutex_unlock(&g_mu);
    return found;
}

MOTAN_EXPORT int motan_filter_exists(const char *name)
{
    return name && motan__filter_find(name, strlen(name)) != NULL;
}
