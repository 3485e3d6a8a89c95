/*
 * The motan-go agent YAML (docs/agent.md, "Configuration"): every section, entry and key is
 * checked here, before anything listens. An error names the file, the line and the key:
 *
 *   agent.yaml:12: motan-refer.echo.requestTimout: unknown parameter "requestTimout" (did you mean "requestTimeout"?)
 *
 * Refer keys are the client's URL parameters: they are set on a motan_config one by one, so
 * the library checks names and values and the error still points at the line.
 */
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "agent.h"

typedef struct cx {
    const char *file;
    char *err;
    size_t errlen;
} cx;

/* "FILE:LINE: where.key: message"; returns -1. */
__attribute__((format(printf, 5, 6))) static int bad(cx *x, int line, const char *where,
                                                      const char *key, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(x->err, x->errlen, "%s:%d: %s%s%s: %s", x->file, line, where, key ? "." : "",
             key ? key : "", msg);
    return -1;
}

/* ---- small helpers --------------------------------------------------------------------- */

/* Edits between a and b, a swap of neighbours counting as one (typos: "prot" for "port"). */
static size_t edits(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b), d[64][64];
    if (n >= 63 || m >= 63)
        return 99;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* ` (did you mean "x"?)` for a near miss among names, else "". */
static const char *suggest(const char *key, const char *const *names, char *buf, size_t len)
{
    const char *best = NULL;
    size_t bd = strlen(key) / 5 + 1;
    for (size_t i = 0; names[i]; i++) {
        size_t d = edits(key, names[i]);
        if (d <= bd && (!best || d < bd)) {
            best = names[i];
            bd = d;
        }
    }
    if (!best)
        return "";
    snprintf(buf, len, " (did you mean \"%s\"?)", best);
    return buf;
}

static int in(const char *key, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(key, names[i]))
            return 1;
    return 0;
}

static int scalar(cx *x, const ynode *v, const char *where, const char *key, const char **out)
{
    if (v->kind != Y_SCALAR)
        return bad(x, v->line, where, key, "expects a value, not a %s",
                   v->kind == Y_MAP ? "mapping" : "list");
    *out = v->text;
    return 0;
}

static int to_int(cx *x, int line, const char *where, const char *key, const char *s, long lo,
                  long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end)
        return bad(x, line, where, key, "\"%s\" is not an integer", s);
    if (v < lo || v > hi)
        return bad(x, line, where, key, "%ld is out of range %ld..%ld", v, lo, hi);
    *out = (int)v;
    return 0;
}

static int to_bool(cx *x, int line, const char *where, const char *key, const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
        *out = 0;
    else
        return bad(x, line, where, key, "\"%s\" is not true or false", s);
    return 0;
}

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

/* The first non-loopback IPv4 address (what registries publish), else 127.0.0.1. */
static char *local_ip(void)
{
    struct ifaddrs *ifs, *i;
    char buf[INET_ADDRSTRLEN] = "127.0.0.1";
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                continue;
            struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if ((ntohl(a.s_addr) >> 24) == 127)
                continue;
            inet_ntop(AF_INET, &a, buf, sizeof(buf));
            break;
        }
        freeifaddrs(ifs);
    }
    return strdup(buf);
}

/* ---- merged entries (basicRefer / basicService first, the entry's own keys win) ---------- */

typedef struct ent {
    const char *key, *val;
    int line;
} ent;

typedef struct entry {
    ent e[128];
    size_t n;
} entry;

static int entry_add(cx *x, entry *en, const ynode *m, const char *where)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *v = NULL;
        if (scalar(x, m->vals[i], where, m->keys[i], &v))
            return -1;
        size_t j = 0;
        while (j < en->n && strcmp(en->e[j].key, m->keys[i]))
            j++;
        if (j == en->n) {
            if (en->n == sizeof(en->e) / sizeof(en->e[0]))
                return bad(x, m->vals[i]->key_line, where, m->keys[i], "too many keys");
            en->n++;
        }
        en->e[j] = (ent){m->keys[i], v, m->vals[i]->key_line};
    }
    return 0;
}

static const ynode *section(const ynode *root, const char *name)
{
    for (size_t i = 0; i < root->n; i++)
        if (!strcmp(root->keys[i], name))
            return root->vals[i];
    return NULL;
}

/* An entry of section `sec` (a mapping of id -> mapping), merged with its basic entry. */
static int entry_of(cx *x, const ynode *root, const char *sec, const char *basic_sec,
                    const char *basic_key, size_t i, entry *en, char *where, size_t wlen)
{
    const ynode *s = section(root, sec);
    const ynode *m = s->vals[i];
    snprintf(where, wlen, "%s.%s", sec, s->keys[i]);
    en->n = 0;
    if (m->kind != Y_MAP)
        return bad(x, m->line, where, NULL, "expects a mapping of keys");
    for (size_t k = 0; basic_key && k < m->n; k++) {
        if (strcmp(m->keys[k], basic_key))
            continue;
        const char *id = NULL;
        if (scalar(x, m->vals[k], where, basic_key, &id))
            return -1;
        const ynode *b = section(root, basic_sec);
        const ynode *bm = NULL;
        for (size_t j = 0; b && b->kind == Y_MAP && j < b->n; j++)
            if (!strcmp(b->keys[j], id))
                bm = b->vals[j];
        if (!bm)
            return bad(x, m->vals[k]->key_line, where, basic_key, "no \"%s\" in %s", id, basic_sec);
        char bw[300];
        snprintf(bw, sizeof(bw), "%s.%s", basic_sec, id);
        if (bm->kind != Y_MAP)
            return bad(x, bm->line, bw, NULL, "expects a mapping of keys");
        for (size_t j = 0; j < bm->n; j++)
            if (!strcmp(bm->keys[j], basic_key))
                return bad(x, bm->vals[j]->key_line, bw, basic_key, "a basic entry cannot name another");
        if (entry_add(x, en, bm, bw))
            return -1;
    }
    return entry_add(x, en, m, where);
}

static const ent *get(const entry *en, const char *key)
{
    for (size_t i = 0; i < en->n; i++)
        if (!strcmp(en->e[i].key, key))
            return &en->e[i];
    return NULL;
}

/* ---- motan-agent ----------------------------------------------------------------------- */

static const char *const agent_keys[] = {
    "port", "eport", "hport", "mport", "unixSock", "application", "log_dir", "pidfile", "host",
    "available", "httpProxyEnable", "drainTimeout",
    /* motan-go keys accepted and ignored (a warning says so) */
    "registry", "runtime_dir", "snapshot_dir", "log_async", "log_structured", "rotate_per_hour",
    "log_level", NULL};
static const char *const agent_ignored[] = {"registry", "runtime_dir", "snapshot_dir", "log_async",
                                            "log_structured", "rotate_per_hour", "log_level", NULL};

static int agent_section(cx *x, const ynode *s, agent_conf *c)
{
    const char *w = "motan-agent";
    int hport_set = 0, http_enable = 0;
    if (s->kind != Y_MAP)
        return bad(x, s->line, w, NULL, "expects a mapping of keys");
    for (size_t i = 0; i < s->n; i++) {
        const char *k = s->keys[i], *v = NULL;
        int line = s->vals[i]->key_line;
        char sb[96];
        if (!in(k, agent_keys))
            return bad(x, line, w, k, "unknown key%s", suggest(k, agent_keys, sb, sizeof(sb)));
        if (scalar(x, s->vals[i], w, k, &v))
            return -1;
        int rc = 0;
        if (in(k, agent_ignored))
            agent_log(LOG_WARN, "%s:%d: %s.%s: accepted from motan-go configurations, ignored",
                      x->file, line, w, k);
        else if (!strcmp(k, "port"))
            rc = to_int(x, line, w, k, v, 0, 65535, &c->port);
        else if (!strcmp(k, "eport"))
            rc = to_int(x, line, w, k, v, 0, 65535, &c->eport);
        else if (!strcmp(k, "mport"))
            rc = to_int(x, line, w, k, v, 0, 65535, &c->mport);
        else if (!strcmp(k, "hport")) {
            rc = to_int(x, line, w, k, v, 0, 65535, &c->hport);
            hport_set = 1;
        } else if (!strcmp(k, "httpProxyEnable"))
            rc = to_bool(x, line, w, k, v, &http_enable);
        else if (!strcmp(k, "available"))
            rc = to_bool(x, line, w, k, v, &c->available);
        else if (!strcmp(k, "drainTimeout"))
            rc = to_int(x, line, w, k, v, 0, 3600000, &c->drain_ms);
        else if (!*v)
            rc = bad(x, line, w, k, "is empty");
        else if (!strcmp(k, "unixSock"))
            rc = (c->unix_sock = sdup(v)) ? 0 : -1;
        else if (!strcmp(k, "application"))
            rc = (free(c->application), c->application = sdup(v)) ? 0 : -1;
        else if (!strcmp(k, "log_dir"))
            rc = (c->log_dir = sdup(v)) ? 0 : -1;
        else if (!strcmp(k, "pidfile"))
            rc = (c->pidfile = sdup(v)) ? 0 : -1;
        else if (!strcmp(k, "host"))
            rc = (free(c->host), c->host = sdup(v)) ? 0 : -1;
        if (rc)
            return -1;
    }
    if (!hport_set)
        c->hport = http_enable ? AGENT_DEFAULT_HPORT : -1;
    return 0;
}

/* ---- motan-registry -------------------------------------------------------------------- */

static const char *const reg_common[] = {"protocol", "address", "host", "port", "path", NULL};

static int registry_entry(cx *x, const ynode *root, size_t i, conf_registry *r, int *line)
{
    char where[300];
    entry en;
    if (entry_of(x, root, "motan-registry", NULL, NULL, i, &en, where, sizeof(where)))
        return -1;
    const ynode *s = section(root, "motan-registry");
    *line = s->vals[i]->key_line;
    r->id = sdup(s->keys[i]);
    const ent *proto = get(&en, "protocol");
    if (!proto)
        return bad(x, *line, where, "protocol", "is missing (direct, zookeeper, consul or file)");
    const char *scheme = proto->val;
    if (!strcmp(scheme, "zk"))
        scheme = "zookeeper";
    const motan_registry_ops *ops = motan_registry_find_ops(scheme);
    if (!ops)
        return bad(x, proto->line, where, "protocol", "unknown registry \"%s\" (direct, zookeeper, consul, file)",
                   proto->val);
    r->scheme = sdup(scheme);
    const char *const *own = ops->params;
    const ent *addr = get(&en, "address"), *host = get(&en, "host"), *port = get(&en, "port"),
              *path = get(&en, "path");
    char abuf[1024] = "";
    int file = !strcmp(scheme, "file");
    if (file) {
        if (!path || !*path->val)
            return bad(x, path ? path->line : *line, where, "path", "a file registry needs the file name");
        if (path->val[0] == '/') {
            snprintf(abuf, sizeof(abuf), "%s", path->val);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof(cwd)))
                return bad(x, path->line, where, "path", "cannot resolve a relative name");
            snprintf(abuf, sizeof(abuf), "%.500s/%.500s", cwd, path->val);
        }
    } else if (addr) {
        snprintf(abuf, sizeof(abuf), "%s", addr->val);
    } else if (host) {
        int p = 0;
        if (!port)
            return bad(x, host->line, where, "port", "is missing (host needs a port)");
        if (to_int(x, port->line, where, "port", port->val, 1, 65535, &p))
            return -1;
        snprintf(abuf, sizeof(abuf), "%s:%d", host->val, p);
    } else if (!strcmp(scheme, "consul")) {
        snprintf(abuf, sizeof(abuf), "127.0.0.1:8500");
    } else {
        return bad(x, *line, where, "address", "is missing (host:port[,host:port])");
    }
    r->addrs = sdup(abuf);
    r->params = calloc(en.n + 1, sizeof(*r->params));
    if (!r->addrs || !r->params)
        return bad(x, *line, where, NULL, "out of memory");

    char url[2048];
    size_t ul = (size_t)snprintf(url, sizeof(url), "%s://%s%s", r->scheme, file ? "" : abuf,
                                 file ? abuf : "");
    for (size_t k = 0; k < en.n; k++) {
        const char *key = en.e[k].key;
        char sb[96];
        if (in(key, reg_common))
            continue;
        if (!strcmp(scheme, "zookeeper") && !strcmp(key, "registrySessionTimeout"))
            key = "sessionTimeout"; /* motan-go's name */
        if (!strcmp(scheme, "zookeeper") &&
            (!strcmp(key, "requestTimeout") || !strcmp(key, "connectTimeout"))) {
            agent_log(LOG_WARN, "%s:%d: %s.%s: not a ZooKeeper registry parameter, ignored", x->file,
                      en.e[k].line, where, en.e[k].key);
            continue;
        }
        if (!own || !in(key, own)) {
            const char *names[16];
            size_t n = 0;
            for (size_t j = 0; reg_common[j]; j++)
                names[n++] = reg_common[j];
            for (size_t j = 0; own && own[j] && n < 15; j++)
                names[n++] = own[j];
            names[n] = NULL;
            return bad(x, en.e[k].line, where, en.e[k].key, "unknown key for a %s registry%s", scheme,
                       suggest(key, names, sb, sizeof(sb)));
        }
        r->params[r->nparams].k = sdup(key);
        r->params[r->nparams].v = sdup(en.e[k].val);
        r->nparams++;
        ul += (size_t)snprintf(url + ul, ul < sizeof(url) ? sizeof(url) - ul : 0, "%c%s=%s",
                               r->nparams == 1 ? '?' : '&', key, en.e[k].val);
    }
    if (ul >= sizeof(url))
        return bad(x, *line, where, NULL, "too long");
    motan_url *u = NULL;
    char err[256];
    if (motan_url_parse(url, strlen(url), &u, err, sizeof(err)) != MOTAN_OK)
        return bad(x, addr ? addr->line : *line, where, "address", "%s", err);
    motan_url_free(u);
    r->url = sdup(url);
    return 0;
}

/* ---- motan-refer ----------------------------------------------------------------------- */

/* The client URL of a refer: registry addresses, the service path, the registry's params. */
static int refer_base(const conf_registry *r, const char *path, char *buf, size_t len)
{
    size_t n;
    if (!strcmp(r->scheme, "direct")) {
        /* motan2://h:p,[unix:/p]/path: the direct registry is the client's own */
        n = (size_t)snprintf(buf, len, "motan2://");
        char *copy = strdup(r->addrs), *save = NULL;
        int first = 1;
        for (char *a = copy ? strtok_r(copy, ",", &save) : NULL; a; a = strtok_r(NULL, ",", &save)) {
            while (*a == ' ')
                a++;
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, !strncmp(a, "unix:", 5) ? "%s[%s]" : "%s%s",
                                  first ? "" : ",", a);
            first = 0;
        }
        free(copy);
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "/%s", path);
    } else if (!strcmp(r->scheme, "file")) {
        n = (size_t)snprintf(buf, len, "file://%s/%s", r->addrs, path);
    } else {
        n = (size_t)snprintf(buf, len, "%s://%s/%s", r->scheme, r->addrs, path);
    }
    for (size_t i = 0; i < r->nparams; i++)
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%c%s=%s", i ? '&' : '?', r->params[i].k,
                              r->params[i].v);
    return n < len ? 0 : -1;
}

static int refer_entry(cx *x, const ynode *root, size_t i, const agent_conf *c, conf_refer *rf,
                       int *line)
{
    char where[300];
    entry en;
    if (entry_of(x, root, "motan-refer", "motan-basicRefer", "basicRefer", i, &en, where, sizeof(where)))
        return -1;
    const ynode *s = section(root, "motan-refer");
    *line = rf->line = s->vals[i]->key_line;
    rf->id = sdup(s->keys[i]);
    const ent *path = get(&en, "path"), *reg = get(&en, "registry");
    if (!path || !*path->val)
        return bad(x, path ? path->line : *line, where, "path", "is missing (the service name)");
    if (!reg)
        return bad(x, *line, where, "registry", "is missing (an id of motan-registry)");
    const conf_registry *r = conf_registry_find(c, reg->val);
    if (!r)
        return bad(x, reg->line, where, "registry", "no \"%s\" in motan-registry", reg->val);
    rf->path = sdup(path->val);
    rf->registry = sdup(reg->val);

    char base[4096], err[512];
    if (refer_base(r, path->val, base, sizeof(base)))
        return bad(x, *line, where, NULL, "the URL is too long");
    motan_config *cfg = NULL;
    if (motan_config_new(base, &cfg, err, sizeof(err)) != MOTAN_OK)
        return bad(x, reg->line, where, "registry", "%s", err);
    int rc = 0, min_line = 0, max_line = 0;
    const char *filters = NULL;
    rf->min_tmo = rf->max_tmo = -1;
    for (size_t k = 0; k < en.n && !rc; k++) {
        const char *key = en.e[k].key, *v = en.e[k].val;
        int kl = en.e[k].line;
        if (!strcmp(key, "path") || !strcmp(key, "registry") || !strcmp(key, "basicRefer"))
            continue;
        if (!strcmp(key, "protocol")) {
            if (strcmp(v, "motan2"))
                rc = bad(x, kl, where, key, "\"%s\" is not supported (motan2)", v);
            continue;
        }
        if (!strcmp(key, "minRequestTimeout") || !strcmp(key, "maxRequestTimeout")) {
            int *dst = key[1] == 'i' ? &rf->min_tmo : &rf->max_tmo;
            *(key[1] == 'i' ? &min_line : &max_line) = kl;
            rc = to_int(x, kl, where, key, v, 1, 86400000, dst);
            continue;
        }
        const char *dot = strrchr(key, '.');
        char method[256] = "";
        if (dot && (size_t)(dot - key) < sizeof(method))
            snprintf(method, sizeof(method), "%.*s", (int)(dot - key), key);
        if (motan_config_set(cfg, dot ? method : NULL, dot ? dot + 1 : key, v, err, sizeof(err)) !=
            MOTAN_OK) {
            if (!strcmp(key, "filter")) { /* motan-go's filters libmotan does not have */
                agent_log(LOG_WARN, "%s:%d: %s.filter: %s; ignored", x->file, kl, where, err);
                continue;
            }
            rc = bad(x, kl, where, key, "%s", err);
        } else if (!strcmp(key, "filter")) {
            filters = v;
        }
    }
    /* the metrics filter always runs: it feeds /metrics */
    if (!rc && (!filters || !strstr(filters, "metrics"))) {
        char fl[512];
        snprintf(fl, sizeof(fl), "%s%smetrics", filters ? filters : "", filters ? "," : "");
        if (motan_config_set(cfg, NULL, "filter", fl, err, sizeof(err)) != MOTAN_OK)
            rc = bad(x, *line, where, "filter", "%s", err);
    }
    char *url = rc ? NULL : motan_config_to_url(cfg);
    motan_config_free(cfg);
    if (rc)
        return -1;
    if (!url)
        return bad(x, *line, where, NULL, "out of memory");
    motan_url *u = NULL;
    rc = motan_url_parse(url, strlen(url), &u, err, sizeof(err));
    if (rc == MOTAN_OK) {
        rf->url = sdup(url);
        rf->group = sdup(motan_url_get_str(u, NULL, "group", "default_rpc"));
        const char *ver = motan_url_get_param(u, "version");
        rf->version = ver ? sdup(ver) : NULL;
        const char *app = motan_url_get_param(u, "application");
        rf->application = sdup(app && *app ? app : c->application);
        rf->timeout_ms = (int)motan_url_get_int(u, NULL, "requestTimeout", 1000);
    }
    motan_url_free(u);
    motan_free(url);
    if (rc != MOTAN_OK)
        return bad(x, *line, where, NULL, "%s", err);
    /* motan-go's bounds of M_tmo: half and twice the refer's timeout */
    if (rf->min_tmo < 0)
        rf->min_tmo = rf->timeout_ms / 2 > 0 ? rf->timeout_ms / 2 : 1;
    if (rf->max_tmo < 0)
        rf->max_tmo = rf->timeout_ms * 2;
    if (rf->min_tmo > rf->max_tmo)
        return bad(x, max_line ? max_line : min_line, where,
                   max_line ? "maxRequestTimeout" : "minRequestTimeout",
                   "minRequestTimeout %d is above maxRequestTimeout %d", rf->min_tmo, rf->max_tmo);
    return 0;
}

/* ---- motan-service --------------------------------------------------------------------- */

static const char *const service_keys[] = {
    "path", "group", "version", "registry", "basicService", "export", "provider", "proxyAddress",
    "serialization", "requestTimeout", "application", "module", "weight", "mingzSize",
    "healthInterval", "connections", "protocol", "filter", NULL};

static int service_entry(cx *x, const ynode *root, size_t i, const agent_conf *c,
                         conf_service *sv, int *line)
{
    char where[300];
    entry en;
    if (entry_of(x, root, "motan-service", "motan-basicService", "basicService", i, &en, where,
                 sizeof(where)))
        return -1;
    const ynode *s = section(root, "motan-service");
    *line = sv->line = s->vals[i]->key_line;
    sv->id = sdup(s->keys[i]);
    sv->port = c->eport;
    sv->timeout_ms = 1000;
    sv->health_ms = 1000;
    sv->connections = 4;
    char params[2048] = "";
    size_t pl = 0;
    const char *group = "default_rpc";
    for (size_t k = 0; k < en.n; k++) {
        const char *key = en.e[k].key, *v = en.e[k].val;
        int kl = en.e[k].line, n = 0;
        char sb[96];
        if (!in(key, service_keys))
            return bad(x, kl, where, key, "unknown key%s", suggest(key, service_keys, sb, sizeof(sb)));
        if (!strcmp(key, "basicService"))
            continue;
        if (!strcmp(key, "filter")) {
            agent_log(LOG_WARN, "%s:%d: %s.filter: motan-go filters are not supported; ignored",
                      x->file, kl, where);
            continue;
        }
        if (!*v)
            return bad(x, kl, where, key, "is empty");
        if (!strcmp(key, "path")) {
            sv->path = sdup(v);
        } else if (!strcmp(key, "group")) {
            group = v;
        } else if (!strcmp(key, "registry")) {
            if (!conf_registry_find(c, v))
                return bad(x, kl, where, key, "no \"%s\" in motan-registry", v);
            sv->registry = sdup(v);
        } else if (!strcmp(key, "export")) {
            const char *colon = strrchr(v, ':');
            if (colon && strncmp(v, "motan2:", 7))
                return bad(x, kl, where, key, "\"%s\": only motan2 is exported (motan2:PORT)", v);
            if (to_int(x, kl, where, key, colon ? colon + 1 : v, 0, 65535, &sv->port))
                return -1;
        } else if (!strcmp(key, "provider")) {
            if (strcmp(v, "http"))
                return bad(x, kl, where, key, "provider \"%s\" is not supported (http)", v);
        } else if (!strcmp(key, "protocol")) {
            if (strcmp(v, "motan2"))
                return bad(x, kl, where, key, "\"%s\" is not supported (motan2)", v);
        } else if (!strcmp(key, "proxyAddress")) {
            const char *colon = strrchr(v, ':');
            int port;
            struct sockaddr_un sun;
            if (!strncmp(v, "unix:", 5)) {
                if (!v[5])
                    return bad(x, kl, where, key, "no socket path after unix:");
                if (strlen(v + 5) >= sizeof(sun.sun_path))
                    return bad(x, kl, where, key, "the socket path is %zu bytes long (at most %zu)",
                               strlen(v + 5), sizeof(sun.sun_path) - 1);
            } else {
                if (!colon || colon == v || strpbrk(v, " \t/?#@"))
                    return bad(x, kl, where, key, "\"%s\" is not host:port or unix:PATH", v);
                if (to_int(x, kl, where, key, colon + 1, 1, 65535, &port))
                    return -1;
            }
            sv->proxy = sdup(v);
        } else if (!strcmp(key, "requestTimeout")) {
            if (to_int(x, kl, where, key, v, 1, 86400000, &sv->timeout_ms))
                return -1;
            n = 1;
        } else if (!strcmp(key, "healthInterval")) {
            if (to_int(x, kl, where, key, v, 10, 86400000, &sv->health_ms))
                return -1;
        } else if (!strcmp(key, "connections")) {
            if (to_int(x, kl, where, key, v, 1, 64, &sv->connections))
                return -1;
        } else if (!strcmp(key, "serialization")) {
            int id = motan_serialization_by_name(v);
            if (id < 0 || !motan_serialization_supported(id))
                return bad(x, kl, where, key, "\"%s\" is not supported (simple, msgpack, json)", v);
            n = 1;
        } else if (!strcmp(key, "weight") || !strcmp(key, "mingzSize")) {
            int dummy;
            if (to_int(x, kl, where, key, v, key[0] == 'w' ? 1 : 0, key[0] == 'w' ? 500 : INT_MAX, &dummy))
                return -1;
            n = 1;
        } else if (!strcmp(key, "version")) {
            sv->version = sdup(v);
            n = 1;
        } else { /* application, module: published as they are */
            n = 1;
        }
        if (n)
            pl += (size_t)snprintf(params + pl, pl < sizeof(params) ? sizeof(params) - pl : 0, "&%s=%s",
                                   key, v);
    }
    if (!sv->path)
        return bad(x, *line, where, "path", "is missing (the service name)");
    if (!sv->proxy)
        return bad(x, *line, where, "proxyAddress", "is missing (the HTTP backend, host:port or unix:PATH)");
    sv->group = sdup(group);
    if (!strstr(params, "&application="))
        pl += (size_t)snprintf(params + pl, pl < sizeof(params) ? sizeof(params) - pl : 0,
                               "&application=%s", c->application);
    if (pl >= sizeof(params))
        return bad(x, *line, where, NULL, "too long");
    char node[4096];
    int nl = snprintf(node, sizeof(node), "motan2://%s:1/%s?group=%s%s", c->host, sv->path, group,
                      params);
    if (nl < 0 || (size_t)nl >= sizeof(node))
        return bad(x, *line, where, NULL, "too long");
    motan_url *u = NULL;
    char err[256];
    if (motan_url_parse(node, (size_t)nl, &u, err, sizeof(err)) != MOTAN_OK)
        return bad(x, *line, where, NULL, "%s", err);
    motan_url_free(u);
    sv->node = sdup(strchr(node + 9, '?') + 1); /* the query: host and port come at export */
    for (size_t j = 0; j < c->nservices; j++)
        if (!strcmp(c->services[j].path, sv->path) && !strcmp(c->services[j].group, sv->group))
            return bad(x, *line, where, "path", "%s in group %s is exported by %s already", sv->path,
                       sv->group, c->services[j].id);
    return 0;
}

/* ---- the file -------------------------------------------------------------------------- */

static const char *const sections[] = {"motan-agent", "motan-registry", "motan-basicRefer",
                                       "motan-refer", "motan-basicService", "motan-service", NULL};

const conf_registry *conf_registry_find(const agent_conf *c, const char *id)
{
    for (size_t i = 0; i < c->nregs; i++)
        if (!strcmp(c->regs[i].id, id))
            return &c->regs[i];
    return NULL;
}

static int id_sections(cx *x, const ynode *root)
{
    for (size_t i = 0; i < root->n; i++) {
        const char *name = root->keys[i];
        char sb[96];
        if (!in(name, sections))
            return bad(x, root->vals[i]->key_line, name, NULL, "unknown section%s",
                       suggest(name, sections, sb, sizeof(sb)));
        if (!strcmp(name, "motan-agent"))
            continue;
        const ynode *s = root->vals[i];
        if (s->kind == Y_SCALAR && !*s->text)
            continue; /* an empty section */
        if (s->kind != Y_MAP)
            return bad(x, s->line, name, NULL, "expects a mapping of entries (id: {...})");
    }
    return 0;
}

static size_t count(const ynode *root, const char *name)
{
    const ynode *s = section(root, name);
    return s && s->kind == Y_MAP ? s->n : 0;
}

agent_conf *conf_load(const char *file, char *err, size_t errlen)
{
    cx x = {file, err, errlen};
    ynode *root = NULL;
    if (yaml_load(file, &root, err, errlen))
        return NULL;
    agent_conf *c = calloc(1, sizeof(*c));
    if (!c) {
        ynode_free(root);
        snprintf(err, errlen, "%s: out of memory", file);
        return NULL;
    }
    c->file = sdup(file);
    c->port = AGENT_DEFAULT_PORT;
    c->eport = AGENT_DEFAULT_EPORT;
    c->mport = AGENT_DEFAULT_MPORT;
    c->hport = -1;
    c->drain_ms = 5000;
    c->application = sdup("motan-agent");
    c->host = local_ip();
    int rc = id_sections(&x, root);
    const ynode *a = section(root, "motan-agent");
    if (!rc && a && !(a->kind == Y_SCALAR && !*a->text))
        rc = agent_section(&x, a, c);

    size_t nr = count(root, "motan-registry"), nf = count(root, "motan-refer"),
           ns = count(root, "motan-service");
    c->regs = calloc(nr + 1, sizeof(*c->regs));
    c->refers = calloc(nf + 1, sizeof(*c->refers));
    c->services = calloc(ns + 1, sizeof(*c->services));
    if (!rc && (!c->regs || !c->refers || !c->services))
        rc = bad(&x, 1, file, NULL, "out of memory");
    int line;
    for (size_t i = 0; !rc && i < nr; i++) {
        rc = registry_entry(&x, root, i, &c->regs[i], &line);
        c->nregs = i + 1;
    }
    for (size_t i = 0; !rc && i < nf; i++) {
        rc = refer_entry(&x, root, i, c, &c->refers[i], &line);
        c->nrefers = i + 1;
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(c->refers[j].path, c->refers[i].path) &&
                !strcmp(c->refers[j].group, c->refers[i].group) &&
                !strcmp(c->refers[j].version ? c->refers[j].version : "",
                        c->refers[i].version ? c->refers[i].version : ""))
                rc = bad(&x, line, "motan-refer", c->refers[i].id,
                         "the same service, group and version as %s", c->refers[j].id);
    }
    for (size_t i = 0; !rc && i < ns; i++) {
        rc = service_entry(&x, root, i, c, &c->services[i], &line);
        c->nservices = i + 1;
    }
    ynode_free(root);
    if (rc) {
        conf_free(c);
        return NULL;
    }
    return c;
}

void conf_refer_clear(conf_refer *r)
{
    free(r->id);
    free(r->path);
    free(r->group);
    free(r->version);
    free(r->registry);
    free(r->url);
    free(r->application);
    memset(r, 0, sizeof(*r));
}

int conf_refer_copy(conf_refer *dst, const conf_refer *src)
{
    *dst = *src;
    dst->id = sdup(src->id);
    dst->path = sdup(src->path);
    dst->group = sdup(src->group);
    dst->version = sdup(src->version);
    dst->registry = sdup(src->registry);
    dst->url = sdup(src->url);
    dst->application = sdup(src->application);
    if (!dst->id || !dst->path || !dst->group || (src->version && !dst->version) ||
        !dst->registry || !dst->url || !dst->application) {
        conf_refer_clear(dst);
        return -1;
    }
    return 0;
}

void conf_service_clear(conf_service *s)
{
    free(s->id);
    free(s->path);
    free(s->group);
    free(s->version);
    free(s->registry);
    free(s->proxy);
    free(s->node);
    memset(s, 0, sizeof(*s));
}

int conf_service_copy(conf_service *dst, const conf_service *src)
{
    *dst = *src;
    dst->id = sdup(src->id);
    dst->path = sdup(src->path);
    dst->group = sdup(src->group);
    dst->version = sdup(src->version);
    dst->registry = sdup(src->registry);
    dst->proxy = sdup(src->proxy);
    dst->node = sdup(src->node);
    if (!dst->id || !dst->path || !dst->group || (src->version && !dst->version) ||
        (src->registry && !dst->registry) || !dst->proxy || !dst->node) {
        conf_service_clear(dst);
        return -1;
    }
    return 0;
}

void conf_free(agent_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nregs; i++) {
        conf_registry *r = &c->regs[i];
        for (size_t k = 0; k < r->nparams; k++) {
            free(r->params[k].k);
            free(r->params[k].v);
        }
        free(r->params);
        free(r->id);
        free(r->scheme);
        free(r->addrs);
        free(r->url);
    }
    for (size_t i = 0; i < c->nrefers; i++)
        conf_refer_clear(&c->refers[i]);
    for (size_t i = 0; i < c->nservices; i++)
        conf_service_clear(&c->services[i]);
    free(c->regs);
    free(c->refers);
    free(c->services);
    free(c->file);
    free(c->unix_sock);
    free(c->application);
    free(c->log_dir);
    free(c->pidfile);
    free(c->host);
    free(c);
}
