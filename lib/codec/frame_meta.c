/*
 * The metadata block (§2.3), read exactly like Go: segments end at every '\n' and at the end
 * of the block; a segment is a key when no key is pending (an empty one is skipped), else
 * the pending key's value; a key left pending at the end makes the frame malformed.
 * Entries stay in wire order and duplicates are kept; lookups search from the end so that a
 * later duplicate wins without an eager (and, for hostile frames, costly) de-duplication.
 */
#include "codec/codec_int.h"

/* The entry array of a hostile frame is dropped rather than kept at its peak size. */
#define ENTS_KEEP 65536

int motan__meta_check(const char *m, size_t mlen)
{
    const char *p = m, *end = m + mlen;
    int pending = 0;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *seg_end = nl ? nl : end;
        if (pending)
            pending = 0;
        else if (seg_end > p)
            pending = 1;
        if (!nl)
            break;
        p = nl + 1;
    }
    return pending ? MOTAN_EPROTO : MOTAN_OK;
}

static int grow_ents(motan_frame *f)
{
    size_t n = f->cents ? f->cents * 2 : 16;
    if (n > SIZE_MAX / sizeof(motan__meta_ent))
        return MOTAN_ENOMEM;
    motan__meta_ent *e = motan_realloc(f->ents, n * sizeof(*e));
    if (!e)
        return MOTAN_ENOMEM;
    f->ents = e;
    f->cents = n;
    return MOTAN_OK;
}

int motan__frame_split_meta(motan_frame *f, const char *m, size_t mlen, char *errbuf,
                            size_t errlen)
{
    if (f->cents > ENTS_KEEP) {
        motan_free(f->ents);
        f->ents = NULL;
        f->cents = 0;
    }
    f->nents = 0;
    f->meta = m;
    if (mlen == 0)
        return MOTAN_OK;
    const char *p = m, *end = m + mlen;
    int pending = 0;
    uint32_t koff = 0, klen = 0;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *seg_end = nl ? nl : end;
        uint32_t off = (uint32_t)(p - m), len = (uint32_t)(seg_end - p);
        if (pending) {
            if (f->nents == f->cents && grow_ents(f) != MOTAN_OK)
                return motan__errf(errbuf, errlen, MOTAN_ENOMEM, "out of memory for metadata");
            f->ents[f->nents++] = (motan__meta_ent){koff, klen, off, len};
            pending = 0;
        } else if (len) {
            koff = off;
            klen = len;
            pending = 1;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (pending) {
        f->nents = 0;
        return motan__errf(errbuf, errlen, MOTAN_EPROTO, "odd metadata segments");
    }
    return MOTAN_OK;
}

MOTAN_EXPORT size_t motan_frame_meta_count(const motan_frame *f) { return f->nents; }

MOTAN_EXPORT const char *motan_frame_meta_key(const motan_frame *f, size_t i, size_t *len)
{
    if (i >= f->nents)
        return NULL;
    if (len)
        *len = f->ents[i].klen;
    return f->meta + f->ents[i].koff;
}

MOTAN_EXPORT const char *motan_frame_meta_value(const motan_frame *f, size_t i, size_t *len)
{
    if (i >= f->nents)
        return NULL;
    if (len)
        *len = f->ents[i].vlen;
    return f->meta + f->ents[i].voff;
}

MOTAN_EXPORT const char *motan_frame_meta_get(const motan_frame *f, const char *key, size_t klen,
                                              size_t *vlen)
{
    if (!key)
        return NULL;
    for (size_t i = f->nents; i-- > 0;) {
        const motan__meta_ent *e = &f->ents[i];
        if (e->klen == klen && memcmp(f->meta + e->koff, key, klen) == 0) {
            if (vlen)
                *vlen = e->vlen;
            return f->meta + e->voff;
        }
    }
    return NULL;
}
