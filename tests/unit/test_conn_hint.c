/*
 * The transport's read hint (transport_int.h, white box): after whole frames are taken off
 * the front of a connection's input, the partial frame left there still needs `need` bytes
 * in all, as the parser measured from its own start. The old code subtracted the consumed
 * bytes a second time, so large answers behind small ones were read in too-small steps
 * (one more buffer growth and copy per such answer).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "transport/transport_int.h"

START_TEST(consumed_keeps_the_hint_of_the_frame_left)
{
    motan__conn c;
    memset(&c, 0, sizeof(c));
    c.in = motan_buf_new(0);
    /* A 100-byte frame, then the first 40 bytes of one 8 MiB + 50 long. */
    uint8_t bytes[140];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)i;
    motan_buf_append(c.in, bytes, sizeof(bytes));
    c.need = (8u << 20) + 50; /* what motan_frame_parse said, from the second frame's start */
    motan__conn_consumed(&c, 100);
    ck_assert_uint_eq(motan_buf_len(c.in) - c.in_off, 40);
    ck_assert_int_eq(motan_buf_data(c.in)[c.in_off], 100);
    ck_assert_uint_eq(c.need, (8u << 20) + 50);
    /* Nothing consumed: nothing moves. */
    motan__conn_consumed(&c, 0);
    ck_assert_uint_eq(motan_buf_len(c.in) - c.in_off, 40);
    ck_assert_uint_eq(c.need, (8u << 20) + 50);
    /* The rest consumed: the input is empty again. */
    motan__conn_consumed(&c, 40);
    ck_assert_uint_eq(motan_buf_len(c.in), 0);
    ck_assert_uint_eq(c.in_off, 0);
    motan_buf_free(c.in);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conn_hint");
    TCase *t = tcase_create("conn_hint");
    tcase_add_test(t, consumed_keeps_the_hint_of_the_frame_left);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
