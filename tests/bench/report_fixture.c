/* report_fixture.c -- a registry shaped like two weekly cycles, built
 * without training 2 x N models, for measuring `herd report` at scale.
 *
 * usage: report_fixture REGISTRY GROUPS
 *
 * One small model is trained once; every group gets two versions of it
 * (runs "w1" and "w2"), a first champion move to version 1 and, in every
 * second group, a promotion to version 2, each move with the details
 * herd_compare records (decision, metric, both metrics, delta).  What the
 * report reads -- groups, versions, aliases, the alias history with its
 * details, runs -- has the shape and size of two real cycles'; the models
 * themselves are never loaded by the report.  tests/cli/report_bench.py
 * --fixture uses it (docs/cli.md, "At 50,000 groups"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <herd.h>

static int fail(const char *what)
{
    fprintf(stderr, "report_fixture: %s: %s\n", what, herd_last_error());
    return 1;
}

/* One model: y = 2x on 20 rows, 3 rounds. */
static herd_artifact *one_model(void)
{
    double x[20], y[20];
    const char *g[20];
    for (int i = 0; i < 20; i++) x[i] = i, y[i] = 2.0 * i, g[i] = "g";
    herd_frame *f = NULL;
    herd_groups *gr = NULL;
    herd_fit_result *fit = NULL;
    herd_artifact *a = NULL;
    const char *keys[] = {"g"}, *features[] = {"x"};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = features;
    fo.n_features = 1;
    fo.label = "y";
    fo.rounds = 3;
    fo.valid_fraction = 0;
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "f";
    if (herd_frame_new(&f) || herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 20, NULL) ||
        herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, y, 20, NULL) ||
        herd_frame_add_column(f, "g", HERD_TYPE_STRING, g, 20, NULL) ||
        herd_groups_new(f, keys, 1, &gr) || herd_fit(gr, &fo, NULL, &fit) ||
        herd_fit_result_artifact(fit, "g", &ao, &a))
        fail("training the model");
    herd_fit_result_free(fit);
    herd_groups_free(gr);
    herd_frame_free(f);
    return a;
}

static int add_versions(herd_registry *reg, const herd_artifact *a, long n, const char *run)
{
    herd_batch *b = NULL;
    if (herd_registry_begin(reg, &b)) return fail("begin");
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = "f";
    vo.run_id = run;
    char key[32];
    vo.group = key;
    int rc = 0;
    for (long i = 0; !rc && i < n; i++) {
        snprintf(key, sizeof key, "g%06ld", i);
        if (herd_batch_add(b, a, &vo, NULL)) rc = fail("add");
    }
    if (!rc && herd_batch_set_run(b, run, "{\"fixture\": true}", NULL)) rc = fail("run");
    if (!rc && herd_batch_commit(b)) rc = fail("commit");
    herd_batch_free(b);
    return rc;
}

/* Week 1: every group's first champion; week 2: every second group's
 * challenger wins by a delta that varies with the group. */
static int move(herd_registry *reg, long n, int week)
{
    herd_batch *b = NULL;
    if (herd_registry_begin(reg, &b)) return fail("begin");
    int rc = 0;
    char key[32], details[512];
    for (long i = 0; !rc && i < n; i++) {
        if (week == 2 && i % 2) continue;
        snprintf(key, sizeof key, "g%06ld", i);
        double champion = 5 + (double)(i % 97) / 10, challenger = champion * (0.7 + (i % 13) / 50.0);
        if (week == 1)
            snprintf(details, sizeof details,
                     "{\"decision\": \"first\", \"metric\": \"rmse\", \"champion_version\": 0, "
                     "\"challenger_version\": 1, \"champion_metric\": null, "
                     "\"challenger_metric\": %.6g, \"delta\": null, \"holdout_rows\": 4}",
                     champion);
        else
            snprintf(details, sizeof details,
                     "{\"decision\": \"promote\", \"metric\": \"rmse\", \"champion_version\": 1, "
                     "\"challenger_version\": 2, \"champion_metric\": %.6g, "
                     "\"challenger_metric\": %.6g, \"delta\": %.6g, \"holdout_rows\": 4}",
                     champion, challenger, champion - challenger);
        herd_alias_options ao;
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.reason = week == 1 ? "no champion yet" : "rmse improves";
        ao.details = details;
        ao.run_id = week == 1 ? "w1" : "w2";
        if (herd_batch_set_alias(b, "f", key, "champion", week, &ao)) rc = fail("alias");
    }
    if (!rc && herd_batch_commit(b)) rc = fail("commit");
    herd_batch_free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atol(argv[2]) < 1) {
        fprintf(stderr, "usage: report_fixture REGISTRY GROUPS\n");
        return 2;
    }
    long n = atol(argv[2]);
    herd_artifact *a = one_model();
    herd_registry *reg = NULL;
    int rc = !a;
    if (!rc && herd_registry_open(argv[1], NULL, &reg)) rc = fail(argv[1]);
    if (!rc) rc = add_versions(reg, a, n, "w1");
    if (!rc) rc = add_versions(reg, a, n, "w2");
    if (!rc) rc = move(reg, n, 1);
    if (!rc) rc = move(reg, n, 2);
    herd_registry_free(reg);
    herd_artifact_free(a);
    if (!rc) printf("registry %s: %ld groups, 2 versions each, 2 runs\n", argv[1], n);
    return rc;
}
