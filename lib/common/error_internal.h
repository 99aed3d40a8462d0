/* error_internal.h -- the thread-local last error. */
#ifndef HERD_ERROR_INTERNAL_H
#define HERD_ERROR_INTERNAL_H

#include <stdarg.h>

#if defined(__GNUC__)
#  define HD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define HD_PRINTF(f, a)
#endif

/* Record `code` and a formatted message as the calling thread's last error
 * and return `code`, so that callers write `return hd_error(HERD_EINVAL, ...)`.
 * Messages longer than the buffer are truncated with "...". */
int hd_error(int code, const char *fmt, ...) HD_PRINTF(2, 3);
int hd_verror(int code, const char *fmt, va_list ap);

/* Record out-of-memory with a static message; returns HERD_ENOMEM. */
int hd_oom(void);

/* The current error, kept while cleanup that may raise another runs. */
typedef struct hd_saved_error {
    int code;
    char msg[1024];
} hd_saved_error;

void hd_error_save(hd_saved_error *s);
/* Raise the kept error again (HERD_EIO if none was kept); returns its code. */
int hd_error_restore(const hd_saved_error *s);

/* The calling thread's error exactly as it is (code, message, or none),
 * kept by every destructor across its cleanup: freeing a handle never
 * changes what herd_last_error() says, even when closing a file failed. */
typedef struct hd_error_kept {
    int code;
    enum { HD_KEPT_EMPTY, HD_KEPT_TEXT, HD_KEPT_OOM } kind;
    char text[1024];
} hd_error_kept;

void hd_error_keep(hd_error_kept *k);
void hd_error_put_back(const hd_error_kept *k);

/* Prefix the current last error with a formatted context ("file.csv: ")
 * and return its code. */
int hd_error_prefix(const char *fmt, ...) HD_PRINTF(1, 2);

/* Argument checks that name the argument and the function. */
#define HD_CHECK_ARG(cond, name)                                                   \
    do {                                                                           \
        if (!(cond))                                                               \
            return hd_error(HERD_EINVAL, "%s: argument '%s' is invalid (%s)",      \
                            __func__, name, #cond);                               \
    } while (0)

#define HD_CHECK_NOT_NULL(ptr)                                                     \
    do {                                                                           \
        if ((ptr) == NULL)                                                         \
            return hd_error(HERD_EINVAL, "%s: argument '%s' is NULL", __func__,   \
                            #ptr);                                                 \
    } while (0)

/* For accessors that return their value directly (a count, a name): a
 * NULL handle or an index out of range returns `none` (0 or NULL) and
 * leaves the last error alone, so that reading, say, the row count of a
 * result that a failed call left NULL never hides that call's message. */
#define HD_ACCESSOR_CHECK(cond, none)                                              \
    do {                                                                           \
        if (!(cond)) return none;                                                  \
    } while (0)

#endif
