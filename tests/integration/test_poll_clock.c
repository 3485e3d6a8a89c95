/*
 * motan_client_poll's deadline is on the monotonic clock. This suite defines its own
 * clock_gettime (the static library's calls bind to it), with the wall clock stepped back
 * ten seconds: a deadline computed from CLOCK_REALTIME then lies in the past for the
 * condition variable, and a poll with a timeout returned at once instead of waiting.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <motan/client.h>

#include "server_proc.h"

static int g_skew_s;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    long r = syscall(SYS_clock_gettime, id, ts);
    if (r == 0 && id == CLOCK_REALTIME)
        ts->tv_sec -= g_skew_s;
    return (int)r;
}

START_TEST(poll_waits_its_timeout_whatever_the_wall_clock)
{
    tu_server srv;
    const char *args[] = {"--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&srv, args), 0);
    char url[256], err[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService", srv.port);
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    g_skew_s = 10;
    motan_response *resp = NULL;
    uint64_t tag = 0;
    uint64_t t0 = motan_now_us();
    ck_assert_int_eq(motan_client_poll(c, 300, &resp, &tag), 0);
    uint64_t ms = (motan_now_us() - t0) / 1000;
    ck_assert_msg(ms >= 290 && ms < 2000, "a 300 ms poll returned after %llu ms",
                  (unsigned long long)ms);
    /* And a completion still wakes it up at once. */
    motan_request *r = motan_client_request(c, "echo");
    ck_assert_int_eq(motan_client_submit(c, r, 7), MOTAN_OK);
    t0 = motan_now_us();
    ck_assert_int_eq(motan_client_poll(c, 5000, &resp, &tag), 1);
    ck_assert_uint_lt((motan_now_us() - t0) / 1000, 1000);
    ck_assert_uint_eq(tag, 7);
    motan_response_free(resp);
    g_skew_s = 0;
    motan_request_free(r);
    motan_client_free(c);
    ck_assert_int_eq(tu_server_stop(&srv), 0);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("poll_clock");
    TCase *tc = tcase_create("poll_clock");
    tcase_add_test(tc, poll_waits_its_timeout_whatever_the_wall_clock);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
