/* pack.c -- pack files: the handles readers share (opened on first use,
 * closed once no thread reads through them) and the buffered pack writer
 * commits and spilling batches append with.  Moved from registry.c
 * (handle_internal.h has the overview). */
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"

/* ------------------------------------------------------------------------
 * Packs
 * --------------------------------------------------------------------- */

/* Pack handles are shared by the threads of a handle: readers pread
 * outside pack_mu, so a handle is reference-counted while read, and one
 * that must go (gc deleted its file, or a writer needs a writable one) is
 * marked dead and closed by whoever drops its last reference.  The caller
 * of the helpers below holds pack_mu. */

static hd_pack_handle *hd_pack_find(herd_registry *reg, uint32_t id)
{
    for (size_t i = 0; i < reg->npacks; i++)
        if (!reg->packs[i]->dead && reg->packs[i]->id == id) return reg->packs[i];
    return NULL;
}

/* Close the dead handles no one reads. */
static void hd_pack_sweep(herd_registry *reg)
{
    for (size_t i = 0; i < reg->npacks;) {
        hd_pack_handle *h = reg->packs[i];
        if (!h->dead || h->refs) {
            i++;
            continue;
        }
        hd_vfs_close(h->f);
        free(h);
        reg->packs[i] = reg->packs[--reg->npacks];
    }
}

/* Forget pack `id`: its handle closes once no thread reads through it. */
void hd_pack_forget(herd_registry *reg, uint32_t id)
{
    hd_pack_handle *h = hd_pack_find(reg, id);
    if (h) h->dead = 1;
    hd_pack_sweep(reg);
}

/* Pack `id`'s handle, opened on first use (writable if `rdwr`). */
int hd_pack_get(herd_registry *reg, uint32_t id, int rdwr, hd_pack_handle **out)
{
    hd_pack_handle *h = hd_pack_find(reg, id);
    if (h && (h->rdwr || !rdwr)) {
        *out = h;
        return HERD_OK;
    }
    if (h) hd_pack_forget(reg, id); /* read-only: a writer needs another */
    if (reg->npacks == reg->cappacks &&
        hd_grow((void **)&reg->packs, &reg->cappacks, reg->npacks + 1, sizeof *reg->packs))
        return HERD_ENOMEM;
    char path[4200];
    hd_pack_path(reg, id, path, sizeof path);
    if (!(h = hd_calloc(1, sizeof *h))) return HERD_ENOMEM;
    int rc = hd_vfs_open(reg->vfs, path, rdwr ? HD_VFS_RDWR : HD_VFS_READ, &h->f);
    if (rc) {
        free(h);
        return rc;
    }
    h->id = id;
    h->rdwr = rdwr;
    reg->packs[reg->npacks++] = h;
    *out = h;
    return HERD_OK;
}

int hd_pack_read(herd_registry *reg, uint32_t id, uint64_t off, size_t len, unsigned char **buf,
                 size_t *cap)
{
    pthread_mutex_lock(&reg->pack_mu);
    hd_pack_handle *h = NULL;
    int rc = hd_pack_get(reg, id, 0, &h);
    if (!rc) h->refs++;
    pthread_mutex_unlock(&reg->pack_mu);
    if (rc) return rc;
    /* Outside the mutex: threads load artifacts in parallel.  The span is
     * checked against the file before allocating: a damaged record or
     * index must not make a reader allocate gigabytes to find out. */
    uint64_t size = 0;
    rc = hd_vfs_size(h->f, &size);
    if (!rc && (off > size || len > size - off))
        rc = hd_error(HERD_ECORRUPT, "registry pack %s: %zu bytes expected at offset %llu, "
                      "the file ends at offset %llu (truncated)", h->f->path, len,
                      (unsigned long long)off, (unsigned long long)size);
    if (!rc && (len > *cap || !*buf)) {
        unsigned char *bigger = hd_malloc(len ? len : 1, 1);
        if (bigger) {
            free(*buf);
            *buf = bigger;
            *cap = len;
        } else {
            rc = HERD_ENOMEM;
        }
    }
    size_t got = 0;
    if (!rc) rc = hd_vfs_pread(h->f, *buf, len, off, &got);
    if (!rc && got < len)
        rc = hd_error(HERD_ECORRUPT, "registry pack %s: %zu bytes expected at offset %llu, "
                      "the file ends at offset %llu (truncated)", h->f->path, len,
                      (unsigned long long)off, (unsigned long long)(off + got));
    pthread_mutex_lock(&reg->pack_mu);
    if (--h->refs == 0 && h->dead) hd_pack_sweep(reg); /* the last reader of a dead one */
    pthread_mutex_unlock(&reg->pack_mu);
    return rc;
}

#define HD_WRITEBACK_EVERY (64u * 1024 * 1024)

/* On failure nothing moves: the buffer and its offset stay, so nothing
 * the writer was given is lost. */
int hd_pw_flush(hd_pack_writer *w)
{
    if (w->buf.oom) return HERD_ENOMEM;
    int rc = w->buf.n ? hd_vfs_pwrite(w->f, w->buf.p, w->buf.n, w->off) : HERD_OK;
    if (rc) return rc;
    w->off += w->buf.n;
    w->buf.n = 0;
    if (!rc && w->off - w->hinted >= HD_WRITEBACK_EVERY) {
        hd_vfs_writeback(w->f, w->hinted, w->off - w->hinted);
        w->hinted = w->off;
    }
    return rc;
}

/* Add n bytes; *at (may be NULL) receives the offset they land at. */
int hd_pw_add(hd_pack_writer *w, const void *p, size_t n, uint64_t *at)
{
    if (at) *at = w->off + w->buf.n;
    if (n >= HD_WRITE_CHUNK) {
        int rc = hd_pw_flush(w);
        if (!rc) rc = hd_vfs_pwrite(w->f, p, n, w->off);
        if (!rc) w->off += n;
        return rc;
    }
    if (w->buf.n + n > HD_WRITE_CHUNK) {
        int rc = hd_pw_flush(w);
        if (rc) return rc;
    }
    hd_wbuf_bytes(&w->buf, p, n);
    return w->buf.oom ? HERD_ENOMEM : HERD_OK;
}

/* Open pack `id` for appending at `end`; a new pack is created (a file of
 * that name left by a crashed writer is reused from its header on).  Only
 * writers (holding write_mu) call this, so the handle stays theirs. */
int hd_pack_open_for_append(herd_registry *reg, uint32_t id, int is_new, uint64_t end,
                                   hd_vfs_file **out)
{
    pthread_mutex_lock(&reg->pack_mu);
    hd_pack_handle *h = NULL;
    int rc = HERD_OK;
    if (is_new) {
        hd_pack_forget(reg, id); /* a failed commit's file of that name */
        char path[4200];
        hd_pack_path(reg, id, path, sizeof path);
        unsigned char hd[HD_PACK_HEADER];
        memset(hd, 0, sizeof hd);
        memcpy(hd, hd_pack_magic, 8);
        hd_vfs_file *f;
        rc = hd_vfs_open(reg->vfs, path, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_TRUNC, &f);
        if (!rc) rc = hd_vfs_pwrite(f, hd, sizeof hd, 0);
        if (!rc) rc = hd_vfs_close(f);
        else hd_vfs_close(f);
    }
    if (!rc) rc = hd_pack_get(reg, id, 1, &h);
    /* Past `end`: a crashed or failed commit's bytes, which after a failed
     * fsync may or may not be on disk: start again from `end`.  Only a
     * longer file is cut (a same-size truncate cost acknowledged commits on
     * ext4: hd_cut_tail says why), and the cut is synced. */
    uint64_t size = 0;
    if (!rc && !is_new) rc = hd_vfs_size(h->f, &size);
    if (!rc && !is_new && size > end) {
        rc = hd_vfs_truncate(h->f, end);
        if (!rc) rc = hd_vfs_fdatasync(h->f);
    }
    if (!rc) *out = h->f;
    pthread_mutex_unlock(&reg->pack_mu);
    return rc;
}
