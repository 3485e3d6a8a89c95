/*
 * The server object: creation on a loop, the handler tables, parameters, statistics and
 * teardown. Every call is run on the loop thread (handed over and waited for from other
 * threads with a built-in loop), so the tables are only ever touched there.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "server/server_int.h"

#define DEFAULT_MAX_CONNS 10000
#define DEFAULT_MAX_BUFFERED ((size_t)8 * 1024 * 1024)

/* ---- running on the loop thread --------------------------------------------------------- */

/* Arguments and result of one API call run on the loop. */
typedef struct job {
    motan_server *s;
    const char *a, *b, *c;
    const void *p;
    void *ud;
    int raw;
    char *errbuf;
    size_t errlen;
    int rc;
} job;

static int on_loop(motan_server *s, void (*fn)(void *), job *j)
{
    int rc = motan_loop_run_wait(s->loop, fn, j);
    return rc == MOTAN_OK ? j->rc : rc;
}

void motan__srv_hold(motan_server *s) { s->busy++; }

static void free_now(motan_server *s);

void motan__srv_release(motan_server *s)
{
    if (--s->busy == 0 && s->free_pending)
        free_now(s);
}

/* ---- creation ----------------------------------------------------------------------------- */

static void new_on_loop(void *arg)
{
    job *j = arg;
    motan_server *s = j->s;
    j->rc = motan__srv_filters_init(s, j->errbuf, j->errlen);
    if (j->rc == MOTAN_OK)
        j->rc = motan__shub_new(s, j->errbuf, j->errlen);
    if (j->rc == MOTAN_OK)
        motan__srv_drain_init(s);
}

MOTAN_EXPORT int motan_server_new(motan_loop *loop, motan_server **out, char *errbuf,
                                  size_t errlen)
{
    if (!out)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no place for the server");
    *out = NULL;
    if (!loop)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no loop given");
    motan_server *s = motan__calloc(1, sizeof(*s));
    if (!s)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    s->loop = loop;
    s->base = motan_loop_get_base(loop);
    s->max_content = MOTAN_DEFAULT_MAX_CONTENT;
    s->max_conns = DEFAULT_MAX_CONNS;
    s->max_buffered = DEFAULT_MAX_BUFFERED;
    s->client_deadline = 1;
    job j = {.s = s, .errbuf = errbuf, .errlen = errlen};
    int rc = on_loop(s, new_on_loop, &j);
    if (rc != MOTAN_OK) {
        motan_filter_chain_free(s->chain);
        motan_free(s);
        return rc;
    }
    *out = s;
    return MOTAN_OK;
}

/* ---- services and handlers --------------------------------------------------------------- */

motan__ssvc *motan__srv_service(motan_server *s, const char *name, int create)
{
    size_t len = strlen(name);
    motan__ssvc *svc = motan__stable_get(&s->services, name, len);
    if (svc || !create)
        return svc;
    svc = motan__calloc(1, sizeof(*svc));
    if (!svc)
        return NULL;
    svc->mingz = -1;
    if (!(svc->name = motan__strndup(name, len)) ||
        motan__stable_put(&s->services, name, len, svc) != MOTAN_OK) {
        motan_free(svc->name);
        motan_free(svc);
        return NULL;
    }
    return svc;
}

static void handle_on_loop(void *arg)
{
    job *j = arg;
    motan_server *s = j->s;
    motan__shandler h = {(motan_server_handler)(uintptr_t)j->p, j->ud, j->raw};
    j->rc = MOTAN_OK;
    if (!j->a) {
        s->fallback = h;
        return;
    }
    motan__ssvc *svc = motan__srv_service(s, j->a, 1);
    if (!svc) {
        j->rc = MOTAN_ENOMEM;
        return;
    }
    if (!j->b) {
        svc->fallback = h;
        return;
    }
    size_t len = strlen(j->b);
    motan__shandler *mh = motan__stable_get(&svc->methods, j->b, len);
    if (mh) {
        *mh = h;
        return;
    }
    if (!(mh = motan_malloc(sizeof(*mh)))) {
        j->rc = MOTAN_ENOMEM;
        return;
    }
    *mh = h;
    if (motan__stable_put(&svc->methods, j->b, len, mh) != MOTAN_OK) {
        motan_free(mh);
        j->rc = MOTAN_ENOMEM;
    }
}

static int handle(motan_server *s, const char *service, const char *method,
                  motan_server_handler handler, void *userdata, int raw)
{
    if (!s || (!service && method) || (service && !*service) || (method && !*method))
        return MOTAN_EINVAL;
    job j = {.s = s, .a = service, .b = method, .p = (const void *)(uintptr_t)handler,
             .ud = userdata, .raw = raw};
    return on_loop(s, handle_on_loop, &j);
}

MOTAN_EXPORT int motan_server_handle(motan_server *s, const char *service, const char *method,
                                     motan_server_handler handler, void *userdata)
{
    return handle(s, service, method, handler, userdata, 0);
}

MOTAN_EXPORT int motan_server_handle_raw(motan_server *s, const char *service,
                                         const char *method, motan_server_handler handler,
                                         void *userdata)
{
    return handle(s, service, method, handler, userdata, 1);
}

static void heartbeat_on_loop(void *arg)
{
    job *j = arg;
    j->s->heartbeat.fn = (motan_server_handler)(uintptr_t)j->p;
    j->s->heartbeat.userdata = j->ud;
    j->rc = MOTAN_OK;
}

MOTAN_EXPORT int motan_server_handle_heartbeat(motan_server *s, motan_server_handler handler,
                                               void *userdata)
{
    if (!s)
        return MOTAN_EINVAL;
    job j = {.s = s, .p = (const void *)(uintptr_t)handler, .ud = userdata};
    return on_loop(s, heartbeat_on_loop, &j);
}

const motan__shandler *motan__srv_find(const motan_server *s, const char *service, size_t slen,
                                       const char *method, size_t mlen, const motan__ssvc **svcp)
{
    const motan__ssvc *svc = motan__stable_get(&s->services, service, slen);
    *svcp = svc;
    const motan__shandler *h = NULL;
    if (svc && mlen) {
        h = motan__stable_get(&svc->methods, method, mlen);
        /* Go servers capitalise the first letter: "echo" and "Echo" are one method. */
        char alt[256];
        if ((!h || !h->fn) && mlen <= sizeof(alt) && isalpha((unsigned char)method[0])) {
            memcpy(alt, method, mlen);
            alt[0] = (char)(islower((unsigned char)alt[0]) ? toupper((unsigned char)alt[0])
                                                           : tolower((unsigned char)alt[0]));
            h = motan__stable_get(&svc->methods, alt, mlen);
        }
    }
    if (h && h->fn)
        return h;
    if (svc && svc->fallback.fn)
        return &svc->fallback;
    return s->fallback.fn ? &s->fallback : NULL;
}

/* ---- parameters and listeners ------------------------------------------------------------ */

static void set_on_loop(void *arg)
{
    job *j = arg;
    j->rc = motan__srv_param(j->s, j->a, j->b, j->c, j->errbuf, j->errlen);
}

MOTAN_EXPORT int motan_server_set(motan_server *s, const char *service, const char *key,
                                  const char *value, char *errbuf, size_t errlen)
{
    if (!s || !key || !value)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "missing server, key or value");
    job j = {.s = s, .a = service, .b = key, .c = value, .errbuf = errbuf, .errlen = errlen};
    return on_loop(s, set_on_loop, &j);
}

static void listen_on_loop(void *arg)
{
    job *j = arg;
    motan__slistener *l = j->ud;
    if (j->s->draining || j->s->free_pending) {
        motan__srv_listener_discard(l);
        j->rc = motan__errf(j->errbuf, j->errlen, MOTAN_ECLOSED, "the server is shutting down");
        return;
    }
    j->rc = motan__srv_listener_attach(j->s, l, j->errbuf, j->errlen);
}

MOTAN_EXPORT int motan_server_listen(motan_server *s, const char *address, int *port,
                                     char *errbuf, size_t errlen)
{
    if (port)
        *port = 0;
    if (!s || !address)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "missing server or address");
    motan__slistener *l = NULL;
    int rc = motan__srv_listener_open(address, &l, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    int lport = l->port;
    job j = {.s = s, .ud = l, .errbuf = errbuf, .errlen = errlen};
    rc = motan_loop_run_wait(s->loop, listen_on_loop, &j);
    if (rc != MOTAN_OK) { /* the loop is stopping: listen_on_loop never ran */
        motan__srv_listener_discard(l);
        return motan__errf(errbuf, errlen, rc, "the server's loop is stopping");
    }
    if (j.rc == MOTAN_OK && port)
        *port = lport;
    return j.rc;
}

/* ---- statistics ------------------------------------------------------------------------------ */

MOTAN_EXPORT uint64_t motan_server_stat(const motan_server *s, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } stats[] = {
        {"requests", offsetof(motan_server, st_requests)},
        {"heartbeats", offsetof(motan_server, st_heartbeats)},
        {"errors", offsetof(motan_server, st_errors)},
        {"timeouts", offsetof(motan_server, st_timeouts)},
        {"accepted", offsetof(motan_server, st_accepted)},
        {"refused", offsetof(motan_server, st_refused)},
        {"idle_closed", offsetof(motan_server, st_idle_closed)},
        {"paused", offsetof(motan_server, st_paused)},
        {"protocol_errors", offsetof(motan_server, st_protocol_errors)},
        {"connections", offsetof(motan_server, st_connections)},
        {"open_replies", offsetof(motan_server, st_open_replies)},
    };
    if (!s || !name)
        return 0;
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
        if (!strcmp(stats[i].name, name))
            return atomic_load((const atomic_uint_fast64_t *)((const char *)s + stats[i].off));
    return 0;
}

/* ---- teardown ---------------------------------------------------------------------------- */

static void free_svc(void *val)
{
    motan__ssvc *svc = val;
    motan__stable_each(&svc->methods, motan_free);
    motan__stable_free(&svc->methods);
    motan_free(svc->name);
    motan_free(svc);
}

static void free_now(motan_server *s)
{
    s->free_pending = 0;
    motan__srv_drain_cancel(s);
    motan__srv_unexport_all(s);
    motan__srv_listeners_close(s);
    while (s->conns)
        motan__sconn_destroy(s->conns);
    motan__srv_filters_free(s); /* replies still open end for the filters first */
    /* Replies finished on other threads from now on only free themselves. */
    motan__shub_close(s);
    while (s->pool) {
        motan_reply *r = s->pool;
        s->pool = r->next;
        r->srv = NULL;
        motan__reply_recycle(r); /* without a server: freed */
    }
    motan__stable_each(&s->services, free_svc);
    motan__stable_free(&s->services);
    motan_free(s);
}

static void free_on_loop(void *arg)
{
    motan_server *s = arg;
    if (s->busy)
        s->free_pending = 1; /* inside one of its callbacks: finish when it returns */
    else
        free_now(s);
}

MOTAN_EXPORT void motan_server_free(motan_server *s)
{
    if (s)
        motan_loop_run_wait(s->loop, free_on_loop, s);
}
