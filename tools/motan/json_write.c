/* JSON string output for the CLI (same escaping as canonical typed JSON). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at p, 0 when invalid (overlongs, surrogates refused). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    size_t need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (n < need)
        return 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

int json_put(motan_buf *b, const char *s) { return motan_buf_append(b, s, strlen(s)); }

int json_put_str(motan_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = motan_buf_append(b, "\"", 1);
    for (size_t i = 0; i < len && rc == MOTAN_OK;) {
        unsigned char c = p[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n"
                        : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : NULL;
        if (esc) {
            rc = json_put(b, esc);
            i++;
        } else if (c < 0x20) {
            char u[8];
            snprintf(u, sizeof(u), "\\u%04x", c);
            rc = json_put(b, u);
            i++;
        } else {
            size_t l = utf8_len(p + i, len - i);
            if (l) {
                rc = motan_buf_append(b, p + i, l);
                i += l;
            } else {
                rc = json_put(b, "\xef\xbf\xbd"); /* U+FFFD */
                i++;
            }
        }
    }
    return rc == MOTAN_OK ? motan_buf_append(b, "\"", 1) : rc;
}
