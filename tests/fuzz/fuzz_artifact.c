/* fuzz_artifact.c -- libFuzzer target for herd_artifact_read.
 *
 * Each input is read twice:
 *   1. as it is: almost every mutation fails a CRC, which tests the header
 *      checks and that no damage gets past the checksums;
 *   2. "repaired": with every CRC recomputed (and the header's, at wherever
 *      the mutated header length puts it), so that mutations reach the
 *      length checks, inflation, the strict metadata parser and the model
 *      validator behind the checksums.
 * An artifact that reads must re-serialise to the same bytes, answer its
 * accessors, and predict without crashing: the promise is that an artifact
 * from an untrusted source cannot crash the process, XGBoost included. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "artifact_repair.h"

/* Predict only with models of few features: building the frame is the
 * harness's cost, not the library's. */
#define F_MAX_PREDICT_FEATURES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Predict two rows of zeros and NaNs with the artifact's model. */
static void predict(const herd_artifact *a)
{
    herd_model *m = NULL;
    if (herd_artifact_model(a, &m)) return;
    size_t nf = herd_model_feature_count(m), no = herd_model_output_count(m);
    herd_frame *f = NULL;
    if (nf <= F_MAX_PREDICT_FEATURES && no <= 1000 && !herd_frame_new(&f)) {
        static const double fv[2] = {0.0, 0.5};
        static const int64_t iv[2] = {0, 1};
        int rc = 0;
        for (size_t j = 0; j < nf && !rc; j++) {
            int is_int = strcmp(herd_model_feature_type(m, j), "int") == 0 ||
                         strcmp(herd_model_feature_type(m, j), "i") == 0;
            rc = herd_frame_add_column(f, herd_model_feature_name(m, j),
                                       is_int ? HERD_TYPE_INT64 : HERD_TYPE_FLOAT64,
                                       is_int ? (const void *)iv : (const void *)fv, 2, NULL);
        }
        double *out = malloc(2 * no * sizeof *out);
        if (!rc && out) (void)herd_model_predict(m, f, NULL, 2, 1, out, 2 * no);
        free(out);
        herd_frame_free(f);
    }
    herd_model_free(m);
}

static void exercise(const uint8_t *data, size_t size)
{
    herd_artifact *a = NULL;
    if (herd_artifact_read(data, size, &a) != HERD_OK) {
        if (a) abort(); /* *out must be NULL on failure */
        return;
    }
    void *buf = NULL;
    size_t len = 0;
    if (herd_artifact_to_buffer(a, &buf, &len) || len != size || memcmp(buf, data, size))
        abort(); /* a read artifact re-serialises to its own bytes */
    herd_free(buf);
    static const char *const fields[] = {"family", "group", "objective", "created",
                                         "herd_version", "xgboost_version", "run_id",
                                         "fingerprint", "format", "features"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = NULL;
        int rc = herd_artifact_get(a, fields[i], &v);
        if ((rc == HERD_OK) != (v != NULL)) abort(); /* a value exactly when HERD_OK */
    }
    if (!herd_artifact_metadata(a)) abort();
    double v;
    int mrc = herd_artifact_metric(a, "rmse", &v);
    if (mrc != HERD_OK && mrc != HERD_MISSING) abort(); /* a read artifact has no bad metric */
    predict(a);
    herd_artifact_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exercise(data, size);
    if (size < F_HEADER_1_0 || size > (64u << 20)) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    artifact_repair(copy, size);
    if (memcmp(copy, data, size) != 0) exercise(copy, size);
    free(copy);
    return 0;
}
