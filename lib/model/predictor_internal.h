/* predictor_internal.h -- prepared predictors inside the library: the
 * one-shot predictions of herd_model_predict and herd_predict, and the
 * registry's cache of champions. */
#ifndef HERD_PREDICTOR_INTERNAL_H
#define HERD_PREDICTOR_INTERNAL_H

#include <stddef.h>

#include <xgboost/c_api.h>

#include "herd.h"

/* How a predictor will be used. */
typedef enum hd_predictor_use {
    /* Created, used and freed by one thread, for one call: no warm-up
     * prediction, nothing left in XGBoost's per-thread state. */
    HD_PREDICTOR_PRIVATE = 0,
    /* Shared by threads (herd_predictor_new, the registry cache): the
     * booster is configured by one prediction on the creating thread before
     * any other thread sees it. */
    HD_PREDICTOR_SHARED = 1
} hd_predictor_use;

/* A predictor for `m` whose calls use `nthread` (>= 1) XGBoost threads.
 * Copies what it needs: `m` may be freed afterwards. */
int hd_predictor_create(const herd_model *m, int nthread, hd_predictor_use use,
                        herd_predictor **out);

/* Resolve features to frame columns by name, checking their types: a
 * missing column is HERD_ENOTFOUND naming the feature, a string column, or
 * a float column for an "int" feature, HERD_ETYPE.  cols[nfeat] receives
 * the column indices. */
int hd_features_bind(const char *const *names, const char *const *types, size_t nfeat,
                     const herd_frame *frame, size_t *cols);

/* Check the arguments of a frame prediction (`fn` names the public
 * function in messages): rows in range, or rows NULL and nrows the frame's
 * row count; out (when nrows > 0) and out_len for nrows * nout values. */
int hd_predict_args_check(const char *fn, const herd_frame *frame, const size_t *rows,
                          size_t nrows, size_t nout, const double *out, size_t out_len);

/* Predict frame rows whose features are bound to `cols` (hd_features_bind
 * with the predictor's features); arguments already checked. */
int hd_predictor_run_frame(const herd_predictor *p, const herd_frame *frame,
                           const size_t *cols, const size_t *rows, size_t nrows, double *out);

/* Predict frame rows with a live booster (the one that just trained, in
 * fit.c) exactly as a predictor of its saved model would: features bound
 * to `cols`, nfeat of them, nout outputs per row into `out`. */
int hd_booster_predict_frame(BoosterHandle booster, size_t nfeat, size_t nout,
                             const herd_frame *frame, const size_t *cols, const size_t *rows,
                             size_t nrows, double *out);

/* The serialised size of the model the predictor was made from: what the
 * registry cache counts against its cap. */
size_t hd_predictor_model_bytes(const herd_predictor *p);

/* Whether the predictor serialises its calls (a shared DART model). */
int hd_predictor_serialised(const herd_predictor *p);

#endif
