/*
 * Client configuration: the URL plus checked setters. What each parameter accepts is in
 * params.c; the URL and the setters take client parameters and the registry's own, nothing
 * else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "client/client_int.h"

/* Validates every parameter of a client URL: client or registry keys only (params.c). */
static int check_url(const motan_url *u, char *errbuf, size_t errlen)
{
    const char *scheme = motan_url_get_protocol(u);
    for (size_t i = 0; i < motan_url_param_count(u); i++) {
        int rc = motan__param_check(scheme, motan_url_param_key(u, i), motan_url_param_value(u, i),
                                    errbuf, errlen);
        if (rc != MOTAN_OK)
            return rc;
    }
    return MOTAN_OK;
}

static int config_new_impl(const char *url, motan_config **out, char *errbuf, size_t errlen)
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
        rc = check_url(cfg->url, errbuf, errlen);
    if (rc != MOTAN_OK) {
        motan_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_config_new(const char *url, motan_config **out, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen, config_new_impl(url, out, errbuf, errlen));
}

MOTAN_EXPORT int motan_config_set_stats(motan_config *cfg, motan_stats *stats)
{
    if (!cfg)
        return MOTAN_EINVAL;
    cfg->stats = stats;
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_config_free(motan_config *cfg)
{
    if (!cfg)
        return;
    motan_url_free(cfg->url);
    motan_free(cfg);
}

static int config_set_impl(motan_config *cfg, const char *method, const char *key,
                           const char *value, char *errbuf, size_t errlen)
{
    if (!cfg || !key)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "no configuration or key");
    const char *scheme = motan_url_get_protocol(cfg->url);
    if (!method || !*method) {
        int rc = motan__param_check(scheme, key, value, errbuf, errlen);
        return rc == MOTAN_OK ? motan_url_set_param(cfg->url, key, value) : rc;
    }
    size_t len = strlen(method) + strlen(key) + 2;
    char *full = motan_malloc(len);
    if (!full)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    snprintf(full, len, "%s.%s", method, key);
    int rc = motan__param_check(scheme, full, value, errbuf, errlen);
    if (rc == MOTAN_OK)
        rc = motan_url_set_param(cfg->url, full, value);
    motan_free(full);
    return rc;
}

MOTAN_EXPORT int motan_config_set(motan_config *cfg, const char *method, const char *key,
                                  const char *value, char *errbuf, size_t errlen)
{
    motan__errbuf_clear(errbuf, errlen);
    return motan__errbuf_default(errbuf, errlen,
                                 config_set_impl(cfg, method, key, value, errbuf, errlen));
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
