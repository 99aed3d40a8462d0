/* predict.c -- every row through its group's model, groups in parallel.
 *
 * Each task loads its group's model once, predicts the group's rows and
 * scatters them into the output columns at the rows' frame positions; tasks
 * write disjoint rows, so no lock is needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "model/model_internal.h"
#include "model/predictor_internal.h"
#include "model/xgb_internal.h"
#include "train/apply_internal.h"
#include "train/fit_internal.h"

typedef struct hd_predict_ctx {
    const herd_groups *groups;
    const herd_fit_result *models;
    size_t nout;
    double **out;            /* nout columns of frame rows */
    size_t *group_model;     /* model index per group, or (size_t)-1 */
} hd_predict_ctx;

static int hd_predict_task(void *vctx, size_t g, int worker, int nthread)
{
    (void)worker;
    hd_predict_ctx *c = vctx;
    size_t mi = c->group_model[g];
    if (mi == (size_t)-1) return HERD_OK;
    const herd_model *m = c->models->items[mi].model;
    const size_t *rows = hd_groups_rows_of(c->groups, g);
    size_t n = hd_groups_size_of(c->groups, g);
    size_t *cols = hd_malloc(m->nfeat, sizeof *cols);
    double *pred = hd_malloc(n, c->nout * sizeof *pred);
    int rc = (cols && pred) ? hd_features_bind((const char *const *)m->feature_names,
                                               (const char *const *)m->feature_types, m->nfeat,
                                               c->groups->frame, cols)
                            : HERD_ENOMEM;
    /* One booster per group, made and freed on this worker. */
    herd_predictor *p = NULL;
    if (!rc) rc = hd_predictor_create(m, nthread, HD_PREDICTOR_PRIVATE, &p);
    if (!rc) rc = hd_predictor_run_frame(p, c->groups->frame, cols, rows, n, pred);
    herd_predictor_free(p);
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < c->nout; k++) c->out[k][rows[i]] = pred[i * c->nout + k];
    } else {
        hd_error_prefix("group '%s': ", c->groups->keys[g]);
    }
    free(cols);
    free(pred);
    return rc;
}

static const char *hd_predict_key(void *ctx, size_t g)
{
    return ((const hd_predict_ctx *)ctx)->groups->keys[g];
}

/* Map groups to models; the outputs per row must agree across models. */
static int hd_predict_map(hd_predict_ctx *c, size_t *rows_without)
{
    const herd_groups *g = c->groups;
    size_t without = g->missing;
    c->nout = 0;
    for (size_t i = 0; i < g->ngroups; i++) {
        size_t mi = hd_fit_result_index(c->models, g->keys[i]);
        if (mi != (size_t)-1 && !c->models->items[mi].model) mi = (size_t)-1;
        c->group_model[i] = mi;
        if (mi == (size_t)-1) {
            without += hd_groups_size_of(g, i);
            continue;
        }
        size_t k = c->models->items[mi].model->num_outputs;
        if (c->nout && k != c->nout)
            return hd_error(HERD_EINVAL,
                            "group '%s': its model predicts %zu values per row but others "
                            "predict %zu; predict these models separately",
                            g->keys[i], k, c->nout);
        c->nout = k;
    }
    if (!c->nout) c->nout = 1;
    *rows_without = without;
    return HERD_OK;
}

/* The result frame takes over the output columns. */
static int hd_predict_frame(hd_predict_ctx *c, size_t nrows, herd_frame **out)
{
    herd_frame *f = NULL;
    int rc = herd_frame_new(&f);
    for (size_t k = 0; !rc && k < c->nout; k++) {
        char name[48];
        if (c->nout == 1) snprintf(name, sizeof name, "prediction");
        else snprintf(name, sizeof name, "prediction_%zu", k);
        rc = hd_frame_adopt(f, name, HERD_TYPE_FLOAT64, c->out[k], NULL, NULL, nrows);
        c->out[k] = NULL; /* owned by the frame now, even on failure */
    }
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

static int hd_predict_call(const herd_groups *groups, const herd_fit_result *models,
                           const herd_apply_options *apply, herd_frame **out,
                           size_t *rows_without_model)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(models);
    hd_apply_config cfg;
    int rc = hd_apply_config_read(apply, &cfg, __func__);
    if (rc) return rc;
    size_t ng = groups->ngroups, nrows = herd_frame_row_count(groups->frame), without = 0;
    hd_predict_ctx c = {.groups = groups, .models = models};
    c.group_model = hd_malloc(ng, sizeof *c.group_model);
    size_t *task_rows = hd_malloc(ng, sizeof *task_rows);
    hd_task_result *res = hd_calloc(ng, sizeof *res);
    rc = (c.group_model && task_rows && res) ? hd_predict_map(&c, &without) : HERD_ENOMEM;
    if (!rc) {
        c.out = hd_calloc(c.nout, sizeof *c.out);
        for (size_t k = 0; c.out && k < c.nout; k++) {
            c.out[k] = hd_malloc(nrows, sizeof **c.out);
            if (!c.out[k]) break;
            for (size_t r = 0; r < nrows; r++) c.out[k][r] = NAN;
        }
        if (!c.out || !c.out[c.nout - 1]) rc = HERD_ENOMEM;
    }
    if (!rc) {
        for (size_t i = 0; i < ng; i++)
            task_rows[i] = c.group_model[i] == (size_t)-1 ? 0 : hd_groups_size_of(groups, i);
        hd_job job = {.ntasks = ng, .ngroups = ng, .task_rows = task_rows,
                      .run = hd_predict_task, .worker_start = hd_xgb_worker_start,
                      .task_key = hd_predict_key,
                      .ctx = &c};
        rc = hd_job_run(&job, &cfg, res);
        if (!rc) rc = hd_task_failures(res, ng, "herd_predict");
        if (!rc) rc = hd_predict_frame(&c, nrows, out);
    }
    if (!rc && rows_without_model) *rows_without_model = without;
    for (size_t k = 0; c.out && k < c.nout; k++) free(c.out[k]);
    free(c.out);
    free(c.group_model);
    free(task_rows);
    hd_task_results_free(res, res ? ng : 0);
    return rc;
}

int herd_predict(const herd_groups *groups, const herd_fit_result *models,
                 const herd_apply_options *apply, herd_frame **out, size_t *rows_without_model)
{
    static const char *const plan[] = {"predict"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, (int)(sizeof plan / sizeof *plan), NULL, NULL);
    int rc = hd_predict_call(groups, models, apply, out, rows_without_model);
    hd_scope_leave(&scope);
    return rc;
}
