/* number.c -- numbers as text, whatever the locale (number_internal.h).
 *
 * Moved from csv.c, where it was written for CSV's tens of millions of
 * fields: the lexer and the decimal parser read eight digits at a time.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* strtod_l, strtof_l, newlocale */
#endif

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"

/* ------------------------------------------------------------------------
 * The "C" locale, created once for the process.  It is immutable after
 * creation, so sharing it between threads needs no lock.
 * --------------------------------------------------------------------- */

static pthread_once_t hd_c_locale_once = PTHREAD_ONCE_INIT;
static locale_t hd_c_locale_obj;

static void hd_c_locale_create(void)
{
    hd_c_locale_obj = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The C locale, or (locale_t)0 with HERD_ENOMEM recorded. */
locale_t hd_c_locale(void)
{
    pthread_once(&hd_c_locale_once, hd_c_locale_create);
    if (hd_c_locale_obj == (locale_t)0) hd_oom();
    return hd_c_locale_obj;
}

/* ------------------------------------------------------------------------
 * Numbers
 * --------------------------------------------------------------------- */

static inline int is_digit(char c)
{
    return (unsigned)(c - '0') < 10u;
}

/* Eight digits at a time (numbers in CSV files are mostly digits): load the
 * 8 bytes at s into *w and tell whether they are all ASCII digits. */
static inline int digits8(const char *s, uint64_t *w)
{
    memcpy(w, s, 8);
    return ((*w & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
            (((*w + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) ==
           UINT64_C(0x3333333333333333);
}

/* The value of the 8 digits loaded by digits8 (first digit most
 * significant), in three multiplies. */
static inline uint32_t value8(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t mask = UINT64_C(0x000000FF000000FF);
    w -= UINT64_C(0x3030303030303030);
    w = w * 10 + (w >> 8); /* pairs of digits */
    w = ((w & mask) * (100 + (UINT64_C(1000000) << 32)) +
         ((w >> 16) & mask) * (1 + (UINT64_C(10000) << 32))) >> 32;
    return (uint32_t)w;
#else
    unsigned char b[8];
    uint32_t v = 0;
    memcpy(b, &w, 8);
    for (int i = 0; i < 8; i++) v = v * 10 + (uint32_t)(b[i] - '0');
    return v;
#endif
}

/* Numbers may be surrounded by ASCII spaces ("  12 "), as spreadsheets and
 * fixed-width exports write them: callers that accept them trim first (the
 * CSV reader only when its options say so). */
void hd_num_trim(const char **s, size_t *len)
{
    const char *p = *s, *e = p + *len;
    while (p < e && *p == ' ') p++;
    while (e > p && e[-1] == ' ') e--;
    *s = p;
    *len = (size_t)(e - p);
}

/* Whether s[0..len) is `word` (lower case) in any case. */
static int word_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != word[i]) return 0;
    return 1;
}

#define DEC_NAN 1
#define DEC_INF 2

/* nan, inf or infinity in any case (after the sign), else 0. */
static int lex_special(const char *s, size_t len)
{
    if (word_is(s, len, "nan")) return DEC_NAN;
    if (word_is(s, len, "inf") || word_is(s, len, "infinity")) return DEC_INF;
    return 0;
}

/* Classify a non-empty field: HD_NUM_INT (with *ival), HD_NUM_INT_BIG (an integer
 * beyond int64), HD_NUM_FLOAT, or HD_NUM_TEXT.  The grammar is strtod's decimal
 * one without hex floats and nan(...): [+-] digits [. digits] [e [+-] digits],
 * or nan/inf/infinity. */
int hd_num_lex(const char *s, size_t len, int64_t *ival)
{
    const char *e = s + len;
    int neg = 0;
    if (s < e && (*s == '+' || *s == '-')) neg = *s++ == '-';
    if (s == e) return HD_NUM_TEXT;
    if (!is_digit(*s) && *s != '.') return lex_special(s, (size_t)(e - s)) ? HD_NUM_FLOAT : HD_NUM_TEXT;
    const char *d0 = s;
    uint64_t u = 0, w;
    int big = 0;
    /* 19 digits always fit a uint64; past them, check each step. */
    while (e - s >= 8 && s - d0 <= 11 && digits8(s, &w)) {
        u = u * 100000000 + value8(w);
        s += 8;
    }
    for (const char *safe = e - d0 > 19 ? d0 + 19 : e; s < safe && is_digit(*s); s++)
        u = u * 10 + (unsigned)(*s - '0');
    for (; s < e && is_digit(*s); s++) {
        if (__builtin_mul_overflow(u, 10, &u)) big = 1;
        if (__builtin_add_overflow(u, (unsigned)(*s - '0'), &u)) big = 1;
    }
    size_t nint = (size_t)(s - d0);
    if (s == e) {
        if (big || u > (uint64_t)INT64_MAX + (uint64_t)neg) return HD_NUM_INT_BIG;
        if (!neg) *ival = (int64_t)u;
        else *ival = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        return HD_NUM_INT;
    }
    size_t nfrac = 0;
    if (*s == '.') {
        const char *f0 = ++s;
        while (e - s >= 8 && digits8(s, &w)) s += 8;
        while (s < e && is_digit(*s)) s++;
        nfrac = (size_t)(s - f0);
    }
    if (nint + nfrac == 0) return HD_NUM_TEXT;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-')) s++;
        const char *x0 = s;
        while (s < e && is_digit(*s)) s++;
        if (s == x0) return HD_NUM_TEXT;
    }
    return s == e ? HD_NUM_FLOAT : HD_NUM_TEXT;
}

/* A decimal number split as (-1)^neg * mant * 10^exp10. */
typedef struct hd_decimal {
    uint64_t mant;  /* the first 19 significant digits */
    int64_t exp10;
    int neg;
    int inexact;    /* nonzero digits beyond the 19th were dropped */
    int special;    /* DEC_NAN, DEC_INF or 0 */
} hd_decimal;

/* Split a trimmed number (hd_num_lex's grammar).  -1 if it is not one. */
static int dec_parse(const char *s, size_t len, hd_decimal *d)
{
    const char *e = s + len;
    memset(d, 0, sizeof *d);
    if (s < e && (*s == '+' || *s == '-')) d->neg = *s++ == '-';
    if (s == e) return -1;
    if (!is_digit(*s) && *s != '.') {
        d->special = lex_special(s, (size_t)(e - s));
        return d->special ? 0 : -1;
    }
    /* Leading zeros are not significant digits; 19 significant digits
     * always fit the uint64 mantissa. */
    const char *d0 = s;
    int ndig = 0;
    uint64_t w;
    while (s < e && *s == '0') s++;
    for (; e - s >= 8 && ndig <= 11 && digits8(s, &w); s += 8, ndig += 8)
        d->mant = d->mant * 100000000 + value8(w);
    for (; s < e && is_digit(*s); s++) {
        if (ndig < 19) {
            d->mant = d->mant * 10 + (unsigned)(*s - '0');
            ndig++;
        } else {
            d->exp10++;
            d->inexact |= *s != '0';
        }
    }
    int seen = s > d0;
    if (s < e && *s == '.') {
        const char *f0 = ++s;
        if (ndig == 0)
            for (; s < e && *s == '0'; s++) d->exp10--;
        for (; e - s >= 8 && ndig <= 11 && digits8(s, &w); s += 8, ndig += 8) {
            d->mant = d->mant * 100000000 + value8(w);
            d->exp10 -= 8;
        }
        for (; s < e && is_digit(*s); s++) {
            if (ndig < 19) {
                d->mant = d->mant * 10 + (unsigned)(*s - '0');
                ndig++;
                d->exp10--;
            } else {
                d->inexact |= *s != '0';
            }
        }
        seen |= s > f0;
    }
    if (!seen) return -1;
    if (s < e && (*s == 'e' || *s == 'E')) {
        int xneg = 0;
        int64_t x = 0;
        s++;
        if (s < e && (*s == '+' || *s == '-')) xneg = *s++ == '-';
        if (s == e || !is_digit(*s)) return -1;
        for (; s < e && is_digit(*s); s++)
            if (x < 100000) x = x * 10 + (*s - '0'); /* far beyond any double */
        d->exp10 += xneg ? -x : x;
    }
    return s == e ? 0 : -1;
}

/* Powers of ten that doubles and floats hold exactly. */
static const double hd_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float hd_pow10f[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* Clinger's fast path needs arithmetic in the type's own precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#  define HD_FAST_FLOAT 1
#else
#  define HD_FAST_FLOAT 0
#endif

/* strtod_l / strtof_l on a NUL-terminated copy of s[0..len): the slow,
 * always-correct path.  -1 if the text is not all consumed. */
static int slow_parse(const char *s, size_t len, int is_float, double *out)
{
    char stack[128];
    locale_t loc = hd_c_locale();
    if (loc == (locale_t)0) return HERD_ENOMEM;
    char *buf = len < sizeof stack ? stack : hd_malloc(len + 1, 1);
    if (!buf) return HERD_ENOMEM;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *out = is_float ? (double)strtof_l(buf, &end, loc) : strtod_l(buf, &end, loc);
    int rc = end == buf + len ? 0 : -1;
    if (buf != stack) free(buf);
    return rc;
}

/* Where a correctly rounded, finite decimal landed: beyond the type's
 * largest finite value (rounded to infinity), or nonzero but below half its
 * smallest subnormal (rounded to zero).  Subnormal results are in range:
 * they are the nearest representable values. */
static int range_of(const hd_decimal *d, double v)
{
    if (d->mant == 0) return HD_NUM_IN_RANGE; /* 0, 0e999 and -0 are exact */
    if (isinf(v)) return HD_NUM_OVERFLOW;
    if (v == 0) return HD_NUM_UNDERFLOW;
    return HD_NUM_IN_RANGE;
}

int hd_num_parse_f64(const char *s, size_t len, double *out, int *range)
{
    hd_decimal d;
    *range = HD_NUM_IN_RANGE;
    if (dec_parse(s, len, &d)) return -1;
    if (d.special) {
        *out = d.special == DEC_NAN ? NAN : (d.neg ? -INFINITY : INFINITY);
        return 0;
    }
    /* Clinger: when the digits fit a double's 53-bit mantissa exactly and
     * the power of ten is exact too, one IEEE multiply or divide is
     * correctly rounded.  This covers nearly every value in real files. */
    if (HD_FAST_FLOAT && !d.inexact && d.mant <= (UINT64_C(1) << 53) && d.exp10 >= -22 &&
        d.exp10 <= 22) {
        double v = (double)d.mant;
        v = d.exp10 < 0 ? v / hd_pow10[-d.exp10] : v * hd_pow10[d.exp10];
        *out = d.neg ? -v : v;
        return 0;
    }
    int rc = slow_parse(s, len, 0, out);
    if (rc == 0) *range = range_of(&d, *out);
    return rc;
}

/* Text to float, correctly rounded (parsing to double first and rounding
 * again would round twice). */
int hd_num_parse_f32(const char *s, size_t len, float *out, int *range)
{
    hd_decimal d;
    *range = HD_NUM_IN_RANGE;
    if (dec_parse(s, len, &d)) return -1;
    if (d.special) {
        *out = d.special == DEC_NAN ? NAN : (d.neg ? -INFINITY : INFINITY);
        return 0;
    }
    if (HD_FAST_FLOAT && !d.inexact && d.mant <= (UINT64_C(1) << 24) && d.exp10 >= -10 &&
        d.exp10 <= 10) {
        float v = (float)d.mant;
        v = d.exp10 < 0 ? v / hd_pow10f[-d.exp10] : v * hd_pow10f[d.exp10];
        *out = d.neg ? -v : v;
        return 0;
    }
    double v;
    int rc = slow_parse(s, len, 1, &v);
    if (rc) return rc;
    *out = (float)v;
    *range = range_of(&d, v);
    return 0;
}

size_t hd_num_format_i64(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0, o = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[o++] = '-';
    while (n) buf[o++] = tmp[--n];
    return o;
}

/* Make integral-looking float text ("3", "-0") look like a float ("3.0"),
 * so the column reads back as float, not int64. */
static size_t float_suffix(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != '-' && !is_digit(buf[i])) return n;
    memcpy(buf + n, ".0", 3);
    return n + 2;
}

/* A finite double as text: `digits` significant digits, or (0) the
 * shortest of 15, 16 and 17 that reads back as the same double. */
size_t hd_num_format_f64(char *buf, size_t size, double v, int digits, locale_t loc)
{
    int n = 0;
    if (digits) {
        n = snprintf(buf, size, "%.*g", digits, v);
    } else {
        for (int d = 15; d <= 17; d++) {
            n = snprintf(buf, size, "%.*g", d, v);
            if (strtod_l(buf, NULL, loc) == v) break;
        }
    }
    return float_suffix(buf, (size_t)n);
}

size_t hd_num_format_f32(char *buf, size_t size, float v, int digits, locale_t loc)
{
    int n = 0;
    if (digits) {
        n = snprintf(buf, size, "%.*g", digits, (double)v);
    } else {
        for (int d = 6; d <= 9; d++) {
            n = snprintf(buf, size, "%.*g", d, (double)v);
            if (strtof_l(buf, NULL, loc) == v) break;
        }
    }
    return float_suffix(buf, (size_t)n);
}

/* ---- text for messages, logs and JSON ------------------------------------ */

/* snprintf in the "C" locale: the thread is switched for the call only
 * (uselocale is per thread and cheap).  Without a "C" locale (out of
 * memory at its creation) the thread's decimal separator is replaced. */
static void hd_num_vprint(char *buf, size_t size, const char *fmt, double v)
{
    locale_t c = hd_c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0;
#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    snprintf(buf, size, fmt, v);
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif
    if (c) {
        uselocale(old);
        return;
    }
    char point = localeconv()->decimal_point[0];
    for (char *p = buf; point != '.' && *p; p++)
        if (*p == point) *p = '.';
}

const char *hd_num_fmt(hd_num_text *t, const char *fmt, double v)
{
    hd_num_vprint(t->s, sizeof t->s, fmt, v);
    return t->s;
}

const char *hd_num_json(hd_num_text *t, double v)
{
    if (!isfinite(v)) {
        snprintf(t->s, sizeof t->s, "null");
        return t->s;
    }
    for (int prec = 15; prec <= 17; prec++) {
        char fmt[8];
        snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        hd_num_vprint(t->s, sizeof t->s, fmt, v);
        double back = 0;
        int range;
        if (hd_num_parse_f64(t->s, strlen(t->s), &back, &range) == 0 && back == v) break;
    }
    return t->s;
}
