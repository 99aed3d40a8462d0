/* cycle_from_c.c -- the weekly cycle driven from C, for python_bench.py.
 *
 *   cycle_from_c REGISTRY KEY CSV [CSV...] -- OPERATION.NAME=VALUE...
 *
 * Reads each CSV (not timed), then, for each in turn, groups it by the
 * column KEY and runs herd_cycle on REGISTRY with run id "week-<i>" (i from
 * 1), timing the grouping and the cycle: what a C host does once its data
 * are in memory.  Both the wall time and the process's CPU time (every
 * thread's) are measured: the CPU time stays comparable when other work
 * loads the machine and stretches the wall time.  Options are given by
 * name, exactly as the Python binding passes its keyword arguments:
 * "fit.rounds=20", "cycle.holdout_periods=2", "compare.min_rel_delta=0.05"
 * (set on the cycle handle as "compare.min_rel_delta"), "apply.threads=2";
 * "fit.features=a,b" sets a list and "fit.params.max_depth=6" one entry of
 * a map.  Prints one JSON line: the seconds (wall and CPU) of each cycle
 * and the decisions' row count, so that python_bench.py compares the same
 * work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"

#define MAX_WEEKS 16
#define MAX_LIST 64

static void die(const char *what)
{
    fprintf(stderr, "cycle_from_c: %s: %s\n", what, herd_last_error());
    exit(1);
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "a,b,c" -> a list option (the copy is cut in place; names are short). */
static int set_list(herd_options *h, const char *name, const char *value)
{
    char *copy = strdup(value);
    const char *items[MAX_LIST];
    size_t n = 0;
    if (!copy) return HERD_ENOMEM;
    for (char *tok = strtok(copy, ","); tok && n < MAX_LIST; tok = strtok(NULL, ","))
        items[n++] = tok;
    int rc = herd_options_set_strings(h, name, items, n);
    free(copy);
    return rc;
}

/* One "operation.name=value" argument onto its handle. */
static void set_option(herd_options *fit, herd_options *cycle, herd_options *apply,
                       const char *arg)
{
    char spec[512];
    if (strlen(arg) >= sizeof spec) die("an option argument is too long");
    strcpy(spec, arg);
    char *eq = strchr(spec, '='), *dot = strchr(spec, '.');
    if (!eq || !dot || dot > eq) {
        fprintf(stderr, "cycle_from_c: '%s' is not OPERATION.NAME=VALUE\n", arg);
        exit(2);
    }
    *eq = '\0';
    *dot = '\0';
    const char *op = spec, *name = dot + 1, *value = eq + 1;
    herd_options *h = strcmp(op, "fit") == 0     ? fit
                      : strcmp(op, "cycle") == 0 ? cycle
                      : strcmp(op, "apply") == 0 ? apply
                                                 : NULL;
    int rc;
    if (strcmp(op, "compare") == 0) {
        char nested[600];
        snprintf(nested, sizeof nested, "compare.%s", name);
        rc = herd_options_set(cycle, nested, value);
    } else if (!h) {
        fprintf(stderr, "cycle_from_c: unknown operation '%s' (fit, cycle, compare, apply)\n", op);
        exit(2);
    } else if (strcmp(name, "features") == 0) {
        rc = set_list(h, name, value);
    } else if (strncmp(name, "params.", 7) == 0) {
        rc = herd_options_set_entry(h, "params", name + 7, value);
    } else {
        rc = herd_options_set(h, name, value);
    }
    if (rc) die(arg);
}

int main(int argc, char **argv)
{
    int sep = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) sep = i;
    if (argc < 4 || sep < 4 || sep - 3 > MAX_WEEKS) {
        fprintf(stderr, "usage: cycle_from_c REGISTRY KEY CSV [CSV...] -- OPERATION.NAME=VALUE...\n");
        return 2;
    }
    herd_options *fit = NULL, *cycle = NULL, *apply = NULL;
    if (herd_options_new("fit", &fit) || herd_options_new("cycle", &cycle) ||
        herd_options_new("apply", &apply))
        die("options");
    herd_options_set(cycle, "family", "bench");
    for (int i = sep + 1; i < argc; i++) set_option(fit, cycle, apply, argv[i]);

    int weeks = sep - 3;
    herd_frame *frames[MAX_WEEKS] = {0};
    for (int w = 0; w < weeks; w++)
        if (herd_frame_read_csv(argv[3 + w], NULL, &frames[w])) die(argv[3 + w]);

    herd_registry *reg = NULL;
    if (herd_registry_open(argv[1], NULL, &reg)) die(argv[1]);
    const char *keys[] = {argv[2]};
    double cpu[MAX_WEEKS];
    printf("{\"seconds\": [");
    size_t rows = 0;
    for (int w = 0; w < weeks; w++) {
        char run[32];
        snprintf(run, sizeof run, "week-%d", w + 1);
        if (herd_options_set(cycle, "run_id", run)) die("run_id");
        double t0 = clock_seconds(CLOCK_MONOTONIC);
        double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        herd_groups *g = NULL;
        herd_frame *d = NULL, *s = NULL;
        if (herd_groups_new(frames[w], keys, 1, &g)) die("grouping");
        int rc = herd_cycle(reg, g, herd_options_struct(fit, "fit"),
                            herd_options_struct(cycle, "cycle"),
                            herd_options_struct(apply, "apply"), &d, &s);
        if (rc && rc != HERD_EREFUSED) die("herd_cycle");
        double dt = clock_seconds(CLOCK_MONOTONIC) - t0;
        cpu[w] = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        rows += herd_frame_row_count(d);
        printf("%s%.6f", w ? ", " : "", dt);
        herd_frame_free(d);
        herd_frame_free(s);
        herd_groups_free(g);
    }
    printf("], \"cpu_seconds\": [");
    for (int w = 0; w < weeks; w++) printf("%s%.6f", w ? ", " : "", cpu[w]);
    printf("], \"decisions\": %zu}\n", rows);
    herd_registry_free(reg);
    for (int w = 0; w < weeks; w++) herd_frame_free(frames[w]);
    herd_options_free(fit);
    herd_options_free(cycle);
    herd_options_free(apply);
    return 0;
}
