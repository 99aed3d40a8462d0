/* open.c -- the registry's directory and handle: the format file
 * (HERD-REGISTRY), creating a registry, opening one (options, the index and
 * the journal into a state), free, refresh, path, and the test hooks
 * hd_registry_set_*.  Moved from registry.c (handle_internal.h has the
 * overview of the files and of a commit). */

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/options_internal.h"
#include "registry/handle_internal.h"
#include "registry/registry_internal.h"
#include "registry/state_internal.h"

static const unsigned char hd_fmt_magic[8] = {0x89, 'H', 'R', 'E', 'G', '\r', '\n', '\n'};
static const char hd_format_name[] = "HERD-REGISTRY";

enum { HD_FMT_LEN = 64 };

/* ------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------- */

int64_t hd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *hd_join(const char *dir, const char *name)
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
    uint64_t start, end;
    return !strcmp(name, "journal") || !strcmp(name, "lock") || !strcmp(name, "index") ||
           !strncmp(name, "pack-", 5) || !strncmp(name, "HERD-REGISTRY", 13) ||
           !strcmp(name, "index.tmp") || hd_delta_name_parse(name, &start, &end) ||
           !strncmp(name, "journal.cut", 11);
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
 * Open / free
 * --------------------------------------------------------------------- */

static int hd_reg_options(const herd_registry_options *in, herd_registry_options *o)
{
    return hd_options_read(&hd_registry_options_desc, in, o, "herd_registry_open");
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
    /* A failed close reports itself; the caller's last error stays. */
    hd_error_kept kept;
    hd_error_keep(&kept);
    hd_vfs_close(reg->journal);
    hd_vfs_close(reg->lockf);
    hd_packs_close(reg);
    hd_rstate_free(&reg->st);
    hd_predcache_free(reg->predictors);
    pthread_mutex_destroy(&reg->write_mu);
    pthread_mutex_destroy(&reg->pack_mu);
    pthread_rwlock_destroy(&reg->rw);
    free(reg->dir);
    free(reg->journal_path);
    free(reg->lock_path);
    free(reg->index_path);
    free(reg);
    hd_error_put_back(&kept);
}

hd_predcache *hd_registry_predictors(herd_registry *reg)
{
    return reg->predictors;
}

/* Opening the journal or the lock file for writing failed with an I/O
 * error.  When the journal can still be read (a read-only filesystem, a
 * directory the process may not write), say that read_only opens it. */
static int hd_open_for_writing_failed(herd_registry *reg)
{
    hd_saved_error e;
    hd_error_save(&e);
    hd_vfs_file *f = NULL;
    int readable = hd_vfs_open(reg->vfs, reg->journal_path, HD_VFS_READ, &f) == HERD_OK;
    if (f) hd_vfs_close(f);
    herd_clear_error();
    if (!readable) return hd_error_restore(&e);
    return hd_error(HERD_EIO, "registry %s cannot be opened for writing (%s); it can be read: "
                    "open it with herd_registry_options.read_only = 1 (a read-only "
                    "filesystem or a directory this process may not write)", reg->dir, e.msg);
}

/* The state's lock prefers writers: with glibc's default (readers first)
 * reader threads that keep the state read-locked on a shared handle hold
 * its commits off for as long as they keep reading (4 writer threads took
 * 44-65 s beside 8 readers instead of 1.1 s alone).  Readers never take it
 * twice on one thread, so the non-recursive kind is safe. */
static void hd_state_lock_init(pthread_rwlock_t *rw)
{
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__ /* other C libraries: their default */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(rw, &attr);
    pthread_rwlockattr_destroy(&attr);
}

/* Readers try the state's lock and yield while a writer holds it or waits
 * for it, and sleep on it only after HD_READ_TRIES tries.  A commit holds
 * it exclusively just to apply its record (microseconds).  A reader that
 * slept through that wakes with the scheduler's credit for sleeping, and
 * many such readers outcompete the committing thread for the CPU each time
 * its fdatasync returns: 8 reader threads on 2 cores cut a shared handle's
 * commits to a tenth (tests/bench/registry_bench, readers).  The bound
 * keeps a reader from spinning through a long catch-up or reload. */
#define HD_READ_TRIES 1000

/* Readers give way to a commit in flight on their handle even when the
 * state's lock is free: a commit sleeps 6-7 times (its write mutex, each
 * fdatasync's page, inode and cache-flush waits) and, on fewer cores than
 * busy reader threads, waited for a core after each wake-up until the
 * running reader's time slice ended (0.6 ms each on average, over a
 * third of a commit's time beside 8 readers on 2 cores; perf sched).  A
 * reader that finds a writer active yields once per HD_GIVE_WAY_NS, so a
 * woken writer waits at most about that long; readers pay one sched_yield
 * per interval, and nothing while no one commits.  50 us: 20-150 us gave
 * the same commit rate, 5-10 us cost the readers over half their reads. */
#define HD_GIVE_WAY_NS 50000

/* When this thread last gave way (hd_give_way): a scheduling hint only,
 * never part of any result. */
static _Thread_local int64_t hd_gave_way_at;

void hd_write_mu_lock(herd_registry *reg)
{
    atomic_fetch_add(&reg->writers, 1);
    pthread_mutex_lock(&reg->write_mu);
}

void hd_write_mu_unlock(herd_registry *reg)
{
    pthread_mutex_unlock(&reg->write_mu);
    atomic_fetch_sub(&reg->writers, 1);
}

static void hd_give_way(herd_registry *reg)
{
    if (!atomic_load_explicit(&reg->writers, memory_order_relaxed)) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (now - hd_gave_way_at < HD_GIVE_WAY_NS) return;
    hd_gave_way_at = now;
    sched_yield();
}

void hd_state_rdlock(herd_registry *reg)
{
    hd_give_way(reg);
    for (int i = 0; i < HD_READ_TRIES; i++) {
        if (!pthread_rwlock_tryrdlock(&reg->rw)) return;
        sched_yield();
    }
    pthread_rwlock_rdlock(&reg->rw);
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
    hd_state_lock_init(&reg->rw);
    reg->vfs = vfs;
    reg->opt = o;
    reg->checkpoint_every = HD_DEFAULT_CHECKPOINT;
    reg->cut_unsynced = 1; /* the first write makes the journal's end certain */
    reg->pack_target = HD_PACK_TARGET;
    reg->spill_bytes = HD_SPILL_BYTES;
    reg->stream_bytes = HD_STREAM_SPILL_BYTES;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--; /* "reg/" names "reg" */
    reg->dir = hd_strndup(path, len);
    if (reg->dir) {
        reg->journal_path = hd_join(reg->dir, "journal");
        reg->lock_path = hd_join(reg->dir, "lock");
        reg->index_path = hd_join(reg->dir, "index");
    }
    reg->predictors = hd_predcache_new(o.predict_cache_bytes);
    if (!reg->dir || !reg->journal_path || !reg->lock_path || !reg->index_path ||
        !reg->predictors)
        rc = HERD_ENOMEM;
    if (!rc) rc = hd_open_format(vfs, reg->dir, &o);
    if (!rc) rc = hd_vfs_open(vfs, reg->journal_path, o.read_only ? HD_VFS_READ : HD_VFS_RDWR,
                              &reg->journal);
    if (!rc && !o.read_only) rc = hd_vfs_open(vfs, reg->lock_path, HD_VFS_RDWR | HD_VFS_CREATE,
                                              &reg->lockf);
    if (rc == HERD_EIO && !o.read_only) rc = hd_open_for_writing_failed(reg);
    hd_tail tail = HD_TAIL_CLEAN;
    if (!rc) rc = hd_load_state(reg, &reg->st, &reg->jend, &tail);
    else memset(&reg->st, 0, sizeof reg->st);
    /* A crashed writer's torn tail is cut now if no one is committing;
     * otherwise the next commit cuts it (readers skip it either way). */
    if (!rc && tail == HD_TAIL_TORN && reg->lockf && !reg->damaged &&
        hd_vfs_lock(reg->lockf, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 0) == HERD_OK) {
        hd_tail again;
        rc = hd_catch_up_locked(reg, &again);
        if (!rc && again == HD_TAIL_TORN && reg->jend >= HD_JNL_HEADER) rc = hd_cut_tail(reg);
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

void hd_registry_set_stream_bytes(herd_registry *reg, uint64_t bytes)
{
    if (reg) reg->stream_bytes = bytes;
}

void hd_registry_set_pack_target(herd_registry *reg, uint64_t bytes)
{
    if (reg) reg->pack_target = bytes;
}

void hd_registry_set_checkpoint_every(herd_registry *reg, uint64_t versions)
{
    if (reg) reg->checkpoint_every = versions;
}

void hd_registry_set_index_tiers(herd_registry *reg, int on)
{
    if (reg) reg->whole_index = !on;
}

void hd_registry_set_record_chunk(herd_registry *reg, size_t bytes)
{
    if (reg) reg->record_chunk = bytes;
}

size_t hd_registry_record_peak(const herd_registry *reg)
{
    return reg ? reg->record_peak : 0;
}

size_t hd_registry_index_peak(const herd_registry *reg)
{
    return reg ? reg->index_peak : 0;
}

const char *herd_registry_path(const herd_registry *reg)
{
    return reg ? reg->dir : NULL; /* the last error stays as it is */
}

int herd_registry_refresh(herd_registry *reg)
{
    HD_CHECK_NOT_NULL(reg);
    return hd_registry_refresh_read(reg);
}
