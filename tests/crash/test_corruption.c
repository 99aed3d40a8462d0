/* Damaged registry files (real filesystem): flipped bytes and truncations
 * in the journal, the index, the packs and the format file, each on a
 * fresh copy of a registry.  Damage must be reported as HERD_ECORRUPT
 * (HERD_EFORMAT for the format file) naming the file and, for checksummed
 * files, the offset, and everything not damaged must stay readable.
 *
 * Two registries with the same 5 commits, every version with an artifact
 * of its own (distinct bytes):
 *   A  no index at all: the journal holds everything;
 *   B  an index covering commits 0..2, a journal tail of commits 3..4;
 *   C  B with its index rebuilt (covering every commit), for index damage.
 *
 * The journal's last record is special: a flipped byte there cannot be
 * told from a torn write (a crash in the middle of appending it), which
 * readers must ignore; so it is accepted that such a record is dropped
 * (the registry shows the commits before it).  Damage to any earlier
 * record that the index does not cover must make open fail with
 * HERD_ECORRUPT naming the journal and the offset; with allow_damaged = 1
 * the registry opens read-only, showing the commits before the damage.
 * Damage to a record the index covers may go unnoticed by open, but
 * herd_registry_check must report it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crash_common.h"
#include "crash_plan.h"
#include "registry/registry_internal.h"

#define NB 5
#define NBLOBS (CR_NMODELS + 16)

/* item blobs 5..15 are unique; mi = blob % CR_NMODELS */
static const cp_batch plan[NB] = {
    {.id = 0,
     .n = 3,
     .item = {{"f0", "g0", 0, "champion", NULL, 5}, {"f0", "g1", 1, NULL, "k1", 6},
              {"f1", "g0", 2, NULL, NULL, 7}},
     .run_id = "run-0"},
    {.id = 1, .n = 2,
     .item = {{"f0", "g0", 3, NULL, NULL, 8}, {"f1", "g1", 4, "champion", NULL, 9}}},
    {.id = 2,
     .n = 2,
     .item = {{"f0", "g1", 0, "champion", "k2", 10}, {"f1", "g0", 1, NULL, NULL, 11}},
     .nmoves = 1,
     .move = {{"f0", "g0", "champion", 2}}},
    {.id = 3, .n = 2,
     .item = {{"f0", "g0", 2, NULL, NULL, 12}, {"f1", "g2", 3, NULL, "k3", 13}}},
    {.id = 4, .n = 2,
     .item = {{"f1", "g1", 4, NULL, NULL, 14}, {"f0", "g2", 0, "champion", NULL, 15}}},
};

#define INDEXED 3 /* B's index covers batches 0..INDEXED-1 */

typedef struct cctx {
    cr_models m;
    void *blob[NBLOBS];
    size_t blob_len[NBLOBS];
    char dir[4096], a[4200], b[4200], cc[4200], work[4200];
    int64_t jsize_a[NB + 1], jsize_b[NB + 1];
} cctx;

static int build(cctx *c, const char *path, int64_t *jsize, int indexed)
{
    char journal[4300];
    snprintf(journal, sizeof journal, "%s/journal", path);
    herd_registry *reg = NULL;
    if (herd_registry_open(path, NULL, &reg)) return -1;
    hd_registry_set_checkpoint_every(reg, 0);
    jsize[0] = cr_file_size(journal) < 0 ? 0 : cr_file_size(journal);
    for (int b = 0; b < NB; b++) {
        /* every commit of 2 or more versions before INDEXED rewrites the
         * index; none after */
        hd_registry_set_checkpoint_every(reg, indexed && b < INDEXED ? 1 : 0);
        if (cp_commit(reg, plan, b, c->blob, c->blob_len, NULL, NULL)) {
            fprintf(stderr, "commit %d: %s\n", b, herd_last_error());
            herd_registry_free(reg);
            return -1;
        }
        jsize[b + 1] = cr_file_size(journal);
    }
    herd_registry_free(reg);
    return 0;
}

static int setup(void **state)
{
    cctx *c = calloc(1, sizeof *c);
    char err[512];
    if (cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < NBLOBS; i++) {
        char label[32];
        snprintf(label, sizeof label, "unique-%d", i);
        if (cr_blob(&c->m, i % CR_NMODELS, label, &c->blob[i], &c->blob_len[i])) return -1;
    }
    if (cr_mkdtemp(c->dir, sizeof c->dir, "corrupt")) return -1;
    snprintf(c->a, sizeof c->a, "%s/a", c->dir);
    snprintf(c->b, sizeof c->b, "%s/b", c->dir);
    snprintf(c->work, sizeof c->work, "%s/work", c->dir);
    if (build(c, c->a, c->jsize_a, 0) || build(c, c->b, c->jsize_b, 1)) return -1;
    /* C: B with an index covering the whole journal (rebuilt) */
    snprintf(c->cc, sizeof c->cc, "%s/c", c->dir);
    herd_registry *reg = NULL;
    if (cr_copytree(c->b, c->cc) || herd_registry_open(c->cc, NULL, &reg)) return -1;
    int rc = herd_registry_rebuild_index(reg);
    herd_registry_free(reg);
    if (rc) {
        fprintf(stderr, "rebuilding C's index: %s\n", herd_last_error());
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    cctx *c = *state;
    for (int i = 0; i < NBLOBS; i++) herd_free(c->blob[i]);
    cr_models_free(&c->m);
    int rc = cr_rmtree(c->dir);
    free(c);
    return rc;
}

static void fresh_copy(cctx *c, const char *src)
{
    assert_int_equal(cr_rmtree(c->work), 0);
    assert_int_equal(cr_copytree(src, c->work), 0);
}

static const char *work_file(cctx *c, const char *name)
{
    static char p[4400];
    snprintf(p, sizeof p, "%s/%s", c->work, name);
    return p;
}

/* The number after the word "offset" in msg (-1 if none). */
static int64_t msg_offset(const char *msg)
{
    const char *p = strstr(msg, "offset");
    if (!p) return -1;
    p += 6;
    for (int i = 0; i < 8 && *p && !isdigit((unsigned char)*p); i++) p++;
    if (!isdigit((unsigned char)*p)) return -1;
    return (int64_t)strtoll(p, NULL, 10);
}

/* Each check comes in two forms: soft (returns -1 and describes the
 * failure in err; for tests that collect every failing case) and hard
 * (fails the test). */

/* The last error names `file` and an offset. */
static int names_soft(const char *what, const char *file, char *err, size_t cap)
{
    const char *msg = herd_last_error();
    if (strstr(msg, file) && strstr(msg, "offset")) return 0;
    snprintf(err, cap, "%s: the message does not name the file '%s' and the offset: %s", what,
             file, msg);
    return -1;
}

static void expect_names(const char *what, const char *file)
{
    char err[1500];
    if (names_soft(what, file, err, sizeof err)) fail_msg("%s", err);
}

/* herd_registry_check reports a problem in a file whose name contains
 * `file`. */
static int check_reports_soft(herd_registry *reg, const char *what, const char *file, char *err,
                              size_t cap)
{
    herd_frame *problems = NULL;
    int rc = herd_registry_check(reg, &problems);
    if (rc != HERD_ECORRUPT) {
        snprintf(err, cap, "%s: herd_registry_check returned %s, want HERD_ECORRUPT (%s)", what,
                 herd_status_str(rc), herd_last_error());
        herd_frame_free(problems);
        return -1;
    }
    if (names_soft(what, file, err, cap)) {
        /* the message names the first problem: the file may be another */
    }
    size_t n = problems ? herd_frame_row_count(problems) : 0, co;
    int found = 0;
    for (size_t r = 0; r < n; r++) {
        const char *f = cr_cell(problems, "file", r);
        if (f && strstr(f, file)) found = 1;
    }
    if (!problems || herd_frame_find(problems, "offset", &co) || !found) {
        snprintf(err, cap, "%s: herd_registry_check lists %zu problems, none in '%s' (first: "
                 "%s: %s)", what, n, file,
                 n && cr_cell(problems, "file", 0) ? cr_cell(problems, "file", 0) : "-",
                 n && cr_cell(problems, "problem", 0) ? cr_cell(problems, "problem", 0) : "-");
        herd_frame_free(problems);
        return -1;
    }
    herd_frame_free(problems);
    return 0;
}

static void expect_check_reports(herd_registry *reg, const char *what, const char *file)
{
    char err[1500];
    if (check_reports_soft(reg, what, file, err, sizeof err)) fail_msg("%s", err);
}

static int check_clean_soft(herd_registry *reg, const char *what, char *err, size_t cap)
{
    herd_frame *problems = NULL;
    int rc = herd_registry_check(reg, &problems);
    size_t n = problems ? herd_frame_row_count(problems) : 0;
    herd_frame_free(problems);
    if (rc == HERD_OK && n == 0) return 0;
    snprintf(err, cap, "%s: herd_registry_check: %s, %zu problems (%s)", what,
             herd_status_str(rc), n, herd_last_error());
    return -1;
}

/* The registry shows exactly batches 0..np-1 with all their artifacts. */
static int batches_soft(cctx *c, herd_registry *reg, int np, const char *what, char *err,
                        size_t cap)
{
    int want[NB] = {0};
    for (int b = 0; b < np; b++) want[b] = 1;
    char e2[1024];
    if (!cp_verify(reg, plan, NB, want, &c->m, 0, e2, sizeof e2)) return 0;
    snprintf(err, cap, "%s: %s", what, e2);
    return -1;
}

static void expect_batches(cctx *c, herd_registry *reg, int np, const char *what)
{
    char err[1500];
    if (batches_soft(c, reg, np, what, err, sizeof err)) fail_msg("%s", err);
}

/* ---- journal ------------------------------------------------------------- */

/* Offsets to damage in record [start, end): its first bytes (header), the
 * middle of the payload, the last byte. */
static int record_offsets(int64_t start, int64_t end, int64_t *off)
{
    int n = 0;
    const int64_t rel[] = {0, 3, 4, 8, 12, 16, 20, 23};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++)
        if (start + rel[i] < end) off[n++] = start + rel[i];
    off[n++] = start + (end - start) / 2;
    off[n++] = end - 1;
    return n;
}

static void journal_damage(cctx *c, const char *src, const int64_t *jsize, int covered)
{
    for (int r = 0; r < NB; r++) {
        int64_t off[16];
        int n = record_offsets(jsize[r], jsize[r + 1], off);
        for (int k = 0; k < n; k++) {
            char what[200];
            snprintf(what, sizeof what, "%s: byte %" PRId64 " of the journal flipped (record %d, "
                     "bytes %" PRId64 "..%" PRId64 ")", covered ? "B" : "A", off[k], r, jsize[r],
                     jsize[r + 1] - 1);
            fresh_copy(c, src);
            assert_int_equal(cr_flip_byte(work_file(c, "journal"), (uint64_t)off[k]), 0);
            herd_registry *reg = NULL;
            int rc = herd_registry_open(c->work, NULL, &reg);
            if (r == NB - 1) {
                /* the last record: indistinguishable from a torn append,
                 * so it is dropped */
                if (rc) fail_msg("%s: the last record's damage must read as a torn tail, but "
                                 "open fails: %s (%s)", what, herd_status_str(rc),
                                 herd_last_error());
                expect_batches(c, reg, NB - 1, what);
                herd_registry_free(reg);
                continue;
            }
            if (r < covered) {
                /* a record the index covers: open need not read it */
                if (rc == HERD_OK) {
                    expect_batches(c, reg, NB, what);
                    expect_check_reports(reg, what, "journal");
                    herd_registry_free(reg);
                    continue;
                }
                if (rc != HERD_ECORRUPT)
                    fail_msg("%s: open returned %s (%s)", what, herd_status_str(rc),
                             herd_last_error());
                expect_names(what, "journal");
                continue;
            }
            if (rc != HERD_ECORRUPT) {
                if (rc == HERD_OK) {
                    cr_snap s;
                    char err[256];
                    size_t nv = cr_snap_take(reg, &s, err, sizeof err) ? 0 : s.n;
                    cr_snap_free(&s);
                    herd_registry_free(reg);
                    fail_msg("%s: open succeeded (%zu versions visible): the damage was not "
                             "reported", what, nv);
                }
                fail_msg("%s: open returned %s, want HERD_ECORRUPT (%s)", what,
                         herd_status_str(rc), herd_last_error());
            }
            expect_names(what, "journal");
            int64_t at = msg_offset(herd_last_error());
            if (at < jsize[r] || at >= jsize[r + 1])
                fail_msg("%s: the message gives offset %" PRId64 ", outside the damaged record: "
                         "%s", what, at, herd_last_error());
            /* allow_damaged: read-only, every commit but the damaged one
             * (the journal is read on past it) */
            herd_registry_options o;
            herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
            o.allow_damaged = 1;
            rc = herd_registry_open(c->work, &o, &reg);
            if (rc) fail_msg("%s: open with allow_damaged: %s (%s)", what, herd_status_str(rc),
                             herd_last_error());
            /* version numbers stay as committed: the lost record's
             * versions that later ones follow show as "lost" */
            cr_snap snap;
            char e2[256];
            if (cr_snap_take(reg, &snap, e2, sizeof e2)) fail_msg("%s: %s", what, e2);
            for (int b = 0; b < NB; b++) {
                const cr_row *rows[64];
                size_t got = cr_snap_batch(&snap, -1, b, rows, 64);
                if (got != (size_t)(b == r ? 0 : plan[b].n))
                    fail_msg("%s: allow_damaged shows %zu versions of batch %d, want %d (every "
                             "batch but the damaged one)", what, got, b, b == r ? 0 : plan[b].n);
            }
            cr_snap_free(&snap);
            /* read-only: a batch is refused, at begin or at the latest at
             * commit, and nothing is written */
            int64_t jsz = cr_file_size(work_file(c, "journal"));
            herd_batch *hb = NULL;
            rc = herd_registry_begin(reg, &hb);
            if (rc == HERD_OK) {
                CR_OK(cr_add(hb, c->blob[0], c->blob_len[0], "f0", "g0", -1, 99, 0, NULL, NULL,
                             NULL));
                rc = herd_batch_commit(hb);
                herd_batch_free(hb);
                if (rc == HERD_OK)
                    fail_msg("%s: a registry opened with allow_damaged commits a batch", what);
            }
            assert_int_equal(cr_file_size(work_file(c, "journal")), jsz);
            expect_check_reports(reg, what, "journal");
            herd_registry_free(reg);
        }
    }
}

static void test_journal_damage_no_index(void **state)
{
    cctx *c = *state;
    char ipath[4300];
    snprintf(ipath, sizeof ipath, "%s/index", c->a);
    printf("# registry A: index %" PRId64 " bytes (-1: none), journal records end at",
           cr_file_size(ipath));
    for (int b = 1; b <= NB; b++) printf(" %" PRId64, c->jsize_a[b]);
    printf("\n");
    journal_damage(c, c->a, c->jsize_a, 0);
}

static void test_journal_damage_indexed(void **state)
{
    cctx *c = *state;
    journal_damage(c, c->b, c->jsize_b, INDEXED);
}

/* ---- index ----------------------------------------------------------------- */

/* One damaged index: 0, or -1 with err.  Open may fail with HERD_ECORRUPT
 * naming the index (then opening with allow_damaged must give a handle to
 * repair it with); reading may hit the damage (HERD_ECORRUPT naming the
 * index); herd_registry_check must report it; herd_registry_rebuild_index
 * must repair it, after which everything reads, from this handle and a
 * fresh one, and the check is clean. */
static int index_case(cctx *c, const char *what, char *err, size_t cap)
{
    herd_registry *reg = NULL;
    int rc = herd_registry_open(c->work, NULL, &reg);
    if (rc != HERD_OK) {
        if (rc != HERD_ECORRUPT && rc != HERD_EFORMAT) {
            snprintf(err, cap, "%s: open returned %s (%s)", what, herd_status_str(rc),
                     herd_last_error());
            return -1;
        }
        if (names_soft(what, "index", err, cap)) return -1;
        char first[700];
        snprintf(first, sizeof first, "%s", herd_last_error());
        /* the way back: open allowing damage, rebuild the index */
        herd_registry_options o;
        herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
        o.allow_damaged = 1;
        rc = herd_registry_open(c->work, &o, &reg);
        if (rc) {
            snprintf(err, cap, "%s: open fails (%s: %s), and with allow_damaged too (%s), so "
                     "herd_registry_rebuild_index cannot be called", what, herd_status_str(rc),
                     first, herd_last_error());
            return -1;
        }
    } else {
        cr_snap s;
        char e2[512];
        rc = cr_snap_take(reg, &s, e2, sizeof e2);
        cr_snap_free(&s);
        if (rc != HERD_OK && rc != HERD_ECORRUPT) {
            snprintf(err, cap, "%s: reading returned %s (%s)", what, herd_status_str(rc), e2);
            herd_registry_free(reg);
            return -1;
        }
        if (rc == HERD_ECORRUPT && names_soft(what, "index", err, cap)) {
            herd_registry_free(reg);
            return -1;
        }
    }
    int bad = check_reports_soft(reg, what, "index", err, cap);
    if (!bad && (rc = herd_registry_rebuild_index(reg)) != HERD_OK) {
        snprintf(err, cap, "%s: herd_registry_rebuild_index: %s (%s)", what, herd_status_str(rc),
                 herd_last_error());
        bad = 1;
    }
    if (!bad)
        bad = batches_soft(c, reg, NB, what, err, cap) || check_clean_soft(reg, what, err, cap);
    herd_registry_free(reg);
    if (bad) return -1;
    if ((rc = herd_registry_open(c->work, NULL, &reg))) {
        snprintf(err, cap, "%s: after the rebuild, open: %s (%s)", what, herd_status_str(rc),
                 herd_last_error());
        return -1;
    }
    bad = batches_soft(c, reg, NB, what, err, cap) || check_clean_soft(reg, what, err, cap);
    herd_registry_free(reg);
    return bad ? -1 : 0;
}

static int index_damage(cctx *c, const char *src, const char *name)
{
    char ipath[4300];
    snprintf(ipath, sizeof ipath, "%s/index", src);
    int64_t isz = cr_file_size(ipath);
    if (isz <= 0) fail_msg("registry %s has no index file (%s)", name, ipath);
    printf("# registry %s: index of %" PRId64 " bytes\n", name, isz);
    int64_t off[32];
    int n = 0;
    const int64_t fixed[] = {0, 8, 12, 16, 24, 32, 48, 64, 128, 256};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (fixed[i] < isz) off[n++] = fixed[i];
    for (int q = 1; q <= 9; q++) off[n++] = isz * q / 10;
    off[n++] = isz - 1;
    /* every case runs; the failures are listed together */
    int failed = 0;
    for (int k = 0; k <= n; k++) {
        char what[160];
        fresh_copy(c, src);
        if (k < n) {
            snprintf(what, sizeof what, "%s: index byte %" PRId64 " of %" PRId64 " flipped", name,
                     off[k], isz);
            assert_int_equal(cr_flip_byte(work_file(c, "index"), (uint64_t)off[k]), 0);
        } else {
            snprintf(what, sizeof what, "%s: index truncated to %" PRId64 " of %" PRId64
                     " bytes", name, isz / 2, isz);
            assert_int_equal(truncate(work_file(c, "index"), (off_t)(isz / 2)), 0);
        }
        char err[2048];
        if (index_case(c, what, err, sizeof err)) {
            printf("# FAIL %s\n", err);
            failed++;
        }
    }
    printf("# registry %s: %d of %d damaged indexes not handled\n", name, failed, n + 1);
    return failed;
}

static void test_index_damage(void **state)
{
    cctx *c = *state;
    int failed = index_damage(c, c->b, "B (index + journal tail)");
    failed += index_damage(c, c->cc, "C (index covering the journal)");
    if (failed) fail_msg("%d damaged indexes were not handled (listed above)", failed);
}

/* ---- packs ------------------------------------------------------------------ */

typedef struct where {
    char pack[64];
    int64_t off; /* of the blob in the pack; -1: not found */
} where;

/* Find every item's blob bytes in the packs of `dir`. */
static void locate_blobs(cctx *c, const char *dir, where loc[NB][CP_MAX_ITEMS])
{
    char names[64][64];
    int np = cr_list_prefix(dir, "pack-", names, 64);
    assert_true(np >= 1);
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < plan[b].n; i++) loc[b][i].off = -1;
    for (int p = 0; p < np; p++) {
        char path[4400];
        CR_SNPRINTF(path, sizeof path, "%s/%s", dir, names[p]);
        unsigned char *data;
        size_t len;
        assert_int_equal(cr_read_file(path, &data, &len), 0);
        for (int b = 0; b < NB; b++)
            for (int i = 0; i < plan[b].n; i++) {
                int k = plan[b].item[i].blob;
                const unsigned char *hit = memmem(data, len, c->blob[k], c->blob_len[k]);
                if (hit) {
                    CR_SNPRINTF(loc[b][i].pack, sizeof loc[b][i].pack, "%s", names[p]);
                    loc[b][i].off = hit - data;
                }
            }
        free(data);
    }
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < plan[b].n; i++)
            if (loc[b][i].off < 0)
                fail_msg("the artifact of batch %d item %d is not in any pack as written (%d "
                         "packs): this test locates artifacts by their bytes",
                         b, i, np);
}

/* Load every version; the ones in bad[][] must fail with HERD_ECORRUPT
 * naming their pack and an offset, the others must load their model. */
static int loads_soft(cctx *c, herd_registry *reg, int bad[NB][CP_MAX_ITEMS],
                      where loc[NB][CP_MAX_ITEMS], const char *what, char *err, size_t cap)
{
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < plan[b].n; i++) {
            const cp_item *it = &plan[b].item[i];
            int64_t v = cp_version_of(plan, b, i);
            herd_artifact *a = NULL;
            int rc = herd_registry_load(reg, it->family, it->group, v, &a);
            char w2[300];
            snprintf(w2, sizeof w2, "%s: loading %s/%s v%" PRId64, what, it->family, it->group, v);
            if (bad[b][i]) {
                herd_artifact_free(a);
                if (rc != HERD_ECORRUPT) {
                    snprintf(err, cap, "%s: %s, want HERD_ECORRUPT (%s)", w2, herd_status_str(rc),
                             herd_last_error());
                    return -1;
                }
                if (names_soft(w2, loc[b][i].pack, err, cap)) return -1;
            } else {
                int same = rc == HERD_OK && cr_artifact_is_model(&c->m, a, it->mi);
                herd_artifact_free(a);
                if (rc != HERD_OK) {
                    snprintf(err, cap, "%s (undamaged): %s (%s)", w2, herd_status_str(rc),
                             herd_last_error());
                    return -1;
                }
                if (!same) {
                    snprintf(err, cap, "%s: not the model committed", w2);
                    return -1;
                }
            }
        }
    return 0;
}

static void test_pack_damage(void **state)
{
    cctx *c = *state;
    where loc[NB][CP_MAX_ITEMS];
    locate_blobs(c, c->b, loc);
    /* victims: one artifact the index covers, one of the journal tail;
     * every case runs, the failures are listed together */
    const int victims[2][2] = {{0, 1}, {3, 1}};
    int failed = 0, cases = 0;
    for (int vi = 0; vi < 2; vi++) {
        int vb = victims[vi][0], vit = victims[vi][1];
        int64_t start = loc[vb][vit].off, len = (int64_t)c->blob_len[plan[vb].item[vit].blob];
        const int64_t rel[] = {3, 9, 20, 45, 60, len / 3, len / 2, len - 1};
        for (size_t k = 0; k < sizeof rel / sizeof *rel; k++) {
            char what[200];
            snprintf(what, sizeof what, "%s byte %" PRId64 " flipped (byte %" PRId64
                     " of the artifact of batch %d item %d)", loc[vb][vit].pack, start + rel[k],
                     rel[k], vb, vit);
            fresh_copy(c, c->b);
            assert_int_equal(cr_flip_byte(work_file(c, loc[vb][vit].pack),
                                          (uint64_t)(start + rel[k])), 0);
            herd_registry *reg = NULL;
            int rc = herd_registry_open(c->work, NULL, &reg);
            if (rc) fail_msg("%s: open: %s (%s)", what, herd_status_str(rc), herd_last_error());
            int bad[NB][CP_MAX_ITEMS] = {{0}};
            bad[vb][vit] = 1;
            char err[1500];
            if (loads_soft(c, reg, bad, loc, what, err, sizeof err) ||
                check_reports_soft(reg, what, loc[vb][vit].pack, err, sizeof err)) {
                printf("# FAIL %s\n", err);
                failed++;
            }
            cases++;
            herd_registry_free(reg);
        }
    }

    /* a truncated pack: the artifacts past the cut fail, the others load */
    char names[64][64];
    int np = cr_list_prefix(c->b, "pack-", names, 64);
    const char *last = names[np - 1];
    char lpath[4400];
    CR_SNPRINTF(lpath, sizeof lpath, "%s/%s", c->b, last);
    int64_t psz = cr_file_size(lpath);
    int64_t cut = -1;
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < plan[b].n; i++)
            if (!strcmp(loc[b][i].pack, last) && loc[b][i].off + 10 > cut)
                cut = loc[b][i].off + 10; /* inside the last artifact of the pack */
    fresh_copy(c, c->b);
    assert_int_equal(truncate(work_file(c, last), (off_t)cut), 0);
    char what[200];
    snprintf(what, sizeof what, "%s truncated from %" PRId64 " to %" PRId64 " bytes", last, psz,
             cut);
    herd_registry *reg = NULL;
    int rc = herd_registry_open(c->work, NULL, &reg);
    if (rc) fail_msg("%s: open: %s (%s)", what, herd_status_str(rc), herd_last_error());
    int bad[NB][CP_MAX_ITEMS] = {{0}}, nbad = 0;
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < plan[b].n; i++)
            if (!strcmp(loc[b][i].pack, last) &&
                loc[b][i].off + (int64_t)c->blob_len[plan[b].item[i].blob] > cut)
                bad[b][i] = 1, nbad++;
    assert_true(nbad >= 1);
    char err[1500];
    if (loads_soft(c, reg, bad, loc, what, err, sizeof err) ||
        check_reports_soft(reg, what, last, err, sizeof err)) {
        printf("# FAIL %s\n", err);
        failed++;
    }
    cases++;
    herd_registry_free(reg);
    if (failed)
        fail_msg("%d of %d damaged or truncated packs were not handled (listed above)", failed,
                 cases);
}

/* ---- the format file ------------------------------------------------------------ */

static void test_format_file_damage(void **state)
{
    cctx *c = *state;
    char fpath[4300];
    snprintf(fpath, sizeof fpath, "%s/HERD-REGISTRY", c->b);
    unsigned char *orig;
    size_t len;
    assert_int_equal(cr_read_file(fpath, &orig, &len), 0);
    assert_true(len > 0);
    printf("# HERD-REGISTRY: %zu bytes\n", len);
    /* every byte, then empty and cut in half; the failures are listed
     * together */
    int failed = 0;
    for (size_t k = 0; k < len + 2; k++) {
        char what[160];
        fresh_copy(c, c->b);
        if (k < len) {
            snprintf(what, sizeof what, "HERD-REGISTRY byte %zu of %zu flipped", k, len);
            assert_int_equal(cr_flip_byte(work_file(c, "HERD-REGISTRY"), k), 0);
        } else {
            size_t to = k == len ? 0 : len / 2;
            snprintf(what, sizeof what, "HERD-REGISTRY truncated to %zu of %zu bytes", to, len);
            assert_int_equal(truncate(work_file(c, "HERD-REGISTRY"), (off_t)to), 0);
        }
        herd_registry *reg = NULL;
        int rc = herd_registry_open(c->work, NULL, &reg);
        char err[1500] = "";
        if (rc == HERD_OK) {
            herd_registry_free(reg);
            snprintf(err, sizeof err, "%s: the registry opens anyway", what);
        } else if (rc != HERD_EFORMAT && rc != HERD_ECORRUPT) {
            snprintf(err, sizeof err, "%s: open returned %s, want HERD_EFORMAT or HERD_ECORRUPT "
                     "(%s)", what, herd_status_str(rc), herd_last_error());
        } else {
            names_soft(what, "HERD-REGISTRY", err, sizeof err);
        }
        if (err[0]) {
            printf("# FAIL %s\n", err);
            failed++;
        }
        /* nothing was changed by the failed open */
        unsigned char *now;
        size_t nlen;
        assert_int_equal(cr_read_file(work_file(c, "HERD-REGISTRY"), &now, &nlen), 0);
        assert_true(nlen == (k < len ? len : k == len ? 0 : len / 2));
        free(now);
    }
    free(orig);
    if (failed)
        fail_msg("%d of %zu damaged format files were not reported as such (listed above)",
                 failed, len + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_damage_no_index),
        cmocka_unit_test(test_journal_damage_indexed),
        cmocka_unit_test(test_index_damage),
        cmocka_unit_test(test_pack_damage),
        cmocka_unit_test(test_format_file_damage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
