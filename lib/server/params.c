/*
 * Server and service parameters: one table says which keys exist, where they apply and what
 * values they take; anything else is refused with MOTAN_EURL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "server/server_int.h"

enum { P_INT, P_BOOL, P_FILTER };
enum { AT_SERVER = 1, AT_SERVICE = 2 };

static const struct sparam {
    const char *key;
    int kind, where;
    long long lo, hi;
} params[] = {
    {"maxContentLength", P_INT, AT_SERVER, 21, 2147483647},
    {"maxConnections", P_INT, AT_SERVER, 0, 100000000},
    {"idleTimeout", P_INT, AT_SERVER, 0, 86400000},
    {"maxBufferedBytes", P_INT, AT_SERVER, 65536, 1LL << 40},
    {"requestTimeout", P_INT, AT_SERVER, 0, 86400000},
    {"clientDeadline", P_BOOL, AT_SERVER, 0, 1},
    {"maxDecodedSize", P_INT, AT_SERVER, 1, 1LL << 50},
    {"mingzSize", P_INT, AT_SERVER | AT_SERVICE, 0, 2147483647},
    {"filter", P_FILTER, AT_SERVER, 0, 0}, /* docs/observability.md */
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const struct sparam *find(const char *key)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcmp(params[i].key, key))
            return &params[i];
    return NULL;
}

/* unknown parameter "k" (did you mean "K"?) */
static int unknown(const char *key, char *errbuf, size_t errlen)
{
    const char *names[NPARAMS];
    for (size_t i = 0; i < NPARAMS; i++)
        names[i] = params[i].key;
    const char *near = motan__closest(key, names, NPARAMS);
    return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown server parameter \"%s\"%s%s%s", key,
                       near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
}

/* The value as a number in the parameter's range; MOTAN_EURL otherwise. */
static int parse(const struct sparam *p, const char *value, long long *out, char *errbuf,
                 size_t errlen)
{
    if (p->kind == P_BOOL) {
        if (!strcasecmp(value, "true") || !strcmp(value, "1"))
            *out = 1;
        else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
            *out = 0;
        else
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not true or false",
                               p->key, value);
        return MOTAN_OK;
    }
    char *end;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not an integer", p->key,
                           value);
    if (v < p->lo || v > p->hi)
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "parameter %s=%lld is out of range %lld..%lld", p->key, v, p->lo, p->hi);
    *out = v;
    return MOTAN_OK;
}

int motan__srv_param(motan_server *s, const char *service, const char *key, const char *value,
                     char *errbuf, size_t errlen)
{
    const struct sparam *p = find(key);
    if (!p)
        return unknown(key, errbuf, errlen);
    if (service && !(p->where & AT_SERVICE))
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "parameter %s applies to the whole server, not to a service", key);
    if (p->kind == P_FILTER)
        return motan__srv_set_filters(s, value, errbuf, errlen);
    long long v = 0;
    int rc = parse(p, value, &v, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    if (service) {
        motan__ssvc *svc = motan__srv_service(s, service, 1);
        if (!svc)
            return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
        svc->mingz = v;
    } else if (!strcmp(key, "maxContentLength")) {
        s->max_content = (size_t)v;
    } else if (!strcmp(key, "maxConnections")) {
        s->max_conns = (size_t)v;
    } else if (!strcmp(key, "idleTimeout")) {
        s->idle_ms = (int)v;
    } else if (!strcmp(key, "maxBufferedBytes")) {
        s->max_buffered = (size_t)v;
    } else if (!strcmp(key, "requestTimeout")) {
        s->request_timeout_ms = (int)v;
    } else if (!strcmp(key, "clientDeadline")) {
        s->client_deadline = (int)v;
    } else if (!strcmp(key, "maxDecodedSize")) {
        s->max_decoded = (size_t)v;
    } else {
        s->mingz = (size_t)v;
    }
    return MOTAN_OK;
}
