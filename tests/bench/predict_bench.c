/* predict_bench.c -- serving latency: herd's prepared predictor against a
 * raw XGBoost C loop that keeps its booster.
 *
 *   predict_bench [--rounds K] [--depth D] [--train-rows N] [--repeat R]
 *                 [--nthread T]
 *
 * Trains one model with herd_fit (default 200 trees of depth 6 on 6
 * features: a model of about 0.5-1 MB), then times, interleaved (the order
 * of the contenders turns every repetition, so that noise on a shared
 * machine hits each alike), with the same nthread:
 *   raw        XGBoosterPredictFromDense on a booster loaded once, float32
 *              rows, the configuration a constant, the array interface
 *              written per call (as a server writes it for each request),
 *              the results copied out;
 *   frame      herd_predictor_predict on frame rows (the frame is built
 *              once; a one-row call names its row);
 *   dense      herd_predictor_predict_dense on float64 rows;
 * for one row (a different row each call) and for 1,000 rows, R
 * repetitions each (one-row calls are timed 20 at a time); and, for
 * contrast, herd_model_predict of one row (which loads the booster on
 * every call), fewer times.  Each sample records wall time and the calling
 * thread's CPU time (with nthread 1 XGBoost predicts on that thread; on a
 * shared machine the CPU time leaves out what other processes took).
 * Prints the medians, then one JSON line (the last line of the output)
 * with `one_row_vs_raw` and `rows_1000_vs_raw`: the frame path's median
 * wall time over raw's (the dense path's and the CPU-time ratios are there
 * too).  See docs/performance.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xgboost/c_api.h>

#include "herd.h"

#define NF 6
#define NBATCH 1000
#define ONE_ROW_CALLS 20 /* one-row calls per timed sample */

static const char *const feature_names[NF] = {"f0", "f1", "f2", "f3", "f4", "f5"};

typedef struct bench_opts {
    int rounds, depth, repeat, nthread;
    size_t train_rows;
} bench_opts;

static void die(const char *what)
{
    fprintf(stderr, "predict_bench: %s: %s\n", what, herd_last_error());
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: predict_bench [--rounds K] [--depth D] [--train-rows N] "
                    "[--repeat R] [--nthread T]\n");
    exit(2);
}

static long arg_long(int argc, char **argv, int *i, long lo, long hi)
{
    if (*i + 1 >= argc) usage();
    char *end = NULL;
    long v = strtol(argv[++*i], &end, 10);
    if (!end || *end || v < lo || v > hi) {
        fprintf(stderr, "predict_bench: %s must be %ld..%ld\n", argv[*i - 1], lo, hi);
        exit(2);
    }
    return v;
}

static bench_opts parse(int argc, char **argv)
{
    bench_opts o = {.rounds = 200, .depth = 6, .repeat = 400, .nthread = 1,
                    .train_rows = 20000};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds")) o.rounds = (int)arg_long(argc, argv, &i, 1, 10000);
        else if (!strcmp(argv[i], "--depth")) o.depth = (int)arg_long(argc, argv, &i, 1, 16);
        else if (!strcmp(argv[i], "--repeat")) o.repeat = (int)arg_long(argc, argv, &i, 5, 100000);
        else if (!strcmp(argv[i], "--nthread")) o.nthread = (int)arg_long(argc, argv, &i, 1, 256);
        else if (!strcmp(argv[i], "--train-rows"))
            o.train_rows = (size_t)arg_long(argc, argv, &i, 1000, 10000000);
        else usage();
    }
    return o;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: with nthread 1 XGBoost predicts on it,
 * so this is the call's work without the time other processes took. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_state = 20261207;

static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* n rows of NF uniform features, column-major (one array per feature), and
 * a label with interactions and a step, so that trees grow deep. */
static void make_data(size_t n, double **cols, double *y)
{
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < NF; j++) cols[j][i] = uniform();
        double *x = (double[NF]){0};
        for (int j = 0; j < NF; j++) x[j] = cols[j][i];
        y[i] = sin(6 * x[0]) + 2 * x[1] * x[2] + (x[3] > 0.5 ? 1.5 : 0) + x[4] * x[4] -
               0.5 * x[5] + 0.3 * (uniform() - 0.5);
    }
}

static herd_frame *frame_of(size_t n, double **cols, const double *y)
{
    herd_frame *f = NULL;
    if (herd_frame_new(&f)) die("herd_frame_new");
    for (int j = 0; j < NF; j++)
        if (herd_frame_add_column(f, feature_names[j], HERD_TYPE_FLOAT64, cols[j], n, NULL))
            die("herd_frame_add_column");
    if (y && herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, y, n, NULL))
        die("herd_frame_add_column");
    return f;
}

static herd_model *train(const bench_opts *o)
{
    size_t n = o->train_rows;
    double *cols[NF], *y = malloc(n * sizeof *y);
    for (int j = 0; j < NF; j++) cols[j] = malloc(n * sizeof **cols);
    make_data(n, cols, y);
    herd_frame *f = frame_of(n, cols, y);
    int64_t *g = calloc(n, sizeof *g);
    if (herd_frame_add_column(f, "g", HERD_TYPE_INT64, g, n, NULL)) die("group column");
    const char *key = "g";
    herd_groups *groups = NULL;
    if (herd_groups_new(f, &key, 1, &groups)) die("herd_groups_new");
    char depth[8];
    snprintf(depth, sizeof depth, "%d", o->depth);
    const char *pn[] = {"max_depth", "eta", "tree_method"};
    const char *pv[] = {depth, "0.1", "hist"};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = feature_names;
    fo.n_features = NF;
    fo.label = "y";
    fo.rounds = o->rounds;
    fo.valid_fraction = 0;
    fo.param_names = pn;
    fo.param_values = pv;
    fo.n_params = 3;
    herd_fit_result *set = NULL;
    herd_model *m = NULL;
    if (herd_fit(groups, &fo, NULL, &set)) die("herd_fit");
    if (herd_fit_result_model(set, "0", &m)) die("herd_fit_result_model");
    herd_fit_result_free(set);
    herd_groups_free(groups);
    herd_frame_free(f);
    free(g);
    free(y);
    for (int j = 0; j < NF; j++) free(cols[j]);
    return m;
}

/* ---- the raw loop: what a C server written on XGBoost alone does ----- */

static const char raw_config[] =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

static void raw_predict(BoosterHandle b, const float *x, size_t n, float *out)
{
    char arr[192];
    snprintf(arr, sizeof arr,
             "{\"data\": [%llu, true], \"shape\": [%zu, %d], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, NF);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDense(b, arr, raw_config, NULL, &shape, &dim, &res)) {
        fprintf(stderr, "predict_bench: XGBoost: %s\n", XGBGetLastError());
        exit(1);
    }
    memcpy(out, res, n * sizeof *out);
}

/* ---- the contenders ------------------------------------------------------ */

enum { RAW, FRAME, DENSE, NCONT };
static const char *const cont_name[NCONT] = {"raw XGBoost loop", "herd predictor (frame)",
                                             "herd predictor (dense)"};

typedef struct bench {
    BoosterHandle raw;
    herd_predictor *pred;
    herd_frame *frame;    /* NBATCH rows */
    float *xf;            /* the same rows, row-major float32 */
    double *xd;           /* ... and float64 */
    double out[NBATCH];
    float outf[NBATCH];
    size_t next_row;      /* one-row calls walk the rows */
} bench;

/* Seconds per call of contender c predicting `n` rows (one call, or
 * ONE_ROW_CALLS one-row calls averaged): wall time, and the calling
 * thread's CPU time into *cpu. */
static double run_once(bench *b, int c, size_t n, double *cpu)
{
    size_t calls = n == 1 ? ONE_ROW_CALLS : 1;
    double c0 = thread_cpu_s(), t0 = now_s();
    for (size_t k = 0; k < calls; k++) {
        size_t r = n == 1 ? b->next_row++ % NBATCH : 0;
        switch (c) {
        case RAW:
            raw_predict(b->raw, b->xf + r * NF, n, b->outf);
            break;
        case FRAME:
            if (herd_predictor_predict(b->pred, b->frame, n == 1 ? &r : NULL, n, b->out,
                                       NBATCH))
                die("herd_predictor_predict");
            break;
        case DENSE:
            if (herd_predictor_predict_dense(b->pred, b->xd + r * NF, n, NF, b->out, NBATCH))
                die("herd_predictor_predict_dense");
            break;
        }
    }
    double wall = (now_s() - t0) / (double)calls;
    *cpu = (thread_cpu_s() - c0) / (double)calls;
    return wall;
}

/* The medians of `repeat` interleaved samples of every contender: wall
 * time into med, thread CPU time into cpu_med. */
static void measure(bench *b, size_t n, int repeat, double med[NCONT], double cpu_med[NCONT])
{
    double *s[NCONT], *cs[NCONT], unused;
    for (int c = 0; c < NCONT; c++) {
        s[c] = malloc((size_t)repeat * sizeof **s);
        cs[c] = malloc((size_t)repeat * sizeof **cs);
    }
    for (int c = 0; c < NCONT; c++) run_once(b, c, n, &unused); /* warm caches */
    for (int r = 0; r < repeat; r++)
        for (int k = 0; k < NCONT; k++) {
            int c = (r + k) % NCONT;
            s[c][r] = run_once(b, c, n, &cs[c][r]);
        }
    for (int c = 0; c < NCONT; c++) {
        med[c] = median(s[c], (size_t)repeat);
        cpu_med[c] = median(cs[c], (size_t)repeat);
        free(s[c]);
        free(cs[c]);
    }
}

/* The old way, for contrast: herd_model_predict loads a booster per call. */
static double model_predict_one_row(const herd_model *m, const herd_frame *f, int nthread,
                                    int repeat)
{
    double *s = malloc((size_t)repeat * sizeof *s), out[1];
    for (int r = 0; r < repeat; r++) {
        size_t row = (size_t)r % NBATCH;
        double t0 = now_s();
        if (herd_model_predict(m, f, &row, 1, nthread, out, 1)) die("herd_model_predict");
        s[r] = now_s() - t0;
    }
    double med = median(s, (size_t)repeat);
    free(s);
    return med;
}

/* herd and raw must agree before their times mean anything. */
static void check_agreement(bench *b)
{
    raw_predict(b->raw, b->xf, NBATCH, b->outf);
    if (herd_predictor_predict(b->pred, b->frame, NULL, NBATCH, b->out, NBATCH))
        die("herd_predictor_predict");
    for (size_t i = 0; i < NBATCH; i++)
        if (b->out[i] != (double)b->outf[i]) {
            fprintf(stderr, "predict_bench: row %zu: herd %.9g, raw %.9g\n", i, b->out[i],
                    (double)b->outf[i]);
            exit(1);
        }
}

int main(int argc, char **argv)
{
    bench_opts o = parse(argc, argv);
    double t0 = now_s();
    herd_model *m = train(&o);
    double train_s = now_s() - t0;
    void *ubj = NULL;
    size_t ubj_len = 0;
    if (herd_model_save(m, HERD_MODEL_UBJSON, &ubj, &ubj_len)) die("herd_model_save");

    bench b = {0};
    char nt[16];
    snprintf(nt, sizeof nt, "%d", o.nthread);
    if (XGBoosterCreate(NULL, 0, &b.raw) || XGBoosterLoadModelFromBuffer(b.raw, ubj, ubj_len) ||
        XGBoosterSetParam(b.raw, "nthread", nt)) {
        fprintf(stderr, "predict_bench: XGBoost: %s\n", XGBGetLastError());
        return 1;
    }
    herd_predictor_options po;
    herd_predictor_options_init(&po, HERD_PREDICTOR_OPTIONS_VERSION);
    po.nthread = o.nthread;
    t0 = now_s();
    if (herd_predictor_new(m, &po, &b.pred)) die("herd_predictor_new");
    double prepare_s = now_s() - t0;

    double *cols[NF];
    for (int j = 0; j < NF; j++) cols[j] = malloc(NBATCH * sizeof **cols);
    double *y = malloc(NBATCH * sizeof *y);
    make_data(NBATCH, cols, y);
    b.frame = frame_of(NBATCH, cols, NULL);
    b.xf = malloc(NBATCH * NF * sizeof *b.xf);
    b.xd = malloc(NBATCH * NF * sizeof *b.xd);
    for (size_t i = 0; i < NBATCH; i++)
        for (int j = 0; j < NF; j++) {
            b.xd[i * NF + j] = cols[j][i];
            b.xf[i * NF + j] = (float)cols[j][i];
        }
    check_agreement(&b);

    double one[NCONT], batch[NCONT], one_cpu[NCONT], batch_cpu[NCONT];
    int batch_repeat = o.repeat / 4 > 5 ? o.repeat / 4 : 5;
    measure(&b, 1, o.repeat, one, one_cpu);
    measure(&b, NBATCH, batch_repeat, batch, batch_cpu);
    int old_repeat = o.repeat / 10 > 5 ? o.repeat / 10 : 5;
    double old_one = model_predict_one_row(m, b.frame, o.nthread, old_repeat);

    printf("model: %d trees of depth %d on %d features, %zu bytes (UBJSON), trained in "
           "%.1f s; predictor prepared in %.2f ms; nthread %d\n",
           o.rounds, o.depth, NF, ubj_len, train_s, prepare_s * 1e3, o.nthread);
    printf("%-26s %14s %14s %14s %14s\n", "median (us)", "one row", "1000 rows",
           "one row cpu", "1000 rows cpu");
    for (int c = 0; c < NCONT; c++)
        printf("%-26s %14.2f %14.1f %14.2f %14.1f\n", cont_name[c], one[c] * 1e6,
               batch[c] * 1e6, one_cpu[c] * 1e6, batch_cpu[c] * 1e6);
    printf("%-26s %14.2f %14s\n", "herd_model_predict (old)", old_one * 1e6, "-");
    printf("{\"bench\": \"predict_bench\", \"trees\": %d, \"depth\": %d, \"features\": %d, "
           "\"model_bytes\": %zu, \"nthread\": %d, \"repeat_one_row\": %d, "
           "\"repeat_rows_1000\": %d, ",
           o.rounds, o.depth, NF, ubj_len, o.nthread, o.repeat, batch_repeat);
    printf("\"raw_one_row_us\": %.3f, \"herd_one_row_us\": %.3f, \"herd_dense_one_row_us\": %.3f, "
           "\"raw_rows_1000_us\": %.1f, \"herd_rows_1000_us\": %.1f, "
           "\"herd_dense_rows_1000_us\": %.1f, \"model_predict_one_row_us\": %.1f, ",
           one[RAW] * 1e6, one[FRAME] * 1e6, one[DENSE] * 1e6, batch[RAW] * 1e6,
           batch[FRAME] * 1e6, batch[DENSE] * 1e6, old_one * 1e6);
    printf("\"raw_one_row_cpu_us\": %.3f, \"herd_one_row_cpu_us\": %.3f, "
           "\"raw_rows_1000_cpu_us\": %.1f, \"herd_rows_1000_cpu_us\": %.1f, ",
           one_cpu[RAW] * 1e6, one_cpu[FRAME] * 1e6, batch_cpu[RAW] * 1e6,
           batch_cpu[FRAME] * 1e6);
    printf("\"one_row_cpu_vs_raw\": %.3f, \"rows_1000_cpu_vs_raw\": %.3f, ",
           one_cpu[FRAME] / one_cpu[RAW], batch_cpu[FRAME] / batch_cpu[RAW]);
    printf("\"one_row_vs_raw\": %.3f, \"rows_1000_vs_raw\": %.3f, "
           "\"one_row_dense_vs_raw\": %.3f, \"rows_1000_dense_vs_raw\": %.3f, "
           "\"model_predict_one_row_vs_raw\": %.1f}\n",
           one[FRAME] / one[RAW], batch[FRAME] / batch[RAW], one[DENSE] / one[RAW],
           batch[DENSE] / batch[RAW], old_one / one[RAW]);

    herd_predictor_free(b.pred);
    XGBoosterFree(b.raw);
    herd_frame_free(b.frame);
    herd_free(ubj);
    herd_model_free(m);
    free(b.xf);
    free(b.xd);
    free(y);
    for (int j = 0; j < NF; j++) free(cols[j]);
    return 0;
}
