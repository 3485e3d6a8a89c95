/* Allocator hooks: every allocation libmotan makes itself goes through these. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/core_int.h"

static void *(*g_malloc)(size_t) = malloc;
static void *(*g_realloc)(void *, size_t) = realloc;
static void (*g_free)(void *) = free;

#define MAX_DRAINS 4
static void (*_Atomic g_drains[MAX_DRAINS])(void);

void motan__alloc_on_change(void (*drain)(void))
{
    for (int i = 0; i < MAX_DRAINS; i++) {
        void (*none)(void) = NULL;
        if (atomic_load(&g_drains[i]) == drain ||
            atomic_compare_exchange_strong(&g_drains[i], &none, drain))
            return;
    }
}

MOTAN_EXPORT void motan_set_allocator(void *(*malloc_fn)(size_t),
                                      void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *))
{
    for (int i = 0; i < MAX_DRAINS; i++) {
        void (*drain)(void) = atomic_load(&g_drains[i]);
        if (drain)
            drain();
    }
    g_malloc = malloc_fn ? malloc_fn : malloc;
    g_realloc = realloc_fn ? realloc_fn : realloc;
    g_free = free_fn ? free_fn : free;
}

MOTAN_EXPORT void *motan_malloc(size_t n) { return g_malloc(n ? n : 1); }

MOTAN_EXPORT void *motan_realloc(void *p, size_t n) { return g_realloc(p, n ? n : 1); }

MOTAN_EXPORT void motan_free(void *p)
{
    if (p)
        g_free(p);
}

void *motan__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = motan_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *motan__strndup(const char *s, size_t n)
{
    char *p = motan_malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *motan__strdup(const char *s) { return s ? motan__strndup(s, strlen(s)) : NULL; }
