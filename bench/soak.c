/*
 * make soak (scripts/soak.sh): about a million calls at 64 in flight over 3 motan-test-server
 * processes while faults are injected at random, checking that every call completes exactly
 * once and in time, that every answer is the right one, that libmotan frees everything, and
 * that resident memory stays flat.
 *
 * One client (built-in loop, failover with 2 retries, requestTimeout 200 ms) reads a file
 * registry that the main thread rewrites every 0.3-1 s: servers dropped and added back,
 * reordered, weights, a dead address, a rule:// sending traffic to a second group, an
 * unparsable or empty file. Three quarters of the slots use motan_client_call_async
 * (re-issued from the callback, on the loop thread), the rest the pull queue
 * (motan_client_submit / motan_client_poll on a poller thread); a call that finds no endpoint
 * waits for the main thread's next tick (20 ms) before the slot goes on, as an application
 * would. Faults:
 *   - the servers run with a random --fault (reset, garbage, oversize, bytewise, ...) at a
 *     random 0.5-2.9 % --fault-rate, drawn again at every restart;
 *   - 0.1 % of calls carry an X-Fault (every kind, gzip bombs and never-ending frames
 *     included); they are name() calls with name.retries=0, as a retried X-Fault would take
 *     down a connection on every server in turn;
 *   - every 0.3-1.8 s one server (never two) is SIGKILLed, SIGTERMed or SIGSTOPped for
 *     0.1-1 s, then started again on the same port (or SIGCONTed).
 * errorCountThreshold=40: a lost connection fails all its ~10-20 pending calls at once, and
 * each counts; with the default 10 one dropped connection would fuse its endpoint.
 *
 * Environment: SOAK_CALLS (1000000), SOAK_SECONDS (280: no new calls after), SOAK_INFLIGHT
 * (64), SOAK_SEED (the time; the threads' draws also depend on timing), SOAK_DIR (a private
 * temporary directory by default; servers.pid there lists the live servers), SOAK_RSS_CHECK
 * (1; 0 under sanitizers), SOAK_LATE_MS (1200: a completion later than this after its call
 * is a failure). For reproducers: SOAK_FAULT_PPM (1000), SOAK_FAULTS (comma-separated
 * X-Fault specs replacing the mix), SOAK_SERVER_FAULTS, SOAK_DISTURB, SOAK_CHURN (1; 0 turns
 * each off), SOAK_VERBOSE (1: servers, faults and disturbances on stderr), SOAK_STALL_DUMP_MS
 * (print every thread's stack with gdb, once, when a call is in flight that long).
 *
 * Memory: libmotan allocates through counting hooks (motan_set_allocator): no block may be
 * live after motan_client_free. RSS (VmRSS) is read after the first 10 % of calls (or of
 * SOAK_SECONDS) and once every call has completed; the second may not exceed the first by
 * more than 10 %. Both are read after malloc_trim(0), and glibc's mmap threshold is fixed at
 * 256 KiB, so that freed memory (gzip bombs, long frames, bursts) is not counted.
 *
 * Output: exactly one line on stdout,
 *   soak issued N completed N ok A error B timeout C rss_start_kb X rss_end_kb Y
 * progress and every failed assertion on stderr; exit status 1 when an assertion failed
 * (2: the run could not be set up). A double completion aborts at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <motan/client.h>

#include "server_proc.h"

#define NSERVERS 3
#define MAX_SLOTS 1024
#define TIMEOUT_MS 200
/* A completion later than this after its call was issued means a timer was lost. */
#define LATE_MS (TIMEOUT_MS + 1000)
static uint64_t g_late_ms = LATE_MS;
#define SERVICE "com.example.EchoService"

enum kind { K_ECHO, K_ADD, K_SLEEP, K_FAIL, K_NAME, K_BIG };
static const char *const kind_method[] = {"echo", "add", "sleep", "fail", "name", "big"};

typedef struct slot {
    int idx;
    int pull;                   /* submit/poll instead of a callback */
    atomic_int busy;            /* 1 while a call is in flight */
    atomic_int parked;          /* waiting for the main thread to issue its next call */
    atomic_uint_fast64_t since; /* µs when the call in flight was issued */
    uint32_t gen;               /* generation of the call in flight (in its tag/userdata) */
    motan_request *req;
    enum kind kind;
    int64_t a, b;
    const char *fault; /* X-Fault of the call in flight, or NULL */
    char token[48];
} slot;

/* ---- state shared by the threads -------------------------------------------------------- */

static motan_client *g_client;
static slot g_slots[MAX_SLOTS];
static int g_nslots;
static uint64_t g_target;
static uint64_t g_seed;

static atomic_int g_stop;    /* no new calls */
static atomic_int g_issuing; /* handlers between their stop check and their call */
static atomic_uint_fast64_t g_tickets, g_issued, g_completed, g_ok, g_error, g_timeout;
static atomic_uint_fast64_t g_wrong, g_late, g_rejected, g_faulted;
static atomic_uint_fast64_t g_codes[64]; /* completions per -code (0 = ok) */
static atomic_int g_failed;
static uint64_t g_t0; /* ms, start of the run */

static void failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("soak: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    atomic_store(&g_failed, 1);
}

static uint64_t rnd(void)
{
    static _Thread_local uint64_t s;
    if (!s)
        s = (g_seed ^ (uint64_t)pthread_self() * 0x9E3779B97F4A7C15ull) | 1;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
}
static int rnd_int(int n) { return (int)(rnd() % (uint64_t)n); }

static uint64_t now_ms(void) { return motan_now_us() / 1000; }

/* VmRSS once glibc has given free heap pages back (malloc_trim): live memory, not caching. */
static long rss_kb(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

/* ---- counting allocator: libmotan's live blocks and bytes, for the leak check ---------- */

typedef struct alloc_hdr {
    _Alignas(max_align_t) size_t n;
} alloc_hdr;

static atomic_llong g_live_blocks, g_live_bytes;

static void *count_malloc(size_t n)
{
    alloc_hdr *h = malloc(sizeof(*h) + n);
    if (!h)
        return NULL;
    h->n = n;
    atomic_fetch_add(&g_live_blocks, 1);
    atomic_fetch_add(&g_live_bytes, (long long)n);
    return h + 1;
}

static void *count_realloc(void *p, size_t n)
{
    if (!p)
        return count_malloc(n);
    alloc_hdr *h = (alloc_hdr *)p - 1;
    size_t old = h->n;
    h = realloc(h, sizeof(*h) + n);
    if (!h)
        return NULL;
    h->n = n;
    atomic_fetch_add(&g_live_bytes, (long long)n - (long long)old);
    return h + 1;
}

static void count_free(void *p)
{
    alloc_hdr *h = (alloc_hdr *)p - 1;
    atomic_fetch_sub(&g_live_blocks, 1);
    atomic_fetch_sub(&g_live_bytes, (long long)h->n);
    free(h);
}

/* ---- calls ------------------------------------------------------------------------------ */

/* Per-request faults, each with a weight (a few percent of calls get one). */
static const struct {
    const char *spec;
    int weight;
} req_faults[] = {
    {"delay:20", 10}, {"delay:150", 6},     {"delay:400", 4},   {"noreply", 4},  {"close", 4},
    {"reset", 4},     {"close-mid", 4},     {"garbage", 4},     {"wrong-id", 4}, {"duplicate", 6},
    {"oversize", 3},  {"oversize-meta", 3}, {"bytewise", 2},    {"error-go", 4}, {"error-java", 4},
    {"gzip", 6},      {"many-meta:50", 4},  {"hb-storm:20", 3}, {"motan1", 2},   {"version2", 2},
    {"gzip-bomb", 1}, {"endless-meta", 1},
};
#define REQ_FAULT_PPM 1000

/* SOAK_FAULTS: a comma-separated list replacing req_faults (equal weights), for reproducers. */
static char g_only_faults[512];
static const char *g_only[32];
static int g_nonly;
static int g_fault_ppm = REQ_FAULT_PPM;

static const char *pick_req_fault(void)
{
    if (rnd_int(1000000) >= g_fault_ppm)
        return NULL;
    if (g_nonly)
        return g_only[rnd_int(g_nonly)];
    int total = 0;
    for (size_t i = 0; i < sizeof(req_faults) / sizeof(req_faults[0]); i++)
        total += req_faults[i].weight;
    int r = rnd_int(total);
    for (size_t i = 0; i < sizeof(req_faults) / sizeof(req_faults[0]); i++) {
        if (r < req_faults[i].weight)
            return req_faults[i].spec;
        r -= req_faults[i].weight;
    }
    return NULL;
}

static motan_request *build_request(slot *s)
{
    /* A faulted call is a name() call, which does not retry (name.retries=0): a retried
     * X-Fault would hit every server in turn. */
    s->fault = pick_req_fault();
    int r = rnd_int(100);
    s->kind = s->fault ? K_NAME
              : r < 78 ? K_ECHO
              : r < 86 ? K_ADD
              : r < 90 ? K_SLEEP
              : r < 93 ? K_FAIL
              : r < 97 ? K_NAME
                       : K_BIG;
    motan_request *req = motan_client_request(g_client, kind_method[s->kind]);
    if (!req)
        return NULL;
    motan_arena *a = motan_request_arena(req);
    snprintf(s->token, sizeof(s->token), "soak-%d-%" PRIu32 "-%08x", s->idx, s->gen,
             (unsigned)rnd());
    motan_value *v1 = NULL, *v2 = NULL;
    switch (s->kind) {
    case K_ECHO:
    case K_FAIL:
        v1 = motan_value_new_string(a, s->token, strlen(s->token));
        break;
    case K_ADD:
        s->a = (int64_t)(rnd() >> 2) - (INT64_MAX >> 2);
        s->b = rnd_int(1000000);
        v1 = motan_value_new_int64(a, s->a);
        v2 = motan_value_new_int32(a, (int32_t)s->b);
        break;
    case K_SLEEP:
        s->a = rnd_int(20);
        v1 = motan_value_new_int32(a, (int32_t)s->a);
        break;
    case K_BIG:
        s->a = 1 + rnd_int(65536);
        v1 = motan_value_new_int32(a, (int32_t)s->a);
        break;
    case K_NAME:
        break;
    }
    if ((v1 && motan_request_add_arg(req, v1) != MOTAN_OK) ||
        (v2 && motan_request_add_arg(req, v2) != MOTAN_OK)) {
        motan_request_free(req);
        return NULL;
    }
    if (s->fault) {
        motan_request_set_meta(req, "X-Fault", s->fault);
        atomic_fetch_add(&g_faulted, 1);
    }
    return req;
}

static void *tag_of(const slot *s)
{
    return (void *)(((uintptr_t)s->gen << 16) | (uintptr_t)s->idx);
}

static void async_cb(motan_response *resp, void *userdata);

/* Issues the slot's next call unless the run is over. Any thread; one at a time per slot. */
static void issue(slot *s)
{
    atomic_fetch_add(&g_issuing, 1);
    if (atomic_load(&g_stop) || atomic_fetch_add(&g_tickets, 1) >= g_target) {
        atomic_fetch_sub(&g_issuing, 1);
        return;
    }
    s->gen++;
    s->req = build_request(s);
    if (!s->req) {
        failf("cannot build a request (out of memory)");
        atomic_store(&g_stop, 1);
        atomic_fetch_sub(&g_issuing, 1);
        return;
    }
    if (atomic_exchange(&s->busy, 1))
        failf("slot %d issued while busy", s->idx);
    atomic_store(&s->since, motan_now_us());
    atomic_fetch_add(&g_issued, 1);
    int rc = s->pull ? motan_client_submit(g_client, s->req, (uint64_t)(uintptr_t)tag_of(s))
                     : motan_client_call_async(g_client, s->req, async_cb, tag_of(s));
    if (rc != MOTAN_OK) {
        /* Not accepted, so not issued: only ENOMEM or a closing client can say this. */
        atomic_fetch_sub(&g_issued, 1);
        atomic_fetch_add(&g_rejected, 1);
        atomic_store(&s->busy, 0);
        motan_request_free(s->req);
        s->req = NULL;
        failf("call rejected: %s", motan_errname(rc));
    }
    atomic_fetch_sub(&g_issuing, 1);
}

static int value_is_string(const motan_value *v, const char *want)
{
    size_t len = 0;
    const char *d = v ? motan_value_get_data(v, &len) : NULL;
    return v && motan_value_type(v) == MOTAN_T_STRING && d && len == strlen(want) &&
           !memcmp(d, want, len);
}

static int value_is_big(const motan_value *v, size_t n)
{
    size_t len = 0;
    const uint8_t *d = v ? (const uint8_t *)motan_value_get_data(v, &len) : NULL;
    if (!v || motan_value_type(v) != MOTAN_T_BYTES || !d || len != n)
        return 0;
    for (size_t i = 0; i < n; i += 997)
        if (d[i] != (uint8_t)(i & 0xff))
            return 0;
    return d[n - 1] == (uint8_t)((n - 1) & 0xff);
}

/* Is an OK (or business-error) answer the one this call asked for? */
static int answer_ok(const slot *s, const motan_response *r, int code)
{
    const motan_value *v = motan_response_get_value(r);
    if (code == MOTAN_EREMOTE)
        return s->kind != K_FAIL || motan_response_get_errtype(r) != 2 ||
               !strcmp(motan_response_get_errmsg(r), s->token);
    switch (s->kind) {
    case K_ECHO:
        return value_is_string(v, s->token);
    case K_ADD:
        return v && motan_value_get_int(v) == (int64_t)((uint64_t)s->a + (uint64_t)s->b);
    case K_SLEEP:
        return v && motan_value_get_int(v) == s->a;
    case K_NAME: {
        size_t len = 0;
        const char *d = v ? motan_value_get_data(v, &len) : NULL;
        return d && len > 5 && !strncmp(d, "soak-", 5);
    }
    case K_BIG:
        return value_is_big(v, (size_t)s->a);
    case K_FAIL:
        return 0; /* fail() never succeeds */
    }
    return 0;
}

/* One completion: checks it belongs to the call in flight, counts it, re-issues. */
static void complete(uintptr_t tag, motan_response *r)
{
    int idx = (int)(tag & 0xffff);
    uint32_t gen = (uint32_t)(tag >> 16);
    if (idx >= g_nslots) {
        failf("completion with an unknown tag %#" PRIxPTR, tag);
        abort();
    }
    slot *s = &g_slots[idx];
    if (!atomic_load(&s->busy) || s->gen != gen) {
        fprintf(stderr,
                "soak: FAIL: double or stale completion: slot %d gen %" PRIu32
                " (in flight: gen %" PRIu32 ", busy %d)\n",
                idx, gen, s->gen, atomic_load(&s->busy));
        abort();
    }
    uint64_t elapsed_ms = (motan_now_us() - atomic_load(&s->since)) / 1000;
    if (elapsed_ms > g_late_ms && atomic_fetch_add(&g_late, 1) < 10)
        failf("late completion at %" PRIu64 " ms: %s after %" PRIu64 " ms (timeout %d ms, "
              "slot %d%s, fault %s, %s from %s: %s)",
              now_ms() - g_t0, kind_method[s->kind], elapsed_ms, TIMEOUT_MS, idx,
              s->pull ? " pull" : "", s->fault ? s->fault : "-",
              r ? motan_errname(motan_response_get_code(r)) : "(null)",
              r && motan_response_get_endpoint(r) ? motan_response_get_endpoint(r) : "-",
              r ? motan_response_get_errmsg(r) : "");
    int code = r ? motan_response_get_code(r) : MOTAN_ENOMEM;
    if (!r) {
        failf("NULL response for %s", kind_method[s->kind]);
        atomic_fetch_add(&g_error, 1);
    } else {
        atomic_fetch_add(&g_codes[code <= 0 && code > -64 ? -code : 63], 1);
        if (code == MOTAN_OK)
            atomic_fetch_add(&g_ok, 1);
        else if (code == MOTAN_ETIMEOUT)
            atomic_fetch_add(&g_timeout, 1);
        else
            atomic_fetch_add(&g_error, 1);
        if ((code == MOTAN_OK || code == MOTAN_EREMOTE) && !answer_ok(s, r, code)) {
            if (atomic_fetch_add(&g_wrong, 1) < 10)
                failf("wrong answer to %s (token %s, fault %s): code %s errmsg \"%s\"",
                      kind_method[s->kind], s->token, s->fault ? s->fault : "-",
                      motan_errname(code), motan_response_get_errmsg(r));
        }
        motan_response_free(r);
    }
    motan_request_free(s->req);
    s->req = NULL;
    atomic_fetch_add(&g_completed, 1);
    atomic_store(&s->busy, 0);
    /* Nowhere to send: back off to the main thread's next tick, as an application would. */
    if (code == MOTAN_ENOENDPOINT)
        atomic_store(&s->parked, 1);
    else
        issue(s);
}

static void async_cb(motan_response *resp, void *userdata) { complete((uintptr_t)userdata, resp); }

/* The pull-queue slots: poll, complete, re-issue, until the run is over. */
static atomic_int g_poller_quit;
static void *poller(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_poller_quit)) {
        motan_response *r = NULL;
        uint64_t tag = 0;
        int rc = motan_client_poll(g_client, 100, &r, &tag);
        if (rc == 1)
            complete((uintptr_t)tag, r);
        else if (rc < 0) {
            failf("motan_client_poll: %s", motan_errname(rc));
            break;
        }
    }
    return NULL;
}

/* ---- servers ---------------------------------------------------------------------------- */

static const char *const srv_faults[] = {
    "none",     "delay:30", "garbage",   "reset",        "oversize",  "oversize-meta", "close-mid",
    "noreply",  "wrong-id", "duplicate", "close",        "gzip",      "error-go",      "error-java",
    "bytewise", "version2", "motan1",    "many-meta:20", "hb-storm:5"};

static int g_server_faults = 1;
static int g_verbose;
static uint64_t g_dump_ms; /* SOAK_STALL_DUMP_MS */
static tu_server g_srv[NSERVERS];
static int g_port[NSERVERS];
static int g_dead_port;

/* SOAK_DIR/servers.pid: the live servers, for the script to clean up after a crash. */
static char g_pidfile[600];
static void write_pids(void)
{
    char tmp[640];
    snprintf(tmp, sizeof(tmp), "%s.tmp", g_pidfile);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    for (int i = 0; i < NSERVERS; i++)
        if (g_srv[i].pid)
            fprintf(f, "%d\n", (int)g_srv[i].pid);
    fclose(f);
    rename(tmp, g_pidfile);
}

/* (Re)starts server i on its port with a random fault at a random small rate. */
static int server_start(int i)
{
    char port[16], name[32], rate[16], seed[24];
    const char *fault = g_server_faults
                            ? srv_faults[rnd_int((int)(sizeof(srv_faults) / sizeof(srv_faults[0])))]
                            : "none";
    snprintf(port, sizeof(port), "%d", g_port[i]);
    snprintf(name, sizeof(name), "soak-%d", i);
    snprintf(rate, sizeof(rate), "%d.%d", rnd_int(3), 5 + rnd_int(5));
    snprintf(seed, sizeof(seed), "%" PRIu64, rnd() % 1000000);
    const char *args[] = {"--quiet", "--port",  port,  "--name",       name, "--seed",
                          seed,      "--fault", fault, "--fault-rate", rate, NULL};
    if (!strcmp(fault, "none"))
        args[7] = NULL; /* the server takes no --fault-rate without a real fault */
    for (int attempt = 0; attempt < 20; attempt++) {
        uint64_t t0 = now_ms();
        if (tu_server_start(&g_srv[i], args) == 0) {
            write_pids();
            if (g_verbose)
                fprintf(stderr, "soak: server %d on port %d: fault %s at %s %% (%d ms to start)\n",
                        i, g_port[i], fault, rate, (int)(now_ms() - t0));
            return 0;
        }
        usleep(100000); /* the port may still be held for a moment */
    }
    return -1;
}

/* A free port below the kernel's ephemeral range, so no client socket can ever sit on it. */
static int free_port(void)
{
    for (;;) {
        int p = 20000 + rnd_int(12000);
        int dup = p == g_dead_port;
        for (int i = 0; i < NSERVERS; i++)
            dup |= p == g_port[i];
        if (!dup)
            return p;
    }
}

/* ---- registry churn --------------------------------------------------------------------- */

static char g_dir[512], g_json[600], g_tmp[600];

static void write_file(const char *text, int in_place)
{
    const char *path = in_place ? g_json : g_tmp;
    FILE *f = fopen(path, "w");
    if (!f) {
        failf("cannot write %s: %s", path, strerror(errno));
        return;
    }
    fputs(text, f);
    fclose(f);
    if (!in_place && rename(g_tmp, g_json) != 0)
        failf("rename %s: %s", g_tmp, strerror(errno));
}

static int g_variant_counts[8];

/* Writes one of the registry variants (random unless forced >= 0). */
static void registry_write(int forced)
{
    static const int weights[8] = {25, 20, 15, 10, 15, 5, 5, 5};
    int v = forced;
    if (v < 0) {
        int r = rnd_int(100);
        for (v = 0; v < 7 && r >= weights[v]; v++)
            r -= weights[v];
    }
    g_variant_counts[v]++;
    int a = rnd_int(NSERVERS), b = (a + 1) % NSERVERS, c = (a + 2) % NSERVERS;
    char def[1024] = "", extra[512] = "";
    switch (v) {
    case 0: /* all three */
        snprintf(def, sizeof(def), "\"127.0.0.1:%d\", \"127.0.0.1:%d\", \"127.0.0.1:%d\"",
                 g_port[0], g_port[1], g_port[2]);
        break;
    case 1: /* one dropped */
        snprintf(def, sizeof(def), "\"127.0.0.1:%d\", \"127.0.0.1:%d\"", g_port[b], g_port[c]);
        break;
    case 2: /* reordered, full URLs with weights */
        snprintf(def, sizeof(def),
                 "\"motan2://127.0.0.1:%d/" SERVICE
                 "?weight=%d\", \"motan2://127.0.0.1:%d?weight=%d\", "
                 "\"127.0.0.1:%d\"",
                 g_port[c], 1 + rnd_int(5), g_port[a], 1 + rnd_int(5), g_port[b]);
        break;
    case 3: /* all three and a dead address */
        snprintf(def, sizeof(def),
                 "\"127.0.0.1:%d\", \"127.0.0.1:%d\", \"127.0.0.1:%d\", \"127.0.0.1:%d\"",
                 g_port[a], g_dead_port, g_port[b], g_port[c]);
        break;
    case 4: /* a rule sending some traffic to a second group */
        snprintf(def, sizeof(def),
                 "\"127.0.0.1:%d\", \"127.0.0.1:%d\", "
                 "\"rule://0.0.0.0/" SERVICE "?weights=default_rpc:%d,soakB:1\"",
                 g_port[a], g_port[b], 2 + rnd_int(3));
        snprintf(extra, sizeof(extra), ", \"soakB\": [\"127.0.0.1:%d\"]", g_port[c]);
        break;
    case 5: /* unparsable: the last good list stays */
        write_file("{\"services\": {\"" SERVICE "\": {\"default_rpc\": [\"127.0.0.1:", rnd_int(2));
        return;
    case 6: /* empty: ignored (emptyNodeProtection) */
        break;
    case 7: /* one server and the dead address */
        snprintf(def, sizeof(def), "\"127.0.0.1:%d\", \"127.0.0.1:%d\"", g_port[a], g_dead_port);
        break;
    }
    char text[2048];
    snprintf(text, sizeof(text), "{\"services\": {\"" SERVICE "\": {\"default_rpc\": [%s]%s}}}\n",
             def, extra);
    write_file(text, rnd_int(10) == 0);
}

/* ---- the run ---------------------------------------------------------------------------- */

/* Stops the servers, removes the files (and the directory when it is ours). */
static void teardown(int own_dir)
{
    for (int i = 0; i < NSERVERS; i++)
        if (g_srv[i].pid) {
            kill(g_srv[i].pid, SIGCONT);
            if (tu_server_stop(&g_srv[i]) != 0)
                failf("server %d did not exit cleanly on SIGTERM", i);
        }
    unlink(g_json);
    unlink(g_tmp);
    unlink(g_pidfile);
    if (own_dir)
        rmdir(g_dir);
}

static int all_idle(void)
{
    for (int i = 0; i < g_nslots; i++)
        if (atomic_load(&g_slots[i].busy))
            return 0;
    return 1;
}

/* Calls in flight much longer than any timeout: report each once. */
static void check_stuck(void)
{
    static uint32_t reported[MAX_SLOTS];
    static int dumped;
    uint64_t now = motan_now_us();
    for (int i = 0; g_dump_ms && !dumped && i < g_nslots; i++) {
        uint64_t since = atomic_load(&g_slots[i].since);
        if (atomic_load(&g_slots[i].busy) && now > since && (now - since) / 1000 > g_dump_ms) {
            char cmd[128];
            dumped = 1;
            fprintf(stderr,
                    "soak: slot %d in flight for %" PRIu64 " ms at %" PRIu64 " ms: stacks\n", i,
                    (now - since) / 1000, now / 1000 - g_t0);
            snprintf(cmd, sizeof(cmd),
                     "gdb -p %d -batch -ex 'thread apply all bt' 1>&2 2>/dev/null", (int)getpid());
            if (system(cmd) != 0)
                fprintf(stderr, "soak: gdb failed\n");
        }
    }
    for (int i = 0; i < g_nslots; i++) {
        slot *s = &g_slots[i];
        uint64_t since = atomic_load(&s->since);
        if (atomic_load(&s->busy) && now > since && (now - since) / 1000 > g_late_ms + 1000 &&
            reported[i] != s->gen) {
            reported[i] = s->gen;
            failf("call stuck: slot %d %s (fault %s) in flight for %" PRIu64 " ms", i,
                  kind_method[s->kind], s->fault ? s->fault : "-", (now - since) / 1000);
        }
    }
}

/* A server that died on its own (not one of ours) is a failure; it is started again. */
static void check_servers(void)
{
    for (int i = 0; i < NSERVERS; i++) {
        int st = 0;
        if (!g_srv[i].pid || waitpid(g_srv[i].pid, &st, WNOHANG) != g_srv[i].pid)
            continue;
        failf("server %d (port %d) died: %s %d", i, g_port[i],
              WIFSIGNALED(st) ? "signal" : "exit status",
              WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        g_srv[i].pid = 0;
        server_start(i);
    }
}

typedef struct disturb {
    uint64_t next_ms;   /* when the next disturbance starts */
    uint64_t resume_ms; /* when the disturbed server comes back (0: none disturbed) */
    int victim;
    int stopped; /* SIGSTOPped rather than gone */
    int kills, terms, pauses;
} disturb;

static void disturb_step(disturb *d, uint64_t now)
{
    if (d->resume_ms && now >= d->resume_ms) {
        if (d->stopped) {
            kill(g_srv[d->victim].pid, SIGCONT);
        } else if (server_start(d->victim) != 0) {
            fprintf(stderr, "soak: cannot restart server %d on port %d; retrying\n", d->victim,
                    g_port[d->victim]);
            d->resume_ms = now + 500;
            return;
        }
        d->resume_ms = 0;
        d->next_ms = now + 300 + (uint64_t)rnd_int(1500);
        return;
    }
    if (d->resume_ms || now < d->next_ms)
        return;
    d->victim = rnd_int(NSERVERS);
    d->stopped = 0;
    int r = rnd_int(100);
    tu_server *s = &g_srv[d->victim];
    if (r < 55) {
        tu_server_kill(s);
        d->kills++;
    } else if (r < 75) {
        if (tu_server_stop(s) != 0)
            failf("server %d did not exit cleanly on SIGTERM", d->victim);
        d->terms++;
    } else {
        kill(s->pid, SIGSTOP);
        d->stopped = 1;
        d->pauses++;
    }
    d->resume_ms = now + 100 + (uint64_t)rnd_int(900);
    if (g_verbose)
        fprintf(stderr, "soak: %" PRIu64 " ms: server %d (port %d) %s for %" PRIu64 " ms\n",
                now - g_t0, d->victim, g_port[d->victim],
                d->stopped ? "stopped"
                : r < 55   ? "killed"
                           : "terminated",
                d->resume_ms - now);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /*
     * A fixed mmap threshold: glibc's sliding one would keep the 10 MiB blocks of gzip bombs
     * and long frames on the heap after they are freed, and the RSS check is about leaks,
     * not about that hysteresis.
     */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    motan_set_allocator(count_malloc, count_realloc, count_free);
    g_target = env_u64("SOAK_CALLS", 1000000);
    uint64_t cap_ms = env_u64("SOAK_SECONDS", 280) * 1000;
    g_nslots = (int)env_u64("SOAK_INFLIGHT", 64);
    g_seed = env_u64("SOAK_SEED", (uint64_t)time(NULL));
    int rss_check = (int)env_u64("SOAK_RSS_CHECK", 1);
    g_fault_ppm = (int)env_u64("SOAK_FAULT_PPM", REQ_FAULT_PPM);
    g_server_faults = (int)env_u64("SOAK_SERVER_FAULTS", 1);
    g_verbose = (int)env_u64("SOAK_VERBOSE", 0);
    g_late_ms = env_u64("SOAK_LATE_MS", LATE_MS);
    g_dump_ms = env_u64("SOAK_STALL_DUMP_MS", 0);
    int disturbing = (int)env_u64("SOAK_DISTURB", 1), churning = (int)env_u64("SOAK_CHURN", 1);
    const char *only = getenv("SOAK_FAULTS");
    if (only && *only) {
        snprintf(g_only_faults, sizeof(g_only_faults), "%s", only);
        char *save = NULL;
        for (char *f = strtok_r(g_only_faults, ",", &save); f && g_nonly < 32;
             f = strtok_r(NULL, ",", &save))
            g_only[g_nonly++] = f;
    }
    if (g_nslots < 1 || g_nslots > MAX_SLOTS || g_target < 1) {
        fprintf(stderr, "soak: bad SOAK_INFLIGHT or SOAK_CALLS\n");
        return 2;
    }
    fprintf(stderr,
            "soak: %" PRIu64 " calls, %d in flight, at most %" PRIu64 " s, seed %" PRIu64 "\n",
            g_target, g_nslots, cap_ms / 1000, g_seed);

    const char *dir = getenv("SOAK_DIR");
    int own_dir = !(dir && *dir);
    if (own_dir) {
        snprintf(g_dir, sizeof(g_dir), "/tmp/motan-soak.XXXXXX");
        if (!mkdtemp(g_dir)) {
            perror("soak: mkdtemp");
            return 2;
        }
    } else {
        snprintf(g_dir, sizeof(g_dir), "%s", dir);
    }
    snprintf(g_json, sizeof(g_json), "%s/services.json", g_dir);
    snprintf(g_tmp, sizeof(g_tmp), "%s/services.json.tmp", g_dir);
    snprintf(g_pidfile, sizeof(g_pidfile), "%s/servers.pid", g_dir);

    g_dead_port = free_port();
    for (int i = 0; i < NSERVERS; i++) {
        int ok = 0;
        for (int tries = 0; tries < 20 && !ok; tries++) {
            g_port[i] = free_port();
            ok = server_start(i) == 0;
        }
        if (!ok) {
            fprintf(stderr, "soak: cannot start the test servers\n");
            teardown(own_dir);
            return 2;
        }
    }
    registry_write(0);

    char url[1024], err[256];
    snprintf(url, sizeof(url),
             "file://%s/" SERVICE "?interval=200&haStrategy=failover&retries=2&requestTimeout=%d"
             "&connectTimeout=200&keepaliveInterval=200&errorCountThreshold=40&name.retries=0",
             g_json, TIMEOUT_MS);
    if (motan_client_new(url, &g_client, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "soak: %s: %s\n", url, err);
        teardown(own_dir);
        return 2;
    }
    if (motan_client_wait_ready(g_client, 5000) != MOTAN_OK) {
        fprintf(stderr, "soak: the client found no endpoint within 5 s\n");
        motan_client_free(g_client);
        teardown(own_dir);
        return 2;
    }

    pthread_t poll_thread;
    for (int i = 0; i < g_nslots; i++) {
        g_slots[i].idx = i;
        g_slots[i].pull = i % 4 == 3;
    }
    pthread_create(&poll_thread, NULL, poller, NULL);
    uint64_t t0 = now_ms();
    g_t0 = t0;
    for (int i = 0; i < g_nslots; i++)
        issue(&g_slots[i]);

    disturb d = {.next_ms = t0 + 500};
    uint64_t next_registry = t0 + 500, next_report = t0 + 10000;
    long rss_start = -1;
    int capped = 0;
    for (;;) {
        usleep(20000);
        uint64_t now = now_ms();
        if (!capped && now - t0 >= cap_ms && !atomic_load(&g_stop)) {
            capped = 1;
            atomic_store(&g_stop, 1);
            fprintf(stderr, "soak: SOAK_SECONDS reached: no more calls\n");
        }
        uint64_t done = atomic_load(&g_completed);
        if (rss_start < 0 && (done >= g_target / 10 || now - t0 >= cap_ms / 10)) {
            rss_start = rss_kb();
            fprintf(stderr,
                    "soak: warm-up done after %" PRIu64 " calls: rss %ld kB, libmotan %lld "
                    "blocks %lld bytes\n",
                    done, rss_start, atomic_load(&g_live_blocks), atomic_load(&g_live_bytes));
        }
        if (atomic_load(&g_stop) || atomic_load(&g_tickets) >= g_target) {
            atomic_store(&g_stop, 1);
            if (atomic_load(&g_issuing) == 0 && all_idle())
                break;
        }
        check_stuck();
        check_servers();
        for (int i = 0; i < g_nslots; i++)
            if (atomic_exchange(&g_slots[i].parked, 0))
                issue(&g_slots[i]);
        if (churning && now >= next_registry && !atomic_load(&g_stop)) {
            registry_write(-1);
            next_registry = now + 300 + (uint64_t)rnd_int(700);
        }
        if (disturbing && !atomic_load(&g_stop))
            disturb_step(&d, now);
        if (now >= next_report) {
            fprintf(stderr,
                    "soak: %3" PRIu64 " s: completed %" PRIu64 " ok %" PRIu64 " error %" PRIu64
                    " timeout %" PRIu64 " rss %ld kB\n",
                    (now - t0) / 1000, done, (uint64_t)atomic_load(&g_ok),
                    (uint64_t)atomic_load(&g_error), (uint64_t)atomic_load(&g_timeout), rss_kb());
            next_report = now + 10000;
        }
        if (now - t0 > cap_ms + 10000) {
            failf("calls still in flight 10 s after the end");
            break;
        }
    }
    uint64_t secs_ms = now_ms() - t0;
    /* Bring back a disturbed server so that every one is stopped the same way below. */
    if (d.resume_ms) {
        if (d.stopped)
            kill(g_srv[d.victim].pid, SIGCONT);
        else
            server_start(d.victim);
    }
    if (rss_start < 0)
        rss_start = rss_kb();
    long rss_end = rss_kb();
    fprintf(stderr, "soak: at the end: rss %ld kB, libmotan %lld blocks %lld bytes\n", rss_end,
            atomic_load(&g_live_blocks), atomic_load(&g_live_bytes));

    atomic_store(&g_poller_quit, 1);
    pthread_join(poll_thread, NULL);
    motan_client_free(g_client);
    long long blocks = atomic_load(&g_live_blocks), bytes = atomic_load(&g_live_bytes);
    if (blocks != 0 || bytes != 0)
        failf("leak: %lld blocks (%lld bytes) allocated by libmotan are still live after "
              "motan_client_free",
              blocks, bytes);
    teardown(own_dir);

    uint64_t issued = atomic_load(&g_issued), completed = atomic_load(&g_completed);
    uint64_t ok = atomic_load(&g_ok), error = atomic_load(&g_error),
             timeout = atomic_load(&g_timeout);
    fprintf(stderr,
            "soak: %.1f s, %.0f calls/s; %" PRIu64 " calls with an X-Fault; disturbances: %d kill, "
            "%d term, %d stop; registry writes by variant:",
            (double)secs_ms / 1000, (double)completed * 1000 / (double)(secs_ms ? secs_ms : 1),
            (uint64_t)atomic_load(&g_faulted), d.kills, d.terms, d.pauses);
    for (int i = 0; i < 8; i++)
        fprintf(stderr, " %d", g_variant_counts[i]);
    fprintf(stderr, "\nsoak: completions by code:");
    for (int i = 0; i < 64; i++)
        if (atomic_load(&g_codes[i]))
            fprintf(stderr, " %s %" PRIu64, i ? motan_errname(-i) : "OK",
                    (uint64_t)atomic_load(&g_codes[i]));
    fputc('\n', stderr);

    if (issued != completed)
        failf("issued %" PRIu64 " != completed %" PRIu64, issued, completed);
    if (ok + error + timeout != completed)
        failf("ok + error + timeout = %" PRIu64 " != completed %" PRIu64, ok + error + timeout,
              completed);
    if (!capped && issued != g_target)
        failf("issued %" PRIu64 " of %" PRIu64 " calls", issued, g_target);
    if (rss_check && rss_end > rss_start + rss_start / 10)
        failf("resident memory grew from %ld kB to %ld kB (more than 10 %%)", rss_start, rss_end);
    if (ok < completed / 2)
        failf("only %" PRIu64 " of %" PRIu64 " calls succeeded", ok, completed);
    printf("soak issued %" PRIu64 " completed %" PRIu64 " ok %" PRIu64 " error %" PRIu64
           " timeout %" PRIu64 " rss_start_kb %ld rss_end_kb %ld\n",
           issued, completed, ok, error, timeout, rss_start, rss_end);
    return atomic_load(&g_failed) ? 1 : 0;
}
