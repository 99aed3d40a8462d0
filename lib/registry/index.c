/* index.c -- the registry's binary index, read in place.
 *
 * Opening a registry of a million versions must cost about what opening
 * one of fifty thousand costs, so the index is never parsed as a whole: it
 * is mapped, and a lookup reads a hash slot, one group entry and the
 * records it points to.  Checksums follow the same rule: one CRC32 per
 * 64 KiB chunk, checked the first time a chunk is touched, so a damaged
 * chunk makes only the groups that live in it unreadable (docs/registry.md
 * has the layout, field by field).
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "registry/index_format_internal.h"
#include "registry/index_internal.h"

struct hd_index {
    const hd_vfs *vfs;
    char *path;
    const unsigned char *b;
    uint64_t size;
    uint64_t jend, seq, ngroups, nversions, nfamilies, nruns, nmoves;
    uint64_t slots, nslots, groups, glen, versions, moves, families, runs, idem, nidem;
    uint64_t strings, slen, crcs, nchunks;
    uint64_t last_rec; /* journal offset of the last record covered */
    uint64_t start;    /* journal offset a delta continues from (0: a base) */
    hd_packpos pack;
    unsigned char *verified; /* one byte per chunk, set once its CRC matched */
};

/* ------------------------------------------------------------------------
 * Reading
 * --------------------------------------------------------------------- */

static int ix_damaged(const hd_index *ix, uint64_t off, const char *what)
{
    return hd_error(HERD_ECORRUPT, "registry index %s: %s at offset %llu; the rest of the "
                    "index is readable; rebuild it from the journal with "
                    "herd_registry_rebuild_index() (herd registry repair)",
                    ix->path, what, (unsigned long long)off);
}

static int ix_chunk_ok(const hd_index *ix, uint64_t k)
{
    if (__atomic_load_n(&ix->verified[k], __ATOMIC_RELAXED)) return 1;
    uint64_t start = IX_HEADER + k * IX_CHUNK;
    uint64_t end = start + IX_CHUNK < ix->crcs ? start + IX_CHUNK : ix->crcs;
    uint32_t want = hd_rd32(ix->b + ix->crcs + 4 * k);
    if (hd_crc32(ix->b + start, (size_t)(end - start)) != want) return 0;
    __atomic_store_n(&ix->verified[k], 1, __ATOMIC_RELAXED);
    return 1;
}

/* The bytes [off, off + len) of the data area, checksummed; NULL and an
 * error when out of bounds or damaged. */
static const unsigned char *ix_at(const hd_index *ix, uint64_t off, uint64_t len)
{
    if (off < IX_HEADER || off > ix->crcs || len > ix->crcs - off) {
        ix_damaged(ix, off, "a reference out of bounds");
        return NULL;
    }
    if (len) {
        for (uint64_t k = (off - IX_HEADER) / IX_CHUNK; k <= (off + len - 1 - IX_HEADER) / IX_CHUNK;
             k++) {
            if (!ix_chunk_ok(ix, k)) {
                ix_damaged(ix, IX_HEADER + k * IX_CHUNK, "checksum mismatch in the chunk");
                return NULL;
            }
        }
    }
    return ix->b + off;
}

/* The string at offset `so` of the strings section: NULL for 0 (none);
 * *bad on damage. */
static const char *ix_str(const hd_index *ix, uint64_t so, int *bad)
{
    if (!so) return NULL;
    if (so >= ix->slen) {
        *bad = 1;
        ix_damaged(ix, ix->strings, "a string reference out of bounds");
        return NULL;
    }
    const unsigned char *p = ix_at(ix, ix->strings + so, 4);
    if (!p) {
        *bad = 1;
        return NULL;
    }
    uint32_t n = hd_rd32(p);
    if ((uint64_t)n + 5 > ix->slen - so) { /* damage must say so, as every path here does */
        *bad = 1;
        ix_damaged(ix, ix->strings + so, "a string running past the strings section");
        return NULL;
    }
    const unsigned char *s = ix_at(ix, ix->strings + so + 4, (uint64_t)n + 1);
    if (!s || s[n] != 0 || memchr(s, 0, n)) {
        if (s) ix_damaged(ix, ix->strings + so, "a malformed string");
        *bad = 1;
        return NULL;
    }
    return (const char *)s;
}

static int ix_read_header(hd_index *ix, const unsigned char *h, uint64_t size)
{
    if (memcmp(h, hd_ix_magic, 8))
        return hd_error(HERD_ECORRUPT, "registry index %s: bad magic at offset 0", ix->path);
    if (hd_crc32(h, H_CRC) != hd_rd32(h + H_CRC))
        return hd_error(HERD_ECORRUPT, "registry index %s: header checksum mismatch at offset "
                        "%d", ix->path, H_CRC);
    unsigned major = (unsigned)(h[H_MAJOR] | h[H_MAJOR + 1] << 8);
    if (major != IX_MAJOR)
        return hd_error(HERD_EFORMAT, "registry index %s: format %u; this library reads "
                        "format %d (rebuild it with herd_registry_rebuild_index())", ix->path,
                        major, IX_MAJOR);
#define F(name, off) ix->name = hd_rd64(h + (off))
    F(size, H_FSIZE); F(jend, H_JEND); F(seq, H_SEQ); F(ngroups, H_NGROUPS);
    F(nversions, H_NVERSIONS); F(nfamilies, H_NFAMILIES); F(nruns, H_NRUNS);
    F(nmoves, H_NMOVES); F(slots, H_SLOTS); F(nslots, H_NSLOTS); F(groups, H_GROUPS);
    F(glen, H_GLEN); F(versions, H_VERSIONS); F(moves, H_MOVES); F(families, H_FAMILIES);
    F(runs, H_RUNS); F(idem, H_IDEM); F(nidem, H_NIDEM); F(strings, H_STRINGS);
    F(slen, H_SLEN); F(crcs, H_CRCS); F(nchunks, H_NCHUNKS); F(pack.end, H_PACK_END);
    F(last_rec, H_LAST_REC); F(start, H_START);
#undef F
    ix->pack.cur = hd_rd32(h + H_PACK_CUR);
    ix->pack.max = hd_rd32(h + H_PACK_MAX);
    ix->pack.time_ms = (int64_t)hd_rd64(h + H_TIME);
    /* The sections must lie in order inside the data area, and the sizes
     * agree with the counts: then no later bounds check can overflow. */
    uint64_t c = ix->crcs;
    int ok = ix->size == size && c >= IX_HEADER && c <= size &&
             ix->nchunks == (c - IX_HEADER + IX_CHUNK - 1) / IX_CHUNK &&
             size - c == 4 * ix->nchunks && ix->nslots && !(ix->nslots & (ix->nslots - 1)) &&
             ix->nidem && !(ix->nidem & (ix->nidem - 1)) &&
             ix->slots == IX_HEADER && ix->groups == ix->slots + 8 * ix->nslots &&
             ix->versions >= ix->groups + ix->glen &&
             ix->moves == ix->versions + IX_VREC * ix->nversions &&
             ix->families == ix->moves + IX_MREC * ix->nmoves &&
             ix->runs == ix->families + IX_FREC * ix->nfamilies &&
             ix->idem == ix->runs + IX_RREC * ix->nruns &&
             ix->strings == ix->idem + 16 * ix->nidem && ix->strings + ix->slen == c &&
             ix->nversions < (1ull << 40) && ix->nmoves < (1ull << 40) &&
             ix->nslots < (1ull << 40) && ix->nidem < (1ull << 40) &&
             ix->ngroups < (1ull << 40) && ix->nfamilies < (1ull << 40) &&
             ix->nruns < (1ull << 40) && ix->glen < size && ix->slen < size &&
             ix->start <= ix->jend;
    if (!ok)
        return hd_error(HERD_ECORRUPT, "registry index %s: inconsistent header (file of %llu "
                        "bytes) at offset 16", ix->path, (unsigned long long)size);
    return HERD_OK;
}

int hd_index_open(const hd_vfs *vfs, const char *path, hd_index **out)
{
    *out = NULL;
    hd_vfs_file *f;
    int rc = hd_vfs_open(vfs, path, HD_VFS_READ, &f);
    if (rc) return rc;
    hd_index *ix = hd_calloc(1, sizeof *ix);
    unsigned char h[IX_HEADER];
    uint64_t size = 0;
    size_t got = 0;
    if (!ix || !(ix->path = hd_strdup(path))) rc = HERD_ENOMEM;
    if (!rc) {
        ix->vfs = vfs;
        rc = hd_vfs_size(f, &size);
    }
    if (!rc) rc = hd_vfs_pread(f, h, sizeof h, 0, &got);
    if (!rc && got < sizeof h)
        rc = hd_error(HERD_ECORRUPT, "registry index %s: %llu bytes, shorter than its header "
                      "at offset 0", path, (unsigned long long)size);
    if (!rc) rc = ix_read_header(ix, h, size);
    if (!rc) rc = hd_vfs_map(f, size, (const void **)&ix->b);
    hd_vfs_close(f);
    if (!rc && hd_crc32(ix->b + ix->crcs, (size_t)(4 * ix->nchunks)) !=
                   hd_rd32(h + H_CRCS_CRC))
        rc = hd_error(HERD_ECORRUPT, "registry index %s: checksum table damaged at offset "
                      "%llu", path, (unsigned long long)ix->crcs);
    if (!rc && !(ix->verified = hd_calloc(ix->nchunks + 1, 1))) rc = HERD_ENOMEM;
    if (rc) {
        hd_index_free(ix);
        return rc;
    }
    *out = ix;
    return HERD_OK;
}

void hd_index_free(hd_index *ix)
{
    if (!ix) return;
    if (ix->b) hd_vfs_unmap(ix->vfs, ix->b, ix->size);
    free(ix->verified);
    free(ix->path);
    free(ix);
}

uint64_t hd_index_journal_end(const hd_index *ix) { return ix->jend; }
uint64_t hd_index_last_record(const hd_index *ix) { return ix->last_rec; }
uint64_t hd_index_seq(const hd_index *ix) { return ix->seq; }
uint64_t hd_index_start(const hd_index *ix) { return ix->start; }
uint64_t hd_index_weight(const hd_index *ix) { return ix->nversions + ix->nmoves; }
hd_packpos hd_index_packpos(const hd_index *ix) { return ix->pack; }
const char *hd_index_path(const hd_index *ix) { return ix->path; }

/* The name of family number i. */
static const char *ix_family(const hd_index *ix, uint64_t i, int *bad)
{
    if (i >= ix->nfamilies) {
        *bad = 1;
        ix_damaged(ix, ix->families, "a family reference out of bounds");
        return NULL;
    }
    const unsigned char *p = ix_at(ix, ix->families + i * IX_FREC, IX_FREC);
    if (!p) {
        *bad = 1;
        return NULL;
    }
    const char *s = ix_str(ix, hd_rd64(p), bad);
    if (!s && !*bad) {
        *bad = 1;
        ix_damaged(ix, ix->families + i * IX_FREC, "a family without a name");
    }
    return s;
}

/* A group entry's fixed part and its size. */
typedef struct ix_entry {
    uint64_t off; /* in the file */
    uint32_t family, key_len, nversions, naliases, nmoves;
    uint64_t vfirst, mfirst;
    const char *key;
    uint64_t aliases; /* file offset of the alias records */
    uint64_t size;
} ix_entry;

static int ix_entry_read(const hd_index *ix, uint64_t rel, ix_entry *e)
{
    uint64_t off = ix->groups + rel;
    const unsigned char *p = rel < ix->glen && ix->glen - rel >= IX_GFIX
                           ? ix_at(ix, off, IX_GFIX) : NULL;
    if (!p && rel < ix->glen && ix->glen - rel < IX_GFIX)
        return ix_damaged(ix, off, "a group entry cut short");
    if (!p) return rel < ix->glen ? HERD_ECORRUPT : ix_damaged(ix, off, "a group reference out of bounds");
    e->off = off;
    e->family = hd_rd32(p);
    e->key_len = hd_rd32(p + 4);
    e->vfirst = hd_rd64(p + 8);
    e->nversions = hd_rd32(p + 16);
    e->naliases = hd_rd32(p + 20);
    e->mfirst = hd_rd64(p + 24);
    e->nmoves = hd_rd32(p + 32);
    uint64_t keysz = ix_align8((uint64_t)e->key_len + 1);
    e->aliases = off + IX_GFIX + keysz;
    e->size = IX_GFIX + keysz + (uint64_t)e->naliases * IX_AREC;
    if (e->key_len > HERD_KEY_MAX || e->size > ix->glen - rel || e->vfirst > ix->nversions ||
        e->nversions > ix->nversions - e->vfirst || e->mfirst > ix->nmoves ||
        e->nmoves > ix->nmoves - e->mfirst || e->family >= ix->nfamilies)
        return ix_damaged(ix, off, "an inconsistent group entry");
    const unsigned char *k = ix_at(ix, off + IX_GFIX, (uint64_t)e->key_len + 1);
    if (!k) return HERD_ECORRUPT;
    if (k[e->key_len] != 0) return ix_damaged(ix, off, "a group key without its NUL");
    e->key = (const char *)k;
    return HERD_OK;
}

static int ix_decode_extra(const hd_index *ix, uint64_t so, hd_arena *ar, hd_rver *v)
{
    v->nmetrics = v->ntags = 0;
    v->metrics = NULL;
    v->tags = NULL;
    if (!so) return HERD_OK;
    int bad = 0;
    const unsigned char *p = so < ix->slen ? ix_at(ix, ix->strings + so, 4) : NULL;
    if (!p) return so < ix->slen ? HERD_ECORRUPT : ix_damaged(ix, ix->strings, "a reference out of bounds");
    uint32_t len = hd_rd32(p);
    const unsigned char *d = (uint64_t)len + 4 <= ix->slen - so
                           ? ix_at(ix, ix->strings + so + 4, len) : NULL;
    if (!d) return ix_damaged(ix, ix->strings + so, "a malformed metrics record");
    hd_rbuf r = {d, len, 0, 0};
    uint32_t nm = hd_rbuf_u32(&r);
    if (nm > len / 16) return ix_damaged(ix, ix->strings + so, "a malformed metrics record");
    hd_rmetric *ms = nm ? hd_arena_alloc(ar, nm * sizeof *ms) : NULL;
    if (nm && !ms) return HERD_ENOMEM;
    for (uint32_t i = 0; i < nm && !bad; i++) {
        ms[i].name = ix_str(ix, hd_rbuf_u64(&r), &bad);
        ms[i].value = hd_rbuf_f64(&r);
    }
    uint32_t nt = hd_rbuf_u32(&r);
    if (bad || r.bad || nt > len / 16)
        return bad ? HERD_ECORRUPT : ix_damaged(ix, ix->strings + so, "a malformed tags record");
    hd_rtag *ts = nt ? hd_arena_alloc(ar, nt * sizeof *ts) : NULL;
    if (nt && !ts) return HERD_ENOMEM;
    for (uint32_t i = 0; i < nt && !bad; i++) {
        ts[i].name = ix_str(ix, hd_rbuf_u64(&r), &bad);
        ts[i].value = ix_str(ix, hd_rbuf_u64(&r), &bad);
    }
    if (bad || r.bad) return bad ? HERD_ECORRUPT : ix_damaged(ix, ix->strings + so, "a malformed tags record");
    v->nmetrics = nm;
    v->metrics = ms;
    v->ntags = nt;
    v->tags = ts;
    return HERD_OK;
}

static int ix_decode_version(const hd_index *ix, uint64_t i, hd_arena *ar, hd_rver *v)
{
    const unsigned char *p = ix_at(ix, ix->versions + i * IX_VREC, IX_VREC);
    if (!p) return HERD_ECORRUPT;
    int bad = 0;
    v->version = hd_rd32(p);
    v->flags = hd_rd32(p + 4);
    v->pack = hd_rd32(p + 8);
    v->len = hd_rd32(p + 12);
    v->off = hd_rd64(p + 16);
    v->time_ms = (int64_t)hd_rd64(p + 24);
    v->run_id = ix_str(ix, hd_rd64(p + 32), &bad);
    v->idem = ix_str(ix, hd_rd64(p + 40), &bad);
    v->created = ix_str(ix, hd_rd64(p + 48), &bad);
    v->fingerprint = ix_str(ix, hd_rd64(p + 56), &bad);
    if (bad) return HERD_ECORRUPT;
    return ix_decode_extra(ix, hd_rd64(p + 64), ar, v);
}

static int ix_decode_move(const hd_index *ix, uint64_t i, hd_rmove *m)
{
    const unsigned char *p = ix_at(ix, ix->moves + i * IX_MREC, IX_MREC);
    if (!p) return HERD_ECORRUPT;
    int bad = 0;
    m->alias = ix_str(ix, hd_rd64(p), &bad);
    m->from = hd_rd32(p + 8);
    m->to = hd_rd32(p + 12);
    m->time_ms = (int64_t)hd_rd64(p + 16);
    m->seq = hd_rd64(p + 24);
    m->reason = ix_str(ix, hd_rd64(p + 32), &bad);
    m->details = ix_str(ix, hd_rd64(p + 40), &bad);
    m->run_id = ix_str(ix, hd_rd64(p + 48), &bad);
    if (!bad && !m->alias) return ix_damaged(ix, ix->moves + i * IX_MREC, "a move without alias");
    return bad ? HERD_ECORRUPT : HERD_OK;
}

/* `family`: the entry's family name when the caller knows it, or NULL. */
static int ix_decode_group(const hd_index *ix, const ix_entry *e, const char *family,
                           hd_arena *ar, unsigned parts, hd_rgroup *g)
{
    memset(g, 0, sizeof *g);
    int bad = 0;
    g->family = family ? family : ix_family(ix, e->family, &bad);
    if (bad) return HERD_ECORRUPT;
    g->key = e->key;
    g->nv = g->capv = (parts & HD_PART_VERSIONS) ? e->nversions : 0;
    g->na = g->capa = e->naliases;
    g->nm = g->capm = (parts & HD_PART_MOVES) ? e->nmoves : 0;
    g->v = g->nv ? hd_arena_alloc(ar, (size_t)g->nv * sizeof *g->v) : NULL;
    g->a = g->na ? hd_arena_alloc(ar, (size_t)g->na * sizeof *g->a) : NULL;
    g->m = g->nm ? hd_arena_alloc(ar, (size_t)g->nm * sizeof *g->m) : NULL;
    if ((g->nv && !g->v) || (g->na && !g->a) || (g->nm && !g->m)) return HERD_ENOMEM;
    for (uint32_t i = 0; i < g->nv; i++) {
        int rc = ix_decode_version(ix, e->vfirst + i, ar, &g->v[i]);
        if (rc) return rc;
        if (g->v[i].version != i + 1)
            return ix_damaged(ix, ix->versions + (e->vfirst + i) * IX_VREC,
                              "a version out of sequence");
    }
    const unsigned char *ap = g->na ? ix_at(ix, e->aliases, (uint64_t)g->na * IX_AREC) : NULL;
    if (g->na && !ap) return HERD_ECORRUPT;
    for (uint32_t i = 0; i < g->na; i++) {
        g->a[i].name = ix_str(ix, hd_rd64(ap + i * IX_AREC), &bad);
        g->a[i].version = hd_rd32(ap + i * IX_AREC + 8);
        if (bad) return HERD_ECORRUPT;
        if (!g->a[i].name || g->a[i].version == 0 || g->a[i].version > e->nversions)
            return ix_damaged(ix, e->aliases + i * IX_AREC, "an inconsistent alias");
    }
    for (uint32_t i = 0; i < g->nm; i++) {
        int rc = ix_decode_move(ix, e->mfirst + i, &g->m[i]);
        if (rc) return rc;
    }
    return HERD_OK;
}

/* Probe the group hash: 1 and *e, 0 absent, < 0 damage. */
static int ix_probe(const hd_index *ix, const char *family, const char *key, uint64_t hash,
                    ix_entry *e)
{
    uint32_t tag = (uint32_t)(hash >> 32) | 1u;
    uint64_t mask = ix->nslots - 1;
    for (uint64_t i = hash & mask, n = 0; n < ix->nslots; i = (i + 1) & mask, n++) {
        const unsigned char *s = ix_at(ix, ix->slots + 8 * i, 8);
        if (!s) return HERD_ECORRUPT;
        uint32_t t = hd_rd32(s);
        if (!t) return 0;
        if (t != tag) continue;
        int rc = ix_entry_read(ix, (uint64_t)hd_rd32(s + 4) * 8, e);
        if (rc) return rc;
        if (strcmp(e->key, key)) continue;
        int bad = 0;
        const char *fam = ix_family(ix, e->family, &bad);
        if (bad) return HERD_ECORRUPT;
        if (!strcmp(fam, family)) return 1;
    }
    return 0;
}

int hd_index_find(const hd_index *ix, const char *family, const char *key, uint64_t hash,
                  hd_arena *arena, hd_rgroup *g)
{
    ix_entry e;
    int rc = ix_probe(ix, family, key, hash, &e);
    if (rc != 1) return rc;
    rc = ix_decode_group(ix, &e, NULL, arena, HD_PART_ALL, g);
    if (rc) return rc;
    g->hash = hash;
    return 1;
}

int hd_index_alias(const hd_index *ix, const char *family, const char *key, uint64_t hash,
                   const char *alias, uint32_t *version, int *group_found)
{
    ix_entry e;
    *group_found = 0;
    int rc = ix_probe(ix, family, key, hash, &e);
    if (rc != 1) return rc;
    *group_found = 1;
    const unsigned char *ap = e.naliases ? ix_at(ix, e.aliases, (uint64_t)e.naliases * IX_AREC)
                                         : NULL;
    if (e.naliases && !ap) return HERD_ECORRUPT;
    for (uint32_t i = 0; i < e.naliases; i++) {
        int bad = 0;
        const char *name = ix_str(ix, hd_rd64(ap + i * IX_AREC), &bad);
        if (bad) return HERD_ECORRUPT;
        if (name && !strcmp(name, alias)) {
            *version = hd_rd32(ap + i * IX_AREC + 8);
            if (!*version || *version > e.nversions)
                return ix_damaged(ix, e.aliases + i * IX_AREC, "an inconsistent alias");
            return 1;
        }
    }
    return 0;
}

int hd_index_idem(const hd_index *ix, const char *idem, uint64_t hash, const char **family,
                  const char **key, uint32_t *version)
{
    uint64_t want = hash | 1u, mask = ix->nidem - 1;
    for (uint64_t i = hash & mask, n = 0; n < ix->nidem; i = (i + 1) & mask, n++) {
        const unsigned char *s = ix_at(ix, ix->idem + 16 * i, 16);
        if (!s) return HERD_ECORRUPT;
        uint64_t h = hd_rd64(s);
        if (!h) return 0;
        if (h != want) continue;
        ix_entry e;
        int rc = ix_entry_read(ix, (uint64_t)hd_rd32(s + 8) * 8, &e);
        if (rc) return rc;
        uint32_t v = hd_rd32(s + 12);
        if (!v || v > e.nversions) return ix_damaged(ix, ix->idem + 16 * i, "a bad idempotency entry");
        const unsigned char *p = ix_at(ix, ix->versions + (e.vfirst + v - 1) * IX_VREC, IX_VREC);
        int bad = 0;
        const char *k = p ? ix_str(ix, hd_rd64(p + 40), &bad) : NULL;
        if (!p || bad) return HERD_ECORRUPT;
        if (!k || strcmp(k, idem)) continue;
        *family = ix_family(ix, e.family, &bad);
        if (bad) return HERD_ECORRUPT;
        *key = e.key;
        *version = v;
        return 1;
    }
    return 0;
}

/* The family record f: its name and the range of its group entries. */
static int ix_family_range(const hd_index *ix, uint64_t f, const char **name, uint64_t *rel,
                           uint64_t *end)
{
    const unsigned char *p = ix_at(ix, ix->families + f * IX_FREC, IX_FREC);
    if (!p) return HERD_ECORRUPT;
    int bad = 0;
    *name = ix_str(ix, hd_rd64(p), &bad);
    if (bad) return HERD_ECORRUPT;
    if (!*name) return ix_damaged(ix, ix->families + f * IX_FREC, "a family without a name");
    *rel = hd_rd64(p + 8);
    *end = hd_rd64(p + 16);
    if (*rel > *end || *end > ix->glen)
        return ix_damaged(ix, ix->families + f * IX_FREC, "an inconsistent family");
    return HERD_OK;
}

void hd_index_cursor_init(hd_index_cursor *c, const hd_index *ix, const char *family,
                          unsigned parts)
{
    memset(c, 0, sizeof *c);
    c->ix = ix;
    c->only = family;
    c->parts = parts;
}

int hd_index_cursor_next(hd_index_cursor *c, hd_rgroup *g)
{
    const hd_index *ix = c->ix;
    while (c->rel == c->end) { /* the next family with groups (or the end) */
        if (c->f == ix->nfamilies) return 0;
        int rc = ix_family_range(ix, c->f, &c->family, &c->rel, &c->end);
        if (rc) return rc;
        if (c->only && strcmp(c->family, c->only)) c->rel = c->end;
        c->f++;
    }
    if (!(c->n++ & 1023)) { /* bound the scratch memory */
        hd_arena_free(c->ar);
        if (!(c->ar = hd_arena_new())) return HERD_ENOMEM;
    }
    ix_entry e;
    int rc = ix_entry_read(ix, c->rel, &e);
    if (!rc && e.family != c->f - 1) rc = ix_damaged(ix, e.off, "a group of another family");
    if (!rc) rc = ix_decode_group(ix, &e, c->family, c->ar, c->parts, g);
    if (rc) return rc;
    c->rel += e.size;
    return 1; /* g->hash 0: visitors hash when they need it */
}

void hd_index_cursor_free(hd_index_cursor *c)
{
    hd_arena_free(c->ar);
    c->ar = NULL;
}

int hd_index_foreach(const hd_index *ix, const char *family, unsigned parts, hd_group_fn fn,
                     void *ctx)
{
    hd_index_cursor c;
    hd_index_cursor_init(&c, ix, family, parts);
    hd_rgroup g;
    int rc;
    while ((rc = hd_index_cursor_next(&c, &g)) == 1)
        if ((rc = fn(ctx, &g))) break;
    hd_index_cursor_free(&c);
    return rc;
}

size_t hd_index_nruns(const hd_index *ix) { return (size_t)ix->nruns; }

int hd_index_run(const hd_index *ix, size_t i, hd_rrun *run)
{
    const unsigned char *p = ix_at(ix, ix->runs + i * IX_RREC, IX_RREC);
    if (!p) return HERD_ECORRUPT;
    int bad = 0;
    run->id = ix_str(ix, hd_rd64(p), &bad);
    run->params = ix_str(ix, hd_rd64(p + 8), &bad);
    run->summary = ix_str(ix, hd_rd64(p + 16), &bad);
    run->time_ms = (int64_t)hd_rd64(p + 24);
    if (!bad && !run->id) return ix_damaged(ix, ix->runs + i * IX_RREC, "a run without an id");
    return bad ? HERD_ECORRUPT : HERD_OK;
}

int hd_index_verify(const hd_index *ix, int (*fn)(void *ctx, uint64_t offset), void *ctx)
{
    for (uint64_t k = 0; k < ix->nchunks; k++) {
        if (ix_chunk_ok(ix, k)) continue;
        int rc = fn(ctx, IX_HEADER + k * IX_CHUNK);
        if (rc) return rc;
    }
    return HERD_OK;
}
