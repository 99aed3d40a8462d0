/* Promotion and rollback under power cuts and kill -9.
 *
 * Family "f" has NG groups g00..g11, each with a champion and a challenger
 * that predict constants (one XGBoost round with eta 0 and base_score c:
 * the prediction is exactly c), so on a holdout frame whose labels are all
 * about 1 the winners are known in advance: in the groups of `winner` the
 * champion predicts 0 and the challenger 1 (promote), elsewhere the other
 * way round (keep).  Every champion was moved once before (from an "old"
 * version), so a rollback that moved more than the promoted groups would
 * show; "solo" has a champion set only once, "bare" a version and no
 * champion.  Version numbers differ between groups (fillers).
 *
 *  - test_power_cut_promotion: on the simulated filesystem, a power cut at
 *    every I/O call of one herd_compare that promotes the NW winners (its
 *    artifact reads included), evaluating on one thread and on two.  After the restart the promotion is there
 *    whole (every winner's champion at exactly its challenger, one alias
 *    history row per winner in one commit, with the reason and the
 *    details) or not at all (the registry exactly as prepared); a
 *    whole-family rollback then undoes exactly the latest commit that moved
 *    champions, and survives another power loss; herd_registry_check is
 *    clean.
 *  - test_kill_promote_rollback: a child process (re-executed, so that it
 *    starts XGBoost afresh) alternates herd_compare and a whole-family
 *    rollback on a registry on disk, reporting each through a pipe; the
 *    parent SIGKILLs it at random moments.  After every kill the champions
 *    are all "before" or all "after", the alias history is the prepared
 *    one followed by whole blocks of NW rows alternating promotion and
 *    rollback, the versions are unchanged, and the number of blocks is what
 *    the children reported (plus at most one committed but not reported).
 *  - test_rollback_group_power_loss: rolling back one group restores
 *    exactly its previous version with one history row naming the reason,
 *    and a power loss right after the commit returned keeps it; rolling
 *    back a group whose champion never moved (or that has none) is
 *    HERD_ENOTFOUND and moves nothing.
 *  - test_power_cut_rollback_group: a power cut at every I/O call of that
 *    one group's rollback: all of it or nothing.
 *
 * HERD_CRASH_SEED (environment) overrides the seed of the random kills. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#include "crash_common.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

#define FAM "f"
#define NG 12      /* groups compared */
#define NW 6       /* of which the challenger wins */
#define NOTHER 2   /* "solo", "bare" */
#define NROWS 8    /* holdout rows per group */
#define SIM_REG "/reg"
#define RUN_ID "week-1"
#define KILLS 50

static const int winner[NG] = {1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1};
static const double labels[NROWS] = {1, 1.1, 0.9, 1, 1.05, 0.95, 1, 1};

/* The constant models. */
enum { M_ZERO, M_FILL, M_OLD, M_ONE, NMODELS };
static const double model_value[NMODELS] = {0, 0.25, 0.5, 1};

/* Roles of versions, in the "batch" tag (the "item" tag is the group). */
enum { R_FILL, R_OLD, R_CHAMP, R_FILL2, R_CHALL, R_SOLO, R_BARE };

typedef struct world {
    void *blob[NMODELS];
    size_t len[NMODELS];
    char name[NG + NOTHER][8];
    /* the versions each group gets (prepare() checks them) */
    int64_t old_v[NG], champ_v[NG], chall_v[NG], nversions[NG + NOTHER];
    int role[NG + NOTHER][8]; /* the role of version v is role[group][v - 1] */
    herd_frame *frame;
    herd_groups *holdout;
    double rmse0, rmse1; /* of the predictions 0 and 1 */
    char reason[NG][256]; /* each winner's promotion reason (a dry run) */
    /* the champion alias history of the prepared registry */
    size_t nbase;
    struct hrow *base;
} world;

/* ---- the world ------------------------------------------------------------- */

static const char *const features[] = {"x"};

/* A serialised artifact whose model predicts `value` for every row. */
static int const_blob(double value, void **data, size_t *len)
{
    double x[10], y[10];
    const char *g[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i;
        y[i] = (i * 7) % 10;
        g[i] = "c";
    }
    herd_frame *f = NULL;
    herd_groups *gr = NULL;
    herd_fit_result *set = NULL;
    herd_artifact *a = NULL;
    const char *keys[] = {"g"};
    char base[64];
    snprintf(base, sizeof base, "%.17g", value);
    const char *pn[] = {"eta", "base_score"};
    const char *pv[] = {"0", base};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = features;
    fo.n_features = 1;
    fo.label = "y";
    fo.rounds = 1;
    fo.valid_fraction = 0;
    fo.min_rows = 2;
    fo.param_names = pn;
    fo.param_values = pv;
    fo.n_params = 2;
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.threads = 1;
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = FAM;
    int rc = herd_frame_new(&f);
    if (!rc) rc = herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 10, NULL);
    if (!rc) rc = herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, y, 10, NULL);
    if (!rc) rc = herd_frame_add_column(f, "g", HERD_TYPE_STRING, g, 10, NULL);
    if (!rc) rc = herd_groups_new(f, keys, 1, &gr);
    if (!rc) rc = herd_fit(gr, &fo, &ap, &set);
    if (!rc) rc = herd_fit_result_artifact(set, "c", &ao, &a);
    if (!rc) rc = herd_artifact_to_buffer(a, data, len);
    herd_artifact_free(a);
    herd_fit_result_free(set);
    herd_groups_free(gr);
    herd_frame_free(f);
    return rc;
}

/* Names, planned versions, the holdout frame; with train, the models. */
static int world_init(world *w, int train)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < NG; i++) snprintf(w->name[i], sizeof w->name[i], "g%02d", i);
    snprintf(w->name[NG], sizeof w->name[NG], "solo");
    snprintf(w->name[NG + 1], sizeof w->name[NG + 1], "bare");
    for (int i = 0; i < NG; i++) {
        int n = 0;
        for (int j = 0; j < i % 3; j++) w->role[i][n++] = R_FILL;
        w->role[i][n++] = R_OLD;
        w->old_v[i] = n;
        w->role[i][n++] = R_CHAMP;
        w->champ_v[i] = n;
        if (i % 2) w->role[i][n++] = R_FILL2;
        w->role[i][n++] = R_CHALL;
        w->chall_v[i] = n;
        w->nversions[i] = n;
    }
    w->role[NG][0] = R_SOLO;
    w->nversions[NG] = 1;
    w->role[NG + 1][0] = R_BARE;
    w->nversions[NG + 1] = 1;
    double s0 = 0, s1 = 0;
    for (int j = 0; j < NROWS; j++) {
        s0 += labels[j] * labels[j];
        s1 += (labels[j] - 1) * (labels[j] - 1);
    }
    w->rmse0 = sqrt(s0 / NROWS);
    w->rmse1 = sqrt(s1 / NROWS);

    size_t n = (size_t)NG * NROWS;
    double x[NG * NROWS], y[NG * NROWS];
    const char *g[NG * NROWS];
    for (int i = 0, r = 0; i < NG; i++)
        for (int j = 0; j < NROWS; j++, r++) {
            x[r] = j;
            y[r] = labels[j];
            g[r] = w->name[i];
        }
    const char *keys[] = {"g"};
    int rc = herd_frame_new(&w->frame);
    if (!rc) rc = herd_frame_add_column(w->frame, "x", HERD_TYPE_FLOAT64, x, n, NULL);
    if (!rc) rc = herd_frame_add_column(w->frame, "y", HERD_TYPE_FLOAT64, y, n, NULL);
    if (!rc) rc = herd_frame_add_column(w->frame, "g", HERD_TYPE_STRING, g, n, NULL);
    if (!rc) rc = herd_groups_new(w->frame, keys, 1, &w->holdout);
    for (int m = 0; train && !rc && m < NMODELS; m++)
        rc = const_blob(model_value[m], &w->blob[m], &w->len[m]);
    return rc;
}

static void world_free(world *w)
{
    for (int m = 0; m < NMODELS; m++) herd_free(w->blob[m]);
    herd_groups_free(w->holdout);
    herd_frame_free(w->frame);
    free(w->base);
    memset(w, 0, sizeof *w);
}

static int model_of(int group, int role)
{
    switch (role) {
    case R_FILL:
    case R_FILL2:
    case R_BARE: return M_FILL;
    case R_OLD:
    case R_SOLO: return M_OLD;
    case R_CHAMP: return winner[group] ? M_ZERO : M_ONE;
    default: return winner[group] ? M_ONE : M_ZERO; /* R_CHALL */
    }
}

static const char *alias_of(int role)
{
    return role == R_OLD || role == R_CHAMP || role == R_SOLO ? "champion"
           : role == R_CHALL                                  ? "challenger"
                                                              : NULL;
}

/* Two commits: (A) fillers, every group's "old" champion, solo, bare;
 * (B) every group's champion (moving it from "old"), a filler for odd
 * groups, the challenger.  Asserts the version numbers. */
static void prepare(herd_registry *reg, const world *w)
{
    for (int commit = 0; commit < 2; commit++) {
        herd_batch *b = NULL;
        CR_OK(herd_registry_begin(reg, &b));
        size_t idx[64], n = 0;
        int64_t want[64];
        for (int i = 0; i < NG + NOTHER; i++)
            for (int v = 0; v < w->nversions[i]; v++) {
                int role = w->role[i][v];
                int in_a = role == R_FILL || role == R_OLD || role == R_SOLO || role == R_BARE;
                if (in_a != (commit == 0)) continue;
                int m = model_of(i, role);
                CR_OK(cr_add(b, w->blob[m], w->len[m], FAM, w->name[i], -1, role, i, NULL,
                             alias_of(role), &idx[n]));
                want[n++] = v + 1;
            }
        CR_OK(herd_batch_commit(b));
        for (size_t j = 0; j < n; j++) {
            int64_t got = 0;
            CR_OK(herd_batch_version(b, idx[j], &got, NULL));
            assert_int_equal(got, want[j]);
        }
        herd_batch_free(b);
    }
}

static int compare(herd_registry *reg, const world *w, int dry_run, int threads,
                   herd_frame **d)
{
    herd_compare_options o;
    herd_compare_options_init(&o, HERD_COMPARE_OPTIONS_VERSION);
    o.family = FAM;
    o.label = "y";
    o.max_promote_fraction = 1;
    o.run_id = RUN_ID;
    o.dry_run = dry_run;
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.threads = threads;
    return herd_compare(reg, w->holdout, &o, &ap, d, NULL);
}

static int group_index(const world *w, const char *name)
{
    for (int i = 0; i < NG + NOTHER; i++)
        if (name && !strcmp(name, w->name[i])) return i;
    return -1;
}

static int64_t frame_i64(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    int64_t v = 0;
    CR_OK(herd_frame_find(f, col, &c));
    CR_OK(herd_frame_get_int64(f, c, r, &v));
    return v;
}

static double frame_f64(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    double v = 0;
    CR_OK(herd_frame_find(f, col, &c));
    int rc = herd_frame_get_double(f, c, r, &v);
    if (rc != HERD_MISSING) CR_OK(rc); /* a missing value reads as NaN */
    return v;
}

/* Count the decisions "promote" and "failed" of a decisions frame. */
static void count_decisions(const herd_frame *d, int *promote, int *failed)
{
    *promote = *failed = 0;
    for (size_t r = 0; d && r < herd_frame_row_count(d); r++) {
        const char *s = cr_cell(d, "decision", r);
        *promote += s && !strcmp(s, "promote");
        *failed += s && !strcmp(s, "failed");
    }
}

/* The decisions of a dry run are exactly the planned ones; keep the
 * winners' reasons. */
static void learn_reasons(herd_registry *reg, world *w)
{
    herd_frame *d = NULL;
    CR_OK(compare(reg, w, 1, 1, &d));
    assert_int_equal(herd_frame_row_count(d), NG);
    for (size_t r = 0; r < NG; r++) {
        int i = group_index(w, cr_cell(d, "group", r));
        assert_true(i >= 0 && i < NG);
        const char *dec = cr_cell(d, "decision", r), *why = cr_cell(d, "reason", r);
        if (strcmp(dec, winner[i] ? "promote" : "keep"))
            fail_msg("dry run: %s decided %s (%s)", w->name[i], dec, why);
        assert_int_equal(frame_i64(d, "champion_version", r), w->champ_v[i]);
        assert_int_equal(frame_i64(d, "challenger_version", r), w->chall_v[i]);
        assert_int_equal(frame_i64(d, "holdout_rows", r), NROWS);
        assert_float_equal(frame_f64(d, "champion_metric", r), winner[i] ? w->rmse0 : w->rmse1,
                           1e-6);
        assert_float_equal(frame_f64(d, "challenger_metric", r),
                           winner[i] ? w->rmse1 : w->rmse0, 1e-6);
        if (winner[i]) {
            assert_non_null(strstr(why, "rmse improves by "));
            snprintf(w->reason[i], sizeof w->reason[i], "%s", why);
        }
    }
    herd_frame_free(d);
}

/* ---- the champion alias history ------------------------------------------ */

typedef struct hrow {
    int group; /* index in w->name */
    int64_t commit, from, to;
    char reason[256], details[1024], run_id[32];
} hrow;

static size_t history(herd_registry *reg, const world *w, hrow **out, const char *where)
{
    herd_frame *h = NULL;
    int rc = herd_registry_alias_history(reg, FAM, NULL, "champion", &h);
    if (rc)
        fail_msg("%s: alias history: %s (%s)", where, herd_status_str(rc), herd_last_error());
    size_t n = herd_frame_row_count(h);
    hrow *rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t r = 0; r < n; r++) {
        const char *g = cr_cell(h, "group", r), *why = cr_cell(h, "reason", r);
        const char *det = cr_cell(h, "details", r), *run = cr_cell(h, "run_id", r);
        const char *al = cr_cell(h, "alias", r);
        rows[r].group = group_index(w, g);
        if (rows[r].group < 0 || !al || strcmp(al, "champion"))
            fail_msg("%s: alias history row %zu: group '%s', alias '%s'", where, r,
                     g ? g : "(none)", al ? al : "(none)");
        rows[r].commit = frame_i64(h, "commit", r);
        rows[r].from = frame_i64(h, "from_version", r);
        rows[r].to = frame_i64(h, "to_version", r);
        snprintf(rows[r].reason, sizeof rows[r].reason, "%s", why ? why : "");
        snprintf(rows[r].details, sizeof rows[r].details, "%s", det ? det : "");
        snprintf(rows[r].run_id, sizeof rows[r].run_id, "%s", run ? run : "");
    }
    herd_frame_free(h);
    *out = rows;
    return n;
}

/* The prepared registry's history: commit A moved every champion from
 * none, commit B every compared group's from its old version. */
static void learn_base(herd_registry *reg, world *w)
{
    hrow *h = NULL;
    size_t n = history(reg, w, &h, "prepared");
    assert_int_equal(n, NG + 1 + NG);
    int seen[NG + NOTHER][2] = {{0}};
    for (size_t r = 0; r < n; r++) {
        int b = r >= NG + 1; /* commit B */
        int i = h[r].group;
        assert_int_equal(h[r].commit, h[b ? NG + 1 : 0].commit);
        if (b) {
            assert_true(i < NG && h[r].commit > h[0].commit);
            assert_int_equal(h[r].from, w->old_v[i]);
            assert_int_equal(h[r].to, w->champ_v[i]);
        } else {
            assert_true(i <= NG);
            assert_int_equal(h[r].from, 0);
            assert_int_equal(h[r].to, i == NG ? 1 : w->old_v[i]);
        }
        seen[i][b]++;
    }
    for (int i = 0; i < NG; i++) assert_true(seen[i][0] == 1 && seen[i][1] == 1);
    free(w->base);
    w->base = h;
    w->nbase = n;
}

/* What happened after the prepared state, in order: one commit each. */
enum { S_PROMOTE, S_ROLLBACK, S_ROLLBACK_ALL, S_ONE };
typedef struct step {
    int kind;
    const char *reason; /* rollbacks */
    int group;          /* S_ONE: this group's champion moves to `to` */
    int64_t to;
} step;

/* A JSON number member of the details, NAN when absent. */
static double json_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void check_details(const world *w, const hrow *r, const char *where)
{
    int i = r->group;
    cJSON *o = cJSON_Parse(r->details);
    if (!o) fail_msg("%s: %s's promotion has details '%s', not a JSON object", where,
                     w->name[i], r->details);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(o, "decision");
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(o, "metric");
    int ok = cJSON_IsString(dec) && !strcmp(dec->valuestring, "promote") &&
             cJSON_IsString(met) && !strcmp(met->valuestring, "rmse") &&
             json_num(o, "champion_version") == (double)w->champ_v[i] &&
             json_num(o, "challenger_version") == (double)w->chall_v[i] &&
             fabs(json_num(o, "champion_metric") - w->rmse0) < 1e-6 &&
             fabs(json_num(o, "challenger_metric") - w->rmse1) < 1e-6 &&
             fabs(json_num(o, "delta") - (w->rmse0 - w->rmse1)) < 1e-6 &&
             json_num(o, "holdout_rows") == NROWS && json_num(o, "min_abs_delta") == 0 &&
             json_num(o, "min_rel_delta") == 0;
    cJSON_Delete(o);
    if (!ok) fail_msg("%s: %s's promotion has details %s", where, w->name[i], r->details);
}

/* The registry is the prepared one after `steps`: every champion where the
 * steps put it (challengers unmoved), the alias history the prepared one
 * followed by one block per step, each in one commit, with exactly the
 * rows of that step; the versions unchanged. */
static void check_state(herd_registry *reg, const world *w, const step *steps, size_t nsteps,
                        const char *where)
{
    int64_t champ[NG + NOTHER];
    for (int i = 0; i < NG; i++) champ[i] = w->champ_v[i];
    champ[NG] = 1;
    champ[NG + 1] = 0;
    hrow *h = NULL;
    size_t n = history(reg, w, &h, where), r = 0;
    for (; r < w->nbase && r < n; r++)
        if (h[r].group != w->base[r].group || h[r].commit != w->base[r].commit ||
            h[r].from != w->base[r].from || h[r].to != w->base[r].to)
            fail_msg("%s: alias history row %zu changed: %s %" PRId64 "->%" PRId64
                     " in commit %" PRId64 ", was %s %" PRId64 "->%" PRId64, where, r,
                     w->name[h[r].group], h[r].from, h[r].to, h[r].commit,
                     w->name[w->base[r].group], w->base[r].from, w->base[r].to);
    if (n < w->nbase) fail_msg("%s: %zu alias history rows, the prepared registry had %zu", where,
                               n, w->nbase);
    int64_t last_commit = w->base[w->nbase - 1].commit;
    for (size_t s = 0; s < nsteps; s++) {
        /* the rows this step must have written */
        hrow want[NG];
        size_t m = 0;
        for (int i = 0; i < NG; i++) {
            int64_t to = -1;
            switch (steps[s].kind) {
            case S_PROMOTE: to = winner[i] ? w->chall_v[i] : -1; break;
            case S_ROLLBACK: to = winner[i] ? w->champ_v[i] : -1; break;
            case S_ROLLBACK_ALL: to = w->old_v[i]; break;
            default: to = steps[s].group == i ? steps[s].to : -1;
            }
            if (to < 0) continue;
            want[m] = (hrow){.group = i, .from = champ[i], .to = to};
            snprintf(want[m].reason, sizeof want[m].reason, "%s",
                     steps[s].kind == S_PROMOTE ? w->reason[i] : steps[s].reason);
            champ[i] = to;
            m++;
        }
        if (r + m > n)
            fail_msg("%s: step %zu of %zu (%s) wrote %zu of its %zu alias history rows", where,
                     s + 1, nsteps, steps[s].kind == S_PROMOTE ? "promotion" : "rollback",
                     n - r, m);
        int64_t commit = h[r].commit;
        if (commit <= last_commit)
            fail_msg("%s: step %zu: commit %" PRId64 " after commit %" PRId64, where, s + 1,
                     commit, last_commit);
        last_commit = commit;
        int seen[NG] = {0};
        for (size_t j = 0; j < m; j++, r++) {
            const hrow *got = &h[r];
            const hrow *exp = NULL;
            for (size_t k = 0; k < m; k++)
                if (want[k].group == got->group) exp = &want[k];
            if (!exp || seen[got->group]++)
                fail_msg("%s: step %zu: alias history row %zu moves %s, which that step does "
                         "not move (or twice)", where, s + 1, r, w->name[got->group]);
            if (got->commit != commit)
                fail_msg("%s: step %zu is split over commits %" PRId64 " and %" PRId64, where,
                         s + 1, commit, got->commit);
            if (got->from != exp->from || got->to != exp->to || strcmp(got->reason, exp->reason))
                fail_msg("%s: step %zu: %s moved %" PRId64 "->%" PRId64 " (\"%s\"), want %" PRId64
                         "->%" PRId64 " (\"%s\")", where, s + 1, w->name[got->group], got->from,
                         got->to, got->reason, exp->from, exp->to, exp->reason);
            if (steps[s].kind == S_PROMOTE) {
                check_details(w, got, where);
                if (strcmp(got->run_id, RUN_ID))
                    fail_msg("%s: %s's promotion has run_id '%s'", where, w->name[got->group],
                             got->run_id);
            }
        }
    }
    if (r != n)
        fail_msg("%s: %zu alias history rows past the %zu expected (the next moves %s %" PRId64
                 "->%" PRId64 " in commit %" PRId64 ")", where, n - r, r, w->name[h[r].group],
                 h[r].from, h[r].to, h[r].commit);
    free(h);

    for (int i = 0; i < NG + NOTHER; i++) {
        int64_t v = 0;
        int rc = herd_registry_resolve(reg, FAM, w->name[i], "champion", &v);
        if (rc == HERD_ENOTFOUND) v = 0;
        else if (rc) fail_msg("%s: resolve %s: %s", where, w->name[i], herd_last_error());
        if (v != champ[i])
            fail_msg("%s: %s@champion is v%" PRId64 ", want v%" PRId64, where, w->name[i], v,
                     champ[i]);
        if (i >= NG) continue;
        CR_OK(herd_registry_resolve(reg, FAM, w->name[i], "challenger", &v));
        if (v != w->chall_v[i])
            fail_msg("%s: %s@challenger is v%" PRId64 ", want v%" PRId64, where, w->name[i], v,
                     w->chall_v[i]);
    }
    herd_clear_error();

    /* the versions: exactly the prepared ones (compare adds none) */
    cr_snap s;
    char err[512];
    if (cr_snap_take(reg, &s, err, sizeof err) || cr_check_gapless(&s, err, sizeof err))
        fail_msg("%s: %s", where, err);
    size_t total = 0;
    for (int i = 0; i < NG + NOTHER; i++) total += (size_t)w->nversions[i];
    if (s.n != total) fail_msg("%s: %zu versions, the prepared registry had %zu", where, s.n, total);
    for (size_t k = 0; k < s.n; k++) {
        const cr_row *v = &s.rows[k];
        int i = group_index(w, v->group);
        if (strcmp(v->family, FAM) || i < 0 || v->version > w->nversions[i] || v->archived ||
            v->batch != w->role[i][v->version - 1] || v->item != i)
            fail_msg("%s: unexpected version %s/%s v%" PRId64 " (tags batch=%ld item=%ld%s)",
                     where, v->family, v->group, v->version, v->batch, v->item,
                     v->archived ? ", archived" : "");
    }
    cr_snap_free(&s);
}

/* How many winners' champions sit at their challenger, and how many at
 * their champion version (for a clear message before check_state). */
/* herd_registry_rollback of FAM's champions, counting the groups it moved
 * (0 when it failed: nothing moved then). */
static int rollback_n(herd_registry *reg, const char *group, const char *reason, size_t *moved)
{
    herd_frame *mv = NULL;
    int rc = herd_registry_rollback(reg, FAM, group, NULL, reason, &mv);
    *moved = herd_frame_row_count(mv);
    if (rc && mv) fail_msg("herd_registry_rollback failed (%s) but returned a frame",
                           herd_status_str(rc));
    herd_frame_free(mv);
    return rc;
}

static void count_moved(herd_registry *reg, const world *w, int *moved, int *stayed)
{
    *moved = *stayed = 0;
    for (int i = 0; i < NG; i++) {
        int64_t v = 0;
        if (!winner[i] || herd_registry_resolve(reg, FAM, w->name[i], "champion", &v)) continue;
        *moved += v == w->chall_v[i];
        *stayed += v == w->champ_v[i];
    }
    herd_clear_error();
}

static void check_clean(herd_registry *reg, const char *where)
{
    herd_frame *problems = NULL;
    int rc = herd_registry_check(reg, &problems);
    if (rc != HERD_OK) {
        const char *f0 = problems && herd_frame_row_count(problems) ? cr_cell(problems, "file", 0)
                                                                : NULL;
        const char *p0 = problems && herd_frame_row_count(problems)
                             ? cr_cell(problems, "problem", 0) : NULL;
        fail_msg("%s: herd_registry_check: %s (%s); first problem: %s: %s", where,
                 herd_status_str(rc), herd_last_error(), f0 ? f0 : "-", p0 ? p0 : "-");
    }
    herd_frame_free(problems);
}

/* ---- group setup: the models and the prepared history -------------------- */

static hd_vfs_sim *new_sim(uint64_t seed)
{
    hd_vfs_sim *sim = hd_vfs_sim_new(seed, HD_VFS_SIM_TORN_APPENDS);
    assert_non_null(sim);
    CR_OK(hd_vfs_mkdir(hd_vfs_sim_vfs(sim), SIM_REG));
    CR_OK(hd_vfs_sync_dir(hd_vfs_sim_vfs(sim), "/"));
    return sim;
}

/* A sim holding the prepared registry, durably. */
static hd_vfs_sim *prepared_sim(const world *w, uint64_t seed)
{
    hd_vfs_sim *sim = new_sim(seed);
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(sim), SIM_REG, NULL, &reg));
    prepare(reg, w);
    herd_registry_free(reg);
    return sim;
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    if (!w || world_init(w, 1)) {
        fprintf(stderr, "world: %s\n", herd_last_error());
        return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world_free(*state);
    free(*state);
    return 0;
}

/* ---- 1. a power cut at every I/O call of a promotion --------------------- */

static void test_power_cut_promotion(void **state)
{
    world *w = *state;
    char where[128];

    /* the run without a cut: learn the reasons, the history, the calls */
    hd_vfs_sim *sim = prepared_sim(w, 1);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    learn_base(reg, w);
    learn_reasons(reg, w);
    check_state(reg, w, NULL, 0, "prepared");
    herd_registry_free(reg);
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    uint64_t c0 = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL);
    uint64_t r0 = hd_vfs_sim_calls(sim, HD_VFS_OP_READ | HD_VFS_OP_MAP);
    herd_frame *d = NULL;
    CR_OK(compare(reg, w, 0, 1, &d));
    herd_registry_free(reg);
    uint64_t count = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL) - c0;
    uint64_t reads = hd_vfs_sim_calls(sim, HD_VFS_OP_READ | HD_VFS_OP_MAP) - r0;
    int npromote, nfailed;
    count_decisions(d, &npromote, &nfailed);
    herd_frame_free(d);
    assert_int_equal(npromote, NW);
    assert_int_equal(nfailed, 0);
    hd_vfs_sim_power_loss(sim);
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    const step promoted[] = {{.kind = S_PROMOTE}};
    check_state(reg, w, promoted, 1, "no cut, power loss after the promotion");
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
    printf("# herd_compare + close: %" PRIu64 " I/O calls (%" PRIu64 " reads and maps)\n", count,
           reads);
    assert_true(count > 2 * NG); /* it loads 2 * NG artifacts */

    /* every k with one evaluating thread, then with two (the cuts land
     * between the two threads' reads); k = count + 1: no cut, a power loss
     * once everything returned */
    double t0 = cr_now();
    unsigned landed = 0, absent = 0, in_eval = 0, rc_ok = 0, not_down = 0;
    for (uint64_t run = 0; run < 2 * (count + 1); run++) {
        int threads = 1 + (int)(run / (count + 1));
        uint64_t k = 1 + run % (count + 1);
        snprintf(where, sizeof where, "cut at call %" PRIu64 " of %" PRIu64 " (%d thread%s)", k,
                 count, threads, threads > 1 ? "s" : "");
        sim = prepared_sim(w, k);
        v = hd_vfs_sim_vfs(sim);
        CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
        if (k <= count) hd_vfs_sim_crash_at(sim, k, HD_VFS_OP_ALL);
        d = NULL;
        int rc = compare(reg, w, 0, threads, &d);
        count_decisions(d, &npromote, &nfailed);
        herd_frame_free(d);
        herd_registry_free(reg);
        if (!hd_vfs_sim_is_down(sim)) {
            not_down += k <= count;
            hd_vfs_sim_crash_at(sim, 0, 0);
            hd_vfs_sim_power_loss(sim);
        }
        hd_vfs_sim_restart(sim);
        herd_clear_error();

        int orc = hd_registry_open_vfs(v, SIM_REG, NULL, &reg);
        if (orc)
            fail_msg("%s: the registry does not open: %s (%s)", where, herd_status_str(orc),
                     herd_last_error());
        int moved, stayed;
        count_moved(reg, w, &moved, &stayed);
        if (moved + stayed != NW || (moved && stayed))
            fail_msg("%s: %d of the %d winners' champions moved to their challenger, %d stayed: "
                     "a promotion half applied (herd_compare returned %s)", where, moved, NW,
                     stayed, herd_status_str(rc));
        int is_landed = moved == NW;
        check_state(reg, w, promoted, is_landed ? 1 : 0, where);
        if (rc == HERD_OK && npromote && !is_landed)
            fail_msg("%s: herd_compare returned HERD_OK deciding %d promotions, and after the "
                     "power loss none is there", where, npromote);
        if (is_landed && rc == HERD_OK && npromote != NW)
            fail_msg("%s: herd_compare returned HERD_OK with %d promotions, but all %d landed",
                     where, npromote, NW);
        landed += is_landed;
        absent += !is_landed;
        in_eval += nfailed > 0;
        rc_ok += rc == HERD_OK;

        /* undo the family's last promotion: when it landed, exactly the
         * promoted groups go back; when not, the latest commit that moved
         * champions is the prepared one (every group from "old") */
        size_t nmoved = 0;
        CR_OK(rollback_n(reg, NULL, "revert week-1", &nmoved));
        step after[2] = {{.kind = S_PROMOTE}};
        size_t nafter = 0;
        if (is_landed) {
            assert_int_equal(nmoved, NW);
            after[nafter++] = (step){.kind = S_PROMOTE};
            after[nafter++] = (step){.kind = S_ROLLBACK, .reason = "revert week-1"};
        } else {
            if (nmoved != NG)
                fail_msg("%s: the promotion is absent; rolling back the family moved %zu groups, "
                         "want the %d of the prepared commit", where, nmoved, NG);
            after[nafter++] = (step){.kind = S_ROLLBACK_ALL, .reason = "revert week-1"};
        }
        char where2[200];
        snprintf(where2, sizeof where2, "%s, after the rollback", where);
        check_state(reg, w, after, nafter, where2);
        /* a second power loss keeps it */
        hd_vfs_sim_power_loss(sim);
        herd_registry_free(reg);
        CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
        snprintf(where2, sizeof where2, "%s, after the rollback and a power loss", where);
        check_state(reg, w, after, nafter, where2);
        check_clean(reg, where2);
        herd_registry_free(reg);
        hd_vfs_sim_free(sim);
    }
    double t1 = cr_now();
    printf("# 1 and 2 threads, %" PRIu64 " power cuts + 1 power loss after each, %.1f s: "
           "promotion landed %u, absent %u (%u cut while evaluating: groups failed); "
           "herd_compare returned HERD_OK %u times; %u runs made fewer calls\n",
           count, t1 - t0, landed, absent, in_eval, rc_ok, not_down);
    /* the cuts hit the evaluation, the commit before its record was
     * durable, and after */
    assert_true(landed > 0);
    assert_true(in_eval > 0);
    assert_true(absent > in_eval);
}

/* ---- 2. kill -9 while promoting and rolling back ------------------------- */

typedef struct preport {
    int32_t kind; /* 0: ready, 1: promoted, 2: rolled back, -1: failed */
    int32_t rc;
    int64_t n;    /* groups moved */
    char msg[240];
} preport;

static void child_report(int fd, int kind, int rc, int64_t n, const char *msg)
{
    preport r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.rc = rc;
    r.n = n;
    snprintf(r.msg, sizeof r.msg, "%s", msg ? msg : "");
    if (write(fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(6);
    if (kind < 0) _exit(4);
}

/* The child (a fresh process: see main): alternate the promotion and its
 * rollback, reporting each once it returned. */
static int child_main(const char *dir, int fd, uint64_t seed)
{
    world w;
    if (world_init(&w, 0)) child_report(fd, -1, HERD_EINTERNAL, 0, herd_last_error());
    herd_registry *reg = NULL;
    int rc = herd_registry_open(dir, NULL, &reg);
    if (rc) child_report(fd, -1, rc, 0, herd_last_error());
    child_report(fd, 0, 0, 0, NULL);
    int first = 0;
    while (!winner[first]) first++;
    for (int op = 0; op < 10000; op++) {
        int64_t v = 0;
        if ((rc = herd_registry_resolve(reg, FAM, w.name[first], "champion", &v)))
            child_report(fd, -1, rc, 0, herd_last_error());
        if (v == w.champ_v[first]) {
            herd_frame *d = NULL;
            rc = compare(reg, &w, 0, 0, &d);
            if (rc) child_report(fd, -1, rc, 0, herd_last_error());
            int promote, failed;
            count_decisions(d, &promote, &failed);
            herd_frame_free(d);
            if (promote != NW || failed)
                child_report(fd, -1, HERD_EINTERNAL, promote, "compare: unexpected decisions");
            child_report(fd, 1, 0, promote, NULL);
        } else {
            size_t moved = 0;
            rc = rollback_n(reg, NULL, "kill-loop rollback", &moved);
            if (rc) child_report(fd, -1, rc, 0, herd_last_error());
            child_report(fd, 2, 0, (int64_t)moved, NULL);
        }
        if (cr_rand(&seed) % 2) usleep((useconds_t)(cr_rand(&seed) % 2000));
    }
    herd_registry_free(reg);
    world_free(&w);
    _exit(0);
}

/* One child's reports, as the parent reads them. */
typedef struct preader {
    int fd, it;
    int saw_ready;
    int next_kind; /* 1: the next operation must be a promotion, 2: a rollback */
    int ops;       /* operations reported */
} preader;

/* Read and check one report; 0 at EOF, else its kind. */
static int read_report(preader *p)
{
    preport r;
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(p->fd, (char *)&r + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got == 0) return 0;
    int it = p->it;
    if (got != sizeof r) fail_msg("kill %d: a torn report in the pipe", it);
    if (r.kind < 0)
        fail_msg("kill %d: the child failed: %s (%s)", it, herd_status_str(r.rc), r.msg);
    if (r.kind == 0) {
        if (p->saw_ready) fail_msg("kill %d: two ready markers", it);
        p->saw_ready = 1;
        return 3;
    }
    if (!p->saw_ready) fail_msg("kill %d: a report before the ready marker", it);
    if (r.kind != p->next_kind)
        fail_msg("kill %d: the child %s where it should have %s", it,
                 r.kind == 1 ? "promoted" : "rolled back",
                 p->next_kind == 1 ? "promoted" : "rolled back");
    if (r.n != NW)
        fail_msg("kill %d: the child's %s moved %" PRId64 " groups, want %d", it,
                 r.kind == 1 ? "promotion" : "rollback", r.n, NW);
    p->next_kind = 3 - p->next_kind;
    p->ops++;
    return r.kind;
}

/* The steps of `ops` alternating promotions and rollbacks. */
static step *alternating(size_t ops)
{
    step *s = calloc(ops ? ops : 1, sizeof *s);
    for (size_t i = 0; i < ops; i++)
        s[i] = (step){.kind = i % 2 ? S_ROLLBACK : S_PROMOTE, .reason = "kill-loop rollback"};
    return s;
}

/* The number of operations the registry shows (whole blocks of NW alias
 * history rows after the prepared ones), after checking the state. */
static size_t verify_ops(herd_registry *reg, const world *w, const char *where)
{
    int moved, stayed;
    count_moved(reg, w, &moved, &stayed);
    if (moved + stayed != NW || (moved && stayed))
        fail_msg("%s: %d of the %d winners' champions are at their challenger, %d at their "
                 "champion: neither all before nor all after", where, moved, NW, stayed);
    hrow *h = NULL;
    size_t n = history(reg, w, &h, where);
    free(h);
    if (n < w->nbase || (n - w->nbase) % NW)
        fail_msg("%s: %zu alias history rows: not the %zu prepared ones plus whole commits of %d",
                 where, n, w->nbase, NW);
    size_t ops = (n - w->nbase) / NW;
    if ((ops % 2 == 1) != (moved == NW))
        fail_msg("%s: %zu operations in the history, but the champions are %s", where, ops,
                 moved ? "promoted" : "not promoted");
    step *s = alternating(ops);
    check_state(reg, w, s, ops, where);
    free(s);
    return ops;
}

static void test_kill_promote_rollback(void **state)
{
    world *w = *state;
    char dir[4096], reg_dir[4200], where[128];
    assert_int_equal(cr_mkdtemp(dir, sizeof dir, "killpromote"), 0);
    snprintf(reg_dir, sizeof reg_dir, "%s/reg", dir);
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(reg_dir, NULL, &reg));
    prepare(reg, w);
    learn_base(reg, w);
    learn_reasons(reg, w);
    check_state(reg, w, NULL, 0, "prepared");
    herd_registry_free(reg);

    uint64_t seed = 20240923;
    const char *env = getenv("HERD_CRASH_SEED");
    if (env && *env) seed = strtoull(env, NULL, 10);
    printf("# kill loop: seed %" PRIu64 " (HERD_CRASH_SEED), registry %s\n", seed, reg_dir);

    double t0 = cr_now();
    size_t ops = 0, max_ops = 0;
    int reported_total = 0, unreported = 0, killed_running = 0, kills_after[2] = {0, 0};
    for (int it = 0; it < KILLS; it++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        char fdarg[16], seedarg[32];
        snprintf(fdarg, sizeof fdarg, "%d", fds[1]);
        snprintf(seedarg, sizeof seedarg, "%" PRIu64, cr_rand(&seed));
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            char *args[] = {"test_crash_promote", "--promote-child", reg_dir, fdarg, seedarg,
                            NULL};
            execv("/proc/self/exe", args);
            _exit(7);
        }
        close(fds[1]);
        preader pr = {.fd = fds[0], .it = it, .next_kind = ops % 2 ? 2 : 1};
        int mode = (int)(cr_rand(&seed) % 8);
        if (mode) {
            /* 7 in 8: the delay counts from the child's open, so that most
             * kills land in operations; else from the exec (kills in open) */
            if (read_report(&pr) != 3) fail_msg("kill %d: no ready marker from the child", it);
        }
        if (mode >= 4) {
            /* half: from the end of an operation -- a promotion, or a
             * rollback -- so that kills land early in the next one, a
             * rollback as often as a promotion (the promotion is the slow
             * one: it loads and evaluates 2 * NG models) */
            int want = (int)(cr_rand(&seed) % 2) + 1, kind;
            do kind = read_report(&pr);
            while (kind && kind != want);
            usleep((useconds_t)(cr_rand(&seed) % (want == 1 ? 1001 : 5001)));
        } else {
            usleep((useconds_t)(cr_rand(&seed) % 60001));
        }
        kill(pid, SIGKILL);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        while (read_report(&pr)) {
        }
        int reported = pr.ops;
        close(fds[0]);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) killed_running++;
        else fail_msg("kill %d: the child ended with status %#x", it, st);

        snprintf(where, sizeof where, "kill %d", it);
        CR_OK(herd_registry_open(reg_dir, NULL, &reg));
        size_t now = verify_ops(reg, w, where);
        check_clean(reg, where);
        herd_registry_free(reg);
        if (now < ops + (size_t)reported)
            fail_msg("kill %d: the child reported %d operations after the %zu before, the "
                     "registry shows %zu: a reported commit is lost", it, reported, ops, now);
        if (now > ops + (size_t)reported + 1)
            fail_msg("kill %d: %zu operations, but %zu before and %d reported: more than the "
                     "one in flight", it, now, ops, reported);
        unreported += now == ops + (size_t)reported + 1;
        reported_total += reported;
        kills_after[now % 2]++;
        ops = now;
        if (ops > max_ops) max_ops = ops;
    }
    double t1 = cr_now();

    /* from the promoted state, one explicit rollback restores exactly the
     * champions before it */
    CR_OK(herd_registry_open(reg_dir, NULL, &reg));
    step *s = alternating(ops + 2);
    if (ops % 2 == 0) {
        herd_frame *d = NULL;
        CR_OK(compare(reg, w, 0, 0, &d));
        herd_frame_free(d);
        ops++;
        check_state(reg, w, s, ops, "the promotion after the kill loop");
    }
    size_t moved = 0;
    CR_OK(rollback_n(reg, NULL, "kill-loop rollback", &moved));
    assert_int_equal(moved, NW);
    ops++;
    check_state(reg, w, s, ops, "the rollback after the kill loop");
    herd_registry_free(reg);
    CR_OK(herd_registry_open(reg_dir, NULL, &reg));
    check_state(reg, w, s, ops, "the rollback after the kill loop, reopened");
    for (int i = 0; i < NG; i++) {
        int64_t v = 0;
        CR_OK(herd_registry_resolve(reg, FAM, w->name[i], "champion", &v));
        assert_int_equal(v, w->champ_v[i]);
    }
    check_clean(reg, "after the kill loop");
    herd_registry_free(reg);
    free(s);
    printf("# %d kills (%d while running) in %.1f s: %d operations reported, %zu in the registry "
           "(%d committed but not reported); left promoted %d, not promoted %d\n",
           KILLS, killed_running, t1 - t0, reported_total, max_ops, unreported, kills_after[1],
           kills_after[0]);
    /* the kills landed on both states, and in operations */
    assert_true(kills_after[0] > 0 && kills_after[1] > 0);
    assert_true(reported_total >= KILLS / 10); /* a low bar: fsyncs are slow on some disks */
    assert_int_equal(cr_rmtree(dir), 0);
}

/* ---- 3. one group's rollback, and a power loss right after it ------------- */

static void test_rollback_group_power_loss(void **state)
{
    world *w = *state;
    hd_vfs_sim *sim = prepared_sim(w, 7);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    learn_base(reg, w);
    learn_reasons(reg, w);
    herd_frame *d = NULL;
    CR_OK(compare(reg, w, 0, 1, &d));
    herd_frame_free(d);
    step steps[4] = {{.kind = S_PROMOTE}};
    check_state(reg, w, steps, 1, "promoted");

    int g = 2; /* a winner */
    assert_true(winner[g]);
    size_t moved = 0;
    CR_OK(rollback_n(reg, w->name[g], "bad week for g02", &moved));
    assert_int_equal(moved, 1);
    /* the machine dies as soon as the commit returned */
    hd_vfs_sim_power_loss(sim);
    herd_registry_free(reg);
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    steps[1] = (step){.kind = S_ONE, .group = g, .to = w->champ_v[g], .reason = "bad week for g02"};
    check_state(reg, w, steps, 2, "one group rolled back, then a power loss");
    int64_t ver = 0;
    CR_OK(herd_registry_resolve(reg, FAM, w->name[g], "champion", &ver));
    assert_int_equal(ver, w->champ_v[g]);
    /* its last history row: exactly the way back, with the reason */
    herd_frame *h = NULL;
    CR_OK(herd_registry_alias_history(reg, FAM, w->name[g], "champion", &h));
    size_t last = herd_frame_row_count(h) - 1;
    assert_int_equal(herd_frame_row_count(h), 4); /* none -> old -> champion -> challenger -> back */
    assert_int_equal(frame_i64(h, "from_version", last), w->chall_v[g]);
    assert_int_equal(frame_i64(h, "to_version", last), w->champ_v[g]);
    assert_string_equal(cr_cell(h, "reason", last), "bad week for g02");
    herd_frame_free(h);

    /* a champion that never moved (set once), a group without one, a
     * group that does not exist: HERD_ENOTFOUND naming it, nothing moves */
    const char *none[] = {"solo", "bare", "nosuch"};
    for (int k = 0; k < 3; k++) {
        moved = 99;
        int rc = rollback_n(reg, none[k], "should not move", &moved);
        if (rc != HERD_ENOTFOUND)
            fail_msg("rolling back %s: %s (%s), want HERD_ENOTFOUND", none[k],
                     herd_status_str(rc), herd_last_error());
        if (!strstr(herd_last_error(), none[k]))
            fail_msg("rolling back %s: the message does not name it: %s", none[k],
                     herd_last_error());
        if (k == 0 && !strstr(herd_last_error(), "no previous version"))
            fail_msg("rolling back solo: %s", herd_last_error());
        assert_int_equal(moved, 0);
    }
    check_state(reg, w, steps, 2, "after the refused rollbacks");
    hd_vfs_sim_power_loss(sim);
    herd_registry_free(reg);
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    check_state(reg, w, steps, 2, "after the refused rollbacks and a power loss");

    /* rolling the same group back again moves it forward again; a power
     * loss right after keeps that too */
    CR_OK(rollback_n(reg, w->name[g], "g02 was fine", &moved));
    assert_int_equal(moved, 1);
    hd_vfs_sim_power_loss(sim);
    herd_registry_free(reg);
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    steps[2] = (step){.kind = S_ONE, .group = g, .to = w->chall_v[g], .reason = "g02 was fine"};
    check_state(reg, w, steps, 3, "rolled back twice, then a power loss");
    check_clean(reg, "rolled back twice, then a power loss");
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
}

/* A power cut at every I/O call of that one group's rollback: after the
 * restart it is there (exactly the one row) or not at all. */
static void test_power_cut_rollback_group(void **state)
{
    world *w = *state;
    const int g = 2;
    char where[128];
    uint64_t count = 0;
    unsigned landed = 0, absent = 0;
    for (uint64_t k = 0; k == 0 || k <= count + 1; k++) {
        if (k) snprintf(where, sizeof where, "rollback of g02, cut at call %" PRIu64 " of %" PRIu64,
                        k, count);
        else snprintf(where, sizeof where, "rollback of g02, no cut");
        hd_vfs_sim *sim = prepared_sim(w, 100 + k);
        const hd_vfs *v = hd_vfs_sim_vfs(sim);
        herd_registry *reg = NULL;
        CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
        if (k == 0) {
            learn_base(reg, w);
            learn_reasons(reg, w);
        }
        herd_frame *d = NULL;
        CR_OK(compare(reg, w, 0, 1, &d));
        herd_frame_free(d);
        herd_registry_free(reg);
        CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
        uint64_t c0 = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL);
        if (k >= 1 && k <= count) hd_vfs_sim_crash_at(sim, k, HD_VFS_OP_ALL);
        size_t moved = 0;
        int rc = rollback_n(reg, w->name[g], "bad week for g02", &moved);
        herd_registry_free(reg);
        if (k == 0) {
            if (rc) fail_msg("rollback without a cut: %s (%s)", herd_status_str(rc),
                             herd_last_error());
            count = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL) - c0;
        }
        if (!hd_vfs_sim_is_down(sim)) {
            hd_vfs_sim_crash_at(sim, 0, 0);
            hd_vfs_sim_power_loss(sim);
        }
        hd_vfs_sim_restart(sim);
        herd_clear_error();
        CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
        int64_t ver = 0;
        CR_OK(herd_registry_resolve(reg, FAM, w->name[g], "champion", &ver));
        step steps[2] = {{.kind = S_PROMOTE},
                         {.kind = S_ONE, .group = g, .to = w->champ_v[g],
                          .reason = "bad week for g02"}};
        int is_landed = ver == w->champ_v[g];
        if (!is_landed && rc == HERD_OK)
            fail_msg("%s: the rollback returned HERD_OK and is lost after a power loss", where);
        if (is_landed && rc == HERD_OK && moved != 1)
            fail_msg("%s: the rollback reported %zu groups moved", where, moved);
        check_state(reg, w, steps, is_landed ? 2 : 1, where);
        check_clean(reg, where);
        landed += is_landed;
        absent += !is_landed;
        herd_registry_free(reg);
        hd_vfs_sim_free(sim);
    }
    printf("# rollback of one group: %" PRIu64 " I/O calls; %" PRIu64 " power cuts and 2 power "
           "losses after it returned: rolled back %u, not %u\n", count, count, landed, absent);
    assert_true(landed > 0 && absent > 0);
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--promote-child"))
        return child_main(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_cut_promotion),
        cmocka_unit_test(test_kill_promote_rollback),
        cmocka_unit_test(test_rollback_group_power_loss),
        cmocka_unit_test(test_power_cut_rollback_group),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
