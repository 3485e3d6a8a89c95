/* One-line error reports on stderr, shared by every command. */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

static void vreport(const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "error: %s\n", msg);
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "run 'motan %s --help' for usage\n", cmd);
    else
        fprintf(stderr, "run 'motan --help' for usage\n");
    return CLI_EUSAGE;
}
