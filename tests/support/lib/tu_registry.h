/*
 * The registry suites' listener: tu_rec_cb records every list a registry delivers. It runs
 * on the loop thread (the built-in one, or the test's own); the test reads what it recorded
 * from the main thread, so every read below is taken under the recorder's mutex.
 */
#ifndef MOTAN_TU_REGISTRY_H
#define MOTAN_TU_REGISTRY_H

#include <pthread.h>
#include <stddef.h>

#include <motan/registry.h>

#include "tu_loop.h"

#define TU_REC_NODES 32 /* nodes kept of one list */
#define TU_REC_LEN 512  /* characters kept of one node URL */

/* What the listener has been told: a copy handed out by tu_rec_last. */
typedef struct tu_list {
    int calls; /* lists delivered so far */
    size_t n;  /* nodes in the last list (only the first TU_REC_NODES are kept) */
    char nodes[TU_REC_NODES][TU_REC_LEN]; /* formatted node URLs, in delivery order */
} tu_list;

typedef struct tu_rec {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast on every delivery (CLOCK_MONOTONIC) */
    tu_list last;
    /* Set: the listener unsubscribes itself from unsub_reg/unsub_service after recording. */
    motan_registry *unsub_reg;
    const motan_url *unsub_service;
} tu_rec;

/* An empty recorder. */
void tu_rec_init(tu_rec *r);
/* Releases the mutex and condition (no listener may still be subscribed with r). */
void tu_rec_destroy(tu_rec *r);
/* The listener (userdata: the tu_rec). */
void tu_rec_cb(const motan_url *const *nodes, size_t n, void *userdata);
/*
 * reg non-NULL: from the next call on, the listener unsubscribes itself (aborting when that
 * fails); reg NULL: it stops doing so.
 */
void tu_rec_unsubscribe_inside(tu_rec *r, motan_registry *reg, const motan_url *service);

/* How many lists were delivered. */
int tu_rec_calls(tu_rec *r);
/* How many nodes the last list had. */
size_t tu_rec_n(tu_rec *r);
/* A consistent copy of the counters and the last list. */
void tu_rec_last(tu_rec *r, tu_list *out);
/* 1 when one node of the last list contains needle. */
int tu_rec_has(tu_rec *r, const char *needle);
/* The last list as text, one node URL a line (each ending in '\n'); returns out. */
const char *tu_rec_list(tu_rec *r, char *out, size_t len);

/* Runs (or waits beside) e's loop until r had `calls` lists or timeout_ms passed; 1: it had. */
int tu_rec_wait(tu_env *e, tu_rec *r, int calls, int timeout_ms);
/*
 * Waits (no loop run: for built-in loops) until the last list has n nodes, one of them
 * containing want when want is not NULL; 1 when it has. On a timeout it prints what it saw.
 */
int tu_rec_wait_list(tu_rec *r, size_t n, const char *want, int timeout_ms);

/* A registry for the URL text on loop; aborts with the library's message when it fails. */
motan_registry *tu_registry(motan_loop *loop, const char *text);

/* File registries: writes text to path through a rename (as editors do); aborts on failure. */
void tu_write_renamed(const char *path, const char *text);
/*
 * services[service][group] of the services file at path, its entries joined by '|' into out
 * ("" for none, "-" when the file is missing or no JSON); returns out.
 */
const char *tu_services_list(const char *path, const char *service, const char *group, char *out,
                             size_t len);

#endif
