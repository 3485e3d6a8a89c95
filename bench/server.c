/*
 * make bench-server: the server layer's throughput and cost. A libmotan client (one
 * connection, a closed loop of N async calls on its own event_base) calls echo("16 bytes")
 * on build/examples/echo_server, then on motan-test-server (the same layer behind one raw
 * handler), 1, 8 and 64 calls in flight. One line per figure:
 *   server.<name>.<inflight> <rps> rps <srv_us> server_cpu_us_per_req <cli_us> client_cpu_us_per_req
 * Server CPU is the server process's user + system time (/proc/<pid>/stat) over the
 * measured run; a fresh server per figure. BENCH_SECONDS (default 1.5) sets each run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include <motan/motan.h>

#include "server_proc.h"
#include "testutil.h"
#include "tu_loop.h"
#include "tu_srv.h"

static double g_seconds = 1.5;

/* ---- the servers ------------------------------------------------------------------------- */

typedef struct proc {
    pid_t pid;
    int port;
    tu_server ts; /* motan-test-server */
} proc;

static int start(proc *p, int echo)
{
    memset(p, 0, sizeof(*p));
    if (echo)
        return (p->pid = tu_echo_server_start(&p->port)) > 0 ? 0 : -1;
    const char *args[] = {"--quiet", NULL};
    if (tu_server_start(&p->ts, args))
        return -1;
    p->pid = p->ts.pid;
    p->port = p->ts.port;
    return 0;
}

static void stop(proc *p, int echo)
{
    if (!echo) {
        tu_server_stop(&p->ts);
        return;
    }
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
}

static double self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* ---- the client: a closed loop of async calls ---------------------------------------------- */

typedef struct loop_state {
    motan_endpoint *ep;
    motan_request *req;
    struct event_base *base;
    uint64_t deadline;
    uint64_t done;
    int active, errors;
} loop_state;

static void again(loop_state *s);

static void on_answer(motan_response *resp, void *ud)
{
    loop_state *s = ud;
    if (!resp || motan_response_get_code(resp) != MOTAN_OK)
        s->errors++;
    motan_response_free(resp);
    s->done++;
    if (motan_now_us() < s->deadline)
        again(s);
    else if (--s->active == 0)
        event_base_loopbreak(s->base);
}

static void again(loop_state *s)
{
    if (motan_endpoint_call(s->ep, s->req, 5000, on_answer, s, NULL) != MOTAN_OK) {
        fprintf(stderr, "bench-server: a call did not start\n");
        exit(1);
    }
}

/* inflight calls at once until `seconds` passed; returns the calls completed. */
static uint64_t run_for(loop_state *s, int inflight, double seconds)
{
    s->done = 0;
    s->active = inflight;
    s->deadline = motan_now_us() + (uint64_t)(seconds * 1e6);
    for (int i = 0; i < inflight; i++)
        again(s);
    event_base_dispatch(s->base);
    return s->done;
}

static void bench(const char *name, int echo, int inflight)
{
    proc p;
    if (start(&p, echo)) {
        fprintf(stderr, "bench-server: cannot start %s\n", name);
        exit(1);
    }
    struct event_base *base = event_base_new();
    motan_loop *loop;
    char err[256], url[256];
    snprintf(url, sizeof(url), "motan2://127.0.0.1:%d/com.example.EchoService?connections=1", p.port);
    motan_url *u = tu_url(url);
    loop_state s = {.base = base};
    if (motan_loop_new_with_base(base, &loop, err, sizeof(err)) ||
        motan_endpoint_new(loop, u, &s.ep, err, sizeof(err))) {
        fprintf(stderr, "bench-server: %s\n", err);
        exit(1);
    }
    motan_url_free(u);
    s.req = motan_request_new("echo");
    motan_request_set_service(s.req, "com.example.EchoService");
    motan_request_add_arg(s.req, motan_value_new_bytes(motan_request_arena(s.req), "0123456789abcdef", 16));
    run_for(&s, inflight, 0.2); /* connect, warm up */
    double srv0 = tu_proc_cpu_us(p.pid), cli0 = self_cpu_us();
    uint64_t t0 = motan_now_us();
    uint64_t n = run_for(&s, inflight, g_seconds);
    double secs = (double)(motan_now_us() - t0) / 1e6;
    double srv = tu_proc_cpu_us(p.pid) - srv0, cli = self_cpu_us() - cli0;
    if (s.errors)
        fprintf(stderr, "bench-server: %s: %d errors\n", name, s.errors);
    printf("server.%s.%d %.0f rps %.2f server_cpu_us_per_req %.2f client_cpu_us_per_req\n", name,
           inflight, (double)n / secs, n ? srv / (double)n : 0, n ? cli / (double)n : 0);
    fflush(stdout);
    motan_request_free(s.req);
    motan_endpoint_free(s.ep);
    motan_loop_free(loop);
    event_base_free(base);
    stop(&p, echo);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *secs = getenv("BENCH_SECONDS");
    if (secs && atof(secs) > 0)
        g_seconds = atof(secs);
    const int inflights[] = {1, 8, 64};
    for (int i = 0; i < 3; i++)
        bench("echo_server", 1, inflights[i]);
    for (int i = 0; i < 3; i++)
        bench("test_server", 0, inflights[i]);
    return 0;
}
