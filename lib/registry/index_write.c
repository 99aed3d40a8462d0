/* index_write.c -- the registry's index written from a state (a
 * checkpoint): every group in (family, key) order, the runs, the hash
 * tables of groups and idempotency keys, and one CRC32 per 64 KiB chunk
 * (index_format_internal.h has the layout).  Moved from regindex.c: the
 * writer reads the state, which itself reads through the index reader. */
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

typedef struct ix_intern {
    uint64_t *off; /* string offsets, open addressing by content hash */
    uint64_t *hash;
    size_t cap, n;
} ix_intern;

typedef struct ix_slot {
    uint64_t hash;
    uint64_t entry; /* relative offset */
    uint32_t version;
} ix_slot;

typedef struct ix_writer {
    hd_wbuf groups, versions, moves, families, strings;
    ix_intern in;
    ix_slot *gslots, *islots;
    size_t ng, capg, ni, capi;
    uint64_t nversions, nmoves, nfamilies;
    const char *family; /* of the family being written */
    int rc;
} ix_writer;

static uint64_t ix_put_bytes(ix_writer *w, const void *p, size_t n)
{
    uint64_t off = w->strings.n;
    hd_wbuf_u32(&w->strings, (uint32_t)n);
    hd_wbuf_bytes(&w->strings, p, n);
    hd_wbuf_u8(&w->strings, 0);
    return off;
}

/* The offset of string s in the strings section, added once. */
static uint64_t ix_intern_str(ix_writer *w, const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    uint64_t h = hd_hash_bytes(s, n, 0) | 1u;
    ix_intern *in = &w->in;
    if ((in->n + 1) * 2 > in->cap) {
        size_t ncap = in->cap ? in->cap * 2 : 4096;
        uint64_t *no = hd_calloc(ncap, sizeof *no), *nh = hd_calloc(ncap, sizeof *nh);
        if (!no || !nh) {
            free(no);
            free(nh);
            w->rc = HERD_ENOMEM;
            return 0;
        }
        for (size_t i = 0; i < in->cap; i++) {
            if (!in->hash[i]) continue;
            size_t j = (size_t)in->hash[i] & (ncap - 1);
            while (nh[j]) j = (j + 1) & (ncap - 1);
            nh[j] = in->hash[i];
            no[j] = in->off[i];
        }
        free(in->off);
        free(in->hash);
        in->off = no;
        in->hash = nh;
        in->cap = ncap;
    }
    size_t i = (size_t)h & (in->cap - 1);
    for (; in->hash[i]; i = (i + 1) & (in->cap - 1)) {
        if (in->hash[i] != h || w->strings.oom) continue;
        const unsigned char *p = w->strings.p + in->off[i];
        if (hd_rd32(p) == n && !memcmp(p + 4, s, n)) return in->off[i];
    }
    uint64_t off = ix_put_bytes(w, s, n);
    in->hash[i] = h;
    in->off[i] = off;
    in->n++;
    return off;
}

static uint64_t ix_put_extra(ix_writer *w, const hd_rver *v)
{
    if (!v->nmetrics && !v->ntags) return 0;
    hd_wbuf e = {0};
    hd_wbuf_u32(&e, v->nmetrics);
    for (uint32_t i = 0; i < v->nmetrics; i++) {
        hd_wbuf_u64(&e, ix_intern_str(w, v->metrics[i].name));
        hd_wbuf_f64(&e, v->metrics[i].value);
    }
    hd_wbuf_u32(&e, v->ntags);
    for (uint32_t i = 0; i < v->ntags; i++) {
        hd_wbuf_u64(&e, ix_intern_str(w, v->tags[i].name));
        hd_wbuf_u64(&e, ix_intern_str(w, v->tags[i].value));
    }
    if (e.oom) w->rc = HERD_ENOMEM;
    uint64_t off = e.oom ? 0 : ix_put_bytes(w, e.p, e.n);
    hd_wbuf_free(&e);
    return off;
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
    hd_wbuf_bytes(&w->versions, r, sizeof r);
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
    hd_wbuf_bytes(&w->moves, r, sizeof r);
    w->nmoves++;
}

static int ix_push_slot(ix_slot **v, size_t *n, size_t *cap, ix_slot s)
{
    if (*n == *cap && hd_grow((void **)v, cap, *n + 1, sizeof **v)) return HERD_ENOMEM;
    (*v)[(*n)++] = s;
    return HERD_OK;
}

/* Close the current family's record at the current end of the groups. */
static void ix_end_family(ix_writer *w)
{
    if (!w->family) return;
    hd_wbuf_u64(&w->families, w->groups.n);
    w->family = NULL;
}

static int ix_write_group(void *ctx, const hd_rgroup *g)
{
    ix_writer *w = ctx;
    if (!w->family || strcmp(w->family, g->family)) {
        ix_end_family(w);
        hd_wbuf_u64(&w->families, ix_intern_str(w, g->family));
        hd_wbuf_u64(&w->families, w->groups.n);
        w->nfamilies++;
        w->family = g->family;
    }
    uint64_t rel = w->groups.n;
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
    hd_wbuf_bytes(&w->groups, fix, sizeof fix);
    hd_wbuf_bytes(&w->groups, g->key, klen);
    hd_wbuf_zeros(&w->groups, (size_t)(ix_align8(klen + 1) - klen));
    for (uint32_t i = 0; i < g->na; i++) {
        unsigned char a[IX_AREC];
        memset(a, 0, sizeof a);
        hd_wr64(a, ix_intern_str(w, g->a[i].name));
        hd_wr32(a + 8, g->a[i].version);
        hd_wbuf_bytes(&w->groups, a, sizeof a);
    }
    for (uint32_t i = 0; i < g->nv; i++) {
        ix_put_version(w, &g->v[i]);
        if (g->v[i].idem &&
            ix_push_slot(&w->islots, &w->ni, &w->capi,
                         (ix_slot){hd_hash_bytes(g->v[i].idem, strlen(g->v[i].idem), 0x1de3ull),
                                   rel, g->v[i].version}))
            w->rc = HERD_ENOMEM;
    }
    for (uint32_t i = 0; i < g->nm; i++) ix_put_move(w, &g->m[i]);
    uint64_t hash = hd_group_hash(g->family, g->key);
    if (ix_push_slot(&w->gslots, &w->ng, &w->capg, (ix_slot){hash, rel, 0}))
        w->rc = HERD_ENOMEM;
    return w->rc;
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

static void ix_writer_free(ix_writer *w)
{
    hd_wbuf_free(&w->groups);
    hd_wbuf_free(&w->versions);
    hd_wbuf_free(&w->moves);
    hd_wbuf_free(&w->families);
    hd_wbuf_free(&w->strings);
    free(w->in.off);
    free(w->in.hash);
    free(w->gslots);
    free(w->islots);
}

int hd_index_write(const hd_vfs *vfs, const char *dir, const char *tmp, const char *final,
                   const hd_rstate *st, size_t first, uint64_t start, uint64_t journal_end)
{
    ix_writer w;
    memset(&w, 0, sizeof w);
    hd_wbuf_zeros(&w.strings, 8); /* offset 0 means "no string" */
    int rc = hd_rstate_foreach_from(st, first, NULL, HD_PART_ALL, ix_write_group, &w);
    ix_end_family(&w);
    hd_rrun *runs = NULL;
    size_t nruns = 0;
    hd_wbuf rb = {0}, head = {0}, gt = {0}, it = {0}, crcs = {0}, pad = {0};
    if (!rc) rc = w.rc;
    if (!rc) rc = hd_rstate_runs_from(st, first, &runs, &nruns);
    for (size_t i = 0; !rc && i < nruns; i++) {
        hd_wbuf_u64(&rb, ix_intern_str(&w, runs[i].id));
        hd_wbuf_u64(&rb, ix_intern_str(&w, runs[i].params));
        hd_wbuf_u64(&rb, ix_intern_str(&w, runs[i].summary));
        hd_wbuf_u64(&rb, (uint64_t)runs[i].time_ms);
    }
    free(runs);
    uint64_t ngs = ix_pow2(w.ng), nis = ix_pow2(w.ni);
    if (!rc) rc = w.rc ? w.rc : ix_tables(&w, &gt, ngs, &it, nis);
    /* Pad the strings so the checksum table starts 8-aligned; the group
     * entries are 8-aligned by construction. */
    if (!rc) hd_wbuf_zeros(&w.strings, (size_t)(ix_align8(w.strings.n) - w.strings.n));
    if (!rc && (w.groups.oom || w.versions.oom || w.moves.oom || w.families.oom ||
                w.strings.oom || rb.oom))
        rc = HERD_ENOMEM;
    if (!rc) {
        uint64_t o = IX_HEADER;
        uint64_t slots = o, groups = slots + gt.n, versions = groups + w.groups.n;
        uint64_t moves = versions + w.versions.n, families = moves + w.moves.n;
        uint64_t runso = families + w.families.n, idem = runso + rb.n;
        uint64_t strings = idem + it.n, crco = strings + w.strings.n;
        uint64_t nchunks = (crco - IX_HEADER + IX_CHUNK - 1) / IX_CHUNK;
        /* Checksums need the data contiguous: hash the parts in order,
         * chunk by chunk, across their boundaries. */
        const hd_wbuf *parts[] = {&gt, &w.groups, &w.versions, &w.moves, &w.families, &rb,
                                  &it, &w.strings};
        hd_wbuf_zeros(&crcs, (size_t)(4 * nchunks));
        if (crcs.oom) rc = HERD_ENOMEM;
        uLong c = 0;
        uint64_t in_chunk = 0, k = 0;
        for (size_t pi = 0; !rc && pi < sizeof parts / sizeof *parts; pi++) {
            const unsigned char *p = parts[pi]->p;
            uint64_t n = parts[pi]->n;
            while (n) {
                if (!in_chunk) c = crc32(0L, Z_NULL, 0);
                uint64_t step = IX_CHUNK - in_chunk < n ? IX_CHUNK - in_chunk : n;
                c = crc32(c, p, (uInt)step);
                p += step;
                n -= step;
                in_chunk += step;
                if (in_chunk == IX_CHUNK) {
                    hd_wr32(crcs.p + 4 * k++, (uint32_t)c);
                    in_chunk = 0;
                }
            }
        }
        if (!rc && in_chunk) hd_wr32(crcs.p + 4 * k++, (uint32_t)c);
        hd_wbuf_zeros(&head, IX_HEADER);
        if (!rc && !head.oom) {
            unsigned char *h = head.p;
            memcpy(h, hd_ix_magic, 8);
            h[H_MAJOR] = IX_MAJOR;
            h[H_MINOR] = IX_MINOR;
            hd_wr32(h + H_HLEN, IX_HEADER);
            const uint64_t vals[][2] = {
                {H_FSIZE, crco + crcs.n}, {H_JEND, journal_end}, {H_SEQ, st->seq},
                {H_NGROUPS, w.ng}, {H_NVERSIONS, w.nversions}, {H_NFAMILIES, w.nfamilies},
                {H_NRUNS, nruns}, {H_NMOVES, w.nmoves}, {H_SLOTS, slots}, {H_NSLOTS, ngs},
                {H_GROUPS, groups}, {H_GLEN, w.groups.n}, {H_VERSIONS, versions},
                {H_MOVES, moves}, {H_FAMILIES, families}, {H_RUNS, runso}, {H_IDEM, idem},
                {H_NIDEM, nis}, {H_STRINGS, strings}, {H_SLEN, w.strings.n}, {H_CRCS, crco},
                {H_NCHUNKS, nchunks}, {H_PACK_END, st->pack.end}, {H_LAST_REC, st->rec_off},
                {H_TIME, (uint64_t)st->pack.time_ms}, {H_START, start}};
            for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
                hd_wr64(h + vals[i][0], vals[i][1]);
            hd_wr32(h + H_PACK_CUR, st->pack.cur);
            hd_wr32(h + H_PACK_MAX, st->pack.max);
            hd_wr32(h + H_CRCS_CRC, hd_crc32(crcs.p, crcs.n));
            hd_wr32(h + H_CRC, hd_crc32(h, H_CRC));
        } else if (!rc) {
            rc = HERD_ENOMEM;
        }
        if (!rc) {
            const hd_wbuf *all[] = {&head, &gt, &w.groups, &w.versions, &w.moves,
                                    &w.families, &rb, &it, &w.strings, &crcs};
            enum { NPARTS = sizeof all / sizeof *all };
            const void *bytes[NPARTS];
            size_t lens[NPARTS];
            for (size_t i = 0; i < NPARTS; i++) bytes[i] = all[i]->p, lens[i] = all[i]->n;
            rc = hd_vfs_replace(vfs, dir, tmp, final, bytes, lens, NPARTS);
        }
    }
    hd_wbuf_free(&rb);
    hd_wbuf_free(&head);
    hd_wbuf_free(&gt);
    hd_wbuf_free(&it);
    hd_wbuf_free(&crcs);
    hd_wbuf_free(&pad);
    ix_writer_free(&w);
    return rc;
}
