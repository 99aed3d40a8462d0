/* sim_alloc.h -- forced into the `oom` suite's copy of the simulated
 * filesystem (tests/support/vfs_sim.c, compiled with -include): its
 * allocations use plain malloc, so that the failures the suite injects
 * fall on herd's allocations only, never on the test's filesystem. */
#ifndef HERD_OOM_SIM_ALLOC_H
#define HERD_OOM_SIM_ALLOC_H

#include <stdlib.h>
#include <string.h>

static inline void *oom_sim_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

static inline char *oom_sim_strdup(const char *s) { return strdup(s); }

static inline int oom_sim_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) ncap *= 2;
    void *q = realloc(*p, ncap * size);
    if (!q) return -2; /* HERD_ENOMEM */
    *p = q;
    *cap = ncap;
    return 0;
}

#define hd_calloc(n, size) oom_sim_calloc(n, size)
#define hd_strdup(s) oom_sim_strdup(s)
#define hd_grow(p, cap, need, size) oom_sim_grow(p, cap, need, size)

#endif
