#include "tu_registry.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

void tu_rec_init(tu_rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    /* Monotonic, so tu_rec_wait_list's deadline does not move with the wall clock. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
}

void tu_rec_destroy(tu_rec *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

void tu_rec_cb(const motan_url *const *nodes, size_t n, void *userdata)
{
    tu_rec *r = userdata;
    pthread_mutex_lock(&r->mu);
    r->last.calls++;
    r->last.n = n;
    for (size_t i = 0; i < TU_REC_NODES; i++) {
        char *t = i < n ? motan_url_format(nodes[i]) : NULL;
        snprintf(r->last.nodes[i], TU_REC_LEN, "%s", i >= n ? "" : t ? t : "?");
        motan_free(t);
    }
    motan_registry *reg = r->unsub_reg;
    const motan_url *service = r->unsub_service;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    /* Outside the lock: the mutex is never held across a call into the library. */
    if (reg && motan_registry_unsubscribe(reg, service, tu_rec_cb, r) != MOTAN_OK) {
        fprintf(stderr, "tu_rec_cb: unsubscribing inside the listener failed\n");
        abort();
    }
}

void tu_rec_unsubscribe_inside(tu_rec *r, motan_registry *reg, const motan_url *service)
{
    pthread_mutex_lock(&r->mu);
    r->unsub_reg = reg;
    r->unsub_service = service;
    pthread_mutex_unlock(&r->mu);
}

int tu_rec_calls(tu_rec *r)
{
    pthread_mutex_lock(&r->mu);
    int c = r->last.calls;
    pthread_mutex_unlock(&r->mu);
    return c;
}

size_t tu_rec_n(tu_rec *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->last.n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void tu_rec_last(tu_rec *r, tu_list *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->last;
    pthread_mutex_unlock(&r->mu);
}

/* Callers hold r->mu. */
static int has_locked(const tu_rec *r, const char *needle)
{
    for (size_t i = 0; i < r->last.n && i < TU_REC_NODES; i++)
        if (strstr(r->last.nodes[i], needle))
            return 1;
    return 0;
}

/* Callers hold r->mu. */
static const char *list_locked(const tu_rec *r, char *out, size_t len)
{
    size_t off = 0;
    if (len)
        out[0] = '\0';
    for (size_t i = 0; i < r->last.n && i < TU_REC_NODES && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s\n", r->last.nodes[i]);
    return out;
}

int tu_rec_has(tu_rec *r, const char *needle)
{
    pthread_mutex_lock(&r->mu);
    int found = has_locked(r, needle);
    pthread_mutex_unlock(&r->mu);
    return found;
}

const char *tu_rec_list(tu_rec *r, char *out, size_t len)
{
    pthread_mutex_lock(&r->mu);
    list_locked(r, out, len);
    pthread_mutex_unlock(&r->mu);
    return out;
}

int tu_rec_wait(tu_env *e, tu_rec *r, int calls, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (tu_rec_calls(r) < calls && motan_now_us() < end)
        tu_run_once(e);
    return tu_rec_calls(r) >= calls;
}

/* Callers hold r->mu. */
static int matches_locked(const tu_rec *r, size_t n, const char *want)
{
    return r->last.calls > 0 && r->last.n == n && (!want || has_locked(r, want));
}

int tu_rec_wait_list(tu_rec *r, size_t n, const char *want, int timeout_ms)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    int ok;
    pthread_mutex_lock(&r->mu);
    while (!(ok = matches_locked(r, n, want)))
        if (pthread_cond_timedwait(&r->cv, &r->mu, &end) != 0) {
            ok = matches_locked(r, n, want);
            break;
        }
    if (!ok) {
        char list[TU_REC_NODES * (TU_REC_LEN + 1) + 1];
        fprintf(stderr, "tu_rec_wait_list: want %zu nodes%s%s, have %zu after %d calls:\n%s", n,
                want ? " with " : "", want ? want : "", r->last.n, r->last.calls,
                list_locked(r, list, sizeof(list)));
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

motan_registry *tu_registry(motan_loop *loop, const char *text)
{
    motan_url *u = tu_url(text);
    motan_registry *reg = NULL;
    char err[256];
    int rc = motan_registry_new(loop, u, &reg, err, sizeof(err));
    motan_url_free(u);
    if (rc != MOTAN_OK) {
        fprintf(stderr, "motan_registry_new %s: %s\n", text, err);
        abort();
    }
    return reg;
}

void tu_write_renamed(const char *path, const char *text)
{
    if (tu_write_file_renamed(path, text) != 0) {
        perror(path);
        abort();
    }
}

const char *tu_services_list(const char *path, const char *service, const char *group, char *out,
                             size_t len)
{
    json_error_t je;
    json_t *d = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *e;
    size_t i;
    snprintf(out, len, "%s", d ? "" : "-");
    json_t *groups = json_object_get(json_object_get(d, "services"), service);
    json_array_foreach (json_object_get(groups, group), i, e) {
        size_t k = strlen(out);
        snprintf(out + k, len - k, "%s%s", i ? "|" : "", json_string_value(e));
    }
    json_decref(d);
    return out;
}
