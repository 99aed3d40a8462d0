/* csv_bench -- herd_frame_read_csv against pandas.read_csv, in one run.
 *
 *   csv_bench [--rows N] [--keep FILE]
 *
 * Generates (deterministically, in C) a CSV shaped like the project's
 * "many" workload (tests/bench/peer.py): a key column `group` (g000123,
 * 50,000 distinct values, rows sorted by group), five float32 features
 * f0..f4 and a float32 `label`, all written with 9 significant digits.
 * Then, on that file:
 *
 *   herd    3 runs with the default options (threads 0: every CPU this
 *           process may use) and 3 with threads 1, interleaved, each in a
 *           forked child so that peak RSS is per run: the
 *           child reads the CSV, measures the read's wall time and the
 *           size of the parsed columns (values + masks + pointer arrays +
 *           distinct string bytes, counted through herd_frame_column_data);
 *           the parent takes the child's ru_maxrss from wait4.  The
 *           baseline is the ru_maxrss of an idle child forked the same way.
 *   pandas  3 runs of Debian's /usr/bin/python3 (not the python3 on PATH)
 *           with pandas.read_csv, timed and measured inside the script.
 *
 * Prints a table, then one JSON object as the last line.  Peaks are the
 * largest of the 3 runs; times are medians.  MB are MiB (2^20 bytes).
 * The generated file is removed at exit unless --keep FILE names it.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "herd.h"

#define RUNS 3
#define GROUPS 50000
#define FEATURES 5
#define PYTHON "/usr/bin/python3"
#define MIB (1024.0 * 1024.0)

/* The temporary file, for the signal handler (a program, not the library:
 * one global is the simple way for a handler to find it). */
static char g_tmp_path[4096];

static void remove_tmp_and_die(int sig)
{
    if (g_tmp_path[0]) unlink(g_tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "csv_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (g_tmp_path[0]) unlink(g_tmp_path);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------
 * Data generation
 * --------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 random bits, as a float32 like numpy's. */
static float rng_f32(rng *r)
{
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

static double rng_normal(rng *r)
{
    double u = ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void generate(const char *path, size_t rows)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) die("cannot create %s: %s", path, strerror(errno));
    static char iobuf[1 << 22];
    setvbuf(fp, iobuf, _IOFBF, sizeof iobuf);
    rng r = {42};
    double w[FEATURES], *shift = malloc(GROUPS * sizeof *shift);
    if (!shift) die("out of memory");
    for (int j = 0; j < FEATURES; j++) w[j] = rng_normal(&r);
    for (int g = 0; g < GROUPS; g++) shift[g] = rng_normal(&r);
    size_t per_group = rows / GROUPS ? rows / GROUPS : 1;
    fputs("group,f0,f1,f2,f3,f4,label\n", fp);
    for (size_t i = 0; i < rows; i++) {
        size_t g = i / per_group < GROUPS ? i / per_group : GROUPS - 1;
        double y = shift[g] + 0.1 * rng_normal(&r);
        fprintf(fp, "g%06zu", g);
        for (int j = 0; j < FEATURES; j++) {
            float x = rng_f32(&r);
            y += w[j] * x;
            fprintf(fp, ",%.9g", (double)x);
        }
        fprintf(fp, ",%.9g\n", (double)(float)y);
    }
    free(shift);
    if (fclose(fp)) die("cannot write %s: %s", path, strerror(errno));
}

/* ------------------------------------------------------------------------
 * herd runs, one child each
 * --------------------------------------------------------------------- */

typedef struct herd_result {
    int rc;
    double seconds;
    uint64_t nrows;
    double parsed_bytes;
    char error[512];
} herd_result;

/* Distinct non-NULL pointers of a string column and their bytes. */
static double distinct_string_bytes(const char *const *v, size_t n)
{
    size_t cap = 1024, count = 0;
    const char **set = calloc(cap, sizeof *set);
    double bytes = 0;
    if (!set) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) continue;
        uintptr_t h = (uintptr_t)v[i] * 0x9E3779B97F4A7C15ULL;
        size_t k = (size_t)(h >> 17) & (cap - 1);
        while (set[k] && set[k] != v[i]) k = (k + 1) & (cap - 1);
        if (set[k]) continue;
        set[k] = v[i];
        bytes += (double)strlen(v[i]) + 1;
        if (++count * 2 > cap) { /* rehash into a table twice the size */
            const char **ns = calloc(cap * 2, sizeof *ns);
            if (!ns) {
                free(set);
                return -1;
            }
            for (size_t j = 0; j < cap; j++) {
                if (!set[j]) continue;
                uintptr_t hj = (uintptr_t)set[j] * 0x9E3779B97F4A7C15ULL;
                size_t m = (size_t)(hj >> 17) & (cap * 2 - 1);
                while (ns[m]) m = (m + 1) & (cap * 2 - 1);
                ns[m] = set[j];
            }
            free(set);
            set = ns;
            cap *= 2;
        }
    }
    free(set);
    return bytes;
}

/* Bytes of the parsed columns: what any reader must hold at the end. */
static double parsed_bytes(const herd_frame *f)
{
    size_t n = herd_frame_row_count(f);
    double total = 0;
    for (size_t j = 0; j < herd_frame_column_count(f); j++) {
        const void *data;
        size_t stride;
        const uint8_t *mask;
        if (herd_frame_column_data(f, j, &data, &stride, &mask)) return -1;
        total += (double)n * (double)stride;
        if (mask) total += (double)n;
        if (herd_frame_column_type(f, j) == HERD_TYPE_STRING) {
            double b = distinct_string_bytes(data, n);
            if (b < 0) return -1;
            total += b;
        }
    }
    return total;
}

static void child_read(const char *path, int threads, int fd)
{
    herd_result res;
    memset(&res, 0, sizeof res);
    herd_frame *f = NULL;
    herd_csv_options opt;
    herd_csv_options_init(&opt, HERD_CSV_OPTIONS_VERSION);
    opt.threads = threads;
    double t0 = now_s();
    res.rc = herd_frame_read_csv(path, &opt, &f);
    res.seconds = now_s() - t0;
    if (res.rc) {
        snprintf(res.error, sizeof res.error, "%s", herd_last_error());
    } else {
        res.nrows = herd_frame_row_count(f);
        res.parsed_bytes = parsed_bytes(f);
    }
    ssize_t w = write(fd, &res, sizeof res);
    herd_frame_free(f);
    _exit(w == (ssize_t)sizeof res ? 0 : 1);
}

/* Fork a child that reads the CSV into `res` (or, when res is NULL, exits
 * at once: the idle baseline), and
 * return the child's peak RSS in KiB. */
static long run_child(const char *path, int threads, herd_result *res)
{
    int p[2];
    if (pipe(p)) die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        if (res) child_read(path, threads, p[1]);
        _exit(0);
    }
    close(p[1]);
    if (res) {
        memset(res, 0, sizeof *res);
        size_t got = 0;
        while (got < sizeof *res) {
            ssize_t n = read(p[0], (char *)res + got, sizeof *res - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got != sizeof *res) die("the reading child died before reporting");
    }
    close(p[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) die("wait4: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status)) die("a child failed (status %d)", status);
    return ru.ru_maxrss;
}

/* ------------------------------------------------------------------------
 * pandas runs
 * --------------------------------------------------------------------- */

static const char pandas_script[] =
    "import json, resource, sys, time\n"
    "import pandas as pd\n"
    "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "t0 = time.perf_counter()\n"
    "df = pd.read_csv(sys.argv[1])\n"
    "t = time.perf_counter() - t0\n"
    "print(json.dumps({'seconds': t, 'rows': len(df), 'import_kb': base,\n"
    "                  'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n";

typedef struct pandas_result {
    double seconds;
    long rows, import_kb, maxrss_kb;
} pandas_result;

/* Run the script; 0 on success.  Any failure (no python, no pandas) is
 * reported and gives -1. */
static int run_pandas(const char *path, pandas_result *res)
{
    int p[2];
    if (pipe(p)) die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        execl(PYTHON, PYTHON, "-c", pandas_script, path, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char out[1024];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(p[0], out + got, sizeof out - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status)) return -1;
    if (sscanf(out, "{\"seconds\": %lf, \"rows\": %ld, \"import_kb\": %ld, \"maxrss_kb\": %ld}",
               &res->seconds, &res->rows, &res->import_kb, &res->maxrss_kb) != 4)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Main
 * --------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double v[RUNS])
{
    double s[RUNS];
    memcpy(s, v, sizeof s);
    qsort(s, RUNS, sizeof *s, cmp_double);
    return s[RUNS / 2];
}

static void usage(void)
{
    fprintf(stderr, "usage: csv_bench [--rows N] [--keep FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t rows = 10000000;
    const char *keep = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v == 0) usage();
            rows = (size_t)v;
        } else if (!strcmp(argv[i], "--keep") && i + 1 < argc) {
            keep = argv[++i];
        } else {
            usage();
        }
    }

    char path[4096];
    if (keep) {
        snprintf(path, sizeof path, "%s", keep);
    } else {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/herd-csv-bench-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) die("mkstemp %s: %s", path, strerror(errno));
        close(fd);
        snprintf(g_tmp_path, sizeof g_tmp_path, "%s", path);
        signal(SIGINT, remove_tmp_and_die);
        signal(SIGTERM, remove_tmp_and_die);
    }

    fprintf(stderr, "generating %zu rows into %s ...\n", rows, path);
    double t0 = now_s();
    generate(path, rows);
    struct stat st;
    if (stat(path, &st)) die("stat %s: %s", path, strerror(errno));
    double file_mb = (double)st.st_size / MIB;
    fprintf(stderr, "generated %.1f MiB in %.1f s\n", file_mb, now_s() - t0);

    /* herd */
    long base_kb = run_child(path, 0, NULL);
    double herd_s[RUNS], one_s[RUNS], parsed = 0;
    long herd_peak_kb = 0, one_peak_kb = 0;
    int threads = herd_default_threads();
    /* Default options (threads 0: herd_default_threads()) and one thread,
     * interleaved so that both see the same machine. */
    for (int i = 0; i < 2 * RUNS; i++) {
        herd_result res;
        int one = i % 2;
        long kb = run_child(path, one ? 1 : 0, &res);
        if (res.rc) die("herd_frame_read_csv failed: %s", res.error);
        if (res.nrows != rows) die("herd read %" PRIu64 " rows, expected %zu", res.nrows, rows);
        (one ? one_s : herd_s)[i / 2] = res.seconds;
        parsed = res.parsed_bytes;
        long *peak = one ? &one_peak_kb : &herd_peak_kb;
        if (kb > *peak) *peak = kb;
        fprintf(stderr, "herd run %d (%d thread%s): %.3f s, peak RSS %.1f MiB\n", i / 2 + 1,
                one ? 1 : threads, one || threads == 1 ? "" : "s", res.seconds,
                (double)kb / 1024.0);
    }
    double herd_med = median3(herd_s), one_med = median3(one_s);
    double herd_peak_mb = (double)herd_peak_kb / 1024.0;
    double parsed_mb = parsed / MIB;
    double peak_vs_cols = ((double)(herd_peak_kb - base_kb) * 1024.0) / parsed;

    /* pandas */
    int have_pandas = access(PYTHON, X_OK) == 0;
    double pd_s[RUNS], pd_med = 0, pd_peak_mb = 0, pd_import_mb = 0;
    for (int i = 0; have_pandas && i < RUNS; i++) {
        pandas_result pr;
        if (run_pandas(path, &pr) || pr.rows != (long)rows) {
            have_pandas = 0;
            break;
        }
        pd_s[i] = pr.seconds;
        if (pr.maxrss_kb / 1024.0 > pd_peak_mb) pd_peak_mb = pr.maxrss_kb / 1024.0;
        pd_import_mb = pr.import_kb / 1024.0;
        fprintf(stderr, "pandas run %d: %.3f s, peak RSS %.1f MiB\n", i + 1, pr.seconds,
                pr.maxrss_kb / 1024.0);
    }
    if (have_pandas) pd_med = median3(pd_s);
    else printf("note: %s with pandas is not available; pandas figures are null\n", PYTHON);

    printf("\nCSV read: %zu rows, %.1f MiB file (group + 5 features + label)\n", rows, file_mb);
    printf("%-8s %12s %14s %18s\n", "reader", "median s", "peak RSS MiB", "peak-idle / cols");
    printf("%-8s %12.3f %14.1f %18.2f   %.1f MiB/s, %d threads\n", "herd", herd_med, herd_peak_mb,
           peak_vs_cols, file_mb / herd_med, threads);
    printf("%-8s %12.3f %14.1f %18s   %.1f MiB/s, 1 thread\n", "herd", one_med,
           (double)one_peak_kb / 1024.0, "-", file_mb / one_med);
    printf("herd with %d threads reads %.2fx as fast as with one\n", threads, one_med / herd_med);
    if (have_pandas)
        printf("%-8s %12.3f %14.1f %18s\n", "pandas", pd_med, pd_peak_mb, "-");
    printf("parsed columns: %.1f MiB; idle child RSS %.1f MiB", parsed_mb, base_kb / 1024.0);
    if (have_pandas) printf("; python+pandas after import %.1f MiB", pd_import_mb);
    printf("\n");
    if (have_pandas) printf("herd is %.2fx faster than pandas.read_csv\n", pd_med / herd_med);

    char pd_time[32] = "null", pd_ratio[32] = "null", pd_peak[32] = "null";
    if (have_pandas) {
        snprintf(pd_time, sizeof pd_time, "%.3f", pd_med);
        snprintf(pd_ratio, sizeof pd_ratio, "%.2f", pd_med / herd_med);
        snprintf(pd_peak, sizeof pd_peak, "%.1f", pd_peak_mb);
    }
    printf("{\"rows\":%zu,\"file_mb\":%.1f,\"herd_read_s_median\":%.3f,"
           "\"pandas_read_s_median\":%s,\"herd_vs_pandas\":%s,\"herd_peak_mb\":%.1f,"
           "\"parsed_columns_mb\":%.1f,\"herd_peak_vs_columns\":%.3f,\"pandas_peak_mb\":%s,"
           "\"threads\":%d,\"herd_mb_s\":%.1f,\"herd_1thread_read_s_median\":%.3f,"
           "\"herd_1thread_mb_s\":%.1f,\"herd_1thread_peak_mb\":%.1f,"
           "\"threads_vs_1thread\":%.2f}\n",
           rows, file_mb, herd_med, pd_time, pd_ratio, herd_peak_mb, parsed_mb, peak_vs_cols,
           pd_peak, threads, file_mb / herd_med, one_med, file_mb / one_med,
           (double)one_peak_kb / 1024.0, one_med / herd_med);

    if (!keep) unlink(path);
    return 0;
}
