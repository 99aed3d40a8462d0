/* model_internal.h -- herd_model internals shared with fit and predict. */
#ifndef HERD_MODEL_INTERNAL_H
#define HERD_MODEL_INTERNAL_H

#include <stddef.h>

#include "herd.h"

struct herd_model {
    unsigned char *ubj; /* the model as XGBoost UBJSON */
    size_t len;
    size_t nfeat;
    char **feature_names;
    char **feature_types;
    char *objective;
    size_t num_outputs;
};

/* A model from a UBJSON payload and what the trainer knows about it (no
 * booster is loaded).  Copies everything. */
int hd_model_new(const void *ubj, size_t len, const char *const *names,
                 const char *const *types, size_t nfeat, const char *objective,
                 size_t num_outputs, herd_model **out);

/* Resolve the model's features to frame columns, checking names and types;
 * cols[nfeat] receives column indices. */
int hd_model_bind(const herd_model *m, const herd_frame *frame, size_t *cols);

/* Predict rows of a frame whose feature columns are already bound (cols);
 * out receives nrows * num_outputs values, row-major.  Loads a booster,
 * predicts and frees it on the calling thread. */
int hd_model_predict_bound(const herd_model *m, const herd_frame *frame, const size_t *cols,
                           const size_t *rows, size_t nrows, int nthread, double *out);

#endif
