/* cycle.c -- the weekly cycle: its options, the committer stage, and
 * herd_cycle, the two stages in one process.
 *
 * The committer (herd_cycle_run) holds one registry batch: each group's
 * result is added as it arrives -- its artifact written to the batch
 * (which spills to a pack of its own past a few MiB), its evaluation kept
 * -- and the batch commits once, with the run record, under idempotency
 * keys "FAMILY/RUN/GROUP", so a re-run of the same run adds nothing.  Then
 * every group is decided from its evaluation and the versions the commit
 * gave (herd_compare's rules, compare.c) and the winners promoted in one
 * commit.
 *
 * herd_cycle runs the worker stage (cycle_train.c) with the committer as
 * its sink: workers add their group's result under the run's lock, so
 * nothing waits in memory for a later phase.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/json_internal.h"
#include "common/keyindex_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "model/xgb_internal.h"
#include "train/apply_internal.h"
#include "registry/batch_internal.h"
#include "registry/uri_internal.h"
#include "decide/compare_internal.h"
#include "decide/cycle_internal.h"

/* The holdout when neither holdout_fraction nor holdout_periods is set. */
#define CYC_DEFAULT_FRACTION 0.2

/* ------------------------------------------------------------------------
 * Lineage: the run's params
 * --------------------------------------------------------------------- */

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
    hd_json_add(ok, o, "features", cyc_strings(f->features, f->n_features));
    hd_json_add(ok, o, "label", cyc_str(f->label));
    hd_json_add(ok, o, "weight", cyc_str(f->weight));
    for (size_t i = 0; params && i < f->n_params; i++) {
        if (!f->param_names[i]) continue;
        /* a name given twice: its last value, the one XGBoost keeps */
        cJSON_DeleteItemFromObjectCaseSensitive(params, f->param_names[i]);
        hd_json_add(ok, params, f->param_names[i], cyc_str(f->param_values[i]));
    }
    hd_json_add(ok, o, "xgboost_params", params);
    hd_json_add(ok, o, "rounds", cyc_int(f->rounds));
    hd_json_add(ok, o, "early_stopping_rounds", cyc_int(f->early_stopping_rounds));
    hd_json_add(ok, o, "valid_fraction", hd_json_number(f->valid_fraction));
    hd_json_add(ok, o, "split", cyc_str(f->split == HERD_SPLIT_LAST ? "last" : "random"));
    hd_json_add(ok, o, "valid_order_by", cyc_str(f->valid_order_by));
    hd_json_add(ok, o, "seed", cyc_u64(f->seed));
    hd_json_add(ok, o, "metric", cyc_str(f->metric));
    hd_json_add(ok, o, "min_rows", cyc_u64(f->min_rows));
    hd_json_add(ok, o, "cv_folds", cyc_int(f->cv_folds));
    return o;
}

/* The comparison's options as the run used them. */
static cJSON *cyc_compare_json(const herd_compare_options *c, int *ok)
{
    cJSON *o = cJSON_CreateObject();
    hd_json_add(ok, o, "champion", cyc_str(c->champion));
    hd_json_add(ok, o, "metric", cyc_str(c->metric));
    hd_json_add(ok, o, "min_abs_delta", hd_json_number(c->min_abs_delta));
    hd_json_add(ok, o, "min_rel_delta", hd_json_number(c->min_rel_delta));
    hd_json_add(ok, o, "metric_min", hd_json_number(c->metric_min));
    hd_json_add(ok, o, "metric_max", hd_json_number(c->metric_max));
    hd_json_add(ok, o, "min_holdout_rows", cyc_u64(c->min_holdout_rows));
    hd_json_add(ok, o, "bootstrap", cyc_int(c->bootstrap));
    hd_json_add(ok, o, "confidence", hd_json_number(c->confidence));
    hd_json_add(ok, o, "seed", cyc_u64(c->seed));
    hd_json_add(ok, o, "dry_run", cJSON_CreateBool(c->dry_run));
    hd_json_add(ok, o, "max_promote_fraction", hd_json_number(c->max_promote_fraction));
    hd_json_add(ok, o, "force", cJSON_CreateBool(c->force));
    return o;
}

/* The run's params without "data": what is needed to train its models
 * again (docs/champion-challenger.md, "Lineage").  NULL: out of memory. */
static cJSON *cyc_params_root(const hd_cycle_setup *s)
{
    char xgb[32];
    hd_xgb_version(xgb, sizeof xgb);
    const herd_cycle_options *o = &s->o;
    int ok = 1;
    cJSON *root = cJSON_CreateObject();
    hd_json_add(&ok, root, "herd_version", cyc_str(herd_version_string()));
    hd_json_add(&ok, root, "xgboost_version", cyc_str(xgb));
    hd_json_add(&ok, root, "family", cyc_str(o->family));
    hd_json_add(&ok, root, "fit", cyc_fit_json(&s->fit, &ok));
    hd_json_add(&ok, root, "holdout_order_by", cyc_str(o->holdout_order_by));
    hd_json_add(&ok, root, "holdout_fraction", hd_json_number(o->holdout_fraction));
    hd_json_add(&ok, root, "holdout_periods", cyc_u64(o->holdout_periods));
    hd_json_add(&ok, root, "fallback", cJSON_CreateBool(o->fallback));
    hd_json_add(&ok, root, "compare", cyc_compare_json(&s->cmp.o, &ok));
    if (ok) return root;
    cJSON_Delete(root);
    return NULL;
}

int hd_cycle_fingerprint_columns(const hd_cycle_setup *s, const char *const *key_columns,
                                 size_t n_key_columns, const char ***names, size_t *n)
{
    size_t m = n_key_columns + s->fit.n_features + 3;
    const char **v = hd_malloc(m, sizeof *v);
    if (!v) return hd_oom();
    size_t k = 0;
    for (size_t i = 0; i < n_key_columns; i++) v[k++] = key_columns[i];
    for (size_t i = 0; i < s->fit.n_features; i++) v[k++] = s->fit.features[i];
    v[k++] = s->fit.label;
    v[k++] = s->fit.weight;
    v[k++] = s->o.holdout_order_by;
    *names = v;
    *n = m;
    return HERD_OK;
}

char *hd_cycle_idempotency_key(const char *family, const char *run_id, const char *key)
{
    /* Keys are registry-wide: the family keeps two families' runs of the
     * same name apart. */
    size_t len = strlen(family) + strlen(run_id) + strlen(key) + 3;
    char *idem = hd_malloc(len, 1);
    if (idem) snprintf(idem, len, "%s/%s/%s", family, run_id, key);
    return idem;
}

/* ------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------- */

static int cyc_options_read(const herd_cycle_options *in, const herd_fit_options *fit,
                            herd_cycle_options *o)
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
    if (!fit->label) return hd_error(HERD_EINVAL, "fit->label is NULL");
    return HERD_OK;
}

/* The checks that need the data: the ordering and compare columns, the
 * family model's reserved key, every group key a registry key. */
int hd_cycle_check_data(const hd_cycle_setup *s, const herd_groups *groups, const char *fn)
{
    size_t col;
    if (herd_frame_find(groups->frame, s->o.holdout_order_by, &col))
        return hd_error(HERD_ENOTFOUND, "%s: opt->holdout_order_by: no column '%s' in the "
                        "frame", fn, s->o.holdout_order_by);
    if (s->o.fallback && herd_groups_find(groups, HERD_FALLBACK_GROUP, &col) == HERD_OK)
        return hd_error(HERD_EINVAL, "%s: a group of the data is named '%s', the key of the "
                        "family model: rename it, or run without opt->fallback", fn,
                        HERD_FALLBACK_GROUP);
    herd_clear_error();
    int rc = hd_groups_check_keys(groups);
    if (!rc && (rc = hd_compare_check(&s->cmp.o, groups->frame)))
        hd_error_prefix("opt->compare: ");
    return rc ? hd_error_prefix("%s: ", fn) : HERD_OK;
}

int hd_cycle_setup_read(const herd_fit_options *fit, const herd_cycle_options *opt,
                        const herd_frame *frame, const char *fn, hd_cycle_setup *s)
{
    (void)frame;
    memset(s, 0, sizeof *s);
    /* Every options struct is read (and garbage refused) before anything
     * else looks at it; the fit is then read from the library's copy. */
    int rc = hd_options_read(&hd_fit_options_desc, fit, &s->fit, fn);
    if (rc) return rc;
    if ((rc = cyc_options_read(opt, &s->fit, &s->o))) return hd_error_prefix("%s: ", fn);
    herd_compare_options co;
    if ((rc = hd_options_read(&hd_compare_options_desc, s->o.compare, &co, NULL)))
        return hd_error_prefix("%s: opt->compare: ", fn);
    co.family = s->o.family;
    co.label = s->fit.label;
    co.run_id = s->o.run_id;
    co.holdout_fraction = 0; /* the holdout rows are the holdout */
    co.holdout_order_by = NULL;
    co.holdout_periods = 0;
    /* The cycle registers its models as "challenger" itself: the champion
     * must be another alias, or registering would promote unchecked. */
    if (co.champion && !strcmp(co.champion, "challenger"))
        return hd_error(HERD_EINVAL, "%s: opt->compare->champion is 'challenger', the alias "
                        "the cycle registers its models under; name the champion alias "
                        "differently", fn);
    if ((rc = hd_cmp_setup_read(&co, &s->cmp)))
        return hd_error_prefix("%s: opt->compare: ", fn);
    cJSON *root = cyc_params_root(s);
    s->options_json = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s->options_json ? HERD_OK : hd_oom();
}

void hd_cycle_setup_free(hd_cycle_setup *s)
{
    cJSON_free(s->options_json);
    s->options_json = NULL;
}

/* ------------------------------------------------------------------------
 * The committer stage
 * --------------------------------------------------------------------- */

/* One group added to the run. */
typedef struct cr_entry {
    const char *key; /* in the run's arena */
    int family;
    size_t order;      /* the decisions' order */
    size_t index;      /* in the batch; SIZE_MAX: no model */
    int64_t version;   /* what the commit gave it (0: no model) */
    size_t rows, train_rows;
    uint64_t data_hash;
    hd_cmp_eval eval; /* owned */
} cr_entry;

struct herd_cycle_run {
    herd_registry *reg;
    hd_cycle_setup s;
    hd_arena *arena; /* keys, and the option strings kept past herd_cycle_begin */
    herd_batch *batch;
    cr_entry *v;
    size_t n, cap;
    const char **keys; /* v[i].key, for the index */
    hd_key_index index;
    const char **key_columns; /* the data's, in the arena; NULL until known */
    size_t n_key_columns;
    size_t rows_without_key;
    size_t next_order; /* for parts: groups in the order added */
    int committed;
    pthread_mutex_t lock; /* herd_cycle's workers add at once */
};

/* The option strings the run reads after herd_cycle_begin returns, copied:
 * the caller's options need live only for the call.  The rest of the fit
 * and cycle options was recorded in options_json and is not read again. */
static int cr_keep_strings(herd_cycle_run *run)
{
    hd_cycle_setup *s = &run->s;
    const char **str[] = {&s->o.family,     &s->o.run_id,         &s->o.holdout_order_by,
                          &s->cmp.o.family, &s->cmp.o.champion,   &s->cmp.o.challenger,
                          &s->cmp.o.run_id, &s->cmp.o.metric,     &s->cmp.o.label,
                          &s->fit.label,    &s->fit.weight};
    for (size_t i = 0; i < sizeof str / sizeof *str; i++) {
        if (!*str[i]) continue;
        if (!(*str[i] = hd_arena_strndup(run->arena, *str[i], strlen(*str[i]))))
            return hd_oom();
    }
    /* the features: the lineage fingerprint's columns */
    const char **f = hd_arena_alloc(run->arena, (s->fit.n_features + 1) * sizeof *f);
    if (!f) return hd_oom();
    for (size_t i = 0; i < s->fit.n_features; i++)
        if (!(f[i] = hd_arena_strndup(run->arena, s->fit.features[i],
                                      strlen(s->fit.features[i]))))
            return hd_oom();
    s->fit.features = f;
    s->fit.param_names = s->fit.param_values = NULL;
    s->fit.n_params = 0;
    s->fit.valid_order_by = s->fit.metric = NULL;
    s->o.compare = NULL;
    s->cmp.o.weight = NULL;
    return HERD_OK;
}

static int cr_begin(herd_registry *reg, const herd_fit_options *fit,
                    const herd_cycle_options *opt, const char *fn, herd_cycle_run **out)
{
    herd_cycle_run *run = hd_calloc(1, sizeof *run);
    if (!run) return hd_oom();
    run->reg = reg;
    pthread_mutex_init(&run->lock, NULL);
    int rc = hd_cycle_setup_read(fit, opt, NULL, fn, &run->s);
    if (!rc && !(run->arena = hd_arena_new())) rc = hd_oom();
    if (!rc) rc = herd_registry_begin(reg, &run->batch);
    if (!rc) hd_batch_stream(run->batch); /* one artifact per group: memory stays flat */
    if (rc) {
        herd_cycle_run_free(run);
        return rc;
    }
    *out = run;
    return HERD_OK;
}

/* The groups' entries: at the end, or once the decider holds what it
 * needs of them. */
static void cr_entries_release(herd_cycle_run *run)
{
    for (size_t i = 0; i < run->n; i++) hd_cmp_eval_clear(&run->v[i].eval);
    free(run->v);
    free(run->keys);
    hd_key_index_free(&run->index);
    run->v = NULL;
    run->keys = NULL;
    run->n = run->cap = 0;
}

void herd_cycle_run_free(herd_cycle_run *run)
{
    if (!run) return;
    hd_error_kept kept;
    hd_error_keep(&kept);
    cr_entries_release(run);
    herd_batch_free(run->batch);
    hd_cycle_setup_free(&run->s);
    hd_arena_free(run->arena);
    pthread_mutex_destroy(&run->lock);
    free(run);
    hd_error_put_back(&kept);
}

/* Room for n more groups, allocated once: herd_cycle knows how many come,
 * and arrays grown by doubling would hold up to twice that (and both
 * copies while growing). */
static int cr_reserve(herd_cycle_run *run, size_t n)
{
    size_t cap = run->cap, need = run->n + n;
    if (hd_grow_from((void **)&run->v, &cap, need, sizeof *run->v, need) ||
        hd_grow_from((void **)&run->keys, &run->cap, need, sizeof *run->keys, need))
        return hd_oom();
    return hd_batch_reserve(run->batch, n, 2 * n + 1);
}

/* A copy of an evaluation's messages. */
static int cr_eval_copy(const hd_cmp_eval *from, hd_cmp_eval *to)
{
    *to = *from;
    to->chall_error = to->champ_error = to->boot_error = NULL;
    int oom = (from->chall_error && !(to->chall_error = hd_strdup(from->chall_error))) ||
              (from->champ_error && !(to->champ_error = hd_strdup(from->champ_error))) ||
              (from->boot_error && !(to->boot_error = hd_strdup(from->boot_error)));
    if (oom) hd_cmp_eval_clear(to);
    return oom ? hd_oom() : HERD_OK;
}

/* Add one group's result: its model into the batch, its evaluation kept.
 * *added is 0 when the group was already added (a part given twice). */
static int cr_add(herd_cycle_run *run, const hd_cycle_result *r, size_t order, int *added)
{
    *added = 0;
    if (run->n && hd_key_index_find(&run->index, run->keys, r->key) != (size_t)-1)
        return HERD_OK;
    if (run->n == run->cap) {
        size_t cap = run->cap;
        if (hd_grow((void **)&run->v, &cap, run->n + 1, sizeof *run->v) ||
            hd_grow((void **)&run->keys, &run->cap, run->n + 1, sizeof *run->keys))
            return hd_oom();
    }
    cr_entry e = {.family = r->family, .order = order, .index = SIZE_MAX, .rows = r->rows,
                  .train_rows = r->train_rows, .data_hash = r->data_hash};
    if (!(e.key = hd_arena_strndup(run->arena, r->key, strlen(r->key)))) return hd_oom();
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "challenger"; /* family, group, run and idempotency key: the artifact's */
    int rc = HERD_OK;
    if (r->artifact) rc = herd_batch_add(run->batch, r->artifact, &vo, &e.index);
    else if (r->bytes) /* built here, or validated whole when its part was read */
        rc = hd_batch_add_bytes_checked(run->batch, r->bytes, r->artifact_len, &vo, &e.index);
    if (!rc) rc = cr_eval_copy(r->eval, &e.eval);
    if (rc) return rc; /* a model added without its entry: the batch is never committed */
    run->keys[run->n] = e.key;
    if (hd_key_index_add(&run->index, run->keys, run->n)) {
        hd_cmp_eval_clear(&e.eval);
        return hd_oom();
    }
    run->v[run->n++] = e;
    *added = 1;
    return HERD_OK;
}

/* herd_cycle's sink: each worker adds its group under the run's lock. */
static int cr_sink(void *ctx, const hd_cycle_result *r, size_t order)
{
    herd_cycle_run *run = ctx;
    int added = 0;
    pthread_mutex_lock(&run->lock);
    int rc = cr_add(run, r, order, &added);
    pthread_mutex_unlock(&run->lock);
    return rc;
}

static int cr_entry_order(const void *a, const void *b)
{
    const cr_entry *x = a, *y = b;
    if (x->family != y->family) return x->family - y->family; /* the family model last */
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cr_key_order(const void *a, const void *b)
{
    const cr_entry *x = *(const cr_entry *const *)a, *y = *(const cr_entry *const *)b;
    return strcmp(x->key, y->key);
}

/* The run fingerprint: the names' seed, then every group's share in the
 * byte order of the keys, so that it is the same whichever process
 * computed which share. */
static int cyc_fingerprint(const herd_cycle_run *run, uint64_t *out)
{
    const char **names = NULL;
    size_t nn = 0;
    int rc = hd_cycle_fingerprint_columns(&run->s, run->key_columns, run->n_key_columns,
                                          &names, &nn);
    if (rc) return rc;
    uint64_t h = hd_cycle_fingerprint_seed(names, nn);
    free(names);
    const cr_entry **byk = hd_malloc(run->n ? run->n : 1, sizeof *byk);
    if (!byk) return hd_oom();
    size_t m = 0;
    for (size_t i = 0; i < run->n; i++)
        if (!run->v[i].family) byk[m++] = &run->v[i];
    qsort(byk, m, sizeof *byk, cr_key_order);
    for (size_t i = 0; i < m; i++) h = hd_hash_combine(h, byk[i]->data_hash);
    free(byk);
    *out = h;
    return HERD_OK;
}

/* The run's params (lineage) and summary, for its record. */
static int cyc_run_record(const herd_cycle_run *run, char **params, char **summary)
{
    size_t groups = 0, fitted = 0, trained = 0, family = 0, rows = 0;
    for (size_t i = 0; i < run->n; i++) {
        const cr_entry *e = &run->v[i];
        if (e->family) {
            family += e->index != SIZE_MAX;
            continue;
        }
        groups++;
        fitted += e->train_rows > 0;
        trained += e->index != SIZE_MAX;
        rows += e->rows;
    }
    uint64_t fp = 0;
    int rc = cyc_fingerprint(run, &fp);
    if (rc) return rc;
    char fps[24];
    snprintf(fps, sizeof fps, "%016llx", (unsigned long long)fp);
    int ok = 1;
    cJSON *root = cJSON_Parse(run->s.options_json), *data = cJSON_CreateObject();
    if (!root) ok = 0;
    hd_json_add(&ok, data, "key_columns", cyc_strings(run->key_columns, run->n_key_columns));
    hd_json_add(&ok, data, "groups", cyc_u64(groups));
    hd_json_add(&ok, data, "rows", cyc_u64(rows));
    hd_json_add(&ok, data, "rows_without_key", cyc_u64(run->rows_without_key));
    hd_json_add(&ok, data, "fingerprint", cyc_str(fps));
    hd_json_add(&ok, root, "data", data);
    *params = ok ? cJSON_PrintUnformatted(root) : NULL; /* NULL: a member is missing */
    cJSON_Delete(root);
    char text[256];
    snprintf(text, sizeof text,
             "{\"family\": \"%s\", \"groups\": %zu, \"trained\": %zu, \"family_model\": %s}",
             run->s.o.family, fitted, trained, family ? "true" : "false");
    *summary = hd_strdup(text);
    return *params && *summary ? HERD_OK : hd_oom();
}

/* Commit the models with the run record; log what it took. */
static int cyc_register(herd_cycle_run *run, herd_progress_fn progress, void *user)
{
    double t = hd_now();
    char *params = NULL, *summary = NULL;
    int rc = herd_batch_set_progress(run->batch, progress, user);
    if (!rc) rc = cyc_run_record(run, &params, &summary);
    if (!rc) rc = herd_batch_set_run(run->batch, run->s.o.run_id, params, summary);
    cJSON_free(params);
    free(summary);
    if (!rc) rc = herd_batch_commit(run->batch);
    if (rc) return rc;
    hd_log(HERD_LOG_INFO, "register: %zu models registered as 'challenger' in %s s",
           herd_batch_count(run->batch), HD_NUMF("%.3f", hd_now() - t));
    /* Deciding needs only the versions: the batch's metadata goes before
     * the promotion builds its own. */
    for (size_t i = 0; !rc && i < run->n; i++) {
        cr_entry *e = &run->v[i];
        if (e->index != SIZE_MAX) rc = herd_batch_version(run->batch, e->index, &e->version, NULL);
    }
    herd_batch_free(run->batch);
    run->batch = NULL;
    return rc;
}

/* Decide every group from its evaluation and this run's versions, then
 * promote. */
static int cyc_decide(herd_cycle_run *run, herd_progress_fn progress, void *user,
                      herd_frame **decisions, herd_frame **summary)
{
    hd_phase_begin("compare", progress, user);
    /* What the registry holds now: aliases moved by others since. */
    int rc = herd_registry_refresh(run->reg);
    hd_cmp_decider *d = NULL;
    if (!rc) rc = hd_cmp_decider_new(run->reg, &run->s.cmp, run->n, progress, user, &d);
    for (size_t i = 0; !rc && i < run->n; i++)
        rc = hd_cmp_decider_add(d, run->v[i].key, run->v[i].version, &run->v[i].eval);
    size_t n = run->n;
    if (!rc) cr_entries_release(run); /* the promotion's peak holds no copy of them */
    if (!rc) { /* the phase's counts, as herd_compare's job reports them */
        herd_progress p;
        memset(&p, 0, sizeof p);
        p.groups_total = p.groups_done = n;
        hd_cmp_decider_outcomes(d, &p.groups_skipped, &p.groups_failed);
        hd_progress_emit(progress, user, &p);
    }
    if (!rc) rc = hd_cmp_decider_finish(d, decisions, summary);
    hd_cmp_decider_free(d);
    return rc;
}

static int cyc_commit(herd_cycle_run *run, herd_progress_fn progress, void *user,
                      herd_frame **decisions, herd_frame **summary)
{
    if (run->committed)
        return hd_error(HERD_EINVAL, "the run '%s' was already committed; begin a new one",
                        run->s.o.run_id);
    run->committed = 1;
    qsort(run->v, run->n, sizeof *run->v, cr_entry_order);
    hd_phase_begin("register", progress, user);
    int rc = cyc_register(run, progress, user);
    if (!rc) rc = cyc_decide(run, progress, user, decisions, summary);
    return rc;
}

/* The scope every public cycle call runs in. */
static const char *const cyc_plan[] = {"split", "fit", "fit_family", "register", "compare",
                                       "promote"};
static const char *const cyc_plan_no_family[] = {"split", "fit", "register", "compare",
                                                 "promote"};
static const char *const cyc_commit_plan[] = {"register", "compare", "promote"};

int herd_cycle_begin(herd_registry *reg, const herd_fit_options *fit,
                     const herd_cycle_options *opt, herd_cycle_run **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(fit);
    herd_cycle_run *run = NULL;
    int rc = cr_begin(reg, fit, opt, __func__, &run);
    if (!rc && (rc = cr_keep_strings(run))) herd_cycle_run_free(run);
    else if (!rc) *out = run;
    return rc;
}

int herd_cycle_run_add(herd_cycle_run *run, const herd_cycle_part *part)
{
    HD_CHECK_NOT_NULL(run);
    HD_CHECK_NOT_NULL(part);
    if (run->committed)
        return hd_error(HERD_EINVAL, "%s: the run '%s' was already committed; begin a new one",
                        __func__, run->s.o.run_id);
    hd_cycle_part_info info;
    hd_cycle_part_describe(part, &info);
    if (strcmp(info.run_id, run->s.o.run_id))
        return hd_error(HERD_EINVAL, "%s: the part was trained for run '%s', not for this "
                        "run '%s': its versions carry that run's idempotency keys", __func__,
                        info.run_id, run->s.o.run_id);
    if (strcmp(info.options_json, run->s.options_json))
        return hd_error(HERD_EINVAL, "%s: the part was trained with other options than the "
                        "run's (family, run id, fit, holdout or comparison differ): the part "
                        "has %s; the run %s", __func__, info.options_json,
                        run->s.options_json);
    if (run->key_columns && !hd_cycle_same_columns(run->key_columns, run->n_key_columns,
                                                   info.key_columns, info.n_key_columns))
        return hd_error(HERD_EINVAL, "%s: the part's groups are keyed by other columns than "
                        "the parts added before", __func__);
    if (!run->key_columns) {
        const char **kc = hd_arena_alloc(run->arena, (info.n_key_columns + 1) * sizeof *kc);
        if (!kc) return hd_oom();
        for (size_t i = 0; i < info.n_key_columns; i++)
            if (!(kc[i] = hd_arena_strndup(run->arena, info.key_columns[i],
                                           strlen(info.key_columns[i]))))
                return hd_oom();
        run->key_columns = kc;
        run->n_key_columns = info.n_key_columns;
    }
    size_t added = 0, skipped = 0;
    for (size_t i = 0; i < info.n_results; i++) {
        hd_cycle_result r;
        hd_cycle_part_result(part, i, &r);
        int fresh = 0;
        int rc = cr_add(run, &r, run->next_order++, &fresh);
        if (rc) return hd_error_prefix("%s: group '%s': ", __func__, r.key);
        added += fresh;
        skipped += !fresh;
    }
    run->rows_without_key += info.rows_without_key;
    if (skipped)
        hd_log(HERD_LOG_INFO, "%s: %zu groups added, %zu already added before (skipped)",
               __func__, added, skipped);
    return HERD_OK;
}

int herd_cycle_run_commit(herd_cycle_run *run, herd_frame **decisions, herd_frame **summary)
{
    HD_CHECK_NOT_NULL(decisions);
    *decisions = NULL;
    if (summary) *summary = NULL;
    HD_CHECK_NOT_NULL(run);
    hd_scope scope;
    hd_scope_enter(&scope, cyc_commit_plan, 3, NULL, NULL);
    hd_scope_set_ids(run->s.o.family, run->s.o.run_id);
    int rc = cyc_commit(run, NULL, NULL, decisions, summary);
    if (rc && rc != HERD_EREFUSED && rc != HERD_ECONFLICT) hd_error_prefix("%s: ", __func__);
    hd_scope_leave(&scope);
    return rc;
}

/* ------------------------------------------------------------------------
 * herd_cycle: both stages in one process
 * --------------------------------------------------------------------- */

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
    hd_apply_config cfg;
    int rc = hd_apply_config_read(apply, &cfg, "herd_cycle");
    if (rc) return rc;
    herd_cycle_run *run = NULL;
    if ((rc = cr_begin(reg, fit, opt, "herd_cycle", &run))) return rc;
    if ((rc = hd_cycle_check_data(&run->s, groups, "herd_cycle"))) {
        herd_cycle_run_free(run);
        return rc;
    }
    hd_scope_set_ids(run->s.o.family, run->s.o.run_id);
    if (!run->s.o.fallback)
        hd_scope_plan(cyc_plan_no_family,
                      (int)(sizeof cyc_plan_no_family / sizeof *cyc_plan_no_family));
    const char **kc = hd_malloc(groups->nkeys ? groups->nkeys : 1, sizeof *kc);
    if (!kc) rc = hd_oom();
    for (size_t k = 0; kc && k < groups->nkeys; k++)
        kc[k] = herd_frame_column_name(groups->frame, groups->key_cols[k]);
    run->key_columns = kc;
    run->n_key_columns = groups->nkeys;
    run->rows_without_key = groups->missing;
    /* The state every worker reads its champion from: what the registry
     * holds now. */
    if (!rc) rc = herd_registry_refresh(reg);
    /* every group, the family model, and each one's alias move */
    if (!rc) rc = cr_reserve(run, groups->ngroups + (run->s.o.fallback != 0));
    if (!rc) {
        hd_phase_begin("split", cfg.progress, cfg.progress_user);
        hd_champion_source src = {.reg = reg, .family = run->s.o.family,
                                  .alias = run->s.cmp.o.champion};
        rc = hd_cycle_work(&run->s, groups, &src, 1, 1, apply, cr_sink, run);
        if (rc && rc != HERD_ECANCELED && rc != HERD_EBUDGET) hd_error_prefix("herd_cycle: ");
    }
    if (!rc) rc = cyc_commit(run, cfg.progress, cfg.progress_user, decisions, summary);
    run->key_columns = NULL; /* borrowed from the frame */
    free(kc);
    herd_cycle_run_free(run);
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
