/*
 * libFuzzer target for typed JSON: whatever parses must format, parse again to an equal
 * value, and format to the same (canonical) text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static motan_arena *arena;
    if (!arena && !(arena = motan_arena_new()))
        abort();
    motan_arena_reset(arena);
    motan_value *v = NULL, *w = NULL;
    char err[256];
    int rc = motan_tjson_parse((const char *)data, size, arena, &v, err, sizeof(err));
    if (rc != MOTAN_OK) {
        if (rc != MOTAN_EDECODE)
            abort();
        return 0;
    }
    char *text = motan_tjson_format(v);
    if (!text)
        abort();
    if (motan_tjson_parse(text, strlen(text), arena, &w, err, sizeof(err)) != MOTAN_OK ||
        !motan_value_equal(v, w))
        abort();
    char *again = motan_tjson_format(w);
    if (!again || strcmp(text, again) != 0)
        abort();
    motan_free(again);
    motan_free(text);
    return 0;
}
