/* features_internal.h -- the one set of rules for a model's feature list,
 * wherever the list comes from: a model's own payload (herd_model_load),
 * an artifact's metadata, or names and types given at import.
 *
 * herd binds features to frame columns by name, so a list that breaks a
 * rule gives wrong answers rather than errors: two features with one name
 * read one column twice, and metadata whose order differs from the
 * payload's feeds each tree the wrong column. */
#ifndef HERD_MODEL_FEATURES_INTERNAL_H
#define HERD_MODEL_FEATURES_INTERNAL_H

#include <stddef.h>

/* Whether `type` is one of the feature types XGBoost 1.7 knows: "float",
 * "int", "i", "q", "c". */
int hd_feature_type_known(const char *type);

/* Check a list: 1..HERD_ARTIFACT_MAX_FEATURES entries (HERD_ELIMIT
 * beyond), each name a valid column name (hd_name_check, HERD_NAME_MAX
 * bytes) and unique, each type known.  `what` starts the message ("the
 * model", "herd_model_load_with_features: names").  HERD_EFORMAT naming
 * the entry (both positions for a duplicate). */
int hd_features_check(const char *const *names, const char *const *types, size_t n,
                      const char *what);

/* "x0:float, x1:float, promo:int" into buf (size >= 16), cut with "..."
 * when long.  Returns buf. */
const char *hd_features_format(char *buf, size_t size, const char *const *names,
                               const char *const *types, size_t n);

/* 1 when the two lists are equal: same length, same names and types in
 * the same order. */
int hd_features_equal(const char *const *names_a, const char *const *types_a, size_t n_a,
                      const char *const *names_b, const char *const *types_b, size_t n_b);

/* HERD_EFORMAT: "<what_a> lists the features [..] but <what_b> has [..]",
 * naming both lists, and what to do. */
int hd_features_disagree(const char *what_a, const char *const *names_a,
                         const char *const *types_a, size_t n_a, const char *what_b,
                         const char *const *names_b, const char *const *types_b, size_t n_b);

#endif
