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

#include <zlib.h>

#include "herd.h"

/* Offsets from docs/format.md. */
enum {
    F_FLAGS = 12,
    F_HEADER_LEN = 16,
    F_META_LEN = 20,
    F_STORED_LEN = 24,
    F_RAW_LEN = 32,
    F_META_CRC = 40,
    F_STORED_CRC = 44,
    F_RAW_CRC = 48,
    F_HEADER_1_0 = 56
};

/* The repaired copy inflates at most this much to compute the raw CRC. */
#define F_MAX_INFLATE (4u << 20)
/* Predict only with models of few features: building the frame is the
 * harness's cost, not the library's. */
#define F_MAX_PREDICT_FEATURES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* CRC32 of what the stored payload inflates to, up to `raw_len` bytes. */
static uint32_t raw_crc(const uint8_t *in, size_t in_len, uint64_t raw_len)
{
    if (raw_len > F_MAX_INFLATE) return 0;
    uint8_t *out = malloc(raw_len ? (size_t)raw_len : 1);
    if (!out) return 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    uLong crc = 0;
    if (inflateInit(&zs) == Z_OK) {
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)in_len;
        zs.next_out = out;
        zs.avail_out = (uInt)raw_len;
        inflate(&zs, Z_FINISH);
        crc = crc32(0, out, (uInt)zs.total_out);
        inflateEnd(&zs);
    }
    free(out);
    return (uint32_t)crc;
}

/* Recompute the section CRCs and the header CRC of b in place, as far as
 * the (possibly mutated) lengths allow. */
static void repair(uint8_t *b, size_t size)
{
    uint32_t hl = get32(b + F_HEADER_LEN), ml = get32(b + F_META_LEN);
    uint64_t sl = get64(b + F_STORED_LEN), rl = get64(b + F_RAW_LEN);
    if (hl < F_HEADER_1_0 || hl > size) return;
    if (ml <= size - hl) {
        put32(b + F_META_CRC, (uint32_t)crc32(0, b + hl, ml));
        size_t off = (size_t)hl + ml;
        if (sl <= size - off) {
            uint32_t stored = (uint32_t)crc32(0, b + off, (uInt)sl);
            put32(b + F_STORED_CRC, stored);
            put32(b + F_RAW_CRC, (get32(b + F_FLAGS) & 1) ? raw_crc(b + off, (size_t)sl, rl)
                                                          : stored);
        }
    }
    put32(b + hl - 4, (uint32_t)crc32(0, b, hl - 4));
}

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
    repair(copy, size);
    if (memcmp(copy, data, size) != 0) exercise(copy, size);
    free(copy);
    return 0;
}
