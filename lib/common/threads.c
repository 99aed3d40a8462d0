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

/* cgroup v2: "max 100000" or "150000 100000" in cpu.max. */
static int hd_cgroup2_cpus(void)
{
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f) return 0;
    char quota[32] = {0};
    double period = 0;
    int got = fscanf(f, "%31s %lf", quota, &period);
    fclose(f);
    if (got != 2 || strcmp(quota, "max") == 0) return 0;
    return hd_quota_cpus(strtod(quota, NULL), period);
}

static double hd_read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    double v = 0;
    if (fscanf(f, "%lf", &v) != 1) v = 0;
    fclose(f);
    return v;
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
