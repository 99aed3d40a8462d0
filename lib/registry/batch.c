/* batch.c -- batches: begin, add (artifacts or bytes), set an alias,
 * archive, record a run, and the versions a commit gave; each checks its
 * arguments as it is called, so that a commit only plans.  A batch past
 * the spill size writes its artifacts to a pack of its own as they are
 * added.  Moved from registry.c (handle_internal.h has the overview). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/json_internal.h"
#include "common/mem_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"
#include "artifact/artifact_internal.h"
#include "registry/batch_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"
#include "registry/uri_internal.h"

/* ------------------------------------------------------------------------
 * Batches
 * --------------------------------------------------------------------- */

int herd_registry_begin(herd_registry *reg, herd_batch **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    if (reg->opt.read_only)
        return hd_error(HERD_EINVAL, "herd_registry_begin: registry %s was opened read-only",
                        reg->dir);
    if (reg->damaged)
        return hd_error(HERD_ECORRUPT, "herd_registry_begin: registry %s was opened over a "
                        "journal damaged at offset %llu (allow_damaged): it is read-only",
                        reg->dir, (unsigned long long)reg->damaged_off);
    herd_batch *b = hd_calloc(1, sizeof *b);
    if (!b) return HERD_ENOMEM;
    if (!(b->arena = hd_arena_new())) {
        free(b);
        return HERD_ENOMEM;
    }
    b->reg = reg;
    b->spill_at = reg->spill_bytes;
    *out = b;
    return HERD_OK;
}

void hd_batch_stream(herd_batch *b)
{
    if (b->spill_at > b->reg->stream_bytes) b->spill_at = b->reg->stream_bytes;
}

int herd_batch_set_progress(herd_batch *batch, herd_progress_fn fn, void *user)
{
    HD_CHECK_NOT_NULL(batch);
    batch->progress = fn;
    batch->progress_user = user;
    return HERD_OK;
}

void herd_batch_free(herd_batch *batch)
{
    if (!batch) return;
    /* Closing and removing the batch's own pack may fail (and say so):
     * the caller's last error -- often why the batch is being freed --
     * stays as it was. */
    hd_error_kept kept;
    hd_error_keep(&kept);
    for (size_t i = 0; batch->items && i < batch->n; i++) free(batch->items[i].blob);
    if (batch->spill.f) {
        const hd_vfs *vfs = batch->spill.f->vfs;
        hd_vfs_close(batch->spill.f);
        /* Committed, it was renamed into place; otherwise it is garbage
         * (unless a commit that could not be undone left it in place, under
         * its pack name: then spill_path names nothing). */
        if (batch->committed <= 0) (void)hd_vfs_unlink(vfs, batch->spill_path);
    }
    hd_wbuf_free(&batch->spill.buf);
    free(batch->spill_path);
    free(batch->items);
    free(batch->settled);
    free(batch->ops);
    hd_arena_free(batch->arena);
    free(batch);
    hd_error_put_back(&kept);
}

void hd_batch_settle(herd_batch *b)
{
    hd_error_kept kept;
    hd_error_keep(&kept);
    hd_bsettled *v = hd_malloc(b->n ? b->n : 1, sizeof *v);
    hd_error_put_back(&kept);
    if (!v) return;
    for (size_t i = 0; i < b->n; i++) {
        v[i] = (hd_bsettled){(uint32_t)b->items[i].version, b->items[i].existed};
        free(b->items[i].blob);
    }
    free(b->items);
    free(b->ops);
    hd_arena_free(b->arena);
    b->items = NULL;
    b->ops = NULL;
    b->arena = NULL;
    b->cap = b->capops = 0;
    b->settled = v;
}

/* A write or sync of the batch's own pack failed: what is on disk is
 * unknown (a failed fsync is never retried), so the batch cannot be
 * committed; its file goes with it. */
int hd_batch_broken(herd_batch *b, int rc)
{
    b->committed = -1;
    return rc;
}

/* Move the batch's artifacts to its own pack file. */
static int hd_batch_spill(herd_batch *b)
{
    herd_registry *reg = b->reg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t n = strlen(reg->dir) + 96;
    if (!(b->spill_path = hd_malloc(n, 1))) return HERD_ENOMEM;
    snprintf(b->spill_path, n, "%s/pack-tmp-%ld-%lx-%llx", reg->dir, (long)getpid(),
             (unsigned long)(uintptr_t)b, (unsigned long long)ts.tv_nsec);
    hd_vfs_file *f;
    int rc = hd_vfs_open(reg->vfs, b->spill_path, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_EXCL, &f);
    if (rc) {
        free(b->spill_path);
        b->spill_path = NULL;
        return rc;
    }
    b->spill.f = f;
    /* The lock says "a live batch owns this": gc removes unlocked ones. */
    rc = hd_vfs_lock(f, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0);
    unsigned char h[HD_PACK_HEADER];
    memset(h, 0, sizeof h);
    memcpy(h, hd_pack_magic, 8);
    if (!rc) rc = hd_pw_add(&b->spill, h, sizeof h, NULL);
    for (size_t i = 0; !rc && i < b->n; i++) {
        hd_bitem *it = &b->items[i];
        rc = hd_pw_add(&b->spill, it->blob, it->len, &it->off);
        if (!rc) {
            free(it->blob);
            it->blob = NULL;
        }
    }
    b->mem_bytes = 0;
    return rc;
}

/* Keep the artifact's bytes: in memory, or in the batch's own pack. */
static int hd_batch_keep(herd_batch *b, hd_bitem *it, const void *bytes, size_t len)
{
    it->len = len;
    if (!b->spill.f && b->mem_bytes + len > b->spill_at) {
        int rc = hd_batch_spill(b);
        if (rc) return hd_batch_broken(b, rc);
    }
    if (b->spill.f) {
        int rc = hd_pw_add(&b->spill, bytes, len, &it->off);
        return rc ? hd_batch_broken(b, rc) : HERD_OK;
    }
    if (!(it->blob = hd_malloc(len ? len : 1, 1))) return HERD_ENOMEM;
    memcpy(it->blob, bytes, len);
    b->mem_bytes += len;
    return HERD_OK;
}

size_t herd_batch_count(const herd_batch *batch) { return batch ? batch->n : 0; }

/* A string the batch keeps (the same short text as one stored lately is
 * shared: strings in the arena never change). */
static const char *hd_bdup(herd_batch *b, const char *s, int *oom)
{
    if (!s) return NULL;
    const char *d = hd_arena_strndup_shared(b->arena, &b->recent, s, strlen(s));
    if (!d) *oom = 1;
    return d;
}

int hd_batch_open_check(const herd_batch *b, const char *fn)
{
    if (b->committed > 0)
        return hd_error(HERD_EINVAL, "%s: the batch was already committed; begin a new one",
                        fn);
    if (b->committed < 0)
        return hd_error(HERD_EIO, "%s: writing or syncing this batch's artifacts failed "
                        "earlier (or its commit could not be undone); begin a new batch", fn);
    return HERD_OK;
}

/* Free text kept in the registry (reasons, tag values, idempotency keys):
 * UTF-8 without control characters, at most `max` bytes. */
static int hd_text_check(const char *s, size_t max, const char *what)
{
    if (!s) return HERD_OK;
    size_t n = strlen(s), bad;
    if (n > max)
        return hd_error(HERD_EINVAL, "%s is %zu bytes long; the limit is %zu", what, n, max);
    if (!hd_utf8_valid(s, n, &bad))
        return hd_error(HERD_EINVAL, "%s is not valid UTF-8 (byte %zu)", what, bad);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return hd_error(HERD_EINVAL, "%s contains a control character at byte %zu", what,
                            i);
    return HERD_OK;
}

/* A JSON object text (run params and summary, alias details), read as
 * strictly as artifact metadata: duplicate keys or U+0000 are refused. */
static int hd_json_object_check(const char *s, const char *what)
{
    if (!s) return HERD_OK;
    size_t n = strlen(s);
    if (n > HERD_JSON_MAX)
        return hd_error(HERD_EINVAL, "%s is %zu bytes long; the limit is %u", what, n,
                        HERD_JSON_MAX);
    hd_json_limits lim = {.max_depth = 64, .max_values = 100000};
    cJSON *j = NULL;
    int rc = hd_json_parse(s, n, what, &lim, &j);
    int object = !rc && cJSON_IsObject(j);
    cJSON_Delete(j);
    if (rc == HERD_ENOMEM) return rc; /* not the caller's mistake */
    if (rc) return hd_error(HERD_EINVAL, "%s", herd_last_error());
    if (!object) return hd_error(HERD_EINVAL, "%s is JSON but not an object ({...})", what);
    return HERD_OK;
}

static int hd_version_options_read(const herd_version_options *in, herd_version_options *o)
{
    return hd_options_read(&hd_version_options_desc, in, o, NULL);
}

static int hd_metric_name_check(const char *name, size_t i)
{
    char what[64];
    snprintf(what, sizeof what, "opt->metric_names[%zu]", i);
    if (!name) return hd_error(HERD_EINVAL, "%s is NULL", what);
    if (!*name) return hd_error(HERD_EINVAL, "%s is empty", what);
    return hd_text_check(name, HERD_NAME_MAX, what);
}

/* Check the options of one added version against the artifact's fields and
 * fill the item. */
static int hd_item_fill(herd_batch *b, const hd_artifact_info *info,
                        const herd_version_options *o, hd_bitem *it)
{
    const char *family = o->family ? o->family : info->family;
    const char *key = o->group ? o->group : info->group;
    const char *run = o->run_id ? o->run_id : info->run_id;
    const char *idem = o->idempotency_key ? o->idempotency_key : info->idempotency_key;
    if (!family)
        return hd_error(HERD_EINVAL, "herd_batch_add: the version has no family: set "
                        "opt->family, or build the artifact with one");
    if (!key)
        return hd_error(HERD_EINVAL, "herd_batch_add: the version has no group: set "
                        "opt->group, or build the artifact from a fit");
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_key_check(key, "group");
    if (!rc && run) rc = hd_id_check(run, "run id");
    if (!rc && o->alias) rc = hd_id_check(o->alias, "opt->alias");
    if (!rc && o->alias && !strcmp(o->alias, "latest"))
        rc = hd_error(HERD_EINVAL, "opt->alias: 'latest' is reserved (it always names the "
                      "newest version)");
    if (!rc && o->idempotency_key && !*o->idempotency_key)
        rc = hd_error(HERD_EINVAL, "opt->idempotency_key is empty; pass NULL for none");
    if (!rc) rc = hd_text_check(idem, HD_IDEM_MAX, o->idempotency_key ? "opt->idempotency_key"
                                : "the artifact's idempotency_key");
    if (!rc && o->n_tags && (!o->tag_names || !o->tag_values))
        rc = hd_error(HERD_EINVAL, "opt->n_tags is %zu but opt->tag_names or opt->tag_values "
                      "is NULL", o->n_tags);
    if (!rc && o->n_metrics && (!o->metric_names || !o->metric_values))
        rc = hd_error(HERD_EINVAL, "opt->n_metrics is %zu but opt->metric_names or "
                      "opt->metric_values is NULL", o->n_metrics);
    for (size_t i = 0; !rc && i < o->n_tags; i++) {
        char what[64];
        snprintf(what, sizeof what, "tag name opt->tag_names[%zu]", i);
        if (!o->tag_names[i]) rc = hd_error(HERD_EINVAL, "%s is NULL", what);
        else rc = hd_id_check(o->tag_names[i], what);
        snprintf(what, sizeof what, "tag value opt->tag_values[%zu]", i);
        if (!rc && !o->tag_values[i]) rc = hd_error(HERD_EINVAL, "%s is NULL", what);
        if (!rc) rc = hd_text_check(o->tag_values[i], HERD_TAG_VALUE_MAX, what);
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(o->tag_names[i], o->tag_names[j]))
                rc = hd_error(HERD_EINVAL, "tag '%s' is given twice (opt->tag_names[%zu] and "
                              "[%zu])", o->tag_names[i], j, i);
    }
    for (size_t i = 0; !rc && i < o->n_metrics; i++) rc = hd_metric_name_check(o->metric_names[i], i);
    if (rc) return rc;
    int oom = 0;
    it->family = hd_bdup(b, family, &oom);
    it->key = hd_bdup(b, key, &oom);
    it->run_id = hd_bdup(b, run, &oom);
    it->idem = hd_bdup(b, idem, &oom);
    it->created = hd_bdup(b, info->created, &oom);
    it->fingerprint = hd_bdup(b, info->fingerprint, &oom);
    it->alias = hd_bdup(b, o->alias, &oom);
    /* Metrics: the artifact's, then the options' (which win on a name). */
    size_t nm = info->nmetrics + o->n_metrics;
    it->mnames = nm ? hd_arena_alloc(b->arena, nm * sizeof *it->mnames) : NULL;
    it->mvalues = nm ? hd_arena_alloc(b->arena, nm * sizeof *it->mvalues) : NULL;
    if (nm && (!it->mnames || !it->mvalues)) oom = 1;
    for (size_t i = 0; !oom && i < nm; i++) {
        int extra = i >= info->nmetrics;
        const char *name = extra ? o->metric_names[i - info->nmetrics] : info->metric_names[i];
        double v = extra ? o->metric_values[i - info->nmetrics] : info->metric_values[i];
        size_t j = 0;
        while (j < it->nmetrics && strcmp(it->mnames[j], name)) j++;
        if (j == it->nmetrics) it->mnames[it->nmetrics++] = hd_bdup(b, name, &oom);
        it->mvalues[j] = v;
    }
    it->ntags = o->n_tags;
    it->tnames = o->n_tags ? hd_arena_alloc(b->arena, o->n_tags * sizeof *it->tnames) : NULL;
    it->tvalues = o->n_tags ? hd_arena_alloc(b->arena, o->n_tags * sizeof *it->tvalues) : NULL;
    if (o->n_tags && (!it->tnames || !it->tvalues)) oom = 1;
    for (size_t i = 0; !oom && i < o->n_tags; i++) {
        it->tnames[i] = hd_bdup(b, o->tag_names[i], &oom);
        it->tvalues[i] = hd_bdup(b, o->tag_values[i], &oom);
    }
    return oom ? hd_oom() : HERD_OK;
}

int hd_batch_reserve(herd_batch *b, size_t versions, size_t ops)
{
    size_t ni = b->n + versions, no = b->nops + ops;
    if (hd_grow_from((void **)&b->items, &b->cap, ni, sizeof *b->items, ni) ||
        hd_grow_from((void **)&b->ops, &b->capops, no, sizeof *b->ops, no))
        return HERD_ENOMEM;
    return HERD_OK;
}

static int hd_push_op(herd_batch *b, const hd_bop *op)
{
    if (b->nops == b->capops &&
        hd_grow((void **)&b->ops, &b->capops, b->nops + 1, sizeof *b->ops))
        return HERD_ENOMEM;
    b->ops[b->nops++] = *op;
    return HERD_OK;
}

static int hd_batch_add_item(herd_batch *b, const hd_artifact_info *info, const void *bytes,
                             size_t len, const herd_version_options *opt, size_t *index,
                             const char *fn)
{
    herd_version_options o;
    int rc = hd_version_options_read(opt, &o);
    if (rc) return hd_error_prefix("%s: ", fn);
    if (len > UINT32_MAX)
        return hd_error(HERD_ELIMIT, "%s: the artifact is %zu bytes; the registry stores "
                        "artifacts up to 4 GiB", fn, len);
    if (b->n == b->cap && hd_grow((void **)&b->items, &b->cap, b->n + 1, sizeof *b->items))
        return HERD_ENOMEM;
    hd_bitem it;
    memset(&it, 0, sizeof it);
    if ((rc = hd_item_fill(b, info, &o, &it))) return rc;
    if ((rc = hd_batch_keep(b, &it, bytes, len))) return rc;
    hd_bop v = {.kind = HD_B_VERSION, .item = b->n};
    if ((rc = hd_push_op(b, &v))) {
        free(it.blob);
        return rc;
    }
    if (it.alias) {
        hd_bop a = {.kind = HD_B_ALIAS, .family = it.family, .key = it.key, .alias = it.alias,
                    .reason = "registered", .run_id = it.run_id, .item = b->n, .to_item = 1,
                    .expect = -1};
        if ((rc = hd_push_op(b, &a))) {
            b->nops--;
            free(it.blob);
            return rc;
        }
    }
    b->items[b->n] = it;
    if (index) *index = b->n;
    b->n++;
    return HERD_OK;
}

int herd_batch_add(herd_batch *batch, const herd_artifact *artifact,
                   const herd_version_options *opt, size_t *index)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(artifact);
    int rc = hd_batch_open_check(batch, __func__);
    if (rc) return rc;
    hd_artifact_info info;
    if ((rc = hd_artifact_info_get(artifact, &info))) return rc;
    size_t len;
    const unsigned char *bytes = hd_artifact_bytes(artifact, &len);
    rc = hd_batch_add_item(batch, &info, bytes, len, opt, index, __func__);
    hd_artifact_info_free(&info);
    return rc;
}

/* herd_batch_add_bytes and hd_batch_add_bytes_checked: the model is
 * validated too when `model` is 1 and the caller's opt->check_model says
 * so, after the header, checksums and metadata (which name the group). */
static int hd_batch_add_serialised(herd_batch *b, const void *data, size_t len,
                                   const herd_version_options *opt, size_t *index, int model,
                                   const char *fn)
{
    herd_version_options o;
    int rc = hd_batch_open_check(b, fn);
    if (rc) return rc;
    if ((rc = hd_version_options_read(opt, &o))) return hd_error_prefix("%s: ", fn);
    hd_artifact_info info;
    if ((rc = hd_artifact_check_bytes(data, len, &info)))
        return rc == HERD_ENOMEM ? rc
                                 : hd_error_prefix("%s: the bytes are not a valid artifact: ", fn);
    if (model && o.check_model && (rc = hd_artifact_check_model(data, len, NULL))) {
        if (rc != HERD_ENOMEM)
            hd_error_prefix("%s: family '%s', group '%s': the artifact's model would never "
                            "load, so it is not added (opt->check_model = 0 adds it "
                            "unchecked): ", fn,
                            o.family ? o.family : info.family ? info.family : "?",
                            o.group ? o.group : info.group ? info.group : "?");
        hd_artifact_info_free(&info);
        return rc;
    }
    rc = hd_batch_add_item(b, &info, data, len, opt, index, fn);
    hd_artifact_info_free(&info);
    return rc;
}

int herd_batch_add_bytes(herd_batch *batch, const void *data, size_t len,
                         const herd_version_options *opt, size_t *index)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(data);
    return hd_batch_add_serialised(batch, data, len, opt, index, 1, __func__);
}

int hd_batch_add_bytes_checked(herd_batch *batch, const void *data, size_t len,
                               const herd_version_options *opt, size_t *index)
{
    return hd_batch_add_serialised(batch, data, len, opt, index, 0, "herd_batch_add_bytes");
}

static int hd_alias_options_read(const herd_alias_options *in, herd_alias_options *o)
{
    int rc = hd_options_read(&hd_alias_options_desc, in, o, NULL);
    if (!rc && o->run_id) rc = hd_id_check(o->run_id, "opt->run_id");
    if (!rc) rc = hd_text_check(o->reason, HERD_TAG_VALUE_MAX, "opt->reason");
    if (!rc) rc = hd_json_object_check(o->details, "opt->details");
    return rc;
}

/* family / group / alias arguments of the batch calls. */
static int hd_target_check(const char *family, const char *group, const char *alias)
{
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_key_check(group, "group");
    if (!rc && alias) rc = hd_id_check(alias, "alias");
    if (!rc && alias && !strcmp(alias, "latest"))
        rc = hd_error(HERD_EINVAL, "alias 'latest' is reserved (it always names the newest "
                      "version that is not archived)");
    return rc;
}

int herd_batch_set_alias(herd_batch *batch, const char *family, const char *group,
                         const char *alias, int64_t version, const herd_alias_options *opt)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    HD_CHECK_NOT_NULL(alias);
    int rc = hd_batch_open_check(batch, __func__);
    if (!rc) rc = hd_target_check(family, group, alias);
    if (!rc && (version < 0 || version > UINT32_MAX))
        rc = hd_error(HERD_EINVAL, "%s: version %lld is out of range; give a version number, "
                      "or 0 to delete the alias", __func__, (long long)version);
    herd_alias_options o;
    if (!rc) rc = hd_alias_options_read(opt, &o);
    if (rc) return hd_error_prefix("%s: ", __func__);
    int oom = 0;
    hd_bop op = {.kind = HD_B_ALIAS, .family = hd_bdup(batch, family, &oom),
                 .key = hd_bdup(batch, group, &oom), .alias = hd_bdup(batch, alias, &oom),
                 .reason = hd_bdup(batch, o.reason, &oom),
                 .details = hd_bdup(batch, o.details, &oom),
                 .run_id = hd_bdup(batch, o.run_id, &oom), .version = version,
                 .expect = o.expect_version};
    return oom ? hd_oom() : hd_push_op(batch, &op);
}

int hd_batch_alias_item(herd_batch *b, size_t item, const char *alias,
                        const herd_alias_options *opt)
{
    int rc = hd_batch_open_check(b, __func__);
    if (!rc && item >= b->n)
        rc = hd_error(HERD_EINVAL, "%s: item %zu is out of range (the batch holds %zu "
                      "versions)", __func__, item, b->n);
    if (!rc) rc = hd_target_check(b->items[item].family, b->items[item].key, alias);
    herd_alias_options o;
    if (!rc) rc = hd_alias_options_read(opt, &o);
    if (rc) return rc;
    int oom = 0;
    hd_bop op = {.kind = HD_B_ALIAS, .family = b->items[item].family, .key = b->items[item].key,
                 .alias = hd_bdup(b, alias, &oom), .reason = hd_bdup(b, o.reason, &oom),
                 .details = hd_bdup(b, o.details, &oom), .run_id = hd_bdup(b, o.run_id, &oom),
                 .item = item, .to_item = 1, .expect = o.expect_version};
    return oom ? hd_oom() : hd_push_op(b, &op);
}

int herd_batch_archive(herd_batch *batch, const char *family, const char *group,
                       int64_t version, const char *reason)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    int rc = hd_batch_open_check(batch, __func__);
    if (!rc) rc = hd_target_check(family, group, NULL);
    if (!rc && (version < 1 || version > UINT32_MAX))
        rc = hd_error(HERD_EINVAL, "version %lld is out of range; versions start at 1",
                      (long long)version);
    if (!rc) rc = hd_text_check(reason, HERD_TAG_VALUE_MAX, "reason");
    if (rc) return hd_error_prefix("%s: ", __func__);
    int oom = 0;
    hd_bop op = {.kind = HD_B_ARCHIVE, .family = hd_bdup(batch, family, &oom),
                 .key = hd_bdup(batch, group, &oom), .reason = hd_bdup(batch, reason, &oom),
                 .version = version};
    return oom ? hd_oom() : hd_push_op(batch, &op);
}

int herd_batch_set_run(herd_batch *batch, const char *run_id, const char *params_json,
                       const char *summary_json)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(run_id);
    int rc = hd_batch_open_check(batch, __func__);
    if (!rc) rc = hd_id_check(run_id, "run id");
    if (!rc) rc = hd_json_object_check(params_json, "params_json");
    if (!rc) rc = hd_json_object_check(summary_json, "summary_json");
    if (rc) return hd_error_prefix("%s: ", __func__);
    int oom = 0;
    hd_bop op = {.kind = HD_B_RUN, .run_id = hd_bdup(batch, run_id, &oom),
                 .params = hd_bdup(batch, params_json, &oom),
                 .summary = hd_bdup(batch, summary_json, &oom)};
    return oom ? hd_oom() : hd_push_op(batch, &op);
}

int herd_batch_version(const herd_batch *batch, size_t index, int64_t *version, int *existed)
{
    HD_CHECK_NOT_NULL(batch);
    HD_CHECK_NOT_NULL(version);
    *version = 0;
    if (existed) *existed = 0;
    if (batch->committed <= 0)
        return hd_error(HERD_EINVAL, "herd_batch_version: the batch is not committed yet; "
                        "versions are assigned by herd_batch_commit()");
    if (index >= batch->n)
        return hd_error(HERD_EINVAL, "herd_batch_version: index %zu is out of range; the "
                        "batch has %zu versions", index, batch->n);
    if (batch->settled) {
        *version = batch->settled[index].version;
        if (existed) *existed = batch->settled[index].existed;
    } else {
        *version = batch->items[index].version;
        if (existed) *existed = batch->items[index].existed;
    }
    return HERD_OK;
}
