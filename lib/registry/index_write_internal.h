/* index_write_internal.h -- a checkpoint: the state written as the
 * registry's index file (index_write.c), so that opening a registry reads
 * the index and only the journal records after it.
 */
#ifndef HERD_REGISTRY_INDEX_WRITE_INTERNAL_H
#define HERD_REGISTRY_INDEX_WRITE_INTERNAL_H

#include <stdint.h>

#include "common/vfs_internal.h"
#include "registry/state_internal.h"

/* Write `final`, an index segment of the groups and runs of `st`'s
 * segments first.. and its overlay, merged: with first 0, a base (start 0)
 * covering the journal up to `journal_end`; above, a delta continuing from
 * journal offset `start`, the end of segment first - 1.  Written as `tmp`,
 * fsynced, renamed over `final`, then `dir` is fsynced.  The caller holds
 * the writer lock, so that the state and its strings stay as they are: the
 * file is streamed in two passes over them.  *peak (if not NULL) is set to
 * the bytes the writer's buffers held at once, bounded whatever the number
 * of groups (the hash tables and the string numbering aside). */
int hd_index_write(const hd_vfs *vfs, const char *dir, const char *tmp, const char *final,
                   const hd_rstate *st, size_t first, uint64_t start, uint64_t journal_end,
                   size_t *peak);

#endif
