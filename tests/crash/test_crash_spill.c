/* Spilled batches on the simulated filesystem (hd_vfs_sim): a batch whose
 * artifacts pass the spill threshold writes them to a pack of its own,
 * `pack-tmp-<pid>-...`, which herd_batch_commit fdatasyncs, renames to the
 * next pack id under the writer lock, and references from its journal
 * record.  Every handle here lowers the threshold to about two artifacts
 * (hd_registry_set_spill_bytes), so a batch of 3 or more versions spills
 * and one of 1 or 2 stays in memory; the tests check that they do.
 *
 *   test_spill_power_cut_everywhere: a power cut at every I/O call of a
 *     workload where 2 commits spill (the first into the empty registry,
 *     whose pack then takes the small commits after it), a small commit
 *     and a checkpoint land while a spilled batch is staged (so its
 *     pack-tmp file is in a synced directory), a spilled batch is
 *     abandoned, and gc runs.  After every cut: the registry opens, every
 *     commit that returned HERD_OK is there with its artifacts, nothing
 *     half-committed shows, versions are gapless, a (spilled) recovery
 *     commit works and survives a power loss, herd_registry_check is clean,
 *     and a gc leaves no pack-tmp- file.
 *   test_spill_faults_*: every write, fsync, rename, directory sync and
 *     truncation of a spilled commit fails with EIO, then ENOSPC: the
 *     commit fails cleanly, the registry reopens consistent, freeing the
 *     batch removes its file, and either a following commit on a fresh
 *     handle or the SAME batch committed again on the same handle succeeds
 *     (exactly once), which a power loss keeps.  Into a registry with a
 *     pack already and into an empty one, with and without checkpoints,
 *     and with a torn journal tail to cut first.
 *   test_spill_final_sync_not_undone: the journal's fdatasync fails and so
 *     does the truncation that would undo the record ("the final sync
 *     failed and could not be undone"): the batch may then be visible, so
 *     it must be whole, artifacts included; retrying it must add nothing
 *     and, once it returned HERD_OK, survive a power loss.
 * Everything is freed: the suite runs under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "crash_common.h"
#include "crash_plan.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

#define REG "/reg"
#define FAULT_OPS \
    (HD_VFS_OP_WRITE | HD_VFS_OP_FSYNC | HD_VFS_OP_RENAME | HD_VFS_OP_SYNC_DIR | HD_VFS_OP_TRUNCATE)

typedef struct blobs {
    void *data[CR_NMODELS];
    size_t len[CR_NMODELS];
} blobs;

typedef struct sctx {
    cr_models m;
    blobs bl;
    uint64_t spill; /* the threshold: two of the largest artifacts */
} sctx;

/* Whether batch bi of pl spills at `spill` bytes, as the registry decides:
 * when the artifacts held in memory would pass it. */
static int cp_spills(const cp_batch *pl, int bi, const blobs *bl, uint64_t spill)
{
    uint64_t mem = 0;
    for (int i = 0; i < pl[bi].n; i++) {
        const cp_item *it = &pl[bi].item[i];
        size_t len = bl->len[it->blob ? it->blob : it->mi];
        if (mem + len > spill) return 1;
        mem += len;
    }
    return 0;
}

static int setup(void **state)
{
    sctx *c = calloc(1, sizeof *c);
    char err[1024];
    if (!c || cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", c ? err : "out of memory");
        free(c);
        return -1;
    }
    size_t max = 0;
    for (int i = 0; i < CR_NMODELS; i++) {
        if (cr_blob(&c->m, i, "spill", &c->bl.data[i], &c->bl.len[i])) return -1;
        if (c->bl.len[i] > max) max = c->bl.len[i];
    }
    c->spill = 2 * (uint64_t)max;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    sctx *c = *state;
    for (int i = 0; i < CR_NMODELS; i++) herd_free(c->bl.data[i]);
    cr_models_free(&c->m);
    free(c);
    return 0;
}

/* ---- the directory, seen through the sim ----------------------------------- */

typedef struct ls_ctx {
    const char *prefix;
    int n;
    char names[8][64];
} ls_ctx;

static int ls_entry(void *ctx, const char *name)
{
    ls_ctx *l = ctx;
    if (strncmp(name, l->prefix, strlen(l->prefix))) return 0;
    if (l->n < 8) snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    l->n++;
    return 0;
}

/* Entries of REG starting with `prefix` (-1: the listing failed). */
static int ls_count(const hd_vfs *v, const char *prefix, ls_ctx *out)
{
    ls_ctx l;
    memset(&l, 0, sizeof l);
    l.prefix = prefix;
    int rc = hd_vfs_list_dir(v, REG, ls_entry, &l);
    if (out) *out = l;
    return rc ? -1 : l.n;
}

static int tmp_count(const hd_vfs *v) { return ls_count(v, "pack-tmp-", NULL); }

/* The size of REG/name, -1 if it does not exist. */
static int64_t sim_size(const hd_vfs *v, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, REG "/%s", name);
    hd_vfs_file *f = NULL;
    if (hd_vfs_open(v, path, HD_VFS_READ, &f)) {
        herd_clear_error();
        return -1;
    }
    uint64_t n = 0;
    int rc = hd_vfs_size(f, &n);
    hd_vfs_close(f);
    return rc ? -1 : (int64_t)n;
}

static herd_registry *open_reg(const hd_vfs *v, uint64_t spill, uint64_t checkpoint)
{
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, REG, NULL, &reg));
    hd_registry_set_spill_bytes(reg, spill);
    hd_registry_set_checkpoint_every(reg, checkpoint);
    return reg;
}

static int stage(herd_registry *reg, const cp_batch *pl, int bi, const blobs *bl,
                 herd_batch **out)
{
    *out = NULL;
    int rc = herd_registry_begin(reg, out);
    if (!rc) rc = cp_stage(*out, pl, bi, bl->data, bl->len);
    return rc;
}

static void check_clean(herd_registry *reg, const char *when)
{
    herd_frame *problems = NULL;
    int crc = herd_registry_check(reg, &problems);
    if (crc != HERD_OK) {
        const char *f0 = problems && herd_frame_row_count(problems) ? cr_cell(problems, "file", 0)
                                                                : NULL;
        const char *p0 = problems && herd_frame_row_count(problems) ? cr_cell(problems, "problem", 0)
                                                                : NULL;
        fail_msg("%s: herd_registry_check: %s (%s); first problem: %s: %s", when,
                 herd_status_str(crc), herd_last_error(), f0 ? f0 : "-", p0 ? p0 : "-");
    }
    herd_frame_free(problems);
}

/* ========================================================================
 * Power cuts
 * ===================================================================== */

#define NB 5 /* workload batches; plan[NB] is the recovery commit */

/* S: spills (3 or more versions), m: in memory. */
static const cp_batch plan[NB + 1] = {
    /* S, into the empty registry: its pack becomes pack-000001, the
     * current one, which the small commits after it append to */
    {.id = 0,
     .n = 4,
     .item = {{"f0", "g0", 0, "champion", NULL}, {"f0", "g1", 1, NULL, NULL},
              {"f1", "g0", 2, NULL, "b0-2"}, {"f0", "g0", 4, NULL, NULL}},
     .run_id = "run-a"},
    /* m, after the spilled one */
    {.id = 1,
     .n = 1,
     .item = {{"f1", "g0", 3, "champion", "b1-0"}},
     .nmoves = 1,
     .move = {{"f0", "g0", "challenger", 2}}},
    /* m, committed while batch 3 is staged: its checkpoint syncs the
     * directory, pack-tmp file of batch 3 included */
    {.id = 2,
     .n = 2,
     .item = {{"f0", "g1", 0, NULL, NULL}, {"f1", "g1", 4, "champion", NULL}}},
    /* S, a new pack that is not the current one */
    {.id = 3,
     .n = 5,
     .item = {{"f0", "g0", 3, "challenger", NULL}, {"f1", "g1", 2, NULL, "b3-1"},
              {"f0", "g1", 4, "champion", "b3-2"}, {"f1", "g0", 0, NULL, NULL},
              {"f0", "g0", 1, NULL, NULL}},
     .run_id = "run-b"},
    /* m, after the spilled one: archives a version of pack-000001 (gc
     * then rewrites that pack) */
    {.id = 4,
     .n = 1,
     .item = {{"f1", "g1", 1, NULL, NULL}},
     .nmoves = 1,
     .move = {{"f0", "g0", "champion", 3}},
     .archive_family = "f0",
     .archive_group = "g1",
     .archive_version = 1},
    /* recovery: S */
    {.id = 9,
     .n = 3,
     .item = {{"f0", "g0", 2, "champion", "b9-0"}, {"f1", "g1", 3, NULL, NULL},
              {"f2", "g0", 4, NULL, NULL}}},
};
static const int plan_spills[NB + 1] = {1, 0, 0, 1, 0, 1};

/* A spilled batch the workload stages and frees without committing. */
static const cp_batch abandoned[1] = {
    {.id = 7,
     .n = 3,
     .item = {{"f0", "g0", 1, "champion", "b7-0"}, {"f0", "g2", 2, NULL, NULL},
              {"f1", "g0", 3, NULL, NULL}}},
};

typedef struct wl_result {
    int opened;
    int ok[NB];
    int64_t version[NB][CP_MAX_ITEMS];
    int gc_ok;
} wl_result;

static void finish(herd_batch *b, int bi, wl_result *r)
{
    int rc = b ? herd_batch_commit(b) : HERD_EINVAL;
    for (int i = 0; !rc && i < plan[bi].n; i++) {
        int e = 0;
        rc = herd_batch_version(b, (size_t)i, &r->version[bi][i], &e);
    }
    r->ok[bi] = rc == HERD_OK;
    herd_batch_free(b);
}

/* What the dry run checks between the steps (probe only). */
static void probe(const hd_vfs *v, int want_tmp, int want_packs, const char *step)
{
    ls_ctx l;
    int ntmp = tmp_count(v), npacks = ls_count(v, "pack-0", &l);
    if (ntmp != want_tmp)
        fail_msg("dry run, %s: %d pack-tmp- files, want %d", step, ntmp, want_tmp);
    if (npacks != want_packs)
        fail_msg("dry run, %s: %d pack files (first %s), want %d", step, npacks,
                 npacks > 0 ? l.names[0] : "-", want_packs);
}

/* The workload.  Ignores errors (a power cut makes every later call fail)
 * but records which commits returned HERD_OK; frees everything.  With
 * `probing` it checks the files between the steps (extra I/O calls: not
 * for the counted runs). */
static void workload(const hd_vfs *v, const blobs *bl, uint64_t spill, int probing,
                     wl_result *r)
{
    memset(r, 0, sizeof *r);
    herd_registry *reg = NULL;
    if (hd_registry_open_vfs(v, REG, NULL, &reg)) return;
    r->opened = 1;
    hd_registry_set_spill_bytes(reg, spill);
    hd_registry_set_checkpoint_every(reg, 1); /* after every commit: syncs the directory */
    herd_batch *b0 = NULL, *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL, *bx = NULL;
    int64_t size1 = 0;

    (void)stage(reg, plan, 0, bl, &b0);
    if (probing) probe(v, 1, 0, "batch 0 staged");
    finish(b0, 0, r);
    if (probing) {
        probe(v, 0, 1, "batch 0 committed");
        size1 = sim_size(v, "pack-000001");
        if (size1 <= 16) fail_msg("dry run: pack-000001 is %" PRId64 " bytes", size1);
    }

    (void)stage(reg, plan, 1, bl, &b1);
    if (probing) probe(v, 0, 1, "batch 1 staged");
    finish(b1, 1, r);
    if (probing) {
        probe(v, 0, 1, "batch 1 committed");
        int64_t s = sim_size(v, "pack-000001");
        if (s <= size1)
            fail_msg("dry run: the small commit after the spilled one did not append to its "
                     "pack (pack-000001: %" PRId64 " bytes, then %" PRId64 ")", size1, s);
        size1 = s;
    }

    (void)stage(reg, plan, 3, bl, &b3);
    if (probing) probe(v, 1, 1, "batch 3 staged");
    (void)stage(reg, plan, 2, bl, &b2);
    finish(b2, 2, r);
    if (probing) probe(v, 1, 1, "batch 2 committed while batch 3 is staged");

    (void)stage(reg, abandoned, 0, bl, &bx);
    if (probing) probe(v, 2, 1, "an abandoned batch staged");
    finish(b3, 3, r);
    if (probing) probe(v, 1, 2, "batch 3 committed");
    herd_batch_free(bx);
    if (probing) probe(v, 0, 2, "the abandoned batch freed");

    (void)stage(reg, plan, 4, bl, &b4);
    finish(b4, 4, r);
    if (probing) {
        probe(v, 0, 2, "batch 4 committed");
        int64_t s = sim_size(v, "pack-000001");
        if (s <= size1)
            fail_msg("dry run: the small commit after the second spilled one did not append "
                     "to pack-000001 (%" PRId64 " bytes, then %" PRId64 ")", size1, s);
    }
    r->gc_ok = herd_registry_gc(reg, NULL) == HERD_OK;
    if (probing && tmp_count(v) != 0) fail_msg("dry run: a pack-tmp- file after gc");
    herd_registry_free(reg);
}

/* A sim whose /reg directory exists durably. */
static hd_vfs_sim *new_sim(uint64_t seed)
{
    hd_vfs_sim *sim = hd_vfs_sim_new(seed, HD_VFS_SIM_TORN_APPENDS);
    assert_non_null(sim);
    CR_OK(hd_vfs_mkdir(hd_vfs_sim_vfs(sim), REG));
    CR_OK(hd_vfs_sync_dir(hd_vfs_sim_vfs(sim), "/"));
    return sim;
}

static void test_spill_power_cut_everywhere(void **state)
{
    sctx *c = *state;
    char err[1024];
    for (int b = 0; b <= NB; b++)
        if (cp_spills(plan, b, &c->bl, c->spill) != plan_spills[b])
            fail_msg("fixture: batch %d %s at %" PRIu64 " bytes", b,
                     plan_spills[b] ? "does not spill" : "spills", c->spill);
    assert_true(cp_spills(abandoned, 0, &c->bl, c->spill));

    /* dry run with probes: the spills and packs happen as planned */
    hd_vfs_sim *sim = new_sim(1);
    wl_result r;
    workload(hd_vfs_sim_vfs(sim), &c->bl, c->spill, 1, &r);
    assert_true(r.opened);
    for (int b = 0; b < NB; b++) {
        if (!r.ok[b]) fail_msg("dry run: commit %d failed", b);
        for (int i = 0; i < plan[b].n; i++)
            assert_int_equal(r.version[b][i], cp_version_of(plan, b, i));
    }
    if (!r.gc_ok) fail_msg("dry run: gc failed: %s", herd_last_error());
    {
        herd_registry *reg = open_reg(hd_vfs_sim_vfs(sim), c->spill, 0);
        int want[NB] = {1, 1, 1, 1, 1};
        if (cp_verify(reg, plan, NB, want, &c->m, 1, err, sizeof err)) fail_msg("dry run: %s", err);
        herd_artifact *a = NULL;
        CR_RC(herd_registry_load(reg, "f0", "g1", 1, &a), HERD_ENOTFOUND); /* reclaimed */
        herd_batch *b = NULL;
        CR_OK(stage(reg, plan, NB, &c->bl, &b));
        assert_int_equal(tmp_count(hd_vfs_sim_vfs(sim)), 1); /* the recovery commit spills */
        herd_batch_free(b);
        assert_int_equal(tmp_count(hd_vfs_sim_vfs(sim)), 0);
        herd_registry_free(reg);
    }
    hd_vfs_sim_free(sim);

    /* dry run without probes: count the calls */
    sim = new_sim(1);
    uint64_t before = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL);
    workload(hd_vfs_sim_vfs(sim), &c->bl, c->spill, 0, &r);
    for (int b = 0; b < NB; b++) assert_true(r.ok[b]);
    assert_true(r.gc_ok);
    uint64_t count = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL) - before;
    hd_vfs_sim_free(sim);
    printf("# spill workload: %" PRIu64 " I/O calls (spill at %" PRIu64 " bytes)\n", count,
           c->spill);
    assert_true(count > 50);

    double t0 = cr_now();
    unsigned not_down = 0, by_prefix[NB + 1] = {0}, tmp_left = 0;
    for (uint64_t k = 1; k <= count; k++) {
        sim = new_sim(k);
        const hd_vfs *v = hd_vfs_sim_vfs(sim);
        hd_vfs_sim_crash_at(sim, k, HD_VFS_OP_ALL);
        workload(v, &c->bl, c->spill, 0, &r);
        if (!hd_vfs_sim_is_down(sim)) {
            not_down++;
            hd_vfs_sim_crash_at(sim, 0, 0);
            hd_vfs_sim_power_loss(sim);
        }
        hd_vfs_sim_restart(sim);

        herd_registry *reg = NULL;
        int rc = hd_registry_open_vfs(v, REG, NULL, &reg);
        if (rc != HERD_OK)
            fail_msg("cut at call %" PRIu64 "%s: the registry does not open: %s (%s)", k,
                     r.opened ? "" : " (in the first open)", herd_status_str(rc),
                     herd_last_error());
        hd_registry_set_spill_bytes(reg, c->spill);
        int ntmp = tmp_count(v);
        tmp_left += ntmp > 0;
        const char *labels[NB];
        for (int b = 0; b < NB; b++) labels[b] = plan_spills[b] ? "spilled" : "in memory";
        int np = cp_check_cut(reg, plan, NB, r.ok, r.version, &c->m, k, labels);
        by_prefix[np]++;

        /* the recovered registry takes a new (spilled) commit, which a
         * reopen and another power loss keep */
        cp_batch after[NB + 1];
        int na = cp_recovery_commit(reg, plan, NB, np, c->bl.data, c->bl.len, k, after);
        herd_registry_free(reg);
        int want2[NB + 1];
        for (int b = 0; b < na; b++) want2[b] = 1;
        char when[160];
        for (int round = 0; round < 2; round++) {
            if (round == 1) hd_vfs_sim_power_loss(sim);
            reg = open_reg(v, c->spill, 0);
            if (cp_verify(reg, after, na, want2, &c->m, 1, err, sizeof err))
                fail_msg("cut at call %" PRIu64 ", after the recovery commit%s: %s", k,
                         round ? " and a power loss" : "", err);
            if (round == 1) {
                snprintf(when, sizeof when, "cut at call %" PRIu64, k);
                check_clean(reg, when);
                /* no process holds a batch now: gc removes every pack-tmp */
                rc = herd_registry_gc(reg, NULL);
                if (rc)
                    fail_msg("cut at call %" PRIu64 ": gc: %s (%s)", k, herd_status_str(rc),
                             herd_last_error());
                ls_ctx l;
                int left = ls_count(v, "pack-tmp-", &l);
                if (left != 0)
                    fail_msg("cut at call %" PRIu64 ": %d pack-tmp- file(s) after gc (%s; %d "
                             "before the recovery commit)", k, left, left > 0 ? l.names[0] : "-",
                             ntmp);
                if (cp_verify(reg, after, na, want2, &c->m, 1, err, sizeof err))
                    fail_msg("cut at call %" PRIu64 ", after gc: %s", k, err);
                snprintf(when, sizeof when, "cut at call %" PRIu64 ", after gc", k);
                check_clean(reg, when);
            }
            herd_registry_free(reg);
        }
        hd_vfs_sim_free(sim);
    }
    double t1 = cr_now();
    printf("# %" PRIu64 " power cuts in %.1f s; batches present after the cut: 0:%u 1:%u 2:%u "
           "3:%u 4:%u 5:%u; %u cuts left a pack-tmp- file (gc removed it); %u runs made fewer "
           "calls than the dry run\n",
           count, t1 - t0, by_prefix[0], by_prefix[1], by_prefix[2], by_prefix[3], by_prefix[4],
           by_prefix[5], tmp_left, not_down);
    for (int b = 0; b <= NB; b++) assert_true(by_prefix[b] > 0);
    assert_true(tmp_left > 0); /* the gc check was not vacuous */
}

/* ========================================================================
 * Injected faults
 * ===================================================================== */

/* A tracing layer: the sim's own table with the calls that can fail
 * replaced by wrappers that note them (to name the failing call in
 * messages) and, for test_spill_final_sync_not_undone, fail the journal's
 * fdatasync and then the truncation that would undo the record.  The sim
 * keeps its state in vfs->user and each file's, so a copy of its table
 * works as a layer of its own. */
typedef struct tvfs {
    hd_vfs vfs;
    hd_vfs inner;
    hd_vfs_sim *sim;
    pthread_mutex_t mu;
    int tracing;
    unsigned n;
    char op[64][160];
    int fail_journal_sync; /* arm: the next journal fdatasync (not a cut's fsync), then the next truncation */
    int fired;
} tvfs;

static tvfs g_tv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void tv_note(const char *op, const char *path, const char *to)
{
    pthread_mutex_lock(&g_tv.mu);
    if (g_tv.tracing && g_tv.n < 64) {
        const char *slash = strrchr(path, '/');
        const char *tslash = to ? strrchr(to, '/') : NULL;
        const char *name = slash ? slash + 1 : path, *tname = to ? (tslash ? tslash + 1 : to) : "";
        /* pack-tmp-<pid>-<batch>-<ns> differs from run to run */
        snprintf(g_tv.op[g_tv.n], sizeof g_tv.op[0], "%s %s%s%s", op,
                 strncmp(name, "pack-tmp-", 9) ? name : "pack-tmp-*", to ? " -> " : "",
                 strncmp(tname, "pack-tmp-", 9) ? tname : "pack-tmp-*");
    }
    if (g_tv.tracing) g_tv.n++;
    pthread_mutex_unlock(&g_tv.mu);
}

static int tv_pwrite(hd_vfs_file *f, const void *buf, size_t len, uint64_t off)
{
    tv_note("write", f->path, NULL);
    return g_tv.inner.pwrite(f, buf, len, off);
}
static int tv_write(hd_vfs_file *f, const void *buf, size_t len)
{
    tv_note("write", f->path, NULL);
    return g_tv.inner.write(f, buf, len);
}
static int tv_sync(hd_vfs_file *f, int data)
{
    tv_note(data ? "fdatasync" : "fsync", f->path, NULL);
    size_t n = strlen(f->path);
    if (g_tv.fail_journal_sync && data && n >= 8 && !strcmp(f->path + n - 8, "/journal")) {
        g_tv.fail_journal_sync = 0;
        g_tv.fired = 1;
        hd_vfs_sim_fail_at(g_tv.sim, 1, HD_VFS_OP_FSYNC, EIO);
        int rc = data ? g_tv.inner.fdatasync(f) : g_tv.inner.fsync(f);
        hd_vfs_sim_fail_at(g_tv.sim, 1, HD_VFS_OP_TRUNCATE, EIO);
        return rc;
    }
    return data ? g_tv.inner.fdatasync(f) : g_tv.inner.fsync(f);
}
static int tv_fsync(hd_vfs_file *f) { return tv_sync(f, 0); }
static int tv_fdatasync(hd_vfs_file *f) { return tv_sync(f, 1); }
static int tv_truncate(hd_vfs_file *f, uint64_t size)
{
    tv_note("truncate", f->path, NULL);
    return g_tv.inner.truncate(f, size);
}
static int tv_rename(const hd_vfs *v, const char *from, const char *to)
{
    (void)v;
    tv_note("rename", from, to);
    return g_tv.inner.rename(&g_tv.inner, from, to);
}
static int tv_sync_dir(const hd_vfs *v, const char *path)
{
    (void)v;
    tv_note("sync_dir", path, NULL);
    return g_tv.inner.sync_dir(&g_tv.inner, path);
}

/* The tracing layer over `sim` (one at a time). */
static const hd_vfs *tv_wrap(hd_vfs_sim *sim)
{
    g_tv.sim = sim;
    g_tv.inner = *hd_vfs_sim_vfs(sim);
    g_tv.vfs = g_tv.inner;
    g_tv.vfs.pwrite = tv_pwrite;
    g_tv.vfs.write = tv_write;
    g_tv.vfs.fsync = tv_fsync;
    g_tv.vfs.fdatasync = tv_fdatasync;
    g_tv.vfs.truncate = tv_truncate;
    g_tv.vfs.rename = tv_rename;
    g_tv.vfs.sync_dir = tv_sync_dir;
    g_tv.tracing = 0;
    g_tv.n = 0;
    g_tv.fail_journal_sync = 0;
    g_tv.fired = 0;
    return &g_tv.vfs;
}

/* A: in memory, before; B: the faulty commit, spilled; C: the following
 * one, in memory (it appends to B's pack when B made the first one). */
static const cp_batch fplan[3] = {
    {.id = 1,
     .n = 2,
     .item = {{"f0", "g0", 0, "champion", NULL}, {"f0", "g1", 1, NULL, NULL}},
     .run_id = "run-a"},
    {.id = 2,
     .n = 4,
     .item = {{"f0", "g0", 3, "champion", "B-0"}, {"f0", "g1", 4, NULL, "B-1"},
              {"f1", "g1", 1, "challenger", "B-2"}, {"f0", "g0", 2, NULL, "B-3"}},
     .run_id = "run-b"},
    {.id = 3,
     .n = 2,
     .item = {{"f0", "g0", 4, NULL, "C-0"}, {"f1", "g0", 0, "champion", "C-1"}}},
};

/* A fresh sim (through the tracing layer) with the registry created and,
 * with `with_a`, batch A committed. */
static hd_vfs_sim *make_base(sctx *c, uint64_t seed, uint64_t ck, int with_a, const hd_vfs **v)
{
    hd_vfs_sim *sim = hd_vfs_sim_new(seed, HD_VFS_SIM_TORN_APPENDS);
    assert_non_null(sim);
    *v = tv_wrap(sim);
    CR_OK(hd_vfs_mkdir(*v, REG));
    CR_OK(hd_vfs_sync_dir(*v, "/"));
    herd_registry *reg = open_reg(*v, c->spill, ck);
    if (with_a) CR_OK(cp_commit(reg, fplan, 0, c->bl.data, c->bl.len, NULL, NULL));
    herd_registry_free(reg);
    return sim;
}

static void add_torn_tail(const hd_vfs *v)
{
    unsigned char junk[100];
    memset(junk, 0xAB, sizeof junk);
    hd_vfs_file *f = NULL;
    CR_OK(hd_vfs_open(v, REG "/journal", HD_VFS_RDWR | HD_VFS_APPEND, &f));
    CR_OK(hd_vfs_write(f, junk, sizeof junk));
    CR_OK(hd_vfs_fsync(f));
    CR_OK(hd_vfs_close(f));
}

/* The registry on v shows exactly the batches of want[] (A, B, C), with
 * their artifacts; 0, or -1 with err. */
static int fexpect(sctx *c, const hd_vfs *v, const int *want, const char *when, char *err,
                   size_t cap)
{
    herd_registry *reg = NULL;
    int rc = hd_registry_open_vfs(v, REG, NULL, &reg);
    if (rc) {
        snprintf(err, cap, "%s: the registry does not open: %s (%s)", when, herd_status_str(rc),
                 herd_last_error());
        return -1;
    }
    char e[1024];
    int bad = cp_verify(reg, fplan, 3, want, &c->m, 0, e, sizeof e);
    if (bad) snprintf(err, cap, "%s (want A:%d B:%d C:%d): %s", when, want[0], want[1], want[2], e);
    herd_registry_free(reg);
    return bad ? -1 : 0;
}

/* Whether batch B is visible on v (-1 with err when partly). */
static int fb_present(const hd_vfs *v, char *err, size_t cap)
{
    herd_registry *reg = NULL;
    if (hd_registry_open_vfs(v, REG, NULL, &reg)) {
        snprintf(err, cap, "the registry does not open: %s", herd_last_error());
        return -1;
    }
    cr_snap s;
    int present[3] = {0};
    int rc = cr_snap_take(reg, &s, err, cap);
    if (!rc) {
        rc = cp_presence(&s, fplan, 3, present, err, cap);
        cr_snap_free(&s);
    }
    herd_registry_free(reg);
    return rc ? -1 : present[1];
}

/* gc on a fresh handle leaves no pack-tmp- file; 0 or -1 with err. */
static int fgc(sctx *c, const hd_vfs *v, const char *when, char *err, size_t cap)
{
    herd_registry *reg = open_reg(v, c->spill, 0);
    int rc = herd_registry_gc(reg, NULL);
    if (rc) snprintf(err, cap, "%s: gc: %s (%s)", when, herd_status_str(rc), herd_last_error());
    herd_registry_free(reg);
    ls_ctx l;
    int left = ls_count(v, "pack-tmp-", &l);
    if (!rc && left) {
        snprintf(err, cap, "%s: %d pack-tmp- file(s) after gc (%s)", when, left, l.names[0]);
        rc = -1;
    }
    return rc ? -1 : 0;
}

typedef struct frun {
    uint64_t n, ck;
    int e, mode, torn, with_a;
    const char *op; /* the failing call, from the dry run's trace */
} frun;

typedef struct fstats {
    unsigned undone, reported_ok, retried_ok, new_batch;
} fstats;

/* One faulty commit and what follows; 0, or -1 with err. */
static int fault_run(sctx *c, const frun *fr, fstats *st, char *err, size_t cap)
{
    char e2[1024];
    const hd_vfs *v;
    hd_vfs_sim *sim = make_base(c, fr->n * 8 + (uint64_t)fr->mode * 2 + (fr->e == ENOSPC), fr->ck,
                                fr->with_a, &v);
    herd_registry *reg = open_reg(v, c->spill, fr->ck);
    herd_batch *b = NULL;
    int ret = -1;
    if (fr->torn) add_torn_tail(v);
    CR_OK(stage(reg, fplan, 1, &c->bl, &b));
    if (tmp_count(v) != 1) {
        snprintf(err, cap, "batch B did not spill (%d pack-tmp- files)", tmp_count(v));
        goto out;
    }
    hd_vfs_sim_fail_at(sim, fr->n, FAULT_OPS, fr->e);
    herd_clear_error();
    int rc = herd_batch_commit(b);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", herd_last_error());
    hd_vfs_sim_fail_at(sim, 0, 0, 0);
    int may_be_visible = cr_icontains(msg, "undone");
    if (rc == HERD_OK) {
        if (fr->ck == 0) {
            snprintf(err, cap, "the commit returned HERD_OK");
            goto out;
        }
        st->reported_ok++;
    } else {
        if (rc != HERD_EIO) {
            snprintf(err, cap, "the commit returned %s, want HERD_EIO (%s)", herd_status_str(rc),
                     msg);
            goto out;
        }
        if (!msg[0]) {
            snprintf(err, cap, "the commit failed with an empty message");
            goto out;
        }
        if (fr->e == ENOSPC && !cr_icontains(msg, "no space left")) {
            snprintf(err, cap, "the message does not say no space was left: %s", msg);
            goto out;
        }
    }
    int bvis = fb_present(v, e2, sizeof e2);
    if (bvis < 0) {
        snprintf(err, cap, "after the failed commit: %s", e2);
        goto out;
    }
    if (bvis && rc != HERD_OK && !may_be_visible) {
        snprintf(err, cap, "the commit failed (%s) without saying the final sync could not be "
                 "undone, yet the batch is visible", msg);
        goto out;
    }
    if (rc == HERD_OK && !bvis) {
        snprintf(err, cap, "the commit returned HERD_OK, the batch is not visible");
        goto out;
    }
    st->undone += bvis && rc != HERD_OK;
    int want[3] = {fr->with_a, bvis, 0};
    if (fexpect(c, v, want, "reopened after the failed commit", err, cap)) goto out;
    int ntmp = tmp_count(v);
    if (rc == HERD_OK ? ntmp != 0 : ntmp > 1) {
        snprintf(err, cap, "after the commit (%s): %d pack-tmp- files", herd_status_str(rc), ntmp);
        goto out;
    }

    if (fr->mode == 0) {
        /* the batch is dropped: its file goes; a following commit on a
         * fresh handle works */
        herd_batch_free(b);
        b = NULL;
        ls_ctx l;
        ntmp = ls_count(v, "pack-tmp-", &l);
        if (rc != HERD_OK && ntmp != 0) {
            snprintf(err, cap, "herd_batch_free of the batch whose commit failed (%s) left its "
                     "file %s", msg, l.names[0]);
            goto out;
        }
        herd_registry_free(reg);
        reg = open_reg(v, c->spill, fr->ck);
        int rc2 = cp_commit(reg, fplan, 2, c->bl.data, c->bl.len, NULL, NULL);
        if (rc2) {
            snprintf(err, cap, "the next commit failed: %s (%s)", herd_status_str(rc2),
                     herd_last_error());
            goto out;
        }
        herd_registry_free(reg);
        reg = NULL;
        want[2] = 1;
        if (fexpect(c, v, want, "after the next commit", err, cap)) goto out;
    } else {
        /* the same batch again on the same handle */
        int rc2 = herd_batch_commit(b);
        char msg2[1024];
        snprintf(msg2, sizeof msg2, "%s", herd_last_error());
        if (rc == HERD_OK) {
            if (rc2 != HERD_EINVAL) {
                snprintf(err, cap, "committing the committed batch again: %s, want HERD_EINVAL "
                         "(%s)", herd_status_str(rc2), msg2);
                goto out;
            }
        } else if (rc2 == HERD_OK) {
            st->retried_ok++;
            for (int i = 0; i < fplan[1].n; i++) {
                int64_t ver = 0;
                int existed = -1;
                CR_OK(herd_batch_version(b, (size_t)i, &ver, &existed));
                int64_t wv = cp_version_of(fplan + (fr->with_a ? 0 : 1), fr->with_a ? 1 : 0, i);
                if (ver != wv || existed != bvis) {
                    snprintf(err, cap, "retried item %d: v%" PRId64 " existed=%d, want v%" PRId64
                             " existed=%d", i, ver, existed, wv, bvis);
                    goto out;
                }
            }
            int rc3 = herd_batch_commit(b);
            if (rc3 != HERD_EINVAL) {
                snprintf(err, cap, "a third commit of the batch: %s, want HERD_EINVAL (%s)",
                         herd_status_str(rc3), herd_last_error());
                goto out;
            }
            if (tmp_count(v) != 0) {
                snprintf(err, cap, "a pack-tmp- file after the retried commit succeeded");
                goto out;
            }
        } else if (rc2 == HERD_EIO && cr_icontains(msg2, "begin a new batch")) {
            /* the pack could not be taken back: the batch is done for; its
             * file must not linger, and a new batch with the same content
             * commits */
            st->new_batch++;
            herd_batch_free(b);
            b = NULL;
            ls_ctx l;
            if (ls_count(v, "pack-tmp-", &l) != 0) {
                snprintf(err, cap, "the retry said '%s', yet after herd_batch_free the file %s "
                         "remains (the pack was never moved: the forward rename failed)", msg2,
                         l.names[0]);
                goto out;
            }
            int rc3 = cp_commit(reg, fplan, 1, c->bl.data, c->bl.len, NULL, NULL);
            if (rc3) {
                snprintf(err, cap, "after '%s', a new batch: %s (%s)", msg2, herd_status_str(rc3),
                         herd_last_error());
                goto out;
            }
        } else {
            snprintf(err, cap, "committing the batch again (after: %s) failed: %s (%s)", msg,
                     herd_status_str(rc2), msg2);
            goto out;
        }
        herd_batch_free(b);
        b = NULL;
        herd_registry_free(reg);
        reg = NULL;
        want[1] = 1;
        if (fexpect(c, v, want, "after committing again", err, cap)) goto out;
    }
    herd_batch_free(b);
    b = NULL;
    herd_registry_free(reg);
    reg = NULL;
    hd_vfs_sim_power_loss(sim);
    if (fexpect(c, v, want, "after a power loss", err, cap)) goto out;
    if (fgc(c, v, "after a power loss", err, cap)) goto out;
    if (fexpect(c, v, want, "after a power loss and gc", err, cap)) goto out;
    {
        herd_registry *r2 = open_reg(v, c->spill, 0);
        int crc = herd_registry_check(r2, NULL);
        if (crc) snprintf(err, cap, "herd_registry_check: %s (%s)", herd_status_str(crc),
                          herd_last_error());
        herd_registry_free(r2);
        if (crc) goto out;
    }
    ret = 0;
out:
    herd_batch_free(b);
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
    return ret;
}

static void run_spill_faults(sctx *c, uint64_t ck, int torn, int with_a)
{
    /* the dry run: count and name the fault points of commit B */
    const hd_vfs *v;
    hd_vfs_sim *sim = make_base(c, 1, ck, with_a, &v);
    herd_registry *reg = open_reg(v, c->spill, ck);
    if (torn) add_torn_tail(v);
    herd_batch *b = NULL;
    CR_OK(stage(reg, fplan, 1, &c->bl, &b));
    assert_int_equal(tmp_count(v), 1);
    uint64_t before = hd_vfs_sim_calls(sim, FAULT_OPS);
    g_tv.tracing = 1;
    CR_OK(herd_batch_commit(b));
    g_tv.tracing = 0;
    uint64_t count = hd_vfs_sim_calls(sim, FAULT_OPS) - before;
    herd_batch_free(b);
    herd_registry_free(reg);
    assert_int_equal(g_tv.n, count);
    char ops[64][160];
    memcpy(ops, g_tv.op, sizeof ops);
    hd_vfs_sim_free(sim);
    printf("# %s, checkpoint every %" PRIu64 "%s: spilled commit B makes %" PRIu64
           " writes/fsyncs/renames/dir syncs/truncations:", with_a ? "after A" : "first pack", ck,
           torn ? ", torn tail before it" : "", count);
    for (uint64_t i = 0; i < count && i < 64; i++) printf("%s %s", i ? "," : "", ops[i]);
    printf("\n");
    assert_true(count >= 5);

    const int errs[2] = {EIO, ENOSPC};
    fstats st = {0};
    unsigned runs = 0, failed = 0;
    char first[600] = "";
    for (int mode = 0; mode < 2; mode++)
        for (int ei = 0; ei < 2; ei++)
            for (uint64_t n = 1; n <= count; n++) {
                frun fr = {.n = n, .ck = ck, .e = errs[ei], .mode = mode, .torn = torn,
                           .with_a = with_a, .op = n <= 64 ? ops[n - 1] : "?"};
                char err[1500];
                runs++;
                if (fault_run(c, &fr, &st, err, sizeof err) == 0) continue;
                /* each printed whole; the failure message keeps the first
                 * (cmocka cuts long ones) */
                printf("# FAIL: %s at call %" PRIu64 " (%s), then %s: %s\n",
                       errs[ei] == EIO ? "EIO" : "ENOSPC", n, fr.op,
                       mode ? "the same batch again" : "a new commit", err);
                if (!failed++)
                    CR_SNPRINTF(first, sizeof first, "%s at call %" PRIu64 " (%s), then %s: %.400s",
                             errs[ei] == EIO ? "EIO" : "ENOSPC", n, fr.op,
                             mode ? "the same batch again" : "a new commit", err);
            }
    printf("# %u faulty commits: %u left the batch visible (not undone), %u reported success, "
           "%u retried into success, %u said to begin a new batch\n",
           runs, st.undone, st.reported_ok, st.retried_ok, st.new_batch);
    if (failed)
        fail_msg("%s, checkpoint every %" PRIu64 "%s: %u of %u faulty spilled commits went "
                 "wrong (each printed above); the first: %s", with_a ? "after A" : "first pack",
                 ck, torn ? ", torn tail" : "", failed, runs, first);
}

static void test_spill_faults_no_checkpoint(void **state) { run_spill_faults(*state, 0, 0, 1); }
static void test_spill_faults_checkpoint_each_commit(void **state)
{
    run_spill_faults(*state, 1, 0, 1);
}
static void test_spill_faults_cutting_a_torn_tail(void **state)
{
    run_spill_faults(*state, 0, 1, 1);
}
static void test_spill_faults_first_pack(void **state) { run_spill_faults(*state, 0, 0, 0); }
static void test_spill_faults_first_pack_checkpoint(void **state)
{
    run_spill_faults(*state, 1, 0, 0);
}

/* The journal's fdatasync fails, and so does the truncation that would
 * take the record back: the commit says the batch may be visible.  Then
 * the batch must be whole where it shows (artifacts included), a retry on
 * the same handle must add nothing, and a retry that returned HERD_OK must
 * survive a power loss. */
static void test_spill_final_sync_not_undone(void **state)
{
    sctx *c = *state;
    char err[1024], problems[1024] = "";
    unsigned nproblems = 0;
    /* each printed whole; the failure message keeps the first (cmocka cuts
     * long ones) */
#define PROBLEM(...)                                                                      \
    do {                                                                                  \
        char p_[2048];                                                                    \
        snprintf(p_, sizeof p_, __VA_ARGS__);                                             \
        printf("# FAIL: %s\n", p_);                                                       \
        if (!nproblems++) snprintf(problems, sizeof problems, "%.700s", p_);              \
    } while (0)
    for (int with_a = 1; with_a >= 0; with_a--) {
        const hd_vfs *v;
        hd_vfs_sim *sim = make_base(c, 7, 0, with_a, &v);
        herd_registry *reg = open_reg(v, c->spill, 0);
        herd_batch *b = NULL;
        CR_OK(stage(reg, fplan, 1, &c->bl, &b));
        assert_int_equal(tmp_count(v), 1);
        g_tv.fail_journal_sync = 1;
        int rc = herd_batch_commit(b);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", herd_last_error());
        g_tv.fail_journal_sync = 0;
        hd_vfs_sim_fail_at(sim, 0, 0, 0);
        const char *base = with_a ? "after A" : "first pack";
        if (!g_tv.fired) fail_msg("%s: the journal was never fdatasynced", base);
        if (rc != HERD_EIO || !cr_icontains(msg, "undone"))
            fail_msg("%s: the commit returned %s (%s), want HERD_EIO saying the final sync could "
                     "not be undone", base, herd_status_str(rc), msg);
        ls_ctx l;
        int ntmp = ls_count(v, "pack-tmp-", &l);
        int bvis = fb_present(v, err, sizeof err);
        if (bvis < 0) fail_msg("%s: %s", base, err);
        int want[3] = {with_a, bvis, 0};
        if (fexpect(c, v, want, "reopened after the commit", err, sizeof err))
            PROBLEM("%s: the batch %s visible after '%s' (its pack was renamed back to %s): %s",
                    base, bvis ? "is" : "is not", msg, ntmp > 0 ? l.names[0] : "-", err);
        int rc2 = herd_batch_commit(b);
        char msg2[1024];
        snprintf(msg2, sizeof msg2, "%s", herd_last_error());
        if (rc2 == HERD_OK) {
            for (int i = 0; i < fplan[1].n; i++) {
                int64_t ver = 0;
                int existed = -1;
                CR_OK(herd_batch_version(b, (size_t)i, &ver, &existed));
                int64_t wv = cp_version_of(fplan + (with_a ? 0 : 1), with_a ? 1 : 0, i);
                if (ver != wv) PROBLEM("%s: retried item %d: v%" PRId64 ", want v%" PRId64, base,
                                       i, ver, wv);
            }
            want[1] = 1;
            if (fexpect(c, v, want, "after the retry returned HERD_OK", err, sizeof err))
                PROBLEM("%s: %s", base, err);
        } else if (!(rc2 == HERD_EIO && cr_icontains(msg2, "begin a new batch"))) {
            PROBLEM("%s: committing the batch again: %s (%s)", base, herd_status_str(rc2), msg2);
        }
        herd_batch_free(b);
        herd_registry_free(reg);
        hd_vfs_sim_power_loss(sim);
        if (rc2 == HERD_OK) {
            want[1] = 1;
            if (fexpect(c, v, want, "the retry returned HERD_OK; after a power loss", err,
                        sizeof err))
                PROBLEM("%s: %s", base, err);
        } else {
            bvis = fb_present(v, err, sizeof err);
            want[1] = bvis > 0;
            if (bvis < 0 || fexpect(c, v, want, "after a power loss", err, sizeof err))
                PROBLEM("%s: %s", base, err);
        }
        if (fgc(c, v, "after a power loss", err, sizeof err)) PROBLEM("%s: %s", base, err);
        hd_vfs_sim_free(sim);
    }
    if (nproblems)
        fail_msg("a spilled commit whose final sync could not be undone: %u problems (all "
                 "printed above), the first: %s", nproblems, problems);
#undef PROBLEM
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_power_cut_everywhere),
        cmocka_unit_test(test_spill_faults_no_checkpoint),
        cmocka_unit_test(test_spill_faults_checkpoint_each_commit),
        cmocka_unit_test(test_spill_faults_cutting_a_torn_tail),
        cmocka_unit_test(test_spill_faults_first_pack),
        cmocka_unit_test(test_spill_faults_first_pack_checkpoint),
        cmocka_unit_test(test_spill_final_sync_not_undone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
