/*
 * The client's URL parameters: what a client URL (or motan_config_set) may carry, and what
 * each accepts. Unknown keys are errors with a "did you mean" (a typo must not silently run
 * with the default). Registry parameters are not here: each registry lists its own
 * (motan_registry_ops.params) and a client URL passes exactly those to its registry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "client/client_int.h"

enum { P_STR, P_INT, P_NUM, P_BOOL, P_SER, P_LB, P_HA, P_FILTER };

/*
 * THE table of client parameters. Adding one is one line here (name, kind, range for P_INT
 * and P_NUM, a decimal number);
 * the layer that reads it takes it from the URL (cluster, endpoint: motan_url_get_*), and
 * "<method>.<name>" works for every entry. Keep README's parameter table in step.
 */
static const struct param {
    const char *key;
    int kind;
    long long lo, hi;
} params[] = {
    {"group", P_STR, 0, 0},
    {"version", P_STR, 0, 0},
    {"application", P_STR, 0, 0},
    {"module", P_STR, 0, 0},
    {"serialization", P_SER, 0, 0},
    {"loadbalance", P_LB, 0, 0},
    {"haStrategy", P_HA, 0, 0},
    {"retries", P_INT, 0, 15},
    {"requestTimeout", P_INT, 1, 86400000},
    {"connectTimeout", P_INT, 1, 86400000},
    {"connections", P_INT, 1, 64},
    {"connectionBudget", P_INT, 1, 10000000},
    {"maxPending", P_INT, 1, 100000000},
    {"errorCountThreshold", P_INT, -1000000, 1000000},
    {"keepaliveInterval", P_INT, 1, 86400000},
    {"maxContentLength", P_INT, 21, 2147483647},
    {"maxDecodedSize", P_INT, 1, 1125899906842624LL},
    {"mingzSize", P_INT, 0, 2147483647},
    {"backupRequestDelayTime", P_INT, 0, 86400000},
    {"backupRequestDelayRatio", P_INT, 1, 99},
    {"backupRequestMaxRetryRatio", P_INT, 0, 100},
    {"emptyNodeProtection", P_BOOL, 0, 0},
    /* tail latency, cluster-wide (docs/cluster.md) */
    {"ewmaDecay", P_INT, 1, 86400000},
    {"retryBudgetRatio", P_NUM, 0, 100},
    {"retryBudgetMin", P_NUM, 0, 1000000},
    {"maxEjectionPercent", P_INT, 0, 100},
    {"slowStartWindow", P_INT, 0, 86400000},
    {"outlierInterval", P_INT, 1, 86400000},
    {"outlierMinRequests", P_INT, 1, 1000000},
    {"outlierErrorPercent", P_INT, 1, 100},
    {"outlierLatencyFactor", P_NUM, 1, 1000000},
    {"outlierLatencyMin", P_INT, 0, 86400000},
    {"outlierEjectionTime", P_INT, 1, 86400000},
    /* observability (docs/observability.md), per client */
    {"filter", P_FILTER, 0, 0},
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const struct param *find(const char *key)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcmp(params[i].key, key))
            return &params[i];
    return NULL;
}

/* The registry parameters of a client URL's scheme (motan2:// is served by direct). */
static const char *const *registry_params(const char *scheme)
{
    if (!scheme || !strcasecmp(scheme, "motan2") || !strcasecmp(scheme, "motan"))
        scheme = "direct";
    const motan_registry_ops *ops = motan_registry_find_ops(scheme);
    return ops ? ops->params : NULL;
}

static int in_list(const char *const *list, const char *key)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(list[i], key))
            return 1;
    return 0;
}

int motan__param_is_registry(const char *scheme, const char *key)
{
    return !find(key) && in_list(registry_params(scheme), key);
}

/* "<method>.<key>" -> key; NULL for plain keys. */
static const char *method_key(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot && dot != key ? dot + 1 : NULL;
}

/* unknown parameter "key" (did you mean "..."?), over the client's and the registry's names. */
static int unknown(const char *scheme, const char *key, char *errbuf, size_t errlen)
{
    const char *mk = method_key(key);
    const char *names[NPARAMS + 32];
    size_t n = 0;
    for (size_t i = 0; i < NPARAMS; i++)
        names[n++] = params[i].key;
    const char *const *reg = mk ? NULL : registry_params(scheme); /* no per-method form */
    for (size_t i = 0; reg && reg[i] && n < sizeof(names) / sizeof(names[0]); i++)
        names[n++] = reg[i];
    const char *best = motan__closest(mk ? mk : key, names, n);
    if (!best)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown parameter \"%s\"", key);
    if (mk)
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "unknown parameter \"%s\" (did you mean \"%.*s%s\"?)", key,
                           (int)(mk - key), key, best);
    return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown parameter \"%s\" (did you mean \"%s\"?)",
                       key, best);
}

/* "trace, accessLog,metrics": every name registered (motan_filter_register), per client. */
static int check_filters(const char *key, const char *value, char *errbuf, size_t errlen)
{
    if (method_key(key))
        return motan__errf(errbuf, errlen, MOTAN_EURL,
                           "parameter %s: filters are set for the whole client, not per method", key);
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ","), n = len;
        while (n && p[n - 1] == ' ')
            n--;
        char name[128];
        if (n >= sizeof(name))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "filter name too long in \"%s\"", value);
        memcpy(name, p, n);
        name[n] = '\0';
        if (n && !motan_filter_exists(name))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown filter \"%s\"", name);
        p += len;
    }
    return MOTAN_OK;
}

static int check_value(const struct param *p, const char *key, const char *value, char *errbuf,
                       size_t errlen)
{
    switch (p->kind) {
    case P_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (end == value || *end)
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not an integer", key,
                               value);
        if (v < p->lo || v > p->hi || errno == ERANGE) /* as written: strtoll clamps */
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is out of range %lld..%lld",
                               key, value, p->lo, p->hi);
        break;
    }
    case P_NUM: {
        char *end;
        double v = strtod(value, &end);
        if (end == value || *end || v != v)
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not a number", key,
                               value);
        if (v < (double)p->lo || v > (double)p->hi)
            return motan__errf(errbuf, errlen, MOTAN_EURL,
                               "parameter %s=%s is out of range %lld..%lld", key, value, p->lo,
                               p->hi);
        break;
    }
    case P_BOOL:
        if (strcasecmp(value, "true") && strcasecmp(value, "false") && strcmp(value, "1") &&
            strcmp(value, "0"))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s=%s is not true or false", key,
                               value);
        break;
    case P_SER: {
        int id = motan_serialization_by_name(value);
        if (id < 0 || !motan_serialization_supported(id))
            return motan__errf(errbuf, errlen, MOTAN_EURL,
                               "serialization \"%s\" is not supported (simple, msgpack, json)", value);
        break;
    }
    case P_LB:
        if (!motan_lb_find(value))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown loadbalance \"%s\"", value);
        break;
    case P_HA:
        if (!motan_ha_find(value))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "unknown haStrategy \"%s\"", value);
        break;
    case P_FILTER:
        return check_filters(key, value, errbuf, errlen);
    default:
        if (!*value && strcmp(p->key, "application") && strcmp(p->key, "module"))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s is empty", key);
    }
    return MOTAN_OK;
}

int motan__param_check(const char *scheme, const char *key, const char *value, char *errbuf,
                       size_t errlen)
{
    const char *mk = method_key(key);
    const struct param *p = find(mk ? mk : key);
    if (!p && !mk && in_list(registry_params(scheme), key))
        return MOTAN_OK; /* the registry checks its own values when it is created */
    if (!p)
        return unknown(scheme, key, errbuf, errlen);
    if (!value)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s has no value", key);
    return check_value(p, key, value, errbuf, errlen);
}
