/* codec_internal.h -- what the registry's files are made of: the
 * registry's data model (groups of versions, aliases, alias moves, runs)
 * and the little-endian byte codec its journal records and index are
 * written with (docs/registry.md describes the files).
 *
 * The bottom of lib/registry: the index (index_internal.h) reads and
 * writes these, the state (state_internal.h) keeps them.
 */
#ifndef HERD_REGISTRY_CODEC_INTERNAL_H
#define HERD_REGISTRY_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes_internal.h"
#include "common/mem_internal.h"

/* ---- Byte codec (little-endian) --------------------------------------- */

typedef struct hd_wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} hd_wbuf;

void hd_wbuf_free(hd_wbuf *b);
void hd_wbuf_bytes(hd_wbuf *b, const void *p, size_t n);
void hd_wbuf_u8(hd_wbuf *b, unsigned v);
void hd_wbuf_u32(hd_wbuf *b, uint32_t v);
void hd_wbuf_u64(hd_wbuf *b, uint64_t v);
void hd_wbuf_f64(hd_wbuf *b, double v);
/* A string: u32 length (0xFFFFFFFF for NULL) and the bytes. */
void hd_wbuf_str(hd_wbuf *b, const char *s);
void hd_wbuf_zeros(hd_wbuf *b, size_t n);

typedef struct hd_rbuf {
    const unsigned char *p;
    size_t n, pos;
    int bad; /* 1: read past the end or a malformed string; 2: out of memory (kept) */
} hd_rbuf;

unsigned hd_rbuf_u8(hd_rbuf *r);
uint32_t hd_rbuf_u32(hd_rbuf *r);
uint64_t hd_rbuf_u64(hd_rbuf *r);
double hd_rbuf_f64(hd_rbuf *r);
/* A string into `arena` (NUL-terminated); NULL for a NULL string or on
 * error (r->bad set). */
const char *hd_rbuf_str(hd_rbuf *r, hd_arena *arena);
/* The same, sharing a short text stored lately through `cache`. */
const char *hd_rbuf_str_shared(hd_rbuf *r, hd_arena *arena, hd_strcache *cache);

/* ---- Envelopes: byte containers handed between processes --------------- */

/* An envelope is an 8-byte magic, a u32 format, the body, then a CRC-32 of
 * everything before it: the champions a committer hands to workers and
 * the cycle parts they return.  hd_envelope_begin writes the head; the
 * writer appends the body and seals it with hd_envelope_seal (HERD_ENOMEM
 * when the buffer ran out, b freed).  hd_envelope_open checks magic,
 * checksum and format, naming `fn`, `what` the container holds and the
 * `writer` function, and sets *r to read the body. */
void hd_envelope_begin(hd_wbuf *b, const char magic[8], uint32_t format);
int hd_envelope_seal(hd_wbuf *b);
int hd_envelope_open(const void *data, size_t len, const char magic[8], uint32_t format,
                     const char *fn, const char *what, const char *writer, hd_rbuf *r);

/* ---- The data model ---------------------------------------------------- */

enum {
    HD_RV_ARCHIVED = 1u,
    /* Lost with a damaged journal record (always with ARCHIVED, pack 0):
     * only its number is known, from a later record. */
    HD_RV_LOST = 2u
};

typedef struct hd_rmetric {
    const char *name;
    double value;
} hd_rmetric;

typedef struct hd_rtag {
    const char *name, *value;
} hd_rtag;

typedef struct hd_rver {
    uint32_t version, flags;
    uint32_t pack; /* 0: the artifact was garbage-collected */
    uint32_t len;
    uint64_t off;
    int64_t time_ms; /* commit time */
    const char *run_id, *idem, *created, *fingerprint; /* NULL: none */
    uint32_t nmetrics, ntags;
    const hd_rmetric *metrics;
    const hd_rtag *tags;
} hd_rver;

typedef struct hd_ralias {
    const char *name;
    uint32_t version;
} hd_ralias;

typedef struct hd_rmove {
    const char *alias;
    uint32_t from, to; /* 0: none / deleted */
    int64_t time_ms;
    uint64_t seq;
    const char *reason, *details, *run_id;
} hd_rmove;

/* One (family, group): versions[i].version == i + 1. */
typedef struct hd_rgroup {
    const char *family, *key;
    uint64_t hash;
    hd_rver *v;
    uint32_t nv, capv;
    hd_ralias *a;
    uint32_t na, capa;
    hd_rmove *m;
    uint32_t nm, capm;
} hd_rgroup;

typedef struct hd_rrun {
    const char *id, *params, *summary;
    int64_t time_ms;
} hd_rrun;

uint64_t hd_group_hash(const char *family, const char *key);
const hd_ralias *hd_rgroup_alias(const hd_rgroup *g, const char *name);
/* The newest version that is not archived, 0 if none. */
uint32_t hd_rgroup_latest(const hd_rgroup *g);

#endif
