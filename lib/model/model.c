/* model.c -- one XGBoost model as bytes, with its features.
 *
 * A herd_model never keeps a live booster: XGBoost boosters hold
 * per-thread buffers that only the creating thread can release, so each
 * operation that needs one creates, uses and frees it on the calling
 * thread.  Prediction is in predictor.c: a herd_predictor is the model
 * with a booster kept loaded, and herd_model_predict makes one per call. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "data/frame_internal.h"
#include "model/features_internal.h"
#include "model/model_internal.h"
#include "model/modelcheck_internal.h"
#include "model/xgb_internal.h"

static void hd_strings_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void herd_model_free(herd_model *m)
{
    if (!m) return;
    free(m->ubj);
    hd_strings_free(m->feature_names, m->nfeat);
    hd_strings_free(m->feature_types, m->nfeat);
    free(m->objective);
    free(m);
}

void herd_free(void *p)
{
    free(p);
}

static char **hd_strings_copy(const char *const *v, size_t n)
{
    char **c = hd_calloc(n, sizeof *c);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) {
        c[i] = hd_strdup(v[i]);
        if (!c[i]) {
            hd_strings_free(c, n);
            return NULL;
        }
    }
    return c;
}

int hd_model_adopt(unsigned char *ubj, size_t len, const char *const *names,
                   const char *const *types, size_t nfeat, const char *objective,
                   size_t num_outputs, herd_model **out)
{
    herd_model *m = hd_calloc(1, sizeof *m);
    if (!m) {
        free(ubj);
        return HERD_ENOMEM;
    }
    m->nfeat = nfeat;
    m->len = len;
    m->num_outputs = num_outputs ? num_outputs : 1;
    m->ubj = ubj;
    m->feature_names = hd_strings_copy(names, nfeat);
    m->feature_types = hd_strings_copy(types, nfeat);
    m->objective = hd_strdup(objective);
    if (!m->ubj || !m->feature_names || !m->feature_types || !m->objective) {
        herd_model_free(m);
        return HERD_ENOMEM;
    }
    *out = m;
    return HERD_OK;
}

int hd_model_new(const void *ubj, size_t len, const char *const *names,
                 const char *const *types, size_t nfeat, const char *objective,
                 size_t num_outputs, herd_model **out)
{
    unsigned char *copy = hd_malloc(len, 1);
    if (copy) memcpy(copy, ubj, len);
    return hd_model_adopt(copy, len, names, types, nfeat, objective, num_outputs, out);
}

int hd_booster_load(const void *data, size_t len, int nthread, BoosterHandle *out)
{
    BoosterHandle b = NULL;
    char nt[16];
    HD_XGB(XGBoosterCreate(NULL, 0, &b), "creating a booster");
    /* Loading configures the booster with every core unless told. */
    snprintf(nt, sizeof nt, "%d", nthread > 0 ? nthread : 1);
    if (XGBoosterLoadModelFromBuffer(b, data, len) || XGBoosterSetParam(b, "nthread", nt)) {
        int rc = hd_xgb_error("loading the model");
        XGBoosterFree(b);
        return rc;
    }
    *out = b;
    return HERD_OK;
}

static int hd_booster_strings(BoosterHandle b, const char *field, size_t want, char ***out)
{
    bst_ulong n = 0;
    const char **v = NULL;
    HD_XGB(XGBoosterGetStrFeatureInfo(b, field, &n, &v), "reading the model's features");
    if (n != want)
        return hd_error(HERD_EFORMAT,
                        "the model has %zu features but %llu %s entries; herd needs a model "
                        "that names its features: train with feature names, or give them with "
                        "herd_model_load_with_features",
                        want, (unsigned long long)n, field);
    *out = hd_strings_copy(v, want);
    return *out ? HERD_OK : HERD_ENOMEM;
}

/* Read everything herd keeps about a loaded booster into m.  `checked` is
 * what hd_model_check read from the same bytes. */
static int hd_model_describe(BoosterHandle b, const hd_model_info *checked, herd_model *m)
{
    bst_ulong nfeat = 0;
    HD_XGB(XGBoosterGetNumFeature(b, &nfeat), "reading the model's feature count");
    m->nfeat = (size_t)nfeat;
    if (m->nfeat == 0) return hd_error(HERD_EFORMAT, "the model has no features");
    /* Split features were checked against the checker's count: XGBoost
     * must size its rows by the same one. */
    if (m->nfeat != checked->num_feature)
        return hd_error(HERD_EINTERNAL,
                        "XGBoost reads %zu features from the model but herd's check read %zu",
                        m->nfeat, checked->num_feature);
    int rc = hd_booster_strings(b, "feature_name", m->nfeat, &m->feature_names);
    if (!rc) rc = hd_booster_strings(b, "feature_type", m->nfeat, &m->feature_types);
    /* The rules of every feature list: a model with two features of one
     * name would read one column into both. */
    if (!rc) rc = hd_features_check((const char *const *)m->feature_names,
                                    (const char *const *)m->feature_types, m->nfeat, "the model");
    if (rc) return rc;
    /* The objective and class count come from the check, which read the
     * same bytes: no need to parse XGBoost's configuration JSON again. */
    m->objective = hd_strdup(checked->objective);
    if (!m->objective) return HERD_ENOMEM;
    m->num_outputs = checked->num_class > 1 && strcmp(checked->objective, "multi:softprob") == 0
                         ? checked->num_class
                         : 1;
    bst_ulong len = 0;
    const char *buf = NULL;
    HD_XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"ubj\"}", &len, &buf),
           "serialising the model");
    m->ubj = hd_malloc(len, 1);
    if (!m->ubj) return HERD_ENOMEM;
    memcpy(m->ubj, buf, len);
    m->len = len;
    return HERD_OK;
}

/* Give a loaded booster the caller's feature names and types. */
static int hd_booster_name_features(BoosterHandle b, const hd_model_features *given)
{
    HD_XGB(XGBoosterSetStrFeatureInfo(b, "feature_name", (const char **)given->names,
                                      (bst_ulong)given->n),
           "setting the model's feature names");
    HD_XGB(XGBoosterSetStrFeatureInfo(b, "feature_type", (const char **)given->types,
                                      (bst_ulong)given->n),
           "setting the model's feature types");
    return HERD_OK;
}

/* Load `len` bytes of a model: check them (and their features against
 * `given`, when not NULL), load them into XGBoost, name the features when
 * given, and keep what herd needs. */
static int hd_model_load_bytes(const char *fn, const void *data, size_t len,
                               const hd_model_features *given, herd_model **out)
{
    if (len == 0) return hd_error(HERD_EINVAL, "%s: the model buffer is empty (len 0)", fn);
    if (len > (size_t)INT32_MAX)
        return hd_error(HERD_ELIMIT, "%s: the model is %zu bytes; the limit is 2 GiB", fn, len);
    /* XGBoost trusts what it loads (a child index out of range loads, then
     * crashes at predict): herd checks the structure first. */
    hd_model_info info;
    int rc = hd_model_check_features(data, len, given, &info);
    if (rc) return rc;
    BoosterHandle b = NULL;
    hd_xgb_quiet quiet;
    if ((rc = hd_xgb_quiet_enter(&quiet))) return rc;
    rc = hd_booster_load(data, len, 1, &b);
    herd_model *m = NULL;
    if (!rc && given) rc = hd_booster_name_features(b, given);
    if (!rc) {
        m = hd_calloc(1, sizeof *m);
        rc = m ? hd_model_describe(b, &info, m) : HERD_ENOMEM;
    }
    if (b) XGBoosterFree(b);
    hd_xgb_quiet_leave(&quiet);
    if (rc) {
        herd_model_free(m);
        return rc;
    }
    *out = m;
    return HERD_OK;
}

int herd_model_load(const void *data, size_t len, herd_model **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(data);
    return hd_model_load_bytes(__func__, data, len, NULL, out);
}

int herd_model_load_with_features(const void *data, size_t len, const char *const *names,
                                  const char *const *types, size_t n_features,
                                  herd_model **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(data);
    HD_CHECK_NOT_NULL(names);
    if (n_features == 0 || n_features > HERD_ARTIFACT_MAX_FEATURES)
        return hd_error(HERD_EINVAL, "%s: n_features is %zu; give the model's 1..%u features",
                        __func__, n_features, HERD_ARTIFACT_MAX_FEATURES);
    /* Without types every feature is "float", as XGBoost assumes. */
    const char **all_float = NULL;
    if (!types) {
        if (!(all_float = hd_malloc(n_features, sizeof *all_float))) return HERD_ENOMEM;
        for (size_t i = 0; i < n_features; i++) all_float[i] = "float";
        types = all_float;
    }
    int rc = hd_features_check(names, types, n_features, __func__);
    if (rc == HERD_EFORMAT) rc = hd_error(HERD_EINVAL, "%s", herd_last_error());
    if (!rc) {
        hd_model_features given = {.what = "the names and types given", .names = names,
                                   .types = types, .n = n_features, .required = 0};
        rc = hd_model_load_bytes(__func__, data, len, &given, out);
    }
    free(all_float);
    return rc;
}

int herd_model_save(const herd_model *m, int format, void **data, size_t *len)
{
    HD_CHECK_NOT_NULL(m);
    HD_CHECK_NOT_NULL(data);
    HD_CHECK_NOT_NULL(len);
    *data = NULL;
    *len = 0;
    if (format != HERD_MODEL_UBJSON && format != HERD_MODEL_JSON)
        return hd_error(HERD_EINVAL,
                        "%s: format %d is not HERD_MODEL_UBJSON (1) or HERD_MODEL_JSON (2)",
                        __func__, format);
    if (format == HERD_MODEL_UBJSON) {
        *data = hd_malloc(m->len, 1);
        if (!*data) return HERD_ENOMEM;
        memcpy(*data, m->ubj, m->len);
        *len = m->len;
        return HERD_OK;
    }
    BoosterHandle b = NULL;
    hd_xgb_quiet quiet;
    int rc = hd_xgb_quiet_enter(&quiet);
    if (rc) return rc;
    if ((rc = hd_booster_load(m->ubj, m->len, 1, &b))) {
        hd_xgb_quiet_leave(&quiet);
        return rc;
    }
    bst_ulong n = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &n, &buf)) {
        rc = hd_xgb_error("serialising the model as JSON");
    } else if ((*data = hd_malloc(n, 1))) {
        memcpy(*data, buf, n);
        *len = n;
    } else {
        rc = HERD_ENOMEM;
    }
    XGBoosterFree(b);
    hd_xgb_quiet_leave(&quiet);
    return rc;
}

#define HD_MODEL_CHECK(none) HD_ACCESSOR_CHECK(m, none)
#define HD_FEATURE_CHECK(none)                                                     \
    HD_ACCESSOR_CHECK(i < m->nfeat, none)

size_t herd_model_feature_count(const herd_model *m)
{
    HD_MODEL_CHECK(0);
    return m->nfeat;
}

const char *herd_model_feature_name(const herd_model *m, size_t i)
{
    HD_MODEL_CHECK(NULL);
    HD_FEATURE_CHECK(NULL);
    return m->feature_names[i];
}

const char *herd_model_feature_type(const herd_model *m, size_t i)
{
    HD_MODEL_CHECK(NULL);
    HD_FEATURE_CHECK(NULL);
    return m->feature_types[i];
}

const char *herd_model_objective(const herd_model *m)
{
    HD_MODEL_CHECK(NULL);
    return m->objective;
}

size_t herd_model_output_count(const herd_model *m)
{
    HD_MODEL_CHECK(0);
    return m->num_outputs;
}
