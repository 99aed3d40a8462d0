/* closest.c -- "did you mean": the closest known name to a word, for
 * commands, flags, job keys and targets.  Alone in its file so that the
 * job parser (job.c) needs nothing else of the program. */

#include <ctype.h>
#include <string.h>

#include "cli.h"

static size_t cli_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ||
                       (strchr("-_", a[i - 1]) && strchr("-_", b[j - 1]));
            size_t best = diag + !same;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (up + 1 < best) best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cli_closest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) continue;
        size_t d = cli_distance(word, names[i]);
        if (d < best_d) best_d = d, best = names[i];
    }
    size_t len = strlen(word);
    return best && best_d <= (len < 6 ? 2 : len / 3 + 1) ? best : NULL;
}
