/* test_results.c -- the result frames are part of the API, and
 * docs/results.md is where they are defined: every frame the library
 * returns, its columns in order with their types, and the values its
 * status columns take.  This test reads that document, makes the library
 * return every frame it lists, and checks each one against it both ways:
 * a column added, removed, renamed, retyped or reordered in either place,
 * a frame the document does not list, a section nothing returns, or a
 * status value the document does not list, fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "fit_fixture.h"

#define EXPECT_OK(call)                                                            \
    do {                                                                           \
        int rc_ = (call);                                                          \
        if (rc_ != HERD_OK)                                                        \
            fail_msg("%s: %s (%s)", #call, herd_status_str(rc_), herd_last_error()); \
    } while (0)

/* ---- docs/results.md ------------------------------------------------------ */

#define MAX_FRAMES 48
#define MAX_COLS 32
#define MAX_VALUES 12

typedef struct doc_column {
    char name[64];
    char type[16];
    int n_values; /* > 0: the column holds one of these strings */
    char values[MAX_VALUES][32];
} doc_column;

typedef struct doc_frame {
    char id[128]; /* the section title, without markdown */
    int n_cols;
    doc_column cols[MAX_COLS];
    int checked;
} doc_frame;

typedef struct doc {
    int n_frames;
    doc_frame frames[MAX_FRAMES];
} doc;

/* The title of a "## " or "### " line without '#', '`' and surrounding
 * spaces: "## `herd_apply()`: `*report`" -> "herd_apply(): *report". */
static void title_of(const char *line, char *out, size_t size)
{
    while (*line == '#') line++;
    while (*line == ' ') line++;
    size_t o = 0;
    for (; *line && *line != '\n' && o + 1 < size; line++)
        if (*line != '`') out[o++] = *line;
    while (o && out[o - 1] == ' ') o--;
    out[o] = '\0';
}

/* The first `word` of a cell, or "" when the cell has none. */
static void ticked(const char *cell, const char *end, char *out, size_t size)
{
    out[0] = '\0';
    const char *a = memchr(cell, '`', (size_t)(end - cell));
    if (!a) return;
    const char *b = memchr(a + 1, '`', (size_t)(end - a - 1));
    if (!b || (size_t)(b - a - 1) >= size) return;
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = '\0';
}

/* The values listed after "one of " in a meaning cell: every `word` up to
 * the end of that sentence ('.', ';', ':' or '(' outside backticks). */
static void values_of(const char *cell, const char *end, doc_column *c)
{
    const char *p = strstr(cell, "one of ");
    if (!p || p > end) return;
    const char *open = NULL;
    for (p += 7; p < end; p++) {
        if (*p == '`') {
            if (!open) {
                open = p + 1;
                continue;
            }
            size_t n = (size_t)(p - open);
            if (c->n_values < MAX_VALUES && n < sizeof c->values[0]) {
                memcpy(c->values[c->n_values], open, n);
                c->values[c->n_values++][n] = '\0';
            }
            open = NULL;
        } else if (!open && (*p == '.' || *p == ';' || *p == ':' || *p == '(')) {
            break;
        }
    }
}

/* A table row "| `name` | type | meaning |" of the current frame. */
static void add_row(doc_frame *f, const char *line)
{
    const char *c1 = strchr(line, '|');
    const char *c2 = c1 ? strchr(c1 + 1, '|') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, '|') : NULL;
    const char *c4 = c3 ? strchr(c3 + 1, '|') : NULL;
    if (!c4) fail_msg("docs/results.md: a malformed row in '%s': %s", f->id, line);
    if (f->n_cols == MAX_COLS) fail_msg("docs/results.md: '%s' has too many columns", f->id);
    doc_column *c = &f->cols[f->n_cols++];
    memset(c, 0, sizeof *c);
    ticked(c1 + 1, c2, c->name, sizeof c->name);
    if (!c->name[0]) fail_msg("docs/results.md: a row of '%s' names no column: %s", f->id, line);
    const char *t = c2 + 1;
    while (*t == ' ') t++;
    size_t n = 0;
    while (t < c3 && *t != ' ' && n + 1 < sizeof c->type) c->type[n++] = *t++;
    c->type[n] = '\0';
    values_of(c3 + 1, c4, c);
}

static void doc_read(doc *d)
{
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/results.md", root ? root : ".");
    FILE *fp = fopen(path, "r");
    if (!fp) fail_msg("cannot open %s (HERD_TEST_SOURCE_DIR is the source tree)", path);
    memset(d, 0, sizeof *d);
    char line[2048];
    doc_frame *cur = NULL;
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, "## ", 3) || !strncmp(line, "### ", 4)) {
            cur = NULL;
            char title[128];
            title_of(line, title, sizeof title);
            if (strncmp(title, "herd_", 5)) continue; /* prose sections */
            if (d->n_frames == MAX_FRAMES) fail_msg("docs/results.md: too many frames");
            cur = &d->frames[d->n_frames++];
            snprintf(cur->id, sizeof cur->id, "%s", title);
        } else if (cur && !strncmp(line, "| `", 3)) {
            add_row(cur, line);
        }
    }
    fclose(fp);
    if (d->n_frames < 10) fail_msg("docs/results.md: only %d frames found", d->n_frames);
}

static doc_frame *doc_find(doc *d, const char *id)
{
    for (int i = 0; i < d->n_frames; i++)
        if (!strcmp(d->frames[i].id, id)) return &d->frames[i];
    fail_msg("docs/results.md has no section '%s'", id);
    return NULL;
}

/* ---- the check ------------------------------------------------------------ */

/* "a string, b int64, ..." for messages. */
static const char *schema_text(const herd_frame *f, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < herd_frame_column_count(f) && o + 40 < size; j++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s %s", j ? ", " : "",
                              herd_frame_column_name(f, j),
                              herd_type_name(herd_frame_column_type(f, j)));
    return buf;
}

/* Frame `f`, returned by what `id` names, has the documented columns, and
 * its string columns with a documented set of values hold only those. */
static void check_frame(doc *d, const char *id, const herd_frame *f)
{
    assert_non_null(f);
    doc_frame *df = doc_find(d, id);
    df->checked = 1;
    char got[2048];
    if ((int)herd_frame_column_count(f) != df->n_cols)
        fail_msg("%s: the library returns %zu columns (%s), docs/results.md lists %d", id,
                 herd_frame_column_count(f), schema_text(f, got, sizeof got), df->n_cols);
    for (int j = 0; j < df->n_cols; j++) {
        const doc_column *c = &df->cols[j];
        const char *name = herd_frame_column_name(f, (size_t)j);
        const char *type = herd_type_name(herd_frame_column_type(f, (size_t)j));
        if (strcmp(name, c->name) || strcmp(type, c->type))
            fail_msg("%s: column %d is '%s' %s in the library, '%s' %s in docs/results.md "
                     "(the library's: %s)",
                     id, j, name, type, c->name, c->type, schema_text(f, got, sizeof got));
        if (!c->n_values) continue;
        for (size_t r = 0; r < herd_frame_row_count(f); r++) {
            const char *v = NULL;
            if (herd_frame_get_string(f, (size_t)j, r, &v) != HERD_OK) continue;
            int known = 0;
            for (int k = 0; k < c->n_values && !known; k++) known = !strcmp(v, c->values[k]);
            if (!known)
                fail_msg("%s: column '%s' holds \"%s\", which docs/results.md does not list",
                         id, name, v);
        }
    }
}

/* ---- every frame the library returns --------------------------------------- */

typedef struct ctx {
    char dir[512];
    doc doc;
    fixture fx;
} ctx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static int noop_group(const herd_group_task *task, void *user)
{
    (void)user;
    return task->index == 1 ? herd_error_set(HERD_SKIP, "skipped on purpose") : HERD_OK;
}

/* The document parses into what it must hold. */
static void test_document_parses(void **state)
{
    ctx *c = *state;
    doc_frame *rep = doc_find(&c->doc, "herd_apply(): *report");
    assert_string_equal(rep->cols[0].name, "group");
    assert_string_equal(rep->cols[0].type, "string");
    doc_column *status = &rep->cols[2];
    assert_string_equal(status->name, "status");
    assert_int_equal(status->n_values, 4);
    assert_string_equal(status->values[0], "ok");
    assert_string_equal(status->values[3], "not_run");
}

static void test_every_frame_matches_the_document(void **state)
{
    ctx *c = *state;
    doc *d = &c->doc;
    const herd_groups *groups = c->fx.groups;
    herd_frame *f = NULL, *g = NULL;

    EXPECT_OK(herd_groups_summary(groups, &f));
    check_frame(d, "herd_groups_summary(): *out", f);
    herd_frame_free(f);

    EXPECT_OK(herd_apply(groups, noop_group, NULL, NULL, &f));
    check_frame(d, "herd_apply(): *report", f);
    herd_frame_free(f);

    herd_fit_options fo;
    fixture_options(&fo, 10);
    herd_fit_result *fit = NULL;
    EXPECT_OK(herd_fit(groups, &fo, NULL, &fit));
    EXPECT_OK(herd_fit_result_report(fit, &f));
    check_frame(d, "herd_fit_result_report(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_predict(groups, fit, NULL, &f, NULL));
    check_frame(d, "herd_predict(): *out", f);
    herd_frame_free(f);
    herd_fit_result_free(fit);

    char path[600];
    snprintf(path, sizeof path, "%s/reg", c->dir);
    herd_registry *reg = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &reg));

    /* Two weekly cycles: first champions, then a comparison of new
     * challengers with them (and a rollback, for the history). */
    herd_cycle_options co;
    herd_cycle_options_init(&co, HERD_CYCLE_OPTIONS_VERSION);
    co.family = "f";
    co.run_id = "w1";
    co.holdout_order_by = "t";
    for (int week = 1; week <= 2; week++) {
        co.run_id = week == 1 ? "w1" : "w2";
        EXPECT_OK(herd_cycle(reg, groups, &fo, &co, NULL, &f, &g));
        check_frame(d, "herd_cycle(): *decisions", f);
        check_frame(d, "herd_cycle(): *summary", g);
        herd_frame_free(f);
        herd_frame_free(g);
    }
    /* The same week in two stages: a worker's part, the committer's run. */
    co.run_id = "w3";
    herd_cycle_part *part = NULL;
    herd_champions *champs = NULL;
    EXPECT_OK(herd_registry_champions(reg, "f", NULL, NULL, 0, &champs));
    EXPECT_OK(herd_cycle_train(groups, &fo, &co, champs, NULL, &part));
    herd_champions_free(champs);
    EXPECT_OK(herd_cycle_part_report(part, &f));
    check_frame(d, "herd_cycle_part_report(): *out", f);
    herd_frame_free(f);
    herd_cycle_run *run = NULL;
    EXPECT_OK(herd_cycle_begin(reg, &fo, &co, &run));
    EXPECT_OK(herd_cycle_run_add(run, part));
    EXPECT_OK(herd_cycle_run_commit(run, &f, &g));
    check_frame(d, "herd_cycle_run_commit(): *decisions", f);
    check_frame(d, "herd_cycle_run_commit(): *summary", g);
    herd_frame_free(f);
    herd_frame_free(g);
    herd_cycle_run_free(run);
    herd_cycle_part_free(part);
    herd_register_options ro;
    herd_register_options_init(&ro, HERD_REGISTER_OPTIONS_VERSION);
    ro.family = "g";
    EXPECT_OK(herd_registry_fit(reg, groups, &fo, &ro, NULL, &f));
    check_frame(d, "herd_registry_fit(): *report", f);
    herd_frame_free(f);
    herd_compare_options cmp;
    herd_compare_options_init(&cmp, HERD_COMPARE_OPTIONS_VERSION);
    cmp.family = "f";
    cmp.label = "y";
    cmp.dry_run = 1;
    cmp.bootstrap = 50;
    EXPECT_OK(herd_compare(reg, groups, &cmp, NULL, &f, &g));
    check_frame(d, "herd_compare(): *decisions", f);
    check_frame(d, "herd_compare(): *summary", g);
    herd_frame_free(f);
    herd_frame_free(g);

    /* Move one champion by hand, then roll it back. */
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    EXPECT_OK(herd_batch_set_alias(b, "f", "0", "champion", 2, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    EXPECT_OK(herd_registry_rollback(reg, "f", "0", NULL, "a bad week", &f));
    check_frame(d, "herd_registry_rollback(): *moved", f);
    herd_frame_free(f);

    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "f";
    EXPECT_OK(herd_registry_predict(reg, groups, &po, NULL, &f, NULL));
    check_frame(d, "herd_registry_predict(): *out", f);
    herd_frame_free(f);

    EXPECT_OK(herd_registry_aliases(reg, "f", "champion", &f));
    check_frame(d, "herd_registry_aliases(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_families(reg, &f));
    check_frame(d, "herd_registry_families(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_groups(reg, "f", &f));
    check_frame(d, "herd_registry_groups(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_versions(reg, "f", "0", &f));
    check_frame(d, "herd_registry_versions(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_search(reg, NULL, &f));
    check_frame(d, "herd_registry_search(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_alias_history(reg, "f", NULL, NULL, &f));
    check_frame(d, "herd_registry_alias_history(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_runs(reg, &f));
    check_frame(d, "herd_registry_runs(): *out", f);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_check(reg, &f));
    check_frame(d, "herd_registry_check(): *problems", f);
    herd_frame_free(f);
    snprintf(path, sizeof path, "%s/copy", c->dir);
    herd_registry *dest = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &dest));
    herd_copy_options cpo;
    herd_copy_options_init(&cpo, HERD_COPY_OPTIONS_VERSION);
    cpo.family = "f";
    EXPECT_OK(herd_registry_copy(reg, dest, &cpo, &f));
    check_frame(d, "herd_registry_copy(): *copied", f);
    herd_frame_free(f);
    herd_registry_free(dest);
    herd_registry_free(reg);

    /* Every section of the document describes a frame checked above. */
    for (int i = 0; i < d->n_frames; i++)
        if (!d->frames[i].checked)
            fail_msg("docs/results.md describes '%s', which this test does not check: make "
                     "the library return it above",
                     d->frames[i].id);
}

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c) return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/herd_results_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) return -1;
    doc_read(&c->doc);
    size_t sizes[3] = {80, 60, 5}; /* the last group is too small: skipped */
    fixture_make(&c->fx, 3, sizes, 0.1);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    fixture_free(&c->fx);
    nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_parses),
        cmocka_unit_test(test_every_frame_matches_the_document),
    };
    return cmocka_run_group_tests_name("results", tests, setup, teardown);
}
