/*
 * libmotan core: error codes, allocator hooks, growable buffers, arenas, version.
 *
 * Conventions for the whole API (see README):
 * - fallible calls return an int: MOTAN_OK (0) or a negative MOTAN_E* code;
 * - "owned" results are freed by the caller with the function named next to them,
 *   "borrowed" results stay valid for as long as the text says;
 * - strings and bytes are pointer + length and need not be NUL-terminated;
 * - thread-safety: the functions here are safe from any thread on distinct objects;
 *   one object must not be used from two threads at once.
 */
#ifndef MOTAN_CORE_H
#define MOTAN_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <motan/version.h>

/* ---- errors ---------------------------------------------------------------------------- */

typedef enum motan_err {
    MOTAN_OK = 0,
    MOTAN_ENOMEM = -1,       /* out of memory */
    MOTAN_EINVAL = -2,       /* invalid argument passed to the API */
    MOTAN_EAGAIN = -3,       /* incremental parsing: more input is needed */
    MOTAN_EDECODE = -4,      /* malformed serialized value (Simple, msgpack, JSON, typed JSON) */
    MOTAN_EPROTO = -5,       /* malformed motan2 frame or protocol violation by the peer */
    MOTAN_ETOOBIG = -6,      /* a size limit was exceeded (maxContentLength, gzip cap, nesting) */
    MOTAN_EVERSION = -7,     /* frame version is not motan2 (1) */
    MOTAN_EMOTAN1 = -8,      /* the peer speaks motan1 */
    MOTAN_EUNSUPPORTED = -9, /* serialization or feature not supported */
    MOTAN_EURL = -10,        /* malformed URL or bad parameter value */
    MOTAN_ETIMEOUT = -11,    /* the call did not complete within its timeout */
    MOTAN_ECONNECT = -12,    /* could not connect, or the connection was lost */
    MOTAN_EBUSY = -13,       /* too many requests in flight (maxPending) */
    MOTAN_ECANCELLED = -14,  /* the call was cancelled (object freed while the call was in flight) */
    MOTAN_EREMOTE = -15,     /* the server answered with an error response (see errcode/errtype) */
    MOTAN_ENOENDPOINT = -16, /* no available endpoint for the service */
    MOTAN_EREGISTRY = -17,   /* registry failure */
    MOTAN_ECLOSED = -18,     /* the object is closed or shutting down */
    MOTAN_ENOTFOUND = -19,   /* no such name (strategy, key, service) */
    MOTAN_EIO = -20,         /* operating-system or file error */
    MOTAN_EDEADLOCK = -21,   /* a blocking call was made from the loop thread that must serve it */
    MOTAN_EFORKED = -22      /* used in a child process after fork(): the object can only be freed */
} motan_err;

/* A static, human-readable description of an error code ("unknown error" for others). */
const char *motan_strerror(int code);
/* The symbolic name of an error code, e.g. "MOTAN_ETIMEOUT" (static). */
const char *motan_errname(int code);

/* ---- version --------------------------------------------------------------------------- */

/* The library's version string, e.g. "0.1.0" (static). */
const char *motan_version(void);
/* MOTAN_VERSION_NUMBER of the library actually loaded. */
int motan_version_number(void);

/* ---- allocator hooks ------------------------------------------------------------------- */

/*
 * Replace the allocator used by libmotan itself (not by libevent, zlib or jansson).
 * Call before creating any libmotan object. Passing NULLs restores malloc/realloc/free.
 * realloc_fn(NULL, n) must behave like malloc_fn(n).
 */
void motan_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                         void (*free_fn)(void *));
/* Allocate / free through the hooks; free strings the library hands out with motan_free. */
void *motan_malloc(size_t n);
void *motan_realloc(void *p, size_t n);
void motan_free(void *p);

/* ---- growable byte buffer -------------------------------------------------------------- */

typedef struct motan_buf motan_buf;

/* owned: free with motan_buf_free. initial may be 0. NULL on out of memory. */
motan_buf *motan_buf_new(size_t initial);
void motan_buf_free(motan_buf *b);
/* borrowed: valid until the next write to b. */
const uint8_t *motan_buf_data(const motan_buf *b);
size_t motan_buf_len(const motan_buf *b);
/* Empties the buffer and keeps its capacity (no allocation on reuse). */
void motan_buf_reset(motan_buf *b);
int motan_buf_append(motan_buf *b, const void *data, size_t len);
/* Makes room for extra more bytes without changing the length. */
int motan_buf_reserve(motan_buf *b, size_t extra);
/* Shortens the buffer to len (len <= current length). */
void motan_buf_truncate(motan_buf *b, size_t len);

/* ---- arena ----------------------------------------------------------------------------- */

/*
 * An arena owns every value built or decoded into it; one motan_arena_free releases them all.
 * Not thread-safe.
 */
typedef struct motan_arena motan_arena;

/* owned: free with motan_arena_free. NULL on out of memory. */
motan_arena *motan_arena_new(void);
void motan_arena_free(motan_arena *a);
/* Releases everything allocated from a, keeping its first block for reuse. */
void motan_arena_reset(motan_arena *a);
/* 8-byte aligned memory owned by a. NULL on out of memory. */
void *motan_arena_alloc(motan_arena *a, size_t n);
/* Bytes currently handed out by a (for tests and statistics). */
size_t motan_arena_used(const motan_arena *a);
/*
 * Limits the bytes a hands out: an allocation that would take motan_arena_used(a) past
 * max_bytes returns NULL and marks the arena (motan_arena_over_limit) until the next reset
 * or set_limit. 0 removes the limit; the limit survives motan_arena_reset. The decoders turn
 * such a failure into MOTAN_ETOOBIG: this is how a decoded-size budget is given to them
 * (codec.h, "decoded-size budget"), e.g. motan_arena_set_limit(a, motan_arena_used(a) + n).
 */
void motan_arena_set_limit(motan_arena *a, size_t max_bytes);
/* The limit (0: none). */
size_t motan_arena_get_limit(const motan_arena *a);
/* 1 when an allocation was refused by the limit since the last reset or set_limit. */
int motan_arena_over_limit(const motan_arena *a);

/* ---- logging ------------------------------------------------------------------------- */

/*
 * Every line libmotan logs goes to one sink, also what libevent and the ZooKeeper C client
 * log on libmotan's behalf (connection failures, session events...), which would otherwise
 * reach stderr. Levels: error, warn, info, debug; the `accessLog` filter logs at info.
 */
typedef enum motan_log_level {
    MOTAN_LOG_ERROR = 0,
    MOTAN_LOG_WARN = 1,
    MOTAN_LOG_INFO = 2,
    MOTAN_LOG_DEBUG = 3
} motan_log_level;

/* One log line: level, the text (borrowed for the call, no trailing newline), userdata. */
typedef void (*motan_log_cb)(int level, const char *message, void *userdata);

/*
 * Sends messages of max_level and below to cb (max_level < 0: none; above DEBUG: DEBUG);
 * cb NULL selects the default sink, which writes "libmotan: <level>: <message>" lines to
 * stderr. The default is the default sink with MOTAN_LOG_ERROR: nothing but errors.
 * Messages above max_level are dropped before they are formatted. Safe from any thread:
 * cb may run on any thread, concurrently; once this returns no thread is still inside the
 * previous callback (its userdata may be freed). From inside a callback: MOTAN_EDEADLOCK.
 * Lines the callback itself causes (it calls libmotan, which logs) are dropped.
 * libevent's log callback is pointed at this sink when the first motan_loop is created.
 */
int motan_set_log_callback(motan_log_cb cb, int max_level, void *userdata);
/* Logs message (NUL-terminated) at level through the sink: for bindings and filters. */
void motan_log(int level, const char *message);
/* 1 when a message at level would be delivered (cheap: test before formatting one). */
int motan_log_enabled(int level);
/* "error", "warn", "info", "debug" (static; "unknown" for other values). */
const char *motan_log_level_name(int level);

/* ---- clock ----------------------------------------------------------------------------- */

/* Monotonic clock in microseconds. */
uint64_t motan_now_us(void);

#endif /* MOTAN_CORE_H */
