/*
 * make bench-bindings, the C baseline: N echo calls of a 16-byte string through
 * motan_client_call on the built-in loop, each with a fresh request as the bindings build
 * one per call. Usage: bindings_c <url>; BENCH_CALLS (default 20000) sets N.
 * Prints "<total_seconds> <calls>" on one line.
 * bindings_c --floor <url>: the same echo through the floor client instead (tu_bench.h:
 * blocking write/read of a pre-encoded frame, one in flight) for BENCH_SECONDS (default 1);
 * prints its report line "bindings.floor <rps> rps ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/client.h>

#include "tu_bench.h"

static const char ARG[] = "0123456789abcdef";

/* One echo call; 0 when the string came back intact. */
static int echo_once(motan_client *c)
{
    motan_request *req = motan_client_request(c, "echo");
    if (!req)
        return -1;
    int rc = -1;
    motan_value *v = motan_value_new_string(motan_request_arena(req), ARG, sizeof ARG - 1);
    motan_response *resp = NULL;
    if (v && motan_request_add_arg(req, v) == MOTAN_OK &&
        motan_client_call(c, req, &resp) == MOTAN_OK) {
        size_t len = 0;
        const motan_value *out = motan_response_get_value(resp);
        const char *p = out ? motan_value_get_data(out, &len) : NULL;
        rc = p && len == sizeof ARG - 1 && memcmp(p, ARG, len) == 0 ? 0 : -1;
    } else if (resp) {
        fprintf(stderr, "bindings_c: %s: %s\n", motan_errname(motan_response_get_code(resp)),
                motan_response_get_errmsg(resp));
    }
    motan_response_free(resp);
    motan_request_free(req);
    return rc;
}

static int floor_run(const char *url)
{
    char err[256] = "";
    motan_url *u = NULL;
    if (motan_url_parse(url, strlen(url), &u, err, sizeof err) != MOTAN_OK || motan_url_addr_count(u) != 1 ||
        motan_url_addr_is_unix(u, 0)) {
        fprintf(stderr, "bindings_c --floor: want motan2://127.0.0.1:PORT/...: %s\n", err);
        motan_url_free(u);
        return 2;
    }
    tu_server srv = {.port = motan_url_addr_port(u, 0)};
    motan_request *req = motan_request_new("echo");
    motan_request_add_arg(req, motan_value_new_string(motan_request_arena(req), ARG, sizeof ARG - 1));
    motan_buf *frame = tu_bench_frame(req);
    const char *env = getenv("BENCH_SECONDS");
    double secs = env && atof(env) > 0 ? atof(env) : 1.0;
    double rps = tu_bench_floor("bindings.floor", &srv, 1, 1, frame, secs);
    motan_buf_free(frame);
    motan_request_free(req);
    motan_url_free(u);
    return rps > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--floor") == 0)
        return floor_run(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s [--floor] <url>\n", argv[0]);
        return 2;
    }
    const char *env = getenv("BENCH_CALLS");
    long calls = env ? strtol(env, NULL, 10) : 20000;
    if (calls <= 0)
        calls = 20000;

    char err[256] = "";
    motan_client *c = NULL;
    int rc = motan_client_new(argv[1], &c, err, sizeof err);
    if (rc != MOTAN_OK) {
        fprintf(stderr, "bindings_c: %s: %s\n", motan_errname(rc), err);
        return 1;
    }
    /* Warm-up: connections, buffers, arenas. */
    for (int i = 0; i < 100; i++) {
        if (echo_once(c) != 0) {
            motan_client_free(c);
            return 1;
        }
    }
    uint64_t t0 = motan_now_us();
    for (long i = 0; i < calls; i++) {
        if (echo_once(c) != 0) {
            fprintf(stderr, "bindings_c: call %ld failed\n", i);
            motan_client_free(c);
            return 1;
        }
    }
    uint64_t t1 = motan_now_us();
    motan_client_free(c);
    printf("%.6f %ld\n", (double)(t1 - t0) / 1e6, calls);
    return 0;
}
