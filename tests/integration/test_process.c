/*
 * Process-level faults: fork() with a live client (the child's calls fail with
 * MOTAN_EFORKED, its free returns and releases what it can without disturbing the parent,
 * whose client goes on working), and a process out of file descriptors (motan_client_new
 * returns an error instead of libevent ending the process).
 */
#include <check.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <motan/client.h>

#include "server_proc.h"
#include "testutil.h"

static tu_server g_srv;
static char g_url[256];

static void setup(void)
{
    const char *args[] = {"--quiet", NULL};
    ck_assert_int_eq(tu_server_start(&g_srv, args), 0);
    snprintf(g_url, sizeof(g_url),
             "motan2://127.0.0.1:%d/com.example.EchoService?requestTimeout=3000&connections=1",
             g_srv.port);
}

static void teardown(void) { ck_assert_int_eq(tu_server_stop(&g_srv), 0); }

static motan_client *new_client(void)
{
    char err[256];
    motan_client *c = NULL;
    ck_assert_msg(motan_client_new(g_url, &c, err, sizeof(err)) == MOTAN_OK, "%s", err);
    return c;
}

static motan_request *echo_req(motan_client *c, const char *method, const char *text)
{
    motan_request *r = motan_client_request(c, method);
    motan_request_add_arg(r, motan_value_new_string(motan_request_arena(r), text, strlen(text)));
    return r;
}

static int call_ok(motan_client *c)
{
    motan_request *r = echo_req(c, "echo", "hi");
    motan_response *resp;
    int rc = motan_client_call(c, r, &resp);
    motan_response_free(resp);
    motan_request_free(r);
    return rc;
}

/* waitpid with a deadline; the child's raw status, or -1 when it did not end in time. */
static int wait_child(pid_t pid, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    int st;
    while (motan_now_us() < end) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return st;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* ---- fork ----------------------------------------------------------------------------- */

typedef struct slow_call {
    motan_client *c;
    int rc;
} slow_call;

static void *slow_thread(void *arg)
{
    slow_call *s = arg;
    motan_request *r = motan_client_request(s->c, "sleep");
    motan_request_add_arg(r, motan_value_new_int32(motan_request_arena(r), 400));
    motan_response *resp;
    s->rc = motan_client_call(s->c, r, &resp);
    motan_response_free(resp);
    motan_request_free(r);
    return NULL;
}

/* The child's side: every entry point refuses, the free returns. Exit status: 0 or the step. */
static int child_checks(motan_client *c)
{
    alarm(10); /* a hang ends the child with SIGALRM */
    motan_request *r = echo_req(c, "echo", "from the child");
    motan_response *resp = NULL;
    if (motan_client_call(c, r, &resp) != MOTAN_EFORKED || !resp ||
        motan_response_get_code(resp) != MOTAN_EFORKED ||
        !strstr(motan_response_get_errmsg(resp), "fork()"))
        return 1;
    motan_response_free(resp);
    if (motan_client_submit(c, r, 7) != MOTAN_EFORKED)
        return 2;
    if (motan_client_poll(c, 100, &resp, NULL) != MOTAN_EFORKED)
        return 3;
    if (motan_client_wait_ready(c, 100) != MOTAN_EFORKED)
        return 4;
    if (strcmp(motan_errname(MOTAN_EFORKED), "MOTAN_EFORKED"))
        return 5;
    uint64_t t0 = motan_now_us();
    motan_client_free(c);
    if (motan_now_us() - t0 > 2000000)
        return 6;
    motan_request_free(r);
    return 0;
}

/*
 * A client with calls in flight (one blocking call on another thread, one in the pull queue)
 * is forked. The child cannot call and frees the client; the parent is not disturbed: its
 * connection still delivers (the child's free did not take the socket out of the parent's
 * epoll set), the pull queue's fd is not signalled by the child's cancellations, the
 * blocking call returns its answer.
 */
START_TEST(test_fork_with_calls_in_flight)
{
    motan_client *c = new_client();
    ck_assert_int_eq(call_ok(c), MOTAN_OK);
    slow_call s = {c, 1};
    pthread_t th;
    pthread_create(&th, NULL, slow_thread, &s);
    motan_request *queued = motan_client_request(c, "sleep");
    motan_request_add_arg(queued, motan_value_new_int32(motan_request_arena(queued), 300));
    ck_assert_int_eq(motan_client_submit(c, queued, 42), MOTAN_OK);
    usleep(50000); /* both calls are on the wire */

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(child_checks(c));
    int st = wait_child(pid, 15000);
    ck_assert_msg(st != -1, "the child hung");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d (exit %d, signal %d)",
                  st, WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);

    struct pollfd pfd = {motan_client_completion_fd(c), POLLIN, 0};
    int ready = poll(&pfd, 1, 0);
    motan_response *resp = NULL;
    uint64_t tag = 0;
    if (ready == 1) /* legitimately readable only when the call has completed */
        ck_assert_int_eq(motan_client_poll(c, 0, &resp, &tag), 1);
    else
        ck_assert_int_eq(motan_client_poll(c, 3000, &resp, &tag), 1);
    ck_assert_uint_eq(tag, 42);
    ck_assert_msg(motan_response_get_code(resp) == MOTAN_OK, "%s", motan_response_get_errmsg(resp));
    motan_response_free(resp);
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(s.rc, MOTAN_OK);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(call_ok(c), MOTAN_OK);
    motan_request_free(queued);
    motan_client_free(c);
}
END_TEST

/* A child that never touches the client (a Python child's finalizer) only frees it. */
START_TEST(test_fork_child_only_frees)
{
    motan_client *c = new_client();
    ck_assert_int_eq(call_ok(c), MOTAN_OK);
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            alarm(10);
            motan_client_free(c);
            _exit(0);
        }
        int st = wait_child(pid, 15000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: status %d",
                      round, st);
        ck_assert_int_eq(call_ok(c), MOTAN_OK);
    }
    motan_client_free(c);
}
END_TEST

/* ---- out of file descriptors ----------------------------------------------------------- */

/* Open descriptors (not counting the directory's own). */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1;
}

/*
 * With k descriptors left for every k from 0 up, motan_client_new either works or returns
 * MOTAN_ENOMEM naming the errno text; libevent never ends the process (it used to exit(1)
 * when the event_base's signal socketpair could not be made).
 */
START_TEST(test_out_of_descriptors)
{
    int errors = 0, oks = 0;
    for (int k = 0; k <= 12; k++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            alarm(10);
            struct rlimit rl;
            getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = (rlim_t)(open_fds() + k); /* about k numbers left free */
            setrlimit(RLIMIT_NOFILE, &rl);
            char err[256] = "";
            motan_client *c = NULL;
            int rc = motan_client_new("motan2://127.0.0.1:1/com.example.EchoService", &c, err,
                                      sizeof(err));
            if (rc == MOTAN_OK) {
                motan_client_free(c);
                _exit(10);
            }
            _exit(rc == MOTAN_ENOMEM && strstr(err, "Too many open files") ? 11 : 12);
        }
        int st = wait_child(pid, 15000);
        ck_assert_msg(st != -1 && WIFEXITED(st), "k=%d: status %d", k, st);
        ck_assert_msg(WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11,
                      "k=%d: exit %d (1: libevent ended the process)", k, WEXITSTATUS(st));
        errors += WEXITSTATUS(st) == 11;
        oks += WEXITSTATUS(st) == 10;
    }
    ck_assert_int_gt(errors, 0);
    ck_assert_int_gt(oks, 0);
}
END_TEST

static Suite *process_suite(void)
{
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("process");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fork_with_calls_in_flight);
    tcase_add_test(tc, test_fork_child_only_frees);
    tcase_add_test(tc, test_out_of_descriptors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(process_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
