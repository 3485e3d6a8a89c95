/*
 * Where an argument's input comes from: the argument's own text, "@FILE" (the file's bytes)
 * or "-" (stdin). Files and stdin lift the kernel's 128 KiB limit on one argument. Typed
 * JSON never starts with '@', so the prefix cannot be mistaken for a value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *p = NULL;
    int rc = read_all(f, &p, len);
    int saved = errno;
    fclose(f);
    errno = saved;
    if (rc < 0)
        return -1;
    *out = (char *)p;
    return 0;
}

int cli_input_read(cli_input *in, const char *arg, int text_ok, const char *what, char **out,
                   size_t *len)
{
    *out = NULL;
    *len = 0;
    if (strcmp(arg, "-") == 0) {
        if (in->stdin_by[0])
            return cli_usage_error(in->cmd, "%s: stdin is already read by %s ('-' may appear once)",
                                   what, in->stdin_by);
        snprintf(in->stdin_by, sizeof(in->stdin_by), "%s", what);
        uint8_t *p = NULL;
        errno = 0;
        if (read_all(stdin, &p, len) < 0)
            return cli_error(CLI_EUSAGE, "%s: cannot read stdin: %s", what,
                             errno ? strerror(errno) : "out of memory");
        *out = (char *)p;
        return CLI_OK;
    }
    if (arg[0] == '@') {
        if (!arg[1])
            return cli_usage_error(in->cmd, "%s: '@' must be followed by a file name", what);
        errno = 0;
        if (read_file(arg + 1, out, len) < 0)
            return cli_error(CLI_EUSAGE, "%s: cannot read '%s': %s", what, arg + 1,
                             errno ? strerror(errno) : "out of memory");
        return CLI_OK;
    }
    if (!text_ok)
        return cli_usage_error(in->cmd, "%s wants @FILE or -, got '%s'", what, arg);
    *len = strlen(arg);
    if (!(*out = malloc(*len + 1)))
        return cli_error(CLI_EDATA, "out of memory");
    memcpy(*out, arg, *len + 1);
    return CLI_OK;
}
