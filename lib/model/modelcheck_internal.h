/* modelcheck_internal.h -- structural validation of XGBoost 1.7 models
 * before XGBoost sees them.  XGBoost trusts what it loads: a child index out
 * of range loads fine and crashes at predict.  herd parses the model itself
 * (UBJSON or JSON) and checks it first. */
#ifndef HERD_MODELCHECK_INTERNAL_H
#define HERD_MODELCHECK_INTERNAL_H

#include <stddef.h>

#include "model/ubjson_internal.h"

typedef struct hd_model_info {
    size_t num_feature;    /* learner_model_param.num_feature */
    size_t num_trees;
    size_t num_class;      /* learner_model_param.num_class (0 or >= 2) */
    size_t total_nodes;
    char objective[64];    /* learner.objective.name */
    char booster[16];      /* "gbtree" or "dart" */
} hd_model_info;

/* Limits of what herd accepts (docs/format.md); the container nesting cap,
 * HD_MODEL_MAX_DEPTH_NESTING, is the reader's (ubjson_internal.h). */
#define HD_MODEL_MAX_TREES 1000000u
#define HD_MODEL_MAX_NODES_PER_TREE 1000000u

/* Validate `len` bytes of an XGBoost 1.7 model, UBJSON (first byte '{'
 * followed by a UBJSON marker) or JSON.  Checks every container length
 * against the remaining bytes before allocating, nesting depth, and the
 * model's structure: every tree's arrays have num_nodes entries; children
 * are -1 (leaf) or in range, each node has exactly one parent (so the tree
 * is acyclic and connected from node 0) and `parents` agrees; split indices
 * are below num_feature; split conditions and leaf values are finite;
 * tree_info has one entry per tree with a valid class; gbtree_model_param
 * agrees with the tree count.  On failure returns HERD_ECORRUPT (or
 * HERD_EFORMAT for bytes that are not a model at all, HERD_ELIMIT for a
 * cap) with a message naming the tree, node, field and byte offset. */
int hd_model_check(const void *data, size_t len, hd_model_info *info);

/* A feature list the model's own (learner.feature_names / feature_types)
 * must equal: the metadata of an artifact, or names given at import. */
typedef struct hd_model_features {
    const char *what; /* names the list in messages: "the artifact's metadata" */
    const char *const *names;
    const char *const *types;
    size_t n;
    /* 1: the model must name its features and their types (an artifact's
     * payload); 0: a model without names or without types agrees with any
     * list of its length (a model imported with names given). */
    int required;
} hd_model_features;

/* hd_model_check, and then the model's feature names and types must be
 * exactly want's, in order: HERD_EFORMAT naming both lists otherwise. */
int hd_model_check_features(const void *data, size_t len, const hd_model_features *want,
                            hd_model_info *info);

#endif
