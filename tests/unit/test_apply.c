/* Tests of the grouped-apply engine: herd_apply, herd_apply_options_init,
 * herd_error_set and the internal pool hd_job_run (apply_internal.h).
 *
 * Covered: every group runs exactly once with the right task description;
 * the report frame (columns, statuses, messages, seconds, threads); failure
 * isolation, generic messages, skips; largest-first scheduling; the error
 * budget; cancellation by flag and by the progress callback; progress on
 * the calling thread only, periodically and once at the end; thread
 * counts; the big-group policy (CPU slots never oversubscribed); option
 * validation and old struct sizes; argument checks; multi-task jobs,
 * worker_start/worker_stop and group-level accounting of hd_job_run.
 *
 * Group callbacks run on worker threads, where cmocka's assertions (which
 * longjmp) must not be used: callbacks record what they see in atomics and
 * a "violation" message, and the test thread asserts afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"
#include "train/apply_internal.h"

#define MAXG 256

/* ------------------------------------------------------------------------
 * Helpers: frames and groups
 * --------------------------------------------------------------------- */

/* Group g's key value: negative ones too, increasing with g, so that group
 * index g (groups are ordered by key) is exactly g. */
static int64_t key_of(size_t g)
{
    return (int64_t)g * 7 - 20;
}

typedef struct fixture {
    herd_frame *frame;
    herd_groups *groups;
    size_t ngroups;
    size_t nrows;
} fixture;

/* A frame with an int64 "key" column and a float64 "x" column whose rows
 * are interleaved round-robin between groups (so a group's rows are not
 * contiguous), group g having sizes[g] rows. */
static void fixture_make(fixture *fx, const size_t *sizes, size_t ngroups)
{
    memset(fx, 0, sizeof *fx);
    size_t total = 0;
    for (size_t g = 0; g < ngroups; g++) total += sizes[g];
    int64_t *keys = malloc((total ? total : 1) * sizeof *keys);
    double *x = malloc((total ? total : 1) * sizeof *x);
    size_t *left = calloc(ngroups ? ngroups : 1, sizeof *left);
    assert_non_null(keys);
    assert_non_null(x);
    assert_non_null(left);
    if (ngroups) memcpy(left, sizes, ngroups * sizeof *left);
    size_t r = 0;
    while (r < total) {
        for (size_t g = 0; g < ngroups && r < total; g++) {
            if (!left[g]) continue;
            left[g]--;
            keys[r] = key_of(g);
            x[r] = (double)r * 0.5;
            r++;
        }
    }
    assert_int_equal(herd_frame_new(&fx->frame), HERD_OK);
    assert_int_equal(herd_frame_add_column(fx->frame, "key", HERD_TYPE_INT64, total ? keys : NULL,
                                           total, NULL),
                     HERD_OK);
    assert_int_equal(
        herd_frame_add_column(fx->frame, "x", HERD_TYPE_FLOAT64, total ? x : NULL, total, NULL),
        HERD_OK);
    const char *k[] = {"key"};
    int rc = herd_groups_new(fx->frame, k, 1, &fx->groups);
    if (rc) fail_msg("herd_groups_new: %s", herd_last_error());
    assert_int_equal(herd_groups_count(fx->groups), ngroups);
    for (size_t g = 0; g < ngroups; g++) assert_int_equal(herd_groups_row_count(fx->groups, g), sizes[g]);
    fx->ngroups = ngroups;
    fx->nrows = total;
    free(keys);
    free(x);
    free(left);
}

/* n groups of equal size. */
static void fixture_uniform(fixture *fx, size_t n, size_t size)
{
    size_t sizes[MAXG];
    assert_true(n <= MAXG);
    for (size_t i = 0; i < n; i++) sizes[i] = size;
    fixture_make(fx, sizes, n);
}

static void fixture_free(fixture *fx)
{
    herd_groups_free(fx->groups);
    herd_frame_free(fx->frame);
    memset(fx, 0, sizeof *fx);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The last error has this code and its message contains `part`. */
static void expect_error(int code, const char *part)
{
    assert_int_equal(herd_last_error_code(), code);
    if (!strstr(herd_last_error(), part))
        fail_msg("error message \"%s\" does not contain \"%s\"", herd_last_error(), part);
}

/* ------------------------------------------------------------------------
 * Helpers: the group callback and what it records
 * --------------------------------------------------------------------- */

enum behaviour {
    B_OK = 0,
    B_FAIL_MSG,    /* herd_error_set(code[i], message[i]); return code[i] */
    B_FAIL_NOMSG,  /* return code[i] without a message */
    B_SKIP_MSG,    /* herd_error_set(HERD_SKIP, message[i]); return HERD_SKIP */
    B_SKIP_NOMSG,  /* return HERD_SKIP */
    B_OK_WITH_ERR  /* leaves an error set but returns HERD_OK */
};

typedef struct cb_ctx {
    const herd_groups *groups;
    int threads; /* the pool size the test expects */
    pthread_t main_thread;
    unsigned char behaviour[MAXG];
    int code[MAXG];
    const char *message[MAXG];
    long sleep_us;           /* every task */
    long big_sleep_us;       /* tasks with nthread > 1 */
    int multi_alone;         /* a task with nthread == threads must run alone */
    int *cancel;             /* set to 1 when the cancel_after-th task starts */
    size_t cancel_after;

    atomic_int calls[MAXG];
    atomic_int total_calls;
    atomic_size_t seq;
    size_t order[MAXG];
    int nthread_seen[MAXG];
    int worker_seen[MAXG];
    atomic_ullong worker_mask; /* workers 0..63 seen */

    atomic_int slots_in_use, max_slots;
    atomic_int tasks_in_use, max_tasks;
    atomic_int multi_running;

    atomic_int violations;
    pthread_mutex_t vlock;
    char first_violation[512];
} cb_ctx;

static void ctx_init(cb_ctx *c, const fixture *fx, int threads)
{
    memset(c, 0, sizeof *c);
    c->groups = fx->groups;
    c->threads = threads;
    c->main_thread = pthread_self();
    pthread_mutex_init(&c->vlock, NULL);
}

static void violation(cb_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(cb_ctx *c, const char *fmt, ...)
{
    pthread_mutex_lock(&c->vlock);
    if (atomic_fetch_add(&c->violations, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->first_violation, sizeof c->first_violation, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&c->vlock);
}

/* No callback saw anything wrong; then free the context's mutex. */
static void ctx_check_done(cb_ctx *c)
{
    int v = atomic_load(&c->violations);
    pthread_mutex_destroy(&c->vlock);
    if (v) fail_msg("%d violation(s) seen in callbacks; first: %s", v, c->first_violation);
}

static void atomic_max(atomic_int *m, int v)
{
    int cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v)) {
    }
}

static int popcount64(unsigned long long m)
{
    int n = 0;
    for (; m; m &= m - 1) n++;
    return n;
}

/* Check everything a task is told, then behave as configured. */
static int group_cb(const herd_group_task *t, void *user)
{
    cb_ctx *c = user;
    if (pthread_equal(pthread_self(), c->main_thread))
        violation(c, "group callback ran on the calling thread");
    if (t->struct_size != sizeof(herd_group_task))
        violation(c, "struct_size %u, expected %zu", (unsigned)t->struct_size,
                  sizeof(herd_group_task));
    size_t ng = herd_groups_count(c->groups);
    if (t->index >= ng || t->index >= MAXG) {
        violation(c, "index %zu out of range (%zu groups)", t->index, ng);
        return HERD_EINTERNAL;
    }
    size_t i = t->index;
    atomic_fetch_add(&c->calls[i], 1);
    atomic_fetch_add(&c->total_calls, 1);
    size_t pos = atomic_fetch_add(&c->seq, 1);
    if (pos < MAXG) c->order[pos] = i;
    c->nthread_seen[i] = t->n_threads;
    c->worker_seen[i] = t->worker;

    /* Key, frame, rows. */
    const char *key = herd_groups_key(c->groups, i);
    if (!t->key || !key || strcmp(t->key, key) != 0)
        violation(c, "group %zu: key \"%s\", expected \"%s\"", i, t->key ? t->key : "(null)",
                  key ? key : "(null)");
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)key_of(i));
    if (!t->key || strcmp(t->key, want) != 0)
        violation(c, "group %zu: key \"%s\", expected \"%s\"", i, t->key ? t->key : "(null)", want);
    if (t->frame != herd_groups_frame(c->groups)) violation(c, "group %zu: wrong frame", i);
    const size_t *rows = NULL;
    size_t nrows = 0;
    if (herd_groups_rows(c->groups, i, &rows, &nrows) != HERD_OK)
        violation(c, "herd_groups_rows(%zu) failed", i);
    if (t->n_rows != nrows || !t->rows) {
        violation(c, "group %zu: nrows %zu, expected %zu", i, t->n_rows, nrows);
    } else {
        for (size_t k = 0; k < nrows; k++) {
            int64_t v = 0;
            if (t->rows[k] != rows[k]) {
                violation(c, "group %zu: rows[%zu] = %zu, expected %zu", i, k, t->rows[k], rows[k]);
                break;
            }
            if (herd_frame_get_int64(t->frame, 0, t->rows[k], &v) != HERD_OK || v != key_of(i)) {
                violation(c, "group %zu: row %zu has key %lld", i, t->rows[k], (long long)v);
                break;
            }
        }
    }
    if (t->worker < 0 || t->worker >= c->threads)
        violation(c, "group %zu: worker %d not in [0, %d)", i, t->worker, c->threads);
    else if (t->worker < 64)
        atomic_fetch_or(&c->worker_mask, 1ull << t->worker);
    if (t->n_threads < 1 || t->n_threads > c->threads)
        violation(c, "group %zu: nthread %d not in [1, %d]", i, t->n_threads, c->threads);

    /* CPU slots: never more than `threads`; a multi-thread task alone. */
    int nt = t->n_threads < 1 ? 1 : t->n_threads;
    int slots = atomic_fetch_add(&c->slots_in_use, nt) + nt;
    atomic_max(&c->max_slots, slots);
    int tasks = atomic_fetch_add(&c->tasks_in_use, 1) + 1;
    atomic_max(&c->max_tasks, tasks);
    if (slots > c->threads)
        violation(c, "group %zu: %d CPU slots in use, more than %d threads", i, slots, c->threads);
    if (nt > 1) atomic_fetch_add(&c->multi_running, 1);

    if (c->cancel && pos + 1 == c->cancel_after) __atomic_store_n(c->cancel, 1, __ATOMIC_SEQ_CST);
    long us = c->sleep_us + (nt > 1 ? c->big_sleep_us : 0);
    if (us) sleep_us(us);

    /* Checked after the sleep: a task overlapping the multi-thread one,
     * whichever started first, sees the other here or at its start. */
    if (c->multi_alone && nt > 1 && atomic_load(&c->tasks_in_use) != 1)
        violation(c, "group %zu (nthread %d) ran alongside another task", i, nt);
    if (c->multi_alone && nt == 1 && atomic_load(&c->multi_running))
        violation(c, "group %zu ran while a task holding every CPU slot ran", i);
    if (nt > 1) atomic_fetch_sub(&c->multi_running, 1);
    atomic_fetch_sub(&c->tasks_in_use, 1);
    atomic_fetch_sub(&c->slots_in_use, nt);

    switch (c->behaviour[i]) {
    case B_FAIL_MSG: return herd_error_set(c->code[i], c->message[i]);
    case B_FAIL_NOMSG: return c->code[i];
    case B_SKIP_MSG: return herd_error_set(HERD_SKIP, c->message[i]);
    case B_SKIP_NOMSG: return HERD_SKIP;
    case B_OK_WITH_ERR: herd_error_set(HERD_EIO, "left over"); return HERD_OK;
    default: return HERD_OK;
    }
}

static int never_cb(const herd_group_task *t, void *user)
{
    (void)t;
    atomic_fetch_add((atomic_int *)user, 1);
    return HERD_OK;
}

/* Every group ran exactly `times` times. */
static void expect_calls(cb_ctx *c, size_t n, int times)
{
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&c->calls[i]) != times)
            fail_msg("group %zu ran %d times, expected %d", i, atomic_load(&c->calls[i]), times);
}

/* ------------------------------------------------------------------------
 * Helpers: the progress callback
 * --------------------------------------------------------------------- */

typedef struct prog_ctx {
    pthread_t main_thread;
    atomic_int calls;
    atomic_int off_thread;
    int bad_struct;
    int non_monotonic;
    size_t prev_done;
    double prev_elapsed;
    size_t intermediate; /* calls with groups_done < groups_total */
    herd_progress last;
    size_t cancel_at_done; /* return 1 once groups_done >= this; 0: never */
    int returned_cancel;
} prog_ctx;

static void prog_init(prog_ctx *p)
{
    memset(p, 0, sizeof *p);
    p->main_thread = pthread_self();
}

static int progress_cb(const herd_progress *pr, void *user)
{
    prog_ctx *p = user;
    atomic_fetch_add(&p->calls, 1);
    if (!pthread_equal(pthread_self(), p->main_thread)) {
        atomic_fetch_add(&p->off_thread, 1);
        return 0; /* touch nothing else from a foreign thread */
    }
    if (pr->struct_size != sizeof(herd_progress)) p->bad_struct = 1;
    if (pr->groups_done < p->prev_done || pr->elapsed_s < p->prev_elapsed ||
        pr->groups_done > pr->groups_total || pr->rows_done > pr->rows_total ||
        pr->groups_failed + pr->groups_skipped > pr->groups_done)
        p->non_monotonic = 1;
    p->prev_done = pr->groups_done;
    p->prev_elapsed = pr->elapsed_s;
    if (pr->groups_done < pr->groups_total) p->intermediate++;
    p->last = *pr;
    if (p->cancel_at_done && pr->groups_done >= p->cancel_at_done) {
        p->returned_cancel++;
        return 1;
    }
    return 0;
}

static void prog_check_sane(prog_ctx *p)
{
    assert_true(atomic_load(&p->calls) >= 1);
    assert_int_equal(atomic_load(&p->off_thread), 0);
    assert_int_equal(p->bad_struct, 0);
    assert_int_equal(p->non_monotonic, 0);
}

/* ------------------------------------------------------------------------
 * Helpers: the report
 * --------------------------------------------------------------------- */

typedef struct report_cols {
    size_t group, rows, status, message, seconds, nthread;
} report_cols;

/* The report has exactly the documented columns, in order, and n rows. */
static report_cols check_report_shape(const herd_frame *rep, size_t n)
{
    static const char *names[] = {"group", "rows", "status", "message", "seconds", "threads"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_INT64,   HERD_TYPE_STRING,
                                HERD_TYPE_STRING, HERD_TYPE_FLOAT64, HERD_TYPE_INT64};
    assert_non_null(rep);
    assert_int_equal(herd_frame_column_count(rep), 6);
    assert_int_equal(herd_frame_row_count(rep), n);
    for (size_t c = 0; c < 6; c++) {
        assert_non_null(herd_frame_column_name(rep, c));
        assert_string_equal(herd_frame_column_name(rep, c), names[c]);
        assert_int_equal(herd_frame_column_type(rep, c), types[c]);
    }
    report_cols rc = {0, 1, 2, 3, 4, 5};
    return rc;
}

static const char *rep_str(const herd_frame *rep, size_t col, size_t row)
{
    const char *s = (const char *)1;
    int rc = herd_frame_get_string(rep, col, row, &s);
    assert_int_equal(rc, s ? HERD_OK : HERD_MISSING); /* NULL exactly when missing */
    return s;
}

static int64_t rep_i64(const herd_frame *rep, size_t col, size_t row)
{
    int64_t v = -999;
    assert_int_equal(herd_frame_get_int64(rep, col, row, &v), HERD_OK);
    return v;
}

static double rep_f64(const herd_frame *rep, size_t col, size_t row)
{
    double v = -999;
    assert_int_equal(herd_frame_get_double(rep, col, row, &v), HERD_OK);
    return v;
}

static void expect_status(const herd_frame *rep, size_t row, const char *status)
{
    const char *s = rep_str(rep, 2, row);
    assert_non_null(s);
    if (strcmp(s, status) != 0) fail_msg("group %zu: status \"%s\", expected \"%s\"", row, s, status);
}

/* Row `row`'s message is exactly `msg` (NULL: missing). */
static void expect_message(const herd_frame *rep, size_t row, const char *msg)
{
    const char *s = rep_str(rep, 3, row);
    if (!msg) {
        if (s) fail_msg("group %zu: message \"%s\", expected none", row, s);
        assert_int_equal(herd_frame_is_present(rep, 3, row), 0);
        return;
    }
    if (!s) fail_msg("group %zu: no message, expected \"%s\"", row, msg);
    if (strcmp(s, msg) != 0) fail_msg("group %zu: message \"%s\", expected \"%s\"", row, s, msg);
}

static size_t count_status(const herd_frame *rep, const char *status)
{
    size_t n = 0, rows = herd_frame_row_count(rep);
    for (size_t i = 0; i < rows; i++) {
        const char *s = rep_str(rep, 2, i);
        if (s && strcmp(s, status) == 0) n++;
    }
    return n;
}

static herd_apply_options opts(int threads)
{
    herd_apply_options o;
    herd_apply_options_init(&o, HERD_APPLY_OPTIONS_VERSION);
    o.threads = threads;
    return o;
}

/* ------------------------------------------------------------------------
 * herd_error_set and options
 * --------------------------------------------------------------------- */

static void test_error_set(void **state)
{
    (void)state;
    herd_clear_error();
    assert_int_equal(herd_error_set(HERD_EFORMAT, "bad label in g3"), HERD_EFORMAT);
    assert_string_equal(herd_last_error(), "bad label in g3");
    assert_int_equal(herd_last_error_code(), HERD_EFORMAT);

    /* NULL message: allowed, empty, code still set. */
    assert_int_equal(herd_error_set(HERD_EIO, NULL), HERD_EIO);
    assert_non_null(herd_last_error());
    assert_string_equal(herd_last_error(), "");
    assert_int_equal(herd_last_error_code(), HERD_EIO);

    /* HERD_SKIP is positive and returned as is. */
    assert_int_equal(herd_error_set(HERD_SKIP, "too few rows"), HERD_SKIP);
    assert_int_equal(herd_last_error_code(), HERD_SKIP);
    assert_string_equal(herd_last_error(), "too few rows");

    /* The message is text, not a format. */
    assert_int_equal(herd_error_set(HERD_EFORMAT, "100% bad %s %d %n"), HERD_EFORMAT);
    assert_string_equal(herd_last_error(), "100% bad %s %d %n");

    /* A long message is kept (truncated), never overflows. */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(herd_error_set(HERD_EINVAL, big), HERD_EINVAL);
    size_t len = strlen(herd_last_error());
    assert_true(len > 100 && len < sizeof big - 1);
    assert_int_equal(strncmp(herd_last_error(), "aaaa", 4), 0);

    herd_clear_error();
    assert_int_equal(herd_last_error_code(), HERD_OK);
    assert_string_equal(herd_last_error(), "");
}

static void *error_set_thread(void *arg)
{
    (void)arg;
    herd_error_set(HERD_ENOTFOUND, "other thread");
    return NULL;
}

static void test_error_set_thread_local(void **state)
{
    (void)state;
    herd_error_set(HERD_EFORMAT, "mine");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, error_set_thread, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_string_equal(herd_last_error(), "mine");
    assert_int_equal(herd_last_error_code(), HERD_EFORMAT);
}

static void test_options_init_defaults(void **state)
{
    (void)state;
    herd_apply_options o;
    memset(&o, 0xab, sizeof o);
    herd_apply_options_init(&o, HERD_APPLY_OPTIONS_VERSION);
    assert_int_equal(o.version, HERD_APPLY_OPTIONS_VERSION);
    assert_int_equal(o.threads, 0);
    assert_true(o.max_failed == -1);
    assert_null(o.cancel);
    assert_null(o.progress);
    assert_null(o.progress_user);
    assert_true(o.progress_interval_s == 0.25);
    assert_int_equal(o.parallel_group_rows, 50000);
    assert_int_equal(herd_apply_options_init(NULL, HERD_APPLY_OPTIONS_VERSION), HERD_EINVAL);

    /* The normalised config: threads 0 -> herd_default_threads(). */
    hd_apply_config cfg;
    memset(&cfg, 0xab, sizeof cfg);
    assert_int_equal(hd_apply_config_read(NULL, &cfg, "test"), HERD_OK);
    assert_int_equal(cfg.threads, herd_default_threads());
    assert_true(cfg.threads >= 1);
    assert_true(cfg.max_failed == -1);
    assert_null(cfg.cancel);
    assert_null(cfg.progress);
    assert_true(cfg.progress_interval_s == 0.25);
    assert_int_equal(cfg.parallel_group_rows, 50000);

    memset(&cfg, 0xab, sizeof cfg);
    assert_int_equal(hd_apply_config_read(&o, &cfg, "test"), HERD_OK);
    assert_int_equal(cfg.threads, herd_default_threads());

    o.threads = 3;
    o.max_failed = 7;
    o.parallel_group_rows = 12;
    o.progress_interval_s = 1.5;
    assert_int_equal(hd_apply_config_read(&o, &cfg, "test"), HERD_OK);
    assert_int_equal(cfg.threads, 3);
    assert_true(cfg.max_failed == 7);
    assert_int_equal(cfg.parallel_group_rows, 12);
    assert_true(cfg.progress_interval_s == 1.5);
}

/* One invalid option: HERD_EINVAL naming it, *report NULL, no callback. */
static void expect_invalid(const herd_groups *g, const herd_apply_options *o, const char *name)
{
    atomic_int calls = 0;
    herd_frame *sentinel = (herd_frame *)&calls;
    herd_frame *rep = sentinel;
    herd_clear_error();
    int rc = herd_apply(g, never_cb, &calls, o, &rep);
    assert_int_equal(rc, HERD_EINVAL);
    assert_null(rep);
    assert_int_equal(atomic_load(&calls), 0);
    expect_error(HERD_EINVAL, name);
    /* Without a report too. */
    assert_int_equal(herd_apply(g, never_cb, &calls, o, NULL), HERD_EINVAL);
    assert_int_equal(atomic_load(&calls), 0);
}

static void test_options_invalid(void **state)
{
    (void)state;
    fixture fx;
    fixture_uniform(&fx, 3, 2);
    prog_ctx p;
    prog_init(&p);
    herd_apply_options o;

    const uint32_t bad_versions[] = {0, 2, 0xABABABABu, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        o = opts(1);
        o.version = bad_versions[i];
        expect_invalid(fx.groups, &o, "herd_apply_options_init(&opt, HERD_APPLY_OPTIONS_VERSION)");
    }

    o = opts(-1);
    expect_invalid(fx.groups, &o, "threads");
    o = opts(5000);
    expect_invalid(fx.groups, &o, "threads");
    o = opts(INT32_MIN);
    expect_invalid(fx.groups, &o, "threads");

    o = opts(1);
    o.max_failed = -2;
    expect_invalid(fx.groups, &o, "max_failed");
    o.max_failed = INT64_MIN;
    expect_invalid(fx.groups, &o, "max_failed");

    const double bad_intervals[] = {0.0, -0.0, -1.0, NAN, -INFINITY, INFINITY};
    for (size_t i = 0; i < sizeof bad_intervals / sizeof bad_intervals[0]; i++) {
        o = opts(1);
        o.progress = progress_cb;
        o.progress_user = &p;
        o.progress_interval_s = bad_intervals[i];
        expect_invalid(fx.groups, &o, "progress_interval_s");
    }
    assert_int_equal(atomic_load(&p.calls), 0); /* no progress either */

    /* Boundaries that are valid. */
    atomic_int calls = 0;
    o = opts(1);
    o.max_failed = 0;
    o.progress_interval_s = 1e-6;
    assert_int_equal(herd_apply(fx.groups, never_cb, &calls, &o, NULL), HERD_OK);
    assert_int_equal(atomic_load(&calls), 3);
    fixture_free(&fx);
}

static void test_null_arguments(void **state)
{
    (void)state;
    fixture fx;
    fixture_uniform(&fx, 3, 2);
    atomic_int calls = 0;
    herd_frame *rep = (herd_frame *)&calls;

    assert_int_equal(herd_apply(NULL, never_cb, &calls, NULL, &rep), HERD_EINVAL);
    assert_null(rep);
    expect_error(HERD_EINVAL, "groups");

    rep = (herd_frame *)&calls;
    assert_int_equal(herd_apply(fx.groups, NULL, &calls, NULL, &rep), HERD_EINVAL);
    assert_null(rep);
    expect_error(HERD_EINVAL, "fn");
    assert_int_equal(atomic_load(&calls), 0);

    /* NULL options: defaults; user may be anything. */
    rep = NULL;
    assert_int_equal(herd_apply(fx.groups, never_cb, &calls, NULL, &rep), HERD_OK);
    assert_int_equal(atomic_load(&calls), 3);
    check_report_shape(rep, 3);
    herd_frame_free(rep);
    fixture_free(&fx);
}

/* ------------------------------------------------------------------------
 * Running groups and the report
 * --------------------------------------------------------------------- */

static void test_every_group_once(void **state)
{
    (void)state;
    const size_t sizes[] = {5, 1, 12, 3, 3, 8, 2, 1, 9, 4, 7, 6};
    const size_t n = sizeof sizes / sizeof sizes[0];
    fixture fx;
    fixture_make(&fx, sizes, n);
    const int thread_counts[] = {1, 2, 4};
    for (size_t t = 0; t < 3; t++) {
        cb_ctx c;
        ctx_init(&c, &fx, thread_counts[t]);
        herd_apply_options o = opts(thread_counts[t]);
        herd_frame *rep = NULL;
        herd_clear_error();
        int rc = herd_apply(fx.groups, group_cb, &c, &o, &rep);
        if (rc) fail_msg("herd_apply: %s", herd_last_error());
        expect_calls(&c, n, 1);
        assert_int_equal(atomic_load(&c.total_calls), n);
        assert_true(atomic_load(&c.max_slots) <= thread_counts[t]);
        ctx_check_done(&c);

        report_cols col = check_report_shape(rep, n);
        for (size_t i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)key_of(i));
            assert_string_equal(rep_str(rep, col.group, i), key);
            assert_int_equal(rep_i64(rep, col.rows, i), sizes[i]);
            expect_status(rep, i, "ok");
            expect_message(rep, i, NULL);
            double s = rep_f64(rep, col.seconds, i);
            assert_true(isfinite(s) && s >= 0 && s < 60);
            assert_int_equal(rep_i64(rep, col.nthread, i), 1);
            assert_int_equal(c.nthread_seen[i], 1);
        }
        herd_frame_free(rep);
    }
    fixture_free(&fx);
}

static void test_report_null(void **state)
{
    (void)state;
    fixture fx;
    fixture_uniform(&fx, 5, 3);
    cb_ctx c;
    ctx_init(&c, &fx, 2);
    c.behaviour[1] = B_FAIL_MSG;
    c.code[1] = HERD_EFORMAT;
    c.message[1] = "nope";
    herd_apply_options o = opts(2);
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    expect_calls(&c, 5, 1);
    ctx_check_done(&c);
    fixture_free(&fx);
}

/* One poisoned group fails with its message; the others go on.  Generic
 * messages, skips with and without a reason, an error left behind by a
 * successful group, and no message leaking from one task to the next on
 * the same worker. */
static void test_failure_isolation(void **state)
{
    (void)state;
    /* Sizes fix the order on one worker: 6(9) 3(8) 4(7) 0(6) 5(5) 1(4) 2(3) 7(2). */
    const size_t sizes[] = {6, 4, 3, 8, 7, 5, 9, 2};
    const size_t n = 8;
    fixture fx;
    fixture_make(&fx, sizes, n);
    for (int threads = 1; threads <= 3; threads += 2) {
        cb_ctx c;
        ctx_init(&c, &fx, threads);
        c.behaviour[3] = B_FAIL_MSG; /* runs second on one worker */
        c.code[3] = HERD_EFORMAT;
        c.message[3] = "bad label in g3";
        c.behaviour[4] = B_FAIL_NOMSG; /* runs right after g3 on the same worker */
        c.code[4] = HERD_ETYPE;
        c.behaviour[0] = B_SKIP_MSG;
        c.message[0] = "constant label";
        c.behaviour[5] = B_SKIP_NOMSG;
        c.behaviour[6] = B_OK_WITH_ERR;
        c.behaviour[7] = B_FAIL_NOMSG;
        c.code[7] = 7; /* positive and not HERD_SKIP: a failure */
        prog_ctx p;
        prog_init(&p);
        herd_apply_options o = opts(threads);
        o.progress = progress_cb;
        o.progress_user = &p;
        herd_frame *rep = NULL;
        int rc = herd_apply(fx.groups, group_cb, &c, &o, &rep);
        assert_int_equal(rc, HERD_OK);
        expect_calls(&c, n, 1);
        ctx_check_done(&c);

        check_report_shape(rep, n);
        expect_status(rep, 3, "failed");
        expect_message(rep, 3, "bad label in g3");
        expect_status(rep, 4, "failed");
        const char *m4 = rep_str(rep, 3, 4);
        assert_non_null(m4);
        if (!strstr(m4, "-7") || !strstr(m4, "HERD_ETYPE"))
            fail_msg("generic message \"%s\" does not name the code -7 (HERD_ETYPE)", m4);
        assert_null(strstr(m4, "g3"));
        expect_status(rep, 0, "skipped");
        expect_message(rep, 0, "constant label");
        expect_status(rep, 5, "skipped");
        expect_message(rep, 5, NULL);
        expect_status(rep, 6, "ok");
        expect_message(rep, 6, NULL);
        expect_status(rep, 7, "failed");
        const char *m7 = rep_str(rep, 3, 7);
        assert_non_null(m7);
        if (!strstr(m7, " 7 ")) fail_msg("generic message \"%s\" does not name the code 7", m7);
        expect_status(rep, 1, "ok");
        expect_message(rep, 1, NULL);
        expect_status(rep, 2, "ok");
        expect_message(rep, 2, NULL);
        assert_int_equal(count_status(rep, "ok"), 3);
        assert_int_equal(count_status(rep, "failed"), 3);
        assert_int_equal(count_status(rep, "skipped"), 2);
        assert_int_equal(count_status(rep, "not_run"), 0);
        for (size_t i = 0; i < n; i++) assert_int_equal(rep_i64(rep, 5, i), 1);

        prog_check_sane(&p);
        assert_int_equal(p.last.groups_total, n);
        assert_int_equal(p.last.groups_done, n);
        assert_int_equal(p.last.groups_failed, 3);
        assert_int_equal(p.last.groups_skipped, 2);
        assert_int_equal(p.last.rows_total, fx.nrows);
        assert_int_equal(p.last.rows_done, fx.nrows);
        herd_frame_free(rep);
    }
    fixture_free(&fx);
}

/* Groups whose callback sleeps report at least that long in "seconds". */
static void test_report_seconds(void **state)
{
    (void)state;
    fixture fx;
    fixture_uniform(&fx, 3, 2);
    cb_ctx c;
    ctx_init(&c, &fx, 2);
    c.sleep_us = 20000;
    herd_apply_options o = opts(2);
    herd_frame *rep = NULL;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, &rep), HERD_OK);
    check_report_shape(rep, 3);
    for (size_t i = 0; i < 3; i++) {
        double s = rep_f64(rep, 4, i);
        if (!(s >= 0.019 && s < 30)) fail_msg("group %zu: seconds %g, slept 0.02", i, s);
    }
    herd_frame_free(rep);
    ctx_check_done(&c);
    fixture_free(&fx);
}

/* With one worker the groups run by descending size, ties by index. */
static void test_largest_first(void **state)
{
    (void)state;
    const size_t sizes[] = {3, 7, 7, 1, 9, 3, 5, 7, 1, 9, 2};
    const size_t n = sizeof sizes / sizeof sizes[0];
    const size_t expected[] = {4, 9, 1, 2, 7, 6, 0, 5, 10, 3, 8};
    fixture fx;
    fixture_make(&fx, sizes, n);
    cb_ctx c;
    ctx_init(&c, &fx, 1);
    herd_apply_options o = opts(1);
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    ctx_check_done(&c);
    assert_int_equal(atomic_load(&c.seq), n);
    for (size_t k = 0; k < n; k++) {
        if (c.order[k] != expected[k]) fail_msg("position %zu: group %zu ran, expected %zu", k,
                                                c.order[k], expected[k]);
        if (k) {
            size_t a = c.order[k - 1], b = c.order[k];
            assert_true(sizes[a] > sizes[b] || (sizes[a] == sizes[b] && a < b));
        }
    }
    fixture_free(&fx);
}

/* ------------------------------------------------------------------------
 * Error budget and cancellation
 * --------------------------------------------------------------------- */

static void test_error_budget(void **state)
{
    (void)state;
    const size_t n = 12;
    fixture fx;
    fixture_uniform(&fx, n, 3);
    cb_ctx c;
    ctx_init(&c, &fx, 1);
    /* Groups 0 and 2 succeed, every other fails: on one worker (equal sizes,
     * index order) 0 ok, 1 F, 2 ok, 3 F, 4 F -> third failure, stop. */
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || i == 2) continue;
        c.behaviour[i] = B_FAIL_MSG;
        c.code[i] = HERD_EXGBOOST;
        c.message[i] = "boom";
    }
    prog_ctx p;
    prog_init(&p);
    herd_apply_options o = opts(1);
    o.max_failed = 2;
    o.progress = progress_cb;
    o.progress_user = &p;
    herd_frame *rep = NULL;
    int rc = herd_apply(fx.groups, group_cb, &c, &o, &rep);
    assert_int_equal(rc, HERD_EBUDGET);
    expect_error(HERD_EBUDGET, "max_failed");
    assert_int_equal(atomic_load(&c.total_calls), 5);
    ctx_check_done(&c);
    check_report_shape(rep, n);
    assert_int_equal(count_status(rep, "failed"), 3);
    assert_int_equal(count_status(rep, "ok"), 2);
    assert_int_equal(count_status(rep, "not_run"), n - 5);
    for (size_t i = 5; i < n; i++) {
        expect_status(rep, i, "not_run");
        expect_message(rep, i, NULL);
    }
    expect_message(rep, 4, "boom");
    prog_check_sane(&p);
    assert_int_equal(p.last.groups_done, 5);
    assert_int_equal(p.last.groups_failed, 3);
    herd_frame_free(rep);

    /* Exactly max_failed failures is within budget. */
    ctx_init(&c, &fx, 2);
    c.behaviour[5] = c.behaviour[9] = B_FAIL_NOMSG;
    c.code[5] = c.code[9] = HERD_EIO;
    o = opts(2);
    o.max_failed = 2;
    rc = herd_apply(fx.groups, group_cb, &c, &o, &rep);
    assert_int_equal(rc, HERD_OK);
    expect_calls(&c, n, 1);
    assert_int_equal(count_status(rep, "failed"), 2);
    herd_frame_free(rep);
    ctx_check_done(&c);

    /* Skips do not count against the budget. */
    ctx_init(&c, &fx, 1);
    for (size_t i = 0; i < n; i++) c.behaviour[i] = B_SKIP_NOMSG;
    o = opts(1);
    o.max_failed = 0;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, &rep), HERD_OK);
    assert_int_equal(count_status(rep, "skipped"), n);
    herd_frame_free(rep);
    ctx_check_done(&c);
    fixture_free(&fx);
}

/* The cancel flag, set from inside the k-th callback on one worker: that
 * task finishes, no other starts. */
static void test_cancel_flag(void **state)
{
    (void)state;
    const size_t n = 10, k = 3;
    fixture fx;
    fixture_uniform(&fx, n, 2);
    int cancel = 0;
    cb_ctx c;
    ctx_init(&c, &fx, 1);
    c.cancel = &cancel;
    c.cancel_after = k;
    prog_ctx p;
    prog_init(&p);
    herd_apply_options o = opts(1);
    o.cancel = &cancel;
    o.progress = progress_cb;
    o.progress_user = &p;
    herd_frame *rep = NULL;
    int rc = herd_apply(fx.groups, group_cb, &c, &o, &rep);
    assert_int_equal(rc, HERD_ECANCELED);
    expect_error(HERD_ECANCELED, "cancel");
    ctx_check_done(&c);
    if (atomic_load(&c.total_calls) != (int)k)
        fail_msg("%d groups ran; the flag was set during group %zu, so no later group may start",
                 atomic_load(&c.total_calls), k);
    check_report_shape(rep, n);
    for (size_t i = 0; i < n; i++) expect_status(rep, i, i < k ? "ok" : "not_run");
    prog_check_sane(&p);
    assert_int_equal(p.last.groups_done, k);
    assert_int_equal(p.last.groups_total, n);
    herd_frame_free(rep);

    /* Already set before the call: nothing runs, every group "not_run". */
    cancel = 1;
    atomic_int calls = 0;
    o = opts(2);
    o.cancel = &cancel;
    rc = herd_apply(fx.groups, never_cb, &calls, &o, &rep);
    assert_int_equal(rc, HERD_ECANCELED);
    assert_int_equal(atomic_load(&calls), 0);
    assert_int_equal(count_status(rep, "not_run"), n);
    herd_frame_free(rep);

    /* A flag that stays 0 changes nothing. */
    cancel = 0;
    o = opts(2);
    o.cancel = &cancel;
    assert_int_equal(herd_apply(fx.groups, never_cb, &calls, &o, NULL), HERD_OK);
    assert_int_equal(atomic_load(&calls), n);
    fixture_free(&fx);
}

/* Cancelling from the progress callback: slow groups, short interval.  The
 * callback cancels once two groups are done; the job would need about 1 s
 * to finish otherwise. */
static void test_progress_cancel(void **state)
{
    (void)state;
    const size_t n = 100;
    fixture fx;
    fixture_uniform(&fx, n, 2);
    cb_ctx c;
    ctx_init(&c, &fx, 2);
    c.sleep_us = 20000;
    prog_ctx p;
    prog_init(&p);
    p.cancel_at_done = 2;
    herd_apply_options o = opts(2);
    o.progress = progress_cb;
    o.progress_user = &p;
    o.progress_interval_s = 0.01;
    herd_frame *rep = NULL;
    int rc = herd_apply(fx.groups, group_cb, &c, &o, &rep);
    assert_int_equal(rc, HERD_ECANCELED);
    expect_error(HERD_ECANCELED, "cancel");
    ctx_check_done(&c);
    int ran = atomic_load(&c.total_calls);
    assert_true(ran >= 2 && ran < (int)n);
    assert_true(p.returned_cancel >= 1);
    prog_check_sane(&p);
    assert_int_equal(p.last.groups_done, (size_t)ran); /* the final call */
    check_report_shape(rep, n);
    assert_int_equal(count_status(rep, "ok"), (size_t)ran);
    assert_int_equal(count_status(rep, "not_run"), n - (size_t)ran);
    for (size_t i = 0; i < n; i++) assert_true(atomic_load(&c.calls[i]) <= 1);
    herd_frame_free(rep);
    fixture_free(&fx);
}

/* ------------------------------------------------------------------------
 * Progress
 * --------------------------------------------------------------------- */

static void test_progress_final(void **state)
{
    (void)state;
    const size_t sizes[] = {4, 9, 1, 6, 2, 2, 8, 5, 3, 7, 1, 1, 4, 6, 2, 2, 9, 3, 5, 5};
    const size_t n = sizeof sizes / sizeof sizes[0];
    fixture fx;
    fixture_make(&fx, sizes, n);
    cb_ctx c;
    ctx_init(&c, &fx, 2);
    c.sleep_us = 1000;
    c.behaviour[2] = B_FAIL_MSG;
    c.code[2] = HERD_EFORMAT;
    c.message[2] = "x";
    c.behaviour[11] = B_SKIP_MSG;
    c.message[11] = "y";
    c.behaviour[12] = B_SKIP_NOMSG;
    prog_ctx p;
    prog_init(&p);
    herd_apply_options o = opts(2);
    o.progress = progress_cb;
    o.progress_user = &p;
    o.progress_interval_s = 0.001;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    ctx_check_done(&c);
    prog_check_sane(&p);
    assert_int_equal(p.last.struct_size, sizeof(herd_progress));
    assert_int_equal(p.last.groups_total, n);
    assert_int_equal(p.last.groups_done, n);
    assert_int_equal(p.last.groups_failed, 1);
    assert_int_equal(p.last.groups_skipped, 2);
    assert_int_equal(p.last.rows_total, fx.nrows);
    assert_int_equal(p.last.rows_done, fx.nrows);
    assert_true(p.last.elapsed_s >= 0 && p.last.elapsed_s < 60);
    fixture_free(&fx);
}

/* Progress is reported about every interval while groups keep finishing
 * more often than that (each finish wakes the coordinator). */
static void test_progress_periodic(void **state)
{
    (void)state;
    const size_t n = 60;
    fixture fx;
    fixture_uniform(&fx, n, 1);
    cb_ctx c;
    ctx_init(&c, &fx, 1);
    c.sleep_us = 5000; /* 60 x 5 ms: at least 0.3 s */
    prog_ctx p;
    prog_init(&p);
    herd_apply_options o = opts(1);
    o.progress = progress_cb;
    o.progress_user = &p;
    o.progress_interval_s = 0.02;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    ctx_check_done(&c);
    prog_check_sane(&p);
    assert_int_equal(p.last.groups_done, n);
    /* Ideally about 15; at least 3 allows for a very loaded machine. */
    if (p.intermediate < 3)
        fail_msg("only %zu progress calls during a 0.3 s job with a 0.02 s interval",
                 p.intermediate);
    fixture_free(&fx);
}

static void test_empty(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx, NULL, 0);
    assert_int_equal(herd_groups_count(fx.groups), 0);
    atomic_int calls = 0;
    prog_ctx p;
    prog_init(&p);
    herd_apply_options o = opts(3);
    o.progress = progress_cb;
    o.progress_user = &p;
    herd_frame *rep = NULL;
    int rc = herd_apply(fx.groups, never_cb, &calls, &o, &rep);
    if (rc) fail_msg("herd_apply on no groups: %s", herd_last_error());
    assert_int_equal(atomic_load(&calls), 0);
    check_report_shape(rep, 0);
    herd_frame_free(rep);
    prog_check_sane(&p);
    assert_int_equal(p.last.groups_total, 0);
    assert_int_equal(p.last.groups_done, 0);
    assert_int_equal(p.last.rows_total, 0);
    /* Also with the budget at 0 and default threads. */
    o = opts(0);
    o.max_failed = 0;
    assert_int_equal(herd_apply(fx.groups, never_cb, &calls, &o, NULL), HERD_OK);
    fixture_free(&fx);
}

/* ------------------------------------------------------------------------
 * Threads and the big-group policy
 * --------------------------------------------------------------------- */

static void test_threads_counts(void **state)
{
    (void)state;
    const size_t n = 30;
    fixture fx;
    fixture_uniform(&fx, n, 3);

    /* threads = 3: at most 3 distinct workers, all in [0, 3). */
    cb_ctx c;
    ctx_init(&c, &fx, 3);
    c.sleep_us = 1000;
    herd_apply_options o = opts(3);
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    expect_calls(&c, n, 1);
    ctx_check_done(&c);
    unsigned long long mask = atomic_load(&c.worker_mask);
    assert_true(popcount64(mask) >= 1 && popcount64(mask) <= 3);
    assert_true((mask & ~7ull) == 0);
    assert_true(atomic_load(&c.max_tasks) <= 3);

    /* More threads than groups. */
    fixture small;
    fixture_uniform(&small, 3, 2);
    ctx_init(&c, &small, 64);
    o = opts(64);
    herd_frame *rep = NULL;
    assert_int_equal(herd_apply(small.groups, group_cb, &c, &o, &rep), HERD_OK);
    expect_calls(&c, 3, 1);
    ctx_check_done(&c);
    assert_int_equal(count_status(rep, "ok"), 3);
    herd_frame_free(rep);
    fixture_free(&small);

    /* threads = 0: herd_default_threads() workers. */
    int def = herd_default_threads();
    assert_true(def >= 1 && def <= 1024);
    ctx_init(&c, &fx, def);
    o = opts(0);
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    expect_calls(&c, n, 1);
    ctx_check_done(&c);
    fixture_free(&fx);
}

/* threads = 0 sizes the pool with herd_default_threads(): visible through
 * the CPU threads the big group gets, ceil(0.9 * T) of T. */
static void test_default_threads_big_group(void **state)
{
    (void)state;
    size_t sizes[11] = {90};
    for (size_t i = 1; i < 11; i++) sizes[i] = 1;
    fixture fx;
    fixture_make(&fx, sizes, 11);
    int T = herd_default_threads();
    cb_ctx c;
    ctx_init(&c, &fx, T);
    herd_apply_options o = opts(0);
    o.parallel_group_rows = 10;
    herd_frame *rep = NULL;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, &rep), HERD_OK);
    ctx_check_done(&c);
    int want = T <= 1 ? 1 : (90 * T + 99) / 100;
    if (want > T) want = T;
    assert_int_equal(c.nthread_seen[0], want);
    assert_int_equal(rep_i64(rep, 5, 0), want);
    herd_frame_free(rep);
    fixture_free(&fx);
}

static void test_big_group_policy(void **state)
{
    (void)state;
    /* Group 0 holds 90 of 100 rows. */
    size_t sizes[11] = {90};
    for (size_t i = 1; i < 11; i++) sizes[i] = 1;
    fixture fx;
    fixture_make(&fx, sizes, 11);

    cb_ctx c;
    ctx_init(&c, &fx, 2);
    c.sleep_us = 2000;
    c.big_sleep_us = 30000; /* long enough for a broken pool to overlap it */
    c.multi_alone = 1;
    herd_apply_options o = opts(2);
    o.parallel_group_rows = 10;
    herd_frame *rep = NULL;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, &rep), HERD_OK);
    expect_calls(&c, 11, 1);
    ctx_check_done(&c); /* includes: nothing ran alongside the 2-thread task */
    assert_int_equal(c.nthread_seen[0], 2);
    assert_true(atomic_load(&c.max_slots) <= 2);
    check_report_shape(rep, 11);
    assert_int_equal(rep_i64(rep, 5, 0), 2);
    for (size_t i = 1; i < 11; i++) {
        assert_int_equal(c.nthread_seen[i], 1);
        assert_int_equal(rep_i64(rep, 5, i), 1);
    }
    herd_frame_free(rep);

    /* The threshold is inclusive: 90 rows with parallel_group_rows 90. */
    ctx_init(&c, &fx, 2);
    c.multi_alone = 1;
    c.big_sleep_us = 10000;
    o.parallel_group_rows = 90;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    ctx_check_done(&c);
    assert_int_equal(c.nthread_seen[0], 2);

    /* Below the threshold, SIZE_MAX, or one thread: one thread each. */
    const size_t thresholds[] = {91, SIZE_MAX};
    for (size_t k = 0; k < 2; k++) {
        ctx_init(&c, &fx, 2);
        o.parallel_group_rows = thresholds[k];
        assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, &rep), HERD_OK);
        ctx_check_done(&c);
        for (size_t i = 0; i < 11; i++) {
            assert_int_equal(c.nthread_seen[i], 1);
            assert_int_equal(rep_i64(rep, 5, i), 1);
        }
        herd_frame_free(rep);
    }
    ctx_init(&c, &fx, 1);
    o = opts(1);
    o.parallel_group_rows = 1;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    ctx_check_done(&c);
    for (size_t i = 0; i < 11; i++) assert_int_equal(c.nthread_seen[i], 1);
    fixture_free(&fx);

    /* Two halves on two threads: neither is more than its share. */
    const size_t halves[] = {50, 50};
    fixture_make(&fx, halves, 2);
    ctx_init(&c, &fx, 2);
    o = opts(2);
    o.parallel_group_rows = 1;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, NULL), HERD_OK);
    ctx_check_done(&c);
    assert_int_equal(c.nthread_seen[0], 1);
    assert_int_equal(c.nthread_seen[1], 1);
    fixture_free(&fx);
}

/* Four threads, a group with 60% of the rows: it gets ceil(2.4) = 3 CPU
 * slots, small groups share the last one; the slots in use never exceed 4
 * (and at most 2 tasks run while it runs). */
static void test_big_group_slots(void **state)
{
    (void)state;
    size_t sizes[21] = {60};
    for (size_t i = 1; i < 21; i++) sizes[i] = 2;
    fixture fx;
    fixture_make(&fx, sizes, 21);
    cb_ctx c;
    ctx_init(&c, &fx, 4);
    c.sleep_us = 2000;
    c.big_sleep_us = 20000;
    herd_apply_options o = opts(4);
    o.parallel_group_rows = 10;
    herd_frame *rep = NULL;
    assert_int_equal(herd_apply(fx.groups, group_cb, &c, &o, &rep), HERD_OK);
    expect_calls(&c, 21, 1);
    ctx_check_done(&c); /* includes: slots in use never above 4 */
    assert_int_equal(c.nthread_seen[0], 3);
    assert_int_equal(rep_i64(rep, 5, 0), 3);
    assert_true(atomic_load(&c.max_slots) <= 4);
    assert_true(atomic_load(&c.max_tasks) <= 4);
    herd_frame_free(rep);
    fixture_free(&fx);
}

/* ------------------------------------------------------------------------
 * hd_job_run directly: several tasks per group, worker hooks
 * --------------------------------------------------------------------- */

typedef struct job_ctx {
    int status_of[16]; /* return code per task */
    atomic_int ran[16];
    pthread_t task_thread[16];
    int task_worker[16];
    int task_nthread[16];
    atomic_int started[8], stopped[8];
    pthread_t worker_thread[8];
    atomic_int tasks_after_stop;
    atomic_int tasks_before_start;
    long sleep_us;
} job_ctx;

static int job_run_cb(void *ctx, size_t task, int worker, int nthread)
{
    job_ctx *j = ctx;
    atomic_fetch_add(&j->ran[task], 1);
    j->task_thread[task] = pthread_self();
    j->task_worker[task] = worker;
    j->task_nthread[task] = nthread;
    if (worker >= 0 && worker < 8) {
        if (!atomic_load(&j->started[worker])) atomic_fetch_add(&j->tasks_before_start, 1);
        if (atomic_load(&j->stopped[worker])) atomic_fetch_add(&j->tasks_after_stop, 1);
    }
    if (j->sleep_us) sleep_us(j->sleep_us);
    int code = j->status_of[task];
    if (code < 0) return herd_error_set(code, "task failed");
    return code;
}

static void job_worker_start(void *ctx, int worker)
{
    job_ctx *j = ctx;
    if (worker < 0 || worker >= 8) return;
    j->worker_thread[worker] = pthread_self();
    atomic_fetch_add(&j->started[worker], 1);
}

static void job_worker_stop(void *ctx, int worker)
{
    job_ctx *j = ctx;
    if (worker < 0 || worker >= 8) return;
    if (!pthread_equal(j->worker_thread[worker], pthread_self()))
        atomic_fetch_add(&j->tasks_after_stop, 100); /* wrong thread */
    atomic_fetch_add(&j->stopped[worker], 1);
}

static void test_job_multi_task_groups(void **state)
{
    (void)state;
    const size_t task_group[] = {0, 0, 1, 1, 2, 2};
    const size_t task_rows[] = {5, 5, 3, 3, 1, 1};
    job_ctx j;
    memset(&j, 0, sizeof j);
    j.status_of[2] = HERD_EFORMAT; /* group 1 fails through one of its tasks */
    j.status_of[5] = HERD_SKIP;    /* group 2: one ok, one skipped: skipped */
    hd_job job = {.ntasks = 6,
                  .ngroups = 3,
                  .task_group = task_group,
                  .task_rows = task_rows,
                  .run = job_run_cb,
                  .worker_start = job_worker_start,
                  .worker_stop = job_worker_stop,
                  .ctx = &j};
    hd_apply_config cfg;
    assert_int_equal(hd_apply_config_read(NULL, &cfg, "test"), HERD_OK);
    cfg.threads = 2;
    prog_ctx p;
    prog_init(&p);
    cfg.progress = progress_cb;
    cfg.progress_user = &p;
    hd_task_result *res = calloc(6, sizeof *res);
    assert_non_null(res);
    assert_int_equal(hd_job_run(&job, &cfg, res), HERD_OK);
    for (size_t t = 0; t < 6; t++) {
        assert_int_equal(atomic_load(&j.ran[t]), 1);
        assert_int_equal(res[t].nthread, 1);
        assert_true(res[t].seconds >= 0);
    }
    assert_int_equal(res[2].status, HD_TASK_FAILED);
    assert_int_equal(res[2].code, HERD_EFORMAT);
    assert_non_null(res[2].message);
    assert_string_equal(res[2].message, "task failed");
    assert_int_equal(res[5].status, HD_TASK_SKIPPED);
    assert_int_equal(res[5].code, HERD_SKIP);
    assert_null(res[5].message);
    assert_int_equal(res[0].status, HD_TASK_OK);
    assert_null(res[0].message);
    prog_check_sane(&p);
    assert_int_equal(p.last.groups_total, 3);
    assert_int_equal(p.last.groups_done, 3);
    assert_int_equal(p.last.groups_failed, 1);
    assert_int_equal(p.last.groups_skipped, 1);
    assert_int_equal(p.last.rows_total, 18);
    assert_int_equal(p.last.rows_done, 18);
    /* Worker hooks: once each, on the worker's own thread, around its tasks. */
    for (int w = 0; w < 2; w++) {
        assert_int_equal(atomic_load(&j.started[w]), 1);
        assert_int_equal(atomic_load(&j.stopped[w]), 1);
    }
    for (int w = 2; w < 8; w++) assert_int_equal(atomic_load(&j.started[w]), 0);
    assert_int_equal(atomic_load(&j.tasks_before_start), 0);
    assert_int_equal(atomic_load(&j.tasks_after_stop), 0);
    for (size_t t = 0; t < 6; t++) {
        int w = j.task_worker[t];
        assert_true(w >= 0 && w < 2);
        assert_true(pthread_equal(j.task_thread[t], j.worker_thread[w]));
    }
    hd_task_results_free(res, 6);
    hd_task_results_free(NULL, 0);
}

/* The budget counts groups, not tasks: both tasks of the failing group run
 * before the group counts as failed. */
static void test_job_budget_counts_groups(void **state)
{
    (void)state;
    const size_t task_group[] = {0, 0, 1, 1, 2, 2};
    const size_t task_rows[] = {5, 5, 3, 3, 1, 1};
    job_ctx j;
    memset(&j, 0, sizeof j);
    j.status_of[0] = HERD_EIO;
    j.status_of[1] = HERD_EIO;
    hd_job job = {.ntasks = 6, .ngroups = 3, .task_group = task_group, .task_rows = task_rows,
                  .run = job_run_cb, .ctx = &j};
    hd_apply_config cfg;
    assert_int_equal(hd_apply_config_read(NULL, &cfg, "test"), HERD_OK);
    cfg.threads = 1;
    cfg.max_failed = 0;
    hd_task_result *res = calloc(6, sizeof *res);
    assert_non_null(res);
    assert_int_equal(hd_job_run(&job, &cfg, res), HERD_EBUDGET);
    expect_error(HERD_EBUDGET, "max_failed");
    assert_int_equal(res[0].status, HD_TASK_FAILED);
    assert_int_equal(res[1].status, HD_TASK_FAILED);
    for (size_t t = 2; t < 6; t++) {
        assert_int_equal(res[t].status, HD_TASK_NOT_RUN);
        assert_int_equal(atomic_load(&j.ran[t]), 0);
    }
    hd_task_results_free(res, 6);
}

static void test_task_status_names(void **state)
{
    (void)state;
    assert_string_equal(hd_task_status_name(HD_TASK_OK), "ok");
    assert_string_equal(hd_task_status_name(HD_TASK_FAILED), "failed");
    assert_string_equal(hd_task_status_name(HD_TASK_SKIPPED), "skipped");
    assert_string_equal(hd_task_status_name(HD_TASK_NOT_RUN), "not_run");
    assert_string_equal(hd_task_status_name(42), "not_run");
}

/* Several herd_apply calls at once on the same groups. */
typedef struct concurrent_arg {
    const fixture *fx;
    int rc;
    int calls_ok;
} concurrent_arg;

static void *concurrent_apply(void *arg)
{
    concurrent_arg *a = arg;
    atomic_int calls = 0;
    herd_apply_options o = opts(2);
    a->rc = herd_apply(a->fx->groups, never_cb, &calls, &o, NULL);
    a->calls_ok = atomic_load(&calls) == (int)a->fx->ngroups;
    return NULL;
}

static void test_concurrent_applies(void **state)
{
    (void)state;
    fixture fx;
    fixture_uniform(&fx, 40, 2);
    pthread_t th[3];
    concurrent_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i].fx = &fx;
        args[i].rc = -999;
        args[i].calls_ok = 0;
        assert_int_equal(pthread_create(&th[i], NULL, concurrent_apply, &args[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].rc, HERD_OK);
        assert_true(args[i].calls_ok);
    }
    fixture_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_error_set_thread_local),
        cmocka_unit_test(test_options_init_defaults),
        cmocka_unit_test(test_options_invalid),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_every_group_once),
        cmocka_unit_test(test_report_null),
        cmocka_unit_test(test_failure_isolation),
        cmocka_unit_test(test_report_seconds),
        cmocka_unit_test(test_largest_first),
        cmocka_unit_test(test_error_budget),
        cmocka_unit_test(test_cancel_flag),
        cmocka_unit_test(test_progress_cancel),
        cmocka_unit_test(test_progress_final),
        cmocka_unit_test(test_progress_periodic),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_threads_counts),
        cmocka_unit_test(test_default_threads_big_group),
        cmocka_unit_test(test_big_group_policy),
        cmocka_unit_test(test_big_group_slots),
        cmocka_unit_test(test_job_multi_task_groups),
        cmocka_unit_test(test_job_budget_counts_groups),
        cmocka_unit_test(test_task_status_names),
        cmocka_unit_test(test_concurrent_applies),
    };
    return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}
