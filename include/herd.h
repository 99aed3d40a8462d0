/*
 * herd.h -- the one public header of libherd.
 *
 * herd trains one XGBoost model per group of a dataset, in parallel, and
 * keeps every model in an embedded, crash-safe registry.  This header is the
 * whole API: nothing under lib/ is public.
 *
 * ABI PROMISE
 * -----------
 * Until 1.0.0 (soname libherd.so.0) the ABI may still change between minor
 * releases; every change is listed in CHANGELOG.md.  From 1.0.0 on:
 *   - a function, once exported, keeps its name, signature and meaning; a
 *     changed signature gets a new name ending in _v2, the old one stays;
 *   - herd_status codes are never renumbered; new codes may be added, so
 *     callers must treat any negative value as an error;
 *   - handles are opaque; the only public struct layouts are options structs
 *     (versioned, see OPTIONS STRUCTS) and callback info structs (which
 *     start with `uint32_t struct_size`); both only ever grow at the end, so
 *     a caller built against an older header keeps working;
 *   - the soname changes only on an ABI break, which abidiff guards.
 *
 * CONVENTIONS (docs/api.md has the long form)
 * -------------------------------------------
 *   - Constructors return int and write the new handle through their last
 *     argument (`herd_x_new(..., herd_x **out)`); on failure *out is NULL.
 *     Destructors `herd_x_free(x)` accept NULL and never fail.
 *   - Every fallible function returns HERD_OK (0) or a negative herd_status.
 *     herd_last_error() then says, in words a user can act on, what failed
 *     and why (the argument, file, line, column, group, limit).
 *   - Names: herd_<object>_<what>; counts are *_count() getters and n_<noun>
 *     arguments and fields; the handle comes first, options after the
 *     inputs, outputs last; a callback is followed by its `user` (docs/api.md,
 *     "Names").
 *   - Getters of values that may be absent return HERD_MISSING (2, not an
 *     error) with NaN, 0 or NULL in *out; see "Missing values and accessors"
 *     in docs/api.md.
 *   - Options structs are filled by herd_x_options_init(&opt,
 *     HERD_X_OPTIONS_VERSION) before use; a NULL options pointer means "all
 *     defaults".
 *   - Strings crossing the API are NUL-terminated UTF-8.  Memory returned by
 *     the library is owned by the handle it came from unless stated.
 *   - The library never writes to stdout or stderr; see herd_log_set().
 *   - Thread safety is stated per handle.  Functions that take no handle are
 *     safe to call from any thread.
 *
 * OPTIONS STRUCTS
 * ---------------
 * Every options struct (herd_fit_options, herd_csv_options...) starts with
 * `uint32_t version`, and each has a version macro and an init function:
 *
 *     herd_fit_options fit;
 *     herd_fit_options_init(&fit, HERD_FIT_OPTIONS_VERSION);
 *     fit.label = "sales";
 *
 * The macro is the version of the struct in the header the caller compiles
 * against; a struct only ever grows at its end, and a field added in a new
 * release raises its version (every field of 0.2.0 is version 1).  The library knows, for every struct, which fields each version
 * has (one table: name, type, default, bounds, doc), so:
 *   - init writes the defaults of exactly the fields of the version passed,
 *     never a byte past them: a program built against an older, shorter
 *     struct keeps its neighbouring memory;
 *   - every function reads a caller's struct field by field, only the fields
 *     of the caller's version, with the defaults for newer ones, and checks
 *     every value against its bounds (HERD_EINVAL naming the field, the
 *     value and the bounds);
 *   - a version the library does not know (0: never initialised; garbage;
 *     or a newer header than the library loaded) is refused with HERD_EINVAL
 *     naming the struct and the init call to make, by init (which then
 *     writes nothing) and by every function.  init(NULL, ...) is HERD_EINVAL.
 *
 * Callback info structs the library fills for the caller (herd_progress,
 * herd_group_task, herd_log_record) are the other way round: they start
 * with `uint32_t struct_size`, which the library sets to the size it
 * filled; a callback reads a field only when struct_size covers it
 * (offsetof + size).
 *
 * Bindings need not mirror any struct: herd_options_new() builds the
 * options of an operation by name from the same table; see "Options by
 * name" at the end of this header.
 */
#ifndef HERD_H
#define HERD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Export macro and version
 * --------------------------------------------------------------------- */

/* HERD_API marks exported functions.  Define it yourself (e.g. empty, when
 * compiling herd's sources into your program) to override. */
#ifndef HERD_API
#  if defined(_WIN32)
#    define HERD_API __declspec(dllimport)
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define HERD_API __attribute__((visibility("default")))
#  else
#    define HERD_API
#  endif
#endif

#define HERD_VERSION_MAJOR 0
#define HERD_VERSION_MINOR 2
#define HERD_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH: 0.2.0 is 200. */
#define HERD_VERSION_NUMBER \
    (HERD_VERSION_MAJOR * 10000 + HERD_VERSION_MINOR * 100 + HERD_VERSION_PATCH)
#define HERD_VERSION_STRING "0.2.0"

/* The version of the library actually loaded, as HERD_VERSION_NUMBER.  A
 * binding built for version V works with a library L when they have the same
 * major and L's minor is not older than V's. */
HERD_API unsigned herd_version(void);

/* The loaded library's version as a string, e.g. "0.2.0".  Never NULL. */
HERD_API const char *herd_version_string(void);

/* ------------------------------------------------------------------------
 * Status codes and errors
 * --------------------------------------------------------------------- */

/* Return codes.  Never renumbered; new codes may be added at the end, so
 * treat every negative value as an error.  A code that is removed (because
 * nothing returns it) leaves its number retired: it is never given to
 * another code.  Retired: -13 (HERD_ECALLBACK, removed in 0.2: no function
 * returned it).
 *
 * Positive values are outcomes, not errors, and never touch
 * herd_last_error(): HERD_SKIP (1, below) from a group callback, and
 * HERD_MISSING from a getter whose value is absent (docs/api.md, "Missing
 * values"). */
typedef enum herd_status {
    HERD_OK = 0,
    HERD_MISSING = 2,     /* a getter found no value: a missing cell, a field
                             or metric not recorded; *out holds NaN, 0 or
                             NULL.  Not an error */
    HERD_EINVAL = -1,     /* an argument is invalid (NULL, out of range...) */
    HERD_ENOMEM = -2,     /* out of memory */
    HERD_EIO = -3,        /* an operating-system I/O call failed */
    HERD_EFORMAT = -4,    /* malformed input: CSV, artifact, JSON... */
    HERD_ENOTFOUND = -5,  /* no such column, group, file, version... */
    HERD_EEXISTS = -6,    /* already exists (duplicate column name...) */
    HERD_ETYPE = -7,      /* a value or column has the wrong type */
    HERD_ELIMIT = -8,     /* a documented size limit was exceeded (bytes,
                             fields, features, nesting...) */
    HERD_EXGBOOST = -9,   /* XGBoost reported an error */
    HERD_ECANCELED = -10, /* the caller cancelled the operation */
    HERD_ECORRUPT = -11,  /* a checksum or structure check failed */
    HERD_EBUSY = -12,     /* a lock is held by someone else */
    /* -13: retired */
    HERD_EBUDGET = -14,   /* the error budget (max_failed) was exceeded */
    HERD_EINTERNAL = -15, /* a bug in herd: please report it */
    HERD_ECONFLICT = -16, /* the registry changed under a conditional
                             update (an alias no longer at the expected
                             version); nothing was committed */
    HERD_EREFUSED = -17   /* a safety rule refused the operation (the
                             promotion cap); nothing was changed; the
                             message names the rule and how to override */
} herd_status;

/* A short constant name for a status code ("HERD_EINVAL", "HERD_MISSING"),
 * or "HERD_UNKNOWN" for a code this version does not know (and for retired
 * codes).  Never NULL. */
HERD_API const char *herd_status_str(int status);

/* The message of the last error raised on the calling thread: what failed
 * and why.  Thread-local; never NULL (an empty string when no error was
 * raised since the thread started or herd_clear_error()).  The pointer stays
 * valid until the next herd call on this thread.  Always valid UTF-8: bytes
 * of the input that are not (a path, a CSV field) appear as \xNN, and a
 * message cut at 1023 bytes ends between characters with "...". */
HERD_API const char *herd_last_error(void);

/* The status code that went with herd_last_error() (HERD_OK if none). */
HERD_API int herd_last_error_code(void);

/* Forget the calling thread's last error. */
HERD_API void herd_clear_error(void);

/* ------------------------------------------------------------------------
 * Logging
 * --------------------------------------------------------------------- */

typedef enum herd_log_level {
    HERD_LOG_ERROR = 0,
    HERD_LOG_WARN = 1,
    HERD_LOG_INFO = 2,
    HERD_LOG_DEBUG = 3
} herd_log_level;

/* One log record.  Starts with struct_size; may grow at the end (read a
 * field only when struct_size covers it).  Every pointer is valid only
 * during the callback: copy what you keep. */
typedef struct herd_log_record {
    uint32_t struct_size;
    int level;            /* herd_log_level */
    const char *message;  /* UTF-8, no trailing newline; never NULL */
    /* Where herd's work was when it logged: "fit", "register", "compare",
     * "promote", "commit", "csv", "predict"...; NULL outside any phase. */
    const char *phase;
    const char *group;    /* the group the record is about, or NULL */
    const char *family;   /* the model family, or NULL */
    const char *run_id;   /* the run, or NULL */
    /* Seconds since the herd call that produced the record started (the
     * outermost one: herd_cycle's, not herd_fit's inside it). */
    double elapsed_s;
    /* "herd", or "xgboost" for XGBoost's own messages (whose text also
     * starts with "XGBoost: "). */
    const char *source;
} herd_log_record;

/* Receives one record.  CALLED ON THE THREAD THAT CALLED INTO HERD, never
 * on a herd worker: records raised by workers are queued and delivered by
 * the calling thread while it coordinates them, as progress is (at most
 * HERD_LOG_QUEUE_MAX records wait between two deliveries; more are dropped
 * and counted, and the next delivery starts with a HERD_LOG_WARN record
 * saying how many).  Several host threads calling herd at once each get
 * their own records, so the callback may run on several of them at once.
 * It must return normally: no longjmp (R's R_CheckUserInterrupt), no C++
 * or foreign exception across it.  It may call herd functions, except
 * herd_log_set (refused with HERD_EBUSY) and except freeing or changing
 * the handles of the call that is logging; records raised by herd calls
 * made inside the callback are not delivered (no recursion). */
typedef void (*herd_log_fn)(const herd_log_record *record, void *user);

/* Records that worker threads may queue between two deliveries. */
#define HERD_LOG_QUEUE_MAX 4096

/* Send the records of level <= max_level (HERD_LOG_ERROR..HERD_LOG_DEBUG)
 * to `fn` with `user`.  `fn` NULL (the default) discards every record, and
 * max_level is then ignored.  This is the library's one piece of
 * process-wide state; any thread may call it.
 *
 * When herd_log_set returns, the previous callback is never called again
 * and its `user` may be freed: the call waits for deliveries already in
 * progress on other threads to return.  It is therefore refused
 * (HERD_EBUSY) from inside a log callback, and must not be called while
 * holding a lock a running log callback waits for.  Records still queued
 * by workers go to the new callback.  HERD_EINVAL for a max_level out of
 * range. */
HERD_API int herd_log_set(herd_log_fn fn, void *user, int max_level);

/* The level's name: "error", "warn", "info", "debug", or "unknown". */
HERD_API const char *herd_log_level_name(int level);

/* ------------------------------------------------------------------------
 * Threads
 * --------------------------------------------------------------------- */

/* The number of CPUs this process may use: its CPU affinity mask, capped by
 * the cgroup CPU quota (cgroup v2 cpu.max or v1 cfs_quota_us), at least 1.
 * This is the default worker count of every parallel function. */
HERD_API int herd_default_threads(void);

/* ------------------------------------------------------------------------
 * Progress of long operations
 * --------------------------------------------------------------------- */

/* What a progress callback is told.  The library sets struct_size to the
 * size it filled; the struct may grow, so read a field only when
 * struct_size >= offsetof(herd_progress, field) + sizeof field.
 * One struct serves every long operation: herd_apply, herd_fit,
 * herd_predict, herd_compare, herd_cycle, herd_registry_predict, CSV reads
 * and batch commits.  A call is a sequence of phases (herd_cycle's "split",
 * "fit", "fit_family" with fallback, "register", "compare", "promote");
 * phase_index only moves forward, from 1 to phase_total, and within one
 * phase the done counts only grow.  Counts that do not apply are 0. */
typedef struct herd_progress {
    uint32_t struct_size;
    size_t groups_total;   /* a commit counts its versions here */
    size_t groups_done;    /* finished, whatever their status */
    size_t groups_failed;  /* as the result frame's "failed" rows */
    size_t groups_skipped; /* as the result frame's "skipped" rows */
    size_t rows_total;     /* 0 while unknown (a CSV read) */
    size_t rows_done;
    double elapsed_s;      /* since the call (herd_cycle, not its herd_fit) began */
    /* Since 0.2.0. */
    const char *phase;     /* never NULL: "apply", "fit", "predict", "compare",
                              "promote", "register", "commit", "csv"... */
    int phase_index;       /* 1..phase_total */
    int phase_total;
    uint64_t bytes_total;  /* CSV reads and commits: the bytes to go through */
    uint64_t bytes_done;
} herd_progress;

/* Called on the thread that called herd_apply (or herd_fit...), never on a
 * worker: about every progress_interval_s, at the start of each phase of a
 * multi-phase call and once at the end of each phase.  Return nonzero to
 * cancel (where the operation says it can be cancelled).  It must return
 * normally: no longjmp (R's R_CheckUserInterrupt: poll for interrupts
 * between calls instead and return nonzero), no exception across it.  It
 * may call any herd function except on the handles the running call uses
 * (frames and groups it reads may be read), and it may call herd_log_set. */
typedef int (*herd_progress_fn)(const herd_progress *progress, void *user);

/* ------------------------------------------------------------------------
 * Frames: columnar tables in and out of the library
 *
 * A frame holds named columns of equal length.  Each column is either
 * borrowed (zero-copy: the caller's memory must stay valid and unchanged
 * while the frame, and anything built from it, lives) or copied.  A borrowed
 * column may have a byte stride, so one column of a row-major matrix needs
 * no copy.  Integer and string columns may carry a validity mask; a float
 * column's missing values are NaN.
 *
 * Tables the library returns (reports, decisions, histories, searches) are
 * frames too, read with the accessors below.  Their columns, in order, with
 * their types and the values of their status columns are part of the API,
 * defined in one place: docs/results.md (a test checks the library against
 * it).
 *
 * Thread safety: a frame may be read from many threads at once; adding
 * columns must not race with anything else on the same frame.
 * --------------------------------------------------------------------- */

typedef struct herd_frame herd_frame;

typedef enum herd_type {
    HERD_TYPE_FLOAT32 = 1,
    HERD_TYPE_FLOAT64 = 2,
    HERD_TYPE_INT32 = 3,
    HERD_TYPE_INT64 = 4,
    HERD_TYPE_STRING = 5 /* data is an array of `const char *` (UTF-8) */
} herd_type;

/* The type's name ("float32", "float64", "int32", "int64", "string"), or
 * "unknown".  Never NULL. */
HERD_API const char *herd_type_name(int type);

/* Limits, checked by every function that creates a column. */
#define HERD_NAME_MAX 255 /* bytes in a column name */

/* Column flags (herd_column_options.flags). */
#define HERD_COLUMN_BORROW 0x1u       /* keep the caller's memory, no copy */
#define HERD_COLUMN_MASK_MISSING 0x2u /* mask bytes are 1 for missing (as
                                         pandas' masked arrays), not valid */

#define HERD_COLUMN_OPTIONS_VERSION 1

typedef struct herd_column_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    uint32_t flags;       /* HERD_COLUMN_* bits; default 0: copy */
    /* Distance in bytes between consecutive values; 0 means contiguous
     * (the size of one value). Must be a multiple of the value's alignment. */
    size_t stride;
    /* Optional validity mask, one byte per row (contiguous): nonzero means
     * the value is present (or missing, with HERD_COLUMN_MASK_MISSING).
     * Allowed on int32, int64 and string columns.  Borrowed with the column
     * when HERD_COLUMN_BORROW is set, copied otherwise. */
    const uint8_t *mask;
} herd_column_options;

/* Fill `opt` with the defaults (copy, contiguous, no mask) of `version`
 * (pass HERD_COLUMN_OPTIONS_VERSION).  Every _init returns HERD_OK, or
 * HERD_EINVAL for NULL or a version this library does not know. */
HERD_API int herd_column_options_init(herd_column_options *opt, unsigned int version);

/* A new frame with no columns and no rows. */
HERD_API int herd_frame_new(herd_frame **out);

/* Free a frame and the columns it owns.  NULL is allowed. */
HERD_API void herd_frame_free(herd_frame *frame);

/* Add a column of `n_rows` values of `type` read from `data`.
 *
 * The name must be valid UTF-8, 1..HERD_NAME_MAX bytes, without control
 * characters, and unique in the frame.  Every column of a frame has the
 * same number of rows: the first column sets it.  String columns take an
 * array of `const char *`; a NULL pointer is a missing value, every other
 * string must be valid UTF-8 (checked, copied or borrowed alike).
 * `data` may be NULL only when n_rows is 0.
 *
 * Errors: HERD_EINVAL (bad argument, names which), HERD_EEXISTS (duplicate
 * name), HERD_EFORMAT (invalid UTF-8, with the row), HERD_ENOMEM. */
HERD_API int herd_frame_add_column(herd_frame *frame, const char *name, int type,
                                   const void *data, size_t n_rows,
                                   const herd_column_options *opt);

/* Number of rows (0 for a frame without columns).  The accessors that
 * return their value directly return 0 or NULL for a NULL handle or an
 * index out of range, leaving the last error as it was (docs/api.md,
 * "Missing values and accessors"). */
HERD_API size_t herd_frame_row_count(const herd_frame *frame);

/* Number of columns. */
HERD_API size_t herd_frame_column_count(const herd_frame *frame);

/* Index of the column called `name`.  HERD_ENOTFOUND if there is none (the
 * message lists the frame's columns). */
HERD_API int herd_frame_find(const herd_frame *frame, const char *name, size_t *index);

/* Name of column `col`, or NULL when `col` is out of range. */
HERD_API const char *herd_frame_column_name(const herd_frame *frame, size_t col);

/* Type of column `col` (a herd_type), or 0 when `col` is out of range. */
HERD_API int herd_frame_column_type(const herd_frame *frame, size_t col);

/* Raw access for zero-copy readers (bindings): the first value's address,
 * the stride in bytes and the validity mask (one byte per row, nonzero =
 * present, contiguous; NULL when every value is present).  For string
 * columns the values are `const char *` (NULL for missing).  The pointers
 * stay valid while the frame lives. */
HERD_API int herd_frame_column_data(const herd_frame *frame, size_t col, const void **data,
                                    size_t *stride, const uint8_t **mask);

/* 1 if the value at (row, col) is present, 0 if missing (NaN floats count as
 * missing), and 0 when row or col is out of range. */
HERD_API int herd_frame_is_present(const herd_frame *frame, size_t col, size_t row);

/* Getters of single values.  Every one returns HERD_OK with the value, or
 * HERD_MISSING (not an error; herd_last_error() untouched) with the type's
 * placeholder in *out -- NaN, 0, NULL -- for a missing value; HERD_ETYPE
 * for a column of another type; HERD_EINVAL when out of range.
 *
 * The value at (row, col) as a double: any numeric column (int64 values
 * beyond 2^53 are rounded).  A NaN float is a missing value. */
HERD_API int herd_frame_get_double(const herd_frame *frame, size_t col, size_t row,
                                   double *out);

/* The value at (row, col) of an int32 or int64 column. */
HERD_API int herd_frame_get_int64(const herd_frame *frame, size_t col, size_t row,
                                  int64_t *out);

/* The value at (row, col) of a string column.  The string lives as long as
 * the frame. */
HERD_API int herd_frame_get_string(const herd_frame *frame, size_t col, size_t row,
                                   const char **out);

/* A new frame of rows rows[0..n_rows) of `frame`, in that order (a row may
 * be listed more than once; n_rows 0 gives the columns and no rows): every
 * column with its name, type and validity mask, values copied, string
 * values included, so the new frame owns all of its memory and does not
 * depend on `frame` or on memory `frame` borrows.  HERD_EINVAL names an
 * index out of range (nothing is built). */
HERD_API int herd_frame_take(const herd_frame *frame, const size_t *rows, size_t n_rows,
                             herd_frame **out);

/* The rows of `frame` whose byte in `mask` is nonzero, in frame order,
 * copied as by herd_frame_take.  `mask` has one byte per row: n_rows must
 * equal herd_frame_row_count(frame) (HERD_EINVAL otherwise). */
HERD_API int herd_frame_filter(const herd_frame *frame, const uint8_t *mask, size_t n_rows,
                               herd_frame **out);

/* ------------------------------------------------------------------------
 * CSV
 * --------------------------------------------------------------------- */

#define HERD_CSV_OPTIONS_VERSION 1

/* herd_csv_options.spaces: what becomes of ASCII spaces (0x20) around a
 * field's value when reading (tabs and other white space are always data). */
typedef enum herd_csv_spaces {
    /* Ignored around numbers (" 2 " is the integer 2, as spreadsheets and
     * fixed-width exports write it), kept in strings (" a" stays " a"). */
    HERD_CSV_SPACES_NUMBERS = 0,
    /* Kept everywhere: " 2" is the text " 2", which makes an inferred
     * column a string column and is an error in a numeric one. */
    HERD_CSV_SPACES_KEEP = 1,
    /* Removed from every field, quoted or not, before it is read: a field
     * of spaces is then empty (missing; "" when quoted). */
    HERD_CSV_SPACES_TRIM = 2
} herd_csv_spaces;

typedef struct herd_csv_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    char delimiter;   /* default ',' */
    /* Reading: force the type of the named columns instead of inferring it.
     * `type_names[i]` gets `types[i]`; a name that is not in the header is
     * an error.  Inference picks int64 when every non-empty field of the
     * column is an integer, float64 when every one is a number (nan, inf
     * accepted), string otherwise; a column whose fields are all empty is
     * float64. */
    const char *const *type_names;
    const int *types;
    size_t n_types;
    /* Writing: digits for floating-point values; 0 (default) writes the
     * shortest text that reads back to the same value. */
    int float_digits;
    /* Writing: terminate lines with CRLF instead of LF. */
    int crlf;
    /* Reading: progress, on the calling thread (herd_progress_fn's rules).
     * A read makes two passes, the phases "csv_scan" (rows counted, types
     * inferred) and "csv_convert", each reported at its start, about every
     * 0.25 s and at its end: bytes_done of bytes_total (the file's or the
     * buffer's size), rows_done (and rows_total once the scan has counted
     * them).  Nonzero cancels the read: HERD_ECANCELED, no frame. */
    herd_progress_fn progress;
    void *progress_user;
    /* Reading: spaces around fields, a herd_csv_spaces (default
     * HERD_CSV_SPACES_NUMBERS). */
    int spaces;
    /* Reading: numbers that do not fit their column's type.  0 (default):
     * each is an error naming its line and column (HERD_EFORMAT): a
     * decimal beyond float64's (or a float32 column's) largest value
     * ("1e400"), a nonzero one that would round to zero ("1e-400"), and an
     * integer beyond int64 ("9223372036854775808") in a column whose type
     * is inferred.  1: convert them as strtod does: +-inf, +-0, and such an
     * integer makes its column float64, rounding to 53 bits.  An integer
     * beyond int64 in a column forced to float64 or float32 is rounded in
     * either case (the caller chose a float type), and one in a column
     * forced to int32 or int64 is always an error. */
    int convert_out_of_range;
    /* Reading: threads that tokenize, check and convert parts of the input
     * at once; 0 (default): herd_default_threads(); 1: the calling thread
     * alone.  The frame, and the error of a bad input (its line, column
     * and message), are the same whatever the number; string columns may
     * hold a repeated value once per thread instead of once.  Inputs of
     * less than 512 KiB are read by the calling thread. */
    int threads;
} herd_csv_options;

/* Fill `opt` with the defaults; pass HERD_CSV_OPTIONS_VERSION. */
HERD_API int herd_csv_options_init(herd_csv_options *opt, unsigned int version);

/* Read a CSV file into a new frame that owns its columns.
 *
 * The first row is the header (column names, unique and non-empty).  Fields
 * follow RFC 4180: quoted with '"', a doubled quote inside quotes is one
 * quote, quoted fields may hold delimiters and newlines.  Lines end with LF
 * or CRLF; a UTF-8 byte-order mark at the start is skipped; the last line
 * may lack its newline; blank lines are skipped.  An empty unquoted field is
 * a missing value (NaN in float columns); a quoted empty field "" is an
 * empty string in a string column and missing elsewhere.  Every row must
 * have the header's number of fields.  Text must be valid UTF-8.  Spaces
 * around fields and numbers out of their type's range follow opt->spaces
 * and opt->convert_out_of_range.
 *
 * Errors (each names the file, line and column): HERD_EIO, HERD_EFORMAT
 * (unterminated quote, ragged row, invalid UTF-8, a field that is not of
 * its forced type, a number out of range), HERD_ENOTFOUND (a forced column that is not in the
 * header), HERD_ELIMIT, HERD_ENOMEM. */
HERD_API int herd_frame_read_csv(const char *path, const herd_csv_options *opt,
                                 herd_frame **out);

/* The same, from `len` bytes in memory; `name` is used in messages. */
HERD_API int herd_frame_read_csv_buffer(const char *data, size_t len, const char *name,
                                        const herd_csv_options *opt, herd_frame **out);

/* Write a frame as CSV (header row, then one line per row).  Fields that
 * hold the delimiter, a quote, CR or LF, or leading/trailing spaces are
 * quoted; missing values are empty fields; an empty string is written as
 * "".
 *
 * Like every file writer of herd (docs/api.md, "Writing files"): a new
 * path or a regular file is written to a temporary name and renamed into
 * place, so a failed write leaves any previous file intact; a FIFO or a
 * character device, named directly or by a symbolic link (/dev/stdout), is
 * written through, without rename or atomicity (a FIFO no process reads is
 * HERD_EIO at once); anything else -- a directory, a block device, a
 * socket, a symbolic link to a regular file, a directory or nothing -- is
 * refused with HERD_EINVAL saying what the path is, and left unchanged. */
HERD_API int herd_frame_write_csv(const herd_frame *frame, const char *path,
                                  const herd_csv_options *opt);

/* ------------------------------------------------------------------------
 * Groups: rows partitioned by key columns
 *
 * Groups borrow their frame: the frame must outlive them.  A group's key is
 * a string: the value of a single key column as written (integers in
 * decimal), or, for several key columns, the values joined by '|' with
 * every '|' and '\' inside a value escaped by a '\' ("DE|Berlin",
 * "a\|b|7").  Groups are ordered by key value (integers numerically,
 * strings bytewise, column by column); rows keep their frame order inside
 * a group.  Rows with a missing key value belong to no group and are
 * counted (herd_groups_missing_count).
 *
 * Thread safety: groups are immutable once built; any number of threads
 * may read them.
 * --------------------------------------------------------------------- */

typedef struct herd_groups herd_groups;

/* Partition the rows of `frame` by the `n_keys` columns named in `keys`
 * (int32, int64 or string), in O(rows).  HERD_ENOTFOUND for an unknown
 * column, HERD_ETYPE for a float key column, HERD_EINVAL for no keys or a
 * key named twice. */
HERD_API int herd_groups_new(const herd_frame *frame, const char *const *keys, size_t n_keys,
                             herd_groups **out);

/* Free the groups.  NULL is allowed. */
HERD_API void herd_groups_free(herd_groups *groups);

/* Number of groups. */
HERD_API size_t herd_groups_count(const herd_groups *groups);

/* Number of rows that belong to no group because a key value is missing. */
HERD_API size_t herd_groups_missing_count(const herd_groups *groups);

/* The frame the groups were built from. */
HERD_API const herd_frame *herd_groups_frame(const herd_groups *groups);

/* The key of group `i`, or NULL when i is out of range.  Lives as long as
 * the groups. */
HERD_API const char *herd_groups_key(const herd_groups *groups, size_t i);

/* The number of rows of group `i` (0 when out of range). */
HERD_API size_t herd_groups_row_count(const herd_groups *groups, size_t i);

/* The frame row indices of group `i`, ascending, and their count. */
HERD_API int herd_groups_rows(const herd_groups *groups, size_t i, const size_t **rows,
                              size_t *n_rows);

/* The index of the group whose key is `key`; HERD_ENOTFOUND if none. */
HERD_API int herd_groups_find(const herd_groups *groups, const char *key, size_t *index);

/* A summary table: one row per group with columns "group" (string), "rows"
 * (int64), "first_row" (int64). */
HERD_API int herd_groups_summary(const herd_groups *groups, herd_frame **out);

/* ------------------------------------------------------------------------
 * Grouped apply: one task per group on a pool of threads
 *
 * The calling thread coordinates: it starts `threads` workers, reports
 * progress, watches the cancel flag and the error budget, and returns when
 * every started task has finished.  Progress callbacks run on the calling
 * thread only; group callbacks run on workers.  Groups are scheduled
 * largest first.  A group whose rows are a large share of all rows (at
 * least `parallel_group_rows` rows and more than 1/threads of the total)
 * gets several CPU threads (task->n_threads) and holds that many of the
 * pool's CPU slots while it runs, so one huge group neither runs alone on
 * one core at the end nor oversubscribes the machine.
 * --------------------------------------------------------------------- */

/* What a group callback is told.  The library sets struct_size to the size
 * it filled; the struct may grow, so read a field only when struct_size >=
 * offsetof(herd_group_task, field) + sizeof field. */
typedef struct herd_group_task {
    uint32_t struct_size;
    size_t index;             /* the group's index in its herd_groups */
    const char *key;          /* the group's key */
    const herd_frame *frame;  /* the whole frame (read-only) */
    const size_t *rows;       /* the group's frame rows, ascending */
    size_t n_rows;            /* the length of rows */
    int worker;               /* 0 .. threads-1: for per-worker scratch */
    int n_threads;            /* CPU threads this task may use */
} herd_group_task;

/* A group callback returns HERD_OK, HERD_SKIP (the group is unusable; set
 * the reason with herd_error_set(HERD_SKIP, "...")), or a negative code
 * after herd_error_set(code, "message"): that group fails with the message
 * and the others go on.  It runs on herd's worker threads, several at once:
 * it may call herd functions that are thread-safe for the handles it uses,
 * but not herd_apply recursively.  It must return normally: no longjmp, no
 * exception across it.  Log records it causes reach the log callback on
 * the thread that called herd_apply. */
typedef int (*herd_group_fn)(const herd_group_task *task, void *user);

/* A group callback's "skip this group" (not an error). */
#define HERD_SKIP 1

/* Set the calling thread's last error (as herd_last_error() will return
 * it) and return `code`.  For callbacks written in C or in a binding, so
 * that the failure message they report reaches the report.  NULL message
 * is allowed (empty). */
HERD_API int herd_error_set(int code, const char *message);

#define HERD_APPLY_OPTIONS_VERSION 1

typedef struct herd_apply_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    int threads;                 /* workers; 0 (default): herd_default_threads() */
    /* Stop starting new groups once more than max_failed groups failed;
     * -1 (default): no limit. */
    int64_t max_failed;
    /* Optional cancel flag, read atomically: nonzero stops the job.  Tasks
     * already running finish; the others are reported "not_run".  Set it
     * from any thread with an atomic store (C11 atomic_store or
     * __atomic_store_n; an aligned int store from ctypes is one). */
    const int *cancel;
    herd_progress_fn progress;   /* optional */
    void *progress_user;
    double progress_interval_s;  /* default 0.25 */
    /* Groups with at least this many rows may get several CPU threads (see
     * above); default 50000.  SIZE_MAX: one thread per group always. */
    size_t parallel_group_rows;
} herd_apply_options;

/* Fill `opt` with the defaults; pass HERD_APPLY_OPTIONS_VERSION. */
HERD_API int herd_apply_options_init(herd_apply_options *opt, unsigned int version);

/* Run `fn` once per group of `groups`.  *report (may be NULL if not
 * wanted) receives a frame with one row per group, in group order:
 * "group" (string), "rows" (int64), "status" ("ok", "failed", "skipped" or
 * "not_run"), "message" (string, missing when none), "seconds" (float64),
 * "threads" (int64).
 *
 * Returns HERD_OK when every group ran (some may have failed: see the
 * report), HERD_ECANCELED when cancelled, HERD_EBUDGET when more than
 * max_failed groups failed; in those two cases *report is still filled.
 * Other errors (bad arguments, no memory) happen before any callback runs
 * and leave *report NULL.  Thread safety: `groups` and its frame are only
 * read; several herd_apply calls may run at once on the same groups. */
HERD_API int herd_apply(const herd_groups *groups, herd_group_fn fn, void *user,
                        const herd_apply_options *opt, herd_frame **report);

/* ------------------------------------------------------------------------
 * Models: one XGBoost booster, saved as bytes
 *
 * A herd_model holds a serialised XGBoost 1.7 model (UBJSON) with its
 * feature names and types.  It is immutable: any number of threads may use
 * one model at once.  herd_model_predict builds a booster on the calling
 * thread and frees it before returning (XGBoost keeps per-thread buffers
 * that only the creating thread may release), so models never leak thread
 * state; to predict many times, prepare a herd_predictor (below) once.  On
 * a thread that is not herd's, XGBoost is silent during the call and the
 * thread's XGBoost configuration and log callback are left as they were.
 * --------------------------------------------------------------------- */

typedef struct herd_model herd_model;

typedef enum herd_model_format {
    HERD_MODEL_UBJSON = 1, /* XGBoost's binary JSON (.ubj) */
    HERD_MODEL_JSON = 2    /* XGBoost's JSON (.json) */
} herd_model_format;

/* Load a model from XGBoost JSON or UBJSON bytes (the format is detected
 * as XGBoost detects it).  The bytes may come from an untrusted source: herd
 * parses them itself and validates the model's structure (docs/format.md
 * section 9) before XGBoost sees them; a malformed model is HERD_ECORRUPT
 * naming the tree, node and field, bytes that are not a model HERD_EFORMAT.
 * The model must name its features (every herd-trained model does), with
 * unique valid names and XGBoost feature types; a model without feature
 * names (or with two features of one name) is HERD_EFORMAT: load it with
 * herd_model_load_with_features. */
HERD_API int herd_model_load(const void *data, size_t len, herd_model **out);

/* Load a model and give its features names and types, e.g. one trained in
 * python-xgboost from a numpy array, which names none.  names[i] and
 * types[i] (n_features entries each; types NULL: all "float") describe the
 * model's feature i, in the model's order: they are bound to frame columns
 * by name at predict, and written into the model (and so into its
 * artifacts).  Names follow the column-name rules (1..HERD_NAME_MAX bytes
 * of UTF-8 without control characters) and are unique; types are
 * "float", "int", "i", "q" or "c" (HERD_EINVAL otherwise, naming the
 * entry).  n_features must be the model's feature count (HERD_EFORMAT).  A
 * model that already names its features, or their types, must be given
 * the same (HERD_EFORMAT naming both lists): this renames nothing.  The
 * bytes are validated as herd_model_load validates them. */
HERD_API int herd_model_load_with_features(const void *data, size_t len,
                                           const char *const *names, const char *const *types,
                                           size_t n_features, herd_model **out);

/* Free a model.  NULL is allowed. */
HERD_API void herd_model_free(herd_model *model);

/* Serialise `model` as `format`; *data is allocated by the library and
 * freed with herd_free(). */
HERD_API int herd_model_save(const herd_model *model, int format, void **data, size_t *len);

/* Free memory the library returned (herd_model_save...).  NULL is allowed. */
HERD_API void herd_free(void *p);

/* Number of features, and feature i's name and XGBoost type ("float",
 * "int").  NULL when i is out of range. */
HERD_API size_t herd_model_feature_count(const herd_model *model);
HERD_API const char *herd_model_feature_name(const herd_model *model, size_t i);
HERD_API const char *herd_model_feature_type(const herd_model *model, size_t i);

/* The model's objective ("reg:squarederror"...).  Never NULL for a model. */
HERD_API const char *herd_model_objective(const herd_model *model);

/* Predictions per row: 1, or num_class for multi:softprob. */
HERD_API size_t herd_model_output_count(const herd_model *model);

/* Predict `n_rows` rows of `frame` (`rows` lists frame rows; NULL means all
 * rows, in order).  Features are looked up by name: a missing column is
 * HERD_ENOTFOUND, a column whose type does not match the model's feature
 * type (a string column, or a float column for an "int" feature) is
 * HERD_ETYPE.  `out` receives n_rows * herd_model_output_count() values,
 * row-major; `out_len` is its capacity in values.  `n_threads` 0 means 1. */
HERD_API int herd_model_predict(const herd_model *model, const herd_frame *frame,
                                const size_t *rows, size_t n_rows, int n_threads, double *out,
                                size_t out_len);

/* ------------------------------------------------------------------------
 * Prepared predictors: a model loaded once, for serving
 *
 * herd_model_predict loads an XGBoost booster for every call (milliseconds
 * for a large model).  A predictor loads it once and keeps it, with the
 * model's features, until herd_predictor_free: each call then costs what
 * XGBoost's own in-place prediction costs (docs/performance.md).
 *
 * Thread safety: any number of threads may predict with one predictor at
 * once, without locks (XGBoost 1.7 documents in-place prediction as safe
 * from many threads; the predictor configures its booster before it is
 * returned, and never changes it afterwards).  Predictions of a DART model
 * are serialised, as XGBoost does not promise that for DART.
 * herd_predictor_free must not run while another call uses the predictor.
 *
 * Per-thread memory: XGBoost keeps, for each thread that predicted with a
 * booster, the buffer of that thread's last prediction.  herd copies the
 * values out before returning and predicts large calls in chunks, so the
 * buffer holds at most 65536 values (256 KiB).  Freeing the predictor
 * releases the freeing thread's buffer; another thread's is released by
 * XGBoost when that thread exits.
 *
 * The predictor owns everything it needs: the model it was made from may
 * be freed at once.
 * --------------------------------------------------------------------- */

typedef struct herd_predictor herd_predictor;

#define HERD_PREDICTOR_OPTIONS_VERSION 1

typedef struct herd_predictor_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    /* CPU threads XGBoost uses inside one call, 0..1024; 0 means
     * herd_default_threads().  Default 1: a server gets its parallelism
     * from concurrent calls, and one row is fastest on one thread. */
    int nthread;
} herd_predictor_options;

/* Fill `opt` with the defaults; pass HERD_PREDICTOR_OPTIONS_VERSION. */
HERD_API int herd_predictor_options_init(herd_predictor_options *opt, unsigned int version);

/* Prepare `model` for prediction (opt NULL: defaults).  Loads the booster
 * and predicts one row of missing values to configure it, on the calling
 * thread.  Errors: HERD_EINVAL (an argument or option, named),
 * HERD_EXGBOOST (a model XGBoost cannot predict in place, e.g. gblinear),
 * HERD_ENOMEM. */
HERD_API int herd_predictor_new(const herd_model *model, const herd_predictor_options *opt,
                                herd_predictor **out);

/* Free a predictor.  NULL is allowed. */
HERD_API void herd_predictor_free(herd_predictor *predictor);

/* The model's features, in the order herd_predictor_predict_dense reads
 * them: their number, and feature i's name and type ("float", "int"),
 * NULL when i is out of range.  Strings live as long as the predictor. */
HERD_API size_t herd_predictor_num_features(const herd_predictor *predictor);
HERD_API const char *herd_predictor_feature_name(const herd_predictor *predictor, size_t i);
HERD_API const char *herd_predictor_feature_type(const herd_predictor *predictor, size_t i);

/* Predictions per row: 1, or num_class for multi:softprob. */
HERD_API size_t herd_predictor_num_outputs(const herd_predictor *predictor);

/* Predict `n_rows` rows of `frame` (`rows` lists frame rows; NULL means all
 * rows, in order), as herd_model_predict does: features by name (missing
 * column HERD_ENOTFOUND, wrong type HERD_ETYPE), `out` receives nrows *
 * herd_predictor_num_outputs() values, row-major, `out_len` is its
 * capacity.  The column lookup of the first frame that worked is kept and
 * checked by name on each call, so calls with frames of one layout look
 * nothing up.  Same values as herd_model_predict. */
HERD_API int herd_predictor_predict(const herd_predictor *predictor, const herd_frame *frame,
                                    const size_t *rows, size_t nrows, double *out,
                                    size_t out_len);

/* Predict `nrows` rows of a dense row-major matrix: `values` holds nrows *
 * ncols doubles, row r's feature j at values[r * ncols + j], features in
 * the model's order (herd_predictor_feature_name); NaN is a missing value.
 * ncols must equal herd_predictor_num_features().  Values are read as
 * XGBoost reads them (rounded to float).  The fast path for serving: no
 * copy of the input, no lookup. */
HERD_API int herd_predictor_predict_dense(const herd_predictor *predictor,
                                          const double *values, size_t nrows, size_t ncols,
                                          double *out, size_t out_len);

/* ------------------------------------------------------------------------
 * Fit: one XGBoost model per group
 * --------------------------------------------------------------------- */

typedef enum herd_split {
    HERD_SPLIT_RANDOM = 0, /* a seeded random valid_fraction of each group */
    HERD_SPLIT_LAST = 1    /* the last valid_fraction of each group, in row
                              order or by valid_order_by (forecasting) */
} herd_split;

#define HERD_FIT_OPTIONS_VERSION 1

typedef struct herd_fit_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *const *features; /* feature column names (numeric) */
    size_t n_features;
    const char *label;           /* label column (numeric) */
    const char *weight;          /* optional weight column */
    /* XGBoost parameters, passed through as name/value strings.  Names are
     * checked against the parameters XGBoost 1.7 knows; unknown names are
     * an error that lists them.  Values are checked by XGBoost once, before
     * any group trains.  tree_method and max_bin, unless given, are chosen
     * per group by its training rows: exact below 128, hist with max_bin 32
     * below 16384 and 64 below 131072, hist above (docs/performance.md). */
    const char *const *param_names;
    const char *const *param_values;
    size_t n_params;
    int rounds;                  /* boosting rounds; default 100 */
    int early_stopping_rounds;   /* 0 (default): off; needs validation rows */
    double valid_fraction;       /* default 0.2; 0: no validation split */
    int split;                   /* herd_split; default HERD_SPLIT_RANDOM */
    /* HERD_SPLIT_LAST: order by this column: numeric, or ISO 8601 dates or
     * timestamps as herd_compare_options.holdout_order_by */
    const char *valid_order_by;
    uint64_t seed;               /* split, folds and XGBoost seed; default 0 */
    const char *metric;          /* validation metric; NULL: by objective
                                    (rmse, logloss or mlogloss) */
    size_t min_rows;             /* groups with fewer rows are skipped; default 10 */
    int cv_folds;                /* k-fold cross-validation per group; 0: off */
} herd_fit_options;

/* Fill `opt` with the defaults; pass HERD_FIT_OPTIONS_VERSION. */
HERD_API int herd_fit_options_init(herd_fit_options *opt, unsigned int version);

/* The result of a fit: per group, a model (when it trained), its metrics
 * and status.  Immutable once returned: any thread may read it. */
typedef struct herd_fit_result herd_fit_result;

/* Train one model per group of `groups` on the pool of `apply` (NULL:
 * defaults).  Per group: rows with a missing label fail the group (NaN or
 * infinite labels are never dropped silently); groups with fewer than
 * min_rows rows, a constant label or an all-missing feature are skipped
 * with the reason.  Return codes as herd_apply: HERD_OK, or
 * HERD_ECANCELED / HERD_EBUDGET with *out still filled; other errors
 * (unknown column or parameter, bad option) before any training, *out NULL. */
HERD_API int herd_fit(const herd_groups *groups, const herd_fit_options *fit,
                      const herd_apply_options *apply, herd_fit_result **out);

/* Free a fit result.  NULL is allowed. */
HERD_API void herd_fit_result_free(herd_fit_result *result);

/* Number of groups in the result (trained or not). */
HERD_API size_t herd_fit_result_count(const herd_fit_result *result);

/* One row per group: "group", "status" (ok / failed / skipped / not_run),
 * "message", "rows", "train_rows", "valid_rows" (int64), "metric" (the
 * metric's name), "valid_metric" (float64, NaN without validation rows),
 * "best_iteration", "rounds" (int64), "cv_mean", "cv_std" (float64, NaN
 * without cv_folds), "seconds" (float64), "threads" (int64),
 * "tree_method" (string). */
HERD_API int herd_fit_result_report(const herd_fit_result *result, herd_frame **out);

/* The model of `group` as a new handle (free it with herd_model_free).
 * HERD_ENOTFOUND when the result has no such group; HERD_MISSING with *out
 * NULL when the group has none (it failed, was skipped or did not run: the
 * report gives its status and reason). */
HERD_API int herd_fit_result_model(const herd_fit_result *result, const char *group,
                                   herd_model **out);

/* ------------------------------------------------------------------------
 * Grouped prediction
 * --------------------------------------------------------------------- */

/* Predict every row of the frame of `groups` with its group's model from
 * the fit result `fit`, groups in parallel.  *out receives a frame with as many rows as
 * the frame, in its row order: "prediction" (float64), or "prediction_0" ..
 * "prediction_{k-1}" for k-class models.  Rows of groups without a model
 * (and rows with a missing key) get NaN; *n_rows_without_model (may be NULL)
 * receives their count. */
HERD_API int herd_predict(const herd_groups *groups, const herd_fit_result *fit,
                          const herd_apply_options *apply, herd_frame **out,
                          size_t *n_rows_without_model);

/* ------------------------------------------------------------------------
 * Artifacts: one model and its metadata as one checksummed, compressed blob
 *
 * An artifact is data, never code (unlike a pickled Python model): a fixed
 * header with its own CRC32, a JSON metadata section (family, group,
 * objective, features, XGBoost version, params, metrics, rows, a data
 * fingerprint, created time, herd version) with its CRC32, and the model as
 * XGBoost UBJSON compressed with zlib, with its CRC32.  docs/format.md
 * specifies it byte by byte.  Reading checks every length against the blob
 * and a documented cap before allocating or inflating, and validates the
 * model's structure (tree arrays, child indices in range and acyclic, split
 * features below the feature count, finite leaves) and that the metadata's
 * features are the model's (names, types, order) before XGBoost sees it,
 * so an artifact from an untrusted source cannot crash the process.
 *
 * Artifacts are immutable once built: any number of threads may read one.
 * --------------------------------------------------------------------- */

typedef struct herd_artifact herd_artifact;

/* Format version written by this library; readers accept any minor of a
 * major they know. */
#define HERD_ARTIFACT_FORMAT_MAJOR 1
#define HERD_ARTIFACT_FORMAT_MINOR 0

/* Caps every reader enforces (docs/format.md). */
#define HERD_ARTIFACT_MAX_BYTES (1024u * 1024u * 1024u)     /* whole blob: 1 GiB */
#define HERD_ARTIFACT_MAX_METADATA (16u * 1024u * 1024u)    /* metadata JSON: 16 MiB */
#define HERD_ARTIFACT_MAX_MODEL (1024u * 1024u * 1024u)     /* inflated model: 1 GiB */
#define HERD_ARTIFACT_MAX_FEATURES 100000u                  /* features per model */

#define HERD_ARTIFACT_OPTIONS_VERSION 2

typedef struct herd_artifact_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    /* zlib level for the model payload, 0 (store) .. 9; -1 (default): the
     * level chosen by measurement (docs/performance.md). */
    int compression_level;
    const char *family; /* the model family (e.g. "demand"); may be NULL */
    const char *group;  /* overrides the group key; NULL: the fit's key */
    const char *run_id; /* the batch job that trained it; may be NULL */
    /* Version 2.  Recorded in the metadata ("idempotency_key"): a registry
     * batch that adds the artifact without a key of its own uses this one
     * (herd_batch_add, herd_batch_add_bytes), so a worker that trained it
     * can name the key and the committer need not.  UTF-8 without control
     * characters, 1..2048 bytes; NULL (default): none. */
    const char *idempotency_key;
} herd_artifact_options;

/* Fill `opt` with the defaults; pass HERD_ARTIFACT_OPTIONS_VERSION. */
HERD_API int herd_artifact_options_init(herd_artifact_options *opt, unsigned int version);

/* The artifact of one group of a fit: its model, metrics, parameters, rows
 * and data fingerprint.  HERD_ENOTFOUND when the fit has no such group;
 * HERD_MISSING with *out NULL when the group has no model (see the
 * report). */
HERD_API int herd_fit_result_artifact(const herd_fit_result *result, const char *group,
                                      const herd_artifact_options *opt,
                                      herd_artifact **out);

/* An artifact of a model alone (e.g. one imported from an XGBoost file):
 * features and objective from the model, no metrics. */
HERD_API int herd_artifact_from_model(const herd_model *model, const herd_artifact_options *opt,
                                      herd_artifact **out);

/* Free an artifact.  NULL is allowed. */
HERD_API void herd_artifact_free(herd_artifact *artifact);

/* Serialise; *data is freed with herd_free(). */
HERD_API int herd_artifact_to_buffer(const herd_artifact *artifact, void **data, size_t *len);

/* Write to `path` atomically (temporary file, fsync, rename, fsync of the
 * directory).  Which paths are replaced, written through (FIFOs, character
 * devices) or refused (HERD_EINVAL: directories, symbolic links to regular
 * files...): as herd_frame_write_csv. */
HERD_API int herd_artifact_write_file(const herd_artifact *artifact, const char *path);

/* Read and fully validate an artifact.  Errors: HERD_EFORMAT (not an
 * artifact, unknown major version: the message says which was found and
 * which are supported, malformed metadata), HERD_ECORRUPT (a checksum or the
 * model's structure is wrong: the message gives the section and offset),
 * HERD_ELIMIT (a cap), HERD_EIO. */
HERD_API int herd_artifact_read(const void *data, size_t len, herd_artifact **out);
/* The same from a regular file (a symbolic link to one is followed).  Any
 * other path -- a directory, a device such as /dev/zero, a FIFO, a socket
 * -- is HERD_EINVAL before a byte is read (a FIFO is not waited on). */
HERD_API int herd_artifact_read_file(const char *path, herd_artifact **out);

/* A string field of the metadata: "format", "family", "group",
 * "objective", "created" (RFC 3339, UTC), "herd_version",
 * "xgboost_version", "run_id", "fingerprint".  HERD_OK with the value
 * (living as long as the artifact), or HERD_MISSING with *out NULL when
 * this artifact does not record the field (a family or run id that was
 * never given).  HERD_EINVAL for a name that is no field (the message
 * lists them), HERD_ETYPE for a field that is not a string ("rows"). */
HERD_API int herd_artifact_get(const herd_artifact *artifact, const char *field,
                               const char **out);

/* The metadata section as JSON text (NUL-terminated). */
HERD_API const char *herd_artifact_metadata(const herd_artifact *artifact);

/* The value of metric `name` recorded in the artifact: HERD_OK (a NaN
 * metric that was recorded reads back as NaN), or HERD_MISSING with *value
 * NaN when the artifact records no such metric. */
HERD_API int herd_artifact_metric(const herd_artifact *artifact, const char *name,
                                  double *value);

/* The artifact's model as a new handle. */
HERD_API int herd_artifact_model(const herd_artifact *artifact, herd_model **out);

/* ------------------------------------------------------------------------
 * Metrics
 *
 * One module computes every metric herd reports: validation metrics of
 * fitted models, cross-validation, and champion/challenger comparisons.
 * A metric is named by a string, as in XGBoost:
 *   regression:  "rmse", "mae", "wape" (sum|err| / sum|label|), "mape"
 *                (a fraction, not a percentage; rows with a zero label are
 *                skipped and counted), "r2", "poisson-deviance" (mean unit
 *                deviance, labels >= 0, predictions > 0),
 *                "tweedie-deviance@P" (variance power 1 < P < 2, e.g.
 *                "tweedie-deviance@1.5"; "@P" may be omitted for 1.5)
 *   binary:      "logloss", "error" (threshold 0.5, or "error@T" with T in
 *                [0, 1]) on predicted probabilities; "auc" on any score.
 *                Labels are in [0, 1] (soft labels allowed, as in XGBoost)
 *   multiclass:  "mlogloss", "merror" on n_rows x n_classes probabilities,
 *                row-major, labels 0..n_classes-1
 * Parameters after '@' are plain decimals (at most 15 significant digits,
 * read the same in every locale).  Weights, when given, weight every row
 * (they must be finite and >= 0, with a positive sum).
 * --------------------------------------------------------------------- */

/* Compute `metric` over n_rows rows.  `weight` may be NULL.  For multiclass
 * metrics `pred` holds n_rows * n_classes values; n_classes is ignored (pass 0
 * or 1) otherwise.  *n_skipped (may be NULL) receives the rows the metric
 * skipped (mape's zero labels).  On failure *value is NaN and *n_skipped 0.
 * Errors: HERD_EINVAL for an unknown metric name (the message lists the
 * known ones), a label or prediction outside the metric's domain (names the
 * row and value), a NaN or infinite input, or no usable row (the value
 * would be undefined: auc with one class, r2 with constant labels). */
HERD_API int herd_metric_eval(const char *metric, const double *label, const double *pred,
                              const double *weight, size_t n_rows, size_t n_classes,
                              double *value, size_t *n_skipped);

/* Whether a larger value of `metric` is better: *higher_is_better is 1 for
 * auc and r2, 0 for the losses.  HERD_EINVAL for an unknown name. */
HERD_API int herd_metric_higher_is_better(const char *metric, int *higher_is_better);

/* ------------------------------------------------------------------------
 * Names, group keys and URIs
 *
 * Families, aliases, tag names and run ids are names: 1..HERD_ID_MAX bytes
 * of ASCII letters, digits and "._-:+", not starting with '.' or '-'.
 * Group keys come from data: any valid UTF-8 of 1..HERD_KEY_MAX bytes
 * without control characters (C0 U+0000..U+001F, DEL, C1 U+0080..U+009F).  Wherever a key becomes part of a URI or a
 * file name it is percent-encoded with one encoding (docs/registry.md): each
 * byte outside [A-Za-z0-9_~.-] becomes %HH (upper-case hex), and so does a
 * leading '.', so an encoded key is never ".", ".." or a hidden file name.
 *
 * A registry URI names a version of one group's model:
 *   herd:FAMILY/KEY@ALIAS     the version an alias points to ("latest" is
 *                             the newest version that is not archived)
 *   herd:FAMILY/KEY/N         version N (1, 2, ...)
 *   herd:FAMILY/KEY           the same as @latest
 * with KEY percent-encoded ("herd:demand/DE%2FBerlin@champion").
 * --------------------------------------------------------------------- */

#define HERD_ID_MAX 128   /* bytes in a family, alias, tag name or run id */
#define HERD_KEY_MAX 1024 /* bytes in a group key (before encoding) */

/* Check that `name` is a valid family / alias / tag / run-id name.
 * HERD_EINVAL with the offending byte otherwise.  `what` names it in the
 * message ("family"); NULL means "name". */
HERD_API int herd_name_validate(const char *name, const char *what);

/* Percent-encode a group key / decode an encoded key.  *out is freed with
 * herd_free().  The encoding is canonical and decoding strict: it accepts
 * only what herd_key_encode writes (no raw byte the encoder escapes, no
 * lower-case hex, no escape of a byte written as itself), and refuses
 * results that are not a valid key (invalid UTF-8, control characters, too
 * long).  HERD_EINVAL names the byte. */
HERD_API int herd_key_encode(const char *key, char **out);
HERD_API int herd_key_decode(const char *text, char **out);

typedef struct herd_uri herd_uri;

/* Parse a registry URI.  HERD_EINVAL names the position and what was
 * expected there.  The key must be in its one encoding (herd_key_decode):
 * a URI string names one version. */
HERD_API int herd_uri_parse(const char *text, herd_uri **out);
HERD_API void herd_uri_free(herd_uri *uri);
/* The family, and the decoded group key: every URI has them (NULL only
 * for a NULL uri). */
HERD_API const char *herd_uri_family(const herd_uri *uri);
HERD_API const char *herd_uri_group(const herd_uri *uri);
/* A URI names its model by alias or by version number; the other is
 * missing.  *out gets the alias ("latest" when the URI names neither):
 * HERD_OK, or HERD_MISSING with *out NULL when the URI names a version. */
HERD_API int herd_uri_alias(const herd_uri *uri, const char **out);
/* *out gets the version number: HERD_OK, or HERD_MISSING with *out 0 when
 * the URI names an alias. */
HERD_API int herd_uri_version(const herd_uri *uri, int64_t *out);

/* Format a URI: `alias` (may be NULL) or `version` (> 0) names the model;
 * both NULL and 0 give the short form (latest).  *out is freed with
 * herd_free(). */
HERD_API int herd_uri_format(const char *family, const char *group, const char *alias,
                             int64_t version, char **out);

/* ------------------------------------------------------------------------
 * Registry: versions, aliases with history, tags, metrics, lineage, runs
 *
 * A registry is a directory (docs/registry.md has the layout): an
 * append-only journal of commits, pack files holding the artifacts, and a
 * compact binary index that a writer rewrites from time to time so that
 * opening never replays more than a bounded tail of the journal.
 *
 *   family   one kind of model ("demand"), trained per group
 *   group    a key inside a family ("store_17", "DE/Berlin")
 *   version  1, 2, 3... per (family, group): assigned at commit, gapless,
 *            never reused; carries the artifact, its metrics, tags, run id,
 *            data fingerprint and times
 *   alias    a name per (family, group) pointing at one version
 *            ("champion", "challenger"...); every move is kept in the alias
 *            history with its time, reason and details
 *   run      one batch job, with its params and summary (JSON)
 *
 * Writes go through batches: herd_registry_begin(), add versions and alias
 * moves, herd_batch_commit().  A commit is atomic (all of the batch or none
 * of it, for readers and after a crash) and durable when it returns, with a
 * bounded number of fsyncs whatever the batch size.  Many processes may
 * commit to one registry at once: commits are serialised by an
 * open-file-description lock, so versions stay unique and gapless per
 * group.  Readers take no lock and never see part of a batch.
 *
 * A handle reads a snapshot: the registry as of herd_registry_open(), the
 * last herd_registry_refresh(), or its own last commit.  A handle may be
 * used by several threads at once; commits through one handle are
 * serialised.  A batch belongs to one thread at a time.
 * --------------------------------------------------------------------- */

typedef struct herd_registry herd_registry;
typedef struct herd_batch herd_batch;

/* On-disk format written by this library; it opens every older format. */
#define HERD_REGISTRY_FORMAT_MAJOR 1
#define HERD_REGISTRY_FORMAT_MINOR 0

#define HERD_TAG_VALUE_MAX 4096        /* bytes in a tag value */
#define HERD_JSON_MAX (1024u * 1024u)  /* bytes in run params/summary, alias details */

#define HERD_REGISTRY_OPTIONS_VERSION 1

typedef struct herd_registry_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    int create;          /* 1 (default): create the registry if missing */
    int read_only;       /* 1: never write or lock; batches are refused */
    /* How long a commit waits for another process's commit, in ms: -1
     * (default) as long as it takes, 0 not at all (HERD_EBUSY). */
    int lock_timeout_ms;
    /* 1: open even when the journal is damaged before its end, read-only,
     * showing every commit but the damaged records (the log and
     * herd_registry_check say what they held); herd_registry_rebuild_index
     * on such a handle accepts the loss and lets commits resume.  0
     * (default): such a registry is HERD_ECORRUPT naming what was lost. */
    int allow_damaged;
    /* herd_registry_predict keeps the models it loaded ready on the handle
     * (prepared predictors, by family, group and version) while the
     * serialised size of the kept models stays at most this many bytes;
     * the least recently used go first, and a model whose alias has moved
     * goes at once.  A call keeps no more of its own models than this
     * holds: past it, the models it loads are used once and freed (the
     * family model excepted), so a call over more groups than fit keeps
     * its first ones for the next call instead of evicting them.
     * Default 256 MiB; 0: keep nothing. */
    size_t predict_cache_bytes;
} herd_registry_options;

/* Fill `opt` with the defaults; pass HERD_REGISTRY_OPTIONS_VERSION. */
HERD_API int herd_registry_options_init(herd_registry_options *opt, unsigned int version);

/* Open the registry in directory `path`, creating it when missing (unless
 * opt->create is 0).  A torn tail left by a writer that crashed is ignored,
 * and cut off by the next commit.  Errors: HERD_ENOTFOUND, HERD_EFORMAT
 * (not a registry, or a newer major format: the message says which),
 * HERD_ECORRUPT (file and offset), HERD_EIO (on a read-only filesystem the
 * message says to open with read_only = 1). */
HERD_API int herd_registry_open(const char *path, const herd_registry_options *opt,
                                herd_registry **out);

/* Close a registry handle.  Batches begun on it must be freed first.  NULL
 * is allowed. */
HERD_API void herd_registry_free(herd_registry *reg);

/* The directory the registry was opened at.  Never NULL for a handle. */
HERD_API const char *herd_registry_path(const herd_registry *reg);

/* Read the commits made since this handle's snapshot (by any process). */
HERD_API int herd_registry_refresh(herd_registry *reg);

/* Verify everything: every journal record (past damaged ones, listing what
 * they held), every index checksum, every pack header, every artifact's
 * checksums, and list journal tails kept in journal.cut-<offset>.  *problems (may be NULL) receives one row per
 * problem: "file", "offset" (int64), "problem".  HERD_OK when there are
 * none, HERD_ECORRUPT (naming the first) otherwise. */
HERD_API int herd_registry_check(herd_registry *reg, herd_frame **problems);

#define HERD_CHECK_OPTIONS_VERSION 1

typedef struct herd_check_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    /* 1: also inflate and validate every stored model that is not archived
     * away, as herd_artifact_read does (a version added with
     * check_model = 0, or written by another program, may hold a model
     * that never loads).  Each failure is a row naming the pack file, the
     * offset, and family/group version N with what is wrong.  One model
     * is held at a time.  0 (default): checksums only, as
     * herd_registry_check. */
    int deep;
    /* Progress (phase "check"; groups_total/groups_done count the groups
     * of the deep pass, bytes_total/bytes_done their artifacts' bytes),
     * about every 0.25 s on the calling thread; nonzero cancels the check:
     * HERD_ECANCELED, no frame. */
    herd_progress_fn progress;
    void *progress_user;
} herd_check_options;

/* Fill `opt` with the defaults; pass HERD_CHECK_OPTIONS_VERSION. */
HERD_API int herd_check_options_init(herd_check_options *opt, unsigned int version);

/* herd_registry_check with options (NULL: the defaults): opt->deep also
 * validates every stored model.  Same frame and return values, and
 * HERD_ECANCELED when the progress callback cancels. */
HERD_API int herd_registry_check_with(herd_registry *reg, const herd_check_options *opt,
                                      herd_frame **problems);

/* Rebuild the binary index from the journal (after herd_registry_check
 * reported it or the journal damaged), reading past damaged journal
 * records (each costs what it held, logged).  Takes the writer lock; on a
 * handle opened with allow_damaged, commits resume. */
HERD_API int herd_registry_rebuild_index(herd_registry *reg);

/* --- Batches ------------------------------------------------------------ */

#define HERD_VERSION_OPTIONS_VERSION 1

typedef struct herd_version_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family; /* NULL: the artifact's family (one is required) */
    const char *group;  /* NULL: the artifact's group (one is required) */
    const char *run_id; /* NULL: the artifact's run id, if any */
    /* A retried task passes the same key (e.g. run id + group; UTF-8, at
     * most 2048 bytes): when a version with this key is already
     * committed, the commit adds nothing for it and herd_batch_version()
     * returns that version.  NULL: the artifact's own key, if it records
     * one (herd_artifact_options.idempotency_key).  A key committed for
     * another (family, group), or given to two groups in one batch, fails
     * the whole commit with HERD_ECONFLICT naming both. */
    const char *idempotency_key;
    const char *const *tag_names; /* tags: names (herd_name_validate) ... */
    const char *const *tag_values; /* ... and values (UTF-8, HERD_TAG_VALUE_MAX) */
    size_t n_tags;
    /* Metrics besides the artifact's (same name: this value wins). */
    const char *const *metric_names;
    const double *metric_values;
    size_t n_metrics;
    /* An alias to point at the new version when the batch commits (e.g.
     * "challenger"), recorded in the alias history; NULL: none. */
    const char *alias;
    /* herd_batch_add_bytes: 1 (default) inflates and validates the model
     * as herd_artifact_read does (structure, features and class count
     * against the metadata), so that the registry never commits a version
     * that cannot load; 0 verifies only the header, metadata and
     * checksums (faster; a bad model then shows at load, and in
     * herd_registry_check_with's deep check).  herd_batch_add ignores it:
     * a herd_artifact was validated when it was read or built. */
    int check_model;
} herd_version_options;

/* Fill `opt` with the defaults; pass HERD_VERSION_OPTIONS_VERSION. */
HERD_API int herd_version_options_init(herd_version_options *opt, unsigned int version);

#define HERD_ALIAS_OPTIONS_VERSION 1

typedef struct herd_alias_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *reason;  /* why (kept in the alias history); may be NULL */
    const char *details; /* a JSON object: the metrics behind the decision */
    const char *run_id;  /* the run that moved it; may be NULL */
    /* Conditional move: -1 (default) unconditional; 0 the alias must not
     * exist; N it must point at version N when the batch commits, or the
     * whole commit fails with HERD_ECONFLICT. */
    int64_t expect_version;
} herd_alias_options;

/* Fill `opt` with the defaults; pass HERD_ALIAS_OPTIONS_VERSION. */
HERD_API int herd_alias_options_init(herd_alias_options *opt, unsigned int version);

/* Begin a batch on `reg` (not read-only).  Nothing is locked until commit. */
HERD_API int herd_registry_begin(herd_registry *reg, herd_batch **out);

/* Add a version holding `artifact`.  *index (may be NULL) receives its
 * position in the batch, for herd_batch_version().  The artifact is copied:
 * the caller may free it at once. */
HERD_API int herd_batch_add(herd_batch *batch, const herd_artifact *artifact,
                            const herd_version_options *opt, size_t *index);

/* The same with a serialised artifact (herd_artifact_to_buffer bytes, e.g.
 * returned by a Dask or Spark worker).  Its header, metadata and checksums
 * are verified now (HERD_EFORMAT / HERD_ECORRUPT), and, unless
 * opt->check_model is 0, its model too, exactly as herd_artifact_read
 * checks it: a model that would never load is refused (HERD_ECORRUPT,
 * HERD_EFORMAT or HERD_ELIMIT, naming the family, the group and what is
 * wrong: tree, node, field, offset).  As with herd_batch_add, what opt
 * leaves NULL (opt itself may be NULL) comes from the artifact: its family,
 * group, run id and idempotency key, so a committer adds a worker's bytes
 * without parsing them. */
HERD_API int herd_batch_add_bytes(herd_batch *batch, const void *data, size_t len,
                                  const herd_version_options *opt, size_t *index);

/* Point `alias` of (family, group) at an existing `version` (> 0), or
 * delete it (version 0), at commit.  "latest" is reserved. */
HERD_API int herd_batch_set_alias(herd_batch *batch, const char *family, const char *group,
                                  const char *alias, int64_t version,
                                  const herd_alias_options *opt);

/* Archive a version at commit: it stays in listings (status "archived")
 * and the history, its alias must be moved first, and herd_registry_gc()
 * reclaims its artifact's space. */
HERD_API int herd_batch_archive(herd_batch *batch, const char *family, const char *group,
                                int64_t version, const char *reason);

/* Record a run (a batch job) with its params and summary, JSON objects
 * (either may be NULL).  Recording a run id again replaces its summary. */
HERD_API int herd_batch_set_run(herd_batch *batch, const char *run_id, const char *params_json,
                                const char *summary_json);

/* Report the progress of herd_batch_commit to `fn` (NULL: none), on the
 * committing thread: at the start, about every 0.25 s while the batch's
 * artifacts are written, and at the end.  groups_total / groups_done
 * count the batch's versions, bytes_total / bytes_done its artifact bytes;
 * the phase is "commit" (or the calling operation's, as herd_cycle's
 * "register").  A commit cannot be cancelled: the callback's answer is
 * ignored.  The callback follows herd_progress_fn's rules. */
HERD_API int herd_batch_set_progress(herd_batch *batch, herd_progress_fn fn, void *user);

/* Number of versions added to the batch. */
HERD_API size_t herd_batch_count(const herd_batch *batch);

/* Commit: all or nothing.  Assigns the version numbers.  Errors leave the
 * registry as it was: HERD_ECONFLICT (an expect_version failed, or an
 * idempotency key belongs to another group),
 * HERD_ENOTFOUND (an alias or archive names a missing version), HERD_EBUSY
 * (lock_timeout_ms ran out), HERD_EIO (nothing was committed, except when
 * the message says the final sync failed and could not be undone: then the
 * batch may be visible; a retry with idempotency keys adds nothing).  A
 * batch commits once; after an error it may be committed again. */
HERD_API int herd_batch_commit(herd_batch *batch);

/* After a commit: the version number of the index-th added version, and
 * whether it already existed (its idempotency key was committed before). */
HERD_API int herd_batch_version(const herd_batch *batch, size_t index, int64_t *version,
                                int *existed);

/* Free a batch; an uncommitted batch is abandoned.  NULL is allowed. */
HERD_API void herd_batch_free(herd_batch *batch);

/* --- Reading ------------------------------------------------------------ */

/* The version `alias` points to ("latest": the newest not archived).
 * HERD_ENOTFOUND names what is missing (family, group or alias). */
HERD_API int herd_registry_resolve(herd_registry *reg, const char *family, const char *group,
                                   const char *alias, int64_t *version);

/* Every group of `family` that has `alias` ("latest": every group with a
 * version not archived), by key: "family", "group", "version" (int64).  One pass
 * over the index: the way to resolve a whole family's champions. */
HERD_API int herd_registry_aliases(herd_registry *reg, const char *family, const char *alias,
                                   herd_frame **out);

/* Load a version's artifact (fully validated).  HERD_ECORRUPT names the
 * pack file and offset of a damaged artifact. */
HERD_API int herd_registry_load(herd_registry *reg, const char *family, const char *group,
                                int64_t version, herd_artifact **out);

/* Load by URI (herd:family/group@alias, herd:family/group/N). */
HERD_API int herd_registry_load_uri(herd_registry *reg, const char *uri, herd_artifact **out);

/* One row per family: "family", "groups", "versions", "archived" (int64). */
HERD_API int herd_registry_families(herd_registry *reg, herd_frame **out);

/* One row per group of `family`, by key: "family", "group", "versions",
 * "latest" (int64), "aliases" ("champion=3,challenger=4"). */
HERD_API int herd_registry_groups(herd_registry *reg, const char *family, herd_frame **out);

/* One row per version of (family, group), oldest first; the columns of
 * herd_registry_search. */
HERD_API int herd_registry_versions(herd_registry *reg, const char *family, const char *group,
                                    herd_frame **out);

#define HERD_SEARCH_OPTIONS_VERSION 1

typedef struct herd_search_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family;        /* NULL: every family */
    const char *group_pattern; /* glob over keys: '*', '?', "[a-z]"; NULL: all */
    const char *tag_name;      /* versions with this tag ... */
    const char *tag_value;     /* ... and, if not NULL, this value */
    const char *metric;        /* versions with this metric ... */
    double metric_min;         /* ... in [metric_min, metric_max] (default */
    double metric_max;         /*     -inf, +inf; NaN never matches) */
    const char *alias;         /* versions an alias of this name points to */
    int include_archived;      /* 0 (default): active versions only */
    size_t limit;              /* at most this many rows; 0: no limit */
} herd_search_options;

/* Fill `opt` with the defaults; pass HERD_SEARCH_OPTIONS_VERSION. */
HERD_API int herd_search_options_init(herd_search_options *opt, unsigned int version);

/* Versions matching every given criterion, by family, group, version.
 * Columns: "family", "group", "version" (int64), "status" (active /
 * archived), "created" (the artifact's, RFC 3339), "registered" (commit
 * time, RFC 3339), "run_id", "fingerprint", "idempotency_key",
 * "aliases" (comma-separated), "tags", "metrics" (JSON objects),
 * "size" (int64 bytes), "uri"; and, with opt->metric, a float64 column
 * named after the metric.  Missing strings are missing values. */
HERD_API int herd_registry_search(herd_registry *reg, const herd_search_options *opt,
                                  herd_frame **out);

/* Alias moves, oldest first, of one group (group NULL: every group of the
 * family) and one alias (NULL: all).  Columns: "family", "group",
 * "alias", "time" (RFC 3339), "commit" (int64), "from_version",
 * "to_version" (int64, 0: none / deleted), "reason", "details" (JSON),
 * "run_id". */
HERD_API int herd_registry_alias_history(herd_registry *reg, const char *family,
                                         const char *group, const char *alias,
                                         herd_frame **out);

/* Runs, in the order first recorded: "run_id", "time" (RFC 3339),
 * "params", "summary" (JSON), "versions" (int64: versions with this run
 * id). */
HERD_API int herd_registry_runs(herd_registry *reg, herd_frame **out);

/* Reclaim the space of archived versions' artifacts: live artifacts of
 * packs that hold archived ones are copied to a new pack, in one commit,
 * and the old packs deleted.  *reclaimed (may be NULL) receives the bytes
 * freed.  Archived versions keep their metadata and history; loading one
 * afterwards is HERD_ENOTFOUND. */
HERD_API int herd_registry_gc(herd_registry *reg, uint64_t *reclaimed);

/* --- Copying between registries ------------------------------------------ */

#define HERD_COPY_OPTIONS_VERSION 1

typedef struct herd_copy_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family;        /* required */
    const char *alias;         /* the alias to carry; default "champion" */
    const char *group_pattern; /* glob over keys ('*', '?', "[a-z]"); NULL: all */
    /* Recorded with each alias move in the destination; NULL: "copied
     * from version N of another registry". */
    const char *reason;
} herd_copy_options;

/* Fill `opt` with the defaults; pass HERD_COPY_OPTIONS_VERSION. */
HERD_API int herd_copy_options_init(herd_copy_options *opt, unsigned int version);

/* Carry the models `opt->alias` names in every group of `opt->family` of
 * `from` (those matching group_pattern) to `to`, and point the same alias
 * at them there: promotion across environments (staging to production) as
 * one call.  Each model becomes a version of `to` with its tags, metrics
 * and run id, and the run's record (params: its lineage; summary) when
 * `to` does not have it; the alias move is recorded in `to`'s alias
 * history with the source's moves of that alias for the group as its
 * details ({"source": {...}, "history": [...]}: registry, time, versions,
 * reason, run id and details of each, newest 100, a chain of copies kept
 * flat; docs/registry.md, "Copying between registries").
 *
 * Idempotent: a model's version key is FAMILY/copy-HASH/GROUP (HASH of
 * the artifact's bytes), so copying again adds nothing and moves nothing;
 * a model `to` already holds is not added twice (its alias is moved back
 * to it).  Atomic on `to`: one commit, all groups or none; each alias move
 * is guarded by where the alias pointed when the copy read `to`
 * (HERD_ECONFLICT, nothing committed, when another process moved one
 * meanwhile).  `from` is only read.
 *
 * *copied (may be NULL): one row per group, by key: "group", "alias",
 * "source_version", "version" (int64: the version in `to` the alias now
 * names), "status" ("copied": added and aliased; "moved": already in `to`,
 * alias moved to it; "unchanged": the alias already named it).
 * Errors: HERD_EINVAL (arguments, options, `from` and `to` the same
 * registry, `to` read-only), HERD_ENOTFOUND (no group of the family has
 * the alias in `from`), HERD_ECONFLICT, the load's and the commit's. */
HERD_API int herd_registry_copy(herd_registry *from, herd_registry *to,
                                const herd_copy_options *opt, herd_frame **copied);

/* ------------------------------------------------------------------------
 * Champion / challenger: evaluate, decide, promote, roll back
 *
 * For every group of a family, the version an alias names "challenger" is
 * evaluated against the one named "champion" on the same holdout rows --
 * rows never used for training or early stopping: a holdout frame, or each
 * group's latest rows by an ordering column (a fraction of them, or those of
 * its last N distinct values) -- with one metric of
 * the metrics module.  The challenger wins when it improves the metric by
 * at least min_abs_delta and min_rel_delta, lies inside the optional
 * absolute bounds, was evaluated on at least min_holdout_rows rows, and,
 * when asked, when a paired bootstrap of per-row losses puts the
 * improvement above zero at the chosen confidence.  Groups run in
 * parallel; each model is loaded once.
 *
 * Decisions: "promote" (the challenger wins), "keep" (it does not, it is
 * the champion's very model, or it is an older version than the champion:
 * going back is herd_registry_rollback's), "first" (no champion yet: the challenger
 * becomes it), "skipped" (no challenger, too few holdout rows, or a first
 * challenger outside the bounds), "failed" (with the message), "refused"
 * (a promote or first that the promotion cap refused: nothing moved).  The
 * decision says what was decided; the "promoted" column says what moved.
 * --------------------------------------------------------------------- */

#define HERD_COMPARE_OPTIONS_VERSION 1

typedef struct herd_compare_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family;          /* required */
    const char *champion;        /* alias in production; default "champion" */
    const char *challenger;      /* alias of the candidates; default "challenger" */
    const char *label;           /* label column of the holdout rows; required */
    const char *weight;          /* optional weight column */
    const char *metric;          /* default "rmse"; any herd_metric_eval name */
    double min_abs_delta;        /* improvement needed, in metric units; default 0 */
    double min_rel_delta;        /* ... as a fraction of the champion's; default 0 */
    double metric_min;           /* the challenger's metric must lie in */
    double metric_max;           /* [metric_min, metric_max]; default +-inf */
    size_t min_holdout_rows;     /* default 1 */
    /* 0 (default): every row of each group is a holdout row (a holdout
     * frame).  Otherwise the last holdout_fraction of each group's rows
     * (at least one), by holdout_order_by (required then; see also
     * holdout_periods).  holdout_order_by names a numeric column or a
     * string column of ISO 8601 dates or timestamps ("YYYY-MM-DD",
     * "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]"), ordered in time; the first
     * value that is not one is HERD_EINVAL naming its row and column. */
    double holdout_fraction;
    const char *holdout_order_by;
    int bootstrap;               /* paired bootstrap resamples; 0 (default): off */
    double confidence;           /* one-sided, for the bootstrap; default 0.95 */
    uint64_t seed;               /* bootstrap seed (per group: seed and key) */
    int dry_run;                 /* 1: decide, move nothing */
    /* A promotion that would replace more than this fraction of the
     * family's champions is refused (HERD_EREFUSED, decisions still
     * returned) unless force is 1.  Default 0.5; 1 disables the cap. */
    double max_promote_fraction;
    int force;
    const char *run_id;          /* recorded with each alias move; may be NULL */
    /* N > 0: each group's holdout is its rows whose holdout_order_by value
     * is among the group's N latest distinct values ("the last 4 weeks"),
     * instead of a fraction of rows.  Not with holdout_fraction.  Default 0. */
    size_t holdout_periods;
} herd_compare_options;

/* Fill `opt` with the defaults; pass HERD_COMPARE_OPTIONS_VERSION. */
HERD_API int herd_compare_options_init(herd_compare_options *opt, unsigned int version);

/* Compare the challenger with the champion of every group of `holdout`
 * (keys are the family's group keys) and, unless dry_run, move every
 * winning group's champion alias to its challenger in one atomic commit
 * (expect_version guards each move), recording in the alias history the
 * previous version, both metric values, the thresholds and the reason.
 * Losing challengers keep their versions and alias.
 *
 * *decisions: one row per group of `holdout`: "group", "decision",
 * "reason", "champion_version", "challenger_version" (int64, 0: none),
 * "champion_metric", "challenger_metric", "delta" (the improvement, > 0
 * better, in the metric's units), "rel_delta", "delta_ci_low",
 * "delta_ci_high" (the paired bootstrap's interval of delta, in the same
 * units as delta: each resample's mean row losses are mapped to the metric
 * -- rmse is the square root of the mean squared error -- before the
 * difference is taken; one-sided at `confidence`; NaN without bootstrap),
 * "holdout_rows", "skipped_rows" (int64: holdout rows
 * the metric skips, as mape does zero labels; the reason says so too),
 * "promoted" (int64: 1 only when this call moved the group's champion
 * alias, i.e. a committed "promote" or "first"; 0 in a dry run, and for
 * every group when the commit failed or the cap refused).  When the cap
 * refuses, dry run or not, every "promote" and "first" reads "refused" and
 * its reason says what it would have been and why it was refused.
 * *summary (may be NULL): one row per decision ("promote", "keep",
 * "first", "skipped", "failed", "refused"): "decision", "groups" (int64),
 * "median_delta" (float64, NaN when no group has one).
 *
 * Errors: argument and option errors before anything runs (HERD_EINVAL
 * also for a group whose key is not a registry key: the group, its index
 * and the rule are named); HERD_EREFUSED (the promotion cap, also in a dry
 * run; nothing moved, *decisions filled with "refused"); HERD_ECONFLICT
 * (another process moved a champion meanwhile; nothing moved, *decisions
 * filled: compare again); the commit's errors. */
HERD_API int herd_compare(herd_registry *reg, const herd_groups *holdout,
                          const herd_compare_options *opt, const herd_apply_options *apply,
                          herd_frame **decisions, herd_frame **summary);

/* Move `alias` (NULL: "champion") of one group back to the version it
 * pointed to before its last move (the challenger alias stays: a later
 * herd_compare of the aliases may promote it again if it still wins;
 * herd_cycle's re-runs do not); with group NULL, undo the family's last
 * promotion: every group the latest commit that moved this alias in the
 * family moved goes back.  One commit, recorded in the alias history
 * (rolling back twice moves forward again).  A group whose alias has no
 * previous version is HERD_ENOTFOUND naming it, and nothing moves.
 * *moved (may be NULL): a frame of the groups moved, by key: "group",
 * "alias" (string), "from_version" (int64: where the alias pointed),
 * "to_version" (int64: where it points now); no rows when the family's
 * last move of the alias was a deletion.  NULL on error. */
HERD_API int herd_registry_rollback(herd_registry *reg, const char *family, const char *group,
                                    const char *alias, const char *reason, herd_frame **moved);

/* ------------------------------------------------------------------------
 * The weekly cycle, and predicting from the registry
 * --------------------------------------------------------------------- */

/* The group key under which a family-level model (trained on every
 * group's rows) is registered: a fallback for groups with no champion of
 * their own (new stores, thin groups).  Reserved: herd_cycle with fallback
 * refuses data holding a group of that name. */
#define HERD_FALLBACK_GROUP "__all__"

/* Which models herd_cycle_train trains (herd_cycle_options.models). */
#define HERD_CYCLE_GROUPS 0x1u /* each group's model */
#define HERD_CYCLE_FAMILY 0x2u /* with fallback, the family model */

#define HERD_CYCLE_OPTIONS_VERSION 2

typedef struct herd_cycle_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family;           /* required */
    /* Required: names this run.  Each version is added with the
     * idempotency key "FAMILY/RUN_ID/GROUP", so re-running the same run adds
     * nothing; the run is recorded with its summary. */
    const char *run_id;
    /* The holdout: the last holdout_fraction of each group's rows by
     * holdout_order_by (at least one row; 0, the default, means 0.2 unless
     * holdout_periods is set), never trained on nor used for early
     * stopping. */
    double holdout_fraction;
    /* Required: a numeric column (e.g. a week number) or ISO 8601 dates or
     * timestamps, as herd_compare_options.holdout_order_by. */
    const char *holdout_order_by;
    int fallback;                 /* 1: also train the family model */
    /* Thresholds, metric, bootstrap, cap...; NULL: defaults.  Its family,
     * label, holdout and run_id are the cycle's. */
    const herd_compare_options *compare;
    /* N > 0: the holdout is each group's rows of its N latest distinct
     * holdout_order_by values, instead of a fraction (holdout_fraction must
     * then be 0).  Default 0. */
    size_t holdout_periods;
    /* Version 2.  Which models herd_cycle_train trains: HERD_CYCLE_GROUPS,
     * HERD_CYCLE_FAMILY (with fallback: the family model, on every
     * training row of the groups it is given), or both (the default).  A
     * distributed run trains the groups in shares and the family model
     * once.  herd_cycle trains everything whatever it says. */
    uint32_t models;
} herd_cycle_options;

/* Fill `opt` with the defaults; pass HERD_CYCLE_OPTIONS_VERSION. */
HERD_API int herd_cycle_options_init(herd_cycle_options *opt, unsigned int version);

/* The weekly cycle as one call: split each group of `groups` into training
 * rows and holdout rows; fit every group on its training rows (`fit`: its
 * label is the comparison's); register every trained model as a new
 * version with alias "challenger" in one batch, with the run; (with
 * fallback) train and register the family model as HERD_FALLBACK_GROUP;
 * compare every challenger with its champion on the holdout rows; promote
 * the winners in one commit.  Re-running on the same data changes nothing
 * that matters: identical models never replace a champion, and a model of
 * this run that was champion and rolled back is not promoted again.  Outputs and
 * errors as herd_compare (every group key is checked against the registry's
 * key rule before anything is trained); a fit that is cancelled or over its error budget
 * returns before registering anything. */
HERD_API int herd_cycle(herd_registry *reg, const herd_groups *groups,
                        const herd_fit_options *fit, const herd_cycle_options *opt,
                        const herd_apply_options *apply, herd_frame **decisions,
                        herd_frame **summary);

/* ------------------------------------------------------------------------
 * The weekly cycle in two stages (Dask, Spark, several machines)
 *
 * herd_cycle is one process.  A distributed run splits it in two stages
 * with the same results: workers train their share of the groups and
 * evaluate each model, and each group's champion, on the group's holdout
 * rows (herd_cycle_train), returning a part: artifact bytes and the
 * evaluation, serialisable to bytes; one committer registers the parts as
 * they arrive, then commits, decides and promotes (herd_cycle_begin,
 * herd_cycle_run_add, herd_cycle_run_commit).  herd_cycle is exactly these
 * stages in one process, streaming: each group is split, fitted,
 * evaluated, serialised and handed to the committer by the worker that
 * trains it, and its booster freed, so memory does not grow with the
 * number of groups.
 *
 * Everything herd_cycle guarantees holds across machines: models and
 * bootstrap intervals depend only on the data, the options, the seeds and
 * each group's key, never on which process trained it; versions carry the
 * idempotency key "FAMILY/RUN_ID/GROUP" (recorded in each artifact), so
 * a retried task or a re-run of the whole run adds nothing; each promotion
 * is conditional on the champion the worker evaluated (a champion moved
 * meanwhile is HERD_ECONFLICT, nothing moves); the cap, rollbacks and the
 * run's lineage are herd_cycle's.  docs/champion-challenger.md, "A cycle
 * on many machines", has a Dask recipe.
 * --------------------------------------------------------------------- */

/* Champions handed to workers: per group, a version and its artifact
 * bytes.  Immutable once built; any thread may read it. */
typedef struct herd_champions herd_champions;

/* An empty set of champions. */
HERD_API int herd_champions_new(herd_champions **out);

/* Free a set of champions.  NULL is allowed. */
HERD_API void herd_champions_free(herd_champions *champions);

/* Add `group`'s champion: its version (> 0) and its artifact bytes
 * (copied; header, metadata and checksums verified as herd_batch_add_bytes
 * verifies them).  A group given twice is HERD_EEXISTS. */
HERD_API int herd_champions_add(herd_champions *champions, const char *group, int64_t version,
                                const void *artifact, size_t len);

/* Number of groups with a champion in the set. */
HERD_API size_t herd_champions_count(const herd_champions *champions);

/* The artifacts `alias` (NULL: "champion") points to in `family`, for the
 * `n_groups` groups named (groups NULL: every group of the family that has
 * the alias); a group without the alias is left out.  Read from the
 * handle's snapshot (herd_registry_refresh first to see other commits). */
HERD_API int herd_registry_champions(herd_registry *reg, const char *family, const char *alias,
                                     const char *const *groups, size_t n_groups,
                                     herd_champions **out);

/* Serialise a set of champions (a checksummed container of its
 * artifacts); *data is freed with herd_free(). */
HERD_API int herd_champions_to_buffer(const herd_champions *champions, void **data,
                                      size_t *len);

/* Read serialised champions back, verifying everything: HERD_EFORMAT (not
 * champions, an unknown format version), HERD_ECORRUPT (a checksum). */
HERD_API int herd_champions_read(const void *data, size_t len, herd_champions **out);

/* What a worker returns: per group it was given, the fit's outcome, the
 * model as artifact bytes and its evaluation on the holdout rows (and the
 * champion's).  Immutable once built; any thread may read it. */
typedef struct herd_cycle_part herd_cycle_part;

/* The worker stage: for each group of `groups` (opt->models), split its
 * holdout (opt->holdout_*), fit it on the other rows (`fit`), evaluate the
 * model and the group's champion from `champions` (NULL: none) on the
 * holdout rows (opt->compare: metric, bootstrap), package the model as an
 * artifact recording the family, run id, group and idempotency key
 * "FAMILY/RUN_ID/GROUP", and free its booster.  With opt->fallback and
 * HERD_CYCLE_FAMILY, also the family model (HERD_FALLBACK_GROUP) on every
 * training row of `groups`, evaluated on every holdout row.  No registry
 * is needed: the champions are what the committer handed out
 * (herd_registry_champions), so the worker's evaluation is of the versions
 * the committer will expect.  Options, argument checks and per-group
 * failures as herd_cycle; a group that fails or is skipped is in the part
 * without a model.  Returns HERD_OK, or HERD_ECANCELED / HERD_EBUDGET with
 * *out filled with what was done; other errors before any training. */
HERD_API int herd_cycle_train(const herd_groups *groups, const herd_fit_options *fit,
                              const herd_cycle_options *opt, const herd_champions *champions,
                              const herd_apply_options *apply, herd_cycle_part **out);

/* Free a part.  NULL is allowed. */
HERD_API void herd_cycle_part_free(herd_cycle_part *part);

/* Number of groups in the part (the family model counted). */
HERD_API size_t herd_cycle_part_count(const herd_cycle_part *part);

/* One row per group of the part, in its order (docs/results.md, "Cycle
 * part"): "group", "status" (the fit's: ok / failed / skipped / not_run),
 * "message", "rows", "holdout_rows", "artifact_bytes" (int64, 0: no
 * model), "challenger_metric", "champion_version" (int64, 0: none),
 * "champion_metric" (float64, NaN when not measured). */
HERD_API int herd_cycle_part_report(const herd_cycle_part *part, herd_frame **out);

/* The artifact bytes of the part's i-th group (in the order of the
 * report), living as long as the part: HERD_OK, or HERD_MISSING with *data
 * NULL when the group has no model.  HERD_EINVAL for i out of range. */
HERD_API int herd_cycle_part_artifact(const herd_cycle_part *part, size_t i, const void **data,
                                      size_t *len);

/* Serialise a part (what a Dask or Spark task returns); *data is freed
 * with herd_free(). */
HERD_API int herd_cycle_part_to_buffer(const herd_cycle_part *part, void **data, size_t *len);

/* Read a serialised part back, verifying its checksum and every artifact
 * whole, models included, as herd_artifact_read does (HERD_EFORMAT,
 * HERD_ECORRUPT, naming the group): herd_cycle_run_add then adds them
 * without checking them again. */
HERD_API int herd_cycle_part_read(const void *data, size_t len, herd_cycle_part **out);

/* The committer's run: one batch that parts are added to as they arrive.
 * A run belongs to one thread at a time (as a batch does). */
typedef struct herd_cycle_run herd_cycle_run;

/* The committer stage: begin run opt->run_id of opt->family on `reg`
 * (not read-only), with the fit and cycle options the workers were given
 * (checked as herd_cycle checks them; opt->models is ignored). */
HERD_API int herd_cycle_begin(herd_registry *reg, const herd_fit_options *fit,
                              const herd_cycle_options *opt, herd_cycle_run **out);

/* Add a part: its models go into the run's batch now, under their
 * idempotency keys with alias "challenger" (a large batch writes them to
 * its own pack file as they come), and its evaluations are kept (a few
 * hundred bytes per group); the part may be freed at once.  A part
 * trained with other options, or for another run id, is HERD_EINVAL and
 * adds nothing.  A group already added (a retried task's part delivered
 * twice) is skipped.  Another error (out of memory, writing the batch's
 * pack file) may leave part of the part added: free the run and begin
 * again (the idempotency keys make registering a model twice free). */
HERD_API int herd_cycle_run_add(herd_cycle_run *run, const herd_cycle_part *part);

/* Commit the models with the run record (lineage and summary) in one
 * commit, decide every group added, and promote the winners in one
 * commit: outputs, errors and guarantees as herd_cycle (*decisions: one
 * row per group added, in the order added, the family model last).  A run
 * commits once: HERD_EINVAL after that, also after a failed commit (begin
 * a new run and add the parts again: nothing is registered twice). */
HERD_API int herd_cycle_run_commit(herd_cycle_run *run, herd_frame **decisions,
                                   herd_frame **summary);

/* Free a run; an uncommitted run registers nothing.  NULL is allowed. */
HERD_API void herd_cycle_run_free(herd_cycle_run *run);

/* Fitting straight into the registry, for hosts that do not run the
 * cycle. */
#define HERD_REGISTER_OPTIONS_VERSION 1

typedef struct herd_register_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family; /* required */
    /* The run that trains: each version gets the idempotency key
     * "FAMILY/RUN_ID/GROUP" (recorded in its artifact too), so running it
     * again adds nothing, and the run is recorded.  NULL (default): no
     * key, no run. */
    const char *run_id;
    const char *alias; /* pointed at each new version at commit; NULL: none */
} herd_register_options;

/* Fill `opt` with the defaults; pass HERD_REGISTER_OPTIONS_VERSION. */
HERD_API int herd_register_options_init(herd_register_options *opt, unsigned int version);

/* Fit every group of `groups` (exactly as herd_fit: the same checks, the
 * same models) and register each trained model as a new version of
 * opt->family, streaming: each worker packages its group's model as an
 * artifact and adds it to one batch as soon as it is trained, then frees
 * it, so memory does not grow with the number of groups (herd_fit keeps
 * every model; herd_fit then herd_batch_add registers on one thread).  One
 * commit, after the last group.  *report: herd_fit_result_report's
 * columns, then "version" (int64: the version registered, 0 for a group
 * without a model) and "existed" (int64: 1 when a version with the same
 * idempotency key was committed before and nothing was added).  Returns
 * HERD_ECANCELED / HERD_EBUDGET (nothing registered, *report filled), or
 * the errors of herd_fit and herd_batch_commit (*report NULL). */
HERD_API int herd_registry_fit(herd_registry *reg, const herd_groups *groups,
                               const herd_fit_options *fit, const herd_register_options *opt,
                               const herd_apply_options *apply, herd_frame **report);

#define HERD_REGISTRY_PREDICT_OPTIONS_VERSION 1

typedef struct herd_registry_predict_options {
    uint32_t version; /* see OPTIONS STRUCTS at the top */
    const char *family;  /* required */
    const char *alias;   /* default "champion" */
    /* 1: rows of groups without `alias` use the family model
     * (HERD_FALLBACK_GROUP at the same alias), when there is one. */
    int fallback;
} herd_registry_predict_options;

/* Fill `opt` with the defaults; pass HERD_REGISTRY_PREDICT_OPTIONS_VERSION. */
HERD_API int herd_registry_predict_options_init(herd_registry_predict_options *opt,
                                                unsigned int version);

/* Predict every row of the frame of `groups` with its group's model at
 * `alias`, groups in parallel.  Each model is loaded once and kept ready on
 * the handle (a prepared predictor per version, capped by
 * herd_registry_options.predict_cache_bytes, least recently used out; a
 * call keeps at most the cap's worth of its own models and uses the rest
 * once): the next call on the same champions loads nothing (or, over more
 * models than the cap holds, only those it did not keep); a champion moved
 * since (the call refreshes the handle first) is replaced.  *out has the
 * frame's rows in its order: "prediction" (or "prediction_0".. for
 * multi-class models), "version" (int64: the version used, 0 when none),
 * "fallback" (int64: 1 when the family model predicted the row).  Rows
 * without a model get NaN; *n_rows_without_model (may be NULL) counts
 * them.
 * A group whose key the registry cannot hold (herd_key_encode refuses it)
 * has no model of its own. */
HERD_API int herd_registry_predict(herd_registry *reg, const herd_groups *groups,
                                   const herd_registry_predict_options *opt,
                                   const herd_apply_options *apply, herd_frame **out,
                                   size_t *n_rows_without_model);

/* ------------------------------------------------------------------------
 * Options by name (for bindings, CLIs and job files)
 *
 * One table in the library lists every option of every operation: its
 * name, type, default, bounds and a one-line doc (herd_options_table()).
 * A herd_options handle holds the options struct of one operation and
 * sets its options by those names, so that a binding maps keyword
 * arguments, CLI flags or job-file keys onto names and never mirrors a C
 * struct layout.  The handle owns everything its struct points to (copied
 * strings, list and map arrays, a nested struct); herd_options_struct()
 * gives the struct, to pass to the function like any other options:
 *
 *     herd_options *fit;
 *     herd_options_new("fit", &fit);
 *     herd_options_set(fit, "label", "sales");
 *     herd_options_set(fit, "rounds", "200");
 *     const char *features[] = {"price", "promo"};
 *     herd_options_set_strings(fit, "features", features, 2);
 *     herd_options_set_entry(fit, "params", "max_depth", "4");
 *     rc = herd_fit(groups, herd_options_struct(fit, "fit"), NULL, &set);
 *     herd_options_free(fit);
 *
 * Operations and their structs: "column" (herd_column_options), "csv",
 * "apply", "fit", "artifact", "registry", "version", "alias", "search",
 * "compare", "cycle", "registry_predict", "copy", "register"
 * (herd_<operation>_options).  A
 * nested struct's options are named through their parent's option:
 * "compare.metric" of a "cycle" handle.
 *
 * Types (the table's "type" column) and how herd_options_set() reads text,
 * the same in every locale: "bool" (true/false, 1/0, yes/no, on/off),
 * "int", "int64", "uint64", "size" (decimal integers), "double" (a decimal
 * number with '.', "inf", "-inf"; never NaN), "char" (one ASCII character,
 * or "tab"), "enum" (a name of the table's "values", or its integer),
 * "flags" (names joined by '|', "" for none), "string".  The others take
 * typed setters: "string_list" (herd_options_set_strings), "string_map",
 * "number_map", "type_map" (herd_options_set_entry: one key -> value per
 * call; a type_map's values are herd_type_name() names), "pointer"
 * (herd_options_set_pointer), "progress" (herd_options_set_progress),
 * "options" (nested: NAME.option).
 *
 * Errors: an unknown operation or option name is HERD_EINVAL with "did you
 * mean '<closest name>'" and the list of names; a value that does not parse
 * or is out of bounds is HERD_EINVAL naming the option, the value and the
 * bounds.  A value is checked when it is set; the checks that involve
 * several options or the data run when the struct is used.
 *
 * Thread safety: a handle is not safe for concurrent modification; any
 * number of threads may use its struct while nobody sets options.
 * --------------------------------------------------------------------- */

typedef struct herd_options herd_options;

/* A handle holding the defaults of `operation`'s options. */
HERD_API int herd_options_new(const char *operation, herd_options **out);

/* Free a handle and everything its struct points to.  NULL is allowed. */
HERD_API void herd_options_free(herd_options *opt);

/* The handle's operation ("fit"...), or NULL for NULL. */
HERD_API const char *herd_options_operation(const herd_options *opt);

/* The handle's options struct, to pass to the operation's function; valid
 * until the handle is freed, and reflecting later sets.  NULL (with
 * HERD_EINVAL recorded) when `operation` is not the handle's: the check
 * that a "fit" handle is not passed as compare options. */
HERD_API const void *herd_options_struct(const herd_options *opt, const char *operation);

/* Set option `name` from text (see the types above).  `value` NULL resets
 * the option to its default (for every type, lists and maps included). */
HERD_API int herd_options_set(herd_options *opt, const char *name, const char *value);

/* Set a string list option ("features") to `n` copies of `values`. */
HERD_API int herd_options_set_strings(herd_options *opt, const char *name,
                                      const char *const *values, size_t n);

/* Set one entry of a map option ("params", "tags", "metrics", "types"):
 * `key` gets `value` (text, parsed by the map's type), replacing an entry
 * with the same key; `value` NULL removes the entry. */
HERD_API int herd_options_set_entry(herd_options *opt, const char *name, const char *key,
                                    const char *value);

/* Set a pointer option ("cancel", "mask"): the memory is the caller's and
 * must outlive every use of the struct. */
HERD_API int herd_options_set_pointer(herd_options *opt, const char *name, const void *pointer);

/* Set a progress option: the callback and its user pointer. */
HERD_API int herd_options_set_progress(herd_options *opt, const char *name, herd_progress_fn fn,
                                       void *user);

/* The current value of option `name` as text that herd_options_set()
 * reads back (lists and maps as JSON); *value is NULL for a NULL string,
 * else freed with herd_free().  HERD_ETYPE for pointer, progress and
 * nested options, which have no text. */
HERD_API int herd_options_get(const herd_options *opt, const char *name, char **value);

/* The bounds of a numeric option (bool, int, int64, uint64, size, double,
 * char, enum), inclusive: every value v with *min <= v <= *max is valid,
 * and an open end such as (0, 1] is given as the next double inside it.
 * HERD_ETYPE for other types. */
HERD_API int herd_option_bounds(const char *operation, const char *name, double *min,
                                double *max);

/* The table of every option of `operation` (NULL: of every operation), one
 * row per option in struct order: "operation", "name", "type", "default"
 * (text as herd_options_get gives it; missing for none), "min", "max"
 * (float64, as herd_option_bounds; NaN when not numeric), "doc", "since"
 * (int64: the struct version that introduced it), "fields" (the C fields
 * it covers, comma-separated), "values" (an enum's or flags' names joined
 * by '|'; missing otherwise). */
HERD_API int herd_options_table(const char *operation, herd_frame **out);

#ifdef __cplusplus
}
#endif

#endif /* HERD_H */
