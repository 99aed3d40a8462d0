/* handle_internal.h -- the registry handle, and what the files of
 * lib/registry that read and write it share (docs/registry.md has the
 * file formats).
 *
 * A directory holds (docs/registry.md):
 *   HERD-REGISTRY  the format file, written once, last, when a registry is
 *                  created: its presence means the rest exists
 *   journal        commit records, appended; the source of truth
 *   pack-NNNNNN    artifact bytes, appended; a record names their places
 *   index          a snapshot of the state (the base), rewritten now and then
 *   index-S-E      a delta above it: the groups changed in journal [S, E)
 *   lock           the file writers lock (open-file-description locks)
 *
 * A commit, under the writer lock: cut off any torn tail, append the
 * batch's artifacts to the current pack, fdatasync it (and the directory
 * when the pack is new), write one record to the journal (in chunks as it
 * is encoded, its frame last: record.c), fdatasync it.
 * Two or three fsyncs, whatever the batch size.  A record is visible when
 * complete and checksummed; a torn one (a writer killed mid-append) is
 * ignored by readers and cut off by the next writer.
 *
 * The code, by concern:
 *   open.c         the format file; open, free, refresh, path, test hooks
 *   journal.c      records, catch-up, replay, the writer lock, tail cut
 *   pack.c         pack handles, the pack writer
 *   batch.c        begin, add, alias, archive, run, version; spilling
 *   commit.c       the plan, its encoding, the commit write
 *   record.c       writing a record in chunks, applying the own record
 *   tiers.c        the index's segments: opening the chain, checkpoints
 *   maintenance.c  index rebuild, gc
 *   query.c        the read side: lookups, lists, history, lineage
 *   copy.c         herd_registry_copy, over the read side and batches
 * over state.c (the in-memory state and the records that change it) and
 * index.c (the index file).
 */
#ifndef HERD_REGISTRY_HANDLE_INTERNAL_H
#define HERD_REGISTRY_HANDLE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/mem_internal.h"
#include "common/vfs_internal.h"
#include "registry/predcache_internal.h"
#include "registry/state_internal.h"

static const unsigned char hd_jnl_magic[8] = {0x89, 'H', 'J', 'N', 'L', '\r', '\n', '\n'};
static const unsigned char hd_pack_magic[8] = {0x89, 'H', 'P', 'C', 'K', '\r', '\n', '\n'};

enum {
    HD_JNL_HEADER = 32,
    HD_PACK_HEADER = 16,
    HD_DEFAULT_CHECKPOINT = 16384,
    HD_IDEM_MAX = 2048 /* a run id, a separator and a group key fit */
};
/* A pack grows to about this size before commits start a new one
 * (hd_registry_set_pack_target). */
#define HD_PACK_TARGET (1024ull * 1024 * 1024)
#define HD_SPILL_BYTES (64ull * 1024 * 1024)
/* Writes to a pack are gathered into buffers of this size. */
#define HD_WRITE_CHUNK (8u * 1024 * 1024)
/* A streaming batch (hd_batch_stream) spills past this: one write buffer's
 * worth of artifacts (hd_registry_set_stream_bytes). */
#define HD_STREAM_SPILL_BYTES ((uint64_t)HD_WRITE_CHUNK)

typedef struct hd_pack_handle {
    uint32_t id;
    int rdwr;      /* opened for writing */
    int dead;      /* to close once refs is 0 */
    unsigned refs; /* threads reading through it now */
    hd_vfs_file *f;
} hd_pack_handle;

struct herd_registry {
    const hd_vfs *vfs;
    char *dir;
    char *journal_path, *lock_path, *index_path;
    herd_registry_options opt;
    hd_vfs_file *journal;
    hd_vfs_file *lockf; /* NULL when read-only */
    /* Serialises this handle's commits, refreshes and index rewrites; the
     * OFD lock on lockf serialises them with other handles and processes.
     * Taken with hd_write_mu_lock. */
    pthread_mutex_t write_mu;
    /* Threads holding or waiting for write_mu: the handle's readers give
     * way to them (hd_state_rdlock). */
    _Atomic unsigned writers;
    /* Guards `st` and `jend`: readers share it (hd_state_rdlock), applying
     * records takes it exclusively. */
    pthread_rwlock_t rw;
    hd_rstate st;
    uint64_t jend;  /* end of the last record applied */
    /* The journal's end where this handle's writer is appending a record
     * (0: none): while it is, whatever lies past that end is that record,
     * which a refresh need not wait for (hd_registry_refresh_read). */
    _Atomic uint64_t appending;
    size_t record_chunk; /* hd_registry_set_record_chunk */
    size_t record_peak;  /* the last record writer's buffers at their largest */
    size_t index_peak;   /* the last index writer's buffers at their largest */
    uint64_t checkpoint_every;
    int whole_index; /* checkpoints rewrite the whole index (a benchmark's baseline) */
    uint64_t pack_target; /* start a new pack past this size */
    uint64_t spill_bytes; /* batches past this size write their own pack */
    uint64_t stream_bytes; /* ... streaming ones (hd_batch_stream) past this */
    int damaged;    /* opened with allow_damaged over a damaged journal */
    uint64_t verified_to; /* the journal's records below this were checked (checkpoints) */
    uint64_t damaged_off;
    _Atomic int stale; /* the state missed a committed record: reload it (read by refreshes) */
    int index_damaged; /* set aside at open: the next commit rewrites it */
    int write_failed;  /* a journal sync failed and its undo too: no more writes */
    int cut_unsynced;  /* set at open and when a cut's sync failed: the next write cuts and syncs */
    unsigned checkpoint_failures; /* index rewrites failed in a row */
    uint64_t checkpoint_retry_at; /* after a failure: the changes count to try again at */
    pthread_mutex_t pack_mu; /* guards packs */
    hd_pack_handle **packs;
    size_t npacks, cappacks;
    hd_predcache *predictors; /* herd_registry_predict's loaded models */
};

/* ---- Creating and opening (open.c) ------------------------------------- */

/* Now, in ms since 1970 (UTC). */
int64_t hd_now_ms(void);
/* "dir/name", allocated; NULL on ENOMEM. */
char *hd_join(const char *dir, const char *name);
/* The pack file name of `id`, into buf (at least dir length + 20). */
void hd_pack_path(const herd_registry *reg, uint32_t id, char *buf, size_t size);

/* ---- The journal and the writer lock (journal.c) ----------------------- */

typedef enum { HD_TAIL_CLEAN, HD_TAIL_TORN } hd_tail;

/* What a lossy replay (hd_rstate.lossy) dropped: each damaged stretch of
 * the journal, what its record held as far as its bytes can be read, and
 * what later records show was lost (hd_lost_fn).  Text, for messages, the
 * log and herd_registry_check. */
typedef struct hd_loss_log {
    hd_wbuf text;     /* "; "-separated descriptions, NUL-terminated when n > 0 */
    size_t records;   /* damaged stretches skipped */
    uint64_t first;   /* offset of the first */
    uint64_t last;    /* offset of the latest: what later losses are laid to */
} hd_loss_log;

void hd_loss_log_free(hd_loss_log *log);
/* The hd_lost_fn of a lossy replay: ctx is an hd_loss_log. */
void hd_loss_note(void *ctx, hd_lost_kind kind, const char *family, const char *key,
                  const char *alias, uint32_t version);

/* Apply the records after *jend to `st` (under `rw` when not NULL).  *tail
 * says whether an incomplete or invalid tail (nothing valid after it) was
 * found: a crashed writer's, or a writer's that is still appending. */
int hd_journal_catch_up(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail,
                        uint64_t *bad_off, pthread_rwlock_t *rw);
/* A fresh state: the index, if one is usable, and the journal after it. */
int hd_load_state(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail);
/* Swap in a freshly loaded state (under the write mutex). */
int hd_reload(herd_registry *reg, hd_tail *tail);
/* Apply what other writers committed.  The caller holds write_mu. */
int hd_catch_up_locked(herd_registry *reg, hd_tail *tail);
/* Refresh: apply what other handles committed.  When the journal holds
 * nothing new it takes no lock but a moment of the state's read side. */
int hd_registry_refresh_read(herd_registry *reg);
/* Take the state's read side (release with pthread_rwlock_unlock); while
 * a thread holds or waits for this handle's write_mu, yield the CPU first
 * now and then (open.c says why). */
void hd_state_rdlock(herd_registry *reg);
/* Take and release the handle's write_mu (every commit, catch-up under it,
 * rebuild and gc does), counting the threads readers give way to. */
void hd_write_mu_lock(herd_registry *reg);
void hd_write_mu_unlock(herd_registry *reg);
/* Release the writer lock (the lock file's OFD lock). */
void hd_writer_unlock(herd_registry *reg);
/* Set the journal back to its committed end (holding the writer lock),
 * syncing the cut; a journal already at its end is left alone. */
int hd_cut_tail(herd_registry *reg);
/* Take the writer lock and catch up: the state is then the registry's.
 * `repair`: for an index rebuild, which may run over a damaged journal. */
int hd_begin_write(herd_registry *reg, int repair);
/* Replay the whole journal into a fresh `st`, resyncing past damaged
 * records (each costs what it held; `log` says what): HERD_OK, or an I/O or
 * memory error.  A torn tail is not damage. */
int hd_registry_replay(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_loss_log *log);
/* Check the records in [from, to) against their checksums, without
 * applying them: HERD_OK, or HERD_ECORRUPT naming the first bad one. */
int hd_journal_verify(herd_registry *reg, uint64_t from, uint64_t to, uint64_t *bad_off);

/* ---- Packs (pack.c) ---------------------------------------------------- */

/* Gathers blobs into large writes at increasing offsets of one pack, and
 * starts their writeback every HD_WRITEBACK_EVERY bytes, so that the one
 * fdatasync at the end of a large commit has little left to do. */
typedef struct hd_pack_writer {
    hd_vfs_file *f;
    uint64_t off;    /* where the buffer goes */
    uint64_t hinted; /* writeback started below this offset */
    hd_wbuf buf;
} hd_pack_writer;

/* Forget pack `id`: its handle closes once no thread reads through it. */
void hd_pack_forget(herd_registry *reg, uint32_t id);
/* Pack `id`'s handle, opened on first use (writable if `rdwr`). */
int hd_pack_get(herd_registry *reg, uint32_t id, int rdwr, hd_pack_handle **out);
/* Read `len` bytes at `off` of pack `id` into *buf, which holds *cap bytes
 * and is replaced by a larger one when needed (*buf may be NULL).  A span
 * past the end of the pack is HERD_ECORRUPT before anything is allocated. */
int hd_pack_read(herd_registry *reg, uint32_t id, uint64_t off, size_t len, unsigned char **buf,
                 size_t *cap);
/* Write the buffered bytes.  On failure nothing moves. */
int hd_pw_flush(hd_pack_writer *w);
/* Add n bytes; *at (may be NULL) receives the offset they land at. */
int hd_pw_add(hd_pack_writer *w, const void *p, size_t n, uint64_t *at);
/* Open pack `id` for appending at `end` (writers only, holding write_mu). */
int hd_pack_open_for_append(herd_registry *reg, uint32_t id, int is_new, uint64_t end,
                            hd_vfs_file **out);

/* ---- Batches (batch.c) ------------------------------------------------- */

typedef struct hd_bitem {
    const char *family, *key, *run_id, *idem, *created, *fingerprint, *alias;
    size_t nmetrics, ntags;
    const char **mnames;
    double *mvalues;
    const char **tnames, **tvalues;
    unsigned char *blob; /* NULL once spilled to the batch's own pack */
    size_t len;
    uint32_t pack; /* where the commit put it */
    uint64_t off;
    int64_t version;
    int existed;
} hd_bitem;

typedef enum { HD_B_VERSION, HD_B_ALIAS, HD_B_ARCHIVE, HD_B_RUN } hd_bkind;

typedef struct hd_bop {
    hd_bkind kind;
    const char *family, *key, *alias, *reason, *details, *run_id, *params, *summary;
    int64_t version; /* ALIAS target (0: delete) or ARCHIVE */
    int64_t expect;
    size_t item;     /* VERSION, or ALIAS of a new version (to_item) */
    int to_item;
} hd_bop;

/* A batch keeps its artifacts in memory until they pass HD_SPILL_BYTES
 * (hd_registry_set_spill_bytes; HD_STREAM_SPILL_BYTES for a streaming
 * batch, hd_batch_stream); then they go to a pack of its own
 * (`pack-tmp-...`, locked while the batch lives), written as they are
 * added, which the commit renames into place: a 2 GB batch neither holds
 * 2 GB of memory nor writes it twice. */
/* What a committed batch keeps of a version: herd_batch_version's answer. */
typedef struct hd_bsettled {
    uint32_t version;
    int existed;
} hd_bsettled;

struct herd_batch {
    herd_registry *reg;
    hd_arena *arena;
    hd_bitem *items;
    size_t n, cap;
    hd_bsettled *settled; /* once settled: items, ops and arena are gone */
    hd_bop *ops;
    size_t nops, capops;
    hd_strcache recent; /* what every version repeats is stored once (hd_bdup) */
    uint64_t mem_bytes; /* of artifacts held in memory */
    uint64_t spill_at;  /* spill once mem_bytes would pass this */
    hd_pack_writer spill; /* spill.f NULL until the batch spills */
    char *spill_path;
    int committed;
    herd_progress_fn progress; /* herd_batch_set_progress */
    void *progress_user;
};

/* Point `alias` at the item-th version of the batch when it commits:
 * herd_batch_set_alias for a version whose number the commit assigns
 * (opt's reason, details, run id and expect_version apply).  Messages
 * name the argument; no prefix is added. */
int hd_batch_alias_item(herd_batch *b, size_t item, const char *alias,
                        const herd_alias_options *opt);
/* A write or sync of the batch's own pack failed: the batch cannot be
 * committed.  Returns rc. */
int hd_batch_broken(herd_batch *b, int rc);
/* Once the batch's record is durable: keep each version's number and drop
 * the metadata, operations and artifacts, so that applying the record to
 * the state does not hold the batch beside it.  A failure (memory) keeps
 * the batch as it is; nothing depends on the release. */
void hd_batch_settle(herd_batch *b);
/* Whether the batch can still take operations: HERD_EINVAL once committed,
 * HERD_EIO after a failed write of its artifacts; messages name `fn`. */
int hd_batch_open_check(const herd_batch *b, const char *fn);

/* ---- Writing a record (record.c) -------------------------------------- */

/* A journal record is written as it is encoded, never held whole: a commit
 * of 50,000 versions makes a record of tens of MB.  The operations gather
 * in a chunk buffer (HD_RECORD_CHUNK, hd_registry_set_record_chunk); a
 * full chunk, cut at an operation boundary, is written at its place after
 * the frame and the commit header, and only its offset, length and
 * operation count are kept.  Once the last operation is in,
 * hd_recw_commit writes the frame and the commit header, last, at the
 * record's start (the whole record in that one write when it fits one
 * chunk), and fdatasyncs once: a reader finds no frame before the whole
 * payload is in the file, and until then sees a torn tail.  The commit
 * and gc both write their records through it. */
#define HD_RECORD_CHUNK (1024u * 1024u)

typedef struct hd_rec_chunk {
    uint64_t off; /* in the journal */
    uint32_t len, nops;
} hd_rec_chunk;

typedef struct hd_recw {
    herd_registry *reg;
    uint64_t at;      /* where the record starts: the journal's end */
    size_t chunk;     /* the chunk size */
    hd_wbuf buf;      /* room for the frame and commit header, then a chunk's operations */
    uint32_t buf_nops;
    hd_wbuf op;       /* the operation being encoded */
    uint32_t nops;    /* operations so far */
    uint64_t written; /* operation bytes written to the journal */
    uint32_t crc;     /* their CRC32 */
    uint64_t seq;     /* its commit number (hd_recw_commit) */
    hd_rec_chunk *chunks;
    size_t nchunks, capchunks;
    unsigned char head[HD_REC_HEADER + HD_COMMIT_HEADER]; /* frame and commit header */
    size_t peak;      /* the most bytes its buffers held at once */
} hd_recw;

/* Start a record at the journal's end (holding the writer lock). */
int hd_recw_begin(hd_recw *w, herd_registry *reg);
/* The buffer to encode the next operation into (empty), then
 * hd_recw_op_done once it is whole: the operation joins the chunk,
 * which is written first if the operation would overfill it.  An
 * operation larger than a chunk is a chunk of its own. */
hd_wbuf *hd_recw_op(hd_recw *w);
int hd_recw_op_done(hd_recw *w);
/* Write what is left, then the commit header (time, pack position,
 * operation count) and the frame, and fdatasync.  On failure the record
 * is cut off again (hd_recw_fail); *maybe_visible says that the cut could
 * not be made durable after a failed sync. */
int hd_recw_commit(hd_recw *w, int64_t time_ms, const hd_packpos *pos, uint64_t seq,
                   int *maybe_visible);
/* Abandon the record (an error `rc` found while encoding it): cut off
 * what was written and sync the cut.  Returns rc, its message kept.  A
 * writer zeroed and never begun has nothing to cut. */
int hd_recw_fail(hd_recw *w, int rc);
/* Apply the record just committed to the handle's state (holding
 * write_mu), chunk by chunk as read back from the journal; `what` names
 * it in messages ("the record").  The record is durable whatever happens
 * here: when applying it fails (memory), the state is loaded again from
 * the files. */
void hd_recw_apply(hd_recw *w, const char *what);
void hd_recw_free(hd_recw *w);

/* ---- The index's segments (tiers.c) ------------------------------------ */

/* The base "index" if usable and the chain of deltas above it, each
 * checked against the journal; a file set aside (damaged, or of another
 * journal) or passed over sets reg->index_damaged, so that the next commit
 * writes what replaces it.  *seg is malloc'd (NULL when *nseg is 0). */
int hd_segments_open(herd_registry *reg, hd_index ***seg, size_t *nseg);
/* Write the segments first.. of `st` and its overlay, merged, as one
 * segment covering the journal up to `jend` (first 0: the base). */
int hd_segments_write(herd_registry *reg, const hd_rstate *st, uint64_t jend, size_t first);
/* Remove the delta files the handle's chain does not use (holding the
 * writer lock). */
void hd_segments_prune(herd_registry *reg);
/* If enough changed since the last checkpoint (or `force`), write the
 * changed groups as a delta, merged with the segments below that do not
 * outweigh it, and swap the result in.  A failure is logged: the commit
 * itself is durable. */
void hd_maybe_checkpoint(herd_registry *reg, int force);
/* Call fn with the path of the base and of every delta file present,
 * used or not (for herd_registry_check). */
int hd_segments_each_file(herd_registry *reg, int (*fn)(void *ctx, const char *path),
                          void *ctx);
/* Whether `name` is a delta's ("index-S-E"): 1 with its journal range. */
int hd_delta_name_parse(const char *name, uint64_t *start, uint64_t *end);

#endif
