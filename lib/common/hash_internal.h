/* hash_internal.h -- hashing shared by groups and the CSV reader. */
#ifndef HERD_HASH_INTERNAL_H
#define HERD_HASH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 64-bit mix of an integer (splitmix64 finaliser). */
static inline uint64_t hd_hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* FNV-1a over bytes, 8 at a time, finished by the integer mix. */
static inline uint64_t hd_hash_bytes(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *s = (const unsigned char *)p;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    while (len--) h = (h ^ *s++) * 0x100000001b3ULL;
    return hd_hash_u64(h);
}

/* Combine two hashes (order matters). */
static inline uint64_t hd_hash_combine(uint64_t a, uint64_t b)
{
    return hd_hash_u64(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

#endif
