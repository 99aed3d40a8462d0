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

/* ---- One group at a time, for callers that stream (the weekly cycle) ---- */

/* Everything herd_fit decides once, before any group trains: the options
 * read and checked, the columns of the frame of `groups`, the objective,
 * the metric, the parameters probed.  Immutable: any number of workers
 * may train with one plan. */
typedef struct hd_fit_plan hd_fit_plan;

int hd_fit_plan_new(const herd_groups *groups, const herd_fit_options *fit, hd_fit_plan **out);
void hd_fit_plan_free(hd_fit_plan *p);

/* The values its models predict per row (the classes of multi:softprob). */
size_t hd_fit_plan_outputs(const hd_fit_plan *p);

/* An empty fit result for the plan's groups (none run yet), with the
 * fit's metric and parameters: what herd_fit fills. */
int hd_fit_plan_result(const hd_fit_plan *p, herd_fit_result **out);

void hd_fitted_init(hd_fitted *it);  /* not run, no model */
void hd_fitted_clear(hd_fitted *it); /* free its model and message; as init */

/* Rows of the plan's frame to predict with a group's model as soon as it
 * is trained, by the booster that trained it (the cycle's holdout): `out`
 * receives n * outputs values, exactly what the saved model predicts. */
typedef struct hd_rows_pred {
    const size_t *rows;
    size_t n;
    double *out;
} hd_rows_pred;

/* Train one group on `rows` of the plan's frame, in the order given, on
 * the calling (worker) thread, with its cross-validation folds one after
 * the other: the model and report values herd_fit gives the same rows;
 * `extra` (may be NULL) predicted on the way.
 * HERD_SKIP or an error with item->status and item->message set as
 * herd_fit's report has them. */
int hd_fit_group(const hd_fit_plan *p, const char *key, const size_t *rows, size_t n,
                 int nthread, const hd_rows_pred *extra, hd_fitted *item);

/* The artifact of a fitted group, as herd_fit_result_artifact builds it;
 * `o` is already read (hd_art_options_read). */
int hd_fitted_artifact(const hd_fit_plan *p, const hd_fitted *it, const char *group,
                       const herd_artifact_options *o, herd_artifact **out);

#endif
