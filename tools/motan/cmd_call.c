/*
 * motan call URL METHOD [ARG...]: one call (or -n N calls, -c C in flight) through the
 * client API, arguments and result in typed JSON. Exit codes: 0 ok, 1 remote (or other call)
 * error, 2 usage, 3 timeout, 4 no endpoint / connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/client.h>

#include "cli.h"

#define CLI_ETIMEOUT 3
#define CLI_ENOCONN 4
#define MAX_META 64

static int exit_code_for(int code)
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

typedef struct call_opts {
    const char *url, *method, *md, *serialization;
    char *meta_k[MAX_META]; /* owned copies: the key is cut out of "key=value" */
    const char *meta_v[MAX_META];
    int nmeta;
    int timeout_ms;
    long n, c;
    int verbose; /* -v: the call's progress on stderr */
    char **args;
    int nargs;
} call_opts;

/* A negative number is an argument, not an option. */
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

static int parse_opts(int argc, char **argv, call_opts *o)
{
    char **pos = calloc((size_t)argc + 1, sizeof(char *));
    int npos = 0, only_args = 0;
    if (!pos)
        return cli_error(CLI_EUSAGE, "out of memory");
    o->n = 1;
    o->c = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || !is_option(a)) {
            pos[npos++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "-v")) {
            o->verbose = 1;
            continue;
        }
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long num;
        if (!val) {
            free(pos);
            return cli_usage_error("call", "option %s needs a value", a);
        }
        i++;
        if (!strcmp(a, "--meta")) {
            const char *eq = strchr(val, '=');
            if (!eq || eq == val) {
                free(pos);
                return cli_usage_error("call", "--meta wants key=value, got '%s'", val);
            }
            if (o->nmeta == MAX_META) {
                free(pos);
                return cli_usage_error("call", "at most %d --meta options", MAX_META);
            }
            o->meta_k[o->nmeta] = strndup(val, (size_t)(eq - val));
            o->meta_v[o->nmeta++] = eq + 1;
        } else if (!strcmp(a, "--timeout")) {
            if (parse_long(val, 1, 86400000, &num)) {
                free(pos);
                return cli_usage_error("call", "--timeout wants milliseconds, got '%s'", val);
            }
            o->timeout_ms = (int)num;
        } else if (!strcmp(a, "--md")) {
            o->md = val;
        } else if (!strcmp(a, "--serialization")) {
            o->serialization = val;
        } else if (!strcmp(a, "-n")) {
            if (parse_long(val, 1, 1000000000L, &o->n)) {
                free(pos);
                return cli_usage_error("call", "-n wants a count >= 1, got '%s'", val);
            }
        } else if (!strcmp(a, "-c")) {
            if (parse_long(val, 1, 100000, &o->c)) {
                free(pos);
                return cli_usage_error("call", "-c wants a count >= 1, got '%s'", val);
            }
        } else {
            free(pos);
            return cli_usage_error("call", "unknown option '%s'", a);
        }
    }
    if (npos < 2) {
        free(pos);
        return cli_usage_error("call", "want URL and METHOD");
    }
    o->url = pos[0];
    o->method = pos[1];
    o->args = pos;
    o->nargs = npos - 2;
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
        const char *text = o->args[2 + i];
        motan_value *v = NULL;
        if (motan_tjson_parse(text, strlen(text), motan_request_arena(r), &v, err, sizeof(err)) !=
            MOTAN_OK) {
            *code = cli_usage_error("call", "argument %d is not typed JSON: %s", i + 1, err);
            motan_request_free(r);
            return NULL;
        }
        motan_request_add_arg(r, v);
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

static int print_failure(const motan_response *resp)
{
    int code = motan_response_get_code(resp);
    if (code == MOTAN_EREMOTE)
        return cli_error(CLI_EDATA, "remote error %lld (errtype %d): %s",
                         (long long)motan_response_get_errcode(resp), motan_response_get_errtype(resp),
                         motan_response_get_errmsg(resp));
    return cli_error(exit_code_for(code), "%s: %s", motan_errname(code), motan_response_get_errmsg(resp));
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
        printf("%s\n", text ? text : "null");
        motan_free(text);
    } else {
        code = resp ? print_failure(resp) : cli_error(exit_code_for(rc), "%s", motan_strerror(rc));
    }
    motan_response_free(resp);
    motan_request_free(r);
    return code;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* -n N -c C: the pull queue keeps C calls in flight; one summary line at the end. */
static int many_calls(motan_client *cl, const call_opts *o)
{
    long inflight = o->c < o->n ? o->c : o->n;
    motan_request **reqs = calloc((size_t)inflight, sizeof(*reqs));
    uint64_t *sent = calloc((size_t)inflight, sizeof(uint64_t));
    uint64_t *lat = calloc((size_t)o->n, sizeof(uint64_t));
    int code = CLI_OK;
    if (!reqs || !sent || !lat) {
        code = cli_error(CLI_EDATA, "out of memory");
        goto out;
    }
    for (long i = 0; i < inflight; i++)
        if (!(reqs[i] = build_request(cl, o, &code)))
            goto out;
    long issued = 0, done = 0, ok = 0, errors = 0;
    int first_fail = 0;
    uint64_t t0 = motan_now_us();
    for (long i = 0; i < inflight; i++, issued++) {
        sent[i] = motan_now_us();
        if (motan_client_submit(cl, reqs[i], (uint64_t)i) != MOTAN_OK) {
            code = cli_error(CLI_EDATA, "cannot submit a call");
            goto out;
        }
    }
    while (done < issued) {
        motan_response *resp = NULL;
        uint64_t tag = 0;
        if (motan_client_poll(cl, -1, &resp, &tag) != 1)
            break;
        lat[done++] = motan_now_us() - sent[tag];
        if (motan_response_get_code(resp) == MOTAN_OK) {
            ok++;
        } else {
            if (!errors++)
                first_fail = print_failure(resp);
        }
        motan_response_free(resp);
        if (issued < o->n) {
            sent[tag] = motan_now_us();
            if (motan_client_submit(cl, reqs[tag], tag) == MOTAN_OK)
                issued++;
        }
    }
    double secs = (double)(motan_now_us() - t0) / 1e6;
    qsort(lat, (size_t)done, sizeof(uint64_t), cmp_u64);
    printf("calls %ld ok %ld errors %ld rps %.0f p50_us %llu p99_us %llu\n", done, ok, errors,
           secs > 0 ? (double)done / secs : 0.0, done ? (unsigned long long)lat[done / 2] : 0ULL,
           done ? (unsigned long long)lat[(done * 99) / 100] : 0ULL);
    code = errors ? (first_fail ? first_fail : CLI_EDATA) : CLI_OK;
out:
    for (long i = 0; reqs && i < inflight; i++)
        motan_request_free(reqs[i]);
    free(reqs);
    free(sent);
    free(lat);
    return code;
}

static int run_call(int argc, char **argv)
{
    call_opts o;
    memset(&o, 0, sizeof(o));
    int code = parse_opts(argc, argv, &o);
    if (code != CLI_OK)
        return code;
    char err[512];
    motan_config *cfg = NULL;
    motan_client *cl = NULL;
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
    if (o.verbose && (code = cli_verbose_enable(cfg)) != CLI_OK)
        goto out;
    int rc = motan_client_new_config(cfg, NULL, &cl, err, sizeof(err));
    if (rc != MOTAN_OK) {
        code = rc == MOTAN_EURL || rc == MOTAN_EINVAL || rc == MOTAN_ENOTFOUND
                   ? cli_usage_error("call", "%s", err)
                   : cli_error(CLI_ENOCONN, "%s", err);
        goto out;
    }
    code = o.n > 1 || o.c > 1 ? many_calls(cl, &o) : one_call(cl, &o);
out:
    motan_client_free(cl);
    motan_config_free(cfg);
    for (int i = 0; i < o.nmeta; i++)
        free(o.meta_k[i]);
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
        "options:\n"
        "  --meta K=V            attachment sent with the call (repeatable)\n"
        "  --timeout MS          call timeout in milliseconds\n"
        "  --md DESC             method description (M_md), e.g. java.lang.String,long\n"
        "  --serialization NAME  simple (default), msgpack or json\n"
        "  -n N                  make N calls; prints one summary line:\n"
        "                        calls N ok N errors N rps R p50_us X p99_us Y\n"
        "  -c C                  keep C calls in flight (with -n)\n"
        "  -v                    on stderr, for every call: the endpoint of each attempt, its\n"
        "                        result and timing per phase (queue, connect, write, wait,\n"
        "                        decode), and the outcome; lines start with \"* \"\n"
        "  --                    what follows are arguments (e.g. negative numbers)\n"
        "\n"
        "exit status: 0 ok (with -n: every call ok), 1 remote or other call error,\n"
        "2 usage, 3 timeout, 4 no endpoint or connection failure\n",
    .run = run_call,
};
