/* fileio.c -- whole-file reads and atomic whole-file writes.
 *
 * The atomic write is the classic sequence: write a temporary file in the
 * target's directory (rename is atomic only within one filesystem), fsync
 * it (so the data is on disk before the name points at it), rename it over
 * the target, and fsync the directory (so the rename itself survives a
 * power loss).  A failed fsync is reported, never retried: after a failed
 * fsync Linux may already have dropped the dirty pages. */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* gettid */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/fileio_internal.h"
#include "common/mem_internal.h"

static int hd_write_error(const char *path, const char *what, const char *step, int err)
{
    return hd_error(HERD_EIO,
                    "%s: cannot write the %s: %s: %s; check that the directory exists, is "
                    "writable and has free space",
                    path, what, step, strerror(err));
}

/* "<path>.tmp.<pid>.<tid>": unique among the writers of this machine. */
static char *hd_temp_name(const char *path)
{
    size_t n = strlen(path) + 64;
    char *tmp = hd_malloc(n, 1);
    if (tmp) snprintf(tmp, n, "%s.tmp.%ld.%ld", path, (long)getpid(), (long)gettid());
    return tmp;
}

static int hd_create_temp(const char *tmp)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) {
        /* Left by a crashed writer that had our pid and thread id. */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    return fd;
}

/* write() until everything is written; 0, or the errno of the failure. */
static int hd_write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        p += n; /* a short write: write the rest */
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding `path`, so that the rename is durable. */
static int hd_sync_dir(const char *path, const char *what)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? hd_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : hd_strdup(".");
    if (!dir) return HERD_ENOMEM;
    int rc = HERD_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd)) rc = hd_write_error(path, what, "cannot sync its directory", errno);
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

/* A file being written: either a temporary file renamed over `path` at
 * commit (tmp set), or `path` itself opened for writing through (tmp NULL:
 * a FIFO or a character device, which has no contents to replace). */
struct hd_atomic_file {
    int fd;
    char *path, *tmp;
    const char *what;
};

/* How a writer treats what `path` names now. */
typedef enum hd_target {
    HD_TARGET_REPLACE, /* nothing, or a regular file: write a new file, rename */
    HD_TARGET_THROUGH  /* a FIFO or character device (perhaps via a link): write to it */
} hd_target;

static int hd_refuse(const char *path, const char *what, const char *is)
{
    return hd_error(HERD_EINVAL,
                    "%s: cannot write the %s there: the path is %s; herd writes a new regular "
                    "file (replacing a regular file atomically) or writes through a FIFO or "
                    "character device, and replaces nothing else; give another path",
                    path, what, is);
}

/* Decide how to write `path` from what it names.  Only the last component
 * matters: links among the directories above it are followed as usual. */
static int hd_target_of(const char *path, const char *what, hd_target *out)
{
    struct stat st;
    if (lstat(path, &st)) {
        if (errno == ENOENT) { /* a new file (a missing directory fails later) */
            *out = HD_TARGET_REPLACE;
            return HERD_OK;
        }
        return hd_write_error(path, what, "cannot inspect the path", errno);
    }
    if (S_ISREG(st.st_mode)) {
        *out = HD_TARGET_REPLACE;
        return HERD_OK;
    }
    if (S_ISLNK(st.st_mode)) {
        /* Renaming over a link would destroy the link, and replacing the
         * file it points to would let anyone able to plant a link in a
         * shared directory (/tmp) aim the write, as root too, at any file:
         * refuse both.  A link to a stream (/dev/stdout) is written through. */
        if (stat(path, &st)) return hd_refuse(path, what, "a symbolic link to nothing");
        if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
            *out = HD_TARGET_THROUGH;
            return HERD_OK;
        }
        return hd_refuse(path, what,
                         S_ISREG(st.st_mode)
                             ? "a symbolic link to a regular file (links are not followed "
                               "nor replaced: write to the file it points to)"
                         : S_ISDIR(st.st_mode) ? "a symbolic link to a directory"
                                               : "a symbolic link to a special file");
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        *out = HD_TARGET_THROUGH;
        return HERD_OK;
    }
    return hd_refuse(path, what,
                     S_ISDIR(st.st_mode)   ? "a directory"
                     : S_ISBLK(st.st_mode) ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file");
}

/* Open a FIFO or character device for writing through.  A FIFO nobody
 * reads is an error, not a wait that may never end. */
static int hd_open_through(const char *path, const char *what, int *fd_out)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENXIO)
            return hd_error(HERD_EIO, "%s: cannot write the %s: it is a FIFO that no process "
                            "has open for reading; start the reader first", path, what);
        return hd_write_error(path, what, "cannot open it", errno);
    }
    struct stat st;
    int rc = HERD_OK;
    if (fstat(fd, &st)) {
        rc = hd_write_error(path, what, "cannot stat it", errno);
    } else if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
        /* Replaced by something else since it was inspected. */
        rc = hd_refuse(path, what, "no longer a FIFO or character device");
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
            rc = hd_write_error(path, what, "cannot make it blocking", errno);
    }
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return HERD_OK;
}

static void hd_atomic_release(hd_atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

int hd_atomic_open(const char *path, const char *what, hd_atomic_file **out)
{
    *out = NULL;
    hd_atomic_file *f = hd_calloc(1, sizeof *f);
    if (!f) return HERD_ENOMEM;
    f->fd = -1;
    f->what = what;
    hd_target target = HD_TARGET_REPLACE;
    int rc = hd_target_of(path, what, &target);
    if (rc) {
        hd_atomic_release(f);
        return rc;
    }
    f->path = hd_strdup(path);
    if (f->path && target == HD_TARGET_THROUGH) {
        rc = hd_open_through(path, what, &f->fd);
        if (rc) {
            hd_atomic_release(f);
            return rc;
        }
        *out = f;
        return HERD_OK;
    }
    f->tmp = f->path ? hd_temp_name(path) : NULL;
    if (!f->tmp) {
        hd_atomic_release(f);
        return HERD_ENOMEM;
    }
    f->fd = hd_create_temp(f->tmp);
    if (f->fd < 0) {
        rc = hd_write_error(path, what, "cannot create the temporary file", errno);
        hd_atomic_release(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

int hd_atomic_write(hd_atomic_file *f, const void *data, size_t len)
{
    int err = hd_write_all(f->fd, data, len);
    return err ? hd_write_error(f->path, f->what, "write failed", err) : HERD_OK;
}

void hd_atomic_abort(hd_atomic_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp); /* written through: what was written stays */
    hd_atomic_release(f);
}

/* A stream has nothing to sync or rename: closing it is the end. */
static int hd_through_commit(hd_atomic_file *f)
{
    int rc = close(f->fd) ? hd_write_error(f->path, f->what, "close failed", errno) : HERD_OK;
    f->fd = -1;
    hd_atomic_release(f);
    return rc;
}

int hd_atomic_commit(hd_atomic_file *f)
{
    if (!f->tmp) return hd_through_commit(f);
    int rc = HERD_OK;
    if (fsync(f->fd)) rc = hd_write_error(f->path, f->what, "fsync failed", errno);
    if (close(f->fd) && !rc) rc = hd_write_error(f->path, f->what, "close failed", errno);
    f->fd = -1;
    if (!rc && rename(f->tmp, f->path))
        rc = hd_write_error(f->path, f->what, "cannot rename the temporary file", errno);
    if (rc) {
        hd_atomic_abort(f);
        return rc;
    }
    rc = hd_sync_dir(f->path, f->what);
    hd_atomic_release(f);
    return rc;
}

int hd_file_write_atomic(const char *path, const void *data, size_t len, const char *what)
{
    hd_atomic_file *f = NULL;
    int rc = hd_atomic_open(path, what, &f);
    if (rc) return rc;
    rc = hd_atomic_write(f, data, len);
    if (rc) {
        hd_atomic_abort(f);
        return rc;
    }
    return hd_atomic_commit(f);
}

static int hd_read_error(const char *path, const char *what, const char *step, int err)
{
    return hd_error(HERD_EIO, "%s: cannot read the %s: %s: %s", path, what, step,
                    strerror(err));
}

static int hd_too_big(const char *path, const char *what, size_t max)
{
    return hd_error(HERD_ELIMIT, "%s: the %s is larger than the limit of %zu bytes", path,
                    what, max);
}

/* Read fd to its end into a buffer that starts at `cap` bytes and grows up
 * to max + 1 bytes; more than `max` bytes is HERD_ELIMIT. */
static int hd_read_fd(int fd, const char *path, const char *what, size_t max, size_t cap,
                      unsigned char **out, size_t *len)
{
    unsigned char *buf = hd_malloc(cap, 1);
    size_t n = 0;
    if (!buf) return HERD_ENOMEM;
    for (;;) {
        if (n == cap) {
            if (n > max) break; /* one byte past the limit is enough to know */
            size_t want = cap > (max + 1) / 2 ? max + 1 : 2 * cap;
            unsigned char *bigger = hd_realloc(buf, want, 1);
            if (!bigger) {
                free(buf);
                return HERD_ENOMEM;
            }
            buf = bigger;
            cap = want;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int err = errno;
            free(buf);
            return hd_read_error(path, what, "read failed", err);
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    if (n > max) {
        free(buf);
        return hd_too_big(path, what, max);
    }
    *out = buf;
    *len = n;
    return HERD_OK;
}

/* What a path that is not a regular file is, for messages. */
static const char *hd_file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

int hd_file_read_all(const char *path, size_t max, const char *what, void **data, size_t *len)
{
    /* O_NONBLOCK: opening a FIFO without a writer would wait forever; the
     * file is refused below unless it is regular, where the flag does
     * nothing. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return hd_read_error(path, what, "cannot open it", errno);
    struct stat st;
    int rc = HERD_OK;
    if (fstat(fd, &st)) {
        rc = hd_read_error(path, what, "cannot stat it", errno);
    } else if (!S_ISREG(st.st_mode)) {
        /* Refused before a byte is read: /dev/zero never ends, a FIFO may
         * never be written, and neither has a size to check first. */
        rc = hd_error(HERD_EINVAL,
                      "%s: cannot read the %s: it is %s; a %s is read from a regular file "
                      "(or read the bytes yourself and pass them as a buffer)",
                      path, what, hd_file_kind(st.st_mode), what);
    } else if ((uint64_t)st.st_size > (uint64_t)max) {
        rc = hd_too_big(path, what, max); /* known before reading a byte */
    } else {
        /* One buffer of the file's size plus the byte that shows it ended
         * (it may grow meanwhile: then the cap is checked while reading). */
        size_t cap = (size_t)st.st_size + 1;
        if (cap > max + 1) cap = max + 1;
        unsigned char *buf = NULL;
        rc = hd_read_fd(fd, path, what, max, cap, &buf, len);
        if (!rc) *data = buf;
    }
    close(fd);
    return rc;
}
