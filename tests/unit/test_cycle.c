/* test_cycle.c -- the weekly cycle in two stages: the streaming herd_cycle
 * and a distributed run (herd_cycle_train parts, herd_cycle_run committer)
 * give the decisions, versions and model bytes of the separate steps
 * (herd_fit on the training rows, registering, herd_compare on the
 * holdout); parts and champions travel as bytes; re-runs, retried parts,
 * moved champions and damaged bytes; herd_batch_add_bytes learning the
 * group and idempotency key from the artifact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "registry/registry_internal.h"

#define EXPECT_OK(call)                                                              \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != HERD_OK) fail_msg("%s: %s (%s)", #call, herd_status_str(rc_),     \
                                     herd_last_error());                             \
    } while (0)

#define EXPECT_RC(want, call)                                                        \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != (want)) fail_msg("%s: %s, not %s (%s)", #call, herd_status_str(rc_), \
                                    herd_status_str(want), herd_last_error());       \
    } while (0)

/* ---- fixture: a directory of registries ----------------------------------- */

typedef struct ctx {
    char dir[512];
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
    snprintf(c->dir, sizeof c->dir, "%s/herd_cycle_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
    return 0;
}

static herd_registry *open_reg(const ctx *c, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    herd_registry *r = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &r));
    return r;
}

/* The most of a batch's own packs ("pack-tmp-...", written as artifacts
 * are added, renamed into place by the commit) that progress reports saw
 * in a registry directory.  A streaming batch with a stream size of 1 byte
 * has one from its first artifact to its commit ("register"); a batch
 * holding its artifacts in memory none. */
typedef struct spill_watch {
    char dir[600];
    size_t own_packs;
} spill_watch;

static int watch_spill(const herd_progress *p, void *user)
{
    (void)p;
    spill_watch *w = user;
    DIR *d = opendir(w->dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, "pack-tmp-", 9) == 0;
    closedir(d);
    if (n > w->own_packs) w->own_packs = n;
    return 0;
}

/* Open registry `name` with a stream size of 1 byte and point `ao`'s
 * progress at a watch of its directory. */
static herd_registry *open_streaming(const ctx *c, const char *name, herd_apply_options *ao,
                                     spill_watch *w)
{
    herd_registry *r = open_reg(c, name);
    hd_registry_set_stream_bytes(r, 1);
    snprintf(w->dir, sizeof w->dir, "%s/%s", c->dir, name);
    w->own_packs = 0;
    ao->progress = watch_spill;
    ao->progress_user = w;
    return r;
}

/* ---- data ------------------------------------------------------------------- */

#define NG 10
#define WEEKS 40

static const char *group_names[NG] = {"s00", "s01", "s02", "s03", "s04",
                                      "s05", "s06", "s07", "s08", "s09"};

/* NG groups of WEEKS rows, interleaved in the frame (week by week, groups
 * in reverse order), each group's weeks out of frame order, so that the
 * holdout order, the frame order and the group order all differ.  With
 * `drift`, every other group's slope turns, so its champion loses. */
typedef struct week {
    herd_frame *frame;
    herd_groups *groups;
} week;

static void week_make(week *w, uint64_t seed, int drift)
{
    size_t n = NG * WEEKS;
    double *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y), *t = calloc(n, sizeof *t);
    const char **g = calloc(n, sizeof *g);
    uint64_t s = seed;
    size_t r = 0;
    for (int i = 0; i < WEEKS; i++) {
        for (int k = NG - 1; k >= 0; k--, r++) {
            double slope = 1 + k;
            if (drift && k % 2 == 0) slope = -slope;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[r] = (double)((s >> 20) % 1000) / 100.0;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            y[r] = slope * x[r] + 0.5 * ((double)((s >> 20) % 1000) / 1000.0 - 0.5);
            t[r] = (double)((i * 7) % WEEKS); /* a permutation of the weeks */
            g[r] = group_names[k];
        }
    }
    EXPECT_OK(herd_frame_new(&w->frame));
    EXPECT_OK(herd_frame_add_column(w->frame, "x", HERD_TYPE_FLOAT64, x, n, NULL));
    EXPECT_OK(herd_frame_add_column(w->frame, "y", HERD_TYPE_FLOAT64, y, n, NULL));
    EXPECT_OK(herd_frame_add_column(w->frame, "week", HERD_TYPE_FLOAT64, t, n, NULL));
    EXPECT_OK(herd_frame_add_column(w->frame, "g", HERD_TYPE_STRING, g, n, NULL));
    const char *keys[] = {"g"};
    EXPECT_OK(herd_groups_new(w->frame, keys, 1, &w->groups));
    free(x);
    free(y);
    free(t);
    free(g);
}

static void week_free(week *w)
{
    herd_groups_free(w->groups);
    herd_frame_free(w->frame);
}

/* ---- options ------------------------------------------------------------------ */

static const char *features[] = {"x"};
static const char *param_names[] = {"max_depth"};
static const char *param_values[] = {"3"};

static void fit_opts(herd_fit_options *fo)
{
    herd_fit_options_init(fo, HERD_FIT_OPTIONS_VERSION);
    fo->features = features;
    fo->n_features = 1;
    fo->label = "y";
    fo->rounds = 15;
    fo->param_names = param_names;
    fo->param_values = param_values;
    fo->n_params = 1;
    fo->seed = 7;
}

static void compare_opts(herd_compare_options *cmp)
{
    herd_compare_options_init(cmp, HERD_COMPARE_OPTIONS_VERSION);
    cmp->bootstrap = 200;
    cmp->seed = 11;
    cmp->max_promote_fraction = 1;
}

static void cycle_opts(herd_cycle_options *co, const char *run, herd_compare_options *cmp)
{
    herd_cycle_options_init(co, HERD_CYCLE_OPTIONS_VERSION);
    co->family = "f";
    co->run_id = run;
    co->holdout_order_by = "week";
    co->fallback = 1;
    co->compare = cmp;
}

/* ---- the separate steps: split, herd_fit, register, herd_compare ------------ */

static const double *week_keys;

static int by_week(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    double u = week_keys[x], v = week_keys[y];
    if (u != v) return u < v ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Each group's rows by week; its last 20% (at least one) held out. */
static void split_rows(const week *w, size_t *train, size_t *nt, size_t *hold, size_t *nh)
{
    size_t tc;
    EXPECT_OK(herd_frame_find(w->frame, "week", &tc));
    const void *data = NULL;
    size_t stride = 0;
    const uint8_t *mask = NULL;
    EXPECT_OK(herd_frame_column_data(w->frame, tc, &data, &stride, &mask));
    assert_int_equal(stride, sizeof(double));
    week_keys = data;
    *nt = *nh = 0;
    for (size_t g = 0; g < herd_groups_count(w->groups); g++) {
        const size_t *rows = NULL;
        size_t n = 0;
        EXPECT_OK(herd_groups_rows(w->groups, g, &rows, &n));
        size_t *o = malloc(n * sizeof *o);
        memcpy(o, rows, n * sizeof *o);
        qsort(o, n, sizeof *o, by_week);
        size_t k = (size_t)ceil(0.2 * (double)n);
        for (size_t i = 0; i < n - k; i++) train[(*nt)++] = o[i];
        for (size_t i = n - k; i < n; i++) hold[(*nh)++] = o[i];
        free(o);
    }
}

/* A frame's rows as groups by "g", or all in one group (the family model). */
static herd_groups *group_by(herd_frame *f, int family)
{
    herd_groups *g = NULL;
    if (family) {
        size_t n = herd_frame_row_count(f);
        const char **v = malloc((n ? n : 1) * sizeof *v);
        for (size_t i = 0; i < n; i++) v[i] = HERD_FALLBACK_GROUP;
        EXPECT_OK(herd_frame_add_column(f, "all", HERD_TYPE_STRING, v, n, NULL));
        free(v);
    }
    const char *keys[] = {family ? "all" : "g"};
    EXPECT_OK(herd_groups_new(f, keys, 1, &g));
    return g;
}

static void register_fit(herd_batch *b, const herd_fit_result *res, const char *run)
{
    for (size_t i = 0; i < herd_fit_result_count(res); i++) {
        herd_frame *rep = NULL;
        EXPECT_OK(herd_fit_result_report(res, &rep));
        size_t gc;
        EXPECT_OK(herd_frame_find(rep, "group", &gc));
        const char *key = NULL;
        EXPECT_OK(herd_frame_get_string(rep, gc, i, &key));
        herd_artifact_options ao;
        herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
        ao.family = "f";
        ao.run_id = run;
        herd_artifact *a = NULL;
        int rc = herd_fit_result_artifact(res, key, &ao, &a);
        if (rc == HERD_MISSING) {
            herd_frame_free(rep);
            continue;
        }
        EXPECT_OK(rc);
        char idem[256];
        snprintf(idem, sizeof idem, "f/%s/%s", run, key);
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.alias = "challenger";
        vo.idempotency_key = idem;
        EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
        herd_artifact_free(a);
        herd_frame_free(rep);
    }
}

/* The cycle as the separate public steps; the decisions of the groups,
 * then the family model's. */
static void steps_cycle(herd_registry *reg, const week *w, const char *run, herd_frame **dg,
                        herd_frame **df)
{
    size_t n = herd_frame_row_count(w->frame);
    size_t *train = malloc(n * sizeof *train), *hold = malloc(n * sizeof *hold), nt, nh;
    split_rows(w, train, &nt, hold, &nh);
    herd_frame *tf = NULL, *hf = NULL, *tf_all = NULL, *hf_all = NULL;
    EXPECT_OK(herd_frame_take(w->frame, train, nt, &tf));
    EXPECT_OK(herd_frame_take(w->frame, hold, nh, &hf));
    EXPECT_OK(herd_frame_take(w->frame, train, nt, &tf_all));
    EXPECT_OK(herd_frame_take(w->frame, hold, nh, &hf_all));
    herd_groups *tg = group_by(tf, 0), *hg = group_by(hf, 0);
    herd_groups *tga = group_by(tf_all, 1), *hga = group_by(hf_all, 1);
    herd_fit_options fo;
    fit_opts(&fo);
    herd_fit_result *res = NULL, *res_all = NULL;
    EXPECT_OK(herd_fit(tg, &fo, NULL, &res));
    EXPECT_OK(herd_fit(tga, &fo, NULL, &res_all));
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    register_fit(b, res, run);
    register_fit(b, res_all, run);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_compare_options cmp;
    compare_opts(&cmp);
    cmp.family = "f";
    cmp.label = "y";
    cmp.run_id = run;
    EXPECT_OK(herd_compare(reg, hg, &cmp, NULL, dg, NULL));
    EXPECT_OK(herd_compare(reg, hga, &cmp, NULL, df, NULL));
    herd_fit_result_free(res);
    herd_fit_result_free(res_all);
    herd_groups_free(tg);
    herd_groups_free(hg);
    herd_groups_free(tga);
    herd_groups_free(hga);
    herd_frame_free(tf);
    herd_frame_free(hf);
    herd_frame_free(tf_all);
    herd_frame_free(hf_all);
    free(train);
    free(hold);
}

/* ---- the two stages, across "machines": everything through bytes ---------- */

static herd_cycle_part *travel(const herd_cycle_part *p)
{
    void *data = NULL;
    size_t len = 0;
    EXPECT_OK(herd_cycle_part_to_buffer(p, &data, &len));
    herd_cycle_part *q = NULL;
    EXPECT_OK(herd_cycle_part_read(data, len, &q));
    herd_free(data);
    return q;
}

static herd_champions *champions_travel(herd_registry *reg, const char *const *keys, size_t n)
{
    herd_champions *c = NULL;
    EXPECT_OK(herd_registry_champions(reg, "f", NULL, keys, n, &c));
    void *data = NULL;
    size_t len = 0;
    EXPECT_OK(herd_champions_to_buffer(c, &data, &len));
    herd_champions_free(c);
    EXPECT_OK(herd_champions_read(data, len, &c));
    herd_free(data);
    return c;
}

/* A worker: the frame rows of `keys` only, grouped afresh. */
static herd_cycle_part *worker(const week *w, herd_registry *reg, const char *const *keys,
                               size_t nkeys, uint32_t models, const char *run)
{
    size_t n = herd_frame_row_count(w->frame), gc, m = 0;
    EXPECT_OK(herd_frame_find(w->frame, "g", &gc));
    uint8_t *mask = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        const char *g = NULL;
        EXPECT_OK(herd_frame_get_string(w->frame, gc, i, &g));
        for (size_t k = 0; k < nkeys; k++) mask[i] |= !strcmp(g, keys[k]);
        m += mask[i];
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_frame_filter(w->frame, mask, n, &f));
    assert_int_equal(herd_frame_row_count(f), m);
    const char *by[] = {"g"};
    herd_groups *g = NULL;
    EXPECT_OK(herd_groups_new(f, by, 1, &g));
    herd_champions *champs =
        champions_travel(reg, models & HERD_CYCLE_GROUPS ? keys : NULL,
                         models & HERD_CYCLE_GROUPS ? nkeys : 0);
    herd_fit_options fo;
    fit_opts(&fo);
    herd_compare_options cmp;
    compare_opts(&cmp);
    herd_cycle_options co;
    cycle_opts(&co, run, &cmp);
    co.models = models;
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 2;
    herd_cycle_part *p = NULL;
    EXPECT_OK(herd_cycle_train(g, &fo, &co, champs, &ao, &p));
    herd_cycle_part *q = travel(p);
    herd_cycle_part_free(p);
    herd_champions_free(champs);
    herd_groups_free(g);
    herd_frame_free(f);
    free(mask);
    return q;
}

/* The committer over three workers: two shares of the groups and one for
 * the family model (on every row). */
static int distributed_cycle(herd_registry *reg, const week *w, const char *run,
                             herd_frame **d)
{
    static const char *share1[] = {"s00", "s03", "s04", "s07", "s09"};
    static const char *share2[] = {"s01", "s02", "s05", "s06", "s08"};
    herd_cycle_part *parts[3] = {worker(w, reg, share2, 5, HERD_CYCLE_GROUPS, run),
                                 worker(w, reg, share1, 5, HERD_CYCLE_GROUPS, run),
                                 worker(w, reg, group_names, NG, HERD_CYCLE_FAMILY, run)};
    herd_fit_options fo;
    fit_opts(&fo);
    herd_compare_options cmp;
    compare_opts(&cmp);
    herd_cycle_options co;
    cycle_opts(&co, run, &cmp);
    herd_cycle_run *cr = NULL;
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &cr));
    for (int i = 0; i < 3; i++) {
        EXPECT_OK(herd_cycle_run_add(cr, parts[i]));
        herd_cycle_part_free(parts[i]);
    }
    int rc = herd_cycle_run_commit(cr, d, NULL);
    herd_cycle_run_free(cr);
    return rc;
}

/* ---- comparing runs ----------------------------------------------------------- */

static size_t row_of(const herd_frame *f, const char *group)
{
    size_t gc;
    EXPECT_OK(herd_frame_find(f, "group", &gc));
    for (size_t i = 0; i < herd_frame_row_count(f); i++) {
        const char *s = NULL;
        EXPECT_OK(herd_frame_get_string(f, gc, i, &s));
        if (!strcmp(s, group)) return i;
    }
    fail_msg("no group %s in the decisions", group);
    return 0;
}

static double cell(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    EXPECT_OK(herd_frame_find(f, col, &c));
    double v = NAN;
    int rc = herd_frame_get_double(f, c, r, &v);
    if (rc != HERD_OK && rc != HERD_MISSING) fail_msg("%s: %s", col, herd_last_error());
    return v;
}

static const char *text(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    EXPECT_OK(herd_frame_find(f, col, &c));
    const char *s = NULL;
    EXPECT_OK(herd_frame_get_string(f, c, r, &s));
    return s;
}

/* The same decision, versions and numbers (bit for bit) for every group. */
static void same_decision(const herd_frame *a, size_t ra, const herd_frame *b, size_t rb)
{
    const char *g = text(a, "group", ra);
    if (strcmp(text(a, "decision", ra), text(b, "decision", rb)) ||
        strcmp(text(a, "reason", ra), text(b, "reason", rb)))
        fail_msg("group %s: %s (%s) against %s (%s)", g, text(a, "decision", ra),
                 text(a, "reason", ra), text(b, "decision", rb), text(b, "reason", rb));
    static const char *cols[] = {"champion_version", "challenger_version", "champion_metric",
                                 "challenger_metric", "delta", "rel_delta", "delta_ci_low",
                                 "delta_ci_high", "holdout_rows", "skipped_rows", "promoted"};
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
        double x = cell(a, cols[k], ra), y = cell(b, cols[k], rb);
        if (!(x == y || (isnan(x) && isnan(y))))
            fail_msg("group %s: %s %.17g against %.17g", g, cols[k], x, y);
    }
}

static void same_decisions(const herd_frame *steps_groups, const herd_frame *steps_family,
                           const herd_frame *cycle)
{
    assert_int_equal(herd_frame_row_count(cycle), NG + 1);
    for (size_t i = 0; i < NG; i++)
        same_decision(steps_groups, i, cycle, row_of(cycle, text(steps_groups, "group", i)));
    same_decision(steps_family, 0, cycle, row_of(cycle, HERD_FALLBACK_GROUP));
}

/* Every version of every group: the same model bytes in both registries. */
static void same_models(herd_registry *a, herd_registry *b)
{
    for (size_t k = 0; k <= NG; k++) {
        const char *g = k < NG ? group_names[k] : HERD_FALLBACK_GROUP;
        int64_t la = 0, lb = 0;
        EXPECT_OK(herd_registry_resolve(a, "f", g, "latest", &la));
        EXPECT_OK(herd_registry_resolve(b, "f", g, "latest", &lb));
        assert_int_equal(la, lb);
        for (int64_t v = 1; v <= la; v++) {
            herd_artifact *x = NULL, *y = NULL;
            herd_model *mx = NULL, *my = NULL;
            EXPECT_OK(herd_registry_load(a, "f", g, v, &x));
            EXPECT_OK(herd_registry_load(b, "f", g, v, &y));
            EXPECT_OK(herd_artifact_model(x, &mx));
            EXPECT_OK(herd_artifact_model(y, &my));
            void *bx = NULL, *by = NULL;
            size_t nx = 0, ny = 0;
            EXPECT_OK(herd_model_save(mx, HERD_MODEL_UBJSON, &bx, &nx));
            EXPECT_OK(herd_model_save(my, HERD_MODEL_UBJSON, &by, &ny));
            if (nx != ny || memcmp(bx, by, nx))
                fail_msg("group %s version %lld: the models differ", g, (long long)v);
            const char *fa = NULL, *fb = NULL;
            EXPECT_OK(herd_artifact_get(x, "fingerprint", &fa));
            EXPECT_OK(herd_artifact_get(y, "fingerprint", &fb));
            assert_string_equal(fa, fb);
            herd_free(bx);
            herd_free(by);
            herd_model_free(mx);
            herd_model_free(my);
            herd_artifact_free(x);
            herd_artifact_free(y);
        }
        int64_t ca = 0, cb = 0;
        EXPECT_OK(herd_registry_resolve(a, "f", g, "champion", &ca));
        EXPECT_OK(herd_registry_resolve(b, "f", g, "champion", &cb));
        assert_int_equal(ca, cb);
    }
}

/* The run's lineage fingerprint. */
static char *run_fingerprint(herd_registry *reg, const char *run)
{
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(reg, &runs));
    char *fp = NULL;
    for (size_t i = 0; i < herd_frame_row_count(runs); i++) {
        if (strcmp(text(runs, "run_id", i), run)) continue;
        cJSON *p = cJSON_Parse(text(runs, "params", i));
        cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "data");
        fp = strdup(cJSON_GetObjectItemCaseSensitive(d, "fingerprint")->valuestring);
        if (getenv("DEBUG_FP")) printf("%s\n", text(runs, "params", i));
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(d, "groups")->valuedouble, NG);
        cJSON_Delete(p);
    }
    herd_frame_free(runs);
    assert_non_null(fp);
    return fp;
}

/* ---- tests ----------------------------------------------------------------------- */

/* Two weeks three ways: the separate steps, herd_cycle streaming, and the
 * two stages over three workers with every part and champion set passed
 * as bytes.  Decisions, versions, champions and model bytes are the same;
 * week 2 promotes the drifted groups.  herd_cycle's batch streams: each
 * artifact goes to its own pack as it arrives (here from the first byte),
 * none is held until the commit. */
static void test_stages_equal_steps(void **state)
{
    ctx *c = *state;
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 3;
    spill_watch sw;
    herd_registry *ra = open_reg(c, "steps"), *rb = open_streaming(c, "cycle", &ao, &sw),
                  *rc = open_reg(c, "stages");
    static const char *runs[] = {"w1", "w2"};
    for (int wk = 0; wk < 2; wk++) {
        week w;
        week_make(&w, 1000 + (uint64_t)wk, wk == 1);
        herd_frame *dg = NULL, *df = NULL, *db = NULL, *dc = NULL;
        steps_cycle(ra, &w, runs[wk], &dg, &df);
        herd_fit_options fo;
        fit_opts(&fo);
        herd_compare_options cmp;
        compare_opts(&cmp);
        herd_cycle_options co;
        cycle_opts(&co, runs[wk], &cmp);
        sw.own_packs = 0;
        EXPECT_OK(herd_cycle(rb, w.groups, &fo, &co, &ao, &db, NULL));
        assert_int_equal(sw.own_packs, 1);
        EXPECT_OK(distributed_cycle(rc, &w, runs[wk], &dc));
        same_decisions(dg, df, db);
        same_decisions(dg, df, dc);
        size_t promoted = 0;
        for (size_t i = 0; i < herd_frame_row_count(db); i++)
            promoted += !strcmp(text(db, "decision", i), wk ? "promote" : "first");
        if (wk == 0) assert_int_equal(promoted, NG + 1);
        else assert_true(promoted >= NG / 2); /* the drifted groups at least */
        char *fb = run_fingerprint(rb, runs[wk]), *fc = run_fingerprint(rc, runs[wk]);
        assert_string_equal(fb, fc);
        free(fb);
        free(fc);
        herd_frame_free(dg);
        herd_frame_free(df);
        herd_frame_free(db);
        herd_frame_free(dc);
        week_free(&w);
    }
    same_models(ra, rb);
    same_models(ra, rc);
    herd_registry_free(ra);
    herd_registry_free(rb);
    herd_registry_free(rc);
}

static size_t versions_of(herd_registry *reg)
{
    size_t n = 0;
    for (size_t k = 0; k < NG; k++) {
        herd_frame *v = NULL;
        EXPECT_OK(herd_registry_versions(reg, "f", group_names[k], &v));
        n += herd_frame_row_count(v);
        herd_frame_free(v);
    }
    return n;
}

/* A retried task's part added twice adds its groups once; re-running the
 * whole run adds no version and moves nothing; a part of another run is
 * refused; a champion moved between handing out champions and committing
 * is a conflict, and nothing moves. */
static void test_retries_and_conflicts(void **state)
{
    ctx *c = *state;
    herd_registry *reg = open_reg(c, "retries");
    week w;
    week_make(&w, 2000, 0);
    herd_frame *d = NULL;
    EXPECT_OK(distributed_cycle(reg, &w, "w1", &d));
    herd_frame_free(d);
    size_t before = versions_of(reg);
    assert_int_equal(before, NG);

    /* the same run again, one part delivered twice */
    herd_cycle_part *p = worker(&w, reg, group_names, NG, HERD_CYCLE_GROUPS, "w1");
    herd_fit_options fo;
    fit_opts(&fo);
    herd_compare_options cmp;
    compare_opts(&cmp);
    herd_cycle_options co;
    cycle_opts(&co, "w1", &cmp);
    herd_cycle_run *cr = NULL;
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &cr));
    EXPECT_OK(herd_cycle_run_add(cr, p));
    EXPECT_OK(herd_cycle_run_add(cr, p));
    EXPECT_OK(herd_cycle_run_commit(cr, &d, NULL));
    assert_int_equal(herd_frame_row_count(d), NG);
    for (size_t i = 0; i < NG; i++) {
        assert_string_equal(text(d, "decision", i), "keep");
        assert_int_equal((int64_t)cell(d, "promoted", i), 0);
    }
    herd_frame_free(d);
    assert_int_equal(versions_of(reg), before);
    /* a run commits once */
    EXPECT_RC(HERD_EINVAL, herd_cycle_run_commit(cr, &d, NULL));
    assert_null(d);
    assert_non_null(strstr(herd_last_error(), "already committed"));
    EXPECT_RC(HERD_EINVAL, herd_cycle_run_add(cr, p));
    herd_cycle_run_free(cr);

    /* a part trained for another run (or with other options) is refused */
    cycle_opts(&co, "w9", &cmp);
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &cr));
    EXPECT_RC(HERD_EINVAL, herd_cycle_run_add(cr, p));
    assert_non_null(strstr(herd_last_error(), "run 'w1'"));
    herd_cycle_run_free(cr);
    cycle_opts(&co, "w1", &cmp);
    fo.rounds = 16;
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &cr));
    EXPECT_RC(HERD_EINVAL, herd_cycle_run_add(cr, p));
    assert_non_null(strstr(herd_last_error(), "other options"));
    herd_cycle_run_free(cr);
    fo.rounds = 15;
    herd_cycle_part_free(p);

    /* week 2, drifted: workers evaluate today's champions; then someone
     * moves a champion before the committer promotes */
    week w2;
    week_make(&w2, 2001, 1);
    p = worker(&w2, reg, group_names, NG, HERD_CYCLE_GROUPS, "w2");
    cycle_opts(&co, "w2", &cmp);
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &cr));
    EXPECT_OK(herd_cycle_run_add(cr, p));
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    EXPECT_OK(herd_batch_set_alias(b, "f", "s00", "champion", 0, NULL)); /* deleted */
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    EXPECT_RC(HERD_ECONFLICT, herd_cycle_run_commit(cr, &d, NULL));
    assert_non_null(d); /* the decisions, with nothing promoted */
    for (size_t i = 0; i < herd_frame_row_count(d); i++)
        assert_int_equal((int64_t)cell(d, "promoted", i), 0);
    herd_frame_free(d);
    herd_cycle_run_free(cr);
    herd_cycle_part_free(p);
    week_free(&w2);
    week_free(&w);
    herd_registry_free(reg);
}

/* Parts and champions as bytes: the report, the artifacts, and damaged,
 * truncated or foreign bytes refused. */
static void test_bytes(void **state)
{
    ctx *c = *state;
    herd_registry *reg = open_reg(c, "bytes");
    week w;
    week_make(&w, 3000, 0);
    herd_cycle_part *p = worker(&w, reg, group_names, 3, HERD_CYCLE_GROUPS, "w1");
    assert_int_equal(herd_cycle_part_count(p), 3);
    herd_frame *rep = NULL;
    EXPECT_OK(herd_cycle_part_report(p, &rep));
    assert_int_equal(herd_frame_row_count(rep), 3);
    static const char *cols[] = {"group", "status", "message", "rows", "holdout_rows",
                                 "artifact_bytes", "challenger_metric", "champion_version",
                                 "champion_metric"};
    assert_int_equal(herd_frame_column_count(rep), sizeof cols / sizeof *cols);
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++)
        assert_string_equal(herd_frame_column_name(rep, k), cols[k]);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(text(rep, "group", i), group_names[i]);
        assert_string_equal(text(rep, "status", i), "ok");
        assert_int_equal((int64_t)cell(rep, "rows", i), WEEKS);
        assert_int_equal((int64_t)cell(rep, "holdout_rows", i), WEEKS / 5);
        assert_int_equal((int64_t)cell(rep, "champion_version", i), 0);
        const void *art = NULL;
        size_t len = 0;
        EXPECT_OK(herd_cycle_part_artifact(p, i, &art, &len));
        assert_int_equal((int64_t)cell(rep, "artifact_bytes", i), (int64_t)len);
        herd_artifact *a = NULL;
        EXPECT_OK(herd_artifact_read(art, len, &a));
        const char *s = NULL;
        EXPECT_OK(herd_artifact_get(a, "idempotency_key", &s));
        char want[64];
        snprintf(want, sizeof want, "f/w1/%s", group_names[i]);
        assert_string_equal(s, want);
        EXPECT_OK(herd_artifact_get(a, "run_id", &s));
        assert_string_equal(s, "w1");
        herd_artifact_free(a);
    }
    herd_frame_free(rep);
    const void *art = NULL;
    size_t len = 0;
    EXPECT_RC(HERD_EINVAL, herd_cycle_part_artifact(p, 3, &art, &len));
    assert_non_null(strstr(herd_last_error(), "out of range"));

    void *data = NULL;
    EXPECT_OK(herd_cycle_part_to_buffer(p, &data, &len));
    herd_cycle_part *q = (herd_cycle_part *)1;
    unsigned char *bytes = data;
    bytes[len / 2] ^= 0x40; /* damaged in transit */
    EXPECT_RC(HERD_ECORRUPT, herd_cycle_part_read(data, len, &q));
    assert_null(q);
    bytes[len / 2] ^= 0x40;
    EXPECT_RC(HERD_ECORRUPT, herd_cycle_part_read(data, len / 2, &q)); /* cut */
    EXPECT_RC(HERD_EFORMAT, herd_cycle_part_read("HERDPAR", 7, &q));
    EXPECT_OK(herd_cycle_part_read(data, len, &q));
    herd_champions *not_champions = (herd_champions *)1;
    EXPECT_RC(HERD_EFORMAT, herd_champions_read(data, len, &not_champions));
    assert_null(not_champions);
    herd_free(data);
    herd_cycle_part_free(q);

    /* champions */
    herd_champions *ch = NULL;
    EXPECT_OK(herd_champions_new(&ch));
    EXPECT_OK(herd_cycle_part_artifact(p, 0, &art, &len));
    EXPECT_OK(herd_champions_add(ch, "s00", 3, art, len));
    EXPECT_RC(HERD_EEXISTS, herd_champions_add(ch, "s00", 4, art, len));
    EXPECT_RC(HERD_EINVAL, herd_champions_add(ch, "s01", 0, art, len));
    EXPECT_RC(HERD_EINVAL, herd_champions_add(ch, "a\tb", 1, art, len));
    EXPECT_RC(HERD_EFORMAT, herd_champions_add(ch, "s01", 1, "junk", 4));
    assert_int_equal(herd_champions_count(ch), 1);
    EXPECT_OK(herd_champions_to_buffer(ch, &data, &len));
    herd_champions *ch2 = NULL;
    ((unsigned char *)data)[len - 9] ^= 1;
    EXPECT_RC(HERD_ECORRUPT, herd_champions_read(data, len, &ch2));
    ((unsigned char *)data)[len - 9] ^= 1;
    EXPECT_OK(herd_champions_read(data, len, &ch2));
    assert_int_equal(herd_champions_count(ch2), 1);
    herd_free(data);
    herd_champions_free(ch2);
    /* an empty registry family hands out no champions */
    herd_champions_free(ch);
    EXPECT_OK(herd_registry_champions(reg, "nothing", NULL, NULL, 0, &ch));
    assert_int_equal(herd_champions_count(ch), 0);
    herd_champions_free(ch);
    herd_cycle_part_free(p);
    week_free(&w);
    herd_registry_free(reg);
}

/* Argument and option errors, named. */
static void test_bad_arguments(void **state)
{
    ctx *c = *state;
    herd_registry *reg = open_reg(c, "bad");
    week w;
    week_make(&w, 4000, 0);
    herd_fit_options fo;
    fit_opts(&fo);
    herd_compare_options cmp;
    compare_opts(&cmp);
    herd_cycle_options co;
    cycle_opts(&co, "w1", &cmp);
    herd_cycle_part *p = (herd_cycle_part *)1;
    EXPECT_RC(HERD_EINVAL, herd_cycle_train(NULL, &fo, &co, NULL, NULL, &p));
    assert_null(p);
    EXPECT_RC(HERD_EINVAL, herd_cycle_train(w.groups, NULL, &co, NULL, NULL, &p));
    co.run_id = NULL;
    EXPECT_RC(HERD_EINVAL, herd_cycle_train(w.groups, &fo, &co, NULL, NULL, &p));
    assert_non_null(strstr(herd_last_error(), "run_id"));
    co.run_id = "w1";
    co.holdout_order_by = "nope";
    EXPECT_RC(HERD_ENOTFOUND, herd_cycle_train(w.groups, &fo, &co, NULL, NULL, &p));
    assert_non_null(strstr(herd_last_error(), "'nope'"));
    co.holdout_order_by = "week";
    co.version = 99;
    EXPECT_RC(HERD_EINVAL, herd_cycle_train(w.groups, &fo, &co, NULL, NULL, &p));
    cycle_opts(&co, "w1", &cmp);
    herd_cycle_run *cr = (herd_cycle_run *)1;
    EXPECT_RC(HERD_EINVAL, herd_cycle_begin(NULL, &fo, &co, &cr));
    assert_null(cr);
    co.family = "a/b";
    EXPECT_RC(HERD_EINVAL, herd_cycle_begin(reg, &fo, &co, &cr));
    assert_non_null(strstr(herd_last_error(), "family"));
    cycle_opts(&co, "w1", &cmp);
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &cr));
    EXPECT_RC(HERD_EINVAL, herd_cycle_run_add(cr, NULL));
    herd_frame *d = (herd_frame *)1;
    EXPECT_RC(HERD_EINVAL, herd_cycle_run_commit(NULL, &d, NULL));
    assert_null(d);
    herd_cycle_run_free(cr); /* uncommitted: nothing registered */
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(reg, &runs));
    assert_int_equal(herd_frame_row_count(runs), 0);
    herd_frame_free(runs);
    herd_champions *ch = (herd_champions *)1;
    EXPECT_RC(HERD_EINVAL, herd_registry_champions(reg, "f", NULL, NULL, 3, &ch));
    assert_null(ch);
    EXPECT_RC(HERD_EINVAL, herd_registry_champions(reg, "f", "a b", NULL, 0, &ch));
    EXPECT_RC(HERD_EINVAL, herd_champions_read(NULL, 0, &ch));
    herd_cycle_part_free(NULL);
    herd_cycle_run_free(NULL);
    herd_champions_free(NULL);
    assert_int_equal(herd_cycle_part_count(NULL), 0);
    assert_int_equal(herd_champions_count(NULL), 0);
    week_free(&w);
    herd_registry_free(reg);
}

/* herd_batch_add_bytes with no options: the family, group, run and
 * idempotency key come from the artifact, and adding it again in another
 * batch adds nothing. */
static void test_add_bytes_learns(void **state)
{
    ctx *c = *state;
    herd_registry *reg = open_reg(c, "learn");
    week w;
    week_make(&w, 5000, 0);
    herd_fit_options fo;
    fit_opts(&fo);
    herd_fit_result *res = NULL;
    EXPECT_OK(herd_fit(w.groups, &fo, NULL, &res));
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "f";
    ao.run_id = "r1";
    ao.idempotency_key = "f/r1/s03";
    herd_artifact *a = NULL;
    EXPECT_OK(herd_fit_result_artifact(res, "s03", &ao, &a));
    void *data = NULL;
    size_t len = 0;
    EXPECT_OK(herd_artifact_to_buffer(a, &data, &len));
    int64_t v[2] = {0, 0};
    int existed[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        herd_batch *b = NULL;
        size_t at = 0;
        EXPECT_OK(herd_registry_begin(reg, &b));
        EXPECT_OK(herd_batch_add_bytes(b, data, len, NULL, &at));
        EXPECT_OK(herd_batch_commit(b));
        EXPECT_OK(herd_batch_version(b, at, &v[k], &existed[k]));
        herd_batch_free(b);
    }
    assert_int_equal(v[0], 1);
    assert_int_equal(v[1], 1);
    assert_int_equal(existed[1], 1);
    herd_frame *vs = NULL;
    EXPECT_OK(herd_registry_versions(reg, "f", "s03", &vs));
    assert_int_equal(herd_frame_row_count(vs), 1);
    herd_frame_free(vs);
    /* the caller's key wins over the artifact's */
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.idempotency_key = "other";
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    EXPECT_OK(herd_batch_add_bytes(b, data, len, &vo, NULL));
    EXPECT_OK(herd_batch_commit(b));
    EXPECT_OK(herd_batch_version(b, 0, &v[0], &existed[0]));
    assert_int_equal(v[0], 2);
    assert_int_equal(existed[0], 0);
    herd_batch_free(b);
    herd_free(data);
    herd_artifact_free(a);
    /* bad keys are refused when the artifact is built */
    ao.idempotency_key = "";
    EXPECT_RC(HERD_EINVAL, herd_fit_result_artifact(res, "s03", &ao, &a));
    assert_non_null(strstr(herd_last_error(), "idempotency_key"));
    ao.idempotency_key = "a\nb";
    EXPECT_RC(HERD_EINVAL, herd_fit_result_artifact(res, "s03", &ao, &a));
    assert_non_null(strstr(herd_last_error(), "control character"));
    herd_fit_result_free(res);
    week_free(&w);
    herd_registry_free(reg);
}

/* herd_registry_fit: the models of herd_fit, registered as they are
 * trained, in one commit; its report; a re-run of the run adds nothing;
 * bad options. */
static void test_registry_fit(void **state)
{
    ctx *c = *state;
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = 3;
    spill_watch sw; /* the batch streams: no model waits in memory for the commit */
    herd_registry *reg = open_streaming(c, "regfit", &ao, &sw);
    week w;
    week_make(&w, 6000, 0);
    herd_fit_options fo;
    fit_opts(&fo);
    fo.cv_folds = 2; /* folds run inside each group's task here */
    herd_register_options ro;
    EXPECT_OK(herd_register_options_init(&ro, HERD_REGISTER_OPTIONS_VERSION));
    ro.family = "f";
    ro.run_id = "r1";
    ro.alias = "candidate";
    herd_frame *rep = NULL;
    EXPECT_OK(herd_registry_fit(reg, w.groups, &fo, &ro, &ao, &rep));
    assert_int_equal(sw.own_packs, 1);
    herd_fit_result *res = NULL;
    EXPECT_OK(herd_fit(w.groups, &fo, NULL, &res));
    herd_frame *want = NULL;
    EXPECT_OK(herd_fit_result_report(res, &want));
    /* herd_fit's columns and values (but seconds and threads), then two */
    assert_int_equal(herd_frame_column_count(rep), herd_frame_column_count(want) + 2);
    for (size_t k = 0; k < herd_frame_column_count(want); k++)
        assert_string_equal(herd_frame_column_name(rep, k), herd_frame_column_name(want, k));
    assert_string_equal(herd_frame_column_name(rep, herd_frame_column_count(want)), "version");
    for (size_t i = 0; i < NG; i++) {
        assert_string_equal(text(rep, "group", i), text(want, "group", i));
        assert_string_equal(text(rep, "status", i), "ok");
        static const char *same[] = {"rows", "train_rows", "valid_rows", "valid_metric",
                                     "best_iteration", "rounds", "cv_mean", "cv_std"};
        for (size_t k = 0; k < sizeof same / sizeof *same; k++)
            assert_true(cell(rep, same[k], i) == cell(want, same[k], i));
        assert_int_equal((int64_t)cell(rep, "version", i), 1);
        assert_int_equal((int64_t)cell(rep, "existed", i), 0);
        /* the registered model is herd_fit's, byte for byte */
        const char *g = text(rep, "group", i);
        herd_artifact *a = NULL;
        herd_model *m = NULL, *m2 = NULL;
        EXPECT_OK(herd_registry_load(reg, "f", g, 1, &a));
        EXPECT_OK(herd_artifact_model(a, &m));
        EXPECT_OK(herd_fit_result_model(res, g, &m2));
        void *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        EXPECT_OK(herd_model_save(m, HERD_MODEL_UBJSON, &x, &nx));
        EXPECT_OK(herd_model_save(m2, HERD_MODEL_UBJSON, &y, &ny));
        assert_true(nx == ny && !memcmp(x, y, nx));
        const char *s = NULL;
        EXPECT_OK(herd_artifact_get(a, "idempotency_key", &s));
        char key[64];
        snprintf(key, sizeof key, "f/r1/%s", g);
        assert_string_equal(s, key);
        int64_t v = 0;
        EXPECT_OK(herd_registry_resolve(reg, "f", g, "candidate", &v));
        assert_int_equal(v, 1);
        herd_free(x);
        herd_free(y);
        herd_model_free(m);
        herd_model_free(m2);
        herd_artifact_free(a);
    }
    herd_frame_free(rep);
    herd_frame_free(want);
    herd_fit_result_free(res);
    /* the same run again: nothing added */
    EXPECT_OK(herd_registry_fit(reg, w.groups, &fo, &ro, &ao, &rep));
    for (size_t i = 0; i < NG; i++) {
        assert_int_equal((int64_t)cell(rep, "version", i), 1);
        assert_int_equal((int64_t)cell(rep, "existed", i), 1);
    }
    herd_frame_free(rep);
    assert_int_equal(versions_of(reg), NG);
    /* without a run: new versions */
    ro.run_id = NULL;
    ro.alias = NULL;
    EXPECT_OK(herd_registry_fit(reg, w.groups, &fo, &ro, NULL, &rep));
    assert_int_equal((int64_t)cell(rep, "version", 0), 2);
    herd_frame_free(rep);
    /* bad arguments and options, named; nothing registered */
    rep = (herd_frame *)1;
    EXPECT_RC(HERD_EINVAL, herd_registry_fit(NULL, w.groups, &fo, &ro, NULL, &rep));
    assert_null(rep);
    ro.family = NULL;
    EXPECT_RC(HERD_EINVAL, herd_registry_fit(reg, w.groups, &fo, &ro, NULL, &rep));
    assert_non_null(strstr(herd_last_error(), "opt->family"));
    ro.family = "f";
    ro.alias = "latest";
    EXPECT_RC(HERD_EINVAL, herd_registry_fit(reg, w.groups, &fo, &ro, NULL, &rep));
    assert_non_null(strstr(herd_last_error(), "reserved"));
    ro.alias = NULL;
    fo.label = "nope";
    EXPECT_RC(HERD_ENOTFOUND, herd_registry_fit(reg, w.groups, &fo, &ro, NULL, &rep));
    assert_null(rep);
    assert_int_equal(versions_of(reg), 2 * NG);
    week_free(&w);
    herd_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stages_equal_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_and_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_bytes_learns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_fit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
