/* regstate_internal.h -- the registry's data model, its journal records and
 * its binary index (docs/registry.md describes the files).
 *
 *   regstate.c   byte codec, the in-memory state (groups, idempotency keys,
 *                runs) and the journal records that change it
 *   regindex.c   the index file: written from a snapshot, read in place
 *                through a mapping whose chunks are checksummed lazily
 *   registry.c   files, locks, open / refresh / commit, queries
 *
 * A snapshot is an index (possibly none) plus an overlay: the groups that
 * journal records after the index changed, each copied up whole from the
 * index when first touched, so a group is always read from one place.
 */
#ifndef HERD_REGSTATE_INTERNAL_H
#define HERD_REGSTATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/bytes_internal.h"
#include "common/mem_internal.h"
#include "common/vfs_internal.h"

/* ---- Byte codec (little-endian) --------------------------------------- */

typedef struct hd_wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} hd_wbuf;

void hd_wbuf_free(hd_wbuf *b);
void hd_wbuf_bytes(hd_wbuf *b, const void *p, size_t n);
void hd_wbuf_u8(hd_wbuf *b, unsigned v);
void hd_wbuf_u32(hd_wbuf *b, uint32_t v);
void hd_wbuf_u64(hd_wbuf *b, uint64_t v);
void hd_wbuf_f64(hd_wbuf *b, double v);
/* A string: u32 length (0xFFFFFFFF for NULL) and the bytes. */
void hd_wbuf_str(hd_wbuf *b, const char *s);
void hd_wbuf_zeros(hd_wbuf *b, size_t n);

typedef struct hd_rbuf {
    const unsigned char *p;
    size_t n, pos;
    int bad; /* read past the end or a malformed string */
} hd_rbuf;

unsigned hd_rbuf_u8(hd_rbuf *r);
uint32_t hd_rbuf_u32(hd_rbuf *r);
uint64_t hd_rbuf_u64(hd_rbuf *r);
double hd_rbuf_f64(hd_rbuf *r);
/* A string into `arena` (NUL-terminated); NULL for a NULL string or on
 * error (r->bad set). */
const char *hd_rbuf_str(hd_rbuf *r, hd_arena *arena);

/* ---- The data model ---------------------------------------------------- */

enum { HD_RV_ARCHIVED = 1u };

typedef struct hd_rmetric {
    const char *name;
    double value;
} hd_rmetric;

typedef struct hd_rtag {
    const char *name, *value;
} hd_rtag;

typedef struct hd_rver {
    uint32_t version, flags;
    uint32_t pack; /* 0: the artifact was garbage-collected */
    uint32_t len;
    uint64_t off;
    int64_t time_ms; /* commit time */
    const char *run_id, *idem, *created, *fingerprint; /* NULL: none */
    uint32_t nmetrics, ntags;
    const hd_rmetric *metrics;
    const hd_rtag *tags;
} hd_rver;

typedef struct hd_ralias {
    const char *name;
    uint32_t version;
} hd_ralias;

typedef struct hd_rmove {
    const char *alias;
    uint32_t from, to; /* 0: none / deleted */
    int64_t time_ms;
    uint64_t seq;
    const char *reason, *details, *run_id;
} hd_rmove;

/* One (family, group): versions[i].version == i + 1. */
typedef struct hd_rgroup {
    const char *family, *key;
    uint64_t hash;
    hd_rver *v;
    uint32_t nv, capv;
    hd_ralias *a;
    uint32_t na, capa;
    hd_rmove *m;
    uint32_t nm, capm;
} hd_rgroup;

typedef struct hd_rrun {
    const char *id, *params, *summary;
    int64_t time_ms;
} hd_rrun;

uint64_t hd_group_hash(const char *family, const char *key);
const hd_ralias *hd_rgroup_alias(const hd_rgroup *g, const char *name);
/* The newest version that is not archived, 0 if none. */
uint32_t hd_rgroup_latest(const hd_rgroup *g);

/* ---- The index (regindex.c) ------------------------------------------- */

typedef struct hd_index hd_index;

/* Map and check `path` (header and checksum table; the rest is checked
 * chunk by chunk on first use).  HERD_ENOTFOUND when there is none. */
int hd_index_open(const hd_vfs *vfs, const char *path, hd_index **out);
void hd_index_free(hd_index *ix);
uint64_t hd_index_journal_end(const hd_index *ix);
/* The journal offset where the last record the index covers starts (0:
 * none), so that an index can be checked against its journal. */
uint64_t hd_index_last_record(const hd_index *ix);
uint64_t hd_index_seq(const hd_index *ix);

/* The writer's position, as of the index. */
typedef struct hd_packpos {
    uint32_t cur;   /* pack commits append to; 0: none yet */
    uint64_t end;   /* its committed length */
    uint32_t max;   /* the highest pack id ever used */
    int64_t time_ms; /* the last commit's time */
} hd_packpos;
hd_packpos hd_index_packpos(const hd_index *ix);

/* Find (family, key): 1 and *g decoded into `arena` (strings point into
 * the mapping), 0 when absent, negative on a damaged chunk. */
int hd_index_find(const hd_index *ix, const char *family, const char *key, uint64_t hash,
                  hd_arena *arena, hd_rgroup *g);
/* The fast path of alias resolution: 1 and *version, 0 when the group or
 * the alias is absent (*group_found says which), negative on damage. */
int hd_index_alias(const hd_index *ix, const char *family, const char *key, uint64_t hash,
                   const char *alias, uint32_t *version, int *group_found);
/* The version of idempotency key `idem`: 1 with *family, *key (into the
 * mapping) and *version; 0 when absent; negative on damage. */
int hd_index_idem(const hd_index *ix, const char *idem, uint64_t hash, const char **family,
                  const char **key, uint32_t *version);

/* What of a group a visit decodes: the aliases always, and these.  A
 * group decoded without versions or moves has nv / nm 0. */
enum {
    HD_PART_VERSIONS = 1u,
    HD_PART_MOVES = 2u,
    HD_PART_ALL = 3u
};

/* Visit the groups in (family, key) order, of one family or all (NULL).
 * Each group is decoded into a scratch arena valid during the call.  A
 * non-zero return of fn stops and is returned. */
typedef int (*hd_group_fn)(void *ctx, const hd_rgroup *g);
int hd_index_foreach(const hd_index *ix, const char *family, unsigned parts, hd_group_fn fn,
                     void *ctx);

/* Runs in the index, in order. */
size_t hd_index_nruns(const hd_index *ix);
int hd_index_run(const hd_index *ix, size_t i, hd_rrun *run);

/* Check every chunk; report each damaged one through fn(ctx, offset). */
int hd_index_verify(const hd_index *ix, int (*fn)(void *ctx, uint64_t offset), void *ctx);

const char *hd_index_path(const hd_index *ix);

struct hd_rstate;
/* Write the snapshot `st` as the index of `dir` covering the journal up to
 * `journal_end`: a temporary file, fsync, rename over "index", fsync of
 * the directory.  The caller holds the writer lock. */
int hd_index_write(const hd_vfs *vfs, const char *dir, const struct hd_rstate *st,
                   uint64_t journal_end);

/* ---- The state: index + overlay (regstate.c) --------------------------- */

typedef struct hd_rstate {
    hd_index *ix;   /* may be NULL */
    hd_arena *arena; /* overlay strings and arrays */
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
} hd_rstate;

typedef struct hd_ridem {
    const char *key;
    uint64_t hash;
    hd_rgroup *g;
    uint32_t version;
} hd_ridem;

int hd_rstate_init(hd_rstate *st, hd_index *ix); /* takes ix */
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
/* Visit every group (overlay and index merged) in (family, key) order.
 * Overlay groups always come whole; `parts` limits what index groups
 * decode (hd_rstate_foreach: everything). */
int hd_rstate_foreach(const hd_rstate *st, const char *family, hd_group_fn fn, void *ctx);
int hd_rstate_foreach_parts(const hd_rstate *st, const char *family, unsigned parts,
                            hd_group_fn fn, void *ctx);
/* Runs, index ones first, overlay replacements applied. */
int hd_rstate_runs(const hd_rstate *st, hd_rrun **out, size_t *n);

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
#define HD_REC_MAGIC 0x43455248u /* "HREC" */
#define HD_REC_MAX_PAYLOAD (1ull << 40)

/* Apply one record's payload (already checksummed) to the state.  Errors
 * are HERD_ECORRUPT naming `where` (file and offset). */
int hd_rstate_apply(hd_rstate *st, uint64_t seq, const unsigned char *payload, size_t len,
                    const char *where);

#endif
