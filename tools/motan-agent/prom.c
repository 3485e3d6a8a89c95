/*
 * Prometheus text (format 0.0.4) for the families the agent writes itself (motan_agent_*,
 * read at scrape time); the call families come from the library (motan_stats_prometheus).
 */
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "agent.h"

static void escaped(struct evbuffer *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            evbuffer_add(out, "\\\\", 2);
        else if (*v == '"')
            evbuffer_add(out, "\\\"", 2);
        else if (*v == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, v, 1);
    }
}

void prom_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(struct evbuffer *out, const char *name, const char *const *labels, size_t n,
                 double value)
{
    evbuffer_add_printf(out, "%s", name);
    for (size_t i = 0; i < n; i++) {
        evbuffer_add_printf(out, "%s%s=\"", i ? "," : "{", labels[2 * i]);
        escaped(out, labels[2 * i + 1]);
        evbuffer_add(out, "\"", 1);
    }
    if (n)
        evbuffer_add(out, "}", 1);
    if (value == (double)(int64_t)value)
        evbuffer_add_printf(out, " %lld\n", (long long)value);
    else
        evbuffer_add_printf(out, " %.9g\n", value);
}
