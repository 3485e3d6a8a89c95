/*
 * Event loops: the caller's event_base, or one the library runs on its own thread.
 * Work from other threads arrives through a mutex-guarded FIFO and an eventfd that is
 * written only when the queue goes from empty to non-empty, so a burst of calls from many
 * threads costs one wake-up and is handled in one loop iteration (and one write per
 * connection).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/dns.h>

#include "transport/transport_int.h"

/* Tasks of motan_loop_run kept for reuse: a warm call hands over work without malloc. */
#define TASK_CACHE_MAX 256
/* Finished endpoint calls kept for reuse by the loop (all its endpoints). */
#define CALL_CACHE_MAX 1024

struct motan_loop {
    struct event_base *base;
    int owns_base;
    int builtin;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    motan__task *head, *tail; /* guarded by mu */
    motan__task *spare;       /* guarded by mu: motan_loop_run's tasks, for reuse */
    size_t nspare;
    void *calls;              /* loop thread: finished endpoint calls, for reuse */
    size_t ncalls;
    int wake_pending;         /* guarded by mu: the eventfd has been written */
    int stopping;             /* guarded by mu */
    int wake_fd;
    struct event wake_ev;
    motan__task stop;  /* queued by motan_loop_free: needs no memory, so it cannot fail */
    struct evdns_base *dns; /* the asynchronous resolver, made on first use */
    int self_free;     /* freed from its own thread: the thread frees the loop on its way out */
    motan__fdbudget budget; /* loop thread only */
    unsigned fork_mark;     /* motan__fork_mark() at creation */
    unsigned adopted_mark;  /* the process (fork count) that adopted the loop, see adopt() */
    int adopted, adopt_ok;
};

/* libevent's own messages (epoll failures, bad events...) go to libmotan's log sink. */
static void on_event_log(int severity, const char *msg)
{
    int level = severity == EVENT_LOG_ERR    ? MOTAN_LOG_ERROR
                : severity == EVENT_LOG_WARN ? MOTAN_LOG_WARN
                : severity == EVENT_LOG_MSG  ? MOTAN_LOG_INFO
                                             : MOTAN_LOG_DEBUG;
    motan__log(level, "libevent: %s", msg ? msg : "");
}

static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;

static void hook_event_log(void) { event_set_log_callback(on_event_log); }

/* Gives motan_loop_run's tasks back to the spare list (loop thread; takes mu). */
static void put_spares(motan_loop *l, motan__task *used, motan__task *used_tail, size_t n)
{
    if (!used)
        return;
    pthread_mutex_lock(&l->mu);
    while (used && l->nspare + n > TASK_CACHE_MAX) { /* beyond the cache: freed */
        motan__task *next = used->next;
        motan_free(used);
        used = next;
        n--;
    }
    if (used) {
        used_tail->next = l->spare;
        l->spare = used;
        l->nspare += n;
    }
    pthread_mutex_unlock(&l->mu);
}

static void run_queued(motan_loop *l)
{
    pthread_mutex_lock(&l->mu);
    motan__task *t = l->head;
    l->head = l->tail = NULL;
    l->wake_pending = 0;
    pthread_mutex_unlock(&l->mu);
    motan__task *used = NULL, *used_tail = NULL;
    size_t nused = 0;
    while (t) {
        motan__task *next = t->next;
        int heap = t->heap;
        t->fn(t->userdata);
        if (heap) {
            t->next = used;
            used = t;
            if (!used_tail)
                used_tail = t;
            nused++;
        }
        t = next;
    }
    put_spares(l, used, used_tail, nused);
}

void *motan__loop_call_get(motan_loop *l, size_t size)
{
    void *p = NULL;
    if (motan_loop_in_loop_thread(l) && l->calls) { /* the pool is the loop thread's alone */
        p = l->calls;
        l->calls = *(void **)p;
        l->ncalls--;
    } else {
        p = motan_malloc(size);
    }
    if (p)
        memset(p, 0, size);
    return p;
}

void motan__loop_call_put(motan_loop *l, void *p)
{
    if (l->ncalls >= CALL_CACHE_MAX) {
        motan_free(p);
        return;
    }
    *(void **)p = l->calls;
    l->calls = p;
    l->ncalls++;
}

static void free_spares(motan_loop *l)
{
    while (l->calls) {
        void *next = *(void **)l->calls;
        motan_free(l->calls);
        l->calls = next;
    }
    l->ncalls = 0;
    while (l->spare) {
        motan__task *next = l->spare->next;
        motan_free(l->spare);
        l->spare = next;
    }
    l->nspare = 0;
}

static void drain_queue(evutil_socket_t fd, short what, void *arg)
{
    uint64_t v;
    MOTAN_UNUSED(what);
    (void)!read(fd, &v, sizeof(v)); /* resets the eventfd; EAGAIN is harmless */
    run_queued(arg);
}

/* libevent's epoll base takes 4 descriptors (epoll, timerfd, a signal socketpair); ours 1. */
#define LOOP_FDS 5

/*
 * libevent ends the process (exit(1) in evsig_init_) when a new event_base cannot get its
 * descriptors. Out of descriptors must be an error, so check that they are there right
 * before creating one (another thread could still take them in between: a narrow window
 * instead of a certain exit).
 */
static int check_fds(char *errbuf, size_t errlen)
{
    int fds[LOOP_FDS], k, rc = MOTAN_OK;
    for (k = 0; k < LOOP_FDS; k++) {
        if ((fds[k] = eventfd(0, EFD_CLOEXEC)) < 0) {
            rc = motan__errf(errbuf, errlen, MOTAN_ENOMEM,
                             "cannot create the event loop: %s (it needs %d file descriptors)",
                             strerror(errno), LOOP_FDS);
            break;
        }
    }
    while (k-- > 0)
        close(fds[k]);
    return rc;
}

static int loop_init(motan_loop *l, char *errbuf, size_t errlen)
{
    pthread_once(&g_log_once, hook_event_log);
    pthread_mutex_init(&l->mu, NULL);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "cannot create the loop's eventfd: %s",
                           strerror(errno));
    event_assign(&l->wake_ev, l->base, l->wake_fd, EV_READ | EV_PERSIST, drain_queue, l);
    if (event_add(&l->wake_ev, NULL) != 0)
        return motan__errf(errbuf, errlen, MOTAN_EIO, "cannot watch the loop's eventfd");
    return MOTAN_OK;
}

static void loop_destroy(motan_loop *l)
{
    if (l->wake_fd >= 0) {
        event_del(&l->wake_ev);
        close(l->wake_fd);
    }
    /* Tasks still queued belong to objects that are gone; run them so nothing leaks. */
    run_queued(l);
    free_spares(l);
    if (l->dns)
        evdns_base_free(l->dns, 1); /* requests still pending get their callback (cancelled) */
    pthread_mutex_destroy(&l->mu);
    if (l->owns_base)
        event_base_free(l->base);
    motan_free(l);
}

static atomic_int g_threads; /* built-in loop threads still running (tests wait on it) */

int motan__loop_threads(void) { return atomic_load(&g_threads); }

static void *loop_thread(void *arg)
{
    motan_loop *l = arg;
    /*
     * A peer that goes away must not kill the process: our own sockets write with
     * MSG_NOSIGNAL, but libevent's HTTP client (Consul) uses writev. A blocked SIGPIPE stays
     * pending on this thread and the write fails with EPIPE instead.
     */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    if (l->self_free) {
        /* motan_loop_free ran in a callback of this loop: nobody joins us, we free it. */
        pthread_detach(pthread_self());
        loop_destroy(l);
    }
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static int loop_new_impl(motan_loop **out, char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    motan_loop *l = motan__calloc(1, sizeof(*l));
    if (!l)
        return MOTAN_ENOMEM;
    l->wake_fd = -1;
    l->builtin = 1;
    l->owns_base = 1;
    l->fork_mark = motan__fork_mark();
    int rc = check_fds(errbuf, errlen);
    if (rc != MOTAN_OK) {
        motan_free(l);
        return rc;
    }
    /* Precise timers: libevent's default coarse clock can fire a timeout milliseconds early. */
    struct event_config *cfg = event_config_new();
    if (cfg)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    l->base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg)
        event_config_free(cfg);
    if (!l->base) {
        motan_free(l);
        return motan__errf(errbuf, errlen, MOTAN_EIO, "event_base_new failed");
    }
    rc = loop_init(l, errbuf, errlen);
    if (rc == MOTAN_OK) {
        atomic_fetch_add(&g_threads, 1);
        int e = pthread_create(&l->thread, NULL, loop_thread, l);
        if (e != 0) {
            atomic_fetch_sub(&g_threads, 1);
            rc = motan__errf(errbuf, errlen, MOTAN_EIO, "cannot start the loop thread: %s",
                             strerror(e));
        } else {
            l->thread_started = 1;
        }
    }
    if (rc != MOTAN_OK) {
        loop_destroy(l);
        return rc;
    }
    *out = l;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_loop_new(motan_loop **out, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, loop_new_impl(out, errbuf, errlen));
}

static int loop_new_with_base_impl(struct event_base *base, motan_loop **out, char *errbuf,
                                   size_t errlen)
{
    if (!out || !base)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no event_base given");
    *out = NULL;
    motan_loop *l = motan__calloc(1, sizeof(*l));
    if (!l)
        return MOTAN_ENOMEM;
    l->wake_fd = -1;
    l->base = base;
    l->fork_mark = motan__fork_mark();
    int rc = loop_init(l, errbuf, errlen);
    if (rc != MOTAN_OK) {
        loop_destroy(l);
        return rc;
    }
    *out = l;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_loop_new_with_base(struct event_base *base, motan_loop **out,
                                          char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen,
                                 loop_new_with_base_impl(base, out, errbuf, errlen));
}

/* ---- after fork() ------------------------------------------------------------------------ */

MOTAN_EXPORT int motan_loop_forked(const motan_loop *l)
{
    return l && motan__forked_since(l->fork_mark);
}

/*
 * In a child process the loop thread is gone (only the thread that forked is copied): the
 * calling thread stands in for it, so that objects can be freed, never to run the loop. The
 * libevent backend comes first: the child shares the parent's epoll set, and deleting an
 * event from it would silence the parent's socket, so a built-in loop's base gets one of its
 * own (event_reinit; a caller's base is the caller's to reinitialise). Queued tasks (calls
 * the parent handed over just before the fork) run first, so that freeing finds them.
 * 0 when the base could not be rebuilt (no descriptors): libevent must then not be touched
 * and what is on the loop is abandoned.
 */
static int adopt(motan_loop *l)
{
    unsigned now = motan__fork_mark();
    if (l->adopted && l->adopted_mark == now)
        return l->adopt_ok;
    l->adopted = 1;
    l->adopted_mark = now;
    pthread_mutex_init(&l->mu, NULL); /* a thread of the parent may have held it */
    l->spare = NULL; /* maybe half updated by such a thread: left to the parent's memory */
    l->nspare = 0;
    l->wake_pending = 0;
    l->stopping = 0;
    l->adopt_ok = !l->owns_base || (check_fds(NULL, 0) == MOTAN_OK && event_reinit(l->base) == 0);
    if (l->adopt_ok)
        run_queued(l);
    return l->adopt_ok;
}

static void stop_task(void *arg)
{
    motan_loop *l = arg;
    event_base_loopbreak(l->base);
}

MOTAN_EXPORT void motan_loop_free(motan_loop *l)
{
    if (!l)
        return;
    if (motan_loop_forked(l)) {
        /* No thread to stop. Without a base of our own nothing libevent holds is touched. */
        if (adopt(l)) {
            loop_destroy(l);
        } else {
            if (l->wake_fd >= 0)
                close(l->wake_fd);
            motan_free(l);
        }
        return;
    }
    if (l->builtin && l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = 1;
        pthread_mutex_unlock(&l->mu);
        if (pthread_equal(pthread_self(), l->thread)) {
            /* From a callback: the loop cannot join itself nor be freed under its own feet.
             * It stops once this callback returns and its thread frees it. */
            l->self_free = 1;
            event_base_loopbreak(l->base);
            return;
        }
        motan__task *t = &l->stop;
        t->fn = stop_task;
        t->userdata = l;
        t->heap = 0;
        t->next = NULL;
        /* Appended directly: motan__loop_post refuses work once stopping is set. */
        pthread_mutex_lock(&l->mu);
        if (l->tail)
            l->tail->next = t;
        else
            l->head = t;
        l->tail = t;
        pthread_mutex_unlock(&l->mu);
        uint64_t one = 1;
        (void)!write(l->wake_fd, &one, sizeof(one));
        pthread_join(l->thread, NULL);
    }
    loop_destroy(l);
}

MOTAN_EXPORT struct event_base *motan_loop_get_base(motan_loop *l) { return l->base; }

MOTAN_EXPORT struct evdns_base *motan_loop_get_dns(motan_loop *l)
{
    if (!l->dns) {
        /* /etc/resolv.conf and /etc/hosts, as getaddrinfo would; idle, it keeps no loop alive. */
        l->dns = evdns_base_new(l->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    }
    return l->dns;
}

motan__fdbudget *motan__loop_budget(motan_loop *l) { return &l->budget; }

MOTAN_EXPORT int motan_loop_is_builtin(const motan_loop *l) { return l->builtin; }

MOTAN_EXPORT int motan_loop_in_loop_thread(const motan_loop *l)
{
    if (!l->builtin)
        return 1; /* the caller promises to use its loop from the loop's thread */
    if (MOTAN_UNLIKELY(motan__forked_since(l->fork_mark)))
        return 1; /* a child process: its one thread stands in for the loop's (adopt) */
    return pthread_equal(pthread_self(), l->thread);
}

int motan__loop_post(motan_loop *l, motan__task *t)
{
    t->next = NULL;
    if (MOTAN_UNLIKELY(motan__forked_since(l->fork_mark)))
        return MOTAN_EFORKED; /* its eventfd is the parent's too: no wake-ups from here */
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        return MOTAN_ECLOSED;
    }
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    int wake = !l->wake_pending;
    l->wake_pending = 1;
    pthread_mutex_unlock(&l->mu);
    if (wake) {
        uint64_t one = 1;
        (void)!write(l->wake_fd, &one, sizeof(one));
    }
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_loop_run(motan_loop *l, void (*fn)(void *userdata), void *userdata)
{
    if (!l || !fn)
        return MOTAN_EINVAL;
    if (motan_loop_forked(l) && !adopt(l))
        return MOTAN_EFORKED;
    if (motan_loop_in_loop_thread(l)) {
        fn(userdata);
        return MOTAN_OK;
    }
    pthread_mutex_lock(&l->mu);
    motan__task *t = l->spare;
    if (t) {
        l->spare = t->next;
        l->nspare--;
    }
    pthread_mutex_unlock(&l->mu);
    if (!t && !(t = motan_malloc(sizeof(*t))))
        return MOTAN_ENOMEM;
    t->fn = fn;
    t->userdata = userdata;
    t->heap = 1;
    int rc = motan__loop_post(l, t);
    if (rc != MOTAN_OK)
        motan_free(t); /* not a spare: the loop may be going (it frees the spares) */
    return rc;
}

typedef struct run_wait {
    void (*fn)(void *);
    void *userdata;
    motan__waiter w;
} run_wait;

static void run_and_signal(void *arg)
{
    run_wait *r = arg;
    r->fn(r->userdata);
    motan__waiter_post(&r->w, NULL);
}

MOTAN_EXPORT int motan_loop_run_wait(motan_loop *l, void (*fn)(void *userdata), void *userdata)
{
    if (!l || !fn)
        return MOTAN_EINVAL;
    if (motan_loop_forked(l) && !adopt(l))
        return MOTAN_EFORKED;
    if (motan_loop_in_loop_thread(l)) {
        fn(userdata);
        return MOTAN_OK;
    }
    run_wait r = {.fn = fn, .userdata = userdata};
    motan__task t = {.fn = run_and_signal, .userdata = &r};
    motan__waiter_init(&r.w);
    int rc = motan__loop_post(l, &t);
    if (rc == MOTAN_OK)
        motan__waiter_wait(&r.w);
    motan__waiter_destroy(&r.w);
    return rc;
}
