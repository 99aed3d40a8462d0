/* number_internal.h -- numbers as text, whatever the locale: the one
 * number module of herd (CSV reads and writes through it).
 *
 * Parsing takes (pointer, length) -- no NUL needed -- and is correctly
 * rounded: a fast decimal path (Clinger's, for the digits and powers of
 * ten that are exact) and strtod_l / strtof_l in the "C" locale for the
 * rest, so a host whose LC_NUMERIC writes "0,5" changes nothing.  The
 * grammar is strtod's decimal one without hex floats and nan(...):
 * [+-] digits [. digits] [e [+-] digits], or nan / inf / infinity in any
 * case, and nothing else: no surrounding spaces (callers that accept them
 * call hd_num_trim first).
 *
 * Formatting writes the shortest text that reads back as the same value
 * (or a given number of significant digits).  hd_num_format_f64 / _f32
 * print with snprintf, so the caller switches the thread to hd_c_locale()
 * (uselocale) around them (CSV writes millions: once per file); the text
 * helpers at the end (messages, log records, JSON) switch by themselves.
 * Nothing in lib/ formats or parses a floating-point number otherwise: no
 * printf("%g"), strtod or scanf("%lf"), which follow LC_NUMERIC.
 */
#ifndef HERD_COMMON_NUMBER_INTERNAL_H
#define HERD_COMMON_NUMBER_INTERNAL_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

/* The "C" locale, created once for the process (immutable, so shared by
 * threads without a lock), or (locale_t)0 with HERD_ENOMEM recorded. */
locale_t hd_c_locale(void);

/* What a field looks like, for type inference.  Decides without converting
 * (except integers, whose value comes for free). */
enum { HD_NUM_TEXT = 0, HD_NUM_INT, HD_NUM_INT_BIG, HD_NUM_FLOAT };

/* Classify s[0..len) (non-empty): HD_NUM_INT with *ival (the int64
 * parser), HD_NUM_INT_BIG (an integer beyond int64), HD_NUM_FLOAT or
 * HD_NUM_TEXT.  Converts nothing else. */
int hd_num_lex(const char *s, size_t len, int64_t *ival);

/* Drop the ASCII spaces (0x20) around s[0..len). */
void hd_num_trim(const char **s, size_t *len);

/* Where a finite decimal landed (*range of the parsers below), as strtod
 * would set ERANGE: HD_NUM_OVERFLOW when its magnitude is beyond the type's
 * largest finite value (*out is then +-inf), HD_NUM_UNDERFLOW when it is
 * nonzero but rounds to zero (*out is then +-0).  Subnormal results are in
 * range. */
enum { HD_NUM_IN_RANGE = 0, HD_NUM_OVERFLOW, HD_NUM_UNDERFLOW };

/* Text to double, correctly rounded.  0, -1 (not a number) or HERD_ENOMEM;
 * *range as above (the value is stored whatever it says). */
int hd_num_parse_f64(const char *s, size_t len, double *out, int *range);
/* Text to float, correctly rounded (not through double, which would round
 * twice).  Like hd_num_parse_f64, with float's range. */
int hd_num_parse_f32(const char *s, size_t len, float *out, int *range);

/* An integer as text into buf (at least 21 bytes), no NUL; returns the
 * length. */
size_t hd_num_format_i64(char *buf, int64_t v);
/* A finite double as text into buf[0..size - 3), no NUL: `digits`
 * significant digits, or (0) the shortest of 15, 16 and 17 that reads back
 * as the same double (checked with strtod_l in `loc`, hd_c_locale()).
 * Integral-looking text gets ".0" ("3.0"), so it reads back as a float.
 * Returns the length. */
size_t hd_num_format_f64(char *buf, size_t size, double v, int digits, locale_t loc);
/* The same for a float: the shortest of 6 to 9 digits. */
size_t hd_num_format_f32(char *buf, size_t size, float v, int digits, locale_t loc);

/* ---- text for messages, logs and JSON ----------------------------------- */

/* Room for any one number these functions write. */
typedef struct hd_num_text {
    char s[64];
} hd_num_text;

/* `v` formatted by `fmt`, one printf floating conversion ("%g", "%.6g",
 * "%.3f"...), with '.' whatever the thread's LC_NUMERIC: for messages and
 * log records.  Returns t->s. */
const char *hd_num_fmt(hd_num_text *t, const char *fmt, double v);

/* A JSON number: the shortest of 15, 16 and 17 significant digits that
 * reads back as exactly `v` ("0.2", "3", "1e-05"); "null" when v is not
 * finite (JSON has no NaN).  Returns t->s. */
const char *hd_num_json(hd_num_text *t, double v);

/* The same in an expression: a buffer that lives until the end of the
 * enclosing block, e.g. hd_error(..., "x is %s", HD_NUMF("%g", x)). */
#define HD_NUMF(fmt, v) hd_num_fmt(&(hd_num_text){{0}}, (fmt), (v))
#define HD_NUM_JSON(v) hd_num_json(&(hd_num_text){{0}}, (v))

#endif
