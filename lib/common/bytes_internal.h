/* bytes_internal.h -- little-endian integers and CRC32, for every file
 * format herd writes (artifacts, the registry's journal, packs, index). */
#ifndef HERD_BYTES_INTERNAL_H
#define HERD_BYTES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

static inline uint16_t hd_rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t hd_rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t hd_rd64(const unsigned char *p)
{
    return (uint64_t)hd_rd32(p) | (uint64_t)hd_rd32(p + 4) << 32;
}

static inline void hd_wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void hd_wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline void hd_wr64(unsigned char *p, uint64_t v)
{
    hd_wr32(p, (uint32_t)v);
    hd_wr32(p + 4, (uint32_t)(v >> 32));
}

/* zlib's CRC32 (ISO-HDLC: reflected polynomial 0xEDB88320, initial value
 * and final XOR 0xFFFFFFFF), as PNG and gzip use. */
static inline uint32_t hd_crc32(const void *p, size_t n)
{
    return (uint32_t)crc32_z(0, p, n);
}

/* The CRC of what `crc` covered followed by p[0..n): a checksum kept
 * running over bytes that arrive in pieces. */
static inline uint32_t hd_crc32_more(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc, p, n);
}

#endif
