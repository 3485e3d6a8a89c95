/*
 * motan URLs (§8.1): the object, its accessors and setters, effective parameters and the
 * text forms. Parsing lives in url_parse.c, built on the setters here so that whatever a
 * setter accepts also formats back to text that parses to the same URL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_int.h"

struct url_addr {
    char *host; /* Unix socket path when is_unix */
    int port;
    int is_unix;
};

struct url_param {
    char *key;
    char *val;
};

struct motan_url {
    char *protocol;
    char *path;
    struct url_addr *addrs;
    size_t naddrs, caddrs;
    struct url_param *params;
    size_t nparams, cparams;
};

MOTAN_EXPORT motan_url *motan_url_new(const char *protocol)
{
    motan_url *u = motan__calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->protocol = motan__strdup(protocol ? protocol : "");
    u->path = motan__strdup("");
    if (!u->protocol || !u->path) {
        motan_url_free(u);
        return NULL;
    }
    return u;
}

MOTAN_EXPORT void motan_url_free(motan_url *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->naddrs; i++)
        motan_free(u->addrs[i].host);
    for (size_t i = 0; i < u->nparams; i++) {
        motan_free(u->params[i].key);
        motan_free(u->params[i].val);
    }
    motan_free(u->addrs);
    motan_free(u->params);
    motan_free(u->protocol);
    motan_free(u->path);
    motan_free(u);
}

MOTAN_EXPORT motan_url *motan_url_clone(const motan_url *u)
{
    if (!u)
        return NULL;
    motan_url *c = motan_url_new(u->protocol);
    if (!c || motan_url_set_path(c, u->path) != MOTAN_OK)
        goto fail;
    for (size_t i = 0; i < u->naddrs; i++) {
        struct url_addr a = {motan__strdup(u->addrs[i].host), u->addrs[i].port,
                             u->addrs[i].is_unix};
        if (!a.host)
            goto fail;
        if (c->naddrs == c->caddrs) {
            size_t n = c->caddrs ? 2 * c->caddrs : 2;
            struct url_addr *na = motan_realloc(c->addrs, n * sizeof(*na));
            if (!na) {
                motan_free(a.host);
                goto fail;
            }
            c->addrs = na;
            c->caddrs = n;
        }
        c->addrs[c->naddrs++] = a;
    }
    for (size_t i = 0; i < u->nparams; i++)
        if (motan_url_set_param(c, u->params[i].key, u->params[i].val) != MOTAN_OK)
            goto fail;
    return c;
fail:
    motan_url_free(c);
    return NULL;
}

MOTAN_EXPORT const char *motan_url_get_protocol(const motan_url *u) { return u->protocol; }

MOTAN_EXPORT size_t motan_url_addr_count(const motan_url *u) { return u->naddrs; }

MOTAN_EXPORT const char *motan_url_addr_host(const motan_url *u, size_t i)
{
    return i < u->naddrs ? u->addrs[i].host : "";
}

MOTAN_EXPORT int motan_url_addr_port(const motan_url *u, size_t i)
{
    return i < u->naddrs ? u->addrs[i].port : 0;
}

MOTAN_EXPORT int motan_url_addr_is_unix(const motan_url *u, size_t i)
{
    return i < u->naddrs ? u->addrs[i].is_unix : 0;
}

/*
 * host "unix:/path" adds a Unix socket; a host with ':' is an IPv6 literal. Characters that
 * would end an address in the text form are refused so that format and parse agree.
 */
MOTAN_EXPORT int motan_url_add_addr(motan_url *u, const char *host, int port)
{
    if (!u || !host || port < 0 || port > 65535)
        return MOTAN_EINVAL;
    int is_unix = strncmp(host, "unix:", 5) == 0;
    if (is_unix) {
        host += 5;
        if (!*host || strpbrk(host, "[]?"))
            return MOTAN_EINVAL;
    } else if (strpbrk(host, "[],/? \t\r\n")) {
        return MOTAN_EINVAL;
    }
    if (u->naddrs == u->caddrs) {
        size_t n = u->caddrs ? 2 * u->caddrs : 2;
        struct url_addr *na = motan_realloc(u->addrs, n * sizeof(*na));
        if (!na)
            return MOTAN_ENOMEM;
        u->addrs = na;
        u->caddrs = n;
    }
    char *h = motan__strdup(host);
    if (!h)
        return MOTAN_ENOMEM;
    u->addrs[u->naddrs++] = (struct url_addr){h, port, is_unix};
    return MOTAN_OK;
}

MOTAN_EXPORT const char *motan_url_get_path(const motan_url *u) { return u->path; }

/*
 * A '?' would start the parameters in the text form, and the parser trims whitespace around
 * the path, so a path holds no '?' and neither starts nor ends with whitespace.
 */
MOTAN_EXPORT int motan_url_set_path(motan_url *u, const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (!u || !path || strchr(path, '?') ||
        (n && ((unsigned char)path[0] <= ' ' || (unsigned char)path[n - 1] <= ' ')))
        return MOTAN_EINVAL;
    char *p = motan__strdup(path);
    if (!p)
        return MOTAN_ENOMEM;
    motan_free(u->path);
    u->path = p;
    return MOTAN_OK;
}

static struct url_param *find_param(const motan_url *u, const char *key)
{
    for (size_t i = 0; i < u->nparams; i++)
        if (strcmp(u->params[i].key, key) == 0)
            return &u->params[i];
    return NULL;
}

MOTAN_EXPORT const char *motan_url_get_param(const motan_url *u, const char *key)
{
    if (!u || !key)
        return NULL;
    struct url_param *p = find_param(u, key);
    return p ? p->val : NULL;
}

MOTAN_EXPORT int motan_url_set_param(motan_url *u, const char *key, const char *val)
{
    if (!u || !key || !*key)
        return MOTAN_EINVAL;
    struct url_param *p = find_param(u, key);
    if (!val) {
        if (p) {
            size_t i = (size_t)(p - u->params);
            motan_free(p->key);
            motan_free(p->val);
            memmove(p, p + 1, (u->nparams - i - 1) * sizeof(*p));
            u->nparams--;
        }
        return MOTAN_OK;
    }
    char *v = motan__strdup(val);
    if (!v)
        return MOTAN_ENOMEM;
    if (p) {
        motan_free(p->val);
        p->val = v;
        return MOTAN_OK;
    }
    if (u->nparams == u->cparams) {
        size_t n = u->cparams ? 2 * u->cparams : 8;
        struct url_param *np = motan_realloc(u->params, n * sizeof(*np));
        if (!np) {
            motan_free(v);
            return MOTAN_ENOMEM;
        }
        u->params = np;
        u->cparams = n;
    }
    char *k = motan__strdup(key);
    if (!k) {
        motan_free(v);
        return MOTAN_ENOMEM;
    }
    u->params[u->nparams++] = (struct url_param){k, v};
    return MOTAN_OK;
}

MOTAN_EXPORT size_t motan_url_param_count(const motan_url *u) { return u->nparams; }

MOTAN_EXPORT const char *motan_url_param_key(const motan_url *u, size_t i)
{
    return i < u->nparams ? u->params[i].key : NULL;
}

MOTAN_EXPORT const char *motan_url_param_value(const motan_url *u, size_t i)
{
    return i < u->nparams ? u->params[i].val : NULL;
}

/* "<method>.<key>" compared in place: effective lookups happen per call, keep them free. */
static const char *method_param(const motan_url *u, const char *method, const char *key)
{
    size_t ml = strlen(method);
    for (size_t i = 0; i < u->nparams; i++) {
        const char *k = u->params[i].key;
        if (strncmp(k, method, ml) == 0 && k[ml] == '.' && strcmp(k + ml + 1, key) == 0)
            return u->params[i].val;
    }
    return NULL;
}

/* An empty value counts as unset, as in Go's URL.GetParam. */
static const char *lookup(const motan_url *u, const char *method, const char *key)
{
    const char *v = NULL;
    if (u && key) {
        if (method && *method)
            v = method_param(u, method, key);
        if (!v || !*v)
            v = motan_url_get_param(u, key);
    }
    if ((!v || !*v) && key)
        v = motan_url_param_default(key);
    return v && *v ? v : NULL;
}

MOTAN_EXPORT const char *motan_url_get_str(const motan_url *u, const char *method, const char *key,
                                           const char *def)
{
    const char *v = lookup(u, method, key);
    return v ? v : def;
}

/* Decimal with optional sign, spaces allowed around it; anything else gives def. */
static int parse_int(const char *s, int64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

MOTAN_EXPORT int64_t motan_url_get_int(const motan_url *u, const char *method, const char *key,
                                       int64_t def)
{
    const char *v = lookup(u, method, key);
    int64_t n;
    return v && parse_int(v, &n) == 0 ? n : def;
}

/* ---- text forms ------------------------------------------------------------------------ */

static int put(motan_buf *b, const char *s) { return motan_buf_append(b, s, strlen(s)); }

/*
 * %-encodes only what the parser would otherwise read differently: Go's FromExtInfo does
 * not decode at all, so values like "g1:3,g2:1" are best left readable.
 */
static int put_encoded(motan_buf *b, const char *s, int is_key)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int esc = *p <= ' ' || *p == 0x7f || *p == '%' || *p == '&' || *p == '+' ||
                  (is_key && *p == '=');
        if (esc) {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (motan_buf_append(b, e, 3) != MOTAN_OK)
                return MOTAN_ENOMEM;
        } else if (motan_buf_append(b, p, 1) != MOTAN_OK) {
            return MOTAN_ENOMEM;
        }
    }
    return MOTAN_OK;
}

/* always_port: Go's identity writes host:port even for port 0. */
static int put_addr(motan_buf *b, const struct url_addr *a, int always_port)
{
    char port[16];
    int rc;
    snprintf(port, sizeof(port), ":%d", a->port);
    if (a->is_unix) {
        rc = put(b, "[unix:") | put(b, a->host) | put(b, "]");
        if (a->port)
            rc |= put(b, port);
        return rc ? MOTAN_ENOMEM : MOTAN_OK;
    }
    int v6 = strchr(a->host, ':') != NULL;
    rc = v6 ? put(b, "[") | put(b, a->host) | put(b, "]") : put(b, a->host);
    if (always_port || a->port || !*a->host)
        rc |= put(b, port);
    return rc ? MOTAN_ENOMEM : MOTAN_OK;
}

static char *finish(motan_buf *b, int rc)
{
    char *s = rc == MOTAN_OK ? motan__strndup((const char *)motan_buf_data(b), motan_buf_len(b))
                             : NULL;
    motan_buf_free(b);
    return s;
}

MOTAN_EXPORT char *motan_url_format(const motan_url *u)
{
    motan_buf *b = u ? motan_buf_new(128) : NULL;
    if (!b)
        return NULL;
    int rc = put(b, u->protocol) | put(b, "://");
    for (size_t i = 0; i < u->naddrs && !rc; i++)
        rc |= (i ? put(b, ",") : 0) | put_addr(b, &u->addrs[i], 0);
    if (*u->path)
        rc |= put(b, "/") | put(b, u->path);
    for (size_t i = 0; i < u->nparams && !rc; i++)
        rc |= put(b, i ? "&" : "?") | put_encoded(b, u->params[i].key, 1) | put(b, "=") |
              put_encoded(b, u->params[i].val, 0);
    return finish(b, rc ? MOTAN_ENOMEM : MOTAN_OK);
}

MOTAN_EXPORT char *motan_url_identity(const motan_url *u)
{
    motan_buf *b = u ? motan_buf_new(128) : NULL;
    if (!b)
        return NULL;
    const char *group = motan_url_get_param(u, "group");
    int rc = put(b, u->protocol) | put(b, "://");
    if (u->naddrs)
        rc |= put_addr(b, &u->addrs[0], 1);
    rc |= put(b, "/") | put(b, u->path) | put(b, "?group=") | put(b, group ? group : "");
    return finish(b, rc ? MOTAN_ENOMEM : MOTAN_OK);
}
