/* registry_bench.c -- herd's registry against a folder per version, a raw
 * write and an in-memory hash table, on the same artifacts, in one run.
 *
 *   registry_bench --versions N [--dir D] [--batch B] [--tiny] [--groups G]
 *                  [--distinct M] [--rows R] [--rounds K] [--threads T]
 *                  [--repeat M] [--keep]
 *
 * Models: real trained artifacts.  Data shaped like peer.py's `many`
 * workload (features f0..f4 uniform in [0, 1), label = x.w + a per-group
 * shift + 0.1 * noise, R rows per group, groups g000000, g000001...) is
 * generated in C and trained with herd_fit (herd's default XGBoost
 * parameters, K rounds, validation on the last 20% of each group), then
 * each model is packaged with herd_fit_result_artifact and serialised with
 * herd_artifact_to_buffer.  By default 50 rounds; --tiny: one tree of depth
 * 2 (rounds 1, max_depth 2), for the million-version run.  Only M distinct
 * groups are trained (default: min(N, 5000), --tiny min(N, 1000)); their
 * bytes are cycled over the N versions, and herd_version_options.group
 * files each version under its own group key.
 *
 * Versions: version k (0 <= k < N) goes to group k % G (default G = N: one
 * version per group), so a group holds about N / G versions, 1, 2, 3...
 * Every version is added with alias "champion", so each group's champion is
 * its last version.  Artifacts are added with herd_batch_add_bytes (the
 * path of bytes returned by distributed workers).
 *
 * Measured, in one run, in a fresh scratch directory (mkdtemp in --dir, or
 * in $TMPDIR or /tmp; removed at the end unless --keep):
 *   commit    herd: begin + N adds + commit, in one batch, into a fresh
 *             registry; then into a second fresh registry in batches of B
 *             (the part spent in begin + adds is printed too);
 *             raw write: the same total bytes written to one file, then
 *             fsync of the file and its directory (the floor), 3 times
 *             around the herd commits, median;
 *             folder per version: peer.py --store's layout made
 *             durable: models/demand/<herd_key_encode(group)>/version-V/
 *             {model.ubj (the artifact bytes), meta.json (name, version,
 *             rmse, rows)}, each file fsynced, each created directory
 *             fsynced once its entries are in place, and an aliases.json
 *             per group ({"champion": V}) fsynced.
 *   open      herd_registry_open of the finished registries, each open a
 *             fresh handle; median of --repeat.  Also open + a first
 *             resolve of every group on a fresh handle (what open defers,
 *             e.g. checksums of an index read in place, is paid there).
 *   resolve   the champion of every group: herd_registry_aliases (one
 *             call for the family: resolve_all_s) and herd_registry_resolve
 *             (one call per group: resolve_each_s, and the per-lookup
 *             figures); the folder store reads and parses each group's
 *             aliases.json (encoded names computed beforehand); an
 *             open-addressing hash table of the same (family, group,
 *             "champion") keys probed for the same keys in the same order.
 *             Each pass is timed in chunks of 1,000 lookups; per-lookup
 *             figures are the median over every chunk of every repeat,
 *             whole-pass figures the median of --repeat passes.  Each
 *             timed pass of herd or the hash table follows an untimed one
 *             (warm CPU caches for both); the order rotates per repeat.
 *   list      herd_registry_groups of the family; herd_registry_versions
 *             of up to 10,000 groups spread over the keys.
 *   search    herd_registry_search with a metric range (rmse between two
 *             quantiles of the versions' rmse, about 10% of them) and with
 *             a group pattern ("g0001*"); search_s is the sum of the two.
 *   readers   4 writer threads making one-version commits through one
 *             handle, alone and beside 8 threads resolving champions
 *             through the same handle (alternating rounds, median of
 *             --repeat): commit_with_8_readers_vs_alone, target >= 0.5.
 * Every herd result is checked (versions, champions, row counts).
 * Prints human-readable lines, then one JSON object as the last line.  See
 * docs/performance.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "herd.h"
#include "registry/registry_internal.h"

#define NF 5
#define FAMILY "demand"
#define ALIAS "champion"
#define CHUNK 1000             /* lookups per timed chunk */
#define TRAIN_CHUNK 5000       /* groups per herd_fit call (bounds memory) */
#define DEFAULT_DISTINCT 5000  /* distinct trained models, default mode */
#define TINY_DISTINCT 1000     /* distinct trained models, --tiny */
#define LIST_SAMPLE 10000      /* groups whose versions are listed */
#define GROUP_PATTERN "g0001*"
#define MAX_REPEAT 100

static const char *const feature_names[NF] = {"f0", "f1", "f2", "f3", "f4"};

/* ---- options ------------------------------------------------------------- */

typedef struct bench_opts {
    long versions, groups, batch, distinct, rows, rounds;
    int tiny, threads, repeat, keep, flatness;
    const char *dir;
} bench_opts;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: registry_bench --versions N [--dir D] [--batch B] [--tiny] [--groups G]\n"
            "                      [--distinct M] [--rows R] [--rounds K] [--threads T]\n"
            "                      [--repeat M] [--keep] [--flatness]\n"
            "  --versions N   versions to commit (required)\n"
            "  --dir D        make the scratch directory inside D (default $TMPDIR or /tmp)\n"
            "  --batch B      versions per batch of the batched commit (default 1000)\n"
            "  --tiny         models of one tree of depth 2 (default: 50 rounds)\n"
            "  --groups G     groups the versions are spread over (default N: one each)\n"
            "  --distinct M   distinct models trained and cycled over the versions\n"
            "                 (default min(N, %d); --tiny min(N, %d))\n"
            "  --rows R       rows per trained group (default 200)\n"
            "  --rounds K     boosting rounds (default 50; --tiny 1)\n"
            "  --threads T    training threads (default: the CPUs this process may use)\n"
            "  --repeat M     repeats of the read measurements (default 5)\n"
            "  --keep         keep the scratch directory\n"
            "  --flatness     only the batched commit, twice: with the tiered index and\n"
            "                 with whole index rewrites (as before 0.2); per-batch times of\n"
            "                 the first and last 10%% of the batches and totals\n",
            DEFAULT_DISTINCT, TINY_DISTINCT);
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "registry_bench: %s needs an integer in %ld..%ld (got '%s')\n", opt, lo,
                hi, v ? v : "nothing");
        exit(2);
    }
    return x;
}

static void parse_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 1000;
    o->rows = 200;
    o->rounds = -1;
    o->groups = -1;
    o->distinct = -1;
    o->threads = herd_default_threads();
    o->repeat = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--versions") == 0) {
            o->versions = parse_long(a, v, 1, 100000000), i++;
        } else if (strcmp(a, "--dir") == 0 && v) {
            o->dir = v, i++;
        } else if (strcmp(a, "--batch") == 0) {
            o->batch = parse_long(a, v, 1, 100000000), i++;
        } else if (strcmp(a, "--groups") == 0) {
            o->groups = parse_long(a, v, 1, 100000000), i++;
        } else if (strcmp(a, "--distinct") == 0) {
            o->distinct = parse_long(a, v, 1, 100000000), i++;
        } else if (strcmp(a, "--rows") == 0) {
            o->rows = parse_long(a, v, 10, 1000000), i++;
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = parse_long(a, v, 1, 100000), i++;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = (int)parse_long(a, v, 1, 1024), i++;
        } else if (strcmp(a, "--repeat") == 0) {
            o->repeat = (int)parse_long(a, v, 1, MAX_REPEAT), i++;
        } else if (strcmp(a, "--tiny") == 0) {
            o->tiny = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
        } else if (strcmp(a, "--flatness") == 0) {
            o->flatness = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "registry_bench: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (o->versions <= 0) {
        fprintf(stderr, "registry_bench: --versions N is required\n");
        usage(stderr);
        exit(2);
    }
    if (o->groups < 0) o->groups = o->versions;
    if (o->groups > o->versions) {
        fprintf(stderr, "registry_bench: --groups (%ld) cannot exceed --versions (%ld)\n",
                o->groups, o->versions);
        exit(2);
    }
    if (o->rounds < 0) o->rounds = o->tiny ? 1 : 50;
    if (o->distinct < 0) {
        long d = o->tiny ? TINY_DISTINCT : DEFAULT_DISTINCT;
        o->distinct = o->versions < d ? o->versions : d;
    }
    if (o->distinct > o->versions) o->distinct = o->versions;
}

/* ---- small helpers ------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts a copy). */
static double median(const double *v, size_t n)
{
    if (n == 0) return NAN;
    double *s = malloc(n * sizeof *s);
    if (!s) {
        fprintf(stderr, "registry_bench: out of memory\n");
        exit(1);
    }
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

static double vmin(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static double vmax(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* A failed herd call ends the benchmark with herd's own message. */
static void check(int rc, const char *what)
{
    if (rc == HERD_OK) return;
    fprintf(stderr, "registry_bench: %s failed: %s: %s\n", what, herd_status_str(rc),
            herd_last_error());
    exit(1);
}

/* A getter's status: a value, or a missing one (NaN, NULL), never an error. */
static void check_cell(int rc, const char *what)
{
    if (rc != HERD_MISSING) check(rc, what);
}

static void die_errno(const char *what, const char *path)
{
    fprintf(stderr, "registry_bench: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "registry_bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "registry_bench: out of memory (%zu x %zu bytes)\n", n, size);
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        fprintf(stderr, "registry_bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void path_join(char *out, size_t size, const char *a, const char *b)
{
    int w = snprintf(out, size, "%s/%s", a, b);
    if (w < 0 || (size_t)w >= size) {
        fprintf(stderr, "registry_bench: path too long: %s/%s\n", a, b);
        exit(1);
    }
}

/* ---- deterministic random numbers (xoshiro256**) -------------------------- */

static uint64_t rng_s[4];

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++) rng_s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0], rng_s[3] ^= rng_s[1], rng_s[1] ^= rng_s[2], rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t, rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

static double rng_uniform(void) /* [0, 1) */
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static double rng_normal(void)
{
    double u = rng_uniform(), v = rng_uniform();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- scratch directory ----------------------------------------------------- */

static char scratch[PATH_MAX];
static int keep_scratch;
static volatile sig_atomic_t cleaning;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "registry_bench: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static void cleanup_scratch(void)
{
    if (!scratch[0] || keep_scratch || cleaning) return;
    cleaning = 1;
    remove_tree(scratch);
}

/* Ctrl-C or kill during a long run still removes the scratch directory
 * (best effort: the tree may hold a million files). */
static void on_signal(int sig)
{
    static const char msg[] = "registry_bench: interrupted, removing the scratch directory\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) { /* nothing to do */ }
    cleanup_scratch();
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t tree_bytes, tree_disk, tree_files;

static int size_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (flag == FTW_F) tree_bytes += (uint64_t)st->st_size, tree_files++;
    tree_disk += (uint64_t)st->st_blocks * 512u;
    return 0;
}

/* File bytes, allocated disk bytes (files and directories) and files. */
static void tree_size(const char *path, uint64_t *bytes, uint64_t *disk, uint64_t *files)
{
    tree_bytes = tree_disk = tree_files = 0;
    nftw(path, size_entry, 32, FTW_PHYS);
    *bytes = tree_bytes, *disk = tree_disk;
    if (files) *files = tree_files;
}

/* ---- the workload ---------------------------------------------------------- */

typedef struct workload {
    size_t n;        /* versions */
    size_t g;        /* groups */
    size_t d;        /* distinct models */
    char **keys;     /* g group keys */
    char **enc;      /* their herd_key_encode forms (herd_free) */
    int64_t *champ;  /* per group: versions = the champion's version */
    void **art;      /* d artifacts (herd_artifact_to_buffer bytes, herd_free) */
    size_t *art_len;
    double *art_rmse;
    int64_t *art_rows;
    uint64_t total_bytes; /* artifact bytes over the n versions */
} workload;

/* Version k: group k % g, model k % d, version number k / g + 1. */
static size_t ver_group(const workload *w, size_t k)
{
    return k % w->g;
}
static size_t ver_model(const workload *w, size_t k)
{
    return k % w->d;
}
static int64_t ver_number(const workload *w, size_t k)
{
    return (int64_t)(k / w->g) + 1;
}

static void make_key(char *out, size_t size, size_t i, size_t count)
{
    if (count <= 1000000) snprintf(out, size, "g%06zu", i);
    else snprintf(out, size, "g%09zu", i);
}

static size_t report_col(const herd_frame *rep, const char *name)
{
    size_t c = 0;
    check(herd_frame_find(rep, name, &c), "herd_frame_find on the fit report");
    return c;
}

/* Train w->d groups (in chunks of TRAIN_CHUNK), keep each model's
 * serialised artifact.  Returns the training wall time (herd_fit only). */
static double train_models(workload *w, const bench_opts *o)
{
    size_t d = w->d, rows = (size_t)o->rows;
    w->art = xcalloc(d, sizeof *w->art);
    w->art_len = xcalloc(d, sizeof *w->art_len);
    w->art_rmse = xcalloc(d, sizeof *w->art_rmse);
    w->art_rows = xcalloc(d, sizeof *w->art_rows);

    rng_seed(42);
    double weight[NF];
    for (int f = 0; f < NF; f++) weight[f] = rng_normal();

    static const char *const tiny_names[] = {"max_depth"};
    static const char *const tiny_values[] = {"2"};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = feature_names;
    fo.n_features = NF;
    fo.label = "label";
    if (o->tiny) {
        fo.param_names = tiny_names;
        fo.param_values = tiny_values;
        fo.n_params = 1;
    }
    fo.rounds = (int)o->rounds;
    fo.split = HERD_SPLIT_LAST;
    fo.valid_fraction = 0.2;
    fo.seed = 0;
    fo.min_rows = 2;
    herd_apply_options ao;
    herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION);
    ao.threads = o->threads;
    herd_artifact_options art_opt;
    herd_artifact_options_init(&art_opt, HERD_ARTIFACT_OPTIONS_VERSION);
    art_opt.family = FAMILY;
    art_opt.run_id = "registry-bench";

    size_t chunk = d < TRAIN_CHUNK ? d : TRAIN_CHUNK;
    char (*ckeys)[16] = xmalloc(chunk * sizeof *ckeys);
    const char **gcol = xmalloc(chunk * rows * sizeof *gcol);
    float *feat[NF], *label = xmalloc(chunk * rows * sizeof *label);
    for (int f = 0; f < NF; f++) feat[f] = xmalloc(chunk * rows * sizeof *feat[f]);

    double fit_s = 0;
    for (size_t s = 0; s < d; s += chunk) {
        size_t m = d - s < chunk ? d - s : chunk, n = m * rows;
        for (size_t i = 0; i < m; i++) {
            make_key(ckeys[i], sizeof ckeys[i], s + i, d);
            double shift = rng_normal();
            for (size_t r = 0; r < rows; r++) {
                size_t row = i * rows + r;
                double y = shift + 0.1 * rng_normal();
                for (int f = 0; f < NF; f++) {
                    feat[f][row] = (float)rng_uniform();
                    y += weight[f] * (double)feat[f][row];
                }
                label[row] = (float)y;
                gcol[row] = ckeys[i];
            }
        }
        herd_frame *frame = NULL;
        herd_column_options co;
        herd_column_options_init(&co, HERD_COLUMN_OPTIONS_VERSION);
        co.flags = HERD_COLUMN_BORROW;
        check(herd_frame_new(&frame), "herd_frame_new");
        check(herd_frame_add_column(frame, "group", HERD_TYPE_STRING, gcol, n, &co),
              "herd_frame_add_column(group)");
        for (int f = 0; f < NF; f++)
            check(herd_frame_add_column(frame, feature_names[f], HERD_TYPE_FLOAT32, feat[f], n,
                                        &co),
                  "herd_frame_add_column(feature)");
        check(herd_frame_add_column(frame, "label", HERD_TYPE_FLOAT32, label, n, &co),
              "herd_frame_add_column(label)");
        herd_groups *groups = NULL;
        const char *key = "group";
        check(herd_groups_new(frame, &key, 1, &groups), "herd_groups_new");

        herd_fit_result *set = NULL;
        double t0 = now_s();
        check(herd_fit(groups, &fo, &ao, &set), "herd_fit");
        fit_s += now_s() - t0;

        herd_frame *rep = NULL;
        check(herd_fit_result_report(set, &rep), "herd_fit_result_report");
        size_t c_group = report_col(rep, "group"), c_status = report_col(rep, "status");
        size_t c_msg = report_col(rep, "message"), c_rows = report_col(rep, "rows");
        if (herd_frame_row_count(rep) != m) {
            fprintf(stderr, "registry_bench: herd_fit reported %zu groups, expected %zu\n",
                    herd_frame_row_count(rep), m);
            exit(1);
        }
        for (size_t i = 0; i < m; i++) {
            const char *g = NULL, *status = NULL, *msg = NULL;
            int64_t nrows = 0;
            check_cell(herd_frame_get_string(rep, c_group, i, &g), "reading the fit report");
            check_cell(herd_frame_get_string(rep, c_status, i, &status), "reading the fit report");
            check_cell(herd_frame_get_int64(rep, c_rows, i, &nrows), "reading the fit report");
            if (!g || !status || strcmp(status, "ok") != 0) {
                herd_frame_get_string(rep, c_msg, i, &msg);
                fprintf(stderr, "registry_bench: herd_fit: group %s: %s: %s\n", g ? g : "?",
                        status ? status : "?", msg ? msg : "");
                exit(1);
            }
            char *end = NULL;
            unsigned long long idx = strtoull(g + 1, &end, 10);
            if (g[0] != 'g' || *end || idx < s || idx >= s + m || w->art[idx]) {
                fprintf(stderr, "registry_bench: unexpected group key '%s' in the report\n", g);
                exit(1);
            }
            herd_artifact *a = NULL;
            check(herd_fit_result_artifact(set, g, &art_opt, &a), "herd_fit_result_artifact");
            check(herd_artifact_to_buffer(a, &w->art[idx], &w->art_len[idx]),
                  "herd_artifact_to_buffer");
            check(herd_artifact_metric(a, "rmse", &w->art_rmse[idx]), "herd_artifact_metric");
            w->art_rows[idx] = nrows;
            herd_artifact_free(a);
        }
        herd_frame_free(rep);
        herd_fit_result_free(set);
        herd_groups_free(groups);
        herd_frame_free(frame);
        if (d > chunk)
            fprintf(stderr, "trained %zu / %zu distinct models (%.1f s in herd_fit)\n", s + m, d,
                    fit_s);
    }
    for (int f = 0; f < NF; f++) free(feat[f]);
    free(label);
    free(gcol);
    free(ckeys);
    return fit_s;
}

static void make_workload(workload *w, const bench_opts *o)
{
    w->n = (size_t)o->versions;
    w->g = (size_t)o->groups;
    w->d = (size_t)o->distinct;
    w->keys = xmalloc(w->g * sizeof *w->keys);
    w->enc = xmalloc(w->g * sizeof *w->enc);
    w->champ = xcalloc(w->g, sizeof *w->champ);
    for (size_t i = 0; i < w->g; i++) {
        char k[32];
        make_key(k, sizeof k, i, w->g);
        w->keys[i] = xstrdup(k);
        check(herd_key_encode(k, &w->enc[i]), "herd_key_encode");
    }
    for (size_t k = 0; k < w->n; k++) w->champ[ver_group(w, k)] = ver_number(w, k);
}

static void total_bytes(workload *w)
{
    w->total_bytes = 0;
    for (size_t k = 0; k < w->n; k++) w->total_bytes += w->art_len[ver_model(w, k)];
}

static void free_workload(workload *w)
{
    for (size_t i = 0; i < w->g; i++) free(w->keys[i]), herd_free(w->enc[i]);
    for (size_t i = 0; i < w->d; i++) herd_free(w->art[i]);
    free(w->keys), free(w->enc), free(w->champ);
    free(w->art), free(w->art_len), free(w->art_rmse), free(w->art_rows);
}

/* ---- herd: commit ---------------------------------------------------------- */

/* Commit every version into a fresh registry at `path`, `batch` versions
 * per batch.  Returns the time of begin + adds + commit summed over the
 * batches (opening the new registry, checking the assigned versions and
 * freeing the batches are outside it); *add_s the part of it spent in
 * begin + adds, *create_s the time of the open that created the
 * registry. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* batch_s, batch_cpu (may be NULL): each batch's wall and CPU time. */
static double herd_commit_timed(const workload *w, const char *path, size_t batch, int tiers,
                                double *batch_s, double *batch_cpu, double *create_s,
                                double *add_s, size_t *nbatches)
{
    herd_registry *reg = NULL;
    double t0 = now_s();
    check(herd_registry_open(path, NULL, &reg), "herd_registry_open (create)");
    *create_s = now_s() - t0;
    hd_registry_set_index_tiers(reg, tiers);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = FAMILY;
    vo.alias = ALIAS;
    double total = 0;
    *nbatches = 0;
    *add_s = 0;
    for (size_t s = 0; s < w->n; s += batch) {
        size_t e = w->n - s < batch ? w->n : s + batch;
        herd_batch *b = NULL;
        t0 = now_s();
        double c0 = cpu_s();
        check(herd_registry_begin(reg, &b), "herd_registry_begin");
        for (size_t k = s; k < e; k++) {
            size_t m = ver_model(w, k);
            vo.group = w->keys[ver_group(w, k)];
            int rc = herd_batch_add_bytes(b, w->art[m], w->art_len[m], &vo, NULL);
            if (rc != HERD_OK) {
                fprintf(stderr, "registry_bench: herd_batch_add_bytes (version %zu, group %s) "
                                "failed: %s: %s\n",
                        k, vo.group, herd_status_str(rc), herd_last_error());
                exit(1);
            }
        }
        double t1 = now_s();
        check(herd_batch_commit(b), "herd_batch_commit");
        if (batch_s) batch_s[*nbatches] = now_s() - t0;
        if (batch_cpu) batch_cpu[*nbatches] = cpu_s() - c0;
        total += now_s() - t0;
        *add_s += t1 - t0;
        (*nbatches)++;
        if (herd_batch_count(b) != e - s) {
            fprintf(stderr, "registry_bench: herd_batch_count is %zu, expected %zu\n",
                    herd_batch_count(b), e - s);
            exit(1);
        }
        for (size_t k = s; k < e; k++) {
            int64_t v = 0;
            int existed = -1;
            check(herd_batch_version(b, k - s, &v, &existed), "herd_batch_version");
            if (v != ver_number(w, k) || existed != 0) {
                fprintf(stderr, "registry_bench: version %zu of group %s committed as %" PRId64
                                " (existed %d), expected %" PRId64 " (existed 0)\n",
                        k, w->keys[ver_group(w, k)], v, existed, ver_number(w, k));
                exit(1);
            }
        }
        herd_batch_free(b);
    }
    herd_registry_free(reg);
    return total;
}

static double herd_commit_all(const workload *w, const char *path, size_t batch,
                              double *create_s, double *add_s, size_t *nbatches)
{
    return herd_commit_timed(w, path, batch, 1, NULL, NULL, create_s, add_s, nbatches);
}

/* ---- commits beside readers on one handle ---------------------------------- */

/* Commit throughput of CONTEND_WRITERS threads on one handle, alone and
 * with CONTEND_READERS threads resolving champions through the same handle
 * as fast as they can; commit_with_8_readers_vs_alone is the ratio of the
 * two (1: readers cost the writers nothing).  Readers that keep the
 * handle's state read-locked must not hold its commits off. */
#define CONTEND_WRITERS 4
#define CONTEND_READERS 8
#define CONTEND_COMMITS 40 /* per writer thread and measurement */

typedef struct contend {
    herd_registry *reg;
    const workload *w;
    size_t writer;            /* this writer's number */
    volatile int *stop;       /* readers run until set */
    uint64_t reads;
} contend;

static void *contend_writer(void *arg)
{
    contend *c = arg;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = "contend";
    for (size_t i = 0; i < CONTEND_COMMITS; i++) {
        size_t k = c->writer * CONTEND_COMMITS + i, m = ver_model(c->w, k);
        vo.group = c->w->keys[ver_group(c->w, k)];
        herd_batch *b = NULL;
        check(herd_registry_begin(c->reg, &b), "herd_registry_begin (contention)");
        check(herd_batch_add_bytes(b, c->w->art[m], c->w->art_len[m], &vo, NULL),
              "herd_batch_add_bytes (contention)");
        check(herd_batch_commit(b), "herd_batch_commit (contention)");
        herd_batch_free(b);
    }
    return NULL;
}

static void *contend_reader(void *arg)
{
    contend *c = arg;
    for (size_t i = c->writer; !*c->stop; i++) {
        int64_t v = 0;
        int rc = herd_registry_resolve(c->reg, FAMILY, c->w->keys[i % c->w->g], ALIAS, &v);
        if (rc != HERD_OK) check(rc, "herd_registry_resolve (contention)");
        c->reads++;
    }
    return NULL;
}

/* Commits per second of the writers, with `readers` reader threads. */
static double contend_round(herd_registry *reg, const workload *w, int readers,
                            uint64_t *reads)
{
    volatile int stop = 0;
    pthread_t wt[CONTEND_WRITERS], rt[CONTEND_READERS];
    contend wc[CONTEND_WRITERS], rc[CONTEND_READERS];
    for (int i = 0; i < readers; i++) {
        rc[i] = (contend){.reg = reg, .w = w, .writer = (size_t)i * 7919, .stop = &stop};
        if (pthread_create(&rt[i], NULL, contend_reader, &rc[i])) die_errno("pthread_create", "");
    }
    double t0 = now_s();
    for (int i = 0; i < CONTEND_WRITERS; i++) {
        wc[i] = (contend){.reg = reg, .w = w, .writer = (size_t)i, .stop = &stop};
        if (pthread_create(&wt[i], NULL, contend_writer, &wc[i])) die_errno("pthread_create", "");
    }
    for (int i = 0; i < CONTEND_WRITERS; i++) pthread_join(wt[i], NULL);
    double secs = now_s() - t0;
    stop = 1;
    for (int i = 0; i < readers; i++) {
        pthread_join(rt[i], NULL);
        *reads += rc[i].reads;
    }
    return (double)(CONTEND_WRITERS * CONTEND_COMMITS) / secs;
}

/* The median over `repeat` alternating rounds of (with readers / alone). */
static double commit_with_readers(const char *path, const workload *w, int repeat,
                                  double *alone_cps, double *with_cps, uint64_t *reads)
{
    herd_registry *reg = NULL;
    check(herd_registry_open(path, NULL, &reg), "herd_registry_open (contention)");
    double ratio[MAX_REPEAT], alone[MAX_REPEAT], with[MAX_REPEAT];
    *reads = 0;
    for (int r = 0; r < repeat; r++) {
        alone[r] = contend_round(reg, w, 0, reads);
        with[r] = contend_round(reg, w, CONTEND_READERS, reads);
        ratio[r] = with[r] / alone[r];
    }
    herd_registry_free(reg);
    *alone_cps = median(alone, (size_t)repeat);
    *with_cps = median(with, (size_t)repeat);
    return median(ratio, (size_t)repeat);
}

/* Median time of herd_registry_open on `path`, each a fresh handle. */
static double herd_open_median(const char *path, int repeat, double *lo, double *hi)
{
    double t[MAX_REPEAT] = {0};
    for (int r = 0; r < repeat; r++) {
        herd_registry *reg = NULL;
        double t0 = now_s();
        check(herd_registry_open(path, NULL, &reg), "herd_registry_open");
        t[r] = now_s() - t0;
        herd_registry_free(reg);
    }
    *lo = vmin(t, (size_t)repeat), *hi = vmax(t, (size_t)repeat);
    return median(t, (size_t)repeat);
}

/* ---- raw write and folder per version -------------------------------------- */

static void fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
    if (fd < 0) die_errno("cannot open", path);
    if (fsync(fd) != 0) die_errno("fsync failed on", path);
    close(fd);
}

static void write_all(int fd, const void *data, size_t len, const char *path)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die_errno("cannot write", path);
        p += n, len -= (size_t)n;
    }
}

static void write_file_sync(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die_errno("cannot create", path);
    write_all(fd, data, len, path);
    if (fsync(fd) != 0) die_errno("fsync failed on", path);
    if (close(fd) != 0) die_errno("cannot close", path);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0) die_errno("cannot create the directory", path);
}

/* Every version's artifact bytes, in version order, into one file through
 * a 1 MiB buffer, then fsync of the file and of its directory. */
static double raw_write(const workload *w, const char *dir)
{
    char path[PATH_MAX];
    path_join(path, sizeof path, dir, "raw.bin");
    size_t cap = 1u << 20, used = 0;
    char *buf = xmalloc(cap);
    double t0 = now_s();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die_errno("cannot create", path);
    for (size_t k = 0; k < w->n; k++) {
        size_t m = ver_model(w, k), len = w->art_len[m];
        const char *p = w->art[m];
        while (len) {
            size_t take = cap - used < len ? cap - used : len;
            memcpy(buf + used, p, take);
            used += take, p += take, len -= take;
            if (used == cap) write_all(fd, buf, used, path), used = 0;
        }
    }
    if (used) write_all(fd, buf, used, path);
    if (fsync(fd) != 0) die_errno("fsync failed on", path);
    if (close(fd) != 0) die_errno("cannot close", path);
    fsync_path(dir, 1);
    double s = now_s() - t0;
    struct stat st;
    if (stat(path, &st) != 0 || (uint64_t)st.st_size != w->total_bytes) {
        fprintf(stderr, "registry_bench: %s does not hold the %" PRIu64 " bytes written\n", path,
                w->total_bytes);
        exit(1);
    }
    if (unlink(path) != 0) die_errno("cannot remove", path);
    free(buf);
    return s;
}

/* A JSON string body for our keys (g000123: nothing to escape, but stay
 * correct for any key). */
static void json_escape(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') out[o++] = '\\', out[o++] = (char)c;
        else if (c < 0x20) o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* peer.py --store's layout, made durable (see the header comment).
 * `dir` is the folder store's root. */
static double folder_commit(const workload *w, const char *dir)
{
    char models[PATH_MAX], demand[PATH_MAX], gdir[PATH_MAX], vdir[PATH_MAX], path[PATH_MAX];
    char name[64], text[512], esc[3 * 64];
    path_join(models, sizeof models, dir, "models");
    path_join(demand, sizeof demand, models, FAMILY);
    double t0 = now_s();
    make_dir(dir);
    make_dir(models);
    make_dir(demand);
    for (size_t g = 0; g < w->g; g++) {
        path_join(gdir, sizeof gdir, demand, w->enc[g]);
        make_dir(gdir);
        for (int64_t v = 1; v <= w->champ[g]; v++) {
            size_t k = (size_t)(v - 1) * w->g + g, m = ver_model(w, k);
            snprintf(name, sizeof name, "version-%" PRId64, v);
            path_join(vdir, sizeof vdir, gdir, name);
            make_dir(vdir);
            path_join(path, sizeof path, vdir, "model.ubj");
            write_file_sync(path, w->art[m], w->art_len[m]);
            json_escape(esc, sizeof esc, w->keys[g]);
            char rmse[40];
            if (isfinite(w->art_rmse[m])) snprintf(rmse, sizeof rmse, "%.17g", w->art_rmse[m]);
            else snprintf(rmse, sizeof rmse, "NaN"); /* as Python's json.dump */
            int len = snprintf(text, sizeof text,
                               "{\"name\": \"%s\", \"version\": %" PRId64 ", \"rmse\": %s, "
                               "\"rows\": %" PRId64 "}",
                               esc, v, rmse, w->art_rows[m]);
            path_join(path, sizeof path, vdir, "meta.json");
            write_file_sync(path, text, (size_t)len);
            fsync_path(vdir, 1);
        }
        int len = snprintf(text, sizeof text, "{\"" ALIAS "\": %" PRId64 "}\n", w->champ[g]);
        path_join(path, sizeof path, gdir, "aliases.json");
        write_file_sync(path, text, (size_t)len);
        fsync_path(gdir, 1);
    }
    fsync_path(demand, 1);
    fsync_path(models, 1);
    fsync_path(dir, 1);
    fsync_path(scratch, 1);
    return now_s() - t0;
}

/* ---- lookups: herd, folder, hash table ------------------------------------ */

typedef struct timing {
    double *chunk_us;   /* per-lookup microseconds of every timed chunk */
    size_t nchunk;
    double pass[2 * MAX_REPEAT + 1]; /* whole-pass seconds */
    int npass;
} timing;

static void timing_init(timing *t, size_t g, int repeat)
{
    memset(t, 0, sizeof *t);
    t->chunk_us = xmalloc(((g + CHUNK - 1) / CHUNK) * (size_t)repeat * sizeof *t->chunk_us);
}

static void lookup_fail(const char *who, const char *key, int64_t got, int64_t want)
{
    fprintf(stderr, "registry_bench: %s: champion of %s is %" PRId64 ", expected %" PRId64 "\n",
            who, key, got, want);
    exit(1);
}

static void herd_resolve_pass(herd_registry *reg, const workload *w, timing *t)
{
    double pass = 0;
    for (size_t s = 0; s < w->g; s += CHUNK) {
        size_t e = w->g - s < CHUNK ? w->g : s + CHUNK;
        int bad_rc = HERD_OK;
        size_t bad = SIZE_MAX;
        int64_t got = 0;
        double t0 = now_s();
        for (size_t g = s; g < e; g++) {
            int64_t v = 0;
            int rc = herd_registry_resolve(reg, FAMILY, w->keys[g], ALIAS, &v);
            if (rc != HERD_OK || v != w->champ[g]) {
                bad_rc = rc, bad = g, got = v;
                break;
            }
        }
        double dt = now_s() - t0;
        if (bad != SIZE_MAX) {
            check(bad_rc, "herd_registry_resolve");
            lookup_fail("herd_registry_resolve", w->keys[bad], got, w->champ[bad]);
        }
        pass += dt;
        t->chunk_us[t->nchunk++] = dt * 1e6 / (double)(e - s);
    }
    t->pass[t->npass++] = pass;
}

typedef struct key_ref {
    const char *key;
    size_t g;
} key_ref;

static int cmp_key_ref(const void *a, const void *b)
{
    return strcmp(((const key_ref *)a)->key, ((const key_ref *)b)->key);
}

/* The groups in key order: the order herd_registry_aliases returns them. */
static size_t *key_order(const workload *w)
{
    key_ref *refs = xmalloc(w->g * sizeof *refs);
    for (size_t g = 0; g < w->g; g++) refs[g] = (key_ref){w->keys[g], g};
    qsort(refs, w->g, sizeof *refs, cmp_key_ref);
    size_t *order = xmalloc(w->g * sizeof *order);
    for (size_t i = 0; i < w->g; i++) order[i] = refs[i].g;
    free(refs);
    return order;
}

/* Every group's champion in one call (herd_registry_aliases), checked
 * against the plan outside the timing; `order` is the groups by key. */
static double herd_bulk_resolve_pass(herd_registry *reg, const workload *w, const size_t *order)
{
    herd_frame *f = NULL;
    double t0 = now_s();
    check(herd_registry_aliases(reg, FAMILY, ALIAS, &f), "herd_registry_aliases");
    double dt = now_s() - t0;
    size_t gc = 0, vc = 0, r = 0, rows = herd_frame_row_count(f);
    check(herd_frame_find(f, "group", &gc), "herd_frame_find");
    check(herd_frame_find(f, "version", &vc), "herd_frame_find");
    for (size_t i = 0; i < w->g; i++) {
        size_t g = order[i];
        if (w->champ[g] <= 0) continue;
        const char *key = NULL;
        int64_t v = -1;
        if (r < rows) {
            check_cell(herd_frame_get_string(f, gc, r, &key), "herd_frame_get_string");
            check_cell(herd_frame_get_int64(f, vc, r, &v), "herd_frame_get_int64");
        }
        if (!key || strcmp(key, w->keys[g]) || v != w->champ[g])
            lookup_fail("herd_registry_aliases", w->keys[g], v, w->champ[g]);
        r++;
    }
    if (r != herd_frame_row_count(f)) {
        fprintf(stderr, "registry_bench: herd_registry_aliases returned %zu rows, %zu expected\n",
                herd_frame_row_count(f), r);
        exit(1);
    }
    herd_frame_free(f);
    return dt;
}

/* The folder store's champion of group g: read and parse its aliases.json. */
static int64_t folder_champion(const char *demand, const char *enc)
{
    char path[PATH_MAX], buf[256];
    int w = snprintf(path, sizeof path, "%s/%s/aliases.json", demand, enc);
    if (w < 0 || (size_t)w >= sizeof path) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "\"" ALIAS "\"");
    long long v = -1;
    if (!p || sscanf(p + sizeof ALIAS + 1, " : %lld", &v) != 1) return -1;
    return v;
}

static void folder_resolve_pass(const char *demand, const workload *w, timing *t)
{
    double pass = 0;
    for (size_t s = 0; s < w->g; s += CHUNK) {
        size_t e = w->g - s < CHUNK ? w->g : s + CHUNK;
        size_t bad = SIZE_MAX;
        int64_t got = 0;
        double t0 = now_s();
        for (size_t g = s; g < e; g++) {
            int64_t v = folder_champion(demand, w->enc[g]);
            if (v != w->champ[g]) {
                bad = g, got = v;
                break;
            }
        }
        double dt = now_s() - t0;
        if (bad != SIZE_MAX) lookup_fail("folder store (aliases.json)", w->keys[bad], got,
                                         w->champ[bad]);
        pass += dt;
        t->chunk_us[t->nchunk++] = dt * 1e6 / (double)(e - s);
    }
    t->pass[t->npass++] = pass;
}

/* An open-addressing (linear probing) hash table of (family, group, alias)
 * -> version: 32-byte slots (hash, version, key lengths, a pointer to the
 * key's bytes, family group alias back to back), keys hashed 8 bytes at a
 * time and compared by hash, lengths and memcmp.  A fair in-memory floor. */
typedef struct hslot {
    uint64_t hash;
    int64_t version;
    const char *key; /* NULL: empty */
    uint16_t lf, lg, la;
} hslot;

typedef struct htable {
    hslot *slots;
    size_t mask;
    char *strings;
} htable;

static uint64_t hmix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 32)) * 0xd6e8feb86659fd93ull;
    return h ^ (h >> 29);
}

static uint64_t hash_str(uint64_t h, const char *s, size_t n)
{
    uint64_t v;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&v, s, 8);
        h = hmix(h, v);
    }
    v = 0;
    memcpy(&v, s, n);
    return hmix(h, v ^ ((uint64_t)n << 56)); /* the length separates fields */
}

static uint64_t key_hash(const char *family, size_t lf, const char *group, size_t lg,
                         const char *alias, size_t la)
{
    return hash_str(hash_str(hash_str(0x243f6a8885a308d3ull, family, lf), group, lg), alias, la);
}

static void htable_build(htable *h, const workload *w)
{
    size_t cap = 16;
    while (cap < 2 * w->g) cap *= 2;
    h->slots = xcalloc(cap, sizeof *h->slots);
    h->mask = cap - 1;
    size_t total = 0;
    for (size_t g = 0; g < w->g; g++) total += strlen(FAMILY) + strlen(w->keys[g]) + strlen(ALIAS);
    h->strings = xmalloc(total);
    char *p = h->strings;
    for (size_t g = 0; g < w->g; g++) {
        size_t lf = strlen(FAMILY), lg = strlen(w->keys[g]), la = strlen(ALIAS);
        char *key = p;
        memcpy(p, FAMILY, lf), p += lf;
        memcpy(p, w->keys[g], lg), p += lg;
        memcpy(p, ALIAS, la), p += la;
        uint64_t hv = key_hash(FAMILY, lf, w->keys[g], lg, ALIAS, la);
        size_t i = (size_t)hv & h->mask;
        while (h->slots[i].key) i = (i + 1) & h->mask;
        h->slots[i] = (hslot){hv, w->champ[g], key, (uint16_t)lf, (uint16_t)lg, (uint16_t)la};
    }
}

static int64_t htable_get(const htable *h, const char *family, const char *group,
                          const char *alias)
{
    size_t lf = strlen(family), lg = strlen(group), la = strlen(alias);
    uint64_t hv = key_hash(family, lf, group, lg, alias, la);
    for (size_t i = (size_t)hv & h->mask;; i = (i + 1) & h->mask) {
        const hslot *s = &h->slots[i];
        if (!s->key) return -1;
        if (s->hash == hv && s->lf == lf && s->lg == lg && s->la == la &&
            memcmp(s->key, family, lf) == 0 && memcmp(s->key + lf, group, lg) == 0 &&
            memcmp(s->key + lf + lg, alias, la) == 0)
            return s->version;
    }
}

static void hash_probe_pass(const htable *h, const workload *w, timing *t)
{
    double pass = 0;
    for (size_t s = 0; s < w->g; s += CHUNK) {
        size_t e = w->g - s < CHUNK ? w->g : s + CHUNK;
        size_t bad = SIZE_MAX;
        int64_t got = 0;
        double t0 = now_s();
        for (size_t g = s; g < e; g++) {
            int64_t v = htable_get(h, FAMILY, w->keys[g], ALIAS);
            if (v != w->champ[g]) {
                bad = g, got = v;
                break;
            }
        }
        double dt = now_s() - t0;
        if (bad != SIZE_MAX) lookup_fail("hash table", w->keys[bad], got, w->champ[bad]);
        pass += dt;
        t->chunk_us[t->nchunk++] = dt * 1e6 / (double)(e - s);
    }
    t->pass[t->npass++] = pass;
}

/* ---- list and search -------------------------------------------------------- */

static double list_groups(herd_registry *reg, const workload *w)
{
    herd_frame *f = NULL;
    double t0 = now_s();
    check(herd_registry_groups(reg, FAMILY, &f), "herd_registry_groups");
    double s = now_s() - t0;
    if (herd_frame_row_count(f) != w->g) {
        fprintf(stderr, "registry_bench: herd_registry_groups gave %zu rows, expected %zu\n",
                herd_frame_row_count(f), w->g);
        exit(1);
    }
    herd_frame_free(f);
    return s;
}

/* herd_registry_versions of up to LIST_SAMPLE groups spread over the keys;
 * per-call microseconds into t (chunks of CHUNK calls). */
static void list_versions_pass(herd_registry *reg, const workload *w, timing *t)
{
    size_t n = w->g < LIST_SAMPLE ? w->g : LIST_SAMPLE;
    double pass = 0;
    for (size_t s = 0; s < n; s += CHUNK) {
        size_t e = n - s < CHUNK ? n : s + CHUNK;
        double dt = 0;
        for (size_t i = s; i < e; i++) {
            size_t g = (size_t)((double)i * (double)w->g / (double)n);
            herd_frame *f = NULL;
            double t0 = now_s();
            int rc = herd_registry_versions(reg, FAMILY, w->keys[g], &f);
            dt += now_s() - t0;
            check(rc, "herd_registry_versions");
            if (herd_frame_row_count(f) != (size_t)w->champ[g]) {
                fprintf(stderr, "registry_bench: herd_registry_versions(%s) gave %zu rows, "
                                "expected %" PRId64 "\n",
                        w->keys[g], herd_frame_row_count(f), w->champ[g]);
                exit(1);
            }
            herd_frame_free(f);
        }
        pass += dt;
        t->chunk_us[t->nchunk++] = dt * 1e6 / (double)(e - s);
    }
    t->pass[t->npass++] = pass;
}

static double search_once(herd_registry *reg, const herd_search_options *so, size_t expect,
                          const char *what)
{
    herd_frame *f = NULL;
    double t0 = now_s();
    check(herd_registry_search(reg, so, &f), what);
    double s = now_s() - t0;
    if (herd_frame_row_count(f) != expect) {
        fprintf(stderr, "registry_bench: %s gave %zu rows, expected %zu\n", what,
                herd_frame_row_count(f), expect);
        exit(1);
    }
    herd_frame_free(f);
    return s;
}

/* ---- output ------------------------------------------------------------------ */

static void json_num(const char *name, double v)
{
    if (isfinite(v)) printf(", \"%s\": %.6g", name, v);
    else printf(", \"%s\": null", name);
}

static void json_int(const char *name, uint64_t v)
{
    printf(", \"%s\": %" PRIu64, name, v);
}

/* true / false when the run is at the scale the target is stated for,
 * null otherwise. */
static void json_target(const char *name, int applies, int met)
{
    printf(", \"%s\": %s", name, !applies ? "null" : met ? "true" : "false");
}

static const char *mib(uint64_t bytes, char *buf, size_t size)
{
    snprintf(buf, size, "%.1f MiB", (double)bytes / 1048576.0);
    return buf;
}

/* ---- --flatness: commit cost as the registry grows ------------------------- */

typedef struct flat_run {
    double total, cpu_total, open_s;
    double first_mean, last_mean, first_median, last_median;         /* wall */
    double first_cpu, last_cpu, first_cpu_median, last_cpu_median; /* CPU */
    size_t deltas;
} flat_run;

static double mean(const double *v, size_t n)
{
    double t = 0;
    for (size_t i = 0; i < n; i++) t += v[i];
    return n ? t / (double)n : 0;
}

static size_t count_index_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, "index-", 6) == 0;
    closedir(d);
    return n;
}

static flat_run flat_measure(const workload *w, const bench_opts *o, const char *name, int tiers)
{
    char path[PATH_MAX];
    path_join(path, sizeof path, scratch, name);
    size_t nb = (w->n + (size_t)o->batch - 1) / (size_t)o->batch, got = 0;
    double *t = calloc(nb, sizeof *t), *c = calloc(nb, sizeof *c), create = 0, add = 0;
    if (!t || !c) {
        fprintf(stderr, "registry_bench: out of memory\n");
        exit(1);
    }
    flat_run r;
    memset(&r, 0, sizeof r);
    r.total = herd_commit_timed(w, path, (size_t)o->batch, tiers, t, c, &create, &add, &got);
    size_t k = got / 10 ? got / 10 : 1;
    r.cpu_total = mean(c, got) * (double)got;
    r.first_mean = mean(t, k);
    r.last_mean = mean(t + got - k, k);
    r.first_median = median(t, k);
    r.last_median = median(t + got - k, k);
    r.first_cpu = mean(c, k);
    r.last_cpu = mean(c + got - k, k);
    r.first_cpu_median = median(c, k);
    r.last_cpu_median = median(c + got - k, k);
    double lo, hi;
    r.open_s = herd_open_median(path, o->repeat, &lo, &hi);
    r.deltas = count_index_files(path);
    free(t);
    free(c);
    return r;
}

/* Both registries are committed in the same run; per-batch means include
 * the checkpoints and merges that fall in those batches. */
static int flatness(const workload *w, const bench_opts *o)
{
    fprintf(stderr, "herd commit, batches of %ld, tiered index...\n", o->batch);
    flat_run tr = flat_measure(w, o, "registry-tiered", 1);
    fprintf(stderr, "herd commit, batches of %ld, whole index rewrites...\n", o->batch);
    flat_run wr = flat_measure(w, o, "registry-whole", 0);
    printf("\ncommit of %zu versions in batches of %ld: per batch (begin + adds + commit), "
           "ms, mean / median over the first and the last 10%% of the batches\n",
           w->n, o->batch);
    printf("                   wall: total s  first 10%%      last 10%%      last/first | "
           "CPU: total s  first 10%%    last 10%%    last/first | open ms  deltas\n");
    const flat_run *runs[] = {&tr, &wr};
    const char *names[] = {"tiered index", "whole rewrites"};
    for (int i = 0; i < 2; i++) {
        const flat_run *r = runs[i];
        printf("  %-16s %10.2f  %6.2f/%-6.2f  %6.2f/%-6.2f  %6.2f     | %10.2f  %5.2f/%-5.2f  "
               "%5.2f/%-5.2f  %6.2f     | %7.2f  %zu\n",
               names[i], r->total, 1e3 * r->first_mean, 1e3 * r->first_median,
               1e3 * r->last_mean, 1e3 * r->last_median, r->last_mean / r->first_mean,
               r->cpu_total, 1e3 * r->first_cpu, 1e3 * r->first_cpu_median, 1e3 * r->last_cpu,
               1e3 * r->last_cpu_median, r->last_cpu / r->first_cpu, 1e3 * r->open_s, r->deltas);
    }
    printf("whole rewrites / tiered: %.2fx the wall time, %.2fx the CPU time\n",
           wr.total / tr.total, wr.cpu_total / tr.cpu_total);
    printf("{\"versions\": %zu, \"batch\": %ld, \"tiny\": %s", w->n, o->batch,
           o->tiny ? "true" : "false");
    for (int i = 0; i < 2; i++) {
        const char *p = i ? "whole" : "tiered";
        const flat_run *r = runs[i];
        printf(", \"%s_total_s\": %.3f, \"%s_cpu_s\": %.3f, \"%s_first10_mean_ms\": %.3f, "
               "\"%s_last10_mean_ms\": %.3f, \"%s_first10_median_ms\": %.3f, "
               "\"%s_last10_median_ms\": %.3f, \"%s_last_vs_first\": %.3f, "
               "\"%s_first10_cpu_ms\": %.3f, \"%s_last10_cpu_ms\": %.3f, "
               "\"%s_cpu_last_vs_first\": %.3f, \"%s_open_ms\": %.3f, "
               "\"%s_delta_files\": %zu",
               p, r->total, p, r->cpu_total, p, 1e3 * r->first_mean, p, 1e3 * r->last_mean, p,
               1e3 * r->first_median, p, 1e3 * r->last_median, p, r->last_mean / r->first_mean,
               p, 1e3 * r->first_cpu, p, 1e3 * r->last_cpu, p, r->last_cpu / r->first_cpu, p,
               1e3 * r->open_s, p, r->deltas);
    }
    printf(", \"whole_vs_tiered_total\": %.3f, \"whole_vs_tiered_cpu\": %.3f",
           wr.total / tr.total, wr.cpu_total / tr.cpu_total);
    json_target("target_tiered_last_vs_first_le_1_5", 1, tr.last_mean / tr.first_mean <= 1.5);
    printf("}\n");
    return 0;
}

/* ---- main ----------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    bench_opts o;
    parse_args(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const char *base = o.dir;
    if (!base) {
        base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
    }
    int w0 = snprintf(scratch, sizeof scratch, "%s/herd_registry_bench_XXXXXX", base);
    if (w0 < 0 || (size_t)w0 >= sizeof scratch || !mkdtemp(scratch)) {
        fprintf(stderr, "registry_bench: cannot create a scratch directory in %s: %s\n", base,
                strerror(errno));
        scratch[0] = '\0';
        return 1;
    }
    keep_scratch = o.keep;
    atexit(cleanup_scratch);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    char reg1[PATH_MAX], reg2[PATH_MAX], folder[PATH_MAX], models[PATH_MAX], demand[PATH_MAX];
    path_join(reg1, sizeof reg1, scratch, "registry-one-batch");
    path_join(reg2, sizeof reg2, scratch, "registry-batched");
    path_join(folder, sizeof folder, scratch, "folder-store");
    path_join(models, sizeof models, folder, "models");
    path_join(demand, sizeof demand, models, FAMILY);

    workload w;
    memset(&w, 0, sizeof w);
    make_workload(&w, &o);
    printf("registry_bench: %zu versions over %zu groups (%s), %s models (%ld rounds%s, "
           "%ld-row groups), %zu distinct trained models cycled over the versions\n",
           w.n, w.g,
           w.n == w.g ? "one version per group" : "round-robin, about n/g versions per group",
           o.tiny ? "tiny" : "default", o.rounds, o.tiny ? ", max_depth 2" : "", o.rows, w.d);
    printf("every version is added with herd_batch_add_bytes and alias \"" ALIAS
           "\" (each group's champion: its last version); scratch: %s%s\n",
           scratch, o.keep ? " (kept)" : "");

    double train_s = train_models(&w, &o);
    total_bytes(&w);
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    printf("training: %zu models in %.2f s (%.1f models/s, %d threads); artifacts: %s for %zu "
           "versions (mean %.0f bytes)\n",
           w.d, train_s, (double)w.d / train_s, o.threads, mib(w.total_bytes, b1, sizeof b1), w.n,
           (double)w.total_bytes / (double)w.n);

    if (o.flatness) {
        int rc = flatness(&w, &o);
        free_workload(&w);
        return rc;
    }

    /* Commit: raw write, herd in one batch, raw write, herd in batches, raw
     * write, folder per version. */
    double raw[3], create1 = 0, create2 = 0, add1 = 0, add2 = 0;
    size_t nb1 = 0, nb2 = 0;
    fprintf(stderr, "raw write 1/3...\n");
    raw[0] = raw_write(&w, scratch);
    fprintf(stderr, "herd commit, one batch...\n");
    double commit_s = herd_commit_all(&w, reg1, w.n, &create1, &add1, &nb1);
    fprintf(stderr, "raw write 2/3...\n");
    raw[1] = raw_write(&w, scratch);
    fprintf(stderr, "herd commit, batches of %ld...\n", o.batch);
    double commit_batched_s = herd_commit_all(&w, reg2, (size_t)o.batch, &create2, &add2, &nb2);
    fprintf(stderr, "raw write 3/3...\n");
    raw[2] = raw_write(&w, scratch);
    fprintf(stderr, "folder per version...\n");
    double folder_s = folder_commit(&w, folder);
    double raw_s = median(raw, 3);

    uint64_t reg1_bytes, reg1_disk, reg2_bytes, reg2_disk, fold_bytes, fold_disk, fold_files,
        reg1_files;
    tree_size(reg1, &reg1_bytes, &reg1_disk, &reg1_files);
    tree_size(reg2, &reg2_bytes, &reg2_disk, NULL);
    tree_size(folder, &fold_bytes, &fold_disk, &fold_files);

    double mbs = (double)w.total_bytes / 1048576.0;
    printf("\ncommit of %zu versions (%s)        seconds   MiB/s   vs raw write\n", w.n,
           mib(w.total_bytes, b1, sizeof b1));
    printf("  raw write + fsync (median of 3)  %9.3f %7.1f   1\n", raw_s, mbs / raw_s);
    printf("  herd, one batch                  %9.3f %7.1f   %.3f\n", commit_s, mbs / commit_s,
           raw_s / commit_s);
    printf("  herd, %zu batch(es) of %-6ld   %9.3f %7.1f   %.3f\n", nb2, o.batch,
           commit_batched_s, mbs / commit_batched_s, raw_s / commit_batched_s);
    printf("  folder per version, durable      %9.3f %7.1f   %.3f\n", folder_s, mbs / folder_s,
           raw_s / folder_s);
    printf("  raw writes: %.3f %.3f %.3f s; creating each registry (open): %.4f, %.4f s\n", raw[0],
           raw[1], raw[2], create1, create2);
    printf("  herd begin + adds / herd_batch_commit: one batch %.3f / %.3f s, batched %.3f / "
           "%.3f s\n",
           add1, commit_s - add1, add2, commit_batched_s - add2);
    printf("herd one batch: %.1fx faster than the folder store (batched: %.1fx)\n",
           folder_s / commit_s, folder_s / commit_batched_s);
    printf("on disk: herd one batch %s in %" PRIu64 " files (%s allocated), batched %s (%s "
           "allocated); folder store %s in %" PRIu64 " files (%s allocated)\n",
           mib(reg1_bytes, b1, sizeof b1), reg1_files, mib(reg1_disk, b2, sizeof b2),
           mib(reg2_bytes, b3, sizeof b3), mib(reg2_disk, b4, sizeof b4),
           mib(fold_bytes, b5, sizeof b5), fold_files, mib(fold_disk, b6, sizeof b6));

    /* Open. */
    double o1lo, o1hi, o2lo, o2hi;
    double open_s = herd_open_median(reg1, o.repeat, &o1lo, &o1hi);
    double open_batched_s = herd_open_median(reg2, o.repeat, &o2lo, &o2hi);
    printf("\nopen (herd_registry_open, fresh handle, median of %d): one-batch registry %.6f s "
           "(%.6f..%.6f), batched registry %.6f s (%.6f..%.6f)\n",
           o.repeat, open_s, o1lo, o1hi, open_batched_s, o2lo, o2hi);

    /* The first pass over every group on a fresh handle: open, then resolve
     * all (herd reads its index in place and checks each part's checksum
     * when first touched, so this includes what open defers). */
    double cold[MAX_REPEAT];
    for (int r = 0; r < o.repeat; r++) {
        timing tc;
        timing_init(&tc, w.g, 1);
        herd_registry *fresh = NULL;
        double t0 = now_s();
        check(herd_registry_open(reg1, NULL, &fresh), "herd_registry_open");
        double t_open = now_s() - t0;
        herd_resolve_pass(fresh, &w, &tc);
        cold[r] = t_open + tc.pass[0];
        herd_registry_free(fresh);
        free(tc.chunk_us);
    }
    double open_resolve_s = median(cold, (size_t)o.repeat);
    printf("open + first resolve of all %zu groups on a fresh handle: %.4f s (median of %d)\n",
           w.g, open_resolve_s, o.repeat);

    /* Resolve every group's champion: herd, folder, hash table,
     * interleaved (each repeat starts with a different one). */
    herd_registry *reg = NULL;
    check(herd_registry_open(reg1, NULL, &reg), "herd_registry_open");
    htable ht;
    htable_build(&ht, &w);
    timing th, tf, tp;
    timing_init(&th, w.g, o.repeat);
    timing_init(&tf, w.g, o.repeat);
    timing_init(&tp, w.g, o.repeat);
    /* Each timed pass of herd or the hash table follows an untimed pass of
     * the same (the folder store's reads would otherwise have just evicted
     * its data from the CPU caches); the folder store gets one untimed
     * pass before the first. */
    timing warm;
    timing_init(&warm, w.g, 2 * o.repeat + 1);
    folder_resolve_pass(demand, &w, &warm);
    for (int r = 0; r < o.repeat; r++) {
        for (int k = 0; k < 3; k++) {
            switch ((r + k) % 3) {
            case 0:
                herd_resolve_pass(reg, &w, &warm);
                herd_resolve_pass(reg, &w, &th);
                break;
            case 1: folder_resolve_pass(demand, &w, &tf); break;
            default:
                hash_probe_pass(&ht, &w, &warm);
                hash_probe_pass(&ht, &w, &tp);
                break;
            }
        }
    }
    free(warm.chunk_us);
    /* The whole family's champions in one call, as a predict or a report
     * over every group asks for them. */
    size_t *order = key_order(&w);
    double bulk[MAX_REPEAT];
    herd_bulk_resolve_pass(reg, &w, order); /* warm */
    for (int r = 0; r < o.repeat; r++) bulk[r] = herd_bulk_resolve_pass(reg, &w, order);
    free(order);
    double resolve_bulk_s = median(bulk, (size_t)o.repeat);
    double resolve_all_s = median(th.pass, (size_t)th.npass);
    double folder_resolve_s = median(tf.pass, (size_t)tf.npass);
    double hash_all_s = median(tp.pass, (size_t)tp.npass);
    double herd_us = median(th.chunk_us, th.nchunk);
    double folder_us = median(tf.chunk_us, tf.nchunk);
    double hash_us = median(tp.chunk_us, tp.nchunk);
    printf("\nresolve the champion of all %zu groups (median of %d passes; per lookup: median "
           "over chunks of %d)\n",
           w.g, o.repeat, CHUNK);
    printf("                                   pass s    us/lookup\n");
    printf("  herd_registry_aliases (1 call)%9.4f %12.3f\n", resolve_bulk_s,
           resolve_bulk_s * 1e6 / (double)w.g);
    printf("  herd_registry_resolve         %9.4f %12.3f\n", resolve_all_s, herd_us);
    printf("  folder: read aliases.json     %9.4f %12.3f\n", folder_resolve_s, folder_us);
    printf("  hash table probe              %9.4f %12.3f\n", hash_all_s, hash_us);
    printf("herd vs folder store: %.1fx faster in one call, %.1fx one lookup at a time; herd "
           "lookup / hash probe: %.2f\n",
           folder_resolve_s / resolve_bulk_s, folder_resolve_s / resolve_all_s, herd_us / hash_us);

    /* List and search. */
    double lg[MAX_REPEAT], sm[MAX_REPEAT], sp[MAX_REPEAT];
    timing tv;
    timing_init(&tv, w.g < LIST_SAMPLE ? w.g : LIST_SAMPLE, o.repeat);
    double *rm = xmalloc(w.n * sizeof *rm);
    for (size_t k = 0; k < w.n; k++) rm[k] = w.art_rmse[ver_model(&w, k)];
    qsort(rm, w.n, sizeof *rm, cmp_double);
    double lo = rm[(size_t)(0.45 * (double)(w.n - 1))], hi = rm[(size_t)(0.55 * (double)(w.n - 1))];
    free(rm);
    size_t expect_metric = 0, expect_pattern = 0;
    for (size_t k = 0; k < w.n; k++) {
        double v = w.art_rmse[ver_model(&w, k)];
        if (v >= lo && v <= hi) expect_metric++;
    }
    for (size_t g = 0; g < w.g; g++)
        if (fnmatch(GROUP_PATTERN, w.keys[g], 0) == 0) expect_pattern += (size_t)w.champ[g];
    herd_search_options som, sop;
    herd_search_options_init(&som, HERD_SEARCH_OPTIONS_VERSION);
    som.family = FAMILY;
    som.metric = "rmse";
    som.metric_min = lo;
    som.metric_max = hi;
    herd_search_options_init(&sop, HERD_SEARCH_OPTIONS_VERSION);
    sop.family = FAMILY;
    sop.group_pattern = GROUP_PATTERN;
    for (int r = 0; r < o.repeat; r++) {
        lg[r] = list_groups(reg, &w);
        list_versions_pass(reg, &w, &tv);
        sm[r] = search_once(reg, &som, expect_metric, "herd_registry_search (metric range)");
        sp[r] = search_once(reg, &sop, expect_pattern, "herd_registry_search (group pattern)");
    }
    double list_s = median(lg, (size_t)o.repeat);
    double versions_us = median(tv.chunk_us, tv.nchunk);
    double search_metric_s = median(sm, (size_t)o.repeat);
    double search_pattern_s = median(sp, (size_t)o.repeat);
    double search_s = search_metric_s + search_pattern_s;
    printf("\nlist: herd_registry_groups (%zu rows) %.4f s; herd_registry_versions %.3f us per "
           "group (%zu groups sampled)\n",
           w.g, list_s, versions_us, w.g < LIST_SAMPLE ? w.g : LIST_SAMPLE);
    printf("search: rmse in [%.6g, %.6g] (%zu rows) %.4f s; group pattern \"" GROUP_PATTERN
           "\" (%zu rows) %.4f s; search_s = the sum, %.4f s\n",
           lo, hi, expect_metric, search_metric_s, expect_pattern, search_pattern_s, search_s);
    herd_registry_free(reg);

    /* Commits beside readers of the same handle. */
    double alone_cps = 0, with_cps = 0;
    uint64_t contend_reads = 0;
    double readers_ratio = commit_with_readers(reg1, &w, o.repeat, &alone_cps, &with_cps,
                                               &contend_reads);
    printf("\ncommits beside readers on one handle (%d writer threads x %d one-version "
           "commits, median of %d): alone %.1f commits/s, with %d reader threads %.1f "
           "commits/s (%" PRIu64 " resolves): commit_with_8_readers_vs_alone %.2f%s\n",
           CONTEND_WRITERS, CONTEND_COMMITS, o.repeat, alone_cps, CONTEND_READERS, with_cps,
           contend_reads, readers_ratio, readers_ratio >= 0.5 ? " (met: >= 0.5)" :
           " (MISSED: target >= 0.5)");

    /* Targets, as the issue states them. */
    double commit_vs_raw = raw_s / commit_s, commit_vs_folder = folder_s / commit_s;
    double resolve_vs_folder = folder_resolve_s / resolve_bulk_s;
    double resolve_each_vs_folder = folder_resolve_s / resolve_all_s;
    double lookup_vs_hash = herd_us / hash_us;
    int at_50k = !o.tiny && w.n >= 50000, at_1m = w.n >= 1000000;
    printf("\ntargets (50,000 versions of 50-round models: commit_vs_raw_write >= 0.5, "
           "commit_vs_folder_per_version >= 10;\n"
           "         1,000,000 versions: resolve_all_vs_folder_per_version >= 50, "
           "alias_lookup_vs_hash_probe <= 3):\n");
    printf("  commit_vs_raw_write %.3f%s, commit_vs_folder_per_version %.1f%s,\n"
           "  resolve_all_vs_folder_per_version %.1f%s, alias_lookup_vs_hash_probe %.2f%s\n",
           commit_vs_raw, at_50k ? (commit_vs_raw >= 0.5 ? " (met)" : " (MISSED)") : "",
           commit_vs_folder, at_50k ? (commit_vs_folder >= 10 ? " (met)" : " (MISSED)") : "",
           resolve_vs_folder, at_1m ? (resolve_vs_folder >= 50 ? " (met)" : " (MISSED)") : "",
           lookup_vs_hash, at_1m ? (lookup_vs_hash <= 3 ? " (met)" : " (MISSED)") : "");
    if (!at_50k || !at_1m)
        printf("  (a target is judged only at its scale; null in the JSON otherwise)\n");
    printf("\n");

    printf("{\"bench\": \"registry_bench\"");
    json_int("versions", w.n);
    json_int("groups", w.g);
    printf(", \"mode\": \"%s\"", o.tiny ? "tiny" : "default");
    json_int("rounds", (uint64_t)o.rounds);
    json_int("rows_per_group", (uint64_t)o.rows);
    json_int("distinct_models", w.d);
    json_int("artifact_bytes", w.total_bytes);
    json_int("batch", (uint64_t)o.batch);
    json_int("threads", (uint64_t)o.threads);
    json_int("repeat", (uint64_t)o.repeat);
    json_num("train_s", train_s);
    json_num("commit_s", commit_s);
    json_num("commit_batched_s", commit_batched_s);
    json_num("commit_add_s", add1);
    json_num("commit_batched_add_s", add2);
    json_num("raw_write_s", raw_s);
    json_num("folder_commit_s", folder_s);
    json_num("commit_vs_raw_write", commit_vs_raw);
    json_num("commit_batched_vs_raw_write", raw_s / commit_batched_s);
    json_num("commit_vs_folder_per_version", commit_vs_folder);
    json_num("commit_batched_vs_folder_per_version", folder_s / commit_batched_s);
    json_num("open_s", open_s);
    json_num("open_batched_s", open_batched_s);
    json_num("open_then_resolve_all_s", open_resolve_s);
    json_num("resolve_all_s", resolve_bulk_s);
    json_num("resolve_each_s", resolve_all_s);
    json_num("folder_resolve_all_s", folder_resolve_s);
    json_num("hash_probe_all_s", hash_all_s);
    json_num("resolve_all_vs_folder_per_version", resolve_vs_folder);
    json_num("resolve_each_vs_folder_per_version", resolve_each_vs_folder);
    json_num("alias_lookup_us_median", herd_us);
    json_num("folder_lookup_us_median", folder_us);
    json_num("hash_probe_us_median", hash_us);
    json_num("alias_lookup_vs_hash_probe", lookup_vs_hash);
    json_num("list_s", list_s);
    json_num("list_versions_us_median", versions_us);
    json_num("search_s", search_s);
    json_num("search_metric_s", search_metric_s);
    json_int("search_metric_rows", expect_metric);
    json_num("search_pattern_s", search_pattern_s);
    json_int("search_pattern_rows", expect_pattern);
    json_int("registry_bytes", reg1_bytes);
    json_int("registry_batched_bytes", reg2_bytes);
    json_int("folder_bytes", fold_bytes);
    json_int("folder_disk_bytes", fold_disk);
    json_int("folder_files", fold_files);
    json_num("commit_alone_per_s", alone_cps);
    json_num("commit_with_8_readers_per_s", with_cps);
    json_num("commit_with_8_readers_vs_alone", readers_ratio);
    json_target("target_commit_with_8_readers_vs_alone", 1, readers_ratio >= 0.5);
    json_target("target_commit_vs_raw_write", at_50k, commit_vs_raw >= 0.5);
    json_target("target_commit_vs_folder_per_version", at_50k, commit_vs_folder >= 10);
    json_target("target_resolve_all_vs_folder_per_version", at_1m, resolve_vs_folder >= 50);
    json_target("target_alias_lookup_vs_hash_probe", at_1m, lookup_vs_hash <= 3);
    printf("}\n");

    free(th.chunk_us), free(tf.chunk_us), free(tp.chunk_us), free(tv.chunk_us);
    free(ht.slots), free(ht.strings);
    free_workload(&w);
    return 0;
}
