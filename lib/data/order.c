/* order.c -- ordering columns: one sort key per row, from a numeric column
 * as it is, or from a string column of ISO 8601 dates and timestamps.
 *
 * The holdout of herd_compare and herd_cycle and the "last" validation
 * split of herd_fit take the latest rows of each group by such a column.
 * Dates in a string column are parsed once, strictly, and become seconds
 * since 1970-01-01T00:00:00Z, so that rows sort in time order whatever
 * their UTC offsets; a value that is not a date stops the operation with
 * its row and column instead of sorting as text.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "data/frame_internal.h"
#include "data/order_internal.h"

#define HD_ISO_FORMS "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]"

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's
 * days_from_civil). */
static int64_t hd_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int hd_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly `n` ASCII digits at s + *i. */
static int hd_digits(const char *s, size_t *i, int n, int *v)
{
    int x = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9') return 0;
        x = x * 10 + (c - '0');
    }
    *i += (size_t)n;
    *v = x;
    return 1;
}

typedef struct hd_iso_error {
    char what[160];
    size_t at;
} hd_iso_error;

static int hd_iso_fail(hd_iso_error *e, size_t at, const char *fmt, int a, int b)
{
    e->at = at;
    snprintf(e->what, sizeof e->what, fmt, a, b);
    return 0;
}

/* Parse a whole ISO 8601 date or timestamp; 1 on success with *seconds
 * since the epoch and *zoned (an offset or Z was given), 0 with *e. */
static int hd_iso_parse(const char *s, double *seconds, int *zoned, hd_iso_error *e)
{
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    double frac = 0;
    *zoned = 0;
    if (!hd_digits(s, &i, 4, &y) || s[i] != '-')
        return hd_iso_fail(e, i, "expected the year as YYYY and '-'", 0, 0);
    i++;
    if (!hd_digits(s, &i, 2, &mo) || s[i] != '-')
        return hd_iso_fail(e, i, "expected the month as MM and '-'", 0, 0);
    i++;
    if (!hd_digits(s, &i, 2, &d)) return hd_iso_fail(e, i, "expected the day as DD", 0, 0);
    if (mo < 1 || mo > 12) return hd_iso_fail(e, 5, "month %02d is not 01..12", mo, 0);
    if (d < 1 || d > hd_days_in_month(y, mo))
        return hd_iso_fail(e, 8, "day %02d is not in its month (01..%02d)", d,
                           hd_days_in_month(y, mo));
    if (s[i] == 'T' || s[i] == 't' || s[i] == ' ') {
        i++;
        if (!hd_digits(s, &i, 2, &h) || s[i] != ':')
            return hd_iso_fail(e, i, "expected the hour as HH and ':'", 0, 0);
        i++;
        if (!hd_digits(s, &i, 2, &mi) || s[i] != ':')
            return hd_iso_fail(e, i, "expected the minutes as MM and ':'", 0, 0);
        i++;
        if (!hd_digits(s, &i, 2, &sec))
            return hd_iso_fail(e, i, "expected the seconds as SS", 0, 0);
        if (h > 23) return hd_iso_fail(e, i - 8, "hour %02d is not 00..23", h, 0);
        if (mi > 59) return hd_iso_fail(e, i - 5, "minute %02d is not 00..59", mi, 0);
        if (sec > 59) return hd_iso_fail(e, i - 2, "second %02d is not 00..59", sec, 0);
        if (s[i] == '.') {
            size_t f0 = ++i;
            double scale = 0.1;
            while (s[i] >= '0' && s[i] <= '9' && i - f0 < 9) {
                frac += (s[i++] - '0') * scale;
                scale /= 10;
            }
            if (i == f0 || (s[i] >= '0' && s[i] <= '9'))
                return hd_iso_fail(e, i, "expected 1 to 9 digits of a second after '.'", 0, 0);
        }
        if (s[i] == 'Z' || s[i] == 'z') {
            *zoned = 1;
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int sign = s[i] == '-' ? -1 : 1, oh, om;
            size_t at = i++;
            if (!hd_digits(s, &i, 2, &oh) || s[i] != ':' || (i++, !hd_digits(s, &i, 2, &om)))
                return hd_iso_fail(e, at, "expected a UTC offset as +hh:mm or -hh:mm", 0, 0);
            if (oh > 23 || om > 59)
                return hd_iso_fail(e, at, "UTC offset %02d:%02d is out of range", oh, om);
            *zoned = 1;
            sec -= sign * (oh * 3600 + om * 60); /* local time minus offset: UTC */
        }
    }
    if (s[i] != '\0')
        return hd_iso_fail(e, i, "unexpected text at byte %d (a time starts with 'T', an "
                           "offset with 'Z', '+' or '-')", (int)i, 0);
    *seconds = (double)hd_days_from_civil(y, mo, d) * 86400.0 +
               (double)(h * 3600 + mi * 60 + sec) + frac;
    return 1;
}

int hd_iso8601_parse(const char *text, double *seconds, int *zoned)
{
    hd_iso_error e;
    if (hd_iso_parse(text, seconds, zoned, &e)) return HERD_OK;
    char q[96];
    return hd_error(HERD_EINVAL, "%s is not an ISO 8601 date or timestamp: %s; give "
                    HD_ISO_FORMS, hd_quote(text, strlen(text), q, sizeof q), e.what);
}

int hd_order_keys(const herd_frame *f, size_t col, const char *what, double **out)
{
    *out = NULL;
    const hd_column *c = hd_frame_col(f, col);
    if (!c) return HERD_EINVAL;
    size_t n = f->nrows;
    double *k = hd_malloc(n ? n : 1, sizeof *k);
    if (!k) return HERD_ENOMEM;
    if (c->type != HERD_TYPE_STRING) {
        for (size_t r = 0; r < n; r++) k[r] = hd_col_double(c, r);
        *out = k;
        return HERD_OK;
    }
    size_t zoned_row = SIZE_MAX, naive_row = SIZE_MAX; /* the first of each */
    for (size_t r = 0; r < n; r++) {
        const char *s = hd_col_present(c, r) ? hd_col_str(c, r) : NULL;
        int zoned = 0;
        if (!s) {
            k[r] = NAN;
            continue;
        }
        if (hd_iso8601_parse(s, &k[r], &zoned)) {
            free(k);
            return hd_error_prefix("%s: column '%s', row %zu: ", what, c->name, r);
        }
        size_t *first = zoned ? &zoned_row : &naive_row;
        if (*first == SIZE_MAX) *first = r;
        if (zoned_row != SIZE_MAX && naive_row != SIZE_MAX) {
            char qz[96], qn[96];
            const char *z = hd_col_str(c, zoned_row), *v = hd_col_str(c, naive_row);
            free(k);
            return hd_error(HERD_EINVAL, "%s: column '%s' mixes times with a UTC offset (row "
                            "%zu: %s) and without one (row %zu: %s), which do not order: give "
                            "every value an offset (or Z), or none", what, c->name, zoned_row,
                            hd_quote(z, strlen(z), qz, sizeof qz), naive_row,
                            hd_quote(v, strlen(v), qn, sizeof qn));
        }
    }
    *out = k;
    return HERD_OK;
}
