/*
 * Simple tree decoders on the pull reader: each container's items array is allocated once
 * with the count the reader proved, strings are copied into the arena, duplicate map keys
 * are folded (last wins, first position) in linear time.
 */
#include "codec/codec_int.h"

static int nomem(motan__sreader *r)
{
    return motan__errf(r->errbuf, r->errlen, MOTAN_ENOMEM, "out of memory");
}

static motan_value *scalar(motan__sreader *r, motan_arena *a, const motan__stok *t)
{
    if (t->type == MOTAN_T_BYTES && r->view_min && t->v.s.len >= r->view_min) {
        motan_value *v = motan__value_alloc(a, MOTAN_T_BYTES);
        if (v) { /* a view into the input, which the caller keeps alive (no NUL after it) */
            v->u.s.p = t->v.s.p;
            v->u.s.len = t->v.s.len;
            r->views++;
        }
        return v;
    }
    if (t->type == MOTAN_T_STRING || t->type == MOTAN_T_BYTES)
        return motan__value_data(a, (motan_type)t->type, t->v.s.p, t->v.s.len);
    motan_value *v = motan__value_alloc(a, (motan_type)t->type);
    if (!v)
        return NULL;
    switch (t->type) {
    case MOTAN_T_BOOL:
        v->u.b = t->v.b;
        break;
    case MOTAN_T_BYTE:
        v->u.byte = (uint8_t)t->v.i;
        break;
    case MOTAN_T_INT16:
    case MOTAN_T_INT32:
    case MOTAN_T_INT64:
        v->u.i = t->v.i;
        break;
    case MOTAN_T_FLOAT32:
        v->u.f32 = t->v.f32;
        break;
    case MOTAN_T_FLOAT64:
        v->u.f64 = t->v.f64;
        break;
    default:
        break;
    }
    return v;
}

/* Builds the value that starts with token t (a VALUE or a BEGIN). */
static int build(motan__sreader *r, motan_arena *a, const motan__stok *t, motan_value **out)
{
    if (t->kind == MOTAN__TOK_VALUE) {
        *out = scalar(r, a, t);
        return *out ? MOTAN_OK : nomem(r);
    }
    if (t->kind != MOTAN__TOK_BEGIN)
        return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                           "unexpected end of container at offset %zu", t->offset);
    motan_value *c = motan__container_new(a, (motan_type)t->type, t->count);
    if (!c)
        return nomem(r);
    size_t slots = motan__is_map(t->type) ? 2 * t->count : t->count;
    motan__stok ct;
    for (size_t i = 0; i < slots; i++) {
        int rc = motan__sr_next(r, &ct);
        if (rc == MOTAN_OK)
            rc = build(r, a, &ct, &c->u.c.items[i]);
        if (rc != MOTAN_OK)
            return rc;
    }
    int rc = motan__sr_next(r, &ct);
    if (rc != MOTAN_OK)
        return rc;
    if (ct.kind != MOTAN__TOK_END) /* the reader counted the children: cannot happen */
        return motan__errf(r->errbuf, r->errlen, MOTAN_EDECODE,
                           "container longer than counted at offset %zu", ct.offset);
    c->u.c.count = t->count;
    if (motan__is_map(c->type) && motan__map_dedup(c) != MOTAN_OK)
        return nomem(r);
    *out = c;
    return MOTAN_OK;
}

static int decode_prefix(const uint8_t *data, size_t len, motan_arena *a, size_t view_min,
                         size_t *views, motan_value **out, size_t *consumed, char *errbuf,
                         size_t errlen)
{
    if (!out || !a || (!data && len))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    *out = NULL;
    motan__sreader r;
    motan__stok t;
    motan__sr_init(&r, data, len, errbuf, errlen);
    r.view_min = view_min;
    int rc = motan__sr_next(&r, &t);
    if (rc != MOTAN_OK)
        return rc;
    if (t.kind == MOTAN__TOK_EOF)
        return motan__errf(errbuf, errlen, MOTAN_EDECODE, "no value at offset 0");
    motan_value *v;
    rc = build(&r, a, &t, &v);
    if (views)
        *views = r.views; /* also on failure: views may sit in the arena's discarded nodes */
    if (rc != MOTAN_OK)
        return motan__budget_rc(a, rc, errbuf, errlen);
    *out = v;
    if (consumed)
        *consumed = (size_t)(r.p - r.base);
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_decode_prefix(const uint8_t *data, size_t len, motan_arena *a,
                                            motan_value **out, size_t *consumed, char *errbuf,
                                            size_t errlen)
{
    return decode_prefix(data, len, a, 0, NULL, out, consumed, errbuf, errlen);
}

int motan__simple_decode_views(const uint8_t *data, size_t len, motan_arena *a, size_t view_min,
                               size_t *views, motan_value **out, char *errbuf, size_t errlen)
{
    size_t used = 0;
    *views = 0;
    /* A lone string or bytes value, most answers: no reader, no tree (views and errors go
     * the general way). */
    if (out && a && data && len >= 5 && (data[0] == MOTAN_T_STRING || data[0] == MOTAN_T_BYTES) &&
        motan__get_u32be(data + 1) == len - 5 &&
        !(data[0] == MOTAN_T_BYTES && view_min && len - 5 >= view_min) &&
        (*out = motan__value_data(a, (motan_type)data[0], data + 5, len - 5)) != NULL)
        return MOTAN_OK;
    int rc = decode_prefix(data, len, a, view_min, views, out, &used, errbuf, errlen);
    if (rc != MOTAN_OK)
        return rc;
    if (used != len) {
        *out = NULL;
        return motan__errf(errbuf, errlen, MOTAN_EDECODE,
                           "trailing bytes after value at offset %zu", used);
    }
    return MOTAN_OK;
}

MOTAN_EXPORT int motan_simple_decode(const uint8_t *data, size_t len, motan_arena *a,
                                     motan_value **out, char *errbuf, size_t errlen)
{
    size_t views;
    return motan__simple_decode_views(data, len, a, 0, &views, out, errbuf, errlen);
}

MOTAN_EXPORT int motan_simple_decode_seq(const uint8_t *data, size_t len, motan_arena *a,
                                         motan_value **out, char *errbuf, size_t errlen)
{
    if (!out || !a || (!data && len))
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "invalid argument");
    *out = NULL;
    motan__sreader r;
    motan__stok t;
    size_t n;
    motan__sr_init(&r, data, len, errbuf, errlen);
    int rc = motan__sr_count_seq(&r, &n);
    if (rc != MOTAN_OK)
        return rc;
    motan_value *arr = motan__container_new(a, MOTAN_T_ARRAY, n);
    if (!arr)
        return motan__budget_rc(a, nomem(&r), errbuf, errlen);
    for (size_t i = 0; i < n; i++) {
        rc = motan__sr_next(&r, &t);
        if (rc == MOTAN_OK)
            rc = build(&r, a, &t, &arr->u.c.items[i]);
        if (rc != MOTAN_OK)
            return motan__budget_rc(a, rc, errbuf, errlen);
    }
    arr->u.c.count = n;
    *out = arr;
    return MOTAN_OK;
}
