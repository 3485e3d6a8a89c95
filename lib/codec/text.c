/*
 * Text forms shared by the JSON writers (typed JSON and the JSON body serialization):
 * shortest round-trip reals and base64.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_int.h"

static int reads_back(const char *buf, double d, int f32)
{
    double r = strtod(buf, NULL);
    return f32 ? (float)r == (float)d : r == d;
}

/* snprintf/strtod follow LC_NUMERIC; JSON wants '.'. */
static void fix_point(char *buf)
{
    char dp = localeconv()->decimal_point[0];
    if (dp && dp != '.')
        for (char *q = buf; *q; q++)
            if (*q == dp)
                *q = '.';
}

size_t motan__fmt_real(char out[MOTAN__REAL_MAX], double d, int f32)
{
    char e[48], digits[24];
    int lo = 0, hi = f32 ? 8 : 16;
    while (lo < hi) { /* reading back is monotonic in the precision */
        int mid = (lo + hi) / 2;
        snprintf(e, sizeof(e), "%.*e", mid, d);
        if (reads_back(e, d, f32))
            hi = mid;
        else
            lo = mid + 1;
    }
    snprintf(e, sizeof(e), "%.*e", lo, d);
    if (!reads_back(e, d, f32)) /* float32 double rounding: the exact value always works */
        snprintf(e, sizeof(e), "%.16e", d);
    fix_point(e);
    char *x = strchr(e, 'e');
    int exp = atoi(x + 1);
    if (exp < -4 || exp >= 16) {
        size_t n = strlen(e);
        memcpy(out, e, n + 1);
        return n;
    }
    /* digits of the mantissa, without sign, point and trailing zeros */
    size_t n = 0;
    for (const char *q = e; q < x; q++)
        if (*q >= '0' && *q <= '9')
            digits[n++] = *q;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    char *w = out;
    if (e[0] == '-')
        *w++ = '-';
    if (exp < 0) {
        *w++ = '0';
        *w++ = '.';
        for (int i = -1; i > exp; i--)
            *w++ = '0';
        memcpy(w, digits, n);
        w += n;
    } else {
        size_t ip = (size_t)exp + 1; /* digits before the point */
        for (size_t i = 0; i < ip; i++)
            *w++ = i < n ? digits[i] : '0';
        *w++ = '.';
        if (n > ip) {
            memcpy(w, digits + ip, n - ip);
            w += n - ip;
        } else {
            *w++ = '0';
        }
    }
    *w = '\0';
    return (size_t)(w - out);
}

void motan__base64(char *dst, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *dst++ = tab[v >> 18];
        *dst++ = tab[(v >> 12) & 63];
        *dst++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *dst++ = i + 2 < n ? tab[v & 63] : '=';
    }
}
