/*
 * motan2 frames <-> the JSON object of `motan decode frame` / `motan encode frame`:
 * {"kind","request_id","status","serialization","metadata","body","error","args"|"value"}.
 * Keys are written in that order; typed-JSON values are embedded exactly as
 * motan_tjson_format writes them and read back with motan_tjson_parse from their source text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    motan_frame_kind kind;
    uint8_t flags; /* written by encode; heartbeats in Go form (§4.1) */
} kinds[] = {
    {"request", MOTAN_FRAME_REQUEST, 0},
    {"response", MOTAN_FRAME_RESPONSE, MOTAN_FLAG_RESPONSE},
    {"heartbeat-request", MOTAN_FRAME_HEARTBEAT_REQUEST, MOTAN_FLAG_HEARTBEAT | MOTAN_FLAG_PROXY},
    {"heartbeat-response", MOTAN_FRAME_HEARTBEAT_RESPONSE,
     MOTAN_FLAG_HEARTBEAT | MOTAN_FLAG_PROXY | MOTAN_FLAG_RESPONSE},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* ---- frame -> JSON ---------------------------------------------------------------------- */

static int put_num(motan_buf *b, const char *fmt_key, uint64_t v, int quoted)
{
    char s[64];
    snprintf(s, sizeof(s), quoted ? ",\"%s\":\"%" PRIu64 "\"" : ",\"%s\":%" PRIu64, fmt_key, v);
    return json_put(b, s);
}

/* Wire order; a later duplicate replaces the earlier value in the earlier position. */
static int put_metadata(motan_buf *b, const motan_frame *f)
{
    int rc = json_put(b, ",\"metadata\":{");
    size_t n = motan_frame_meta_count(f), written = 0;
    for (size_t i = 0; i < n && rc == MOTAN_OK; i++) {
        size_t kl, vl;
        const char *k = motan_frame_meta_key(f, i, &kl);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            size_t jl;
            const char *kj = motan_frame_meta_key(f, j, &jl);
            seen = jl == kl && memcmp(kj, k, kl) == 0;
        }
        if (seen)
            continue;
        const char *v = motan_frame_meta_get(f, k, kl, &vl);
        if (written++)
            rc |= json_put(b, ",");
        rc |= json_put_str(b, k, kl);
        rc |= json_put(b, ":");
        rc |= json_put_str(b, v ? v : "", v ? vl : 0);
    }
    return rc | json_put(b, "}");
}

static int put_error(motan_buf *b, const motan_frame *f)
{
    int64_t code;
    int type;
    const char *msg;
    size_t msglen;
    if (!motan_frame_error(f, &code, &type, &msg, &msglen))
        return MOTAN_OK;
    char s[96];
    snprintf(s, sizeof(s), ",\"error\":{\"errcode\":%" PRId64 ",\"errtype\":%d", code, type);
    int rc = json_put(b, s);
    if (msg && msglen) {
        rc |= json_put(b, ",\"errmsg\":");
        rc |= json_put_str(b, msg, msglen);
    }
    return rc | json_put(b, "}");
}

/* "args" (request) or "value" (response) of a non-empty Simple body. */
static int put_decoded(motan_buf *b, const motan_frame *f, char *err, size_t errlen)
{
    size_t blen;
    const uint8_t *body = motan_frame_body(f, &blen);
    motan_frame_kind k = motan_frame_get_kind(f);
    if (motan_frame_get_serialization(f) != MOTAN_SER_SIMPLE || blen == 0 ||
        (k != MOTAN_FRAME_REQUEST && k != MOTAN_FRAME_RESPONSE))
        return CLI_OK;
    motan_arena *a = motan_arena_new();
    motan_value *v = NULL;
    char derr[256] = "";
    if (a)
        motan_arena_set_limit(a, MOTAN_DEFAULT_MAX_DECODED);
    int rc = !a ? MOTAN_ENOMEM
         : k == MOTAN_FRAME_REQUEST ? motan_simple_decode_seq(body, blen, a, &v, derr, sizeof(derr))
                                    : motan_simple_decode(body, blen, a, &v, derr, sizeof(derr));
    char *text = rc == MOTAN_OK ? motan_tjson_format(v) : NULL;
    motan_arena_free(a);
    if (rc != MOTAN_OK) {
        snprintf(err, errlen, "body is not valid Simple %s: %s",
                 k == MOTAN_FRAME_REQUEST ? "arguments" : "value", derr[0] ? derr : motan_strerror(rc));
        return CLI_EDATA;
    }
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return CLI_EDATA;
    }
    rc = json_put(b, k == MOTAN_FRAME_REQUEST ? ",\"args\":" : ",\"value\":") | json_put(b, text);
    motan_free(text);
    return rc == MOTAN_OK ? CLI_OK : CLI_EDATA;
}

static int check_parse(int rc, size_t len, size_t consumed, const char *perr, char *err,
                       size_t errlen)
{
    if (rc == MOTAN_EAGAIN) {
        if (consumed > len)
            snprintf(err, errlen, "truncated frame: %zu bytes given, at least %zu needed", len,
                     consumed);
        else
            snprintf(err, errlen, "truncated frame: the input ends inside the frame after %zu bytes",
                     len);
        return CLI_EDATA;
    }
    if (rc != MOTAN_OK) {
        snprintf(err, errlen, "rejected frame (%s): %s", motan_errname(rc),
                 perr[0] ? perr : motan_strerror(rc));
        return CLI_EDATA;
    }
    if (consumed < len) {
        snprintf(err, errlen, "%zu trailing bytes after the %zu-byte frame", len - consumed,
                 consumed);
        return CLI_EDATA;
    }
    return CLI_OK;
}

int frame_to_json(const uint8_t *data, size_t len, motan_buf *out, char *err, size_t errlen)
{
    motan_frame *f = motan_frame_new();
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return CLI_EDATA;
    }
    size_t consumed = 0;
    char perr[256] = "";
    int rc = motan_frame_parse(f, data, len, 0, &consumed, perr, sizeof(perr));
    rc = check_parse(rc, len, consumed, perr, err, errlen);
    if (rc != CLI_OK) {
        motan_frame_free(f);
        return rc;
    }
    const char *kind = "unknown";
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].kind == motan_frame_get_kind(f))
            kind = kinds[i].name;
    size_t blen;
    const uint8_t *body = motan_frame_body(f, &blen);
    int w = json_put(out, "{\"kind\":") | json_put_str(out, kind, strlen(kind));
    w |= put_num(out, "request_id", motan_frame_get_request_id(f), 1);
    w |= put_num(out, "status", (uint64_t)motan_frame_get_status(f), 0);
    w |= put_num(out, "serialization", (uint64_t)motan_frame_get_serialization(f), 0);
    w |= put_metadata(out, f);
    w |= json_put(out, ",\"body\":\"") | hex_append(out, body, blen) | json_put(out, "\"");
    if (motan_frame_get_status(f) != 0)
        w |= put_error(out, f);
    rc = w ? CLI_EDATA : put_decoded(out, f, err, errlen);
    if (w)
        snprintf(err, errlen, "out of memory");
    if (rc == CLI_OK && json_put(out, "}") != MOTAN_OK) {
        snprintf(err, errlen, "out of memory");
        rc = CLI_EDATA;
    }
    motan_frame_free(f);
    return rc;
}

/* ---- JSON -> frame ---------------------------------------------------------------------- */

static int bad(char *err, size_t errlen, const char *fmt, const char *what)
{
    snprintf(err, errlen, fmt, what);
    return CLI_EUSAGE;
}

/* A JSON integer's text within [min, max]. */
static int json_int(const struct jnode *n, int64_t min, int64_t max, int64_t *v)
{
    if (!n || n->type != J_NUM || memchr(n->raw, '.', n->rawlen) || memchr(n->raw, 'e', n->rawlen) ||
        memchr(n->raw, 'E', n->rawlen) || n->rawlen > 20)
        return -1;
    char s[24];
    memcpy(s, n->raw, n->rawlen);
    s[n->rawlen] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < min || x > max)
        return -1;
    *v = (int64_t)x;
    return 0;
}

/* Decimal digits only, up to 2^64-1. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

struct shape {
    uint8_t flags, status, ser;
    uint64_t id;
    const struct jnode *meta, *error, *body, *args, *value;
};

static int read_shape(const struct jnode *root, struct shape *sh, char *err, size_t errlen)
{
    static const char *const known[] = {"kind", "request_id", "status", "serialization",
                                        "metadata", "body", "error", "args", "value"};
    if (root->type != J_OBJ)
        return bad(err, errlen, "%s", "the frame must be a JSON object");
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i].s;
        size_t j = 0;
        while (j < sizeof(known) / sizeof(known[0]) && strcmp(known[j], k) != 0)
            j++;
        if (j == sizeof(known) / sizeof(known[0]))
            return bad(err, errlen, "unknown key \"%s\" in the frame object", k);
        for (size_t l = 0; l < i; l++)
            if (strcmp(root->keys[l].s, k) == 0)
                return bad(err, errlen, "duplicate key \"%s\" in the frame object", k);
    }
    const struct jnode *n = json_get(root, "kind");
    if (!n || n->type != J_STR)
        return bad(err, errlen, "%s", "\"kind\" must be one of \"request\", \"response\", "
                                      "\"heartbeat-request\", \"heartbeat-response\"");
    size_t i = 0;
    while (i < NKINDS && strcmp(kinds[i].name, n->s) != 0)
        i++;
    if (i == NKINDS)
        return bad(err, errlen, "unknown kind \"%s\"", n->s);
    sh->flags = kinds[i].flags;

    int64_t v;
    sh->id = 0;
    if ((n = json_get(root, "request_id")) != NULL) {
        int ok = n->type == J_STR ? parse_u64(n->s, n->slen, &sh->id) == 0
               : n->type == J_NUM && parse_u64(n->raw, n->rawlen, &sh->id) == 0;
        if (!ok)
            return bad(err, errlen, "%s", "\"request_id\" must be an unsigned 64-bit decimal "
                                          "(a string or a JSON integer)");
    }
    sh->status = 0;
    if ((n = json_get(root, "status")) != NULL) {
        if (json_int(n, 0, 7, &v) < 0)
            return bad(err, errlen, "%s", "\"status\" must be an integer 0..7");
        sh->status = (uint8_t)v;
    }
    sh->ser = MOTAN_SER_SIMPLE;
    if ((n = json_get(root, "serialization")) != NULL) {
        if (json_int(n, 0, 31, &v) < 0)
            return bad(err, errlen, "%s", "\"serialization\" must be an integer 0..31");
        sh->ser = (uint8_t)v;
    }
    sh->meta = json_get(root, "metadata");
    if (sh->meta && sh->meta->type != J_OBJ)
        return bad(err, errlen, "%s", "\"metadata\" must be an object of strings");
    for (size_t m = 0; sh->meta && m < sh->meta->n; m++)
        if (sh->meta->kids[m].type != J_STR)
            return bad(err, errlen, "metadata \"%s\" must be a string", sh->meta->keys[m].s);
    sh->error = json_get(root, "error");
    sh->body = json_get(root, "body");
    sh->args = json_get(root, "args");
    sh->value = json_get(root, "value");
    if (sh->body && sh->body->type != J_STR)
        return bad(err, errlen, "%s", "\"body\" must be a hex string");
    if (sh->args && sh->args->type != J_ARR)
        return bad(err, errlen, "%s", "\"args\" must be an array of typed-JSON values");
    if (sh->args && sh->value)
        return bad(err, errlen, "%s", "give \"args\" (request) or \"value\" (response), not both");
    return CLI_OK;
}

static int write_error_meta(motan_buf *b, size_t mark, const struct jnode *e, char *err,
                            size_t errlen)
{
    int64_t code, type;
    if (e->type != J_OBJ)
        return bad(err, errlen, "%s", "\"error\" must be an object");
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->keys[i].s, "errcode") && strcmp(e->keys[i].s, "errtype") &&
            strcmp(e->keys[i].s, "errmsg"))
            return bad(err, errlen, "unknown key \"%s\" in \"error\"", e->keys[i].s);
    if (json_int(json_get(e, "errcode"), INT64_MIN, INT64_MAX, &code) < 0)
        return bad(err, errlen, "%s", "\"error\".\"errcode\" must be an integer");
    if (json_int(json_get(e, "errtype"), -2147483647 - 1, 2147483647, &type) < 0)
        return bad(err, errlen, "%s", "\"error\".\"errtype\" must be an integer");
    const struct jnode *m = json_get(e, "errmsg");
    if (m && m->type != J_STR)
        return bad(err, errlen, "%s", "\"error\".\"errmsg\" must be a string");
    int rc = motan_frame_write_error_meta(b, mark, code, (int)type, m ? m->s : "", m ? m->slen : 0);
    return rc == MOTAN_OK ? CLI_OK : bad(err, errlen, "cannot write M_e: %s", motan_strerror(rc));
}

/* Body from "body" (hex; wins over args/value, which are its decoded view) or the values. */
static int write_body(motan_buf *b, const struct shape *sh, char *err, size_t errlen)
{
    if (sh->body) {
        uint8_t *bytes;
        size_t n;
        char herr[128];
        if (hex_decode(sh->body->s, &bytes, &n, herr, sizeof(herr)) < 0)
            return bad(err, errlen, "\"body\": %s", herr);
        int rc = motan_buf_append(b, bytes, n);
        free(bytes);
        return rc == MOTAN_OK ? CLI_OK : bad(err, errlen, "%s", "out of memory");
    }
    if (!sh->args && !sh->value)
        return CLI_OK;
    motan_arena *a = motan_arena_new();
    size_t n = sh->args ? sh->args->n : 1;
    motan_value **vals = calloc(n ? n : 1, sizeof(*vals));
    char terr[256] = "";
    int rc = a && vals ? CLI_OK : bad(err, errlen, "%s", "out of memory");
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        const struct jnode *t = sh->args ? &sh->args->kids[i] : sh->value;
        if (motan_tjson_parse(t->raw, t->rawlen, a, &vals[i], terr, sizeof(terr)) != MOTAN_OK) {
            char where[32];
            snprintf(where, sizeof(where), sh->args ? "args[%zu]" : "value", i);
            snprintf(err, errlen, "%s: %s", where, terr);
            rc = CLI_EUSAGE;
        }
    }
    if (rc == CLI_OK) {
        int mr = sh->args ? motan_serialize_args(sh->ser, (const motan_value *const *)vals, n, b,
                                                 terr, sizeof(terr))
                          : motan_serialize_value(sh->ser, vals[0], b, terr, sizeof(terr));
        if (mr != MOTAN_OK)
            rc = bad(err, errlen, "cannot serialize the body: %s", terr[0] ? terr : motan_strerror(mr));
    }
    free(vals);
    motan_arena_free(a);
    return rc;
}

static int build(const struct shape *sh, motan_buf *b, char *err, size_t errlen)
{
    size_t mark;
    int rc = motan_frame_write_begin(b, sh->flags, sh->status, sh->ser, sh->id, &mark);
    if (rc != MOTAN_OK)
        return bad(err, errlen, "cannot write the header: %s", motan_strerror(rc));
    int has_me = 0;
    for (size_t i = 0; sh->meta && i < sh->meta->n; i++) {
        const struct jnode *k = &sh->meta->keys[i], *v = &sh->meta->kids[i];
        has_me |= strcmp(k->s, "M_e") == 0;
        if (motan_frame_write_meta(b, mark, k->s, k->slen, v->s, v->slen) != MOTAN_OK)
            return bad(err, errlen, "metadata \"%s\": keys cannot be empty, keys and values "
                                    "cannot contain a newline", k->s);
    }
    if (sh->error && !has_me && (rc = write_error_meta(b, mark, sh->error, err, errlen)) != CLI_OK)
        return rc;
    if ((rc = motan_frame_write_body_begin(b, mark)) != MOTAN_OK)
        return bad(err, errlen, "cannot write the metadata: %s", motan_strerror(rc));
    if ((rc = write_body(b, sh, err, errlen)) != CLI_OK)
        return rc;
    if ((rc = motan_frame_write_end(b, mark, 0)) != MOTAN_OK)
        return bad(err, errlen, "cannot finish the frame: %s", motan_strerror(rc));
    return CLI_OK;
}

int frame_from_json(const char *text, size_t len, motan_buf *out, char *err, size_t errlen)
{
    struct jnode root;
    if (json_parse(text, len, &root, err, errlen) < 0)
        return CLI_EUSAGE;
    struct shape sh;
    int rc = read_shape(&root, &sh, err, errlen);
    if (rc == CLI_OK)
        rc = build(&sh, out, err, errlen);
    json_free(&root);
    return rc;
}
