/* cycle_internal.h -- the weekly cycle's two stages and what they share.
 *
 * The worker stage (cycle_train.c) trains, evaluates and packages each
 * group in one pass and hands every group's result to a sink: a part
 * (herd_cycle_part, returned to a distributed host) or, inside herd_cycle,
 * the committer itself.  The committer stage (cycle.c) adds results to one
 * registry batch as they arrive, then commits, decides and promotes.
 */
#ifndef HERD_CYCLE_INTERNAL_H
#define HERD_CYCLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "decide/compare_internal.h"

/* Every option of a run, read and checked once (the same checks for both
 * stages).  `compare` is the run's comparison: the cycle's family, label,
 * run id and holdout filled in. */
typedef struct hd_cycle_setup {
    herd_fit_options fit;
    herd_cycle_options o;
    hd_cmp_setup cmp;
    /* The run's options as its lineage records them (the run params
     * without "data"), strict JSON: a part trained with other options is
     * refused by the committer.  malloc'd. */
    char *options_json;
} hd_cycle_setup;

/* Read and check the options of a run; `frame` (may be NULL: the
 * committer has no data) is checked for the columns they name.  Messages
 * start with `fn`. */
int hd_cycle_setup_read(const herd_fit_options *fit, const herd_cycle_options *opt,
                        const herd_frame *frame, const char *fn, hd_cycle_setup *s);
void hd_cycle_setup_free(hd_cycle_setup *s);

/* The checks that need the data, before anything is trained: the ordering
 * and compare columns, the family model's reserved key, every group key a
 * registry key.  Messages start with `fn`. */
int hd_cycle_check_data(const hd_cycle_setup *s, const herd_groups *groups, const char *fn);

/* The idempotency key of a group's version in a run: "FAMILY/RUN_ID/GROUP"
 * (malloc'd; NULL: out of memory). */
char *hd_cycle_idempotency_key(const char *family, const char *run_id, const char *key);

/* What the worker stage produced for one group. */
typedef struct hd_cycle_result {
    const char *key;  /* the group key (borrowed) */
    int family;       /* 1: the family model (HERD_FALLBACK_GROUP) */
    int status;       /* the fit's: hd_task_status */
    const char *message; /* the fit's reason or error; may be NULL (borrowed) */
    const herd_artifact *artifact; /* the model's artifact, or NULL (borrowed) */
    const void *bytes;             /* ... serialised; NULL: no model (borrowed) */
    size_t artifact_len;
    size_t rows;        /* the group's rows, training and holdout */
    size_t train_rows;  /* of them, training rows (0: the group was not fitted) */
    uint64_t data_hash; /* the run fingerprint's share of this group */
    const hd_cmp_eval *eval;
} hd_cycle_result;

/* Where the worker stage sends each group's result, on the worker that
 * produced it (several at once): copy what is kept before returning.
 * HERD_ENOMEM or an I/O error stop the job. */
typedef int (*hd_cycle_sink)(void *ctx, const hd_cycle_result *r, size_t order);

/* Where a worker finds a group's champion: herd_cycle reads the registry,
 * herd_cycle_train the champions it is handed.  *version 0 and *model NULL:
 * none. */
typedef struct hd_champion_source {
    herd_registry *reg;                /* or */
    const herd_champions *champions;   /* or neither: no champions */
    const char *family, *alias;
    int version_only; /* 1: the version, no model */
} hd_champion_source;

int hd_champion_get(const hd_champion_source *src, const char *key, int64_t *version,
                    herd_model **model);

/* The part of the run's lineage the data give, summed over results. */
typedef struct hd_cycle_data {
    size_t n_key_columns;
    const char *const *key_columns;
    size_t rows_without_key;
} hd_cycle_data;

/* Run the worker stage over `groups` (the groups, and with fallback and
 * `family` the family model), each result to `sink`; `order` is the
 * group's index (the family model's: the number of groups).  Progress
 * phases "split" (already begun by the caller), "fit" and "fit_family".
 * Returns as herd_fit: HERD_OK, HERD_ECANCELED or HERD_EBUDGET after the
 * job, other errors before it. */
int hd_cycle_work(const hd_cycle_setup *s, const herd_groups *groups,
                  const hd_champion_source *champions, int train_groups, int train_family,
                  const herd_apply_options *apply, hd_cycle_sink sink, void *sink_ctx);

/* What the committer reads of a part. */
typedef struct hd_cycle_part_info {
    const char *options_json, *run_id;
    const char *const *key_columns;
    size_t n_key_columns;
    size_t rows_without_key;
    size_t n_results;
} hd_cycle_part_info;

void hd_cycle_part_describe(const herd_cycle_part *part, hd_cycle_part_info *info);

/* The i-th result of a part (i < n_results), borrowed from it. */
void hd_cycle_part_result(const herd_cycle_part *part, size_t i, hd_cycle_result *r);

/* Whether two lists of key columns are the same names in the same order. */
int hd_cycle_same_columns(const char *const *a, size_t na, const char *const *b, size_t nb);

/* The fingerprint's seed: the names of the columns it reads. */
uint64_t hd_cycle_fingerprint_seed(const char *const *names, size_t n);

/* The columns the fingerprint reads, in order: key columns, features,
 * label, weight, ordering column (NULL entries are skipped).  *names is
 * malloc'd; the strings are borrowed. */
int hd_cycle_fingerprint_columns(const hd_cycle_setup *s, const char *const *key_columns,
                                 size_t n_key_columns, const char ***names, size_t *n);

#endif
