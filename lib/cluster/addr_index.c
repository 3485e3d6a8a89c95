/*
 * Node URLs by address (host and port, or Unix path, of the first address: the identity of
 * an endpoint), so that a list update matches old endpoints and new nodes in O(n) instead of
 * comparing every pair. Open addressing with linear probing, at most half full.
 */
#include "cluster/cluster_int.h"

static uint64_t addr_hash(const motan_url *u)
{
    /* FNV-1a over the host, the port or the kind mixed in, murmur3's finalizer on top (the
     * index uses the low bits). */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)motan_url_addr_host(u, 0); *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h ^= motan_url_addr_is_unix(u, 0) ? 0x9e3779b97f4a7c15ULL
                                      : (uint64_t)motan_url_addr_port(u, 0) << 1;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

int motan__addr_same(const motan_url *a, const motan_url *b)
{
    if (motan_url_addr_count(a) == 0 || motan_url_addr_count(b) == 0)
        return 0;
    int is_unix = motan_url_addr_is_unix(a, 0);
    return is_unix == motan_url_addr_is_unix(b, 0) &&
           (is_unix || motan_url_addr_port(a, 0) == motan_url_addr_port(b, 0)) &&
           !strcmp(motan_url_addr_host(a, 0), motan_url_addr_host(b, 0));
}

int motan__addr_index_init(motan__addr_index *ix, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    ix->slots = motan__calloc(cap, sizeof(*ix->slots));
    ix->mask = cap - 1;
    return ix->slots ? MOTAN_OK : MOTAN_ENOMEM;
}

void motan__addr_index_free(motan__addr_index *ix)
{
    motan_free(ix->slots);
    ix->slots = NULL;
}

motan__addr_slot *motan__addr_index_slot(motan__addr_index *ix, const motan_url *u)
{
    uint64_t h = addr_hash(u);
    size_t i = (size_t)h & ix->mask;
    while (ix->slots[i].url &&
           (ix->slots[i].hash != h || !motan__addr_same(ix->slots[i].url, u)))
        i = (i + 1) & ix->mask;
    ix->slots[i].hash = h;
    return &ix->slots[i];
}
