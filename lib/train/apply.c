/* apply.c -- a pool of workers that runs one task per group.
 *
 * The calling thread coordinates and never runs a task: progress callbacks
 * and cancellation are handled there, because bindings (R especially) must
 * not be called from another thread.  Workers take tasks largest first from
 * one shared cursor.  Each task holds `nthread` CPU slots of `threads` while
 * it runs, so a large group given several XGBoost threads does not
 * oversubscribe the cores.  Results are written to per-task slots, so the
 * only shared state is the cursor and the counters under one mutex. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"
#include "train/apply_internal.h"

int hd_apply_config_read(const herd_apply_options *opt, hd_apply_config *cfg, const char *fn)
{
    herd_apply_options o;
    int rc = hd_options_read(&hd_apply_options_desc, opt, &o, fn);
    if (rc) return rc;
    cfg->threads = o.threads ? o.threads : herd_default_threads();
    cfg->max_failed = o.max_failed;
    cfg->cancel = o.cancel;
    cfg->progress = o.progress;
    cfg->progress_user = o.progress_user;
    cfg->progress_interval_s = o.progress_interval_s;
    cfg->parallel_group_rows = o.parallel_group_rows;
    return HERD_OK;
}

const char *hd_task_status_name(int status)
{
    switch (status) {
    case HD_TASK_OK: return "ok";
    case HD_TASK_FAILED: return "failed";
    case HD_TASK_SKIPPED: return "skipped";
    default: return "not_run";
    }
}

void hd_task_results_free(hd_task_result *results, size_t n)
{
    if (!results) return;
    for (size_t i = 0; i < n; i++) free(results[i].message);
    free(results);
}

/* ---- the running job ---------------------------------------------------- */

typedef struct hd_run {
    const hd_job *job;
    const hd_apply_config *cfg;
    hd_task_result *results;
    size_t *order;          /* task indices, largest first */
    int *task_threads;      /* CPU slots per task */
    size_t *group_pending;  /* tasks not finished, per group */
    unsigned char *group_failed, *group_skipped;

    pthread_mutex_t lock;
    pthread_cond_t slots_freed; /* workers wait for CPU slots */
    pthread_cond_t finished;    /* the coordinator waits for progress */
    size_t next;                /* cursor into order */
    int slots_free;
    int stop;                   /* 1: cancelled, 2: budget exceeded */
    size_t tasks_running;
    size_t groups_done, groups_failed, groups_skipped, rows_done, rows_total;
    int workers_alive;
    hd_log_queue logq;      /* the workers' log records */
    const hd_scope *scope;  /* the coordinator's, for the workers' records */
} hd_run;

/* CPU threads for a task: one, unless it is large and more than its share
 * of the rows (then it could not be balanced across workers). */
static int hd_task_nthread(const hd_apply_config *cfg, size_t rows, size_t total)
{
    if (cfg->threads <= 1 || rows < cfg->parallel_group_rows || total == 0) return 1;
    double share = (double)rows * cfg->threads / (double)total;
    int n = (int)share;
    if (share > n) n++;
    if (n < 1) n = 1;
    return n > cfg->threads ? cfg->threads : n;
}

static size_t hd_task_group(const hd_job *job, size_t task)
{
    return job->task_group ? job->task_group[task] : task;
}

/* The stable largest-first order, sorted with qsort_r where available. */
static int hd_cmp_rows_desc_r(const void *a, const void *b, void *ctx)
{
    const hd_run *run = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    size_t rx = run->job->task_rows[x], ry = run->job->task_rows[y];
    if (rx != ry) return rx > ry ? -1 : 1;
    return x < y ? -1 : (x > y);
}

/* A worker's log record arrived: wake the coordinator to deliver it. */
static void hd_run_wake(void *arg)
{
    hd_run *run = arg;
    pthread_mutex_lock(&run->lock);
    pthread_cond_signal(&run->finished);
    pthread_mutex_unlock(&run->lock);
}

static int hd_run_init(hd_run *run, const hd_job *job, const hd_apply_config *cfg,
                       hd_task_result *results)
{
    memset(run, 0, sizeof *run);
    run->job = job;
    run->cfg = cfg;
    run->results = results;
    run->order = hd_malloc(job->ntasks, sizeof *run->order);
    run->task_threads = hd_malloc(job->ntasks, sizeof *run->task_threads);
    run->group_pending = hd_calloc(job->ngroups, sizeof *run->group_pending);
    run->group_failed = hd_calloc(job->ngroups, 1);
    run->group_skipped = hd_calloc(job->ngroups, 1);
    if (!run->order || !run->task_threads || !run->group_pending || !run->group_failed ||
        !run->group_skipped)
        return HERD_ENOMEM;
    for (size_t t = 0; t < job->ntasks; t++) {
        run->order[t] = t;
        run->rows_total += job->task_rows[t];
        run->group_pending[hd_task_group(job, t)]++;
    }
    for (size_t t = 0; t < job->ntasks; t++)
        run->task_threads[t] = hd_task_nthread(cfg, job->task_rows[t], run->rows_total);
    qsort_r(run->order, job->ntasks, sizeof *run->order, hd_cmp_rows_desc_r, run);
    run->slots_free = cfg->threads;
    pthread_mutex_init(&run->lock, NULL);
    pthread_cond_init(&run->slots_freed, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run->finished, &ca);
    pthread_condattr_destroy(&ca);
    hd_log_queue_init(&run->logq, hd_run_wake, run);
    run->scope = hd_scope_current();
    return HERD_OK;
}

static void hd_run_destroy(hd_run *run)
{
    if (run->order && run->task_threads && run->group_pending && run->group_failed &&
        run->group_skipped) {
        pthread_mutex_destroy(&run->lock);
        pthread_cond_destroy(&run->slots_freed);
        pthread_cond_destroy(&run->finished);
        hd_log_queue_destroy(&run->logq);
    }
    free(run->order);
    free(run->task_threads);
    free(run->group_pending);
    free(run->group_failed);
    free(run->group_skipped);
}

/* The message a task left on its worker thread, copied for the report. */
static char *hd_take_message(int code)
{
    const char *msg = herd_last_error();
    if (herd_last_error_code() == HERD_OK || !msg[0]) {
        if (code == HERD_SKIP) return NULL;
        char buf[96];
        snprintf(buf, sizeof buf, "the task returned %d (%s) without a message", code,
                 herd_status_str(code));
        return strdup(buf);
    }
    return strdup(msg); /* NULL on OOM: the status still says what happened */
}

static void hd_run_one(hd_run *run, size_t task, int worker)
{
    hd_task_result *r = &run->results[task];
    const hd_job *job = run->job;
    const char *key = job->task_key ? job->task_key(job->ctx, task) : NULL;
    hd_log_worker_group(key);
    herd_clear_error();
    double t0 = hd_now();
    int code = job->run(job->ctx, task, worker, run->task_threads[task]);
    r->seconds = hd_now() - t0;
    r->code = code;
    r->nthread = run->task_threads[task];
    if (code == HERD_OK) {
        r->status = HD_TASK_OK;
    } else if (code == HERD_SKIP) {
        r->status = HD_TASK_SKIPPED;
        r->message = hd_take_message(code);
    } else {
        r->status = HD_TASK_FAILED;
        r->message = hd_take_message(code); /* names the code actually returned */
    }
    if (r->status == HD_TASK_FAILED)
        hd_log(HERD_LOG_WARN, "group '%s' failed: %s", key ? key : "?",
               r->message ? r->message : herd_status_str(code));
    else if (r->status == HD_TASK_SKIPPED)
        hd_log(HERD_LOG_INFO, "group '%s' skipped: %s", key ? key : "?",
               r->message ? r->message : "(no reason given)");
    hd_log_worker_group(NULL);
}

/* Book a finished task; the caller holds the lock. */
static void hd_run_account(hd_run *run, size_t task)
{
    const hd_job *job = run->job;
    size_t g = hd_task_group(job, task);
    int status = run->results[task].status;
    if (status == HD_TASK_OK && job->task_outcome) status = job->task_outcome(job->ctx, task);
    if (status == HD_TASK_FAILED) run->group_failed[g] = 1;
    if (status == HD_TASK_SKIPPED) run->group_skipped[g] = 1;
    run->rows_done += job->task_rows[task];
    if (--run->group_pending[g] > 0) return;
    run->groups_done++;
    if (run->group_failed[g]) {
        run->groups_failed++;
        if (run->cfg->max_failed >= 0 && run->groups_failed > (size_t)run->cfg->max_failed &&
            !run->stop)
            run->stop = 2;
    } else if (run->group_skipped[g]) {
        run->groups_skipped++;
    }
}

typedef struct hd_worker_arg {
    hd_run *run;
    int worker;
} hd_worker_arg;

/* The caller's cancel flag, read atomically. */
static int hd_cancel_requested(const hd_apply_config *cfg)
{
    return cfg->cancel && atomic_load((_Atomic int *)cfg->cancel);
}

static void *hd_worker_main(void *arg)
{
    hd_worker_arg *wa = arg;
    hd_run *run = wa->run;
    const hd_job *job = run->job;
    hd_log_worker_attach(&run->logq, run->scope);
    if (job->worker_start) job->worker_start(job->ctx, wa->worker);
    pthread_mutex_lock(&run->lock);
    for (;;) {
        /* Check the flag before every task, not only when the coordinator
         * wakes: otherwise a worker that finishes a task takes the next one
         * before the coordinator runs, and a flag set during (or before)
         * the job lets further tasks start. */
        if (!run->stop && run->next < job->ntasks && hd_cancel_requested(run->cfg)) {
            run->stop = 1;
            pthread_cond_broadcast(&run->slots_freed);
        }
        while (!run->stop && run->next < job->ntasks &&
               run->slots_free < run->task_threads[run->order[run->next]])
            pthread_cond_wait(&run->slots_freed, &run->lock);
        if (run->stop || run->next >= job->ntasks) break;
        size_t task = run->order[run->next++];
        run->slots_free -= run->task_threads[task];
        run->tasks_running++;
        pthread_mutex_unlock(&run->lock);

        hd_run_one(run, task, wa->worker);

        pthread_mutex_lock(&run->lock);
        run->slots_free += run->task_threads[task];
        run->tasks_running--;
        hd_run_account(run, task);
        pthread_cond_broadcast(&run->slots_freed);
        /* The coordinator is not woken per task: it reports progress on its
         * own timer (workers check the cancel flag and the budget
         * themselves), and waking it for every tiny task costs more than
         * the task's bookkeeping.  The last worker to leave wakes it. */
    }
    run->workers_alive--;
    pthread_cond_signal(&run->finished);
    pthread_mutex_unlock(&run->lock);
    if (job->worker_stop) job->worker_stop(job->ctx, wa->worker);
    hd_log_worker_detach();
    return NULL;
}

static void hd_progress_snapshot(const hd_run *run, herd_progress *p)
{
    memset(p, 0, sizeof *p);
    p->groups_total = run->job->ngroups;
    p->groups_done = run->groups_done;
    p->groups_failed = run->groups_failed;
    p->groups_skipped = run->groups_skipped;
    p->rows_total = run->rows_total;
    p->rows_done = run->rows_done;
}

/* Deliver the workers' log records on this (the calling) thread; the
 * caller holds the run's lock, which delivery must not hold. */
static void hd_deliver_logs(hd_run *run)
{
    if (!hd_log_queue_pending(&run->logq)) return;
    pthread_mutex_unlock(&run->lock);
    hd_log_queue_deliver(&run->logq);
    pthread_mutex_lock(&run->lock);
}

/* CLOCK_MONOTONIC time `t` (as hd_now() gives) as a timespec. */
static void hd_abs_deadline(struct timespec *ts, double t)
{
    double whole = (double)(long)t;
    ts->tv_sec = (time_t)whole;
    ts->tv_nsec = (long)((t - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    if (ts->tv_nsec < 0) ts->tv_nsec = 0;
}

/* The coordinator: on the calling thread, until every worker has left. */
static void hd_coordinate(hd_run *run)
{
    const hd_apply_config *cfg = run->cfg;
    /* The next progress report is due at a fixed time: tasks finishing
     * (each wakes this thread) must not push it back, or a job whose tasks
     * finish more often than the interval never reports progress. */
    double due = hd_now() + cfg->progress_interval_s;
    pthread_mutex_lock(&run->lock);
    while (run->workers_alive > 0) {
        struct timespec ts;
        hd_abs_deadline(&ts, due);
        /* Records that arrived while this thread was busy are due now:
         * a worker signals only when its record finds the queue empty. */
        if (hd_log_queue_pending(&run->logq)) hd_deliver_logs(run);
        else pthread_cond_timedwait(&run->finished, &run->lock, &ts);
        if (run->workers_alive == 0) break;
        hd_deliver_logs(run);
        int cancel = hd_cancel_requested(cfg);
        double now = hd_now();
        if (now >= due) {
            if (!cancel && cfg->progress) {
                herd_progress p;
                hd_progress_snapshot(run, &p);
                pthread_mutex_unlock(&run->lock);
                cancel = hd_progress_emit(cfg->progress, cfg->progress_user, &p) != 0;
                pthread_mutex_lock(&run->lock);
                now = hd_now();
            }
            due = now + cfg->progress_interval_s;
        }
        if (cancel && !run->stop) {
            run->stop = 1;
            pthread_cond_broadcast(&run->slots_freed);
        }
    }
    pthread_mutex_unlock(&run->lock);
}

static int hd_start_workers(hd_run *run, pthread_t *tids, hd_worker_arg *args, int n,
                            int *err)
{
    int started = 0;
    *err = 0;
    run->workers_alive = n;
    for (; started < n; started++) {
        args[started].run = run;
        args[started].worker = started;
        /* pthread_create returns its error; it does not set errno. */
        *err = pthread_create(&tids[started], NULL, hd_worker_main, &args[started]);
        if (*err != 0) break;
    }
    if (started < n) {
        pthread_mutex_lock(&run->lock);
        run->workers_alive -= n - started;
        pthread_mutex_unlock(&run->lock);
    }
    return started;
}

int hd_job_run(const hd_job *job, const hd_apply_config *cfg, hd_task_result *results)
{
    hd_run run;
    int rc = hd_run_init(&run, job, cfg, results);
    if (rc) {
        hd_run_destroy(&run);
        return rc;
    }
    int nworkers = cfg->threads;
    if ((size_t)nworkers > job->ntasks) nworkers = job->ntasks ? (int)job->ntasks : 1;
    pthread_t *tids = hd_malloc((size_t)nworkers, sizeof *tids);
    hd_worker_arg *args = hd_malloc((size_t)nworkers, sizeof *args);
    if (!tids || !args) {
        free(tids);
        free(args);
        hd_run_destroy(&run);
        return HERD_ENOMEM;
    }
    double t0 = hd_now();
    int pi = 0, pt = 0;
    const char *phase = hd_scope_phase_of(run.scope, &pi, &pt);
    if (!phase) phase = "apply";
    hd_log(HERD_LOG_DEBUG, "%s: %zu groups (%zu tasks) on %d worker threads", phase,
           job->ngroups, job->ntasks, nworkers);
    int err = 0;
    int started = hd_start_workers(&run, tids, args, nworkers, &err);
    if (started == 0) {
        rc = hd_error(HERD_ENOMEM, "could not start any worker thread: %s", strerror(err));
    } else {
        hd_coordinate(&run);
        for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
        hd_log_queue_deliver(&run.logq);
        hd_log(HERD_LOG_INFO,
               "%s: %zu of %zu groups done in %s s: %zu failed, %zu skipped%s", phase,
               run.groups_done, job->ngroups, HD_NUMF("%.3f", hd_now() - t0),
               run.groups_failed, run.groups_skipped,
               run.stop == 1 ? " (cancelled)" : run.stop == 2 ? " (error budget exceeded)" : "");
        if (cfg->progress) {
            herd_progress p;
            hd_progress_snapshot(&run, &p);
            hd_progress_emit(cfg->progress, cfg->progress_user, &p);
        }
        /* A cancel that arrived after the last task started cancelled nothing. */
        if (run.stop == 1 && run.groups_done < job->ngroups)
            rc = hd_error(HERD_ECANCELED, "cancelled after %zu of %zu groups", run.groups_done,
                          job->ngroups);
        else if (run.stop == 2)
            rc = hd_error(HERD_EBUDGET,
                          "stopped: %zu groups failed, more than max_failed (%lld); %zu of %zu "
                          "groups ran (see the report for each group's error)",
                          run.groups_failed, (long long)cfg->max_failed, run.groups_done,
                          job->ngroups);
    }
    free(tids);
    free(args);
    hd_run_destroy(&run);
    return rc;
}

/* ---- herd_apply --------------------------------------------------------- */

typedef struct hd_apply_ctx {
    const herd_groups *groups;
    herd_group_fn fn;
    void *user;
} hd_apply_ctx;

static int hd_apply_task(void *ctx, size_t task, int worker, int nthread)
{
    const hd_apply_ctx *a = ctx;
    herd_group_task t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.index = task;
    t.key = herd_groups_key(a->groups, task);
    t.frame = herd_groups_frame(a->groups);
    herd_groups_rows(a->groups, task, &t.rows, &t.n_rows);
    t.worker = worker;
    t.n_threads = nthread;
    return a->fn(&t, a->user);
}

static const char *hd_apply_key(void *ctx, size_t task)
{
    return herd_groups_key(((const hd_apply_ctx *)ctx)->groups, task);
}

/* The report: one row per group, from the task results. */
static int hd_apply_report(const herd_groups *groups, const hd_task_result *res,
                           herd_frame **out)
{
    size_t n = herd_groups_count(groups);
    const char **keys = hd_malloc(n, sizeof *keys);
    const char **status = hd_malloc(n, sizeof *status);
    const char **msg = hd_malloc(n, sizeof *msg);
    int64_t *rows = hd_malloc(n, sizeof *rows);
    int64_t *nthread = hd_malloc(n, sizeof *nthread);
    double *secs = hd_malloc(n, sizeof *secs);
    herd_frame *f = NULL;
    int rc = HERD_ENOMEM;
    if (keys && status && msg && rows && nthread && secs && !(rc = herd_frame_new(&f))) {
        for (size_t i = 0; i < n; i++) {
            keys[i] = herd_groups_key(groups, i);
            rows[i] = (int64_t)herd_groups_row_count(groups, i);
            status[i] = hd_task_status_name(res[i].status);
            msg[i] = res[i].message;
            secs[i] = res[i].seconds;
            nthread[i] = res[i].nthread;
        }
        rc = hd_frame_add_str(f, "group", keys, n);
        if (!rc) rc = hd_frame_add_i64(f, "rows", rows, n);
        if (!rc) rc = hd_frame_add_str(f, "status", status, n);
        if (!rc) rc = hd_frame_add_str(f, "message", msg, n);
        if (!rc) rc = hd_frame_add_f64(f, "seconds", secs, n);
        if (!rc) rc = hd_frame_add_i64(f, "threads", nthread, n);
    }
    free(keys), free(status), free(msg), free(rows), free(nthread), free(secs);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

int herd_apply(const herd_groups *groups, herd_group_fn fn, void *user,
               const herd_apply_options *opt, herd_frame **report)
{
    if (report) *report = NULL;
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(fn);
    hd_apply_config cfg;
    int rc = hd_apply_config_read(opt, &cfg, __func__);
    if (rc) return rc;
    size_t n = herd_groups_count(groups);
    size_t *rows = hd_malloc(n, sizeof *rows);
    hd_task_result *res = hd_calloc(n, sizeof *res);
    if (!rows || !res) {
        free(rows);
        free(res);
        return HERD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) rows[i] = herd_groups_row_count(groups, i);
    hd_apply_ctx ctx = {groups, fn, user};
    hd_job job = {.ntasks = n, .ngroups = n, .task_rows = rows, .run = hd_apply_task,
                  .task_key = hd_apply_key, .ctx = &ctx};
    static const char *const plan[] = {"apply"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, 1, NULL, NULL);
    rc = hd_job_run(&job, &cfg, res);
    hd_scope_leave(&scope);
    if ((rc == HERD_OK || rc == HERD_ECANCELED || rc == HERD_EBUDGET) && report) {
        /* Keep the job's own error message across building the report. */
        int brc = hd_apply_report(groups, res, report);
        if (brc) rc = brc;
    }
    free(rows);
    hd_task_results_free(res, n);
    return rc;
}

int herd_error_set(int code, const char *message)
{
    return hd_error(code, "%s", message ? message : "");
}

int hd_task_failures(const hd_task_result *res, size_t n, const char *what)
{
    size_t failed = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if ((res[i].status == HD_TASK_FAILED || res[i].status == HD_TASK_NOT_RUN) &&
            failed++ == 0)
            first = i;
    if (!failed) return HERD_OK;
    return hd_error(res[first].code < 0 ? res[first].code : HERD_ECANCELED,
                    "%s: %zu group%s could not be predicted; the first: %s", what, failed,
                    failed == 1 ? "" : "s", res[first].message ? res[first].message : "not run");
}
