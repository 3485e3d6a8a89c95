/* The exposition-format reader of tu_prom.h. Linear searches: test-sized inputs. */
#include "tu_prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct label {
    char *name, *value;
} label;

typedef struct hgroup { /* one histogram series: family + labels without le */
    char *id;
    double last_le, inf_count, count, last_count;
    int nbuckets, has_inf, has_sum, has_count;
} hgroup;

typedef struct state {
    tu_prom *p;
    int line;
    char **helped, **typed, **types, **done;
    size_t nhelped, ntyped, ntypes, ndone;
    char *current;
    hgroup *groups;
    size_t ngroups;
} state;

static int fail(state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(state *s, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(s->p->err, sizeof(s->p->err), "line %d: %s", s->line, msg);
    return -1;
}

static int find(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return (int)i;
    return -1;
}

static void push(char ***list, size_t *n, const char *v)
{
    *list = realloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = strdup(v);
}

static int name_char(char c, int first, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* A metric (colon) or label name at *pp; copied into out. */
static int read_name(const char **pp, char *out, size_t len, int colon)
{
    const char *p = *pp;
    size_t n = 0;
    while (name_char(p[n], n == 0, colon))
        n++;
    if (!n || n >= len)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    *pp = p + n;
    return 0;
}

static void skip_ws(const char **pp)
{
    while (**pp == ' ' || **pp == '\t')
        (*pp)++;
}

static int parse_float(const char *tok, double *v)
{
    if (!strcmp(tok, "+Inf") || !strcmp(tok, "Inf")) {
        *v = INFINITY;
        return 0;
    }
    if (!strcmp(tok, "-Inf")) {
        *v = -INFINITY;
        return 0;
    }
    if (!strcmp(tok, "NaN")) {
        *v = NAN;
        return 0;
    }
    char *end;
    *v = strtod(tok, &end);
    return *tok && !*end && !strchr(tok, 'x') && !strchr(tok, 'X') ? 0 : -1;
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const label *)a)->name, ((const label *)b)->name);
}

static const char *type_of(const state *s, const char *name)
{
    int i = find(s->typed, s->ntyped, name);
    return i < 0 ? NULL : s->types[i];
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && !strcmp(s + a - b, suffix);
}

/* The family a sample name belongs to (malloc'd). */
static char *family_of(const state *s, const char *name)
{
    if (type_of(s, name))
        return strdup(name);
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        if (!ends_with(name, sfx[i]))
            continue;
        char *base = strndup(name, strlen(name) - strlen(sfx[i]));
        const char *t = type_of(s, base);
        if (t && (!strcmp(t, "histogram") || (i > 0 && !strcmp(t, "summary"))))
            return base;
        free(base);
    }
    return strdup(name);
}

static hgroup *group_for(state *s, const char *id)
{
    for (size_t i = 0; i < s->ngroups; i++)
        if (!strcmp(s->groups[i].id, id))
            return &s->groups[i];
    s->groups = realloc(s->groups, (s->ngroups + 1) * sizeof(hgroup));
    hgroup *g = &s->groups[s->ngroups++];
    memset(g, 0, sizeof(*g));
    g->id = strdup(id);
    g->last_le = -INFINITY;
    return g;
}

static int sample_line(state *s, const char *p)
{
    char name[256];
    if (read_name(&p, name, sizeof(name), 1))
        return fail(s, "bad metric name");
    label labels[32];
    size_t nl = 0;
    int rc = 0;
    if (*p == '{') {
        p++;
        for (;;) {
            skip_ws(&p);
            if (*p == '}') {
                p++;
                break;
            }
            char lname[128];
            if (nl == 32 || read_name(&p, lname, sizeof(lname), 0)) {
                rc = fail(s, "bad label name");
                goto out;
            }
            if (!strncmp(lname, "__", 2)) {
                rc = fail(s, "reserved label name %s", lname);
                goto out;
            }
            skip_ws(&p);
            if (*p++ != '=' || (skip_ws(&p), *p++ != '"')) {
                rc = fail(s, "label %s: want =\"value\"", lname);
                goto out;
            }
            char value[1024];
            size_t vn = 0;
            while (*p != '"') {
                if (!*p || *p == '\n' || vn >= sizeof(value) - 1) {
                    rc = fail(s, "unterminated value of label %s", lname);
                    goto out;
                }
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n') {
                        rc = fail(s, "bad escape \\%c in label %s", *p, lname);
                        goto out;
                    }
                    value[vn++] = *p == 'n' ? '\n' : *p;
                    p++;
                } else {
                    value[vn++] = *p++;
                }
            }
            p++;
            value[vn] = '\0';
            for (size_t i = 0; i < nl; i++)
                if (!strcmp(labels[i].name, lname)) {
                    rc = fail(s, "label %s twice", lname);
                    goto out;
                }
            labels[nl].name = strdup(lname);
            labels[nl++].value = strdup(value);
            skip_ws(&p);
            if (*p == ',')
                p++;
            else if (*p != '}') {
                rc = fail(s, "want , or } after label %s", lname);
                goto out;
            }
        }
    }
    if (*p != ' ' && *p != '\t') {
        rc = fail(s, "no space before the value");
        goto out;
    }
    skip_ws(&p);
    char tok[64], ts[64] = "";
    int nt = sscanf(p, "%63s %63s", tok, ts);
    double v;
    if (nt < 1 || parse_float(tok, &v)) {
        rc = fail(s, "bad value '%s'", nt < 1 ? "" : tok);
        goto out;
    }
    if (nt == 2) {
        char *end;
        strtoll(ts, &end, 10);
        if (*end) {
            rc = fail(s, "bad timestamp '%s'", ts);
            goto out;
        }
    }
    /* the family, contiguity */
    char *fam = family_of(s, name);
    if (!s->current || strcmp(s->current, fam)) {
        if (find(s->done, s->ndone, fam) >= 0) {
            rc = fail(s, "family %s is not contiguous", fam);
            free(fam);
            goto out;
        }
        if (s->current)
            push(&s->done, &s->ndone, s->current);
        free(s->current);
        s->current = strdup(fam);
    }
    /* the canonical key */
    qsort(labels, nl, sizeof(label), cmp_label);
    char key[4096], id[4096];
    size_t k = (size_t)snprintf(key, sizeof(key), "%s{", name);
    size_t ki = (size_t)snprintf(id, sizeof(id), "%s{", fam);
    double le = NAN;
    int has_le = 0;
    for (size_t i = 0; i < nl; i++) {
        k += (size_t)snprintf(key + k, sizeof(key) - k, "%s%s=\"%s\"", i ? "," : "", labels[i].name,
                              labels[i].value);
        if (!strcmp(labels[i].name, "le")) {
            has_le = 1;
            if (parse_float(labels[i].value, &le)) {
                rc = fail(s, "bad le \"%s\"", labels[i].value);
                free(fam);
                goto out;
            }
        } else {
            ki += (size_t)snprintf(id + ki, sizeof(id) - ki, "%s=\"%s\",", labels[i].name,
                                   labels[i].value);
        }
    }
    snprintf(key + k, sizeof(key) - k, "}");
    snprintf(id + ki, sizeof(id) - ki, "}");
    for (size_t i = 0; i < s->p->n; i++)
        if (!strcmp(s->p->samples[i].key, key)) {
            rc = fail(s, "series %s twice", key);
            free(fam);
            goto out;
        }
    const char *type = type_of(s, fam);
    if (type && !strcmp(type, "counter") && !(v >= 0))
        rc = fail(s, "counter %s is %g", key, v);
    if (rc == 0 && type && !strcmp(type, "histogram")) {
        hgroup *g = group_for(s, id);
        if (ends_with(name, "_bucket") && strlen(name) == strlen(fam) + 7) {
            if (!has_le)
                rc = fail(s, "bucket without le: %s", key);
            else if (!(le > g->last_le))
                rc = fail(s, "le %g not above %g in %s", le, g->last_le, id);
            else if (v < g->last_count)
                rc = fail(s, "bucket counts decrease in %s", id);
            else {
                g->last_le = le;
                g->last_count = v;
                g->nbuckets++;
                if (isinf(le)) {
                    g->has_inf = 1;
                    g->inf_count = v;
                }
            }
        } else if (ends_with(name, "_sum") && strlen(name) == strlen(fam) + 4) {
            g->has_sum = 1;
        } else if (ends_with(name, "_count") && strlen(name) == strlen(fam) + 6) {
            g->has_count = 1;
            g->count = v;
        } else {
            rc = fail(s, "%s in histogram %s", name, fam);
        }
    }
    if (rc == 0) {
        s->p->samples = realloc(s->p->samples, (s->p->n + 1) * sizeof(tu_prom_sample));
        tu_prom_sample *x = &s->p->samples[s->p->n++];
        x->family = fam;
        x->key = strdup(key);
        x->value = v;
    } else {
        free(fam);
    }
out:
    for (size_t i = 0; i < nl; i++) {
        free(labels[i].name);
        free(labels[i].value);
    }
    return rc;
}

static int comment_line(state *s, const char *p)
{
    p++; /* '#' */
    skip_ws(&p);
    int help = !strncmp(p, "HELP", 4) && (p[4] == ' ' || p[4] == '\t');
    int type = !strncmp(p, "TYPE", 4) && (p[4] == ' ' || p[4] == '\t');
    if (!help && !type)
        return 0; /* a comment */
    p += 4;
    skip_ws(&p);
    char name[256];
    if (read_name(&p, name, sizeof(name), 1))
        return fail(s, "bad metric name in %s", help ? "HELP" : "TYPE");
    if (help) {
        if (find(s->helped, s->nhelped, name) >= 0)
            return fail(s, "second HELP for %s", name);
        if (*p && *p != ' ' && *p != '\t')
            return fail(s, "junk after the name in HELP");
        for (const char *q = p; *q; q++)
            if (*q == '\\' && q[1] != '\\' && q[1] != 'n')
                return fail(s, "bad escape in HELP %s", name);
            else if (*q == '\\')
                q++;
        push(&s->helped, &s->nhelped, name);
        return 0;
    }
    skip_ws(&p);
    char t[32];
    if (sscanf(p, "%31s", t) != 1 || (strcmp(t, "counter") && strcmp(t, "gauge") &&
                                      strcmp(t, "histogram") && strcmp(t, "summary") &&
                                      strcmp(t, "untyped")))
        return fail(s, "bad type for %s", name);
    p += strlen(t);
    skip_ws(&p);
    if (*p)
        return fail(s, "junk after TYPE %s", name);
    if (find(s->typed, s->ntyped, name) >= 0)
        return fail(s, "second TYPE for %s", name);
    for (size_t i = 0; i < s->p->n; i++)
        if (!strcmp(s->p->samples[i].family, name))
            return fail(s, "TYPE %s after its samples", name);
    push(&s->typed, &s->ntyped, name);
    push(&s->types, &s->ntypes, t);
    return 0;
}

int tu_prom_parse(const char *text, tu_prom *p)
{
    memset(p, 0, sizeof(*p));
    state s;
    memset(&s, 0, sizeof(s));
    s.p = p;
    int rc = 0;
    size_t len = strlen(text);
    if (len && text[len - 1] != '\n')
        rc = fail(&s, "the last line does not end with a line feed");
    for (const char *line = text; rc == 0 && *line;) {
        s.line++;
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *buf = strndup(line, n);
        const char *q = buf;
        skip_ws(&q);
        if (!*q)
            rc = 0; /* empty lines are ignored */
        else if (*q == '#')
            rc = comment_line(&s, q);
        else
            rc = sample_line(&s, q);
        free(buf);
        line += n + (nl ? 1 : 0);
    }
    for (size_t i = 0; rc == 0 && i < s.ngroups; i++) {
        hgroup *g = &s.groups[i];
        if (!g->has_inf)
            rc = fail(&s, "histogram %s has no le=\"+Inf\" bucket", g->id);
        else if (!g->has_count || g->count != g->inf_count)
            rc = fail(&s, "histogram %s: _count differs from the +Inf bucket", g->id);
        else if (!g->has_sum)
            rc = fail(&s, "histogram %s has no _sum", g->id);
    }
    size_t tl = 1;
    for (size_t i = 0; i < s.ntyped; i++)
        tl += strlen(s.typed[i]) + strlen(s.types[i]) + 2;
    p->types = calloc(1, tl);
    for (size_t i = 0; i < s.ntyped; i++)
        sprintf(p->types + strlen(p->types), "%s %s\n", s.typed[i], s.types[i]);
    for (size_t i = 0; i < s.nhelped; i++)
        free(s.helped[i]);
    for (size_t i = 0; i < s.ntyped; i++) {
        free(s.typed[i]);
        free(s.types[i]);
    }
    for (size_t i = 0; i < s.ndone; i++)
        free(s.done[i]);
    for (size_t i = 0; i < s.ngroups; i++)
        free(s.groups[i].id);
    free(s.helped);
    free(s.typed);
    free(s.types);
    free(s.done);
    free(s.groups);
    free(s.current);
    return rc;
}

void tu_prom_free(tu_prom *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->samples[i].family);
        free(p->samples[i].key);
    }
    free(p->samples);
    free(p->types);
    memset(p, 0, sizeof(*p));
}

double tu_prom_value(const tu_prom *p, const char *key)
{
    /* Canonicalise the wanted key the way samples are stored. */
    tu_prom tmp;
    char text[4200];
    snprintf(text, sizeof(text), "%s 0\n", key);
    if (tu_prom_parse(text, &tmp) || tmp.n != 1) {
        tu_prom_free(&tmp);
        return -1;
    }
    double v = -1;
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->samples[i].key, tmp.samples[0].key))
            v = p->samples[i].value;
    tu_prom_free(&tmp);
    return v;
}

const char *tu_prom_type(const tu_prom *p, const char *name)
{
    static char t[32];
    size_t n = strlen(name);
    for (const char *l = p->types; l && *l; l = strchr(l, '\n') + 1)
        if (!strncmp(l, name, n) && l[n] == ' ') {
            sscanf(l + n + 1, "%31s", t);
            return t;
        }
    return NULL;
}

size_t tu_prom_count(const tu_prom *p, const char *prefix)
{
    size_t c = 0;
    for (size_t i = 0; i < p->n; i++)
        c += !strncmp(p->samples[i].key, prefix, strlen(prefix));
    return c;
}

double tu_prom_sum(const char *text, const char *name, const char *const *want, int *found)
{
    tu_prom p;
    double sum = 0;
    *found = 0;
    if (tu_prom_parse(text, &p) != 0) {
        fprintf(stderr, "tu_prom_sum: not Prometheus text: %s\n", p.err);
        abort();
    }
    size_t nl = strlen(name);
    for (size_t i = 0; i < p.n; i++) {
        const char *k = p.samples[i].key;
        int ok = !strncmp(k, name, nl) && (k[nl] == '{' || !k[nl]);
        for (int w = 0; ok && want && want[w]; w++)
            ok = strstr(k, want[w]) != NULL;
        if (ok) {
            sum += p.samples[i].value;
            (*found)++;
        }
    }
    tu_prom_free(&p);
    return sum;
}
