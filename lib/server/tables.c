/*
 * Name tables of the dispatch (services, and the methods of each): open addressing with
 * linear probing, so a lookup is one hash and, nearly always, one compare.
 */
#include "server/server_int.h"

uint32_t motan__stable_hash(const char *p, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)p[i];
        h *= 16777619u;
    }
    return h;
}

static motan__sentry *slot_for(const motan__stable *t, const char *name, size_t len, uint32_t h)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        motan__sentry *e = &t->slots[i];
        if (!e->name || (e->hash == h && e->len == len && !memcmp(e->name, name, len)))
            return e;
    }
}

void *motan__stable_get(const motan__stable *t, const char *name, size_t len)
{
    if (!t->count)
        return NULL;
    motan__sentry *e = slot_for(t, name, len, motan__stable_hash(name, len));
    return e->name ? e->val : NULL;
}

static int grow(motan__stable *t)
{
    size_t cap = t->slots ? (t->mask + 1) * 2 : 8;
    motan__sentry *slots = motan__calloc(cap, sizeof(*slots));
    if (!slots)
        return MOTAN_ENOMEM;
    motan__stable nt = {slots, cap - 1, t->count};
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        if (t->slots[i].name)
            *slot_for(&nt, t->slots[i].name, t->slots[i].len, t->slots[i].hash) = t->slots[i];
    motan_free(t->slots);
    *t = nt;
    return MOTAN_OK;
}

int motan__stable_put(motan__stable *t, const char *name, size_t len, void *val)
{
    /* At most half full: probes stay short. */
    if ((!t->slots || (t->count + 1) * 2 > t->mask + 1) && grow(t) != MOTAN_OK)
        return MOTAN_ENOMEM;
    uint32_t h = motan__stable_hash(name, len);
    motan__sentry *e = slot_for(t, name, len, h);
    if (!e->name) {
        if (!(e->name = motan__strndup(name, len)))
            return MOTAN_ENOMEM;
        e->len = len;
        e->hash = h;
        t->count++;
    }
    e->val = val;
    return MOTAN_OK;
}

void motan__stable_each(motan__stable *t, void (*fn)(void *val))
{
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        if (t->slots[i].name)
            fn(t->slots[i].val);
}

void motan__stable_free(motan__stable *t)
{
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        motan_free(t->slots[i].name);
    motan_free(t->slots);
    memset(t, 0, sizeof(*t));
}
