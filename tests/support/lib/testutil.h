/* Helpers shared by the test suites and benchmarks (not part of the library). */
#ifndef MOTAN_TESTUTIL_H
#define MOTAN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Hex <-> bytes. tu_hex_decode: malloc'd bytes, -1 on bad hex. tu_hex_encode: malloc'd text. */
int tu_hex_decode(const char *hex, uint8_t **out, size_t *len);
char *tu_hex_encode(const uint8_t *p, size_t len);

/* Whole file, malloc'd and NUL-terminated; NULL on error. */
char *tu_read_file(const char *path, size_t *len);
/* Writes text to path.hand, then renames it over path (readers never see half a file): 0, or -1. */
int tu_write_file_renamed(const char *path, const char *text);

/* $MOTAN_VECTORS_DIR, else ../shared/vectors beside the tree, else tests/vectors (the copy). */
const char *tu_vectors_dir(void);
/* Parsed vectors file (e.g. "simple.json"); aborts the test run when it cannot be read. */
json_t *tu_load_vectors(const char *name);

/* $MOTAN_ROOT or "." : the source tree; $BUILD or "build". */
const char *tu_root(void);
const char *tu_build(void);
/*
 * A program of the build: $<env> when set, else <BUILD>/bin/<name> (an absolute BUILD as it
 * is, a relative one under tu_root()).
 */
void tu_bin_path(const char *env, const char *name, char *buf, size_t len);

/* The bytes of entry `name` of a vectors file (hex decoded, malloc'd); aborts when missing. */
uint8_t *tu_vector_bytes(const char *file, const char *name, size_t *len);

/*
 * Counts the allocations libmotan makes (malloc and realloc through its hooks) from
 * tu_count_allocs_start until tu_count_allocs_stop; tu_allocs reads the count.
 */
void tu_count_allocs_start(void);
void tu_count_allocs_stop(void);
/* Zeroes the count without touching the hooks (motan_set_allocator empties libmotan's caches). */
void tu_count_allocs_reset(void);
unsigned long long tu_allocs(void);
/* Blocks made through the hooks since tu_count_allocs_start and not freed through them yet
 * (still right after tu_count_allocs_stop, which empties libmotan's caches through them). */
long long tu_allocs_outstanding(void);

/*
 * Allocation failure injection through libmotan's hooks: from tu_fail_alloc_start(k) on, the
 * k-th allocation (malloc or realloc, 1-based, from any thread) fails, once; k = 0 fails
 * none. Freed memory is overwritten (0xdd), so a use after free reads garbage. Call before
 * creating libmotan objects (their memory must come from the same hooks) and stop after
 * freeing them all. tu_fail_alloc_seen: allocations since start; _fired: the k-th came.
 */
void tu_fail_alloc_start(unsigned long k);
void tu_fail_alloc_stop(void);
unsigned long tu_fail_alloc_seen(void);
int tu_fail_alloc_fired(void);
/* Blocks allocated through these hooks and not yet freed (a leak check without valgrind), once
 * libmotan's caches of freed objects (responses) are emptied. Call only between start and stop. */
long tu_fail_alloc_live(void);

/* User + system CPU time a process has used so far, µs (/proc/<pid>/stat); 0 when unknown. */
double tu_proc_cpu_us(int pid);

/* Deterministic xorshift64* generator for property tests. */
uint64_t tu_rand(uint64_t *state);

#endif
