/* model_internal.h -- herd_model internals shared with fit and predict. */
#ifndef HERD_MODEL_INTERNAL_H
#define HERD_MODEL_INTERNAL_H

#include <stddef.h>

#include <xgboost/c_api.h>

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

/* The same, taking `ubj` (from hd_malloc) instead of copying it: freed
 * on failure too, so the caller never frees it. */
int hd_model_adopt(unsigned char *ubj, size_t len, const char *const *names,
                   const char *const *types, size_t nfeat, const char *objective,
                   size_t num_outputs, herd_model **out);

/* A booster loaded with `len` bytes of a model (already checked), its
 * nthread set to `nthread` (at least 1) after loading: loading configures
 * a booster with every core unless told. */
int hd_booster_load(const void *data, size_t len, int nthread, BoosterHandle *out);

#endif
