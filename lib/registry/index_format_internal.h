/* index_format_internal.h -- the layout of the registry's index file,
 * shared by its reader (index.c) and its writer (index_write.c);
 * docs/registry.md has it field by field. */
#ifndef HERD_REGISTRY_INDEX_FORMAT_INTERNAL_H
#define HERD_REGISTRY_INDEX_FORMAT_INTERNAL_H

#include <stdint.h>

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
    IX_MINOR = 1 /* 1.1: the start of a delta (H_START) */
};

/* Header fields, by offset (all little-endian). */
enum {
    H_MAJOR = 8, H_MINOR = 10, H_HLEN = 12, H_FSIZE = 16, H_JEND = 24, H_SEQ = 32,
    H_NGROUPS = 40, H_NVERSIONS = 48, H_NFAMILIES = 56, H_NRUNS = 64, H_NMOVES = 72,
    H_SLOTS = 80, H_NSLOTS = 88, H_GROUPS = 96, H_GLEN = 104, H_VERSIONS = 112,
    H_MOVES = 120, H_FAMILIES = 128, H_RUNS = 136, H_IDEM = 144, H_NIDEM = 152,
    H_STRINGS = 160, H_SLEN = 168, H_CRCS = 176, H_NCHUNKS = 184, H_PACK_CUR = 192,
    H_PACK_END = 200, H_PACK_MAX = 208, H_TIME = 216, H_CRCS_CRC = 224, H_LAST_REC = 232,
    H_START = 240,
    H_CRC = 252
};

static inline uint64_t ix_align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

#endif
