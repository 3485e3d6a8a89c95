/*
 * motan-agent's HTTP/1.1 answer parser (tools/motan-agent/http1.c) on its own: framings
 * (Content-Length, chunked with extensions and trailers, the end of the connection, no body),
 * keep-alive decisions, interim answers, every limit and malformation with its message,
 * answers fed in every split and byte by byte, and mutated answers in random pieces (the
 * result never depends on how the bytes arrive; the messages are printable).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "agent.h"
#include "testutil.h"

#define MAX_BODY 4096

typedef struct outcome {
    int rc;
    int status, keep_alive;
    char body[MAX_BODY + 1];
    size_t body_len, left; /* bytes of input after the answer */
    char error[200];
} outcome;

/* Feeds text[0..n) in pieces of the given sizes (cycled, 0: all at once); eof at the end. */
static void feed(const char *text, size_t n, const size_t *sizes, size_t nsizes, int eof, outcome *o)
{
    h1_resp r;
    ck_assert_int_eq(h1_resp_init(&r, MAX_BODY), 0);
    struct evbuffer *in = evbuffer_new();
    size_t off = 0, k = 0;
    int rc = H1_MORE;
    while (off < n && rc == H1_MORE) {
        size_t piece = nsizes && sizes[k % nsizes] ? sizes[k % nsizes] : n - off;
        k++;
        if (piece > n - off)
            piece = n - off;
        evbuffer_add(in, text + off, piece);
        off += piece;
        rc = h1_resp_parse(&r, in, 0);
    }
    if (rc == H1_MORE && eof)
        rc = h1_resp_parse(&r, in, 1);
    memset(o, 0, sizeof(*o));
    o->rc = rc;
    o->status = r.status;
    o->keep_alive = r.keep_alive;
    o->body_len = evbuffer_get_length(r.body);
    ck_assert_uint_le(o->body_len, MAX_BODY);
    evbuffer_copyout(r.body, o->body, o->body_len);
    o->left = evbuffer_get_length(in) + (n - off);
    snprintf(o->error, sizeof(o->error), "%s", r.error);
    evbuffer_free(in);
    h1_resp_clear(&r);
}

static void whole(const char *text, int eof, outcome *o) { feed(text, strlen(text), NULL, 0, eof, o); }

/* The same outcome whatever the pieces: every split in two, and byte by byte. */
static void same_in_pieces(const char *text, size_t n, int eof, const outcome *want)
{
    outcome o;
    for (size_t cut = 1; cut < n; cut++) {
        size_t sizes[] = {cut, n};
        feed(text, n, sizes, 2, eof, &o);
        ck_assert_msg(o.rc == want->rc && o.status == want->status && o.body_len == want->body_len &&
                          !memcmp(o.body, want->body, o.body_len) && !strcmp(o.error, want->error),
                      "split at %zu: rc %d/%d status %d/%d body %zu/%zu error \"%s\"/\"%s\"", cut, o.rc,
                      want->rc, o.status, want->status, o.body_len, want->body_len, o.error, want->error);
    }
    size_t one = 1;
    feed(text, n, &one, 1, eof, &o);
    ck_assert_int_eq(o.rc, want->rc);
    ck_assert_int_eq(o.status, want->status);
    ck_assert_uint_eq(o.body_len, want->body_len);
    ck_assert_str_eq(o.error, want->error);
}

static const struct {
    const char *text;
    int eof;
    int status, keep_alive;
    const char *body;
    size_t left;
} good[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, 200, 1, "hello", 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, 1, "", 0},
    {"HTTP/1.1 404\r\nContent-Length: 2\r\n\r\nno", 0, 404, 1, "no", 0}, /* no reason phrase */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\n"
     "X-Trailer: t\r\n\r\n", 0, 200, 1, "hello world", 0},
    {"HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\nA \r\n0123456789\r\n0\r\n\r\n", 0, 200, 1,
     "0123456789", 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, 200,
     0, "ok", 0}, /* both framings: the chunks, and no reuse */
    {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n10", 0, 200, 0, "10", 0},
    {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n10", 0, 200, 1, "10", 0},
    {"HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 2\r\n\r\nbye", 0, 200, 0, "by", 1},
    {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", 1, 200, 0, "until the end", 0},
    {"HTTP/1.1 204 No Content\r\n\r\n", 0, 204, 1, "", 0},
    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, 304, 1, "", 0},
    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 201 Created\r\n"
     "Content-Length: 1\r\n\r\n!", 0, 201, 1, "!", 0},
    {"\r\n\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0, 200, 1, "ok", 0}, /* bare LF, stray lines */
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\nX-Empty:\r\n\r\nokHTTP/1.1", 0, 200,
     1, "ok", 8}, /* what follows the answer stays in the input */
    {"HTTP/1.1 999 Custom\r\nContent-Length:    3   \r\n\r\nabc", 0, 999, 1, "abc", 0},
};

START_TEST(good_answers)
{
    outcome o;
    whole(good[_i].text, good[_i].eof, &o);
    ck_assert_msg(o.rc == H1_DONE, "case %d: rc %d, error %s", _i, o.rc, o.error);
    ck_assert_int_eq(o.status, good[_i].status);
    ck_assert_int_eq(o.keep_alive, good[_i].keep_alive);
    ck_assert_uint_eq(o.body_len, strlen(good[_i].body));
    ck_assert(!memcmp(o.body, good[_i].body, o.body_len));
    ck_assert_uint_eq(o.left, good[_i].left);
    same_in_pieces(good[_i].text, strlen(good[_i].text), good[_i].eof, &o);
}
END_TEST

START_TEST(incomplete_answers_want_more)
{
    outcome o;
    const char *texts[] = {"", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                           "HTTP/1.1 200 OK\r\n\r\nno length: until the end"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        whole(texts[i], 0, &o);
        ck_assert_msg(o.rc == H1_MORE, "case %zu: rc %d (%s)", i, o.rc, o.error);
    }
}
END_TEST

static const struct {
    const char *text;
    int eof;
    const char *error;
} bad[] = {
    {"SSH-2.0-OpenSSH_9.2\r\n", 0, "the status line is not HTTP/1.x: \"SSH-2.0-OpenSSH_9.2\""},
    {"HTTP/2 200\r\n", 0, "the status line is not HTTP/1.x"},
    {"HTTP/1.1 20\r\n", 0, "the status line is not HTTP/1.x"},
    {"HTTP/1.1 200OK\r\n", 0, "the status line is not HTTP/1.x"},
    {"HTTP/1.1 099 Low\r\n", 0, "the status line is not HTTP/1.x"},
    {"HTTP/1.1 2x0 OK\r\n", 0, "the status line is not HTTP/1.x"},
    {"HTTP/1.1 200 \x01\x02\x7f\r\n\r\n", 1, ""}, /* a reason phrase is not read */
    {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", 0, "a header line without a name: \"No colon here\""},
    {"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", 0, "a header line without a name"},
    {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 0, "a bad header name: \"Bad Name: x\""},
    {"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", 0, "a bad header name"},
    {"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", 0, "an obsolete folded header line: \" folded\""},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "a bad Content-Length: \"-1\""},
    {"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", 0, "a bad Content-Length"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", 0, "a bad Content-Length"},
    {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 0, "a bad Content-Length: \"\""},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, "a bad Content-Length"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 0,
     "two different Content-Lengths (3)"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n", 0, "a body of 4097 bytes, over the limit of 4096"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, "an unsupported Transfer-Encoding: \"gzip\""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, "an unsupported Transfer-Encoding"},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 0, "101 Switching Protocols"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, "a bad chunk size line: \"zz\""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0, "a bad chunk size line: \"\""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", 0, "a bad chunk size line"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 0,
     "a chunk size too large"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n", 0,
     "a body over the limit of 4096 bytes"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 0,
     "a chunk not followed by CRLF: \"X\""},
    {"", 1, "the connection closed before an answer"},
    {"HTTP/1.1 200 OK\r\nContent-Le", 1, "the connection closed in the middle of the head"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1, "the connection closed in the middle of the body"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1,
     "the connection closed in the middle of the body"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n", 1,
     "the connection closed in the middle of the body"},
};

START_TEST(bad_answers_say_what_is_wrong)
{
    outcome o;
    const char *t = bad[_i].text;
    size_t n = strlen(t);
    feed(t, n, NULL, 0, bad[_i].eof, &o);
    if (!bad[_i].error[0]) { /* the one good line of this table */
        ck_assert_int_eq(o.rc, H1_DONE);
        return;
    }
    ck_assert_msg(o.rc == H1_ERROR, "case %d: rc %d", _i, o.rc);
    ck_assert_msg(strstr(o.error, bad[_i].error), "case %d: \"%s\"", _i, o.error);
    same_in_pieces(t, n, bad[_i].eof, &o);
}
END_TEST

START_TEST(limits)
{
    outcome o;
    /* a NUL byte cannot hide the rest of a line */
    static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: 1\0Content-Length: 0\r\n\r\n";
    feed(nul, sizeof(nul) - 1, NULL, 0, 0, &o);
    ck_assert_int_eq(o.rc, H1_ERROR);
    ck_assert_str_eq(o.error, "a NUL byte in a line");
    char *text = malloc(300000);
    /* a line over H1_MAX_LINE, with and without its end */
    int n = sprintf(text, "HTTP/1.1 200 OK\r\nX-Long: ");
    memset(text + n, 'l', H1_MAX_LINE);
    text[n + H1_MAX_LINE] = '\0';
    whole(text, 0, &o);
    ck_assert_int_eq(o.rc, H1_ERROR);
    ck_assert_str_eq(o.error, "a line longer than 8192 bytes");
    strcat(text, "\r\n\r\n");
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "a line longer than 8192 bytes");
    /* exactly H1_MAX_LINE is a line */
    n = sprintf(text, "HTTP/1.1 200 OK\r\nX-L: ");
    memset(text + n, 'l', H1_MAX_LINE - (size_t)n + 17);
    sprintf(text + H1_MAX_LINE + 17, "\r\nContent-Length: 0\r\n\r\n");
    whole(text, 0, &o);
    ck_assert_msg(o.rc == H1_DONE, "%s", o.error);
    /* a head over H1_MAX_HEAD: long lines before the field count runs out */
    n = sprintf(text, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 70; i++)
        n += sprintf(text + n, "X-F%02d: %01000d\r\n", i, 0);
    sprintf(text + n, "\r\n");
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "a head larger than 65536 bytes");
    /* more than H1_MAX_FIELDS lines, and as trailers */
    n = sprintf(text, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= H1_MAX_FIELDS; i++)
        n += sprintf(text + n, "X: %d\r\n", i);
    sprintf(text + n, "\r\n");
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "more than 100 header lines");
    n = sprintf(text, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    for (int i = 0; i <= H1_MAX_FIELDS; i++)
        n += sprintf(text + n, "T: %d\r\n", i);
    sprintf(text + n, "\r\n");
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "more than 100 header lines");
    /* interim answers count against the head: an endless stream of them stops */
    n = 0;
    for (int i = 0; i < 4000; i++)
        n += sprintf(text + n, "HTTP/1.1 100 Continue\r\n\r\n");
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "a head larger than 65536 bytes");
    /* bodies over max_body: until the end, and in many chunks */
    n = sprintf(text, "HTTP/1.1 200 OK\r\n\r\n");
    memset(text + n, 'b', MAX_BODY + 1);
    text[n + MAX_BODY + 1] = '\0';
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "a body over the limit of 4096 bytes");
    n = sprintf(text, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++)
        n += sprintf(text + n, "400\r\n%01024d\r\n", 0);
    whole(text, 0, &o);
    ck_assert_str_eq(o.error, "a body over the limit of 4096 bytes");
    /* exactly max_body is fine */
    n = sprintf(text, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    memset(text + n, 'b', MAX_BODY);
    text[n + MAX_BODY] = '\0';
    whole(text, 0, &o);
    ck_assert_int_eq(o.rc, H1_DONE);
    ck_assert_uint_eq(o.body_len, MAX_BODY);
    free(text);
}
END_TEST

/* The parser is reused on a connection: the next answer after a reset. */
START_TEST(reset_for_the_next_answer)
{
    h1_resp r;
    ck_assert_int_eq(h1_resp_init(&r, MAX_BODY), 0);
    struct evbuffer *in = evbuffer_new();
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 500 E\r\nContent-Length: 2\r\n\r\nbc";
    evbuffer_add(in, two, strlen(two));
    ck_assert_int_eq(h1_resp_parse(&r, in, 0), H1_DONE);
    ck_assert_int_eq(r.status, 200);
    h1_resp_reset(&r);
    ck_assert_uint_eq(evbuffer_get_length(r.body), 0);
    ck_assert_int_eq(h1_resp_parse(&r, in, 0), H1_DONE);
    ck_assert_int_eq(r.status, 500);
    ck_assert_uint_eq(evbuffer_get_length(r.body), 2);
    ck_assert_uint_eq(evbuffer_get_length(in), 0);
    evbuffer_free(in);
    h1_resp_clear(&r);
}
END_TEST

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Mutated good answers in random pieces: the same outcome as all at once, printable errors. */
START_TEST(mutations_in_random_pieces)
{
    uint64_t seed = 0x15b;
    char buf[600];
    for (int round = 0; round < 20000; round++) {
        const char *base = good[tu_rand(&seed) % (sizeof(good) / sizeof(good[0]))].text;
        size_t n = strlen(base);
        memcpy(buf, base, n);
        for (int m = (int)(tu_rand(&seed) % 4); m >= 0; m--) {
            size_t at = n ? tu_rand(&seed) % n : 0;
            switch (tu_rand(&seed) % 4) {
            case 0: /* a byte changed */
                buf[at] = (char)tu_rand(&seed);
                break;
            case 1: /* a byte removed */
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            case 2: /* a byte added */
                if (n + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = "\r\n:;0aF \t"[tu_rand(&seed) % 9];
                    n++;
                }
                break;
            default: /* cut short */
                n = at;
            }
        }
        int eof = (int)(tu_rand(&seed) % 2);
        outcome all, pieces;
        feed(buf, n, NULL, 0, eof, &all);
        size_t sizes[3] = {1 + tu_rand(&seed) % 7, 1 + tu_rand(&seed) % 30, 1 + tu_rand(&seed) % 3};
        feed(buf, n, sizes, 3, eof, &pieces);
        ck_assert_int_eq(all.rc, pieces.rc);
        ck_assert_int_eq(all.status, pieces.status);
        ck_assert_uint_eq(all.body_len, pieces.body_len);
        ck_assert(!memcmp(all.body, pieces.body, all.body_len));
        ck_assert_str_eq(all.error, pieces.error);
        if (all.rc == H1_ERROR)
            ck_assert_msg(all.error[0] && printable(all.error), "round %d: \"%s\"", round, all.error);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_agent_http1");
    TCase *t = tcase_create("http1");
    tcase_add_loop_test(t, good_answers, 0, (int)(sizeof(good) / sizeof(good[0])));
    tcase_add_test(t, incomplete_answers_want_more);
    tcase_add_loop_test(t, bad_answers_say_what_is_wrong, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(t, limits);
    tcase_add_test(t, reset_for_the_next_answer);
    tcase_add_test(t, mutations_in_random_pieces);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
