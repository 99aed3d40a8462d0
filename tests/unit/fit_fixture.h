/* fit_fixture.h -- a frame of per-store data with its groups, fit options
 * over it, and report readers: shared by the cmocka suites that train
 * models (test_fit.c, test_artifact.c).  Include after <cmocka.h>. */
#ifndef HERD_TEST_FIT_FIXTURE_H
#define HERD_TEST_FIT_FIXTURE_H

#include <math.h>

#include "fit_data.h"

static const char *features3[] = {"x0", "x1", "promo"};

typedef struct fixture {
    fit_data d;
    herd_frame *frame;
    herd_groups *groups;
} fixture;

static inline void fixture_make(fixture *fx, size_t groups, const size_t *sizes, double noise)
{
    memset(fx, 0, sizeof *fx);
    fit_data_make(&fx->d, groups, sizes, noise);
    assert_int_equal(fit_data_frame(&fx->d, &fx->frame), HERD_OK);
    const char *keys[] = {"store"};
    assert_int_equal(herd_groups_new(fx->frame, keys, 1, &fx->groups), HERD_OK);
}

static inline void fixture_free(fixture *fx)
{
    herd_groups_free(fx->groups);
    herd_frame_free(fx->frame);
    fit_data_free(&fx->d);
}

/* Fit options over the fixture: features x0, x1, promo; label y. */
static inline void fixture_options(herd_fit_options *o, int rounds)
{
    herd_fit_options_init(o, HERD_FIT_OPTIONS_VERSION);
    o->features = features3;
    o->n_features = 3;
    o->label = "y";
    o->rounds = rounds;
}

/* Column `name` of a report frame, row `r`, as a string / a number. */
static inline const char *cell_str(const herd_frame *f, const char *name, size_t r)
{
    size_t c;
    assert_int_equal(herd_frame_find(f, name, &c), HERD_OK);
    const char *s = "unset";
    int rc = herd_frame_get_string(f, c, r, &s);
    assert_int_equal(rc, s ? HERD_OK : HERD_MISSING); /* NULL exactly when missing */
    return s;
}

static inline double cell_num(const herd_frame *f, const char *name, size_t r)
{
    size_t c;
    assert_int_equal(herd_frame_find(f, name, &c), HERD_OK);
    double v = 0;
    int rc = herd_frame_get_double(f, c, r, &v);
    assert_int_equal(rc, isnan(v) ? HERD_MISSING : HERD_OK); /* NaN exactly when missing */
    return v;
}

#endif
