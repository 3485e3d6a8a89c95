/*
 * The `motan` command-line tool: the command table entry, exit codes and the small helpers
 * the command files share (hex, a JSON reader that keeps each value's source text, JSON
 * string output). Not part of the library.
 */
#ifndef MOTAN_CLI_H
#define MOTAN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <motan/client.h>

/* Exit codes: other tools rely on these. */
#define CLI_OK 0
#define CLI_EDATA 1  /* the input was read but is not valid (decode errors) */
#define CLI_EUSAGE 2 /* bad command line or malformed input text (encode errors) */

/*
 * One subcommand. run gets argv with argv[0] = the command name; "--help" never reaches it
 * (main prints usage first). To add a command: a new cmd_<group>.c defining one of these and
 * a line in the table of main.c.
 */
struct cli_cmd {
    const char *name;
    const char *summary; /* one line for `motan help` */
    const char *usage;   /* full text for `motan <cmd> --help`, ends with '\n' */
    int (*run)(int argc, char **argv);
};

extern const struct cli_cmd cli_cmd_encode;
extern const struct cli_cmd cli_cmd_decode;
extern const struct cli_cmd cli_cmd_call;

/* Prints "error: <msg>" (newlines folded, so it stays one line) to stderr; returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error plus a hint naming `motan <cmd> --help` (cmd NULL: `motan --help`). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- call_verbose.c: motan call -v ------------------------------------------------------ */

/* Puts the tool's tracing filter last in cfg's filter list (registered on first use). */
int cli_verbose_enable(motan_config *cfg);

/* ---- hex.c ---------------------------------------------------------------------------- */

/* Hex text -> bytes (malloc'd); either case, whitespace ignored. -1 with err on bad input. */
int hex_decode(const char *text, uint8_t **out, size_t *len, char *err, size_t errlen);
/* Appends lowercase hex of p to b. */
int hex_append(motan_buf *b, const uint8_t *p, size_t len);
/* Whole stdin, malloc'd; -1 on a read error. */
int read_all(FILE *f, uint8_t **out, size_t *len);

/* ---- json_read.c ---------------------------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

/* A parsed JSON value; raw..raw+rawlen is its exact source text (typed JSON is re-read). */
struct jnode {
    enum jtype type;
    const char *raw;
    size_t rawlen;
    int b;        /* J_BOOL */
    char *s;      /* J_STR: unescaped, NUL-terminated (slen excludes the NUL) */
    size_t slen;
    size_t n;     /* J_ARR elements, J_OBJ members */
    struct jnode *kids;  /* elements or member values */
    struct jnode *keys;  /* J_OBJ: member keys (J_STR nodes) */
};

/* Parses exactly one JSON value (whitespace around it allowed). -1 with err on bad text. */
int json_parse(const char *text, size_t len, struct jnode *out, char *err, size_t errlen);
void json_free(struct jnode *n);
/* Member of an object by key, or NULL. */
const struct jnode *json_get(const struct jnode *obj, const char *key);

/* ---- json_write.c --------------------------------------------------------------------- */

/* Appends s as a JSON string; invalid UTF-8 becomes U+FFFD. */
int json_put_str(motan_buf *b, const char *s, size_t len);
int json_put(motan_buf *b, const char *s);

/* ---- frame_json.c --------------------------------------------------------------------- */

/* A whole frame -> the JSON object of `motan decode frame`. CLI_OK or CLI_EDATA with err. */
int frame_to_json(const uint8_t *data, size_t len, motan_buf *out, char *err, size_t errlen);
/* The JSON object of `motan encode frame` -> frame bytes. CLI_OK or CLI_EUSAGE with err. */
int frame_from_json(const char *text, size_t len, motan_buf *out, char *err, size_t errlen);

#endif
