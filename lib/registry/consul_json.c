/*
 * Consul JSON <-> motan node URLs, as weibocom/motan's motan-registry-consul does it
 * (ConsulUtils.java, ConsulConstants.java): service name "motanrpc_<group>", service ID
 * "<host>:<port>-<path>", tags "protocol_<protocol>" and "URL_<URLEncoder(url)>", a TTL check.
 */
#include <inttypes.h>
#include <stdio.h>

#include <jansson.h>

#include "registry/registry_int.h"

#define TAG_PROTOCOL "protocol_"
#define TAG_URL "URL_"

char *motan__consul_escape(const char *s, int java)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = motan_malloc(strlen(s) * 3 + 1), *w = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '-' || c == '_' || (java ? c == '*' : c == '~' || c == ':');
        if (keep) {
            *w++ = (char)c;
        } else if (java && c == ' ') {
            *w++ = '+';
        } else {
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    }
    *w = '\0';
    return out;
}

/* Java's URLDecoder: '+' is a space, %XX a byte. NULL on a bad escape or out of memory. */
static char *java_decode(const char *s)
{
    char *out = motan_malloc(strlen(s) + 1), *w = out;
    for (const char *p = s; out && *p; p++) {
        if (*p == '+') {
            *w++ = ' ';
        } else if (*p != '%') {
            *w++ = *p;
        } else {
            int hi = motan__hexval(p[1]), lo = hi < 0 ? -1 : motan__hexval(p[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                motan_free(out);
                return NULL;
            }
            *w++ = (char)(hi << 4 | lo);
            p += 2;
        }
    }
    if (out)
        *w = '\0';
    return out;
}

static int dump(json_t *j, char **out)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    char *s = n ? motan_malloc(n + 1) : NULL;
    if (!s)
        return MOTAN_ENOMEM;
    json_dumpb(j, s, n, JSON_COMPACT);
    s[n] = '\0';
    *out = s;
    return MOTAN_OK;
}

int motan__consul_service(const motan_url *node, int ttl_s, char **id, char **body, char *errbuf,
                          size_t errlen)
{
    const char *host = motan_url_addr_count(node) ? motan_url_addr_host(node, 0) : "";
    int port = motan_url_addr_count(node) ? motan_url_addr_port(node, 0) : 0;
    const char *path = motan_url_get_path(node), *group = motan__rsubs_group(node);
    *id = *body = NULL;
    if (!*host || port <= 0 || motan_url_addr_is_unix(node, 0) || !*path)
        return motan__errf(errbuf, errlen, MOTAN_EINVAL,
                           "consul registry: a node needs host, port and path");
    size_t idlen = strlen(host) + strlen(path) + 16;
    char *sid = motan_malloc(idlen),
         *name = motan_malloc(strlen(group) + sizeof(MOTAN__CONSUL_PREFIX));
    char *text = motan_url_format(node), *enc = text ? motan__consul_escape(text, 1) : NULL;
    char *tag_p = motan_malloc(strlen(motan_url_get_protocol(node)) + sizeof(TAG_PROTOCOL));
    char *tag_u = enc ? motan_malloc(strlen(enc) + sizeof(TAG_URL)) : NULL;
    json_t *j = NULL;
    int rc = MOTAN_ENOMEM;
    if (sid && name && tag_p && tag_u) {
        snprintf(sid, idlen, "%s:%d-%s", host, port, path);
        sprintf(name, "%s%s", MOTAN__CONSUL_PREFIX, group);
        sprintf(tag_p, "%s%s", TAG_PROTOCOL, motan_url_get_protocol(node));
        sprintf(tag_u, "%s%s", TAG_URL, enc);
        char ttl[32];
        snprintf(ttl, sizeof(ttl), "%ds", ttl_s);
        j = json_pack("{s:s, s:s, s:[s,s], s:s, s:i, s:{s:s}}", "ID", sid, "Name", name, "Tags",
                      tag_p, tag_u, "Address", host, "Port", port, "Check", "TTL", ttl);
    }
    if (j)
        rc = dump(j, body);
    if (rc == MOTAN_OK) {
        *id = sid;
        sid = NULL;
    }
    if (j)
        json_decref(j);
    motan_free(sid);
    motan_free(name);
    motan_free(text);
    motan_free(enc);
    motan_free(tag_p);
    motan_free(tag_u);
    return rc;
}

/* Java's fallback without a URL_ tag: protocol from "protocol_", path from the ID. */
static int node_from_fields(json_t *svc, const char *group, motan_url **out)
{
    const char *proto = "motan2", *id = json_string_value(json_object_get(svc, "ID"));
    json_t *tag;
    size_t i;
    json_array_foreach (json_object_get(svc, "Tags"), i, tag) {
        const char *t = json_string_value(tag);
        if (t && !strncmp(t, TAG_PROTOCOL, strlen(TAG_PROTOCOL)) && t[strlen(TAG_PROTOCOL)]) {
            proto = t + strlen(TAG_PROTOCOL);
            break;
        }
    }
    const char *dash = id ? strchr(id, '-') : NULL;
    const char *path = dash ? dash + 1 : id;
    if (!path || !*path)
        return MOTAN_EURL;
    motan_url *u = motan_url_new(proto);
    int rc = !u ? MOTAN_ENOMEM : motan_url_set_path(u, path);
    if (rc == MOTAN_OK)
        rc = motan_url_set_param(u, "group", group);
    if (rc == MOTAN_OK)
        rc = motan_url_set_param(u, "nodeType", "service");
    if (rc != MOTAN_OK) {
        motan_url_free(u);
        return rc;
    }
    *out = u;
    return MOTAN_OK;
}

/* A URL_ tag's URL without its addresses (Consul's address and port replace them). */
static int node_from_tag(const char *tag, char *errbuf, size_t errlen, motan_url **out)
{
    char *text = java_decode(tag + strlen(TAG_URL));
    if (!text)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "bad %%-escape in its URL_ tag");
    motan_url *parsed = NULL;
    int rc = motan_url_parse(text, strlen(text), &parsed, errbuf, errlen);
    motan_free(text);
    if (rc != MOTAN_OK)
        return rc;
    motan_url *u = motan_url_new(motan_url_get_protocol(parsed));
    rc = !u ? MOTAN_ENOMEM : motan_url_set_path(u, motan_url_get_path(parsed));
    for (size_t i = 0; rc == MOTAN_OK && i < motan_url_param_count(parsed); i++)
        rc = motan_url_set_param(u, motan_url_param_key(parsed, i),
                                 motan_url_param_value(parsed, i));
    motan_url_free(parsed);
    if (rc != MOTAN_OK) {
        motan_url_free(u);
        return rc;
    }
    *out = u;
    return MOTAN_OK;
}

/* One health entry {"Node": {...}, "Service": {...}, "Checks": [...]} as a node URL. */
static int entry_node(json_t *e, const char *group, motan_url **out, char *errbuf, size_t errlen)
{
    json_t *svc = json_object_get(e, "Service"), *tag;
    const char *addr = json_string_value(json_object_get(svc, "Address"));
    if (!addr || !*addr)
        addr = json_string_value(json_object_get(json_object_get(e, "Node"), "Address"));
    json_int_t port = json_integer_value(json_object_get(svc, "Port"));
    if (!json_is_object(svc))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "no Service object");
    if (!addr || !*addr)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "no address");
    if (!json_is_integer(json_object_get(svc, "Port")))
        return motan__errf(errbuf, errlen, MOTAN_EURL, "no port");
    if (port <= 0 || port > 65535)
        return motan__errf(errbuf, errlen, MOTAN_EURL, "port %lld is not a port 1..65535",
                           (long long)port);
    motan_url *u = NULL;
    int rc = MOTAN_EURL;
    size_t i;
    json_array_foreach (json_object_get(svc, "Tags"), i, tag) {
        const char *t = json_string_value(tag);
        if (t && !strncmp(t, TAG_URL, strlen(TAG_URL))) {
            rc = node_from_tag(t, errbuf, errlen, &u);
            if (rc != MOTAN_OK)
                return rc == MOTAN_ENOMEM ? rc : MOTAN_EURL;
            break;
        }
    }
    if (!u) {
        rc = node_from_fields(svc, group, &u);
        if (rc != MOTAN_OK)
            return rc == MOTAN_ENOMEM
                       ? rc
                       : motan__errf(errbuf, errlen, MOTAN_EURL, "no path in its ID");
    }
    rc = motan_url_add_addr(u, addr, (int)port);
    if (rc == MOTAN_EINVAL)
        rc = motan__errf(errbuf, errlen, MOTAN_EURL, "bad address \"%.64s\"", addr);
    if (rc == MOTAN_OK)
        rc = motan_url_set_param(u, "group", group);
    if (rc != MOTAN_OK) {
        motan_url_free(u);
        return rc;
    }
    *out = u;
    return MOTAN_OK;
}

int motan__consul_nodes(const char *body, size_t len, const char *group, motan_url ***out,
                        size_t *n, size_t *skipped, char *errbuf, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    *out = NULL;
    *n = *skipped = 0;
    if (!doc)
        return motan__errf(errbuf, errlen, MOTAN_EDECODE, "bad JSON at %d:%d: %s", je.line,
                           je.column, je.text);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return motan__errf(errbuf, errlen, MOTAN_EDECODE, "the answer is not a JSON array");
    }
    size_t cnt = json_array_size(doc), k = 0;
    motan_url **nodes = motan__calloc(cnt ? cnt : 1, sizeof(*nodes));
    int rc = nodes ? MOTAN_OK : MOTAN_ENOMEM;
    for (size_t i = 0; rc == MOTAN_OK && i < cnt; i++) {
        char why[200];
        json_t *e = json_array_get(doc, i);
        int erc = json_is_object(e) ? entry_node(e, group, &nodes[k], why, sizeof(why))
                                    : motan__errf(why, sizeof(why), MOTAN_EURL, "not an object");
        if (erc == MOTAN_OK) {
            k++;
        } else if (erc == MOTAN_ENOMEM) {
            rc = erc;
        } else if ((*skipped)++ == 0) {
            const char *sid =
                json_string_value(json_object_get(json_object_get(e, "Service"), "ID"));
            motan__errf(errbuf, errlen, MOTAN_EURL, "skipped entry %zu (ID \"%.64s\"): %s", i,
                        sid ? sid : "", why);
        }
    }
    json_decref(doc);
    if (rc != MOTAN_OK) {
        motan__rsubs_free_nodes(nodes, k);
        return rc;
    }
    if (!k) {
        motan_free(nodes);
        nodes = NULL;
    }
    *out = nodes;
    *n = k;
    return MOTAN_OK;
}
