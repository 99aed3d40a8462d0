/* kill -9 at random moments: a child process commits batches to a registry
 * on the real filesystem and reports each commit through a pipe once
 * herd_batch_commit returned; the parent SIGKILLs it after a random delay,
 * 200 times, each time starting a new child on the same registry.  After
 * every kill the registry must open and show:
 *   - every batch the child reported, complete, with the reported numbers;
 *   - every other batch either complete or absent (a batch killed after its
 *     commit but before the report is complete), never partly visible;
 *   - version numbers per group exactly 1..n;
 *   - the "champion" alias of each group at the newest version that asked
 *     for it, and one alias-history row per such version;
 *   - everything seen after the previous kill still there.
 * A batch's content is a pure function of its id (kplan_make), so the
 * parent can check batches it was never told about.  Half the batches carry
 * idempotency keys; each child first retries the batch its predecessor may
 * have been committing, and must get existed=1 with the original numbers
 * exactly when that batch had been committed.
 *
 * test_kill_loop_spill runs the same, 120 kills, with half the batches
 * spilling (the child lowers the spill threshold to two artifacts for them,
 * so those of 3 or more versions write a pack-tmp- file of their own) and
 * adding their versions slowly, so that kills land while a spilled batch is
 * being added to and while it commits.  After every kill it also loads the
 * artifacts of every batch that became visible, and checks that the
 * pack-tmp- files only accumulate (at most one per kill, never removed by
 * anything but gc); at the end every artifact loads, and herd_registry_gc
 * removes every pack-tmp- file the killed children left.
 *
 * HERD_CRASH_SEED (environment) overrides the seed of the random delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "crash_common.h"
#include "registry/registry_internal.h"

#define KILLS 200
#define KILLS_SPILL 120
#define DEFAULT_SPILL (64ull * 1024 * 1024) /* the registry's default */
#define KMAX 20           /* versions per batch: 1..KMAX */
#define KFAM 2            /* families f0, f1 */
#define KGRP 5            /* groups g0..g4 per family */
#define KBATCHES 10       /* batches per child at most */
#define KSLOTS 16         /* batch id = child * 1000 + s, s < KSLOTS */
#define KBLOBS CR_NMODELS /* one blob per model */

typedef struct kplan {
    int k, keyed;
    int spill; /* test_kill_loop_spill: this batch's handle spills past two artifacts */
    int fam[KMAX], grp[KMAX], champion[KMAX], mi[KMAX];
} kplan;

static void kplan_make(long id, kplan *p)
{
    uint64_t s = (uint64_t)id * 0x2545F4914F6CDD1Dull + 99;
    memset(p, 0, sizeof *p);
    p->k = 1 + (int)(cr_rand(&s) % KMAX);
    p->keyed = (int)(cr_rand(&s) % 2);
    int used[KFAM][KGRP] = {{0}};
    for (int i = 0; i < p->k; i++) {
        p->fam[i] = (int)(cr_rand(&s) % KFAM);
        p->grp[i] = (int)(cr_rand(&s) % KGRP);
        p->mi[i] = (int)(cr_rand(&s) % KBLOBS);
        /* at most one alias move per group in a batch, so "the newest
         * version that asked for it" is unambiguous */
        if (cr_rand(&s) % 4 == 0 && !used[p->fam[i]][p->grp[i]]) {
            p->champion[i] = 1;
            used[p->fam[i]][p->grp[i]] = 1;
        }
    }
    p->spill = (int)(cr_rand(&s) % 2); /* drawn last: the draws above are unchanged */
}

/* One message child -> parent; written with a single write() of less than
 * PIPE_BUF bytes, so a kill never leaves half of one in the pipe. */
typedef struct kreport {
    int32_t batch; /* -1: "registry opened" marker */
    int32_t n;     /* versions; -1: the child failed (rc, msg) */
    int32_t rc;
    int32_t retry; /* 1: this was a retry of a predecessor's batch */
    int64_t version[KMAX];
    uint8_t existed[KMAX];
    char msg[240];
} kreport;

typedef struct kblobs {
    void *data[KBLOBS];
    size_t len[KBLOBS];
    uint64_t spill; /* 0: never touch the spill threshold (test_kill_loop) */
} kblobs;

/* Whether batch p spills in test_kill_loop_spill: its artifacts pass the
 * threshold (as the registry decides, when those in memory would). */
static int kplan_spills(const kplan *p, const kblobs *bl)
{
    if (!bl->spill || !p->spill) return 0;
    uint64_t mem = 0;
    for (int i = 0; i < p->k; i++) {
        if (mem + bl->len[p->mi[i]] > bl->spill) return 1;
        mem += bl->len[p->mi[i]];
    }
    return 0;
}

static void child_fail(int fd, long id, int rc, const char *what)
{
    kreport r;
    memset(&r, 0, sizeof r);
    r.batch = (int32_t)id;
    r.n = -1;
    r.rc = rc;
    snprintf(r.msg, sizeof r.msg, "%s: %s", what, herd_last_error());
    if (write(fd, &r, sizeof r) < 0) _exit(5);
    _exit(4);
}

static void child_commit(herd_registry *reg, const kblobs *bl, long id, int retry, int fd,
                         uint64_t *seed)
{
    kplan p;
    kplan_make(id, &p);
    int slow = kplan_spills(&p, bl);
    if (bl->spill) hd_registry_set_spill_bytes(reg, p.spill ? bl->spill : DEFAULT_SPILL);
    herd_batch *b = NULL;
    int rc = herd_registry_begin(reg, &b);
    if (rc) child_fail(fd, id, rc, "begin");
    for (int i = 0; i < p.k; i++) {
        char fam[8], grp[8], idem[48];
        snprintf(fam, sizeof fam, "f%d", p.fam[i]);
        snprintf(grp, sizeof grp, "g%d", p.grp[i]);
        snprintf(idem, sizeof idem, "k%ld-%d", id, i);
        rc = cr_add(b, bl->data[p.mi[i]], bl->len[p.mi[i]], fam, grp, -1, id, i,
                    p.keyed ? idem : NULL, p.champion[i] ? "champion" : NULL, NULL);
        if (rc) child_fail(fd, id, rc, "add");
        /* a spilled batch is filled slowly: kills land while it is */
        if (slow) usleep((useconds_t)(cr_rand(seed) % 400));
    }
    rc = herd_batch_commit(b);
    if (rc) child_fail(fd, id, rc, "commit");
    kreport r;
    memset(&r, 0, sizeof r);
    r.batch = (int32_t)id;
    r.n = p.k;
    r.retry = retry;
    for (int i = 0; i < p.k; i++) {
        int existed = -1;
        rc = herd_batch_version(b, (size_t)i, &r.version[i], &existed);
        if (rc) child_fail(fd, id, rc, "herd_batch_version");
        r.existed[i] = (uint8_t)existed;
    }
    herd_batch_free(b);
    if (write(fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(6);
}

static void child_main(const char *dir, const kblobs *bl, long first_id, long retry_id, int fd,
                       uint64_t seed)
{
    herd_registry *reg = NULL;
    int rc = herd_registry_open(dir, NULL, &reg);
    if (rc) child_fail(fd, -1, rc, "open");
    kreport ready;
    memset(&ready, 0, sizeof ready);
    ready.batch = -1;
    if (write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready) _exit(6);
    if (retry_id >= 0) child_commit(reg, bl, retry_id, 1, fd, &seed);
    for (long s = 0; s < KBATCHES; s++) {
        child_commit(reg, bl, first_id + s, 0, fd, &seed);
        usleep((useconds_t)(cr_rand(&seed) % 2000));
    }
    herd_registry_free(reg);
    _exit(0);
}

/* ---- the parent's view ---------------------------------------------------- */

typedef struct kstate {
    /* per batch slot (child * KSLOTS + s): what the child reported */
    kreport *reported; /* batch == 0 && n == 0: none */
    unsigned char *was_present; /* present after the previous kill */
    unsigned char *present;
    size_t nslots;
    const cr_models *load; /* non-NULL: load the artifacts of batches that appear */
    unsigned loaded;
} kstate;

/* Load the artifact of row w (item `item` of batch plan p) and compare it
 * with its model; 0, or -1 with err. */
static int load_row(herd_registry *reg, const cr_models *m, const cr_row *w, const kplan *p,
                    char *err, size_t cap)
{
    herd_artifact *a = NULL;
    int rc = herd_registry_load(reg, w->family, w->group, w->version, &a);
    if (rc) {
        snprintf(err, cap, "batch %ld item %ld (%s/%s v%" PRId64 "): loading: %s (%s)", w->batch,
                 w->item, w->family, w->group, w->version, herd_status_str(rc),
                 herd_last_error());
        return -1;
    }
    int same = cr_artifact_is_model(m, a, p->mi[w->item]);
    herd_artifact_free(a);
    if (!same) {
        snprintf(err, cap, "batch %ld item %ld (%s/%s v%" PRId64 ") loads an artifact that is "
                 "not model %d", w->batch, w->item, w->family, w->group, w->version,
                 p->mi[w->item]);
        return -1;
    }
    return 0;
}

static long slot_of(long id) { return (id / 1000) * KSLOTS + id % 1000; }

/* Check everything after one kill.  `retry_id` is the batch the last child
 * retried first (or -1). */
static void verify(const char *dir, kstate *ks, int iteration)
{
    herd_registry *reg = NULL;
    int rc = herd_registry_open(dir, NULL, &reg);
    if (rc)
        fail_msg("kill %d: the registry does not open: %s (%s)", iteration,
                 herd_status_str(rc), herd_last_error());
    cr_snap s;
    char err[512];
    if (cr_snap_take(reg, &s, err, sizeof err)) fail_msg("kill %d: %s", iteration, err);
    if (cr_check_gapless(&s, err, sizeof err)) fail_msg("kill %d: %s", iteration, err);

    /* rows by batch slot and item */
    const cr_row **byitem = calloc(ks->nslots * KMAX, sizeof *byitem);
    unsigned *count = calloc(ks->nslots, sizeof *count);
    for (size_t i = 0; i < s.n; i++) {
        const cr_row *w = &s.rows[i];
        if (w->batch < 0 || w->item < 0 || w->item >= KMAX || w->batch % 1000 >= KSLOTS ||
            (size_t)slot_of(w->batch) >= ks->nslots)
            fail_msg("kill %d: %s/%s v%" PRId64 " has unexpected tags batch=%ld item=%ld",
                     iteration, w->family, w->group, w->version, w->batch, w->item);
        long sl = slot_of(w->batch);
        if (byitem[sl * KMAX + w->item])
            fail_msg("kill %d: batch %ld item %ld is present twice (%s/%s v%" PRId64
                     " and v%" PRId64 "): a duplicate commit",
                     iteration, w->batch, w->item, w->family, w->group, w->version,
                     byitem[sl * KMAX + w->item]->version);
        byitem[sl * KMAX + w->item] = w;
        count[sl]++;
    }

    int64_t champion[KFAM][KGRP] = {{0}};
    unsigned moves[KFAM][KGRP] = {{0}};
    for (size_t sl = 0; sl < ks->nslots; sl++) {
        long id = (long)(sl / KSLOTS) * 1000 + (long)(sl % KSLOTS);
        ks->present[sl] = count[sl] > 0;
        if (ks->was_present[sl] && !ks->present[sl])
            fail_msg("kill %d: batch %ld was visible after the previous kill and is gone",
                     iteration, id);
        const kreport *r = &ks->reported[sl];
        int reported = r->n > 0;
        if (!count[sl]) {
            if (reported)
                fail_msg("kill %d: batch %ld was committed (herd_batch_commit returned "
                         "HERD_OK) but is missing after the kill",
                         iteration, id);
            continue;
        }
        kplan p;
        kplan_make(id, &p);
        if (count[sl] != (unsigned)p.k)
            fail_msg("kill %d: batch %ld is partly visible: %u of its %d versions%s",
                     iteration, id, count[sl], p.k, reported ? " (it was reported committed)" : "");
        for (int i = 0; i < p.k; i++) {
            const cr_row *w = byitem[sl * KMAX + i];
            char fam[8], grp[8];
            snprintf(fam, sizeof fam, "f%d", p.fam[i]);
            snprintf(grp, sizeof grp, "g%d", p.grp[i]);
            if (strcmp(w->family, fam) || strcmp(w->group, grp))
                fail_msg("kill %d: batch %ld item %d is in %s/%s, not %s/%s", iteration, id, i,
                         w->family, w->group, fam, grp);
            if (reported && w->version != r->version[i])
                fail_msg("kill %d: batch %ld item %d: commit reported version %" PRId64
                         ", the registry has %" PRId64,
                         iteration, id, i, r->version[i], w->version);
            if (p.champion[i]) {
                moves[p.fam[i]][p.grp[i]]++;
                if (w->version > champion[p.fam[i]][p.grp[i]])
                    champion[p.fam[i]][p.grp[i]] = w->version;
            }
            char want_idem[48];
            snprintf(want_idem, sizeof want_idem, "k%ld-%d", id, i);
            if (strcmp(w->idem, p.keyed ? want_idem : ""))
                fail_msg("kill %d: batch %ld item %d has idempotency key '%s', want '%s'",
                         iteration, id, i, w->idem, p.keyed ? want_idem : "");
        }
    }

    /* aliases: where they point, and one history row per move */
    for (int f = 0; f < KFAM; f++) {
        char fam[8];
        snprintf(fam, sizeof fam, "f%d", f);
        herd_frame *h = NULL;
        int hrc = herd_registry_alias_history(reg, fam, NULL, "champion", &h);
        unsigned hist[KGRP] = {0};
        if (hrc == HERD_OK) {
            size_t cg, ct;
            CR_OK(herd_frame_find(h, "group", &cg));
            CR_OK(herd_frame_find(h, "to_version", &ct));
            for (size_t r = 0; r < herd_frame_row_count(h); r++) {
                const char *g = NULL;
                CR_OK(herd_frame_get_string(h, cg, r, &g));
                int gi = g && g[0] == 'g' ? atoi(g + 1) : -1;
                if (gi < 0 || gi >= KGRP) fail_msg("kill %d: alias history row for group '%s'",
                                                   iteration, g ? g : "(null)");
                hist[gi]++;
            }
            herd_frame_free(h);
        } else if (hrc != HERD_ENOTFOUND) {
            fail_msg("kill %d: alias history of %s: %s (%s)", iteration, fam,
                     herd_status_str(hrc), herd_last_error());
        }
        for (int g = 0; g < KGRP; g++) {
            char grp[8];
            snprintf(grp, sizeof grp, "g%d", g);
            if (hist[g] != moves[f][g])
                fail_msg("kill %d: %s/%s has %u champion history rows, %u moves committed",
                         iteration, fam, grp, hist[g], moves[f][g]);
            int64_t v = -1;
            int arc = herd_registry_resolve(reg, fam, grp, "champion", &v);
            if (champion[f][g] == 0) {
                if (arc != HERD_ENOTFOUND)
                    fail_msg("kill %d: %s/%s@champion resolves (%s, v%" PRId64
                             ") though no committed version asked for it",
                             iteration, fam, grp, herd_status_str(arc), v);
            } else if (arc != HERD_OK || v != champion[f][g]) {
                fail_msg("kill %d: %s/%s@champion: %s v%" PRId64 ", want v%" PRId64 " (%s)",
                         iteration, fam, grp, herd_status_str(arc), v, champion[f][g],
                         herd_last_error());
            }
        }
    }
    /* the artifacts of the batches that appeared since the previous kill */
    for (size_t sl = 0; ks->load && sl < ks->nslots; sl++) {
        if (!ks->present[sl] || ks->was_present[sl]) continue;
        long id = (long)(sl / KSLOTS) * 1000 + (long)(sl % KSLOTS);
        kplan p;
        kplan_make(id, &p);
        for (int i = 0; i < p.k; i++) {
            if (load_row(reg, ks->load, byitem[sl * KMAX + i], &p, err, sizeof err))
                fail_msg("kill %d: %s", iteration, err);
            ks->loaded++;
        }
    }
    memcpy(ks->was_present, ks->present, ks->nslots);
    free(byitem);
    free(count);
    cr_snap_free(&s);
    herd_registry_free(reg);
}

/* Read every whole report from fd until EOF into the state.  Returns the
 * number of commit reports. */
static int drain(int fd, kstate *ks, int iteration, int saw_ready, long retry_id,
                 int retry_was_present)
{
    int commits = 0;
    kreport r;
    for (;;) {
        size_t got = 0;
        while (got < sizeof r) {
            ssize_t n = read(fd, (char *)&r + got, sizeof r - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got == 0) break;
        if (got != sizeof r)
            fail_msg("kill %d: a torn report in the pipe (%zu bytes)", iteration, got);
        if (r.n < 0)
            fail_msg("kill %d: the child failed on batch %d: %s (%s)", iteration, r.batch,
                     herd_status_str(r.rc), r.msg);
        if (r.batch == -1) {
            if (saw_ready) fail_msg("kill %d: two ready markers", iteration);
            saw_ready = 1;
            continue;
        }
        if (r.retry) {
            if (r.batch != retry_id) fail_msg("kill %d: retry of batch %d, expected %ld",
                                              iteration, r.batch, retry_id);
            for (int i = 0; i < r.n; i++)
                if (r.existed[i] != (retry_was_present ? 1 : 0))
                    fail_msg("kill %d: retrying batch %d (keyed; %s before the retry): "
                             "item %d existed=%d",
                             iteration, r.batch, retry_was_present ? "committed" : "absent", i,
                             r.existed[i]);
            /* a retry of a batch reported by nobody: its numbers count */
        } else {
            for (int i = 0; i < r.n; i++)
                if (r.existed[i])
                    fail_msg("kill %d: batch %d item %d reported existed=1 on a first commit",
                             iteration, r.batch, i);
        }
        long sl = slot_of(r.batch);
        if (sl < 0 || (size_t)sl >= ks->nslots)
            fail_msg("kill %d: bad batch id %d", iteration, r.batch);
        ks->reported[sl] = r;
        commits++;
    }
    return commits;
}

/* The pack-tmp- files in the registry directory: their count, and how
 * many are empty (the batch's pack not written yet: killed while its
 * versions were added, or before its commit wrote them). */
static int tmp_files(const char *reg, int *empty)
{
    static char names[KILLS + 8][64];
    int n = cr_list_prefix(reg, "pack-tmp-", names, KILLS + 8);
    *empty = 0;
    for (int i = 0; i < n; i++) {
        char path[4400];
        CR_SNPRINTF(path, sizeof path, "%s/%s", reg, names[i]);
        *empty += cr_file_size(path) == 0;
    }
    return n;
}

/* Every version's artifact loads and is its planned model (the last
 * commit's, batch 999999, is model 0). */
static void load_all(herd_registry *r, const cr_models *m, const char *when, size_t *n)
{
    cr_snap s;
    char err[512];
    if (cr_snap_take(r, &s, err, sizeof err)) fail_msg("%s: %s", when, err);
    for (size_t i = 0; i < s.n; i++) {
        const cr_row *w = &s.rows[i];
        kplan p;
        if (w->batch == 999999) {
            memset(&p, 0, sizeof p);
            p.k = 1;
        } else {
            kplan_make(w->batch, &p);
        }
        if (load_row(r, m, w, &p, err, sizeof err)) fail_msg("%s: %s", when, err);
    }
    *n = s.n;
    cr_snap_free(&s);
}

static void run_kill_loop(int kills, int spill)
{
    char dir[4096], reg[4200], err[512];
    assert_int_equal(cr_mkdtemp(dir, sizeof dir, spill ? "killspill" : "kill"), 0);
    snprintf(reg, sizeof reg, "%s/reg", dir);

    cr_models m;
    if (cr_models_load(&m, err, sizeof err)) fail_msg("%s", err);
    kblobs bl;
    size_t maxlen = 0;
    for (int i = 0; i < KBLOBS; i++) {
        CR_OK(cr_blob(&m, i, "kill", &bl.data[i], &bl.len[i]));
        if (bl.len[i] > maxlen) maxlen = bl.len[i];
    }
    bl.spill = spill ? 2 * (uint64_t)maxlen : 0; /* two artifacts */

    uint64_t seed = 20240611;
    const char *env = getenv("HERD_CRASH_SEED");
    if (env && *env) seed = strtoull(env, NULL, 10);
    printf("# kill loop%s: seed %" PRIu64 " (HERD_CRASH_SEED), registry %s\n",
           spill ? " with spilled batches" : "", seed, reg);

    kstate ks;
    memset(&ks, 0, sizeof ks);
    ks.nslots = (size_t)kills * KSLOTS;
    ks.reported = calloc(ks.nslots, sizeof *ks.reported);
    ks.was_present = calloc(ks.nslots, 1);
    ks.present = calloc(ks.nslots, 1);
    if (spill) ks.load = &m;

    double t0 = cr_now();
    int total_commits = 0, killed_running = 0, spilled_commits = 0;
    int ntmp = 0, tmp_adding = 0, tmp_committing = 0, spilled_unreported = 0;
    long last_first = -1, last_reported_s = -1;
    /* The longest delay before a kill.  On a loaded machine (sanitizers,
     * other jobs) a child may not reach its first commit within 30 ms:
     * when ten kills in a row saw fewer than two commits, the delay
     * doubles (up to 1 s), so that kills still land inside commits
     * instead of all before them. */
    useconds_t delay_max = 30000;
    int window_commits = 0;
    for (int it = 0; it < kills; it++) {
        /* the batch the previous child may have been committing when killed */
        long retry_id = -1;
        if (last_first >= 0) {
            long cand = last_first + last_reported_s + 1;
            kplan p;
            kplan_make(cand, &p);
            if (p.keyed && last_reported_s + 1 < KBATCHES) retry_id = cand;
        }
        int retry_was_present = retry_id >= 0 && ks.was_present[slot_of(retry_id)];
        long first = (long)it * 1000;
        uint64_t child_seed = cr_rand(&seed);
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(reg, &bl, first, retry_id, fds[1], child_seed);
        }
        close(fds[1]);
        int saw_ready = 0;
        if (it % 4 != 0) {
            /* 3 in 4: the delay counts from the child's open, so that most
             * kills land in commits; else from the fork (kills in open) */
            kreport r;
            ssize_t n = read(fds[0], &r, sizeof r);
            if (n == (ssize_t)sizeof r && r.batch == -1) saw_ready = 1;
            else if (n == (ssize_t)sizeof r && r.n < 0)
                fail_msg("kill %d: the child failed: %s", it, r.msg);
        }
        usleep((useconds_t)(cr_rand(&seed) % (delay_max + 1)));
        kill(pid, SIGKILL);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(st)) killed_running++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            drain(fds[0], &ks, it, saw_ready, retry_id, retry_was_present); /* reports why */
            fail_msg("kill %d: the child exited with status %d", it, st);
        }
        int commits = drain(fds[0], &ks, it, saw_ready, retry_id, retry_was_present);
        close(fds[0]);
        total_commits += commits;
        window_commits += commits;
        if (it % 10 == 9) {
            if (window_commits < 2 && delay_max < 1000000) delay_max *= 2;
            window_commits = 0;
        }
        last_first = first;
        last_reported_s = -1;
        for (long s = 0; s < KBATCHES; s++)
            if (ks.reported[slot_of(first + s)].n > 0) last_reported_s = s;
        if (spill) {
            for (long s = 0; s < KBATCHES; s++) {
                kplan p;
                kplan_make(first + s, &p);
                spilled_commits += ks.reported[slot_of(first + s)].n > 0 && kplan_spills(&p, &bl);
            }
            /* killed after its record, before its report (present is
             * filled in by verify below: count after it) */
            /* a killed child leaves at most its one live batch's file;
             * nothing but gc removes one */
            int empty = 0, n = tmp_files(reg, &empty);
            if (n < ntmp || n > ntmp + 1)
                fail_msg("kill %d: %d pack-tmp- files, %d before the kill (a kill leaves at most "
                         "one, and only gc removes them)", it, n, ntmp);
            if (n > ntmp) { /* the files of dead children never change: compare counts */
                if (empty > tmp_adding) tmp_adding++;
                else tmp_committing++;
            }
            if (empty != tmp_adding)
                fail_msg("kill %d: %d empty pack-tmp- files, %d expected", it, empty, tmp_adding);
            ntmp = n;
        }
        verify(reg, &ks, it);
        for (long s = 0; spill && s < KBATCHES; s++) {
            kplan p;
            kplan_make(first + s, &p);
            spilled_unreported += ks.present[slot_of(first + s)] &&
                                  ks.reported[slot_of(first + s)].n <= 0 && kplan_spills(&p, &bl);
        }
    }
    double t1 = cr_now();

    /* a last commit cuts any torn tail; then the registry checks clean */
    herd_registry *r = NULL;
    CR_OK(herd_registry_open(reg, NULL, &r));
    herd_batch *b = NULL;
    CR_OK(herd_registry_begin(r, &b));
    CR_OK(cr_add(b, bl.data[0], bl.len[0], "f0", "g0", -1, 999999, 0, NULL, NULL, NULL));
    CR_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_frame *problems = NULL;
    int crc = herd_registry_check(r, &problems);
    if (crc != HERD_OK)
        fail_msg("herd_registry_check after the kill loop: %s (%s), %zu problems",
                 herd_status_str(crc), herd_last_error(),
                 problems ? herd_frame_row_count(problems) : 0);
    herd_frame_free(problems);
    size_t present = 0;
    for (size_t i = 0; i < ks.nslots; i++) present += ks.present[i];
    printf("# %d kills (%d while running), %d commits reported, %zu batches present, %.1f s, "
           "longest delay %u us\n",
           kills, killed_running, total_commits, present, t1 - t0, (unsigned)delay_max);
    /* the loop did exercise commits (a low bar: fsyncs are slow on some
     * disks, and most children may die before their first commit there) */
    assert_true(total_commits >= kills / 10);
    if (spill) {
        size_t nrows = 0;
        load_all(r, &m, "after the kill loop", &nrows);
        int empty = 0, before = tmp_files(reg, &empty);
        if (before != ntmp) fail_msg("%d pack-tmp- files, %d seen after the last kill", before, ntmp);
        static char packs[4096][64]; /* every spilled commit makes a pack */
        int packs_before = cr_list_prefix(reg, "pack-0", packs, 4096);
        /* no child lives: gc removes every batch's file left behind (and
         * the packs renamed into place by commits killed before their
         * record) */
        CR_OK(herd_registry_gc(r, NULL));
        int packs_after = cr_list_prefix(reg, "pack-0", packs, 4096);
        assert_true(packs_before < 4096);
        int after = tmp_files(reg, &empty);
        if (after != 0)
            fail_msg("herd_registry_gc left %d of the %d pack-tmp- files of killed children",
                     after, before);
        size_t nrows2 = 0;
        load_all(r, &m, "after gc", &nrows2);
        assert_int_equal(nrows2, nrows);
        CR_OK(herd_registry_check(r, NULL));
        printf("# spilled: %d commits reported; %u artifacts loaded after the kills; %d "
               "pack-tmp- files left by kills (%d empty: killed while adding, %d written: "
               "killed in the commit), all removed by gc; killed later in the commit: %d "
               "after the rename (orphan packs gc removed), %d after the record\n",
               spilled_commits, ks.loaded, before, tmp_adding, tmp_committing,
               packs_before - packs_after, spilled_unreported);
        /* the kills landed where they should, somewhere */
        assert_true(spilled_commits > 0);
        assert_true(tmp_adding > 0);
        assert_true(tmp_committing + (packs_before - packs_after) + spilled_unreported > 0);
    }
    herd_registry_free(r);

    for (int i = 0; i < KBLOBS; i++) herd_free(bl.data[i]);
    cr_models_free(&m);
    free(ks.reported);
    free(ks.was_present);
    free(ks.present);
    assert_int_equal(cr_rmtree(dir), 0);
}

static void test_kill_loop(void **state)
{
    (void)state;
    run_kill_loop(KILLS, 0);
}

static void test_kill_loop_spill(void **state)
{
    (void)state;
    run_kill_loop(KILLS_SPILL, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_loop),
        cmocka_unit_test(test_kill_loop_spill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
