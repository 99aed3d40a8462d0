/* vfs_internal.h -- the replaceable file-I/O layer (as SQLite's VFS).
 *
 * Every file operation of the registry goes through an hd_vfs, so that a
 * test can swap the real POSIX layer for hd_vfs_sim (tests/support/
 * vfs_sim.h, compiled into the tests, not into the library): an in-memory
 * filesystem that keeps only what was fsynced across a simulated power loss
 * and fails the N-th call of chosen kinds with EIO or ENOSPC.
 *
 * Conventions, for every operation of every layer:
 *   - returns HERD_OK or a herd error whose message names the path, the
 *     operation and the system's reason (strerror);
 *   - errno mapping: ENOENT -> HERD_ENOTFOUND, EEXIST -> HERD_EEXISTS,
 *     ENOTDIR -> HERD_EFORMAT, ENOMEM -> HERD_ENOMEM, ENOSPC -> HERD_EIO with "no space left" in the
 *     message, a conflicting lock (EAGAIN/EACCES) -> HERD_EBUSY, anything
 *     else (EIO included) -> HERD_EIO;
 *   - short reads/writes and EINTR are handled inside: a write writes
 *     everything or fails, a read fills the buffer or stops at end of file;
 *   - a failed fsync is reported and never retried: after a failed fsync
 *     the data may be lost even if a later fsync succeeds.
 * Paths are passed through unchanged (absolute or relative to the current
 * directory for the POSIX layer; the sim treats both as rooted at its own
 * root and rejects "..").
 */
#ifndef HERD_VFS_INTERNAL_H
#define HERD_VFS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct hd_vfs hd_vfs;

/* An open file.  Each layer allocates a larger struct that starts with this
 * one; callers only read `path` (for their own messages). */
typedef struct hd_vfs_file {
    const hd_vfs *vfs; /* the layer that opened it: the wrappers dispatch on it */
    const char *path;  /* the path it was opened with, owned by the layer */
} hd_vfs_file;

/* Open flags.  Exactly one of READ or RDWR. */
enum {
    HD_VFS_READ = 1u << 0,   /* read only */
    HD_VFS_RDWR = 1u << 1,   /* read and write */
    HD_VFS_CREATE = 1u << 2, /* create if missing (mode 0666 & ~umask) */
    HD_VFS_EXCL = 1u << 3,   /* with CREATE: HERD_EEXISTS if it exists */
    HD_VFS_APPEND = 1u << 4, /* hd_vfs_write always writes at the end */
    HD_VFS_TRUNC = 1u << 5   /* truncate to 0 bytes on open */
};

/* Lock kinds for hd_vfs_lock. */
enum {
    HD_VFS_UNLOCK = 0,
    HD_VFS_LOCK_SHARED = 1,   /* F_RDLCK */
    HD_VFS_LOCK_EXCLUSIVE = 2 /* F_WRLCK */
};

/* Called once per directory entry ("." and ".." excluded, order
 * unspecified); a non-zero return stops the listing and is returned. */
typedef int (*hd_vfs_list_fn)(void *ctx, const char *name);

struct hd_vfs {
    void *user; /* the layer's own state (the sim keeps itself here) */

    int (*open)(const hd_vfs *vfs, const char *path, unsigned flags, hd_vfs_file **out);
    /* Always releases the file, even when it reports an error. */
    int (*close)(hd_vfs_file *f);
    /* Read up to len bytes at off; *got < len only at end of file. */
    int (*pread)(hd_vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got);
    int (*pwrite)(hd_vfs_file *f, const void *buf, size_t len, uint64_t off);
    /* Sequential read / write at the file position (write: at the end with
     * HD_VFS_APPEND). */
    int (*read)(hd_vfs_file *f, void *buf, size_t len, size_t *got);
    int (*write)(hd_vfs_file *f, const void *buf, size_t len);
    int (*fsync)(hd_vfs_file *f);
    int (*fdatasync)(hd_vfs_file *f);
    int (*truncate)(hd_vfs_file *f, uint64_t size);
    int (*size)(hd_vfs_file *f, uint64_t *size);
    /* Open-file-description lock on [off, off + len) (len 0: to the end of
     * the file, growing with it).  Held by this hd_vfs_file, not by the
     * process: closing another descriptor of the same file does not drop it.
     * wait = 0: HERD_EBUSY on conflict; wait = 1: block until granted.
     * Note: OFD locks never conflict with other locks of the same
     * hd_vfs_file; a process needs a mutex besides for its threads. */
    int (*lock)(hd_vfs_file *f, int kind, uint64_t off, uint64_t len, int wait);

    int (*rename)(const hd_vfs *vfs, const char *from, const char *to);
    int (*unlink)(const hd_vfs *vfs, const char *path);
    int (*mkdir)(const hd_vfs *vfs, const char *path);
    /* fsync a directory, so that the entries created, renamed or removed in
     * it survive a power loss. */
    int (*sync_dir)(const hd_vfs *vfs, const char *path);
    int (*list_dir)(const hd_vfs *vfs, const char *path, hd_vfs_list_fn fn, void *ctx);
    /* Map the first `len` bytes (> 0, at most the file's size) read-only.
     * The mapping outlives the file handle and stays valid, with the same
     * bytes, until unmap: callers map only files that are never changed in
     * place (they are replaced by rename). */
    int (*map)(hd_vfs_file *f, uint64_t len, const void **out);
    /* Start writing [off, off + len) to the disk without waiting (a hint:
     * it makes nothing durable, so a later fsync is still needed, and it
     * then has less left to do).  Never fails. */
    void (*writeback)(hd_vfs_file *f, uint64_t off, uint64_t len);
    void (*unmap)(const hd_vfs *vfs, const void *p, uint64_t len);
};

/* The real layer: open(2), pread(2), fcntl(F_OFD_SETLK)...  Stateless. */
const hd_vfs *hd_vfs_posix(void);

/* Call wrappers, so that callers write hd_vfs_pwrite(f, ...). */
static inline int hd_vfs_open(const hd_vfs *v, const char *path, unsigned flags,
                              hd_vfs_file **out)
{
    return v->open(v, path, flags, out);
}
static inline int hd_vfs_close(hd_vfs_file *f) { return f ? f->vfs->close(f) : 0; }
static inline int hd_vfs_pread(hd_vfs_file *f, void *buf, size_t len, uint64_t off,
                               size_t *got)
{
    return f->vfs->pread(f, buf, len, off, got);
}
static inline int hd_vfs_pwrite(hd_vfs_file *f, const void *buf, size_t len, uint64_t off)
{
    return f->vfs->pwrite(f, buf, len, off);
}
static inline int hd_vfs_read(hd_vfs_file *f, void *buf, size_t len, size_t *got)
{
    return f->vfs->read(f, buf, len, got);
}
static inline int hd_vfs_write(hd_vfs_file *f, const void *buf, size_t len)
{
    return f->vfs->write(f, buf, len);
}
/* Syncs (fsync, fdatasync, directory syncs) this thread asked for, for the
 * commit's log record: the number that makes a commit slow. */
extern _Thread_local uint64_t hd_vfs_syncs;

static inline int hd_vfs_fsync(hd_vfs_file *f)
{
    hd_vfs_syncs++;
    return f->vfs->fsync(f);
}
static inline int hd_vfs_fdatasync(hd_vfs_file *f)
{
    hd_vfs_syncs++;
    return f->vfs->fdatasync(f);
}
static inline int hd_vfs_truncate(hd_vfs_file *f, uint64_t size)
{
    return f->vfs->truncate(f, size);
}
static inline int hd_vfs_size(hd_vfs_file *f, uint64_t *size) { return f->vfs->size(f, size); }
static inline int hd_vfs_lock(hd_vfs_file *f, int kind, uint64_t off, uint64_t len, int wait)
{
    return f->vfs->lock(f, kind, off, len, wait);
}
static inline int hd_vfs_rename(const hd_vfs *v, const char *from, const char *to)
{
    return v->rename(v, from, to);
}
static inline int hd_vfs_unlink(const hd_vfs *v, const char *path)
{
    return v->unlink(v, path);
}
static inline int hd_vfs_mkdir(const hd_vfs *v, const char *path) { return v->mkdir(v, path); }
static inline int hd_vfs_sync_dir(const hd_vfs *v, const char *path)
{
    hd_vfs_syncs++;
    return v->sync_dir(v, path);
}
static inline int hd_vfs_map(hd_vfs_file *f, uint64_t len, const void **out)
{
    return f->vfs->map(f, len, out);
}
static inline void hd_vfs_writeback(hd_vfs_file *f, uint64_t off, uint64_t len)
{
    f->vfs->writeback(f, off, len);
}
static inline void hd_vfs_unmap(const hd_vfs *v, const void *p, uint64_t len)
{
    if (p) v->unmap(v, p, len);
}
static inline int hd_vfs_list_dir(const hd_vfs *v, const char *path, hd_vfs_list_fn fn,
                                  void *ctx)
{
    return v->list_dir(v, path, fn, ctx);
}

/* ---- For other layers ---------------------------------------------------
 * Another layer (the simulated filesystem of the tests, tests/support)
 * reports errors through the same three functions as the POSIX one, so
 * that the messages and the errno mapping are the same whichever layer a
 * test runs on. */

/* Record the herd error for errno `err` from operation `op` on `path`
 * (the mapping above); returns it. */
int hd_vfs_fail(int err, const char *op, const char *path);
/* A failed lock: EAGAIN / EACCES are HERD_EBUSY, the rest as hd_vfs_fail. */
int hd_vfs_lock_fail(int err, const char *path);
/* HERD_EINVAL unless `flags` has exactly one of READ / RDWR and no unknown
 * bit. */
int hd_vfs_check_flags(unsigned flags, const char *path);

/* Replace `path` (in directory `dir`) durably with the concatenation of
 * parts[0..n): written to `tmp`, fsynced, renamed over `path`, and the
 * directory fsynced.  On failure `tmp` is removed and `path` is as it was
 * (the old file or none). */
int hd_vfs_replace(const hd_vfs *vfs, const char *dir, const char *tmp, const char *path,
                   const void *const *parts, const size_t *lens, size_t n);
/* The same with the bytes written by fill(f, ctx) into the open `tmp`
 * (created empty): for a file too large to hold whole.  A fill error
 * fails the replacement as a write error would. */
int hd_vfs_replace_with(const hd_vfs *vfs, const char *dir, const char *tmp, const char *path,
                        int (*fill)(hd_vfs_file *f, void *ctx), void *ctx);

#endif
