/* modelcheck.c -- structural validation of XGBoost 1.7 models, from
 * untrusted bytes, before XGBoost sees them.
 *
 * XGBoost 1.7 checks array lengths when it loads a tree but not what the
 * arrays hold: a child index out of range, a parent out of range (read at
 * load time), a split feature beyond the row, two trees with the same id,
 * a tree_info entry beyond the output groups, or a short tree_info all
 * load and then read or write out of bounds.  Its UBJSON reader also
 * trusts every length it reads.  So herd parses the model itself
 * (ubjson.c, bounded and non-recursive) and checks, per tree:
 *
 *   - every per-node array has num_nodes entries of the right kind;
 *   - children are -1 (leaf) or in [1, num_nodes), both or neither, and
 *     the right child is the left one + 1, as XGBoost's predictor assumes;
 *   - every live node but the root is the child of exactly one node and
 *     parents[] says so; the root's parent is 2147483647; every live node
 *     is reachable from the root.  One parent each plus reachability makes
 *     the tree acyclic and connected;
 *   - nodes the pruner deleted (split index 2147483647 with default_left,
 *     which is how XGBoost marks them) are leaves nobody points at, their
 *     parent is in range (XGBoost reads it at load time), and there are
 *     num_deleted of them;
 *   - split features of internal nodes are below the tree's num_feature,
 *     which is at most the learner's; split conditions, leaf values and
 *     base weights are finite;
 *   - no categorical split (herd does not train them) and empty
 *     categorical arrays, whose offsets XGBoost would follow unchecked;
 *
 * and for the model: a 1.x version, num_feature in [1, max], feature names
 * and types (if any) one per feature, num_trees == trees == tree_info
 * entries, tree ids a permutation of 0..num_trees-1, tree_info entries
 * below the output groups, a DART weight per tree, num_parallel_tree >= 1.
 *
 * XGBoost 1.7 also loads models it then cannot use, so herd refuses what
 * it would refuse at load or at predict, or predict nonsense from
 * (tests/unit/test_xgbcompat.c proves each on XGBoost): learner.attributes
 * missing or holding a non-string; an objective it does not know, or
 * without the parameter object its LoadConfig reads (mc_objectives);
 * gbtree_model_param.size_leaf_vector other than 0; base_score outside
 * (0, 1) for the logistic objectives or not above 0 for the log-link ones.
 *
 * Codes: HERD_EFORMAT when the bytes are not an XGBoost tree model at all
 * (or use what herd does not support), HERD_ECORRUPT when a model is
 * malformed, HERD_ELIMIT for a cap.  Messages start with "model: ", name
 * the tree, node and field, and give the byte offset for UBJSON. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/text_internal.h"
#include "model/features_internal.h"
#include "model/modelcheck_internal.h"
#include "model/ubjson_internal.h"

/* Outputs per row (num_class, num_target): each costs a float per row in
 * every prediction buffer XGBoost allocates. */
#define MC_MAX_GROUPS 100000u

/* XGBoost 1.7 writes the root's parent as its kInvalidNodeId with the
 * "is left child" bit masked off. */
#define MC_ROOT_PARENT 2147483647

/* The split index XGBoost writes for a node the pruner deleted: its
 * sindex_ is all ones, of which the top bit comes back as default_left. */
#define MC_DELETED_SPLIT 2147483647

enum { MC_DELETED = 1, MC_SEEN = 2 };

typedef struct mc {
    const hd_jdoc *doc;
    hd_model_info *info;
    const hd_model_features *want; /* NULL: no list to agree with */
    size_t num_groups; /* outputs per row: max(1, num_class, num_target) */
    double base_score; /* learner_model_param.base_score; its range is the objective's */
    size_t base_at;    /* where it is, for messages */
    /* Per-tree scratch, sized for the largest tree so far (one block). */
    void *block;
    size_t cap;
    int32_t *left, *right, *parent, *split, *dleft, *owner, *stack;
    float *cond, *weight;
    unsigned char *flags;
} mc;

typedef struct mc_tree {
    size_t t;   /* position in trees[] */
    size_t obj; /* the tree's object */
    size_t n;   /* num_nodes */
    size_t num_feature;
    size_t num_deleted;
    size_t a_left, a_right, a_parent, a_split, a_dleft, a_cond, a_weight; /* arrays */
    char prefix[48]; /* "tree 3: " */
} mc_tree;

/* ------------------------------------------------------------------------
 * Messages
 * --------------------------------------------------------------------- */

/* The per-tree prefixes ("tree 3: ", "tree 3: tree_param."), built
 * without snprintf: two per tree were a tenth of a model check's own
 * work, for text read only when a message is written. */
static void mc_tree_prefix(char *buf, size_t t)
{
    char digits[24];
    size_t n = 0;
    do digits[n++] = (char)('0' + t % 10); while ((t /= 10) && n < sizeof digits);
    memcpy(buf, "tree ", 5);
    for (size_t i = 0; i < n; i++) buf[5 + i] = digits[n - 1 - i];
    memcpy(buf + 5 + n, ": ", 3);
}

static void mc_tree_param_prefix(char *buf, const char *tree_prefix)
{
    size_t n = strlen(tree_prefix);
    memcpy(buf, tree_prefix, n);
    memcpy(buf + n, "tree_param.", sizeof "tree_param.");
}

/* " (byte N)", or "" when the offset is unknown (JSON). */
static const char *mc_at(size_t offset, char *buf, size_t size)
{
    if (offset == SIZE_MAX) return "";
    snprintf(buf, size, " (byte %zu)", offset);
    return buf;
}

static int mc_fail(int code, size_t offset, const char *fmt, ...) HD_PRINTF(3, 4);

static int mc_fail(int code, size_t offset, const char *fmt, ...)
{
    char msg[640], at[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hd_error(code, "model: %s%s", msg, mc_at(offset, at, sizeof at));
}

static int mc_node_fail(int code, const mc_tree *tr, size_t node, size_t offset,
                        const char *fmt, ...) HD_PRINTF(5, 6);

static int mc_node_fail(int code, const mc_tree *tr, size_t node, size_t offset,
                        const char *fmt, ...)
{
    char msg[512], at[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hd_error(code, "model: tree %zu, node %zu: %s%s", tr->t, node, msg,
                    mc_at(offset, at, sizeof at));
}

/* Where member i of array `arr` is: walks the array, so only for errors. */
static size_t mc_elem_offset(const mc *c, size_t arr, size_t i)
{
    hd_jiter it;
    hd_jnum v;
    hd_jiter_init(&it, c->doc, arr);
    while (hd_jiter_next(&it, &v))
        if (it.index == i + 1) return v.offset;
    return SIZE_MAX;
}

/* A number or what stands in its place, for messages. */
static const char *mc_num_str(const hd_jnum *v, char *buf, size_t size)
{
    if (v->type == HD_J_BOOL) return v->i ? "true" : "false";
    if (v->type != HD_J_INT && v->type != HD_J_FLOAT) return hd_jtype_name(v->type);
    if (v->integral)
        snprintf(buf, size, "%lld", (long long)v->i);
    else
        snprintf(buf, size, "%s", HD_NUMF("%g", v->f));
    return buf;
}

/* ------------------------------------------------------------------------
 * Fields
 * --------------------------------------------------------------------- */

/* Member `key` of object `obj`, of type `want` (HD_J_ARRAY also takes a
 * typed array).  `prefix` names obj in messages ("learner.", "tree 3: ").
 * A missing member is HERD_ECORRUPT unless `optional`, when *out is
 * HD_JNONE. */
static int mc_member(const mc *c, size_t obj, const char *prefix, const char *key,
                     hd_jtype want, int optional, size_t *out)
{
    size_t v = hd_jdoc_member(c->doc, obj, key);
    *out = v;
    if (v == HD_JNONE) {
        if (optional) return HERD_OK;
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, obj), "%s%s is missing", prefix,
                       key);
    }
    hd_jtype t = hd_jdoc_type(c->doc, v);
    if (t == want || (want == HD_J_ARRAY && t == HD_J_TYPED)) return HERD_OK;
    return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v), "%s%s is %s, not %s", prefix, key,
                   hd_jtype_name(t), hd_jtype_name(want));
}

/* An array of values that are not numbers (trees, names...): a typed
 * array cannot be one. */
static int mc_generic_array(const mc *c, size_t obj, const char *prefix, const char *key,
                            int optional, size_t *out)
{
    int rc = mc_member(c, obj, prefix, key, HD_J_ARRAY, optional, out);
    if (rc || *out == HD_JNONE || hd_jdoc_type(c->doc, *out) == HD_J_ARRAY) return rc;
    return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, *out), "%s%s is an array of numbers",
                   prefix, key);
}

/* A string member compared with `want`. */
static int mc_string_is(const mc *c, size_t v, const char *want)
{
    size_t len;
    const char *s = hd_jdoc_string(c->doc, v, &len);
    return s && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* A parameter XGBoost keeps as a decimal string ("num_nodes": "7"), as an
 * unsigned integer.  XGBoost's own parser (an istream) also takes " 7" or
 * "+7"; herd takes digits only.  An optional absent one leaves *out. */
static int mc_param_uint(const mc *c, size_t obj, const char *prefix, const char *key,
                         int optional, uint64_t *out)
{
    size_t v;
    int rc = mc_member(c, obj, prefix, key, HD_J_STRING, optional, &v);
    if (rc || v == HD_JNONE) return rc;
    size_t len;
    const char *s = hd_jdoc_string(c->doc, v, &len);
    uint64_t x = 0;
    int ok = len > 0;
    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= '0' && s[i] <= '9' && !__builtin_mul_overflow(x, 10u, &x) &&
             !__builtin_add_overflow(x, (uint64_t)(s[i] - '0'), &x);
    }
    if (!ok) {
        char q[96];
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v),
                       "%s%s is %s, not a non-negative integer", prefix, key,
                       hd_quote(s, len, q, sizeof q));
    }
    *out = x;
    return HERD_OK;
}

/* s[0..len) matches -?D+(.D*)?([eE][+-]?D+)? (also ".5"): what XGBoost
 * writes for a float, and nothing strtod would read differently (hex,
 * "inf", "nan", leading spaces). */
static int mc_float_syntax(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && s[i] == '-') i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (!digits) return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        size_t e = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++, e++;
        if (!e) return 0;
    }
    return i == len;
}

/* A float XGBoost keeps as a string ("base_score": "5E-1"), which must be
 * finite as a float.  Read by the number module: the host's locale does
 * not matter. */
static int mc_param_float(const mc *c, size_t obj, const char *prefix, const char *key,
                          int optional, double *out)
{
    size_t v;
    int rc = mc_member(c, obj, prefix, key, HD_J_STRING, optional, &v);
    if (rc || v == HD_JNONE) return rc;
    size_t len;
    const char *s = hd_jdoc_string(c->doc, v, &len);
    char q[96];
    hd_quote(s, len, q, sizeof q);
    double d = 0;
    int range;
    if (len >= 64 || !mc_float_syntax(s, len))
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v), "%s%s is %s, not a number",
                       prefix, key, q);
    if ((rc = hd_num_parse_f64(s, len, &d, &range)) == HERD_ENOMEM) return rc;
    if (rc || !isfinite(d) || fabs(d) > FLT_MAX)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v),
                       "%s%s is %s, which is not a finite float", prefix, key, q);
    *out = d;
    return HERD_OK;
}

/* An integral number (not a boolean), in [lo, hi]. */
static int mc_int_in(const hd_jnum *v, int64_t lo, int64_t hi)
{
    return (v->type == HD_J_INT || v->type == HD_J_FLOAT) && v->integral && v->i >= lo &&
           v->i <= hi;
}

/* ------------------------------------------------------------------------
 * Trees
 * --------------------------------------------------------------------- */

/* Scratch for a tree of n nodes (one allocation, reused by later trees). */
static int mc_scratch(mc *c, size_t n)
{
    if (n <= c->cap) return HERD_OK;
    /* +2: the traversal stack holds at most n entries plus a pair pushed
     * before the pop that balances them. */
    size_t slots = n + 2;
    const size_t per = 7 * sizeof(int32_t) + 2 * sizeof(float) + 1;
    unsigned char *b = hd_malloc(slots, per);
    if (!b) return HERD_ENOMEM;
    free(c->block);
    c->block = b;
    c->cap = n;
    int32_t **ints[] = {&c->left, &c->right, &c->parent, &c->split,
                        &c->dleft, &c->owner, &c->stack};
    for (size_t k = 0; k < sizeof ints / sizeof *ints; k++, b += slots * sizeof(int32_t))
        *ints[k] = (int32_t *)(void *)b;
    c->cond = (float *)(void *)b;
    b += slots * sizeof(float);
    c->weight = (float *)(void *)b;
    b += slots * sizeof(float);
    c->flags = b;
    return HERD_OK;
}

/* The tree's per-node array `key`, which must have num_nodes entries. */
static int mc_tree_array(const mc *c, const mc_tree *tr, const char *key, size_t *arr)
{
    int rc = mc_member(c, tr->obj, tr->prefix, key, HD_J_ARRAY, 0, arr);
    if (rc) return rc;
    size_t k = hd_jdoc_count(c->doc, *arr);
    if (k == tr->n) return HERD_OK;
    return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, *arr),
                   "%s%s has %zu entries but num_nodes is %zu", tr->prefix, key, k, tr->n);
}

/* Read array `arr` (the tree's `key`) as integers in [lo, hi]; booleans
 * count as 0/1 when allow_bool (default_left may be either). */
static int mc_read_ints(const mc *c, const mc_tree *tr, const char *key, size_t arr,
                        int64_t lo, int64_t hi, int allow_bool, int32_t *out)
{
    if (hd_jdoc_typed_ints(c->doc, arr, lo, hi, out)) return HERD_OK; /* what XGBoost writes */
    hd_jiter it;
    hd_jnum v;
    hd_jiter_init(&it, c->doc, arr);
    for (size_t i = 0; hd_jiter_next(&it, &v); i++) {
        int ok = mc_int_in(&v, lo, hi) ||
                 (allow_bool && v.type == HD_J_BOOL && v.i >= lo && v.i <= hi);
        if (!ok) {
            char num[40];
            return mc_node_fail(HERD_ECORRUPT, tr, i, v.offset,
                                "%s is %s, not an integer from %lld to %lld", key,
                                mc_num_str(&v, num, sizeof num), (long long)lo, (long long)hi);
        }
        out[i] = (int32_t)v.i;
    }
    return HERD_OK;
}

/* Read array `arr` as numbers, stored as the floats XGBoost keeps (out may
 * be NULL: only the types are checked).  Finiteness is checked later, per
 * node, where the message can say what the value is. */
static int mc_read_floats(const mc *c, const mc_tree *tr, const char *key, size_t arr,
                          float *out)
{
    if (hd_jdoc_typed_floats(c->doc, arr, out)) return HERD_OK; /* what XGBoost writes */
    hd_jiter it;
    hd_jnum v;
    hd_jiter_init(&it, c->doc, arr);
    for (size_t i = 0; hd_jiter_next(&it, &v); i++) {
        if (v.type != HD_J_INT && v.type != HD_J_FLOAT)
            return mc_node_fail(HERD_ECORRUPT, tr, i, v.offset, "%s is %s, not a number", key,
                                hd_jtype_name(v.type));
        if (out) out[i] = hd_jfloat(v.f);
    }
    return HERD_OK;
}

/* tree_param: num_nodes, num_feature, size_leaf_vector, num_deleted. */
static int mc_tree_param(const mc *c, mc_tree *tr)
{
    size_t p;
    int rc = mc_member(c, tr->obj, tr->prefix, "tree_param", HD_J_OBJECT, 0, &p);
    if (rc) return rc;
    char prefix[64];
    mc_tree_param_prefix(prefix, tr->prefix);
    uint64_t nodes = 0, nf = 0, leaf_vector = 0, deleted = 0;
    if ((rc = mc_param_uint(c, p, prefix, "num_nodes", 0, &nodes)) ||
        (rc = mc_param_uint(c, p, prefix, "num_feature", 0, &nf)) ||
        (rc = mc_param_uint(c, p, prefix, "size_leaf_vector", 1, &leaf_vector)) ||
        (rc = mc_param_uint(c, p, prefix, "num_deleted", 1, &deleted)))
        return rc;
    size_t at = hd_jdoc_offset(c->doc, p);
    if (nodes == 0) return mc_fail(HERD_ECORRUPT, at, "%snum_nodes is 0", prefix);
    if (nodes > HD_MODEL_MAX_NODES_PER_TREE)
        return mc_fail(HERD_ELIMIT, at, "%snum_nodes is %llu; herd's limit is %u nodes per tree",
                       prefix, (unsigned long long)nodes, HD_MODEL_MAX_NODES_PER_TREE);
    if (nf > c->info->num_feature)
        return mc_fail(HERD_ECORRUPT, at, "%snum_feature is %llu but the model has %zu features",
                       prefix, (unsigned long long)nf, c->info->num_feature);
    if (leaf_vector > 1)
        return mc_fail(HERD_EFORMAT, at, "%ssize_leaf_vector is %llu: multi-target trees are not "
                       "supported", prefix, (unsigned long long)leaf_vector);
    if (deleted >= nodes)
        return mc_fail(HERD_ECORRUPT, at, "%snum_deleted is %llu but the tree has %llu nodes",
                       prefix, (unsigned long long)deleted, (unsigned long long)nodes);
    tr->n = (size_t)nodes;
    tr->num_feature = (size_t)nf;
    tr->num_deleted = (size_t)deleted;
    return HERD_OK;
}

/* The tree's id: XGBoost stores tree t at trees[id], so the ids must be a
 * permutation of 0..num_trees-1 (a repeated id leaves a slot empty and
 * prediction dereferences it).  owner_of[id] is 1 + the tree using it. */
static int mc_tree_id(const mc *c, const mc_tree *tr, size_t num_trees, uint32_t *owner_of)
{
    size_t v = hd_jdoc_member(c->doc, tr->obj, "id");
    hd_jnum id;
    if (v == HD_JNONE)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, tr->obj), "%sid is missing",
                       tr->prefix);
    hd_jdoc_number(c->doc, v, &id);
    if (!mc_int_in(&id, 0, (int64_t)num_trees - 1)) {
        char num[40];
        return mc_fail(HERD_ECORRUPT, id.offset, "%sid is %s; ids run from 0 to %zu", tr->prefix,
                       mc_num_str(&id, num, sizeof num), num_trees - 1);
    }
    if (owner_of[id.i])
        return mc_fail(HERD_ECORRUPT, id.offset, "%sid %lld is also the id of tree %u",
                       tr->prefix, (long long)id.i, owner_of[id.i] - 1);
    owner_of[id.i] = (uint32_t)tr->t + 1;
    return HERD_OK;
}

/* Read the per-node arrays into the scratch. */
static int mc_tree_read(mc *c, mc_tree *tr)
{
    size_t loss, hess;
    int rc;
    if ((rc = mc_tree_array(c, tr, "left_children", &tr->a_left)) ||
        (rc = mc_tree_array(c, tr, "right_children", &tr->a_right)) ||
        (rc = mc_tree_array(c, tr, "parents", &tr->a_parent)) ||
        (rc = mc_tree_array(c, tr, "split_indices", &tr->a_split)) ||
        (rc = mc_tree_array(c, tr, "default_left", &tr->a_dleft)) ||
        (rc = mc_tree_array(c, tr, "split_conditions", &tr->a_cond)) ||
        (rc = mc_tree_array(c, tr, "base_weights", &tr->a_weight)) ||
        (rc = mc_tree_array(c, tr, "loss_changes", &loss)) ||
        (rc = mc_tree_array(c, tr, "sum_hessian", &hess)))
        return rc;
    if ((rc = mc_scratch(c, tr->n))) return rc;
    /* Children and parents are range-checked per node afterwards, with
     * messages that say which node is wrong and why. */
    if ((rc = mc_read_ints(c, tr, "left_children", tr->a_left, INT32_MIN, INT32_MAX, 0,
                           c->left)) ||
        (rc = mc_read_ints(c, tr, "right_children", tr->a_right, INT32_MIN, INT32_MAX, 0,
                           c->right)) ||
        (rc = mc_read_ints(c, tr, "parents", tr->a_parent, INT32_MIN, INT32_MAX, 0,
                           c->parent)) ||
        (rc = mc_read_ints(c, tr, "split_indices", tr->a_split, 0, INT32_MAX, 0, c->split)) ||
        (rc = mc_read_ints(c, tr, "default_left", tr->a_dleft, 0, 1, 1, c->dleft)) ||
        (rc = mc_read_floats(c, tr, "split_conditions", tr->a_cond, c->cond)) ||
        (rc = mc_read_floats(c, tr, "base_weights", tr->a_weight, c->weight)) ||
        (rc = mc_read_floats(c, tr, "loss_changes", loss, NULL)))
        return rc;
    return mc_read_floats(c, tr, "sum_hessian", hess, NULL);
}

/* Categorical splits: herd trains none.  XGBoost follows the offsets in
 * categories_segments / categories_sizes without bounds checks, so the
 * only categorical data accepted is none at all. */
static int mc_tree_categorical(const mc *c, const mc_tree *tr)
{
    static const char *const arrays[] = {"categories", "categories_nodes",
                                         "categories_segments", "categories_sizes"};
    size_t st;
    int rc = mc_member(c, tr->obj, tr->prefix, "split_type", HD_J_ARRAY, 1, &st);
    if (rc) return rc;
    if (st != HD_JNONE) {
        if ((rc = mc_tree_array(c, tr, "split_type", &st))) return rc;
        hd_jiter it;
        hd_jnum v;
        hd_jiter_init(&it, c->doc, st);
        /* All numerical (what XGBoost writes for herd) needs no walk. */
        int numerical = hd_jdoc_typed_ints(c->doc, st, 0, 0, NULL);
        for (size_t i = 0; !numerical && hd_jiter_next(&it, &v); i++) {
            if (mc_int_in(&v, 1, 1))
                return mc_node_fail(HERD_EFORMAT, tr, i, v.offset,
                                    "a categorical split; herd does not support categorical "
                                    "features");
            if (!mc_int_in(&v, 0, 0)) {
                char num[40];
                return mc_node_fail(HERD_ECORRUPT, tr, i, v.offset,
                                    "split_type is %s, not 0 (numerical) or 1 (categorical)",
                                    mc_num_str(&v, num, sizeof num));
            }
        }
    }
    for (size_t k = 0; k < sizeof arrays / sizeof *arrays; k++) {
        size_t a;
        /* XGBoost reads all four whenever split_type is there */
        if ((rc = mc_member(c, tr->obj, tr->prefix, arrays[k], HD_J_ARRAY, st == HD_JNONE, &a)))
            return rc;
        if (a != HD_JNONE && hd_jdoc_count(c->doc, a) != 0)
            return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, a),
                           "%s%s has %zu entries but the tree has no categorical split",
                           tr->prefix, arrays[k], hd_jdoc_count(c->doc, a));
    }
    return HERD_OK;
}

/* One child index of node i: -1, or in [1, n). */
static int mc_child(const mc *c, const mc_tree *tr, size_t i, const char *side, int32_t v,
                    size_t arr)
{
    if (v == -1 || (v >= 1 && (size_t)v < tr->n)) return HERD_OK;
    size_t at = mc_elem_offset(c, arr, i);
    if (v == 0) return mc_node_fail(HERD_ECORRUPT, tr, i, at, "%s child is 0, the root", side);
    return mc_node_fail(HERD_ECORRUPT, tr, i, at,
                        "%s child %d is out of range (the tree has %zu nodes)", side, (int)v,
                        tr->n);
}

/* Children in range, both or neither, and right == left + 1: XGBoost
 * 1.7's predictor (predict_fn.h, GetNextNode) goes to LeftChild() + 1 for
 * a value at or above the split and reads RightChild() only for missing
 * values, so any other right child would predict from the wrong node, or
 * from one past the array.  Every tree XGBoost grows allocates the two
 * children together. */
static int mc_tree_children(const mc *c, const mc_tree *tr)
{
    for (size_t i = 0; i < tr->n; i++) {
        int32_t l = c->left[i], r = c->right[i];
        int rc = mc_child(c, tr, i, "left", l, tr->a_left);
        if (!rc) rc = mc_child(c, tr, i, "right", r, tr->a_right);
        if (rc) return rc;
        if ((l == -1) != (r == -1))
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_left, i),
                                "left child is %d but right child is %d: a node has two "
                                "children or none", (int)l, (int)r);
        if (l != -1 && r != l + 1)
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_right, i),
                                "right child is %d but XGBoost's predictor takes it to be the "
                                "left child + 1 (%d)", (int)r, (int)l + 1);
    }
    return HERD_OK;
}

/* Mark the pruner's deleted nodes; count them.  The root is never one
 * (XGBoost only looks from node 1 on). */
static size_t mc_mark_deleted(mc *c, const mc_tree *tr)
{
    size_t deleted = 0;
    c->flags[0] = 0;
    for (size_t i = 1; i < tr->n; i++) {
        int del = c->split[i] == MC_DELETED_SPLIT && c->dleft[i];
        c->flags[i] = del ? MC_DELETED : 0;
        deleted += (size_t)del;
    }
    return deleted;
}

/* parents[] in range: XGBoost reads nodes[parents[i]] for every i >= 1
 * while loading, before anything else could catch a bad one. */
static int mc_tree_parent_range(const mc *c, const mc_tree *tr)
{
    if (c->parent[0] != MC_ROOT_PARENT)
        return mc_node_fail(HERD_ECORRUPT, tr, 0, mc_elem_offset(c, tr->a_parent, 0),
                            "the root's parent is %d; XGBoost marks the root with %d",
                            (int)c->parent[0], MC_ROOT_PARENT);
    for (size_t i = 1; i < tr->n; i++) {
        int32_t p = c->parent[i];
        if (p < 0 || (size_t)p >= tr->n)
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_parent, i),
                                "parent %d is out of range (the tree has %zu nodes)", (int)p,
                                tr->n);
    }
    return HERD_OK;
}

/* owner[k]: the node that has k as a child.  Each node may have one. */
static int mc_tree_owners(mc *c, const mc_tree *tr)
{
    for (size_t i = 0; i < tr->n; i++) c->owner[i] = -1;
    for (size_t i = 0; i < tr->n; i++) {
        if (c->left[i] == -1) continue;
        int32_t kids[2] = {c->left[i], c->right[i]};
        for (int s = 0; s < 2; s++) {
            int32_t k = kids[s];
            if (c->flags[k] & MC_DELETED)
                return mc_node_fail(HERD_ECORRUPT, tr, i,
                                    mc_elem_offset(c, s ? tr->a_right : tr->a_left, i),
                                    "child %d is a deleted node (split index %d with "
                                    "default_left)", (int)k, MC_DELETED_SPLIT);
            if (c->owner[k] != -1)
                return mc_node_fail(HERD_ECORRUPT, tr, (size_t)k,
                                    mc_elem_offset(c, s ? tr->a_right : tr->a_left, i),
                                    "it has two parents, nodes %d and %zu: the tree has a cycle "
                                    "or a shared subtree", (int)c->owner[k], i);
            c->owner[k] = (int32_t)i;
        }
    }
    return HERD_OK;
}

/* Every live node but the root has an owner, and parents[] names it;
 * deleted nodes are leaves. */
static int mc_tree_parents_agree(const mc *c, const mc_tree *tr)
{
    for (size_t i = 1; i < tr->n; i++) {
        if (c->flags[i] & MC_DELETED) {
            if (c->left[i] != -1)
                return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_left, i),
                                    "it is marked deleted but has children");
            continue;
        }
        if (c->owner[i] == -1)
            return mc_node_fail(HERD_ECORRUPT, tr, i, SIZE_MAX,
                                "no node has it as a child: it is disconnected from the tree");
        if (c->parent[i] != c->owner[i])
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_parent, i),
                                "parents[] says %d but node %d has it as a child",
                                (int)c->parent[i], (int)c->owner[i]);
    }
    return HERD_OK;
}

/* Walk the tree from the root.  With one owner per node and none for the
 * root, each node is pushed at most once, so the stack never exceeds n;
 * live nodes not reached hang off a cycle of their own. */
static int mc_tree_reach(mc *c, const mc_tree *tr, size_t deleted)
{
    size_t top = 0, seen = 0;
    c->stack[top++] = 0;
    while (top > 0) {
        size_t i = (size_t)c->stack[--top];
        c->flags[i] |= MC_SEEN;
        seen++;
        if (c->left[i] == -1) continue;
        if (top + 2 > tr->n + 2) /* cannot happen after mc_tree_owners */
            return hd_error(HERD_EINTERNAL, "model: tree %zu: traversal stack overflow", tr->t);
        c->stack[top++] = c->left[i];
        c->stack[top++] = c->right[i];
    }
    if (seen == tr->n - deleted) return HERD_OK;
    for (size_t i = 1; i < tr->n; i++)
        if (!(c->flags[i] & (MC_SEEN | MC_DELETED)))
            return mc_node_fail(HERD_ECORRUPT, tr, i, SIZE_MAX,
                                "it is not reachable from the root: its ancestors form a cycle");
    return hd_error(HERD_EINTERNAL, "model: tree %zu: %zu of %zu nodes reached", tr->t, seen,
                    tr->n);
}

/* Split features, finite values, and the deleted-node count. */
static int mc_tree_values(const mc *c, const mc_tree *tr, size_t deleted)
{
    for (size_t i = 0; i < tr->n; i++) {
        int leaf = c->left[i] == -1;
        if (!leaf && (size_t)c->split[i] >= tr->num_feature)
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_split, i),
                                "split feature %d is out of range (the tree has %zu features)",
                                (int)c->split[i], tr->num_feature);
        if (!isfinite(c->cond[i]))
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_cond, i),
                                "%s is %s", leaf ? "leaf value" : "split condition",
                                HD_NUMF("%g", (double)c->cond[i]));
        if (!isfinite(c->weight[i]))
            return mc_node_fail(HERD_ECORRUPT, tr, i, mc_elem_offset(c, tr->a_weight, i),
                                "base weight is %s", HD_NUMF("%g", (double)c->weight[i]));
    }
    if (deleted != tr->num_deleted)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, tr->obj),
                       "%stree_param.num_deleted is %zu but %zu nodes are marked deleted",
                       tr->prefix, tr->num_deleted, deleted);
    return HERD_OK;
}

static int mc_check_tree(mc *c, size_t t, size_t obj, size_t num_trees, uint32_t *owner_of)
{
    mc_tree tr;
    memset(&tr, 0, sizeof tr);
    tr.t = t;
    tr.obj = obj;
    mc_tree_prefix(tr.prefix, t);
    if (hd_jdoc_type(c->doc, obj) != HD_J_OBJECT)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, obj), "tree %zu is %s, not an object",
                       t, hd_jtype_name(hd_jdoc_type(c->doc, obj)));
    size_t deleted;
    int rc;
    if ((rc = mc_tree_id(c, &tr, num_trees, owner_of)) || (rc = mc_tree_param(c, &tr)) ||
        (rc = mc_tree_read(c, &tr)) || (rc = mc_tree_categorical(c, &tr)) ||
        (rc = mc_tree_children(c, &tr)))
        return rc;
    deleted = mc_mark_deleted(c, &tr);
    if ((rc = mc_tree_parent_range(c, &tr)) || (rc = mc_tree_owners(c, &tr)) ||
        (rc = mc_tree_parents_agree(c, &tr)) || (rc = mc_tree_reach(c, &tr, deleted)) ||
        (rc = mc_tree_values(c, &tr, deleted)))
        return rc;
    c->info->total_nodes += tr.n;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * The booster
 * --------------------------------------------------------------------- */

/* tree_info: one output group per tree, each below num_groups (XGBoost
 * adds a tree's output at row * num_groups + tree_info[t]). */
static int mc_tree_info(const mc *c, size_t model, const char *prefix, size_t num_trees)
{
    size_t ti;
    int rc = mc_member(c, model, prefix, "tree_info", HD_J_ARRAY, 0, &ti);
    if (rc) return rc;
    if (hd_jdoc_count(c->doc, ti) != num_trees)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, ti),
                       "%stree_info has %zu entries but the model has %zu trees", prefix,
                       hd_jdoc_count(c->doc, ti), num_trees);
    hd_jiter it;
    hd_jnum v;
    hd_jiter_init(&it, c->doc, ti);
    for (size_t i = 0; hd_jiter_next(&it, &v); i++) {
        if (!mc_int_in(&v, 0, (int64_t)c->num_groups - 1)) {
            char num[40];
            return mc_fail(HERD_ECORRUPT, v.offset,
                           "%stree_info[%zu] is %s; the model has %zu output group%s", prefix,
                           i, mc_num_str(&v, num, sizeof num), c->num_groups,
                           c->num_groups == 1 ? "" : "s");
        }
    }
    return HERD_OK;
}

/* gbtree_model_param: num_trees (returned) and num_parallel_tree. */
static int mc_gbtree_param(const mc *c, size_t model, const char *prefix, size_t *num_trees)
{
    size_t p;
    char pp[128]; /* prefix (at most 95 bytes) + "gbtree_model_param." */
    int rc = mc_member(c, model, prefix, "gbtree_model_param", HD_J_OBJECT, 0, &p);
    if (rc) return rc;
    snprintf(pp, sizeof pp, "%sgbtree_model_param.", prefix);
    uint64_t n = 0, parallel = 1, leaf_vector = 0;
    if ((rc = mc_param_uint(c, p, pp, "num_trees", 0, &n)) ||
        (rc = mc_param_uint(c, p, pp, "num_parallel_tree", 1, &parallel)) ||
        (rc = mc_param_uint(c, p, pp, "size_leaf_vector", 1, &leaf_vector)))
        return rc;
    size_t at = hd_jdoc_offset(c->doc, p);
    /* XGBoost 1.7 loads it and then refuses every prediction */
    if (leaf_vector != 0)
        return mc_fail(HERD_EFORMAT, at, "%ssize_leaf_vector is %llu: XGBoost 1.7 predicts only "
                       "with 0 (no leaf vectors)", pp, (unsigned long long)leaf_vector);
    if (n > HD_MODEL_MAX_TREES)
        return mc_fail(HERD_ELIMIT, at, "%snum_trees is %llu; herd's limit is %u trees", pp,
                       (unsigned long long)n, HD_MODEL_MAX_TREES);
    /* XGBoost divides by num_parallel_tree * num_groups (an int) */
    if (parallel == 0) return mc_fail(HERD_ECORRUPT, at, "%snum_parallel_tree is 0", pp);
    if (parallel > HD_MODEL_MAX_TREES / c->num_groups)
        return mc_fail(HERD_ELIMIT, at, "%snum_parallel_tree is %llu; with %zu output groups "
                       "herd's limit is %zu", pp, (unsigned long long)parallel, c->num_groups,
                       (size_t)(HD_MODEL_MAX_TREES / c->num_groups));
    *num_trees = (size_t)n;
    return HERD_OK;
}

/* A gbtree's "model": parameters, trees, tree_info. */
static int mc_gbtree(mc *c, size_t gbtree, const char *prefix)
{
    size_t model, trees, num_trees = 0;
    char mp[96];
    int rc = mc_member(c, gbtree, prefix, "model", HD_J_OBJECT, 0, &model);
    if (rc) return rc;
    snprintf(mp, sizeof mp, "%smodel.", prefix);
    if ((rc = mc_gbtree_param(c, model, mp, &num_trees)) ||
        (rc = mc_generic_array(c, model, mp, "trees", 0, &trees)))
        return rc;
    if (hd_jdoc_count(c->doc, trees) != num_trees)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, trees),
                       "%sgbtree_model_param.num_trees is %zu but trees has %zu entries", mp,
                       num_trees, hd_jdoc_count(c->doc, trees));
    if ((rc = mc_tree_info(c, model, mp, num_trees))) return rc;
    uint32_t *owner_of = hd_calloc(num_trees, sizeof *owner_of);
    if (!owner_of) return HERD_ENOMEM;
    size_t t = 0;
    for (size_t v = hd_jdoc_first(c->doc, trees); !rc && v != HD_JNONE;
         v = hd_jdoc_next(c->doc, trees, v))
        rc = mc_check_tree(c, t++, v, num_trees, owner_of);
    free(owner_of);
    c->info->num_trees = num_trees;
    return rc;
}

/* DART: one finite weight per tree, which prediction reads per tree. */
static int mc_dart_weights(const mc *c, size_t gb)
{
    size_t w;
    int rc = mc_member(c, gb, "learner.gradient_booster.", "weight_drop", HD_J_ARRAY, 0, &w);
    if (rc) return rc;
    if (hd_jdoc_count(c->doc, w) != c->info->num_trees)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, w),
                       "learner.gradient_booster.weight_drop has %zu entries but the model has "
                       "%zu trees", hd_jdoc_count(c->doc, w), c->info->num_trees);
    hd_jiter it;
    hd_jnum v;
    hd_jiter_init(&it, c->doc, w);
    for (size_t i = 0; hd_jiter_next(&it, &v); i++) {
        if ((v.type != HD_J_INT && v.type != HD_J_FLOAT) || !isfinite(v.f)) {
            char num[40];
            return mc_fail(HERD_ECORRUPT, v.offset,
                           "learner.gradient_booster.weight_drop[%zu] is %s, not a finite "
                           "number", i, mc_num_str(&v, num, sizeof num));
        }
    }
    return HERD_OK;
}

static int mc_booster(mc *c, size_t learner)
{
    size_t gb, name;
    int rc = mc_member(c, learner, "learner.", "gradient_booster", HD_J_OBJECT, 0, &gb);
    if (!rc) rc = mc_member(c, gb, "learner.gradient_booster.", "name", HD_J_STRING, 0, &name);
    if (rc) return rc;
    if (mc_string_is(c, name, "gbtree")) {
        strcpy(c->info->booster, "gbtree");
        return mc_gbtree(c, gb, "learner.gradient_booster.");
    }
    if (mc_string_is(c, name, "dart")) {
        size_t inner, inner_name;
        strcpy(c->info->booster, "dart");
        if ((rc = mc_member(c, gb, "learner.gradient_booster.", "gbtree", HD_J_OBJECT, 0,
                            &inner)) ||
            (rc = mc_member(c, inner, "learner.gradient_booster.gbtree.", "name", HD_J_STRING, 0,
                            &inner_name)))
            return rc;
        if (!mc_string_is(c, inner_name, "gbtree"))
            return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, inner_name),
                           "learner.gradient_booster.gbtree.name is not \"gbtree\"");
        if ((rc = mc_gbtree(c, inner, "learner.gradient_booster.gbtree."))) return rc;
        return mc_dart_weights(c, gb);
    }
    size_t len;
    char q[96];
    const char *s = hd_jdoc_string(c->doc, name, &len);
    hd_quote(s, len, q, sizeof q);
    if (mc_string_is(c, name, "gblinear"))
        return mc_fail(HERD_EFORMAT, hd_jdoc_offset(c->doc, name),
                       "the booster is \"gblinear\"; herd reads tree models (gbtree, dart)");
    return mc_fail(HERD_EFORMAT, hd_jdoc_offset(c->doc, name),
                   "unknown booster %s; herd reads tree models (gbtree, dart)", q);
}

/* ------------------------------------------------------------------------
 * The learner
 * --------------------------------------------------------------------- */

/* version: [major, minor, patch]; herd reads what XGBoost 1.x wrote. */
static int mc_version(const mc *c, size_t root)
{
    size_t v;
    int rc = mc_member(c, root, "", "version", HD_J_ARRAY, 0, &v);
    if (rc) return rc;
    int64_t part[3] = {0, 0, 0};
    hd_jiter it;
    hd_jnum num;
    size_t k = 0;
    hd_jiter_init(&it, c->doc, v);
    while (hd_jiter_next(&it, &num) && k < 3) {
        if (!mc_int_in(&num, 0, INT32_MAX)) break;
        part[k++] = num.i;
    }
    if (k != 3 || hd_jdoc_count(c->doc, v) != 3)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v),
                       "version is not three non-negative integers");
    if (part[0] != 1)
        return mc_fail(HERD_EFORMAT, hd_jdoc_offset(c->doc, v),
                       "the model was saved by XGBoost %lld.%lld.%lld; herd reads models saved "
                       "by XGBoost 1.x", (long long)part[0], (long long)part[1],
                       (long long)part[2]);
    return HERD_OK;
}

/* learner_model_param: num_feature, num_class, num_target, base_score. */
static int mc_learner_param(mc *c, size_t learner)
{
    const char *pp = "learner.learner_model_param.";
    size_t p;
    uint64_t nf = 0, nc = 0, nt = 1;
    double base;
    int rc = mc_member(c, learner, "learner.", "learner_model_param", HD_J_OBJECT, 0, &p);
    if (rc || (rc = mc_param_uint(c, p, pp, "num_feature", 0, &nf)) ||
        (rc = mc_param_uint(c, p, pp, "num_class", 0, &nc)) ||
        (rc = mc_param_uint(c, p, pp, "num_target", 1, &nt)) ||
        (rc = mc_param_float(c, p, pp, "base_score", 0, &base)))
        return rc;
    size_t at = hd_jdoc_offset(c->doc, p);
    if (nf == 0)
        return mc_fail(HERD_ECORRUPT, at, "%snum_feature is 0: a model needs a feature", pp);
    if (nf > HERD_ARTIFACT_MAX_FEATURES)
        return mc_fail(HERD_ELIMIT, at, "%snum_feature is %llu; herd's limit is %u features", pp,
                       (unsigned long long)nf, HERD_ARTIFACT_MAX_FEATURES);
    if (nc > MC_MAX_GROUPS || nt > MC_MAX_GROUPS)
        return mc_fail(HERD_ELIMIT, at, "%snum_class is %llu and num_target %llu; herd's limit "
                       "is %u outputs per row", pp, (unsigned long long)nc,
                       (unsigned long long)nt, MC_MAX_GROUPS);
    if (nt == 0) return mc_fail(HERD_ECORRUPT, at, "%snum_target is 0", pp);
    c->info->num_feature = (size_t)nf;
    c->base_score = base;
    c->base_at = hd_jdoc_offset(c->doc, hd_jdoc_member(c->doc, p, "base_score"));
    /* num_class 1 means one output, as 0 does */
    c->info->num_class = nc >= 2 ? (size_t)nc : 0;
    c->num_groups = (size_t)(nc > nt ? nc : nt);
    if (c->num_groups == 0) c->num_groups = 1;
    return HERD_OK;
}

/* Every member of `obj` a string: XGBoost 1.7 reads attributes and
 * objective parameters as strings and refuses to load anything else. */
static int mc_string_members(const mc *c, size_t obj, const char *prefix)
{
    for (size_t e = hd_jdoc_first(c->doc, obj); e != HD_JNONE; e = hd_jdoc_next(c->doc, obj, e)) {
        if (hd_jdoc_type(c->doc, e) == HD_J_STRING) continue;
        size_t len;
        const char *k = hd_jdoc_key(c->doc, e, &len);
        char q[96];
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, e),
                       "%s%s is %s, not a string (XGBoost 1.7 does not load it)", prefix,
                       hd_quote(k, len, q, sizeof q), hd_jtype_name(hd_jdoc_type(c->doc, e)));
    }
    return HERD_OK;
}

/* learner.attributes: XGBoost 1.7 requires it at load, strings only. */
static int mc_attributes(const mc *c, size_t learner)
{
    size_t a;
    int rc = mc_member(c, learner, "learner.", "attributes", HD_J_OBJECT, 0, &a);
    return rc ? rc : mc_string_members(c, a, "learner.attributes.");
}

/* The range of base_score an objective's link allows (its ProbToMargin). */
typedef enum {
    MC_BASE_ANY,      /* identity link */
    MC_BASE_PROB,     /* logit: (0, 1), or XGBoost refuses every prediction */
    MC_BASE_POSITIVE, /* log: > 0, or every prediction is 0 or NaN */
} mc_base_rule;

/* A parameter of an objective's parameter object: its type as XGBoost's
 * parameter parser reads it. */
typedef enum { MC_P_FLOAT, MC_P_UINT, MC_P_AFT_DIST } mc_param_kind;

typedef struct mc_param_rule {
    const char *name;
    mc_param_kind kind;
} mc_param_rule;

/* What XGBoost 1.7's ObjFunction::LoadConfig reads of each objective it
 * knows: the parameter object (NULL: none; optional: its absence loads),
 * the parameters in it that herd checks, and the base_score rule. */
typedef struct mc_objective_rule {
    const char *name;
    const char *param;
    int optional;
    const mc_param_rule *params; /* {NULL}-terminated */
    mc_base_rule base;
} mc_objective_rule;

static const mc_param_rule mc_reg_loss[] = {{"scale_pos_weight", MC_P_FLOAT}, {NULL, 0}};
static const mc_param_rule mc_huber[] = {{"huber_slope", MC_P_FLOAT}, {NULL, 0}};
static const mc_param_rule mc_poisson[] = {{"max_delta_step", MC_P_FLOAT}, {NULL, 0}};
static const mc_param_rule mc_tweedie[] = {{"tweedie_variance_power", MC_P_FLOAT}, {NULL, 0}};
static const mc_param_rule mc_softmax[] = {{"num_class", MC_P_UINT}, {NULL, 0}};
static const mc_param_rule mc_rank[] = {
    {"num_pairsample", MC_P_UINT}, {"fix_list_weight", MC_P_FLOAT}, {NULL, 0}};
static const mc_param_rule mc_aft[] = {{"aft_loss_distribution", MC_P_AFT_DIST},
                                       {"aft_loss_distribution_scale", MC_P_FLOAT},
                                       {NULL, 0}};
static const mc_param_rule mc_none[] = {{NULL, 0}};

static const mc_objective_rule mc_objectives[] = {
    {"reg:squarederror", "reg_loss_param", 0, mc_reg_loss, MC_BASE_ANY},
    {"reg:squaredlogerror", "reg_loss_param", 0, mc_reg_loss, MC_BASE_ANY},
    {"reg:linear", "reg_loss_param", 0, mc_reg_loss, MC_BASE_ANY},
    {"reg:logistic", "reg_loss_param", 0, mc_reg_loss, MC_BASE_PROB},
    {"binary:logistic", "reg_loss_param", 0, mc_reg_loss, MC_BASE_PROB},
    {"binary:logitraw", "reg_loss_param", 0, mc_reg_loss, MC_BASE_ANY},
    {"reg:pseudohubererror", "pseudo_huber_param", 1, mc_huber, MC_BASE_ANY},
    {"reg:absoluteerror", NULL, 0, mc_none, MC_BASE_ANY},
    {"binary:hinge", NULL, 0, mc_none, MC_BASE_ANY},
    {"count:poisson", "poisson_regression_param", 0, mc_poisson, MC_BASE_POSITIVE},
    {"reg:gamma", NULL, 0, mc_none, MC_BASE_POSITIVE},
    {"reg:tweedie", "tweedie_regression_param", 0, mc_tweedie, MC_BASE_POSITIVE},
    {"survival:cox", NULL, 0, mc_none, MC_BASE_POSITIVE},
    {"survival:aft", "aft_loss_param", 0, mc_aft, MC_BASE_POSITIVE},
    {"multi:softmax", "softmax_multiclass_param", 0, mc_softmax, MC_BASE_ANY},
    {"multi:softprob", "softmax_multiclass_param", 0, mc_softmax, MC_BASE_ANY},
    {"rank:pairwise", "lambda_rank_param", 0, mc_rank, MC_BASE_ANY},
    {"rank:ndcg", "lambda_rank_param", 0, mc_rank, MC_BASE_ANY},
    {"rank:map", "lambda_rank_param", 0, mc_rank, MC_BASE_ANY},
};

/* One checked parameter of an objective's parameter object, if present. */
static int mc_objective_param(const mc *c, size_t obj, const char *prefix,
                              const mc_param_rule *r)
{
    if (r->kind == MC_P_UINT) {
        uint64_t u;
        return mc_param_uint(c, obj, prefix, r->name, 1, &u);
    }
    if (r->kind == MC_P_FLOAT) {
        double d;
        return mc_param_float(c, obj, prefix, r->name, 1, &d);
    }
    size_t v = hd_jdoc_member(c->doc, obj, r->name); /* a string: mc_string_members */
    if (v == HD_JNONE || mc_string_is(c, v, "normal") || mc_string_is(c, v, "logistic") ||
        mc_string_is(c, v, "extreme"))
        return HERD_OK;
    size_t len;
    const char *s = hd_jdoc_string(c->doc, v, &len);
    char q[96];
    return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v),
                   "%s%s is %s; XGBoost 1.7 knows normal, logistic and extreme", prefix,
                   r->name, hd_quote(s, len, q, sizeof q));
}

/* base_score in the range of the objective's link. */
static int mc_base_score(const mc *c, const mc_objective_rule *o)
{
    float b = (float)c->base_score; /* what XGBoost holds and checks */
    const char *pp = "learner.learner_model_param.base_score";
    if (o->base == MC_BASE_PROB && !(b > 0.0f && b < 1.0f))
        return mc_fail(HERD_ECORRUPT, c->base_at,
                       "%s is %.9g (as a float) but objective %s needs it in (0, 1): XGBoost "
                       "1.7 loads the model and refuses every prediction", pp, (double)b,
                       o->name);
    if (o->base == MC_BASE_POSITIVE && !(b > 0.0f))
        return mc_fail(HERD_ECORRUPT, c->base_at,
                       "%s is %.9g (as a float) but objective %s needs it above 0: its log link "
                       "makes every prediction of XGBoost 1.7 0 or NaN", pp, (double)b, o->name);
    return HERD_OK;
}

/* objective: a name XGBoost 1.7 knows, the parameter object its
 * LoadConfig reads (XGBoost refuses to load without it), strings only,
 * the parameters herd knows well-formed, base_score in the link's range;
 * and for softmax objectives their own num_class, which must be the
 * learner's: prediction reshapes by it. */
static int mc_objective(const mc *c, size_t learner)
{
    size_t obj, name;
    int rc = mc_member(c, learner, "learner.", "objective", HD_J_OBJECT, 0, &obj);
    if (!rc) rc = mc_member(c, obj, "learner.objective.", "name", HD_J_STRING, 0, &name);
    if (rc) return rc;
    size_t len;
    const char *s = hd_jdoc_string(c->doc, name, &len);
    const mc_objective_rule *o = NULL;
    for (size_t i = 0; !o && i < sizeof mc_objectives / sizeof *mc_objectives; i++)
        if (mc_string_is(c, name, mc_objectives[i].name)) o = &mc_objectives[i];
    if (!o) {
        char q[96];
        return mc_fail(HERD_EFORMAT, hd_jdoc_offset(c->doc, name),
                       "learner.objective.name %s is not an objective XGBoost 1.7 knows (it "
                       "would not load the model)", hd_quote(s, len, q, sizeof q));
    }
    memcpy(c->info->objective, s, len); /* a name of the table: it fits */
    c->info->objective[len] = '\0';
    if (o->param) {
        char pp[96];
        size_t p;
        snprintf(pp, sizeof pp, "learner.objective.%s.", o->param);
        if ((rc = mc_member(c, obj, "learner.objective.", o->param, HD_J_OBJECT, o->optional,
                            &p)))
            return rc;
        if (p != HD_JNONE && (rc = mc_string_members(c, p, pp))) return rc;
        for (const mc_param_rule *r = o->params; p != HD_JNONE && r->name; r++)
            if ((rc = mc_objective_param(c, p, pp, r))) return rc;
        if (p != HD_JNONE && !strncmp(o->name, "multi:", 6)) {
            uint64_t k = 0;
            if ((rc = mc_param_uint(c, p, pp, "num_class", 0, &k))) return rc;
            if (k != c->info->num_class)
                return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, p),
                               "%snum_class is %llu but learner_model_param.num_class is %zu", pp,
                               (unsigned long long)k, c->info->num_class);
        }
    }
    return mc_base_score(c, o);
}

/* feature_names / feature_types: absent, empty, or one string per feature. */
static int mc_feature_list(const mc *c, size_t learner, const char *key)
{
    size_t v;
    int rc = mc_generic_array(c, learner, "learner.", key, 1, &v);
    if (rc || v == HD_JNONE) return rc;
    size_t n = hd_jdoc_count(c->doc, v);
    if (n != 0 && n != c->info->num_feature)
        return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, v),
                       "learner.%s has %zu entries but num_feature is %zu", key, n,
                       c->info->num_feature);
    size_t i = 0;
    for (size_t e = hd_jdoc_first(c->doc, v); e != HD_JNONE; e = hd_jdoc_next(c->doc, v, e), i++)
        if (hd_jdoc_type(c->doc, e) != HD_J_STRING)
            return mc_fail(HERD_ECORRUPT, hd_jdoc_offset(c->doc, e),
                           "learner.%s[%zu] is %s, not a string", key, i,
                           hd_jtype_name(hd_jdoc_type(c->doc, e)));
    return HERD_OK;
}

/* Copies of the n strings of array v (NUL-terminated), for messages and
 * comparisons; NULL with HERD_ENOMEM recorded. */
static char **mc_strings(const mc *c, size_t v, size_t n)
{
    char **out = hd_calloc(n ? n : 1, sizeof *out);
    if (!out) return NULL;
    size_t i = 0;
    for (size_t e = hd_jdoc_first(c->doc, v); e != HD_JNONE && i < n;
         e = hd_jdoc_next(c->doc, v, e), i++) {
        size_t len;
        const char *s = hd_jdoc_string(c->doc, e, &len);
        if (!(out[i] = hd_strndup(s, len))) {
            for (size_t k = 0; k < i; k++) free(out[k]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void mc_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* The model's own feature list against c->want (checked by
 * mc_feature_list: each list is absent, empty, or num_feature strings). */
static int mc_features_agree(const mc *c, size_t learner)
{
    const hd_model_features *w = c->want;
    size_t vn = hd_jdoc_member(c->doc, learner, "feature_names");
    size_t vt = hd_jdoc_member(c->doc, learner, "feature_types");
    size_t n = c->info->num_feature;
    int has_names = vn != HD_JNONE && hd_jdoc_count(c->doc, vn) > 0;
    int has_types = vt != HD_JNONE && hd_jdoc_count(c->doc, vt) > 0;
    char a[400];
    if (w->n != n)
        return hd_error(HERD_EFORMAT,
                        "%s lists %zu features but the model has %zu "
                        "(learner_model_param.num_feature)",
                        w->what, w->n, n);
    if (w->required && (!has_names || !has_types))
        return hd_error(HERD_EFORMAT,
                        "%s lists the features [%s] but the model names no feature %s "
                        "(learner.feature_%s is empty); a model must carry its features",
                        w->what, hd_features_format(a, sizeof a, w->names, w->types, w->n),
                        has_names ? "types" : "names", has_names ? "types" : "names");
    char **names = has_names ? mc_strings(c, vn, n) : NULL;
    char **types = has_types ? mc_strings(c, vt, n) : NULL;
    int rc = HERD_OK;
    if ((has_names && !names) || (has_types && !types)) {
        rc = hd_oom();
    } else {
        /* A list the model lacks agrees with the caller's (not required). */
        const char *const *mn = has_names ? (const char *const *)names : w->names;
        const char *const *mt = has_types ? (const char *const *)types : w->types;
        if (!hd_features_equal(w->names, w->types, w->n, mn, mt, n))
            rc = hd_features_disagree(w->what, w->names, w->types, w->n, "the model payload",
                                      mn, mt, n);
    }
    mc_strings_free(names, n);
    mc_strings_free(types, n);
    return rc;
}

static int mc_model(mc *c)
{
    size_t root = 0, learner;
    hd_jtype t = hd_jdoc_type(c->doc, root);
    if (t != HD_J_OBJECT)
        return mc_fail(HERD_EFORMAT, SIZE_MAX, "the document is %s, not an XGBoost model",
                       hd_jtype_name(t));
    learner = hd_jdoc_member(c->doc, root, "learner");
    if (learner == HD_JNONE || hd_jdoc_type(c->doc, learner) != HD_J_OBJECT)
        return mc_fail(HERD_EFORMAT, SIZE_MAX,
                       "the document has no \"learner\" object: it is not an XGBoost model");
    int rc;
    if ((rc = mc_version(c, root)) || (rc = mc_attributes(c, learner)) ||
        (rc = mc_learner_param(c, learner)) || (rc = mc_objective(c, learner)) ||
        (rc = mc_feature_list(c, learner, "feature_names")) ||
        (rc = mc_feature_list(c, learner, "feature_types")) ||
        (c->want && (rc = mc_features_agree(c, learner))))
        return rc;
    return mc_booster(c, learner);
}

/* How XGBoost 1.7 tells the formats apart (LearnerIO::LoadModel): '{'
 * then '"' is JSON, '{' then a letter is UBJSON, anything else not '{' is
 * its old binary format.  herd must decide exactly as XGBoost will, or it
 * would check one format while XGBoost parses another. */
static int mc_detect(const unsigned char *p, size_t len, int *json)
{
    if (len < 2)
        return hd_error(HERD_EFORMAT, "model: %zu byte%s cannot be an XGBoost model", len,
                        len == 1 ? "" : "s");
    if (p[0] != '{')
        return hd_error(HERD_EFORMAT, "model: the bytes are not an XGBoost JSON or UBJSON model "
                        "(the first byte is 0x%02X, not '{'); XGBoost's old binary format is not "
                        "accepted", p[0]);
    *json = p[1] == '"';
    if (*json || (p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z'))
        return HERD_OK;
    return hd_error(HERD_EFORMAT, "model: '{' is followed by byte 0x%02X; XGBoost reads a model "
                    "as JSON only when '{' is directly followed by '\"', and as UBJSON when it is "
                    "followed by a letter", p[1]);
}

int hd_model_check(const void *data, size_t len, hd_model_info *info)
{
    return hd_model_check_features(data, len, NULL, info);
}

int hd_model_check_features(const void *data, size_t len, const hd_model_features *want,
                            hd_model_info *info)
{
    hd_model_info scratch;
    if (!info) info = &scratch;
    memset(info, 0, sizeof *info);
    if (!data && len) return hd_error(HERD_EINVAL, "%s: argument 'data' is NULL", __func__);
    int json = 0;
    int rc = mc_detect(data, len, &json);
    if (rc) return rc;
    hd_jdoc *doc = NULL;
    rc = json ? hd_jdoc_parse_json(data, len, &doc) : hd_jdoc_parse_ubjson(data, len, &doc);
    if (rc) return hd_error_prefix("model: ");
    mc c;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    c.info = info;
    c.want = want;
    c.num_groups = 1;
    rc = mc_model(&c);
    free(c.block);
    hd_jdoc_free(doc);
    if (rc) memset(info, 0, sizeof *info);
    return rc;
}
