/* metrics_internal.h -- the metrics module, for fit, cross-validation and
 * champion/challenger (which also needs per-row losses for the paired
 * bootstrap). */
#ifndef HERD_METRICS_INTERNAL_H
#define HERD_METRICS_INTERNAL_H

#include <stddef.h>

typedef enum hd_metric_kind {
    HD_METRIC_REGRESSION = 1,
    HD_METRIC_BINARY = 2,
    HD_METRIC_MULTICLASS = 3
} hd_metric_kind;

/* A parsed metric name: which metric, its parameter ("@1.5"), its kind. */
typedef struct hd_metric {
    int id;               /* private to metrics.c */
    double param;         /* tweedie power, error threshold; else 0 */
    int kind;             /* hd_metric_kind */
    int higher_is_better; /* auc, r2 */
    char name[48];        /* canonical name, e.g. "tweedie-deviance@1.5" */
} hd_metric;

/* Parse a metric name; HERD_EINVAL (listing the known names) if unknown. */
int hd_metric_parse(const char *name, hd_metric *out);

/* The metric over n rows (see herd_metric_eval for the rules). */
int hd_metric_eval(const hd_metric *m, const double *label, const double *pred,
                   const double *weight, size_t n, size_t num_class, double *value,
                   size_t *n_skipped);

/* Whether the metric is a mean of per-row losses (all but auc, r2, wape),
 * so that a paired bootstrap can resample rows.  For those, fill loss[i]
 * with row i's loss (NaN for a skipped row), such that the metric is the
 * (weighted) mean of the losses — for rmse the loss is the squared error
 * and the metric the square root of its mean. */
int hd_metric_has_row_loss(const hd_metric *m);
int hd_metric_row_losses(const hd_metric *m, const double *label, const double *pred,
                         size_t n, size_t num_class, double *loss);

/* The metric value from a (weighted) mean of row losses: sqrt for rmse,
 * identity for the others. */
double hd_metric_from_mean_loss(const hd_metric *m, double mean_loss);

#endif
