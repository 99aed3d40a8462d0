/* tiers.c -- the index as a stack of segments: which files make it, and
 * the checkpoints that write them.
 *
 * Rewriting one index of every group after each 16,384 changes costs a
 * registry of a million versions a rewrite of all of them each time:
 * commits slow down as the registry grows.  So a checkpoint writes only
 * the groups that changed since the last one, as a delta segment above
 * the base, and merges segments geometrically (an LSM tree's size-tiered
 * compaction): the new delta swallows every segment below it that does
 * not outweigh it and what it already swallowed.  Each segment kept then
 * outweighs all those above it, so there are at most log2 of the
 * registry's size of them, and a change is rewritten about that many
 * times over its life instead of once per checkpoint.
 *
 * Files (docs/registry.md): "index", the base, a snapshot of every group
 * (the format of the whole index before 0.2, read by older libraries as
 * it always was), and "index-S-E", a delta holding whole the groups that
 * changed between journal offsets S and E (16 hex digits each), S being
 * the end of the segment below it.  Opening chains them from the base's
 * end, taking at each step the delta that reaches furthest, each checked
 * against the journal as the base is; a file that is missing, damaged or
 * from another journal ends the chain there, and the journal after it is
 * replayed: it costs time, never data.  A merge writes its new file before
 * the ones it replaces are removed, so a crash between the two leaves
 * files the chain passes over; the next checkpoint removes them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/bytes_internal.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "registry/handle_internal.h"
#include "registry/index_write_internal.h"

enum { HD_DELTA_NAME = 39 }; /* "index-" + 16 hex + "-" + 16 hex */

int hd_delta_name_parse(const char *name, uint64_t *start, uint64_t *end)
{
    if (strlen(name) != HD_DELTA_NAME || strncmp(name, "index-", 6) || name[22] != '-')
        return 0;
    uint64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        for (const char *p = name + 6 + 17 * k, *e = p + 16; p < e; p++) {
            int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
            if (d < 0) return 0;
            v[k] = v[k] << 4 | (uint64_t)d;
        }
    }
    *start = v[0];
    *end = v[1];
    return *start < *end;
}

static void hd_delta_name(char *buf, size_t size, uint64_t start, uint64_t end)
{
    snprintf(buf, size, "index-%016" PRIx64 "-%016" PRIx64, start, end);
}

/* Whether the index's place in the journal is one the journal really has:
 * the record starting at its last record's offset ends at its journal end
 * and carries its commit number.  An index from another journal (a
 * restored backup, a damaged header field) is never trusted. */
static int hd_index_matches_journal(herd_registry *reg, const hd_index *ix)
{
    uint64_t jend = hd_index_journal_end(ix), at = hd_index_last_record(ix), size = 0;
    unsigned char h[HD_REC_HEADER];
    size_t got = 0;
    if (hd_vfs_size(reg->journal, &size) || jend < HD_JNL_HEADER || jend > size) return 0;
    if (hd_index_seq(ix) == 0) return jend == HD_JNL_HEADER && at == 0;
    if (at < HD_JNL_HEADER || at > jend - HD_REC_HEADER) return 0;
    if (hd_vfs_pread(reg->journal, h, sizeof h, at, &got) || got < sizeof h) return 0;
    return hd_rd32(h) == HD_REC_MAGIC && hd_crc32(h, 20) == hd_rd32(h + 20) &&
           hd_rd64(h + 8) == hd_index_seq(ix) &&
           at + HD_REC_HEADER + hd_rd32(h + 4) == jend;
}

/* ---- the delta files of the directory ---- */

typedef struct hd_delta {
    uint64_t start, end;
} hd_delta;

typedef struct hd_delta_list {
    hd_delta *v;
    size_t n, cap;
} hd_delta_list;

static int hd_delta_seen(void *ctx, const char *name)
{
    hd_delta_list *l = ctx;
    hd_delta d;
    if (!hd_delta_name_parse(name, &d.start, &d.end)) return 0;
    if (l->n == l->cap && hd_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v))
        return HERD_ENOMEM;
    l->v[l->n++] = d;
    return 0;
}

/* Longest reach first among deltas of the same start. */
static int hd_delta_cmp(const void *a, const void *b)
{
    const hd_delta *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end == y->end ? 0 : x->end > y->end ? -1 : 1;
}

static int hd_deltas_list(herd_registry *reg, hd_delta_list *l)
{
    memset(l, 0, sizeof *l);
    int rc = hd_vfs_list_dir(reg->vfs, reg->dir, hd_delta_seen, l);
    if (rc) {
        free(l->v);
        memset(l, 0, sizeof *l);
        return rc;
    }
    if (l->n) qsort(l->v, l->n, sizeof *l->v, hd_delta_cmp);
    return HERD_OK;
}

/* ---- opening the segments ---- */

typedef struct hd_segs {
    hd_index **v;
    size_t n, cap;
} hd_segs;

static int hd_segs_push(hd_segs *s, hd_index *ix)
{
    if (s->n == s->cap && hd_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v)) {
        hd_index_free(ix);
        return HERD_ENOMEM;
    }
    s->v[s->n++] = ix;
    return HERD_OK;
}

static void hd_segs_free(hd_segs *s)
{
    for (size_t i = 0; i < s->n; i++) hd_index_free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Open a segment file and check it against the journal and the place it
 * must take: 1 and *out when usable; 0 when there is none (or a writer's
 * merge removed it meanwhile), or when it is set aside (damaged, or not
 * this journal's: logged, and the next commit replaces it); negative on
 * an error that is not the file's (memory, I/O). */
static int hd_segment_open(herd_registry *reg, const char *path, uint64_t start, uint64_t end,
                           hd_index **out)
{
    *out = NULL;
    hd_index *ix = NULL;
    int rc = hd_index_open(reg->vfs, path, &ix);
    if (rc == HERD_ENOTFOUND) {
        herd_clear_error();
        return 0;
    }
    if (rc == HERD_ECORRUPT || rc == HERD_EFORMAT) {
        hd_log(HERD_LOG_WARN, "%s; reading the journal instead", herd_last_error());
        herd_clear_error();
        reg->index_damaged = 1;
        return 0;
    }
    if (rc) return rc;
    if (hd_index_start(ix) != start || (end && hd_index_journal_end(ix) != end) ||
        !hd_index_matches_journal(reg, ix)) {
        hd_log(HERD_LOG_WARN, "registry index %s does not match the journal (it covers "
               "offsets %llu to %llu of commit %llu, which the journal does not have there); "
               "reading the journal instead", path, (unsigned long long)hd_index_start(ix),
               (unsigned long long)hd_index_journal_end(ix),
               (unsigned long long)hd_index_seq(ix));
        hd_index_free(ix);
        reg->index_damaged = 1;
        return 0;
    }
    *out = ix;
    return 1;
}

/* The deltas above offset `pos`, each the furthest-reaching usable one
 * that starts where the previous one ends. */
static int hd_chain_deltas(herd_registry *reg, hd_segs *s, const hd_delta_list *l)
{
    uint64_t pos = hd_index_journal_end(s->v[0]);
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].start != pos) continue;
        char name[HD_DELTA_NAME + 1];
        hd_delta_name(name, sizeof name, l->v[i].start, l->v[i].end);
        char *path = hd_join(reg->dir, name);
        if (!path) return HERD_ENOMEM;
        hd_index *ix;
        int rc = hd_segment_open(reg, path, l->v[i].start, l->v[i].end, &ix);
        free(path);
        if (rc < 0) return rc;
        if (rc == 0) continue; /* a shorter one of the same start may do */
        if ((rc = hd_segs_push(s, ix))) return rc;
        pos = l->v[i].end;
        i = 0 - (size_t)1; /* the list is sorted by start: rescan for the new one */
    }
    /* A delta beyond where the chain ended was passed over (damaged or
     * missing below it): the next commit writes one to take its place. */
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].end > pos) reg->index_damaged = 1;
    return HERD_OK;
}

int hd_segments_open(herd_registry *reg, hd_index ***seg, size_t *nseg)
{
    *seg = NULL;
    *nseg = 0;
    hd_segs s = {0};
    hd_index *base;
    int rc = hd_segment_open(reg, reg->index_path, 0, 0, &base);
    if (rc < 0) return rc;
    if (rc == 0) {
        /* No base (a registry that never checkpointed, or one whose base
         * was set aside): deltas, if any, continue from nothing here. */
        hd_delta_list l;
        if (hd_deltas_list(reg, &l) == HERD_OK && l.n) reg->index_damaged = 1;
        herd_clear_error();
        free(l.v);
        return HERD_OK;
    }
    if ((rc = hd_segs_push(&s, base))) return rc;
    hd_delta_list l;
    rc = hd_deltas_list(reg, &l);
    if (!rc) rc = hd_chain_deltas(reg, &s, &l);
    free(l.v);
    if (rc) {
        hd_segs_free(&s);
        return rc;
    }
    *seg = s.v;
    *nseg = s.n;
    return HERD_OK;
}

int hd_segments_each_file(herd_registry *reg, int (*fn)(void *ctx, const char *path),
                          void *ctx)
{
    hd_delta_list l;
    int rc = fn(ctx, reg->index_path);
    if (!rc) rc = hd_deltas_list(reg, &l);
    for (size_t i = 0; !rc && i < l.n; i++) {
        char name[HD_DELTA_NAME + 1];
        hd_delta_name(name, sizeof name, l.v[i].start, l.v[i].end);
        char *path = hd_join(reg->dir, name);
        rc = path ? fn(ctx, path) : HERD_ENOMEM;
        free(path);
    }
    if (!rc || l.v) free(l.v);
    return rc;
}

/* ---- checkpoints ---- */

/* The segments the next checkpoint merges with the overlay: those from the
 * returned one up.  Going down, a segment is merged while it does not
 * outweigh what is already being written. */
static size_t hd_merge_from(const hd_rstate *st)
{
    uint64_t acc = hd_rstate_overlay_weight(st);
    size_t first = st->nseg;
    while (first > 0 && hd_index_weight(st->seg[first - 1]) <= acc)
        acc += hd_index_weight(st->seg[--first]);
    return first;
}

/* Whether (start, end) is a delta of the state's chain. */
static int hd_in_chain(const hd_rstate *st, uint64_t start, uint64_t end)
{
    for (size_t i = 1; i < st->nseg; i++)
        if (hd_index_start(st->seg[i]) == start && hd_index_journal_end(st->seg[i]) == end)
            return 1;
    return 0;
}

void hd_segments_prune(herd_registry *reg)
{
    hd_delta_list l;
    if (hd_deltas_list(reg, &l)) {
        herd_clear_error();
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (hd_in_chain(&reg->st, l.v[i].start, l.v[i].end)) continue;
        char name[HD_DELTA_NAME + 1];
        hd_delta_name(name, sizeof name, l.v[i].start, l.v[i].end);
        char *path = hd_join(reg->dir, name);
        /* Left behind, it is passed over by every open and retried by the
         * next checkpoint: nothing to report. */
        if (path && hd_vfs_unlink(reg->vfs, path)) herd_clear_error();
        free(path);
    }
    free(l.v);
}

int hd_segments_write(herd_registry *reg, const hd_rstate *st, uint64_t jend, size_t first)
{
    uint64_t start = first ? hd_index_journal_end(st->seg[first - 1]) : 0;
    char name[HD_DELTA_NAME + 1];
    if (first) hd_delta_name(name, sizeof name, start, jend);
    char *tmp = hd_join(reg->dir, "index.tmp");
    char *final = first ? hd_join(reg->dir, name) : hd_join(reg->dir, "index");
    int rc = tmp && final ? hd_index_write(reg->vfs, reg->dir, tmp, final, st, first, start, jend,
                                           &reg->index_peak)
                          : HERD_ENOMEM;
    free(tmp);
    free(final);
    return rc;
}

/* After a failed index rewrite (a full disk: the index is about as big as
 * the registry's metadata), the next attempt waits for checkpoint_every
 * times 1, 2, 4, then HD_CHECKPOINT_BACKOFF_MAX more changes: a commit does
 * not rewrite a large file only to fail again, and once space is back
 * opening replays at most about HD_CHECKPOINT_BACKOFF_MAX + 1 checkpoints'
 * worth of records. */
#define HD_CHECKPOINT_BACKOFF_MAX 8u

static void hd_checkpoint_failed(herd_registry *reg)
{
    unsigned shift = reg->checkpoint_failures < 3 ? reg->checkpoint_failures : 3;
    uint64_t every = reg->checkpoint_every ? reg->checkpoint_every : HD_DEFAULT_CHECKPOINT;
    uint64_t wait = every << shift;
    if (wait > every * HD_CHECKPOINT_BACKOFF_MAX) wait = every * HD_CHECKPOINT_BACKOFF_MAX;
    reg->checkpoint_failures++;
    reg->checkpoint_retry_at = reg->st.changes + wait;
    hd_log(HERD_LOG_WARN, "registry %s: rewriting the index failed (the commit itself is "
           "durable; free some space: the next attempt comes after %llu more versions and "
           "alias moves, and until then opening replays the journal since the last index): "
           "%s", reg->dir, (unsigned long long)wait, herd_last_error());
    herd_clear_error();
}

/* The records the new index covers for the first time are read back and
 * checked: bit rot since they were written is found while this handle's
 * state still holds what they committed, which the index then keeps, and
 * commits through the handle stop until the damage is dealt with.
 * Returns 0 to go on with the checkpoint, -1 to skip it (unreadable). */
static int hd_checkpoint_verify(herd_registry *reg)
{
    uint64_t bad = 0;
    int rc = hd_journal_verify(reg, reg->verified_to, reg->jend, &bad);
    if (rc == HERD_ECORRUPT) {
        hd_log(HERD_LOG_ERROR, "%s; found by the checkpoint's verification: the index written "
               "now keeps what it committed, and commits through this handle stop (run "
               "herd_registry_check, keep a copy of the index, then "
               "herd_registry_rebuild_index to resume)", herd_last_error());
        herd_clear_error();
        reg->damaged = 1;
        reg->damaged_off = bad;
        return 0;
    }
    if (rc) {
        hd_log(HERD_LOG_WARN, "registry %s: the checkpoint could not read the journal back "
               "(the commit itself is durable): %s", reg->dir, herd_last_error());
        herd_clear_error();
        return -1;
    }
    return 0;
}

void hd_maybe_checkpoint(herd_registry *reg, int force)
{
    if (reg->stale) return; /* the state missed its own record: never snapshot it */
    if (!force && (!reg->checkpoint_every || reg->st.changes < reg->checkpoint_every)) return;
    if (reg->checkpoint_failures && reg->st.changes < reg->checkpoint_retry_at) return;
    if (hd_checkpoint_verify(reg)) return;
    const hd_rstate *st = &reg->st;
    size_t first = reg->whole_index ? 0 : hd_merge_from(st);
    int rc = HERD_OK;
    /* Forced with nothing new above a sound chain: only the pruning is
     * left to do. */
    int nothing = first == st->nseg && st->nseg &&
                  hd_index_journal_end(st->seg[st->nseg - 1]) == reg->jend;
    if (!nothing) rc = hd_segments_write(reg, st, reg->jend, first);
    hd_tail tail;
    if (!rc) reg->index_damaged = 0;
    if (!rc && !nothing) rc = hd_reload(reg, &tail);
    if (!rc) hd_segments_prune(reg);
    if (rc) hd_checkpoint_failed(reg);
    else reg->checkpoint_failures = 0;
}
