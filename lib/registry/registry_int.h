/* Private to lib/registry: the built-in implementations. */
#ifndef MOTAN_REGISTRY_INT_H
#define MOTAN_REGISTRY_INT_H

#include <motan/registry.h>

#include "core/core_int.h"

/* Strong references: a static link only pulls an archive member in for a strong reference. */
extern const motan_registry_ops motan__registry_direct;
extern const motan_registry_ops motan__registry_file;
extern const motan_registry_ops motan__registry_zookeeper;
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

/* One subscribed service (protocol, path, group), its current node list and its listeners. */
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

/* ---- consul (consul.c, consul_http.c, consul_json.c) ---------------------------------- */

/*
 * One HTTP request to a Consul agent (consul_http.c). status: the HTTP status, or 0 when no
 * response came (err says why); index: the X-Consul-Index header or NULL; body:
 * NUL-terminated. Runs from a loop event, never inside motan__chttp_start; the request is
 * gone once it has run.
 */
typedef struct motan__chttp motan__chttp;
typedef void (*motan__chttp_cb)(void *userdata, int status, const char *err, const char *index,
                                const char *body, size_t len);
struct evdns_base;
/*
 * method: "GET" or "PUT"; body may be NULL. Both timeouts in ms. host: an address or a name
 * resolved with dns (NULL: addresses only); every address is tried in turn. peer_out (NULL,
 * or 46 bytes) gets the address that was connected to.
 */
int motan__chttp_start(struct event_base *base, struct evdns_base *dns, const char *host, int port,
                       const char *method, const char *uri, const char *body, int connect_ms,
                       int total_ms, char *peer_out, motan__chttp_cb cb, void *userdata,
                       motan__chttp **out);
/* Ends the request; its callback never runs. NULL is a no-op. */
void motan__chttp_cancel(motan__chttp *r);
/*
 * The same, blocking, without a body, to an address (ip), for at most total_ms in all: the
 * HTTP status, or 0 when none came in time. host names the Host header.
 */
int motan__chttp_sync(const char *ip, int port, const char *host, const char *method,
                      const char *uri, int total_ms);

/* A motan group's Consul service name is this prefix + the group (weibocom/motan). */
#define MOTAN__CONSUL_PREFIX "motanrpc_"
/*
 * What motan publishes for node: the service ID "<host>:<port>-<path>" and the JSON body of
 * PUT /v1/agent/service/register with a TTL check of ttl_s seconds (both owned).
 */
int motan__consul_service(const motan_url *node, int ttl_s, char **id, char **body, char *errbuf,
                          size_t errlen);
/*
 * The node URLs of a GET /v1/health/service/<prefix><group> answer, in its order (owned, free
 * with motan__rsubs_free_nodes). Entries that cannot be made into a node are skipped:
 * *skipped counts them and errbuf tells about the first. MOTAN_EDECODE for a bad answer.
 */
int motan__consul_nodes(const char *body, size_t len, const char *group, motan_url ***out,
                        size_t *n, size_t *skipped, char *errbuf, size_t errlen);
/* %-encodes s (owned): java = 1 as Java's URLEncoder, else for a URI path or query part. */
char *motan__consul_escape(const char *s, int java);

#endif
