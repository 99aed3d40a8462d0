/* Tests of per-group training, models and grouped prediction (suite `fit`:
 * these drive XGBoost, so they are kept out of the valgrind `unit` run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "fit_fixture.h"

#include <xgboost/c_api.h>

#define ERR_HAS(text)                                                              \
    do {                                                                           \
        if (!strstr(herd_last_error(), (text)))                                    \
            fail_msg("last error \"%s\" lacks \"%s\"", herd_last_error(), (text)); \
    } while (0)

static void base_options(herd_fit_options *o)
{
    fixture_options(o, 30);
}

static void test_fit_report_and_models(void **state)
{
    (void)state;
    size_t sizes[4] = {120, 80, 200, 60};
    fixture fx;
    fixture_make(&fx, 4, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    assert_int_equal(herd_fit_result_count(set), 4);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    assert_int_equal(herd_frame_row_count(rep), 4);
    const char *cols[] = {"group", "status", "message", "rows", "train_rows", "valid_rows",
                          "metric", "valid_metric", "best_iteration", "rounds", "cv_mean",
                          "cv_std", "seconds", "threads", "tree_method"};
    assert_int_equal(herd_frame_column_count(rep), sizeof cols / sizeof *cols);
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
        assert_string_equal(herd_frame_column_name(rep, i), cols[i]);
    for (size_t g = 0; g < 4; g++) {
        char key[8];
        snprintf(key, sizeof key, "%zu", g);
        assert_string_equal(cell_str(rep, "group", g), key);
        assert_string_equal(cell_str(rep, "status", g), "ok");
        assert_null(cell_str(rep, "message", g));
        assert_true(cell_num(rep, "rows", g) == (double)sizes[g]);
        /* Training rows are floor(0.8 n), as the Python peer cuts them. */
        assert_true(cell_num(rep, "train_rows", g) == (double)(size_t)(sizes[g] * 0.8));
        assert_true(cell_num(rep, "valid_rows", g) ==
                    (double)(sizes[g] - (size_t)(sizes[g] * 0.8)));
        assert_string_equal(cell_str(rep, "metric", g), "rmse");
        double rmse = cell_num(rep, "valid_metric", g);
        assert_true(rmse > 0 && rmse < 0.6 * (double)(g + 1)); /* learned something */
        assert_true(cell_num(rep, "rounds", g) == 30);
        assert_true(cell_num(rep, "best_iteration", g) == 29);
        assert_true(isnan(cell_num(rep, "cv_mean", g)));
        /* exact below 128 training rows, histograms above */
        assert_string_equal(cell_str(rep, "tree_method", g), g == 2 ? "hist" : "exact");
    }
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "2", &m), HERD_OK);
    assert_int_equal(herd_model_feature_count(m), 3);
    assert_string_equal(herd_model_feature_name(m, 2), "promo");
    assert_string_equal(herd_model_feature_type(m, 0), "float");
    assert_string_equal(herd_model_feature_type(m, 2), "int");
    /* Out of range or NULL: 0 / NULL, and the last error stays. */
    herd_error_set(HERD_EIO, "pending");
    assert_null(herd_model_feature_name(m, 3));
    assert_null(herd_model_feature_type(m, 3));
    assert_int_equal(herd_model_feature_count(NULL), 0);
    assert_null(herd_model_objective(NULL));
    assert_int_equal(herd_model_output_count(NULL), 0);
    assert_int_equal(herd_fit_result_count(NULL), 0);
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_last_error_code(), HERD_EIO);
    assert_string_equal(herd_model_objective(m), "reg:squarederror");
    assert_int_equal(herd_model_output_count(m), 1);
    herd_model_free(m);
    assert_int_equal(herd_fit_result_model(set, "9", &m), HERD_ENOTFOUND);
    ERR_HAS("no group '9'");
    assert_null(m);
    herd_frame_free(rep);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

static void test_bad_parameters_rejected_up_front(void **state)
{
    (void)state;
    size_t sizes[2] = {50, 50};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = (herd_fit_result *)&o; /* must be reset to NULL */
    const char *names[2] = {"max_dept", "nthread"};
    const char *values[2] = {"3", "4"};
    o.param_names = names;
    o.param_values = values;
    o.n_params = 2;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    assert_null(set);
    ERR_HAS("'max_dept' (did you mean 'max_depth'?)");
    ERR_HAS("'nthread' (herd sets it per group");

    const char *n1[1] = {"max_depth"}, *v1[1] = {"-3"};
    o.param_names = n1;
    o.param_values = v1;
    o.n_params = 1;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("before any group trained");
    ERR_HAS("max_depth");

    const char *n2[1] = {"objective"}, *v2[1] = {"multi:softmax"};
    o.param_names = n2;
    o.param_values = v2;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("use multi:softprob");

    o.n_params = 0;
    o.metric = "logloss";
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("does not fit objective 'reg:squarederror'");
    o.metric = "rmsee";
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("rmsee");
    fixture_free(&fx);
}

static void test_bad_options(void **state)
{
    (void)state;
    size_t sizes[1] = {40};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_result *set = NULL;
    herd_fit_options o;
    const char *bad_features[] = {"x0", "nope"};
    const char *dup_features[] = {"x0", "x0"};
    const char *label_feature[] = {"x0", "y"};

    base_options(&o);
    o.features = bad_features;
    o.n_features = 2;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_ENOTFOUND);
    ERR_HAS("no column 'nope'");
    o.features = dup_features;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("listed twice");
    o.features = label_feature;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("also the label");
    base_options(&o);
    o.label = "missing_label";
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_ENOTFOUND);
    ERR_HAS("label column");
    base_options(&o);
    o.label = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("label is NULL");
    base_options(&o);
    o.n_features = 0;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("no features");

    base_options(&o);
    o.rounds = 0;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("rounds is 0");
    base_options(&o);
    o.valid_fraction = 1.0;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("valid_fraction is 1");
    base_options(&o);
    o.valid_fraction = 0;
    o.early_stopping_rounds = 5;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("early stopping needs validation rows");
    base_options(&o);
    o.valid_order_by = "t";
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("HERD_SPLIT_LAST");
    base_options(&o);
    o.cv_folds = 1;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("cv_folds is 1");
    base_options(&o);
    o.min_rows = 1;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("min_rows is 1");
    base_options(&o);
    o.version = 4;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("herd_fit_options: version 4 is not one this library");
    base_options(&o);
    assert_int_equal(herd_fit(NULL, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("'groups' is NULL");
    assert_int_equal(herd_fit(fx.groups, NULL, NULL, &set), HERD_EINVAL);
    assert_int_equal(herd_fit(fx.groups, &o, NULL, NULL), HERD_EINVAL);
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = -2;
    assert_int_equal(herd_fit(fx.groups, &o, &ao, &set), HERD_EINVAL);
    ERR_HAS("threads is -2");
    assert_null(set);
    fixture_free(&fx);
}

/* Skipped groups with their reasons, and a poisoned group that fails while
 * the others train. */
static void test_skips_and_failure_isolation(void **state)
{
    (void)state;
    size_t sizes[5] = {60, 5, 60, 60, 60};
    fixture fx;
    fixture_make(&fx, 5, sizes, 0.1);
    /* group 2: constant label; group 3: x1 all missing; group 4: a NaN label */
    for (size_t r = 65; r < 125; r++) fx.d.y[r] = 7.5;
    for (size_t r = 125; r < 185; r++) fx.d.x1[r] = NAN;
    fx.d.y[200] = NAN;
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    assert_string_equal(cell_str(rep, "status", 0), "ok");
    assert_string_equal(cell_str(rep, "status", 1), "skipped");
    assert_non_null(strstr(cell_str(rep, "message", 1), "min_rows: 5 rows"));
    assert_string_equal(cell_str(rep, "status", 2), "skipped");
    assert_non_null(strstr(cell_str(rep, "message", 2), "constant label"));
    assert_string_equal(cell_str(rep, "status", 3), "skipped");
    assert_non_null(strstr(cell_str(rep, "message", 3), "all-missing feature: 'x1'"));
    assert_string_equal(cell_str(rep, "status", 4), "failed");
    const char *msg = cell_str(rep, "message", 4);
    assert_non_null(strstr(msg, "group '4'"));
    assert_non_null(strstr(msg, "label 'y' is missing (NaN) at frame row 200"));
    herd_model *m = NULL;
    /* A failed group has no model: missing (the report says why), not an
     * error; the caller's pending error stays. */
    herd_error_set(HERD_EIO, "pending");
    m = (herd_model *)1;
    assert_int_equal(herd_fit_result_model(set, "4", &m), HERD_MISSING);
    assert_null(m);
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    herd_model_free(m);

    /* The error budget stops the job: with threads=1, one allowed failure. */
    fx.d.y[70] = INFINITY; /* group 2 now fails too */
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 1;
    ao.max_failed = 1;
    herd_fit_result *set2 = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, &ao, &set2), HERD_EBUDGET);
    assert_non_null(set2);
    herd_fit_result_free(set2);
    herd_frame_free(rep);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* Models are byte-identical whatever the thread count, including a large
 * group trained with two XGBoost threads. */
static void test_determinism_across_threads(void **state)
{
    (void)state;
    size_t sizes[6] = {3000, 150, 150, 150, 150, 150};
    fixture fx;
    fixture_make(&fx, 6, sizes, 0.5);
    herd_fit_options o;
    base_options(&o);
    const char *names[] = {"subsample", "colsample_bytree", "tree_method"};
    const char *values[] = {"0.8", "0.7", "hist"};
    o.param_names = names;
    o.param_values = values;
    o.n_params = 3;
    herd_fit_result *sets[3] = {NULL, NULL, NULL};
    int threads[3] = {1, 2, 2};
    for (int i = 0; i < 3; i++) {
        herd_apply_options ao;
        herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
        ao.threads = threads[i];
        if (i == 2) ao.parallel_group_rows = 1000; /* the big group gets 2 threads */
        assert_int_equal(herd_fit(fx.groups, &o, &ao, &sets[i]), HERD_OK);
    }
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(sets[2], &rep), HERD_OK);
    assert_true(cell_num(rep, "threads", 0) == 2);
    herd_frame_free(rep);
    for (size_t g = 0; g < 6; g++) {
        char key[8];
        snprintf(key, sizeof key, "%zu", g);
        void *bytes[3];
        size_t len[3];
        for (int i = 0; i < 3; i++) {
            herd_model *m = NULL;
            assert_int_equal(herd_fit_result_model(sets[i], key, &m), HERD_OK);
            assert_int_equal(herd_model_save(m, HERD_MODEL_UBJSON, &bytes[i], &len[i]), HERD_OK);
            herd_model_free(m);
        }
        assert_int_equal(len[0], len[1]);
        assert_int_equal(len[0], len[2]);
        assert_memory_equal(bytes[0], bytes[1], len[0]);
        assert_memory_equal(bytes[0], bytes[2], len[0]);
        for (int i = 0; i < 3; i++) herd_free(bytes[i]);
    }
    for (int i = 0; i < 3; i++) herd_fit_result_free(sets[i]);
    fixture_free(&fx);
}

static double rmse_of(const double *pred, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (pred[i] - y[i]) * (pred[i] - y[i]);
    return sqrt(s / (double)n);
}

/* With early stopping the model is sliced at its best iteration: its own
 * predictions on the validation rows give the reported (best) metric. */
static void test_early_stopping_slices_model(void **state)
{
    (void)state;
    size_t sizes[1] = {300};
    fixture fx;
    fixture_make(&fx, 1, sizes, 6.0); /* mostly noise: overfits quickly */
    herd_fit_options o;
    base_options(&o);
    o.rounds = 200;
    o.early_stopping_rounds = 5;
    o.split = HERD_SPLIT_LAST;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    double best = cell_num(rep, "best_iteration", 0);
    assert_true(best < 150);
    assert_true(cell_num(rep, "rounds", 0) == best + 1);
    double metric = cell_num(rep, "valid_metric", 0);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    size_t rows[60];
    for (size_t i = 0; i < 60; i++) rows[i] = 240 + i; /* the last 20% */
    double pred[60];
    assert_int_equal(herd_model_predict(m, fx.frame, rows, 60, 1, pred, 60), HERD_OK);
    assert_float_equal(rmse_of(pred, fx.d.y + 240, 60), metric, 1e-5 * metric);
    herd_model_free(m);
    herd_frame_free(rep);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* HERD_SPLIT_LAST with an ordering column validates on the latest rows. */
static void test_split_by_order_column(void **state)
{
    (void)state;
    size_t sizes[1] = {100};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.3);
    herd_fit_options o;
    base_options(&o);
    o.split = HERD_SPLIT_LAST;
    o.valid_order_by = "t";
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    double metric = cell_num(rep, "valid_metric", 0);
    size_t rows[20], k = 0;
    for (size_t r = 0; r < 100; r++)
        if (fx.d.t[r] >= 80) rows[k++] = r;
    assert_int_equal(k, 20);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    double pred[20], y[20];
    assert_int_equal(herd_model_predict(m, fx.frame, rows, 20, 0, pred, 20), HERD_OK);
    for (size_t i = 0; i < 20; i++) y[i] = fx.d.y[rows[i]];
    assert_float_equal(rmse_of(pred, y, 20), metric, 1e-5 * metric);
    herd_model_free(m);
    herd_frame_free(rep);
    herd_fit_result_free(set);

    /* the same order as ISO 8601 timestamps in a string column, with two
     * spellings of UTC and one other offset: the same split, the same model */
    char text[100][40];
    const char *ts[100];
    for (size_t r = 0; r < 100; r++) {
        int t = (int)fx.d.t[r];
        if (r % 3 == 0) /* the same instant, written two hours ahead */
            snprintf(text[r], sizeof text[r], "1970-01-01T%02d:%02d:%02d+02:00", 2 + t / 3600,
                     t / 60 % 60, t % 60);
        else
            snprintf(text[r], sizeof text[r], "1970-01-01T%02d:%02d:%02d%s", t / 3600,
                     t / 60 % 60, t % 60, r % 3 == 1 ? "Z" : "+00:00");
        ts[r] = text[r];
    }
    assert_int_equal(herd_frame_add_column(fx.frame, "ts", HERD_TYPE_STRING, ts, 100, NULL),
                     HERD_OK);
    o.valid_order_by = "ts";
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    assert_float_equal(cell_num(rep, "valid_metric", 0), metric, 1e-12 * metric);
    herd_frame_free(rep);
    herd_fit_result_free(set);
    /* a value that is not a timestamp is named with its row and column */
    snprintf(text[7], sizeof text[7], "1970-01-01T00:00:61Z");
    assert_int_equal(herd_frame_add_column(fx.frame, "bad_ts", HERD_TYPE_STRING, ts, 100, NULL),
                     HERD_OK);
    o.valid_order_by = "bad_ts";
    set = (herd_fit_result *)1;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    assert_null(set);
    const char *want[] = {"valid_order_by", "'bad_ts'", "row 7", "00:00:61", "second 61"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(herd_last_error(), want[i]))
            fail_msg("'%s' lacks '%s'", herd_last_error(), want[i]);
    fixture_free(&fx);
}

static void test_cross_validation(void **state)
{
    (void)state;
    size_t sizes[3] = {90, 120, 60};
    fixture fx;
    fixture_make(&fx, 3, sizes, 0.5);
    herd_fit_options o;
    base_options(&o);
    o.cv_folds = 3;
    o.metric = "mae";
    herd_fit_result *a = NULL, *b = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &a), HERD_OK);
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 1;
    assert_int_equal(herd_fit(fx.groups, &o, &ao, &b), HERD_OK);
    herd_frame *ra = NULL, *rb = NULL;
    assert_int_equal(herd_fit_result_report(a, &ra), HERD_OK);
    assert_int_equal(herd_fit_result_report(b, &rb), HERD_OK);
    for (size_t g = 0; g < 3; g++) {
        double mean = cell_num(ra, "cv_mean", g), sd = cell_num(ra, "cv_std", g);
        assert_true(mean > 0 && isfinite(mean));
        assert_true(sd >= 0 && sd < mean);
        assert_string_equal(cell_str(ra, "metric", g), "mae");
        /* folds in parallel or not: the same numbers */
        assert_true(mean == cell_num(rb, "cv_mean", g));
        assert_true(sd == cell_num(rb, "cv_std", g));
    }
    herd_frame_free(ra);
    herd_frame_free(rb);
    herd_fit_result_free(a);
    herd_fit_result_free(b);
    fixture_free(&fx);
}

/* Grouped prediction: frame row order, NaN for groups without a model. */
static void test_grouped_predict(void **state)
{
    (void)state;
    size_t sizes[3] = {80, 4, 90};
    fixture fx;
    fixture_make(&fx, 3, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK); /* group 1: min_rows */
    herd_frame *pred = NULL;
    size_t without = 99;
    assert_int_equal(herd_predict(fx.groups, set, NULL, &pred, &without), HERD_OK);
    assert_int_equal(without, 4);
    assert_int_equal(herd_frame_row_count(pred), 174);
    assert_string_equal(herd_frame_column_name(pred, 0), "prediction");
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "2", &m), HERD_OK);
    double direct[90];
    size_t rows[90];
    for (size_t i = 0; i < 90; i++) rows[i] = 84 + i;
    assert_int_equal(herd_model_predict(m, fx.frame, rows, 90, 1, direct, 90), HERD_OK);
    for (size_t i = 0; i < 90; i++) {
        double v;
        herd_frame_get_double(pred, 0, 84 + i, &v);
        assert_true(v == direct[i]);
    }
    for (size_t r = 80; r < 84; r++) assert_false(herd_frame_is_present(pred, 0, r));
    assert_true(herd_frame_is_present(pred, 0, 0));
    herd_model_free(m);
    herd_frame_free(pred);

    assert_int_equal(herd_predict(NULL, set, NULL, &pred, NULL), HERD_EINVAL);
    assert_null(pred);
    assert_int_equal(herd_predict(fx.groups, NULL, NULL, &pred, NULL), HERD_EINVAL);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* Prediction looks features up by name and checks their types. */
static void test_model_predict_checks(void **state)
{
    (void)state;
    size_t sizes[1] = {60};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    double out[60];

    /* Columns in another order (and an extra one) predict the same. */
    herd_frame *g = NULL;
    assert_int_equal(herd_frame_new(&g), HERD_OK);
    assert_int_equal(herd_frame_add_column(g, "promo", HERD_TYPE_INT32, fx.d.promo, 60, NULL), 0);
    assert_int_equal(herd_frame_add_column(g, "extra", HERD_TYPE_FLOAT64, fx.d.y, 60, NULL), 0);
    assert_int_equal(herd_frame_add_column(g, "x1", HERD_TYPE_FLOAT64, fx.d.x1, 60, NULL), 0);
    double swapped[60];
    assert_int_equal(herd_model_predict(m, g, NULL, 60, 1, swapped, 60), HERD_ENOTFOUND);
    ERR_HAS("feature 'x0'");
    assert_int_equal(herd_frame_add_column(g, "x0", HERD_TYPE_FLOAT64, fx.d.x0, 60, NULL), 0);
    assert_int_equal(herd_model_predict(m, g, NULL, 60, 1, swapped, 60), HERD_OK);
    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 60, 1, out, 60), HERD_OK);
    assert_memory_equal(out, swapped, sizeof out);
    herd_frame_free(g);

    /* A float column where the model was trained on integers. */
    double promo_f[60];
    for (size_t i = 0; i < 60; i++) promo_f[i] = fx.d.promo[i];
    assert_int_equal(herd_frame_new(&g), HERD_OK);
    herd_frame_add_column(g, "x0", HERD_TYPE_FLOAT64, fx.d.x0, 60, NULL);
    herd_frame_add_column(g, "x1", HERD_TYPE_FLOAT64, fx.d.x1, 60, NULL);
    herd_frame_add_column(g, "promo", HERD_TYPE_FLOAT64, promo_f, 60, NULL);
    assert_int_equal(herd_model_predict(m, g, NULL, 60, 1, out, 60), HERD_ETYPE);
    ERR_HAS("column 'promo' is float64 but the model's feature 'promo' is int");
    herd_frame_free(g);

    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 60, 1, out, 59), HERD_EINVAL);
    ERR_HAS("out holds 59 values");
    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 59, 1, out, 60), HERD_EINVAL);
    ERR_HAS("rows is NULL");
    size_t bad_rows[1] = {60};
    assert_int_equal(herd_model_predict(m, fx.frame, bad_rows, 1, 1, out, 60), HERD_EINVAL);
    ERR_HAS("rows[0] is 60");
    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 60, -1, out, 60), HERD_EINVAL);
    assert_int_equal(herd_model_predict(NULL, fx.frame, NULL, 60, 1, out, 60), HERD_EINVAL);
    herd_model_free(m);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

static void test_model_save_load_round_trip(void **state)
{
    (void)state;
    size_t sizes[1] = {80};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    double want[80], got[80];
    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 80, 1, want, 80), HERD_OK);
    for (int format = HERD_MODEL_UBJSON; format <= HERD_MODEL_JSON; format++) {
        void *buf = NULL;
        size_t len = 0;
        assert_int_equal(herd_model_save(m, format, &buf, &len), HERD_OK);
        assert_true(len > 100);
        if (format == HERD_MODEL_JSON) assert_int_equal(((char *)buf)[0], '{');
        herd_model *back = NULL;
        assert_int_equal(herd_model_load(buf, len, &back), HERD_OK);
        assert_string_equal(herd_model_feature_name(back, 1), "x1");
        assert_string_equal(herd_model_feature_type(back, 2), "int");
        assert_string_equal(herd_model_objective(back), "reg:squarederror");
        assert_int_equal(herd_model_predict(back, fx.frame, NULL, 80, 2, got, 80), HERD_OK);
        assert_memory_equal(want, got, sizeof want);
        herd_model_free(back);
        herd_free(buf);
    }
    void *buf;
    size_t len;
    assert_int_equal(herd_model_save(m, 7, &buf, &len), HERD_EINVAL);
    ERR_HAS("format 7");
    herd_model *bad = NULL;
    /* herd's own check (modelcheck.c) rejects it before XGBoost sees it */
    assert_int_equal(herd_model_load("{\"not\": \"a model\"}", 18, &bad), HERD_EFORMAT);
    ERR_HAS("not an XGBoost model");
    assert_null(bad);
    assert_int_equal(herd_model_load("x", 0, &bad), HERD_EINVAL);
    ERR_HAS("empty");
    assert_int_equal(herd_model_load(NULL, 5, &bad), HERD_EINVAL);
    herd_model_free(NULL);
    herd_free(NULL);
    herd_model_free(m);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* The start of the first value of `key`'s array in a saved model, or NULL:
 * UBJSON "L<8-byte length>key[$l#L<8-byte count>" or JSON "\"key\":[". */
static unsigned char *first_of_array(unsigned char *buf, size_t len, const char *key, int json)
{
    char pat[64];
    size_t plen = json ? (size_t)snprintf(pat, sizeof pat, "\"%s\":[", key)
                       : (size_t)snprintf(pat, sizeof pat, "%s[$l#L", key);
    unsigned char *p = memmem(buf, len, pat, plen);
    return p ? p + plen + (json ? 0 : 8) : NULL;
}

/* A model with one child index out of range loads in XGBoost 1.7 and then
 * crashes it at predict.  herd_model_load rejects it, in both formats,
 * while the untouched model loads and predicts. */
static void test_crafted_model_rejected(void **state)
{
    (void)state;
    size_t sizes[1] = {80};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    double want[80], got[80];
    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 80, 1, want, 80), HERD_OK);
    for (int format = HERD_MODEL_UBJSON; format <= HERD_MODEL_JSON; format++) {
        void *buf = NULL;
        size_t len = 0;
        assert_int_equal(herd_model_save(m, format, &buf, &len), HERD_OK);
        herd_model *back = NULL;
        assert_int_equal(herd_model_load(buf, len, &back), HERD_OK);
        assert_int_equal(herd_model_predict(back, fx.frame, NULL, 80, 1, got, 80), HERD_OK);
        assert_memory_equal(want, got, sizeof want);
        herd_model_free(back);

        /* node 0's right child becomes 99 (in JSON the digits are
         * replaced and the rest of the text shifted) */
        unsigned char *crafted = malloc(len + 8);
        assert_non_null(crafted);
        memcpy(crafted, buf, len);
        size_t clen = len;
        unsigned char *p =
            first_of_array(crafted, len, "right_children", format == HERD_MODEL_JSON);
        assert_non_null(p);
        if (format == HERD_MODEL_UBJSON) {
            p[0] = 0, p[1] = 0, p[2] = 0, p[3] = 99;
        } else {
            size_t digits = strspn((char *)p, "0123456789");
            memmove(p + 2, p + digits, len - (size_t)(p + digits - crafted));
            memcpy(p, "99", 2);
            clen = len - digits + 2;
        }
        assert_int_equal(herd_model_load(crafted, clen, &back), HERD_ECORRUPT);
        assert_null(back);
        ERR_HAS("tree 0, node 0: right child 99 is out of range (the tree has ");
        if (format == HERD_MODEL_UBJSON) ERR_HAS("(byte ");
        free(crafted);
        herd_free(buf);
    }
    herd_model_free(m);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* Binary and multiclass objectives, with their default metrics. */
static void test_classification(void **state)
{
    (void)state;
    size_t sizes[2] = {150, 150};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.1);
    double *y = fx.d.y;
    for (size_t r = 0; r < 300; r++) y[r] = fx.d.x0[r] + 0.2 * fx.d.x1[r] > 0.6 ? 1 : 0;
    herd_fit_options o;
    base_options(&o);
    const char *n1[] = {"objective"}, *v1[] = {"binary:logistic"};
    o.param_names = n1;
    o.param_values = v1;
    o.n_params = 1;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    assert_string_equal(cell_str(rep, "metric", 0), "logloss");
    assert_true(cell_num(rep, "valid_metric", 0) < 0.5);
    herd_frame_free(rep);
    herd_fit_result_free(set);

    for (size_t r = 0; r < 300; r++) y[r] = fx.d.x0[r] < 0.33 ? 0 : fx.d.x0[r] < 0.66 ? 1 : 2;
    const char *n2[] = {"objective", "num_class"}, *v2[] = {"multi:softprob", "3"};
    o.param_names = n2;
    o.param_values = v2;
    o.n_params = 2;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    assert_string_equal(cell_str(rep, "metric", 1), "mlogloss");
    herd_frame *pred = NULL;
    assert_int_equal(herd_predict(fx.groups, set, NULL, &pred, NULL), HERD_OK);
    assert_int_equal(herd_frame_column_count(pred), 3);
    assert_string_equal(herd_frame_column_name(pred, 2), "prediction_2");
    double sum = 0, v;
    for (size_t k = 0; k < 3; k++) {
        herd_frame_get_double(pred, k, 10, &v);
        sum += v;
    }
    assert_float_equal(sum, 1.0, 1e-5);
    herd_frame_free(pred);
    herd_frame_free(rep);
    herd_fit_result_free(set);

    o.n_params = 1; /* multi:softprob without num_class */
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_EINVAL);
    ERR_HAS("num_class");
    fixture_free(&fx);
}

typedef struct log_seen {
    int xgboost_lines;
    int records;
    int other_thread; /* records delivered on a thread other than the caller's */
    int failed_group; /* "group '...' failed" records */
    int skipped_group;
    pthread_t caller;
} log_seen;

static void count_xgboost(const herd_log_record *r, void *user)
{
    log_seen *s = user;
    s->records++;
    if (!pthread_equal(pthread_self(), s->caller)) s->other_thread++;
    if (strncmp(r->message, "XGBoost: ", 9) == 0 && strcmp(r->source, "xgboost") == 0)
        s->xgboost_lines++;
    if (strstr(r->message, "' failed: ") && r->group) s->failed_group++;
    if (strstr(r->message, "' skipped: ") && r->group) s->skipped_group++;
}

/* XGBoost's own warnings reach the host's log callback, from every worker. */
static void test_xgboost_log_forwarded(void **state)
{
    (void)state;
    size_t sizes[2] = {40, 40};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.1);
    log_seen seen = {0};
    seen.caller = pthread_self();
    herd_log_set(count_xgboost, &seen, HERD_LOG_DEBUG);
    herd_fit_options o;
    base_options(&o);
    /* verbosity 2 makes every booster log at INFO level. */
    const char *n[] = {"verbosity"}, *v[] = {"2"};
    o.param_names = n;
    o.param_values = v;
    o.n_params = 1;
    herd_fit_result *set = NULL;
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 2;
    assert_int_equal(herd_fit(fx.groups, &o, &ao, &set), HERD_OK);
    herd_log_set(NULL, NULL, 0);
    assert_true(seen.xgboost_lines > 0);
    assert_int_equal(seen.other_thread, 0); /* every record on the calling thread */
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* Every skipped and failed group is a record naming its group and reason,
 * on the calling thread. */
static void test_skip_and_fail_records(void **state)
{
    (void)state;
    size_t sizes[4] = {60, 5, 60, 60};
    fixture fx;
    fixture_make(&fx, 4, sizes, 0.1);
    for (size_t r = 65; r < 125; r++) fx.d.y[r] = 7.5; /* group 2: constant label */
    fx.d.y[140] = NAN;                                 /* group 3: a NaN label */
    log_seen seen = {0};
    seen.caller = pthread_self();
    herd_log_set(count_xgboost, &seen, HERD_LOG_INFO);
    herd_fit_options o;
    base_options(&o);
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 2;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, &ao, &set), HERD_OK);
    herd_log_set(NULL, NULL, 0);
    assert_int_equal(seen.skipped_group, 2);
    assert_int_equal(seen.failed_group, 1);
    assert_int_equal(seen.other_thread, 0);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* The host's own XGBoost log callback, registered on its thread (as the
 * xgboost Python package does), is neither replaced nor fed by herd's
 * XGBoost work on that thread (the fit's parameter probe, predicting,
 * preparing a predictor, loading, saving), and the thread's XGBoost verbosity is left as it was,
 * even when herd's parameters set another one. */
static int host_xgb_lines;

static void host_xgb_log(const char *msg)
{
    (void)msg;
    host_xgb_lines++;
}

/* An XGBoost warning on this thread: an unused parameter. */
static void xgb_warn_here(void)
{
    float x[4] = {0, 1, 2, 3}, y[4] = {0, 1, 0, 1};
    DMatrixHandle m = NULL;
    BoosterHandle b = NULL;
    assert_int_equal(XGDMatrixCreateFromMat(x, 4, 1, NAN, &m), 0);
    assert_int_equal(XGDMatrixSetFloatInfo(m, "label", y, 4), 0);
    assert_int_equal(XGBoosterCreate(&m, 1, &b), 0);
    assert_int_equal(XGBoosterSetParam(b, "validate_parameters", "1"), 0);
    assert_int_equal(XGBoosterSetParam(b, "not_a_parameter_of_xgboost", "1"), 0);
    assert_int_equal(XGBoosterUpdateOneIter(b, 0, m), 0);
    XGBoosterFree(b);
    XGDMatrixFree(m);
}

static int thread_verbosity(void)
{
    const char *cfg = NULL;
    assert_int_equal(XGBGetGlobalConfig(&cfg), 0);
    const char *v = strstr(cfg, "\"verbosity\":");
    assert_non_null(v);
    return atoi(v + strlen("\"verbosity\":"));
}

static void test_host_xgboost_callback_survives(void **state)
{
    (void)state;
    assert_int_equal(XGBRegisterLogCallback(host_xgb_log), 0);
    host_xgb_lines = 0;
    xgb_warn_here();
    assert_true(host_xgb_lines > 0); /* the trigger works */
    assert_int_equal(thread_verbosity(), 1);

    size_t sizes[2] = {40, 40};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.1);
    log_seen seen = {0};
    seen.caller = pthread_self();
    herd_log_set(count_xgboost, &seen, HERD_LOG_DEBUG);
    herd_fit_options o;
    base_options(&o);
    const char *n[] = {"verbosity"}, *v[] = {"3"};
    o.param_names = n;
    o.param_values = v;
    o.n_params = 1;
    host_xgb_lines = 0;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    double pred[80];
    assert_int_equal(herd_model_predict(m, fx.frame, NULL, 80, 1, pred, 80), HERD_OK);
    herd_predictor *p = NULL; /* prepared, used and freed on this thread */
    assert_int_equal(herd_predictor_new(m, NULL, &p), HERD_OK);
    assert_int_equal(herd_predictor_predict(p, fx.frame, NULL, 80, pred, 80), HERD_OK);
    double row[3] = {0.5, 0.5, 1};
    assert_int_equal(herd_predictor_predict_dense(p, row, 1, 3, pred, 1), HERD_OK);
    herd_predictor_free(p);
    void *json = NULL;
    size_t len = 0;
    assert_int_equal(herd_model_save(m, HERD_MODEL_JSON, &json, &len), HERD_OK);
    herd_model *back = NULL;
    assert_int_equal(herd_model_load(json, len, &back), HERD_OK);
    herd_free(json);
    herd_model_free(back);
    herd_model_free(m);
    herd_fit_result_free(set);
    herd_log_set(NULL, NULL, 0);
    assert_int_equal(host_xgb_lines, 0);    /* herd's XGBoost work stayed herd's */
    assert_true(seen.xgboost_lines > 0);    /* the workers' went to herd's records */
    assert_int_equal(seen.other_thread, 0);
    assert_int_equal(thread_verbosity(), 1); /* "verbosity" 3 did not stick */
    xgb_warn_here();
    assert_true(host_xgb_lines > 0); /* the host's callback is still registered */
    fixture_free(&fx);
}

/* A weight column weights training and the validation metric; a negative
 * weight fails its group with the row. */
static void test_weights(void **state)
{
    (void)state;
    size_t sizes[2] = {100, 100};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.5);
    double w[200];
    for (size_t r = 0; r < 200; r++) w[r] = 1.0 + (double)(r % 3);
    w[150] = -1;
    assert_int_equal(herd_frame_add_column(fx.frame, "w", HERD_TYPE_FLOAT64, w, 200, NULL),
                     HERD_OK);
    herd_fit_options o;
    base_options(&o);
    o.weight = "w";
    o.split = HERD_SPLIT_LAST;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    assert_string_equal(cell_str(rep, "status", 0), "ok");
    assert_string_equal(cell_str(rep, "status", 1), "failed");
    assert_non_null(strstr(cell_str(rep, "message", 1), "weight 'w' is -1 at frame row 150"));
    /* The reported metric is the weighted RMSE of the model's predictions
     * on the last 20 rows. */
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    size_t rows[20];
    double pred[20], num = 0, den = 0;
    for (size_t i = 0; i < 20; i++) rows[i] = 80 + i;
    assert_int_equal(herd_model_predict(m, fx.frame, rows, 20, 1, pred, 20), HERD_OK);
    for (size_t i = 0; i < 20; i++) {
        double e = pred[i] - fx.d.y[80 + i];
        num += w[80 + i] * e * e;
        den += w[80 + i];
    }
    double want = sqrt(num / den), got = cell_num(rep, "valid_metric", 0);
    assert_true(fabs(got - want) <= 1e-6 * want);
    herd_model_free(m);
    herd_frame_free(rep);
    herd_fit_result_free(set);

    o.weight = "x_missing";
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_ENOTFOUND);
    assert_non_null(strstr(herd_last_error(), "weight column"));
    fixture_free(&fx);
}

/* Freeing a handle never changes the calling thread's last error: a host
 * that frees its handles before reporting a failure reports the failure. */
#define EXPECT_FREE_KEEPS_ERROR(free_call)                                         \
    do {                                                                           \
        herd_error_set(HERD_ECORRUPT, "pending: the caller's error");             \
        free_call;                                                                 \
        if (herd_last_error_code() != HERD_ECORRUPT ||                             \
            strcmp(herd_last_error(), "pending: the caller's error"))             \
            fail_msg("%s changed the last error to %d \"%s\"", #free_call,         \
                     herd_last_error_code(), herd_last_error());                  \
    } while (0)

static void test_destructors_keep_the_last_error(void **state)
{
    (void)state;
    size_t sizes[2] = {60, 5}; /* the second group is skipped: no model */
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *m = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &m), HERD_OK);
    herd_artifact *a = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, &a), HERD_OK);
    herd_uri *u = NULL;
    assert_int_equal(herd_uri_parse("herd:demand/store_17@champion", &u), HERD_OK);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(herd_model_save(m, HERD_MODEL_UBJSON, &bytes, &len), HERD_OK);

    EXPECT_FREE_KEEPS_ERROR(herd_free(bytes));
    EXPECT_FREE_KEEPS_ERROR(herd_uri_free(u));
    EXPECT_FREE_KEEPS_ERROR(herd_artifact_free(a));
    EXPECT_FREE_KEEPS_ERROR(herd_model_free(m));
    EXPECT_FREE_KEEPS_ERROR(herd_fit_result_free(set));
    EXPECT_FREE_KEEPS_ERROR(herd_groups_free(fx.groups));
    EXPECT_FREE_KEEPS_ERROR(herd_frame_free(fx.frame));
    fx.groups = NULL;
    fx.frame = NULL;
    /* NULL too, and an empty error stays empty. */
    EXPECT_FREE_KEEPS_ERROR(herd_frame_free(NULL));
    herd_clear_error();
    herd_uri_free(NULL);
    assert_int_equal(herd_last_error_code(), HERD_OK);
    assert_string_equal(herd_last_error(), "");
    fixture_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_report_and_models),
        cmocka_unit_test(test_bad_parameters_rejected_up_front),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_skips_and_failure_isolation),
        cmocka_unit_test(test_determinism_across_threads),
        cmocka_unit_test(test_early_stopping_slices_model),
        cmocka_unit_test(test_split_by_order_column),
        cmocka_unit_test(test_cross_validation),
        cmocka_unit_test(test_grouped_predict),
        cmocka_unit_test(test_model_predict_checks),
        cmocka_unit_test(test_model_save_load_round_trip),
        cmocka_unit_test(test_crafted_model_rejected),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_xgboost_log_forwarded),
        cmocka_unit_test(test_host_xgboost_callback_survives),
        cmocka_unit_test(test_skip_and_fail_records),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_destructors_keep_the_last_error),
    };
    return cmocka_run_group_tests_name("fit", tests, NULL, NULL);
}
