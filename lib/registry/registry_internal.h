/* registry_internal.h -- what tests may reach of the registry beyond the
 * public API: opening on another I/O layer (the simulated filesystem of
 * vfs_internal.h) and tuning the index checkpoint. */
#ifndef HERD_REGISTRY_INTERNAL_H
#define HERD_REGISTRY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/vfs_internal.h"
#include "registry/predcache_internal.h"

/* herd_registry_open on the I/O layer `vfs` (which must outlive the
 * handle). */
int hd_registry_open_vfs(const hd_vfs *vfs, const char *path, const herd_registry_options *opt,
                         herd_registry **out);

/* Rewrite the index once more than `versions` versions (and alias moves)
 * were committed since the last one (default 16384); 0: never. */
void hd_registry_set_checkpoint_every(herd_registry *reg, uint64_t versions);

/* 0: every checkpoint rewrites the whole index as one base, as herd did
 * before the index had deltas (for the benchmark that compares the two);
 * 1 (the default): deltas merged geometrically (tiers.c). */
void hd_registry_set_index_tiers(herd_registry *reg, int on);

/* Start a new pack once the current one would pass `bytes` (default
 * 1 GiB): tests make several packs with a few small artifacts. */
void hd_registry_set_pack_target(herd_registry *reg, uint64_t bytes);

/* A batch whose artifacts pass `bytes` (default 64 MiB) writes them to a
 * pack of its own as they are added. */
void hd_registry_set_spill_bytes(herd_registry *reg, uint64_t bytes);

/* The stream size of hd_batch_stream (batch_internal.h; default 8 MiB,
 * one pack write buffer): tests make a streaming batch spill its first
 * artifact. */
void hd_registry_set_stream_bytes(herd_registry *reg, uint64_t bytes);

/* Write journal records in chunks of `bytes` (default 1 MiB; 0: the
 * default): tests make a record of a few hundred versions span many
 * chunks. */
void hd_registry_set_record_chunk(herd_registry *reg, size_t bytes);

/* The most bytes the handle's last record writer (a commit's or a gc's)
 * held in its buffers at once: about one chunk, whatever the record's
 * size. */
size_t hd_registry_record_peak(const herd_registry *reg);
/* The same for the last index written (a checkpoint): its section buffers,
 * its checksum read-back buffer and checksum table, bounded whatever the
 * number of groups. */
size_t hd_registry_index_peak(const herd_registry *reg);

/* The handle's cache of prepared predictors (herd_registry_predict). */
hd_predcache *hd_registry_predictors(herd_registry *reg);

#endif
