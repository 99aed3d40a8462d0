/* xgb_internal.h -- what herd needs around the XGBoost 1.7 C API: error
 * messages, per-thread log forwarding, parameter names. */
#ifndef HERD_XGB_INTERNAL_H
#define HERD_XGB_INTERNAL_H

#include <stddef.h>

/* Record XGBoost's last error as HERD_EXGBOOST, prefixed by `what`, without
 * XGBoost's timestamp and stack trace; returns HERD_EXGBOOST. */
int hd_xgb_error(const char *what);

/* Evaluate an XGBoost call; on failure record its error and return
 * HERD_EXGBOOST from the enclosing function. */
#define HD_XGB(call, what)                                                         \
    do {                                                                           \
        if ((call) != 0) return hd_xgb_error(what);                                \
    } while (0)

/* Send this thread's XGBoost log lines to herd's log records.  XGBoost
 * keeps its log callback per thread: every herd worker thread that calls
 * XGBoost registers it first.  Only ever on herd's own threads: it has the
 * shape of a pool's worker_start callback, which every parallel job that
 * runs XGBoost passes it as. */
void hd_xgb_worker_start(void *ctx, int worker);

/* Around XGBoost work on a thread that may not be herd's (the caller's):
 * on a herd worker nothing happens; elsewhere XGBoost is silenced for the
 * thread and its configuration restored by _leave, the host's own log
 * callback untouched (xgb.c says why).  Every path that calls XGBoost
 * outside a worker goes through this pair. */
typedef struct hd_xgb_quiet {
    char *saved; /* the thread's XGBoost configuration, or NULL */
} hd_xgb_quiet;

int hd_xgb_quiet_enter(hd_xgb_quiet *q);
void hd_xgb_quiet_leave(hd_xgb_quiet *q);

/* Check parameter names against those XGBoost 1.7 knows.  Unknown names,
 * names herd sets itself (nthread) and names that would have no effect
 * (eval_metric) are rejected with one message naming all of them and, for
 * misspellings, the likely intended name. */
int hd_xgb_check_param_names(const char *const *names, const char *const *values, size_t n);

/* The XGBoost version linked at run time, e.g. "1.7.4". */
void hd_xgb_version(char *buf, size_t size);

#endif
