/*
 * The pending table: request id -> call, open addressing with linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short under churn). A new table
 * is one shared empty slot, allocated on the first put: an endpoint that is never called
 * (one of 100 000 nodes) costs no table.
 */
#include "transport/transport_int.h"

#define IDMAP_MIN 64

static atomic_uint_fast64_t g_next_id = 1;

uint64_t motan__next_request_id(void) { return atomic_fetch_add_explicit(&g_next_id, 1, memory_order_relaxed); }

static inline size_t slot_of(const motan__idmap *m, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & m->mask;
}

static int alloc_table(motan__idmap *m, size_t cap)
{
    m->keys = motan__calloc(cap, sizeof(uint64_t));
    m->vals = motan__calloc(cap, sizeof(void *));
    if (!m->keys || !m->vals) {
        motan_free(m->keys);
        motan_free(m->vals);
        m->keys = NULL;
        m->vals = NULL;
        return MOTAN_ENOMEM;
    }
    m->mask = cap - 1;
    m->count = 0;
    return MOTAN_OK;
}

/* Read only: inserts go to an allocated table. */
static uint64_t g_empty_keys[1];
static void *g_empty_vals[1];

int motan__idmap_init(motan__idmap *m)
{
    m->keys = g_empty_keys;
    m->vals = g_empty_vals;
    m->mask = 0;
    m->count = 0;
    return MOTAN_OK;
}

void motan__idmap_free(motan__idmap *m)
{
    if (m->keys != g_empty_keys) {
        motan_free(m->keys);
        motan_free(m->vals);
    }
    m->keys = NULL;
    m->vals = NULL;
    m->count = 0;
}

static void insert(motan__idmap *m, uint64_t id, void *val)
{
    size_t i = slot_of(m, id);
    while (m->keys[i] && m->keys[i] != id)
        i = (i + 1) & m->mask;
    if (!m->keys[i])
        m->count++;
    m->keys[i] = id;
    m->vals[i] = val;
}

static int resize(motan__idmap *m, size_t cap)
{
    motan__idmap old = *m;
    if (alloc_table(m, cap) != MOTAN_OK) {
        *m = old;
        return MOTAN_ENOMEM;
    }
    for (size_t i = 0; i <= old.mask; i++)
        if (old.keys[i])
            insert(m, old.keys[i], old.vals[i]);
    if (old.keys != g_empty_keys) {
        motan_free(old.keys);
        motan_free(old.vals);
    }
    return MOTAN_OK;
}

int motan__idmap_put(motan__idmap *m, uint64_t id, void *val)
{
    if (id == 0)
        return MOTAN_EINVAL;
    if (m->keys == g_empty_keys && resize(m, IDMAP_MIN) != MOTAN_OK)
        return MOTAN_ENOMEM;
    if ((m->count + 1) * 4 > (m->mask + 1) * 3 && resize(m, (m->mask + 1) * 2) != MOTAN_OK)
        return MOTAN_ENOMEM;
    insert(m, id, val);
    return MOTAN_OK;
}

void *motan__idmap_get(const motan__idmap *m, uint64_t id)
{
    if (id == 0)
        return NULL;
    size_t i = slot_of(m, id);
    while (m->keys[i]) {
        if (m->keys[i] == id)
            return m->vals[i];
        i = (i + 1) & m->mask;
    }
    return NULL;
}

void *motan__idmap_remove(motan__idmap *m, uint64_t id)
{
    if (id == 0)
        return NULL;
    size_t i = slot_of(m, id);
    while (m->keys[i] && m->keys[i] != id)
        i = (i + 1) & m->mask;
    if (!m->keys[i])
        return NULL;
    void *val = m->vals[i];
    /* Backward shift: move later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->keys[j]; j = (j + 1) & m->mask) {
        size_t home = slot_of(m, m->keys[j]);
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->keys[hole] = 0;
    m->vals[hole] = NULL;
    m->count--;
    return val;
}

uint64_t *motan__idmap_keys(const motan__idmap *m, size_t *n)
{
    uint64_t *ids = motan__calloc(m->count ? m->count : 1, sizeof(uint64_t));
    size_t k = 0;
    if (ids)
        for (size_t i = 0; i <= m->mask && k < m->count; i++)
            if (m->keys[i])
                ids[k++] = m->keys[i];
    *n = k;
    return ids;
}
