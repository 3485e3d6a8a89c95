/*
 * Retry budget: retries and backup requests together may add at most `ratio` of the calls
 * of the last MOTAN__BUDGET_WINDOW_S seconds, plus a reserve of min_per_s per second of the
 * window (so a client that has just started, or calls rarely, can still retry). One-second
 * buckets; a bucket older than the window no longer counts.
 */
#include "cluster/guard_int.h"

void motan__budget_init(motan__budget *b, double ratio, double min_per_s)
{
    memset(b, 0, sizeof(*b));
    b->ratio = ratio;
    b->min_per_s = min_per_s;
}

static size_t bucket(motan__budget *b, uint64_t sec)
{
    size_t i = (size_t)(sec % MOTAN__BUDGET_WINDOW_S);
    if (b->sec[i] != sec + 1) {
        b->sec[i] = sec + 1;
        b->calls[i] = 0;
        b->retries[i] = 0;
    }
    return i;
}

void motan__budget_deposit(motan__budget *b, uint64_t now_us)
{
    if (now_us >= b->cur_end_us || now_us + 1000000u < b->cur_end_us) {
        uint64_t sec = now_us / 1000000u;
        b->cur = bucket(b, sec);
        b->cur_end_us = (sec + 1) * 1000000u;
    }
    if (b->calls[b->cur] < UINT32_MAX)
        b->calls[b->cur]++;
}

int motan__budget_withdraw(motan__budget *b, uint64_t now_us)
{
    uint64_t sec = now_us / 1000000u;
    uint64_t calls = 0, retries = 0;
    for (size_t i = 0; i < MOTAN__BUDGET_WINDOW_S; i++) {
        if (b->sec[i] && b->sec[i] - 1 + MOTAN__BUDGET_WINDOW_S > sec) {
            calls += b->calls[i];
            retries += b->retries[i];
        }
    }
    double allowed = b->ratio * (double)calls + b->min_per_s * MOTAN__BUDGET_WINDOW_S;
    if ((double)(retries + 1) > allowed + 1e-9)
        return 0;
    size_t i = bucket(b, sec);
    if (b->retries[i] < UINT32_MAX)
        b->retries[i]++;
    return 1;
}
