/* state.c -- the registry's in-memory state and the journal records
 * that change it.
 *
 * Replaying the journal and committing a batch run the same code: a commit
 * encodes its record, writes it, then applies the bytes it wrote through
 * hd_rstate_apply, so what a writer sees is exactly what every later reader
 * will rebuild from the file.
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

int hd_rstate_init(hd_rstate *st, hd_index *ix)
{
    memset(st, 0, sizeof *st);
    st->ix = ix;
    st->arena = hd_arena_new();
    if (!st->arena) {
        hd_index_free(ix);
        st->ix = NULL;
        return HERD_ENOMEM;
    }
    if (ix) {
        st->pack = hd_index_packpos(ix);
        st->seq = hd_index_seq(ix);
        st->rec_off = hd_index_last_record(ix);
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
    hd_index_free(st->ix);
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

/* Copy the arrays of a group decoded from the index into malloc'd ones the
 * overlay can grow. */
static int hd_rgroup_copy_up(const hd_rgroup *src, hd_rgroup *g)
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
    int rc = HERD_OK;
    if (st->ix) {
        hd_rgroup src;
        rc = hd_index_find(st->ix, family, key, h, st->arena, &src);
        if (rc == 1) {
            rc = hd_rgroup_copy_up(&src, g);
            g->family = src.family;
            g->key = src.key;
        }
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
    if (!st->ix) return 0;
    hd_rgroup *tmp = hd_arena_alloc(scratch, sizeof *tmp);
    if (!tmp) return HERD_ENOMEM;
    int rc = hd_index_find(st->ix, family, key, h, scratch, tmp);
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
    return st->ix ? hd_index_idem(st->ix, idem, h, family, key, version) : 0;
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

typedef struct hd_merge {
    const hd_rstate *st;
    hd_rgroup **ov; /* overlay groups of the family, sorted */
    size_t nov, next;
    hd_group_fn fn;
    void *ctx;
} hd_merge;

/* Emit the overlay groups that sort before `upto` (NULL: all). */
static int hd_merge_flush(hd_merge *m, const hd_rgroup *upto)
{
    while (m->next < m->nov && (!upto || hd_group_cmp(m->ov[m->next], upto) < 0)) {
        int rc = m->fn(m->ctx, m->ov[m->next++]);
        if (rc) return rc;
    }
    return 0;
}

static int hd_merge_index_group(void *ctx, const hd_rgroup *g)
{
    hd_merge *m = ctx;
    int rc = hd_merge_flush(m, g);
    if (rc) return rc;
    /* Shadowed by its overlay copy, which the flush emits in its place. */
    if (m->st->n && hd_rstate_overlay(m->st, g->family, g->key, hd_group_hash(g->family, g->key)))
        return 0;
    return m->fn(m->ctx, g);
}

int hd_rstate_foreach(const hd_rstate *st, const char *family, hd_group_fn fn, void *ctx)
{
    return hd_rstate_foreach_parts(st, family, HD_PART_ALL, fn, ctx);
}

int hd_rstate_foreach_parts(const hd_rstate *st, const char *family, unsigned parts,
                            hd_group_fn fn, void *ctx)
{
    hd_merge m = {.st = st, .fn = fn, .ctx = ctx};
    if (st->n) {
        m.ov = hd_malloc(st->n, sizeof *m.ov);
        if (!m.ov) return HERD_ENOMEM;
        for (size_t i = 0; i < st->cap; i++) {
            hd_rgroup *g = st->slots[i];
            if (g && (!family || !strcmp(g->family, family))) m.ov[m.nov++] = g;
        }
        qsort(m.ov, m.nov, sizeof *m.ov, hd_group_ptr_cmp);
    }
    int rc = st->ix ? hd_index_foreach(st->ix, family, parts, hd_merge_index_group, &m) : 0;
    if (!rc) rc = hd_merge_flush(&m, NULL);
    free(m.ov);
    return rc;
}

int hd_rstate_runs(const hd_rstate *st, hd_rrun **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t nix = st->ix ? hd_index_nruns(st->ix) : 0;
    hd_rrun *v = hd_malloc(nix + st->nruns + 1, sizeof *v);
    if (!v) return HERD_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < nix; i++) {
        int rc = hd_index_run(st->ix, i, &v[k]);
        if (rc) {
            free(v);
            return rc;
        }
        k++;
    }
    for (size_t i = 0; i < st->nruns; i++) {
        size_t j = 0;
        while (j < k && strcmp(v[j].id, st->runs[i].id)) j++;
        if (j < k) {
            int64_t first = v[j].time_ms;
            v[j] = st->runs[i];
            v[j].time_ms = first; /* a run is dated by its first record */
        } else {
            v[k++] = st->runs[i];
        }
    }
    *out = v;
    *n = k;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Applying a record
 * --------------------------------------------------------------------- */

typedef struct hd_apply_ctx {
    hd_rstate *st;
    hd_rbuf r;
    uint64_t seq;
    int64_t time_ms;
    const char *where;
} hd_apply_ctx;

static int hd_damaged(const hd_apply_ctx *c, const char *what)
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
        if (hd_grow((void **)&g->v, &cap, (size_t)g->nv + 1, sizeof *g->v)) return HERD_ENOMEM;
        g->capv = (uint32_t)cap;
    }
    g->v[g->nv++] = *v;
    return HERD_OK;
}

static int hd_push_move(hd_rgroup *g, const hd_rmove *m)
{
    if (g->nm == g->capm) {
        size_t cap = g->capm;
        if (hd_grow((void **)&g->m, &cap, (size_t)g->nm + 1, sizeof *g->m)) return HERD_ENOMEM;
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
        if (hd_grow((void **)&g->a, &cap, (size_t)g->na + 1, sizeof *g->a)) return HERD_ENOMEM;
        g->capa = (uint32_t)cap;
    }
    g->a[g->na++] = (hd_ralias){name, to};
    return HERD_OK;
}

static int hd_apply_version(hd_apply_ctx *c)
{
    hd_rbuf *r = &c->r;
    hd_arena *ar = c->st->arena;
    const char *family = hd_rbuf_str(r, ar), *key = hd_rbuf_str(r, ar);
    hd_rver v;
    memset(&v, 0, sizeof v);
    v.version = hd_rbuf_u32(r);
    v.pack = hd_rbuf_u32(r);
    v.off = hd_rbuf_u64(r);
    v.len = hd_rbuf_u32(r);
    v.time_ms = c->time_ms;
    v.run_id = hd_rbuf_str(r, ar);
    v.idem = hd_rbuf_str(r, ar);
    v.created = hd_rbuf_str(r, ar);
    v.fingerprint = hd_rbuf_str(r, ar);
    v.nmetrics = hd_rbuf_u32(r);
    if (r->bad || v.nmetrics > (r->n - r->pos) / 12) return hd_damaged(c, "bad version entry");
    hd_rmetric *ms = v.nmetrics ? hd_arena_alloc(ar, v.nmetrics * sizeof *ms) : NULL;
    if (v.nmetrics && !ms) return HERD_ENOMEM;
    for (uint32_t i = 0; i < v.nmetrics; i++) {
        ms[i].name = hd_rbuf_str(r, ar);
        ms[i].value = hd_rbuf_f64(r);
    }
    v.ntags = hd_rbuf_u32(r);
    if (r->bad || v.ntags > (r->n - r->pos) / 8) return hd_damaged(c, "bad version entry");
    hd_rtag *ts = v.ntags ? hd_arena_alloc(ar, v.ntags * sizeof *ts) : NULL;
    if (v.ntags && !ts) return HERD_ENOMEM;
    for (uint32_t i = 0; i < v.ntags; i++) {
        ts[i].name = hd_rbuf_str(r, ar);
        ts[i].value = hd_rbuf_str(r, ar);
    }
    v.metrics = ms;
    v.tags = ts;
    if (r->bad || !family || !key) return hd_damaged(c, "bad version entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
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

static int hd_apply_alias(hd_apply_ctx *c)
{
    hd_rbuf *r = &c->r;
    hd_arena *ar = c->st->arena;
    const char *family = hd_rbuf_str(r, ar), *key = hd_rbuf_str(r, ar);
    hd_rmove m = {.alias = hd_rbuf_str(r, ar), .time_ms = c->time_ms, .seq = c->seq};
    m.from = hd_rbuf_u32(r);
    m.to = hd_rbuf_u32(r);
    m.reason = hd_rbuf_str(r, ar);
    m.details = hd_rbuf_str(r, ar);
    m.run_id = hd_rbuf_str(r, ar);
    if (r->bad || !family || !key || !m.alias) return hd_damaged(c, "bad alias entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (m.to > g->nv) return hd_damaged(c, "an alias points past the group's last version");
    if ((rc = hd_set_alias(g, m.alias, m.to)) || (rc = hd_push_move(g, &m))) return rc;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_archive(hd_apply_ctx *c)
{
    hd_rbuf *r = &c->r;
    hd_arena *ar = c->st->arena;
    const char *family = hd_rbuf_str(r, ar), *key = hd_rbuf_str(r, ar);
    uint32_t version = hd_rbuf_u32(r);
    (void)hd_rbuf_str(r, ar); /* the reason: kept in the journal only */
    if (r->bad || !family || !key) return hd_damaged(c, "bad archive entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (!version || version > g->nv) return hd_damaged(c, "archive of a missing version");
    g->v[version - 1].flags |= HD_RV_ARCHIVED;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_relocate(hd_apply_ctx *c)
{
    hd_rbuf *r = &c->r;
    hd_arena *ar = c->st->arena;
    const char *family = hd_rbuf_str(r, ar), *key = hd_rbuf_str(r, ar);
    uint32_t version = hd_rbuf_u32(r), pack = hd_rbuf_u32(r);
    uint64_t off = hd_rbuf_u64(r);
    if (r->bad || !family || !key) return hd_damaged(c, "bad relocation entry");
    hd_rgroup *g;
    int rc = hd_rstate_touch(c->st, family, key, &g);
    if (rc) return rc;
    if (!version || version > g->nv) return hd_damaged(c, "relocation of a missing version");
    g->v[version - 1].pack = pack;
    g->v[version - 1].off = off;
    c->st->changes++;
    return HERD_OK;
}

static int hd_apply_run(hd_apply_ctx *c)
{
    hd_rbuf *r = &c->r;
    hd_arena *ar = c->st->arena;
    hd_rrun run = {.time_ms = c->time_ms};
    run.id = hd_rbuf_str(r, ar);
    run.params = hd_rbuf_str(r, ar);
    run.summary = hd_rbuf_str(r, ar);
    if (r->bad || !run.id) return hd_damaged(c, "bad run entry");
    hd_rstate *st = c->st;
    for (size_t i = 0; i < st->nruns; i++) {
        if (strcmp(st->runs[i].id, run.id)) continue;
        run.time_ms = st->runs[i].time_ms;
        if (!run.params) run.params = st->runs[i].params;
        st->runs[i] = run;
        return HERD_OK;
    }
    if (!run.params && st->ix) { /* keep the index's params when only the summary changes */
        for (size_t i = 0, n = hd_index_nruns(st->ix); i < n; i++) {
            hd_rrun old;
            if (hd_index_run(st->ix, i, &old) == HERD_OK && !strcmp(old.id, run.id)) {
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

int hd_rstate_apply(hd_rstate *st, uint64_t seq, const unsigned char *payload, size_t len,
                    const char *where)
{
    hd_apply_ctx c = {.st = st, .r = {payload, len, 0, 0}, .seq = seq, .where = where};
    if (seq != st->seq + 1) {
        char what[96];
        snprintf(what, sizeof what, "commit number %llu follows %llu", (unsigned long long)seq,
                 (unsigned long long)st->seq);
        return hd_damaged(&c, what);
    }
    c.time_ms = (int64_t)hd_rbuf_u64(&c.r);
    hd_packpos pos = {.time_ms = c.time_ms};
    pos.cur = hd_rbuf_u32(&c.r);
    pos.end = hd_rbuf_u64(&c.r);
    pos.max = hd_rbuf_u32(&c.r);
    uint32_t nops = hd_rbuf_u32(&c.r);
    if (c.r.bad) return hd_damaged(&c, "the record is too short");
    for (uint32_t i = 0; i < nops; i++) {
        unsigned op = hd_rbuf_u8(&c.r);
        int rc;
        switch (op) {
        case HD_OP_VERSION: rc = hd_apply_version(&c); break;
        case HD_OP_ALIAS: rc = hd_apply_alias(&c); break;
        case HD_OP_ARCHIVE: rc = hd_apply_archive(&c); break;
        case HD_OP_RUN: rc = hd_apply_run(&c); break;
        case HD_OP_RELOCATE: rc = hd_apply_relocate(&c); break;
        default: rc = hd_damaged(&c, "unknown operation");
        }
        if (rc) return rc;
    }
    if (c.r.pos != c.r.n) return hd_damaged(&c, "bytes after the last operation");
    st->pack = pos;
    st->seq = seq;
    return HERD_OK;
}
