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

/* Send this thread's XGBoost log lines to herd's log callback.  XGBoost
 * keeps its log callback per thread: every thread that calls XGBoost
 * registers it first. */
void hd_xgb_thread_init(void);

/* Check parameter names against those XGBoost 1.7 knows.  Unknown names,
 * names herd sets itself (nthread) and names that would have no effect
 * (eval_metric) are rejected with one message naming all of them and, for
 * misspellings, the likely intended name. */
int hd_xgb_check_param_names(const char *const *names, const char *const *values, size_t n);

/* The XGBoost version linked at run time, e.g. "1.7.4". */
void hd_xgb_version(char *buf, size_t size);

#endif
