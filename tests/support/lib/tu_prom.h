/*
 * A strict reader of the Prometheus text exposition format (version 0.0.4, as described in
 * prometheus.io/docs/instrumenting/exposition_formats), written for the tests so that what
 * motan_stats_prometheus produces is checked against the format's rules rather than against
 * itself:
 *   - UTF-8 lines separated by '\n', the last one ending with '\n';
 *   - "# HELP name docstring" (docstring escapes \\ and \n) and "# TYPE name type", at most
 *     once each per metric name, TYPE before the family's first sample, type one of counter,
 *     gauge, histogram, summary, untyped; other '#' lines are comments;
 *   - samples "name[{label="value",...}] value [timestamp]": metric names
 *     [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__",
 *     label values escaping only \\, \" and \n, no label twice, values floats (or NaN,
 *     +Inf, -Inf), timestamps integers;
 *   - the samples of one family (a histogram's _bucket, _sum and _count included) are
 *     contiguous, no series appears twice;
 *   - histograms: per label set, buckets with an `le` label in increasing order, counts not
 *     decreasing, a le="+Inf" bucket equal to _count, and a _sum; counters are not negative.
 */
#ifndef MOTAN_TU_PROM_H
#define MOTAN_TU_PROM_H

#include <stddef.h>

typedef struct tu_prom_sample {
    char *family; /* the TYPE'd name it belongs to */
    char *key;    /* name{label="value",...} with the labels sorted by name */
    double value;
} tu_prom_sample;

typedef struct tu_prom {
    tu_prom_sample *samples;
    size_t n;
    char *types; /* "name type\n" per family, in order */
    char err[256];
} tu_prom;

/* 0 when text follows the rules; -1 with p->err ("line N: why") otherwise. */
int tu_prom_parse(const char *text, tu_prom *p);
void tu_prom_free(tu_prom *p);
/*
 * The value of the series key (labels in any order, e.g.
 * motan_client_calls_total{method="echo",code="MOTAN_OK",...}); -1 when absent.
 */
double tu_prom_value(const tu_prom *p, const char *key);
/* The TYPE of family name, or NULL. Borrowed (static buffer). */
const char *tu_prom_type(const tu_prom *p, const char *name);
/* Samples whose key starts with prefix. */
size_t tu_prom_count(const tu_prom *p, const char *prefix);
/*
 * The sum of the samples of name (exactly, labels aside) whose key contains every string of
 * want (NULL-terminated, may be NULL), e.g. {"method=\"add\"", NULL}; *found gets how many.
 * text must follow the rules: otherwise the reason goes to stderr and the process aborts.
 */
double tu_prom_sum(const char *text, const char *name, const char *const *want, int *found);

#endif
