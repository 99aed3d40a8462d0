/* csv.c -- CSV (RFC 4180) in and out of frames.
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
 * over 50k keys hold each key once.
 *
 * WRITING goes to a temporary file next to the target, which is fsynced and
 * renamed over the target: readers see the old file or the new one.
 *
 * Numbers are read and written in the "C" locale whatever the host's
 * LC_NUMERIC is (in a German locale strtod stops at the "." of "0.5").
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* strtod_l, newlocale, uselocale */
#endif

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SSE2__)
#  include <emmintrin.h>
#endif

#include "herd.h"
#include "common/error_internal.h"
#include "common/fileio_internal.h"
#include "data/frame_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"

/* ------------------------------------------------------------------------
 * Limits (documented in docs/): inputs beyond them fail with HERD_ELIMIT.
 * --------------------------------------------------------------------- */

/* Bytes in one field.  Bounds the window a record can force us to hold. */
#define HD_CSV_FIELD_MAX ((size_t)64 << 20)
/* Columns in a file. */
#define HD_CSV_COLS_MAX 65535
/* Bytes in one record (all its fields).  With the field limit this bounds
 * the memory a hostile file can make the reader allocate. */
#define HD_CSV_RECORD_MAX ((size_t)1 << 30)

/* Tuning, not limits.  HD_CSV_CHUNK may be overridden at build time, so
 * that tests can make every record cross window boundaries. */
#ifndef HD_CSV_CHUNK
#  define HD_CSV_CHUNK ((size_t)8 << 20)     /* bytes per read() */
#endif
#define HD_CSV_WRITE_BUF ((size_t)1 << 20)   /* bytes per write() */
#define HD_CSV_INTERN_ROWS 65536             /* rows before interning may stop */
#define HD_CSV_INTERN_CAP0 1024              /* first interning table size */

#define HD_NO_COL SIZE_MAX /* "no column" in messages */

/* ------------------------------------------------------------------------
 * The "C" locale, created once for the process.  It is immutable after
 * creation, so sharing it between threads needs no lock.
 * --------------------------------------------------------------------- */

static pthread_once_t hd_c_locale_once = PTHREAD_ONCE_INIT;
static locale_t hd_c_locale_obj;

static void hd_c_locale_create(void)
{
    hd_c_locale_obj = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The C locale, or (locale_t)0 with HERD_ENOMEM recorded. */
static locale_t hd_c_locale(void)
{
    pthread_once(&hd_c_locale_once, hd_c_locale_create);
    if (hd_c_locale_obj == (locale_t)0) hd_oom();
    return hd_c_locale_obj;
}

/* ------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------- */

/* The smallest struct_size we accept: one that holds the delimiter.  A
 * caller's struct may be shorter than ours (built against an older header):
 * HD_HAS_FIELD tells which fields it has, the others keep their defaults. */
#define HD_CSV_OPT_MIN (offsetof(herd_csv_options, delimiter) + sizeof(char))

/* The options of one call, validated, with the defaults filled in. */
typedef struct csv_settings {
    char delim;
    const char *const *type_names;
    const int *types;
    size_t n_types;
    int float_digits;
    int crlf;
} csv_settings;

void herd_csv_options_init(herd_csv_options *opt)
{
    if (!opt) {
        hd_error(HERD_EINVAL, "%s: argument 'opt' is NULL", __func__);
        return;
    }
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->delimiter = ',';
}

static int valid_type(int type)
{
    return type >= HERD_TYPE_FLOAT32 && type <= HERD_TYPE_STRING;
}

static int settings_check_types(const csv_settings *s, const char *fn)
{
    if (s->n_types == 0) return HERD_OK;
    if (!s->type_names)
        return hd_error(HERD_EINVAL, "%s: argument 'options.type_names' is NULL but "
                        "options.n_types is %zu", fn, s->n_types);
    if (!s->types)
        return hd_error(HERD_EINVAL, "%s: argument 'options.types' is NULL but "
                        "options.n_types is %zu", fn, s->n_types);
    for (size_t i = 0; i < s->n_types; i++) {
        if (!s->type_names[i])
            return hd_error(HERD_EINVAL, "%s: argument 'options.type_names[%zu]' is NULL",
                            fn, i);
        if (!valid_type(s->types[i]))
            return hd_error(HERD_EINVAL,
                            "%s: argument 'options.types[%zu]' is %d, not a herd_type "
                            "(HERD_TYPE_FLOAT32 .. HERD_TYPE_STRING)",
                            fn, i, s->types[i]);
    }
    return HERD_OK;
}

/* Copy the fields the caller's struct has into `s` and check them.
 * `reading` selects which fields matter (types vs float_digits). */
static int settings_load(const herd_csv_options *opt, int reading, const char *fn,
                         csv_settings *s)
{
    memset(s, 0, sizeof *s);
    s->delim = ',';
    if (!opt) return HERD_OK;
    if (opt->struct_size < HD_CSV_OPT_MIN)
        return hd_error(HERD_EINVAL, "%s: argument 'options.struct_size' is %u, too small "
                        "for herd_csv_options; call herd_csv_options_init() first",
                        fn, (unsigned)opt->struct_size);
    unsigned char d = (unsigned char)opt->delimiter;
    if (d == '"' || d == '\r' || d == '\n' || d == '\0' || d >= 0x80)
        return hd_error(HERD_EINVAL, "%s: argument 'options.delimiter' is 0x%02X; it must "
                        "be an ASCII character other than '\"', CR, LF and NUL", fn, d);
    s->delim = (char)d;
    if (HD_HAS_FIELD(opt, n_types)) {
        s->type_names = opt->type_names;
        s->types = opt->types;
        s->n_types = opt->n_types;
    }
    if (HD_HAS_FIELD(opt, float_digits)) s->float_digits = opt->float_digits;
    if (HD_HAS_FIELD(opt, crlf)) s->crlf = opt->crlf != 0;
    if (reading) return settings_check_types(s, fn);
    if (s->float_digits < 0 || s->float_digits > 17)
        return hd_error(HERD_EINVAL, "%s: argument 'options.float_digits' is %d; use 1..17, "
                        "or 0 for the shortest text that reads back exactly",
                        fn, s->float_digits);
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Sources: the input as a sliding window of bytes
 * --------------------------------------------------------------------- */

typedef struct csv_source {
    const char *name;  /* path or buffer name, first in every message */
    int fd;            /* -1 for a memory source */
    const char *mem;   /* memory source: the caller's bytes */
    size_t mem_len;
    char *buf;         /* file source: storage of the window */
    size_t cap;
    const char *data;  /* the window, data[0..len) */
    size_t len;
    uint64_t base;     /* input offset of data[0] */
    int eof;           /* nothing follows the window */
    struct stat st;    /* file source: identity, to notice a changed file */
} csv_source;

static void src_init_memory(csv_source *s, const char *name, const char *data, size_t len)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->fd = -1;
    s->mem = data ? data : "";
    s->mem_len = len;
    s->data = s->mem;
    s->len = len;
    s->eof = 1;
}

static int src_io_error(const csv_source *s, const char *what, int err)
{
    return hd_error(HERD_EIO, "%s: %s: %s; check that the file exists and is readable", s->name,
                    what, strerror(err));
}

static int src_open_file(csv_source *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->name = path;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return src_io_error(s, "cannot open", errno);
    if (fstat(s->fd, &s->st)) return src_io_error(s, "cannot stat", errno);
    /* Two passes need to read the input twice: a pipe cannot be rewound. */
    if (!S_ISREG(s->st.st_mode))
        return hd_error(HERD_EIO, "%s: not a regular file; the CSV reader reads its input "
                        "twice, so copy the stream to a file or use "
                        "herd_frame_read_csv_buffer", path);
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    s->buf = hd_malloc(HD_CSV_CHUNK, 1);
    if (!s->buf) return HERD_ENOMEM;
    s->cap = HD_CSV_CHUNK;
    s->data = s->buf;
    return HERD_OK;
}

static void src_close(csv_source *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    free(s->buf);
    s->buf = NULL;
}

/* Back to the first byte, for the second pass. */
static int src_rewind(csv_source *s)
{
    s->base = 0;
    if (s->fd < 0) {
        s->data = s->mem;
        s->len = s->mem_len;
        return HERD_OK;
    }
    struct stat now;
    if (fstat(s->fd, &now)) return src_io_error(s, "cannot stat", errno);
    if (now.st_size != s->st.st_size || now.st_mtim.tv_sec != s->st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != s->st.st_mtim.tv_nsec)
        return hd_error(HERD_EIO, "%s: the file changed while it was being read; read it "
                        "again once the writer has finished", s->name);
    if (lseek(s->fd, 0, SEEK_SET) < 0) return src_io_error(s, "cannot seek", errno);
    s->data = s->buf;
    s->len = 0;
    s->eof = 0;
    return HERD_OK;
}

/* Drop data[0..keep), keep the rest at the start of the window and read
 * what follows it.  The window grows only when a single record fills it. */
static int src_fill(csv_source *s, size_t keep)
{
    size_t rest = s->len - keep;
    if (keep && rest) memmove(s->buf, s->buf + keep, rest);
    s->base += keep;
    s->len = rest;
    if (s->len == s->cap) {
        char *nbuf = hd_realloc(s->buf, s->cap, 2);
        if (!nbuf) return HERD_ENOMEM;
        s->buf = nbuf;
        s->cap *= 2;
    }
    s->data = s->buf;
    ssize_t n;
    do {
        n = read(s->fd, s->buf + s->len, s->cap - s->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return src_io_error(s, "read failed", errno);
    if (n == 0) s->eof = 1;
    s->len += (size_t)n;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * The tokenizer: one record at a time, fields as spans of the window
 * --------------------------------------------------------------------- */

#define F_QUOTED 1u  /* the field was quoted: p/len exclude the quotes */
#define F_ESCAPED 2u /* quoted and holds doubled quotes, to be undone */
#define F_HIGH 4u    /* holds bytes >= 0x80: check UTF-8 */

typedef struct csv_field {
    const char *p;
    size_t len;
    unsigned flags;
} csv_field;

/* Byte classes of the unquoted-field scan.  CLS_HIGH equals F_HIGH so that
 * the scan can OR classes into the field's flags. */
#define CLS_PLAIN 0u
#define CLS_HIGH F_HIGH
#define CLS_STOP 8u /* delimiter, quote, CR, LF, NUL */

/* tok_* results besides HERD_OK and errors (which are negative). */
#define TOK_END 1  /* no more records */
#define TOK_MORE 2 /* the window ends inside the record: read more */

typedef struct csv_tok {
    csv_source *src;
    char delim;
    uint64_t delim8;    /* the delimiter in every byte, for hd_scan_plain */
    unsigned char cls[256];
    size_t pos;         /* window offset of the next record */
    uint64_t line;      /* physical line at pos, 1-based */
    csv_field *f;       /* fields of the current record */
    size_t fcap;
    size_t fmax;        /* fields stored (more are only counted) */
    int header;         /* reading the header: f grows up to the column limit */
    size_t nf;          /* fields in the current record */
    uint64_t rec_line;  /* line where the current record starts */
    size_t partial;     /* length so far of a field cut by the window's end */
    const char *const *names; /* column names for messages, once known */
    size_t nnames;
} csv_tok;

static void tok_init(csv_tok *t, csv_source *src, char delim)
{
    memset(t, 0, sizeof *t);
    t->src = src;
    t->delim = delim;
    t->delim8 = UINT64_C(0x0101010101010101) * (unsigned char)delim;
    for (int c = 0x80; c < 0x100; c++) t->cls[c] = CLS_HIGH;
    t->cls[(unsigned char)delim] = CLS_STOP;
    t->cls['"'] = CLS_STOP;
    t->cls['\r'] = CLS_STOP;
    t->cls['\n'] = CLS_STOP;
    t->cls['\0'] = CLS_STOP;
    t->fmax = SIZE_MAX;
    t->header = 1;
}

/* "column 'name' (3): " or "column 3: " when the name is not known. */
static const char *col_label(const csv_tok *t, size_t col, char *buf, size_t size)
{
    if (col == HD_NO_COL) return "";
    if (col < t->nnames)
        snprintf(buf, size, "column '%s' (%zu): ", t->names[col], col + 1);
    else
        snprintf(buf, size, "column %zu: ", col + 1);
    return buf;
}

/* Record an error as "<name>:<line>: column '<col>' (<k>): <what>". */
static int csv_fail(const csv_tok *t, int code, uint64_t line, size_t col, const char *fmt,
                    ...) HD_PRINTF(5, 6);

static int csv_fail(const csv_tok *t, int code, uint64_t line, size_t col, const char *fmt,
                    ...)
{
    char what[800], label[HERD_NAME_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hd_error(code, "%s:%" PRIu64 ": %s%s", t->src->name, line,
                    col_label(t, col, label, sizeof label), what);
}

/* Skip a UTF-8 byte-order mark at the very start of the input. */
static int tok_begin(csv_tok *t)
{
    csv_source *s = t->src;
    t->pos = 0;
    t->line = 1;
    while (s->len < 3 && !s->eof) {
        int rc = src_fill(s, 0);
        if (rc) return rc;
    }
    if (s->len >= 3 && memcmp(s->data, "\xEF\xBB\xBF", 3) == 0) t->pos = 3;
    return HERD_OK;
}

/* Skip blank lines before the next record (they are not rows). */
static int tok_skip_blank(csv_tok *t)
{
    const csv_source *s = t->src;
    const char *d = s->data;
    size_t pos = t->pos;
    while (pos < s->len) {
        if (d[pos] == '\n') {
            pos++;
        } else if (d[pos] == '\r' && pos + 1 < s->len && d[pos + 1] == '\n') {
            pos += 2;
        } else if (d[pos] == '\r' && pos + 1 == s->len && !s->eof) {
            t->pos = pos;
            return TOK_MORE;
        } else {
            break; /* a record (a bare CR is reported by tok_parse) */
        }
        t->line++;
        t->pos = pos;
    }
    if (pos < s->len) return HERD_OK;
    return s->eof ? TOK_END : TOK_MORE;
}

static int tok_store(csv_tok *t, size_t nf, const char *p, size_t len, unsigned flags)
{
    if (nf >= t->fmax) return HERD_OK; /* a ragged row: counted, not stored */
    if (t->header && nf >= HD_CSV_COLS_MAX)
        return csv_fail(t, HERD_ELIMIT, t->rec_line, HD_NO_COL,
                        "the header has more than %d columns, the limit; split the file "
                        "by columns", HD_CSV_COLS_MAX);
    if (nf >= t->fcap && hd_grow((void **)&t->f, &t->fcap, nf + 1, sizeof *t->f))
        return HERD_ENOMEM;
    t->f[nf].p = p;
    t->f[nf].len = len;
    t->f[nf].flags = flags;
    return HERD_OK;
}

static int tok_field_too_long(const csv_tok *t, size_t col)
{
    return csv_fail(t, HERD_ELIMIT, t->rec_line, col,
                    "the field is longer than %zu bytes, the limit of a CSV field; "
                    "check for an unbalanced quote", HD_CSV_FIELD_MAX);
}

/* Scan a quoted field whose opening quote is at *pp.  On HERD_OK *pp is just
 * past the closing quote. */
static int tok_quoted(csv_tok *t, const char **pp, uint64_t *line, size_t col,
                      csv_field *out)
{
    const csv_source *s = t->src;
    const char *e = s->data + s->len;
    const char *p = *pp + 1, *start = p;
    uint64_t qline = *line;
    unsigned flags = F_QUOTED;
    for (;;) {
        while (p < e && *p != '"') {
            unsigned char c = (unsigned char)*p;
            if (c == '\n') (*line)++;
            else if (c >= 0x80) flags |= F_HIGH;
            else if (c == '\0')
                return csv_fail(t, HERD_EFORMAT, t->rec_line, col,
                                "a NUL byte in a quoted field (byte offset %" PRIu64
                                "); text must not contain NUL bytes",
                                s->base + (uint64_t)(p - s->data));
            p++;
        }
        if (p == e || (p + 1 == e && !s->eof)) {
            if (!s->eof) {
                t->partial = (size_t)(p - start);
                return TOK_MORE;
            }
            return csv_fail(t, HERD_EFORMAT, qline, col,
                            "unterminated quoted field starting at line %" PRIu64
                            " column %zu; close the quote, or double the quotes inside "
                            "the field (\"\")", qline, col + 1);
        }
        if (p + 1 < e && p[1] == '"') { /* a doubled quote is one quote */
            flags |= F_ESCAPED;
            p += 2;
            continue;
        }
        break;
    }
    out->p = start;
    out->len = (size_t)(p - start);
    out->flags = flags;
    p++; /* the closing quote */
    if (p < e && *p != t->delim && *p != '\n' && *p != '\r') {
        /* One byte only: how much follows depends on where the window
         * ends, and messages must not. */
        char q[16];
        return csv_fail(t, HERD_EFORMAT, t->rec_line, col,
                        "text after the closing quote (starting with %s); a quote inside a "
                        "quoted field must be doubled (\"\"), and nothing may follow the "
                        "closing quote", hd_quote(p, 1, q, sizeof q));
    }
    *pp = p;
    return HERD_OK;
}

#define HD_ONES8 UINT64_C(0x0101010101010101)
#define HD_HIGH8 UINT64_C(0x8080808080808080)
/* The high bit of each zero byte of v.  Bytes after the first zero byte may
 * be flagged wrongly (a borrow), never the ones before it, so the lowest
 * flag is exact. */
#define HD_ZERO8(v) (((v) - HD_ONES8) & ~(v) & HD_HIGH8)

/* The unquoted-field scan, 16 bytes at a time with SSE2 (every x86-64 has
 * it), else 8 at a time in a uint64: advance *pp to the first byte that ends
 * the field (delimiter, quote, CR, LF, NUL), or to the last whole step before
 * `e` (the caller finishes byte by byte).  Nonzero if a byte >= 0x80 was
 * passed. */
static inline uint64_t hd_scan_plain(const unsigned char **pp, const unsigned char *e,
                                uint64_t delim8)
{
    uint64_t high = 0;
#if defined(__SSE2__)
    const unsigned char *p = *pp;
    const __m128i vd = _mm_set1_epi8((char)delim8), vq = _mm_set1_epi8('"'),
                  vl = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r'), vz = _mm_setzero_si128();
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vq)),
                                 _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vl),
                                                           _mm_cmpeq_epi8(v, vr)),
                                              _mm_cmpeq_epi8(v, vz)));
        unsigned stop = (unsigned)_mm_movemask_epi8(m), hi = (unsigned)_mm_movemask_epi8(v);
        if (stop) {
            unsigned k = (unsigned)__builtin_ctz(stop);
            high |= hi & ((1u << k) - 1);
            p += k;
            break;
        }
        high |= hi;
        p += 16;
    }
    *pp = p;
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const unsigned char *p = *pp;
    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t stop = HD_ZERO8(w ^ delim8) | HD_ZERO8(w ^ (HD_ONES8 * '"')) |
                        HD_ZERO8(w ^ (HD_ONES8 * '\n')) | HD_ZERO8(w ^ (HD_ONES8 * '\r')) |
                        HD_ZERO8(w);
        if (stop) {
            unsigned k = (unsigned)__builtin_ctzll(stop) >> 3; /* first stop byte */
            high |= w & HD_HIGH8 & ((UINT64_C(1) << (k * 8)) - 1);
            p += k;
            break;
        }
        high |= w & HD_HIGH8;
        p += 8;
    }
    *pp = p;
#else
    (void)pp, (void)e, (void)delim8;
#endif
    return high;
}

/* Scan an unquoted field starting at *pp; stops at the delimiter, a line
 * end or the window's end. */
static int tok_plain(csv_tok *t, const char **pp, size_t col, csv_field *out)
{
    const csv_source *s = t->src;
    const unsigned char *p = (const unsigned char *)*pp;
    const unsigned char *e = (const unsigned char *)s->data + s->len;
    const unsigned char *start = p;
    /* The hot loop of the reader: whole words, then a table lookup per
     * byte for the tail. */
    unsigned flags = hd_scan_plain(&p, e, t->delim8) ? F_HIGH : 0;
    while (p < e && t->cls[*p] < CLS_STOP) flags |= t->cls[*p++];
    if (p < e && (*p == '"' || *p == '\0')) {
        char q[96];
        if (*p == '\0')
            return csv_fail(t, HERD_EFORMAT, t->rec_line, col,
                            "a NUL byte (byte offset %" PRIu64 "); text must not contain "
                            "NUL bytes", s->base + (uint64_t)((const char *)p - s->data));
        return csv_fail(t, HERD_EFORMAT, t->rec_line, col,
                        "a quote inside an unquoted field: %s; quote the whole field and "
                        "double the quotes inside it (\"a \"\"b\"\" c\")",
                        hd_quote((const char *)start, (size_t)(p - start) + 1, q, sizeof q));
    }
    out->p = (const char *)start;
    out->len = (size_t)(p - start);
    out->flags = flags;
    *pp = (const char *)p;
    if (p == e && !s->eof) {
        t->partial = out->len;
        return TOK_MORE;
    }
    return HERD_OK;
}

/* After a field: the delimiter (another field follows: returns 1), a line
 * end or the end of the input (the record is complete: returns 0). */
static int tok_after_field(csv_tok *t, const char **pp, uint64_t *line, size_t col)
{
    const csv_source *s = t->src;
    const char *p = *pp, *e = s->data + s->len;
    if (p == e) return s->eof ? 0 : TOK_MORE;
    if (*p == t->delim) {
        *pp = p + 1;
        return 1;
    }
    if (*p == '\n') {
        *pp = p + 1;
        (*line)++;
        return 0;
    }
    /* *p is CR (tok_plain and tok_quoted stop nowhere else) */
    if (p + 1 < e && p[1] == '\n') {
        *pp = p + 2;
        (*line)++;
        return 0;
    }
    if (p + 1 == e && !s->eof) return TOK_MORE;
    return csv_fail(t, HERD_EFORMAT, t->rec_line, col,
                    "a carriage return (CR) not followed by LF; lines must end with LF or "
                    "CRLF, and a CR inside a value needs the field quoted");
}

/* Parse the record at t->pos into t->f / t->nf.  On HERD_OK *end and *line
 * are where the next record starts; TOK_MORE when the window cuts it. */
static int tok_parse(csv_tok *t, size_t *end, uint64_t *line)
{
    const csv_source *s = t->src;
    const char *p = s->data + t->pos;
    size_t nf = 0;
    *line = t->line;
    t->rec_line = t->line;
    t->partial = 0;
    for (;;) {
        csv_field fld = {NULL, 0, 0};
        int rc = p < s->data + s->len && *p == '"' ? tok_quoted(t, &p, line, nf, &fld)
                                                   : tok_plain(t, &p, nf, &fld);
        if (rc == TOK_MORE && t->partial > HD_CSV_FIELD_MAX) return tok_field_too_long(t, nf);
        if (rc) return rc;
        if (fld.len > HD_CSV_FIELD_MAX) return tok_field_too_long(t, nf);
        rc = tok_store(t, nf, fld.p, fld.len, fld.flags);
        if (rc) return rc;
        nf++;
        rc = tok_after_field(t, &p, line, nf - 1);
        if (rc == 1) continue;
        if (rc) return rc;
        break;
    }
    t->nf = nf;
    *end = (size_t)(p - s->data);
    return HERD_OK;
}

/* The next record, reading more input as needed.  HERD_OK, TOK_END or an
 * error. */
static int tok_next(csv_tok *t)
{
    csv_source *s = t->src;
    for (;;) {
        int rc = tok_skip_blank(t);
        if (rc == HERD_OK) {
            size_t end = 0;
            uint64_t line;
            rc = tok_parse(t, &end, &line);
            if (rc == HERD_OK) {
                t->pos = end;
                t->line = line;
                return HERD_OK;
            }
        }
        if (rc != TOK_MORE) return rc;
        if (s->len - t->pos >= HD_CSV_RECORD_MAX)
            return csv_fail(t, HERD_ELIMIT, t->line, HD_NO_COL,
                            "the record is longer than %zu bytes, the limit of a CSV record; "
                            "check for an unbalanced quote", HD_CSV_RECORD_MAX);
        rc = src_fill(s, t->pos);
        if (rc) return rc;
        t->pos = 0;
    }
}

/* ------------------------------------------------------------------------
 * Numbers
 * --------------------------------------------------------------------- */

/* What a field looks like, for type inference.  Decides without converting
 * (except integers, whose value comes for free). */
enum { LEX_TEXT = 0, LEX_INT, LEX_INT_BIG, LEX_FLOAT };

static inline int is_digit(char c)
{
    return (unsigned)(c - '0') < 10u;
}

/* Eight digits at a time (numbers in CSV files are mostly digits): load the
 * 8 bytes at s into *w and tell whether they are all ASCII digits. */
static inline int digits8(const char *s, uint64_t *w)
{
    memcpy(w, s, 8);
    return ((*w & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
            (((*w + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) ==
           UINT64_C(0x3333333333333333);
}

/* The value of the 8 digits loaded by digits8 (first digit most
 * significant), in three multiplies. */
static inline uint32_t value8(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t mask = UINT64_C(0x000000FF000000FF);
    w -= UINT64_C(0x3030303030303030);
    w = w * 10 + (w >> 8); /* pairs of digits */
    w = ((w & mask) * (100 + (UINT64_C(1000000) << 32)) +
         ((w >> 16) & mask) * (1 + (UINT64_C(10000) << 32))) >> 32;
    return (uint32_t)w;
#else
    unsigned char b[8];
    uint32_t v = 0;
    memcpy(b, &w, 8);
    for (int i = 0; i < 8; i++) v = v * 10 + (uint32_t)(b[i] - '0');
    return v;
#endif
}

/* Numbers may be surrounded by ASCII spaces ("  12 "), as spreadsheets and
 * fixed-width exports write them; the spaces are ignored. */
static void trim_spaces(const char **s, size_t *len)
{
    const char *p = *s, *e = p + *len;
    while (p < e && *p == ' ') p++;
    while (e > p && e[-1] == ' ') e--;
    *s = p;
    *len = (size_t)(e - p);
}

/* Whether s[0..len) is `word` (lower case) in any case. */
static int word_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != word[i]) return 0;
    return 1;
}

#define DEC_NAN 1
#define DEC_INF 2

/* nan, inf or infinity in any case (after the sign), else 0. */
static int lex_special(const char *s, size_t len)
{
    if (word_is(s, len, "nan")) return DEC_NAN;
    if (word_is(s, len, "inf") || word_is(s, len, "infinity")) return DEC_INF;
    return 0;
}

/* Classify a non-empty field: LEX_INT (with *ival), LEX_INT_BIG (an integer
 * beyond int64), LEX_FLOAT, or LEX_TEXT.  The grammar is strtod's decimal
 * one without hex floats and nan(...): [+-] digits [. digits] [e [+-] digits],
 * or nan/inf/infinity. */
static int lex_number(const char *s, size_t len, int64_t *ival)
{
    trim_spaces(&s, &len);
    const char *e = s + len;
    int neg = 0;
    if (s < e && (*s == '+' || *s == '-')) neg = *s++ == '-';
    if (s == e) return LEX_TEXT;
    if (!is_digit(*s) && *s != '.') return lex_special(s, (size_t)(e - s)) ? LEX_FLOAT : LEX_TEXT;
    const char *d0 = s;
    uint64_t u = 0, w;
    int big = 0;
    /* 19 digits always fit a uint64; past them, check each step. */
    while (e - s >= 8 && s - d0 <= 11 && digits8(s, &w)) {
        u = u * 100000000 + value8(w);
        s += 8;
    }
    for (const char *safe = e - d0 > 19 ? d0 + 19 : e; s < safe && is_digit(*s); s++)
        u = u * 10 + (unsigned)(*s - '0');
    for (; s < e && is_digit(*s); s++) {
        if (__builtin_mul_overflow(u, 10, &u)) big = 1;
        if (__builtin_add_overflow(u, (unsigned)(*s - '0'), &u)) big = 1;
    }
    size_t nint = (size_t)(s - d0);
    if (s == e) {
        if (big || u > (uint64_t)INT64_MAX + (uint64_t)neg) return LEX_INT_BIG;
        if (!neg) *ival = (int64_t)u;
        else *ival = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        return LEX_INT;
    }
    size_t nfrac = 0;
    if (*s == '.') {
        const char *f0 = ++s;
        while (e - s >= 8 && digits8(s, &w)) s += 8;
        while (s < e && is_digit(*s)) s++;
        nfrac = (size_t)(s - f0);
    }
    if (nint + nfrac == 0) return LEX_TEXT;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-')) s++;
        const char *x0 = s;
        while (s < e && is_digit(*s)) s++;
        if (s == x0) return LEX_TEXT;
    }
    return s == e ? LEX_FLOAT : LEX_TEXT;
}

/* A decimal number split as (-1)^neg * mant * 10^exp10. */
typedef struct hd_decimal {
    uint64_t mant;  /* the first 19 significant digits */
    int64_t exp10;
    int neg;
    int inexact;    /* nonzero digits beyond the 19th were dropped */
    int special;    /* DEC_NAN, DEC_INF or 0 */
} hd_decimal;

/* Split a trimmed number (lex_number's grammar).  -1 if it is not one. */
static int dec_parse(const char *s, size_t len, hd_decimal *d)
{
    const char *e = s + len;
    memset(d, 0, sizeof *d);
    if (s < e && (*s == '+' || *s == '-')) d->neg = *s++ == '-';
    if (s == e) return -1;
    if (!is_digit(*s) && *s != '.') {
        d->special = lex_special(s, (size_t)(e - s));
        return d->special ? 0 : -1;
    }
    /* Leading zeros are not significant digits; 19 significant digits
     * always fit the uint64 mantissa. */
    const char *d0 = s;
    int ndig = 0;
    uint64_t w;
    while (s < e && *s == '0') s++;
    for (; e - s >= 8 && ndig <= 11 && digits8(s, &w); s += 8, ndig += 8)
        d->mant = d->mant * 100000000 + value8(w);
    for (; s < e && is_digit(*s); s++) {
        if (ndig < 19) {
            d->mant = d->mant * 10 + (unsigned)(*s - '0');
            ndig++;
        } else {
            d->exp10++;
            d->inexact |= *s != '0';
        }
    }
    int seen = s > d0;
    if (s < e && *s == '.') {
        const char *f0 = ++s;
        if (ndig == 0)
            for (; s < e && *s == '0'; s++) d->exp10--;
        for (; e - s >= 8 && ndig <= 11 && digits8(s, &w); s += 8, ndig += 8) {
            d->mant = d->mant * 100000000 + value8(w);
            d->exp10 -= 8;
        }
        for (; s < e && is_digit(*s); s++) {
            if (ndig < 19) {
                d->mant = d->mant * 10 + (unsigned)(*s - '0');
                ndig++;
                d->exp10--;
            } else {
                d->inexact |= *s != '0';
            }
        }
        seen |= s > f0;
    }
    if (!seen) return -1;
    if (s < e && (*s == 'e' || *s == 'E')) {
        int xneg = 0;
        int64_t x = 0;
        s++;
        if (s < e && (*s == '+' || *s == '-')) xneg = *s++ == '-';
        if (s == e || !is_digit(*s)) return -1;
        for (; s < e && is_digit(*s); s++)
            if (x < 100000) x = x * 10 + (*s - '0'); /* far beyond any double */
        d->exp10 += xneg ? -x : x;
    }
    return s == e ? 0 : -1;
}

/* Powers of ten that doubles and floats hold exactly. */
static const double hd_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float hd_pow10f[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* Clinger's fast path needs arithmetic in the type's own precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#  define HD_FAST_FLOAT 1
#else
#  define HD_FAST_FLOAT 0
#endif

/* strtod_l / strtof_l on a NUL-terminated copy of s[0..len): the slow,
 * always-correct path.  -1 if the text is not all consumed. */
static int slow_parse(const char *s, size_t len, int is_float, double *out)
{
    char stack[128];
    locale_t loc = hd_c_locale();
    if (loc == (locale_t)0) return HERD_ENOMEM;
    char *buf = len < sizeof stack ? stack : hd_malloc(len + 1, 1);
    if (!buf) return HERD_ENOMEM;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *out = is_float ? (double)strtof_l(buf, &end, loc) : strtod_l(buf, &end, loc);
    int rc = end == buf + len ? 0 : -1;
    if (buf != stack) free(buf);
    return rc;
}

/* Text to double, correctly rounded.  0, -1 (not a number) or HERD_ENOMEM. */
static int parse_f64(const char *s, size_t len, double *out)
{
    hd_decimal d;
    trim_spaces(&s, &len);
    if (dec_parse(s, len, &d)) return -1;
    if (d.special) {
        *out = d.special == DEC_NAN ? NAN : (d.neg ? -INFINITY : INFINITY);
        return 0;
    }
    /* Clinger: when the digits fit a double's 53-bit mantissa exactly and
     * the power of ten is exact too, one IEEE multiply or divide is
     * correctly rounded.  This covers nearly every value in real files. */
    if (HD_FAST_FLOAT && !d.inexact && d.mant <= (UINT64_C(1) << 53) && d.exp10 >= -22 &&
        d.exp10 <= 22) {
        double v = (double)d.mant;
        v = d.exp10 < 0 ? v / hd_pow10[-d.exp10] : v * hd_pow10[d.exp10];
        *out = d.neg ? -v : v;
        return 0;
    }
    return slow_parse(s, len, 0, out);
}

/* Text to float, correctly rounded (parsing to double first and rounding
 * again would round twice).  Like parse_f64; *overflow is set when a finite
 * value is beyond float's range. */
static int parse_f32(const char *s, size_t len, float *out, int *overflow)
{
    hd_decimal d;
    *overflow = 0;
    trim_spaces(&s, &len);
    if (dec_parse(s, len, &d)) return -1;
    if (d.special) {
        *out = d.special == DEC_NAN ? NAN : (d.neg ? -INFINITY : INFINITY);
        return 0;
    }
    if (HD_FAST_FLOAT && !d.inexact && d.mant <= (UINT64_C(1) << 24) && d.exp10 >= -10 &&
        d.exp10 <= 10) {
        float v = (float)d.mant;
        v = d.exp10 < 0 ? v / hd_pow10f[-d.exp10] : v * hd_pow10f[d.exp10];
        *out = d.neg ? -v : v;
        return 0;
    }
    double v;
    int rc = slow_parse(s, len, 1, &v);
    if (rc) return rc;
    *overflow = isinf(v);
    *out = (float)v;
    return 0;
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
} csv_reader;

static void reader_free(csv_reader *r)
{
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
    return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, col,
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
                return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, HD_NO_COL,
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
        return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                        "the header gives this column no name; every column needs a "
                        "non-empty name (check for a trailing delimiter)");
    *out = hd_strndup(s, len);
    if (!*out) return HERD_ENOMEM;
    if (hd_name_check(*out, HERD_NAME_MAX, "the name")) {
        char why[512];
        snprintf(why, sizeof why, "%s", herd_last_error());
        return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j, "%s", why);
    }
    return HERD_OK;
}

/* Read the header: the column names, checked. */
static int read_header(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc = tok_begin(t);
    if (!rc) rc = tok_next(t);
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
    return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is not an integer, and the column was given type %s by the caller; "
                    "fix the value, or read the column as float64 or string",
                    hd_quote(f->p, f->len, q, sizeof q), herd_type_name(r->cols[j].type));
}

static int err_int_range(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    int is32 = r->cols[j].type == HERD_TYPE_INT32;
    return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is outside the %s range [%" PRId64 ", %" PRId64 "]; read the "
                    "column as %s",
                    hd_quote(f->p, f->len, q, sizeof q), is32 ? "int32" : "int64",
                    is32 ? (int64_t)INT32_MIN : INT64_MIN, is32 ? (int64_t)INT32_MAX : INT64_MAX,
                    is32 ? "int64" : "float64 or string");
}

static int err_not_number(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is not a number, and the column %s %s; fix the value, or read "
                    "the column as string",
                    hd_quote(f->p, f->len, q, sizeof q),
                    r->cols[j].forced ? "was given type" : "was inferred as",
                    herd_type_name(r->cols[j].type));
}

static int err_f32_range(csv_reader *r, size_t j, const csv_field *f)
{
    char q[96];
    return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, j,
                    "%s is outside the float32 range (largest magnitude %.9g); read the "
                    "column as float64",
                    hd_quote(f->p, f->len, q, sizeof q), (double)FLT_MAX);
}

/* An integer field of an integer column, checked against the column's
 * type.  Used by pass 1 (forced types) and pass 2. */
static int check_integer(csv_reader *r, size_t j, const csv_field *f, int lex, int64_t v)
{
    if (lex == LEX_INT_BIG) return err_int_range(r, j, f);
    if (lex != LEX_INT) return err_not_integer(r, j, f);
    if (r->cols[j].type == HERD_TYPE_INT32 && (v < INT32_MIN || v > INT32_MAX))
        return err_int_range(r, j, f);
    return HERD_OK;
}

/* --- pass 1: structure, counts, types --- */

static int pass1_field(csv_reader *r, size_t j, const csv_field *f)
{
    csv_col *c = &r->cols[j];
    int rc;
    if ((f->flags & F_HIGH) && (rc = check_utf8(r, j, f))) return rc;
    if (f->len == 0) {
        c->nmissing++;
        return HERD_OK;
    }
    if (c->kind == K_TEXT || (c->forced && c->type == HERD_TYPE_STRING)) return HERD_OK;
    int64_t v = 0;
    /* A field with a quote in it is never a number. */
    int lex = (f->flags & F_ESCAPED) ? LEX_TEXT : lex_number(f->p, f->len, &v);
    if (!c->forced) {
        static const int kind_of[] = {[LEX_TEXT] = K_TEXT, [LEX_INT] = K_INT,
                                      [LEX_INT_BIG] = K_FLOAT, [LEX_FLOAT] = K_FLOAT};
        if (kind_of[lex] > c->kind) c->kind = kind_of[lex];
        return HERD_OK;
    }
    if (c->type == HERD_TYPE_INT32 || c->type == HERD_TYPE_INT64)
        return check_integer(r, j, f, lex, v);
    return lex == LEX_TEXT ? err_not_number(r, j, f) : HERD_OK;
}

static int ragged(csv_reader *r)
{
    return csv_fail(&r->tok, HERD_EFORMAT, r->tok.rec_line, HD_NO_COL,
                    "line %" PRIu64 " has %zu fields, the header has %zu; quote fields that "
                    "contain the delimiter '%c', and give every row the header's columns",
                    r->tok.rec_line, r->tok.nf, r->ncols, r->set->delim);
}

static int pass1(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc;
    while ((rc = tok_next(t)) == HERD_OK) {
        if (t->nf != r->ncols) return ragged(r);
        for (size_t j = 0; j < r->ncols; j++)
            if ((rc = pass1_field(r, j, &t->f[j]))) return rc;
        r->nrows++;
    }
    return rc == TOK_END ? HERD_OK : rc;
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
        int lex = (f->flags & F_ESCAPED) ? LEX_TEXT : lex_number(f->p, f->len, &v);
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
    if (f->len) {
        int rc = (f->flags & F_ESCAPED) ? -1 : parse_f64(f->p, f->len, &v);
        if (rc == HERD_ENOMEM) return rc;
        if (rc) return err_not_number(r, j, f);
    }
    ((double *)r->cols[j].data)[row] = v;
    return HERD_OK;
}

static int convert_f32(csv_reader *r, size_t j, const csv_field *f, size_t row)
{
    float v = NAN;
    if (f->len) {
        int overflow = 0;
        int rc = (f->flags & F_ESCAPED) ? -1 : parse_f32(f->p, f->len, &v, &overflow);
        if (rc == HERD_ENOMEM) return rc;
        if (rc) return err_not_number(r, j, f);
        if (overflow) return err_f32_range(r, j, f);
    }
    ((float *)r->cols[j].data)[row] = v;
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
    const csv_field *f = r->tok.f;
    for (size_t j = 0; j < r->ncols; j++) {
        int rc;
        switch (r->cols[j].type) {
        case HERD_TYPE_FLOAT64: rc = convert_f64(r, j, &f[j], row); break;
        case HERD_TYPE_FLOAT32: rc = convert_f32(r, j, &f[j], row); break;
        case HERD_TYPE_STRING: rc = convert_string(r, j, &f[j], row); break;
        default: rc = convert_int(r, j, &f[j], row); break;
        }
        if (rc) return rc;
    }
    return HERD_OK;
}

static int pass2(csv_reader *r)
{
    csv_tok *t = &r->tok;
    int rc = src_rewind(r->src);
    if (!rc) rc = tok_begin(t);
    if (!rc) rc = tok_next(t); /* the header again */
    if (rc == TOK_END || (rc == HERD_OK && t->nf != r->ncols)) return file_changed(r);
    if (rc) return rc;
    size_t row = 0;
    while ((rc = tok_next(t)) == HERD_OK) {
        if (row == r->nrows) return file_changed(r);
        if (t->nf != r->ncols) return ragged(r);
        if ((rc = convert_row(r, row))) return rc;
        row++;
    }
    if (rc != TOK_END) return rc;
    if (row != r->nrows) return file_changed(r);
    /* The interning tables are no longer needed: free them before the
     * frame is built. */
    for (size_t j = 0; j < r->ncols; j++) intern_free(&r->cols[j].intern);
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

static int csv_read(csv_source *src, const csv_settings *set, herd_frame **out)
{
    csv_reader r;
    memset(&r, 0, sizeof r);
    r.set = set;
    r.src = src;
    tok_init(&r.tok, src, set->delim);
    int rc = read_header(&r);
    if (!rc) rc = setup_columns(&r);
    if (!rc) rc = pass1(&r);
    if (!rc) rc = alloc_columns(&r);
    if (!rc) rc = pass2(&r);
    if (!rc) rc = build_frame(&r, out);
    reader_free(&r);
    return rc;
}

int herd_frame_read_csv(const char *path, const herd_csv_options *opt, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(path);
    if (!*path) return hd_error(HERD_EINVAL, "%s: argument 'path' is empty", __func__);
    csv_settings set;
    int rc = settings_load(opt, 1, __func__, &set);
    if (rc) return rc;
    csv_source src;
    rc = src_open_file(&src, path);
    if (!rc) rc = csv_read(&src, &set, out);
    src_close(&src);
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
    csv_settings set;
    int rc = settings_load(opt, 1, __func__, &set);
    if (rc) return rc;
    csv_source src;
    src_init_memory(&src, name, data, len);
    return csv_read(&src, &set, out);
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

static size_t fmt_i64(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0, o = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[o++] = '-';
    while (n) buf[o++] = tmp[--n];
    return o;
}

/* Make integral-looking float text ("3", "-0") look like a float ("3.0"),
 * so the column reads back as float, not int64. */
static size_t float_suffix(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != '-' && !is_digit(buf[i])) return n;
    memcpy(buf + n, ".0", 3);
    return n + 2;
}

/* A finite double as text: `digits` significant digits, or (0) the
 * shortest of 15, 16 and 17 that reads back as the same double. */
static size_t fmt_f64(char *buf, size_t size, double v, int digits, locale_t loc)
{
    int n = 0;
    if (digits) {
        n = snprintf(buf, size, "%.*g", digits, v);
    } else {
        for (int d = 15; d <= 17; d++) {
            n = snprintf(buf, size, "%.*g", d, v);
            if (strtod_l(buf, NULL, loc) == v) break;
        }
    }
    return float_suffix(buf, (size_t)n);
}

static size_t fmt_f32(char *buf, size_t size, float v, int digits, locale_t loc)
{
    int n = 0;
    if (digits) {
        n = snprintf(buf, size, "%.*g", digits, (double)v);
    } else {
        for (int d = 6; d <= 9; d++) {
            n = snprintf(buf, size, "%.*g", d, (double)v);
            if (strtof_l(buf, NULL, loc) == v) break;
        }
    }
    return float_suffix(buf, (size_t)n);
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
    case HERD_TYPE_INT64: n = fmt_i64(buf, hd_col_int(c, row)); break;
    default: {
        double v = hd_col_double(c, row);
        if (isnan(v)) return HERD_OK; /* NaN is a float's missing value */
        if (isinf(v)) return out_put(o, v < 0 ? "-inf" : "inf", v < 0 ? 4 : 3);
        if (c->type == HERD_TYPE_FLOAT32)
            n = fmt_f32(buf, sizeof buf - 3, (float)v, set->float_digits, loc);
        else
            n = fmt_f64(buf, sizeof buf - 3, v, set->float_digits, loc);
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
    csv_settings set;
    int rc = settings_load(opt, 0, __func__, &set);
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
