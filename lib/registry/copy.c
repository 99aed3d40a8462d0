/* copy.c -- herd_registry_copy: a family's models at one alias carried
 * from one registry to another (staging to production), with their tags,
 * metrics, runs and alias history, in one commit on the destination.
 *
 * Each copied version gets the idempotency key FAMILY/copy-HASH/GROUP,
 * HASH being 16 hex digits of a hash of the artifact's bytes, so that
 * copying the same model again adds nothing: a group whose destination
 * alias already points at a version with that key is left alone, and one
 * whose destination already holds the model (under another alias, or
 * before a rollback) only has its alias moved back to it.  Every alias
 * move is guarded by the destination version read before the copy
 * (expect_version), so a promotion made on the destination meanwhile
 * fails the whole copy with HERD_ECONFLICT and nothing is committed.
 *
 * The history travels in the alias move's details: {"source": {...},
 * "history": [...]}, the source's moves of the alias for that group, each
 * naming the registry it happened in.  A move that was itself a copy has
 * its own carried history spliced in place, so a chain dev -> staging ->
 * prod keeps one flat list, cut to its newest HD_COPY_HISTORY_MAX moves
 * and to the size limit of alias details (HERD_JSON_MAX). */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/json_internal.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"
#include "registry/handle_internal.h"
#include "registry/uri_internal.h"

#define HD_COPY_HISTORY_MAX 100

/* One group to copy: where it is in the source, where its alias is in the
 * destination, and what the copy does with it. */
typedef struct hd_copy_group {
    const char *group;     /* the source search frame's string */
    int64_t source_version;
    const char *run_id;    /* NULL: none */
    const char *tags;      /* JSON objects from the search frame */
    const char *metrics;
    int64_t dest_version;  /* where the destination alias points; 0: absent */
    const char *dest_idem; /* that version's idempotency key, or NULL */
    char *idem;            /* FAMILY/copy-HASH/GROUP */
    size_t item;           /* in the batch, when it adds one */
    int unchanged;         /* the destination alias already names this model */
} hd_copy_group;

typedef struct hd_copy {
    herd_registry *from, *to;
    herd_copy_options o;
    herd_frame *src;       /* search of the source: alias holders */
    herd_frame *dst;       /* search of the destination */
    herd_frame *hist;      /* the source's alias history of the family */
    herd_frame *src_runs, *dst_runs;
    hd_copy_group *g;
    size_t n;
    size_t *hist_rows;     /* history rows, grouped by group ... */
    size_t *hist_start;    /* ... group i's are hist_rows[hist_start[i] .. [i+1]) */
} hd_copy;

static void hd_copy_free(hd_copy *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->g[i].idem);
    free(c->g);
    free(c->hist_rows);
    free(c->hist_start);
    herd_frame_free(c->src);
    herd_frame_free(c->dst);
    herd_frame_free(c->hist);
    herd_frame_free(c->src_runs);
    herd_frame_free(c->dst_runs);
}

/* The string at (row, column `name`) of a frame the library built, or NULL
 * when missing. */
static const char *hd_cell_str(const herd_frame *f, const char *name, size_t row)
{
    size_t col;
    const char *s = NULL;
    if (herd_frame_find(f, name, &col) == HERD_OK) (void)herd_frame_get_string(f, col, row, &s);
    return s;
}

static int64_t hd_cell_i64(const herd_frame *f, const char *name, size_t row)
{
    size_t col;
    int64_t v = 0;
    if (herd_frame_find(f, name, &col) == HERD_OK) (void)herd_frame_get_int64(f, col, row, &v);
    return v;
}

static int hd_copy_options_check(const herd_copy_options *in, herd_copy_options *o)
{
    int rc = hd_options_read(&hd_copy_options_desc, in, o, NULL);
    if (!rc && !o->family)
        rc = hd_error(HERD_EINVAL, "opt->family is required: name the family to copy");
    if (!rc) rc = hd_id_check(o->family, "opt->family");
    if (!rc) rc = hd_id_check(o->alias, "opt->alias");
    if (!rc && !strcmp(o->alias, "latest"))
        rc = hd_error(HERD_EINVAL, "opt->alias 'latest' cannot be copied: it always names the "
                      "newest version of each registry; copy a real alias (\"champion\")");
    if (!rc && o->group_pattern) rc = hd_glob_check(o->group_pattern, "opt->group_pattern");
    if (!rc && o->reason && strlen(o->reason) > HERD_TAG_VALUE_MAX)
        rc = hd_error(HERD_EINVAL, "opt->reason is %zu bytes long; the limit is %u",
                      strlen(o->reason), HERD_TAG_VALUE_MAX);
    return rc;
}

/* Read what the copy needs from both registries: the source's holders of
 * the alias, the destination's, the source history and both run lists. */
static int hd_copy_read(hd_copy *c)
{
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.family = c->o.family;
    so.alias = c->o.alias;
    so.group_pattern = c->o.group_pattern;
    int rc = herd_registry_search(c->from, &so, &c->src);
    if (!rc && herd_frame_row_count(c->src) == 0)
        rc = hd_error(HERD_ENOTFOUND, "registry %s has no group of family '%s'%s%s with alias "
                      "'%s': nothing to copy", herd_registry_path(c->from), c->o.family,
                      c->o.group_pattern ? " matching " : "",
                      c->o.group_pattern ? c->o.group_pattern : "", c->o.alias);
    if (!rc) rc = herd_registry_search(c->to, &so, &c->dst);
    if (!rc)
        rc = herd_registry_alias_history(c->from, c->o.family, NULL, c->o.alias, &c->hist);
    if (!rc) rc = herd_registry_runs(c->from, &c->src_runs);
    if (!rc) rc = herd_registry_runs(c->to, &c->dst_runs);
    return rc;
}

/* Fill c->g from the source frame, with each group's destination version. */
static int hd_copy_plan_groups(hd_copy *c)
{
    c->n = herd_frame_row_count(c->src);
    if (!(c->g = hd_calloc(c->n, sizeof *c->g))) return HERD_ENOMEM;
    size_t nd = herd_frame_row_count(c->dst);
    const char **dkeys = hd_calloc(nd ? nd : 1, sizeof *dkeys);
    if (!dkeys) return HERD_ENOMEM;
    for (size_t r = 0; r < nd; r++) dkeys[r] = hd_cell_str(c->dst, "group", r);
    hd_key_index ix = {0};
    int rc = hd_key_index_build(&ix, dkeys, nd);
    for (size_t i = 0; !rc && i < c->n; i++) {
        hd_copy_group *g = &c->g[i];
        g->group = hd_cell_str(c->src, "group", i);
        g->source_version = hd_cell_i64(c->src, "version", i);
        g->run_id = hd_cell_str(c->src, "run_id", i);
        g->tags = hd_cell_str(c->src, "tags", i);
        g->metrics = hd_cell_str(c->src, "metrics", i);
        size_t d = hd_key_index_find(&ix, dkeys, g->group);
        if (d != (size_t)-1) {
            g->dest_version = hd_cell_i64(c->dst, "version", d);
            g->dest_idem = hd_cell_str(c->dst, "idempotency_key", d);
        }
    }
    hd_key_index_free(&ix);
    free(dkeys);
    return rc;
}

/* Group the history rows by group, keeping their order (oldest first). */
static int hd_copy_index_history(hd_copy *c)
{
    size_t nh = herd_frame_row_count(c->hist);
    const char **keys = hd_calloc(c->n, sizeof *keys);
    size_t *of_row = hd_calloc(nh ? nh : 1, sizeof *of_row);
    c->hist_rows = hd_calloc(nh ? nh : 1, sizeof *c->hist_rows);
    c->hist_start = hd_calloc(c->n + 1, sizeof *c->hist_start);
    if (!keys || !of_row || !c->hist_rows || !c->hist_start) {
        free(keys);
        free(of_row);
        return HERD_ENOMEM;
    }
    for (size_t i = 0; i < c->n; i++) keys[i] = c->g[i].group;
    hd_key_index ix = {0};
    int rc = hd_key_index_build(&ix, keys, c->n);
    if (!rc) {
        /* Counting sort: rows of groups not copied get (size_t)-1. */
        for (size_t r = 0; r < nh; r++) {
            of_row[r] = hd_key_index_find(&ix, keys, hd_cell_str(c->hist, "group", r));
            if (of_row[r] != (size_t)-1) c->hist_start[of_row[r] + 1]++;
        }
        for (size_t i = 0; i < c->n; i++) c->hist_start[i + 1] += c->hist_start[i];
        size_t *fill = hd_calloc(c->n ? c->n : 1, sizeof *fill);
        if (!fill) rc = HERD_ENOMEM;
        for (size_t r = 0; !rc && r < nh; r++)
            if (of_row[r] != (size_t)-1)
                c->hist_rows[c->hist_start[of_row[r]] + fill[of_row[r]]++] = r;
        free(fill);
    }
    hd_key_index_free(&ix);
    free(keys);
    free(of_row);
    return rc;
}

/* The idempotency key of group i: FAMILY/copy-HASH/GROUP. */
static int hd_copy_key(hd_copy *c, hd_copy_group *g, const void *bytes, size_t len)
{
    uint64_t h = hd_hash_bytes(bytes, len, 0x68657264u);
    size_t n = strlen(c->o.family) + strlen(g->group) + 32;
    if (!(g->idem = hd_malloc(n, 1))) return HERD_ENOMEM;
    snprintf(g->idem, n, "%s/copy-%016" PRIx64 "/%s", c->o.family, h, g->group);
    return HERD_OK;
}

/* Whether the destination alias already points at a version with the key. */
static int hd_copy_is_there(const hd_copy_group *g)
{
    return g->dest_version && g->dest_idem && !strcmp(g->dest_idem, g->idem);
}

/* --- the carried history ------------------------------------------------- */

static cJSON *hd_json_or_null(const char *text)
{
    if (!text) return NULL;
    hd_json_limits lim = {.max_depth = 64, .max_values = 100000};
    cJSON *j = NULL;
    if (hd_json_parse(text, strlen(text), "alias details", &lim, &j) != HERD_OK) {
        herd_clear_error();
        return NULL;
    }
    return j;
}

static int hd_add_str(cJSON *o, const char *name, const char *value)
{
    return value ? cJSON_AddStringToObject(o, name, value) != NULL : 1;
}

/* Append the source's moves of one group to `history`: each a JSON object
 * naming the source registry; a copy's carried moves spliced in first. */
static int hd_copy_history_entries(const hd_copy *c, size_t i, cJSON *history)
{
    const char *path = herd_registry_path(c->from);
    for (size_t k = c->hist_start[i]; k < c->hist_start[i + 1]; k++) {
        size_t r = c->hist_rows[k];
        cJSON *details = hd_json_or_null(hd_cell_str(c->hist, "details", r));
        cJSON *carried = details ? cJSON_DetachItemFromObject(details, "history") : NULL;
        if (cJSON_IsArray(carried)) {
            cJSON *e;
            while ((e = cJSON_DetachItemFromArray(carried, 0))) cJSON_AddItemToArray(history, e);
        }
        cJSON_Delete(carried);
        cJSON *e = cJSON_CreateObject();
        int ok = e && hd_add_str(e, "registry", path) &&
                 hd_add_str(e, "time", hd_cell_str(c->hist, "time", r)) &&
                 cJSON_AddNumberToObject(e, "from_version",
                                         (double)hd_cell_i64(c->hist, "from_version", r)) &&
                 cJSON_AddNumberToObject(e, "to_version",
                                         (double)hd_cell_i64(c->hist, "to_version", r)) &&
                 hd_add_str(e, "reason", hd_cell_str(c->hist, "reason", r)) &&
                 hd_add_str(e, "run_id", hd_cell_str(c->hist, "run_id", r));
        if (ok && details) {
            cJSON_AddItemToObject(e, "details", details);
            details = NULL;
        }
        cJSON_Delete(details);
        if (!ok) {
            cJSON_Delete(e);
            return HERD_ENOMEM;
        }
        cJSON_AddItemToArray(history, e);
    }
    while (cJSON_GetArraySize(history) > HD_COPY_HISTORY_MAX)
        cJSON_DeleteItemFromArray(history, 0);
    return HERD_OK;
}

/* The details of group i's alias move in the destination, as JSON text
 * (freed with free()). */
static int hd_copy_details(const hd_copy *c, size_t i, char **out)
{
    *out = NULL;
    const hd_copy_group *g = &c->g[i];
    cJSON *root = cJSON_CreateObject();
    cJSON *src = root ? cJSON_AddObjectToObject(root, "source") : NULL;
    cJSON *history = root ? cJSON_AddArrayToObject(root, "history") : NULL;
    int ok = src && history && hd_add_str(src, "registry", herd_registry_path(c->from)) &&
             hd_add_str(src, "family", c->o.family) && hd_add_str(src, "group", g->group) &&
             hd_add_str(src, "alias", c->o.alias) &&
             cJSON_AddNumberToObject(src, "version", (double)g->source_version);
    int rc = ok ? hd_copy_history_entries(c, i, history) : HERD_ENOMEM;
    char *text = NULL;
    while (!rc) {
        free(text);
        if (!(text = cJSON_PrintUnformatted(root))) {
            rc = HERD_ENOMEM;
            break;
        }
        if (strlen(text) <= HERD_JSON_MAX || cJSON_GetArraySize(history) == 0) break;
        cJSON_DeleteItemFromArray(history, 0); /* the oldest goes first */
    }
    cJSON_Delete(root);
    if (rc) {
        free(text);
        return rc == HERD_ENOMEM ? hd_oom() : rc;
    }
    *out = text;
    return HERD_OK;
}

/* --- the batch ------------------------------------------------------------ */

/* Tags and metrics of the source version, as version options.  Arrays are
 * kept in `keep` (freed by the caller with cJSON_Delete). */
typedef struct hd_copy_meta {
    cJSON *tags, *metrics;
    const char **tag_names, **tag_values, **metric_names;
    double *metric_values;
} hd_copy_meta;

static void hd_copy_meta_free(hd_copy_meta *m)
{
    cJSON_Delete(m->tags);
    cJSON_Delete(m->metrics);
    free(m->tag_names);
    free(m->tag_values);
    free(m->metric_names);
    free(m->metric_values);
    memset(m, 0, sizeof *m);
}

static int hd_copy_meta_fill(const hd_copy_group *g, hd_copy_meta *m, herd_version_options *vo)
{
    m->tags = hd_json_or_null(g->tags);
    m->metrics = hd_json_or_null(g->metrics);
    size_t nt = (size_t)cJSON_GetArraySize(m->tags), nm = (size_t)cJSON_GetArraySize(m->metrics);
    m->tag_names = hd_calloc(nt + 1, sizeof *m->tag_names);
    m->tag_values = hd_calloc(nt + 1, sizeof *m->tag_values);
    m->metric_names = hd_calloc(nm + 1, sizeof *m->metric_names);
    m->metric_values = hd_calloc(nm + 1, sizeof *m->metric_values);
    if (!m->tag_names || !m->tag_values || !m->metric_names || !m->metric_values)
        return HERD_ENOMEM;
    const cJSON *e;
    cJSON_ArrayForEach(e, m->tags)
        if (cJSON_IsString(e)) {
            m->tag_names[vo->n_tags] = e->string;
            m->tag_values[vo->n_tags++] = e->valuestring;
        }
    cJSON_ArrayForEach(e, m->metrics)
        if (cJSON_IsNumber(e)) {
            m->metric_names[vo->n_metrics] = e->string;
            m->metric_values[vo->n_metrics++] = e->valuedouble;
        }
    vo->tag_names = m->tag_names;
    vo->tag_values = m->tag_values;
    vo->metric_names = m->metric_names;
    vo->metric_values = m->metric_values;
    return HERD_OK;
}

/* Add group i's model to the batch, with its alias move. */
static int hd_copy_add(hd_copy *c, herd_batch *b, size_t i, const herd_artifact *art)
{
    hd_copy_group *g = &c->g[i];
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = c->o.family;
    vo.group = g->group;
    vo.run_id = g->run_id;
    vo.idempotency_key = g->idem;
    hd_copy_meta m = {0};
    int rc = hd_copy_meta_fill(g, &m, &vo);
    if (!rc) rc = herd_batch_add(b, art, &vo, &g->item);
    hd_copy_meta_free(&m);
    char *details = NULL;
    if (!rc) rc = hd_copy_details(c, i, &details);
    if (rc) return rc;
    char reason[160];
    if (!c->o.reason)
        snprintf(reason, sizeof reason, "copied from version %" PRId64 " of another registry",
                 g->source_version);
    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.reason = c->o.reason ? c->o.reason : reason;
    ao.details = details;
    ao.run_id = g->run_id;
    ao.expect_version = g->dest_version;
    rc = hd_batch_alias_item(b, g->item, c->o.alias, &ao);
    free(details);
    return rc;
}

/* Record in the batch the runs of the copied versions that the
 * destination does not have yet: their params are the lineage. */
static int hd_copy_runs(const hd_copy *c, herd_batch *b)
{
    size_t ns = herd_frame_row_count(c->src_runs), nd = herd_frame_row_count(c->dst_runs);
    for (size_t r = 0; r < ns; r++) {
        const char *id = hd_cell_str(c->src_runs, "run_id", r);
        int used = 0, present = 0;
        for (size_t i = 0; !used && i < c->n; i++)
            used = !c->g[i].unchanged && c->g[i].run_id && !strcmp(c->g[i].run_id, id);
        for (size_t d = 0; used && !present && d < nd; d++)
            present = !strcmp(hd_cell_str(c->dst_runs, "run_id", d), id);
        if (!used || present) continue;
        int rc = herd_batch_set_run(b, id, hd_cell_str(c->src_runs, "params", r),
                                    hd_cell_str(c->src_runs, "summary", r));
        if (rc) return rc;
    }
    return HERD_OK;
}

/* Load each group's model, decide what to do with it, and add it. */
static int hd_copy_fill_batch(hd_copy *c, herd_batch *b, size_t *n_added)
{
    *n_added = 0;
    int rc = HERD_OK;
    for (size_t i = 0; !rc && i < c->n; i++) {
        hd_copy_group *g = &c->g[i];
        herd_artifact *art = NULL;
        void *bytes = NULL;
        size_t len = 0;
        rc = herd_registry_load(c->from, c->o.family, g->group, g->source_version, &art);
        if (!rc) rc = herd_artifact_to_buffer(art, &bytes, &len);
        if (!rc) rc = hd_copy_key(c, g, bytes, len);
        herd_free(bytes);
        if (!rc && !(g->unchanged = hd_copy_is_there(g))) {
            rc = hd_copy_add(c, b, i, art);
            ++*n_added;
        }
        herd_artifact_free(art);
        if (rc) hd_error_prefix("group '%s': ", g->group);
    }
    if (!rc && *n_added) rc = hd_copy_runs(c, b);
    return rc;
}

/* --- the result ----------------------------------------------------------- */

static int hd_copy_result(const hd_copy *c, const herd_batch *b, herd_frame **out)
{
    const char **group = hd_calloc(c->n + 1, sizeof *group);
    const char **alias = hd_calloc(c->n + 1, sizeof *alias);
    const char **status = hd_calloc(c->n + 1, sizeof *status);
    int64_t *from = hd_calloc(c->n + 1, sizeof *from);
    int64_t *to = hd_calloc(c->n + 1, sizeof *to);
    herd_frame *f = NULL;
    int rc = group && alias && status && from && to ? herd_frame_new(&f) : HERD_ENOMEM;
    for (size_t i = 0; !rc && i < c->n; i++) {
        const hd_copy_group *g = &c->g[i];
        group[i] = g->group;
        alias[i] = c->o.alias;
        from[i] = g->source_version;
        if (g->unchanged) {
            to[i] = g->dest_version;
            status[i] = "unchanged";
        } else {
            int existed = 0;
            rc = herd_batch_version(b, g->item, &to[i], &existed);
            status[i] = existed ? "moved" : "copied";
        }
    }
    if (!rc) rc = herd_frame_add_column(f, "group", HERD_TYPE_STRING, group, c->n, NULL);
    if (!rc) rc = herd_frame_add_column(f, "alias", HERD_TYPE_STRING, alias, c->n, NULL);
    if (!rc) rc = herd_frame_add_column(f, "source_version", HERD_TYPE_INT64, from, c->n, NULL);
    if (!rc) rc = herd_frame_add_column(f, "version", HERD_TYPE_INT64, to, c->n, NULL);
    if (!rc) rc = herd_frame_add_column(f, "status", HERD_TYPE_STRING, status, c->n, NULL);
    free(group);
    free(alias);
    free(status);
    free(from);
    free(to);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

int herd_registry_copy(herd_registry *from, herd_registry *to, const herd_copy_options *opt,
                       herd_frame **copied)
{
    if (copied) *copied = NULL;
    HD_CHECK_NOT_NULL(from);
    HD_CHECK_NOT_NULL(to);
    hd_copy c;
    memset(&c, 0, sizeof c);
    c.from = from;
    c.to = to;
    int rc = hd_copy_options_check(opt, &c.o);
    if (rc) return hd_error_prefix("%s: ", __func__);
    if (from == to || !strcmp(herd_registry_path(from), herd_registry_path(to)))
        return hd_error(HERD_EINVAL, "%s: `from` and `to` are the same registry (%s); copy "
                        "between two registries", __func__, herd_registry_path(to));
    /* Both snapshots as of now: what the source holds, and the destination
     * versions the alias moves are guarded by. */
    if (!(rc = herd_registry_refresh(from))) rc = herd_registry_refresh(to);
    if (!rc) rc = hd_copy_read(&c);
    if (!rc) rc = hd_copy_plan_groups(&c);
    if (!rc) rc = hd_copy_index_history(&c);
    herd_batch *b = NULL;
    size_t n_added = 0;
    if (!rc) rc = herd_registry_begin(to, &b);
    if (!rc) rc = hd_copy_fill_batch(&c, b, &n_added);
    if (!rc && n_added) rc = herd_batch_commit(b);
    if (!rc && copied) rc = hd_copy_result(&c, b, copied);
    herd_batch_free(b);
    hd_copy_free(&c);
    if (rc) return hd_error_prefix("%s: ", __func__);
    return HERD_OK;
}
