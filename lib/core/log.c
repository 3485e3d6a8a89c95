/*
 * The log sink. The level is an atomic read on every call, so disabled levels cost one
 * load; the callback and its userdata are swapped under a write lock and read under a read
 * lock, so motan_set_log_callback returns only once no thread is inside the old callback.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "core/core_int.h"

#define LINE_MAX_LEN 2048

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static motan_log_cb g_cb;      /* guarded by g_lock; NULL: stderr */
static void *g_ud;             /* guarded by g_lock */
static atomic_int g_level = MOTAN_LOG_ERROR;
static _Thread_local int tl_inside; /* this thread runs the sink: drop what it logs */

static const char *const names[] = {"error", "warn", "info", "debug"};

MOTAN_EXPORT const char *motan_log_level_name(int level)
{
    return level >= 0 && level <= MOTAN_LOG_DEBUG ? names[level] : "unknown";
}

MOTAN_EXPORT int motan_set_log_callback(motan_log_cb cb, int max_level, void *userdata)
{
    if (tl_inside)
        return MOTAN_EDEADLOCK;
    if (max_level > MOTAN_LOG_DEBUG)
        max_level = MOTAN_LOG_DEBUG;
    if (max_level < 0)
        max_level = -1;
    pthread_rwlock_wrlock(&g_lock);
    g_cb = cb;
    g_ud = userdata;
    atomic_store(&g_level, max_level);
    pthread_rwlock_unlock(&g_lock);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_log_enabled(int level)
{
    return level >= 0 && level <= atomic_load_explicit(&g_level, memory_order_relaxed) &&
           !tl_inside;
}

static void deliver(int level, const char *msg)
{
    tl_inside = 1;
    pthread_rwlock_rdlock(&g_lock);
    /* The level may have changed since the caller looked: the sink sees only its own. */
    if (level <= atomic_load(&g_level)) {
        if (g_cb)
            g_cb(level, msg, g_ud);
        else
            fprintf(stderr, "libmotan: %s: %s\n", names[level], msg);
    }
    pthread_rwlock_unlock(&g_lock);
    tl_inside = 0;
}

MOTAN_EXPORT void motan_log(int level, const char *message)
{
    if (message && motan_log_enabled(level))
        deliver(level, message);
}

void motan__log(int level, const char *fmt, ...)
{
    if (!motan_log_enabled(level))
        return;
    char line[LINE_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    deliver(level, line);
}
