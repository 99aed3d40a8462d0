/* index_internal.h -- the registry's binary index, read in place through
 * a mapping whose chunks are checksummed lazily (index.c).  Writing one
 * from a state is index_write.c's (index_write_internal.h): the reader
 * sits below the state, which reads through it, and the writer above it.
 */
#ifndef HERD_REGISTRY_INDEX_INTERNAL_H
#define HERD_REGISTRY_INDEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/mem_internal.h"
#include "common/vfs_internal.h"
#include "registry/codec_internal.h"

/* ---- Reading (index.c) ------------------------------------------------ */

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
/* The journal offset a delta continues from: the end of the segment below
 * it.  0 for a base, which covers the journal from its start. */
uint64_t hd_index_start(const hd_index *ix);
/* The versions and alias moves the file holds: its size, for choosing
 * which segments to merge. */
uint64_t hd_index_weight(const hd_index *ix);

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

/* The same walk, one group at a time, so that several indexes can be
 * merged: hd_index_cursor_next gives 1 and *g (valid until the next call),
 * 0 at the end, negative on damage. */
typedef struct hd_index_cursor {
    const hd_index *ix;
    const char *only; /* the family asked for, or NULL */
    unsigned parts;
    uint64_t f;        /* the next family record */
    const char *family; /* the current family's name */
    uint64_t rel, end; /* its group entries still to visit */
    size_t n;
    hd_arena *ar;
} hd_index_cursor;
void hd_index_cursor_init(hd_index_cursor *c, const hd_index *ix, const char *family,
                          unsigned parts);
int hd_index_cursor_next(hd_index_cursor *c, hd_rgroup *g);
void hd_index_cursor_free(hd_index_cursor *c);

/* Runs in the index, in order. */
size_t hd_index_nruns(const hd_index *ix);
int hd_index_run(const hd_index *ix, size_t i, hd_rrun *run);

/* Check every chunk; report each damaged one through fn(ctx, offset). */
int hd_index_verify(const hd_index *ix, int (*fn)(void *ctx, uint64_t offset), void *ctx);

const char *hd_index_path(const hd_index *ix);

#endif
