/* motan URLs: parsing (Java and Go forms), errors, text forms, parameters, node data. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

#include "testutil.h"

static motan_url *parse_ok(const char *s)
{
    char err[256] = "";
    motan_url *u = (motan_url *)1;
    int rc = motan_url_parse(s, strlen(s), &u, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "parse(%s): %d %s", s, rc, err);
    ck_assert_ptr_nonnull(u);
    return u;
}

/* Parsing fails with MOTAN_EURL, *out stays NULL and errbuf names the problem and text. */
static void parse_bad(const char *s, const char *what, const char *shown)
{
    char err[256] = "";
    motan_url *u = (motan_url *)1;
    int rc = motan_url_parse(s, strlen(s), &u, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_EURL, "parse(%s) gave %d", s, rc);
    ck_assert_ptr_null(u);
    ck_assert_msg(strstr(err, what) != NULL, "parse(%s): \"%s\" lacks \"%s\"", s, err, what);
    if (shown)
        ck_assert_msg(strstr(err, shown) != NULL, "parse(%s): \"%s\" lacks \"%s\"", s, err,
                      shown);
}

static void assert_param(const motan_url *u, size_t i, const char *k, const char *v)
{
    ck_assert_uint_gt(motan_url_param_count(u), i);
    ck_assert_str_eq(motan_url_param_key(u, i), k);
    ck_assert_str_eq(motan_url_param_value(u, i), v);
    ck_assert_str_eq(motan_url_get_param(u, k), v);
}

static void assert_same(const motan_url *a, const motan_url *b)
{
    ck_assert_str_eq(motan_url_get_protocol(a), motan_url_get_protocol(b));
    ck_assert_str_eq(motan_url_get_path(a), motan_url_get_path(b));
    ck_assert_uint_eq(motan_url_addr_count(a), motan_url_addr_count(b));
    for (size_t i = 0; i < motan_url_addr_count(a); i++) {
        ck_assert_str_eq(motan_url_addr_host(a, i), motan_url_addr_host(b, i));
        ck_assert_int_eq(motan_url_addr_port(a, i), motan_url_addr_port(b, i));
        ck_assert_int_eq(motan_url_addr_is_unix(a, i), motan_url_addr_is_unix(b, i));
    }
    ck_assert_uint_eq(motan_url_param_count(a), motan_url_param_count(b));
    for (size_t i = 0; i < motan_url_param_count(a); i++) {
        ck_assert_str_eq(motan_url_param_key(a, i), motan_url_param_key(b, i));
        ck_assert_str_eq(motan_url_param_value(a, i), motan_url_param_value(b, i));
    }
}

static void assert_format(const char *in, const char *want)
{
    motan_url *u = parse_ok(in);
    char *s = motan_url_format(u);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    motan_free(s);
    motan_url_free(u);
}

/* ---- parsing ------------------------------------------------------------------------- */

START_TEST(go_ext_info)
{
    motan_url *u =
        parse_ok("motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&nodeType=service&weight=5");
    ck_assert_str_eq(motan_url_get_protocol(u), "motan2");
    ck_assert_uint_eq(motan_url_addr_count(u), 1);
    ck_assert_str_eq(motan_url_addr_host(u, 0), "10.0.0.1");
    ck_assert_int_eq(motan_url_addr_port(u, 0), 8002);
    ck_assert_int_eq(motan_url_addr_is_unix(u, 0), 0);
    ck_assert_str_eq(motan_url_get_path(u), "com.weibo.HelloService");
    ck_assert_uint_eq(motan_url_param_count(u), 3);
    assert_param(u, 0, "group", "g1");
    assert_param(u, 1, "nodeType", "service");
    assert_param(u, 2, "weight", "5");
    ck_assert_ptr_null(motan_url_get_param(u, "absent"));
    motan_url_free(u);
}
END_TEST

START_TEST(java_full_str)
{
    /* toFullStr: URL-encoded values, trailing '&'. */
    motan_url *u = parse_ok("motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&"
                            "export=motan2%3A8002&refreshTimestamp=1&nodeType=service&"
                            "filter=a%2Cb+c&");
    ck_assert_uint_eq(motan_url_param_count(u), 5);
    assert_param(u, 1, "export", "motan2:8002");
    assert_param(u, 4, "filter", "a,b c");
    motan_url_free(u);
}
END_TEST

START_TEST(address_lists)
{
    motan_url *u = parse_ok("motan2://h1:1,h2,[::1]:8002,[unix:/tmp/x y.sock],[fe80::1%eth0]/a/b");
    ck_assert_uint_eq(motan_url_addr_count(u), 5);
    ck_assert_str_eq(motan_url_addr_host(u, 0), "h1");
    ck_assert_int_eq(motan_url_addr_port(u, 0), 1);
    ck_assert_str_eq(motan_url_addr_host(u, 1), "h2");
    ck_assert_int_eq(motan_url_addr_port(u, 1), 0);
    ck_assert_str_eq(motan_url_addr_host(u, 2), "::1");
    ck_assert_int_eq(motan_url_addr_port(u, 2), 8002);
    ck_assert_int_eq(motan_url_addr_is_unix(u, 2), 0);
    ck_assert_str_eq(motan_url_addr_host(u, 3), "/tmp/x y.sock");
    ck_assert_int_eq(motan_url_addr_is_unix(u, 3), 1);
    ck_assert_int_eq(motan_url_addr_port(u, 3), 0);
    ck_assert_str_eq(motan_url_addr_host(u, 4), "fe80::1%eth0");
    ck_assert_str_eq(motan_url_get_path(u), "a/b");
    /* Out of range: "" and 0. */
    ck_assert_str_eq(motan_url_addr_host(u, 5), "");
    ck_assert_int_eq(motan_url_addr_port(u, 5), 0);
    ck_assert_int_eq(motan_url_addr_is_unix(u, 5), 0);
    motan_url_free(u);

    u = parse_ok("motan2://[unix:/var/run/m.sock]/com.example.Svc?x=1");
    ck_assert_uint_eq(motan_url_addr_count(u), 1);
    ck_assert_str_eq(motan_url_addr_host(u, 0), "/var/run/m.sock");
    ck_assert_int_eq(motan_url_addr_is_unix(u, 0), 1);
    ck_assert_str_eq(motan_url_get_path(u), "com.example.Svc");
    motan_url_free(u);

    u = parse_ok("motan2://:8002/svc");
    ck_assert_uint_eq(motan_url_addr_count(u), 1);
    ck_assert_str_eq(motan_url_addr_host(u, 0), "");
    ck_assert_int_eq(motan_url_addr_port(u, 0), 8002);
    motan_url_free(u);

    u = parse_ok("zookeeper://127.0.0.1:2181,127.0.0.2:2181");
    ck_assert_uint_eq(motan_url_addr_count(u), 2);
    ck_assert_str_eq(motan_url_get_path(u), "");
    ck_assert_uint_eq(motan_url_param_count(u), 0);
    motan_url_free(u);

    u = parse_ok("motan2://h:65535?a=b");
    ck_assert_int_eq(motan_url_addr_port(u, 0), 65535);
    ck_assert_str_eq(motan_url_get_path(u), "");
    assert_param(u, 0, "a", "b");
    motan_url_free(u);
}
END_TEST

START_TEST(paths_and_java_single_slash)
{
    motan_url *u = parse_ok("file:///etc/reg.json/com.example.Svc");
    ck_assert_str_eq(motan_url_get_protocol(u), "file");
    ck_assert_uint_eq(motan_url_addr_count(u), 0);
    ck_assert_str_eq(motan_url_get_path(u), "etc/reg.json/com.example.Svc");
    motan_url_free(u);

    u = parse_ok("file:///x");
    ck_assert_uint_eq(motan_url_addr_count(u), 0);
    ck_assert_str_eq(motan_url_get_path(u), "x");
    motan_url_free(u);

    u = parse_ok("motan2:/com.example.Svc?group=g");
    ck_assert_uint_eq(motan_url_addr_count(u), 0);
    ck_assert_str_eq(motan_url_get_path(u), "com.example.Svc");
    assert_param(u, 0, "group", "g");
    motan_url_free(u);

    u = parse_ok("rule://");
    ck_assert_str_eq(motan_url_get_protocol(u), "rule");
    ck_assert_uint_eq(motan_url_addr_count(u), 0);
    ck_assert_str_eq(motan_url_get_path(u), "");
    motan_url_free(u);

    u = parse_ok("motan2://h:1/");
    ck_assert_str_eq(motan_url_get_path(u), "");
    motan_url_free(u);

    /* Surrounding whitespace (a node written by hand) is ignored. */
    u = parse_ok("  motan2://h:1/s?a=b \n");
    ck_assert_str_eq(motan_url_get_path(u), "s");
    assert_param(u, 0, "a", "b");
    motan_url_free(u);
    u = parse_ok("motan2://h:1/ a b ?x=1");
    ck_assert_str_eq(motan_url_get_path(u), "a b");
    motan_url_free(u);
}
END_TEST

START_TEST(param_rules)
{
    motan_url *u = parse_ok("p://h/s?a=1& b = 2 &flag&&=skipped&c=x=y&a=3&e=&%41%42=%7e+z&"
                            "sp=%20lead");
    ck_assert_uint_eq(motan_url_param_count(u), 7);
    assert_param(u, 0, "a", "3"); /* duplicate: last wins, first position */
    assert_param(u, 1, "b", "2");
    assert_param(u, 2, "flag", "flag"); /* Java: key without '=' */
    assert_param(u, 3, "c", "x=y");
    assert_param(u, 4, "e", "");
    assert_param(u, 5, "AB", "~ z");
    assert_param(u, 6, "sp", " lead");
    motan_url_free(u);

    u = parse_ok("p://h/s?&&&");
    ck_assert_uint_eq(motan_url_param_count(u), 0);
    motan_url_free(u);

    /* Only the first '?' starts the parameters. */
    u = parse_ok("p://h/s?q=a?b");
    assert_param(u, 0, "q", "a?b");
    motan_url_free(u);

    /* An explicit length: the text need not be NUL-terminated. */
    motan_url *v = NULL;
    ck_assert_int_eq(motan_url_parse("p://h:1/s?a=b&junk", 13, &v, NULL, 0), MOTAN_OK);
    ck_assert_uint_eq(motan_url_param_count(v), 1);
    assert_param(v, 0, "a", "b");
    motan_url_free(v);
}
END_TEST

START_TEST(parse_errors)
{
    parse_bad("localhost:8002/svc", "missing \"://\"", "localhost:8002/svc");
    parse_bad("no-protocol", "missing \"://\"", "no-protocol");
    parse_bad("h?x=a://b", "missing \"://\"", NULL);
    parse_bad("://h:1/x", "empty protocol", NULL);
    parse_bad("mo tan://h/x", "bad protocol", "mo tan");
    parse_bad("", "empty", NULL);
    parse_bad(" \t\n", "empty", NULL);
    parse_bad("p://h:80a/x", "bad port", "\"80a\"");
    parse_bad("p://h:-1/x", "bad port", "\"-1\"");
    parse_bad("p://h:65536/x", "port out of range", "\"65536\"");
    parse_bad("p://h:123456/x", "bad port", "\"123456\"");
    parse_bad("p://h:/x", "empty port", NULL);
    parse_bad("p://h:1:2/x", "bad port", "\"1:2\"");
    parse_bad("p://::1/x", "bad port", NULL);
    parse_bad("p://h1:1,,h2:2/x", "empty host", "h1:1,,h2:2");
    parse_bad("p://,h/x", "empty host", NULL);
    parse_bad("p://h,/x", "empty host", NULL);
    parse_bad("p://[::1:80/x", "unterminated '['", "[::1:80/x");
    parse_bad("p://h1,[::1/x?a=b", "unterminated '['", NULL);
    parse_bad("p://[]:1/x", "empty host", NULL);
    parse_bad("p://[unix:]/x", "empty host", NULL);
    parse_bad("p://[::1]x/y", "junk after ']'", "x");
    parse_bad("p://h]:1/x", "stray bracket", NULL);
    parse_bad("p://[a,b]/x", "bad host", "a,b");
    parse_bad("p://h/x?a=%zz", "bad %-escape", "%zz");
    parse_bad("p://h/x?a=%4", "bad %-escape", "%4");
    parse_bad("p://h/x?a=b%", "bad %-escape", NULL);
    parse_bad("p://h/x?%g1=v", "bad %-escape", "%g1");
    parse_bad("p://h/x?a=%00", "%00", NULL);

    /* An embedded NUL in an explicit-length text. */
    motan_url *u = (motan_url *)1;
    char err[128];
    ck_assert_int_eq(motan_url_parse("p://h\0/x", 8, &u, err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_null(u);
    ck_assert_ptr_nonnull(strstr(err, "NUL"));

    /* errbuf may be NULL; out may not. */
    ck_assert_int_eq(motan_url_parse("bad", 3, &u, NULL, 0), MOTAN_EURL);
    ck_assert_int_eq(motan_url_parse("p://h", 5, NULL, NULL, 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_parse(NULL, 0, &u, NULL, 0), MOTAN_EINVAL);
}
END_TEST

/* ---- text forms ---------------------------------------------------------------------- */

START_TEST(format_exact)
{
    assert_format("motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&nodeType=service&weight=5",
                  "motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&nodeType=service&weight=5");
    assert_format("motan2://10.0.0.1:8002/S?group=g1&export=motan2%3A8002&weights=a:3,b:1&",
                  "motan2://10.0.0.1:8002/S?group=g1&export=motan2:8002&weights=a:3,b:1");
    assert_format("direct://h1,h2:0,[::1]:1,[unix:/a/b.sock]/s",
                  "direct://h1,h2,[::1]:1,[unix:/a/b.sock]/s");
    assert_format("motan2:/svc?flag", "motan2:///svc?flag=flag");
    assert_format("p://h?a=x+y&b=1%262&c=100%25&d=%2B&k%3D=v=w&u=%E4%B8%AD",
                  "p://h?a=x%20y&b=1%262&c=100%25&d=%2B&k%3D=v=w&u=\xe4\xb8\xad");
    assert_format("p://:0", "p://:0");
    assert_format("p://", "p://");
}
END_TEST

START_TEST(format_round_trip)
{
    static const char *const urls[] = {
        "motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&nodeType=service&weight=5",
        "motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&export=motan2%3A8002&"
        "filter=a%2Cb+c&",
        "direct://h1:1,[::1]:8002,[unix:/tmp/s.sock]:7,:9/a/b/c?x=%20lead%20&y=trail%20&z=%09",
        "p://h/s?a=1&a=2&b&c=&d=%26%3D%2B%25&e=%E2%82%AC",
        "file:///etc/reg.json/com.example.Svc",
        "motan2:/s?k",
        "p://:0",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        motan_url *u = parse_ok(urls[i]);
        char *s = motan_url_format(u);
        ck_assert_ptr_nonnull(s);
        motan_url *v = parse_ok(s);
        assert_same(u, v);
        char *s2 = motan_url_format(v);
        ck_assert_str_eq(s, s2);
        motan_free(s);
        motan_free(s2);
        motan_url_free(u);
        motan_url_free(v);
    }
}
END_TEST

/* Random URL-ish texts: whatever parses must format to text that parses to the same URL. */
START_TEST(format_round_trip_random)
{
    static const char alphabet[] = "ab:/?&=%+,[]-._ \t\n\x01\xc3\xa9 0123456789unix:EF%2=";
    static const char *const prefixes[] = {"p://", "motan2://h:1/s?", "p:/", "p://[unix:/x]/", ""};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    int parsed = 0;
    for (int n = 0; n < 20000; n++) {
        char text[64];
        const char *pre = prefixes[tu_rand(&seed) % 5];
        size_t len = strlen(pre), extra = tu_rand(&seed) % 24;
        memcpy(text, pre, len);
        for (size_t i = 0; i < extra; i++)
            text[len++] = alphabet[tu_rand(&seed) % (sizeof(alphabet) - 1)];
        motan_url *u = NULL;
        char err[256];
        int rc = motan_url_parse(text, len, &u, err, sizeof(err));
        if (rc != MOTAN_OK) {
            ck_assert_msg(rc == MOTAN_EURL && u == NULL, "%.*s: %d", (int)len, text, rc);
            continue;
        }
        parsed++;
        char *s = motan_url_format(u);
        motan_url *v = NULL;
        ck_assert_msg(motan_url_parse(s, strlen(s), &v, err, sizeof(err)) == MOTAN_OK,
                      "%.*s -> %s: %s", (int)len, text, s, err);
        assert_same(u, v);
        motan_free(s);
        motan_url_free(u);
        motan_url_free(v);
    }
    ck_assert_int_gt(parsed, 1000);
}
END_TEST

START_TEST(identity)
{
    motan_url *u = parse_ok("motan2://10.0.0.1:8002/com.weibo.HelloService?nodeType=service&group=g1");
    char *id = motan_url_identity(u);
    ck_assert_str_eq(id, "motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1");
    motan_free(id);
    motan_url_free(u);

    u = parse_ok("motan2://h1,h2:2/s");
    id = motan_url_identity(u);
    ck_assert_str_eq(id, "motan2://h1:0/s?group=");
    motan_free(id);
    motan_url_free(u);

    u = parse_ok("motan2://[::1]:5/s?group=a%20b");
    id = motan_url_identity(u);
    ck_assert_str_eq(id, "motan2://[::1]:5/s?group=a b");
    motan_free(id);
    motan_url_free(u);

    u = parse_ok("motan2://[unix:/x.sock]/s");
    id = motan_url_identity(u);
    ck_assert_str_eq(id, "motan2://[unix:/x.sock]/s?group=");
    motan_free(id);
    motan_url_free(u);
}
END_TEST

/* ---- building ------------------------------------------------------------------------ */

START_TEST(builder)
{
    motan_url *u = motan_url_new("motan2");
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(motan_url_get_protocol(u), "motan2");
    ck_assert_str_eq(motan_url_get_path(u), "");
    ck_assert_int_eq(motan_url_add_addr(u, "10.0.0.1", 8002), MOTAN_OK);
    ck_assert_int_eq(motan_url_add_addr(u, "::1", 1), MOTAN_OK);
    ck_assert_int_eq(motan_url_add_addr(u, "unix:/run/a.sock", 0), MOTAN_OK);
    ck_assert_int_eq(motan_url_addr_is_unix(u, 2), 1);
    ck_assert_str_eq(motan_url_addr_host(u, 2), "/run/a.sock");
    ck_assert_int_eq(motan_url_add_addr(u, "h", -1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_add_addr(u, "h", 65536), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_add_addr(u, "a,b", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_add_addr(u, "a/b", 1), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_add_addr(u, "unix:", 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_add_addr(u, "unix:/a]b", 0), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_add_addr(u, NULL, 0), MOTAN_EINVAL);
    ck_assert_uint_eq(motan_url_addr_count(u), 3);

    ck_assert_int_eq(motan_url_set_path(u, "com.example.Svc"), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_path(u, "a?b"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_set_path(u, " a"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_set_path(u, "a\n"), MOTAN_EINVAL);
    ck_assert_str_eq(motan_url_get_path(u), "com.example.Svc");

    ck_assert_int_eq(motan_url_set_param(u, "a", "1"), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_param(u, "b", "2"), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_param(u, "c", "3"), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_param(u, "a", "x&y"), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_param(u, "b", NULL), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_param(u, "absent", NULL), MOTAN_OK);
    ck_assert_int_eq(motan_url_set_param(u, "", "v"), MOTAN_EINVAL);
    ck_assert_int_eq(motan_url_set_param(u, NULL, "v"), MOTAN_EINVAL);
    ck_assert_uint_eq(motan_url_param_count(u), 2);
    assert_param(u, 0, "a", "x&y");
    assert_param(u, 1, "c", "3");
    ck_assert_ptr_null(motan_url_param_key(u, 2));
    ck_assert_ptr_null(motan_url_param_value(u, 2));

    char *s = motan_url_format(u);
    ck_assert_str_eq(s, "motan2://10.0.0.1:8002,[::1]:1,[unix:/run/a.sock]/com.example.Svc?"
                        "a=x%26y&c=3");
    motan_url *p = parse_ok(s);
    assert_same(u, p);
    motan_free(s);
    motan_url_free(p);

    motan_url *c = motan_url_clone(u);
    ck_assert_ptr_nonnull(c);
    assert_same(u, c);
    ck_assert_int_eq(motan_url_set_param(c, "a", "changed"), MOTAN_OK);
    ck_assert_str_eq(motan_url_get_param(u, "a"), "x&y");
    motan_url_free(c);
    motan_url_free(u);
    motan_url_free(NULL);
    ck_assert_ptr_null(motan_url_clone(NULL));
}
END_TEST

/* ---- parameters ---------------------------------------------------------------------- */

START_TEST(defaults)
{
    static const char *const table[][2] = {
        {"group", "default_rpc"},
        {"version", "1.0"},
        {"serialization", "simple"},
        {"requestTimeout", "1000"},
        {"connectTimeout", "1000"},
        {"retries", "0"},
        {"haStrategy", "failover"},
        {"loadbalance", "random"},
        {"maxContentLength", "10485760"},
        {"mingzSize", "0"},
        {"errorCountThreshold", "10"},
        {"keepaliveInterval", "1000"},
        {"connections", "2"},
        {"maxPending", "10000"},
        {"backupRequestDelayRatio", "90"},
        {"backupRequestMaxRetryRatio", "15"},
        {"weight", "10"},
        {"emptyNodeProtection", "true"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const char *d = motan_url_param_default(table[i][0]);
        ck_assert_msg(d != NULL, "no default for %s", table[i][0]);
        ck_assert_str_eq(d, table[i][1]);
    }
    ck_assert_ptr_null(motan_url_param_default("nodeType"));
    ck_assert_ptr_null(motan_url_param_default("GROUP"));
    ck_assert_ptr_null(motan_url_param_default(""));
    ck_assert_ptr_null(motan_url_param_default(NULL));
}
END_TEST

START_TEST(effective_params)
{
    motan_url *u = parse_ok("motan2://h:1/s?requestTimeout=300&hello.requestTimeout=500&"
                            "hello(java.lang.String).retries=2&retries=1&group=&weight=abc&"
                            "big=99999999999999999999&sp=%2042%20&neg=-7&custom=x&hello.x=&x=plain");
    ck_assert_int_eq(motan_url_get_int(u, "hello", "requestTimeout", 7), 500);
    ck_assert_int_eq(motan_url_get_int(u, "bye", "requestTimeout", 7), 300);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "requestTimeout", 7), 300);
    ck_assert_int_eq(motan_url_get_int(u, "hello(java.lang.String)", "retries", 7), 2);
    ck_assert_int_eq(motan_url_get_int(u, "hello", "retries", 7), 1);
    /* Absent or empty: the §8.2 default, then def. */
    ck_assert_int_eq(motan_url_get_int(u, "hello", "connectTimeout", 7), 1000);
    ck_assert_str_eq(motan_url_get_str(u, NULL, "group", "d"), "default_rpc");
    ck_assert_str_eq(motan_url_get_str(u, "hello", "x", "d"), "plain");
    ck_assert_str_eq(motan_url_get_str(u, NULL, "nothing", "d"), "d");
    ck_assert_ptr_null(motan_url_get_str(u, NULL, "nothing", NULL));
    ck_assert_str_eq(motan_url_get_str(u, "", "custom", "d"), "x");
    /* Unparsable integers give def. */
    ck_assert_int_eq(motan_url_get_int(u, NULL, "weight", 7), 7);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "big", 7), 7);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "custom", 7), 7);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "emptyNodeProtection", 7), 7);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "sp", 7), 42);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "neg", 7), -7);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "maxContentLength", 7), 10485760);
    ck_assert_int_eq(motan_url_get_int(u, NULL, "nothing", -3), -3);
    /* No URL at all: defaults still apply. */
    ck_assert_int_eq(motan_url_get_int(NULL, NULL, "requestTimeout", 7), 1000);
    ck_assert_str_eq(motan_url_get_str(NULL, NULL, "loadbalance", "d"), "random");
    motan_url_free(u);
}
END_TEST

/* ---- ZooKeeper node data ------------------------------------------------------------- */

/* ac ed 00 05 74 <u16 len> bytes (or 7c <u64 len>). */
static uint8_t *java_string(const uint8_t *s, size_t n, int longform, size_t *len)
{
    size_t hdr = longform ? 13 : 7;
    uint8_t *p = malloc(hdr + n);
    memcpy(p, "\xac\xed\x00\x05", 4);
    p[4] = longform ? 0x7c : 0x74;
    if (longform) {
        for (int i = 0; i < 8; i++)
            p[5 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    } else {
        p[5] = (uint8_t)(n >> 8);
        p[6] = (uint8_t)n;
    }
    memcpy(p + hdr, s, n);
    *len = hdr + n;
    return p;
}

static motan_url *node_ok(const uint8_t *d, size_t n)
{
    char err[256] = "";
    motan_url *u = NULL;
    int rc = motan_url_parse_node_data(d, n, &u, err, sizeof(err));
    ck_assert_msg(rc == MOTAN_OK, "node data: %d %s", rc, err);
    return u;
}

static void node_bad(const uint8_t *d, size_t n, const char *what)
{
    char err[256] = "";
    motan_url *u = (motan_url *)1;
    ck_assert_int_eq(motan_url_parse_node_data(d, n, &u, err, sizeof(err)), MOTAN_EURL);
    ck_assert_ptr_null(u);
    ck_assert_msg(strstr(err, what) != NULL, "\"%s\" lacks \"%s\"", err, what);
}

static const char node_url[] = "motan2://10.0.0.1:8002/com.weibo.HelloService?group=g1&nodeType=service";

START_TEST(node_plain)
{
    motan_url *u = node_ok((const uint8_t *)node_url, strlen(node_url));
    ck_assert_str_eq(motan_url_get_path(u), "com.weibo.HelloService");
    motan_url_free(u);
    char withnl[200];
    snprintf(withnl, sizeof(withnl), "%s\n", node_url);
    u = node_ok((const uint8_t *)withnl, strlen(withnl));
    assert_param(u, 1, "nodeType", "service");
    motan_url_free(u);
    node_bad((const uint8_t *)"", 0, "empty");
    node_bad((const uint8_t *)"not a url", 9, "missing");
}
END_TEST

START_TEST(node_java_stream)
{
    size_t n;
    for (int longform = 0; longform <= 1; longform++) {
        uint8_t *d = java_string((const uint8_t *)node_url, strlen(node_url), longform, &n);
        motan_url *u = node_ok(d, n);
        ck_assert_str_eq(motan_url_addr_host(u, 0), "10.0.0.1");
        assert_param(u, 0, "group", "g1");
        motan_url_free(u);
        free(d);
    }

    /* Modified UTF-8: "中" is the same, U+1F600 is a surrogate pair, C1 81 an overlong 'A'. */
    static const uint8_t mutf[] = "p://h/s?a=\xe4\xb8\xad&b=\xed\xa0\xbd\xed\xb8\x80&c=\xc1\x81";
    uint8_t *d = java_string(mutf, sizeof(mutf) - 1, 0, &n);
    motan_url *u = node_ok(d, n);
    assert_param(u, 0, "a", "\xe4\xb8\xad");
    assert_param(u, 1, "b", "\xf0\x9f\x98\x80");
    assert_param(u, 2, "c", "A");
    motan_url_free(u);
    free(d);
}
END_TEST

START_TEST(node_java_stream_bad)
{
    size_t n;
    static const struct {
        const char *s;
        size_t len;
        const char *what;
    } bad_strings[] = {
        {"p://h/s?a=\xc0\x80", 12, "NUL"},
        {"p://h/s?a=\xed\xa0\xbd", 13, "unpaired high surrogate"},
        {"p://h/s?a=\xed\xa0\xbdx", 14, "unpaired high surrogate"},
        {"p://h/s?a=\xed\xb8\x80", 13, "unpaired low surrogate"},
        {"p://h/s?a=\xf0\x9f\x98\x80", 14, "malformed"},
        {"p://h/s?a=\xe4\xb8", 12, "malformed"},
        {"p://h/s?a=\x80", 11, "malformed"},
        {"p://h/s?a=\x00", 11, "NUL"},
        {"p://h:x/s", 9, "bad port"},
    };
    for (size_t i = 0; i < sizeof(bad_strings) / sizeof(bad_strings[0]); i++) {
        uint8_t *d = java_string((const uint8_t *)bad_strings[i].s, bad_strings[i].len, 0, &n);
        node_bad(d, n, bad_strings[i].what);
        free(d);
    }

    uint8_t *d = java_string((const uint8_t *)node_url, strlen(node_url), 0, &n);
    node_bad(d, n - 1, "truncated string");
    node_bad(d, 6, "truncated string length");
    node_bad(d, 4, "truncated");
    node_bad(d, 2, "truncated");
    d[4] = 0x73; /* TC_OBJECT */
    node_bad(d, n, "does not hold a string");
    d[4] = 0x74;
    d[3] = 0x06;
    node_bad(d, n, "header");
    free(d);

    uint8_t *t = java_string((const uint8_t *)node_url, strlen(node_url), 0, &n);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, t, n);
    longer[n] = 'x';
    node_bad(longer, n + 1, "trailing bytes");
    free(longer);
    free(t);

    /* A u64 length far beyond the data. */
    d = java_string((const uint8_t *)"p://h", 5, 1, &n);
    d[5] = 0xff;
    node_bad(d, n, "truncated string");
    free(d);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------- */

static long budget;
static void *fail_malloc(size_t n) { return budget-- > 0 ? malloc(n) : NULL; }
static void *fail_realloc(void *p, size_t n) { return budget-- > 0 ? realloc(p, n) : NULL; }

START_TEST(out_of_memory)
{
    static const char text[] = "motan2://h1:1,[::1]:2,[unix:/s]/svc?a=1&b=%20x&a=2&c";
    int ok = 0;
    for (long limit = 0; limit < 200 && !ok; limit++) {
        budget = limit;
        motan_set_allocator(fail_malloc, fail_realloc, free);
        motan_url *u = NULL;
        int rc = motan_url_parse(text, strlen(text), &u, NULL, 0);
        char *s = NULL, *id = NULL;
        motan_url *c = NULL;
        if (rc == MOTAN_OK) {
            s = motan_url_format(u);
            id = motan_url_identity(u);
            c = motan_url_clone(u);
            ok = s && id && c;
        } else {
            ck_assert_int_eq(rc, MOTAN_ENOMEM);
            ck_assert_ptr_null(u);
        }
        motan_set_allocator(NULL, NULL, NULL);
        motan_free(s);
        motan_free(id);
        motan_url_free(c);
        motan_url_free(u);
    }
    ck_assert_msg(ok, "never succeeded");
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, go_ext_info);
    tcase_add_test(tc, java_full_str);
    tcase_add_test(tc, address_lists);
    tcase_add_test(tc, paths_and_java_single_slash);
    tcase_add_test(tc, param_rules);
    tcase_add_test(tc, parse_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("text");
    tcase_add_test(tc, format_exact);
    tcase_add_test(tc, format_round_trip);
    tcase_add_test(tc, format_round_trip_random);
    tcase_add_test(tc, identity);
    tcase_add_test(tc, builder);
    suite_add_tcase(s, tc);
    tc = tcase_create("params");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, effective_params);
    suite_add_tcase(s, tc);
    tc = tcase_create("node_data");
    tcase_add_test(tc, node_plain);
    tcase_add_test(tc, node_java_stream);
    tcase_add_test(tc, node_java_stream_bad);
    suite_add_tcase(s, tc);
    tc = tcase_create("oom");
    tcase_add_test(tc, out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(url_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
