/*
 * motan call URL METHOD [ARG...]: one call through the client API, arguments and result in
 * typed JSON; or, with -n, the repeat mode (call_repeat.c). An argument may come from a file
 * (@FILE), stdin (-) or a file's raw bytes (--raw-bytes); all are read once, before any call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_META 64

int cli_call_exit_code(int code)
{
    switch (code) {
    case MOTAN_OK:
        return CLI_OK;
    case MOTAN_ETIMEOUT:
        return CLI_ETIMEOUT;
    case MOTAN_ECONNECT:
    case MOTAN_ENOENDPOINT:
        return CLI_ENOCONN;
    default:
        return CLI_EDATA;
    }
}

int cli_call_failure(const motan_response *resp)
{
    int code = motan_response_get_code(resp);
    if (code == MOTAN_EREMOTE)
        return cli_error(CLI_EDATA, "remote error %lld (errtype %d): %s",
                         (long long)motan_response_get_errcode(resp), motan_response_get_errtype(resp),
                         motan_response_get_errmsg(resp));
    return cli_error(cli_call_exit_code(code), "%s: %s", motan_errname(code),
                     motan_response_get_errmsg(resp));
}

typedef struct call_arg {
    const char *src; /* as given: typed JSON, @FILE or - */
    int raw;         /* --raw-bytes: the input's bytes, sent as a bytes value */
    char *data;      /* the input (owned) */
    size_t len;
} call_arg;

typedef struct call_opts {
    const char *url, *method, *md, *serialization;
    char *meta_k[MAX_META]; /* owned copies: the key is cut out of "key=value" */
    const char *meta_v[MAX_META];
    int nmeta;
    int timeout_ms;
    long n, c;
    int repeat; /* -n given: the summary line instead of the result */
    int verbose; /* -v: each call's attempts and phases on stderr */
    call_arg *args;
    int nargs;
} call_opts;

/* A negative number is an argument, not an option; so is "-" (stdin). */
static int is_option(const char *a)
{
    return a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.';
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* One option with its value. CLI_OK or a reported usage error. */
static int parse_option(call_opts *o, const char *a, const char *val)
{
    long num;
    if (!strcmp(a, "--meta")) {
        const char *eq = strchr(val, '=');
        if (!eq || eq == val)
            return cli_usage_error("call", "--meta wants key=value, got '%s'", val);
        if (o->nmeta == MAX_META)
            return cli_usage_error("call", "at most %d --meta options", MAX_META);
        if (!(o->meta_k[o->nmeta] = strndup(val, (size_t)(eq - val))))
            return cli_error(CLI_EDATA, "out of memory");
        o->meta_v[o->nmeta++] = eq + 1;
    } else if (!strcmp(a, "--timeout")) {
        if (parse_long(val, 1, 86400000, &num))
            return cli_usage_error("call", "--timeout wants milliseconds, got '%s'", val);
        o->timeout_ms = (int)num;
    } else if (!strcmp(a, "--md")) {
        o->md = val;
    } else if (!strcmp(a, "--serialization")) {
        o->serialization = val;
    } else if (!strcmp(a, "--raw-bytes")) {
        o->args[o->nargs++] = (call_arg){.src = val, .raw = 1};
    } else if (!strcmp(a, "-n")) {
        if (parse_long(val, 1, 1000000000L, &o->n))
            return cli_usage_error("call", "-n wants a count >= 1, got '%s'", val);
        o->repeat = 1;
    } else if (!strcmp(a, "-c")) {
        if (parse_long(val, 1, 100000, &o->c))
            return cli_usage_error("call", "-c wants a count >= 1, got '%s'", val);
    } else {
        return cli_usage_error("call", "unknown option '%s'", a);
    }
    return CLI_OK;
}

/* Options anywhere; the first two plain words are URL and METHOD, the rest (and each
 * --raw-bytes) are the arguments, in their order. */
static int parse_opts(int argc, char **argv, call_opts *o)
{
    int only_args = 0, c_given = 0;
    o->n = 1;
    o->c = 1;
    if (!(o->args = calloc((size_t)argc, sizeof(call_arg))))
        return cli_error(CLI_EDATA, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || !is_option(a)) {
            if (!o->url)
                o->url = a;
            else if (!o->method)
                o->method = a;
            else
                o->args[o->nargs++] = (call_arg){.src = a};
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "-v")) { /* the one option without a value */
            o->verbose = 1;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error("call", "option %s needs a value", a);
        c_given |= !strcmp(a, "-c");
        int rc = parse_option(o, a, argv[++i]);
        if (rc != CLI_OK)
            return rc;
    }
    if (!o->method)
        return cli_usage_error("call", "want URL and METHOD");
    if (c_given && !o->repeat)
        return cli_usage_error("call", "-c needs -n (the repeat mode)");
    return CLI_OK;
}

/* Reads every argument's input once (stdin cannot be read twice, files may be large). */
static int read_args(call_opts *o)
{
    cli_input in = {.cmd = "call"};
    for (int i = 0; i < o->nargs; i++) {
        call_arg *a = &o->args[i];
        char what[64];
        snprintf(what, sizeof(what), a->raw ? "--raw-bytes (argument %d)" : "argument %d", i + 1);
        int rc = cli_input_read(&in, a->src, !a->raw, what, &a->data, &a->len);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* A request with the command line's arguments and options. NULL after printing why. */
static motan_request *build_request(motan_client *cl, const call_opts *o, int *code)
{
    motan_request *r = motan_client_request(cl, o->method);
    char err[512];
    if (!r) {
        *code = cli_error(CLI_EDATA, "out of memory");
        return NULL;
    }
    for (int i = 0; i < o->nargs; i++) {
        const call_arg *a = &o->args[i];
        motan_value *v = NULL;
        if (a->raw) {
            if (!(v = motan_value_new_bytes(motan_request_arena(r), a->data, a->len))) {
                *code = cli_error(CLI_EDATA, "out of memory");
                motan_request_free(r);
                return NULL;
            }
        } else if (motan_tjson_parse(a->data, a->len, motan_request_arena(r), &v, err, sizeof(err)) !=
                   MOTAN_OK) {
            int inline_text = a->src[0] != '@' && strcmp(a->src, "-") != 0;
            *code = cli_usage_error("call", "argument %d%s%s%s is not typed JSON: %s", i + 1,
                                    inline_text ? "" : " (", inline_text ? "" : a->src,
                                    inline_text ? "" : ")", err);
            motan_request_free(r);
            return NULL;
        }
        if (motan_request_add_arg(r, v) != MOTAN_OK) {
            *code = cli_error(CLI_EDATA, "out of memory");
            motan_request_free(r);
            return NULL;
        }
    }
    for (int i = 0; i < o->nmeta; i++) {
        if (motan_request_set_meta(r, o->meta_k[i], o->meta_v[i]) != MOTAN_OK) {
            *code = cli_usage_error("call", "metadata key '%s' is reserved or invalid", o->meta_k[i]);
            motan_request_free(r);
            return NULL;
        }
    }
    if (o->md)
        motan_request_set_method_desc(r, o->md);
    if (o->timeout_ms)
        motan_request_set_timeout(r, o->timeout_ms);
    return r;
}

static int one_call(motan_client *cl, const call_opts *o)
{
    int code = CLI_OK;
    motan_request *r = build_request(cl, o, &code);
    if (!r)
        return code;
    motan_response *resp = NULL;
    int rc = motan_client_call(cl, r, &resp);
    if (rc == MOTAN_OK) {
        const motan_value *v = motan_response_get_value(resp);
        char *text = v ? motan_tjson_format(v) : NULL;
        if (v && !text)
            code = cli_error(CLI_EDATA, "out of memory");
        else
            printf("%s\n", text ? text : "null");
        motan_free(text);
    } else {
        code = resp ? cli_call_failure(resp) : cli_error(cli_call_exit_code(rc), "%s", motan_strerror(rc));
    }
    motan_response_free(resp);
    motan_request_free(r);
    return code;
}

typedef struct maker {
    motan_client *cl;
    const call_opts *o;
} maker;

static motan_request *make_request(void *ud, int *code)
{
    maker *m = ud;
    return build_request(m->cl, m->o, code);
}

static int run_call(int argc, char **argv)
{
    call_opts o;
    memset(&o, 0, sizeof(o));
    int code = parse_opts(argc, argv, &o);
    char err[512];
    motan_config *cfg = NULL;
    motan_client *cl = NULL;
    if (code != CLI_OK)
        goto out;
    if (motan_config_new(o.url, &cfg, err, sizeof(err)) != MOTAN_OK) {
        code = cli_usage_error("call", "bad URL: %s", err);
        goto out;
    }
    if (o.serialization &&
        motan_config_set(cfg, NULL, "serialization", o.serialization, err, sizeof(err)) != MOTAN_OK) {
        code = cli_usage_error("call", "%s", err);
        goto out;
    }
    if (o.timeout_ms) {
        char num[24];
        snprintf(num, sizeof(num), "%d", o.timeout_ms);
        motan_config_set(cfg, NULL, "requestTimeout", num, NULL, 0);
    }
    if ((code = read_args(&o)) != CLI_OK)
        goto out;
    if (o.verbose && (code = cli_verbose_enable(cfg)) != CLI_OK)
        goto out;
    int rc = motan_client_new_config(cfg, NULL, &cl, err, sizeof(err));
    if (rc != MOTAN_OK) {
        code = rc == MOTAN_EURL || rc == MOTAN_EINVAL || rc == MOTAN_ENOTFOUND
                   ? cli_usage_error("call", "%s", err)
                   : cli_error(CLI_ENOCONN, "%s", err);
        goto out;
    }
    if (o.repeat) {
        maker m = {cl, &o};
        code = cli_call_repeat(cl, o.n, o.c, make_request, &m, stdout);
    } else {
        code = one_call(cl, &o);
    }
out:
    motan_client_free(cl);
    motan_config_free(cfg);
    for (int i = 0; i < o.nmeta; i++)
        free(o.meta_k[i]);
    for (int i = 0; i < o.nargs; i++)
        free(o.args[i].data);
    free(o.args);
    return code;
}

const struct cli_cmd cli_cmd_call = {
    .name = "call",
    .summary = "call a motan2 service (arguments and result in typed JSON)",
    .usage =
        "usage: motan call [options] URL METHOD [ARG...]\n"
        "\n"
        "Calls METHOD of the service named by URL with the ARGs (typed JSON, one value each)\n"
        "and prints the result as typed JSON.\n"
        "\n"
        "URL: motan2://host:port[,host:port...]/<service>?k=v...   (a direct list)\n"
        "     zookeeper://h:p[,h:p]/<service>?group=...            (likewise consul://, file://)\n"
        "\n"
        "ARG: typed JSON text, e.g. '\"hi\"' '{\"$int32\":5}' (see docs/typed-json.md), or\n"
        "  @FILE                 the typed JSON in FILE (any size: no argument-length limit)\n"
        "  -                     the typed JSON on stdin (once per command line)\n"
        "\n"
        "options:\n"
        "  --raw-bytes @FILE|-   an argument, at this place among the ARGs: the bytes of FILE\n"
        "                        (or stdin) as a bytes value, read as they are (repeatable)\n"
        "  --meta K=V            attachment sent with the call (repeatable)\n"
        "  --timeout MS          call timeout in milliseconds\n"
        "  --md DESC             method description (M_md), e.g. java.lang.String,long\n"
        "  --serialization NAME  simple (default), msgpack or json\n"
        "  -n N                  repeat mode: make N calls (N >= 1, -n 1 too) and print, instead\n"
        "                        of the results, one summary line of \"key value\" pairs:\n"
        "                          calls N ok N errors N rps R p50_us X p99_us X p999_us X max_us X\n"
        "                        then \"err_<CODE> COUNT\" for each error code that occurred\n"
        "                        (e.g. err_ETIMEOUT 3 err_ECONNECT 1), in the order of the codes.\n"
        "                        Latencies in microseconds over every call, failed or not\n"
        "                        (nearest rank; exact below 256 us, within 1% above). The first\n"
        "                        failure is reported on stderr.\n"
        "  -c C                  keep C calls in flight (repeat mode only; default 1)\n"
        "  -v                    on stderr, for every call: the endpoint of each attempt, its\n"
        "                        result and time per phase (queue, connect, write, wait,\n"
        "                        decode), and the outcome; lines start with \"* \"\n"
        "  --                    what follows are arguments (e.g. negative numbers)\n"
        "\n"
        "exit status: 0 ok (repeat mode: every call ok; else the first failure's status),\n"
        "1 remote or other call error, 2 usage or an unreadable argument, 3 timeout,\n"
        "4 no endpoint or connection failure\n",
    .run = run_call,
};
