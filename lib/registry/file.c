/*
 * The file registry: a JSON file of services (docs/registries.md), polled every `interval` ms
 * (default 1000) by device, inode, size, mtime and ctime, and read only when one of them
 * changed. A file that fails to parse or to validate keeps the previous lists in force and
 * says why in errmsg, as does one that is not a regular file (a named pipe would block the
 * loop thread) or is over 64 MiB (checked before reading); a missing file gives empty
 * knowledge (no notification) until it appears. Published nodes are written by file_write.c.
 *
 * file:///abs/path.json (no address: absolute), file://localhost/abs/path.json (the same),
 * file://./rel.json or file://dir/rel.json (address + path: relative to the working directory
 * at creation).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include "registry/file_int.h"

typedef struct file_state {
    motan_loop *loop;
    char *path; /* absolute */
    int interval_ms;
    struct event *timer;
    struct event *soon; /* a poll right after a rewrite of ours */
    int seen; /* sig holds the stat of the last file read */
    struct stat sig;
    json_t *doc; /* the last valid document, NULL before one was read */
    char err[512];
    motan__fwriter *writer; /* created by the first register or unregister */
    char errmsg[1200];      /* err and the writer's, for file_errmsg */
    motan__rsubs subs;
} file_state;

static void free_state(void *owner)
{
    file_state *st = owner;
    if (st->timer)
        event_free(st->timer);
    if (st->soon)
        event_free(st->soon);
    motan__fwriter_free(st->writer, 0);
    motan__rsubs_close(&st->subs);
    if (st->doc)
        json_decref(st->doc);
    motan_free(st->path);
    motan_free(st);
}

/* ---- node entries --------------------------------------------------------------------- */

static int is_node_url(const motan_url *u)
{
    return motan_url_addr_count(u) == 1 &&
           (motan_url_addr_is_unix(u, 0) || motan_url_addr_port(u, 0) > 0);
}

int motan__file_node(const char *entry, const char *path, const char *group, motan_url **out,
                     char *errbuf, size_t errlen)
{
    motan_url *u = NULL;
    int rc;
    *out = NULL;
    if (!strstr(entry, "://")) {
        /* host:port, [::1]:port or [unix:/path]: a motan2 node of this service. */
        size_t n = strlen(entry) + strlen(path) + 16;
        char *text = motan_malloc(n);
        if (!text)
            return MOTAN_ENOMEM;
        snprintf(text, n, "motan2://%s/%s", entry, path);
        const char *rb = strrchr(entry, ']'), *tail = rb ? rb : entry;
        rc = strpbrk(entry, "?,") || strchr(tail, '/')
                 ? motan__errf(errbuf, errlen, MOTAN_EURL, "not host:port")
                 : motan_url_parse(text, strlen(text), &u, errbuf, errlen);
        motan_free(text);
        if (rc == MOTAN_OK && !is_node_url(u))
            rc = motan__errf(errbuf, errlen, MOTAN_EURL, "needs a port 1..65535 (none or port 0 given)");
        if (rc == MOTAN_OK)
            rc = motan_url_set_param(u, "group", group);
    } else {
        rc = motan_url_parse(entry, strlen(entry), &u, errbuf, errlen);
        if (rc == MOTAN_OK && strcmp(motan_url_get_protocol(u), "rule") != 0) {
            const char *g = motan_url_get_param(u, "group");
            if (!is_node_url(u))
                rc = motan__errf(errbuf, errlen, MOTAN_EURL, "a node needs one host:port");
            else if (*motan_url_get_path(u) && strcmp(motan_url_get_path(u), path))
                rc = motan__errf(errbuf, errlen, MOTAN_EURL, "path is not the service's");
            else if (g && *g && strcmp(g, group))
                rc = motan__errf(errbuf, errlen, MOTAN_EURL, "group is not the list's");
            if (rc == MOTAN_OK && !*motan_url_get_path(u))
                rc = motan_url_set_path(u, path);
            if (rc == MOTAN_OK && !(g && *g))
                rc = motan_url_set_param(u, "group", group);
        }
    }
    if (rc != MOTAN_OK) {
        motan_url_free(u);
        return rc;
    }
    *out = u;
    return MOTAN_OK;
}

/* services[path][group] (absent: an empty list). errbuf names the offending entry. */
static int build_list(json_t *doc, const char *path, const char *group, motan_url ***out,
                      size_t *nout, char *errbuf, size_t errlen)
{
    json_t *arr = json_object_get(json_object_get(json_object_get(doc, "services"), path), group);
    size_t n = json_array_size(arr);
    motan_url **nodes = motan__calloc(n ? n : 1, sizeof(*nodes));
    if (!nodes)
        return MOTAN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char why[256];
        const char *e = json_string_value(json_array_get(arr, i));
        int rc = e ? motan__file_node(e, path, group, &nodes[i], why, sizeof(why)) : MOTAN_EURL;
        if (rc != MOTAN_OK) {
            motan__rsubs_free_nodes(nodes, i);
            if (rc == MOTAN_ENOMEM)
                return rc;
            if (!e)
                return motan__errf(errbuf, errlen, MOTAN_EURL,
                                   "services[\"%s\"][\"%s\"][%zu]: not a string", path, group, i);
            return motan__errf(errbuf, errlen, MOTAN_EURL,
                               "services[\"%s\"][\"%s\"][%zu]: bad node \"%.128s\": %s", path,
                               group, i, e, why);
        }
    }
    if (!n) {
        motan_free(nodes);
        nodes = NULL;
    }
    *out = nodes;
    *nout = n;
    return MOTAN_OK;
}

/* The subscribed service of path/group, or -1 (st NULL: none is). */
static long subscribed(const file_state *st, const char *path, const char *group)
{
    for (size_t i = 0; st && i < st->subs.nsvcs; i++)
        if (!strcmp(st->subs.svcs[i]->path, path) && !strcmp(st->subs.svcs[i]->group, group))
            return (long)i;
    return -1;
}

/* Node lists of the subscribed services, built while a document is validated. */
typedef struct sub_lists {
    motan_url ***nodes; /* [nsvcs] */
    size_t *n;
    size_t count;
} sub_lists;

static void sub_lists_free(sub_lists *l)
{
    for (size_t i = 0; i < l->count; i++)
        motan__rsubs_free_nodes(l->nodes[i], l->n[i]);
    motan_free(l->nodes);
    motan_free(l->n);
}

/*
 * The document's shape, and every node entry of it. The lists of subscribed services are
 * kept in lists (each node entry is parsed once); absent ones stay empty. lists and st are
 * NULL when only checking.
 */
static int validate(file_state *st, json_t *doc, sub_lists *lists, char *errbuf, size_t errlen)
{
    json_t *services = json_object_get(doc, "services"), *groups, *arr;
    const char *path, *group;
    if (!json_is_object(doc))
        return motan__errf(errbuf, errlen, MOTAN_EDECODE, "the top level is not an object");
    if (!json_is_object(services))
        return motan__errf(errbuf, errlen, MOTAN_EDECODE, "no \"services\" object");
    json_object_foreach (services, path, groups) {
        if (!*path)
            return motan__errf(errbuf, errlen, MOTAN_EDECODE, "services: empty service name");
        if (!json_is_object(groups))
            return motan__errf(errbuf, errlen, MOTAN_EDECODE,
                               "services[\"%s\"]: not an object of groups", path);
        json_object_foreach (groups, group, arr) {
            if (!*group)
                return motan__errf(errbuf, errlen, MOTAN_EDECODE,
                                   "services[\"%s\"]: empty group name", path);
            if (!json_is_array(arr))
                return motan__errf(errbuf, errlen, MOTAN_EDECODE,
                                   "services[\"%s\"][\"%s\"]: not an array of nodes", path, group);
            motan_url **nodes;
            size_t n;
            int rc = build_list(doc, path, group, &nodes, &n, errbuf, errlen);
            if (rc != MOTAN_OK)
                return rc;
            long k = subscribed(st, path, group);
            if (lists && k >= 0 && (size_t)k < lists->count && !lists->nodes[k]) {
                lists->nodes[k] = nodes;
                lists->n[k] = n;
            } else {
                motan__rsubs_free_nodes(nodes, n);
            }
        }
    }
    return MOTAN_OK;
}

int motan__file_check(json_t *doc, char *errbuf, size_t errlen)
{
    return validate(NULL, doc, NULL, errbuf, errlen);
}

/* ---- reading ------------------------------------------------------------------------- */

int motan__file_same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Gives every subscribed service its list (taking the lists). */
static void publish(file_state *st, sub_lists *lists)
{
    for (size_t i = 0; i < st->subs.nsvcs && i < lists->count; i++) {
        /* Validation kept one list per path and group: a second subscription of them (another
         * protocol) builds its own copy. */
        if (!lists->nodes[i] && st->doc)
            build_list(st->doc, st->subs.svcs[i]->path, st->subs.svcs[i]->group, &lists->nodes[i],
                       &lists->n[i], NULL, 0);
        motan__rsubs_set(&st->subs, st->subs.svcs[i], lists->nodes[i], lists->n[i]);
        lists->nodes[i] = NULL;
        lists->n[i] = 0;
    }
}

int motan__file_read_fd(int fd, size_t size, char **out, size_t *len)
{
    char *buf = motan_malloc(size + 1);
    size_t n = 0;
    if (!buf)
        return MOTAN_ENOMEM;
    while (n <= size) { /* one byte more than expected: the file grew */
        ssize_t r = read(fd, buf + n, size + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            motan_free(buf);
            return MOTAN_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > size) { /* changed while being read: read again at the next poll */
        motan_free(buf);
        return MOTAN_EAGAIN;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MOTAN_OK;
}

static const char *kind_of(mode_t m)
{
    return S_ISFIFO(m)                 ? "a named pipe"
           : S_ISDIR(m)                ? "a directory"
           : S_ISCHR(m) || S_ISBLK(m) ? "a device"
           : S_ISSOCK(m)               ? "a socket"
                                       : "not a regular file";
}

int motan__file_usable(const struct stat *sb, char *errbuf, size_t errlen)
{
    if (!S_ISREG(sb->st_mode))
        return motan__errf(errbuf, errlen, MOTAN_EIO, "is %s, not a regular file",
                           kind_of(sb->st_mode));
    if (sb->st_size > (off_t)MOTAN__FILE_MAX_BYTES)
        return motan__errf(errbuf, errlen, MOTAN_ETOOBIG,
                           "is %lld bytes, over the file registry's limit of %u MiB",
                           (long long)sb->st_size, MOTAN__FILE_MAX_BYTES >> 20);
    return MOTAN_OK;
}

/* The file's text when it is a regular file within the size limit; errbuf says why not. */
static int read_checked(file_state *st, const struct stat *sb, char **text, size_t *len,
                        char *errbuf, size_t errlen)
{
    char why[200];
    int rc = motan__file_usable(sb, why, sizeof(why));
    if (rc != MOTAN_OK)
        return motan__errf(errbuf, errlen, rc, "%s: not read%s", why,
                           rc == MOTAN_EIO ? " (point the URL at a JSON file)" : "");
    /* O_NONBLOCK: if a FIFO took the file's place since stat, open must not wait for a writer. */
    int fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot open (%s)", strerror(errno));
    struct stat fsb;
    if (fstat(fd, &fsb) != 0)
        rc = motan__errf(errbuf, errlen, MOTAN_EIO, "cannot stat (%s)", strerror(errno));
    else if (fsb.st_ino != sb->st_ino || fsb.st_dev != sb->st_dev || fsb.st_size != sb->st_size)
        rc = motan__errf(errbuf, errlen, MOTAN_EAGAIN, "changed while being opened");
    else if ((rc = motan__file_read_fd(fd, (size_t)sb->st_size, text, len)) != MOTAN_OK)
        motan__errf(errbuf, errlen, rc, "%s",
                    rc == MOTAN_ENOMEM   ? "out of memory"
                    : rc == MOTAN_EAGAIN ? "changed while being read"
                                         : strerror(errno));
    close(fd);
    return rc;
}

/* Reads the file when it changed (device, inode, size, mtime, ctime) since the last look. */
static void poll_file(file_state *st)
{
    struct stat sb;
    char *text = NULL, why[400];
    size_t len = 0;
    int rc;
    /* Replaced (renamed over) between the stat and the read: looked at again at once. */
    for (int tries = 0;; tries++) {
        if (stat(st->path, &sb) != 0) {
            int e = errno;
            snprintf(st->err, sizeof(st->err), "file registry: %s: %s (%s)%s", st->path,
                     e == ENOENT ? "missing" : "cannot stat", strerror(e),
                     st->doc ? "; keeping the last lists" : "");
            st->seen = 0;
            return;
        }
        if (st->seen && motan__file_same(&sb, &st->sig))
            return;
        /* A file that cannot be used is looked at again only once it changes. */
        st->seen = 1;
        st->sig = sb;
        rc = read_checked(st, &sb, &text, &len, why, sizeof(why));
        if (rc != MOTAN_EAGAIN || tries == 2)
            break;
    }
    if (rc != MOTAN_OK) {
        snprintf(st->err, sizeof(st->err), "file registry: %s: %s%s", st->path, why,
                 st->doc ? "; keeping the last lists" : "");
        if (rc == MOTAN_ENOMEM || rc == MOTAN_EAGAIN)
            st->seen = 0; /* try again next time */
        return;
    }
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    motan_free(text);
    if (!doc) {
        snprintf(st->err, sizeof(st->err), "file registry: %s:%d:%d: %s", st->path, je.line,
                 je.column, je.text);
        return;
    }
    sub_lists lists = {motan__calloc(st->subs.nsvcs + 1, sizeof(motan_url **)),
                       motan__calloc(st->subs.nsvcs + 1, sizeof(size_t)), st->subs.nsvcs};
    rc = lists.nodes && lists.n ? validate(st, doc, &lists, why, sizeof(why)) : MOTAN_ENOMEM;
    if (rc != MOTAN_OK) {
        sub_lists_free(&lists);
        json_decref(doc);
        if (rc == MOTAN_ENOMEM) {
            st->seen = 0;
            snprintf(st->err, sizeof(st->err), "file registry: %s: out of memory", st->path);
        } else {
            snprintf(st->err, sizeof(st->err), "file registry: %s: %s", st->path, why);
        }
        return;
    }
    if (st->doc)
        json_decref(st->doc);
    st->doc = doc;
    st->err[0] = '\0';
    publish(st, &lists);
    sub_lists_free(&lists);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    poll_file(arg);
}

/* ---- ops ------------------------------------------------------------------------------ */

static int resolve_path(const motan_url *url, char **out, char *errbuf, size_t errlen)
{
    const char *p = motan_url_get_path(url);
    size_t na = motan_url_addr_count(url);
    const char *host = na ? motan_url_addr_host(url, 0) : "";
    if (na > 1 || (na == 1 && (motan_url_addr_port(url, 0) || motan_url_addr_is_unix(url, 0))))
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "file registry: bad file URL (file:///abs/path or file://./rel/path)");
    if (!*p && (!na || !*host))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "file registry: no file name in the URL");
    char cwd[4096] = "";
    int relative = na == 1 && strcmp(host, "localhost") != 0;
    if (relative && !getcwd(cwd, sizeof(cwd)))
        return motan__errf(errbuf, errlen, MOTAN_EIO, "file registry: getcwd: %s", strerror(errno));
    size_t n = strlen(cwd) + strlen(host) + strlen(p) + 4;
    char *abs = motan_malloc(n);
    if (!abs)
        return MOTAN_ENOMEM;
    if (relative)
        snprintf(abs, n, "%s/%s%s%s", cwd, host, *p ? "/" : "", p);
    else
        snprintf(abs, n, "/%s", p);
    *out = abs;
    return MOTAN_OK;
}

static int file_create(motan_loop *loop, const motan_url *url, void **state, char *errbuf,
                       size_t errlen)
{
    int64_t interval = motan_url_get_int(url, NULL, "interval", 1000);
    if (interval < 1 || interval > 86400000)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "file registry: bad interval \"%s\"",
                           motan_url_get_str(url, NULL, "interval", ""));
    file_state *st = motan__calloc(1, sizeof(*st));
    if (!st)
        return MOTAN_ENOMEM;
    st->loop = loop;
    st->interval_ms = (int)interval;
    int rc = resolve_path(url, &st->path, errbuf, errlen);
    if (rc != MOTAN_OK) {
        motan_free(st);
        return rc;
    }
    struct event_base *base = motan_loop_get_base(loop);
    st->timer = event_new(base, -1, EV_PERSIST, timer_cb, st);
    st->soon = evtimer_new(base, timer_cb, st);
    if (!st->timer || !st->soon || motan__rsubs_init(&st->subs, base, st) != MOTAN_OK) {
        free_state(st);
        return MOTAN_ENOMEM;
    }
    st->subs.free_owner = free_state;
    struct timeval tv = {st->interval_ms / 1000, (st->interval_ms % 1000) * 1000};
    event_add(st->timer, &tv);
    poll_file(st);
    *state = st;
    return MOTAN_OK;
}

static void file_destroy(void *state)
{
    file_state *st = state;
    event_del(st->timer);
    event_del(st->soon);
    /* Takes out what it published, unless this is a child after fork(): those are the parent's. */
    motan__fwriter_free(st->writer, !motan_loop_forked(st->loop));
    st->writer = NULL;
    if (!motan__rsubs_defer_free(&st->subs))
        free_state(st);
}

static int file_subscribe(void *state, const motan_url *service, motan_registry_listener cb,
                          void *userdata)
{
    file_state *st = state;
    motan__rsvc *v;
    int created;
    int rc = motan__rsubs_add(&st->subs, service, cb, userdata, &v, &created);
    if (rc != MOTAN_OK || !created || !st->doc)
        return rc;
    motan_url **nodes;
    size_t n;
    rc = build_list(st->doc, v->path, v->group, &nodes, &n, NULL, 0);
    if (rc != MOTAN_OK) {
        motan__rsubs_remove(&st->subs, service, cb, userdata);
        return rc;
    }
    motan__rsubs_set(&st->subs, v, nodes, n);
    return MOTAN_OK;
}

static int file_unsubscribe(void *state, const motan_url *service, motan_registry_listener cb,
                            void *userdata)
{
    file_state *st = state;
    return motan__rsubs_remove(&st->subs, service, cb, userdata);
}

/*
 * After a rewrite of ours: subscribers of this registry see it without waiting for the poll
 * interval. From an event: register may be called from inside a listener, which holds the
 * list a poll would replace.
 */
static void written(void *ud)
{
    file_state *st = ud;
    static const struct timeval now = {0, 0};
    evtimer_add(st->soon, &now);
}

static int file_set_node(file_state *st, const motan_url *node, int publish)
{
    if (!st->writer) {
        int rc = motan__fwriter_new(motan_loop_get_base(st->loop), st->path, written, st,
                                    &st->writer);
        if (rc != MOTAN_OK)
            return rc;
    }
    return motan__fwriter_set(st->writer, node, publish);
}

static int file_register(void *state, const motan_url *node) { return file_set_node(state, node, 1); }

static int file_unregister(void *state, const motan_url *node)
{
    return file_set_node(state, node, 0);
}

static const char *file_errmsg(void *state)
{
    file_state *st = state;
    const char *w = st->writer ? motan__fwriter_errmsg(st->writer) : "";
    if (!*w)
        return st->err;
    snprintf(st->errmsg, sizeof(st->errmsg), "%s%s%s", st->err, *st->err ? "; " : "", w);
    return st->errmsg;
}

/* What file_create reads. */
static const char *const file_params[] = {"interval", NULL};

const motan_registry_ops motan__registry_file = {
    .struct_size = sizeof(motan_registry_ops),
    .scheme = "file",
    .create = file_create,
    .destroy = file_destroy,
    .subscribe = file_subscribe,
    .unsubscribe = file_unsubscribe,
    .register_node = file_register,
    .unregister_node = file_unregister,
    .errmsg = file_errmsg,
    .params = file_params,
};
