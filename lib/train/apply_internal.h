/* apply_internal.h -- the pool that runs tasks for herd_apply, herd_fit,
 * herd_predict and cross-validation. */
#ifndef HERD_APPLY_INTERNAL_H
#define HERD_APPLY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"

/* Outcome of one task. */
typedef enum hd_task_status {
    HD_TASK_NOT_RUN = 0,
    HD_TASK_OK = 1,
    HD_TASK_FAILED = 2,
    HD_TASK_SKIPPED = 3
} hd_task_status;

typedef struct hd_task_result {
    int status;    /* hd_task_status */
    int code;      /* the callback's return code */
    char *message; /* malloc'd, or NULL */
    double seconds;
    int nthread;
} hd_task_result;

/* A job: ntasks tasks, each belonging to a group (several tasks may share a
 * group, as the folds of a cross-validation do).  Progress, the error
 * budget and the report count groups. */
typedef struct hd_job {
    size_t ntasks;
    size_t ngroups;
    const size_t *task_group; /* group of each task; NULL: task i is group i */
    const size_t *task_rows;  /* rows of each task: ordering, slots, progress */
    /* Runs a task on a worker.  Returns HERD_OK, HERD_SKIP or a negative code
     * with the thread's last error set. */
    int (*run)(void *ctx, size_t task, int worker, int nthread);
    /* Optional: called once on each worker thread before its first task and
     * after its last (XGBoost's log callback is per thread). */
    void (*worker_start)(void *ctx, int worker);
    void (*worker_stop)(void *ctx, int worker);
    /* Optional: the group key of a task, for its log records. */
    const char *(*task_key)(void *ctx, size_t task);
    /* Optional: how a task that returned HERD_OK counts in progress and
     * the error budget (HD_TASK_OK, _SKIPPED or _FAILED), for jobs whose
     * tasks record their outcome instead of returning it (herd_compare's
     * decisions), so that progress agrees with the result frame. */
    int (*task_outcome)(void *ctx, size_t task);
    void *ctx;
} hd_job;

/* Normalised apply options. */
typedef struct hd_apply_config {
    int threads;
    int64_t max_failed;
    const int *cancel;
    herd_progress_fn progress;
    void *progress_user;
    double progress_interval_s;
    size_t parallel_group_rows;
} hd_apply_config;

/* Read the caller's options (NULL: defaults) through their descriptor;
 * `fn`, the public function, starts the messages. */
int hd_apply_config_read(const herd_apply_options *opt, hd_apply_config *cfg, const char *fn);

/* Run the job.  results[ntasks] are filled (free with hd_task_results_free).
 * Returns HERD_OK, HERD_ECANCELED or HERD_EBUDGET (all with results), or an
 * error before any task ran. */
int hd_job_run(const hd_job *job, const hd_apply_config *cfg, hd_task_result *results);

void hd_task_results_free(hd_task_result *results, size_t n);

/* HERD_OK when every task ran and none failed; otherwise the first failed
 * (or not run) task's code and a message "`what`: N groups could not be
 * predicted; the first: ...". */
int hd_task_failures(const hd_task_result *res, size_t n, const char *what);

/* "ok", "failed", "skipped", "not_run". */
const char *hd_task_status_name(int status);

#endif
