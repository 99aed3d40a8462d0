/* Tests of herd_groups: partitioning by int32, int64 and string keys, key
 * rendering and escaping, ordering, missing keys, strided columns, lookup,
 * the summary table, argument checks, a comparison with a naive reference
 * on random data, and a large partition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "data/groups_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

static herd_frame *new_frame(void)
{
    herd_frame *f = NULL;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    assert_non_null(f);
    return f;
}

static void add_col(herd_frame *f, const char *name, int type, const void *data, size_t n)
{
    assert_int_equal(herd_frame_add_column(f, name, type, data, n, NULL), HERD_OK);
}

static void add_masked(herd_frame *f, const char *name, int type, const void *data, size_t n,
                       const uint8_t *mask, uint32_t flags)
{
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.mask = mask;
    o.flags = flags;
    assert_int_equal(herd_frame_add_column(f, name, type, data, n, &o), HERD_OK);
}

static herd_groups *group_by(const herd_frame *f, const char *const *keys, size_t nkeys)
{
    herd_groups *g = NULL;
    int rc = herd_groups_new(f, keys, nkeys, &g);
    if (rc != HERD_OK) fail_msg("herd_groups_new: %s: %s", herd_status_str(rc), herd_last_error());
    assert_non_null(g);
    return g;
}

/* Group i has exactly this key and these rows, in this order. */
static void expect_group(const herd_groups *g, size_t i, const char *key, const size_t *rows,
                         size_t n)
{
    const size_t *got;
    size_t ngot = 99;
    assert_non_null(herd_groups_key(g, i));
    assert_string_equal(herd_groups_key(g, i), key);
    assert_int_equal(herd_groups_row_count(g, i), n);
    assert_int_equal(herd_groups_rows(g, i, &got, &ngot), HERD_OK);
    assert_int_equal(ngot, n);
    for (size_t k = 0; k < n; k++) assert_int_equal(got[k], rows[k]);
    size_t found = 99;
    assert_int_equal(herd_groups_find(g, key, &found), HERD_OK);
    assert_int_equal(found, i);
}

#define EXPECT_GROUP(g, i, key, ...)                                                  \
    do {                                                                              \
        const size_t rows_[] = {__VA_ARGS__};                                         \
        expect_group((g), (i), (key), rows_, sizeof rows_ / sizeof rows_[0]);         \
    } while (0)

/* The last error has this code and its message contains `part`. */
static void expect_error(int code, const char *part)
{
    assert_int_equal(herd_last_error_code(), code);
    if (!strstr(herd_last_error(), part))
        fail_msg("error message \"%s\" does not contain \"%s\"", herd_last_error(), part);
}

/* ------------------------------------------------------------------------
 * Basic partitions
 * --------------------------------------------------------------------- */

static void test_int64_key(void **state)
{
    (void)state;
    const int64_t v[] = {10, 2, 10, 7, 2, 10, -5, INT64_MIN, INT64_MAX, 100};
    herd_frame *f = new_frame();
    add_col(f, "store", HERD_TYPE_INT64, v, 10);
    const char *keys[] = {"store"};
    herd_groups *g = group_by(f, keys, 1);

    assert_int_equal(herd_groups_count(g), 7);
    assert_int_equal(herd_groups_missing_count(g), 0);
    assert_ptr_equal(herd_groups_frame(g), f);
    /* Numeric order: 2 < 7 < 10 < 100, negatives first. */
    EXPECT_GROUP(g, 0, "-9223372036854775808", 7);
    EXPECT_GROUP(g, 1, "-5", 6);
    EXPECT_GROUP(g, 2, "2", 1, 4);
    EXPECT_GROUP(g, 3, "7", 3);
    EXPECT_GROUP(g, 4, "10", 0, 2, 5);
    EXPECT_GROUP(g, 5, "100", 9);
    EXPECT_GROUP(g, 6, "9223372036854775807", 8);
    assert_null(herd_groups_key(g, 7));
    assert_int_equal(herd_groups_row_count(g, 7), 0);

    /* The internal layout later modules rely on. */
    assert_int_equal(g->offsets[0], 0);
    assert_int_equal(g->offsets[g->ngroups], 10);
    assert_int_equal(g->nkeys, 1);
    assert_int_equal(g->key_cols[0], 0);
    herd_groups_free(g);
    herd_frame_free(f);
}

static void test_int32_key(void **state)
{
    (void)state;
    const int32_t v[] = {3, -1, 3, INT32_MIN, 0, -1, 3, INT32_MAX};
    herd_frame *f = new_frame();
    add_col(f, "x", HERD_TYPE_FLOAT64, (const double[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
    add_col(f, "sensor", HERD_TYPE_INT32, v, 8);
    const char *keys[] = {"sensor"};
    herd_groups *g = group_by(f, keys, 1);

    assert_int_equal(herd_groups_count(g), 5);
    EXPECT_GROUP(g, 0, "-2147483648", 3);
    EXPECT_GROUP(g, 1, "-1", 1, 5);
    EXPECT_GROUP(g, 2, "0", 4);
    EXPECT_GROUP(g, 3, "3", 0, 2, 6);
    EXPECT_GROUP(g, 4, "2147483647", 7);
    assert_int_equal(g->key_cols[0], 1);
    herd_groups_free(g);
    herd_frame_free(f);
}

static void test_string_key(void **state)
{
    (void)state;
    /* Bytewise order: "" < "B" < "a" < "ab" < "a|b" < "b" < "z" < "\xc3\xa9"
     * (é, whose first byte is above every ASCII byte: compared unsigned). */
    const char *v[] = {"b", "a", "\xc3\xa9", "b", "", "ab", "B", "z", "a", "a|b"};
    herd_frame *f = new_frame();
    add_col(f, "store", HERD_TYPE_STRING, v, 10);
    const char *keys[] = {"store"};
    herd_groups *g = group_by(f, keys, 1);

    assert_int_equal(herd_groups_count(g), 8);
    EXPECT_GROUP(g, 0, "", 4);
    EXPECT_GROUP(g, 1, "B", 6);
    EXPECT_GROUP(g, 2, "a", 1, 8);
    EXPECT_GROUP(g, 3, "ab", 5);
    EXPECT_GROUP(g, 4, "a|b", 9); /* one key column: no escaping */
    EXPECT_GROUP(g, 5, "b", 0, 3);
    EXPECT_GROUP(g, 6, "z", 7);
    EXPECT_GROUP(g, 7, "\xc3\xa9", 2);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* Equal strings at different addresses are one group: the pointer test is
 * only a shortcut. */
static void test_string_key_distinct_pointers(void **state)
{
    (void)state;
    char a1[] = "store_1", a2[] = "store_1", b1[] = "store_2", b2[] = "store_2";
    const char *v[] = {a1, b1, a2, b2, a1};
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_BORROW;
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, v, 5, &o), HERD_OK);
    const char *keys[] = {"s"};
    herd_groups *g = group_by(f, keys, 1);
    assert_int_equal(herd_groups_count(g), 2);
    EXPECT_GROUP(g, 0, "store_1", 0, 2, 4);
    EXPECT_GROUP(g, 1, "store_2", 1, 3);
    herd_groups_free(g);
    herd_frame_free(f);
}

static void test_two_keys_escaping(void **state)
{
    (void)state;
    const char *s[] = {"a|b", "c\\d", "x", "a|b", "x", "a", "a|b"};
    const int64_t n[] = {7, 1, -3, 7, 2, 5, 6};
    herd_frame *f = new_frame();
    add_col(f, "s", HERD_TYPE_STRING, s, 7);
    add_col(f, "n", HERD_TYPE_INT64, n, 7);
    const char *keys[] = {"s", "n"};
    herd_groups *g = group_by(f, keys, 2);

    assert_int_equal(herd_groups_count(g), 6);
    /* Column by column: "a" < "a|b" < "c\d" < "x"; then 6 < 7 and -3 < 2. */
    EXPECT_GROUP(g, 0, "a|5", 5);
    EXPECT_GROUP(g, 1, "a\\|b|6", 6);
    EXPECT_GROUP(g, 2, "a\\|b|7", 0, 3);
    EXPECT_GROUP(g, 3, "c\\\\d|1", 1);
    EXPECT_GROUP(g, 4, "x|-3", 2);
    EXPECT_GROUP(g, 5, "x|2", 4);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* Tuples that would render alike without escaping stay apart. */
static void test_two_string_keys_unambiguous(void **state)
{
    (void)state;
    const char *a[] = {"a|b", "a", "a|b", "a\\", "a"};
    const char *b[] = {"c", "b|c", "c", "|b", "b|c"};
    herd_frame *f = new_frame();
    add_col(f, "a", HERD_TYPE_STRING, a, 5);
    add_col(f, "b", HERD_TYPE_STRING, b, 5);
    const char *keys[] = {"a", "b"};
    herd_groups *g = group_by(f, keys, 2);
    assert_int_equal(herd_groups_count(g), 3);
    EXPECT_GROUP(g, 0, "a|b\\|c", 1, 4);
    EXPECT_GROUP(g, 1, "a\\\\|\\|b", 3);
    EXPECT_GROUP(g, 2, "a\\|b|c", 0, 2);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* Ordering is lexicographic over the key columns, in the order named. */
static void test_multi_key_order(void **state)
{
    (void)state;
    const int32_t a[] = {1, 1, 0, 10, 2, 1};
    const char *b[] = {"b", "a", "z", "a", "a", "b"};
    herd_frame *f = new_frame();
    add_col(f, "a", HERD_TYPE_INT32, a, 6);
    add_col(f, "b", HERD_TYPE_STRING, b, 6);

    const char *ab[] = {"a", "b"};
    herd_groups *g = group_by(f, ab, 2);
    assert_int_equal(herd_groups_count(g), 5);
    EXPECT_GROUP(g, 0, "0|z", 2);
    EXPECT_GROUP(g, 1, "1|a", 1);
    EXPECT_GROUP(g, 2, "1|b", 0, 5);
    EXPECT_GROUP(g, 3, "2|a", 4);
    EXPECT_GROUP(g, 4, "10|a", 3);
    herd_groups_free(g);

    const char *ba[] = {"b", "a"};
    g = group_by(f, ba, 2);
    assert_int_equal(herd_groups_count(g), 5);
    EXPECT_GROUP(g, 0, "a|1", 1);
    EXPECT_GROUP(g, 1, "a|2", 4);
    EXPECT_GROUP(g, 2, "a|10", 3);
    EXPECT_GROUP(g, 3, "b|1", 0, 5);
    EXPECT_GROUP(g, 4, "z|0", 2);
    assert_int_equal(g->key_cols[0], 1);
    assert_int_equal(g->key_cols[1], 0);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* Rows stay in frame order inside a group, however they interleave. */
static void test_stable_row_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    int64_t v[N];
    for (size_t i = 0; i < N; i++) v[i] = (int64_t)((i * 5 + i / 100) % 13);
    herd_frame *f = new_frame();
    add_col(f, "k", HERD_TYPE_INT64, v, N);
    const char *keys[] = {"k"};
    herd_groups *g = group_by(f, keys, 1);
    assert_int_equal(herd_groups_count(g), 13);
    size_t total = 0;
    for (size_t i = 0; i < 13; i++) {
        const size_t *rows;
        size_t n;
        char want[8];
        snprintf(want, sizeof want, "%zu", i);
        assert_string_equal(herd_groups_key(g, i), want);
        assert_int_equal(herd_groups_rows(g, i, &rows, &n), HERD_OK);
        assert_true(n > 0);
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(v[rows[k]], (int64_t)i);
            if (k) assert_true(rows[k - 1] < rows[k]);
        }
        /* Every row of that value is there. */
        size_t expect = 0;
        for (size_t r = 0; r < N; r++) expect += v[r] == (int64_t)i;
        assert_int_equal(n, expect);
        total += n;
    }
    assert_int_equal(total, N);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Missing keys, strided columns
 * --------------------------------------------------------------------- */

static void test_missing_int_keys(void **state)
{
    (void)state;
    const int64_t v[] = {1, 2, 1, 2, 3, 1};
    const uint8_t present[] = {1, 0, 1, 1, 0, 1};
    const uint8_t missing[] = {0, 1, 0, 0, 1, 0}; /* pandas' convention */
    const char *keys[] = {"k"};

    for (int variant = 0; variant < 3; variant++) {
        herd_frame *f = new_frame();
        if (variant == 0) add_masked(f, "k", HERD_TYPE_INT64, v, 6, present, 0);
        if (variant == 1) add_masked(f, "k", HERD_TYPE_INT64, v, 6, present, HERD_COLUMN_BORROW);
        if (variant == 2)
            add_masked(f, "k", HERD_TYPE_INT64, v, 6, missing, HERD_COLUMN_MASK_MISSING);
        herd_groups *g = group_by(f, keys, 1);
        /* Row 4 (value 3) is missing, so group "3" does not exist. */
        assert_int_equal(herd_groups_count(g), 2);
        assert_int_equal(herd_groups_missing_count(g), 2);
        EXPECT_GROUP(g, 0, "1", 0, 2, 5);
        EXPECT_GROUP(g, 1, "2", 3);
        size_t idx;
        assert_int_equal(herd_groups_find(g, "3", &idx), HERD_ENOTFOUND);
        herd_groups_free(g);
        herd_frame_free(f);
    }
}

static void test_missing_string_and_multi(void **state)
{
    (void)state;
    const char *s[] = {"a", NULL, "b", "a", "b", "c", NULL};
    const uint8_t smask[] = {1, 1, 1, 1, 1, 0, 1}; /* "c" is masked out */
    const int32_t n[] = {1, 1, 2, 1, 2, 3, 4};
    const uint8_t nmask[] = {1, 1, 1, 0, 1, 1, 1}; /* row 3 missing */
    herd_frame *f = new_frame();
    add_masked(f, "s", HERD_TYPE_STRING, s, 7, smask, 0);
    add_masked(f, "n", HERD_TYPE_INT32, n, 7, nmask, 0);

    const char *k1[] = {"s"};
    herd_groups *g = group_by(f, k1, 1);
    assert_int_equal(herd_groups_count(g), 2);
    assert_int_equal(herd_groups_missing_count(g), 3);
    EXPECT_GROUP(g, 0, "a", 0, 3);
    EXPECT_GROUP(g, 1, "b", 2, 4);
    herd_groups_free(g);

    /* With both keys a row is missing when either value is. */
    const char *k2[] = {"n", "s"};
    g = group_by(f, k2, 2);
    assert_int_equal(herd_groups_count(g), 2);
    assert_int_equal(herd_groups_missing_count(g), 4);
    EXPECT_GROUP(g, 0, "1|a", 0);
    EXPECT_GROUP(g, 1, "2|b", 2, 4);
    assert_int_equal(g->offsets[g->ngroups], 3);
    herd_groups_free(g);
    herd_frame_free(f);
}

static void test_all_missing(void **state)
{
    (void)state;
    const char *s[] = {NULL, NULL, NULL};
    herd_frame *f = new_frame();
    add_col(f, "s", HERD_TYPE_STRING, s, 3);
    const char *keys[] = {"s"};
    herd_groups *g = group_by(f, keys, 1);
    assert_int_equal(herd_groups_count(g), 0);
    assert_int_equal(herd_groups_missing_count(g), 3);
    assert_null(herd_groups_key(g, 0));
    herd_groups_free(g);
    herd_frame_free(f);
}

/* Column 1 of a row-major 6x3 int64 matrix, borrowed with a stride; and an
 * int32 column read every other value. */
static void test_strided_columns(void **state)
{
    (void)state;
    int64_t m[6][3];
    const int64_t col1[6] = {40, 20, 40, 30, 20, 40};
    for (size_t r = 0; r < 6; r++) {
        m[r][0] = (int64_t)r * 1000;
        m[r][1] = col1[r];
        m[r][2] = -(int64_t)r;
    }
    int32_t pairs[12];
    for (size_t r = 0; r < 6; r++) {
        pairs[2 * r] = (int32_t)(r % 2);
        pairs[2 * r + 1] = 99;
    }
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_BORROW;
    o.stride = sizeof m[0];
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "b", HERD_TYPE_INT64, &m[0][1], 6, &o), HERD_OK);
    o.stride = 2 * sizeof(int32_t);
    assert_int_equal(herd_frame_add_column(f, "p", HERD_TYPE_INT32, pairs, 6, &o), HERD_OK);

    const char *k1[] = {"b"};
    herd_groups *g = group_by(f, k1, 1);
    assert_int_equal(herd_groups_count(g), 3);
    EXPECT_GROUP(g, 0, "20", 1, 4);
    EXPECT_GROUP(g, 1, "30", 3);
    EXPECT_GROUP(g, 2, "40", 0, 2, 5);
    herd_groups_free(g);

    const char *k2[] = {"p", "b"};
    g = group_by(f, k2, 2);
    assert_int_equal(herd_groups_count(g), 5);
    EXPECT_GROUP(g, 0, "0|20", 4);
    EXPECT_GROUP(g, 1, "0|40", 0, 2);
    EXPECT_GROUP(g, 2, "1|20", 1);
    EXPECT_GROUP(g, 3, "1|30", 3);
    EXPECT_GROUP(g, 4, "1|40", 5);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Lookup, summary, empty input
 * --------------------------------------------------------------------- */

static void test_find(void **state)
{
    (void)state;
    const char *s[] = {"DE", "FR", "DE", "x|y"};
    const char *c[] = {"Berlin", "Paris", "Bonn", "z\\w"};
    herd_frame *f = new_frame();
    add_col(f, "country", HERD_TYPE_STRING, s, 4);
    add_col(f, "city", HERD_TYPE_STRING, c, 4);
    const char *keys[] = {"country", "city"};
    herd_groups *g = group_by(f, keys, 2);
    size_t idx = 42;
    assert_int_equal(herd_groups_find(g, "DE|Bonn", &idx), HERD_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(herd_groups_find(g, "x\\|y|z\\\\w", &idx), HERD_OK);
    assert_int_equal(idx, 3);

    idx = 42;
    herd_clear_error();
    assert_int_equal(herd_groups_find(g, "DE|Munich", &idx), HERD_ENOTFOUND);
    expect_error(HERD_ENOTFOUND, "DE|Munich");
    assert_int_equal(idx, 42);
    /* The unescaped form is a different key. */
    assert_int_equal(herd_groups_find(g, "x|y|z\\w", &idx), HERD_ENOTFOUND);
    /* A prefix, or the empty string, is no key either. */
    assert_int_equal(herd_groups_find(g, "DE", &idx), HERD_ENOTFOUND);
    assert_int_equal(herd_groups_find(g, "", &idx), HERD_ENOTFOUND);

    assert_int_equal(herd_groups_find(NULL, "DE|Bonn", &idx), HERD_EINVAL);
    expect_error(HERD_EINVAL, "groups");
    assert_int_equal(herd_groups_find(g, NULL, &idx), HERD_EINVAL);
    expect_error(HERD_EINVAL, "key");
    assert_int_equal(herd_groups_find(g, "DE|Bonn", NULL), HERD_EINVAL);
    expect_error(HERD_EINVAL, "index");
    herd_groups_free(g);
    herd_frame_free(f);
}

static void test_summary(void **state)
{
    (void)state;
    const char *s[] = {"b", "a", "b", "c", "a", "b"};
    herd_frame *f = new_frame();
    add_col(f, "k", HERD_TYPE_STRING, s, 6);
    const char *keys[] = {"k"};
    herd_groups *g = group_by(f, keys, 1);
    herd_frame *sum = NULL;
    assert_int_equal(herd_groups_summary(g, &sum), HERD_OK);
    assert_non_null(sum);
    assert_int_equal(herd_frame_column_count(sum), 3);
    assert_int_equal(herd_frame_row_count(sum), 3);
    assert_string_equal(herd_frame_column_name(sum, 0), "group");
    assert_string_equal(herd_frame_column_name(sum, 1), "rows");
    assert_string_equal(herd_frame_column_name(sum, 2), "first_row");
    assert_int_equal(herd_frame_column_type(sum, 0), HERD_TYPE_STRING);
    assert_int_equal(herd_frame_column_type(sum, 1), HERD_TYPE_INT64);
    assert_int_equal(herd_frame_column_type(sum, 2), HERD_TYPE_INT64);
    const char *want_key[] = {"a", "b", "c"};
    const int64_t want_rows[] = {2, 3, 1}, want_first[] = {1, 0, 3};
    for (size_t i = 0; i < 3; i++) {
        const char *k;
        int64_t n, first;
        assert_int_equal(herd_frame_get_string(sum, 0, i, &k), HERD_OK);
        assert_string_equal(k, want_key[i]);
        assert_int_equal(herd_frame_get_int64(sum, 1, i, &n), HERD_OK);
        assert_int_equal(n, want_rows[i]);
        assert_int_equal(herd_frame_get_int64(sum, 2, i, &first), HERD_OK);
        assert_int_equal(first, want_first[i]);
    }
    /* The summary owns its strings: it outlives the groups. */
    herd_groups_free(g);
    const char *k;
    assert_int_equal(herd_frame_get_string(sum, 0, 2, &k), HERD_OK);
    assert_string_equal(k, "c");
    herd_frame_free(sum);

    herd_frame *bad = (herd_frame *)0x1;
    assert_int_equal(herd_groups_summary(NULL, &bad), HERD_EINVAL);
    assert_null(bad);
    expect_error(HERD_EINVAL, "groups");
    assert_int_equal(herd_groups_summary(NULL, NULL), HERD_EINVAL);
    expect_error(HERD_EINVAL, "out");
    herd_frame_free(f);
}

static void test_empty_frame(void **state)
{
    (void)state;
    herd_frame *f = new_frame();
    add_col(f, "k", HERD_TYPE_INT64, NULL, 0);
    add_col(f, "s", HERD_TYPE_STRING, NULL, 0);
    const char *keys[] = {"k", "s"};
    herd_groups *g = group_by(f, keys, 2);
    assert_int_equal(herd_groups_count(g), 0);
    assert_int_equal(herd_groups_missing_count(g), 0);
    assert_null(herd_groups_key(g, 0));
    assert_int_equal(herd_groups_row_count(g, 0), 0);
    const size_t *rows = (const size_t *)0x1;
    size_t n = 7;
    assert_int_equal(herd_groups_rows(g, 0, &rows, &n), HERD_EINVAL);
    expect_error(HERD_EINVAL, "out of range");
    assert_null(rows);
    assert_int_equal(n, 0);
    size_t idx;
    assert_int_equal(herd_groups_find(g, "0|a", &idx), HERD_ENOTFOUND);
    herd_frame *sum = NULL;
    assert_int_equal(herd_groups_summary(g, &sum), HERD_OK);
    assert_int_equal(herd_frame_column_count(sum), 3);
    assert_int_equal(herd_frame_row_count(sum), 0);
    herd_frame_free(sum);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Bad arguments
 * --------------------------------------------------------------------- */

static void expect_new_fails(const herd_frame *f, const char *const *keys, size_t nkeys, int code,
                             const char *part)
{
    herd_groups *g = (herd_groups *)0x1;
    herd_clear_error();
    assert_int_equal(herd_groups_new(f, keys, nkeys, &g), code);
    assert_null(g);
    expect_error(code, part);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const int64_t v[] = {1, 2};
    const double d[] = {1.5, 2.5};
    const float fl[] = {1.5f, 2.5f};
    herd_frame *f = new_frame();
    add_col(f, "store", HERD_TYPE_INT64, v, 2);
    add_col(f, "price", HERD_TYPE_FLOAT64, d, 2);
    add_col(f, "weight", HERD_TYPE_FLOAT32, fl, 2);

    const char *ok[] = {"store"};
    expect_new_fails(NULL, ok, 1, HERD_EINVAL, "frame");
    expect_new_fails(f, NULL, 1, HERD_EINVAL, "keys");
    expect_new_fails(f, ok, 0, HERD_EINVAL, "nkeys");
    assert_int_equal(herd_groups_new(f, ok, 1, NULL), HERD_EINVAL);
    expect_error(HERD_EINVAL, "out");

    const char *null_key[] = {"store", NULL};
    expect_new_fails(f, null_key, 2, HERD_EINVAL, "keys[1]");

    /* An unknown column is named, and the frame's columns are listed. */
    const char *unknown[] = {"store", "sotre"};
    expect_new_fails(f, unknown, 2, HERD_ENOTFOUND, "sotre");
    assert_non_null(strstr(herd_last_error(), "\"store\", \"price\", \"weight\""));

    const char *fkey[] = {"store", "price"};
    expect_new_fails(f, fkey, 2, HERD_ETYPE, "price");
    assert_non_null(strstr(herd_last_error(), "float64"));
    const char *f32key[] = {"weight"};
    expect_new_fails(f, f32key, 1, HERD_ETYPE, "weight");
    assert_non_null(strstr(herd_last_error(), "float32"));

    const char *dup[] = {"store", "store"};
    expect_new_fails(f, dup, 2, HERD_EINVAL, "store");
    assert_non_null(strstr(herd_last_error(), "twice"));

    /* A frame without columns: nothing to list. */
    herd_frame *empty = new_frame();
    expect_new_fails(empty, ok, 1, HERD_ENOTFOUND, "store");
    assert_non_null(strstr(herd_last_error(), "no columns"));
    herd_frame_free(empty);

    /* Accessors of NULL groups, or of a group out of range, give 0 / NULL
     * and leave the last error alone. */
    herd_error_set(HERD_EIO, "pending");
    assert_int_equal(herd_groups_count(NULL), 0);
    assert_int_equal(herd_groups_missing_count(NULL), 0);
    assert_null(herd_groups_frame(NULL));
    assert_null(herd_groups_key(NULL, 0));
    assert_int_equal(herd_groups_row_count(NULL, 0), 0);
    herd_groups_free(NULL);
    {
        herd_groups *g1 = group_by(f, ok, 1);
        size_t n1 = herd_groups_count(g1);
        assert_null(herd_groups_key(g1, n1));
        assert_int_equal(herd_groups_row_count(g1, n1), 0);
        herd_groups_free(g1);
    }
    expect_error(HERD_EIO, "pending");

    const size_t *rows;
    size_t n;
    assert_int_equal(herd_groups_rows(NULL, 0, &rows, &n), HERD_EINVAL);
    expect_error(HERD_EINVAL, "groups");
    herd_groups *g = group_by(f, ok, 1);
    assert_int_equal(herd_groups_rows(g, 0, NULL, &n), HERD_EINVAL);
    expect_error(HERD_EINVAL, "rows");
    assert_int_equal(herd_groups_rows(g, 0, &rows, NULL), HERD_EINVAL);
    expect_error(HERD_EINVAL, "nrows");
    assert_int_equal(herd_groups_rows(g, 2, &rows, &n), HERD_EINVAL);
    expect_error(HERD_EINVAL, "group index 2");
    assert_int_equal(herd_groups_rows(g, SIZE_MAX, &rows, &n), HERD_EINVAL);
    herd_groups_free(g);
    herd_frame_free(f);
}

/* Many columns: the list in the message is cut, not overflowed. */
static void test_unknown_column_long_list(void **state)
{
    (void)state;
    herd_frame *f = new_frame();
    const int64_t v[] = {1};
    for (int i = 0; i < 200; i++) {
        char name[64];
        snprintf(name, sizeof name, "a_rather_long_column_name_number_%03d", i);
        add_col(f, name, HERD_TYPE_INT64, v, 1);
    }
    const char *keys[] = {"missing_column"};
    expect_new_fails(f, keys, 1, HERD_ENOTFOUND, "missing_column");
    assert_non_null(strstr(herd_last_error(), "a_rather_long_column_name_number_000"));
    assert_non_null(strstr(herd_last_error(), ", ..."));
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Random data against a naive reference
 * --------------------------------------------------------------------- */

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

typedef struct ref_data {
    size_t n;
    int32_t *a; /* key 1: int32, masked */
    uint8_t *amask;
    const char **s; /* key 2: string, NULL = missing */
    int64_t *w;     /* key 3: int64, wide range (only a few distinct) */
} ref_data;

/* Column order used by the reference: which of a, s, w and in what order. */
typedef struct ref_keys {
    const char *names[3];
    size_t n;
} ref_keys;

static int ref_present(const ref_data *d, const ref_keys *k, size_t r)
{
    for (size_t i = 0; i < k->n; i++) {
        if (!strcmp(k->names[i], "a") && !d->amask[r]) return 0;
        if (!strcmp(k->names[i], "s") && !d->s[r]) return 0;
    }
    return 1;
}

static int ref_cmp(const ref_data *d, const ref_keys *k, size_t x, size_t y)
{
    for (size_t i = 0; i < k->n; i++) {
        int c = 0;
        if (!strcmp(k->names[i], "a"))
            c = (d->a[x] > d->a[y]) - (d->a[x] < d->a[y]);
        else if (!strcmp(k->names[i], "w"))
            c = (d->w[x] > d->w[y]) - (d->w[x] < d->w[y]);
        else
            c = strcmp(d->s[x], d->s[y]);
        if (c) return c < 0 ? -1 : 1;
    }
    return 0;
}

/* Rendered with snprintf and a plain escaping loop: independent of the
 * library's formatter. */
static void ref_key(const ref_data *d, const ref_keys *k, size_t r, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < k->n; i++) {
        if (i) out[o++] = '|';
        if (!strcmp(k->names[i], "a")) {
            o += (size_t)snprintf(out + o, size - o, "%d", (int)d->a[r]);
        } else if (!strcmp(k->names[i], "w")) {
            o += (size_t)snprintf(out + o, size - o, "%lld", (long long)d->w[r]);
        } else {
            for (const char *p = d->s[r]; *p; p++) {
                if (k->n > 1 && (*p == '|' || *p == '\\')) out[o++] = '\\';
                out[o++] = *p;
            }
        }
    }
    out[o] = '\0';
}

static void check_against_reference(const herd_frame *f, const ref_data *d, const ref_keys *k)
{
    /* Naive O(n^2) grouping: each row joins the group of the first earlier
     * row with the same key. */
    size_t *leader = malloc(d->n * sizeof *leader);
    size_t *leaders = malloc(d->n * sizeof *leaders);
    assert_non_null(leader);
    assert_non_null(leaders);
    size_t nleaders = 0, missing = 0;
    for (size_t r = 0; r < d->n; r++) {
        leader[r] = SIZE_MAX;
        if (!ref_present(d, k, r)) {
            missing++;
            continue;
        }
        for (size_t q = 0; q < r && leader[r] == SIZE_MAX; q++)
            if (leader[q] != SIZE_MAX && ref_cmp(d, k, q, r) == 0) leader[r] = leader[q];
        if (leader[r] == SIZE_MAX) leader[r] = leaders[nleaders++] = r;
    }
    /* Order the leaders by key (insertion sort: fine for a test). */
    for (size_t i = 1; i < nleaders; i++) {
        size_t v = leaders[i], j = i;
        for (; j > 0 && ref_cmp(d, k, v, leaders[j - 1]) < 0; j--) leaders[j] = leaders[j - 1];
        leaders[j] = v;
    }

    herd_groups *g = group_by(f, k->names, k->n);
    assert_int_equal(herd_groups_count(g), nleaders);
    assert_int_equal(herd_groups_missing_count(g), missing);
    for (size_t i = 0; i < nleaders; i++) {
        char want[256];
        ref_key(d, k, leaders[i], want, sizeof want);
        assert_string_equal(herd_groups_key(g, i), want);
        const size_t *rows;
        size_t n, pos = 0;
        assert_int_equal(herd_groups_rows(g, i, &rows, &n), HERD_OK);
        for (size_t r = 0; r < d->n; r++) {
            if (leader[r] != leaders[i]) continue;
            assert_true(pos < n);
            assert_int_equal(rows[pos], r);
            pos++;
        }
        assert_int_equal(pos, n);
        size_t idx;
        assert_int_equal(herd_groups_find(g, want, &idx), HERD_OK);
        assert_int_equal(idx, i);
    }
    herd_groups_free(g);
    free(leader);
    free(leaders);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    /* Strings with the characters that need escaping, a shared prefix and
     * non-ASCII bytes; copies at distinct addresses so that the pointer
     * shortcut is not always taken. */
    static const char *pool[] = {"a", "b", "a|", "|a", "\\", "a\\|b", "ab", "",
                                 "\xc3\xa9t\xc3\xa9", "store_17", "store_170", "Z",
                                 "abcdefgh1", "abcdefgh0", "abcdefgh"};
    enum { N = 5000, NPOOL = sizeof pool / sizeof pool[0] };
    char copies[2][NPOOL][16];
    for (size_t c = 0; c < 2; c++)
        for (size_t i = 0; i < NPOOL; i++) snprintf(copies[c][i], 16, "%s", pool[i]);

    ref_data d;
    d.n = N;
    d.a = malloc(N * sizeof *d.a);
    d.amask = malloc(N);
    d.s = malloc(N * sizeof *d.s);
    d.w = malloc(N * sizeof *d.w);
    assert_non_null(d.a);
    assert_non_null(d.amask);
    assert_non_null(d.s);
    assert_non_null(d.w);
    static const int64_t wide[] = {INT64_MIN, -1, 0, 1, INT64_MAX, 1LL << 40, -(1LL << 33)};
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t r = 0; r < N; r++) {
        d.a[r] = (int32_t)(rng_next(&seed) % 41) - 20;
        d.amask[r] = rng_next(&seed) % 50 != 0;
        uint64_t x = rng_next(&seed);
        d.s[r] = x % 40 == 0 ? NULL : copies[(x >> 8) & 1][(x >> 16) % NPOOL];
        d.w[r] = wide[rng_next(&seed) % (sizeof wide / sizeof wide[0])];
    }
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_BORROW;
    herd_frame *f = new_frame();
    o.mask = d.amask;
    assert_int_equal(herd_frame_add_column(f, "a", HERD_TYPE_INT32, d.a, N, &o), HERD_OK);
    o.mask = NULL;
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, d.s, N, &o), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "w", HERD_TYPE_INT64, d.w, N, &o), HERD_OK);

    const ref_keys sets[] = {
        {{"a"}, 1},      {{"s"}, 1},           {{"w"}, 1},           {{"a", "s"}, 2},
        {{"s", "a"}, 2}, {{"w", "s", "a"}, 3}, {{"s", "w"}, 2},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) check_against_reference(f, &d, &sets[i]);

    herd_frame_free(f);
    free(d.a);
    free(d.amask);
    free((void *)d.s);
    free(d.w);
}

/* ------------------------------------------------------------------------
 * Scale
 * --------------------------------------------------------------------- */

static void test_large(void **state)
{
    (void)state;
    enum { N = 1000000, G = 100000 };
    int64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    /* A permutation of the group ids in every block of G rows, so groups
     * interleave; each group gets N / G rows. */
    for (size_t r = 0; r < N; r++) v[r] = (int64_t)(((r % G) * 7919u + r / G) % G) * 3 - 1000;
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_BORROW;
    herd_frame *f = new_frame();
    assert_int_equal(herd_frame_add_column(f, "k", HERD_TYPE_INT64, v, N, &o), HERD_OK);
    const char *keys[] = {"k"};
    herd_groups *g = group_by(f, keys, 1);

    assert_int_equal(herd_groups_count(g), G);
    assert_int_equal(herd_groups_missing_count(g), 0);
    size_t total = 0;
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < G; i++) {
        assert_int_equal(herd_groups_row_count(g, i), N / G);
        total += herd_groups_row_count(g, i);
        const size_t *rows;
        size_t n;
        assert_int_equal(herd_groups_rows(g, i, &rows, &n), HERD_OK);
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(v[rows[k]], v[rows[0]]);
            if (k) assert_true(rows[k - 1] < rows[k]);
        }
        assert_true(v[rows[0]] > prev);
        prev = v[rows[0]];
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)v[rows[0]]);
        assert_string_equal(herd_groups_key(g, i), want);
    }
    assert_int_equal(total, N);
    assert_string_equal(herd_groups_key(g, 0), "-1000");
    size_t idx;
    assert_int_equal(herd_groups_find(g, "-997", &idx), HERD_OK);
    assert_int_equal(idx, 1);
    herd_groups_free(g);

    /* The same by a string key built from the ints. */
    char *text = malloc((size_t)G * 16);
    const char **s = malloc(N * sizeof *s);
    assert_non_null(text);
    assert_non_null(s);
    for (size_t i = 0; i < G; i++) snprintf(text + i * 16, 16, "k%zu", i);
    for (size_t r = 0; r < N; r++) s[r] = text + (size_t)((v[r] + 1000) / 3) * 16;
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, s, N, &o), HERD_OK);
    const char *skeys[] = {"s"};
    g = group_by(f, skeys, 1);
    assert_int_equal(herd_groups_count(g), G);
    total = 0;
    for (size_t i = 0; i < G; i++) total += herd_groups_row_count(g, i);
    assert_int_equal(total, N);
    assert_string_equal(herd_groups_key(g, 0), "k0");
    assert_string_equal(herd_groups_key(g, 1), "k1");
    assert_string_equal(herd_groups_key(g, 2), "k10"); /* bytewise */
    herd_groups_free(g);

    herd_frame_free(f);
    free(s);
    free(text);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int64_key),
        cmocka_unit_test(test_int32_key),
        cmocka_unit_test(test_string_key),
        cmocka_unit_test(test_string_key_distinct_pointers),
        cmocka_unit_test(test_two_keys_escaping),
        cmocka_unit_test(test_two_string_keys_unambiguous),
        cmocka_unit_test(test_multi_key_order),
        cmocka_unit_test(test_stable_row_order),
        cmocka_unit_test(test_missing_int_keys),
        cmocka_unit_test(test_missing_string_and_multi),
        cmocka_unit_test(test_all_missing),
        cmocka_unit_test(test_strided_columns),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_empty_frame),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_unknown_column_long_list),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests_name("groups", tests, NULL, NULL);
}
