/* record.c -- writing a journal record as it is encoded, and applying the
 * record a handle just wrote (handle_internal.h, "Writing a record").
 *
 * The record is never held whole in memory: its operations go out in
 * chunks, cut at operation boundaries, each written at its place after
 * the frame and the commit header.  The frame and the commit header are
 * written last, in one write at the record's start, so a reader (which
 * reads a record only from a valid frame whose payload checksum matches)
 * sees a torn tail until the payload is whole: a hole or zeros where the
 * frame will be, as after a writer killed mid-append.  The payload's
 * checksum is the commit header's CRC combined with the operations'
 * running one (zlib's crc32_combine).
 *
 * Applying the record afterwards reads it back a chunk at a time into
 * one buffer, so the record's memory stays one chunk (or the largest
 * operation) from encoding to applying.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/bytes_internal.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/vfs_internal.h"
#include "registry/handle_internal.h"
#include "registry/state_internal.h"

enum { HD_REC_HEAD = HD_REC_HEADER + HD_COMMIT_HEADER };

static void hd_recw_note_peak(hd_recw *w)
{
    size_t held = w->buf.cap + w->op.cap;
    if (held > w->peak) w->peak = held;
}

int hd_recw_begin(hd_recw *w, herd_registry *reg)
{
    memset(w, 0, sizeof *w);
    w->reg = reg;
    w->at = reg->jend;
    w->chunk = reg->record_chunk ? reg->record_chunk : HD_RECORD_CHUNK;
    hd_wbuf_zeros(&w->buf, HD_REC_HEAD);
    hd_recw_note_peak(w);
    return w->buf.oom ? HERD_ENOMEM : HERD_OK;
}

hd_wbuf *hd_recw_op(hd_recw *w)
{
    w->op.n = 0;
    return &w->op;
}

/* Write n bytes of `nops` operations at their place in the record. */
static int hd_recw_put(hd_recw *w, const unsigned char *p, size_t n, uint32_t nops)
{
    herd_registry *reg = w->reg;
    if (HD_COMMIT_HEADER + w->written + n > UINT32_MAX)
        return hd_error(HERD_ELIMIT, "the commit's record would pass 4 GiB; commit in batches "
                        "of under 4 GiB of metadata");
    if (w->nchunks == w->capchunks &&
        hd_grow((void **)&w->chunks, &w->capchunks, w->nchunks + 1, sizeof *w->chunks))
        return HERD_ENOMEM;
    /* From the first byte past the journal's end, a refresh on this handle
     * takes what lies there for this record (journal.c, hd_nothing_new). */
    atomic_store(&reg->appending, w->at);
    uint64_t off = w->at + HD_REC_HEAD + w->written;
    int rc = hd_vfs_pwrite(reg->journal, p, n, off);
    if (rc) return rc;
    w->chunks[w->nchunks++] = (hd_rec_chunk){off, (uint32_t)n, nops};
    w->crc = hd_crc32_more(w->crc, p, n);
    w->written += n;
    return HERD_OK;
}

/* Write the operations gathered in the buffer, if any. */
static int hd_recw_flush(hd_recw *w)
{
    size_t n = w->buf.n - HD_REC_HEAD;
    if (!n) return HERD_OK;
    int rc = hd_recw_put(w, w->buf.p + HD_REC_HEAD, n, w->buf_nops);
    if (rc) return rc;
    w->buf.n = HD_REC_HEAD;
    w->buf_nops = 0;
    return HERD_OK;
}

/* Room for `need` bytes in the buffer (need <= one chunk and the room
 * before it): doubling as a small record grows, never past one chunk. */
static int hd_recw_reserve(hd_recw *w, size_t need)
{
    if (need <= w->buf.cap) return HERD_OK;
    size_t cap = w->buf.cap * 2 > need ? w->buf.cap * 2 : need;
    if (cap > HD_REC_HEAD + w->chunk) cap = HD_REC_HEAD + w->chunk;
    unsigned char *p = hd_realloc(w->buf.p, cap, 1);
    if (!p) return HERD_ENOMEM;
    w->buf.p = p;
    w->buf.cap = cap;
    hd_recw_note_peak(w);
    return HERD_OK;
}

int hd_recw_op_done(hd_recw *w)
{
    hd_recw_note_peak(w);
    if (w->op.oom) return HERD_ENOMEM;
    if (w->nops == UINT32_MAX)
        return hd_error(HERD_ELIMIT, "the commit's record would hold over %u operations; "
                        "commit in smaller batches", UINT32_MAX);
    int rc = HERD_OK;
    if (w->buf.n - HD_REC_HEAD + w->op.n > w->chunk) rc = hd_recw_flush(w);
    if (rc) return rc;
    if (w->op.n > w->chunk) { /* a chunk of its own, from where it was encoded */
        rc = hd_recw_put(w, w->op.p, w->op.n, 1);
    } else if ((rc = hd_recw_reserve(w, w->buf.n + w->op.n)) == HERD_OK) {
        memcpy(w->buf.p + w->buf.n, w->op.p, w->op.n);
        w->buf.n += w->op.n;
        w->buf_nops++;
    }
    if (!rc) w->nops++;
    return rc;
}

/* Cut the journal back to where the record started and sync the cut.
 * `synced`: the whole record was written and its sync failed.  As
 * before records were chunked, a cut that cannot be made durable after a
 * failed sync means the record may survive a restart. */
static int hd_recw_undo(hd_recw *w, int rc, int synced, int *maybe_visible)
{
    herd_registry *reg = w->reg;
    *maybe_visible = 0;
    if (!reg || !atomic_load(&reg->appending)) return rc; /* nothing was written */
    /* Another process may append once the lock is released: a refresh
     * must not take its bytes for this record. */
    atomic_store(&reg->appending, 0);
    hd_saved_error e;
    hd_error_save(&e);
    int urc = hd_vfs_truncate(reg->journal, w->at);
    if (!urc) urc = hd_vfs_fdatasync(reg->journal);
    if (urc && synced) {
        reg->stale = 1;
        reg->write_failed = 1;
        *maybe_visible = 1;
        return hd_error(HERD_EIO, "%s; the final sync failed and could not be undone (%s): "
                        "the batch may be visible after a restart; retrying it with its "
                        "idempotency keys adds nothing", e.msg, herd_last_error());
    }
    reg->stale = reg->stale || urc;
    hd_error_restore(&e);
    return rc;
}

int hd_recw_fail(hd_recw *w, int rc)
{
    int maybe_visible;
    return hd_recw_undo(w, rc, 0, &maybe_visible);
}

/* Fill in the commit header and the frame (w->head) of a record whose
 * operations take ops_len bytes of CRC ops_crc. */
static void hd_recw_head(hd_recw *w, int64_t time_ms, const hd_packpos *pos, uint64_t seq,
                         uint64_t ops_len, uint32_t ops_crc)
{
    unsigned char *f = w->head, *h = w->head + HD_REC_HEADER;
    hd_wr64(h, (uint64_t)time_ms);
    hd_wr32(h + 8, pos->cur);
    hd_wr64(h + 12, pos->end);
    hd_wr32(h + 20, pos->max);
    hd_wr32(h + 24, w->nops);
    uint32_t crc = (uint32_t)crc32_combine(hd_crc32(h, HD_COMMIT_HEADER), ops_crc,
                                           (z_off_t)ops_len);
    hd_wr32(f, HD_REC_MAGIC);
    hd_wr32(f + 4, (uint32_t)(HD_COMMIT_HEADER + ops_len));
    hd_wr64(f + 8, seq);
    hd_wr32(f + 16, crc);
    hd_wr32(f + 20, hd_crc32(f, 20));
}

int hd_recw_commit(hd_recw *w, int64_t time_ms, const hd_packpos *pos, uint64_t seq,
                   int *maybe_visible)
{
    herd_registry *reg = w->reg;
    *maybe_visible = 0;
    w->seq = seq;
    /* Past the first chunk, the rest goes out before the frame. */
    int rc = w->nchunks ? hd_recw_flush(w) : HERD_OK;
    if (rc) return hd_recw_fail(w, rc);
    size_t pending = w->buf.n - HD_REC_HEAD;
    uint64_t ops_len = w->written + pending;
    uint32_t ops_crc = pending ? (uint32_t)crc32_z(0, w->buf.p + HD_REC_HEAD, pending) : w->crc;
    hd_recw_head(w, time_ms, pos, seq, ops_len, ops_crc);
    /* One write: the whole record when it fits one chunk, else the frame
     * and commit header in front of the chunks already written. */
    memcpy(w->buf.p, w->head, HD_REC_HEAD);
    atomic_store(&reg->appending, w->at);
    rc = hd_vfs_pwrite(reg->journal, w->buf.p, w->buf.n, w->at);
    if (rc) return hd_recw_fail(w, rc);
    if ((rc = hd_vfs_fdatasync(reg->journal))) return hd_recw_undo(w, rc, 1, maybe_visible);
    return HERD_OK;
}

/* Apply the operations to `c`: from the buffer when the record was one
 * write, else each chunk read back into the buffer. */
static int hd_recw_apply_ops(hd_recw *w, hd_rapply *c)
{
    if (!w->nchunks)
        return hd_rstate_apply_ops(c, w->buf.p + HD_REC_HEAD, w->buf.n - HD_REC_HEAD, w->nops);
    for (size_t i = 0; i < w->nchunks; i++) {
        const hd_rec_chunk *k = &w->chunks[i];
        size_t got = 0;
        int rc = hd_vfs_pread(w->reg->journal, w->buf.p, k->len, k->off, &got);
        if (!rc && got < k->len)
            rc = hd_error(HERD_EIO, "%s: %u bytes expected at offset %llu, %zu read (the "
                          "file shrank while being read)", w->reg->journal_path, k->len,
                          (unsigned long long)k->off, got);
        if (!rc) rc = hd_rstate_apply_ops(c, w->buf.p, k->len, k->nops);
        if (rc) return rc;
    }
    return HERD_OK;
}

void hd_recw_apply(hd_recw *w, const char *what)
{
    herd_registry *reg = w->reg;
    hd_wbuf_free(&w->op);
    /* One buffer of the largest chunk's size (an operation larger than a
     * chunk made its own). */
    size_t need = 0;
    for (size_t i = 0; i < w->nchunks; i++)
        if (w->chunks[i].len > need) need = w->chunks[i].len;
    int rc = HERD_OK;
    if (need > w->buf.cap) {
        free(w->buf.p);
        w->buf.cap = 0;
        if (!(w->buf.p = hd_malloc(need, 1))) rc = HERD_ENOMEM;
        else w->buf.cap = need;
        hd_recw_note_peak(w);
    }
    char where[600];
    snprintf(where, sizeof where, "registry journal %s, %s just written at offset %llu",
             reg->journal_path, what, (unsigned long long)w->at);
    uint64_t len = HD_REC_HEAD + w->written + (w->nchunks ? 0 : w->buf.n - HD_REC_HEAD);
    pthread_rwlock_wrlock(&reg->rw);
    hd_rapply c = {0};
    if (!rc) rc = hd_rstate_apply_begin(&c, &reg->st, w->seq, w->head + HD_REC_HEADER,
                                        HD_COMMIT_HEADER, where);
    if (!rc) rc = hd_recw_apply_ops(w, &c);
    if (!rc) rc = hd_rstate_apply_end(&c);
    if (!rc) {
        reg->st.rec_off = reg->jend;
        reg->jend += len;
    }
    atomic_store(&reg->appending, 0);
    pthread_rwlock_unlock(&reg->rw);
    if (!rc) return;
    /* Durable, but the handle's memory may hold part of it, and readers
     * do not catch up: read the files again now (if that fails too, the
     * handle stays stale and its next write retries). */
    reg->stale = 1;
    hd_tail tail;
    (void)hd_reload(reg, &tail);
    herd_clear_error();
}

void hd_recw_free(hd_recw *w)
{
    hd_recw_note_peak(w);
    if (w->reg) w->reg->record_peak = w->peak;
    hd_wbuf_free(&w->buf);
    hd_wbuf_free(&w->op);
    free(w->chunks);
    memset(w, 0, sizeof *w);
}
