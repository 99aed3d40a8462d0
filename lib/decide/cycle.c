/* cycle.c -- the weekly cycle as one call: split, fit, register, compare,
 * promote.
 *
 * The holdout rows are cut off before training, so no model ever sees
 * them, not even for early stopping; every trained model goes to the
 * registry in one batch under idempotency keys "FAMILY/RUN/GROUP", so a re-run of
 * the same run adds nothing; then herd_compare's decision and promotion
 * run over the holdout, the family model's included.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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
#include "model/xgb_internal.h"
#include "train/apply_internal.h"
#include "registry/uri_internal.h"
#include "decide/compare_internal.h"

/* The column that puts every row in the family model's one group. */
static const char cyc_all_column[] = "__herd_family_model__";

/* The holdout when neither holdout_fraction nor holdout_periods is set. */
#define CYC_DEFAULT_FRACTION 0.2

static int cyc_options_read(const herd_cycle_options *in, const herd_groups *groups,
                            const herd_fit_options *fit, herd_cycle_options *o, size_t *order)
{
    int rc = hd_options_read(&hd_cycle_options_desc, in, o, NULL);
    if (rc) return rc;
    if (!o->family) return hd_error(HERD_EINVAL, "opt->family is NULL; name the family");
    if (!o->run_id)
        return hd_error(HERD_EINVAL, "opt->run_id is NULL; name the run (e.g. "
                        "\"2026-W48\"): re-running it then adds nothing");
    rc = hd_id_check(o->family, "opt->family");
    if (!rc) rc = hd_id_check(o->run_id, "opt->run_id");
    if (rc) return rc;
    if (o->holdout_fraction != 0 && o->holdout_periods)
        return hd_error(HERD_EINVAL, "opt->holdout_fraction is %s and opt->holdout_periods "
                        "%zu: give one of them (each group's last fraction of rows, or its "
                        "rows of the last N values of opt->holdout_order_by)",
                        HD_NUMF("%g", o->holdout_fraction), o->holdout_periods);
    if (!o->holdout_periods && o->holdout_fraction == 0)
        o->holdout_fraction = CYC_DEFAULT_FRACTION;
    if (!o->holdout_order_by)
        return hd_error(HERD_EINVAL, "opt->holdout_order_by is NULL: name the column that "
                        "orders each group's rows (e.g. a week)");
    if (herd_frame_find(groups->frame, o->holdout_order_by, order))
        return hd_error(HERD_ENOTFOUND, "opt->holdout_order_by: no column '%s' in the frame",
                        o->holdout_order_by);
    if (!fit->label) return hd_error(HERD_EINVAL, "fit->label is NULL");
    size_t clash;
    if (o->fallback && herd_groups_find(groups, HERD_FALLBACK_GROUP, &clash) == HERD_OK)
        return hd_error(HERD_EINVAL, "a group of the data is named '%s', the key of the family "
                        "model: rename it, or run without opt->fallback",
                        HERD_FALLBACK_GROUP);
    herd_clear_error();
    return hd_groups_check_keys(groups);
}

/* The cycle's intermediate frames and groups. */
typedef struct cyc_parts {
    herd_frame *train, *hold;
    herd_groups *train_groups, *hold_groups, *train_all, *hold_all;
} cyc_parts;

static void cyc_parts_free(cyc_parts *p)
{
    herd_groups_free(p->train_groups);
    herd_groups_free(p->hold_groups);
    herd_groups_free(p->train_all);
    herd_groups_free(p->hold_all);
    herd_frame_free(p->train);
    herd_frame_free(p->hold);
}

/* Group `f` by the same key columns as `groups`. */
static int cyc_regroup(const herd_groups *groups, const herd_frame *f, herd_groups **out)
{
    const char **names = hd_malloc(groups->nkeys, sizeof *names);
    if (!names) return HERD_ENOMEM;
    for (size_t k = 0; k < groups->nkeys; k++)
        names[k] = herd_frame_column_name(groups->frame, groups->key_cols[k]);
    int rc = herd_groups_new(f, names, groups->nkeys, out);
    free(names);
    return rc;
}

/* Every row of `f` in one group, for the family model. */
static int cyc_one_group(herd_frame *f, herd_groups **out)
{
    size_t n = herd_frame_row_count(f);
    const char **v = hd_malloc(n ? n : 1, sizeof *v);
    if (!v) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++) v[i] = HERD_FALLBACK_GROUP;
    int rc = herd_frame_add_column(f, cyc_all_column, HERD_TYPE_STRING, v, n, NULL);
    free(v);
    const char *keys[] = {cyc_all_column};
    if (!rc) rc = herd_groups_new(f, keys, 1, out);
    return rc;
}

/* Training and holdout rows of every group, as frames and groups. */
static int cyc_split(const herd_groups *groups, const double *order,
                     const herd_cycle_options *o, cyc_parts *p)
{
    size_t total = groups->offsets[groups->ngroups];
    size_t *train = hd_malloc(total ? total : 1, sizeof *train);
    size_t *hold = hd_malloc(total ? total : 1, sizeof *hold);
    int rc = train && hold ? HERD_OK : HERD_ENOMEM;
    size_t nt = 0, nh = 0;
    for (size_t g = 0; !rc && g < groups->ngroups; g++) {
        size_t a = 0, b = 0;
        rc = hd_holdout_split(order, o->holdout_order_by, o->holdout_fraction,
                              o->holdout_periods, hd_groups_rows_of(groups, g),
                              hd_groups_size_of(groups, g), hold + nh, &a, train + nt, &b);
        if (rc) hd_error_prefix("group '%s': ", groups->keys[g]);
        nh += a;
        nt += b;
    }
    if (!rc) rc = hd_frame_take(groups->frame, train, nt, &p->train);
    if (!rc) rc = hd_frame_take(groups->frame, hold, nh, &p->hold);
    free(train);
    free(hold);
    if (!rc) rc = cyc_regroup(groups, p->train, &p->train_groups);
    if (!rc) rc = cyc_regroup(groups, p->hold, &p->hold_groups);
    if (!rc && o->fallback) rc = cyc_one_group(p->train, &p->train_all);
    if (!rc && o->fallback) rc = cyc_one_group(p->hold, &p->hold_all);
    return rc;
}

/* The versions this run registered, by key. */
typedef struct cyc_item {
    const char *key; /* into a fit result's report, kept alive */
    size_t index;    /* in the batch */
    int64_t version;
} cyc_item;

typedef struct cyc_added {
    cyc_item *v;
    size_t n, cap;
    herd_frame *reports[2];
} cyc_added;

static void cyc_added_free(cyc_added *a)
{
    free(a->v);
    herd_frame_free(a->reports[0]);
    herd_frame_free(a->reports[1]);
}

/* The version this run registered for `key`, 0 if none.  Linear: the
 * family model's set has one key, and the groups' are searched in order. */
static int64_t cyc_version_of(const cyc_added *a, const char *key, size_t *hint)
{
    for (size_t k = 0; k < a->n; k++) {
        size_t i = (*hint + k) % a->n;
        if (strcmp(a->v[i].key, key)) continue;
        *hint = i + 1;
        return a->v[i].version;
    }
    return 0;
}

/* Add every trained model of `set` to the batch as a challenger. */
static int cyc_add_models(herd_batch *b, const herd_fit_result *set, const herd_cycle_options *o,
                          cyc_added *out, int which)
{
    herd_frame *rep = NULL;
    int rc = herd_fit_result_report(set, &rep);
    out->reports[which] = rep;
    size_t gc = 0, sc = 0;
    if (!rc) rc = herd_frame_find(rep, "group", &gc);
    if (!rc) rc = herd_frame_find(rep, "status", &sc);
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = o->family;
    ao.run_id = o->run_id;
    for (size_t i = 0; !rc && rep && i < herd_frame_row_count(rep); i++) {
        const char *key = NULL, *status = NULL;
        herd_frame_get_string(rep, gc, i, &key);
        herd_frame_get_string(rep, sc, i, &status);
        if (!status || strcmp(status, "ok")) continue;
        /* Keys are registry-wide: the family keeps two families' runs of
         * the same name apart. */
        size_t len = strlen(o->family) + strlen(o->run_id) + strlen(key) + 3;
        char *idem = hd_malloc(len, 1);
        if (!idem) {
            rc = HERD_ENOMEM;
            break;
        }
        snprintf(idem, len, "%s/%s/%s", o->family, o->run_id, key);
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.alias = "challenger";
        vo.idempotency_key = idem;
        herd_artifact *a = NULL;
        size_t at = 0;
        rc = herd_fit_result_artifact(set, key, &ao, &a);
        if (!rc) rc = herd_batch_add(b, a, &vo, &at);
        herd_artifact_free(a);
        free(idem);
        if (!rc && out->n == out->cap &&
            hd_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v))
            rc = HERD_ENOMEM;
        if (!rc) out->v[out->n++] = (cyc_item){key, at, 0};
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Lineage: the run's params
 * --------------------------------------------------------------------- */

/* One value of a column into the hash: numbers as float64 (every NaN and
 * every missing value the same), strings as their bytes and NUL, a missing
 * string as a marker no string can be. */
static uint64_t cyc_hash_value(uint64_t h, const hd_column *c, size_t row)
{
    if (c->type == HERD_TYPE_STRING) {
        const char *s = hd_col_present(c, row) ? hd_col_str(c, row) : NULL;
        return hd_hash_combine(h, s ? hd_hash_bytes(s, strlen(s) + 1, 0x57ull)
                                    : hd_hash_u64(0x4d15ull));
    }
    double v = hd_col_double(c, row);
    if (isnan(v)) v = NAN;
    return hd_hash_combine(h, hd_hash_bytes(&v, sizeof v, 0));
}

/* A fingerprint of the data the cycle was given: every grouped row, group
 * by group in key order and in frame order inside a group, over the named
 * columns (keys, features, label, weight, ordering column), seeded by the
 * names.  The same data give the same fingerprint whatever the threads;
 * names that are not columns of the frame are skipped (herd_fit has
 * already refused them). */
static uint64_t cyc_data_fingerprint(const herd_groups *g, const char *const *names, size_t n)
{
    const herd_frame *f = g->frame;
    uint64_t h = hd_hash_u64(n);
    for (size_t k = 0; k < n; k++) {
        size_t col = 0;
        if (!names[k] || herd_frame_find(f, names[k], &col)) continue;
        const hd_column *c = hd_frame_col(f, col);
        h = hd_hash_combine(h, hd_hash_bytes(names[k], strlen(names[k]) + 1, k));
        for (size_t i = 0; i < g->offsets[g->ngroups]; i++) h = cyc_hash_value(h, c, g->rows[i]);
    }
    herd_clear_error();
    return h;
}

/* Add `v` to object `o` as `key`; on any failure (either NULL: out of
 * memory) free `v` and clear *ok, so that an incomplete record is never
 * written. */
static void cyc_add(int *ok, cJSON *o, const char *key, cJSON *v)
{
    if (o && v && cJSON_AddItemToObject(o, key, v)) return;
    cJSON_Delete(v);
    *ok = 0;
}

static cJSON *cyc_str(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

/* Numbers as JSON: integers exact (also above 2^53, as seeds may be) and
 * written without the locale; reals by the number module (the shortest
 * exact text, '.' in every locale); infinities (unbounded) as null. */
static cJSON *cyc_u64(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

static cJSON *cyc_int(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

static cJSON *cyc_real(double v)
{
    return isfinite(v) ? cJSON_CreateRaw(HD_NUM_JSON(v)) : cJSON_CreateNull();
}

static cJSON *cyc_strings(const char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *item = cyc_str(v[i]);
        if (!item || !cJSON_AddItemToArray(a, item)) {
            cJSON_Delete(item);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* The fit's options as the run records them: what herd_fit was given. */
static cJSON *cyc_fit_json(const herd_fit_options *f, int *ok)
{
    cJSON *o = cJSON_CreateObject(), *params = cJSON_CreateObject();
    cyc_add(ok, o, "features", cyc_strings(f->features, f->n_features));
    cyc_add(ok, o, "label", cyc_str(f->label));
    cyc_add(ok, o, "weight", cyc_str(f->weight));
    for (size_t i = 0; params && i < f->n_params; i++) {
        if (!f->param_names[i]) continue;
        /* a name given twice: its last value, the one XGBoost keeps */
        cJSON_DeleteItemFromObjectCaseSensitive(params, f->param_names[i]);
        cyc_add(ok, params, f->param_names[i], cyc_str(f->param_values[i]));
    }
    cyc_add(ok, o, "xgboost_params", params);
    cyc_add(ok, o, "rounds", cyc_int(f->rounds));
    cyc_add(ok, o, "early_stopping_rounds", cyc_int(f->early_stopping_rounds));
    cyc_add(ok, o, "valid_fraction", cyc_real(f->valid_fraction));
    cyc_add(ok, o, "split", cyc_str(f->split == HERD_SPLIT_LAST ? "last" : "random"));
    cyc_add(ok, o, "valid_order_by", cyc_str(f->valid_order_by));
    cyc_add(ok, o, "seed", cyc_u64(f->seed));
    cyc_add(ok, o, "metric", cyc_str(f->metric));
    cyc_add(ok, o, "min_rows", cyc_u64(f->min_rows));
    cyc_add(ok, o, "cv_folds", cyc_int(f->cv_folds));
    return o;
}

/* The comparison's options as the run used them. */
static cJSON *cyc_compare_json(const herd_compare_options *c, int *ok)
{
    cJSON *o = cJSON_CreateObject();
    cyc_add(ok, o, "champion", cyc_str(c->champion));
    cyc_add(ok, o, "metric", cyc_str(c->metric));
    cyc_add(ok, o, "min_abs_delta", cyc_real(c->min_abs_delta));
    cyc_add(ok, o, "min_rel_delta", cyc_real(c->min_rel_delta));
    cyc_add(ok, o, "metric_min", cyc_real(c->metric_min));
    cyc_add(ok, o, "metric_max", cyc_real(c->metric_max));
    cyc_add(ok, o, "min_holdout_rows", cyc_u64(c->min_holdout_rows));
    cyc_add(ok, o, "bootstrap", cyc_int(c->bootstrap));
    cyc_add(ok, o, "confidence", cyc_real(c->confidence));
    cyc_add(ok, o, "seed", cyc_u64(c->seed));
    cyc_add(ok, o, "dry_run", cJSON_CreateBool(c->dry_run));
    cyc_add(ok, o, "max_promote_fraction", cyc_real(c->max_promote_fraction));
    cyc_add(ok, o, "force", cJSON_CreateBool(c->force));
    return o;
}

/* The run's params: what is needed to train its models again and to check
 * that the data are the same (docs/champion-challenger.md, "Lineage").
 * Strict JSON, the same bytes in every locale.  NULL: out of memory. */
static char *cyc_params_json(const herd_groups *groups, const herd_fit_options *fit,
                             const herd_cycle_options *o, const herd_compare_options *co)
{
    char xgb[32];
    hd_xgb_version(xgb, sizeof xgb);
    /* the columns the fingerprint reads: keys, features, label, weight, order */
    size_t nnames = groups->nkeys + fit->n_features + 3;
    const char **names = hd_malloc(nnames, sizeof *names);
    if (!names) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < groups->nkeys; i++)
        names[k++] = herd_frame_column_name(groups->frame, groups->key_cols[i]);
    for (size_t i = 0; i < fit->n_features; i++) names[k++] = fit->features[i];
    names[k++] = fit->label;
    names[k++] = fit->weight;
    names[k++] = o->holdout_order_by;
    char fp[24];
    snprintf(fp, sizeof fp, "%016llx",
             (unsigned long long)cyc_data_fingerprint(groups, names, nnames));
    int ok = 1;
    cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateObject();
    cyc_add(&ok, root, "herd_version", cyc_str(herd_version_string()));
    cyc_add(&ok, root, "xgboost_version", cyc_str(xgb));
    cyc_add(&ok, root, "family", cyc_str(o->family));
    cyc_add(&ok, root, "fit", cyc_fit_json(fit, &ok));
    cyc_add(&ok, root, "holdout_order_by", cyc_str(o->holdout_order_by));
    cyc_add(&ok, root, "holdout_fraction", cyc_real(o->holdout_fraction));
    cyc_add(&ok, root, "holdout_periods", cyc_u64(o->holdout_periods));
    cyc_add(&ok, root, "fallback", cJSON_CreateBool(o->fallback));
    cyc_add(&ok, root, "compare", cyc_compare_json(co, &ok));
    cyc_add(&ok, data, "key_columns", cyc_strings(names, groups->nkeys));
    cyc_add(&ok, data, "groups", cyc_u64(groups->ngroups));
    cyc_add(&ok, data, "rows", cyc_u64(groups->offsets[groups->ngroups]));
    cyc_add(&ok, data, "rows_without_key", cyc_u64(groups->missing));
    cyc_add(&ok, data, "fingerprint", cyc_str(fp));
    cyc_add(&ok, root, "data", data);
    free(names);
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL; /* NULL: a member is missing */
    cJSON_Delete(root);
    return s;
}

/* One batch: the week's models, the family model and the run. */
static int cyc_register(herd_registry *reg, const herd_groups *groups, const herd_fit_result *set,
                        const herd_fit_result *set_all, const herd_cycle_options *o,
                        const herd_fit_options *fit, const herd_compare_options *co,
                        const hd_apply_config *cfg, cyc_added *added_out)
{
    herd_batch *b = NULL;
    int rc = herd_registry_begin(reg, &b);
    if (!rc) rc = herd_batch_set_progress(b, cfg->progress, cfg->progress_user);
    if (!rc) rc = cyc_add_models(b, set, o, added_out, 0);
    size_t added = added_out->n;
    if (!rc && set_all) rc = cyc_add_models(b, set_all, o, added_out, 1);
    size_t family = added_out->n - added;
    char summary[256];
    snprintf(summary, sizeof summary,
             "{\"family\": \"%s\", \"groups\": %zu, \"trained\": %zu, \"family_model\": %s}",
             o->family, herd_fit_result_count(set), added, family ? "true" : "false");
    char *params = rc ? NULL : cyc_params_json(groups, fit, o, co);
    if (!rc && !params) rc = HERD_ENOMEM;
    if (!rc) rc = herd_batch_set_run(b, o->run_id, params, summary);
    cJSON_free(params);
    if (!rc) rc = herd_batch_commit(b);
    for (size_t i = 0; !rc && i < added_out->n; i++)
        rc = herd_batch_version(b, added_out->v[i].index, &added_out->v[i].version, NULL);
    herd_batch_free(b);
    return rc;
}

/* Per holdout group, the version this run registered for it. */
static int64_t *cyc_challengers(const herd_groups *hold, const cyc_added *added)
{
    int64_t *v = hd_malloc(hold->ngroups ? hold->ngroups : 1, sizeof *v);
    size_t hint = 0; /* both are in key order: the search is linear overall */
    for (size_t g = 0; v && g < hold->ngroups; g++)
        v[g] = cyc_version_of(added, hold->keys[g], &hint);
    return v;
}

/* The phases of a cycle, in order; without fallback, no "fit_family". */
static const char *const cyc_plan[] = {"split", "fit", "fit_family", "register", "compare",
                                       "promote"};
static const char *const cyc_plan_no_family[] = {"split", "fit", "register", "compare",
                                                 "promote"};

static int cyc_run(herd_registry *reg, const herd_groups *groups, const herd_fit_options *fit,
                   const herd_cycle_options *opt, const herd_apply_options *apply,
                   herd_frame **decisions, herd_frame **summary)
{
    HD_CHECK_NOT_NULL(decisions);
    *decisions = NULL;
    if (summary) *summary = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(fit);
    /* Every options struct is read (and garbage refused) before anything
     * else looks at it; the fit is then read from the library's copy. */
    herd_fit_options f;
    int rc = hd_options_read(&hd_fit_options_desc, fit, &f, "herd_cycle");
    hd_apply_config cfg;
    if (!rc) rc = hd_apply_config_read(apply, &cfg, "herd_cycle");
    if (rc) return rc;
    fit = &f;
    herd_cycle_options o;
    size_t order = 0;
    rc = cyc_options_read(opt, groups, fit, &o, &order);
    if (rc) return hd_error_prefix("herd_cycle: ");
    herd_compare_options co;
    if ((rc = hd_options_read(&hd_compare_options_desc, o.compare, &co, NULL)))
        return hd_error_prefix("herd_cycle: opt->compare: ");
    co.family = o.family;
    co.label = fit->label;
    co.run_id = o.run_id;
    co.holdout_fraction = 0; /* the holdout frame is the holdout */
    co.holdout_order_by = NULL;
    co.holdout_periods = 0;
    /* The cycle registers its models as "challenger" itself: the champion
     * must be another alias, or registering would promote unchecked. */
    if (co.champion && !strcmp(co.champion, "challenger"))
        return hd_error(HERD_EINVAL, "herd_cycle: opt->compare->champion is 'challenger', "
                        "the alias the cycle registers its models under; name the champion "
                        "alias differently");
    if ((rc = hd_compare_check(&co, groups->frame)))
        return hd_error_prefix("herd_cycle: opt->compare: ");
    hd_scope_set_ids(o.family, o.run_id);
    if (!o.fallback)
        hd_scope_plan(cyc_plan_no_family,
                      (int)(sizeof cyc_plan_no_family / sizeof *cyc_plan_no_family));
    cyc_parts p;
    memset(&p, 0, sizeof p);
    herd_fit_result *set = NULL, *set_all = NULL;
    cyc_added added;
    memset(&added, 0, sizeof added);
    int64_t *chall[2] = {NULL, NULL};
    hd_phase_begin("split", cfg.progress, cfg.progress_user);
    double t = hd_now();
    double *order_keys = NULL; /* dates parsed once, the first bad one named */
    rc = hd_order_keys(groups->frame, order, "opt->holdout_order_by", &order_keys);
    if (!rc) rc = cyc_split(groups, order_keys, &o, &p);
    free(order_keys);
    if (rc) hd_error_prefix("herd_cycle: ");
    else
        hd_log(HERD_LOG_INFO, "split: %zu groups into %zu training and %zu holdout rows in "
               "%s s", groups->ngroups, herd_frame_row_count(p.train), herd_frame_row_count(p.hold),
               HD_NUMF("%.3f", hd_now() - t));
    if (!rc) {
        hd_phase_begin("fit", cfg.progress, cfg.progress_user);
        rc = herd_fit(p.train_groups, fit, apply, &set);
    }
    if (!rc && p.train_all) {
        hd_phase_begin("fit_family", cfg.progress, cfg.progress_user);
        rc = herd_fit(p.train_all, fit, apply, &set_all);
    }
    if (!rc) {
        hd_phase_begin("register", cfg.progress, cfg.progress_user);
        t = hd_now();
        rc = cyc_register(reg, groups, set, set_all, &o, fit, &co, &cfg, &added);
        if (!rc)
            hd_log(HERD_LOG_INFO, "register: %zu models registered as 'challenger' in %s s",
                   added.n, HD_NUMF("%.3f", hd_now() - t));
    }
    /* This run's versions are the challengers: a re-run of an older run
     * compares its own models again, whatever the alias says now. */
    if (!rc && !(chall[0] = cyc_challengers(p.hold_groups, &added))) rc = HERD_ENOMEM;
    if (!rc && p.hold_all && !(chall[1] = cyc_challengers(p.hold_all, &added))) rc = HERD_ENOMEM;
    if (!rc) {
        const herd_groups *sets[2] = {p.hold_groups, p.hold_all};
        const int64_t *const cv[2] = {chall[0], chall[1]};
        rc = hd_compare_sets(reg, sets, cv, p.hold_all ? 2 : 1, &co, apply, decisions, summary);
    }
    free(chall[0]);
    free(chall[1]);
    cyc_added_free(&added);
    herd_fit_result_free(set);
    herd_fit_result_free(set_all);
    cyc_parts_free(&p);
    return rc;
}

int herd_cycle(herd_registry *reg, const herd_groups *groups, const herd_fit_options *fit,
               const herd_cycle_options *opt, const herd_apply_options *apply,
               herd_frame **decisions, herd_frame **summary)
{
    hd_scope scope;
    hd_scope_enter(&scope, cyc_plan, (int)(sizeof cyc_plan / sizeof *cyc_plan), NULL, NULL);
    int rc = cyc_run(reg, groups, fit, opt, apply, decisions, summary);
    hd_log(rc ? HERD_LOG_ERROR : HERD_LOG_INFO, "herd_cycle %s in %s s%s%s",
           rc ? "failed" : "done", HD_NUMF("%.3f", hd_scope_elapsed()), rc ? ": " : "",
           rc ? herd_last_error() : "");
    hd_scope_leave(&scope);
    return rc;
}
