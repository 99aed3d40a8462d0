/* log_internal.h -- delivery of messages to the host's log callback. */
#ifndef HERD_LOG_INTERNAL_H
#define HERD_LOG_INTERNAL_H

#include "error_internal.h" /* HD_PRINTF */

/* Deliver a formatted message at `level` if a callback wants it. Cheap when
 * no callback is set: the level check comes before any formatting. */
void hd_log(int level, const char *fmt, ...) HD_PRINTF(2, 3);

/* Whether a message at `level` would be delivered. */
int hd_log_enabled(int level);

#endif
