/* JSON string output for the CLI (same escaping as canonical typed JSON). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec/codec_int.h"

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
            size_t l = motan__utf8_len(p + i, len - i);
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
