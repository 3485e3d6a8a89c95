/*
 * Timeout queues (transport_int.h): things that share a timeout expire in the order they
 * were added, so one libevent timer per queue does what a timer each did (assign, add and
 * delete were about 350 instructions a call). A removal only unlinks: the queue's timer,
 * if it fires for nothing due, re-arms for the new head or stops.
 */
#include "transport/transport_int.h"

void motan__tqs_init(motan__tqs *s, struct event_base *base, void (*expire)(motan__tq_node *),
                     void (*hold)(void *), void (*release)(void *), void *owner)
{
    memset(s, 0, sizeof(*s));
    s->base = base;
    s->expire = expire;
    s->hold = hold;
    s->release = release;
    s->owner = owner;
}

static void arm(motan__tq *q, uint64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    event_add(&q->ev, &tv);
    q->armed = 1;
}

static void on_fire(evutil_socket_t fd, short what, void *arg)
{
    motan__tq *q = arg;
    motan__tqs *s = q->set;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    q->armed = 0;
    void *owner = s->owner;
    void (*release)(void *) = s->release;
    if (s->hold)
        s->hold(owner); /* s lives in owner: an expiry may start freeing it */
    uint64_t now = motan_now_us();
    while (q->head && q->head->deadline_us <= now) {
        motan__tq_node *n = q->head;
        motan__tq_remove(n);
        s->expire(n); /* may remove, add or free other nodes of q */
    }
    if (q->head && !q->armed && !s->stopped) {
        now = motan_now_us();
        arm(q, q->head->deadline_us > now ? q->head->deadline_us - now : 1);
    }
    if (release)
        release(owner);
}

int motan__tqs_add(motan__tqs *s, motan__tq_node *n, int ms)
{
    if (ms <= 0 || s->stopped)
        return -1;
    motan__tq *q = NULL;
    for (int i = 0; i < s->n && !q; i++)
        if (s->q[i].ms == ms)
            q = &s->q[i];
    if (!q) {
        if (s->n == MOTAN__TQ_MAX)
            return -1;
        q = &s->q[s->n++];
        q->ms = ms;
        q->set = s;
        event_assign(&q->ev, s->base, -1, 0, on_fire, q);
    }
    uint64_t us = (uint64_t)ms * 1000u;
    n->deadline_us = motan_now_us() + us;
    n->q = q;
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    if (!q->armed) /* else it fires for an earlier node, due no later than this one */
        arm(q, us);
    return 0;
}

void motan__tq_remove(motan__tq_node *n)
{
    motan__tq *q = n->q;
    if (!q)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->q = NULL;
    n->prev = n->next = NULL;
}

void motan__tqs_stop(motan__tqs *s)
{
    s->stopped = 1;
    for (int i = 0; i < s->n; i++) {
        event_del(&s->q[i].ev);
        s->q[i].armed = 0;
    }
}
