/* Private to lib/registry: the built-in implementations. */
#ifndef MOTAN_REGISTRY_INT_H
#define MOTAN_REGISTRY_INT_H

#include <motan/registry.h>

#include "core/core_int.h"

/*
 * direct, file and consul are strong: a static link only pulls an archive member in for a
 * strong reference. ZooKeeper stays weak while it is being written (see registry.c).
 */
extern const motan_registry_ops motan__registry_direct;
extern const motan_registry_ops motan__registry_file;
extern const motan_registry_ops motan__registry_zookeeper __attribute__((weak));
extern const motan_registry_ops motan__registry_consul;

/* ---- subscriptions and node lists shared by direct, file and consul (subs.c) ---------- */

struct event_base;
struct event;

/* One listener of a service. cb == NULL: unsubscribed during a notification round. */
typedef struct motan__rlis {
    motan_registry_listener cb;
    void *userdata;
    int pending; /* owes this listener the current list */
} motan__rlis;

/* One subscribed service (path + group), its current node list and its listeners. */
typedef struct motan__rsvc {
    char *path;
    char *group;          /* "default_rpc" when the service URL has none */
    motan_url *service;   /* the first subscriber's URL */
    motan_url **nodes;    /* the current list, in source order */
    size_t n;
    char **keys;          /* the nodes' text forms, sorted: lists compare as sets */
    int known;            /* a list was set: new listeners get it at once */
    motan__rlis *lis;
    size_t nlis, clis;
    void *impl;           /* the implementation's own data */
} motan__rsvc;

/*
 * The services of one registry. Listeners are called from a 0-timeout event (never inside
 * subscribe), may unsubscribe or subscribe from inside the call, and may free the registry
 * (the implementation's destroy then uses motan__rsubs_defer_free).
 */
typedef struct motan__rsubs {
    struct event *kick;
    motan__rsvc **svcs;
    size_t nsvcs, csvcs;
    int notifying;
    int dead;
    void *owner;
    /* A service lost its last listener (not called by motan__rsubs_close). May be NULL. */
    void (*on_gone)(void *owner, motan__rsvc *v);
    /* Frees owner after a destroy from inside a listener. */
    void (*free_owner)(void *owner);
} motan__rsubs;

int motan__rsubs_init(motan__rsubs *s, struct event_base *base, void *owner);
/* Frees every service and list (no callbacks). */
void motan__rsubs_close(motan__rsubs *s);
/* From destroy: 1 when inside a listener, owner is then freed once the round ends. */
int motan__rsubs_defer_free(motan__rsubs *s);
/*
 * Adds cb/userdata to service's listeners (no duplicates). *out: the service; *created: 1
 * when it was not subscribed before (the implementation then starts watching it).
 */
int motan__rsubs_add(motan__rsubs *s, const motan_url *service, motan_registry_listener cb,
                     void *userdata, motan__rsvc **out, int *created);
/* MOTAN_ENOTFOUND when cb/userdata does not listen to service. */
int motan__rsubs_remove(motan__rsubs *s, const motan_url *service, motan_registry_listener cb,
                        void *userdata);
/*
 * Takes nodes[0..n) (and the array, allocated with motan_malloc; NULL when n == 0) as v's
 * list. Listeners are notified when it is the first list or differs from the last one (as a
 * set of node texts). Returns 1 when they will be, 0 when nothing changed.
 */
int motan__rsubs_set(motan__rsubs *s, motan__rsvc *v, motan_url **nodes, size_t n);
/* Frees a node array the way motan__rsubs_set would. */
void motan__rsubs_free_nodes(motan_url **nodes, size_t n);
/* The service's group: its "group" parameter, or "default_rpc". */
const char *motan__rsubs_group(const motan_url *service);

#endif
