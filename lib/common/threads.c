/* threads.c -- how many CPUs this process may use.
 *
 * The machine's CPU count overstates what a container or a pinned process
 * gets: the affinity mask bounds the CPUs we may run on and a cgroup quota
 * bounds the time we get on them.  Oversubscribing either makes per-group
 * work slower, not faster. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herd.h"
#include "common/number_internal.h"

static int hd_affinity_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* CPUs granted by a quota of `quota` per `period`, rounded up: a quota of
 * 1.5 CPUs still lets two threads make progress. */
static int hd_quota_cpus(double quota, double period)
{
    if (quota <= 0 || period <= 0) return 0;
    double cpus = quota / period;
    int n = (int)cpus;
    if (cpus > n) n++;
    return n > 0 ? n : 1;
}

/* The first line of a small file, or "" (no file, empty). */
static void hd_read_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(buf, (int)size, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

/* The number that starts at *s (up to a space or the end), read by the
 * number module (LC_NUMERIC must not matter); 0 when there is none.
 * Moves *s past it. */
static double hd_next_number(const char **s)
{
    const char *p = *s + strspn(*s, " "), *end = p + strcspn(p, " ");
    double v = 0;
    int range;
    if (end == p || hd_num_parse_f64(p, (size_t)(end - p), &v, &range) != 0) v = 0;
    *s = end;
    return v;
}

/* cgroup v2: "max 100000" or "150000 100000" in cpu.max. */
static int hd_cgroup2_cpus(void)
{
    char line[96];
    hd_read_line("/sys/fs/cgroup/cpu.max", line, sizeof line);
    if (!line[0] || strncmp(line, "max", 3) == 0) return 0;
    const char *s = line;
    double quota = hd_next_number(&s);
    return hd_quota_cpus(quota, hd_next_number(&s));
}

static double hd_read_number(const char *path)
{
    char line[64];
    hd_read_line(path, line, sizeof line);
    const char *s = line;
    return hd_next_number(&s);
}

static int hd_cgroup1_cpus(void)
{
    double quota = hd_read_number("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    double period = hd_read_number("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    return hd_quota_cpus(quota, period); /* quota -1 means unlimited */
}

int herd_default_threads(void)
{
    int n = hd_affinity_cpus();
    int quota = hd_cgroup2_cpus();
    if (!quota) quota = hd_cgroup1_cpus();
    if (quota > 0 && quota < n) n = quota;
    return n > 0 ? n : 1;
}
