/* fit.c -- one XGBoost model per group.
 *
 * Everything that can be checked once is checked before any group trains
 * (columns, parameter names, parameter values through a one-round probe on
 * the calling thread), so a mistake costs one error, not one per group.
 * Each group then trains inside one task on one worker thread: its
 * DMatrix, booster and buffers are created and freed there (XGBoost keeps
 * per-thread state that only the creating thread may release).  Groups
 * are independent and seeded by their key, so the models do not depend on
 * the number of threads or the order in which groups run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "data/order_internal.h"
#include "model/metrics_internal.h"
#include "model/model_internal.h"
#include "model/predictor_internal.h"
#include "model/xgb_internal.h"
#include "artifact/artifact_internal.h"
#include "train/apply_internal.h"
#include "train/fit_internal.h"


/* tree_method and max_bin by training rows, unless the caller chose.
 * Measured (docs/performance.md): the exact greedy search wins only on the
 * smallest groups; from about 150 rows histograms with few bins are the
 * fastest at equal or better accuracy, and XGBoost's 256 bins pay off only
 * on large groups. */
typedef struct hd_tree_choice {
    size_t below_rows;
    const char *tree_method;
    const char *max_bin; /* NULL: XGBoost's default (256) */
} hd_tree_choice;

static const hd_tree_choice hd_tree_choices[] = {
    {128, "exact", NULL},
    {16384, "hist", "32"},
    {131072, "hist", "64"},
    {SIZE_MAX, "hist", NULL},
};

static const hd_tree_choice *hd_choose_tree(size_t ntrain)
{
    size_t i = 0;
    while (ntrain >= hd_tree_choices[i].below_rows) i++;
    return &hd_tree_choices[i];
}

/* ---- the plan: everything decided before training ------------------------ */

typedef struct hd_fit_plan {
    const herd_groups *groups;
    const herd_frame *frame;
    herd_fit_options o; /* the caller's options, completed with defaults */
    size_t nf;
    size_t *fcols;
    const char **fnames;
    const char **ftypes;
    size_t label_col, weight_col, order_col;
    int has_weight, has_order;
    int user_tree_method, user_seed;
    const char *objective;
    size_t num_class;
    hd_metric metric;
    herd_fit_result *set;
    double *cv_values; /* ngroups * cv_folds */
    double *order_keys; /* valid_order_by's sort key per frame row (dates parsed) */
} hd_fit_plan;

static void hd_plan_free(hd_fit_plan *p)
{
    free(p->fcols);
    free(p->fnames);
    free(p->ftypes);
    free(p->cv_values);
    free(p->order_keys);
}

static int hd_numeric_column(const herd_frame *f, const char *name, const char *role,
                             size_t *col)
{
    int rc = herd_frame_find(f, name, col);
    if (rc) return hd_error_prefix("%s column: ", role);
    int type = herd_frame_column_type(f, *col);
    if (type == HERD_TYPE_STRING)
        return hd_error(HERD_ETYPE, "%s column '%s' holds strings; it must be numeric", role,
                        name);
    return HERD_OK;
}

static int hd_plan_columns(hd_fit_plan *p)
{
    const herd_fit_options *o = &p->o;
    if (!o->label) return hd_error(HERD_EINVAL, "fit options: label is NULL; name the label column");
    if (!o->features || o->n_features == 0)
        return hd_error(HERD_EINVAL, "fit options: no features; name at least one feature column");
    int rc = hd_numeric_column(p->frame, o->label, "label", &p->label_col);
    if (rc) return rc;
    if (o->weight) {
        rc = hd_numeric_column(p->frame, o->weight, "weight", &p->weight_col);
        if (rc) return rc;
        p->has_weight = 1;
    }
    if (o->valid_order_by) {
        rc = herd_frame_find(p->frame, o->valid_order_by, &p->order_col);
        if (rc) return hd_error_prefix("valid_order_by column: ");
        /* numbers, or ISO 8601 dates parsed once (the first bad one named) */
        rc = hd_order_keys(p->frame, p->order_col, "fit options: valid_order_by",
                           &p->order_keys);
        if (rc) return rc;
        p->has_order = 1;
    }
    p->nf = o->n_features;
    p->fcols = hd_malloc(p->nf, sizeof *p->fcols);
    p->fnames = hd_malloc(p->nf, sizeof *p->fnames);
    p->ftypes = hd_malloc(p->nf, sizeof *p->ftypes);
    if (!p->fcols || !p->fnames || !p->ftypes) return HERD_ENOMEM;
    for (size_t j = 0; j < p->nf; j++) {
        const char *name = o->features[j];
        if (!name) return hd_error(HERD_EINVAL, "fit options: features[%zu] is NULL", j);
        rc = hd_numeric_column(p->frame, name, "feature", &p->fcols[j]);
        if (rc) return rc;
        for (size_t k = 0; k < j; k++)
            if (p->fcols[k] == p->fcols[j])
                return hd_error(HERD_EINVAL, "feature '%s' is listed twice", name);
        if (p->fcols[j] == p->label_col)
            return hd_error(HERD_EINVAL,
                            "feature '%s' is also the label; a model must not see its label",
                            name);
        if (p->has_weight && p->fcols[j] == p->weight_col)
            return hd_error(HERD_EINVAL, "feature '%s' is also the weight column", name);
        int type = herd_frame_column_type(p->frame, p->fcols[j]);
        p->fnames[j] = herd_frame_column_name(p->frame, p->fcols[j]);
        p->ftypes[j] = (type == HERD_TYPE_INT32 || type == HERD_TYPE_INT64) ? "int" : "float";
    }
    return HERD_OK;
}

static const char *hd_param(const hd_fit_plan *p, const char *name)
{
    for (size_t i = 0; i < p->o.n_params; i++)
        if (strcmp(p->o.param_names[i], name) == 0) return p->o.param_values[i];
    return NULL;
}

/* Objectives herd can evaluate: their predictions are what the metrics
 * expect (values, probabilities, classes). */
static int hd_plan_objective(hd_fit_plan *p, int *kind)
{
    const char *obj = hd_param(p, "objective");
    p->objective = obj ? obj : "reg:squarederror";
    static const char *const regression[] = {
        "reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror",
        "reg:absoluteerror", "reg:logistic", "count:poisson", "reg:gamma", "reg:tweedie"};
    for (size_t i = 0; i < sizeof regression / sizeof *regression; i++)
        if (strcmp(p->objective, regression[i]) == 0) {
            *kind = HD_METRIC_REGRESSION;
            return HERD_OK;
        }
    if (strcmp(p->objective, "binary:logistic") == 0 || strcmp(p->objective, "binary:hinge") == 0) {
        *kind = HD_METRIC_BINARY;
        return HERD_OK;
    }
    if (strcmp(p->objective, "multi:softprob") == 0) {
        const char *nc = hd_param(p, "num_class");
        char *end = NULL;
        long k = nc ? strtol(nc, &end, 10) : 0;
        if (!nc || *end || k < 2 || k > 100000)
            return hd_error(HERD_EINVAL,
                            "objective multi:softprob needs the parameter num_class (2 or more)%s",
                            nc ? "; the value given is not such a number" : "");
        p->num_class = (size_t)k;
        *kind = HD_METRIC_MULTICLASS;
        return HERD_OK;
    }
    const char *why = "it is not an objective herd supports";
    if (strcmp(p->objective, "multi:softmax") == 0)
        why = "it predicts classes, not probabilities; use multi:softprob (the class is the "
              "most probable one)";
    else if (strncmp(p->objective, "rank:", 5) == 0)
        why = "ranking needs query groups inside each group's data";
    else if (strncmp(p->objective, "survival:", 9) == 0)
        why = "survival objectives need interval labels";
    else if (strcmp(p->objective, "binary:logitraw") == 0)
        why = "it predicts margins; use binary:logistic";
    else if (strcmp(p->objective, "reg:linear") == 0)
        why = "it is deprecated; use reg:squarederror";
    return hd_error(HERD_EINVAL,
                    "objective '%s' cannot be used: %s. Supported: reg:squarederror, "
                    "reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror, "
                    "reg:logistic, count:poisson, reg:gamma, reg:tweedie, binary:logistic, "
                    "binary:hinge, multi:softprob",
                    p->objective, why);
}

static int hd_plan_metric(hd_fit_plan *p, int kind)
{
    char name[64];
    const char *m = p->o.metric;
    if (!m) {
        if (kind == HD_METRIC_MULTICLASS) m = "mlogloss";
        else if (strcmp(p->objective, "binary:hinge") == 0) m = "error";
        else if (kind == HD_METRIC_BINARY) m = "logloss";
        else if (strcmp(p->objective, "count:poisson") == 0) m = "poisson-deviance";
        else if (strcmp(p->objective, "reg:tweedie") == 0) {
            const char *power = hd_param(p, "tweedie_variance_power");
            snprintf(name, sizeof name, "tweedie-deviance@%s", power ? power : "1.5");
            m = name;
        } else m = "rmse";
    }
    int rc = hd_metric_parse(m, &p->metric);
    if (rc) return rc;
    if (p->metric.kind != kind)
        return hd_error(HERD_EINVAL,
                        "metric '%s' does not fit objective '%s': it is a %s metric",
                        p->metric.name, p->objective,
                        p->metric.kind == HD_METRIC_REGRESSION ? "regression"
                        : p->metric.kind == HD_METRIC_BINARY   ? "binary classification"
                                                               : "multiclass");
    return HERD_OK;
}

/* The checks that involve several options (each one's bounds were checked
 * when the options were read). */
static int hd_plan_numbers(const herd_fit_options *o)
{
    if (o->early_stopping_rounds > 0 && o->valid_fraction == 0)
        return hd_error(HERD_EINVAL,
                        "fit options: early stopping needs validation rows; set valid_fraction "
                        "above 0 or early_stopping_rounds to 0");
    if (o->valid_order_by && o->split != HERD_SPLIT_LAST)
        return hd_error(HERD_EINVAL,
                        "fit options: valid_order_by needs split = HERD_SPLIT_LAST");
    if (o->cv_folds == 1)
        return hd_error(HERD_EINVAL, "fit options: cv_folds is 1; give 0 (off) or 2..%s",
                        HD_NUMF("%.0f", hd_option_find(&hd_fit_options_desc, "cv_folds")->max));
    if ((size_t)o->cv_folds > o->min_rows)
        return hd_error(HERD_EINVAL,
                        "fit options: cv_folds (%d) is larger than min_rows (%zu); every fold "
                        "needs a row",
                        o->cv_folds, o->min_rows);
    return HERD_OK;
}

/* ---- per group: checks, split, DMatrix, booster ------------------------- */

static uint64_t hd_rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return hd_hash_u64(*s);
}

/* A seed per group and purpose, from the fit seed and the group's key: the
 * same whatever thread or order the group runs in. */
static uint64_t hd_group_seed(const hd_fit_plan *p, const char *key, uint64_t purpose)
{
    return hd_hash_bytes(key, strlen(key), p->o.seed ^ (purpose * 0x51ed2701ULL));
}

static int hd_check_group(const hd_fit_plan *p, const char *key, const size_t *rows, size_t n)
{
    const herd_frame *f = p->frame;
    const hd_column *label = hd_frame_col(f, p->label_col);
    if (n < p->o.min_rows) {
        char msg[160];
        snprintf(msg, sizeof msg, "min_rows: %zu rows, fewer than min_rows (%zu)", n,
                 p->o.min_rows);
        return herd_error_set(HERD_SKIP, msg);
    }
    double first = 0;
    int constant = 1;
    for (size_t i = 0; i < n; i++) {
        double y = hd_col_double(label, rows[i]);
        if (!isfinite(y))
            return hd_error(HERD_EFORMAT,
                            "group '%s': label '%s' is %s at frame row %zu; herd never drops "
                            "rows silently: fix or remove the row",
                            key, label->name, isnan(y) ? "missing (NaN)" : "infinite", rows[i]);
        if (i == 0) first = y;
        else if (y != first) constant = 0;
    }
    if (p->has_weight) {
        const hd_column *w = hd_frame_col(f, p->weight_col);
        for (size_t i = 0; i < n; i++) {
            double v = hd_col_double(w, rows[i]);
            if (!isfinite(v) || v < 0)
                return hd_error(HERD_EFORMAT,
                                "group '%s': weight '%s' is %s at frame row %zu; weights must "
                                "be finite and >= 0",
                                key, w->name, HD_NUMF("%g", v), rows[i]);
        }
    }
    if (constant) {
        char msg[160];
        snprintf(msg, sizeof msg, "constant label: every one of the %zu rows is %s", n,
                 HD_NUMF("%g", first));
        return herd_error_set(HERD_SKIP, msg);
    }
    for (size_t j = 0; j < p->nf; j++) {
        const hd_column *c = hd_frame_col(f, p->fcols[j]);
        size_t i = 0;
        while (i < n && !hd_col_present(c, rows[i])) i++;
        if (i == n) {
            char msg[400];
            snprintf(msg, sizeof msg, "all-missing feature: '%s' is missing in every row",
                     c->name);
            return herd_error_set(HERD_SKIP, msg);
        }
    }
    return HERD_OK;
}

static int hd_cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : (x > y);
}

/* Sort positions of a group's rows by the order_by column's keys, ties
 * by position: a stable time order. */
typedef struct hd_order_ctx {
    const double *keys; /* per frame row; NaN: missing */
    const size_t *rows; /* the group's rows, indexed by position */
} hd_order_ctx;

static int hd_cmp_order(const void *a, const void *b, void *ctx)
{
    const hd_order_ctx *c = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    double kx = c->keys[c->rows[x]], ky = c->keys[c->rows[y]];
    int px = !isnan(kx), py = !isnan(ky);
    int cmp = 0;
    if (px != py) cmp = px ? 1 : -1; /* missing times sort first */
    else if (px) cmp = kx < ky ? -1 : (kx > ky);
    if (cmp) return cmp;
    return x < y ? -1 : (x > y);
}

/* Split a group's rows into train and valid, both in the order `rows`
 * has them (ascending frame rows for herd_fit; the cycle passes its
 * training rows in holdout order), except that HERD_SPLIT_LAST keeps time
 * order.  Positions in `rows`, not frame row numbers, order the result and
 * break ties, so a group's rows give the same split wherever they sit in a
 * frame. */
static int hd_split(const hd_fit_plan *p, const char *key, const size_t *rows, size_t n,
                    size_t *train, size_t *ntrain, size_t *valid, size_t *nvalid)
{
    size_t nt = (size_t)((double)n * (1.0 - p->o.valid_fraction));
    if (nt < 1) nt = 1;
    if (nt > n) nt = n;
    *ntrain = nt;
    *nvalid = n - nt;
    size_t *pos = hd_malloc(n ? n : 1, sizeof *pos);
    if (!pos) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++) pos[i] = i;
    if (p->o.split == HERD_SPLIT_LAST) {
        if (p->has_order) {
            hd_order_ctx ctx = {p->order_keys, rows};
            qsort_r(pos, n, sizeof *pos, hd_cmp_order, &ctx);
        }
    } else {
        /* A seeded partial Fisher-Yates shuffle picks the validation rows. */
        uint64_t s = hd_group_seed(p, key, 1);
        for (size_t i = 0; i < n - nt; i++) {
            size_t j = i + (size_t)(hd_rng_next(&s) % (n - i));
            size_t t = pos[i];
            pos[i] = pos[j];
            pos[j] = t;
        }
        qsort(pos, n - nt, sizeof *pos, hd_cmp_size);
        qsort(pos + (n - nt), nt, sizeof *pos, hd_cmp_size);
        /* validation first in `pos`: move it behind the training rows */
        for (size_t i = 0; i < n - nt; i++) valid[i] = rows[pos[i]];
        for (size_t i = 0; i < nt; i++) train[i] = rows[pos[n - nt + i]];
        free(pos);
        return HERD_OK;
    }
    for (size_t i = 0; i < nt; i++) train[i] = rows[pos[i]];
    for (size_t i = nt; i < n; i++) valid[i - nt] = rows[pos[i]];
    free(pos);
    return HERD_OK;
}

/* Gathered data of some rows: features, labels (float for XGBoost, double
 * for metrics), weights. */
typedef struct hd_rows_data {
    size_t n;
    float *x, *y, *w;
    double *yd, *wd;
} hd_rows_data;

static void hd_rows_data_free(hd_rows_data *d)
{
    free(d->x), free(d->y), free(d->w), free(d->yd), free(d->wd);
    memset(d, 0, sizeof *d);
}

static int hd_rows_data_fill(const hd_fit_plan *p, const size_t *rows, size_t n, hd_rows_data *d)
{
    d->n = n;
    d->x = hd_malloc(n ? n : 1, p->nf * sizeof *d->x);
    d->y = hd_malloc(n, sizeof *d->y);
    d->yd = hd_malloc(n, sizeof *d->yd);
    d->w = p->has_weight ? hd_malloc(n, sizeof *d->w) : NULL;
    d->wd = p->has_weight ? hd_malloc(n, sizeof *d->wd) : NULL;
    if (!d->x || !d->y || !d->yd || (p->has_weight && (!d->w || !d->wd))) return HERD_ENOMEM;
    hd_frame_gather_f32(p->frame, p->fcols, p->nf, rows, n, d->x);
    const hd_column *label = hd_frame_col(p->frame, p->label_col);
    for (size_t i = 0; i < n; i++) {
        d->yd[i] = hd_col_double(label, rows[i]);
        d->y[i] = (float)d->yd[i];
    }
    if (p->has_weight) {
        const hd_column *w = hd_frame_col(p->frame, p->weight_col);
        for (size_t i = 0; i < n; i++) {
            d->wd[i] = hd_col_double(w, rows[i]);
            d->w[i] = (float)d->wd[i];
        }
    }
    return HERD_OK;
}

static int hd_dmatrix(const hd_fit_plan *p, const hd_rows_data *d, int nthread,
                      DMatrixHandle *out)
{
    DMatrixHandle m = NULL;
    HD_XGB(XGDMatrixCreateFromMat_omp(d->x, d->n, p->nf, NAN, &m, nthread),
           "building the training matrix");
    if (XGDMatrixSetFloatInfo(m, "label", d->y, d->n) ||
        (d->w && XGDMatrixSetFloatInfo(m, "weight", d->w, d->n)) ||
        XGDMatrixSetStrFeatureInfo(m, "feature_name", p->fnames, p->nf) ||
        XGDMatrixSetStrFeatureInfo(m, "feature_type", p->ftypes, p->nf)) {
        int rc = hd_xgb_error("setting labels and feature names");
        XGDMatrixFree(m);
        return rc;
    }
    *out = m;
    return HERD_OK;
}

/* Parameters: herd's defaults first, then the caller's, which win. */
static int hd_booster_configure(const hd_fit_plan *p, BoosterHandle b, size_t ntrain,
                                int nthread, const char **tree_method, const char **max_bin)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", nthread);
    HD_XGB(XGBoosterSetParam(b, "nthread", buf), "setting nthread");
    HD_XGB(XGBoosterSetParam(b, "verbosity", "1"), "setting verbosity");
    if (!p->user_seed) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)(p->o.seed & 0x7fffffffULL));
        HD_XGB(XGBoosterSetParam(b, "seed", buf), "setting the seed");
    }
    if (!p->user_tree_method) {
        const hd_tree_choice *c = hd_choose_tree(ntrain);
        *tree_method = c->tree_method;
        HD_XGB(XGBoosterSetParam(b, "tree_method", c->tree_method), "setting tree_method");
        if (c->max_bin && !hd_param(p, "max_bin")) {
            *max_bin = c->max_bin;
            HD_XGB(XGBoosterSetParam(b, "max_bin", c->max_bin), "setting max_bin");
        }
    }
    /* The booster, not only the DMatrix, must carry the feature names and
     * types for them to be saved with the model. */
    HD_XGB(XGBoosterSetStrFeatureInfo(b, "feature_name", p->fnames, p->nf), "naming features");
    HD_XGB(XGBoosterSetStrFeatureInfo(b, "feature_type", p->ftypes, p->nf), "typing features");
    for (size_t i = 0; i < p->o.n_params; i++) {
        if (XGBoosterSetParam(b, p->o.param_names[i], p->o.param_values[i])) {
            char what[300];
            snprintf(what, sizeof what, "parameter %s=%s", p->o.param_names[i],
                     p->o.param_values[i]);
            return hd_xgb_error(what);
        }
    }
    return HERD_OK;
}

/* Predictions of the current model for a cached DMatrix, as doubles. */
static int hd_predict_dmatrix(BoosterHandle b, DMatrixHandle m, size_t count, double *out)
{
    const char *cfg = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                      "\"iteration_end\": 0, \"strict_shape\": false}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    HD_XGB(XGBoosterPredictFromDMatrix(b, m, cfg, &shape, &dim, &res), "predicting");
    size_t total = 1;
    for (bst_ulong d = 0; d < dim; d++) total *= (size_t)shape[d];
    if (total != count)
        return hd_error(HERD_EINTERNAL, "XGBoost returned %zu predictions, expected %zu", total,
                        count);
    for (size_t i = 0; i < count; i++) out[i] = res[i];
    return HERD_OK;
}

static int hd_metric_of(const hd_fit_plan *p, const hd_rows_data *valid, const double *pred,
                        double *value)
{
    return hd_metric_eval(&p->metric, valid->yd, pred, valid->wd, valid->n, p->num_class, value,
                          NULL);
}

static int hd_better(const hd_fit_plan *p, double a, double b)
{
    return p->metric.higher_is_better ? a > b : a < b;
}

/* What one training run produced. */
typedef struct hd_train_out {
    void *ubj;
    size_t len;
    int best_iteration, rounds;
    double metric;
    int metric_failed; /* the metric was undefined: message in the last error */
    const char *tree_method;
    const char *max_bin; /* herd's choice, NULL when the caller's or XGBoost's */
} hd_train_out;

/* Boost, with early stopping when asked; keep the model as UBJSON, sliced
 * at the best iteration so that any XGBoost reader predicts the same. */
static int hd_boost(const hd_fit_plan *p, BoosterHandle b, DMatrixHandle dtrain,
                    DMatrixHandle dvalid, const hd_rows_data *valid, int keep_model,
                    const hd_rows_pred *extra, hd_train_out *out)
{
    size_t nout = valid->n * (p->num_class ? p->num_class : 1);
    double *pred = valid->n ? hd_malloc(nout, sizeof *pred) : NULL;
    if (valid->n && !pred) return HERD_ENOMEM;
    int es = p->o.early_stopping_rounds, rc = HERD_OK, trained = 0;
    int best = p->o.rounds - 1;
    double best_metric = NAN;
    for (int it = 0; it < p->o.rounds; it++) {
        if (XGBoosterUpdateOneIter(b, it, dtrain)) {
            rc = hd_xgb_error("training");
            goto done;
        }
        trained = it + 1;
        if (!es) continue;
        double m;
        if ((rc = hd_predict_dmatrix(b, dvalid, nout, pred)) ||
            (rc = hd_metric_of(p, valid, pred, &m)))
            goto done;
        if (it == 0 || hd_better(p, m, best_metric)) {
            best = it;
            best_metric = m;
        } else if (it - best >= es) {
            break;
        }
    }
    out->best_iteration = best;
    out->rounds = best + 1;
    if (es) {
        out->metric = best_metric;
    } else if (valid->n) {
        if ((rc = hd_predict_dmatrix(b, dvalid, nout, pred))) goto done;
        if (hd_metric_of(p, valid, pred, &out->metric)) {
            out->metric = NAN;
            out->metric_failed = 1;
        }
    } else {
        out->metric = NAN;
    }
    if (keep_model) {
        BoosterHandle keep = b, sliced = NULL;
        if (best + 1 < trained) {
            if (XGBoosterSlice(b, 0, best + 1, 1, &sliced)) {
                rc = hd_xgb_error("slicing the model at its best iteration");
                goto done;
            }
            keep = sliced;
        }
        bst_ulong len = 0;
        const char *buf = NULL;
        if (XGBoosterSaveModelToBuffer(keep, "{\"format\": \"ubj\"}", &len, &buf)) {
            rc = hd_xgb_error("saving the model");
        } else if ((out->ubj = hd_malloc(len, 1))) {
            memcpy(out->ubj, buf, len);
            out->len = len;
        } else {
            rc = HERD_ENOMEM;
        }
        /* The rows the caller will evaluate, by the very booster saved:
         * the predictions a reader of the saved model makes, without
         * loading it again. */
        if (!rc && extra && extra->n)
            rc = hd_booster_predict_frame(keep, p->nf, p->num_class ? p->num_class : 1,
                                          p->frame, p->fcols, extra->rows, extra->n,
                                          extra->out);
        if (sliced) XGBoosterFree(sliced);
    }
done:
    free(pred);
    return rc;
}

/* Train on `train` rows, evaluate on `valid` rows. */
static int hd_train(const hd_fit_plan *p, const size_t *train, size_t ntrain,
                    const size_t *valid, size_t nvalid, int nthread, int keep_model,
                    const hd_rows_pred *extra, hd_train_out *out)
{
    hd_rows_data dt = {0}, dv = {0};
    DMatrixHandle mats[2] = {NULL, NULL};
    BoosterHandle b = NULL;
    int rc = hd_rows_data_fill(p, train, ntrain, &dt);
    if (!rc) rc = hd_rows_data_fill(p, valid, nvalid, &dv);
    if (!rc) rc = hd_dmatrix(p, &dt, nthread, &mats[0]);
    if (!rc && nvalid) rc = hd_dmatrix(p, &dv, nthread, &mats[1]);
    /* The validation matrix joins the booster's prediction cache only when
     * early stopping predicts it after every round; otherwise XGBoost would
     * update its cached predictions every round for nothing. */
    int cache_valid = nvalid && p->o.early_stopping_rounds > 0;
    if (!rc && XGBoosterCreate(mats, cache_valid ? 2 : 1, &b))
        rc = hd_xgb_error("creating a booster");
    out->tree_method = hd_param(p, "tree_method");
    if (!rc) rc = hd_booster_configure(p, b, ntrain, nthread, &out->tree_method, &out->max_bin);
    if (!rc) rc = hd_boost(p, b, mats[0], mats[1], &dv, keep_model, extra, out);
    if (b) XGBoosterFree(b);
    if (mats[0]) XGDMatrixFree(mats[0]);
    if (mats[1]) XGDMatrixFree(mats[1]);
    hd_rows_data_free(&dt);
    hd_rows_data_free(&dv);
    return rc;
}

/* A fingerprint of a group's data for its artifact: every row in frame
 * order (so it does not depend on the split), each row's features as the
 * float32 values XGBoost trains on (every missing value as one NaN), its
 * label and weight, seeded by the column names.  Chunked so that memory
 * stays small whatever the group's size; the chunk size is part of the
 * definition. */
static int hd_data_fingerprint(const hd_fit_plan *p, const size_t *rows, size_t n,
                               uint64_t *out)
{
    enum { CHUNK = 256 };
    uint64_t h = hd_hash_bytes(p->o.label, strlen(p->o.label) + 1, n);
    for (size_t j = 0; j < p->nf; j++)
        h = hd_hash_combine(h, hd_hash_bytes(p->fnames[j], strlen(p->fnames[j]) + 1, j));
    if (p->has_weight)
        h = hd_hash_combine(h, hd_hash_bytes(p->o.weight, strlen(p->o.weight) + 1, 1));
    float *x = hd_malloc(CHUNK, p->nf * sizeof *x);
    if (!x) return HERD_ENOMEM;
    const hd_column *label = hd_frame_col(p->frame, p->label_col);
    const hd_column *w = p->has_weight ? hd_frame_col(p->frame, p->weight_col) : NULL;
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t k = n - i0 < CHUNK ? n - i0 : CHUNK;
        hd_frame_gather_f32(p->frame, p->fcols, p->nf, rows + i0, k, x);
        for (size_t i = 0; i < k * p->nf; i++)
            if (isnan(x[i])) x[i] = NAN;
        h = hd_hash_combine(h, hd_hash_bytes(x, k * p->nf * sizeof *x, 0));
        for (size_t i = 0; i < k; i++) {
            double v[2] = {hd_col_double(label, rows[i0 + i]),
                           w ? hd_col_double(w, rows[i0 + i]) : 0};
            h = hd_hash_combine(h, hd_hash_bytes(v, sizeof v, 0));
        }
    }
    free(x);
    *out = h;
    return HERD_OK;
}

/* ---- tasks ---------------------------------------------------------------- */

/* Train one group on `rows` (in the order given) into *item: checks,
 * fingerprint, split, boost.  HERD_SKIP with the reason for a group that
 * is skipped; errors name the group. */
static int hd_fit_rows(const hd_fit_plan *p, const char *key, const size_t *rows, size_t n,
                       int nthread, const hd_rows_pred *extra, hd_fitted *item)
{
    item->rows = n;
    int rc = hd_check_group(p, key, rows, n);
    if (!rc) rc = hd_data_fingerprint(p, rows, n, &item->fingerprint);
    if (rc) return rc;
    size_t *train = hd_malloc(n, sizeof *train), *valid = hd_malloc(n, sizeof *valid);
    size_t ntrain = 0, nvalid = 0;
    hd_train_out out = {0};
    rc = (train && valid) ? hd_split(p, key, rows, n, train, &ntrain, valid, &nvalid)
                          : HERD_ENOMEM;
    if (!rc) rc = hd_train(p, train, ntrain, valid, nvalid, nthread, 1, extra, &out);
    free(train);
    free(valid);
    if (!rc) {
        item->train_rows = ntrain;
        item->valid_rows = nvalid;
        item->valid_metric = out.metric;
        item->best_iteration = out.best_iteration;
        item->rounds = out.rounds;
        item->tree_method = out.tree_method;
        item->max_bin = out.max_bin;
        if (out.metric_failed) item->message = hd_strdup(herd_last_error());
        rc = hd_model_new(out.ubj, out.len, p->fnames, p->ftypes, p->nf, p->objective,
                          p->num_class ? p->num_class : 1, &item->model);
    }
    free(out.ubj);
    if (rc && rc != HERD_SKIP) hd_error_prefix("group '%s': ", key);
    return rc;
}

static int hd_fit_main_task(hd_fit_plan *p, size_t g, int nthread)
{
    const herd_groups *gs = p->groups;
    return hd_fit_rows(p, gs->keys[g], hd_groups_rows_of(gs, g), hd_groups_size_of(gs, g),
                       nthread, NULL, &p->set->items[g]);
}

/* Fold f of a group's `rows`: train on the other folds, evaluate on this
 * one.  Positions in `rows` order each fold's rows, as in hd_split. */
static int hd_fold_metric(const hd_fit_plan *p, const char *key, const size_t *rows, size_t n,
                          size_t f, int nthread, double *metric)
{
    size_t k = (size_t)p->o.cv_folds;
    *metric = NAN;
    int rc = hd_check_group(p, key, rows, n);
    if (rc) return rc;
    size_t *perm = hd_malloc(n, sizeof *perm);
    size_t *train = hd_malloc(n, sizeof *train), *test = hd_malloc(n, sizeof *test);
    if (!perm || !train || !test) {
        free(perm), free(train), free(test);
        return HERD_ENOMEM;
    }
    /* Shuffle positions with the group's fold seed; position i goes to fold
     * i % k; every fold task computes the same assignment. */
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t s = hd_group_seed(p, key, 2);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(hd_rng_next(&s) % (i + 1));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    size_t ntrain = 0, ntest = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % k == f) test[ntest++] = perm[i];
        else train[ntrain++] = perm[i];
    }
    qsort(train, ntrain, sizeof *train, hd_cmp_size);
    qsort(test, ntest, sizeof *test, hd_cmp_size);
    for (size_t i = 0; i < ntrain; i++) train[i] = rows[train[i]];
    for (size_t i = 0; i < ntest; i++) test[i] = rows[test[i]];
    hd_train_out out = {0};
    hd_fit_plan fold_plan = *p;
    fold_plan.o.early_stopping_rounds = 0; /* the fold is the test set */
    rc = hd_train(&fold_plan, train, ntrain, test, ntest, nthread, 0, NULL, &out);
    if (!rc && out.metric_failed) rc = HERD_EFORMAT;
    if (!rc) *metric = out.metric;
    else hd_error_prefix("group '%s', cross-validation fold %zu: ", key, f + 1);
    free(perm), free(train), free(test);
    return rc;
}

/* Fold f of group g, into its slot of the plan. */
static int hd_fit_fold_task(hd_fit_plan *p, size_t g, size_t f, int nthread)
{
    const herd_groups *gs = p->groups;
    return hd_fold_metric(p, gs->keys[g], hd_groups_rows_of(gs, g), hd_groups_size_of(gs, g), f,
                          nthread, &p->cv_values[g * (size_t)p->o.cv_folds + f]);
}

static int hd_fit_task(void *ctx, size_t task, int worker, int nthread)
{
    (void)worker;
    hd_fit_plan *p = ctx;
    size_t ng = p->groups->ngroups;
    if (task < ng) return hd_fit_main_task(p, task, nthread);
    size_t k = (size_t)p->o.cv_folds, t = task - ng;
    return hd_fit_fold_task(p, t / k, t % k, nthread);
}

static const char *hd_fit_key(void *ctx, size_t task)
{
    const hd_fit_plan *p = ctx;
    size_t ng = p->groups->ngroups;
    return p->groups->keys[task < ng ? task : (task - ng) / (size_t)p->o.cv_folds];
}

/* ---- the probe: parameter values checked once ---------------------------- */

/* One round on two rows with every parameter set as a group would: XGBoost
 * checks values only when training starts, and one bad value should be one
 * error, not one per group. */
static int hd_probe(const hd_fit_plan *p)
{
    hd_fit_plan q = *p;
    q.o.early_stopping_rounds = 0;
    q.o.rounds = 1;
    size_t nf = p->nf;
    float *x = hd_calloc(2 * nf, sizeof *x);
    float y[2] = {0, 1};
    if (!x) return HERD_ENOMEM;
    for (size_t j = 0; j < nf; j++) x[nf + j] = 1;
    hd_rows_data d = {.n = 2, .x = x, .y = y};
    DMatrixHandle m = NULL;
    BoosterHandle b = NULL;
    const char *tm = NULL, *mb = NULL;
    /* On the caller's thread: XGBoost silent there (its warnings would be
     * every group's, which the workers log), the host's state untouched. */
    hd_xgb_quiet quiet;
    int rc = hd_xgb_quiet_enter(&quiet);
    if (rc) {
        free(x);
        return rc;
    }
    rc = hd_dmatrix(&q, &d, 1, &m);
    if (!rc && XGBoosterCreate(&m, 1, &b)) rc = hd_xgb_error("creating a booster");
    if (!rc) rc = hd_booster_configure(&q, b, 2, 1, &tm, &mb);
    /* A "verbosity" among the parameters would be written into this
     * thread's XGBoost configuration when training starts: keep it 0. */
    if (!rc && XGBoosterSetParam(b, "verbosity", "0")) rc = hd_xgb_error("setting verbosity");
    if (!rc && XGBoosterUpdateOneIter(b, 0, m)) rc = hd_xgb_error("checking the parameters");
    if (b) XGBoosterFree(b);
    if (m) XGDMatrixFree(m);
    hd_xgb_quiet_leave(&quiet);
    free(x);
    if (rc) hd_error_prefix("XGBoost rejected the parameters before any group trained: ");
    return rc == HERD_EXGBOOST ? HERD_EINVAL : rc;
}

static int hd_plan_make(hd_fit_plan *p, const herd_groups *groups, const herd_fit_options *fit)
{
    memset(p, 0, sizeof *p);
    p->groups = groups;
    p->frame = groups->frame;
    int rc = hd_options_read(&hd_fit_options_desc, fit, &p->o, "herd_fit");
    if (!rc) rc = hd_plan_numbers(&p->o);
    if (!rc) rc = hd_plan_columns(p);
    if (!rc) rc = hd_xgb_check_param_names(p->o.param_names, p->o.param_values, p->o.n_params);
    if (rc) return rc;
    p->user_tree_method = hd_param(p, "tree_method") != NULL;
    p->user_seed = hd_param(p, "seed") || hd_param(p, "random_state");
    int kind = 0;
    rc = hd_plan_objective(p, &kind);
    if (!rc) rc = hd_plan_metric(p, kind);
    if (!rc) rc = hd_probe(p);
    return rc;
}

/* ---- results -------------------------------------------------------------- */

static void hd_cv_summary(const double *v, size_t k, double *mean, double *std)
{
    double s = 0, ss = 0;
    for (size_t f = 0; f < k; f++) s += v[f];
    *mean = s / (double)k;
    for (size_t f = 0; f < k; f++) ss += (v[f] - *mean) * (v[f] - *mean);
    *std = sqrt(ss / (double)k); /* population std, as xgboost.cv reports */
}

/* Move task results into the set: one status and message per group. */
static void hd_fit_collect(hd_fit_plan *p, hd_task_result *res)
{
    size_t ng = p->groups->ngroups, k = (size_t)p->o.cv_folds;
    for (size_t g = 0; g < ng; g++) {
        hd_fitted *item = &p->set->items[g];
        hd_task_result *r = &res[g];
        for (size_t f = 0; f < k && r->status == HD_TASK_OK; f++) {
            hd_task_result *rf = &res[ng + g * k + f];
            if (rf->status != HD_TASK_OK) r = rf; /* report the fold's failure */
        }
        item->status = r->status;
        item->seconds = res[g].seconds;
        item->nthread = res[g].nthread;
        if (r->message) {
            free(item->message);
            item->message = r->message;
            r->message = NULL;
        }
        if (item->status != HD_TASK_OK) {
            herd_model_free(item->model);
            item->model = NULL;
        }
        if (k && item->status == HD_TASK_OK)
            hd_cv_summary(&p->cv_values[g * k], k, &item->cv_mean, &item->cv_std);
    }
}

static int hd_fit_call(const herd_groups *groups, const herd_fit_options *fit,
                       const herd_apply_options *apply, herd_fit_result **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(fit);
    hd_apply_config cfg;
    int rc = hd_apply_config_read(apply, &cfg, __func__);
    if (rc) return rc;
    hd_fit_plan p;
    rc = hd_plan_make(&p, groups, fit);
    size_t ng = groups->ngroups, k = (size_t)p.o.cv_folds;
    size_t ntasks = ng * (1 + k);
    size_t *task_rows = NULL, *task_group = NULL;
    hd_task_result *res = NULL;
    if (!rc) rc = hd_fit_plan_result(&p, &p.set);
    if (!rc) {
        task_rows = hd_malloc(ntasks, sizeof *task_rows);
        task_group = hd_malloc(ntasks, sizeof *task_group);
        res = hd_calloc(ntasks, sizeof *res);
        p.cv_values = k ? hd_malloc(ng * k, sizeof *p.cv_values) : NULL;
        if (!task_rows || !task_group || !res || (k && !p.cv_values)) rc = HERD_ENOMEM;
    }
    if (!rc) {
        for (size_t t = 0; t < ntasks; t++) {
            size_t g = t < ng ? t : (t - ng) / k;
            task_group[t] = g;
            task_rows[t] = hd_groups_size_of(groups, g);
        }
        hd_job job = {.ntasks = ntasks, .ngroups = ng, .task_group = task_group,
                      .task_rows = task_rows, .run = hd_fit_task,
                      .worker_start = hd_xgb_worker_start, .task_key = hd_fit_key,
                      .ctx = &p};
        rc = hd_job_run(&job, &cfg, res);
        if (rc == HERD_OK || rc == HERD_ECANCELED || rc == HERD_EBUDGET) {
            hd_fit_collect(&p, res);
            *out = p.set;
            p.set = NULL;
        }
    }
    herd_fit_result_free(p.set);
    hd_task_results_free(res, res ? ntasks : 0);
    free(task_rows);
    free(task_group);
    hd_plan_free(&p);
    return rc;
}

int herd_fit(const herd_groups *groups, const herd_fit_options *fit,
             const herd_apply_options *apply, herd_fit_result **out)
{
    static const char *const plan[] = {"fit"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, (int)(sizeof plan / sizeof *plan), NULL, NULL);
    int rc = hd_fit_call(groups, fit, apply, out);
    hd_scope_leave(&scope);
    return rc;
}

/* ---- one group at a time (the weekly cycle's workers) ---------------------- */

int hd_fit_plan_new(const herd_groups *groups, const herd_fit_options *fit, hd_fit_plan **out)
{
    hd_fit_plan *p = hd_malloc(1, sizeof *p);
    if (!p) return HERD_ENOMEM;
    int rc = hd_plan_make(p, groups, fit);
    if (rc) {
        hd_fit_plan_free(p);
        return rc;
    }
    *out = p;
    return HERD_OK;
}

void hd_fit_plan_free(hd_fit_plan *p)
{
    if (!p) return;
    hd_plan_free(p);
    free(p);
}

size_t hd_fit_plan_outputs(const hd_fit_plan *p) { return p->num_class ? p->num_class : 1; }

int hd_fit_plan_result(const hd_fit_plan *p, herd_fit_result **out)
{
    herd_fit_result *s = NULL;
    int rc = hd_fit_result_new(p->groups->ngroups, p->groups->keys, &s);
    if (!rc) rc = hd_fit_result_params(s, p->o.param_names, p->o.param_values, p->o.n_params);
    if (rc) {
        herd_fit_result_free(s);
        return rc;
    }
    snprintf(s->metric, sizeof s->metric, "%s", p->metric.name);
    *out = s;
    return HERD_OK;
}

void hd_fitted_init(hd_fitted *it)
{
    memset(it, 0, sizeof *it);
    it->status = HD_TASK_NOT_RUN;
    it->valid_metric = it->cv_mean = it->cv_std = NAN;
    it->best_iteration = -1;
}

void hd_fitted_clear(hd_fitted *it)
{
    free(it->message);
    herd_model_free(it->model);
    hd_fitted_init(it);
}

int hd_fit_group(const hd_fit_plan *p, const char *key, const size_t *rows, size_t n,
                 int nthread, const hd_rows_pred *extra, hd_fitted *item)
{
    double t = hd_now();
    int rc = hd_fit_rows(p, key, rows, n, nthread, extra, item);
    size_t k = (size_t)p->o.cv_folds;
    double *cv = !rc && k ? hd_malloc(k, sizeof *cv) : NULL;
    if (!rc && k && !cv) rc = HERD_ENOMEM;
    for (size_t f = 0; !rc && f < k; f++) rc = hd_fold_metric(p, key, rows, n, f, nthread, &cv[f]);
    if (!rc && k) hd_cv_summary(cv, k, &item->cv_mean, &item->cv_std);
    free(cv);
    item->seconds = hd_now() - t;
    item->nthread = nthread;
    item->status = !rc ? HD_TASK_OK : rc == HERD_SKIP ? HD_TASK_SKIPPED : HD_TASK_FAILED;
    if (rc) { /* as herd_fit's report: the reason, and no model */
        herd_model_free(item->model);
        item->model = NULL;
        free(item->message);
        item->message = hd_strdup(herd_last_error());
    }
    return rc;
}

/* The artifact of a fitted group, from the fit's metric name and
 * parameters. */
static int hd_fitted_build(const hd_fitted *it, const char *metric,
                           const char *const *param_names, const char *const *param_values,
                           size_t n_params, const char *group, const herd_artifact_options *o,
                           herd_artifact **out)
{
    /* The validation metric, and its cross-validation summary when the fit
     * ran folds (cv_mean is NaN otherwise). */
    char cv_mean[64], cv_std[64];
    snprintf(cv_mean, sizeof cv_mean, "%s_cv_mean", metric);
    snprintf(cv_std, sizeof cv_std, "%s_cv_std", metric);
    const char *names[3] = {metric, cv_mean, cv_std};
    double values[3] = {it->valid_metric, it->cv_mean, it->cv_std};
    hd_art_input in = {
        .model = it->model, .family = o->family, .group = o->group ? o->group : group,
        .run_id = o->run_id, .idempotency_key = o->idempotency_key,
        .param_names = param_names, .param_values = param_values, .n_params = n_params,
        .tree_method = it->tree_method, .max_bin = it->max_bin, .metric_names = names,
        .metric_values = values, .n_metrics = isnan(it->cv_mean) ? 1 : 3, .has_data = 1,
        .rows = it->rows, .train_rows = it->train_rows, .valid_rows = it->valid_rows,
        .best_iteration = it->best_iteration < 0 ? 0 : (uint64_t)it->best_iteration,
        .fingerprint = it->fingerprint, .level = o->compression_level};
    return hd_artifact_build(&in, out);
}

int hd_fitted_artifact(const hd_fit_plan *p, const hd_fitted *it, const char *group,
                       const herd_artifact_options *o, herd_artifact **out)
{
    return hd_fitted_build(it, p->metric.name, p->o.param_names, p->o.param_values,
                           p->o.n_params, group, o, out);
}

/* ---- the fit result -------------------------------------------------------- */

int hd_fit_result_new(size_t n, const char *const *keys, herd_fit_result **out)
{
    herd_fit_result *s = hd_calloc(1, sizeof *s);
    if (!s) return HERD_ENOMEM;
    s->n = n;
    s->keys = hd_calloc(n, sizeof *s->keys);
    s->items = hd_calloc(n, sizeof *s->items);
    s->key_arena = hd_arena_new();
    if (!s->keys || !s->items || !s->key_arena) {
        herd_fit_result_free(s);
        return HERD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        s->keys[i] = hd_arena_strndup(s->key_arena, keys[i], strlen(keys[i]));
        if (!s->keys[i]) {
            herd_fit_result_free(s);
            return HERD_ENOMEM;
        }
        hd_fitted *it = &s->items[i];
        it->status = HD_TASK_NOT_RUN;
        it->valid_metric = it->cv_mean = it->cv_std = NAN;
        it->best_iteration = -1;
    }
    if (hd_key_index_build(&s->index, s->keys, n)) {
        herd_fit_result_free(s);
        return HERD_ENOMEM;
    }
    *out = s;
    return HERD_OK;
}

int hd_fit_result_params(herd_fit_result *s, const char *const *names,
                        const char *const *values, size_t n)
{
    if (n == 0) return HERD_OK;
    s->param_names = hd_calloc(n, sizeof *s->param_names);
    s->param_values = hd_calloc(n, sizeof *s->param_values);
    if (!s->param_names || !s->param_values) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        s->param_names[i] = hd_arena_strndup(s->key_arena, names[i], strlen(names[i]));
        s->param_values[i] = hd_arena_strndup(s->key_arena, values[i], strlen(values[i]));
        if (!s->param_names[i] || !s->param_values[i]) return HERD_ENOMEM;
    }
    s->n_params = n;
    return HERD_OK;
}

size_t hd_fit_result_index(const herd_fit_result *s, const char *key)
{
    return hd_key_index_find(&s->index, s->keys, key);
}

void herd_fit_result_free(herd_fit_result *s)
{
    if (!s) return;
    for (size_t i = 0; s->items && i < s->n; i++) {
        free(s->items[i].message);
        herd_model_free(s->items[i].model);
    }
    free(s->items);
    free(s->keys);
    free(s->param_names);
    free(s->param_values);
    hd_key_index_free(&s->index);
    hd_arena_free(s->key_arena);
    free(s);
}

size_t herd_fit_result_count(const herd_fit_result *s)
{
    HD_ACCESSOR_CHECK(s, 0);
    return s->n;
}

int herd_fit_result_model(const herd_fit_result *s, const char *group, herd_model **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(s);
    HD_CHECK_NOT_NULL(group);
    size_t i = hd_fit_result_index(s, group);
    if (i == (size_t)-1)
        return hd_error(HERD_ENOTFOUND, "no group '%s' in the fit result (%zu groups)", group,
                        s->n);
    const hd_fitted *it = &s->items[i];
    if (!it->model) return HERD_MISSING; /* failed, skipped or not run: the report says */
    const herd_model *m = it->model;
    return hd_model_new(m->ubj, m->len, (const char *const *)m->feature_names,
                        (const char *const *)m->feature_types, m->nfeat, m->objective,
                        m->num_outputs, out);
}

/* Column builders for the report, one typed array per column. */
typedef struct hd_report_cols {
    const char **status, **message, **tree_method, **metric;
    int64_t *rows, *train_rows, *valid_rows, *best_iteration, *rounds, *nthread;
    double *valid_metric, *cv_mean, *cv_std, *seconds;
} hd_report_cols;

static void hd_report_cols_free(hd_report_cols *c)
{
    free(c->status), free(c->message), free(c->tree_method), free(c->metric);
    free(c->rows), free(c->train_rows), free(c->valid_rows), free(c->best_iteration);
    free(c->rounds), free(c->nthread), free(c->valid_metric), free(c->cv_mean);
    free(c->cv_std), free(c->seconds);
}

static int hd_report_cols_alloc(hd_report_cols *c, size_t n)
{
    c->status = hd_malloc(n, sizeof(char *));
    c->message = hd_malloc(n, sizeof(char *));
    c->tree_method = hd_malloc(n, sizeof(char *));
    c->metric = hd_malloc(n, sizeof(char *));
    int64_t **ints[] = {&c->rows, &c->train_rows, &c->valid_rows, &c->best_iteration,
                        &c->rounds, &c->nthread};
    double **dbls[] = {&c->valid_metric, &c->cv_mean, &c->cv_std, &c->seconds};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) *ints[i] = hd_malloc(n, sizeof(int64_t));
    for (size_t i = 0; i < sizeof dbls / sizeof *dbls; i++) *dbls[i] = hd_malloc(n, sizeof(double));
    int ok = c->status && c->message && c->tree_method && c->metric;
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) ok = ok && *ints[i];
    for (size_t i = 0; i < sizeof dbls / sizeof *dbls; i++) ok = ok && *dbls[i];
    return ok ? HERD_OK : HERD_ENOMEM;
}

int herd_fit_result_report(const herd_fit_result *s, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(s);
    size_t n = s->n;
    hd_report_cols c = {0};
    herd_frame *f = NULL;
    int rc = hd_report_cols_alloc(&c, n);
    if (!rc) rc = herd_frame_new(&f);
    for (size_t i = 0; !rc && i < n; i++) {
        const hd_fitted *it = &s->items[i];
        c.status[i] = hd_task_status_name(it->status);
        c.message[i] = it->message;
        c.tree_method[i] = it->tree_method;
        c.metric[i] = s->metric;
        c.rows[i] = (int64_t)it->rows;
        c.train_rows[i] = (int64_t)it->train_rows;
        c.valid_rows[i] = (int64_t)it->valid_rows;
        c.best_iteration[i] = it->best_iteration;
        c.rounds[i] = it->rounds;
        c.nthread[i] = it->nthread;
        c.valid_metric[i] = it->valid_metric;
        c.cv_mean[i] = it->cv_mean;
        c.cv_std[i] = it->cv_std;
        c.seconds[i] = it->seconds;
    }
    if (!rc) rc = hd_frame_add_str(f, "group", s->keys, n);
    if (!rc) rc = hd_frame_add_str(f, "status", c.status, n);
    if (!rc) rc = hd_frame_add_str(f, "message", c.message, n);
    if (!rc) rc = hd_frame_add_i64(f, "rows", c.rows, n);
    if (!rc) rc = hd_frame_add_i64(f, "train_rows", c.train_rows, n);
    if (!rc) rc = hd_frame_add_i64(f, "valid_rows", c.valid_rows, n);
    if (!rc) rc = hd_frame_add_str(f, "metric", c.metric, n);
    if (!rc) rc = hd_frame_add_f64(f, "valid_metric", c.valid_metric, n);
    if (!rc) rc = hd_frame_add_i64(f, "best_iteration", c.best_iteration, n);
    if (!rc) rc = hd_frame_add_i64(f, "rounds", c.rounds, n);
    if (!rc) rc = hd_frame_add_f64(f, "cv_mean", c.cv_mean, n);
    if (!rc) rc = hd_frame_add_f64(f, "cv_std", c.cv_std, n);
    if (!rc) rc = hd_frame_add_f64(f, "seconds", c.seconds, n);
    if (!rc) rc = hd_frame_add_i64(f, "threads", c.nthread, n);
    if (!rc) rc = hd_frame_add_str(f, "tree_method", c.tree_method, n);
    hd_report_cols_free(&c);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Packaging a group's model as an artifact (moved from artifact.c: the
 * artifact layer knows models, not fits)
 * --------------------------------------------------------------------- */

int herd_fit_result_artifact(const herd_fit_result *set, const char *group,
                            const herd_artifact_options *opt, herd_artifact **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(set);
    HD_CHECK_NOT_NULL(group);
    herd_artifact_options o;
    int rc = hd_art_options_read(opt, __func__, &o);
    if (rc) return rc;
    size_t i = hd_fit_result_index(set, group);
    if (i == (size_t)-1)
        return hd_error(HERD_ENOTFOUND, "no group '%s' in the fit result (%zu groups)", group,
                        set->n);
    const hd_fitted *it = &set->items[i];
    if (!it->model) return HERD_MISSING; /* failed, skipped or not run: the report says */
    return hd_fitted_build(it, set->metric, set->param_names, set->param_values, set->n_params,
                           set->keys[i], &o, out);
}
