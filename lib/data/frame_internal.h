/* frame_internal.h -- the layout of a frame, for the modules that build or
 * walk frames quickly (CSV, groups, results).  Not public. */
#ifndef HERD_FRAME_INTERNAL_H
#define HERD_FRAME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include "herd.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"

typedef struct hd_column {
    char *name;
    int type;                  /* herd_type */
    size_t stride;             /* bytes between values, never 0 */
    const unsigned char *data; /* first value (borrowed or owned_data) */
    const uint8_t *mask;       /* nonzero = present; NULL = all present */
    void *owned_data;          /* freed with the frame, may be NULL */
    uint8_t *owned_mask;       /* freed with the frame, may be NULL */
    hd_arena *strings;         /* owned string bytes, may be NULL */
} hd_column;

struct herd_frame {
    hd_column *cols;
    size_t ncols, cap;
    size_t nrows;
    /* Column names (pointing at cols[i].name) and their index, so that
     * lookups and the uniqueness check stay O(1) with many columns. */
    const char **names;
    size_t names_cap;
    hd_key_index name_index;
};

/* Size in bytes of one value of `type` (0 for an unknown type). */
size_t hd_type_size(int type);

/* Address of the value at `row`. */
static inline const void *hd_col_at(const hd_column *c, size_t row)
{
    return c->data + row * c->stride;
}

static inline const char *hd_col_str(const hd_column *c, size_t row)
{
    const char *s;
    __builtin_memcpy(&s, hd_col_at(c, row), sizeof s);
    return s;
}

static inline int64_t hd_col_int(const hd_column *c, size_t row)
{
    if (c->type == HERD_TYPE_INT32) {
        int32_t v;
        __builtin_memcpy(&v, hd_col_at(c, row), sizeof v);
        return v;
    }
    int64_t v;
    __builtin_memcpy(&v, hd_col_at(c, row), sizeof v);
    return v;
}

/* Any numeric value as double; missing gives NaN.  Not for strings. */
static inline double hd_col_double(const hd_column *c, size_t row)
{
    if (c->mask && !c->mask[row]) return NAN;
    switch (c->type) {
    case HERD_TYPE_FLOAT32: {
        float v;
        __builtin_memcpy(&v, hd_col_at(c, row), sizeof v);
        return v;
    }
    case HERD_TYPE_FLOAT64: {
        double v;
        __builtin_memcpy(&v, hd_col_at(c, row), sizeof v);
        return v;
    }
    default:
        return (double)hd_col_int(c, row);
    }
}

/* Whether the value at `row` is present (a NaN float or NULL string is not). */
int hd_col_present(const hd_column *c, size_t row);

/* Add a column whose memory the frame takes over: `data` (contiguous values,
 * allocated with hd_malloc), `mask` (or NULL) and `strings` (or NULL, the
 * arena that string pointers point into).  On failure the frame frees them
 * all.  The name is validated as in herd_frame_add_column; string values are
 * trusted (the caller checked their UTF-8). */
int hd_frame_adopt(herd_frame *f, const char *name, int type, void *data, uint8_t *mask,
                   hd_arena *strings, size_t nrows);

/* A new frame of the rows `rows[0..n)` of `f` (in that order), every
 * column copied with its mask.  String columns copy the pointers only: the
 * new frame borrows the string bytes of `f`, which must outlive it. */
int hd_frame_take(const herd_frame *f, const size_t *rows, size_t n, herd_frame **out);

/* The column at `index`, or NULL (with HERD_EINVAL recorded) when out of
 * range. */
const hd_column *hd_frame_col(const herd_frame *f, size_t index);

/* Gather columns cols[0..ncols) of the given rows (NULL: rows 0..n-1) into
 * a row-major float matrix out[n * ncols]; missing values become NaN.  The
 * columns must be numeric. */
void hd_frame_gather_f32(const herd_frame *f, const size_t *cols, size_t ncols,
                         const size_t *rows, size_t n, float *out);

/* Builders for result tables: add a column by copying n values. */
int hd_frame_add_f64(herd_frame *f, const char *name, const double *v, size_t n);
int hd_frame_add_i64(herd_frame *f, const char *name, const int64_t *v, size_t n);
int hd_frame_add_str(herd_frame *f, const char *name, const char *const *v, size_t n);

#endif
