/*
 * libFuzzer target for ZooKeeper node data: plain UTF-8 URLs and Java object-stream strings
 * (ac ed 00 05 74 <u16> ... / 7c <u64> ...). Never crash, never read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <motan/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy so ASan catches any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    char err[256];
    motan_url *u = NULL;
    if (motan_url_parse_node_data(copy, size, &u, err, sizeof(err)) == MOTAN_OK) {
        char *text = motan_url_format(u);
        motan_free(text);
        motan_url_free(u);
    } else if (!err[0]) {
        abort(); /* every rejection says why */
    }
    free(copy);
    return 0;
}
