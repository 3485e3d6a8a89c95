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
#define CLI_ETIMEOUT 3 /* motan call: the call timed out */
#define CLI_ENOCONN 4  /* motan call: no endpoint or connection failure */

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

/* ---- report.c ------------------------------------------------------------------------- */

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
/* All of f, malloc'd, with a NUL after the *len bytes; -1 on a read error or out of memory. */
int read_all(FILE *f, uint8_t **out, size_t *len);

/* ---- input.c ------------------------------------------------------------------------- */

/* What one command line has read so far: stdin can be read once. */
typedef struct cli_input {
    const char *cmd;   /* the command, for usage hints */
    char stdin_by[64]; /* what read stdin, "" before */
} cli_input;

/*
 * The input an argument names: "@FILE" the file's bytes, "-" stdin's, anything else (when
 * text_ok) the argument's own text. *out is malloc'd, with a NUL after its *len bytes.
 * what names the argument in messages ("argument 2"). CLI_OK, or CLI_EUSAGE (an unreadable
 * file, a second "-", ...) / CLI_EDATA (out of memory) after reporting.
 */
int cli_input_read(cli_input *in, const char *arg, int text_ok, const char *what, char **out,
                   size_t *len);

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

/* ---- cmd_call.c ---------------------------------------------------------------------- */

/* The exit status for a call's library code: 0 ok, 3 timeout, 4 no endpoint or connection,
 * 1 anything else. */
int cli_call_exit_code(int code);
/* Reports a failed call (code, message, remote errcode) on stderr; returns its exit status. */
int cli_call_failure(const motan_response *resp);

/* ---- call_stats.c: the repeat mode's statistics ------------------------------------------ */

typedef struct cli_stats cli_stats;

/* NULL when out of memory; free with cli_stats_free. */
cli_stats *cli_stats_new(void);
void cli_stats_free(cli_stats *s);
/* One finished call: its library code (MOTAN_OK or an error) and latency. */
void cli_stats_add(cli_stats *s, int code, uint64_t latency_us);
uint64_t cli_stats_calls(const cli_stats *s);
uint64_t cli_stats_errors(const cli_stats *s);
/* The nearest-rank percentile (per_mille 500 = p50, 999 = p99.9); 0 with no calls. */
uint64_t cli_stats_percentile(const cli_stats *s, unsigned per_mille);
/*
 * The summary line: "calls N ok N errors N rps R p50_us X p99_us X p999_us X max_us X", then
 * " err_<NAME> COUNT" per error code seen (NAME as motan_errname without MOTAN_), in the
 * order of the codes (-1, -2, ...; unnamed codes last as err_EUNKNOWN), and a newline.
 */
void cli_stats_print(const cli_stats *s, double seconds, FILE *out);

/* ---- call_repeat.c: motan call -n N -c C --------------------------------------------------- */

/* Builds one request for the run (owned by the caller); NULL after reporting, *code set. */
typedef motan_request *(*cli_request_fn)(void *ud, int *code);

/*
 * Makes n calls on cl, c in flight, each slot with its own request from make (built before
 * the first call starts, freed when the run ends). Prints the summary line to out; the first
 * failure goes to stderr. Returns CLI_OK when every call succeeded, else the exit status of
 * the first failure (or of a request that could not be built).
 */
int cli_call_repeat(motan_client *cl, long n, long c, cli_request_fn make, void *ud, FILE *out);

#endif
