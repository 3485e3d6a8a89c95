/*
 * Text -> motan_url (§8.1). Accepts what Java's URL.valueOf and Go's FromExtInfo produce:
 * "protocol://" or Java's "protocol:/", a comma-separated address list with optional ports
 * ("[::1]:8002", "[unix:/path.sock]"), the path without its leading '/', and '&'-separated
 * parameters that are trimmed and URL-decoded (Java's trailing '&' and bare "key" too).
 */
#include "codec/codec_int.h"

/* Quotes at most this much of the offending text in error messages. */
#define SHOW 64

static int fail(char *errbuf, size_t errlen, const char *what, const char *p, size_t n,
                size_t off)
{
    return motan__errf(errbuf, errlen, MOTAN_EURL, "URL: %s \"%.*s\"%s at offset %zu", what,
                       (int)(n > SHOW ? SHOW : n), p, n > SHOW ? "..." : "", off);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int proto_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '-' || c == '.' || c == '_';
}

struct ctx {
    const char *s; /* whole input, for offsets */
    motan_url *u;
    char *errbuf;
    size_t errlen;
};

/* Digits only, at most 65535; p..p+n is the text after ':'. */
static int parse_port(struct ctx *c, const char *p, size_t n, int *port)
{
    int v = 0;
    if (n == 0 || n > 5)
        return fail(c->errbuf, c->errlen, n ? "bad port" : "empty port", p, n,
                    (size_t)(p - c->s));
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return fail(c->errbuf, c->errlen, "bad port", p, n, (size_t)(p - c->s));
        v = v * 10 + (p[i] - '0');
    }
    if (v > 65535)
        return fail(c->errbuf, c->errlen, "port out of range", p, n, (size_t)(p - c->s));
    *port = v;
    return MOTAN_OK;
}

static int add_addr(struct ctx *c, const char *host, size_t hlen, int port)
{
    char *h = motan__strndup(host, hlen);
    if (!h)
        return MOTAN_ENOMEM;
    int rc = motan_url_add_addr(c->u, h, port);
    motan_free(h);
    if (rc == MOTAN_EINVAL)
        return fail(c->errbuf, c->errlen, "bad host", host, hlen, (size_t)(host - c->s));
    return rc;
}

/* One address at p (before end): [v6]:port, [unix:/path], host:port or host. *next = after. */
static int parse_addr(struct ctx *c, const char *p, const char *end, const char **next)
{
    const char *host, *q;
    size_t hlen;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return fail(c->errbuf, c->errlen, "unterminated '['", p, (size_t)(end - p),
                        (size_t)(p - c->s));
        host = p + 1;
        hlen = (size_t)(rb - host);
        if (hlen == 0 || (hlen == 5 && memcmp(host, "unix:", 5) == 0))
            return fail(c->errbuf, c->errlen, "empty host", p, (size_t)(rb + 1 - p),
                        (size_t)(p - c->s));
        q = rb + 1;
        if (q < end && *q != ':' && *q != ',')
            return fail(c->errbuf, c->errlen, "junk after ']'", q, (size_t)(end - q),
                        (size_t)(q - c->s));
    } else {
        host = p;
        for (q = p; q < end && *q != ':' && *q != ','; q++)
            if (*q == '[' || *q == ']')
                return fail(c->errbuf, c->errlen, "stray bracket in host", p,
                            (size_t)(end - p), (size_t)(p - c->s));
        hlen = (size_t)(q - p);
    }
    int port = 0;
    if (q < end && *q == ':') {
        const char *ps = ++q;
        while (q < end && *q != ',')
            q++;
        int rc = parse_port(c, ps, (size_t)(q - ps), &port);
        if (rc != MOTAN_OK)
            return rc;
    }
    *next = q;
    return add_addr(c, host, hlen, port);
}

/* The address list is p..end (possibly empty: no addresses). */
static int parse_addrs(struct ctx *c, const char *p, const char *end)
{
    if (p == end)
        return MOTAN_OK;
    for (;;) {
        if (p == end || *p == ',')
            return fail(c->errbuf, c->errlen, "empty host in address list", c->s,
                        (size_t)(end - c->s), (size_t)(p - c->s));
        int rc = parse_addr(c, p, end, &p);
        if (rc != MOTAN_OK)
            return rc;
        if (p == end)
            return MOTAN_OK;
        p++; /* ',' */
    }
}

/* URL-decodes p..p+n into a new string (Java's URLDecoder: %XX, '+' is a space). */
static int decode(struct ctx *c, const char *p, size_t n, char **out)
{
    char *d = motan_malloc(n + 1), *w = d;
    if (!d)
        return MOTAN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+') {
            *w++ = ' ';
        } else if (p[i] != '%') {
            *w++ = p[i];
        } else {
            int hi = i + 1 < n ? motan__hexval(p[i + 1]) : -1;
            int lo = i + 2 < n ? motan__hexval(p[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                motan_free(d);
                size_t shown = n - i < 3 ? n - i : 3;
                return fail(c->errbuf, c->errlen,
                            hi == 0 && lo == 0 ? "%00 in parameter" : "bad %-escape", p + i,
                            shown, (size_t)(p + i - c->s));
            }
            *w++ = (char)(hi << 4 | lo);
            i += 2;
        }
    }
    *w = '\0';
    *out = d;
    return MOTAN_OK;
}

static void trim(const char **p, const char **end)
{
    while (*p < *end && (unsigned char)**p <= ' ')
        (*p)++;
    while (*end > *p && (unsigned char)(*end)[-1] <= ' ')
        (*end)--;
}

/* One "k=v" (or "k") piece; an empty key is skipped, a later duplicate wins. */
static int parse_param(struct ctx *c, const char *p, const char *end)
{
    trim(&p, &end);
    if (end <= p) /* "<=": what lets the compiler bound memchr's length */
        return MOTAN_OK;
    const char *eq = memchr(p, '=', (size_t)(end - p));
    const char *ke = eq ? eq : end, *vs = eq ? eq + 1 : p, *ve = eq ? end : ke, *ks = p;
    trim(&ks, &ke);
    trim(&vs, &ve);
    char *k = NULL, *v = NULL;
    int rc = decode(c, ks, (size_t)(ke - ks), &k);
    if (rc == MOTAN_OK)
        rc = decode(c, vs, (size_t)(ve - vs), &v);
    if (rc == MOTAN_OK && *k)
        rc = motan_url_set_param(c->u, k, v);
    motan_free(k);
    motan_free(v);
    return rc;
}

static int parse_query(struct ctx *c, const char *p, const char *end)
{
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        int rc = parse_param(c, p, e);
        if (rc != MOTAN_OK)
            return rc;
        p = amp ? amp + 1 : end;
    }
    return MOTAN_OK;
}

static int parse(struct ctx *c, const char *p, const char *end)
{
    if (p == end)
        return motan__errf(c->errbuf, c->errlen, MOTAN_EURL, "URL: empty");
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul)
        return fail(c->errbuf, c->errlen, "NUL byte in", p, (size_t)(nul - p), (size_t)(nul - c->s));
    const char *qm = memchr(p, '?', (size_t)(end - p));
    const char *body_end = qm ? qm : end;
    const char *colon = memchr(p, ':', (size_t)(body_end - p));
    if (!colon || colon + 1 == body_end || colon[1] != '/')
        return fail(c->errbuf, c->errlen, "missing \"://\" in", p, (size_t)(end - p),
                    (size_t)(p - c->s));
    for (const char *q = p; q < colon; q++)
        if (!proto_char(*q))
            return fail(c->errbuf, c->errlen, "bad protocol", p, (size_t)(colon - p),
                        (size_t)(p - c->s));
    if (colon == p)
        return fail(c->errbuf, c->errlen, "empty protocol in", p, (size_t)(end - p),
                    (size_t)(p - c->s));
    char *proto = motan__strndup(p, (size_t)(colon - p));
    c->u = proto ? motan_url_new(proto) : NULL;
    motan_free(proto);
    if (!c->u)
        return MOTAN_ENOMEM;

    /* "p://addrs/path" or Java's "p:/path" (no addresses). */
    const char *a = colon + 1, *a_end = a;
    if (body_end - a >= 2 && a[1] == '/') {
        a += 2;
        int in_br = 0;
        for (a_end = a; a_end < body_end && (in_br || *a_end != '/'); a_end++)
            in_br = *a_end == '[' ? 1 : *a_end == ']' ? 0 : in_br;
    }
    int rc = parse_addrs(c, a, a_end);
    if (rc != MOTAN_OK)
        return rc;
    if (a_end < body_end) {
        const char *ps = a_end + 1, *pe = body_end;
        trim(&ps, &pe);
        char *path = motan__strndup(ps, (size_t)(pe - ps));
        if (!path)
            return MOTAN_ENOMEM;
        rc = motan_url_set_path(c->u, path);
        motan_free(path);
        if (rc != MOTAN_OK)
            return rc;
    }
    return qm ? parse_query(c, qm + 1, end) : MOTAN_OK;
}

MOTAN_EXPORT int motan_url_parse(const char *s, size_t len, motan_url **out, char *errbuf,
                                 size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!s)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "URL: NULL text");
    const char *p = s, *end = s + len;
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;
    struct ctx c = {s, NULL, errbuf, errlen};
    int rc = parse(&c, p, end);
    if (rc != MOTAN_OK) {
        motan_url_free(c.u);
        if (rc == MOTAN_ENOMEM)
            motan__errf(errbuf, errlen, rc, "URL: out of memory");
        return rc;
    }
    *out = c.u;
    return MOTAN_OK;
}
