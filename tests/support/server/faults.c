/* Fault specs ("close", "delay:100", ...) and the gzip-bomb body. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "srv.h"

typedef struct fault_def {
    const char *name;
    srv_fault_kind kind;
    int needs_n;
} fault_def;

static const fault_def faults[] = {
    {"delay", SRV_F_DELAY, 1},
    {"noreply", SRV_F_NOREPLY, 0},
    {"close", SRV_F_CLOSE, 0},
    {"reset", SRV_F_RESET, 0},
    {"close-mid", SRV_F_CLOSE_MID, 0},
    {"garbage", SRV_F_GARBAGE, 0},
    {"wrong-id", SRV_F_WRONG_ID, 0},
    {"duplicate", SRV_F_DUPLICATE, 0},
    {"oversize", SRV_F_OVERSIZE, 0},
    {"oversize-meta", SRV_F_OVERSIZE_META, 0},
    {"bytewise", SRV_F_BYTEWISE, 0},
    {"error-go", SRV_F_ERROR_GO, 0},
    {"error-java", SRV_F_ERROR_JAVA, 0},
    {"gzip", SRV_F_GZIP, 0},
    {"gzip-bomb", SRV_F_GZIP_BOMB, 0},
    {"many-meta", SRV_F_MANY_META, 1},
    {"endless-meta", SRV_F_ENDLESS_META, 0},
    {"hb-storm", SRV_F_HB_STORM, 1},
    {"motan1", SRV_F_MOTAN1, 0},
    {"version2", SRV_F_VERSION2, 0},
    {"none", SRV_F_NONE, 0},
};

/* Bounds of N: a day of delay; metadata and storms that stay far below 10 MiB. */
static uint32_t max_n(srv_fault_kind k) { return k == SRV_F_DELAY ? 86400000u : 100000u; }

int srv_fault_parse(const char *spec, size_t len, srv_fault *out)
{
    const char *colon = memchr(spec, ':', len);
    size_t nlen = colon ? (size_t)(colon - spec) : len;
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        const fault_def *d = &faults[i];
        if (strlen(d->name) != nlen || memcmp(d->name, spec, nlen) != 0)
            continue;
        if (!d->needs_n != !colon)
            return -1;
        uint64_t n = 0;
        if (colon) {
            const char *p = colon + 1, *end = spec + len;
            if (p == end || end - p > 10)
                return -1;
            for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                    return -1;
                n = n * 10 + (uint64_t)(*p - '0');
            }
            if (n > max_n(d->kind))
                return -1;
        }
        out->kind = d->kind;
        out->n = (uint32_t)n;
        return 0;
    }
    return -1;
}

int srv_gzip_bomb(uint8_t **out, size_t *len)
{
    static const uint8_t zeros[64 * 1024];
    const size_t rounds = 64u * 1024 * 1024 / sizeof(zeros);
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip member, as motan2 bodies are. */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = 128 * 1024, n = 0; /* deflate's best ratio is about 1:1032 */
    uint8_t *buf = malloc(cap);
    int rc = buf ? Z_OK : Z_MEM_ERROR;
    for (size_t r = 0; r < rounds && rc == Z_OK; r++) {
        int flush = r + 1 == rounds ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = (Bytef *)zeros;
        z.avail_in = sizeof(zeros);
        do {
            if (n == cap) {
                uint8_t *nb = realloc(buf, cap * 2);
                if (!nb) {
                    rc = Z_MEM_ERROR;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
            z.next_out = buf + n;
            z.avail_out = (uInt)(cap - n);
            rc = deflate(&z, flush);
            n = cap - z.avail_out;
        } while (rc == Z_OK && (z.avail_in > 0 || (flush == Z_FINISH && n == cap)));
    }
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}
