/* fork() detection for objects with threads: see motan__fork_mark in core_int.h. */
#include <stdatomic.h>

#include "core/core_int.h"

static atomic_uint g_forks;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { atomic_fetch_add_explicit(&g_forks, 1, memory_order_relaxed); }

/* glibc drops the handler when a dlopen'd libmotan is unloaded. */
static void watch(void) { pthread_atfork(NULL, NULL, on_fork_child); }

unsigned motan__fork_mark(void)
{
    pthread_once(&g_once, watch);
    return atomic_load_explicit(&g_forks, memory_order_relaxed);
}

int motan__forked_since(unsigned mark)
{
    return atomic_load_explicit(&g_forks, memory_order_relaxed) != mark;
}
