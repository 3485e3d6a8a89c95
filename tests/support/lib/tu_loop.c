#include "tu_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

void tu_env_init(tu_env *e)
{
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    e->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!e->base)
        abort();
    e->ticker = event_new(e->base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(e->ticker, &tv);
    char err[256];
    if (motan_loop_new_with_base(e->base, &e->loop, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "motan_loop_new_with_base: %s\n", err);
        abort();
    }
}

void tu_env_init_builtin(tu_env *e)
{
    char err[256];
    memset(e, 0, sizeof(*e));
    if (motan_loop_new(&e->loop, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "motan_loop_new: %s\n", err);
        abort();
    }
}

void tu_env_init_mode(tu_env *e, int builtin)
{
    if (builtin)
        tu_env_init_builtin(e);
    else
        tu_env_init(e);
}

void tu_env_free(tu_env *e)
{
    motan_loop_free(e->loop);
    if (e->base) {
        event_free(e->ticker);
        event_base_free(e->base);
    }
}

void tu_run_once(tu_env *e)
{
    if (e->base)
        event_base_loop(e->base, EVLOOP_ONCE);
    else
        usleep(2000);
}

int tu_run_until(tu_env *e, const int *counter, int target, int timeout_ms)
{
    uint64_t end = motan_now_us() + (uint64_t)timeout_ms * 1000u;
    while (*counter < target && motan_now_us() < end)
        tu_run_once(e);
    return *counter >= target;
}

void tu_run_for(tu_env *e, int ms)
{
    int never = 0;
    tu_run_until(e, &never, 1, ms);
}

motan_url *tu_url(const char *text)
{
    motan_url *u = NULL;
    char err[256];
    if (motan_url_parse(text, strlen(text), &u, err, sizeof(err)) != MOTAN_OK) {
        fprintf(stderr, "bad URL %s: %s\n", text, err);
        abort();
    }
    return u;
}

int tu_slow(void)
{
    const char *s = getenv("MOTAN_SANITIZER");
    return s && *s;
}

long tu_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}
