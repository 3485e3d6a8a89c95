/* Records kept for reuse behind a lock-free hot slot (core_int.h). */
#include "core/core_int.h"

static void **link_of(const motan__freelist *fl, void *p) { return (void **)((char *)p + fl->link); }

void motan__freelist_init(motan__freelist *fl, int max, size_t link)
{
    atomic_init(&fl->hot, NULL);
    pthread_mutex_init(&fl->mu, NULL);
    fl->head = NULL;
    fl->n = 0;
    fl->max = max;
    fl->link = link;
}

/* The hot slot was empty. */
void *motan__freelist_get_locked(motan__freelist *fl)
{
    void *p;
    pthread_mutex_lock(&fl->mu);
    if ((p = fl->head) != NULL) {
        fl->head = *link_of(fl, p);
        fl->n--;
    }
    pthread_mutex_unlock(&fl->mu);
    return p;
}

/* p was displaced from the hot slot. */
void *motan__freelist_put_locked(motan__freelist *fl, void *p)
{
    pthread_mutex_lock(&fl->mu);
    int kept = fl->n < fl->max;
    if (kept) {
        *link_of(fl, p) = fl->head;
        fl->head = p;
        fl->n++;
    }
    pthread_mutex_unlock(&fl->mu);
    return kept ? NULL : p;
}

void motan__freelist_drain(motan__freelist *fl, void (*destroy)(void *))
{
    void *p = atomic_exchange_explicit(&fl->hot, NULL, memory_order_acquire);
    if (p)
        destroy(p);
    pthread_mutex_lock(&fl->mu);
    p = fl->head;
    fl->head = NULL;
    fl->n = 0;
    pthread_mutex_unlock(&fl->mu);
    while (p) {
        void *next = *link_of(fl, p);
        destroy(p);
        p = next;
    }
}
