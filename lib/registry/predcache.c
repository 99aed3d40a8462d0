/* predcache.c -- a registry handle's cache of prepared predictors.
 *
 * A hash table over (family, group) -- so that every cached version of a
 * group sits in one chain, where an alias move finds the entry it
 * replaces -- and a list in order of use for eviction.  Entries carry a
 * reference count: one for the table while cached, one per acquisition.
 * Predictors are freed outside the mutex: freeing a booster takes a while.
 * Each entry is stamped with the last call that counted it, so that a
 * call counts each distinct model it acquires once (hd_predcache_admits). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"
#include "model/predictor_internal.h"
#include "registry/predcache_internal.h"

struct hd_predcache_entry {
    hd_predcache_entry *chain;      /* next in the bucket; on the dead list */
    hd_predcache_entry *newer, *older; /* the use list */
    uint64_t hash;                  /* of (family, group) */
    char *family, *group;           /* one allocation: family then group */
    int64_t version;
    int nthread;
    char alias[HERD_ID_MAX + 1];    /* the alias it was last reached through */
    herd_predictor *pred;
    size_t bytes;
    unsigned refs;
    int cached;
    uint64_t call;                  /* the last call that counted it */
};

struct hd_predcache {
    pthread_mutex_t mu;
    hd_predcache_entry **buckets;
    size_t nbuckets;                /* a power of two */
    hd_predcache_entry *newest, *oldest;
    size_t cap_bytes;
    uint64_t calls;                 /* the last call's id */
    hd_predcache_stats st;
};

static uint64_t hd_group_key_hash(const char *family, const char *group)
{
    uint64_t h = hd_hash_bytes(family, strlen(family), 0);
    return hd_hash_combine(h, hd_hash_bytes(group, strlen(group), 1));
}

hd_predcache *hd_predcache_new(size_t cap_bytes)
{
    hd_predcache *c = hd_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->nbuckets = 64;
    c->buckets = hd_calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->cap_bytes = cap_bytes;
    c->st.cap_bytes = cap_bytes;
    return c;
}

static void hd_entry_free(hd_predcache_entry *e)
{
    herd_predictor_free(e->pred);
    free(e->family);
    free(e);
}

static void hd_free_dead(hd_predcache_entry *dead)
{
    while (dead) {
        hd_predcache_entry *next = dead->chain;
        hd_entry_free(dead);
        dead = next;
    }
}

void hd_predcache_free(hd_predcache *c)
{
    if (!c) return;
    for (hd_predcache_entry *e = c->newest; e;) {
        hd_predcache_entry *next = e->older;
        hd_entry_free(e);
        e = next;
    }
    pthread_mutex_destroy(&c->mu);
    free(c->buckets);
    free(c);
}

/* ---- under the mutex ------------------------------------------------------ */

static void hd_use_unlink(hd_predcache *c, hd_predcache_entry *e)
{
    if (e->newer) e->newer->older = e->older;
    else c->newest = e->older;
    if (e->older) e->older->newer = e->newer;
    else c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void hd_use_push(hd_predcache *c, hd_predcache_entry *e)
{
    e->newer = NULL;
    e->older = c->newest;
    if (c->newest) c->newest->newer = e;
    c->newest = e;
    if (!c->oldest) c->oldest = e;
}

/* Drop a release; an entry no one holds goes on *dead, to be freed after
 * the mutex is released. */
static void hd_unref(hd_predcache_entry *e, hd_predcache_entry **dead)
{
    if (--e->refs == 0) {
        e->chain = *dead;
        *dead = e;
    }
}

/* Take `e` out of the table and the use list. */
static void hd_remove(hd_predcache *c, hd_predcache_entry *e, hd_predcache_entry **dead)
{
    hd_predcache_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->chain;
    *pp = e->chain;
    hd_use_unlink(c, e);
    e->cached = 0;
    c->st.entries--;
    c->st.bytes -= e->bytes;
    hd_unref(e, dead);
}

/* Evict the least recently used entries until the cache fits its cap. */
static void hd_trim(hd_predcache *c, hd_predcache_entry **dead)
{
    while (c->oldest && c->st.bytes > c->cap_bytes) {
        hd_remove(c, c->oldest, dead);
        c->st.evictions++;
    }
}

static int hd_same_group(const hd_predcache_entry *e, uint64_t hash, const hd_predcache_key *k)
{
    return e->hash == hash && strcmp(e->family, k->family) == 0 &&
           strcmp(e->group, k->group) == 0;
}

/* Find k's entry in its chain; drop the entries of the same group that
 * `alias` reached at another version: the alias has moved since. */
static hd_predcache_entry *hd_find(hd_predcache *c, const hd_predcache_key *k, uint64_t hash,
                                   const char *alias, hd_predcache_entry **dead)
{
    hd_predcache_entry *found = NULL;
    hd_predcache_entry *e = c->buckets[hash & (c->nbuckets - 1)];
    while (e) {
        hd_predcache_entry *next = e->chain;
        if (hd_same_group(e, hash, k)) {
            if (e->version == k->version && e->nthread == k->nthread) {
                found = e;
            } else if (e->version != k->version && strcmp(e->alias, alias) == 0) {
                hd_remove(c, e, dead);
                c->st.moved++;
            }
        }
        e = next;
    }
    return found;
}

/* Acquire `e` as reached through `alias` now, for `call`. */
static void hd_touch(hd_predcache *c, hd_predcache_entry *e, const char *alias,
                     hd_predcache_call *call)
{
    e->refs++;
    if (e->call != call->id) {
        e->call = call->id;
        call->bytes += e->bytes;
    }
    snprintf(e->alias, sizeof e->alias, "%s", alias);
    hd_use_unlink(c, e);
    hd_use_push(c, e);
}

/* Double the buckets when the chains grow long; a failure only keeps them
 * long. */
static void hd_maybe_grow(hd_predcache *c)
{
    if (c->st.entries < c->nbuckets) return;
    size_t n = c->nbuckets * 2;
    hd_predcache_entry **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (hd_predcache_entry *e = c->buckets[i]; e;) {
            hd_predcache_entry *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

/* ---- the interface --------------------------------------------------------- */

void hd_predcache_call_begin(hd_predcache *c, hd_predcache_call *call)
{
    pthread_mutex_lock(&c->mu);
    call->id = ++c->calls;
    pthread_mutex_unlock(&c->mu);
    call->bytes = 0;
}

int hd_predcache_admits(hd_predcache *c, hd_predcache_call *call, size_t bytes)
{
    pthread_mutex_lock(&c->mu);
    int admits = call->bytes <= c->cap_bytes && bytes <= c->cap_bytes - call->bytes;
    if (!admits) c->st.unkept++;
    pthread_mutex_unlock(&c->mu);
    return admits;
}

hd_predcache_entry *hd_predcache_acquire(hd_predcache *c, const hd_predcache_key *k,
                                         const char *alias, hd_predcache_call *call)
{
    uint64_t hash = hd_group_key_hash(k->family, k->group);
    hd_predcache_entry *dead = NULL;
    pthread_mutex_lock(&c->mu);
    hd_predcache_entry *e = hd_find(c, k, hash, alias, &dead);
    if (e) {
        hd_touch(c, e, alias, call);
        c->st.hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    hd_free_dead(dead);
    return e;
}

static hd_predcache_entry *hd_entry_new(const hd_predcache_key *k, uint64_t hash,
                                        herd_predictor *p)
{
    hd_predcache_entry *e = hd_calloc(1, sizeof *e);
    size_t lf = strlen(k->family), lg = strlen(k->group);
    char *names = e ? hd_malloc(lf + lg + 2, 1) : NULL;
    if (!names) {
        free(e);
        return NULL;
    }
    memcpy(names, k->family, lf + 1);
    memcpy(names + lf + 1, k->group, lg + 1);
    e->family = names;
    e->group = names + lf + 1;
    e->hash = hash;
    e->version = k->version;
    e->nthread = k->nthread;
    e->pred = p;
    e->bytes = hd_predictor_model_bytes(p);
    return e;
}

int hd_predcache_insert(hd_predcache *c, const hd_predcache_key *k, const char *alias,
                        herd_predictor *p, hd_predcache_call *call, hd_predcache_entry **out)
{
    *out = NULL;
    uint64_t hash = hd_group_key_hash(k->family, k->group);
    hd_predcache_entry *fresh = hd_entry_new(k, hash, p);
    if (!fresh) {
        herd_predictor_free(p);
        return HERD_ENOMEM;
    }
    hd_predcache_entry *dead = NULL;
    pthread_mutex_lock(&c->mu);
    hd_predcache_entry *e = hd_find(c, k, hash, alias, &dead);
    if (e) {
        /* Another call loaded it meanwhile: keep that one. */
        fresh->chain = dead;
        dead = fresh;
    } else {
        e = fresh;
        e->refs = 1; /* the table's */
        e->cached = 1;
        hd_maybe_grow(c);
        hd_predcache_entry **b = &c->buckets[hash & (c->nbuckets - 1)];
        e->chain = *b;
        *b = e;
        hd_use_push(c, e);
        c->st.entries++;
        c->st.bytes += e->bytes;
    }
    hd_touch(c, e, alias, call);
    hd_trim(c, &dead);
    pthread_mutex_unlock(&c->mu);
    hd_free_dead(dead);
    *out = e;
    return HERD_OK;
}

const herd_predictor *hd_predcache_predictor(const hd_predcache_entry *e)
{
    return e->pred;
}

void hd_predcache_release(hd_predcache *c, hd_predcache_entry *e)
{
    if (!e) return;
    hd_predcache_entry *dead = NULL;
    pthread_mutex_lock(&c->mu);
    hd_unref(e, &dead);
    pthread_mutex_unlock(&c->mu);
    hd_free_dead(dead);
}

void hd_predcache_stats_get(hd_predcache *c, hd_predcache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
