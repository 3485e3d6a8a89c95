/*
 * `motan encode` and `motan decode`: Simple values and motan2 frames between bytes (hex) and
 * typed JSON. Output formats and exit codes are a contract other tools depend on.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char encode_usage[] =
    "usage: motan encode simple TEXT\n"
    "       motan encode simple --raw-bytes @FILE|-\n"
    "       motan encode frame JSON\n"
    "\n"
    "simple  prints the lowercase hex of the Simple encoding of one typed-JSON value,\n"
    "        e.g. motan encode simple '{\"$int32\":1}'  ->  0802\n"
    "frame   prints the hex of a motan2 frame described by a JSON object:\n"
    "          kind           \"request\" | \"response\" | \"heartbeat-request\" | \"heartbeat-response\"\n"
    "          request_id     decimal string or integer (default 0)\n"
    "          status         0..7 (default 0);  serialization  0..31 (default 6, Simple)\n"
    "          metadata       object of strings, written in the given order\n"
    "          body           hex of the body; or\n"
    "          args | value   typed-JSON arguments (array) | result value, serialized\n"
    "          error          {\"errcode\":N,\"errtype\":N,\"errmsg\":\"...\"}: written as M_e\n"
    "                         unless metadata has M_e\n"
    "        \"body\" wins over args/value, so the output of `motan decode frame` encodes back.\n"
    "TEXT or JSON may be @FILE to read it from FILE, or '-' to read it from stdin.\n"
    "\n"
    "       motan encode simple --raw-bytes @FILE|-\n"
    "        prints the Simple encoding of a bytes value holding FILE's (or stdin's) bytes.\n"
    "exit status: 0 ok, 2 bad text, an unreadable file or usage\n";

static const char decode_usage[] =
    "usage: motan decode simple HEX\n"
    "       motan decode frame HEX\n"
    "\n"
    "simple  prints one Simple value as canonical typed JSON; the input must be exactly one\n"
    "        value, e.g. motan decode simple 0802  ->  {\"$int32\":1}\n"
    "frame   prints one motan2 frame as a JSON object: kind, request_id, status,\n"
    "        serialization, metadata, body (hex, after gunzip), error (when status is not 0)\n"
    "        and args (request) or value (response) when the body is non-empty Simple.\n"
    "        The input must be exactly one whole frame.\n"
    "HEX: either case, whitespace ignored; '-' reads raw bytes from stdin instead, @FILE\n"
    "raw bytes from FILE.\n"
    "Decoded values may take at most 40 MiB (the library's default maxDecodedSize).\n"
    "exit status: 0 ok, 1 invalid input (or over that budget), 2 usage or an unreadable file\n";

/* Bytes from hex; or raw bytes from stdin ("-") or a file ("@FILE"). CLI_OK or reported. */
static int bytes_arg(const char *arg, uint8_t **out, size_t *len)
{
    if (strcmp(arg, "-") == 0 || arg[0] == '@') {
        cli_input in = {.cmd = "decode"};
        char *p = NULL;
        int rc = cli_input_read(&in, arg, 0, "the input", &p, len);
        *out = (uint8_t *)p;
        return rc;
    }
    char err[128];
    if (hex_decode(arg, out, len, err, sizeof(err)) < 0)
        return cli_error(CLI_EDATA, "%s", err);
    return CLI_OK;
}

static int print_buf(motan_buf *b)
{
    fwrite(motan_buf_data(b), 1, motan_buf_len(b), stdout);
    fputc('\n', stdout);
    return CLI_OK;
}

/* raw: text..text+len are the bytes of a bytes value, not typed JSON. */
static int encode_simple(const char *text, size_t len, int raw)
{
    char err[256] = "";
    motan_arena *a = motan_arena_new();
    motan_buf *b = motan_buf_new(64);
    motan_buf *hex = motan_buf_new(128);
    motan_value *v = NULL;
    int rc;
    if (!a || !b || !hex)
        rc = cli_error(CLI_EDATA, "out of memory");
    else if (raw && !(v = motan_value_new_bytes(a, text, len)))
        rc = cli_error(CLI_EDATA, "out of memory");
    else if (!raw && motan_tjson_parse(text, len, a, &v, err, sizeof(err)) != MOTAN_OK)
        rc = cli_error(CLI_EUSAGE, "%s", err[0] ? err : "bad typed JSON");
    else if ((rc = motan_simple_write_value(b, v)) != MOTAN_OK)
        rc = cli_error(CLI_EDATA, "cannot encode: %s", motan_strerror(rc));
    else if (hex_append(hex, motan_buf_data(b), motan_buf_len(b)) < 0)
        rc = cli_error(CLI_EDATA, "out of memory");
    else
        rc = print_buf(hex);
    motan_buf_free(hex);
    motan_buf_free(b);
    motan_arena_free(a);
    return rc;
}

static int encode_frame(const char *text, size_t len)
{
    char err[512] = "";
    motan_buf *b = motan_buf_new(256), *hex = motan_buf_new(512);
    int rc;
    if (!b || !hex)
        rc = cli_error(CLI_EDATA, "out of memory");
    else if ((rc = frame_from_json(text, len, b, err, sizeof(err))) != CLI_OK)
        rc = cli_error(rc, "%s", err);
    else if (hex_append(hex, motan_buf_data(b), motan_buf_len(b)) < 0)
        rc = cli_error(CLI_EDATA, "out of memory");
    else
        rc = print_buf(hex);
    motan_buf_free(hex);
    motan_buf_free(b);
    return rc;
}

static int decode_simple(const uint8_t *data, size_t len)
{
    char err[256] = "";
    motan_arena *a = motan_arena_new();
    motan_value *v = NULL;
    if (!a)
        return cli_error(CLI_EDATA, "out of memory");
    motan_arena_set_limit(a, MOTAN_DEFAULT_MAX_DECODED);
    int rc = motan_simple_decode(data, len, a, &v, err, sizeof(err));
    char *text = rc == MOTAN_OK ? motan_tjson_format(v) : NULL;
    motan_arena_free(a);
    if (rc != MOTAN_OK)
        return cli_error(CLI_EDATA, "%s", err[0] ? err : motan_strerror(rc));
    if (!text)
        return cli_error(CLI_EDATA, "out of memory");
    printf("%s\n", text);
    motan_free(text);
    return CLI_OK;
}

static int decode_frame(const uint8_t *data, size_t len)
{
    char err[512] = "";
    motan_buf *b = motan_buf_new(512);
    if (!b)
        return cli_error(CLI_EDATA, "out of memory");
    int rc = frame_to_json(data, len, b, err, sizeof(err));
    rc = rc == CLI_OK ? print_buf(b) : cli_error(rc, "%s", err);
    motan_buf_free(b);
    return rc;
}

static int run_encode(int argc, char **argv)
{
    int raw = argc >= 3 && strcmp(argv[2], "--raw-bytes") == 0;
    if (raw && argc == 3)
        return cli_usage_error("encode", "option --raw-bytes needs a value (@FILE or -)");
    if (argc != 3 + raw)
        return cli_usage_error("encode", argc < 3 ? "missing arguments" : "too many arguments");
    int simple = strcmp(argv[1], "simple") == 0;
    if (!simple && strcmp(argv[1], "frame") != 0)
        return cli_usage_error("encode", "unknown format '%s' (simple or frame)", argv[1]);
    if (raw && !simple)
        return cli_usage_error("encode", "--raw-bytes is for 'encode simple'");
    cli_input in = {.cmd = "encode"};
    char *text = NULL;
    size_t len = 0;
    int rc = cli_input_read(&in, argv[2 + raw], !raw, raw ? "--raw-bytes" : "the input", &text, &len);
    if (rc == CLI_OK)
        rc = simple ? encode_simple(text, len, raw) : encode_frame(text, len);
    free(text);
    return rc;
}

static int run_decode(int argc, char **argv)
{
    if (argc != 3)
        return cli_usage_error("decode", argc < 3 ? "missing arguments" : "too many arguments");
    int simple = strcmp(argv[1], "simple") == 0;
    if (!simple && strcmp(argv[1], "frame") != 0)
        return cli_usage_error("decode", "unknown format '%s' (simple or frame)", argv[1]);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = bytes_arg(argv[2], &data, &len);
    if (rc == CLI_OK)
        rc = simple ? decode_simple(data, len) : decode_frame(data, len);
    free(data);
    return rc;
}

const struct cli_cmd cli_cmd_encode = {
    "encode", "typed JSON -> hex: a Simple value or a motan2 frame", encode_usage, run_encode,
};

const struct cli_cmd cli_cmd_decode = {
    "decode", "hex -> typed JSON: a Simple value or a motan2 frame", decode_usage, run_decode,
};
