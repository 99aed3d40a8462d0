/* log_internal.h -- log records, delivered on the thread that called herd,
 * and the scope (operation, phase, family, run) they and progress reports
 * carry.
 *
 * A public function that runs long enters a scope on its thread; records
 * raised there are delivered at once, with the scope's fields.  Worker
 * threads of the pool attach to their job's queue: their records wait in
 * it until the coordinating (calling) thread delivers them.  A thread that
 * is itself a worker and coordinates an inner job passes the inner job's
 * records on to its own queue, so they still end on the thread the host
 * called. */
#ifndef HERD_LOG_INTERNAL_H
#define HERD_LOG_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include "herd.h"
#include "common/error_internal.h" /* HD_PRINTF */

/* What the calling thread is doing.  Lives on the stack of the public
 * function that entered it.  The outermost scope of a call (its owner)
 * holds the plan of the call's phases: herd_cycle's "split", "fit",
 * "register", "compare", "promote".  Inner operations (herd_fit inside
 * herd_cycle) name the phase they start; it counts when the owner's plan
 * has it, so the host sees one numbering for the whole call. */
typedef struct hd_scope {
    const char *family;
    const char *run_id;
    double t0;                /* start of the owner (hd_now) */
    const char *const *plan;  /* the owner's phases */
    int nplan;
    int phase_at;             /* index into plan of the current phase */
    int remote;               /* entered on a worker: the owner is the
                                 coordinator's, and read-only here */
    struct hd_scope *owner;
    struct hd_scope *parent;
} hd_scope;

/* Enter a scope on the calling thread.  `plan` (nplan names, static) is
 * used when the scope is outermost; family and run_id NULL inherit. */
void hd_scope_enter(hd_scope *s, const char *const *plan, int nplan, const char *family,
                    const char *run_id);
void hd_scope_leave(hd_scope *s);

/* Replace the plan of the calling thread's call, when this thread owns it
 * and no phase has started (an option decided which phases run). */
void hd_scope_plan(const char *const *plan, int nplan);

/* Name the family and run of the calling thread's innermost scope, once
 * its options are read (NULL keeps what it had). */
void hd_scope_set_ids(const char *family, const char *run_id);

/* Start phase `name` of the calling thread's call, when its plan has it. */
void hd_scope_phase(const char *name);

/* The calling thread's scope (a worker's: its job's), or NULL. */
const hd_scope *hd_scope_current(void);

/* The current phase of `s`'s call: its name (NULL when none), and its
 * 1-based index and the plan's length. */
const char *hd_scope_phase_of(const hd_scope *s, int *index, int *total);

/* Seconds since the outermost scope started (0 without a scope). */
double hd_scope_elapsed(void);

/* CLOCK_MONOTONIC seconds. */
double hd_now(void);

/* Raise a record at `level` about the current task's group (on a worker)
 * or no group.  Cheap when nobody listens: the level check comes before
 * any formatting. */
void hd_log(int level, const char *fmt, ...) HD_PRINTF(2, 3);

/* The same about `group` (may be NULL). */
void hd_log_group(int level, const char *group, const char *fmt, ...) HD_PRINTF(3, 4);

/* A record whose source is XGBoost. */
void hd_log_xgboost(int level, const char *message);

/* Whether a record at `level` would be delivered. */
int hd_log_enabled(int level);

/* Report `p` (counts filled by the caller) to `fn` on the calling thread,
 * with the phase of the calling thread's call, struct_size and elapsed_s
 * filled in.  Returns the callback's answer (nonzero: cancel), 0 without
 * a callback. */
int hd_progress_emit(herd_progress_fn fn, void *user, herd_progress *p);

/* Start phase `name` of the calling thread's call (when its plan has it):
 * a DEBUG record, and a progress report with no counts yet, so that the
 * host sees every phase begin, those without a pool too. */
void hd_phase_begin(const char *name, herd_progress_fn fn, void *user);

/* ---- worker threads --------------------------------------------------- */

typedef struct hd_log_item hd_log_item;

/* Records waiting for the coordinating thread. */
typedef struct hd_log_queue {
    pthread_mutex_t lock;
    hd_log_item *items; /* up to HERD_LOG_QUEUE_MAX */
    size_t n;
    size_t dropped;     /* records refused since the last delivery */
    /* Called (without `lock`) when a record arrives in an empty queue:
     * wakes the coordinator. */
    void (*wake)(void *arg);
    void *wake_arg;
} hd_log_queue;

void hd_log_queue_init(hd_log_queue *q, void (*wake)(void *), void *wake_arg);
/* Frees what was never delivered. */
void hd_log_queue_destroy(hd_log_queue *q);
/* On the coordinating thread: deliver (or pass on) every waiting record,
 * and the count of dropped ones. */
void hd_log_queue_deliver(hd_log_queue *q);
/* Whether records wait (a racy hint for the coordinator's loop). */
int hd_log_queue_pending(hd_log_queue *q);

/* On a worker thread: send this thread's records to `q`, with `scope` (the
 * coordinator's, which outlives the job).  Until hd_log_worker_detach. */
void hd_log_worker_attach(hd_log_queue *q, const hd_scope *scope);
void hd_log_worker_detach(void);
/* The group of the task the worker runs now (NULL between tasks). */
void hd_log_worker_group(const char *group);

#endif
