/* fit_data.h -- deterministic per-group regression data for the tests that
 * train models (test_fit.c, the interop exporter). */
#ifndef HERD_TEST_FIT_DATA_H
#define HERD_TEST_FIT_DATA_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"

typedef struct fit_data {
    size_t n;
    int64_t *store;
    double *x0, *x1, *y, *t;
    int32_t *promo;
} fit_data;

static inline double fit_data_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* `groups` stores with sizes[g] rows each; label = (g+1) * x0 - 2 * x1 +
 * 3 * promo + noise; t is a shuffled time index inside each store. */
static inline void fit_data_make(fit_data *d, size_t groups, const size_t *sizes, double noise)
{
    size_t n = 0;
    for (size_t g = 0; g < groups; g++) n += sizes[g];
    d->n = n;
    d->store = malloc(n * sizeof *d->store);
    d->x0 = malloc(n * sizeof *d->x0);
    d->x1 = malloc(n * sizeof *d->x1);
    d->y = malloc(n * sizeof *d->y);
    d->t = malloc(n * sizeof *d->t);
    d->promo = malloc(n * sizeof *d->promo);
    uint64_t s = 12345;
    size_t r = 0;
    for (size_t g = 0; g < groups; g++) {
        for (size_t i = 0; i < sizes[g]; i++, r++) {
            d->store[r] = (int64_t)g;
            d->x0[r] = fit_data_uniform(&s);
            d->x1[r] = fit_data_uniform(&s);
            d->promo[r] = fit_data_uniform(&s) < 0.3;
            d->t[r] = (double)((i * 7919) % sizes[g]);
            d->y[r] = (double)(g + 1) * d->x0[r] - 2 * d->x1[r] + 3 * d->promo[r] +
                      noise * (fit_data_uniform(&s) - 0.5);
        }
    }
}

static inline void fit_data_free(fit_data *d)
{
    free(d->store), free(d->x0), free(d->x1), free(d->y), free(d->t), free(d->promo);
}

/* A frame borrowing the data: store, x0, x1, promo, t, y. */
static inline int fit_data_frame(const fit_data *d, herd_frame **out)
{
    herd_column_options b;
    herd_column_options_init(&b, HERD_COLUMN_OPTIONS_VERSION);
    b.flags = HERD_COLUMN_BORROW;
    herd_frame *f = NULL;
    int rc = herd_frame_new(&f);
    if (!rc) rc = herd_frame_add_column(f, "store", HERD_TYPE_INT64, d->store, d->n, &b);
    if (!rc) rc = herd_frame_add_column(f, "x0", HERD_TYPE_FLOAT64, d->x0, d->n, &b);
    if (!rc) rc = herd_frame_add_column(f, "x1", HERD_TYPE_FLOAT64, d->x1, d->n, &b);
    if (!rc) rc = herd_frame_add_column(f, "promo", HERD_TYPE_INT32, d->promo, d->n, &b);
    if (!rc) rc = herd_frame_add_column(f, "t", HERD_TYPE_FLOAT64, d->t, d->n, &b);
    if (!rc) rc = herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, d->y, d->n, &b);
    if (rc) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

#endif
