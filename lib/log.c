/* log.c -- the host's log callback.
 *
 * The callback, its level and its user pointer form the library's one piece
 * of process-wide state.  They are read without a lock on every message, so
 * they live in one struct published through an atomic pointer: a reader sees
 * either the old triple or the new one, never a mix.  Replaced triples are
 * kept (a handful of bytes per herd_log_set call) because a worker may still
 * be delivering through them; hosts set the callback once or a few times. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "herd.h"
#include "log_internal.h"

typedef struct hd_logger {
    herd_log_fn fn;
    int max_level;
    void *user;
    struct hd_logger *previous; /* never freed: see above */
} hd_logger;

static _Atomic(hd_logger *) hd_current_logger;

void herd_log_set(herd_log_fn fn, int max_level, void *user)
{
    hd_logger *next = malloc(sizeof *next);
    if (!next) return; /* nothing to report to; keep the previous logger */
    next->fn = fn;
    next->max_level = max_level;
    next->user = user;
    next->previous = atomic_load(&hd_current_logger);
    while (!atomic_compare_exchange_weak(&hd_current_logger, &next->previous, next)) {
    }
}

int hd_log_enabled(int level)
{
    hd_logger *l = atomic_load_explicit(&hd_current_logger, memory_order_acquire);
    return l && l->fn && level <= l->max_level;
}

void hd_log(int level, const char *fmt, ...)
{
    hd_logger *l = atomic_load_explicit(&hd_current_logger, memory_order_acquire);
    if (!l || !l->fn || level > l->max_level) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    l->fn(level, buf, l->user);
}
