/*
 * The decoded-size budget (codec.h): decoders allocate every value from their arena, so the
 * arena's limit is the budget; this file turns a refusal into MOTAN_ETOOBIG with a message
 * that names the parameter, and estimates what a JSON text will cost before jansson builds
 * its own tree of it (jansson's memory is not ours to limit, so it must not be reached).
 */
#include "codec/codec_int.h"

int motan__budget_rc(motan_arena *a, int rc, char *errbuf, size_t errlen)
{
    if (rc == MOTAN_OK || !motan_arena_over_limit(a))
        return rc;
    return motan__errf(errbuf, errlen, MOTAN_ETOOBIG,
                       "decoded values exceed maxDecodedSize (%zu bytes)", motan_arena_get_limit(a));
}

/* Whether c can end the token before a value: the start, '[', '{', ',', ':' or space. */
static int value_may_start_after(char c)
{
    return c == '[' || c == '{' || c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r';
}

int motan__json_budget(motan_arena *a, const char *t, size_t len, size_t per_value, char *errbuf,
                       size_t errlen)
{
    size_t limit = motan_arena_get_limit(a);
    if (!limit)
        return MOTAN_OK;
    /* Values and keys: each becomes at least one node plus its slot in a container. */
    size_t nodes = 0;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            nodes++;
        } else if (c == '[' || c == '{') {
            nodes++;
        } else if ((c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') &&
                   (i == 0 || value_may_start_after(t[i - 1]))) {
            nodes++;
        }
    }
    nodes /= per_value;
    size_t per = sizeof(motan_value) + sizeof(motan_value *);
    size_t used = motan_arena_used(a);
    if (nodes <= (limit - used) / per)
        return MOTAN_OK;
    return motan__errf(errbuf, errlen, MOTAN_ETOOBIG,
                       "decoded values exceed maxDecodedSize (%zu bytes): the JSON text holds "
                       "%zu values",
                       limit, nodes);
}
