/* compare_internal.h -- what the weekly cycle shares with herd_compare. */
#ifndef HERD_COMPARE_INTERNAL_H
#define HERD_COMPARE_INTERNAL_H

#include <stddef.h>

#include "herd.h"

/* Split one group's rows (ascending frame rows) into its holdout and the
 * rest, by `order` (one key per frame row, hd_order_keys of the column
 * `order_name`): with `periods` > 0 the rows whose key is among the
 * group's `periods` largest distinct keys, else the last `fraction` of the
 * rows (at least one; ties keep frame order).  `hold` and `train` (may be
 * NULL) have room for n rows each and receive frame rows in key order.
 * HERD_EINVAL names a row without an order value. */
int hd_holdout_split(const double *order, const char *order_name, double fraction,
                     size_t periods, const size_t *rows, size_t n, size_t *hold, size_t *nhold,
                     size_t *train, size_t *ntrain);

/* Check that every group key of `g` is also a registry key (the one rule
 * of uri.c's hd_key_check), before anything is trained or compared: a key
 * with a tab would otherwise train every group, then fail to register.
 * HERD_EINVAL names the group (escaped), its index, the rule, the key
 * columns and what to do. */
int hd_groups_check_keys(const herd_groups *g);

/* Check compare options as herd_compare would, against `frame`'s columns
 * (herd_cycle: before anything is trained). */
int hd_compare_check(const herd_compare_options *opt, const herd_frame *frame);

/* herd_compare over several holdout sets, decided and promoted together.
 * challengers[k] (or challengers NULL): the version to compare for each
 * group of set k, 0 when it has none, instead of the challenger alias. */
int hd_compare_sets(herd_registry *reg, const herd_groups *const *holdouts,
                    const int64_t *const *challengers, size_t nsets,
                    const herd_compare_options *opt, const herd_apply_options *apply,
                    herd_frame **decisions, herd_frame **summary);

#endif
