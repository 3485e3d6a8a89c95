/*
 * The load-balancer registry: a small fixed table behind a mutex (lookups happen when a
 * cluster is created, not per call). Built-ins are registered on first use; names match
 * case-insensitively and the Java/Go spellings of the built-ins are accepted as aliases.
 * Also the PRNG seeding every LB state uses.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <unistd.h>

#include "cluster/lb_int.h"

/* Registrations are forever (ops are kept by pointer), so a fixed table is enough. */
#define LB_MAX 64

static pthread_mutex_t lb_lock = PTHREAD_MUTEX_INITIALIZER;
static const motan_lb_ops *lb_table[LB_MAX];
static size_t lb_count;
static int lb_builtins_done;

static const struct {
    const char *alias;
    const char *name;
} lb_aliases[] = {
    {"consistentHashKey", "consistent"}, /* motan-go */
    {"configurableWeight", "wrr"},       /* motan-java */
};

static const char *canonical(const char *name)
{
    for (size_t i = 0; i < sizeof(lb_aliases) / sizeof(lb_aliases[0]); i++)
        if (!strcasecmp(name, lb_aliases[i].alias))
            return lb_aliases[i].name;
    return name;
}

static const motan_lb_ops *find_locked(const char *name)
{
    name = canonical(name);
    for (size_t i = 0; i < lb_count; i++)
        if (!strcasecmp(lb_table[i]->name, name))
            return lb_table[i];
    return NULL;
}

static int register_locked(const motan_lb_ops *ops)
{
    if (!ops || !ops->name || !*ops->name || !ops->create || !ops->destroy || !ops->update ||
        !ops->pick)
        return MOTAN_EINVAL;
    /* An alias spelling is taken too: find() would never reach the newcomer. */
    if (find_locked(ops->name) || canonical(ops->name) != ops->name)
        return MOTAN_EINVAL;
    if (lb_count == LB_MAX)
        return MOTAN_ENOMEM;
    lb_table[lb_count++] = ops;
    return MOTAN_OK;
}

static void builtins_locked(void)
{
    if (lb_builtins_done)
        return;
    lb_builtins_done = 1;
    static const motan_lb_ops *const builtins[] = {
        &motan__lb_random,     &motan__lb_roundrobin, &motan__lb_wrr,
        &motan__lb_active,     &motan__lb_consistent, &motan__lb_local,
        &motan__lb_p2c,
    };
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        register_locked(builtins[i]);
}

MOTAN_EXPORT int motan_lb_register(const motan_lb_ops *ops)
{
    /* Built-ins are compiled with the library; a plug-in must match its layout. */
    if (!ops || ops->struct_size != sizeof(motan_lb_ops))
        return MOTAN_EINVAL;
    pthread_mutex_lock(&lb_lock);
    builtins_locked();
    int rc = register_locked(ops);
    pthread_mutex_unlock(&lb_lock);
    return rc;
}

MOTAN_EXPORT const motan_lb_ops *motan_lb_find(const char *name)
{
    if (!name)
        return NULL;
    pthread_mutex_lock(&lb_lock);
    builtins_locked();
    const motan_lb_ops *ops = find_locked(name);
    pthread_mutex_unlock(&lb_lock);
    return ops;
}

/* ---- PRNG seeding -------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

uint64_t motan__lb_test_seed;
uint64_t (*motan__cluster_clock)(void);

uint64_t motan__lb_seed(const void *salt)
{
    static atomic_uint_fast64_t counter;
    if (motan__lb_test_seed) {
        uint64_t x = splitmix64(motan__lb_test_seed ^ splitmix64(atomic_fetch_add(&counter, 1)));
        return x ? x : 0x9E3779B97F4A7C15ULL;
    }
    uint64_t x = motan_now_us() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)salt;
    x = splitmix64(x ^ splitmix64(atomic_fetch_add(&counter, 1)));
    return x ? x : 0x9E3779B97F4A7C15ULL; /* xorshift must not start at 0 */
}
