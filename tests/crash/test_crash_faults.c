/* Injected I/O errors in a commit, on the simulated filesystem: for every N
 * among the commit's writes, fsyncs, renames, directory syncs and
 * truncations, the N-th fails with EIO, and separately with ENOSPC (the
 * call changes nothing; a failed fsync also leaves the file "poisoned": a
 * later fsync reports success but persists nothing until the file is cut
 * back to its durable length, as on Linux).
 *
 * Then:
 *   - the commit returns HERD_EIO with a message (naming "no space left"
 *     for ENOSPC);
 *   - a reopen shows the registry as before the commit, or -- only when the
 *     message says the final sync could not be undone -- with the batch
 *     fully committed;
 *   - a following commit on a fresh handle succeeds, with the next numbers;
 *   - after a power loss the registry still opens and shows the same,
 *     including that following commit (a commit that returned HERD_OK is
 *     durable, even after a failed fsync on the same file);
 *   - variant: the failed batch committed again on the same handle (a batch
 *     may be committed again after an error) succeeds, adds its versions
 *     once (idempotency keys) and survives a power loss.
 * Each is run without index checkpoints (every counted call is part of the
 * commit proper, so it must fail), with a checkpoint after every commit (a
 * failure while rewriting the index may also be reported as success, if
 * the batch is then durable), and with a torn journal tail that the commit
 * must cut off first.  Everything is freed: the suite runs under
 * ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crash_common.h"
#include "crash_plan.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

#define REG "/reg"
#define FAULT_OPS \
    (HD_VFS_OP_WRITE | HD_VFS_OP_FSYNC | HD_VFS_OP_RENAME | HD_VFS_OP_SYNC_DIR | HD_VFS_OP_TRUNCATE)

/* A: before; B: the faulty commit; C: the following one. */
static const cp_batch plan[3] = {
    {.id = 1,
     .n = 3,
     .item = {{"f0", "g0", 0, "champion", NULL}, {"f0", "g1", 1, NULL, NULL},
              {"f1", "g0", 2, NULL, NULL}},
     .run_id = "run-a"},
    {.id = 2,
     .n = 4,
     .item = {{"f0", "g0", 3, "champion", "B-0"}, {"f0", "g1", 4, NULL, "B-1"},
              {"f1", "g1", 1, "challenger", "B-2"}, {"f0", "g0", 2, NULL, "B-3"}},
     .nmoves = 1,
     .move = {{"f1", "g0", "champion", 1}},
     .archive_family = "f0",
     .archive_group = "g1",
     .archive_version = 1,
     .run_id = "run-b"},
    {.id = 3,
     .n = 2,
     .item = {{"f0", "g0", 4, NULL, "C-0"}, {"f1", "g0", 0, "champion", "C-1"}}},
};

typedef struct blobs {
    void *data[CR_NMODELS];
    size_t len[CR_NMODELS];
} blobs;

typedef struct fctx {
    cr_models m;
    blobs bl;
} fctx;

static int setup(void **state)
{
    fctx *c = calloc(1, sizeof *c);
    char err[512];
    if (cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < CR_NMODELS; i++)
        if (cr_blob(&c->m, i, "faults", &c->bl.data[i], &c->bl.len[i])) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    fctx *c = *state;
    for (int i = 0; i < CR_NMODELS; i++) herd_free(c->bl.data[i]);
    cr_models_free(&c->m);
    free(c);
    return 0;
}

static herd_registry *open_reg(const hd_vfs *v, uint64_t checkpoint)
{
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, REG, NULL, &reg));
    hd_registry_set_checkpoint_every(reg, checkpoint);
    return reg;
}

/* A fresh sim holding a registry with batch A committed. */
static hd_vfs_sim *make_base(fctx *c, uint64_t seed, uint64_t checkpoint)
{
    hd_vfs_sim *sim = hd_vfs_sim_new(seed, HD_VFS_SIM_TORN_APPENDS);
    assert_non_null(sim);
    /* The registry's directory is made durable here: that opening makes
     * it durable itself is test_crash_sim's test_create_survives_power_loss;
     * this test is about commits. */
    CR_OK(hd_vfs_mkdir(hd_vfs_sim_vfs(sim), REG));
    CR_OK(hd_vfs_sync_dir(hd_vfs_sim_vfs(sim), "/"));
    herd_registry *reg = open_reg(hd_vfs_sim_vfs(sim), checkpoint);
    CR_OK(cp_commit(reg, plan, 0, c->bl.data, c->bl.len, NULL, NULL));
    herd_registry_free(reg);
    return sim;
}

/* The registry on v shows exactly the batches of want[] (A, B, C). */
static void expect(fctx *c, const hd_vfs *v, const int *want, const char *when, uint64_t n,
                   int e, uint64_t ck)
{
    herd_registry *reg = NULL;
    int rc = hd_registry_open_vfs(v, REG, NULL, &reg);
    if (rc)
        fail_msg("fault %" PRIu64 " (%s, checkpoint %" PRIu64 "), %s: the registry does not "
                 "open: %s (%s)", n, e == EIO ? "EIO" : "ENOSPC", ck, when, herd_status_str(rc),
                 herd_last_error());
    char err[1024];
    if (cp_verify(reg, plan, 3, want, &c->m, 0, err, sizeof err))
        fail_msg("fault %" PRIu64 " (%s, checkpoint %" PRIu64 "), %s: %s", n,
                 e == EIO ? "EIO" : "ENOSPC", ck, when, err);
    herd_registry_free(reg);
}

/* Whether batch B is visible (complete) on v; fails when partly. */
static int b_present(const hd_vfs *v, const char *when, uint64_t n)
{
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, REG, NULL, &reg));
    cr_snap s;
    char err[512];
    if (cr_snap_take(reg, &s, err, sizeof err)) fail_msg("%s", err);
    int present[3];
    if (cp_presence(&s, plan, 3, present, err, sizeof err))
        fail_msg("fault %" PRIu64 ", %s: %s", n, when, err);
    cr_snap_free(&s);
    herd_registry_free(reg);
    return present[1];
}

/* A torn tail, as a writer killed mid-append leaves it (made durable, as
 * it would be once the kernel wrote it back): the next commit must cut it
 * off, so its truncation and sync become fault points too. */
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

static void run_faults(fctx *c, uint64_t ck, int torn)
{
    /* count the fault points of commit B */
    hd_vfs_sim *sim = make_base(c, 1, ck);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    herd_registry *reg = open_reg(v, ck);
    if (torn) add_torn_tail(v);
    uint64_t before = hd_vfs_sim_calls(sim, FAULT_OPS);
    CR_OK(cp_commit(reg, plan, 1, c->bl.data, c->bl.len, NULL, NULL));
    uint64_t count = hd_vfs_sim_calls(sim, FAULT_OPS) - before;
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
    printf("# checkpoint every %" PRIu64 "%s: commit B makes %" PRIu64
           " writes/fsyncs/renames/dir syncs/truncations\n", ck,
           torn ? ", torn tail before it" : "", count);
    assert_true(count >= 2);

    const int errs[2] = {EIO, ENOSPC};
    unsigned undone = 0, reported_ok = 0, runs = 0;
    for (int mode = 0; mode < 2; mode++)
        for (int ei = 0; ei < 2; ei++)
            for (uint64_t n = 1; n <= count; n++) {
                int e = errs[ei];
                sim = make_base(c, n * 4 + (uint64_t)ei * 2 + (uint64_t)mode, ck);
                v = hd_vfs_sim_vfs(sim);
                reg = open_reg(v, ck);
                if (torn) add_torn_tail(v);
                herd_batch *b = NULL;
                CR_OK(herd_registry_begin(reg, &b));
                CR_OK(cp_stage(b, plan, 1, c->bl.data, c->bl.len));
                hd_vfs_sim_fail_at(sim, n, FAULT_OPS, e);
                herd_clear_error();
                int rc = herd_batch_commit(b);
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", herd_last_error());
                hd_vfs_sim_fail_at(sim, 0, 0, 0); /* disarm, if not reached */
                int may_be_visible = cr_icontains(msg, "undone");
                if (rc == HERD_OK) {
                    /* only a checkpoint after the durable commit may fail
                     * without failing the commit */
                    if (ck == 0)
                        fail_msg("fault %" PRIu64 " (%s): commit returned HERD_OK", n,
                                 e == EIO ? "EIO" : "ENOSPC");
                    reported_ok++;
                } else {
                    if (rc != HERD_EIO)
                        fail_msg("fault %" PRIu64 " (%s, checkpoint %" PRIu64 "): commit returned "
                                 "%s, want HERD_EIO (%s)", n, e == EIO ? "EIO" : "ENOSPC", ck,
                                 herd_status_str(rc), msg);
                    if (!msg[0])
                        fail_msg("fault %" PRIu64 ": commit failed with an empty message", n);
                    if (e == ENOSPC && !cr_icontains(msg, "no space left"))
                        fail_msg("fault %" PRIu64 " (ENOSPC): the message does not say so: %s", n,
                                 msg);
                }
                int want[3] = {1, 0, 0};
                int bvis = b_present(v, "after the failed commit", n);
                if (bvis && rc != HERD_OK && !may_be_visible)
                    fail_msg("fault %" PRIu64 " (%s, checkpoint %" PRIu64 "): the commit failed "
                             "(%s) without saying the final sync could not be undone, yet the "
                             "batch is visible", n, e == EIO ? "EIO" : "ENOSPC", ck, msg);
                if (rc == HERD_OK && !bvis)
                    fail_msg("fault %" PRIu64 ": commit returned HERD_OK, batch not visible", n);
                undone += bvis && rc != HERD_OK;
                want[1] = bvis;
                expect(c, v, want, "reopened after the failed commit", n, e, ck);

                if (mode == 0) {
                    herd_batch_free(b);
                    herd_registry_free(reg);
                    /* a following commit on a fresh handle */
                    reg = open_reg(v, ck);
                    int rc2 = cp_commit(reg, plan, 2, c->bl.data, c->bl.len, NULL, NULL);
                    if (rc2)
                        fail_msg("fault %" PRIu64 " (%s, checkpoint %" PRIu64 "): the next commit "
                                 "failed: %s (%s)", n, e == EIO ? "EIO" : "ENOSPC", ck,
                                 herd_status_str(rc2), herd_last_error());
                    herd_registry_free(reg);
                    want[2] = 1;
                    expect(c, v, want, "after the next commit", n, e, ck);
                    hd_vfs_sim_power_loss(sim);
                    expect(c, v, want, "after the next commit and a power loss", n, e, ck);
                } else {
                    /* the same batch again on the same handle */
                    int rc2 = herd_batch_commit(b);
                    if (rc == HERD_OK) {
                        if (rc2 == HERD_OK)
                            fail_msg("fault %" PRIu64 ": a batch committed twice", n);
                    } else {
                        if (rc2)
                            fail_msg("fault %" PRIu64 " (%s, checkpoint %" PRIu64 "): committing "
                                     "the batch again failed: %s (%s)", n,
                                     e == EIO ? "EIO" : "ENOSPC", ck, herd_status_str(rc2),
                                     herd_last_error());
                        for (int i = 0; i < plan[1].n; i++) {
                            int64_t ver = 0;
                            int existed = -1;
                            CR_OK(herd_batch_version(b, (size_t)i, &ver, &existed));
                            if (ver != cp_version_of(plan, 1, i) || existed != bvis)
                                fail_msg("fault %" PRIu64 ": retried item %d: v%" PRId64
                                         " existed=%d, want v%" PRId64 " existed=%d", n, i, ver,
                                         existed, cp_version_of(plan, 1, i), bvis);
                        }
                    }
                    herd_batch_free(b);
                    herd_registry_free(reg);
                    want[1] = 1;
                    expect(c, v, want, "after committing again", n, e, ck);
                    hd_vfs_sim_power_loss(sim);
                    expect(c, v, want, "after committing again and a power loss", n, e, ck);
                }
                hd_vfs_sim_free(sim);
                runs++;
            }
    printf("# %u faulty commits; %u left the batch visible (not undone); %u reported success\n",
           runs, undone, reported_ok);
}

static void test_faults_no_checkpoint(void **state) { run_faults(*state, 0, 0); }
static void test_faults_checkpoint_each_commit(void **state) { run_faults(*state, 1, 0); }
static void test_faults_cutting_a_torn_tail(void **state) { run_faults(*state, 0, 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_no_checkpoint),
        cmocka_unit_test(test_faults_checkpoint_each_commit),
        cmocka_unit_test(test_faults_cutting_a_torn_tail),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
