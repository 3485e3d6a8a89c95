/* Private to lib/client. */
#ifndef MOTAN_CLIENT_INT_H
#define MOTAN_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <motan/client.h>
#include <motan/observe.h>

#include <event2/event.h>

#include "core/core_int.h"

/* url only ever holds parameters that passed config.c's checks. */
struct motan_config {
    motan_url *url;
    motan_stats *stats; /* motan_config_set_stats (borrowed), or NULL */
};

/*
 * params.c. motan__param_check: MOTAN_OK when key ("<name>" or "<method>.<name>") is a client
 * parameter with an acceptable value or a parameter of the registry of scheme; else
 * MOTAN_EURL with `unknown parameter "k" (did you mean "..."?)` or what is wrong with the
 * value. motan__param_is_registry: 1 for a registry parameter that is no client parameter
 * (the only keys a client URL passes on to its registry).
 */
int motan__param_check(const char *scheme, const char *key, const char *value, char *errbuf,
                       size_t errlen);
int motan__param_is_registry(const char *scheme, const char *key);

/* A finished call waiting in the pull queue (freed with motan_free, see client_call.c). */
typedef struct motan__done {
    motan_response *resp;
    uint64_t tag;
    struct motan__done *next;
} motan__done;

/*
 * A call in flight through the client (its cluster callback's userdata). For the pull queue
 * its completion record is this same allocation, made when the call is accepted: a
 * completion can never be lost for want of memory to queue it.
 */
/* Finished call records a client keeps for reuse. */
#define MOTAN__ACALL_POOL 1024

typedef struct motan__acall {
    motan__done done; /* first: the queue frees the whole call through it */
    motan_client *c;
    motan_response_cb cb;
    void *userdata;
    uint64_t tag;
    int queued;                      /* a pull-queue call: in the client's submitted list */
    struct motan__acall *prev, *next;
} motan__acall;

/* A registry subscription for one group (own group or one named by a rule). */
typedef struct motan__sub {
    motan_client *client;
    char *group;
    motan_url *service;
    struct motan__sub *next;
} motan__sub;

struct motan_client {
    motan_loop *loop;
    int owns_loop; /* made for this client (freed with it); else shared, borrowed */
    motan_url *url;      /* the configuration */
    char *service;       /* path */
    motan_url *reg_url;  /* registry URL */
    motan_registry *registry;
    motan_cluster *cluster;
    motan__sub *subs;    /* own group first */
    motan_stats *stats;  /* what the filters feed (a reference) */
    motan_filter_chain *chain; /* the `filter` parameter's filters (maybe none) */
    struct event *stats_ev;    /* refreshes endpoint availability while filters run */
    /* pull queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    motan__done *qhead, *qtail;
    motan__acall *sub_head, *sub_tail; /* submitted, not yet completed (qmu) */
    int qfd;
    /* finished call records for reuse: taken on the caller's thread, given back on the loop's */
    motan__freelist spare; /* finished call records for reuse */
    atomic_int closing; /* set by free on its thread, read by calls on theirs */
};

/* client_call.c: a cleared call record (spare or new; NULL: out of memory), giving one back. */
motan__acall *motan__acall_get(motan_client *c);
void motan__acall_put(motan_client *c, motan__acall *a);

/* client.c: the endpoints' availability into the stats (loop thread). */
void motan__client_report_endpoints(motan_client *c);

#endif
