/*
 * libFuzzer target for the motan URL parser: whatever parses must format back to text that
 * parses to the same URL (addresses, path, parameters), and the accessors must be safe.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_abort(const motan_url *a, const motan_url *b)
{
    if (strcmp(motan_url_get_protocol(a), motan_url_get_protocol(b)) ||
        strcmp(motan_url_get_path(a), motan_url_get_path(b)) ||
        motan_url_addr_count(a) != motan_url_addr_count(b) ||
        motan_url_param_count(a) != motan_url_param_count(b))
        abort();
    for (size_t i = 0; i < motan_url_addr_count(a); i++)
        if (strcmp(motan_url_addr_host(a, i), motan_url_addr_host(b, i)) ||
            motan_url_addr_port(a, i) != motan_url_addr_port(b, i) ||
            motan_url_addr_is_unix(a, i) != motan_url_addr_is_unix(b, i))
            abort();
    for (size_t i = 0; i < motan_url_param_count(a); i++) {
        const char *v = motan_url_get_param(b, motan_url_param_key(a, i));
        if (!v || strcmp(v, motan_url_param_value(a, i)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    motan_url *u = NULL;
    if (motan_url_parse((const char *)data, size, &u, err, sizeof(err)) != MOTAN_OK)
        return 0;
    (void)motan_url_get_int(u, "m", "requestTimeout", 1);
    (void)motan_url_get_str(u, NULL, "group", "g");
    char *id = motan_url_identity(u);
    motan_free(id);
    char *text = motan_url_format(u);
    if (text) {
        motan_url *v = NULL;
        if (motan_url_parse(text, strlen(text), &v, err, sizeof(err)) != MOTAN_OK)
            abort();
        same_or_abort(u, v);
        motan_url_free(v);
        motan_free(text);
    }
    motan_url *c = motan_url_clone(u);
    if (c)
        same_or_abort(u, c);
    motan_url_free(c);
    motan_url_free(u);
    return 0;
}
