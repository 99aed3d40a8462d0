/* mem_internal.h -- checked allocation and a string arena. */
#ifndef HERD_MEM_INTERNAL_H
#define HERD_MEM_INTERNAL_H

#include <stddef.h>

/* malloc/calloc/realloc of n * size bytes with an overflow check.  On failure
 * they record HERD_ENOMEM (static message) and return NULL.  A zero size
 * still returns a unique non-NULL pointer. */
void *hd_malloc(size_t n, size_t size);
void *hd_calloc(size_t n, size_t size);
void *hd_realloc(void *p, size_t n, size_t size);

#ifdef HD_ALLOC_FAULTS
/* Allocation-failure injection, in the test build of mem.c only
 * (libherd_faults, linked by the `oom` suite; docs/design.md, "Allocation
 * failures").  hd_alloc_fail_at(n) makes the n-th allocation from now fail
 * (once; 0 disarms) and restarts the count; hd_alloc_fault_hit() says
 * whether it happened, hd_alloc_calls() how many allocations were asked
 * for since.  hd_alloc_should_fail() counts one allocation and says whether
 * it must fail: the tests route other allocators (cJSON's hooks) through
 * it.  Thread-safe. */
#include <stdint.h>
void hd_alloc_fail_at(uint64_t n);
int hd_alloc_fault_hit(void);
uint64_t hd_alloc_calls(void);
int hd_alloc_should_fail(void);
#endif

/* Duplicate a string (or `len` bytes of it, NUL-terminated). */
char *hd_strdup(const char *s);
char *hd_strndup(const char *s, size_t len);

/* Grow *p (an array of *cap elements of `size` bytes) so that it holds at
 * least `need` elements, doubling.  Returns HERD_OK or HERD_ENOMEM. */
int hd_grow(void **p, size_t *cap, size_t need, size_t size);

/* hd_grow starting at `first` elements (>= 1) instead of 8: for arrays
 * kept by the thousand that mostly hold one or two elements (a registry
 * group's versions, aliases and alias moves), where 8 would reserve
 * several times what is used. */
int hd_grow_from(void **p, size_t *cap, size_t need, size_t size, size_t first);

/* An append-only arena for many small strings, freed all at once.  Strings
 * never move once stored. */
typedef struct hd_arena hd_arena;

hd_arena *hd_arena_new(void); /* NULL + HERD_ENOMEM on failure */
void hd_arena_free(hd_arena *a);
/* Copy `len` bytes plus a NUL into the arena. NULL + HERD_ENOMEM on failure. */
char *hd_arena_strndup(hd_arena *a, const char *s, size_t len);
/* `size` bytes aligned to 8, uninitialised.  NULL + HERD_ENOMEM on failure. */
void *hd_arena_alloc(hd_arena *a, size_t size);
/* The short strings an arena took lately, by hash: text that many records
 * repeat (a family, a run id, an alias, a metric name) is stored once.
 * Zeroed: empty.  It belongs with its arena and is forgotten with it. */
typedef struct hd_strcache {
    const char *slot[64];
} hd_strcache;
/* hd_arena_strndup, returning the string stored lately (through `c`) when
 * it has the same text. */
const char *hd_arena_strndup_shared(hd_arena *a, hd_strcache *c, const char *s, size_t len);
/* Forget everything stored, keeping one block for what comes next: a
 * scratch arena reused for a series of short-lived decodes. */
void hd_arena_clear(hd_arena *a);
/* Move every string of `from` into `into` (they stay where they are) and
 * free `from`. */
void hd_arena_absorb(hd_arena *into, hd_arena *from);
/* Bytes held by the arena (for memory accounting). */
size_t hd_arena_bytes(const hd_arena *a);

#endif
