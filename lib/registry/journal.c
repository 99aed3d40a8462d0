/* journal.c -- the journal: reading records, catching a state up with
 * what was committed, loading and reloading the state, replaying the whole
 * journal, and the writer side's lock and tail cut.  Moved from registry.c
 * (handle_internal.h has the overview). */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
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

/* ------------------------------------------------------------------------
 * Damage: what a replay past a damaged record lost
 * --------------------------------------------------------------------- */

/* Descriptions stop growing past this; the count of what was left out is
 * still given. */
#define HD_LOSS_TEXT_MAX (64u * 1024)

void hd_loss_log_free(hd_loss_log *log)
{
    hd_wbuf_free(&log->text);
    memset(log, 0, sizeof *log);
}

static void hd_loss_add(hd_loss_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void hd_loss_add(hd_loss_log *log, const char *fmt, ...)
{
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (log->text.n > HD_LOSS_TEXT_MAX) return;
    if (log->text.n) log->text.n--; /* over the NUL */
    if (log->text.n) hd_wbuf_bytes(&log->text, "; ", 2);
    hd_wbuf_bytes(&log->text, line, strlen(line) + 1);
}

/* A name read from a damaged record, for a message: as it is when it
 * could be a valid name, else quoted with its control bytes escaped (the
 * damage may have put any byte there). */
typedef struct hd_lname {
    char buf[96];
} hd_lname;

static const char *hd_loss_name(const char *s, hd_lname *out)
{
    size_t n = strlen(s), at, bad;
    unsigned cp;
    if (n <= 64 && hd_utf8_valid(s, n, &bad) && !hd_control_find(s, n, &at, &cp)) return s;
    return hd_quote(s, n, out->buf, sizeof out->buf);
}

void hd_loss_note(void *ctx, hd_lost_kind kind, const char *family, const char *key,
                  const char *alias, uint32_t version)
{
    hd_loss_log *log = ctx;
    hd_lname f, k, a;
    if (kind == HD_LOST_VERSION)
        hd_loss_add(log, "version %u of %s/%s (made by the damaged record at offset %llu: "
                    "a later record names it)", version, hd_loss_name(family, &f),
                    hd_loss_name(key, &k), (unsigned long long)log->last);
    else
        hd_loss_add(log, "a move of alias '%s' of %s/%s to version %u (by the damaged record "
                    "at offset %llu: a later move starts from it)", hd_loss_name(alias, &a),
                    hd_loss_name(family, &f), hd_loss_name(key, &k), version,
                    (unsigned long long)log->last);
}

typedef struct hd_held {
    hd_loss_log *log;
    uint64_t off;
} hd_held;

static int hd_held_group(void *ctx, const hd_rgroup *g)
{
    hd_held *h = ctx;
    hd_lname f, k, a;
    const char *family = hd_loss_name(g->family, &f), *key = hd_loss_name(g->key, &k);
    for (uint32_t i = 0; i < g->nv; i++)
        if (!(g->v[i].flags & HD_RV_LOST))
            hd_loss_add(h->log, "version %u of %s/%s (held by the damaged record at offset "
                        "%llu, as far as its bytes read)", g->v[i].version, family, key,
                        (unsigned long long)h->off);
    for (uint32_t i = 0; i < g->nm; i++)
        hd_loss_add(h->log, "a move of alias '%s' of %s/%s from version %u to %u (held by the "
                    "damaged record at offset %llu, as far as its bytes read)",
                    hd_loss_name(g->m[i].alias, &a), family, key, g->m[i].from, g->m[i].to,
                    (unsigned long long)h->off);
    return 0;
}

/* Log a damaged stretch of `len` bytes at journal offset `off`: a record
 * whose header is intact (`rec_len` > 0: header and payload) is decoded as
 * far as its damaged payload allows, to name what it held. */
static void hd_loss_stretch(hd_loss_log *log, const unsigned char *p, uint64_t rec_len,
                            uint64_t off, uint64_t len)
{
    if (!log->records++) log->first = off;
    log->last = off;
    if (!rec_len) {
        hd_loss_add(log, "%llu damaged bytes at offset %llu (no record header could be read "
                    "there)", (unsigned long long)len, (unsigned long long)off);
        return;
    }
    uint64_t seq = hd_rd64(p + 8);
    hd_loss_add(log, "the record of commit %llu at offset %llu (%llu bytes, its payload "
                "checksum fails)", (unsigned long long)seq, (unsigned long long)off,
                (unsigned long long)len);
    /* What it held: its operations applied to an empty scratch state, as
     * far as they parse (a flipped byte usually leaves them readable). */
    hd_rstate scratch;
    if (hd_rstate_init(&scratch, NULL, 0)) {
        herd_clear_error();
        return;
    }
    scratch.lossy = 1;
    scratch.lost_budget = rec_len / HD_VERSION_ENTRY_MIN;
    scratch.seq = seq ? seq - 1 : 0;
    (void)hd_rstate_apply(&scratch, seq, p + HD_REC_HEADER, (size_t)(rec_len - HD_REC_HEADER),
                          "a damaged record");
    herd_clear_error();
    hd_held h = {log, off};
    (void)hd_rstate_foreach(&scratch, NULL, hd_held_group, &h);
    herd_clear_error();
    hd_rstate_free(&scratch);
}

/* The length of the record at b[0..n) if its header is intact and its
 * payload fits (only the payload is damaged); 0 otherwise. */
static uint64_t hd_rec_span(const unsigned char *b, uint64_t n)
{
    if (n < HD_REC_HEADER || hd_rd32(b) != HD_REC_MAGIC || hd_crc32(b, 20) != hd_rd32(b + 20))
        return 0;
    uint64_t len = hd_rd32(b + 4);
    return len <= n - HD_REC_HEADER ? HD_REC_HEADER + len : 0;
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
            /* A record whose header is intact spans exactly its length; a
             * damaged header: up to the next valid record. */
            uint64_t span = hd_rec_span(b + pos, n - pos), next;
            if (!hd_valid_record_after(b, n, pos + (span ? span - 1 : 0), &next)) {
                *tail = HD_TAIL_TORN; /* nothing valid after it */
                break;
            }
            if (!st->lossy) {
                rc = hd_error(HERD_ECORRUPT, "registry journal %s: the record at offset %llu "
                              "is damaged and %llu bytes of later commits follow it; it costs "
                              "only what it holds: open with allow_damaged = 1 to read every "
                              "other commit (the message then lists what was lost), and run "
                              "herd_registry_rebuild_index on that handle to write again",
                              reg->journal_path, (unsigned long long)(*jend + pos),
                              (unsigned long long)(n - next));
                *bad_off = *jend + pos;
                break;
            }
            if (st->lost_ctx)
                hd_loss_stretch(st->lost_ctx, b + pos, span, *jend + pos, next - pos);
            st->lost_budget += (next - pos) / HD_VERSION_ENTRY_MIN;
            pos = next; /* resync: every later record still counts */
            continue;
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

/* The journal is damaged at *jend (the records before are applied): read
 * on past every damaged record, so that each costs only what it held.
 * With allow_damaged the handle then opens read-only, the losses in the
 * log; without, the open fails naming them. */
static int hd_load_past_damage(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail)
{
    herd_clear_error();
    hd_loss_log log = {0};
    uint64_t bad = 0;
    st->lossy = 1;
    st->on_lost = hd_loss_note;
    st->lost_ctx = &log;
    int rc = hd_journal_catch_up(reg, st, jend, tail, &bad, NULL);
    st->lossy = 0;
    st->on_lost = NULL;
    st->lost_ctx = NULL;
    if (!rc && log.text.oom) rc = HERD_ENOMEM;
    if (!rc) {
        const char *lost = log.text.n ? (const char *)log.text.p : "nothing readable";
        reg->damaged_off = log.first;
        if (reg->opt.allow_damaged) {
            hd_log(HERD_LOG_WARN, "registry journal %s: %zu damaged stretch%s, the first at "
                   "offset %llu, skipped: every later commit was read; lost: %s; the handle "
                   "is read-only: herd_registry_rebuild_index on it accepts the loss and lets "
                   "commits resume", reg->journal_path, log.records,
                   log.records == 1 ? "" : "es", (unsigned long long)log.first, lost);
            reg->damaged = 1;
        } else {
            rc = hd_error(HERD_ECORRUPT, "registry journal %s: %zu damaged stretch%s, the first "
                          "at offset %llu; every other commit is readable: open with "
                          "allow_damaged = 1 to read them (read-only), and run "
                          "herd_registry_rebuild_index on that handle to accept the loss and "
                          "write again; lost: %s", reg->journal_path, log.records,
                          log.records == 1 ? "" : "es", (unsigned long long)log.first, lost);
        }
    }
    hd_loss_log_free(&log);
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
    uint64_t start = *jend; /* what the index covers; the rest is read (and checked) now */
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
        *jend = start = 0;
        rc = hd_journal_catch_up(reg, st, jend, tail, &bad, NULL);
    }
    if (rc == HERD_ECORRUPT && bad) rc = hd_load_past_damage(reg, st, jend, tail);
    if (!rc) reg->verified_to = start;
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
    if (jend != reg->jend) {
        pthread_rwlock_wrlock(&reg->rw);
        reg->jend = jend;
        pthread_rwlock_unlock(&reg->rw);
    }
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

int hd_registry_replay(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_loss_log *log)
{
    hd_tail tail;
    uint64_t bad = 0;
    *jend = 0;
    st->lossy = 1;
    st->on_lost = hd_loss_note;
    st->lost_ctx = log;
    int rc = hd_journal_catch_up(reg, st, jend, &tail, &bad, NULL);
    st->lossy = 0;
    st->on_lost = NULL;
    st->lost_ctx = NULL;
    if (!rc && log->text.oom) rc = HERD_ENOMEM;
    return rc;
}

/* Whether the journal holds nothing this handle has not applied, checked
 * without the writer's mutex (a commit holds it through two fdatasyncs).
 * The record this handle's own writer is appending at the handle's end
 * counts as applied, however much of it is written yet (record.c writes
 * it in chunks, its frame last): that writer caught up before appending
 * and holds the writer lock, so every byte past that end is its record,
 * and its commit is acknowledged only once applied.  A torn tail, another
 * process's record or a stale state answer no: the caller then catches up
 * under the mutex. */
static int hd_nothing_new(herd_registry *reg)
{
    uint64_t size, appending = atomic_load(&reg->appending);
    if (atomic_load(&reg->stale) || hd_vfs_size(reg->journal, &size)) return 0;
    hd_state_rdlock(reg);
    uint64_t jend = reg->jend;
    pthread_rwlock_unlock(&reg->rw);
    return jend && (size == jend || (appending == jend && size > jend));
}

int hd_registry_refresh_read(herd_registry *reg)
{
    if (hd_nothing_new(reg)) return HERD_OK;
    hd_write_mu_lock(reg);
    hd_tail tail;
    int rc = hd_catch_up_locked(reg, &tail);
    hd_write_mu_unlock(reg);
    return rc;
}

/* Whether the record at `off` (before `to`) is whole and checksummed: 1
 * with its length (frame included), 0 when not.  Its payload is read a
 * chunk at a time into *buf, so that checking a week's 50 MB record takes
 * one chunk of memory. */
static int hd_journal_check_record(herd_registry *reg, uint64_t off, uint64_t to,
                                   unsigned char **buf, uint64_t *len)
{
    unsigned char h[HD_REC_HEADER];
    size_t got = 0;
    int rc = hd_vfs_pread(reg->journal, h, sizeof h, off, &got);
    if (rc) return rc;
    if (got < sizeof h || hd_rd32(h) != HD_REC_MAGIC || hd_crc32(h, 20) != hd_rd32(h + 20))
        return 0;
    uint64_t n = hd_rd32(h + 4), done = 0;
    if (n > to - off - HD_REC_HEADER) return 0;
    if (!*buf && !(*buf = hd_malloc(HD_RECORD_CHUNK, 1))) return HERD_ENOMEM;
    uint32_t crc = 0;
    while (done < n) {
        size_t part = n - done < HD_RECORD_CHUNK ? (size_t)(n - done) : HD_RECORD_CHUNK;
        rc = hd_vfs_pread(reg->journal, *buf, part, off + HD_REC_HEADER + done, &got);
        if (rc) return rc;
        if (got < part) return 0;
        crc = hd_crc32_more(crc, *buf, part);
        done += part;
    }
    if (crc != hd_rd32(h + 16)) return 0;
    *len = HD_REC_HEADER + n;
    return 1;
}

int hd_journal_verify(herd_registry *reg, uint64_t from, uint64_t to, uint64_t *bad_off)
{
    *bad_off = 0;
    if (from < HD_JNL_HEADER) from = HD_JNL_HEADER;
    unsigned char *buf = NULL;
    uint64_t pos = from, len = 0;
    int ok = 1;
    while (pos < to && ok == 1) {
        ok = to - pos < HD_REC_HEADER ? 0 : hd_journal_check_record(reg, pos, to, &buf, &len);
        if (ok == 1) pos += len;
    }
    free(buf);
    if (ok < 0) return ok;
    if (ok == 1) return HERD_OK;
    *bad_off = pos;
    return hd_error(HERD_ECORRUPT, "registry journal %s: the record at offset %llu fails its "
                    "checksum (it was intact when written or read)", reg->journal_path,
                    (unsigned long long)pos);
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

/* Before a tail is cut: when it holds a complete record whose header is
 * intact (only its payload fails the checksum: a flipped bit in the last
 * acknowledged commit looks like this, a torn append rarely does), its
 * bytes go to `journal.cut-<offset>` beside the journal, durably, so that
 * cutting never destroys them.  *name receives the file name ("" when
 * nothing was kept). */
static int hd_keep_tail(herd_registry *reg, uint64_t size, char *name, size_t cap)
{
    name[0] = 0;
    unsigned char *b;
    uint64_t n = size - reg->jend;
    int rc = hd_read_all(reg->journal, reg->jend, n, &b);
    if (rc) return rc;
    if (hd_rec_span(b, n)) {
        snprintf(name, cap, "journal.cut-%llu", (unsigned long long)reg->jend);
        char *path = hd_join(reg->dir, name), *tmp = path ? hd_join(reg->dir, "journal.cut.tmp")
                                                          : NULL;
        const void *part = b;
        size_t len = (size_t)n;
        rc = path && tmp ? hd_vfs_replace(reg->vfs, reg->dir, tmp, path, &part, &len, 1)
                         : HERD_ENOMEM;
        free(path);
        free(tmp);
    }
    free(b);
    return rc;
}

/* Set the journal back to its committed end (holding the writer lock): it
 * cuts a torn tail off, and after a failed fsync it drops whatever the
 * disk may or may not hold past that end, so the next append and its
 * fdatasync start from bytes known to be durable.
 *
 * Only a file longer than its committed end is truncated, and the cut is
 * synced at once.  A truncate to the size the file already has is not a
 * no-op on ext4: it starts a metadata transaction of its own, and a power
 * cut then lost the size change of the append that followed, after that
 * append's fdatasync had returned (tests/crash/test_crash_ext4.c measured
 * it: acknowledged commits lost to power cuts, none once the cut happens
 * only when there is something to cut). */
int hd_cut_tail(herd_registry *reg)
{
    uint64_t size;
    int rc = hd_vfs_size(reg->journal, &size);
    if (rc) return rc;
    if (size < reg->jend) /* never "truncate" upward: that would pad with zeros */
        return hd_error(HERD_ECORRUPT, "registry journal %s is %llu bytes, shorter than the "
                        "%llu this handle read; reopen the registry", reg->journal_path,
                        (unsigned long long)size, (unsigned long long)reg->jend);
    if (size == reg->jend && !reg->cut_unsynced) return HERD_OK;
    if (size == reg->jend) {
        /* A handle's first write, or an earlier cut's sync failed: what the
         * disk holds past jend is unknown (a failed sync leaves pages the
         * kernel may have dropped).  Cut and sync before appending, with a
         * full fsync, which commits the truncate's own metadata transaction
         * so that the append's fdatasync is not mixed with it. */
        rc = hd_vfs_truncate(reg->journal, reg->jend);
        if (!rc) rc = hd_vfs_fsync(reg->journal);
        reg->cut_unsynced = rc != HERD_OK;
        return rc;
    }
    char kept[64] = "";
    if ((rc = hd_keep_tail(reg, size, kept, sizeof kept))) return rc;
    if (kept[0])
        hd_log(HERD_LOG_WARN, "registry journal %s: the last record, at offset %llu, is "
               "complete but fails its checksum: it may be an acknowledged commit damaged on "
               "disk, or a crashed writer's; cut off, its %llu bytes kept in %s beside the "
               "journal (herd_registry_check lists it)", reg->journal_path,
               (unsigned long long)reg->jend, (unsigned long long)(size - reg->jend), kept);
    else
        hd_log(HERD_LOG_WARN, "registry journal %s: cutting %llu bytes of an unfinished "
               "commit at offset %llu (a writer stopped mid-commit)", reg->journal_path,
               (unsigned long long)(size - reg->jend), (unsigned long long)reg->jend);
    rc = hd_vfs_truncate(reg->journal, reg->jend);
    if (!rc) rc = hd_vfs_fdatasync(reg->journal);
    reg->cut_unsynced = rc != HERD_OK; /* what the disk holds past jend is unknown */
    return rc;
}

/* Take the writer lock and catch up: the state is then the registry's.
 * `repair` (an index rebuild): the handle may have been opened over damage,
 * and damage found on the way is left to the rebuild's own replay. */
int hd_begin_write(herd_registry *reg, int repair)
{
    if (reg->write_failed)
        return hd_error(HERD_EIO, "registry %s: an earlier commit through this handle could "
                        "not sync its journal nor undo its record: the disk is failing; check "
                        "it, then reopen the registry", reg->dir);
    if (reg->damaged && !repair)
        return hd_error(HERD_ECORRUPT, "registry %s: its journal is damaged at offset %llu: "
                        "nothing is appended on top of damage; herd_registry_check lists what "
                        "it cost, and herd_registry_rebuild_index accepts that loss and lets "
                        "commits resume", reg->dir, (unsigned long long)reg->damaged_off);
    int rc = hd_writer_lock(reg);
    if (rc) return rc;
    hd_tail tail;
    rc = hd_catch_up_locked(reg, &tail);
    if (repair && rc == HERD_ECORRUPT) { /* the rebuild reads past it */
        herd_clear_error();
        return HERD_OK;
    }
    if (!rc && reg->jend == 0) rc = hd_error(HERD_ECORRUPT, "registry journal %s has no "
                                             "header at offset 0", reg->journal_path);
    if (!rc) rc = hd_cut_tail(reg);
    if (rc) hd_writer_unlock(reg);
    return rc;
}
