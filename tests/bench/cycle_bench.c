/* cycle_bench.c -- the weekly cycle end to end, against fitting alone and
 * against the Python peer fitting alone, in one run.
 *
 *   cycle_bench [--groups N] [--rows R] [--threads T] [--peer PATH]
 *               [--no-peer] [--no-small]
 *
 * The data is the peer's `--workload many` table (N groups of R rows, five
 * float features, written by tests/bench/peer.py with Debian's
 * /usr/bin/python3), read with herd_frame_read_csv and grouped by "group";
 * each group's i-th row is week i.  Week 2 is the same table a period later
 * with new noise on every label (N(0, 0.1), as the peer draws it) and every
 * fifth group drifted (its label gains 2 * f0): every group trains a new
 * model, and the drifted groups' champions lose.  The comparison asks for
 * a 5% improvement (min_rel_delta), so chance does not promote the rest.
 * On a fresh registry, with herd's default parameters, it times:
 *   week 1: herd_cycle (first champions), with its phases;
 *   week 2: herd_cycle (real comparisons, some promotions), with its phases;
 *   predict: herd_registry_predict of every row from the champions, on a
 *            fresh handle (nothing prepared yet);
 *   fit only: herd_fit on exactly the rows the cycle trains on;
 *   peer: peer.py --jobs T --rounds 100 on the same table, fit only (its
 *         own timer, from its groupby on).
 * Memory: peak_rss_bytes is the process's peak resident memory during the
 * two cycles (the kernel's high-water mark, reset once the data are read
 * and grouped); work_rss_bytes that peak less the memory held right after
 * reading and grouping.  Unless --no-small, the same program runs again in
 * a child process at N/5 groups (same rows per group) for
 * work_rss_10k_vs_50k: that run's work_rss_bytes over this one's.
 * Prints a few lines, then one JSON line (the last).  docs/performance.md
 * has the figures and the targets. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "herd.h"

extern char **environ;

#define PYTHON "/usr/bin/python3"
#define NF 5
#define ROUNDS "100" /* herd's default, given to the peer */

static const char *const feature_names[NF] = {"f0", "f1", "f2", "f3", "f4"};

typedef struct bench_opts {
    long groups, rows;
    int threads, peer, small;
    const char *peer_path;
} bench_opts;

/* ---- small helpers ------------------------------------------------------ */

static void check(int rc, const char *what)
{
    if (rc == HERD_OK) return;
    fprintf(stderr, "cycle_bench: %s: %s (%s)\n", what, herd_status_str(rc),
            herd_last_error());
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "cycle_bench: %s needs an integer in %ld..%ld (got '%s')\n", opt, lo,
                hi, v ? v : "nothing");
        exit(2);
    }
    return x;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: cycle_bench [--groups N] [--rows R] [--threads T] [--peer PATH]\n"
                "                   [--no-peer] [--no-small]\n"
                "defaults: 50000 groups of 200 rows (the issue's workload; give --groups to\n"
                "run smaller), threads = the CPUs this process may use.  --peer (or env\n"
                "HERD_BENCH_PEER) names tests/bench/peer.py; by default the source tree's.\n");
}

static void parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.groups = 50000, .rows = 200, .threads = herd_default_threads(),
                      .peer = 1, .small = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--groups")) o->groups = parse_long(a, v, 5, 10000000), i++;
        else if (!strcmp(a, "--rows")) o->rows = parse_long(a, v, 10, 1000000), i++;
        else if (!strcmp(a, "--threads")) o->threads = (int)parse_long(a, v, 1, 1024), i++;
        else if (!strcmp(a, "--peer")) o->peer_path = v, i++;
        else if (!strcmp(a, "--no-peer")) o->peer = 0;
        else if (!strcmp(a, "--no-small")) o->small = 0;
        else if (!strcmp(a, "--help")) usage(stdout), exit(0);
        else {
            fprintf(stderr, "cycle_bench: unknown argument '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (!o->peer_path) o->peer_path = getenv("HERD_BENCH_PEER");
#ifdef HERD_BENCH_PEER_DEFAULT
    if (!o->peer_path) o->peer_path = HERD_BENCH_PEER_DEFAULT;
#endif
    if (!o->peer_path) {
        fprintf(stderr, "cycle_bench: give the path of tests/bench/peer.py with --peer\n");
        exit(2);
    }
}

/* ---- files and child processes ------------------------------------------ */

static char work_dir[PATH_MAX];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void cleanup(void)
{
    if (work_dir[0]) nftw(work_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Run argv with posix_spawn (never fork a process that started libgomp's
 * threads); capture its stdout when `out`.  Returns the exit status. */
static int run_child(char *const argv[], char **out)
{
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out && pipe2(fds, O_CLOEXEC) != 0) {
        perror("cycle_bench: pipe");
        exit(1);
    }
    if (out) posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out) close(fds[1]);
    if (err) {
        fprintf(stderr, "cycle_bench: cannot run %s: %s\n", argv[0], strerror(err));
        exit(1);
    }
    if (out) {
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        for (;;) {
            if (!buf) {
                fprintf(stderr, "cycle_bench: out of memory\n");
                exit(1);
            }
            if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
            if (!buf) continue;
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

/* The number after "key": in the last JSON line of `text`, or NAN. */
static double json_number(const char *text, const char *key)
{
    const char *line = NULL;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (*p == '{') line = p;
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = line ? strstr(line, pat) : NULL;
    return at ? strtod(at + strlen(pat), NULL) : NAN;
}

/* ---- memory -------------------------------------------------------------- */

/* A field of /proc/self/status in bytes (VmRSS, VmHWM). */
static double proc_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = NAN;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') v = strtod(line + n + 1, NULL) * 1024;
    if (f) fclose(f);
    return v;
}

/* Reset the kernel's high-water mark of resident memory to the current
 * resident size ("5" to clear_refs, Linux 4.0 and later). */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f || fputs("5", f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cycle_bench: cannot reset the peak memory through "
                        "/proc/self/clear_refs\n");
        exit(1);
    }
}

static double dir_bytes_total;

static int add_size(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p;
    (void)f;
    if (flag == FTW_F) dir_bytes_total += (double)st->st_size;
    return 0;
}

static double dir_bytes(const char *path)
{
    dir_bytes_total = 0;
    nftw(path, add_size, 16, FTW_PHYS);
    return dir_bytes_total;
}

/* ---- data ------------------------------------------------------------------ */

typedef struct week {
    herd_frame *frame;
    herd_groups *groups;
} week;

/* A standard normal draw (Box-Muller over splitmix64). */
static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        u[i] = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Week w (1 or 2) of the table: the week column, and for week 2 the drift
 * of every fifth group. */
static void make_week(herd_frame *base, const herd_groups *g, int w, week *out)
{
    size_t n = herd_frame_row_count(base), lc;
    double *t = malloc(n * sizeof *t);
    if (!t) check(HERD_ENOMEM, "the week column");
    for (size_t k = 0; k < herd_groups_count(g); k++) {
        const size_t *rows = NULL;
        size_t m = 0;
        check(herd_groups_rows(g, k, &rows, &m), "rows");
        for (size_t i = 0; i < m; i++) t[rows[i]] = (double)((w - 1) * (long)m + (long)i);
    }
    herd_frame *f = NULL;
    /* week 1 is the table itself; week 2 a copy with drifted labels */
    if (w == 1) {
        f = base;
    } else {
        size_t *all = malloc(n * sizeof *all);
        for (size_t i = 0; i < n; i++) all[i] = i;
        check(herd_frame_take(base, all, n, &f), "week 2's copy");
        free(all);
        check(herd_frame_find(f, "label", &lc), "label");
        size_t fc;
        check(herd_frame_find(f, "f0", &fc), "f0");
        const void *ld = NULL, *fd = NULL;
        size_t ls = 0, fs = 0;
        const uint8_t *mask = NULL;
        check(herd_frame_column_data(f, lc, &ld, &ls, &mask), "label data");
        check(herd_frame_column_data(f, fc, &fd, &fs, &mask), "f0 data");
        uint64_t s = 0x5eed;
        for (size_t k = 0; k < herd_groups_count(g); k++) {
            const size_t *rows = NULL;
            size_t m = 0;
            check(herd_groups_rows(g, k, &rows, &m), "rows");
            for (size_t i = 0; i < m; i++) {
                double *y = (double *)((char *)ld + rows[i] * ls);
                *y += 0.1 * gauss(&s);
                if (k % 5 == 0) *y += 2 * *(const double *)((const char *)fd + rows[i] * fs);
            }
        }
    }
    check(herd_frame_add_column(f, "week", HERD_TYPE_FLOAT64, t, n, NULL), "week");
    free(t);
    const char *keys[] = {"group"};
    out->frame = f;
    check(herd_groups_new(f, keys, 1, &out->groups), "grouping");
}

/* ---- the cycle, with its phases ---------------------------------------------- */

#define MAX_PHASES 8

typedef struct phase_clock {
    char name[MAX_PHASES][16];
    double start[MAX_PHASES];
    int n;
    double end;
} phase_clock;

static int on_progress(const herd_progress *p, void *user)
{
    phase_clock *c = user;
    if (p->phase && (c->n == 0 || strcmp(c->name[c->n - 1], p->phase)) && c->n < MAX_PHASES) {
        snprintf(c->name[c->n], sizeof c->name[0], "%s", p->phase);
        c->start[c->n++] = now_s();
    }
    return 0;
}

static double phase_s(const phase_clock *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->name[i], name)) return (i + 1 < c->n ? c->start[i + 1] : c->end) -
                                              c->start[i];
    return 0;
}

typedef struct cycle_out {
    double seconds;
    phase_clock phases;
    size_t promoted, first, keep, failed;
} cycle_out;

static void fit_defaults(herd_fit_options *fo)
{
    check(herd_fit_options_init(fo, HERD_FIT_OPTIONS_VERSION), "fit options");
    fo->features = feature_names;
    fo->n_features = NF;
    fo->label = "label";
}

static void run_cycle(herd_registry *reg, const week *w, const char *run, int threads,
                      cycle_out *out)
{
    herd_fit_options fo;
    fit_defaults(&fo);
    herd_cycle_options co;
    check(herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION), "cycle options");
    co.family = "demand";
    co.run_id = run;
    co.holdout_order_by = "week";
    herd_compare_options cmp;
    check(herd_compare_options_init(&cmp, HERD_COMPARE_OPTIONS_VERSION), "compare options");
    cmp.min_rel_delta = 0.05;
    co.compare = &cmp;
    herd_apply_options ao;
    check(herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION), "apply options");
    ao.threads = threads;
    ao.progress = on_progress;
    ao.progress_user = &out->phases;
    ao.progress_interval_s = 3600;
    memset(&out->phases, 0, sizeof out->phases);
    herd_frame *d = NULL, *s = NULL;
    double t = now_s();
    check(herd_cycle(reg, w->groups, &fo, &co, &ao, &d, &s), run);
    out->phases.end = now_s();
    out->seconds = out->phases.end - t;
    size_t dc, pc;
    check(herd_frame_find(d, "decision", &dc), "decision");
    check(herd_frame_find(d, "promoted", &pc), "promoted");
    out->promoted = out->first = out->keep = out->failed = 0;
    for (size_t i = 0; i < herd_frame_row_count(d); i++) {
        const char *v = NULL;
        check(herd_frame_get_string(d, dc, i, &v), "decision cell");
        out->promoted += !strcmp(v, "promote");
        out->first += !strcmp(v, "first");
        out->keep += !strcmp(v, "keep");
        out->failed += !strcmp(v, "failed");
    }
    herd_frame_free(d);
    herd_frame_free(s);
}

/* herd_fit on exactly the rows the cycle trains on: each group's rows but
 * its last 20% by week. */
static double fit_only(const week *w, int threads)
{
    size_t n = herd_frame_row_count(w->frame), m = 0;
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t k = 0; k < herd_groups_count(w->groups); k++) {
        const size_t *r = NULL;
        size_t c = 0;
        check(herd_groups_rows(w->groups, k, &r, &c), "rows");
        size_t hold = (size_t)ceil(0.2 * (double)c); /* rows are in week order */
        for (size_t i = 0; i + hold < c; i++) rows[m++] = r[i];
    }
    herd_frame *f = NULL;
    check(herd_frame_take(w->frame, rows, m, &f), "training rows");
    free(rows);
    const char *keys[] = {"group"};
    herd_groups *g = NULL;
    check(herd_groups_new(f, keys, 1, &g), "grouping the training rows");
    herd_fit_options fo;
    fit_defaults(&fo);
    herd_apply_options ao;
    check(herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION), "apply options");
    ao.threads = threads;
    herd_fit_result *res = NULL;
    double t = now_s();
    check(herd_fit(g, &fo, &ao, &res), "herd_fit");
    t = now_s() - t;
    herd_fit_result_free(res);
    herd_groups_free(g);
    herd_frame_free(f);
    return t;
}

static double predict_all(const char *path, const week *w, int threads, size_t *without)
{
    herd_registry *reg = NULL;
    check(herd_registry_open(path, NULL, &reg), "opening the registry again");
    herd_registry_predict_options po;
    check(herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION),
          "predict options");
    po.family = "demand";
    herd_apply_options ao;
    check(herd_apply_options_init(&ao, HERD_APPLY_OPTIONS_VERSION), "apply options");
    ao.threads = threads;
    herd_frame *out = NULL;
    double t = now_s();
    check(herd_registry_predict(reg, w->groups, &po, &ao, &out, without), "predict");
    t = now_s() - t;
    herd_frame_free(out);
    herd_registry_free(reg);
    return t;
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    bench_opts o;
    parse_args(argc, argv, &o);
    const char *tmp = getenv("TMPDIR");
    snprintf(work_dir, sizeof work_dir, "%s/cycle_bench_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work_dir)) {
        perror("cycle_bench: mkdtemp");
        return 1;
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char csv[PATH_MAX + 16], regpath[PATH_MAX + 16], groups[32], rows[32], jobs[32];
    snprintf(csv, sizeof csv, "%s/data.csv", work_dir);
    snprintf(regpath, sizeof regpath, "%s/registry", work_dir);
    snprintf(groups, sizeof groups, "%ld", o.groups);
    snprintf(rows, sizeof rows, "%ld", o.rows);
    snprintf(jobs, sizeof jobs, "%d", o.threads);

    /* The small run first, in a child: its memory is not ours. */
    double small_work = NAN;
    long small_groups = o.groups / 5;
    if (o.small) {
        char sg[32], th[32];
        snprintf(sg, sizeof sg, "%ld", small_groups);
        snprintf(th, sizeof th, "%d", o.threads);
        char *args[] = {argv[0], "--groups", sg, "--rows", rows, "--threads", th,
                        "--peer", (char *)o.peer_path, "--no-peer", "--no-small", NULL};
        char *text = NULL;
        char self[PATH_MAX];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
        if (sl > 0) {
            self[sl] = '\0';
            args[0] = self;
        }
        if (run_child(args, &text) != 0) {
            fprintf(stderr, "cycle_bench: the run at %ld groups failed:\n%s\n", small_groups,
                    text ? text : "");
            return 1;
        }
        small_work = json_number(text, "work_rss_bytes");
        free(text);
    }

    char *gen[] = {PYTHON, (char *)o.peer_path, "--workload", "many", "--groups", groups,
                   "--rows", rows, "--write-csv", csv, "--no-fit", NULL};
    if (run_child(gen, NULL) != 0) {
        fprintf(stderr, "cycle_bench: %s %s --write-csv failed; it needs Debian's "
                        "python3-numpy, python3-pandas, python3-xgboost, python3-joblib\n",
                PYTHON, o.peer_path);
        return 1;
    }
    herd_csv_options csvo;
    check(herd_csv_options_init(&csvo, HERD_CSV_OPTIONS_VERSION), "csv options");
    double t_read = now_s();
    herd_frame *base = NULL;
    check(herd_frame_read_csv(csv, &csvo, &base), "reading the table");
    const char *keys[] = {"group"};
    herd_groups *bg = NULL;
    check(herd_groups_new(base, keys, 1, &bg), "grouping");
    week w1, w2;
    make_week(base, bg, 2, &w2);
    make_week(base, bg, 1, &w1);
    herd_groups_free(bg);
    t_read = now_s() - t_read;
    unlink(csv);
    double base_rss = proc_status_bytes("VmRSS");
    reset_peak();

    herd_registry *reg = NULL;
    check(herd_registry_open(regpath, NULL, &reg), "opening the registry");
    cycle_out c1, c2;
    run_cycle(reg, &w1, "week-1", o.threads, &c1);
    run_cycle(reg, &w2, "week-2", o.threads, &c2);
    herd_registry_free(reg);
    double peak = proc_status_bytes("VmHWM");
    double work = peak - base_rss;
    double reg_bytes = dir_bytes(regpath);
    size_t without = 0;
    reset_peak();
    double rss0 = proc_status_bytes("VmRSS");
    double t_predict = predict_all(regpath, &w2, o.threads, &without);
    double predict_work = proc_status_bytes("VmHWM") - rss0;
    double t_fit = fit_only(&w2, o.threads);

    double peer_s = NAN;
    if (o.peer) {
        char *args[] = {PYTHON, (char *)o.peer_path, "--workload", "many", "--groups", groups,
                        "--rows", rows, "--rounds", ROUNDS, "--jobs", jobs, NULL};
        char *text = NULL;
        if (run_child(args, &text) != 0) {
            fprintf(stderr, "cycle_bench: the peer failed:\n%s\n", text ? text : "");
            return 1;
        }
        peer_s = json_number(text, "seconds");
        free(text);
    }
    double n = (double)o.groups;
    printf("cycle_bench: %ld groups x %ld rows, %d threads; read+group %.1f s\n", o.groups,
           o.rows, o.threads, t_read);
    printf("  week 1: %.1f s (%zu first); week 2: %.1f s (%zu promoted, %zu kept, %zu "
           "failed)\n", c1.seconds, c1.first, c2.seconds, c2.promoted, c2.keep, c2.failed);
    printf("  week 2 phases: fit %.1f s, register %.1f s, compare %.1f s, promote %.1f s\n",
           phase_s(&c2.phases, "fit"), phase_s(&c2.phases, "register"),
           phase_s(&c2.phases, "compare"), phase_s(&c2.phases, "promote"));
    printf("  predict %.1f s; fit only %.1f s; peer fit only %.1f s\n", t_predict, t_fit,
           peer_s);
    printf("  memory: %.0f MB after reading, peak %.0f MB, work %.0f MB\n", base_rss / 1e6,
           peak / 1e6, work / 1e6);
    printf("{\"bench\": \"cycle\", \"groups\": %ld, \"rows_per_group\": %ld, \"threads\": %d, "
           "\"read_s\": %.3f, "
           "\"week1_s\": %.3f, \"week1_split_s\": %.3f, \"week1_fit_s\": %.3f, "
           "\"week1_register_s\": %.3f, \"week1_compare_s\": %.3f, \"week1_promote_s\": %.3f, "
           "\"week2_s\": %.3f, \"week2_split_s\": %.3f, \"week2_fit_s\": %.3f, "
           "\"week2_register_s\": %.3f, \"week2_compare_s\": %.3f, \"week2_promote_s\": %.3f, "
           "\"week2_promoted\": %zu, \"predict_s\": %.3f, \"predict_rows_without_model\": %zu, "
           "\"fit_only_s\": %.3f, \"peer_fit_only_s\": %.3f, "
           "\"cycle_models_per_s\": %.2f, \"cycle_vs_fit_only\": %.3f, "
           "\"cycle_vs_peer_fit_only\": %.3f, \"predict_vs_fit\": %.3f, "
           "\"peak_rss_bytes\": %.0f, \"base_rss_bytes\": %.0f, \"work_rss_bytes\": %.0f, "
           "\"predict_work_rss_bytes\": %.0f, \"small_groups\": %ld, "
           "\"work_rss_10k_vs_50k\": %.3f, \"registry_bytes\": %.0f}\n",
           o.groups, o.rows, o.threads, t_read, c1.seconds, phase_s(&c1.phases, "split"),
           phase_s(&c1.phases, "fit"), phase_s(&c1.phases, "register"),
           phase_s(&c1.phases, "compare"), phase_s(&c1.phases, "promote"), c2.seconds,
           phase_s(&c2.phases, "split"), phase_s(&c2.phases, "fit"),
           phase_s(&c2.phases, "register"), phase_s(&c2.phases, "compare"),
           phase_s(&c2.phases, "promote"), c2.promoted, t_predict, without, t_fit, peer_s,
           n / c2.seconds, t_fit / c2.seconds, peer_s / c2.seconds, t_predict / t_fit, peak,
           base_rss, work, predict_work, o.small ? small_groups : 0, small_work / work,
           reg_bytes);
    herd_groups_free(w1.groups);
    herd_groups_free(w2.groups);
    herd_frame_free(w2.frame);
    herd_frame_free(base);
    return 0;
}
