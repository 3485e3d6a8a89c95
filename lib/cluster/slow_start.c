/*
 * Slow start: an endpoint that joins a group (after its first list) or comes back (a fused
 * endpoint answering heartbeats again, an ejection ending) gets a share of its full traffic
 * that grows linearly from SLOW_START_FLOOR to 1 over slowStartWindow. The guard applies it
 * to any LB by thinning: a pick of a ramping endpoint stands with that probability, else the
 * LB picks again without it (Envoy scales LB weights the same way).
 */
#include "cluster/guard_int.h"

#define SLOW_START_FLOOR 0.1

double motan__slow_start_factor(uint64_t since_us, uint64_t now_us, uint64_t window_us)
{
    if (!since_us || !window_us || now_us >= since_us + window_us)
        return 1.0;
    double f = now_us > since_us ? (double)(now_us - since_us) / (double)window_us : 0.0;
    return f < SLOW_START_FLOOR ? SLOW_START_FLOOR : f;
}
