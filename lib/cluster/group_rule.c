/* Group weights of rule:// nodes: "groupA:3,groupB:1"; a name without ':' weighs 1. */
#include <stdlib.h>

#include "cluster/cluster_int.h"

void motan__rule_free(char **names, int *weights, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        motan_free(names[i]);
    motan_free(names);
    motan_free(weights);
}

int motan__rule_parse(const char *text, char ***names_out, int **weights_out, size_t *n_out)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    char **names = motan__calloc(cap, sizeof(char *));
    int *weights = motan__calloc(cap, sizeof(int));
    size_t n = 0;
    if (!names || !weights) {
        motan__rule_free(names, weights, 0);
        return MOTAN_ENOMEM;
    }
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *name_end = colon ? colon : end;
        while (p < name_end && *p == ' ')
            p++;
        while (name_end > p && name_end[-1] == ' ')
            name_end--;
        long w = 1;
        if (colon) {
            char num[16] = "";
            size_t len = (size_t)(end - colon - 1);
            if (len < sizeof(num))
                memcpy(num, colon + 1, len);
            w = strtol(num, NULL, 10);
        }
        w = w < 1 ? 1 : w > 100 ? 100 : w;
        if (name_end > p) {
            int dup = 0;
            for (size_t i = 0; i < n && !dup; i++)
                dup = strlen(names[i]) == (size_t)(name_end - p) &&
                      !memcmp(names[i], p, (size_t)(name_end - p));
            if (!dup) {
                names[n] = motan__strndup(p, (size_t)(name_end - p));
                if (!names[n]) {
                    motan__rule_free(names, weights, n);
                    return MOTAN_ENOMEM;
                }
                weights[n++] = (int)w;
            }
        }
        p = *end ? end + 1 : end;
    }
    *names_out = names;
    *weights_out = weights;
    *n_out = n;
    return MOTAN_OK;
}
