/*
 * An event loop for the integration suites: a caller-owned one (tu_env_init), run from the
 * test's thread until a counter is reached, or the library's built-in loop thread
 * (tu_env_init_builtin), which the waits below only sleep beside.
 */
#ifndef MOTAN_TU_LOOP_H
#define MOTAN_TU_LOOP_H

#include <event2/event.h>

#include <motan/transport.h>

typedef struct tu_env {
    struct event_base *base; /* precise timers; NULL with a built-in loop */
    struct event *ticker;    /* wakes the loop every 5 ms so waits can end; NULL likewise */
    motan_loop *loop;        /* a motan loop on base, or a built-in one */
} tu_env;

/* A caller-owned loop. Aborts the test process when something cannot be created. */
void tu_env_init(tu_env *e);
/* A built-in loop (its own thread runs it). Aborts when it cannot be created. */
void tu_env_init_builtin(tu_env *e);
/* tu_env_init_builtin when builtin, else tu_env_init: for checks run in both modes. */
void tu_env_init_mode(tu_env *e, int builtin);
/* Frees either kind. */
void tu_env_free(tu_env *e);
/* One turn of a caller-owned loop (at most ~5 ms); with a built-in loop, a 2 ms sleep. */
void tu_run_once(tu_env *e);
/*
 * Runs the loop until *counter >= target or timeout_ms passed; 1 when reached. *counter is
 * read without a lock: only for counters written on this thread (a caller-owned loop).
 */
int tu_run_until(tu_env *e, const int *counter, int target, int timeout_ms);
/* Runs (or, with a built-in loop, waits beside) the loop for ms. */
void tu_run_for(tu_env *e, int ms);
/* Parses a URL or aborts with the parser's message. owned: motan_url_free. */
motan_url *tu_url(const char *text);
/* 1 under valgrind or a sanitizer (MOTAN_SANITIZER set): scale load down, relax timing. */
int tu_slow(void);
/* Resident set size of this process in KiB (/proc/self/status). */
long tu_rss_kb(void);

#endif
