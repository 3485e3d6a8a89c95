/*
 * Private to the ZooKeeper registry (zookeeper.c, zk_loop.c, zk_service.c, zk_register.c):
 * the registry state shared by the session, subscription and registration code.
 *
 * Everything runs on the registry's loop thread. The ZooKeeper C client (single-threaded
 * build) calls our watchers and completions from inside zookeeper_process/zookeeper_interest
 * (and zookeeper_close, with ZCLOSING), so nothing there may close the handle or call a
 * listener: session restarts are deferred to their own event, listener calls to subs.c's.
 */
#ifndef MOTAN_ZK_INT_H
#define MOTAN_ZK_INT_H

#include <stdint.h>

#include <event2/event.h>
#include <zookeeper/zookeeper.h>

#include "registry/registry_int.h"

#define MOTAN_ZK_ERRLEN 512

/* One child of a service's .../server node. */
typedef struct motan__zk_child {
    char *name;    /* host:port */
    uint8_t *data; /* node data (owned), NULL when not (yet) read */
    size_t len;
    int has_data;
} motan__zk_child;

/*
 * The ZooKeeper side of one subscribed service (motan__rsvc.impl): its children under
 * /motan/<group>/<path>/server and the requests in flight for them.
 */
typedef struct motan__zk_watch {
    struct motan__zk_watch *next;
    uint64_t id; /* requests in flight name their watch by id: it may be gone */
    motan__rsvc *v; /* the service (its path and group); outlives the watch */
    char *server_path;
    motan__zk_child *kids;
    size_t nkids;
    int outstanding;   /* requests in flight */
    int have_children; /* the children (or their absence) were read since the last sync */
} motan__zk_watch;

/* A node this registry registered (or is removing). */
typedef struct motan__zk_node {
    struct motan__zk_node *next;
    uint64_t id;
    char *parents[4]; /* /motan, /motan/G, /motan/G/P, /motan/G/P/server */
    char *path;       /* .../server/host:port */
    char *data;       /* the node URL, plain UTF-8 */
    int want;         /* 1: keep it registered, 0: being removed */
    int created;      /* exists in the current session */
    int busy;         /* a create or delete is in flight */
} motan__zk_node;

struct motan__zk;
struct evdns_getaddrinfo_request;
struct evutil_addrinfo;

/* One address of the URL's ensemble and its resolution in progress (zk_resolve.c). */
typedef struct motan__zk_host {
    struct motan__zk *z;
    char *name;
    int port;
    struct evdns_getaddrinfo_request *req;
    struct evutil_addrinfo *res;
    int err;
    int pending;
} motan__zk_host;

typedef struct motan__zk {
    motan_loop *loop;
    struct event_base *base;
    char *hosts; /* "h1:p1,h2:p2" as the URL has it (messages) */
    motan__zk_host *ens;
    size_t nens;
    int resolving; /* a session waits for the ensemble's names */
    int session_timeout;
    zhandle_t *zh;
    struct event *io_ev;      /* the handle's socket and/or timeout */
    struct event *restart_ev; /* a new session after expiry (outside the client's calls) */
    int in_zk;                /* depth of calls into the client: no re-arming inside them */
    int connected;
    int64_t session_id; /* of the last connected session */
    int closing;
    int close_probe; /* the close's ping: 0 waiting, 1 answered, -1 failed */
    uint64_t next_id;
    motan__rsubs subs; /* services, listeners, deliveries (subs.c) */
    motan__zk_watch *watches;
    motan__zk_node *nodes;
    char conn_err[MOTAN_ZK_ERRLEN]; /* why the session is not usable, "" when connected */
    char op_err[MOTAN_ZK_ERRLEN];   /* last failed registration */
    char log_err[MOTAN_ZK_ERRLEN];  /* last error the client logged */
    char errmsg[MOTAN_ZK_ERRLEN * 2 + 8];
} motan__zk;

/* ---- session and event loop (zookeeper.c, zk_loop.c) --------------------------------- */

/* Marks the calling thread as working for z (the client's log lines go to z->log_err) and,
 * until the matching leave, holds the process-wide lock around libzookeeper_st. */
motan__zk *motan__zk_enter(motan__zk *z);
void motan__zk_leave(motan__zk *prev);
/* The client's log callback. */
void motan__zk_log(const char *message);
/* Watches the handle's fd and timeout as zookeeper_interest asks; no-op inside the client. */
void motan__zk_arm(motan__zk *z);
/* Stops watching the handle. */
void motan__zk_disarm(motan__zk *z);
/* printf into buf (bounded). */
void motan__zk_setf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the ensemble's addresses (zk_resolve.c) ------------------------------------------ */

/* The URL's host:port list into z->ens and z->hosts; MOTAN_EURL for a bad one. */
int motan__zk_hosts_init(motan__zk *z, const motan_url *url, char *errbuf, size_t errlen);
/* Resolves every host on the loop (never blocking), then calls motan__zk_resolved. */
void motan__zk_resolve(motan__zk *z);
/* Stops a resolution in progress: motan__zk_resolved is not called for it. */
void motan__zk_resolve_cancel(motan__zk *z);
void motan__zk_hosts_free(motan__zk *z);
/* zookeeper.c: hosts ("ip:port,...", owned) for a new session, or NULL and why not. */
void motan__zk_resolved(motan__zk *z, char *hosts, const char *why);

/* ---- subscriptions (zk_service.c) ------------------------------------------------------ */

/* 1 when p is usable inside a znode path (ZooKeeper's rules; no leading/trailing '/'). */
int motan__zk_valid_part(const char *p);

int motan__zk_subscribe(motan__zk *z, const motan_url *service, motan_registry_listener cb,
                        void *userdata);
int motan__zk_unsubscribe(motan__zk *z, const motan_url *service, motan_registry_listener cb,
                          void *userdata);
/* Re-reads every service (after a (re)connect). */
void motan__zk_services_sync(motan__zk *z);
/* subs.c's on_gone: the service's last listener left. */
void motan__zk_service_gone(void *owner, motan__rsvc *v);
void motan__zk_services_free(motan__zk *z);

/* ---- registrations (zk_register.c) ---------------------------------------------------- */

int motan__zk_register(motan__zk *z, const motan_url *node);
int motan__zk_unregister(motan__zk *z, const motan_url *node);
/* Creates what should exist and deletes what should not (after a (re)connect). */
void motan__zk_nodes_sync(motan__zk *z, int new_session);
/* Queues the deletion of every registered node (destroy). */
void motan__zk_nodes_remove_all(motan__zk *z);
void motan__zk_nodes_free(motan__zk *z);

#endif
