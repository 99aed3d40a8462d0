/* test_compare.c -- champion / challenger on constructed data where the
 * right decision is known for every group.
 *
 * Models predict a constant (one round with eta 0 and base_score c: the
 * prediction is exactly c), so every metric below is known in advance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "test_locale.h"

#define EXPECT_OK(call)                                                              \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != HERD_OK) fail_msg("%s: %s (%s)", #call, herd_status_str(rc_),     \
                                     herd_last_error());                             \
    } while (0)

#include "const_model.h"

/* A getter's status: a value (HERD_OK) or a missing one (HERD_MISSING). */
#define EXPECT_CELL(call)                                                            \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != HERD_OK && rc_ != HERD_MISSING)                                   \
            fail_msg("%s: %s (%s)", #call, herd_status_str(rc_), herd_last_error()); \
    } while (0)

typedef struct ctx {
    char dir[512];
    herd_registry *reg;
} ctx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/herd_compare_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) return -1;
    char path[600];
    snprintf(path, sizeof path, "%s/reg", c->dir);
    if (herd_registry_open(path, NULL, &c->reg)) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    herd_registry_free(c->reg);
    nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
    return 0;
}

/* A holdout frame: per group, its labels; x is 0, 1, 2...; t orders rows. */
typedef struct holdout {
    herd_frame *frame;
    herd_groups *groups;
} holdout;

static void holdout_make(holdout *h, const char *const *groups, const double *const *labels,
                         const size_t *sizes, size_t ng)
{
    size_t n = 0;
    for (size_t i = 0; i < ng; i++) n += sizes[i];
    double *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y), *t = calloc(n, sizeof *t);
    const char **g = calloc(n, sizeof *g);
    size_t r = 0;
    for (size_t i = 0; i < ng; i++)
        for (size_t j = 0; j < sizes[i]; j++, r++) {
            x[r] = (double)j;
            y[r] = labels[i][j];
            t[r] = (double)(sizes[i] - j); /* reverse time: the first rows are the latest */
            g[r] = groups[i];
        }
    EXPECT_OK(herd_frame_new(&h->frame));
    EXPECT_OK(herd_frame_add_column(h->frame, "x", HERD_TYPE_FLOAT64, x, n, NULL));
    EXPECT_OK(herd_frame_add_column(h->frame, "y", HERD_TYPE_FLOAT64, y, n, NULL));
    EXPECT_OK(herd_frame_add_column(h->frame, "t", HERD_TYPE_FLOAT64, t, n, NULL));
    EXPECT_OK(herd_frame_add_column(h->frame, "g", HERD_TYPE_STRING, g, n, NULL));
    const char *keys[] = {"g"};
    EXPECT_OK(herd_groups_new(h->frame, keys, 1, &h->groups));
    free(x);
    free(y);
    free(t);
    free(g);
}

static void holdout_free(holdout *h)
{
    herd_groups_free(h->groups);
    herd_frame_free(h->frame);
}

static size_t row_of(const herd_frame *f, const char *group)
{
    size_t gc;
    EXPECT_OK(herd_frame_find(f, "group", &gc));
    for (size_t r = 0; r < herd_frame_row_count(f); r++) {
        const char *s = NULL;
        EXPECT_CELL(herd_frame_get_string(f, gc, r, &s));
        if (s && !strcmp(s, group)) return r;
    }
    fail_msg("no row for group %s", group);
    return 0;
}

static const char *str_at(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    EXPECT_OK(herd_frame_find(f, col, &c));
    const char *s = NULL;
    EXPECT_CELL(herd_frame_get_string(f, c, r, &s));
    return s ? s : "";
}

static double num_at(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    EXPECT_OK(herd_frame_find(f, col, &c));
    double v;
    EXPECT_CELL(herd_frame_get_double(f, c, r, &v));
    return v;
}

static void expect_decision(const herd_frame *d, const char *group, const char *decision,
                            const char *reason_part)
{
    size_t r = row_of(d, group);
    const char *got = str_at(d, "decision", r), *why = str_at(d, "reason", r);
    if (strcmp(got, decision) || (reason_part && !strstr(why, reason_part)))
        fail_msg("group %s: decision %s (%s), expected %s (...%s...)", group, got, why,
                 decision, reason_part ? reason_part : "");
}

static int64_t champion(herd_registry *reg, const char *group)
{
    int64_t v = 0;
    int rc = herd_registry_resolve(reg, "f", group, "champion", &v);
    if (rc == HERD_ENOTFOUND) return 0;
    EXPECT_OK(rc);
    return v;
}

static const double ones[8] = {1, 1.1, 0.9, 1, 1.05, 0.95, 1, 1};
static const double few[3] = {1, 1, 1};

/* Every decision on one family, known in advance. */
static void test_decisions(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    put(reg, "better", 0, "champion");
    put(reg, "better", 1, "challenger");   /* rmse ~0.06 vs ~1: promote */
    put(reg, "worse", 1, "champion");
    put(reg, "worse", 0, "challenger");    /* keep */
    put(reg, "inside", 0.9, "champion");
    put(reg, "inside", 0.93, "challenger"); /* improves by 0.03 < 0.05: keep */
    put(reg, "few", 0, "champion");
    put(reg, "few", 1, "challenger");      /* 3 holdout rows < 5: skipped */
    put(reg, "first", 1, "challenger");    /* no champion: first */
    put(reg, "nochall", 1, "champion");    /* skipped */
    put(reg, "nan", 0, "champion");
    put(reg, "nan", 1, "challenger");      /* a NaN label: failed */
    int64_t same = put(reg, "same", 1, "champion");
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    EXPECT_OK(herd_batch_set_alias(b, "f", "same", "challenger", same, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    put(reg, "identical", 1, "champion");
    put(reg, "identical", 1, "challenger"); /* a retrain giving the same model: keep */
    int64_t old = put(reg, "older", 1, NULL);
    put(reg, "older", 0, "champion");       /* the challenger would win on the data... */
    EXPECT_OK(herd_registry_begin(reg, &b));
    EXPECT_OK(herd_batch_set_alias(b, "f", "older", "challenger", old, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);                      /* ...but it is older: keep */

    const double nanlab[8] = {1, NAN, 1, 1, 1, 1, 1, 1};
    const char *groups[] = {"better", "worse", "inside", "few", "first", "nochall", "nan",
                            "same", "identical", "older"};
    const double *labels[] = {ones, ones, ones, few, ones, ones, nanlab, ones, ones, ones};
    size_t sizes[] = {8, 8, 8, 3, 8, 8, 8, 8, 8, 8};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 10);
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.min_abs_delta = 0.05;
    o.min_holdout_rows = 5;
    o.max_promote_fraction = 1;
    o.dry_run = 1;
    herd_frame *d = NULL, *s = NULL;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, &s));
    expect_decision(d, "better", "promote", "rmse improves");
    expect_decision(d, "worse", "keep", "not better");
    expect_decision(d, "inside", "keep", "min_abs_delta");
    expect_decision(d, "few", "skipped", "min_holdout_rows");
    expect_decision(d, "first", "first", "no champion");
    expect_decision(d, "nochall", "skipped", "no challenger");
    expect_decision(d, "nan", "failed", "label");
    expect_decision(d, "same", "keep", "version");
    expect_decision(d, "identical", "keep", "same model");
    expect_decision(d, "older", "keep", "older");
    size_t r = row_of(d, "better");
    assert_int_equal((int64_t)num_at(d, "champion_version", r), 1);
    assert_int_equal((int64_t)num_at(d, "challenger_version", r), 2);
    assert_int_equal((int64_t)num_at(d, "holdout_rows", r), 8);
    /* rmse of 0 against the labels, and of 1 */
    double mse0 = 0, mse1 = 0;
    for (int i = 0; i < 8; i++) mse0 += ones[i] * ones[i], mse1 += (ones[i] - 1) * (ones[i] - 1);
    assert_float_equal(num_at(d, "champion_metric", r), sqrt(mse0 / 8), 1e-6);
    assert_float_equal(num_at(d, "challenger_metric", r), sqrt(mse1 / 8), 1e-6);
    assert_float_equal(num_at(d, "delta", r), sqrt(mse0 / 8) - sqrt(mse1 / 8), 1e-6);
    assert_true(isnan(num_at(d, "delta_ci_low", r)));
    assert_true(isnan(num_at(d, "delta_ci_high", r)));
    for (size_t i = 0; i < herd_frame_row_count(d); i++) /* a dry run moves nothing */
        assert_int_equal((int64_t)num_at(d, "promoted", i), 0);
    /* summary: counts per decision */
    assert_int_equal(herd_frame_row_count(s), 6);
    const char *names[] = {"promote", "keep", "first", "skipped", "failed", "refused"};
    const int64_t counts[] = {1, 5, 1, 2, 1, 0};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(str_at(s, "decision", i), names[i]);
        assert_int_equal((int64_t)num_at(s, "groups", i), counts[i]);
    }
    assert_float_equal(num_at(s, "median_delta", 0), num_at(d, "delta", r), 1e-12);
    herd_frame_free(d);
    herd_frame_free(s);
    /* dry run: nothing moved */
    assert_int_equal(champion(reg, "better"), 1);
    assert_int_equal(champion(reg, "first"), 0);

    /* for real: both winners move in one commit, with their history */
    o.dry_run = 0;
    o.run_id = "week-48";
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    assert_int_equal((int64_t)num_at(d, "promoted", row_of(d, "better")), 1);
    assert_int_equal((int64_t)num_at(d, "promoted", row_of(d, "first")), 1);
    assert_int_equal((int64_t)num_at(d, "promoted", row_of(d, "worse")), 0);
    assert_int_equal((int64_t)num_at(d, "promoted", row_of(d, "nochall")), 0);
    herd_frame_free(d);
    assert_int_equal(champion(reg, "better"), 2);
    assert_int_equal(champion(reg, "first"), 1);
    assert_int_equal(champion(reg, "worse"), 1);
    int64_t chall = 0;
    EXPECT_OK(herd_registry_resolve(reg, "f", "worse", "challenger", &chall));
    assert_int_equal(chall, 2); /* losers keep their alias */
    herd_frame *hist = NULL;
    EXPECT_OK(herd_registry_alias_history(reg, "f", "better", "champion", &hist));
    size_t last = herd_frame_row_count(hist) - 1;
    assert_int_equal((int64_t)num_at(hist, "from_version", last), 1);
    assert_int_equal((int64_t)num_at(hist, "to_version", last), 2);
    assert_non_null(strstr(str_at(hist, "reason", last), "rmse improves"));
    const char *details = str_at(hist, "details", last);
    assert_non_null(strstr(details, "\"champion_metric\":"));
    assert_non_null(strstr(details, "\"challenger_metric\":"));
    assert_non_null(strstr(details, "\"min_abs_delta\":0.05"));
    assert_string_equal(str_at(hist, "run_id", last), "week-48");
    herd_frame_free(hist);
    /* the same comparison again changes nothing: the winners are champions */
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    expect_decision(d, "better", "keep", "version");
    herd_frame_free(d);
    assert_int_equal(champion(reg, "better"), 2);

    /* rollback: exactly the previous version; then none left for "first" */
    herd_frame *moved = NULL;
    EXPECT_OK(herd_registry_rollback(reg, "f", "better", NULL, "bad week", &moved));
    assert_int_equal(herd_frame_row_count(moved), 1); /* which group, from where to where */
    assert_string_equal(str_at(moved, "group", 0), "better");
    assert_string_equal(str_at(moved, "alias", 0), "champion");
    assert_int_equal((int64_t)num_at(moved, "from_version", 0), 2);
    assert_int_equal((int64_t)num_at(moved, "to_version", 0), 1);
    herd_frame_free(moved);
    assert_int_equal(champion(reg, "better"), 1);
    moved = (herd_frame *)1;
    assert_int_equal(herd_registry_rollback(reg, "f", "first", NULL, NULL, &moved),
                     HERD_ENOTFOUND);
    assert_null(moved);
    assert_non_null(strstr(herd_last_error(), "first"));
    assert_int_equal(champion(reg, "first"), 1);
    holdout_free(&h);
}

/* Another process moves a champion while herd_compare evaluates: nothing
 * is promoted, HERD_ECONFLICT, and the decisions say that nothing moved. */
typedef struct mover {
    herd_registry *other; /* a second handle: another writer */
    int64_t to;
    int moved;
} mover;

static int move_during_compare(const herd_progress *p, void *user)
{
    mover *m = user;
    if (m->moved || strcmp(p->phase, "compare") || p->groups_done < p->groups_total) return 0;
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(m->other, &b));
    EXPECT_OK(herd_batch_set_alias(b, "f", "a", "champion", m->to, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    m->moved = 1;
    return 0;
}

static void test_promotion_conflict(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    int64_t old = put(reg, "a", 0.5, NULL);
    put(reg, "a", 0, "champion");
    put(reg, "a", 1, "challenger");
    put(reg, "b", 0, "champion");
    put(reg, "b", 1, "challenger");
    const char *groups[] = {"a", "b"};
    const double *labels[] = {ones, ones};
    size_t sizes[] = {8, 8};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 2);
    char path[600];
    snprintf(path, sizeof path, "%s/reg", c->dir);
    mover m = {.to = old};
    EXPECT_OK(herd_registry_open(path, NULL, &m.other));
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.progress = move_during_compare;
    ap.progress_user = &m;
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.max_promote_fraction = 1;
    herd_frame *d = NULL;
    assert_int_equal(herd_compare(reg, h.groups, &o, &ap, &d, NULL), HERD_ECONFLICT);
    assert_true(m.moved);
    assert_non_null(strstr(herd_last_error(), "compare again"));
    assert_non_null(d);
    expect_decision(d, "a", "promote", NULL); /* the verdict on what was compared... */
    expect_decision(d, "b", "promote", NULL);
    for (size_t i = 0; i < 2; i++) /* ...and what happened: nothing moved */
        assert_int_equal((int64_t)num_at(d, "promoted", i), 0);
    herd_frame_free(d);
    assert_int_equal(champion(reg, "a"), old);
    assert_int_equal(champion(reg, "b"), 1); /* not promoted either: one commit */
    herd_registry_free(m.other);
    holdout_free(&h);
}

/* Noise: a difference a small holdout cannot tell from chance.  Without
 * the bootstrap the challenger wins; with it, it does not, while a real
 * improvement still does. */
static void test_bootstrap(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    put(reg, "noise", 0, "champion");
    put(reg, "noise", 0.05, "challenger");
    put(reg, "real", 0, "champion");
    put(reg, "real", 1, "challenger");
    double noisy[30];
    uint64_t s = 42;
    double mean = 0;
    for (int i = 0; i < 30; i++) { /* sd about 1, mean near 0.05 */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        noisy[i] = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * 3.4;
        mean += noisy[i] / 30;
    }
    for (int i = 0; i < 30; i++) noisy[i] += 0.05 - mean; /* exactly 0.05: the challenger's */
    double real[30];
    for (int i = 0; i < 30; i++) real[i] = 1 + 0.01 * (i % 3 - 1);
    const char *groups[] = {"noise", "real"};
    const double *labels[] = {noisy, real};
    size_t sizes[] = {30, 30};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 2);
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.dry_run = 1;
    o.max_promote_fraction = 1;
    herd_frame *d = NULL;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    expect_decision(d, "noise", "promote", NULL);
    herd_frame_free(d);
    o.bootstrap = 2000;
    o.seed = 7;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    expect_decision(d, "noise", "keep", "not significant");
    expect_decision(d, "real", "promote", "significant by bootstrap");
    size_t r = row_of(d, "noise");
    assert_true(num_at(d, "delta_ci_low", r) < 0 && num_at(d, "delta_ci_high", r) > 0);
    assert_non_null(strstr(str_at(d, "reason", r), "rmse may improve by as little as -"));
    /* the interval is in the metric's units, on delta's scale: it brackets
     * delta.  For "real", rmse improves by about 0.992 while the mean
     * squared error improves by about 1.000, with a narrow interval: a
     * loss-unit interval would miss delta. */
    r = row_of(d, "real");
    double delta = num_at(d, "delta", r);
    assert_float_equal(delta, 1.0000333 - 0.0081650, 1e-4);
    for (size_t i = 0; i < 2; i++) {
        double lo = num_at(d, "delta_ci_low", i), hi = num_at(d, "delta_ci_high", i);
        double dl = num_at(d, "delta", i);
        if (!(lo <= dl && dl <= hi))
            fail_msg("%s: delta %.9g outside [%.9g, %.9g]", str_at(d, "group", i), dl, lo, hi);
    }
    assert_true(num_at(d, "delta_ci_low", r) > 0.98);
    assert_true(num_at(d, "delta_ci_high", r) < 0.999);
    herd_frame_free(d);
    /* the same seed gives the same interval, whatever the threads */
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.threads = 1;
    herd_frame *d1 = NULL, *d2 = NULL;
    EXPECT_OK(herd_compare(reg, h.groups, &o, &ap, &d1, NULL));
    ap.threads = 2;
    EXPECT_OK(herd_compare(reg, h.groups, &o, &ap, &d2, NULL));
    assert_float_equal(num_at(d1, "delta_ci_low", 0), num_at(d2, "delta_ci_low", 0), 0);
    herd_frame_free(d1);
    herd_frame_free(d2);
    holdout_free(&h);
}

static int64_t count_decision(const herd_frame *s, const char *decision);

/* The cap: a run that would replace more than max_promote_fraction of the
 * family's champions moves nothing unless forced. */
static void test_promotion_cap(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    const char *groups[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        put(reg, groups[i], 0, "champion");
        put(reg, groups[i], i < 3 ? 1 : 0, "challenger"); /* a, b, c win */
    }
    const double *labels[] = {ones, ones, ones, ones, ones};
    size_t sizes[] = {8, 8, 8, 8, 8};
    holdout h, h5;
    holdout_make(&h, groups, labels, sizes, 4);
    /* and "e", a first champion: refused with the others */
    put(reg, "e", 1, "challenger");
    const char *groups5[] = {"a", "b", "c", "d", "e"};
    holdout_make(&h5, groups5, labels, sizes, 5);
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION); /* cap 0.5 by default */
    o.family = "f";
    o.label = "y";
    herd_frame *d = NULL, *s = NULL;
    /* a dry run warns of the cap too, and its decisions say the same */
    for (int dry = 1; dry >= 0; dry--) {
        o.dry_run = dry;
        d = s = NULL;
        assert_int_equal(herd_compare(reg, h5.groups, &o, NULL, &d, &s), HERD_EREFUSED);
        assert_non_null(strstr(herd_last_error(), "75.0%"));
        assert_non_null(strstr(herd_last_error(), "3 of 4"));
        assert_non_null(strstr(herd_last_error(), "refused"));
        assert_non_null(d); /* the decisions still come back, saying what happened */
        for (int i = 0; i < 3; i++) {
            expect_decision(d, groups[i], "refused", "would be promoted (rmse improves");
            expect_decision(d, groups[i], "refused", "promotion cap");
        }
        expect_decision(d, "d", "keep", NULL);
        expect_decision(d, "e", "refused", "would become the first champion (no champion");
        for (int i = 0; i < 5; i++) assert_int_equal((int64_t)num_at(d, "promoted", i), 0);
        assert_int_equal(count_decision(s, "refused"), 4);
        assert_int_equal(count_decision(s, "promote"), 0);
        herd_frame_free(d);
        herd_frame_free(s);
        for (int i = 0; i < 4; i++) assert_int_equal(champion(reg, groups[i]), 1);
        assert_int_equal(champion(reg, "e"), 0);
    }
    holdout_free(&h5);
    o.force = 1;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    expect_decision(d, "a", "promote", NULL);
    assert_int_equal((int64_t)num_at(d, "promoted", row_of(d, "a")), 1);
    herd_frame_free(d);
    for (int i = 0; i < 4; i++) assert_int_equal(champion(reg, groups[i]), i < 3 ? 2 : 1);
    /* a whole family rolls back in one commit, and says which groups moved */
    herd_frame *moved = NULL;
    EXPECT_OK(herd_registry_rollback(reg, "f", NULL, "champion", "revert week", &moved));
    assert_int_equal(herd_frame_row_count(moved), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(str_at(moved, "group", i), groups[i]); /* by key */
        assert_int_equal((int64_t)num_at(moved, "from_version", i), 2);
        assert_int_equal((int64_t)num_at(moved, "to_version", i), 1);
    }
    herd_frame_free(moved);
    /* rolling back without asking which: NULL is allowed */
    EXPECT_OK(herd_registry_rollback(reg, "f", NULL, "champion", "forward again", NULL));
    for (int i = 0; i < 4; i++) assert_int_equal(champion(reg, groups[i]), i < 3 ? 2 : 1);
    EXPECT_OK(herd_registry_rollback(reg, "f", NULL, "champion", "back again", NULL));
    for (int i = 0; i < 4; i++) assert_int_equal(champion(reg, groups[i]), 1);
    holdout_free(&h);
}

/* The holdout: the last fraction of each group by an ordering column. */
static void test_holdout_fraction(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    put(reg, "g", 0, "champion");
    put(reg, "g", 1, "challenger");
    /* t runs backwards, so the "last" rows by t are the first ones: make
     * those favour the champion (label 0) and the rest the challenger */
    double lab[10] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
    const char *groups[] = {"g"};
    const double *labels[] = {lab};
    size_t sizes[] = {10};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 1);
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.dry_run = 1;
    o.max_promote_fraction = 1;
    herd_frame *d = NULL;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL)); /* all rows */
    expect_decision(d, "g", "promote", NULL);
    assert_int_equal((int64_t)num_at(d, "holdout_rows", 0), 10);
    herd_frame_free(d);
    o.holdout_fraction = 0.3;
    o.holdout_order_by = "t";
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    expect_decision(d, "g", "keep", NULL);
    assert_int_equal((int64_t)num_at(d, "holdout_rows", 0), 3);
    assert_float_equal(num_at(d, "champion_metric", 0), 0, 1e-12);
    herd_frame_free(d);
    holdout_free(&h);
}

static void test_bad_options(void **state)
{
    ctx *c = *state;
    const char *groups[] = {"g"};
    const double *labels[] = {ones};
    size_t sizes[] = {8};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 1);
    herd_compare_options o;
    herd_frame *d = (herd_frame *)1;
#define BAD(code_, words_, ...)                                                      \
    do {                                                                             \
        herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);                                               \
        o.family = "f";                                                              \
        o.label = "y";                                                               \
        __VA_ARGS__;                                                                 \
        d = (herd_frame *)1;                                                         \
        assert_int_equal(herd_compare(c->reg, h.groups, &o, NULL, &d, NULL), code_); \
        assert_null(d);                                                              \
        if (!strstr(herd_last_error(), words_))                                      \
            fail_msg("'%s' lacks '%s'", herd_last_error(), words_);                  \
    } while (0)
    BAD(HERD_EINVAL, "opt->family", o.family = NULL);
    BAD(HERD_EINVAL, "family", o.family = "a/b");
    BAD(HERD_EINVAL, "opt->label", o.label = NULL);
    BAD(HERD_ENOTFOUND, "'nope'", o.label = "nope");
    BAD(HERD_ETYPE, "strings", o.label = "g");
    BAD(HERD_EINVAL, "unknown", o.metric = "rmsle");
    BAD(HERD_EINVAL, "holdout_order_by", o.holdout_fraction = 0.2);
    BAD(HERD_EINVAL, "holdout_fraction", o.holdout_fraction = 1.5);
    BAD(HERD_EINVAL, "per-row losses", o.metric = "auc"; o.bootstrap = 100);
    BAD(HERD_EINVAL, "confidence", o.bootstrap = 100; o.confidence = 1.2);
    BAD(HERD_EINVAL, "min_abs_delta", o.min_abs_delta = -1);
    BAD(HERD_EINVAL, "max_promote_fraction", o.max_promote_fraction = 2);
    BAD(HERD_EINVAL, "different", o.challenger = "champion");
    BAD(HERD_EINVAL, "metric_min", o.metric_min = 2; o.metric_max = 1);
#undef BAD
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    assert_int_equal(herd_compare(NULL, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "reg"));
    assert_int_equal(herd_compare(c->reg, NULL, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_int_equal(herd_compare(c->reg, h.groups, &o, NULL, NULL, NULL), HERD_EINVAL);
    assert_int_equal(herd_registry_rollback(NULL, "f", NULL, NULL, NULL, NULL), HERD_EINVAL);
    herd_frame *mv = (herd_frame *)1;
    assert_int_equal(herd_registry_rollback(NULL, "f", NULL, NULL, NULL, &mv), HERD_EINVAL);
    assert_null(mv);
    mv = (herd_frame *)1;
    assert_int_equal(herd_registry_rollback(c->reg, "f", "nobody", NULL, NULL, &mv),
                     HERD_ENOTFOUND);
    assert_null(mv);
    assert_int_equal(herd_registry_rollback(c->reg, "f/", NULL, NULL, NULL, NULL), HERD_EINVAL);
    assert_int_equal(herd_registry_rollback(c->reg, "f", "nobody", NULL, NULL, NULL),
                     HERD_ENOTFOUND);
    assert_int_equal(herd_registry_rollback(c->reg, "nofamily", NULL, NULL, NULL, NULL),
                     HERD_ENOTFOUND);
    assert_non_null(strstr(herd_last_error(), "nofamily"));
    assert_int_equal(herd_registry_rollback(c->reg, "f", NULL, NULL, "a\nb", NULL),
                     HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "reason"));
    holdout_free(&h);
}

/* Weekly sales of `ng` groups over `weeks` weeks: y = slope[g] * x + noise;
 * groups listed in `drifted` use slope -slope[g]. */
static void weekly_make(holdout *h, int ng, int weeks, const int *drifted, int ndrifted)
{
    size_t n = (size_t)ng * (size_t)weeks;
    double *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y), *w = calloc(n, sizeof *w);
    const char **g = calloc(n, sizeof *g);
    static const char *names[] = {"g0", "g1", "g2", "g3", "g4", "g5"};
    uint64_t s = 99;
    size_t r = 0;
    for (int k = 0; k < ng; k++) {
        double slope = 1 + k;
        for (int d = 0; d < ndrifted; d++)
            if (drifted[d] == k) slope = -slope;
        for (int t = 0; t < weeks; t++, r++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[r] = (double)((s >> 20) % 1000) / 100.0;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            y[r] = slope * x[r] + 0.1 * ((double)((s >> 20) % 1000) / 1000.0 - 0.5);
            w[r] = t;
            g[r] = names[k];
        }
    }
    EXPECT_OK(herd_frame_new(&h->frame));
    EXPECT_OK(herd_frame_add_column(h->frame, "x", HERD_TYPE_FLOAT64, x, n, NULL));
    EXPECT_OK(herd_frame_add_column(h->frame, "y", HERD_TYPE_FLOAT64, y, n, NULL));
    EXPECT_OK(herd_frame_add_column(h->frame, "week", HERD_TYPE_FLOAT64, w, n, NULL));
    EXPECT_OK(herd_frame_add_column(h->frame, "g", HERD_TYPE_STRING, g, n, NULL));
    const char *keys[] = {"g"};
    EXPECT_OK(herd_groups_new(h->frame, keys, 1, &h->groups));
    free(x);
    free(y);
    free(w);
    free(g);
}

static const char *cycle_features[] = {"x"};

static void cycle_fit(herd_fit_options *fo)
{
    herd_fit_options_init(fo, HERD_FIT_OPTIONS_VERSION);
    fo->features = cycle_features;
    fo->n_features = 1;
    fo->label = "y";
    fo->rounds = 20;
}

static int64_t count_decision(const herd_frame *s, const char *decision)
{
    for (size_t i = 0; i < herd_frame_row_count(s); i++)
        if (!strcmp(str_at(s, "decision", i), decision)) return (int64_t)num_at(s, "groups", i);
    fail_msg("no decision %s in the summary", decision);
    return -1;
}

static int64_t latest(herd_registry *reg, const char *group)
{
    int64_t v = 0;
    EXPECT_OK(herd_registry_resolve(reg, "f", group, "latest", &v));
    return v;
}

/* The weekly cycle: first champions, an idempotent re-run, a re-train on
 * the same data (identical models keep), drift (the drifted groups
 * promote), the family model, and predicting from the registry. */
static void test_cycle(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    holdout h;
    weekly_make(&h, 4, 40, NULL, 0);
    herd_fit_options fo;
    cycle_fit(&fo);
    herd_cycle_options co;
    herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION);
    co.family = "f";
    co.run_id = "w1";
    co.holdout_order_by = "week";
    co.fallback = 1;
    herd_frame *d = NULL, *s = NULL;
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, &s));
    assert_int_equal(herd_frame_row_count(d), 5); /* 4 groups and the family model */
    assert_int_equal(count_decision(s, "first"), 5);
    expect_decision(d, HERD_FALLBACK_GROUP, "first", NULL);
    assert_int_equal((int64_t)num_at(d, "holdout_rows", row_of(d, "g0")), 8); /* 20% of 40 */
    assert_int_equal((int64_t)num_at(d, "holdout_rows", row_of(d, HERD_FALLBACK_GROUP)), 32);
    herd_frame_free(d);
    herd_frame_free(s);
    for (int k = 0; k < 4; k++) {
        char g[8];
        snprintf(g, sizeof g, "g%d", k);
        assert_int_equal(champion(reg, g), 1);
    }
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(reg, &runs));
    assert_int_equal(herd_frame_row_count(runs), 1);
    assert_string_equal(str_at(runs, "run_id", 0), "w1");
    assert_int_equal((int64_t)num_at(runs, "versions", 0), 5);
    herd_frame_free(runs);

    /* the same run again: nothing added, nothing moved */
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, &s));
    assert_int_equal(count_decision(s, "keep"), 5);
    herd_frame_free(d);
    herd_frame_free(s);
    assert_int_equal(latest(reg, "g0"), 1);

    /* a new run on the same data: new versions, identical models, kept */
    co.run_id = "w2";
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, &s));
    assert_int_equal(count_decision(s, "keep"), 5);
    expect_decision(d, "g0", "keep", "same model");
    herd_frame_free(d);
    herd_frame_free(s);
    assert_int_equal(latest(reg, "g0"), 2);
    assert_int_equal(champion(reg, "g0"), 1);

    /* drift in g0 and g1: their new models win, the others keep */
    holdout_free(&h);
    int drifted[] = {0, 1};
    weekly_make(&h, 4, 40, drifted, 2);
    co.run_id = "w3";
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, &s));
    expect_decision(d, "g0", "promote", NULL);
    expect_decision(d, "g1", "promote", NULL);
    expect_decision(d, "g2", "keep", NULL);
    expect_decision(d, "g3", "keep", NULL);
    herd_frame_free(d);
    herd_frame_free(s);
    assert_int_equal(champion(reg, "g0"), 3);
    assert_int_equal(champion(reg, "g2"), 1);
    /* roll the week back: re-running it does not bring its models back */
    herd_frame *moved = NULL;
    EXPECT_OK(herd_registry_rollback(reg, "f", NULL, NULL, "bad week", &moved));
    assert_int_equal(herd_frame_row_count(moved), 2);
    assert_string_equal(str_at(moved, "group", 0), "g0");
    assert_string_equal(str_at(moved, "group", 1), "g1");
    assert_int_equal((int64_t)num_at(moved, "from_version", 0), 3);
    assert_int_equal((int64_t)num_at(moved, "to_version", 0), 1);
    herd_frame_free(moved);
    assert_int_equal(champion(reg, "g0"), 1);
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, &s));
    expect_decision(d, "g0", "keep", "rolled back");
    herd_frame_free(d);
    herd_frame_free(s);
    assert_int_equal(champion(reg, "g0"), 1);
    /* a bad compare option is refused before anything is trained or added */
    herd_compare_options badcmp;
    herd_compare_options_init(&badcmp, HERD_COMPARE_OPTIONS_VERSION);
    badcmp.metric = "r2";
    badcmp.bootstrap = 100;
    herd_cycle_options co2 = co;
    co2.run_id = "w4";
    co2.compare = &badcmp;
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &co2, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "herd_cycle: opt->compare"));
    assert_int_equal(latest(reg, "g0"), 3);
    herd_compare_options_init(&badcmp, HERD_COMPARE_OPTIONS_VERSION);
    badcmp.champion = "challenger";
    badcmp.challenger = "candidate";
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &co2, NULL, &d, NULL), HERD_EINVAL);
    assert_int_equal(latest(reg, "g0"), 3);
    co.run_id = "w3";

    /* predict from the registry: each group's champion; a group with none
     * gets NaN, or the family model when asked */
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    EXPECT_OK(herd_batch_set_alias(b, "f", "g3", "champion", 0, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "f";
    herd_frame *p = NULL;
    size_t without = 0;
    EXPECT_OK(herd_registry_predict(reg, h.groups, &po, NULL, &p, &without));
    assert_int_equal(herd_frame_row_count(p), herd_frame_row_count(h.frame));
    assert_int_equal(without, 40); /* g3 */
    herd_artifact *a = NULL;
    herd_model *m = NULL;
    int64_t cv = champion(reg, "g0"); /* 1 again since the rollback */
    EXPECT_OK(herd_registry_load(reg, "f", "g0", cv, &a));
    EXPECT_OK(herd_artifact_model(a, &m));
    size_t gi = 0;
    EXPECT_OK(herd_groups_find(h.groups, "g0", &gi));
    const size_t *rows = NULL;
    size_t nr = 0;
    EXPECT_OK(herd_groups_rows(h.groups, gi, &rows, &nr));
    double *want = calloc(nr, sizeof *want);
    EXPECT_OK(herd_model_predict(m, h.frame, rows, nr, 1, want, nr));
    for (size_t i = 0; i < nr; i++) {
        assert_float_equal(num_at(p, "prediction", rows[i]), want[i], 0);
        assert_int_equal((int64_t)num_at(p, "version", rows[i]), cv);
        assert_int_equal((int64_t)num_at(p, "fallback", rows[i]), 0);
    }
    EXPECT_OK(herd_groups_find(h.groups, "g3", &gi));
    EXPECT_OK(herd_groups_rows(h.groups, gi, &rows, &nr));
    assert_true(isnan(num_at(p, "prediction", rows[0])));
    assert_int_equal((int64_t)num_at(p, "version", rows[0]), 0);
    herd_frame_free(p);
    po.fallback = 1;
    EXPECT_OK(herd_registry_predict(reg, h.groups, &po, NULL, &p, &without));
    assert_int_equal(without, 0);
    assert_false(isnan(num_at(p, "prediction", rows[0])));
    assert_int_equal((int64_t)num_at(p, "fallback", rows[0]), 1);
    assert_int_equal((int64_t)num_at(p, "version", rows[0]), champion(reg, HERD_FALLBACK_GROUP));
    herd_frame_free(p);
    free(want);
    herd_model_free(m);
    herd_artifact_free(a);

    /* bad input */
    herd_cycle_options bad = co;
    bad.run_id = NULL;
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "run_id"));
    bad = co;
    bad.holdout_order_by = "nope";
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_ENOTFOUND);
    bad = co;
    bad.holdout_fraction = 1;
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_EINVAL);
    po.family = NULL;
    assert_int_equal(herd_registry_predict(reg, h.groups, &po, NULL, &p, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "family"));
    holdout_free(&h);
    /* a data group named like the family model, with fallback on */
    const char *clash[] = {HERD_FALLBACK_GROUP};
    const double *labels[] = {ones};
    size_t sizes[] = {8};
    holdout_make(&h, clash, labels, sizes, 1);
    bad = co;
    bad.holdout_order_by = "t";
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), HERD_FALLBACK_GROUP));
    holdout_free(&h);
}

/* mape skips zero labels, and the decision says how many. */
static void test_mape_skips(void **state)
{
    ctx *c = *state;
    put(c->reg, "m", 2, "champion");
    put(c->reg, "m", 1, "challenger");
    const double lab[6] = {1, 0, 1, 1, 0, 1};
    const char *groups[] = {"m"};
    const double *labels[] = {lab};
    size_t sizes[] = {6};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 1);
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.metric = "mape";
    o.dry_run = 1;
    o.max_promote_fraction = 1;
    herd_frame *d = NULL;
    EXPECT_OK(herd_compare(c->reg, h.groups, &o, NULL, &d, NULL));
    expect_decision(d, "m", "promote", "mape skipped 2 of the 6 holdout rows");
    assert_int_equal((int64_t)num_at(d, "skipped_rows", 0), 2);
    assert_float_equal(num_at(d, "challenger_metric", 0), 0, 1e-12); /* |1-1|/1 */
    assert_float_equal(num_at(d, "champion_metric", 0), 1, 1e-12);   /* |1-2|/1 */
    herd_frame_free(d);
    holdout_free(&h);
}

/* ---- progress and log records of a whole cycle ---------------------------- */

typedef struct cycle_watch {
    pthread_t caller;
    int bad;                 /* a report off the calling thread or out of order */
    char phases[8][16];      /* distinct phases, in the order they came */
    int nphases;
    int index, total;
    size_t done;
    size_t compare_skipped;  /* the compare phase's last count */
    int records, phase_records, other_thread, register_records, promote_records, done_records;
} cycle_watch;

static int watch_progress(const herd_progress *p, void *user)
{
    cycle_watch *w = user;
    if (!pthread_equal(pthread_self(), w->caller)) w->bad++;
    if (p->struct_size != sizeof *p || !p->phase || p->phase_index < 1 ||
        p->phase_index > p->phase_total)
        return w->bad++, 0;
    if (p->phase_index < w->index) w->bad++;                          /* backwards */
    if (p->phase_index == w->index && p->groups_done < w->done) w->bad++; /* restarted */
    if (w->total && p->phase_total != w->total) w->bad++;
    if (p->phase_index != w->index && w->nphases < 8)
        snprintf(w->phases[w->nphases++], sizeof w->phases[0], "%s", p->phase);
    w->index = p->phase_index;
    w->total = p->phase_total;
    w->done = p->groups_done;
    if (!strcmp(p->phase, "compare")) w->compare_skipped = p->groups_skipped;
    return 0;
}

static void watch_log(const herd_log_record *r, void *user)
{
    cycle_watch *w = user;
    w->records++;
    if (!pthread_equal(pthread_self(), w->caller)) w->other_thread++;
    if (!strncmp(r->message, "phase ", 6)) w->phase_records++;
    if (!strncmp(r->message, "register: ", 10)) w->register_records++;
    if (!strncmp(r->message, "promote: ", 9)) w->promote_records++;
    if (!strncmp(r->message, "herd_cycle done", 15)) w->done_records++;
    if (!r->family || strcmp(r->family, "f") || !r->run_id || strcmp(r->run_id, "p1")) w->bad++;
}

/* One numbering of phases over the whole cycle, each phase's counts only
 * growing, every report and record on the calling thread, one DEBUG record
 * per phase, and the compare phase's skipped count equal to the decisions'. */
static void test_cycle_progress_and_logs(void **state)
{
    ctx *c = *state;
    holdout h;
    weekly_make(&h, 4, 40, NULL, 0);
    herd_fit_options fo;
    cycle_fit(&fo);
    herd_compare_options cmp;
    herd_compare_options_init(&cmp, HERD_COMPARE_OPTIONS_VERSION);
    cmp.min_holdout_rows = 9; /* the groups hold out 8 rows: skipped; the family 32 */
    herd_cycle_options co;
    herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION);
    co.family = "f";
    co.run_id = "p1";
    co.holdout_order_by = "week";
    co.fallback = 1;
    co.compare = &cmp;
    cycle_watch w;
    memset(&w, 0, sizeof w);
    w.caller = pthread_self();
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 3;
    ao.progress = watch_progress;
    ao.progress_user = &w;
    ao.progress_interval_s = 0.001;
    EXPECT_OK(herd_log_set(watch_log, &w, HERD_LOG_DEBUG));
    herd_frame *d = NULL, *s = NULL;
    EXPECT_OK(herd_cycle(c->reg, h.groups, &fo, &co, &ao, &d, &s));
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
    assert_int_equal(w.bad, 0);
    assert_int_equal(w.other_thread, 0);
    const char *want[] = {"split", "fit", "fit_family", "register", "compare", "promote"};
    assert_int_equal(w.nphases, 6);
    for (int i = 0; i < 6; i++) assert_string_equal(w.phases[i], want[i]);
    assert_int_equal(w.total, 6);
    assert_int_equal(w.phase_records, 6);
    assert_int_equal(w.register_records, 1);
    assert_int_equal(w.promote_records, 1);
    assert_int_equal(w.done_records, 1);
    assert_int_equal(count_decision(s, "skipped"), 4);
    assert_int_equal(w.compare_skipped, 4);
    herd_frame_free(d);
    herd_frame_free(s);
    holdout_free(&h);
}

/* Group keys follow the registry's key rule, checked before anything is
 * trained or compared: a tab in a key names the group, its index, the
 * rule and the key column. */
static void test_bad_keys(void **state)
{
    ctx *c = *state;
    const char *groups[] = {"a", "b\tx", "c"};
    const double *labels[] = {ones, ones, ones};
    size_t sizes[] = {8, 8, 8};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 3);
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    herd_frame *d = (herd_frame *)1;
    assert_int_equal(herd_compare(c->reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_null(d);
    const char *want[] = {"herd_compare: ", "group 1 (of 3", "\"b\\x09x\"", "control character",
                          "column 'g'", "run again"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(herd_last_error(), want[i]))
            fail_msg("'%s' lacks '%s'", herd_last_error(), want[i]);
    herd_fit_options fo;
    cycle_fit(&fo);
    herd_cycle_options co;
    herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION);
    co.family = "f";
    co.run_id = "w1";
    co.holdout_order_by = "t";
    assert_int_equal(herd_cycle(c->reg, h.groups, &fo, &co, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "herd_cycle: group 1 (of 3"));
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(c->reg, &runs));
    assert_int_equal(herd_frame_row_count(runs), 0); /* nothing trained nor registered */
    herd_frame_free(runs);
    /* predicting: such a group has no model of its own (its rows are NaN) */
    put(c->reg, "a", 1, "champion");
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "f";
    herd_frame *p = NULL;
    size_t without = 0;
    EXPECT_OK(herd_registry_predict(c->reg, h.groups, &po, NULL, &p, &without));
    assert_int_equal(without, 16); /* "b\tx" and "c" */
    assert_float_equal(num_at(p, "prediction", 0), 1, 1e-12);
    assert_true(isnan(num_at(p, "prediction", 8)));
    herd_frame_free(p);
    holdout_free(&h);

    /* an empty key, and a joined key over the registry's limit */
    char *longkey = malloc(HERD_KEY_MAX + 2);
    memset(longkey, 'k', HERD_KEY_MAX + 1);
    longkey[HERD_KEY_MAX + 1] = '\0';
    const char *g2[] = {"", longkey};
    holdout_make(&h, g2, labels, sizes, 2);
    assert_int_equal(herd_compare(c->reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "group 0 (of 2"));
    assert_non_null(strstr(herd_last_error(), "empty"));
    holdout_free(&h);
    const char *g3[] = {longkey};
    holdout_make(&h, g3, labels, sizes, 1);
    assert_int_equal(herd_cycle(c->reg, h.groups, &fo, &co, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "the limit is 1024"));
    holdout_free(&h);
    free(longkey);
}

/* A string column of dates added to a holdout: days[i] for row i. */
static void add_days(holdout *h, const char *name, const char *const *days)
{
    EXPECT_OK(herd_frame_add_column(h->frame, name, HERD_TYPE_STRING, days,
                                    herd_frame_row_count(h->frame), NULL));
}

/* The holdout as the last N periods of an ISO 8601 date column. */
static void test_holdout_periods(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    put(reg, "g", 0, "champion");
    put(reg, "g", 1, "challenger");
    /* two rows a day, latest first; the last two days favour the champion */
    double lab[10] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    const char *days[10] = {"2026-01-05", "2026-01-05", "2026-01-04T00:00:00Z",
                            "2026-01-04T00:00:00Z", "2026-01-03", "2026-01-03",
                            "2026-01-02", "2026-01-02", "2026-01-01", "2026-01-01"};
    const char *mixed[10]; /* the same days with offsets: one naive value mixed in */
    const char *groups[] = {"g"};
    const double *labels[] = {lab};
    size_t sizes[] = {10};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 1);
    const char *zoned[10] = {"2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z",
                             "2026-01-04T01:00:00+01:00", "2026-01-04T00:00:00Z",
                             "2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z",
                             "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z",
                             "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"};
    memcpy(mixed, zoned, sizeof mixed);
    mixed[8] = "2026-01-01"; /* no offset among offsets */
    add_days(&h, "zoned", zoned);
    add_days(&h, "mixed", mixed);
    const char *baddays[10];
    memcpy(baddays, zoned, sizeof baddays);
    baddays[6] = "2026-01-32T00:00:00Z";
    add_days(&h, "bad", baddays);
    (void)days;
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.dry_run = 1;
    o.max_promote_fraction = 1;
    o.holdout_order_by = "zoned";
    herd_frame *d = NULL;
    o.holdout_periods = 2; /* the rows of the two latest days */
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    assert_int_equal((int64_t)num_at(d, "holdout_rows", 0), 4);
    assert_float_equal(num_at(d, "champion_metric", 0), 0, 1e-12);
    expect_decision(d, "g", "keep", NULL);
    herd_frame_free(d);
    o.holdout_periods = 3;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    assert_int_equal((int64_t)num_at(d, "holdout_rows", 0), 6);
    herd_frame_free(d);
    o.holdout_periods = 100; /* more periods than the group has: every row */
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    assert_int_equal((int64_t)num_at(d, "holdout_rows", 0), 10);
    expect_decision(d, "g", "promote", NULL);
    herd_frame_free(d);
    /* a fraction by dates: the last 30% in time (ties in frame order) */
    o.holdout_periods = 0;
    o.holdout_fraction = 0.3;
    EXPECT_OK(herd_compare(reg, h.groups, &o, NULL, &d, NULL));
    assert_int_equal((int64_t)num_at(d, "holdout_rows", 0), 3);
    assert_float_equal(num_at(d, "champion_metric", 0), 0, 1e-12);
    herd_frame_free(d);

    /* bad input */
    d = (herd_frame *)1;
    o.holdout_periods = 2; /* and the fraction: one or the other */
    assert_int_equal(herd_compare(reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_null(d);
    assert_non_null(strstr(herd_last_error(), "give one of them"));
    o.holdout_fraction = 0;
    o.holdout_order_by = NULL;
    assert_int_equal(herd_compare(reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "holdout_periods is set"));
    o.holdout_order_by = "bad";
    assert_int_equal(herd_compare(reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "column 'bad', row 6"));
    assert_non_null(strstr(herd_last_error(), "day 32"));
    o.holdout_order_by = "mixed";
    assert_int_equal(herd_compare(reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "row 8"));
    o.holdout_order_by = "g"; /* group names are not dates */
    assert_int_equal(herd_compare(reg, h.groups, &o, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "column 'g', row 0"));
    holdout_free(&h);
}

/* A JSON member of the run's params, found by a path of keys. */
static const cJSON *json_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (v && b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    if (!v) fail_msg("the run's params have no %s%s%s", a, b ? "." : "", b ? b : "");
    return v;
}

/* The params of run `run_id`, parsed. */
static cJSON *run_params(herd_registry *reg, const char *run_id)
{
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(reg, &runs));
    cJSON *p = NULL;
    for (size_t i = 0; i < herd_frame_row_count(runs); i++)
        if (!strcmp(str_at(runs, "run_id", i), run_id))
            p = cJSON_Parse(str_at(runs, "params", i));
    herd_frame_free(runs);
    if (!p) fail_msg("no run %s with JSON params", run_id);
    return p;
}

/* The cycle with a date column, the last N periods, and the lineage its
 * run records (in a locale whose decimal point is a comma). */
static void test_cycle_periods_and_lineage(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    holdout h;
    weekly_make(&h, 4, 40, NULL, 0);
    size_t n = herd_frame_row_count(h.frame);
    char (*text)[32] = calloc(n, sizeof *text);
    const char **dates = calloc(n, sizeof *dates);
    size_t wc = 0;
    EXPECT_OK(herd_frame_find(h.frame, "week", &wc));
    for (size_t r = 0; r < n; r++) {
        double w = 0;
        EXPECT_OK(herd_frame_get_double(h.frame, wc, r, &w));
        int k = (int)w; /* a date that grows with the week */
        snprintf(text[r], sizeof text[r], "2026-%02d-%02d", 1 + k / 4, 1 + (k % 4) * 7);
        dates[r] = text[r];
    }
    EXPECT_OK(herd_frame_add_column(h.frame, "date", HERD_TYPE_STRING, dates, n, NULL));
    herd_fit_options fo;
    cycle_fit(&fo);
    const char *pn[] = {"eta", "max_depth"};
    const char *pv[] = {"0.25", "3"};
    fo.param_names = pn;
    fo.param_values = pv;
    fo.n_params = 2;
    fo.valid_fraction = 0.25;
    fo.seed = 7;
    herd_cycle_options co;
    herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION);
    co.family = "f";
    co.run_id = "p1";
    co.holdout_order_by = "date";
    co.holdout_periods = 2;
    co.fallback = 1;
    test_locale loc;
    int comma = test_locale_decimal_comma(&loc);
    herd_frame *d = NULL;
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, NULL));
    test_locale_restore(&loc);
    assert_int_equal((int64_t)num_at(d, "holdout_rows", row_of(d, "g0")), 2);
    assert_int_equal((int64_t)num_at(d, "holdout_rows", row_of(d, HERD_FALLBACK_GROUP)), 8);
    herd_frame_free(d);

    cJSON *p = run_params(reg, "p1");
    assert_string_equal(json_at(p, "herd_version", NULL)->valuestring, herd_version_string());
    assert_true(strlen(json_at(p, "xgboost_version", NULL)->valuestring) >= 5);
    assert_string_equal(json_at(p, "family", NULL)->valuestring, "f");
    const cJSON *features = json_at(p, "fit", "features");
    assert_int_equal(cJSON_GetArraySize(features), 1);
    assert_string_equal(cJSON_GetArrayItem(features, 0)->valuestring, "x");
    assert_string_equal(json_at(p, "fit", "label")->valuestring, "y");
    assert_true(cJSON_IsNull(json_at(p, "fit", "weight")));
    const cJSON *xp = json_at(p, "fit", "xgboost_params");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(xp, "eta")->valuestring, "0.25");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(xp, "max_depth")->valuestring, "3");
    assert_float_equal(json_at(p, "fit", "rounds")->valuedouble, 20, 0);
    assert_float_equal(json_at(p, "fit", "early_stopping_rounds")->valuedouble, 0, 0);
    assert_float_equal(json_at(p, "fit", "valid_fraction")->valuedouble, 0.25, 0);
    assert_float_equal(json_at(p, "fit", "seed")->valuedouble, 7, 0);
    assert_string_equal(json_at(p, "fit", "split")->valuestring, "random");
    assert_string_equal(json_at(p, "holdout_order_by", NULL)->valuestring, "date");
    assert_float_equal(json_at(p, "holdout_periods", NULL)->valuedouble, 2, 0);
    assert_float_equal(json_at(p, "holdout_fraction", NULL)->valuedouble, 0, 0);
    assert_true(cJSON_IsTrue(json_at(p, "fallback", NULL)));
    assert_string_equal(json_at(p, "compare", "metric")->valuestring, "rmse");
    assert_true(cJSON_IsNull(json_at(p, "compare", "metric_max"))); /* unbounded */
    assert_float_equal(json_at(p, "data", "rows")->valuedouble, 160, 0);
    assert_float_equal(json_at(p, "data", "groups")->valuedouble, 4, 0);
    const char *fp = json_at(p, "data", "fingerprint")->valuestring;
    assert_int_equal(strlen(fp), 16);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 16);
    char fp1[17];
    snprintf(fp1, sizeof fp1, "%s", fp);
    cJSON_Delete(p);
    /* the registry's strict reader took it, in the comma locale too */
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(reg, &runs));
    const char *raw = str_at(runs, "params", 0);
    assert_non_null(strstr(raw, "\"valid_fraction\":0.25"));
    if (comma) assert_null(strstr(raw, "0,25"));
    herd_frame_free(runs);

    /* the same data under another run id: the same fingerprint; other data:
     * another */
    co.run_id = "p2";
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, NULL));
    herd_frame_free(d);
    p = run_params(reg, "p2");
    assert_string_equal(json_at(p, "data", "fingerprint")->valuestring, fp1);
    cJSON_Delete(p);
    holdout_free(&h);
    int drifted[] = {1};
    weekly_make(&h, 4, 40, drifted, 1);
    co.run_id = "p3";
    co.holdout_order_by = "week";
    EXPECT_OK(herd_cycle(reg, h.groups, &fo, &co, NULL, &d, NULL));
    herd_frame_free(d);
    p = run_params(reg, "p3");
    assert_string_not_equal(json_at(p, "data", "fingerprint")->valuestring, fp1);
    cJSON_Delete(p);

    /* bad input: the fraction and the periods; a date that is not one */
    herd_cycle_options bad = co;
    bad.run_id = "p4";
    bad.holdout_fraction = 0.2;
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "give one of them"));
    bad.holdout_fraction = 1.5;
    bad.holdout_periods = 0;
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "holdout_fraction is 1.5"));
    bad.holdout_fraction = 0;
    bad.holdout_order_by = "g";
    assert_int_equal(herd_cycle(reg, h.groups, &fo, &bad, NULL, &d, NULL), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "herd_cycle: opt->holdout_order_by: column 'g'"));
    assert_int_equal(latest(reg, "g0"), 3); /* nothing was trained nor added */
    free(text);
    free(dates);
    holdout_free(&h);
}

/* ---- the process locale changes nothing ----------------------------------- */

/* Two frames hold the same columns and the same values, bit for bit. */
static void frames_equal(const herd_frame *a, const herd_frame *b)
{
    assert_int_equal(herd_frame_column_count(a), herd_frame_column_count(b));
    assert_int_equal(herd_frame_row_count(a), herd_frame_row_count(b));
    for (size_t c = 0; c < herd_frame_column_count(a); c++) {
        assert_string_equal(herd_frame_column_name(a, c), herd_frame_column_name(b, c));
        int type = herd_frame_column_type(a, c);
        assert_int_equal(type, herd_frame_column_type(b, c));
        for (size_t r = 0; r < herd_frame_row_count(a); r++) {
            if (type == HERD_TYPE_STRING) {
                const char *x = NULL, *y = NULL;
                EXPECT_CELL(herd_frame_get_string(a, c, r, &x));
                EXPECT_CELL(herd_frame_get_string(b, c, r, &y));
                if ((x == NULL) != (y == NULL) || (x && strcmp(x, y)))
                    fail_msg("column %s row %zu: \"%s\" vs \"%s\"",
                             herd_frame_column_name(a, c), r, x ? x : "(missing)",
                             y ? y : "(missing)");
            } else {
                double x = 0, y = 0;
                EXPECT_CELL(herd_frame_get_double(a, c, r, &x));
                EXPECT_CELL(herd_frame_get_double(b, c, r, &y));
                if (!(isnan(x) && isnan(y)) && memcmp(&x, &y, sizeof x))
                    fail_msg("column %s row %zu: %.17g vs %.17g",
                             herd_frame_column_name(a, c), r, x, y);
            }
        }
    }
}

typedef struct cycle_out {
    herd_frame *decisions, *summary, *runs, *history;
} cycle_out;

static void cycle_out_free(cycle_out *o)
{
    herd_frame_free(o->decisions);
    herd_frame_free(o->summary);
    herd_frame_free(o->runs);
    herd_frame_free(o->history);
}

/* A cycle with decimal thresholds into registry `name`, under a decimal
 * comma when `comma`: its decisions, summary, run record and champion
 * history (with the details JSON). */
static void locale_cycle(ctx *c, const char *name, int comma, cycle_out *out)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &reg));
    holdout h;
    weekly_make(&h, 4, 40, NULL, 0);
    herd_fit_options fo;
    cycle_fit(&fo);
    herd_compare_options cmp;
    herd_compare_options_init(&cmp, HERD_COMPARE_OPTIONS_VERSION);
    cmp.min_rel_delta = 0.125;
    cmp.metric_max = 0.0625; /* some first challengers fall outside: a reason with it */
    cmp.bootstrap = 50;
    herd_cycle_options co;
    herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION);
    co.family = "f";
    co.run_id = "w1";
    co.holdout_order_by = "week";
    co.holdout_fraction = 0.25;
    co.fallback = 1;
    co.compare = &cmp;
    test_locale loc;
    if (comma && !test_locale_decimal_comma(&loc)) {
        test_locale_restore(&loc);
        fail_msg("no decimal-comma locale could be made (localedef, from `locales`)");
    }
    int rc = herd_cycle(reg, h.groups, &fo, &co, NULL, &out->decisions, &out->summary);
    if (comma) test_locale_restore(&loc);
    EXPECT_OK(rc);
    EXPECT_OK(herd_registry_runs(reg, &out->runs));
    EXPECT_OK(herd_registry_alias_history(reg, "f", NULL, "champion", &out->history));
    herd_registry_free(reg);
    holdout_free(&h);
}

/* herd_cycle and herd_compare write and decide the same under a decimal
 * comma (de_DE) as in the C locale: decisions, reasons, run params (JSON),
 * alias history details (JSON). */
static void test_cycle_locale_independent(void **state)
{
    ctx *c = *state;
    cycle_out ref, de;
    memset(&ref, 0, sizeof ref);
    memset(&de, 0, sizeof de);
    locale_cycle(c, "reg_c", 0, &ref);
    locale_cycle(c, "reg_de", 1, &de);
    frames_equal(ref.decisions, de.decisions);
    frames_equal(ref.summary, de.summary);
    assert_string_equal(str_at(ref.runs, "params", 0), str_at(de.runs, "params", 0));
    assert_non_null(strstr(str_at(de.runs, "params", 0), "0.25"));
    assert_string_equal(str_at(ref.runs, "summary", 0), str_at(de.runs, "summary", 0));
    assert_int_equal(herd_frame_row_count(ref.history), herd_frame_row_count(de.history));
    for (size_t i = 0; i < herd_frame_row_count(ref.history); i++) {
        assert_string_equal(str_at(ref.history, "details", i), str_at(de.history, "details", i));
        assert_string_equal(str_at(ref.history, "reason", i), str_at(de.history, "reason", i));
    }
    cycle_out_free(&ref);
    cycle_out_free(&de);
}

/* herd_compare alone, dry run with thresholds, bounds and a bootstrap:
 * the same decisions and reasons (which print decimals), the same failure
 * and option messages, under a decimal comma as in the C locale. */
static void compare_in_locale(herd_registry *reg, const holdout *h, int comma, herd_frame **d,
                              char *bad_msg, size_t size)
{
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = "f";
    o.label = "y";
    o.min_abs_delta = 0.05;
    o.min_rel_delta = 0.015625;
    o.metric_max = 0.75;
    o.bootstrap = 40;
    o.dry_run = 1;
    o.max_promote_fraction = 1;
    test_locale loc;
    if (comma && !test_locale_decimal_comma(&loc)) {
        test_locale_restore(&loc);
        fail_msg("no decimal-comma locale could be made (localedef, from `locales`)");
    }
    int rc = herd_compare(reg, h->groups, &o, NULL, d, NULL);
    herd_compare_options bad = o;
    bad.min_abs_delta = -0.5;
    herd_frame *none = NULL;
    int brc = herd_compare(reg, h->groups, &bad, NULL, &none, NULL);
    snprintf(bad_msg, size, "%s", herd_last_error());
    if (comma) test_locale_restore(&loc);
    EXPECT_OK(rc);
    assert_int_equal(brc, HERD_EINVAL);
}

static void test_compare_locale_independent(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    put(reg, "better", 0, "champion");
    put(reg, "better", 1, "challenger");
    put(reg, "inside", 0.9, "champion");
    put(reg, "inside", 0.93, "challenger");
    put(reg, "first", 3, "challenger"); /* outside metric_max: skipped, with the bounds */
    put(reg, "nan", 0, "champion");
    put(reg, "nan", 1, "challenger");
    const double nanlab[8] = {1, NAN, 1, 1, 1, 1, 1, 1};
    const char *groups[] = {"better", "inside", "first", "nan"};
    const double *labels[] = {ones, ones, ones, nanlab};
    size_t sizes[] = {8, 8, 8, 8};
    holdout h;
    holdout_make(&h, groups, labels, sizes, 4);
    herd_frame *ref = NULL, *de = NULL;
    char ref_msg[512], de_msg[512];
    compare_in_locale(reg, &h, 0, &ref, ref_msg, sizeof ref_msg);
    compare_in_locale(reg, &h, 1, &de, de_msg, sizeof de_msg);
    frames_equal(ref, de);
    assert_string_equal(ref_msg, de_msg);
    if (!strstr(de_msg, "-0.5")) fail_msg("%s", de_msg);
    expect_decision(de, "first", "skipped", "outside the bounds [-inf, 0.75]");
    expect_decision(de, "inside", "keep", "less than min_abs_delta 0.05");
    herd_frame_free(ref);
    herd_frame_free(de);
    holdout_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promotion_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_holdout_fraction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mape_skips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_progress_and_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_holdout_periods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promotion_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_periods_and_lineage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_locale_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_locale_independent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
