/*
 * backupRequest, as motan-go does it: when the first attempt has not answered after a delay
 * (backupRequestDelayTime ms, or when unset the backupRequestDelayRatio percentile (90) of
 * recent latencies), send one copy to another endpoint if the budget allows: at most
 * backupRequestMaxRetryRatio percent (15) of the requests of the last 10 seconds. The first
 * success wins; the other attempt is cancelled and its late answer dropped. A failure with
 * the other attempt still out waits for it; a failure with nothing else out sends the
 * backup at once when the budget allows.
 */
#include <stdlib.h>

#include "cluster/cluster_int.h"

#define WINDOW_S 10
#define LAT_RING 256
#define LAT_MIN_SAMPLES 16
#define LAT_RECOMPUTE 32

typedef struct backup_state {
    uint64_t bucket_sec[WINDOW_S];
    uint32_t requests[WINDOW_S];
    uint32_t backups[WINDOW_S];
    uint32_t lat_us[LAT_RING];
    size_t nlat, pos;
    unsigned since_recompute;
    int delay_us; /* the percentile, -1 while there are too few samples */
    int percentile;
    int ratio;
} backup_state;

typedef struct bk_scratch {
    int backup_sent;
    int backup_attempt;
} bk_scratch;

static void *bk_create(const motan_url *service)
{
    backup_state *s = motan__calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->delay_us = -1;
    int64_t p = motan_url_get_int(service, NULL, "backupRequestDelayRatio", 90);
    int64_t r = motan_url_get_int(service, NULL, "backupRequestMaxRetryRatio", 15);
    s->percentile = p < 1 ? 1 : p > 99 ? 99 : (int)p;
    s->ratio = r < 0 ? 0 : r > 100 ? 100 : (int)r;
    return s;
}

static void bk_destroy(void *state) { motan_free(state); }

static size_t bucket(backup_state *s, uint64_t sec)
{
    size_t i = sec % WINDOW_S;
    if (s->bucket_sec[i] != sec) {
        s->bucket_sec[i] = sec;
        s->requests[i] = 0;
        s->backups[i] = 0;
    }
    return i;
}

static int budget_allows(backup_state *s)
{
    uint64_t sec = motan__now_coarse_us() / 1000000u;
    uint64_t req = 0, bk = 0;
    for (size_t i = 0; i < WINDOW_S; i++) {
        if (s->bucket_sec[i] + WINDOW_S > sec) {
            req += s->requests[i];
            bk += s->backups[i];
        }
    }
    return (bk + 1) * 100 <= (uint64_t)s->ratio * req;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void record_latency(backup_state *s, uint64_t us)
{
    s->lat_us[s->pos] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    s->pos = (s->pos + 1) % LAT_RING;
    if (s->nlat < LAT_RING)
        s->nlat++;
    if (s->nlat < LAT_MIN_SAMPLES || ++s->since_recompute < LAT_RECOMPUTE)
        return;
    s->since_recompute = 0;
    uint32_t tmp[LAT_RING];
    memcpy(tmp, s->lat_us, s->nlat * sizeof(uint32_t));
    qsort(tmp, s->nlat, sizeof(uint32_t), cmp_u32);
    s->delay_us = (int)tmp[(s->nlat * (size_t)s->percentile) / 100];
}

static int send_backup(backup_state *s, motan_ha_call *call, bk_scratch *sc)
{
    if (sc->backup_sent || !budget_allows(s) || motan_ha_call_remaining_ms(call) <= 0)
        return 0;
    motan_endpoint *ep = motan_ha_call_pick(call);
    int attempt;
    if (!ep || motan_ha_call_send(call, ep, &attempt) != MOTAN_OK)
        return 0;
    sc->backup_sent = 1;
    sc->backup_attempt = attempt;
    s->backups[bucket(s, motan__now_coarse_us() / 1000000u)]++;
    motan_ha_call_count(call, "backups");
    return 1;
}

static void bk_start(void *state, motan_ha_call *call)
{
    backup_state *s = state;
    s->requests[bucket(s, motan__now_coarse_us() / 1000000u)]++;
    if (motan__ha_send_first(call) != MOTAN_OK)
        return;
    int64_t fixed = motan_ha_call_param_int(call, "backupRequestDelayTime", 0);
    int delay_ms = fixed > 0 ? (int)fixed : s->delay_us >= 0 ? (s->delay_us + 999) / 1000 : -1;
    if (delay_ms > 0 && delay_ms < motan_ha_call_remaining_ms(call))
        motan_ha_call_set_timer(call, delay_ms);
}

static void bk_on_timer(void *state, motan_ha_call *call)
{
    bk_scratch *sc = motan_ha_call_scratch(call);
    if (motan_ha_call_inflight(call) > 0)
        send_backup(state, call, sc);
}

static void bk_on_attempt(void *state, motan_ha_call *call, int attempt, motan_response *resp)
{
    backup_state *s = state;
    bk_scratch *sc = motan_ha_call_scratch(call);
    int code = resp ? motan_response_get_code(resp) : MOTAN_ENOMEM;
    int business = code == MOTAN_EREMOTE && motan_response_get_errtype(resp) == 2;
    if (code == MOTAN_OK || business) {
        if (code == MOTAN_OK)
            record_latency(s, motan_ha_call_attempt_elapsed_us(call, attempt));
        if (sc->backup_sent && attempt == sc->backup_attempt)
            motan_ha_call_count(call, "backups_won");
        motan_ha_call_complete(call, resp);
        return;
    }
    if (motan_ha_call_inflight(call) > 0) {
        motan_response_free(resp); /* the other attempt decides */
        return;
    }
    if (send_backup(s, call, sc)) {
        motan_response_free(resp);
        return;
    }
    motan_ha_call_complete(call, resp);
}

const motan_ha_ops motan__ha_backup = {
    .struct_size = sizeof(motan_ha_ops),
    .name = "backupRequest",
    .create = bk_create,
    .destroy = bk_destroy,
    .start = bk_start,
    .on_attempt = bk_on_attempt,
    .on_timer = bk_on_timer,
};
