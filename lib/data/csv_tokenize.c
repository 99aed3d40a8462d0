/* csv_tokenize.c -- the CSV tokenizer (csv_internal.h): the input as a
 * sliding window of bytes (a file read HD_CSV_CHUNK bytes at a time,
 * carrying an unfinished record over to the next window, or a caller's
 * buffer as one window), and RFC 4180 records cut from it as spans, with
 * the structure checked (quotes, field counts, limits) as it goes.
 * Unquoted fields are scanned eight bytes at a time (SSE2 when there is).
 * Moved from csv.c, whose header comment has the design. */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "data/csv_internal.h"

/* ------------------------------------------------------------------------
 * Sources: the input as a sliding window of bytes
 * --------------------------------------------------------------------- */

void hd_csv_src_init_memory(csv_source *s, const char *name, const char *data, size_t len)
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

int hd_csv_src_open_file(csv_source *s, const char *path, size_t chunk)
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
    s->cap = chunk ? chunk : HD_CSV_CHUNK;
    s->buf = hd_malloc(s->cap, 1);
    if (!s->buf) return HERD_ENOMEM;
    s->data = s->buf;
    return HERD_OK;
}

void hd_csv_src_close(csv_source *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    free(s->buf);
    s->buf = NULL;
}

/* Back to the first byte, for the second pass. */
int hd_csv_src_rewind(csv_source *s)
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

/* Byte classes of the unquoted-field scan.  CLS_HIGH equals F_HIGH so that
 * the scan can OR classes into the field's flags. */
#define CLS_PLAIN 0u
#define CLS_HIGH F_HIGH
#define CLS_STOP 8u /* delimiter, quote, CR, LF, NUL */

void hd_csv_tok_init(csv_tok *t, csv_source *src, char delim)
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

int hd_csv_fail(const csv_tok *t, int code, uint64_t line, size_t col, const char *fmt,
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
int hd_csv_tok_begin(csv_tok *t)
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
        return hd_csv_fail(t, HERD_ELIMIT, t->rec_line, HD_NO_COL,
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
    return hd_csv_fail(t, HERD_ELIMIT, t->rec_line, col,
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
                return hd_csv_fail(t, HERD_EFORMAT, t->rec_line, col,
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
            return hd_csv_fail(t, HERD_EFORMAT, qline, col,
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
        return hd_csv_fail(t, HERD_EFORMAT, t->rec_line, col,
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
            return hd_csv_fail(t, HERD_EFORMAT, t->rec_line, col,
                            "a NUL byte (byte offset %" PRIu64 "); text must not contain "
                            "NUL bytes", s->base + (uint64_t)((const char *)p - s->data));
        return hd_csv_fail(t, HERD_EFORMAT, t->rec_line, col,
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
    return hd_csv_fail(t, HERD_EFORMAT, t->rec_line, col,
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
int hd_csv_tok_next(csv_tok *t)
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
            return hd_csv_fail(t, HERD_ELIMIT, t->line, HD_NO_COL,
                            "the record is longer than %zu bytes, the limit of a CSV record; "
                            "check for an unbalanced quote", HD_CSV_RECORD_MAX);
        rc = src_fill(s, t->pos);
        if (rc) return rc;
        t->pos = 0;
    }
}

int hd_csv_tok_refill(csv_tok *t)
{
    int rc = src_fill(t->src, t->pos);
    if (!rc) t->pos = 0;
    return rc;
}

/* ------------------------------------------------------------------------
 * Cutting a window into parts for parallel reading
 * --------------------------------------------------------------------- */

uint64_t hd_csv_count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++) lines++;
    return lines;
}

/* Outside quotes, a record ends at every LF.  Inside a window that starts
 * at a record's start, a byte is outside quotes exactly when an even
 * number of quotes precede it: an opening and a closing quote make two, a
 * doubled quote inside a field two more, and any other quote is an error
 * the tokenizer reports before the byte (docs: csv.c, "Parallel reading").
 * So the LFs after an even number of quotes are the safe cuts. */
size_t hd_csv_cut(const csv_source *s, size_t from, size_t *cuts, size_t nparts)
{
    const char *d = s->data;
    size_t len = s->len, last = from;
    size_t step = (len - from) / nparts, k = 1;
    cuts[0] = from;
    if (!memchr(d + from, '"', len - from)) { /* no quotes: every LF is a cut */
        const char *nl = memrchr(d + from, '\n', len - from);
        last = nl ? (size_t)(nl - d) + 1 : from;
        for (; k < nparts; k++) {
            size_t target = from + k * step;
            const char *c = target < last ? memchr(d + target, '\n', last - target) : NULL;
            cuts[k] = c ? (size_t)(c - d) + 1 : last;
        }
    } else {
        int odd = 0;
        for (size_t i = from; i < len; i++) {
            if (d[i] == '"') {
                odd ^= 1;
            } else if (d[i] == '\n' && !odd) {
                last = i + 1;
                while (k < nparts && last > from + k * step) cuts[k++] = last;
            }
        }
        for (; k < nparts; k++) cuts[k] = last;
    }
    if (s->eof) last = len; /* the last record needs no LF, and is in the window */
    for (k = 1; k < nparts; k++)
        if (cuts[k] > last) cuts[k] = last;
    cuts[nparts] = last;
    return last;
}
