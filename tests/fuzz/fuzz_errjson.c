/*
 * libFuzzer target for M_e, the error JSON of exception responses (§3.3): the input is put
 * in the M_e metadata of a status-1 response frame, which is parsed and turned into a
 * response. Anything must give an error with errtype and a message, never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '\n', size) || size == 0)
        return 0; /* a metadata value cannot hold '\n' */
    motan_buf *b = motan_buf_new(64 + size);
    motan_frame *f = motan_frame_new();
    motan_response *r = motan_response_new();
    size_t mark = 0, used = 0;
    if (!b || !f || !r)
        abort();
    motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 1, 6, 7, &mark);
    if (motan_frame_write_meta(b, mark, "M_e", 3, (const char *)data, size) != MOTAN_OK)
        abort();
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    if (motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, &used, NULL, 0) != MOTAN_OK)
        abort();
    int64_t errcode;
    int errtype;
    const char *msg;
    size_t msglen;
    if (!motan_frame_error(f, &errcode, &errtype, &msg, &msglen))
        abort();
    if (motan_response_set_frame(r, f) != MOTAN_EREMOTE)
        abort();
    if (!motan_response_get_errmsg(r))
        abort();
    motan_response_free(r);
    motan_frame_free(f);
    motan_buf_free(b);
    return 0;
}
