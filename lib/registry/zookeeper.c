/*
 * The ZooKeeper registry (scheme "zookeeper", also reached as "zk"): the registry URL, the
 * session (connect, disconnect, expiry -> a new session) and the ops table. Subscriptions
 * live in zk_service.c, registrations in zk_register.c, the libevent glue in zk_loop.c.
 *
 * Command nodes (/motan/<group>/command) are not read: libmotan implements none of the
 * Java/Go command semantics (traffic switching, weights), see docs/registries.md.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "registry/zk_int.h"

#define DEFAULT_SESSION_TIMEOUT_MS 10000
#define RESTART_RETRY_MS 1000
/* How long a registry being freed waits for ZooKeeper to answer before closing without. */
#define CLOSE_PROBE_MS 50

/* The registry the calling thread is working for: the client's log callback has no context. */
static _Thread_local motan__zk *tl_zk;

/*
 * libzookeeper_st formats log lines in static buffers (only the _mt build has per-thread
 * ones), so registries on different loop threads must not be inside the client at once
 * (a data race ThreadSanitizer reports). Every entry into the client is bracketed by
 * motan__zk_enter/leave, which hold this lock; they nest, hence the per-thread depth. No
 * listener runs under it: lists are delivered from the subscriptions' own event.
 */
static pthread_mutex_t g_client_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int tl_depth;

motan__zk *motan__zk_enter(motan__zk *z)
{
    if (tl_depth++ == 0)
        pthread_mutex_lock(&g_client_mu);
    motan__zk *prev = tl_zk;
    tl_zk = z;
    return prev;
}

void motan__zk_leave(motan__zk *prev)
{
    tl_zk = prev;
    if (--tl_depth == 0)
        pthread_mutex_unlock(&g_client_mu);
}

void motan__zk_setf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, MOTAN_ZK_ERRLEN, fmt, ap);
    va_end(ap);
}

/*
 * Lines look like "<time>:<pid>(<tid>):ZOO_ERROR@<func>@<line>: <text>\n". Every line goes to
 * the log sink at its level, but the client's errors as warnings: they are connection
 * trouble the registry retries through and reports (motan_client_registry_status), and the
 * default sink prints errors, so a ZooKeeper that is down would flood the host's stderr.
 * Errors are also kept: they say why a connection failed.
 */
void motan__zk_log(const char *message)
{
    static const struct {
        const char *tag;
        int level;
    } levels[] = {{"ZOO_ERROR@", MOTAN_LOG_WARN},
                  {"ZOO_WARN@", MOTAN_LOG_WARN},
                  {"ZOO_INFO@", MOTAN_LOG_INFO},
                  {"ZOO_DEBUG@", MOTAN_LOG_DEBUG}};
    if (!message)
        return;
    const char *p = NULL;
    int level = MOTAN_LOG_INFO;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]) && !p; i++)
        if ((p = strstr(message, levels[i].tag)))
            level = levels[i].level;
    const char *text = p ? strstr(p, ": ") : NULL;
    text = text ? text + 2 : p ? p : message;
    size_t n = strcspn(text, "\n");
    motan__log(level, "zookeeper: %.*s", (int)n, text);
    motan__zk *z = tl_zk;
    if (z && p && !strncmp(p, "ZOO_ERROR@", 10))
        motan__zk_setf(z->log_err, "%.*s", (int)n, text);
}

/*
 * What the client logs without a handle (it has no per-handle callback then) goes to its
 * log stream, stderr unless set: a stream of our own passes whole lines on.
 */
static pthread_mutex_t g_stream_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_stream_line[1024];
static size_t g_stream_len;

static ssize_t stream_write(void *cookie, const char *buf, size_t size)
{
    MOTAN_UNUSED(cookie);
    pthread_mutex_lock(&g_stream_mu);
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n' || g_stream_len == sizeof(g_stream_line) - 1) {
            g_stream_line[g_stream_len] = '\0';
            if (g_stream_len)
                motan__zk_log(g_stream_line);
            g_stream_len = 0;
            if (buf[i] == '\n')
                continue;
        }
        g_stream_line[g_stream_len++] = buf[i];
    }
    pthread_mutex_unlock(&g_stream_mu);
    return (ssize_t)size;
}

static pthread_once_t g_stream_once = PTHREAD_ONCE_INIT;

static void set_log_stream(void)
{
    cookie_io_functions_t io = {.write = stream_write};
    FILE *f = fopencookie(NULL, "w", io);
    if (f) {
        setvbuf(f, NULL, _IOLBF, 0);
        zoo_set_log_stream(f); /* kept for the life of the process */
    }
}

/* The client's level follows the sink's, so it formats nothing that would be dropped. */
static void set_client_level(void)
{
    pthread_once(&g_stream_once, set_log_stream);
    zoo_set_debug_level(motan_log_enabled(MOTAN_LOG_DEBUG)  ? ZOO_LOG_LEVEL_DEBUG
                        : motan_log_enabled(MOTAN_LOG_INFO) ? ZOO_LOG_LEVEL_INFO
                        : motan_log_enabled(MOTAN_LOG_WARN) ? ZOO_LOG_LEVEL_WARN
                                                            : ZOO_LOG_LEVEL_ERROR);
}

/* ---- the session ------------------------------------------------------------------------ */

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

static void schedule_restart(motan__zk *z, int ms);

/* hosts: addresses only (zk_resolve.c), so the client never resolves a name itself. */
static int session_start(motan__zk *z, const char *hosts)
{
    z->connected = 0;
    z->log_err[0] = '\0';
    set_client_level();
    z->in_zk++;
    z->zh = zookeeper_init2(hosts, session_watcher, z->session_timeout, NULL, z,
                            ZOO_NO_LOG_CLIENTENV, motan__zk_log);
    z->in_zk--;
    if (!z->zh) {
        int e = errno;
        motan__zk_setf(z->conn_err, "cannot start a ZooKeeper session with %s: %s", z->hosts,
                       z->log_err[0] ? z->log_err : strerror(e));
        return MOTAN_EREGISTRY;
    }
    zoo_set_servers_resolution_delay(z->zh, -1);
    motan__zk_setf(z->conn_err, "connecting to ZooKeeper %s", z->hosts);
    return MOTAN_OK;
}

/* Starts a session once the ensemble's names are resolved (perhaps at once). */
static void session_begin(motan__zk *z)
{
    motan__zk_setf(z->conn_err, "resolving the ZooKeeper ensemble %s", z->hosts);
    motan__zk_resolve(z);
}

void motan__zk_resolved(motan__zk *z, char *hosts, const char *why)
{
    motan__zk *prev = motan__zk_enter(z);
    if (!hosts) {
        motan__zk_setf(z->conn_err, "%s (ZooKeeper %s; retrying)", why, z->hosts);
        schedule_restart(z, RESTART_RETRY_MS);
    } else if (session_start(z, hosts) != MOTAN_OK) {
        schedule_restart(z, RESTART_RETRY_MS);
    } else {
        motan__zk_arm(z);
    }
    motan_free(hosts);
    motan__zk_leave(prev);
}

static void probe_done(int rc, const struct Stat *stat, const void *data)
{
    MOTAN_UNUSED(stat);
    *(int *)data = rc == ZOK || rc == ZNONODE ? 1 : -1;
}

/*
 * zookeeper_close on a connected handle sends the close (up to 3 s) and waits for its answer
 * (up to 1.5 s), blocking the loop: with a ZooKeeper that hangs, seconds. So first, for
 * CLOSE_PROBE_MS at most, drive the handle until a ping queued after everything else (our
 * deletes among it) is answered; if it is not, the socket is shut down and the close that
 * follows returns at once (the session then expires on the server, as it would anyway).
 */
static void close_probe(motan__zk *z)
{
    if (!z->zh || !z->connected)
        return;
    /* In z, not on this stack: unanswered, the completion runs later, inside zookeeper_close. */
    int *answered = &z->close_probe;
    *answered = 0;
    z->in_zk++;
    int rc = zoo_aexists(z->zh, "/", 0, probe_done, answered);
    uint64_t end = motan_now_us() + CLOSE_PROBE_MS * 1000u;
    int fd = -1;
    while (rc == ZOK && !*answered) {
        int interest = 0;
        struct timeval tv = {0, 0};
        if (zookeeper_interest(z->zh, &fd, &interest, &tv) != ZOK || fd < 0)
            break;
        uint64_t now = motan_now_us();
        if (now >= end)
            break;
        int ms = (int)((end - now + 999) / 1000);
        int want = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        if (want >= 0 && want < ms)
            ms = want;
        struct pollfd p = {fd, (short)((interest & ZOOKEEPER_READ ? POLLIN : 0) |
                                       (interest & ZOOKEEPER_WRITE ? POLLOUT : 0)),
                           0};
        int events = 0;
        if (poll(&p, 1, ms) > 0) {
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                events |= ZOOKEEPER_READ;
            if (p.revents & POLLOUT)
                events |= ZOOKEEPER_WRITE;
        }
        zookeeper_process(z->zh, events);
    }
    if (*answered <= 0 && fd >= 0)
        shutdown(fd, SHUT_RDWR);
    z->in_zk--;
}

/* Never from inside the client: zookeeper_close runs the pending completions (ZCLOSING). */
static void session_close(motan__zk *z)
{
    zhandle_t *zh = z->zh;
    motan__zk_disarm(z);
    z->zh = NULL;
    z->connected = 0;
    if (zh) {
        z->in_zk++;
        zookeeper_close(zh);
        z->in_zk--;
    }
}

static void schedule_restart(motan__zk *z, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(z->restart_ev, &tv);
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
    motan__zk *z = arg;
    MOTAN_UNUSED(fd);
    MOTAN_UNUSED(what);
    motan__zk *prev = motan__zk_enter(z);
    session_close(z);
    session_begin(z); /* names are resolved again: addresses may have changed */
    motan__zk_leave(prev);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    motan__zk *z = ctx;
    MOTAN_UNUSED(path);
    if (type != ZOO_SESSION_EVENT || z->closing || zh != z->zh)
        return;
    if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
        int64_t id = zoo_client_id(zh)->client_id;
        int new_session = id != z->session_id;
        z->session_id = id;
        z->connected = 1;
        z->conn_err[0] = '\0';
        z->log_err[0] = '\0';
        z->op_err[0] = '\0'; /* what failed before is done again now */
        /*
         * Our own nodes first (requests run in order: our subscriptions then see them), then
         * everything is read again: watches may have been missed while away.
         */
        motan__zk_nodes_sync(z, new_session);
        motan__zk_services_sync(z);
    } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) {
        z->connected = 0;
        motan__zk_setf(z->conn_err, "connection to ZooKeeper %s lost; reconnecting", z->hosts);
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        z->connected = 0;
        motan__zk_setf(z->conn_err, "ZooKeeper session expired; starting a new session with %s",
                       z->hosts);
        schedule_restart(z, 0);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        z->connected = 0;
        motan__zk_setf(z->conn_err, "ZooKeeper %s refused the session (authentication failed)",
                       z->hosts);
        schedule_restart(z, RESTART_RETRY_MS);
    }
}

/* ---- the registry URL ------------------------------------------------------------------- */

static int session_timeout(const motan_url *url, int *out, char *errbuf, size_t errlen)
{
    const char *v = motan_url_get_param(url, "sessionTimeout");
    *out = DEFAULT_SESSION_TIMEOUT_MS;
    if (!v)
        return MOTAN_OK;
    char *end;
    errno = 0;
    long ms = strtol(v, &end, 10);
    if (errno || end == v || *end || ms <= 0 || ms > INT_MAX / 2)
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "zookeeper registry: bad sessionTimeout \"%s\" (milliseconds)", v);
    *out = (int)ms;
    return MOTAN_OK;
}

/* ---- ops -------------------------------------------------------------------------------- */

static void zk_destroy(void *state);
static void free_state(void *owner);

static int zk_create(motan_loop *loop, const motan_url *url, void **state, char *errbuf,
                     size_t errlen)
{
    motan__zk *z = motan__calloc(1, sizeof(*z));
    if (!z)
        return MOTAN_ENOMEM;
    z->loop = loop;
    z->base = motan_loop_get_base(loop);
    int rc = motan__zk_hosts_init(z, url, errbuf, errlen);
    if (rc == MOTAN_OK)
        rc = session_timeout(url, &z->session_timeout, errbuf, errlen);
    if (rc != MOTAN_OK) {
        zk_destroy(z);
        return rc;
    }
    z->restart_ev = evtimer_new(z->base, on_restart, z);
    if (!z->restart_ev || motan__rsubs_init(&z->subs, z->base, z) != MOTAN_OK) {
        zk_destroy(z);
        return MOTAN_ENOMEM;
    }
    z->subs.on_gone = motan__zk_service_gone;
    z->subs.free_owner = free_state;
    /* The session starts once the names are resolved, perhaps at once: a name that does not
     * resolve shows in errmsg and is tried again, it does not fail the creation. */
    motan__zk *prev = motan__zk_enter(z);
    session_begin(z);
    motan__zk_leave(prev);
    *state = z;
    return MOTAN_OK;
}

static void free_state(void *owner)
{
    motan__zk *z = owner;
    if (z->io_ev)
        event_free(z->io_ev);
    if (z->restart_ev)
        event_free(z->restart_ev);
    motan__zk_services_free(z);
    motan__zk_nodes_free(z);
    motan__zk_hosts_free(z);
    motan_free(z);
}

static void zk_destroy(void *state)
{
    motan__zk *z = state;
    if (!z)
        return;
    motan__zk *prev = motan__zk_enter(z);
    z->closing = 1;
    motan__zk_resolve_cancel(z);
    if (z->loop && motan_loop_forked(z->loop)) {
        /*
         * A child process: the session is the parent's. zookeeper_close would end it (the
         * parent's ephemeral nodes and watches with it), so the handle is abandoned; only the
         * child's copy of its socket (the one being watched) is closed.
         */
        int fd = z->io_ev && event_pending(z->io_ev, EV_READ | EV_WRITE, NULL)
                     ? (int)event_get_fd(z->io_ev)
                     : -1;
        motan__zk_disarm(z);
        if (fd >= 0)
            close(fd);
        z->zh = NULL;
    } else {
        /* Queued now, sent by zookeeper_close before it ends the session. */
        if (z->zh && z->connected)
            motan__zk_nodes_remove_all(z);
        close_probe(z);
        session_close(z);
    }
    motan__zk_leave(prev);
    if (z->restart_ev)
        evtimer_del(z->restart_ev);
    /* From inside a listener subs.c frees us once the listener returns. */
    if (!motan__rsubs_defer_free(&z->subs))
        free_state(z);
}

static int zk_subscribe(void *state, const motan_url *service, motan_registry_listener cb,
                        void *userdata)
{
    motan__zk *z = state;
    motan__zk *prev = motan__zk_enter(z);
    int rc = motan__zk_subscribe(z, service, cb, userdata);
    motan__zk_arm(z);
    motan__zk_leave(prev);
    return rc;
}

static int zk_unsubscribe(void *state, const motan_url *service, motan_registry_listener cb,
                          void *userdata)
{
    motan__zk *z = state;
    return motan__zk_unsubscribe(z, service, cb, userdata);
}

static int zk_register(void *state, const motan_url *node)
{
    motan__zk *z = state;
    motan__zk *prev = motan__zk_enter(z);
    int rc = motan__zk_register(z, node);
    motan__zk_arm(z);
    motan__zk_leave(prev);
    return rc;
}

static int zk_unregister(void *state, const motan_url *node)
{
    motan__zk *z = state;
    motan__zk *prev = motan__zk_enter(z);
    int rc = motan__zk_unregister(z, node);
    motan__zk_arm(z);
    motan__zk_leave(prev);
    return rc;
}

static const char *zk_errmsg(void *state)
{
    motan__zk *z = state;
    if (z->conn_err[0] && z->log_err[0])
        snprintf(z->errmsg, sizeof(z->errmsg), "%s (%s)", z->conn_err, z->log_err);
    else
        snprintf(z->errmsg, sizeof(z->errmsg), "%s", z->conn_err[0] ? z->conn_err : z->op_err);
    return z->errmsg;
}

/* What zk_create reads. */
static const char *const zk_params[] = {"sessionTimeout", NULL};

const motan_registry_ops motan__registry_zookeeper = {
    .struct_size = sizeof(motan_registry_ops),
    .scheme = "zookeeper",
    .create = zk_create,
    .destroy = zk_destroy,
    .subscribe = zk_subscribe,
    .unsubscribe = zk_unsubscribe,
    .register_node = zk_register,
    .unregister_node = zk_unregister,
    .errmsg = zk_errmsg,
    .params = zk_params,
};
