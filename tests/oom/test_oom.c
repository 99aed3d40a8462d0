/* test_oom.c -- the `oom` suite: every public operation under allocation
 * failure.
 *
 * For each operation (CSV read, groups, fit, artifact write and read,
 * registry open, commit, commit with its record in tiny chunks, check,
 * compare, cycle, predict, registry predict) and N = 1, 2, 3...: make the N-th allocation of the operation fail
 * (hd_alloc_fail_at, the hook of the test build of common/mem.c that this
 * program links: libherd_faults) and run it, until a run completes without
 * reaching its N-th allocation.  Every run that hit the failure must:
 *   - return HERD_ENOMEM with the out-of-memory message, or, for the
 *     operations that run one task per group and report each group's fate
 *     (fit, predict, compare, cycle, registry predict), report the group
 *     whose allocation failed as failed with that message -- a failure in
 *     one group's task is that group's, by design (docs/results.md);
 *   - leave nothing allocated (the ASan build's leak check fails the test
 *     otherwise);
 *   - leave the registry it wrote to opening and checking clean.
 * cJSON's allocations are routed through the same hook (cJSON_InitHooks,
 * here in the test: the library never sets them); zlib's go through
 * herd's allocator.  XGBoost's allocations are not herd's: it allocates
 * with C++ new inside its own calls, which this hook cannot fail, and
 * which XGBoost reports (as an exception turned into an error code) on its
 * own.  The registry runs on the simulated filesystem (tests/support), whose
 * own allocations are not counted.
 *
 * Each loop prints its count ("oom: fit: 812 allocations, each failed in
 * turn"); the suite's CI budget is a few minutes in the ASan build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/mem_internal.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

#define EXPECT_OK(call)                                                                    \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != HERD_OK)                                                                \
            fail_msg("%s: %s (%s)", #call, herd_status_str(rc_), herd_last_error());       \
    } while (0)

#define REG "/reg"
/* Small on purpose: every allocation of every operation is failed in turn,
 * and the loops' counts grow with the groups (the suite's CI budget). */
#define NGROUPS 2
#define NROWS 12 /* per group */
static const char *const group_names[NGROUPS] = {"a", "b"};

static const char oom_prefix[] = "out of memory";

/* ---- fixtures, built without faults ------------------------------------- */

typedef struct fixture {
    herd_frame *frame;      /* g, week, x, y */
    herd_groups *groups;
    herd_fit_options fit;
    herd_apply_options apply;
    herd_fit_result *result; /* fitted once */
    void *artifact[NGROUPS]; /* serialised, per group */
    size_t artifact_len[NGROUPS];
    char *csv;
    /* per run */
    hd_vfs_sim *sim;
    herd_registry *reg;
    void *out; /* whatever the run produced and the teardown frees */
} fixture;

static const char *const features[] = {"x"};

static void make_frame(fixture *fx)
{
    enum { N = NGROUPS * NROWS };
    const char *g[N];
    int64_t week[N];
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        int k = i / NROWS, r = i % NROWS;
        g[i] = group_names[k];
        week[i] = r;
        x[i] = r * 0.5 + k;
        y[i] = (r % 5) * (k + 1) + 0.25 * r;
    }
    EXPECT_OK(herd_frame_new(&fx->frame));
    EXPECT_OK(herd_frame_add_column(fx->frame, "g", HERD_TYPE_STRING, g, N, NULL));
    EXPECT_OK(herd_frame_add_column(fx->frame, "week", HERD_TYPE_INT64, week, N, NULL));
    EXPECT_OK(herd_frame_add_column(fx->frame, "x", HERD_TYPE_FLOAT64, x, N, NULL));
    EXPECT_OK(herd_frame_add_column(fx->frame, "y", HERD_TYPE_FLOAT64, y, N, NULL));
    const char *keys[] = {"g"};
    EXPECT_OK(herd_groups_new(fx->frame, keys, 1, &fx->groups));
    /* the same rows as CSV text, with a quoted field and a missing value */
    size_t cap = 64 + (size_t)N * 64, len = 0;
    fx->csv = malloc(cap);
    assert_non_null(fx->csv);
    len += (size_t)snprintf(fx->csv + len, cap - len, "g,week,x,y,note\n");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(fx->csv + len, cap - len, "%s,%" PRId64 ",%g,%g,%s\n", g[i],
                                week[i], x[i], y[i], i % 7 ? "\"a, b\"" : "");
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    make_frame(fx);
    herd_fit_options_init(&fx->fit, HERD_FIT_OPTIONS_VERSION);
    fx->fit.features = features;
    fx->fit.n_features = 1;
    fx->fit.label = "y";
    fx->fit.rounds = 2;
    fx->fit.min_rows = 2;
    herd_apply_options_init(&fx->apply, HERD_APPLY_OPTIONS_VERSION);
    fx->apply.threads = 1;
    EXPECT_OK(herd_fit(fx->groups, &fx->fit, &fx->apply, &fx->result));
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "f";
    for (int k = 0; k < NGROUPS; k++) {
        herd_artifact *a = NULL;
        EXPECT_OK(herd_fit_result_artifact(fx->result, group_names[k], &ao, &a));
        EXPECT_OK(herd_artifact_to_buffer(a, &fx->artifact[k], &fx->artifact_len[k]));
        herd_artifact_free(a);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    for (int k = 0; k < NGROUPS; k++) herd_free(fx->artifact[k]);
    herd_fit_result_free(fx->result);
    herd_groups_free(fx->groups);
    herd_frame_free(fx->frame);
    free(fx->csv);
    free(fx);
    return 0;
}

/* cJSON's allocations count like herd's own. */
static void *cjson_malloc(size_t n) { return hd_alloc_should_fail() ? NULL : malloc(n); }

static int group_setup(void **state)
{
    cJSON_Hooks hooks = {.malloc_fn = cjson_malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
    return setup(state);
}

/* ---- the registry of a run, on a fresh simulated filesystem -------------- */

/* Versions 1 (champion) and 2 (challenger) of every group, when `versions`. */
static void registry_new(fixture *fx, int versions)
{
    fx->sim = hd_vfs_sim_new(7, 0);
    assert_non_null(fx->sim);
    EXPECT_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(fx->sim), REG, NULL, &fx->reg));
    if (!versions) return;
    for (int round = 0; round < 2; round++) {
        herd_batch *b = NULL;
        EXPECT_OK(herd_registry_begin(fx->reg, &b));
        for (int k = 0; k < NGROUPS; k++) {
            herd_version_options vo;
            herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
            vo.alias = round ? "challenger" : "champion";
            EXPECT_OK(herd_batch_add_bytes(b, fx->artifact[k], fx->artifact_len[k], &vo, NULL));
        }
        EXPECT_OK(herd_batch_commit(b));
        herd_batch_free(b);
    }
}

/* After a run: the registry opens and checks clean. */
static void registry_check_and_free(fixture *fx)
{
    herd_registry_free(fx->reg);
    fx->reg = NULL;
    herd_registry *reg = NULL;
    EXPECT_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(fx->sim), REG, NULL, &reg));
    herd_frame *problems = NULL;
    int rc = herd_registry_check(reg, &problems);
    if (rc != HERD_OK)
        fail_msg("the registry does not check clean after a failed allocation: %s",
                 herd_last_error());
    herd_frame_free(problems);
    herd_registry_free(reg);
    hd_vfs_sim_free(fx->sim);
    fx->sim = NULL;
}

/* ---- the loop ------------------------------------------------------------- */

typedef struct op {
    const char *name;
    void (*before)(fixture *fx);          /* without faults; may be NULL */
    int (*run)(fixture *fx);              /* the operation */
    /* without faults: HERD_OK if rc is what a run that hit a failure may
     * return (a group's row said out of memory...); frees the run's output */
    int (*after)(fixture *fx, int rc, int hit);
} op;

/* What the run said, kept before its `after` (which calls the library). */
static char run_said[1024];

/* A run that hit the failure: HERD_ENOMEM, saying so (an operation may put
 * its context first: "herd_compare: group 'a' was not compared: out of
 * memory..."). */
static int enomem_said(int rc)
{
    return rc == HERD_ENOMEM && strstr(run_said, oom_prefix) != NULL;
}

static int string_cell(const herd_frame *f, const char *column, size_t row, const char **out)
{
    size_t c;
    *out = NULL;
    if (!f || herd_frame_find(f, column, &c)) return -1;
    int rc = herd_frame_get_string(f, c, row, out);
    return rc == HERD_OK ? 0 : -1;
}

/* A per-group report in which some group failed with the out-of-memory
 * message (status_column "status"/"decision", failed_value "failed"). */
static int group_failed_oom(const herd_frame *report, const char *status_column,
                            const char *failed_value, const char *message_column)
{
    for (size_t r = 0; report && r < herd_frame_row_count(report); r++) {
        const char *status, *message;
        if (string_cell(report, status_column, r, &status) || strcmp(status, failed_value))
            continue;
        if (!string_cell(report, message_column, r, &message) && message &&
            strstr(message, oom_prefix))
            return 1;
    }
    return 0;
}

static void oom_loop(fixture *fx, const op *o)
{
    uint64_t n;
    for (n = 1;; n++) {
        if (o->before) o->before(fx);
        herd_clear_error();
        hd_alloc_fail_at(n);
        int rc = o->run(fx);
        int hit = hd_alloc_fault_hit();
        hd_alloc_fail_at(0);
        snprintf(run_said, sizeof run_said, "%s", herd_last_error());
        if (o->after(fx, rc, hit) != HERD_OK)
            fail_msg("%s: allocation %" PRIu64 " %s: the operation returned %s (%s)", o->name,
                     n, hit ? "failed" : "was not reached", herd_status_str(rc), run_said);
        if (!hit) break;
    }
    printf("oom: %s: %" PRIu64 " allocations, each failed in turn\n", o->name, n - 1);
    fflush(stdout);
}

/* A plain operation: OK when nothing failed, HERD_ENOMEM when it did. */
static int plain_outcome(int rc, int hit)
{
    if (!hit) return rc;
    return enomem_said(rc) ? HERD_OK : HERD_EINTERNAL;
}

/* ---- the operations ------------------------------------------------------- */

static int run_csv(fixture *fx)
{
    herd_frame *f = NULL;
    int rc = herd_frame_read_csv_buffer(fx->csv, strlen(fx->csv), "oom.csv", NULL, &f);
    fx->out = f;
    return rc;
}

static int after_frame(fixture *fx, int rc, int hit)
{
    if (rc != HERD_OK && fx->out) return HERD_EINTERNAL; /* *out NULL on failure */
    herd_frame_free(fx->out);
    fx->out = NULL;
    return plain_outcome(rc, hit);
}

static int run_groups(fixture *fx)
{
    const char *keys[] = {"g", "week"};
    herd_groups *g = NULL;
    int rc = herd_groups_new(fx->frame, keys, 2, &g);
    fx->out = g;
    return rc;
}

static int after_groups(fixture *fx, int rc, int hit)
{
    if (rc != HERD_OK && fx->out) return HERD_EINTERNAL;
    herd_groups_free(fx->out);
    fx->out = NULL;
    return plain_outcome(rc, hit);
}

static int run_fit(fixture *fx)
{
    herd_fit_result *res = NULL;
    int rc = herd_fit(fx->groups, &fx->fit, &fx->apply, &res);
    fx->out = res;
    return rc;
}

static int after_fit(fixture *fx, int rc, int hit)
{
    herd_fit_result *res = fx->out;
    fx->out = NULL;
    int ok = plain_outcome(rc, hit);
    if (rc == HERD_OK) {
        herd_frame *report = NULL;
        EXPECT_OK(herd_fit_result_report(res, &report));
        size_t c;
        EXPECT_OK(herd_frame_find(report, "status", &c));
        int failed = 0;
        for (size_t r = 0; r < herd_frame_row_count(report); r++) {
            const char *s;
            EXPECT_OK(herd_frame_get_string(report, c, r, &s));
            failed += strcmp(s, "ok") != 0;
        }
        /* unhit: every group trained; hit: the group that failed says why */
        if (!hit)
            ok = failed ? HERD_EINTERNAL : HERD_OK;
        else
            ok = group_failed_oom(report, "status", "failed", "message") ? HERD_OK
                                                                          : HERD_EINTERNAL;
        herd_frame_free(report);
    } else if (res) {
        ok = HERD_EINTERNAL;
    }
    herd_fit_result_free(res);
    return ok;
}

static int run_artifact_write(fixture *fx)
{
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "f";
    herd_artifact *a = NULL;
    int rc = herd_fit_result_artifact(fx->result, "b", &ao, &a);
    void *buf = NULL;
    size_t len = 0;
    if (!rc) rc = herd_artifact_to_buffer(a, &buf, &len);
    herd_artifact_free(a);
    herd_free(buf);
    return rc;
}

static int after_plain(fixture *fx, int rc, int hit)
{
    (void)fx;
    return plain_outcome(rc, hit);
}

static int run_artifact_read(fixture *fx)
{
    herd_artifact *a = NULL;
    herd_model *m = NULL;
    int rc = herd_artifact_read(fx->artifact[1], fx->artifact_len[1], &a);
    if (!rc) rc = herd_artifact_model(a, &m);
    herd_model_free(m);
    herd_artifact_free(a);
    return rc;
}

static void before_registry(fixture *fx) { registry_new(fx, 1); }
static void before_empty_registry(fixture *fx) { registry_new(fx, 0); }

static int after_registry(fixture *fx, int rc, int hit)
{
    registry_check_and_free(fx);
    return plain_outcome(rc, hit);
}

/* Open the registry (closing the fixture's handle first). */
static int run_registry_open(fixture *fx)
{
    herd_registry_free(fx->reg);
    fx->reg = NULL;
    herd_registry *reg = NULL;
    int rc = hd_registry_open_vfs(hd_vfs_sim_vfs(fx->sim), REG, NULL, &reg);
    if (!rc) {
        int64_t v;
        rc = herd_registry_resolve(reg, "f", "a", "champion", &v);
    }
    fx->reg = reg;
    return rc;
}

static int run_commit(fixture *fx)
{
    herd_batch *b = NULL;
    int rc = herd_registry_begin(fx->reg, &b);
    for (int k = 0; k < NGROUPS && !rc; k++) {
        const char *tn[] = {"source"}, *tv[] = {"oom"};
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.alias = "candidate";
        vo.tag_names = tn;
        vo.tag_values = tv;
        vo.n_tags = 1;
        rc = herd_batch_add_bytes(b, fx->artifact[k], fx->artifact_len[k], &vo, NULL);
    }
    if (!rc) rc = herd_batch_set_alias(b, "f", "a", "champion", 2, NULL);
    if (!rc) rc = herd_batch_set_run(b, "run-oom", "{\"rounds\":3}", NULL);
    if (!rc) rc = herd_batch_commit(b);
    herd_batch_free(b);
    return rc;
}

/* The same commit with its journal record written 48 bytes at a time
 * (every operation a chunk of its own), and applied to the handle's state
 * as read back chunk by chunk (lib/registry/record.c). */
static int run_commit_chunked(fixture *fx)
{
    hd_registry_set_record_chunk(fx->reg, 48);
    return run_commit(fx);
}

/* A commit whose journal record is durable has happened, whatever fails
 * after: when applying it to the handle's memory runs out, herd_batch_commit
 * still returns HERD_OK and the handle re-reads the journal on its next use
 * (lib/registry/record.c).  So a run that hit the failure returns
 * HERD_ENOMEM, or HERD_OK with the commit there for this handle too. */
static int after_commit(fixture *fx, int rc, int hit)
{
    int ok = plain_outcome(rc, hit);
    if (hit && rc == HERD_OK) {
        int64_t v = 0;
        ok = herd_registry_resolve(fx->reg, "f", "b", "candidate", &v) == HERD_OK && v == 3
                 ? HERD_OK
                 : HERD_EINTERNAL;
    }
    registry_check_and_free(fx);
    return ok;
}

static int run_check(fixture *fx)
{
    herd_frame *problems = NULL;
    int rc = herd_registry_check(fx->reg, &problems);
    herd_frame_free(problems);
    return rc;
}

/* A base index written from the journal: the index writer's two passes,
 * its tables, buffers and checksum read-back (lib/registry/index_write.c). */
static int run_rebuild_index(fixture *fx) { return herd_registry_rebuild_index(fx->reg); }

/* With deep = 1: every stored model inflated and validated too. */
static int run_deep_check(fixture *fx)
{
    herd_check_options co;
    herd_check_options_init(&co, HERD_CHECK_OPTIONS_VERSION);
    co.deep = 1;
    herd_frame *problems = NULL;
    int rc = herd_registry_check_with(fx->reg, &co, &problems);
    herd_frame_free(problems);
    return rc;
}

static void compare_options(herd_compare_options *co)
{
    herd_compare_options_init(co, HERD_COMPARE_OPTIONS_VERSION);
    co->family = "f";
    co->label = "y";
}

/* decisions: a row per group, "decision" failed with the message.  When
 * the promotion's commit fails the decisions still come back with its
 * error (herd_compare's contract), so an error may come with frames. */
static int after_decisions(fixture *fx, int rc, int hit)
{
    herd_frame **out = fx->out;
    int ok = plain_outcome(rc, hit);
    if (rc == HERD_OK && hit)
        ok = group_failed_oom(out[0], "decision", "failed", "reason") ? HERD_OK
                                                                        : HERD_EINTERNAL;
    herd_frame_free(out[0]);
    herd_frame_free(out[1]);
    free(out);
    fx->out = NULL;
    registry_check_and_free(fx);
    return ok;
}

static int run_compare(fixture *fx)
{
    herd_compare_options co;
    compare_options(&co);
    herd_frame **out = calloc(2, sizeof *out);
    assert_non_null(out);
    fx->out = out;
    return herd_compare(fx->reg, fx->groups, &co, &fx->apply, &out[0], &out[1]);
}

/* The cycle commits its models: when applying that commit to the handle's
 * memory fails, the commit stands (see after_commit) and the cycle goes on
 * with a handle that re-reads it.  So a run that hit the failure may also
 * return HERD_OK, with every group's model the first champion, as on a run
 * without failures. */
static int after_cycle(fixture *fx, int rc, int hit)
{
    herd_frame **out = fx->out;
    if (!hit || rc != HERD_OK) return after_decisions(fx, rc, hit);
    int ok = HERD_OK;
    for (int k = 0; k < NGROUPS; k++) {
        int64_t v = 0;
        if (herd_registry_resolve(fx->reg, "f", group_names[k], "champion", &v) || v != 1)
            ok = HERD_EINTERNAL;
    }
    for (size_t r = 0; r < herd_frame_row_count(out[0]); r++) {
        const char *d = NULL;
        if (string_cell(out[0], "decision", r, &d) || strcmp(d, "first")) ok = HERD_EINTERNAL;
    }
    int rest = after_decisions(fx, HERD_OK, 0);
    return ok ? ok : rest;
}

static int run_cycle(fixture *fx)
{
    herd_cycle_options cy;
    herd_cycle_options_init(&cy, HERD_CYCLE_OPTIONS_VERSION);
    cy.family = "f";
    cy.run_id = "w1";
    cy.holdout_order_by = "week";
    herd_frame **out = calloc(2, sizeof *out);
    assert_non_null(out);
    fx->out = out;
    return herd_cycle(fx->reg, fx->groups, &fx->fit, &cy, &fx->apply, &out[0], &out[1]);
}

static int run_predict(fixture *fx)
{
    herd_frame *f = NULL;
    size_t without = 0;
    int rc = herd_predict(fx->groups, fx->result, &fx->apply, &f, &without);
    fx->out = f;
    return rc;
}

static int run_registry_predict(fixture *fx)
{
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "f";
    herd_frame *f = NULL;
    size_t without = 0;
    int rc = herd_registry_predict(fx->reg, fx->groups, &po, &fx->apply, &f, &without);
    fx->out = f;
    return rc;
}

static int after_registry_frame(fixture *fx, int rc, int hit)
{
    int ok = after_frame(fx, rc, hit);
    registry_check_and_free(fx);
    return ok;
}

/* ---- the tests --------------------------------------------------------------- */

#define OOM_TEST(fn, NAME, BEFORE, RUN, AFTER)               \
    static void fn(void **state)                             \
    {                                                        \
        static const op o = {NAME, BEFORE, RUN, AFTER};      \
        oom_loop(*state, &o);                                \
    }

OOM_TEST(test_csv, "csv read", NULL, run_csv, after_frame)
OOM_TEST(test_groups, "groups", NULL, run_groups, after_groups)
OOM_TEST(test_fit, "fit", NULL, run_fit, after_fit)
OOM_TEST(test_artifact_write, "artifact write", NULL, run_artifact_write, after_plain)
OOM_TEST(test_artifact_read, "artifact read", NULL, run_artifact_read, after_plain)
OOM_TEST(test_registry_open, "registry open", before_registry, run_registry_open,
         after_registry)
OOM_TEST(test_commit, "commit", before_registry, run_commit, after_commit)
OOM_TEST(test_commit_chunked, "commit in chunks", before_registry, run_commit_chunked,
         after_commit)
OOM_TEST(test_check, "check", before_registry, run_check, after_registry)
OOM_TEST(test_rebuild_index, "rebuild index", before_registry, run_rebuild_index,
         after_registry)
OOM_TEST(test_deep_check, "deep check", before_registry, run_deep_check, after_registry)
OOM_TEST(test_compare, "compare", before_registry, run_compare, after_decisions)
OOM_TEST(test_cycle, "cycle", before_empty_registry, run_cycle, after_cycle)
OOM_TEST(test_predict, "predict", NULL, run_predict, after_frame)
OOM_TEST(test_registry_predict, "registry predict", before_registry, run_registry_predict,
         after_registry_frame)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_artifact_write),
        cmocka_unit_test(test_artifact_read),
        cmocka_unit_test(test_registry_open),
        cmocka_unit_test(test_commit),
        cmocka_unit_test(test_commit_chunked),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_rebuild_index),
        cmocka_unit_test(test_deep_check),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_predict),
        cmocka_unit_test(test_registry_predict),
    };
    /* HERD_OOM_ONLY=test_fit (a glob) runs one loop, when chasing a failure */
    const char *only = getenv("HERD_OOM_ONLY");
    if (only && *only) cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, group_setup, teardown);
}
