#include "testutil.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <motan/core.h>

#include "core/core_int.h"

int tu_hex_decode(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    uint8_t *p = malloc(n / 2 + 1);
    if (!p)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = motan__hexval(hex[2 * i]), lo = motan__hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(p);
            return -1;
        }
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = p;
    *len = n / 2;
    return 0;
}

char *tu_hex_encode(const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * len] = '\0';
    return s;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

const char *tu_root(void)
{
    const char *r = getenv("MOTAN_ROOT");
    return r && *r ? r : ".";
}

const char *tu_build(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

int tu_write_file_renamed(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.hand", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

const char *tu_vectors_dir(void)
{
    static char path[4096];
    const char *v = getenv("MOTAN_VECTORS_DIR");
    if (v && *v)
        return v;
    /* As scripts/vectors.sh: the upstream set beside the clone, else the project's copy. */
    snprintf(path, sizeof(path), "%s/../shared/vectors", tu_root());
    char probe[4200];
    snprintf(probe, sizeof(probe), "%s/simple.json", path);
    if (access(probe, R_OK) == 0) {
        snprintf(probe, sizeof(probe), "%s/frames.json", path);
        if (access(probe, R_OK) == 0)
            return path;
    }
    snprintf(path, sizeof(path), "%s/tests/vectors", tu_root());
    return path;
}

json_t *tu_load_vectors(const char *name)
{
    char path[4096];
    json_error_t err;
    snprintf(path, sizeof(path), "%s/%s", tu_vectors_dir(), name);
    json_t *j = json_load_file(path, 0, &err);
    if (!j) {
        fprintf(stderr, "cannot load vectors %s: %s (line %d)\n", path, err.text, err.line);
        abort();
    }
    return j;
}

uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint8_t *tu_vector_bytes(const char *file, const char *name, size_t *len)
{
    json_t *all = tu_load_vectors(file);
    uint8_t *d = NULL;
    for (size_t i = 0; i < json_array_size(all) && !d; i++) {
        json_t *v = json_array_get(all, i);
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0 &&
            tu_hex_decode(json_string_value(json_object_get(v, "hex")), &d, len) != 0)
            d = NULL;
    }
    json_decref(all);
    if (!d) {
        fprintf(stderr, "no vector %s in %s\n", name, file);
        abort();
    }
    return d;
}

static atomic_ullong g_allocs; /* the loop thread allocates too */
static atomic_llong g_outstanding; /* blocks made minus blocks freed */

static void *count_malloc(size_t n)
{
    atomic_fetch_add(&g_allocs, 1);
    atomic_fetch_add(&g_outstanding, 1);
    return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
    atomic_fetch_add(&g_allocs, 1);
    if (!p)
        atomic_fetch_add(&g_outstanding, 1);
    return realloc(p, n);
}

static void count_free(void *p)
{
    if (p)
        atomic_fetch_sub(&g_outstanding, 1);
    free(p);
}

void tu_count_allocs_start(void)
{
    atomic_store(&g_allocs, 0);
    atomic_store(&g_outstanding, 0);
    motan_set_allocator(count_malloc, count_realloc, count_free);
}

void tu_count_allocs_reset(void) { atomic_store(&g_allocs, 0); }

long long tu_allocs_outstanding(void) { return atomic_load(&g_outstanding); }

void tu_count_allocs_stop(void) { motan_set_allocator(NULL, NULL, NULL); }

unsigned long long tu_allocs(void) { return atomic_load(&g_allocs); }

/* ---- allocation failure injection ----------------------------------------------------- */

static atomic_ulong g_fail_seen;
static unsigned long g_fail_k;
static atomic_int g_fail_fired;

static int fail_now(void)
{
    unsigned long n = atomic_fetch_add(&g_fail_seen, 1) + 1;
    if (g_fail_k && n == g_fail_k) {
        atomic_store(&g_fail_fired, 1);
        return 1;
    }
    return 0;
}

static atomic_long g_live; /* blocks handed out and not freed */

static void *fail_malloc(size_t n)
{
    void *p = fail_now() ? NULL : malloc(n);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

static void *fail_realloc(void *p, size_t n)
{
    void *q = fail_now() ? NULL : realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&g_live, 1);
    return q;
}

/* Freed memory is overwritten: a use after free reads garbage instead of what was there. */
static void poison_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&g_live, 1);
    memset(p, 0xdd, malloc_usable_size(p));
    free(p);
}

void tu_fail_alloc_start(unsigned long k)
{
    atomic_store(&g_fail_seen, 0);
    atomic_store(&g_fail_fired, 0);
    g_fail_k = k;
    motan_set_allocator(fail_malloc, fail_realloc, poison_free);
}

long tu_fail_alloc_live(void)
{
    /* Setting the hooks again empties libmotan's caches of freed objects: not leaks. */
    motan_set_allocator(fail_malloc, fail_realloc, poison_free);
    return atomic_load(&g_live);
}

void tu_fail_alloc_stop(void) { motan_set_allocator(NULL, NULL, NULL); }

unsigned long tu_fail_alloc_seen(void) { return atomic_load(&g_fail_seen); }

int tu_fail_alloc_fired(void) { return atomic_load(&g_fail_fired); }

double tu_proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the name may hold spaces; fields restart after it */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

void tu_bin_path(const char *env, const char *name, char *buf, size_t len)
{
    const char *e = getenv(env);
    const char *b = tu_build();
    if (e && *e)
        snprintf(buf, len, "%s", e);
    else if (b[0] == '/')
        snprintf(buf, len, "%s/bin/%s", b, name);
    else
        snprintf(buf, len, "%s/%s/bin/%s", tu_root(), b, name);
}
