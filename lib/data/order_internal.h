/* order_internal.h -- ordering columns (holdouts, "last" validation
 * splits): numbers, or ISO 8601 dates and timestamps in a string column. */
#ifndef HERD_ORDER_INTERNAL_H
#define HERD_ORDER_INTERNAL_H

#include <stddef.h>

#include "herd.h"

/* Parse a whole ISO 8601 date "YYYY-MM-DD" or timestamp
 * "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]" ('t' or a space may stand
 * for 'T', 'z' for 'Z'; 1 to 9 digits of a second) into seconds since
 * 1970-01-01T00:00:00Z; a value without an offset is read as UTC, and
 * *zoned says whether it had one.  Dates are checked (month, day of the
 * month with leap years, hour, minute, second 00..59).  HERD_EINVAL quotes
 * the text and says what was expected where. */
int hd_iso8601_parse(const char *text, double *seconds, int *zoned);

/* One sort key per row of column `col` of `f` (nrows doubles, malloc'd):
 * a numeric column's values (missing: NaN), or a string column's values
 * parsed by hd_iso8601_parse (missing: NaN).  HERD_EINVAL, prefixed by
 * `what` (the option naming the column), names the column and row of the
 * first value that is not a date, or the first two rows that mix values
 * with and without a UTC offset. */
int hd_order_keys(const herd_frame *f, size_t col, const char *what, double **out);

#endif
