/* Torn and garbage journal tails, on the real filesystem.  A registry gets
 * 6 commits without any index checkpoint, so the journal alone holds them;
 * the journal's size after each commit gives the record boundaries.
 *   - For every byte offset within the last two records, a copy of the
 *     registry with its journal cut there must open and show exactly the
 *     commits whose records are complete; on some of the cuts (every 16th
 *     and each boundary +-1) a new commit must succeed and a reopen must
 *     show it (the writer cut the torn tail off).
 *   - 1, 7, 4096 and 65536 bytes of zeros, and of random bytes, appended to
 *     the journal: the registry opens with every commit; a new commit
 *     succeeds, a reopen shows it, and herd_registry_check finds nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crash_common.h"
#include "crash_plan.h"
#include "registry/registry_internal.h"

#define NB 6

static const cp_batch plan[NB + 1] = {
    {.id = 0,
     .n = 3,
     .item = {{"f0", "g0", 0, "champion", NULL}, {"f0", "g1", 1, NULL, "k0"},
              {"f1", "g0", 2, NULL, NULL}},
     .run_id = "run-0"},
    {.id = 1, .n = 2, .item = {{"f0", "g0", 3, "challenger", NULL}, {"f1", "g1", 4, NULL, NULL}}},
    {.id = 2,
     .n = 1,
     .item = {{"f0", "g1", 0, "champion", "k2"}},
     .nmoves = 1,
     .move = {{"f0", "g0", "champion", 2}}},
    {.id = 3, .n = 4,
     .item = {{"f0", "g0", 1, NULL, NULL}, {"f0", "g0", 2, NULL, NULL},
              {"f1", "g0", 3, "champion", "k3"}, {"f1", "g2", 4, NULL, NULL}}},
    {.id = 4,
     .n = 2,
     .item = {{"f1", "g1", 0, "champion", NULL}, {"f0", "g2", 1, NULL, NULL}},
     .archive_family = "f0",
     .archive_group = "g0",
     .archive_version = 1,
     .run_id = "run-4"},
    {.id = 5, .n = 3,
     .item = {{"f0", "g0", 2, "champion", "k5"}, {"f0", "g1", 3, NULL, NULL},
              {"f1", "g2", 4, "challenger", NULL}},
     .nmoves = 1,
     .move = {{"f0", "g0", "challenger", 0}}},
    /* the commit on top of a cut or garbage tail */
    {.id = 7, .n = 2, .item = {{"f0", "g0", 4, NULL, "k7"}, {"f1", "g0", 0, "champion", NULL}}},
};

typedef struct tctx {
    cr_models m;
    void *blob[CR_NMODELS];
    size_t blob_len[CR_NMODELS];
    char dir[4096], orig[4200], work[4200], wjournal[4300];
    int64_t size[NB + 1]; /* journal size after k commits */
    int64_t extra_len;    /* the journal record of the extra commit */
} tctx;

static void fresh_copy(tctx *c);

static int setup(void **state)
{
    tctx *c = calloc(1, sizeof *c);
    char err[512];
    if (cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < CR_NMODELS; i++)
        if (cr_blob(&c->m, i, "tail", &c->blob[i], &c->blob_len[i])) return -1;
    if (cr_mkdtemp(c->dir, sizeof c->dir, "tail")) return -1;
    snprintf(c->orig, sizeof c->orig, "%s/orig", c->dir);
    snprintf(c->work, sizeof c->work, "%s/work", c->dir);
    snprintf(c->wjournal, sizeof c->wjournal, "%s/journal", c->work);

    char journal[4300];
    snprintf(journal, sizeof journal, "%s/journal", c->orig);
    herd_registry *reg = NULL;
    if (herd_registry_open(c->orig, NULL, &reg)) {
        fprintf(stderr, "open: %s\n", herd_last_error());
        return -1;
    }
    hd_registry_set_checkpoint_every(reg, 0);
    c->size[0] = cr_file_size(journal);
    if (c->size[0] < 0) c->size[0] = 0;
    for (int b = 0; b < NB; b++) {
        if (cp_commit(reg, plan, b, c->blob, c->blob_len, NULL, NULL)) {
            fprintf(stderr, "commit %d: %s\n", b, herd_last_error());
            return -1;
        }
        c->size[b + 1] = cr_file_size(journal);
    }
    herd_registry_free(reg);
    /* the size of the extra commit's record, on an intact copy */
    if (cr_copytree(c->orig, c->work) || herd_registry_open(c->work, NULL, &reg)) return -1;
    int rc = cp_commit(reg, plan, NB, c->blob, c->blob_len, NULL, NULL);
    herd_registry_free(reg);
    if (rc) {
        fprintf(stderr, "extra commit: %s\n", herd_last_error());
        return -1;
    }
    c->extra_len = cr_file_size(c->wjournal) - c->size[NB];
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    tctx *c = *state;
    for (int i = 0; i < CR_NMODELS; i++) herd_free(c->blob[i]);
    cr_models_free(&c->m);
    int rc = cr_rmtree(c->dir);
    free(c);
    return rc;
}

static void fresh_copy(tctx *c)
{
    assert_int_equal(cr_rmtree(c->work), 0);
    assert_int_equal(cr_copytree(c->orig, c->work), 0);
}

/* Open the work copy: it must show exactly batches 0..np-1 (and the extra
 * batch when `extra`). */
static void expect_prefix(tctx *c, int np, int extra, const char *what)
{
    herd_registry *reg = NULL;
    int rc = herd_registry_open(c->work, NULL, &reg);
    if (rc) fail_msg("%s: the registry does not open: %s (%s)", what, herd_status_str(rc),
                     herd_last_error());
    cp_batch sub[NB + 1];
    int want[NB + 1], n = 0;
    for (int b = 0; b < np; b++) sub[n++] = plan[b];
    if (extra) sub[n++] = plan[NB];
    for (int b = 0; b < n; b++) want[b] = 1;
    char err[1024];
    if (cp_verify(reg, sub, n, want, &c->m, 0, err, sizeof err)) fail_msg("%s: %s", what, err);
    herd_registry_free(reg);
}

/* Commit the extra batch on the work copy (it holds batches 0..np-1); it
 * must get the next numbers. */
static void commit_extra(tctx *c, int np, const char *what)
{
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->work, NULL, &reg));
    int64_t ver[CP_MAX_ITEMS];
    int rc = cp_commit(reg, plan, NB, c->blob, c->blob_len, ver, NULL);
    if (rc) fail_msg("%s: a commit fails: %s (%s)", what, herd_status_str(rc), herd_last_error());
    herd_registry_free(reg);
    /* the torn tail was cut off: the record follows the last complete one */
    int64_t jsz = cr_file_size(c->wjournal);
    if (jsz != c->size[np] + c->extra_len)
        fail_msg("%s: after a commit the journal is %" PRId64 " bytes, want %" PRId64 " (%d "
                 "complete records + the new one): the damaged tail was not cut off", what, jsz,
                 c->size[np] + c->extra_len, np);
    cp_batch sub[NB + 1];
    int n = 0;
    for (int b = 0; b < np; b++) sub[n++] = plan[b];
    sub[n++] = plan[NB];
    for (int i = 0; i < plan[NB].n; i++)
        if (ver[i] != cp_version_of(sub, n - 1, i))
            fail_msg("%s: the commit assigned v%" PRId64 " to item %d, want v%" PRId64, what,
                     ver[i], i, cp_version_of(sub, n - 1, i));
    expect_prefix(c, np, 1, what);
}

static void test_truncated_journal(void **state)
{
    tctx *c = *state;
    for (int b = 0; b < NB; b++)
        if (c->size[b + 1] <= c->size[b])
            fail_msg("the journal did not grow with commit %d (%" PRId64 " -> %" PRId64 " bytes)",
                     b, c->size[b], c->size[b + 1]);
    printf("# journal sizes:");
    for (int b = 0; b <= NB; b++) printf(" %" PRId64, c->size[b]);
    printf("\n");

    double t0 = cr_now();
    int64_t from = c->size[NB - 2], to = c->size[NB];
    unsigned cuts = 0, commits = 0;
    for (int64_t off = from; off <= to; off++) {
        int np = 0;
        while (np < NB && c->size[np + 1] <= off) np++;
        fresh_copy(c);
        assert_int_equal(truncate(c->wjournal, (off_t)off), 0);
        char what[160];
        snprintf(what, sizeof what, "journal cut at byte %" PRId64 " (%d complete records)", off,
                 np);
        expect_prefix(c, np, 0, what);
        int near_boundary = 0;
        for (int b = NB - 2; b <= NB; b++)
            if (off - c->size[b] >= -1 && off - c->size[b] <= 1) near_boundary = 1;
        if (near_boundary || (off - from) % 16 == 0) {
            commit_extra(c, np, what);
            commits++;
        }
        cuts++;
    }
    printf("# %u cuts (%u with a commit after) in %.1f s\n", cuts, commits, cr_now() - t0);
}

static void test_garbage_tail(void **state)
{
    tctx *c = *state;
    const size_t sizes[] = {1, 7, 4096, 65536};
    uint64_t seed = 7;
    unsigned char *junk = malloc(65536);
    for (int kind = 0; kind < 2; kind++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            size_t n = sizes[si];
            for (size_t i = 0; i < n; i++)
                junk[i] = kind == 0 ? 0 : (unsigned char)(cr_rand(&seed) >> 56);
            fresh_copy(c);
            assert_int_equal(cr_append_file(c->wjournal, junk, n), 0);
            char what[160];
            snprintf(what, sizeof what, "%zu %s bytes after the journal", n,
                     kind == 0 ? "zero" : "random");
            expect_prefix(c, NB, 0, what);
            commit_extra(c, NB, what);
            herd_registry *reg = NULL;
            CR_OK(herd_registry_open(c->work, NULL, &reg));
            herd_frame *problems = NULL;
            int rc = herd_registry_check(reg, &problems);
            if (rc)
                fail_msg("%s, after a commit: herd_registry_check: %s (%s)", what,
                         herd_status_str(rc), herd_last_error());
            herd_frame_free(problems);
            herd_registry_free(reg);
        }
    free(junk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_journal),
        cmocka_unit_test(test_garbage_tail),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
