/* artifact_repair.h -- recompute an artifact's checksums after a mutation,
 * for the fuzz targets that read artifacts (fuzz_artifact.c, and
 * fuzz_registry.c for the artifacts of a pack): almost every mutation
 * fails a CRC, and repairing them lets mutations reach the length checks,
 * inflation, the metadata parser and the model validator behind them.
 * Offsets from docs/format.md. */
#ifndef HERD_FUZZ_ARTIFACT_REPAIR_H
#define HERD_FUZZ_ARTIFACT_REPAIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

enum {
    F_FLAGS = 12,
    F_HEADER_LEN = 16,
    F_META_LEN = 20,
    F_STORED_LEN = 24,
    F_RAW_LEN = 32,
    F_META_CRC = 40,
    F_STORED_CRC = 44,
    F_RAW_CRC = 48,
    F_HEADER_1_0 = 56
};

/* The repaired copy inflates at most this much to compute the raw CRC. */
#define F_MAX_INFLATE (4u << 20)

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* CRC32 of what the stored payload inflates to, up to `raw_len` bytes. */
static inline uint32_t raw_crc(const uint8_t *in, size_t in_len, uint64_t raw_len)
{
    if (raw_len > F_MAX_INFLATE) return 0;
    uint8_t *out = malloc(raw_len ? (size_t)raw_len : 1);
    if (!out) return 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    uLong crc = 0;
    if (inflateInit(&zs) == Z_OK) {
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)in_len;
        zs.next_out = out;
        zs.avail_out = (uInt)raw_len;
        inflate(&zs, Z_FINISH);
        crc = crc32(0, out, (uInt)zs.total_out);
        inflateEnd(&zs);
    }
    free(out);
    return (uint32_t)crc;
}

/* Recompute the section CRCs and the header CRC of b in place, as far as
 * the (possibly mutated) lengths allow. */
static inline void artifact_repair(uint8_t *b, size_t size)
{
    uint32_t hl = get32(b + F_HEADER_LEN), ml = get32(b + F_META_LEN);
    uint64_t sl = get64(b + F_STORED_LEN), rl = get64(b + F_RAW_LEN);
    if (hl < F_HEADER_1_0 || hl > size) return;
    if (ml <= size - hl) {
        put32(b + F_META_CRC, (uint32_t)crc32(0, b + hl, ml));
        size_t off = (size_t)hl + ml;
        if (sl <= size - off) {
            uint32_t stored = (uint32_t)crc32(0, b + off, (uInt)sl);
            put32(b + F_STORED_CRC, stored);
            put32(b + F_RAW_CRC, (get32(b + F_FLAGS) & 1) ? raw_crc(b + off, (size_t)sl, rl)
                                                          : stored);
        }
    }
    put32(b + hl - 4, (uint32_t)crc32(0, b, hl - 4));
}

#endif
