/* mem.c -- allocation with overflow checks, and the string arena. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/mem_internal.h"

static int hd_mul_overflows(size_t n, size_t size, size_t *bytes)
{
    return __builtin_mul_overflow(n, size, bytes);
}

#ifdef HD_ALLOC_FAULTS
/* The allocation-failure hook of the `oom` suite (mem_internal.h).  Only the
 * test build of this file (libherd_faults, -DHD_ALLOC_FAULTS) has it: the
 * shipped libraries have no such state. */
#include <stdatomic.h>

static _Atomic uint64_t hd_fault_countdown; /* 0: disarmed */
static _Atomic uint64_t hd_fault_calls;
static _Atomic int hd_fault_hit;

void hd_alloc_fail_at(uint64_t n)
{
    atomic_store(&hd_fault_hit, 0);
    atomic_store(&hd_fault_calls, 0);
    atomic_store(&hd_fault_countdown, n);
}

int hd_alloc_fault_hit(void) { return atomic_load(&hd_fault_hit); }

uint64_t hd_alloc_calls(void) { return atomic_load(&hd_fault_calls); }

int hd_alloc_should_fail(void)
{
    atomic_fetch_add(&hd_fault_calls, 1);
    uint64_t left = atomic_load(&hd_fault_countdown);
    while (left != 0) {
        if (atomic_compare_exchange_weak(&hd_fault_countdown, &left, left - 1)) {
            if (left != 1) return 0;
            atomic_store(&hd_fault_hit, 1);
            return 1;
        }
    }
    return 0;
}

#define HD_SYS_ALLOC(call) (hd_alloc_should_fail() ? NULL : (call))
#else
#define HD_SYS_ALLOC(call) (call)
#endif

void *hd_malloc(size_t n, size_t size)
{
    size_t bytes;
    if (hd_mul_overflows(n, size, &bytes)) {
        hd_oom();
        return NULL;
    }
    void *p = HD_SYS_ALLOC(malloc(bytes ? bytes : 1));
    if (!p) hd_oom();
    return p;
}

void *hd_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (hd_mul_overflows(n, size, &bytes)) {
        hd_oom();
        return NULL;
    }
    void *p = HD_SYS_ALLOC(calloc(bytes ? n : 1, bytes ? size : 1));
    if (!p) hd_oom();
    return p;
}

void *hd_realloc(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (hd_mul_overflows(n, size, &bytes)) {
        hd_oom();
        return NULL;
    }
    void *q = HD_SYS_ALLOC(realloc(p, bytes ? bytes : 1));
    if (!q) hd_oom();
    return q;
}

char *hd_strndup(const char *s, size_t len)
{
    char *d = hd_malloc(len + 1, 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *hd_strdup(const char *s)
{
    return hd_strndup(s, strlen(s));
}

int hd_grow(void **p, size_t *cap, size_t need, size_t size)
{
    return hd_grow_from(p, cap, need, size, 8);
}

int hd_grow_from(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap) return HERD_OK;
    size_t ncap = *cap ? *cap : first;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return hd_oom();
        ncap *= 2;
    }
    void *q = hd_realloc(*p, ncap, size);
    if (!q) return HERD_ENOMEM;
    *p = q;
    *cap = ncap;
    return HERD_OK;
}

/* The arena is a list of blocks; strings larger than a block get a block of
 * their own, so no string is ever split or moved. */
#define HD_ARENA_BLOCK (64u * 1024u)

typedef struct hd_arena_block {
    struct hd_arena_block *next;
    size_t used, size;
    char data[];
} hd_arena_block;

struct hd_arena {
    hd_arena_block *head;
    size_t bytes;
};

hd_arena *hd_arena_new(void)
{
    hd_arena *a = hd_calloc(1, sizeof *a);
    return a;
}

void hd_arena_free(hd_arena *a)
{
    if (!a) return;
    hd_arena_block *b = a->head;
    while (b) {
        hd_arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void hd_arena_clear(hd_arena *a)
{
    hd_arena_block *keep = a->head;
    if (keep && keep->size != HD_ARENA_BLOCK) keep = NULL; /* a big string's block */
    hd_arena_block *b = a->head;
    while (b) {
        hd_arena_block *next = b->next;
        if (b != keep) free(b);
        b = next;
    }
    a->head = keep;
    a->bytes = 0;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
        a->bytes = sizeof *keep + keep->size;
    }
}

void hd_arena_absorb(hd_arena *into, hd_arena *from)
{
    if (!from) return;
    hd_arena_block *first = from->head, *last = first;
    if (first) {
        while (last->next) last = last->next;
        /* Behind into's current block, which stays the one it fills. */
        if (into->head) {
            last->next = into->head->next;
            into->head->next = first;
        } else {
            into->head = first;
        }
    }
    into->bytes += from->bytes;
    free(from);
}

static hd_arena_block *hd_arena_block_new(hd_arena *a, size_t need)
{
    size_t size = need > HD_ARENA_BLOCK ? need : HD_ARENA_BLOCK;
    if (size > SIZE_MAX - sizeof(hd_arena_block)) {
        hd_oom();
        return NULL;
    }
    hd_arena_block *b = hd_malloc(1, sizeof *b + size);
    if (!b) return NULL;
    b->used = 0;
    b->size = size;
    b->next = a->head;
    a->head = b;
    a->bytes += sizeof *b + size;
    return b;
}

char *hd_arena_strndup(hd_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        hd_oom();
        return NULL;
    }
    size_t need = len + 1;
    hd_arena_block *b = a->head;
    if (!b || b->size - b->used < need) {
        /* A big string gets its own block behind the current one, so the
         * current block's free space is not wasted. */
        b = hd_arena_block_new(a, need);
        if (!b) return NULL;
        if (need > HD_ARENA_BLOCK && b->next) {
            hd_arena_block *cur = b->next;
            a->head = cur;
            b->next = cur->next;
            cur->next = b;
        }
    }
    char *d = b->data + b->used;
    memcpy(d, s, len);
    d[len] = '\0';
    b->used += need;
    return d;
}

const char *hd_arena_strndup_shared(hd_arena *a, hd_strcache *c, const char *s, size_t len)
{
    const char **slot = NULL;
    if (len <= 64) { /* longer text (details, params) is rarely repeated */
        slot = &c->slot[hd_hash_bytes(s, len, 0) & 63];
        if (*slot && !strncmp(*slot, s, len) && !(*slot)[len]) return *slot;
    }
    const char *d = hd_arena_strndup(a, s, len);
    if (d && slot) *slot = d;
    return d;
}

void *hd_arena_alloc(hd_arena *a, size_t size)
{
    size_t pad = 0;
    hd_arena_block *b = a->head;
    if (b) pad = (8 - ((uintptr_t)(b->data + b->used) & 7u)) & 7u;
    if (size > SIZE_MAX - 16) {
        hd_oom();
        return NULL;
    }
    if (!b || b->size - b->used < size + pad) {
        b = hd_arena_block_new(a, size + 8);
        if (!b) return NULL;
        if (size + 8 > HD_ARENA_BLOCK && b->next) {
            hd_arena_block *cur = b->next;
            a->head = cur;
            b->next = cur->next;
            cur->next = b;
        }
        pad = (8 - ((uintptr_t)b->data & 7u)) & 7u;
    }
    char *d = b->data + b->used + pad;
    b->used += pad + size;
    return d;
}

size_t hd_arena_bytes(const hd_arena *a)
{
    return a ? a->bytes : 0;
}
