/* fit_internal.h -- the fit result, shared by fit and predict. */
#ifndef HERD_FIT_INTERNAL_H
#define HERD_FIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"

/* What training one group produced. */
typedef struct hd_fitted {
    int status;        /* hd_task_status */
    char *message;     /* malloc'd or NULL */
    herd_model *model; /* NULL unless status is ok */
    size_t rows, train_rows, valid_rows;
    double valid_metric; /* NaN without validation rows */
    int best_iteration;  /* -1 without a model */
    int rounds;          /* rounds kept in the model */
    double cv_mean, cv_std;
    double seconds;
    int nthread;
    const char *tree_method; /* static string */
    const char *max_bin;     /* static string when herd chose it, else NULL */
    /* The group's data (every row in frame order: features as the float32
     * values XGBoost trains on, label, weight), hashed for artifacts; 0 for
     * groups that did not train. */
    uint64_t fingerprint;
} hd_fitted;

struct herd_fit_result {
    size_t n;
    const char **keys; /* in key_arena */
    hd_arena *key_arena;
    hd_fitted *items;
    char metric[48];
    hd_key_index index; /* key -> position */
    /* The fit's XGBoost parameters as the caller gave them (strings in
     * key_arena), recorded in artifacts. */
    size_t n_params;
    const char **param_names, **param_values;
};

/* An empty set for n groups with these keys (copied). */
int hd_fit_result_new(size_t n, const char *const *keys, herd_fit_result **out);

/* Copy the fit's parameters into the set. */
int hd_fit_result_params(herd_fit_result *set, const char *const *names,
                        const char *const *values, size_t n);

/* Index of `key` in the set, or (size_t)-1. */
size_t hd_fit_result_index(const herd_fit_result *set, const char *key);

#endif
