/* Hex text <-> bytes for the command line, and reading stdin. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core_int.h"

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int hex_decode(const char *text, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    size_t n = strlen(text), w = 0;
    uint8_t *p = malloc(n / 2 + 1);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (is_space((unsigned char)text[i]))
            continue;
        int v = motan__hexval(text[i]);
        if (v < 0) {
            snprintf(err, errlen, "bad hex: '%c' at offset %zu is not a hex digit",
                     text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?', i);
            free(p);
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            p[w++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        snprintf(err, errlen, "bad hex: odd number of hex digits");
        free(p);
        return -1;
    }
    *out = p;
    *len = w;
    return 0;
}

int hex_append(motan_buf *b, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[512];
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        chunk[k++] = digits[p[i] >> 4];
        chunk[k++] = digits[p[i] & 15];
        if (k == sizeof(chunk) || i + 1 == len) {
            if (motan_buf_append(b, chunk, k) != MOTAN_OK)
                return -1;
            k = 0;
        }
    }
    return 0;
}

int read_all(FILE *f, uint8_t **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *p = malloc(cap);
    if (!p)
        return -1;
    for (;;) {
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (n < cap) {
            if (ferror(f)) {
                free(p);
                return -1;
            }
            if (feof(f))
                break;
            continue;
        }
        uint8_t *np = realloc(p, cap * 2);
        if (!np) {
            free(p);
            return -1;
        }
        p = np;
        cap *= 2;
    }
    p[n] = '\0'; /* the loop ends with n < cap: room for the NUL text parsers rely on */
    *out = p;
    *len = n;
    return 0;
}
