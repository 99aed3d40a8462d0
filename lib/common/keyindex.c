/* keyindex.c -- distinct key strings to their positions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"

static size_t hd_key_slot(const hd_key_index *ix, const char *key)
{
    return (size_t)hd_hash_bytes(key, strlen(key), 0) & ix->mask;
}

int hd_key_index_build(hd_key_index *ix, const char *const *keys, size_t n)
{
    size_t cap = 16;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 2) return hd_oom();
        cap *= 2;
    }
    ix->slots = hd_calloc(cap, sizeof *ix->slots);
    if (!ix->slots) return HERD_ENOMEM;
    ix->mask = cap - 1;
    for (size_t k = 0; k < n; k++) {
        size_t i = hd_key_slot(ix, keys[k]);
        while (ix->slots[i]) i = (i + 1) & ix->mask;
        ix->slots[i] = k + 1;
    }
    return HERD_OK;
}

int hd_key_index_add(hd_key_index *ix, const char *const *keys, size_t n)
{
    if (!ix->slots || 2 * (n + 1) > ix->mask + 1) {
        hd_key_index bigger;
        if (hd_key_index_build(&bigger, keys, n + 1)) return HERD_ENOMEM;
        hd_key_index_free(ix);
        *ix = bigger;
        return HERD_OK;
    }
    size_t i = hd_key_slot(ix, keys[n]);
    while (ix->slots[i]) i = (i + 1) & ix->mask;
    ix->slots[i] = n + 1;
    return HERD_OK;
}

size_t hd_key_index_find(const hd_key_index *ix, const char *const *keys, const char *key)
{
    for (size_t i = hd_key_slot(ix, key), s; (s = ix->slots[i]) != 0; i = (i + 1) & ix->mask)
        if (strcmp(keys[s - 1], key) == 0) return s - 1;
    return (size_t)-1;
}

void hd_key_index_free(hd_key_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
}
