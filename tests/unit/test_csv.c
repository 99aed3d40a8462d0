/* Tests of the CSV reader and writer (lib/data/csv_*.c): type inference, forced
 * types, RFC 4180 quoting, line ends, errors and their messages, string
 * interning, chunk boundaries, limits, and write -> read round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "herd.h"
#include "data/csv_internal.h"
#include "test_locale.h"

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

/* The suite's scratch directory (cmocka group state). */
typedef struct suite {
    char dir[512];
} suite;

static int suite_setup(void **state)
{
    suite *s = calloc(1, sizeof *s);
    if (!s) return -1;
    const char *base = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/herd-csv-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* Remove the scratch directory and whatever the tests left in it (one
 * level of subdirectories). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int suite_teardown(void **state)
{
    suite *s = *state;
    remove_tree(s->dir);
    free(s);
    return 0;
}

static void path_in(void **state, const char *name, char *buf, size_t size)
{
    const suite *s = *state;
    snprintf(buf, size, "%s/%s", s->dir, name);
}

static int read_str(const char *csv, const herd_csv_options *opt, herd_frame **f)
{
    return herd_frame_read_csv_buffer(csv, strlen(csv), "test.csv", opt, f);
}

/* Read `csv`, which must succeed. */
static herd_frame *must_read(const char *csv, const herd_csv_options *opt)
{
    herd_frame *f = NULL;
    int rc = read_str(csv, opt, &f);
    if (rc) print_error("unexpected error: %s\n", herd_last_error());
    assert_int_equal(rc, HERD_OK);
    assert_non_null(f);
    return f;
}

/* Read `csv`, which must fail with `code` and a message holding every one
 * of the NULL-terminated `parts`. */
static void must_fail(const char *csv, const herd_csv_options *opt, int code, ...)
{
    herd_frame *f = (herd_frame *)&f; /* must be reset to NULL */
    int rc = read_str(csv, opt, &f);
    if (rc != code) print_error("rc %d, message: %s\n", rc, herd_last_error());
    assert_int_equal(rc, code);
    assert_null(f);
    assert_int_equal(herd_last_error_code(), code);
    va_list ap;
    va_start(ap, code);
    for (const char *part; (part = va_arg(ap, const char *)) != NULL;) {
        if (!strstr(herd_last_error(), part))
            print_error("message \"%s\" lacks \"%s\"\n", herd_last_error(), part);
        assert_non_null(strstr(herd_last_error(), part));
    }
    va_end(ap);
}

static size_t col(const herd_frame *f, const char *name)
{
    size_t i = 99;
    assert_int_equal(herd_frame_find(f, name, &i), HERD_OK);
    return i;
}

static int64_t get_i(const herd_frame *f, const char *name, size_t row)
{
    int64_t v = -12345;
    assert_int_equal(herd_frame_get_int64(f, col(f, name), row, &v), HERD_OK);
    return v;
}

/* A value, NaN when missing: HERD_MISSING exactly then. */
static double get_d(const herd_frame *f, const char *name, size_t row)
{
    double v = -12345;
    int rc = herd_frame_get_double(f, col(f, name), row, &v);
    assert_int_equal(rc, isnan(v) ? HERD_MISSING : HERD_OK);
    return v;
}

/* A string, NULL when missing: HERD_MISSING exactly then. */
static const char *get_s(const herd_frame *f, const char *name, size_t row)
{
    const char *v = "unset";
    int rc = herd_frame_get_string(f, col(f, name), row, &v);
    assert_int_equal(rc, v ? HERD_OK : HERD_MISSING);
    return v;
}

static int type_of(const herd_frame *f, const char *name)
{
    return herd_frame_column_type(f, col(f, name));
}

static const uint8_t *mask_of(const herd_frame *f, const char *name)
{
    const void *data;
    size_t stride;
    const uint8_t *mask = (const uint8_t *)"x";
    assert_int_equal(herd_frame_column_data(f, col(f, name), &data, &stride, &mask), HERD_OK);
    return mask;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t k = fread(buf + n, 1, 4096, fp);
        n += k;
        if (k == 0) break;
    }
    fclose(fp);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Number of entries of `dir` whose name contains `part`. */
static int count_entries(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

static herd_csv_options forced(const char *const *names, const int *types, size_t n)
{
    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.type_names = names;
    o.types = types;
    o.n_types = n;
    return o;
}

/* ------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------- */

static void test_options_init(void **state)
{
    (void)state;
    herd_csv_options o;
    memset(&o, 0x5A, sizeof o);
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    assert_int_equal(o.version, HERD_CSV_OPTIONS_VERSION);
    assert_int_equal(o.delimiter, ',');
    assert_null(o.type_names);
    assert_null(o.types);
    assert_int_equal(o.n_types, 0);
    assert_int_equal(o.float_digits, 0);
    assert_int_equal(o.crlf, 0);
    assert_int_equal(herd_csv_options_init(NULL, HERD_CSV_OPTIONS_VERSION), HERD_EINVAL);
    assert_int_equal(herd_last_error_code(), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "opt"));
}

/* ------------------------------------------------------------------------
 * Inference
 * --------------------------------------------------------------------- */

static void test_infer_int(void **state)
{
    (void)state;
    herd_frame *f = must_read("n\n1\n-2\n+3\n 4 \n007\n\"12\"\n", NULL);
    assert_int_equal(herd_frame_row_count(f), 6);
    assert_int_equal(type_of(f, "n"), HERD_TYPE_INT64);
    const int64_t want[] = {1, -2, 3, 4, 7, 12};
    for (size_t r = 0; r < 6; r++) assert_int_equal(get_i(f, "n", r), want[r]);
    assert_null(mask_of(f, "n")); /* nothing missing: no mask */
    herd_frame_free(f);
}

static void test_infer_int_limits(void **state)
{
    (void)state;
    herd_frame *f = must_read("lo,hi\n-9223372036854775808,9223372036854775807\n1,2\n", NULL);
    assert_int_equal(type_of(f, "lo"), HERD_TYPE_INT64);
    assert_int_equal(type_of(f, "hi"), HERD_TYPE_INT64);
    assert_true(get_i(f, "lo", 0) == INT64_MIN);
    assert_true(get_i(f, "hi", 0) == INT64_MAX);
    herd_frame_free(f);
}

/* An integer beyond int64 in an inferred column is an error naming its
 * line and column (as float64 it would round silently); the option
 * convert_out_of_range makes the column float64, and a column forced to
 * float64 or string takes it (rounded, or exact). */
static void test_infer_int_beyond_int64(void **state)
{
    (void)state;
    const char *csv = "lo,hi,over,under\n"
                      "-9223372036854775808,9223372036854775807,"
                      "9223372036854775808,-9223372036854775809\n"
                      "1,2,3,4\n";
    must_fail(csv, NULL, HERD_EFORMAT, "test.csv:2:", "column 'over' (3)",
              "\"9223372036854775808\" is an integer beyond the int64 range",
              "convert_out_of_range", NULL);
    must_fail("n\n1\n2\n-99999999999999999999\n", NULL, HERD_EFORMAT, "test.csv:4:",
              "column 'n' (1)", "-99999999999999999999", NULL);
    /* Even beside decimals: the integer's exact value is what was written. */
    must_fail("x\n1.5\n9223372036854775809\n", NULL, HERD_EFORMAT, "test.csv:3:", "'x'",
              NULL);

    const char *names[] = {"over", "under"};
    const int types[] = {HERD_TYPE_FLOAT64, HERD_TYPE_STRING};
    herd_csv_options o = forced(names, types, 2);
    herd_frame *f = must_read(csv, &o);
    assert_true(get_d(f, "over", 0) == 9223372036854775808.0);
    assert_string_equal(get_s(f, "under", 0), "-9223372036854775809");
    herd_frame_free(f);

    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.convert_out_of_range = 1;
    f = must_read(csv, &o);
    assert_int_equal(type_of(f, "lo"), HERD_TYPE_INT64);
    /* Converting, an integer beyond int64 makes its column float64. */
    assert_int_equal(type_of(f, "over"), HERD_TYPE_FLOAT64);
    assert_int_equal(type_of(f, "under"), HERD_TYPE_FLOAT64);
    assert_true(get_d(f, "over", 0) == 9223372036854775808.0);
    assert_true(get_d(f, "under", 0) == -9223372036854775808.0);
    assert_true(get_d(f, "over", 1) == 3.0);
    herd_frame_free(f);
}

static void test_infer_float(void **state)
{
    (void)state;
    herd_frame *f = must_read("x\n1.5\n2\n1e3\n-.25\n5.\nnan\n-inf\nInfinity\n+INF\n 7.5 \n"
                              "1E-2\n", NULL);
    assert_int_equal(type_of(f, "x"), HERD_TYPE_FLOAT64);
    assert_int_equal(herd_frame_row_count(f), 11);
    assert_true(get_d(f, "x", 0) == 1.5);
    assert_true(get_d(f, "x", 1) == 2.0);
    assert_true(get_d(f, "x", 2) == 1000.0);
    assert_true(get_d(f, "x", 3) == -0.25);
    assert_true(get_d(f, "x", 4) == 5.0);
    assert_true(isnan(get_d(f, "x", 5)));
    assert_false(herd_frame_is_present(f, 0, 5));
    assert_true(isinf(get_d(f, "x", 6)) && get_d(f, "x", 6) < 0);
    assert_true(isinf(get_d(f, "x", 7)) && get_d(f, "x", 7) > 0);
    assert_true(isinf(get_d(f, "x", 8)) && get_d(f, "x", 8) > 0);
    assert_true(get_d(f, "x", 9) == 7.5);
    assert_true(get_d(f, "x", 10) == 0.01);
    herd_frame_free(f);
}

static void test_infer_string(void **state)
{
    (void)state;
    /* Mixed numbers and text, and things that only look numeric. */
    herd_frame *f = must_read("a,b,c,d,e\n1,x,1.5,0x10,1e\n2,2,2,1,1\n", NULL);
    assert_int_equal(type_of(f, "a"), HERD_TYPE_INT64);
    assert_int_equal(type_of(f, "b"), HERD_TYPE_STRING);
    assert_int_equal(type_of(f, "c"), HERD_TYPE_FLOAT64);
    assert_int_equal(type_of(f, "d"), HERD_TYPE_STRING); /* no hex floats */
    assert_int_equal(type_of(f, "e"), HERD_TYPE_STRING);
    assert_string_equal(get_s(f, "b", 0), "x");
    assert_string_equal(get_s(f, "b", 1), "2");
    assert_string_equal(get_s(f, "d", 0), "0x10");
    herd_frame_free(f);
}

static void test_infer_spaces(void **state)
{
    (void)state;
    /* Spaces around numbers are tolerated; a field of spaces is text, and
     * spaces are kept in text. */
    herd_frame *f = must_read("n,s\n  12  , a \n3,   \n", NULL);
    assert_int_equal(type_of(f, "n"), HERD_TYPE_INT64);
    assert_int_equal(get_i(f, "n", 0), 12);
    assert_int_equal(type_of(f, "s"), HERD_TYPE_STRING);
    assert_string_equal(get_s(f, "s", 0), " a ");
    assert_string_equal(get_s(f, "s", 1), "   ");
    herd_frame_free(f);
}

static void test_infer_all_empty(void **state)
{
    (void)state;
    herd_frame *f = must_read("a,b\n,1\n\"\",2\n,3\n", NULL);
    assert_int_equal(type_of(f, "a"), HERD_TYPE_FLOAT64);
    for (size_t r = 0; r < 3; r++) {
        assert_true(isnan(get_d(f, "a", r)));
        assert_false(herd_frame_is_present(f, col(f, "a"), r));
    }
    assert_int_equal(get_i(f, "b", 2), 3);
    herd_frame_free(f);
}

static void test_header_only(void **state)
{
    (void)state;
    herd_frame *f = must_read("a,b\n", NULL);
    assert_int_equal(herd_frame_column_count(f), 2);
    assert_int_equal(herd_frame_row_count(f), 0);
    assert_int_equal(type_of(f, "a"), HERD_TYPE_FLOAT64);
    herd_frame_free(f);
}

static void test_missing_values(void **state)
{
    (void)state;
    herd_frame *f = must_read("i,s,x,full\n1,,,5\n,\"\",\"\",6\n3,z,2.5,7\n", NULL);
    assert_int_equal(type_of(f, "i"), HERD_TYPE_INT64);
    assert_int_equal(type_of(f, "s"), HERD_TYPE_STRING);
    assert_int_equal(type_of(f, "x"), HERD_TYPE_FLOAT64);
    /* An int column with a missing value gets a mask. */
    const uint8_t *m = mask_of(f, "i");
    assert_non_null(m);
    assert_int_equal(m[0], 1);
    assert_int_equal(m[1], 0);
    assert_int_equal(m[2], 1);
    int64_t v = 42;
    assert_int_equal(herd_frame_get_int64(f, col(f, "i"), 1, &v), HERD_MISSING);
    assert_int_equal(v, 0);
    assert_int_equal(get_i(f, "i", 2), 3);
    assert_null(mask_of(f, "full"));
    /* Empty unquoted: missing (NULL); quoted "": an empty string. */
    assert_null(get_s(f, "s", 0));
    assert_string_equal(get_s(f, "s", 1), "");
    assert_string_equal(get_s(f, "s", 2), "z");
    /* A quoted empty field is missing in a float column. */
    assert_true(isnan(get_d(f, "x", 0)));
    assert_true(isnan(get_d(f, "x", 1)));
    assert_true(get_d(f, "x", 2) == 2.5);
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Number parsing: exact, as strtod
 * --------------------------------------------------------------------- */

/* As strtod: out-of-range values converted (to +-inf, +-0). */
static double parse_one(const char *text)
{
    char csv[256];
    snprintf(csv, sizeof csv, "x\n%s\n", text);
    const char *names[] = {"x"};
    const int types[] = {HERD_TYPE_FLOAT64};
    herd_csv_options o = forced(names, types, 1);
    o.convert_out_of_range = 1;
    herd_frame *f = must_read(csv, &o);
    double v = get_d(f, "x", 0);
    herd_frame_free(f);
    return v;
}

static void test_float_exact(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "0.1", "0.2", "0.3", "0.30000000000000004", "1e-310", "4.9e-324", "5e-324",
        "2.2250738585072014e-308", "2.2250738585072011e-308", "1.7976931348623157e308",
        "1.7976931348623158e308", "9007199254740993", "9007199254740992", "1e22", "1e23",
        "123456789012345678901234567890", "0.000000000000000000000000000001",
        "3.14159265358979323846264338327950288", "1.00000000000000011102230246251565404",
        "7.2057594037927933e16", "1e-22", "1e-23", "8.589973e9", "0.1e1", "100e-2",
        "12345678901234567890", "1234567890123456789", "-0.5", "6.02214076e23",
        "0.000123456789", "1.5e300", "1e400", "-1e400", "1e-400"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double want = strtod(cases[i], NULL);
        double got = parse_one(cases[i]);
        if (!same_bits(got, want))
            print_error("%s: got %.17g want %.17g\n", cases[i], got, want);
        assert_true(same_bits(got, want));
    }
    double z = parse_one("-0.0");
    assert_true(z == 0.0 && signbit(z));
    z = parse_one("-0");
    assert_true(z == 0.0 && signbit(z));
}

/* A finite decimal beyond float64's range, or nonzero below it, is an
 * error naming line and column by default, in inferred and forced columns;
 * subnormals, zeros with any exponent and values that round to the largest
 * double are in range. */
static void test_float_out_of_range(void **state)
{
    (void)state;
    static const char *const bad[] = {"1e400", "-1e400", "1e-400", "-1e-400",
                                      "1.8e308", "2e-324", "0.0000e-99999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char csv[128];
        snprintf(csv, sizeof csv, "a,x\n1,2.5\n2,%s\n", bad[i]);
        int zero = strcmp(bad[i], "0.0000e-99999") == 0;
        if (zero) {
            herd_frame *f = must_read(csv, NULL); /* zero is exact: not an underflow */
            assert_true(get_d(f, "x", 1) == 0.0);
            herd_frame_free(f);
            continue;
        }
        int over = strstr(bad[i], "e-") == NULL;
        must_fail(csv, NULL, HERD_EFORMAT, "test.csv:3:", "column 'x' (2)", bad[i],
                  over ? "beyond the float64 range" : "below the float64 range",
                  "convert_out_of_range", NULL);
        const char *names[] = {"x"};
        const int types[] = {HERD_TYPE_FLOAT64};
        herd_csv_options o = forced(names, types, 1);
        must_fail(csv, &o, HERD_EFORMAT, "test.csv:3:", "column 'x' (2)", NULL);
    }
    herd_frame *f = must_read("x\n1e-310\n4.9e-324\n1.7976931348623158e308\n0e999\n-0\n", NULL);
    assert_true(get_d(f, "x", 0) == 1e-310);
    assert_true(get_d(f, "x", 1) == 4.9e-324);
    assert_true(get_d(f, "x", 2) == DBL_MAX);
    assert_true(get_d(f, "x", 3) == 0.0);
    assert_true(get_d(f, "x", 4) == 0.0 && signbit(get_d(f, "x", 4)));
    herd_frame_free(f);

    /* float32 has its own range. */
    const char *names[] = {"x"};
    const int types[] = {HERD_TYPE_FLOAT32};
    herd_csv_options o = forced(names, types, 1);
    must_fail("x\n1e-50\n", &o, HERD_EFORMAT, "test.csv:2:", "below the float32 range",
              "read the column as float64", NULL);
    f = must_read("x\n1e-40\n", &o); /* a float32 subnormal */
    assert_true(get_d(f, "x", 0) > 0);
    herd_frame_free(f);
}

/* convert_out_of_range reads them as strtod does. */
static void test_float_out_of_range_converted(void **state)
{
    (void)state;
    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.convert_out_of_range = 1;
    herd_frame *f = must_read("x\n1e400\n-1e400\n1e-400\n-1e-400\n", &o);
    assert_true(isinf(get_d(f, "x", 0)) && get_d(f, "x", 0) > 0);
    assert_true(isinf(get_d(f, "x", 1)) && get_d(f, "x", 1) < 0);
    assert_true(get_d(f, "x", 2) == 0.0 && !signbit(get_d(f, "x", 2)));
    assert_true(get_d(f, "x", 3) == 0.0 && signbit(get_d(f, "x", 3)));
    herd_frame_free(f);
    const char *names[] = {"x"};
    const int types[] = {HERD_TYPE_FLOAT32};
    o.type_names = names;
    o.types = types;
    o.n_types = 1;
    f = must_read("x\n1e39\n1e-50\n", &o);
    assert_true(isinf(get_d(f, "x", 0)));
    assert_true(get_d(f, "x", 1) == 0.0);
    herd_frame_free(f);
}

/* Spaces around fields: the option `spaces` (numbers / keep / trim). */
static void test_spaces_option(void **state)
{
    (void)state;
    const char *csv = "n,s,q\n 2 , a ,\" 3\"\n4,b,5\n";
    /* Default: ignored around numbers (quoted or not), kept in strings. */
    herd_frame *f = must_read(csv, NULL);
    assert_int_equal(type_of(f, "n"), HERD_TYPE_INT64);
    assert_int_equal(get_i(f, "n", 0), 2);
    assert_string_equal(get_s(f, "s", 0), " a ");
    assert_int_equal(get_i(f, "q", 0), 3);
    herd_frame_free(f);

    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    assert_int_equal(o.spaces, HERD_CSV_SPACES_NUMBERS);
    o.spaces = HERD_CSV_SPACES_KEEP;
    f = must_read(csv, &o);
    assert_int_equal(type_of(f, "n"), HERD_TYPE_STRING); /* " 2 " is text */
    assert_string_equal(get_s(f, "n", 0), " 2 ");
    assert_int_equal(type_of(f, "q"), HERD_TYPE_STRING);
    herd_frame_free(f);
    const char *names[] = {"n"};
    const int types[] = {HERD_TYPE_INT64};
    o.type_names = names;
    o.types = types;
    o.n_types = 1;
    must_fail(csv, &o, HERD_EFORMAT, "test.csv:2:", "column 'n' (1)", "\" 2 \"",
              "not an integer", NULL);
    const int ftypes[] = {HERD_TYPE_FLOAT64};
    o.types = ftypes;
    must_fail(csv, &o, HERD_EFORMAT, "test.csv:2:", "column 'n' (1)", "not a number", NULL);

    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.spaces = HERD_CSV_SPACES_TRIM;
    f = must_read("n,s,q\n 2 , a ,\"  \"\n4,   ,\" x \"\n", &o);
    assert_int_equal(get_i(f, "n", 0), 2);
    assert_string_equal(get_s(f, "s", 0), "a");
    assert_false(herd_frame_is_present(f, col(f, "s"), 1)); /* spaces only: missing */
    assert_string_equal(get_s(f, "q", 0), "");                /* quoted: "" */
    assert_string_equal(get_s(f, "q", 1), "x");
    herd_frame_free(f);

    o.spaces = 3;
    must_fail(csv, &o, HERD_EINVAL, "spaces", "numbers", "keep", "trim", NULL);
}

/* Random doubles printed with 9 to 17 digits read back exactly as strtod
 * reads them: exercises the fast path and the fallback together. */
static void test_float_random(void **state)
{
    (void)state;
    enum { N = 3000 };
    char *csv = malloc(N * 40 + 16);
    double *want = malloc(N * sizeof *want);
    assert_non_null(csv);
    assert_non_null(want);
    size_t o = (size_t)sprintf(csv, "x\n");
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double v;
        uint64_t bits = seed;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) v = (double)(seed >> 11) / 3.0;
        int digits = 9 + i % 9;
        char text[40];
        if (i % 4 == 0) snprintf(text, sizeof text, "%.*g", digits, v);
        else if (i % 4 == 1) snprintf(text, sizeof text, "%.*f", i % 7, v / 1e290 * 1e5);
        else if (i % 4 == 2) snprintf(text, sizeof text, "%.*e", digits - 1, (double)(int64_t)(seed >> 20) / 1e3);
        else /* 15-19 digit mantissas around and above 2^53, small exponents */
            snprintf(text, sizeof text, "%" PRIu64 "e%d", (seed >> (i % 14)) % 10000000000000000000u,
                     i % 45 - 22);
        want[i] = strtod(text, NULL);
        o += (size_t)sprintf(csv + o, "%s\n", text);
    }
    const char *names[] = {"x"};
    const int types[] = {HERD_TYPE_FLOAT64};
    herd_csv_options opt = forced(names, types, 1);
    herd_frame *f = must_read(csv, &opt);
    assert_int_equal(herd_frame_row_count(f), N);
    for (size_t i = 0; i < N; i++) {
        double got = get_d(f, "x", i);
        if (!same_bits(got, want[i])) print_error("row %zu: %.17g vs %.17g\n", i, got, want[i]);
        assert_true(same_bits(got, want[i]));
    }
    herd_frame_free(f);
    free(csv);
    free(want);
}

static void test_float32_exact(void **state)
{
    (void)state;
    static const char *const cases[] = {"0.1", "16777217", "3.4028235e38", "1.17549435e-38",
                                        "1e-45", "0.333333343", "123.456", "-2.5e-7",
                                        "1.00000006", "8388609.5"};
    enum { N = sizeof cases / sizeof *cases };
    char csv[512];
    size_t o = (size_t)sprintf(csv, "x\n");
    for (size_t i = 0; i < N; i++) o += (size_t)sprintf(csv + o, "%s\n", cases[i]);
    const char *names[] = {"x"};
    const int types[] = {HERD_TYPE_FLOAT32};
    herd_csv_options opt = forced(names, types, 1);
    herd_frame *f = must_read(csv, &opt);
    assert_int_equal(type_of(f, "x"), HERD_TYPE_FLOAT32);
    const void *data;
    size_t stride;
    const uint8_t *mask;
    assert_int_equal(herd_frame_column_data(f, 0, &data, &stride, &mask), HERD_OK);
    assert_int_equal(stride, sizeof(float));
    for (size_t i = 0; i < N; i++) {
        float want = strtof(cases[i], NULL), got = ((const float *)data)[i];
        if (memcmp(&got, &want, sizeof got))
            print_error("%s: got %.9g want %.9g\n", cases[i], (double)got, (double)want);
        assert_memory_equal(&got, &want, sizeof got);
    }
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Forced types
 * --------------------------------------------------------------------- */

static void test_forced_types(void **state)
{
    (void)state;
    const char *names[] = {"i32", "f32", "s", "i64", "f64"};
    const int types[] = {HERD_TYPE_INT32, HERD_TYPE_FLOAT32, HERD_TYPE_STRING, HERD_TYPE_INT64,
                         HERD_TYPE_FLOAT64};
    herd_csv_options o = forced(names, types, 5);
    herd_frame *f = must_read("i32,f32,s,i64,f64,auto\n"
                              "-2147483648,1.5,007,5,1,1\n"
                              "2147483647,,1.0,,2,2\n",
                              &o);
    assert_int_equal(type_of(f, "i32"), HERD_TYPE_INT32);
    assert_int_equal(type_of(f, "f32"), HERD_TYPE_FLOAT32);
    assert_int_equal(type_of(f, "s"), HERD_TYPE_STRING);
    assert_int_equal(type_of(f, "i64"), HERD_TYPE_INT64);
    assert_int_equal(type_of(f, "f64"), HERD_TYPE_FLOAT64);
    assert_int_equal(type_of(f, "auto"), HERD_TYPE_INT64);
    assert_int_equal(get_i(f, "i32", 0), INT32_MIN);
    assert_int_equal(get_i(f, "i32", 1), INT32_MAX);
    assert_true(get_d(f, "f32", 0) == 1.5);
    assert_true(isnan(get_d(f, "f32", 1)));
    assert_string_equal(get_s(f, "s", 0), "007"); /* text kept as written */
    assert_string_equal(get_s(f, "s", 1), "1.0");
    assert_int_equal(get_i(f, "i64", 0), 5);
    assert_non_null(mask_of(f, "i64"));
    assert_int_equal(mask_of(f, "i64")[1], 0);
    assert_true(get_d(f, "f64", 1) == 2.0);
    herd_frame_free(f);
}

static void test_forced_int32_range(void **state)
{
    (void)state;
    const char *names[] = {"qty"};
    const int types[] = {HERD_TYPE_INT32};
    herd_csv_options o = forced(names, types, 1);
    must_fail("id,qty\n1,5\n2,3000000000\n", &o, HERD_EFORMAT, "test.csv:3:", "'qty' (2)",
              "3000000000", "int32", NULL);
    must_fail("id,qty\n1,-2147483649\n", &o, HERD_EFORMAT, "test.csv:2:", "'qty'", "int32",
              NULL);
}

static void test_forced_text_in_numeric(void **state)
{
    (void)state;
    const char *names[] = {"price"};
    const int types[] = {HERD_TYPE_FLOAT64};
    herd_csv_options o = forced(names, types, 1);
    must_fail("item,price\na,1.5\nb,2\nc,n/a\n", &o, HERD_EFORMAT, "test.csv:4:",
              "column 'price' (2)", "n/a", "not a number", "float64", NULL);
    const char *inames[] = {"n"};
    const int itypes[] = {HERD_TYPE_INT64};
    o = forced(inames, itypes, 1);
    must_fail("n\n1\n1.5\n", &o, HERD_EFORMAT, "test.csv:3:", "'n'", "not an integer", NULL);
    must_fail("n\n1\nabc\n", &o, HERD_EFORMAT, "test.csv:3:", "'n'", "abc", NULL);
}

static void test_forced_int64_overflow(void **state)
{
    (void)state;
    const char *names[] = {"n"};
    const int types[] = {HERD_TYPE_INT64};
    herd_csv_options o = forced(names, types, 1);
    must_fail("n\n1\n9223372036854775808\n", &o, HERD_EFORMAT, "test.csv:3:", "'n'",
              "int64 range", "9223372036854775807", NULL);
}

static void test_forced_float32_range(void **state)
{
    (void)state;
    const char *names[] = {"x"};
    const int types[] = {HERD_TYPE_FLOAT32};
    herd_csv_options o = forced(names, types, 1);
    must_fail("x\n1\n1e39\n", &o, HERD_EFORMAT, "test.csv:3:", "'x'", "float32 range", NULL);
    herd_frame *f = must_read("x\n3.4e38\ninf\n", &o);
    assert_true(get_d(f, "x", 0) > 3.3e38);
    assert_true(isinf(get_d(f, "x", 1)));
    herd_frame_free(f);
}

static void test_forced_not_in_header(void **state)
{
    (void)state;
    const char *names[] = {"a", "pricee"};
    const int types[] = {HERD_TYPE_INT64, HERD_TYPE_FLOAT64};
    herd_csv_options o = forced(names, types, 2);
    must_fail("a,price,qty\n1,2,3\n", &o, HERD_ENOTFOUND, "test.csv", "'pricee'", "'a'",
              "'price'", "'qty'", NULL);
    const char *twice[] = {"a", "a"};
    o = forced(twice, types, 2);
    must_fail("a,price\n1,2\n", &o, HERD_EINVAL, "'a'", "twice", NULL);
}

/* ------------------------------------------------------------------------
 * Structure: quoting, line ends, BOM, blank lines
 * --------------------------------------------------------------------- */

static void test_rfc4180_quoting(void **state)
{
    (void)state;
    herd_frame *f = must_read("name,note,n\n"
                              "\"Smith, J\",\"say \"\"hi\"\"\",1\n"
                              "\"two\nlines\",\"\"\"\",2\n"
                              "plain,\"a\r\nb\",3\n",
                              NULL);
    assert_int_equal(herd_frame_row_count(f), 3);
    assert_string_equal(get_s(f, "name", 0), "Smith, J");
    assert_string_equal(get_s(f, "note", 0), "say \"hi\"");
    assert_string_equal(get_s(f, "name", 1), "two\nlines");
    assert_string_equal(get_s(f, "note", 1), "\"");
    assert_string_equal(get_s(f, "note", 2), "a\r\nb");
    assert_int_equal(get_i(f, "n", 2), 3);
    herd_frame_free(f);
}

/* Lines are physical lines: a newline inside quotes counts. */
static void test_line_numbers_after_embedded_newline(void **state)
{
    (void)state;
    const char *names[] = {"n"};
    const int types[] = {HERD_TYPE_INT64};
    herd_csv_options o = forced(names, types, 1);
    /* record 1 spans lines 2-4; the bad value is on line 5 */
    must_fail("s,n\n\"a\nb\nc\",1\nx,oops\n", &o, HERD_EFORMAT, "test.csv:5:", "'n' (2)",
              "oops", NULL);
    must_fail("s,n\n\"a\n\nb\",1\n\nx,1,2\n", NULL, HERD_EFORMAT, "test.csv:6:",
              "line 6 has 3 fields", NULL);
}

static void test_crlf(void **state)
{
    (void)state;
    herd_frame *f = must_read("a,b\r\n1,x\r\n2,\r\n", NULL);
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_string_equal(get_s(f, "b", 0), "x");
    assert_null(get_s(f, "b", 1));
    assert_int_equal(get_i(f, "a", 1), 2);
    assert_non_null(herd_frame_column_name(f, 1));
    assert_string_equal(herd_frame_column_name(f, 1), "b");
    herd_frame_free(f);
}

static void test_bom(void **state)
{
    (void)state;
    herd_frame *f = must_read("\xEF\xBB\xBFid,v\n1,2\n", NULL);
    assert_string_equal(herd_frame_column_name(f, 0), "id");
    assert_int_equal(get_i(f, "id", 0), 1);
    herd_frame_free(f);
}

static void test_blank_lines(void **state)
{
    (void)state;
    herd_frame *f = must_read("\n\na,b\n\n1,2\r\n\r\n\n3,4\n\n", NULL);
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_int_equal(get_i(f, "a", 1), 3);
    herd_frame_free(f);
    /* a blank line does not reset line counting */
    must_fail("a,b\n\n\n1\n", NULL, HERD_EFORMAT, "test.csv:4:", "line 4 has 1 fields", NULL);
}

static void test_no_final_newline(void **state)
{
    (void)state;
    herd_frame *f = must_read("a,b\n1,2\n3,x", NULL);
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_string_equal(get_s(f, "b", 1), "x");
    herd_frame_free(f);
    f = must_read("a,b\n1,\"q\"", NULL);
    assert_string_equal(get_s(f, "b", 0), "q");
    herd_frame_free(f);
    f = must_read("a,b\n1,", NULL); /* a trailing empty field */
    assert_true(isnan(get_d(f, "b", 0)));
    herd_frame_free(f);
}

static void test_other_delimiters(void **state)
{
    (void)state;
    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.delimiter = ';';
    herd_frame *f = must_read("a;b;c\n1,5;\"x;y\";z,w\n", &o);
    assert_int_equal(herd_frame_column_count(f), 3);
    assert_string_equal(get_s(f, "a", 0), "1,5");
    assert_string_equal(get_s(f, "b", 0), "x;y");
    assert_string_equal(get_s(f, "c", 0), "z,w");
    herd_frame_free(f);
    o.delimiter = '\t';
    f = must_read("a\tb\n1\t2.5\n", &o);
    assert_true(get_d(f, "b", 0) == 2.5);
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Malformed input
 * --------------------------------------------------------------------- */

static void test_unterminated_quote(void **state)
{
    (void)state;
    must_fail("a,b\n1,2\n3,\"open\n4,5\n", NULL, HERD_EFORMAT,
              "unterminated quoted field starting at line 3 column 2", "test.csv:3:", NULL);
    must_fail("\"a,b\n", NULL, HERD_EFORMAT, "line 1 column 1", NULL);
}

static void test_ragged_row(void **state)
{
    (void)state;
    must_fail("a,b\n1,2\n1,2,3\n", NULL, HERD_EFORMAT, "test.csv:3:",
              "line 3 has 3 fields, the header has 2", NULL);
    must_fail("a,b,c\n1,2,3\n4\n", NULL, HERD_EFORMAT, "line 3 has 1 fields, the header has 3",
              NULL);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* "caf\xE9" is Latin-1; the key field is on line 3, the bad byte at
     * offset 6 + 6 + 3 = 15 of the input. */
    must_fail("key,v\nabc,1\ncaf\xE9,2\n", NULL, HERD_EFORMAT, "test.csv:3:",
              "column 'key' (1)", "UTF-8", "byte offset 15", NULL);
    /* a truncated sequence at the end of a quoted field */
    must_fail("key,v\n\"ok\xC3\",1\n", NULL, HERD_EFORMAT, "test.csv:2:", "'key'", "UTF-8",
              NULL);
    /* in the header */
    must_fail("k\xFF,v\n1,2\n", NULL, HERD_EFORMAT, "test.csv:1:", "column 1", "UTF-8", NULL);
    /* valid multi-byte text is fine */
    herd_frame *f = must_read("key\n\xC3\xA9t\xC3\xA9\n\xF0\x9F\x90\x91\n", NULL);
    assert_string_equal(get_s(f, "key", 0), "\xC3\xA9t\xC3\xA9");
    herd_frame_free(f);
}

static void test_header_names(void **state)
{
    (void)state;
    must_fail("id,v,id\n1,2,3\n", NULL, HERD_EFORMAT, "test.csv:1:", "'id'",
              "columns 1 and 3", NULL);
    must_fail("a,,c\n1,2,3\n", NULL, HERD_EFORMAT, "test.csv:1:", "column 2", "name", NULL);
    must_fail("a,b,\n1,2,3\n", NULL, HERD_EFORMAT, "column 3", NULL);
    must_fail("a,\"\"\n1,2\n", NULL, HERD_EFORMAT, "column 2", NULL);
    must_fail("a,\"x\ty\"\n1,2\n", NULL, HERD_EFORMAT, "column 2", "control", NULL);
    must_fail("", NULL, HERD_EFORMAT, "test.csv", "empty", NULL);
    must_fail("\n\n", NULL, HERD_EFORMAT, "empty", NULL);
    /* quoted names with doubled quotes are names */
    herd_frame *f = must_read("\"a \"\"q\"\"\",\"b,c\"\n1,2\n", NULL);
    assert_string_equal(herd_frame_column_name(f, 0), "a \"q\"");
    assert_string_equal(herd_frame_column_name(f, 1), "b,c");
    herd_frame_free(f);
}

static void test_bad_quotes_and_bytes(void **state)
{
    (void)state;
    must_fail("a,b\n1,\"ab\"x\n", NULL, HERD_EFORMAT, "test.csv:2:", "'b' (2)",
              "after the closing quote", NULL);
    must_fail("a,b\n1,ab\"c\n", NULL, HERD_EFORMAT, "test.csv:2:", "'b'", "quote", NULL);
    must_fail("a,b\n1,2\rx,3\n", NULL, HERD_EFORMAT, "test.csv:2:", "'b'", "CR", NULL);
    must_fail("a,b\n1,2\r", NULL, HERD_EFORMAT, "test.csv:2:", "CR", NULL);
    static const char nul[] = "a,b\n1,x\0y\n";
    herd_frame *f = (herd_frame *)&f;
    assert_int_equal(herd_frame_read_csv_buffer(nul, sizeof nul - 1, "nul.csv", NULL, &f),
                     HERD_EFORMAT);
    assert_null(f);
    assert_non_null(strstr(herd_last_error(), "nul.csv:2:"));
    assert_non_null(strstr(herd_last_error(), "NUL"));
}

/* ------------------------------------------------------------------------
 * Interning
 * --------------------------------------------------------------------- */

static void test_interning(void **state)
{
    (void)state;
    herd_frame *f = must_read("k,v\nstore_1,1\nstore_2,2\nstore_1,3\n\"store_1\",4\n", NULL);
    const char *a = get_s(f, "k", 0), *b = get_s(f, "k", 1), *c = get_s(f, "k", 2);
    assert_string_equal(a, "store_1");
    assert_string_equal(b, "store_2");
    assert_ptr_equal(a, c); /* one copy of each distinct value */
    assert_ptr_equal(a, get_s(f, "k", 3));
    assert_ptr_not_equal(a, b);
    herd_frame_free(f);
}

/* Many rows: a key column shares its strings (one copy per reading
 * thread); a unique column (where interning stops) still reads every value
 * right. */
static void test_interning_many_rows(void **state)
{
    (void)state;
    enum { N = 150000 };
    char *csv = malloc((size_t)N * 32 + 16);
    assert_non_null(csv);
    size_t o = (size_t)sprintf(csv, "key,id\n");
    for (int i = 0; i < N; i++) o += (size_t)sprintf(csv + o, "k%d,u%d\n", i % 97, i);
    for (int threads = 1; threads <= 2; threads++) {
        herd_csv_options opt;
        herd_csv_options_init(&opt, HERD_CSV_OPTIONS_VERSION);
        opt.threads = threads;
        herd_frame *f = must_read(csv, &opt);
        assert_int_equal(herd_frame_row_count(f), N);
        const void *data;
        size_t stride;
        const uint8_t *mask;
        assert_int_equal(herd_frame_column_data(f, col(f, "key"), &data, &stride, &mask),
                         HERD_OK);
        const char *const *keys = data;
        /* The copies of k0: one, or one per thread. */
        const char *seen[2] = {keys[0], NULL};
        for (int i = 97; i < N; i++) {
            assert_string_equal(keys[i], keys[i % 97]);
            if (i % 97 || keys[i] == seen[0] || keys[i] == seen[1]) continue;
            if (threads == 1 || seen[1]) fail_msg("k0 stored more than %d times", threads);
            seen[1] = keys[i];
        }
        char want[32];
        snprintf(want, sizeof want, "k%d", (N - 1) % 97);
        assert_string_equal(keys[N - 1], want);
        assert_int_equal(herd_frame_column_data(f, col(f, "id"), &data, &stride, &mask),
                         HERD_OK);
        const char *const *ids = data;
        for (int i = 0; i < N; i += 7919) {
            snprintf(want, sizeof want, "u%d", i);
            assert_string_equal(ids[i], want);
        }
        assert_string_equal(ids[N - 1], "u149999");
        herd_frame_free(f);
    }
    free(csv);
}

/* ------------------------------------------------------------------------
 * Files: chunk boundaries, limits
 * --------------------------------------------------------------------- */

/* Compare two frames value by value (same types, same values). */
static void assert_frames_equal(const herd_frame *a, const herd_frame *b)
{
    assert_int_equal(herd_frame_column_count(a), herd_frame_column_count(b));
    assert_int_equal(herd_frame_row_count(a), herd_frame_row_count(b));
    for (size_t j = 0; j < herd_frame_column_count(a); j++) {
        int t = herd_frame_column_type(a, j);
        assert_int_equal(t, herd_frame_column_type(b, j));
        assert_string_equal(herd_frame_column_name(a, j), herd_frame_column_name(b, j));
        for (size_t r = 0; r < herd_frame_row_count(a); r++) {
            assert_int_equal(herd_frame_is_present(a, j, r), herd_frame_is_present(b, j, r));
            if (!herd_frame_is_present(a, j, r)) continue;
            if (t == HERD_TYPE_STRING) {
                const char *x, *y;
                assert_int_equal(herd_frame_get_string(a, j, r, &x), HERD_OK);
                assert_int_equal(herd_frame_get_string(b, j, r, &y), HERD_OK);
                assert_string_equal(x, y);
            } else {
                double x, y;
                assert_int_equal(herd_frame_get_double(a, j, r, &x), HERD_OK);
                assert_int_equal(herd_frame_get_double(b, j, r, &y), HERD_OK);
                assert_true(same_bits(x, y));
            }
        }
    }
}

/* ------------------------------------------------------------------------
 * Parallel reading: the same frames and the same errors as one thread
 * --------------------------------------------------------------------- */

typedef struct gen {
    uint64_t s;
    char *p;
    size_t n, cap;
} gen;

static uint64_t gen_rand(gen *g)
{
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return g->s;
}

static void gen_put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gen_put(gen *g, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(g->p + g->n, g->cap - g->n, fmt, ap);
        va_end(ap);
        assert_true(k >= 0);
        if ((size_t)k < g->cap - g->n) {
            g->n += (size_t)k;
            return;
        }
        g->cap = 2 * g->cap + (size_t)k + 64;
        g->p = realloc(g->p, g->cap);
        assert_non_null(g->p);
    }
}

/* A CSV of `rows` rows from `seed`: keys (some quoted, holding the
 * delimiter, doubled quotes, line ends, UTF-8), an int column, a column
 * that is int in the first half and float after it, one that turns to
 * text in the last rows, missing values, blank lines, LF or CRLF, and a
 * last line with or without its line end. */
static char *gen_csv(uint64_t seed, int rows, size_t *len)
{
    gen g = {seed * 2654435761u + 1, NULL, 0, 0};
    const char *eol = seed % 3 == 0 ? "\r\n" : "\n";
    gen_put(&g, "key,n,x,late,note%s", eol);
    for (int r = 0; r < rows; r++) {
        uint64_t v = gen_rand(&g);
        switch (v % 7) {
        case 0: gen_put(&g, "\"k,%d\"", (int)(v % 50)); break;
        case 1: gen_put(&g, "\"k \"\"%d\"\"\"", (int)(v % 50)); break;
        case 2: gen_put(&g, "\"line%s%d\"", eol, (int)(v % 50)); break;
        case 3: gen_put(&g, "k\xC3\xA9%d", (int)(v % 50)); break;
        default: gen_put(&g, "k%d", (int)(v % 50));
        }
        if (v % 11 == 0) gen_put(&g, ",");
        else gen_put(&g, ",%lld", (long long)(v % 100000) - 50000);
        if (v % 13 == 0) gen_put(&g, ",");
        else if (r < rows / 2) gen_put(&g, ",%d", (int)(v % 1000));
        else gen_put(&g, ",%d.%d", (int)(v % 1000), (int)(v % 7));
        if (r == rows - 3 && seed % 2) gen_put(&g, ",text");
        else gen_put(&g, ",%d", (int)(v % 17));
        gen_put(&g, v % 5 == 0 ? ",\"\"" : v % 5 == 1 ? "," : ",\"a\"\"b\"");
        if (r < rows - 1 || seed % 4) gen_put(&g, "%s", eol);
        if (v % 97 == 0 && r < rows - 1) gen_put(&g, "%s", eol); /* a blank line */
    }
    *len = g.n;
    return g.p;
}

static void write_bytes(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Read `path` (or the bytes) with `threads` threads, windows of `chunk`
 * bytes and parts of at least `part_min`: the frame, or NULL and the error
 * into err (code first). */
static herd_frame *read_tuned(const char *path, const char *p, size_t n, int threads,
                              size_t chunk, size_t part_min, const herd_csv_options *base,
                              char *err, size_t cap)
{
    herd_csv_options opt;
    if (base) opt = *base;
    else herd_csv_options_init(&opt, HERD_CSV_OPTIONS_VERSION);
    opt.threads = threads;
    herd_frame *f = NULL;
    int rc = hd_csv_read_tuned(path, p, n, &opt, chunk, part_min, &f);
    snprintf(err, cap, "%d %s", rc, rc ? herd_last_error() : "");
    return f;
}

/* Every way of reading `p` gives what one thread gives. */
static int parallel_matches(const char *path, const char *p, size_t n,
                            const herd_csv_options *opt)
{
    static const size_t chunks[] = {0, 1000, 4096, 65536};
    static const size_t part_mins[] = {1, 100, 5000};
    static const int threads[] = {2, 3, 4};
    char want[1200], got[1200];
    herd_frame *ref = read_tuned(path, p, n, 1, 0, HD_CSV_PART_MIN, opt, want, sizeof want);
    int cases = 0;
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        for (size_t m = 0; m < sizeof part_mins / sizeof *part_mins; m++) {
            for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
                for (int from_file = 0; from_file < 2; from_file++) {
                    if (!from_file && chunks[c]) continue; /* a buffer is one window */
                    herd_frame *f = read_tuned(from_file ? path : NULL, p, n, threads[t],
                                               chunks[c], part_mins[m], opt, got, sizeof got);
                    /* Messages name the input: compare them past the name. */
                    const char *w = strstr(want, ".csv"), *g = strstr(got, ".csv");
                    if (strncmp(want, got, 3) || (w && g && strcmp(w, g)) || !w != !g)
                        fail_msg("threads %d, chunk %zu, parts of %zu, %s: \"%s\", one thread "
                                 "\"%s\"", threads[t], chunks[c], part_mins[m],
                                 from_file ? "file" : "buffer", got, want);
                    if (ref) assert_frames_equal(ref, f);
                    herd_frame_free(f);
                    cases++;
                }
            }
        }
    }
    herd_frame_free(ref);
    return cases;
}

static void test_parallel_same_frames(void **state)
{
    char path[600];
    path_in(state, "parallel.csv", path, sizeof path);
    int cases = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        size_t n;
        char *p = gen_csv(seed, 40 + (int)(seed * 37 % 400), &n);
        write_bytes(path, p, n);
        /* The buffer is named as the file is, for the messages. */
        cases += parallel_matches(path, p, n, NULL);
        free(p);
    }
    printf("# %d parallel reads compared with one thread\n", cases);
}

/* Type inference across parts: a column that is int in the first part
 * and float in a later one is float64 (as read by one thread), one that
 * turns to text in the last part is string, and one with a missing value
 * in one part only gets a mask. */
static void test_parallel_types_across_parts(void **state)
{
    (void)state;
    gen g = {7, NULL, 0, 0};
    gen_put(&g, "a,b,c,d\n");
    for (int r = 0; r < 3000; r++)
        gen_put(&g, "%d,%s,%d,%s\n", r, r < 2500 ? "1" : "2.5", r, r == 2999 ? "x" : "7");
    gen_put(&g, "1,2,,4\n");
    char err[1200];
    herd_frame *one = read_tuned(NULL, g.p, g.n, 1, 0, HD_CSV_PART_MIN, NULL, err, sizeof err);
    herd_frame *two = read_tuned(NULL, g.p, g.n, 2, 0, 1000, NULL, err, sizeof err);
    assert_non_null(one);
    assert_non_null(two);
    static const int want[] = {HERD_TYPE_INT64, HERD_TYPE_FLOAT64, HERD_TYPE_INT64,
                               HERD_TYPE_STRING};
    for (size_t j = 0; j < 4; j++) {
        assert_int_equal(herd_frame_column_type(one, j), want[j]);
        assert_int_equal(herd_frame_column_type(two, j), want[j]);
    }
    assert_false(herd_frame_is_present(two, 2, 3000));
    assert_frames_equal(one, two);
    herd_frame_free(one);
    herd_frame_free(two);
    free(g.p);
}

/* Bad inputs fail the same way whatever the threads: the first error in
 * the input, with its line and column, even when a later part has one
 * too, or when the bad quote makes the cuts fall inside a field. */
static void test_parallel_same_errors(void **state)
{
    char path[600];
    path_in(state, "parallel-bad.csv", path, sizeof path);
    static const char *const bad[] = {
        "1,2,3,4,5,6",           /* ragged */
        "k,1,2,3,a\"b",          /* a quote inside an unquoted field */
        "\"k\"x,1,2,3,4",        /* text after the closing quote */
        "k\xFF,1,2,3,4",         /* invalid UTF-8 */
        "\"open,1,2,3,4",        /* a quote never closed (to the end) */
        "k,1,2\r3,4,5",          /* a bare CR */
        "k,1,2,3",               /* too few fields */
        "k,9223372036854775808,2,3,4", /* forced int64 out of range */
    };
    herd_csv_options opt;
    herd_csv_options_init(&opt, HERD_CSV_OPTIONS_VERSION);
    static const char *const tn[] = {"n"};
    static const int tt[] = {HERD_TYPE_INT64};
    opt.type_names = tn;
    opt.types = tt;
    opt.n_types = 1;
    int cases = 0;
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            size_t n;
            char *p = gen_csv(seed + 100 * b, 300, &n);
            /* The bad line in the middle, and another bad one near the end. */
            for (int k = 0; k < 2; k++) {
                size_t at = k ? n - n / 10 : n / 2 + seed * 17;
                while (at < n && p[at] != '\n') at++;
                if (at >= n) continue;
                at++;
                /* Inside a quoted field this would change nothing: move to
                 * where the whole input has an even number of quotes. */
                size_t q = 0;
                for (size_t i = 0; i < at; i++) q += p[i] == '"';
                while (q % 2 && at < n) {
                    if (p[at] == '"') q++;
                    at++;
                    while (at < n && p[at - 1] != '\n') {
                        if (p[at] == '"') q++;
                        at++;
                    }
                }
                size_t bl = strlen(bad[b]);
                char *np = malloc(n + bl + 2);
                assert_non_null(np);
                memcpy(np, p, at);
                memcpy(np + at, bad[b], bl);
                np[at + bl] = '\n';
                memcpy(np + at + bl + 1, p + at, n - at);
                free(p);
                p = np;
                n += bl + 1;
            }
            write_bytes(path, p, n);
            cases += parallel_matches(path, p, n, &opt);
            free(p);
        }
    }
    printf("# %d bad inputs read in parallel, each failing as with one thread\n", cases);
}

/* A file larger than the reader's 8 MiB window, with quoted fields holding
 * newlines, CRLF line ends and a field larger than the window: read from
 * the file (many windows) it must equal the same bytes read from memory
 * (one window). */
static void test_file_chunks(void **state)
{
    char path[600];
    path_in(state, "chunks.csv", path, sizeof path);
    size_t cap = (size_t)30 << 20, o = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    o += (size_t)sprintf(csv + o, "\xEF\xBB\xBFid,key,x,note\r\n");
    int rows = 0;
    while (o < ((size_t)17 << 20)) {
        if (rows == 1000) { /* a 9 MiB field: the window must grow */
            o += (size_t)sprintf(csv + o, "%d,big,0.5,\"", rows);
            memset(csv + o, 'z', (size_t)9 << 20);
            o += (size_t)9 << 20;
            o += (size_t)sprintf(csv + o, "\"\r\n");
        } else {
            o += (size_t)sprintf(csv + o, "%d,\"k%d\",%d.%03d,\"a \"\"quote\"\"\nand, line\"\r\n",
                                 rows, rows % 50, rows, rows % 1000);
        }
        if (rows % 1000 == 0) o += (size_t)sprintf(csv + o, "\r\n"); /* blank */
        rows++;
    }
    spit(path, csv, o);
    herd_frame *ff = NULL, *fm = NULL;
    int rc = herd_frame_read_csv(path, NULL, &ff);
    if (rc) print_error("%s\n", herd_last_error());
    assert_int_equal(rc, HERD_OK);
    assert_int_equal(herd_frame_read_csv_buffer(csv, o, "mem", NULL, &fm), HERD_OK);
    assert_int_equal(herd_frame_row_count(ff), rows);
    assert_int_equal(type_of(ff, "id"), HERD_TYPE_INT64);
    assert_int_equal(type_of(ff, "x"), HERD_TYPE_FLOAT64);
    assert_int_equal(get_i(ff, "id", (size_t)rows - 1), rows - 1);
    assert_string_equal(get_s(ff, "note", 5), "a \"quote\"\nand, line");
    assert_int_equal(strlen(get_s(ff, "note", 1000)), (size_t)9 << 20);
    assert_frames_equal(ff, fm);
    herd_frame_free(ff);
    herd_frame_free(fm);

    /* An error near the end of a big file names the right line. */
    o = (size_t)sprintf(csv, "a,b\n");
    for (int i = 0; i < 700000; i++) o += (size_t)sprintf(csv + o, "%d,\"x\ny\"\n", i);
    o += (size_t)sprintf(csv + o, "1,2,3\n");
    spit(path, csv, o);
    assert_int_equal(herd_frame_read_csv(path, NULL, &ff), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), ":1400002:")); /* 1 + 2 * 700000 + 1 */
    assert_non_null(strstr(herd_last_error(), path));
    free(csv);
}

static void test_read_file_errors(void **state)
{
    char path[600];
    herd_frame *f = (herd_frame *)&f;
    path_in(state, "no-such-file.csv", path, sizeof path);
    assert_int_equal(herd_frame_read_csv(path, NULL, &f), HERD_EIO);
    assert_null(f);
    assert_non_null(strstr(herd_last_error(), path));
    assert_non_null(strstr(herd_last_error(), "No such file"));
    const suite *s = *state; /* a directory is not a CSV file */
    assert_int_equal(herd_frame_read_csv(s->dir, NULL, &f), HERD_EIO);
    assert_non_null(strstr(herd_last_error(), "regular file"));
    /* errors in a file name the file */
    path_in(state, "bad.csv", path, sizeof path);
    spit(path, "a,b\n1,2\n\"x\n", 11);
    assert_int_equal(herd_frame_read_csv(path, NULL, &f), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), path));
    assert_non_null(strstr(herd_last_error(), ":3:"));
}

static void test_limits(void **state)
{
    (void)state;
    /* more than 65535 columns */
    size_t cap = 65536 * 8 + 16, o = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    for (int j = 0; j < 65536; j++) o += (size_t)sprintf(csv + o, "%sc%d", j ? "," : "", j);
    csv[o++] = '\n';
    csv[o] = '\0';
    must_fail(csv, NULL, HERD_ELIMIT, "test.csv:1:", "65535", NULL);
    free(csv);

    /* a field larger than 64 MiB */
    size_t big = ((size_t)64 << 20) + 10;
    csv = malloc(big + 16);
    assert_non_null(csv);
    memcpy(csv, "a\n", 2);
    memset(csv + 2, 'x', big);
    herd_frame *f = (herd_frame *)&f;
    assert_int_equal(herd_frame_read_csv_buffer(csv, big + 2, "big.csv", NULL, &f), HERD_ELIMIT);
    assert_null(f);
    assert_non_null(strstr(herd_last_error(), "big.csv:2:"));
    assert_non_null(strstr(herd_last_error(), "67108864"));
    free(csv);
}

/* ------------------------------------------------------------------------
 * Writing
 * --------------------------------------------------------------------- */

/* A frame with all five types, missing values and awkward strings. */
static herd_frame *awkward_frame(void)
{
    static const float f32[] = {0.1f, -0.0f, 3.4028235e38f, 1e-45f, NAN, INFINITY, 16777216.0f, 1.0f};
    static const double f64[] = {0.1, 1e-310, 1.7976931348623157e308, -0.0, NAN, -INFINITY,
                                 0.30000000000000004, 2.0};
    static const int32_t i32[] = {INT32_MIN, INT32_MAX, 0, -1, 0, 7, 8, 9};
    static const uint8_t i32_mask[] = {1, 1, 1, 1, 0, 1, 1, 1};
    static const int64_t i64[] = {INT64_MIN, INT64_MAX, 0, 1, 2, 3, 4, 5};
    static const char *const str[] = {"plain",     "a,b",  "say \"hi\"",      "two\nlines",
                                      "  leading", NULL,   "",                "cr\r\nlf"};
    static const char *const str2[] = {"trailing ", "\xC3\xA9t\xC3\xA9", "\"", ",", "x;y", "12",
                                       " ", "last"};
    herd_frame *f;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    assert_int_equal(herd_frame_add_column(f, "f32", HERD_TYPE_FLOAT32, f32, 8, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "f64", HERD_TYPE_FLOAT64, f64, 8, NULL), HERD_OK);
    o.mask = i32_mask;
    assert_int_equal(herd_frame_add_column(f, "i32", HERD_TYPE_INT32, i32, 8, &o), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "i64", HERD_TYPE_INT64, i64, 8, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "str", HERD_TYPE_STRING, str, 8, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "odd, \"name\"", HERD_TYPE_STRING, str2, 8, NULL),
                     HERD_OK);
    return f;
}

static herd_csv_options awkward_types(void)
{
    static const char *const names[] = {"f32", "f64", "i32", "i64", "str", "odd, \"name\""};
    static const int types[] = {HERD_TYPE_FLOAT32, HERD_TYPE_FLOAT64, HERD_TYPE_INT32,
                                HERD_TYPE_INT64, HERD_TYPE_STRING, HERD_TYPE_STRING};
    return forced(names, types, 6);
}

static void test_roundtrip_all_types(void **state)
{
    char path[600];
    path_in(state, "roundtrip.csv", path, sizeof path);
    herd_frame *a = awkward_frame(), *b = NULL;
    assert_int_equal(herd_frame_write_csv(a, path, NULL), HERD_OK);
    herd_csv_options o = awkward_types();
    int rc = herd_frame_read_csv(path, &o, &b);
    if (rc) print_error("%s\n", herd_last_error());
    assert_int_equal(rc, HERD_OK);
    assert_frames_equal(a, b);
    /* spot checks on what assert_frames_equal compares loosely */
    assert_null(get_s(b, "str", 5));
    assert_string_equal(get_s(b, "str", 6), "");
    assert_string_equal(get_s(b, "str", 4), "  leading");
    assert_string_equal(get_s(b, "odd, \"name\"", 0), "trailing ");
    assert_true(signbit(get_d(b, "f64", 3)));
    assert_true(signbit(get_d(b, "f32", 1)));
    assert_true(get_d(b, "f64", 1) == 1e-310);
    assert_true(get_d(b, "f64", 2) == DBL_MAX);
    assert_true(get_d(b, "f32", 3) == (double)1e-45f);
    assert_int_equal(get_i(b, "i64", 0), INT64_MIN);
    assert_int_equal(mask_of(b, "i32")[4], 0);
    herd_frame_free(b);

    /* Without forced types the numeric columns infer back to their kind:
     * integral floats are written "2.0", not "2". */
    assert_int_equal(herd_frame_read_csv(path, NULL, &b), HERD_OK);
    assert_int_equal(type_of(b, "f64"), HERD_TYPE_FLOAT64);
    assert_int_equal(type_of(b, "f32"), HERD_TYPE_FLOAT64);
    assert_int_equal(type_of(b, "i32"), HERD_TYPE_INT64);
    assert_int_equal(type_of(b, "str"), HERD_TYPE_STRING);
    assert_true(get_d(b, "f64", 7) == 2.0);
    assert_true(get_d(b, "f64", 0) == 0.1);
    herd_frame_free(b);
    herd_frame_free(a);
}

static void test_write_text(void **state)
{
    char path[600];
    path_in(state, "text.csv", path, sizeof path);
    herd_frame *f;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    const double x[] = {0.1, 2.0, NAN, 1e21, -INFINITY, 1.0 / 3.0};
    const char *const s[] = {"a", NULL, "", " b", "c\"d", "e;f"};
    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 6, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_STRING, s, 6, NULL), HERD_OK);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "x,s\n"
                              "0.1,a\n"
                              "2.0,\n"
                              ",\"\"\n"
                              "1e+21,\" b\"\n"
                              "-inf,\"c\"\"d\"\n"
                              "0.3333333333333333,e;f\n");
    free(text);
    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.crlf = 1;
    o.delimiter = ';';
    o.float_digits = 3;
    assert_int_equal(herd_frame_write_csv(f, path, &o), HERD_OK);
    text = slurp(path, NULL);
    assert_string_equal(text, "x;s\r\n"
                              "0.1;a\r\n"
                              "2.0;\r\n"
                              ";\"\"\r\n"
                              "1e+21;\" b\"\r\n"
                              "-inf;\"c\"\"d\"\r\n"
                              "0.333;\"e;f\"\r\n");
    free(text);
    herd_frame *b = NULL;
    assert_int_equal(herd_frame_read_csv(path, &o, &b), HERD_OK);
    assert_string_equal(get_s(b, "s", 5), "e;f");
    assert_true(get_d(b, "x", 5) == 0.333);
    herd_frame_free(b);
    herd_frame_free(f);
    assert_int_equal(count_entries(((suite *)*state)->dir, ".tmp."), 0);
}

/* Borrowed, strided columns (one column of a row-major matrix) and masks
 * given as "1 = missing" are written like any other. */
static void test_write_strided(void **state)
{
    char path[600];
    path_in(state, "strided.csv", path, sizeof path);
    const double m[3][2] = {{1.5, 2.0}, {3.0, 4.25}, {5.0, 6.5}};
    const int32_t ints[3][2] = {{1, 10}, {2, 20}, {3, 30}};
    const uint8_t missing[3] = {0, 1, 0};
    herd_frame *f;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    herd_column_options o;
    herd_column_options_init(&o, HERD_COLUMN_OPTIONS_VERSION);
    o.flags = HERD_COLUMN_BORROW;
    o.stride = sizeof m[0];
    assert_int_equal(herd_frame_add_column(f, "b", HERD_TYPE_FLOAT64, &m[0][1], 3, &o), HERD_OK);
    o.stride = sizeof ints[0];
    o.mask = missing;
    o.flags = HERD_COLUMN_BORROW | HERD_COLUMN_MASK_MISSING;
    assert_int_equal(herd_frame_add_column(f, "i", HERD_TYPE_INT32, &ints[0][1], 3, &o), HERD_OK);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "b,i\n2.0,10\n4.25,\n6.5,30\n");
    free(text);
    herd_frame_free(f);
}

/* A one-column row whose value is missing must not become a blank line
 * (which readers skip). */
static void test_write_single_column_missing(void **state)
{
    char path[600];
    path_in(state, "one.csv", path, sizeof path);
    herd_frame *f, *b = NULL;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    const double x[] = {1.5, NAN, 2.5};
    assert_int_equal(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 3, NULL), HERD_OK);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
    assert_int_equal(herd_frame_read_csv(path, NULL, &b), HERD_OK);
    assert_int_equal(herd_frame_row_count(b), 3);
    assert_true(isnan(get_d(b, "x", 1)));
    assert_true(get_d(b, "x", 2) == 2.5);
    herd_frame_free(b);
    herd_frame_free(f);
}

/* Floats: the shortest text that reads back exactly, over many values. */
static void test_write_float_shortest(void **state)
{
    char path[600];
    path_in(state, "floats.csv", path, sizeof path);
    enum { N = 5000 };
    double *d = malloc(N * sizeof *d);
    float *s = malloc(N * sizeof *s);
    assert_non_null(d);
    assert_non_null(s);
    uint64_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t bits = seed;
        memcpy(&d[i], &bits, sizeof d[i]);
        uint32_t b32 = (uint32_t)(seed >> 32);
        memcpy(&s[i], &b32, sizeof s[i]);
        if (isnan(d[i])) d[i] = (double)i;
        if (isnan(s[i])) s[i] = (float)i;
    }
    herd_frame *f, *b = NULL;
    assert_int_equal(herd_frame_new(&f), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "d", HERD_TYPE_FLOAT64, d, N, NULL), HERD_OK);
    assert_int_equal(herd_frame_add_column(f, "s", HERD_TYPE_FLOAT32, s, N, NULL), HERD_OK);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
    const char *names[] = {"s"};
    const int types[] = {HERD_TYPE_FLOAT32};
    herd_csv_options o = forced(names, types, 1);
    assert_int_equal(herd_frame_read_csv(path, &o, &b), HERD_OK);
    assert_frames_equal(f, b);
    /* 9 digits for floats at most */
    size_t len;
    char *text = slurp(path, &len);
    assert_true(len < (size_t)N * (24 + 16 + 2) + 8);
    free(text);
    herd_frame_free(b);
    herd_frame_free(f);
    free(d);
    free(s);
}

static void test_write_failures(void **state)
{
    const suite *s = *state;
    char path[600];
    herd_frame *f = awkward_frame();
    /* a directory that does not exist */
    path_in(state, "no-such-dir/out.csv", path, sizeof path);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_EIO);
    assert_non_null(strstr(herd_last_error(), path));
    assert_non_null(strstr(herd_last_error(), "No such file or directory"));
    assert_int_equal(count_entries(s->dir, ".tmp."), 0);
    /* the target is a directory: refused before anything is written */
    path_in(state, "a-directory", path, sizeof path);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), path));
    assert_non_null(strstr(herd_last_error(), "the path is a directory"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(s->dir, ".tmp."), 0);
    /* a successful write replaces an existing file */
    path_in(state, "keep.csv", path, sizeof path);
    spit(path, "old\n", 4);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
    char *text = slurp(path, NULL);
    assert_non_null(strstr(text, "f32,f64,i32,i64,str,\"odd, \"\"name\"\"\"\n"));
    free(text);
    assert_int_equal(count_entries(s->dir, ".tmp."), 0);
    herd_frame_free(f);
}

/* ---- progress ------------------------------------------------------------ */

typedef struct csv_watch {
    int calls, bad, cancel_at;
    int index, total;
    char phase[16];
    size_t rows_done, rows_total;
    uint64_t bytes_done, bytes_total;
    int phases_seen;
} csv_watch;

static int csv_progress(const herd_progress *p, void *user)
{
    csv_watch *w = user;
    w->calls++;
    if (p->struct_size != sizeof *p || !p->phase || p->phase_index < w->index) w->bad++;
    if (p->phase_index == w->index &&
        (p->rows_done < w->rows_done || p->bytes_done < w->bytes_done))
        w->bad++;
    if (p->bytes_done > p->bytes_total || (p->rows_total && p->rows_done > p->rows_total))
        w->bad++;
    if (p->phase_index != w->index) w->phases_seen++;
    w->index = p->phase_index;
    w->total = p->phase_total;
    snprintf(w->phase, sizeof w->phase, "%s", p->phase);
    w->rows_done = p->rows_done;
    w->rows_total = p->rows_total;
    w->bytes_done = p->bytes_done;
    w->bytes_total = p->bytes_total;
    return w->cancel_at && w->calls >= w->cancel_at;
}

/* A read reports both passes (phases csv_scan then csv_convert), bytes and
 * rows only growing, and ends at the file's size and row count; a nonzero
 * answer cancels it. */
static void test_read_progress(void **state)
{
    char path[600];
    path_in(state, "progress.csv", path, sizeof path);
    size_t n = 200000, cap = 32 * n, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "a,b,c\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%zu,%zu.5,s%zu\n", i, i % 97, i % 13);
    spit(path, text, len);
    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    csv_watch w;
    memset(&w, 0, sizeof w);
    o.progress = csv_progress;
    o.progress_user = &w;
    herd_frame *f = NULL;
    assert_int_equal(herd_frame_read_csv(path, &o, &f), HERD_OK);
    assert_int_equal(herd_frame_row_count(f), n);
    herd_frame_free(f);
    assert_int_equal(w.bad, 0);
    assert_true(w.calls >= 4); /* each phase: its start and its end */
    assert_int_equal(w.phases_seen, 2);
    assert_string_equal(w.phase, "csv_convert");
    assert_int_equal(w.index, 2);
    assert_int_equal(w.total, 2);
    assert_int_equal(w.rows_done, n);
    assert_int_equal(w.rows_total, n);
    assert_int_equal(w.bytes_total, len);
    assert_int_equal(w.bytes_done, len);

    /* the same from memory */
    memset(&w, 0, sizeof w);
    assert_int_equal(herd_frame_read_csv_buffer(text, len, "mem", &o, &f), HERD_OK);
    herd_frame_free(f);
    assert_int_equal(w.bad, 0);
    assert_int_equal(w.bytes_done, len);
    assert_int_equal(w.rows_done, n);

    /* cancelled at its first report: no frame */
    memset(&w, 0, sizeof w);
    w.cancel_at = 1;
    f = (herd_frame *)&f;
    assert_int_equal(herd_frame_read_csv(path, &o, &f), HERD_ECANCELED);
    assert_null(f);
    assert_non_null(strstr(herd_last_error(), "progress.csv"));
    assert_non_null(strstr(herd_last_error(), "cancelled"));
    free(text);
}


/* What a path names decides how it is written (docs/api.md, "Files"). */
static void expect_refused(const char *path, const char *is)
{
    herd_frame *f = awkward_frame();
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), path));
    if (!strstr(herd_last_error(), is)) fail_msg("'%s' does not say '%s'", herd_last_error(), is);
    herd_frame_free(f);
}

static void expect_link_to(const char *link, const char *target)
{
    char buf[600];
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, target);
}

static void test_write_special_files(void **state)
{
    const suite *s = *state;
    char path[600], link[600];
    herd_frame *f = awkward_frame();
    struct stat st;

    /* A symbolic link to a regular file: refused, link and file unchanged. */
    path_in(state, "real.csv", path, sizeof path);
    spit(path, "old\n", 4);
    path_in(state, "link.csv", link, sizeof link);
    assert_int_equal(symlink(path, link), 0);
    expect_refused(link, "a symbolic link to a regular file");
    expect_link_to(link, path);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "old\n");
    free(text);

    /* A dangling link, and a link to a directory: refused, left alone. */
    path_in(state, "dangling.csv", link, sizeof link);
    assert_int_equal(symlink("no-such-target.csv", link), 0);
    expect_refused(link, "a symbolic link to nothing");
    expect_link_to(link, "no-such-target.csv");
    path_in(state, "dir-link", link, sizeof link);
    assert_int_equal(symlink(s->dir, link), 0);
    expect_refused(link, "a symbolic link to a directory");
    expect_link_to(link, s->dir);

    /* A link to a character device (as /dev/stdout can be): written
     * through; the link and the device stay what they were. */
    path_in(state, "null-link", link, sizeof link);
    assert_int_equal(symlink("/dev/null", link), 0);
    assert_int_equal(herd_frame_write_csv(f, link, NULL), HERD_OK);
    expect_link_to(link, "/dev/null");
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));

    /* A character device named directly (made here when allowed: the
     * test never risks the system's own /dev/null). */
    path_in(state, "null-device", path, sizeof path);
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }

    /* A FIFO with a reader gets the bytes, and stays a FIFO. */
    path_in(state, "fifo", path, sizeof path);
    assert_int_equal(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK); /* fits the pipe */
    char buf[4096];
    ssize_t n = read(rd, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "f32,f64,i32,i64,str,\"odd, \"\"name\"\"\"\n"));
    close(rd);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    /* ... and without a reader is an error at once, not a wait. */
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_EIO);
    assert_non_null(strstr(herd_last_error(), "no process has open for reading"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    /* A socket: refused. */
    path_in(state, "sock", path, sizeof path);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (sfd >= 0 && strlen(path) < sizeof sa.sun_path) {
        strcpy(sa.sun_path, path);
        assert_int_equal(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
        expect_refused(path, "a socket");
    }
    if (sfd >= 0) close(sfd);

    /* Nothing left behind anywhere. */
    assert_int_equal(count_entries(s->dir, ".tmp."), 0);
    herd_frame_free(f);
}

/* Numbers are written and read with '.' whatever the host's locale. */
static void test_locale_independence(void **state)
{
    test_locale loc;
    int have = test_locale_decimal_comma(&loc);
    if (!have) test_locale_restore(&loc);
    assert_true(have); /* `locales` (localedef's sources) comes with make test */
    char path[600];
    path_in(state, "locale.csv", path, sizeof path);
    /* the second value has too many digits for the fast path: strtod */
    herd_frame *f = must_read("x\n0.5\n0.2500000000000000000001\n1e-5\n", NULL);
    assert_true(get_d(f, "x", 0) == 0.5);
    assert_true(get_d(f, "x", 1) == 0.25);
    assert_int_equal(herd_frame_write_csv(f, path, NULL), HERD_OK);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "x\n0.5\n0.25\n1e-05\n");
    free(text);
    /* float32 columns and a digit count: the same bytes as in the C locale */
    herd_csv_options o;
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.float_digits = 3;
    const char *names[] = {"y"};
    const int types[] = {HERD_TYPE_FLOAT32};
    o.type_names = names;
    o.types = types;
    o.n_types = 1;
    static const char data[] = "x,y\n0.125,1.5e3\n-2.75,0.1\n";
    herd_frame *g = NULL;
    assert_int_equal(herd_frame_read_csv_buffer(data, sizeof data - 1, "b", &o, &g), HERD_OK);
    assert_int_equal(herd_frame_write_csv(g, path, &o), HERD_OK);
    char *comma = slurp(path, NULL);
    herd_frame_free(g);
    test_locale_restore(&loc);
    assert_int_equal(herd_frame_read_csv_buffer(data, sizeof data - 1, "b", &o, &g), HERD_OK);
    assert_int_equal(herd_frame_write_csv(g, path, &o), HERD_OK);
    char *c_text = slurp(path, NULL);
    assert_string_equal(comma, c_text);
    assert_non_null(strstr(c_text, "-2.75"));
    free(comma);
    free(c_text);
    herd_frame_free(g);
    herd_frame_free(f);
}

/* ------------------------------------------------------------------------
 * Bad arguments: HERD_EINVAL, and the message names the argument
 * --------------------------------------------------------------------- */

static void expect_einval(int rc, const char *arg)
{
    assert_int_equal(rc, HERD_EINVAL);
    assert_int_equal(herd_last_error_code(), HERD_EINVAL);
    if (!strstr(herd_last_error(), arg)) print_error("\"%s\" lacks \"%s\"\n", herd_last_error(), arg);
    assert_non_null(strstr(herd_last_error(), arg));
}

/* Every bad option, through both readers. */
static void check_bad_options(const char *path)
{
    static const char data[] = "a\n1\n";
    herd_frame *f = NULL;
    herd_csv_options o;
#define BOTH(arg)                                                                     \
    do {                                                                              \
        f = (herd_frame *)&f;                                                         \
        expect_einval(herd_frame_read_csv(path, &o, &f), arg);                        \
        assert_null(f);                                                               \
        f = (herd_frame *)&f;                                                         \
        expect_einval(herd_frame_read_csv_buffer(data, 4, "b", &o, &f), arg);         \
        assert_null(f);                                                               \
    } while (0)

    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.version = 0;
    BOTH("version 0");
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.version = 4;
    BOTH("herd_csv_options_init(&opt, HERD_CSV_OPTIONS_VERSION)");
    static const char bad_delims[] = {'"', '\r', '\n', '\0', (char)0xC3};
    for (size_t i = 0; i < sizeof bad_delims; i++) {
        herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
        o.delimiter = bad_delims[i];
        BOTH("delimiter");
    }
    const char *names[] = {"a", NULL};
    const int types[] = {HERD_TYPE_INT64, 9};
    o = forced(NULL, types, 1);
    BOTH("type_names");
    o = forced(names, NULL, 1);
    BOTH("types");
    o = forced(names, types, 2);
    BOTH("type_names[1]");
    const char *names2[] = {"a", "b"};
    o = forced(names2, types, 2);
    BOTH("types[1]");
    const int zero[] = {0};
    o = forced(names2, zero, 1);
    BOTH("types[0]");
#undef BOTH
}

static void test_bad_args_read(void **state)
{
    char path[600];
    path_in(state, "args.csv", path, sizeof path);
    spit(path, "a\n1\n", 4);
    herd_frame *f = (herd_frame *)&f;
    expect_einval(herd_frame_read_csv(NULL, NULL, &f), "path");
    assert_null(f);
    expect_einval(herd_frame_read_csv("", NULL, &f), "path");
    expect_einval(herd_frame_read_csv(path, NULL, NULL), "out");
    check_bad_options(path);
    /* the options were checked before anything was read: a good call works */
    assert_int_equal(herd_frame_read_csv(path, NULL, &f), HERD_OK);
    herd_frame_free(f);
}

static void test_bad_args_read_buffer(void **state)
{
    (void)state;
    herd_frame *f = (herd_frame *)&f;
    expect_einval(herd_frame_read_csv_buffer(NULL, 3, "b", NULL, &f), "data");
    assert_null(f);
    expect_einval(herd_frame_read_csv_buffer("a\n1", 3, NULL, NULL, &f), "name");
    expect_einval(herd_frame_read_csv_buffer("a\n1", 3, "b", NULL, NULL), "out");
    /* NULL with length 0 is an empty input, not a bad argument */
    assert_int_equal(herd_frame_read_csv_buffer(NULL, 0, "b", NULL, &f), HERD_EFORMAT);
    /* the length is honoured: bytes after it are not read */
    assert_int_equal(herd_frame_read_csv_buffer("a\n1\n\"", 4, "b", NULL, &f), HERD_OK);
    assert_int_equal(herd_frame_row_count(f), 1);
    herd_frame_free(f);
}

static void test_bad_args_write(void **state)
{
    char path[600];
    path_in(state, "w.csv", path, sizeof path);
    herd_frame *f = awkward_frame(), *empty;
    herd_csv_options o;
    expect_einval(herd_frame_write_csv(NULL, path, NULL), "frame");
    expect_einval(herd_frame_write_csv(f, NULL, NULL), "path");
    expect_einval(herd_frame_write_csv(f, "", NULL), "path");
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.version = 0;
    expect_einval(herd_frame_write_csv(f, path, &o), "version 0");
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.delimiter = '"';
    expect_einval(herd_frame_write_csv(f, path, &o), "delimiter");
    o.delimiter = '\n';
    expect_einval(herd_frame_write_csv(f, path, &o), "delimiter");
    herd_csv_options_init(&o, HERD_CSV_OPTIONS_VERSION);
    o.float_digits = -1;
    expect_einval(herd_frame_write_csv(f, path, &o), "float_digits");
    o.float_digits = 18;
    expect_einval(herd_frame_write_csv(f, path, &o), "float_digits");
    assert_int_equal(herd_frame_new(&empty), HERD_OK);
    expect_einval(herd_frame_write_csv(empty, path, NULL), "frame");
    herd_frame_free(empty);
    /* nothing was created by the failed calls */
    assert_int_equal(access(path, F_OK), -1);
    herd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_infer_int),
        cmocka_unit_test(test_infer_int_limits),
        cmocka_unit_test(test_infer_int_beyond_int64),
        cmocka_unit_test(test_float_out_of_range),
        cmocka_unit_test(test_float_out_of_range_converted),
        cmocka_unit_test(test_spaces_option),
        cmocka_unit_test(test_infer_float),
        cmocka_unit_test(test_infer_string),
        cmocka_unit_test(test_infer_spaces),
        cmocka_unit_test(test_infer_all_empty),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_float_exact),
        cmocka_unit_test(test_float_random),
        cmocka_unit_test(test_float32_exact),
        cmocka_unit_test(test_forced_types),
        cmocka_unit_test(test_forced_int32_range),
        cmocka_unit_test(test_forced_text_in_numeric),
        cmocka_unit_test(test_forced_int64_overflow),
        cmocka_unit_test(test_forced_float32_range),
        cmocka_unit_test(test_forced_not_in_header),
        cmocka_unit_test(test_rfc4180_quoting),
        cmocka_unit_test(test_line_numbers_after_embedded_newline),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_no_final_newline),
        cmocka_unit_test(test_other_delimiters),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_ragged_row),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_header_names),
        cmocka_unit_test(test_bad_quotes_and_bytes),
        cmocka_unit_test(test_interning),
        cmocka_unit_test(test_interning_many_rows),
        cmocka_unit_test(test_file_chunks),
        cmocka_unit_test(test_parallel_same_frames),
        cmocka_unit_test(test_parallel_same_errors),
        cmocka_unit_test(test_read_file_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_write_text),
        cmocka_unit_test(test_write_strided),
        cmocka_unit_test(test_write_single_column_missing),
        cmocka_unit_test(test_write_float_shortest),
        cmocka_unit_test(test_write_failures),
        cmocka_unit_test(test_write_special_files),
        cmocka_unit_test(test_locale_independence),
        cmocka_unit_test(test_read_progress),
        cmocka_unit_test(test_parallel_types_across_parts),
        cmocka_unit_test(test_bad_args_read),
        cmocka_unit_test(test_bad_args_read_buffer),
        cmocka_unit_test(test_bad_args_write),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
