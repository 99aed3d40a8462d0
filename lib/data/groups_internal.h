/* groups_internal.h -- the layout of herd_groups, for the modules that walk
 * groups quickly (the apply engine, predict, compare).  Not public.
 *
 * Groups are immutable once herd_groups_new returns, so every field may be
 * read from any number of threads without locking. */
#ifndef HERD_GROUPS_INTERNAL_H
#define HERD_GROUPS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"

struct herd_groups {
    const herd_frame *frame; /* borrowed: the frame outlives the groups */

    size_t nkeys;
    size_t *key_cols; /* nkeys frame column indices, in the caller's order */

    /* Group i holds rows[offsets[i] .. offsets[i + 1]), ascending.  Groups
     * are ordered by key value.  offsets has ngroups + 1 entries and
     * offsets[ngroups] is the number of grouped rows (frame rows - missing).
     * Every group has at least one row. */
    size_t ngroups;
    size_t *offsets;
    size_t *rows;

    size_t missing; /* rows with a missing key value, in no group */

    /* Rendered keys (see herd.h), one per group, NUL-terminated UTF-8 in
     * key_arena; key_lens[i] == strlen(keys[i]). */
    const char **keys;
    size_t *key_lens;
    hd_arena *key_arena;

    /* rendered key -> group, for herd_groups_find */
    hd_key_index find_index;
};

/* The rows of group i (i < ngroups) and their count, without checks: for
 * hot loops that already know i is in range. */
static inline const size_t *hd_groups_rows_of(const herd_groups *g, size_t i)
{
    return g->rows + g->offsets[i];
}

static inline size_t hd_groups_size_of(const herd_groups *g, size_t i)
{
    return g->offsets[i + 1] - g->offsets[i];
}

#endif
