/* motan: command-line tool for libmotan. Dispatches to the subcommands of the table below. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd *const commands[] = {
    &cli_cmd_encode,
    &cli_cmd_decode,
    &cli_cmd_call,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: motan <command> [arguments]\n"
               "       motan <command> --help | motan help [command] | motan --version\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nexit status: 0 ok, 1 invalid data or remote error, 2 usage error or bad input text,\n"
               "3 timeout, 4 no endpoint or connection failure (motan call)\n");
}

static int is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

static int help(int argc, char **argv)
{
    if (argc < 1) {
        usage(stdout);
        return CLI_OK;
    }
    const struct cli_cmd *c = find(argv[0]);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
    fputs(c->usage, stdout);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(NULL, "no command given");
    const char *name = argv[1];
    if (is_help(name))
        return help(0, NULL);
    if (strcmp(name, "help") == 0)
        return help(argc - 2, argv + 2);
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("motan %s\n", motan_version());
        return CLI_OK;
    }
    const struct cli_cmd *c = find(name);
    if (!c)
        return cli_usage_error(NULL, name[0] == '-' ? "unknown option '%s'" : "unknown command '%s'",
                               name);
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(c->usage, stdout);
            return CLI_OK;
        }
    }
    int rc = c->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0)
        return cli_error(CLI_EDATA, "writing the output failed");
    return rc;
}
