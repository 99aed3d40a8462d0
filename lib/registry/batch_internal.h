/* batch_internal.h -- what the layers above the registry need of a batch
 * beyond the public API. */
#ifndef HERD_BATCH_INTERNAL_H
#define HERD_BATCH_INTERNAL_H

#include <stddef.h>

#include "herd.h"

/* herd_batch_add_bytes for artifact bytes whose model this process has
 * already validated (built by herd here, or read with
 * hd_artifact_check_model): header, metadata and checksums are verified,
 * the model is not inflated again, whatever opt->check_model says. */
int hd_batch_add_bytes_checked(herd_batch *batch, const void *data, size_t len,
                               const herd_version_options *opt, size_t *index);

/* For a batch that takes artifacts as they are produced, one per group of
 * a large job (herd_cycle, herd_registry_fit): it keeps at most the
 * handle's stream size of them in memory (8 MiB, or its spill size if
 * smaller) before writing them to its own pack, so that its memory does
 * not grow with the groups.  Call before the first add. */
void hd_batch_stream(herd_batch *b);

/* Room for `versions` more versions and `ops` more operations (a version
 * is one operation, its alias move another), allocated at once: exactly
 * that much on an empty batch, where growing by doubling would hold up to
 * twice what a job of known size adds.  HERD_OK or HERD_ENOMEM. */
int hd_batch_reserve(herd_batch *b, size_t versions, size_t ops);

#endif
