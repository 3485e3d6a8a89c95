/*
 * Input memory shared between a connection and the responses whose big bytes values are
 * views into it (read-side views). A block counts its holders: the connection while it still
 * reads into the memory, and each response that kept a view. The last one to let go puts
 * the block (with its memory, bounded) into a process-wide pool, because responses are freed
 * on any thread; the connection takes its next memory from there, so a warm call allocates
 * nothing. Off under AddressSanitizer, which must see a view used after its response's free.
 */
#include <pthread.h>

#include "transport/transport_int.h"

#define POOL_MAX (MOTAN__ASAN ? 0 : 32)
#define POOL_KEEP_BYTES (8u * 1024 * 1024) /* memory the pooled blocks keep, in all */
#define POOL_KEEP_BLOCK (1024 * 1024)      /* the largest memory a pooled block keeps */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static motan__inblk *g_pool; /* g_mu */
static int g_npool;          /* g_mu */
static size_t g_bytes;       /* g_mu: memory kept by pooled blocks */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void destroy(motan__inblk *b)
{
    motan_free(b->data);
    motan_free(b);
}

static void drain(void)
{
    pthread_mutex_lock(&g_mu);
    motan__inblk *b = g_pool;
    g_pool = NULL;
    g_npool = 0;
    g_bytes = 0;
    pthread_mutex_unlock(&g_mu);
    while (b) {
        motan__inblk *next = b->next;
        destroy(b);
        b = next;
    }
}

static void register_drain(void) { motan__alloc_on_change(drain); }

motan__inblk *motan__inblk_get(void)
{
    motan__inblk *b = NULL;
    if (POOL_MAX) {
        pthread_mutex_lock(&g_mu);
        if ((b = g_pool) != NULL) {
            g_pool = b->next;
            g_npool--;
            g_bytes -= b->cap;
        }
        pthread_mutex_unlock(&g_mu);
    }
    if (!b && !(b = motan__calloc(1, sizeof(*b))))
        return NULL;
    b->next = NULL;
    atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void motan__inblk_release(void *arg)
{
    motan__inblk *b = arg;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (!POOL_MAX) {
        destroy(b);
        return;
    }
    pthread_once(&g_once, register_drain);
    pthread_mutex_lock(&g_mu);
    int kept = g_npool < POOL_MAX;
    if (kept) {
        if (b->cap > POOL_KEEP_BLOCK || g_bytes + b->cap > POOL_KEEP_BYTES) {
            motan_free(b->data); /* the wrapper is kept, not the memory */
            b->data = NULL;
            b->cap = 0;
        }
        g_bytes += b->cap;
        b->next = g_pool;
        g_pool = b;
        g_npool++;
    }
    pthread_mutex_unlock(&g_mu);
    if (!kept)
        destroy(b);
}
