/*
 * The agent's log and access log: stderr by default, or DIR/agent.log and DIR/access.log
 * (log_dir), reopened on SIGHUP so that logrotate can move them. One line per write, with a
 * UTC timestamp; everything runs on the loop thread.
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
    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
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
        fclose(g_log);
        fclose(g_access);
    }
    g_log = g_access = NULL;
    g_files = 0;
}

static void stamp(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
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
