/*
 * Timeout queues (tq_int.h): things that share a timeout expire in the order they were
 * added, so one libevent timer per queue does what a timer each did (assign, add and delete
 * were about 350 instructions a call). A removal only unlinks: the queue's timer, if it
 * fires for nothing due, re-arms for the new head or stops.
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

static void add_timer(struct event *ev, uint64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    event_add(ev, &tv);
}

/* The time left until deadline, 0 once it has passed. */
static uint64_t left(uint64_t deadline, uint64_t now) { return deadline > now ? deadline - now : 0; }

static void on_queue(evutil_socket_t fd, short what, void *arg)
{
    motan__tq *q = arg;
    motan__tqs *s = q->set;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    q->armed = 0;
    void *owner = s->owner;
    void (*release)(void *) = s->release;
    s->hold(owner); /* s lives in owner: an expiry may start freeing it */
    uint64_t now = motan_now_us();
    while (q->head && q->head->deadline_us <= now) {
        motan__tq_node *n = q->head;
        motan__tq_remove(n);
        s->expire(n); /* may remove, add or free other nodes of q */
    }
    if (q->head && !q->armed && !s->stopped) {
        uint64_t us = left(q->head->deadline_us, motan_now_us());
        add_timer(&q->ev, us ? us : 1);
        q->armed = 1;
    }
    release(owner);
}

/* A node's own timer: early (libevent's clock is not ours) it waits the rest. */
static void on_own(evutil_socket_t fd, short what, void *arg)
{
    motan__tq_node *n = arg;
    motan__tqs *s = n->set;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    uint64_t us = left(n->deadline_us, motan_now_us());
    if (us) {
        add_timer(&n->ev, us);
        return;
    }
    n->own = 0;
    void *owner = s->owner;
    void (*release)(void *) = s->release;
    s->hold(owner);
    s->expire(n);
    release(owner);
}

static motan__tq *queue_for(motan__tqs *s, int ms)
{
    if (s->stopped) /* its queues' timers are gone */
        return NULL;
    for (int i = 0; i < s->n; i++)
        if (s->q[i].ms == ms)
            return &s->q[i];
    if (s->n == MOTAN__TQ_MAX)
        return NULL;
    motan__tq *q = &s->q[s->n++];
    q->ms = ms;
    q->set = s;
    event_assign(&q->ev, s->base, -1, 0, on_queue, q);
    return q;
}

void motan__tqs_add(motan__tqs *s, motan__tq_node *n, int ms)
{
    uint64_t us = ms > 0 ? (uint64_t)ms * 1000u : 0;
    n->deadline_us = motan_now_us() + us;
    motan__tq *q = ms > 0 ? queue_for(s, ms) : NULL;
    if (!q) {
        n->q = NULL;
        n->set = s;
        n->own = 1;
        event_assign(&n->ev, s->base, -1, 0, on_own, n);
        add_timer(&n->ev, us);
        return;
    }
    n->own = 0;
    n->q = q;
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    if (!q->armed) { /* else it fires for an earlier node, due no later than this one */
        add_timer(&q->ev, us);
        q->armed = 1;
    }
}

void motan__tq_remove(motan__tq_node *n)
{
    if (n->own) {
        event_del(&n->ev);
        n->own = 0;
        return;
    }
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
