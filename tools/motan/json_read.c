/*
 * A small strict JSON reader (RFC 8259) that keeps the source text of every value: the
 * typed-JSON parts of `motan encode frame` input are handed verbatim to motan_tjson_parse,
 * so nothing (number spelling, key order, duplicate keys) is lost on the way.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core_int.h"

#define MAX_DEPTH 512

struct reader {
    const char *s, *p, *end;
    char *err;
    size_t errlen;
    int depth;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "bad JSON at offset %zu: %s", (size_t)(r->p - r->s), msg);
    return -1;
}

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = motan__hexval(p[i]);
        if (d < 0)
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int parse_string(struct reader *r, struct jnode *n)
{
    const char *start = r->p++; /* '"' */
    /* Escapes never make text longer, so the raw length bounds the result. */
    const char *q = r->p;
    while (q < r->end && *q != '"')
        q += *q == '\\' && q + 1 < r->end ? 2 : 1;
    if (q >= r->end)
        return fail(r, "unterminated string");
    char *o = malloc((size_t)(q - r->p) + 1);
    if (!o)
        return fail(r, "out of memory");
    size_t w = 0;
    while (*r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20) {
            free(o);
            return fail(r, "control character in string");
        }
        if (c != '\\') {
            o[w++] = (char)c;
            r->p++;
            continue;
        }
        char e = r->p[1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            o[w++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            r->p += 2;
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || r->end - r->p < 6 || hex4(r->p + 2, &cp) < 0) {
            free(o);
            return fail(r, "bad escape in string");
        }
        r->p += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            free(o);
            return fail(r, "unpaired surrogate \\u%04x", cp);
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                hex4(r->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
                free(o);
                return fail(r, "unpaired surrogate \\u%04x", cp);
            }
            r->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        w += put_utf8(o + w, cp);
    }
    r->p++;
    o[w] = '\0';
    n->type = J_STR;
    n->s = o;
    n->slen = w;
    n->raw = start;
    n->rawlen = (size_t)(r->p - start);
    return 0;
}

static int digits(struct reader *r)
{
    const char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > s ? 0 : -1;
}

static int parse_number(struct reader *r, struct jnode *n)
{
    const char *start = r->p;
    if (*r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (digits(r) < 0)
        return fail(r, "bad number");
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (digits(r) < 0)
            return fail(r, "bad number");
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (digits(r) < 0)
            return fail(r, "bad number");
    }
    n->type = J_NUM;
    n->raw = start;
    n->rawlen = (size_t)(r->p - start);
    return 0;
}

static int parse_value(struct reader *r, struct jnode *n);

/* Elements (or members) are collected in a growing array, then attached to n. */
static int parse_container(struct reader *r, struct jnode *n, int obj)
{
    const char *start = r->p++;
    size_t cap = 0;
    n->type = obj ? J_OBJ : J_ARR;
    if (++r->depth > MAX_DEPTH)
        return fail(r, "nesting deeper than %d", MAX_DEPTH);
    skip_ws(r);
    if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
        r->p++;
        goto done;
    }
    for (;;) {
        if (n->n == cap) {
            cap = cap ? 2 * cap : 4;
            struct jnode *k = realloc(n->kids, cap * sizeof(*k));
            if (k)
                n->kids = k;
            struct jnode *kk = obj && k ? realloc(n->keys, cap * sizeof(*kk)) : NULL;
            if (kk)
                n->keys = kk;
            if (!k || (obj && !kk))
                return fail(r, "out of memory");
        }
        skip_ws(r);
        if (obj) {
            memset(&n->keys[n->n], 0, sizeof(struct jnode));
            memset(&n->kids[n->n], 0, sizeof(struct jnode));
            if (r->p >= r->end || *r->p != '"')
                return fail(r, "expected a string key");
            int rc = parse_string(r, &n->keys[n->n]);
            n->n++; /* owned from here on, freed with n */
            if (rc < 0)
                return rc;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return fail(r, "expected ':'");
            r->p++;
            if (parse_value(r, &n->kids[n->n - 1]) < 0)
                return -1;
        } else {
            memset(&n->kids[n->n], 0, sizeof(struct jnode));
            n->n++;
            if (parse_value(r, &n->kids[n->n - 1]) < 0)
                return -1;
        }
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            break;
        }
        return fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
done:
    r->depth--;
    n->raw = start;
    n->rawlen = (size_t)(r->p - start);
    return 0;
}

static int literal(struct reader *r, const char *word)
{
    size_t l = strlen(word);
    if ((size_t)(r->end - r->p) < l || memcmp(r->p, word, l) != 0)
        return -1;
    r->p += l;
    return 0;
}

static int parse_value(struct reader *r, struct jnode *n)
{
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, "unexpected end of input");
    const char *start = r->p;
    switch (*r->p) {
    case '{':
        return parse_container(r, n, 1);
    case '[':
        return parse_container(r, n, 0);
    case '"':
        return parse_string(r, n);
    case 't':
    case 'f':
    case 'n':
        if (literal(r, "true") == 0) {
            n->type = J_BOOL;
            n->b = 1;
        } else if (literal(r, "false") == 0) {
            n->type = J_BOOL;
        } else if (literal(r, "null") == 0) {
            n->type = J_NULL;
        } else {
            return fail(r, "unexpected character '%c'", *r->p);
        }
        n->raw = start;
        n->rawlen = (size_t)(r->p - start);
        return 0;
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return parse_number(r, n);
        return fail(r, "unexpected character '%c'", *r->p >= 0x20 && *r->p < 0x7f ? *r->p : '?');
    }
}

int json_parse(const char *text, size_t len, struct jnode *out, char *err, size_t errlen)
{
    struct reader r = {text, text, text + len, err, errlen, 0};
    memset(out, 0, sizeof(*out));
    if (parse_value(&r, out) < 0) {
        json_free(out);
        return -1;
    }
    skip_ws(&r);
    if (r.p != r.end) {
        fail(&r, "trailing text after the value");
        json_free(out);
        return -1;
    }
    return 0;
}

void json_free(struct jnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->kids)
            json_free(&n->kids[i]);
        if (n->keys)
            json_free(&n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
    free(n->s);
    memset(n, 0, sizeof(*n));
}

/* The last member wins, as in most JSON readers. */
const struct jnode *json_get(const struct jnode *obj, const char *key)
{
    const struct jnode *found = NULL;
    if (obj->type != J_OBJ)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i].slen == kl && memcmp(obj->keys[i].s, key, kl) == 0)
            found = &obj->kids[i];
    return found;
}
