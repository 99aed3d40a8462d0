/* registry.c -- the registry's files: open, refresh, commit, gc, check.
 *
 * A directory holds (docs/registry.md):
 *   HERD-REGISTRY  the format file, written once, last, when a registry is
 *                  created: its presence means the rest exists
 *   journal        commit records, appended; the source of truth
 *   pack-NNNNNN    artifact bytes, appended; a record names their places
 *   index          a snapshot of the state, rewritten from time to time
 *   lock           the file writers lock (open-file-description locks)
 *
 * A commit, under the writer lock: cut off any torn tail, append the
 * batch's artifacts to the current pack, fdatasync it (and the directory
 * when the pack is new), append one record to the journal, fdatasync it.
 * Two or three fsyncs, whatever the batch size.  A record is visible when
 * complete and checksummed; a torn one (a writer killed mid-append) is
 * ignored by readers and cut off by the next writer.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "artifact/artifact_internal.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/json_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "registry/state_internal.h"
#include "registry/registry_internal.h"
#include "common/text_internal.h"
#include "registry/uri_internal.h"

static const unsigned char hd_fmt_magic[8] = {0x89, 'H', 'R', 'E', 'G', '\r', '\n', '\n'};
static const unsigned char hd_jnl_magic[8] = {0x89, 'H', 'J', 'N', 'L', '\r', '\n', '\n'};
static const unsigned char hd_pack_magic[8] = {0x89, 'H', 'P', 'C', 'K', '\r', '\n', '\n'};

enum {
    HD_FMT_LEN = 64,
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

static const char hd_format_name[] = "HERD-REGISTRY";

/* ------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------- */

static int64_t hd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *hd_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = hd_malloc(n, 1);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void hd_pack_path(const herd_registry *reg, uint32_t id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/pack-%06u", reg->dir, id);
}


/* ------------------------------------------------------------------------
 * Creating and opening
 * --------------------------------------------------------------------- */

static void hd_fmt_image(unsigned char *b)
{
    memset(b, 0, HD_FMT_LEN);
    memcpy(b, hd_fmt_magic, 8);
    b[8] = HERD_REGISTRY_FORMAT_MAJOR;
    b[10] = HERD_REGISTRY_FORMAT_MINOR;
    hd_wr32(b + 12, HD_FMT_LEN);
    hd_wr64(b + 16, (uint64_t)hd_now_ms());
    hd_wr32(b + 60, hd_crc32(b, 60));
}

/* The checksum first: a flipped version byte is damage, not a newer
 * format.  Every format keeps this file's 64 bytes and its CRC at 60. */
static int hd_fmt_check(const char *path, const unsigned char *b, size_t got)
{
    if (got < 12 || memcmp(b, hd_fmt_magic, 8))
        return hd_error(HERD_EFORMAT, "%s is not a herd registry format file (bad magic at "
                        "offset 0)", path);
    unsigned major = (unsigned)(b[8] | b[9] << 8), minor = (unsigned)(b[10] | b[11] << 8);
    if (got < HD_FMT_LEN || hd_crc32(b, 60) != hd_rd32(b + 60))
        return hd_error(HERD_ECORRUPT, "%s: checksum mismatch at offset 60 (the registry's "
                        "format file is damaged; it holds only the format version: copy "
                        "HERD-REGISTRY from any registry of format %d.0 over it)", path,
                        HERD_REGISTRY_FORMAT_MAJOR);
    if (major > HERD_REGISTRY_FORMAT_MAJOR)
        return hd_error(HERD_EFORMAT, "%s: the registry has format %u.%u (offset 8); this "
                        "library (%s) reads formats up to %d.x: upgrade herd", path, major,
                        minor, HERD_VERSION_STRING, HERD_REGISTRY_FORMAT_MAJOR);
    return HERD_OK;
}

typedef struct hd_dir_scan {
    int foreign; /* an entry that is not a registry file */
    char name[256];
} hd_dir_scan;

static int hd_is_registry_file(const char *name)
{
    return !strcmp(name, "journal") || !strcmp(name, "lock") || !strcmp(name, "index") ||
           !strncmp(name, "pack-", 5) || !strncmp(name, "HERD-REGISTRY", 13) ||
           !strcmp(name, "index.tmp");
}

static int hd_scan_entry(void *ctx, const char *name)
{
    hd_dir_scan *s = ctx;
    if (!hd_is_registry_file(name) && !s->foreign) {
        s->foreign = 1;
        snprintf(s->name, sizeof s->name, "%s", name);
    }
    return 0;
}

static int hd_sync_parent(const hd_vfs *vfs, const char *dir)
{
    const char *slash = strrchr(dir, '/');
    if (!slash) return hd_vfs_sync_dir(vfs, ".");
    if (slash == dir) return hd_vfs_sync_dir(vfs, "/");
    char *parent = hd_strndup(dir, (size_t)(slash - dir));
    if (!parent) return HERD_ENOMEM;
    int rc = hd_vfs_sync_dir(vfs, parent);
    free(parent);
    return rc;
}

/* Create the registry's files in `dir` (which may exist, empty or holding
 * a creation that crashed midway), the format file last. */
static int hd_create(const hd_vfs *vfs, const char *dir, const char *fmt_path)
{
    int rc = hd_vfs_mkdir(vfs, dir);
    if (rc == HERD_EEXISTS) {
        herd_clear_error();
        rc = HERD_OK;
    } else if (!rc) {
        rc = hd_sync_parent(vfs, dir); /* the new directory's own entry */
    }
    if (rc) return rc;
    char *jp = hd_join(dir, "journal"), *lp = hd_join(dir, "lock");
    char *tmp = hd_malloc(strlen(fmt_path) + 32, 1);
    if (!jp || !lp || !tmp) rc = HERD_ENOMEM;
    hd_vfs_file *f = NULL;
    if (!rc) rc = hd_vfs_open(vfs, lp, HD_VFS_RDWR | HD_VFS_CREATE, &f);
    if (!rc) rc = hd_vfs_close(f);
    uint64_t size = 0;
    if (!rc) rc = hd_vfs_open(vfs, jp, HD_VFS_RDWR | HD_VFS_CREATE, &f);
    if (!rc) {
        rc = hd_vfs_size(f, &size);
        /* Concurrent creators write the same bytes: harmless. */
        if (!rc && size < HD_JNL_HEADER) {
            unsigned char h[HD_JNL_HEADER];
            memset(h, 0, sizeof h);
            memcpy(h, hd_jnl_magic, 8);
            h[8] = HERD_REGISTRY_FORMAT_MAJOR;
            h[10] = HERD_REGISTRY_FORMAT_MINOR;
            hd_wr32(h + 12, HD_JNL_HEADER);
            hd_wr32(h + 28, hd_crc32(h, 28));
            rc = hd_vfs_pwrite(f, h, sizeof h, 0);
            if (!rc) rc = hd_vfs_fdatasync(f);
        }
        int crc = hd_vfs_close(f);
        if (!rc) rc = crc;
    }
    if (!rc) rc = hd_vfs_sync_dir(vfs, dir);
    if (!rc) {
        unsigned char b[HD_FMT_LEN];
        hd_fmt_image(b);
        snprintf(tmp, strlen(fmt_path) + 32, "%s.tmp.%ld", fmt_path, (long)getpid());
        const void *part = b;
        size_t len = sizeof b;
        rc = hd_vfs_replace(vfs, dir, tmp, fmt_path, &part, &len, 1);
    }
    free(jp);
    free(lp);
    free(tmp);
    return rc;
}

/* A missing format file: a new registry, or a directory that is not one. */
static int hd_no_format(const hd_vfs *vfs, const char *dir, const char *fp,
                        const herd_registry_options *o)
{
    hd_dir_scan scan = {0};
    int rc = hd_vfs_list_dir(vfs, dir, hd_scan_entry, &scan);
    if (rc == HERD_ENOTFOUND) herd_clear_error();
    else if (rc) return rc;
    if (scan.foreign)
        return hd_error(HERD_EFORMAT, "%s is not a herd registry: it has no %s file and "
                        "holds other files ('%s'); give an empty or new directory", dir,
                        hd_format_name, scan.name);
    if (!o->create || o->read_only)
        return hd_error(HERD_ENOTFOUND, "no herd registry at %s (no %s file); open it with "
                        "create = 1 to make one", dir, hd_format_name);
    return hd_create(vfs, dir, fp);
}

/* Check (or create) the format file. */
static int hd_open_format(const hd_vfs *vfs, const char *dir, const herd_registry_options *o)
{
    char *fp = hd_join(dir, hd_format_name);
    if (!fp) return HERD_ENOMEM;
    hd_vfs_file *f;
    int rc = hd_vfs_open(vfs, fp, HD_VFS_READ, &f);
    if (rc == HERD_EFORMAT)
        rc = hd_error(HERD_EFORMAT, "%s is not a directory; a registry is a directory (give "
                      "a new or empty one)", dir);
    if (rc == HERD_ENOTFOUND && !(rc = hd_no_format(vfs, dir, fp, o)))
        rc = hd_vfs_open(vfs, fp, HD_VFS_READ, &f);
    if (!rc) {
        unsigned char b[HD_FMT_LEN];
        size_t got = 0;
        rc = hd_vfs_pread(f, b, sizeof b, 0, &got);
        if (!rc) rc = hd_fmt_check(fp, b, got);
        hd_vfs_close(f);
    }
    free(fp);
    return rc;
}

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

typedef enum { HD_TAIL_CLEAN, HD_TAIL_TORN } hd_tail;

/* Apply the records after reg->jend.  *tail says whether an incomplete or
 * invalid tail (nothing valid after it) was found: a crashed writer's, or
 * a writer's that is still appending. */
static int hd_journal_catch_up(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail,
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

/* A fresh state: the index, if one is usable, and the journal after it. */
static int hd_load_state(herd_registry *reg, hd_rstate *st, uint64_t *jend, hd_tail *tail)
{
    hd_index *ix = NULL;
    int rc = hd_index_open(reg->vfs, reg->index_path, &ix);
    if (rc == HERD_ENOTFOUND) {
        herd_clear_error();
    } else if (rc == HERD_ECORRUPT || rc == HERD_EFORMAT) {
        /* The journal holds everything the index does. */
        hd_log(HERD_LOG_WARN, "%s; reading the whole journal instead", herd_last_error());
        herd_clear_error();
        reg->index_damaged = 1;
    } else if (rc) {
        return rc;
    }
    if (ix && !hd_index_matches_journal(reg, ix)) {
        herd_clear_error();
        hd_log(HERD_LOG_WARN, "registry index %s does not match the journal (its position "
               "%llu is not the end of commit %llu there); reading the whole journal instead",
               reg->index_path, (unsigned long long)hd_index_journal_end(ix),
               (unsigned long long)hd_index_seq(ix));
        hd_index_free(ix);
        ix = NULL;
        reg->index_damaged = 1;
    }
    if ((rc = hd_rstate_init(st, ix))) return rc;
    *jend = ix ? hd_index_journal_end(ix) : 0;
    uint64_t bad = 0;
    rc = hd_journal_catch_up(reg, st, jend, tail, &bad, NULL);
    if (rc == HERD_ECORRUPT && !bad && ix) {
        /* The index is damaged where the journal's tail needs it: the
         * journal alone holds everything. */
        hd_log(HERD_LOG_WARN, "%s; reading the whole journal instead", herd_last_error());
        herd_clear_error();
        reg->index_damaged = 1;
        hd_rstate_free(st);
        if ((rc = hd_rstate_init(st, NULL))) return rc;
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
static int hd_reload(herd_registry *reg, hd_tail *tail)
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
static int hd_catch_up_locked(herd_registry *reg, hd_tail *tail)
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

static void hd_writer_unlock(herd_registry *reg)
{
    (void)hd_vfs_lock(reg->lockf, HD_VFS_UNLOCK, 0, 1, 0);
}

/* Set the journal back to its committed end (holding the writer lock): it
 * cuts a torn tail off, and after a failed fsync it drops whatever the
 * disk may or may not hold past that end, so the next append and its
 * fdatasync start from bytes known to be durable. */
static int hd_cut_tail(herd_registry *reg, int sync)
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
static int hd_begin_write(herd_registry *reg)
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

/* ------------------------------------------------------------------------
 * Open / free
 * --------------------------------------------------------------------- */

void herd_registry_options_init(herd_registry_options *opt)
{
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->create = 1;
    opt->lock_timeout_ms = -1;
}

static int hd_reg_options(const herd_registry_options *in, herd_registry_options *o)
{
    herd_registry_options_init(o);
    if (hd_options_copy(o, sizeof *o, in, "herd_registry_options_init"))
        return hd_error_prefix("herd_registry_open: options: ");
    if (o->lock_timeout_ms < -1)
        return hd_error(HERD_EINVAL, "herd_registry_open: opt->lock_timeout_ms is %d; use -1 (wait "
                        "as long as it takes), 0 or a number of milliseconds",
                        o->lock_timeout_ms);
    return HERD_OK;
}

static void hd_packs_close(herd_registry *reg)
{
    for (size_t i = 0; i < reg->npacks; i++) {
        hd_vfs_close(reg->packs[i]->f);
        free(reg->packs[i]);
    }
    free(reg->packs);
    reg->packs = NULL;
    reg->npacks = reg->cappacks = 0;
}

void herd_registry_free(herd_registry *reg)
{
    if (!reg) return;
    hd_vfs_close(reg->journal);
    hd_vfs_close(reg->lockf);
    hd_packs_close(reg);
    hd_rstate_free(&reg->st);
    pthread_mutex_destroy(&reg->write_mu);
    pthread_mutex_destroy(&reg->pack_mu);
    pthread_rwlock_destroy(&reg->rw);
    free(reg->dir);
    free(reg->journal_path);
    free(reg->lock_path);
    free(reg->index_path);
    free(reg);
}

int hd_registry_open_vfs(const hd_vfs *vfs, const char *path, const herd_registry_options *opt,
                         herd_registry **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(vfs);
    HD_CHECK_NOT_NULL(path);
    if (!*path) return hd_error(HERD_EINVAL, "herd_registry_open: argument 'path' is empty");
    herd_registry_options o;
    int rc = hd_reg_options(opt, &o);
    if (rc) return rc;
    herd_registry *reg = hd_calloc(1, sizeof *reg);
    if (!reg) return HERD_ENOMEM;
    pthread_mutex_init(&reg->write_mu, NULL);
    pthread_mutex_init(&reg->pack_mu, NULL);
    pthread_rwlock_init(&reg->rw, NULL);
    reg->vfs = vfs;
    reg->opt = o;
    reg->checkpoint_every = HD_DEFAULT_CHECKPOINT;
    reg->pack_target = HD_PACK_TARGET;
    reg->spill_bytes = HD_SPILL_BYTES;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--; /* "reg/" names "reg" */
    reg->dir = hd_strndup(path, len);
    if (reg->dir) {
        reg->journal_path = hd_join(reg->dir, "journal");
        reg->lock_path = hd_join(reg->dir, "lock");
        reg->index_path = hd_join(reg->dir, "index");
    }
    if (!reg->dir || !reg->journal_path || !reg->lock_path || !reg->index_path)
        rc = HERD_ENOMEM;
    if (!rc) rc = hd_open_format(vfs, reg->dir, &o);
    if (!rc) rc = hd_vfs_open(vfs, reg->journal_path, o.read_only ? HD_VFS_READ : HD_VFS_RDWR,
                              &reg->journal);
    if (!rc && !o.read_only) rc = hd_vfs_open(vfs, reg->lock_path, HD_VFS_RDWR | HD_VFS_CREATE,
                                              &reg->lockf);
    hd_tail tail = HD_TAIL_CLEAN;
    if (!rc) rc = hd_load_state(reg, &reg->st, &reg->jend, &tail);
    else memset(&reg->st, 0, sizeof reg->st);
    /* A crashed writer's torn tail is cut now if no one is committing;
     * otherwise the next commit cuts it (readers skip it either way). */
    if (!rc && tail == HD_TAIL_TORN && reg->lockf && !reg->damaged &&
        hd_vfs_lock(reg->lockf, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 0) == HERD_OK) {
        hd_tail again;
        rc = hd_catch_up_locked(reg, &again);
        if (!rc && again == HD_TAIL_TORN && reg->jend >= HD_JNL_HEADER) rc = hd_cut_tail(reg, 1);
        hd_writer_unlock(reg);
    }
    if (rc) {
        hd_saved_error e;
        hd_error_save(&e);
        herd_registry_free(reg);
        return hd_error_restore(&e);
    }
    herd_clear_error();
    *out = reg;
    return HERD_OK;
}

int herd_registry_open(const char *path, const herd_registry_options *opt, herd_registry **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(path);
    return hd_registry_open_vfs(hd_vfs_posix(), path, opt, out);
}

void hd_registry_set_spill_bytes(herd_registry *reg, uint64_t bytes)
{
    if (reg) reg->spill_bytes = bytes;
}

void hd_registry_set_pack_target(herd_registry *reg, uint64_t bytes)
{
    if (reg) reg->pack_target = bytes;
}

void hd_registry_set_checkpoint_every(herd_registry *reg, uint64_t versions)
{
    if (reg) reg->checkpoint_every = versions;
}

const char *herd_registry_path(const herd_registry *reg)
{
    if (!reg) {
        hd_error(HERD_EINVAL, "herd_registry_path: argument 'reg' is NULL");
        return NULL;
    }
    return reg->dir;
}

int herd_registry_refresh(herd_registry *reg)
{
    HD_CHECK_NOT_NULL(reg);
    return hd_registry_refresh_read(reg);
}

/* ------------------------------------------------------------------------
 * Packs
 * --------------------------------------------------------------------- */

/* Pack handles are shared by the threads of a handle: readers pread
 * outside pack_mu, so a handle is reference-counted while read, and one
 * that must go (gc deleted its file, or a writer needs a writable one) is
 * marked dead and closed by whoever drops its last reference.  The caller
 * of the helpers below holds pack_mu. */

static hd_pack_handle *hd_pack_find(herd_registry *reg, uint32_t id)
{
    for (size_t i = 0; i < reg->npacks; i++)
        if (!reg->packs[i]->dead && reg->packs[i]->id == id) return reg->packs[i];
    return NULL;
}

/* Close the dead handles no one reads. */
static void hd_pack_sweep(herd_registry *reg)
{
    for (size_t i = 0; i < reg->npacks;) {
        hd_pack_handle *h = reg->packs[i];
        if (!h->dead || h->refs) {
            i++;
            continue;
        }
        hd_vfs_close(h->f);
        free(h);
        reg->packs[i] = reg->packs[--reg->npacks];
    }
}

/* Forget pack `id`: its handle closes once no thread reads through it. */
static void hd_pack_forget(herd_registry *reg, uint32_t id)
{
    hd_pack_handle *h = hd_pack_find(reg, id);
    if (h) h->dead = 1;
    hd_pack_sweep(reg);
}

/* Pack `id`'s handle, opened on first use (writable if `rdwr`). */
static int hd_pack_get(herd_registry *reg, uint32_t id, int rdwr, hd_pack_handle **out)
{
    hd_pack_handle *h = hd_pack_find(reg, id);
    if (h && (h->rdwr || !rdwr)) {
        *out = h;
        return HERD_OK;
    }
    if (h) hd_pack_forget(reg, id); /* read-only: a writer needs another */
    if (reg->npacks == reg->cappacks &&
        hd_grow((void **)&reg->packs, &reg->cappacks, reg->npacks + 1, sizeof *reg->packs))
        return HERD_ENOMEM;
    char path[4200];
    hd_pack_path(reg, id, path, sizeof path);
    if (!(h = hd_calloc(1, sizeof *h))) return HERD_ENOMEM;
    int rc = hd_vfs_open(reg->vfs, path, rdwr ? HD_VFS_RDWR : HD_VFS_READ, &h->f);
    if (rc) {
        free(h);
        return rc;
    }
    h->id = id;
    h->rdwr = rdwr;
    reg->packs[reg->npacks++] = h;
    *out = h;
    return HERD_OK;
}

int hd_pack_read(herd_registry *reg, uint32_t id, uint64_t off, void *buf, size_t len)
{
    pthread_mutex_lock(&reg->pack_mu);
    hd_pack_handle *h = NULL;
    int rc = hd_pack_get(reg, id, 0, &h);
    if (!rc) h->refs++;
    pthread_mutex_unlock(&reg->pack_mu);
    if (rc) return rc;
    /* Outside the mutex: threads load artifacts in parallel. */
    size_t got = 0;
    rc = hd_vfs_pread(h->f, buf, len, off, &got);
    if (!rc && got < len)
        rc = hd_error(HERD_ECORRUPT, "registry pack %s: %zu bytes expected at offset %llu, "
                      "the file ends at offset %llu (truncated)", h->f->path, len,
                      (unsigned long long)off, (unsigned long long)(off + got));
    pthread_mutex_lock(&reg->pack_mu);
    if (--h->refs == 0 && h->dead) hd_pack_sweep(reg); /* the last reader of a dead one */
    pthread_mutex_unlock(&reg->pack_mu);
    return rc;
}

/* Gathers blobs into large writes at increasing offsets of one pack, and
 * starts their writeback every HD_WRITEBACK_EVERY bytes, so that the one
 * fdatasync at the end of a large commit has little left to do. */
typedef struct hd_pack_writer {
    hd_vfs_file *f;
    uint64_t off;    /* where the buffer goes */
    uint64_t hinted; /* writeback started below this offset */
    hd_wbuf buf;
} hd_pack_writer;

#define HD_WRITEBACK_EVERY (64u * 1024 * 1024)

/* On failure nothing moves: the buffer and its offset stay, so nothing
 * the writer was given is lost. */
static int hd_pw_flush(hd_pack_writer *w)
{
    if (w->buf.oom) return HERD_ENOMEM;
    int rc = w->buf.n ? hd_vfs_pwrite(w->f, w->buf.p, w->buf.n, w->off) : HERD_OK;
    if (rc) return rc;
    w->off += w->buf.n;
    w->buf.n = 0;
    if (!rc && w->off - w->hinted >= HD_WRITEBACK_EVERY) {
        hd_vfs_writeback(w->f, w->hinted, w->off - w->hinted);
        w->hinted = w->off;
    }
    return rc;
}

/* Add n bytes; *at (may be NULL) receives the offset they land at. */
static int hd_pw_add(hd_pack_writer *w, const void *p, size_t n, uint64_t *at)
{
    if (at) *at = w->off + w->buf.n;
    if (n >= HD_WRITE_CHUNK) {
        int rc = hd_pw_flush(w);
        if (!rc) rc = hd_vfs_pwrite(w->f, p, n, w->off);
        if (!rc) w->off += n;
        return rc;
    }
    if (w->buf.n + n > HD_WRITE_CHUNK) {
        int rc = hd_pw_flush(w);
        if (rc) return rc;
    }
    hd_wbuf_bytes(&w->buf, p, n);
    return w->buf.oom ? HERD_ENOMEM : HERD_OK;
}

/* Open pack `id` for appending at `end`; a new pack is created (a file of
 * that name left by a crashed writer is reused from its header on).  Only
 * writers (holding write_mu) call this, so the handle stays theirs. */
static int hd_pack_open_for_append(herd_registry *reg, uint32_t id, int is_new, uint64_t end,
                                   hd_vfs_file **out)
{
    pthread_mutex_lock(&reg->pack_mu);
    hd_pack_handle *h = NULL;
    int rc = HERD_OK;
    if (is_new) {
        hd_pack_forget(reg, id); /* a failed commit's file of that name */
        char path[4200];
        hd_pack_path(reg, id, path, sizeof path);
        unsigned char hd[HD_PACK_HEADER];
        memset(hd, 0, sizeof hd);
        memcpy(hd, hd_pack_magic, 8);
        hd_vfs_file *f;
        rc = hd_vfs_open(reg->vfs, path, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_TRUNC, &f);
        if (!rc) rc = hd_vfs_pwrite(f, hd, sizeof hd, 0);
        if (!rc) rc = hd_vfs_close(f);
        else hd_vfs_close(f);
    }
    if (!rc) rc = hd_pack_get(reg, id, 1, &h);
    /* Past `end`: a crashed or failed commit's bytes, which after a failed
     * fsync may or may not be on disk: start again from `end`. */
    if (!rc && !is_new) rc = hd_vfs_truncate(h->f, end);
    if (!rc) *out = h->f;
    pthread_mutex_unlock(&reg->pack_mu);
    return rc;
}

/* ------------------------------------------------------------------------
 * Batches
 * --------------------------------------------------------------------- */

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
 * (hd_registry_set_spill_bytes); then they go to a pack of its own
 * (`pack-tmp-...`, locked while the batch lives), written as they are
 * added, which the commit renames into place: a 2 GB batch neither holds
 * 2 GB of memory nor writes it twice. */
struct herd_batch {
    herd_registry *reg;
    hd_arena *arena;
    hd_bitem *items;
    size_t n, cap;
    hd_bop *ops;
    size_t nops, capops;
    uint64_t mem_bytes; /* of artifacts held in memory */
    hd_pack_writer spill; /* spill.f NULL until the batch spills */
    char *spill_path;
    int committed;
};

void herd_version_options_init(herd_version_options *opt)
{
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
}

void herd_alias_options_init(herd_alias_options *opt)
{
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->expect_version = -1;
}

int herd_registry_begin(herd_registry *reg, herd_batch **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    if (reg->opt.read_only)
        return hd_error(HERD_EINVAL, "herd_registry_begin: registry %s was opened read-only",
                        reg->dir);
    if (reg->damaged)
        return hd_error(HERD_ECORRUPT, "herd_registry_begin: registry %s was opened over a "
                        "journal damaged at offset %llu (allow_damaged): it is read-only",
                        reg->dir, (unsigned long long)reg->damaged_off);
    herd_batch *b = hd_calloc(1, sizeof *b);
    if (!b) return HERD_ENOMEM;
    if (!(b->arena = hd_arena_new())) {
        free(b);
        return HERD_ENOMEM;
    }
    b->reg = reg;
    *out = b;
    return HERD_OK;
}

void herd_batch_free(herd_batch *batch)
{
    if (!batch) return;
    for (size_t i = 0; i < batch->n; i++) free(batch->items[i].blob);
    if (batch->spill.f) {
        const hd_vfs *vfs = batch->spill.f->vfs;
        hd_vfs_close(batch->spill.f);
        /* Committed, it was renamed into place; otherwise it is garbage
         * (unless a commit that could not be undone left it in place, under
         * its pack name: then spill_path names nothing). */
        if (batch->committed <= 0) (void)hd_vfs_unlink(vfs, batch->spill_path);
        herd_clear_error();
    }
    hd_wbuf_free(&batch->spill.buf);
    free(batch->spill_path);
    free(batch->items);
    free(batch->ops);
    hd_arena_free(batch->arena);
    free(batch);
}

/* A write or sync of the batch's own pack failed: what is on disk is
 * unknown (a failed fsync is never retried), so the batch cannot be
 * committed; its file goes with it. */
static int hd_batch_broken(herd_batch *b, int rc)
{
    b->committed = -1;
    return rc;
}

/* Move the batch's artifacts to its own pack file. */
static int hd_batch_spill(herd_batch *b)
{
    herd_registry *reg = b->reg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t n = strlen(reg->dir) + 96;
    if (!(b->spill_path = hd_malloc(n, 1))) return HERD_ENOMEM;
    snprintf(b->spill_path, n, "%s/pack-tmp-%ld-%lx-%llx", reg->dir, (long)getpid(),
             (unsigned long)(uintptr_t)b, (unsigned long long)ts.tv_nsec);
    hd_vfs_file *f;
    int rc = hd_vfs_open(reg->vfs, b->spill_path, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_EXCL, &f);
    if (rc) {
        free(b->spill_path);
        b->spill_path = NULL;
        return rc;
    }
    b->spill.f = f;
    /* The lock says "a live batch owns this": gc removes unlocked ones. */
    rc = hd_vfs_lock(f, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0);
    unsigned char h[HD_PACK_HEADER];
    memset(h, 0, sizeof h);
    memcpy(h, hd_pack_magic, 8);
    if (!rc) rc = hd_pw_add(&b->spill, h, sizeof h, NULL);
    for (size_t i = 0; !rc && i < b->n; i++) {
        hd_bitem *it = &b->items[i];
        rc = hd_pw_add(&b->spill, it->blob, it->len, &it->off);
        if (!rc) {
            free(it->blob);
            it->blob = NULL;
        }
    }
    b->mem_bytes = 0;
    return rc;
}

/* Keep the artifact's bytes: in memory, or in the batch's own pack. */
static int hd_batch_keep(herd_batch *b, hd_bitem *it, const void *bytes, size_t len)
{
    it->len = len;
    if (!b->spill.f && b->mem_bytes + len > b->reg->spill_bytes) {
        int rc = hd_batch_spill(b);
        if (rc) return hd_batch_broken(b, rc);
    }
    if (b->spill.f) {
        int rc = hd_pw_add(&b->spill, bytes, len, &it->off);
        return rc ? hd_batch_broken(b, rc) : HERD_OK;
    }
    if (!(it->blob = hd_malloc(len ? len : 1, 1))) return HERD_ENOMEM;
    memcpy(it->blob, bytes, len);
    b->mem_bytes += len;
    return HERD_OK;
}

size_t herd_batch_count(const herd_batch *batch) { return batch ? batch->n : 0; }

static const char *hd_bdup(herd_batch *b, const char *s, int *oom)
{
    if (!s) return NULL;
    const char *d = hd_arena_strndup(b->arena, s, strlen(s));
    if (!d) *oom = 1;
    return d;
}

static int hd_batch_open_check(const herd_batch *b, const char *fn)
{
    if (b->committed > 0)
        return hd_error(HERD_EINVAL, "%s: the batch was already committed; begin a new one",
                        fn);
    if (b->committed < 0)
        return hd_error(HERD_EIO, "%s: writing or syncing this batch's artifacts failed "
                        "earlier (or its commit could not be undone); begin a new batch", fn);
    return HERD_OK;
}

/* Free text kept in the registry (reasons, tag values, idempotency keys):
 * UTF-8 without control characters, at most `max` bytes. */
static int hd_text_check(const char *s, size_t max, const char *what)
{
    if (!s) return HERD_OK;
    size_t n = strlen(s), bad;
    if (n > max)
        return hd_error(HERD_EINVAL, "%s is %zu bytes long; the limit is %zu", what, n, max);
    if (!hd_utf8_valid(s, n, &bad))
        return hd_error(HERD_EINVAL, "%s is not valid UTF-8 (byte %zu)", what, bad);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return hd_error(HERD_EINVAL, "%s contains a control character at byte %zu", what,
                            i);
    return HERD_OK;
}

/* A JSON object text (run params and summary, alias details), read as
 * strictly as artifact metadata: duplicate keys or U+0000 are refused. */
static int hd_json_object_check(const char *s, const char *what)
{
    if (!s) return HERD_OK;
    size_t n = strlen(s);
    if (n > HERD_JSON_MAX)
        return hd_error(HERD_EINVAL, "%s is %zu bytes long; the limit is %u", what, n,
                        HERD_JSON_MAX);
    hd_json_limits lim = {.max_depth = 64, .max_values = 100000};
    cJSON *j = NULL;
    int rc = hd_json_parse(s, n, what, &lim, &j);
    int object = !rc && cJSON_IsObject(j);
    cJSON_Delete(j);
    if (rc) return hd_error(HERD_EINVAL, "%s", herd_last_error());
    if (!object) return hd_error(HERD_EINVAL, "%s is JSON but not an object ({...})", what);
    return HERD_OK;
}

static int hd_version_options_read(const herd_version_options *in, herd_version_options *o)
{
    herd_version_options_init(o);
    return hd_options_copy(o, sizeof *o, in, "herd_version_options_init");
}

static int hd_metric_name_check(const char *name, size_t i)
{
    char what[64];
    snprintf(what, sizeof what, "opt->metric_names[%zu]", i);
    if (!name) return hd_error(HERD_EINVAL, "%s is NULL", what);
    if (!*name) return hd_error(HERD_EINVAL, "%s is empty", what);
    return hd_text_check(name, HERD_NAME_MAX, what);
}

/* Check the options of one added version against the artifact's fields and
 * fill the item. */
static int hd_item_fill(herd_batch *b, const hd_artifact_info *info,
                        const herd_version_options *o, hd_bitem *it)
{
    const char *family = o->family ? o->family : info->family;
    const char *key = o->group ? o->group : info->group;
    const char *run = o->run_id ? o->run_id : info->run_id;
    if (!family)
        return hd_error(HERD_EINVAL, "herd_batch_add: the version has no family: set "
                        "opt->family, or build the artifact with one");
    if (!key)
        return hd_error(HERD_EINVAL, "herd_batch_add: the version has no group: set "
                        "opt->group, or build the artifact from a fit");
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_key_check(key, "group");
    if (!rc && run) rc = hd_id_check(run, "run id");
    if (!rc && o->alias) rc = hd_id_check(o->alias, "opt->alias");
    if (!rc && o->alias && !strcmp(o->alias, "latest"))
        rc = hd_error(HERD_EINVAL, "opt->alias: 'latest' is reserved (it always names the "
                      "newest version)");
    if (!rc && o->idempotency_key && !*o->idempotency_key)
        rc = hd_error(HERD_EINVAL, "opt->idempotency_key is empty; pass NULL for none");
    if (!rc) rc = hd_text_check(o->idempotency_key, HD_IDEM_MAX, "opt->idempotency_key");
    if (!rc && o->n_tags && (!o->tag_names || !o->tag_values))
        rc = hd_error(HERD_EINVAL, "opt->n_tags is %zu but opt->tag_names or opt->tag_values "
                      "is NULL", o->n_tags);
    if (!rc && o->n_metrics && (!o->metric_names || !o->metric_values))
        rc = hd_error(HERD_EINVAL, "opt->n_metrics is %zu but opt->metric_names or "
                      "opt->metric_values is NULL", o->n_metrics);
    for (size_t i = 0; !rc && i < o->n_tags; i++) {
        char what[64];
        snprintf(what, sizeof what, "tag name opt->tag_names[%zu]", i);
        if (!o->tag_names[i]) rc = hd_error(HERD_EINVAL, "%s is NULL", what);
        else rc = hd_id_check(o->tag_names[i], what);
        snprintf(what, sizeof what, "tag value opt->tag_values[%zu]", i);
        if (!rc && !o->tag_values[i]) rc = hd_error(HERD_EINVAL, "%s is NULL", what);
        if (!rc) rc = hd_text_check(o->tag_values[i], HERD_TAG_VALUE_MAX, what);
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(o->tag_names[i], o->tag_names[j]))
                rc = hd_error(HERD_EINVAL, "tag '%s' is given twice (opt->tag_names[%zu] and "
                              "[%zu])", o->tag_names[i], j, i);
    }
    for (size_t i = 0; !rc && i < o->n_metrics; i++) rc = hd_metric_name_check(o->metric_names[i], i);
    if (rc) return rc;
    int oom = 0;
    it->family = hd_bdup(b, family, &oom);
    it->key = hd_bdup(b, key, &oom);
    it->run_id = hd_bdup(b, run, &oom);
    it->idem = hd_bdup(b, o->idempotency_key, &oom);
    it->created = hd_bdup(b, info->created, &oom);
    it->fingerprint = hd_bdup(b, info->fingerprint, &oom);
    it->alias = hd_bdup(b, o->alias, &oom);
    /* Metrics: the artifact's, then the options' (which win on a name). */
    size_t nm = info->nmetrics + o->n_metrics;
    it->mnames = nm ? hd_arena_alloc(b->arena, nm * sizeof *it->mnames) : NULL;
    it->mvalues = nm ? hd_arena_alloc(b->arena, nm * sizeof *it->mvalues) : NULL;
    if (nm && (!it->mnames || !it->mvalues)) oom = 1;
    for (size_t i = 0; !oom && i < nm; i++) {
        int extra = i >= info->nmetrics;
        const char *name = extra ? o->metric_names[i - info->nmetrics] : info->metric_names[i];
        double v = extra ? o->metric_values[i - info->nmetrics] : info->metric_values[i];
        size_t j = 0;
        while (j < it->nmetrics && strcmp(it->mnames[j], name)) j++;
        if (j == it->nmetrics) it->mnames[it->nmetrics++] = hd_bdup(b, name, &oom);
        it->mvalues[j] = v;
    }
    it->ntags = o->n_tags;
    it->tnames = o->n_tags ? hd_arena_alloc(b->arena, o->n_tags * sizeof *it->tnames) : NULL;
    it->tvalues = o->n_tags ? hd_arena_alloc(b->arena, o->n_tags * sizeof *it->tvalues) : NULL;
    if (o->n_tags && (!it->tnames || !it->tvalues)) oom = 1;
    for (size_t i = 0; !oom && i < o->n_tags; i++) {
        it->tnames[i] = hd_bdup(b, o->tag_names[i], &oom);
        it->tvalues[i] = hd_bdup(b, o->tag_values[i], &oom);
    }
    return oom ? hd_oom() : HERD_OK;
}

static int hd_push_op(herd_batch *b, const hd_bop *op)
{
    if (b->nops == b->capops &&
        hd_grow((void **)&b->ops, &b->capops, b->nops + 1, sizeof *b->ops))
        return HERD_ENOMEM;
    b->ops[b->nops++] = *op;
    return HERD_OK;
}

static int hd_batch_add_item(herd_batch *b, const hd_artifact_info *info, const void *bytes,
                             size_t len, const herd_version_options *opt, size_t *index,
                             const char *fn)
{
    herd_version_options o;
    int rc = hd_version_options_read(opt, &o);
    if (rc) return hd_error_prefix("%s: ", fn);
    if (len > UINT32_MAX)
        return hd_error(HERD_ELIMIT, "%s: the artifact is %zu bytes; the registry stores "
                        "artifacts up to 4 GiB", fn, len);
    if (b->n == b->cap && hd_grow((void **)&b->items, &b->cap, b->n + 1, sizeof *b->items))
        return HERD_ENOMEM;
    hd_bitem it;
    memset(&it, 0, sizeof it);
    if ((rc = hd_item_fill(b, info, &o, &it))) return rc;
    if ((rc = hd_batch_keep(b, &it, bytes, len))) return rc;
    hd_bop v = {.kind = HD_B_VERSION, .item = b->n};
    if ((rc = hd_push_op(b, &v))) {
        free(it.blob);
        return rc;
    }
    if (it.alias) {
        hd_bop a = {.kind = HD_B_ALIAS, .family = it.family, .key = it.key, .alias = it.alias,
                    .reason = "registered", .run_id = it.run_id, .item = b->n, .to_item = 1,
                    .expect = -1};
        if ((rc = hd_push_op(b, &a))) {
            b->nops--;
            free(it.blob);
            return rc;
        }
    }
    b->items[b->n] = it;
    if (index) *index = b->n;
    b->n++;
    return HERD_OK;
}

int herd_batch_add(herd_batch *batch, const herd_artifact *artifact,
                   const herd_version_options *opt, size_t *index)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(artifact);
    int rc = hd_batch_open_check(batch, __func__);
    if (rc) return rc;
    hd_artifact_info info;
    if ((rc = hd_artifact_info_get(artifact, &info))) return rc;
    size_t len;
    const unsigned char *bytes = hd_artifact_bytes(artifact, &len);
    rc = hd_batch_add_item(batch, &info, bytes, len, opt, index, __func__);
    hd_artifact_info_free(&info);
    return rc;
}

int herd_batch_add_bytes(herd_batch *batch, const void *data, size_t len,
                         const herd_version_options *opt, size_t *index)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(data);
    int rc = hd_batch_open_check(batch, __func__);
    if (rc) return rc;
    hd_artifact_info info;
    if ((rc = hd_artifact_check_bytes(data, len, &info)))
        return hd_error_prefix("herd_batch_add_bytes: the bytes are not a valid artifact: ");
    rc = hd_batch_add_item(batch, &info, data, len, opt, index, __func__);
    hd_artifact_info_free(&info);
    return rc;
}

static int hd_alias_options_read(const herd_alias_options *in, herd_alias_options *o)
{
    herd_alias_options_init(o);
    if (hd_options_copy(o, sizeof *o, in, "herd_alias_options_init")) return HERD_EINVAL;
    if (o->expect_version < -1)
        return hd_error(HERD_EINVAL, "opt->expect_version is %lld; use -1 (no condition), 0 "
                        "(the alias must not exist) or a version", (long long)o->expect_version);
    if (o->run_id) {
        int rc = hd_id_check(o->run_id, "opt->run_id");
        if (rc) return rc;
    }
    int rc = hd_text_check(o->reason, HERD_TAG_VALUE_MAX, "opt->reason");
    if (!rc) rc = hd_json_object_check(o->details, "opt->details");
    return rc;
}

/* family / group / alias arguments of the batch calls. */
static int hd_target_check(const char *family, const char *group, const char *alias)
{
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_key_check(group, "group");
    if (!rc && alias) rc = hd_id_check(alias, "alias");
    if (!rc && alias && !strcmp(alias, "latest"))
        rc = hd_error(HERD_EINVAL, "alias 'latest' is reserved (it always names the newest "
                      "version that is not archived)");
    return rc;
}

int herd_batch_set_alias(herd_batch *batch, const char *family, const char *group,
                         const char *alias, int64_t version, const herd_alias_options *opt)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    HD_CHECK_NOT_NULL(alias);
    int rc = hd_batch_open_check(batch, __func__);
    if (!rc) rc = hd_target_check(family, group, alias);
    if (!rc && (version < 0 || version > UINT32_MAX))
        rc = hd_error(HERD_EINVAL, "%s: version %lld is out of range; give a version number, "
                      "or 0 to delete the alias", __func__, (long long)version);
    herd_alias_options o;
    if (!rc) rc = hd_alias_options_read(opt, &o);
    if (rc) return hd_error_prefix("%s: ", __func__);
    int oom = 0;
    hd_bop op = {.kind = HD_B_ALIAS, .family = hd_bdup(batch, family, &oom),
                 .key = hd_bdup(batch, group, &oom), .alias = hd_bdup(batch, alias, &oom),
                 .reason = hd_bdup(batch, o.reason, &oom),
                 .details = hd_bdup(batch, o.details, &oom),
                 .run_id = hd_bdup(batch, o.run_id, &oom), .version = version,
                 .expect = o.expect_version};
    return oom ? hd_oom() : hd_push_op(batch, &op);
}

int herd_batch_archive(herd_batch *batch, const char *family, const char *group,
                       int64_t version, const char *reason)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    int rc = hd_batch_open_check(batch, __func__);
    if (!rc) rc = hd_target_check(family, group, NULL);
    if (!rc && (version < 1 || version > UINT32_MAX))
        rc = hd_error(HERD_EINVAL, "version %lld is out of range; versions start at 1",
                      (long long)version);
    if (!rc) rc = hd_text_check(reason, HERD_TAG_VALUE_MAX, "reason");
    if (rc) return hd_error_prefix("%s: ", __func__);
    int oom = 0;
    hd_bop op = {.kind = HD_B_ARCHIVE, .family = hd_bdup(batch, family, &oom),
                 .key = hd_bdup(batch, group, &oom), .reason = hd_bdup(batch, reason, &oom),
                 .version = version};
    return oom ? hd_oom() : hd_push_op(batch, &op);
}

int herd_batch_set_run(herd_batch *batch, const char *run_id, const char *params_json,
                       const char *summary_json)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(run_id);
    int rc = hd_batch_open_check(batch, __func__);
    if (!rc) rc = hd_id_check(run_id, "run id");
    if (!rc) rc = hd_json_object_check(params_json, "params_json");
    if (!rc) rc = hd_json_object_check(summary_json, "summary_json");
    if (rc) return hd_error_prefix("%s: ", __func__);
    int oom = 0;
    hd_bop op = {.kind = HD_B_RUN, .run_id = hd_bdup(batch, run_id, &oom),
                 .params = hd_bdup(batch, params_json, &oom),
                 .summary = hd_bdup(batch, summary_json, &oom)};
    return oom ? hd_oom() : hd_push_op(batch, &op);
}

int herd_batch_version(const herd_batch *batch, size_t index, int64_t *version, int *existed)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(version);
    *version = 0;
    if (existed) *existed = 0;
    if (batch->committed <= 0)
        return hd_error(HERD_EINVAL, "herd_batch_version: the batch is not committed yet; "
                        "versions are assigned by herd_batch_commit()");
    if (index >= batch->n)
        return hd_error(HERD_EINVAL, "herd_batch_version: index %zu is out of range; the "
                        "batch has %zu versions", index, batch->n);
    *version = batch->items[index].version;
    if (existed) *existed = batch->items[index].existed;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Planning a commit
 *
 * A small map keyed by strings ("family\0key", "family\0key\0alias",
 * idempotency keys) to numbers: the versions pending in this batch, the
 * aliases as the batch moves them, the idempotency keys it adds.
 * --------------------------------------------------------------------- */

typedef struct hd_pmap_ent {
    const char *k;
    size_t klen;
    uint64_t h;
    int64_t v;
} hd_pmap_ent;

typedef struct hd_pmap {
    hd_pmap_ent *e;
    size_t cap, n;
} hd_pmap;

static hd_pmap_ent *hd_pmap_slot(hd_pmap *m, const char *k, size_t klen, int *found)
{
    uint64_t h = hd_hash_bytes(k, klen, 7);
    *found = 0;
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        hd_pmap_ent *ne = hd_calloc(ncap, sizeof *ne);
        if (!ne) return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].k) continue;
            size_t j = (size_t)m->e[i].h & (ncap - 1);
            while (ne[j].k) j = (j + 1) & (ncap - 1);
            ne[j] = m->e[i];
        }
        free(m->e);
        m->e = ne;
        m->cap = ncap;
    }
    size_t i = (size_t)h & (m->cap - 1);
    for (; m->e[i].k; i = (i + 1) & (m->cap - 1)) {
        if (m->e[i].h == h && m->e[i].klen == klen && !memcmp(m->e[i].k, k, klen)) {
            *found = 1;
            return &m->e[i];
        }
    }
    m->e[i].h = h;
    m->e[i].klen = klen;
    return &m->e[i];
}

typedef struct hd_plan {
    herd_batch *b;
    const hd_rstate *st;
    hd_arena *scratch;
    hd_pmap next;    /* family\0key -> last version assigned (committed or pending) */
    hd_pmap aliases; /* family\0key\0alias -> version (0: none) */
    hd_pmap idem;    /* key -> item index */
    hd_pmap archived; /* family\0key\0#version of the batch's archives */
    hd_wbuf rec;     /* the record's operations */
    uint32_t nops;
    uint64_t blob_bytes;
} hd_plan;

/* "a\0b" (or "a\0b\0c") in the plan's scratch arena. */
static const char *hd_pkey(hd_plan *p, const char *a, const char *b, const char *c,
                           size_t *len)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    *len = la + 1 + lb + (c ? 1 + lc : 0);
    char *k = hd_arena_alloc(p->scratch, *len + 1);
    if (!k) return NULL;
    memcpy(k, a, la + 1);
    memcpy(k + la + 1, b, lb + 1);
    if (c) memcpy(k + la + lb + 2, c, lc + 1);
    return k;
}

/* The committed group, or NULL. */
static int hd_plan_group(hd_plan *p, const char *family, const char *key, const hd_rgroup **g)
{
    *g = NULL;
    int rc = hd_rstate_find(p->st, family, key, p->scratch, g);
    return rc < 0 ? rc : HERD_OK;
}

/* The map entry of (family, key[, alias]) in `map`, initialised on first
 * use from the committed state: the group's version count, or the
 * alias's version (0: none). */
static int hd_plan_entry(hd_plan *p, hd_pmap *map, const char *family, const char *key,
                         const char *alias, hd_pmap_ent **out)
{
    size_t len;
    const char *k = hd_pkey(p, family, key, alias, &len);
    if (!k) return HERD_ENOMEM;
    int found;
    hd_pmap_ent *e = hd_pmap_slot(map, k, len, &found);
    if (!e) return HERD_ENOMEM;
    if (!found) {
        const hd_rgroup *g;
        int rc = hd_plan_group(p, family, key, &g);
        if (rc) { /* leave the slot empty */
            e->h = 0;
            e->klen = 0;
            return rc;
        }
        const hd_ralias *a = g && alias ? hd_rgroup_alias(g, alias) : NULL;
        e->k = k;
        e->v = alias ? (a ? a->version : 0) : (g ? g->nv : 0);
        map->n++;
    }
    *out = e;
    return HERD_OK;
}

/* The last version of (family, key), committed or pending. */
static int hd_plan_next(hd_plan *p, const char *family, const char *key, hd_pmap_ent **out)
{
    return hd_plan_entry(p, &p->next, family, key, NULL, out);
}

/* Where `alias` of (family, key) points as the batch leaves it so far. */
static int hd_plan_alias(hd_plan *p, const char *family, const char *key, const char *alias,
                         hd_pmap_ent **out)
{
    return hd_plan_entry(p, &p->aliases, family, key, alias, out);
}

static int hd_plan_version(hd_plan *p, hd_bitem *it)
{
    const char *fam, *key;
    uint32_t v;
    if (it->idem) {
        int found;
        hd_pmap_ent *e = hd_pmap_slot(&p->idem, it->idem, strlen(it->idem), &found);
        if (!e) return HERD_ENOMEM;
        if (found) { /* twice in this batch: the same version */
            const hd_bitem *first = &p->b->items[e->v];
            if (strcmp(first->family, it->family) || strcmp(first->key, it->key))
                return hd_error(HERD_ECONFLICT, "idempotency key '%s' is given to versions of "
                                "%s/%s and %s/%s in one batch", it->idem, first->family,
                                first->key, it->family, it->key);
            it->version = first->version;
            it->existed = 1;
            return HERD_OK;
        }
        int rc = hd_rstate_idem(p->st, it->idem, &fam, &key, &v);
        if (rc < 0) {
            e->h = 0;
            e->klen = 0;
            return rc;
        }
        e->k = it->idem;
        e->v = (int64_t)(it - p->b->items);
        p->idem.n++;
        if (rc == 1) {
            if (strcmp(fam, it->family) || strcmp(key, it->key))
                return hd_error(HERD_ECONFLICT, "idempotency key '%s' was committed for "
                                "%s/%s version %u, not for %s/%s: keys must name one group's "
                                "version (use run id + group)", it->idem, fam, key, v,
                                it->family, it->key);
            it->version = v;
            it->existed = 1;
            return HERD_OK;
        }
    }
    hd_pmap_ent *n;
    int rc = hd_plan_next(p, it->family, it->key, &n);
    if (rc) return rc;
    if (n->v >= UINT32_MAX)
        return hd_error(HERD_ELIMIT, "group %s/%s has %lld versions, the most a group can "
                        "hold", it->family, it->key, (long long)n->v);
    it->version = ++n->v;
    it->existed = 0;
    p->blob_bytes += it->len;
    return HERD_OK;
}

static void hd_enc_version(hd_plan *p, const hd_bitem *it, uint32_t pack, uint64_t off)
{
    hd_wbuf *w = &p->rec;
    hd_wbuf_u8(w, HD_OP_VERSION);
    hd_wbuf_str(w, it->family);
    hd_wbuf_str(w, it->key);
    hd_wbuf_u32(w, (uint32_t)it->version);
    hd_wbuf_u32(w, pack);
    hd_wbuf_u64(w, off);
    hd_wbuf_u32(w, (uint32_t)it->len);
    hd_wbuf_str(w, it->run_id);
    hd_wbuf_str(w, it->idem);
    hd_wbuf_str(w, it->created);
    hd_wbuf_str(w, it->fingerprint);
    hd_wbuf_u32(w, (uint32_t)it->nmetrics);
    for (size_t i = 0; i < it->nmetrics; i++) {
        hd_wbuf_str(w, it->mnames[i]);
        hd_wbuf_f64(w, it->mvalues[i]);
    }
    hd_wbuf_u32(w, (uint32_t)it->ntags);
    for (size_t i = 0; i < it->ntags; i++) {
        hd_wbuf_str(w, it->tnames[i]);
        hd_wbuf_str(w, it->tvalues[i]);
    }
    p->nops++;
}

/* Whether the batch archives (family, key, version); with `add`, record
 * that it does. */
static int hd_plan_archived(hd_plan *p, const char *family, const char *key, int64_t version,
                            int add, int *found)
{
    char v[32];
    snprintf(v, sizeof v, "#%lld", (long long)version);
    size_t len;
    const char *k = hd_pkey(p, family, key, v, &len);
    if (!k) return HERD_ENOMEM;
    hd_pmap_ent *e = hd_pmap_slot(&p->archived, k, len, found);
    if (!e) return HERD_ENOMEM;
    if (*found || !add) { /* a miss without add leaves the slot empty */
        if (!*found) e->h = 0, e->klen = 0;
        return HERD_OK;
    }
    e->k = k;
    p->archived.n++;
    return HERD_OK;
}

static int hd_plan_alias_op(hd_plan *p, const hd_bop *op)
{
    const hd_bitem *it = op->to_item ? &p->b->items[op->item] : NULL;
    if (it && it->existed) return HERD_OK; /* done by the commit that made it */
    int64_t to = it ? it->version : op->version;
    hd_pmap_ent *n, *a;
    int rc = hd_plan_next(p, op->family, op->key, &n);
    if (!rc) rc = hd_plan_alias(p, op->family, op->key, op->alias, &a);
    if (rc) return rc;
    if (op->expect >= 0 && a->v != op->expect)
        return hd_error(HERD_ECONFLICT, "alias '%s' of %s/%s %s, not %s %lld as expected "
                        "(expect_version): someone moved it; nothing was committed",
                        op->alias, op->family, op->key,
                        a->v ? "points to a version" : "does not exist",
                        op->expect ? "version" : "absent", (long long)op->expect);
    if (to > n->v)
        return hd_error(HERD_ENOTFOUND, "cannot point alias '%s' of %s/%s at version %lld: "
                        "the group %s", op->alias, op->family, op->key, (long long)to,
                        n->v ? "has fewer versions" : "does not exist");
    if (to == 0 && a->v == 0)
        return hd_error(HERD_ENOTFOUND, "cannot delete alias '%s' of %s/%s: it does not "
                        "exist", op->alias, op->family, op->key);
    if (to && !it) { /* an existing version: not archived, before or by this batch */
        const hd_rgroup *g;
        if ((rc = hd_plan_group(p, op->family, op->key, &g))) return rc;
        int found = 0;
        if ((rc = hd_plan_archived(p, op->family, op->key, to, 0, &found))) return rc;
        if (found || (g && to <= g->nv && (g->v[to - 1].flags & HD_RV_ARCHIVED)))
            return hd_error(HERD_EINVAL, "cannot point alias '%s' of %s/%s at version %lld: "
                            "it is archived", op->alias, op->family, op->key, (long long)to);
    }
    hd_wbuf *w = &p->rec;
    hd_wbuf_u8(w, HD_OP_ALIAS);
    hd_wbuf_str(w, op->family);
    hd_wbuf_str(w, op->key);
    hd_wbuf_str(w, op->alias);
    hd_wbuf_u32(w, (uint32_t)a->v);
    hd_wbuf_u32(w, (uint32_t)to);
    hd_wbuf_str(w, op->reason);
    hd_wbuf_str(w, op->details);
    hd_wbuf_str(w, op->run_id);
    a->v = to;
    p->nops++;
    return HERD_OK;
}

/* Whether an alias (as the batch leaves it) points at version v. */
static int hd_plan_alias_on(hd_plan *p, const hd_rgroup *g, const char *family,
                            const char *key, int64_t v, const char **name)
{
    for (uint32_t i = 0; g && i < g->na; i++) {
        hd_pmap_ent *a;
        int rc = hd_plan_alias(p, family, key, g->a[i].name, &a);
        if (rc) return rc;
        if (a->v == v) {
            *name = g->a[i].name;
            return 1;
        }
    }
    /* aliases the batch creates */
    for (size_t i = 0; i < p->aliases.cap; i++) {
        const hd_pmap_ent *e = &p->aliases.e[i];
        if (!e->k || e->v != v) continue;
        size_t lf = strlen(e->k), lk = strlen(e->k + lf + 1);
        if (!strcmp(e->k, family) && !strcmp(e->k + lf + 1, key)) {
            *name = e->k + lf + lk + 2;
            return 1;
        }
    }
    return 0;
}

static int hd_plan_archive(hd_plan *p, const hd_bop *op)
{
    const hd_rgroup *g;
    int rc = hd_plan_group(p, op->family, op->key, &g);
    if (rc) return rc;
    if (!g || op->version > g->nv)
        return hd_error(HERD_ENOTFOUND, "cannot archive %s/%s version %lld: %s", op->family,
                        op->key, (long long)op->version,
                        g ? "no such version" : "no such group");
    if (g->v[op->version - 1].flags & HD_RV_ARCHIVED) return HERD_OK; /* already */
    const char *alias = NULL;
    rc = hd_plan_alias_on(p, g, op->family, op->key, op->version, &alias);
    if (rc < 0) return rc;
    if (rc == 1)
        return hd_error(HERD_EINVAL, "cannot archive %s/%s version %lld: alias '%s' points to "
                        "it; move the alias first", op->family, op->key, (long long)op->version,
                        alias);
    int found = 0;
    if ((rc = hd_plan_archived(p, op->family, op->key, op->version, 1, &found))) return rc;
    hd_wbuf *w = &p->rec;
    hd_wbuf_u8(w, HD_OP_ARCHIVE);
    hd_wbuf_str(w, op->family);
    hd_wbuf_str(w, op->key);
    hd_wbuf_u32(w, (uint32_t)op->version);
    hd_wbuf_str(w, op->reason);
    p->nops++;
    return HERD_OK;
}

static void hd_plan_free(hd_plan *p)
{
    free(p->next.e);
    free(p->aliases.e);
    free(p->idem.e);
    free(p->archived.e);
    hd_wbuf_free(&p->rec);
    hd_arena_free(p->scratch);
}

/* Assign versions and check every operation against the state. */
static int hd_plan_make(hd_plan *p)
{
    herd_batch *b = p->b;
    int rc = HERD_OK;
    for (size_t i = 0; !rc && i < b->nops; i++)
        if (b->ops[i].kind == HD_B_VERSION) rc = hd_plan_version(p, &b->items[b->ops[i].item]);
    return rc;
}

/* Encode the operations (versions with their pack offsets). */
static int hd_plan_encode(hd_plan *p)
{
    herd_batch *b = p->b;
    int rc = HERD_OK;
    for (size_t i = 0; !rc && i < b->nops; i++) {
        const hd_bop *op = &b->ops[i];
        switch (op->kind) {
        case HD_B_VERSION: {
            const hd_bitem *it = &b->items[op->item];
            if (!it->existed) hd_enc_version(p, it, it->pack, it->off);
            break;
        }
        case HD_B_ALIAS: rc = hd_plan_alias_op(p, op); break;
        case HD_B_ARCHIVE: rc = hd_plan_archive(p, op); break;
        case HD_B_RUN:
            hd_wbuf_u8(&p->rec, HD_OP_RUN);
            hd_wbuf_str(&p->rec, op->run_id);
            hd_wbuf_str(&p->rec, op->params);
            hd_wbuf_str(&p->rec, op->summary);
            p->nops++;
            break;
        }
    }
    if (!rc && p->rec.oom) rc = HERD_ENOMEM;
    return rc;
}

/* ------------------------------------------------------------------------
 * Writing a commit
 * --------------------------------------------------------------------- */

/* Append the batch's new artifacts (held in memory) to the current pack,
 * or a new one; fills *pos and each item's place.  The pack is
 * fdatasynced (and the directory, for a new pack). */
static int hd_write_blobs(herd_registry *reg, herd_batch *b, uint64_t bytes, hd_packpos *pos)
{
    hd_packpos cur = reg->st.pack;
    int is_new = cur.cur == 0 || (cur.end > HD_PACK_HEADER && cur.end + bytes > reg->pack_target);
    uint32_t id = is_new ? cur.max + 1 : cur.cur;
    uint64_t start = is_new ? HD_PACK_HEADER : cur.end;
    hd_vfs_file *f;
    int rc = hd_pack_open_for_append(reg, id, is_new, start, &f);
    if (rc) return rc;
    hd_pack_writer w = {.f = f, .off = start, .hinted = start};
    for (size_t i = 0; !rc && i < b->n; i++) {
        hd_bitem *it = &b->items[i];
        if (it->existed) continue;
        it->pack = id;
        rc = hd_pw_add(&w, it->blob, it->len, &it->off);
    }
    if (!rc) rc = hd_pw_flush(&w);
    hd_wbuf_free(&w.buf);
    if (!rc) rc = hd_vfs_fdatasync(f);
    if (!rc && is_new) rc = hd_vfs_sync_dir(reg->vfs, reg->dir);
    if (rc) return rc;
    pos->cur = id;
    pos->end = start + bytes;
    pos->max = id > cur.max ? id : cur.max;
    return HERD_OK;
}

/* Put the batch's own pack (already synced) in place as the next pack id. */
static int hd_place_spill(herd_registry *reg, herd_batch *b, hd_packpos *pos, char *placed,
                          size_t size)
{
    uint32_t id = reg->st.pack.max + 1;
    char path[4200];
    hd_pack_path(reg, id, path, sizeof path);
    pthread_mutex_lock(&reg->pack_mu);
    hd_pack_forget(reg, id); /* a crashed commit's file of that name */
    pthread_mutex_unlock(&reg->pack_mu);
    int rc = hd_vfs_rename(reg->vfs, b->spill_path, path);
    if (rc) return rc;
    snprintf(placed, size, "%s", path); /* moved: a failure from here moves it back */
    if ((rc = hd_vfs_sync_dir(reg->vfs, reg->dir))) return rc;
    for (size_t i = 0; i < b->n; i++) b->items[i].pack = id;
    pos->max = id;
    if (!pos->cur) { /* the first pack: later small commits append to it */
        pos->cur = id;
        pos->end = b->spill.off;
    }
    return HERD_OK;
}

/* Frame the record, append it, sync it; on failure undo the append. */
static int hd_append_record(herd_registry *reg, const hd_wbuf *rec, uint64_t seq,
                            int *maybe_visible)
{
    *maybe_visible = 0;
    if (rec->n > HD_REC_MAX_PAYLOAD || rec->n > UINT32_MAX)
        return hd_error(HERD_ELIMIT, "the commit's record would be %zu bytes; commit in "
                        "batches of under 4 GiB of metadata", rec->n);
    unsigned char h[HD_REC_HEADER];
    hd_wr32(h, HD_REC_MAGIC);
    hd_wr32(h + 4, (uint32_t)rec->n);
    hd_wr64(h + 8, seq);
    hd_wr32(h + 16, hd_crc32(rec->p, rec->n));
    hd_wr32(h + 20, hd_crc32(h, 20));
    /* One write, so that a reader never sees the header without its
     * payload for longer than the write takes. */
    hd_wbuf all = {0};
    hd_wbuf_bytes(&all, h, sizeof h);
    hd_wbuf_bytes(&all, rec->p, rec->n);
    if (all.oom) {
        hd_wbuf_free(&all);
        return HERD_ENOMEM;
    }
    int rc = hd_vfs_pwrite(reg->journal, all.p, all.n, reg->jend);
    hd_wbuf_free(&all);
    int synced = 0;
    if (!rc) {
        rc = hd_vfs_fdatasync(reg->journal);
        synced = 1;
    }
    if (!rc) return HERD_OK;
    /* Undo: cut the record off and make the cut durable.  If that fails
     * too, the record may survive: say so. */
    hd_saved_error e;
    hd_error_save(&e);
    int urc = hd_vfs_truncate(reg->journal, reg->jend);
    if (!urc) urc = hd_vfs_fdatasync(reg->journal);
    if (urc && synced) {
        reg->stale = 1;
        reg->write_failed = 1;
        *maybe_visible = 1;
        return hd_error(HERD_EIO, "%s; the final sync failed and could not be undone (%s): "
                        "the batch may be visible after a restart; retrying it with its "
                        "idempotency keys adds nothing", e.msg, herd_last_error());
    }
    reg->stale = reg->stale || urc;
    return hd_error_restore(&e);
}

static int hd_encode_header(hd_wbuf *w, int64_t time_ms, const hd_packpos *pos, uint32_t nops)
{
    hd_wbuf_u64(w, (uint64_t)time_ms);
    hd_wbuf_u32(w, pos->cur);
    hd_wbuf_u64(w, pos->end);
    hd_wbuf_u32(w, pos->max);
    hd_wbuf_u32(w, nops);
    return w->oom ? HERD_ENOMEM : HERD_OK;
}

/* Write index and swap it in, if enough changed since the last one. */
static void hd_maybe_checkpoint(herd_registry *reg, int force)
{
    if (reg->stale) return; /* the state missed its own record: never snapshot it */
    if (!force && (!reg->checkpoint_every || reg->st.changes < reg->checkpoint_every)) return;
    int rc = hd_index_write(reg->vfs, reg->dir, &reg->st, reg->jend);
    hd_tail tail;
    if (!rc) reg->index_damaged = 0;
    if (!rc) rc = hd_reload(reg, &tail);
    if (rc) {
        hd_log(HERD_LOG_WARN, "registry %s: rewriting the index failed (the commit itself "
               "is durable; the next commit retries): %s", reg->dir, herd_last_error());
        herd_clear_error();
    }
}

/* Write the planned commit: blobs, record, apply. */
static int hd_commit_write(herd_registry *reg, hd_plan *p)
{
    herd_batch *b = p->b;
    hd_packpos pos = reg->st.pack;
    char placed[4200] = "";
    int rc = HERD_OK;
    if (b->spill.f) rc = hd_place_spill(reg, b, &pos, placed, sizeof placed);
    else if (p->blob_bytes) rc = hd_write_blobs(reg, b, p->blob_bytes, &pos);
    if (!rc) rc = hd_plan_encode(p);
    int64_t now = hd_now_ms();
    if (now < reg->st.pack.time_ms) now = reg->st.pack.time_ms; /* times never go back */
    hd_wbuf rec = {0};
    if (!rc) rc = hd_encode_header(&rec, now, &pos, p->nops);
    hd_wbuf_bytes(&rec, p->rec.p, p->rec.n);
    if (!rc && rec.oom) rc = HERD_ENOMEM;
    uint64_t seq = reg->st.seq + 1;
    int maybe_visible = 0;
    if (!rc) rc = hd_append_record(reg, &rec, seq, &maybe_visible);
    if (rc && maybe_visible) {
        b->committed = -1; /* the record may survive, naming the pack: leave it */
    } else if (rc && *placed) {
        /* Not committed: the pack goes back to the batch, which may be
         * committed again (if this fails too, gc removes the orphan). */
        hd_saved_error e;
        hd_error_save(&e);
        if (hd_vfs_rename(reg->vfs, placed, b->spill_path)) b->committed = -1;
        hd_error_restore(&e);
    }
    if (!rc) {
        char where[600];
        snprintf(where, sizeof where, "registry journal %s, the record just written at offset "
                 "%llu", reg->journal_path, (unsigned long long)reg->jend);
        pthread_rwlock_wrlock(&reg->rw);
        int arc = hd_rstate_apply(&reg->st, seq, rec.p, rec.n, where);
        if (!arc) {
            reg->st.rec_off = reg->jend;
            reg->jend += HD_REC_HEADER + rec.n;
        }
        pthread_rwlock_unlock(&reg->rw);
        if (arc) { /* durable, but this handle must re-read it */
            reg->stale = 1;
            herd_clear_error();
        }
    }
    hd_wbuf_free(&rec);
    return rc;
}

int herd_batch_commit(herd_batch *batch)
{
    HD_CHECK_NOT_NULL(batch);
    int rc = hd_batch_open_check(batch, __func__);
    if (rc) return rc;
    herd_registry *reg = batch->reg;
    /* The batch's own pack is made durable before taking the lock: other
     * writers wait only for the record. */
    if (batch->spill.f) {
        rc = hd_pw_flush(&batch->spill);
        if (!rc) rc = hd_vfs_fdatasync(batch->spill.f);
        if (rc) return hd_batch_broken(batch, rc);
    }
    pthread_mutex_lock(&reg->write_mu);
    rc = hd_begin_write(reg);
    if (rc) {
        pthread_mutex_unlock(&reg->write_mu);
        return rc;
    }
    hd_plan p;
    memset(&p, 0, sizeof p);
    p.b = batch;
    p.st = &reg->st;
    if (!(p.scratch = hd_arena_new())) rc = HERD_ENOMEM;
    if (!rc) rc = hd_plan_make(&p);
    if (!rc) rc = hd_commit_write(reg, &p);
    hd_plan_free(&p);
    if (!rc) {
        batch->committed = 1;
        hd_maybe_checkpoint(reg, reg->index_damaged); /* a damaged index is replaced */
    }
    hd_writer_unlock(reg);
    pthread_mutex_unlock(&reg->write_mu);
    return rc;
}

/* ------------------------------------------------------------------------
 * Index maintenance, garbage collection and checks
 * --------------------------------------------------------------------- */

int herd_registry_rebuild_index(herd_registry *reg)
{
    HD_CHECK_NOT_NULL(reg);
    if (reg->opt.read_only)
        return hd_error(HERD_EINVAL, "herd_registry_rebuild_index: registry %s was opened "
                        "read-only", reg->dir);
    pthread_mutex_lock(&reg->write_mu);
    int rc = hd_begin_write(reg);
    if (!rc) {
        /* From the journal alone: the index is what may be damaged. */
        hd_rstate st;
        uint64_t jend = 0;
        hd_tail tail;
        uint64_t bad = 0;
        rc = hd_rstate_init(&st, NULL);
        if (!rc) rc = hd_journal_catch_up(reg, &st, &jend, &tail, &bad, NULL);
        if (!rc) rc = hd_index_write(reg->vfs, reg->dir, &st, jend);
        if (!rc) reg->index_damaged = 0;
        if (!rc) hd_rstate_free(&st);
        else if (st.arena) hd_rstate_free(&st);
        if (!rc) rc = hd_reload(reg, &tail);
        hd_writer_unlock(reg);
    }
    pthread_mutex_unlock(&reg->write_mu);
    return rc;
}

/* ---- gc ---- */

typedef struct hd_gc_pack {
    uint32_t id;
    uint64_t live, dead;
} hd_gc_pack;

typedef struct hd_gc {
    hd_gc_pack *packs;
    size_t n, cap;
    int rc;
} hd_gc;

static hd_gc_pack *hd_gc_pack_of(hd_gc *g, uint32_t id)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->packs[i].id == id) return &g->packs[i];
    if (g->n == g->cap && hd_grow((void **)&g->packs, &g->cap, g->n + 1, sizeof *g->packs))
        return NULL;
    g->packs[g->n] = (hd_gc_pack){id, 0, 0};
    return &g->packs[g->n++];
}

static int hd_gc_count(void *ctx, const hd_rgroup *g)
{
    hd_gc *gc = ctx;
    for (uint32_t i = 0; i < g->nv; i++) {
        const hd_rver *v = &g->v[i];
        if (!v->pack) continue;
        hd_gc_pack *p = hd_gc_pack_of(gc, v->pack);
        if (!p) return HERD_ENOMEM;
        if (v->flags & HD_RV_ARCHIVED) p->dead += v->len;
        else p->live += v->len;
    }
    return 0;
}

static int hd_gc_dirty(const hd_gc *gc, uint32_t id)
{
    for (size_t i = 0; i < gc->n; i++)
        if (gc->packs[i].id == id) return gc->packs[i].dead > 0;
    return 0;
}

typedef struct hd_gc_move {
    herd_registry *reg;
    const hd_gc *gc;
    hd_pack_writer *w;
    uint32_t new_id;
    hd_wbuf *rec;
    uint32_t nops;
    unsigned char *buf;
    size_t bufcap;
} hd_gc_move;

/* Copy the live artifacts of dirty packs to the new pack; relocate every
 * version of a dirty pack (archived ones to "no pack"). */
static int hd_gc_relocate(void *ctx, const hd_rgroup *g)
{
    hd_gc_move *m = ctx;
    for (uint32_t i = 0; i < g->nv; i++) {
        const hd_rver *v = &g->v[i];
        if (!v->pack || !hd_gc_dirty(m->gc, v->pack)) continue;
        uint32_t pack = 0;
        uint64_t off = 0;
        if (!(v->flags & HD_RV_ARCHIVED)) {
            if (v->len > m->bufcap) {
                free(m->buf);
                m->bufcap = v->len;
                if (!(m->buf = hd_malloc(v->len, 1))) return HERD_ENOMEM;
            }
            int rc = hd_pack_read(m->reg, v->pack, v->off, m->buf, v->len);
            if (!rc && hd_crc32(m->buf, v->len) == 0xFFFFFFFFu) rc = HERD_OK; /* no-op */
            if (!rc) {
                hd_artifact_info info; /* never copy damage into a new pack */
                rc = hd_artifact_check_bytes(m->buf, v->len, &info);
                hd_artifact_info_free(&info);
                if (rc) hd_error_prefix("gc: %s/%s version %u in pack %u at offset %llu: ",
                                        g->family, g->key, v->version, v->pack,
                                        (unsigned long long)v->off);
            }
            if (!rc) rc = hd_pw_add(m->w, m->buf, v->len, &off);
            if (rc) return rc;
            pack = m->new_id;
        }
        hd_wbuf_u8(m->rec, HD_OP_RELOCATE);
        hd_wbuf_str(m->rec, g->family);
        hd_wbuf_str(m->rec, g->key);
        hd_wbuf_u32(m->rec, v->version);
        hd_wbuf_u32(m->rec, pack);
        hd_wbuf_u64(m->rec, off);
        m->nops++;
    }
    return m->rec->oom ? HERD_ENOMEM : 0;
}

typedef struct hd_orphans {
    herd_registry *reg;
    const hd_gc *refs; /* packs some version references, after the gc */
    uint32_t keep;     /* the current pack */
    uint32_t *ids;
    size_t n, cap;
} hd_orphans;

/* A batch's own pack left by a process that died before committing: no
 * one holds its lock. */
static int hd_remove_stale_spill(herd_registry *reg, const char *name)
{
    char *path = hd_join(reg->dir, name);
    if (!path) return HERD_ENOMEM;
    hd_vfs_file *f;
    int rc = hd_vfs_open(reg->vfs, path, HD_VFS_RDWR, &f);
    if (!rc) {
        int locked = hd_vfs_lock(f, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0);
        if (locked == HERD_OK) rc = hd_vfs_unlink(reg->vfs, path);
        hd_vfs_close(f);
    }
    if (rc == HERD_ENOTFOUND || rc == HERD_EBUSY) rc = HERD_OK;
    herd_clear_error();
    free(path);
    return rc;
}

static int hd_orphan_entry(void *ctx, const char *name)
{
    hd_orphans *o = ctx;
    unsigned id;
    char tail;
    if (!strncmp(name, "pack-tmp-", 9)) return hd_remove_stale_spill(o->reg, name);
    if (sscanf(name, "pack-%u%c", &id, &tail) != 1 || id == o->keep) return 0;
    for (size_t i = 0; i < o->refs->n; i++)
        if (o->refs->packs[i].id == id) return 0;
    if (o->n == o->cap && hd_grow((void **)&o->ids, &o->cap, o->n + 1, sizeof *o->ids))
        return HERD_ENOMEM;
    o->ids[o->n++] = id;
    return 0;
}

/* Delete the pack files no version references any more: the ones gc just
 * emptied, and any a crashed gc or writer left.  Decided from the state
 * after the gc's record, never from the plan before it. */
static int hd_gc_unlink(herd_registry *reg, uint64_t *reclaimed)
{
    hd_gc refs = {0};
    int rc = hd_rstate_foreach(&reg->st, NULL, hd_gc_count, &refs);
    hd_orphans o = {.reg = reg, .refs = &refs, .keep = reg->st.pack.cur};
    if (!rc) rc = hd_vfs_list_dir(reg->vfs, reg->dir, hd_orphan_entry, &o);
    for (size_t i = 0; !rc && i < o.n; i++) {
        char path[4200];
        hd_pack_path(reg, o.ids[i], path, sizeof path);
        pthread_mutex_lock(&reg->pack_mu);
        hd_pack_handle *h;
        uint64_t size = 0;
        if (hd_pack_get(reg, o.ids[i], 0, &h) == HERD_OK && hd_vfs_size(h->f, &size) == HERD_OK)
            *reclaimed += size;
        herd_clear_error();
        hd_pack_forget(reg, o.ids[i]); /* closed now, or by its last reader */
        pthread_mutex_unlock(&reg->pack_mu);
        rc = hd_vfs_unlink(reg->vfs, path);
        if (rc == HERD_ENOTFOUND) rc = HERD_OK;
    }
    if (!rc && o.n) rc = hd_vfs_sync_dir(reg->vfs, reg->dir);
    free(o.ids);
    free(refs.packs);
    return rc;
}

static int hd_gc_locked(herd_registry *reg, uint64_t *reclaimed)
{
    hd_gc gc = {0};
    uint64_t written = 0;
    int rc = hd_rstate_foreach(&reg->st, NULL, hd_gc_count, &gc);
    size_t ndirty = 0;
    for (size_t i = 0; !rc && i < gc.n; i++) ndirty += gc.packs[i].dead > 0;
    if (!rc && ndirty) {
        hd_packpos pos = reg->st.pack;
        uint32_t id = pos.max + 1;
        hd_vfs_file *f;
        rc = hd_pack_open_for_append(reg, id, 1, HD_PACK_HEADER, &f);
        hd_pack_writer w = {.f = f, .off = HD_PACK_HEADER};
        hd_wbuf ops = {0};
        hd_gc_move m = {.reg = reg, .gc = &gc, .w = &w, .new_id = id, .rec = &ops};
        if (!rc) rc = hd_rstate_foreach(&reg->st, NULL, hd_gc_relocate, &m);
        uint64_t end = w.off + w.buf.n;
        if (!rc) rc = hd_pw_flush(&w);
        if (!rc) rc = hd_vfs_fdatasync(f);
        if (!rc) rc = hd_vfs_sync_dir(reg->vfs, reg->dir);
        hd_wbuf_free(&w.buf);
        free(m.buf);
        /* The current pack keeps taking commits unless it was emptied. */
        if (hd_gc_dirty(&gc, pos.cur)) {
            pos.cur = id;
            pos.end = end;
        }
        pos.max = id;
        if (!rc) {
            hd_wbuf rec = {0};
            int64_t now = hd_now_ms();
            if (now < reg->st.pack.time_ms) now = reg->st.pack.time_ms;
            rc = hd_encode_header(&rec, now, &pos, m.nops);
            hd_wbuf_bytes(&rec, ops.p, ops.n);
            uint64_t seq = reg->st.seq + 1;
            if (!rc && rec.oom) rc = HERD_ENOMEM;
            int maybe_visible = 0;
            if (!rc) rc = hd_append_record(reg, &rec, seq, &maybe_visible);
            if (!rc) {
                pthread_rwlock_wrlock(&reg->rw);
                int arc = hd_rstate_apply(&reg->st, seq, rec.p, rec.n, "gc record");
                if (!arc) {
                    reg->st.rec_off = reg->jend;
                    reg->jend += HD_REC_HEADER + rec.n;
                }
                pthread_rwlock_unlock(&reg->rw);
                if (arc) {
                    reg->stale = 1;
                    herd_clear_error();
                }
            }
            hd_wbuf_free(&rec);
        }
        hd_wbuf_free(&ops);
        written = end;
    }
    if (!rc && !reg->stale) rc = hd_gc_unlink(reg, reclaimed);
    /* Net of the new pack the live artifacts moved to. */
    *reclaimed = *reclaimed > written ? *reclaimed - written : 0;
    free(gc.packs);
    return rc;
}

int herd_registry_gc(herd_registry *reg, uint64_t *reclaimed)
{
    HD_CHECK_NOT_NULL(reg);
    uint64_t freed = 0;
    if (reclaimed) *reclaimed = 0;
    if (reg->opt.read_only)
        return hd_error(HERD_EINVAL, "herd_registry_gc: registry %s was opened read-only",
                        reg->dir);
    pthread_mutex_lock(&reg->write_mu);
    int rc = hd_begin_write(reg);
    if (!rc) {
        rc = hd_gc_locked(reg, &freed);
        if (!rc) hd_maybe_checkpoint(reg, 0);
        hd_writer_unlock(reg);
    }
    pthread_mutex_unlock(&reg->write_mu);
    if (!rc && reclaimed) *reclaimed = freed;
    return rc;
}
