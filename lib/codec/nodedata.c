/*
 * ZooKeeper node data -> motan_url (§8.1). Java's "zookeeper" registry stores the URL as a
 * Java object-stream string (ObjectOutputStream.writeObject(String)), Go's "zk" as plain text;
 * Go tells them apart by the "aced" prefix and so do we.
 */
#include "codec/codec_int.h"

#define STREAM_MAGIC_LEN 4 /* ac ed 00 05 */
#define TC_STRING 0x74
#define TC_LONGSTRING 0x7c

static int bad(char *errbuf, size_t errlen, const char *why, size_t off)
{
    return motan__errf(errbuf, errlen, MOTAN_EURL, "node data: %s at offset %zu", why, off);
}

static uint32_t cont(const uint8_t *p) { return (uint32_t)(p[0] & 0x3f); }

static int is_cont(uint8_t b) { return (b & 0xc0) == 0x80; }

/*
 * Java modified UTF-8 (DataOutput.writeUTF) -> standard UTF-8: NUL is C0 80 (refused: no
 * URL holds one), characters above U+FFFF are surrogate pairs written as two 3-byte
 * sequences (joined back into one 4-byte sequence). out has room for n bytes: the result is
 * never longer than the input.
 */
static int mutf8_to_utf8(const uint8_t *p, size_t n, size_t base, char *out, size_t *outlen,
                         char *errbuf, size_t errlen)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len;
        if (p[i] < 0x80) {
            cp = p[i];
            len = 1;
        } else if ((p[i] & 0xe0) == 0xc0 && i + 1 < n && is_cont(p[i + 1])) {
            cp = (uint32_t)(p[i] & 0x1f) << 6 | cont(p + i + 1);
            len = 2;
        } else if ((p[i] & 0xf0) == 0xe0 && i + 2 < n && is_cont(p[i + 1]) && is_cont(p[i + 2])) {
            cp = (uint32_t)(p[i] & 0x0f) << 12 | cont(p + i + 1) << 6 | cont(p + i + 2);
            len = 3;
        } else {
            return bad(errbuf, errlen, "malformed modified UTF-8", base + i);
        }
        if (cp == 0)
            return bad(errbuf, errlen, "NUL character in URL", base + i);
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return bad(errbuf, errlen, "unpaired low surrogate", base + i);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            const uint8_t *q = p + i + 3;
            uint32_t lo = 0;
            if (i + 5 < n && q[0] == 0xed && is_cont(q[1]) && is_cont(q[2]))
                lo = 0xd000 | cont(q + 1) << 6 | cont(q + 2);
            if (lo < 0xdc00 || lo > 0xdfff)
                return bad(errbuf, errlen, "unpaired high surrogate", base + i);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            len = 6;
        }
        /* Re-encode canonically (Java also reads overlong forms; we emit the short one). */
        if (cp < 0x80) {
            out[w++] = (char)cp;
        } else if (cp < 0x800) {
            out[w++] = (char)(0xc0 | cp >> 6);
            out[w++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[w++] = (char)(0xe0 | cp >> 12);
            out[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[w++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[w++] = (char)(0xf0 | cp >> 18);
            out[w++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[w++] = (char)(0x80 | (cp & 0x3f));
        }
        i += len;
    }
    *outlen = w;
    return MOTAN_OK;
}

static int parse_stream(const uint8_t *data, size_t len, motan_url **out, char *errbuf,
                        size_t errlen)
{
    if (len < STREAM_MAGIC_LEN + 1 || memcmp(data, "\xac\xed\x00\x05", STREAM_MAGIC_LEN) != 0)
        return bad(errbuf, errlen, "truncated or bad object-stream header", 0);
    uint8_t tc = data[STREAM_MAGIC_LEN];
    size_t hdr = STREAM_MAGIC_LEN + 1 + (tc == TC_STRING ? 2 : 8);
    if (tc != TC_STRING && tc != TC_LONGSTRING)
        return bad(errbuf, errlen, "object stream does not hold a string", STREAM_MAGIC_LEN);
    if (len < hdr)
        return bad(errbuf, errlen, "truncated string length", len);
    const uint8_t *lp = data + STREAM_MAGIC_LEN + 1;
    uint64_t slen = tc == TC_STRING ? (uint64_t)(lp[0] << 8 | lp[1]) : motan__get_u64be(lp);
    if (slen > len - hdr)
        return bad(errbuf, errlen, "truncated string", len);
    if (slen < len - hdr)
        return bad(errbuf, errlen, "trailing bytes after the string", hdr + (size_t)slen);
    char *text = motan_malloc((size_t)slen + 1);
    if (!text)
        return MOTAN_ENOMEM;
    size_t tlen = 0;
    int rc = mutf8_to_utf8(data + hdr, (size_t)slen, hdr, text, &tlen, errbuf, errlen);
    if (rc == MOTAN_OK)
        rc = motan_url_parse(text, tlen, out, errbuf, errlen);
    motan_free(text);
    return rc;
}

MOTAN_EXPORT int motan_url_parse_node_data(const uint8_t *data, size_t len, motan_url **out,
                                           char *errbuf, size_t errlen)
{
    if (!out)
        return MOTAN_EINVAL;
    *out = NULL;
    if (!data && len)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL, "node data: NULL");
    if (len >= 2 && data[0] == 0xac && data[1] == 0xed)
        return parse_stream(data, len, out, errbuf, errlen);
    return motan_url_parse(data ? (const char *)data : "", len, out, errbuf, errlen);
}
