/* fileio_internal.h -- whole-file reads and atomic whole-file writes. */
#ifndef HERD_FILEIO_INTERNAL_H
#define HERD_FILEIO_INTERNAL_H

#include <stddef.h>

/* Write `len` bytes to `path` atomically: a temporary file next to it
 * ("<path>.tmp.<pid>.<tid>"), fsync, rename over `path`, fsync of the
 * directory.  Readers see the old file or the new one, never a part; a
 * failure removes the temporary file and leaves any previous file intact.
 * Errors are HERD_EIO naming the path, the step and the system's reason;
 * `what` names the content in messages ("artifact"). */
int hd_file_write_atomic(const char *path, const void *data, size_t len, const char *what);

/* Read the whole file at `path` (a regular file, a pipe, a device...) into
 * a new buffer (*data, freed with free(); never NULL on success, even for
 * an empty file).  A file larger than `max` bytes is HERD_ELIMIT, found
 * before reading it when the file has a size.  Errors name the path. */
int hd_file_read_all(const char *path, size_t max, const char *what, void **data, size_t *len);

#endif
