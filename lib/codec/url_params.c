/*
 * The parameter defaults libmotan uses (§8.2 "libmotan default", plus the transport and
 * cluster knobs). One table so the layers above agree on every default.
 */
#include "codec/codec_int.h"

static const struct {
    const char *key;
    const char *val;
} defaults[] = {
    {"group", "default_rpc"},
    {"version", "1.0"},
    {"serialization", "simple"},
    {"requestTimeout", "1000"},
    {"connectTimeout", "1000"},
    {"retries", "0"},
    {"haStrategy", "failover"},
    {"loadbalance", "random"},
    {"maxContentLength", "10485760"},
    {"mingzSize", "0"},
    {"errorCountThreshold", "10"},
    {"keepaliveInterval", "1000"},
    {"connections", "2"},
    {"maxPending", "10000"},
    {"backupRequestDelayRatio", "90"},
    {"backupRequestMaxRetryRatio", "15"},
    {"weight", "10"},
    {"emptyNodeProtection", "true"},
    /* tail latency (docs/cluster.md) */
    {"ewmaDecay", "10000"},
    {"retryBudgetRatio", "0.2"},
    {"retryBudgetMin", "10"},
    {"maxEjectionPercent", "10"},
    {"slowStartWindow", "0"},
    {"outlierInterval", "1000"},
    {"outlierMinRequests", "10"},
    {"outlierErrorPercent", "30"},
    {"outlierLatencyFactor", "5"},
    {"outlierLatencyMin", "10"},
    {"outlierEjectionTime", "30000"},
};

MOTAN_EXPORT const char *motan_url_param_default(const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (strcmp(defaults[i].key, key) == 0)
            return defaults[i].val;
    return NULL;
}
