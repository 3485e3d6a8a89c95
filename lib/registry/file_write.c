/*
 * Publishing nodes in the file registry's JSON file (docs/registries.md, "Publishing").
 *
 * A rewrite is a read-modify-write of the whole file under an advisory lock, flock() on
 * "<file>.lock" (the file itself is replaced by each rewrite, so a lock on it would lock an
 * old inode): read and check the current file, change only our entries, write a temporary
 * file in the same directory and rename() it over the file, so readers see the old or the
 * new file, never half of one. Entries of others (other processes, hand-written ones) are
 * kept; a file the readers would refuse is never overwritten.
 *
 * The lock is only tried (LOCK_NB): while another writer holds it, a timer retries (5 ms
 * doubling to 200 ms), so the loop thread never waits on it; other failures retry after
 * 100 ms doubling to 5 s. The rewrite itself is synchronous on the loop thread: the file is
 * small (about 1 ms for 300 nodes, bench/file_registry.c); there is no fsync, which could
 * stall the loop for long on a busy disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "registry/file_int.h"

#define BUSY_MIN_MS 5
#define BUSY_MAX_MS 200
#define BUSY_REPORT_US 1000000 /* errmsg tells about a held lock after a second */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define FAREWELL_MS 100 /* free waits this long at most for the lock (Consul's farewell too) */
#define RACES 3          /* rewrites in a row spoilt by writers that take no lock */

/* A node of ours: its place (services[path][group]) and address, and what the file should say. */
typedef struct fnode {
    struct fnode *next;
    char *path, *group;
    char *host; /* or the Unix socket path */
    int port;   /* 0 for a Unix socket */
    char *text; /* the entry: the node URL */
    char key[16]; /* ":<port>", which an entry of the address contains ("" for Unix) */
    int want;   /* 1: in the file; 0: taken out */
    int done;   /* the file says what want says */
    int in_file; /* written by us, not taken out since */
} fnode;

struct motan__fwriter {
    char *path;
    struct event *retry;
    int backoff_ms;       /* after an error, 0: none */
    int busy_ms;          /* while the lock is held elsewhere, 0: it was not */
    uint64_t busy_since;  /* motan_now_us when the lock was first found held, 0: not */
    unsigned seq;         /* temporary file names */
    fnode *nodes;
    void (*written)(void *);
    void *ud;
    char err[700];
};

static void node_free(fnode *n)
{
    motan_free(n->path);
    motan_free(n->group);
    motan_free(n->host);
    motan_free(n->text);
    motan_free(n);
}

/* The address of a one-address node URL: 1, or 0 when it has none usable. */
static int addr_of(const motan_url *u, const char **host, int *port)
{
    if (motan_url_addr_count(u) != 1 || !*motan_url_addr_host(u, 0))
        return 0;
    *host = motan_url_addr_host(u, 0);
    *port = motan_url_addr_is_unix(u, 0) ? 0 : motan_url_addr_port(u, 0);
    return *port > 0 || motan_url_addr_is_unix(u, 0);
}

/*
 * 1 when the file's entry is a node of n's address (rule:// entries never are), 0 when not,
 * -1 out of memory (not knowing, a register would add a second entry of the address).
 */
static int same_node(const fnode *n, json_t *entry)
{
    const char *s = json_string_value(entry), *host;
    motan_url *u = NULL;
    int port, same = 0;
    if (!s || !strstr(s, n->key)) /* the cheap answer for most entries, without parsing */
        return 0;
    int rc = motan__file_node(s, n->path, n->group, &u, NULL, 0);
    if (rc == MOTAN_ENOMEM)
        return -1;
    if (rc == MOTAN_OK && strcmp(motan_url_get_protocol(u), "rule") != 0 && addr_of(u, &host, &port))
        same = port == n->port && (port ? !strcasecmp(host, n->host) : !strcmp(host, n->host));
    motan_url_free(u);
    return same;
}

/* ---- one rewrite ------------------------------------------------------------------------ */

/* The pending changes made to doc; *changed: 1 when it differs now. */
static int apply(motan__fwriter *w, json_t *doc, int *changed)
{
    json_t *services = json_object_get(doc, "services");
    *changed = 0;
    for (fnode *n = w->nodes; n; n = n->next) {
        if (n->done)
            continue;
        json_t *groups = json_object_get(services, n->path);
        json_t *arr = json_object_get(groups, n->group);
        if (n->want) {
            if (!groups && json_object_set_new(services, n->path, groups = json_object()))
                return MOTAN_ENOMEM;
            if (!arr && json_object_set_new(groups, n->group, arr = json_array()))
                return MOTAN_ENOMEM;
        }
        size_t i = 0, removed = 0;
        int placed = !n->want;
        while (i < json_array_size(arr)) {
            json_t *e = json_array_get(arr, i);
            int same = same_node(n, e);
            if (same < 0)
                return MOTAN_ENOMEM;
            if (!same) {
                i++;
            } else if (!placed) { /* the first entry of the address is ours, in its place */
                placed = 1;
                if (strcmp(json_string_value(e), n->text)) {
                    if (json_array_set_new(arr, i, json_string(n->text)))
                        return MOTAN_ENOMEM;
                    *changed = 1;
                }
                i++;
            } else {
                json_array_remove(arr, i);
                removed++;
            }
        }
        if (!placed && json_array_append_new(arr, json_string(n->text)))
            return MOTAN_ENOMEM;
        *changed |= !placed || removed;
        /* What our removal emptied goes too; empty lists written by others stay. */
        if (!n->want && removed && !json_array_size(arr)) {
            json_object_del(groups, n->group);
            if (!json_object_size(groups))
                json_object_del(services, n->path);
        }
    }
    return MOTAN_OK;
}

/*
 * The current document of target (a fresh one when the file is missing or empty): *existed
 * and *sb tell what was read. A file the readers would refuse is an error: never overwritten.
 */
static int load(const char *target, json_t **doc, int *existed, struct stat *sb, char *why,
                size_t wl)
{
    int fd = open(target, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    char *text = NULL, what[400] = "";
    size_t len = 0;
    int rc = MOTAN_OK;
    *doc = NULL;
    *existed = fd >= 0;
    if (fd < 0 && errno != ENOENT)
        return motan__errf(why, wl, MOTAN_EIO, "cannot open it (%s)", strerror(errno));
    if (fd >= 0) {
        if (fstat(fd, sb) != 0)
            rc = motan__errf(why, wl, MOTAN_EIO, "cannot stat it (%s)", strerror(errno));
        else if ((rc = motan__file_usable(sb, what, sizeof(what))) != MOTAN_OK)
            motan__errf(why, wl, rc, "it %s: not overwritten", what);
        else if (sb->st_size && (rc = motan__file_read_fd(fd, (size_t)sb->st_size, &text, &len)))
            motan__errf(why, wl, rc, "cannot read it (%s)",
                        rc == MOTAN_ENOMEM   ? "out of memory"
                        : rc == MOTAN_EAGAIN ? "it grew while being read"
                                             : strerror(errno));
        close(fd);
        if (rc != MOTAN_OK)
            return rc;
    }
    if (!len) { /* missing, or empty (touched, or truncated by a crash): no services yet */
        *doc = json_pack("{s:{}}", "services");
        return *doc ? MOTAN_OK : motan__errf(why, wl, MOTAN_ENOMEM, "out of memory");
    }
    json_error_t je;
    *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    motan_free(text);
    if (!*doc)
        return motan__errf(why, wl, MOTAN_EDECODE, "not overwritten: line %d, column %d: %s",
                           je.line, je.column, je.text);
    if ((rc = motan__file_check(*doc, what, sizeof(what))) != MOTAN_OK) {
        json_decref(*doc);
        *doc = NULL;
        return rc == MOTAN_ENOMEM ? motan__errf(why, wl, rc, "out of memory")
                                  : motan__errf(why, wl, rc, "not overwritten: %s", what);
    }
    return MOTAN_OK;
}

/*
 * Indented, keys in the file's order. Reals (only in keys the registry does not read) with 15
 * significant digits, so that the 1.1 someone wrote stays 1.1 (17 would write 1.1000000000000001).
 */
#define DUMP_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

static int dump(json_t *doc, char **out, size_t *len)
{
    size_t n = json_dumpb(doc, NULL, 0, DUMP_FLAGS);
    char *s = n ? motan_malloc(n + 1) : NULL;
    if (!s)
        return MOTAN_ENOMEM;
    json_dumpb(doc, s, n, DUMP_FLAGS);
    s[n] = '\n';
    *out = s;
    *len = n + 1;
    return MOTAN_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/*
 * text into a new file beside target (*tmp: its name, owned) with the old file's mode and,
 * when allowed, its owner.
 */
static int write_tmp(motan__fwriter *w, const char *target, const char *text, size_t len,
                     const struct stat *old, char **tmp, char *why, size_t wl)
{
    const char *slash = strrchr(target, '/');
    size_t n = strlen(target) + 64;
    char *name = motan_malloc(n);
    int fd = -1;
    if (!name)
        return motan__errf(why, wl, MOTAN_ENOMEM, "out of memory");
    /* ".services.json.<pid>.<seq>.tmp": hidden, and unique among writers (O_EXCL). */
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(name, n, "%.*s.%s.%ld.%u.tmp", (int)(slash - target + 1), target, slash + 1,
                 (long)getpid(), ++w->seq);
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int rc = motan__errf(why, wl, MOTAN_EIO, "cannot create %s (%s)", name, strerror(errno));
        motan_free(name);
        return rc;
    }
    if (old) {
        if (fchmod(fd, old->st_mode & 07777) != 0) {
            /* Keep going: the new file has the writer's default mode. */
        }
        if ((old->st_uid != geteuid() || old->st_gid != getegid()) &&
            fchown(fd, old->st_uid, old->st_gid) != 0) {
            /* Only root may give a file away: it is then the writer's. */
        }
    }
    int bad = write_all(fd, text, len);
    int e = errno;
    if (close(fd) != 0 && !bad) { /* NFS reports a full disk at close */
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(name);
        int rc = motan__errf(why, wl, MOTAN_EIO, "cannot write %s (%s)", name, strerror(e));
        motan_free(name);
        return rc;
    }
    *tmp = name;
    return MOTAN_OK;
}

/*
 * One read-modify-write of target, the lock held. MOTAN_EAGAIN when the file changed under
 * us (a writer that takes no lock): nothing was replaced.
 */
static int rewrite(motan__fwriter *w, const char *target, char *why, size_t wl)
{
    json_t *doc;
    struct stat old, now;
    int existed, changed;
    int rc = load(target, &doc, &existed, &old, why, wl);
    if (rc != MOTAN_OK)
        return rc;
    rc = apply(w, doc, &changed);
    char *text = NULL, *tmp = NULL;
    size_t len = 0;
    if (rc == MOTAN_OK && changed)
        rc = dump(doc, &text, &len);
    json_decref(doc);
    if (rc == MOTAN_ENOMEM)
        return motan__errf(why, wl, rc, "out of memory");
    if (rc != MOTAN_OK || !changed)
        return rc;
    if (len > MOTAN__FILE_MAX_BYTES)
        rc = motan__errf(why, wl, MOTAN_ETOOBIG,
                         "it would grow to %zu bytes, over the file registry's limit of %u MiB: "
                         "not written",
                         len, MOTAN__FILE_MAX_BYTES >> 20);
    if (rc == MOTAN_OK)
        rc = write_tmp(w, target, text, len, existed ? &old : NULL, &tmp, why, wl);
    motan_free(text);
    if (rc != MOTAN_OK)
        return rc;
    int there = stat(target, &now) == 0;
    if (there != existed || (there && !motan__file_same(&now, &old)))
        rc = motan__errf(why, wl, MOTAN_EAGAIN,
                         "it was changed while being rewritten by a writer that does not take "
                         "the lock %s.lock", target);
    else if (rename(tmp, target) != 0)
        rc = motan__errf(why, wl, MOTAN_EIO, "cannot rename %s over it (%s)", tmp, strerror(errno));
    if (rc != MOTAN_OK)
        unlink(tmp);
    motan_free(tmp);
    return rc;
}

/* The file a rewrite replaces: path, or what its symbolic link points to (owned). */
static int target_of(const char *path, char **out, char *why, size_t wl)
{
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        char *real = realpath(path, NULL); /* malloc'd by libc */
        if (!real)
            return motan__errf(why, wl, MOTAN_EIO, "cannot follow its symbolic link (%s)",
                               strerror(errno));
        *out = motan__strdup(real);
        free(real);
    } else {
        *out = motan__strdup(path);
    }
    return *out ? MOTAN_OK : motan__errf(why, wl, MOTAN_ENOMEM, "out of memory");
}

static int pending(const motan__fwriter *w)
{
    for (const fnode *n = w->nodes; n; n = n->next)
        if (!n->done)
            return 1;
    return 0;
}

/* The pending changes are in the file: done, and what was taken out is forgotten. */
static void commit(motan__fwriter *w)
{
    for (fnode **pp = &w->nodes; *pp;) {
        fnode *n = *pp;
        n->done = 1;
        n->in_file = n->want;
        if (!n->want) {
            *pp = n->next;
            node_free(n);
        } else {
            pp = &n->next;
        }
    }
}

/*
 * Writes the pending changes: MOTAN_OK (also when there were none), MOTAN_EAGAIN when the
 * lock is held elsewhere (or the file kept changing under us), else an error; why says what.
 */
static int flush(motan__fwriter *w, char *why, size_t wl)
{
    if (!pending(w))
        return MOTAN_OK;
    char *target, *lock;
    int rc = target_of(w->path, &target, why, wl);
    if (rc != MOTAN_OK)
        return rc;
    size_t n = strlen(target) + 6;
    if (!(lock = motan_malloc(n))) {
        motan_free(target);
        return motan__errf(why, wl, MOTAN_ENOMEM, "out of memory");
    }
    snprintf(lock, n, "%s.lock", target);
    /*
     * Read-write for NFS (where flock is an NFS lock, which needs it), else read-only, which
     * is enough locally; O_NONBLOCK: a FIFO put there must not block the loop.
     */
    int flags = O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    int fd = open(lock, O_RDWR | flags, 0666);
    if (fd < 0 && errno == EACCES)
        fd = open(lock, O_RDONLY | flags, 0666);
    if (fd < 0)
        rc = motan__errf(why, wl, MOTAN_EIO, "cannot create the lock file %s (%s)", lock,
                         strerror(errno));
    else if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK || errno == EINTR
                 ? motan__errf(why, wl, MOTAN_EAGAIN, "the lock %s is held by another writer",
                               lock)
                 : motan__errf(why, wl, MOTAN_EIO, "cannot lock %s (%s)", lock, strerror(errno));
    for (int i = 0; rc == MOTAN_OK && i < RACES; i++)
        if ((rc = rewrite(w, target, why, wl)) != MOTAN_EAGAIN)
            break;
    if (fd >= 0)
        close(fd); /* unlocks */
    if (rc == MOTAN_OK)
        commit(w);
    motan_free(lock);
    motan_free(target);
    return rc;
}

/* ---- retries ------------------------------------------------------------------------------ */

static void retry_cb(evutil_socket_t fd, short what, void *arg);

/* Writes now; when that fails, says why and retries later. */
static void attempt(motan__fwriter *w)
{
    char why[500] = "";
    evtimer_del(w->retry);
    int had = pending(w);
    int rc = flush(w, why, sizeof(why));
    if (rc == MOTAN_OK) {
        w->err[0] = '\0';
        w->backoff_ms = w->busy_ms = 0;
        w->busy_since = 0;
        if (had && w->written)
            w->written(w->ud);
        return;
    }
    int delay;
    uint64_t now = motan_now_us();
    if (rc == MOTAN_EAGAIN) {
        if (!w->busy_since)
            w->busy_since = now;
        w->busy_ms = w->busy_ms ? w->busy_ms * 2 : BUSY_MIN_MS;
        if (w->busy_ms > BUSY_MAX_MS)
            w->busy_ms = BUSY_MAX_MS;
        /* Half fixed, half spread: writers that collided do not retry in step. */
        delay = w->busy_ms / 2 + (int)((now / 7 + (uint64_t)getpid()) % (unsigned)(w->busy_ms / 2 + 1));
        if (now - w->busy_since >= BUSY_REPORT_US)
            snprintf(w->err, sizeof(w->err), "file registry: %s: cannot publish: %s (for %.1f s; "
                     "retrying)", w->path, why, (double)(now - w->busy_since) / 1e6);
    } else {
        w->busy_since = 0;
        w->busy_ms = 0;
        w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (w->backoff_ms > BACKOFF_MAX_MS)
            w->backoff_ms = BACKOFF_MAX_MS;
        delay = w->backoff_ms;
        snprintf(w->err, sizeof(w->err), "file registry: %s: cannot publish: %s (retrying in %d ms)",
                 w->path, why, delay);
    }
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(w->retry, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    attempt(arg);
}

/* ---- API ------------------------------------------------------------------------------------ */

int motan__fwriter_new(struct event_base *base, const char *path, void (*written)(void *ud),
                       void *ud, motan__fwriter **out)
{
    motan__fwriter *w = motan__calloc(1, sizeof(*w));
    if (!w)
        return MOTAN_ENOMEM;
    w->path = motan__strdup(path);
    w->retry = evtimer_new(base, retry_cb, w);
    if (!w->path || !w->retry) {
        motan__fwriter_free(w, 0);
        return MOTAN_ENOMEM;
    }
    w->written = written;
    w->ud = ud;
    *out = w;
    return MOTAN_OK;
}

/* The tracked node of url's place and address (created when missing), or an error. */
static int track(motan__fwriter *w, const motan_url *url, fnode **out)
{
    const char *path = motan_url_get_path(url), *group = motan__rsubs_group(url), *host;
    int port;
    if (!path || !*path || !addr_of(url, &host, &port))
        return MOTAN_EINVAL;
    fnode **tail = &w->nodes;
    for (; *tail; tail = &(*tail)->next) {
        fnode *n = *tail;
        if (!strcmp(n->path, path) && !strcmp(n->group, group) && n->port == port &&
            (port ? !strcasecmp(n->host, host) : !strcmp(n->host, host))) {
            *out = n;
            return MOTAN_OK;
        }
    }
    fnode *n = motan__calloc(1, sizeof(*n));
    if (!n)
        return MOTAN_ENOMEM;
    n->path = motan__strdup(path);
    n->group = motan__strdup(group);
    n->host = motan__strdup(host);
    n->port = port;
    if (port)
        snprintf(n->key, sizeof(n->key), ":%d", port);
    if (!n->path || !n->group || !n->host) {
        node_free(n);
        return MOTAN_ENOMEM;
    }
    *tail = n; /* kept in the order registered: new entries go in in that order */
    *out = n;
    return MOTAN_OK;
}

int motan__fwriter_set(motan__fwriter *w, const motan_url *node, int publish)
{
    char *text = motan_url_format(node);
    fnode *n = NULL;
    motan_url *check = NULL;
    int rc = text ? track(w, node, &n) : MOTAN_ENOMEM;
    /* Never write an entry the readers would refuse: it would spoil the file for everyone. */
    if (rc == MOTAN_OK && publish &&
        (rc = motan__file_node(text, n->path, n->group, &check, NULL, 0)) != MOTAN_ENOMEM)
        rc = rc == MOTAN_OK ? MOTAN_OK : MOTAN_EINVAL;
    motan_url_free(check);
    if (rc != MOTAN_OK) {
        if (n && !n->text) { /* just made by track: the last one */
            fnode **pp = &w->nodes;
            while (*pp != n)
                pp = &(*pp)->next;
            *pp = NULL;
            node_free(n);
        }
        motan_free(text);
        return rc;
    }
    motan_free(n->text);
    n->text = text;
    n->want = publish;
    n->done = 0;
    /* While the lock is held elsewhere the change goes with the retry already due (batching
     * writes under contention); after an error it is tried at once: it may be fixed. */
    if (!(w->busy_ms && evtimer_pending(w->retry, NULL)))
        attempt(w);
    return MOTAN_OK;
}

const char *motan__fwriter_errmsg(const motan__fwriter *w) { return w->err; }

void motan__fwriter_free(motan__fwriter *w, int withdraw)
{
    if (!w)
        return;
    if (w->retry)
        event_free(w->retry);
    if (withdraw) {
        /* Ours come out; nodes never written are dropped; asked-for removals still happen. */
        for (fnode **pp = &w->nodes; *pp;) {
            fnode *n = *pp;
            if (n->want && !n->in_file) {
                *pp = n->next;
                node_free(n);
                continue;
            }
            if (n->want) {
                n->want = 0;
                n->done = 0;
            }
            pp = &n->next;
        }
        char why[500] = "";
        uint64_t end = motan_now_us() + FAREWELL_MS * 1000u;
        while (flush(w, why, sizeof(why)) == MOTAN_EAGAIN && motan_now_us() < end) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    while (w->nodes) {
        fnode *n = w->nodes;
        w->nodes = n->next;
        node_free(n);
    }
    motan_free(w->path);
    motan_free(w);
}
