/*
 * Timeouts for the transport's calls and the cluster's backstops (tq.c): nodes added with
 * the same timeout expire in the order they were added, one libevent timer per queue; a set
 * has queues for MOTAN__TQ_MAX timeout values, a node with another one (or added once the
 * set is stopped) gets a timer of its own. Either way a node never expires before its
 * deadline. Loop thread only.
 */
#ifndef MOTAN_TQ_INT_H
#define MOTAN_TQ_INT_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#define MOTAN__TQ_MAX 4
struct motan__tq;
typedef struct motan__tqs motan__tqs;
typedef struct motan__tq_node {
    uint64_t deadline_us; /* motan_now_us() clock */
    struct motan__tq_node *prev, *next;
    struct motan__tq *q; /* the queue it waits in, or NULL */
    motan__tqs *set;     /* with own */
    int own;             /* ev is pending: a timeout no queue has */
    struct event ev;
} motan__tq_node;
typedef struct motan__tq {
    int ms;
    int armed; /* ev is pending: it fires at the latest when head is due */
    motan__tq_node *head, *tail;
    struct event ev;
    motan__tqs *set;
} motan__tq;
struct motan__tqs {
    motan__tq q[MOTAN__TQ_MAX];
    int n;
    int stopped;
    struct event_base *base;
    void (*expire)(motan__tq_node *n); /* n is no longer armed */
    void (*hold)(void *owner), (*release)(void *owner); /* around expiries */
    void *owner;
};
void motan__tqs_init(motan__tqs *s, struct event_base *base, void (*expire)(motan__tq_node *),
                     void (*hold)(void *), void (*release)(void *), void *owner);
/* Arms n (not armed) to expire in ms. */
void motan__tqs_add(motan__tqs *s, motan__tq_node *n, int ms);
/* Disarms n if it is armed. */
void motan__tq_remove(motan__tq_node *n);
/* No queue of s fires again and new nodes get timers of their own (the owner is going). */
void motan__tqs_stop(motan__tqs *s);

#endif
