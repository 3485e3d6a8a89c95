/*
 * "Did you mean": the known name closest to a mistyped one, by edit distance (insertions,
 * deletions, substitutions and swaps of neighbours; letter case ignored).
 */
#include <ctype.h>

#include "core/core_int.h"

#define SUGGEST_MAX 64 /* longer names get no suggestion */

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Optimal string alignment distance of a and b (both at most SUGGEST_MAX long). */
static size_t distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[n][m];
}

const char *motan__closest(const char *key, const char *const *names, size_t count)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > SUGGEST_MAX)
        return NULL;
    /* Up to one edit in five characters (at least one): close enough to be a typo. */
    size_t best_d = n / 5 + 1;
    const char *best = NULL;
    for (size_t i = 0; i < count; i++) {
        if (!names[i])
            continue;
        size_t m = strlen(names[i]);
        if (m > SUGGEST_MAX || (m > n ? m - n : n - m) > best_d)
            continue;
        size_t dd = distance(key, n, names[i], m);
        if (dd <= best_d && (!best || dd < best_d)) {
            best = names[i];
            best_d = dd;
        }
    }
    return best;
}
