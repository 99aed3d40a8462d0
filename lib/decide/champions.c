/* champions.c -- champions handed to the workers of a distributed cycle:
 * per group, a version and its artifact bytes, serialisable as one
 * checksummed container; and where a worker of the cycle finds a group's
 * champion (the registry in herd_cycle, a set of champions in
 * herd_cycle_train).
 *
 * The container (little-endian): "HERDCHMP", u32 format (1), u64 count,
 * then per champion the group key (u32 length and bytes), the version
 * (u64) and the artifact (u64 length and bytes), and a CRC32 of all that
 * precedes it.  Every artifact is verified again when read: the container
 * is a transport, not a trust boundary.
 */
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"
#include "artifact/artifact_internal.h"
#include "registry/codec_internal.h"
#include "registry/uri_internal.h"
#include "decide/cycle_internal.h"

static const char chmp_magic[8] = {'H', 'E', 'R', 'D', 'C', 'H', 'M', 'P'};
#define CHMP_FORMAT 1u

typedef struct chmp_item {
    int64_t version;
    unsigned char *bytes;
    size_t len;
} chmp_item;

struct herd_champions {
    size_t n, cap;
    const char **keys; /* in arena */
    chmp_item *items;
    hd_key_index index;
    hd_arena *arena;
};

int herd_champions_new(herd_champions **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    herd_champions *c = hd_calloc(1, sizeof *c);
    if (!c) return hd_oom();
    if (!(c->arena = hd_arena_new())) {
        free(c);
        return hd_oom();
    }
    *out = c;
    return HERD_OK;
}

void herd_champions_free(herd_champions *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->items[i].bytes);
    free(c->items);
    free(c->keys);
    hd_key_index_free(&c->index);
    hd_arena_free(c->arena);
    free(c);
}

size_t herd_champions_count(const herd_champions *c) { return c ? c->n : 0; }

int herd_champions_add(herd_champions *c, const char *group, int64_t version,
                       const void *artifact, size_t len)
{
    HD_CHECK_NOT_NULL(c);
    HD_CHECK_NOT_NULL(group);
    HD_CHECK_NOT_NULL(artifact);
    int rc = hd_key_check(group, "group");
    if (rc) return hd_error_prefix("%s: ", __func__);
    if (version < 1 || version > UINT32_MAX)
        return hd_error(HERD_EINVAL, "%s: group '%s': version %lld is out of range; versions "
                        "start at 1", __func__, group, (long long)version);
    if (c->n && hd_key_index_find(&c->index, c->keys, group) != (size_t)-1)
        return hd_error(HERD_EEXISTS, "%s: group '%s' already has a champion in the set",
                        __func__, group);
    hd_artifact_info info;
    if ((rc = hd_artifact_check_bytes(artifact, len, &info)))
        return hd_error_prefix("%s: group '%s': the bytes are not a valid artifact: ",
                               __func__, group);
    hd_artifact_info_free(&info);
    if (c->n == c->cap) {
        size_t cap = c->cap;
        if (hd_grow((void **)&c->items, &cap, c->n + 1, sizeof *c->items) ||
            hd_grow((void **)&c->keys, &c->cap, c->n + 1, sizeof *c->keys))
            return hd_oom();
    }
    const char *key = hd_arena_strndup(c->arena, group, strlen(group));
    unsigned char *copy = hd_malloc(len ? len : 1, 1);
    if (!key || !copy) {
        free(copy);
        return hd_oom();
    }
    memcpy(copy, artifact, len);
    c->keys[c->n] = key;
    if (hd_key_index_add(&c->index, c->keys, c->n)) {
        free(copy);
        return hd_oom();
    }
    c->items[c->n++] = (chmp_item){version, copy, len};
    return HERD_OK;
}

int herd_registry_champions(herd_registry *reg, const char *family, const char *alias,
                            const char *const *groups, size_t n_groups, herd_champions **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(reg);
    HD_CHECK_NOT_NULL(family);
    if (!groups && n_groups)
        return hd_error(HERD_EINVAL, "%s: groups is NULL but n_groups is %zu", __func__,
                        n_groups);
    if (!alias) alias = "champion";
    int rc = hd_id_check(family, "family");
    if (!rc) rc = hd_id_check(alias, "alias");
    if (rc) return hd_error_prefix("%s: ", __func__);
    herd_frame *all = NULL;
    size_t gc = 0;
    if (!groups) { /* every group with the alias */
        rc = herd_registry_aliases(reg, family, alias, &all);
        if (rc == HERD_ENOTFOUND) { /* a family not registered yet has none */
            herd_clear_error();
            rc = HERD_OK;
        }
        if (!rc && all) rc = herd_frame_find(all, "group", &gc);
        n_groups = all ? herd_frame_row_count(all) : 0;
    }
    herd_champions *c = NULL;
    if (!rc) rc = herd_champions_new(&c);
    for (size_t i = 0; !rc && i < n_groups; i++) {
        const char *key = NULL;
        if (groups) key = groups[i];
        else herd_frame_get_string(all, gc, i, &key);
        if (!key) {
            rc = hd_error(HERD_EINVAL, "%s: groups[%zu] is NULL", __func__, i);
            break;
        }
        int64_t v = 0;
        herd_artifact *a = NULL;
        rc = herd_registry_resolve(reg, family, key, alias, &v);
        if (rc == HERD_ENOTFOUND) { /* no champion: the group is left out */
            herd_clear_error();
            rc = HERD_OK;
            continue;
        }
        if (!rc) rc = herd_registry_load(reg, family, key, v, &a);
        size_t len = 0;
        const unsigned char *bytes = a ? hd_artifact_bytes(a, &len) : NULL;
        if (!rc) rc = herd_champions_add(c, key, v, bytes, len);
        herd_artifact_free(a);
    }
    herd_frame_free(all);
    if (rc) {
        herd_champions_free(c);
        return rc;
    }
    *out = c;
    return HERD_OK;
}

int herd_champions_to_buffer(const herd_champions *c, void **data, size_t *len)
{
    HD_CHECK_NOT_NULL(data);
    *data = NULL;
    HD_CHECK_NOT_NULL(len);
    *len = 0;
    HD_CHECK_NOT_NULL(c);
    hd_wbuf b = {0};
    hd_envelope_begin(&b, chmp_magic, CHMP_FORMAT);
    hd_wbuf_u64(&b, c->n);
    for (size_t i = 0; i < c->n; i++) {
        hd_wbuf_str(&b, c->keys[i]);
        hd_wbuf_u64(&b, (uint64_t)c->items[i].version);
        hd_wbuf_u64(&b, c->items[i].len);
        hd_wbuf_bytes(&b, c->items[i].bytes, c->items[i].len);
    }
    if (hd_envelope_seal(&b)) return HERD_ENOMEM;
    *data = b.p;
    *len = b.n;
    return HERD_OK;
}

int herd_champions_read(const void *data, size_t len, herd_champions **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(data);
    hd_rbuf r;
    int rc = hd_envelope_open(data, len, chmp_magic, CHMP_FORMAT, __func__,
                              "serialised champions", "herd_champions_to_buffer", &r);
    if (rc) return rc;
    uint64_t n = hd_rbuf_u64(&r);
    herd_champions *c = NULL;
    rc = herd_champions_new(&c);
    hd_arena *tmp = hd_arena_new();
    if (!rc && !tmp) rc = hd_oom();
    for (uint64_t i = 0; !rc && i < n && !r.bad; i++) {
        const char *key = hd_rbuf_str(&r, tmp);
        int64_t version = (int64_t)hd_rbuf_u64(&r);
        uint64_t alen = hd_rbuf_u64(&r);
        if (r.bad || !key || alen > r.n - r.pos) {
            r.bad = 1;
            break;
        }
        rc = herd_champions_add(c, key, version, r.p + r.pos, (size_t)alen);
        r.pos += (size_t)alen;
    }
    if (!rc && (r.bad || r.pos != r.n))
        rc = hd_error(HERD_EFORMAT, "%s: the champions are malformed at byte %zu of %zu",
                      __func__, r.pos, len);
    hd_arena_free(tmp);
    if (rc) {
        herd_champions_free(c);
        return rc;
    }
    *out = c;
    return HERD_OK;
}

int hd_champion_get(const hd_champion_source *src, const char *key, int64_t *version,
                    herd_model **model)
{
    *version = 0;
    *model = NULL;
    herd_artifact *a = NULL;
    int rc = HERD_OK;
    if (src->reg) {
        rc = herd_registry_resolve(src->reg, src->family, key, src->alias, version);
        if (rc == HERD_ENOTFOUND) {
            herd_clear_error();
            *version = 0;
            return HERD_OK;
        }
        if (!rc && !src->version_only)
            rc = herd_registry_load(src->reg, src->family, key, *version, &a);
    } else if (src->champions) {
        const herd_champions *c = src->champions;
        size_t i = c->n ? hd_key_index_find(&c->index, c->keys, key) : (size_t)-1;
        if (i == (size_t)-1) return HERD_OK;
        *version = c->items[i].version;
        if (!src->version_only) rc = herd_artifact_read(c->items[i].bytes, c->items[i].len, &a);
    }
    if (rc) {
        herd_artifact_free(a);
        return rc;
    }
    return hd_artifact_into_model(a, model);
}
