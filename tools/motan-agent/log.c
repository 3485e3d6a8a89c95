/*
 * The agent's log and access log: stderr by default, or DIR/agent.log and DIR/access.log
 * (log_dir), reopened on SIGHUP so that logrotate can move them. Lines carry a UTC
 * timestamp. The access log file is block-buffered and flushed every second (log_flush):
 * one write() per proxied call would cost more than the call. Loop thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "agent.h"

static FILE *g_log, *g_access;
static char g_dir[1024];
static int g_files; /* 1: g_log and g_access are our files */

static const char *const level_names[] = {"ERROR", "WARN", "INFO"};

static FILE *open_in(const char *name, char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "a");
    if (!f && err)
        snprintf(err, errlen, "log_dir: cannot open %s: %s", path, strerror(errno));
    if (f) /* agent.log: every line at once; access.log: in blocks, log_flush() */
        setvbuf(f, NULL, strcmp(name, "access.log") ? _IOLBF : _IOFBF, 1 << 16);
    return f;
}

int log_open(const char *dir, char *err, size_t errlen)
{
    log_close();
    if (!dir || !*dir || !strcmp(dir, "stderr") || !strcmp(dir, "stdout")) {
        g_log = g_access = dir && !strcmp(dir, "stdout") ? stdout : stderr;
        return 0;
    }
    snprintf(g_dir, sizeof(g_dir), "%s", dir);
    FILE *l = open_in("agent.log", err, errlen), *a = l ? open_in("access.log", err, errlen) : NULL;
    if (!a) {
        if (l)
            fclose(l);
        return -1;
    }
    g_log = l;
    g_access = a;
    g_files = 1;
    return 0;
}

void log_reopen(void)
{
    if (!g_files)
        return;
    FILE *l = open_in("agent.log", NULL, 0), *a = open_in("access.log", NULL, 0);
    if (l) {
        fclose(g_log);
        g_log = l;
    }
    if (a) {
        fclose(g_access);
        g_access = a;
    }
}

void log_close(void)
{
    if (g_files) {
        fflush(g_access);
        fclose(g_log);
        fclose(g_access);
    }
    g_log = g_access = NULL;
    g_files = 0;
}

void log_flush(void)
{
    if (g_files)
        fflush(g_access);
}

/* The date and time part is formatted once a second. */
static void stamp(char *buf, size_t len)
{
    static time_t last = -1;
    static char secs[32];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != last) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
        last = tv.tv_sec;
    }
    snprintf(buf, len, "%s.%03dZ", secs, (int)(tv.tv_usec / 1000));
}

void agent_log(int level, const char *fmt, ...)
{
    FILE *f = g_log ? g_log : stderr;
    char ts[40], msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    stamp(ts, sizeof(ts));
    fprintf(f, "%s motan-agent %s %s\n", ts, level_names[level < 0 || level > 2 ? 0 : level], msg);
    fflush(f);
}

void agent_access(const char *line)
{
    FILE *f = g_access ? g_access : stderr;
    char ts[40];
    stamp(ts, sizeof(ts));
    fprintf(f, "%s access %s\n", ts, line);
    if (!g_files)
        fflush(f);
}

/*
 * The library's log sink (motan_set_log_callback): its lines join the agent's log, its
 * accessLog filter's lines ("client ..." / "server ...") the access log.
 */
void log_from_library(int level, const char *message, void *userdata)
{
    (void)userdata;
    if (!strncmp(message, "client ", 7) || !strncmp(message, "server ", 7))
        agent_access(message);
    else
        agent_log(level <= MOTAN_LOG_ERROR ? LOG_ERROR : level == MOTAN_LOG_WARN ? LOG_WARN : LOG_INFO,
                  "libmotan: %s", message);
}
