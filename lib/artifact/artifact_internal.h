/* artifact_internal.h -- what the registry needs of an artifact without
 * inflating its model: the serialised bytes, and the metadata fields it
 * indexes; and what the layers above need to build one from what they
 * know of a model (train/fit.c packages a fitted group's model). */
#ifndef HERD_ARTIFACT_INTERNAL_H
#define HERD_ARTIFACT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/mem_internal.h"

typedef struct hd_artifact_info {
    hd_arena *arena; /* owns every string below */
    const char *family, *group, *run_id, *created, *fingerprint; /* NULL: absent */
    const char *idempotency_key; /* NULL: absent */
    size_t nmetrics;
    const char **metric_names;
    double *metric_values;
} hd_artifact_info;

/* The fields of a parsed artifact. */
int hd_artifact_info_get(const herd_artifact *a, hd_artifact_info *out);

/* Check serialised artifact bytes without inflating the model: the header,
 * the three checksums and the metadata (as herd_artifact_read does); the
 * model's structure is validated later, whenever it is loaded. */
int hd_artifact_check_bytes(const void *data, size_t len, hd_artifact_info *out);

/* Everything herd_artifact_read checks, keeping nothing but the
 * metadata's summary in `out` (unless NULL; as hd_artifact_check_bytes):
 * the header, checksums and metadata, and the model (inflated, validated
 * by hd_model_check, its features and class count compared with the
 * metadata): bytes that pass will load.  Holds at most the raw model. */
int hd_artifact_check_model(const void *data, size_t len, hd_artifact_info *out);

void hd_artifact_info_free(hd_artifact_info *info);

/* The artifact's model, its inflated bytes moved rather than copied, and
 * the artifact freed (whatever the outcome): for a reader that wants only
 * the model.  NULL gives HERD_OK and *out NULL. */
int hd_artifact_into_model(herd_artifact *a, herd_model **out);

/* The serialised bytes of an artifact (owned by it). */
const unsigned char *hd_artifact_bytes(const herd_artifact *a, size_t *len);

/* ---- Building an artifact ------------------------------------------- */

/* What an artifact is built from. */
typedef struct hd_art_input {
    const herd_model *model;
    const char *family, *group, *run_id; /* NULL: absent */
    const char *idempotency_key;         /* NULL: absent */
    const char *const *param_names;
    const char *const *param_values;
    size_t n_params;
    const char *tree_method; /* chosen by herd, recorded unless a param names it */
    const char *max_bin;     /* likewise */
    const char *const *metric_names;
    const double *metric_values;
    size_t n_metrics;
    int has_data; /* rows, train_rows, valid_rows, best_iteration, fingerprint */
    uint64_t rows, train_rows, valid_rows, best_iteration, fingerprint;
    int level;
} hd_art_input;

/* Build the artifact of `in`: check the model, print the metadata and read
 * it back with the reader's parser, compress. */
int hd_artifact_build(const hd_art_input *in, herd_artifact **out);

/* The caller's options over the defaults, validated; messages name `fn`. */
int hd_art_options_read(const herd_artifact_options *in, const char *fn,
                        herd_artifact_options *o);

#endif
