/* frame.c -- columnar tables: borrowed or owned columns, masks, accessors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"
#include "data/frame_internal.h"

size_t hd_type_size(int type)
{
    switch (type) {
    case HERD_TYPE_FLOAT32: return sizeof(float);
    case HERD_TYPE_FLOAT64: return sizeof(double);
    case HERD_TYPE_INT32: return sizeof(int32_t);
    case HERD_TYPE_INT64: return sizeof(int64_t);
    case HERD_TYPE_STRING: return sizeof(const char *);
    default: return 0;
    }
}

const char *herd_type_name(int type)
{
    switch (type) {
    case HERD_TYPE_FLOAT32: return "float32";
    case HERD_TYPE_FLOAT64: return "float64";
    case HERD_TYPE_INT32: return "int32";
    case HERD_TYPE_INT64: return "int64";
    case HERD_TYPE_STRING: return "string";
    default: return "unknown";
    }
}

int herd_frame_new(herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = hd_calloc(1, sizeof **out);
    return *out ? HERD_OK : HERD_ENOMEM;
}

static void hd_column_release(hd_column *c)
{
    free(c->name);
    free(c->owned_data);
    free(c->owned_mask);
    hd_arena_free(c->strings);
}

void herd_frame_free(herd_frame *frame)
{
    if (!frame) return;
    for (size_t i = 0; i < frame->ncols; i++) hd_column_release(&frame->cols[i]);
    free(frame->cols);
    free(frame->names);
    hd_key_index_free(&frame->name_index);
    free(frame);
}

int hd_col_present(const hd_column *c, size_t row)
{
    if (c->mask && !c->mask[row]) return 0;
    switch (c->type) {
    case HERD_TYPE_FLOAT32:
    case HERD_TYPE_FLOAT64: return !isnan(hd_col_double(c, row));
    case HERD_TYPE_STRING: return hd_col_str(c, row) != NULL;
    default: return 1;
    }
}

static int hd_find_index(const herd_frame *frame, const char *name, size_t *index)
{
    if (!frame->ncols) return 0;
    size_t i = hd_key_index_find(&frame->name_index, frame->names, name);
    if (i == (size_t)-1) return 0;
    *index = i;
    return 1;
}

/* Checks shared by every way of adding a column: name, uniqueness, length. */
static int hd_check_new_column(const herd_frame *frame, const char *name, int type, size_t nrows)
{
    int rc = hd_name_check(name, HERD_NAME_MAX, "column name");
    if (rc) return rc;
    size_t dup;
    if (hd_find_index(frame, name, &dup))
        return hd_error(HERD_EEXISTS,
                        "column '%s' already exists in the frame (column %zu); "
                        "column names must be unique",
                        name, dup);
    if (!hd_type_size(type))
        return hd_error(HERD_EINVAL,
                        "column '%s': type %d is not a herd_type (use HERD_TYPE_FLOAT32, "
                        "_FLOAT64, _INT32, _INT64 or _STRING)",
                        name, type);
    if (frame->ncols > 0 && nrows != frame->nrows)
        return hd_error(HERD_EINVAL,
                        "column '%s' has %zu rows but the frame's columns have %zu; all "
                        "columns of a frame must have the same length",
                        name, nrows, frame->nrows);
    return HERD_OK;
}

/* Append a fully built column; on failure releases it. */
static int hd_append(herd_frame *frame, hd_column *c, size_t nrows)
{
    size_t n = frame->ncols;
    if (hd_grow((void **)&frame->cols, &frame->cap, n + 1, sizeof *frame->cols) ||
        hd_grow((void **)&frame->names, &frame->names_cap, n + 1, sizeof *frame->names)) {
        hd_column_release(c);
        return HERD_ENOMEM;
    }
    frame->names[n] = c->name;
    if (hd_key_index_add(&frame->name_index, frame->names, n)) {
        hd_column_release(c);
        return HERD_ENOMEM;
    }
    frame->cols[frame->ncols++] = *c;
    frame->nrows = nrows;
    return HERD_OK;
}

int hd_frame_adopt(herd_frame *frame, const char *name, int type, void *data, uint8_t *mask,
                   hd_arena *strings, size_t nrows)
{
    hd_column c = {0};
    c.owned_data = data;
    c.owned_mask = mask;
    c.strings = strings;
    int rc = hd_check_new_column(frame, name, type, nrows);
    if (!rc) {
        c.name = hd_strdup(name);
        if (!c.name) rc = HERD_ENOMEM;
    }
    if (rc) {
        hd_column_release(&c);
        return rc;
    }
    c.type = type;
    c.stride = hd_type_size(type);
    c.data = data;
    c.mask = mask;
    return hd_append(frame, &c, nrows);
}

/* Validate the strings of a caller's column: UTF-8, and no NULL where the
 * mask says a value is present is fine (NULL is simply missing). */
static int hd_check_strings(const char *name, const unsigned char *data, size_t stride,
                            size_t nrows)
{
    char q[96];
    for (size_t r = 0; r < nrows; r++) {
        const char *s;
        memcpy(&s, data + r * stride, sizeof s);
        if (!s) continue;
        size_t len = strlen(s), bad;
        if (!hd_utf8_valid(s, len, &bad))
            return hd_error(HERD_EFORMAT,
                            "column '%s', row %zu: %s is not valid UTF-8 (byte %zu); "
                            "convert the text to UTF-8",
                            name, r, hd_quote(s, len, q, sizeof q), bad);
    }
    return HERD_OK;
}

/* Copy a caller's mask into the normal form (1 = present). */
static uint8_t *hd_copy_mask(const uint8_t *mask, size_t nrows, int missing_is_one)
{
    uint8_t *m = hd_malloc(nrows, 1);
    if (!m) return NULL;
    for (size_t r = 0; r < nrows; r++) m[r] = missing_is_one ? !mask[r] : !!mask[r];
    return m;
}

/* Copy values (gathering a strided column) into contiguous memory. */
static int hd_copy_values(hd_column *c, const unsigned char *data, size_t stride, size_t nrows)
{
    size_t size = hd_type_size(c->type);
    unsigned char *dst = hd_malloc(nrows, size);
    if (!dst) return HERD_ENOMEM;
    c->owned_data = dst;
    if (stride == size) {
        if (nrows) memcpy(dst, data, nrows * size);
    } else {
        for (size_t r = 0; r < nrows; r++) memcpy(dst + r * size, data + r * stride, size);
    }
    c->data = dst;
    c->stride = size;
    if (c->type != HERD_TYPE_STRING) return HERD_OK;

    c->strings = hd_arena_new();
    if (!c->strings) return HERD_ENOMEM;
    for (size_t r = 0; r < nrows; r++) {
        const char *s;
        memcpy(&s, dst + r * size, sizeof s);
        if (!s) continue;
        char *copy = hd_arena_strndup(c->strings, s, strlen(s));
        if (!copy) return HERD_ENOMEM;
        memcpy(dst + r * size, &copy, sizeof copy);
    }
    return HERD_OK;
}

static int hd_check_layout(const char *name, int type, const void *data, size_t nrows,
                           size_t stride, uint32_t flags, const uint8_t *mask)
{
    size_t size = hd_type_size(type);
    if (!data && nrows > 0)
        return hd_error(HERD_EINVAL, "column '%s': argument 'data' is NULL but nrows is %zu",
                        name, nrows);
    if (stride < size)
        return hd_error(HERD_EINVAL,
                        "column '%s': stride %zu is smaller than one %s value (%zu bytes)",
                        name, stride, herd_type_name(type), size);
    /* Values are read with memcpy, so any stride works; but a stride that is
     * not a multiple of the value size is almost always a caller's mistake
     * (a byte count passed where an element count was meant, or the reverse). */
    if (stride % size)
        return hd_error(HERD_EINVAL,
                        "column '%s': stride %zu is not a multiple of the %s value size "
                        "(%zu); the stride is in bytes",
                        name, stride, herd_type_name(type), size);
    if (flags & ~(HERD_COLUMN_BORROW | HERD_COLUMN_MASK_MISSING))
        return hd_error(HERD_EINVAL, "column '%s': unknown flags 0x%x in options", name,
                        (unsigned)(flags & ~(HERD_COLUMN_BORROW | HERD_COLUMN_MASK_MISSING)));
    if (mask && (type == HERD_TYPE_FLOAT32 || type == HERD_TYPE_FLOAT64))
        return hd_error(HERD_EINVAL,
                        "column '%s': a %s column cannot have a mask; store missing "
                        "values as NaN",
                        name, herd_type_name(type));
    if ((flags & HERD_COLUMN_MASK_MISSING) && !mask)
        return hd_error(HERD_EINVAL,
                        "column '%s': flag HERD_COLUMN_MASK_MISSING given without a mask",
                        name);
    return HERD_OK;
}

int herd_frame_add_column(herd_frame *frame, const char *name, int type, const void *data,
                          size_t nrows, const herd_column_options *opt)
{
    HD_CHECK_NOT_NULL(frame);
    HD_CHECK_NOT_NULL(name);
    herd_column_options o;
    int rc = hd_options_read(&hd_column_options_desc, opt, &o, __func__);
    if (rc) return rc;
    rc = hd_check_new_column(frame, name, type, nrows);
    if (rc) return rc;
    size_t stride = o.stride ? o.stride : hd_type_size(type);
    rc = hd_check_layout(name, type, data, nrows, stride, o.flags, o.mask);
    if (rc) return rc;
    if (type == HERD_TYPE_STRING) {
        rc = hd_check_strings(name, data, stride, nrows);
        if (rc) return rc;
    }

    hd_column c = {0};
    c.type = type;
    c.name = hd_strdup(name);
    if (!c.name) return HERD_ENOMEM;
    int borrow = (o.flags & HERD_COLUMN_BORROW) != 0;
    if (borrow) {
        c.data = data;
        c.stride = stride;
    } else if ((rc = hd_copy_values(&c, data, stride, nrows))) {
        hd_column_release(&c);
        return rc;
    }
    if (o.mask) {
        /* A borrowed mask in normal form is used in place; an inverted one
         * (pandas) is normalised into a copy so readers see one form. */
        if (borrow && !(o.flags & HERD_COLUMN_MASK_MISSING)) {
            c.mask = o.mask;
        } else {
            c.owned_mask = hd_copy_mask(o.mask, nrows, (o.flags & HERD_COLUMN_MASK_MISSING) != 0);
            if (!c.owned_mask) {
                hd_column_release(&c);
                return HERD_ENOMEM;
            }
            c.mask = c.owned_mask;
        }
    }
    return hd_append(frame, &c, nrows);
}

size_t herd_frame_row_count(const herd_frame *frame)
{
    HD_ACCESSOR_CHECK(frame, 0);
    return frame->nrows;
}

size_t herd_frame_column_count(const herd_frame *frame)
{
    HD_ACCESSOR_CHECK(frame, 0);
    return frame->ncols;
}

/* The column `col` of `frame` for an accessor, or NULL. */
static const hd_column *hd_accessor_col(const herd_frame *frame, size_t col)
{
    HD_ACCESSOR_CHECK(frame, NULL);
    HD_ACCESSOR_CHECK(col < frame->ncols, NULL);
    return &frame->cols[col];
}

/* "a, b, c" (cut after a few hundred bytes) for messages about unknown names. */
static const char *hd_column_list(const herd_frame *frame, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < frame->ncols && o + 8 < size; i++) {
        int n = snprintf(buf + o, size - o, "%s'%s'", i ? ", " : "", frame->cols[i].name);
        if (n < 0 || (size_t)n >= size - o) {
            strcpy(buf + (o < size - 5 ? o : size - 5), "...");
            break;
        }
        o += (size_t)n;
    }
    return frame->ncols ? buf : "(none)";
}

int herd_frame_find(const herd_frame *frame, const char *name, size_t *index)
{
    HD_CHECK_NOT_NULL(frame);
    HD_CHECK_NOT_NULL(name);
    HD_CHECK_NOT_NULL(index);
    if (hd_find_index(frame, name, index)) return HERD_OK;
    char list[400];
    return hd_error(HERD_ENOTFOUND, "no column '%s' in the frame; its columns are %s", name,
                    hd_column_list(frame, list, sizeof list));
}

const hd_column *hd_frame_col(const herd_frame *frame, size_t index)
{
    if (index < frame->ncols) return &frame->cols[index];
    hd_error(HERD_EINVAL, "column index %zu is out of range: the frame has %zu columns", index,
             frame->ncols);
    return NULL;
}

const char *herd_frame_column_name(const herd_frame *frame, size_t col)
{
    const hd_column *c = hd_accessor_col(frame, col);
    return c ? c->name : NULL;
}

int herd_frame_column_type(const herd_frame *frame, size_t col)
{
    const hd_column *c = hd_accessor_col(frame, col);
    return c ? c->type : 0;
}

int herd_frame_column_data(const herd_frame *frame, size_t col, const void **data, size_t *stride,
                           const uint8_t **mask)
{
    HD_CHECK_NOT_NULL(frame);
    HD_CHECK_NOT_NULL(data);
    HD_CHECK_NOT_NULL(stride);
    HD_CHECK_NOT_NULL(mask);
    const hd_column *c = hd_frame_col(frame, col);
    if (!c) return HERD_EINVAL;
    *data = c->data;
    *stride = c->stride;
    *mask = c->mask;
    return HERD_OK;
}

int herd_frame_is_present(const herd_frame *frame, size_t col, size_t row)
{
    const hd_column *c = hd_accessor_col(frame, col);
    if (!c) return 0;
    HD_ACCESSOR_CHECK(row < frame->nrows, 0);
    return hd_col_present(c, row);
}

/* The column for a typed getter, with the range checks every getter needs. */
static const hd_column *hd_cell(const herd_frame *frame, size_t col, size_t row, const char *fn)
{
    if (!frame) {
        hd_error(HERD_EINVAL, "%s: argument 'frame' is NULL", fn);
        return NULL;
    }
    if (col >= frame->ncols) {
        hd_error(HERD_EINVAL, "%s: column %zu is out of range: the frame has %zu columns", fn,
                 col, frame->ncols);
        return NULL;
    }
    if (row >= frame->nrows) {
        hd_error(HERD_EINVAL, "%s: row %zu is out of range: the frame has %zu rows", fn, row,
                 frame->nrows);
        return NULL;
    }
    return &frame->cols[col];
}

int herd_frame_get_double(const herd_frame *frame, size_t col, size_t row, double *out)
{
    HD_CHECK_NOT_NULL(out);
    const hd_column *c = hd_cell(frame, col, row, __func__);
    if (!c) return HERD_EINVAL;
    if (c->type == HERD_TYPE_STRING)
        return hd_error(HERD_ETYPE, "column '%s' holds strings, not numbers", c->name);
    if (!hd_col_present(c, row)) { /* a masked value, or a float NaN */
        *out = NAN;
        return HERD_MISSING;
    }
    *out = hd_col_double(c, row);
    return HERD_OK;
}

int herd_frame_get_int64(const herd_frame *frame, size_t col, size_t row, int64_t *out)
{
    HD_CHECK_NOT_NULL(out);
    const hd_column *c = hd_cell(frame, col, row, __func__);
    if (!c) return HERD_EINVAL;
    if (c->type != HERD_TYPE_INT32 && c->type != HERD_TYPE_INT64)
        return hd_error(HERD_ETYPE, "column '%s' is %s, not an integer column; use "
                        "herd_frame_get_double or herd_frame_get_string",
                        c->name, herd_type_name(c->type));
    if (c->mask && !c->mask[row]) {
        *out = 0;
        return HERD_MISSING;
    }
    *out = hd_col_int(c, row);
    return HERD_OK;
}

int herd_frame_get_string(const herd_frame *frame, size_t col, size_t row, const char **out)
{
    HD_CHECK_NOT_NULL(out);
    const hd_column *c = hd_cell(frame, col, row, __func__);
    if (!c) return HERD_EINVAL;
    if (c->type != HERD_TYPE_STRING)
        return hd_error(HERD_ETYPE, "column '%s' is %s, not a string column", c->name,
                        herd_type_name(c->type));
    *out = (c->mask && !c->mask[row]) ? NULL : hd_col_str(c, row);
    return *out ? HERD_OK : HERD_MISSING;
}

void hd_frame_gather_f32(const herd_frame *frame, const size_t *cols, size_t ncols,
                         const size_t *rows, size_t n, float *out)
{
    /* Column by column: each column's values are read in one sweep, which
     * keeps the reads sequential when rows are ascending. */
    for (size_t j = 0; j < ncols; j++) {
        const hd_column *c = &frame->cols[cols[j]];
        for (size_t i = 0; i < n; i++) {
            size_t r = rows ? rows[i] : i;
            out[i * ncols + j] = (float)hd_col_double(c, r);
        }
    }
}

int hd_frame_add_f64(herd_frame *frame, const char *name, const double *v, size_t n)
{
    return herd_frame_add_column(frame, name, HERD_TYPE_FLOAT64, v, n, NULL);
}

int hd_frame_add_i64(herd_frame *frame, const char *name, const int64_t *v, size_t n)
{
    return herd_frame_add_column(frame, name, HERD_TYPE_INT64, v, n, NULL);
}

int hd_frame_add_str(herd_frame *frame, const char *name, const char *const *v, size_t n)
{
    return herd_frame_add_column(frame, name, HERD_TYPE_STRING, v, n, NULL);
}

/* Column `col` at rows[0..n) as a new column of `t`: values and mask
 * copied; string values copied into the column's own arena when
 * `copy_strings`, else pointing at `col`'s. */
static int hd_take_column(herd_frame *t, const hd_column *col, const size_t *rows, size_t n,
                          int copy_strings)
{
    size_t size = hd_type_size(col->type);
    unsigned char *data = hd_malloc(n ? n : 1, size);
    uint8_t *mask = col->mask ? hd_malloc(n ? n : 1, 1) : NULL;
    hd_arena *strings = copy_strings && col->type == HERD_TYPE_STRING ? hd_arena_new() : NULL;
    int rc = data && (!col->mask || mask) &&
             (!copy_strings || col->type != HERD_TYPE_STRING || strings) ? HERD_OK : HERD_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        memcpy(data + i * size, hd_col_at(col, rows[i]), size);
        if (mask) mask[i] = col->mask[rows[i]];
        if (!strings) continue;
        /* a masked value's pointer is never read: it may be anything */
        const char *s = !col->mask || col->mask[rows[i]] ? hd_col_str(col, rows[i]) : NULL;
        char *copy = s ? hd_arena_strndup(strings, s, strlen(s)) : NULL;
        if (s && !copy) rc = HERD_ENOMEM;
        memcpy(data + i * size, &copy, sizeof copy);
    }
    if (rc) {
        free(data);
        free(mask);
        hd_arena_free(strings);
        return rc;
    }
    return hd_frame_adopt(t, col->name, col->type, data, mask, strings, n);
}

static int hd_frame_take_rows(const herd_frame *f, const size_t *rows, size_t n,
                              int copy_strings, herd_frame **out)
{
    *out = NULL;
    herd_frame *t;
    int rc = herd_frame_new(&t);
    for (size_t c = 0; !rc && c < f->ncols; c++)
        rc = hd_take_column(t, &f->cols[c], rows, n, copy_strings);
    if (!rc) t->nrows = n; /* also for a frame without columns */
    if (rc) {
        herd_frame_free(t);
        return rc;
    }
    *out = t;
    return HERD_OK;
}

int hd_frame_take(const herd_frame *f, const size_t *rows, size_t n, herd_frame **out)
{
    return hd_frame_take_rows(f, rows, n, 0, out);
}

int herd_frame_take(const herd_frame *frame, const size_t *rows, size_t nrows,
                    herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(frame);
    if (nrows && !rows)
        return hd_error(HERD_EINVAL, "herd_frame_take: rows is NULL but nrows is %zu", nrows);
    for (size_t i = 0; i < nrows; i++)
        if (rows[i] >= frame->nrows)
            return hd_error(HERD_EINVAL, "herd_frame_take: rows[%zu] is %zu, but the frame has "
                            "%zu rows (0..%zu)", i, rows[i], frame->nrows,
                            frame->nrows ? frame->nrows - 1 : 0);
    return hd_frame_take_rows(frame, rows, nrows, 1, out);
}

int herd_frame_filter(const herd_frame *frame, const uint8_t *mask, size_t nrows,
                      herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(frame);
    if (nrows && !mask)
        return hd_error(HERD_EINVAL, "herd_frame_filter: mask is NULL but nrows is %zu", nrows);
    if (nrows != frame->nrows)
        return hd_error(HERD_EINVAL, "herd_frame_filter: the mask has %zu bytes but the frame "
                        "%zu rows; give one byte per row", nrows, frame->nrows);
    size_t *rows = hd_malloc(nrows ? nrows : 1, sizeof *rows), n = 0;
    if (!rows) return HERD_ENOMEM;
    for (size_t i = 0; i < nrows; i++)
        if (mask[i]) rows[n++] = i;
    int rc = hd_frame_take_rows(frame, rows, n, 1, out);
    free(rows);
    return rc;
}
