/* Growable byte buffer: doubling growth, capacity kept across resets. */
#include "core/core_int.h"

MOTAN_EXPORT motan_buf *motan_buf_new(size_t initial)
{
    motan_buf *b = motan__calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (initial && motan__buf_grow(b, initial) != MOTAN_OK) {
        motan_free(b);
        return NULL;
    }
    return b;
}

MOTAN_EXPORT void motan_buf_free(motan_buf *b)
{
    if (!b)
        return;
    motan_free(b->data);
    motan_free(b);
}

int motan__buf_grow(motan_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return MOTAN_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return MOTAN_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *d = motan_realloc(b->data, cap);
    if (!d)
        return MOTAN_ENOMEM;
    b->data = d;
    b->cap = cap;
    return MOTAN_OK;
}

MOTAN_EXPORT const uint8_t *motan_buf_data(const motan_buf *b) { return b->data; }

MOTAN_EXPORT size_t motan_buf_len(const motan_buf *b) { return b->len; }

MOTAN_EXPORT void motan_buf_reset(motan_buf *b) { b->len = 0; }

MOTAN_EXPORT int motan_buf_reserve(motan_buf *b, size_t extra) { return motan__buf_ensure(b, extra); }

MOTAN_EXPORT int motan_buf_append(motan_buf *b, const void *data, size_t len)
{
    int rc = motan__buf_ensure(b, len);
    if (rc != MOTAN_OK)
        return rc;
    motan__buf_put(b, data, len);
    return MOTAN_OK;
}

MOTAN_EXPORT void motan_buf_truncate(motan_buf *b, size_t len)
{
    if (len < b->len)
        b->len = len;
}
