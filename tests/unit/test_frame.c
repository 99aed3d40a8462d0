/* Tests of frames: copied and borrowed columns, strides, masks, accessors
 * and every bad argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "data/frame_internal.h"
#include "data/order_internal.h"

#define ERR_HAS(text) assert_non_null(strstr(herd_last_error(), (text)))

static herd_frame *new_frame(void)
{
    herd_frame *f = NULL;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    assert_non_null(f);
    return f;
}

static void test_empty_frame(void **state)
{
    (void)state;
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_row_count(f), 0);
    assert_int_equal(herd_frame_column_count(f), 0);
    size_t i;
    assert_int_equal(herd_frame_find(f, "x", &i), HERD_ENOTFOUND);
    ERR_HAS("no column 'x'");
    ERR_HAS("(none)");
    /* A zero-row column is allowed, with NULL data. */
    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, NULL, 0, NULL), HERD_OK);
    assert_int_equal(herd_frame_column_count(f), 1);
    assert_int_equal(herd_frame_row_count(f), 0);
    double d;
    assert_int_equal(herd_frame_get_double(f, 0, 0, &d), HERD_EINVAL);
    ERR_HAS("row 0 is out of range");
    herd_frame_free(f);
    herd_frame_free(NULL);
}

static void test_copied_columns_all_types(void **state)
{
    (void)state;
    float f32[3] = {1.5f, NAN, -2.0f};
    double f64[3] = {0.1, 2.5, NAN};
    int32_t i32[3] = {1, -2, 3};
    int64_t i64[3] = {INT64_MAX, 0, -7};
    const char *str[3] = {"a", NULL, "K\xc3\xb6ln"};
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "f32", HERD_TYPE_FLOAT32, f32, 3, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "f64", HERD_TYPE_FLOAT64, f64, 3, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "i32", HERD_TYPE_INT32, i32, 3, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "i64", HERD_TYPE_INT64, i64, 3, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, str, 3, NULL), HERD_OK);
    /* Copies: changing the caller's arrays changes nothing. */
    f64[0] = 99;
    i64[1] = 99;
    str[0] = "changed";
    assert_int_equal(herd_frame_column_count(f), 5);
    assert_int_equal(herd_frame_row_count(f), 3);

    double d;
    assert_int_equal(herd_frame_get_double(f, 0, 0, &d), HERD_OK);
    assert_true(d == 1.5);
    assert_int_equal(herd_frame_get_double(f, 1, 0, &d), HERD_OK);
    assert_true(d == 0.1);
    assert_int_equal(herd_frame_get_double(f, 2, 1, &d), HERD_OK);
    assert_true(d == -2.0);
    int64_t v;
    assert_int_equal(herd_frame_get_int64(f, 3, 0, &v), HERD_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(herd_frame_get_int64(f, 3, 1, &v), HERD_OK);
    assert_true(v == 0);
    assert_int_equal(herd_frame_get_int64(f, 2, 2, &v), HERD_OK);
    assert_true(v == 3);
    const char *s;
    assert_int_equal(herd_frame_get_string(f, 4, 0, &s), HERD_OK);
    assert_string_equal(s, "a");
    /* Missing values: HERD_MISSING with the type's placeholder, and the
     * pending error left alone (a missing value is not an error). */
    herd_error_set(HERD_EIO, "pending");
    s = "unset";
    assert_int_equal(herd_frame_get_string(f, 4, 1, &s), HERD_MISSING);
    assert_null(s);
    d = 0;
    assert_int_equal(herd_frame_get_double(f, 0, 1, &d), HERD_MISSING); /* a NaN float */
    assert_true(isnan(d));
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_last_error_code(), HERD_EIO);
    assert_int_equal(herd_frame_get_string(f, 4, 2, &s), HERD_OK);
    assert_string_equal(s, "K\xc3\xb6ln");

    assert_false(herd_frame_is_present(f, 0, 1)); /* NaN float */
    assert_false(herd_frame_is_present(f, 4, 1)); /* NULL string */
    assert_true(herd_frame_is_present(f, 3, 0));
    /* Direct accessors: out of range or NULL gives 0 / NULL and leaves the
     * last error alone (it may be a failed call's, still to be read). */
    herd_error_set(HERD_EIO, "pending");
    assert_false(herd_frame_is_present(f, 9, 0));
    assert_false(herd_frame_is_present(f, 0, 9));
    assert_string_equal(herd_frame_column_name(f, 4), "s");
    assert_null(herd_frame_column_name(f, 5));
    assert_int_equal(herd_frame_column_type(f, 1), HERD_TYPE_FLOAT64);
    assert_int_equal(herd_frame_column_type(f, 5), 0);
    assert_int_equal(herd_frame_row_count(NULL), 0);
    assert_int_equal(herd_frame_column_count(NULL), 0);
    assert_null(herd_frame_column_name(NULL, 0));
    assert_int_equal(herd_frame_column_type(NULL, 0), 0);
    assert_false(herd_frame_is_present(NULL, 0, 0));
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_last_error_code(), HERD_EIO);
    size_t idx = 99;
    assert_int_equal(herd_frame_find(f, "i32", &idx), HERD_OK);
    assert_int_equal(idx, 2);
    assert_int_equal(herd_frame_find(f, "nope", &idx), HERD_ENOTFOUND);
    ERR_HAS("'f32', 'f64', 'i32', 'i64', 's'");
    herd_frame_free(f);
}

static void test_type_errors_in_getters(void **state)
{
    (void)state;
    const char *str[1] = {"x"};
    double f64[1] = {1};
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, str, 1, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "d", HERD_TYPE_FLOAT64, f64, 1, NULL), HERD_OK);
    double d;
    int64_t v;
    const char *s;
    assert_int_equal(herd_frame_get_double(f, 0, 0, &d), HERD_ETYPE);
    ERR_HAS("column 's' holds strings");
    assert_int_equal(herd_frame_get_int64(f, 1, 0, &v), HERD_ETYPE);
    ERR_HAS("column 'd' is float64");
    assert_int_equal(herd_frame_get_string(f, 1, 0, &s), HERD_ETYPE);
    assert_int_equal(herd_frame_get_double(f, 2, 0, &d), HERD_EINVAL);
    ERR_HAS("column 2 is out of range");
    assert_int_equal(herd_frame_get_double(NULL, 0, 0, &d), HERD_EINVAL);
    ERR_HAS("'frame' is NULL");
    assert_int_equal(herd_frame_get_double(f, 1, 0, NULL), HERD_EINVAL);
    ERR_HAS("'out' is NULL");
    herd_frame_free(f);
}

/* One column of a row-major 4x3 matrix, borrowed with a byte stride. */
static void test_borrowed_strided_column(void **state)
{
    (void)state;
    double m[4][3];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) m[r][c] = r * 10 + c;
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_BORROW;
    o.stride = sizeof m[0];
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "c1", HERD_TYPE_FLOAT64, &m[0][1], 4, &o), HERD_OK);
    double d;
    assert_int_equal(herd_frame_get_double(f, 0, 3, &d), HERD_OK);
    assert_true(d == 31);
    m[3][1] = -5; /* borrowed: the frame sees the caller's memory */
    assert_int_equal(herd_frame_get_double(f, 0, 3, &d), HERD_OK);
    assert_true(d == -5);
    const void *data;
    size_t stride;
    const uint8_t *mask;
    assert_int_equal(herd_frame_column_data(f, 0, &data, &stride, &mask), HERD_OK);
    assert_ptr_equal(data, &m[0][1]);
    assert_int_equal(stride, sizeof m[0]);
    assert_null(mask);

    /* A copied strided column is gathered into contiguous memory. */
    o.flags = 0;
    assert_int_equal(herd_frame_add_column(f, "c2", HERD_TYPE_FLOAT64, &m[0][2], 4, &o), HERD_OK);
    assert_int_equal(herd_frame_column_data(f, 1, &data, &stride, &mask), HERD_OK);
    assert_int_equal(stride, sizeof(double));
    assert_true(((const double *)data)[2] == 22);
    herd_frame_free(f);
}

static void test_masks(void **state)
{
    (void)state;
    int64_t v[4] = {10, 20, 30, 40};
    uint8_t valid[4] = {1, 0, 1, 0};
    uint8_t missing[4] = {0, 1, 0, 1}; /* pandas' convention */
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    herd_frame *f = new_frame();

    o.mask = valid;
    o.flags = HERD_COLUMN_BORROW;
    assert_int_equal(herd_frame_add_column(f, "a", HERD_TYPE_INT64, v, 4, &o), HERD_OK);
    o.mask = missing;
    o.flags = HERD_COLUMN_BORROW | HERD_COLUMN_MASK_MISSING;
    assert_int_equal(herd_frame_add_column(f, "b", HERD_TYPE_INT64, v, 4, &o), HERD_OK);
    o.flags = HERD_COLUMN_MASK_MISSING; /* copied and normalised */
    assert_int_equal(herd_frame_add_column(f, "c", HERD_TYPE_INT64, v, 4, &o), HERD_OK);

    for (size_t col = 0; col < 3; col++) {
        int64_t x = -1;
        assert_int_equal(herd_frame_get_int64(f, col, 0, &x), HERD_OK);
        assert_true(x == 10);
        herd_error_set(HERD_EIO, "pending");
        assert_int_equal(herd_frame_get_int64(f, col, 1, &x), HERD_MISSING);
        assert_true(x == 0); /* the placeholder, never a stale value */
        assert_string_equal(herd_last_error(), "pending"); /* not an error */
        assert_true(herd_frame_is_present(f, col, 2));
        assert_false(herd_frame_is_present(f, col, 3));
        double d;
        assert_int_equal(herd_frame_get_double(f, col, 3, &d), HERD_MISSING);
        assert_true(isnan(d));
        const void *data;
        size_t stride;
        const uint8_t *mask;
        assert_int_equal(herd_frame_column_data(f, col, &data, &stride, &mask), HERD_OK);
        assert_non_null(mask);
        assert_int_equal(mask[0], 1); /* always the "present" form */
        assert_int_equal(mask[1], 0);
    }
    /* The borrowed normal-form mask is used in place. */
    const void *data;
    size_t stride;
    const uint8_t *mask;
    herd_frame_column_data(f, 0, &data, &stride, &mask);
    assert_ptr_equal(mask, valid);

    /* A masked string column: the mask wins over a non-NULL pointer. */
    const char *s[2] = {"x", "y"};
    uint8_t smask[2] = {1, 0};
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.mask = smask;
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, s, 4 - 2, &o), HERD_EINVAL);
    ERR_HAS("has 2 rows but the frame's columns have 4");
    herd_frame_free(f);

    f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, s, 2, &o), HERD_OK);
    const char *out = "unset";
    assert_int_equal(herd_frame_get_string(f, 0, 1, &out), HERD_MISSING);
    assert_null(out);
    herd_frame_free(f);
}

static void test_bad_columns(void **state)
{
    (void)state;
    double d[2] = {1, 2};
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, d, 2, NULL), HERD_OK);

    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, d, 2, NULL), HERD_EEXISTS);
    ERR_HAS("column 'x' already exists");
    assert_int_equal(herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, d, 1, NULL), HERD_EINVAL);
    ERR_HAS("column 'y' has 1 rows but the frame's columns have 2");
    assert_int_equal(herd_frame_add_column(f, "", HERD_TYPE_FLOAT64, d, 2, NULL), HERD_EINVAL);
    ERR_HAS("column name is empty");
    assert_int_equal(herd_frame_add_column(f, "a\nb", HERD_TYPE_FLOAT64, d, 2, NULL), HERD_EINVAL);
    ERR_HAS("control character");
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(herd_frame_add_column(f, longname, HERD_TYPE_FLOAT64, d, 2, NULL),
                     HERD_EINVAL);
    ERR_HAS("the limit is 255");
    assert_int_equal(herd_frame_add_column(f, "z", 42, d, 2, NULL), HERD_EINVAL);
    ERR_HAS("type 42 is not a herd_type");
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, NULL, 2, NULL), HERD_EINVAL);
    ERR_HAS("'data' is NULL");
    assert_int_equal(herd_frame_add_column(NULL, "z", HERD_TYPE_FLOAT64, d, 2, NULL), HERD_EINVAL);
    ERR_HAS("'frame' is NULL");
    assert_int_equal(herd_frame_add_column(f, NULL, HERD_TYPE_FLOAT64, d, 2, NULL), HERD_EINVAL);
    ERR_HAS("'name' is NULL");

    o.stride = 4;
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, d, 2, &o), HERD_EINVAL);
    ERR_HAS("stride 4 is smaller than one float64 value");
    o.stride = 12;
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, d, 1 + 1, &o), HERD_EINVAL);
    ERR_HAS("not a multiple");
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    uint8_t m[2] = {1, 1};
    o.mask = m;
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, d, 2, &o), HERD_EINVAL);
    ERR_HAS("cannot have a mask");
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = 0x80;
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, d, 2, &o), HERD_EINVAL);
    ERR_HAS("herd_column_options.flags is 0x80");
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_MASK_MISSING;
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, d, 2, &o), HERD_EINVAL);
    ERR_HAS("without a mask");
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.version = 2;
    assert_int_equal(herd_frame_add_column(f, "z", HERD_TYPE_FLOAT64, d, 2, &o), HERD_EINVAL);
    ERR_HAS("herd_column_options: version 2 is not one this library");
    ERR_HAS("herd_column_options_init(&opt, HERD_COLUMN_OPTIONS_VERSION)");

    const char *bad[2] = {"ok", "caf\xe9"}; /* Latin-1, not UTF-8 */
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, bad, 2, NULL), HERD_EFORMAT);
    ERR_HAS("column 's', row 1");
    ERR_HAS("not valid UTF-8");
    /* Nothing failed half-way: the frame still has its one column. */
    assert_int_equal(herd_frame_column_count(f), 1);
    herd_frame_free(f);

    assert_int_equal(herd_frame_new(NULL), HERD_EINVAL);
}

static void test_result_builders(void **state)
{
    (void)state;
    herd_frame *f = new_frame();
    double d[2] = {0.5, 1.5};
    int64_t i[2] = {3, 4};
    const char *s[2] = {"g1", "g2"};
    assert_int_equal(hd_frame_add_str(f, "group", s, 2), HERD_OK);
    assert_int_equal(hd_frame_add_i64(f, "rows", i, 2), HERD_OK);
    assert_int_equal(hd_frame_add_f64(f, "rmse", d, 2), HERD_OK);
    const char *g;
    herd_frame_get_string(f, 0, 1, &g);
    assert_string_equal(g, "g2");
    assert_ptr_not_equal(g, s[1]); /* owned copy */
    herd_frame_free(f);
}

/* Many columns: names stay unique and are found by name (an index, not a
 * scan: 20,000 columns would take seconds with a quadratic check). */
static void test_many_columns(void **state)
{
    (void)state;
    herd_frame *f = new_frame();
    int64_t v[1] = {7};
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "col_%d", i);
        assert_int_equal(herd_frame_add_column(f, name, HERD_TYPE_INT64, v, 1, NULL), HERD_OK);
    }
    assert_int_equal(herd_frame_add_column(f, "col_123", HERD_TYPE_INT64, v, 1, NULL),
                     HERD_EEXISTS);
    ERR_HAS("(column 123)");
    for (int i = 0; i < 20000; i += 997) {
        size_t idx = 0;
        snprintf(name, sizeof name, "col_%d", i);
        assert_int_equal(herd_frame_find(f, name, &idx), HERD_OK);
        assert_int_equal(idx, (size_t)i);
        assert_string_equal(herd_frame_column_name(f, idx), name);
    }
    size_t idx;
    assert_int_equal(herd_frame_find(f, "col_20000", &idx), HERD_ENOTFOUND);
    herd_frame_free(f);
}

/* Rows by index list or by mask: copies that own their memory. */
static void test_take_and_filter(void **state)
{
    (void)state;
    double x[4] = {0.5, 1.5, 2.5, 3.5};
    int64_t k[4] = {10, 11, 12, 13};
    uint8_t kmask[4] = {1, 0, 1, 1};
    char buf[4][8] = {"a", "bb", "ccc", "dddd"};
    const char *str[4] = {buf[0], buf[1], NULL, buf[3]};
    uint8_t smask[4] = {1, 1, 1, 0};
    /* str[3] is masked: the copies keep it missing */
    herd_frame *f = NULL;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    herd_column_options b;
    herd_column_options_init(&b, HERD_COLUMN_OPTIONS_VERSION);
    b.flags = HERD_COLUMN_BORROW; /* the source borrows: the copies must not */
    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 4, &b), HERD_OK);
    b.mask = kmask;
    assert_int_equal(herd_frame_add_column(f, "k", HERD_TYPE_INT64, k, 4, &b), HERD_OK);
    b.mask = smask;
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, str, 4, &b), HERD_OK);

    const size_t rows[] = {3, 1, 1, 0};
    herd_frame *t = NULL, *m = NULL;
    assert_int_equal(herd_frame_take(f, rows, 4, &t), HERD_OK);
    const uint8_t keep[4] = {0, 1, 0, 1};
    assert_int_equal(herd_frame_filter(f, keep, 4, &m), HERD_OK);
    memset(buf, 'z', sizeof buf); /* the source's strings change... */
    x[1] = -1;                    /* ...and its numbers */
    assert_int_equal(herd_frame_row_count(t), 4);
    assert_int_equal(herd_frame_column_count(t), 3);
    assert_string_equal(herd_frame_column_name(t, 2), "s");
    assert_int_equal(herd_frame_column_type(t, 1), HERD_TYPE_INT64);
    double v;
    int64_t i64;
    const char *sv;
    assert_int_equal(herd_frame_get_double(t, 0, 1, &v), HERD_OK);
    assert_float_equal(v, 1.5, 0); /* copied before x[1] changed */
    assert_int_equal(herd_frame_get_int64(t, 1, 0, &i64), HERD_OK);
    assert_int_equal(i64, 13);
    assert_false(herd_frame_is_present(t, 1, 1)); /* row 1's mask came along */
    assert_false(herd_frame_is_present(t, 2, 0)); /* row 3's masked string */
    assert_int_equal(herd_frame_get_string(t, 2, 1, &sv), HERD_OK);
    assert_string_equal(sv, "bb");
    assert_int_equal(herd_frame_get_string(t, 2, 3, &sv), HERD_OK);
    assert_string_equal(sv, "a");
    /* filter: rows 1 and 3, in frame order */
    assert_int_equal(herd_frame_row_count(m), 2);
    assert_int_equal(herd_frame_get_string(m, 2, 0, &sv), HERD_OK);
    assert_string_equal(sv, "bb");
    assert_false(herd_frame_is_present(m, 2, 1));
    assert_int_equal(herd_frame_get_int64(m, 1, 1, &i64), HERD_OK);
    assert_int_equal(i64, 13);
    herd_frame_free(f); /* the copies outlive their source */
    assert_int_equal(herd_frame_get_string(t, 2, 2, &sv), HERD_OK);
    assert_string_equal(sv, "bb");
    herd_frame_free(t);
    herd_frame_free(m);

    /* no rows: the columns, empty */
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 4, NULL), HERD_OK);
    assert_int_equal(herd_frame_take(f, NULL, 0, &t), HERD_OK);
    assert_int_equal(herd_frame_row_count(t), 0);
    assert_int_equal(herd_frame_column_count(t), 1);
    herd_frame_free(t);
    const uint8_t none[4] = {0};
    assert_int_equal(herd_frame_filter(f, none, 4, &t), HERD_OK);
    assert_int_equal(herd_frame_row_count(t), 0);
    herd_frame_free(t);

    /* bad input: nothing is built, *out is NULL, the message names it */
    const size_t bad_rows[] = {0, 9};
    t = (herd_frame *)1;
    assert_int_equal(herd_frame_take(f, bad_rows, 2, &t), HERD_EINVAL);
    assert_null(t);
    assert_non_null(strstr(herd_last_error(), "rows[1] is 9"));
    assert_non_null(strstr(herd_last_error(), "4 rows"));
    assert_int_equal(herd_frame_take(f, NULL, 2, &t), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "rows is NULL"));
    assert_int_equal(herd_frame_take(NULL, rows, 1, &t), HERD_EINVAL);
    assert_int_equal(herd_frame_take(f, rows, 1, NULL), HERD_EINVAL);
    t = (herd_frame *)1;
    assert_int_equal(herd_frame_filter(f, keep, 3, &t), HERD_EINVAL);
    assert_null(t);
    assert_non_null(strstr(herd_last_error(), "3 bytes"));
    assert_int_equal(herd_frame_filter(f, NULL, 4, &t), HERD_EINVAL);
    assert_int_equal(herd_frame_filter(NULL, keep, 4, &t), HERD_EINVAL);
    herd_frame_free(f);
}

/* ISO 8601 dates and timestamps for ordering columns. */
static void test_iso8601(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double seconds;
        int zoned;
    } good[] = {
        {"1970-01-01", 0, 0},
        {"1970-01-02T00:00:01Z", 86401, 1},
        {"1970-01-01t00:00:01z", 1, 1},
        {"1970-01-01 00:01:00", 60, 0},
        {"2000-03-01", 951868800, 0},
        {"2024-02-29T12:00:00.5", 1709208000.5, 0},
        {"2026-03-01T00:30:00+02:00", 1772317800, 1}, /* 2026-02-28T22:30:00Z */
        {"2026-02-28T23:00:00-01:30", 1772325000, 1},
        {"1969-12-31T23:59:59.123456789Z", -0.876543211, 1},
        {"1900-03-01", -2203891200, 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double s = NAN;
        int z = -1;
        if (hd_iso8601_parse(good[i].text, &s, &z) != HERD_OK)
            fail_msg("%s: %s", good[i].text, herd_last_error());
        if (fabs(s - good[i].seconds) > 1e-6 || z != good[i].zoned)
            fail_msg("%s: %.9f (zoned %d), want %.9f (%d)", good[i].text, s, z,
                     good[i].seconds, good[i].zoned);
    }
    static const struct {
        const char *text, *words;
    } bad[] = {
        {"", "year"},
        {"2026-1-01", "month as MM"},
        {"2026-13-01", "month 13"},
        {"2023-02-29", "day 29 is not in its month (01..28)"},
        {"2026-04-31", "day 31"},
        {"2026-01-01T24:00:00", "hour 24"},
        {"2026-01-01T10:60:00", "minute 60"},
        {"2026-01-01T10:00:60", "second 60"},
        {"2026-01-01T10:00", "minutes as MM"},
        {"2026-01-01T10:00:00.", "1 to 9 digits"},
        {"2026-01-01T10:00:00.1234567891", "1 to 9 digits"},
        {"2026-01-01T10:00:00+2:00", "+hh:mm"},
        {"2026-01-01T10:00:00+24:00", "offset 24:00"},
        {"2026-01-01X", "unexpected text at byte 10"},
        {"2026-W48", "month as MM"},
        {"12.5", "year"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double s;
        int z;
        if (hd_iso8601_parse(bad[i].text, &s, &z) != HERD_EINVAL)
            fail_msg("%s: accepted", bad[i].text);
        if (!strstr(herd_last_error(), bad[i].words) ||
            !strstr(herd_last_error(), "YYYY-MM-DDTHH:MM:SS"))
            fail_msg("%s: '%s' lacks '%s'", bad[i].text, herd_last_error(), bad[i].words);
    }

    /* a column: keys in time order, missing values NaN, the first bad row
     * named, and offsets mixed with none refused */
    const char *col[5] = {"2026-01-02", NULL, "2026-01-01", "2026-01-03", "2026-01-0x"};
    herd_frame *f = NULL;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "day", HERD_TYPE_STRING, col, 4, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "bad", HERD_TYPE_STRING, col + 1, 4, NULL),
                     HERD_OK);
    const char *mix[4] = {"2026-01-01T00:00:00Z", "2026-01-01T00:00:00", NULL, NULL};
    assert_int_equal(herd_frame_add_column(f, "mix", HERD_TYPE_STRING, mix, 4, NULL), HERD_OK);
    double num[4] = {3, 1, NAN, 2};
    assert_int_equal(herd_frame_add_column(f, "num", HERD_TYPE_FLOAT64, num, 4, NULL), HERD_OK);
    double *keys = NULL;
    assert_int_equal(hd_order_keys(f, 0, "opt->holdout_order_by", &keys), HERD_OK);
    assert_true(keys[2] < keys[0] && keys[0] < keys[3]);
    assert_true(isnan(keys[1]));
    free(keys);
    assert_int_equal(hd_order_keys(f, 3, "opt->holdout_order_by", &keys), HERD_OK);
    assert_float_equal(keys[0], 3, 0);
    assert_true(isnan(keys[2]));
    free(keys);
    keys = (double *)1;
    assert_int_equal(hd_order_keys(f, 1, "opt->holdout_order_by", &keys), HERD_EINVAL);
    assert_null(keys);
    const char *want[] = {"opt->holdout_order_by: column 'bad', row 3", "\"2026-01-0x\"",
                          "day as DD"};
    for (size_t i = 0; i < 3; i++)
        if (!strstr(herd_last_error(), want[i]))
            fail_msg("'%s' lacks '%s'", herd_last_error(), want[i]);
    assert_int_equal(hd_order_keys(f, 2, "opt->holdout_order_by", &keys), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "row 0"));
    assert_non_null(strstr(herd_last_error(), "row 1"));
    assert_non_null(strstr(herd_last_error(), "offset"));
    herd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_and_filter),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_empty_frame),
        cmocka_unit_test(test_copied_columns_all_types),
        cmocka_unit_test(test_type_errors_in_getters),
        cmocka_unit_test(test_borrowed_strided_column),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_bad_columns),
        cmocka_unit_test(test_result_builders),
        cmocka_unit_test(test_many_columns),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
