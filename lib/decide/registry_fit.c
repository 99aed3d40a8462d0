/* registry_fit.c -- herd_registry_fit: fit every group and register its
 * model, streaming, for hosts that do not run the weekly cycle.
 *
 * herd_fit keeps every model until the call returns, and registering them
 * afterwards builds every artifact on one thread.  Here each worker, once
 * its group is trained, packages the model as an artifact, adds it to the
 * one batch (under a lock: the batch belongs to one thread at a time) and
 * frees it, so memory holds one model per worker and packaging runs on
 * every worker.  The batch commits once, after the last group; the models
 * and the report are herd_fit's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "model/xgb_internal.h"
#include "artifact/artifact_internal.h"
#include "train/apply_internal.h"
#include "train/fit_internal.h"
#include "registry/batch_internal.h"
#include "registry/uri_internal.h"
#include "decide/cycle_internal.h"

typedef struct rf_ctx {
    const herd_groups *groups;
    hd_fit_plan *plan;
    herd_fit_result *set; /* per group: the fit's report values; models freed */
    herd_register_options o;
    herd_batch *batch;
    size_t *index; /* per group: its version in the batch; SIZE_MAX: none */
    pthread_mutex_t lock;
} rf_ctx;

/* Package a trained group's model and add it to the batch. */
static int rf_register(rf_ctx *c, const char *key, const hd_fitted *it, size_t *index)
{
    char *idem = c->o.run_id ? hd_cycle_idempotency_key(c->o.family, c->o.run_id, key) : NULL;
    if (c->o.run_id && !idem) return hd_oom();
    herd_artifact_options ao, o;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = c->o.family;
    ao.run_id = c->o.run_id;
    ao.idempotency_key = idem;
    herd_artifact *a = NULL;
    int rc = hd_art_options_read(&ao, "herd_registry_fit", &o);
    if (!rc) rc = hd_fitted_artifact(c->plan, it, key, &o, &a);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = c->o.alias; /* family, group, run and key: the artifact's */
    if (!rc) {
        pthread_mutex_lock(&c->lock);
        rc = herd_batch_add(c->batch, a, &vo, index);
        pthread_mutex_unlock(&c->lock);
    }
    herd_artifact_free(a);
    free(idem);
    return rc;
}

static int rf_task(void *ctx, size_t g, int worker, int nthread)
{
    (void)worker;
    rf_ctx *c = ctx;
    const char *key = c->groups->keys[g];
    hd_fitted *it = &c->set->items[g];
    int rc = hd_fit_group(c->plan, key, hd_groups_rows_of(c->groups, g),
                          hd_groups_size_of(c->groups, g), nthread, NULL, it);
    if (!rc && it->model) {
        rc = rf_register(c, key, it, &c->index[g]);
        herd_model_free(it->model); /* registered: this call keeps no model */
        it->model = NULL;
        if (rc) hd_error_prefix("group '%s': ", key);
    }
    return rc;
}

static const char *rf_task_key(void *ctx, size_t t) { return ((rf_ctx *)ctx)->groups->keys[t]; }

/* The fit's report, with each group's version. */
static int rf_report(const rf_ctx *c, int committed, herd_frame **out)
{
    size_t n = c->groups->ngroups;
    int64_t *version = hd_calloc(n ? n : 1, sizeof *version);
    int64_t *existed = hd_calloc(n ? n : 1, sizeof *existed);
    int rc = version && existed ? HERD_OK : hd_oom();
    for (size_t g = 0; !rc && committed && g < n; g++) {
        if (c->index[g] == SIZE_MAX) continue;
        int e = 0;
        rc = herd_batch_version(c->batch, c->index[g], &version[g], &e);
        existed[g] = e;
    }
    herd_frame *f = NULL;
    if (!rc) rc = herd_fit_result_report(c->set, &f);
    if (!rc) rc = hd_frame_add_i64(f, "version", version, n);
    if (!rc) rc = hd_frame_add_i64(f, "existed", existed, n);
    free(version);
    free(existed);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

static int rf_options_read(const herd_register_options *in, herd_register_options *o)
{
    int rc = hd_options_read(&hd_register_options_desc, in, o, "herd_registry_fit");
    if (rc) return rc;
    if (!o->family)
        return hd_error(HERD_EINVAL, "herd_registry_fit: opt->family is NULL; name the family");
    rc = hd_id_check(o->family, "opt->family");
    if (!rc && o->run_id) rc = hd_id_check(o->run_id, "opt->run_id");
    if (!rc && o->alias) rc = hd_id_check(o->alias, "opt->alias");
    if (!rc && o->alias && !strcmp(o->alias, "latest"))
        rc = hd_error(HERD_EINVAL, "opt->alias: 'latest' is reserved (it always names the "
                      "newest version)");
    return rc ? hd_error_prefix("herd_registry_fit: ") : HERD_OK;
}

static int rf_call(herd_registry *reg, const herd_groups *groups, const herd_fit_options *fit,
                   const herd_register_options *opt, const herd_apply_options *apply,
                   herd_frame **report)
{
    HD_CHECK_NOT_NULL(report);
    *report = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(fit);
    rf_ctx c = {.groups = groups};
    hd_apply_config cfg;
    int rc = rf_options_read(opt, &c.o);
    if (!rc) rc = hd_apply_config_read(apply, &cfg, "herd_registry_fit");
    if (!rc) rc = hd_groups_check_keys(groups);
    if (rc) return rc;
    hd_scope_set_ids(c.o.family, c.o.run_id);
    size_t n = groups->ngroups;
    size_t *task_rows = hd_malloc(n ? n : 1, sizeof *task_rows);
    hd_task_result *res = hd_calloc(n ? n : 1, sizeof *res);
    c.index = hd_malloc(n ? n : 1, sizeof *c.index);
    pthread_mutex_init(&c.lock, NULL);
    if (!task_rows || !res || !c.index) rc = hd_oom();
    for (size_t g = 0; !rc && g < n; g++) {
        task_rows[g] = hd_groups_size_of(groups, g);
        c.index[g] = SIZE_MAX;
    }
    if (!rc) rc = hd_fit_plan_new(groups, fit, &c.plan);
    if (!rc) rc = hd_fit_plan_result(c.plan, &c.set);
    if (!rc) rc = herd_registry_begin(reg, &c.batch);
    if (!rc) hd_batch_stream(c.batch); /* one artifact per group: memory stays flat */
    if (!rc) rc = hd_batch_reserve(c.batch, n, 2 * n + 1); /* a version and an alias each */
    int jrc = HERD_OK;
    if (!rc) {
        hd_job job = {.ntasks = n, .ngroups = n, .task_rows = task_rows, .run = rf_task,
                      .worker_start = hd_xgb_worker_start, .task_key = rf_task_key, .ctx = &c};
        hd_phase_begin("fit", cfg.progress, cfg.progress_user);
        jrc = hd_job_run(&job, &cfg, res);
        /* A batch that could not take a model (out of memory, its pack
         * file) stops the call: committing would lose that group. */
        for (size_t g = 0; jrc == HERD_OK && g < n; g++)
            if (res[g].status == HD_TASK_FAILED && c.set->items[g].status == HD_TASK_OK)
                jrc = hd_error(res[g].code, "herd_registry_fit: %s", res[g].message);
        if (jrc != HERD_OK && jrc != HERD_ECANCELED && jrc != HERD_EBUDGET) rc = jrc;
    }
    int committed = 0;
    if (!rc && !jrc) {
        hd_phase_begin("register", cfg.progress, cfg.progress_user);
        double t = hd_now();
        rc = herd_batch_set_progress(c.batch, cfg.progress, cfg.progress_user);
        if (!rc && c.o.run_id) rc = herd_batch_set_run(c.batch, c.o.run_id, NULL, NULL);
        if (!rc) rc = herd_batch_commit(c.batch);
        committed = !rc;
        if (!rc)
            hd_log(HERD_LOG_INFO, "register: %zu models of family '%s' committed in %s s",
                   herd_batch_count(c.batch), c.o.family, HD_NUMF("%.3f", hd_now() - t));
    }
    if (!rc && jrc) { /* cancelled or over budget: the report, and the job's error */
        hd_saved_error saved;
        hd_error_save(&saved);
        rc = rf_report(&c, 0, report);
        if (!rc) rc = hd_error_restore(&saved);
    } else if (!rc) {
        rc = rf_report(&c, committed, report);
    }
    herd_batch_free(c.batch);
    herd_fit_result_free(c.set);
    hd_fit_plan_free(c.plan);
    pthread_mutex_destroy(&c.lock);
    free(c.index);
    free(task_rows);
    hd_task_results_free(res, res ? n : 0);
    return rc;
}

int herd_registry_fit(herd_registry *reg, const herd_groups *groups, const herd_fit_options *fit,
                      const herd_register_options *opt, const herd_apply_options *apply,
                      herd_frame **report)
{
    static const char *const plan[] = {"fit", "register"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, 2, NULL, NULL);
    int rc = rf_call(reg, groups, fit, opt, apply, report);
    hd_scope_leave(&scope);
    return rc;
}
