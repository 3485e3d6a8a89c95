/* A caller-owned event loop for the integration suites: run it until a counter is reached. */
#ifndef MOTAN_TU_LOOP_H
#define MOTAN_TU_LOOP_H

#include <event2/event.h>

#include <motan/transport.h>

typedef struct tu_env {
    struct event_base *base; /* precise timers */
    struct event *ticker;    /* wakes the loop every 5 ms so waits can end */
    motan_loop *loop;        /* a motan loop on base */
} tu_env;

/* Aborts the test process when something cannot be created. */
void tu_env_init(tu_env *e);
void tu_env_free(tu_env *e);
/* Runs the loop until *counter >= target or timeout_ms passed; 1 when reached. */
int tu_run_until(tu_env *e, const int *counter, int target, int timeout_ms);
void tu_run_for(tu_env *e, int ms);
/* Parses a URL or aborts with the parser's message. owned: motan_url_free. */
motan_url *tu_url(const char *text);
/* 1 under valgrind or a sanitizer (MOTAN_SANITIZER set): scale load down, relax timing. */
int tu_slow(void);
/* Resident set size of this process in KiB (/proc/self/status). */
long tu_rss_kb(void);

#endif
