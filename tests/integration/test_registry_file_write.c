/*
 * Publishing through the file registry (docs/registries.md, "file: publishing"), with real
 * files, processes and locks: register writes the node before it returns and other
 * registries polling the file see it; entries of others are kept; two motan-test-server
 * processes publish into one file; unregister and free take out exactly what was
 * published; a file the readers would refuse is never overwritten; unwritable places and a
 * held lock give a clear errmsg and are retried without blocking; readers polling during
 * hundreds of rewrites by three processes never see a broken file, and no update is lost.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <pthread.h>
#include <motan/registry.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_registry.h"

#define SVC "com.example.EchoService"
#define POLL_MS 50

static int ms(int v) { return tu_slow() ? v * 5 : v; }

/* ---- harness -------------------------------------------------------------------------- */

/*
 * A fresh directory, file is <dir>/services.json (not created), and a built-in loop unless
 * the test forks children that start threads first (TSan forbids that in a threaded process).
 */
typedef struct fenv {
    tu_env t;
    char dir[256];
    char file[300];
    char lock[310];
} fenv;

static void fenv_init_dir(fenv *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/motan-file-write-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->dir));
    snprintf(e->file, sizeof(e->file), "%s/services.json", e->dir);
    snprintf(e->lock, sizeof(e->lock), "%s.lock", e->file);
}

static void fenv_init(fenv *e)
{
    fenv_init_dir(e);
    tu_env_init_builtin(&e->t);
}

/* Back to one thread, for a fork. */
static void fenv_stop_loop(fenv *e)
{
    tu_env_free(&e->t);
    memset(&e->t, 0, sizeof(e->t));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static void fenv_free(fenv *e)
{
    tu_env_free(&e->t);
    chmod(e->dir, 0700);
    nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static motan_registry *file_registry(fenv *e, const char *path)
{
    char text[512];
    snprintf(text, sizeof(text), "file://%s?interval=%d", path ? path : e->file, POLL_MS);
    return tu_registry(e->t.loop, text);
}

/* The file's document, NULL when it is missing or no JSON. */
static json_t *doc_of(const char *path)
{
    json_error_t je;
    return json_load_file(path, JSON_REJECT_DUPLICATES, &je);
}

static char *errmsg(motan_registry *r, char *buf, size_t len)
{
    motan_registry_errmsg(r, buf, len);
    return buf;
}

/* Waits until the registry's errmsg contains needle (or is "" for needle ""). */
static int wait_errmsg(motan_registry *r, const char *needle, int timeout_ms, char *msg,
                       size_t len)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        errmsg(r, msg, len);
        if (*needle ? strstr(msg, needle) != NULL : !*msg)
            return 1;
        if (motan_now_us() > end)
            return 0;
        usleep(5000);
    }
}

/* Waits until services[svc][group] of the file reads want. */
static int wait_list(const char *path, const char *svc, const char *group, const char *want,
                     int timeout_ms)
{
    char now[4096];
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (strcmp(tu_services_list(path, svc, group, now, sizeof(now)), want)) {
        if (motan_now_us() > end) {
            fprintf(stderr, "services[%s][%s] is \"%s\", not \"%s\"\n", svc, group, now, want);
            return 0;
        }
        usleep(5000);
    }
    return 1;
}

static void reg(motan_registry *r, const char *node, int publish)
{
    motan_url *u = tu_url(node);
    int rc = publish ? motan_registry_register(r, u) : motan_registry_unregister(r, u);
    ck_assert_msg(rc == MOTAN_OK, "%s: %s", node, motan_strerror(rc));
    motan_url_free(u);
}

static ino_t inode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

#define N1 "motan2://127.0.0.1:9001/" SVC "?group=g1&nodeType=service"
#define N2 "motan2://127.0.0.1:9002/" SVC "?group=g1&nodeType=service"

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(test_register_and_unregister)
{
    fenv e;
    fenv_init(&e);
    motan_registry *w = file_registry(&e, NULL), *r = file_registry(&e, NULL);
    motan_url *svc = tu_url("motan2:///" SVC "?group=g1");
    tu_rec own, other;
    tu_rec_init(&own);
    tu_rec_init(&other);
    ck_assert_int_eq(motan_registry_subscribe(w, svc, tu_rec_cb, &own), MOTAN_OK);
    ck_assert_int_eq(motan_registry_subscribe(r, svc, tu_rec_cb, &other), MOTAN_OK);
    ck_assert_int_eq(access(e.lock, F_OK), -1); /* registries that only read write nothing */

    /* The file is created, the node written before register returns, as ZooKeeper's is. */
    reg(w, N1, 1);
    char l[4096], msg[1200];
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), N1);
    ck_assert(wait_errmsg(w, "", ms(2000), msg, sizeof(msg))); /* the reader's "missing" goes */
    ck_assert(tu_rec_wait_list(&own, 1, "127.0.0.1:9001", ms(2000)));
    ck_assert(tu_rec_wait_list(&other, 1, "127.0.0.1:9001", ms(2000)));

    /* The same address again replaces its entry in place; another one is added after it. */
    reg(w, N2, 1);
    reg(w, "motan2://127.0.0.1:9001/" SVC "?group=g1&nodeType=service&weight=3", 1);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)),
                     "motan2://127.0.0.1:9001/" SVC "?group=g1&nodeType=service&weight=3|" N2);
    ck_assert(tu_rec_wait_list(&other, 2, "weight=3", ms(2000)));

    /* Unregister takes out exactly that address; one never published changes nothing. */
    reg(w, "motan2://127.0.0.1:9001/" SVC "?group=g1", 0);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), N2);
    ck_assert(tu_rec_wait_list(&other, 1, "127.0.0.1:9002", ms(2000)));
    ino_t ino = inode_of(e.file);
    reg(w, "motan2://127.0.0.1:9009/" SVC "?group=g1", 0);
    reg(w, "motan2://127.0.0.1:9002/" SVC "?group=other", 0);
    ck_assert_uint_eq(inode_of(e.file), ino);

    /* The last one out takes the group and service it emptied along. */
    reg(w, N2, 0);
    json_t *d = doc_of(e.file), *want = json_pack("{s:{}}", "services");
    ck_assert(json_equal(d, want));
    json_decref(d);
    json_decref(want);
    ck_assert(tu_rec_wait_list(&other, 0, NULL, ms(2000)));
    ck_assert_str_eq(errmsg(w, msg, sizeof(msg)), "");

    /* A Unix socket node is its path. */
    reg(w, "motan2://[unix:/run/echo.sock]/" SVC "?group=g1", 1);
    reg(w, "motan2://[unix:/run/other.sock]/" SVC "?group=g1", 1);
    reg(w, "motan2://[unix:/run/echo.sock]/" SVC "?group=g1", 0);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)),
                     "motan2://[unix:/run/other.sock]/" SVC "?group=g1");
    reg(w, "motan2://[unix:/run/other.sock]/" SVC "?group=g1", 0);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), "");

    /* Nodes a reader would refuse are not written. */
    const char *bad[] = {"motan2://127.0.0.1/" SVC, "motan2://127.0.0.1:9001",
                         "rule://0.0.0.0/" SVC "?weights=g1:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        motan_url *u = tu_url(bad[i]);
        ck_assert_int_eq(motan_registry_register(w, u), MOTAN_EINVAL);
        motan_url_free(u);
    }
    motan_registry_unsubscribe(w, svc, tu_rec_cb, &own);
    motan_registry_unsubscribe(r, svc, tu_rec_cb, &other);
    motan_registry_free(w);
    motan_registry_free(r);
    motan_url_free(svc);
    tu_rec_destroy(&own);
    tu_rec_destroy(&other);
    fenv_free(&e);
}
END_TEST

static const char *const HAND =
    "{\"services\": {\n"
    "  \"com.example.Other\": {\"default_rpc\": [\"10.0.0.1:8002\"]},\n"
    "  \"" SVC "\": {\n"
    "    \"g1\": [\"10.0.0.2:8002\", \"rule://0.0.0.0/" SVC "?weights=g1:1\"],\n"
    "    \"spare\": []\n"
    "  }\n"
    "},\n"
    "\"owner\": {\"team\": \"rpc\", \"ratio\": 1.1, \"since\": 2019}}\n";

/*
 * Hand-written entries, other services, groups and top-level keys survive publishing and
 * withdrawing, as do the file's mode; an entry of the same address is the node's own.
 */
START_TEST(test_entries_of_others_are_kept)
{
    fenv e;
    fenv_init(&e);
    tu_write_renamed(e.file, HAND);
    ck_assert_int_eq(chmod(e.file, 0640), 0);
    json_t *orig = doc_of(e.file);
    ck_assert_ptr_nonnull(orig);
    motan_registry *w = file_registry(&e, NULL);
    reg(w, N1, 1);
    reg(w, "motan2://127.0.0.1:9001/" SVC "?group=g2", 1);
    reg(w, "motan2://127.0.0.1:9001/com.example.New", 1);
    char l[4096];
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)),
                     "10.0.0.2:8002|rule://0.0.0.0/" SVC "?weights=g1:1|" N1);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g2", l, sizeof(l)), "motan2://127.0.0.1:9001/" SVC "?group=g2");
    ck_assert_str_eq(tu_services_list(e.file, "com.example.New", "default_rpc", l, sizeof(l)),
                     "motan2://127.0.0.1:9001/com.example.New");
    ck_assert_str_eq(tu_services_list(e.file, "com.example.Other", "default_rpc", l, sizeof(l)), "10.0.0.1:8002");
    struct stat sb;
    ck_assert_int_eq(stat(e.file, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0640);
    char *text = tu_read_file(e.file, NULL);
    ck_assert_msg(strstr(text, "\"ratio\": 1.1,") != NULL, "%s", text); /* not 1.1000000000000001 */
    free(text);

    /* A hand-written entry of the address is replaced in its place, and withdrawn with it. */
    reg(w, "motan2://10.0.0.2:8002/" SVC "?group=g1", 1);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)),
                     "motan2://10.0.0.2:8002/" SVC "?group=g1|rule://0.0.0.0/" SVC
                     "?weights=g1:1|" N1);
    reg(w, "motan2://10.0.0.2:8002/" SVC "?group=g1", 0);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)),
                     "rule://0.0.0.0/" SVC "?weights=g1:1|" N1);
    reg(w, "motan2://10.0.0.2:8002/" SVC "?group=g1", 1);

    /* Freeing the registry withdraws what it published: the file is the hand-written one
     * again, but for the entry of the address it took over. */
    motan_registry_free(w);
    json_t *now = doc_of(e.file);
    json_array_remove(json_object_get(json_object_get(json_object_get(orig, "services"), SVC), "g1"), 0);
    ck_assert(json_equal(now, orig));
    json_decref(now);
    json_decref(orig);
    fenv_free(&e);
}
END_TEST

/* A listener that registers a node from inside its call, then reads the list it was given. */
typedef struct inside {
    motan_registry *r;
    pthread_mutex_t mu;
    int calls;
    size_t n;
    char nodes[4][256];
} inside;

static void inside_cb(const motan_url *const *nodes, size_t n, void *ud)
{
    inside *in = ud;
    pthread_mutex_lock(&in->mu);
    int first = ++in->calls == 1;
    pthread_mutex_unlock(&in->mu);
    if (first) {
        motan_url *u = tu_url(N1);
        if (motan_registry_register(in->r, u) != MOTAN_OK)
            abort();
        motan_url_free(u);
    }
    pthread_mutex_lock(&in->mu);
    in->n = n;
    for (size_t i = 0; i < n && i < 4; i++) { /* still valid: it is borrowed for the whole call */
        char *t = motan_url_format(nodes[i]);
        snprintf(in->nodes[i], sizeof(in->nodes[i]), "%s", t);
        motan_free(t);
    }
    pthread_mutex_unlock(&in->mu);
}

START_TEST(test_register_from_a_listener)
{
    fenv e;
    fenv_init(&e);
    tu_write_renamed(e.file, HAND);
    motan_registry *w = file_registry(&e, NULL);
    motan_url *svc = tu_url("motan2:///" SVC "?group=g1");
    inside in = {.r = w};
    pthread_mutex_init(&in.mu, NULL);
    ck_assert_int_eq(motan_registry_subscribe(w, svc, inside_cb, &in), MOTAN_OK);
    uint64_t end = motan_now_us() + (uint64_t)ms(3000) * 1000u;
    int calls = 0;
    while (calls < 2 && motan_now_us() < end) {
        usleep(2000);
        pthread_mutex_lock(&in.mu);
        calls = in.calls;
        pthread_mutex_unlock(&in.mu);
    }
    ck_assert_int_eq(calls, 2);
    pthread_mutex_lock(&in.mu);
    ck_assert_uint_eq(in.n, 3);
    ck_assert_str_eq(in.nodes[2], N1);
    pthread_mutex_unlock(&in.mu);
    motan_registry_unsubscribe(w, svc, inside_cb, &in);
    motan_registry_free(w);
    motan_url_free(svc);
    pthread_mutex_destroy(&in.mu);
    fenv_free(&e);
}
END_TEST

/* Two motan-test-server processes (motan_server_export through file://) publish into one file. */
START_TEST(test_two_processes)
{
    fenv e;
    fenv_init(&e);
    tu_write_renamed(e.file, HAND);
    char url[400], l[4096];
    snprintf(url, sizeof(url), "file://%s", e.file);
    const char *args[] = {"--quiet", "--register", url, NULL};
    tu_server a, b;
    ck_assert_int_eq(tu_server_start(&a, args), 0);
    ck_assert_int_eq(tu_server_start(&b, args), 0);
    motan_registry *r = file_registry(&e, NULL);
    motan_url *svc = tu_url("motan2:///" SVC);
    tu_rec rec;
    tu_rec_init(&rec);
    ck_assert_int_eq(motan_registry_subscribe(r, svc, tu_rec_cb, &rec), MOTAN_OK);
    char na[64], nb[64];
    snprintf(na, sizeof(na), "127.0.0.1:%d/", a.port);
    snprintf(nb, sizeof(nb), "127.0.0.1:%d/", b.port);
    ck_assert(tu_rec_wait_list(&rec, 2, na, ms(3000)));
    ck_assert(tu_rec_has(&rec, nb));
    ck_assert(tu_rec_has(&rec, "nodeType=service"));

    /* One stops (SIGTERM: the server is freed, its node taken out); the other stays. */
    ck_assert_int_eq(tu_server_stop(&a), 0);
    ck_assert(tu_rec_wait_list(&rec, 1, nb, ms(3000)));
    tu_services_list(e.file, SVC, "default_rpc", l, sizeof(l));
    ck_assert_msg(strstr(l, nb) && !strstr(l, na), "%s", l);
    ck_assert_int_eq(tu_server_stop(&b), 0);
    ck_assert(tu_rec_wait_list(&rec, 0, NULL, ms(3000)));
    json_t *orig = json_loads(HAND, 0, NULL), *now = doc_of(e.file);
    ck_assert(json_equal(orig, now));
    json_decref(orig);
    json_decref(now);
    motan_registry_unsubscribe(r, svc, tu_rec_cb, &rec);
    motan_registry_free(r);
    motan_url_free(svc);
    tu_rec_destroy(&rec);
    fenv_free(&e);
}
END_TEST

/* What a reader would refuse is not overwritten; once it is fixed the nodes go in. */
START_TEST(test_bad_files_are_not_overwritten)
{
    fenv e;
    fenv_init(&e);
    const char *broken = "{\"services\": {\n  \"a\": [\n,]}}";
    tu_write_renamed(e.file, broken);
    ino_t ino = inode_of(e.file);
    motan_registry *w = file_registry(&e, NULL);
    char msg[1200], l[4096];
    reg(w, N1, 1);
    char *text = tu_read_file(e.file, NULL);
    ck_assert_str_eq(text, broken);
    free(text);
    ck_assert_uint_eq(inode_of(e.file), ino);
    errmsg(w, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, e.file) && strstr(msg, "cannot publish: not overwritten: line 3") &&
                      strstr(msg, "retrying"),
                  "%s", msg);
    /* The reader's complaint comes first. */
    ck_assert(wait_errmsg(w, "services.json:3:", ms(2000), msg, sizeof(msg)));
    ck_assert_msg(strstr(msg, "; file registry: ") && strstr(msg, "not overwritten"), "%s", msg);

    /* Valid JSON with an entry the readers refuse is not overwritten either. */
    const char *bad_node = "{\"services\": {\"" SVC "\": {\"g1\": [\"127.0.0.1:http\"]}}}";
    tu_write_renamed(e.file, bad_node);
    ck_assert(wait_errmsg(w, "not overwritten: services[\"" SVC "\"][\"g1\"][0]", ms(8000), msg,
                          sizeof(msg)));
    text = tu_read_file(e.file, NULL);
    ck_assert_str_eq(text, bad_node);
    free(text);

    /* Not a regular file, or over the size limit: not touched, and nothing blocks. (Each put
     * in place by a rename: the file is never missing, when the writer would create it.) */
    char other[400];
    snprintf(other, sizeof(other), "%s.other", e.file);
    ck_assert_int_eq(mkfifo(other, 0600), 0);
    ck_assert_int_eq(rename(other, e.file), 0);
    uint64_t t0 = motan_now_us();
    reg(w, N2, 1);
    ck_assert_uint_lt(motan_now_us() - t0, 1000000u);
    ck_assert(wait_errmsg(w, "it is a named pipe, not a regular file: not overwritten", ms(8000),
                          msg, sizeof(msg)));
    FILE *f = fopen(other, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 65 << 20), 0);
    fclose(f);
    ck_assert_int_eq(rename(other, e.file), 0);
    ck_assert(wait_errmsg(w, "over the file registry's limit of 64 MiB: not overwritten", ms(8000),
                          msg, sizeof(msg)));
    struct stat sb;
    ck_assert_int_eq(stat(e.file, &sb), 0);
    ck_assert_int_eq(sb.st_size, 65 << 20);

    /* An empty file is no services yet; the pending nodes go in at the next retry (<= 5 s). */
    ck_assert_int_eq(truncate(e.file, 0), 0);
    ck_assert(wait_list(e.file, SVC, "g1", N1 "|" N2, ms(8000))); /* in the order registered */
    ck_assert(wait_errmsg(w, "", ms(2000), msg, sizeof(msg)));
    motan_registry_free(w);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), "");
    fenv_free(&e);
}
END_TEST

/*
 * As a user who cannot write the directory (root is made nobody): register succeeds, errmsg
 * says what cannot be created and that it retries. 0 or a failed step.
 */
static int unwritable_child(const char *dir, const char *file)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 10;
    motan_loop *loop;
    char err[256], text[400], msg[1200];
    if (motan_loop_new(&loop, err, sizeof(err)) != MOTAN_OK)
        return 11;
    snprintf(text, sizeof(text), "file://%s", file);
    motan_url *u = tu_url(text), *node = tu_url(N1);
    motan_registry *w = NULL;
    int rc = motan_registry_new(loop, u, &w, err, sizeof(err));
    if (rc == MOTAN_OK && motan_registry_register(w, node) != MOTAN_OK)
        rc = 12;
    if (rc == MOTAN_OK) {
        errmsg(w, msg, sizeof(msg));
        fprintf(stderr, "as uid %d: %s\n", (int)geteuid(), msg);
        /* The lock file cannot be created; with one there, the temporary file cannot. */
        char lock[400];
        snprintf(lock, sizeof(lock), "%s.lock", file);
        const char *want = access(lock, F_OK) == 0 ? "cannot create " : "cannot create the lock file ";
        if (!strstr(msg, want) || !strstr(msg, dir) || !strstr(msg, "(Permission denied)") ||
            !strstr(msg, "retrying in 100 ms"))
            rc = 13;
    }
    motan_registry_free(w);
    motan_url_free(u);
    motan_url_free(node);
    motan_loop_free(loop);
    return rc;
}

static void expect_unwritable(fenv *e)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(unwritable_child(e->dir, e->file));
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

START_TEST(test_unwritable_places)
{
    fenv e;
    fenv_init(&e);
    /* A directory that does not exist (yet): said, retried, and written once it does. */
    char sub[300], file[400], msg[1200];
    snprintf(sub, sizeof(sub), "%s/later", e.dir);
    snprintf(file, sizeof(file), "%s/services.json", sub);
    motan_registry *w = file_registry(&e, file);
    reg(w, N1, 1);
    errmsg(w, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "cannot publish: cannot create the lock file") &&
                      strstr(msg, sub) && strstr(msg, "(No such file or directory)") &&
                      strstr(msg, "(retrying in 100 ms)"),
                  "%s", msg);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert(wait_list(file, SVC, "g1", N1, ms(3000)));
    ck_assert(wait_errmsg(w, "", ms(2000), msg, sizeof(msg)));
    motan_registry_free(w);
    fenv_stop_loop(&e);

    /* A directory the user may not write: without and with a lock file there. */
    tu_write_renamed(e.file, HAND);
    ck_assert_int_eq(chmod(e.file, 0644), 0);
    ck_assert_int_eq(chmod(e.dir, geteuid() == 0 ? 0755 : 0555), 0);
    expect_unwritable(&e);
    ck_assert_int_eq(chmod(e.dir, 0700), 0);
    int fd = open(e.lock, O_RDONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(chmod(e.dir, geteuid() == 0 ? 0755 : 0555), 0);
    expect_unwritable(&e);
    char *text = tu_read_file(e.file, NULL);
    ck_assert_str_eq(text, HAND);
    free(text);
    fenv_free(&e);
}
END_TEST

/* A lock held by someone else: register does not wait, it retries; free waits 100 ms. */
START_TEST(test_held_lock)
{
    fenv e;
    fenv_init(&e);
    int fd = open(e.lock, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    motan_registry *w = file_registry(&e, NULL);
    uint64_t t0 = motan_now_us();
    reg(w, N1, 1);
    ck_assert_uint_lt(motan_now_us() - t0, 500000u);
    ck_assert_int_eq(access(e.file, F_OK), -1);
    char msg[1200];
    ck_assert(wait_errmsg(w, "the lock", ms(5000), msg, sizeof(msg)));
    ck_assert_msg(strstr(msg, e.lock) && strstr(msg, "is held by another writer (for ") &&
                      strstr(msg, "retrying"),
                  "%s", msg);
    ck_assert_int_eq(flock(fd, LOCK_UN), 0);
    ck_assert(wait_list(e.file, SVC, "g1", N1, ms(2000)));
    ck_assert(wait_errmsg(w, "", ms(2000), msg, sizeof(msg)));

    /* Free cannot take the node out while the lock stays held: it gives up after 100 ms. */
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    t0 = motan_now_us();
    motan_registry_free(w);
    uint64_t took = motan_now_us() - t0;
    ck_assert_msg(took >= 90000u && took < (uint64_t)ms(1000) * 1000u, "%llu us",
                  (unsigned long long)took);
    char l[4096];
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), N1);
    close(fd);
    fenv_free(&e);
}
END_TEST

/* A symbolic link is followed: the file it points to is rewritten, the link stays. */
START_TEST(test_symbolic_link)
{
    fenv e;
    fenv_init(&e);
    char real_dir[300], real[400], l[4096];
    snprintf(real_dir, sizeof(real_dir), "%s/conf", e.dir);
    snprintf(real, sizeof(real), "%s/services.json", real_dir);
    ck_assert_int_eq(mkdir(real_dir, 0755), 0);
    tu_write_renamed(real, HAND);
    ck_assert_int_eq(symlink("conf/services.json", e.file), 0);
    motan_registry *w = file_registry(&e, NULL);
    reg(w, N1, 1);
    struct stat sb;
    ck_assert_int_eq(lstat(e.file, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_str_eq(tu_services_list(real, SVC, "g1", l, sizeof(l)),
                     "10.0.0.2:8002|rule://0.0.0.0/" SVC "?weights=g1:1|" N1);
    char lock[420];
    snprintf(lock, sizeof(lock), "%s.lock", real);
    ck_assert_int_eq(access(lock, F_OK), 0);
    motan_registry_free(w);
    ck_assert_str_eq(tu_services_list(real, SVC, "g1", l, sizeof(l)),
                     "10.0.0.2:8002|rule://0.0.0.0/" SVC "?weights=g1:1");
    fenv_free(&e);
}
END_TEST

/* In a child after fork() the parent's nodes stay when the child frees the registry. */
START_TEST(test_fork_child_leaves_nodes)
{
    fenv e;
    fenv_init(&e);
    motan_registry *w = file_registry(&e, NULL);
    reg(w, N1, 1);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(10);
        motan_registry_free(w);
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char l[4096];
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), N1);
    motan_registry_free(w);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), "");
    fenv_free(&e);
}
END_TEST

/* An allocator that fails the allocation g_fail_in allocations from now (-1: none fails). */
static long g_fail_in = -1;
static int g_failed;

static int fail_now(void)
{
    if (g_fail_in < 0 || g_fail_in-- > 0)
        return 0;
    g_failed++;
    return 1;
}

static void *failing_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }

static void *failing_realloc(void *p, size_t n) { return fail_now() ? NULL : realloc(p, n); }

/*
 * Every allocation of a register and of an unregister (the caller's loop: they run on this
 * thread, so the count is exact) fails in turn: MOTAN_OK or MOTAN_ENOMEM, nothing leaks (under
 * valgrind), and the same call with memory again leaves exactly one entry of the address.
 */
START_TEST(test_out_of_memory)
{
    fenv e;
    fenv_init_dir(&e);
    tu_env_init(&e.t);
    tu_write_renamed(e.file, HAND);
    motan_registry *w = file_registry(&e, NULL);
    const char *base = "10.0.0.2:8002|rule://0.0.0.0/" SVC "?weights=g1:1";
    char l[4096], node[200], want[1024], prev[1024], msg[1200];
    int clean = 0, k = 0;
    snprintf(prev, sizeof(prev), "%s", base);
    for (; clean < 2 && k < 4000; k++) {
        int publish = k % 2 == 0;
        snprintf(node, sizeof(node), "motan2://127.0.0.1:9001/" SVC "?group=g1&weight=%d", k + 1);
        motan_url *u = tu_url(node);
        g_failed = 0;
        g_fail_in = k / 2;
        motan_set_allocator(failing_malloc, failing_realloc, free);
        int rc = publish ? motan_registry_register(w, u) : motan_registry_unregister(w, u);
        motan_set_allocator(NULL, NULL, NULL);
        g_fail_in = -1;
        ck_assert_msg(rc == MOTAN_OK || rc == MOTAN_ENOMEM, "%d: %s", k, motan_strerror(rc));
        clean = g_failed ? 0 : clean + 1;
        /* The file is as it was, or as asked: never anything else (a second entry...). */
        snprintf(want, sizeof(want), "%s%s%s", base, publish ? "|" : "", publish ? node : "");
        tu_services_list(e.file, SVC, "g1", l, sizeof(l));
        ck_assert_msg(!strcmp(l, want) || !strcmp(l, prev), "%d: %s", k, l);
        if (rc == MOTAN_OK && !*errmsg(w, msg, sizeof(msg))) /* written */
            ck_assert_str_eq(l, want);
        rc = publish ? motan_registry_register(w, u) : motan_registry_unregister(w, u);
        ck_assert_int_eq(rc, MOTAN_OK);
        ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), want);
        snprintf(prev, sizeof(prev), "%s", want);
        motan_url_free(u);
    }
    ck_assert_int_eq(clean, 2);
    ck_assert_int_gt(k, 20); /* allocations did fail on the way */
    tu_run_for(&e.t, 3 * POLL_MS);
    ck_assert_str_eq(errmsg(w, msg, sizeof(msg)), "");
    motan_registry_free(w);
    ck_assert_str_eq(tu_services_list(e.file, SVC, "g1", l, sizeof(l)), base);
    fenv_free(&e);
}
END_TEST

/* ---- hammer ----------------------------------------------------------------------------- */

#define WRITERS 3
#define SLOTS 40 /* nodes of one writer turned on and off while the reads go on */
#define FRESH 80 /* nodes it adds at the end, at full speed, as the others do */

/*
 * Node i of writer c (i >= SLOTS: the fresh ones), and whether it is in the file once the
 * writer has finished.
 */
static void hammer_node(int c, int i, char *out, size_t len)
{
    snprintf(out, len, "motan2://127.0.0.1:%d/" SVC "?group=h&nodeType=service", 20000 + c * 1000 + i);
}

static int kept(int i) { return i >= SLOTS || i % 3 != 0; }

static int hammer_set(motan_registry *w, int c, int i, int publish)
{
    char node[200];
    hammer_node(c, i, node, sizeof(node));
    motan_url *n = tu_url(node);
    int rc = publish ? motan_registry_register(w, n) : motan_registry_unregister(w, n);
    motan_url_free(n);
    return rc;
}

/*
 * A writer process: once `start` closes, registers and unregisters its nodes round and round
 * until `stop` closes; then registers the kept ones, unregisters the others and registers its
 * fresh ones, each a rewrite racing the other writers' (without the lock some are lost),
 * waits (its loop retrying what met the lock held) until the file shows exactly its part,
 * reports on `done`, and once `go` closes frees the registry, which takes them all out.
 */
static int hammer_writer(const char *file, int c, const int *pipes)
{
    int start = pipes[0], stop = pipes[1], done = pipes[2], go = pipes[3];
    motan_loop *loop;
    char err[256], text[400], node[200], l[65536], b;
    alarm(120);
    if (motan_loop_new(&loop, err, sizeof(err)) != MOTAN_OK)
        return 20;
    snprintf(text, sizeof(text), "file://%s?interval=1000", file);
    motan_url *u = tu_url(text);
    motan_registry *w = NULL;
    if (motan_registry_new(loop, u, &w, err, sizeof(err)) != MOTAN_OK)
        return 21;
    if (read(start, &b, 1) != 0)
        return 22;
    fcntl(stop, F_SETFL, O_NONBLOCK);
    /* An op every 200 us (at most): busy, but leaving the lock holder some CPU. */
    for (int k = 0; read(stop, &b, 1) < 0; k++) {
        if (hammer_set(w, c, k % SLOTS, (k / SLOTS) % 2 == 0) != MOTAN_OK)
            return 23;
        usleep(200);
    }
    for (int i = 0; i < SLOTS + FRESH; i++)
        if (hammer_set(w, c, i, kept(i)) != MOTAN_OK)
            return 24;
    uint64_t end = motan_now_us() + (uint64_t)ms(15000) * 1000u;
    for (int ok = 0; !ok;) {
        if (motan_now_us() > end)
            return 25; /* its part never showed: an update was lost */
        tu_services_list(file, SVC, "h", l, sizeof(l));
        ok = 1;
        for (int i = 0; i < SLOTS + FRESH && ok; i++) {
            hammer_node(c, i, node, sizeof(node));
            ok = (strstr(l, node) != NULL) == kept(i);
        }
        if (!ok)
            usleep(2000);
    }
    b = 1;
    if (write(done, &b, 1) != 1 || read(go, &b, 1) != 0)
        return 26;
    motan_registry_free(w);
    motan_url_free(u);
    motan_loop_free(loop);
    return 0;
}

/* One raw read of the file: whole, valid JSON with a services object. 1 when it differs from *last. */
static int hammer_read(const char *file, char **last, int reads)
{
    size_t len;
    char *t = tu_read_file(file, &len);
    ck_assert_ptr_nonnull(t);
    json_error_t je;
    json_t *d = json_loadb(t, len, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(d && json_is_object(json_object_get(d, "services")), "read %d: %d:%d: %s in \"%s\"",
                  reads, je.line, je.column, je.text, t);
    json_decref(d);
    int changed = !*last || strcmp(*last, t);
    free(*last);
    *last = t;
    return changed;
}

static void no_writer_ended(const pid_t *pids)
{
    for (int c = 0; c < WRITERS; c++) { /* a writer that gave up fails the test at once */
        int st = 0;
        ck_assert_msg(waitpid(pids[c], &st, WNOHANG) == 0, "writer %d ended: exit %d, signal %d", c,
                      WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
}

/*
 * Three processes rewrite one file over and over; meanwhile this process reads it raw as fast
 * as it can and a file registry polls it every millisecond: every read is whole, valid JSON
 * and the registry never reports a thing, over a few hundred versions of the file. In the end
 * every writer's part is there (no update was lost), and gone once they freed their
 * registries.
 */
START_TEST(test_hammer)
{
    fenv e;
    fenv_init_dir(&e);
    tu_write_renamed(e.file, HAND);
    int p[4][2]; /* start, stop, done, go */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pipe(p[i]), 0);
    pid_t pids[WRITERS];
    for (int c = 0; c < WRITERS; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            int mine[4] = {p[0][0], p[1][0], p[2][1], p[3][0]};
            close(p[0][1]);
            close(p[1][1]);
            close(p[2][0]);
            close(p[3][1]);
            _exit(hammer_writer(e.file, c, mine));
        }
    }
    close(p[0][0]);
    close(p[1][0]);
    close(p[2][1]);
    close(p[3][0]);
    tu_env_init_builtin(&e.t);
    fcntl(p[2][0], F_SETFL, O_NONBLOCK);
    char text[400], msg[1200];
    snprintf(text, sizeof(text), "file://%s?interval=1", e.file);
    motan_registry *r = tu_registry(e.t.loop, text);
    motan_url *svc = tu_url("motan2:///" SVC "?group=h");
    tu_rec rec;
    tu_rec_init(&rec);
    ck_assert_int_eq(motan_registry_subscribe(r, svc, tu_rec_cb, &rec), MOTAN_OK);

    /* Reads while they write, until that many versions went by. */
    int reads = 0, versions = 0, want_versions = tu_slow() ? 100 : 500, finished = 0;
    char *last = NULL, b;
    close(p[0][1]);
    uint64_t t0 = motan_now_us(), end = t0 + (uint64_t)ms(20000) * 1000u;
    while (versions < want_versions && motan_now_us() < end) {
        versions += hammer_read(e.file, &last, reads++);
        ck_assert_str_eq(errmsg(r, msg, sizeof(msg)), "");
        no_writer_ended(pids);
    }
    ck_assert_int_ge(versions, want_versions);
    fprintf(stderr, "test_hammer: %d versions in %d reads, %.1f s\n", versions, reads,
            (double)(motan_now_us() - t0) / 1e6);
    close(p[1][1]); /* writers: finish */
    end = motan_now_us() + (uint64_t)ms(30000) * 1000u;
    while (finished < WRITERS && motan_now_us() < end) {
        while (read(p[2][0], &b, 1) == 1)
            finished++;
        hammer_read(e.file, &last, reads++);
        ck_assert_str_eq(errmsg(r, msg, sizeof(msg)), "");
        no_writer_ended(pids);
    }
    free(last);
    ck_assert_int_eq(finished, WRITERS);

    /* Every writer's part is in the file, the hand-written entries too. */
    char l[65536], node[200];
    tu_services_list(e.file, SVC, "h", l, sizeof(l));
    size_t want = 0;
    for (int c = 0; c < WRITERS; c++)
        for (int i = 0; i < SLOTS + FRESH; i++) {
            hammer_node(c, i, node, sizeof(node));
            ck_assert_msg((strstr(l, node) != NULL) == kept(i), "%s: %s", node, kept(i) ? "lost" : "left");
            want += (size_t)kept(i);
        }
    json_t *d = doc_of(e.file);
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(json_object_get(d, "services"), SVC), "h")), want);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(d, "services"), SVC), "g1"), 0)), "10.0.0.2:8002");
    json_decref(d);
    ck_assert(tu_rec_wait_list(&rec, want, NULL, ms(3000)));

    close(p[3][1]); /* the writers free their registries */
    for (int c = 0; c < WRITERS; c++) {
        int st;
        ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d: status %d", c, st);
    }
    json_t *orig = json_loads(HAND, 0, NULL), *now = doc_of(e.file);
    ck_assert(json_equal(orig, now));
    json_decref(orig);
    json_decref(now);
    ck_assert(tu_rec_wait_list(&rec, 0, NULL, ms(3000)));
    close(p[2][0]);
    motan_registry_unsubscribe(r, svc, tu_rec_cb, &rec);
    motan_registry_free(r);
    motan_url_free(svc);
    tu_rec_destroy(&rec);
    fenv_free(&e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("registry_file_write");
    TCase *tc = tcase_create("write");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_register_and_unregister);
    tcase_add_test(tc, test_entries_of_others_are_kept);
    tcase_add_test(tc, test_register_from_a_listener);
    tcase_add_test(tc, test_two_processes);
    tcase_add_test(tc, test_bad_files_are_not_overwritten);
    tcase_add_test(tc, test_unwritable_places);
    tcase_add_test(tc, test_held_lock);
    tcase_add_test(tc, test_symbolic_link);
    tcase_add_test(tc, test_fork_child_leaves_nodes);
    tcase_add_test(tc, test_out_of_memory);
    tcase_add_test(tc, test_hammer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
