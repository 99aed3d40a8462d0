/* vfs.c -- the file-I/O layer: the POSIX one.
 *
 * Layers work in errno values internally and convert them to herd errors
 * in one place (hd_vfs_fail), so that the messages and the mapping are the
 * same whichever layer a test runs on (the simulated one of the tests,
 * tests/support/vfs_sim.c, reports through the same functions). */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* F_OFD_SETLK */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/vfs_internal.h"

_Thread_local uint64_t hd_vfs_syncs;

/* ---- Errors ---------------------------------------------------------- */

/* Record the herd error for errno `err` from operation `op` on `path`. */
int hd_vfs_fail(int err, const char *op, const char *path)
{
    const char *why = strerror(err);
    switch (err) {
    case ENOSPC:
        return hd_error(HERD_EIO, "%s: %s failed: no space left on the device (%s)", path,
                        op, why);
    case ENOENT:
        return hd_error(HERD_ENOTFOUND, "%s: %s failed: %s", path, op, why);
    case EEXIST:
        return hd_error(HERD_EEXISTS, "%s: %s failed: %s", path, op, why);
    case ENOTDIR: /* a file where a directory was expected: the wrong kind of path */
        return hd_error(HERD_EFORMAT, "%s: %s failed: %s", path, op, why);
    case ENOMEM:
        return hd_error(HERD_ENOMEM, "%s: %s failed: %s", path, op, why);
    default:
        return hd_error(HERD_EIO, "%s: %s failed: %s", path, op, why);
    }
}

/* A lock conflict is not an I/O failure: the caller may retry or wait. */
int hd_vfs_lock_fail(int err, const char *path)
{
    if (err == EAGAIN || err == EACCES)
        return hd_error(HERD_EBUSY, "%s: lock failed: the range is locked by another open "
                                    "file (%s)", path, strerror(err));
    return hd_vfs_fail(err, "lock", path);
}

int hd_vfs_check_flags(unsigned flags, const char *path)
{
    unsigned mode = flags & (HD_VFS_READ | HD_VFS_RDWR);
    unsigned known = HD_VFS_READ | HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_EXCL |
                     HD_VFS_APPEND | HD_VFS_TRUNC;
    if ((mode != HD_VFS_READ && mode != HD_VFS_RDWR) || (flags & ~known))
        return hd_error(HERD_EINVAL, "%s: open: invalid flags 0x%x", path, flags);
    return HERD_OK;
}

/* ---- POSIX layer ----------------------------------------------------- */

typedef struct px_file {
    hd_vfs_file base;
    int fd;
} px_file;

static px_file *px(hd_vfs_file *f) { return (px_file *)f; }

static int px_open(const hd_vfs *vfs, const char *path, unsigned flags, hd_vfs_file **out)
{
    *out = NULL;
    int rc = hd_vfs_check_flags(flags, path);
    if (rc) return rc;
    int oflags = O_CLOEXEC | ((flags & HD_VFS_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & HD_VFS_CREATE) oflags |= O_CREAT;
    if (flags & HD_VFS_EXCL) oflags |= O_EXCL;
    if (flags & HD_VFS_APPEND) oflags |= O_APPEND;
    if (flags & HD_VFS_TRUNC) oflags |= O_TRUNC;
    px_file *f = hd_calloc(1, sizeof *f);
    char *copy = f ? hd_strdup(path) : NULL;
    if (!copy) {
        free(f);
        return HERD_ENOMEM;
    }
    int fd;
    do fd = open(path, oflags, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rc = hd_vfs_fail(errno, "open", path);
        free(copy);
        free(f);
        return rc;
    }
    f->base.vfs = vfs;
    f->base.path = copy;
    f->fd = fd;
    *out = &f->base;
    return HERD_OK;
}

static int px_close(hd_vfs_file *f)
{
    /* close is never retried: Linux releases the descriptor even on EINTR,
     * and a retry could close a descriptor another thread just got. */
    int rc = close(px(f)->fd) ? hd_vfs_fail(errno, "close", f->path) : HERD_OK;
    free((char *)f->path);
    free(f);
    return rc;
}

static int px_offset(uint64_t off, size_t len, const char *op, const char *path)
{
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return hd_error(HERD_EINVAL, "%s: %s: offset %llu is out of range", path, op,
                        (unsigned long long)off);
    return HERD_OK;
}

static int px_pread(hd_vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got)
{
    *got = 0;
    int rc = px_offset(off, len, "read", f->path);
    if (rc) return rc;
    unsigned char *p = buf;
    while (*got < len) {
        ssize_t n = pread(px(f)->fd, p + *got, len - *got, (off_t)(off + *got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hd_vfs_fail(errno, "read", f->path);
        if (n == 0) break; /* end of file */
        *got += (size_t)n;
    }
    return HERD_OK;
}

static int px_pwrite(hd_vfs_file *f, const void *buf, size_t len, uint64_t off)
{
    int rc = px_offset(off, len, "write", f->path);
    if (rc) return rc;
    const unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(px(f)->fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hd_vfs_fail(errno, "write", f->path);
        if (n == 0) return hd_vfs_fail(EIO, "write", f->path); /* would loop forever */
        done += (size_t)n;
    }
    return HERD_OK;
}

static int px_read(hd_vfs_file *f, void *buf, size_t len, size_t *got)
{
    *got = 0;
    unsigned char *p = buf;
    while (*got < len) {
        ssize_t n = read(px(f)->fd, p + *got, len - *got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hd_vfs_fail(errno, "read", f->path);
        if (n == 0) break;
        *got += (size_t)n;
    }
    return HERD_OK;
}

static int px_write(hd_vfs_file *f, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(px(f)->fd, p + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hd_vfs_fail(errno, "write", f->path);
        if (n == 0) return hd_vfs_fail(EIO, "write", f->path);
        done += (size_t)n;
    }
    return HERD_OK;
}

/* EINTR means the call was interrupted before it reported on writeback, so
 * it is repeated; any other failure is final (see the header). */
static int px_fsync(hd_vfs_file *f)
{
    int r;
    do r = fsync(px(f)->fd);
    while (r && errno == EINTR);
    return r ? hd_vfs_fail(errno, "fsync", f->path) : HERD_OK;
}

static int px_fdatasync(hd_vfs_file *f)
{
    int r;
    do r = fdatasync(px(f)->fd);
    while (r && errno == EINTR);
    return r ? hd_vfs_fail(errno, "fdatasync", f->path) : HERD_OK;
}

static int px_truncate(hd_vfs_file *f, uint64_t size)
{
    int rc = px_offset(size, 0, "truncate", f->path);
    if (rc) return rc;
    int r;
    do r = ftruncate(px(f)->fd, (off_t)size);
    while (r && errno == EINTR);
    return r ? hd_vfs_fail(errno, "truncate", f->path) : HERD_OK;
}

static int px_size(hd_vfs_file *f, uint64_t *size)
{
    struct stat st;
    if (fstat(px(f)->fd, &st)) return hd_vfs_fail(errno, "stat", f->path);
    *size = (uint64_t)st.st_size;
    return HERD_OK;
}

static int px_lock(hd_vfs_file *f, int kind, uint64_t off, uint64_t len, int wait)
{
    int rc = px_offset(off, (size_t)0, "lock", f->path);
    if (!rc && len > (uint64_t)INT64_MAX - off)
        rc = hd_error(HERD_EINVAL, "%s: lock: length is out of range", f->path);
    if (rc) return rc;
    struct flock fl;
    memset(&fl, 0, sizeof fl); /* l_pid must be 0 for OFD locks */
    fl.l_type = kind == HD_VFS_LOCK_SHARED ? F_RDLCK
              : kind == HD_VFS_LOCK_EXCLUSIVE ? F_WRLCK : F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)off;
    fl.l_len = (off_t)len;
    int r;
    do r = fcntl(px(f)->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    while (r && errno == EINTR);
    return r ? hd_vfs_lock_fail(errno, f->path) : HERD_OK;
}

static int px_rename(const hd_vfs *vfs, const char *from, const char *to)
{
    (void)vfs;
    if (rename(from, to)) {
        int err = errno;
        return hd_error(err == ENOENT ? HERD_ENOTFOUND : HERD_EIO,
                        "%s: rename to '%s' failed: %s%s", from, to, strerror(err),
                        err == ENOSPC ? " (no space left)" : "");
    }
    return HERD_OK;
}

static int px_unlink(const hd_vfs *vfs, const char *path)
{
    (void)vfs;
    return unlink(path) ? hd_vfs_fail(errno, "unlink", path) : HERD_OK;
}

static int px_mkdir(const hd_vfs *vfs, const char *path)
{
    (void)vfs;
    return mkdir(path, 0777) ? hd_vfs_fail(errno, "mkdir", path) : HERD_OK;
}

static int px_sync_dir(const hd_vfs *vfs, const char *path)
{
    (void)vfs;
    int fd;
    do fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return hd_vfs_fail(errno, "open directory", path);
    int r;
    do r = fsync(fd);
    while (r && errno == EINTR);
    int rc = r ? hd_vfs_fail(errno, "fsync directory", path) : HERD_OK;
    close(fd);
    return rc;
}

static int px_list_dir(const hd_vfs *vfs, const char *path, hd_vfs_list_fn fn, void *ctx)
{
    (void)vfs;
    DIR *d = opendir(path);
    if (!d) return hd_vfs_fail(errno, "open directory", path);
    int rc = HERD_OK;
    for (;;) {
        errno = 0; /* readdir reports errors only through errno */
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) rc = hd_vfs_fail(errno, "read directory", path);
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        rc = fn(ctx, e->d_name);
        if (rc) break;
    }
    closedir(d);
    return rc;
}

static int px_map(hd_vfs_file *f, uint64_t len, const void **out)
{
    *out = NULL;
    if (!len || len > (uint64_t)SIZE_MAX)
        return hd_error(HERD_EINVAL, "%s: map: length %llu is out of range", f->path,
                        (unsigned long long)len);
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, px(f)->fd, 0);
    if (p == MAP_FAILED) return hd_vfs_fail(errno, "mmap", f->path);
    *out = p;
    return HERD_OK;
}

static void px_unmap(const hd_vfs *vfs, const void *p, uint64_t len)
{
    (void)vfs;
    munmap((void *)p, (size_t)len);
}

static void px_writeback(hd_vfs_file *f, uint64_t off, uint64_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(px(f)->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
#else
    (void)f;
    (void)off;
    (void)len;
#endif
}

static const hd_vfs px_vfs = {
    .user = NULL,
    .open = px_open,
    .close = px_close,
    .pread = px_pread,
    .pwrite = px_pwrite,
    .read = px_read,
    .write = px_write,
    .fsync = px_fsync,
    .fdatasync = px_fdatasync,
    .truncate = px_truncate,
    .size = px_size,
    .lock = px_lock,
    .rename = px_rename,
    .unlink = px_unlink,
    .mkdir = px_mkdir,
    .sync_dir = px_sync_dir,
    .list_dir = px_list_dir,
    .map = px_map,
    .unmap = px_unmap,
    .writeback = px_writeback,
};

const hd_vfs *hd_vfs_posix(void) { return &px_vfs; }

int hd_vfs_replace_with(const hd_vfs *vfs, const char *dir, const char *tmp, const char *path,
                        int (*fill)(hd_vfs_file *f, void *ctx), void *ctx)
{
    hd_vfs_file *f;
    int rc = hd_vfs_open(vfs, tmp, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_TRUNC, &f);
    if (rc) return rc;
    rc = fill(f, ctx);
    if (!rc) rc = hd_vfs_fsync(f);
    int crc = hd_vfs_close(f);
    if (!rc) rc = crc;
    if (!rc) rc = hd_vfs_rename(vfs, tmp, path);
    if (!rc) return hd_vfs_sync_dir(vfs, dir);
    hd_saved_error e;
    hd_error_save(&e);
    (void)hd_vfs_unlink(vfs, tmp);
    return hd_error_restore(&e);
}

typedef struct vfs_parts {
    const void *const *parts;
    const size_t *lens;
    size_t n;
} vfs_parts;

static int vfs_write_parts(hd_vfs_file *f, void *ctx)
{
    const vfs_parts *p = ctx;
    uint64_t off = 0;
    int rc = HERD_OK;
    for (size_t i = 0; i < p->n && !rc; i++) {
        rc = hd_vfs_pwrite(f, p->parts[i], p->lens[i], off);
        off += p->lens[i];
    }
    return rc;
}

int hd_vfs_replace(const hd_vfs *vfs, const char *dir, const char *tmp, const char *path,
                   const void *const *parts, const size_t *lens, size_t n)
{
    vfs_parts p = {parts, lens, n};
    return hd_vfs_replace_with(vfs, dir, tmp, path, vfs_write_parts, &p);
}
