/* state.c -- the registry's in-memory state and the journal records
 * that change it.
 *
 * Replaying the journal and committing a batch run the same code: a commit
 * encodes its record, writes it, then applies the bytes it wrote (read
 * back a chunk at a time, through hd_rstate_apply_begin/_ops/_end, of
 * which hd_rstate_apply is made), so what a writer sees is exactly what
 * every later reader will rebuild from the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "registry/state_internal.h"

/* ------------------------------------------------------------------------
 * Groups
 * --------------------------------------------------------------------- */

static void hd_rgroup_free(hd_rgroup *g)
{
    if (!g) return;
    free(g->v);
    free(g->a);
    free(g->m);
    free(g);
}

/* ------------------------------------------------------------------------
 * State
 * --------------------------------------------------------------------- */

static void hd_segments_free(hd_index **seg, size_t nseg)
{
    for (size_t i = 0; i < nseg; i++) hd_index_free(seg[i]);
    free(seg);
}

int hd_rstate_init(hd_rstate *st, hd_index **seg, size_t nseg)
{
    memset(st, 0, sizeof *st);
    st->arena = hd_arena_new();
    st->scratch = st->arena ? hd_arena_new() : NULL;
    if (!st->scratch) {
        hd_arena_free(st->arena);
        st->arena = NULL;
        hd_segments_free(seg, nseg);
        return HERD_ENOMEM;
    }
    st->seg = seg;
    st->nseg = nseg;
    if (nseg) { /* the top segment is where the journal's tail starts */
        const hd_index *top = seg[nseg - 1];
        st->pack = hd_index_packpos(top);
        st->seq = hd_index_seq(top);
        st->rec_off = hd_index_last_record(top);
    }
    return HERD_OK;
}

void hd_rstate_free(hd_rstate *st)
{
    for (size_t i = 0; i < st->cap; i++) hd_rgroup_free(st->slots[i]);
    free(st->slots);
    free(st->idem);
    free(st->runs);
    hd_arena_free(st->arena);
    hd_arena_free(st->scratch);
    hd_segments_free(st->seg, st->nseg);
    memset(st, 0, sizeof *st);
}

hd_rgroup *hd_rstate_overlay(const hd_rstate *st, const char *family, const char *key,
                             uint64_t hash)
{
    if (!st->n) return NULL;
    size_t mask = st->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        hd_rgroup *g = st->slots[i];
        if (!g) return NULL;
        if (g->hash == hash && !strcmp(g->key, key) && !strcmp(g->family, family)) return g;
    }
}

static int hd_rstate_grow(hd_rstate *st)
{
    size_t ncap = st->cap ? st->cap * 2 : 256;
    hd_rgroup **ns = hd_calloc(ncap, sizeof *ns);
    if (!ns) return HERD_ENOMEM;
    for (size_t i = 0; i < st->cap; i++) {
        hd_rgroup *g = st->slots[i];
        if (!g) continue;
        size_t j = (size_t)g->hash & (ncap - 1);
        while (ns[j]) j = (j + 1) & (ncap - 1);
        ns[j] = g;
    }
    free(st->slots);
    st->slots = ns;
    st->cap = ncap;
    return HERD_OK;
}

static int hd_rstate_insert(hd_rstate *st, hd_rgroup *g)
{
    if ((st->n + 1) * 2 > st->cap && hd_rstate_grow(st)) return HERD_ENOMEM;
    size_t mask = st->cap - 1, i = (size_t)g->hash & mask;
    while (st->slots[i]) i = (i + 1) & mask;
    st->slots[i] = g;
    st->n++;
    return HERD_OK;
}

/* The group in the segments, newest first: as hd_index_find. */
static int hd_segments_find(const hd_rstate *st, const char *family, const char *key,
                            uint64_t hash, hd_arena *arena, hd_rgroup *g)
{
    for (size_t i = st->nseg; i-- > 0;) {
        int rc = hd_index_find(st->seg[i], family, key, hash, arena, g);
        if (rc) return rc;
    }
    return 0;
}

int hd_rstate_index_alias(const hd_rstate *st, const char *family, const char *key,
                          uint64_t hash, const char *alias, uint32_t *version,
                          int *group_found)
{
    *group_found = 0;
    for (size_t i = st->nseg; i-- > 0;) {
        int rc = hd_index_alias(st->seg[i], family, key, hash, alias, version, group_found);
        if (rc || *group_found) return rc; /* a newer segment has the whole group */
    }
    return 0;
}

/* A decoded array the group keeps: into the state's arena. */
static const void *hd_rstate_keep(hd_rstate *st, const void *p, size_t n, size_t size)
{
    if (!n) return NULL;
    void *d = hd_arena_alloc(st->arena, n * size);
    if (d) memcpy(d, p, n * size);
    return d;
}

/* Copy the arrays of a group decoded from the index (into the scratch
 * arena, cleared at the next copy-up) into malloc'd ones the overlay can
 * grow; the versions' metrics and tags, which never change, go to the
 * state's arena.  Strings point into the index's mapping and stay there. */
static int hd_rgroup_copy_up(hd_rstate *st, const hd_rgroup *src, hd_rgroup *g)
{
    g->v = src->nv ? hd_malloc(src->nv, sizeof *g->v) : NULL;
    g->a = src->na ? hd_malloc(src->na, sizeof *g->a) : NULL;
    g->m = src->nm ? hd_malloc(src->nm, sizeof *g->m) : NULL;
    if ((src->nv && !g->v) || (src->na && !g->a) || (src->nm && !g->m)) return HERD_ENOMEM;
    if (src->nv) memcpy(g->v, src->v, src->nv * sizeof *g->v);
    if (src->na) memcpy(g->a, src->a, src->na * sizeof *g->a);
    if (src->nm) memcpy(g->m, src->m, src->nm * sizeof *g->m);
    g->nv = g->capv = src->nv;
    g->na = g->capa = src->na;
    g->nm = g->capm = src->nm;
    for (uint32_t i = 0; i < g->nv; i++) {
        hd_rver *v = &g->v[i];
        v->metrics = hd_rstate_keep(st, v->metrics, v->nmetrics, sizeof *v->metrics);
        v->tags = hd_rstate_keep(st, v->tags, v->ntags, sizeof *v->tags);
        if ((v->nmetrics && !v->metrics) || (v->ntags && !v->tags)) return HERD_ENOMEM;
    }
    return HERD_OK;
}

/* The overlay group of (family, key), copied up from the index or created
 * empty.  Metrics and tags arrays stay where they are (arena or mapping):
 * they never change. */
static int hd_rstate_touch(hd_rstate *st, const char *family, const char *key,
                           hd_rgroup **out)
{
    uint64_t h = hd_group_hash(family, key);
    hd_rgroup *g = hd_rstate_overlay(st, family, key, h);
    if (g) {
        *out = g;
        return HERD_OK;
    }
    g = hd_calloc(1, sizeof *g);
    if (!g) return HERD_ENOMEM;
    hd_rgroup src;
    hd_arena_clear(st->scratch);
    int rc = hd_segments_find(st, family, key, h, st->scratch, &src);
    if (rc == 1) {
        rc = hd_rgroup_copy_up(st, &src, g);
        g->family = src.family;
        g->key = src.key;
    }
    if (rc == 0) {
        g->family = hd_arena_strndup(st->arena, family, strlen(family));
        g->key = hd_arena_strndup(st->arena, key, strlen(key));
        if (!g->family || !g->key) rc = HERD_ENOMEM;
    }
    g->hash = h;
    if (rc >= 0 && (rc = hd_rstate_insert(st, g)) == HERD_OK) {
        *out = g;
        return HERD_OK;
    }
    hd_rgroup_free(g);
    return rc < 0 ? rc : HERD_ENOMEM;
}

int hd_rstate_find(const hd_rstate *st, const char *family, const char *key,
                   hd_arena *scratch, const hd_rgroup **out)
{
    uint64_t h = hd_group_hash(family, key);
    const hd_rgroup *g = hd_rstate_overlay(st, family, key, h);
    if (g) {
        *out = g;
        return 1;
    }
    if (!st->nseg) return 0;
    hd_rgroup *tmp = hd_arena_alloc(scratch, sizeof *tmp);
    if (!tmp) return HERD_ENOMEM;
    int rc = hd_segments_find(st, family, key, h, scratch, tmp);
    if (rc == 1) {
        tmp->hash = h;
        *out = tmp;
    }
    return rc;
}

/* ---- idempotency keys ---- */

static int hd_idem_grow(hd_rstate *st)
{
    size_t ncap = st->idem_cap ? st->idem_cap * 2 : 256;
    hd_ridem *ns = hd_calloc(ncap, sizeof *ns);
    if (!ns) return HERD_ENOMEM;
    for (size_t i = 0; i < st->idem_cap; i++) {
        if (!st->idem[i].key) continue;
        size_t j = (size_t)st->idem[i].hash & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = st->idem[i];
    }
    free(st->idem);
    st->idem = ns;
    st->idem_cap = ncap;
    return HERD_OK;
}

static const hd_ridem *hd_idem_find(const hd_rstate *st, const char *key, uint64_t h)
{
    if (!st->idem_n) return NULL;
    size_t mask = st->idem_cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const hd_ridem *e = &st->idem[i];
        if (!e->key) return NULL;
        if (e->hash == h && !strcmp(e->key, key)) return e;
    }
}

static int hd_idem_add(hd_rstate *st, const char *key, hd_rgroup *g, uint32_t version)
{
    if ((st->idem_n + 1) * 2 > st->idem_cap && hd_idem_grow(st)) return HERD_ENOMEM;
    uint64_t h = hd_hash_bytes(key, strlen(key), 0x1de3ull);
    size_t mask = st->idem_cap - 1, i = (size_t)h & mask;
    while (st->idem[i].key) i = (i + 1) & mask;
    st->idem[i] = (hd_ridem){key, h, g, version};
    st->idem_n++;
    return HERD_OK;
}

int hd_rstate_idem(const hd_rstate *st, const char *idem, const char **family,
                   const char **key, uint32_t *version)
{
    uint64_t h = hd_hash_bytes(idem, strlen(idem), 0x1de3ull);
    const hd_ridem *e = hd_idem_find(st, idem, h);
    if (e) {
        *family = e->g->family;
        *key = e->g->key;
        *version = e->version;
        return 1;
    }
    for (size_t i = st->nseg; i-- > 0;) {
        int rc = hd_index_idem(st->seg[i], idem, h, family, key, version);
        if (rc) return rc;
    }
    return 0;
}

/* ---- iteration: index and overlay merged by (family, key) ---- */

static int hd_group_cmp(const hd_rgroup *a, const hd_rgroup *b)
{
    int c = strcmp(a->family, b->family);
    return c ? c : strcmp(a->key, b->key);
}

static int hd_group_ptr_cmp(const void *a, const void *b)
{
    return hd_group_cmp(*(hd_rgroup *const *)a, *(hd_rgroup *const *)b);
}

/* A k-way merge by (family, key) of the segments' cursors and the sorted
 * overlay groups.  Where several have a group, the newest wins (the
 * overlay, then the higher segment): each holds it whole. */
typedef struct hd_merge_src {
    hd_index_cursor c; /* unused for the overlay */
    hd_rgroup g;       /* the head */
    int live;          /* g is valid */
} hd_merge_src;

static int hd_merge_advance(hd_merge_src *s, hd_rgroup **ov, size_t nov, size_t *next)
{
    if (!s->c.ix) { /* the overlay */
        s->live = *next < nov;
        if (s->live) s->g = *ov[(*next)++];
        return HERD_OK;
    }
    int rc = hd_index_cursor_next(&s->c, &s->g);
    s->live = rc == 1;
    return rc < 0 ? rc : HERD_OK;
}

int hd_rstate_foreach_from(const hd_rstate *st, size_t first, const char *family,
                           unsigned parts, hd_group_fn fn, void *ctx)
{
    size_t nsrc = st->nseg - first + 1, nov = 0, next = 0; /* sources: segments, overlay */
    hd_merge_src *src = hd_calloc(nsrc, sizeof *src);
    hd_rgroup **ov = st->n ? hd_malloc(st->n, sizeof *ov) : NULL;
    if (!src || (st->n && !ov)) {
        free(src);
        free(ov);
        return HERD_ENOMEM;
    }
    for (size_t i = 0; i < st->cap; i++) {
        hd_rgroup *g = st->slots[i];
        if (g && (!family || !strcmp(g->family, family))) ov[nov++] = g;
    }
    if (nov) qsort(ov, nov, sizeof *ov, hd_group_ptr_cmp);
    int rc = HERD_OK;
    for (size_t i = 0; i + 1 < nsrc; i++) hd_index_cursor_init(&src[i].c, st->seg[first + i],
                                                               family, parts);
    for (size_t i = 0; !rc && i < nsrc; i++) rc = hd_merge_advance(&src[i], ov, nov, &next);
    while (!rc) {
        /* The smallest head; on a tie the newest source (the last). */
        size_t best = nsrc;
        for (size_t i = 0; i < nsrc; i++)
            if (src[i].live && (best == nsrc || hd_group_cmp(&src[i].g, &src[best].g) <= 0))
                best = i;
        if (best == nsrc) break;
        rc = fn(ctx, &src[best].g);
        /* Older copies of the same group are shadowed: skip them. */
        for (size_t i = 0; !rc && i < nsrc; i++)
            if (i != best && src[i].live && !hd_group_cmp(&src[i].g, &src[best].g))
                rc = hd_merge_advance(&src[i], ov, nov, &next);
        if (!rc) rc = hd_merge_advance(&src[best], ov, nov, &next);
    }
    for (size_t i = 0; i + 1 < nsrc; i++) hd_index_cursor_free(&src[i].c);
    free(src);
    free(ov);
    return rc;
}

int hd_rstate_foreach(const hd_rstate *st, const char *family, hd_group_fn fn, void *ctx)
{
    return hd_rstate_foreach_from(st, 0, family, HD_PART_ALL, fn, ctx);
}

int hd_rstate_foreach_parts(const hd_rstate *st, const char *family, unsigned parts,
                            hd_group_fn fn, void *ctx)
{
    return hd_rstate_foreach_from(st, 0, family, parts, fn, ctx);
}

uint64_t hd_rstate_overlay_weight(const hd_rstate *st)
{
    uint64_t w = 0;
    for (size_t i = 0; i < st->cap; i++)
        if (st->slots[i]) w += (uint64_t)st->slots[i]->nv + st->slots[i]->nm;
    return w;
}

/* Add or replace run r in v[0..*k): a later layer replaces an earlier
 * one's record of the same id, but a run keeps the time of its first. */
static void hd_runs_put(hd_rrun *v, size_t *k, const hd_rrun *r)
{
    size_t j = 0;
    while (j < *k && strcmp(v[j].id, r->id)) j++;
    if (j == *k) {
        v[(*k)++] = *r;
        return;
    }
    int64_t first = v[j].time_ms;
    v[j] = *r;
    v[j].time_ms = first;
}

int hd_rstate_runs_from(const hd_rstate *st, size_t first, hd_rrun **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t total = st->nruns;
    for (size_t s = first; s < st->nseg; s++) total += hd_index_nruns(st->seg[s]);
    hd_rrun *v = hd_malloc(total + 1, sizeof *v);
    if (!v) return HERD_ENOMEM;
    size_t k = 0;
    for (size_t s = first; s < st->nseg; s++) {
        for (size_t i = 0, m = hd_index_nruns(st->seg[s]); i < m; i++) {
            hd_rrun r;
            int rc = hd_index_run(st->seg[s], i, &r);
            if (rc) {
                free(v);
                return rc;
            }
            hd_runs_put(v, &k, &r);
        }
    }
    for (size_t i = 0; i < st->nruns; i++) hd_runs_put(v, &k, &st->runs[i]);
    *out = v;
    *n = k;
    return HERD_OK;
}

int hd_rstate_runs(const hd_rstate *st, hd_rrun **out, size_t *n)
{
    return hd_rstate_runs_from(st, 0, out, n);
}

/* ------------------------------------------------------------------------
 * Applying a record
 * --------------------------------------------------------------------- */

static int hd_damaged(const hd_rapply *c, const char *what)
{
    if (c->r.bad == 2) return HERD_ENOMEM;
    return hd_error(HERD_ECORRUPT, "%s (commit %llu): %s; the checksum matched, so the "
                    "record was written like this: please report it",
                    c->where, (unsigned long long)c->seq, what);
}

static int hd_push_version(hd_rgroup *g, const hd_rver *v)
{
    if (g->nv == g->capv) {
        size_t cap = g->capv;
        if (hd_grow_from((void **)&g->v, &cap, (size_t)g->nv + 1, sizeof *g->v, 1))
            return HERD_ENOMEM;
        g->capv = (uint32_t)cap;
    }
    g->v[g->nv++] = *v;
    return HERD_OK;
}

static int hd_push_move(hd_rgroup *g, const hd_rmove *m)
{
    if (g->nm == g->capm) {
        size_t cap = g->capm;
        if (hd_grow_from((void **)&g->m, &cap, (size_t)g->nm + 1, sizeof *g->m, 1))
            return HERD_ENOMEM;
        g->capm = (uint32_t)cap;
    }
    g->m[g->nm++] = *m;
    return HERD_OK;
}

static int hd_set_alias(hd_rgroup *g, const char *name, uint32_t to)
{
    for (uint32_t i = 0; i < g->na; i++) {
        if (strcmp(g->a[i].name, name)) continue;
        if (to) {
            g->a[i].version = to;
        } else {
            g->a[i] = g->a[g->na - 1];
            g->na--;
        }
        return HERD_OK;
    }
    if (!to) return HERD_OK;
    if (g->na == g->capa) {
        size_t cap = g->capa;
        if (hd_grow_from((void **)&g->a, &cap, (size_t)g->na + 1, sizeof *g->a, 1))
            return HERD_ENOMEM;
        g->capa = (uint32_t)cap;
    }
    g->a[g->na++] = (hd_ralias){name, to};
    return HERD_OK;
}

/* Past a damaged record: versions up to `upto` that a later record needs
 * and the lost one made become placeholders.  Outside a lossy replay, or
 * beyond what the skipped bytes could have held, a gap is damage. */
static int hd_fill_lost(hd_rapply *c, hd_rgroup *g, uint32_t upto)
{
    if (upto <= g->nv) return HERD_OK;
    if (!c->st->lossy || upto - g->nv > c->st->lost_budget) return 1;
    c->st->lost_budget -= upto - g->nv;
    while (g->nv < upto) {
        hd_rver v;
        memset(&v, 0, sizeof v);
        v.version = g->nv + 1;
        v.flags = HD_RV_ARCHIVED | HD_RV_LOST;
        v.time_ms = c->time_ms;
        int rc = hd_push_version(g, &v);
        if (rc) return rc;
        if (c->st->on_lost)
            c->st->on_lost(c->st->lost_ctx, HD_LOST_VERSION, g->family, g->key, NULL, v.version);
    }
    return HERD_OK;
}

/* A string of the record, kept in the state's arena. */
static const char *hd_apply_str(hd_rapply *c)
{
    return hd_rbuf_str_shared(&c->r, c->st->arena, &c->st->strs);
}

static int hd_apply_version(hd_rapply *c)
{
    hd_rbuf *r = &c->r;
    hd_arena *ar = c->st->arena;
    const char *family = hd_apply_str(c), *key = hd_apply_str(c);
    hd_rver v;
    memset(&v, 0, sizeof v);
    v.version = hd_rbuf_u32(r);
    v.pack = hd_rbuf_u32(r);
    v.off = hd_rbuf_u64(r);
    v.len = hd_rbuf_u32(r);
    v.time_ms = c->time_ms;
    v.run_id = hd_apply_str(c);
    v.idem = hd_apply_str(c);
    v.created = hd_apply_str(c);
    v.fingerprint = hd_apply_str(c);
    v.nmetrics = hd_rbuf_u32(r);
    if (r->bad || v.nmetrics > (r->n - r->pos) / 12) return hd_damaged(c, "bad version entry");
    hd_rmetric *ms = v.nmetrics ? hd_arena_alloc(ar, v.nmetrics * sizeof *ms) : NULL;
    if (v.nmetrics && !ms) return HERD_ENOMEM;
    for (uint32_t i = 0; i < v.nmetrics; i++) {
        ms[i].name = hd_apply_str(c);
        ms[i].value = hd_rbuf_f64(r);
    }
    v.ntags = hd_rbuf_u32(r);
    if (r->bad || v.ntags > (r->n - r->pos) / 8) return hd_damaged(c, "bad version entry");
    hd_rtag *ts = v.ntags ? hd_arena_alloc(ar, v.ntags * sizeof *ts) : NULL;
    if (v.ntags && !ts) return HERD_ENOMEM;
    for (uint32_t i = 0; i < v.ntags; i++) {
        ts[i].name = hd_apply_str(c);
        ts[i].value = hd_apply_str(c);
    }
    v.metrics = ms;
    v.tags = ts;
    if (r->bad || !family || !key) return hd_damaged(c, "bad version entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (v.version > g->nv + 1 && (rc = hd_fill_lost(c, g, v.version - 1)) < 0) return rc;
    if (v.version != g->nv + 1) {
        char what[160];
        snprintf(what, sizeof what, "version %u of a group that has %u", v.version, g->nv);
        return hd_damaged(c, what);
    }
    if ((rc = hd_push_version(g, &v))) return rc;
    if (v.idem && (rc = hd_idem_add(c->st, v.idem, g, v.version))) return rc;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_alias(hd_rapply *c)
{
    hd_rbuf *r = &c->r;
    const char *family = hd_apply_str(c), *key = hd_apply_str(c);
    hd_rmove m = {.alias = hd_apply_str(c), .time_ms = c->time_ms, .seq = c->seq};
    m.from = hd_rbuf_u32(r);
    m.to = hd_rbuf_u32(r);
    m.reason = hd_apply_str(c);
    m.details = hd_apply_str(c);
    m.run_id = hd_apply_str(c);
    if (r->bad || !family || !key || !m.alias) return hd_damaged(c, "bad alias entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (m.to > g->nv && (rc = hd_fill_lost(c, g, m.to)) < 0) return rc;
    if (m.to > g->nv) return hd_damaged(c, "an alias points past the group's last version");
    if (c->st->lossy && c->st->on_lost) {
        const hd_ralias *now = hd_rgroup_alias(g, m.alias);
        if ((now ? now->version : 0) != m.from) /* a move to `from` is missing */
            c->st->on_lost(c->st->lost_ctx, HD_LOST_MOVE, g->family, g->key, m.alias, m.from);
    }
    if ((rc = hd_set_alias(g, m.alias, m.to)) || (rc = hd_push_move(g, &m))) return rc;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_archive(hd_rapply *c)
{
    hd_rbuf *r = &c->r;
    const char *family = hd_apply_str(c), *key = hd_apply_str(c);
    uint32_t version = hd_rbuf_u32(r);
    (void)hd_apply_str(c); /* the reason: kept in the journal only */
    if (r->bad || !family || !key) return hd_damaged(c, "bad archive entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (version > g->nv && (rc = hd_fill_lost(c, g, version)) < 0) return rc;
    if (!version || version > g->nv) return hd_damaged(c, "archive of a missing version");
    g->v[version - 1].flags |= HD_RV_ARCHIVED;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_relocate(hd_rapply *c)
{
    hd_rbuf *r = &c->r;
    const char *family = hd_apply_str(c), *key = hd_apply_str(c);
    uint32_t version = hd_rbuf_u32(r), pack = hd_rbuf_u32(r);
    uint64_t off = hd_rbuf_u64(r);
    if (r->bad || !family || !key) return hd_damaged(c, "bad relocation entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (version > g->nv && (rc = hd_fill_lost(c, g, version)) < 0) return rc;
    if (!version || version > g->nv) return hd_damaged(c, "relocation of a missing version");
    g->v[version - 1].pack = pack;
    g->v[version - 1].off = off;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_run(hd_rapply *c)
{
    hd_rbuf *r = &c->r;
    hd_rrun run = {.time_ms = c->time_ms};
    run.id = hd_apply_str(c);
    run.params = hd_apply_str(c);
    run.summary = hd_apply_str(c);
    if (r->bad || !run.id) return hd_damaged(c, "bad run entry");
    hd_rstate *st = c->st;
    for (size_t i = 0; i < st->nruns; i++) {
        if (strcmp(st->runs[i].id, run.id)) continue;
        run.time_ms = st->runs[i].time_ms;
        if (!run.params) run.params = st->runs[i].params;
        st->runs[i] = run;
        return HERD_OK;
    }
    /* Keep the index's params when only the summary changes: the newest
     * segment's record of the run has them. */
    for (size_t s = st->nseg; !run.params && s-- > 0;) {
        for (size_t i = 0, n = hd_index_nruns(st->seg[s]); i < n; i++) {
            hd_rrun old;
            if (hd_index_run(st->seg[s], i, &old) == HERD_OK && !strcmp(old.id, run.id)) {
                run.params = old.params;
                break;
            }
        }
    }
    size_t cap = st->capruns;
    if (st->nruns == cap && hd_grow((void **)&st->runs, &cap, st->nruns + 1, sizeof *st->runs))
        return HERD_ENOMEM;
    st->capruns = cap;
    st->runs[st->nruns++] = run;
    return HERD_OK;
}

int hd_rstate_apply_begin(hd_rapply *c, hd_rstate *st, uint64_t seq,
                          const unsigned char *head, size_t len, const char *where)
{
    memset(c, 0, sizeof *c);
    c->st = st;
    c->r = (hd_rbuf){head, len, 0, 0};
    c->seq = seq;
    c->where = where;
    if (seq != st->seq + 1 && !(st->lossy && seq > st->seq)) {
        char what[96];
        snprintf(what, sizeof what, "commit number %llu follows %llu", (unsigned long long)seq,
                 (unsigned long long)st->seq);
        return hd_damaged(c, what);
    }
    c->time_ms = (int64_t)hd_rbuf_u64(&c->r);
    c->pos.time_ms = c->time_ms;
    c->pos.cur = hd_rbuf_u32(&c->r);
    c->pos.end = hd_rbuf_u64(&c->r);
    c->pos.max = hd_rbuf_u32(&c->r);
    c->nops = hd_rbuf_u32(&c->r);
    if (c->r.bad) return hd_damaged(c, "the record is too short");
    return HERD_OK;
}

int hd_rstate_apply_ops(hd_rapply *c, const unsigned char *ops, size_t len, uint32_t nops)
{
    c->r = (hd_rbuf){ops, len, 0, 0};
    if (nops > c->nops - c->done) return hd_damaged(c, "more operations than its header counts");
    for (uint32_t i = 0; i < nops; i++) {
        unsigned op = hd_rbuf_u8(&c->r);
        int rc;
        switch (op) {
        case HD_OP_VERSION: rc = hd_apply_version(c); break;
        case HD_OP_ALIAS: rc = hd_apply_alias(c); break;
        case HD_OP_ARCHIVE: rc = hd_apply_archive(c); break;
        case HD_OP_RUN: rc = hd_apply_run(c); break;
        case HD_OP_RELOCATE: rc = hd_apply_relocate(c); break;
        default: rc = hd_damaged(c, "unknown operation");
        }
        if (rc) return rc;
        c->done++;
    }
    if (c->r.pos != c->r.n) return hd_damaged(c, "bytes after the last operation");
    return HERD_OK;
}

int hd_rstate_apply_end(hd_rapply *c)
{
    if (c->done != c->nops) return hd_damaged(c, "fewer operations than its header counts");
    c->st->pack = c->pos;
    c->st->seq = c->seq;
    return HERD_OK;
}

int hd_rstate_apply(hd_rstate *st, uint64_t seq, const unsigned char *payload, size_t len,
                    const char *where)
{
    hd_rapply c;
    int rc = hd_rstate_apply_begin(&c, st, seq, payload, len, where);
    if (!rc) rc = hd_rstate_apply_ops(&c, payload + c.r.pos, len - c.r.pos, c.nops);
    if (!rc) rc = hd_rstate_apply_end(&c);
    return rc;
}
