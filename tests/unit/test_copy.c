/* test_copy.c -- herd_registry_copy: a family's models at an alias carried
 * from one registry to another with their tags, metrics, runs and alias
 * history; idempotent, atomic, and every bad argument refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "herd.h"

#define EXPECT_OK(call)                                                              \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != HERD_OK) fail_msg("%s: %s (%s)", #call, herd_status_str(rc_),     \
                                     herd_last_error());                             \
    } while (0)

#define EXPECT_ERR(code, call, text)                                                 \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ != (code))                                                           \
            fail_msg("%s returned %s, expected %s: %s", #call, herd_status_str(rc_), \
                     herd_status_str(code), herd_last_error());                      \
        if (!strstr(herd_last_error(), text))                                        \
            fail_msg("%s: message \"%s\" lacks \"%s\"", #call, herd_last_error(), text); \
    } while (0)

#include "const_model.h"

typedef struct ctx {
    char dir[512];
    herd_registry *a, *b, *c; /* dev, staging, prod */
    herd_artifact *m1, *m2;   /* two constant models of group "g1" */
} ctx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static herd_registry *open_in(const ctx *c, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    herd_registry *r = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &r));
    return r;
}

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/herd_copy_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) return -1;
    c->a = open_in(c, "dev");
    c->b = open_in(c, "staging");
    c->c = open_in(c, "prod");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    herd_registry_free(c->a);
    herd_registry_free(c->b);
    herd_registry_free(c->c);
    nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
    return 0;
}

/* A version of `group` in `reg` under run `run` with a tag and a metric,
 * `alias` pointing at it, with a reason and details; the run recorded. */
static int64_t put_run(herd_registry *reg, const char *group, double value, const char *alias,
                       const char *run)
{
    herd_artifact *art = const_artifact(group, value);
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    const char *tn[] = {"owner"}, *tv[] = {"team-a"}, *mn[] = {"holdout_rmse"};
    double mv[] = {value / 10};
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.run_id = run;
    vo.tag_names = tn;
    vo.tag_values = tv;
    vo.n_tags = 1;
    vo.metric_names = mn;
    vo.metric_values = mv;
    vo.n_metrics = 1;
    size_t idx;
    EXPECT_OK(herd_batch_add(b, art, &vo, &idx));
    EXPECT_OK(herd_batch_set_run(b, run, "{\"data\":{\"rows\":10}}", "{\"promote\":1}"));
    EXPECT_OK(herd_batch_commit(b));
    int64_t v = 0;
    EXPECT_OK(herd_batch_version(b, idx, &v, NULL));
    herd_batch_free(b);
    EXPECT_OK(herd_registry_begin(reg, &b));
    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.reason = "promote";
    ao.details = "{\"delta\":0.5}";
    ao.run_id = run;
    EXPECT_OK(herd_batch_set_alias(b, "f", group, alias, v, &ao));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_artifact_free(art);
    return v;
}

static herd_copy_options copy_opt(const char *pattern)
{
    herd_copy_options o;
    herd_copy_options_init(&o, HERD_COPY_OPTIONS_VERSION);
    o.family = "f";
    o.group_pattern = pattern;
    return o;
}

static const char *cell(const herd_frame *f, const char *col, size_t row)
{
    size_t i;
    EXPECT_OK(herd_frame_find(f, col, &i));
    const char *s = NULL;
    EXPECT_OK(herd_frame_get_string(f, i, row, &s));
    return s;
}

static int64_t icell(const herd_frame *f, const char *col, size_t row)
{
    size_t i;
    EXPECT_OK(herd_frame_find(f, col, &i));
    int64_t v = 0;
    EXPECT_OK(herd_frame_get_int64(f, i, row, &v));
    return v;
}

static size_t n_versions(herd_registry *reg, const char *group)
{
    herd_frame *v = NULL;
    EXPECT_OK(herd_registry_versions(reg, "f", group, &v));
    size_t n = herd_frame_row_count(v);
    herd_frame_free(v);
    return n;
}

static void expect_same_model(herd_registry *x, int64_t vx, herd_registry *y, int64_t vy,
                              const char *group)
{
    herd_artifact *ax = NULL, *ay = NULL;
    EXPECT_OK(herd_registry_load(x, "f", group, vx, &ax));
    EXPECT_OK(herd_registry_load(y, "f", group, vy, &ay));
    void *bx, *by;
    size_t lx, ly;
    EXPECT_OK(herd_artifact_to_buffer(ax, &bx, &lx));
    EXPECT_OK(herd_artifact_to_buffer(ay, &by, &ly));
    assert_int_equal(lx, ly);
    assert_memory_equal(bx, by, lx);
    herd_free(bx);
    herd_free(by);
    herd_artifact_free(ax);
    herd_artifact_free(ay);
}

/* Models, tags, metrics, run and history arrive; the alias points at them. */
static void test_copy_carries_models_and_lineage(void **state)
{
    ctx *c = *state;
    int64_t v1 = put_run(c->a, "g1", 3, "champion", "week1");
    int64_t v2 = put_run(c->a, "g2", 4, "champion", "week1");
    put_run(c->a, "g3", 5, "challenger", "week1"); /* no champion: not copied */
    herd_copy_options o = copy_opt(NULL);
    herd_frame *out = NULL;
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, &out));
    assert_int_equal(herd_frame_row_count(out), 2);
    assert_string_equal(cell(out, "group", 0), "g1");
    assert_string_equal(cell(out, "alias", 0), "champion");
    assert_string_equal(cell(out, "status", 0), "copied");
    assert_int_equal(icell(out, "source_version", 0), v1);
    assert_int_equal(icell(out, "source_version", 1), v2);
    int64_t d1 = icell(out, "version", 0);
    int64_t r = 0;
    EXPECT_OK(herd_registry_resolve(c->b, "f", "g1", "champion", &r));
    assert_int_equal(r, d1);
    expect_same_model(c->a, v1, c->b, d1, "g1");
    herd_frame_free(out);
    assert_int_equal(herd_registry_resolve(c->b, "f", "g3", "latest", &r), HERD_ENOTFOUND);

    /* Tags, metrics and run id of the version. */
    herd_frame *vs = NULL;
    EXPECT_OK(herd_registry_versions(c->b, "f", "g1", &vs));
    assert_string_equal(cell(vs, "run_id", 0), "week1");
    assert_non_null(strstr(cell(vs, "tags", 0), "\"owner\":\"team-a\""));
    assert_non_null(strstr(cell(vs, "metrics", 0), "\"holdout_rmse\":0.3"));
    herd_frame_free(vs);
    /* The run record with its params (the lineage). */
    herd_frame *runs = NULL;
    EXPECT_OK(herd_registry_runs(c->b, &runs));
    assert_int_equal(herd_frame_row_count(runs), 1);
    assert_string_equal(cell(runs, "run_id", 0), "week1");
    assert_string_equal(cell(runs, "params", 0), "{\"data\":{\"rows\":10}}");
    herd_frame_free(runs);
    /* The alias history: one move, its details carrying the source's. */
    herd_frame *h = NULL;
    EXPECT_OK(herd_registry_alias_history(c->b, "f", "g1", "champion", &h));
    assert_int_equal(herd_frame_row_count(h), 1);
    assert_non_null(strstr(cell(h, "reason", 0), "copied from version"));
    cJSON *d = cJSON_Parse(cell(h, "details", 0));
    assert_non_null(d);
    cJSON *src = cJSON_GetObjectItem(d, "source");
    assert_int_equal(cJSON_GetObjectItem(src, "version")->valueint, (int)v1);
    assert_string_equal(cJSON_GetObjectItem(src, "registry")->valuestring,
                        herd_registry_path(c->a));
    cJSON *hist = cJSON_GetObjectItem(d, "history");
    assert_int_equal(cJSON_GetArraySize(hist), 1);
    cJSON *e = cJSON_GetArrayItem(hist, 0);
    assert_string_equal(cJSON_GetObjectItem(e, "reason")->valuestring, "promote");
    assert_int_equal(cJSON_GetObjectItem(e, "to_version")->valueint, (int)v1);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "details"), "delta")->valuedouble ==
                0.5);
    cJSON_Delete(d);
    herd_frame_free(h);
}

/* A second copy adds and moves nothing; a later promotion is carried;
 * a model the destination holds is aliased again, not added twice. */
static void test_copy_is_idempotent(void **state)
{
    ctx *c = *state;
    put_run(c->a, "g1", 3, "champion", "week1");
    herd_copy_options o = copy_opt(NULL);
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, NULL));
    herd_frame *out = NULL;
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, &out));
    assert_string_equal(cell(out, "status", 0), "unchanged");
    herd_frame_free(out);
    assert_int_equal(n_versions(c->b, "g1"), 1);
    herd_frame *h = NULL;
    EXPECT_OK(herd_registry_alias_history(c->b, "f", "g1", NULL, &h));
    assert_int_equal(herd_frame_row_count(h), 1);
    herd_frame_free(h);

    /* A new champion in the source: a new version, the alias moves, the
     * history carried has both source moves. */
    int64_t v2 = put_run(c->a, "g1", 7, "champion", "week2");
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, &out));
    assert_string_equal(cell(out, "status", 0), "copied");
    assert_int_equal(icell(out, "source_version", 0), v2);
    assert_int_equal(icell(out, "version", 0), 2);
    herd_frame_free(out);
    EXPECT_OK(herd_registry_alias_history(c->b, "f", "g1", "champion", &h));
    assert_int_equal(herd_frame_row_count(h), 2);
    cJSON *d = cJSON_Parse(cell(h, "details", 1));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "history")), 2);
    cJSON_Delete(d);
    herd_frame_free(h);

    /* Rolled back in the destination: copying again moves the alias back
     * to the version already there. */
    EXPECT_OK(herd_registry_rollback(c->b, "f", "g1", NULL, "bad week", NULL));
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, &out));
    assert_string_equal(cell(out, "status", 0), "moved");
    assert_int_equal(icell(out, "version", 0), 2);
    herd_frame_free(out);
    assert_int_equal(n_versions(c->b, "g1"), 2);
}

/* dev -> staging -> prod: prod's details hold one flat history naming
 * both registries; group_pattern picks groups. */
static void test_copy_chain_and_pattern(void **state)
{
    ctx *c = *state;
    put_run(c->a, "g1", 3, "champion", "week1");
    put_run(c->a, "h1", 3, "champion", "week1");
    herd_copy_options o = copy_opt("g*");
    herd_frame *out = NULL;
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, &out));
    assert_int_equal(herd_frame_row_count(out), 1);
    herd_frame_free(out);
    o.reason = "release 7";
    EXPECT_OK(herd_registry_copy(c->b, c->c, &o, NULL));
    herd_frame *h = NULL;
    EXPECT_OK(herd_registry_alias_history(c->c, "f", "g1", "champion", &h));
    assert_string_equal(cell(h, "reason", 0), "release 7");
    cJSON *d = cJSON_Parse(cell(h, "details", 0));
    cJSON *hist = cJSON_GetObjectItem(d, "history");
    assert_int_equal(cJSON_GetArraySize(hist), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(hist, 0), "registry")->valuestring,
                        herd_registry_path(c->a));
    cJSON *second = cJSON_GetArrayItem(hist, 1);
    assert_string_equal(cJSON_GetObjectItem(second, "registry")->valuestring,
                        herd_registry_path(c->b));
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(second, "details"), "history"));
    cJSON_Delete(d);
    herd_frame_free(h);
    int64_t r;
    assert_int_equal(herd_registry_resolve(c->c, "f", "h1", "champion", &r), HERD_ENOTFOUND);
}

/* A promotion in the destination between the read and the commit would
 * be a conflict; here the destination alias moved to a version the copy
 * did not read: the guard is where the alias pointed when the copy read. */
static void test_copy_guards_destination(void **state)
{
    ctx *c = *state;
    put_run(c->a, "g1", 3, "champion", "week1");
    put(c->b, "g1", 9, "champion"); /* the destination has its own */
    herd_copy_options o = copy_opt(NULL);
    herd_frame *out = NULL;
    EXPECT_OK(herd_registry_copy(c->a, c->b, &o, &out));
    assert_string_equal(cell(out, "status", 0), "copied");
    herd_frame_free(out);
    herd_frame *h = NULL;
    EXPECT_OK(herd_registry_alias_history(c->b, "f", "g1", "champion", &h));
    assert_int_equal(herd_frame_row_count(h), 2);
    assert_int_equal(icell(h, "from_version", 1), 1);
    herd_frame_free(h);
}

static void test_copy_refuses_bad_arguments(void **state)
{
    ctx *c = *state;
    herd_copy_options o = copy_opt(NULL);
    herd_frame *out = (herd_frame *)c;
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(NULL, c->b, &o, &out), "from");
    assert_null(out);
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, NULL, &o, &out), "to");
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, c->a, &o, &out), "same registry");
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, c->b, NULL, &out), "family");
    EXPECT_ERR(HERD_ENOTFOUND, herd_registry_copy(c->a, c->b, &o, &out), "nothing to copy");
    o.alias = "latest";
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, c->b, &o, &out), "latest");
    o = copy_opt("[a-");
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, c->b, &o, &out), "group_pattern");
    o = copy_opt(NULL);
    o.family = "bad family";
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, c->b, &o, &out), "opt->family");
    herd_copy_options bad;
    memset(&bad, 0, sizeof bad);
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, c->b, &bad, &out), "herd_copy_options");

    /* A read-only destination: refused, nothing written. */
    put_run(c->a, "g1", 3, "champion", "week1");
    char path[600];
    snprintf(path, sizeof path, "%s/ro", c->dir);
    herd_registry *w = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &w));
    herd_registry_free(w);
    herd_registry_options ro;
    herd_registry_options_init(&ro, HERD_REGISTRY_OPTIONS_VERSION);
    ro.read_only = 1;
    herd_registry *r = NULL;
    EXPECT_OK(herd_registry_open(path, &ro, &r));
    o = copy_opt(NULL);
    EXPECT_ERR(HERD_EINVAL, herd_registry_copy(c->a, r, &o, &out), "read-only");
    assert_null(out);
    herd_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_carries_models_and_lineage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_chain_and_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_guards_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_refuses_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
