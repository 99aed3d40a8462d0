/* predictor.c -- a model prepared for prediction: one loaded booster,
 * shared by every thread that predicts with it; and herd_model_predict,
 * which makes a private one per call.
 *
 * Why one booster and no pool: XGBoost 1.7 documents in-place prediction
 * (XGBoosterPredictFromDense) as safe and lock-free from many threads on
 * one booster, as long as nothing else changes the booster meanwhile; a
 * predictor never calls anything else on its booster once it is built.
 * One booster per predictor also keeps one copy of the trees in memory,
 * whatever the number of threads (the registry cache holds many models).
 *
 * The rules of XGBoost 1.7 this file keeps:
 *   - nthread is set after the model is loaded (hd_booster_load): loading
 *     resets it to every core;
 *   - in-place prediction needs "cache_id": 0 in its configuration;
 *   - the learner configures itself on its first prediction behind a flag
 *     that is not atomic: a shared predictor predicts one row on the
 *     creating thread before any other thread can see it (which also
 *     rejects, at creation, a model that cannot predict in place);
 *   - results live in a per-booster, per-thread buffer of XGBoost's
 *     (a thread-local map keyed by the booster), valid until that thread's
 *     next call on that booster: herd copies them out at once.  The entry
 *     of thread T is erased when the booster is freed on T; on any other
 *     thread it stays until T exits.  Calls are cut into chunks of at most
 *     HD_CHUNK_VALUES outputs so that what a long-lived thread keeps for a
 *     predictor freed elsewhere is bounded (256 KiB);
 *   - DART's in-place prediction is not documented thread-safe: a shared
 *     DART predictor serialises its calls;
 *   - configuring a booster writes the calling thread's XGBoost
 *     configuration (its verbosity): building a predictor runs silent on a
 *     host thread (hd_xgb_quiet_enter).  Predicting with a configured
 *     booster reads its configuration and writes nothing, so calls skip
 *     that save and restore, which would cost more than a one-row
 *     prediction; a message XGBoost might log while predicting goes
 *     wherever the calling thread's XGBoost logging goes (the host's
 *     choice: herd never registers a callback on a host thread).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "model/model_internal.h"
#include "model/predictor_internal.h"
#include "model/xgb_internal.h"

/* Outputs per XGBoost call: what a thread's buffer may hold (floats). */
#define HD_CHUNK_VALUES 65536u
/* Gathered feature values kept on the stack (floats); larger calls
 * allocate one buffer per call. */
#define HD_STACK_VALUES 1024u
/* Features whose column lookup is kept on the stack. */
#define HD_STACK_FEATURES 64u

/* XGBoost's in-place prediction configuration: values (type 0), every
 * tree, NaN marks a missing value; cache_id 0 is required by 1.7. */
static const char hd_predict_config[] =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

struct herd_predictor {
    BoosterHandle booster;
    size_t nfeat;
    size_t nout;
    char **names;             /* the model's features, in its order */
    char **types;             /* "float", "int", ... */
    int nthread;
    size_t model_bytes;       /* the serialised model's size */
    size_t chunk_rows;        /* rows per XGBoost call */
    int serialize;            /* DART: one call at a time */
    pthread_mutex_t mu;       /* taken when serialize */
    /* The column indices of the first frame that bound, published once
     * (NULL until then) and never changed: calls check it by name. */
    size_t *hint;
};

static void hd_names_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void herd_predictor_free(herd_predictor *p)
{
    if (!p) return;
    /* On this thread XGBoost erases the booster's buffer; other threads'
     * go when they exit (see the file comment). */
    if (p->booster) XGBoosterFree(p->booster);
    if (p->serialize) pthread_mutex_destroy(&p->mu);
    hd_names_free(p->names, p->nfeat);
    hd_names_free(p->types, p->nfeat);
    free(p->hint);
    free(p);
}

/* ---- Predicting ------------------------------------------------------- */

/* One XGBoost call: n rows of `ncols` values of `typestr` ("<f4", "<f8")
 * at x, row-major; out receives n * nout doubles. */
static int hd_predict_chunk(const herd_predictor *p, const void *x, const char *typestr,
                            size_t n, double *out)
{
    char arr[192];
    snprintf(arr, sizeof arr,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"%s\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, p->nfeat, typestr);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    herd_predictor *mp = (herd_predictor *)p; /* only its mutex changes */
    if (p->serialize) pthread_mutex_lock(&mp->mu);
    int rc = HERD_OK;
    if (XGBoosterPredictFromDense(p->booster, arr, hd_predict_config, NULL, &shape, &dim,
                                  &res)) {
        rc = hd_xgb_error("predicting");
    } else {
        size_t total = 1;
        for (bst_ulong d = 0; d < dim; d++) total *= (size_t)shape[d];
        if (total != n * p->nout)
            rc = hd_error(HERD_EINTERNAL,
                          "XGBoost returned %zu predictions for %zu rows x %zu outputs", total,
                          n, p->nout);
        else
            for (size_t i = 0; i < total; i++) out[i] = res[i];
    }
    if (p->serialize) pthread_mutex_unlock(&mp->mu);
    return rc;
}

/* Rows first..first+n-1 of the call (rows[i], or row i when rows is NULL)
 * into a row-major float matrix, column by column so that each column is
 * read in one sweep. */
static void hd_gather(const herd_frame *frame, const size_t *cols, size_t nfeat,
                      const size_t *rows, size_t first, size_t n, float *x)
{
    for (size_t j = 0; j < nfeat; j++) {
        const hd_column *c = &frame->cols[cols[j]];
        for (size_t i = 0; i < n; i++)
            x[i * nfeat + j] = (float)hd_col_double(c, rows ? rows[first + i] : first + i);
    }
}

int hd_predictor_run_frame(const herd_predictor *p, const herd_frame *frame,
                           const size_t *cols, const size_t *rows, size_t nrows, double *out)
{
    if (nrows == 0) return HERD_OK;
    size_t chunk = nrows < p->chunk_rows ? nrows : p->chunk_rows;
    float stack[HD_STACK_VALUES];
    float *x = stack;
    if (chunk > HD_STACK_VALUES / p->nfeat) {
        x = hd_malloc(chunk, p->nfeat * sizeof *x);
        if (!x) return HERD_ENOMEM;
    }
    int rc = HERD_OK;
    for (size_t done = 0; !rc && done < nrows; done += chunk) {
        size_t n = nrows - done < chunk ? nrows - done : chunk;
        hd_gather(frame, cols, p->nfeat, rows, done, n, x);
        rc = hd_predict_chunk(p, x, "<f4", n, out + done * p->nout);
    }
    if (x != stack) free(x);
    return rc;
}

static int hd_types_agree(const char *feature_type, int column_type)
{
    if (column_type == HERD_TYPE_STRING) return 0;
    if (strcmp(feature_type, "int") == 0)
        return column_type != HERD_TYPE_FLOAT32 && column_type != HERD_TYPE_FLOAT64;
    return 1;
}

int hd_features_bind(const char *const *names, const char *const *types, size_t nfeat,
                     const herd_frame *frame, size_t *cols)
{
    for (size_t j = 0; j < nfeat; j++) {
        int rc = herd_frame_find(frame, names[j], &cols[j]);
        if (rc)
            return hd_error(rc, "the model's feature '%s' (feature %zu) is not a column of the "
                            "frame; give the frame a column of that name",
                            names[j], j);
        int type = herd_frame_column_type(frame, cols[j]);
        if (!hd_types_agree(types[j], type))
            return hd_error(HERD_ETYPE,
                            "column '%s' is %s but the model's feature '%s' is %s; convert the "
                            "column",
                            names[j], herd_type_name(type), names[j], types[j]);
    }
    return HERD_OK;
}

/* Whether `cols` still binds the predictor's features in `frame`: same
 * names at those indices, types that agree. */
static int hd_hint_holds(const herd_predictor *p, const herd_frame *frame, const size_t *cols)
{
    size_t ncols = herd_frame_column_count(frame);
    for (size_t j = 0; j < p->nfeat; j++) {
        if (cols[j] >= ncols) return 0;
        if (strcmp(herd_frame_column_name(frame, cols[j]), p->names[j]) != 0) return 0;
        if (!hd_types_agree(p->types[j], herd_frame_column_type(frame, cols[j]))) return 0;
    }
    return 1;
}

/* Keep the first binding that worked, for the calls that follow. */
static void hd_hint_publish(const herd_predictor *p, const size_t *cols)
{
    if (__atomic_load_n(&p->hint, __ATOMIC_ACQUIRE)) return;
    size_t *copy = malloc(p->nfeat * sizeof *copy);
    if (!copy) return; /* only a shortcut: no error */
    memcpy(copy, cols, p->nfeat * sizeof *copy);
    size_t *expected = NULL;
    herd_predictor *mp = (herd_predictor *)p; /* the hint is set once */
    if (!__atomic_compare_exchange_n(&mp->hint, &expected, copy, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        free(copy);
}

int hd_predict_args_check(const char *fn, const herd_frame *frame, const size_t *rows,
                          size_t nrows, size_t nout, const double *out, size_t out_len)
{
    size_t fn_rows = herd_frame_row_count(frame);
    if (!rows && nrows != fn_rows)
        return hd_error(HERD_EINVAL,
                        "%s: rows is NULL (all rows) but nrows is %zu and the frame has %zu",
                        fn, nrows, fn_rows);
    if (nrows > SIZE_MAX / nout || out_len < nrows * nout)
        return hd_error(HERD_EINVAL, "%s: out holds %zu values but %zu rows x %zu outputs need %zu",
                        fn, out_len, nrows, nout, nrows * nout);
    if (nrows > 0 && !out) return hd_error(HERD_EINVAL, "%s: argument 'out' is NULL", fn);
    for (size_t i = 0; rows && i < nrows; i++)
        if (rows[i] >= fn_rows)
            return hd_error(HERD_EINVAL, "%s: rows[%zu] is %zu but the frame has %zu rows", fn,
                            i, rows[i], fn_rows);
    return HERD_OK;
}

int herd_predictor_predict(const herd_predictor *p, const herd_frame *frame, const size_t *rows,
                           size_t nrows, double *out, size_t out_len)
{
    HD_CHECK_NOT_NULL(p);
    HD_CHECK_NOT_NULL(frame);
    int rc = hd_predict_args_check(__func__, frame, rows, nrows, p->nout, out, out_len);
    if (rc) return rc;
    const size_t *hint = __atomic_load_n(&p->hint, __ATOMIC_ACQUIRE);
    if (hint && hd_hint_holds(p, frame, hint))
        return hd_predictor_run_frame(p, frame, hint, rows, nrows, out);
    size_t stack[HD_STACK_FEATURES];
    size_t *cols = p->nfeat <= HD_STACK_FEATURES ? stack : hd_malloc(p->nfeat, sizeof *cols);
    if (!cols) return HERD_ENOMEM;
    rc = hd_features_bind((const char *const *)p->names, (const char *const *)p->types,
                          p->nfeat, frame, cols);
    if (!rc) {
        hd_hint_publish(p, cols);
        rc = hd_predictor_run_frame(p, frame, cols, rows, nrows, out);
    }
    if (cols != stack) free(cols);
    return rc;
}

int herd_predictor_predict_dense(const herd_predictor *p, const double *values, size_t nrows,
                                 size_t ncols, double *out, size_t out_len)
{
    HD_CHECK_NOT_NULL(p);
    if (ncols != p->nfeat)
        return hd_error(HERD_EINVAL,
                        "%s: the rows have %zu values (ncols) but the model has %zu features "
                        "(the first is '%s'); give one value per feature, in the model's order",
                        __func__, ncols, p->nfeat, p->names[0]);
    if (nrows > SIZE_MAX / p->nout || out_len < nrows * p->nout)
        return hd_error(HERD_EINVAL, "%s: out holds %zu values but %zu rows x %zu outputs need %zu",
                        __func__, out_len, nrows, p->nout, nrows * p->nout);
    if (nrows == 0) return HERD_OK;
    HD_CHECK_NOT_NULL(values);
    HD_CHECK_NOT_NULL(out);
    if (nrows > SIZE_MAX / ncols / sizeof *values)
        return hd_error(HERD_EINVAL, "%s: %zu rows x %zu values overflow the address space",
                        __func__, nrows, ncols);
    int rc = HERD_OK;
    for (size_t done = 0; !rc && done < nrows; done += p->chunk_rows) {
        size_t n = nrows - done < p->chunk_rows ? nrows - done : p->chunk_rows;
        rc = hd_predict_chunk(p, values + done * ncols, "<f8", n, out + done * p->nout);
    }
    return rc;
}

/* herd_model_predict: a private predictor, made, used and freed here. */
int hd_booster_predict_frame(BoosterHandle booster, size_t nfeat, size_t nout,
                             const herd_frame *frame, const size_t *cols, const size_t *rows,
                             size_t nrows, double *out)
{
    /* A predictor over the caller's booster, for one call on this thread:
     * the same gathering, chunking and XGBoost call as every prediction. */
    herd_predictor p = {.booster = booster, .nfeat = nfeat, .nout = nout,
                        .chunk_rows = HD_CHUNK_VALUES / nout ? HD_CHUNK_VALUES / nout : 1};
    return hd_predictor_run_frame(&p, frame, cols, rows, nrows, out);
}

int herd_model_predict(const herd_model *m, const herd_frame *frame, const size_t *rows,
                       size_t nrows, int nthread, double *out, size_t out_len)
{
    HD_CHECK_NOT_NULL(m);
    HD_CHECK_NOT_NULL(frame);
    if (nthread < 0)
        return hd_error(HERD_EINVAL, "%s: nthread is %d; give 0 or more", __func__, nthread);
    int rc = hd_predict_args_check(__func__, frame, rows, nrows, m->num_outputs, out, out_len);
    if (rc) return rc;
    /* Bind before loading: a frame that lacks a feature fails at once. */
    size_t *cols = hd_malloc(m->nfeat, sizeof *cols);
    if (!cols) return HERD_ENOMEM;
    rc = hd_features_bind((const char *const *)m->feature_names,
                          (const char *const *)m->feature_types, m->nfeat, frame, cols);
    herd_predictor *p = NULL;
    /* The first prediction configures the booster, which writes XGBoost's
     * per-thread configuration: silent on a host thread (xgb.c). */
    hd_xgb_quiet quiet;
    if (!rc && nrows > 0 && !(rc = hd_xgb_quiet_enter(&quiet))) {
        rc = hd_predictor_create(m, nthread > 0 ? nthread : 1, HD_PREDICTOR_PRIVATE, &p);
        if (!rc) rc = hd_predictor_run_frame(p, frame, cols, rows, nrows, out);
        herd_predictor_free(p); /* on the thread that made it: nothing is left */
        hd_xgb_quiet_leave(&quiet);
    }
    free(cols);
    return rc;
}

/* ---- Building --------------------------------------------------------- */

static char **hd_names_copy(const herd_model *m, const char *(*get)(const herd_model *, size_t))
{
    size_t n = herd_model_feature_count(m);
    char **v = hd_calloc(n, sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        if (!(v[i] = hd_strdup(get(m, i)))) {
            hd_names_free(v, n);
            return NULL;
        }
    }
    return v;
}

/* Whether the loaded booster is DART (its configuration names it). */
static int hd_booster_is_dart(BoosterHandle b, int *dart)
{
    bst_ulong len = 0;
    const char *json = NULL;
    HD_XGB(XGBoosterSaveJsonConfig(b, &len, &json), "reading the booster's configuration");
    cJSON *root = cJSON_ParseWithLength(json, (size_t)len);
    if (!root) return hd_oom();
    const cJSON *learner = cJSON_GetObjectItemCaseSensitive(root, "learner");
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(learner, "gradient_booster");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(gb, "name");
    int rc = HERD_OK;
    if (!cJSON_IsString(name))
        rc = hd_error(HERD_EINTERNAL, "XGBoost's configuration names no gradient booster");
    else
        *dart = strcmp(name->valuestring, "dart") == 0;
    cJSON_Delete(root);
    return rc;
}

/* Configure the booster (and prove it predicts in place) with one row of
 * missing values, on this thread, before the predictor is shared. */
static int hd_predictor_warm(herd_predictor *p)
{
    double stack[HD_STACK_FEATURES], out_stack[16];
    double *row = p->nfeat <= HD_STACK_FEATURES ? stack : hd_malloc(p->nfeat, sizeof *row);
    double *out = p->nout <= 16 ? out_stack : hd_malloc(p->nout, sizeof *out);
    int rc = row && out ? HERD_OK : HERD_ENOMEM;
    for (size_t j = 0; !rc && j < p->nfeat; j++) row[j] = NAN;
    if (!rc) rc = hd_predict_chunk(p, row, "<f8", 1, out);
    if (row != stack) free(row);
    if (out != out_stack) free(out);
    return rc;
}

int hd_predictor_create(const herd_model *m, int nthread, hd_predictor_use use,
                        herd_predictor **out)
{
    *out = NULL;
    herd_predictor *p = hd_calloc(1, sizeof *p);
    if (!p) return HERD_ENOMEM;
    p->nfeat = herd_model_feature_count(m);
    p->nout = herd_model_output_count(m);
    p->nthread = nthread;
    p->model_bytes = m->len;
    p->chunk_rows = HD_CHUNK_VALUES / p->nout ? HD_CHUNK_VALUES / p->nout : 1;
    p->names = hd_names_copy(m, herd_model_feature_name);
    p->types = hd_names_copy(m, herd_model_feature_type);
    int rc = p->names && p->types ? HERD_OK : HERD_ENOMEM;
    hd_xgb_quiet quiet;
    if (!rc && !(rc = hd_xgb_quiet_enter(&quiet))) {
        rc = hd_booster_load(m->ubj, m->len, nthread, &p->booster);
        if (!rc && use == HD_PREDICTOR_SHARED) {
            int dart = 0;
            rc = hd_booster_is_dart(p->booster, &dart);
            if (!rc && dart) {
                pthread_mutex_init(&p->mu, NULL);
                p->serialize = 1;
            }
            if (!rc) rc = hd_predictor_warm(p);
        }
        hd_xgb_quiet_leave(&quiet);
    }
    if (rc) {
        herd_predictor_free(p);
        return rc;
    }
    *out = p;
    return HERD_OK;
}

int herd_predictor_new(const herd_model *model, const herd_predictor_options *opt,
                       herd_predictor **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(model);
    herd_predictor_options o;
    int rc = hd_options_read(&hd_predictor_options_desc, opt, &o, __func__);
    if (rc) return rc;
    int nthread = o.nthread ? o.nthread : herd_default_threads();
    rc = hd_predictor_create(model, nthread, HD_PREDICTOR_SHARED, out);
    if (rc) hd_error_prefix("%s: ", __func__);
    return rc;
}

size_t herd_predictor_num_features(const herd_predictor *p)
{
    return p ? p->nfeat : 0;
}

const char *herd_predictor_feature_name(const herd_predictor *p, size_t i)
{
    return p && i < p->nfeat ? p->names[i] : NULL;
}

const char *herd_predictor_feature_type(const herd_predictor *p, size_t i)
{
    return p && i < p->nfeat ? p->types[i] : NULL;
}

size_t herd_predictor_num_outputs(const herd_predictor *p)
{
    return p ? p->nout : 0;
}

size_t hd_predictor_model_bytes(const herd_predictor *p)
{
    return p->model_bytes;
}

int hd_predictor_serialised(const herd_predictor *p)
{
    return p->serialize;
}
