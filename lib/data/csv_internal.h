/* csv_internal.h -- what the CSV reader and writer (csv.c) share with the
 * tokenizer (csv_tokenize.c): the limits, the input source (a sliding
 * window of bytes over a file or a buffer) and the tokenizer, which hands
 * out one record at a time as spans of the window.  csv.c's header comment
 * has the design. */
#ifndef HERD_DATA_CSV_INTERNAL_H
#define HERD_DATA_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "herd.h"
#include "common/error_internal.h" /* HD_PRINTF */

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

/* ---- Sources: the input as a sliding window of bytes ------------------ */

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

/* A source over the caller's bytes (one window). */
void hd_csv_src_init_memory(csv_source *s, const char *name, const char *data, size_t len);
/* A source over the file at `path`, read `chunk` bytes at a time (0:
 * HD_CSV_CHUNK). */
int hd_csv_src_open_file(csv_source *s, const char *path, size_t chunk);
void hd_csv_src_close(csv_source *s);
/* Back to the start, for the second pass (a file is checked unchanged). */
int hd_csv_src_rewind(csv_source *s);

/* ---- The tokenizer: one record at a time, fields as spans of the window */

#define F_QUOTED 1u  /* the field was quoted: p/len exclude the quotes */
#define F_ESCAPED 2u /* quoted and holds doubled quotes, to be undone */
#define F_HIGH 4u    /* holds bytes >= 0x80: check UTF-8 */

typedef struct csv_field {
    const char *p;
    size_t len;
    unsigned flags;
} csv_field;

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

void hd_csv_tok_init(csv_tok *t, csv_source *src, char delim);
/* Record an error as "<name>:<line>: column '<col>' (<k>): <what>". */
int hd_csv_fail(const csv_tok *t, int code, uint64_t line, size_t col, const char *fmt, ...)
    HD_PRINTF(5, 6);
/* Start reading: skip a UTF-8 byte-order mark at the very start. */
int hd_csv_tok_begin(csv_tok *t);
/* The next record into t->f[0..t->nf): HERD_OK, TOK_END, or an error. */
int hd_csv_tok_next(csv_tok *t);
/* Slide the window: keep data[t->pos..], read what follows. */
int hd_csv_tok_refill(csv_tok *t);

/* ---- Parallel reading: a window's complete records in parts ------------ */

/* Windows whose complete records are fewer bytes than this are read by
 * one thread; each part is at least this long. */
#define HD_CSV_PART_MIN ((size_t)256 << 10)
/* Threads one read uses at most (herd_csv_options.threads is capped). */
#define HD_CSV_THREADS_MAX 64

/* Cut s->data[from, ..) -- `from` at the start of a record -- into
 * `nparts` parts of about equal size, at record ends: part i is
 * [cuts[i], cuts[i + 1]), cuts[0] = from, cuts[nparts] = the end of the
 * window's last complete record (the window's end at the end of the
 * input), which is returned.  Parts may be empty. */
size_t hd_csv_cut(const csv_source *s, size_t from, size_t *cuts, size_t nparts);
/* herd_frame_read_csv (path) or _buffer (path NULL, named "buffer.csv")
 * with the window's size (`chunk` bytes, 0: HD_CSV_CHUNK) and the
 * smallest part of a parallel read (`part_min`) chosen: for tests, which
 * make small inputs cross many windows and parts. */
int hd_csv_read_tuned(const char *path, const char *data, size_t len,
                      const herd_csv_options *opt, size_t chunk, size_t part_min,
                      herd_frame **out);
/* The LFs in p[0..n): the physical lines they end. */
uint64_t hd_csv_count_lines(const char *p, size_t n);

#endif
