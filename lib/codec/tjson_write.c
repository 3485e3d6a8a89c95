/*
 * Typed JSON writer (docs/typed-json.md, "Writing"): canonical, compact text written
 * by hand (not by jansson's dumper) so escaping, number spelling and key order are exact.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_int.h"

typedef struct out {
    motan_buf b;
    int failed; /* out of memory or too deep */
} out;

static void reserve(out *o, size_t n)
{
    if (!o->failed && motan__buf_ensure(&o->b, n) != MOTAN_OK)
        o->failed = 1;
}

static void put(out *o, const char *s, size_t n)
{
    if (n == 0)
        return;
    reserve(o, n);
    if (o->failed)
        return;
    motan__buf_put(&o->b, s, n);
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void putc_(out *o, char c) { put(o, &c, 1); }

/* ---- UTF-8 ---------------------------------------------------------------------------- */

int motan__utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = motan__utf8_len(p + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/*
 * A JSON string of s. Invalid UTF-8 (and NUL when nul_bad) becomes U+FFFD: callers pass
 * only valid text, except for string map keys and values and string array items, which
 * typed JSON has no exact form for; such values are written lossily and do not survive a
 * round trip through text.
 */
static void put_string(out *o, const char *s, size_t n, int nul_bad)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    reserve(o, n + 2);
    putc_(o, '"');
    size_t run = 0; /* start of bytes not yet copied */
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t l = c >= 0x80 ? motan__utf8_len(p + i, n - i) : 1;
        if (c >= 0x80 && l) { /* valid multi-byte sequence: raw */
            i += l;
            continue;
        }
        put(o, s + run, i - run);
        if (l == 0 || (c == 0 && nul_bad)) {
            put(o, "\xef\xbf\xbd", 3);
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else {
            const char *e = c == '\n'   ? "\\n"
                            : c == '\t' ? "\\t"
                            : c == '\r' ? "\\r"
                            : c == '\b' ? "\\b"
                            : c == '\f' ? "\\f"
                                        : NULL;
            if (e) {
                put(o, e, 2);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(o, u, 6);
            }
        }
        i++;
        run = i;
    }
    put(o, s + run, n - run);
    putc_(o, '"');
}

static void put_base64(out *o, const uint8_t *p, size_t n)
{
    size_t len = (n + 2) / 3 * 4;
    reserve(o, len + 2);
    if (o->failed)
        return;
    putc_(o, '"');
    motan__base64((char *)o->b.data + o->b.len, p, n);
    o->b.len += len;
    putc_(o, '"');
}

/* ---- numbers -------------------------------------------------------------------------- */

/* Shortest round-trip text (text.c), fixed notation for -4 <= exponent < 16 (Python's rule). */
static void put_real(out *o, double d, int f32)
{
    char text[MOTAN__REAL_MAX];
    put(o, text, motan__fmt_real(text, d, f32));
}

static void put_float(out *o, double d, int f32)
{
    const char *pre = f32 ? "{\"$float32\":" : "";
    if (isnan(d) || isinf(d)) {
        puts_(o, f32 ? "{\"$float32\":" : "{\"$float64\":");
        puts_(o, isnan(d) ? "\"NaN\"}" : d > 0 ? "\"Infinity\"}" : "\"-Infinity\"}");
        return;
    }
    puts_(o, pre);
    put_real(o, d, f32);
    if (f32)
        putc_(o, '}');
}

static void put_int(out *o, const char *pre, int64_t v)
{
    char buf[48];
    snprintf(buf, sizeof(buf), "%s%lld%s", pre, (long long)v, *pre ? "}" : "");
    puts_(o, buf);
}

/* ---- values --------------------------------------------------------------------------- */

static int bare_key(const motan_value *k)
{
    return k->type == MOTAN_T_STRING && (k->u.s.len == 0 || k->u.s.p[0] != '$') &&
           !memchr(k->u.s.p, 0, k->u.s.len) && /* jansson cannot read NUL in keys */
           motan__utf8_valid(k->u.s.p, k->u.s.len);
}

static void put_value(out *o, const motan_value *v, int depth);

static void put_items(out *o, const motan_value *v, int depth)
{
    putc_(o, '[');
    for (size_t i = 0; i < v->u.c.count; i++) {
        if (i)
            putc_(o, ',');
        put_value(o, v->u.c.items[i], depth + 1);
    }
    putc_(o, ']');
}

static void put_map(out *o, const motan_value *v, int depth)
{
    size_t n = v->u.c.count;
    motan_value **it = v->u.c.items;
    size_t i = 0;
    while (i < n && bare_key(it[2 * i]))
        i++;
    if (i == n) {
        putc_(o, '{');
        for (i = 0; i < n; i++) {
            if (i)
                putc_(o, ',');
            put_string(o, it[2 * i]->u.s.p, it[2 * i]->u.s.len, 0);
            putc_(o, ':');
            put_value(o, it[2 * i + 1], depth + 1);
        }
        putc_(o, '}');
        return;
    }
    puts_(o, "{\"$map\":[");
    for (i = 0; i < n; i++) {
        if (i)
            putc_(o, ',');
        putc_(o, '[');
        put_value(o, it[2 * i], depth + 1);
        putc_(o, ',');
        put_value(o, it[2 * i + 1], depth + 1);
        putc_(o, ']');
    }
    puts_(o, "]}");
}

static void put_raw_strings(out *o, const motan_value *v)
{
    int map = v->type == MOTAN_T_STRING_MAP;
    size_t slots = map ? 2 * v->u.c.count : v->u.c.count;
    puts_(o, map ? "{\"$string_map\":{" : "{\"$string_array\":[");
    for (size_t i = 0; i < slots; i++) {
        const motan_value *s = v->u.c.items[i];
        if (i)
            putc_(o, map && i % 2 ? ':' : ',');
        if (!s || (s->type != MOTAN_T_STRING && s->type != MOTAN_T_BYTES)) {
            o->failed = 1;
            return;
        }
        put_string(o, s->u.s.p, s->u.s.len, map && i % 2 == 0);
    }
    puts_(o, map ? "}}" : "]}");
}

static void put_value(out *o, const motan_value *v, int depth)
{
    if (o->failed)
        return;
    if (!v || depth > MOTAN__TREE_DEPTH_LIMIT) {
        o->failed = 1;
        return;
    }
    switch (v->type) {
    case MOTAN_T_NULL:
        puts_(o, "null");
        break;
    case MOTAN_T_BOOL:
        puts_(o, v->u.b ? "true" : "false");
        break;
    case MOTAN_T_BYTE:
        put_int(o, "{\"$byte\":", v->u.byte);
        break;
    case MOTAN_T_INT16:
        put_int(o, "{\"$int16\":", v->u.i);
        break;
    case MOTAN_T_INT32:
        put_int(o, "{\"$int32\":", v->u.i);
        break;
    case MOTAN_T_INT64:
        put_int(o, "", v->u.i);
        break;
    case MOTAN_T_FLOAT32:
        put_float(o, v->u.f32, 1);
        break;
    case MOTAN_T_FLOAT64:
        put_float(o, v->u.f64, 0);
        break;
    case MOTAN_T_STRING:
        if (motan__utf8_valid(v->u.s.p, v->u.s.len)) {
            put_string(o, v->u.s.p, v->u.s.len, 0);
        } else {
            puts_(o, "{\"$string\":");
            put_base64(o, (const uint8_t *)v->u.s.p, v->u.s.len);
            putc_(o, '}');
        }
        break;
    case MOTAN_T_BYTES:
        puts_(o, "{\"$bytes\":");
        put_base64(o, (const uint8_t *)v->u.s.p, v->u.s.len);
        putc_(o, '}');
        break;
    case MOTAN_T_STRING_MAP:
    case MOTAN_T_STRING_ARRAY:
        put_raw_strings(o, v);
        break;
    case MOTAN_T_MAP:
        put_map(o, v, depth);
        break;
    case MOTAN_T_ARRAY:
        put_items(o, v, depth);
        break;
    default:
        o->failed = 1;
    }
}

MOTAN_EXPORT char *motan_tjson_format(const motan_value *v)
{
    out o = {{NULL, 0, 0}, 0};
    put_value(&o, v, 0);
    putc_(&o, '\0');
    if (o.failed) {
        motan_free(o.b.data);
        return NULL;
    }
    return (char *)o.b.data;
}
