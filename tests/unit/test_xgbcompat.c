/* What herd's model validator accepts, XGBoost 1.7 loads and predicts
 * with.  Each case edits the committed JSON fixture (tests/data/models/
 * reg3.json) into a model the validator once passed, and proves both
 * sides: XGBoost's C API refuses it at load, refuses every prediction, or
 * predicts nonsense (0 or NaN for every row, or reads other text than
 * herd checked), and hd_model_check refuses it with a message that says
 * what is wrong.  The unedited fixture is the control: both accept it and
 * XGBoost predicts finite values.  Inputs are copied into buffers of
 * exactly their length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "herd.h"
#include "model/modelcheck_internal.h"

/* What XGBoost 1.7 does with a model. */
typedef enum {
    XGB_PREDICTS,        /* loads and predicts finite values */
    XGB_LOAD_FAILS,      /* XGBoosterLoadModelFromBuffer fails */
    XGB_PREDICT_FAILS,   /* loads, then every XGBoosterPredict fails */
    XGB_PREDICTS_JUNK,   /* loads and predicts 0 or NaN for every row */
    XGB_READS_OTHER_NAME /* loads, but its first feature name is not "x0" */
} xgb_outcome;

static const char *outcome_name(xgb_outcome o)
{
    static const char *const names[] = {"predicts", "load fails", "predict fails",
                                        "predicts 0 or NaN", "reads another feature name"};
    return names[o];
}

/* The committed fixture, exactly its length. */
static char *fixture_json(size_t *len)
{
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/models/reg3.json", root ? root : "..");
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (set HERD_TEST_SOURCE_DIR)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* The fixture with the first `old` replaced by `repl` (exact length, no
 * terminator: the readers must not need one). */
static unsigned char *edited(const char *old, const char *repl, size_t *out_len)
{
    size_t len;
    char *j = fixture_json(&len);
    char *at = strstr(j, old);
    if (!at) fail_msg("\"%s\" is not in reg3.json", old);
    size_t pre = (size_t)(at - j), ol = strlen(old), rl = strlen(repl);
    *out_len = len - ol + rl;
    unsigned char *b = malloc(*out_len);
    assert_non_null(b);
    memcpy(b, j, pre);
    memcpy(b + pre, repl, rl);
    memcpy(b + pre + rl, at + ol, len - pre - ol);
    free(j);
    return b;
}

/* Load with XGBoost 1.7 and predict two rows of three features. */
static xgb_outcome xgboost_outcome(const unsigned char *model, size_t len)
{
    BoosterHandle h = NULL;
    assert_int_equal(XGBoosterCreate(NULL, 0, &h), 0);
    xgb_outcome o;
    if (XGBoosterLoadModelFromBuffer(h, model, (bst_ulong)len) != 0) {
        o = XGB_LOAD_FAILS;
    } else {
        bst_ulong n_names = 0;
        const char **names = NULL;
        assert_int_equal(XGBoosterGetStrFeatureInfo(h, "feature_name", &n_names, &names), 0);
        int other_name = n_names > 0 && strcmp(names[0], "x0") != 0;
        const float x[6] = {0.1f, 0.9f, 1, 0.7f, 0.2f, 0};
        DMatrixHandle d = NULL;
        assert_int_equal(XGDMatrixCreateFromMat(x, 2, 3, NAN, &d), 0);
        bst_ulong n = 0;
        const float *out = NULL;
        assert_int_equal(XGBoosterSetParam(h, "nthread", "1"), 0);
        if (XGBoosterPredict(h, d, 0, 0, 0, &n, &out) != 0) {
            o = XGB_PREDICT_FAILS;
        } else {
            int junk = 1;
            for (bst_ulong i = 0; i < n; i++) junk &= out[i] == 0 || isnan(out[i]);
            o = n == 2 && junk ? XGB_PREDICTS_JUNK : other_name ? XGB_READS_OTHER_NAME
                                                                 : XGB_PREDICTS;
        }
        XGDMatrixFree(d);
    }
    XGBoosterFree(h);
    return o;
}

typedef struct compat_case {
    const char *what;
    const char *old, *repl; /* the edit of reg3.json */
    xgb_outcome xgboost;    /* what XGBoost 1.7 does with it */
    int code;               /* hd_model_check's answer */
    const char *message;    /* a part of its message */
} compat_case;

#define LOGISTIC "\"objective\":{\"name\":\"reg:logistic\",\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}}"
#define BASE(v) "\"base_score\":\"" v "\""
#define OBJ "\"objective\":{\"name\":\"reg:squarederror\",\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}}"

static const compat_case cases[] = {
    /* learner.attributes: read at load, strings only */
    {"attributes renamed", "\"attributes\":", "\"attributez\":", XGB_LOAD_FAILS, HERD_ECORRUPT,
     "learner.attributes is missing"},
    {"an attribute not a string", "\"best_iteration\":\"2\"", "\"best_iteration\":2",
     XGB_LOAD_FAILS, HERD_ECORRUPT,
     "learner.attributes.\"best_iteration\" is a number, not a string"},
    /* the objective's own parameter object, read by its LoadConfig */
    {"reg_loss_param renamed", "\"reg_loss_param\"", "\"reg_loss_params\"", XGB_LOAD_FAILS,
     HERD_ECORRUPT, "learner.objective.reg_loss_param is missing"},
    {"reg_loss_param not an object", "\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}",
     "\"reg_loss_param\":\"1\"", XGB_LOAD_FAILS, HERD_ECORRUPT,
     "learner.objective.reg_loss_param is a string, not an object"},
    {"a loss parameter not a string", "\"scale_pos_weight\":\"1\"", "\"scale_pos_weight\":1",
     XGB_LOAD_FAILS, HERD_ECORRUPT,
     "learner.objective.reg_loss_param.\"scale_pos_weight\" is a number, not a string"},
    {"a loss parameter not a number", "\"scale_pos_weight\":\"1\"",
     "\"scale_pos_weight\":\"abc\"", XGB_LOAD_FAILS, HERD_ECORRUPT,
     "reg_loss_param.scale_pos_weight is \"abc\", not a number"},
    {"poisson without its parameters", OBJ, "\"objective\":{\"name\":\"count:poisson\"}",
     XGB_LOAD_FAILS, HERD_ECORRUPT,
     "learner.objective.poisson_regression_param is missing"},
    {"an AFT distribution XGBoost does not know", OBJ,
     "\"objective\":{\"name\":\"survival:aft\",\"aft_loss_param\":{\"aft_loss_distribution\":"
     "\"cauchy\",\"aft_loss_distribution_scale\":\"1\"}}",
     XGB_LOAD_FAILS, HERD_ECORRUPT, "aft_loss_distribution is \"cauchy\""},
    {"an objective of XGBoost 2.0", "\"reg:squarederror\"", "\"reg:quantileerror\"",
     XGB_LOAD_FAILS, HERD_EFORMAT, "\"reg:quantileerror\" is not an objective XGBoost 1.7 knows"},
    /* leaf vectors: loaded, then every prediction refused */
    {"gbtree size_leaf_vector 1", "\"num_trees\":\"3\",\"size_leaf_vector\":\"0\"",
     "\"num_trees\":\"3\",\"size_leaf_vector\":\"1\"", XGB_PREDICT_FAILS, HERD_EFORMAT,
     "gbtree_model_param.size_leaf_vector is 1"},
    /* base_score outside the objective's link */
    {"control: reg:logistic, base_score 0.5", OBJ, LOGISTIC, XGB_PREDICTS, HERD_OK, NULL},
    {"control: reg:squarederror, base_score -3 (identity link)", BASE("5E-1"), BASE("-3"),
     XGB_PREDICTS, HERD_OK, NULL},
    {"logistic base_score 1 (0.99999999 as a float)", NULL, NULL, XGB_PREDICT_FAILS,
     HERD_ECORRUPT, "base_score is 1 (as a float) but objective reg:logistic needs it in (0, 1)"},
    {"logistic base_score 2", NULL, NULL, XGB_PREDICT_FAILS, HERD_ECORRUPT,
     "base_score is 2 (as a float) but objective reg:logistic needs it in (0, 1)"},
    {"gamma base_score 0", NULL, NULL, XGB_PREDICTS_JUNK, HERD_ECORRUPT,
     "objective reg:gamma needs it above 0"},
    {"poisson base_score -1", NULL, NULL, XGB_PREDICTS_JUNK, HERD_ECORRUPT,
     "objective count:poisson needs it above 0"},
    /* \u escapes: XGBoost keeps them as six characters */
    {"a feature name spelt with \\u", "\"x0\"", "\"x\\u0030\"", XGB_READS_OTHER_NAME,
     HERD_ECORRUPT, "a \\u escape inside a string"},
    {"num_feature spelt with \\u", "\"num_feature\":\"3\",\"num_target\"",
     "\"num_feature\":\"\\u0033\",\"num_target\"", XGB_LOAD_FAILS, HERD_ECORRUPT,
     "a \\u escape inside a string"},
    {"an escape XGBoost refuses", "\"x0\"", "\"x\\/0\"", XGB_LOAD_FAILS, HERD_ECORRUPT,
     "the escape \\/ inside a string"},
};

/* The cases whose edit is two replacements (objective and base_score). */
static const struct {
    const char *what, *objective, *base;
} two_edits[] = {
    {"logistic base_score 1 (0.99999999 as a float)", LOGISTIC, BASE("0.99999999")},
    {"logistic base_score 2", LOGISTIC, BASE("2")},
    {"gamma base_score 0", "\"objective\":{\"name\":\"reg:gamma\"}", BASE("0")},
    {"poisson base_score -1",
     "\"objective\":{\"name\":\"count:poisson\",\"poisson_regression_param\":"
     "{\"max_delta_step\":\"0.7\"}}",
     BASE("-1")},
};

static unsigned char *case_model(const compat_case *c, size_t *len)
{
    if (c->old) return edited(c->old, c->repl, len);
    for (size_t i = 0; i < sizeof two_edits / sizeof *two_edits; i++) {
        if (strcmp(two_edits[i].what, c->what)) continue;
        size_t l1;
        unsigned char *m1 = edited(OBJ, two_edits[i].objective, &l1);
        /* the second edit, on the first's bytes */
        char *j = malloc(l1 + 1);
        assert_non_null(j);
        memcpy(j, m1, l1);
        j[l1] = '\0';
        free(m1);
        char *at = strstr(j, BASE("5E-1"));
        assert_non_null(at);
        size_t pre = (size_t)(at - j), ol = strlen(BASE("5E-1")), rl = strlen(two_edits[i].base);
        *len = l1 - ol + rl;
        unsigned char *b = malloc(*len);
        assert_non_null(b);
        memcpy(b, j, pre);
        memcpy(b + pre, two_edits[i].base, rl);
        memcpy(b + pre + rl, at + ol, l1 - pre - ol);
        free(j);
        return b;
    }
    fail_msg("case '%s' has no edit", c->what);
    return NULL;
}

static void test_fixture_is_the_control(void **state)
{
    (void)state;
    size_t len;
    char *j = fixture_json(&len);
    unsigned char *b = malloc(len);
    assert_non_null(b);
    memcpy(b, j, len);
    free(j);
    assert_int_equal(xgboost_outcome(b, len), XGB_PREDICTS);
    hd_model_info info;
    if (hd_model_check(b, len, &info) != HERD_OK) fail_msg("%s", herd_last_error());
    free(b);
}

static void test_what_herd_accepts_xgboost_uses(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const compat_case *c = &cases[k];
        size_t len = 0;
        unsigned char *b = case_model(c, &len);
        xgb_outcome got = xgboost_outcome(b, len);
        if (got != c->xgboost)
            fail_msg("%s: XGBoost 1.7 %s, expected: %s", c->what, outcome_name(got),
                     outcome_name(c->xgboost));
        hd_model_info info;
        herd_clear_error();
        int rc = hd_model_check(b, len, &info);
        if (rc != c->code)
            fail_msg("%s: hd_model_check gave %s (%s), expected %s", c->what,
                     herd_status_str(rc), herd_last_error(), herd_status_str(c->code));
        if (c->message && !strstr(herd_last_error(), c->message))
            fail_msg("%s: the message \"%s\" lacks \"%s\"", c->what, herd_last_error(),
                     c->message);
        /* herd accepts only what XGBoost predicts with */
        assert_true((rc == HERD_OK) == (got == XGB_PREDICTS));
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_is_the_control),
        cmocka_unit_test(test_what_herd_accepts_xgboost_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
