/* Fault specs ("close", "delay:100", ...) and the gzip-bomb and gzip-nulls bodies. */
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
    {"gzip-nulls", SRV_F_GZIP_NULLS, 0},
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

/* A gzip member of head[0..hlen) followed by zeros up to total bytes. */
static int gzip_zeros(const uint8_t *head, size_t hlen, size_t total, uint8_t **out, size_t *len)
{
    static const uint8_t zeros[64 * 1024];
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip member, as motan2 bodies are. */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = 128 * 1024, n = 0; /* deflate's best ratio is about 1:1032 */
    uint8_t *buf = malloc(cap);
    int rc = buf ? Z_OK : Z_MEM_ERROR;
    size_t done = 0;
    while (rc == Z_OK && done < total) {
        size_t chunk = done < hlen ? hlen - done : total - done;
        if (done >= hlen && chunk > sizeof(zeros))
            chunk = sizeof(zeros);
        int flush = done + chunk == total ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = (Bytef *)(done < hlen ? head + done : zeros);
        z.avail_in = (uInt)chunk;
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
        done += chunk;
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

int srv_gzip_bomb(uint8_t **out, size_t *len)
{
    return gzip_zeros(NULL, 0, 64u * 1024 * 1024, out, len);
}

int srv_gzip_nulls(uint8_t **out, size_t *len)
{
    /* A Simple ARRAY (tag 21, u32 byte length) of nulls (tag 0), 10 MiB - 64 in all. */
    const size_t total = 10u * 1024 * 1024 - 64;
    const uint32_t body = (uint32_t)(total - 5);
    const uint8_t head[5] = {21, (uint8_t)(body >> 24), (uint8_t)(body >> 16), (uint8_t)(body >> 8),
                             (uint8_t)body};
    return gzip_zeros(head, sizeof(head), total, out, len);
}
