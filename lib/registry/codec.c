/* codec.c -- the registry's byte codec (little-endian, bounds-checked
 * reads) and the small functions of its data model (codec_internal.h).
 * Moved from regstate.c, so that the index reads and writes them without
 * the state. */
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/bytes_internal.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "registry/codec_internal.h"

/* ------------------------------------------------------------------------
 * Byte codec
 * --------------------------------------------------------------------- */

void hd_wbuf_free(hd_wbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void hd_wbuf_bytes(hd_wbuf *b, const void *p, size_t n)
{
    if (b->oom) return;
    if (hd_grow((void **)&b->p, &b->cap, b->n + n, 1)) {
        b->oom = 1;
        return;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}

void hd_wbuf_zeros(hd_wbuf *b, size_t n)
{
    if (b->oom) return;
    if (hd_grow((void **)&b->p, &b->cap, b->n + n, 1)) {
        b->oom = 1;
        return;
    }
    memset(b->p + b->n, 0, n);
    b->n += n;
}

void hd_wbuf_u8(hd_wbuf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    hd_wbuf_bytes(b, &c, 1);
}

void hd_wbuf_u32(hd_wbuf *b, uint32_t v)
{
    unsigned char t[4];
    hd_wr32(t, v);
    hd_wbuf_bytes(b, t, 4);
}

void hd_wbuf_u64(hd_wbuf *b, uint64_t v)
{
    unsigned char t[8];
    hd_wr64(t, v);
    hd_wbuf_bytes(b, t, 8);
}

void hd_wbuf_f64(hd_wbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    hd_wbuf_u64(b, u);
}

void hd_wbuf_str(hd_wbuf *b, const char *s)
{
    if (!s) {
        hd_wbuf_u32(b, 0xFFFFFFFFu);
        return;
    }
    size_t n = strlen(s);
    hd_wbuf_u32(b, (uint32_t)n);
    hd_wbuf_bytes(b, s, n);
}

static const unsigned char *hd_rbuf_take(hd_rbuf *r, size_t n)
{
    if (r->bad) return NULL; /* keep the first reason: 2 (out of memory) is not damage */
    if (r->n - r->pos < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

unsigned hd_rbuf_u8(hd_rbuf *r)
{
    const unsigned char *p = hd_rbuf_take(r, 1);
    return p ? *p : 0;
}

uint32_t hd_rbuf_u32(hd_rbuf *r)
{
    const unsigned char *p = hd_rbuf_take(r, 4);
    return p ? hd_rd32(p) : 0;
}

uint64_t hd_rbuf_u64(hd_rbuf *r)
{
    const unsigned char *p = hd_rbuf_take(r, 8);
    return p ? hd_rd64(p) : 0;
}

double hd_rbuf_f64(hd_rbuf *r)
{
    uint64_t u = hd_rbuf_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

const char *hd_rbuf_str(hd_rbuf *r, hd_arena *arena)
{
    return hd_rbuf_str_shared(r, arena, NULL);
}

const char *hd_rbuf_str_shared(hd_rbuf *r, hd_arena *arena, hd_strcache *cache)
{
    uint32_t n = hd_rbuf_u32(r);
    if (r->bad || n == 0xFFFFFFFFu) return NULL;
    const unsigned char *p = hd_rbuf_take(r, n);
    if (!p) return NULL;
    if (memchr(p, 0, n)) { /* strings never hold NUL: the record is damaged */
        r->bad = 1;
        return NULL;
    }
    const char *s = cache ? hd_arena_strndup_shared(arena, cache, (const char *)p, n)
                          : hd_arena_strndup(arena, (const char *)p, n);
    if (!s) r->bad = 2; /* out of memory */
    return s;
}

/* ------------------------------------------------------------------------
 * Groups
 * --------------------------------------------------------------------- */

uint64_t hd_group_hash(const char *family, const char *key)
{
    uint64_t h = hd_hash_bytes(family, strlen(family), 0x5eedull);
    return hd_hash_combine(h, hd_hash_bytes(key, strlen(key), 0));
}

const hd_ralias *hd_rgroup_alias(const hd_rgroup *g, const char *name)
{
    for (uint32_t i = 0; i < g->na; i++)
        if (!strcmp(g->a[i].name, name)) return &g->a[i];
    return NULL;
}

uint32_t hd_rgroup_latest(const hd_rgroup *g)
{
    for (uint32_t i = g->nv; i > 0; i--)
        if (!(g->v[i - 1].flags & HD_RV_ARCHIVED)) return g->v[i - 1].version;
    return 0;
}

/* ---- Envelopes ----------------------------------------------------------- */

void hd_envelope_begin(hd_wbuf *b, const char magic[8], uint32_t format)
{
    hd_wbuf_bytes(b, magic, 8);
    hd_wbuf_u32(b, format);
}

int hd_envelope_seal(hd_wbuf *b)
{
    if (!b->oom) hd_wbuf_u32(b, hd_crc32(b->p, b->n));
    if (!b->oom) return HERD_OK;
    hd_wbuf_free(b);
    return hd_oom();
}

int hd_envelope_open(const void *data, size_t len, const char magic[8], uint32_t format,
                     const char *fn, const char *what, const char *writer, hd_rbuf *r)
{
    const unsigned char *p = data;
    if (len < 8 + 4 + 4 || memcmp(p, magic, 8))
        return hd_error(HERD_EFORMAT, "%s: the %zu bytes are not %s (%s writes them)", fn, len,
                        what, writer);
    if (hd_rd32(p + len - 4) != hd_crc32(p, len - 4))
        return hd_error(HERD_ECORRUPT, "%s: the checksum of these %zu bytes (%s) does not "
                        "match: they were damaged in transit", fn, len, what);
    *r = (hd_rbuf){.p = p, .n = len - 4, .pos = 8};
    uint32_t got = hd_rbuf_u32(r);
    if (got != format)
        return hd_error(HERD_EFORMAT, "%s: %s of format %u; this library reads format %u", fn,
                        what, got, format);
    return HERD_OK;
}
