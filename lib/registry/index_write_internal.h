/* index_write_internal.h -- a checkpoint: the state written as the
 * registry's index file (index_write.c), so that opening a registry reads
 * the index and only the journal records after it.
 */
#ifndef HERD_REGISTRY_INDEX_WRITE_INTERNAL_H
#define HERD_REGISTRY_INDEX_WRITE_INTERNAL_H

#include <stdint.h>

#include "common/vfs_internal.h"
#include "registry/state_internal.h"

/* Write the snapshot `st` as the index of `dir` covering the journal up to
 * `journal_end`: a temporary file, fsync, rename over "index", fsync of
 * the directory.  The caller holds the writer lock. */
int hd_index_write(const hd_vfs *vfs, const char *dir, const hd_rstate *st,
                   uint64_t journal_end);

#endif
