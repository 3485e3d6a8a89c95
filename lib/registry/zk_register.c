/*
 * Publishing server nodes: the EPHEMERAL znode /motan/<group>/<path>/server/<host:port>,
 * data = the node URL in plain UTF-8 (what Go's registry and Java's "zk" protocol read).
 *
 * A registration is one pipelined burst: create each persistent parent (ignoring "exists"),
 * delete a stale node (e.g. left by a previous session), create the ephemeral node.
 * ZooKeeper executes one session's requests in order, so no answer needs awaiting. Nodes are
 * kept in a list and made true again after every reconnect (and every new session, where the
 * old ephemeral nodes are gone).
 */
#include <stdio.h>

#include "registry/zk_int.h"

typedef struct node_req {
    motan__zk *z;
    uint64_t id;
} node_req;

static motan__zk_node *by_id(motan__zk *z, uint64_t id)
{
    for (motan__zk_node *n = z->nodes; n; n = n->next)
        if (n->id == id)
            return n;
    return NULL;
}

static motan__zk_node *by_path(motan__zk *z, const char *path)
{
    for (motan__zk_node *n = z->nodes; n; n = n->next)
        if (!strcmp(n->path, path))
            return n;
    return NULL;
}

static void node_free(motan__zk_node *n)
{
    for (size_t i = 0; i < 4; i++)
        motan_free(n->parents[i]);
    motan_free(n->path);
    motan_free(n->data);
    motan_free(n);
}

static void node_unlink(motan__zk *z, motan__zk_node *n)
{
    for (motan__zk_node **pp = &z->nodes; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            return;
        }
    }
}

static int transient(int rc)
{
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED ||
           rc == ZCLOSING;
}

/* Takes the request back from a completion; its node when it still exists. */
static motan__zk_node *req_done(const void *data, motan__zk **zp)
{
    node_req *q = (node_req *)data;
    motan__zk *z = q->z;
    motan__zk_node *n = by_id(z, q->id);
    motan_free(q);
    if (n)
        n->busy--;
    *zp = z;
    return n;
}

static void parent_done(int rc, const char *value, const void *data)
{
    motan__zk *z = (motan__zk *)data;
    MOTAN_UNUSED(value);
    if (rc != ZOK && rc != ZNODEEXISTS && !transient(rc) && !z->closing)
        motan__zk_setf(z->op_err, "cannot create the registry path: %s", zerror(rc));
}

static void ignore_done(int rc, const void *data)
{
    MOTAN_UNUSED(rc);
    MOTAN_UNUSED(data);
}

static void create_done(int rc, const char *value, const void *data)
{
    motan__zk *z;
    motan__zk_node *n = req_done(data, &z);
    MOTAN_UNUSED(value);
    if (!n || z->closing || transient(rc))
        return; /* lost connections are made good on reconnect */
    if (rc == ZOK) {
        n->created = 1;
        z->op_err[0] = '\0';
    } else {
        motan__zk_setf(z->op_err, "cannot register %s: %s", n->path, zerror(rc));
    }
}

static void delete_done(int rc, const void *data)
{
    motan__zk *z;
    motan__zk_node *n = req_done(data, &z);
    if (!n || z->closing || transient(rc))
        return;
    if (rc == ZOK || rc == ZNONODE) {
        if (!n->want) {
            node_unlink(z, n);
            node_free(n);
        }
    } else {
        motan__zk_setf(z->op_err, "cannot unregister %s: %s", n->path, zerror(rc));
    }
}

static int usable(motan__zk *z) { return z->zh && z->connected && !z->closing; }

static node_req *new_req(motan__zk *z, motan__zk_node *n)
{
    node_req *q = motan_malloc(sizeof(*q));
    if (q) {
        q->z = z;
        q->id = n->id;
        n->busy++;
    }
    return q;
}

static void issue_create(motan__zk *z, motan__zk_node *n)
{
    if (!usable(z))
        return;
    for (size_t i = 0; i < 4; i++)
        zoo_acreate(z->zh, n->parents[i], "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                    parent_done, z);
    zoo_adelete(z->zh, n->path, -1, ignore_done, NULL);
    node_req *q = new_req(z, n);
    int rc = q ? zoo_acreate(z->zh, n->path, n->data, (int)strlen(n->data), &ZOO_OPEN_ACL_UNSAFE,
                             ZOO_EPHEMERAL, create_done, q)
               : ZSYSTEMERROR;
    if (rc != ZOK) {
        if (q) {
            n->busy--;
            motan_free(q);
        }
        motan__zk_setf(z->op_err, "cannot register %s: %s", n->path, zerror(rc));
    }
}

static void issue_delete(motan__zk *z, motan__zk_node *n)
{
    if (!usable(z))
        return;
    node_req *q = new_req(z, n);
    int rc = q ? zoo_adelete(z->zh, n->path, -1, delete_done, q) : ZSYSTEMERROR;
    if (rc != ZOK) {
        if (q) {
            n->busy--;
            motan_free(q);
        }
        motan__zk_setf(z->op_err, "cannot unregister %s: %s", n->path, zerror(rc));
    }
}

/* The node's znode paths from its URL; MOTAN_EINVAL when it has no host:port or path. */
static int node_paths(const motan_url *url, motan__zk_node *n)
{
    const char *path = motan_url_get_path(url), *group = motan__rsubs_group(url);
    if (motan_url_addr_count(url) < 1 || motan_url_addr_is_unix(url, 0) ||
        motan_url_addr_port(url, 0) <= 0 || !*motan_url_addr_host(url, 0) ||
        !motan__zk_valid_part(path) || !motan__zk_valid_part(group) || strchr(group, '/'))
        return MOTAN_EINVAL;
    const char *host = motan_url_addr_host(url, 0);
    if (strchr(host, '/'))
        return MOTAN_EINVAL;
    size_t len = strlen(group) + strlen(path) + strlen(host) + 40;
    for (size_t i = 0; i < 4; i++)
        if (!(n->parents[i] = motan_malloc(len)))
            return MOTAN_ENOMEM;
    if (!(n->path = motan_malloc(len)))
        return MOTAN_ENOMEM;
    snprintf(n->parents[0], len, "/motan");
    snprintf(n->parents[1], len, "/motan/%s", group);
    snprintf(n->parents[2], len, "/motan/%s/%s", group, path);
    snprintf(n->parents[3], len, "/motan/%s/%s/server", group, path);
    snprintf(n->path, len, "%s/%s:%d", n->parents[3], host, motan_url_addr_port(url, 0));
    return MOTAN_OK;
}

/* The tracked node for url (created when missing): *out, or an error. */
static int track(motan__zk *z, const motan_url *url, motan__zk_node **out)
{
    motan__zk_node *n = motan__calloc(1, sizeof(*n));
    if (!n)
        return MOTAN_ENOMEM;
    int rc = node_paths(url, n);
    if (rc == MOTAN_OK && !(n->data = motan_url_format(url)))
        rc = MOTAN_ENOMEM;
    if (rc != MOTAN_OK) {
        node_free(n);
        return rc;
    }
    motan__zk_node *old = by_path(z, n->path);
    if (old) {
        motan_free(old->data);
        old->data = n->data;
        n->data = NULL;
        node_free(n);
        *out = old;
        return MOTAN_OK;
    }
    n->id = ++z->next_id;
    n->next = z->nodes;
    z->nodes = n;
    *out = n;
    return MOTAN_OK;
}

int motan__zk_register(motan__zk *z, const motan_url *node)
{
    motan__zk_node *n;
    int rc = track(z, node, &n);
    if (rc != MOTAN_OK)
        return rc;
    n->want = 1;
    n->created = 0; /* (re)written with the current data */
    issue_create(z, n);
    return MOTAN_OK;
}

int motan__zk_unregister(motan__zk *z, const motan_url *node)
{
    motan__zk_node *n;
    int rc = track(z, node, &n);
    if (rc != MOTAN_OK)
        return rc;
    n->want = 0;
    n->created = 0;
    issue_delete(z, n);
    return MOTAN_OK;
}

void motan__zk_nodes_sync(motan__zk *z, int new_session)
{
    motan__zk_node *n = z->nodes, *next;
    for (; n; n = next) {
        next = n->next; /* delete_done never runs here: answers come later */
        if (new_session)
            n->created = 0;
        if (n->busy)
            continue;
        if (n->want && !n->created)
            issue_create(z, n);
        else if (!n->want)
            issue_delete(z, n);
    }
}

void motan__zk_nodes_remove_all(motan__zk *z)
{
    for (motan__zk_node *n = z->nodes; n; n = n->next) {
        if (n->want) {
            n->want = 0;
            issue_delete(z, n);
        }
    }
}

void motan__zk_nodes_free(motan__zk *z)
{
    while (z->nodes) {
        motan__zk_node *n = z->nodes;
        z->nodes = n->next;
        node_free(n);
    }
}
