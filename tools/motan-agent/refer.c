/*
 * The refer table: one libmotan client per motan-refer entry, all on the agent's event_base.
 * A reload keeps the clients of unchanged refers (same id, URL and timeout bounds: their
 * connections, fusing history and latency windows stay) and retires the others once their
 * calls are done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent.h"

/*
 * The one place a refer gets its client: on the agent's motan_loop, shared with the servers,
 * the export registries and every other refer (each refer still opens its own registry
 * session), feeding the agent's stats (/metrics).
 */
static int refer_client_new(agent *ag, const conf_refer *c, motan_client **out, char *err,
                            size_t errlen)
{
    motan_config *cfg = NULL;
    int rc = motan_config_new(c->url, &cfg, err, errlen);
    if (rc == MOTAN_OK)
        rc = motan_config_set_stats(cfg, ag->stats);
    if (rc == MOTAN_OK)
        rc = motan_client_new_config_on_loop(cfg, ag->loop, out, err, errlen);
    motan_config_free(cfg);
    return rc;
}

static int same(const conf_refer *a, const conf_refer *b)
{
    return !strcmp(a->id, b->id) && !strcmp(a->url, b->url) && a->min_tmo == b->min_tmo &&
           a->max_tmo == b->max_tmo && !strcmp(a->application, b->application);
}

static void refer_destroy(refer *rf)
{
    motan_client_free(rf->client);
    conf_refer_clear(&rf->c);
    free(rf);
}

/* Frees the retired refers without calls in flight (an event: never inside their callbacks). */
void refers_reap(evutil_socket_t fd, short what, void *arg)
{
    agent *ag = arg;
    (void)fd;
    (void)what;
    for (refer **pp = &ag->retired; *pp;) {
        refer *rf = *pp;
        if (rf->inflight) {
            pp = &rf->next;
            continue;
        }
        *pp = rf->next;
        agent_log(LOG_INFO, "refer %s: released", rf->c.id);
        refer_destroy(rf);
    }
    services_reap(ag);
}

static void retire(refer *rf)
{
    agent *ag = rf->ag;
    rf->retired = 1;
    rf->next = ag->retired;
    ag->retired = rf;
    if (rf->inflight == 0)
        event_active(ag->ev_reap, EV_TIMEOUT, 1);
}

int refers_apply(agent *ag, const agent_conf *c, char *err, size_t errlen)
{
    refer *fresh = NULL, **tail = &fresh;
    refer **kept = calloc(c->nrefers + 1, sizeof(*kept));
    if (!kept) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Every new client first: a failure leaves the running table untouched. */
    for (size_t i = 0; i < c->nrefers; i++) {
        const conf_refer *cr = &c->refers[i];
        for (refer *o = ag->refers; o && !kept[i]; o = o->next)
            if (same(&o->c, cr))
                kept[i] = o;
        if (kept[i])
            continue;
        refer *rf = calloc(1, sizeof(*rf));
        char e[512];
        if (!rf || conf_refer_copy(&rf->c, cr)) {
            free(rf);
            snprintf(err, errlen, "%s:%d: motan-refer.%s: out of memory", c->file, cr->line, cr->id);
            goto fail;
        }
        rf->ag = ag;
        if (refer_client_new(ag, &rf->c, &rf->client, e, sizeof(e)) != MOTAN_OK) {
            snprintf(err, errlen, "%s:%d: motan-refer.%s: %s", c->file, cr->line, cr->id, e);
            conf_refer_clear(&rf->c);
            free(rf);
            goto fail;
        }
        *tail = rf;
        tail = &rf->next;
        agent_log(LOG_INFO, "refer %s: %s", cr->id, cr->url);
    }
    /* Commit: the kept ones join the new ones in configuration order, the rest retire. */
    refer *table = NULL, **tt = &table;
    refer *n = fresh;
    for (size_t i = 0; i < c->nrefers; i++) {
        refer *rf = kept[i];
        if (!rf) {
            rf = n;
            n = n->next;
        } else {
            for (refer **pp = &ag->refers; *pp; pp = &(*pp)->next)
                if (*pp == rf) {
                    *pp = rf->next;
                    break;
                }
        }
        rf->next = NULL;
        *tt = rf;
        tt = &rf->next;
    }
    while (ag->refers) {
        refer *rf = ag->refers;
        ag->refers = rf->next;
        agent_log(LOG_INFO, "refer %s: removed (%lld calls in flight finish first)", rf->c.id,
                  (long long)rf->inflight);
        retire(rf);
    }
    ag->refers = table;
    free(kept);
    return 0;
fail:
    while (fresh) {
        refer *rf = fresh;
        fresh = rf->next;
        refer_destroy(rf);
    }
    free(kept);
    return -1;
}

void refer_hold(refer *rf) { rf->inflight++; }

void refer_release(refer *rf)
{
    if (--rf->inflight == 0 && rf->retired)
        event_active(rf->ag->ev_reap, EV_TIMEOUT, 1);
}

void refers_free_all(agent *ag)
{
    for (refer **list = &ag->refers;; list = &ag->retired) {
        while (*list) {
            refer *rf = *list;
            *list = rf->next;
            refer_destroy(rf);
        }
        if (list == &ag->retired)
            break;
    }
}

static int eq(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

refer *refer_find(agent *ag, const char *service, const char *group, const char *version,
                  char *msg, size_t msglen)
{
    refer *only = NULL;
    size_t n = 0;
    if (!service || !*service) {
        snprintf(msg, msglen, "empty service is not supported. service: ");
        return NULL;
    }
    for (refer *rf = ag->refers; rf; rf = rf->next)
        if (!strcmp(rf->c.path, service)) {
            only = rf;
            n++;
        }
    if (n == 1)
        return only;
    if (n == 0) {
        snprintf(msg, msglen, "cluster not found. service: %s", service);
        return NULL;
    }
    if (!group || !*group) {
        snprintf(msg, msglen,
                 "multiple clusters are matched with service: %s, but the group is empty", service);
        return NULL;
    }
    for (refer *rf = ag->refers; rf; rf = rf->next)
        if (!strcmp(rf->c.path, service) && !strcmp(rf->c.group, group) &&
            (!version || !*version || eq(rf->c.version, version)))
            return rf;
    snprintf(msg, msglen,
             "no cluster matches the request; info: {service: %s, group: %s, protocol: motan2, "
             "version: %s}",
             service, group, version ? version : "");
    return NULL;
}
