/* Tests of prepared predictors and of the registry's cache of them (suite
 * `fit`: they drive XGBoost).  Run under ASan too: the concurrency tests
 * share one predictor, and one registry handle, between threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herd.h"
#include "fit_fixture.h"
#include "model/predictor_internal.h"
#include "registry/registry_internal.h"

#define EXPECT_OK(call)                                                              \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != HERD_OK) fail_msg("%s: %s (%s)", #call, herd_status_str(rc_),     \
                                     herd_last_error());                             \
    } while (0)

#include "const_model.h"

#define ERR_HAS(text)                                                              \
    do {                                                                           \
        if (!strstr(herd_last_error(), (text)))                                    \
            fail_msg("last error \"%s\" lacks \"%s\"", herd_last_error(), (text)); \
    } while (0)

/* ---- helpers ---------------------------------------------------------------- */

/* A model of the fixture's store 0 (x0, x1, promo -> y), 30 rounds. */
static herd_model *fixture_model(fixture *fx, size_t rows)
{
    size_t sizes[1] = {rows};
    fixture_make(fx, 1, sizes, 0.1);
    herd_fit_options o;
    fixture_options(&o, 30);
    herd_fit_result *set = NULL;
    EXPECT_OK(herd_fit(fx->groups, &o, NULL, &set));
    herd_model *m = NULL;
    EXPECT_OK(herd_fit_result_model(set, "0", &m));
    herd_fit_result_free(set);
    return m;
}

/* A committed model of tests/data/models (written by make_models.py). */
static herd_model *data_model(const char *name)
{
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/models/%s", root ? root : "..", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (set HERD_TEST_SOURCE_DIR)", path);
    static unsigned char bytes[1 << 20];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    herd_model *m = NULL;
    EXPECT_OK(herd_model_load(bytes, n, &m));
    return m;
}

static herd_predictor *predictor_of(const herd_model *m, int nthread)
{
    herd_predictor_options o;
    herd_predictor_options_init(&o, HERD_PREDICTOR_OPTIONS_VERSION);
    o.nthread = nthread;
    herd_predictor *p = NULL;
    EXPECT_OK(herd_predictor_new(m, &o, &p));
    return p;
}

/* Rows of the fixture's features, row-major, in the model's order. */
static double *dense_rows(const fit_data *d, size_t n)
{
    double *x = malloc(n * 3 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[i * 3] = d->x0[i];
        x[i * 3 + 1] = d->x1[i];
        x[i * 3 + 2] = d->promo[i];
    }
    return x;
}

/* ---- same values as herd_model_predict -------------------------------------- */

static void test_predictor_matches_model_predict(void **state)
{
    (void)state;
    fixture fx;
    herd_model *m = fixture_model(&fx, 120);
    double want[120], got[120];
    EXPECT_OK(herd_model_predict(m, fx.frame, NULL, 120, 1, want, 120));
    herd_predictor *p = predictor_of(m, 1);
    assert_int_equal(herd_predictor_num_features(p), 3);
    assert_int_equal(herd_predictor_num_outputs(p), 1);
    assert_string_equal(herd_predictor_feature_name(p, 0), "x0");
    assert_string_equal(herd_predictor_feature_name(p, 2), "promo");
    assert_string_equal(herd_predictor_feature_type(p, 2), "int");
    assert_null(herd_predictor_feature_name(p, 3));
    assert_null(herd_predictor_feature_type(p, 3));

    /* The model may go: the predictor owns what it needs. */
    herd_model_free(m);
    EXPECT_OK(herd_predictor_predict(p, fx.frame, NULL, 120, got, 120));
    assert_memory_equal(got, want, sizeof got);
    /* Again: the kept column lookup gives the same. */
    memset(got, 0, sizeof got);
    EXPECT_OK(herd_predictor_predict(p, fx.frame, NULL, 120, got, 120));
    assert_memory_equal(got, want, sizeof got);
    /* Listed rows, in any order. */
    size_t rows[4] = {119, 0, 57, 57};
    EXPECT_OK(herd_predictor_predict(p, fx.frame, rows, 4, got, 4));
    for (size_t i = 0; i < 4; i++) assert_true(got[i] == want[rows[i]]);
    /* The dense path, row by row and all at once. */
    double *x = dense_rows(&fx.d, 120);
    for (size_t i = 0; i < 120; i++) {
        double one;
        EXPECT_OK(herd_predictor_predict_dense(p, x + 3 * i, 1, 3, &one, 1));
        assert_true(one == want[i]);
    }
    EXPECT_OK(herd_predictor_predict_dense(p, x, 120, 3, got, 120));
    assert_memory_equal(got, want, sizeof got);

    /* A frame of another layout (columns reordered, one more): the kept
     * lookup no longer holds, the names still bind. */
    herd_frame *g = NULL;
    EXPECT_OK(herd_frame_new(&g));
    EXPECT_OK(herd_frame_add_column(g, "promo", HERD_TYPE_INT32, fx.d.promo, 120, NULL));
    EXPECT_OK(herd_frame_add_column(g, "extra", HERD_TYPE_FLOAT64, fx.d.y, 120, NULL));
    EXPECT_OK(herd_frame_add_column(g, "x1", HERD_TYPE_FLOAT64, fx.d.x1, 120, NULL));
    EXPECT_OK(herd_frame_add_column(g, "x0", HERD_TYPE_FLOAT64, fx.d.x0, 120, NULL));
    memset(got, 0, sizeof got);
    EXPECT_OK(herd_predictor_predict(p, g, NULL, 120, got, 120));
    assert_memory_equal(got, want, sizeof got);
    /* Same names at the kept indices but a type that no longer fits. */
    herd_frame *h = NULL;
    double promo_f[120];
    for (size_t i = 0; i < 120; i++) promo_f[i] = fx.d.promo[i];
    EXPECT_OK(herd_frame_new(&h));
    EXPECT_OK(herd_frame_add_column(h, "store", HERD_TYPE_INT64, fx.d.store, 120, NULL));
    EXPECT_OK(herd_frame_add_column(h, "x0", HERD_TYPE_FLOAT64, fx.d.x0, 120, NULL));
    EXPECT_OK(herd_frame_add_column(h, "x1", HERD_TYPE_FLOAT64, fx.d.x1, 120, NULL));
    EXPECT_OK(herd_frame_add_column(h, "promo", HERD_TYPE_FLOAT64, promo_f, 120, NULL));
    assert_int_equal(herd_predictor_predict(p, h, NULL, 120, got, 120), HERD_ETYPE);
    ERR_HAS("column 'promo' is float64 but the model's feature 'promo' is int");
    /* And the first layout still predicts. */
    EXPECT_OK(herd_predictor_predict(p, fx.frame, NULL, 120, got, 120));
    assert_memory_equal(got, want, sizeof got);
    herd_frame_free(h);
    herd_frame_free(g);
    free(x);
    herd_predictor_free(p);
    fixture_free(&fx);
}

/* ---- python3-xgboost's own predictions ---------------------------------------- */

/* The committed models predicted by the xgboost Python package, in place,
 * on rows the test writes (with missing values). */
static const char py_script[] =
    "import sys, numpy as np, xgboost as xgb\n"
    "root, d = sys.argv[1], sys.argv[2]\n"
    "X = np.loadtxt(d + '/x.csv', delimiter=',', skiprows=1, ndmin=2)\n"
    "for name in ['reg3', 'multiclass', 'dart']:\n"
    "    b = xgb.Booster(model_file=root + '/tests/data/models/' + name + '.ubj')\n"
    "    b.set_param({'nthread': 1})\n"
    "    np.savetxt(d + '/' + name + '.txt', b.inplace_predict(X).reshape(-1), fmt='%.9g')\n";

#define PY_ROWS 64

static void py_rows(double *x0, double *x1, int32_t *promo)
{
    uint64_t s = 99;
    for (size_t i = 0; i < PY_ROWS; i++) {
        x0[i] = fit_data_uniform(&s);
        x1[i] = fit_data_uniform(&s);
        promo[i] = fit_data_uniform(&s) < 0.3;
        if (i % 7 == 3) x0[i] = NAN;
        if (i % 11 == 5) x1[i] = NAN;
    }
}

static void read_floats(const char *path, double *v, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    for (size_t i = 0; i < n; i++) assert_int_equal(fscanf(f, "%lf", &v[i]), 1);
    double extra;
    assert_int_equal(fscanf(f, "%lf", &extra), EOF);
    fclose(f);
}

static void test_predictor_python_expectations(void **state)
{
    (void)state;
    double x0[PY_ROWS], x1[PY_ROWS], dense[PY_ROWS * 3];
    int32_t promo[PY_ROWS];
    py_rows(x0, x1, promo);
    char dir[] = "/tmp/herd-predictor-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[4600];
    snprintf(path, sizeof path, "%s/x.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x0,x1,promo\n", f);
    for (size_t i = 0; i < PY_ROWS; i++) {
        fprintf(f, "%.17g,%.17g,%d\n", x0[i], x1[i], promo[i]);
        dense[i * 3] = x0[i];
        dense[i * 3 + 1] = x1[i];
        dense[i * 3 + 2] = promo[i];
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/make.py", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(py_script, f);
    fclose(f);
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s'", path, root ? root : "..", dir);
    if (system(cmd) != 0)
        fail_msg("%s failed: python3-xgboost (a test dependency) must be installed", cmd);

    herd_frame *frame = NULL;
    EXPECT_OK(herd_frame_new(&frame));
    EXPECT_OK(herd_frame_add_column(frame, "x0", HERD_TYPE_FLOAT64, x0, PY_ROWS, NULL));
    EXPECT_OK(herd_frame_add_column(frame, "x1", HERD_TYPE_FLOAT64, x1, PY_ROWS, NULL));
    EXPECT_OK(herd_frame_add_column(frame, "promo", HERD_TYPE_INT32, promo, PY_ROWS, NULL));
    const char *names[] = {"reg3", "multiclass", "dart"};
    const size_t nout[] = {1, 3, 1};
    for (size_t k = 0; k < 3; k++) {
        char file[64];
        snprintf(file, sizeof file, "%s.ubj", names[k]);
        herd_model *m = data_model(file);
        herd_predictor *p = predictor_of(m, 1);
        assert_int_equal(herd_predictor_num_outputs(p), nout[k]);
        /* XGBoost promises lock-free in-place prediction for gbtree only. */
        assert_int_equal(hd_predictor_serialised(p), strcmp(names[k], "dart") == 0);
        size_t n = PY_ROWS * nout[k];
        double want[PY_ROWS * 3], by_frame[PY_ROWS * 3], by_dense[PY_ROWS * 3];
        double by_model[PY_ROWS * 3];
        snprintf(path, sizeof path, "%s/%s.txt", dir, names[k]);
        read_floats(path, want, n);
        EXPECT_OK(herd_predictor_predict(p, frame, NULL, PY_ROWS, by_frame, n));
        EXPECT_OK(herd_predictor_predict_dense(p, dense, PY_ROWS, 3, by_dense, n));
        EXPECT_OK(herd_model_predict(m, frame, NULL, PY_ROWS, 1, by_model, n));
        for (size_t i = 0; i < n; i++) {
            /* Python printed the float32 results exactly (%.9g). */
            if ((float)by_frame[i] != (float)want[i] || by_dense[i] != by_frame[i] ||
                by_model[i] != by_frame[i])
                fail_msg("%s value %zu: python %.9g, frame %.9g, dense %.9g, model %.9g",
                         names[k], i, want[i], by_frame[i], by_dense[i], by_model[i]);
        }
        herd_predictor_free(p);
        herd_model_free(m);
    }
    herd_frame_free(frame);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- calls larger than one XGBoost chunk -------------------------------------- */

/* 50,000 rows of a 3-class model: 150,000 outputs, three chunks of at most
 * 65,536.  Whole calls agree with listed rows and with one-row calls at
 * the chunk boundaries. */
static void test_predictor_chunks(void **state)
{
    (void)state;
    enum { N = 50000 };
    herd_model *m = data_model("multiclass.ubj");
    herd_predictor *p = predictor_of(m, 2);
    double *x0 = malloc(N * sizeof *x0), *x1 = malloc(N * sizeof *x1);
    int32_t *promo = malloc(N * sizeof *promo);
    double *dense = malloc(N * 3 * sizeof *dense);
    size_t *rows = malloc(N * sizeof *rows);
    uint64_t s = 5;
    for (size_t i = 0; i < N; i++) {
        x0[i] = fit_data_uniform(&s);
        x1[i] = fit_data_uniform(&s);
        promo[i] = fit_data_uniform(&s) < 0.5;
        dense[i * 3] = x0[i];
        dense[i * 3 + 1] = x1[i];
        dense[i * 3 + 2] = promo[i];
        rows[i] = i;
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_frame_new(&f));
    EXPECT_OK(herd_frame_add_column(f, "x0", HERD_TYPE_FLOAT64, x0, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "x1", HERD_TYPE_FLOAT64, x1, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "promo", HERD_TYPE_INT32, promo, N, NULL));
    double *all = malloc(N * 3 * sizeof *all), *listed = malloc(N * 3 * sizeof *listed);
    double *by_dense = malloc(N * 3 * sizeof *by_dense);
    EXPECT_OK(herd_predictor_predict(p, f, NULL, N, all, N * 3));
    EXPECT_OK(herd_predictor_predict(p, f, rows, N, listed, N * 3));
    EXPECT_OK(herd_predictor_predict_dense(p, dense, N, 3, by_dense, N * 3));
    assert_memory_equal(all, listed, N * 3 * sizeof *all);
    assert_memory_equal(all, by_dense, N * 3 * sizeof *all);
    const size_t probe[] = {0, 21844, 21845, 21846, 43689, 43690, 43691, N - 1};
    for (size_t k = 0; k < sizeof probe / sizeof *probe; k++) {
        double one[3];
        size_t r = probe[k];
        EXPECT_OK(herd_predictor_predict(p, f, &r, 1, one, 3));
        assert_memory_equal(one, all + 3 * r, sizeof one);
        /* softmax: the classes sum to one */
        assert_float_equal(one[0] + one[1] + one[2], 1.0, 1e-6);
    }
    herd_frame_free(f);
    free(x0), free(x1), free(promo), free(dense), free(rows);
    free(all), free(listed), free(by_dense);
    herd_predictor_free(p);
    herd_model_free(m);
}

/* ---- many threads, one predictor ------------------------------------------------ */

#define THREADS 8
#define ITERATIONS 150

typedef struct shared_case {
    const herd_predictor *p;
    const herd_frame *frame;
    const double *dense; /* frame rows, row-major */
    const double *want;  /* every frame row's outputs */
    size_t nrows, nout;
} shared_case;

typedef struct worker {
    const shared_case *cases;
    size_t ncases;
    unsigned seed;
    size_t mismatches, errors;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    double out[64 * 3];
    size_t rows[64];
    for (int it = 0; it < ITERATIONS; it++) {
        const shared_case *c = &w->cases[(size_t)it % w->ncases];
        w->seed = w->seed * 1103515245u + 12345u;
        size_t n = 1 + (w->seed >> 8) % 64;
        size_t first = (w->seed >> 16) % (c->nrows - n);
        for (size_t i = 0; i < n; i++) rows[i] = first + (i * 7) % n;
        int rc;
        if (it % 2) rc = herd_predictor_predict(c->p, c->frame, rows, n, out, sizeof out / 8);
        else rc = herd_predictor_predict_dense(c->p, c->dense + first * 3, n, 3, out,
                                                sizeof out / 8);
        if (rc) {
            w->errors++;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            size_t r = it % 2 ? rows[i] : first + i;
            if (memcmp(out + i * c->nout, c->want + r * c->nout, c->nout * sizeof *out) != 0)
                w->mismatches++;
        }
    }
    return NULL;
}

/* A regression model, a DART model (serialised) and a 3-class model, each
 * shared by eight threads predicting random row sets at once, by frame and
 * dense: every value equals the single-threaded prediction. */
static void test_predictor_concurrent(void **state)
{
    (void)state;
    fixture fx;
    herd_model *models[3];
    models[0] = fixture_model(&fx, 300);
    models[1] = data_model("dart.ubj");
    models[2] = data_model("multiclass.ubj");
    size_t n = 300;
    double *dense = dense_rows(&fx.d, n);
    shared_case cases[3];
    double *want[3];
    for (size_t k = 0; k < 3; k++) {
        size_t nout = herd_model_output_count(models[k]);
        want[k] = malloc(n * nout * sizeof *want[k]);
        EXPECT_OK(herd_model_predict(models[k], fx.frame, NULL, n, 1, want[k], n * nout));
        cases[k] = (shared_case){.p = predictor_of(models[k], k == 2 ? 2 : 1),
                                 .frame = fx.frame, .dense = dense, .want = want[k],
                                 .nrows = n, .nout = nout};
        herd_model_free(models[k]); /* the predictors own what they need */
    }
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.cases = cases, .ncases = 3, .seed = 17u + (unsigned)i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    size_t mismatches = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        mismatches += w[i].mismatches;
        errors += w[i].errors;
    }
    assert_int_equal(errors, 0);
    assert_int_equal(mismatches, 0);
    for (size_t k = 0; k < 3; k++) {
        herd_predictor_free((herd_predictor *)cases[k].p);
        free(want[k]);
    }
    free(dense);
    fixture_free(&fx);
}

/* ---- bad inputs ------------------------------------------------------------------ */

static void test_predictor_bad_inputs(void **state)
{
    (void)state;
    fixture fx;
    herd_model *m = fixture_model(&fx, 60);
    herd_predictor *p = NULL;
    herd_predictor_options o;

    assert_int_equal(herd_predictor_new(NULL, NULL, &p), HERD_EINVAL);
    ERR_HAS("'model' is NULL");
    assert_null(p);
    assert_int_equal(herd_predictor_new(m, NULL, NULL), HERD_EINVAL);
    herd_predictor_options_init(&o, HERD_PREDICTOR_OPTIONS_VERSION);
    o.nthread = -1;
    assert_int_equal(herd_predictor_new(m, &o, &p), HERD_EINVAL);
    ERR_HAS("herd_predictor_options.nthread is -1; give an integer in 0..1024");
    o.nthread = 5000;
    assert_int_equal(herd_predictor_new(m, &o, &p), HERD_EINVAL);
    ERR_HAS("herd_predictor_options.nthread is 5000");
    memset(&o, 0xA5, sizeof o); /* never initialised */
    assert_int_equal(herd_predictor_new(m, &o, &p), HERD_EINVAL);
    ERR_HAS("herd_predictor_options_init");
    assert_null(p);
    assert_int_equal(herd_predictor_options_init(NULL, HERD_PREDICTOR_OPTIONS_VERSION),
                     HERD_EINVAL);
    assert_int_equal(herd_predictor_options_init(&o, HERD_PREDICTOR_OPTIONS_VERSION + 1),
                     HERD_EINVAL);
    herd_predictor_options_init(&o, HERD_PREDICTOR_OPTIONS_VERSION);
    o.nthread = 0; /* herd_default_threads() */
    EXPECT_OK(herd_predictor_new(m, &o, &p));
    herd_predictor_free(p);
    EXPECT_OK(herd_predictor_new(m, NULL, &p));

    double out[60], x[6] = {0.5, 0.5, 1, 0.1, 0.2, 0};
    /* NULL handles and buffers */
    assert_int_equal(herd_predictor_predict(NULL, fx.frame, NULL, 60, out, 60), HERD_EINVAL);
    ERR_HAS("'p' is NULL");
    assert_int_equal(herd_predictor_predict(p, NULL, NULL, 60, out, 60), HERD_EINVAL);
    ERR_HAS("'frame' is NULL");
    assert_int_equal(herd_predictor_predict(p, fx.frame, NULL, 60, NULL, 60), HERD_EINVAL);
    ERR_HAS("'out' is NULL");
    assert_int_equal(herd_predictor_predict_dense(NULL, x, 2, 3, out, 2), HERD_EINVAL);
    assert_int_equal(herd_predictor_predict_dense(p, NULL, 2, 3, out, 2), HERD_EINVAL);
    ERR_HAS("'values' is NULL");
    assert_int_equal(herd_predictor_predict_dense(p, x, 2, 3, NULL, 2), HERD_EINVAL);
    ERR_HAS("'out' is NULL");
    /* zero rows: nothing to do, no buffer needed */
    EXPECT_OK(herd_predictor_predict_dense(p, NULL, 0, 3, NULL, 0));
    size_t none = 0;
    EXPECT_OK(herd_predictor_predict(p, fx.frame, &none, 0, NULL, 0));
    /* wrong column count */
    assert_int_equal(herd_predictor_predict_dense(p, x, 2, 2, out, 2), HERD_EINVAL);
    ERR_HAS("the rows have 2 values (ncols) but the model has 3 features (the first is 'x0')");
    assert_int_equal(herd_predictor_predict_dense(p, x, 1, 6, out, 2), HERD_EINVAL);
    /* out too small */
    assert_int_equal(herd_predictor_predict(p, fx.frame, NULL, 60, out, 59), HERD_EINVAL);
    ERR_HAS("out holds 59 values but 60 rows x 1 outputs need 60");
    assert_int_equal(herd_predictor_predict_dense(p, x, 2, 3, out, 1), HERD_EINVAL);
    ERR_HAS("out holds 1 values but 2 rows x 1 outputs need 2");
    assert_int_equal(herd_predictor_predict_dense(p, x, SIZE_MAX / 2, 3, out, 60),
                     HERD_EINVAL);
    /* rows */
    assert_int_equal(herd_predictor_predict(p, fx.frame, NULL, 59, out, 60), HERD_EINVAL);
    ERR_HAS("rows is NULL (all rows) but nrows is 59 and the frame has 60");
    size_t bad_rows[2] = {3, 60};
    assert_int_equal(herd_predictor_predict(p, fx.frame, bad_rows, 2, out, 60), HERD_EINVAL);
    ERR_HAS("rows[1] is 60 but the frame has 60 rows");
    /* a missing feature column, then a column of the wrong type */
    herd_frame *g = NULL;
    EXPECT_OK(herd_frame_new(&g));
    EXPECT_OK(herd_frame_add_column(g, "x0", HERD_TYPE_FLOAT64, fx.d.x0, 60, NULL));
    EXPECT_OK(herd_frame_add_column(g, "promo", HERD_TYPE_INT32, fx.d.promo, 60, NULL));
    assert_int_equal(herd_predictor_predict(p, g, NULL, 60, out, 60), HERD_ENOTFOUND);
    ERR_HAS("the model's feature 'x1' (feature 1) is not a column of the frame");
    const char *words[60];
    for (size_t i = 0; i < 60; i++) words[i] = "w";
    EXPECT_OK(herd_frame_add_column(g, "x1", HERD_TYPE_STRING, words, 60, NULL));
    assert_int_equal(herd_predictor_predict(p, g, NULL, 60, out, 60), HERD_ETYPE);
    ERR_HAS("column 'x1' is string but the model's feature 'x1' is float");
    herd_frame_free(g);
    /* after all that, it still predicts */
    double want[60];
    EXPECT_OK(herd_model_predict(m, fx.frame, NULL, 60, 1, want, 60));
    EXPECT_OK(herd_predictor_predict(p, fx.frame, NULL, 60, out, 60));
    assert_memory_equal(out, want, sizeof want);
    /* accessors of NULL */
    assert_int_equal(herd_predictor_num_features(NULL), 0);
    assert_int_equal(herd_predictor_num_outputs(NULL), 0);
    assert_null(herd_predictor_feature_name(NULL, 0));
    herd_predictor_free(NULL);
    herd_predictor_free(p);
    herd_model_free(m);
    fixture_free(&fx);
}

/* ---- the registry's cache of predictors ------------------------------------------ */

typedef struct regdir {
    char dir[512];
    char path[600];
} regdir;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void regdir_make(regdir *r)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/herd_predictor_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->path, sizeof r->path, "%s/reg", r->dir);
}

static void regdir_remove(regdir *r)
{
    nftw(r->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Rows of groups g0, g1, g2 (4 each) with a feature x. */
typedef struct rows3 {
    herd_frame *frame;
    herd_groups *groups;
} rows3;

/* 12 rows, row i of group keys[i % nkeys]. */
static void rows_make(rows3 *r, const char *const *keys, int nkeys)
{
    const char *g[12];
    double x[12];
    for (int i = 0; i < 12; i++) {
        g[i] = keys[i % nkeys];
        x[i] = i;
    }
    EXPECT_OK(herd_frame_new(&r->frame));
    EXPECT_OK(herd_frame_add_column(r->frame, "g", HERD_TYPE_STRING, g, 12, NULL));
    EXPECT_OK(herd_frame_add_column(r->frame, "x", HERD_TYPE_FLOAT64, x, 12, NULL));
    const char *key = "g";
    EXPECT_OK(herd_groups_new(r->frame, &key, 1, &r->groups));
}

static void rows3_make(rows3 *r)
{
    const char *keys[] = {"g0", "g1", "g2"};
    rows_make(r, keys, 3);
}

static void rows3_free(rows3 *r)
{
    herd_groups_free(r->groups);
    herd_frame_free(r->frame);
}

/* Predict from the registry on `threads` workers (0: the default); row i
 * belongs to group i % 3.  want[g] NaN: no model. */
static void expect_predictions_on(herd_registry *reg, const rows3 *r, int fallback, int threads,
                                  const double want[3], const int64_t version[3])
{
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "f";
    po.fallback = fallback;
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.threads = threads;
    herd_frame *out = NULL;
    EXPECT_OK(herd_registry_predict(reg, r->groups, &po, &ap, &out, NULL));
    for (size_t i = 0; i < 12; i++) {
        double v;
        int64_t ver = -1;
        /* a row without a model is missing: NaN and HERD_MISSING */
        assert_int_equal(herd_frame_get_double(out, 0, i, &v),
                         isnan(want[i % 3]) ? HERD_MISSING : HERD_OK);
        EXPECT_OK(herd_frame_get_int64(out, 1, i, &ver));
        if (isnan(want[i % 3])) assert_true(isnan(v));
        else assert_float_equal(v, want[i % 3], 1e-6);
        assert_int_equal(ver, version[i % 3]);
    }
    herd_frame_free(out);
}

static void expect_predictions(herd_registry *reg, const rows3 *r, int fallback,
                               const double want[3], const int64_t version[3])
{
    expect_predictions_on(reg, r, fallback, 0, want, version);
}

static hd_predcache_stats cache_stats(herd_registry *reg)
{
    hd_predcache_stats s;
    hd_predcache_stats_get(hd_registry_predictors(reg), &s);
    return s;
}

static void test_registry_cache_reuse_and_alias_move(void **state)
{
    (void)state;
    regdir d;
    regdir_make(&d);
    herd_registry *reg = NULL, *writer = NULL;
    EXPECT_OK(herd_registry_open(d.path, NULL, &reg));
    EXPECT_OK(herd_registry_open(d.path, NULL, &writer));
    put(writer, "g0", 1.0, "champion");
    put(writer, "g1", 2.0, "champion");
    rows3 r;
    rows3_make(&r);

    /* First call: both champions loaded (g2 has none). */
    expect_predictions(reg, &r, 0, (double[]){1.0, 2.0, NAN}, (int64_t[]){1, 1, 0});
    hd_predcache_stats s = cache_stats(reg);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.hits, 0);
    assert_int_equal(s.entries, 2);
    assert_true(s.bytes > 0);
    assert_int_equal(s.cap_bytes, (size_t)256 << 20);

    /* Second call: both reused, nothing loaded. */
    expect_predictions(reg, &r, 0, (double[]){1.0, 2.0, NAN}, (int64_t[]){1, 1, 0});
    s = cache_stats(reg);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.hits, 2);

    /* Another handle moves g0's champion to a new version: the call
     * refreshes, predicts with version 2 and drops version 1. */
    put(writer, "g0", 5.0, "champion");
    expect_predictions(reg, &r, 0, (double[]){5.0, 2.0, NAN}, (int64_t[]){2, 1, 0});
    s = cache_stats(reg);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.moved, 1);
    assert_int_equal(s.entries, 2);

    /* A rollback moves it back: version 1 is loaded again, 2 dropped. */
    EXPECT_OK(herd_registry_rollback(writer, "f", "g0", "champion", "test", NULL));
    expect_predictions(reg, &r, 0, (double[]){1.0, 2.0, NAN}, (int64_t[]){1, 1, 0});
    s = cache_stats(reg);
    assert_int_equal(s.misses, 4);
    assert_int_equal(s.moved, 2);
    assert_int_equal(s.entries, 2);

    /* The family model, through the cache too: g2 falls back to it. */
    put(writer, HERD_FALLBACK_GROUP, 9.0, "champion");
    expect_predictions(reg, &r, 1, (double[]){1.0, 2.0, 9.0}, (int64_t[]){1, 1, 1});
    expect_predictions(reg, &r, 1, (double[]){1.0, 2.0, 9.0}, (int64_t[]){1, 1, 1});
    s = cache_stats(reg);
    assert_int_equal(s.misses, 5);
    assert_int_equal(s.hits, 9);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.evictions, 0);

    rows3_free(&r);
    herd_registry_free(writer);
    herd_registry_free(reg);
    regdir_remove(&d);
}

/* A new registry directory holding g0, g1, g2 (champions predicting 1, 2,
 * 3); returns one model's serialised size as the cache counts it. */
static size_t regdir_three(regdir *d)
{
    regdir_make(d);
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(d->path, NULL, &reg));
    put(reg, "g0", 1.0, "champion");
    put(reg, "g1", 2.0, "champion");
    put(reg, "g2", 3.0, "champion");
    rows3 r;
    rows3_make(&r);
    expect_predictions(reg, &r, 0, (double[]){1.0, 2.0, 3.0}, (int64_t[]){1, 1, 1});
    hd_predcache_stats s = cache_stats(reg);
    assert_int_equal(s.entries, 3);
    rows3_free(&r);
    herd_registry_free(reg);
    return s.bytes / 3;
}

/* A handle on `path` whose predictor cache holds `cap` bytes. */
static herd_registry *open_capped(const char *path, size_t cap)
{
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.predict_cache_bytes = cap;
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(path, &o, &reg));
    return reg;
}

static const double want3[] = {1.0, 2.0, 3.0};
static const int64_t v111[] = {1, 1, 1};

/* The cache's counters: hits, misses, models not kept, entries, evictions. */
static void expect_counts(herd_registry *reg, uint64_t hits, uint64_t misses, uint64_t unkept,
                          size_t entries, uint64_t evictions)
{
    hd_predcache_stats s = cache_stats(reg);
    assert_int_equal(s.hits, hits);
    assert_int_equal(s.misses, misses);
    assert_int_equal(s.unkept, unkept);
    assert_int_equal(s.entries, entries);
    assert_int_equal(s.evictions, evictions);
    assert_true(s.bytes <= s.cap_bytes);
}

/* The cap: a cache of 0 bytes keeps nothing and still predicts; a cap of
 * one model keeps one, and a call's other models are used once, not kept
 * by evicting it. */
static void test_registry_cache_cap(void **state)
{
    (void)state;
    regdir d;
    size_t one_model = regdir_three(&d);
    rows3 r;
    rows3_make(&r);
    herd_registry *reg = open_capped(d.path, 0);
    expect_predictions(reg, &r, 0, want3, v111);
    expect_predictions(reg, &r, 0, want3, v111);
    expect_counts(reg, 0, 6, 6, 0, 0);
    herd_registry_free(reg);

    /* One worker: two would each find the cap free at the start and both
     * keep their model, the second evicting the first. */
    reg = open_capped(d.path, one_model + one_model / 2);
    expect_predictions_on(reg, &r, 0, 1, want3, v111);
    expect_counts(reg, 0, 3, 2, 1, 0);
    herd_registry_free(reg);
    rows3_free(&r);
    regdir_remove(&d);
}

/* A call over more models than the cap holds (one worker: groups g0, g1,
 * g2 in that order) keeps its first and uses the rest once: the next call
 * on the same groups finds g0 (evicting the least recently used to keep
 * each new model, the first call would have evicted g0 for g1, g1 for g2,
 * and the second found nothing).  A later call on other groups still
 * replaces what earlier calls kept. */
static void test_registry_cache_call_over_cap(void **state)
{
    (void)state;
    regdir d;
    size_t one_model = regdir_three(&d);
    herd_registry *reg = open_capped(d.path, one_model + one_model / 2);
    rows3 r;
    rows3_make(&r);
    expect_predictions_on(reg, &r, 0, 1, want3, v111);
    expect_counts(reg, 0, 3, 2, 1, 0);
    expect_predictions_on(reg, &r, 0, 1, want3, v111);
    expect_counts(reg, 1, 5, 4, 1, 0);

    /* A call on g2 alone keeps g2, evicting the earlier calls' g0. */
    rows3 only;
    const char *g2[] = {"g2"};
    rows_make(&only, g2, 1);
    expect_predictions_on(reg, &only, 0, 1, (double[]){3.0, 3.0, 3.0}, v111);
    expect_counts(reg, 1, 6, 4, 1, 1);

    rows3_free(&only);
    rows3_free(&r);
    herd_registry_free(reg);
    regdir_remove(&d);
}

/* The family model serves many groups: it is kept even when the call's
 * models fill the cap, so the groups that fall back to it load it once.
 * Groups g0 (its champion), g3 and g4 (none: the family model), one
 * worker. */
static void test_registry_cache_keeps_family_model(void **state)
{
    (void)state;
    regdir d;
    size_t one_model = regdir_three(&d);
    herd_registry *reg = open_capped(d.path, one_model + one_model / 2);
    put(reg, HERD_FALLBACK_GROUP, 9.0, "champion");
    rows3 r;
    const char *keys[] = {"g0", "g3", "g4"};
    rows_make(&r, keys, 3);
    /* g0 fills the cap; g3 loads the family model and keeps it (g0, the
     * least recently used, goes); g4 finds it. */
    expect_predictions_on(reg, &r, 1, 1, (double[]){1.0, 9.0, 9.0}, v111);
    expect_counts(reg, 1, 2, 0, 1, 1);
    rows3_free(&r);
    herd_registry_free(reg);
    regdir_remove(&d);
}

/* Threads sharing one handle predict at once; every result is right. */
typedef struct reg_worker {
    herd_registry *reg;
    const rows3 *rows;
    int failures;
} reg_worker;

/* herd_registry_predict of family "f" on two threads. */
static int predict_family_f(herd_registry *reg, const herd_groups *gr, herd_frame **out,
                            size_t *without)
{
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "f";
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.threads = 2;
    return herd_registry_predict(reg, gr, &po, &ap, out, without);
}

static void *reg_worker_main(void *arg)
{
    reg_worker *w = arg;
    for (int it = 0; it < 20; it++) {
        herd_frame *out = NULL;
        if (predict_family_f(w->reg, w->rows->groups, &out, NULL)) {
            w->failures++;
            continue;
        }
        for (size_t i = 0; i < 12; i++) {
            double v;
            herd_frame_get_double(out, 0, i, &v);
            if (fabs(v - (double)(1 + i % 3)) > 1e-6) w->failures++;
        }
        herd_frame_free(out);
    }
    return NULL;
}

static void test_registry_cache_threads(void **state)
{
    (void)state;
    regdir d;
    regdir_make(&d);
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(d.path, NULL, &reg));
    put(reg, "g0", 1.0, "champion");
    put(reg, "g1", 2.0, "champion");
    put(reg, "g2", 3.0, "champion");
    rows3 r;
    rows3_make(&r);
    pthread_t t[4];
    reg_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (reg_worker){.reg = reg, .rows = &r};
        assert_int_equal(pthread_create(&t[i], NULL, reg_worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    hd_predcache_stats s = cache_stats(reg);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.hits + s.misses, 4 * 20 * 3);
    /* Concurrent first calls may each load a model once; later ones hit. */
    assert_true(s.misses >= 3 && s.misses <= 12);
    rows3_free(&r);
    herd_registry_free(reg);
    regdir_remove(&d);
}

/* ---- predicting from the registry: wide models, many groups ---------------------- */

/* Register `a` as a version of `group` (family "f") with alias champion. */
static int64_t put_artifact(herd_registry *reg, const herd_artifact *a)
{
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
    EXPECT_OK(herd_batch_commit(b));
    int64_t v = 0;
    EXPECT_OK(herd_batch_version(b, 0, &v, NULL));
    herd_batch_free(b);
    return v;
}

static int64_t put_model(herd_registry *reg, const char *group, const herd_model *m)
{
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "f";
    ao.group = group;
    herd_artifact *a = NULL;
    EXPECT_OK(herd_artifact_from_model(m, &ao, &a));
    int64_t v = put_artifact(reg, a);
    herd_artifact_free(a);
    return v;
}

/* Two groups of the 3-class model, interleaved over 60,000 rows (m0 holds
 * 45,000: more than one block of predictions), and a group without a
 * model: every row's three outputs are the model's, written at its
 * position.  Then one group's champion becomes a one-output model: the
 * call refuses, naming the group, and returns no frame. */
static void test_registry_predict_wide_and_mixed(void **state)
{
    (void)state;
    enum { N = 60000 };
    regdir d;
    regdir_make(&d);
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(d.path, NULL, &reg));
    herd_model *m = data_model("multiclass.ubj");
    int64_t v0 = put_model(reg, "m0", m), v1 = put_model(reg, "m1", m);
    double *x0 = malloc(N * sizeof *x0), *x1 = malloc(N * sizeof *x1), *x = calloc(N, sizeof *x);
    int32_t *promo = malloc(N * sizeof *promo);
    const char **g = malloc(N * sizeof *g);
    uint64_t s = 11;
    for (size_t i = 0; i < N; i++) {
        x0[i] = fit_data_uniform(&s);
        x1[i] = fit_data_uniform(&s);
        promo[i] = fit_data_uniform(&s) < 0.5;
        g[i] = i % 4 == 3 ? "m1" : i % 997 == 5 ? "none" : "m0";
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_frame_new(&f));
    EXPECT_OK(herd_frame_add_column(f, "g", HERD_TYPE_STRING, g, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "x0", HERD_TYPE_FLOAT64, x0, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "x1", HERD_TYPE_FLOAT64, x1, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "promo", HERD_TYPE_INT32, promo, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, N, NULL));
    const char *key = "g";
    herd_groups *gr = NULL;
    EXPECT_OK(herd_groups_new(f, &key, 1, &gr));
    double *want = malloc(N * 3 * sizeof *want);
    EXPECT_OK(herd_model_predict(m, f, NULL, N, 1, want, N * 3));

    size_t without = 0;
    herd_frame *out = NULL;
    EXPECT_OK(predict_family_f(reg, gr, &out, &without));
    assert_int_equal(herd_frame_column_count(out), 5);
    size_t none = 0;
    for (size_t i = 0; i < N; i++) {
        int missing = !strcmp(g[i], "none");
        none += (size_t)missing;
        for (size_t k = 0; k < 3; k++) {
            double v;
            assert_int_equal(herd_frame_get_double(out, k, i, &v), missing ? HERD_MISSING : HERD_OK);
            if (missing) assert_true(isnan(v));
            else if (v != want[i * 3 + k])
                fail_msg("row %zu output %zu: %.17g, want %.17g", i, k, v, want[i * 3 + k]);
        }
        int64_t ver = -1;
        EXPECT_OK(herd_frame_get_int64(out, 3, i, &ver));
        assert_int_equal(ver, missing ? 0 : !strcmp(g[i], "m1") ? v1 : v0);
    }
    assert_true(none > 0);
    assert_int_equal(without, none);
    herd_frame_free(out);

    /* m1's champion now predicts one value per row */
    put(reg, "m1", 2.0, "champion");
    out = (herd_frame *)1;
    assert_int_equal(predict_family_f(reg, gr, &out, &without), HERD_EINVAL);
    assert_null(out);
    ERR_HAS("values per row");
    ERR_HAS("predict them separately");
    ERR_HAS("'m");
    herd_groups_free(gr);
    herd_frame_free(f);
    free(x0), free(x1), free(x), free(promo), free(g), free(want);
    herd_model_free(m);
    herd_registry_free(reg);
    regdir_remove(&d);
}

/* 300 groups whose rows interleave (row i is group i % 300), each with a
 * champion predicting its own index, over two workers: every row gets its
 * group's value and version, a group without a model gets NaN. */
static void test_registry_predict_many_groups(void **state)
{
    (void)state;
    enum { G = 300, PER = 7, N = G * PER };
    regdir d;
    regdir_make(&d);
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(d.path, NULL, &reg));
    char names[G][16];
    const char *g[N];
    double x[N];
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    for (int k = 0; k < G; k++) {
        snprintf(names[k], sizeof names[k], "g%03d", k);
        if (k == 17) continue; /* no model */
        herd_artifact *a = const_artifact(names[k], k);
        EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
        herd_artifact_free(a);
    }
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    for (size_t i = 0; i < N; i++) {
        g[i] = names[i % G];
        x[i] = (double)i;
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_frame_new(&f));
    EXPECT_OK(herd_frame_add_column(f, "g", HERD_TYPE_STRING, g, N, NULL));
    EXPECT_OK(herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, N, NULL));
    const char *key = "g";
    herd_groups *gr = NULL;
    EXPECT_OK(herd_groups_new(f, &key, 1, &gr));
    size_t without = 0;
    herd_frame *out = NULL;
    EXPECT_OK(predict_family_f(reg, gr, &out, &without));
    assert_int_equal(without, PER);
    for (size_t i = 0; i < N; i++) {
        double v;
        int64_t ver = -1;
        int k = (int)(i % G);
        assert_int_equal(herd_frame_get_double(out, 0, i, &v), k == 17 ? HERD_MISSING : HERD_OK);
        EXPECT_OK(herd_frame_get_int64(out, 1, i, &ver));
        if (k == 17) {
            assert_true(isnan(v));
            assert_int_equal(ver, 0);
        } else {
            assert_float_equal(v, k, 1e-4);
            assert_int_equal(ver, 1);
        }
    }
    herd_frame_free(out);
    herd_groups_free(gr);
    herd_frame_free(f);
    herd_registry_free(reg);
    regdir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictor_matches_model_predict),
        cmocka_unit_test(test_predictor_python_expectations),
        cmocka_unit_test(test_predictor_chunks),
        cmocka_unit_test(test_predictor_concurrent),
        cmocka_unit_test(test_predictor_bad_inputs),
        cmocka_unit_test(test_registry_cache_reuse_and_alias_move),
        cmocka_unit_test(test_registry_cache_cap),
        cmocka_unit_test(test_registry_cache_call_over_cap),
        cmocka_unit_test(test_registry_cache_keeps_family_model),
        cmocka_unit_test(test_registry_cache_threads),
        cmocka_unit_test(test_registry_predict_wide_and_mixed),
        cmocka_unit_test(test_registry_predict_many_groups),
    };
    return cmocka_run_group_tests_name("predictor", tests, NULL, NULL);
}
