/* The transport's pending table: put/get/remove under churn, growth, snapshots. */
#include <check.h>
#include <stdlib.h>

#include "transport/transport_int.h"

START_TEST(test_basic)
{
    motan__idmap m;
    ck_assert_int_eq(motan__idmap_init(&m), MOTAN_OK);
    int a, b;
    ck_assert_int_eq(motan__idmap_put(&m, 0, &a), MOTAN_EINVAL); /* 0 marks empty slots */
    ck_assert_int_eq(motan__idmap_put(&m, 7, &a), MOTAN_OK);
    ck_assert_int_eq(motan__idmap_put(&m, 7, &b), MOTAN_OK); /* replace */
    ck_assert_uint_eq(m.count, 1);
    ck_assert_ptr_eq(motan__idmap_get(&m, 7), &b);
    ck_assert_ptr_null(motan__idmap_get(&m, 8));
    ck_assert_ptr_eq(motan__idmap_remove(&m, 7), &b);
    ck_assert_ptr_null(motan__idmap_remove(&m, 7));
    ck_assert_uint_eq(m.count, 0);
    motan__idmap_free(&m);
}
END_TEST

/* Random churn against a reference array: removal's backward shift never loses an entry. */
START_TEST(test_churn)
{
    motan__idmap m;
    motan__idmap_init(&m);
    enum { N = 20000 };
    static uint64_t ids[N];
    static int live[N];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids[i] = (i % 3 == 0) ? (uint64_t)i + 1 : (x | 1); /* sequential and random ids */
        live[i] = 0;
    }
    for (int round = 0; round < 400000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int i = (int)(x % N);
        if (live[i]) {
            ck_assert_ptr_eq(motan__idmap_remove(&m, ids[i]), &live[i]);
            live[i] = 0;
        } else {
            live[i] = 1;
            ck_assert_int_eq(motan__idmap_put(&m, ids[i], &live[i]), MOTAN_OK);
        }
    }
    size_t count = 0;
    for (int i = 0; i < N; i++) {
        if (live[i]) {
            count++;
            ck_assert_ptr_eq(motan__idmap_get(&m, ids[i]), &live[i]);
        } else {
            ck_assert_ptr_null(motan__idmap_get(&m, ids[i]));
        }
    }
    ck_assert_uint_eq(m.count, count);
    size_t n = 0;
    uint64_t *snap = motan__idmap_keys(&m, &n);
    ck_assert_uint_eq(n, count);
    for (size_t k = 0; k < n; k++)
        ck_assert_ptr_nonnull(motan__idmap_get(&m, snap[k]));
    motan_free(snap);
    motan__idmap_free(&m);
}
END_TEST

START_TEST(test_ids_unique)
{
    uint64_t a = motan__next_request_id(), b = motan__next_request_id();
    ck_assert_uint_gt(a, 0);
    ck_assert_uint_gt(b, a);
    ck_assert_uint_lt(b, 1ULL << 53);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idmap");
    TCase *tc = tcase_create("idmap");
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_churn);
    tcase_add_test(tc, test_ids_unique);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
