/* Core layer: buffers, arenas, allocator hooks, error names, version, clock. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <motan/core.h>

#include "core/core_int.h"

START_TEST(test_buf_grow_reset_truncate)
{
    motan_buf *b = motan_buf_new(0);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(motan_buf_len(b), 0);
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(motan_buf_append(b, chunk, sizeof(chunk)), MOTAN_OK);
    ck_assert_uint_eq(motan_buf_len(b), 100000);
    ck_assert_int_eq(motan_buf_data(b)[99999], 'x');
    size_t cap = b->cap;
    motan_buf_reset(b);
    ck_assert_uint_eq(motan_buf_len(b), 0);
    ck_assert_uint_eq(b->cap, cap); /* capacity kept: no allocation on reuse */
    motan_buf_append(b, "abc", 3);
    motan_buf_truncate(b, 1);
    ck_assert_uint_eq(motan_buf_len(b), 1);
    motan_buf_truncate(b, 10); /* never grows */
    ck_assert_uint_eq(motan_buf_len(b), 1);
    ck_assert_int_eq(motan_buf_reserve(b, 1 << 20), MOTAN_OK);
    ck_assert_uint_ge(b->cap - b->len, 1u << 20);
    ck_assert_int_eq(motan_buf_append(b, NULL, 0), MOTAN_OK);
    /* An impossible size fails cleanly. */
    ck_assert_int_eq(motan_buf_reserve(b, SIZE_MAX - 2), MOTAN_ENOMEM);
    motan_buf_free(b);
    motan_buf_free(NULL);
}
END_TEST

START_TEST(test_arena)
{
    motan_arena *a = motan_arena_new();
    ck_assert_ptr_nonnull(a);
    void *p = motan_arena_alloc(a, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 8, 0);
    /* Many small and a few large allocations; memory stays distinct and writable. */
    char *blocks[200];
    for (int i = 0; i < 200; i++) {
        size_t n = i % 10 == 0 ? 100000 : (size_t)(i * 7 + 1);
        blocks[i] = motan_arena_alloc(a, n);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], i, n);
    }
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq((unsigned char)blocks[i][0], (unsigned char)i);
    ck_assert_uint_gt(motan_arena_used(a), 2000000);
    motan_arena_reset(a);
    ck_assert_uint_eq(motan_arena_used(a), 0);
    char *s = motan__arena_strndup(a, "hello", 3);
    ck_assert_str_eq(s, "hel");
    motan_arena_free(a);
    motan_arena_free(NULL);
}
END_TEST

static size_t g_mallocs, g_frees;
static void *count_malloc(size_t n)
{
    g_mallocs++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n)
{
    if (!p)
        g_mallocs++;
    return realloc(p, n);
}
static void count_free(void *p)
{
    if (p)
        g_frees++;
    free(p);
}
static void *fail_malloc(size_t n)
{
    (void)n;
    return NULL;
}
static void *fail_realloc(void *p, size_t n)
{
    (void)p;
    (void)n;
    return NULL;
}

START_TEST(test_allocator_hooks)
{
    motan_set_allocator(count_malloc, count_realloc, count_free);
    g_mallocs = g_frees = 0;
    motan_buf *b = motan_buf_new(10);
    motan_buf_append(b, "0123456789abcdef", 16);
    motan_arena *a = motan_arena_new();
    motan_arena_alloc(a, 500000);
    motan_arena_free(a);
    motan_buf_free(b);
    ck_assert_uint_gt(g_mallocs, 0);
    ck_assert_uint_eq(g_mallocs, g_frees); /* everything through the hooks, all freed */
    /* Out of memory: constructors return NULL, appends MOTAN_ENOMEM. */
    motan_set_allocator(fail_malloc, fail_realloc, free);
    ck_assert_ptr_null(motan_buf_new(10));
    ck_assert_ptr_null(motan_arena_new());
    motan_set_allocator(NULL, NULL, NULL);
    b = motan_buf_new(0);
    motan_set_allocator(fail_malloc, fail_realloc, free);
    ck_assert_int_eq(motan_buf_append(b, "x", 1), MOTAN_ENOMEM);
    motan_set_allocator(NULL, NULL, NULL);
    motan_buf_free(b);
}
END_TEST

/* Reset frees every block but the first (and one up to 256 KiB), whether the first block
 * is alone, is followed by a big block of its own, or comes after a kept one. */
START_TEST(test_arena_reset_shapes)
{
    motan_set_allocator(count_malloc, count_realloc, count_free);
    g_mallocs = g_frees = 0;
    motan_arena *a = motan_arena_new();
    ck_assert_ptr_nonnull(a);
    char *first = motan_arena_alloc(a, 100);
    for (int round = 0; round < 3; round++) {
        motan_arena_reset(a); /* the first block alone */
        ck_assert_uint_eq(motan_arena_used(a), 0);
        ck_assert_ptr_eq(motan_arena_alloc(a, 100), first); /* bumped from the start again */
        ck_assert_ptr_nonnull(motan_arena_alloc(a, 300000)); /* its own block, behind the first */
        ck_assert_uint_eq(g_mallocs - g_frees, 2);
        motan_arena_reset(a); /* too big to keep: freed */
        ck_assert_uint_eq(g_mallocs - g_frees, 1);
        ck_assert_uint_eq(motan_arena_used(a), 0);
    }
    motan_arena_set_limit(a, 50);
    ck_assert_ptr_null(motan_arena_alloc(a, 100)); /* refused by the limit */
    motan_arena_set_limit(a, 0);
    motan_arena_reset(a);
    ck_assert_ptr_eq(motan_arena_alloc(a, 100), first);
    ck_assert_ptr_nonnull(motan_arena_alloc(a, 100000)); /* kept by the next reset */
    motan_arena_reset(a);
    ck_assert_uint_eq(g_mallocs - g_frees, 2);
    ck_assert_uint_eq(motan_arena_used(a), 0);
    motan_arena_free(a);
    ck_assert_uint_eq(g_mallocs, g_frees);
    motan_set_allocator(NULL, NULL, NULL);
}
END_TEST

START_TEST(test_errors_and_version)
{
    for (int code = 0; code >= MOTAN_EFORKED; code--) {
        ck_assert_str_ne(motan_strerror(code), "unknown error");
        ck_assert(strncmp(motan_errname(code), "MOTAN_", 6) == 0);
    }
    ck_assert_str_eq(motan_errname(MOTAN_ETIMEOUT), "MOTAN_ETIMEOUT");
    ck_assert_str_eq(motan_errname(MOTAN_EFORKED), "MOTAN_EFORKED");
    ck_assert_str_eq(motan_strerror(12345), "unknown error");
    ck_assert_str_eq(motan_errname(-999), "MOTAN_EUNKNOWN");
    ck_assert_str_eq(motan_version(), MOTAN_VERSION_STRING);
    ck_assert_int_eq(motan_version_number(), MOTAN_VERSION_NUMBER);
    char buf[16];
    ck_assert_int_eq(motan__errf(buf, sizeof(buf), MOTAN_EURL, "bad %s", "parameter value here"), MOTAN_EURL);
    ck_assert_str_eq(buf, "bad parameter v"); /* truncated, NUL-terminated */
    ck_assert_int_eq(motan__errf(NULL, 0, MOTAN_EIO, "x"), MOTAN_EIO);
}
END_TEST

START_TEST(test_clock)
{
    uint64_t a = motan_now_us(), c = motan__now_coarse_us();
    uint64_t b = motan_now_us();
    ck_assert_uint_ge(b, a);
    /* The coarse clock is the same clock at a coarser tick. */
    ck_assert_uint_le(c, b + 1);
    ck_assert_uint_gt(c + 20000, a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buf_grow_reset_truncate);
    tcase_add_test(tc, test_arena);
    tcase_add_test(tc, test_allocator_hooks);
    tcase_add_test(tc, test_arena_reset_shapes);
    tcase_add_test(tc, test_errors_and_version);
    tcase_add_test(tc, test_clock);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
