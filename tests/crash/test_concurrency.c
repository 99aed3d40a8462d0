/* Many processes on one registry (real filesystem).
 *   - 4 writer processes each commit 1,000 versions (100 batches of 10,
 *     over 2 families and 20 groups, every version tagged with its process,
 *     batch and item and carrying an idempotency key), while a reader
 *     process refreshes in a loop: it must never see part of a batch, nor a
 *     gap or a duplicate in a group's versions, nor lose what it saw.
 *   - Afterwards: 4,000 versions, each exactly once, where planned; every
 *     group's versions 1..n.
 *   - Retried batches (same idempotency keys) add nothing: herd_batch_version
 *     reports existed=1 and the original numbers; a batch mixing old and new
 *     keys adds only the new ones.
 *   - Two processes racing to commit the same keyed batch: one adds it, the
 *     other gets existed=1 with the same numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "crash_common.h"

#define NPROC 4
#define NBATCH 100
#define BSIZE 10
#define NGROUP 20
#define TOTAL (NPROC * NBATCH * BSIZE)
#define RACES 20

typedef struct blobs {
    void *data[CR_NMODELS];
    size_t len[CR_NMODELS];
} blobs;

static void item_place(int p, int b, int i, char *fam, char *grp)
{
    snprintf(fam, 8, "f%d", (i + b) % 2);
    snprintf(grp, 8, "g%02d", (p * 7 + b * 3 + i) % NGROUP);
}

static void item_key(int p, int b, int i, char *key, size_t cap)
{
    snprintf(key, cap, "p%d-b%d-i%d", p, b, i);
}

/* Stage batch b of process p; returns a herd status. */
static int stage(herd_batch *hb, const blobs *bl, int p, int b)
{
    for (int i = 0; i < BSIZE; i++) {
        char fam[8], grp[8], key[48];
        item_place(p, b, i, fam, grp);
        item_key(p, b, i, key, sizeof key);
        int mi = (p + b + i) % CR_NMODELS;
        int rc = cr_add(hb, bl->data[mi], bl->len[mi], fam, grp, p, b, i, key,
                        i == 0 ? "champion" : NULL, NULL);
        if (rc) return rc;
    }
    return HERD_OK;
}

static void writer(const char *dir, const blobs *bl, int p)
{
    herd_registry *reg = NULL;
    if (herd_registry_open(dir, NULL, &reg)) {
        fprintf(stderr, "writer %d: open: %s\n", p, herd_last_error());
        _exit(1);
    }
    for (int b = 0; b < NBATCH; b++) {
        herd_batch *hb = NULL;
        int rc = herd_registry_begin(reg, &hb);
        if (!rc) rc = stage(hb, bl, p, b);
        if (!rc) rc = herd_batch_commit(hb);
        if (rc) {
            fprintf(stderr, "writer %d batch %d: %s (%s)\n", p, b, herd_status_str(rc),
                    herd_last_error());
            _exit(1);
        }
        herd_batch_free(hb);
    }
    herd_registry_free(reg);
    _exit(0);
}

/* Check a snapshot seen by the reader: whole batches only, gapless, and
 * nothing seen before missing.  seen[] is (p, b) -> seen before. */
static int reader_check(cr_snap *s, unsigned char *seen, char *err, size_t cap)
{
    static unsigned short count[NPROC * NBATCH];
    memset(count, 0, sizeof count);
    if (cr_check_gapless(s, err, cap)) return -1;
    for (size_t r = 0; r < s->n; r++) {
        const cr_row *w = &s->rows[r];
        if (w->proc < 0 || w->proc >= NPROC || w->batch < 0 || w->batch >= NBATCH) {
            snprintf(err, cap, "%s/%s v%" PRId64 ": bad tags proc=%ld batch=%ld", w->family,
                     w->group, w->version, w->proc, w->batch);
            return -1;
        }
        count[w->proc * NBATCH + w->batch]++;
    }
    for (int k = 0; k < NPROC * NBATCH; k++) {
        if (count[k] != 0 && count[k] != BSIZE) {
            snprintf(err, cap, "process %d batch %d partly visible: %u of %d versions",
                     k / NBATCH, k % NBATCH, count[k], BSIZE);
            return -1;
        }
        if (seen[k] && !count[k]) {
            snprintf(err, cap, "process %d batch %d was visible and is gone", k / NBATCH,
                     k % NBATCH);
            return -1;
        }
        seen[k] = count[k] != 0;
    }
    return 0;
}

static void reader(const char *dir)
{
    herd_registry *reg = NULL;
    int rc;
    /* the writers may not have created it yet */
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.read_only = 1;
    o.create = 0;
    double t0 = cr_now();
    while ((rc = herd_registry_open(dir, &o, &reg)) != HERD_OK) {
        if (cr_now() - t0 > 60) {
            fprintf(stderr, "reader: open: %s\n", herd_last_error());
            _exit(1);
        }
        usleep(1000);
    }
    static unsigned char seen[NPROC * NBATCH];
    unsigned loops = 0, distinct = 0;
    size_t last_n = (size_t)-1;
    char err[512];
    for (;;) {
        rc = herd_registry_refresh(reg);
        if (rc) {
            fprintf(stderr, "reader: refresh: %s (%s)\n", herd_status_str(rc), herd_last_error());
            _exit(1);
        }
        cr_snap s;
        if (cr_snap_take(reg, &s, err, sizeof err) || reader_check(&s, seen, err, sizeof err)) {
            fprintf(stderr, "reader, refresh %u: %s\n", loops, err);
            _exit(1);
        }
        size_t n = s.n;
        cr_snap_free(&s);
        loops++;
        distinct += n != last_n;
        last_n = n;
        if (n == TOTAL) break;
        if (cr_now() - t0 > 240) {
            fprintf(stderr, "reader: only %zu of %d versions after 240 s\n", n, TOTAL);
            _exit(1);
        }
    }
    herd_registry_free(reg);
    printf("# reader: %u refreshes, %u distinct states\n", loops, distinct);
    fflush(stdout);
    _exit(0);
}

static void expect_exit_ok(pid_t pid, const char *who)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s (pid %d) failed: status %d (its stderr says why)", who, (int)pid, st);
}

typedef struct tctx {
    cr_models m;
    blobs bl;
    char dir[4096], reg[4200];
} tctx;

static int setup(void **state)
{
    tctx *c = calloc(1, sizeof *c);
    char err[512];
    if (cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < CR_NMODELS; i++)
        if (cr_blob(&c->m, i, "conc", &c->bl.data[i], &c->bl.len[i])) return -1;
    if (cr_mkdtemp(c->dir, sizeof c->dir, "conc")) return -1;
    snprintf(c->reg, sizeof c->reg, "%s/reg", c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    tctx *c = *state;
    for (int i = 0; i < CR_NMODELS; i++) herd_free(c->bl.data[i]);
    cr_models_free(&c->m);
    int rc = cr_rmtree(c->dir);
    free(c);
    return rc;
}

/* The version of (p, b, i) in a snapshot, after checking it is there once
 * and where planned. */
static int64_t version_of(const cr_snap *s, int p, int b, int i)
{
    const cr_row *w = cr_snap_item(s, p, b, i);
    if (!w) fail_msg("process %d batch %d item %d is missing", p, b, i);
    return w->version;
}

static void test_writers_and_reader(void **state)
{
    tctx *c = *state;
    fflush(stdout);
    double t0 = cr_now();
    pid_t rd = fork();
    assert_true(rd >= 0);
    if (rd == 0) reader(c->reg);
    pid_t w[NPROC];
    for (int p = 0; p < NPROC; p++) {
        w[p] = fork();
        assert_true(w[p] >= 0);
        if (w[p] == 0) writer(c->reg, &c->bl, p);
    }
    for (int p = 0; p < NPROC; p++) {
        int st = 0;
        while (waitpid(w[p], &st, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            kill(rd, SIGKILL);
            waitpid(rd, NULL, 0);
            fail_msg("writer %d failed: status %d (its stderr says why)", p, st);
        }
    }
    double t1 = cr_now();
    expect_exit_ok(rd, "the reader");
    printf("# %d writers x %d versions: %.1f s\n", NPROC, NBATCH * BSIZE, t1 - t0);

    /* every version exactly once, where planned, numbered 1..n per group */
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->reg, NULL, &reg));
    cr_snap s;
    char err[512];
    if (cr_snap_take(reg, &s, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(s.n, TOTAL);
    if (cr_check_gapless(&s, err, sizeof err)) fail_msg("%s", err);
    static unsigned char once[NPROC][NBATCH][BSIZE];
    memset(once, 0, sizeof once);
    for (size_t r = 0; r < s.n; r++) {
        const cr_row *x = &s.rows[r];
        if (x->proc < 0 || x->proc >= NPROC || x->batch < 0 || x->batch >= NBATCH || x->item < 0 ||
            x->item >= BSIZE)
            fail_msg("%s/%s v%" PRId64 ": bad tags", x->family, x->group, x->version);
        if (once[x->proc][x->batch][x->item]++)
            fail_msg("process %ld batch %ld item %ld committed twice", x->proc, x->batch, x->item);
        char fam[8], grp[8], key[48];
        item_place((int)x->proc, (int)x->batch, (int)x->item, fam, grp);
        item_key((int)x->proc, (int)x->batch, (int)x->item, key, sizeof key);
        if (strcmp(fam, x->family) || strcmp(grp, x->group) || strcmp(key, x->idem))
            fail_msg("process %ld batch %ld item %ld is %s/%s key '%s', want %s/%s key '%s'",
                     x->proc, x->batch, x->item, x->family, x->group, x->idem, fam, grp, key);
    }
    /* the champion of each group is its newest item-0 version (batches
     * commit whole and in order of their numbers) */
    for (int f = 0; f < 2; f++)
        for (int g = 0; g < NGROUP; g++) {
            char fam[8], grp[8];
            snprintf(fam, sizeof fam, "f%d", f);
            snprintf(grp, sizeof grp, "g%02d", g);
            int64_t want = 0, got = -1;
            for (size_t r = 0; r < s.n; r++)
                if (s.rows[r].item == 0 && !strcmp(s.rows[r].family, fam) &&
                    !strcmp(s.rows[r].group, grp) && s.rows[r].version > want)
                    want = s.rows[r].version;
            int rc = herd_registry_resolve(reg, fam, grp, "champion", &got);
            if (want ? rc != HERD_OK || got != want : rc != HERD_ENOTFOUND)
                fail_msg("%s/%s@champion: %s v%" PRId64 ", want v%" PRId64, fam, grp,
                         herd_status_str(rc), got, want);
        }

    /* retries: process 0's first 10 batches again, same keys */
    for (int b = 0; b < 10; b++) {
        herd_batch *hb = NULL;
        CR_OK(herd_registry_begin(reg, &hb));
        CR_OK(stage(hb, &c->bl, 0, b));
        CR_OK(herd_batch_commit(hb));
        for (int i = 0; i < BSIZE; i++) {
            int64_t v = 0;
            int existed = -1;
            CR_OK(herd_batch_version(hb, (size_t)i, &v, &existed));
            if (existed != 1 || v != version_of(&s, 0, b, i))
                fail_msg("retry of process 0 batch %d item %d: v%" PRId64 " existed=%d, want v%"
                         PRId64 " existed=1", b, i, v, existed, version_of(&s, 0, b, i));
        }
        herd_batch_free(hb);
    }
    /* a batch mixing an old key and a new one */
    {
        herd_batch *hb = NULL;
        CR_OK(herd_registry_begin(reg, &hb));
        char key[48];
        item_key(1, 5, 3, key, sizeof key);
        char fam[8], grp[8];
        item_place(1, 5, 3, fam, grp);
        CR_OK(cr_add(hb, c->bl.data[0], c->bl.len[0], fam, grp, 1, 5, 3, key, NULL, NULL));
        CR_OK(cr_add(hb, c->bl.data[1], c->bl.len[1], fam, grp, 9, 0, 0, "new-key", NULL, NULL));
        CR_OK(herd_batch_commit(hb));
        int64_t v0 = 0, v1 = 0;
        int e0 = -1, e1 = -1;
        CR_OK(herd_batch_version(hb, 0, &v0, &e0));
        CR_OK(herd_batch_version(hb, 1, &v1, &e1));
        assert_int_equal(e0, 1);
        assert_int_equal(v0, version_of(&s, 1, 5, 3));
        assert_int_equal(e1, 0);
        int64_t latest = 0;
        for (size_t r = 0; r < s.n; r++)
            if (!strcmp(s.rows[r].family, fam) && !strcmp(s.rows[r].group, grp) &&
                s.rows[r].version > latest)
                latest = s.rows[r].version;
        assert_int_equal(v1, latest + 1);
        herd_batch_free(hb);
    }
    cr_snap_free(&s);
    herd_registry_free(reg);

    CR_OK(herd_registry_open(c->reg, NULL, &reg));
    if (cr_snap_take(reg, &s, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(s.n, TOTAL + 1); /* the retries added only "new-key" */
    if (cr_check_gapless(&s, err, sizeof err)) fail_msg("%s", err);
    cr_snap_free(&s);
    herd_registry_free(reg);
}

/* Two processes commit the same keyed batch at once. */
typedef struct race_report {
    int32_t rc;
    int64_t version[BSIZE];
    int32_t existed[BSIZE];
    char msg[200];
} race_report;

static void racer(const char *dir, const blobs *bl, int round, int go_fd, int out_fd)
{
    race_report r;
    memset(&r, 0, sizeof r);
    herd_registry *reg = NULL;
    herd_batch *hb = NULL;
    r.rc = herd_registry_open(dir, NULL, &reg);
    if (!r.rc) r.rc = herd_registry_begin(reg, &hb);
    for (int i = 0; !r.rc && i < BSIZE; i++) {
        char key[48], grp[8];
        snprintf(key, sizeof key, "race%d-%d", round, i);
        snprintf(grp, sizeof grp, "g%02d", (round + i) % NGROUP);
        r.rc = cr_add(hb, bl->data[i % CR_NMODELS], bl->len[i % CR_NMODELS], "race", grp, 8,
                      round, i, key, NULL, NULL);
    }
    char go;
    if (read(go_fd, &go, 1) != 1) _exit(3); /* start together */
    if (!r.rc) r.rc = herd_batch_commit(hb);
    for (int i = 0; !r.rc && i < BSIZE; i++) {
        int e = -1;
        r.rc = herd_batch_version(hb, (size_t)i, &r.version[i], &e);
        r.existed[i] = e;
    }
    if (r.rc) snprintf(r.msg, sizeof r.msg, "%s", herd_last_error());
    herd_batch_free(hb);
    herd_registry_free(reg);
    if (write(out_fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(4);
    _exit(0);
}

static void test_idempotent_race(void **state)
{
    tctx *c = *state;
    unsigned first_won[2] = {0, 0};
    for (int round = 0; round < RACES; round++) {
        int go[2], out[2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(out), 0);
        fflush(stdout);
        pid_t pid[2];
        for (int k = 0; k < 2; k++) {
            pid[k] = fork();
            assert_true(pid[k] >= 0);
            if (pid[k] == 0) {
                close(go[1]);
                close(out[0]);
                racer(c->reg, &c->bl, round, go[0], out[1]);
            }
        }
        close(go[0]);
        close(out[1]);
        assert_int_equal(write(go[1], "GG", 2), 2);
        close(go[1]);
        race_report r[2];
        for (int k = 0; k < 2; k++) {
            size_t got = 0;
            while (got < sizeof r[k]) {
                ssize_t n = read(out[0], (char *)&r[k] + got, sizeof r[k] - got);
                if (n <= 0) break;
                got += (size_t)n;
            }
            assert_int_equal(got, sizeof r[k]);
            if (r[k].rc) fail_msg("race %d: a racer failed: %s (%s)", round,
                                  herd_status_str(r[k].rc), r[k].msg);
        }
        close(out[0]);
        for (int k = 0; k < 2; k++) expect_exit_ok(pid[k], "a racer");
        int adder = r[0].existed[0] == 0 ? 0 : 1;
        for (int i = 0; i < BSIZE; i++) {
            if (r[adder].existed[i] != 0 || r[1 - adder].existed[i] != 1)
                fail_msg("race %d item %d: existed flags %d and %d, want one 0 and one 1 (for "
                         "every item alike)", round, i, r[0].existed[i], r[1].existed[i]);
            if (r[0].version[i] != r[1].version[i])
                fail_msg("race %d item %d: versions %" PRId64 " and %" PRId64, round, i,
                         r[0].version[i], r[1].version[i]);
        }
        first_won[adder]++;
    }
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->reg, NULL, &reg));
    cr_snap s;
    char err[512];
    if (cr_snap_take(reg, &s, err, sizeof err)) fail_msg("%s", err);
    size_t raced = 0;
    for (size_t i = 0; i < s.n; i++) raced += !strcmp(s.rows[i].family, "race");
    assert_int_equal(raced, RACES * BSIZE);
    if (cr_check_gapless(&s, err, sizeof err)) fail_msg("%s", err);
    cr_snap_free(&s);
    herd_registry_free(reg);
    printf("# %d races: the first racer added the batch %u times, the second %u times\n", RACES,
           first_won[0], first_won[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writers_and_reader),
        cmocka_unit_test(test_idempotent_race),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
