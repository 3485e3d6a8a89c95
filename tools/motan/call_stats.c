/*
 * The statistics of `motan call -n`: latencies in a log-linear histogram (constant memory
 * whatever N is: exact below 256 us, within 1/128 above) and a count per error code.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Values below 2^(SUB_BITS+1) have a bucket each; above, every power of two is cut into
 * 2^SUB_BITS buckets. */
#define SUB_BITS 7
#define SUB (1u << SUB_BITS)
#define EXACT (2u * SUB)
#define NBUCKETS (EXACT + (64u - SUB_BITS - 1u) * SUB)
#define NCODES 64 /* codes -1 .. -63 by -code; slot 0 for anything else */

struct cli_stats {
    uint64_t calls, ok, max_us;
    uint64_t codes[NCODES];
    uint64_t hist[NBUCKETS];
};

static unsigned bucket(uint64_t v)
{
    if (v < EXACT)
        return (unsigned)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - SUB_BITS; /* >= 1 */
    return EXACT + (shift - 1) * SUB + (unsigned)((v >> shift) - SUB);
}

/* The largest value that falls into bucket b. */
static uint64_t bucket_high(unsigned b)
{
    if (b < EXACT)
        return b;
    unsigned shift = (b - EXACT) / SUB + 1;
    uint64_t low = (uint64_t)((b - EXACT) % SUB + SUB) << shift;
    return low + ((uint64_t)1 << shift) - 1;
}

/* A code with a name of its own gets its own count; the rest share err_EUNKNOWN. */
static int known(int code)
{
    return code < 0 && code > -NCODES && strcmp(motan_errname(code), "MOTAN_EUNKNOWN") != 0;
}

cli_stats *cli_stats_new(void) { return calloc(1, sizeof(cli_stats)); }

void cli_stats_free(cli_stats *s) { free(s); }

void cli_stats_add(cli_stats *s, int code, uint64_t latency_us)
{
    s->calls++;
    s->hist[bucket(latency_us)]++;
    if (latency_us > s->max_us)
        s->max_us = latency_us;
    if (code == MOTAN_OK)
        s->ok++;
    else
        s->codes[known(code) ? -code : 0]++;
}

uint64_t cli_stats_calls(const cli_stats *s) { return s->calls; }

uint64_t cli_stats_errors(const cli_stats *s) { return s->calls - s->ok; }

uint64_t cli_stats_percentile(const cli_stats *s, unsigned per_mille)
{
    if (!s->calls)
        return 0;
    /* nearest rank: the smallest latency that at least per_mille/1000 of the calls had */
    uint64_t rank = (s->calls * per_mille + 999) / 1000, seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += s->hist[b];
        if (seen >= rank) {
            uint64_t v = bucket_high(b);
            return v < s->max_us ? v : s->max_us;
        }
    }
    return s->max_us;
}

/* "MOTAN_ETIMEOUT" -> "ETIMEOUT" */
static const char *short_name(int code)
{
    const char *n = motan_errname(code);
    return strncmp(n, "MOTAN_", 6) == 0 ? n + 6 : n;
}

void cli_stats_print(const cli_stats *s, double seconds, FILE *out)
{
    fprintf(out, "calls %llu ok %llu errors %llu rps %.0f p50_us %llu p99_us %llu p999_us %llu max_us %llu",
            (unsigned long long)s->calls, (unsigned long long)s->ok,
            (unsigned long long)(s->calls - s->ok), seconds > 0 ? (double)s->calls / seconds : 0.0,
            (unsigned long long)cli_stats_percentile(s, 500),
            (unsigned long long)cli_stats_percentile(s, 990),
            (unsigned long long)cli_stats_percentile(s, 999), (unsigned long long)s->max_us);
    for (int i = 1; i <= NCODES; i++) {
        int slot = i % NCODES; /* the catch-all slot 0 last */
        if (s->codes[slot])
            fprintf(out, " err_%s %llu", slot ? short_name(-slot) : "EUNKNOWN",
                    (unsigned long long)s->codes[slot]);
    }
    fputc('\n', out);
}
