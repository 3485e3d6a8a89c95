/*
 * The programs in examples/ run against real servers and print what their comments say:
 * sync_call and async_libevent against one test server, cluster_failover against three
 * with one killed mid-run, zookeeper against a private ZooKeeper with servers registered,
 * echo_server answering sync_call and draining on SIGTERM.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_srv.h"
#include "zk_proc.h"

/* Runs an example with args; its stdout in out (NUL-terminated), its exit status returned. */
static int run_example(const char *name, const char *const *args, char *out, size_t outlen)
{
    char path[512], cmd[4096];
    snprintf(path, sizeof(path), "%s/%s/examples/%s", tu_root(), tu_build(), name);
    size_t n = (size_t)snprintf(cmd, sizeof(cmd), "'%s'", path);
    for (int i = 0; args && args[i]; i++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", args[i]);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, outlen - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_sync_call)
{
    tu_server s;
    ck_assert_int_eq(tu_server_start(&s, NULL), 0);
    char url[128], out[4096];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService", s.port);
    const char *args[] = {url, NULL};
    ck_assert_int_eq(run_example("sync_call", args, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "echo -> hello"), "%s", out);
    ck_assert_msg(strstr(out, "add -> 42"), "%s", out);
    ck_assert_msg(strstr(out, "fail -> MOTAN_EREMOTE errcode 30001 errtype 2: nope"), "%s", out);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(test_async_libevent)
{
    tu_server s;
    ck_assert_int_eq(tu_server_start(&s, NULL), 0);
    char url[128], out[4096];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService", s.port);
    const char *args[] = {url, "500", NULL};
    ck_assert_int_eq(run_example("async_libevent", args, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "async calls 500 ok 500 failed 0"), "%s", out);
    ck_assert_int_eq(tu_server_stop(&s), 0);
}
END_TEST

START_TEST(test_cluster_failover)
{
    tu_server s[3];
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        const char *a[] = {"--name", names[i], NULL};
        ck_assert_int_eq(tu_server_start(&s[i], a), 0);
    }
    char url[256], out[4096];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/com.example.EchoService",
             s[0].port, s[1].port, s[2].port);
    /* The example runs in the background while one server is killed: once it reports 4000
     * calls done (so b has answered some and calls are in flight), not after a guessed sleep. */
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/examples/cluster_failover", tu_root(), tu_build());
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(path, path, url, "40000", "16", "2000", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(in);
    size_t got = 0;
    int killed_at = -1, done_after_kill = 0;
    char line[256];
    while (fgets(line, sizeof(line), in)) {
        int n;
        if (sscanf(line, "done %d", &n) == 1) {
            if (killed_at < 0 && n >= 4000) {
                /* The example waits while b dies: on a loaded machine it could otherwise
                 * finish most of its calls before the kill lands, b's share with them. */
                int stopped;
                ck_assert_int_eq(kill(pid, SIGSTOP), 0);
                ck_assert_int_eq(waitpid(pid, &stopped, WUNTRACED), pid);
                tu_server_kill(&s[1]);
                ck_assert_int_eq(kill(pid, SIGCONT), 0);
                killed_at = n;
            } else if (killed_at >= 0 && n > killed_at) {
                done_after_kill = n;
            }
            continue;
        }
        size_t l = strlen(line);
        if (got + l < sizeof(out)) {
            memcpy(out + got, line, l);
            got += l;
        }
    }
    out[got] = '\0';
    fclose(in);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    ck_assert_msg(strstr(out, "calls 40000 ok 40000 failed 0"), "%s", out);
    /* The kill happened mid-run: calls went on after it, all of them answered. */
    ck_assert_msg(killed_at >= 4000 && killed_at < 40000, "killed at %d", killed_at);
    ck_assert_msg(done_after_kill > killed_at, "no call completed after the kill at %d", killed_at);
    ck_assert_msg(strstr(out, "  a "), "%s", out);
    ck_assert_msg(strstr(out, "  c "), "%s", out);
    /* b answered before it died (round robin gave it calls), and fewer than a and c. */
    int na = 0, nb = 0, nc = 0;
    const char *pa = strstr(out, "  a "), *pb = strstr(out, "  b "), *pc = strstr(out, "  c ");
    ck_assert_msg(pb, "b answered nothing before the kill: %s", out);
    sscanf(pa + 2, "%*s %d", &na);
    sscanf(pb + 2, "%*s %d", &nb);
    sscanf(pc + 2, "%*s %d", &nc);
    ck_assert_msg(nb > 0 && nb < na && nb < nc, "a %d b %d c %d", na, nb, nc);
    ck_assert_int_eq(tu_server_stop(&s[0]), 0);
    ck_assert_int_eq(tu_server_stop(&s[2]), 0);
}
END_TEST

START_TEST(test_echo_server)
{
    /* echo_server PORT prints "listening 127.0.0.1:PORT", serves echo and add, drains on SIGTERM. */
    char url[128], out[4096];
    int port = 0;
    pid_t pid = tu_echo_server_start(&port);
    ck_assert_int_gt(pid, 0);
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService", port);
    const char *args[] = {url, NULL};
    ck_assert_int_eq(run_example("sync_call", args, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "echo -> hello"), "%s", out);
    ck_assert_msg(strstr(out, "add -> 42"), "%s", out);
    ck_assert_msg(strstr(out, "fail -> MOTAN_EREMOTE errcode 500 errtype 1: method fail is not found"),
                  "%s", out);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

static tu_zk g_zk;

START_TEST(test_zookeeper)
{
    char reg[128], url[256], out[4096];
    snprintf(reg, sizeof(reg), "zookeeper://%s", g_zk.hosts);
    tu_server s[2];
    const char *names[] = {"zk-a", "zk-b"};
    for (int i = 0; i < 2; i++) {
        const char *a[] = {"--name", names[i], "--register", reg, "--group", "demo", NULL};
        ck_assert_int_eq(tu_server_start(&s[i], a), 0);
    }
    snprintf(url, sizeof(url), "zookeeper://%s/com.example.EchoService?group=demo", g_zk.hosts);
    const char *args[] = {url, NULL};
    int rc = run_example("zookeeper", args, out, sizeof(out));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "servers from ZooKeeper: 2"), "%s", out);
    ck_assert_msg(strstr(out, "answered by zk-"), "%s", out);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(tu_server_stop(&s[i]), 0);
}
END_TEST

static Suite *examples_suite(void)
{
    Suite *s = suite_create("examples");
    TCase *tc = tcase_create("examples");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sync_call);
    tcase_add_test(tc, test_async_libevent);
    tcase_add_test(tc, test_cluster_failover);
    tcase_add_test(tc, test_zookeeper);
    tcase_add_test(tc, test_echo_server);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (tu_zk_start(&g_zk) != 0)
        return 1;
    SRunner *sr = srunner_create(examples_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_zk_free(&g_zk);
    return failed ? 1 : 0;
}
