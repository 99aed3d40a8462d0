/* predcache_internal.h -- a registry handle's cache of prepared predictors,
 * for herd_registry_predict.
 *
 * Entries are keyed by (family, group, version, nthread): a version never
 * changes, so an entry never goes stale; what a refresh changes is which
 * versions the aliases name.  Each entry remembers the alias it was last
 * reached through: when that alias of the same group now resolves to
 * another version (the alias moved), the old entry is dropped at once.
 * Otherwise entries are kept, least recently used first out, while the
 * serialised size of their models stays under the cap.
 *
 * Thread safety: every function may be called from any thread at once
 * (one mutex, never held while loading or predicting).  An entry acquired
 * stays valid until released, even when evicted meanwhile: the last
 * release frees it, on the releasing thread.
 */
#ifndef HERD_PREDCACHE_INTERNAL_H
#define HERD_PREDCACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "herd.h"

typedef struct hd_predcache hd_predcache;
typedef struct hd_predcache_entry hd_predcache_entry;

typedef struct hd_predcache_key {
    const char *family;
    const char *group;
    int64_t version;
    int nthread;
} hd_predcache_key;

typedef struct hd_predcache_stats {
    uint64_t hits;        /* acquisitions that found their entry */
    uint64_t misses;      /* ... that did not (the caller loaded it) */
    uint64_t evictions;   /* entries dropped for the cap */
    uint64_t moved;       /* entries dropped because their alias moved */
    size_t entries;       /* entries cached now */
    size_t bytes;         /* their models' serialised size */
    size_t cap_bytes;
} hd_predcache_stats;

/* An empty cache keeping at most `cap_bytes` of models (0: caches
 * nothing).  NULL and HERD_ENOMEM recorded on failure. */
hd_predcache *hd_predcache_new(size_t cap_bytes);

/* Free the cache and every entry.  No entry may still be acquired. */
void hd_predcache_free(hd_predcache *c);

/* The entry of `k`, acquired, or NULL (a miss: load the model and
 * hd_predcache_insert it).  `alias` is the alias the caller resolved to
 * k->version: entries of the same group reached through that alias at
 * another version are dropped. */
hd_predcache_entry *hd_predcache_acquire(hd_predcache *c, const hd_predcache_key *k,
                                         const char *alias);

/* Cache `p` (taken over, even on failure) under `k`, reached through
 * `alias`, and acquire it into *out.  When another thread cached `k`
 * meanwhile, `p` is freed and that entry acquired instead.  An entry
 * larger than the cap is not kept but still acquired.  HERD_ENOMEM. */
int hd_predcache_insert(hd_predcache *c, const hd_predcache_key *k, const char *alias,
                        herd_predictor *p, hd_predcache_entry **out);

/* The predictor of an acquired entry. */
const herd_predictor *hd_predcache_predictor(const hd_predcache_entry *e);

/* Release an acquired entry; NULL is allowed. */
void hd_predcache_release(hd_predcache *c, hd_predcache_entry *e);

/* A snapshot of the counters. */
void hd_predcache_stats_get(hd_predcache *c, hd_predcache_stats *out);

#endif
