/* vfs_sim.h -- the simulated filesystem of the crash tests: an in-memory
 * hd_vfs (common/vfs_internal.h) that keeps only what was fsynced across a
 * simulated power loss and fails the N-th call of chosen kinds with EIO or
 * ENOSPC.  It is compiled into the test programs that need it, never into
 * libherd: the library keeps the real layer and hd_registry_open_vfs, the
 * hook that runs a registry on this one. */
#ifndef HERD_TEST_VFS_SIM_H
#define HERD_TEST_VFS_SIM_H

#include <stdint.h>

#include "common/vfs_internal.h"

/* ---- The simulated layer, for tests ----------------------------------
 *
 * Model.  Each file has its current content (what reads see) and its
 * durable content (what survives a power loss), copied from the current one
 * by a successful fsync/fdatasync of that file.  Each directory has a
 * current entry table (what lookups see: changed at once by create, rename,
 * unlink, mkdir) and a durable one, copied from the current one by
 * hd_vfs_sync_dir of that directory.  A power loss replaces every current
 * state by the durable one, so a file survives only if its name is in the
 * durable table of a directory that itself survives.
 *
 * A failed (injected) fsync leaves the durable content as it was and
 * poisons the file: later fsyncs report success but persist nothing, as on
 * Linux, where the failed pages are dropped or marked clean -- so a layer
 * that retries a failed fsync into success loses data in the sim too.  The
 * poison clears when the file is truncated to at most its durable length
 * (the writer rolled back to what it knows is on disk).
 *
 * Thread-safe (one mutex); a waiting lock blocks on a condition variable.
 * Directories cannot be renamed into themselves; ".." is rejected. */

typedef struct hd_vfs_sim hd_vfs_sim;

/* Operation classes, for counting calls and injecting faults. */
enum {
    HD_VFS_OP_OPEN = 1u << 0,
    HD_VFS_OP_CLOSE = 1u << 1,
    HD_VFS_OP_READ = 1u << 2,     /* pread, read */
    HD_VFS_OP_WRITE = 1u << 3,    /* pwrite, write */
    HD_VFS_OP_FSYNC = 1u << 4,    /* fsync, fdatasync */
    HD_VFS_OP_TRUNCATE = 1u << 5,
    HD_VFS_OP_SIZE = 1u << 6,
    HD_VFS_OP_LOCK = 1u << 7,
    HD_VFS_OP_RENAME = 1u << 8,
    HD_VFS_OP_UNLINK = 1u << 9,
    HD_VFS_OP_MKDIR = 1u << 10,
    HD_VFS_OP_SYNC_DIR = 1u << 11,
    HD_VFS_OP_LIST = 1u << 12,
    HD_VFS_OP_MAP = 1u << 13,
    HD_VFS_OP_ALL = (1u << 14) - 1
};

/* Options of hd_vfs_sim_new. */
enum {
    /* At power loss, a file whose only unsynced change is bytes appended
     * past its durable length keeps a random prefix (0..all) of them, as a
     * real disk may have written some: a journal must detect the torn tail. */
    HD_VFS_SIM_TORN_APPENDS = 1u << 0
};

/* A new empty sim (a root directory only).  `seed` drives the random
 * choices.  NULL + HERD_ENOMEM on failure. */
hd_vfs_sim *hd_vfs_sim_new(uint64_t seed, unsigned options);
/* Frees the sim and every file still open on it. */
void hd_vfs_sim_free(hd_vfs_sim *sim);
/* The layer to pass to code under test; valid until hd_vfs_sim_free. */
const hd_vfs *hd_vfs_sim_vfs(hd_vfs_sim *sim);

/* Drop everything not durable.  Every open file becomes stale: its
 * operations fail with HERD_EIO, its locks are gone, and it must still be
 * closed with hd_vfs_close (which then succeeds). */
void hd_vfs_sim_power_loss(hd_vfs_sim *sim);

/* Make the n-th call (n >= 1, counted from now, counting only the
 * operations in op_mask) fail with `err` (EIO or ENOSPC), once.  The failed
 * call changes nothing (a failed fsync also poisons the file, see above).
 * n = 0 disarms. */
void hd_vfs_sim_fail_at(hd_vfs_sim *sim, uint64_t n, unsigned op_mask, int err);
/* A disk of `bytes` (0: no limit): a write that would make the files
 * named in the directories hold more fails with ENOSPC and writes nothing,
 * as on a full disk, until space is freed or the capacity raised. */
void hd_vfs_sim_set_capacity(hd_vfs_sim *sim, uint64_t bytes);
/* Bytes the named files hold now. */
uint64_t hd_vfs_sim_used(hd_vfs_sim *sim);
/* Writes refused so far for want of space (hd_vfs_sim_set_capacity). */
uint64_t hd_vfs_sim_enospc(hd_vfs_sim *sim);
/* Crash at the n-th call (n >= 1, counted from now, counting only the
 * operations in op_mask): that call does not happen, a power loss does
 * (hd_vfs_sim_power_loss), and the machine stays down: every later call
 * fails with EIO, without being counted, until hd_vfs_sim_restart().  So a
 * workload is cut at exactly that call, whatever its error paths then try.
 * n = 0 disarms. */
void hd_vfs_sim_crash_at(hd_vfs_sim *sim, uint64_t n, unsigned op_mask);
/* Bring a crashed sim back up (files opened before the crash stay stale). */
void hd_vfs_sim_restart(hd_vfs_sim *sim);
/* Whether the sim is down after a crash_at. */
int hd_vfs_sim_is_down(hd_vfs_sim *sim);

/* Calls of the operations in op_mask since hd_vfs_sim_new (failed ones
 * included): run a workload once to learn how many fault points it has. */
uint64_t hd_vfs_sim_calls(hd_vfs_sim *sim, unsigned op_mask);

#endif
