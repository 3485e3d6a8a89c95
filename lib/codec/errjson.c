/*
 * M_e, the error description of an error response (§3.3).
 * Reading is tolerant because every server writes it differently (member order, escaping of
 * '/', '<', '>', '&', a missing errmsg, numbers as strings); jansson does the JSON.
 * Writing matches Go's encoding/json byte for byte, so a libmotan server answers like Go.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "codec/codec_int.h"

/* Integers, reals with an integral value and decimal strings; 0 when none fits. */
static int json_to_int64(const json_t *j, int64_t *out)
{
    if (json_is_integer(j)) {
        *out = (int64_t)json_integer_value(j);
        return 1;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return 0;
        *out = (int64_t)d;
        return 1;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (n == 0 || strlen(s) != n)
            return 0;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '+')
            return 0;
        *out = (int64_t)v;
        return 1;
    }
    return 0;
}

int motan__errjson_parse(const char *text, size_t len, int64_t *code, int *type, motan_buf *msg)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!root)
        return MOTAN_EDECODE;
    if (!json_is_object(root)) {
        json_decref(root);
        return MOTAN_EDECODE;
    }
    int64_t c = 0, t = 1;
    json_to_int64(json_object_get(root, "errcode"), &c);
    if (!json_to_int64(json_object_get(root, "errtype"), &t) || t < INT_MIN || t > INT_MAX)
        t = 1;
    int rc = MOTAN_OK;
    msg->len = 0;
    const json_t *m = json_object_get(root, "errmsg");
    if (json_is_string(m)) {
        rc = motan_buf_append(msg, json_string_value(m), json_string_length(m));
    } else if (m && !json_is_null(m)) {
        /* Not a string: keep its JSON text rather than lose it. */
        char *s = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) {
            rc = motan_buf_append(msg, s, strlen(s));
            free(s);
        }
    }
    json_decref(root);
    if (rc != MOTAN_OK)
        return rc;
    *code = c;
    *type = (int)t;
    return MOTAN_OK;
}

/* ---- writing --------------------------------------------------------------------------- */

static const char hexd[] = "0123456789abcdef";

static uint8_t *put_u(uint8_t *o, unsigned v)
{
    *o++ = '\\';
    *o++ = 'u';
    *o++ = (uint8_t)hexd[(v >> 12) & 15];
    *o++ = (uint8_t)hexd[(v >> 8) & 15];
    *o++ = (uint8_t)hexd[(v >> 4) & 15];
    *o++ = (uint8_t)hexd[v & 15];
    return o;
}

/* JSON string body as Go's encoding/json writes it (HTML-safe, invalid UTF-8 -> U+FFFD). */
static uint8_t *put_escaped(uint8_t *o, const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
                *o++ = c;
            } else if (c == '"' || c == '\\') {
                *o++ = '\\';
                *o++ = c;
            } else if (c == '\n') {
                *o++ = '\\';
                *o++ = 'n';
            } else if (c == '\r') {
                *o++ = '\\';
                *o++ = 'r';
            } else if (c == '\t') {
                *o++ = '\\';
                *o++ = 't';
            } else {
                o = put_u(o, c);
            }
            i++;
            continue;
        }
        size_t k = motan__utf8_len(s + i, n - i);
        if (k == 0) {
            o = put_u(o, 0xFFFD);
            i++;
        } else if (k == 3 && c == 0xE2 && s[i + 1] == 0x80 &&
                   (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            o = put_u(o, s[i + 2] == 0xA8 ? 0x2028 : 0x2029); /* Go escapes these two */
            i += k;
        } else {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        }
    }
    return o;
}

size_t motan__errjson_bound(size_t len)
{
    /* Worst case: every byte becomes a 6-byte \uXXXX escape. */
    return len * 6 + 96;
}

int motan__errjson_write(motan_buf *b, int64_t code, int type, const char *msg, size_t len)
{
    if (len > (SIZE_MAX - 96) / 6)
        return MOTAN_ENOMEM;
    int rc = motan__buf_ensure(b, motan__errjson_bound(len));
    if (rc != MOTAN_OK)
        return rc;
    uint8_t *o = b->data + b->len;
    o += snprintf((char *)o, 48, "{\"errcode\":%lld,\"errmsg\":\"", (long long)code);
    o = put_escaped(o, (const uint8_t *)msg, len);
    o += snprintf((char *)o, 40, "\",\"errtype\":%d}", type);
    b->len = (size_t)(o - b->data);
    return MOTAN_OK;
}
