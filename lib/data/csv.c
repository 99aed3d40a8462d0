/* csv.c -- CSV (RFC 4180) in and out of frames: the options, the reader
 * and the writer.  The source and the tokenizer are csv_tokenize.c
 * (csv_internal.h); numbers are read and written by common/number.c.
 *
 * READING is built for files of tens of millions of rows, with a peak memory
 * close to the size of the parsed columns.  The input is never mapped or
 * loaded whole: a *source* hands out the input as a window of bytes (a file
 * through read(), HD_CSV_CHUNK bytes at a time, carrying an unfinished
 * record over to the next window; a caller's buffer as one window), and a
 * single *tokenizer* walks those windows twice:
 *
 *   pass 1  checks the structure (quotes, field counts, UTF-8), counts the
 *           rows and infers each column's type with a lexical classifier
 *           that converts nothing;
 *   pass 2  allocates every column at its exact size and converts.
 *
 * Growing arrays would double (and briefly triple, inside realloc) the
 * columns; two passes cost a second scan of bytes that are by then in the
 * page cache.  Pass 2 checks everything pass 1 checked, so a file that
 * changes between the passes gives an error, never a bad frame.
 *
 * Repeated strings (key columns) are interned per column, so that 10M rows
 * over 50k keys hold each key once (once per reading thread).
 *
 * PARALLEL READING (herd_csv_options.threads): both passes cut each window
 * into parts at record ends and give each part to a thread, which
 * tokenizes, checks and (pass 2) converts it with a reader of its own (its
 * own tokenizer over the part, its own type counts, interning tables and
 * string arena).  A record end is an LF after an even number of quotes
 * counted from a record's start (hd_csv_cut): wherever the tokenizer would
 * see the input as well-formed, that is exactly where it ends records, and
 * a part that is not well-formed fails where the single-threaded reader
 * would, with its message, because every part before it ended cleanly and
 * so started at a true record start.  The first failing part in input
 * order gives the error; each part counts the lines before it so that
 * messages carry the same line numbers.  Types are the maximum of the
 * parts' kinds, as the single-threaded reader's are the maximum over the
 * rows.  Pass 1 records every part's place and rows; pass 2 converts the
 * same parts, each into its rows of the exact-size columns, so no thread
 * waits for another's count.  A window with less than part_min bytes of
 * complete records (a small input, a record longer than the window) is
 * read by the calling thread alone, as before.
 *
 * WRITING goes to a temporary file next to the target, which is fsynced and
 * renamed over the target: readers see the old file or the new one.
 *
 * Numbers are read and written in the "C" locale whatever the host's
 * LC_NUMERIC is (in a German locale strtod stops at the "." of "0.5").
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* uselocale */
#endif

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/fileio_internal.h"
#include "common/hash_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"
#include "data/csv_internal.h"
#include "data/frame_internal.h"

/* ------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------- */

/* The options of one call, validated, with the defaults filled in. */
typedef struct csv_settings {
    char delim;
    const char *const *type_names;
    const int *types;
    size_t n_types;
    int float_digits;
    int crlf;
    herd_progress_fn progress;
    void *progress_user;
    int spaces;               /* herd_csv_spaces */
    int convert_out_of_range; /* read out-of-range numbers as strtod does */
    int threads;     /* reading: threads tokenizing and converting */
    size_t chunk;    /* reading a file: bytes per read() (0: HD_CSV_CHUNK) */
    size_t part_min; /* reading: the smallest part a thread takes */
} csv_settings;

/* Read the caller's options through their descriptor (field by field, the
 * fields of the caller's version) and check what only CSV knows. */
static int settings_load(const herd_csv_options *opt, const char *fn, csv_settings *s)
{
    herd_csv_options o;
    int rc = hd_options_read(&hd_csv_options_desc, opt, &o, fn);
    if (rc) return rc;
    unsigned char d = (unsigned char)o.delimiter;
    if (d == '"' || d == '\r' || d == '\n')
        return hd_error(HERD_EINVAL, "%s: herd_csv_options.delimiter is 0x%02X; it must "
                        "be an ASCII character other than '\"', CR, LF and NUL", fn, d);
    s->delim = o.delimiter;
    s->type_names = o.type_names;
    s->types = o.types;
    s->n_types = o.n_types;
    s->float_digits = o.float_digits;
    s->crlf = o.crlf;
    s->progress = o.progress;
    s->progress_user = o.progress_user;
    s->spaces = o.spaces;
    s->convert_out_of_range = o.convert_out_of_range;
    s->threads = o.threads ? o.threads : herd_default_threads();
    if (s->threads > HD_CSV_THREADS_MAX) s->threads = HD_CSV_THREADS_MAX;
    s->chunk = 0;
    s->part_min = HD_CSV_PART_MIN;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * String interning: one copy of each distinct value of a column
 * --------------------------------------------------------------------- */

typedef struct csv_slot {
    const char *s; /* NULL: empty slot */
    uint32_t len;  /* fields are at most HD_CSV_FIELD_MAX bytes */
    uint32_t hash;
} csv_slot;

typedef struct csv_intern {
    csv_slot *slots;
    size_t cap;   /* power of two, or 0 before the first value */
    size_t count; /* distinct values held */
    int off;      /* interning stopped: the column is mostly unique */
    /* The previous row's value: key columns are often sorted or clustered,
     * and a repeat then costs one memcmp instead of a hash and a probe. */
    const char *last;
    size_t last_len;
} csv_intern;

static void intern_free(csv_intern *in)
{
    free(in->slots);
    in->slots = NULL;
    in->cap = in->count = 0;
    in->last = NULL;
}

static uint32_t intern_hash(const char *s, size_t len)
{
    uint64_t h = hd_hash_bytes(s, len, 0);
    return (uint32_t)(h ^ (h >> 32));
}

static int intern_resize(csv_intern *in, size_t ncap)
{
    csv_slot *ns = hd_calloc(ncap, sizeof *ns);
    if (!ns) return HERD_ENOMEM;
    for (size_t i = 0; i < in->cap; i++) {
        if (!in->slots[i].s) continue;
        size_t j = in->slots[i].hash & (ncap - 1);
        while (ns[j].s) j = (j + 1) & (ncap - 1);
        ns[j] = in->slots[i];
    }
    free(in->slots);
    in->slots = ns;
    in->cap = ncap;
    return HERD_OK;
}

/* Make room for one more value.  Interning stops for good when, past the
 * first HD_CSV_INTERN_ROWS rows, distinct values exceed half the rows seen:
 * the column is mostly unique (ids, free text), so the table would cost
 * memory and time and save nothing.  The test runs when the table would
 * grow, which is when it would start costing more memory. */
static int intern_reserve(csv_intern *in, size_t rows_seen)
{
    if ((in->count + 1) * 2 <= in->cap) return HERD_OK;
    if (rows_seen >= HD_CSV_INTERN_ROWS && in->count + 1 > rows_seen / 2) {
        intern_free(in);
        in->off = 1;
        return HERD_OK;
    }
    return intern_resize(in, in->cap ? in->cap * 2 : HD_CSV_INTERN_CAP0);
}

/* The column's copy of s[0..len): the one already stored, or a new one. */
static const char *intern_lookup(csv_intern *in, hd_arena *arena, const char *s, size_t len,
                                 size_t rows_seen)
{
    if (in->off) return hd_arena_strndup(arena, s, len);
    if (intern_reserve(in, rows_seen)) return NULL;
    if (in->off) return hd_arena_strndup(arena, s, len);
    uint32_t h = intern_hash(s, len);
    size_t j = h & (in->cap - 1);
    for (; in->slots[j].s; j = (j + 1) & (in->cap - 1)) {
        const csv_slot *sl = &in->slots[j];
        if (sl->hash == h && sl->len == len && memcmp(sl->s, s, len) == 0) return sl->s;
    }
    const char *copy = hd_arena_strndup(arena, s, len);
    if (!copy) return NULL;
    in->slots[j].s = copy;
    in->slots[j].len = (uint32_t)len;
    in->slots[j].hash = h;
    in->count++;
    return copy;
}

static const char *intern_get(csv_intern *in, hd_arena *arena, const char *s, size_t len,
                              size_t rows_seen)
{
    if (in->last && len == in->last_len && memcmp(in->last, s, len) == 0) return in->last;
    const char *v = intern_lookup(in, arena, s, len, rows_seen);
    in->last = v;
    in->last_len = len;
    return v;
}

/* ------------------------------------------------------------------------
 * The reader
 * --------------------------------------------------------------------- */

/* Pass 1's view of a column's fields, ordered so that the type is the max. */
enum { K_EMPTY = 0, K_INT, K_FLOAT, K_TEXT };

typedef struct csv_col {
    int type;         /* forced, or inferred after pass 1 */
    int forced;       /* the caller chose the type */
    int kind;         /* pass 1: K_* */
    size_t nmissing;  /* pass 1: empty fields */
    void *data;       /* pass 2: nrows values */
    uint8_t *mask;    /* pass 2: integer columns with missing values */
    hd_arena *arena;  /* pass 2: string bytes */
    csv_intern intern;
} csv_col;

typedef struct csv_reader {
    const csv_settings *set;
    csv_source *src;
    csv_tok tok;
    char **names;     /* the header, ncols names */
    csv_col *cols;
    size_t ncols;
    size_t nrows;     /* counted by pass 1 */
    char *scratch;    /* a quoted field with its doubled quotes undone */
    size_t scratch_cap;
    uint64_t bytes;   /* the input's size, for progress */
    double due;       /* when progress is next reported */
    /* Parallel reading: one reader per thread (sub[0..nsub)), and the
     * parts pass 1 read in parallel, for pass 2 to read the same way. */
    struct csv_reader *sub;
    size_t nsub;
    struct csv_span *spans;
    size_t nspans, capspans;
    size_t nspans_done; /* pass 2: spans before this one are read */
} csv_reader;

/* A part of the input read in parallel: input offsets [start, end), its
 * rows, and the row it starts at. */
typedef struct csv_span {
    uint64_t start, end;
    size_t rows, row0;
} csv_span;

static void sub_readers_free(csv_reader *r);

static void reader_free(csv_reader *r)
{
    sub_readers_free(r);
    free(r->spans);
    for (size_t j = 0; r->cols && j < r->ncols; j++) {
        csv_col *c = &r->cols[j];
        free(c->data);
        free(c->mask);
        hd_arena_free(c->arena);
        intern_free(&c->intern);
    }
    for (size_t j = 0; r->names && j < r->ncols; j++) free(r->names[j]);
    free(r->names);
    free(r->cols);
    free(r->tok.f);
    free(r->scratch);
}

/* A field's value: its bytes, or a copy in the scratch buffer with doubled
 * quotes undone. */
static int field_value(csv_reader *r, const csv_field *f, const char **s, size_t *len)
{
    if (!(f->flags & F_ESCAPED)) {
        *s = f->p;
        *len = f->len;
        return HERD_OK;
    }
    if (hd_grow((void **)&r->scratch, &r->scratch_cap, f->len + 1, 1)) return HERD_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < f->len; i++) {
        r->scratch[n++] = f->p[i];
        if (f->p[i] == '"') i++; /* skip the second quote of a pair */
    }
    *s = r->scratch;
    *len = n;
    return HERD_OK;
}

static int check_utf8(const csv_reader *r, size_t col, const csv_field *f)
{
    size_t bad;
    if (hd_utf8_valid(f->p, f->len, &bad)) return HERD_OK;
    const csv_source *s = r->src;
    uint64_t off = s->base + (uint64_t)(f->p - s->data) + bad;
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, col,
                    "invalid UTF-8 at byte offset %" PRIu64 " (byte 0x%02X); convert the "
                    "file to UTF-8 (for example with iconv)",
                    off, (unsigned char)f->p[bad]);
}

/* --- the header --- */

/* Index table over the header names: duplicates, and the forced names. */
typedef struct name_index {
    uint32_t *slot; /* column + 1, 0 = empty */
    size_t cap;
} name_index;

static size_t name_find(const name_index *ix, char *const *names, const char *name)
{
    size_t j = (size_t)hd_hash_bytes(name, strlen(name), 0) & (ix->cap - 1);
    for (; ix->slot[j]; j = (j + 1) & (ix->cap - 1))
        if (strcmp(names[ix->slot[j] - 1], name) == 0) return ix->slot[j] - 1;
    return HD_NO_COL;
}

/* Build the index; HERD_EFORMAT naming both columns on a duplicate. */
static int name_index_build(csv_reader *r, name_index *ix)
{
    ix->cap = 16;
    while (ix->cap < r->ncols * 2) ix->cap *= 2;
    ix->slot = hd_calloc(ix->cap, sizeof *ix->slot);
    if (!ix->slot) return HERD_ENOMEM;
    for (size_t j = 0; j < r->ncols; j++) {
        const char *name = r->names[j];
        size_t k = (size_t)hd_hash_bytes(name, strlen(name), 0) & (ix->cap - 1);
        for (; ix->slot[k]; k = (k + 1) & (ix->cap - 1)) {
            size_t other = ix->slot[k] - 1;
            if (strcmp(r->names[other], name) == 0)
                return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, HD_NO_COL,
                                "column '%s' appears twice in the header (columns %zu and "
                                "%zu); column names must be unique: rename one of them",
                                name, other + 1, j + 1);
        }
        ix->slot[k] = (uint32_t)(j + 1);
    }
    return HERD_OK;
}

/* Copy and check one header name. */
static int header_name(csv_reader *r, size_t j, char **out)
{
    const csv_field *f = &r->tok.f[j];
    const char *s;
    size_t len;
    int rc;
    if ((f->flags & F_HIGH) && (rc = check_utf8(r, j, f))) return rc;
    if ((rc = field_value(r, f, &s, &len))) return rc;
    if (len == 0)
        return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                        "the header gives this column no name; every column needs a "
                        "non-empty name (check for a trailing delimiter)");
    *out = hd_strndup(s, len);
    if (!*out) return HERD_ENOMEM;
    if (hd_name_check(*out, HERD_NAME_MAX, "the name")) {
        char why[512];
        snprintf(why, sizeof why, "%s", herd_last_error());
        return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j, "%s", why);
    }
    return HERD_OK;
}

/* Read the header: the column names, checked. */
static int read_header(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc = hd_csv_tok_begin(t);
    if (!rc) rc = hd_csv_tok_next(t);
    if (rc == TOK_END)
        return hd_error(HERD_EFORMAT, "%s: the input is empty; a CSV needs a header line "
                        "with the column names", r->src->name);
    if (rc) return rc;
    r->ncols = t->nf;
    r->names = hd_calloc(r->ncols, sizeof *r->names);
    r->cols = hd_calloc(r->ncols, sizeof *r->cols);
    if (!r->names || !r->cols) return HERD_ENOMEM;
    for (size_t j = 0; j < r->ncols; j++)
        if ((rc = header_name(r, j, &r->names[j]))) return rc;
    return HERD_OK;
}

/* "'a', 'b', 'c'" for a message, cut when long. */
static const char *header_list(const csv_reader *r, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < r->ncols; j++) {
        int n = snprintf(buf + o, size - o, "%s'%s'", j ? ", " : "", r->names[j]);
        if (n < 0 || (size_t)n >= size - o) {
            memcpy(buf + (o + 4 < size ? o : size - 4), "...", 4);
            break;
        }
        o += (size_t)n;
    }
    return buf;
}

/* Give the columns named in the options their forced types. */
static int apply_forced_types(csv_reader *r, const name_index *ix)
{
    const csv_settings *set = r->set;
    for (size_t i = 0; i < set->n_types; i++) {
        size_t j = name_find(ix, r->names, set->type_names[i]);
        if (j == HD_NO_COL) {
            char list[400];
            return hd_error(HERD_ENOTFOUND, "%s: column '%s' named in options.type_names[%zu] "
                            "is not in the header; the header has %s",
                            r->src->name, set->type_names[i], i,
                            header_list(r, list, sizeof list));
        }
        if (r->cols[j].forced)
            return hd_error(HERD_EINVAL, "argument 'options.type_names' names column '%s' "
                            "twice; give each column one type", set->type_names[i]);
        r->cols[j].forced = 1;
        r->cols[j].type = set->types[i];
    }
    return HERD_OK;
}

static int setup_columns(csv_reader *r)
{
    name_index ix = {0};
    int rc = name_index_build(r, &ix);
    if (!rc) rc = apply_forced_types(r, &ix);
    free(ix.slot);
    if (rc) return rc;
    /* Messages about data rows name the columns; fields beyond the header
     * are counted but not stored. */
    r->tok.names = (const char *const *)r->names;
    r->tok.nnames = r->ncols;
    r->tok.fmax = r->ncols;
    r->tok.header = 0;
    return HERD_OK;
}

/* --- value errors (forced types, and pass 2) --- */

static int err_not_integer(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is not an integer, and the column was given type %s by the caller; "
                    "fix the value, or read the column as float64 or string",
                    hd_quote(f->p, f->len, q, sizeof q), herd_type_name(r->cols[j].type));
}

static int err_int_range(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    int is32 = r->cols[j].type == HERD_TYPE_INT32;
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is outside the %s range [%" PRId64 ", %" PRId64 "]; read the "
                    "column as %s",
                    hd_quote(f->p, f->len, q, sizeof q), is32 ? "int32" : "int64",
                    is32 ? (int64_t)INT32_MIN : INT64_MIN, is32 ? (int64_t)INT32_MAX : INT64_MAX,
                    is32 ? "int64" : "float64 or string");
}

static int err_not_number(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is not a number, and the column %s %s; fix the value, or read "
                    "the column as string",
                    hd_quote(f->p, f->len, q, sizeof q),
                    r->cols[j].forced ? "was given type" : "was inferred as",
                    herd_type_name(r->cols[j].type));
}

/* A finite decimal that overflowed to infinity or underflowed to zero in
 * a float64 or float32 column (range: HD_NUM_OVERFLOW or _UNDERFLOW). */
static int err_float_range(csv_reader *r, size_t j, const csv_field *f, int range)
{
    char q[96];
    int is32 = r->cols[j].type == HERD_TYPE_FLOAT32;
    hd_quote(f->p, f->len, q, sizeof q);
    if (range == HD_NUM_OVERFLOW)
        return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                           "%s is beyond the %s range (largest magnitude %s) and would read "
                           "as infinity; fix the value%s, or set the option "
                           "convert_out_of_range to read it as infinity",
                           q, is32 ? "float32" : "float64",
                           HD_NUMF(is32 ? "%.9g" : "%.17g", is32 ? (double)FLT_MAX : DBL_MAX),
                           is32 ? ", read the column as float64" : "");
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                       "%s is nonzero but below the %s range (smallest magnitude %s) and would "
                       "read as 0; fix the value%s, or set the option convert_out_of_range to "
                       "read it as 0",
                       q, is32 ? "float32" : "float64",
                       HD_NUMF("%.9g", is32 ? (double)FLT_TRUE_MIN : DBL_TRUE_MIN),
                       is32 ? ", read the column as float64" : "");
}

/* An integer beyond int64 in a column whose type is being inferred: as
 * float64 it would round (9223372036854775809 reads as ...808). */
static int err_int_beyond(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                       "%s is an integer beyond the int64 range [%" PRId64 ", %" PRId64 "]; "
                       "force the column's type to string (exact) or float64 (rounded to 53 "
                       "bits), or set the option convert_out_of_range to infer float64",
                       hd_quote(f->p, f->len, q, sizeof q), INT64_MIN, INT64_MAX);
}

/* --- spaces around fields (herd_csv_options.spaces) --- */

/* The field as the reader sees it: with HERD_CSV_SPACES_TRIM, without the
 * spaces around it (a doubled quote is never split: spaces are not
 * quotes). */
static csv_field field_seen(const csv_reader *r, const csv_field *f)
{
    csv_field v = *f;
    if (r->set->spaces == HERD_CSV_SPACES_TRIM) hd_num_trim(&v.p, &v.len);
    return v;
}

/* The text a number is read from: the field, without the spaces around
 * it unless they are kept.  A field with a doubled quote is never a
 * number: HD_NUM_TEXT. */
static int number_lex(const csv_reader *r, const csv_field *f, int64_t *v)
{
    if (f->flags & F_ESCAPED) return HD_NUM_TEXT;
    const char *p = f->p;
    size_t len = f->len;
    if (r->set->spaces != HERD_CSV_SPACES_KEEP) hd_num_trim(&p, &len);
    return len ? hd_num_lex(p, len, v) : HD_NUM_TEXT;
}

/* Parse a float field of column j (float64 or float32) into *out: an
 * error names the line and column when it is no number, or out of range
 * and the options do not convert. */
static int parse_float(csv_reader *r, size_t j, const csv_field *f, int is32, double *out)
{
    if (f->flags & F_ESCAPED) return err_not_number(r, j, f);
    const char *p = f->p;
    size_t len = f->len;
    if (r->set->spaces != HERD_CSV_SPACES_KEEP) hd_num_trim(&p, &len);
    int range = HD_NUM_IN_RANGE, rc = -1;
    if (len && is32) {
        float v;
        rc = hd_num_parse_f32(p, len, &v, &range);
        *out = v;
    } else if (len) {
        rc = hd_num_parse_f64(p, len, out, &range);
    }
    if (rc == HERD_ENOMEM) return rc;
    if (rc) return err_not_number(r, j, f);
    if (range != HD_NUM_IN_RANGE && !r->set->convert_out_of_range)
        return err_float_range(r, j, f, range);
    return HERD_OK;
}

/* An integer field of an integer column, checked against the column's
 * type.  Used by pass 1 (forced types) and pass 2. */
static int check_integer(csv_reader *r, size_t j, const csv_field *f, int lex, int64_t v)
{
    if (lex == HD_NUM_INT_BIG) return err_int_range(r, j, f);
    if (lex != HD_NUM_INT) return err_not_integer(r, j, f);
    if (r->cols[j].type == HERD_TYPE_INT32 && (v < INT32_MIN || v > INT32_MAX))
        return err_int_range(r, j, f);
    return HERD_OK;
}

/* --- pass 1: structure, counts, types --- */

static int pass1_field(csv_reader *r, size_t j, const csv_field *raw)
{
    csv_col *c = &r->cols[j];
    const csv_field seen = field_seen(r, raw), *f = &seen;
    int rc;
    if ((f->flags & F_HIGH) && (rc = check_utf8(r, j, f))) return rc;
    if (f->len == 0) {
        c->nmissing++;
        return HERD_OK;
    }
    if (c->kind == K_TEXT || (c->forced && c->type == HERD_TYPE_STRING)) return HERD_OK;
    int64_t v = 0;
    int lex = number_lex(r, f, &v);
    if (!c->forced) {
        static const int kind_of[] = {[HD_NUM_TEXT] = K_TEXT, [HD_NUM_INT] = K_INT,
                                      [HD_NUM_INT_BIG] = K_FLOAT, [HD_NUM_FLOAT] = K_FLOAT};
        if (lex == HD_NUM_INT_BIG && !r->set->convert_out_of_range)
            return err_int_beyond(r, j, f);
        if (kind_of[lex] > c->kind) c->kind = kind_of[lex];
        return HERD_OK;
    }
    if (c->type == HERD_TYPE_INT32 || c->type == HERD_TYPE_INT64)
        return check_integer(r, j, f, lex, v);
    return lex == HD_NUM_TEXT ? err_not_number(r, j, f) : HERD_OK;
}

static int ragged(csv_reader *r)
{
    return hd_csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, HD_NO_COL,
                    "line %" PRIu64 " has %zu fields, the header has %zu; quote fields that "
                    "contain the delimiter '%c', and give every row the header's columns",
                    r->tok.rec_line, r->tok.nf, r->ncols, r->set->delim);
}

/* --- progress --- */

#define CSV_PROGRESS_S 0.25
#define CSV_PROGRESS_ROWS 1024 /* rows between looks at the clock */

/* Report `rows` rows read (of `total`, 0 while unknown) and the bytes
 * behind them.  A cancel is HERD_ECANCELED. */
static int progress_report(csv_reader *r, size_t rows, size_t total)
{
    herd_progress p;
    memset(&p, 0, sizeof p);
    p.rows_done = rows;
    p.rows_total = total;
    p.bytes_total = r->bytes;
    p.bytes_done = r->src->base + r->tok.pos;
    if (p.bytes_done > p.bytes_total) p.bytes_done = p.bytes_total;
    r->due = hd_now() + CSV_PROGRESS_S;
    if (!hd_progress_emit(r->set->progress, r->set->progress_user, &p)) return HERD_OK;
    return hd_error(HERD_ECANCELED, "%s: cancelled by the progress callback after %zu rows",
                    r->src->name, rows);
}

static int progress_tick(csv_reader *r, size_t rows, size_t total)
{
    if (!r->set->progress || rows % CSV_PROGRESS_ROWS || hd_now() < r->due) return HERD_OK;
    return progress_report(r, rows, total);
}

/* The start of a pass: its phase and a first report. */
static int progress_phase(csv_reader *r, const char *phase, size_t total)
{
    hd_scope_phase(phase);
    return r->set->progress ? progress_report(r, 0, total) : HERD_OK;
}

/* The record just tokenized: its shape, its fields' kinds. */
static int pass1_record(csv_reader *r)
{
    const csv_tok *t = &r->tok;
    if (t->nf != r->ncols) return ragged(r);
    for (size_t j = 0; j < r->ncols; j++) {
        int rc = pass1_field(r, j, &t->f[j]);
        if (rc) return rc;
    }
    r->nrows++;
    return HERD_OK;
}

static int pass1_parallel(csv_reader *r);

static int pass1(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc = progress_phase(r, "csv_scan", 0);
    if (!rc && r->nsub > 1) rc = pass1_parallel(r);
    while (rc == HERD_OK && (rc = hd_csv_tok_next(t)) == HERD_OK) {
        if ((rc = pass1_record(r))) return rc;
        rc = progress_tick(r, r->nrows, 0);
    }
    if (rc == TOK_END) rc = r->set->progress ? progress_report(r, r->nrows, r->nrows) : HERD_OK;
    return rc;
}

/* --- between the passes --- */

static int infer_type(int kind)
{
    switch (kind) {
    case K_INT: return HERD_TYPE_INT64;
    case K_TEXT: return HERD_TYPE_STRING;
    default: return HERD_TYPE_FLOAT64; /* numbers, and all-empty columns */
    }
}

/* Exact-size arrays for pass 2. */
static int alloc_columns(csv_reader *r)
{
    for (size_t j = 0; j < r->ncols; j++) {
        csv_col *c = &r->cols[j];
        if (!c->forced) c->type = infer_type(c->kind);
        c->data = hd_malloc(r->nrows, hd_type_size(c->type));
        if (!c->data) return HERD_ENOMEM;
        int is_int = c->type == HERD_TYPE_INT32 || c->type == HERD_TYPE_INT64;
        if (is_int && c->nmissing) {
            c->mask = hd_malloc(r->nrows, 1);
            if (!c->mask) return HERD_ENOMEM;
        }
        if (c->type == HERD_TYPE_STRING && !(c->arena = hd_arena_new())) return HERD_ENOMEM;
    }
    return HERD_OK;
}

/* --- pass 2: conversion --- */

static int file_changed(const csv_reader *r)
{
    return hd_error(HERD_EIO, "%s: the file changed while it was being read (line %" PRIu64
                    "); read it again once the writer has finished",
                    r->src->name, r->tok.rec_line);
}

static int convert_int(csv_reader *r, size_t j, const csv_field *f, size_t row)
{
    csv_col *c = &r->cols[j];
    int64_t v = 0;
    int present = f->len != 0;
    if (present) {
        int lex = number_lex(r, f, &v);
        int rc = check_integer(r, j, f, lex, v);
        if (rc) return rc;
    } else if (!c->mask) {
        return file_changed(r); /* pass 1 saw no missing value here */
    }
    if (c->mask) c->mask[row] = (uint8_t)present;
    if (c->type == HERD_TYPE_INT32) ((int32_t *)c->data)[row] = (int32_t)v;
    else ((int64_t *)c->data)[row] = v;
    return HERD_OK;
}

static int convert_f64(csv_reader *r, size_t j, const csv_field *f, size_t row)
{
    double v = NAN;
    int rc;
    if (f->len && (rc = parse_float(r, j, f, 0, &v))) return rc;
    ((double *)r->cols[j].data)[row] = v;
    return HERD_OK;
}

static int convert_f32(csv_reader *r, size_t j, const csv_field *f, size_t row)
{
    double v = NAN;
    int rc;
    if (f->len && (rc = parse_float(r, j, f, 1, &v))) return rc;
    ((float *)r->cols[j].data)[row] = (float)v; /* exact: v came from a float */
    return HERD_OK;
}

static int convert_string(csv_reader *r, size_t j, const csv_field *f, size_t row)
{
    csv_col *c = &r->cols[j];
    const char *v = NULL;
    if (f->len || (f->flags & F_QUOTED)) { /* "" is an empty string, not missing */
        const char *s;
        size_t len;
        int rc;
        /* Checked again: the frame must never hold invalid UTF-8, even if
         * the file changed since pass 1. */
        if ((f->flags & F_HIGH) && (rc = check_utf8(r, j, f))) return rc;
        if ((rc = field_value(r, f, &s, &len))) return rc;
        v = intern_get(&c->intern, c->arena, s, len, row + 1);
        if (!v) return HERD_ENOMEM;
    }
    ((const char **)c->data)[row] = v;
    return HERD_OK;
}

static int convert_row(csv_reader *r, size_t row)
{
    for (size_t j = 0; j < r->ncols; j++) {
        const csv_field f = field_seen(r, &r->tok.f[j]);
        int rc;
        switch (r->cols[j].type) {
        case HERD_TYPE_FLOAT64: rc = convert_f64(r, j, &f, row); break;
        case HERD_TYPE_FLOAT32: rc = convert_f32(r, j, &f, row); break;
        case HERD_TYPE_STRING: rc = convert_string(r, j, &f, row); break;
        default: rc = convert_int(r, j, &f, row); break;
        }
        if (rc) return rc;
    }
    return HERD_OK;
}

/* The record just tokenized, converted into row `row` of `limit`. */
static int pass2_record(csv_reader *r, size_t row, size_t limit)
{
    if (row == limit) return file_changed(r);
    if (r->tok.nf != r->ncols) return ragged(r);
    return convert_row(r, row);
}

static int pass2_parallel(csv_reader *r, size_t *row);

static int pass2(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc = hd_csv_src_rewind(r->src);
    if (!rc) rc = hd_csv_tok_begin(t);
    if (!rc) rc = hd_csv_tok_next(t); /* the header again */
    if (rc == TOK_END || (rc == HERD_OK && t->nf != r->ncols)) return file_changed(r);
    if (rc) return rc;
    size_t row = 0;
    if ((rc = progress_phase(r, "csv_convert", r->nrows))) return rc;
    for (;;) {
        /* The parts pass 1 read in parallel, then one record alone. */
        if (r->nspans && (rc = pass2_parallel(r, &row))) return rc;
        if ((rc = hd_csv_tok_next(t)) != HERD_OK) break;
        if ((rc = pass2_record(r, row, r->nrows))) return rc;
        row++;
        if ((rc = progress_tick(r, row, r->nrows))) return rc;
    }
    if (rc != TOK_END && rc != HERD_OK) return rc;
    if (row != r->nrows) return file_changed(r);
    if (r->set->progress && (rc = progress_report(r, row, r->nrows))) return rc;
    /* The interning tables are no longer needed: free them before the
     * frame is built; the threads' strings join the columns' arenas. */
    for (size_t j = 0; j < r->ncols; j++) intern_free(&r->cols[j].intern);
    for (size_t i = 0; i < r->nsub; i++) {
        for (size_t j = 0; j < r->ncols; j++) {
            csv_col *c = &r->sub[i].cols[j];
            intern_free(&c->intern);
            if (c->arena) hd_arena_absorb(r->cols[j].arena, c->arena);
            c->arena = NULL;
        }
    }
    return HERD_OK;
}

/* Hand the columns to a new frame. */
static int build_frame(csv_reader *r, herd_frame **out)
{
    herd_frame *f;
    int rc = herd_frame_new(&f);
    if (rc) return rc;
    for (size_t j = 0; j < r->ncols; j++) {
        csv_col *c = &r->cols[j];
        /* hd_frame_adopt owns the memory from here on, even when it fails. */
        rc = hd_frame_adopt(f, r->names[j], c->type, c->data, c->mask, c->arena, r->nrows);
        c->data = NULL;
        c->mask = NULL;
        c->arena = NULL;
        if (rc) {
            herd_frame_free(f);
            return rc;
        }
    }
    *out = f;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Parallel reading (the design is at the top of this file)
 * --------------------------------------------------------------------- */

/* One reader per thread: the settings, names and column types of the main
 * reader, its own tokenizer, scratch and counts. */
static int sub_readers_new(csv_reader *r)
{
    if (r->set->threads < 2) return HERD_OK;
    size_t n = (size_t)r->set->threads;
    if (!(r->sub = hd_calloc(n, sizeof *r->sub))) return HERD_ENOMEM;
    r->nsub = n;
    for (size_t i = 0; i < n; i++) {
        csv_reader *s = &r->sub[i];
        s->set = r->set;
        s->ncols = r->ncols;
        if (!(s->cols = hd_calloc(r->ncols, sizeof *s->cols))) return HERD_ENOMEM;
        for (size_t j = 0; j < r->ncols; j++) {
            s->cols[j].type = r->cols[j].type;
            s->cols[j].forced = r->cols[j].forced;
        }
    }
    return HERD_OK;
}

/* After pass 1: the threads' counts join the main reader's; then each
 * thread converts into the main reader's arrays (rows of its own) and
 * interns strings into an arena of its own. */
static int sub_readers_columns(csv_reader *r)
{
    for (size_t i = 0; i < r->nsub; i++) {
        for (size_t j = 0; j < r->ncols; j++) {
            csv_col *c = &r->sub[i].cols[j], *m = &r->cols[j];
            c->type = m->type;
            c->data = m->data;
            c->mask = m->mask;
            if (m->type == HERD_TYPE_STRING && !(c->arena = hd_arena_new())) return HERD_ENOMEM;
        }
    }
    return HERD_OK;
}

static void sub_readers_merge_counts(csv_reader *r)
{
    for (size_t i = 0; i < r->nsub; i++) {
        for (size_t j = 0; j < r->ncols; j++) {
            const csv_col *c = &r->sub[i].cols[j];
            if (c->kind > r->cols[j].kind) r->cols[j].kind = c->kind;
            r->cols[j].nmissing += c->nmissing;
        }
    }
}

static void sub_readers_free(csv_reader *r)
{
    for (size_t i = 0; i < r->nsub; i++) {
        csv_reader *s = &r->sub[i];
        for (size_t j = 0; s->cols && j < s->ncols; j++) {
            hd_arena_free(s->cols[j].arena); /* data and mask are the main reader's */
            intern_free(&s->cols[j].intern);
        }
        free(s->cols);
        free(s->tok.f);
        free(s->scratch);
    }
    free(r->sub);
    r->sub = NULL;
    r->nsub = 0;
}

/* One part of a window, for one thread. */
typedef struct csv_job {
    csv_reader *main, *sub;
    int pass;
    size_t from, to;   /* window offsets of the part */
    size_t row0, rows; /* pass 2: the rows it converts; pass 1: the rows it counted */
    csv_source view;   /* the part's bytes, as a source of their own */
    uint64_t end_line; /* the line after its last record */
    int rc;
    hd_saved_error err;
} csv_job;

static void *job_run(void *arg)
{
    csv_job *j = arg;
    const csv_reader *m = j->main;
    const csv_source *src = m->src;
    csv_reader *r = j->sub;
    hd_csv_src_init_memory(&j->view, src->name, src->data + j->from, j->to - j->from);
    j->view.base = src->base + j->from;
    r->src = &j->view;
    csv_tok *t = &r->tok;
    csv_field *f = t->f;
    size_t fcap = t->fcap;
    hd_csv_tok_init(t, &j->view, m->set->delim);
    t->f = f; /* kept from the thread's previous parts */
    t->fcap = fcap;
    t->names = m->tok.names;
    t->nnames = m->tok.nnames;
    t->fmax = m->tok.fmax;
    t->header = 0;
    /* Messages name physical lines: count those before the part. */
    t->line = m->tok.line + hd_csv_count_lines(src->data + m->tok.pos, j->from - m->tok.pos);
    r->nrows = 0;
    int rc;
    while ((rc = hd_csv_tok_next(t)) == HERD_OK) {
        rc = j->pass == 1 ? pass1_record(r) : pass2_record(r, j->row0 + r->nrows, j->row0 + j->rows);
        if (rc) break;
        if (j->pass == 2) r->nrows++; /* pass1_record counts its own */
    }
    if (rc == TOK_END) rc = j->pass == 2 && r->nrows != j->rows ? file_changed(r) : HERD_OK;
    if (j->pass == 1) j->rows = r->nrows;
    j->end_line = t->line;
    if (rc) hd_error_save(&j->err);
    j->rc = rc;
    return NULL;
}

/* Run jobs[0..n): 1.. on threads of their own, 0 on this one (a job whose
 * thread cannot start runs here too).  The first failing job in input
 * order gives the error: every job before it ended cleanly, so it read
 * what the single-threaded reader would have. */
static int jobs_run(csv_job *jobs, size_t n)
{
    pthread_t tid[HD_CSV_THREADS_MAX];
    int started[HD_CSV_THREADS_MAX] = {0};
    for (size_t i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, job_run, &jobs[i]) == 0;
    job_run(&jobs[0]);
    for (size_t i = 1; i < n; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else job_run(&jobs[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (jobs[i].rc) return hd_error_restore(&jobs[i].err);
    return HERD_OK;
}

static int span_add(csv_reader *r, const csv_span *sp)
{
    if (r->nspans == r->capspans &&
        hd_grow((void **)&r->spans, &r->capspans, r->nspans + 1, sizeof *r->spans))
        return HERD_ENOMEM;
    r->spans[r->nspans++] = *sp;
    return HERD_OK;
}

static void job_init(csv_job *j, csv_reader *r, size_t i, int pass, size_t from, size_t to)
{
    memset(j, 0, sizeof *j);
    j->main = r;
    j->sub = &r->sub[i];
    j->pass = pass;
    j->from = from;
    j->to = to;
}

/* Pass 1 over the current window's complete records, in parallel: 1 when
 * done (the tokenizer is past them), 0 when the window has too few. */
static int pass1_window(csv_reader *r)
{
    csv_tok *t = &r->tok;
    const csv_source *s = r->src;
    size_t min = r->set->part_min, nparts = (s->len - t->pos) / min;
    if (nparts > r->nsub) nparts = r->nsub;
    if (nparts < 2) return 0;
    size_t cuts[HD_CSV_THREADS_MAX + 1];
    size_t last = hd_csv_cut(s, t->pos, cuts, nparts);
    if (last - t->pos < 2 * min) return 0;
    csv_job jobs[HD_CSV_THREADS_MAX];
    for (size_t i = 0; i < nparts; i++) job_init(&jobs[i], r, i, 1, cuts[i], cuts[i + 1]);
    int rc = jobs_run(jobs, nparts);
    for (size_t i = 0; !rc && i < nparts; i++) {
        csv_span sp = {s->base + cuts[i], s->base + cuts[i + 1], jobs[i].rows, r->nrows};
        r->nrows += jobs[i].rows;
        if (cuts[i] < cuts[i + 1]) rc = span_add(r, &sp);
    }
    if (rc) return rc;
    t->line = jobs[nparts - 1].end_line;
    t->pos = last;
    if (r->set->progress && hd_now() >= r->due && (rc = progress_report(r, r->nrows, 0)))
        return rc;
    return 1;
}

/* Pass 1, multi-threaded: windows in parallel parts; a window with too
 * few complete records is slid forward, or its next record read alone. */
static int pass1_parallel(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc;
    for (;;) {
        if ((rc = pass1_window(r)) < 0) return rc;
        if (rc) continue;
        if (t->pos > 0 && !r->src->eof) { /* more of the input fits: read it */
            if ((rc = hd_csv_tok_refill(t))) return rc;
            continue;
        }
        if ((rc = hd_csv_tok_next(t)) != HERD_OK) break;
        if ((rc = pass1_record(r)) || (rc = progress_tick(r, r->nrows, 0))) return rc;
    }
    if (rc == TOK_END) sub_readers_merge_counts(r);
    return rc;
}

/* Pass 2: the parts pass 1 read in parallel that start here and lie in
 * the window, converted in parallel, as many times as they are there.
 * Leaves the tokenizer where one record is to be read alone. */
static int pass2_parallel(csv_reader *r, size_t *row)
{
    csv_tok *t = &r->tok;
    const csv_source *s = r->src;
    for (int slid = 0;;) {
        uint64_t at = s->base + t->pos, wend = s->base + s->len;
        size_t k = r->nspans_done;
        while (k < r->nspans && r->spans[k].end <= at) k++; /* read alone meanwhile */
        r->nspans_done = k;
        if (k == r->nspans || r->spans[k].start != at) return HERD_OK;
        size_t n = 0;
        while (n < r->nsub && k + n < r->nspans && r->spans[k + n].end <= wend &&
               r->spans[k + n].start == (n ? r->spans[k + n - 1].end : at))
            n++;
        if (!n) { /* not in the window: slide it once, else read alone */
            if (slid || t->pos == 0 || s->eof) return HERD_OK;
            int rc = hd_csv_tok_refill(t);
            if (rc) return rc;
            slid = 1;
            continue;
        }
        if (r->spans[k].row0 != *row) return file_changed(r);
        csv_job jobs[HD_CSV_THREADS_MAX];
        size_t row0 = *row;
        for (size_t i = 0; i < n; i++) {
            const csv_span *sp = &r->spans[k + i];
            job_init(&jobs[i], r, i, 2, (size_t)(sp->start - s->base), (size_t)(sp->end - s->base));
            jobs[i].row0 = row0;
            jobs[i].rows = sp->rows;
            if (row0 + sp->rows > r->nrows) return file_changed(r);
            row0 += sp->rows;
        }
        int rc = jobs_run(jobs, n);
        if (rc) return rc;
        *row = row0;
        t->line = jobs[n - 1].end_line;
        t->pos = jobs[n - 1].to;
        r->nspans_done = k + n;
        slid = 0;
        if (r->set->progress && hd_now() >= r->due && (rc = progress_report(r, *row, r->nrows)))
            return rc;
    }
}

static int csv_read(csv_source *src, const csv_settings *set, herd_frame **out)
{
    static const char *const plan[] = {"csv_scan", "csv_convert"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, 2, NULL, NULL);
    csv_reader r;
    memset(&r, 0, sizeof r);
    r.set = set;
    r.src = src;
    r.bytes = src->fd >= 0 ? (uint64_t)src->st.st_size : src->mem_len;
    hd_csv_tok_init(&r.tok, src, set->delim);
    int rc = read_header(&r);
    if (!rc) rc = setup_columns(&r);
    if (!rc) rc = sub_readers_new(&r);
    if (!rc) rc = pass1(&r);
    if (!rc) rc = alloc_columns(&r);
    if (!rc) rc = sub_readers_columns(&r);
    if (!rc) rc = pass2(&r);
    if (!rc) rc = build_frame(&r, out);
    reader_free(&r);
    hd_scope_leave(&scope);
    return rc;
}

int herd_frame_read_csv(const char *path, const herd_csv_options *opt, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(path);
    if (!*path) return hd_error(HERD_EINVAL, "%s: argument 'path' is empty", __func__);
    csv_settings set = {0};
    int rc = settings_load(opt, __func__, &set);
    if (rc) return rc;
    csv_source src;
    rc = hd_csv_src_open_file(&src, path, set.chunk);
    if (!rc) rc = csv_read(&src, &set, out);
    hd_csv_src_close(&src);
    return rc;
}

int herd_frame_read_csv_buffer(const char *data, size_t len, const char *name,
                               const herd_csv_options *opt, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    if (!data && len)
        return hd_error(HERD_EINVAL, "%s: argument 'data' is NULL but 'len' is %zu", __func__,
                        len);
    HD_CHECK_NOT_NULL(name);
    csv_settings set = {0};
    int rc = settings_load(opt, __func__, &set);
    if (rc) return rc;
    csv_source src;
    hd_csv_src_init_memory(&src, name, data, len);
    return csv_read(&src, &set, out);
}

int hd_csv_read_tuned(const char *path, const char *data, size_t len,
                      const herd_csv_options *opt, size_t chunk, size_t part_min,
                      herd_frame **out)
{
    *out = NULL;
    csv_settings set = {0};
    int rc = settings_load(opt, __func__, &set);
    if (rc) return rc;
    set.chunk = chunk;
    set.part_min = part_min ? part_min : 1;
    csv_source src;
    if (!path) {
        hd_csv_src_init_memory(&src, "buffer.csv", data, len);
        return csv_read(&src, &set, out);
    }
    rc = hd_csv_src_open_file(&src, path, set.chunk);
    if (!rc) rc = csv_read(&src, &set, out);
    hd_csv_src_close(&src);
    return rc;
}

/* ------------------------------------------------------------------------
 * The writer
 * --------------------------------------------------------------------- */

typedef struct csv_out {
    hd_atomic_file *file;
    char *buf;
    size_t len;
} csv_out;

static int out_flush(csv_out *o)
{
    int rc = hd_atomic_write(o->file, o->buf, o->len);
    o->len = 0;
    return rc;
}

static int out_put(csv_out *o, const char *s, size_t n)
{
    while (n) {
        if (o->len == HD_CSV_WRITE_BUF && out_flush(o)) return HERD_EIO;
        size_t k = HD_CSV_WRITE_BUF - o->len;
        if (k > n) k = n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
    return HERD_OK;
}

static inline int out_byte(csv_out *o, char c)
{
    if (o->len == HD_CSV_WRITE_BUF && out_flush(o)) return HERD_EIO;
    o->buf[o->len++] = c;
    return HERD_OK;
}

/* Whether a string must be quoted to read back as itself (and to survive
 * readers that trim spaces, or eat a byte-order mark). */
static int needs_quotes(const char *s, size_t len, char delim)
{
    if (len == 0) return 1; /* "" is an empty string; nothing is missing */
    if (s[0] == ' ' || s[len - 1] == ' ') return 1;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) return 1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == delim || c == '"' || c == '\n' || c == '\r') return 1;
    }
    return 0;
}

static int out_string(csv_out *o, const char *s, char delim)
{
    size_t len = strlen(s);
    if (!needs_quotes(s, len, delim)) return out_put(o, s, len);
    if (out_byte(o, '"')) return HERD_EIO;
    for (const char *q; (q = memchr(s, '"', len)) != NULL;) {
        size_t k = (size_t)(q - s) + 1; /* through the quote, then one more */
        if (out_put(o, s, k) || out_byte(o, '"')) return HERD_EIO;
        s += k;
        len -= k;
    }
    if (out_put(o, s, len) || out_byte(o, '"')) return HERD_EIO;
    return HERD_OK;
}

/* One value; missing values write nothing. */
static int out_value(csv_out *o, const hd_column *c, size_t row, const csv_settings *set,
                     locale_t loc)
{
    char buf[64];
    size_t n = 0;
    if (c->mask && !c->mask[row]) return HERD_OK;
    switch (c->type) {
    case HERD_TYPE_STRING: {
        const char *s = hd_col_str(c, row);
        return s ? out_string(o, s, set->delim) : HERD_OK;
    }
    case HERD_TYPE_INT32:
    case HERD_TYPE_INT64: n = hd_num_format_i64(buf, hd_col_int(c, row)); break;
    default: {
        double v = hd_col_double(c, row);
        if (isnan(v)) return HERD_OK; /* NaN is a float's missing value */
        if (isinf(v)) return out_put(o, v < 0 ? "-inf" : "inf", v < 0 ? 4 : 3);
        if (c->type == HERD_TYPE_FLOAT32)
            n = hd_num_format_f32(buf, sizeof buf - 3, (float)v, set->float_digits, loc);
        else
            n = hd_num_format_f64(buf, sizeof buf - 3, v, set->float_digits, loc);
    }
    }
    return out_put(o, buf, n);
}

static int out_eol(csv_out *o, const csv_settings *set)
{
    return set->crlf ? out_put(o, "\r\n", 2) : out_byte(o, '\n');
}

static int write_rows(csv_out *o, const herd_frame *f, const csv_settings *set, locale_t loc)
{
    for (size_t j = 0; j < f->ncols; j++) {
        if ((j && out_byte(o, set->delim)) || out_string(o, f->cols[j].name, set->delim))
            return HERD_EIO;
    }
    if (out_eol(o, set)) return HERD_EIO;
    for (size_t row = 0; row < f->nrows; row++) {
        for (size_t j = 0; j < f->ncols; j++) {
            if (j && out_byte(o, set->delim)) return HERD_EIO;
            if (out_value(o, &f->cols[j], row, set, loc)) return HERD_EIO;
        }
        /* A one-column row whose value is missing would be a blank line,
         * which readers skip: write "" so that the row survives (it reads
         * back as missing, or as an empty string in a string column). */
        if (f->ncols == 1 && !hd_col_present(&f->cols[0], row) && out_put(o, "\"\"", 2))
            return HERD_EIO;
        if (out_eol(o, set)) return HERD_EIO;
    }
    return out_flush(o);
}

static int write_file(const herd_frame *f, const char *path, const csv_settings *set,
                      locale_t loc)
{
    csv_out o = {NULL, hd_malloc(HD_CSV_WRITE_BUF, 1), 0};
    if (!o.buf) return HERD_ENOMEM;
    int rc = hd_atomic_open(path, "CSV file", &o.file);
    if (!rc) rc = write_rows(&o, f, set, loc);
    if (!rc) rc = hd_atomic_commit(o.file);
    else hd_atomic_abort(o.file);
    free(o.buf);
    return rc;
}

int herd_frame_write_csv(const herd_frame *frame, const char *path,
                         const herd_csv_options *opt)
{
    HD_CHECK_NOT_NULL(frame);
    HD_CHECK_NOT_NULL(path);
    if (!*path) return hd_error(HERD_EINVAL, "%s: argument 'path' is empty", __func__);
    csv_settings set = {0};
    int rc = settings_load(opt, __func__, &set);
    if (rc) return rc;
    if (frame->ncols == 0)
        return hd_error(HERD_EINVAL, "%s: argument 'frame' has no columns; a CSV file needs "
                        "at least one", __func__);
    locale_t loc = hd_c_locale();
    if (loc == (locale_t)0) return HERD_ENOMEM;
    /* printf follows the thread's locale: switch this thread to "C" so that
     * the decimal point is '.', and switch back whatever happens. */
    locale_t old = uselocale(loc);
    rc = write_file(frame, path, &set, loc);
    uselocale(old);
    return rc;
}
