/*
 * The file registry's publishing cost: how long one register or unregister (a rewrite of the
 * services file under its lock) holds the registry's loop thread, for files of 10, 300 and
 * 3000 nodes. One line per size:
 *   file_registry.rewrite.<n> <wall> us wall <cpu> us cpu
 * wall: the motan_registry_register/unregister call (the rewrite runs inside it, on the
 * built-in loop thread); cpu: the process's CPU time per rewrite. The file lives in
 * $BENCH_DIR (default /tmp): ext4 and tmpfs (/dev/shm) differ by the cost of creating and
 * renaming a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <motan/motan.h>

#define ROUNDS 200

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static motan_url *url(const char *text)
{
    char err[256];
    motan_url *u;
    if (motan_url_parse(text, strlen(text), &u, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "file_registry: %s: %s\n", text, err);
        exit(1);
    }
    return u;
}

static int run(motan_loop *loop, const char *dir, int n)
{
    char path[512], lock[520], text[600], err[256];
    snprintf(path, sizeof(path), "%s/motan-bench-services-%d.json", dir, (int)getpid());
    snprintf(lock, sizeof(lock), "%s.lock", path);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "{\"services\": {\"com.example.EchoService\": {\"default_rpc\": [");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n\"motan2://10.0.%d.%d:8002/com.example.EchoService?group=default_rpc"
                   "&nodeType=service\"", i ? "," : "", i / 250, i % 250);
    fprintf(f, "]}}}\n");
    fclose(f);
    snprintf(text, sizeof(text), "file://%s", path);
    motan_url *u = url(text), *node = url("motan2://127.0.0.1:9001/com.example.EchoService"
                                          "?group=default_rpc&nodeType=service");
    motan_registry *r;
    if (motan_registry_new(loop, u, &r, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "file_registry: %s\n", err);
        return 1;
    }
    uint64_t t0 = motan_now_us();
    double c0 = cpu_us();
    for (int i = 0; i < ROUNDS; i++) {
        motan_registry_register(r, node);
        motan_registry_unregister(r, node);
    }
    double wall = (double)(motan_now_us() - t0) / (2.0 * ROUNDS), cpu = (cpu_us() - c0) / (2.0 * ROUNDS);
    motan_registry_errmsg(r, err, sizeof(err));
    motan_registry_free(r);
    motan_url_free(u);
    motan_url_free(node);
    unlink(path);
    unlink(lock);
    if (*err) {
        fprintf(stderr, "file_registry: %s\n", err);
        return 1;
    }
    printf("file_registry.rewrite.%d %.0f us wall %.0f us cpu\n", n, wall, cpu);
    return 0;
}

int main(void)
{
    const char *dir = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp";
    motan_loop *loop;
    char err[256];
    if (motan_loop_new(&loop, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "file_registry: %s\n", err);
        return 1;
    }
    int rc = 0;
    static const int sizes[] = {10, 300, 3000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && !rc; i++)
        rc = run(loop, dir, sizes[i]);
    motan_loop_free(loop);
    return rc;
}
