/* artifact_internal.h -- what the registry needs of an artifact without
 * inflating its model: the serialised bytes, and the metadata fields it
 * indexes. */
#ifndef HERD_ARTIFACT_INTERNAL_H
#define HERD_ARTIFACT_INTERNAL_H

#include <stddef.h>

#include "herd.h"
#include "common/mem_internal.h"

typedef struct hd_artifact_info {
    hd_arena *arena; /* owns every string below */
    const char *family, *group, *run_id, *created, *fingerprint; /* NULL: absent */
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

void hd_artifact_info_free(hd_artifact_info *info);

/* The serialised bytes of an artifact (owned by it). */
const unsigned char *hd_artifact_bytes(const herd_artifact *a, size_t *len);

#endif
