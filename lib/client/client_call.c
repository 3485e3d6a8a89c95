/*
 * Client calls: blocking, async with a callback, and the pull queue (submit/poll) for FFI
 * users. Errors that mean "nowhere to send" get the registry's state appended, so a message
 * says why there is no endpoint.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

#define FORKED_MSG                                                                               \
    "the client was created before fork(): in this child process it can only be freed "     \
    "(make a new client in the child)"

/* ENOENDPOINT: say what the registry knows. Loop thread (registry status runs there). */
static void explain(motan_client *c, motan_response *resp)
{
    if (!resp || motan_response_get_code(resp) != MOTAN_ENOENDPOINT)
        return;
    char status[256];
    motan_registry_errmsg(c->registry, status, sizeof(status));
    if (!status[0])
        return;
    char msg[900];
    snprintf(msg, sizeof(msg), "%s; registry: %s", motan_response_get_errmsg(resp), status);
    motan_response_set_error(resp, MOTAN_ENOENDPOINT, msg);
}

typedef motan__acall async_call;

MOTAN__DLIST(acall_list, async_call)

motan__acall *motan__acall_get(motan_client *c)
{
    async_call *a = motan__freelist_get(&c->spare);
    if (!a && !(a = motan_malloc(sizeof(*a))))
        return NULL;
    memset(a, 0, sizeof(*a));
    return a;
}

void motan__acall_put(motan_client *c, motan__acall *a) { motan_free(motan__freelist_put(&c->spare, a)); }

static void async_cb(motan_response *resp, void *userdata)
{
    async_call *a = userdata;
    motan_client *c = a->c;
    explain(c, resp);
    motan_response_cb cb = a->cb;
    void *ud = a->userdata;
    motan__acall_put(c, a);
    cb(resp, ud);
}

static void queue_cb(motan_response *resp, void *userdata);

/* Starts a cluster call whose completion goes through `through` with its async_call. */
static int start_call(motan_client *c, motan_request *req, motan_response_cb through,
                      motan_response_cb cb, void *userdata, uint64_t tag)
{
    if (!c || !req)
        return MOTAN_EINVAL;
    if (c->closing)
        return MOTAN_ECLOSED;
    if (MOTAN_UNLIKELY(motan_loop_forked(c->loop)))
        return MOTAN_EFORKED;
    async_call *a = motan__acall_get(c);
    if (!a)
        return MOTAN_ENOMEM;
    a->c = c;
    a->cb = cb;
    a->userdata = userdata;
    a->tag = tag;
    a->queued = through == queue_cb;
    if (a->queued) { /* findable by motan_client_cancel until it completes */
        pthread_mutex_lock(&c->qmu);
        acall_list_push(&c->sub_head, &c->sub_tail, a);
        pthread_mutex_unlock(&c->qmu);
    }
    int rc = motan_cluster_call(c->cluster, req, through, a);
    if (rc != MOTAN_OK) {
        if (a->queued) {
            pthread_mutex_lock(&c->qmu);
            acall_list_remove(&c->sub_head, &c->sub_tail, a);
            pthread_mutex_unlock(&c->qmu);
        }
        motan__acall_put(c, a);
    }
    return rc;
}

MOTAN_EXPORT int motan_client_call_async(motan_client *c, motan_request *req, motan_response_cb cb,
                                         void *userdata)
{
    if (!cb)
        return MOTAN_EINVAL;
    return start_call(c, req, async_cb, cb, userdata, 0);
}

static void sync_cb(motan_response *resp, void *userdata) { motan__waiter_post(userdata, resp); }

static int error_response(motan_response **out, int code, const char *msg)
{
    *out = motan_response_new_or_oom();
    motan_response_set_error(*out, code, msg);
    return code;
}

MOTAN_EXPORT int motan_client_call(motan_client *c, motan_request *req, motan_response **out)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!c || !req)
        return error_response(out, MOTAN_EINVAL, "no client or request");
    if (motan_loop_forked(c->loop))
        return error_response(out, MOTAN_EFORKED, FORKED_MSG);
    if (!motan_loop_is_builtin(c->loop))
        return error_response(out, MOTAN_EDEADLOCK,
                              "blocking calls need a client with the built-in loop "
                              "(this one runs on the caller's event_base: use motan_client_call_async)");
    if (motan_loop_in_loop_thread(c->loop))
        return error_response(out, MOTAN_EDEADLOCK,
                              "blocking call from a callback of the same client (the loop thread)");
    motan__waiter w;
    motan__waiter_init(&w);
    int rc = motan_client_call_async(c, req, sync_cb, &w);
    if (rc == MOTAN_OK) {
        *out = motan__waiter_wait(&w);
        rc = motan_response_get_code(*out);
    } else {
        error_response(out, rc, rc == MOTAN_ECLOSED ? "the client is closing" : motan_strerror(rc));
    }
    motan__waiter_destroy(&w);
    return rc;
}

/* ---- pull queue ----------------------------------------------------------------------- */

static void queue_cb(motan_response *resp, void *userdata)
{
    async_call *a = userdata;
    motan_client *c = a->c;
    explain(c, resp);
    motan__done *d = &a->done;
    pthread_mutex_lock(&c->qmu);
    acall_list_remove(&c->sub_head, &c->sub_tail, a);
    d->resp = resp;
    d->tag = a->tag;
    d->next = NULL;
    int was_empty = c->qhead == NULL;
    if (c->qtail)
        c->qtail->next = d;
    else
        c->qhead = d;
    c->qtail = d;
    /* Under the lock: poll resets the fd when it takes the last entry, and a write after
     * the unlock could land after that reset, leaving the fd readable on an empty queue. */
    if (was_empty && c->qfd >= 0) { /* -1 in a forked child: the eventfd is the parent's too */
        uint64_t one = 1;
        (void)!write(c->qfd, &one, sizeof(one));
    }
    pthread_cond_signal(&c->qcv);
    pthread_mutex_unlock(&c->qmu);
}

MOTAN_EXPORT int motan_client_submit(motan_client *c, motan_request *req, uint64_t tag)
{
    return start_call(c, req, queue_cb, NULL, NULL, tag);
}

MOTAN_EXPORT int motan_client_poll(motan_client *c, int timeout_ms, motan_response **resp,
                                   uint64_t *tag)
{
    if (!c || !resp)
        return MOTAN_EINVAL;
    *resp = NULL;
    if (motan_loop_forked(c->loop))
        return MOTAN_EFORKED; /* nothing will ever be queued in this process */
    if (timeout_ms != 0 && motan_loop_in_loop_thread(c->loop))
        return MOTAN_EDEADLOCK;
    struct timespec deadline;
    if (timeout_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline); /* the clock of qcv (client.c) */
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&c->qmu);
    while (!c->qhead && timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&c->qcv, &c->qmu);
        else if (pthread_cond_timedwait(&c->qcv, &c->qmu, &deadline) != 0)
            break;
    }
    motan__done *d = c->qhead;
    if (d) {
        c->qhead = d->next;
        if (!c->qhead) {
            c->qtail = NULL;
            uint64_t v;
            (void)!read(c->qfd, &v, sizeof(v)); /* not readable while the queue is empty */
        }
    }
    pthread_mutex_unlock(&c->qmu);
    if (!d)
        return 0;
    *resp = d->resp;
    if (tag)
        *tag = d->tag;
    motan__acall_put(c, (async_call *)d); /* the record is the call's (done comes first) */
    return 1;
}

MOTAN_EXPORT int motan_client_completion_fd(motan_client *c) { return c ? c->qfd : -1; }

typedef struct cancel_args {
    motan_client *c;
    uint64_t tag;
    int found;
} cancel_args;

/* Loop thread. The completions are deferred, so queue_cb (which takes qmu) runs later. */
static void cancel_in_loop(void *arg)
{
    cancel_args *a = arg;
    motan_client *c = a->c;
    pthread_mutex_lock(&c->qmu);
    for (async_call *s = c->sub_head; s; s = s->next)
        if (s->tag == a->tag && motan_cluster_cancel(c->cluster, queue_cb, s) == MOTAN_OK)
            a->found++;
    pthread_mutex_unlock(&c->qmu);
}

MOTAN_EXPORT int motan_client_cancel(motan_client *c, uint64_t tag)
{
    if (!c)
        return MOTAN_EINVAL;
    if (motan_loop_forked(c->loop))
        return MOTAN_EFORKED;
    cancel_args a = {.c = c, .tag = tag};
    int rc = motan_loop_run_wait(c->loop, cancel_in_loop, &a);
    if (rc != MOTAN_OK)
        return rc;
    return a.found ? MOTAN_OK : MOTAN_ENOTFOUND;
}

MOTAN_EXPORT motan_request *motan_client_request(motan_client *c, const char *method)
{
    if (!c)
        return NULL;
    motan_request *r = motan_request_new(method);
    if (!r)
        return NULL;
    motan_request_set_service(r, c->service);
    motan_request_set_group(r, motan_url_get_str(c->url, NULL, "group", "default_rpc"));
    const char *v = motan_url_get_param(c->url, "version");
    if (v)
        motan_request_set_version(r, v);
    const char *app = motan_url_get_param(c->url, "application");
    if (app)
        motan_request_set_application(r, app);
    return r;
}
