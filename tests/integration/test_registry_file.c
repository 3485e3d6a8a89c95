/*
 * The file registry through the public API: the JSON format of docs/registries.md, edits
 * picked up by polling (interval=50), only changed services notified, a broken file keeping
 * the last lists with errmsg saying why, a missing file, relative paths, both loop modes.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/registry.h>

/* ---- harness -------------------------------------------------------------------------- */

#define MAX_NODES 16
#define POLL_MS 50

typedef struct rec {
    pthread_mutex_t mu;
    int calls;
    size_t n;
    char nodes[MAX_NODES][256];
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_cb(const motan_url *const *nodes, size_t n, void *ud)
{
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->n = n;
    for (size_t i = 0; i < n && i < MAX_NODES; i++) {
        char *t = motan_url_format(nodes[i]);
        snprintf(r->nodes[i], sizeof(r->nodes[i]), "%s", t ? t : "?");
        motan_free(t);
    }
    pthread_mutex_unlock(&r->mu);
}

static int rec_calls(rec *r)
{
    pthread_mutex_lock(&r->mu);
    int c = r->calls;
    pthread_mutex_unlock(&r->mu);
    return c;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

typedef struct env {
    struct event_base *base; /* NULL: built-in loop */
    struct event *ticker;
    motan_loop *loop;
    char dir[256];
    char file[300];
} env;

static void env_init(env *e, int builtin)
{
    char err[256];
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/motan-file-registry-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->dir));
    snprintf(e->file, sizeof(e->file), "%s/services.json", e->dir);
    if (builtin) {
        ck_assert_int_eq(motan_loop_new(&e->loop, err, sizeof(err)), MOTAN_OK);
        return;
    }
    e->base = event_base_new();
    e->ticker = event_new(e->base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(e->ticker, &tv);
    ck_assert_int_eq(motan_loop_new_with_base(e->base, &e->loop, err, sizeof(err)), MOTAN_OK);
}

static void env_free(env *e)
{
    motan_loop_free(e->loop);
    if (e->base) {
        event_free(e->ticker);
        event_base_free(e->base);
    }
    unlink(e->file);
    rmdir(e->dir);
}

static int wait_calls(env *e, rec *r, int target, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (rec_calls(r) < target && motan_now_us() < end) {
        if (e->base)
            event_base_loop(e->base, EVLOOP_ONCE);
        else
            usleep(2000);
    }
    return rec_calls(r) >= target;
}

static void run_for(env *e, int ms)
{
    rec never;
    rec_init(&never);
    wait_calls(e, &never, 1, ms);
}

/* Writes the file through a rename, as editors and deploy tools do. */
static void write_file(const char *path, const char *text)
{
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(rename(tmp, path), 0);
}

static motan_url *url(const char *text)
{
    motan_url *u = NULL;
    char err[256];
    ck_assert_msg(motan_url_parse(text, strlen(text), &u, err, sizeof(err)) == MOTAN_OK, "%s: %s",
                  text, err);
    return u;
}

static motan_registry *registry(env *e, const char *text)
{
    motan_url *u = url(text);
    motan_registry *r = NULL;
    char err[256];
    int rc = motan_registry_new(e->loop, u, &r, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "%s: %s", text, err);
    motan_url_free(u);
    return r;
}

static motan_registry *file_registry(env *e)
{
    char text[400];
    snprintf(text, sizeof(text), "file://%s?interval=%d", e->file, POLL_MS);
    return registry(e, text);
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

static void check_format_and_edits(int builtin)
{
    env e;
    env_init(&e, builtin);
    write_file(e.file, DOC1);
    motan_registry *reg = file_registry(&e);
    motan_url *echo = url("motan2:///com.example.EchoService");
    motan_url *echo_b = url("motan2:///com.example.EchoService?group=groupB");
    motan_url *other = url("motan2:///com.example.Other?group=default_rpc");
    motan_url *absent = url("motan2:///com.example.Absent");
    rec r1, r2, r3, r4;
    rec_init(&r1);
    rec_init(&r2);
    rec_init(&r3);
    rec_init(&r4);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo, rec_cb, &r1), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo_b, rec_cb, &r2), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, other, rec_cb, &r3), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(reg, absent, rec_cb, &r4), MOTAN_OK);
    if (!builtin)
        ck_assert_int_eq(rec_calls(&r1), 0);
    ck_assert(wait_calls(&e, &r1, 1, 2000));
    ck_assert(wait_calls(&e, &r2, 1, 2000));
    ck_assert(wait_calls(&e, &r3, 1, 2000));
    ck_assert(wait_calls(&e, &r4, 1, 2000));
    ck_assert_uint_eq(r1.n, 2);
    ck_assert_str_eq(r1.nodes[0],
                     "motan2://127.0.0.1:8002/com.example.EchoService?weight=3&group=default_rpc");
    ck_assert_str_eq(r1.nodes[1],
                     "motan2://127.0.0.1:8003/com.example.EchoService?group=default_rpc");
    ck_assert_uint_eq(r2.n, 3);
    ck_assert_str_eq(r2.nodes[0], "motan2://[::1]:9001/com.example.EchoService?group=groupB");
    ck_assert_str_eq(r2.nodes[1],
                     "motan2://[unix:/tmp/echo.sock]/com.example.EchoService?group=groupB");
    ck_assert_str_eq(r2.nodes[2],
                     "rule://0.0.0.0/com.example.EchoService?weights=default_rpc:3,groupB:1");
    ck_assert_uint_eq(r3.n, 1);
    ck_assert_str_eq(r3.nodes[0], "motan2://10.0.0.1:8002/com.example.Other?group=default_rpc");
    ck_assert_uint_eq(r4.n, 0); /* not in the file: known to be empty */
    char msg[512];
    errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");

    /* Rewritten with the same content (new inode, new mtime): nobody is told. */
    write_file(e.file, DOC1);
    run_for(&e, 4 * POLL_MS);
    ck_assert_int_eq(rec_calls(&r1), 1);
    ck_assert_int_eq(rec_calls(&r3), 1);

    /* One list changes: within ~2 intervals its listener is told, the others are not. */
    uint64_t t0 = motan_now_us();
    write_file(e.file, DOC2);
    ck_assert(wait_calls(&e, &r1, 2, 2000));
    ck_assert_uint_lt(motan_now_us() - t0, 3u * POLL_MS * 1000u + 100000u);
    ck_assert_uint_eq(r1.n, 2);
    ck_assert_str_eq(r1.nodes[0],
                     "motan2://127.0.0.1:8003/com.example.EchoService?group=default_rpc");
    ck_assert_str_eq(r1.nodes[1],
                     "motan2://127.0.0.1:8004/com.example.EchoService?group=default_rpc");
    run_for(&e, 3 * POLL_MS);
    ck_assert_int_eq(rec_calls(&r1), 2);
    ck_assert_int_eq(rec_calls(&r2), 1);
    ck_assert_int_eq(rec_calls(&r3), 1);
    ck_assert_int_eq(rec_calls(&r4), 1);

    /* The same nodes in another order are the same list. */
    write_file(e.file, "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                       "[\"127.0.0.1:8004\", \"127.0.0.1:8003\"]}}}");
    ck_assert(wait_calls(&e, &r2, 2, 2000)); /* groupB went away: empty */
    ck_assert_uint_eq(r2.n, 0);
    ck_assert(wait_calls(&e, &r3, 2, 2000));
    run_for(&e, 3 * POLL_MS);
    ck_assert_int_eq(rec_calls(&r1), 2);

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
static void expect_broken(env *e, motan_registry *reg, rec *r, const char *text,
                          const char *const *needles)
{
    int calls = rec_calls(r);
    write_file(e->file, text);
    char msg[512] = "";
    uint64_t end = motan_now_us() + 2000000;
    int all = 0;
    while (!all && motan_now_us() < end) {
        run_for(e, 10);
        errmsg(reg, msg, sizeof(msg));
        all = 1;
        for (size_t i = 0; needles[i]; i++)
            all &= strstr(msg, needles[i]) != NULL;
    }
    ck_assert_msg(strstr(msg, e->file) != NULL, "%s", msg);
    for (size_t i = 0; needles[i]; i++)
        ck_assert_msg(strstr(msg, needles[i]) != NULL, "\"%s\" not in \"%s\"", needles[i], msg);
    run_for(e, 3 * POLL_MS);
    ck_assert_int_eq(rec_calls(r), calls);
    ck_assert_uint_eq(r->n, 2);
    errmsg(reg, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, e->file) != NULL, "the message stays: %s", msg);
}

START_TEST(test_broken_file)
{
    env e;
    env_init(&e, 0);
    write_file(e.file, DOC1);
    motan_registry *reg = file_registry(&e);
    motan_url *echo = url("motan2:///com.example.EchoService");
    rec r;
    rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo, rec_cb, &r), MOTAN_OK);
    ck_assert(wait_calls(&e, &r, 1, 2000));
    ck_assert_uint_eq(r.n, 2);

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
    write_file(e.file, "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": "
                       "[\"127.0.0.1:9009\"]}}}");
    ck_assert(wait_calls(&e, &r, 2, 2000));
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.nodes[0],
                     "motan2://127.0.0.1:9009/com.example.EchoService?group=default_rpc");
    char msg[512];
    errmsg(reg, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");

    /* Deleted: the list stays, errmsg says the file is missing. */
    unlink(e.file);
    run_for(&e, 3 * POLL_MS);
    errmsg(reg, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "missing") != NULL, "%s", msg);
    ck_assert_int_eq(rec_calls(&r), 2);

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
    motan_url *echo = url("motan2:///com.example.EchoService");
    rec r;
    rec_init(&r);
    ck_assert_int_eq(motan_registry_subscribe(reg, echo, rec_cb, &r), MOTAN_OK);
    run_for(&e, 3 * POLL_MS);
    ck_assert_int_eq(rec_calls(&r), 0); /* nothing known yet */

    write_file(e.file, DOC1);
    ck_assert(wait_calls(&e, &r, 1, 2000));
    ck_assert_uint_eq(r.n, 2);
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
    write_file(e.file, DOC1);
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(e.dir), 0);
    motan_registry *rel = registry(&e, "file://./services.json?interval=50");
    motan_registry *rel2 = registry(&e, "file://services.json");
    char text[400];
    snprintf(text, sizeof(text), "file://localhost%s", e.file);
    motan_registry *local = registry(&e, text);
    ck_assert_int_eq(chdir(cwd), 0); /* resolved at creation */
    motan_url *other = url("motan2:///com.example.Other");
    rec r1, r2, r3;
    rec_init(&r1);
    rec_init(&r2);
    rec_init(&r3);
    ck_assert_int_eq(motan_registry_subscribe(rel, other, rec_cb, &r1), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(rel2, other, rec_cb, &r2), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(local, other, rec_cb, &r3), MOTAN_OK);
    ck_assert(wait_calls(&e, &r1, 1, 2000));
    ck_assert(wait_calls(&e, &r2, 1, 2000));
    ck_assert(wait_calls(&e, &r3, 1, 2000));
    ck_assert_str_eq(r1.nodes[0], "motan2://10.0.0.1:8002/com.example.Other?group=default_rpc");
    ck_assert_str_eq(r2.nodes[0], r1.nodes[0]);
    ck_assert_str_eq(r3.nodes[0], r1.nodes[0]);
    motan_registry_free(rel);
    motan_registry_free(rel2);
    motan_registry_free(local);

    /* No file name, bad interval, register. */
    const char *bad[] = {"file:///", "file:///x.json?interval=0", "file://h:1/x.json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *u = url(bad[i]);
        motan_registry *r = NULL;
        char err[256] = "";
        ck_assert_int_eq(motan_registry_new(e.loop, u, &r, err, sizeof(err)), MOTAN_EURL);
        ck_assert_msg(strstr(err, "file registry") != NULL, "%s", err);
        motan_url_free(u);
    }
    motan_registry *reg = file_registry(&e);
    motan_url *node = url("motan2://127.0.0.1:9000/com.example.Other");
    ck_assert_int_eq(motan_registry_register(reg, node), MOTAN_EUNSUPPORTED);
    ck_assert_int_eq(motan_registry_unregister(reg, node), MOTAN_EUNSUPPORTED);
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
    tcase_add_test(tc, test_format_and_edits_caller_loop);
    tcase_add_test(tc, test_format_and_edits_builtin_loop);
    tcase_add_test(tc, test_broken_file);
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
