/*
 * make bench-scale. Node lists of BENCH_SCALE_NODES (default 100 000) endpoints swapped into a
 * running client while calls flow. One line per figure:
 *
 *   scale.<step>.<n> <ms> ms <max_call_ms> max_call_ms <calls> calls <errors> errors
 *       <fds> fds <rss_mb> rss_mb
 *
 * step: grow (3 -> n nodes), change (n -> n with 1% of the nodes replaced), shrink (n -> 3).
 * ms is from the rename of the new services file until the client's cluster holds the new
 * list (it includes up to one poll interval of the file registry, 20 ms); max_call_ms is the
 * slowest call that ended meanwhile (a call waits while the loop thread applies the list);
 * calls and errors count the calls of the second after the swap; fds is the process's open
 * descriptors at the end of that second (the connection budget, connectionBudget=256, bounds
 * them); rss_mb its resident memory.
 *
 * Every node is a distinct endpoint and all of them are real: node i is the Unix path
 * <tmp>/n/<i>, a symbolic link to one test server's socket. Two threads make blocking echo
 * calls throughout (random load balancing: nearly every call needs a connection of its own).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <motan/motan.h>

#include "server_proc.h"
#include "tu_loop.h"

#define THREADS 2
#define SMALL 3

static char g_dir[256];
static motan_client *g_client;
static motan_loop *g_loop; /* the client's: its cluster is read on this loop's thread */
static atomic_int g_stop;
static atomic_long g_ok, g_errors;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_window;       /* guarded by g_mu: a swap is being applied */
static uint64_t g_max_us;  /* guarded by g_mu: slowest call that ended in the window */
static char g_last_err[512];

static double now_ms(void) { return (double)motan_now_us() / 1000.0; }

static void *caller(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        motan_request *req = motan_client_request(g_client, "echo");
        motan_request_add_arg(req, motan_value_new_string(motan_request_arena(req), "0123456789abcdef", 16));
        motan_response *resp;
        uint64_t t0 = motan_now_us();
        int rc = motan_client_call(g_client, req, &resp);
        uint64_t dt = motan_now_us() - t0;
        if (rc == MOTAN_OK) {
            atomic_fetch_add(&g_ok, 1);
        } else {
            atomic_fetch_add(&g_errors, 1);
            pthread_mutex_lock(&g_mu);
            snprintf(g_last_err, sizeof(g_last_err), "%s", resp ? motan_response_get_errmsg(resp) : "");
            pthread_mutex_unlock(&g_mu);
        }
        pthread_mutex_lock(&g_mu);
        if (g_window && dt > g_max_us)
            g_max_us = dt;
        pthread_mutex_unlock(&g_mu);
        motan_response_free(resp);
        motan_request_free(req);
    }
    return NULL;
}

/* The services file with nodes [first, first + n) (and the odd ones replaced when `alt`). */
static void write_list(const char *path, long first, long n, int alt)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        exit(1);
    }
    fputs("{\"services\":{\"com.example.EchoService\":{\"default_rpc\":[", f);
    for (long i = 0; i < n; i++) {
        long id = first + i;
        if (alt && i % 100 == 1)
            id += n; /* 1% of the list: nodes not listed before */
        fprintf(f, "%s\"[unix:%s/n/%ld]\"", i ? "," : "", g_dir, id);
    }
    fputs("]}}}\n", f);
    fclose(f);
    if (rename(tmp, path) != 0) {
        perror("rename");
        exit(1);
    }
}

static size_t endpoint_count(void) { return motan_client_endpoint_count(g_client); }

typedef struct probe {
    const char *want;
    int found;
} probe;

/* On the loop thread (the cluster's endpoints are its own): is want the second endpoint? */
static void probe_second(void *ud)
{
    probe *p = ud;
    motan_cluster *c = motan_client_get_cluster(g_client);
    motan_endpoint *ep =
        motan_cluster_endpoint_count(c) > 1 ? motan_cluster_endpoint_at(c, 1) : NULL;
    p->found = ep && !strcmp(motan_endpoint_get_address(ep), p->want);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

static void step(const char *name, const char *path, long first, long n, int alt, long report_n)
{
    pthread_mutex_lock(&g_mu);
    g_window = 1;
    g_max_us = 0;
    pthread_mutex_unlock(&g_mu);
    double t0 = now_ms();
    write_list(path, first, n, alt);
    /* The change step keeps the count: wait for a node only the new list has. */
    if (alt) {
        char want[300];
        snprintf(want, sizeof(want), "unix:%s/n/%ld", g_dir, first + 1 + n);
        for (;;) {
            probe p = {want, 0};
            if (motan_loop_run_wait(g_loop, probe_second, &p) == MOTAN_OK && p.found)
                break;
            if (now_ms() - t0 > 120000) {
                fprintf(stderr, "scale: the changed list did not arrive\n");
                exit(1);
            }
            usleep(1000);
        }
    } else {
        while (endpoint_count() != (size_t)n) {
            if (now_ms() - t0 > 120000) {
                fprintf(stderr, "scale: %s: %zu endpoints after 120 s, want %ld\n", name,
                        endpoint_count(), n);
                exit(1);
            }
            usleep(1000);
        }
    }
    double ms = now_ms() - t0;
    usleep(50000); /* calls in flight at the end of the apply finish */
    pthread_mutex_lock(&g_mu);
    g_window = 0;
    double max_ms = (double)g_max_us / 1000.0;
    pthread_mutex_unlock(&g_mu);
    long ok0 = atomic_load(&g_ok), err0 = atomic_load(&g_errors);
    usleep(1000000);
    long ok = atomic_load(&g_ok) - ok0, errs = atomic_load(&g_errors) - err0;
    printf("scale.%s.%ld %.0f ms %.0f max_call_ms %ld calls %ld errors %d fds %ld rss_mb\n", name,
           report_n, ms, max_ms, ok, errs, count_fds(), tu_rss_kb() / 1024);
    if (errs) {
        pthread_mutex_lock(&g_mu);
        printf("#   last error: %s\n", g_last_err);
        pthread_mutex_unlock(&g_mu);
    }
    fflush(stdout);
}

int main(void)
{
    const char *env = getenv("BENCH_SCALE_NODES");
    long n = env ? atol(env) : 100000;
    if (n < 100) {
        fprintf(stderr, "BENCH_SCALE_NODES must be at least 100\n");
        return 2;
    }
    /* tmpfs when there is one: 200 000 symbolic links are slow to make on a disk. */
    struct stat sb;
    snprintf(g_dir, sizeof(g_dir), "%s/motan-scale-XXXXXX",
             stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0
                 ? "/dev/shm"
                 : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    char sock[300], ndir[300], path[300];
    snprintf(sock, sizeof(sock), "%s/s.sock", g_dir);
    snprintf(ndir, sizeof(ndir), "%s/n", g_dir);
    snprintf(path, sizeof(path), "%s/services.json", g_dir);
    mkdir(ndir, 0700);
    tu_server srv;
    const char *args[] = {"--unix", sock, "--quiet", NULL};
    if (tu_server_start(&srv, args) != 0)
        return 1;
    long nlinks = 2 * n; /* the change step names nodes n.. too */
    for (long i = 0; i < nlinks; i++) {
        char link[340];
        snprintf(link, sizeof(link), "%s/%ld", ndir, i);
        if (symlink(sock, link) != 0 && errno != EEXIST) {
            perror(link);
            return 1;
        }
    }
    write_list(path, 0, SMALL, 0);
    char url[600], err[256];
    snprintf(url, sizeof(url),
             "file://%s/com.example.EchoService?interval=20&requestTimeout=5000&connections=1&"
             "connectionBudget=256",
             path);
    if (motan_loop_new(&g_loop, err, sizeof(err)) != MOTAN_OK ||
        motan_client_new_on_loop(g_loop, url, &g_client, err, sizeof(err)) != MOTAN_OK ||
        motan_client_wait_ready(g_client, 5000) != MOTAN_OK) {
        fprintf(stderr, "scale: client: %s\n", err);
        return 1;
    }
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, caller, NULL);
    usleep(200000);
    step("grow", path, 0, n, 0, n);
    step("change", path, 0, n, 1, n);
    step("shrink", path, 0, SMALL, 0, n);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    motan_client_free(g_client);
    motan_loop_free(g_loop);
    tu_server_stop(&srv);
    for (long i = 0; i < nlinks; i++) {
        char link[340];
        snprintf(link, sizeof(link), "%s/%ld", ndir, i);
        unlink(link);
    }
    rmdir(ndir);
    unlink(path);
    unlink(sock);
    rmdir(g_dir);
    return 0;
}
