/*
 * Private helpers of the core layer, shared by every layer above it: the export macro,
 * the buffer's layout for inline appends on hot paths, allocation and error-text helpers.
 * Not installed.
 */
#ifndef MOTAN_CORE_INT_H
#define MOTAN_CORE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include <motan/core.h>

/* Public definitions carry this; everything else stays hidden in the shared library. */
#define MOTAN_EXPORT __attribute__((visibility("default")))

#define MOTAN_UNUSED(x) ((void)(x))
#define MOTAN_LIKELY(x) __builtin_expect(!!(x), 1)
#define MOTAN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* 1 under AddressSanitizer: process-wide pools of freed objects are off, so that it still
 * sees an object used after its free. */
#if defined(__SANITIZE_ADDRESS__)
#define MOTAN__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOTAN__ASAN 1
#endif
#endif
#ifndef MOTAN__ASAN
#define MOTAN__ASAN 0
#endif

/*
 * freelist.c: records kept for reuse, got and put from any thread. The last one put sits in
 * a hot slot, taken and given with one atomic exchange (no lock) when gets and puts
 * alternate, as they do call after call; a locked list of at most max keeps the rest,
 * linked through the pointer at offset link in each record.
 */
typedef struct motan__freelist {
    _Atomic(void *) hot;
    pthread_mutex_t mu;
    void *head; /* mu */
    int n;      /* mu */
    int max;
    size_t link;
} motan__freelist;
#define MOTAN__FREELIST_INIT(max_, link_)                                                       \
    { .mu = PTHREAD_MUTEX_INITIALIZER, .max = (max_), .link = (link_) }

void motan__freelist_init(motan__freelist *fl, int max, size_t link);
void *motan__freelist_get_locked(motan__freelist *fl);
void *motan__freelist_put_locked(motan__freelist *fl, void *p);

/* A kept record, or NULL. */
static inline void *motan__freelist_get(motan__freelist *fl)
{
    void *p = atomic_exchange_explicit(&fl->hot, NULL, memory_order_acquire);
    return p ? p : motan__freelist_get_locked(fl);
}

/* Keeps p; returns NULL, or a record no longer kept (p or one it displaced) to be freed. */
static inline void *motan__freelist_put(motan__freelist *fl, void *p)
{
    p = atomic_exchange_explicit(&fl->hot, p, memory_order_acq_rel);
    return p ? motan__freelist_put_locked(fl, p) : NULL;
}
/* Frees every kept record through destroy; fl stays usable. */
void motan__freelist_drain(motan__freelist *fl, void (*destroy)(void *));

struct motan_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* Grows b so that extra more bytes fit; slow path of motan__buf_ensure. */
int motan__buf_grow(motan_buf *b, size_t extra);

static inline int motan__buf_ensure(motan_buf *b, size_t extra)
{
    if (MOTAN_LIKELY(b->cap - b->len >= extra))
        return MOTAN_OK;
    return motan__buf_grow(b, extra);
}

/* Unchecked appends: call motan__buf_ensure first. */
static inline void motan__buf_put_u8(motan_buf *b, uint8_t v) { b->data[b->len++] = v; }

static inline void motan__buf_put_u32be(motan_buf *b, uint32_t v)
{
    uint8_t *p = b->data + b->len;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    b->len += 4;
}

static inline void motan__buf_put(motan_buf *b, const void *p, size_t n)
{
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void motan__put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void motan__put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint32_t motan__get_u32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t motan__get_u64be(const uint8_t *p)
{
    return ((uint64_t)motan__get_u32be(p) << 32) | motan__get_u32be(p + 4);
}

/*
 * Monotonic time at the kernel tick's resolution (1-4 ms) for a fraction of the cost of
 * motan_now_us (about 4 ns against 28 ns in a VM): call deadlines, budget windows.
 */
uint64_t motan__now_coarse_us(void);

/* Decimal text of v at out (at most 20 bytes, no NUL); its length. */
static inline size_t motan__put_dec(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Value of a hex digit, -1 for anything else. */
static inline int motan__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * epoch.c: bumped whenever an endpoint (and its address string) is freed, so layers above
 * may cache by the address of an endpoint's strings and notice when one could be stale.
 */
extern _Atomic unsigned motan__endpoint_epoch;

/* log.c: formats and delivers one line when level is enabled (cheap when it is not). */
void motan__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* waiter.c: a thread waits until another posts a result (blocking calls). */
typedef struct motan__waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *result;
    int done;
} motan__waiter;
void motan__waiter_init(motan__waiter *w);
void motan__waiter_destroy(motan__waiter *w);
void motan__waiter_post(motan__waiter *w, void *result);
void *motan__waiter_wait(motan__waiter *w);

/*
 * fork.c: which process an object was made in. motan__fork_mark() (which also starts the
 * watch) is the current count of forks this process descends from (pthread_atfork's child
 * hook counts them); an object that keeps it tells, with one relaxed load, that it is now in
 * a child: its threads stayed behind in the parent.
 */
unsigned motan__fork_mark(void);
int motan__forked_since(unsigned mark);

/* Allocation through the hooks; calloc zeroes. */
void *motan__calloc(size_t n, size_t size);
char *motan__strdup(const char *s);
char *motan__strndup(const char *s, size_t n);

/* printf into errbuf when it is not NULL; returns code so callers can `return motan__err(...)`. */
int motan__errf(char *errbuf, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * suggest.c: the name among names[0..count) (NULLs skipped) closest to key by edit distance,
 * letter case ignored, when it is close enough to be a typo of it; else NULL. For
 * "did you mean" in error messages.
 */
const char *motan__closest(const char *key, const char *const *names, size_t count);

/*
 * Constructors always explain a failure: motan__errbuf_clear on entry, and on the way out
 * motan__errbuf_default writes motan_strerror(rc) when rc is an error and nothing more
 * precise was written. Returns rc.
 */
static inline void motan__errbuf_clear(char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
}

static inline int motan__errbuf_default(char *errbuf, size_t errlen, int rc)
{
    if (rc != MOTAN_OK && errbuf && errlen && !errbuf[0])
        motan__errf(errbuf, errlen, rc, "%s", motan_strerror(rc));
    return rc;
}

/* motan_arena_reset keeping at most one extra block, of at most keep_max bytes. */
void motan__arena_trim(motan_arena *a, size_t keep_max);

/*
 * Process-wide caches of freed objects (response pool) register a drain here: it runs under
 * the old hooks in motan_set_allocator, so that no cached block outlives its allocator.
 */
void motan__alloc_on_change(void (*drain)(void));

/* Copies an arena string with a trailing NUL; NULL on out of memory. */
char *motan__arena_strndup(motan_arena *a, const char *s, size_t n);

/*
 * An intrusive doubly linked list with head and tail pointers, over any struct with `prev`
 * and `next` members: MOTAN__DLIST(pfx, type) defines pfx_push (append at the tail) and
 * pfx_remove (unlink, clearing the item's links).
 */
#define MOTAN__DLIST(pfx, type)                                                                  \
    static inline void pfx##_push(type **head, type **tail, type *item)                          \
    {                                                                                            \
        item->next = NULL;                                                                       \
        item->prev = *tail;                                                                      \
        if (*tail)                                                                               \
            (*tail)->next = item;                                                                \
        else                                                                                     \
            *head = item;                                                                        \
        *tail = item;                                                                            \
    }                                                                                            \
    static inline void pfx##_remove(type **head, type **tail, type *item)                        \
    {                                                                                            \
        if (item->prev)                                                                          \
            item->prev->next = item->next;                                                       \
        else                                                                                     \
            *head = item->next;                                                                  \
        if (item->next)                                                                          \
            item->next->prev = item->prev;                                                       \
        else                                                                                     \
            *tail = item->prev;                                                                  \
        item->prev = item->next = NULL;                                                          \
    }

#endif
