/* Endpoint pointer -> list index, for per-endpoint state kept beside an LB's or guard's list. */
#include "cluster/lb_int.h"

static inline size_t slot_of(const motan_endpoint *ep, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)ep;
    return (size_t)(((x >> 4) * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

void motan__epmap_free(motan__epmap *m)
{
    motan_free(m->keys);
    motan_free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->mask = 0;
}

int motan__epmap_build(motan__epmap *m, motan_endpoint *const *eps, size_t n)
{
    motan__epmap_free(m);
    if (n == 0)
        return MOTAN_OK;
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    m->keys = motan__calloc(cap, sizeof(*m->keys));
    m->vals = motan_malloc(cap * sizeof(*m->vals));
    if (!m->keys || !m->vals) {
        motan__epmap_free(m);
        return MOTAN_ENOMEM;
    }
    m->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t s = slot_of(eps[i], m->mask);
        while (m->keys[s] && m->keys[s] != eps[i])
            s = (s + 1) & m->mask;
        if (!m->keys[s]) {
            m->keys[s] = eps[i];
            m->vals[s] = (uint32_t)i;
        }
    }
    return MOTAN_OK;
}

int motan__epmap_carry(motan__epmap *m, void **arr, size_t size, motan_endpoint *const *eps,
                       size_t n)
{
    char *next = n ? motan__calloc(n, size) : NULL;
    motan__epmap map = {0};
    int rc = (n && !next) ? MOTAN_ENOMEM : motan__epmap_build(&map, eps, n);
    for (size_t i = 0; rc == MOTAN_OK && i < n; i++) {
        long old = motan__epmap_get(m, eps[i]);
        if (old >= 0)
            memcpy(next + i * size, (char *)*arr + (size_t)old * size, size);
    }
    if (rc != MOTAN_OK) {
        motan_free(next);
        next = NULL;
    }
    motan__epmap_free(m);
    motan_free(*arr);
    *m = map;
    *arr = next;
    return rc;
}

long motan__epmap_get(const motan__epmap *m, const motan_endpoint *ep)
{
    if (!m->mask)
        return -1;
    for (size_t s = slot_of(ep, m->mask);; s = (s + 1) & m->mask) {
        if (m->keys[s] == ep)
            return (long)m->vals[s];
        if (!m->keys[s])
            return -1;
    }
}
