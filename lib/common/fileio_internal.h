/* fileio_internal.h -- whole-file reads and atomic whole-file writes. */
#ifndef HERD_FILEIO_INTERNAL_H
#define HERD_FILEIO_INTERNAL_H

#include <stddef.h>

/* A file being written atomically: bytes go to a temporary file next to
 * `path` ("<path>.tmp.<pid>.<tid>"); commit fsyncs it, renames it over
 * `path` and fsyncs the directory; abort removes it.  Readers see the old
 * file or the new one, never a part.
 *
 * What `path` names decides (the rule of every public file writer, in
 * docs/api.md): nothing or a regular file is replaced as above; a FIFO or a
 * character device, directly or through a symbolic link (/dev/stdout,
 * /dev/null), is opened and written through, with no rename and no
 * atomicity (a FIFO without a reader is an error, not a wait); anything
 * else -- a directory, a block device, a socket, a symbolic link to a
 * regular file, a directory or nothing -- is refused with HERD_EINVAL
 * naming what the path is, and left as it was.  I/O errors are HERD_EIO
 * naming the path, the step and the system's reason; `what` names the
 * content in messages ("CSV file", "artifact"). */
typedef struct hd_atomic_file hd_atomic_file;

int hd_atomic_open(const char *path, const char *what, hd_atomic_file **out);
/* Write all `len` bytes (short writes and EINTR are retried). */
int hd_atomic_write(hd_atomic_file *f, const void *data, size_t len);
/* Make the file durable under its name; frees `f` whatever happens. */
int hd_atomic_commit(hd_atomic_file *f);
/* Give up: remove the temporary file and free `f`.  NULL is allowed. */
void hd_atomic_abort(hd_atomic_file *f);

/* Write `len` bytes to `path` as hd_atomic_open .. hd_atomic_commit do:
 * atomically for a regular file (a failure leaves any previous file
 * intact), through for a FIFO or character device, refused otherwise. */
int hd_file_write_atomic(const char *path, const void *data, size_t len, const char *what);

/* Read the whole regular file at `path` (a symbolic link to one is
 * followed) into a new buffer (*data, freed with free(); never NULL on
 * success, even for an empty file).  Anything else -- a directory, a
 * device such as /dev/zero, a FIFO, a socket -- is HERD_EINVAL before a
 * byte is read (and a FIFO is opened without waiting for a writer).  A
 * file larger than `max` bytes is HERD_ELIMIT, found before reading it.
 * Errors name the path. */
int hd_file_read_all(const char *path, size_t max, const char *what, void **data, size_t *len);

#endif
