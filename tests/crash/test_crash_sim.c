/* Power cuts at every I/O call of a registry workload, on the simulated
 * filesystem (hd_vfs_sim) with torn appends: after a power loss a file
 * keeps only what was fsynced, and an unsynced append may survive in part.
 *
 * The workload opens a registry, commits 4 batches (versions with alias
 * moves, an explicit alias move, an archive, a run), with an index
 * checkpoint after the second, and reclaims the archived artifact with
 * herd_registry_gc.  A dry run counts its I/O calls; then for every k the
 * machine dies at the k-th call (the call does not happen, nothing
 * unsynced survives, later calls fail) and comes back.  The registry must
 * open; every commit that returned HERD_OK must be there; the batches
 * present must be a prefix of the workload's, each complete, with exactly
 * the planned version numbers, aliases, archive status and artifacts (the
 * archived one may be reclaimed); a new commit on the recovered registry
 * must succeed and survive a reopen and another power loss.
 *
 * The same again with a workload shaped for the tiered index (an index
 * checkpoint after every commit, each commit touching new groups): the
 * base is written, then a delta above it, then a merge of two deltas, then
 * a merge of everything into a new base, then gc's relocations; a cut
 * anywhere in a delta's write, a merge or the removal of the files a merge
 * replaced loses nothing that was acknowledged.
 *
 * And the first workload once more with journal records written in
 * chunks of 64 bytes (hd_registry_set_record_chunk: every operation a
 * chunk or two, gc's record too), so that a cut falls between the chunks
 * of a record and before its frame, written last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "crash_common.h"
#include "crash_plan.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

#define REG "/reg"
#define NB 4 /* workload batches; plan[NB] is the recovery commit */

static const cp_batch basic_plan[NB + 1] = {
    {.id = 0,
     .n = 3,
     .item = {{"f0", "g0", 0, "champion", NULL}, {"f0", "g1", 1, NULL, NULL},
              {"f1", "g0", 2, NULL, "b0-2"}},
     .run_id = "run-a"},
    {.id = 1,
     .n = 4,
     .item = {{"f0", "g0", 3, NULL, NULL}, {"f0", "g1", 4, "champion", "b1-1"},
              {"f1", "g0", 0, NULL, NULL}, {"f0", "g0", 1, "challenger", NULL}}},
    {.id = 2,
     .n = 2,
     .item = {{"f1", "g1", 2, "champion", NULL}, {"f0", "g1", 3, NULL, NULL}},
     .nmoves = 1,
     .move = {{"f0", "g0", "champion", 2}},
     .run_id = "run-b"},
    {.id = 3,
     .n = 2,
     .item = {{"f0", "g0", 4, NULL, NULL}, {"f1", "g0", 1, "champion", "b3-1"}},
     .nmoves = 1,
     .move = {{"f0", "g0", "challenger", 0}},
     .archive_family = "f0",
     .archive_group = "g0",
     .archive_version = 1},
    /* after recovery */
    {.id = 9,
     .n = 2,
     .item = {{"f0", "g0", 2, "champion", "b9-0"}, {"f1", "g1", 3, NULL, NULL}}},
};

/* Every commit adds new groups, so that checkpoints write deltas: base
 * (weight 6: versions and alias moves), a delta of 1, a merge of it with a
 * delta of 1 (the merged 2 stays below the base's 6), then 4 that swallow
 * everything into a new base. */
static const cp_batch tiered_plan[NB + 1] = {
    {.id = 0,
     .n = 4,
     .item = {{"f0", "g0", 0, NULL, NULL}, {"f0", "g0", 1, "champion", NULL},
              {"f0", "g1", 2, "champion", "t0-2"}, {"f1", "g0", 3, NULL, "t0-3"}},
     .run_id = "run-a"},
    {.id = 1, .n = 1, .item = {{"f2", "g0", 4, NULL, "t1-0"}}},
    {.id = 2, .n = 1, .item = {{"f2", "g1", 0, NULL, NULL}}, .run_id = "run-b"},
    {.id = 3,
     .n = 1,
     .item = {{"f3", "g0", 1, NULL, "t3-0"}},
     .archive_family = "f0",
     .archive_group = "g0",
     .archive_version = 1},
    /* after recovery */
    {.id = 9, .n = 1, .item = {{"f4", "g0", 2, "champion", "t9-0"}}},
};

/* The workload run by the power-cut test: a plan and how often the index
 * is rewritten. */
typedef struct workload_shape {
    const cp_batch *plan;
    uint64_t checkpoint_every;
    size_t record_chunk; /* 0: the default */
    const char *name;
    int deltas[NB]; /* delta files expected after each commit (-1: any) */
} workload_shape;

static const workload_shape g_shapes[] = {
    /* 3 versions + 1 alias move in batch 0, 4 + 2 in batch 1: the index is
     * rewritten after batch 1 (and again after batch 3) */
    {basic_plan, 6, 0, "workload", {0, 0, 0, 0}},
    /* base; a delta; the merge of two deltas (the first removed); a base */
    {tiered_plan, 1, 0, "tiered workload", {0, 1, 1, 0}},
    /* the first, its records written 64 bytes at a time */
    {basic_plan, 6, 64, "chunked workload", {0, 0, 0, 0}},
};

typedef struct wl_result {
    int opened;
    int ok[NB];
    int64_t version[NB][CP_MAX_ITEMS];
    int gc_ok;
    int deltas[NB]; /* index delta files present after each commit */
} wl_result;

static int count_delta(void *ctx, const char *name)
{
    *(int *)ctx += !strncmp(name, "index-", 6);
    return 0;
}

typedef struct blobs {
    void *data[CR_NMODELS];
    size_t len[CR_NMODELS];
} blobs;

/* The workload.  Ignores errors (a power cut makes every later call fail)
 * but records which commits returned HERD_OK; frees everything. */
static void workload(const hd_vfs *v, const workload_shape *w, const blobs *bl, wl_result *r)
{
    memset(r, 0, sizeof *r);
    herd_registry *reg = NULL;
    if (hd_registry_open_vfs(v, REG, NULL, &reg)) return;
    r->opened = 1;
    hd_registry_set_checkpoint_every(reg, w->checkpoint_every);
    hd_registry_set_record_chunk(reg, w->record_chunk);
    for (int b = 0; b < NB; b++) {
        r->ok[b] = cp_commit(reg, w->plan, b, bl->data, bl->len, r->version[b], NULL) == HERD_OK;
        if (hd_vfs_list_dir(v, REG, count_delta, &r->deltas[b])) herd_clear_error();
    }
    r->gc_ok = herd_registry_gc(reg, NULL) == HERD_OK;
    herd_registry_free(reg);
}

/* The models and their blobs, shared by the tests (group setup, so that a
 * failing test leaks nothing of them). */
typedef struct sctx {
    cr_models m;
    blobs bl;
} sctx;

static int setup(void **state)
{
    sctx *c = calloc(1, sizeof *c);
    char err[1024];
    if (!c || cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", c ? err : "out of memory");
        free(c);
        return -1;
    }
    for (int i = 0; i < CR_NMODELS; i++)
        if (cr_blob(&c->m, i, "sim", &c->bl.data[i], &c->bl.len[i])) return -1;
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

/* A sim whose /reg directory exists durably: the enumeration below is about
 * the registry's own files (test_create_survives_power_loss covers making
 * the directory). */
static hd_vfs_sim *new_sim(uint64_t seed)
{
    hd_vfs_sim *sim = hd_vfs_sim_new(seed, HD_VFS_SIM_TORN_APPENDS);
    assert_non_null(sim);
    CR_OK(hd_vfs_mkdir(hd_vfs_sim_vfs(sim), REG));
    CR_OK(hd_vfs_sync_dir(hd_vfs_sim_vfs(sim), "/"));
    return sim;
}

static int has_reg(void *ctx, const char *name)
{
    if (!strcmp(name, REG + 1)) *(int *)ctx = 1;
    return 0;
}

/* herd_registry_open creates the directory: a commit into a registry just
 * created must survive a power loss, directory and all -- at every cut of
 * the creation and the first commit. */
static void test_create_survives_power_loss(void **state)
{
    sctx *c = *state;
    char err[1024];
    uint64_t count = 0;
    for (uint64_t k = 0; k == 0 || k <= count; k++) {
        hd_vfs_sim *sim = hd_vfs_sim_new(k, HD_VFS_SIM_TORN_APPENDS);
        assert_non_null(sim);
        const hd_vfs *v = hd_vfs_sim_vfs(sim);
        if (k) hd_vfs_sim_crash_at(sim, k, HD_VFS_OP_ALL);
        herd_registry *reg = NULL;
        int ok = 0;
        if (hd_registry_open_vfs(v, REG, NULL, &reg) == HERD_OK) {
            ok = cp_commit(reg, basic_plan, 0, c->bl.data, c->bl.len, NULL, NULL) == HERD_OK;
            herd_registry_free(reg);
        }
        if (k == 0) {
            if (!ok) fail_msg("creating a registry and committing: %s", herd_last_error());
            count = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL);
        }
        if (!hd_vfs_sim_is_down(sim)) {
            hd_vfs_sim_crash_at(sim, 0, 0);
            hd_vfs_sim_power_loss(sim);
        }
        hd_vfs_sim_restart(sim);
        int dir_survived = 0;
        CR_OK(hd_vfs_list_dir(v, "/", has_reg, &dir_survived));
        int rc = hd_registry_open_vfs(v, REG, NULL, &reg);
        if (rc)
            fail_msg("cut at call %" PRIu64 " of creating a registry: it does not open: %s (%s)",
                     k, herd_status_str(rc), herd_last_error());
        cr_snap s;
        int present[1] = {0};
        if (cr_snap_take(reg, &s, err, sizeof err) || cp_presence(&s, basic_plan, 1, present, err,
                                                                  sizeof err))
            fail_msg("cut at call %" PRIu64 ": %s", k, err);
        cr_snap_free(&s);
        if (ok && !present[0])
            fail_msg("%s%" PRIu64 ": the commit into the registry just created returned HERD_OK "
                     "and is lost after a power loss%s",
                     k ? "cut at call " : "no cut, power loss after call ", k ? k : count,
                     dir_survived ? "" : " -- the directory " REG " itself is gone: creating it "
                     "did not sync its parent directory");
        int want[1] = {present[0]};
        if (cp_verify(reg, basic_plan, 1, want, &c->m, 0, err, sizeof err))
            fail_msg("cut at call %" PRIu64 ": %s", k, err);
        herd_registry_free(reg);
        hd_vfs_sim_free(sim);
    }
    printf("# creating + first commit: %" PRIu64 " cut points\n", count);
}

static void power_cut_everywhere(sctx *c, const workload_shape *w)
{
    const cp_batch *plan = w->plan;
    char err[1024];

    /* dry run: every commit succeeds with the planned numbers; count calls */
    hd_vfs_sim *sim = new_sim(1);
    uint64_t before = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL);
    wl_result r;
    workload(hd_vfs_sim_vfs(sim), w, &c->bl, &r);
    assert_true(r.opened);
    for (int b = 0; b < NB; b++) {
        if (!r.ok[b]) fail_msg("dry run: commit %d failed", b);
        for (int i = 0; i < plan[b].n; i++)
            assert_int_equal(r.version[b][i], cp_version_of(plan, b, i));
    }
    if (!r.gc_ok) fail_msg("dry run: gc failed: %s", herd_last_error());
    for (int b = 0; b < NB; b++)
        if (r.deltas[b] != w->deltas[b])
            fail_msg("dry run of the %s: %d index delta files after commit %d, expected %d",
                     w->name, r.deltas[b], b, w->deltas[b]);
    uint64_t count = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL) - before;
    {
        herd_registry *reg = NULL;
        CR_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(sim), REG, NULL, &reg));
        int want[NB] = {1, 1, 1, 1};
        if (cp_verify(reg, plan, NB, want, &c->m, 1, err, sizeof err)) fail_msg("dry run: %s", err);
        /* gc reclaimed the archived artifact */
        herd_artifact *a = NULL;
        CR_RC(herd_registry_load(reg, "f0", "g0", 1, &a), HERD_ENOTFOUND);
        herd_registry_free(reg);
    }
    hd_vfs_sim_free(sim);
    printf("# %s: %" PRIu64 " I/O calls\n", w->name, count);
    assert_true(count > 20);

    double t0 = cr_now();
    unsigned not_down = 0, by_prefix[NB + 1] = {0};
    for (uint64_t k = 1; k <= count; k++) {
        sim = new_sim(k);
        const hd_vfs *v = hd_vfs_sim_vfs(sim);
        hd_vfs_sim_crash_at(sim, k, HD_VFS_OP_ALL);
        workload(v, w, &c->bl, &r);
        if (!hd_vfs_sim_is_down(sim)) {
            not_down++; /* the workload made fewer calls this time */
            hd_vfs_sim_crash_at(sim, 0, 0);
            hd_vfs_sim_power_loss(sim);
        }
        hd_vfs_sim_restart(sim);

        /* (default options create it when the cut came before it existed:
         * a half-created registry must not block that) */
        herd_registry *reg = NULL;
        int rc = hd_registry_open_vfs(v, REG, NULL, &reg);
        if (rc != HERD_OK)
            fail_msg("%s, cut at call %" PRIu64 "%s: the registry does not open: %s (%s)", k,
                     r.opened ? "" : " (in the first open)", herd_status_str(rc),
                     herd_last_error());
        int np = cp_check_cut(reg, plan, NB, r.ok, r.version, &c->m, k, NULL);
        by_prefix[np]++;

        /* the recovered registry takes a new commit (cutting any torn
         * tail), which a reopen and another power loss keep */
        cp_batch after[NB + 1];
        int na = cp_recovery_commit(reg, plan, NB, np, c->bl.data, c->bl.len, k, after);
        herd_registry_free(reg);
        int want2[NB + 1];
        for (int b = 0; b < na; b++) want2[b] = 1;
        for (int round = 0; round < 2; round++) {
            if (round == 1) hd_vfs_sim_power_loss(sim);
            CR_OK(hd_registry_open_vfs(v, REG, NULL, &reg));
            if (cp_verify(reg, after, na, want2, &c->m, 1, err, sizeof err))
                fail_msg("cut at call %" PRIu64 ", after the recovery commit%s: %s", k,
                         round ? " and a power loss" : "", err);
            if (round == 1) {
                herd_frame *problems = NULL;
                int crc = herd_registry_check(reg, &problems);
                if (crc != HERD_OK) {
                    const char *f0 = problems && herd_frame_row_count(problems)
                                         ? cr_cell(problems, "file", 0) : NULL;
                    const char *p0 = problems && herd_frame_row_count(problems)
                                         ? cr_cell(problems, "problem", 0) : NULL;
                    fail_msg("cut at call %" PRIu64 ": herd_registry_check: %s (%s); first "
                             "problem: %s: %s", k, herd_status_str(crc), herd_last_error(),
                             f0 ? f0 : "-", p0 ? p0 : "-");
                }
                herd_frame_free(problems);
            }
            herd_registry_free(reg);
        }
        hd_vfs_sim_free(sim);
    }
    double t1 = cr_now();
    printf("# %" PRIu64 " power cuts in %.1f s; batches present after the cut: 0:%u 1:%u 2:%u "
           "3:%u 4:%u; %u runs made fewer calls than the dry run\n",
           count, t1 - t0, by_prefix[0], by_prefix[1], by_prefix[2], by_prefix[3], by_prefix[4],
           not_down);
    /* every outcome happened somewhere */
    for (int b = 0; b <= NB; b++) assert_true(by_prefix[b] > 0);
}

static void test_power_cut_everywhere(void **state)
{
    power_cut_everywhere(*state, &g_shapes[0]);
}

static void test_power_cut_everywhere_tiered(void **state)
{
    power_cut_everywhere(*state, &g_shapes[1]);
}

static void test_power_cut_everywhere_chunked(void **state)
{
    power_cut_everywhere(*state, &g_shapes[2]);
}

/* Destructors never change the caller's last error, even when their own
 * cleanup fails: freeing a spilled batch whose pack cannot be removed, and
 * a registry whose journal cannot be closed, leave the caller's pending
 * message as it was. */
static void test_failing_frees_keep_the_error(void **state)
{
    sctx *c = *state;
    hd_vfs_sim *sim = new_sim(7);
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(sim), REG, NULL, &reg));
    hd_registry_set_spill_bytes(reg, 1); /* the first artifact spills */
    herd_batch *b = NULL;
    CR_OK(herd_registry_begin(reg, &b));
    CR_OK(cr_add(b, c->bl.data[0], c->bl.len[0], "f0", "g0", -1, 0, 0, NULL, NULL, NULL));
    CR_OK(cr_add(b, c->bl.data[1], c->bl.len[1], "f0", "g1", -1, 0, 1, NULL, NULL, NULL));

    uint64_t unlinks = hd_vfs_sim_calls(sim, HD_VFS_OP_UNLINK);
    hd_vfs_sim_fail_at(sim, 1, HD_VFS_OP_UNLINK, EIO);
    herd_error_set(HERD_ECONFLICT, "pending: the caller's error");
    herd_batch_free(b); /* removing its own pack fails */
    assert_int_equal(hd_vfs_sim_calls(sim, HD_VFS_OP_UNLINK), unlinks + 1);
    assert_int_equal(herd_last_error_code(), HERD_ECONFLICT);
    assert_string_equal(herd_last_error(), "pending: the caller's error");

    uint64_t closes = hd_vfs_sim_calls(sim, HD_VFS_OP_CLOSE);
    hd_vfs_sim_fail_at(sim, 1, HD_VFS_OP_CLOSE, EIO);
    herd_registry_free(reg); /* closing the journal fails */
    assert_true(hd_vfs_sim_calls(sim, HD_VFS_OP_CLOSE) > closes);
    assert_int_equal(herd_last_error_code(), HERD_ECONFLICT);
    assert_string_equal(herd_last_error(), "pending: the caller's error");

    /* And an empty last error stays empty. */
    herd_clear_error();
    herd_batch_free(NULL);
    herd_registry_free(NULL);
    assert_int_equal(herd_last_error_code(), HERD_OK);
    assert_string_equal(herd_last_error(), "");
    hd_vfs_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_survives_power_loss),
        cmocka_unit_test(test_power_cut_everywhere),
        cmocka_unit_test(test_power_cut_everywhere_tiered),
        cmocka_unit_test(test_power_cut_everywhere_chunked),
        cmocka_unit_test(test_failing_frees_keep_the_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
