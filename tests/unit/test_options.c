/* test_options.c -- versioned options structs: init, the one reader, and
 * what a caller built against an older or a newer herd.h sees.
 *
 * For every options struct: the current version initialises and works; a
 * "newer header" (a copy of the struct with fields added at its end and
 * version + 1) is refused by init, which then writes nothing, and by every
 * function; init never writes past the struct; zeroed and garbage-filled
 * structs passed to every function that takes options give HERD_EINVAL
 * naming the struct and its init call, never a crash.  The "older header"
 * direction is proven once, on the shared mechanism, with a test
 * descriptor whose fields arrived in versions 1 and 2. */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "herd.h"
#include "common/options_internal.h"

#include "fit_fixture.h"
#include "test_locale.h"

#define ERR_HAS(text)                                                                      \
    do {                                                                                   \
        if (!strstr(herd_last_error(), (text)))                                            \
            fail_msg("last error \"%s\" lacks \"%s\"", herd_last_error(), (text));         \
    } while (0)

/* ------------------------------------------------------------------------
 * Every options struct, with its init and a "newer header" copy
 * --------------------------------------------------------------------- */

typedef int (*init_fn)(void *opt, unsigned version);

typedef struct struct_case {
    const char *name;
    size_t size;        /* sizeof in this header */
    size_t newer_size;  /* sizeof the test's "newer header" copy */
    unsigned version;   /* the header's version macro */
    init_fn init;
    const hd_opt_struct *desc;
} struct_case;

/* A newer herd.h: the same struct with two fields added at its end. */
#define NEWER(x)                                                                           \
    typedef struct newer_##x {                                                             \
        herd_##x##_options base;                                                           \
        uint64_t added_later;                                                              \
        const char *added_too;                                                             \
    } newer_##x;                                                                           \
    static int init_##x(void *opt, unsigned version)                                       \
    {                                                                                      \
        return herd_##x##_options_init(opt, version);                                      \
    }

NEWER(column)
NEWER(csv)
NEWER(apply)
NEWER(predictor)
NEWER(fit)
NEWER(artifact)
NEWER(registry)
NEWER(check)
NEWER(version)
NEWER(alias)
NEWER(search)
NEWER(compare)
NEWER(cycle)
NEWER(registry_predict)
NEWER(copy)
NEWER(register)

#define CASE(x, X)                                                                         \
    {"herd_" #x "_options", sizeof(herd_##x##_options), sizeof(newer_##x),                 \
     HERD_##X##_OPTIONS_VERSION, init_##x, &hd_##x##_options_desc}

static const struct_case cases[] = {
    CASE(column, COLUMN),   CASE(csv, CSV),         CASE(apply, APPLY),
    CASE(predictor, PREDICTOR),
    CASE(fit, FIT),         CASE(artifact, ARTIFACT), CASE(registry, REGISTRY),
    CASE(version, VERSION), CASE(alias, ALIAS),     CASE(search, SEARCH),
    CASE(compare, COMPARE), CASE(cycle, CYCLE),     CASE(registry_predict, REGISTRY_PREDICT),
    CASE(copy, COPY),       CASE(register, REGISTER), CASE(check, CHECK),
};
#define NCASES (sizeof cases / sizeof cases[0])

static const struct_case *case_named(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (!strcmp(cases[i].name, name)) return &cases[i];
    fail_msg("%s has no case in test_options.c: give it a descriptor in "
             "lib/common/options_table.c (hd_options_all) and a CASE line here", name);
    return NULL;
}

/* The message every refused version carries: the struct and the init call. */
static void expect_version_refused(const struct_case *c)
{
    char init_call[160];
    snprintf(init_call, sizeof init_call, "%s(&opt, %s)", c->desc->init_name,
             c->desc->version_macro);
    assert_int_equal(herd_last_error_code(), HERD_EINVAL);
    ERR_HAS(c->name);
    ERR_HAS("is not one this library");
    ERR_HAS(init_call);
}

/* Every table covers every descriptor, and the other way round. */
static void test_cases_cover_every_descriptor(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; hd_options_all[i]; i++, n++) {
        const struct_case *c = case_named(hd_options_all[i]->type_name);
        assert_ptr_equal(c->desc, hd_options_all[i]);
        assert_int_equal(c->size, hd_options_all[i]->size);
        assert_int_equal(c->version, hd_options_all[i]->version);
    }
    assert_int_equal(n, NCASES);
}

/* ------------------------------------------------------------------------
 * init
 * --------------------------------------------------------------------- */

/* The current version: OK, the version set, every field its default, from
 * any previous content. */
static void test_init_current_version(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct_case *c = &cases[i];
        unsigned char *got = malloc(c->size), *want = malloc(c->size);
        memset(got, 0x5A, c->size);
        herd_clear_error();
        if (c->init(got, c->version) != HERD_OK)
            fail_msg("%s: %s", c->name, herd_last_error());
        uint32_t v;
        memcpy(&v, got, sizeof v);
        assert_int_equal(v, c->version);
        hd_options_defaults(c->desc, want);
        for (size_t k = 0; k < c->desc->nopts; k++) {
            const hd_opt *o = &c->desc->opts[k];
            if (memcmp(got + o->off, want + o->off, hd_opt_type_size(o->type)))
                fail_msg("%s.%s is not its default after init", c->name, o->name);
        }
        free(got);
        free(want);
    }
}

/* init(NULL) is HERD_EINVAL everywhere, naming the argument. */
static void test_init_null(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        herd_clear_error();
        assert_int_equal(cases[i].init(NULL, cases[i].version), HERD_EINVAL);
        ERR_HAS(cases[i].desc->init_name);
        ERR_HAS("'opt' is NULL");
    }
}

/* A newer header's struct (fields added, version + 1): init refuses it and
 * writes nothing at all; so do versions 0 and garbage. */
static void test_init_newer_header_writes_nothing(void **state)
{
    (void)state;
    const unsigned extra[] = {0, 7, 0xA5A5A5A5u, UINT32_MAX};
    for (size_t i = 0; i < NCASES; i++) {
        const struct_case *c = &cases[i];
        unsigned char *buf = malloc(c->newer_size), *copy = malloc(c->newer_size);
        memset(buf, 0xA5, c->newer_size);
        memcpy(copy, buf, c->newer_size);
        herd_clear_error();
        assert_int_equal(c->init(buf, c->version + 1), HERD_EINVAL);
        expect_version_refused(c);
        ERR_HAS("newer herd.h");
        assert_memory_equal(buf, copy, c->newer_size);
        for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++) {
            herd_clear_error();
            assert_int_equal(c->init(buf, extra[k]), HERD_EINVAL);
            expect_version_refused(c);
            assert_memory_equal(buf, copy, c->newer_size);
        }
        free(buf);
        free(copy);
    }
}

/* init writes inside the struct only: a canary right after it survives,
 * and (under ASan / valgrind) an exact-size heap block is not overrun. */
static void test_init_stays_inside(void **state)
{
    (void)state;
    static const unsigned char canary[16] = "herd-canary-16b";
    for (size_t i = 0; i < NCASES; i++) {
        const struct_case *c = &cases[i];
        unsigned char *buf = malloc(c->size + sizeof canary);
        memcpy(buf + c->size, canary, sizeof canary);
        assert_int_equal(c->init(buf, c->version), HERD_OK);
        assert_memory_equal(buf + c->size, canary, sizeof canary);
        free(buf);
        void *exact = malloc(c->size);
        assert_int_equal(c->init(exact, c->version), HERD_OK);
        free(exact);
    }
}

/* ------------------------------------------------------------------------
 * The mechanism with a struct that grew: fields since versions 1 and 2
 * --------------------------------------------------------------------- */

typedef struct test_v1 { /* what a caller built against version 1 has */
    uint32_t version;
    int count;
    double ratio;
} test_v1;

typedef struct test_v2 { /* the library's struct: version 2 added two fields */
    uint32_t version;
    int count;
    double ratio;
    int64_t limit;
    const char *name;
} test_v2;

static const hd_opt test_opts[] = {
    {.name = "count", .type = HD_OT_INT, .since = 1, .off = offsetof(test_v2, count),
     .fields = "count", .def = 3, .min = 0, .max = 10, .doc = "a count"},
    {.name = "ratio", .type = HD_OT_DOUBLE, .since = 1, .off = offsetof(test_v2, ratio),
     .fields = "ratio", .def = 0.5, .min = 0, .max = 1, .doc = "a ratio"},
    {.name = "limit", .type = HD_OT_INT64, .since = 2, .off = offsetof(test_v2, limit),
     .fields = "limit", .def = 42, .min = -1, .max = 1000, .doc = "a limit"},
    {.name = "name", .type = HD_OT_STRING, .since = 2, .off = offsetof(test_v2, name),
     .fields = "name", .def_text = "dflt", .doc = "a name"},
};

static const hd_opt_struct test_desc = {
    .operation = "test", .type_name = "test_options", .init_name = "test_options_init",
    .version_macro = "TEST_OPTIONS_VERSION", .version = 2, .size = sizeof(test_v2),
    .opts = test_opts, .nopts = sizeof test_opts / sizeof test_opts[0]};

/* A version-1 caller: init writes the version-1 fields only, in a buffer of
 * exactly the version-1 size (a canary after it, and an exact heap block). */
static void test_older_caller_init(void **state)
{
    (void)state;
    unsigned char buf[sizeof(test_v1) + 16];
    memset(buf, 0xA5, sizeof buf);
    assert_int_equal(hd_options_init(&test_desc, buf, 1), HERD_OK);
    for (size_t i = sizeof(test_v1); i < sizeof buf; i++) assert_int_equal(buf[i], 0xA5);
    test_v1 v1;
    memcpy(&v1, buf, sizeof v1);
    assert_int_equal(v1.version, 1);
    assert_int_equal(v1.count, 3);
    assert_true(v1.ratio == 0.5);

    test_v1 *exact = malloc(sizeof *exact); /* ASan / valgrind: no write past it */
    assert_int_equal(hd_options_init(&test_desc, exact, 1), HERD_OK);
    free(exact);

    /* A version-2 caller gets every field. */
    test_v2 v2;
    memset(&v2, 0xA5, sizeof v2);
    assert_int_equal(hd_options_init(&test_desc, &v2, 2), HERD_OK);
    assert_int_equal(v2.version, 2);
    assert_int_equal(v2.limit, 42);
    assert_string_equal(v2.name, "dflt");

    herd_clear_error();
    assert_int_equal(hd_options_init(&test_desc, &v2, 3), HERD_EINVAL);
    ERR_HAS("test_options: version 3 is not one this library");
    ERR_HAS("knows (1..2)");
    ERR_HAS("test_options_init(&opt, TEST_OPTIONS_VERSION)");
}

/* A version-1 caller: the reader takes its two fields and the defaults of
 * the others, never reading past its struct (garbage after it in one
 * buffer; an exact heap block for ASan / valgrind). */
static void test_older_caller_read(void **state)
{
    (void)state;
    unsigned char buf[sizeof(test_v2) + 16];
    memset(buf, 0xFF, sizeof buf); /* as limit: -1, as name: a wild pointer */
    test_v1 v1 = {.version = 1, .count = 9, .ratio = 0.25};
    memcpy(buf, &v1, sizeof v1);
    test_v2 out;
    assert_int_equal(hd_options_read(&test_desc, buf, &out, "fn"), HERD_OK);
    assert_int_equal(out.count, 9);
    assert_true(out.ratio == 0.25);
    assert_int_equal(out.limit, 42);
    assert_string_equal(out.name, "dflt");

    test_v1 *exact = malloc(sizeof *exact);
    *exact = v1;
    memset(&out, 0, sizeof out);
    assert_int_equal(hd_options_read(&test_desc, exact, &out, "fn"), HERD_OK);
    assert_int_equal(out.count, 9);
    assert_int_equal(out.limit, 42);
    free(exact);

    /* The same bytes as a version-2 struct: its fields are read (and
     * checked: limit -1 is in bounds, count 11 is not). */
    test_v2 v2 = {.version = 2, .count = 1, .ratio = 1, .limit = -1, .name = "mine"};
    assert_int_equal(hd_options_read(&test_desc, &v2, &out, "fn"), HERD_OK);
    assert_int_equal(out.limit, -1);
    assert_string_equal(out.name, "mine");
    v2.count = 11;
    herd_clear_error();
    assert_int_equal(hd_options_read(&test_desc, &v2, &out, "fn"), HERD_EINVAL);
    ERR_HAS("fn: test_options.count is 11; give an integer in 0..10 (a count)");
    v2.count = 1;
    v2.ratio = NAN;
    assert_int_equal(hd_options_read(&test_desc, &v2, &out, "fn"), HERD_EINVAL);
    ERR_HAS("test_options.ratio is nan; give a number in [0, 1]");
    /* NULL: every default. */
    assert_int_equal(hd_options_read(&test_desc, NULL, &out, "fn"), HERD_OK);
    assert_int_equal(out.version, 2);
    assert_int_equal(out.count, 3);
    assert_int_equal(out.limit, 42);
}

/* ------------------------------------------------------------------------
 * Every function that takes options, with garbage in one options slot
 * --------------------------------------------------------------------- */

typedef struct world {
    fixture fx;
    char dir[512];
    herd_registry *reg;
    herd_fit_result *set;
    herd_model *model;
    herd_artifact *art;
    void *art_bytes;
    size_t art_len;
    herd_batch *batch;
    char csv_path[600];
} world;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int world_setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    if (!w) return -1;
    const size_t sizes[] = {14, 12};
    fixture_make(&w->fx, 2, sizes, 0.1);
    const char *base = getenv("TMPDIR");
    snprintf(w->dir, sizeof w->dir, "%s/herd_options_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(w->dir)) return -1;
    char reg_path[600];
    snprintf(reg_path, sizeof reg_path, "%s/reg", w->dir);
    snprintf(w->csv_path, sizeof w->csv_path, "%s/a.csv", w->dir);
    FILE *f = fopen(w->csv_path, "w");
    if (!f) return -1;
    fputs("a,b\n1,2\n", f);
    fclose(f);
    if (herd_registry_open(reg_path, NULL, &w->reg)) return -1;
    /* The fit's options by name, as a binding builds them. */
    herd_options *fo = NULL;
    int rc = herd_options_new("fit", &fo);
    if (!rc) rc = herd_options_set_strings(fo, "features", features3, 3);
    if (!rc) rc = herd_options_set(fo, "label", "y");
    if (!rc) rc = herd_options_set(fo, "rounds", "2");
    if (!rc) rc = herd_options_set(fo, "valid_fraction", "0");
    if (!rc) rc = herd_options_set_entry(fo, "params", "max_depth", "2");
    if (!rc) rc = herd_fit(w->fx.groups, herd_options_struct(fo, "fit"), NULL, &w->set);
    herd_options_free(fo);
    if (rc) {
        fprintf(stderr, "world_setup: %s\n", herd_last_error());
        return -1;
    }
    if (herd_fit_result_model(w->set, "0", &w->model)) return -1;
    if (herd_artifact_from_model(w->model, NULL, &w->art)) return -1;
    if (herd_artifact_to_buffer(w->art, &w->art_bytes, &w->art_len)) return -1;
    if (herd_registry_begin(w->reg, &w->batch)) return -1;
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    world *w = *state;
    herd_batch_free(w->batch);
    herd_free(w->art_bytes);
    herd_artifact_free(w->art);
    herd_model_free(w->model);
    herd_fit_result_free(w->set);
    herd_registry_free(w->reg);
    fixture_free(&w->fx);
    nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(w);
    return 0;
}

/* One call with `opt` in the slot of struct `type`; valid values (or NULL,
 * the defaults) everywhere else.  Output handles must stay NULL. */
typedef int (*call_fn)(world *w, const void *opt);

static int call_add_column(world *w, const void *opt)
{
    herd_frame *f = NULL;
    double d[2] = {1, 2};
    int rc = herd_frame_new(&f);
    if (!rc) rc = herd_frame_add_column(f, "d", HERD_TYPE_FLOAT64, d, 2, opt);
    if (!rc || herd_frame_column_count(f) != 0) fail_msg("a column was added");
    herd_frame_free(f);
    (void)w;
    return rc;
}

static int call_read_csv(world *w, const void *opt)
{
    herd_frame *f = (herd_frame *)w;
    int rc = herd_frame_read_csv(w->csv_path, opt, &f);
    assert_null(f);
    return rc;
}

static int call_read_csv_buffer(world *w, const void *opt)
{
    herd_frame *f = (herd_frame *)w;
    int rc = herd_frame_read_csv_buffer("a\n1\n", 4, "buf", opt, &f);
    assert_null(f);
    return rc;
}

static int call_write_csv(world *w, const void *opt)
{
    char path[700];
    snprintf(path, sizeof path, "%s/out.csv", w->dir);
    int rc = herd_frame_write_csv(w->fx.frame, path, opt);
    if (access(path, F_OK) == 0) fail_msg("a file was written");
    return rc;
}

static int never_cb(const herd_group_task *task, void *user)
{
    (void)task;
    (void)user;
    fail_msg("a group callback ran");
    return HERD_OK;
}

static int call_apply(world *w, const void *opt)
{
    herd_frame *rep = (herd_frame *)w;
    int rc = herd_apply(w->fx.groups, never_cb, NULL, opt, &rep);
    assert_null(rep);
    return rc;
}

static int call_fit_fit(world *w, const void *opt)
{
    herd_fit_result *set = (herd_fit_result *)w;
    int rc = herd_fit(w->fx.groups, opt, NULL, &set);
    assert_null(set);
    return rc;
}

static int call_fit_apply(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    herd_fit_result *set = (herd_fit_result *)w;
    int rc = herd_fit(w->fx.groups, &fo, opt, &set);
    assert_null(set);
    return rc;
}

static int call_predict(world *w, const void *opt)
{
    herd_frame *out = (herd_frame *)w;
    int rc = herd_predict(w->fx.groups, w->set, opt, &out, NULL);
    assert_null(out);
    return rc;
}

static int call_set_artifact(world *w, const void *opt)
{
    herd_artifact *a = (herd_artifact *)w;
    int rc = herd_fit_result_artifact(w->set, "0", opt, &a);
    assert_null(a);
    return rc;
}

static int call_artifact_from_model(world *w, const void *opt)
{
    herd_artifact *a = (herd_artifact *)w;
    int rc = herd_artifact_from_model(w->model, opt, &a);
    assert_null(a);
    return rc;
}

static int call_predictor_new(world *w, const void *opt)
{
    herd_predictor *p = (herd_predictor *)w;
    int rc = herd_predictor_new(w->model, opt, &p);
    assert_null(p);
    return rc;
}

static int call_registry_open(world *w, const void *opt)
{
    char path[700];
    snprintf(path, sizeof path, "%s/never", w->dir);
    herd_registry *r = (herd_registry *)w;
    int rc = herd_registry_open(path, opt, &r);
    assert_null(r);
    if (access(path, F_OK) == 0) fail_msg("a registry was created");
    return rc;
}

static int call_batch_add(world *w, const void *opt)
{
    int rc = herd_batch_add(w->batch, w->art, opt, NULL);
    assert_int_equal(herd_batch_count(w->batch), 0);
    return rc;
}

static int call_batch_add_bytes(world *w, const void *opt)
{
    int rc = herd_batch_add_bytes(w->batch, w->art_bytes, w->art_len, opt, NULL);
    assert_int_equal(herd_batch_count(w->batch), 0);
    return rc;
}

static int call_set_alias(world *w, const void *opt)
{
    return herd_batch_set_alias(w->batch, "fam", "0", "champion", 1, opt);
}

static int call_search(world *w, const void *opt)
{
    herd_frame *out = (herd_frame *)w;
    int rc = herd_registry_search(w->reg, opt, &out);
    assert_null(out);
    return rc;
}

static int call_registry_check_with(world *w, const void *opt)
{
    herd_frame *out = (herd_frame *)w;
    int rc = herd_registry_check_with(w->reg, opt, &out);
    assert_null(out);
    return rc;
}

static void valid_compare(herd_compare_options *co)
{
    herd_compare_options_init(co, HERD_COMPARE_OPTIONS_VERSION);
    co->family = "fam";
    co->label = "y";
}

static int call_compare_compare(world *w, const void *opt)
{
    herd_frame *d = (herd_frame *)w;
    int rc = herd_compare(w->reg, w->fx.groups, opt, NULL, &d, NULL);
    assert_null(d);
    return rc;
}

static int call_compare_apply(world *w, const void *opt)
{
    herd_compare_options co;
    valid_compare(&co);
    herd_frame *d = (herd_frame *)w;
    int rc = herd_compare(w->reg, w->fx.groups, &co, opt, &d, NULL);
    assert_null(d);
    return rc;
}

static void valid_cycle(herd_cycle_options *cy)
{
    herd_cycle_options_init(cy, HERD_CYCLE_OPTIONS_VERSION);
    cy->family = "fam";
    cy->run_id = "r1";
    cy->holdout_order_by = "t";
}

static int cycle_call(world *w, const herd_fit_options *fo, const herd_cycle_options *cy,
                      const herd_apply_options *ap)
{
    herd_frame *d = (herd_frame *)w;
    int rc = herd_cycle(w->reg, w->fx.groups, fo, cy, ap, &d, NULL);
    assert_null(d);
    herd_frame *runs = NULL;
    assert_int_equal(herd_registry_runs(w->reg, &runs), HERD_OK);
    assert_int_equal(herd_frame_row_count(runs), 0); /* nothing registered */
    herd_frame_free(runs);
    return rc;
}

static int call_cycle_fit(world *w, const void *opt)
{
    herd_cycle_options cy;
    valid_cycle(&cy);
    return cycle_call(w, opt, &cy, NULL);
}

static int call_cycle_cycle(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    return cycle_call(w, &fo, opt, NULL);
}

static int call_cycle_apply(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    herd_cycle_options cy;
    valid_cycle(&cy);
    return cycle_call(w, &fo, &cy, opt);
}

/* The nested comparison options of a cycle. */
static int call_cycle_compare(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    herd_cycle_options cy;
    valid_cycle(&cy);
    cy.compare = opt;
    return cycle_call(w, &fo, &cy, NULL);
}

static int call_registry_predict(world *w, const void *opt)
{
    herd_frame *out = (herd_frame *)w;
    int rc = herd_registry_predict(w->reg, w->fx.groups, opt, NULL, &out, NULL);
    assert_null(out);
    return rc;
}

static int call_registry_predict_apply(world *w, const void *opt)
{
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "fam";
    herd_frame *out = (herd_frame *)w;
    int rc = herd_registry_predict(w->reg, w->fx.groups, &po, opt, &out, NULL);
    assert_null(out);
    return rc;
}

/* Options are read before the registries are looked at. */
static int call_registry_copy(world *w, const void *opt)
{
    herd_frame *out = (herd_frame *)w;
    int rc = herd_registry_copy(w->reg, w->reg, opt, &out);
    assert_null(out);
    return rc;
}

/* The cycle's two stages read the same options as herd_cycle. */
static int train_call(world *w, const herd_fit_options *fo, const herd_cycle_options *cy,
                      const herd_apply_options *ap)
{
    herd_cycle_part *p = (herd_cycle_part *)w;
    int rc = herd_cycle_train(w->fx.groups, fo, cy, NULL, ap, &p);
    assert_null(p);
    return rc;
}

static int call_cycle_train_fit(world *w, const void *opt)
{
    herd_cycle_options cy;
    valid_cycle(&cy);
    return train_call(w, opt, &cy, NULL);
}

static int call_cycle_train_cycle(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    return train_call(w, &fo, opt, NULL);
}

static int call_cycle_train_apply(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    herd_cycle_options cy;
    valid_cycle(&cy);
    return train_call(w, &fo, &cy, opt);
}

static int call_cycle_begin_fit(world *w, const void *opt)
{
    herd_cycle_options cy;
    valid_cycle(&cy);
    herd_cycle_run *r = (herd_cycle_run *)w;
    int rc = herd_cycle_begin(w->reg, opt, &cy, &r);
    assert_null(r);
    return rc;
}

static int call_cycle_begin_cycle(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    herd_cycle_run *r = (herd_cycle_run *)w;
    int rc = herd_cycle_begin(w->reg, &fo, opt, &r);
    assert_null(r);
    return rc;
}

static int registry_fit_call(world *w, const herd_fit_options *fo,
                             const herd_register_options *ro, const herd_apply_options *ap)
{
    herd_frame *out = (herd_frame *)w;
    int rc = herd_registry_fit(w->reg, w->fx.groups, fo, ro, ap, &out);
    assert_null(out);
    return rc;
}

static void valid_register(herd_register_options *ro)
{
    herd_register_options_init(ro, HERD_REGISTER_OPTIONS_VERSION);
    ro->family = "fam";
}

static int call_registry_fit_register(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    return registry_fit_call(w, &fo, opt, NULL);
}

static int call_registry_fit_fit(world *w, const void *opt)
{
    herd_register_options ro;
    valid_register(&ro);
    return registry_fit_call(w, opt, &ro, NULL);
}

static int call_registry_fit_apply(world *w, const void *opt)
{
    herd_fit_options fo;
    fixture_options(&fo, 2);
    herd_register_options ro;
    valid_register(&ro);
    return registry_fit_call(w, &fo, &ro, opt);
}

typedef struct slot {
    const char *function; /* what is called, for messages */
    const char *type;     /* the options struct in the slot */
    call_fn call;
} slot;

static const slot slots[] = {
    {"herd_frame_add_column", "herd_column_options", call_add_column},
    {"herd_frame_read_csv", "herd_csv_options", call_read_csv},
    {"herd_frame_read_csv_buffer", "herd_csv_options", call_read_csv_buffer},
    {"herd_frame_write_csv", "herd_csv_options", call_write_csv},
    {"herd_apply", "herd_apply_options", call_apply},
    {"herd_fit (fit)", "herd_fit_options", call_fit_fit},
    {"herd_fit (apply)", "herd_apply_options", call_fit_apply},
    {"herd_predict", "herd_apply_options", call_predict},
    {"herd_predictor_new", "herd_predictor_options", call_predictor_new},
    {"herd_fit_result_artifact", "herd_artifact_options", call_set_artifact},
    {"herd_artifact_from_model", "herd_artifact_options", call_artifact_from_model},
    {"herd_registry_open", "herd_registry_options", call_registry_open},
    {"herd_batch_add", "herd_version_options", call_batch_add},
    {"herd_batch_add_bytes", "herd_version_options", call_batch_add_bytes},
    {"herd_batch_set_alias", "herd_alias_options", call_set_alias},
    {"herd_registry_search", "herd_search_options", call_search},
    {"herd_registry_check_with", "herd_check_options", call_registry_check_with},
    {"herd_compare (compare)", "herd_compare_options", call_compare_compare},
    {"herd_compare (apply)", "herd_apply_options", call_compare_apply},
    {"herd_cycle (fit)", "herd_fit_options", call_cycle_fit},
    {"herd_cycle (cycle)", "herd_cycle_options", call_cycle_cycle},
    {"herd_cycle (apply)", "herd_apply_options", call_cycle_apply},
    {"herd_cycle (cycle.compare)", "herd_compare_options", call_cycle_compare},
    {"herd_registry_predict", "herd_registry_predict_options", call_registry_predict},
    {"herd_registry_predict (apply)", "herd_apply_options", call_registry_predict_apply},
    {"herd_registry_copy", "herd_copy_options", call_registry_copy},
    {"herd_cycle_train (fit)", "herd_fit_options", call_cycle_train_fit},
    {"herd_cycle_train (cycle)", "herd_cycle_options", call_cycle_train_cycle},
    {"herd_cycle_train (apply)", "herd_apply_options", call_cycle_train_apply},
    {"herd_cycle_begin (fit)", "herd_fit_options", call_cycle_begin_fit},
    {"herd_cycle_begin (cycle)", "herd_cycle_options", call_cycle_begin_cycle},
    {"herd_registry_fit (register)", "herd_register_options", call_registry_fit_register},
    {"herd_registry_fit (fit)", "herd_fit_options", call_registry_fit_fit},
    {"herd_registry_fit (apply)", "herd_apply_options", call_registry_fit_apply},
};
#define NSLOTS (sizeof slots / sizeof slots[0])

/* Every options struct is in at least one slot. */
static void test_slots_cover_every_struct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        size_t n = 0;
        for (size_t s = 0; s < NSLOTS; s++) n += !strcmp(slots[s].type, cases[i].name);
        if (!n) fail_msg("no function takes %s in this test", cases[i].name);
    }
}

static void expect_refused(world *w, const slot *s, const void *opt, const char *what)
{
    const struct_case *c = case_named(s->type);
    herd_clear_error();
    int rc = s->call(w, opt);
    if (rc != HERD_EINVAL)
        fail_msg("%s with %s %s returned %s: \"%s\"", s->function, what, s->type,
                 herd_status_str(rc), herd_last_error());
    expect_version_refused(c);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Zeroed, 0xA5, 0xFF and random bytes: a clear error, never a crash. */
static void test_garbage_options_refused(void **state)
{
    world *w = *state;
    const int fills[] = {0x00, 0xA5, 0xFF};
    for (size_t s = 0; s < NSLOTS; s++) {
        const struct_case *c = case_named(slots[s].type);
        unsigned char *buf = malloc(c->newer_size);
        for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
            memset(buf, fills[f], c->newer_size);
            char what[32];
            snprintf(what, sizeof what, "a 0x%02X-filled", fills[f]);
            expect_refused(w, &slots[s], buf, what);
        }
        uint64_t seed = 0x9E3779B97F4A7C15ULL + s;
        for (int round = 0; round < 16; round++) {
            for (size_t k = 0; k < c->newer_size; k++) buf[k] = (unsigned char)rng_next(&seed);
            expect_refused(w, &slots[s], buf, "a random");
        }
        free(buf);
    }
}

/* A struct from a newer header (initialised, then version + 1, with the
 * added fields set) is refused by every function, naming the struct. */
static void test_newer_header_refused(void **state)
{
    world *w = *state;
    for (size_t s = 0; s < NSLOTS; s++) {
        const struct_case *c = case_named(slots[s].type);
        unsigned char *buf = malloc(c->newer_size);
        memset(buf, 0x11, c->newer_size);
        assert_int_equal(c->init(buf, c->version), HERD_OK);
        uint32_t newer = c->version + 1;
        memcpy(buf, &newer, sizeof newer);
        expect_refused(w, &slots[s], buf, "a newer header's");
        ERR_HAS("newer herd.h");
        free(buf);
    }
}

/* The current version reads back as exactly what init wrote: every field
 * through the reader, none refused (the functions' own suites use them). */
static void test_current_version_read(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct_case *c = &cases[i];
        unsigned char *in = malloc(c->size), *out = malloc(c->size);
        assert_int_equal(c->init(in, c->version), HERD_OK);
        memset(out, 0x5A, c->size);
        if (hd_options_read(c->desc, in, out, "test"))
            fail_msg("%s: %s", c->name, herd_last_error());
        for (size_t k = 0; k < c->desc->nopts; k++) {
            const hd_opt *o = &c->desc->opts[k];
            if (memcmp(in + o->off, out + o->off, hd_opt_type_size(o->type)))
                fail_msg("%s.%s did not read back", c->name, o->name);
        }
        free(in);
        free(out);
    }
}

/* ------------------------------------------------------------------------
 * Options by name
 * --------------------------------------------------------------------- */

static int dummy_progress(const herd_progress *p, void *user)
{
    (void)p;
    (void)user;
    return 0;
}

static int is_integer_type(hd_opt_type t)
{
    return t == HD_OT_INT || t == HD_OT_INT64 || t == HD_OT_UINT64 || t == HD_OT_SIZE;
}

/* A valid value of a numeric option that is not its default, as text. */
static void other_number(const hd_opt *o, char *buf, size_t size)
{
    if (is_integer_type(o->type)) {
        double v = o->def + 1 <= o->max ? o->def + 1 : o->def - 1;
        snprintf(buf, size, "%.0f", v);
        return;
    }
    double v;
    if (isinf(o->min) || isinf(o->max))
        v = o->def == 1.5 ? 2.5 : 1.5;
    else
        v = o->min + (o->max - o->min) * (o->def == o->min + (o->max - o->min) / 4 ? 0.5 : 0.25);
    snprintf(buf, size, "%.17g", v);
}

static void expect_field(const herd_options *h, const hd_opt *o, const void *want, size_t size,
                         const char *op)
{
    const unsigned char *s = herd_options_struct(h, op);
    assert_non_null(s);
    if (memcmp(s + o->off, want, size)) fail_msg("%s.%s did not reach the struct", op, o->name);
}

/* One option set by name and read back from the struct. */
static void round_trip_one(const hd_opt_struct *d, const hd_opt *o)
{
    herd_options *h = NULL;
    assert_int_equal(herd_options_new(d->operation, &h), HERD_OK);
    const unsigned char *s = herd_options_struct(h, d->operation);
    char text[64];
    int rc = HERD_OK;
    switch (o->type) {
    case HD_OT_BOOL: {
        int want = o->def == 0;
        rc = herd_options_set(h, o->name, want ? "true" : "false");
        assert_int_equal(rc, HERD_OK);
        expect_field(h, o, &want, sizeof want, d->operation);
        break;
    }
    case HD_OT_INT:
    case HD_OT_INT64:
    case HD_OT_UINT64:
    case HD_OT_SIZE:
    case HD_OT_DOUBLE: {
        other_number(o, text, sizeof text);
        rc = herd_options_set(h, o->name, text);
        if (rc) fail_msg("%s.%s = %s: %s", d->operation, o->name, text, herd_last_error());
        double want = strtod(text, NULL), got;
        if (o->type == HD_OT_INT) {
            int v;
            memcpy(&v, s + o->off, sizeof v);
            got = v;
        } else if (o->type == HD_OT_INT64) {
            int64_t v;
            memcpy(&v, s + o->off, sizeof v);
            got = (double)v;
        } else if (o->type == HD_OT_UINT64) {
            uint64_t v;
            memcpy(&v, s + o->off, sizeof v);
            got = (double)v;
        } else if (o->type == HD_OT_SIZE) {
            size_t v;
            memcpy(&v, s + o->off, sizeof v);
            got = (double)v;
        } else {
            memcpy(&got, s + o->off, sizeof got);
        }
        if (got != want) fail_msg("%s.%s: set %s, struct has %g", d->operation, o->name, text, got);
        break;
    }
    case HD_OT_CHAR: {
        char want = ';';
        assert_int_equal(herd_options_set(h, o->name, ";"), HERD_OK);
        expect_field(h, o, &want, 1, d->operation);
        want = '\t';
        assert_int_equal(herd_options_set(h, o->name, "tab"), HERD_OK);
        expect_field(h, o, &want, 1, d->operation);
        break;
    }
    case HD_OT_ENUM: {
        const hd_opt_name *n = o->names;
        while (n->name && n->value == (int64_t)o->def) n++;
        assert_non_null(n->name);
        assert_int_equal(herd_options_set(h, o->name, n->name), HERD_OK);
        int want = (int)n->value;
        expect_field(h, o, &want, sizeof want, d->operation);
        break;
    }
    case HD_OT_FLAGS: {
        char all[128] = "";
        uint32_t want = 0;
        for (const hd_opt_name *n = o->names; n->name; n++) {
            if (*all) strcat(all, "|");
            strcat(all, n->name);
            want |= (uint32_t)n->value;
        }
        assert_int_equal(herd_options_set(h, o->name, all), HERD_OK);
        expect_field(h, o, &want, sizeof want, d->operation);
        break;
    }
    case HD_OT_STRING: {
        snprintf(text, sizeof text, "value-of-%s", o->name);
        assert_int_equal(herd_options_set(h, o->name, text), HERD_OK);
        const char *got;
        memcpy(&got, s + o->off, sizeof got);
        assert_string_equal(got, text);
        assert_ptr_not_equal(got, text); /* copied */
        break;
    }
    case HD_OT_STRING_LIST: {
        const char *v[] = {"first", "second"};
        assert_int_equal(herd_options_set_strings(h, o->name, v, 2), HERD_OK);
        const char *const *got;
        size_t n;
        memcpy(&got, s + o->off, sizeof got);
        memcpy(&n, s + o->off_count, sizeof n);
        assert_int_equal(n, 2);
        assert_string_equal(got[0], "first");
        assert_string_equal(got[1], "second");
        break;
    }
    case HD_OT_STRING_MAP:
    case HD_OT_NUMBER_MAP:
    case HD_OT_TYPE_MAP: {
        const char *v1 = o->type == HD_OT_STRING_MAP ? "x"
                         : o->type == HD_OT_NUMBER_MAP ? "0.5"
                                                       : "int64";
        const char *v2 = o->type == HD_OT_STRING_MAP ? "y"
                         : o->type == HD_OT_NUMBER_MAP ? "-2"
                                                       : "string";
        assert_int_equal(herd_options_set_entry(h, o->name, "k1", v1), HERD_OK);
        assert_int_equal(herd_options_set_entry(h, o->name, "k2", v1), HERD_OK);
        assert_int_equal(herd_options_set_entry(h, o->name, "k1", v2), HERD_OK); /* replaces */
        const char *const *keys;
        const void *values;
        size_t n;
        memcpy(&keys, s + o->off, sizeof keys);
        memcpy(&values, s + o->off_values, sizeof values);
        memcpy(&n, s + o->off_count, sizeof n);
        assert_int_equal(n, 2);
        assert_string_equal(keys[0], "k1");
        assert_string_equal(keys[1], "k2");
        if (o->type == HD_OT_STRING_MAP) {
            assert_string_equal(((const char *const *)values)[0], "y");
            assert_string_equal(((const char *const *)values)[1], "x");
        } else if (o->type == HD_OT_NUMBER_MAP) {
            assert_true(((const double *)values)[0] == -2);
            assert_true(((const double *)values)[1] == 0.5);
        } else {
            assert_int_equal(((const int *)values)[0], HERD_TYPE_STRING);
            assert_int_equal(((const int *)values)[1], HERD_TYPE_INT64);
        }
        assert_int_equal(herd_options_set_entry(h, o->name, "k1", NULL), HERD_OK); /* removes */
        memcpy(&keys, s + o->off, sizeof keys);
        memcpy(&n, s + o->off_count, sizeof n);
        assert_int_equal(n, 1);
        assert_string_equal(keys[0], "k2");
        break;
    }
    case HD_OT_POINTER: {
        int flag = 0;
        const void *want = &flag;
        assert_int_equal(herd_options_set_pointer(h, o->name, &flag), HERD_OK);
        expect_field(h, o, &want, sizeof want, d->operation);
        break;
    }
    case HD_OT_PROGRESS: {
        int user = 0;
        herd_progress_fn fn;
        void *u;
        assert_int_equal(herd_options_set_progress(h, o->name, dummy_progress, &user), HERD_OK);
        memcpy(&fn, s + o->off, sizeof fn);
        memcpy(&u, s + o->off_values, sizeof u);
        assert_true(fn == dummy_progress);
        assert_ptr_equal(u, &user);
        break;
    }
    case HD_OT_OPTIONS: {
        /* Every nested option by its dotted name, into the nested struct. */
        const hd_opt_struct *nd = o->nested;
        char name[128];
        snprintf(name, sizeof name, "%s.metric", o->name);
        assert_int_equal(herd_options_set(h, name, "mae"), HERD_OK);
        const unsigned char *child;
        memcpy(&child, s + o->off, sizeof child);
        assert_non_null(child);
        const char *metric;
        memcpy(&metric, child + hd_option_find(nd, "metric")->off, sizeof metric);
        assert_string_equal(metric, "mae");
        assert_int_equal(herd_options_set(h, o->name, NULL), HERD_OK); /* back to NULL */
        memcpy(&child, s + o->off, sizeof child);
        assert_null(child);
        break;
    }
    }
    /* The struct is one the library reads, and a reset restores the default. */
    unsigned char *out = malloc(d->size), *def = malloc(d->size);
    if (o->type != HD_OT_PROGRESS && o->type != HD_OT_POINTER && o->type != HD_OT_OPTIONS)
        if (hd_options_read(d, s, out, "test"))
            fail_msg("%s.%s: %s", d->operation, o->name, herd_last_error());
    hd_options_defaults(d, def);
    if (o->type == HD_OT_PROGRESS)
        assert_int_equal(herd_options_set_progress(h, o->name, NULL, NULL), HERD_OK);
    else
        assert_int_equal(herd_options_set(h, o->name, NULL), HERD_OK);
    if (memcmp(s + o->off, def + o->off, hd_opt_type_size(o->type)))
        fail_msg("%s.%s: a NULL value did not restore the default", d->operation, o->name);
    free(out);
    free(def);
    herd_options_free(h);
}

static void test_by_name_every_option_round_trips(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; hd_options_all[i]; i++)
        for (size_t k = 0; k < hd_options_all[i]->nopts; k++, n++)
            round_trip_one(hd_options_all[i], &hd_options_all[i]->opts[k]);
    assert_true(n > 80);
}

/* herd_options_get gives text that herd_options_set reads back to the same
 * struct, for every option that has text. */
static void test_by_name_get_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; hd_options_all[i]; i++) {
        const hd_opt_struct *d = hd_options_all[i];
        herd_options *h = NULL, *h2 = NULL;
        assert_int_equal(herd_options_new(d->operation, &h), HERD_OK);
        assert_int_equal(herd_options_new(d->operation, &h2), HERD_OK);
        for (size_t k = 0; k < d->nopts; k++) {
            const hd_opt *o = &d->opts[k];
            char text[64], *got = NULL;
            if (hd_opt_type_size(o->type) && o->type <= HD_OT_STRING && o->type != HD_OT_STRING) {
                if (o->type == HD_OT_BOOL || o->type == HD_OT_ENUM || o->type == HD_OT_FLAGS ||
                    o->type == HD_OT_CHAR)
                    continue; /* their text forms are covered above */
                other_number(o, text, sizeof text);
                assert_int_equal(herd_options_set(h, o->name, text), HERD_OK);
            }
            int rc = herd_options_get(h, o->name, &got);
            if (o->type >= HD_OT_POINTER) {
                assert_int_equal(rc, HERD_ETYPE);
                ERR_HAS(o->name);
                continue;
            }
            assert_int_equal(rc, HERD_OK);
            if (o->type < HD_OT_STRING_LIST && got) {
                assert_int_equal(herd_options_set(h2, o->name, got), HERD_OK);
                const unsigned char *a = herd_options_struct(h, d->operation);
                const unsigned char *b = herd_options_struct(h2, d->operation);
                if (o->type == HD_OT_STRING) {
                    const char *x, *y;
                    memcpy(&x, a + o->off, sizeof x);
                    memcpy(&y, b + o->off, sizeof y);
                    assert_string_equal(x, y);
                } else if (memcmp(a + o->off, b + o->off, hd_opt_type_size(o->type))) {
                    fail_msg("%s.%s: '%s' did not read back", d->operation, o->name, got);
                }
            }
            herd_free(got);
        }
        herd_options_free(h);
        herd_options_free(h2);
    }
    /* Lists and maps as JSON; a NULL string as NULL. */
    herd_options *h = NULL;
    assert_int_equal(herd_options_new("fit", &h), HERD_OK);
    const char *f[] = {"a", "b\"c"};
    assert_int_equal(herd_options_set_strings(h, "features", f, 2), HERD_OK);
    assert_int_equal(herd_options_set_entry(h, "params", "eta", "0.1"), HERD_OK);
    char *t = NULL;
    assert_int_equal(herd_options_get(h, "features", &t), HERD_OK);
    assert_string_equal(t, "[\"a\",\"b\\\"c\"]");
    herd_free(t);
    assert_int_equal(herd_options_get(h, "params", &t), HERD_OK);
    assert_string_equal(t, "{\"eta\":\"0.1\"}");
    herd_free(t);
    t = (char *)1;
    assert_int_equal(herd_options_get(h, "weight", &t), HERD_OK);
    assert_null(t);
    assert_int_equal(herd_options_get(h, "valid_fraction", &t), HERD_OK);
    assert_string_equal(t, "0.2");
    herd_free(t);
    assert_int_equal(herd_options_get(h, "split", &t), HERD_OK);
    assert_string_equal(t, "random");
    herd_free(t);
    herd_options_free(h);
    /* A cycle's nested options read as the defaults until set. */
    assert_int_equal(herd_options_new("cycle", &h), HERD_OK);
    assert_int_equal(herd_options_get(h, "compare.metric", &t), HERD_OK);
    assert_string_equal(t, "rmse");
    herd_free(t);
    assert_int_equal(herd_options_set(h, "compare.bootstrap", "200"), HERD_OK);
    assert_int_equal(herd_options_get(h, "compare.bootstrap", &t), HERD_OK);
    assert_string_equal(t, "200");
    herd_free(t);
    herd_options_free(h);
}

/* Out of bounds or unparsable: HERD_EINVAL naming the option, the value
 * and the bounds; the struct keeps its value. */
static void expect_bad_value(herd_options *h, const hd_opt_struct *d, const hd_opt *o,
                             const char *value)
{
    const unsigned char *s = herd_options_struct(h, d->operation);
    unsigned char before[16];
    memcpy(before, s + o->off, hd_opt_type_size(o->type));
    herd_clear_error();
    int rc = herd_options_set(h, o->name, value);
    if (rc != HERD_EINVAL)
        fail_msg("%s.%s = '%s' gave %s", d->operation, o->name, value, herd_status_str(rc));
    char quoted[160];
    snprintf(quoted, sizeof quoted, "option '%s' of %s: '%s'", o->name, d->operation, value);
    ERR_HAS(quoted);
    ERR_HAS("; give ");
    ERR_HAS(o->doc);
    assert_memory_equal(s + o->off, before, hd_opt_type_size(o->type));
}

static void test_by_name_bounds_enforced(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; hd_options_all[i]; i++) {
        const hd_opt_struct *d = hd_options_all[i];
        herd_options *h = NULL;
        assert_int_equal(herd_options_new(d->operation, &h), HERD_OK);
        for (size_t k = 0; k < d->nopts; k++) {
            const hd_opt *o = &d->opts[k];
            char text[64];
            if (is_integer_type(o->type)) {
                expect_bad_value(h, d, o, "1.5");
                expect_bad_value(h, d, o, "many");
                expect_bad_value(h, d, o, " 1");
                if (o->max < 0x1p62) {
                    snprintf(text, sizeof text, "%.0f", o->max + 1);
                    expect_bad_value(h, d, o, text);
                    ERR_HAS("is out of bounds");
                    char bound[64];
                    snprintf(bound, sizeof bound, "..%.0f", o->max);
                    ERR_HAS(bound);
                }
                if (o->min > -1e18) {
                    snprintf(text, sizeof text, "%.0f", o->min - 1);
                    expect_bad_value(h, d, o, text);
                }
                checked++;
            } else if (o->type == HD_OT_DOUBLE) {
                expect_bad_value(h, d, o, "nan");
                expect_bad_value(h, d, o, "0,5"); /* never the locale's comma */
                expect_bad_value(h, d, o, "x");
                if (!isinf(o->max)) {
                    snprintf(text, sizeof text, "%.17g",
                             (o->flags & HD_OF_MAX_OPEN) ? o->max : o->max + 1);
                    expect_bad_value(h, d, o, text);
                    ERR_HAS("is out of bounds");
                }
                if (!isinf(o->min)) {
                    snprintf(text, sizeof text, "%.17g",
                             (o->flags & HD_OF_MIN_OPEN) ? o->min : o->min - 1);
                    expect_bad_value(h, d, o, text);
                }
                checked++;
            } else if (o->type == HD_OT_BOOL) {
                expect_bad_value(h, d, o, "2");
                expect_bad_value(h, d, o, "maybe");
                checked++;
            } else if (o->type == HD_OT_ENUM) {
                expect_bad_value(h, d, o, "sideways");
                expect_bad_value(h, d, o, "99");
                checked++;
            } else if (o->type == HD_OT_FLAGS) {
                expect_bad_value(h, d, o, "borrow|bogus");
                expect_bad_value(h, d, o, "256");
                checked++;
            } else if (o->type == HD_OT_CHAR) {
                expect_bad_value(h, d, o, ";;");
                expect_bad_value(h, d, o, "\xC3\xA9");
                checked++;
            }
        }
        herd_options_free(h);
    }
    assert_true(checked > 40);

    /* The words of a few messages. */
    herd_options *h = NULL;
    assert_int_equal(herd_options_new("fit", &h), HERD_OK);
    assert_int_equal(herd_options_set(h, "rounds", "0"), HERD_EINVAL);
    ERR_HAS("herd_options_set: option 'rounds' of fit: '0' is out of bounds; give an integer in "
            "1..1000000 (boosting rounds)");
    assert_int_equal(herd_options_set(h, "valid_fraction", "1"), HERD_EINVAL);
    ERR_HAS("give a number in [0, 1)");
    assert_int_equal(herd_options_set(h, "features", "a,b"), HERD_EINVAL);
    ERR_HAS("option 'features' of fit is a string_list; set it with herd_options_set_strings()");
    assert_int_equal(herd_options_set_entry(h, "label", "k", "v"), HERD_EINVAL);
    ERR_HAS("option 'label' of fit is a string");
    herd_options_free(h);
    assert_int_equal(herd_options_new("csv", &h), HERD_OK);
    assert_int_equal(herd_options_set_entry(h, "types", "a", "int65"), HERD_EINVAL);
    ERR_HAS("entry 'a': 'int65' is not a type");
    herd_options_free(h);
    assert_int_equal(herd_options_new("version", &h), HERD_OK);
    assert_int_equal(herd_options_set_entry(h, "metrics", "rmse", "1,5"), HERD_EINVAL);
    ERR_HAS("entry 'rmse': '1,5' is not a number");
    herd_options_free(h);
}

static void test_by_name_bounds_api(void **state)
{
    (void)state;
    double lo, hi;
    assert_int_equal(herd_option_bounds("fit", "rounds", &lo, &hi), HERD_OK);
    assert_true(lo == 1 && hi == 1000000);
    assert_int_equal(herd_option_bounds("fit", "valid_fraction", &lo, &hi), HERD_OK);
    assert_true(lo == 0 && hi < 1 && hi == nextafter(1, 0));
    assert_int_equal(herd_option_bounds("apply", "progress_interval_s", &lo, &hi), HERD_OK);
    assert_true(lo > 0 && lo == nextafter(0, 1) && hi == 3600);
    assert_int_equal(herd_option_bounds("fit", "split", &lo, &hi), HERD_OK);
    assert_true(lo == HERD_SPLIT_RANDOM && hi == HERD_SPLIT_LAST);
    assert_int_equal(herd_option_bounds("cycle", "compare.confidence", &lo, &hi), HERD_OK);
    assert_true(lo > 0.5 && hi < 1);
    assert_int_equal(herd_option_bounds("fit", "label", &lo, &hi), HERD_ETYPE);
    ERR_HAS("option 'label' of fit is a string");
    assert_true(isnan(lo) && isnan(hi));
    assert_int_equal(herd_option_bounds("fit", "round", &lo, &hi), HERD_EINVAL);
    ERR_HAS("did you mean 'rounds'");
    assert_int_equal(herd_option_bounds("fti", "rounds", &lo, &hi), HERD_EINVAL);
    ERR_HAS("no operation 'fti'; did you mean 'fit'?");
    assert_int_equal(herd_option_bounds(NULL, "rounds", &lo, &hi), HERD_EINVAL);
    assert_int_equal(herd_option_bounds("fit", "rounds", NULL, &hi), HERD_EINVAL);
}

static void test_by_name_did_you_mean(void **state)
{
    (void)state;
    herd_options *h = (herd_options *)1;
    assert_int_equal(herd_options_new("comapre", &h), HERD_EINVAL);
    assert_null(h);
    ERR_HAS("herd_options_new: no operation 'comapre'; did you mean 'compare'?");
    ERR_HAS("registry_predict");
    assert_int_equal(herd_options_new(NULL, &h), HERD_EINVAL);
    assert_int_equal(herd_options_new("fit", NULL), HERD_EINVAL);

    assert_int_equal(herd_options_new("fit", &h), HERD_OK);
    assert_string_equal(herd_options_operation(h), "fit");
    static const char *const typos[][2] = {
        {"round", "rounds"},         {"Rounds", "rounds"},
        {"lable", "label"},          {"valid_fracton", "valid_fraction"},
        {"early_stoping_rounds", "early_stopping_rounds"},
        {"feature", "features"},     {"param", "params"},
    };
    for (size_t i = 0; i < sizeof typos / sizeof typos[0]; i++) {
        assert_int_equal(herd_options_set(h, typos[i][0], "1"), HERD_EINVAL);
        char want[160];
        snprintf(want, sizeof want, "fit has no option '%s'; did you mean '%s'?", typos[i][0],
                 typos[i][1]);
        ERR_HAS(want);
        ERR_HAS("its options: features, label");
    }
    assert_int_equal(herd_options_set_strings(h, "featurs", NULL, 0), HERD_EINVAL);
    ERR_HAS("did you mean 'features'");
    assert_int_equal(herd_options_set_entry(h, "parms", "eta", "1"), HERD_EINVAL);
    ERR_HAS("did you mean 'params'");
    char *t = NULL;
    assert_int_equal(herd_options_get(h, "seeds", &t), HERD_EINVAL);
    ERR_HAS("did you mean 'seed'");
    herd_options_free(h);

    assert_int_equal(herd_options_new("cycle", &h), HERD_OK);
    assert_int_equal(herd_options_set(h, "compare.metrc", "mae"), HERD_EINVAL);
    ERR_HAS("compare has no option 'metrc'; did you mean 'metric'?");
    assert_int_equal(herd_options_set(h, "compar.metric", "mae"), HERD_EINVAL);
    ERR_HAS("cycle has no option 'compar'; did you mean 'compare'?");
    assert_int_equal(herd_options_set(h, "family.x", "a"), HERD_EINVAL);
    ERR_HAS("option 'family' of cycle is a string, not nested options");
    assert_int_equal(herd_options_set(h, "compare", "x"), HERD_EINVAL);
    ERR_HAS("set it with the nested names");
    /* The struct of the wrong operation is refused. */
    herd_clear_error();
    assert_null(herd_options_struct(h, "fit"));
    ERR_HAS("the handle holds cycle options (herd_cycle_options), not fit options");
    assert_non_null(herd_options_struct(h, "cycle"));
    herd_options_free(h);
    herd_options_free(NULL);
}

/* Text is read and written the same with a decimal comma in LC_NUMERIC:
 * "0.25" is a quarter, "0,25" is refused, values and bounds print '.'. */
static void test_by_name_any_locale(void **state)
{
    (void)state;
    test_locale loc;
    if (!test_locale_decimal_comma(&loc)) {
        test_locale_restore(&loc);
        skip();
    }
    herd_options *h = NULL;
    assert_int_equal(herd_options_new("fit", &h), HERD_OK);
    assert_int_equal(herd_options_set(h, "valid_fraction", "0.25"), HERD_OK);
    const herd_fit_options *f = herd_options_struct(h, "fit");
    assert_true(f->valid_fraction == 0.25);
    assert_int_equal(herd_options_set(h, "valid_fraction", "0,25"), HERD_EINVAL);
    ERR_HAS("'0,25' is not a number");
    assert_true(f->valid_fraction == 0.25);
    char *t = NULL;
    assert_int_equal(herd_options_get(h, "valid_fraction", &t), HERD_OK);
    assert_string_equal(t, "0.25");
    herd_free(t);
    assert_int_equal(herd_options_set(h, "valid_fraction", "1.5"), HERD_EINVAL);
    ERR_HAS("give a number in [0, 1)");
    herd_options_free(h);
    assert_int_equal(herd_options_new("version", &h), HERD_OK);
    assert_int_equal(herd_options_set_entry(h, "metrics", "rmse", "1.5"), HERD_OK);
    const herd_version_options *v = herd_options_struct(h, "version");
    assert_true(v->metric_values[0] == 1.5);
    herd_options_free(h);
    /* The reader's messages too. */
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.progress_interval_s = 7200.5;
    unsigned char out[sizeof ap];
    assert_int_equal(hd_options_read(&hd_apply_options_desc, &ap, out, "fn"), HERD_EINVAL);
    ERR_HAS("progress_interval_s is 7200.5; give a number in (0, 3600]");
    test_locale_restore(&loc);
}

/* ---- the table: every field of every public struct ---------------------------- */

/* The member names of `typedef struct NAME { ... } NAME;` in herd.h. */
static size_t header_members(const char *header, const char *name, char members[][64],
                             size_t max)
{
    char open[128], close[128];
    snprintf(open, sizeof open, "typedef struct %s {", name);
    snprintf(close, sizeof close, "} %s;", name);
    const char *a = strstr(header, open), *b = a ? strstr(a, close) : NULL;
    if (!a || !b) fail_msg("herd.h has no struct %s", name);
    a += strlen(open);
    /* Without comments. */
    char *body = calloc(1, (size_t)(b - a) + 1);
    size_t n = 0;
    for (const char *p = a; p < b; p++) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 1 : b;
            continue;
        }
        body[n++] = *p;
    }
    size_t count = 0;
    for (char *decl = strtok(body, ";"); decl; decl = strtok(NULL, ";")) {
        char *end = decl + strlen(decl);
        while (end > decl && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == ']' ||
                              (end[-1] >= '0' && end[-1] <= '9' && strchr(decl, '['))))
            end--;
        if (end > decl && end[-1] == '[') end--;
        char *start = end;
        while (start > decl && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                (start[-1] >= 'A' && start[-1] <= 'Z') ||
                                (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        if (start == end) continue; /* only whitespace after the last ';' */
        assert_true(count < max);
        snprintf(members[count], 64, "%.*s", (int)(end - start), start);
        count++;
    }
    free(body);
    return count;
}

static char *read_header(void)
{
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/include/herd.h", root ? root : "..");
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (set HERD_TEST_SOURCE_DIR to the source root)", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)len + 1);
    if (fread(text, 1, (size_t)len, f) != (size_t)len) fail_msg("cannot read %s", path);
    fclose(f);
    return text;
}

/* Whether `field` is one of the comma-separated `fields`. */
static int lists_field(const char *fields, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = fields; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, field, n)) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

/* The table frame lists every member of every options struct of herd.h
 * (a field added without a table line fails here), and nothing else. */
static void test_table_lists_every_field(void **state)
{
    (void)state;
    herd_frame *t = NULL;
    assert_int_equal(herd_options_table(NULL, &t), HERD_OK);
    size_t c_op, c_name, c_fields, c_type, c_default, c_min, c_max, c_doc, c_since, c_values;
    assert_int_equal(herd_frame_find(t, "operation", &c_op), HERD_OK);
    assert_int_equal(herd_frame_find(t, "name", &c_name), HERD_OK);
    assert_int_equal(herd_frame_find(t, "type", &c_type), HERD_OK);
    assert_int_equal(herd_frame_find(t, "default", &c_default), HERD_OK);
    assert_int_equal(herd_frame_find(t, "min", &c_min), HERD_OK);
    assert_int_equal(herd_frame_find(t, "max", &c_max), HERD_OK);
    assert_int_equal(herd_frame_find(t, "doc", &c_doc), HERD_OK);
    assert_int_equal(herd_frame_find(t, "since", &c_since), HERD_OK);
    assert_int_equal(herd_frame_find(t, "fields", &c_fields), HERD_OK);
    assert_int_equal(herd_frame_find(t, "values", &c_values), HERD_OK);
    char *header = read_header();
    size_t rows = herd_frame_row_count(t), total_members = 0;
    for (size_t i = 0; i < NCASES; i++) {
        const struct_case *c = &cases[i];
        char members[64][64];
        size_t nm = header_members(header, c->name, members, 64);
        assert_string_equal(members[0], "version");
        for (size_t m = 1; m < nm; m++, total_members++) {
            size_t hits = 0;
            for (size_t r = 0; r < rows; r++) {
                const char *op, *fields;
                herd_frame_get_string(t, c_op, r, &op);
                herd_frame_get_string(t, c_fields, r, &fields);
                if (!strcmp(op, c->desc->operation) && lists_field(fields, members[m])) hits++;
            }
            if (hits != 1)
                fail_msg("%s.%s is in %zu rows of herd_options_table(); give it one line in "
                         "lib/options_table.c", c->name, members[m], hits);
        }
        /* ... and every field a row names is a member. */
        for (size_t r = 0; r < rows; r++) {
            const char *op, *fields;
            herd_frame_get_string(t, c_op, r, &op);
            herd_frame_get_string(t, c_fields, r, &fields);
            if (strcmp(op, c->desc->operation)) continue;
            for (const char *p = fields; *p;) {
                size_t len = strcspn(p, ","), m = 1;
                while (m < nm && (strlen(members[m]) != len || strncmp(members[m], p, len))) m++;
                if (m == nm) fail_msg("the table names %.*s, not a member of %s", (int)len, p,
                                      c->name);
                p += len;
                if (*p) p++;
            }
        }
    }
    /* Every row is documented; numbers have bounds, others none. */
    size_t table_fields = 0;
    for (size_t r = 0; r < rows; r++) {
        const char *doc, *type, *fields;
        herd_frame_get_string(t, c_doc, r, &doc);
        herd_frame_get_string(t, c_type, r, &type);
        herd_frame_get_string(t, c_fields, r, &fields);
        assert_true(doc && strlen(doc) > 5);
        for (const char *p = fields; p; p = strchr(p, ',')) {
            table_fields++;
            if (*p == ',') p++;
        }
        double mn, mx;
        herd_frame_get_double(t, c_min, r, &mn);
        herd_frame_get_double(t, c_max, r, &mx);
        int numeric = !strcmp(type, "int") || !strcmp(type, "int64") || !strcmp(type, "size") ||
                      !strcmp(type, "uint64") || !strcmp(type, "double") ||
                      !strcmp(type, "bool") || !strcmp(type, "char") || !strcmp(type, "enum");
        assert_int_equal(numeric, !isnan(mn) && !isnan(mx));
        int64_t since;
        assert_int_equal(herd_frame_get_int64(t, c_since, r, &since), HERD_OK);
        assert_true(since >= 1);
    }
    assert_int_equal(table_fields, total_members);
    free(header);
    herd_frame_free(t);

    /* One operation's table; defaults as text. */
    assert_int_equal(herd_options_table("fit", &t), HERD_OK);
    assert_int_equal(herd_frame_row_count(t), hd_fit_options_desc.nopts);
    for (size_t r = 0; r < herd_frame_row_count(t); r++) {
        const char *name, *def, *values;
        herd_frame_get_string(t, c_name, r, &name);
        herd_frame_get_string(t, c_default, r, &def);
        herd_frame_get_string(t, c_values, r, &values);
        if (!strcmp(name, "rounds")) assert_string_equal(def, "100");
        if (!strcmp(name, "valid_fraction")) assert_string_equal(def, "0.2");
        if (!strcmp(name, "label")) assert_null(def);
        if (!strcmp(name, "features")) assert_string_equal(def, "[]");
        if (!strcmp(name, "split")) {
            assert_string_equal(def, "random");
            assert_string_equal(values, "random|last");
        }
    }
    herd_frame_free(t);
    herd_frame *none = (herd_frame *)1;
    assert_int_equal(herd_options_table("fitt", &none), HERD_EINVAL);
    assert_null(none);
    ERR_HAS("did you mean 'fit'");
}

/* Every options struct of herd.h has a descriptor, a case here and a
 * version macro: a struct added without them fails here. */
static void test_every_header_options_struct_described(void **state)
{
    (void)state;
    char *header = read_header();
    size_t found = 0;
    for (const char *p = header; (p = strstr(p, "typedef struct herd_"));) {
        p += strlen("typedef struct ");
        size_t len = strcspn(p, " {");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        if (len < 8 || strcmp(name + len - 8, "_options") || strncmp(p + len, " {", 2))
            continue; /* not an options struct's definition (the handle's typedef) */
        found++;
        const struct_case *c = case_named(name); /* fails when absent */
        char macro[160];
        snprintf(macro, sizeof macro, "#define %s ", c->desc->version_macro);
        if (!strstr(header, macro)) fail_msg("herd.h has no %s", c->desc->version_macro);
        char init[160];
        snprintf(init, sizeof init, "HERD_API int %s(%s *opt,", c->desc->init_name, name);
        if (!strstr(header, init)) fail_msg("herd.h does not declare %s", init);
    }
    assert_int_equal(found, NCASES);
    free(header);
}

/* The descriptors tile each struct: the fields they cover, in offset order,
 * leave no gap but alignment padding, and end at the struct's end. */
static void test_descriptors_tile_structs(void **state)
{
    (void)state;
    for (size_t i = 0; hd_options_all[i]; i++) {
        const hd_opt_struct *d = hd_options_all[i];
        size_t off[64], size[64], n = 0;
        for (size_t k = 0; k < d->nopts; k++) {
            const hd_opt *o = &d->opts[k];
            off[n] = o->off;
            size[n++] = hd_opt_type_size(o->type);
            if (o->type == HD_OT_STRING_MAP || o->type == HD_OT_NUMBER_MAP ||
                o->type == HD_OT_TYPE_MAP || o->type == HD_OT_PROGRESS) {
                off[n] = o->off_values;
                size[n++] = sizeof(void *);
            }
            if (o->type >= HD_OT_STRING_LIST && o->type <= HD_OT_TYPE_MAP) {
                off[n] = o->off_count;
                size[n++] = sizeof(size_t);
            }
        }
        for (size_t a = 0; a < n; a++) /* sort by offset */
            for (size_t b = a + 1; b < n; b++)
                if (off[b] < off[a]) {
                    size_t t = off[a];
                    off[a] = off[b], off[b] = t;
                    t = size[a];
                    size[a] = size[b], size[b] = t;
                }
        size_t end = sizeof(uint32_t), align = sizeof(uint32_t); /* the version */
        for (size_t k = 0; k < n; k++) {
            if (size[k] > align) align = size[k];
            size_t aligned = (end + size[k] - 1) / size[k] * size[k];
            if (off[k] != aligned)
                fail_msg("%s: a field at offset %zu is not described (or two overlap)",
                         d->type_name, end);
            end = off[k] + size[k];
        }
        size_t aligned_end = (end + align - 1) / align * align;
        if (aligned_end != d->size)
            fail_msg("%s: the described fields end at %zu, the struct at %zu", d->type_name,
                     end, d->size);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_cover_every_descriptor),
        cmocka_unit_test(test_init_current_version),
        cmocka_unit_test(test_init_null),
        cmocka_unit_test(test_init_newer_header_writes_nothing),
        cmocka_unit_test(test_init_stays_inside),
        cmocka_unit_test(test_current_version_read),
        cmocka_unit_test(test_older_caller_init),
        cmocka_unit_test(test_older_caller_read),
        cmocka_unit_test(test_slots_cover_every_struct),
        cmocka_unit_test(test_by_name_every_option_round_trips),
        cmocka_unit_test(test_by_name_get_round_trips),
        cmocka_unit_test(test_by_name_bounds_enforced),
        cmocka_unit_test(test_by_name_bounds_api),
        cmocka_unit_test(test_by_name_did_you_mean),
        cmocka_unit_test(test_by_name_any_locale),
        cmocka_unit_test(test_table_lists_every_field),
        cmocka_unit_test(test_every_header_options_struct_described),
        cmocka_unit_test(test_descriptors_tile_structs),
    };
    const struct CMUnitTest world_tests[] = {
        cmocka_unit_test(test_garbage_options_refused),
        cmocka_unit_test(test_newer_header_refused),
    };
    int failed = cmocka_run_group_tests_name("options", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("options through every function", world_tests,
                                          world_setup, world_teardown);
    return failed;
}
