/*
 * The value model: arena-allocated nodes, builders, accessors, deep equality and copy.
 * Maps keep insertion order in items[]; above MAP_LINEAR entries a hash index (open
 * addressing, in the arena, hidden before items[0]) makes put/get/dedup O(1) amortized.
 */
#include <math.h>

#include "codec/codec_int.h"

#define MAP_LINEAR 8 /* maps up to this many entries are searched linearly */

typedef struct slot {
    uint32_t pos1; /* entry index + 1; 0 = empty */
    uint32_t hash;
} slot;

typedef struct map_index {
    uint64_t seed;
    size_t mask; /* slots - 1 */
    size_t n;    /* entries indexed: 0..n */
    slot slots[];
} map_index;

/* ---- allocation ----------------------------------------------------------------------- */

motan_value **motan__items_alloc(motan_arena *a, size_t slots)
{
    if (slots == 0)
        return NULL;
    if (slots >= SIZE_MAX / sizeof(motan_value *) - 1)
        return NULL;
    motan_value **p = motan_arena_alloc(a, (slots + 1) * sizeof(motan_value *));
    if (!p)
        return NULL;
    p[0] = NULL;
    return p + 1;
}

static map_index **index_slot(const motan_value *m) { return (map_index **)(m->u.c.items - 1); }

static map_index *index_of(const motan_value *m)
{
    return m->u.c.cap ? *index_slot(m) : NULL;
}

motan_value *motan__value_alloc(motan_arena *a, motan_type t)
{
    motan_value *v = motan_arena_alloc(a, sizeof(motan_value));
    if (v)
        v->type = (uint8_t)t;
    return v;
}

motan_value *motan__value_data(motan_arena *a, motan_type t, const void *p, size_t len)
{
    if (len > SIZE_MAX - sizeof(motan_value) - 1 || (!p && len))
        return NULL;
    motan_value *v = motan_arena_alloc(a, sizeof(motan_value) + len + 1);
    if (!v)
        return NULL;
    char *d = (char *)(v + 1);
    if (len)
        memcpy(d, p, len);
    d[len] = '\0';
    v->type = (uint8_t)t;
    v->u.s.p = d;
    v->u.s.len = len;
    return v;
}

motan_value *motan__container_new(motan_arena *a, motan_type t, size_t n)
{
    if (!motan__is_container(t))
        return NULL;
    size_t slots = motan__is_map(t) ? 2 * n : n;
    if (motan__is_map(t) && n > SIZE_MAX / 2)
        return NULL;
    motan_value *v = motan__value_alloc(a, t);
    if (!v)
        return NULL;
    v->u.c.items = motan__items_alloc(a, slots);
    if (slots && !v->u.c.items)
        return NULL;
    v->u.c.count = 0;
    v->u.c.cap = slots;
    v->u.c.arena = a;
    return v;
}

/* ---- builders ------------------------------------------------------------------------- */

MOTAN_EXPORT motan_value *motan_value_new_null(motan_arena *a)
{
    return a ? motan__value_alloc(a, MOTAN_T_NULL) : NULL;
}

MOTAN_EXPORT motan_value *motan_value_new_bool(motan_arena *a, int v)
{
    motan_value *x = a ? motan__value_alloc(a, MOTAN_T_BOOL) : NULL;
    if (x)
        x->u.b = v != 0;
    return x;
}

MOTAN_EXPORT motan_value *motan_value_new_byte(motan_arena *a, uint8_t v)
{
    motan_value *x = a ? motan__value_alloc(a, MOTAN_T_BYTE) : NULL;
    if (x)
        x->u.byte = v;
    return x;
}

static motan_value *new_int(motan_arena *a, motan_type t, int64_t v)
{
    motan_value *x = a ? motan__value_alloc(a, t) : NULL;
    if (x)
        x->u.i = v;
    return x;
}

MOTAN_EXPORT motan_value *motan_value_new_int16(motan_arena *a, int16_t v)
{
    return new_int(a, MOTAN_T_INT16, v);
}

MOTAN_EXPORT motan_value *motan_value_new_int32(motan_arena *a, int32_t v)
{
    return new_int(a, MOTAN_T_INT32, v);
}

MOTAN_EXPORT motan_value *motan_value_new_int64(motan_arena *a, int64_t v)
{
    return new_int(a, MOTAN_T_INT64, v);
}

MOTAN_EXPORT motan_value *motan_value_new_float32(motan_arena *a, float v)
{
    motan_value *x = a ? motan__value_alloc(a, MOTAN_T_FLOAT32) : NULL;
    if (x)
        x->u.f32 = v;
    return x;
}

MOTAN_EXPORT motan_value *motan_value_new_float64(motan_arena *a, double v)
{
    motan_value *x = a ? motan__value_alloc(a, MOTAN_T_FLOAT64) : NULL;
    if (x)
        x->u.f64 = v;
    return x;
}

MOTAN_EXPORT motan_value *motan_value_new_string(motan_arena *a, const char *s, size_t len)
{
    return a ? motan__value_data(a, MOTAN_T_STRING, s, len) : NULL;
}

MOTAN_EXPORT motan_value *motan_value_new_bytes(motan_arena *a, const void *p, size_t len)
{
    return a ? motan__value_data(a, MOTAN_T_BYTES, p, len) : NULL;
}

MOTAN_EXPORT motan_value *motan_value_new_container(motan_arena *a, motan_type t)
{
    return a ? motan__container_new(a, t, 0) : NULL;
}

/* ---- hashing (consistent with motan_value_equal) -------------------------------------- */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    h = mix64(h ^ (n * 0x9e3779b97f4a7c15ULL));
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = mix64(h ^ w ^ ((uint64_t)n << 59));
    }
    return h;
}

static uint64_t hash_value(uint64_t seed, const motan_value *v, int depth)
{
    uint64_t h = seed ^ ((uint64_t)v->type << 56);
    switch (v->type) {
    case MOTAN_T_BOOL:
        return mix64(h ^ (uint64_t)v->u.b);
    case MOTAN_T_BYTE:
        return mix64(h ^ v->u.byte);
    case MOTAN_T_INT16:
    case MOTAN_T_INT32:
    case MOTAN_T_INT64:
        return mix64(h ^ (uint64_t)v->u.i);
    case MOTAN_T_FLOAT32: {
        uint32_t bits;
        memcpy(&bits, &v->u.f32, 4);
        return mix64(h ^ (isnan(v->u.f32) ? 0x7fc00000u : bits));
    }
    case MOTAN_T_FLOAT64: {
        uint64_t bits;
        memcpy(&bits, &v->u.f64, 8);
        return mix64(h ^ (isnan(v->u.f64) ? 0x7ff8000000000000ULL : bits));
    }
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES:
        return hash_bytes(h, (const uint8_t *)v->u.s.p, v->u.s.len);
    case MOTAN_T_ARRAY:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_STRING_MAP: {
        size_t slots = motan__is_map(v->type) ? 2 * v->u.c.count : v->u.c.count;
        h = mix64(h ^ slots);
        if (depth < MOTAN__TREE_DEPTH_LIMIT)
            for (size_t i = 0; i < slots; i++)
                h = mix64(h ^ hash_value(seed, v->u.c.items[i], depth + 1));
        return h;
    }
    default:
        return mix64(h);
    }
}

static uint64_t hash_string(uint64_t seed, const char *p, size_t n)
{
    return hash_bytes(seed ^ ((uint64_t)MOTAN_T_STRING << 56), (const uint8_t *)p, n);
}

/* ---- the map index -------------------------------------------------------------------- */

static void index_insert(map_index *ix, uint32_t hash, size_t pos)
{
    size_t i = hash & ix->mask;
    while (ix->slots[i].pos1)
        i = (i + 1) & ix->mask;
    ix->slots[i].pos1 = (uint32_t)(pos + 1);
    ix->slots[i].hash = hash;
}

/* A fresh index for at least `entries` entries (load factor <= 1/2), rehashing old's slots. */
static map_index *index_new(motan_arena *a, size_t entries, const map_index *old)
{
    if (entries >= UINT32_MAX / 2)
        return NULL;
    size_t n = 16;
    while (n < 2 * entries + 2)
        n *= 2;
    map_index *ix = motan_arena_alloc(a, sizeof(map_index) + n * sizeof(slot));
    if (!ix)
        return NULL;
    memset(ix->slots, 0, n * sizeof(slot));
    ix->mask = n - 1;
    ix->n = 0;
    if (old) {
        ix->seed = old->seed;
        for (size_t i = 0; i <= old->mask; i++)
            if (old->slots[i].pos1)
                index_insert(ix, old->slots[i].hash, old->slots[i].pos1 - 1);
        ix->n = old->n;
    } else {
        /* Per-map seed: hostile keys cannot be precomputed to collide. */
        ix->seed = mix64((uint64_t)(uintptr_t)ix ^ (motan_now_us() * 0x9e3779b97f4a7c15ULL)) | 1;
    }
    return ix;
}

/* Finds key (hash h) among the indexed entries; -1 when absent. */
static ptrdiff_t index_find(const map_index *ix, const motan_value *m, uint32_t h,
                            const motan_value *key)
{
    size_t i = h & ix->mask;
    while (ix->slots[i].pos1) {
        if (ix->slots[i].hash == h) {
            size_t pos = ix->slots[i].pos1 - 1;
            if (motan_value_equal(m->u.c.items[2 * pos], key))
                return (ptrdiff_t)pos;
        }
        i = (i + 1) & ix->mask;
    }
    return -1;
}

/* Makes room in the index for one more entry (grows at load 1/2). */
static map_index *index_reserve(motan_value *m, map_index *ix, size_t entries)
{
    if (2 * (entries + 1) <= ix->mask + 1)
        return ix;
    map_index *nx = index_new(m->u.c.arena, entries + 1, ix);
    if (nx)
        *index_slot(m) = nx;
    return nx;
}

/* The map's index covering all its entries, built or extended lazily. Keys are unique. */
static map_index *index_get(motan_value *m)
{
    map_index *ix = index_of(m);
    size_t n = m->u.c.count;
    if (!ix || ix->n > n) {
        ix = index_new(m->u.c.arena, n, NULL);
        if (!ix)
            return NULL;
        *index_slot(m) = ix;
    }
    while (ix->n < n) {
        ix = index_reserve(m, ix, ix->n);
        if (!ix)
            return NULL;
        const motan_value *k = m->u.c.items[2 * ix->n];
        index_insert(ix, (uint32_t)hash_value(ix->seed, k, 0), ix->n);
        ix->n++;
    }
    return ix;
}

int motan__map_dedup(motan_value *m)
{
    size_t n = m->u.c.count, out = 0;
    motan_value **it = m->u.c.items;
    if (n < 2)
        return MOTAN_OK;
    if (n <= MAP_LINEAR) {
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < out && !motan_value_equal(it[2 * j], it[2 * i]))
                j++;
            if (j < out) {
                it[2 * j + 1] = it[2 * i + 1];
            } else {
                it[2 * out] = it[2 * i];
                it[2 * out + 1] = it[2 * i + 1];
                out++;
            }
        }
        m->u.c.count = out;
        return MOTAN_OK;
    }
    map_index *ix = index_new(m->u.c.arena, n, NULL);
    if (!ix)
        return MOTAN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)hash_value(ix->seed, it[2 * i], 0);
        ptrdiff_t j = index_find(ix, m, h, it[2 * i]);
        if (j >= 0) {
            it[2 * j + 1] = it[2 * i + 1];
        } else {
            it[2 * out] = it[2 * i];
            it[2 * out + 1] = it[2 * i + 1];
            index_insert(ix, h, out);
            out++;
        }
    }
    ix->n = out;
    m->u.c.count = out;
    *index_slot(m) = ix;
    return MOTAN_OK;
}

/* ---- containers ----------------------------------------------------------------------- */

static int grow(motan_value *c, size_t need)
{
    if (need <= c->u.c.cap)
        return MOTAN_OK;
    size_t cap = c->u.c.cap ? c->u.c.cap : 4;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return MOTAN_ENOMEM;
        cap *= 2;
    }
    motan_value **items = motan__items_alloc(c->u.c.arena, cap);
    if (!items)
        return MOTAN_ENOMEM;
    if (c->u.c.cap) {
        memcpy(items, c->u.c.items, c->u.c.cap * sizeof(*items));
        items[-1] = c->u.c.items[-1]; /* the hidden index slot moves along */
    }
    c->u.c.items = items;
    c->u.c.cap = cap;
    return MOTAN_OK;
}

/* Rejects values a container must not hold: NULL, itself, containers of another arena. */
static int foreign(const motan_value *c, const motan_value *item)
{
    if (!item || item == c)
        return 1;
    return motan__is_container(item->type) && item->u.c.arena != c->u.c.arena;
}

MOTAN_EXPORT int motan_value_append(motan_value *container, motan_value *item)
{
    if (!container || foreign(container, item))
        return MOTAN_EINVAL;
    if (container->type == MOTAN_T_STRING_ARRAY) {
        if (item->type != MOTAN_T_STRING)
            return MOTAN_EINVAL;
    } else if (container->type != MOTAN_T_ARRAY) {
        return MOTAN_EINVAL;
    }
    size_t n = container->u.c.count;
    int rc = grow(container, n + 1);
    if (rc != MOTAN_OK)
        return rc;
    container->u.c.items[n] = item;
    container->u.c.count = n + 1;
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_value_map_put(motan_value *map, motan_value *key, motan_value *val)
{
    if (!map || !motan__is_map(map->type) || foreign(map, key) || foreign(map, val))
        return MOTAN_EINVAL;
    if (map->type == MOTAN_T_STRING_MAP &&
        (key->type != MOTAN_T_STRING || val->type != MOTAN_T_STRING))
        return MOTAN_EINVAL;
    size_t n = map->u.c.count;
    motan_value **it = map->u.c.items;
    if (n < MAP_LINEAR && !index_of(map)) {
        for (size_t j = 0; j < n; j++)
            if (motan_value_equal(it[2 * j], key)) {
                it[2 * j + 1] = val;
                return MOTAN_OK;
            }
        int rc = grow(map, 2 * n + 2);
        if (rc != MOTAN_OK)
            return rc;
    } else {
        map_index *ix = index_get(map);
        if (!ix)
            return MOTAN_ENOMEM;
        uint32_t h = (uint32_t)hash_value(ix->seed, key, 0);
        ptrdiff_t j = index_find(ix, map, h, key);
        if (j >= 0) {
            it[2 * j + 1] = val;
            return MOTAN_OK;
        }
        if (!index_reserve(map, ix, n) || grow(map, 2 * n + 2) != MOTAN_OK)
            return MOTAN_ENOMEM;
        ix = index_of(map);
        index_insert(ix, h, n);
        ix->n = n + 1;
    }
    map->u.c.items[2 * n] = key;
    map->u.c.items[2 * n + 1] = val;
    map->u.c.count = n + 1;
    return MOTAN_OK;
}

/* ---- accessors ------------------------------------------------------------------------ */

MOTAN_EXPORT motan_type motan_value_type(const motan_value *v)
{
    return v ? (motan_type)v->type : MOTAN_T_NULL;
}

MOTAN_EXPORT int motan_value_get_bool(const motan_value *v)
{
    return v && v->type == MOTAN_T_BOOL ? v->u.b : 0;
}

MOTAN_EXPORT int64_t motan_value_get_int(const motan_value *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case MOTAN_T_BYTE:
        return v->u.byte;
    case MOTAN_T_INT16:
    case MOTAN_T_INT32:
    case MOTAN_T_INT64:
        return v->u.i;
    default:
        return 0;
    }
}

MOTAN_EXPORT double motan_value_get_float(const motan_value *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case MOTAN_T_FLOAT32:
        return v->u.f32;
    case MOTAN_T_FLOAT64:
        return v->u.f64;
    default:
        return (double)motan_value_get_int(v);
    }
}

MOTAN_EXPORT const char *motan_value_get_data(const motan_value *v, size_t *len)
{
    if (!v || (v->type != MOTAN_T_STRING && v->type != MOTAN_T_BYTES)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->u.s.len;
    return v->u.s.p;
}

MOTAN_EXPORT size_t motan_value_count(const motan_value *v)
{
    return v && motan__is_container(v->type) ? v->u.c.count : 0;
}

MOTAN_EXPORT const motan_value *motan_value_at(const motan_value *v, size_t i)
{
    if (!v || (v->type != MOTAN_T_ARRAY && v->type != MOTAN_T_STRING_ARRAY) || i >= v->u.c.count)
        return NULL;
    return v->u.c.items[i];
}

MOTAN_EXPORT const motan_value *motan_value_key_at(const motan_value *v, size_t i)
{
    if (!v || !motan__is_map(v->type) || i >= v->u.c.count)
        return NULL;
    return v->u.c.items[2 * i];
}

MOTAN_EXPORT const motan_value *motan_value_value_at(const motan_value *v, size_t i)
{
    if (!v || !motan__is_map(v->type) || i >= v->u.c.count)
        return NULL;
    return v->u.c.items[2 * i + 1];
}

/*
 * Lookup by string key. Small maps are scanned; bigger ones use (and lazily build) the
 * index, which only caches data of the map, hence the cast: a map is single-threaded.
 */
MOTAN_EXPORT const motan_value *motan_value_map_get(const motan_value *map, const char *key,
                                                    size_t klen)
{
    if (!map || !motan__is_map(map->type) || (!key && klen))
        return NULL;
    size_t n = map->u.c.count;
    motan_value **it = map->u.c.items;
    if (n <= MAP_LINEAR) {
        for (size_t j = 0; j < n; j++) {
            const motan_value *k = it[2 * j];
            if (k->type == MOTAN_T_STRING && k->u.s.len == klen &&
                (klen == 0 || memcmp(k->u.s.p, key, klen) == 0))
                return it[2 * j + 1];
        }
        return NULL;
    }
    map_index *ix = index_get((motan_value *)map);
    if (!ix)
        return NULL;
    uint32_t h = (uint32_t)hash_string(ix->seed, key, klen);
    size_t i = h & ix->mask;
    while (ix->slots[i].pos1) {
        if (ix->slots[i].hash == h) {
            size_t pos = ix->slots[i].pos1 - 1;
            const motan_value *k = it[2 * pos];
            if (k->type == MOTAN_T_STRING && k->u.s.len == klen &&
                (klen == 0 || memcmp(k->u.s.p, key, klen) == 0))
                return it[2 * pos + 1];
        }
        i = (i + 1) & ix->mask;
    }
    return NULL;
}

/* ---- equality and copy ---------------------------------------------------------------- */

static int equal_at(const motan_value *a, const motan_value *b, int depth)
{
    if (a == b)
        return 1;
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case MOTAN_T_NULL:
        return 1;
    case MOTAN_T_BOOL:
        return a->u.b == b->u.b;
    case MOTAN_T_BYTE:
        return a->u.byte == b->u.byte;
    case MOTAN_T_INT16:
    case MOTAN_T_INT32:
    case MOTAN_T_INT64:
        return a->u.i == b->u.i;
    case MOTAN_T_FLOAT32:
        if (isnan(a->u.f32) || isnan(b->u.f32))
            return isnan(a->u.f32) && isnan(b->u.f32);
        return a->u.f32 == b->u.f32 && signbit(a->u.f32) == signbit(b->u.f32);
    case MOTAN_T_FLOAT64:
        if (isnan(a->u.f64) || isnan(b->u.f64))
            return isnan(a->u.f64) && isnan(b->u.f64);
        return a->u.f64 == b->u.f64 && signbit(a->u.f64) == signbit(b->u.f64);
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES:
        return a->u.s.len == b->u.s.len &&
               (a->u.s.len == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0);
    case MOTAN_T_ARRAY:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_STRING_MAP: {
        if (a->u.c.count != b->u.c.count || depth >= MOTAN__TREE_DEPTH_LIMIT)
            return a->u.c.count == b->u.c.count && a->u.c.count == 0;
        size_t slots = motan__is_map(a->type) ? 2 * a->u.c.count : a->u.c.count;
        for (size_t i = 0; i < slots; i++)
            if (!equal_at(a->u.c.items[i], b->u.c.items[i], depth + 1))
                return 0;
        return 1;
    }
    default:
        return 0;
    }
}

MOTAN_EXPORT int motan_value_equal(const motan_value *a, const motan_value *b)
{
    return equal_at(a, b, 0);
}

static motan_value *copy_at(motan_arena *a, const motan_value *v, int depth)
{
    switch (v->type) {
    case MOTAN_T_STRING:
    case MOTAN_T_BYTES:
        return motan__value_data(a, (motan_type)v->type, v->u.s.p, v->u.s.len);
    case MOTAN_T_ARRAY:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_STRING_MAP: {
        if (depth >= MOTAN__TREE_DEPTH_LIMIT)
            return NULL;
        motan_value *c = motan__container_new(a, (motan_type)v->type, v->u.c.count);
        if (!c)
            return NULL;
        size_t slots = motan__is_map(v->type) ? 2 * v->u.c.count : v->u.c.count;
        for (size_t i = 0; i < slots; i++) {
            c->u.c.items[i] = copy_at(a, v->u.c.items[i], depth + 1);
            if (!c->u.c.items[i])
                return NULL;
        }
        c->u.c.count = v->u.c.count;
        return c;
    }
    default: {
        motan_value *x = motan_arena_alloc(a, sizeof(motan_value));
        if (x)
            *x = *v;
        return x;
    }
    }
}

MOTAN_EXPORT motan_value *motan_value_copy(motan_arena *a, const motan_value *v)
{
    if (!a || !v)
        return NULL;
    return copy_at(a, v, 0);
}
