/* maintenance.c -- rebuilding the index from the journal, and garbage
 * collection: live artifacts of packs with dead bytes move to a new pack,
 * dead packs and stale spill files go.  Moved from registry.c
 * (handle_internal.h has the overview). */

#include <stdio.h> /* snprintf, sscanf */
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "artifact/artifact_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"

/* ------------------------------------------------------------------------
 * Index maintenance, garbage collection and checks
 * --------------------------------------------------------------------- */

int herd_registry_rebuild_index(herd_registry *reg)
{
    HD_CHECK_NOT_NULL(reg);
    if (reg->opt.read_only)
        return hd_error(HERD_EINVAL, "herd_registry_rebuild_index: registry %s was opened "
                        "read-only", reg->dir);
    hd_write_mu_lock(reg);
    int rc = hd_begin_write(reg, 1);
    if (!rc) {
        /* From the journal alone (the index is what may be damaged), read
         * past any damaged record: each costs only what it held (logged). */
        hd_rstate st;
        uint64_t jend = 0;
        hd_loss_log log = {0};
        hd_tail tail;
        rc = hd_rstate_init(&st, NULL, 0);
        if (!rc) rc = hd_registry_replay(reg, &st, &jend, &log);
        if (!rc) rc = hd_segments_write(reg, &st, jend, 0); /* a base of everything */
        if (st.arena) hd_rstate_free(&st);
        if (!rc && log.records)
            hd_log(HERD_LOG_WARN, "registry %s: the index was rebuilt past %zu damaged journal "
                   "stretch%s, the first at offset %llu; lost: %s", reg->dir, log.records,
                   log.records == 1 ? "" : "es", (unsigned long long)log.first,
                   log.text.n ? (const char *)log.text.p : "nothing readable");
        hd_loss_log_free(&log);
        if (!rc) {
            reg->index_damaged = 0;
            reg->damaged = 0;
            rc = hd_reload(reg, &tail);
        }
        if (!rc) hd_segments_prune(reg); /* every delta: the base covers them */
        hd_writer_unlock(reg);
    }
    hd_write_mu_unlock(reg);
    return rc;
}

/* ---- gc ---- */

typedef struct hd_gc_pack {
    uint32_t id;
    uint64_t live, dead;
} hd_gc_pack;

typedef struct hd_gc {
    hd_gc_pack *packs;
    size_t n, cap;
    int rc;
} hd_gc;

static hd_gc_pack *hd_gc_pack_of(hd_gc *g, uint32_t id)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->packs[i].id == id) return &g->packs[i];
    if (g->n == g->cap && hd_grow((void **)&g->packs, &g->cap, g->n + 1, sizeof *g->packs))
        return NULL;
    g->packs[g->n] = (hd_gc_pack){id, 0, 0};
    return &g->packs[g->n++];
}

static int hd_gc_count(void *ctx, const hd_rgroup *g)
{
    hd_gc *gc = ctx;
    for (uint32_t i = 0; i < g->nv; i++) {
        const hd_rver *v = &g->v[i];
        if (!v->pack) continue;
        hd_gc_pack *p = hd_gc_pack_of(gc, v->pack);
        if (!p) return HERD_ENOMEM;
        if (v->flags & HD_RV_ARCHIVED) p->dead += v->len;
        else p->live += v->len;
    }
    return 0;
}

static int hd_gc_dirty(const hd_gc *gc, uint32_t id)
{
    for (size_t i = 0; i < gc->n; i++)
        if (gc->packs[i].id == id) return gc->packs[i].dead > 0;
    return 0;
}

typedef struct hd_gc_move {
    herd_registry *reg;
    const hd_gc *gc;
    hd_pack_writer *w;
    uint32_t new_id;
    hd_recw *rw;
    unsigned char *buf;
    size_t bufcap;
} hd_gc_move;

/* Copy the live artifacts of dirty packs to the new pack; relocate every
 * version of a dirty pack (archived ones to "no pack"). */
static int hd_gc_relocate(void *ctx, const hd_rgroup *g)
{
    hd_gc_move *m = ctx;
    for (uint32_t i = 0; i < g->nv; i++) {
        const hd_rver *v = &g->v[i];
        if (!v->pack || !hd_gc_dirty(m->gc, v->pack)) continue;
        uint32_t pack = 0;
        uint64_t off = 0;
        if (!(v->flags & HD_RV_ARCHIVED)) {
            int rc = hd_pack_read(m->reg, v->pack, v->off, v->len, &m->buf, &m->bufcap);
            if (!rc && hd_crc32(m->buf, v->len) == 0xFFFFFFFFu) rc = HERD_OK; /* no-op */
            if (!rc) {
                hd_artifact_info info; /* never copy damage into a new pack */
                rc = hd_artifact_check_bytes(m->buf, v->len, &info);
                hd_artifact_info_free(&info);
                if (rc) hd_error_prefix("gc: %s/%s version %u in pack %u at offset %llu: ",
                                        g->family, g->key, v->version, v->pack,
                                        (unsigned long long)v->off);
            }
            if (!rc) rc = hd_pw_add(m->w, m->buf, v->len, &off);
            if (rc) return rc;
            pack = m->new_id;
        }
        hd_wbuf *w = hd_recw_op(m->rw);
        hd_wbuf_u8(w, HD_OP_RELOCATE);
        hd_wbuf_str(w, g->family);
        hd_wbuf_str(w, g->key);
        hd_wbuf_u32(w, v->version);
        hd_wbuf_u32(w, pack);
        hd_wbuf_u64(w, off);
        int rc = hd_recw_op_done(m->rw);
        if (rc) return rc;
    }
    return 0;
}

typedef struct hd_orphans {
    herd_registry *reg;
    const hd_gc *refs; /* packs some version references, after the gc */
    uint32_t keep;     /* the current pack */
    uint32_t *ids;
    size_t n, cap;
} hd_orphans;

/* A batch's own pack left by a process that died before committing: no
 * one holds its lock. */
static int hd_remove_stale_spill(herd_registry *reg, const char *name)
{
    char *path = hd_join(reg->dir, name);
    if (!path) return HERD_ENOMEM;
    hd_vfs_file *f;
    int rc = hd_vfs_open(reg->vfs, path, HD_VFS_RDWR, &f);
    if (!rc) {
        int locked = hd_vfs_lock(f, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0);
        if (locked == HERD_OK) rc = hd_vfs_unlink(reg->vfs, path);
        hd_vfs_close(f);
    }
    if (rc == HERD_ENOTFOUND || rc == HERD_EBUSY) rc = HERD_OK;
    herd_clear_error();
    free(path);
    return rc;
}

static int hd_orphan_entry(void *ctx, const char *name)
{
    hd_orphans *o = ctx;
    unsigned id;
    char tail;
    if (!strncmp(name, "pack-tmp-", 9)) return hd_remove_stale_spill(o->reg, name);
    if (sscanf(name, "pack-%u%c", &id, &tail) != 1 || id == o->keep) return 0;
    for (size_t i = 0; i < o->refs->n; i++)
        if (o->refs->packs[i].id == id) return 0;
    if (o->n == o->cap && hd_grow((void **)&o->ids, &o->cap, o->n + 1, sizeof *o->ids))
        return HERD_ENOMEM;
    o->ids[o->n++] = id;
    return 0;
}

/* Delete the pack files no version references any more: the ones gc just
 * emptied, and any a crashed gc or writer left.  Decided from the state
 * after the gc's record, never from the plan before it. */
static int hd_gc_unlink(herd_registry *reg, uint64_t *reclaimed)
{
    hd_gc refs = {0};
    int rc = hd_rstate_foreach(&reg->st, NULL, hd_gc_count, &refs);
    hd_orphans o = {.reg = reg, .refs = &refs, .keep = reg->st.pack.cur};
    if (!rc) rc = hd_vfs_list_dir(reg->vfs, reg->dir, hd_orphan_entry, &o);
    for (size_t i = 0; !rc && i < o.n; i++) {
        char path[4200];
        hd_pack_path(reg, o.ids[i], path, sizeof path);
        pthread_mutex_lock(&reg->pack_mu);
        hd_pack_handle *h;
        uint64_t size = 0;
        if (hd_pack_get(reg, o.ids[i], 0, &h) == HERD_OK && hd_vfs_size(h->f, &size) == HERD_OK)
            *reclaimed += size;
        herd_clear_error();
        hd_pack_forget(reg, o.ids[i]); /* closed now, or by its last reader */
        pthread_mutex_unlock(&reg->pack_mu);
        rc = hd_vfs_unlink(reg->vfs, path);
        if (rc == HERD_ENOTFOUND) rc = HERD_OK;
    }
    if (!rc && o.n) rc = hd_vfs_sync_dir(reg->vfs, reg->dir);
    free(o.ids);
    free(refs.packs);
    return rc;
}

static int hd_gc_locked(herd_registry *reg, uint64_t *reclaimed)
{
    hd_gc gc = {0};
    uint64_t written = 0;
    int rc = hd_rstate_foreach(&reg->st, NULL, hd_gc_count, &gc);
    size_t ndirty = 0;
    for (size_t i = 0; !rc && i < gc.n; i++) ndirty += gc.packs[i].dead > 0;
    if (!rc && ndirty) {
        hd_packpos pos = reg->st.pack;
        uint32_t id = pos.max + 1;
        hd_vfs_file *f;
        rc = hd_pack_open_for_append(reg, id, 1, HD_PACK_HEADER, &f);
        hd_pack_writer w = {.f = f, .off = HD_PACK_HEADER};
        /* The relocations go to the journal as they are made; the record's
         * frame, written once the new pack is synced, makes them count. */
        hd_recw rw;
        memset(&rw, 0, sizeof rw);
        hd_gc_move m = {.reg = reg, .gc = &gc, .w = &w, .new_id = id, .rw = &rw};
        if (!rc) rc = hd_recw_begin(&rw, reg);
        if (!rc) rc = hd_rstate_foreach(&reg->st, NULL, hd_gc_relocate, &m);
        uint64_t end = w.off + w.buf.n;
        if (!rc) rc = hd_pw_flush(&w);
        if (!rc) rc = hd_vfs_fdatasync(f);
        if (!rc) rc = hd_vfs_sync_dir(reg->vfs, reg->dir);
        hd_wbuf_free(&w.buf);
        free(m.buf);
        /* The current pack keeps taking commits unless it was emptied. */
        if (hd_gc_dirty(&gc, pos.cur)) {
            pos.cur = id;
            pos.end = end;
        }
        pos.max = id;
        if (!rc) {
            int64_t now = hd_now_ms();
            if (now < reg->st.pack.time_ms) now = reg->st.pack.time_ms;
            int maybe_visible = 0;
            rc = hd_recw_commit(&rw, now, &pos, reg->st.seq + 1, &maybe_visible);
            if (!rc) hd_recw_apply(&rw, "the gc record");
        } else {
            rc = hd_recw_fail(&rw, rc);
        }
        hd_recw_free(&rw);
        written = end;
    }
    if (!rc && !reg->stale) rc = hd_gc_unlink(reg, reclaimed);
    /* Net of the new pack the live artifacts moved to. */
    *reclaimed = *reclaimed > written ? *reclaimed - written : 0;
    free(gc.packs);
    return rc;
}

int herd_registry_gc(herd_registry *reg, uint64_t *reclaimed)
{
    HD_CHECK_NOT_NULL(reg);
    uint64_t freed = 0;
    if (reclaimed) *reclaimed = 0;
    if (reg->opt.read_only)
        return hd_error(HERD_EINVAL, "herd_registry_gc: registry %s was opened read-only",
                        reg->dir);
    hd_write_mu_lock(reg);
    int rc = hd_begin_write(reg, 0);
    if (!rc) {
        rc = hd_gc_locked(reg, &freed);
        if (!rc) hd_maybe_checkpoint(reg, 0);
        hd_writer_unlock(reg);
    }
    hd_write_mu_unlock(reg);
    if (!rc && reclaimed) *reclaimed = freed;
    return rc;
}
