/*
 * The file registry through the public API: the JSON format of docs/registries.md, edits
 * picked up by polling (interval=50), only changed services notified, a broken file keeping
 * the last lists with errmsg saying why, a missing file, relative paths, both loop modes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <motan/registry.h>

#include "testutil.h"
#include "tu_registry.h"

/* ---- harness -------------------------------------------------------------------------- */

#define POLL_MS 50

/* A loop and a fresh directory for the registry's file. */
typedef struct env {
    tu_env t;
    char dir[256];
    char file[300];
} env;

static void env_init(env *e, int builtin)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/motan-file-registry-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->dir));
    snprintf(e->file, sizeof(e->file), "%s/services.json", e->dir);
    tu_env_init_mode(&e->t, builtin);
}

static void env_free(env *e)
{
    tu_env_free(&e->t);
    unlink(e->file);
    rmdir(e->dir);
}


static motan_registry *file_registry(env *e)
{
    char text[400];
    snprintf(text, sizeof(text), "file://%s?interval=%d", e->file, POLL_MS);
    return tu_registry(e->t.loop, text);
}

static void errmsg(motan_registry *r, char *buf, size_t len) { motan_registry_errmsg(r, buf, len); }

static const char *const DOC1 =
    "{\"services\": {\n"
    "  \"com.example.EchoService\": {\n"
    "    \"default_rpc\": [\"motan2://127.0.0.1:8002/com.example.EchoService?weight=3\",\n"
    "                    \"127.0.0.1:8003\"],\n"
    "    \"groupB\": [\"[::1]:9001\", \"[unix:/tmp/echo.sock]\",\n"
    "               \"rule://0.0.0.0/com.example.EchoService?weights=default_rpc:3,groupB:1\"]\n"
    "  },\n"
    "  \"com.example.Other\": {\"default_rpc\": [\"10.0.0.1:8002\"]}\n"
    "}}\n";

/* DOC1 with EchoService/default_rpc changed and Other unchanged. */
static const char *const DOC2 =
    "{\"services\": {\n"
    "  \"com.example.EchoService\": {\n"
    "    \"default_rpc\": [\"127.0.0.1:8003\", \"127.0.0.1:8004\"],\n"
    "    \"groupB\": [\"[::1]:9001\", \"[unix:/tmp/echo.sock]\",\n"
    "               \"rule://0.0.0.0/com.example.EchoService?weights=default_rpc:3,groupB:1\"]\n"
    "  },\n"
    "  \"com.example.Other\": {\"default_rpc\": [\"10.0.0.1:8002\"]}\n"
    "}}\n";

/* ---- tests ---------------------------------------------------------------------------- */

/* Two subscriptions of one path and group that differ in protocol both get every list. */
START_TEST(test_same_service_two_protocols)
{
    env e;
    env_init(&e, 0);
    tu_write_renamed(e.file, DOC1);
    motan_registry *reg = file_registry(&e);
    motan_url *m2 = tu_url("motan2:///com.example.EchoService");
    motan_url *m1 = tu_url("motan:///com.example.EchoService");
    tu_rec r1, r2;
    tu_rec_init(&r1);
    tu_rec_init(&r2);
    ck_assert_int_eq(motan_registry_subscribe(reg, m2, tu_rec_cb, &r1), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, m1, tu_rec_cb, &r2), MOTAN_OK);
    ck_assert(tu_rec_wait(&e.t, &r1, 1, 2000));
    ck_assert(tu_rec_wait(&e.t, &r2, 1, 2000));
    ck_assert_uint_eq(tu_rec_n(&r1), 2);
    ck_assert_uint_eq(tu_rec_n(&r2), 2);
    tu_write_renamed(e.file, DOC2); /* default_rpc now 8003, 8004 */
    ck_assert(tu_rec_wait(&e.t, &r1, 2, 2000));
    ck_assert(tu_rec_wait(&e.t, &r2, 2, 2000));
    tu_list a, b;
    tu_rec_last(&r1, &a);
    tu_rec_last(&r2, &b);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_uint_eq(a.n, 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert_str_eq(b.nodes[i], a.nodes[i]);
    ck_assert_ptr_nonnull(strstr(b.nodes[1], "127.0.0.1:8004"));
    motan_registry_free(reg);
    motan_url_free(m2);
    motan_url_free(m1);
    env_free(&e);
}
END_TEST

static void check_format_and_edits(int builtin)
{
    env e;
    env_init(&e, builtin);
    tu_write_renamed(e.file, DOC1);
    motan_registry *reg = file_registry(&e);
    motan_url *echo = tu_url("motan2:///com.example.EchoService");
    motan_url *echo_b = tu_url("motan2:///com.example.EchoService?group=groupB");
    motan_url *other = tu_url("motan2:///com.example.Other?group=default_rpc");
    motan_url *absent = tu_url("motan2:///com.example.Absent");
    tu_rec r1, r2, r3, r4;
    tu_rec_init(&r1);
    tu_rec_init(&r2);
    tu_rec_init(&r3);
    tu_rec_init(&r4);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo, tu_rec_cb, &r1), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo_b, tu_rec_cb, &r2), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, other, tu_rec_cb, &r3), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, absent, tu_rec_cb, &r4), MOTAN_OK);
    if (!builtin)
        ck_assert_int_eq(tu_rec_calls(&r1), 0);
    ck_assert(tu_rec_wait(&e.t, &r1, 1, 2000));
    ck_assert(tu_rec_wait(&e.t, &r2, 1, 2000));
    ck_assert(tu_rec_wait(&e.t, &r3, 1, 2000));
    ck_assert(tu_rec_wait(&e.t, &r4, 1, 2000));
    tu_list l;
    tu_rec_last(&r1, &l);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.nodes[0],
                     "motan2://127.0.0.1:8002/com.example.EchoService?weight=3&group=default_rpc");
    ck_assert_str_eq(l.nodes[1],
                     "motan2://127.0.0.1:8003/com.example.EchoService?group=default_rpc");
    tu_rec_last(&r2, &l);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.nodes[0], "motan2://[::1]:9001/com.example.EchoService?group=groupB");
    ck_assert_str_eq(l.nodes[1],
                     "motan2://[unix:/tmp/echo.sock]/com.example.EchoService?group=groupB");
    ck_assert_str_eq(l.nodes[2],
                     "rule://0.0.0.0/com.example.EchoService?weights=default_rpc:3,groupB:1");
    tu_rec_last(&r3, &l);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.nodes[0], "motan2://10.0.0.1:8002/com.example.Other?group=default_rpc");
    ck_assert_uint_eq(tu_rec_n(&r4), 0); /* not in the file: known to be empty */
    char msg[512];
    errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");

    /* Rewritten with the same content (new inode, new mtime): nobody is told. */
    tu_write_renamed(e.file, DOC1);
    tu_run_for(&e.t, 4 * POLL_MS);
    ck_assert_int_eq(tu_rec_calls(&r1), 1);
    ck_assert_int_eq(tu_rec_calls(&r3), 1);

    /* One list changes: within ~2 intervals its listener is told, the others are not. */
    uint64_t t0 = motan_now_us();
    tu_write_renamed(e.file, DOC2);
    ck_assert(tu_rec_wait(&e.t, &r1, 2, 2000));
    ck_assert_uint_lt(motan_now_us() - t0, 3u * POLL_MS * 1000u + 100000u);
    tu_rec_last(&r1, &l);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.nodes[0],
                     "motan2://127.0.0.1:8003/com.example.EchoService?group=default_rpc");
    ck_assert_str_eq(l.nodes[1],
                     "motan2://127.0.0.1:8004/com.example.EchoService?group=default_rpc");
    tu_run_for(&e.t, 3 * POLL_MS);
    ck_assert_int_eq(tu_rec_calls(&r1), 2);
    ck_assert_int_eq(tu_rec_calls(&r2), 1);
    ck_assert_int_eq(tu_rec_calls(&r3), 1);
    ck_assert_int_eq(tu_rec_calls(&r4), 1);

    /* The same nodes in another order are the same list. */
    tu_write_renamed(e.file, "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                       "[\"127.0.0.1:8004\", \"127.0.0.1:8003\"]}}}");
    ck_assert(tu_rec_wait(&e.t, &r2, 2, 2000)); /* groupB went away: empty */
    ck_assert_uint_eq(tu_rec_n(&r2), 0);
    ck_assert(tu_rec_wait(&e.t, &r3, 2, 2000));
    tu_run_for(&e.t, 3 * POLL_MS);
    ck_assert_int_eq(tu_rec_calls(&r1), 2);

    motan_registry_free(reg);
    motan_url_free(echo);
    motan_url_free(echo_b);
    motan_url_free(other);
    motan_url_free(absent);
    env_free(&e);
}

START_TEST(test_format_and_edits_caller_loop) { check_format_and_edits(0); }
END_TEST

START_TEST(test_format_and_edits_builtin_loop) { check_format_and_edits(1); }
END_TEST

/* A broken file keeps the last lists, errmsg says why; a fixed file resumes. */
static void expect_broken(env *e, motan_registry *reg, tu_rec *r, const char *text,
                          const char *const *needles)
{
    int calls = tu_rec_calls(r);
    tu_write_renamed(e->file, text);
    char msg[512] = "";
    uint64_t end = motan_now_us() + 2000000;
    int all = 0;
    while (!all && motan_now_us() < end) {
        tu_run_for(&e->t, 10);
        errmsg(reg, msg, sizeof(msg));
        all = 1;
        for (size_t i = 0; needles[i]; i++)
            all &= strstr(msg, needles[i]) != NULL;
    }
    ck_assert_msg(strstr(msg, e->file) != NULL, "%s", msg);
    for (size_t i = 0; needles[i]; i++)
        ck_assert_msg(strstr(msg, needles[i]) != NULL, "\"%s\" not in \"%s\"", needles[i], msg);
    tu_run_for(&e->t, 3 * POLL_MS);
    ck_assert_int_eq(tu_rec_calls(r), calls);
    ck_assert_uint_eq(tu_rec_n(r), 2);
    errmsg(reg, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, e->file) != NULL, "the message stays: %s", msg);
}

/* A registry on DOC1 (caller's loop), r subscribed to EchoService and told its 2 nodes. */
static motan_registry *echo_registry(env *e, tu_rec *r, motan_url **echo)
{
    env_init(e, 0);
    tu_write_renamed(e->file, DOC1);
    motan_registry *reg = file_registry(e);
    *echo = tu_url("motan2:///com.example.EchoService");
    tu_rec_init(r);
    ck_assert_int_eq(motan_registry_subscribe(reg, *echo, tu_rec_cb, r), MOTAN_OK);
    ck_assert(tu_rec_wait(&e->t, r, 1, 2000));
    ck_assert_uint_eq(tu_rec_n(r), 2);
    return reg;
}

START_TEST(test_broken_file)
{
    env e;
    tu_rec r;
    motan_url *echo;
    motan_registry *reg = echo_registry(&e, &r, &echo);

    const char *json_err[] = {":3:", NULL};
    expect_broken(&e, reg, &r, "{\"services\": {\n  \"a\": [\n,]}}", json_err);
    const char *shape_err[] = {"\"services\"", NULL};
    expect_broken(&e, reg, &r, "{\"servers\": {}}", shape_err);
    const char *group_err[] = {"services[\"com.example.EchoService\"][\"g\"]", "not an array",
                               NULL};
    expect_broken(&e, reg, &r, "{\"services\": {\"com.example.EchoService\": {\"g\": \"x:1\"}}}",
                  group_err);
    const char *node_err[] = {"services[\"com.example.EchoService\"][\"default_rpc\"][1]",
                              "127.0.0.1:http", NULL};
    expect_broken(&e, reg, &r,
                  "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                  "[\"127.0.0.1:8003\", \"127.0.0.1:http\"]}}}",
                  node_err);
    const char *path_err[] = {"[0]", "path", NULL};
    expect_broken(&e, reg, &r,
                  "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                  "[\"motan2://127.0.0.1:8003/com.example.Wrong\"]}}}",
                  path_err);
    const char *noport_err[] = {"[0]", "port", NULL};
    expect_broken(&e, reg, &r,
                  "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                  "[\"127.0.0.1\"]}}}",
                  noport_err);

    /* Fixed: the new list arrives and errmsg clears. */
    tu_write_renamed(e.file, "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                       "[\"127.0.0.1:9009\"]}}}");
    ck_assert(tu_rec_wait(&e.t, &r, 2, 2000));
    tu_list l;
    tu_rec_last(&r, &l);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.nodes[0],
                     "motan2://127.0.0.1:9009/com.example.EchoService?group=default_rpc");
    char msg[512];
    errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");

    /* Deleted: the list stays, errmsg says the file is missing. */
    unlink(e.file);
    tu_run_for(&e.t, 3 * POLL_MS);
    errmsg(reg, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "missing") != NULL, "%s", msg);
    ck_assert_int_eq(tu_rec_calls(&r), 2);

    motan_registry_free(reg);
    motan_url_free(echo);
    env_free(&e);
}
END_TEST

/* Waits (running the loop) until errmsg contains needle; returns the message. */
static const char *wait_errmsg(env *e, motan_registry *reg, const char *needle, char *msg,
                               size_t len)
{
    uint64_t end = motan_now_us() + 2000000;
    do {
        tu_run_for(&e->t, 10);
        errmsg(reg, msg, len);
    } while (!strstr(msg, needle) && motan_now_us() < end);
    ck_assert_msg(strstr(msg, needle) != NULL, "\"%s\" not in \"%s\"", needle, msg);
    return msg;
}

/*
 * What is not a regular JSON file of sane size is refused without reading it: a named pipe
 * (whose open would wait for a writer, blocking the loop thread for good), a directory, a
 * file over 64 MiB (its size is checked before a byte is read, and it is not read again at
 * every poll); the last lists stay and errmsg says why.
 */
START_TEST(test_unusable_files)
{
    env e;
    tu_rec r;
    motan_url *echo;
    motan_registry *reg = echo_registry(&e, &r, &echo);
    char msg[512];

    ck_assert_int_eq(unlink(e.file), 0);
    ck_assert_int_eq(mkfifo(e.file, 0600), 0);
    wait_errmsg(&e, reg, "is a named pipe, not a regular file", msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "keeping the last lists") != NULL, "%s", msg);
    ck_assert_int_eq(unlink(e.file), 0);

    ck_assert_int_eq(mkdir(e.file, 0700), 0);
    wait_errmsg(&e, reg, "is a directory", msg, sizeof(msg));
    ck_assert_int_eq(rmdir(e.file), 0);

    /* A sparse file of 65 MiB: refused by its size, and never read (no buffer for it). */
    char big[400];
    snprintf(big, sizeof(big), "%s.big", e.file);
    FILE *f = fopen(big, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 65 << 20), 0);
    fclose(f);
    ck_assert_int_eq(rename(big, e.file), 0);
    wait_errmsg(&e, reg, "is 68157440 bytes, over the file registry's limit of 64 MiB", msg,
                sizeof(msg));
    tu_count_allocs_start();
    tu_run_for(&e.t, 5 * POLL_MS); /* polls that find it unchanged: nothing read or allocated */
    tu_count_allocs_stop();
    ck_assert_uint_eq(tu_allocs(), 0);
    ck_assert_int_eq(tu_rec_calls(&r), 1);
    ck_assert_uint_eq(tu_rec_n(&r), 2);

    tu_write_renamed(e.file, "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                       "[\"127.0.0.1:9009\"]}}}");
    ck_assert(tu_rec_wait(&e.t, &r, 2, 2000));
    ck_assert_uint_eq(tu_rec_n(&r), 1);
    errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");
    motan_registry_free(reg);
    motan_url_free(echo);
    env_free(&e);
}
END_TEST

START_TEST(test_missing_file)
{
    env e;
    env_init(&e, 0);
    motan_registry *reg = file_registry(&e);
    char msg[512];
    errmsg(reg, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "missing") && strstr(msg, e.file), "%s", msg);
    motan_url *echo = tu_url("motan2:///com.example.EchoService");
    tu_rec r;
    tu_rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo, tu_rec_cb, &r), MOTAN_OK);
    tu_run_for(&e.t, 3 * POLL_MS);
    ck_assert_int_eq(tu_rec_calls(&r), 0); /* nothing known yet */

    tu_write_renamed(e.file, DOC1);
    ck_assert(tu_rec_wait(&e.t, &r, 1, 2000));
    ck_assert_uint_eq(tu_rec_n(&r), 2);
    errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");
    motan_registry_free(reg);
    motan_url_free(echo);
    env_free(&e);
}
END_TEST

START_TEST(test_relative_and_localhost_paths)
{
    env e;
    env_init(&e, 0);
    tu_write_renamed(e.file, DOC1);
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(e.dir), 0);
    motan_registry *rel = tu_registry(e.t.loop, "file://./services.json?interval=50");
    motan_registry *rel2 = tu_registry(e.t.loop, "file://services.json");
    char text[400];
    snprintf(text, sizeof(text), "file://localhost%s", e.file);
    motan_registry *local = tu_registry(e.t.loop, text);
    ck_assert_int_eq(chdir(cwd), 0); /* resolved at creation */
    motan_url *other = tu_url("motan2:///com.example.Other");
    tu_rec r1, r2, r3;
    tu_rec_init(&r1);
    tu_rec_init(&r2);
    tu_rec_init(&r3);
    ck_assert_int_eq(motan_registry_subscribe(rel, other, tu_rec_cb, &r1), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(rel2, other, tu_rec_cb, &r2), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(local, other, tu_rec_cb, &r3), MOTAN_OK);
    ck_assert(tu_rec_wait(&e.t, &r1, 1, 2000));
    ck_assert(tu_rec_wait(&e.t, &r2, 1, 2000));
    ck_assert(tu_rec_wait(&e.t, &r3, 1, 2000));
    tu_list l1, l2, l3;
    tu_rec_last(&r1, &l1);
    tu_rec_last(&r2, &l2);
    tu_rec_last(&r3, &l3);
    ck_assert_str_eq(l1.nodes[0], "motan2://10.0.0.1:8002/com.example.Other?group=default_rpc");
    ck_assert_str_eq(l2.nodes[0], l1.nodes[0]);
    ck_assert_str_eq(l3.nodes[0], l1.nodes[0]);
    motan_registry_free(rel);
    motan_registry_free(rel2);
    motan_registry_free(local);

    /* No file name, bad interval; a node without a port (publishing: test_registry_file_write). */
    const char *bad[] = {"file:///", "file:///x.json?interval=0", "file://h:1/x.json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *u = tu_url(bad[i]);
        motan_registry *r = NULL;
        char err[256] = "";
        ck_assert_int_eq(motan_registry_new(e.t.loop, u, &r, err, sizeof(err)), MOTAN_EURL);
        ck_assert_msg(strstr(err, "file registry") != NULL, "%s", err);
        motan_url_free(u);
    }
    motan_registry *reg = file_registry(&e);
    motan_url *node = tu_url("motan2://127.0.0.1/com.example.Other");
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_EINVAL);
    ck_assert_int_eq(motan_registry_unregister(reg, node), MOTAN_EINVAL);
    motan_registry_free(reg);
    motan_url_free(node);
    motan_url_free(other);
    env_free(&e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("registry_file");
    TCase *tc = tcase_create("file");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_same_service_two_protocols);
    tcase_add_test(tc, test_format_and_edits_caller_loop);
    tcase_add_test(tc, test_format_and_edits_builtin_loop);
    tcase_add_test(tc, test_broken_file);
    tcase_add_test(tc, test_unusable_files);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_relative_and_localhost_paths);
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
