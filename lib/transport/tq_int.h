/*
 * Timeout queues (tq.c), for the transport's calls and the cluster's backstops: nodes added
 * with the same timeout expire in the order they were added, one libevent timer per queue;
 * a set has MOTAN__TQ_MAX timeout values, a node with another one is refused (its owner arms
 * a timer of its own). Loop thread only.
 */
#ifndef MOTAN_TQ_INT_H
#define MOTAN_TQ_INT_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#define MOTAN__TQ_MAX 4
struct motan__tq;
typedef struct motan__tq_node {
    uint64_t deadline_us; /* motan_now_us() clock */
    struct motan__tq_node *prev, *next;
    struct motan__tq *q; /* NULL: in no queue */
} motan__tq_node;
typedef struct motan__tqs motan__tqs;
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
    void (*expire)(motan__tq_node *n); /* n is out of its queue already */
    void (*hold)(void *owner), (*release)(void *owner); /* around expiries; may be NULL */
    void *owner;
};
void motan__tqs_init(motan__tqs *s, struct event_base *base, void (*expire)(motan__tq_node *),
                     void (*hold)(void *), void (*release)(void *), void *owner);
/* 0: n is queued to expire in ms; -1: no queue for ms (or s is stopped). */
int motan__tqs_add(motan__tqs *s, motan__tq_node *n, int ms);
/* Takes n out of its queue (none: nothing). */
void motan__tq_remove(motan__tq_node *n);
/* No timer of s fires again, nothing is added (the owner is being freed). */
void motan__tqs_stop(motan__tqs *s);

#endif
