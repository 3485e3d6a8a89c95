/*
 * libmotan registries: where endpoint lists come from. A registry is created from a URL
 * (direct://, file://, zookeeper://, consul:// or a scheme registered by the user) and
 * delivers, for each subscribed service, the FULL current list of node URLs on every change.
 * A registry that cannot be reached keeps quiet (the last list stays in force) and retries
 * in the background; motan_registry_errmsg tells why it is unhappy.
 *
 * Threading: a registry lives on one motan_loop; every function may be called from any
 * thread with a built-in loop (it is handed to the loop and waited for); listeners run on
 * the loop thread, never inside the call that subscribed.
 */
#ifndef MOTAN_REGISTRY_H
#define MOTAN_REGISTRY_H

#include <motan/cluster.h>

/*
 * A service's current nodes (borrowed for the duration of the call; copy what you keep).
 * rule:// pseudo-nodes are passed through for the cluster (group weights).
 */
typedef void (*motan_registry_listener)(const motan_url *const *nodes, size_t n, void *userdata);

/*
 * A registry implementation, registered by URL scheme. Every function runs on the loop
 * thread. `service` URLs carry the path and the "group" parameter (default default_rpc).
 * Implementations call the listener from the loop (not inside subscribe itself).
 */
typedef struct motan_registry_ops {
    /* sizeof(motan_registry_ops) where the plug-in was compiled (checked at registration). */
    size_t struct_size;
    const char *scheme;
    /* url: the registry URL (scheme, addresses, parameters); *state for the other calls. */
    int (*create)(motan_loop *loop, const motan_url *url, void **state, char *errbuf,
                  size_t errlen);
    void (*destroy)(void *state);
    int (*subscribe)(void *state, const motan_url *service, motan_registry_listener cb,
                     void *userdata);
    int (*unsubscribe)(void *state, const motan_url *service, motan_registry_listener cb,
                       void *userdata);
    /* Publishing a server node (node: motan2://host:port/path?group=...); may be NULL. */
    int (*register_node)(void *state, const motan_url *node);
    int (*unregister_node)(void *state, const motan_url *node);
    /* Why the registry is unhealthy, or NULL/"" when it is fine; may be NULL. */
    const char *(*errmsg)(void *state);
    /*
     * The parameters the registry reads from its URL, NULL-terminated (NULL: none). A client
     * URL with this scheme passes exactly these keys to the registry (client parameters such
     * as requestTimeout never reach it), and rejects keys known to neither.
     */
    const char *const *params;
} motan_registry_ops;

/*
 * Registers ops under ops->scheme (kept by pointer). MOTAN_EINVAL when the scheme is taken,
 * a required function is missing or ops->struct_size is not sizeof(motan_registry_ops).
 */
int motan_registry_register_ops(const motan_registry_ops *ops);
const motan_registry_ops *motan_registry_find_ops(const char *scheme);

typedef struct motan_registry motan_registry;

/*
 * A registry for url (its scheme picks the implementation): "direct://h:p,h:p",
 * "file:///path/to/services.json", "zookeeper://h:p,h:p", "consul://h:p".
 * owned: free with motan_registry_free.
 */
int motan_registry_new(motan_loop *l, const motan_url *url, motan_registry **out, char *errbuf,
                       size_t errlen);
/* Unsubscribes everything, unregisters what this registry registered, frees. */
void motan_registry_free(motan_registry *r);

int motan_registry_subscribe(motan_registry *r, const motan_url *service,
                             motan_registry_listener cb, void *userdata);
int motan_registry_unsubscribe(motan_registry *r, const motan_url *service,
                               motan_registry_listener cb, void *userdata);
/*
 * Publishes (or withdraws) a server node, motan2://host:port/path?group=G&... (borrowed):
 * zookeeper, consul and file registries (docs/registries.md, "Publishing"); direct answers
 * MOTAN_EUNSUPPORTED. MOTAN_OK once accepted: a registry that cannot publish yet keeps
 * trying, and motan_registry_errmsg says why meanwhile.
 */
int motan_registry_register(motan_registry *r, const motan_url *node);
int motan_registry_unregister(motan_registry *r, const motan_url *node);
/* The registry's current problem ("" when healthy); copied into buf. */
void motan_registry_errmsg(motan_registry *r, char *buf, size_t len);
/* The loop (borrowed). */
motan_loop *motan_registry_get_loop(const motan_registry *r);

#endif /* MOTAN_REGISTRY_H */
