/*
 * Bump-pointer arena. Blocks form a list; the first block lives in the same allocation as
 * the arena so a small arena costs one malloc. A request bigger than a quarter of the next
 * block size gets a block of its own, so big values do not waste the current block.
 * An optional limit bounds the bytes handed out (the decoders' decoded-size budget).
 */
#include "core/core_int.h"

#define ARENA_FIRST 2048
#define ARENA_MAX_BLOCK (1u << 20)
#define ARENA_KEEP_MAX (256u * 1024)

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) uint8_t mem[];
} block;

struct motan_arena {
    block *head;      /* current block, newest first */
    size_t next_size; /* size of the next regular block */
    size_t used;      /* bytes handed out */
    size_t limit;     /* most bytes handed out at once; SIZE_MAX: no limit */
    int over;         /* an allocation was refused by the limit since the last reset */
    block *first;     /* lives in the same allocation, right after the arena */
};

MOTAN_EXPORT motan_arena *motan_arena_new(void)
{
    size_t hdr = (sizeof(motan_arena) + 15) & ~(size_t)15;
    motan_arena *a = motan_malloc(hdr + sizeof(block) + ARENA_FIRST);
    if (!a)
        return NULL;
    a->first = (block *)((uint8_t *)a + hdr);
    a->first->next = NULL;
    a->first->size = ARENA_FIRST;
    a->first->used = 0;
    a->head = a->first;
    a->next_size = ARENA_FIRST * 4;
    a->used = 0;
    a->limit = SIZE_MAX;
    a->over = 0;
    return a;
}

static void free_blocks(motan_arena *a)
{
    block *b = a->head;
    while (b) {
        block *n = b->next;
        if (b != a->first)
            motan_free(b);
        b = n;
    }
}

MOTAN_EXPORT void motan_arena_free(motan_arena *a)
{
    if (!a)
        return;
    free_blocks(a);
    motan_free(a);
}

/*
 * Releases everything but the first block and, so that a reused arena (a response, a
 * decode loop) does not malloc on every round, the largest block up to ARENA_KEEP_MAX.
 */
MOTAN_EXPORT void motan_arena_reset(motan_arena *a) { motan__arena_trim(a, ARENA_KEEP_MAX); }

void motan__arena_trim(motan_arena *a, size_t keep_max)
{
    if (a->head == a->first && !a->first->next) { /* the first block alone: nothing to free */
        a->first->used = 0;
        a->next_size = ARENA_FIRST * 4;
        a->used = 0;
        a->over = 0;
        return;
    }
    block *keep = NULL;
    for (block *b = a->head; b; b = b->next)
        if (b != a->first && b->size <= keep_max && (!keep || b->size > keep->size))
            keep = b;
    for (block *b = a->head; b;) {
        block *n = b->next;
        if (b != a->first && b != keep)
            motan_free(b);
        b = n;
    }
    a->first->used = 0;
    a->first->next = NULL;
    a->head = a->first;
    a->next_size = ARENA_FIRST * 4;
    if (keep) {
        keep->used = 0;
        keep->next = a->first;
        a->head = keep;
        a->next_size = keep->size * 2 < ARENA_MAX_BLOCK ? keep->size * 2 : ARENA_MAX_BLOCK;
    }
    a->used = 0;
    a->over = 0;
}

static void *alloc_slow(motan_arena *a, size_t n)
{
    size_t size = a->next_size;
    int own = n > size / 4;
    if (own)
        size = n;
    if (size > SIZE_MAX - sizeof(block))
        return NULL;
    block *b = motan_malloc(sizeof(block) + size);
    if (!b)
        return NULL;
    b->size = size;
    b->used = n;
    if (own && a->head) {
        /* Keep the current block as the one to bump from. */
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
        if (a->next_size < ARENA_MAX_BLOCK)
            a->next_size *= 2;
    }
    a->used += n;
    return b->mem;
}

MOTAN_EXPORT void *motan_arena_alloc(motan_arena *a, size_t n)
{
    if (MOTAN_UNLIKELY(n > SIZE_MAX - 7))
        return NULL; /* rounding up would wrap to a tiny size */
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    if (MOTAN_UNLIKELY(n > a->limit - a->used)) {
        a->over = 1;
        return NULL;
    }
    block *b = a->head;
    if (MOTAN_LIKELY(b->size - b->used >= n)) {
        void *p = b->mem + b->used;
        b->used += n;
        a->used += n;
        return p;
    }
    return alloc_slow(a, n);
}

MOTAN_EXPORT size_t motan_arena_used(const motan_arena *a) { return a->used; }

MOTAN_EXPORT void motan_arena_set_limit(motan_arena *a, size_t max_bytes)
{
    a->limit = max_bytes ? max_bytes : SIZE_MAX;
    if (a->limit < a->used)
        a->limit = a->used; /* nothing more fits, and limit - used stays >= 0 */
    a->over = 0;
}

MOTAN_EXPORT size_t motan_arena_get_limit(const motan_arena *a)
{
    return a->limit == SIZE_MAX ? 0 : a->limit;
}

MOTAN_EXPORT int motan_arena_over_limit(const motan_arena *a) { return a->over; }

char *motan__arena_strndup(motan_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = motan_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
