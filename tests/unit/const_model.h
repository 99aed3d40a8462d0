/* const_model.h -- constant models for the suites that compare, promote
 * and predict from a registry (test_compare.c, test_predictor.c): one
 * round with eta 0 and a base_score, so every prediction, and so every
 * metric, is known exactly.  Include after <cmocka.h> and a definition of
 * EXPECT_OK(call). */
#ifndef HERD_TEST_CONST_MODEL_H
#define HERD_TEST_CONST_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "herd.h"

/* An artifact of family "f", group `group`, whose model predicts `value`
 * for every row (one round, eta 0, base_score value). */
static herd_artifact *const_artifact(const char *group, double value)
{
    double x[10], y[10];
    const char *g[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i;
        y[i] = (i * 7) % 10;
        g[i] = group;
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_frame_new(&f));
    EXPECT_OK(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 10, NULL));
    EXPECT_OK(herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, y, 10, NULL));
    EXPECT_OK(herd_frame_add_column(f, "g", HERD_TYPE_STRING, g, 10, NULL));
    const char *keys[] = {"g"};
    herd_groups *gr = NULL;
    EXPECT_OK(herd_groups_new(f, keys, 1, &gr));
    char base[64];
    snprintf(base, sizeof base, "%.17g", value);
    const char *features[] = {"x"};
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
    herd_fit_result *set = NULL;
    EXPECT_OK(herd_fit(gr, &fo, &ap, &set));
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "f";
    herd_artifact *a = NULL;
    EXPECT_OK(herd_fit_result_artifact(set, group, &ao, &a));
    herd_fit_result_free(set);
    herd_groups_free(gr);
    herd_frame_free(f);
    return a;
}

/* Register a constant model as a version of `group`, pointing `alias` at
 * it; returns its version. */
static int64_t put(herd_registry *reg, const char *group, double value, const char *alias)
{
    herd_artifact *a = const_artifact(group, value);
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = alias;
    EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
    EXPECT_OK(herd_batch_commit(b));
    int64_t v = 0;
    EXPECT_OK(herd_batch_version(b, 0, &v, NULL));
    herd_batch_free(b);
    herd_artifact_free(a);
    return v;
}

#endif
