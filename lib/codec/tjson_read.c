/*
 * Typed JSON reader (docs/typed-json.md, "Reading") on jansson: jansson parses the
 * text (2.14 keeps object members in text order), this file maps it to values.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>

#include "codec/codec_int.h"

typedef struct rd {
    motan_arena *a;
    char *errbuf;
    size_t errlen;
} rd;

static int fail(rd *r, const char *what, const char *key)
{
    return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE, "typed JSON: %s%s%s", key ? key : "",
                       key ? ": " : "", what);
}

static int nomem(rd *r) { return motan__errf(r->errbuf, r->errlen, MOTAN_ENOMEM, "out of memory"); }

static int conv(rd *r, json_t *j, int depth, motan_value **out);

/* A container of type t with room for n, unless it would nest deeper than the limit. */
static int container(rd *r, motan_type t, size_t n, int depth, motan_value **out)
{
    if (depth >= MOTAN_MAX_DEPTH) {
        char msg[48];
        snprintf(msg, sizeof(msg), "nesting deeper than %d", MOTAN_MAX_DEPTH);
        return fail(r, msg, NULL);
    }
    *out = motan__container_new(r->a, t, n);
    return *out ? MOTAN_OK : nomem(r);
}

static int b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 with padding, strictly (zero unused bits) into a node of type t. */
static int base64(rd *r, json_t *j, motan_type t, const char *key, motan_value **out)
{
    if (!json_is_string(j))
        return fail(r, "needs a base64 string", key);
    const uint8_t *s = (const uint8_t *)json_string_value(j);
    size_t n = json_string_length(j);
    if (n % 4)
        return fail(r, "bad base64 length", key);
    size_t pad = n && s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    size_t len = n / 4 * 3 - pad;
    motan_value *v = motan__value_alloc(r->a, t);
    char *d = v ? motan_arena_alloc(r->a, len + 1) : NULL;
    if (!d)
        return nomem(r);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t q = 0;
        for (size_t m = 0; m < 4; m++) {
            int c = (i + m >= n - pad) ? 0 : b64val(s[i + m]);
            if (c < 0)
                return fail(r, "bad base64 character", key);
            q = q << 6 | (uint32_t)c;
        }
        uint8_t b3[3] = {(uint8_t)(q >> 16), (uint8_t)(q >> 8), (uint8_t)q};
        size_t take = len - k < 3 ? len - k : 3;
        if (take < 3 && b3[take]) /* bits below the last byte must be zero */
            return fail(r, "non-canonical base64 padding bits", key);
        memcpy(d + k, b3, take);
        k += take;
    }
    d[len] = '\0';
    v->u.s.p = d;
    v->u.s.len = len;
    *out = v;
    return MOTAN_OK;
}

static int integer(rd *r, json_t *j, motan_type t, int64_t lo, int64_t hi, const char *key,
                   motan_value **out)
{
    if (!json_is_integer(j))
        return fail(r, "needs an integer", key);
    int64_t n = json_integer_value(j);
    if (n < lo || n > hi)
        return fail(r, "integer out of range", key);
    motan_value *v = motan__value_alloc(r->a, t);
    if (!v)
        return nomem(r);
    if (t == MOTAN_T_BYTE)
        v->u.byte = (uint8_t)n; /* -128..-1 as two's complement */
    else
        v->u.i = n;
    *out = v;
    return MOTAN_OK;
}

static int real(rd *r, json_t *j, motan_type t, const char *key, motan_value **out)
{
    double d;
    if (json_is_number(j)) {
        d = json_number_value(j);
        if (t == MOTAN_T_FLOAT32 && isinf((float)d))
            return fail(r, "number out of float32 range", key);
    } else if (json_is_string(j) && strcmp(json_string_value(j), "NaN") == 0) {
        /* Go's math.NaN() bits, as the reference encoder writes them. */
        uint64_t bits = 0x7ff8000000000001ULL;
        memcpy(&d, &bits, 8);
    } else if (json_is_string(j) && strcmp(json_string_value(j), "Infinity") == 0) {
        d = HUGE_VAL;
    } else if (json_is_string(j) && strcmp(json_string_value(j), "-Infinity") == 0) {
        d = -HUGE_VAL;
    } else {
        return fail(r, "needs a number, \"NaN\", \"Infinity\" or \"-Infinity\"", key);
    }
    motan_value *v = motan__value_alloc(r->a, t);
    if (!v)
        return nomem(r);
    if (t == MOTAN_T_FLOAT32)
        v->u.f32 = isnan(d) ? NAN : (float)d;
    else
        v->u.f64 = d;
    *out = v;
    return MOTAN_OK;
}

static int string(rd *r, json_t *j, motan_value **out)
{
    *out = motan__value_data(r->a, MOTAN_T_STRING, json_string_value(j), json_string_length(j));
    return *out ? MOTAN_OK : nomem(r);
}

static int array(rd *r, json_t *j, motan_type t, int depth, const char *key, motan_value **out)
{
    if (!json_is_array(j))
        return fail(r, "needs an array", key);
    size_t n = json_array_size(j);
    int rc = container(r, t, n, depth, out);
    for (size_t i = 0; rc == MOTAN_OK && i < n; i++) {
        json_t *e = json_array_get(j, i);
        if (t == MOTAN_T_STRING_ARRAY && !json_is_string(e))
            return fail(r, "every element must be a string", key);
        rc = conv(r, e, depth + 1, &(*out)->u.c.items[i]);
        (*out)->u.c.count = i + 1;
    }
    return rc;
}

/* A bare object (MAP) or the object of $string_map (STRING_MAP): keys in text order. */
static int object(rd *r, json_t *j, motan_type t, int depth, const char *key, motan_value **out)
{
    if (!json_is_object(j))
        return fail(r, "needs an object", key);
    int rc = container(r, t, json_object_size(j), depth, out);
    if (rc != MOTAN_OK)
        return rc;
    motan_value *m = *out;
    const char *k;
    size_t klen;
    json_t *e;
    json_object_keylen_foreach(j, k, klen, e)
    {
        size_t i = m->u.c.count;
        if (t == MOTAN_T_STRING_MAP && !json_is_string(e))
            return fail(r, "every value must be a string", key);
        m->u.c.items[2 * i] = motan__value_data(r->a, MOTAN_T_STRING, k, klen);
        if (!m->u.c.items[2 * i])
            return nomem(r);
        rc = conv(r, e, depth + 1, &m->u.c.items[2 * i + 1]);
        if (rc != MOTAN_OK)
            return rc;
        m->u.c.count = i + 1; /* jansson keys are unique */
    }
    return MOTAN_OK;
}

/* {"$map": [[k, v], ...]}: any key types, last duplicate wins. */
static int pairs(rd *r, json_t *j, int depth, const char *key, motan_value **out)
{
    if (!json_is_array(j))
        return fail(r, "needs an array of [key, value] pairs", key);
    size_t n = json_array_size(j);
    int rc = container(r, MOTAN_T_MAP, n, depth, out);
    if (rc != MOTAN_OK)
        return rc;
    motan_value *m = *out;
    for (size_t i = 0; rc == MOTAN_OK && i < n; i++) {
        json_t *e = json_array_get(j, i);
        if (!json_is_array(e) || json_array_size(e) != 2)
            return fail(r, "every entry must be a [key, value] pair", key);
        rc = conv(r, json_array_get(e, 0), depth + 1, &m->u.c.items[2 * i]);
        if (rc == MOTAN_OK)
            rc = conv(r, json_array_get(e, 1), depth + 1, &m->u.c.items[2 * i + 1]);
        m->u.c.count = i + 1;
    }
    if (rc == MOTAN_OK && motan__map_dedup(m) != MOTAN_OK)
        return nomem(r);
    return rc;
}

static int typed(rd *r, const char *key, json_t *j, int depth, motan_value **out)
{
    if (strcmp(key, "$byte") == 0)
        return integer(r, j, MOTAN_T_BYTE, -128, 255, key, out);
    if (strcmp(key, "$int16") == 0)
        return integer(r, j, MOTAN_T_INT16, INT16_MIN, INT16_MAX, key, out);
    if (strcmp(key, "$int32") == 0)
        return integer(r, j, MOTAN_T_INT32, INT32_MIN, INT32_MAX, key, out);
    if (strcmp(key, "$int64") == 0)
        return integer(r, j, MOTAN_T_INT64, INT64_MIN, INT64_MAX, key, out);
    if (strcmp(key, "$float32") == 0)
        return real(r, j, MOTAN_T_FLOAT32, key, out);
    if (strcmp(key, "$float64") == 0)
        return real(r, j, MOTAN_T_FLOAT64, key, out);
    if (strcmp(key, "$bytes") == 0)
        return base64(r, j, MOTAN_T_BYTES, key, out);
    if (strcmp(key, "$string") == 0)
        return base64(r, j, MOTAN_T_STRING, key, out);
    if (strcmp(key, "$string_map") == 0)
        return object(r, j, MOTAN_T_STRING_MAP, depth, key, out);
    if (strcmp(key, "$string_array") == 0)
        return array(r, j, MOTAN_T_STRING_ARRAY, depth, key, out);
    if (strcmp(key, "$map") == 0)
        return pairs(r, j, depth, key, out);
    if (strcmp(key, "$array") == 0)
        return array(r, j, MOTAN_T_ARRAY, depth, key, out);
    return fail(r, "unknown typed-JSON key", key);
}

static int conv(rd *r, json_t *j, int depth, motan_value **out)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = motan__value_alloc(r->a, MOTAN_T_NULL);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = motan_value_new_bool(r->a, json_is_true(j));
        break;
    case JSON_INTEGER:
        *out = motan_value_new_int64(r->a, json_integer_value(j));
        break;
    case JSON_REAL:
        *out = motan_value_new_float64(r->a, json_real_value(j));
        break;
    case JSON_STRING:
        return string(r, j, out);
    case JSON_ARRAY:
        return array(r, j, MOTAN_T_ARRAY, depth, NULL, out);
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        json_object_foreach(j, k, e)
        {
            if (k[0] != '$')
                continue;
            if (json_object_size(j) != 1)
                return fail(r, "a $ key must be the only key of its object", k);
            return typed(r, k, e, depth, out);
        }
        return object(r, j, MOTAN_T_MAP, depth, NULL, out);
    }
    default:
        return fail(r, "unexpected JSON value", NULL);
    }
    return *out ? MOTAN_OK : nomem(r);
}

MOTAN_EXPORT int motan_tjson_parse(const char *text, size_t len, motan_arena *a,
                                   motan_value **out, char *errbuf, size_t errlen)
{
    if (!out || !a || (!text && len))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    *out = NULL;
    int rc = motan__json_budget(a, text ? text : "", len, 3, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    json_error_t err;
    json_t *j = json_loadb(text ? text : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        return motan__errf(errbuf, errlen, MOTAN_EDECODE,
                           "typed JSON: %s at line %d column %d (offset %d)", err.text, err.line,
                           err.column, err.position);
    rd r = {a, errbuf, errlen};
    motan_value *v = NULL;
    rc = motan__budget_rc(a, conv(&r, j, 0, &v), errbuf, errlen);
    json_decref(j);
    if (rc == MOTAN_OK)
        *out = v;
    return rc;
}
