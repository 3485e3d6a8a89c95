/*
 * Every entry of $MOTAN_VECTORS_DIR/frames.json, read at run time:
 *   both   - building the frame from `expect` gives `hex`, and parsing `hex` gives `expect`;
 *   decode - parsing `hex` gives `expect`;
 *   reject - parsing `hex` fails (MOTAN_EAGAIN for a frame cut short).
 * Each vector is also fed byte by byte through a motan_parser, which must agree.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"

static json_t *vectors;

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int kind_of(const char *name, const char *k)
{
    if (strcmp(k, "request") == 0)
        return MOTAN_FRAME_REQUEST;
    if (strcmp(k, "response") == 0)
        return MOTAN_FRAME_RESPONSE;
    if (strcmp(k, "heartbeat-request") == 0)
        return MOTAN_FRAME_HEARTBEAT_REQUEST;
    if (strcmp(k, "heartbeat-response") == 0)
        return MOTAN_FRAME_HEARTBEAT_RESPONSE;
    ck_abort_msg("%s: unknown kind %s", name, k);
    return -1;
}

/* libmotan's flags for a kind: heartbeats in Go form (§4.1). */
static uint8_t flags_of(int kind)
{
    static const uint8_t f[] = {0x00, 0x01, 0x12, 0x13};
    return f[kind];
}

/* Builds the frame that `expect` describes, metadata in the listed order. */
static motan_buf *build(const char *name, const json_t *e)
{
    motan_buf *b = motan_buf_new(0);
    int kind = kind_of(name, str(e, "kind"));
    uint64_t id = strtoull(str(e, "request_id"), NULL, 10);
    size_t mark;
    ck_assert_msg(motan_frame_write_begin(b, flags_of(kind),
                                          (uint8_t)json_integer_value(json_object_get(e, "status")),
                                          (uint8_t)json_integer_value(json_object_get(e, "serialization")),
                                          id, &mark) == MOTAN_OK,
                  "%s: write_begin", name);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(e, "metadata"), k, v)
    {
        const char *s = json_string_value(v);
        ck_assert_msg(motan_frame_write_meta(b, mark, k, strlen(k), s, strlen(s)) == MOTAN_OK,
                      "%s: write_meta %s", name, k);
    }
    ck_assert_msg(motan_frame_write_body_begin(b, mark) == MOTAN_OK, "%s: body_begin", name);
    uint8_t *body;
    size_t blen;
    ck_assert_msg(tu_hex_decode(str(e, "body"), &body, &blen) == 0, "%s: body hex", name);
    motan_buf_append(b, body, blen);
    free(body);
    ck_assert_msg(motan_frame_write_end(b, mark, 0) == MOTAN_OK, "%s: write_end", name);
    return b;
}

/* The parsed frame f matches `expect` e. */
static void check_expect(const char *name, const motan_frame *f, const json_t *e)
{
    ck_assert_msg((int)motan_frame_get_kind(f) == kind_of(name, str(e, "kind")), "%s: kind", name);
    ck_assert_msg(motan_frame_get_request_id(f) == strtoull(str(e, "request_id"), NULL, 10),
                  "%s: request id", name);
    ck_assert_msg(motan_frame_get_status(f) == json_integer_value(json_object_get(e, "status")),
                  "%s: status", name);
    ck_assert_msg(motan_frame_get_serialization(f) ==
                      json_integer_value(json_object_get(e, "serialization")),
                  "%s: serialization", name);

    /* Metadata as a set, later duplicates winning: every expected key maps to its value... */
    const json_t *meta = json_object_get(e, "metadata");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v)
    {
        size_t vl;
        const char *got = motan_frame_meta_get(f, k, strlen(k), &vl);
        const char *want = json_string_value(v);
        ck_assert_msg(got != NULL, "%s: metadata %s missing", name, k);
        ck_assert_msg(vl == strlen(want) && memcmp(got, want, vl) == 0,
                      "%s: metadata %s = %.*s, want %s", name, k, (int)vl, got, want);
    }
    /* ...and the frame has no other distinct key. */
    size_t distinct = 0, n = motan_frame_meta_count(f);
    for (size_t i = 0; i < n; i++) {
        size_t kl;
        const char *ki = motan_frame_meta_key(f, i, &kl);
        int later = 0;
        for (size_t j = i + 1; j < n && !later; j++) {
            size_t kl2;
            const char *kj = motan_frame_meta_key(f, j, &kl2);
            later = kl == kl2 && memcmp(ki, kj, kl) == 0;
        }
        distinct += !later;
    }
    ck_assert_msg(distinct == json_object_size(meta), "%s: %zu distinct keys, want %zu", name,
                  distinct, json_object_size(meta));

    size_t blen;
    const uint8_t *body = motan_frame_body(f, &blen);
    char *hex = tu_hex_encode(body, blen);
    ck_assert_msg(strcmp(hex, str(e, "body")) == 0, "%s: body %s", name, hex);
    free(hex);

    const json_t *err = json_object_get(e, "error");
    int64_t code;
    int type;
    const char *msg;
    size_t ml;
    int is_err = motan_frame_error(f, &code, &type, &msg, &ml);
    ck_assert_msg(is_err == (err != NULL), "%s: error response %d", name, is_err);
    if (err) {
        ck_assert_msg(code == json_integer_value(json_object_get(err, "errcode")), "%s: errcode %lld",
                      name, (long long)code);
        ck_assert_msg(type == json_integer_value(json_object_get(err, "errtype")), "%s: errtype %d",
                      name, type);
        const char *want = json_string_value(json_object_get(err, "errmsg"));
        if (want)
            ck_assert_msg(ml == strlen(want) && memcmp(msg, want, ml) == 0, "%s: errmsg %.*s",
                          name, (int)ml, msg);
    }
}

/* The error code a reject vector's description calls for; 0 when it names none we know. */
static int expected_reject(const char *error)
{
    if (strstr(error, "truncated"))
        return MOTAN_EAGAIN;
    if (strstr(error, "motan1"))
        return MOTAN_EMOTAN1;
    if (strstr(error, "unsupported version"))
        return MOTAN_EVERSION;
    if (strstr(error, "over") && strstr(error, "limit"))
        return MOTAN_ETOOBIG;
    if (strstr(error, "magic") || strstr(error, "metadata"))
        return MOTAN_EPROTO;
    return 0;
}

/*
 * Byte-by-byte through the incremental parser p: the first result other than EAGAIN
 * (f's views live in p, so p outlives the checks).
 */
static int via_parser(motan_parser *p, const uint8_t *d, size_t n, motan_frame *f)
{
    int rc = MOTAN_EAGAIN;
    for (size_t i = 0; i < n && rc == MOTAN_EAGAIN; i++) {
        motan_parser_feed(p, d + i, 1); /* a feed error is sticky: next reports it */
        rc = motan_parser_next(p, f, NULL, 0);
    }
    return rc;
}

START_TEST(vector)
{
    const json_t *vec = json_array_get(vectors, (size_t)_i);
    const char *name = str(vec, "name"), *mode = str(vec, "mode");
    uint8_t *d;
    size_t n;
    ck_assert_msg(tu_hex_decode(str(vec, "hex"), &d, &n) == 0, "%s: bad hex", name);
    motan_frame *f = motan_frame_new(), *pf = motan_frame_new();
    char err[160] = "";
    size_t consumed = 0;
    int rc = motan_frame_parse(f, d, n, 0, &consumed, err, sizeof(err));
    motan_parser *p = motan_parser_new(0);
    int prc = via_parser(p, d, n, pf);

    if (strcmp(mode, "both") == 0 || strcmp(mode, "decode") == 0) {
        const json_t *e = json_object_get(vec, "expect");
        ck_assert_msg(rc == MOTAN_OK, "%s: parse failed %d (%s)", name, rc, err);
        ck_assert_msg(consumed == n, "%s: consumed %zu of %zu", name, consumed, n);
        check_expect(name, f, e);
        ck_assert_msg(prc == MOTAN_OK, "%s: parser gave %d", name, prc);
        check_expect(name, pf, e);
        ck_assert_msg(motan_parser_buffered(p) == 0, "%s: parser left bytes", name);
        if (strcmp(mode, "both") == 0) {
            motan_buf *b = build(name, e);
            char *hex = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
            ck_assert_msg(strcmp(hex, str(vec, "hex")) == 0, "%s: built %s", name, hex);
            free(hex);
            motan_buf_free(b);
            int kind = kind_of(name, str(e, "kind"));
            if (kind >= MOTAN_FRAME_HEARTBEAT_REQUEST) {
                b = motan_buf_new(0);
                motan_frame_write_heartbeat(b, motan_frame_get_request_id(f),
                                            kind == MOTAN_FRAME_HEARTBEAT_RESPONSE);
                hex = tu_hex_encode(motan_buf_data(b), motan_buf_len(b));
                ck_assert_msg(strcmp(hex, str(vec, "hex")) == 0, "%s: heartbeat %s", name, hex);
                free(hex);
                motan_buf_free(b);
            }
        }
    } else if (strcmp(mode, "reject") == 0) {
        ck_assert_msg(rc != MOTAN_OK, "%s: parsed but must be rejected", name);
        int want = expected_reject(str(vec, "error"));
        if (want)
            ck_assert_msg(rc == want, "%s: got %s (%s), want %s", name, motan_errname(rc), err,
                          motan_errname(want));
        else
            ck_assert_msg(rc != MOTAN_EAGAIN, "%s: incomplete instead of rejected", name);
        if (rc == MOTAN_EAGAIN)
            ck_assert_msg(consumed > n, "%s: needs %zu of %zu", name, consumed, n);
        ck_assert_msg(prc == rc, "%s: parser gave %s, parse %s", name, motan_errname(prc),
                      motan_errname(rc));
        ck_assert_msg(motan_parser_buffered(p) <= n, "%s: parser buffered %zu", name,
                      motan_parser_buffered(p));
    } else {
        ck_abort_msg("%s: unknown mode %s", name, mode);
    }
    motan_parser_free(p);
    motan_frame_free(pf);
    motan_frame_free(f);
    free(d);
}
END_TEST

int main(void)
{
    vectors = tu_load_vectors("frames.json");
    int n = (int)json_array_size(vectors);
    Suite *s = suite_create("conformance_frames");
    TCase *t = tcase_create("frames.json");
    tcase_add_loop_test(t, vector, 0, n);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    json_decref(vectors);
    fprintf(stderr, "frames.json: %d vectors\n", n);
    return failed || n == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
