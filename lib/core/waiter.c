/* One thread waits for a result another thread posts: the blocking calls of every layer. */
#include "core/core_int.h"

void motan__waiter_init(motan__waiter *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->result = NULL;
    w->done = 0;
}

void motan__waiter_destroy(motan__waiter *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void motan__waiter_post(motan__waiter *w, void *result)
{
    pthread_mutex_lock(&w->mu);
    w->result = result;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void *motan__waiter_wait(motan__waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    void *r = w->result;
    pthread_mutex_unlock(&w->mu);
    return r;
}
