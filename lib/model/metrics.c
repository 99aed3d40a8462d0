/* metrics.c -- every metric herd reports, and the per-row losses that the
 * champion/challenger bootstrap resamples.
 *
 * A metric name is parsed once into an hd_metric.  Evaluating it then:
 *   1. checks the inputs -- shape, finiteness, weights, and the metric's
 *      label and prediction domains -- and names the first bad row;
 *   2. for a metric that is a weighted mean of per-row losses (all but auc,
 *      r2 and wape) sums weight * loss through row_loss(), the same function
 *      hd_metric_row_losses() uses, so the metric and its row losses cannot
 *      drift apart;
 *   3. for auc, r2 and wape, runs their own formula.
 * Every sum is compensated (Neumaier), so a million rows lose no more
 * accuracy than a handful.
 *
 * Parameters ("@1.5") are read and written by a small decimal reader of our
 * own instead of strtod() and printf("%g"): those follow LC_NUMERIC, and a
 * host that set a German locale would otherwise see "tweedie-deviance@1.5"
 * rejected and the canonical name come out as "tweedie-deviance@1,5".
 *
 * Nothing here has mutable static state; every function is safe to call
 * from any thread. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/text_internal.h"
#include "model/metrics_internal.h"

/* Probabilities are clipped to [PROB_EPS, 1 - PROB_EPS] before taking logs,
 * so that a confident wrong prediction costs -log(1e-15) ~ 34.5 rather than
 * infinity.  XGBoost clips at 1e-16 (in float); 1e-15 is scikit-learn's
 * historical choice.  The two differ only for predictions of exactly 0 or 1. */
#define PROB_EPS 1e-15

/* ------------------------------------------------------------------------
 * Compensated summation
 * --------------------------------------------------------------------- */

/* Neumaier's variant of Kahan summation: the error of a sum of n terms is
 * bounded independently of n (for terms of one sign, as here, within an ulp
 * or two).  Plain double rather than long double, which is only double on
 * some targets and slow software quad on others.  It relies on strict IEEE
 * evaluation: never build this file with -ffast-math. */
typedef struct ksum {
    double sum;
    double comp; /* the low-order bits the running sum has lost */
} ksum;

static void ksum_add(ksum *k, double x)
{
    double t = k->sum + x;
    if (fabs(k->sum) >= fabs(x))
        k->comp += (k->sum - t) + x;
    else
        k->comp += (x - t) + k->sum;
    k->sum = t;
}

static double ksum_value(const ksum *k)
{
    /* Once the sum overflows, the compensation is inf - inf = NaN. */
    return isfinite(k->sum) ? k->sum + k->comp : k->sum;
}

/* ------------------------------------------------------------------------
 * Decimal parameters, independent of the locale
 * --------------------------------------------------------------------- */

/* A decimal as written: (neg ? -1 : 1) * mant * 10^exp10, normalized so
 * that mant has no trailing zeros (and exp10 = 0 when mant = 0).  At most
 * DEC_MAX_DIGITS significant digits and |exp10| <= DEC_MAX_EXP: then mant
 * and 10^|exp10| are exact doubles and one multiplication or division
 * rounds correctly (Clinger's fast path), and distinct decimals are
 * distinct doubles (DBL_DIG is 15), so the canonical name is a function of
 * the value. */
typedef struct decimal {
    uint64_t mant;
    int exp10;
    int neg;
} decimal;

#define DEC_MAX_DIGITS 15
#define DEC_MAX_EXP 22

static const double dec_pow10[DEC_MAX_EXP + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int dec_is_digit(char c)
{
    return c >= '0' && c <= '9'; /* isdigit() would consult the locale */
}

/* Append one digit to d->mant.  Returns 1 when the digit is held (leading
 * zeros count as held: they leave mant at 0), 0 when it is a zero beyond
 * the precision that only shifts the exponent, -1 when it is a non-zero
 * digit beyond the precision. */
static int dec_push(decimal *d, int *sig, int digit)
{
    if (d->mant == 0 && digit == 0) return 1;
    if (*sig < DEC_MAX_DIGITS) {
        d->mant = d->mant * 10 + (uint64_t)digit;
        (*sig)++;
        return 1;
    }
    return digit == 0 ? 0 : -1;
}

/* Read the exponent of "1.5e-3" from s (just past the 'e').  Returns the
 * end, or NULL when no digit follows. */
static const char *dec_parse_exponent(const char *s, long *exp)
{
    int neg = 0;
    long e = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (!dec_is_digit(*s)) return NULL;
    for (; dec_is_digit(*s); s++)
        if (e < 100000) e = e * 10 + (*s - '0'); /* past that, out of range anyway */
    *exp = neg ? -e : e;
    return s;
}

/* Parse the whole of s as [+-]digits[.digits][(e|E)[+-]digits] with at
 * least one mantissa digit.  Returns 1 and *out on success, 0 if s is not
 * such a number or needs more digits or exponent than a decimal holds. */
static int dec_parse(const char *s, decimal *out)
{
    decimal d = {0, 0, 0};
    int sig = 0, any = 0;
    long exp10 = 0;

    if (*s == '+' || *s == '-') d.neg = *s++ == '-';
    for (; dec_is_digit(*s); s++, any = 1) {
        int r = dec_push(&d, &sig, *s - '0');
        if (r < 0) return 0;
        if (r == 0) exp10++;
    }
    if (*s == '.') {
        for (s++; dec_is_digit(*s); s++, any = 1) {
            int r = dec_push(&d, &sig, *s - '0');
            if (r < 0) return 0;
            if (r > 0) exp10--;
        }
    }
    if (!any) return 0;
    if (*s == 'e' || *s == 'E') {
        long e;
        s = dec_parse_exponent(s + 1, &e);
        if (!s) return 0;
        exp10 += e;
    }
    if (*s != '\0') return 0;

    if (d.mant == 0) {
        *out = (decimal){0, 0, 0};
        return 1;
    }
    while (d.mant % 10 == 0) {
        d.mant /= 10;
        exp10++;
    }
    if (exp10 < -DEC_MAX_EXP || exp10 > DEC_MAX_EXP) return 0;
    d.exp10 = (int)exp10;
    *out = d;
    return 1;
}

static double dec_value(const decimal *d)
{
    double v = (double)d->mant; /* exact: mant < 10^15 < 2^53 */
    v = d->exp10 >= 0 ? v * dec_pow10[d->exp10] : v / dec_pow10[-d->exp10];
    return d->neg ? -v : v;
}

static int dec_equal(const decimal *a, const decimal *b)
{
    return a->mant == b->mant && a->exp10 == b->exp10 && a->neg == b->neg;
}

/* Write d in plain positional notation ("1.5", "0.05", "20"): the shortest
 * spelling that reads back as d.  At most 1 + 15 + 22 bytes plus the NUL,
 * so a buffer of DEC_TEXT_MAX always suffices.  Built by hand rather than
 * with printf, which would need a double and the locale's decimal point. */
#define DEC_TEXT_MAX 48

static void dec_put(char *buf, size_t size, size_t *o, char c)
{
    if (*o + 1 < size) buf[(*o)++] = c;
}

static void dec_format(const decimal *d, char *buf, size_t size)
{
    char digits[20]; /* of mant, most significant first; 2^64 has 20 */
    int len = 0;
    uint64_t v = d->mant;
    do {
        digits[len++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (int i = 0; i < len / 2; i++) {
        char t = digits[i];
        digits[i] = digits[len - 1 - i];
        digits[len - 1 - i] = t;
    }

    size_t o = 0;
    int int_len = len + d->exp10; /* digits before the point */
    if (d->neg) dec_put(buf, size, &o, '-');
    if (int_len <= 0) {
        dec_put(buf, size, &o, '0');
        dec_put(buf, size, &o, '.');
        for (int i = int_len; i < 0; i++) dec_put(buf, size, &o, '0');
        for (int i = 0; i < len; i++) dec_put(buf, size, &o, digits[i]);
    } else {
        for (int i = 0; i < int_len; i++) dec_put(buf, size, &o, i < len ? digits[i] : '0');
        if (len > int_len) dec_put(buf, size, &o, '.');
        for (int i = int_len; i < len; i++) dec_put(buf, size, &o, digits[i]);
    }
    if (size) buf[o] = '\0';
}

/* ------------------------------------------------------------------------
 * The metric table
 * --------------------------------------------------------------------- */

enum metric_id {
    M_RMSE = 1,
    M_MAE,
    M_WAPE,
    M_MAPE,
    M_R2,
    M_POISSON,
    M_TWEEDIE,
    M_LOGLOSS,
    M_AUC,
    M_ERROR,
    M_MLOGLOSS,
    M_MERROR
};

typedef struct metric_info {
    const char *name;
    int id;
    int kind;             /* hd_metric_kind */
    int higher_is_better;
    int row_loss;         /* a (weighted) mean of per-row losses */
    char param_symbol;    /* 'P', 'T', or 0 for a metric without "@..." */
    decimal param_default;
    /* Whether the canonical name shows the parameter even at its default.
     * As XGBoost names its own metrics: "tweedie-nloglik@1.5" always, but
     * "error" for the default threshold and "error@0.3" otherwise.  So
     * "error" and "error@0.5" both canonicalize to "error", and
     * "tweedie-deviance" to "tweedie-deviance@1.5". */
    int param_always_named;
} metric_info;

static const metric_info metric_table[] = {
    {"rmse", M_RMSE, HD_METRIC_REGRESSION, 0, 1, 0, {0, 0, 0}, 0},
    {"mae", M_MAE, HD_METRIC_REGRESSION, 0, 1, 0, {0, 0, 0}, 0},
    {"wape", M_WAPE, HD_METRIC_REGRESSION, 0, 0, 0, {0, 0, 0}, 0},
    {"mape", M_MAPE, HD_METRIC_REGRESSION, 0, 1, 0, {0, 0, 0}, 0},
    {"r2", M_R2, HD_METRIC_REGRESSION, 1, 0, 0, {0, 0, 0}, 0},
    {"poisson-deviance", M_POISSON, HD_METRIC_REGRESSION, 0, 1, 0, {0, 0, 0}, 0},
    {"tweedie-deviance", M_TWEEDIE, HD_METRIC_REGRESSION, 0, 1, 'P', {15, -1, 0}, 1},
    {"logloss", M_LOGLOSS, HD_METRIC_BINARY, 0, 1, 0, {0, 0, 0}, 0},
    {"auc", M_AUC, HD_METRIC_BINARY, 1, 0, 0, {0, 0, 0}, 0},
    {"error", M_ERROR, HD_METRIC_BINARY, 0, 1, 'T', {5, -1, 0}, 0},
    {"mlogloss", M_MLOGLOSS, HD_METRIC_MULTICLASS, 0, 1, 0, {0, 0, 0}, 0},
    {"merror", M_MERROR, HD_METRIC_MULTICLASS, 0, 1, 0, {0, 0, 0}, 0},
};

#define METRIC_COUNT (sizeof metric_table / sizeof metric_table[0])

static const metric_info *metric_by_name(const char *name, size_t len)
{
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        const metric_info *mi = &metric_table[i];
        if (strlen(mi->name) == len && memcmp(mi->name, name, len) == 0) return mi;
    }
    return NULL;
}

static const metric_info *metric_by_id(int id)
{
    for (size_t i = 0; i < METRIC_COUNT; i++)
        if (metric_table[i].id == id) return &metric_table[i];
    return NULL;
}

/* "rmse, mae, ..., tweedie-deviance[@P], ..." for messages. */
static const char *metric_names(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < METRIC_COUNT && o < size; i++) {
        const metric_info *mi = &metric_table[i];
        int w = mi->param_symbol
                    ? snprintf(buf + o, size - o, "%s%s[@%c]", i ? ", " : "", mi->name,
                               mi->param_symbol)
                    : snprintf(buf + o, size - o, "%s%s", i ? ", " : "", mi->name);
        if (w < 0) break;
        o += (size_t)w;
    }
    return buf;
}

/* The range each parameter must lie in: the tweedie power strictly between
 * 1 (Poisson) and 2 (gamma), where the compound Poisson-gamma deviance
 * below holds; the threshold within the probabilities. */
static int param_in_range(int id, double v)
{
    switch (id) {
    case M_TWEEDIE: return v > 1.0 && v < 2.0;
    case M_ERROR: return v >= 0.0 && v <= 1.0;
    default: return 1;
    }
}

/* param_in_range, with a message naming `text`, the parameter as written. */
static int param_check(const metric_info *mi, const char *text, double v)
{
    char q[80];
    if (param_in_range(mi->id, v)) return HERD_OK;
    switch (mi->id) {
    case M_TWEEDIE:
        return hd_error(HERD_EINVAL,
                        "metric tweedie-deviance: variance power %s is out of range; it must "
                        "be strictly between 1 and 2 (use poisson-deviance for 1)",
                        hd_quote(text, strlen(text), q, sizeof q));
    case M_ERROR:
    default:
        return hd_error(HERD_EINVAL,
                        "metric error: threshold %s is out of range; predictions are "
                        "probabilities, so it must be between 0 and 1",
                        hd_quote(text, strlen(text), q, sizeof q));
    }
}

/* Read the "@..." of a metric that takes a parameter. */
static int param_parse(const metric_info *mi, const char *text, decimal *out)
{
    if (!dec_parse(text, out)) {
        char q[80], example[DEC_TEXT_MAX];
        dec_format(&mi->param_default, example, sizeof example);
        return hd_error(HERD_EINVAL,
                        "metric %s: parameter %s is not a plain decimal number; write "
                        "%s@%c with %c like %s (digits, one '.', an optional exponent, "
                        "at most %d significant digits, no spaces)",
                        mi->name, hd_quote(text, strlen(text), q, sizeof q), mi->name,
                        mi->param_symbol, mi->param_symbol, example, DEC_MAX_DIGITS);
    }
    return param_check(mi, text, dec_value(out));
}

/* The canonical name.  param_check has bounded the parameter (at most
 * "0." and 22 digits), so it always fits hd_metric.name; the check only
 * keeps that promise explicit should a wider parameter range ever come. */
static int canonical_name(const metric_info *mi, const decimal *param, char *buf, size_t size)
{
    char text[DEC_TEXT_MAX] = "";
    int named = mi->param_symbol &&
                (mi->param_always_named || !dec_equal(param, &mi->param_default));
    if (named) dec_format(param, text, sizeof text);
    int w = snprintf(buf, size, "%s%s%s", mi->name, named ? "@" : "", text);
    if (w < 0 || (size_t)w >= size)
        return hd_error(HERD_EINTERNAL, "metric %s: canonical name %s@%s is too long",
                        mi->name, mi->name, text);
    return HERD_OK;
}

int hd_metric_parse(const char *name, hd_metric *out)
{
    HD_CHECK_NOT_NULL(name);
    HD_CHECK_NOT_NULL(out);

    const char *at = strchr(name, '@');
    size_t base_len = at ? (size_t)(at - name) : strlen(name);
    const metric_info *mi = metric_by_name(name, base_len);
    char q[80];
    if (!mi) {
        char known[256];
        return hd_error(HERD_EINVAL, "unknown metric %s; known metrics: %s",
                        hd_quote(name, strlen(name), q, sizeof q),
                        metric_names(known, sizeof known));
    }

    decimal param = mi->param_default;
    if (at) {
        if (!mi->param_symbol)
            return hd_error(HERD_EINVAL, "metric %s takes no parameter: remove %s",
                            mi->name, hd_quote(at, strlen(at), q, sizeof q));
        int prc = param_parse(mi, at + 1, &param);
        if (prc != HERD_OK) return prc;
    }

    hd_metric m;
    memset(&m, 0, sizeof m);
    m.id = mi->id;
    m.param = mi->param_symbol ? dec_value(&param) : 0.0;
    m.kind = mi->kind;
    m.higher_is_better = mi->higher_is_better;
    int rc = canonical_name(mi, &param, m.name, sizeof m.name);
    if (rc != HERD_OK) return rc;
    *out = m;
    return HERD_OK;
}

/* The table entry of a parsed metric, or an error for a struct that
 * hd_metric_parse did not fill (a caller bug, but cheap to catch). */
static int metric_resolve(const hd_metric *m, const metric_info **out)
{
    const metric_info *mi = metric_by_id(m->id);
    if (!mi)
        return hd_error(HERD_EINVAL, "metric id %d is unknown: hd_metric must come from "
                        "hd_metric_parse", m->id);
    if (!param_in_range(mi->id, m->param))
        return hd_error(HERD_EINVAL, "metric %s: parameter %s is out of range", mi->name,
                        HD_NUMF("%g", m->param));
    *out = mi;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Input checks
 * --------------------------------------------------------------------- */

static double weight_at(const double *weight, size_t i)
{
    return weight ? weight[i] : 1.0;
}

/* Every value of x (n rows of `width` values) must be finite. */
static int check_finite(const hd_metric *m, const char *array, const double *x, size_t n,
                        size_t width)
{
    for (size_t i = 0; i < n * width; i++) {
        if (isfinite(x[i])) continue;
        if (width > 1)
            return hd_error(HERD_EINVAL,
                            "metric %s: %s[%zu] (row %zu, class %zu) is %s; labels, "
                            "predictions and weights must be finite numbers",
                            m->name, array, i, i / width, i % width, HD_NUMF("%g", x[i]));
        return hd_error(HERD_EINVAL,
                        "metric %s: %s[%zu] is %s; labels, predictions and weights must be "
                        "finite numbers",
                        m->name, array, i, HD_NUMF("%g", x[i]));
    }
    return HERD_OK;
}

static int check_weights(const hd_metric *m, const double *weight, size_t n)
{
    if (!weight) return HERD_OK;
    int rc = check_finite(m, "weight", weight, n, 1);
    if (rc != HERD_OK) return rc;

    ksum total = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (weight[i] < 0)
            return hd_error(HERD_EINVAL, "metric %s: weight[%zu] is %s; weights must be >= 0",
                            m->name, i, HD_NUMF("%g", weight[i]));
        ksum_add(&total, weight[i]);
    }
    double sum = ksum_value(&total);
    if (sum == 0)
        return hd_error(HERD_EINVAL,
                        "metric %s: every weight is 0; at least one row needs a positive "
                        "weight",
                        m->name);
    if (!isfinite(sum))
        return hd_error(HERD_EINVAL,
                        "metric %s: the weights sum to infinity; scale them down", m->name);
    return HERD_OK;
}

/* The label domain of each metric.  Binary labels may lie anywhere in
 * [0, 1], as XGBoost allows: a label is then the probability of the
 * positive class, and logloss, error and auc all generalize to it. */
static int check_labels(const hd_metric *m, const double *label, size_t n, size_t num_class)
{
    for (size_t i = 0; i < n; i++) {
        double y = label[i];
        switch (m->id) {
        case M_POISSON:
        case M_TWEEDIE:
            if (y < 0)
                return hd_error(HERD_EINVAL,
                                "metric %s: label[%zu] is %s; labels must be >= 0", m->name,
                                i, HD_NUMF("%g", y));
            break;
        case M_LOGLOSS:
        case M_AUC:
        case M_ERROR:
            if (y < 0 || y > 1)
                return hd_error(HERD_EINVAL,
                                "metric %s: label[%zu] is %s; binary labels must be 0 or 1 "
                                "(or a probability in between)",
                                m->name, i, HD_NUMF("%g", y));
            break;
        case M_MLOGLOSS:
        case M_MERROR:
            /* y < num_class in double: num_class may exceed 2^53 only in
             * theory, and then the comparison merely rounds. */
            if (!(y >= 0 && y < (double)num_class && y == floor(y)))
                return hd_error(HERD_EINVAL,
                                "metric %s: label[%zu] is %s; multiclass labels must be "
                                "integers from 0 to num_class - 1 = %zu",
                                m->name, i, HD_NUMF("%g", y), num_class - 1);
            break;
        default:
            break;
        }
    }
    return HERD_OK;
}

/* Deviances need a positive mean; the probability metrics need
 * probabilities, which also catches raw margins passed by mistake.  auc
 * ranks, so any score will do. */
static int check_preds(const hd_metric *m, const double *pred, size_t n, size_t width)
{
    for (size_t i = 0; i < n * width; i++) {
        double p = pred[i];
        switch (m->id) {
        case M_POISSON:
        case M_TWEEDIE:
            if (!(p > 0))
                return hd_error(HERD_EINVAL,
                                "metric %s: pred[%zu] is %s; predicted means must be > 0",
                                m->name, i, HD_NUMF("%g", p));
            break;
        case M_LOGLOSS:
        case M_ERROR:
        case M_MLOGLOSS:
        case M_MERROR:
            if (p < 0 || p > 1) {
                if (width > 1)
                    return hd_error(HERD_EINVAL,
                                    "metric %s: pred[%zu] (row %zu, class %zu) is %s; "
                                    "predictions must be probabilities in [0, 1], not "
                                    "margins",
                                    m->name, i, i / width, i % width, HD_NUMF("%g", p));
                return hd_error(HERD_EINVAL,
                                "metric %s: pred[%zu] is %s; predictions must be "
                                "probabilities in [0, 1], not margins",
                                m->name, i, HD_NUMF("%g", p));
            }
            break;
        default:
            break;
        }
    }
    return HERD_OK;
}

/* Check everything about the inputs; *width receives the number of
 * predictions per row (num_class for a multiclass metric, else 1). */
static int check_inputs(const hd_metric *m, const double *label, const double *pred,
                        const double *weight, size_t n, size_t num_class, size_t *width)
{
    if (n == 0)
        return hd_error(HERD_EINVAL, "metric %s: no rows (n is 0); it needs at least one",
                        m->name);
    *width = 1;
    if (m->kind == HD_METRIC_MULTICLASS) {
        if (num_class < 2)
            return hd_error(HERD_EINVAL,
                            "metric %s: num_class is %zu; a multiclass metric needs "
                            "num_class >= 2 and n * num_class predictions",
                            m->name, num_class);
        if (n > SIZE_MAX / num_class)
            return hd_error(HERD_EINVAL, "metric %s: n * num_class (%zu * %zu) overflows",
                            m->name, n, num_class);
        *width = num_class;
    }
    int rc;
    if ((rc = check_finite(m, "label", label, n, 1)) != HERD_OK) return rc;
    if ((rc = check_finite(m, "pred", pred, n, *width)) != HERD_OK) return rc;
    if ((rc = check_weights(m, weight, n)) != HERD_OK) return rc;
    if ((rc = check_labels(m, label, n, num_class)) != HERD_OK) return rc;
    return check_preds(m, pred, n, *width);
}

/* ------------------------------------------------------------------------
 * Per-row losses
 * --------------------------------------------------------------------- */

/* y * log(y / mu), which tends to 0 as y -> 0.  y / mu keeps the accuracy
 * of the ratio when y is close to mu (log(y) - log(mu) would cancel), but
 * can overflow or go subnormal at the extremes, where the difference of
 * logs is the better choice. */
static double y_log_y_over_mu(double y, double mu)
{
    if (y == 0) return 0.0;
    double r = y / mu;
    double l = (isfinite(r) && r >= DBL_MIN) ? log(r) : log(y) - log(mu);
    return y * l;
}

/* Unit deviances are >= 0 in exact arithmetic; when y is close to mu their
 * terms cancel and rounding can leave a tiny negative, which fmax removes. */
static double poisson_unit_deviance(double y, double mu)
{
    return fmax(2.0 * (y_log_y_over_mu(y, mu) - (y - mu)), 0.0);
}

/* 2 * (y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)).
 * At y = 0 only the last term remains; computing the middle one anyway
 * would give 0 * inf = NaN when mu^(1-p) overflows for a tiny mu. */
static double tweedie_unit_deviance(double y, double mu, double p)
{
    double a = 1.0 - p, b = 2.0 - p; /* a < 0 < b */
    double d = pow(mu, b) / b;
    if (y > 0) d += pow(y, b) / (a * b) - y * pow(mu, a) / a;
    return fmax(2.0 * d, 0.0);
}

static double binary_logloss(double y, double p)
{
    p = fmin(fmax(p, PROB_EPS), 1.0 - PROB_EPS);
    return -(y * log(p) + (1.0 - y) * log1p(-p));
}

/* The first class with the highest probability, as XGBoost's merror picks
 * it (max_element): a tie goes to the lower class. */
static size_t argmax(const double *p, size_t width)
{
    size_t best = 0;
    for (size_t k = 1; k < width; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

/* Row i's loss for a metric with row losses, on checked inputs.  NaN marks
 * a row the metric skips (mape's zero labels). */
static double row_loss(const hd_metric *m, const double *label, const double *pred, size_t i,
                       size_t width)
{
    double y = label[i];
    switch (m->id) {
    case M_RMSE: {
        double e = pred[i] - y;
        return e * e;
    }
    case M_MAE:
        return fabs(pred[i] - y);
    case M_MAPE:
        /* A fraction, as XGBoost reports it (0.25, not 25%). */
        return y == 0 ? NAN : fabs(pred[i] - y) / fabs(y);
    case M_POISSON:
        return poisson_unit_deviance(y, pred[i]);
    case M_TWEEDIE:
        return tweedie_unit_deviance(y, pred[i], m->param);
    case M_LOGLOSS:
        return binary_logloss(y, pred[i]);
    case M_ERROR:
        /* XGBoost's formula: the indicator for 0/1 labels, and the
         * expected error for a label that is a probability. */
        return pred[i] > m->param ? 1.0 - y : y;
    case M_MLOGLOSS:
        return -log(fmax(pred[i * width + (size_t)y], PROB_EPS));
    case M_MERROR:
        return argmax(pred + i * width, width) != (size_t)y ? 1.0 : 0.0;
    default:
        return NAN; /* unreachable: metric_resolve vetted the id */
    }
}

/* ------------------------------------------------------------------------
 * Evaluation
 * --------------------------------------------------------------------- */

/* The weighted mean of the row losses, skipping NaN losses. */
static int eval_mean_loss(const hd_metric *m, const double *label, const double *pred,
                          const double *weight, size_t n, size_t width, double *value,
                          size_t *n_skipped)
{
    ksum num = {0, 0}, den = {0, 0};
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        double loss = row_loss(m, label, pred, i, width);
        if (isnan(loss)) {
            skipped++;
            continue;
        }
        double w = weight_at(weight, i);
        if (w == 0) continue; /* also keeps 0 * inf (an overflowed loss) out */
        ksum_add(&num, w * loss);
        ksum_add(&den, w);
    }
    double total = ksum_value(&den);
    if (total == 0) {
        /* check_weights saw a positive weight, so rows were skipped. */
        if (skipped == n)
            return hd_error(HERD_EINVAL,
                            "metric %s: no row with a non-zero label (all %zu labels are 0); "
                            "mape divides by the label, so it skips zero labels",
                            m->name, n);
        return hd_error(HERD_EINVAL,
                        "metric %s: every row with a non-zero label has weight 0 (%zu rows "
                        "with a zero label were skipped)",
                        m->name, skipped);
    }
    *value = hd_metric_from_mean_loss(m, ksum_value(&num) / total);
    *n_skipped = skipped;
    return HERD_OK;
}

/* sum w |pred - label| / sum w |label|. */
static int eval_wape(const hd_metric *m, const double *label, const double *pred,
                     const double *weight, size_t n, double *value)
{
    ksum num = {0, 0}, den = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double w = weight_at(weight, i);
        if (w == 0) continue;
        ksum_add(&num, w * fabs(pred[i] - label[i]));
        ksum_add(&den, w * fabs(label[i]));
    }
    double d = ksum_value(&den);
    if (d == 0)
        return hd_error(HERD_EINVAL,
                        "metric %s: no row with a non-zero label (and a positive weight); "
                        "wape = sum |error| / sum |label| is undefined",
                        m->name);
    *value = ksum_value(&num) / d;
    return HERD_OK;
}

/* Whether the rows with a positive weight have at least two distinct
 * labels.  Tested exactly rather than through SST > 0: the weighted mean of
 * constant labels can be off by an ulp, leaving a tiny SST and a huge
 * meaningless r2. */
static int labels_vary(const double *label, const double *weight, size_t n, double *first)
{
    size_t i = 0;
    while (i < n && weight_at(weight, i) == 0) i++;
    *first = label[i]; /* some weight is positive, so i < n */
    for (size_t j = i + 1; j < n; j++)
        if (weight_at(weight, j) > 0 && label[j] != label[i]) return 1;
    return 0;
}

/* 1 - SSE / SST, both weighted, SST about the weighted mean label. */
static int eval_r2(const hd_metric *m, const double *label, const double *pred,
                   const double *weight, size_t n, double *value)
{
    double first;
    if (!labels_vary(label, weight, n, &first))
        return hd_error(HERD_EINVAL,
                        "metric %s: every label is %s; r2 = 1 - SSE/SST is undefined when "
                        "the labels do not vary (SST = 0): use rmse or mae",
                        m->name, HD_NUMF("%g", first));

    ksum wy = {0, 0}, wsum = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double w = weight_at(weight, i);
        ksum_add(&wy, w * label[i]);
        ksum_add(&wsum, w);
    }
    double mean = ksum_value(&wy) / ksum_value(&wsum);

    ksum sse = {0, 0}, sst = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double w = weight_at(weight, i);
        if (w == 0) continue;
        double e = pred[i] - label[i], d = label[i] - mean;
        ksum_add(&sse, w * e * e);
        ksum_add(&sst, w * d * d);
    }
    double t = ksum_value(&sst);
    if (!(t > 0) || !isfinite(t))
        return hd_error(HERD_EINVAL,
                        "metric %s: the label variance %s double precision, so r2 cannot "
                        "be computed; rescale the labels",
                        m->name, t > 0 ? "overflows" : "underflows");
    *value = 1.0 - ksum_value(&sse) / t;
    return HERD_OK;
}

/* A row of the AUC computation: its score and its share of the positive
 * and negative weight. */
typedef struct auc_row {
    double score;
    double pos;
    double neg;
} auc_row;

static int auc_row_cmp(const void *a, const void *b)
{
    double x = ((const auc_row *)a)->score, y = ((const auc_row *)b)->score;
    return (x > y) - (x < y);
}

/* The probability that a random positive scores above a random negative,
 * a tie counting one half, each drawn with probability proportional to its
 * weight (a label y in (0, 1) counts as y positive and 1 - y negative, as in
 * XGBoost).  Sorting by score, a block of tied rows with positive mass P_t
 * and negative mass N_t contributes P_t * (negatives below) + P_t * N_t / 2.
 * O(n log n) time and 24 bytes per row. */
static int eval_auc(const hd_metric *m, const double *label, const double *pred,
                    const double *weight, size_t n, double *value)
{
    ksum pos = {0, 0}, neg = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double w = weight_at(weight, i);
        ksum_add(&pos, w * label[i]);
        ksum_add(&neg, w * (1.0 - label[i]));
    }
    double p = ksum_value(&pos), q = ksum_value(&neg);
    if (p == 0 || q == 0)
        return hd_error(HERD_EINVAL,
                        "metric %s: every row (with a positive weight) is %s; AUC is "
                        "undefined with only one class",
                        m->name, p == 0 ? "negative" : "positive");

    auc_row *rows = hd_malloc(n, sizeof *rows);
    if (!rows) return HERD_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double w = weight_at(weight, i);
        if (w == 0) continue;
        /* Masses as fractions of their class, so that the area stays
         * within [0, 1] whatever the scale of the weights. */
        rows[k++] = (auc_row){pred[i], w * label[i] / p, w * (1.0 - label[i]) / q};
    }
    qsort(rows, k, sizeof *rows, auc_row_cmp);

    ksum area = {0, 0}, below = {0, 0};
    for (size_t i = 0; i < k;) {
        ksum tp = {0, 0}, tn = {0, 0};
        size_t j = i;
        for (; j < k && rows[j].score == rows[i].score; j++) {
            ksum_add(&tp, rows[j].pos);
            ksum_add(&tn, rows[j].neg);
        }
        double tie_pos = ksum_value(&tp), tie_neg = ksum_value(&tn);
        ksum_add(&area, tie_pos * ksum_value(&below) + 0.5 * tie_pos * tie_neg);
        ksum_add(&below, tie_neg);
        i = j;
    }
    free(rows);
    *value = fmin(fmax(ksum_value(&area), 0.0), 1.0); /* rounding may overshoot by an ulp */
    return HERD_OK;
}

int hd_metric_eval(const hd_metric *m, const double *label, const double *pred,
                   const double *weight, size_t n, size_t num_class, double *value,
                   size_t *n_skipped)
{
    /* On failure the caller sees NaN and 0, never stale values. */
    if (value) *value = NAN;
    if (n_skipped) *n_skipped = 0;
    HD_CHECK_NOT_NULL(m);
    HD_CHECK_NOT_NULL(label);
    HD_CHECK_NOT_NULL(pred);
    HD_CHECK_NOT_NULL(value);

    const metric_info *mi = NULL;
    size_t width = 1;
    int rc = metric_resolve(m, &mi);
    if (rc == HERD_OK) rc = check_inputs(m, label, pred, weight, n, num_class, &width);
    if (rc != HERD_OK) return rc;

    double v = NAN;
    size_t skipped = 0;
    switch (mi->id) {
    case M_WAPE: rc = eval_wape(m, label, pred, weight, n, &v); break;
    case M_R2: rc = eval_r2(m, label, pred, weight, n, &v); break;
    case M_AUC: rc = eval_auc(m, label, pred, weight, n, &v); break;
    default: rc = eval_mean_loss(m, label, pred, weight, n, width, &v, &skipped); break;
    }
    if (rc != HERD_OK) return rc;
    *value = v;
    if (n_skipped) *n_skipped = skipped;
    return HERD_OK;
}

int hd_metric_has_row_loss(const hd_metric *m)
{
    const metric_info *mi = m ? metric_by_id(m->id) : NULL;
    return mi ? mi->row_loss : 0;
}

int hd_metric_row_losses(const hd_metric *m, const double *label, const double *pred,
                         size_t n, size_t num_class, double *loss)
{
    HD_CHECK_NOT_NULL(m);
    HD_CHECK_NOT_NULL(label);
    HD_CHECK_NOT_NULL(pred);
    HD_CHECK_NOT_NULL(loss);

    const metric_info *mi = NULL;
    int rc = metric_resolve(m, &mi);
    if (rc != HERD_OK) return rc;
    if (!mi->row_loss)
        return hd_error(HERD_EINVAL,
                        "metric %s has no per-row loss: it is not a mean over rows, so a "
                        "paired bootstrap cannot resample it row by row",
                        m->name);
    size_t width = 1;
    rc = check_inputs(m, label, pred, NULL, n, num_class, &width);
    if (rc != HERD_OK) return rc;
    for (size_t i = 0; i < n; i++) loss[i] = row_loss(m, label, pred, i, width);
    return HERD_OK;
}

double hd_metric_from_mean_loss(const hd_metric *m, double mean_loss)
{
    return m && m->id == M_RMSE ? sqrt(mean_loss) : mean_loss;
}

/* ------------------------------------------------------------------------
 * Public API
 * --------------------------------------------------------------------- */

int herd_metric_eval(const char *metric, const double *label, const double *pred,
                     const double *weight, size_t n, size_t num_class, double *value,
                     size_t *n_skipped)
{
    if (value) *value = NAN;
    if (n_skipped) *n_skipped = 0;
    /* Checked here as well so that messages name this function, which the
     * caller knows, rather than hd_metric_eval. */
    HD_CHECK_NOT_NULL(metric);
    HD_CHECK_NOT_NULL(label);
    HD_CHECK_NOT_NULL(pred);
    HD_CHECK_NOT_NULL(value);

    hd_metric m;
    int rc = hd_metric_parse(metric, &m);
    if (rc != HERD_OK) return rc;
    return hd_metric_eval(&m, label, pred, weight, n, num_class, value, n_skipped);
}

int herd_metric_higher_is_better(const char *metric, int *higher_is_better)
{
    HD_CHECK_NOT_NULL(metric);
    HD_CHECK_NOT_NULL(higher_is_better);
    hd_metric m;
    int rc = hd_metric_parse(metric, &m);
    if (rc != HERD_OK) return rc;
    *higher_is_better = m.higher_is_better;
    return HERD_OK;
}
