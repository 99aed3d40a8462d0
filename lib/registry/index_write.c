/* index_write.c -- the registry's index written from a state (a
 * checkpoint): every group in (family, key) order, the runs, the hash
 * tables of groups and idempotency keys, and one CRC32 per 64 KiB chunk
 * (index_format_internal.h has the layout).  Moved from regindex.c: the
 * writer reads the state, which itself reads through the index reader.
 *
 * The file is never held whole: a first pass over the state only counts
 * each section's bytes and numbers the strings, so every section's offset
 * is known; a second pass writes each section through its own small
 * buffer at its offset; the chunk checksums are computed by reading the
 * file back.  Both passes run the same code (ix_sec_put counts or writes),
 * so they cannot disagree unless the state changes under the writer. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "registry/index_format_internal.h"
#include "registry/index_write_internal.h"
#include "registry/state_internal.h"

/* ------------------------------------------------------------------------
 * Writing
 * --------------------------------------------------------------------- */

enum {
    IX_SECBUF = 128 * 1024,    /* one section's write buffer */
    IX_READBACK = 4 * IX_CHUNK /* the checksums' read-back buffer */
};

/* The sections the passes stream, in file order (the hash tables, built
 * whole from the slots, sit between families/runs and strings). */
enum { S_GROUPS, S_VERSIONS, S_MOVES, S_FAMILIES, S_RUNS, S_STRINGS, S_COUNT };

typedef struct ix_sec {
    uint64_t at;        /* file offset (second pass) */
    uint64_t n;         /* bytes so far */
    unsigned char *buf; /* NULL in the first pass: only counted */
    size_t used, cap;
} ix_sec;

/* A string of the state (stable while the caller holds its locks) and
 * its offset in the strings section; 16 bytes, the hash recomputed when
 * the table grows rather than kept. */
typedef struct ix_str {
    const char *s; /* NULL: empty slot */
    uint64_t off;
} ix_str;

typedef struct ix_slot {
    uint64_t hash;
    uint64_t entry; /* relative offset */
    uint32_t version;
} ix_slot;

typedef struct ix_writer {
    ix_sec sec[S_COUNT];
    hd_vfs_file *f; /* NULL in the first pass */
    const char *path;
    ix_str *in;
    size_t incap, inn;
    hd_wbuf extra; /* one version's metrics and tags */
    ix_slot *gslots, *islots;
    size_t ng, capg, ni, capi;
    uint64_t nversions, nmoves, nfamilies, nruns;
    const char *family; /* of the family being written */
    uint64_t fam_name, fam_start;
    size_t peak; /* the buffers' bytes at their largest */
    int rc;
} ix_writer;

/* Write out section s's buffer (after an error, only empty it: the pass
 * is failing, but its callers keep putting bytes until they return). */
static void ix_flush(ix_writer *w, ix_sec *s)
{
    if (s->used && !w->rc) w->rc = hd_vfs_pwrite(w->f, s->buf, s->used, s->at + s->n - s->used);
    s->used = 0;
}

/* Count n bytes into section s, or (second pass) write them. */
static void ix_sec_put(ix_writer *w, int sec, const void *p, size_t n)
{
    ix_sec *s = &w->sec[sec];
    if (!s->buf) {
        s->n += n;
        return;
    }
    const unsigned char *b = p;
    while (n) {
        size_t step = s->cap - s->used < n ? s->cap - s->used : n;
        memcpy(s->buf + s->used, b, step);
        s->used += step;
        s->n += step;
        b += step;
        n -= step;
        if (s->used == s->cap) ix_flush(w, s);
    }
}

static void ix_sec_zeros(ix_writer *w, int sec, size_t n)
{
    static const unsigned char z[8];
    while (n) {
        size_t step = n < sizeof z ? n : sizeof z;
        ix_sec_put(w, sec, z, step);
        n -= step;
    }
}

static void ix_sec_u64(ix_writer *w, int sec, uint64_t v)
{
    unsigned char b[8];
    hd_wr64(b, v);
    ix_sec_put(w, sec, b, sizeof b);
}

static uint64_t ix_put_bytes(ix_writer *w, const void *p, size_t n)
{
    uint64_t off = w->sec[S_STRINGS].n;
    unsigned char len[4];
    hd_wr32(len, (uint32_t)n);
    ix_sec_put(w, S_STRINGS, len, sizeof len);
    ix_sec_put(w, S_STRINGS, p, n);
    ix_sec_zeros(w, S_STRINGS, 1);
    return off;
}

static int ix_changed(ix_writer *w)
{
    if (!w->rc)
        w->rc = hd_error(HERD_EINTERNAL, "the registry's state changed while its index '%s' "
                         "was written; the checkpoint is abandoned (please report this bug)",
                         w->path);
    return w->rc;
}

static size_t ix_str_slot(const char *s, size_t n, size_t cap)
{
    return (size_t)hd_hash_bytes(s, n, 0) & (cap - 1);
}

static int ix_intern_grow(ix_writer *w)
{
    size_t ncap = w->incap ? w->incap * 2 : 4096;
    ix_str *nt = hd_calloc(ncap, sizeof *nt);
    if (!nt) return w->rc = HERD_ENOMEM;
    for (size_t i = 0; i < w->incap; i++) {
        if (!w->in[i].s) continue;
        size_t j = ix_str_slot(w->in[i].s, strlen(w->in[i].s), ncap);
        while (nt[j].s) j = (j + 1) & (ncap - 1);
        nt[j] = w->in[i];
    }
    free(w->in);
    w->in = nt;
    w->incap = ncap;
    return HERD_OK;
}

/* The offset of string s in the strings section, added once: numbered by
 * the first pass, written by the second when it meets it first (in the
 * same order, so at the same offset). */
static uint64_t ix_intern_str(ix_writer *w, const char *s)
{
    if (!s || w->rc) return 0;
    size_t n = strlen(s);
    if (!w->f && (w->inn + 1) * 2 > w->incap && ix_intern_grow(w)) return 0;
    if (!w->incap) return ix_changed(w), 0;
    size_t i = ix_str_slot(s, n, w->incap);
    for (; w->in[i].s; i = (i + 1) & (w->incap - 1)) {
        ix_str *e = &w->in[i];
        if (strcmp(e->s, s)) continue;
        uint64_t at = w->sec[S_STRINGS].n;
        if (e->off == at) ix_put_bytes(w, s, n);
        else if (e->off > at) ix_changed(w);
        return e->off;
    }
    if (w->f) return ix_changed(w), 0;
    w->in[i] = (ix_str){s, ix_put_bytes(w, s, n)};
    w->inn++;
    return w->in[i].off;
}

static uint64_t ix_put_extra(ix_writer *w, const hd_rver *v)
{
    if (!v->nmetrics && !v->ntags) return 0;
    hd_wbuf *e = &w->extra;
    e->n = 0;
    hd_wbuf_u32(e, v->nmetrics);
    for (uint32_t i = 0; i < v->nmetrics; i++) {
        hd_wbuf_u64(e, ix_intern_str(w, v->metrics[i].name));
        hd_wbuf_f64(e, v->metrics[i].value);
    }
    hd_wbuf_u32(e, v->ntags);
    for (uint32_t i = 0; i < v->ntags; i++) {
        hd_wbuf_u64(e, ix_intern_str(w, v->tags[i].name));
        hd_wbuf_u64(e, ix_intern_str(w, v->tags[i].value));
    }
    if (e->oom) w->rc = HERD_ENOMEM;
    return e->oom ? 0 : ix_put_bytes(w, e->p, e->n);
}

static void ix_put_version(ix_writer *w, const hd_rver *v)
{
    unsigned char r[IX_VREC];
    hd_wr32(r, v->version);
    hd_wr32(r + 4, v->flags);
    hd_wr32(r + 8, v->pack);
    hd_wr32(r + 12, v->len);
    hd_wr64(r + 16, v->off);
    hd_wr64(r + 24, (uint64_t)v->time_ms);
    hd_wr64(r + 32, ix_intern_str(w, v->run_id));
    hd_wr64(r + 40, ix_intern_str(w, v->idem));
    hd_wr64(r + 48, ix_intern_str(w, v->created));
    hd_wr64(r + 56, ix_intern_str(w, v->fingerprint));
    hd_wr64(r + 64, ix_put_extra(w, v));
    ix_sec_put(w, S_VERSIONS, r, sizeof r);
    w->nversions++;
}

static void ix_put_move(ix_writer *w, const hd_rmove *m)
{
    unsigned char r[IX_MREC];
    hd_wr64(r, ix_intern_str(w, m->alias));
    hd_wr32(r + 8, m->from);
    hd_wr32(r + 12, m->to);
    hd_wr64(r + 16, (uint64_t)m->time_ms);
    hd_wr64(r + 24, m->seq);
    hd_wr64(r + 32, ix_intern_str(w, m->reason));
    hd_wr64(r + 40, ix_intern_str(w, m->details));
    hd_wr64(r + 48, ix_intern_str(w, m->run_id));
    ix_sec_put(w, S_MOVES, r, sizeof r);
    w->nmoves++;
}

/* A hash-table slot, kept by the first pass only. */
static void ix_push_slot(ix_writer *w, ix_slot **v, size_t *n, size_t *cap, ix_slot s)
{
    if (w->f) return;
    if (*n == *cap && hd_grow((void **)v, cap, *n + 1, sizeof **v)) {
        w->rc = HERD_ENOMEM;
        return;
    }
    (*v)[(*n)++] = s;
}

/* The current family's record: its name, first and end group entries. */
static void ix_end_family(ix_writer *w)
{
    if (!w->family) return;
    ix_sec_u64(w, S_FAMILIES, w->fam_name);
    ix_sec_u64(w, S_FAMILIES, w->fam_start);
    ix_sec_u64(w, S_FAMILIES, w->sec[S_GROUPS].n);
    w->family = NULL;
}

static int ix_write_group(void *ctx, const hd_rgroup *g)
{
    ix_writer *w = ctx;
    if (!w->family || strcmp(w->family, g->family)) {
        ix_end_family(w);
        w->fam_name = ix_intern_str(w, g->family);
        w->fam_start = w->sec[S_GROUPS].n;
        w->nfamilies++;
        w->family = g->family;
    }
    uint64_t rel = w->sec[S_GROUPS].n;
    if (rel / 8 > UINT32_MAX) {
        w->rc = hd_error(HERD_ELIMIT, "the registry index would exceed 32 GiB of group "
                         "entries; the limit of this format");
        return w->rc;
    }
    unsigned char fix[IX_GFIX];
    memset(fix, 0, sizeof fix);
    hd_wr32(fix, (uint32_t)(w->nfamilies - 1));
    size_t klen = strlen(g->key);
    hd_wr32(fix + 4, (uint32_t)klen);
    hd_wr64(fix + 8, w->nversions);
    hd_wr32(fix + 16, g->nv);
    hd_wr32(fix + 20, g->na);
    hd_wr64(fix + 24, w->nmoves);
    hd_wr32(fix + 32, g->nm);
    ix_sec_put(w, S_GROUPS, fix, sizeof fix);
    ix_sec_put(w, S_GROUPS, g->key, klen);
    ix_sec_zeros(w, S_GROUPS, (size_t)(ix_align8(klen + 1) - klen));
    for (uint32_t i = 0; i < g->na; i++) {
        unsigned char a[IX_AREC];
        memset(a, 0, sizeof a);
        hd_wr64(a, ix_intern_str(w, g->a[i].name));
        hd_wr32(a + 8, g->a[i].version);
        ix_sec_put(w, S_GROUPS, a, sizeof a);
    }
    for (uint32_t i = 0; i < g->nv; i++) {
        ix_put_version(w, &g->v[i]);
        if (g->v[i].idem)
            ix_push_slot(w, &w->islots, &w->ni, &w->capi,
                         (ix_slot){hd_hash_bytes(g->v[i].idem, strlen(g->v[i].idem), 0x1de3ull),
                                   rel, g->v[i].version});
    }
    for (uint32_t i = 0; i < g->nm; i++) ix_put_move(w, &g->m[i]);
    ix_push_slot(w, &w->gslots, &w->ng, &w->capg,
                 (ix_slot){hd_group_hash(g->family, g->key), rel, 0});
    return w->rc;
}

/* One pass over the state: the groups, families and runs, and the strings
 * they name, counted (first pass) or written (second). */
static int ix_pass(ix_writer *w, const hd_rstate *st, size_t first)
{
    for (int i = 0; i < S_COUNT; i++) w->sec[i].n = w->sec[i].used = 0;
    w->nversions = w->nmoves = w->nfamilies = 0;
    w->family = NULL;
    ix_sec_zeros(w, S_STRINGS, 8); /* offset 0 means "no string" */
    int rc = hd_rstate_foreach_from(st, first, NULL, HD_PART_ALL, ix_write_group, w);
    if (!rc) rc = w->rc;
    ix_end_family(w);
    hd_rrun *runs = NULL;
    size_t nruns = 0;
    if (!rc) rc = hd_rstate_runs_from(st, first, &runs, &nruns);
    for (size_t i = 0; !rc && i < nruns; i++) {
        ix_sec_u64(w, S_RUNS, ix_intern_str(w, runs[i].id));
        ix_sec_u64(w, S_RUNS, ix_intern_str(w, runs[i].params));
        ix_sec_u64(w, S_RUNS, ix_intern_str(w, runs[i].summary));
        ix_sec_u64(w, S_RUNS, (uint64_t)runs[i].time_ms);
    }
    free(runs);
    w->nruns = nruns;
    /* Pad the strings so the checksum table starts 8-aligned; the group
     * entries are 8-aligned by construction. */
    uint64_t sn = w->sec[S_STRINGS].n;
    ix_sec_zeros(w, S_STRINGS, (size_t)(ix_align8(sn) - sn));
    for (int i = 0; !rc && i < S_COUNT; i++) ix_flush(w, &w->sec[i]);
    return rc ? rc : w->rc;
}

static uint64_t ix_pow2(uint64_t n)
{
    uint64_t c = 16;
    while (c < 2 * n) c *= 2;
    return c;
}

/* The two hash tables, laid out as the reader probes them. */
static int ix_tables(const ix_writer *w, hd_wbuf *gt, uint64_t ngs, hd_wbuf *it, uint64_t nis)
{
    hd_wbuf_zeros(gt, (size_t)(8 * ngs));
    hd_wbuf_zeros(it, (size_t)(16 * nis));
    if (gt->oom || it->oom) return HERD_ENOMEM;
    for (size_t k = 0; k < w->ng; k++) {
        uint64_t i = w->gslots[k].hash & (ngs - 1);
        while (hd_rd32(gt->p + 8 * i)) i = (i + 1) & (ngs - 1);
        hd_wr32(gt->p + 8 * i, (uint32_t)(w->gslots[k].hash >> 32) | 1u);
        hd_wr32(gt->p + 8 * i + 4, (uint32_t)(w->gslots[k].entry / 8));
    }
    for (size_t k = 0; k < w->ni; k++) {
        uint64_t i = w->islots[k].hash & (nis - 1);
        while (hd_rd64(it->p + 16 * i)) i = (i + 1) & (nis - 1);
        hd_wr64(it->p + 16 * i, w->islots[k].hash | 1u);
        hd_wr32(it->p + 16 * i + 8, (uint32_t)(w->islots[k].entry / 8));
        hd_wr32(it->p + 16 * i + 12, w->islots[k].version);
    }
    return HERD_OK;
}

/* Everything the second pass needs: the state, the first pass's counts,
 * the tables and the file's layout. */
typedef struct ix_job {
    ix_writer *w;
    const hd_rstate *st;
    size_t first;
    uint64_t start, journal_end;
    hd_wbuf gt, it;
    uint64_t n[S_COUNT]; /* the first pass's section sizes */
    uint64_t nversions, nmoves, nfamilies, ngs, nis;
    uint64_t slots, idem, crco, nchunks;
} ix_job;

/* The checksum of every 64 KiB chunk from the header's end to the
 * checksum table, read back from the file in file order. */
static int ix_checksums(ix_job *j, hd_vfs_file *f, hd_wbuf *crcs)
{
    hd_wbuf_zeros(crcs, (size_t)(4 * j->nchunks));
    unsigned char *buf = hd_malloc(IX_READBACK, 1);
    if (!buf || crcs->oom) {
        free(buf);
        return HERD_ENOMEM;
    }
    size_t total = IX_READBACK + 4 * (size_t)j->nchunks + j->w->extra.cap;
    for (int i = 0; i < S_COUNT; i++) total += j->w->sec[i].cap;
    if (total > j->w->peak) j->w->peak = total;
    int rc = HERD_OK;
    uint64_t k = 0;
    for (uint64_t at = IX_HEADER; !rc && at < j->crco; at += IX_READBACK) {
        size_t want = (size_t)(j->crco - at < IX_READBACK ? j->crco - at : IX_READBACK), got;
        rc = hd_vfs_pread(f, buf, want, at, &got);
        if (!rc && got != want)
            rc = hd_error(HERD_EIO, "reading back '%s' as it was written gave %zu of %zu bytes "
                          "at offset %llu; the file system lost a write (the checkpoint is "
                          "abandoned)", f->path, got, want, (unsigned long long)at);
        for (size_t o = 0; !rc && o < want; o += IX_CHUNK, k++) {
            size_t step = want - o < IX_CHUNK ? want - o : IX_CHUNK;
            hd_wr32(crcs->p + 4 * k, hd_crc32(buf + o, step));
        }
    }
    free(buf);
    return rc;
}

static void ix_header(const ix_job *j, unsigned char *h, const hd_wbuf *crcs)
{
    const ix_writer *w = j->w;
    const hd_rstate *st = j->st;
    uint64_t groups = j->slots + j->gt.n, versions = groups + j->n[S_GROUPS];
    uint64_t moves = versions + j->n[S_VERSIONS], families = moves + j->n[S_MOVES];
    uint64_t runso = families + j->n[S_FAMILIES];
    memset(h, 0, IX_HEADER);
    memcpy(h, hd_ix_magic, 8);
    h[H_MAJOR] = IX_MAJOR;
    h[H_MINOR] = IX_MINOR;
    hd_wr32(h + H_HLEN, IX_HEADER);
    const uint64_t vals[][2] = {
        {H_FSIZE, j->crco + crcs->n}, {H_JEND, j->journal_end}, {H_SEQ, st->seq},
        {H_NGROUPS, w->ng}, {H_NVERSIONS, j->nversions}, {H_NFAMILIES, j->nfamilies},
        {H_NRUNS, w->nruns}, {H_NMOVES, j->nmoves}, {H_SLOTS, j->slots}, {H_NSLOTS, j->ngs},
        {H_GROUPS, groups}, {H_GLEN, j->n[S_GROUPS]}, {H_VERSIONS, versions},
        {H_MOVES, moves}, {H_FAMILIES, families}, {H_RUNS, runso}, {H_IDEM, j->idem},
        {H_NIDEM, j->nis}, {H_STRINGS, j->idem + j->it.n}, {H_SLEN, j->n[S_STRINGS]},
        {H_CRCS, j->crco}, {H_NCHUNKS, j->nchunks}, {H_PACK_END, st->pack.end},
        {H_LAST_REC, st->rec_off}, {H_TIME, (uint64_t)st->pack.time_ms}, {H_START, j->start}};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) hd_wr64(h + vals[i][0], vals[i][1]);
    hd_wr32(h + H_PACK_CUR, st->pack.cur);
    hd_wr32(h + H_PACK_MAX, st->pack.max);
    hd_wr32(h + H_CRCS_CRC, hd_crc32(crcs->p, crcs->n));
    hd_wr32(h + H_CRC, hd_crc32(h, H_CRC));
}

/* The second pass, into the open temporary file: the streamed sections,
 * the tables, then the checksums read back and the header. */
static int ix_fill(hd_vfs_file *f, void *ctx)
{
    ix_job *j = ctx;
    ix_writer *w = j->w;
    w->f = f;
    uint64_t at = j->slots + j->gt.n;
    for (int i = 0; i < S_COUNT; i++) {
        if (i == S_STRINGS) at = j->idem + j->it.n;
        w->sec[i].at = at;
        at += j->n[i];
    }
    int rc = ix_pass(w, j->st, j->first);
    for (int i = 0; !rc && i < S_COUNT; i++)
        if (w->sec[i].n != j->n[i]) rc = ix_changed(w);
    if (!rc && (w->nversions != j->nversions || w->nmoves != j->nmoves ||
                w->nfamilies != j->nfamilies))
        rc = ix_changed(w);
    if (!rc) rc = hd_vfs_pwrite(f, j->gt.p, j->gt.n, j->slots);
    if (!rc) rc = hd_vfs_pwrite(f, j->it.p, j->it.n, j->idem);
    hd_wbuf crcs = {0};
    if (!rc) rc = ix_checksums(j, f, &crcs);
    if (!rc) rc = hd_vfs_pwrite(f, crcs.p, crcs.n, j->crco);
    if (!rc) {
        unsigned char h[IX_HEADER];
        ix_header(j, h, &crcs);
        rc = hd_vfs_pwrite(f, h, sizeof h, 0);
    }
    hd_wbuf_free(&crcs);
    return rc;
}

/* The second pass's section buffers, each no larger than its section. */
static int ix_buffers(ix_writer *w, const uint64_t *n)
{
    for (int i = 0; i < S_COUNT; i++) {
        size_t cap = n[i] < IX_SECBUF ? (size_t)n[i] : IX_SECBUF;
        w->sec[i].cap = cap ? cap : 1;
        w->sec[i].buf = hd_malloc(w->sec[i].cap, 1);
        if (!w->sec[i].buf) return HERD_ENOMEM;
    }
    return HERD_OK;
}

static void ix_writer_free(ix_writer *w)
{
    for (int i = 0; i < S_COUNT; i++) free(w->sec[i].buf);
    hd_wbuf_free(&w->extra);
    free(w->in);
    free(w->gslots);
    free(w->islots);
}

int hd_index_write(const hd_vfs *vfs, const char *dir, const char *tmp, const char *final,
                   const hd_rstate *st, size_t first, uint64_t start, uint64_t journal_end,
                   size_t *peak)
{
    ix_writer w;
    memset(&w, 0, sizeof w);
    w.path = final;
    ix_job j = {.w = &w, .st = st, .first = first, .start = start, .journal_end = journal_end};
    int rc = ix_pass(&w, st, first);
    if (!rc) {
        for (int i = 0; i < S_COUNT; i++) j.n[i] = w.sec[i].n;
        j.nversions = w.nversions;
        j.nmoves = w.nmoves;
        j.nfamilies = w.nfamilies;
        j.ngs = ix_pow2(w.ng);
        j.nis = ix_pow2(w.ni);
        rc = ix_tables(&w, &j.gt, j.ngs, &j.it, j.nis);
    }
    if (!rc) rc = ix_buffers(&w, j.n);
    if (!rc) {
        j.slots = IX_HEADER;
        j.idem = j.slots + j.gt.n;
        for (int i = 0; i < S_STRINGS; i++) j.idem += j.n[i];
        j.crco = j.idem + j.it.n + j.n[S_STRINGS];
        j.nchunks = (j.crco - IX_HEADER + IX_CHUNK - 1) / IX_CHUNK;
        rc = hd_vfs_replace_with(vfs, dir, tmp, final, ix_fill, &j);
    }
    if (peak) *peak = w.peak;
    hd_wbuf_free(&j.gt);
    hd_wbuf_free(&j.it);
    ix_writer_free(&w);
    return rc;
}
