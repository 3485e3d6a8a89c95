/* The value model: builders, accessors, containers, map_put, equal, copy. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <motan/codec.h>

static motan_arena *A;

static void setup(void) { A = motan_arena_new(); }
static void teardown(void) { motan_arena_free(A); }

static motan_value *str(const char *s) { return motan_value_new_string(A, s, strlen(s)); }

/* CPU time of this process: timing checks must not fail because the machine is busy. */
static uint64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

START_TEST(scalars)
{
    motan_value *v = motan_value_new_null(A);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_NULL);
    ck_assert_int_eq(motan_value_get_int(v), 0);

    v = motan_value_new_bool(A, 42);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_BOOL);
    ck_assert_int_eq(motan_value_get_bool(v), 1);
    ck_assert_int_eq(motan_value_get_bool(motan_value_new_bool(A, 0)), 0);

    v = motan_value_new_byte(A, 0xff);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_BYTE);
    ck_assert_int_eq(motan_value_get_int(v), 255);

    v = motan_value_new_int16(A, -32768);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_INT16);
    ck_assert_int_eq(motan_value_get_int(v), -32768);

    v = motan_value_new_int32(A, INT32_MIN);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_INT32);
    ck_assert_int_eq(motan_value_get_int(v), INT32_MIN);
    ck_assert(motan_value_get_float(v) == (double)INT32_MIN);

    v = motan_value_new_int64(A, INT64_MAX);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_INT64);
    ck_assert(motan_value_get_int(v) == INT64_MAX);

    v = motan_value_new_float32(A, 1.5f);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_FLOAT32);
    ck_assert(motan_value_get_float(v) == 1.5);
    ck_assert_int_eq(motan_value_get_int(v), 0);

    v = motan_value_new_float64(A, -0.1);
    ck_assert_int_eq(motan_value_type(v), MOTAN_T_FLOAT64);
    ck_assert(motan_value_get_float(v) == -0.1);
    ck_assert_int_eq(motan_value_get_bool(v), 0);
    ck_assert_ptr_null(motan_value_get_data(v, NULL));
}
END_TEST

START_TEST(strings_are_copied_with_nul)
{
    char src[] = "a\0bc";
    size_t len;
    motan_value *s = motan_value_new_string(A, src, 4);
    motan_value *b = motan_value_new_bytes(A, "\x00\xff", 2);
    src[0] = 'x';
    const char *p = motan_value_get_data(s, &len);
    ck_assert_int_eq(motan_value_type(s), MOTAN_T_STRING);
    ck_assert_uint_eq(len, 4);
    ck_assert(memcmp(p, "a\0bc", 4) == 0);
    ck_assert_int_eq(p[4], '\0');
    p = motan_value_get_data(b, &len);
    ck_assert_int_eq(motan_value_type(b), MOTAN_T_BYTES);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq((uint8_t)p[1], 0xff);
    ck_assert_int_eq(p[2], '\0');
    p = motan_value_get_data(motan_value_new_string(A, NULL, 0), &len);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(p[0], '\0');
    ck_assert_ptr_null(motan_value_new_string(A, NULL, 3));
}
END_TEST

START_TEST(containers)
{
    ck_assert_ptr_null(motan_value_new_container(A, MOTAN_T_INT32));
    ck_assert_ptr_null(motan_value_new_container(A, MOTAN_T_STRING));
    motan_value *arr = motan_value_new_container(A, MOTAN_T_ARRAY);
    ck_assert_uint_eq(motan_value_count(arr), 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(motan_value_append(arr, motan_value_new_int32(A, i)), MOTAN_OK);
    ck_assert_uint_eq(motan_value_count(arr), 1000);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(motan_value_get_int(motan_value_at(arr, (size_t)i)), i);
    ck_assert_ptr_null(motan_value_at(arr, 1000));
    ck_assert_ptr_null(motan_value_key_at(arr, 0));

    motan_value *sa = motan_value_new_container(A, MOTAN_T_STRING_ARRAY);
    ck_assert_int_eq(motan_value_append(sa, str("x")), MOTAN_OK);
    ck_assert_int_eq(motan_value_append(sa, motan_value_new_bytes(A, "x", 1)), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_append(sa, motan_value_new_int64(A, 1)), MOTAN_EINVAL);
    ck_assert_uint_eq(motan_value_count(sa), 1);
    ck_assert_int_eq(motan_value_type(motan_value_at(sa, 0)), MOTAN_T_STRING);
}
END_TEST

START_TEST(wrong_types_are_einval)
{
    motan_value *arr = motan_value_new_container(A, MOTAN_T_ARRAY);
    motan_value *map = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value *smap = motan_value_new_container(A, MOTAN_T_STRING_MAP);
    motan_value *i = motan_value_new_int32(A, 1);
    ck_assert_int_eq(motan_value_append(i, i), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_append(map, i), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_append(arr, NULL), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_append(NULL, i), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_append(arr, arr), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(arr, i, i), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(map, NULL, i), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(map, i, NULL), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(smap, i, str("v")), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(smap, str("k"), i), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(map, map, i), MOTAN_EINVAL);

    /* A container from another arena is refused. */
    motan_arena *other = motan_arena_new();
    motan_value *foreign = motan_value_new_container(other, MOTAN_T_ARRAY);
    ck_assert_int_eq(motan_value_append(arr, foreign), MOTAN_EINVAL);
    ck_assert_int_eq(motan_value_map_put(map, str("k"), foreign), MOTAN_EINVAL);
    motan_arena_free(other);
    ck_assert_uint_eq(motan_value_count(arr), 0);
    ck_assert_uint_eq(motan_value_count(map), 0);
}
END_TEST

START_TEST(map_put_replaces_in_place)
{
    motan_value *m = motan_value_new_container(A, MOTAN_T_MAP);
    ck_assert_int_eq(motan_value_map_put(m, str("a"), motan_value_new_int64(A, 1)), MOTAN_OK);
    ck_assert_int_eq(motan_value_map_put(m, motan_value_new_int64(A, 7), str("x")), MOTAN_OK);
    ck_assert_int_eq(motan_value_map_put(m, str("b"), motan_value_new_int64(A, 2)), MOTAN_OK);
    /* int32 7 is a different key from int64 7 */
    ck_assert_int_eq(motan_value_map_put(m, motan_value_new_int32(A, 7), str("y")), MOTAN_OK);
    ck_assert_int_eq(motan_value_map_put(m, str("a"), motan_value_new_int64(A, 3)), MOTAN_OK);
    ck_assert_uint_eq(motan_value_count(m), 4);
    ck_assert_int_eq(motan_value_get_int(motan_value_value_at(m, 0)), 3);
    ck_assert_int_eq(motan_value_get_int(motan_value_key_at(m, 1)), 7);
    ck_assert_int_eq(motan_value_get_int(motan_value_map_get(m, "a", 1)), 3);
    ck_assert_int_eq(motan_value_get_int(motan_value_map_get(m, "b", 1)), 2);
    ck_assert_ptr_null(motan_value_map_get(m, "c", 1));
    ck_assert_ptr_null(motan_value_key_at(m, 4));
    ck_assert_ptr_null(motan_value_at(m, 0));

    motan_value *sm = motan_value_new_container(A, MOTAN_T_STRING_MAP);
    ck_assert_int_eq(motan_value_map_put(sm, str("k"), str("v")), MOTAN_OK);
    ck_assert_int_eq(motan_value_map_put(sm, str("k"), str("w")), MOTAN_OK);
    ck_assert_uint_eq(motan_value_count(sm), 1);
    size_t len;
    ck_assert_str_eq(motan_value_get_data(motan_value_map_get(sm, "k", 1), &len), "w");
    ck_assert_ptr_null(motan_value_map_get(sm, "", 0));
    ck_assert_int_eq(motan_value_map_put(sm, str(""), str("e")), MOTAN_OK);
    ck_assert_ptr_nonnull(motan_value_map_get(sm, "", 0));
}
END_TEST

/* Crosses the linear/indexed threshold and keeps checking every key both ways. */
START_TEST(map_index_threshold)
{
    motan_value *m = motan_value_new_container(A, MOTAN_T_MAP);
    char k[16];
    for (int n = 0; n < 40; n++) {
        snprintf(k, sizeof(k), "k%d", n);
        ck_assert_int_eq(motan_value_map_put(m, str(k), motan_value_new_int64(A, n)), MOTAN_OK);
        for (int j = 0; j <= n; j++) {
            snprintf(k, sizeof(k), "k%d", j);
            ck_assert_int_eq(motan_value_get_int(motan_value_map_get(m, k, strlen(k))), j);
        }
        /* re-putting an existing key never adds an entry */
        ck_assert_int_eq(motan_value_map_put(m, str("k0"), motan_value_new_int64(A, 0)), MOTAN_OK);
        ck_assert_uint_eq(motan_value_count(m), (size_t)n + 1);
    }
}
END_TEST

/* No ck_assert inside the loops: Check records every assertion, which dominates the time. */
START_TEST(big_maps_are_fast)
{
    const int N = 100000;
    char k[32];
    int bad = 0;
    motan_value *m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value *im = motan_value_new_container(A, MOTAN_T_MAP);
    uint64_t t0 = cpu_us();
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        bad |= motan_value_map_put(m, motan_value_new_string(A, k, (size_t)n),
                                   motan_value_new_int64(A, i));
        bad |= motan_value_map_put(im, motan_value_new_int64(A, i), str("v"));
    }
    /* replace every other key: last wins, count unchanged */
    for (int i = 0; i < N; i += 2) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        bad |= motan_value_map_put(m, motan_value_new_string(A, k, (size_t)n),
                                   motan_value_new_int64(A, -i));
    }
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        const motan_value *v = motan_value_map_get(m, k, (size_t)n);
        if (!v || motan_value_get_int(v) != (i % 2 ? i : -i))
            bad = 1;
    }
    uint64_t us = cpu_us() - t0;
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(motan_value_count(m), (size_t)N);
    ck_assert_uint_eq(motan_value_count(im), (size_t)N);
    ck_assert_int_eq(motan_value_get_int(motan_value_value_at(m, 2)), -2);
    ck_assert_int_eq(motan_value_get_int(motan_value_key_at(im, 99999)), 99999);
    if (!getenv("MOTAN_SANITIZER") && !getenv("LD_PRELOAD"))
        ck_assert_msg(us < 1000000, "100k-key maps took %llu us", (unsigned long long)us);
}
END_TEST

START_TEST(equality)
{
    ck_assert(!motan_value_equal(motan_value_new_int32(A, 1), motan_value_new_int64(A, 1)));
    ck_assert(motan_value_equal(motan_value_new_int32(A, 1), motan_value_new_int32(A, 1)));
    ck_assert(!motan_value_equal(motan_value_new_float32(A, 1), motan_value_new_float64(A, 1)));
    ck_assert(motan_value_equal(motan_value_new_float64(A, NAN), motan_value_new_float64(A, -NAN)));
    ck_assert(motan_value_equal(motan_value_new_float32(A, NAN), motan_value_new_float32(A, NAN)));
    ck_assert(!motan_value_equal(motan_value_new_float64(A, 0.0), motan_value_new_float64(A, -0.0)));
    ck_assert(!motan_value_equal(motan_value_new_float32(A, 0.0f), motan_value_new_float32(A, -0.0f)));
    ck_assert(!motan_value_equal(motan_value_new_float64(A, NAN), motan_value_new_float64(A, 1)));
    ck_assert(!motan_value_equal(str("a"), motan_value_new_bytes(A, "a", 1)));
    ck_assert(!motan_value_equal(str("a"), str("ab")));
    ck_assert(motan_value_equal(motan_value_new_null(A), motan_value_new_null(A)));
    ck_assert(!motan_value_equal(motan_value_new_byte(A, 1), motan_value_new_bool(A, 1)));
    ck_assert(motan_value_equal(NULL, NULL));
    ck_assert(!motan_value_equal(NULL, motan_value_new_null(A)));

    /* order matters in maps and arrays */
    motan_value *m1 = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value *m2 = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value_map_put(m1, str("a"), str("1"));
    motan_value_map_put(m1, str("b"), str("2"));
    motan_value_map_put(m2, str("b"), str("2"));
    motan_value_map_put(m2, str("a"), str("1"));
    ck_assert(!motan_value_equal(m1, m2));
    motan_value *sm = motan_value_new_container(A, MOTAN_T_STRING_MAP);
    motan_value_map_put(sm, str("a"), str("1"));
    motan_value_map_put(sm, str("b"), str("2"));
    ck_assert(!motan_value_equal(m1, sm)); /* same content, different tag */
    motan_value *e1 = motan_value_new_container(A, MOTAN_T_ARRAY);
    motan_value *e2 = motan_value_new_container(A, MOTAN_T_STRING_ARRAY);
    ck_assert(!motan_value_equal(e1, e2));
}
END_TEST

START_TEST(deep_copy)
{
    motan_value *root = motan_value_new_container(A, MOTAN_T_ARRAY);
    motan_value *m = motan_value_new_container(A, MOTAN_T_MAP);
    motan_value *sa = motan_value_new_container(A, MOTAN_T_STRING_ARRAY);
    motan_value_append(sa, str("x"));
    for (int i = 0; i < 20; i++)
        motan_value_map_put(m, motan_value_new_int32(A, i), motan_value_new_float64(A, i / 3.0));
    motan_value_append(root, m);
    motan_value_append(root, sa);
    motan_value_append(root, motan_value_new_bytes(A, "\x01\x02", 2));
    motan_value_append(root, motan_value_new_float32(A, NAN));

    motan_arena *b = motan_arena_new();
    motan_value *c = motan_value_copy(b, root);
    ck_assert_ptr_nonnull(c);
    ck_assert(motan_value_equal(root, c));
    motan_arena_reset(A); /* the copy must not point into A */
    const motan_value *cm = motan_value_at(c, 0);
    ck_assert_uint_eq(motan_value_count(cm), 20);
    ck_assert_int_eq(motan_value_get_int(motan_value_key_at(cm, 19)), 19);
    /* the copy is a live map of its own arena */
    ck_assert_int_eq(motan_value_map_put((motan_value *)cm, motan_value_new_int32(b, 5),
                                         motan_value_new_null(b)),
                     MOTAN_OK);
    ck_assert_uint_eq(motan_value_count(cm), 20);
    ck_assert_int_eq(motan_value_type(motan_value_value_at(cm, 5)), MOTAN_T_NULL);
    motan_arena_free(b);
    ck_assert_ptr_null(motan_value_copy(A, NULL));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("value");
    TCase *tc = tcase_create("value");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scalars);
    tcase_add_test(tc, strings_are_copied_with_nul);
    tcase_add_test(tc, containers);
    tcase_add_test(tc, wrong_types_are_einval);
    tcase_add_test(tc, map_put_replaces_in_place);
    tcase_add_test(tc, map_index_threshold);
    tcase_add_test(tc, big_maps_are_fast);
    tcase_add_test(tc, equality);
    tcase_add_test(tc, deep_copy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
