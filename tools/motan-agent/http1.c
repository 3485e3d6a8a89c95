/*
 * An HTTP/1.1 answer, parsed as it arrives (RFC 9112): the status line, the header fields,
 * then a body framed by Content-Length, by chunked transfer coding, or by the end of the
 * connection; 1xx interim answers are skipped. Everything a backend sends is bounded: a line
 * (H1_MAX_LINE), the head with its trailers (H1_MAX_HEAD, H1_MAX_FIELDS) and the decoded body
 * (max_body). The parser owns nothing but the body buffer and never reads past its answer, so
 * what follows stays in the input (a well-behaved backend sends nothing there).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "agent.h"

enum { S_STATUS, S_FIELDS, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END, S_TRAILERS, S_UNTIL_EOF,
       S_DONE };

int h1_resp_init(h1_resp *r, size_t max_body)
{
    memset(r, 0, sizeof(*r));
    r->max_body = max_body;
    r->length = -1;
    r->body = evbuffer_new();
    return r->body ? 0 : -1;
}

void h1_resp_clear(h1_resp *r)
{
    if (r->body)
        evbuffer_free(r->body);
    r->body = NULL;
}

void h1_resp_reset(h1_resp *r)
{
    struct evbuffer *body = r->body;
    size_t max = r->max_body;
    memset(r, 0, sizeof(*r));
    r->max_body = max;
    r->length = -1;
    r->body = body;
    if (body)
        evbuffer_drain(body, evbuffer_get_length(body));
}

static int fail(h1_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(h1_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    return H1_ERROR;
}

/* The start of a line the backend sent, printable (for messages and logs). */
static const char *shown(const char *l, char *out, size_t len)
{
    size_t i = 0;
    for (; l[i] && i + 4 < len && i < 60; i++)
        out[i] = l[i] >= 0x20 && l[i] < 0x7f && l[i] != '"' ? l[i] : '?';
    if (l[i])
        out[i++] = '.', out[i++] = '.', out[i++] = '.';
    out[i] = '\0';
    return out;
}

/*
 * The next line of in (CRLF or a bare LF taken off) into line (H1_MAX_LINE + 2 bytes),
 * NUL-terminated. 1 when there was one, 0 when more input is needed, -1 (r->error set) when
 * it is over H1_MAX_LINE.
 */
static int next_line(h1_resp *r, struct evbuffer *in, char *line, size_t *len)
{
    size_t eol_len = 0;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
    if (p.pos < 0) { /* no end yet: at most a line and its CR may wait for it */
        if (evbuffer_get_length(in) > H1_MAX_LINE + 1)
            return fail(r, "a line longer than %d bytes", H1_MAX_LINE), -1;
        return 0;
    }
    size_t n = (size_t)p.pos;
    if (n > H1_MAX_LINE + 1)
        return fail(r, "a line longer than %d bytes", H1_MAX_LINE), -1;
    evbuffer_remove(in, line, n);
    evbuffer_drain(in, eol_len);
    if (n && line[n - 1] == '\r')
        n--;
    if (n > H1_MAX_LINE)
        return fail(r, "a line longer than %d bytes", H1_MAX_LINE), -1;
    line[n] = '\0';
    *len = n;
    return 1;
}

/* "HTTP/1.x SSS[ reason]" */
static int status_line(h1_resp *r, const char *l, size_t n)
{
    char q[80];
    if (n < 12 || strncmp(l, "HTTP/1.", 7) || !isdigit((unsigned char)l[7]) || l[8] != ' ' ||
        !isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
        !isdigit((unsigned char)l[11]) || (n > 12 && l[12] != ' '))
        return fail(r, "the status line is not HTTP/1.x: \"%s\"", shown(l, q, sizeof(q)));
    r->minor = l[7] - '0';
    r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (r->status < 100)
        return fail(r, "the status line is not HTTP/1.x: \"%s\"", shown(l, q, sizeof(q)));
    r->keep_alive = r->minor >= 1;
    return H1_MORE;
}

static int is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the comma-separated list v hold token t (any case)? */
static int has_token(const char *v, const char *t)
{
    size_t tl = strlen(t);
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *te = e;
        while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - p) == tl && !strncasecmp(p, t, tl))
            return 1;
        p = e;
    }
    return 0;
}

static int field(h1_resp *r, char *l)
{
    char q[80];
    if (*l == ' ' || *l == '\t')
        return fail(r, "an obsolete folded header line: \"%s\"", shown(l, q, sizeof(q)));
    char *colon = strchr(l, ':');
    if (!colon || colon == l)
        return fail(r, "a header line without a name: \"%s\"", shown(l, q, sizeof(q)));
    for (char *c = l; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(r, "a bad header name: \"%s\"", shown(l, q, sizeof(q)));
    *colon = '\0';
    char *v = colon + 1, *e = v + strlen(v);
    while (*v == ' ' || *v == '\t')
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    if (!strcasecmp(l, "Content-Length")) {
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
            return fail(r, "a bad Content-Length: \"%s\"", shown(v, q, sizeof(q)));
        long long n = atoll(v);
        if (r->length >= 0 && r->length != n)
            return fail(r, "two different Content-Lengths (%s)", shown(v, q, sizeof(q)));
        r->length = n;
    } else if (!strcasecmp(l, "Transfer-Encoding")) {
        /* chunked is the only coding asked for (none is): anything else cannot be read */
        if (strcasecmp(v, "chunked"))
            return fail(r, "an unsupported Transfer-Encoding: \"%s\"", shown(v, q, sizeof(q)));
        r->chunked = 1;
    } else if (!strcasecmp(l, "Connection")) {
        if (has_token(v, "close"))
            r->close = 1;
        else if (has_token(v, "keep-alive"))
            r->keep_alive = 1;
    }
    return H1_MORE;
}

/* The head is complete: how the body is framed (RFC 9112 section 6.3). */
static int head_done(h1_resp *r)
{
    if (r->status < 200) {
        if (r->status == 101)
            return fail(r, "101 Switching Protocols");
        size_t head = r->head_bytes; /* an interim answer: the real one follows */
        h1_resp_reset(r);
        r->head_bytes = head;
        return H1_MORE;
    }
    if (r->close)
        r->keep_alive = 0;
    if (r->status == 204 || r->status == 304) {
        r->state = S_DONE;
        return H1_DONE;
    }
    if (r->chunked) {
        if (r->length >= 0)
            r->keep_alive = 0; /* both framings: the chunks win, the connection is not reused */
        r->state = S_CHUNK_SIZE;
        return H1_MORE;
    }
    if (r->length >= 0) {
        if ((uint64_t)r->length > r->max_body)
            return fail(r, "a body of %lld bytes, over the limit of %zu", (long long)r->length, r->max_body);
        r->left = (uint64_t)r->length;
        r->state = r->left ? S_BODY : S_DONE;
        return r->left ? H1_MORE : H1_DONE;
    }
    r->keep_alive = 0; /* the end of the connection ends the body */
    r->state = S_UNTIL_EOF;
    return H1_MORE;
}

/* Moves up to want bytes of in into the body (checked against max_body). */
static int take(h1_resp *r, struct evbuffer *in, uint64_t want, size_t *moved)
{
    size_t avail = evbuffer_get_length(in);
    size_t n = want < avail ? (size_t)want : avail;
    if (evbuffer_get_length(r->body) + n > r->max_body)
        return fail(r, "a body over the limit of %zu bytes", r->max_body);
    if (n && evbuffer_remove_buffer(in, r->body, n) != (int)n)
        return fail(r, "out of memory");
    *moved = n;
    return H1_MORE;
}

static int chunk_size(h1_resp *r, const char *l)
{
    char q[80];
    uint64_t v = 0;
    const char *p = l;
    while (isxdigit((unsigned char)*p)) {
        if (v >> 60)
            return fail(r, "a chunk size too large: \"%s\"", shown(l, q, sizeof(q)));
        v = v * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
        p++;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (p == l || (*p && *p != ';'))
        return fail(r, "a bad chunk size line: \"%s\"", shown(l, q, sizeof(q)));
    if (v > r->max_body - evbuffer_get_length(r->body))
        return fail(r, "a body over the limit of %zu bytes", r->max_body);
    r->left = v;
    r->state = v ? S_CHUNK_DATA : S_TRAILERS;
    return H1_MORE;
}

int h1_resp_parse(h1_resp *r, struct evbuffer *in, int eof)
{
    char line[H1_MAX_LINE + 2], q[80];
    size_t n = 0;
    int rc = H1_MORE;
    while (rc == H1_MORE) {
        switch (r->state) {
        case S_STATUS:
        case S_FIELDS:
        case S_CHUNK_SIZE:
        case S_CHUNK_END:
        case S_TRAILERS: {
            int got = next_line(r, in, line, &n);
            if (got < 0)
                return H1_ERROR;
            if (got == 0)
                goto need_more;
            if (memchr(line, '\0', n))
                return fail(r, "a NUL byte in a line");
            int head = r->state == S_STATUS || r->state == S_FIELDS || r->state == S_TRAILERS;
            if (head) {
                r->head_bytes += n + 2;
                if (r->head_bytes > H1_MAX_HEAD)
                    return fail(r, "a head larger than %d bytes", H1_MAX_HEAD);
            }
            if (r->state == S_STATUS) {
                if (n == 0)
                    continue; /* stray empty lines before an answer are tolerated */
                rc = status_line(r, line, n);
                r->state = S_FIELDS;
            } else if (r->state == S_FIELDS) {
                if (n == 0) {
                    rc = head_done(r);
                } else if (++r->fields > H1_MAX_FIELDS) {
                    return fail(r, "more than %d header lines", H1_MAX_FIELDS);
                } else {
                    rc = field(r, line);
                }
            } else if (r->state == S_CHUNK_SIZE) {
                rc = chunk_size(r, line);
            } else if (r->state == S_CHUNK_END) {
                if (n)
                    return fail(r, "a chunk not followed by CRLF: \"%s\"", shown(line, q, sizeof(q)));
                r->state = S_CHUNK_SIZE;
            } else { /* trailers: read and ignored */
                if (n == 0) {
                    r->state = S_DONE;
                    return H1_DONE;
                }
                if (++r->fields > H1_MAX_FIELDS)
                    return fail(r, "more than %d header lines", H1_MAX_FIELDS);
            }
            break;
        }
        case S_BODY:
        case S_CHUNK_DATA:
        case S_UNTIL_EOF: {
            size_t moved = 0;
            uint64_t want = r->state == S_UNTIL_EOF ? UINT64_MAX : r->left;
            if (take(r, in, want, &moved) != H1_MORE)
                return H1_ERROR;
            if (r->state == S_UNTIL_EOF) {
                if (!eof)
                    return H1_MORE;
                r->state = S_DONE;
                return H1_DONE;
            }
            r->left -= moved;
            if (r->left)
                goto need_more;
            if (r->state == S_BODY) {
                r->state = S_DONE;
                return H1_DONE;
            }
            r->state = S_CHUNK_END;
            break;
        }
        default:
            return H1_DONE;
        }
    }
    return rc;
need_more:
    if (!eof)
        return H1_MORE;
    if (r->state == S_STATUS && r->head_bytes == 0 && evbuffer_get_length(in) == 0)
        return fail(r, "the connection closed before an answer");
    if (r->state == S_STATUS || r->state == S_FIELDS)
        return fail(r, "the connection closed in the middle of the head");
    return fail(r, "the connection closed in the middle of the body");
}
