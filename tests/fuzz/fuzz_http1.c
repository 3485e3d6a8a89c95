/*
 * libFuzzer target for motan-agent's HTTP/1.1 answer parser (tools/motan-agent/http1.c):
 * the input (after its first byte, which picks the piece size) is an answer from a backend,
 * fed all at once and in pieces; both must end the same way, within the body limit, with a
 * printable message on an error. A parsed answer may be followed by the next one (reset).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 65536

typedef struct run {
    int rc[4], status[4];
    size_t body[4];
    char error[200];
} run;

static void parse(const uint8_t *d, size_t n, size_t piece, run *out)
{
    h1_resp r;
    if (h1_resp_init(&r, MAX_BODY) != 0)
        abort();
    struct evbuffer *in = evbuffer_new();
    size_t off = 0;
    int k = 0;
    memset(out, 0, sizeof(*out));
    while (k < 4) {
        int rc = evbuffer_get_length(in) ? h1_resp_parse(&r, in, 0) : H1_MORE;
        while (rc == H1_MORE && off < n) {
            size_t m = piece && piece < n - off ? piece : n - off;
            evbuffer_add(in, d + off, m);
            off += m;
            rc = h1_resp_parse(&r, in, 0);
        }
        if (rc == H1_MORE)
            rc = h1_resp_parse(&r, in, 1);
        if (evbuffer_get_length(r.body) > MAX_BODY)
            abort();
        out->rc[k] = rc;
        out->status[k] = r.status;
        out->body[k] = evbuffer_get_length(r.body);
        k++;
        if (rc != H1_DONE || (evbuffer_get_length(in) == 0 && off == n))
            break;
        h1_resp_reset(&r); /* the next answer on the same connection */
    }
    memcpy(out->error, r.error, sizeof(out->error));
    for (const char *p = out->error; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            abort();
    evbuffer_free(in);
    h1_resp_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = 1 + data[0] % 17;
    run a, b;
    parse(data + 1, size - 1, 0, &a);
    parse(data + 1, size - 1, piece, &b);
    if (memcmp(&a, &b, sizeof(a)))
        abort();
    return 0;
}
