/* regindex.c -- the registry's binary index, read in place.
 *
 * Opening a registry of a million versions must cost about what opening
 * one of fifty thousand costs, so the index is never parsed as a whole: it
 * is mapped, and a lookup reads a hash slot, one group entry and the
 * records it points to.  Checksums follow the same rule: one CRC32 per
 * 64 KiB chunk, checked the first time a chunk is touched, so a damaged
 * chunk makes only the groups that live in it unreadable (docs/registry.md
 * has the layout, field by field).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "registry/state_internal.h"

static const unsigned char hd_ix_magic[8] = {0x89, 'H', 'I', 'D', 'X', '\r', '\n', '\n'};

enum {
    IX_HEADER = 256,
    IX_CHUNK = 65536,
    IX_VREC = 72, /* version record */
    IX_MREC = 56, /* alias move record */
    IX_FREC = 24, /* family record */
    IX_RREC = 32, /* run record */
    IX_GFIX = 40, /* fixed part of a group entry */
    IX_AREC = 16, /* alias record */
    IX_MAJOR = 1,
    IX_MINOR = 0
};

/* Header fields, by offset (all little-endian). */
enum {
    H_MAJOR = 8, H_MINOR = 10, H_HLEN = 12, H_FSIZE = 16, H_JEND = 24, H_SEQ = 32,
    H_NGROUPS = 40, H_NVERSIONS = 48, H_NFAMILIES = 56, H_NRUNS = 64, H_NMOVES = 72,
    H_SLOTS = 80, H_NSLOTS = 88, H_GROUPS = 96, H_GLEN = 104, H_VERSIONS = 112,
    H_MOVES = 120, H_FAMILIES = 128, H_RUNS = 136, H_IDEM = 144, H_NIDEM = 152,
    H_STRINGS = 160, H_SLEN = 168, H_CRCS = 176, H_NCHUNKS = 184, H_PACK_CUR = 192,
    H_PACK_END = 200, H_PACK_MAX = 208, H_TIME = 216, H_CRCS_CRC = 224, H_LAST_REC = 232,
    H_CRC = 252
};

struct hd_index {
    const hd_vfs *vfs;
    char *path;
    const unsigned char *b;
    uint64_t size;
    uint64_t jend, seq, ngroups, nversions, nfamilies, nruns, nmoves;
    uint64_t slots, nslots, groups, glen, versions, moves, families, runs, idem, nidem;
    uint64_t strings, slen, crcs, nchunks;
    uint64_t last_rec; /* journal offset of the last record covered */
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
    const unsigned char *s = (uint64_t)n + 5 <= ix->slen - so
                           ? ix_at(ix, ix->strings + so + 4, (uint64_t)n + 1) : NULL;
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
    F(last_rec, H_LAST_REC);
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
             ix->nruns < (1ull << 40) && ix->glen < size && ix->slen < size;
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

static uint64_t ix_align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

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

int hd_index_foreach(const hd_index *ix, const char *family, unsigned parts, hd_group_fn fn,
                     void *ctx)
{
    for (uint64_t f = 0; f < ix->nfamilies; f++) {
        const unsigned char *p = ix_at(ix, ix->families + f * IX_FREC, IX_FREC);
        if (!p) return HERD_ECORRUPT;
        int bad = 0;
        const char *name = ix_str(ix, hd_rd64(p), &bad);
        if (bad) return HERD_ECORRUPT;
        if (!name) return ix_damaged(ix, ix->families + f * IX_FREC, "a family without a name");
        if (family && strcmp(name, family)) continue;
        uint64_t rel = hd_rd64(p + 8), end = hd_rd64(p + 16);
        if (rel > end || end > ix->glen)
            return ix_damaged(ix, ix->families + f * IX_FREC, "an inconsistent family");
        hd_arena *ar = NULL;
        int rc = 0;
        for (size_t n = 0; rel < end && !rc; n++) {
            if (!(n & 1023)) { /* bound the scratch memory */
                hd_arena_free(ar);
                if (!(ar = hd_arena_new())) return HERD_ENOMEM;
            }
            ix_entry e;
            hd_rgroup g;
            rc = ix_entry_read(ix, rel, &e);
            if (!rc && e.family != f) rc = ix_damaged(ix, e.off, "a group of another family");
            if (!rc) rc = ix_decode_group(ix, &e, name, ar, parts, &g);
            if (!rc) rc = fn(ctx, &g); /* g.hash 0: visitors hash when they need it */
            rel += e.size;
        }
        hd_arena_free(ar);
        if (rc) return rc;
    }
    return 0;
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

int hd_index_write(const hd_vfs *vfs, const char *dir, const hd_rstate *st, uint64_t journal_end)
{
    ix_writer w;
    memset(&w, 0, sizeof w);
    hd_wbuf_zeros(&w.strings, 8); /* offset 0 means "no string" */
    int rc = hd_rstate_foreach(st, NULL, ix_write_group, &w);
    ix_end_family(&w);
    hd_rrun *runs = NULL;
    size_t nruns = 0;
    hd_wbuf rb = {0}, head = {0}, gt = {0}, it = {0}, crcs = {0}, pad = {0};
    if (!rc) rc = w.rc;
    if (!rc) rc = hd_rstate_runs(st, &runs, &nruns);
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
    char *tmp = NULL, *final = NULL;
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
                {H_TIME, (uint64_t)st->pack.time_ms}};
            for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
                hd_wr64(h + vals[i][0], vals[i][1]);
            hd_wr32(h + H_PACK_CUR, st->pack.cur);
            hd_wr32(h + H_PACK_MAX, st->pack.max);
            hd_wr32(h + H_CRCS_CRC, hd_crc32(crcs.p, crcs.n));
            hd_wr32(h + H_CRC, hd_crc32(h, H_CRC));
        } else if (!rc) {
            rc = HERD_ENOMEM;
        }
        size_t dl = strlen(dir);
        tmp = hd_malloc(dl + 16, 1);
        final = hd_malloc(dl + 16, 1);
        if (!rc && (!tmp || !final)) rc = HERD_ENOMEM;
        if (!rc) {
            snprintf(tmp, dl + 16, "%s/index.tmp", dir);
            snprintf(final, dl + 16, "%s/index", dir);
            const hd_wbuf *all[] = {&head, &gt, &w.groups, &w.versions, &w.moves,
                                    &w.families, &rb, &it, &w.strings, &crcs};
            enum { NPARTS = sizeof all / sizeof *all };
            const void *bytes[NPARTS];
            size_t lens[NPARTS];
            for (size_t i = 0; i < NPARTS; i++) bytes[i] = all[i]->p, lens[i] = all[i]->n;
            rc = hd_vfs_replace(vfs, dir, tmp, final, bytes, lens, NPARTS);
        }
    }
    free(tmp);
    free(final);
    hd_wbuf_free(&rb);
    hd_wbuf_free(&head);
    hd_wbuf_free(&gt);
    hd_wbuf_free(&it);
    hd_wbuf_free(&crcs);
    hd_wbuf_free(&pad);
    ix_writer_free(&w);
    return rc;
}
