/* features.c -- the rules of a model's feature list (features_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "model/features_internal.h"

int hd_feature_type_known(const char *type)
{
    static const char *const known[] = {"float", "int", "i", "q", "c"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(type, known[i]) == 0) return 1;
    return 0;
}

/* The first repeated name: open addressing over the names' hashes, so a
 * list of 100,000 features costs one pass.  1 with both positions. */
static int hd_features_duplicate(const char *const *names, size_t n, size_t *first,
                                 size_t *second, int *oom)
{
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    size_t *slot = hd_calloc(cap, sizeof *slot); /* index + 1; 0 = empty */
    if (!slot) {
        *oom = 1;
        return 0;
    }
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        size_t k = (size_t)hd_hash_bytes(names[i], strlen(names[i]), 0) & (cap - 1);
        for (; slot[k]; k = (k + 1) & (cap - 1)) {
            if (strcmp(names[slot[k] - 1], names[i]) == 0) {
                *first = slot[k] - 1;
                *second = i;
                found = 1;
                break;
            }
        }
        if (!found) slot[k] = i + 1;
    }
    free(slot);
    return found;
}

int hd_features_check(const char *const *names, const char *const *types, size_t n,
                      const char *what)
{
    if (n == 0) return hd_error(HERD_EFORMAT, "%s has no features; a model needs one", what);
    if (n > HERD_ARTIFACT_MAX_FEATURES)
        return hd_error(HERD_ELIMIT, "%s has %zu features; the limit is %u "
                        "(HERD_ARTIFACT_MAX_FEATURES)", what, n, HERD_ARTIFACT_MAX_FEATURES);
    char label[64], q[96];
    for (size_t i = 0; i < n; i++) {
        snprintf(label, sizeof label, "feature %zu's name", i);
        if (hd_name_check(names[i], HERD_NAME_MAX, label)) {
            hd_error_prefix("%s: ", what);
            return hd_error(HERD_EFORMAT, "%s", herd_last_error());
        }
        if (!types[i] || !hd_feature_type_known(types[i]))
            return hd_error(HERD_EFORMAT,
                            "%s: feature %zu (%s) has type %s; XGBoost's feature types are "
                            "float, int, i, q and c",
                            what, i, hd_quote(names[i], strlen(names[i]), q, sizeof q),
                            types[i] ? hd_quote(types[i], strlen(types[i]), label, sizeof label)
                                     : "NULL");
    }
    size_t a = 0, b = 0;
    int oom = 0;
    if (hd_features_duplicate(names, n, &a, &b, &oom))
        return hd_error(HERD_EFORMAT,
                        "%s: the feature name %s appears twice (features %zu and %zu); features "
                        "are bound to columns by name, so each needs its own",
                        what, hd_quote(names[a], strlen(names[a]), q, sizeof q), a, b);
    return oom ? hd_oom() : HERD_OK;
}

const char *hd_features_format(char *buf, size_t size, const char *const *names,
                               const char *const *types, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + o, size - o, "%s%s:%s", i ? ", " : "", names[i],
                         types ? types[i] : "?");
        if (k < 0 || (size_t)k >= size - o) {
            memcpy(buf + (o + 4 < size ? o : size - 4), "...", 4);
            break;
        }
        o += (size_t)k;
    }
    return buf;
}

int hd_features_equal(const char *const *names_a, const char *const *types_a, size_t n_a,
                      const char *const *names_b, const char *const *types_b, size_t n_b)
{
    if (n_a != n_b) return 0;
    for (size_t i = 0; i < n_a; i++)
        if (strcmp(names_a[i], names_b[i]) != 0 || strcmp(types_a[i], types_b[i]) != 0)
            return 0;
    return 1;
}

int hd_features_disagree(const char *what_a, const char *const *names_a,
                         const char *const *types_a, size_t n_a, const char *what_b,
                         const char *const *names_b, const char *const *types_b, size_t n_b)
{
    char a[400], b[400];
    return hd_error(HERD_EFORMAT,
                    "%s lists the features [%s] but %s has [%s]; they must be the same names "
                    "and types in the same order (features are bound to columns by name, so "
                    "a different order would feed the model the wrong columns)",
                    what_a, hd_features_format(a, sizeof a, names_a, types_a, n_a), what_b,
                    hd_features_format(b, sizeof b, names_b, types_b, n_b));
}
