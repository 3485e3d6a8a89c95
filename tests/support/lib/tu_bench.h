/*
 * Helpers shared by the benchmarks under bench/ (not part of the library): latency samples
 * and their report line, the blocking floor client every throughput figure is compared
 * with, the ratio line, and the machine the figures come from.
 */
#ifndef MOTAN_TU_BENCH_H
#define MOTAN_TU_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <motan/codec.h>

#include "server_proc.h"

/* The samples of one figure, gathered over one or more measured slices. */
typedef struct tu_lat {
    uint64_t *lat; /* µs per call */
    size_t n, cap;
    uint64_t wall_us; /* summed over the slices */
    double cpu_us;    /* process CPU time, likewise */
    double user_us;   /* the user part of it */
    double sleeps;    /* voluntary context switches of this process (it blocked) */
    double peer_us;   /* CPU time of peer_pid (the server), when set */
    double peer_sleeps; /* and its voluntary context switches */
    int peer_pid;     /* 0: none; set by the bench before tu_lat_start */
    uint64_t t0;      /* private: the open slice */
    double cpu0, user0, sleeps0, peer0, peer_sleeps0;
} tu_lat;

/* Process CPU time (user + system) so far, µs. */
double tu_cpu_us(void);
/* Opens / closes a measured slice (its wall clock and CPU time add to the figure's). */
void tu_lat_start(tu_lat *s);
void tu_lat_stop(tu_lat *s);
void tu_lat_add(tu_lat *s, uint64_t us);
/* Drops the samples and times (after a warm-up); keeps peer_pid. */
void tu_lat_reset(tu_lat *s);
/*
 * Prints "<name> <rps> rps <p50_us> p50 <p99_us> p99 <cpu_us> cpu_us_per_call" and frees the
 * samples; returns the calls per second.
 */
double tu_lat_report(const char *name, tu_lat *s);

/* Prints "<name> <rps / floor_rps> x_floor". */
void tu_bench_ratio(const char *name, double rps, double floor_rps);
/*
 * $BENCH_ROUNDS (default 3): a figure and its floor are measured in that many alternating
 * slices, so that load from elsewhere on the machine falls on both alike.
 */
int tu_bench_rounds(void);
/* 1 when name is one of the space-separated words of list (BENCH_ONLY). */
int tu_bench_selected(const char *list, const char *name);
/* Prints "# machine: <N> cpus, <model name> (cpu family F, model M)[, virtual machine]"
 * from /proc/cpuinfo. */
void tu_bench_machine(void);

/* The frame of req to the test server's service (com.example.EchoService, group
 * default_rpc, set on req) as a client sends it, id 1. owned: motan_buf_free. */
motan_buf *tu_bench_frame(motan_request *req);
/*
 * The floor client: blocking write/read of the pre-encoded request frame (borrowed until
 * tu_floor_close), inflight requests in flight spread round robin over one connection to
 * each of the nsrv servers. Open connects and warms up for 0.2 s; run measures one slice of
 * `seconds` into st. Exits the process on a socket error.
 */
typedef struct tu_floor tu_floor;
tu_floor *tu_floor_open(const tu_server *srv, int nsrv, int inflight, const motan_buf *frame);
void tu_floor_run(tu_floor *f, double seconds, tu_lat *st);
void tu_floor_close(tu_floor *f);
/* Open, one slice, close; prints tu_lat_report(name) and returns the calls per second. */
double tu_bench_floor(const char *name, const tu_server *srv, int nsrv, int inflight,
                      const motan_buf *frame, double seconds);

#endif
