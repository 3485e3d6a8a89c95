/*
 * consistent: consistent hashing with CH_VNODES virtual nodes per endpoint.
 *
 * Virtual node k of an endpoint sits at hash64(address, seed k), so an endpoint's points
 * depend on its address only: adding or removing one endpoint moves only the keys between
 * its points and their predecessors, i.e. keys that belonged to it (or now do), and every
 * client with the same node list maps a key to the same address. A key is the request's
 * hash key (motan_request_set_hash_key); a request without one lands on a random point,
 * so key-less traffic spreads like the random LB instead of piling onto one node.
 *
 * Lookup is O(1): a bucket table indexed by the top bits of the hash narrows the ring to a
 * few points (about one per bucket), then a binary search finds the first point >= the key.
 * A point whose endpoint does not qualify passes the key clockwise to the next qualifying
 * endpoint; a bitmap of rejected endpoints stops the walk once all n were seen.
 */
#include <string.h>

#include "cluster/lb_int.h"

#define CH_VNODES 160
#define CH_MAX_BUCKET_BITS 24

typedef struct ch_state {
    uint64_t rng;
    size_t n;         /* endpoints the ring was built for */
    size_t len;       /* ring points, 0 when not built */
    uint64_t *points; /* [len] sorted; the low obits of a point are its endpoint's index */
    uint64_t omask;   /* (1 << obits) - 1 */
    uint32_t *bucket; /* [nbuckets + 1] first point of each bucket */
    unsigned bits;    /* nbuckets = 1 << bits */
    uint64_t *seen;   /* [(n + 63) / 64] scratch bitmap of rejected endpoints */
} ch_state;

/* ---- hash: murmur3-style 64-bit, byte order independent -------------------------------- */

#define C1 0x87c37b91114253d5ULL
#define C2 0x4cf5ad432745937fULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t load_le64(const uint8_t *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k |= (uint64_t)p[i] << (8 * i);
    return k;
}

static inline uint64_t mix_block(uint64_t k)
{
    k *= C1;
    k = rotl64(k, 31);
    return k * C2;
}

static uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * C2);
    size_t left = len;
    for (; left >= 8; p += 8, left -= 8) {
        h ^= mix_block(load_le64(p, 8));
        h = rotl64(h, 27) * 5 + 0x52dce729;
    }
    if (left)
        h ^= mix_block(load_le64(p, left));
    return fmix64(h ^ len);
}

/* ---- ring -------------------------------------------------------------------------------- */

static void ch_clear(ch_state *st)
{
    motan_free(st->points);
    motan_free(st->bucket);
    motan_free(st->seen);
    st->points = NULL;
    st->bucket = NULL;
    st->seen = NULL;
    st->n = st->len = 0;
}

/* LSD radix sort, 8 bits a pass: O(len) where qsort's comparisons dominated updates. */
static void radix_sort64(uint64_t *a, uint64_t *tmp, size_t len)
{
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < len; i++)
            count[((a[i] >> shift) & 0xff) + 1]++;
        if (count[((a[0] >> shift) & 0xff) + 1] == len)
            continue; /* every key has this digit */
        for (size_t d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < len; i++)
            tmp[count[(a[i] >> shift) & 0xff]++] = a[i];
        memcpy(a, tmp, len * sizeof(*a));
    }
}

static int ch_build(ch_state *st, motan_endpoint *const *eps, size_t n)
{
    size_t len = n * CH_VNODES;
    unsigned bits = 1, obits = 1;
    while (bits < CH_MAX_BUCKET_BITS && ((size_t)1 << bits) < len)
        bits++;
    while (((size_t)1 << obits) < n)
        obits++;
    size_t nb = (size_t)1 << bits;
    uint64_t *tmp = motan_malloc(len * sizeof(*tmp));
    st->points = motan_malloc(len * sizeof(*st->points));
    st->bucket = motan_malloc((nb + 1) * sizeof(*st->bucket));
    st->seen = motan__calloc((n + 63) / 64, sizeof(*st->seen));
    if (!tmp || !st->points || !st->bucket || !st->seen) {
        motan_free(tmp);
        return MOTAN_ENOMEM;
    }
    /* The index replaces the lowest bits of the hash: 39+ bits of position remain, and
     * equal positions (never seen in practice) order by index. */
    st->omask = ((uint64_t)1 << obits) - 1;
    for (size_t i = 0; i < n; i++) {
        const char *addr = motan_endpoint_get_address(eps[i]);
        size_t alen = addr ? strlen(addr) : 0;
        for (size_t k = 0; k < CH_VNODES; k++)
            st->points[i * CH_VNODES + k] =
                (hash64(addr ? addr : "", alen, k) & ~st->omask) | (uint64_t)i;
    }
    radix_sort64(st->points, tmp, len);
    motan_free(tmp);
    size_t b = 0;
    for (size_t j = 0; j < len; j++) {
        size_t top = (size_t)(st->points[j] >> (64 - bits));
        while (b <= top)
            st->bucket[b++] = (uint32_t)j;
    }
    while (b <= nb)
        st->bucket[b++] = (uint32_t)len;
    st->bits = bits;
    st->len = len;
    st->n = n;
    return MOTAN_OK;
}

/* Index of the first point >= h, wrapping to 0 past the last. */
static inline size_t ch_lookup(const ch_state *st, uint64_t h)
{
    size_t top = (size_t)(h >> (64 - st->bits));
    size_t lo = st->bucket[top], hi = st->bucket[top + 1];
    /* Points of later buckets are all > h, so hi is the answer when the bucket has none. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->points[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == st->len ? 0 : lo;
}

/* ---- ops --------------------------------------------------------------------------------- */

static void *ch_create(const motan_url *service)
{
    MOTAN_UNUSED(service);
    ch_state *st = motan__calloc(1, sizeof(*st));
    if (st)
        st->rng = motan__lb_seed(st);
    return st;
}

static void ch_destroy(void *state)
{
    ch_clear(state);
    motan_free(state);
}

static void ch_update(void *state, motan_endpoint *const *eps, size_t n)
{
    ch_state *st = state;
    ch_clear(st);
    if (n > 0 && n <= UINT32_MAX / CH_VNODES && ch_build(st, eps, n) != MOTAN_OK)
        ch_clear(st); /* picks probe the list from hash % n until the next update */
}

/* Without a ring: the first qualifying endpoint from h % n on (still stable per key). */
static motan_endpoint *ch_probe(uint64_t h, motan_endpoint *const *eps, size_t n,
                                motan_endpoint *const *exclude, size_t nexclude)
{
    size_t i = (size_t)(h % n);
    for (size_t k = 0; k < n; k++) {
        if (motan__lb_ok(eps[i], exclude, nexclude))
            return eps[i];
        if (++i == n)
            i = 0;
    }
    return NULL;
}

static motan_endpoint *ch_pick(void *state, const motan_request *req, motan_endpoint *const *eps,
                               size_t n, motan_endpoint *const *exclude, size_t nexclude)
{
    ch_state *st = state;
    if (n == 0)
        return NULL;
    size_t klen = 0;
    const char *key = req ? motan_request_get_hash_key(req, &klen) : NULL;
    uint64_t h = key && klen ? hash64(key, klen, 0) : motan__lb_rand(&st->rng);
    if (!st->len || st->n != n)
        return ch_probe(h, eps, n, exclude, nexclude);

    size_t pos = ch_lookup(st, h);
    size_t o = (size_t)(st->points[pos] & st->omask);
    if (motan__lb_ok(eps[o], exclude, nexclude))
        return eps[o];

    memset(st->seen, 0, ((n + 63) / 64) * sizeof(*st->seen));
    st->seen[o / 64] |= 1ULL << (o % 64);
    size_t rejected = 1;
    for (size_t k = 1; k < st->len && rejected < n; k++) {
        if (++pos == st->len)
            pos = 0;
        o = (size_t)(st->points[pos] & st->omask);
        if (st->seen[o / 64] & (1ULL << (o % 64)))
            continue;
        if (motan__lb_ok(eps[o], exclude, nexclude))
            return eps[o];
        st->seen[o / 64] |= 1ULL << (o % 64);
        rejected++;
    }
    return NULL;
}

const motan_lb_ops motan__lb_consistent = {
    .struct_size = sizeof(motan_lb_ops),
    .name = "consistent",
    .create = ch_create,
    .destroy = ch_destroy,
    .update = ch_update,
    .pick = ch_pick,
};
