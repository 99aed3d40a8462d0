/* cycle_train.c -- the weekly cycle's worker stage: one pass per group on
 * the worker that trains it, and the part a distributed worker returns.
 *
 * Per group, one task: cut the holdout off (no model ever sees it), fit
 * the other rows, evaluate the model and the group's champion (loaded
 * once, on this worker) on the holdout, serialise the model as an
 * artifact, hand everything to the sink, and free the booster before the
 * next group.  So memory holds one group per worker, whatever the number
 * of groups.  The rows each step sees, and their order, are exactly those
 * the separate steps (herd_fit on the training rows, herd_compare on the
 * holdout) saw, so the models, metrics and decisions are the same.
 *
 * A part (herd_cycle_part) is the sink of herd_cycle_train: every group's
 * result kept, serialisable for a Dask or Spark task to return.  Its bytes
 * (little-endian): "HERDPART", u32 format (1), the run's options JSON,
 * family, run id, key columns, rows without a key, then per group its
 * key, fit status and message, rows, training rows, fingerprint share,
 * evaluation and artifact bytes; a CRC32 of all that ends it.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/bytes_internal.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "data/order_internal.h"
#include "model/xgb_internal.h"
#include "artifact/artifact_internal.h"
#include "train/apply_internal.h"
#include "train/fit_internal.h"
#include "registry/codec_internal.h"
#include "decide/cycle_internal.h"

/* ------------------------------------------------------------------------
 * The lineage fingerprint, one group at a time
 * --------------------------------------------------------------------- */

/* One value of a column into the hash: numbers as float64 (every NaN and
 * every missing value the same), strings as their bytes and NUL, a missing
 * string as a marker no string can be. */
static uint64_t cw_hash_value(uint64_t h, const hd_column *c, size_t row)
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

uint64_t hd_cycle_fingerprint_seed(const char *const *names, size_t n)
{
    uint64_t h = hd_hash_u64(n);
    for (size_t k = 0; k < n; k++)
        if (names[k]) h = hd_hash_combine(h, hd_hash_bytes(names[k], strlen(names[k]) + 1, k));
    return h;
}

/* A group's share of the run fingerprint: its key, then every one of its
 * rows (in frame order) over each fingerprinted column in turn. */
static uint64_t cw_group_hash(const herd_frame *f, const size_t *cols, size_t ncols,
                              const char *key, const size_t *rows, size_t n)
{
    uint64_t h = hd_hash_bytes(key, strlen(key) + 1, n);
    for (size_t k = 0; k < ncols; k++) {
        if (cols[k] == SIZE_MAX) continue;
        const hd_column *c = hd_frame_col(f, cols[k]);
        for (size_t i = 0; i < n; i++) h = cw_hash_value(h, c, rows[i]);
    }
    return h;
}

/* ------------------------------------------------------------------------
 * The pass: one task per group
 * --------------------------------------------------------------------- */

typedef struct cw_ctx {
    const hd_cycle_setup *s;
    const herd_groups *groups;
    hd_fit_plan *plan;
    const double *order;          /* holdout_order_by's key per frame row */
    double *order_owned;          /* ... when it had to be computed */
    size_t label_col, weight_col; /* weight: SIZE_MAX for none */
    size_t nout;                  /* the models' outputs per row */
    size_t *fp_cols;              /* fingerprinted columns; SIZE_MAX: not a column */
    size_t n_fp;
    const hd_champion_source *champions;
    hd_cycle_sink sink;
    void *sink_ctx;
} cw_ctx;

/* Split one group's rows into holdout and training rows (both in holdout
 * order, as the separate steps saw them). */
static int cw_split(const cw_ctx *c, const size_t *rows, size_t n, size_t *hold, size_t *nh,
                    size_t *train, size_t *nt)
{
    const herd_cycle_options *o = &c->s->o;
    return hd_holdout_split(c->order, o->holdout_order_by, o->holdout_fraction,
                            o->holdout_periods, rows, n, hold, nh, train, nt);
}

/* The group's champion, for the evaluation: a champion that cannot be read
 * is the group's failure if the decision needs it. */
static int cw_champion(const cw_ctx *c, const char *key, hd_cmp_eval *e, herd_model **model)
{
    int rc = hd_champion_get(c->champions, key, &e->champ_v, model);
    if (rc && rc != HERD_ENOMEM) {
        if (!(e->champ_error = hd_strdup(herd_last_error()))) return hd_oom();
        herd_clear_error();
        rc = HERD_OK;
    }
    return rc;
}

/* Fit, evaluate and package one group (or the family model), and hand the
 * result to the sink.  Returns the fit's outcome (HERD_SKIP, a group's
 * error) for the pool's counts, or an error that stops the job. */
static int cw_group(const cw_ctx *c, const char *key, int family, size_t order,
                    const size_t *train, size_t nt, const size_t *hold, size_t nh,
                    size_t rows, uint64_t data_hash, int nthread)
{
    const hd_cycle_setup *s = c->s;
    hd_fitted it;
    hd_fitted_init(&it);
    hd_cmp_eval e;
    hd_cmp_eval_init(&e);
    herd_artifact *a = NULL;
    herd_model *champ = NULL;
    char *idem = NULL;
    double *pred = NULL;
    int frc;
    if (!nt) {
        frc = hd_error(HERD_SKIP, "no training rows: every row of the group is in the "
                       "holdout");
        it.status = HD_TASK_SKIPPED;
        it.message = hd_strdup(herd_last_error());
    } else {
        /* The holdout predicted by the booster that trains, before it goes:
         * the challenger's evaluation needs no second load of its model. */
        hd_rows_pred hp = {.rows = hold, .n = nh,
                           .out = hd_malloc(nh ? nh * c->nout : 1, sizeof *hp.out)};
        pred = hp.out;
        frc = pred ? hd_fit_group(c->plan, key, train, nt, nthread, &hp, &it) : hd_oom();
    }
    int rc = frc == HERD_ENOMEM ? HERD_ENOMEM : HERD_OK;
    if (!rc && it.model) {
        herd_artifact_options ao, o;
        herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
        ao.family = s->o.family;
        ao.run_id = s->o.run_id;
        ao.idempotency_key = idem = hd_cycle_idempotency_key(s->o.family, s->o.run_id, key);
        rc = idem ? hd_art_options_read(&ao, "herd_cycle", &o) : hd_oom();
        if (!rc) rc = hd_fitted_artifact(c->plan, &it, key, &o, &a);
        if (!rc) rc = cw_champion(c, key, &e, &champ);
        if (!rc)
            rc = hd_cmp_evaluate(&s->cmp, key, c->groups->frame, c->label_col, c->weight_col,
                                 hold, nh, it.model, pred, champ, nthread, &e);
    } else if (!rc) { /* no model: the champion's version still shows in the decisions */
        rc = hd_champion_get(&(hd_champion_source){.reg = c->champions->reg,
                                                   .champions = c->champions->champions,
                                                   .family = c->champions->family,
                                                   .alias = c->champions->alias,
                                                   .version_only = 1},
                             key, &e.champ_v, &champ);
        if (rc && rc != HERD_ENOMEM) {
            herd_clear_error();
            rc = HERD_OK;
        }
        e.rows = nh;
    }
    herd_model_free(champ);
    /* The booster is long gone; the model bytes go now too. */
    herd_model_free(it.model);
    it.model = NULL;
    size_t len = 0;
    const unsigned char *bytes = a ? hd_artifact_bytes(a, &len) : NULL;
    hd_cycle_result r = {.key = key, .family = family, .status = it.status,
                         .message = it.message, .artifact = a, .bytes = bytes,
                         .artifact_len = len, .rows = rows, .train_rows = nt,
                         .data_hash = data_hash, .eval = &e};
    if (!rc) rc = c->sink(c->sink_ctx, &r, order);
    herd_artifact_free(a);
    free(idem);
    free(pred);
    hd_cmp_eval_clear(&e);
    if (!rc && frc && frc != HERD_SKIP) /* the group's failure, for the pool's report */
        rc = hd_error(frc, "%s", it.message ? it.message : "failed");
    else if (!rc && frc == HERD_SKIP)
        rc = herd_error_set(HERD_SKIP, it.message);
    hd_fitted_clear(&it);
    return rc;
}

static int cw_group_task(void *ctx, size_t g, int worker, int nthread)
{
    (void)worker;
    const cw_ctx *c = ctx;
    const herd_groups *gs = c->groups;
    const size_t *rows = hd_groups_rows_of(gs, g);
    size_t n = hd_groups_size_of(gs, g), nh = 0, nt = 0;
    size_t *hold = hd_malloc(n ? n : 1, sizeof *hold), *train = hd_malloc(n ? n : 1, sizeof *train);
    int rc = hold && train ? cw_split(c, rows, n, hold, &nh, train, &nt) : hd_oom();
    uint64_t h = cw_group_hash(gs->frame, c->fp_cols, c->n_fp, gs->keys[g], rows, n);
    if (!rc) rc = cw_group(c, gs->keys[g], 0, g, train, nt, hold, nh, n, h, nthread);
    free(hold);
    free(train);
    return rc;
}

/* The family model: every group's training rows, then every group's
 * holdout rows, each in group order (as the separate steps' frames of
 * training and holdout rows had them). */
static int cw_family_task(void *ctx, size_t t, int worker, int nthread)
{
    (void)worker;
    (void)t;
    const cw_ctx *c = ctx;
    const herd_groups *gs = c->groups;
    size_t total = gs->offsets[gs->ngroups], nh = 0, nt = 0;
    size_t *hold = hd_malloc(total ? total : 1, sizeof *hold);
    size_t *train = hd_malloc(total ? total : 1, sizeof *train);
    int rc = hold && train ? HERD_OK : hd_oom();
    for (size_t g = 0; !rc && g < gs->ngroups; g++) {
        size_t a = 0, b = 0;
        rc = cw_split(c, hd_groups_rows_of(gs, g), hd_groups_size_of(gs, g), hold + nh, &a,
                      train + nt, &b);
        nh += a;
        nt += b;
    }
    if (!rc)
        rc = cw_group(c, HERD_FALLBACK_GROUP, 1, gs->ngroups, train, nt, hold, nh, total, 0,
                      nthread);
    free(hold);
    free(train);
    return rc;
}

static const char *cw_task_key(void *ctx, size_t t)
{
    const cw_ctx *c = ctx;
    return t < c->groups->ngroups ? c->groups->keys[t] : HERD_FALLBACK_GROUP;
}

/* Every grouped row must have an ordering value: checked once, before
 * anything trains, naming the first row without one. */
static int cw_check_order(const cw_ctx *c)
{
    const herd_groups *g = c->groups;
    for (size_t i = 0; i < g->ngroups; i++) {
        const size_t *rows = hd_groups_rows_of(g, i);
        for (size_t j = 0; j < hd_groups_size_of(g, i); j++)
            if (isnan(c->order[rows[j]]))
                return hd_error(HERD_EINVAL, "group '%s': row %zu has no value in the "
                                "ordering column '%s'", g->keys[i], rows[j],
                                c->s->o.holdout_order_by);
    }
    return HERD_OK;
}

/* The columns of the frame the evaluation and the fingerprint read. */
static int cw_columns(cw_ctx *c)
{
    const herd_frame *f = c->groups->frame;
    const hd_cycle_setup *s = c->s;
    c->weight_col = SIZE_MAX;
    if (herd_frame_find(f, s->fit.label, &c->label_col))
        return hd_error(HERD_ENOTFOUND, "fit->label: no column '%s' in the frame",
                        s->fit.label);
    if (s->cmp.o.weight && herd_frame_find(f, s->cmp.o.weight, &c->weight_col))
        return hd_error(HERD_ENOTFOUND, "opt->compare->weight: no column '%s' in the frame",
                        s->cmp.o.weight);
    const char **key_names = hd_malloc(c->groups->nkeys ? c->groups->nkeys : 1,
                                       sizeof *key_names);
    if (!key_names) return hd_oom();
    for (size_t k = 0; k < c->groups->nkeys; k++)
        key_names[k] = herd_frame_column_name(f, c->groups->key_cols[k]);
    const char **names = NULL;
    int rc = hd_cycle_fingerprint_columns(s, key_names, c->groups->nkeys, &names, &c->n_fp);
    free(key_names);
    if (rc) return rc;
    c->fp_cols = hd_malloc(c->n_fp ? c->n_fp : 1, sizeof *c->fp_cols);
    for (size_t k = 0; c->fp_cols && k < c->n_fp; k++)
        if (!names[k] || herd_frame_find(f, names[k], &c->fp_cols[k])) c->fp_cols[k] = SIZE_MAX;
    free(names);
    herd_clear_error();
    return c->fp_cols ? HERD_OK : hd_oom();
}

static int cw_job(cw_ctx *c, const hd_apply_config *cfg, int family)
{
    const herd_groups *gs = c->groups;
    size_t nt = family ? 1 : gs->ngroups;
    size_t *task_rows = hd_malloc(nt ? nt : 1, sizeof *task_rows);
    hd_task_result *res = hd_calloc(nt ? nt : 1, sizeof *res);
    int rc = task_rows && res ? HERD_OK : hd_oom();
    for (size_t t = 0; !rc && t < nt; t++)
        task_rows[t] = family ? gs->offsets[gs->ngroups] : hd_groups_size_of(gs, t);
    if (!rc) {
        hd_job job = {.ntasks = nt, .ngroups = nt, .task_rows = task_rows,
                      .run = family ? cw_family_task : cw_group_task,
                      .worker_start = hd_xgb_worker_start,
                      .task_key = family ? NULL : cw_task_key, .ctx = c};
        hd_phase_begin(family ? "fit_family" : "fit", cfg->progress, cfg->progress_user);
        rc = hd_job_run(&job, cfg, res);
        /* A sink that failed (out of memory, a pack write) stops the run. */
        for (size_t t = 0; rc == HERD_OK && t < nt; t++)
            if (res[t].status == HD_TASK_FAILED && res[t].code == HERD_ENOMEM)
                rc = hd_oom();
    }
    hd_task_results_free(res, res ? nt : 0);
    free(task_rows);
    return rc;
}

int hd_cycle_work(const hd_cycle_setup *s, const herd_groups *groups,
                  const hd_champion_source *champions, int train_groups, int train_family,
                  const herd_apply_options *apply, hd_cycle_sink sink, void *sink_ctx)
{
    hd_apply_config cfg;
    int rc = hd_apply_config_read(apply, &cfg, "herd_cycle");
    if (rc) return rc;
    cw_ctx c = {.s = s, .groups = groups, .champions = champions, .sink = sink,
                .sink_ctx = sink_ctx};
    size_t order_col = 0;
    if (herd_frame_find(groups->frame, s->o.holdout_order_by, &order_col))
        return hd_error(HERD_ENOTFOUND, "opt->holdout_order_by: no column '%s' in the frame",
                        s->o.holdout_order_by);
    /* A float64 column without a mask is its own key (missing is NaN
     * there too): no copy of a frame-sized array. */
    const hd_column *oc = hd_frame_col(groups->frame, order_col);
    if (oc->type == HERD_TYPE_FLOAT64 && oc->stride == sizeof(double) && !oc->mask)
        c.order = (const double *)(const void *)oc->data;
    else if (!(rc = hd_order_keys(groups->frame, order_col, "opt->holdout_order_by",
                                  &c.order_owned)))
        c.order = c.order_owned;
    if (!rc) rc = cw_check_order(&c);
    if (!rc) rc = cw_columns(&c);
    if (!rc) rc = hd_fit_plan_new(groups, &s->fit, &c.plan);
    if (!rc) c.nout = hd_fit_plan_outputs(c.plan);
    if (!rc && train_groups) rc = cw_job(&c, &cfg, 0);
    if (!rc && train_family && s->o.fallback) rc = cw_job(&c, &cfg, 1);
    hd_fit_plan_free(c.plan);
    free(c.order_owned);
    free(c.fp_cols);
    return rc;
}

/* ------------------------------------------------------------------------
 * The part: what herd_cycle_train returns
 * --------------------------------------------------------------------- */

static const char part_magic[8] = {'H', 'E', 'R', 'D', 'P', 'A', 'R', 'T'};
#define PART_FORMAT 1u

typedef struct part_group {
    const char *key, *message; /* in the part's arena; message may be NULL */
    int family, status;
    size_t order, rows, train_rows;
    uint64_t data_hash;
    unsigned char *artifact; /* malloc'd; NULL: no model */
    size_t len;
    hd_cmp_eval eval; /* owned */
} part_group;

struct herd_cycle_part {
    hd_arena *arena;
    const char *options_json, *run_id;
    const char **key_columns;
    size_t n_key_columns, rows_without_key;
    part_group *g;
    size_t n, cap;
    pthread_mutex_t lock; /* workers add at once */
};

static int part_new(herd_cycle_part **out)
{
    herd_cycle_part *p = hd_calloc(1, sizeof *p);
    if (!p) return hd_oom();
    if (!(p->arena = hd_arena_new())) {
        free(p);
        return hd_oom();
    }
    pthread_mutex_init(&p->lock, NULL);
    *out = p;
    return HERD_OK;
}

void herd_cycle_part_free(herd_cycle_part *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->g[i].artifact);
        hd_cmp_eval_clear(&p->g[i].eval);
    }
    free(p->g);
    pthread_mutex_destroy(&p->lock);
    hd_arena_free(p->arena);
    free(p);
}

size_t herd_cycle_part_count(const herd_cycle_part *p) { return p ? p->n : 0; }

static const char *part_dup(herd_cycle_part *p, const char *s, int *oom)
{
    if (!s) return NULL;
    const char *d = hd_arena_strndup(p->arena, s, strlen(s));
    if (!d) *oom = 1;
    return d;
}

static char *part_strdup_or_null(const char *s, int *oom)
{
    if (!s) return NULL;
    char *d = hd_strdup(s);
    if (!d) *oom = 1;
    return d;
}

/* Keep one group's result (copied). */
static int part_keep(herd_cycle_part *p, const hd_cycle_result *r, size_t order)
{
    if (p->n == p->cap && hd_grow((void **)&p->g, &p->cap, p->n + 1, sizeof *p->g))
        return hd_oom();
    int oom = 0;
    part_group g = {.key = part_dup(p, r->key, &oom), .message = part_dup(p, r->message, &oom),
                    .family = r->family, .status = r->status, .order = order,
                    .rows = r->rows, .train_rows = r->train_rows, .data_hash = r->data_hash,
                    .len = r->artifact_len};
    g.eval = *r->eval;
    g.eval.chall_error = part_strdup_or_null(r->eval->chall_error, &oom);
    g.eval.champ_error = part_strdup_or_null(r->eval->champ_error, &oom);
    g.eval.boot_error = part_strdup_or_null(r->eval->boot_error, &oom);
    if (r->bytes && !oom) {
        if ((g.artifact = hd_malloc(r->artifact_len ? r->artifact_len : 1, 1)))
            memcpy(g.artifact, r->bytes, r->artifact_len);
        else oom = 1;
    }
    if (oom) {
        free(g.artifact);
        hd_cmp_eval_clear(&g.eval);
        return hd_oom();
    }
    p->g[p->n++] = g;
    return HERD_OK;
}

static int part_sink(void *ctx, const hd_cycle_result *r, size_t order)
{
    herd_cycle_part *p = ctx;
    pthread_mutex_lock(&p->lock);
    int rc = part_keep(p, r, order);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int part_group_order(const void *a, const void *b)
{
    const part_group *x = a, *y = b;
    if (x->family != y->family) return x->family - y->family;
    return x->order < y->order ? -1 : x->order > y->order;
}

int hd_cycle_same_columns(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i])) return 0;
    return 1;
}

void hd_cycle_part_describe(const herd_cycle_part *p, hd_cycle_part_info *info)
{
    *info = (hd_cycle_part_info){.options_json = p->options_json, .run_id = p->run_id,
                                 .key_columns = p->key_columns,
                                 .n_key_columns = p->n_key_columns,
                                 .rows_without_key = p->rows_without_key, .n_results = p->n};
}

void hd_cycle_part_result(const herd_cycle_part *p, size_t i, hd_cycle_result *r)
{
    const part_group *g = &p->g[i];
    *r = (hd_cycle_result){.key = g->key, .family = g->family, .status = g->status,
                           .message = g->message, .bytes = g->artifact,
                           .artifact_len = g->len, .rows = g->rows,
                           .train_rows = g->train_rows, .data_hash = g->data_hash,
                           .eval = &g->eval};
}

/* The part's own fields: the run's options and the data's key columns. */
static int part_header(herd_cycle_part *p, const hd_cycle_setup *s, const herd_groups *groups)
{
    int oom = 0;
    p->options_json = part_dup(p, s->options_json, &oom);
    p->run_id = part_dup(p, s->o.run_id, &oom);
    p->n_key_columns = groups->nkeys;
    p->rows_without_key = groups->missing;
    p->key_columns = hd_arena_alloc(p->arena, (groups->nkeys + 1) * sizeof *p->key_columns);
    if (!p->key_columns) oom = 1;
    for (size_t k = 0; !oom && k < groups->nkeys; k++)
        p->key_columns[k] =
            part_dup(p, herd_frame_column_name(groups->frame, groups->key_cols[k]), &oom);
    return oom ? hd_oom() : HERD_OK;
}

static int cyc_train_call(const herd_groups *groups, const herd_fit_options *fit,
                          const herd_cycle_options *opt, const herd_champions *champions,
                          const herd_apply_options *apply, herd_cycle_part **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(fit);
    hd_cycle_setup s;
    int rc = hd_cycle_setup_read(fit, opt, groups->frame, "herd_cycle_train", &s);
    if (!rc) rc = hd_cycle_check_data(&s, groups, "herd_cycle_train");
    herd_cycle_part *p = NULL;
    if (!rc) rc = part_new(&p);
    if (!rc) rc = part_header(p, &s, groups);
    if (!rc) {
        hd_scope_set_ids(s.o.family, s.o.run_id);
        hd_champion_source src = {.champions = champions, .family = s.o.family,
                                  .alias = s.cmp.o.champion};
        hd_phase_begin("split", NULL, NULL);
        rc = hd_cycle_work(&s, groups, &src, (s.o.models & HERD_CYCLE_GROUPS) != 0,
                           (s.o.models & HERD_CYCLE_FAMILY) != 0, apply, part_sink, p);
    }
    if (p && (rc == HERD_OK || rc == HERD_ECANCELED || rc == HERD_EBUDGET)) {
        qsort(p->g, p->n, sizeof *p->g, part_group_order);
        *out = p;
        p = NULL;
    }
    herd_cycle_part_free(p);
    hd_cycle_setup_free(&s);
    return rc;
}

int herd_cycle_train(const herd_groups *groups, const herd_fit_options *fit,
                     const herd_cycle_options *opt, const herd_champions *champions,
                     const herd_apply_options *apply, herd_cycle_part **out)
{
    static const char *const plan[] = {"split", "fit", "fit_family"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, 3, NULL, NULL);
    int rc = cyc_train_call(groups, fit, opt, champions, apply, out);
    hd_scope_leave(&scope);
    return rc;
}

int herd_cycle_part_report(const herd_cycle_part *p, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(p);
    size_t n = p->n;
    const char **keys = hd_malloc(n ? n : 1, sizeof *keys);
    const char **status = hd_malloc(n ? n : 1, sizeof *status);
    const char **msg = hd_malloc(n ? n : 1, sizeof *msg);
    int64_t *iv[4];
    double *fv[2];
    for (int k = 0; k < 4; k++) iv[k] = hd_malloc(n ? n : 1, sizeof(int64_t));
    for (int k = 0; k < 2; k++) fv[k] = hd_malloc(n ? n : 1, sizeof(double));
    int rc = keys && status && msg && iv[0] && iv[1] && iv[2] && iv[3] && fv[0] && fv[1]
                 ? HERD_OK
                 : hd_oom();
    for (size_t i = 0; !rc && i < n; i++) {
        const part_group *g = &p->g[i];
        keys[i] = g->key;
        status[i] = hd_task_status_name(g->status);
        msg[i] = g->message;
        iv[0][i] = (int64_t)g->rows;
        iv[1][i] = (int64_t)g->eval.rows;
        iv[2][i] = g->artifact ? (int64_t)g->len : 0;
        iv[3][i] = g->eval.champ_v;
        fv[0][i] = g->eval.chall_m;
        fv[1][i] = g->eval.champ_m;
    }
    herd_frame *f = NULL;
    if (!rc) rc = herd_frame_new(&f);
    if (!rc) rc = hd_frame_add_str(f, "group", keys, n);
    if (!rc) rc = hd_frame_add_str(f, "status", status, n);
    if (!rc) rc = hd_frame_add_str(f, "message", msg, n);
    if (!rc) rc = hd_frame_add_i64(f, "rows", iv[0], n);
    if (!rc) rc = hd_frame_add_i64(f, "holdout_rows", iv[1], n);
    if (!rc) rc = hd_frame_add_i64(f, "artifact_bytes", iv[2], n);
    if (!rc) rc = hd_frame_add_f64(f, "challenger_metric", fv[0], n);
    if (!rc) rc = hd_frame_add_i64(f, "champion_version", iv[3], n);
    if (!rc) rc = hd_frame_add_f64(f, "champion_metric", fv[1], n);
    free(keys);
    free(status);
    free(msg);
    for (int k = 0; k < 4; k++) free(iv[k]);
    for (int k = 0; k < 2; k++) free(fv[k]);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

int herd_cycle_part_artifact(const herd_cycle_part *p, size_t i, const void **data, size_t *len)
{
    HD_CHECK_NOT_NULL(data);
    *data = NULL;
    HD_CHECK_NOT_NULL(len);
    *len = 0;
    HD_CHECK_NOT_NULL(p);
    if (i >= p->n)
        return hd_error(HERD_EINVAL, "%s: index %zu is out of range; the part has %zu groups",
                        __func__, i, p->n);
    if (!p->g[i].artifact) return HERD_MISSING;
    *data = p->g[i].artifact;
    *len = p->g[i].len;
    return HERD_OK;
}

/* ---- the part as bytes ---------------------------------------------------- */

static void part_write_eval(hd_wbuf *b, const hd_cmp_eval *e)
{
    hd_wbuf_u64(b, e->rows);
    hd_wbuf_u64(b, e->skipped);
    hd_wbuf_f64(b, e->chall_m);
    hd_wbuf_str(b, e->chall_error);
    hd_wbuf_u64(b, (uint64_t)e->champ_v);
    hd_wbuf_f64(b, e->champ_m);
    hd_wbuf_str(b, e->champ_error);
    hd_wbuf_u8(b, (unsigned)e->same_model);
    hd_wbuf_f64(b, e->ci_lo);
    hd_wbuf_f64(b, e->ci_hi);
    hd_wbuf_str(b, e->boot_error);
}

int herd_cycle_part_to_buffer(const herd_cycle_part *p, void **data, size_t *len)
{
    HD_CHECK_NOT_NULL(data);
    *data = NULL;
    HD_CHECK_NOT_NULL(len);
    *len = 0;
    HD_CHECK_NOT_NULL(p);
    hd_wbuf b = {0};
    hd_envelope_begin(&b, part_magic, PART_FORMAT);
    hd_wbuf_str(&b, p->options_json);
    hd_wbuf_str(&b, p->run_id);
    hd_wbuf_u64(&b, p->n_key_columns);
    for (size_t k = 0; k < p->n_key_columns; k++) hd_wbuf_str(&b, p->key_columns[k]);
    hd_wbuf_u64(&b, p->rows_without_key);
    hd_wbuf_u64(&b, p->n);
    for (size_t i = 0; i < p->n; i++) {
        const part_group *g = &p->g[i];
        hd_wbuf_str(&b, g->key);
        hd_wbuf_u8(&b, (unsigned)g->family);
        hd_wbuf_u8(&b, (unsigned)g->status);
        hd_wbuf_str(&b, g->message);
        hd_wbuf_u64(&b, g->order);
        hd_wbuf_u64(&b, g->rows);
        hd_wbuf_u64(&b, g->train_rows);
        hd_wbuf_u64(&b, g->data_hash);
        part_write_eval(&b, &g->eval);
        hd_wbuf_u8(&b, g->artifact != NULL);
        hd_wbuf_u64(&b, g->artifact ? g->len : 0);
        if (g->artifact) hd_wbuf_bytes(&b, g->artifact, g->len);
    }
    if (hd_envelope_seal(&b)) return HERD_ENOMEM;
    *data = b.p;
    *len = b.n;
    return HERD_OK;
}

/* A string read into the part's arena; `nullable` 0: NULL is malformed. */
static const char *part_read_str(hd_rbuf *r, herd_cycle_part *p, int nullable)
{
    size_t at = r->pos;
    const char *s = hd_rbuf_str(r, p->arena);
    if (!s && !nullable) r->bad = 1;
    if (!s && nullable && !r->bad && hd_rd32(r->p + at) != 0xFFFFFFFFu) r->bad = 1;
    return s;
}

static char *part_read_msg(hd_rbuf *r, herd_cycle_part *p, int *oom)
{
    const char *s = part_read_str(r, p, 1);
    return r->bad ? NULL : part_strdup_or_null(s, oom);
}

static void part_read_eval(hd_rbuf *r, herd_cycle_part *p, hd_cmp_eval *e, int *oom)
{
    e->rows = (size_t)hd_rbuf_u64(r);
    e->skipped = (size_t)hd_rbuf_u64(r);
    e->chall_m = hd_rbuf_f64(r);
    e->chall_error = part_read_msg(r, p, oom);
    e->champ_v = (int64_t)hd_rbuf_u64(r);
    e->champ_m = hd_rbuf_f64(r);
    e->champ_error = part_read_msg(r, p, oom);
    e->same_model = hd_rbuf_u8(r) != 0;
    e->ci_lo = hd_rbuf_f64(r);
    e->ci_hi = hd_rbuf_f64(r);
    e->boot_error = part_read_msg(r, p, oom);
}

/* One group's record; its artifact verified whole, model included (as
 * herd_batch_add_bytes does by default): the bytes came from another
 * process, and the committer adds them without checking them again. */
static int part_read_group(hd_rbuf *r, herd_cycle_part *p)
{
    if (p->n == p->cap && hd_grow((void **)&p->g, &p->cap, p->n + 1, sizeof *p->g))
        return hd_oom();
    part_group *g = &p->g[p->n];
    memset(g, 0, sizeof *g);
    hd_cmp_eval_init(&g->eval);
    int oom = 0;
    g->key = part_read_str(r, p, 0);
    g->family = hd_rbuf_u8(r) != 0;
    g->status = (int)hd_rbuf_u8(r);
    g->message = part_read_str(r, p, 1);
    g->order = (size_t)hd_rbuf_u64(r);
    g->rows = (size_t)hd_rbuf_u64(r);
    g->train_rows = (size_t)hd_rbuf_u64(r);
    g->data_hash = hd_rbuf_u64(r);
    part_read_eval(r, p, &g->eval, &oom);
    p->n++; /* owned from here: freed with the part */
    int has = (int)hd_rbuf_u8(r);
    uint64_t len = hd_rbuf_u64(r);
    if (oom) return hd_oom();
    if (r->bad || g->status > HD_TASK_SKIPPED || (!has && len) || len > r->n - r->pos)
        return r->bad = 1, HERD_OK;
    if (!has) return HERD_OK;
    int rc = hd_artifact_check_model(r->p + r->pos, (size_t)len, NULL);
    if (rc == HERD_ENOMEM) return rc;
    if (rc) return hd_error_prefix("group '%s': the artifact is not valid: ", g->key);
    if (!(g->artifact = hd_malloc(len ? (size_t)len : 1, 1))) return hd_oom();
    memcpy(g->artifact, r->p + r->pos, (size_t)len);
    g->len = (size_t)len;
    r->pos += (size_t)len;
    return HERD_OK;
}

int herd_cycle_part_read(const void *data, size_t len, herd_cycle_part **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(data);
    hd_rbuf r;
    int rc = hd_envelope_open(data, len, part_magic, PART_FORMAT, __func__, "a cycle part",
                              "herd_cycle_part_to_buffer", &r);
    if (rc) return rc;
    herd_cycle_part *p = NULL;
    rc = part_new(&p);
    if (!rc) {
        p->options_json = part_read_str(&r, p, 0);
        p->run_id = part_read_str(&r, p, 0);
        uint64_t nk = hd_rbuf_u64(&r);
        if (nk > r.n - r.pos) r.bad = 1; /* each name takes at least 4 bytes */
        p->key_columns = r.bad ? NULL : hd_arena_alloc(p->arena, ((size_t)nk + 1) *
                                                                    sizeof *p->key_columns);
        if (!r.bad && !p->key_columns) rc = hd_oom();
        for (uint64_t k = 0; !rc && !r.bad && k < nk; k++)
            p->key_columns[k] = part_read_str(&r, p, 0);
        p->n_key_columns = r.bad ? 0 : (size_t)nk;
        p->rows_without_key = (size_t)hd_rbuf_u64(&r);
        uint64_t n = hd_rbuf_u64(&r);
        for (uint64_t i = 0; !rc && !r.bad && i < n; i++) rc = part_read_group(&r, p);
    }
    if (!rc && (r.bad || r.pos != r.n))
        rc = hd_error(HERD_EFORMAT, "%s: the part is malformed at byte %zu of %zu", __func__,
                      r.pos, len);
    if (rc) {
        if (rc != HERD_ENOMEM && rc != HERD_EFORMAT) hd_error_prefix("%s: ", __func__);
        herd_cycle_part_free(p);
        return rc;
    }
    *out = p;
    return HERD_OK;
}
