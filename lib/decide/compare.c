/* compare.c -- champion / challenger: evaluate both on the same holdout
 * rows, decide per group, promote the winners in one commit, roll back.
 *
 * Evaluation runs on the pool, one task per group: resolve both aliases,
 * load each model once, predict the holdout rows, compute the metric (and,
 * for the bootstrap, per-row losses).  Decisions are pure functions of
 * those numbers and the options, so a dry run and a real run decide the
 * same; only the real one commits.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/json_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "data/order_internal.h"
#include "model/metrics_internal.h"
#include "model/model_internal.h"
#include "model/xgb_internal.h"
#include "artifact/artifact_internal.h"
#include "train/apply_internal.h"
#include "registry/uri_internal.h"
#include "registry/batch_internal.h"
#include "decide/compare_internal.h"

/* "refused": a promote or first that the promotion cap refused (nothing
 * moved); appended last so that the others keep their summary rows. */
enum { CMP_PROMOTE, CMP_KEEP, CMP_FIRST, CMP_SKIPPED, CMP_FAILED, CMP_REFUSED, CMP_NDECISIONS };

static const char *const cmp_names[CMP_NDECISIONS] = {"promote", "keep",   "first",
                                                      "skipped", "failed", "refused"};

typedef struct cmp_row {
    int decision;
    char *reason; /* malloc'd */
    int64_t champ_v, chall_v;
    double champ_m, chall_m, delta, rel, ci_lo, ci_hi;
    size_t rows;
    size_t skipped; /* holdout rows the metric skips (mape: zero labels) */
    int promoted;   /* 1 once the commit that moved its champion alias returned */
} cmp_row;

/* The holdout frame's groups and its columns. */
typedef struct cmp_hset {
    const herd_groups *groups;
    size_t label_col, weight_col; /* SIZE_MAX: none */
    double *order; /* holdout_order_by's key per frame row (hd_order_keys), or NULL */
} cmp_hset;

typedef struct cmp_ctx {
    herd_registry *reg;
    hd_cmp_setup s; /* the options and the metric */
    cmp_hset *set;     /* herd_compare's holdout; NULL for groups evaluated elsewhere */
    size_t ntasks;     /* groups */
    const char **keys; /* per group: its key (borrowed) */
    cmp_row *rows;     /* per task */
    herd_progress_fn progress; /* the apply options', for the promote phase */
    void *progress_user;
} cmp_ctx;

/* ------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------- */

static int cmp_numeric_column(const herd_frame *f, const char *name, const char *what,
                              size_t *col)
{
    int rc = herd_frame_find(f, name, col);
    if (rc) return hd_error(HERD_ENOTFOUND, "%s column '%s' is not in the holdout frame", what,
                            name);
    int t = herd_frame_column_type(f, *col);
    if (t == HERD_TYPE_STRING)
        return hd_error(HERD_ETYPE, "%s column '%s' holds strings; it must be numeric", what,
                        name);
    return HERD_OK;
}

int hd_cmp_setup_read(const herd_compare_options *in, hd_cmp_setup *cs)
{
    herd_compare_options *o = &cs->o;
    int rc = hd_options_read(&hd_compare_options_desc, in, o, NULL);
    if (rc) return rc;
    if (!o->family) return hd_error(HERD_EINVAL, "opt->family is NULL; name the family");
    rc = hd_id_check(o->family, "opt->family");
    if (!rc) rc = o->champion ? hd_id_check(o->champion, "opt->champion")
                              : hd_error(HERD_EINVAL, "opt->champion is NULL");
    if (!rc) rc = o->challenger ? hd_id_check(o->challenger, "opt->challenger")
                                : hd_error(HERD_EINVAL, "opt->challenger is NULL");
    if (!rc && (!strcmp(o->champion, "latest") || !strcmp(o->champion, o->challenger)))
        rc = hd_error(HERD_EINVAL, "opt->champion is '%s' and opt->challenger '%s': give two "
                      "different aliases (the champion cannot be 'latest')", o->champion,
                      o->challenger);
    if (!rc && o->run_id) rc = hd_id_check(o->run_id, "opt->run_id");
    if (rc) return rc;
    if (!o->metric) return hd_error(HERD_EINVAL, "opt->metric is NULL");
    if ((rc = hd_metric_parse(o->metric, &cs->metric))) return rc;
    if (!o->label) return hd_error(HERD_EINVAL, "opt->label is NULL; name the label column");
    if (o->metric_min > o->metric_max)
        return hd_error(HERD_EINVAL, "opt->metric_min .. opt->metric_max is [%s, %s]; give "
                        "min <= max", HD_NUMF("%g", o->metric_min),
                        HD_NUMF("%g", o->metric_max));
    if (o->holdout_fraction > 0 && o->holdout_periods)
        return hd_error(HERD_EINVAL, "opt->holdout_fraction is %s and opt->holdout_periods "
                        "%zu: give one of them (each group's last fraction of rows, or its "
                        "rows of the last N values of opt->holdout_order_by)",
                        HD_NUMF("%g", o->holdout_fraction), o->holdout_periods);
    if ((o->holdout_fraction > 0 || o->holdout_periods) && !o->holdout_order_by)
        return hd_error(HERD_EINVAL, "opt->holdout_%s is set but opt->holdout_order_by is "
                        "NULL: name the column that orders each group's rows (e.g. a date)",
                        o->holdout_periods ? "periods" : "fraction");
    if (o->bootstrap && !hd_metric_has_row_loss(&cs->metric))
        return hd_error(HERD_EINVAL, "opt->bootstrap needs a metric that is a mean of per-row "
                        "losses; '%s' is not (use rmse, mae, mape, logloss, the deviances...)",
                        cs->metric.name);
    return HERD_OK;
}

/* The columns the options name, in one holdout frame. */
static int cmp_set_columns(const cmp_ctx *c, cmp_hset *set)
{
    const herd_frame *frame = set->groups->frame;
    set->weight_col = SIZE_MAX;
    int rc = cmp_numeric_column(frame, c->s.o.label, "the label", &set->label_col);
    if (!rc && c->s.o.weight)
        rc = cmp_numeric_column(frame, c->s.o.weight, "the weight", &set->weight_col);
    size_t order_col = 0;
    if (!rc && (c->s.o.holdout_fraction > 0 || c->s.o.holdout_periods)) {
        if (herd_frame_find(frame, c->s.o.holdout_order_by, &order_col))
            return hd_error(HERD_ENOTFOUND, "the holdout_order_by column '%s' is not in the "
                            "holdout frame", c->s.o.holdout_order_by);
        rc = hd_order_keys(frame, order_col, "opt->holdout_order_by", &set->order);
    }
    return rc;
}

/* The key columns of `g` for a message: 'store', 'week'. */
static const char *cmp_key_columns(const herd_groups *g, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < g->nkeys && o + 1 < size; k++) {
        const char *name = herd_frame_column_name(g->frame, g->key_cols[k]);
        int w = snprintf(buf + o, size - o, "%s'%s'", k ? ", " : "", name ? name : "?");
        if (w < 0) break;
        o += (size_t)w;
    }
    return buf;
}

int hd_groups_check_keys(const herd_groups *g)
{
    for (size_t i = 0; i < g->ngroups; i++) {
        if (hd_key_check(g->keys[i], "its key") == HERD_OK) continue;
        char rule[512], cols[256];
        snprintf(rule, sizeof rule, "%s", herd_last_error());
        return hd_error(HERD_EINVAL, "group %zu (of %zu, counting from 0): %s; a group key "
                        "must also be a registry key, 1..%d bytes of UTF-8 without control "
                        "characters: clean the key column%s %s (or drop those rows) and run "
                        "again; nothing was done", i, g->ngroups, rule,
                        HERD_KEY_MAX, g->nkeys > 1 ? "s" : "",
                        cmp_key_columns(g, cols, sizeof cols));
    }
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * One group
 * --------------------------------------------------------------------- */

static char *cmp_text(const char *fmt, ...) HD_PRINTF(1, 2);
static char *cmp_text(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return hd_strdup(buf);
}

static int cmp_set(cmp_row *r, int decision, char *reason)
{
    r->decision = decision;
    free(r->reason);
    r->reason = reason;
    return reason ? HERD_OK : HERD_ENOMEM;
}

typedef struct cmp_order {
    double v;
    size_t row;
} cmp_order;

static int cmp_order_cmp(const void *a, const void *b)
{
    const cmp_order *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1; /* NaN never reaches here */
    return x->row < y->row ? -1 : x->row > y->row; /* stable: frame order */
}

/* How many of the n sorted rows are among the last `periods` distinct
 * order values. */
static size_t cmp_last_periods(const cmp_order *ord, size_t n, size_t periods)
{
    size_t k = 0, distinct = 0;
    for (size_t i = n; i-- > 0; k++)
        if ((i == n - 1 || ord[i].v != ord[i + 1].v) && ++distinct > periods) break;
    return k;
}

int hd_holdout_split(const double *order, const char *order_name, double fraction,
                     size_t periods, const size_t *rows, size_t n, size_t *hold, size_t *nhold,
                     size_t *train, size_t *ntrain)
{
    cmp_order *ord = hd_malloc(n ? n : 1, sizeof *ord);
    if (!ord) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        ord[i].row = rows[i];
        ord[i].v = order[rows[i]];
        if (isnan(ord[i].v)) {
            free(ord);
            return hd_error(HERD_EINVAL, "row %zu has no value in the ordering column '%s'",
                            rows[i], order_name);
        }
    }
    qsort(ord, n, sizeof *ord, cmp_order_cmp);
    size_t k;
    if (periods) {
        k = cmp_last_periods(ord, n, periods);
    } else {
        k = (size_t)ceil(fraction * (double)n);
        if (k < 1) k = 1;
        if (k > n) k = n;
    }
    for (size_t i = 0; i < k; i++) hold[i] = ord[n - k + i].row;
    for (size_t i = 0; train && i < n - k; i++) train[i] = ord[i].row;
    free(ord);
    *nhold = k;
    if (ntrain) *ntrain = n - k;
    return HERD_OK;
}

/* The group's holdout rows: all of them, or its last fraction by the
 * order column. */
static int cmp_holdout_rows(const cmp_ctx *c, const cmp_hset *set, const size_t *rows, size_t n,
                            size_t **out, size_t *nout)
{
    size_t *sel = hd_malloc(n ? n : 1, sizeof *sel);
    if (!sel) return HERD_ENOMEM;
    int rc = HERD_OK;
    if (!set->order) { /* no holdout_fraction nor holdout_periods */
        memcpy(sel, rows, n * sizeof *sel);
        *nout = n;
    } else {
        rc = hd_holdout_split(set->order, c->s.o.holdout_order_by, c->s.o.holdout_fraction,
                              c->s.o.holdout_periods, rows, n, sel, nout, NULL, NULL);
    }
    if (rc) {
        free(sel);
        return rc;
    }
    *out = sel;
    return HERD_OK;
}

/* A column's values at rows (NULL column: all 1). */
static int cmp_values(const herd_frame *f, size_t col, const size_t *rows, size_t n,
                      const char *what, double **out)
{
    double *v = hd_malloc(n ? n : 1, sizeof *v);
    if (!v) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (col == SIZE_MAX) {
            v[i] = 1;
        } else if (herd_frame_get_double(f, col, rows[i], &v[i]) || !isfinite(v[i])) {
            free(v);
            return hd_error(HERD_EINVAL, "the %s of row %zu is missing or not finite", what,
                            rows[i]);
        }
    }
    *out = v;
    return HERD_OK;
}

/* A model's predictions of the rows. */
static int cmp_predict(const herd_model *m, const herd_frame *frame, const size_t *rows,
                       size_t n, int nthread, double **pred, size_t *nout)
{
    *nout = herd_model_output_count(m);
    *pred = hd_malloc(n ? n * *nout : 1, sizeof **pred);
    if (!*pred) return HERD_ENOMEM;
    int rc = herd_model_predict(m, frame, rows, n, nthread, *pred, n * *nout);
    if (rc) {
        free(*pred);
        *pred = NULL;
    }
    return rc;
}

/* A version's model from the registry. */
static int cmp_load(const cmp_ctx *c, const char *key, int64_t version, herd_model **out)
{
    herd_artifact *a = NULL;
    int rc = herd_registry_load(c->reg, c->s.o.family, key, version, &a);
    return rc ? rc : hd_artifact_into_model(a, out);
}

/* Whether two models are the same bytes (a retrain on the same data):
 * compared where they are, without a copy of either. */
static int cmp_same_model(const herd_model *a, const herd_model *b)
{
    return a->len == b->len && !memcmp(a->ubj, b->ubj, a->len);
}

/* splitmix64 */
static uint64_t cmp_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The improvement in metric units of a resample whose weighted loss sums
 * are sc (champion) and sh (challenger) over weight sw: the metric is a
 * function of the mean row loss (sqrt for rmse), so this is delta's own
 * definition, on the resampled rows. */
static double cmp_resample_delta(const hd_metric *m, double sw, double sc, double sh)
{
    if (!(sw > 0)) return 0;
    return hd_metric_from_mean_loss(m, sc / sw) - hd_metric_from_mean_loss(m, sh / sw);
}

/* Paired bootstrap of delta, the improvement of the metric (champion's
 * minus challenger's: > 0 when the challenger is better), in the metric's
 * units: each resample's mean row losses are mapped to the metric (for
 * rmse, the square root of the mean squared error) before subtracting.
 * The sign of each resample's delta is the sign of its loss difference, so
 * the decision is the one a loss-unit interval would give, while the
 * interval is on delta's scale and brackets it. */
static int cmp_bootstrap(const hd_cmp_setup *cs, const char *key, const double *label,
                         const double *weight, const double *p_champ, const double *p_chall,
                         size_t n, size_t nout, hd_cmp_eval *e)
{
    double *lc = hd_malloc(n, sizeof *lc), *lh = hd_malloc(n, sizeof *lh);
    double *means = hd_malloc((size_t)cs->o.bootstrap, sizeof *means);
    size_t *use = hd_malloc(n, sizeof *use);
    int rc = (lc && lh && means && use) ? HERD_OK : HERD_ENOMEM;
    if (!rc) rc = hd_metric_row_losses(&cs->metric, label, p_champ, n, nout, lc);
    if (!rc) rc = hd_metric_row_losses(&cs->metric, label, p_chall, n, nout, lh);
    size_t m = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (!isnan(lc[i]) && !isnan(lh[i])) use[m++] = i; /* rows the metric skips */
    if (!rc && !m) rc = hd_error(HERD_EINVAL, "no holdout row has a loss to resample");
    uint64_t s = cs->o.seed ^ hd_hash_bytes(key, strlen(key), 0xb007ull);
    for (int b = 0; !rc && b < cs->o.bootstrap; b++) {
        double sw = 0, sc = 0, sh = 0;
        for (size_t j = 0; j < m; j++) {
            size_t i = use[cmp_rand(&s) % m];
            sw += weight[i];
            sc += weight[i] * lc[i];
            sh += weight[i] * lh[i];
        }
        means[b] = cmp_resample_delta(&cs->metric, sw, sc, sh);
    }
    if (!rc) {
        qsort(means, (size_t)cs->o.bootstrap, sizeof *means, cmp_double);
        size_t B = (size_t)cs->o.bootstrap;
        /* The epsilon keeps 0.1 * 1000 from flooring to 99 */
        size_t lo = (size_t)floor((1 - cs->o.confidence) * (double)(B - 1) + 1e-9);
        size_t hi = (size_t)ceil(cs->o.confidence * (double)(B - 1) - 1e-9);
        e->ci_lo = means[lo];
        e->ci_hi = means[hi];
    }
    free(lc);
    free(lh);
    free(means);
    free(use);
    return rc;
}

/* ------------------------------------------------------------------------
 * Evaluation: what is measured on a group's holdout rows
 * --------------------------------------------------------------------- */

void hd_cmp_eval_init(hd_cmp_eval *e)
{
    memset(e, 0, sizeof *e);
    e->chall_m = e->champ_m = e->ci_lo = e->ci_hi = NAN;
}

void hd_cmp_eval_clear(hd_cmp_eval *e)
{
    free(e->chall_error);
    free(e->champ_error);
    free(e->boot_error);
    hd_cmp_eval_init(e);
}

/* A failure of one side: its message is kept (the group's decision will
 * be "failed" with it, if the evaluation matters to the decision); only
 * running out of memory stops the evaluation. */
static int cmp_failure(int rc, char **slot)
{
    if (rc == HERD_ENOMEM) return rc;
    *slot = hd_strdup(herd_last_error());
    herd_clear_error();
    return *slot ? HERD_OK : HERD_ENOMEM;
}

int hd_cmp_evaluate(const hd_cmp_setup *cs, const char *key, const herd_frame *frame,
                    size_t label_col, size_t weight_col, const size_t *rows, size_t n,
                    const herd_model *chall, const double *chall_pred,
                    const herd_model *champ, int nthread, hd_cmp_eval *e)
{
    e->rows = n;
    if (n < cs->o.min_holdout_rows) return HERD_OK; /* skipped when decided */
    double *label = NULL, *weight = NULL, *p_chall = NULL, *p_champ = NULL;
    size_t nout = 0, nout2 = 0, sk = 0;
    int rc = cmp_values(frame, label_col, rows, n, "label", &label);
    if (!rc) rc = cmp_values(frame, weight_col, rows, n, "weight", &weight);
    const double *pc = chall_pred;
    nout = herd_model_output_count(chall);
    if (!rc && !pc) rc = cmp_predict(chall, frame, rows, n, nthread, &p_chall, &nout);
    if (!pc) pc = p_chall;
    const double *w = weight_col == SIZE_MAX ? NULL : weight;
    if (!rc) rc = hd_metric_eval(&cs->metric, label, pc, w, n, nout, &e->chall_m, &sk);
    e->skipped = sk;
    if (rc) {
        e->chall_m = NAN;
        rc = cmp_failure(rc, &e->chall_error);
    } else if (champ && (e->same_model = cmp_same_model(champ, chall))) {
        /* The champion is the challenger's very model (a re-run, a week
         * without new data): its predictions, and so its metric, are the
         * challenger's; XGBoost need not load it. */
        e->champ_m = e->chall_m;
    } else if (champ) {
        int crc = cmp_predict(champ, frame, rows, n, nthread, &p_champ, &nout2);
        if (!crc && nout2 != nout)
            crc = hd_error(HERD_EINVAL, "the champion predicts %zu values per row and the "
                           "challenger %zu: they are not comparable", nout2, nout);
        if (!crc) crc = hd_metric_eval(&cs->metric, label, p_champ, w, n, nout, &e->champ_m, &sk);
        if (crc) {
            e->champ_m = NAN;
            rc = cmp_failure(crc, &e->champ_error);
        } else if (cs->o.bootstrap) {
            crc = cmp_bootstrap(cs, key, label, weight, p_champ, pc, n, nout, e);
            if (crc) rc = cmp_failure(crc, &e->boot_error);
        }
    }
    free(label);
    free(weight);
    free(p_chall);
    free(p_champ);
    return rc;
}

/* ------------------------------------------------------------------------
 * Deciding one group
 * --------------------------------------------------------------------- */

/* The decision once both metrics are known. */
static int cmp_decide(const cmp_ctx *c, cmp_row *r)
{
    const herd_compare_options *o = &c->s.o;
    const char *mn = c->s.metric.name;
    if (!(r->chall_m >= o->metric_min && r->chall_m <= o->metric_max))
        return cmp_set(r, CMP_KEEP, cmp_text("the challenger's %s %s is outside the bounds "
                                             "[%s, %s]", mn, HD_NUMF("%.6g", r->chall_m),
                                             HD_NUMF("%g", o->metric_min),
                                             HD_NUMF("%g", o->metric_max)));
    if (!(r->delta > 0))
        return cmp_set(r, CMP_KEEP, cmp_text("the challenger's %s %s is not better than the "
                                             "champion's %s", mn, HD_NUMF("%.6g", r->chall_m),
                                             HD_NUMF("%.6g", r->champ_m)));
    if (r->delta < o->min_abs_delta)
        return cmp_set(r, CMP_KEEP, cmp_text("%s improves by %s, less than min_abs_delta "
                                             "%s", mn, HD_NUMF("%.6g", r->delta),
                                             HD_NUMF("%g", o->min_abs_delta)));
    if (o->min_rel_delta > 0 && isnan(r->rel))
        return cmp_set(r, CMP_KEEP, cmp_text("the champion's %s is 0: a relative improvement "
                                             "is undefined, so min_rel_delta %s%% cannot be "
                                             "met", mn, HD_NUMF("%.3g", 100 * o->min_rel_delta)));
    if (r->rel < o->min_rel_delta)
        return cmp_set(r, CMP_KEEP, cmp_text("%s improves by %s%%, less than min_rel_delta "
                                             "%s%%", mn, HD_NUMF("%.3g", 100 * r->rel),
                                             HD_NUMF("%.3g", 100 * o->min_rel_delta)));
    if (o->bootstrap && !(r->ci_lo > 0))
        return cmp_set(r, CMP_KEEP, cmp_text("the improvement is not significant: at %s%% "
                                             "confidence %s may improve by as little as "
                                             "%s (paired bootstrap, %d resamples)",
                                             HD_NUMF("%.0f", 100 * o->confidence), mn,
                                             HD_NUMF("%.6g", r->ci_lo), o->bootstrap));
    return cmp_set(r, CMP_PROMOTE, cmp_text("%s improves by %s (%s%%)%s", mn,
                                            HD_NUMF("%.6g", r->delta),
                                            HD_NUMF("%.3g", 100 * r->rel),
                                            o->bootstrap ? ", significant by bootstrap" : ""));
}

/* Whether the champion alias of `key` was ever moved away from `version`
 * (it was the champion, then replaced or rolled back). */
static int cmp_was_demoted(const cmp_ctx *c, const char *key, int64_t version, int *demoted)
{
    herd_frame *h = NULL;
    size_t fc = 0;
    *demoted = 0;
    int rc = herd_registry_alias_history(c->reg, c->s.o.family, key, c->s.o.champion, &h);
    if (!rc) rc = herd_frame_find(h, "from_version", &fc);
    for (size_t i = 0; !rc && i < herd_frame_row_count(h) && !*demoted; i++) {
        int64_t from = 0;
        herd_frame_get_int64(h, fc, i, &from);
        *demoted = from == version;
    }
    herd_frame_free(h);
    return rc;
}

static int cmp_resolve(const cmp_ctx *c, const char *key, const char *alias, int64_t *v)
{
    int rc = herd_registry_resolve(c->reg, c->s.o.family, key, alias, v);
    if (rc == HERD_ENOTFOUND) {
        herd_clear_error();
        *v = 0;
        return HERD_OK;
    }
    return rc;
}

/* What the versions alone decide, before any model is loaded: *decided is
 * 1 when r holds the decision.  `from_run`: the challengers are a cycle
 * run's own versions (0: none trained), not an alias. */
static int cmp_decide_by_versions(const cmp_ctx *c, const char *key, int from_run, cmp_row *r,
                                  int *decided)
{
    *decided = 1;
    if (!r->chall_v && from_run)
        return cmp_set(r, CMP_SKIPPED, cmp_text("no model trained in this run"));
    if (!r->chall_v) return cmp_set(r, CMP_SKIPPED, cmp_text("no %s", c->s.o.challenger));
    /* A cycle's re-run must not undo a rollback: a model of this run that
     * was champion and was moved away from stays out.  (herd_compare on
     * aliases compares what it is asked to.) */
    int demoted = 0, rc;
    if (from_run && r->champ_v && r->chall_v > r->champ_v &&
        (rc = cmp_was_demoted(c, key, r->chall_v, &demoted)))
        return rc;
    if (demoted)
        return cmp_set(r, CMP_KEEP, cmp_text("the %s (version %lld) was the %s before and was "
                                             "moved away from (rolled back); set the alias "
                                             "by hand to bring it back",
                                             c->s.o.challenger, (long long)r->chall_v,
                                             c->s.o.champion));
    if (r->champ_v && r->chall_v < r->champ_v) /* going back is a rollback, made on purpose */
        return cmp_set(r, CMP_KEEP, cmp_text("the %s (version %lld) is older than the %s "
                                             "(version %lld); herd_registry_rollback goes back",
                                             c->s.o.challenger, (long long)r->chall_v,
                                             c->s.o.champion, (long long)r->champ_v));
    *decided = 0;
    return HERD_OK;
}

/* The decision from the evaluation, once the versions decided nothing.
 * A failure of what the decision needs is returned with its message set:
 * the group then reads "failed". */
static int cmp_decide_by_eval(const cmp_ctx *c, const hd_cmp_eval *e, cmp_row *r)
{
    const herd_compare_options *o = &c->s.o;
    r->rows = e->rows;
    if (e->rows < o->min_holdout_rows)
        return cmp_set(r, CMP_SKIPPED, cmp_text("%zu holdout rows, fewer than "
                                                "min_holdout_rows %zu", e->rows,
                                                o->min_holdout_rows));
    if (e->chall_error) return hd_error(HERD_EINVAL, "%s", e->chall_error);
    r->chall_m = e->chall_m;
    r->skipped = e->skipped;
    if (!r->champ_v) {
        if (r->chall_m >= o->metric_min && r->chall_m <= o->metric_max)
            return cmp_set(r, CMP_FIRST, cmp_text("no %s yet", o->champion));
        return cmp_set(r, CMP_SKIPPED, cmp_text("no %s yet, and the challenger's %s %s is "
                                                "outside the bounds [%s, %s]", o->champion,
                                                c->s.metric.name, HD_NUMF("%.6g", r->chall_m),
                                                HD_NUMF("%g", o->metric_min),
                                                HD_NUMF("%g", o->metric_max)));
    }
    if (r->champ_v == r->chall_v) {
        r->champ_m = r->chall_m;
        r->delta = r->rel = 0;
        return cmp_set(r, CMP_KEEP, cmp_text("the %s is the %s's version", o->challenger,
                                             o->champion));
    }
    if (e->champ_error) return hd_error(HERD_EINVAL, "%s", e->champ_error);
    r->champ_m = e->champ_m;
    r->delta = c->s.metric.higher_is_better ? r->chall_m - r->champ_m : r->champ_m - r->chall_m;
    /* Relative to a zero metric (r2 of a mean predictor) is undefined. */
    r->rel = r->champ_m != 0 ? r->delta / fabs(r->champ_m) : NAN;
    if (e->same_model)
        return cmp_set(r, CMP_KEEP, cmp_text("the %s is the same model as the %s",
                                             o->challenger, o->champion));
    if (e->boot_error) return hd_error(HERD_EINVAL, "%s", e->boot_error);
    r->ci_lo = e->ci_lo;
    r->ci_hi = e->ci_hi;
    return cmp_decide(c, r);
}

/* Evaluate and decide one group of herd_compare.  Returns an error only
 * for failures of the group itself (the row then says "failed"). */
static int cmp_group(cmp_ctx *c, size_t t, int nthread)
{
    cmp_row *r = &c->rows[t];
    const cmp_hset *set = c->set;
    const herd_groups *groups = set->groups;
    size_t g = t;
    const char *key = groups->keys[g];
    int decided = 0;
    int rc = cmp_resolve(c, key, c->s.o.challenger, &r->chall_v);
    if (!rc) rc = cmp_resolve(c, key, c->s.o.champion, &r->champ_v);
    if (!rc) rc = cmp_decide_by_versions(c, key, 0, r, &decided);
    if (rc || decided) return rc;
    size_t *rows = NULL, n = 0;
    rc = cmp_holdout_rows(c, set, hd_groups_rows_of(groups, g), hd_groups_size_of(groups, g),
                          &rows, &n);
    if (rc) return rc;
    r->rows = n;
    /* Each model is loaded once; the champion only when it is compared. */
    herd_model *m_chall = NULL, *m_champ = NULL;
    int evaluated = n >= c->s.o.min_holdout_rows;
    if (evaluated) rc = cmp_load(c, key, r->chall_v, &m_chall);
    if (!rc && evaluated && r->champ_v && r->champ_v != r->chall_v)
        rc = cmp_load(c, key, r->champ_v, &m_champ);
    hd_cmp_eval e;
    hd_cmp_eval_init(&e);
    if (!rc)
        rc = evaluated ? hd_cmp_evaluate(&c->s, key, groups->frame, set->label_col,
                                         set->weight_col, rows, n, m_chall, NULL, m_champ,
                                         nthread, &e)
                       : (e.rows = n, HERD_OK);
    if (!rc) rc = cmp_decide_by_eval(c, &e, r);
    hd_cmp_eval_clear(&e);
    free(rows);
    herd_model_free(m_chall);
    herd_model_free(m_champ);
    return rc;
}

/* A group's row once decided (or failed with rc): the rows the metric
 * skipped said in the reason, a failure recorded, the decision logged. */
static int cmp_row_done(const cmp_ctx *c, const char *key, int rc, cmp_row *row)
{
    if (!rc && row->skipped) { /* say so: the metric saw fewer rows than holdout_rows */
        char *why = cmp_text("%s (%s skipped %zu of the %zu holdout rows)", row->reason,
                             c->s.metric.name, row->skipped, row->rows);
        if (!why) return HERD_ENOMEM;
        free(row->reason);
        row->reason = why;
    }
    if (rc == HERD_ENOMEM) return rc;
    if (rc) { /* the group fails; the others go on */
        if (cmp_set(row, CMP_FAILED, cmp_text("%s", herd_last_error()))) return HERD_ENOMEM;
        herd_clear_error();
    }
    int level = row->decision == CMP_FAILED    ? HERD_LOG_WARN
                : row->decision == CMP_SKIPPED ? HERD_LOG_INFO
                                               : HERD_LOG_DEBUG;
    if (hd_log_enabled(level))
        hd_log_group(level, key, "%s: %s", cmp_names[row->decision], row->reason);
    return HERD_OK;
}

static int cmp_task(void *ctx, size_t t, int worker, int nthread)
{
    (void)worker;
    cmp_ctx *c = ctx;
    return cmp_row_done(c, c->keys[t], cmp_group(c, t, nthread), &c->rows[t]);
}

static const char *cmp_task_key(void *ctx, size_t t)
{
    return ((const cmp_ctx *)ctx)->keys[t];
}

/* A group counts in progress as its decision says. */
static int cmp_task_outcome(void *ctx, size_t t)
{
    const cmp_row *r = &((const cmp_ctx *)ctx)->rows[t];
    if (r->decision == CMP_SKIPPED) return HD_TASK_SKIPPED;
    if (r->decision == CMP_FAILED) return HD_TASK_FAILED;
    return HD_TASK_OK;
}

/* ------------------------------------------------------------------------
 * Frames
 * --------------------------------------------------------------------- */

static int cmp_decisions_frame(const cmp_ctx *c, herd_frame **out)
{
    size_t n = c->ntasks;
    const char **keys = hd_malloc(n ? n : 1, sizeof *keys);
    const char **dec = hd_malloc(n ? n : 1, sizeof *dec);
    const char **why = hd_malloc(n ? n : 1, sizeof *why);
    int64_t *iv[2] = {hd_malloc(n ? n : 1, 8), hd_malloc(n ? n : 1, 8)};
    int64_t *hr = hd_malloc(n ? n : 1, 8), *sk = hd_malloc(n ? n : 1, 8);
    int64_t *moved = hd_malloc(n ? n : 1, 8);
    double *fv[6];
    for (int k = 0; k < 6; k++) fv[k] = hd_malloc(n ? n : 1, sizeof(double));
    int rc = keys && dec && why && iv[0] && iv[1] && hr && sk && moved ? HERD_OK : HERD_ENOMEM;
    for (int k = 0; k < 6; k++)
        if (!fv[k]) rc = HERD_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const cmp_row *r = &c->rows[i];
        keys[i] = c->keys[i];
        dec[i] = cmp_names[r->decision];
        why[i] = r->reason;
        iv[0][i] = r->champ_v;
        iv[1][i] = r->chall_v;
        hr[i] = (int64_t)r->rows;
        sk[i] = (int64_t)r->skipped;
        moved[i] = r->promoted;
        double v[6] = {r->champ_m, r->chall_m, r->delta, r->rel, r->ci_lo, r->ci_hi};
        for (int k = 0; k < 6; k++) fv[k][i] = v[k];
    }
    herd_frame *f = NULL;
    if (!rc) rc = herd_frame_new(&f);
    if (!rc) rc = hd_frame_add_str(f, "group", keys, n);
    if (!rc) rc = hd_frame_add_str(f, "decision", dec, n);
    if (!rc) rc = hd_frame_add_str(f, "reason", why, n);
    if (!rc) rc = hd_frame_add_i64(f, "champion_version", iv[0], n);
    if (!rc) rc = hd_frame_add_i64(f, "challenger_version", iv[1], n);
    static const char *const fnames[6] = {"champion_metric", "challenger_metric", "delta",
                                          "rel_delta", "delta_ci_low", "delta_ci_high"};
    for (int k = 0; !rc && k < 6; k++) rc = hd_frame_add_f64(f, fnames[k], fv[k], n);
    if (!rc) rc = hd_frame_add_i64(f, "holdout_rows", hr, n);
    if (!rc) rc = hd_frame_add_i64(f, "skipped_rows", sk, n);
    if (!rc) rc = hd_frame_add_i64(f, "promoted", moved, n);
    free(keys);
    free(dec);
    free(why);
    free(iv[0]);
    free(iv[1]);
    free(hr);
    free(sk);
    free(moved);
    for (int k = 0; k < 6; k++) free(fv[k]);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

static int cmp_summary_frame(const cmp_ctx *c, herd_frame **out)
{
    size_t n = c->ntasks;
    int64_t count[CMP_NDECISIONS] = {0};
    double median[CMP_NDECISIONS];
    double *d = hd_malloc(n ? n : 1, sizeof *d);
    if (!d) return HERD_ENOMEM;
    for (int k = 0; k < CMP_NDECISIONS; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (c->rows[i].decision != k) continue;
            count[k]++;
            if (c->rows[i].champ_v && c->rows[i].chall_v && !isnan(c->rows[i].delta) &&
                (k == CMP_PROMOTE || k == CMP_KEEP || k == CMP_REFUSED))
                d[m++] = c->rows[i].delta;
        }
        qsort(d, m, sizeof *d, cmp_double);
        median[k] = !m ? NAN : m % 2 ? d[m / 2] : (d[m / 2 - 1] + d[m / 2]) / 2;
    }
    free(d);
    herd_frame *f = NULL;
    int rc = herd_frame_new(&f);
    if (!rc) rc = hd_frame_add_str(f, "decision", cmp_names, CMP_NDECISIONS);
    if (!rc) rc = hd_frame_add_i64(f, "groups", count, CMP_NDECISIONS);
    if (!rc) rc = hd_frame_add_f64(f, "median_delta", median, CMP_NDECISIONS);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Promotion
 * --------------------------------------------------------------------- */

/* The alias history's details: the numbers behind the decision. */
static char *cmp_details(const cmp_ctx *c, const cmp_row *r)
{
    int ok = 1;
    cJSON *o = cJSON_CreateObject();
    hd_json_add(&ok, o, "decision", cJSON_CreateString(cmp_names[r->decision]));
    hd_json_add(&ok, o, "metric", cJSON_CreateString(c->s.metric.name));
    hd_json_add(&ok, o, "champion_version", hd_json_number((double)r->champ_v));
    hd_json_add(&ok, o, "challenger_version", hd_json_number((double)r->chall_v));
    hd_json_add(&ok, o, "champion_metric", hd_json_number(r->champ_v ? r->champ_m : NAN));
    hd_json_add(&ok, o, "challenger_metric", hd_json_number(r->chall_m));
    hd_json_add(&ok, o, "delta", hd_json_number(r->champ_v ? r->delta : NAN));
    hd_json_add(&ok, o, "rel_delta", hd_json_number(r->champ_v ? r->rel : NAN));
    hd_json_add(&ok, o, "holdout_rows", hd_json_number((double)r->rows));
    hd_json_add(&ok, o, "min_abs_delta", hd_json_number(c->s.o.min_abs_delta));
    hd_json_add(&ok, o, "min_rel_delta", hd_json_number(c->s.o.min_rel_delta));
    if (c->s.o.bootstrap) {
        hd_json_add(&ok, o, "delta_ci_low", hd_json_number(r->ci_lo));
        hd_json_add(&ok, o, "delta_ci_high", hd_json_number(r->ci_hi));
        hd_json_add(&ok, o, "confidence", hd_json_number(c->s.o.confidence));
    }
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) hd_oom();
    return s;
}

/* Every promote and first becomes "refused": the cap moved nothing, and
 * the decisions must not say otherwise.  `why` is the cap's verdict. */
static int cmp_refuse_all(cmp_ctx *c, const char *why)
{
    for (size_t i = 0; i < c->ntasks; i++) {
        cmp_row *r = &c->rows[i];
        if (r->decision != CMP_PROMOTE && r->decision != CMP_FIRST) continue;
        const char *was = r->decision == CMP_FIRST ? "would become the first champion" :
                                                     "would be promoted";
        if (cmp_set(r, CMP_REFUSED, cmp_text("%s (%s), but %s", was, r->reason, why)))
            return HERD_ENOMEM;
    }
    return HERD_OK;
}

/* The cap: promotions over the family's champions.  Above it, the
 * decisions say "refused" and HERD_EREFUSED is returned, dry run or not. */
static int cmp_cap(cmp_ctx *c, size_t promote)
{
    if (!promote || c->s.o.force || c->s.o.max_promote_fraction >= 1) return HERD_OK;
    herd_frame *champs = NULL;
    int rc = herd_registry_aliases(c->reg, c->s.o.family, c->s.o.champion, &champs);
    if (rc) return rc;
    size_t total = herd_frame_row_count(champs);
    herd_frame_free(champs);
    double frac = total ? (double)promote / (double)total : 1;
    if (!(frac > c->s.o.max_promote_fraction)) return HERD_OK;
    char *why = cmp_text("the promotion cap refused the run: it would replace %s%% of the "
                         "family's champions (%zu of %zu), above max_promote_fraction "
                         "%s%%; nothing was moved (force = 1 promotes anyway)",
                         HD_NUMF("%.1f", 100 * frac), promote, total,
                         HD_NUMF("%.1f", 100 * c->s.o.max_promote_fraction));
    rc = why ? cmp_refuse_all(c, why) : HERD_ENOMEM;
    free(why);
    if (rc) return rc;
    return hd_error(HERD_EREFUSED, "promoting would replace %s%% of family '%s''s "
                    "champions (%zu of %zu), above max_promote_fraction %s%%: nothing "
                    "was moved (the decisions say \"refused\"); check the week's data, or "
                    "pass force = 1", HD_NUMF("%.1f", 100 * frac), c->s.o.family, promote, total,
                    HD_NUMF("%.1f", 100 * c->s.o.max_promote_fraction));
}

static int cmp_promote(cmp_ctx *c)
{
    size_t promote = 0, first = 0;
    for (size_t i = 0; i < c->ntasks; i++) {
        promote += c->rows[i].decision == CMP_PROMOTE;
        first += c->rows[i].decision == CMP_FIRST;
    }
    hd_phase_begin("promote", c->progress, c->progress_user);
    int rc = cmp_cap(c, promote); /* a dry run says so too: a broken week shows */
    if (rc == HERD_EREFUSED) hd_log(HERD_LOG_WARN, "promotion refused: %s", herd_last_error());
    if (rc || c->s.o.dry_run || !(promote + first)) {
        if (!rc)
            hd_log(HERD_LOG_INFO, "promote: %zu promotions and %zu first champions%s", promote,
                   first, c->s.o.dry_run ? " decided, none moved (dry run)" : "");
        return rc;
    }
    herd_batch *b = NULL;
    if ((rc = herd_registry_begin(c->reg, &b))) return rc;
    rc = hd_batch_reserve(b, 0, promote + first);
    for (size_t i = 0; !rc && i < c->ntasks; i++) {
        const cmp_row *r = &c->rows[i];
        if (r->decision != CMP_PROMOTE && r->decision != CMP_FIRST) continue;
        char *details = cmp_details(c, r);
        if (!details) {
            rc = HERD_ENOMEM; /* cmp_details said so */
            break;
        }
        herd_alias_options ao;
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.reason = r->reason;
        ao.details = details;
        ao.run_id = c->s.o.run_id;
        ao.expect_version = r->champ_v; /* 0 for a first: it must still have none */
        rc = herd_batch_set_alias(b, c->s.o.family, c->keys[i], c->s.o.champion, r->chall_v, &ao);
        cJSON_free(details);
    }
    if (!rc) rc = herd_batch_commit(b);
    for (size_t i = 0; !rc && i < c->ntasks; i++) /* what moved, now that it did */
        c->rows[i].promoted = c->rows[i].decision == CMP_PROMOTE ||
                              c->rows[i].decision == CMP_FIRST;
    if (rc == HERD_ECONFLICT)
        hd_error_prefix("herd_compare: a champion moved while comparing; compare again: ");
    if (!rc)
        hd_log(HERD_LOG_INFO, "promote: moved '%s' of %zu groups (%zu promoted, %zu first)",
               c->s.o.champion, promote + first, promote, first);
    herd_batch_free(b);
    return rc;
}

int hd_compare_check(const herd_compare_options *opt, const herd_frame *frame)
{
    cmp_ctx c;
    memset(&c, 0, sizeof c);
    int rc = hd_cmp_setup_read(opt, &c.s);
    herd_groups g;
    memset(&g, 0, sizeof g);
    g.frame = frame;
    cmp_hset set = {.groups = &g};
    if (!rc) rc = cmp_set_columns(&c, &set);
    free(set.order);
    return rc;
}

/* Promote (unless dry run or refused) and return the decisions, whatever
 * the promotion says: its error is returned after the frames are made. */
static int cmp_conclude(cmp_ctx *c, herd_frame **decisions, herd_frame **summary)
{
    hd_saved_error pe;
    int prc = cmp_promote(c);
    if (prc) hd_error_save(&pe);
    int rc = cmp_decisions_frame(c, decisions);
    if (!rc && summary && (rc = cmp_summary_frame(c, summary))) {
        herd_frame_free(*decisions);
        *decisions = NULL;
    }
    if (!rc && prc) return hd_error_restore(&pe);
    return rc;
}

/* ------------------------------------------------------------------------
 * Deciding groups evaluated elsewhere (the cycle's committer)
 * --------------------------------------------------------------------- */

struct hd_cmp_decider {
    cmp_ctx c;
    size_t cap;
    hd_arena *arena; /* the keys */
};

int hd_cmp_decider_new(herd_registry *reg, const hd_cmp_setup *cs, size_t groups,
                       herd_progress_fn progress, void *progress_user, hd_cmp_decider **out)
{
    hd_cmp_decider *d = hd_calloc(1, sizeof *d);
    if (!d) return HERD_ENOMEM;
    size_t cap = 0, n = groups ? groups : 1;
    if (!(d->arena = hd_arena_new()) ||
        hd_grow_from((void **)&d->c.rows, &cap, n, sizeof *d->c.rows, n) ||
        hd_grow_from((void **)&d->c.keys, &d->cap, n, sizeof *d->c.keys, n)) {
        hd_cmp_decider_free(d);
        return HERD_ENOMEM;
    }
    d->c.reg = reg;
    d->c.s = *cs;
    d->c.progress = progress;
    d->c.progress_user = progress_user;
    *out = d;
    return HERD_OK;
}

void hd_cmp_decider_free(hd_cmp_decider *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->c.ntasks; i++) free(d->c.rows[i].reason);
    free(d->c.rows);
    free(d->c.keys);
    hd_arena_free(d->arena);
    free(d);
}

void hd_cmp_decider_outcomes(const hd_cmp_decider *d, size_t *skipped, size_t *failed)
{
    *skipped = *failed = 0;
    for (size_t i = 0; i < d->c.ntasks; i++) {
        *skipped += d->c.rows[i].decision == CMP_SKIPPED;
        *failed += d->c.rows[i].decision == CMP_FAILED;
    }
}

int hd_cmp_decider_add(hd_cmp_decider *d, const char *key, int64_t challenger,
                       const hd_cmp_eval *e)
{
    cmp_ctx *c = &d->c;
    if (c->ntasks == d->cap) {
        size_t cap = d->cap;
        if (hd_grow((void **)&c->rows, &cap, c->ntasks + 1, sizeof *c->rows) ||
            hd_grow((void **)&c->keys, &d->cap, c->ntasks + 1, sizeof *c->keys))
            return HERD_ENOMEM;
    }
    const char *k = hd_arena_strndup(d->arena, key, strlen(key));
    if (!k) return HERD_ENOMEM;
    cmp_row *r = &c->rows[c->ntasks];
    *r = (cmp_row){.chall_v = challenger, .champ_v = e->champ_v, .champ_m = NAN,
                   .chall_m = NAN, .delta = NAN, .rel = NAN, .ci_lo = NAN, .ci_hi = NAN};
    c->keys[c->ntasks++] = k;
    int decided = 0;
    int rc = cmp_decide_by_versions(c, k, 1, r, &decided);
    if (!rc && !decided) rc = cmp_decide_by_eval(c, e, r);
    rc = cmp_row_done(c, k, rc, r);
    if (rc == HERD_ENOMEM && !r->reason) c->ntasks--; /* no half row */
    return rc;
}

int hd_cmp_decider_finish(hd_cmp_decider *d, herd_frame **decisions, herd_frame **summary)
{
    return cmp_conclude(&d->c, decisions, summary);
}

/* herd_compare: one task per group of the holdout, then the decisions
 * promoted together. */
static int cmp_holdout(herd_registry *reg, const herd_groups *holdout,
                       const herd_compare_options *opt, const herd_apply_options *apply,
                       herd_frame **decisions, herd_frame **summary)
{
    cmp_hset set = {.groups = holdout};
    cmp_ctx c = {.reg = reg, .set = &set};
    int rc = hd_cmp_setup_read(opt, &c.s);
    if (rc) return hd_error_prefix("herd_compare: ");
    hd_scope_set_ids(c.s.o.family, c.s.o.run_id);
    hd_apply_config cfg;
    if ((rc = hd_apply_config_read(apply, &cfg, "herd_compare"))) return rc;
    c.progress = cfg.progress;
    c.progress_user = cfg.progress_user;
    c.ntasks = holdout->ngroups;
    rc = hd_groups_check_keys(holdout);
    if (!rc) rc = cmp_set_columns(&c, &set);
    if (rc) hd_error_prefix("herd_compare: ");
    /* The state every task reads: what the registry holds now. */
    if (!rc) rc = herd_registry_refresh(reg);
    size_t nt = c.ntasks;
    size_t *task_rows = hd_malloc(nt ? nt : 1, sizeof *task_rows);
    hd_task_result *res = hd_calloc(nt ? nt : 1, sizeof *res);
    c.rows = hd_calloc(nt ? nt : 1, sizeof *c.rows);
    if (!task_rows || !res || !c.rows) rc = rc ? rc : HERD_ENOMEM;
    c.keys = (const char **)holdout->keys;
    for (size_t t = 0; !rc && t < nt; t++) {
        c.rows[t] = (cmp_row){.champ_m = NAN, .chall_m = NAN, .delta = NAN, .rel = NAN,
                              .ci_lo = NAN, .ci_hi = NAN};
        task_rows[t] = hd_groups_size_of(holdout, t);
    }
    if (!rc) {
        hd_job job = {.ntasks = nt, .ngroups = nt, .task_rows = task_rows, .run = cmp_task,
                      .worker_start = hd_xgb_worker_start, .task_key = cmp_task_key,
                      .task_outcome = cmp_task_outcome, .ctx = &c};
        hd_phase_begin("compare", cfg.progress, cfg.progress_user);
        rc = hd_job_run(&job, &cfg, res);
        for (size_t i = 0; !rc && i < nt; i++) {
            if (res[i].status == HD_TASK_OK && c.rows[i].reason) continue;
            /* not run (cancelled) or out of memory in the task */
            rc = res[i].code < 0 ? res[i].code : HERD_ECANCELED;
            hd_error(rc, "herd_compare: group '%s' was not compared: %s", c.keys[i],
                     res[i].message ? res[i].message : "cancelled");
        }
    }
    if (!rc) rc = cmp_conclude(&c, decisions, summary);
    for (size_t i = 0; c.rows && i < nt; i++) free(c.rows[i].reason);
    free(c.rows);
    free(set.order);
    free(task_rows);
    hd_task_results_free(res, res ? nt : 0);
    return rc;
}

static int hd_compare_call(herd_registry *reg, const herd_groups *holdout,
                           const herd_compare_options *opt, const herd_apply_options *apply,
                           herd_frame **decisions, herd_frame **summary)
{
    HD_CHECK_NOT_NULL(decisions);
    *decisions = NULL;
    if (summary) *summary = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(holdout);
    return cmp_holdout(reg, holdout, opt, apply, decisions, summary);
}

int herd_compare(herd_registry *reg, const herd_groups *holdout, const herd_compare_options *opt,
                 const herd_apply_options *apply, herd_frame **decisions, herd_frame **summary)
{
    static const char *const plan[] = {"compare", "promote"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, (int)(sizeof plan / sizeof *plan), NULL, NULL);
    int rc = hd_compare_call(reg, holdout, opt, apply, decisions, summary);
    hd_scope_leave(&scope);
    return rc;
}

/* ------------------------------------------------------------------------
 * Rollback
 * --------------------------------------------------------------------- */

typedef struct rb_last {
    const char *key;
    size_t row;
} rb_last;

static int rb_cmp(const void *a, const void *b)
{
    const rb_last *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->row > y->row ? -1 : x->row < y->row; /* the last move first */
}

/* The groups a rollback moved: "group", "alias", "from_version" (where the
 * alias was), "to_version" (where it is now). */
static int rb_moved_frame(const char *const *keys, const int64_t *from, const int64_t *to,
                          size_t n, const char *alias, herd_frame **out)
{
    const char **aliases = hd_malloc(n ? n : 1, sizeof *aliases);
    if (!aliases) return HERD_ENOMEM;
    for (size_t i = 0; i < n; i++) aliases[i] = alias;
    herd_frame *f = NULL;
    int rc = herd_frame_new(&f);
    if (!rc) rc = hd_frame_add_str(f, "group", keys, n);
    if (!rc) rc = hd_frame_add_str(f, "alias", aliases, n);
    if (!rc) rc = hd_frame_add_i64(f, "from_version", from, n);
    if (!rc) rc = hd_frame_add_i64(f, "to_version", to, n);
    free(aliases);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

int herd_registry_rollback(herd_registry *reg, const char *family, const char *group,
                           const char *alias, const char *reason, herd_frame **moved)
{
    if (moved) *moved = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    if (!alias) alias = "champion";
    int rc = hd_id_check(family, "family");
    if (!rc && group) rc = hd_key_check(group, "group");
    if (!rc) rc = hd_id_check(alias, "alias");
    size_t rlen = reason ? strlen(reason) : 0, bad = 0;
    if (!rc && reason && (rlen > HERD_TAG_VALUE_MAX || !hd_utf8_valid(reason, rlen, &bad)))
        rc = hd_error(HERD_EINVAL, "argument 'reason' is %s; give UTF-8 text of at most %u "
                      "bytes", rlen > HERD_TAG_VALUE_MAX ? "too long" : "not valid UTF-8",
                      HERD_TAG_VALUE_MAX);
    for (size_t i = 0; !rc && i < rlen; i++)
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7F)
            rc = hd_error(HERD_EINVAL, "argument 'reason' has a control character at byte %zu",
                          i);
    if (rc) return hd_error_prefix("%s: ", __func__);
    if ((rc = herd_registry_refresh(reg))) return rc;
    herd_frame *hist = NULL;
    if ((rc = herd_registry_alias_history(reg, family, group, alias, &hist))) return rc;
    size_t n = herd_frame_row_count(hist), gc = 0, fc = 0, tc = 0, cc = 0;
    herd_frame_find(hist, "group", &gc);
    herd_frame_find(hist, "from_version", &fc);
    herd_frame_find(hist, "to_version", &tc);
    herd_frame_find(hist, "commit", &cc);
    if (!n && !group) { /* no move at all: say whether the family exists */
        herd_frame *groups = NULL;
        rc = herd_registry_groups(reg, family, &groups);
        if (!rc && !herd_frame_row_count(groups))
            rc = hd_error(HERD_ENOTFOUND, "%s: the registry has no family '%s'", __func__,
                          family);
        herd_frame_free(groups);
    }
    /* Each group's last move.  For a whole family, only the groups the
     * latest moving commit moved: that undoes the last promotion, not
     * older ones of other groups. */
    int64_t latest = 0;
    if (n) herd_frame_get_int64(hist, cc, n - 1, &latest);
    rb_last *last = hd_malloc(n ? n : 1, sizeof *last);
    /* what moves: the group, from its alias's version now, back to the one before */
    const char **mkeys = hd_malloc(n ? n : 1, sizeof *mkeys);
    int64_t *mfrom = hd_malloc(n ? n : 1, sizeof *mfrom);
    int64_t *mto = hd_malloc(n ? n : 1, sizeof *mto);
    if (!rc && !(last && mkeys && mfrom && mto)) rc = HERD_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        last[i].row = i;
        herd_frame_get_string(hist, gc, i, &last[i].key);
    }
    if (!rc && n) qsort(last, n, sizeof *last, rb_cmp);
    herd_batch *b = NULL;
    if (!rc) rc = herd_registry_begin(reg, &b);
    size_t count = 0;
    for (size_t k = 0; !rc && k < n; k++) {
        if (k && !strcmp(last[k].key, last[k - 1].key)) continue; /* not its last move */
        size_t i = last[k].row;
        int64_t from = 0, to = 0, commit = 0;
        herd_frame_get_int64(hist, fc, i, &from);
        herd_frame_get_int64(hist, tc, i, &to);
        herd_frame_get_int64(hist, cc, i, &commit);
        if (!group && commit != latest) continue;
        if (!to) continue; /* the alias was deleted: nothing to roll back */
        if (!from) {
            rc = hd_error(HERD_ENOTFOUND, "%s: alias '%s' of %s/%s has no previous version "
                          "(version %lld was its first); nothing was moved", __func__, alias,
                          family, last[k].key, (long long)to);
            break;
        }
        herd_alias_options ao;
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.reason = reason ? reason : "rollback";
        ao.expect_version = to;
        rc = herd_batch_set_alias(b, family, last[k].key, alias, from, &ao);
        mkeys[count] = last[k].key;
        mfrom[count] = to; /* the alias leaves the version it points at now */
        mto[count] = from;
        count++;
    }
    if (!rc && group && !count)
        rc = hd_error(HERD_ENOTFOUND, "%s: %s/%s has no alias '%s' to roll back", __func__,
                      family, group, alias);
    /* built before the commit, so that a commit is never followed by an
     * error; in key order, as `last` was sorted */
    herd_frame *mf = NULL;
    if (!rc && moved) rc = rb_moved_frame(mkeys, mfrom, mto, count, alias, &mf);
    if (!rc && count) rc = herd_batch_commit(b);
    herd_batch_free(b);
    if (!rc && moved) *moved = mf;
    else herd_frame_free(mf);
    free(last);
    free(mkeys);
    free(mfrom);
    free(mto);
    herd_frame_free(hist);
    return rc;
}
