/* What each kind of damage costs, and the write paths around it:
 *   - a flipped byte in the last journal record: the record is cut off at
 *     open, its bytes kept in journal.cut-<offset>, which check lists;
 *   - a flipped byte in a record the index covers: nothing while the index
 *     lives; once the index is lost, a default open fails naming what was
 *     lost, allow_damaged reads every other commit, and an index rebuild on
 *     that handle accepts the loss and lets commits resume;
 *   - a flipped byte in a pack header: check reports the pack;
 *   - a flipped byte deep in a 2 MiB record the next checkpoint reads back:
 *     found, commits through the handle stop;
 *   - a full disk under the index rewrite: the rewrite backs off instead of
 *     being retried at every commit, and resumes once space is back;
 *   - a read-only journal: a default open fails with HERD_EIO and says to
 *     open read-only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crash_common.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

#define SIM_REG "/reg"

typedef struct dctx {
    cr_models m;
    void *blob;
    size_t len;
    char dir[4096];
} dctx;

static int setup(void **state)
{
    dctx *c = calloc(1, sizeof *c);
    char err[512];
    if (!c || cr_models_load(&c->m, err, sizeof err)) {
        fprintf(stderr, "%s\n", c ? err : "out of memory");
        free(c);
        return -1;
    }
    if (cr_blob(&c->m, 1, "d", &c->blob, &c->len)) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    dctx *c = *state;
    herd_free(c->blob);
    cr_models_free(&c->m);
    free(c);
    return 0;
}

static int fresh_dir(void **state)
{
    dctx *c = *state;
    return cr_mkdtemp(c->dir, sizeof c->dir, "durability");
}

static int remove_dir(void **state)
{
    dctx *c = *state;
    return cr_rmtree(c->dir);
}

/* Commit batch `b`: one version of group "g<b % 2>" tagged batch=b, moving
 * "champion", with run `run` recorded (params and summary `json`) unless
 * it is NULL; *rec_off receives the journal size before the commit. */
static void commit_run(dctx *c, herd_registry *reg, long b, int64_t *rec_off, const char *run,
                       const char *json)
{
    char path[4200];
    CR_SNPRINTF(path, sizeof path, "%s/journal", herd_registry_path(reg));
    if (rec_off) *rec_off = cr_file_size(path);
    char grp[16];
    snprintf(grp, sizeof grp, "g%ld", b % 2);
    herd_batch *hb = NULL;
    CR_OK(herd_registry_begin(reg, &hb));
    CR_OK(cr_add(hb, c->blob, c->len, "fam", grp, -1, b, 0, NULL, "champion", NULL));
    if (run) CR_OK(herd_batch_set_run(hb, run, json, json));
    CR_OK(herd_batch_commit(hb));
    herd_batch_free(hb);
}

static void commit_one(dctx *c, herd_registry *reg, long b, int64_t *rec_off)
{
    commit_run(c, reg, b, rec_off, NULL, NULL);
}

static size_t count_rows(const herd_frame *f, const char *col, const char *needle)
{
    size_t n = 0;
    for (size_t r = 0; f && r < herd_frame_row_count(f); r++) {
        const char *s = cr_cell(f, col, r);
        if (s && strstr(s, needle)) n++;
    }
    return n;
}

/* A registry of batches 0..n-1 (off[b]: the journal's size before batch
 * b); jpath receives the journal's path. */
static void commit_batches(dctx *c, long n, int64_t *off, char *jpath, size_t cap)
{
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->dir, NULL, &reg));
    for (long b = 0; b < n; b++) commit_one(c, reg, b, &off[b]);
    herd_registry_free(reg);
    CR_SNPRINTF(jpath, cap, "%s/journal", c->dir);
}

static void test_last_record_flip_is_kept(void **state)
{
    dctx *c = *state;
    herd_registry *reg = NULL;
    int64_t off[3];
    char jpath[4200], kept[4300];
    commit_batches(c, 3, off, jpath, sizeof jpath);
    int64_t end = cr_file_size(jpath);
    assert_int_equal(cr_flip_byte(jpath, (uint64_t)(off[2] + (end - off[2]) / 2)), 0);
    CR_OK(herd_registry_open(c->dir, NULL, &reg)); /* cut, as a torn tail: but kept */
    assert_int_equal(cr_file_size(jpath), off[2]);
    CR_SNPRINTF(kept, sizeof kept, "%s/journal.cut-%" PRId64, c->dir, off[2]);
    assert_int_equal(cr_file_size(kept), end - off[2]);
    herd_frame *problems = NULL;
    CR_RC(herd_registry_check(reg, &problems), HERD_ECORRUPT);
    assert_int_equal(count_rows(problems, "file", "journal.cut-"), 1);
    herd_frame_free(problems);
    int64_t v = 0;
    CR_OK(herd_registry_resolve(reg, "fam", "g1", "champion", &v));
    assert_int_equal(v, 1); /* batch 1; batch 2 (g0 v2) was the damaged record */
    herd_registry_free(reg);
}

static void test_mid_flip_then_index_lost(void **state)
{
    dctx *c = *state;
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->dir, NULL, &reg));
    hd_registry_set_checkpoint_every(reg, 1); /* the index covers every record */
    int64_t off[6];
    for (long b = 0; b < 6; b++) commit_one(c, reg, b, &off[b]);
    herd_registry_free(reg);
    char jpath[4200], ipath[4200];
    CR_SNPRINTF(jpath, sizeof jpath, "%s/journal", c->dir);
    CR_SNPRINTF(ipath, sizeof ipath, "%s/index", c->dir);
    /* batch 2 (g0 v2): a byte in the middle of its record's payload */
    assert_int_equal(cr_flip_byte(jpath, (uint64_t)(off[2] + (off[3] - off[2]) / 2)), 0);
    CR_OK(herd_registry_open(c->dir, NULL, &reg)); /* the index covers it: nothing lost */
    int64_t v = 0;
    CR_OK(herd_registry_resolve(reg, "fam", "g0", "champion", &v));
    assert_int_equal(v, 3);
    herd_frame *problems = NULL;
    CR_RC(herd_registry_check(reg, &problems), HERD_ECORRUPT); /* check still sees it */
    assert_true(count_rows(problems, "problem", "version 2 of fam/g0") >= 1);
    herd_frame_free(problems);
    herd_registry_free(reg);

    assert_int_equal(unlink(ipath), 0); /* now the index is lost */
    CR_RC(herd_registry_open(c->dir, NULL, &reg), HERD_ECORRUPT);
    assert_non_null(strstr(herd_last_error(), "version 2 of fam/g0"));
    assert_non_null(strstr(herd_last_error(), "allow_damaged"));
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.allow_damaged = 1;
    CR_OK(herd_registry_open(c->dir, &o, &reg));
    /* every later commit is there: g0 v3 (batch 4), g1 v1..v3 */
    CR_OK(herd_registry_resolve(reg, "fam", "g0", "champion", &v));
    assert_int_equal(v, 3);
    CR_OK(herd_registry_resolve(reg, "fam", "g1", "champion", &v));
    assert_int_equal(v, 3);
    herd_frame *vs = NULL;
    CR_OK(herd_registry_versions(reg, "fam", "g0", &vs));
    assert_int_equal(herd_frame_row_count(vs), 3);
    assert_int_equal(count_rows(vs, "status", "lost"), 1);
    herd_frame_free(vs);
    herd_batch *hb = NULL; /* nothing is appended on top of damage */
    if (herd_registry_begin(reg, &hb) == HERD_OK) {
        CR_OK(cr_add(hb, c->blob, c->len, "fam", "g0", -1, 9, 0, NULL, NULL, NULL));
        CR_RC(herd_batch_commit(hb), HERD_ECORRUPT);
        herd_batch_free(hb);
    }
    CR_OK(herd_registry_rebuild_index(reg)); /* accepts the loss */
    commit_one(c, reg, 6, NULL);             /* commits resume: g0 v4 */
    herd_registry_free(reg);
    CR_OK(herd_registry_open(c->dir, NULL, &reg));
    CR_OK(herd_registry_resolve(reg, "fam", "g0", "champion", &v));
    assert_int_equal(v, 4);
    herd_registry_free(reg);
}

/* Damage can put any byte into a name the damaged record held: the
 * message that lists what was lost escapes it instead of passing a
 * terminal control sequence on. */
static void test_damaged_name_is_escaped(void **state)
{
    dctx *c = *state;
    herd_registry *reg = NULL;
    int64_t off[5];
    char jpath[4200];
    commit_batches(c, 5, off, jpath, sizeof jpath);
    /* batch 2 (g0 v2; batch 4 makes g0 v3): its key's first byte becomes ESC */
    unsigned char *j = NULL;
    size_t n = 0;
    assert_int_equal(cr_read_file(jpath, &j, &n), 0);
    static const unsigned char key[] = {2, 0, 0, 0, 'g', '0'};
    unsigned char *at = memmem(j + off[2], (size_t)(off[3] - off[2]), key, sizeof key);
    assert_non_null(at);
    off_t where = (off_t)(at - j) + 4;
    free(j);
    int fd = open(jpath, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\x1b", 1, where), 1);
    close(fd);
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.allow_damaged = 1;
    CR_RC(herd_registry_open(c->dir, NULL, &reg), HERD_ECORRUPT);
    const char *msg = herd_last_error();
    assert_null(strchr(msg, 0x1b));
    assert_non_null(strstr(msg, "fam/\"\\x1B0\""));  /* the name the record held */
    assert_non_null(strstr(msg, "version 2 of fam/g0")); /* the loss a later record shows */
    CR_OK(herd_registry_open(c->dir, &o, &reg));
    herd_frame *problems = NULL;
    CR_RC(herd_registry_check(reg, &problems), HERD_ECORRUPT);
    for (size_t r = 0; r < herd_frame_row_count(problems); r++)
        assert_null(strchr(cr_cell(problems, "problem", r), 0x1b));
    assert_true(count_rows(problems, "problem", "\\x1B0") >= 1);
    herd_frame_free(problems);
    herd_registry_free(reg);
}

static void test_pack_header_flip(void **state)
{
    dctx *c = *state;
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->dir, NULL, &reg));
    commit_one(c, reg, 0, NULL);
    CR_OK(herd_registry_check(reg, NULL));
    char ppath[4200];
    CR_SNPRINTF(ppath, sizeof ppath, "%s/pack-000001", c->dir);
    for (uint64_t at = 0; at < 16; at += 5) {
        assert_int_equal(cr_flip_byte(ppath, at), 0);
        herd_frame *problems = NULL;
        CR_RC(herd_registry_check(reg, &problems), HERD_ECORRUPT);
        assert_int_equal(count_rows(problems, "problem", "pack header"), 1);
        herd_frame_free(problems);
        assert_int_equal(cr_flip_byte(ppath, at), 0);
    }
    CR_OK(herd_registry_check(reg, NULL));
    herd_registry_free(reg);
}

/* A commit with a run record of about 2 MiB (params and summary near
 * HERD_JSON_MAX each): its journal record spans several of the chunks the
 * checkpoint reads back. */
static void commit_big_run(dctx *c, herd_registry *reg, const char *run, int64_t *rec_off)
{
    size_t n = HERD_JSON_MAX - 64;
    char *json = malloc(n + 16);
    assert_non_null(json);
    memcpy(json, "{\"x\": \"", 7);
    memset(json + 7, 'a', n);
    memcpy(json + 7 + n, "\"}", 3);
    commit_run(c, reg, 0, rec_off, run, json);
    free(json);
}

/* The checkpoint reads back the records its index covers a chunk at a
 * time: a sound 2 MiB record passes, and one whose third megabyte rotted
 * after it was written is found, naming its offset, and stops commits
 * through the handle. */
static void test_checkpoint_reads_big_records_back(void **state)
{
    dctx *c = *state;
    herd_registry *reg = NULL;
    CR_OK(herd_registry_open(c->dir, NULL, &reg));
    hd_registry_set_checkpoint_every(reg, 0);
    int64_t off = 0;
    commit_big_run(c, reg, "sound", &off);
    hd_registry_set_checkpoint_every(reg, 1);
    commit_one(c, reg, 1, NULL); /* checkpoints over the sound record */
    herd_batch *hb = NULL;
    CR_OK(herd_registry_begin(reg, &hb));
    herd_batch_free(hb);

    hd_registry_set_checkpoint_every(reg, 0);
    commit_big_run(c, reg, "rotten", &off);
    char jpath[4200];
    CR_SNPRINTF(jpath, sizeof jpath, "%s/journal", c->dir);
    int64_t end = cr_file_size(jpath);
    assert_true(end - off > 2 * 1024 * 1024);
    assert_int_equal(cr_flip_byte(jpath, (uint64_t)(off + (end - off) * 7 / 8)), 0);
    hd_registry_set_checkpoint_every(reg, 1);
    commit_one(c, reg, 2, NULL); /* durable; its checkpoint finds the rot */
    CR_RC(herd_registry_begin(reg, &hb), HERD_ECORRUPT);
    char want[64];
    snprintf(want, sizeof want, "%" PRId64, off);
    if (!strstr(herd_last_error(), want))
        fail_msg("the refusal does not name offset %s: %s", want, herd_last_error());
    herd_registry_free(reg);
}

/* The index's rename fails at every attempt (armed before each commit):
 * commits go on, and the rewrite is tried a few times, not at every one. */
static void test_full_disk_index_backoff(void **state)
{
    dctx *c = *state;
    hd_vfs_sim *sim = hd_vfs_sim_new(7, 0);
    assert_non_null(sim);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    hd_registry_set_checkpoint_every(reg, 4);
    uint64_t attempts = 0;
    for (long b = 0; b < 100; b++) {
        hd_vfs_sim_fail_at(sim, 1, HD_VFS_OP_RENAME, ENOSPC);
        uint64_t before = hd_vfs_sim_calls(sim, HD_VFS_OP_RENAME);
        commit_one(c, reg, b, NULL);
        attempts += hd_vfs_sim_calls(sim, HD_VFS_OP_RENAME) - before;
    }
    hd_vfs_sim_fail_at(sim, 0, 0, 0);
    printf("# 100 commits on a full disk, checkpoint every 4: %" PRIu64 " index rewrites "
           "tried\n", attempts);
    assert_true(attempts >= 3 && attempts <= 12); /* at every commit from the 4th: 97 */
    /* space is back: within the longest wait the index is rewritten */
    uint64_t before = hd_vfs_sim_calls(sim, HD_VFS_OP_RENAME);
    for (long b = 100; b < 140; b++) commit_one(c, reg, b, NULL);
    assert_true(hd_vfs_sim_calls(sim, HD_VFS_OP_RENAME) > before);
    herd_registry_free(reg);
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    CR_OK(herd_registry_check(reg, NULL));
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
}

/* The journal cannot be opened for writing (EROFS, as on a read-only
 * mount): HERD_EIO, saying to open read-only, which works. */
static void test_read_only_filesystem(void **state)
{
    dctx *c = *state;
    hd_vfs_sim *sim = hd_vfs_sim_new(3, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    herd_registry *reg = NULL;
    CR_OK(hd_registry_open_vfs(v, SIM_REG, NULL, &reg));
    commit_one(c, reg, 0, NULL);
    herd_registry_free(reg);
    hd_vfs_sim_fail_at(sim, 2, HD_VFS_OP_OPEN, EROFS); /* format file, then the journal */
    CR_RC(hd_registry_open_vfs(v, SIM_REG, NULL, &reg), HERD_EIO);
    assert_non_null(strstr(herd_last_error(), "read_only = 1"));
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.read_only = 1;
    CR_OK(hd_registry_open_vfs(v, SIM_REG, &o, &reg));
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_last_record_flip_is_kept, fresh_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_mid_flip_then_index_lost, fresh_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_damaged_name_is_escaped, fresh_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_pack_header_flip, fresh_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_checkpoint_reads_big_records_back, fresh_dir,
                                        remove_dir),
        cmocka_unit_test(test_full_disk_index_backoff),
        cmocka_unit_test(test_read_only_filesystem),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
