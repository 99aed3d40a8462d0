/* keyindex_internal.h -- an index from distinct key strings to their
 * positions in an array, shared by groups and fit results. */
#ifndef HERD_KEYINDEX_INTERNAL_H
#define HERD_KEYINDEX_INTERNAL_H

#include <stddef.h>

/* Open addressing over a power-of-two table at most half full; each slot
 * holds a position + 1, or 0 when empty.  Immutable once built, so any
 * number of threads may look keys up. */
typedef struct hd_key_index {
    size_t *slots;
    size_t mask;
} hd_key_index;

/* Index keys[0..n), which must be distinct.  HERD_OK or HERD_ENOMEM. */
int hd_key_index_build(hd_key_index *ix, const char *const *keys, size_t n);

/* Add keys[n] to an index of keys[0..n) (built, added to, or zeroed):
 * amortised O(1), rebuilding at twice the size when half full.  keys[n]
 * must differ from the others.  HERD_OK or HERD_ENOMEM (index unchanged). */
int hd_key_index_add(hd_key_index *ix, const char *const *keys, size_t n);

/* The position of `key` in the `keys` the index was built from, or
 * (size_t)-1 when absent. */
size_t hd_key_index_find(const hd_key_index *ix, const char *const *keys, const char *key);

void hd_key_index_free(hd_key_index *ix);

#endif
