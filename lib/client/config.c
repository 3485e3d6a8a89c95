/*
 * Client configuration: the URL plus checked setters. One table says what each known
 * parameter accepts; the URL may carry other keys (registries, peers), a setter may not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "client/client_int.h"

enum { P_STR, P_INT, P_BOOL, P_SER, P_LB, P_HA };

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
    {"mingzSize", P_INT, 0, 2147483647},
    {"backupRequestDelayTime", P_INT, 0, 86400000},
    {"backupRequestDelayRatio", P_INT, 1, 99},
    {"backupRequestMaxRetryRatio", P_INT, 0, 100},
    {"emptyNodeProtection", P_BOOL, 0, 0},
    {"weight", P_INT, 1, 500},
    {"sessionTimeout", P_INT, 1, 86400000},
    {"wait", P_STR, 0, 0},
    {"interval", P_INT, 1, 86400000},
};

/* Validates one parameter (key without the "<method>." prefix). */
static int motan__config_check(const char *key, const char *value, int strict, char *errbuf,
                               size_t errlen)
{
    const struct param *p = NULL;
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]) && !p; i++)
        if (!strcmp(params[i].key, key))
            p = &params[i];
    if (!p)
        return strict ? motan__errf(errbuf, errlen, MOTAN_EURL, "unknown parameter \"%s\"", key)
                      : MOTAN_OK;
    if (!value)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s has no value", key);
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
    default:
        if (!*value && strcmp(key, "application") && strcmp(key, "module"))
            return motan__errf(errbuf, errlen, MOTAN_EURL, "parameter %s is empty", key);
    }
    return MOTAN_OK;
}

/* "<method>.<key>" -> key; NULL for plain keys. */
static const char *method_key(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot && dot != key ? dot + 1 : NULL;
}

/* Validates every parameter of a client URL (unknown keys are allowed there). */
static int motan__config_check_url(const motan_url *u, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < motan_url_param_count(u); i++) {
        const char *k = motan_url_param_key(u, i);
        const char *mk = method_key(k);
        int rc = motan__config_check(mk ? mk : k, motan_url_param_value(u, i), 0, errbuf, errlen);
        if (rc != MOTAN_OK)
            return rc;
    }
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_config_new(const char *url, motan_config **out, char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!url)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "no URL given");
    motan_config *cfg = motan__calloc(1, sizeof(*cfg));
    if (!cfg)
        return MOTAN_ENOMEM;
    int rc = motan_url_parse(url, strlen(url), &cfg->url, errbuf, errlen);
    if (rc == MOTAN_OK)
        rc = motan__config_check_url(cfg->url, errbuf, errlen);
    if (rc != MOTAN_OK) {
        motan_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_config_free(motan_config *cfg)
{
    if (!cfg)
        return;
    motan_url_free(cfg->url);
    motan_free(cfg);
}

MOTAN_EXPORT int motan_config_set(motan_config *cfg, const char *method, const char *key,
                                  const char *value, char *errbuf, size_t errlen)
{
    if (!cfg || !key)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no configuration or key");
    int rc = motan__config_check(key, value, 1, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    if (!method || !*method)
        return motan_url_set_param(cfg->url, key, value);
    size_t len = strlen(method) + strlen(key) + 2;
    char *full = motan_malloc(len);
    if (!full)
        return MOTAN_ENOMEM;
    snprintf(full, len, "%s.%s", method, key);
    rc = motan_url_set_param(cfg->url, full, value);
    motan_free(full);
    return rc;
}

static int set_str(motan_config *cfg, const char *key, const char *v)
{
    return motan_config_set(cfg, NULL, key, v, NULL, 0);
}

static int set_int(motan_config *cfg, const char *key, int v)
{
    char num[24];
    snprintf(num, sizeof(num), "%d", v);
    return motan_config_set(cfg, NULL, key, num, NULL, 0);
}

MOTAN_EXPORT int motan_config_set_group(motan_config *cfg, const char *v) { return set_str(cfg, "group", v); }
MOTAN_EXPORT int motan_config_set_version(motan_config *cfg, const char *v) { return set_str(cfg, "version", v); }
MOTAN_EXPORT int motan_config_set_application(motan_config *cfg, const char *v)
{
    return set_str(cfg, "application", v);
}
MOTAN_EXPORT int motan_config_set_serialization(motan_config *cfg, const char *v)
{
    return set_str(cfg, "serialization", v);
}
MOTAN_EXPORT int motan_config_set_loadbalance(motan_config *cfg, const char *v)
{
    return set_str(cfg, "loadbalance", v);
}
MOTAN_EXPORT int motan_config_set_ha_strategy(motan_config *cfg, const char *v)
{
    return set_str(cfg, "haStrategy", v);
}
MOTAN_EXPORT int motan_config_set_retries(motan_config *cfg, int v) { return set_int(cfg, "retries", v); }
MOTAN_EXPORT int motan_config_set_request_timeout(motan_config *cfg, int ms)
{
    return set_int(cfg, "requestTimeout", ms);
}
MOTAN_EXPORT int motan_config_set_connect_timeout(motan_config *cfg, int ms)
{
    return set_int(cfg, "connectTimeout", ms);
}
MOTAN_EXPORT int motan_config_set_connections(motan_config *cfg, int n)
{
    return set_int(cfg, "connections", n);
}

MOTAN_EXPORT char *motan_config_to_url(const motan_config *cfg)
{
    return cfg ? motan_url_format(cfg->url) : NULL;
}
