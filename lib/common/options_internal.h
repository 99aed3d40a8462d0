/* options_internal.h -- one description of every options struct.
 *
 * Every public options struct (herd_fit_options, herd_csv_options...) starts
 * with `uint32_t version`, the version of the struct the caller was compiled
 * with.  A struct only ever grows at its end, and each field is described
 * here once: its name, type, offset, the struct version that introduced it,
 * its default, its bounds and a one-line doc.  From that one table:
 *
 *   - herd_x_options_init(opt, version) writes the fields of `version` and
 *     nothing past them (a caller built against an older header owns a
 *     shorter struct);
 *   - every function reads a caller's struct field by field, only the
 *     fields the caller's version has, defaults for the others, and checks
 *     each value against its bounds;
 *   - the options handle (herd_options_new) sets options by name, and
 *     herd_options_table lists them, for the bindings.
 *
 * Checks that involve several fields or the data (a column that must
 * exist, early stopping needing validation rows) stay in the modules.
 */
#ifndef HERD_COMMON_OPTIONS_INTERNAL_H
#define HERD_COMMON_OPTIONS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

typedef enum hd_opt_type {
    HD_OT_BOOL = 1,    /* int: 0 or 1 */
    HD_OT_INT,         /* int */
    HD_OT_INT64,       /* int64_t */
    HD_OT_UINT64,      /* uint64_t */
    HD_OT_SIZE,        /* size_t */
    HD_OT_DOUBLE,      /* double; NaN never valid */
    HD_OT_CHAR,        /* char: one ASCII character */
    HD_OT_ENUM,        /* int: one of `names` */
    HD_OT_FLAGS,       /* uint32_t: bits of `names` */
    HD_OT_STRING,      /* const char * */
    HD_OT_STRING_LIST, /* const char *const * at off, size_t count at off_count */
    HD_OT_STRING_MAP,  /* keys at off, const char *const * values at off_values, count */
    HD_OT_NUMBER_MAP,  /* keys at off, const double * values at off_values, count */
    HD_OT_TYPE_MAP,    /* keys at off, const int * values (herd_type) at off_values, count */
    HD_OT_POINTER,     /* a borrowed pointer (memory, a flag, user data) */
    HD_OT_PROGRESS,    /* herd_progress_fn at off, its void *user at off_values */
    HD_OT_OPTIONS      /* const pointer to a nested options struct (`nested`) */
} hd_opt_type;

/* Bound flags. */
#define HD_OF_MIN_OPEN 0x1u /* min is excluded: (min, ... */
#define HD_OF_MAX_OPEN 0x2u /* max is excluded: ..., max) */

/* A named value of an enum or a flag bit. */
typedef struct hd_opt_name {
    const char *name;
    int64_t value;
} hd_opt_name;

typedef struct hd_opt_struct hd_opt_struct;

/* One option: one field, or for lists, maps and callbacks the two or three
 * fields that only make sense together. */
typedef struct hd_opt {
    const char *name;     /* the option's name: the field's, or the list's */
    hd_opt_type type;
    unsigned since;       /* the struct version that introduced it */
    size_t off;           /* the (first) field */
    size_t off_values;    /* maps: the values array; progress: the user pointer */
    size_t off_count;     /* lists and maps: the count */
    const char *fields;   /* the C fields it covers, comma-separated */
    double def;           /* numeric default */
    const char *def_text; /* string default; NULL: none */
    double min, max;      /* numeric bounds (see flags) */
    unsigned flags;       /* HD_OF_* */
    const hd_opt_name *names; /* enum values or flag bits, NULL-terminated */
    const hd_opt_struct *nested; /* HD_OT_OPTIONS: the nested struct */
    const char *doc;      /* one line */
} hd_opt;

struct hd_opt_struct {
    const char *operation;     /* "fit": the name the options handle uses */
    const char *type_name;     /* "herd_fit_options" */
    const char *init_name;     /* "herd_fit_options_init" */
    const char *version_macro; /* "HERD_FIT_OPTIONS_VERSION" */
    unsigned version;          /* the newest version this library knows */
    size_t size;               /* sizeof the struct in this library */
    const hd_opt *opts;
    size_t nopts;
};

/* The descriptor of every options struct (options_table.c). */
extern const hd_opt_struct hd_column_options_desc;
extern const hd_opt_struct hd_csv_options_desc;
extern const hd_opt_struct hd_apply_options_desc;
extern const hd_opt_struct hd_predictor_options_desc;
extern const hd_opt_struct hd_fit_options_desc;
extern const hd_opt_struct hd_artifact_options_desc;
extern const hd_opt_struct hd_registry_options_desc;
extern const hd_opt_struct hd_version_options_desc;
extern const hd_opt_struct hd_alias_options_desc;
extern const hd_opt_struct hd_search_options_desc;
extern const hd_opt_struct hd_compare_options_desc;
extern const hd_opt_struct hd_cycle_options_desc;
extern const hd_opt_struct hd_registry_predict_options_desc;
extern const hd_opt_struct hd_register_options_desc;
extern const hd_opt_struct hd_check_options_desc;
extern const hd_opt_struct hd_copy_options_desc;

/* Every descriptor, NULL-terminated, in the header's order. */
extern const hd_opt_struct *const hd_options_all[];

/* The public init: refuse NULL and unknown versions (HERD_EINVAL, nothing
 * written), else write the version and the defaults of exactly the fields
 * that `version` has; bytes past the last of them are not touched. */
int hd_options_init(const hd_opt_struct *d, void *opt, unsigned version);

/* Read a caller's options struct `in` into `out`, this library's struct:
 * every field the caller's version has, field by field, defaults for the
 * others; then check every value against its bounds.  `in` NULL: all
 * defaults.  An unknown version (zero, garbage, newer than this library)
 * is HERD_EINVAL naming the struct and its init function; a value out of
 * bounds is HERD_EINVAL naming the field, the value and the bounds.  `fn`
 * (the public function) starts every message. */
int hd_options_read(const hd_opt_struct *d, const void *in, void *out, const char *fn);

/* Fill `out` (d->size bytes) with every default of this library's version. */
void hd_options_defaults(const hd_opt_struct *d, void *out);

/* Check one option's value in the library struct `s` (bounds, enum names,
 * non-NULL list entries).  `fn` starts the message. */
int hd_option_check(const hd_opt_struct *d, const hd_opt *o, const void *s, const char *fn);

/* The option called `name` of `d`, or NULL. */
const hd_opt *hd_option_find(const hd_opt_struct *d, const char *name);

/* The descriptor whose operation is `operation`, or NULL. */
const hd_opt_struct *hd_options_find(const char *operation);

/* Bytes of the value an option of this type points to at `off`
 * (the first field). */
size_t hd_opt_type_size(hd_opt_type t);

/* The bounds of a numeric option in words: "an integer in 1..100",
 * "a number in (0, 3600]". */
void hd_opt_bounds_text(const hd_opt *o, char *buf, size_t size);

/* `v` as the shortest text that reads back to it, the same in every
 * locale ("0.25", "inf", "nan"). */
void hd_opt_fmt_double(double v, char *buf, size_t size);

/* The type's name in the table ("int", "double", "string_list"...). */
const char *hd_opt_type_name(hd_opt_type t);

#endif
