/* test_log.c -- log records and progress: records raised on worker threads
 * reach the host on the thread that called herd, bounded (drops counted);
 * herd_log_set's guarantee that the previous callback is done with when it
 * returns, its refusal inside a callback; no recursion; progress phases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "herd.h"
#include "common/log_internal.h"
#include "train/apply_internal.h"

#define EXPECT_OK(call)                                                              \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != HERD_OK) fail_msg("%s: %s (%s)", #call, herd_status_str(rc_),     \
                                     herd_last_error());                             \
    } while (0)

/* ---- a frame of n groups of 3 rows -------------------------------------- */

typedef struct groups_fx {
    herd_frame *frame;
    herd_groups *groups;
} groups_fx;

static void groups_make(groups_fx *fx, int n)
{
    int64_t *k = malloc((size_t)n * 3 * sizeof *k);
    for (int i = 0; i < n * 3; i++) k[i] = i / 3;
    EXPECT_OK(herd_frame_new(&fx->frame));
    EXPECT_OK(herd_frame_add_column(fx->frame, "k", HERD_TYPE_INT64, k, (size_t)n * 3, NULL));
    const char *keys[] = {"k"};
    EXPECT_OK(herd_groups_new(fx->frame, keys, 1, &fx->groups));
    free(k);
}

static void groups_free(groups_fx *fx)
{
    herd_groups_free(fx->groups);
    herd_frame_free(fx->frame);
}

/* ---- a recording callback ----------------------------------------------- */

#define MAX_KEPT 64

typedef struct seen {
    pthread_t caller;
    size_t records;
    size_t other_thread;  /* records delivered on another thread */
    size_t bad_struct;
    size_t from_groups;   /* "work of group" records */
    size_t dropped;       /* summed from the drop records */
    size_t job_end;       /* the pool's end-of-phase record */
    int slow_us;          /* sleep per record */
    atomic_int *hold;     /* the first group record waits until this is 0 */
    char groups[MAX_KEPT][16];
    size_t ngroups;
    char phase[32];
} seen;

static void record_cb(const herd_log_record *r, void *user)
{
    seen *s = user;
    s->records++;
    if (!pthread_equal(pthread_self(), s->caller)) s->other_thread++;
    if (r->struct_size != sizeof(herd_log_record) || !r->message || !r->source ||
        !(r->elapsed_s >= 0))
        s->bad_struct++;
    if (strncmp(r->message, "work of group", 13) == 0) {
        while (s->hold && atomic_load(s->hold) > 0) usleep(1000);
        s->from_groups++;
        if (s->ngroups < MAX_KEPT && r->group)
            snprintf(s->groups[s->ngroups++], sizeof s->groups[0], "%s", r->group);
        if (r->phase) snprintf(s->phase, sizeof s->phase, "%s", r->phase);
    }
    size_t n = 0;
    if (sscanf(r->message, "%zu log records of herd's worker threads were dropped", &n) == 1)
        s->dropped += n;
    if (strstr(r->message, "groups done in")) s->job_end++;
    if (s->slow_us) usleep((useconds_t)s->slow_us);
}

static void seen_init(seen *s)
{
    memset(s, 0, sizeof *s);
    s->caller = pthread_self();
}

typedef struct work {
    int per_group;      /* records each group raises */
    atomic_int pending; /* groups still raising */
} work;

static int logging_group(const herd_group_task *t, void *user)
{
    work *w = user;
    for (int i = 0; i < w->per_group; i++) hd_log(HERD_LOG_INFO, "work of group %d", i);
    atomic_fetch_sub(&w->pending, 1);
    (void)t;
    return HERD_OK;
}

/* Every record raised on the workers arrives on the calling thread, with
 * its group and the call's phase. */
static void test_records_on_calling_thread(void **state)
{
    (void)state;
    groups_fx fx;
    groups_make(&fx, 12);
    seen s;
    seen_init(&s);
    EXPECT_OK(herd_log_set(record_cb, &s, HERD_LOG_DEBUG));
    herd_apply_options o;
    herd_apply_options_init(&o, HERD_APPLY_OPTIONS_VERSION);
    o.threads = 4;
    work w = {.per_group = 1, .pending = 12};
    EXPECT_OK(herd_apply(fx.groups, logging_group, &w, &o, NULL));
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
    assert_int_equal(s.other_thread, 0);
    assert_int_equal(s.bad_struct, 0);
    assert_int_equal(s.from_groups, 12);
    assert_int_equal(s.job_end, 1);
    assert_string_equal(s.phase, "apply");
    /* each group's record names its group, every group once */
    int hit[12] = {0};
    for (size_t i = 0; i < s.ngroups; i++) hit[atoi(s.groups[i])]++;
    for (int g = 0; g < 12; g++) assert_int_equal(hit[g], 1);
    groups_free(&fx);
}

/* A callback slower than the workers (here: its first delivery waits until
 * both groups raised all their records): the queue holds HERD_LOG_QUEUE_MAX
 * records, the rest are dropped and reported; none is lost silently. */
static void test_drops_counted(void **state)
{
    (void)state;
    groups_fx fx;
    groups_make(&fx, 2);
    seen s;
    seen_init(&s);
    work w = {.per_group = 2 * HERD_LOG_QUEUE_MAX, .pending = 2};
    s.hold = &w.pending;
    EXPECT_OK(herd_log_set(record_cb, &s, HERD_LOG_DEBUG));
    herd_apply_options o;
    herd_apply_options_init(&o, HERD_APPLY_OPTIONS_VERSION);
    o.threads = 2;
    EXPECT_OK(herd_apply(fx.groups, logging_group, &w, &o, NULL));
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
    assert_int_equal(s.other_thread, 0);
    /* What waited was delivered, the rest counted: at most the batch the
     * coordinator had taken when its callback blocked, and a full queue. */
    assert_int_equal(s.from_groups + s.dropped, 2 * 2 * HERD_LOG_QUEUE_MAX);
    assert_true(s.from_groups >= HERD_LOG_QUEUE_MAX);
    assert_true(s.from_groups <= 2 * HERD_LOG_QUEUE_MAX);
    groups_free(&fx);
}

/* ---- herd_log_set's guarantee -------------------------------------------- */

typedef struct slow {
    atomic_int inside;
    atomic_int returned;
    atomic_int calls;
} slow;

static void slow_cb(const herd_log_record *r, void *user)
{
    (void)r;
    slow *s = user;
    atomic_fetch_add(&s->calls, 1);
    atomic_store(&s->inside, 1);
    usleep(200 * 1000);
    atomic_store(&s->returned, 1);
}

static void *log_once(void *arg)
{
    (void)arg;
    hd_log(HERD_LOG_WARN, "from another thread");
    return NULL;
}

/* When herd_log_set returns, a delivery of the previous callback running on
 * another thread has returned, and that callback is never called again. */
static void test_log_set_waits_for_previous(void **state)
{
    (void)state;
    slow *s = calloc(1, sizeof *s);
    EXPECT_OK(herd_log_set(slow_cb, s, HERD_LOG_WARN));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, log_once, NULL), 0);
    while (!atomic_load(&s->inside)) usleep(1000);
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
    assert_int_equal(atomic_load(&s->returned), 1); /* it waited */
    pthread_join(t, NULL);
    int calls = atomic_load(&s->calls);
    free(s); /* the guarantee: `user` may go now */
    hd_log(HERD_LOG_ERROR, "after");
    assert_int_equal(calls, 1);
}

typedef struct reentrant {
    int set_rc;
    int calls;
} reentrant;

static void reentrant_cb(const herd_log_record *r, void *user)
{
    (void)r;
    reentrant *x = user;
    x->calls++;
    x->set_rc = herd_log_set(NULL, NULL, 0);
    hd_log(HERD_LOG_ERROR, "raised inside the callback"); /* not delivered: no recursion */
}

static void test_log_set_refused_inside_callback(void **state)
{
    (void)state;
    reentrant x = {0, 0};
    EXPECT_OK(herd_log_set(reentrant_cb, &x, HERD_LOG_DEBUG));
    hd_log(HERD_LOG_WARN, "one");
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.set_rc, HERD_EBUSY);
    assert_non_null(strstr(herd_last_error(), "inside a log callback"));
    hd_log(HERD_LOG_WARN, "two"); /* still installed */
    assert_int_equal(x.calls, 2);
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
    hd_log(HERD_LOG_WARN, "three");
    assert_int_equal(x.calls, 2);
}

static void test_log_set_arguments(void **state)
{
    (void)state;
    seen s;
    seen_init(&s);
    assert_int_equal(herd_log_set(record_cb, &s, 4), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "max_level is 4"));
    assert_int_equal(herd_log_set(record_cb, &s, -1), HERD_EINVAL);
    hd_log(HERD_LOG_ERROR, "nobody listens");
    assert_int_equal(s.records, 0);
    EXPECT_OK(herd_log_set(NULL, NULL, 99)); /* no callback: the level is ignored */
    assert_string_equal(herd_log_level_name(HERD_LOG_ERROR), "error");
    assert_string_equal(herd_log_level_name(HERD_LOG_WARN), "warn");
    assert_string_equal(herd_log_level_name(HERD_LOG_INFO), "info");
    assert_string_equal(herd_log_level_name(HERD_LOG_DEBUG), "debug");
    assert_string_equal(herd_log_level_name(7), "unknown");
}

/* Records carry the scope's fields; an inner scope keeps the outer call's
 * phases, family and start; outside any scope the fields are NULL. */
typedef struct last_record {
    char phase[32], family[32], run[32], group[32], source[16];
    double elapsed;
    int count;
} last_record;

static void keep_last(const herd_log_record *r, void *user)
{
    last_record *l = user;
    l->count++;
    snprintf(l->phase, sizeof l->phase, "%s", r->phase ? r->phase : "(null)");
    snprintf(l->family, sizeof l->family, "%s", r->family ? r->family : "(null)");
    snprintf(l->run, sizeof l->run, "%s", r->run_id ? r->run_id : "(null)");
    snprintf(l->group, sizeof l->group, "%s", r->group ? r->group : "(null)");
    snprintf(l->source, sizeof l->source, "%s", r->source);
    l->elapsed = r->elapsed_s;
}

static void test_scope_fields(void **state)
{
    (void)state;
    last_record l;
    memset(&l, 0, sizeof l);
    EXPECT_OK(herd_log_set(keep_last, &l, HERD_LOG_DEBUG));
    static const char *const plan[] = {"first", "second"};
    hd_scope outer, inner;
    hd_scope_enter(&outer, plan, 2, "fam", "run1");
    hd_log(HERD_LOG_INFO, "x");
    assert_string_equal(l.phase, "first");
    assert_string_equal(l.family, "fam");
    assert_string_equal(l.run, "run1");
    assert_string_equal(l.group, "(null)");
    assert_string_equal(l.source, "herd");
    assert_true(l.elapsed >= 0 && l.elapsed < 60);
    hd_scope_phase("second");
    hd_scope_phase("not in the plan"); /* ignored */
    static const char *const inner_plan[] = {"inner"};
    hd_scope_enter(&inner, inner_plan, 1, NULL, "run2");
    hd_log_group(HERD_LOG_INFO, "g7", "y");
    assert_string_equal(l.phase, "second"); /* the outer call's numbering */
    assert_string_equal(l.family, "fam");
    assert_string_equal(l.run, "run2");
    assert_string_equal(l.group, "g7");
    int index = 0, total = 0;
    assert_string_equal(hd_scope_phase_of(hd_scope_current(), &index, &total), "second");
    assert_int_equal(index, 2);
    assert_int_equal(total, 2);
    hd_scope_leave(&inner);
    hd_scope_leave(&outer);
    hd_log(HERD_LOG_INFO, "z");
    assert_string_equal(l.phase, "(null)");
    assert_string_equal(l.family, "(null)");
    assert_true(l.elapsed == 0);
    hd_log(HERD_LOG_DEBUG + 1, "above every level");
    assert_int_equal(l.count, 3);
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
}

/* ---- progress phases ------------------------------------------------------ */

typedef struct phases {
    int calls, bad;
    int last_index, last_total;
    size_t last_done;
    char last_phase[32];
    pthread_t caller;
} phases;

static int phases_cb(const herd_progress *p, void *user)
{
    phases *ph = user;
    ph->calls++;
    if (!pthread_equal(pthread_self(), ph->caller)) ph->bad++;
    if (!p->phase || p->phase_index < 1 || p->phase_index > p->phase_total) ph->bad++;
    if (p->phase_index < ph->last_index) ph->bad++; /* phases only move forward */
    if (p->phase_index == ph->last_index && p->groups_done < ph->last_done) ph->bad++;
    if (p->groups_done > p->groups_total) ph->bad++;
    ph->last_index = p->phase_index;
    ph->last_total = p->phase_total;
    ph->last_done = p->groups_done;
    snprintf(ph->last_phase, sizeof ph->last_phase, "%s", p->phase ? p->phase : "");
    return 0;
}

static void test_apply_progress_phase(void **state)
{
    (void)state;
    groups_fx fx;
    groups_make(&fx, 20);
    phases ph;
    memset(&ph, 0, sizeof ph);
    ph.caller = pthread_self();
    herd_apply_options o;
    herd_apply_options_init(&o, HERD_APPLY_OPTIONS_VERSION);
    o.threads = 3;
    o.progress = phases_cb;
    o.progress_user = &ph;
    o.progress_interval_s = 0.001;
    work w = {.per_group = 0, .pending = 20};
    EXPECT_OK(herd_apply(fx.groups, logging_group, &w, &o, NULL));
    assert_true(ph.calls >= 1);
    assert_int_equal(ph.bad, 0);
    assert_string_equal(ph.last_phase, "apply");
    assert_int_equal(ph.last_index, 1);
    assert_int_equal(ph.last_total, 1);
    assert_int_equal(ph.last_done, 20);
    groups_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_on_calling_thread),
        cmocka_unit_test(test_drops_counted),
        cmocka_unit_test(test_log_set_waits_for_previous),
        cmocka_unit_test(test_log_set_refused_inside_callback),
        cmocka_unit_test(test_log_set_arguments),
        cmocka_unit_test(test_scope_fields),
        cmocka_unit_test(test_apply_progress_phase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
