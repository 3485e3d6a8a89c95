/*
 * JSON bodies (id 2) as Java's FastJsonSerialization writes and reads them (§6.2,
 * docs/serialization.md). Written by hand straight into the output buffer (exact number
 * spelling, no intermediate tree); read with jansson after removing fastjson's number
 * suffixes (12L, 1.5F), ignoring fastjson's "@type" members.
 */
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_int.h"

/* ---- encoding ------------------------------------------------------------------------- */

typedef struct jw {
    motan_buf *b;
    char *errbuf;
    size_t errlen;
} jw;

static int put(jw *w, const void *p, size_t n)
{
    if (motan_buf_append(w->b, p, n) != MOTAN_OK)
        return motan__errf(w->errbuf, w->errlen, MOTAN_ENOMEM, "out of memory");
    return MOTAN_OK;
}

static int puts_(jw *w, const char *s) { return put(w, s, strlen(s)); }

static int put_string(jw *w, const char *s, size_t n, const char *what)
{
    static const char hex[] = "0123456789abcdef";
    if (!motan__utf8_valid(s, n))
        return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL,
                           "JSON: %s is not valid UTF-8 (JSON text cannot carry it)", what);
    int rc = put(w, "\"", 1);
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; rc == MOTAN_OK && i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char e[6] = {'\\', (char)c};
        size_t elen = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\n': e[1] = 'n'; break;
        case '\t': e[1] = 't'; break;
        case '\r': e[1] = 'r'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            elen = 6;
        }
        rc = put(w, s + run, i - run);
        if (rc == MOTAN_OK)
            rc = put(w, e, elen);
        run = i + 1;
    }
    if (rc == MOTAN_OK)
        rc = put(w, s + run, n - run);
    return rc == MOTAN_OK ? put(w, "\"", 1) : rc;
}

/* fastjson writes byte[] as a base64 string (standard alphabet, padded). */
static int put_base64(jw *w, const uint8_t *p, size_t n)
{
    size_t len = (n + 2) / 3 * 4;
    if (n > (SIZE_MAX - 2) / 4 * 3 - 3 || motan_buf_reserve(w->b, len + 2) != 0)
        return motan__errf(w->errbuf, w->errlen, MOTAN_ENOMEM, "out of memory");
    motan_buf *b = w->b;
    motan__buf_put_u8(b, '"');
    motan__base64((char *)b->data + b->len, p, n);
    b->len += len;
    motan__buf_put_u8(b, '"');
    return MOTAN_OK;
}

/* Shortest round-trip text with '.' or 'e' (text.c): reads back as a real. d is finite. */
static int put_real(jw *w, double d, int f32)
{
    char text[MOTAN__REAL_MAX];
    return put(w, text, motan__fmt_real(text, d, f32));
}

static int put_int(jw *w, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return put(w, buf, (size_t)n);
}

static const char *type_name(int t)
{
    switch (t) {
    case MOTAN_T_NULL: return "null";
    case MOTAN_T_STRING: return "string";
    case MOTAN_T_STRING_MAP: return "string map";
    case MOTAN_T_BYTES: return "bytes";
    case MOTAN_T_STRING_ARRAY: return "string array";
    case MOTAN_T_BOOL: return "bool";
    case MOTAN_T_BYTE: return "byte";
    case MOTAN_T_INT16: return "int16";
    case MOTAN_T_INT32: return "int32";
    case MOTAN_T_INT64: return "int64";
    case MOTAN_T_FLOAT32: return "float32";
    case MOTAN_T_FLOAT64: return "float64";
    case MOTAN_T_MAP: return "map";
    case MOTAN_T_ARRAY: return "array";
    default: return "unknown type";
    }
}

static int jval(jw *w, const motan_value *v, int depth);

static int container(jw *w, const motan_value *v, int depth)
{
    /* Deeper trees could not be decoded again. */
    if (depth >= MOTAN_MAX_DEPTH)
        return motan__errf(w->errbuf, w->errlen, MOTAN_ETOOBIG, "JSON: nesting deeper than %d",
                           MOTAN_MAX_DEPTH);
    int map = motan__is_map(v->type);
    int rc = put(w, map ? "{" : "[", 1);
    for (size_t i = 0; rc == MOTAN_OK && i < v->u.c.count; i++) {
        if (i)
            rc = put(w, ",", 1);
        if (rc == MOTAN_OK && map) {
            const motan_value *k = v->u.c.items[2 * i];
            if (!k || k->type != MOTAN_T_STRING)
                return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL,
                                   "JSON: map key %zu is %s, JSON object keys must be strings",
                                   i, k ? type_name(k->type) : "NULL");
            rc = put_string(w, k->u.s.p, k->u.s.len, "map key");
            if (rc == MOTAN_OK)
                rc = put(w, ":", 1);
        }
        if (rc == MOTAN_OK)
            rc = jval(w, v->u.c.items[map ? 2 * i + 1 : i], depth + 1);
    }
    return rc == MOTAN_OK ? put(w, map ? "}" : "]", 1) : rc;
}

static int jval(jw *w, const motan_value *v, int depth)
{
    if (!v)
        return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL, "JSON: NULL value");
    switch (v->type) {
    case MOTAN_T_NULL:
        return puts_(w, "null");
    case MOTAN_T_BOOL:
        return puts_(w, v->u.b ? "true" : "false");
    case MOTAN_T_BYTE: /* Java's view of a byte: signed */
        return put_int(w, (int8_t)v->u.byte);
    case MOTAN_T_INT16:
    case MOTAN_T_INT32:
    case MOTAN_T_INT64:
        return put_int(w, v->u.i);
    case MOTAN_T_FLOAT32:
    case MOTAN_T_FLOAT64: {
        int f32 = v->type == MOTAN_T_FLOAT32;
        double d = f32 ? v->u.f32 : v->u.f64;
        if (!isfinite(d))
            return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL,
                               "JSON: %s %s has no JSON form", type_name(v->type),
                               isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
        return put_real(w, d, f32);
    }
    case MOTAN_T_STRING:
        return put_string(w, v->u.s.p, v->u.s.len, "string");
    case MOTAN_T_BYTES:
        return put_base64(w, (const uint8_t *)v->u.s.p, v->u.s.len);
    case MOTAN_T_ARRAY:
    case MOTAN_T_STRING_ARRAY:
    case MOTAN_T_MAP:
    case MOTAN_T_STRING_MAP:
        return container(w, v, depth);
    default:
        return motan__errf(w->errbuf, w->errlen, MOTAN_EINVAL, "JSON: unknown type %d", v->type);
    }
}

/* One JSON array of the arguments; no arguments is an empty body (as for Simple). */
static int json_args(const motan_value *const *args, size_t n, motan_buf *out, char *errbuf,
                     size_t errlen)
{
    char why[160];
    jw w = {out, why, sizeof(why)};
    int rc = MOTAN_OK;
    for (size_t i = 0; rc == MOTAN_OK && i < n; i++) {
        rc = put(&w, i ? "," : "[", 1);
        if (rc == MOTAN_OK)
            rc = jval(&w, args[i], 0);
        if (rc != MOTAN_OK)
            return motan__errf(errbuf, errlen, rc, "argument %zu: %s", i, why);
    }
    if (n && put(&w, "]", 1) != MOTAN_OK)
        return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory");
    return MOTAN_OK;
}

static int json_value(const motan_value *v, motan_buf *out, char *errbuf, size_t errlen)
{
    jw w = {out, errbuf, errlen};
    return jval(&w, v, 0);
}

/* ---- decoding ------------------------------------------------------------------------- */

typedef struct jr {
    motan_arena *a;
    char *errbuf;
    size_t errlen;
} jr;

static int nomem(jr *r) { return motan__errf(r->errbuf, r->errlen, MOTAN_ENOMEM, "out of memory"); }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/*
 * fastjson's number suffixes: a copy of t without every L, S, B, F or D that directly follows
 * a digit or '.' outside strings; NULL (and *oom 0) when there is none, so t parses as is.
 */
static char *strip_suffixes(const char *t, size_t len, size_t *outlen, int *oom)
{
    char *copy = NULL;
    size_t n = 0;
    int in_str = 0, esc = 0;
    *oom = 0;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if ((c == 'L' || c == 'S' || c == 'B' || c == 'F' || c == 'D') && i > 0 &&
                   (is_digit(t[i - 1]) || t[i - 1] == '.')) {
            if (!copy) {
                copy = motan_malloc(len);
                if (!copy) {
                    *oom = 1;
                    return NULL;
                }
                memcpy(copy, t, i);
                n = i;
            }
            continue;
        }
        if (copy)
            copy[n++] = c;
    }
    *outlen = n;
    return copy;
}

static int parse(jr *r, const uint8_t *data, size_t len, json_t **out)
{
    size_t n = 0;
    int oom;
    int rc = motan__json_budget(r->a, (const char *)data, len, 1, r->errbuf, r->errlen);
    if (rc != MOTAN_OK)
        return rc;
    char *copy = strip_suffixes((const char *)data, len, &n, &oom);
    if (oom)
        return nomem(r);
    json_error_t e;
    *out = json_loadb(copy ? copy : (const char *)data, copy ? n : len,
                      JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    motan_free(copy);
    if (*out)
        return MOTAN_OK;
    if (json_error_code(&e) == json_error_out_of_memory)
        return nomem(r);
    return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE, "JSON: %s at line %d column %d",
                       e.text, e.line, e.column);
}

static int is_type_hint(const char *k, size_t klen) { return klen == 5 && !memcmp(k, "@type", 5); }

static int conv(jr *r, json_t *j, int depth, motan_value **out)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
    case JSON_ARRAY: {
        if (depth >= MOTAN_MAX_DEPTH)
            return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                               "JSON: nesting deeper than %d", MOTAN_MAX_DEPTH);
        int map = json_is_object(j);
        size_t n = map ? json_object_size(j) - (json_object_getn(j, "@type", 5) != NULL)
                       : json_array_size(j);
        motan_value *c = motan__container_new(r->a, map ? MOTAN_T_MAP : MOTAN_T_ARRAY, n);
        if (!c)
            return nomem(r);
        motan_value **it = c->u.c.items;
        size_t i = 0;
        if (map) {
            const char *k;
            size_t klen;
            json_t *m;
            /* jansson keeps members in text order, keys unique (a repeated key: last value) */
            json_object_keylen_foreach(j, k, klen, m)
            {
                if (is_type_hint(k, klen))
                    continue;
                it[2 * i] = motan__value_data(r->a, MOTAN_T_STRING, k, klen);
                if (!it[2 * i])
                    return nomem(r);
                int rc = conv(r, m, depth + 1, &it[2 * i + 1]);
                if (rc != MOTAN_OK)
                    return rc;
                i++;
            }
        } else {
            for (; i < n; i++) {
                int rc = conv(r, json_array_get(j, i), depth + 1, &it[i]);
                if (rc != MOTAN_OK)
                    return rc;
            }
        }
        c->u.c.count = i;
        *out = c;
        return MOTAN_OK;
    }
    case JSON_STRING:
        *out = motan__value_data(r->a, MOTAN_T_STRING, json_string_value(j),
                                 json_string_length(j));
        return *out ? MOTAN_OK : nomem(r);
    case JSON_INTEGER:
        *out = motan__value_alloc(r->a, MOTAN_T_INT64);
        if (*out)
            (*out)->u.i = json_integer_value(j);
        return *out ? MOTAN_OK : nomem(r);
    case JSON_REAL:
        *out = motan__value_alloc(r->a, MOTAN_T_FLOAT64);
        if (*out)
            (*out)->u.f64 = json_real_value(j);
        return *out ? MOTAN_OK : nomem(r);
    case JSON_TRUE:
    case JSON_FALSE:
        *out = motan__value_alloc(r->a, MOTAN_T_BOOL);
        if (*out)
            (*out)->u.b = json_is_true(j);
        return *out ? MOTAN_OK : nomem(r);
    default:
        *out = motan__value_alloc(r->a, MOTAN_T_NULL);
        return *out ? MOTAN_OK : nomem(r);
    }
}

/* One JSON value; an empty body is null. */
static int json_devalue(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                        char *errbuf, size_t errlen)
{
    jr r = {a, errbuf, errlen};
    json_t *j;
    if (len == 0) {
        *out = motan__value_alloc(a, MOTAN_T_NULL);
        return *out ? MOTAN_OK : nomem(&r);
    }
    int rc = parse(&r, data, len, &j);
    if (rc != MOTAN_OK)
        return rc;
    motan_value *v;
    rc = conv(&r, j, 0, &v);
    json_decref(j);
    if (rc == MOTAN_OK)
        *out = v;
    return rc;
}

/* One JSON array, its elements the arguments (each at depth 0); an empty body: none. */
static int json_deargs(const uint8_t *data, size_t len, motan_arena *a, motan_value **out,
                       char *errbuf, size_t errlen)
{
    jr r = {a, errbuf, errlen};
    json_t *j = NULL;
    int rc = len ? parse(&r, data, len, &j) : MOTAN_OK;
    if (rc != MOTAN_OK)
        return rc;
    if (j && !json_is_array(j)) {
        json_decref(j);
        return motan__errf(errbuf, errlen, MOTAN_EDECODE,
                           "JSON: a request body must be one JSON array of the arguments");
    }
    size_t n = j ? json_array_size(j) : 0;
    motan_value *arr = motan__container_new(a, MOTAN_T_ARRAY, n);
    rc = arr ? MOTAN_OK : nomem(&r);
    for (size_t i = 0; rc == MOTAN_OK && i < n; i++)
        rc = conv(&r, json_array_get(j, i), 0, &arr->u.c.items[i]);
    json_decref(j);
    if (rc != MOTAN_OK)
        return rc;
    arr->u.c.count = n;
    *out = arr;
    return MOTAN_OK;
}

const motan__codec motan__json_codec = {json_args, json_value, json_devalue, json_deargs};
