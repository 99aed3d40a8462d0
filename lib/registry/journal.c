/* journal.c -- the journal: reading records, catching a state up with
 * what was committed, loading and reloading the state, replaying the whole
 * journal, and the writer side's lock and tail cut.  Moved from registry.c
 * (handle_internal.h has the overview). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"

/* ------------------------------------------------------------------------
 * Reading the journal
 * --------------------------------------------------------------------- */

typedef struct hd_rec {
    uint64_t seq;
    uint32_t len;
    const unsigned char *payload;
} hd_rec;

/* Whether a valid record starts at b[0..n): 1 and *r, 0 if not. */
static int hd_rec_parse(const unsigned char *b, uint64_t n, hd_rec *r)
{
    if (n < HD_REC_HEADER || hd_rd32(b) != HD_REC_MAGIC) return 0;
    if (hd_crc32(b, 20) != hd_rd32(b + 20)) return 0;
    uint32_t len = hd_rd32(b + 4);
    if (len > n - HD_REC_HEADER) return 0;
    if (hd_crc32(b + HD_REC_HEADER, len) != hd_rd32(b + 16)) return 0;
    r->seq = hd_rd64(b + 8);
    r->len = len;
    r->payload = b + HD_REC_HEADER;
    return 1;
}

/* After an invalid record at b[pos]: is there a valid one later?  Then the
 * journal is damaged, not torn. */
static int hd_valid_record_after(const unsigned char *b, uint64_t n, uint64_t pos,
                                 uint64_t *found)
{
    static const unsigned char m[4] = {'H', 'R', 'E', 'C'};
    for (uint64_t i = pos + 1; i + HD_REC_HEADER <= n; i++) {
        const unsigned char *p = memchr(b + i, m[0], (size_t)(n - i));
        if (!p) return 0;
        i = (uint64_t)(p - b);
        hd_rec r;
        if (i + HD_REC_HEADER <= n && !memcmp(p, m, 4) && hd_rec_parse(p, n - i, &r)) {
            *found = i;
            return 1;
        }
    }
    return 0;
}

static int hd_read_all(hd_vfs_file *f, uint64_t off, uint64_t len, unsigned char **out)
{
    *out = NULL;
    if (len > SIZE_MAX) return hd_oom();
    unsigned char *b = hd_malloc((size_t)len + 1, 1);
    if (!b) return HERD_ENOMEM;
    size_t got = 0;
    int rc = hd_vfs_pread(f, b, (size_t)len, off, &got);
    if (!rc && got < len)
        rc = hd_error(HERD_EIO, "%s: %llu bytes expected at offset %llu, %zu read (the file "
                      "shrank while being read)", f->path, (unsigned long long)len,
                      (unsigned long long)off, got);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    return HERD_OK;
}

/* Apply the records after reg->jend.  *tail says whether an incomplete or
 * invalid tail (nothing valid after it) was found: a crashed writer's, or
 * a writer's that is still appending. */
int hd_journal_catch_up(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail,
                               uint64_t *bad_off, pthread_rwlock_t *rw)
{
    *tail = HD_TAIL_CLEAN;
    uint64_t size;
    int rc = hd_vfs_size(reg->journal, &size);
    if (rc) return rc;
    if (*jend == 0) { /* from the start: check the header */
        if (size < HD_JNL_HEADER) {
            *jend = size ? 0 : 0;
            if (size) *tail = HD_TAIL_TORN;
            return HERD_OK;
        }
        unsigned char h[HD_JNL_HEADER];
        size_t got = 0;
        rc = hd_vfs_pread(reg->journal, h, sizeof h, 0, &got);
        if (rc) return rc;
        if (memcmp(h, hd_jnl_magic, 8) || hd_crc32(h, 28) != hd_rd32(h + 28))
            return hd_error(HERD_ECORRUPT, "registry journal %s: damaged header at offset 0",
                            reg->journal_path);
        unsigned major = (unsigned)(h[8] | h[9] << 8);
        if (major > HERD_REGISTRY_FORMAT_MAJOR)
            return hd_error(HERD_EFORMAT, "registry journal %s: format %u; this library "
                            "reads up to %d", reg->journal_path, major,
                            HERD_REGISTRY_FORMAT_MAJOR);
        *jend = HD_JNL_HEADER;
    }
    if (size < *jend) {
        reg->stale = 1; /* cut below what we applied: a writer undid a commit */
        return HERD_OK;
    }
    /* The last record applied must still be there: a writer that undid it
     * (after a failed fsync) and appended others would otherwise be read
     * from the middle of a record, or on top of it. */
    if (rw && st->seq && st->rec_off >= HD_JNL_HEADER && size > *jend) {
        unsigned char h[HD_REC_HEADER];
        size_t got = 0;
        rc = hd_vfs_pread(reg->journal, h, sizeof h, st->rec_off, &got);
        if (rc) return rc;
        if (got < sizeof h || hd_rd32(h) != HD_REC_MAGIC ||
            hd_crc32(h, 20) != hd_rd32(h + 20) || hd_rd64(h + 8) != st->seq ||
            st->rec_off + HD_REC_HEADER + hd_rd32(h + 4) != *jend) {
            reg->stale = 1;
            return HERD_OK;
        }
    }
    if (size == *jend) return HERD_OK;
    unsigned char *b;
    uint64_t n = size - *jend;
    if ((rc = hd_read_all(reg->journal, *jend, n, &b))) return rc;
    uint64_t pos = 0;
    char where[600];
    /* The bytes were read without the lock: readers wait only while they
     * are applied. */
    if (rw) pthread_rwlock_wrlock(rw);
    while (pos < n && !rc) {
        hd_rec r;
        if (!hd_rec_parse(b + pos, n - pos, &r)) {
            uint64_t next;
            if (hd_valid_record_after(b, n, pos, &next)) {
                rc = hd_error(HERD_ECORRUPT, "registry journal %s: the record at offset %llu "
                              "is damaged and %llu bytes of later commits follow it; the "
                              "commits before it are intact: open with allow_damaged = 1 to "
                              "read them, and restore the journal from a backup",
                              reg->journal_path, (unsigned long long)(*jend + pos),
                              (unsigned long long)(n - next));
                *bad_off = *jend + pos;
            } else {
                *tail = HD_TAIL_TORN;
            }
            break;
        }
        if (r.seq <= st->seq) { /* a record we applied was undone and replaced */
            reg->stale = 1;
            break;
        }
        snprintf(where, sizeof where, "registry journal %s, record at offset %llu",
                 reg->journal_path, (unsigned long long)(*jend + pos));
        rc = hd_rstate_apply(st, r.seq, r.payload, r.len, where);
        if (!rc) {
            st->rec_off = *jend + pos;
            pos += HD_REC_HEADER + r.len;
        }
    }
    if (!rc || rc == HERD_ECORRUPT) *jend += pos;
    if (rw) pthread_rwlock_unlock(rw);
    free(b);
    return rc;
}

/* A fresh state: the index, if one is usable, and the journal after it. */
int hd_load_state(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail)
{
    hd_index **seg;
    size_t nseg;
    int rc = hd_segments_open(reg, &seg, &nseg);
    if (rc) return rc;
    if ((rc = hd_rstate_init(st, seg, nseg))) return rc;
    *jend = nseg ? hd_index_journal_end(seg[nseg - 1]) : 0;
    uint64_t bad = 0;
    rc = hd_journal_catch_up(reg, st, jend, tail, &bad, NULL);
    if (rc == HERD_ECORRUPT && !bad && nseg) {
        /* The index is damaged where the journal's tail needs it: the
         * journal alone holds everything. */
        hd_log(HERD_LOG_WARN, "%s; reading the whole journal instead", herd_last_error());
        herd_clear_error();
        reg->index_damaged = 1;
        hd_rstate_free(st);
        if ((rc = hd_rstate_init(st, NULL, 0))) return rc;
        *jend = 0;
        rc = hd_journal_catch_up(reg, st, jend, tail, &bad, NULL);
    }
    if (bad) reg->damaged_off = bad;
    if (rc == HERD_ECORRUPT && reg->opt.allow_damaged && bad) {
        hd_log(HERD_LOG_WARN, "%s", herd_last_error());
        herd_clear_error();
        reg->damaged = 1;
        rc = HERD_OK;
    }
    if (rc) hd_rstate_free(st);
    return rc;
}

/* Swap in a freshly loaded state (under the write mutex). */
int hd_reload(herd_registry *reg, hd_tail *tail)
{
    hd_rstate st;
    uint64_t jend;
    int rc = hd_load_state(reg, &st, &jend, tail);
    if (rc) return rc; /* still stale: the next call tries again */
    reg->stale = 0;
    pthread_rwlock_wrlock(&reg->rw);
    hd_rstate old = reg->st;
    reg->st = st;
    reg->jend = jend;
    pthread_rwlock_unlock(&reg->rw);
    hd_rstate_free(&old);
    return HERD_OK;
}

/* Apply what other writers committed.  The caller holds write_mu. */
int hd_catch_up_locked(herd_registry *reg, hd_tail *tail)
{
    *tail = HD_TAIL_CLEAN;
    if (reg->stale) return hd_reload(reg, tail);
    /* Records are applied to the live state under the exclusive lock: a
     * record is all or nothing, as hd_rstate_apply fails only on damage
     * (then the handle reloads) or memory. */
    uint64_t jend = reg->jend; /* only writers (holding write_mu) change it */
    uint64_t bad = 0;
    int rc = hd_journal_catch_up(reg, &reg->st, &jend, tail, &bad, &reg->rw);
    pthread_rwlock_wrlock(&reg->rw);
    reg->jend = jend;
    pthread_rwlock_unlock(&reg->rw);
    /* A record that failed to apply may have applied in part: start again
     * from the files (a damaged index is then set aside for the journal).
     * Damage found in the journal itself applied nothing. */
    if (rc && !bad) reg->stale = 1;
    if (reg->stale) {
        int lrc = hd_reload(reg, tail);
        return lrc ? lrc : (bad ? rc : HERD_OK);
    }
    return rc;
}

int hd_registry_replay(herd_registry *reg, hd_rstate *st, uint64_t *jend, uint64_t *bad_off)
{
    hd_tail tail;
    *jend = 0;
    *bad_off = 0;
    return hd_journal_catch_up(reg, st, jend, &tail, bad_off, NULL);
}

int hd_registry_refresh_read(herd_registry *reg)
{
    pthread_mutex_lock(&reg->write_mu);
    hd_tail tail;
    int rc = hd_catch_up_locked(reg, &tail);
    pthread_mutex_unlock(&reg->write_mu);
    return rc;
}

/* ------------------------------------------------------------------------
 * The writer lock
 * --------------------------------------------------------------------- */

static int hd_writer_lock(herd_registry *reg)
{
    int ms = reg->opt.lock_timeout_ms;
    if (ms < 0) return hd_vfs_lock(reg->lockf, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 1);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (unsigned wait_us = 200;; wait_us = wait_us < 20000 ? wait_us * 2 : wait_us) {
        int rc = hd_vfs_lock(reg->lockf, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 0);
        if (rc != HERD_EBUSY) return rc;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - start.tv_sec) * 1e3 +
                        (double)(now.tv_nsec - start.tv_nsec) / 1e6;
        if (waited >= ms)
            return hd_error(HERD_EBUSY, "registry %s: another process has been committing for "
                            "%d ms (lock_timeout_ms); retry, or raise the timeout", reg->dir,
                            ms);
        struct timespec d = {0, (long)wait_us * 1000};
        nanosleep(&d, NULL);
    }
}

void hd_writer_unlock(herd_registry *reg)
{
    (void)hd_vfs_lock(reg->lockf, HD_VFS_UNLOCK, 0, 1, 0);
}

/* Set the journal back to its committed end (holding the writer lock): it
 * cuts a torn tail off, and after a failed fsync it drops whatever the
 * disk may or may not hold past that end, so the next append and its
 * fdatasync start from bytes known to be durable. */
int hd_cut_tail(herd_registry *reg, int sync)
{
    uint64_t size;
    int rc = hd_vfs_size(reg->journal, &size);
    if (rc) return rc;
    if (size < reg->jend) /* never "truncate" upward: that would pad with zeros */
        return hd_error(HERD_ECORRUPT, "registry journal %s is %llu bytes, shorter than the "
                        "%llu this handle read; reopen the registry", reg->journal_path,
                        (unsigned long long)size, (unsigned long long)reg->jend);
    if (size > reg->jend)
        hd_log(HERD_LOG_WARN, "registry journal %s: cutting %llu bytes of an unfinished "
               "commit at offset %llu (a writer stopped mid-commit)", reg->journal_path,
               (unsigned long long)(size - reg->jend), (unsigned long long)reg->jend);
    rc = hd_vfs_truncate(reg->journal, reg->jend);
    if (!rc && sync && size != reg->jend) rc = hd_vfs_fdatasync(reg->journal);
    return rc;
}

/* Take the writer lock and catch up: the state is then the registry's. */
int hd_begin_write(herd_registry *reg)
{
    if (reg->write_failed)
        return hd_error(HERD_EIO, "registry %s: an earlier commit through this handle could "
                        "not sync its journal nor undo its record: the disk is failing; check "
                        "it, then reopen the registry", reg->dir);
    if (reg->damaged)
        return hd_error(HERD_ECORRUPT, "registry %s was opened over a journal damaged at "
                        "offset %llu: it is read-only", reg->dir,
                        (unsigned long long)reg->damaged_off);
    int rc = hd_writer_lock(reg);
    if (rc) return rc;
    hd_tail tail;
    rc = hd_catch_up_locked(reg, &tail);
    if (!rc && reg->jend == 0) rc = hd_error(HERD_ECORRUPT, "registry journal %s has no "
                                             "header at offset 0", reg->journal_path);
    /* The append's fdatasync makes this durable too. */
    if (!rc) rc = hd_cut_tail(reg, 0);
    if (rc) hd_writer_unlock(reg);
    return rc;
}
