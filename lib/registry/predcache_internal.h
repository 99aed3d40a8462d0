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
 * A call (one herd_registry_predict) keeps only as many models as the cap
 * holds: once the distinct models it acquired fill the cap, the models it
 * loads next are used once and freed (hd_predcache_admits says no).  Were
 * each kept by evicting the least recently used, a call over more models
 * than the cap holds would evict its own earlier ones: it would pay for
 * every eviction (and the freed boosters fragment the heap the next loads
 * allocate from), and the next call on the same groups would find none
 * of its models cached, since a scan through a least-recently-used cache
 * evicts each entry before it is used again.  Kept this way, the next
 * such call finds the first cap's worth.
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
    uint64_t unkept;      /* models loaded and not kept: their call's filled the cap */
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

/* A call's account: the serialised size of the distinct models it has
 * acquired (hits and inserts), updated under the cache's mutex. */
typedef struct hd_predcache_call {
    uint64_t id;
    size_t bytes;
} hd_predcache_call;

/* Start a call's account (its own id, nothing acquired yet). */
void hd_predcache_call_begin(hd_predcache *c, hd_predcache_call *call);

/* Whether the call may keep one more model of `bytes`: whether its models
 * and this one fit in the cap.  When not, the caller uses the model for
 * this call only and frees it (counted in `unkept`). */
int hd_predcache_admits(hd_predcache *c, hd_predcache_call *call, size_t bytes);

/* The entry of `k`, acquired for `call`, or NULL (a miss: load the model
 * and hd_predcache_insert it, or use it once when the cache does not admit
 * it).  `alias` is the alias the caller resolved to k->version: entries of
 * the same group reached through that alias at another version are
 * dropped. */
hd_predcache_entry *hd_predcache_acquire(hd_predcache *c, const hd_predcache_key *k,
                                         const char *alias, hd_predcache_call *call);

/* Cache `p` (taken over, even on failure) under `k`, reached through
 * `alias`, and acquire it for `call` into *out.  When another thread cached `k`
 * meanwhile, `p` is freed and that entry acquired instead.  An entry
 * larger than the cap is not kept but still acquired.  HERD_ENOMEM. */
int hd_predcache_insert(hd_predcache *c, const hd_predcache_key *k, const char *alias,
                        herd_predictor *p, hd_predcache_call *call, hd_predcache_entry **out);

/* The predictor of an acquired entry. */
const herd_predictor *hd_predcache_predictor(const hd_predcache_entry *e);

/* Release an acquired entry; NULL is allowed. */
void hd_predcache_release(hd_predcache *c, hd_predcache_entry *e);

/* A snapshot of the counters. */
void hd_predcache_stats_get(hd_predcache *c, hd_predcache_stats *out);

#endif
