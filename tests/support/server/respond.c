/*
 * Answers: the normal and error responses through the layer's replies, every fault form as
 * raw bytes built with the codec's frame writer (written as the reply's answer, in order
 * with the connection's other answers), and heartbeat answers in each --heartbeat style.
 * A failed build (out of memory) sends nothing half-made: the reply is dropped instead.
 */
#include <stdio.h>
#include <string.h>

#include "srv.h"

#define ENDLESS_META_SIZE 10485760u

/* Appends that remember the first failure. */
typedef struct wr {
    motan_buf *b;
    int rc;
} wr;

static void put(wr *w, const void *p, size_t n)
{
    if (!w->rc)
        w->rc = motan_buf_append(w->b, p, n);
}

static void put_u32(wr *w, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, p, 4);
}

/* A raw 13-byte header, for the shapes the codec's writer would not produce. */
static void put_header(wr *w, uint8_t type, uint8_t verstat, uint8_t serbyte, uint64_t id)
{
    uint8_t h[13] = {0xf1, 0xf1, type, verstat, serbyte};
    for (int i = 0; i < 8; i++)
        h[5 + i] = (uint8_t)(id >> (56 - 8 * i));
    put(w, h, sizeof(h));
}

static int fmt_pt(const srv_answer *a, char *buf, size_t len)
{
    uint64_t now = motan_now_us();
    uint64_t ms = now > a->recv_us ? (now - a->recv_us) / 1000 : 0;
    return snprintf(buf, len, "%llu", (unsigned long long)ms);
}

/* The answer as a well-formed frame: M_pt, X-Server, X-Serialization, extra X-Meta-i, M_e on errors. */
static void put_frame(srv_server *s, wr *w, const srv_answer *a, uint64_t id, size_t mingz,
                      uint32_t extra)
{
    size_t mark;
    char pt[24], k[32], v[32];
    int ptlen = fmt_pt(a, pt, sizeof(pt));
    if (w->rc)
        return;
    int rc = motan_frame_write_begin(w->b, MOTAN_FLAG_RESPONSE, a->is_error ? 1 : 0,
                                     (uint8_t)a->ser, id, &mark);
    if (!rc)
        rc = motan_frame_write_meta(w->b, mark, "M_pt", 4, pt, (size_t)ptlen);
    if (!rc)
        rc = motan_frame_write_meta(w->b, mark, "X-Server", 8, s->name, s->name_len);
    if (!rc) { /* which serialization the server saw and answered in */
        const char *ser = motan_serialization_name(a->ser);
        rc = motan_frame_write_meta(w->b, mark, "X-Serialization", 15, ser, strlen(ser));
    }
    for (uint32_t i = 0; !rc && i < extra; i++) {
        int kl = snprintf(k, sizeof(k), "X-Meta-%u", (unsigned)i);
        int vl = snprintf(v, sizeof(v), "v%u", (unsigned)i);
        rc = motan_frame_write_meta(w->b, mark, k, (size_t)kl, v, (size_t)vl);
    }
    if (!rc && a->is_error)
        rc = motan_frame_write_error_meta(w->b, mark, a->errcode, a->errtype, a->errmsg,
                                          a->errmsg_len);
    if (!rc)
        rc = motan_frame_write_body_begin(w->b, mark);
    if (!rc && !a->is_error) {
        char err[256] = "", text[300];
        rc = motan_serialize_value(a->ser, a->result, w->b, err, sizeof(err));
        if (rc != MOTAN_OK && rc != MOTAN_ENOMEM) {
            /* As the layer answers it: a 500 in the same shape. */
            motan_buf_truncate(w->b, mark);
            srv_answer e = *a;
            int n = snprintf(text, sizeof(text), "serialize fail: %s", err[0] ? err : motan_strerror(rc));
            e.is_error = 1;
            e.errcode = 500;
            e.errtype = 1;
            e.errmsg = text;
            e.errmsg_len = (size_t)n;
            put_frame(s, w, &e, id, mingz, extra);
            return;
        }
    }
    if (!rc)
        rc = motan_frame_write_end(w->b, mark, mingz);
    w->rc = rc;
}

static void put_garbage(srv_server *s, wr *w)
{
    uint8_t g[64];
    for (size_t i = 0; i < sizeof(g); i += 8) {
        uint64_t r = srv_rand(s);
        memcpy(g + i, &r, 8);
    }
    g[0] = 0xba; /* never the f1f1 magic */
    g[1] = 0xad;
    put(w, g, sizeof(g));
}

static void put_error_go(wr *w, uint64_t id)
{
    static const char msg[] = "injected error";
    size_t mark;
    if (w->rc)
        return;
    int rc = motan_frame_write_begin(w->b, MOTAN_FLAG_RESPONSE, 1, MOTAN_SER_SIMPLE, id, &mark);
    if (!rc)
        rc = motan_frame_write_error_meta(w->b, mark, 500, 1, msg, sizeof(msg) - 1);
    if (!rc)
        rc = motan_frame_write_body_begin(w->b, mark);
    if (!rc)
        rc = motan_frame_write_end(w->b, mark, 0);
    w->rc = rc;
}

static void put_error_java(wr *w, const srv_answer *a)
{
    static const char e[] = "{\"errcode\":10001,\"errtype\":1,\"errmsg\":\"injected error\"}";
    char pt[24];
    int ptlen = fmt_pt(a, pt, sizeof(pt));
    size_t mark;
    if (w->rc)
        return;
    int rc = motan_frame_write_begin(w->b, MOTAN_FLAG_RESPONSE, 1, MOTAN_SER_HESSIAN2, a->id,
                                     &mark);
    if (!rc)
        rc = motan_frame_write_meta(w->b, mark, "M_pt", 4, pt, (size_t)ptlen);
    if (!rc)
        rc = motan_frame_write_meta(w->b, mark, "M_e", 3, e, sizeof(e) - 1);
    if (!rc)
        rc = motan_frame_write_body_begin(w->b, mark);
    if (!rc)
        rc = motan_frame_write_end(w->b, mark, 0);
    w->rc = rc;
}

/* An answer (gzip bit, M_pt, X-Server) with a prebuilt gzipped body. */
static void put_gzipped(srv_server *s, wr *w, const srv_answer *a, const uint8_t *body, size_t len)
{
    char pt[24];
    int ptlen = fmt_pt(a, pt, sizeof(pt));
    put_header(w, MOTAN_FLAG_RESPONSE | MOTAN_FLAG_GZIP, 0x08, (uint8_t)(a->ser << 3), a->id);
    put_u32(w, (uint32_t)(4 + 1 + (size_t)ptlen + 1 + 8 + 1 + s->name_len));
    put(w, "M_pt\n", 5);
    put(w, pt, (size_t)ptlen);
    put(w, "\nX-Server\n", 10);
    put(w, s->name, s->name_len);
    put_u32(w, (uint32_t)len);
    put(w, body, len);
}

static void put_gzip_bomb(srv_server *s, wr *w, const srv_answer *a, int nulls)
{
    uint8_t **body = nulls ? &s->nulls : &s->bomb;
    size_t *len = nulls ? &s->nulls_len : &s->bomb_len;
    if (!*body && (nulls ? srv_gzip_nulls(body, len) : srv_gzip_bomb(body, len))) {
        w->rc = MOTAN_ENOMEM;
        return;
    }
    put_gzipped(s, w, a, *body, *len);
}

/* Go's motan1 heartbeat request (spec §7), the id at offsets 4 and 20. */
static void put_motan1(wr *w, uint64_t id)
{
    static const char cls[] = "com.weibo.api.motan.rpc.heartbeat";
    uint8_t idb[8];
    for (int i = 0; i < 8; i++)
        idb[i] = (uint8_t)(id >> (56 - 8 * i));
    put(w, "\xf1\xf1\x00\x00", 4);
    put(w, idb, 8);
    put_u32(w, 0x4e);
    put(w, "\xf0\xf0\x01\x00", 4);
    put(w, idb, 8);
    put_u32(w, 0x3e);
    /* Java object stream: block data of 0x38 bytes with the three UTF strings and 0 args. */
    put(w, "\xac\xed\x00\x05\x77\x38\x00\x21", 8);
    put(w, cls, sizeof(cls) - 1);
    put(w, "\x00\x09" "heartbeat" "\x00\x04" "void" "\x00\x00\x00\x00", 2 + 9 + 2 + 4 + 4);
}

/* The normal answer with version 2 in byte 3: built aside, then its header replaced. */
static void put_version2(srv_server *s, wr *w, const srv_answer *a)
{
    wr t = {s->tmp2, 0};
    motan_buf_reset(s->tmp2);
    put_frame(s, &t, a, a->id, 0, 0);
    if (t.rc) {
        w->rc = t.rc;
        return;
    }
    const uint8_t *p = motan_buf_data(s->tmp2);
    put_header(w, p[2], (uint8_t)(2 << 3 | (p[3] & 7)), p[4], a->id);
    put(w, p + 13, motan_buf_len(s->tmp2) - 13);
}

/* The built bytes in s->tmp as the whole answer; 1 when sent (0: dropped, nothing built). */
static int send_tmp(srv_server *s, motan_reply *reply, const wr *w)
{
    if (w->rc) {
        srv_log(s, "cannot build an answer (%s); dropped", motan_errname(w->rc));
        motan_reply_drop(reply);
        return 0;
    }
    motan_reply_write(reply, motan_buf_data(s->tmp), motan_buf_len(s->tmp));
    motan_reply_end(reply);
    return 1;
}

/* The normal path: the layer writes M_pt, then X-Server and X-Serialization, then M_e. */
static void answer_normally(srv_server *s, motan_reply *reply, const srv_answer *a)
{
    const char *ser = motan_serialization_name(a->ser);
    motan_reply_set_meta(reply, "X-Server", 8, s->name, s->name_len);
    motan_reply_set_meta(reply, "X-Serialization", 15, ser, strlen(ser));
    if (a->is_error)
        motan_reply_error(reply, a->errcode, a->errtype, a->errmsg, a->errmsg_len);
    else
        motan_reply_send(reply, a->result);
}

void srv_respond(srv_server *s, motan_reply *reply, const srv_answer *a)
{
    motan_buf_reset(s->tmp);
    wr w = {s->tmp, 0};
    int counted = 1;
    switch (a->fault.kind) {
    case SRV_F_CLOSE:
    case SRV_F_RESET:
        motan_reply_close(reply, a->fault.kind == SRV_F_RESET);
        return;
    case SRV_F_NOREPLY:
        motan_reply_discard(reply);
        return;
    case SRV_F_GARBAGE:
        put_garbage(s, &w);
        counted = 0;
        break;
    case SRV_F_CLOSE_MID:
        put_frame(s, &w, a, a->id, 0, 0);
        if (w.rc)
            break;
        motan_reply_write(reply, motan_buf_data(s->tmp), motan_buf_len(s->tmp) / 2);
        motan_reply_close(reply, 0);
        s->served++;
        return;
    case SRV_F_WRONG_ID:
        put_frame(s, &w, a, a->id ^ 0x8000000000000000ULL, 0, 0);
        break;
    case SRV_F_DUPLICATE:
        put_frame(s, &w, a, a->id, 0, 0);
        put_frame(s, &w, a, a->id, 0, 0);
        break;
    case SRV_F_OVERSIZE:
        put_header(&w, MOTAN_FLAG_RESPONSE, 0x08, (uint8_t)(a->ser << 3), a->id);
        put_u32(&w, 0);
        put_u32(&w, 0xffffffffu);
        break;
    case SRV_F_OVERSIZE_META:
        put_header(&w, MOTAN_FLAG_RESPONSE, 0x08, (uint8_t)(a->ser << 3), a->id);
        put_u32(&w, 0xffffffffu);
        break;
    case SRV_F_BYTEWISE:
        put_frame(s, &w, a, a->id, 0, 0);
        if (w.rc)
            break;
        srv_trickle_bytes(s, reply, motan_buf_data(s->tmp), motan_buf_len(s->tmp));
        s->served++;
        return;
    case SRV_F_ERROR_GO:
        put_error_go(&w, a->id);
        break;
    case SRV_F_ERROR_JAVA:
        put_error_java(&w, a);
        break;
    case SRV_F_GZIP:
        put_frame(s, &w, a, a->id, 1, 0);
        break;
    case SRV_F_GZIP_BOMB:
        put_gzip_bomb(s, &w, a, 0);
        break;
    case SRV_F_GZIP_NULLS:
        put_gzip_bomb(s, &w, a, 1);
        break;
    case SRV_F_MANY_META:
        put_frame(s, &w, a, a->id, 0, a->fault.n);
        break;
    case SRV_F_ENDLESS_META:
        put_header(&w, MOTAN_FLAG_RESPONSE, 0x08, (uint8_t)(a->ser << 3), a->id);
        put_u32(&w, ENDLESS_META_SIZE);
        if (w.rc)
            break;
        motan_reply_write(reply, motan_buf_data(s->tmp), motan_buf_len(s->tmp));
        srv_trickle_endless(s, reply);
        s->served++;
        return;
    case SRV_F_HB_STORM:
        for (uint32_t i = 0; i < a->fault.n && !w.rc; i++) {
            w.rc = motan_frame_write_heartbeat(s->tmp, 0xFEED000000000000ULL | i, 1);
            if (!w.rc)
                w.rc = motan_frame_write_heartbeat(s->tmp, 0xFEEE000000000000ULL | i, 0);
        }
        put_frame(s, &w, a, a->id, 0, 0);
        break;
    case SRV_F_MOTAN1:
        put_motan1(&w, a->id);
        break;
    case SRV_F_VERSION2:
        put_version2(s, &w, a);
        break;
    case SRV_F_NONE:
    case SRV_F_DELAY:
        answer_normally(s, reply, a);
        s->served++;
        return;
    }
    if (send_tmp(s, reply, &w) && counted)
        s->served++;
}

void srv_on_heartbeat(const motan_server_request *req, motan_reply *reply, void *userdata)
{
    srv_server *s = userdata;
    uint64_t id = motan_server_request_id(req);
    motan_buf_reset(s->tmp);
    wr w = {s->tmp, 0};
    switch (s->opt.hb) {
    case SRV_HB_GO:
        w.rc = motan_frame_write_heartbeat(s->tmp, id, 1);
        break;
    case SRV_HB_JAVA:
        put_header(&w, MOTAN_FLAG_RESPONSE | MOTAN_FLAG_HEARTBEAT, 0x08, 0x08, id);
        put_u32(&w, 0);
        put_u32(&w, 0);
        break;
    case SRV_HB_LUA: {
        /* Lua echoes the request's metadata, every entry as k\nv\n (trailing newline). */
        size_t n = motan_server_request_meta_count(req), total = 0;
        for (size_t i = 0; i < n; i++) {
            size_t kl, vl;
            motan_server_request_meta_key(req, i, &kl);
            motan_server_request_meta_value(req, i, &vl);
            total += kl + vl + 2;
        }
        put_header(&w, MOTAN_FLAG_RESPONSE | MOTAN_FLAG_HEARTBEAT, 0x08, 0x30, id);
        put_u32(&w, (uint32_t)total);
        for (size_t i = 0; i < n; i++) {
            size_t kl, vl;
            const char *k = motan_server_request_meta_key(req, i, &kl);
            const char *v = motan_server_request_meta_value(req, i, &vl);
            put(&w, k, kl);
            put(&w, "\n", 1);
            put(&w, v, vl);
            put(&w, "\n", 1);
        }
        put_u32(&w, 0);
        break;
    }
    case SRV_HB_NONE:
        motan_reply_discard(reply);
        return;
    case SRV_HB_CLOSE:
        motan_reply_close(reply, 0);
        return;
    }
    send_tmp(s, reply, &w);
}
