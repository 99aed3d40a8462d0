/* fit_bench.c -- herd_fit against its peers, on the same data, in one run.
 *
 *   fit_bench --workload many|skewed --groups N [--rows R] [--rounds K]
 *             [--threads T] [--repeat M] [--keep-data] [--peer PATH]
 *
 * The data is written by tests/bench/peer.py (the Python peer, run with
 * Debian's /usr/bin/python3), read with herd_frame_read_csv and
 * grouped by "group".  Then, `repeat` times each, interleaved (each repeat
 * starting with a different contender) so that noise on a shared machine
 * hits every contender alike, it times:
 *   (a) herd_fit with exactly the baseline's XGBoost parameters;
 *   (b) herd_fit with herd's own defaults (tree_method chosen per group);
 *   (c) peer.py --jobs T (pandas groupby-apply + joblib), its own timer;
 *   (d) a raw loop over the XGBoost C API on T pthreads doing what the
 *       baseline does per group: the floor herd's overhead is measured
 *       against.
 * and prints wall-time medians, then one JSON line (the last line of the
 * output).  The CPU time of the in-process contenders is printed too:
 * CPU / wall near T says the machine really gave this process T cores.
 * For --workload skewed it also runs (a) once on one thread and reports
 * herd's (and the raw loop's) T-thread wall time over the scheduling bound
 * max(total work / T, largest group).  See docs/performance.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include "herd.h"

extern char **environ;

#define PYTHON "/usr/bin/python3"
#define NF 5
#define MAX_REPEAT 100

static const char *const feature_names[NF] = {"f0", "f1", "f2", "f3", "f4"};

/* ---- options ------------------------------------------------------------- */

typedef struct bench_opts {
    const char *workload;
    long groups, rows, rounds;
    int threads, repeat, keep_data;
    const char *peer;
} bench_opts;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: fit_bench --workload many|skewed --groups N [--rows R] [--rounds K]\n"
            "                 [--threads T] [--repeat M] [--keep-data] [--peer PATH]\n"
            "defaults: many, 2000 groups, 200 rows, 50 rounds, threads = the CPUs this\n"
            "process may use, repeat 3.  --peer (or env HERD_BENCH_PEER) names the\n"
            "Python peer; by default the source tree's tests/bench/peer.py.\n");
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "fit_bench: %s needs an integer in %ld..%ld (got '%s')\n", opt, lo, hi,
                v ? v : "nothing");
        exit(2);
    }
    return x;
}

static void parse_args(int argc, char **argv, bench_opts *o)
{
    o->workload = "many";
    o->groups = 2000;
    o->rows = 200;
    o->rounds = 50;
    o->threads = herd_default_threads();
    o->repeat = 3;
    o->keep_data = 0;
    o->peer = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--workload") == 0 && v) {
            if (strcmp(v, "many") && strcmp(v, "skewed")) {
                fprintf(stderr, "fit_bench: --workload is 'many' or 'skewed' (got '%s')\n", v);
                exit(2);
            }
            o->workload = v, i++;
        } else if (strcmp(a, "--groups") == 0) {
            o->groups = parse_long(a, v, 1, 100000000), i++;
        } else if (strcmp(a, "--rows") == 0) {
            o->rows = parse_long(a, v, 1, 100000000), i++;
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = parse_long(a, v, 1, 1000000), i++;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = (int)parse_long(a, v, 1, 1024), i++;
        } else if (strcmp(a, "--repeat") == 0) {
            o->repeat = (int)parse_long(a, v, 1, MAX_REPEAT), i++;
        } else if (strcmp(a, "--peer") == 0 && v) {
            o->peer = v, i++;
        } else if (strcmp(a, "--keep-data") == 0) {
            o->keep_data = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "fit_bench: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
}

/* ---- small helpers ------------------------------------------------------- */

static char data_path[PATH_MAX];
static int keep_data_file;

static void cleanup_data(void)
{
    if (data_path[0] && !keep_data_file) unlink(data_path);
}

/* Ctrl-C or kill during a long run still removes the data file. */
static void on_signal(int sig)
{
    if (data_path[0] && !keep_data_file) unlink(data_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this process (all threads): less sensitive than wall time to
 * other processes on a shared machine, for the in-process contenders. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_REPEAT];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double vmin(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static double vmax(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* A failed herd call ends the benchmark with herd's own message. */
static void check(int rc, const char *what)
{
    if (rc == HERD_OK) return;
    fprintf(stderr, "fit_bench: %s failed: %s: %s\n", what, herd_status_str(rc),
            herd_last_error());
    exit(1);
}

/* A getter's status: a value, or a missing one (NaN, NULL), never an error. */
static void check_cell(int rc, const char *what)
{
    if (rc != HERD_MISSING) check(rc, what);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fit_bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- locating the Python peer ------------------------------------------- */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The peer is --peer PATH, else env HERD_BENCH_PEER, else the source tree's
 * tests/bench/peer.py (HERD_BENCH_PEER_DEFAULT, set by meson). */
static void find_peer(const char *given, char *out, size_t size)
{
    const char *env = getenv("HERD_BENCH_PEER");
    const char *p = given ? given : env && *env ? env : HERD_BENCH_PEER_DEFAULT;
    const char *from = given ? "--peer" : env && *env ? "env HERD_BENCH_PEER"
                                                       : "the source tree";
    char resolved[PATH_MAX];
    if (is_file(p) && realpath(p, resolved) && strlen(resolved) < size) {
        memcpy(out, resolved, strlen(resolved) + 1);
        return;
    }
    fprintf(stderr,
            "fit_bench: the Python peer is not at '%s' (from %s); give the path of "
            "tests/bench/peer.py with --peer PATH or env HERD_BENCH_PEER\n",
            p, from);
    exit(2);
}

/* ---- child processes ----------------------------------------------------- */

/* Run argv (posix_spawn: no fork of a process that has started libgomp's
 * threads) and wait.  With `out`, its stdout is captured into a new string;
 * otherwise it is inherited.  Returns the exit status, or -1. */
static int run_child(char *const argv[], char **out)
{
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out) {
        if (pipe2(fds, O_CLOEXEC) != 0) {
            perror("fit_bench: pipe");
            exit(1);
        }
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    }
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out) close(fds[1]);
    if (err) {
        fprintf(stderr, "fit_bench: cannot run %s: %s\n", argv[0], strerror(err));
        if (out) close(fds[0]);
        return -1;
    }
    if (out) {
        size_t cap = 4096, len = 0;
        char *buf = xmalloc(cap);
        for (;;) {
            if (len + 1 >= cap) {
                cap *= 2;
                char *nb = realloc(buf, cap);
                if (!nb) {
                    fprintf(stderr, "fit_bench: out of memory\n");
                    exit(1);
                }
                buf = nb;
            }
            ssize_t r = read(fds[0], buf + len, cap - len - 1);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            len += (size_t)r;
        }
        buf[len] = '\0';
        close(fds[0]);
        *out = buf;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_data(const char *peer, const bench_opts *o)
{
    char groups[32], rows[32];
    snprintf(groups, sizeof groups, "%ld", o->groups);
    snprintf(rows, sizeof rows, "%ld", o->rows);
    char *argv[] = {PYTHON, (char *)peer, "--workload", (char *)o->workload,
                    "--groups", groups, "--rows", rows, "--write-csv", data_path,
                    "--no-fit", NULL};
    int st = run_child(argv, NULL);
    if (st != 0) {
        fprintf(stderr,
                "fit_bench: %s %s ... --write-csv failed (exit %d); it needs Debian's "
                "python3-numpy, python3-pandas, python3-xgboost, python3-joblib\n",
                PYTHON, peer, st);
        exit(1);
    }
}

typedef struct baseline_result {
    double seconds, models_per_s, rmse_mean;
} baseline_result;

static void run_baseline(const char *peer, const bench_opts *o, baseline_result *r)
{
    char groups[32], rows[32], rounds[32], jobs[32];
    snprintf(groups, sizeof groups, "%ld", o->groups);
    snprintf(rows, sizeof rows, "%ld", o->rows);
    snprintf(rounds, sizeof rounds, "%ld", o->rounds);
    snprintf(jobs, sizeof jobs, "%d", o->threads);
    char *argv[] = {PYTHON, (char *)peer, "--workload", (char *)o->workload,
                    "--groups", groups, "--rows", rows, "--rounds", rounds,
                    "--jobs", jobs, NULL};
    char *text = NULL;
    int st = run_child(argv, &text);
    if (st != 0) {
        fprintf(stderr, "fit_bench: %s %s failed (exit %d); its output:\n%s\n", PYTHON,
                peer, st, text ? text : "");
        exit(1);
    }
    /* The JSON line is the last line that starts with '{'. */
    char *line = NULL;
    for (char *p = text; p && *p;) {
        if (*p == '{') line = p;
        p = strchr(p, '\n');
        if (p) p++;
    }
    cJSON *j = line ? cJSON_Parse(line) : NULL;
    const cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "seconds") : NULL;
    const cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "models_per_s") : NULL;
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "rmse_mean") : NULL;
    if (!cJSON_IsNumber(s) || !cJSON_IsNumber(m)) {
        fprintf(stderr, "fit_bench: no JSON result line from the peer; its output:\n%s\n",
                text);
        exit(1);
    }
    r->seconds = s->valuedouble;
    r->models_per_s = m->valuedouble;
    r->rmse_mean = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    cJSON_Delete(j);
    free(text);
}

/* ---- herd ---------------------------------------------------------------- */

typedef struct herd_result {
    double seconds;     /* wall time of herd_fit */
    double cpu;         /* CPU time of herd_fit, all threads */
    double rmse_mean;   /* mean valid_metric over ok groups */
    size_t ok, failed, skipped;
    double work_s;      /* sum of per-group seconds */
    double largest_s;   /* seconds of the largest group */
    char methods[160];  /* tree_method counts, e.g. "exact 1990, hist 10" */
} herd_result;

static size_t report_col(const herd_frame *rep, const char *name)
{
    size_t c = 0;
    check(herd_frame_find(rep, name, &c), "herd_frame_find on the fit report");
    return c;
}

/* (a) with_params: the baseline's parameters; (b) herd's defaults. */
static void run_herd(const herd_groups *groups, int with_params, int threads, long rounds,
                     herd_result *r)
{
    static const char *const names[] = {"objective", "tree_method", "max_depth", "eta",
                                        "seed"};
    static const char *const values[] = {"reg:squarederror", "hist", "6", "0.3", "0"};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = feature_names;
    fo.n_features = NF;
    fo.label = "label";
    if (with_params) {
        fo.param_names = names;
        fo.param_values = values;
        fo.n_params = sizeof names / sizeof *names;
    }
    fo.rounds = (int)rounds;
    fo.split = HERD_SPLIT_LAST;
    fo.valid_fraction = 0.2;
    fo.seed = 0;
    fo.min_rows = 2; /* train every group the baseline trains */
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = threads;

    herd_fit_result *set = NULL;
    double c0 = cpu_s(), t0 = now_s();
    int rc = herd_fit(groups, &fo, &ao, &set);
    r->seconds = now_s() - t0;
    r->cpu = cpu_s() - c0;
    check(rc, "herd_fit");

    herd_frame *rep = NULL;
    check(herd_fit_result_report(set, &rep), "herd_fit_result_report");
    size_t c_status = report_col(rep, "status"), c_metric = report_col(rep, "valid_metric");
    size_t c_secs = report_col(rep, "seconds"), c_rows = report_col(rep, "rows");
    size_t c_tm = report_col(rep, "tree_method");
    size_t n = herd_frame_row_count(rep);
    double sum = 0, largest_rows = -1;
    size_t nmetric = 0;
    struct {
        const char *name;
        size_t count;
    } tm[8];
    size_t ntm = 0;
    r->ok = r->failed = r->skipped = 0;
    r->work_s = r->largest_s = 0;
    const char *first_failure = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *status = NULL, *method = NULL;
        double v = NAN, s = 0, rows = 0;
        check_cell(herd_frame_get_string(rep, c_status, i, &status), "reading the report");
        check_cell(herd_frame_get_double(rep, c_metric, i, &v), "reading the report");
        check_cell(herd_frame_get_double(rep, c_secs, i, &s), "reading the report");
        check_cell(herd_frame_get_double(rep, c_rows, i, &rows), "reading the report");
        check_cell(herd_frame_get_string(rep, c_tm, i, &method), "reading the report");
        r->work_s += s;
        if (rows > largest_rows) largest_rows = rows, r->largest_s = s;
        if (status && strcmp(status, "ok") == 0) {
            r->ok++;
            if (!isnan(v)) sum += v, nmetric++;
            const char *m = method ? method : "(unset)";
            size_t k = 0;
            while (k < ntm && strcmp(tm[k].name, m)) k++;
            if (k == ntm && ntm < 8) tm[ntm].name = m, tm[ntm].count = 0, ntm++;
            if (k < ntm) tm[k].count++;
        } else if (status && strcmp(status, "skipped") == 0) {
            r->skipped++;
        } else {
            r->failed++;
            if (!first_failure) {
                size_t c_msg = report_col(rep, "message");
                herd_frame_get_string(rep, c_msg, i, &first_failure);
                if (!first_failure) first_failure = status;
            }
        }
    }
    r->rmse_mean = nmetric ? sum / (double)nmetric : NAN;
    size_t len = 0;
    r->methods[0] = '\0';
    for (size_t k = 0; k < ntm && len < sizeof r->methods; k++) {
        int w = snprintf(r->methods + len, sizeof r->methods - len, "%s%s %zu", k ? ", " : "",
                         tm[k].name, tm[k].count);
        if (w > 0) len += (size_t)w;
    }
    if (r->failed) {
        fprintf(stderr, "fit_bench: herd_fit: %zu groups failed; first: %s\n", r->failed,
                first_failure ? first_failure : "?");
        exit(1);
    }
    herd_frame_free(rep);
    herd_fit_result_free(set);
}

/* ---- (d) the raw loop over the XGBoost C API ----------------------------- */

typedef struct colref {
    const void *data;
    size_t stride;
    int type;
} colref;

static double col_get(const colref *c, size_t row)
{
    const char *p = (const char *)c->data + row * c->stride;
    switch (c->type) {
    case HERD_TYPE_FLOAT32: {
        float v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case HERD_TYPE_FLOAT64: {
        double v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case HERD_TYPE_INT32: {
        int32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    default: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return (double)v;
    }
    }
}

typedef struct raw_job {
    colref feat[NF], label;
    size_t ngroups;
    const size_t **rows; /* per group, precomputed before timing */
    size_t *nrows;
    size_t *order;       /* group indices, largest first */
    int rounds;
    atomic_size_t next;
    double *rmse;        /* per group (NaN without validation rows) */
    void **ubj;          /* per group: the saved model, copied */
    atomic_int failed;
    char error[512];
    pthread_mutex_t error_lock;
} raw_job;

static void raw_log(const char *msg)
{
    (void)msg;
}

static void raw_fail(raw_job *j, size_t g, const char *what)
{
    pthread_mutex_lock(&j->error_lock);
    if (!atomic_load(&j->failed))
        snprintf(j->error, sizeof j->error, "group %zu: %s: %s", g, what, XGBGetLastError());
    atomic_store(&j->failed, 1);
    pthread_mutex_unlock(&j->error_lock);
}

#define RAW_XGB(call, what)                                                        \
    do {                                                                           \
        if ((call) != 0) {                                                         \
            raw_fail(j, g, what);                                                  \
            goto done;                                                             \
        }                                                                          \
    } while (0)

/* What peer.py's train_group does, through the C API. */
static void raw_group(raw_job *j, size_t g)
{
    const size_t *rows = j->rows[g];
    size_t n = j->nrows[g];
    size_t cut = (size_t)((double)n * 0.8); /* max(1, int(len * 0.8)) */
    if (cut < 1) cut = 1;
    float *x = xmalloc(n * NF * sizeof *x), *y = xmalloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < NF; f++) x[i * NF + f] = (float)col_get(&j->feat[f], rows[i]);
        y[i] = (float)col_get(&j->label, rows[i]);
    }
    DMatrixHandle dtrain = NULL, dvalid = NULL;
    BoosterHandle b = NULL;
    j->rmse[g] = NAN;
    RAW_XGB(XGDMatrixCreateFromMat_omp(x, cut, NF, NAN, &dtrain, 1), "train DMatrix");
    RAW_XGB(XGDMatrixSetFloatInfo(dtrain, "label", y, cut), "label");
    RAW_XGB(XGBoosterCreate(&dtrain, 1, &b), "booster");
    RAW_XGB(XGBoosterSetParam(b, "objective", "reg:squarederror"), "objective");
    RAW_XGB(XGBoosterSetParam(b, "tree_method", "hist"), "tree_method");
    RAW_XGB(XGBoosterSetParam(b, "max_depth", "6"), "max_depth");
    RAW_XGB(XGBoosterSetParam(b, "eta", "0.3"), "eta");
    RAW_XGB(XGBoosterSetParam(b, "seed", "0"), "seed");
    RAW_XGB(XGBoosterSetParam(b, "nthread", "1"), "nthread");
    for (int it = 0; it < j->rounds; it++)
        RAW_XGB(XGBoosterUpdateOneIter(b, it, dtrain), "training");
    bst_ulong len = 0;
    const char *buf = NULL;
    RAW_XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"ubj\"}", &len, &buf), "saving");
    j->ubj[g] = xmalloc(len);
    memcpy(j->ubj[g], buf, len);
    if (cut < n) {
        RAW_XGB(XGDMatrixCreateFromMat_omp(x + cut * NF, n - cut, NF, NAN, &dvalid, 1),
                "valid DMatrix");
        const char *cfg = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                          "\"iteration_end\": 0, \"strict_shape\": false}";
        const bst_ulong *shape = NULL;
        bst_ulong dim = 0;
        const float *pred = NULL;
        RAW_XGB(XGBoosterPredictFromDMatrix(b, dvalid, cfg, &shape, &dim, &pred), "predict");
        double ss = 0;
        for (size_t i = cut; i < n; i++) {
            double d = (double)pred[i - cut] - (double)y[i];
            ss += d * d;
        }
        j->rmse[g] = sqrt(ss / (double)(n - cut));
    }
done:
    if (b) XGBoosterFree(b);
    if (dtrain) XGDMatrixFree(dtrain);
    if (dvalid) XGDMatrixFree(dvalid);
    free(x);
    free(y);
}

static void *raw_worker(void *arg)
{
    raw_job *j = arg;
    XGBRegisterLogCallback(raw_log);
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->ngroups || atomic_load(&j->failed)) break;
        raw_group(j, j->order[k]);
    }
    return NULL;
}

static const size_t *cmp_sizes;

static int cmp_largest_first(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (cmp_sizes[x] != cmp_sizes[y]) return cmp_sizes[x] > cmp_sizes[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static void raw_prepare(raw_job *j, const herd_groups *groups, int rounds)
{
    const herd_frame *f = herd_groups_frame(groups);
    memset(j, 0, sizeof *j);
    for (int k = 0; k <= NF; k++) {
        const char *name = k < NF ? feature_names[k] : "label";
        colref *c = k < NF ? &j->feat[k] : &j->label;
        size_t col = 0;
        const uint8_t *mask = NULL;
        check(herd_frame_find(f, name, &col), "herd_frame_find");
        check(herd_frame_column_data(f, col, &c->data, &c->stride, &mask),
              "herd_frame_column_data");
        c->type = herd_frame_column_type(f, col);
        if (c->type == HERD_TYPE_STRING || mask) {
            fprintf(stderr, "fit_bench: column '%s' is not a plain numeric column\n", name);
            exit(1);
        }
    }
    j->ngroups = herd_groups_count(groups);
    j->rows = xmalloc(j->ngroups * sizeof *j->rows);
    j->nrows = xmalloc(j->ngroups * sizeof *j->nrows);
    j->order = xmalloc(j->ngroups * sizeof *j->order);
    j->rmse = xmalloc(j->ngroups * sizeof *j->rmse);
    j->ubj = xmalloc(j->ngroups * sizeof *j->ubj);
    memset(j->ubj, 0, j->ngroups * sizeof *j->ubj);
    for (size_t g = 0; g < j->ngroups; g++) {
        check(herd_groups_rows(groups, g, &j->rows[g], &j->nrows[g]), "herd_groups_rows");
        j->order[g] = g;
    }
    cmp_sizes = j->nrows;
    qsort(j->order, j->ngroups, sizeof *j->order, cmp_largest_first);
    j->rounds = rounds;
    pthread_mutex_init(&j->error_lock, NULL);
}

static void raw_release(raw_job *j)
{
    for (size_t g = 0; g < j->ngroups; g++) free(j->ubj[g]), j->ubj[g] = NULL;
}

static void raw_destroy(raw_job *j)
{
    raw_release(j);
    free(j->rows), free(j->nrows), free(j->order), free(j->rmse), free(j->ubj);
    pthread_mutex_destroy(&j->error_lock);
}

/* Returns the wall time; the models are kept until raw_release (as herd's
 * fit result keeps them), outside the timed region. */
static double raw_run(raw_job *j, int threads, double *rmse_mean, double *cpu)
{
    pthread_t tids[1024];
    atomic_store(&j->next, 0);
    atomic_store(&j->failed, 0);
    double c0 = cpu_s(), t0 = now_s();
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, raw_worker, j) != 0) break;
    if (started == 0) {
        fprintf(stderr, "fit_bench: cannot start threads\n");
        exit(1);
    }
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
    double s = now_s() - t0;
    *cpu = cpu_s() - c0;
    if (atomic_load(&j->failed)) {
        fprintf(stderr, "fit_bench: raw XGBoost loop failed: %s\n", j->error);
        exit(1);
    }
    double sum = 0;
    size_t n = 0;
    for (size_t g = 0; g < j->ngroups; g++)
        if (!isnan(j->rmse[g])) sum += j->rmse[g], n++;
    *rmse_mean = n ? sum / (double)n : NAN;
    raw_release(j);
    return s;
}

/* ---- main ----------------------------------------------------------------- */

static void json_num(FILE *out, const char *name, double v, int last)
{
    if (isfinite(v)) fprintf(out, "\"%s\": %.6g%s", name, v, last ? "" : ", ");
    else fprintf(out, "\"%s\": null%s", name, last ? "" : ", ");
}

static void table_row(const char *name, const double *s, const double *cpu, int n,
                      double groups, double base_s, double rmse)
{
    double m = median(s, n);
    char c[32] = "-";
    if (cpu) snprintf(c, sizeof c, "%.3f", median(cpu, n));
    printf("%-26s %9.3f %9.3f %9.3f %9s %10.1f %8.2fx %9.5f\n", name, m, vmin(s, n),
           vmax(s, n), c, groups / m, base_s / m, rmse);
}

int main(int argc, char **argv)
{
    bench_opts o;
    parse_args(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);

    char peer[PATH_MAX];
    find_peer(o.peer, peer, sizeof peer);

    /* The data, written by the Python peer so both train on the same rows. */
    const char *tmp = getenv("TMPDIR");
    snprintf(data_path, sizeof data_path, "%s/herd_fit_bench_XXXXXX.csv",
             tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(data_path, 4);
    if (fd < 0) {
        fprintf(stderr, "fit_bench: cannot create a temporary file %s: %s\n", data_path,
                strerror(errno));
        return 1;
    }
    close(fd);
    keep_data_file = o.keep_data;
    atexit(cleanup_data);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = now_s();
    write_data(peer, &o);
    double t_write = now_s() - t0;

    herd_frame *frame = NULL;
    t0 = now_s();
    check(herd_frame_read_csv(data_path, NULL, &frame), "herd_frame_read_csv");
    double t_read = now_s() - t0;
    herd_groups *groups = NULL;
    const char *key = "group";
    t0 = now_s();
    check(herd_groups_new(frame, &key, 1, &groups), "herd_groups_new");
    double t_group = now_s() - t0;
    size_t ngroups = herd_groups_count(groups), nrows = herd_frame_row_count(frame);
    size_t largest = 0;
    for (size_t g = 0; g < ngroups; g++)
        if (herd_groups_row_count(groups, g) > largest) largest = herd_groups_row_count(groups, g);

    printf("fit_bench: workload %s, %zu groups, %zu rows (largest group %zu), %ld rounds, "
           "%d threads, repeat %d\n",
           o.workload, ngroups, nrows, largest, o.rounds, o.threads, o.repeat);
    printf("data: %s (%s)%s\n", data_path, peer, o.keep_data ? ", kept" : "");
    printf("setup: write %.2f s (python), read_csv %.3f s, groups %.3f s\n", t_write, t_read,
           t_group);

    raw_job raw;
    raw_prepare(&raw, groups, (int)o.rounds);

    double sa[MAX_REPEAT], sb[MAX_REPEAT], sc[MAX_REPEAT], sd[MAX_REPEAT];
    double ca[MAX_REPEAT], cb[MAX_REPEAT], cd[MAX_REPEAT];
    herd_result ra = {0}, rb = {0};
    baseline_result rc = {0};
    double raw_rmse = NAN;
    for (int r = 0; r < o.repeat; r++) {
        /* Each repeat starts with a different contender, so that a burst of
         * load from elsewhere does not always hit the same one. */
        for (int k = 0; k < 4; k++) {
            switch ((r + k) % 4) {
            case 0:
                run_herd(groups, 1, o.threads, o.rounds, &ra);
                sa[r] = ra.seconds, ca[r] = ra.cpu;
                break;
            case 1:
                run_herd(groups, 0, o.threads, o.rounds, &rb);
                sb[r] = rb.seconds, cb[r] = rb.cpu;
                break;
            case 2:
                run_baseline(peer, &o, &rc);
                sc[r] = rc.seconds;
                break;
            default:
                sd[r] = raw_run(&raw, o.threads, &raw_rmse, &cd[r]);
                break;
            }
        }
        fprintf(stderr,
                "repeat %d/%d: wall (cpu) s: herd %.3f (%.3f), herd defaults %.3f (%.3f), "
                "baseline %.3f, raw %.3f (%.3f)\n",
                r + 1, o.repeat, sa[r], ca[r], sb[r], cb[r], sc[r], sd[r], cd[r]);
    }
    double ma = median(sa, o.repeat), mb = median(sb, o.repeat);
    double mc = median(sc, o.repeat), md = median(sd, o.repeat);
    double mca = median(ca, o.repeat), mcb = median(cb, o.repeat), mcd = median(cd, o.repeat);
    double g = (double)ngroups;

    /* Skewed sizes: how close herd's wall time is to what any scheduler of
     * these groups on T threads could do. */
    int skewed = strcmp(o.workload, "skewed") == 0;
    herd_result r1 = {0};
    double bound = NAN;
    if (skewed) {
        run_herd(groups, 1, 1, o.rounds, &r1);
        bound = r1.work_s / o.threads;
        if (r1.largest_s > bound) bound = r1.largest_s;
    }

    printf("\n%-26s %9s %9s %9s %9s %10s %9s %9s\n", "", "median s", "min s", "max s",
           "cpu s", "models/s", "vs base", "rmse");
    table_row("herd (baseline params)", sa, ca, o.repeat, g, mc, ra.rmse_mean);
    table_row("herd (defaults)", sb, cb, o.repeat, g, mc, rb.rmse_mean);
    char bname[64];
    snprintf(bname, sizeof bname, "peer.py --jobs %d", o.threads);
    table_row(bname, sc, NULL, o.repeat, g, mc, rc.rmse_mean);
    table_row("raw XGBoost C API loop", sd, cd, o.repeat, g, mc, raw_rmse);
    printf("(wall medians; cpu s: median CPU time of all this process's threads)\n");
    /* CPU over wall time: near T when the machine gave this process T
     * cores; near 1 on a machine busy with other work, where wall-time
     * ratios (and the skew bound) say more about the neighbours. */
    printf("cores used (cpu / wall): herd %.2f, herd defaults %.2f, raw %.2f of %d threads\n",
           mca / ma, mcb / mb, mcd / md, o.threads);
    printf("\nherd / raw (models/s): %.3f (by CPU time %.3f)   herd / baseline: %.2f   "
           "herd defaults / baseline: %.2f\n",
           md / ma, mcd / mca, mc / ma, mc / mb);
    printf("herd defaults tree_method: %s;  rmse ratio herd defaults / baseline: %.4f\n",
           rb.methods, rb.rmse_mean / rc.rmse_mean);
    if (skewed)
        printf("skew: 1-thread herd work %.3f s, largest group %.3f s, bound %.3f s on %d "
               "threads; herd wall / bound: %.3f (raw loop: %.3f)\n",
               r1.work_s, r1.largest_s, bound, o.threads, ma / bound, md / bound);
    printf("\n");

    printf("{\"bench\": \"fit_bench\", \"workload\": \"%s\", ", o.workload);
    printf("\"groups\": %zu, \"rows\": %zu, \"largest_group_rows\": %zu, \"rounds\": %ld, "
           "\"threads\": %d, \"repeat\": %d, ",
           ngroups, nrows, largest, o.rounds, o.threads, o.repeat);
    json_num(stdout, "herd_models_per_s", g / ma, 0);
    json_num(stdout, "herd_default_models_per_s", g / mb, 0);
    json_num(stdout, "baseline_models_per_s", g / mc, 0);
    json_num(stdout, "raw_models_per_s", g / md, 0);
    json_num(stdout, "herd_vs_raw", md / ma, 0);
    json_num(stdout, "herd_vs_raw_cpu", mcd / mca, 0);
    json_num(stdout, "herd_vs_baseline", mc / ma, 0);
    json_num(stdout, "herd_default_vs_baseline", mc / mb, 0);
    json_num(stdout, "herd_default_rmse_ratio", rb.rmse_mean / rc.rmse_mean, 0);
    printf("\"herd_default_tree_method\": \"%s\", ", rb.methods);
    json_num(stdout, "herd_rmse", ra.rmse_mean, 0);
    json_num(stdout, "herd_default_rmse", rb.rmse_mean, 0);
    json_num(stdout, "baseline_rmse", rc.rmse_mean, 0);
    json_num(stdout, "raw_rmse", raw_rmse, 0);
    json_num(stdout, "herd_s", ma, 0);
    json_num(stdout, "herd_default_s", mb, 0);
    json_num(stdout, "baseline_s", mc, 0);
    json_num(stdout, "herd_cpu_s", mca, 0);
    json_num(stdout, "herd_default_cpu_s", mcb, 0);
    json_num(stdout, "raw_cpu_s", mcd, 0);
    json_num(stdout, "herd_cores_used", mca / ma, 0);
    json_num(stdout, "raw_cores_used", mcd / md, 0);
    if (skewed) {
        json_num(stdout, "raw_s", md, 0);
        json_num(stdout, "herd_vs_skew_bound", ma / bound, 0);
        json_num(stdout, "raw_vs_skew_bound", md / bound, 0);
        json_num(stdout, "skew_bound_s", bound, 1);
    } else {
        json_num(stdout, "raw_s", md, 1);
    }
    printf("}\n");

    raw_destroy(&raw);
    herd_groups_free(groups);
    herd_frame_free(frame);
    return 0;
}
