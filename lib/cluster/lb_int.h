/*
 * Private to the load balancers (lib/cluster/lb*.c): the built-in ops, the per-state PRNG,
 * the "may this endpoint be picked" test and helpers shared by several LBs.
 * The LBs depend only on the public transport/codec API, never on the cluster core.
 */
#ifndef MOTAN_LB_INT_H
#define MOTAN_LB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <motan/cluster.h>

#include "core/core_int.h"

/* Built-ins, registered by lb.c on first use of the registry. */
extern const motan_lb_ops motan__lb_random;
extern const motan_lb_ops motan__lb_roundrobin;
extern const motan_lb_ops motan__lb_wrr;
extern const motan_lb_ops motan__lb_active;
extern const motan_lb_ops motan__lb_consistent;
extern const motan_lb_ops motan__lb_local;
extern const motan_lb_ops motan__lb_p2c;

/* ---- PRNG: xorshift64*, one per LB state (no locks, no rand()) ------------------------ */

/*
 * A non-zero seed from the clock, the pid, a per-process counter and `salt`; when the test
 * seam motan__lb_test_seed is non-zero, from it and the counter only (runs repeat exactly).
 */
uint64_t motan__lb_seed(const void *salt);
extern uint64_t motan__lb_test_seed;

/* ---- clock of time-based decisions (p2c decay, ejection, slow start, retry budget) ---- */

/* Test seam: when set, replaces the coarse monotonic clock (microseconds). */
extern uint64_t (*motan__cluster_clock)(void);

static inline uint64_t motan__cluster_now_us(void)
{
    return motan__cluster_clock ? motan__cluster_clock() : motan__now_coarse_us();
}

static inline uint64_t motan__lb_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/*
 * Uniform in [0, n) for n < 2^32 by multiply-shift of the top 32 bits (Lemire); the bias is
 * at most n / 2^32, far below anything a test can see.
 */
static inline size_t motan__lb_below(uint64_t *s, size_t n)
{
    return (size_t)(((motan__lb_rand(s) >> 32) * (uint64_t)n) >> 32);
}

/* ---- qualification ----------------------------------------------------------------------- */

/* Available and not excluded. exclude lists are a few attempts long: a scan is cheapest. */
static inline int motan__lb_ok(const motan_endpoint *e, motan_endpoint *const *exclude,
                               size_t nexclude)
{
    if (!motan_endpoint_is_available(e))
        return 0;
    for (size_t i = 0; i < nexclude; i++)
        if (exclude[i] == e)
            return 0;
    return 1;
}

/* ---- shared helpers ---------------------------------------------------------------------- */

/* Node weight for weighted LBs: "weight" (Go: "META_WEIGHT"), default 10, clamped 1..500. */
#define MOTAN__LB_WEIGHT_DEFAULT 10
#define MOTAN__LB_WEIGHT_MAX 500
int motan__lb_weight(const motan_endpoint *e);

/* activeWeight looks at no more than this many qualifying endpoints per pick (as Java). */
#define MOTAN__LB_ACTIVE_WINDOW 10

/*
 * activeWeight over eps[idx[0..nidx)] (or eps[0..nidx) when idx is NULL; indices must be
 * < the length of eps): from a random start, the least-loaded of up to
 * MOTAN__LB_ACTIVE_WINDOW qualifying endpoints, random among ties. NULL when none qualifies.
 */
motan_endpoint *motan__lb_least_active(uint64_t *rng, motan_endpoint *const *eps,
                                       const uint32_t *idx, size_t nidx,
                                       motan_endpoint *const *exclude, size_t nexclude);

/* ---- endpoint -> index map -------------------------------------------------------------- */

/* Open addressing over endpoint pointers, built once per list update; O(1) lookups. */
typedef struct motan__epmap {
    const motan_endpoint **keys; /* NULL = empty slot */
    uint32_t *vals;
    size_t mask; /* capacity - 1; 0 when empty */
} motan__epmap;

/* Maps eps[i] -> i (a duplicate keeps its first index). MOTAN_ENOMEM leaves m empty. */
int motan__epmap_build(motan__epmap *m, motan_endpoint *const *eps, size_t n);
/* The index of ep, or -1. */
long motan__epmap_get(const motan__epmap *m, const motan_endpoint *ep);
void motan__epmap_free(motan__epmap *m);
/*
 * Per-endpoint state kept beside a list across updates: *arr (elements of `size` bytes) and
 * m, built for the old list, become n elements and the map for eps; kept endpoints' elements
 * are copied over, new ones zeroed. Out of memory: both empty, MOTAN_ENOMEM.
 */
int motan__epmap_carry(motan__epmap *m, void **arr, size_t size, motan_endpoint *const *eps,
                       size_t n);

#endif
