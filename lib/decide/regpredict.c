/* regpredict.c -- predict every row with its group's model from the
 * registry, groups in parallel.
 *
 * Each task resolves its group's alias and takes the prepared predictor of
 * that version from the handle's cache (predcache.c), loading and
 * preparing it on a miss; the family model (the fallback) is resolved once
 * before the tasks start and taken from the cache by the tasks that need
 * it.  Once the models the call acquired fill the cache's cap, a miss is
 * loaded for its task alone (a private predictor, freed by the task on its
 * own thread) rather than kept by evicting the call's earlier models; the
 * family model, shared by many groups, is always kept.
 *
 * Tasks predict their group's rows a block at a time into a buffer of
 * their own and write each block straight to the output columns at the
 * rows' frame positions (groups own disjoint rows, so no two tasks write
 * the same element): the working memory is a block per worker, whatever
 * the number or size of the groups, and the scatter runs on the workers.
 * The prediction columns are made by the first task that knows how many
 * outputs a row has; once every task is done, the call checks that every
 * group's model agreed on it.
 *
 * Predictors are prepared and used on herd's worker threads, which exit
 * when the call returns: XGBoost's per-thread buffers go with them.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "model/model_internal.h"
#include "model/predictor_internal.h"
#include "artifact/artifact_internal.h"
#include "model/xgb_internal.h"
#include "train/apply_internal.h"
#include "registry/predcache_internal.h"
#include "registry/registry_internal.h"
#include "registry/uri_internal.h"

/* Predictions a task holds at once (doubles): a block of rows is
 * predicted, then written to the output columns. */
#define RP_BLOCK_VALUES 65536u

typedef struct rp_group {
    size_t nout;      /* outputs per row of its model; 0: no model */
    int64_t version;
    int fallback;
} rp_group;

/* The output columns, filled by the tasks at their rows. */
typedef struct rp_columns {
    pthread_mutex_t mu;  /* guards the making of pred */
    double **pred;       /* nout columns of nrows, NaN until predicted */
    size_t nout;         /* 0 until a task made them */
    int64_t *version;    /* nrows, 0 for rows without a model */
    int64_t *fallback;   /* nrows */
    size_t nrows;
} rp_columns;

typedef struct rp_ctx {
    herd_registry *reg;
    hd_predcache *cache;
    hd_predcache_call call; /* the models this call acquired */
    const herd_groups *groups;
    herd_registry_predict_options o;
    int64_t fallback_version; /* 0: no family model */
    rp_group *out;
    rp_columns cols;
} rp_ctx;

static int rp_options_read(const herd_registry_predict_options *in,
                           herd_registry_predict_options *o)
{
    int rc = hd_options_read(&hd_registry_predict_options_desc, in, o, NULL);
    if (rc) return rc;
    if (!o->family) return hd_error(HERD_EINVAL, "opt->family is NULL; name the family");
    rc = hd_id_check(o->family, "opt->family");
    if (!rc) rc = o->alias ? hd_id_check(o->alias, "opt->alias")
                           : hd_error(HERD_EINVAL, "opt->alias is NULL");
    return rc;
}

static int rp_load(herd_registry *reg, const char *family, const char *key, int64_t version,
                   herd_model **out)
{
    herd_artifact *a = NULL;
    int rc = herd_registry_load(reg, family, key, version, &a);
    return rc ? rc : hd_artifact_into_model(a, out);
}

/* The prepared predictor of a version: from the cache or loaded into it
 * (acquired into *out), or, when the cache does not admit it, loaded for
 * this task alone (*own, for the task to free). */
static int rp_predictor(rp_ctx *c, const char *key, int64_t version, int fallback, int nthread,
                        hd_predcache_entry **out, herd_predictor **own)
{
    hd_predcache_key k = {.family = c->o.family, .group = key, .version = version,
                          .nthread = nthread};
    if ((*out = hd_predcache_acquire(c->cache, &k, c->o.alias, &c->call))) return HERD_OK;
    herd_model *m = NULL;
    herd_predictor *p = NULL;
    int rc = rp_load(c->reg, c->o.family, key, version, &m);
    int keep = !rc && (fallback || hd_predcache_admits(c->cache, &c->call, m->len));
    if (!rc) rc = hd_predictor_create(m, nthread, keep ? HD_PREDICTOR_SHARED
                                                       : HD_PREDICTOR_PRIVATE, &p);
    herd_model_free(m);
    if (rc) return rc;
    if (!keep) {
        *own = p;
        return HERD_OK;
    }
    return hd_predcache_insert(c->cache, &k, c->o.alias, p, &c->call, out);
}

/* nout prediction columns of every row, NaN where no model predicts. */
static double **rp_pred_new(size_t nout, size_t nrows)
{
    double **pred = hd_calloc(nout, sizeof *pred);
    for (size_t k = 0; pred && k < nout; k++) {
        if (!(pred[k] = hd_malloc(nrows ? nrows : 1, sizeof **pred))) {
            while (k > 0) free(pred[--k]);
            free(pred);
            return NULL;
        }
        for (size_t r = 0; r < nrows; r++) pred[k][r] = NAN;
    }
    return pred;
}

/* The prediction columns for a model of `nout` outputs per row, made by
 * the first task to ask.  *pred is NULL when they were made for another
 * width: the call fails after the job, naming the groups (rp_width_check). */
static int rp_pred_columns(rp_columns *cols, size_t nout, double ***pred)
{
    int rc = HERD_OK;
    pthread_mutex_lock(&cols->mu);
    if (!cols->nout) {
        if ((cols->pred = rp_pred_new(nout, cols->nrows))) cols->nout = nout;
        else rc = HERD_ENOMEM;
    }
    *pred = cols->nout == nout ? cols->pred : NULL;
    pthread_mutex_unlock(&cols->mu);
    return rc;
}

/* Predict the group's n rows a block at a time and write each block to
 * the output columns at the rows' positions. */
static int rp_predict_rows(rp_ctx *c, const herd_predictor *p, const rp_group *r,
                           const size_t *rows, size_t n)
{
    double **pred = NULL;
    int rc = rp_pred_columns(&c->cols, r->nout, &pred);
    if (rc || !pred) return rc;
    size_t block = RP_BLOCK_VALUES / r->nout ? RP_BLOCK_VALUES / r->nout : 1;
    if (block > n) block = n;
    double *buf = hd_malloc(block * r->nout + 1, sizeof *buf);
    if (!buf) return HERD_ENOMEM;
    for (size_t done = 0; !rc && done < n; done += block) {
        size_t m = n - done < block ? n - done : block;
        const size_t *at = rows + done;
        rc = herd_predictor_predict(p, c->groups->frame, at, m, buf, m * r->nout);
        for (size_t j = 0; !rc && j < m; j++) {
            for (size_t k = 0; k < r->nout; k++) pred[k][at[j]] = buf[j * r->nout + k];
            c->cols.version[at[j]] = r->version;
            c->cols.fallback[at[j]] = r->fallback;
        }
    }
    free(buf);
    return rc;
}

static int rp_task(void *ctx, size_t g, int worker, int nthread)
{
    (void)worker;
    rp_ctx *c = ctx;
    rp_group *r = &c->out[g];
    const char *key = c->groups->keys[g];
    int64_t v = 0;
    /* A key the registry cannot hold (a tab in it...) has no model of its
     * own: its rows go to the family model, or stay NaN. */
    int rc = hd_key_check(key, "group key");
    rc = rc ? HERD_ENOTFOUND : herd_registry_resolve(c->reg, c->o.family, key, c->o.alias, &v);
    if (rc == HERD_ENOTFOUND) {
        herd_clear_error();
        if (!c->fallback_version) return HERD_OK; /* no model: NaN */
        r->fallback = 1;
        v = c->fallback_version;
        rc = HERD_OK;
    }
    r->version = v;
    hd_predcache_entry *e = NULL;
    herd_predictor *own = NULL;
    if (!rc) rc = rp_predictor(c, r->fallback ? HERD_FALLBACK_GROUP : key, v, r->fallback,
                               nthread, &e, &own);
    if (!rc) {
        const herd_predictor *p = own ? own : hd_predcache_predictor(e);
        r->nout = herd_predictor_num_outputs(p);
        rc = rp_predict_rows(c, p, r, hd_groups_rows_of(c->groups, g),
                             hd_groups_size_of(c->groups, g));
    }
    hd_predcache_release(c->cache, e);
    herd_predictor_free(own);
    if (rc) hd_error_prefix("group '%s' (%s version %lld): ", key,
                            r->fallback ? "family model" : c->o.alias, (long long)r->version);
    return rc;
}

static const char *rp_key(void *ctx, size_t g)
{
    return ((const rp_ctx *)ctx)->groups->keys[g];
}

/* The version of the family model at the alias, if asked for and
 * registered (the tasks that need it load it). */
static int rp_fallback(rp_ctx *c)
{
    if (!c->o.fallback) return HERD_OK;
    int rc = herd_registry_resolve(c->reg, c->o.family, HERD_FALLBACK_GROUP, c->o.alias,
                                   &c->fallback_version);
    if (rc == HERD_ENOTFOUND) {
        herd_clear_error();
        c->fallback_version = 0;
        return HERD_OK;
    }
    if (rc) hd_error_prefix("the family model: ");
    return rc;
}

/* Every model predicts as many values per row: the first group's with a
 * model sets the width (in the groups' order, whichever task ran first). */
static int rp_width_check(const rp_ctx *c, size_t *without)
{
    const herd_groups *g = c->groups;
    size_t nout = 0;
    *without = g->missing;
    for (size_t i = 0; i < g->ngroups; i++) {
        if (!c->out[i].nout) {
            *without += hd_groups_size_of(g, i);
            continue;
        }
        if (nout && c->out[i].nout != nout)
            return hd_error(HERD_EINVAL, "group '%s': its model predicts %zu values per row "
                            "but others predict %zu; predict them separately", g->keys[i],
                            c->out[i].nout, nout);
        nout = c->out[i].nout;
    }
    return HERD_OK;
}

static int rp_columns_init(rp_columns *cols, size_t nrows)
{
    memset(cols, 0, sizeof *cols);
    pthread_mutex_init(&cols->mu, NULL);
    cols->nrows = nrows;
    cols->version = hd_calloc(nrows ? nrows : 1, sizeof *cols->version);
    cols->fallback = hd_calloc(nrows ? nrows : 1, sizeof *cols->fallback);
    return cols->version && cols->fallback ? HERD_OK : HERD_ENOMEM;
}

/* Free what the frame did not take. */
static void rp_columns_free(rp_columns *cols)
{
    for (size_t k = 0; cols->pred && k < cols->nout; k++) free(cols->pred[k]);
    free(cols->pred);
    free(cols->version);
    free(cols->fallback);
    pthread_mutex_destroy(&cols->mu);
}

/* The output frame takes the columns over (one NaN column when no group
 * had a model). */
static int rp_frame(rp_columns *cols, herd_frame **out)
{
    if (!cols->nout) {
        if (!(cols->pred = rp_pred_new(1, cols->nrows))) return HERD_ENOMEM;
        cols->nout = 1;
    }
    herd_frame *f = NULL;
    int rc = herd_frame_new(&f);
    for (size_t k = 0; !rc && k < cols->nout; k++) {
        char name[48];
        if (cols->nout == 1) snprintf(name, sizeof name, "prediction");
        else snprintf(name, sizeof name, "prediction_%zu", k);
        rc = hd_frame_adopt(f, name, HERD_TYPE_FLOAT64, cols->pred[k], NULL, NULL, cols->nrows);
        cols->pred[k] = NULL; /* the frame's now, or freed by it */
    }
    if (!rc) {
        rc = hd_frame_adopt(f, "version", HERD_TYPE_INT64, cols->version, NULL, NULL,
                            cols->nrows);
        cols->version = NULL;
    }
    if (!rc) {
        rc = hd_frame_adopt(f, "fallback", HERD_TYPE_INT64, cols->fallback, NULL, NULL,
                            cols->nrows);
        cols->fallback = NULL;
    }
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

static int hd_registry_predict_call(herd_registry *reg, const herd_groups *groups,
                                    const herd_registry_predict_options *opt,
                                    const herd_apply_options *apply, herd_frame **out,
                                    size_t *rows_without_model)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(groups);
    rp_ctx c = {.reg = reg, .cache = hd_registry_predictors(reg), .groups = groups};
    int rc = rp_options_read(opt, &c.o);
    if (rc) return hd_error_prefix("herd_registry_predict: ");
    hd_scope_set_ids(c.o.family, NULL);
    hd_apply_config cfg;
    if ((rc = hd_apply_config_read(apply, &cfg, __func__))) return rc;
    size_t ng = groups->ngroups, without = 0;
    c.out = hd_calloc(ng ? ng : 1, sizeof *c.out);
    size_t *task_rows = hd_malloc(ng ? ng : 1, sizeof *task_rows);
    hd_task_result *res = hd_calloc(ng ? ng : 1, sizeof *res);
    if (!c.out || !task_rows || !res) rc = HERD_ENOMEM;
    int cols_rc = rp_columns_init(&c.cols, herd_frame_row_count(groups->frame));
    if (!rc) rc = cols_rc;
    if (!rc) rc = herd_registry_refresh(reg);
    if (!rc) rc = rp_fallback(&c);
    if (!rc) hd_predcache_call_begin(c.cache, &c.call);
    for (size_t i = 0; !rc && i < ng; i++) task_rows[i] = hd_groups_size_of(groups, i);
    if (!rc) {
        hd_job job = {.ntasks = ng, .ngroups = ng, .task_rows = task_rows, .run = rp_task,
                      .worker_start = hd_xgb_worker_start, .task_key = rp_key, .ctx = &c};
        rc = hd_job_run(&job, &cfg, res);
        if (!rc) rc = hd_task_failures(res, ng, "herd_registry_predict");
        if (!rc) rc = rp_width_check(&c, &without);
        if (!rc) rc = rp_frame(&c.cols, out);
    }
    if (!rc && rows_without_model) *rows_without_model = without;
    rp_columns_free(&c.cols);
    free(c.out);
    free(task_rows);
    hd_task_results_free(res, res ? ng : 0);
    return rc;
}

int herd_registry_predict(herd_registry *reg, const herd_groups *groups,
                          const herd_registry_predict_options *opt,
                          const herd_apply_options *apply, herd_frame **out,
                          size_t *rows_without_model)
{
    static const char *const plan[] = {"predict"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, (int)(sizeof plan / sizeof *plan), NULL, NULL);
    int rc = hd_registry_predict_call(reg, groups, opt, apply, out, rows_without_model);
    hd_scope_leave(&scope);
    return rc;
}
