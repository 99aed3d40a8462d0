/* Tests of the metrics module: every metric against values worked out by
 * hand in the comments (and cross-checked with scikit-learn 1.2 during
 * development), weights, parameters, per-row losses, and every way the
 * inputs can be wrong.
 *
 * cmocka 1.1.5's assert_float_equal converts to float, which is too coarse
 * for these checks, so assert_close compares doubles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "test_locale.h"
#include "model/metrics_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define TOL 1e-13

/* |actual - expected| <= tol * max(1, |expected|). */
#define assert_close(actual, expected, tol)                                                \
    assert_close_at((actual), (expected), (tol), #actual, __FILE__, __LINE__)

static void assert_close_at(double actual, double expected, double tol, const char *expr,
                            const char *file, int line)
{
    if (!(fabs(actual - expected) <= tol * fmax(1.0, fabs(expected))))
        fail_msg("%s:%d: %s is %.17g, expected %.17g (tolerance %g)", file, line, expr, actual,
                 expected, tol);
}

/* herd_metric_eval that must succeed; returns the value. */
static double eval_at(const char *metric, const double *label, const double *pred,
                      const double *weight, size_t n, size_t num_class, size_t *skipped,
                      const char *file, int line)
{
    double v = -1.0;
    size_t s = 12345;
    int rc = herd_metric_eval(metric, label, pred, weight, n, num_class, &v, &s);
    if (rc != HERD_OK)
        fail_msg("%s:%d: %s failed: %s", file, line, metric, herd_last_error());
    if (skipped) *skipped = s;
    return v;
}
#define eval(metric, label, pred, weight, n, nc)                                           \
    eval_at((metric), (label), (pred), (weight), (n), (nc), NULL, __FILE__, __LINE__)

/* A failure with HERD_EINVAL whose message contains `fragment`. */
#define assert_einval(rc, fragment) assert_einval_at((rc), (fragment), __FILE__, __LINE__)

static void assert_einval_at(int rc, const char *fragment, const char *file, int line)
{
    if (rc != HERD_EINVAL)
        fail_msg("%s:%d: expected HERD_EINVAL, got %d (%s)", file, line, rc, herd_last_error());
    if (!strstr(herd_last_error(), fragment))
        fail_msg("%s:%d: error \"%s\" lacks \"%s\"", file, line, herd_last_error(), fragment);
}

/* herd_metric_eval that must fail with HERD_EINVAL mentioning `fragment`;
 * also checks that the outputs were reset rather than left stale. */
#define assert_eval_fails(metric, label, pred, weight, n, nc, fragment)                    \
    do {                                                                                   \
        double v_ = 42.0;                                                                  \
        size_t s_ = 42;                                                                    \
        int rc_ = herd_metric_eval((metric), (label), (pred), (weight), (n), (nc), &v_,    \
                                   &s_);                                                   \
        assert_einval_at(rc_, (fragment), __FILE__, __LINE__);                             \
        assert_true(isnan(v_));                                                            \
        assert_int_equal(s_, 0);                                                           \
    } while (0)

static hd_metric parse(const char *name)
{
    hd_metric m;
    int rc = hd_metric_parse(name, &m);
    if (rc != HERD_OK) fail_msg("parse %s: %s", name, herd_last_error());
    return m;
}

/* ------------------------------------------------------------------------
 * Names and parameters
 * --------------------------------------------------------------------- */

static void test_parse_names(void **state)
{
    (void)state;
    static const struct {
        const char *name, *canonical;
        int kind, higher;
        double param;
    } cases[] = {
        {"rmse", "rmse", HD_METRIC_REGRESSION, 0, 0},
        {"mae", "mae", HD_METRIC_REGRESSION, 0, 0},
        {"wape", "wape", HD_METRIC_REGRESSION, 0, 0},
        {"mape", "mape", HD_METRIC_REGRESSION, 0, 0},
        {"r2", "r2", HD_METRIC_REGRESSION, 1, 0},
        {"poisson-deviance", "poisson-deviance", HD_METRIC_REGRESSION, 0, 0},
        /* The tweedie power is always named, as XGBoost's tweedie-nloglik@1.5. */
        {"tweedie-deviance", "tweedie-deviance@1.5", HD_METRIC_REGRESSION, 0, 1.5},
        {"tweedie-deviance@1.5", "tweedie-deviance@1.5", HD_METRIC_REGRESSION, 0, 1.5},
        {"tweedie-deviance@1.50", "tweedie-deviance@1.5", HD_METRIC_REGRESSION, 0, 1.5},
        {"tweedie-deviance@15e-1", "tweedie-deviance@1.5", HD_METRIC_REGRESSION, 0, 1.5},
        {"tweedie-deviance@+1.2", "tweedie-deviance@1.2", HD_METRIC_REGRESSION, 0, 1.2},
        {"tweedie-deviance@1.999", "tweedie-deviance@1.999", HD_METRIC_REGRESSION, 0, 1.999},
        /* 15 significant digits, the most a decimal parameter may have. */
        {"tweedie-deviance@1.00000000000001", "tweedie-deviance@1.00000000000001",
         HD_METRIC_REGRESSION, 0, 1.00000000000001},
        /* Zeros past 15 significant digits are fine; they carry no precision. */
        {"tweedie-deviance@1.2500000000000000000", "tweedie-deviance@1.25",
         HD_METRIC_REGRESSION, 0, 1.25},
        {"logloss", "logloss", HD_METRIC_BINARY, 0, 0},
        {"auc", "auc", HD_METRIC_BINARY, 1, 0},
        /* The default threshold is left out, as XGBoost names "error". */
        {"error", "error", HD_METRIC_BINARY, 0, 0.5},
        {"error@0.5", "error", HD_METRIC_BINARY, 0, 0.5},
        {"error@.50", "error", HD_METRIC_BINARY, 0, 0.5},
        {"error@0.3", "error@0.3", HD_METRIC_BINARY, 0, 0.3},
        {"error@0.30", "error@0.3", HD_METRIC_BINARY, 0, 0.3},
        {"error@3E-1", "error@0.3", HD_METRIC_BINARY, 0, 0.3},
        {"error@0", "error@0", HD_METRIC_BINARY, 0, 0},
        {"error@-0", "error@0", HD_METRIC_BINARY, 0, 0},
        {"error@1", "error@1", HD_METRIC_BINARY, 0, 1},
        {"error@0.000001", "error@0.000001", HD_METRIC_BINARY, 0, 1e-6},
        {"mlogloss", "mlogloss", HD_METRIC_MULTICLASS, 0, 0},
        {"merror", "merror", HD_METRIC_MULTICLASS, 0, 0},
    };
    for (size_t i = 0; i < N(cases); i++) {
        hd_metric m = parse(cases[i].name);
        assert_string_equal(m.name, cases[i].canonical);
        assert_int_equal(m.kind, cases[i].kind);
        assert_int_equal(m.higher_is_better, cases[i].higher);
        /* Exactly the double strtod reads: the decimal reader rounds correctly. */
        assert_true(m.param == cases[i].param);
        /* The canonical name parses back to the same metric. */
        hd_metric again = parse(m.name);
        assert_string_equal(again.name, m.name);
        assert_int_equal(again.id, m.id);
        assert_true(again.param == m.param);
    }
}

static uint64_t next_random(uint64_t *s);

/* Random parameters of 1 to 15 digits: the decimal reader gives exactly
 * strtod's double (in the "C" locale the tests run in), and the canonical
 * name is the spelling without trailing zeros. */
static void test_parse_random_parameters(void **state)
{
    (void)state;
    uint64_t seed = 7;
    for (int round = 0; round < 5000; round++) {
        /* error@0.<1..15 decimals>, or tweedie-deviance@1.<1..14 decimals>
         * with a non-zero last one (1.000 is out of range): at most 15
         * significant digits either way. */
        int tweedie = round % 2;
        int decimals = 1 + (int)(next_random(&seed) % (tweedie ? 14 : 15));
        char name[64], expect[64];
        int o = snprintf(name, sizeof name, "%s", tweedie ? "tweedie-deviance@1." : "error@0.");
        for (int i = 0; i < decimals; i++)
            name[o++] = (char)('0' + next_random(&seed) % 10);
        if (tweedie && name[o - 1] == '0') name[o - 1] = '7';
        name[o] = '\0';

        hd_metric m = parse(name);
        assert_true(m.param == strtod(strchr(name, '@') + 1, NULL));
        /* The canonical spelling drops trailing zeros (and a bare '.'), and
         * the default threshold. */
        snprintf(expect, sizeof expect, "%s", name);
        size_t len = strlen(expect);
        while (expect[len - 1] == '0') expect[--len] = '\0';
        if (expect[len - 1] == '.') expect[--len] = '\0';
        if (strcmp(expect, "error@0.5") == 0) strcpy(expect, "error");
        assert_string_equal(m.name, expect);
    }
}

static void test_parse_bad_parameters(void **state)
{
    (void)state;
    static const struct {
        const char *name, *fragment;
    } cases[] = {
        {"tweedie-deviance@abc", "\"abc\" is not a plain decimal number"},
        {"tweedie-deviance@", "is not a plain decimal number"},
        {"tweedie-deviance@1.5x", "\"1.5x\" is not a plain decimal"},
        {"tweedie-deviance@ 1.5", "is not a plain decimal"},
        {"tweedie-deviance@1.5 ", "is not a plain decimal"},
        {"tweedie-deviance@1,5", "is not a plain decimal"},
        {"tweedie-deviance@nan", "is not a plain decimal"},
        {"tweedie-deviance@inf", "is not a plain decimal"},
        {"tweedie-deviance@0x1.8p0", "is not a plain decimal"},
        {"tweedie-deviance@.", "is not a plain decimal"},
        {"tweedie-deviance@1e", "is not a plain decimal"},
        {"tweedie-deviance@1.5@1.5", "is not a plain decimal"},
        /* 16 significant digits: more than a double tells apart reliably. */
        {"tweedie-deviance@1.234567890123456", "at most 15 significant digits"},
        {"tweedie-deviance@2.5", "variance power \"2.5\" is out of range"},
        {"tweedie-deviance@2", "strictly between 1 and 2"},
        {"tweedie-deviance@1", "use poisson-deviance"},
        {"tweedie-deviance@-1.5", "out of range"},
        {"error@1.5", "threshold \"1.5\" is out of range"},
        {"error@-0.1", "between 0 and 1"},
        {"error@1e-30", "is not a plain decimal"},
        {"error@", "write error@T with T like 0.5"},
        {"rmse@1", "metric rmse takes no parameter: remove \"@1\""},
        {"auc@0.5", "auc takes no parameter"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        hd_metric m;
        memset(&m, 0xAB, sizeof m);
        int rc = hd_metric_parse(cases[i].name, &m);
        if (rc != HERD_EINVAL || !strstr(herd_last_error(), cases[i].fragment))
            fail_msg("%s: rc %d, error \"%s\" lacks \"%s\"", cases[i].name, rc,
                     herd_last_error(), cases[i].fragment);
        /* The same through the public functions. */
        int hib = 7;
        assert_int_equal(herd_metric_higher_is_better(cases[i].name, &hib), HERD_EINVAL);
        assert_int_equal(hib, 7);
    }
}

static void test_unknown_metric(void **state)
{
    (void)state;
    static const char *const known[] = {
        "rmse", "mae", "wape", "mape", "r2", "poisson-deviance", "tweedie-deviance[@P]",
        "logloss", "auc", "error[@T]", "mlogloss", "merror"};
    static const char *const unknown[] = {"rmsle", "RMSE", " rmse", "", "poisson-nloglik",
                                          "foo@1.5", "tweedie"};
    double y[] = {1}, p[] = {1}, v;
    for (size_t i = 0; i < N(unknown); i++) {
        hd_metric m;
        assert_einval(hd_metric_parse(unknown[i], &m), "unknown metric");
        for (size_t k = 0; k < N(known); k++) assert_non_null(strstr(herd_last_error(), known[k]));
        assert_einval(herd_metric_eval(unknown[i], y, p, NULL, 1, 0, &v, NULL),
                      "known metrics: rmse, mae");
        int hib;
        assert_einval(herd_metric_higher_is_better(unknown[i], &hib), "unknown metric");
    }
    /* The name is quoted, with control bytes escaped. */
    assert_einval(herd_metric_eval("bad\nname", y, p, NULL, 1, 0, &v, NULL),
                  "unknown metric \"bad\\x0Aname\"");
}

static void test_higher_is_better(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int higher;
    } cases[] = {{"rmse", 0},     {"mae", 0},   {"wape", 0},
                 {"mape", 0},     {"r2", 1},    {"poisson-deviance", 0},
                 {"tweedie-deviance", 0}, {"tweedie-deviance@1.3", 0},
                 {"logloss", 0},  {"auc", 1},   {"error", 0},
                 {"error@0.2", 0}, {"mlogloss", 0}, {"merror", 0}};
    for (size_t i = 0; i < N(cases); i++) {
        int hib = -1;
        assert_int_equal(herd_metric_higher_is_better(cases[i].name, &hib), HERD_OK);
        assert_int_equal(hib, cases[i].higher);
    }
    int hib;
    assert_einval(herd_metric_higher_is_better(NULL, &hib), "argument 'metric' is NULL");
    assert_einval(herd_metric_higher_is_better("rmse", NULL),
                  "herd_metric_higher_is_better: argument 'higher_is_better' is NULL");
}

/* ------------------------------------------------------------------------
 * Regression metrics
 * --------------------------------------------------------------------- */

/* label {1,2,3}, pred {2,0,5}: errors {1,-2,2}, squares {1,4,4}. */
static const double reg_y[] = {1, 2, 3}, reg_p[] = {2, 0, 5}, reg_w[] = {1, 2, 1};

static void test_rmse(void **state)
{
    (void)state;
    /* sqrt((1 + 4 + 4) / 3) = sqrt(3) */
    assert_close(eval("rmse", reg_y, reg_p, NULL, 3, 0), sqrt(3.0), TOL);
    /* sqrt((1*1 + 2*4 + 1*4) / (1 + 2 + 1)) = sqrt(13/4) */
    assert_close(eval("rmse", reg_y, reg_p, reg_w, 3, 0), sqrt(13.0 / 4.0), TOL);
    /* Unit weights change nothing; num_class is ignored for regression. */
    double ones[] = {1, 1, 1};
    assert_close(eval("rmse", reg_y, reg_p, ones, 3, 7), sqrt(3.0), TOL);
    /* A perfect prediction. */
    assert_close(eval("rmse", reg_y, reg_y, NULL, 3, 0), 0.0, 0);
    /* A zero weight drops the row: only errors {1, 2} remain, sqrt(5/2). */
    double w0[] = {1, 0, 1};
    assert_close(eval("rmse", reg_y, reg_p, w0, 3, 0), sqrt(2.5), TOL);
}

static void test_mae(void **state)
{
    (void)state;
    /* (1 + 2 + 2) / 3 */
    assert_close(eval("mae", reg_y, reg_p, NULL, 3, 0), 5.0 / 3.0, TOL);
    /* (1*1 + 2*2 + 1*2) / 4 */
    assert_close(eval("mae", reg_y, reg_p, reg_w, 3, 0), 7.0 / 4.0, TOL);
}

static void test_wape(void **state)
{
    (void)state;
    /* sum |err| / sum |label| = (1 + 2 + 2) / (1 + 2 + 3) */
    assert_close(eval("wape", reg_y, reg_p, NULL, 3, 0), 5.0 / 6.0, TOL);
    /* (1*1 + 2*2 + 1*2) / (1*1 + 2*2 + 1*3) = 7/8 */
    assert_close(eval("wape", reg_y, reg_p, reg_w, 3, 0), 7.0 / 8.0, TOL);
    /* |label| in the denominator: label {-2, 2}, pred {-1, 2}: 1 / 4. */
    double y[] = {-2, 2}, p[] = {-1, 2};
    assert_close(eval("wape", y, p, NULL, 2, 0), 0.25, TOL);

    double zero[] = {0, 0}, w[] = {0, 1}, y2[] = {5, 0};
    assert_eval_fails("wape", zero, p, NULL, 2, 0, "no row with a non-zero label");
    /* The only non-zero label has weight 0. */
    assert_eval_fails("wape", y2, p, w, 2, 0, "no row with a non-zero label");
}

static void test_mape(void **state)
{
    (void)state;
    /* label {0, 2, 4, 0}, pred {1, 1, 5, 3}: the zero labels are skipped;
     * |2-1|/2 = 0.5, |4-5|/4 = 0.25, mean 0.375 (a fraction, not percent). */
    double y[] = {0, 2, 4, 0}, p[] = {1, 1, 5, 3};
    size_t skipped = 99;
    double v = eval_at("mape", y, p, NULL, 4, 0, &skipped, __FILE__, __LINE__);
    assert_close(v, 0.375, TOL);
    assert_int_equal(skipped, 2);
    /* Weights {9, 1, 3, 9}: (1*0.5 + 3*0.25) / (1 + 3) = 0.3125; the weights
     * of skipped rows do not count. */
    double w[] = {9, 1, 3, 9};
    v = eval_at("mape", y, p, w, 4, 0, &skipped, __FILE__, __LINE__);
    assert_close(v, 0.3125, TOL);
    assert_int_equal(skipped, 2);
    /* n_skipped may be NULL. */
    assert_int_equal(herd_metric_eval("mape", y, p, NULL, 4, 0, &v, NULL), HERD_OK);
    /* Negative labels divide by |label|: |-2 - -1| / 2 = 0.5. */
    double yn[] = {-2}, pn[] = {-1};
    assert_close(eval("mape", yn, pn, NULL, 1, 0), 0.5, TOL);
    /* Other metrics skip nothing: mae = (1 + 1 + 1 + 3) / 4. */
    v = eval_at("mae", y, p, NULL, 4, 0, &skipped, __FILE__, __LINE__);
    assert_close(v, 1.5, TOL);
    assert_int_equal(skipped, 0);

    double zeros[] = {0, 0, 0};
    assert_eval_fails("mape", zeros, p, NULL, 3, 0, "no row with a non-zero label");
    assert_eval_fails("mape", zeros, p, NULL, 3, 0, "all 3 labels are 0");
    double wz[] = {1, 0, 0, 1};
    assert_eval_fails("mape", y, p, wz, 4, 0, "every row with a non-zero label has weight 0");
}

static void test_r2(void **state)
{
    (void)state;
    double y[] = {1, 2, 3, 4};
    /* A perfect prediction: SSE = 0, r2 = 1. */
    assert_close(eval("r2", y, y, NULL, 4, 0), 1.0, 0);
    /* Predicting the mean 2.5: SSE = SST, r2 = 0. */
    double mean[] = {2.5, 2.5, 2.5, 2.5};
    assert_close(eval("r2", y, mean, NULL, 4, 0), 0.0, TOL);
    /* pred {1,2,3,5}: SSE = 1, SST = 2.25 + 0.25 + 0.25 + 2.25 = 5, r2 = 0.8. */
    double p[] = {1, 2, 3, 5};
    assert_close(eval("r2", y, p, NULL, 4, 0), 0.8, TOL);
    /* Worse than the mean is negative: pred {4,3,2,1}: SSE = 9+1+1+9 = 20, r2 = -3. */
    double rev[] = {4, 3, 2, 1};
    assert_close(eval("r2", y, rev, NULL, 4, 0), -3.0, TOL);
    /* Weighted: label {1,2,3}, weights {1,1,2}: mean 9/4,
     * SST = 1.25^2 + 0.25^2 + 2 * 0.75^2 = 2.75; pred {1,2,2}: SSE = 2 * 1 = 2;
     * r2 = 1 - 2 / 2.75 = 3/11. */
    double yw[] = {1, 2, 3}, pw[] = {1, 2, 2}, w[] = {1, 1, 2};
    assert_close(eval("r2", yw, pw, w, 3, 0), 3.0 / 11.0, TOL);

    /* Constant labels: SST = 0. */
    double c[] = {0.1, 0.1, 0.1};
    assert_eval_fails("r2", c, p, NULL, 3, 0, "r2 = 1 - SSE/SST is undefined");
    assert_eval_fails("r2", c, p, NULL, 3, 0, "every label is 0.1");
    /* Labels that vary only in a row of weight 0 are constant too. */
    double yv[] = {1, 5, 1}, wv[] = {1, 0, 1};
    assert_eval_fails("r2", yv, p, wv, 3, 0, "do not vary");
    assert_eval_fails("r2", y, p, NULL, 1, 0, "do not vary");
}

static void test_poisson_deviance(void **state)
{
    (void)state;
    /* Unit deviance 2 * (y log(y/mu) - (y - mu)):
     *   y=0, mu=1: 2 * (0 - (0 - 1)) = 2      (y log y/mu -> 0 at y = 0)
     *   y=1, mu=1: 0
     *   y=2, mu=4: 2 * (2 log(1/2) + 2) = 4 - 4 log 2
     * mean = (6 - 4 log 2) / 3 = 2 - (4/3) log 2 ~ 1.0758037592534 */
    double y[] = {0, 1, 2}, mu[] = {1, 1, 4};
    assert_close(eval("poisson-deviance", y, mu, NULL, 3, 0), 2.0 - 4.0 / 3.0 * log(2.0), TOL);
    /* Weights {3, 1, 0}: (3*2 + 0) / 4 = 1.5 */
    double w[] = {3, 1, 0};
    assert_close(eval("poisson-deviance", y, mu, w, 3, 0), 1.5, TOL);
    /* A perfect prediction is 0, never a rounding-negative. */
    double yy[] = {0.3, 7, 1e6}, pp[] = {0.3, 7, 1e6};
    assert_close(eval("poisson-deviance", yy, pp, NULL, 3, 0), 0.0, 0);
    /* Extreme ratios stay finite: y / mu overflows, the deviance does not.
     * 2 * (1e300 * log(1e300 / 1e-10) - 1e300) = 2e300 * (310 log 10 - 1). */
    double yb[] = {1e300}, pb[] = {1e-10};
    assert_close(eval("poisson-deviance", yb, pb, NULL, 1, 0), 2e300 * (310 * log(10.0) - 1),
                 1e-12);

    double neg[] = {0, -1, 2}, zero_mu[] = {1, 0, 4};
    assert_eval_fails("poisson-deviance", neg, mu, NULL, 3, 0,
                      "label[1] is -1; labels must be >= 0");
    assert_eval_fails("poisson-deviance", y, zero_mu, NULL, 3, 0,
                      "pred[1] is 0; predicted means must be > 0");
}

static void test_tweedie_deviance(void **state)
{
    (void)state;
    /* p = 1.5: 1-p = -0.5, 2-p = 0.5, so the unit deviance is
     *   2 * (sqrt(y) / -0.25 + 2 y / sqrt(mu) + 2 sqrt(mu))
     *   = -8 sqrt(y) + 4 y / sqrt(mu) + 4 sqrt(mu):
     *   y=0, mu=1: 4;  y=1, mu=4: -8 + 2 + 8 = 2;  y=4, mu=1: -16 + 16 + 4 = 4;
     *   y=1, mu=1: 0.  mean = (4 + 2 + 4 + 0) / 4 = 2.5 */
    double y[] = {0, 1, 4, 1}, mu[] = {1, 4, 1, 1};
    assert_close(eval("tweedie-deviance", y, mu, NULL, 4, 0), 2.5, TOL);
    assert_close(eval("tweedie-deviance@1.5", y, mu, NULL, 4, 0), 2.5, TOL);
    /* Weights {1, 2, 0, 1}: (4 + 4 + 0) / 4 = 2 */
    double w[] = {1, 2, 0, 1};
    assert_close(eval("tweedie-deviance@1.5", y, mu, w, 4, 0), 2.0, TOL);
    /* p = 1.25 (1-p = -1/4, 2-p = 3/4), y = 16, mu = 1:
     *   2 * (16^0.75 / (-3/16) + 16 / (1/4) + 1 / (3/4))
     *   = 2 * (-128/3 + 64 + 4/3) = 136/3 */
    double y16[] = {16}, one[] = {1};
    assert_close(eval("tweedie-deviance@1.25", y16, one, NULL, 1, 0), 136.0 / 3.0, TOL);
    /* y = 0 with the smallest mean: mu^(1-p) = mu^-0.99 overflows, but at
     * y = 0 only 2 mu^(2-p) / (2-p) = 200 mu^0.01 remains -- finite, not NaN. */
    double y0[] = {0}, tiny[] = {5e-324};
    assert_close(eval("tweedie-deviance@1.99", y0, tiny, NULL, 1, 0), 200 * pow(5e-324, 0.01),
                 TOL);

    double neg[] = {-0.5};
    assert_eval_fails("tweedie-deviance", neg, one, NULL, 1, 0, "label[0] is -0.5");
    double negmu[] = {-1};
    assert_eval_fails("tweedie-deviance", one, negmu, NULL, 1, 0, "pred[0] is -1");
}

/* ------------------------------------------------------------------------
 * Binary metrics
 * --------------------------------------------------------------------- */

static void test_logloss(void **state)
{
    (void)state;
    /* label {1,0,1,0}, p {0.8,0.4,0.5,0}:
     *   -log 0.8, -log 0.6, -log 0.5, and -log(1 - 1e-15) ~ 1e-15 (p = 0 clipped)
     *   mean = -log(0.8 * 0.6 * 0.5) / 4 + 2.5e-16 = log(25/6) / 4 ~ 0.356779 */
    double y[] = {1, 0, 1, 0}, p[] = {0.8, 0.4, 0.5, 0};
    assert_close(eval("logloss", y, p, NULL, 4, 0), log(25.0 / 6.0) / 4.0, TOL);
    /* Weights {2, 0, 1, 0}: (2 * -log 0.8 - log 0.5) / 3 = log(1 / 0.32) / 3 */
    double w[] = {2, 0, 1, 0};
    assert_close(eval("logloss", y, p, w, 4, 0), log(1.0 / 0.32) / 3.0, TOL);
    /* A confident wrong prediction is clipped to 1e-15: -log(1e-15) = 34.538776... */
    double y1[] = {1}, p0[] = {0}, y0[] = {0}, p1[] = {1};
    assert_close(eval("logloss", y1, p0, NULL, 1, 0), 34.538776394910684, 1e-12);
    assert_close(eval("logloss", y0, p1, NULL, 1, 0), 34.538776394910684, 1e-3);
    /* A soft label: y = 0.5, p = 0.5: -(0.5 log 0.5 + 0.5 log 0.5) = log 2. */
    double half[] = {0.5};
    assert_close(eval("logloss", half, half, NULL, 1, 0), log(2.0), TOL);

    double two[] = {1, 2};
    assert_eval_fails("logloss", two, p, NULL, 2, 0, "label[1] is 2; binary labels must be 0 or 1");
    double negl[] = {-1};
    assert_eval_fails("logloss", negl, p, NULL, 1, 0, "label[0] is -1");
    double margin[] = {0.5, 1.7};
    assert_eval_fails("logloss", y, margin, NULL, 2, 0,
                      "pred[1] is 1.7; predictions must be probabilities in [0, 1], not margins");
}

/* Scores with ties: negatives (label 0) at 0.1 and 0.4, positives at 0.4,
 * 0.35, 0.8 and 0.1. */
static const double auc_y[] = {0, 0, 1, 1, 1, 1};
static const double auc_s[] = {0.1, 0.4, 0.4, 0.35, 0.8, 0.1};

static void test_auc(void **state)
{
    (void)state;
    /* Pairs (positive, negative), 1 if the positive is higher, 1/2 if tied:
     *   pos 0.4 : vs 0.1 -> 1, vs 0.4 -> 1/2  = 1.5
     *   pos 0.35: vs 0.1 -> 1, vs 0.4 -> 0    = 1
     *   pos 0.8 : 1 + 1                       = 2
     *   pos 0.1 : vs 0.1 -> 1/2, vs 0.4 -> 0  = 0.5
     * auc = 5 / (4 * 2) = 0.625 */
    assert_close(eval("auc", auc_y, auc_s, NULL, 6, 0), 0.625, TOL);
    /* Weights {1,2,1,1,1,3}: P = 6, N = 3; each pair counts w_pos * w_neg:
     *   pos 0.4  (w1): 1*1 + 1/2 * 1*2 = 2
     *   pos 0.35 (w1): 1*1             = 1
     *   pos 0.8  (w1): 1*1 + 1*2       = 3
     *   pos 0.1  (w3): 1/2 * 3*1       = 1.5
     * auc = 7.5 / 18 = 5/12 */
    double w[] = {1, 2, 1, 1, 1, 3};
    assert_close(eval("auc", auc_y, auc_s, w, 6, 0), 5.0 / 12.0, TOL);
    /* Perfect, reversed, and all tied. */
    double y[] = {0, 1, 0, 1}, good[] = {0.1, 0.9, 0.2, 0.8}, bad[] = {0.9, 0.1, 0.8, 0.2};
    double same[] = {0.3, 0.3, 0.3, 0.3};
    assert_close(eval("auc", y, good, NULL, 4, 0), 1.0, 0);
    assert_close(eval("auc", y, bad, NULL, 4, 0), 0.0, 0);
    assert_close(eval("auc", y, same, NULL, 4, 0), 0.5, 0);
    /* auc only ranks, so scores need not be probabilities (margins work). */
    double margins[] = {-3, 12, -1, 5};
    assert_close(eval("auc", y, margins, NULL, 4, 0), 1.0, 0);
    /* -0.0 and 0.0 are one score: a tie. */
    double yz[] = {0, 1}, sz[] = {-0.0, 0.0};
    assert_close(eval("auc", yz, sz, NULL, 2, 0), 0.5, 0);

    double ones[] = {1, 1, 1};
    assert_eval_fails("auc", ones, good, NULL, 3, 0, "AUC is undefined with only one class");
    assert_eval_fails("auc", ones, good, NULL, 3, 0,
                      "every row (with a positive weight) is positive");
    double zeros[] = {0, 0};
    assert_eval_fails("auc", zeros, good, NULL, 2, 0, "is negative; AUC is undefined");
    /* Both negatives have weight 0. */
    double w1[] = {0, 1, 0, 1};
    assert_eval_fails("auc", y, good, w1, 4, 0, "only one class");
    double two[] = {0, 2};
    assert_eval_fails("auc", two, good, NULL, 2, 0, "label[1] is 2");
}

/* A small deterministic generator for the randomized comparisons. */
static uint64_t next_random(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 33;
}

/* The sort-based AUC against the O(n^2) definition on random data with many
 * ties, random weights and some zero weights. */
static void test_auc_random(void **state)
{
    (void)state;
    enum { n = 300 };
    double y[n], s[n], w[n];
    uint64_t seed = 42;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < n; i++) {
            y[i] = (double)(next_random(&seed) % 2);
            s[i] = (double)(next_random(&seed) % 17) / 16.0;
            w[i] = (next_random(&seed) % 10 == 0) ? 0.0 : (double)(next_random(&seed) % 100) / 7.0;
        }
        double num = 0, pos = 0, neg = 0;
        for (size_t i = 0; i < n; i++) {
            if (y[i] == 1) pos += w[i]; else neg += w[i];
            for (size_t j = 0; j < n; j++) {
                if (y[i] != 1 || y[j] != 0) continue;
                num += w[i] * w[j] * (s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0);
            }
        }
        assert_close(eval("auc", y, s, w, n, 0), num / (pos * neg), 1e-12);
    }
}

static void test_error(void **state)
{
    (void)state;
    /* label {1,0,1,0}, p {0.8,0.4,0.5,0.6}; positive when p > T (strictly, as
     * XGBoost):
     *   T = 0.5 : predicted {1,0,0,1}: rows 2 and 3 wrong -> 2/4
     *   T = 0.45: predicted {1,0,1,1}: row 3 wrong        -> 1/4
     *   T = 0.7 : predicted {1,0,0,0}: row 2 wrong        -> 1/4
     *   T = 0.8 : predicted {0,0,0,0}: rows 0, 2 wrong    -> 2/4 */
    double y[] = {1, 0, 1, 0}, p[] = {0.8, 0.4, 0.5, 0.6};
    assert_close(eval("error", y, p, NULL, 4, 0), 0.5, 0);
    assert_close(eval("error@0.5", y, p, NULL, 4, 0), 0.5, 0);
    assert_close(eval("error@0.45", y, p, NULL, 4, 0), 0.25, 0);
    assert_close(eval("error@0.7", y, p, NULL, 4, 0), 0.25, 0);
    assert_close(eval("error@0.8", y, p, NULL, 4, 0), 0.5, 0);
    /* Weights {1,1,1,2} at 0.5: (1 + 2) / 5 */
    double w[] = {1, 1, 1, 2};
    assert_close(eval("error", y, p, w, 4, 0), 0.6, TOL);
    /* A soft label 0.25 predicted positive errs by 1 - 0.25. */
    double ys[] = {0.25}, ps[] = {0.9};
    assert_close(eval("error", ys, ps, NULL, 1, 0), 0.75, 0);

    double two[] = {2};
    assert_eval_fails("error", two, p, NULL, 1, 0, "label[0] is 2");
    double margin[] = {-2};
    assert_eval_fails("error@0.3", y, margin, NULL, 1, 0, "metric error@0.3: pred[0] is -2");
}

/* ------------------------------------------------------------------------
 * Multiclass metrics
 * --------------------------------------------------------------------- */

/* 3 classes, row-major:
 *   row 0: label 0, p {0.7, 0.2, 0.1}  argmax 0 (right)
 *   row 1: label 2, p {0.2, 0.3, 0.5}  argmax 2 (right)
 *   row 2: label 1, p {0.6, 0.3, 0.1}  argmax 0 (wrong) */
static const double mc_y[] = {0, 2, 1};
static const double mc_p[] = {0.7, 0.2, 0.1, 0.2, 0.3, 0.5, 0.6, 0.3, 0.1};
static const double mc_w[] = {1, 1, 2};

static void test_multiclass(void **state)
{
    (void)state;
    /* -(log 0.7 + log 0.5 + log 0.3) / 3 = -log(0.105) / 3 ~ 0.75126497627 */
    assert_close(eval("mlogloss", mc_y, mc_p, NULL, 3, 3), -log(0.105) / 3.0, TOL);
    /* Weighted: -(log 0.7 + log 0.5 + 2 log 0.3) / 4 ~ 0.86444193329 */
    assert_close(eval("mlogloss", mc_y, mc_p, mc_w, 3, 3),
                 -(log(0.7) + log(0.5) + 2 * log(0.3)) / 4.0, TOL);
    /* One wrong of three; weighted 2 of 4. */
    assert_close(eval("merror", mc_y, mc_p, NULL, 3, 3), 1.0 / 3.0, TOL);
    assert_close(eval("merror", mc_y, mc_p, mc_w, 3, 3), 0.5, TOL);
    /* A probability of 0 for the true class is clipped to 1e-15. */
    double y0[] = {0}, p0[] = {0, 1};
    assert_close(eval("mlogloss", y0, p0, NULL, 1, 2), -log(1e-15), 1e-12);
    /* A tie goes to the lower class, as XGBoost's merror (max_element). */
    double yt[] = {1, 0}, pt[] = {0.4, 0.4, 0.2, 0.4, 0.4, 0.2};
    assert_close(eval("merror", yt, pt, NULL, 2, 3), 0.5, 0);

    double out[] = {0, 3, 1};
    assert_eval_fails("mlogloss", out, mc_p, NULL, 3, 3,
                      "label[1] is 3; multiclass labels must be integers from 0 to "
                      "num_class - 1 = 2");
    double frac[] = {0, 1.5, 1};
    assert_eval_fails("merror", frac, mc_p, NULL, 3, 3, "label[1] is 1.5");
    double neg[] = {-1, 0, 1};
    assert_eval_fails("merror", neg, mc_p, NULL, 3, 3, "label[0] is -1");
    assert_eval_fails("mlogloss", mc_y, mc_p, NULL, 3, 1,
                      "num_class is 1; a multiclass metric needs num_class >= 2");
    assert_eval_fails("merror", mc_y, mc_p, NULL, 3, 0, "num_class is 0");
    assert_eval_fails("mlogloss", mc_y, mc_p, NULL, 3, SIZE_MAX, "overflows");
    double pn[] = {0.7, 0.2, 0.1, 0.2, NAN, 0.5, 0.6, 0.3, 0.1};
    assert_eval_fails("mlogloss", mc_y, pn, NULL, 3, 3, "pred[4] (row 1, class 1) is nan");
    double pbig[] = {0.7, 0.2, 0.1, 0.2, 0.3, 0.5, 0.6, 0.3, 1.1};
    assert_eval_fails("merror", mc_y, pbig, NULL, 3, 3, "pred[8] (row 2, class 2) is 1.1");
}

/* ------------------------------------------------------------------------
 * Per-row losses
 * --------------------------------------------------------------------- */

/* For every metric with row losses: the metric is hd_metric_from_mean_loss
 * of the (weighted) mean of the losses, NaN rows left out. */
static void check_row_losses(const char *name, const double *y, const double *p,
                             const double *w, size_t n, size_t nc)
{
    hd_metric m = parse(name);
    assert_true(hd_metric_has_row_loss(&m));
    double loss[8];
    assert_true(n <= N(loss));
    if (hd_metric_row_losses(&m, y, p, n, nc, loss) != HERD_OK)
        fail_msg("%s: %s", name, herd_last_error());
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(loss[i])) continue;
        double wi = w ? w[i] : 1.0;
        num += wi * loss[i];
        den += wi;
    }
    double v, v2;
    size_t skipped;
    assert_int_equal(hd_metric_eval(&m, y, p, w, n, nc, &v, &skipped), HERD_OK);
    assert_close(hd_metric_from_mean_loss(&m, num / den), v, TOL);
    /* The public entry point gives the same value. */
    assert_int_equal(herd_metric_eval(name, y, p, w, n, nc, &v2, NULL), HERD_OK);
    assert_true(v == v2);
}

static void test_row_losses(void **state)
{
    (void)state;
    double w4[] = {1, 3, 0.5, 2};
    double ym[] = {0, 2, 4, 0}, pm[] = {1, 1, 5, 3};
    double yc[] = {0, 1, 4, 1}, pc[] = {1, 4, 1, 1};
    double yb[] = {1, 0, 1, 0}, pb[] = {0.8, 0.4, 0.5, 0.6};
    for (int weighted = 0; weighted < 2; weighted++) {
        const double *w = weighted ? w4 : NULL;
        check_row_losses("rmse", reg_y, reg_p, w, 3, 0);
        check_row_losses("mae", reg_y, reg_p, w, 3, 0);
        check_row_losses("mape", ym, pm, w, 4, 0);
        check_row_losses("poisson-deviance", yc, pc, w, 4, 0);
        check_row_losses("tweedie-deviance", yc, pc, w, 4, 0);
        check_row_losses("tweedie-deviance@1.1", yc, pc, w, 4, 0);
        check_row_losses("logloss", yb, pb, w, 4, 0);
        check_row_losses("error", yb, pb, w, 4, 0);
        check_row_losses("error@0.45", yb, pb, w, 4, 0);
        check_row_losses("mlogloss", mc_y, mc_p, w, 3, 3);
        check_row_losses("merror", mc_y, mc_p, w, 3, 3);
    }

    /* The losses themselves, by hand. */
    hd_metric m = parse("rmse");
    double loss[4];
    assert_int_equal(hd_metric_row_losses(&m, reg_y, reg_p, 3, 0, loss), HERD_OK);
    assert_close(loss[0], 1, 0);
    assert_close(loss[1], 4, 0);
    assert_close(loss[2], 4, 0);
    assert_close(hd_metric_from_mean_loss(&m, 3.0), sqrt(3.0), TOL);
    m = parse("mape");
    assert_int_equal(hd_metric_row_losses(&m, ym, pm, 4, 0, loss), HERD_OK);
    assert_true(isnan(loss[0]) && isnan(loss[3]));
    assert_close(loss[1], 0.5, 0);
    assert_close(loss[2], 0.25, 0);
    assert_close(hd_metric_from_mean_loss(&m, 0.375), 0.375, 0);
    m = parse("error");
    assert_int_equal(hd_metric_row_losses(&m, yb, pb, 4, 0, loss), HERD_OK);
    assert_close(loss[0] + 2 * loss[1] + 4 * loss[2] + 8 * loss[3], 4 + 8, 0);

    /* Row losses check their inputs as eval does. */
    double ybad[] = {1, NAN};
    m = parse("logloss");
    assert_einval(hd_metric_row_losses(&m, ybad, pb, 2, 0, loss), "label[1] is nan");
    assert_einval(hd_metric_row_losses(&m, yb, pb, 0, 0, loss), "no rows");
    assert_einval(hd_metric_row_losses(&m, yb, pb, 4, 0, NULL), "argument 'loss' is NULL");
    assert_einval(hd_metric_row_losses(NULL, yb, pb, 4, 0, loss), "argument 'm' is NULL");
    m = parse("mlogloss");
    assert_einval(hd_metric_row_losses(&m, mc_y, mc_p, 3, 1, loss), "num_class is 1");
}

static void test_no_row_losses(void **state)
{
    (void)state;
    static const char *const names[] = {"auc", "r2", "wape"};
    double y[] = {0, 1}, p[] = {0.2, 0.7}, loss[2] = {-1, -1};
    for (size_t i = 0; i < N(names); i++) {
        hd_metric m = parse(names[i]);
        assert_int_equal(hd_metric_has_row_loss(&m), 0);
        assert_einval(hd_metric_row_losses(&m, y, p, 2, 0, loss), "has no per-row loss");
        assert_true(loss[0] == -1 && loss[1] == -1); /* untouched */
    }
    assert_int_equal(hd_metric_has_row_loss(NULL), 0);
}

/* ------------------------------------------------------------------------
 * Bad inputs shared by every metric
 * --------------------------------------------------------------------- */

static void test_bad_inputs(void **state)
{
    (void)state;
    double y[] = {1, 2, 3}, p[] = {1, 2, 3}, w[] = {1, 1, 1}, v;
    double ynan[] = {1, NAN, 3}, pinf[] = {1, 2, INFINITY}, wnan[] = {1, 1, NAN};
    double wneg[] = {1, -0.5, 1}, wzero[] = {0, 0, 0}, wbig[] = {1e308, 1e308, 1e308};

    assert_eval_fails("rmse", ynan, p, NULL, 3, 0, "metric rmse: label[1] is nan");
    assert_eval_fails("mae", y, pinf, NULL, 3, 0, "pred[2] is inf");
    assert_eval_fails("mae", y, p, wnan, 3, 0, "weight[2] is nan");
    assert_eval_fails("rmse", y, p, wneg, 3, 0, "weight[1] is -0.5; weights must be >= 0");
    assert_eval_fails("rmse", y, p, wzero, 3, 0, "every weight is 0");
    assert_eval_fails("auc", y, p, wzero, 3, 0, "every weight is 0");
    assert_eval_fails("rmse", y, p, wbig, 3, 0, "sum to infinity");
    assert_eval_fails("rmse", y, p, w, 0, 0, "no rows (n is 0)");
    assert_eval_fails("auc", y, p, NULL, 0, 0, "no rows");
    /* The first bad row is named, even in a row of weight 0. */
    double w0[] = {1, 0, 1};
    assert_eval_fails("rmse", ynan, p, w0, 3, 0, "label[1]");

    /* NULL arguments are named; weight and n_skipped may be NULL. */
    assert_einval(herd_metric_eval(NULL, y, p, w, 3, 0, &v, NULL),
                  "herd_metric_eval: argument 'metric' is NULL");
    assert_einval(herd_metric_eval("rmse", NULL, p, w, 3, 0, &v, NULL),
                  "herd_metric_eval: argument 'label' is NULL");
    assert_einval(herd_metric_eval("rmse", y, NULL, w, 3, 0, &v, NULL),
                  "herd_metric_eval: argument 'pred' is NULL");
    assert_einval(herd_metric_eval("rmse", y, p, w, 3, 0, NULL, NULL),
                  "herd_metric_eval: argument 'value' is NULL");
    hd_metric m = parse("rmse");
    assert_einval(hd_metric_eval(NULL, y, p, w, 3, 0, &v, NULL), "argument 'm' is NULL");
    assert_einval(hd_metric_eval(&m, NULL, p, w, 3, 0, &v, NULL), "argument 'label' is NULL");
    assert_einval(hd_metric_parse(NULL, &m), "argument 'name' is NULL");
    assert_einval(hd_metric_parse("rmse", NULL), "argument 'out' is NULL");

    /* An hd_metric that hd_metric_parse did not fill. */
    hd_metric forged = m;
    forged.id = 999;
    assert_einval(hd_metric_eval(&forged, y, p, NULL, 3, 0, &v, NULL), "hd_metric_parse");
    forged = parse("tweedie-deviance");
    forged.param = 3.0;
    assert_einval(hd_metric_eval(&forged, y, p, NULL, 3, 0, &v, NULL), "out of range");
}

/* Compensated summation: 1e16 + 1000 ones.  A naive double sum keeps 1e16
 * (each 1 is half an ulp and rounds away); the exact mean is
 * (1e16 + 1000) / 1001. */
static void test_accurate_sums(void **state)
{
    (void)state;
    enum { n = 1001 };
    static double y[n], p[n];
    y[0] = 1e16;
    for (size_t i = 1; i < n; i++) y[i] = 1.0;
    assert_close(eval("mae", y, p, NULL, n, 0), (1e16 + 1000.0) / 1001.0, 1e-16);
    assert_true(eval("mae", y, p, NULL, n, 0) != 1e16 / 1001.0);
}

/* Parameters read the same whatever LC_NUMERIC the host chose. */
static void test_locale_independent(void **state)
{
    (void)state;
    test_locale loc;
    int have = test_locale_decimal_comma(&loc);
    if (!have) test_locale_restore(&loc);
    assert_true(have); /* `locales` (localedef's sources) comes with make test */
    hd_metric m;
    int rc = hd_metric_parse("tweedie-deviance@1.25", &m);
    test_locale_restore(&loc);
    assert_int_equal(rc, HERD_OK);
    assert_string_equal(m.name, "tweedie-deviance@1.25");
    assert_true(m.param == 1.25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_parse_random_parameters),
        cmocka_unit_test(test_parse_bad_parameters),
        cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_higher_is_better),
        cmocka_unit_test(test_rmse),
        cmocka_unit_test(test_mae),
        cmocka_unit_test(test_wape),
        cmocka_unit_test(test_mape),
        cmocka_unit_test(test_r2),
        cmocka_unit_test(test_poisson_deviance),
        cmocka_unit_test(test_tweedie_deviance),
        cmocka_unit_test(test_logloss),
        cmocka_unit_test(test_auc),
        cmocka_unit_test(test_auc_random),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_multiclass),
        cmocka_unit_test(test_row_losses),
        cmocka_unit_test(test_no_row_losses),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_accurate_sums),
        cmocka_unit_test(test_locale_independent),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
