/* frame.c -- R columns to herd frames and herd frames to data.frames.
 *
 * In: a double column (numeric, Date, POSIXct: their values are doubles,
 * NA a NaN herd reads as missing) is borrowed as float64, and an integer
 * or logical column as int32: R's layout is herd's, so neither is copied.
 * NA_INTEGER is a value to herd, so an integer column holding NA gets a
 * missing mask (one byte per row, in memory R frees when the call ends).
 * Factors and character vectors become string columns: an array of
 * pointers to UTF-8 text, the factor's labels for its codes.
 *
 * Out: frames herd returns are copied into fresh R vectors.
 */
#include <math.h>
#include <string.h>

#include "glue.h"

static void free_frame(void *p)
{
    herd_frame_free(p);
}

static void free_groups(void *p)
{
    herd_groups_free(p);
}

static herd_column_options borrowed(void)
{
    herd_column_options opt;
    herd_column_options_init(&opt, HERD_COLUMN_OPTIONS_VERSION);
    opt.flags = HERD_COLUMN_BORROW;
    return opt;
}

/* int32 values with NA_INTEGER marked missing; the mask only when needed. */
static int add_int32(herd_frame *frame, const char *name, const int *values, R_xlen_t n)
{
    herd_column_options opt = borrowed();
    uint8_t *mask = NULL;
    for (R_xlen_t i = 0; i < n; i++) {
        if (values[i] != NA_INTEGER) continue;
        if (!mask) {
            mask = (uint8_t *)R_alloc((size_t)n, 1);
            memset(mask, 0, (size_t)n);
        }
        mask[i] = 1;
    }
    if (mask) {
        opt.mask = mask;
        opt.flags |= HERD_COLUMN_MASK_MISSING;
    }
    return herd_frame_add_column(frame, name, HERD_TYPE_INT32, values, (size_t)n, &opt);
}

/* Text per row: a character vector's strings, or a factor's labels. */
static int add_strings(herd_frame *frame, const char *name, SEXP x, R_xlen_t n)
{
    const char **text = (const char **)R_alloc((size_t)n + 1, sizeof *text);
    if (Rf_isFactor(x)) {
        SEXP levels = Rf_getAttrib(x, R_LevelsSymbol);
        R_xlen_t n_levels = TYPEOF(levels) == STRSXP ? XLENGTH(levels) : 0;
        const char **labels = (const char **)R_alloc((size_t)n_levels + 1, sizeof *labels);
        for (R_xlen_t l = 0; l < n_levels; l++) {
            SEXP s = STRING_ELT(levels, l);
            labels[l] = s == NA_STRING ? NULL : Rf_translateCharUTF8(s);
        }
        const int *codes = INTEGER(x);
        for (R_xlen_t i = 0; i < n; i++) {
            int c = codes[i];
            if (c != NA_INTEGER && (c < 1 || c > n_levels))
                Rf_error("herd: column '%s' is a factor with code %d at row %lld, outside its "
                         "%lld levels", name, c, (long long)i + 1, (long long)n_levels);
            text[i] = c == NA_INTEGER ? NULL : labels[c - 1];
        }
    } else {
        for (R_xlen_t i = 0; i < n; i++) {
            SEXP s = STRING_ELT(x, i);
            text[i] = s == NA_STRING ? NULL : Rf_translateCharUTF8(s);
        }
    }
    herd_column_options opt = borrowed();
    return herd_frame_add_column(frame, name, HERD_TYPE_STRING, text, (size_t)n, &opt);
}

static int add_column(herd_frame *frame, const char *name, SEXP x, R_xlen_t n)
{
    if (XLENGTH(x) != n)
        Rf_error("herd: column '%s' has %lld values, the data frame %lld rows", name,
                 (long long)XLENGTH(x), (long long)n);
    herd_column_options opt = borrowed();
    if (Rf_isFactor(x) || TYPEOF(x) == STRSXP) return add_strings(frame, name, x, n);
    switch (TYPEOF(x)) {
    case REALSXP:
        return herd_frame_add_column(frame, name, HERD_TYPE_FLOAT64, REAL(x), (size_t)n, &opt);
    case INTSXP:
        return add_int32(frame, name, INTEGER(x), n);
    case LGLSXP:
        return add_int32(frame, name, LOGICAL(x), n);
    default:
        Rf_error("herd: column '%s' is of type %s: herd takes numeric, integer, logical, "
                 "factor, character and Date columns", name, Rf_type2char(TYPEOF(x)));
    }
    return HERD_EINTERNAL;
}

int hr_frame_from_columns(hr_scope *scope, SEXP columns, R_xlen_t n_rows, herd_frame **out)
{
    *out = NULL;
    SEXP names = Rf_getAttrib(columns, R_NamesSymbol);
    if (TYPEOF(columns) != VECSXP || TYPEOF(names) != STRSXP)
        Rf_error("herd: internal: columns must come as a named list");
    herd_frame *frame = NULL;
    int rc = herd_frame_new(&frame);
    if (rc != HERD_OK) return rc;
    hr_scope_own(scope, frame, free_frame);
    for (R_xlen_t j = 0; j < XLENGTH(columns); j++) {
        const char *name = Rf_translateCharUTF8(STRING_ELT(names, j));
        rc = add_column(frame, name, VECTOR_ELT(columns, j), n_rows);
        if (rc != HERD_OK) return rc;
    }
    *out = frame;
    return HERD_OK;
}

int hr_groups_by(hr_scope *scope, const herd_frame *frame, SEXP by, herd_groups **out)
{
    *out = NULL;
    if (TYPEOF(by) != STRSXP || XLENGTH(by) == 0)
        Rf_error("herd: internal: `by` must be a non-empty character vector");
    R_xlen_t n = XLENGTH(by);
    const char **keys = (const char **)R_alloc((size_t)n, sizeof *keys);
    for (R_xlen_t i = 0; i < n; i++) keys[i] = Rf_translateCharUTF8(STRING_ELT(by, i));
    herd_groups *groups = NULL;
    int rc = herd_groups_new(frame, keys, (size_t)n, &groups);
    if (rc != HERD_OK) return rc;
    hr_scope_own(scope, groups, free_groups);
    *out = groups;
    return HERD_OK;
}

/* --- Out ------------------------------------------------------------------ */

static int present(const uint8_t *mask, size_t row)
{
    return !mask || mask[row];
}

static SEXP column_to_r(const herd_frame *frame, size_t col, size_t n)
{
    const void *data = NULL;
    size_t stride = 0;
    const uint8_t *mask = NULL;
    herd_frame_column_data(frame, col, &data, &stride, &mask);
    const char *base = data;
    SEXP x = R_NilValue;
    switch (herd_frame_column_type(frame, col)) {
    case HERD_TYPE_FLOAT32:
    case HERD_TYPE_FLOAT64: {
        int single = herd_frame_column_type(frame, col) == HERD_TYPE_FLOAT32;
        x = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)n));
        double *out = REAL(x);
        for (size_t i = 0; i < n; i++) {
            double v = single ? *(const float *)(const void *)(base + i * stride)
                              : *(const double *)(const void *)(base + i * stride);
            out[i] = isnan(v) ? NA_REAL : v;
        }
        break;
    }
    case HERD_TYPE_INT32: {
        x = PROTECT(Rf_allocVector(INTSXP, (R_xlen_t)n));
        int *out = INTEGER(x);
        for (size_t i = 0; i < n; i++)
            out[i] = present(mask, i) ? *(const int32_t *)(const void *)(base + i * stride)
                                      : NA_INTEGER;
        break;
    }
    case HERD_TYPE_INT64: {
        /* Doubles: R has no 64-bit integer, and versions, row counts and
         * byte sizes can pass 2^31; every value below 2^53 is exact. */
        x = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)n));
        double *out = REAL(x);
        for (size_t i = 0; i < n; i++)
            out[i] = present(mask, i)
                         ? (double)*(const int64_t *)(const void *)(base + i * stride)
                         : NA_REAL;
        break;
    }
    case HERD_TYPE_STRING: {
        x = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
        for (size_t i = 0; i < n; i++) {
            const char *s = present(mask, i) ? *(const char *const *)(const void *)(base + i * stride)
                                             : NULL;
            SET_STRING_ELT(x, (R_xlen_t)i, s ? Rf_mkCharCE(s, CE_UTF8) : NA_STRING);
        }
        break;
    }
    default:
        Rf_error("herd: internal: column %zu has an unknown type", col);
    }
    UNPROTECT(1);
    return x;
}

SEXP hr_frame_to_data_frame(const herd_frame *frame)
{
    size_t n_cols = herd_frame_column_count(frame), n_rows = herd_frame_row_count(frame);
    SEXP df = PROTECT(Rf_allocVector(VECSXP, (R_xlen_t)n_cols));
    SEXP names = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n_cols));
    for (size_t j = 0; j < n_cols; j++) {
        SET_VECTOR_ELT(df, (R_xlen_t)j, column_to_r(frame, j, n_rows));
        SET_STRING_ELT(names, (R_xlen_t)j,
                       Rf_mkCharCE(herd_frame_column_name(frame, j), CE_UTF8));
    }
    Rf_setAttrib(df, R_NamesSymbol, names);
    /* Compact row names c(NA, -n), as data.frame() makes them. */
    SEXP row_names = PROTECT(Rf_allocVector(INTSXP, 2));
    INTEGER(row_names)[0] = NA_INTEGER;
    INTEGER(row_names)[1] = -(int)n_rows;
    Rf_setAttrib(df, R_RowNamesSymbol, row_names);
    Rf_setAttrib(df, R_ClassSymbol, Rf_mkString("data.frame"));
    UNPROTECT(3);
    return df;
}
