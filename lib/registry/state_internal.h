/* state_internal.h -- the registry's in-memory state and the journal
 * records that change it (state.c); docs/registry.md describes the files.
 *
 * A snapshot is an index (possibly none) plus an overlay: the groups that
 * journal records after the index changed, each copied up whole from the
 * index when first touched, so a group is always read from one place.
 * The index itself is a stack of segments (docs/registry.md, "index"): a
 * base, a snapshot of every group, and deltas above it, each holding whole
 * the groups that changed in its stretch of the journal.  A group is read
 * from the newest place that has it: the overlay, then the segments from
 * the top down.
 *
 * lib/registry, bottom to top: codec (data model, byte codec), index (the
 * index file, read), state, index_write (a state written as the index),
 * then the handle's files (handle_internal.h) and query.c.
 */
#ifndef HERD_REGISTRY_STATE_INTERNAL_H
#define HERD_REGISTRY_STATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/mem_internal.h"
#include "registry/codec_internal.h"
#include "registry/index_internal.h"

/* ---- The state: index + overlay ---------------------------------------- */

/* What a replay past a damaged journal record learns was lost: a version
 * a later record shows existed (its number was skipped), or an alias move
 * a later one shows happened (its "from" is not where the alias pointed). */
typedef enum { HD_LOST_VERSION, HD_LOST_MOVE } hd_lost_kind;
typedef void (*hd_lost_fn)(void *ctx, hd_lost_kind kind, const char *family, const char *key,
                           const char *alias, uint32_t version);

/* The fewest journal bytes a version entry takes: six length-prefixed
 * strings (family, key, run id, idempotency key, created, fingerprint), the
 * version, pack, offset, length and the metric and tag counts. */
#define HD_VERSION_ENTRY_MIN (6 * 4 + 4 + 4 + 8 + 4 + 4 + 4)

typedef struct hd_rstate {
    hd_index **seg; /* the index's segments, base first (nseg 0: none) */
    size_t nseg;
    hd_arena *arena; /* overlay strings and arrays */
    hd_strcache strs; /* the arena's repeated short strings, stored once */
    hd_arena *scratch; /* a group decoded from the index while it is copied up */
    hd_rgroup **slots; /* overlay groups, open addressing by hash */
    size_t cap, n;
    /* idempotency keys of the overlay: key -> (group, version) */
    struct hd_ridem *idem;
    size_t idem_cap, idem_n;
    hd_rrun *runs; /* overlay runs (new ids, or replacing an index run) */
    size_t nruns, capruns;
    hd_packpos pack;
    uint64_t seq;     /* the last commit applied */
    uint64_t rec_off; /* journal offset of its record (0: none) */
    uint64_t changes; /* versions and moves in the overlay */
    /* Set while replaying past a damaged record: commit numbers may skip,
     * and versions a later record needs that the lost one made become
     * placeholders (archived, no artifact, HD_RV_LOST), told to on_lost. */
    int lossy;
    /* How many placeholders the damage skipped so far can account for:
     * a skipped stretch of n bytes held at most n / HD_VERSION_ENTRY_MIN
     * versions, so that a damaged number (an alias "moved" to version
     * 3,000,000,000) is damage, never billions of placeholders. */
    uint64_t lost_budget;
    hd_lost_fn on_lost;
    void *lost_ctx;
} hd_rstate;

typedef struct hd_ridem {
    const char *key;
    uint64_t hash;
    hd_rgroup *g;
    uint32_t version;
} hd_ridem;

/* Takes `seg` (malloc'd) and its indexes, even on failure. */
int hd_rstate_init(hd_rstate *st, hd_index **seg, size_t nseg);
void hd_rstate_free(hd_rstate *st);

/* The overlay group, or NULL. */
hd_rgroup *hd_rstate_overlay(const hd_rstate *st, const char *family, const char *key,
                             uint64_t hash);
/* Find a group wherever it is: 1 with *out (an overlay group, or one
 * decoded into `scratch`), 0 absent, negative on damage. */
int hd_rstate_find(const hd_rstate *st, const char *family, const char *key,
                   hd_arena *scratch, const hd_rgroup **out);
/* The version of an idempotency key: 1 with family/key/version, 0, < 0. */
int hd_rstate_idem(const hd_rstate *st, const char *idem, const char **family,
                   const char **key, uint32_t *version);
/* The fast path of alias resolution, through the segments only (the
 * caller checked the overlay): as hd_index_alias. */
int hd_rstate_index_alias(const hd_rstate *st, const char *family, const char *key,
                          uint64_t hash, const char *alias, uint32_t *version,
                          int *group_found);
/* Visit every group (overlay and index merged) in (family, key) order.
 * Overlay groups always come whole; `parts` limits what index groups
 * decode (hd_rstate_foreach: everything). */
int hd_rstate_foreach(const hd_rstate *st, const char *family, hd_group_fn fn, void *ctx);
int hd_rstate_foreach_parts(const hd_rstate *st, const char *family, unsigned parts,
                            hd_group_fn fn, void *ctx);
/* The same over segments first.. and the overlay only: what a merge of
 * those segments writes. */
int hd_rstate_foreach_from(const hd_rstate *st, size_t first, const char *family,
                           unsigned parts, hd_group_fn fn, void *ctx);
/* Runs, index ones first, overlay replacements applied (_from: of
 * segments first.. and the overlay). */
int hd_rstate_runs(const hd_rstate *st, hd_rrun **out, size_t *n);
int hd_rstate_runs_from(const hd_rstate *st, size_t first, hd_rrun **out, size_t *n);
/* The versions and alias moves of the overlay's groups, whole: the weight
 * of the delta they would be written as. */
uint64_t hd_rstate_overlay_weight(const hd_rstate *st);

/* ---- Journal records -------------------------------------------------- */

enum {
    HD_OP_VERSION = 1,
    HD_OP_ALIAS = 2,
    HD_OP_ARCHIVE = 3,
    HD_OP_RUN = 4,
    HD_OP_RELOCATE = 5
};

/* Record framing: header then payload. */
enum { HD_REC_HEADER = 24 };
/* The payload's commit header: time, pack position, operation count. */
#define HD_COMMIT_HEADER 28u
#define HD_REC_MAGIC 0x43455248u /* "HREC" */
#define HD_REC_MAX_PAYLOAD (1ull << 40)

/* Apply one record's payload (already checksummed) to the state.  Errors
 * are HERD_ECORRUPT naming `where` (file and offset).  A failure may leave
 * the record applied in part: the caller then loads the state again. */
int hd_rstate_apply(hd_rstate *st, uint64_t seq, const unsigned char *payload, size_t len,
                    const char *where);

/* The same in pieces, for a record read a chunk at a time (the writer's
 * own, commit.c): _begin reads the commit header (the payload's first
 * HD_COMMIT_HEADER bytes, or the whole payload: it reads what it needs,
 * c->r.pos says how much), each _ops call applies exactly `nops`
 * operations that fill ops[0..len), and _end, once the header's count is
 * reached, sets the pack position and the commit number.  hd_rstate_apply
 * is begin, one _ops call and end. */
typedef struct hd_rapply {
    hd_rstate *st;
    hd_rbuf r;       /* what is being read */
    uint64_t seq;
    int64_t time_ms;
    hd_packpos pos;  /* the header's pack position */
    uint32_t nops;   /* the header's operation count */
    uint32_t done;   /* applied so far */
    const char *where;
} hd_rapply;

int hd_rstate_apply_begin(hd_rapply *c, hd_rstate *st, uint64_t seq,
                          const unsigned char *head, size_t len, const char *where);
int hd_rstate_apply_ops(hd_rapply *c, const unsigned char *ops, size_t len, uint32_t nops);
int hd_rstate_apply_end(hd_rapply *c);

#endif
