/*
 * libFuzzer target: the motan2 frame parser, incremental and one-shot, plus everything
 * that reads a parsed frame (M_e, responses). The whole input is the byte stream; its first
 * bytes also seed the chunk sizes, so the seeds (whole frames) stay meaningful.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void inspect(motan_frame *f, motan_response *r)
{
    int64_t code;
    int type;
    const char *msg;
    size_t ml, n = motan_frame_meta_count(f);
    if (motan_frame_error(f, &code, &type, &msg, &ml) && ml)
        (void)msg[ml - 1];
    for (size_t i = 0; i < n; i++) {
        size_t kl, vl;
        const char *k = motan_frame_meta_key(f, i, &kl);
        const char *v = motan_frame_meta_get(f, k, kl, &vl);
        if (!v)
            __builtin_trap(); /* a key of the frame must be found */
    }
    size_t bl;
    const uint8_t *b = motan_frame_body(f, &bl);
    if (bl)
        (void)b[bl - 1];
    motan_response_set_frame(r, f);
    (void)motan_response_get_value(r);
    (void)strlen(motan_response_get_errmsg(r));
    for (size_t i = 0; i < motan_response_meta_count(r); i++)
        (void)strlen(motan_response_meta_value(r, i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < size && i < 8; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    if (!seed)
        seed = 1;

    motan_parser *p = motan_parser_new(1 << 20);
    motan_frame *f = motan_frame_new();
    motan_response *r = motan_response_new();
    if (!p || !f || !r)
        goto out;

    size_t pos = 0;
    int failed = 0;
    while (pos < size && !failed) {
        uint64_t x = next_rand(&seed);
        size_t n = x % 4 == 0 ? (size_t)(x >> 8) % 64 + 1 : (size_t)(x >> 8) % 4096 + 1;
        if (n > size - pos)
            n = size - pos;
        failed = motan_parser_feed(p, data + pos, n) != MOTAN_OK;
        pos += n;
        int rc;
        char err[128];
        while ((rc = motan_parser_next(p, f, err, sizeof(err))) == MOTAN_OK)
            inspect(f, r);
        if (rc != MOTAN_EAGAIN)
            failed = 1;
    }
    (void)motan_parser_buffered(p);

    /* The one-shot parser on the whole input agrees on the first frame's fate. */
    size_t consumed;
    if (motan_frame_parse(f, data, size, 1 << 20, &consumed, NULL, 0) == MOTAN_OK) {
        if (consumed > size)
            __builtin_trap();
        inspect(f, r);
    }
out:
    motan_response_free(r);
    motan_frame_free(f);
    motan_parser_free(p);
    return 0;
}
