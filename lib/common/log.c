/* log.c -- log records for the host, on the thread that called herd.
 *
 * The callback, its level and its user pointer are the library's one piece
 * of process-wide state.  A delivery copies them under one mutex and counts
 * itself as in flight in its generation; herd_log_set installs the new
 * triple, starts a generation and waits until the old generation's
 * deliveries have returned, so that when it returns the old callback is
 * never called again and its `user` may be freed.  Setters are serialised,
 * so only two generations ever coexist: one counter per parity suffices.
 * The level is mirrored in an atomic so that a disabled record costs one
 * load and no formatting.
 *
 * Everything else is per thread: the scope the thread works in, and, on a
 * worker, the queue its records go to (log_internal.h). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"

static pthread_mutex_t hd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t hd_log_set_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hd_log_idle = PTHREAD_COND_INITIALIZER;
static herd_log_fn hd_log_fn_current;
static void *hd_log_user;
static int hd_log_level_current;
static unsigned hd_log_generation;
static size_t hd_log_in_flight[2]; /* deliveries per generation parity */
/* The level records must not exceed, or -1 when nobody listens. */
static _Atomic int hd_log_max = -1;

/* The calling thread's view. */
typedef struct hd_log_thread {
    hd_scope *scope;           /* the innermost scope entered here */
    const hd_scope *job_scope; /* on a worker: the coordinator's */
    hd_log_queue *queue;       /* on a worker: where records go */
    const char *group;         /* on a worker: the running task's group */
    int delivering;            /* inside the host's callback */
} hd_log_thread;

static _Thread_local hd_log_thread hd_tls;

/* A queued record: every string it needs besides the scope's, which
 * outlives the job, is in `text` (message, then group). */
struct hd_log_item {
    int level;
    const char *source;
    const char *phase, *family, *run_id;
    double elapsed_s;
    char *text;
    size_t group_at; /* offset of the group in text, 0: none */
};

double hd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the host's callback ---------------------------------------------- */

int herd_log_set(herd_log_fn fn, void *user, int max_level)
{
    if (hd_tls.delivering)
        return hd_error(HERD_EBUSY,
                        "herd_log_set: called from inside a log callback; it waits for "
                        "running callbacks to return, so it would wait for itself: set the "
                        "callback outside it");
    if (fn && (max_level < HERD_LOG_ERROR || max_level > HERD_LOG_DEBUG))
        return hd_error(HERD_EINVAL,
                        "herd_log_set: max_level is %d; give HERD_LOG_ERROR (0) .. "
                        "HERD_LOG_DEBUG (3)",
                        max_level);
    pthread_mutex_lock(&hd_log_set_lock);
    pthread_mutex_lock(&hd_log_lock);
    unsigned old = hd_log_generation & 1u;
    hd_log_fn_current = fn;
    hd_log_user = user;
    hd_log_level_current = fn ? max_level : -1;
    hd_log_generation++;
    atomic_store(&hd_log_max, hd_log_level_current);
    while (hd_log_in_flight[old] > 0) pthread_cond_wait(&hd_log_idle, &hd_log_lock);
    pthread_mutex_unlock(&hd_log_lock);
    pthread_mutex_unlock(&hd_log_set_lock);
    return HERD_OK;
}

const char *herd_log_level_name(int level)
{
    switch (level) {
    case HERD_LOG_ERROR: return "error";
    case HERD_LOG_WARN: return "warn";
    case HERD_LOG_INFO: return "info";
    case HERD_LOG_DEBUG: return "debug";
    default: return "unknown";
    }
}

int hd_log_enabled(int level)
{
    return level <= atomic_load_explicit(&hd_log_max, memory_order_relaxed);
}

/* Call the host's callback with `r`, on this thread.  Records raised while
 * the callback runs (it may call herd) are dropped: no recursion. */
static void hd_log_call(const herd_log_record *r)
{
    if (hd_tls.delivering) return;
    pthread_mutex_lock(&hd_log_lock);
    herd_log_fn fn = hd_log_fn_current;
    void *user = hd_log_user;
    unsigned gen = hd_log_generation & 1u;
    if (!fn || r->level > hd_log_level_current) {
        pthread_mutex_unlock(&hd_log_lock);
        return;
    }
    hd_log_in_flight[gen]++;
    pthread_mutex_unlock(&hd_log_lock);
    hd_tls.delivering = 1;
    fn(r, user);
    hd_tls.delivering = 0;
    pthread_mutex_lock(&hd_log_lock);
    if (--hd_log_in_flight[gen] == 0) pthread_cond_broadcast(&hd_log_idle);
    pthread_mutex_unlock(&hd_log_lock);
}

/* ---- scopes ----------------------------------------------------------- */

void hd_scope_enter(hd_scope *s, const char *const *plan, int nplan, const char *family,
                    const char *run_id)
{
    const hd_scope *p = hd_scope_current();
    memset(s, 0, sizeof *s);
    s->parent = hd_tls.scope;
    s->family = family ? family : p ? p->family : NULL;
    s->run_id = run_id ? run_id : p ? p->run_id : NULL;
    if (p) {
        s->owner = p->owner;
        s->t0 = p->t0;
        s->remote = !hd_tls.scope; /* the job's scope, on a worker */
    } else {
        s->owner = s;
        s->t0 = hd_now();
        s->plan = plan;
        s->nplan = nplan;
    }
    hd_tls.scope = s;
}

void hd_scope_leave(hd_scope *s)
{
    if (hd_tls.scope == s) hd_tls.scope = s->parent;
}

void hd_scope_plan(const char *const *plan, int nplan)
{
    hd_scope *s = hd_tls.scope;
    if (!s || s->remote || s->owner != s || s->phase_at != 0) return;
    s->plan = plan;
    s->nplan = nplan;
}

void hd_scope_set_ids(const char *family, const char *run_id)
{
    hd_scope *s = hd_tls.scope;
    if (!s) return;
    if (family) s->family = family;
    if (run_id) s->run_id = run_id;
}

void hd_scope_phase(const char *name)
{
    hd_scope *s = hd_tls.scope;
    if (!s || s->remote || !name) return;
    hd_scope *o = s->owner;
    for (int i = 0; i < o->nplan; i++)
        if (strcmp(o->plan[i], name) == 0) {
            o->phase_at = i;
            return;
        }
}

const char *hd_scope_phase_of(const hd_scope *s, int *index, int *total)
{
    const hd_scope *o = s ? s->owner : NULL;
    if (!o || !o->nplan) {
        *index = *total = 0;
        return NULL;
    }
    *index = o->phase_at + 1;
    *total = o->nplan;
    return o->plan[o->phase_at];
}

const hd_scope *hd_scope_current(void)
{
    return hd_tls.scope ? hd_tls.scope : hd_tls.job_scope;
}

double hd_scope_elapsed(void)
{
    const hd_scope *s = hd_scope_current();
    return s ? hd_now() - s->t0 : 0.0;
}

int hd_progress_emit(herd_progress_fn fn, void *user, herd_progress *p)
{
    if (!fn) return 0;
    const hd_scope *s = hd_scope_current();
    p->struct_size = sizeof *p;
    p->phase = hd_scope_phase_of(s, &p->phase_index, &p->phase_total);
    if (!p->phase) { /* a call without a plan is one phase */
        p->phase = "apply";
        p->phase_index = p->phase_total = 1;
    }
    p->elapsed_s = hd_scope_elapsed();
    return fn(p, user);
}

void hd_phase_begin(const char *name, herd_progress_fn fn, void *user)
{
    int index = 0, total = 0;
    hd_scope_phase(name);
    const char *now = hd_scope_phase_of(hd_scope_current(), &index, &total);
    if (!now || strcmp(now, name) != 0) return; /* not a phase of this call */
    hd_log(HERD_LOG_DEBUG, "phase %d of %d: %s", index, total, name);
    herd_progress p;
    memset(&p, 0, sizeof p);
    hd_progress_emit(fn, user, &p);
}

/* ---- raising records -------------------------------------------------- */

static void hd_log_push(hd_log_queue *q, const hd_log_item *item);

static void hd_log_raise(int level, const char *source, const char *group, const char *msg)
{
    const hd_scope *s = hd_scope_current();
    int index, total;
    const char *phase = hd_scope_phase_of(s, &index, &total);
    if (!group) group = hd_tls.group;
    if (hd_tls.queue) {
        size_t mlen = strlen(msg), glen = group ? strlen(group) : 0;
        hd_log_item item = {.level = level, .source = source,
                            .phase = phase,
                            .family = s ? s->family : NULL,
                            .run_id = s ? s->run_id : NULL,
                            .elapsed_s = s ? hd_now() - s->t0 : 0.0,
                            .text = malloc(mlen + glen + 2),
                            .group_at = group ? mlen + 1 : 0};
        if (!item.text) return; /* out of memory: the record is lost, not the job */
        memcpy(item.text, msg, mlen + 1);
        if (group) memcpy(item.text + mlen + 1, group, glen + 1);
        hd_log_push(hd_tls.queue, &item);
        return;
    }
    herd_log_record r = {.struct_size = sizeof r, .level = level, .message = msg,
                         .phase = phase, .group = group,
                         .family = s ? s->family : NULL, .run_id = s ? s->run_id : NULL,
                         .elapsed_s = s ? hd_now() - s->t0 : 0.0, .source = source};
    hd_log_call(&r);
}

static void hd_vlog(int level, const char *group, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    hd_log_raise(level, "herd", group, buf);
}

void hd_log(int level, const char *fmt, ...)
{
    if (!hd_log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    hd_vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void hd_log_group(int level, const char *group, const char *fmt, ...)
{
    if (!hd_log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    hd_vlog(level, group, fmt, ap);
    va_end(ap);
}

void hd_log_xgboost(int level, const char *message)
{
    if (hd_log_enabled(level)) hd_log_raise(level, "xgboost", NULL, message);
}

/* ---- the queue of a job ----------------------------------------------- */

void hd_log_queue_init(hd_log_queue *q, void (*wake)(void *), void *wake_arg)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    q->wake = wake;
    q->wake_arg = wake_arg;
}

static void hd_log_items_free(hd_log_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) free(items[i].text);
    free(items);
}

void hd_log_queue_destroy(hd_log_queue *q)
{
    hd_log_items_free(q->items, q->n);
    pthread_mutex_destroy(&q->lock);
}

static void hd_log_push(hd_log_queue *q, const hd_log_item *item)
{
    pthread_mutex_lock(&q->lock);
    if (!q->items) q->items = malloc(HERD_LOG_QUEUE_MAX * sizeof *q->items);
    int was_empty = q->n == 0 && q->dropped == 0;
    if (q->items && q->n < HERD_LOG_QUEUE_MAX) {
        q->items[q->n++] = *item;
    } else {
        q->dropped++;
        free(item->text);
    }
    pthread_mutex_unlock(&q->lock);
    if (was_empty && q->wake) q->wake(q->wake_arg);
}

int hd_log_queue_pending(hd_log_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int pending = q->n > 0 || q->dropped > 0;
    pthread_mutex_unlock(&q->lock);
    return pending;
}

/* One queued record, from this (coordinating) thread: to the host, or on
 * to this thread's own queue when it is itself a worker. */
static void hd_log_forward(const hd_log_item *it)
{
    const char *group = it->group_at ? it->text + it->group_at : NULL;
    if (hd_tls.queue) {
        size_t len = strlen(it->text) + (group ? strlen(group) + 1 : 0) + 1;
        hd_log_item copy = *it;
        if (!(copy.text = malloc(len))) return;
        memcpy(copy.text, it->text, len);
        hd_log_push(hd_tls.queue, &copy);
        return;
    }
    herd_log_record r = {.struct_size = sizeof r, .level = it->level, .message = it->text,
                         .phase = it->phase, .group = group, .family = it->family,
                         .run_id = it->run_id, .elapsed_s = it->elapsed_s,
                         .source = it->source};
    hd_log_call(&r);
}

void hd_log_queue_deliver(hd_log_queue *q)
{
    pthread_mutex_lock(&q->lock);
    hd_log_item *items = q->items;
    size_t n = q->n, dropped = q->dropped;
    q->items = NULL;
    q->n = 0;
    q->dropped = 0;
    pthread_mutex_unlock(&q->lock);
    /* The drop comes first: it happened before the records that follow
     * (the queue was full when they were refused). */
    if (dropped)
        hd_log(HERD_LOG_WARN,
               "%zu log records of herd's worker threads were dropped: more than %d waited "
               "for the calling thread to deliver them (a slow log callback, or a verbose "
               "level)",
               dropped, HERD_LOG_QUEUE_MAX);
    for (size_t i = 0; i < n; i++) hd_log_forward(&items[i]);
    hd_log_items_free(items, n);
}

/* ---- workers ---------------------------------------------------------- */

void hd_log_worker_attach(hd_log_queue *q, const hd_scope *scope)
{
    hd_tls.queue = q;
    hd_tls.job_scope = scope;
    hd_tls.group = NULL;
}

void hd_log_worker_detach(void)
{
    hd_tls.queue = NULL;
    hd_tls.job_scope = NULL;
    hd_tls.group = NULL;
}

void hd_log_worker_group(const char *group)
{
    hd_tls.group = group;
}
