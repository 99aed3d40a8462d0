/* compare_internal.h -- what the weekly cycle shares with herd_compare. */
#ifndef HERD_COMPARE_INTERNAL_H
#define HERD_COMPARE_INTERNAL_H

#include <stddef.h>

#include "herd.h"
#include "model/metrics_internal.h"

/* Split one group's rows (ascending frame rows) into its holdout and the
 * rest, by `order` (one key per frame row, hd_order_keys of the column
 * `order_name`): with `periods` > 0 the rows whose key is among the
 * group's `periods` largest distinct keys, else the last `fraction` of the
 * rows (at least one; ties keep frame order).  `hold` and `train` (may be
 * NULL) have room for n rows each and receive frame rows in key order.
 * HERD_EINVAL names a row without an order value. */
int hd_holdout_split(const double *order, const char *order_name, double fraction,
                     size_t periods, const size_t *rows, size_t n, size_t *hold, size_t *nhold,
                     size_t *train, size_t *ntrain);

/* Check that every group key of `g` is also a registry key (the one rule
 * of uri.c's hd_key_check), before anything is trained or compared: a key
 * with a tab would otherwise train every group, then fail to register.
 * HERD_EINVAL names the group (escaped), its index, the rule, the key
 * columns and what to do. */
int hd_groups_check_keys(const herd_groups *g);

/* Check compare options as herd_compare would, against `frame`'s columns
 * (herd_cycle: before anything is trained). */
int hd_compare_check(const herd_compare_options *opt, const herd_frame *frame);

/* The comparison's settings, read and checked once: the options
 * (defaults filled in) and their metric. */
typedef struct hd_cmp_setup {
    herd_compare_options o;
    hd_metric metric;
} hd_cmp_setup;

/* Read compare options as herd_compare does (its family and label are
 * required: the cycle fills them in first). */
int hd_cmp_setup_read(const herd_compare_options *in, hd_cmp_setup *cs);

/* What is measured of one group on its holdout rows, before any version
 * number is known: what a worker of the cycle computes and hands to the
 * committer.  A failure of one side is kept as its message: whether it
 * matters depends on the decision (a challenger that is the champion's
 * own version needs no champion evaluation). */
typedef struct hd_cmp_eval {
    size_t rows;       /* holdout rows */
    size_t skipped;    /* of them, rows the metric skipped (the challenger's) */
    double chall_m;    /* NaN when not measured */
    char *chall_error; /* malloc'd; NULL: measured (or too few rows) */
    int64_t champ_v;   /* the champion evaluated; 0: none */
    double champ_m;
    char *champ_error;
    int same_model; /* the champion is byte for byte the challenger's model */
    double ci_lo, ci_hi; /* the paired bootstrap's interval of delta; NaN: none */
    char *boot_error;
} hd_cmp_eval;

void hd_cmp_eval_init(hd_cmp_eval *e);  /* nothing measured (NaN) */
void hd_cmp_eval_clear(hd_cmp_eval *e); /* free the messages; as init */

/* Evaluate the challenger model (and the champion, NULL: none) on `rows`
 * of `frame` (label and weight columns; SIZE_MAX: no weight), as
 * herd_compare does: metric, same-model check, bootstrap seeded by the
 * key.  `chall_pred` (may be NULL): the challenger's predictions of the
 * rows, already made (by the booster that trained it).  Fewer rows than min_holdout_rows: only e->rows is set.  Failures
 * are kept in *e; only HERD_ENOMEM is returned. */
int hd_cmp_evaluate(const hd_cmp_setup *cs, const char *key, const herd_frame *frame,
                    size_t label_col, size_t weight_col, const size_t *rows, size_t n,
                    const herd_model *chall, const double *chall_pred,
                    const herd_model *champ, int nthread, hd_cmp_eval *e);

/* Deciding groups evaluated elsewhere and promoting the winners, with
 * herd_compare's rules, rows, frames and errors: the cycle's committer. */
typedef struct hd_cmp_decider hd_cmp_decider;

/* `groups`: how many will be added, for rows allocated once. */
int hd_cmp_decider_new(herd_registry *reg, const hd_cmp_setup *cs, size_t groups,
                       herd_progress_fn progress, void *progress_user, hd_cmp_decider **out);
void hd_cmp_decider_free(hd_cmp_decider *d);

/* How many groups decided so far read "skipped" and "failed". */
void hd_cmp_decider_outcomes(const hd_cmp_decider *d, size_t *skipped, size_t *failed);

/* Decide one group now (the registry must hold this run's versions):
 * `challenger` is its version from this run (0: none trained), e what was
 * measured (e->champ_v the champion it was measured against).  Only
 * HERD_ENOMEM and registry read errors are returned; a group that cannot
 * be decided reads "failed". */
int hd_cmp_decider_add(hd_cmp_decider *d, const char *key, int64_t challenger,
                       const hd_cmp_eval *e);

/* Promote (unless dry run; the cap refuses as herd_compare's does) and
 * return the frames, in the order the groups were added. */
int hd_cmp_decider_finish(hd_cmp_decider *d, herd_frame **decisions, herd_frame **summary);

#endif
