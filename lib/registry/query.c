/* query.c -- reading the registry: resolve, load, listings, search,
 * histories, runs and the full check.  Every listing is a herd_frame, so
 * each binding converts one type.
 *
 * Readers share the handle's read lock and never take the writer lock:
 * a commit in another process never blocks them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "data/frame_internal.h"
#include "artifact/artifact_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"
#include "registry/uri_internal.h"

/* ------------------------------------------------------------------------
 * A frame under construction
 * --------------------------------------------------------------------- */

enum { TB_MAX_COLS = 20 };

/* Columns are built in place and handed to the frame (hd_frame_adopt):
 * no copy, and no second UTF-8 check of strings the registry validated on
 * the way in.  Each string column has its own arena, which the frame
 * takes over with it. */
typedef struct tb_col {
    const char *name;
    int type; /* HERD_TYPE_STRING, _INT64, _FLOAT64 */
    void *v;
    size_t cap;
    hd_arena *ar; /* string columns */
} tb_col;

typedef struct hd_table {
    tb_col c[TB_MAX_COLS];
    size_t ncols, nrows;
    hd_arena *ar; /* scratch strings the caller keeps while building */
    int oom;
} hd_table;

static int tb_init(hd_table *t, const char *const *names, const int *types, size_t n)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t->c[i] = (tb_col){names[i], types[i], NULL, 0, NULL};
        if (types[i] == HERD_TYPE_STRING && !(t->c[i].ar = hd_arena_new())) t->oom = 1;
    }
    t->ncols = n;
    t->ar = hd_arena_new();
    return t->ar && !t->oom ? HERD_OK : HERD_ENOMEM;
}

static void tb_free(hd_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->c[i].v);
        hd_arena_free(t->c[i].ar);
    }
    hd_arena_free(t->ar);
}

static int tb_reserve(hd_table *t, tb_col *c)
{
    size_t sz = c->type == HERD_TYPE_STRING ? sizeof(char *) : 8;
    if (t->nrows < c->cap) return 1;
    if (hd_grow(&c->v, &c->cap, t->nrows + 1, sz)) {
        t->oom = 1;
        return 0;
    }
    return 1;
}

/* Cells of the current row (t->nrows), column by column; tb_end_row
 * closes it. */
static void tb_str(hd_table *t, size_t col, const char *s)
{
    tb_col *c = &t->c[col];
    if (!tb_reserve(t, c)) return;
    const char *d = s ? hd_arena_strndup(c->ar, s, strlen(s)) : NULL;
    if (s && !d) t->oom = 1;
    ((const char **)c->v)[t->nrows] = d;
}

static void tb_i64(hd_table *t, size_t col, int64_t v)
{
    tb_col *c = &t->c[col];
    if (tb_reserve(t, c)) ((int64_t *)c->v)[t->nrows] = v;
}

static void tb_f64(hd_table *t, size_t col, double v)
{
    tb_col *c = &t->c[col];
    if (tb_reserve(t, c)) ((double *)c->v)[t->nrows] = v;
}

static void tb_end_row(hd_table *t)
{
    if (!t->oom) t->nrows++;
}

static int tb_frame(hd_table *t, herd_frame **out)
{
    if (t->oom) return hd_oom();
    herd_frame *f;
    int rc = herd_frame_new(&f);
    for (size_t i = 0; !rc && i < t->ncols; i++) {
        tb_col *c = &t->c[i];
        if (!c->v && !(c->v = hd_malloc(1, 8))) { /* an empty column */
            rc = HERD_ENOMEM; /* the column, arena included, stays the table's */
            break;
        }
        rc = hd_frame_adopt(f, c->name, c->type, c->v, NULL, c->ar, t->nrows);
        c->v = NULL; /* the frame owns them now, or freed them */
        c->ar = NULL;
    }
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Formatting
 * --------------------------------------------------------------------- */

static void hd_time_text(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];
    if (!gmtime_r(&s, &tm) || !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, size, "%s.%03dZ", base, (int)(ms % 1000));
}

/* JSON of a version's metrics or tags (NaN is null); NULL on OOM. */
static char *hd_metrics_json(const hd_rver *v)
{
    cJSON *o = cJSON_CreateObject();
    for (uint32_t i = 0; o && i < v->nmetrics; i++) {
        double x = v->metrics[i].value;
        /* the number module's text: the shortest exact one, in any locale */
        cJSON *n = isfinite(x) ? cJSON_CreateRaw(HD_NUM_JSON(x)) : cJSON_CreateNull();
        if (!n || !cJSON_AddItemToObject(o, v->metrics[i].name, n)) {
            cJSON_Delete(n);
            cJSON_Delete(o);
            return NULL;
        }
    }
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static char *hd_tags_json(const hd_rver *v)
{
    cJSON *o = cJSON_CreateObject();
    for (uint32_t i = 0; o && i < v->ntags; i++) {
        if (!cJSON_AddStringToObject(o, v->tags[i].name, v->tags[i].value)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* "champion=3,challenger=4", aliases sorted by name, into buf. */
static void hd_alias_list(const hd_rgroup *g, uint32_t version, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    const char *prev = "";
    for (uint32_t k = 0; k < g->na; k++) { /* selection by name: few aliases */
        const hd_ralias *best = NULL;
        for (uint32_t i = 0; i < g->na; i++) {
            const hd_ralias *a = &g->a[i];
            if (version && a->version != version) continue;
            if (strcmp(a->name, prev) > 0 && (!best || strcmp(a->name, best->name) < 0))
                best = a;
        }
        if (!best) break;
        int w = version ? snprintf(buf + o, size - o, "%s%s", o ? "," : "", best->name)
                        : snprintf(buf + o, size - o, "%s%s=%u", o ? "," : "", best->name,
                                   best->version);
        if (w < 0 || (size_t)w >= size - o) break;
        o += (size_t)w;
        prev = best->name;
    }
}

/* ------------------------------------------------------------------------
 * Locking and lookup
 * --------------------------------------------------------------------- */

static void rd_lock(herd_registry *reg) { hd_state_rdlock(reg); }
static void rd_unlock(herd_registry *reg) { pthread_rwlock_unlock(&reg->rw); }

/* Why (family, key) is absent: the family or only the group. */
static int hd_family_seen(void *ctx, const hd_rgroup *g)
{
    (void)ctx;
    (void)g;
    return 1; /* stop at the first group */
}

static int hd_no_group(herd_registry *reg, const char *family, const char *key)
{
    int any = hd_rstate_foreach(&reg->st, family, hd_family_seen, NULL);
    if (any == 1)
        return hd_error(HERD_ENOTFOUND, "registry %s: family '%s' has no group \"%s\"",
                        reg->dir, family, key);
    return hd_error(HERD_ENOTFOUND, "registry %s: no family '%s'", reg->dir, family);
}

/* The group (family, key) under the read lock: *g is valid until `scratch`
 * is freed or the lock released. */
static int hd_group_get(herd_registry *reg, const char *family, const char *key,
                        hd_arena *scratch, const hd_rgroup **g)
{
    int rc = hd_rstate_find(&reg->st, family, key, scratch, g);
    if (rc == 1) return HERD_OK;
    return rc < 0 ? rc : hd_no_group(reg, family, key);
}

static int hd_lookup_args(const char *family, const char *group, const char *alias)
{
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_key_check(group, "group");
    if (!rc && alias) rc = hd_id_check(alias, "alias");
    return rc;
}

static int hd_resolve_locked(herd_registry *reg, const char *family, const char *group,
                             const char *alias, uint32_t *version)
{
    int latest = !strcmp(alias, "latest");
    uint64_t h = hd_group_hash(family, group);
    const hd_rgroup *g = hd_rstate_overlay(&reg->st, family, group, h);
    if (!g && reg->st.nseg && !latest) { /* the fast path: no decoding */
        int found;
        int rc = hd_rstate_index_alias(&reg->st, family, group, h, alias, version, &found);
        if (rc == 1) return HERD_OK;
        if (rc < 0) return rc;
        if (!found) return hd_no_group(reg, family, group);
        return hd_error(HERD_ENOTFOUND, "registry %s: %s/%s has no alias '%s'", reg->dir,
                        family, group, alias);
    }
    hd_arena *scratch = NULL;
    int rc = HERD_OK;
    if (!g) {
        if (!(scratch = hd_arena_new())) return HERD_ENOMEM;
        rc = hd_group_get(reg, family, group, scratch, &g);
    }
    if (!rc && latest) {
        *version = hd_rgroup_latest(g);
        if (!*version)
            rc = hd_error(HERD_ENOTFOUND, "registry %s: every version of %s/%s is archived",
                          reg->dir, family, group);
    } else if (!rc) {
        const hd_ralias *a = hd_rgroup_alias(g, alias);
        if (a) *version = a->version;
        else rc = hd_error(HERD_ENOTFOUND, "registry %s: %s/%s has no alias '%s'", reg->dir,
                           family, group, alias);
    }
    hd_arena_free(scratch);
    return rc;
}

int herd_registry_resolve(herd_registry *reg, const char *family, const char *group,
                          const char *alias, int64_t *version)
{
    HD_CHECK_NOT_NULL(version);
    *version = 0;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    HD_CHECK_NOT_NULL(alias);
    int rc = hd_lookup_args(family, group, alias);
    if (rc) return hd_error_prefix("%s: ", __func__);
    uint32_t v = 0;
    rd_lock(reg);
    rc = hd_resolve_locked(reg, family, group, alias, &v);
    rd_unlock(reg);
    if (!rc) *version = v;
    return rc;
}

/* ---- every group's alias at once ---- */

typedef struct hd_aliases_ctx {
    hd_table t;
    const char *alias;
    int latest;
} hd_aliases_ctx;

static int hd_aliases_visit(void *ctx, const hd_rgroup *g)
{
    hd_aliases_ctx *c = ctx;
    uint32_t v = 0;
    if (c->latest) {
        v = hd_rgroup_latest(g);
    } else {
        const hd_ralias *a = hd_rgroup_alias(g, c->alias);
        if (a) v = a->version;
    }
    if (!v) return 0;
    tb_str(&c->t, 0, g->family);
    tb_str(&c->t, 1, g->key);
    tb_i64(&c->t, 2, v);
    tb_end_row(&c->t);
    return c->t.oom ? hd_oom() : 0;
}

int herd_registry_aliases(herd_registry *reg, const char *family, const char *alias,
                          herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(alias);
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_id_check(alias, "alias");
    if (rc) return hd_error_prefix("%s: ", __func__);
    static const char *const names[] = {"family", "group", "version"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_INT64};
    hd_aliases_ctx c = {.alias = alias, .latest = !strcmp(alias, "latest")};
    if ((rc = tb_init(&c.t, names, types, 3))) return rc;
    /* Only "latest" needs the versions: the rest reads each group's entry
     * alone, in index order. */
    rd_lock(reg);
    rc = hd_rstate_foreach_parts(&reg->st, family, c.latest ? HD_PART_VERSIONS : 0,
                                 hd_aliases_visit, &c);
    rd_unlock(reg);
    if (!rc) rc = tb_frame(&c.t, out);
    tb_free(&c.t);
    return rc;
}

/* ------------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

static int hd_load_locked(herd_registry *reg, const char *family, const char *group,
                          int64_t version, hd_rver *out)
{
    hd_arena *scratch = hd_arena_new();
    if (!scratch) return HERD_ENOMEM;
    const hd_rgroup *g;
    int rc = hd_group_get(reg, family, group, scratch, &g);
    if (!rc && (version < 1 || version > g->nv))
        rc = hd_error(HERD_ENOTFOUND, "registry %s: %s/%s has no version %lld (it has "
                      "1..%u)", reg->dir, family, group, (long long)version, g->nv);
    if (!rc) {
        *out = g->v[version - 1];
        if (!out->pack)
            rc = hd_error(HERD_ENOTFOUND, "registry %s: %s/%s version %lld was archived and "
                          "its artifact reclaimed by herd_registry_gc()", reg->dir, family,
                          group, (long long)version);
    }
    hd_arena_free(scratch);
    return rc;
}

int herd_registry_load(herd_registry *reg, const char *family, const char *group,
                       int64_t version, herd_artifact **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    int rc = hd_lookup_args(family, group, NULL);
    if (!rc && version < 1)
        rc = hd_error(HERD_EINVAL, "argument 'version' is %lld; versions start at 1 (resolve "
                      "an alias with herd_registry_resolve)", (long long)version);
    if (rc) return hd_error_prefix("%s: ", __func__);
    hd_rver v;
    for (int attempt = 0;; attempt++) {
        rd_lock(reg);
        rc = hd_load_locked(reg, family, group, version, &v);
        rd_unlock(reg);
        if (rc) return rc;
        unsigned char *buf = NULL;
        size_t cap = 0;
        rc = hd_pack_read(reg, v.pack, v.off, v.len, &buf, &cap);
        /* A gc in another process may have moved it: catch up once. */
        if (rc == HERD_ENOTFOUND && attempt == 0) {
            free(buf);
            if ((rc = hd_registry_refresh_read(reg))) return rc;
            continue;
        }
        if (!rc) rc = herd_artifact_read(buf, v.len, out);
        /* It was a valid artifact when committed: whatever it is now is
         * damage, not a format the caller chose. */
        if (rc == HERD_EFORMAT) rc = hd_error(HERD_ECORRUPT, "damaged: %s", herd_last_error());
        free(buf);
        if (rc) {
            char path[4200];
            hd_pack_path(reg, v.pack, path, sizeof path);
            return hd_error_prefix("registry %s: %s/%s version %lld (%s, artifact at offset "
                                   "%llu): ", reg->dir, family, group, (long long)version,
                                   path, (unsigned long long)v.off);
        }
        return HERD_OK;
    }
}

int herd_registry_load_uri(herd_registry *reg, const char *uri, herd_artifact **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(uri);
    herd_uri *u;
    int rc = herd_uri_parse(uri, &u);
    if (rc) return rc;
    int64_t version = 0;
    const char *alias = NULL;
    if (herd_uri_version(u, &version) == HERD_MISSING && herd_uri_alias(u, &alias) == HERD_OK)
        rc = herd_registry_resolve(reg, herd_uri_family(u), herd_uri_group(u), alias,
                                   &version);
    if (!rc) rc = herd_registry_load(reg, herd_uri_family(u), herd_uri_group(u), version, out);
    herd_uri_free(u);
    return rc;
}

/* ------------------------------------------------------------------------
 * Families and groups
 * --------------------------------------------------------------------- */

typedef struct hd_fam_ctx {
    hd_table t;
    const char *cur; /* family of the open row (arena copy) */
    int64_t groups, versions, archived;
} hd_fam_ctx;

static void hd_fam_close(hd_fam_ctx *c)
{
    if (!c->cur) return;
    tb_str(&c->t, 0, c->cur);
    tb_i64(&c->t, 1, c->groups);
    tb_i64(&c->t, 2, c->versions);
    tb_i64(&c->t, 3, c->archived);
    tb_end_row(&c->t);
    c->cur = NULL;
}

static int hd_fam_visit(void *ctx, const hd_rgroup *g)
{
    hd_fam_ctx *c = ctx;
    if (!c->cur || strcmp(c->cur, g->family)) {
        hd_fam_close(c);
        c->cur = hd_arena_strndup(c->t.ar, g->family, strlen(g->family));
        if (!c->cur) return HERD_ENOMEM;
        c->groups = c->versions = c->archived = 0;
    }
    c->groups++;
    c->versions += g->nv;
    for (uint32_t i = 0; i < g->nv; i++) c->archived += (g->v[i].flags & HD_RV_ARCHIVED) != 0;
    return 0;
}

int herd_registry_families(herd_registry *reg, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    static const char *const names[] = {"family", "groups", "versions", "archived"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_INT64, HERD_TYPE_INT64,
                                HERD_TYPE_INT64};
    hd_fam_ctx c = {0};
    int rc = tb_init(&c.t, names, types, 4);
    rd_lock(reg);
    if (!rc) rc = hd_rstate_foreach(&reg->st, NULL, hd_fam_visit, &c);
    rd_unlock(reg);
    hd_fam_close(&c);
    if (!rc) rc = tb_frame(&c.t, out);
    tb_free(&c.t);
    return rc;
}

static int hd_groups_visit(void *ctx, const hd_rgroup *g)
{
    hd_table *t = ctx;
    char aliases[4096];
    hd_alias_list(g, 0, aliases, sizeof aliases);
    tb_str(t, 0, g->family);
    tb_str(t, 1, g->key);
    tb_i64(t, 2, g->nv);
    tb_i64(t, 3, hd_rgroup_latest(g));
    tb_str(t, 4, aliases);
    tb_end_row(t);
    return t->oom ? hd_oom() : 0;
}

int herd_registry_groups(herd_registry *reg, const char *family, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    int rc = hd_id_check(family, "family");
    if (rc) return hd_error_prefix("%s: ", __func__);
    static const char *const names[] = {"family", "group", "versions", "latest", "aliases"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_INT64,
                                HERD_TYPE_INT64, HERD_TYPE_STRING};
    hd_table t;
    rc = tb_init(&t, names, types, 5);
    rd_lock(reg);
    if (!rc) rc = hd_rstate_foreach(&reg->st, family, hd_groups_visit, &t);
    rd_unlock(reg);
    if (!rc) rc = tb_frame(&t, out);
    tb_free(&t);
    return rc;
}

/* ------------------------------------------------------------------------
 * Versions and search
 * --------------------------------------------------------------------- */

enum {
    SC_FAMILY, SC_GROUP, SC_VERSION, SC_STATUS, SC_CREATED, SC_REGISTERED, SC_RUN, SC_FP,
    SC_IDEM, SC_ALIASES, SC_TAGS, SC_METRICS, SC_SIZE, SC_URI, SC_METRIC, SC_N
};

typedef struct hd_search_ctx {
    hd_table t;
    herd_search_options o;
    int rc;
} hd_search_ctx;

static int hd_version_matches(const hd_search_ctx *c, const hd_rgroup *g, const hd_rver *v,
                              double *metric)
{
    const herd_search_options *o = &c->o;
    if (!o->include_archived && (v->flags & HD_RV_ARCHIVED)) return 0;
    if (o->tag_name) {
        uint32_t i = 0;
        while (i < v->ntags && strcmp(v->tags[i].name, o->tag_name)) i++;
        if (i == v->ntags) return 0;
        if (o->tag_value && strcmp(v->tags[i].value, o->tag_value)) return 0;
    }
    *metric = NAN;
    if (o->metric) {
        uint32_t i = 0;
        while (i < v->nmetrics && strcmp(v->metrics[i].name, o->metric)) i++;
        if (i == v->nmetrics) return 0;
        *metric = v->metrics[i].value;
        if (!(*metric >= o->metric_min && *metric <= o->metric_max)) return 0; /* NaN fails */
    }
    if (o->alias && !strcmp(o->alias, "latest")) {
        if (hd_rgroup_latest(g) != v->version) return 0;
    } else if (o->alias) {
        const hd_ralias *a = hd_rgroup_alias(g, o->alias);
        if (!a || a->version != v->version) return 0;
    }
    return 1;
}

static void hd_version_row(hd_table *t, const hd_rgroup *g, const hd_rver *v, double metric,
                           int with_metric)
{
    char created[40], aliases[4096];
    hd_time_text(v->time_ms, created, sizeof created);
    hd_alias_list(g, v->version, aliases, sizeof aliases);
    char *tags = hd_tags_json(v), *metrics = hd_metrics_json(v), *uri = NULL;
    if (!tags || !metrics) t->oom = 1;
    int urc = herd_uri_format(g->family, g->key, NULL, v->version, &uri);
    if (urc == HERD_ENOMEM) t->oom = 1;
    else if (urc) herd_clear_error(); /* a key no commit writes (damage): no URI, the rest stands */
    tb_str(t, SC_FAMILY, g->family);
    tb_str(t, SC_GROUP, g->key);
    tb_i64(t, SC_VERSION, v->version);
    tb_str(t, SC_STATUS, (v->flags & HD_RV_LOST)       ? "lost"
                        : (v->flags & HD_RV_ARCHIVED) ? "archived"
                                                      : "active");
    tb_str(t, SC_CREATED, v->created);
    tb_str(t, SC_REGISTERED, created);
    tb_str(t, SC_RUN, v->run_id);
    tb_str(t, SC_FP, v->fingerprint);
    tb_str(t, SC_IDEM, v->idem);
    tb_str(t, SC_ALIASES, aliases);
    tb_str(t, SC_TAGS, tags);
    tb_str(t, SC_METRICS, metrics);
    tb_i64(t, SC_SIZE, v->pack ? v->len : 0);
    tb_str(t, SC_URI, uri);
    if (with_metric) tb_f64(t, SC_METRIC, metric);
    tb_end_row(t);
    cJSON_free(tags);
    cJSON_free(metrics);
    herd_free(uri);
}

static int hd_search_visit(void *ctx, const hd_rgroup *g)
{
    hd_search_ctx *c = ctx;
    if (c->o.group_pattern && !hd_glob_match(c->o.group_pattern, g->key)) return 0;
    for (uint32_t i = 0; i < g->nv; i++) {
        if (c->o.limit && c->t.nrows >= c->o.limit) return 1; /* full */
        double metric;
        if (hd_version_matches(c, g, &g->v[i], &metric))
            hd_version_row(&c->t, g, &g->v[i], metric, c->o.metric != NULL);
        if (c->t.oom) return hd_oom();
    }
    return 0;
}

static int hd_search_init(hd_search_ctx *c, const char *metric)
{
    static const char *const names[SC_N] = {
        "family", "group", "version", "status", "created", "registered", "run_id",
        "fingerprint", "idempotency_key", "aliases", "tags", "metrics", "size", "uri", NULL};
    static const int types[SC_N] = {
        HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_INT64, HERD_TYPE_STRING,
        HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_STRING,
        HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_STRING,
        HERD_TYPE_INT64, HERD_TYPE_STRING, HERD_TYPE_FLOAT64};
    int rc = tb_init(&c->t, names, types, metric ? SC_N : SC_N - 1);
    if (metric) c->t.c[SC_METRIC].name = metric;
    return rc;
}

static int hd_search_options_read(const herd_search_options *in, herd_search_options *o)
{
    int rc = hd_options_read(&hd_search_options_desc, in, o, NULL);
    if (!rc && o->family) rc = hd_id_check(o->family, "opt->family");
    if (!rc && o->group_pattern) rc = hd_glob_check(o->group_pattern, "opt->group_pattern");
    if (!rc && o->tag_name) rc = hd_id_check(o->tag_name, "opt->tag_name");
    if (!rc && o->tag_value && !o->tag_name)
        rc = hd_error(HERD_EINVAL, "opt->tag_value is set without opt->tag_name");
    if (!rc && o->metric && (!*o->metric || strlen(o->metric) > HERD_NAME_MAX))
        rc = hd_error(HERD_EINVAL, "opt->metric must be 1..%d bytes", HERD_NAME_MAX);
    if (!rc && o->metric && !strcmp(o->metric, "metrics"))
        rc = hd_error(HERD_EINVAL, "opt->metric 'metrics' clashes with the column of that "
                      "name; it cannot be searched by range");
    if (!rc && o->metric_min > o->metric_max)
        rc = hd_error(HERD_EINVAL, "opt->metric_min .. opt->metric_max is [%s, %s]; give a "
                      "range with min <= max", HD_NUMF("%g", o->metric_min),
                      HD_NUMF("%g", o->metric_max));
    if (!rc && o->alias) rc = hd_id_check(o->alias, "opt->alias");
    return rc;
}

int herd_registry_search(herd_registry *reg, const herd_search_options *opt, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    hd_search_ctx c;
    memset(&c, 0, sizeof c);
    int rc = hd_search_options_read(opt, &c.o);
    if (rc) return hd_error_prefix("%s: ", __func__);
    if ((rc = hd_search_init(&c, c.o.metric))) return rc;
    rd_lock(reg);
    rc = hd_rstate_foreach(&reg->st, c.o.family, hd_search_visit, &c);
    rd_unlock(reg);
    if (rc == 1) rc = HERD_OK; /* stopped at the limit */
    if (!rc) rc = tb_frame(&c.t, out);
    tb_free(&c.t);
    return rc;
}

int herd_registry_versions(herd_registry *reg, const char *family, const char *group,
                           herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    int rc = hd_lookup_args(family, group, NULL);
    if (rc) return hd_error_prefix("%s: ", __func__);
    hd_search_ctx c;
    memset(&c, 0, sizeof c);
    hd_options_defaults(&hd_search_options_desc, &c.o);
    c.o.include_archived = 1;
    if ((rc = hd_search_init(&c, NULL))) return rc;
    hd_arena *scratch = hd_arena_new();
    if (!scratch) rc = HERD_ENOMEM;
    rd_lock(reg);
    const hd_rgroup *g;
    if (!rc) rc = hd_group_get(reg, family, group, scratch, &g);
    if (!rc) rc = hd_search_visit(&c, g);
    rd_unlock(reg);
    hd_arena_free(scratch);
    if (!rc) rc = tb_frame(&c.t, out);
    tb_free(&c.t);
    return rc;
}

/* ------------------------------------------------------------------------
 * Alias history and runs
 * --------------------------------------------------------------------- */

/* One alias move with its group, collected so that a whole family's
 * history comes out in commit order. */
typedef struct hd_hist_row {
    const char *family, *key;
    hd_rmove m;
    size_t order; /* position within its group: moves of one commit keep it */
} hd_hist_row;

typedef struct hd_hist_ctx {
    hd_arena *ar;
    const char *alias;
    hd_hist_row *rows;
    size_t n, cap;
} hd_hist_ctx;

static const char *hd_hist_dup(hd_hist_ctx *c, const char *s, int *oom)
{
    if (!s) return NULL;
    const char *d = hd_arena_strndup(c->ar, s, strlen(s));
    if (!d) *oom = 1;
    return d;
}

static int hd_hist_visit(void *ctx, const hd_rgroup *g)
{
    hd_hist_ctx *c = ctx;
    int oom = 0;
    const char *family = NULL, *key = NULL;
    for (uint32_t i = 0; i < g->nm && !oom; i++) {
        const hd_rmove *m = &g->m[i];
        if (c->alias && strcmp(c->alias, m->alias)) continue;
        if (!family) { /* the group's strings live only during the visit */
            family = hd_hist_dup(c, g->family, &oom);
            key = hd_hist_dup(c, g->key, &oom);
        }
        if (c->n == c->cap && hd_grow((void **)&c->rows, &c->cap, c->n + 1, sizeof *c->rows))
            return HERD_ENOMEM;
        hd_hist_row *r = &c->rows[c->n++];
        r->family = family;
        r->key = key;
        r->m = *m;
        r->m.alias = hd_hist_dup(c, m->alias, &oom);
        r->m.reason = hd_hist_dup(c, m->reason, &oom);
        r->m.details = hd_hist_dup(c, m->details, &oom);
        r->m.run_id = hd_hist_dup(c, m->run_id, &oom);
        r->order = c->n;
    }
    return oom ? hd_oom() : 0;
}

static int hd_hist_cmp(const void *a, const void *b)
{
    const hd_hist_row *x = a, *y = b;
    if (x->m.seq != y->m.seq) return x->m.seq < y->m.seq ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int hd_hist_frame(hd_hist_ctx *c, herd_frame **out)
{
    static const char *const names[] = {"family", "group", "alias", "time", "commit",
                                        "from_version", "to_version", "reason", "details",
                                        "run_id"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_STRING,
                                HERD_TYPE_STRING, HERD_TYPE_INT64, HERD_TYPE_INT64,
                                HERD_TYPE_INT64, HERD_TYPE_STRING, HERD_TYPE_STRING,
                                HERD_TYPE_STRING};
    hd_table t;
    int rc = tb_init(&t, names, types, 10);
    if (rc) return rc;
    if (c->n) qsort(c->rows, c->n, sizeof *c->rows, hd_hist_cmp);
    for (size_t i = 0; i < c->n; i++) {
        const hd_hist_row *r = &c->rows[i];
        char when[40];
        hd_time_text(r->m.time_ms, when, sizeof when);
        tb_str(&t, 0, r->family);
        tb_str(&t, 1, r->key);
        tb_str(&t, 2, r->m.alias);
        tb_str(&t, 3, when);
        tb_i64(&t, 4, (int64_t)r->m.seq);
        tb_i64(&t, 5, r->m.from);
        tb_i64(&t, 6, r->m.to);
        tb_str(&t, 7, r->m.reason);
        tb_str(&t, 8, r->m.details);
        tb_str(&t, 9, r->m.run_id);
        tb_end_row(&t);
    }
    rc = tb_frame(&t, out);
    tb_free(&t);
    return rc;
}

int herd_registry_alias_history(herd_registry *reg, const char *family, const char *group,
                                const char *alias, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    int rc = hd_id_check(family, "family");
    if (!rc && group) rc = hd_key_check(group, "group");
    if (!rc && alias) rc = hd_id_check(alias, "alias");
    if (rc) return hd_error_prefix("%s: ", __func__);
    hd_hist_ctx c = {.alias = alias};
    if (!(c.ar = hd_arena_new())) return HERD_ENOMEM;
    hd_arena *scratch = hd_arena_new();
    if (!scratch) rc = HERD_ENOMEM;
    rd_lock(reg);
    if (!rc && group) {
        const hd_rgroup *g;
        rc = hd_group_get(reg, family, group, scratch, &g);
        if (!rc) rc = hd_hist_visit(&c, g);
    } else if (!rc) {
        rc = hd_rstate_foreach(&reg->st, family, hd_hist_visit, &c);
    }
    rd_unlock(reg);
    hd_arena_free(scratch);
    if (!rc) rc = hd_hist_frame(&c, out);
    free(c.rows);
    hd_arena_free(c.ar);
    return rc;
}

typedef struct hd_runs_ctx {
    hd_rrun *runs;
    size_t n;
    int64_t *count;
} hd_runs_ctx;

static int hd_runs_visit(void *ctx, const hd_rgroup *g)
{
    hd_runs_ctx *c = ctx;
    for (uint32_t i = 0; i < g->nv; i++) {
        const char *id = g->v[i].run_id;
        if (!id) continue;
        for (size_t k = 0; k < c->n; k++)
            if (!strcmp(c->runs[k].id, id)) {
                c->count[k]++;
                break;
            }
    }
    return 0;
}

int herd_registry_runs(herd_registry *reg, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    static const char *const names[] = {"run_id", "time", "params", "summary", "versions"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_STRING,
                                HERD_TYPE_STRING, HERD_TYPE_INT64};
    hd_table t;
    int rc = tb_init(&t, names, types, 5);
    hd_runs_ctx c = {0};
    rd_lock(reg);
    if (!rc) rc = hd_rstate_runs(&reg->st, &c.runs, &c.n);
    if (!rc && !(c.count = hd_calloc(c.n + 1, sizeof *c.count))) rc = HERD_ENOMEM;
    if (!rc && c.n) rc = hd_rstate_foreach(&reg->st, NULL, hd_runs_visit, &c);
    for (size_t i = 0; !rc && i < c.n; i++) {
        char when[40];
        hd_time_text(c.runs[i].time_ms, when, sizeof when);
        tb_str(&t, 0, c.runs[i].id);
        tb_str(&t, 1, when);
        tb_str(&t, 2, c.runs[i].params);
        tb_str(&t, 3, c.runs[i].summary);
        tb_i64(&t, 4, c.count[i]);
        tb_end_row(&t);
    }
    rd_unlock(reg);
    free(c.runs);
    free(c.count);
    if (!rc) rc = tb_frame(&t, out);
    tb_free(&t);
    return rc;
}

/* ------------------------------------------------------------------------
 * The full check
 * --------------------------------------------------------------------- */

/* Progress of the artifact pass, about every HD_CHECK_PROGRESS_S. */
#define HD_CHECK_PROGRESS_S 0.25

/* Where one stored artifact lies, copied out of the state so that the
 * artifact pass reads and checks it without the state's read lock. */
typedef struct hd_check_art {
    uint32_t group, version, pack, len;
    uint64_t off;
} hd_check_art;

/* A group the artifact pass goes through: its names (arena copies) and
 * its artifacts, arts[first .. first + n). */
typedef struct hd_check_grp {
    const char *family, *key;
    size_t first, n;
} hd_check_grp;

typedef struct hd_check_ctx {
    herd_registry *reg;
    hd_table t;
    const char *file; /* for index chunk reports */
    unsigned char *buf;
    size_t cap;
    herd_check_options o;
    herd_progress p; /* counts of the artifact pass */
    double due;
    hd_arena *ar;     /* group names of the artifact pass */
    hd_check_grp *grp;
    size_t ngrp, grp_cap;
    hd_check_art *art;
    size_t nart, art_cap;
} hd_check_ctx;

static void hd_problem(hd_check_ctx *c, const char *file, uint64_t off, const char *what)
{
    tb_str(&c->t, 0, file);
    tb_i64(&c->t, 1, (int64_t)off);
    tb_str(&c->t, 2, what);
    tb_end_row(&c->t);
}

static int hd_check_chunk(void *ctx, uint64_t off)
{
    hd_check_ctx *c = ctx;
    hd_problem(c, c->file, off, "index chunk checksum mismatch");
    return c->t.oom ? hd_oom() : 0;
}

/* Under the read lock: a group's names and where its artifacts lie, and
 * the totals its progress reports count down from.  Nothing else is done
 * under the lock, so a commit waits only for this copy. */
static int hd_check_collect(void *ctx, const hd_rgroup *g)
{
    hd_check_ctx *c = ctx;
    if (c->ngrp == c->grp_cap &&
        hd_grow((void **)&c->grp, &c->grp_cap, c->ngrp + 1, sizeof *c->grp))
        return HERD_ENOMEM;
    hd_check_grp *gr = &c->grp[c->ngrp];
    gr->family = hd_arena_strndup(c->ar, g->family, strlen(g->family));
    gr->key = hd_arena_strndup(c->ar, g->key, strlen(g->key));
    if (!gr->family || !gr->key) return hd_oom();
    gr->first = c->nart;
    for (uint32_t i = 0; i < g->nv; i++) {
        const hd_rver *v = &g->v[i];
        if (!v->pack) continue;
        if (c->nart == c->art_cap &&
            hd_grow((void **)&c->art, &c->art_cap, c->nart + 1, sizeof *c->art))
            return HERD_ENOMEM;
        c->art[c->nart++] = (hd_check_art){(uint32_t)c->ngrp, v->version, v->pack, v->len,
                                           v->off};
        c->p.bytes_total += v->len;
    }
    gr->n = c->nart - gr->first;
    c->ngrp++;
    c->p.groups_total++;
    return 0;
}

/* Report the artifact pass every HD_CHECK_PROGRESS_S (and at its end:
 * `last`); the caller's nonzero answer cancels the check.  Never called
 * under the state's lock: the callback may take as long as it likes. */
static int hd_check_progress(hd_check_ctx *c, int last)
{
    if (!c->o.progress) return HERD_OK;
    double now = hd_now();
    if (!last && now < c->due) return HERD_OK;
    c->due = now + HD_CHECK_PROGRESS_S;
    herd_progress p = c->p;
    if (hd_progress_emit(c->o.progress, c->o.progress_user, &p))
        return hd_error(HERD_ECANCELED, "herd_registry_check_with: cancelled by the progress "
                        "callback after %zu of %zu groups", c->p.groups_done,
                        c->p.groups_total);
    return HERD_OK;
}

enum { HD_ART_STAYED, HD_ART_MOVED, HD_ART_GONE };

/* After a failed read: where the handle's state now puts the artifact.
 * A gc through this handle may have moved or reclaimed it since it was
 * copied out (the artifact pass holds no lock): HD_ART_MOVED (*a
 * updated), HD_ART_GONE (no longer stored: nothing to check) or
 * HD_ART_STAYED (the failure stands). */
static int hd_check_moved(hd_check_ctx *c, hd_check_art *a)
{
    const hd_check_grp *gr = &c->grp[a->group];
    hd_arena *scratch = hd_arena_new();
    if (!scratch) return HD_ART_STAYED;
    int moved = HD_ART_STAYED;
    rd_lock(c->reg);
    const hd_rgroup *g;
    if (hd_rstate_find(&c->reg->st, gr->family, gr->key, scratch, &g) == 1 &&
        a->version >= 1 && a->version <= g->nv) {
        const hd_rver *v = &g->v[a->version - 1];
        if (!v->pack) {
            moved = HD_ART_GONE;
        } else if (v->pack != a->pack || v->off != a->off || v->len != a->len) {
            a->pack = v->pack, a->off = v->off, a->len = v->len;
            moved = HD_ART_MOVED;
        }
    }
    rd_unlock(c->reg);
    hd_arena_free(scratch);
    return moved;
}

/* One stored artifact: its checksums and metadata, and with opt->deep its
 * model as herd_artifact_read checks it. */
static int hd_check_read(hd_check_ctx *c, const hd_check_art *a)
{
    int rc = hd_pack_read(c->reg, a->pack, a->off, a->len, &c->buf, &c->cap);
    hd_artifact_info info;
    if (!rc) {
        rc = c->o.deep ? hd_artifact_check_model(c->buf, a->len, &info)
                       : hd_artifact_check_bytes(c->buf, a->len, &info);
        hd_artifact_info_free(&info);
    }
    return rc;
}

/* A group's artifacts, outside the lock.  One problem row per bad
 * version, naming its pack, offset, family/group and version. */
static int hd_check_group(hd_check_ctx *c, const hd_check_grp *gr)
{
    for (size_t i = gr->first; i < gr->first + gr->n; i++) {
        hd_check_art a = c->art[i];
        int rc = hd_check_read(c, &a), where = HD_ART_STAYED;
        if (rc && rc != HERD_ENOMEM && (where = hd_check_moved(c, &a)) != HD_ART_STAYED) {
            herd_clear_error();
            rc = where == HD_ART_MOVED ? hd_check_read(c, &a) : HERD_OK;
        }
        if (rc == HERD_ENOMEM) return rc;
        if (rc) {
            char path[4200], what[1400];
            hd_pack_path(c->reg, a.pack, path, sizeof path);
            snprintf(what, sizeof what, "%s/%s version %u: %s", gr->family, gr->key,
                     a.version, herd_last_error());
            hd_problem(c, path, a.off, what);
            herd_clear_error();
        }
        c->p.bytes_done += c->art[i].len;
    }
    c->p.groups_done++;
    if (c->t.oom) return hd_oom();
    return hd_check_progress(c, 0);
}

/* Every record of the journal, from its start. */
static int hd_check_journal(hd_check_ctx *c)
{
    herd_registry *reg = c->reg;
    hd_rstate st;
    uint64_t jend = 0;
    int rc = hd_rstate_init(&st, NULL, 0);
    if (rc) return rc;
    /* Replaying into a private state checks checksums, framing and the
     * operations themselves. */
    hd_loss_log log = {0};
    rc = hd_registry_replay(reg, &st, &jend, &log);
    hd_rstate_free(&st);
    if (rc == HERD_ENOMEM) {
        hd_loss_log_free(&log);
        return rc;
    }
    if (rc) {
        hd_problem(c, reg->journal_path, jend, herd_last_error());
        herd_clear_error();
    }
    if (log.records) {
        char *what = hd_malloc(log.text.n + 200, 1);
        if (!what) {
            hd_loss_log_free(&log);
            return HERD_ENOMEM;
        }
        snprintf(what, log.text.n + 200, "%zu damaged stretch%s skipped (every later commit "
                 "is read); lost: %s", log.records, log.records == 1 ? "" : "es",
                 log.text.n ? (const char *)log.text.p : "nothing readable");
        hd_problem(c, reg->journal_path, log.first, what);
        free(what);
    }
    hd_loss_log_free(&log);
    return c->t.oom ? HERD_ENOMEM : HERD_OK;
}

/* One index file as it is now (the handle may have set it aside). */
static int hd_check_index_file(void *ctx, const char *path)
{
    hd_check_ctx *c = ctx;
    hd_index *ix;
    int rc = hd_index_open(c->reg->vfs, path, &ix);
    if (rc == HERD_ENOTFOUND) {
        herd_clear_error();
        return HERD_OK;
    }
    if (rc == HERD_ENOMEM) return rc;
    if (rc) {
        hd_problem(c, path, 0, herd_last_error());
        herd_clear_error();
        return c->t.oom ? hd_oom() : HERD_OK;
    }
    c->file = path;
    rc = hd_index_verify(ix, hd_check_chunk, c);
    hd_index_free(ix);
    return rc;
}

/* The base and every delta (docs/registry.md, "index"). */
static int hd_check_index(hd_check_ctx *c)
{
    int rc = hd_segments_each_file(c->reg, hd_check_index_file, c);
    if (rc && rc != HERD_ENOMEM) { /* the directory could not be listed */
        hd_problem(c, c->reg->dir, 0, herd_last_error());
        herd_clear_error();
        rc = c->t.oom ? hd_oom() : HERD_OK;
    }
    return rc;
}

/* One directory entry: a pack's 16-byte header, or a kept journal tail. */
static int hd_check_entry(void *ctx, const char *name)
{
    hd_check_ctx *c = ctx;
    unsigned id;
    char extra;
    char *path = NULL;
    if (!strncmp(name, "journal.cut-", 12)) {
        if (!(path = hd_join(c->reg->dir, name))) return HERD_ENOMEM;
        hd_problem(c, path, (int64_t)strtoll(name + 12, NULL, 10),
                   "a journal tail cut off at this offset, kept: its last record was complete "
                   "but failed its checksum (an acknowledged commit damaged on disk, or a "
                   "crashed writer's); compare it with a backup, then delete the file");
    } else if (sscanf(name, "pack-%u%c", &id, &extra) == 1) {
        if (!(path = hd_join(c->reg->dir, name))) return HERD_ENOMEM;
        unsigned char h[HD_PACK_HEADER];
        static const unsigned char zero[HD_PACK_HEADER - 8] = {0};
        size_t got = 0;
        hd_vfs_file *f = NULL;
        int rc = hd_vfs_open(c->reg->vfs, path, HD_VFS_READ, &f);
        if (!rc) rc = hd_vfs_pread(f, h, sizeof h, 0, &got);
        if (f) hd_vfs_close(f);
        if (rc == HERD_ENOMEM) {
            free(path);
            return rc;
        }
        if (rc) {
            hd_problem(c, path, 0, herd_last_error());
            herd_clear_error();
        } else if (got < sizeof h || memcmp(h, hd_pack_magic, 8) || memcmp(h + 8, zero, 8)) {
            hd_problem(c, path, got < sizeof h || memcmp(h, hd_pack_magic, 8) ? 0 : 8,
                       got < sizeof h ? "pack header truncated (16 bytes expected)"
                                      : "pack header damaged: magic \\x89HPCK\\r\\n\\n and 8 "
                                        "zero bytes expected");
        }
    }
    free(path);
    return c->t.oom ? HERD_ENOMEM : 0;
}

int herd_registry_check(herd_registry *reg, herd_frame **problems)
{
    return herd_registry_check_with(reg, NULL, problems);
}

/* Every stored artifact of the handle's snapshot: where each lies is
 * copied out under the read lock, then each is read and checked, and
 * progress reported, with the lock released (hd_check_group). */
static int hd_check_artifacts(hd_check_ctx *c)
{
    herd_registry *reg = c->reg;
    if (!(c->ar = hd_arena_new())) return HERD_ENOMEM;
    rd_lock(reg);
    int rc = hd_rstate_foreach(&reg->st, NULL, hd_check_collect, c);
    rd_unlock(reg);
    char *damage = NULL; /* the index is damaged where groups live */
    if (rc == HERD_ECORRUPT) {
        damage = hd_arena_strndup(c->ar, herd_last_error(), strlen(herd_last_error()));
        herd_clear_error();
        rc = damage ? HERD_OK : hd_oom();
    }
    if (!rc && c->o.progress) {
        hd_phase_begin("check", c->o.progress, c->o.progress_user);
        c->due = hd_now() + HD_CHECK_PROGRESS_S;
    }
    for (size_t i = 0; !rc && i < c->ngrp; i++) rc = hd_check_group(c, &c->grp[i]);
    if (!rc && damage) {
        hd_problem(c, reg->index_path, 0, damage);
        if (c->t.oom) rc = hd_oom();
    }
    return rc ? rc : hd_check_progress(c, 1);
}

int herd_registry_check_with(herd_registry *reg, const herd_check_options *opt,
                             herd_frame **problems)
{
    if (problems) *problems = NULL;
    HD_CHECK_NOT_NULL(reg);
    static const char *const names[] = {"file", "offset", "problem"};
    static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_INT64, HERD_TYPE_STRING};
    static const char *const plan[] = {"check"};
    hd_check_ctx c = {.reg = reg};
    if (hd_options_read(&hd_check_options_desc, opt, &c.o, NULL))
        return hd_error_prefix("herd_registry_check_with: ");
    memset(&c.p, 0, sizeof c.p);
    hd_scope scope;
    hd_scope_enter(&scope, plan, 1, NULL, NULL);
    int rc = tb_init(&c.t, names, types, 3);
    if (!rc) rc = hd_check_journal(&c);
    if (!rc) rc = hd_check_index(&c);
    if (!rc) rc = hd_vfs_list_dir(reg->vfs, reg->dir, hd_check_entry, &c);
    if (!rc) rc = hd_check_artifacts(&c);
    free(c.buf);
    free(c.grp);
    free(c.art);
    hd_arena_free(c.ar);
    size_t n = c.t.nrows;
    char first[2048] = "";
    if (!rc && n) {
        const char *const *files = c.t.c[0].v;
        const int64_t *offs = c.t.c[1].v;
        const char *const *what = c.t.c[2].v;
        snprintf(first, sizeof first, "%s at offset %lld: %s", files[0], (long long)offs[0],
                 what[0]);
    }
    if (!rc && problems) rc = tb_frame(&c.t, problems);
    tb_free(&c.t);
    if (!rc && n)
        rc = hd_error(HERD_ECORRUPT, "registry %s: %zu problem%s found; the first: %s",
                      reg->dir, n, n == 1 ? "" : "s", first);
    hd_scope_leave(&scope);
    return rc;
}
