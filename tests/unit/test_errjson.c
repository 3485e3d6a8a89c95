/* M_e (§3.3): tolerant reading of every server's form, Go-exact writing. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "../support/lib/testutil.h"
#include "codec/codec_int.h"

/* An error response (status 1) with the given metadata block, parsed into f. */
static void parse_err_frame(motan_frame *f, const char *meta, size_t mlen, motan_buf *b)
{
    size_t mark;
    motan_buf_reset(b);
    motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 1, 6, 16, &mark);
    motan_buf_append(b, meta, mlen);
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
}

static const struct {
    const char *name;
    const char *mE; /* M_e value; NULL: no M_e at all */
    int64_t code;
    int type;
    const char *msg;
    size_t msglen; /* 0: strlen(msg) */
} cases[] = {
    {"go", "{\"errcode\":500,\"errmsg\":\"boom\",\"errtype\":1}", 500, 1, "boom", 0},
    {"go_html_escapes", "{\"errcode\":404,\"errmsg\":\"a\\u003cb \\u0026 \\\"c\\\"\",\"errtype\":2}",
     404, 2, "a<b & \"c\"", 0},
    {"java_order", "{\"errcode\":10001,\"errtype\":1,\"errmsg\":\"boom\"}", 10001, 1, "boom", 0},
    {"lua_slash", "{\"errmsg\":\"path\\/to\",\"errtype\":1,\"errcode\":1}", 1, 1, "path/to", 0},
    {"missing_errmsg", "{\"errcode\":10001,\"errtype\":1}", 10001, 1, "", 0},
    {"null_errmsg", "{\"errcode\":7,\"errmsg\":null,\"errtype\":0}", 7, 0, "", 0},
    {"unknown_members", "{\"x\":[1,{\"y\":2}],\"errcode\":3,\"errmsg\":\"m\",\"z\":\"q\",\"errtype\":0}",
     3, 0, "m", 0},
    {"unicode", "{\"errcode\":1,\"errmsg\":\"\\u4e2d\\ud83d\\ude00\\n\",\"errtype\":2}", 1, 2,
     "\xe4\xb8\xad\xf0\x9f\x98\x80\n", 0},
    {"nul_in_msg", "{\"errcode\":1,\"errmsg\":\"a\\u0000b\",\"errtype\":1}", 1, 1, "a\0b", 3},
    {"real_code", "{\"errcode\":500.0,\"errmsg\":\"r\",\"errtype\":2.0}", 500, 2, "r", 0},
    {"string_code", "{\"errcode\":\"503\",\"errmsg\":\"s\",\"errtype\":\"2\"}", 503, 2, "s", 0},
    {"negative_code", "{\"errcode\":-5,\"errmsg\":\"n\",\"errtype\":1}", -5, 1, "n", 0},
    {"big_code", "{\"errcode\":9223372036854775807,\"errmsg\":\"\",\"errtype\":1}", INT64_MAX, 1,
     "", 0},
    {"fraction_code", "{\"errcode\":1.5,\"errmsg\":\"f\",\"errtype\":1}", 0, 1, "f", 0},
    {"bad_string_code", "{\"errcode\":\"5x\",\"errmsg\":\"f\",\"errtype\":\"x\"}", 0, 1, "f", 0},
    {"missing_all", "{}", 0, 1, "", 0},
    {"nonstring_msg", "{\"errcode\":1,\"errmsg\":{\"a\":1},\"errtype\":1}", 1, 1, "{\"a\":1}", 0},
    {"whitespace", " { \"errcode\" : 2 , \"errmsg\" : \"w\" , \"errtype\" : 1 } ", 2, 1, "w", 0},
    /* Unparsable: errcode 0, errtype 1, the raw text. */
    {"not_json", "boom", 0, 1, "boom", 0},
    {"truncated_json", "{\"errcode\":500,\"errmsg\":\"bo", 0, 1, "{\"errcode\":500,\"errmsg\":\"bo", 0},
    {"array", "[1,2]", 0, 1, "[1,2]", 0},
    {"trailing_garbage", "{\"errcode\":1}x", 0, 1, "{\"errcode\":1}x", 0},
    {"bad_utf8", "{\"errcode\":1,\"errmsg\":\"\xff\"}", 0, 1, "{\"errcode\":1,\"errmsg\":\"\xff\"}", 0},
    {"missing_me", NULL, 0, 1, "no error details", 0},
};

START_TEST(read_variants)
{
    motan_frame *f = motan_frame_new();
    motan_buf *b = motan_buf_new(0), *m = motan_buf_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        motan_buf_reset(m);
        motan_buf_append(m, "M_pt\n3", 6);
        if (cases[i].mE) {
            motan_buf_append(m, "\nM_e\n", 5);
            motan_buf_append(m, cases[i].mE, strlen(cases[i].mE));
        }
        parse_err_frame(f, (const char *)motan_buf_data(m), motan_buf_len(m), b);
        int64_t code = -99;
        int type = -99;
        const char *msg = NULL;
        size_t ml = 99;
        ck_assert_msg(motan_frame_error(f, &code, &type, &msg, &ml) == 1, "%s", cases[i].name);
        size_t want = cases[i].msglen ? cases[i].msglen : strlen(cases[i].msg);
        ck_assert_msg(code == cases[i].code, "%s: code %lld", cases[i].name, (long long)code);
        ck_assert_msg(type == cases[i].type, "%s: type %d", cases[i].name, type);
        ck_assert_msg(ml == want && memcmp(msg, cases[i].msg, want) == 0, "%s: msg %.*s",
                      cases[i].name, (int)ml, msg);
    }
    motan_buf_free(m);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(read_duplicate_and_empty_me)
{
    motan_frame *f = motan_frame_new();
    motan_buf *b = motan_buf_new(0);
    const char *m = "M_e\n{\"errcode\":1}\nM_e\n{\"errcode\":2,\"errmsg\":\"second\"}";
    parse_err_frame(f, m, strlen(m), b);
    int64_t code;
    int type;
    const char *msg;
    size_t ml;
    ck_assert_int_eq(motan_frame_error(f, &code, &type, &msg, &ml), 1);
    ck_assert_int_eq(code, 2);
    ck_assert_mem_eq(msg, "second", ml);
    /* An empty M_e value counts as missing. */
    parse_err_frame(f, "M_e\n", 4, b);
    ck_assert_int_eq(motan_frame_error(f, &code, &type, &msg, &ml), 1);
    ck_assert_int_eq(code, 0);
    ck_assert_int_eq(type, 1);
    ck_assert_mem_eq(msg, "no error details", ml);
    /* NULL outputs are allowed. */
    ck_assert_int_eq(motan_frame_error(f, NULL, NULL, NULL, NULL), 1);
    ck_assert_int_eq(motan_frame_error(NULL, NULL, NULL, NULL, NULL), 0);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

START_TEST(read_no_alloc_for_success_frames)
{
    /* A status-0 response carrying an M_e is not an error and is not parsed. */
    motan_frame *f = motan_frame_new();
    motan_buf *b = motan_buf_new(0);
    size_t mark;
    motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 0, 6, 16, &mark);
    motan_frame_write_meta(b, mark, "M_e", 3, "{}", 2);
    motan_frame_write_body_begin(b, mark);
    motan_frame_write_end(b, mark, 0);
    ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                     MOTAN_OK);
    ck_assert_int_eq(motan_frame_error(f, NULL, NULL, NULL, NULL), 0);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

static char *write_json(int64_t code, int type, const char *msg, size_t len)
{
    motan_buf *b = motan_buf_new(0);
    ck_assert_int_eq(motan__errjson_write(b, code, type, msg, len), MOTAN_OK);
    ck_assert_uint_le(motan_buf_len(b), motan__errjson_bound(len));
    ck_assert_ptr_null(memchr(motan_buf_data(b), '\n', motan_buf_len(b)));
    char *s = strndup((const char *)motan_buf_data(b), motan_buf_len(b));
    motan_buf_free(b);
    return s;
}

START_TEST(write_go_bytes)
{
    static const struct {
        const char *msg;
        size_t len;
        const char *json;
    } w[] = {
        {"boom", 4, "{\"errcode\":500,\"errmsg\":\"boom\",\"errtype\":1}"},
        {"", 0, "{\"errcode\":500,\"errmsg\":\"\",\"errtype\":1}"},
        {"a<b & \"c\"", 9, "{\"errcode\":500,\"errmsg\":\"a\\u003cb \\u0026 \\\"c\\\"\",\"errtype\":1}"},
        {"x>y\\z", 5, "{\"errcode\":500,\"errmsg\":\"x\\u003ey\\\\z\",\"errtype\":1}"},
        {"\n\r\t\b\f\x01\x1f\x7f/", 9,
         "{\"errcode\":500,\"errmsg\":\"\\n\\r\\t\\u0008\\u000c\\u0001\\u001f\x7f/\",\"errtype\":1}"},
        {"\0", 1, "{\"errcode\":500,\"errmsg\":\"\\u0000\",\"errtype\":1}"},
        {"\xe4\xb8\xad\xf0\x9f\x98\x80", 7,
         "{\"errcode\":500,\"errmsg\":\"\xe4\xb8\xad\xf0\x9f\x98\x80\",\"errtype\":1}"},
        {"\xe2\x80\xa8\xe2\x80\xa9", 6, "{\"errcode\":500,\"errmsg\":\"\\u2028\\u2029\",\"errtype\":1}"},
        /* Invalid UTF-8: every bad byte becomes U+FFFD, like Go. */
        {"\xff", 1, "{\"errcode\":500,\"errmsg\":\"\\ufffd\",\"errtype\":1}"},
        {"\xc0\x80", 2, "{\"errcode\":500,\"errmsg\":\"\\ufffd\\ufffd\",\"errtype\":1}"},
        {"\xed\xa0\x80", 3, "{\"errcode\":500,\"errmsg\":\"\\ufffd\\ufffd\\ufffd\",\"errtype\":1}"},
        {"a\xe4\xb8", 3, "{\"errcode\":500,\"errmsg\":\"a\\ufffd\\ufffd\",\"errtype\":1}"},
        {"\xf4\x90\x80\x80", 4,
         "{\"errcode\":500,\"errmsg\":\"\\ufffd\\ufffd\\ufffd\\ufffd\",\"errtype\":1}"},
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        char *s = write_json(500, 1, w[i].msg, w[i].len);
        ck_assert_msg(strcmp(s, w[i].json) == 0, "case %zu: %s", i, s);
        free(s);
    }
    char *s = write_json(INT64_MIN, -2147483647 - 1, "", 0);
    ck_assert_str_eq(s, "{\"errcode\":-9223372036854775808,\"errmsg\":\"\",\"errtype\":-2147483648}");
    free(s);
    /* Worst case expansion stays within the bound. */
    char worst[300];
    memset(worst, 1, sizeof(worst));
    s = write_json(INT64_MIN, -2147483647 - 1, worst, sizeof(worst));
    free(s);
}
END_TEST

START_TEST(write_read_round_trip)
{
    motan_frame *f = motan_frame_new();
    motan_buf *b = motan_buf_new(0);
    const char *msgs[] = {"plain", "<html>&amp;</html>", "tab\tnl\nquote\"bs\\", "\xe4\xb8\xad/x",
                          "\x01\x02\x7f"};
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        size_t mark;
        motan_buf_reset(b);
        motan_frame_write_begin(b, MOTAN_FLAG_RESPONSE, 1, 6, 1, &mark);
        motan_frame_write_meta(b, mark, "M_pt", 4, "0", 1);
        ck_assert_int_eq(motan_frame_write_error_meta(b, mark, 30001 + (int64_t)i, 2, msgs[i],
                                                      strlen(msgs[i])),
                         MOTAN_OK);
        motan_frame_write_body_begin(b, mark);
        motan_frame_write_end(b, mark, 0);
        ck_assert_int_eq(motan_frame_parse(f, motan_buf_data(b), motan_buf_len(b), 0, NULL, NULL, 0),
                         MOTAN_OK);
        ck_assert_uint_eq(motan_frame_meta_count(f), 2);
        int64_t code;
        int type;
        const char *msg;
        size_t ml;
        ck_assert_int_eq(motan_frame_error(f, &code, &type, &msg, &ml), 1);
        ck_assert_int_eq(code, 30001 + (int64_t)i);
        ck_assert_int_eq(type, 2);
        ck_assert_uint_eq(ml, strlen(msgs[i]));
        ck_assert_mem_eq(msg, msgs[i], ml);
    }
    /* Bad marks are refused. */
    ck_assert_int_eq(motan_frame_write_error_meta(b, motan_buf_len(b), 1, 1, "x", 1), MOTAN_EINVAL);
    motan_buf_free(b);
    motan_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("errjson");
    TCase *t = tcase_create("errjson");
    tcase_add_test(t, read_variants);
    tcase_add_test(t, read_duplicate_and_empty_me);
    tcase_add_test(t, read_no_alloc_for_success_frames);
    tcase_add_test(t, write_go_bytes);
    tcase_add_test(t, write_read_round_trip);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
