/* fuzz_modelcheck.c -- libFuzzer target for the model checker and the
 * UBJSON/JSON readers under it.
 *
 * Any input may be rejected; none may crash, read out of bounds, leak,
 * or pass with nonsense in hd_model_info.  The readers are also run on
 * their own, whatever the first bytes say, so that mutations reach them
 * without having to look like a model first.  The corpus is
 * tests/fuzz/corpus/modelcheck (the models of tests/data/models and small
 * edge cases). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "model/modelcheck_internal.h"
#include "model/ubjson_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_info(const hd_model_info *info)
{
    int ok = info->num_feature >= 1 && info->num_feature <= HERD_ARTIFACT_MAX_FEATURES &&
             info->num_trees <= HD_MODEL_MAX_TREES && info->num_class != 1 &&
             info->total_nodes >= info->num_trees &&
             memchr(info->objective, 0, sizeof info->objective) != NULL &&
             info->objective[0] != '\0' &&
             (strcmp(info->booster, "gbtree") == 0 || strcmp(info->booster, "dart") == 0);
    if (!ok) abort();
}

/* Visit every value of a document through the public accessors. */
static void walk(const hd_jdoc *doc)
{
    size_t stack[HD_MODEL_MAX_DEPTH_NESTING + 1][2]; /* container, current member */
    size_t depth = 0, len;
    hd_jnum num;
    size_t v = 0;
    for (;;) {
        hd_jtype t = hd_jdoc_type(doc, v);
        (void)hd_jdoc_offset(doc, v);
        (void)hd_jdoc_key(doc, v, &len);
        if (t == HD_J_STRING && !hd_jdoc_string(doc, v, &len)) abort();
        if (t == HD_J_TYPED || t == HD_J_ARRAY) {
            hd_jiter it;
            size_t n = 0;
            hd_jiter_init(&it, doc, v);
            while (hd_jiter_next(&it, &num)) n++;
            if (n != hd_jdoc_count(doc, v)) abort();
        }
        (void)hd_jdoc_number(doc, v, &num);
        size_t first = hd_jdoc_first(doc, v);
        if (first != HD_JNONE) {
            if (depth > HD_MODEL_MAX_DEPTH_NESTING) abort();
            stack[depth][0] = v;
            stack[depth][1] = first;
            depth++;
            v = first;
            continue;
        }
        /* next sibling, climbing out of finished containers */
        for (;;) {
            if (depth == 0) return;
            size_t next = hd_jdoc_next(doc, stack[depth - 1][0], stack[depth - 1][1]);
            if (next != HD_JNONE) {
                stack[depth - 1][1] = next;
                v = next;
                break;
            }
            depth--;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hd_model_info info;
    int rc = hd_model_check(data, size, &info);
    if (rc == HERD_OK) {
        check_info(&info);
    } else if (rc != HERD_EFORMAT && rc != HERD_ECORRUPT && rc != HERD_ELIMIT &&
               rc != HERD_ENOMEM) {
        abort();
    } else if (herd_last_error()[0] == '\0' || info.num_trees != 0) {
        abort();
    }
    hd_jdoc *doc = NULL;
    if (hd_jdoc_parse_ubjson(data, size, &doc) == HERD_OK) walk(doc);
    hd_jdoc_free(doc);
    doc = NULL;
    if (hd_jdoc_parse_json(data, size, &doc) == HERD_OK) walk(doc);
    hd_jdoc_free(doc);
    return 0;
}
