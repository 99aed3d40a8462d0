/* commit.c -- committing a batch: the plan (the batch's operations checked
 * against the state and numbered), its encoding as one journal record
 * (written in chunks as it is encoded, record.c), and writing the
 * artifacts.  Moved from registry.c (handle_internal.h has the overview). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/vfs_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"

/* ------------------------------------------------------------------------
 * Planning a commit
 *
 * A small map keyed by strings ("family\0key", "family\0key\0alias",
 * idempotency keys) to numbers: the versions pending in this batch, the
 * aliases as the batch moves them, the idempotency keys it adds.
 * --------------------------------------------------------------------- */

typedef struct hd_pmap_ent {
    const char *k;
    size_t klen;
    uint64_t h;
    int64_t v;
} hd_pmap_ent;

typedef struct hd_pmap {
    hd_pmap_ent *e;
    size_t cap, n;
} hd_pmap;

static hd_pmap_ent *hd_pmap_slot(hd_pmap *m, const char *k, size_t klen, int *found)
{
    uint64_t h = hd_hash_bytes(k, klen, 7);
    *found = 0;
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        hd_pmap_ent *ne = hd_calloc(ncap, sizeof *ne);
        if (!ne) return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].k) continue;
            size_t j = (size_t)m->e[i].h & (ncap - 1);
            while (ne[j].k) j = (j + 1) & (ncap - 1);
            ne[j] = m->e[i];
        }
        free(m->e);
        m->e = ne;
        m->cap = ncap;
    }
    size_t i = (size_t)h & (m->cap - 1);
    for (; m->e[i].k; i = (i + 1) & (m->cap - 1)) {
        if (m->e[i].h == h && m->e[i].klen == klen && !memcmp(m->e[i].k, k, klen)) {
            *found = 1;
            return &m->e[i];
        }
    }
    m->e[i].h = h;
    m->e[i].klen = klen;
    return &m->e[i];
}

typedef struct hd_plan {
    herd_batch *b;
    const hd_rstate *st;
    hd_arena *keys;    /* the maps' keys */
    hd_arena *scratch; /* groups decoded from the index: cleared at each operation */
    hd_pmap next;    /* family\0key -> last version assigned (committed or pending) */
    hd_pmap aliases; /* family\0key\0alias -> version (0: none) */
    hd_pmap idem;    /* key -> item index */
    hd_pmap archived; /* family\0key\0#version of the batch's archives */
    hd_recw *rw;     /* the record, written as it is encoded */
    uint64_t blob_bytes;
} hd_plan;

/* "a\0b" (or "a\0b\0c") in the plan's key arena. */
static const char *hd_pkey(hd_plan *p, const char *a, const char *b, const char *c,
                           size_t *len)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    *len = la + 1 + lb + (c ? 1 + lc : 0);
    char *k = hd_arena_alloc(p->keys, *len + 1);
    if (!k) return NULL;
    memcpy(k, a, la + 1);
    memcpy(k + la + 1, b, lb + 1);
    if (c) memcpy(k + la + lb + 2, c, lc + 1);
    return k;
}

/* Each operation decodes the groups it reads into the scratch arena and
 * keeps nothing of them past its end (the maps copy what they need), so
 * that a commit of 50,000 groups does not hold 50,000 decoded groups. */
static void hd_plan_op_begin(hd_plan *p)
{
    hd_arena_clear(p->scratch);
}

/* The committed group, or NULL. */
static int hd_plan_group(hd_plan *p, const char *family, const char *key, const hd_rgroup **g)
{
    *g = NULL;
    int rc = hd_rstate_find(p->st, family, key, p->scratch, g);
    return rc < 0 ? rc : HERD_OK;
}

/* The map entry of (family, key[, alias]) in `map`, initialised on first
 * use from the committed state: the group's version count, or the
 * alias's version (0: none). */
static int hd_plan_entry(hd_plan *p, hd_pmap *map, const char *family, const char *key,
                         const char *alias, hd_pmap_ent **out)
{
    size_t len;
    const char *k = hd_pkey(p, family, key, alias, &len);
    if (!k) return HERD_ENOMEM;
    int found;
    hd_pmap_ent *e = hd_pmap_slot(map, k, len, &found);
    if (!e) return HERD_ENOMEM;
    if (!found) {
        const hd_rgroup *g;
        int rc = hd_plan_group(p, family, key, &g);
        if (rc) { /* leave the slot empty */
            e->h = 0;
            e->klen = 0;
            return rc;
        }
        const hd_ralias *a = g && alias ? hd_rgroup_alias(g, alias) : NULL;
        e->k = k;
        e->v = alias ? (a ? a->version : 0) : (g ? g->nv : 0);
        map->n++;
    }
    *out = e;
    return HERD_OK;
}

/* The last version of (family, key), committed or pending. */
static int hd_plan_next(hd_plan *p, const char *family, const char *key, hd_pmap_ent **out)
{
    return hd_plan_entry(p, &p->next, family, key, NULL, out);
}

/* Where `alias` of (family, key) points as the batch leaves it so far. */
static int hd_plan_alias(hd_plan *p, const char *family, const char *key, const char *alias,
                         hd_pmap_ent **out)
{
    return hd_plan_entry(p, &p->aliases, family, key, alias, out);
}

static int hd_plan_version(hd_plan *p, hd_bitem *it)
{
    const char *fam, *key;
    uint32_t v;
    hd_plan_op_begin(p);
    if (it->idem) {
        int found;
        hd_pmap_ent *e = hd_pmap_slot(&p->idem, it->idem, strlen(it->idem), &found);
        if (!e) return HERD_ENOMEM;
        if (found) { /* twice in this batch: the same version */
            const hd_bitem *first = &p->b->items[e->v];
            if (strcmp(first->family, it->family) || strcmp(first->key, it->key))
                return hd_error(HERD_ECONFLICT, "idempotency key '%s' is given to versions of "
                                "%s/%s and %s/%s in one batch", it->idem, first->family,
                                first->key, it->family, it->key);
            it->version = first->version;
            it->existed = 1;
            return HERD_OK;
        }
        int rc = hd_rstate_idem(p->st, it->idem, &fam, &key, &v);
        if (rc < 0) {
            e->h = 0;
            e->klen = 0;
            return rc;
        }
        e->k = it->idem;
        e->v = (int64_t)(it - p->b->items);
        p->idem.n++;
        if (rc == 1) {
            if (strcmp(fam, it->family) || strcmp(key, it->key))
                return hd_error(HERD_ECONFLICT, "idempotency key '%s' was committed for "
                                "%s/%s version %u, not for %s/%s: keys must name one group's "
                                "version (use run id + group)", it->idem, fam, key, v,
                                it->family, it->key);
            it->version = v;
            it->existed = 1;
            return HERD_OK;
        }
    }
    hd_pmap_ent *n;
    int rc = hd_plan_next(p, it->family, it->key, &n);
    if (rc) return rc;
    if (n->v >= UINT32_MAX)
        return hd_error(HERD_ELIMIT, "group %s/%s has %lld versions, the most a group can "
                        "hold", it->family, it->key, (long long)n->v);
    it->version = ++n->v;
    it->existed = 0;
    p->blob_bytes += it->len;
    return HERD_OK;
}

static int hd_enc_version(hd_plan *p, const hd_bitem *it, uint32_t pack, uint64_t off)
{
    hd_wbuf *w = hd_recw_op(p->rw);
    hd_wbuf_u8(w, HD_OP_VERSION);
    hd_wbuf_str(w, it->family);
    hd_wbuf_str(w, it->key);
    hd_wbuf_u32(w, (uint32_t)it->version);
    hd_wbuf_u32(w, pack);
    hd_wbuf_u64(w, off);
    hd_wbuf_u32(w, (uint32_t)it->len);
    hd_wbuf_str(w, it->run_id);
    hd_wbuf_str(w, it->idem);
    hd_wbuf_str(w, it->created);
    hd_wbuf_str(w, it->fingerprint);
    hd_wbuf_u32(w, (uint32_t)it->nmetrics);
    for (size_t i = 0; i < it->nmetrics; i++) {
        hd_wbuf_str(w, it->mnames[i]);
        hd_wbuf_f64(w, it->mvalues[i]);
    }
    hd_wbuf_u32(w, (uint32_t)it->ntags);
    for (size_t i = 0; i < it->ntags; i++) {
        hd_wbuf_str(w, it->tnames[i]);
        hd_wbuf_str(w, it->tvalues[i]);
    }
    return hd_recw_op_done(p->rw);
}

/* Whether the batch archives (family, key, version); with `add`, record
 * that it does. */
static int hd_plan_archived(hd_plan *p, const char *family, const char *key, int64_t version,
                            int add, int *found)
{
    char v[32];
    snprintf(v, sizeof v, "#%lld", (long long)version);
    size_t len;
    const char *k = hd_pkey(p, family, key, v, &len);
    if (!k) return HERD_ENOMEM;
    hd_pmap_ent *e = hd_pmap_slot(&p->archived, k, len, found);
    if (!e) return HERD_ENOMEM;
    if (*found || !add) { /* a miss without add leaves the slot empty */
        if (!*found) e->h = 0, e->klen = 0;
        return HERD_OK;
    }
    e->k = k;
    p->archived.n++;
    return HERD_OK;
}

static int hd_plan_alias_op(hd_plan *p, const hd_bop *op)
{
    const hd_bitem *it = op->to_item ? &p->b->items[op->item] : NULL;
    if (it && it->existed) return HERD_OK; /* done by the commit that made it */
    hd_plan_op_begin(p);
    int64_t to = it ? it->version : op->version;
    hd_pmap_ent *n, *a;
    int rc = hd_plan_next(p, op->family, op->key, &n);
    if (!rc) rc = hd_plan_alias(p, op->family, op->key, op->alias, &a);
    if (rc) return rc;
    if (op->expect >= 0 && a->v != op->expect)
        return hd_error(HERD_ECONFLICT, "alias '%s' of %s/%s %s, not %s %lld as expected "
                        "(expect_version): someone moved it; nothing was committed",
                        op->alias, op->family, op->key,
                        a->v ? "points to a version" : "does not exist",
                        op->expect ? "version" : "absent", (long long)op->expect);
    if (to > n->v)
        return hd_error(HERD_ENOTFOUND, "cannot point alias '%s' of %s/%s at version %lld: "
                        "the group %s", op->alias, op->family, op->key, (long long)to,
                        n->v ? "has fewer versions" : "does not exist");
    if (to == 0 && a->v == 0)
        return hd_error(HERD_ENOTFOUND, "cannot delete alias '%s' of %s/%s: it does not "
                        "exist", op->alias, op->family, op->key);
    if (to && !it) { /* an existing version: not archived, before or by this batch */
        const hd_rgroup *g;
        if ((rc = hd_plan_group(p, op->family, op->key, &g))) return rc;
        int found = 0;
        if ((rc = hd_plan_archived(p, op->family, op->key, to, 0, &found))) return rc;
        if (found || (g && to <= g->nv && (g->v[to - 1].flags & HD_RV_ARCHIVED)))
            return hd_error(HERD_EINVAL, "cannot point alias '%s' of %s/%s at version %lld: "
                            "it is archived", op->alias, op->family, op->key, (long long)to);
    }
    hd_wbuf *w = hd_recw_op(p->rw);
    hd_wbuf_u8(w, HD_OP_ALIAS);
    hd_wbuf_str(w, op->family);
    hd_wbuf_str(w, op->key);
    hd_wbuf_str(w, op->alias);
    hd_wbuf_u32(w, (uint32_t)a->v);
    hd_wbuf_u32(w, (uint32_t)to);
    hd_wbuf_str(w, op->reason);
    hd_wbuf_str(w, op->details);
    hd_wbuf_str(w, op->run_id);
    a->v = to;
    return hd_recw_op_done(p->rw);
}

/* Whether an alias (as the batch leaves it) points at version v. */
static int hd_plan_alias_on(hd_plan *p, const hd_rgroup *g, const char *family,
                            const char *key, int64_t v, const char **name)
{
    for (uint32_t i = 0; g && i < g->na; i++) {
        hd_pmap_ent *a;
        int rc = hd_plan_alias(p, family, key, g->a[i].name, &a);
        if (rc) return rc;
        if (a->v == v) {
            *name = g->a[i].name;
            return 1;
        }
    }
    /* aliases the batch creates */
    for (size_t i = 0; i < p->aliases.cap; i++) {
        const hd_pmap_ent *e = &p->aliases.e[i];
        if (!e->k || e->v != v) continue;
        size_t lf = strlen(e->k), lk = strlen(e->k + lf + 1);
        if (!strcmp(e->k, family) && !strcmp(e->k + lf + 1, key)) {
            *name = e->k + lf + lk + 2;
            return 1;
        }
    }
    return 0;
}

static int hd_plan_archive(hd_plan *p, const hd_bop *op)
{
    hd_plan_op_begin(p);
    const hd_rgroup *g;
    int rc = hd_plan_group(p, op->family, op->key, &g);
    if (rc) return rc;
    if (!g || op->version > g->nv)
        return hd_error(HERD_ENOTFOUND, "cannot archive %s/%s version %lld: %s", op->family,
                        op->key, (long long)op->version,
                        g ? "no such version" : "no such group");
    if (g->v[op->version - 1].flags & HD_RV_ARCHIVED) return HERD_OK; /* already */
    const char *alias = NULL;
    rc = hd_plan_alias_on(p, g, op->family, op->key, op->version, &alias);
    if (rc < 0) return rc;
    if (rc == 1)
        return hd_error(HERD_EINVAL, "cannot archive %s/%s version %lld: alias '%s' points to "
                        "it; move the alias first", op->family, op->key, (long long)op->version,
                        alias);
    int found = 0;
    if ((rc = hd_plan_archived(p, op->family, op->key, op->version, 1, &found))) return rc;
    hd_wbuf *w = hd_recw_op(p->rw);
    hd_wbuf_u8(w, HD_OP_ARCHIVE);
    hd_wbuf_str(w, op->family);
    hd_wbuf_str(w, op->key);
    hd_wbuf_u32(w, (uint32_t)op->version);
    hd_wbuf_str(w, op->reason);
    return hd_recw_op_done(p->rw);
}

static void hd_plan_free(hd_plan *p)
{
    free(p->next.e);
    free(p->aliases.e);
    free(p->idem.e);
    free(p->archived.e);
    hd_arena_free(p->keys);
    hd_arena_free(p->scratch);
    memset(p, 0, sizeof *p);
}

/* Assign versions and check every operation against the state. */
static int hd_plan_make(hd_plan *p)
{
    herd_batch *b = p->b;
    int rc = HERD_OK;
    for (size_t i = 0; !rc && i < b->nops; i++)
        if (b->ops[i].kind == HD_B_VERSION) rc = hd_plan_version(p, &b->items[b->ops[i].item]);
    return rc;
}

/* Encode the operations (versions with their pack offsets) into the
 * record, which writes them out a chunk at a time.  An operation the
 * state refuses (an alias conflict) may be found after chunks went out:
 * the caller then cuts the record off (hd_recw_fail). */
static int hd_plan_encode(hd_plan *p)
{
    herd_batch *b = p->b;
    int rc = HERD_OK;
    for (size_t i = 0; !rc && i < b->nops; i++) {
        const hd_bop *op = &b->ops[i];
        switch (op->kind) {
        case HD_B_VERSION: {
            const hd_bitem *it = &b->items[op->item];
            if (!it->existed) rc = hd_enc_version(p, it, it->pack, it->off);
            break;
        }
        case HD_B_ALIAS: rc = hd_plan_alias_op(p, op); break;
        case HD_B_ARCHIVE: rc = hd_plan_archive(p, op); break;
        case HD_B_RUN: {
            hd_wbuf *w = hd_recw_op(p->rw);
            hd_wbuf_u8(w, HD_OP_RUN);
            hd_wbuf_str(w, op->run_id);
            hd_wbuf_str(w, op->params);
            hd_wbuf_str(w, op->summary);
            rc = hd_recw_op_done(p->rw);
            break;
        }
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Writing a commit
 * --------------------------------------------------------------------- */

/* Progress of a commit's artifact writes, reported about every
 * HD_COMMIT_PROGRESS_S on the committing thread (herd_batch_set_progress). */
#define HD_COMMIT_PROGRESS_S 0.25

typedef struct hd_commit_progress {
    const herd_batch *b;
    uint64_t bytes_total, bytes_done;
    double due;
} hd_commit_progress;

static void hd_commit_report(const herd_batch *b, size_t done, uint64_t bytes_done,
                             uint64_t bytes_total)
{
    herd_progress p;
    memset(&p, 0, sizeof p);
    p.groups_total = b->n;
    p.groups_done = done;
    p.bytes_total = bytes_total;
    p.bytes_done = bytes_done;
    /* A commit cannot be cancelled once it writes: the answer is ignored. */
    (void)hd_progress_emit(b->progress, b->progress_user, &p);
}

static void hd_commit_progress_tick(hd_commit_progress *cp, size_t done)
{
    if (!cp->b->progress) return;
    double now = hd_now();
    if (now < cp->due) return;
    hd_commit_report(cp->b, done, cp->bytes_done, cp->bytes_total);
    cp->due = hd_now() + HD_COMMIT_PROGRESS_S;
}

/* Append the batch's new artifacts (held in memory) to the current pack,
 * or a new one; fills *pos and each item's place.  The pack is
 * fdatasynced (and the directory, for a new pack). */
static int hd_write_blobs(herd_registry *reg, herd_batch *b, uint64_t bytes, hd_packpos *pos)
{
    hd_packpos cur = reg->st.pack;
    int is_new = cur.cur == 0 || (cur.end > HD_PACK_HEADER && cur.end + bytes > reg->pack_target);
    uint32_t id = is_new ? cur.max + 1 : cur.cur;
    uint64_t start = is_new ? HD_PACK_HEADER : cur.end;
    hd_vfs_file *f;
    int rc = hd_pack_open_for_append(reg, id, is_new, start, &f);
    if (rc) return rc;
    hd_pack_writer w = {.f = f, .off = start, .hinted = start};
    hd_commit_progress cp = {.b = b, .bytes_total = bytes, .due = hd_now() + HD_COMMIT_PROGRESS_S};
    for (size_t i = 0; !rc && i < b->n; i++) {
        hd_bitem *it = &b->items[i];
        if (it->existed) continue;
        it->pack = id;
        rc = hd_pw_add(&w, it->blob, it->len, &it->off);
        cp.bytes_done += it->len;
        hd_commit_progress_tick(&cp, i + 1);
    }
    if (!rc) rc = hd_pw_flush(&w);
    hd_wbuf_free(&w.buf);
    if (!rc) rc = hd_vfs_fdatasync(f);
    if (!rc && is_new) rc = hd_vfs_sync_dir(reg->vfs, reg->dir);
    if (rc) return rc;
    pos->cur = id;
    pos->end = start + bytes;
    pos->max = id > cur.max ? id : cur.max;
    return HERD_OK;
}

/* Put the batch's own pack (already synced) in place as the next pack id. */
static int hd_place_spill(herd_registry *reg, herd_batch *b, hd_packpos *pos, char *placed,
                          size_t size)
{
    uint32_t id = reg->st.pack.max + 1;
    char path[4200];
    hd_pack_path(reg, id, path, sizeof path);
    pthread_mutex_lock(&reg->pack_mu);
    hd_pack_forget(reg, id); /* a crashed commit's file of that name */
    pthread_mutex_unlock(&reg->pack_mu);
    int rc = hd_vfs_rename(reg->vfs, b->spill_path, path);
    if (rc) return rc;
    snprintf(placed, size, "%s", path); /* moved: a failure from here moves it back */
    if ((rc = hd_vfs_sync_dir(reg->vfs, reg->dir))) return rc;
    for (size_t i = 0; i < b->n; i++) b->items[i].pack = id;
    pos->max = id;
    if (!pos->cur) { /* the first pack: later small commits append to it */
        pos->cur = id;
        pos->end = b->spill.off;
    }
    return HERD_OK;
}

/* Write the planned commit: blobs, then the record (encoded as it is
 * written), synced.  Applying it is left to the caller, once the plan is
 * freed. */
static int hd_commit_write(herd_registry *reg, hd_plan *p)
{
    herd_batch *b = p->b;
    hd_packpos pos = reg->st.pack;
    char placed[4200] = "";
    int rc = HERD_OK;
    if (b->spill.f) rc = hd_place_spill(reg, b, &pos, placed, sizeof placed);
    else if (p->blob_bytes) rc = hd_write_blobs(reg, b, p->blob_bytes, &pos);
    if (!rc) rc = hd_recw_begin(p->rw, reg);
    if (!rc) rc = hd_plan_encode(p);
    int64_t now = hd_now_ms();
    if (now < reg->st.pack.time_ms) now = reg->st.pack.time_ms; /* times never go back */
    int maybe_visible = 0;
    if (rc) rc = hd_recw_fail(p->rw, rc);
    else rc = hd_recw_commit(p->rw, now, &pos, reg->st.seq + 1, &maybe_visible);
    if (rc && maybe_visible) {
        b->committed = -1; /* the record may survive, naming the pack: leave it */
    } else if (rc && *placed) {
        /* Not committed: the pack goes back to the batch, which may be
         * committed again (if this fails too, gc removes the orphan). */
        hd_saved_error e;
        hd_error_save(&e);
        if (hd_vfs_rename(reg->vfs, placed, b->spill_path)) b->committed = -1;
        hd_error_restore(&e);
    }
    return rc;
}

static int hd_batch_commit(herd_batch *batch, uint64_t *bytes);

/* The artifact bytes a commit writes or places: in memory or spilled. */
static uint64_t hd_batch_bytes(const herd_batch *b)
{
    uint64_t n = b->spill.f ? b->spill.off : 0;
    for (size_t i = 0; b->items && i < b->n; i++) /* none left once committed */
        if (b->items[i].blob) n += b->items[i].len;
    return n;
}

int herd_batch_commit(herd_batch *batch)
{
    HD_CHECK_NOT_NULL(batch);
    static const char *const plan[] = {"commit"};
    hd_scope scope;
    hd_scope_enter(&scope, plan, 1, NULL, NULL);
    double t0 = hd_now();
    uint64_t syncs = hd_vfs_syncs, bytes = hd_batch_bytes(batch);
    hd_commit_report(batch, 0, 0, bytes);
    int rc = hd_batch_commit(batch, &bytes);
    if (!rc) {
        size_t added = 0;
        for (size_t i = 0; i < batch->n; i++) {
            int64_t v;
            int existed = 0;
            (void)herd_batch_version(batch, i, &v, &existed);
            added += !existed;
        }
        hd_log(HERD_LOG_INFO,
               "commit to %s: %zu versions (%zu new, %zu already committed), %zu other "
               "operations, %llu bytes, %llu syncs, %s ms",
               batch->reg->dir, batch->n, added, batch->n - added, batch->nops - batch->n,
               (unsigned long long)bytes, (unsigned long long)(hd_vfs_syncs - syncs),
               HD_NUMF("%.1f", 1000 * (hd_now() - t0)));
        hd_commit_report(batch, batch->n, bytes, bytes);
    } else {
        hd_log(HERD_LOG_WARN, "commit to %s failed after %s ms: %s", batch->reg->dir,
               HD_NUMF("%.1f", 1000 * (hd_now() - t0)), herd_last_error());
    }
    hd_scope_leave(&scope);
    return rc;
}

static int hd_batch_commit(herd_batch *batch, uint64_t *bytes)
{
    int rc = hd_batch_open_check(batch, "herd_batch_commit");
    if (rc) return rc;
    herd_registry *reg = batch->reg;
    /* The batch's own pack is made durable before taking the lock: other
     * writers wait only for the record. */
    if (batch->spill.f) {
        rc = hd_pw_flush(&batch->spill);
        if (!rc) rc = hd_vfs_fdatasync(batch->spill.f);
        if (rc) return hd_batch_broken(batch, rc);
    }
    hd_write_mu_lock(reg);
    rc = hd_begin_write(reg, 0);
    if (rc) {
        hd_write_mu_unlock(reg);
        return rc;
    }
    hd_plan p;
    hd_recw rw;
    memset(&p, 0, sizeof p);
    memset(&rw, 0, sizeof rw);
    p.b = batch;
    p.st = &reg->st;
    p.rw = &rw;
    if (!(p.keys = hd_arena_new()) || !(p.scratch = hd_arena_new())) rc = HERD_ENOMEM;
    if (!rc) rc = hd_plan_make(&p);
    if (!rc && !batch->spill.f) *bytes = p.blob_bytes; /* without those already committed */
    if (!rc) rc = hd_commit_write(reg, &p);
    /* The plan's maps and decoded groups go before the record is applied,
     * so that they, the record and the state's new overlay are never all
     * held at once. */
    hd_plan_free(&p);
    if (!rc) {
        batch->committed = 1;
        hd_batch_settle(batch); /* nor the batch: only its version numbers are left */
        hd_recw_apply(&rw, "the record");
    }
    hd_recw_free(&rw);
    if (!rc) hd_maybe_checkpoint(reg, reg->index_damaged); /* a damaged index is replaced */
    hd_writer_unlock(reg);
    hd_write_mu_unlock(reg);
    return rc;
}
