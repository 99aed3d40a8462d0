/* Tests of the registry (suite `unit`, so they also run under valgrind):
 * opening, batches, version numbers, idempotency, tags and metrics, aliases
 * and their history, runs, archive and gc, listings, search, refresh, the
 * index checkpoint, and every bad argument.
 *
 * No XGBoost training: artifacts are made from the committed fixture model
 * tests/data/models/reg3.ubj (herd_model_load + herd_artifact_from_model);
 * artifacts with metrics and a fingerprint are made by editing the metadata
 * of such an artifact as docs/format.md describes (CRCs recomputed).
 *
 * Every test gets a fresh registry in its own temporary directory (under
 * $TMPDIR, or /tmp), removed afterwards.  Expected values come from
 * include/herd.h; where the header leaves a choice open the test says which
 * reading it takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "herd.h"
#include "registry/batch_internal.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

/* ------------------------------------------------------------------------
 * Error assertions
 * --------------------------------------------------------------------- */

#define ERR_HAS(text)                                                              \
    do {                                                                           \
        if (!strstr(herd_last_error(), (text)))                                    \
            fail_msg("last error \"%s\" lacks \"%s\"", herd_last_error(), (text)); \
    } while (0)

/* `call` must return `code`, and herd_last_error() must contain `text`
 * (NULL: anything). */
#define EXPECT_RC(call, code, text)                                                     \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ != (code))                                                              \
            fail_msg("%s returned %s (%d), expected %s; last error: \"%s\"", #call,     \
                     herd_status_str(rc_), rc_, herd_status_str(code),                  \
                     herd_last_error());                                                \
        const char *t_ = (text);                                                        \
        if (t_ && !strstr(herd_last_error(), t_))                                       \
            fail_msg("%s: last error \"%s\" lacks \"%s\"", #call, herd_last_error(), t_); \
    } while (0)

#define EXPECT_OK(call)                                                                 \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ != HERD_OK)                                                             \
            fail_msg("%s returned %s (%d): \"%s\"", #call, herd_status_str(rc_), rc_,   \
                     herd_last_error());                                                \
    } while (0)

/* A getter's status: a value (HERD_OK) or a missing one (HERD_MISSING). */
#define EXPECT_CELL(call)                                                               \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ != HERD_OK && rc_ != HERD_MISSING)                                      \
            fail_msg("%s returned %s (%d): \"%s\"", #call, herd_status_str(rc_), rc_,   \
                     herd_last_error());                                                \
    } while (0)

/* Checks that go on after a failure, so that one run lists every deviation
 * of a table of cases; soft_done() fails the test if any was found. */

/* A string field of an artifact's metadata that must be recorded. */
static const char *art_field(const herd_artifact *a, const char *field)
{
    const char *v = NULL;
    int rc = herd_artifact_get(a, field, &v);
    if (rc != HERD_OK) fail_msg("herd_artifact_get(%s): %d %s", field, rc, herd_last_error());
    return v;
}

static int g_soft_failures;

static void soft_fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("  [soft] %s\n", msg);
    g_soft_failures++;
}

static void soft_done(void)
{
    int n = g_soft_failures;
    g_soft_failures = 0;
    if (n) fail_msg("%d check(s) failed (listed above)", n);
}

/* `call` should return `code` with `text` (NULL: anything) in the message;
 * a soft check. */
#define SOFT_RC(call, code, text)                                                          \
    do {                                                                                   \
        herd_clear_error();                                                                \
        int rc_ = (call);                                                                  \
        const char *t_ = (text);                                                           \
        if (rc_ != (code))                                                                 \
            soft_fail("%s:%d: %s returned %s, expected %s; last error: \"%s\"", __FILE__,  \
                      __LINE__, #call, herd_status_str(rc_), herd_status_str(code),         \
                      herd_last_error());                                                  \
        else if (t_ && !strstr(herd_last_error(), t_))                                     \
            soft_fail("%s:%d: %s: last error \"%s\" lacks \"%s\"", __FILE__, __LINE__,     \
                      #call, herd_last_error(), t_);                                       \
    } while (0)

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* 1 when `word` occurs in `text` as a whole word (not inside an identifier:
 * "reg" does not count inside "herd_registry_open"). */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        int before = p > text && is_ident_char(p[-1]);
        int after = is_ident_char(p[n]);
        if (!before && !after) return 1;
    }
    return 0;
}

/* `call` must fail with HERD_EINVAL, naming the argument `arg` (as a word)
 * and the function `fn`. */
#define EXPECT_ARG(call, fn, arg)                                                        \
    do {                                                                                 \
        herd_clear_error();                                                              \
        int rc_ = (call);                                                                \
        if (rc_ != HERD_EINVAL)                                                          \
            soft_fail("%s returned %s (%d), expected HERD_EINVAL; last error: \"%s\"",   \
                      #call, herd_status_str(rc_), rc_, herd_last_error());              \
        else if (!has_word(herd_last_error(), (arg)))                                    \
            soft_fail("%s: last error \"%s\" does not name the argument '%s'", #call,    \
                      herd_last_error(), (arg));                                         \
        else if (!strstr(herd_last_error(), (fn)))                                       \
            soft_fail("%s: last error \"%s\" does not name the function %s", #call,      \
                      herd_last_error(), (fn));                                          \
    } while (0)

/* ------------------------------------------------------------------------
 * Temporary directories
 * --------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_tmpdir(char *out, size_t size)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(out, size, "%s/herd_registry_XXXXXX", base);
    if (!mkdtemp(out)) fail_msg("mkdtemp %s: %s", out, strerror(errno));
}

/* Names in directory `dir`, sorted, joined by ';' (without . and ..). */
static void list_dir(const char *dir, char *out, size_t size)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    if (n < 0) fail_msg("scandir %s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            strncat(out, names[i]->d_name, size - strlen(out) - 2);
            strcat(out, ";");
        }
        free(names[i]);
    }
    free(names);
}

static void write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* ------------------------------------------------------------------------
 * The fixture model and artifacts
 * --------------------------------------------------------------------- */

static herd_model *g_model;      /* tests/data/models/reg3.ubj */
static void *g_model_ubj;        /* its herd_model_save(UBJSON) bytes */
static size_t g_model_ubj_len;

static unsigned char *read_fixture(const char *name, size_t *len)
{
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/models/%s", root ? root : "..", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (set HERD_TEST_SOURCE_DIR to the source root)\n", path);
        return NULL;
    }
    unsigned char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    *len = n;
    return b;
}

static int group_setup(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *bytes = read_fixture("reg3.ubj", &len);
    if (!bytes) return -1;
    int rc = herd_model_load(bytes, len, &g_model);
    free(bytes);
    if (rc) {
        fprintf(stderr, "herd_model_load(reg3.ubj): %s\n", herd_last_error());
        return -1;
    }
    if (herd_model_save(g_model, HERD_MODEL_UBJSON, &g_model_ubj, &g_model_ubj_len)) return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    herd_model_free(g_model);
    herd_free(g_model_ubj);
    return 0;
}

/* An artifact of the fixture model; any of the three may be NULL. */
static herd_artifact *make_art(const char *family, const char *group, const char *run_id)
{
    herd_artifact_options o;
    herd_artifact_options_init(&o, HERD_ARTIFACT_OPTIONS_VERSION);
    o.family = family;
    o.group = group;
    o.run_id = run_id;
    herd_artifact *a = NULL;
    EXPECT_OK(herd_artifact_from_model(g_model, &o, &a));
    return a;
}

/* Its serialised bytes (malloc'd). */
static unsigned char *art_bytes(const herd_artifact *a, size_t *len)
{
    void *buf = NULL;
    EXPECT_OK(herd_artifact_to_buffer(a, &buf, len));
    unsigned char *copy = malloc(*len);
    assert_non_null(copy);
    memcpy(copy, buf, *len);
    herd_free(buf);
    return copy;
}

/* Header offsets from docs/format.md. */
#define H_HEADER_LEN 16
#define H_META_LEN 20
#define H_STORED_LEN 24
#define H_META_CRC 40
#define H_STORED_CRC 44
#define H_RAW_CRC 48

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The artifact of make_art() with `"metrics":{}` of its metadata replaced by
 * `replacement` (e.g. `"metrics":{"rmse":0.5},"fingerprint":"..."`), every
 * CRC recomputed, read back. */
static herd_artifact *make_art_meta(const char *family, const char *group, const char *run_id,
                                    const char *replacement)
{
    herd_artifact *base = make_art(family, group, run_id);
    size_t len = 0;
    unsigned char *b = art_bytes(base, &len);
    herd_artifact_free(base);
    uint32_t hl = get32(b + H_HEADER_LEN), ml = get32(b + H_META_LEN);
    const char *meta = (const char *)b + hl;
    const char *needle = "\"metrics\":{}";
    const char *at = NULL;
    for (size_t i = 0; i + strlen(needle) <= ml; i++)
        if (!memcmp(meta + i, needle, strlen(needle))) {
            at = meta + i;
            break;
        }
    if (!at) fail_msg("no empty metrics in the metadata: %.*s", (int)ml, meta);
    size_t pre = (size_t)(at - meta), post = ml - pre - strlen(needle);
    size_t nml = pre + strlen(replacement) + post;
    size_t payload = len - hl - ml;
    size_t nlen = hl + nml + payload;
    unsigned char *n = malloc(nlen);
    assert_non_null(n);
    memcpy(n, b, hl);
    memcpy(n + hl, meta, pre);
    memcpy(n + hl + pre, replacement, strlen(replacement));
    memcpy(n + hl + pre + strlen(replacement), at + strlen(needle), post);
    memcpy(n + hl + nml, b + hl + ml, payload);
    put32(n + H_META_LEN, (uint32_t)nml);
    put32(n + H_META_CRC, (uint32_t)crc32(0, n + hl, (uInt)nml));
    put32(n + hl - 4, (uint32_t)crc32(0, n, hl - 4));
    herd_artifact *a = NULL;
    EXPECT_OK(herd_artifact_read(n, nlen, &a));
    free(n);
    free(b);
    return a;
}

/* The loaded artifact holds the fixture model, byte for byte. */
static void assert_same_model(const herd_artifact *a)
{
    herd_model *m = NULL;
    EXPECT_OK(herd_artifact_model(a, &m));
    void *ubj = NULL;
    size_t len = 0;
    EXPECT_OK(herd_model_save(m, HERD_MODEL_UBJSON, &ubj, &len));
    assert_int_equal(len, g_model_ubj_len);
    assert_memory_equal(ubj, g_model_ubj, len);
    herd_free(ubj);
    herd_model_free(m);
}

/* ------------------------------------------------------------------------
 * Per-test registry
 * --------------------------------------------------------------------- */

typedef struct ctx {
    char dir[1024];  /* the temporary directory */
    char path[2048]; /* the registry: dir/reg */
    herd_registry *reg;
} ctx;

static int reg_setup(void **state)
{
    g_soft_failures = 0;
    ctx *c = calloc(1, sizeof *c);
    if (!c) return -1;
    make_tmpdir(c->dir, sizeof c->dir);
    snprintf(c->path, sizeof c->path, "%s/reg", c->dir);
    if (herd_registry_open(c->path, NULL, &c->reg)) {
        fprintf(stderr, "herd_registry_open(%s): %s\n", c->path, herd_last_error());
        rm_tree(c->dir);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

/* For tests that open registries themselves. */
static int dir_setup(void **state)
{
    g_soft_failures = 0;
    ctx *c = calloc(1, sizeof *c);
    if (!c) return -1;
    make_tmpdir(c->dir, sizeof c->dir);
    snprintf(c->path, sizeof c->path, "%s/reg", c->dir);
    *state = c;
    return 0;
}

static int reg_teardown(void **state)
{
    ctx *c = *state;
    herd_registry_free(c->reg);
    rm_tree(c->dir);
    free(c);
    return 0;
}

/* Pack files in a registry directory. */
static size_t count_packs(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, "pack-", 5) == 0;
    closedir(d);
    return n;
}

static herd_registry *open_reg(const char *path)
{
    herd_registry *r = NULL;
    EXPECT_OK(herd_registry_open(path, NULL, &r));
    assert_non_null(r);
    return r;
}

static herd_batch *begin(herd_registry *reg)
{
    herd_batch *b = NULL;
    EXPECT_OK(herd_registry_begin(reg, &b));
    assert_non_null(b);
    return b;
}

/* Add an artifact of (family, group) with options `opt` (may be NULL);
 * returns its index in the batch. */
static size_t add_art(herd_batch *b, const char *family, const char *group,
                      const herd_version_options *opt)
{
    herd_artifact *a = make_art(family, group, NULL);
    size_t index = 12345;
    EXPECT_OK(herd_batch_add(b, a, opt, &index));
    herd_artifact_free(a);
    return index;
}

static int64_t batch_version(const herd_batch *b, size_t index, int *existed)
{
    int64_t v = -7;
    int e = -7;
    EXPECT_OK(herd_batch_version(b, index, &v, &e));
    if (existed) *existed = e;
    return v;
}

/* One version of (family, group) in its own batch; returns its number. */
static int64_t add_one(herd_registry *reg, const char *family, const char *group,
                       const herd_version_options *opt)
{
    herd_batch *b = begin(reg);
    size_t i = add_art(b, family, group, opt);
    EXPECT_OK(herd_batch_commit(b));
    int existed = -1;
    int64_t v = batch_version(b, i, &existed);
    herd_batch_free(b);
    return v;
}

static void set_alias(herd_registry *reg, const char *family, const char *group,
                      const char *alias, int64_t version)
{
    herd_batch *b = begin(reg);
    EXPECT_OK(herd_batch_set_alias(b, family, group, alias, version, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
}

static void archive(herd_registry *reg, const char *family, const char *group, int64_t version)
{
    herd_batch *b = begin(reg);
    EXPECT_OK(herd_batch_archive(b, family, group, version, "test"));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
}

static int64_t resolve(herd_registry *reg, const char *family, const char *group,
                       const char *alias)
{
    int64_t v = -7;
    EXPECT_OK(herd_registry_resolve(reg, family, group, alias, &v));
    return v;
}

/* ------------------------------------------------------------------------
 * Frames
 * --------------------------------------------------------------------- */

static size_t col_of(const herd_frame *f, const char *name)
{
    size_t i = 0;
    if (herd_frame_find(f, name, &i) != HERD_OK)
        fail_msg("the frame has no column '%s': %s", name, herd_last_error());
    return i;
}

static const char *cell_s(const herd_frame *f, const char *name, size_t row)
{
    const char *s = NULL;
    int rc = herd_frame_get_string(f, col_of(f, name), row, &s);
    if (rc != (s ? HERD_OK : HERD_MISSING))
        fail_msg("column '%s' row %zu: %d %s", name, row, rc, herd_last_error());
    return s;
}

static int64_t cell_i(const herd_frame *f, const char *name, size_t row)
{
    int64_t v = 0;
    int rc = herd_frame_get_int64(f, col_of(f, name), row, &v);
    if (rc) fail_msg("column '%s' row %zu: %s", name, row, herd_last_error());
    return v;
}

static double cell_d(const herd_frame *f, const char *name, size_t row)
{
    double v = 0;
    int rc = herd_frame_get_double(f, col_of(f, name), row, &v);
    if (rc != (isnan(v) ? HERD_MISSING : HERD_OK))
        fail_msg("column '%s' row %zu: %d %s", name, row, rc, herd_last_error());
    return v;
}

#define S HERD_TYPE_STRING
#define I HERD_TYPE_INT64
#define D HERD_TYPE_FLOAT64

/* The frame has exactly these columns, in this order, of these types. */
static void assert_columns(const herd_frame *f, const char *const *names, const int *types,
                           size_t n)
{
    if (herd_frame_column_count(f) != n) {
        char all[1024] = "";
        for (size_t i = 0; i < herd_frame_column_count(f); i++) {
            strncat(all, herd_frame_column_name(f, i), sizeof all - strlen(all) - 3);
            strcat(all, ", ");
        }
        fail_msg("the frame has %zu columns (%s), expected %zu", herd_frame_column_count(f), all, n);
    }
    for (size_t i = 0; i < n; i++) {
        const char *got = herd_frame_column_name(f, i);
        if (strcmp(got, names[i]))
            fail_msg("column %zu is '%s', expected '%s'", i, got, names[i]);
        if (herd_frame_column_type(f, i) != types[i])
            fail_msg("column '%s' is %s, expected %s", names[i],
                     herd_type_name(herd_frame_column_type(f, i)), herd_type_name(types[i]));
    }
}

/* The columns of herd_registry_search (and _versions). */
static const char *const version_names[] = {
    "family",  "group",           "version", "status", "created", "registered", "run_id",
    "fingerprint", "idempotency_key", "aliases", "tags", "metrics", "size", "uri"};
static const int version_types[] = {S, S, I, S, S, S, S, S, S, S, S, S, I, S};
#define N_VERSION_COLS (sizeof version_names / sizeof *version_names)

static void assert_version_columns(const herd_frame *f)
{
    assert_columns(f, version_names, version_types, N_VERSION_COLS);
}

/* Two frames hold the same columns and cells (NaN equals NaN, missing
 * equals missing). */
static void assert_frames_equal_but(const herd_frame *a, const herd_frame *b, const char *what,
                                    const char *skip);

static void assert_frames_equal(const herd_frame *a, const herd_frame *b, const char *what)
{
    assert_frames_equal_but(a, b, what, NULL);
}

/* The same, ignoring column `skip` (NULL: none). */
static void assert_frames_equal_but(const herd_frame *a, const herd_frame *b, const char *what,
                                    const char *skip)
{
    if (herd_frame_column_count(a) != herd_frame_column_count(b) || herd_frame_row_count(a) != herd_frame_row_count(b))
        fail_msg("%s: %zu x %zu vs %zu x %zu", what, herd_frame_row_count(a), herd_frame_column_count(a),
                 herd_frame_row_count(b), herd_frame_column_count(b));
    for (size_t c = 0; c < herd_frame_column_count(a); c++) {
        const char *name = herd_frame_column_name(a, c);
        if (strcmp(name, herd_frame_column_name(b, c)))
            fail_msg("%s: column %zu is '%s' vs '%s'", what, c, name,
                     herd_frame_column_name(b, c));
        int t = herd_frame_column_type(a, c);
        if (t != herd_frame_column_type(b, c)) fail_msg("%s: column '%s' types differ", what, name);
        if (skip && !strcmp(name, skip)) continue;
        for (size_t r = 0; r < herd_frame_row_count(a); r++) {
            if (t == S) {
                const char *x = NULL, *y = NULL;
                EXPECT_CELL(herd_frame_get_string(a, c, r, &x));
                EXPECT_CELL(herd_frame_get_string(b, c, r, &y));
                if ((x == NULL) != (y == NULL) || (x && strcmp(x, y)))
                    fail_msg("%s: '%s' row %zu: \"%s\" vs \"%s\"", what, name, r,
                             x ? x : "(missing)", y ? y : "(missing)");
            } else if (t == I || t == HERD_TYPE_INT32) {
                int pa = herd_frame_is_present(a, c, r), pb = herd_frame_is_present(b, c, r);
                if (pa != pb) fail_msg("%s: '%s' row %zu: presence differs", what, name, r);
                if (pa) {
                    int64_t x = 0, y = 0;
                    EXPECT_OK(herd_frame_get_int64(a, c, r, &x));
                    EXPECT_OK(herd_frame_get_int64(b, c, r, &y));
                    if (x != y)
                        fail_msg("%s: '%s' row %zu: %lld vs %lld", what, name, r, (long long)x,
                                 (long long)y);
                }
            } else {
                double x = 0, y = 0;
                EXPECT_CELL(herd_frame_get_double(a, c, r, &x));
                EXPECT_CELL(herd_frame_get_double(b, c, r, &y));
                if (!(x == y || (isnan(x) && isnan(y))))
                    fail_msg("%s: '%s' row %zu: %.17g vs %.17g", what, name, r, x, y);
            }
        }
    }
}

/* The rows of a version frame as "family:group:version;..." */
static void rows_text(const herd_frame *f, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t r = 0; r < herd_frame_row_count(f); r++) {
        char one[256];
        snprintf(one, sizeof one, "%s:%s:%lld;", cell_s(f, "family", r), cell_s(f, "group", r),
                 (long long)cell_i(f, "version", r));
        strncat(out, one, size - strlen(out) - 1);
    }
}

#define ASSERT_ROWS(frame, expected)                     \
    do {                                                 \
        char text_[4096];                                \
        rows_text((frame), text_, sizeof text_);         \
        assert_string_equal(text_, (expected));          \
    } while (0)

/* A comma-separated list equals `expected` as a set of items (order free);
 * NULL or "" both mean the empty list. */
static void assert_list(const char *got, const char *expected)
{
    char a[1024], b[1024];
    const char *lists[2] = {got ? got : "", expected};
    char *sorted[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        char tmp[1024], *items[64];
        size_t n = 0;
        snprintf(tmp, sizeof tmp, "%s", lists[k]);
        for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t && n < 64;
             t = strtok_r(NULL, ",", &save))
            items[n++] = t;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
                char *x = items[j];
                items[j] = items[j - 1];
                items[j - 1] = x;
            }
        sorted[k][0] = '\0';
        for (size_t i = 0; i < n; i++) {
            strcat(sorted[k], items[i]);
            strcat(sorted[k], ",");
        }
    }
    if (strcmp(a, b)) fail_msg("list \"%s\" differs from \"%s\"", got ? got : "(missing)", expected);
}

/* A JSON text equals `expected` (parsed, order of keys free). */
static void assert_json(const char *got, const char *expected)
{
    if (!got) fail_msg("missing JSON value, expected %s", expected);
    cJSON *g = cJSON_Parse(got), *e = cJSON_Parse(expected);
    assert_non_null(e);
    if (!g) fail_msg("not JSON: %s", got);
    int same = cJSON_Compare(g, e, 1);
    cJSON_Delete(g);
    cJSON_Delete(e);
    if (!same) fail_msg("JSON %s differs from %s", got, expected);
}

/* An empty JSON object, or a missing value, for "no tags". */
static void assert_json_empty(const char *got)
{
    if (got) assert_json(got, "{}");
}

/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fff]Z */
static void assert_rfc3339(const char *t)
{
    assert_non_null(t);
    size_t n = strlen(t);
    int ok = n >= 20 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' &&
             t[16] == ':' && t[n - 1] == 'Z';
    for (int i = 0; ok && i < 19; i++)
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && (t[i] < '0' || t[i] > '9'))
            ok = 0;
    if (!ok) fail_msg("\"%s\" is not RFC 3339 UTC", t);
}

static herd_frame *search(herd_registry *reg, const herd_search_options *o)
{
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_search(reg, o, &f));
    assert_non_null(f);
    return f;
}

static herd_frame *versions(herd_registry *reg, const char *family, const char *group)
{
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_versions(reg, family, group, &f));
    assert_non_null(f);
    return f;
}

static size_t count_versions(herd_registry *reg, const char *family, const char *group)
{
    herd_search_options o;
    herd_search_options_init(&o, HERD_SEARCH_OPTIONS_VERSION);
    o.family = family;
    o.include_archived = 1;
    herd_frame *f = search(reg, &o);
    size_t n = 0;
    for (size_t r = 0; r < herd_frame_row_count(f); r++)
        if (!group || !strcmp(cell_s(f, "group", r), group)) n++;
    herd_frame_free(f);
    return n;
}

/* ========================================================================
 * Options
 * ===================================================================== */

static void test_options_init(void **state)
{
    (void)state;
    herd_registry_options ro;
    memset(&ro, 0x5A, sizeof ro);
    herd_registry_options_init(&ro, HERD_REGISTRY_OPTIONS_VERSION);
    assert_int_equal(ro.version, 1);
    assert_int_equal(ro.create, 1);
    assert_int_equal(ro.read_only, 0);
    assert_int_equal(ro.lock_timeout_ms, -1);
    assert_int_equal(ro.allow_damaged, 0);

    herd_version_options vo;
    memset(&vo, 0x5A, sizeof vo);
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    assert_int_equal(vo.version, 1);
    assert_null(vo.family);
    assert_null(vo.group);
    assert_null(vo.run_id);
    assert_null(vo.idempotency_key);
    assert_null(vo.tag_names);
    assert_null(vo.tag_values);
    assert_int_equal(vo.n_tags, 0);
    assert_null(vo.metric_names);
    assert_null(vo.metric_values);
    assert_int_equal(vo.n_metrics, 0);
    assert_null(vo.alias);

    herd_alias_options ao;
    memset(&ao, 0x5A, sizeof ao);
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    assert_int_equal(ao.version, 1);
    assert_null(ao.reason);
    assert_null(ao.details);
    assert_null(ao.run_id);
    assert_int_equal(ao.expect_version, -1);

    herd_search_options so;
    memset(&so, 0x5A, sizeof so);
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    assert_int_equal(so.version, 1);
    assert_null(so.family);
    assert_null(so.group_pattern);
    assert_null(so.tag_name);
    assert_null(so.tag_value);
    assert_null(so.metric);
    assert_true(isinf(so.metric_min) && so.metric_min < 0);
    assert_true(isinf(so.metric_max) && so.metric_max > 0);
    assert_null(so.alias);
    assert_int_equal(so.include_archived, 0);
    assert_int_equal(so.limit, 0);
}

/* ========================================================================
 * Opening
 * ===================================================================== */

static void test_open_create(void **state)
{
    ctx *c = *state;
    herd_registry *r = (herd_registry *)1;
    EXPECT_OK(herd_registry_open(c->path, NULL, &r));
    assert_non_null(r);
    assert_string_equal(herd_registry_path(r), c->path);
    struct stat st;
    assert_int_equal(stat(c->path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* docs/registry.md: the format file is written at creation. */
    char format_file[4096];
    snprintf(format_file, sizeof format_file, "%s/HERD-REGISTRY", c->path);
    assert_int_equal(stat(format_file, &st), 0);

    /* An empty registry lists nothing. */
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_families(r, &f));
    static const char *const fam_names[] = {"family", "groups", "versions", "archived"};
    static const int fam_types[] = {S, I, I, I};
    assert_columns(f, fam_names, fam_types, 4);
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);
    herd_frame *s = search(r, NULL);
    assert_version_columns(s);
    assert_int_equal(herd_frame_row_count(s), 0);
    herd_frame_free(s);
    int64_t v = -7;
    EXPECT_RC(herd_registry_resolve(r, "demand", "a", "latest", &v), HERD_ENOTFOUND, "demand");
    herd_registry_free(r);

    /* It exists now: create = 0 opens it. */
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.create = 0;
    r = NULL;
    EXPECT_OK(herd_registry_open(c->path, &o, &r));
    herd_registry_free(r);

    /* An existing empty directory becomes a registry. */
    char empty[2048];
    snprintf(empty, sizeof empty, "%s/empty", c->dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    r = NULL;
    EXPECT_OK(herd_registry_open(empty, NULL, &r));
    herd_registry_free(r);
    r = NULL;
    EXPECT_OK(herd_registry_open(empty, &o, &r));
    herd_registry_free(r);
}

static void test_open_missing(void **state)
{
    ctx *c = *state;
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.create = 0;
    herd_registry *r = (herd_registry *)1;
    SOFT_RC(herd_registry_open(c->path, &o, &r), HERD_ENOTFOUND, c->path);
    assert_null(r);
    struct stat st;
    assert_int_equal(stat(c->path, &st), -1); /* not created */

    /* read_only never writes, so it does not create either. */
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.read_only = 1;
    r = (herd_registry *)1;
    SOFT_RC(herd_registry_open(c->path, &o, &r), HERD_ENOTFOUND, c->path);
    assert_null(r);
    assert_int_equal(stat(c->path, &st), -1);
    soft_done();
}

static void test_open_not_a_registry(void **state)
{
    ctx *c = *state;
    /* A regular file. */
    char file[2048];
    snprintf(file, sizeof file, "%s/plain.txt", c->dir);
    write_text_file(file, "hello\n");
    herd_registry *r = (herd_registry *)1;
    SOFT_RC(herd_registry_open(file, NULL, &r), HERD_EFORMAT, file);
    assert_null(r);

    /* A directory holding other files: refused, and left as it was. */
    char other[2048], notes[4096];
    snprintf(other, sizeof other, "%s/photos", c->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    snprintf(notes, sizeof notes, "%s/notes.txt", other);
    write_text_file(notes, "not a registry\n");
    r = (herd_registry *)1;
    SOFT_RC(herd_registry_open(other, NULL, &r), HERD_EFORMAT, other);
    assert_null(r);
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.create = 0;
    r = (herd_registry *)1;
    SOFT_RC(herd_registry_open(other, &o, &r), HERD_EFORMAT, other);
    assert_null(r);
    char listing[1024];
    list_dir(other, listing, sizeof listing);
    assert_string_equal(listing, "notes.txt;");

    /* A path under a regular file. */
    char under[4096];
    snprintf(under, sizeof under, "%s/reg", file);
    r = (herd_registry *)1;
    int rc = herd_registry_open(under, NULL, &r);
    assert_true(rc < 0);
    assert_null(r);

    /* An empty path. */
    r = (herd_registry *)1;
    SOFT_RC(herd_registry_open("", NULL, &r), HERD_EINVAL, "path");
    assert_null(r);
    soft_done();
}

static void test_read_only(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 1);

    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.read_only = 1;
    herd_registry *ro = NULL;
    EXPECT_OK(herd_registry_open(c->path, &o, &ro));
    /* Reads work. */
    assert_int_equal(resolve(ro, "demand", "a", "champion"), 1);
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load(ro, "demand", "a", 1, &a));
    assert_same_model(a);
    herd_artifact_free(a);
    EXPECT_OK(herd_registry_refresh(ro));
    EXPECT_OK(herd_registry_check(ro, NULL));
    /* Writes are refused. */
    herd_batch *b = (herd_batch *)1;
    herd_clear_error();
    int rc = herd_registry_begin(ro, &b);
    if (rc >= 0) fail_msg("herd_registry_begin on a read-only handle returned %d", rc);
    assert_null(b);
    if (!strstr(herd_last_error(), "read-only") && !strstr(herd_last_error(), "read only") &&
        !strstr(herd_last_error(), "read_only"))
        fail_msg("the refusal does not say read-only: \"%s\"", herd_last_error());
    uint64_t reclaimed = 99;
    assert_true(herd_registry_gc(ro, &reclaimed) < 0);
    assert_true(herd_registry_rebuild_index(ro) < 0);
    herd_registry_free(ro);

    /* The registry is unchanged. */
    assert_int_equal(count_versions(c->reg, NULL, NULL), 1);
}

/* ========================================================================
 * Batches and version numbers
 * ===================================================================== */

static void test_version_numbers(void **state)
{
    ctx *c = *state;
    herd_batch *b = begin(c->reg);
    assert_int_equal(herd_batch_count(b), 0);
    size_t i0 = add_art(b, "demand", "a", NULL);
    size_t i1 = add_art(b, "demand", "b", NULL);
    size_t i2 = add_art(b, "other", "a", NULL);
    size_t i3 = add_art(b, "demand", "a", NULL);
    assert_int_equal(i0, 0);
    assert_int_equal(i1, 1);
    assert_int_equal(i2, 2);
    assert_int_equal(i3, 3);
    assert_int_equal(herd_batch_count(b), 4);
    /* No version before the commit. */
    int64_t v = -7;
    int existed = -7;
    assert_true(herd_batch_version(b, 0, &v, &existed) < 0);
    /* Nothing visible before the commit. */
    assert_int_equal(count_versions(c->reg, NULL, NULL), 0);
    EXPECT_OK(herd_batch_commit(b));
    assert_int_equal(batch_version(b, i0, &existed), 1);
    assert_int_equal(existed, 0);
    assert_int_equal(batch_version(b, i1, &existed), 1);
    assert_int_equal(existed, 0);
    assert_int_equal(batch_version(b, i2, &existed), 1);
    assert_int_equal(batch_version(b, i3, &existed), 2);
    assert_int_equal(existed, 0);
    EXPECT_RC(herd_batch_version(b, 4, &v, &existed), HERD_EINVAL, "4");
    herd_batch_free(b);

    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 3);
    assert_int_equal(add_one(c->reg, "demand", "b", NULL), 2);
    assert_int_equal(add_one(c->reg, "other", "a", NULL), 2);
    assert_int_equal(add_one(c->reg, "other", "b", NULL), 1);

    herd_frame *f = versions(c->reg, "demand", "a");
    assert_version_columns(f);
    ASSERT_ROWS(f, "demand:a:1;demand:a:2;demand:a:3;");
    herd_frame_free(f);
    f = search(c->reg, NULL);
    ASSERT_ROWS(f, "demand:a:1;demand:a:2;demand:a:3;demand:b:1;demand:b:2;"
                   "other:a:1;other:a:2;other:b:1;");
    herd_frame_free(f);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 3);
    assert_int_equal(resolve(c->reg, "other", "b", "latest"), 1);

    /* A stale handle commits after the others: no lost update, no gap. */
    herd_registry *r2 = open_reg(c->path);
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 4);
    assert_int_equal(add_one(r2, "demand", "a", NULL), 5);
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 6);
    herd_registry_free(r2);
    f = versions(c->reg, "demand", "a");
    ASSERT_ROWS(f, "demand:a:1;demand:a:2;demand:a:3;demand:a:4;demand:a:5;demand:a:6;");
    herd_frame_free(f);
}

static void test_add_bytes(void **state)
{
    ctx *c = *state;
    herd_artifact *a = make_art("demand", "DE/Berlin", "r1");
    size_t len = 0;
    unsigned char *bytes = art_bytes(a, &len);
    herd_artifact_free(a);

    herd_batch *b = begin(c->reg);
    size_t idx = 99;
    EXPECT_OK(herd_batch_add_bytes(b, bytes, len, NULL, &idx));
    assert_int_equal(idx, 0);

    /* Bytes that are not an artifact. */
    static const char junk[] = "this is not an artifact at all, just some text";
    EXPECT_RC(herd_batch_add_bytes(b, junk, sizeof junk - 1, NULL, NULL), HERD_EFORMAT, NULL);
    /* An XGBoost model file is not an artifact either. */
    size_t ubj_len = 0;
    unsigned char *ubj = read_fixture("reg3.ubj", &ubj_len);
    assert_non_null(ubj);
    EXPECT_RC(herd_batch_add_bytes(b, ubj, ubj_len, NULL, NULL), HERD_EFORMAT, NULL);
    free(ubj);
    /* Truncated: shorter than the header, or than the sections
     * (docs/format.md: HERD_ECORRUPT). */
    EXPECT_RC(herd_batch_add_bytes(b, bytes, 20, NULL, NULL), HERD_ECORRUPT, NULL);
    EXPECT_RC(herd_batch_add_bytes(b, bytes, len - 1, NULL, NULL), HERD_ECORRUPT, NULL);
    /* A flipped byte of the compressed payload (the last byte). */
    unsigned char *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, bytes, len);
    bad[len - 1] ^= 0x40;
    EXPECT_RC(herd_batch_add_bytes(b, bad, len, NULL, NULL), HERD_ECORRUPT, NULL);
    /* A flipped byte of the metadata. */
    memcpy(bad, bytes, len);
    bad[get32(bytes + H_HEADER_LEN) + 3] ^= 0x01;
    EXPECT_RC(herd_batch_add_bytes(b, bad, len, NULL, NULL), HERD_ECORRUPT, NULL);
    /* A flipped byte of the header. */
    memcpy(bad, bytes, len);
    bad[H_STORED_LEN] ^= 0x01;
    EXPECT_RC(herd_batch_add_bytes(b, bad, len, NULL, NULL), HERD_ECORRUPT, NULL);
    /* A garbage tail. */
    unsigned char *tail = malloc(len + 3);
    assert_non_null(tail);
    memcpy(tail, bytes, len);
    memcpy(tail + len, "xyz", 3);
    EXPECT_RC(herd_batch_add_bytes(b, tail, len + 3, NULL, NULL), HERD_ECORRUPT, NULL);
    free(tail);
    free(bad);
    /* Failed adds add nothing. */
    assert_int_equal(herd_batch_count(b), 1);
    /* The caller's bytes may go at once. */
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    EXPECT_OK(herd_batch_add_bytes(b, copy, len, &vo, &idx));
    memset(copy, 0, len);
    free(copy);
    assert_int_equal(idx, 1);
    EXPECT_OK(herd_batch_commit(b));
    assert_int_equal(batch_version(b, 0, NULL), 1);
    assert_int_equal(batch_version(b, 1, NULL), 2);
    herd_batch_free(b);

    herd_artifact *l = NULL;
    EXPECT_OK(herd_registry_load(c->reg, "demand", "DE/Berlin", 2, &l));
    assert_same_model(l);
    assert_string_equal(art_field(l, "family"), "demand");
    assert_string_equal(art_field(l, "group"), "DE/Berlin");
    assert_string_equal(art_field(l, "run_id"), "r1");
    herd_artifact_free(l);
    assert_int_equal(resolve(c->reg, "demand", "DE/Berlin", "champion"), 2);
    free(bytes);
}

/* An artifact of the fixture model for (`family`, `group`) whose checksums
 * are all right but whose model would never load: the first split of its
 * first tree tests feature 1,000,000 of a 3-feature model.  Stored
 * uncompressed (level 0) to edit it in place. */
static unsigned char *hostile_art_bytes(const char *family, const char *group, size_t *len)
{
    herd_artifact_options o;
    herd_artifact_options_init(&o, HERD_ARTIFACT_OPTIONS_VERSION);
    o.family = family;
    o.group = group;
    o.compression_level = 0;
    herd_artifact *a = NULL;
    EXPECT_OK(herd_artifact_from_model(g_model, &o, &a));
    unsigned char *b = art_bytes(a, len);
    herd_artifact_free(a);
    uint32_t hl = get32(b + H_HEADER_LEN), ml = get32(b + H_META_LEN);
    unsigned char *payload = b + hl + ml;
    size_t plen = *len - hl - ml;
    /* UBJSON: the key, then a typed int32 array: [$l#L <int64 count> items. */
    static const char key[] = "split_indices[$l#L";
    unsigned char *at = NULL;
    for (size_t i = 0; !at && i + sizeof key - 1 + 12 <= plen; i++)
        if (!memcmp(payload + i, key, sizeof key - 1)) at = payload + i + sizeof key - 1 + 8;
    if (!at) fail_msg("no split_indices array in the fixture model");
    static const unsigned char million[4] = {0x00, 0x0F, 0x42, 0x40}; /* big-endian */
    memcpy(at, million, 4);
    put32(b + H_RAW_CRC, (uint32_t)crc32(0, payload, (uInt)plen));
    put32(b + H_STORED_CRC, (uint32_t)crc32(0, payload, (uInt)plen));
    put32(b + hl - 4, (uint32_t)crc32(0, b, hl - 4));
    return b;
}

typedef struct check_calls {
    size_t calls, last_done, last_total, cancel_after;
    uint64_t last_bytes, bytes_total;
    int phase_ok;
} check_calls;

static int check_progress(const herd_progress *p, void *user)
{
    check_calls *k = user;
    k->calls++;
    k->phase_ok += p->phase && !strcmp(p->phase, "check");
    assert_true(p->groups_done >= k->last_done);
    k->last_done = p->groups_done;
    k->last_total = p->groups_total;
    k->last_bytes = p->bytes_done;
    k->bytes_total = p->bytes_total;
    return k->cancel_after && k->calls >= k->cancel_after;
}

/* A model that cannot load is refused at add, with its group named; added
 * anyway with check_model = 0, herd_registry_check (checksums) passes it
 * and the deep check finds it, naming pack, offset, group and version. */
static void test_add_bytes_checks_model(void **state)
{
    ctx *c = *state;
    size_t len = 0, good_len = 0;
    unsigned char *bad = hostile_art_bytes("demand", "DE/Hostile", &len);
    herd_artifact *ga = make_art("demand", "DE/Good", NULL);
    unsigned char *good = art_bytes(ga, &good_len);
    herd_artifact_free(ga);
    /* The artifact reader refuses it: the registry must not commit it. */
    herd_artifact *a = NULL;
    EXPECT_RC(herd_artifact_read(bad, len, &a), HERD_ECORRUPT, "split feature 1000000");

    herd_batch *b = begin(c->reg);
    EXPECT_RC(herd_batch_add_bytes(b, bad, len, NULL, NULL), HERD_ECORRUPT,
              "group 'DE/Hostile'");
    assert_non_null(strstr(herd_last_error(), "family 'demand'"));
    assert_non_null(strstr(herd_last_error(), "split feature 1000000 is out of range"));
    assert_non_null(strstr(herd_last_error(), "check_model = 0"));
    assert_int_equal(herd_batch_count(b), 0);
    /* The group given by the options is the one named. */
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.group = "DE/Renamed";
    EXPECT_RC(herd_batch_add_bytes(b, bad, len, &vo, NULL), HERD_ECORRUPT,
              "group 'DE/Renamed'");
    assert_int_equal(vo.check_model, 1);
    /* Off: only the checksums and metadata, as before. */
    vo.group = NULL;
    vo.check_model = 0;
    size_t idx = 9;
    EXPECT_OK(herd_batch_add_bytes(b, bad, len, &vo, &idx));
    assert_int_equal(idx, 0);
    EXPECT_OK(herd_batch_add_bytes(b, good, good_len, NULL, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    /* Out-of-range option value. */
    b = begin(c->reg);
    vo.check_model = 2;
    EXPECT_RC(herd_batch_add_bytes(b, good, good_len, &vo, NULL), HERD_EINVAL, "check_model");
    herd_batch_free(b);

    /* What was committed never loads. */
    herd_artifact *l = NULL;
    EXPECT_RC(herd_registry_load(c->reg, "demand", "DE/Hostile", 1, &l), HERD_ECORRUPT,
              "split feature 1000000");
    assert_null(l);

    /* The checksums are right: the shallow check sees nothing. */
    herd_frame *p = NULL;
    EXPECT_OK(herd_registry_check(c->reg, &p));
    assert_int_equal(herd_frame_row_count(p), 0);
    herd_frame_free(p);
    herd_check_options co;
    EXPECT_OK(herd_check_options_init(&co, HERD_CHECK_OPTIONS_VERSION));
    assert_int_equal(co.deep, 0);
    EXPECT_OK(herd_registry_check_with(c->reg, &co, NULL));
    EXPECT_OK(herd_registry_check_with(c->reg, NULL, NULL));

    /* Deep: one row, for that version alone. */
    co.deep = 1;
    check_calls k = {0};
    co.progress = check_progress;
    co.progress_user = &k;
    p = NULL;
    EXPECT_RC(herd_registry_check_with(c->reg, &co, &p), HERD_ECORRUPT,
              "demand/DE/Hostile version 1");
    assert_non_null(p);
    assert_int_equal(herd_frame_row_count(p), 1);
    assert_non_null(strstr(cell_s(p, "file", 0), "pack-"));
    assert_true(cell_i(p, "offset", 0) >= 16); /* after the pack header */
    const char *what = cell_s(p, "problem", 0);
    assert_non_null(strstr(what, "demand/DE/Hostile version 1: "));
    assert_non_null(strstr(what, "split feature 1000000 is out of range"));
    assert_non_null(strstr(what, "tree 0"));
    herd_frame_free(p);
    /* Progress: phase "check", ending with every group and byte done. */
    assert_true(k.calls >= 2);
    assert_int_equal(k.phase_ok, k.calls);
    assert_int_equal(k.last_total, 2);
    assert_int_equal(k.last_done, 2);
    assert_int_equal(k.bytes_total, len + good_len);
    assert_int_equal(k.last_bytes, len + good_len);
    /* The callback cancels. */
    k = (check_calls){.cancel_after = 1};
    p = NULL;
    EXPECT_RC(herd_registry_check_with(c->reg, &co, &p), HERD_ECANCELED, "cancelled");
    assert_null(p);
    /* Bad options. */
    co.deep = 7;
    EXPECT_RC(herd_registry_check_with(c->reg, &co, NULL), HERD_EINVAL, "deep");
    co.version = 0;
    EXPECT_RC(herd_registry_check_with(c->reg, &co, NULL), HERD_EINVAL, "herd_check_options");
    EXPECT_RC(herd_registry_check_with(NULL, NULL, NULL), HERD_EINVAL, NULL);

    /* Archived and collected, the bad version is gone from the deep check. */
    b = begin(c->reg);
    EXPECT_OK(herd_batch_archive(b, "demand", "DE/Hostile", 1, "never loads"));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    EXPECT_OK(herd_registry_gc(c->reg, NULL));
    herd_check_options_init(&co, HERD_CHECK_OPTIONS_VERSION);
    co.deep = 1;
    EXPECT_OK(herd_registry_check_with(c->reg, &co, NULL));
    free(bad);
    free(good);
}

/* What the check's progress callback does to the handle it checks. */
typedef struct check_writes {
    herd_registry *reg;
    size_t calls;
    uint64_t reclaimed;
    int64_t added;
} check_writes;

static int check_progress_writes(const herd_progress *p, void *user)
{
    (void)p;
    check_writes *w = user;
    if (w->calls++) return 0;
    /* The check holds no lock of the handle while it calls back: a commit
     * and a gc through the same handle go through (under the state's read
     * lock, both waited for it: a deadlock on this thread). */
    w->added = add_one(w->reg, "demand", "DE/Late", NULL);
    EXPECT_OK(herd_registry_gc(w->reg, &w->reclaimed));
    return 0;
}

/* herd_registry_check_with reads the artifacts with the state's lock
 * released: its progress callback may commit and collect through the
 * same handle, and an artifact the gc moved meanwhile is read where it
 * went, not reported as damage. */
static void test_check_progress_may_write(void **state)
{
    ctx *c = *state;
    add_one(c->reg, "demand", "DE/Old", NULL);
    add_one(c->reg, "demand", "DE/Kept", NULL);
    add_one(c->reg, "demand", "DE/Also", NULL);
    archive(c->reg, "demand", "DE/Old", 1);
    herd_check_options co;
    EXPECT_OK(herd_check_options_init(&co, HERD_CHECK_OPTIONS_VERSION));
    co.deep = 1;
    check_writes w = {.reg = c->reg};
    co.progress = check_progress_writes;
    co.progress_user = &w;
    herd_frame *p = NULL;
    EXPECT_OK(herd_registry_check_with(c->reg, &co, &p));
    assert_int_equal(herd_frame_row_count(p), 0);
    herd_frame_free(p);
    assert_true(w.calls >= 2);
    assert_int_equal(w.added, 1);
    assert_true(w.reclaimed > 0); /* the archived artifact's pack was rewritten */
    /* The version committed from the callback is there, and checks too. */
    assert_int_equal(resolve(c->reg, "demand", "DE/Late", "latest"), 1);
    EXPECT_OK(herd_registry_check_with(c->reg, NULL, NULL));
}

static void test_family_and_group_sources(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);

    /* From the artifact. */
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 1);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 1);

    /* From the options, for an artifact without them. */
    vo.family = "demand";
    vo.group = "b";
    assert_int_equal(add_one(c->reg, NULL, NULL, &vo), 1);
    assert_int_equal(resolve(c->reg, "demand", "b", "latest"), 1);

    /* The options win over the artifact. */
    vo.family = "supply";
    vo.group = "c";
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 1);
    assert_int_equal(resolve(c->reg, "supply", "c", "latest"), 1);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 1); /* unchanged */
    /* Only the family from the options, the group from the artifact. */
    vo.family = "supply";
    vo.group = NULL;
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 1);
    assert_int_equal(resolve(c->reg, "supply", "a", "latest"), 1);

    /* Neither: EINVAL naming what is missing; nothing added to the batch. */
    herd_batch *b = begin(c->reg);
    herd_artifact *none = make_art(NULL, NULL, NULL);
    EXPECT_RC(herd_batch_add(b, none, NULL, NULL), HERD_EINVAL, "family");
    vo.family = "demand";
    vo.group = NULL;
    EXPECT_RC(herd_batch_add(b, none, &vo, NULL), HERD_EINVAL, "group");
    vo.family = NULL;
    vo.group = "a";
    EXPECT_RC(herd_batch_add(b, none, &vo, NULL), HERD_EINVAL, "family");
    herd_artifact_free(none);
    /* An artifact family that is not a registry name (artifacts allow it). */
    herd_artifact *slash = make_art("de/mand", "a", NULL);
    EXPECT_RC(herd_batch_add(b, slash, NULL, NULL), HERD_EINVAL, "family");
    herd_artifact_free(slash);
    herd_artifact *spaced = make_art("my family", "a", NULL);
    EXPECT_RC(herd_batch_add(b, spaced, NULL, NULL), HERD_EINVAL, "family");
    herd_artifact_free(spaced);
    /* An artifact group with a control character. */
    herd_artifact *ctl = make_art("demand", "a\tb", NULL);
    EXPECT_RC(herd_batch_add(b, ctl, NULL, NULL), HERD_EINVAL, "group");
    herd_artifact_free(ctl);
    /* ... unless the options give a valid one instead. */
    herd_artifact *fixme = make_art("de/mand", "a\tb", NULL);
    vo.family = "demand";
    vo.group = "fixed";
    EXPECT_OK(herd_batch_add(b, fixme, &vo, NULL));
    herd_artifact_free(fixme);
    assert_int_equal(herd_batch_count(b), 1);
    EXPECT_OK(herd_batch_commit(b));
    assert_int_equal(batch_version(b, 0, NULL), 1);
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "fixed", "latest"), 1);

    herd_frame *f = search(c->reg, NULL);
    ASSERT_ROWS(f, "demand:a:1;demand:b:1;demand:fixed:1;supply:a:1;supply:c:1;");
    herd_frame_free(f);
}

/* ---- commit progress and the commit's log record ------------------------- */

typedef struct commit_watch {
    int calls, bad, records, commit_records;
    size_t last_done, groups_total;
    uint64_t last_bytes, bytes_total;
    char phase[16];
    char record[512];
} commit_watch;

static int commit_progress(const herd_progress *p, void *user)
{
    commit_watch *w = user;
    w->calls++;
    if (p->groups_done < w->last_done || p->bytes_done < w->last_bytes) w->bad++;
    if (p->groups_done > p->groups_total || p->bytes_done > p->bytes_total) w->bad++;
    w->last_done = p->groups_done;
    w->last_bytes = p->bytes_done;
    w->groups_total = p->groups_total;
    w->bytes_total = p->bytes_total;
    snprintf(w->phase, sizeof w->phase, "%s", p->phase);
    return 1; /* asks to cancel: a commit cannot be, and ignores it */
}

static void commit_record(const herd_log_record *r, void *user)
{
    commit_watch *w = user;
    w->records++;
    if (strncmp(r->message, "commit to ", 10) == 0) {
        w->commit_records++;
        snprintf(w->record, sizeof w->record, "%s", r->message);
    }
}

/* herd_batch_set_progress: a report at the start and at the end (counts
 * only growing, versions and bytes), the phase "commit", and one INFO
 * record per commit with versions, bytes, syncs and milliseconds. */
static void test_commit_progress_and_record(void **state)
{
    ctx *c = *state;
    commit_watch w;
    memset(&w, 0, sizeof w);
    EXPECT_OK(herd_log_set(commit_record, &w, HERD_LOG_INFO));
    herd_batch *b = begin(c->reg);
    assert_int_equal(herd_batch_set_progress(NULL, commit_progress, &w), HERD_EINVAL);
    EXPECT_OK(herd_batch_set_progress(b, commit_progress, &w));
    for (int i = 0; i < 20; i++) {
        char g[16];
        snprintf(g, sizeof g, "g%d", i);
        add_art(b, "f", g, NULL);
    }
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    EXPECT_OK(herd_log_set(NULL, NULL, 0));
    assert_true(w.calls >= 2);
    assert_int_equal(w.bad, 0);
    assert_string_equal(w.phase, "commit");
    assert_int_equal(w.groups_total, 20);
    assert_int_equal(w.last_done, 20);
    assert_true(w.bytes_total > 0);
    assert_true(w.last_bytes == w.bytes_total);
    assert_int_equal(w.commit_records, 1);
    char want[64];
    snprintf(want, sizeof want, "20 versions (20 new, 0 already committed)");
    assert_non_null(strstr(w.record, want));
    snprintf(want, sizeof want, "%llu bytes", (unsigned long long)w.bytes_total);
    assert_non_null(strstr(w.record, want));
    assert_non_null(strstr(w.record, " syncs, "));
    assert_non_null(strstr(w.record, " ms"));
}

/* ========================================================================
 * Idempotency
 * ===================================================================== */

static void test_idempotency(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.idempotency_key = "run7:a";
    vo.run_id = "run7";
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 1);
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 2);

    /* The retried task: the same key adds nothing and returns version 1. */
    herd_batch *b = begin(c->reg);
    size_t i0 = add_art(b, "demand", "a", &vo);
    herd_version_options vb;
    herd_version_options_init(&vb, HERD_VERSION_OPTIONS_VERSION);
    vb.idempotency_key = "run7:b";
    size_t i1 = add_art(b, "demand", "b", &vb);
    EXPECT_OK(herd_batch_commit(b));
    int existed = -1;
    assert_int_equal(batch_version(b, i0, &existed), 1);
    assert_int_equal(existed, 1);
    assert_int_equal(batch_version(b, i1, &existed), 1);
    assert_int_equal(existed, 0);
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 2);
    assert_int_equal(count_versions(c->reg, "demand", "b"), 1);

    /* Again, through the bytes path. */
    herd_artifact *a = make_art("demand", "a", NULL);
    size_t len = 0;
    unsigned char *bytes = art_bytes(a, &len);
    herd_artifact_free(a);
    b = begin(c->reg);
    EXPECT_OK(herd_batch_add_bytes(b, bytes, len, &vo, NULL));
    EXPECT_OK(herd_batch_commit(b));
    assert_int_equal(batch_version(b, 0, &existed), 1);
    assert_int_equal(existed, 1);
    herd_batch_free(b);
    free(bytes);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 2);

    /* The key is recorded. */
    herd_frame *f = versions(c->reg, "demand", "a");
    assert_string_equal(cell_s(f, "idempotency_key", 0), "run7:a");
    assert_null(cell_s(f, "idempotency_key", 1));
    herd_frame_free(f);

    /* Two adds with one key in one batch (the header does not say; the
     * reading taken: the second is the same version as the first, and one
     * version is created). */
    b = begin(c->reg);
    herd_version_options vc;
    herd_version_options_init(&vc, HERD_VERSION_OPTIONS_VERSION);
    vc.idempotency_key = "run8:c";
    size_t j0 = add_art(b, "demand", "c", &vc);
    herd_artifact *ac = make_art("demand", "c", NULL);
    size_t j1 = 77;
    int rc = herd_batch_add(b, ac, &vc, &j1);
    herd_artifact_free(ac);
    if (rc != HERD_OK) fail_msg("a second add with the same key in one batch failed: %s (%s)",
                                herd_status_str(rc), herd_last_error());
    EXPECT_OK(herd_batch_commit(b));
    int e0 = -1, e1 = -1;
    int64_t v0 = batch_version(b, j0, &e0), v1 = batch_version(b, j1, &e1);
    herd_batch_free(b);
    assert_int_equal(v0, 1);
    assert_int_equal(e0, 0);
    assert_int_equal(v1, 1);
    assert_int_equal(count_versions(c->reg, "demand", "c"), 1);
    print_message("same key twice in one batch: versions %lld (existed %d), %lld (existed %d)\n",
                  (long long)v0, e0, (long long)v1, e1);

    /* A key names one group's version: reused for another group, committed
     * before or in the same batch, the commit fails whole (HERD_ECONFLICT,
     * as herd_batch_commit's comment says) and adds nothing. */
    b = begin(c->reg);
    add_art(b, "demand", "d", NULL);
    add_art(b, "demand", "e", &vo); /* "run7:a", committed for demand/a */
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, "was committed for demand/a version 1");
    herd_batch_free(b);
    b = begin(c->reg);
    vc.idempotency_key = "run9:x";
    add_art(b, "demand", "d", &vc);
    add_art(b, "demand", "e", &vc);
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, "demand/d and demand/e in one batch");
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 2);
    assert_int_equal(count_versions(c->reg, "demand", "d"), 0);
    assert_int_equal(count_versions(c->reg, "demand", "e"), 0);
}

/* ========================================================================
 * Tags and metrics
 * ===================================================================== */

static void test_tags_and_metrics(void **state)
{
    ctx *c = *state;
    herd_artifact *a = make_art_meta(
        "demand", "a", "r1",
        "\"metrics\":{\"rmse\":0.5,\"mae\":0.25},\"fingerprint\":\"0123456789abcdef\"");
    double m = 0;
    EXPECT_OK(herd_artifact_metric(a, "rmse", &m));
    assert_true(m == 0.5);

    const char *tn[] = {"stage", "owner"}, *tv[] = {"prod", "ml team"};
    const char *mn[] = {"mae", "wape"};
    const double mv[] = {0.125, 0.3};
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.tag_names = tn;
    vo.tag_values = tv;
    vo.n_tags = 2;
    vo.metric_names = mn;
    vo.metric_values = mv;
    vo.n_metrics = 2;
    herd_batch *b = begin(c->reg);
    EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
    herd_artifact_free(a); /* the batch keeps its own copy */
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    add_one(c->reg, "demand", "a", NULL); /* version 2: no tags, no metrics */

    herd_frame *f = versions(c->reg, "demand", "a");
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_json(cell_s(f, "tags", 0), "{\"stage\":\"prod\",\"owner\":\"ml team\"}");
    assert_json(cell_s(f, "metrics", 0), "{\"rmse\":0.5,\"mae\":0.125,\"wape\":0.3}");
    assert_string_equal(cell_s(f, "fingerprint", 0), "0123456789abcdef");
    assert_string_equal(cell_s(f, "run_id", 0), "r1");
    assert_json_empty(cell_s(f, "tags", 1));
    assert_json_empty(cell_s(f, "metrics", 1));
    assert_null(cell_s(f, "fingerprint", 1));
    assert_null(cell_s(f, "run_id", 1));
    herd_frame_free(f);

    /* The metric is searchable with its value from the options. */
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.metric = "mae";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:a:1;");
    assert_int_equal(herd_frame_column_type(f, col_of(f, "mae")), D);
    assert_true(cell_d(f, "mae", 0) == 0.125);
    herd_frame_free(f);

    /* Tag limits: a value of HERD_TAG_VALUE_MAX bytes is fine, one more is
     * refused. */
    char *big = malloc(HERD_TAG_VALUE_MAX + 2);
    assert_non_null(big);
    memset(big, 'v', HERD_TAG_VALUE_MAX + 1);
    big[HERD_TAG_VALUE_MAX] = '\0';
    const char *bn[] = {"note"}, *bv[] = {big};
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.tag_names = bn;
    vo.tag_values = bv;
    vo.n_tags = 1;
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 3);
    f = versions(c->reg, "demand", "a");
    cJSON *tags = cJSON_Parse(cell_s(f, "tags", 2));
    assert_non_null(tags);
    cJSON *note = cJSON_GetObjectItemCaseSensitive(tags, "note");
    assert_true(cJSON_IsString(note));
    assert_int_equal(strlen(note->valuestring), HERD_TAG_VALUE_MAX);
    cJSON_Delete(tags);
    herd_frame_free(f);

    big[HERD_TAG_VALUE_MAX] = 'v';
    big[HERD_TAG_VALUE_MAX + 1] = '\0';
    herd_artifact *plain = make_art("demand", "a", NULL);
    b = begin(c->reg);
    herd_clear_error();
    int rc = herd_batch_add(b, plain, &vo, NULL);
    if (rc != HERD_EINVAL && rc != HERD_ELIMIT)
        fail_msg("a tag value of %d bytes gave %s: %s", HERD_TAG_VALUE_MAX + 1,
                 herd_status_str(rc), herd_last_error());
    ERR_HAS("4096");
    ERR_HAS("tag");
    /* A tag value that is not UTF-8. */
    const char *badv[] = {"caf\xC3"};
    vo.tag_values = badv;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "UTF-8");
    /* Bad tag names. */
    const char *badn[] = {"bad name"}, *okv[] = {"x"};
    vo.tag_names = badn;
    vo.tag_values = okv;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "tag");
    const char *slashn[] = {"a/b"};
    vo.tag_names = slashn;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "tag");
    const char *nulln[] = {NULL};
    vo.tag_names = nulln;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "tag");
    const char *okn[] = {"ok"}, *nullv[] = {NULL};
    vo.tag_names = okn;
    vo.tag_values = nullv;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "tag");
    /* Counts without arrays. */
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.n_tags = 1;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "tag");
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.n_metrics = 1;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "metric");
    /* A metric without a name. */
    const char *emptyname[] = {""};
    vo.metric_names = emptyname;
    vo.metric_values = mv;
    EXPECT_RC(herd_batch_add(b, plain, &vo, NULL), HERD_EINVAL, "metric");
    assert_int_equal(herd_batch_count(b), 0);
    herd_batch_free(b);
    herd_artifact_free(plain);
    free(big);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 3);
}

/* ========================================================================
 * Aliases
 * ===================================================================== */

static void test_aliases(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "challenger";
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 1);
    assert_int_equal(resolve(c->reg, "demand", "a", "challenger"), 1);
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 2);
    assert_int_equal(resolve(c->reg, "demand", "a", "challenger"), 2);
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 3);
    assert_int_equal(resolve(c->reg, "demand", "a", "challenger"), 2);

    /* Point champion at an existing version, then move it. */
    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.reason = "first champion";
    ao.details = "{\"rmse\":1.5}";
    ao.run_id = "promo1";
    herd_batch *b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao));
    assert_int_equal(herd_batch_count(b), 0);
    int64_t v = -7;
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "champion", &v), HERD_ENOTFOUND,
              "champion");
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 1);
    set_alias(c->reg, "demand", "a", "champion", 3);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 3);

    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_groups(c->reg, "demand", &f));
    assert_int_equal(herd_frame_row_count(f), 1);
    assert_list(cell_s(f, "aliases", 0), "champion=3,challenger=2");
    herd_frame_free(f);
    f = versions(c->reg, "demand", "a");
    assert_list(cell_s(f, "aliases", 0), "");
    assert_list(cell_s(f, "aliases", 1), "challenger");
    assert_list(cell_s(f, "aliases", 2), "champion");
    herd_frame_free(f);

    /* Two aliases on one version. */
    set_alias(c->reg, "demand", "a", "challenger", 3);
    f = versions(c->reg, "demand", "a");
    assert_list(cell_s(f, "aliases", 1), "");
    assert_list(cell_s(f, "aliases", 2), "champion,challenger");
    herd_frame_free(f);

    /* Delete (version 0). */
    set_alias(c->reg, "demand", "a", "challenger", 0);
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "challenger", &v), HERD_ENOTFOUND,
              "challenger");
    EXPECT_OK(herd_registry_groups(c->reg, "demand", &f));
    assert_list(cell_s(f, "aliases", 0), "champion=3");
    herd_frame_free(f);

    /* An alias at a missing version: the commit fails and nothing of the
     * batch is committed (neither the version, the other alias, nor the
     * run). */
    b = begin(c->reg);
    add_art(b, "demand", "a", NULL);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 1, NULL));
    EXPECT_OK(herd_batch_set_run(b, "r9", "{}", NULL));
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "staging", 77, NULL));
    EXPECT_RC(herd_batch_commit(b), HERD_ENOTFOUND, "77");
    int existed = 0;
    assert_true(herd_batch_version(b, 0, &v, &existed) < 0);
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 3);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 3);
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "staging", &v), HERD_ENOTFOUND,
              "staging");
    EXPECT_OK(herd_registry_runs(c->reg, &f));
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);

    /* Aliases of a missing group or family. */
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "nogroup", "champion", 1, NULL));
    EXPECT_RC(herd_batch_commit(b), HERD_ENOTFOUND, "nogroup");
    herd_batch_free(b);
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "nofamily", "a", "champion", 1, NULL));
    EXPECT_RC(herd_batch_commit(b), HERD_ENOTFOUND, "nofamily");
    herd_batch_free(b);

    /* "latest" is reserved, in both ways of setting an alias. */
    b = begin(c->reg);
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "latest", 1, NULL), HERD_EINVAL, "latest");
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "latest", 0, NULL), HERD_EINVAL, "latest");
    herd_artifact *a = make_art("demand", "a", NULL);
    vo.alias = "latest";
    EXPECT_RC(herd_batch_add(b, a, &vo, NULL), HERD_EINVAL, "latest");
    /* Bad alias names and versions. */
    vo.alias = "a/b";
    EXPECT_RC(herd_batch_add(b, a, &vo, NULL), HERD_EINVAL, "alias");
    vo.alias = "";
    EXPECT_RC(herd_batch_add(b, a, &vo, NULL), HERD_EINVAL, "alias");
    herd_artifact_free(a);
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "a/b", 1, NULL), HERD_EINVAL, "alias");
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "..", 1, NULL), HERD_EINVAL, "alias");
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "", 1, NULL), HERD_EINVAL, "alias");
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "champion", -1, NULL), HERD_EINVAL,
              "version");
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.expect_version = -2;
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL,
              "expect_version");
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.run_id = "bad run";
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL, "run");
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.details = "{\"rmse\":";
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL,
              "details");
    ao.details = "[1, 2]";
    EXPECT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL,
              "details");
    /* Duplicate keys (docs/design.md, cJSON pitfalls: reject them) and trailing text. */
    ao.details = "{\"a\":1,\"a\":2}";
    SOFT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL, "details");
    ao.details = "{\"a\":1} trailing";
    SOFT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL, "details");
    ao.details = "{\"a\":\"\\u0000\"}";
    SOFT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL, "details");
    ao.details = "{\"a\":\"caf\xC3\"}";
    SOFT_RC(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), HERD_EINVAL, "details");
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 3);

    /* An alias named like a version number is a name like any other. */
    set_alias(c->reg, "demand", "a", "v2", 2);
    assert_int_equal(resolve(c->reg, "demand", "a", "v2"), 2);
    /* None of the refused moves was recorded. */
    herd_frame *h = NULL;
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", "a", "champion", &h));
    assert_int_equal(herd_frame_row_count(h), 2);
    herd_frame_free(h);
    soft_done();
}

static void test_alias_expect_version(void **state)
{
    ctx *c = *state;
    for (int i = 1; i <= 3; i++) assert_int_equal(add_one(c->reg, "demand", "a", NULL), i);
    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);

    /* 0: the alias must not exist. */
    ao.expect_version = 0;
    herd_batch *b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 1);
    b = begin(c->reg);
    add_art(b, "demand", "a", NULL);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 2, &ao));
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, "champion");
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 1);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 3);

    /* N: it must point at N. */
    ao.expect_version = 1;
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 2, &ao));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 2);

    /* A stale expectation fails the whole commit; after the registry moves
     * on, the same batch may be committed again (header: "after an error it
     * may be committed again"), and then not a third time. */
    b = begin(c->reg);
    size_t idx = add_art(b, "demand", "a", NULL);
    ao.expect_version = 1;
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 3, &ao));
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, "champion");
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 2);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 3);
    set_alias(c->reg, "demand", "a", "champion", 1);
    EXPECT_OK(herd_batch_commit(b));
    assert_int_equal(batch_version(b, idx, NULL), 4);
    int rc = herd_batch_commit(b);
    assert_true(rc < 0);
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 3);
    assert_int_equal(count_versions(c->reg, "demand", "a"), 4);

    /* A conditional delete. */
    ao.expect_version = 2;
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 0, &ao));
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, "champion");
    herd_batch_free(b);
    ao.expect_version = 3;
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 0, &ao));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    int64_t v = -7;
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "champion", &v), HERD_ENOTFOUND,
              "champion");

    /* The check is made against the registry at commit, not the handle's
     * snapshot: a stale handle's expectation fails. */
    herd_registry *r2 = open_reg(c->path);
    set_alias(c->reg, "demand", "a", "champion", 4);
    ao.expect_version = 0; /* true in r2's snapshot, false on disk */
    b = begin(r2);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao));
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, "champion");
    herd_batch_free(b);
    herd_registry_free(r2);
    EXPECT_OK(herd_registry_refresh(c->reg));
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 4);
}

/* ========================================================================
 * Resolve, load, URIs
 * ===================================================================== */

static void test_resolve(void **state)
{
    ctx *c = *state;
    for (int i = 1; i <= 3; i++) assert_int_equal(add_one(c->reg, "demand", "a", NULL), i);
    set_alias(c->reg, "demand", "a", "champion", 2);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 3);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 2);

    int64_t v = -7;
    EXPECT_RC(herd_registry_resolve(c->reg, "nofam", "a", "champion", &v), HERD_ENOTFOUND,
              "nofam");
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "nogroup", "champion", &v),
              HERD_ENOTFOUND, "nogroup");
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "noalias", &v), HERD_ENOTFOUND,
              "noalias");
    EXPECT_RC(herd_registry_resolve(c->reg, "nofam", "a", "latest", &v), HERD_ENOTFOUND,
              "nofam");
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "nogroup", "latest", &v),
              HERD_ENOTFOUND, "nogroup");
    /* Bad names are EINVAL, not ENOTFOUND. */
    EXPECT_RC(herd_registry_resolve(c->reg, "de/mand", "a", "latest", &v), HERD_EINVAL,
              "family");
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "", "latest", &v), HERD_EINVAL, "group");
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "bad alias", &v), HERD_EINVAL,
              "alias");

    /* latest skips archived versions. */
    archive(c->reg, "demand", "a", 3);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 2);
    set_alias(c->reg, "demand", "a", "champion", 1);
    archive(c->reg, "demand", "a", 2);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 1);
    set_alias(c->reg, "demand", "a", "champion", 0);
    archive(c->reg, "demand", "a", 1);
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "latest", &v), HERD_ENOTFOUND,
              NULL);
    /* A new version is 4 (numbers are never reused), and is latest. */
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 4);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 4);
}

static void test_load_and_uris(void **state)
{
    ctx *c = *state;
    const char *key = "DE/Berlin";
    herd_batch *b = begin(c->reg);
    for (int i = 1; i <= 3; i++) {
        char run[16];
        snprintf(run, sizeof run, "r%d", i);
        herd_artifact *a = make_art("demand", key, run);
        EXPECT_OK(herd_batch_add(b, a, NULL, NULL));
        herd_artifact_free(a);
    }
    herd_artifact *odd = make_art("demand", "a b%c?#@/é", "r9");
    EXPECT_OK(herd_batch_add(b, odd, NULL, NULL));
    herd_artifact_free(odd);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    set_alias(c->reg, "demand", key, "champion", 1);

    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load(c->reg, "demand", key, 2, &a));
    assert_same_model(a);
    assert_string_equal(art_field(a, "run_id"), "r2");
    assert_string_equal(art_field(a, "group"), key);
    assert_string_equal(art_field(a, "family"), "demand");
    herd_artifact_free(a);

    static const struct {
        const char *uri;
        const char *run;
    } ok[] = {
        {"herd:demand/DE%2FBerlin@champion", "r1"},
        {"herd:demand/DE%2FBerlin/2", "r2"},
        {"herd:demand/DE%2FBerlin/3", "r3"},
        {"herd:demand/DE%2FBerlin", "r3"},
        {"herd:demand/DE%2FBerlin@latest", "r3"},
        {"herd:demand/a%20b%25c%3F%23%40%2F%C3%A9", "r9"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        a = NULL;
        int rc = herd_registry_load_uri(c->reg, ok[i].uri, &a);
        if (rc) fail_msg("%s: %s: %s", ok[i].uri, herd_status_str(rc), herd_last_error());
        assert_string_equal(art_field(a, "run_id"), ok[i].run);
        assert_same_model(a);
        herd_artifact_free(a);
    }

    /* The uri column is a URI that loads the row's version. */
    herd_frame *f = versions(c->reg, "demand", key);
    assert_string_equal(cell_s(f, "uri", 0), "herd:demand/DE%2FBerlin/1");
    assert_string_equal(cell_s(f, "uri", 2), "herd:demand/DE%2FBerlin/3");
    herd_frame_free(f);
    f = versions(c->reg, "demand", "a b%c?#@/é");
    a = NULL;
    EXPECT_OK(herd_registry_load_uri(c->reg, cell_s(f, "uri", 0), &a));
    assert_string_equal(art_field(a, "run_id"), "r9");
    herd_artifact_free(a);
    herd_frame_free(f);

    static const struct {
        const char *uri;
        int code;
        const char *text;
    } bad[] = {
        {"demand/DE%2FBerlin", HERD_EINVAL, NULL},
        {"http:demand/a/1", HERD_EINVAL, NULL},
        {"herd:", HERD_EINVAL, NULL},
        {"herd:demand", HERD_EINVAL, NULL},
        {"herd:demand/", HERD_EINVAL, NULL},
        {"herd:/a/1", HERD_EINVAL, NULL},
        {"herd:demand/DE%2", HERD_EINVAL, NULL},
        {"herd:demand/DE%ZZ", HERD_EINVAL, NULL},
        {"herd:demand/DE%2FBerlin/0", HERD_EINVAL, NULL},
        {"herd:demand/DE%2FBerlin/-1", HERD_EINVAL, NULL},
        {"herd:demand/DE%2FBerlin/x", HERD_EINVAL, NULL},
        {"herd:demand/DE%2FBerlin@", HERD_EINVAL, NULL},
        {"herd:demand/DE%2FBerlin@bad alias", HERD_EINVAL, NULL},
        {"herd:de mand/a", HERD_EINVAL, NULL},
        {"herd:demand/a%00b", HERD_EINVAL, NULL},
        {"herd:demand/DE%2FBerlin/9", HERD_ENOTFOUND, "9"},
        {"herd:demand/DE%2FBerlin@staging", HERD_ENOTFOUND, "staging"},
        {"herd:demand/DE%2FParis@champion", HERD_ENOTFOUND, "DE/Paris"},
        {"herd:supply/DE%2FBerlin", HERD_ENOTFOUND, "supply"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        a = (herd_artifact *)1;
        herd_clear_error();
        int rc = herd_registry_load_uri(c->reg, bad[i].uri, &a);
        if (rc != bad[i].code)
            soft_fail("%s gave %s, expected %s: %s", bad[i].uri, herd_status_str(rc),
                      herd_status_str(bad[i].code), herd_last_error());
        else if (bad[i].text && !strstr(herd_last_error(), bad[i].text))
            soft_fail("%s: \"%s\" lacks \"%s\"", bad[i].uri, herd_last_error(), bad[i].text);
        if (rc == HERD_OK) herd_artifact_free(a);
        else assert_null(a);
    }

    /* herd_registry_load's own errors. */
    a = (herd_artifact *)1;
    EXPECT_RC(herd_registry_load(c->reg, "demand", key, 9, &a), HERD_ENOTFOUND, "9");
    assert_null(a);
    /* Versions start at 1: 0 and below are out of range (docs/api.md:
     * out-of-range arguments are HERD_EINVAL naming the argument). */
    SOFT_RC(herd_registry_load(c->reg, "demand", key, 0, &a), HERD_EINVAL, "version");
    SOFT_RC(herd_registry_load(c->reg, "demand", key, -3, &a), HERD_EINVAL, "version");
    EXPECT_RC(herd_registry_load(c->reg, "demand", "DE/Paris", 1, &a), HERD_ENOTFOUND,
              "DE/Paris");
    EXPECT_RC(herd_registry_load(c->reg, "supply", key, 1, &a), HERD_ENOTFOUND, "supply");
    EXPECT_RC(herd_registry_load(c->reg, "sup/ply", key, 1, &a), HERD_EINVAL, "family");
    soft_done();
}

/* ========================================================================
 * Archive and gc
 * ===================================================================== */

static void test_archive_and_gc(void **state)
{
    ctx *c = *state;
    for (int i = 1; i <= 4; i++) assert_int_equal(add_one(c->reg, "demand", "a", NULL), i);
    assert_int_equal(add_one(c->reg, "demand", "b", NULL), 1);
    set_alias(c->reg, "demand", "a", "champion", 1);

    herd_batch *b = begin(c->reg);
    EXPECT_OK(herd_batch_archive(b, "demand", "a", 2, "worse than 1"));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);

    herd_frame *f = versions(c->reg, "demand", "a");
    ASSERT_ROWS(f, "demand:a:1;demand:a:2;demand:a:3;demand:a:4;");
    assert_string_equal(cell_s(f, "status", 0), "active");
    assert_string_equal(cell_s(f, "status", 1), "archived");
    assert_string_equal(cell_s(f, "status", 2), "active");
    herd_frame_free(f);
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.family = "demand";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:a:1;demand:a:3;demand:a:4;demand:b:1;");
    herd_frame_free(f);
    so.include_archived = 1;
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:a:1;demand:a:2;demand:a:3;demand:a:4;demand:b:1;");
    assert_string_equal(cell_s(f, "status", 1), "archived");
    herd_frame_free(f);

    /* latest skips it. */
    archive(c->reg, "demand", "a", 4);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 3);

    /* The champion's version cannot be archived: its alias must be moved
     * first.  Nothing of that batch is committed. */
    b = begin(c->reg);
    add_art(b, "demand", "b", NULL);
    herd_clear_error();
    int rc = herd_batch_archive(b, "demand", "a", 1, "oops");
    if (rc == HERD_OK) rc = herd_batch_commit(b);
    if (rc >= 0) fail_msg("archiving the champion's version succeeded");
    if (!strstr(herd_last_error(), "champion"))
        fail_msg("the refusal does not name the alias: \"%s\"", herd_last_error());
    print_message("archiving an aliased version: %s: %s\n", herd_status_str(rc),
                  herd_last_error());
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, "demand", "b"), 1);
    f = versions(c->reg, "demand", "a");
    assert_string_equal(cell_s(f, "status", 0), "active");
    herd_frame_free(f);

    /* A missing version. */
    b = begin(c->reg);
    EXPECT_OK(herd_batch_archive(b, "demand", "a", 99, NULL));
    EXPECT_RC(herd_batch_commit(b), HERD_ENOTFOUND, "99");
    herd_batch_free(b);
    b = begin(c->reg);
    EXPECT_RC(herd_batch_archive(b, "demand", "a", 0, NULL), HERD_EINVAL, "version");
    EXPECT_RC(herd_batch_archive(b, "demand", "a", -1, NULL), HERD_EINVAL, "version");
    EXPECT_RC(herd_batch_archive(b, "de/mand", "a", 1, NULL), HERD_EINVAL, "family");
    EXPECT_RC(herd_batch_archive(b, "demand", "", 1, NULL), HERD_EINVAL, "group");
    herd_batch_free(b);

    /* Before gc an archived version still loads. */
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load(c->reg, "demand", "a", 2, &a));
    assert_same_model(a);
    herd_artifact_free(a);

    /* families counts them. */
    EXPECT_OK(herd_registry_families(c->reg, &f));
    assert_int_equal(herd_frame_row_count(f), 1);
    assert_string_equal(cell_s(f, "family", 0), "demand");
    assert_int_equal(cell_i(f, "groups", 0), 2);
    assert_int_equal(cell_i(f, "versions", 0), 5);
    assert_int_equal(cell_i(f, "archived", 0), 2);
    herd_frame_free(f);

    herd_frame *before = NULL;
    f = search(c->reg, &so);
    before = f;

    uint64_t reclaimed = 0;
    EXPECT_OK(herd_registry_gc(c->reg, &reclaimed));
    assert_true(reclaimed > 0);
    a = (herd_artifact *)1;
    EXPECT_RC(herd_registry_load(c->reg, "demand", "a", 2, &a), HERD_ENOTFOUND, NULL);
    assert_null(a);
    EXPECT_RC(herd_registry_load(c->reg, "demand", "a", 4, &a), HERD_ENOTFOUND, NULL);
    for (int v = 1; v <= 3; v += 2) {
        a = NULL;
        EXPECT_OK(herd_registry_load(c->reg, "demand", "a", v, &a));
        assert_same_model(a);
        herd_artifact_free(a);
    }
    a = NULL;
    EXPECT_OK(herd_registry_load(c->reg, "demand", "b", 1, &a));
    herd_artifact_free(a);
    EXPECT_OK(herd_registry_load_uri(c->reg, "herd:demand/a@champion", &a));
    herd_artifact_free(a);
    /* Metadata and history stay. */
    f = search(c->reg, &so);
    /* The archived rows' "size" may change (their artifacts are gone). */
    assert_frames_equal_but(before, f, "search after gc", "size");
    for (size_t r = 0; r < herd_frame_row_count(f); r++)
        if (!strcmp(cell_s(f, "status", r), "active"))
            assert_int_equal(cell_i(f, "size", r), cell_i(before, "size", r));
        else
            print_message("archived %s/%lld: size %lld before gc, %lld after\n",
                          cell_s(f, "group", r), (long long)cell_i(f, "version", r),
                          (long long)cell_i(before, "size", r), (long long)cell_i(f, "size", r));
    herd_frame_free(f);
    EXPECT_OK(herd_registry_check(c->reg, NULL));

    /* Nothing more to reclaim; gc with NULL is allowed. */
    reclaimed = 99;
    EXPECT_OK(herd_registry_gc(c->reg, &reclaimed));
    assert_int_equal(reclaimed, 0);
    EXPECT_OK(herd_registry_gc(c->reg, NULL));

    /* Another handle sees the same after reopening. */
    herd_registry *r2 = open_reg(c->path);
    f = search(r2, &so);
    assert_frames_equal_but(before, f, "search after gc, reopened", "size");
    herd_frame_free(f);
    EXPECT_RC(herd_registry_load(r2, "demand", "a", 2, &a), HERD_ENOTFOUND, NULL);
    a = NULL;
    EXPECT_OK(herd_registry_load(r2, "demand", "a", 3, &a));
    herd_artifact_free(a);
    EXPECT_OK(herd_registry_check(r2, NULL));
    herd_registry_free(r2);
    herd_frame_free(before);

    /* Numbering goes on after gc. */
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 5);
}

/* ========================================================================
 * Listings
 * ===================================================================== */

static void test_listings(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.run_id = "run1";
    vo.alias = "champion";
    assert_int_equal(add_one(c->reg, "demand", "store_2", &vo), 1);
    vo.alias = NULL;
    assert_int_equal(add_one(c->reg, "demand", "store_2", &vo), 2);
    vo.alias = "challenger";
    assert_int_equal(add_one(c->reg, "demand", "store_2", &vo), 3);
    assert_int_equal(add_one(c->reg, "demand", "store_10", NULL), 1);
    assert_int_equal(add_one(c->reg, "demand", "DE/Berlin", NULL), 1);
    assert_int_equal(add_one(c->reg, "alpha", "x", NULL), 1);
    assert_int_equal(add_one(c->reg, "alpha", "x", NULL), 2);
    archive(c->reg, "alpha", "x", 2);

    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_families(c->reg, &f));
    static const char *const fam_names[] = {"family", "groups", "versions", "archived"};
    static const int fam_types[] = {S, I, I, I};
    assert_columns(f, fam_names, fam_types, 4);
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_string_equal(cell_s(f, "family", 0), "alpha");
    assert_int_equal(cell_i(f, "groups", 0), 1);
    assert_int_equal(cell_i(f, "versions", 0), 2);
    assert_int_equal(cell_i(f, "archived", 0), 1);
    assert_string_equal(cell_s(f, "family", 1), "demand");
    assert_int_equal(cell_i(f, "groups", 1), 3);
    assert_int_equal(cell_i(f, "versions", 1), 5);
    assert_int_equal(cell_i(f, "archived", 1), 0);
    herd_frame_free(f);

    f = NULL;
    EXPECT_OK(herd_registry_groups(c->reg, "demand", &f));
    static const char *const grp_names[] = {"family", "group", "versions", "latest", "aliases"};
    static const int grp_types[] = {S, S, I, I, S};
    assert_columns(f, grp_names, grp_types, 5);
    assert_int_equal(herd_frame_row_count(f), 3);
    /* by key, bytewise */
    assert_string_equal(cell_s(f, "group", 0), "DE/Berlin");
    assert_string_equal(cell_s(f, "group", 1), "store_10");
    assert_string_equal(cell_s(f, "group", 2), "store_2");
    for (size_t r = 0; r < 3; r++) assert_string_equal(cell_s(f, "family", r), "demand");
    assert_int_equal(cell_i(f, "versions", 0), 1);
    assert_int_equal(cell_i(f, "latest", 0), 1);
    assert_list(cell_s(f, "aliases", 0), "");
    assert_int_equal(cell_i(f, "versions", 2), 3);
    assert_int_equal(cell_i(f, "latest", 2), 3);
    assert_list(cell_s(f, "aliases", 2), "champion=1,challenger=3");
    herd_frame_free(f);

    f = NULL;
    EXPECT_OK(herd_registry_groups(c->reg, "alpha", &f));
    assert_int_equal(herd_frame_row_count(f), 1);
    assert_int_equal(cell_i(f, "versions", 0), 2);
    assert_int_equal(cell_i(f, "latest", 0), 1); /* the newest not archived */
    herd_frame_free(f);

    /* A family without groups. */
    f = (herd_frame *)1;
    herd_clear_error();
    int rc = herd_registry_groups(c->reg, "nofamily", &f);
    if (rc == HERD_OK) {
        assert_int_equal(herd_frame_row_count(f), 0);
        assert_columns(f, grp_names, grp_types, 5);
        herd_frame_free(f);
    } else {
        assert_int_equal(rc, HERD_ENOTFOUND);
        ERR_HAS("nofamily");
        assert_null(f);
    }
    EXPECT_RC(herd_registry_groups(c->reg, "no/family", &f), HERD_EINVAL, "family");

    /* Versions: every column, exact values. */
    f = versions(c->reg, "demand", "store_2");
    assert_version_columns(f);
    assert_int_equal(herd_frame_row_count(f), 3);
    herd_artifact *ref = make_art(NULL, NULL, NULL);
    size_t ref_len = 0;
    unsigned char *ref_bytes = art_bytes(ref, &ref_len);
    free(ref_bytes);
    herd_artifact_free(ref);
    for (size_t r = 0; r < 3; r++) {
        assert_string_equal(cell_s(f, "family", r), "demand");
        assert_string_equal(cell_s(f, "group", r), "store_2");
        assert_int_equal(cell_i(f, "version", r), (int64_t)r + 1);
        assert_string_equal(cell_s(f, "status", r), "active");
        assert_rfc3339(cell_s(f, "created", r));
        assert_rfc3339(cell_s(f, "registered", r));
        /* to the second: "registered" may carry a fraction */
        assert_true(strncmp(cell_s(f, "registered", r), cell_s(f, "created", r), 19) >= 0);
        assert_string_equal(cell_s(f, "run_id", r), "run1");
        assert_null(cell_s(f, "fingerprint", r));
        assert_null(cell_s(f, "idempotency_key", r));
        assert_json_empty(cell_s(f, "tags", r));
        assert_json_empty(cell_s(f, "metrics", r));
        /* The stored artifact: about the size of the blob (the registry may
         * add its version number to the metadata). */
        int64_t size = cell_i(f, "size", r);
        if (size < (int64_t)ref_len - 64 || size > (int64_t)ref_len + 256)
            fail_msg("size %lld, the artifact is %zu bytes", (long long)size, ref_len);
        char uri[64];
        snprintf(uri, sizeof uri, "herd:demand/store_2/%zu", r + 1);
        assert_string_equal(cell_s(f, "uri", r), uri);
    }
    assert_list(cell_s(f, "aliases", 0), "champion");
    assert_list(cell_s(f, "aliases", 1), "");
    assert_list(cell_s(f, "aliases", 2), "challenger");
    herd_frame_free(f);

    /* The versions of a missing group. */
    f = (herd_frame *)1;
    herd_clear_error();
    rc = herd_registry_versions(c->reg, "demand", "store_99", &f);
    if (rc == HERD_OK) {
        assert_int_equal(herd_frame_row_count(f), 0);
        assert_version_columns(f);
        herd_frame_free(f);
    } else {
        assert_int_equal(rc, HERD_ENOTFOUND);
        ERR_HAS("store_99");
        assert_null(f);
    }
    EXPECT_RC(herd_registry_versions(c->reg, "demand", "", &f), HERD_EINVAL, "group");
}

/* ========================================================================
 * Search
 * ===================================================================== */

static void search_fixture(herd_registry *reg)
{
    /* demand/store_1: v1 rmse 1.0 tag stage=prod, v2 rmse NaN, v3 rmse 3.0
     *                 tag stage=dev, champion -> 1
     * demand/store_2: v1 rmse 2.0 tag stage=prod, champion -> 1
     * demand/store_10: v1 (no metric) tag owner=ml; v2 rmse 0.5, archived
     * demand/x9: v1 rmse 5.0
     * other/store_1: v1 rmse 1.5, champion -> 1 */
    static const struct {
        const char *family, *group;
        double rmse;
        const char *tag, *value;
    } rows[] = {
        {"demand", "store_1", 1.0, "stage", "prod"},
        {"demand", "store_1", NAN, NULL, NULL},
        {"demand", "store_1", 3.0, "stage", "dev"},
        {"demand", "store_2", 2.0, "stage", "prod"},
        {"demand", "store_10", -1, "owner", "ml"},
        {"demand", "store_10", 0.5, NULL, NULL},
        {"demand", "x9", 5.0, NULL, NULL},
        {"other", "store_1", 1.5, NULL, NULL},
    };
    herd_batch *b = begin(reg);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        const char *mn[] = {"rmse"};
        double mv[] = {rows[i].rmse};
        if (rows[i].rmse != -1) {
            vo.metric_names = mn;
            vo.metric_values = mv;
            vo.n_metrics = 1;
        }
        const char *tn[] = {rows[i].tag}, *tv[] = {rows[i].value};
        if (rows[i].tag) {
            vo.tag_names = tn;
            vo.tag_values = tv;
            vo.n_tags = 1;
        }
        add_art(b, rows[i].family, rows[i].group, &vo);
    }
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    b = begin(reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "store_1", "champion", 1, NULL));
    EXPECT_OK(herd_batch_set_alias(b, "demand", "store_2", "champion", 1, NULL));
    EXPECT_OK(herd_batch_set_alias(b, "other", "store_1", "champion", 1, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    archive(reg, "demand", "store_10", 2);
}

static void test_search(void **state)
{
    ctx *c = *state;
    search_fixture(c->reg);
    herd_search_options so;
    herd_frame *f;

    /* Everything active, ordered by family, group (bytewise), version. */
    f = search(c->reg, NULL);
    assert_version_columns(f);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;demand:store_1:3;demand:store_10:1;"
                   "demand:store_2:1;demand:x9:1;other:store_1:1;");
    herd_frame_free(f);
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.include_archived = 1;
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;demand:store_1:3;demand:store_10:1;"
                   "demand:store_10:2;demand:store_2:1;demand:x9:1;other:store_1:1;");
    herd_frame_free(f);

    /* By family. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.family = "other";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "other:store_1:1;");
    herd_frame_free(f);
    so.family = "nofamily";
    f = search(c->reg, &so);
    assert_int_equal(herd_frame_row_count(f), 0);
    assert_version_columns(f);
    herd_frame_free(f);

    /* Group patterns. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.group_pattern = "store_?";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;demand:store_1:3;demand:store_2:1;"
                   "other:store_1:1;");
    herd_frame_free(f);
    so.family = "demand";
    so.group_pattern = "store_*";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;demand:store_1:3;demand:store_10:1;"
                   "demand:store_2:1;");
    herd_frame_free(f);
    so.group_pattern = "[a-w]*";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;demand:store_1:3;demand:store_10:1;"
                   "demand:store_2:1;");
    herd_frame_free(f);
    so.group_pattern = "[!s]*";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:x9:1;");
    herd_frame_free(f);
    so.group_pattern = "store_1";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;demand:store_1:3;");
    herd_frame_free(f);
    so.group_pattern = "[abc";
    f = (herd_frame *)1;
    EXPECT_RC(herd_registry_search(c->reg, &so, &f), HERD_EINVAL, "pattern");
    assert_null(f);

    /* Tags. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.tag_name = "stage";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:3;demand:store_2:1;");
    herd_frame_free(f);
    so.tag_value = "prod";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_2:1;");
    herd_frame_free(f);
    so.tag_value = "Prod"; /* case-sensitive */
    f = search(c->reg, &so);
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);
    so.tag_name = "owner";
    so.tag_value = NULL;
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_10:1;");
    herd_frame_free(f);
    so.tag_name = "bad tag";
    EXPECT_RC(herd_registry_search(c->reg, &so, &f), HERD_EINVAL, "tag");

    /* Metrics: the range is inclusive, NaN never matches, versions without
     * the metric do not match; a float64 column named after the metric. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.metric = "rmse";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:3;demand:store_2:1;demand:x9:1;"
                   "other:store_1:1;");
    assert_int_equal(herd_frame_column_count(f), N_VERSION_COLS + 1);
    assert_string_equal(herd_frame_column_name(f, N_VERSION_COLS), "rmse");
    assert_int_equal(herd_frame_column_type(f, N_VERSION_COLS), D);
    assert_true(cell_d(f, "rmse", 0) == 1.0);
    assert_true(cell_d(f, "rmse", 1) == 3.0);
    assert_true(cell_d(f, "rmse", 2) == 2.0);
    assert_true(cell_d(f, "rmse", 3) == 5.0);
    assert_true(cell_d(f, "rmse", 4) == 1.5);
    herd_frame_free(f);
    so.metric_min = 1.5;
    so.metric_max = 3.0;
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:3;demand:store_2:1;other:store_1:1;");
    herd_frame_free(f);
    so.include_archived = 1;
    so.metric_min = 0;
    so.metric_max = 1.0;
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_10:2;");
    herd_frame_free(f);
    so.include_archived = 0;
    so.metric_min = -INFINITY;
    so.metric_max = INFINITY;
    so.family = "demand";
    so.group_pattern = "store_1";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:3;"); /* v2's NaN never matches */
    herd_frame_free(f);
    so.metric = "mae";
    f = search(c->reg, &so);
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.metric = "rmse";
    so.metric_min = NAN;
    f = (herd_frame *)1;
    herd_clear_error();
    int rc = herd_registry_search(c->reg, &so, &f);
    if (rc == HERD_OK) { /* a NaN bound matches nothing */
        assert_int_equal(herd_frame_row_count(f), 0);
        herd_frame_free(f);
    } else {
        assert_int_equal(rc, HERD_EINVAL);
        assert_null(f);
    }

    /* Aliases. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.alias = "champion";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_2:1;other:store_1:1;");
    for (size_t r = 0; r < 3; r++) assert_list(cell_s(f, "aliases", r), "champion");
    herd_frame_free(f);
    so.alias = "challenger";
    f = search(c->reg, &so);
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);
    /* Criteria combine. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.family = "demand";
    so.tag_name = "stage";
    so.tag_value = "prod";
    so.metric = "rmse";
    so.metric_max = 1.5;
    so.alias = "champion";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;");
    herd_frame_free(f);

    /* Limit. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.limit = 2;
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "demand:store_1:1;demand:store_1:2;");
    herd_frame_free(f);
    so.limit = 1;
    so.family = "other";
    f = search(c->reg, &so);
    ASSERT_ROWS(f, "other:store_1:1;");
    herd_frame_free(f);
    so.limit = 1000;
    so.family = NULL;
    f = search(c->reg, &so);
    assert_int_equal(herd_frame_row_count(f), 7);
    herd_frame_free(f);

    /* Bad options. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.family = "de/mand";
    EXPECT_RC(herd_registry_search(c->reg, &so, &f), HERD_EINVAL, "family");
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.alias = "a b";
    EXPECT_RC(herd_registry_search(c->reg, &so, &f), HERD_EINVAL, "alias");
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.version = 0;
    EXPECT_RC(herd_registry_search(c->reg, &so, &f), HERD_EINVAL, "options");

    /* alias "latest": the header gives "latest" one meaning everywhere (the
     * newest version that is not archived) and reserves it; a search for it
     * should give those versions, or refuse the name, never silently
     * nothing. */
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.alias = "latest";
    f = (herd_frame *)1;
    herd_clear_error();
    rc = herd_registry_search(c->reg, &so, &f);
    if (rc == HERD_OK) {
        char text[4096];
        rows_text(f, text, sizeof text);
        if (strcmp(text, "demand:store_1:3;demand:store_10:1;demand:store_2:1;demand:x9:1;"
                         "other:store_1:1;"))
            soft_fail("search alias=\"latest\" gave rows \"%s\"", text);
        herd_frame_free(f);
    } else if (rc != HERD_EINVAL || !strstr(herd_last_error(), "latest")) {
        soft_fail("search alias=\"latest\": %s: %s", herd_status_str(rc), herd_last_error());
    }
    soft_done();
}

/* ========================================================================
 * Alias history
 * ===================================================================== */

static void test_alias_history(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "challenger";
    vo.run_id = "fit1";
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 1);  /* move 1 */
    assert_int_equal(add_one(c->reg, "demand", "a", &vo), 2);  /* move 2 */
    assert_int_equal(add_one(c->reg, "demand", "b", NULL), 1);

    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.reason = "challenger won";
    ao.details = "{\"metric\":\"rmse\",\"champion\":null,\"challenger\":1.25}";
    ao.run_id = "promote1";
    herd_batch *b = begin(c->reg);
    /* two moves in one commit */
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 2, &ao)); /* move 3 */
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "b", "champion", 1, &ao)); /* move 4 */
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.reason = "rollback";
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao)); /* move 5 */
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    set_alias(c->reg, "demand", "a", "challenger", 0); /* move 6: delete */
    /* A failed commit records nothing. */
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.expect_version = 2;
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 2, &ao));
    EXPECT_RC(herd_batch_commit(b), HERD_ECONFLICT, NULL);
    herd_batch_free(b);

    static const char *const names[] = {"family", "group",       "alias",      "time",
                                        "commit", "from_version", "to_version", "reason",
                                        "details", "run_id"};
    static const int types[] = {S, S, S, S, I, I, I, S, S, S};

    /* One group: every move of it, oldest first. */
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", "a", NULL, &f));
    assert_columns(f, names, types, 10);
    assert_int_equal(herd_frame_row_count(f), 5);
    static const struct {
        const char *alias;
        int64_t from, to;
    } want[] = {
        {"challenger", 0, 1}, {"challenger", 1, 2}, {"champion", 0, 2},
        {"champion", 2, 1},   {"challenger", 2, 0},
    };
    for (size_t r = 0; r < 5; r++) {
        assert_string_equal(cell_s(f, "family", r), "demand");
        assert_string_equal(cell_s(f, "group", r), "a");
        assert_string_equal(cell_s(f, "alias", r), want[r].alias);
        assert_int_equal(cell_i(f, "from_version", r), want[r].from);
        assert_int_equal(cell_i(f, "to_version", r), want[r].to);
        assert_rfc3339(cell_s(f, "time", r));
        if (r > 0) {
            assert_true(strcmp(cell_s(f, "time", r), cell_s(f, "time", r - 1)) >= 0);
            assert_true(cell_i(f, "commit", r) > cell_i(f, "commit", r - 1));
        }
    }
    /* reason, details, run_id as given */
    assert_string_equal(cell_s(f, "reason", 2), "challenger won");
    assert_json(cell_s(f, "details", 2),
                "{\"metric\":\"rmse\",\"champion\":null,\"challenger\":1.25}");
    assert_string_equal(cell_s(f, "run_id", 2), "promote1");
    assert_string_equal(cell_s(f, "reason", 3), "rollback");
    assert_null(cell_s(f, "details", 3));
    assert_null(cell_s(f, "run_id", 3));
    assert_null(cell_s(f, "reason", 4));
    int64_t commit_a_champion = cell_i(f, "commit", 2);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", "b", NULL, &f));
    assert_int_equal(herd_frame_row_count(f), 1);
    assert_string_equal(cell_s(f, "alias", 0), "champion");
    assert_int_equal(cell_i(f, "from_version", 0), 0);
    assert_int_equal(cell_i(f, "to_version", 0), 1);
    assert_null(cell_s(f, "reason", 0));
    assert_null(cell_s(f, "details", 0));
    assert_null(cell_s(f, "run_id", 0));
    /* the same commit as a's first champion move */
    assert_int_equal(cell_i(f, "commit", 0), commit_a_champion);
    herd_frame_free(f);

    /* Filters. */
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", "a", NULL, &f));
    assert_int_equal(herd_frame_row_count(f), 5);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", "a", "champion", &f));
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_int_equal(cell_i(f, "to_version", 0), 2);
    assert_int_equal(cell_i(f, "to_version", 1), 1);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", NULL, "champion", &f));
    assert_int_equal(herd_frame_row_count(f), 3);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", "b", "challenger", &f));
    assert_int_equal(herd_frame_row_count(f), 0);
    assert_columns(f, names, types, 10);
    herd_frame_free(f);
    f = (herd_frame *)1;
    herd_clear_error();
    int rc = herd_registry_alias_history(c->reg, "nofamily", NULL, NULL, &f);
    if (rc == HERD_OK) {
        assert_int_equal(herd_frame_row_count(f), 0);
        herd_frame_free(f);
    } else {
        assert_int_equal(rc, HERD_ENOTFOUND);
        ERR_HAS("nofamily");
    }
    EXPECT_RC(herd_registry_alias_history(c->reg, "de/mand", NULL, NULL, &f), HERD_EINVAL,
              "family");
    EXPECT_RC(herd_registry_alias_history(c->reg, "demand", "", NULL, &f), HERD_EINVAL, "group");
    EXPECT_RC(herd_registry_alias_history(c->reg, "demand", NULL, "a b", &f), HERD_EINVAL,
              "alias");

    /* Every group of the family (group NULL): all six moves, oldest first
     * (header: "Alias moves, oldest first"); moves of one commit in any
     * order. */
    EXPECT_OK(herd_registry_alias_history(c->reg, "demand", NULL, NULL, &f));
    assert_columns(f, names, types, 10);
    assert_int_equal(herd_frame_row_count(f), 6);
    for (size_t r = 1; r < 6; r++)
        if (cell_i(f, "commit", r) < cell_i(f, "commit", r - 1))
            soft_fail("alias_history(demand, NULL, NULL): row %zu (%s/%s, commit %lld) comes "
                      "after row %zu (%s/%s, commit %lld): not oldest first",
                      r, cell_s(f, "group", r), cell_s(f, "alias", r),
                      (long long)cell_i(f, "commit", r), r - 1, cell_s(f, "group", r - 1),
                      cell_s(f, "alias", r - 1), (long long)cell_i(f, "commit", r - 1));
    herd_frame_free(f);
    soft_done();
}

/* ========================================================================
 * Runs
 * ===================================================================== */

static void test_runs(void **state)
{
    ctx *c = *state;
    herd_batch *b = begin(c->reg);
    EXPECT_OK(herd_batch_set_run(b, "r1", "{\"eta\":0.1,\"rounds\":20}", "{\"groups\":2}"));
    herd_artifact *a = make_art("demand", "a", "r1"); /* run id from the artifact */
    EXPECT_OK(herd_batch_add(b, a, NULL, NULL));
    herd_artifact_free(a);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.run_id = "r1"; /* from the options */
    add_art(b, "demand", "b", &vo);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);

    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_run(b, "r2", NULL, NULL));
    a = make_art("demand", "a", "r1");
    vo.run_id = "r2"; /* the options win over the artifact */
    EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
    herd_artifact_free(a);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);

    /* Recording r1 again replaces its summary. */
    b = begin(c->reg);
    EXPECT_OK(herd_batch_set_run(b, "r1", "{\"eta\":0.1,\"rounds\":20}", "{\"groups\":3}"));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);

    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_runs(c->reg, &f));
    static const char *const names[] = {"run_id", "time", "params", "summary", "versions"};
    static const int types[] = {S, S, S, S, I};
    assert_columns(f, names, types, 5);
    assert_int_equal(herd_frame_row_count(f), 2);
    assert_string_equal(cell_s(f, "run_id", 0), "r1");
    assert_rfc3339(cell_s(f, "time", 0));
    assert_json(cell_s(f, "params", 0), "{\"eta\":0.1,\"rounds\":20}");
    assert_json(cell_s(f, "summary", 0), "{\"groups\":3}");
    assert_int_equal(cell_i(f, "versions", 0), 2);
    assert_string_equal(cell_s(f, "run_id", 1), "r2");
    assert_null(cell_s(f, "params", 1));
    assert_null(cell_s(f, "summary", 1));
    assert_int_equal(cell_i(f, "versions", 1), 1);
    herd_frame_free(f);

    f = versions(c->reg, "demand", "a");
    assert_string_equal(cell_s(f, "run_id", 0), "r1");
    assert_string_equal(cell_s(f, "run_id", 1), "r2");
    herd_frame_free(f);

    /* Bad input. */
    b = begin(c->reg);
    EXPECT_RC(herd_batch_set_run(b, "r3", "{\"eta\":", NULL), HERD_EINVAL, "params");
    EXPECT_RC(herd_batch_set_run(b, "r3", NULL, "not json"), HERD_EINVAL, "summary");
    EXPECT_RC(herd_batch_set_run(b, "r3", "[1,2]", NULL), HERD_EINVAL, "params");
    EXPECT_RC(herd_batch_set_run(b, "r3", "\"text\"", NULL), HERD_EINVAL, "params");
    EXPECT_RC(herd_batch_set_run(b, "bad run", NULL, NULL), HERD_EINVAL, "run");
    EXPECT_RC(herd_batch_set_run(b, "", NULL, NULL), HERD_EINVAL, "run");
    EXPECT_RC(herd_batch_set_run(b, "r/3", NULL, NULL), HERD_EINVAL, "run");
    /* Over HERD_JSON_MAX. */
    size_t n = HERD_JSON_MAX + 16;
    char *huge = malloc(n + 1);
    assert_non_null(huge);
    memcpy(huge, "{\"x\":\"", 6);
    memset(huge + 6, 'y', n - 8);
    memcpy(huge + n - 2, "\"}", 2);
    huge[n] = '\0';
    herd_clear_error();
    int rc = herd_batch_set_run(b, "r3", huge, NULL);
    if (rc != HERD_EINVAL && rc != HERD_ELIMIT)
        fail_msg("params of %zu bytes gave %s: %s", n, herd_status_str(rc), herd_last_error());
    ERR_HAS("params");
    free(huge);
    /* Nothing of it got in. */
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    EXPECT_OK(herd_registry_runs(c->reg, &f));
    assert_int_equal(herd_frame_row_count(f), 2);
    herd_frame_free(f);

    /* Soft checks on a batch that is abandoned: duplicate keys (docs/design.md,
     * cJSON pitfalls), invalid UTF-8, \u0000, trailing text. */
    herd_batch *b2 = begin(c->reg);
    SOFT_RC(herd_batch_set_run(b2, "r3", "{\"a\":1,\"a\":2}", NULL), HERD_EINVAL, "params");
    SOFT_RC(herd_batch_set_run(b2, "r3", NULL, "{\"a\":1,\"a\":2}"), HERD_EINVAL, "summary");
    SOFT_RC(herd_batch_set_run(b2, "r3", "{\"a\":\"\xC3\"}", NULL), HERD_EINVAL, "params");
    SOFT_RC(herd_batch_set_run(b2, "r3", "{\"a\":\"\\u0000\"}", NULL), HERD_EINVAL, "params");
    SOFT_RC(herd_batch_set_run(b2, "r3", "{} {}", NULL), HERD_EINVAL, "params");
    herd_batch_free(b2);
    /* A bad version run id. */
    b = begin(c->reg);
    a = make_art("demand", "a", NULL);
    vo.run_id = "bad run";
    EXPECT_RC(herd_batch_add(b, a, &vo, NULL), HERD_EINVAL, "run");
    herd_artifact_free(a);
    herd_batch_free(b);
    soft_done();
}

/* ========================================================================
 * Snapshots and refresh
 * ===================================================================== */

static void test_refresh(void **state)
{
    ctx *c = *state;
    herd_registry *r2 = open_reg(c->path);
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 1);
    /* The committing handle sees its own commit. */
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 1);
    /* The other sees it after refresh only. */
    int64_t v = -7;
    EXPECT_RC(herd_registry_resolve(r2, "demand", "a", "latest", &v), HERD_ENOTFOUND, NULL);
    herd_frame *f = search(r2, NULL);
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);
    EXPECT_OK(herd_registry_refresh(r2));
    assert_int_equal(resolve(r2, "demand", "a", "latest"), 1);
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load(r2, "demand", "a", 1, &a));
    herd_artifact_free(a);

    /* And the other way round, with an alias. */
    assert_int_equal(add_one(r2, "demand", "a", NULL), 2);
    set_alias(r2, "demand", "a", "champion", 2);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 1);
    EXPECT_RC(herd_registry_resolve(c->reg, "demand", "a", "champion", &v), HERD_ENOTFOUND,
              NULL);
    EXPECT_OK(herd_registry_refresh(c->reg));
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 2);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 2);
    /* A refresh with nothing new is fine. */
    EXPECT_OK(herd_registry_refresh(c->reg));
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 2);
    herd_registry_free(r2);
}

/* ========================================================================
 * Batch lifecycle
 * ===================================================================== */

static void test_batch_lifecycle(void **state)
{
    ctx *c = *state;
    /* An abandoned batch commits nothing. */
    herd_batch *b = begin(c->reg);
    add_art(b, "demand", "a", NULL);
    EXPECT_OK(herd_batch_set_run(b, "r1", NULL, NULL));
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, NULL, NULL), 0);
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_runs(c->reg, &f));
    assert_int_equal(herd_frame_row_count(f), 0);
    herd_frame_free(f);
    herd_batch_free(NULL);

    /* Committed once only. */
    b = begin(c->reg);
    add_art(b, "demand", "a", NULL);
    EXPECT_OK(herd_batch_commit(b));
    herd_clear_error();
    int rc = herd_batch_commit(b);
    if (rc >= 0) fail_msg("a second commit of the same batch returned %d", rc);
    assert_true(strlen(herd_last_error()) > 0);
    print_message("second commit: %s: %s\n", herd_status_str(rc), herd_last_error());
    /* The batch is still readable. */
    assert_int_equal(batch_version(b, 0, NULL), 1);
    /* Adding to a committed batch is refused. */
    herd_artifact *a = make_art("demand", "a", NULL);
    rc = herd_batch_add(b, a, NULL, NULL);
    assert_true(rc < 0);
    herd_artifact_free(a);
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, NULL, NULL), 1);

    /* An empty batch commits (nothing). */
    b = begin(c->reg);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    assert_int_equal(count_versions(c->reg, NULL, NULL), 1);

    /* A retry after ENOTFOUND, once what was missing exists. */
    b = begin(c->reg);
    size_t idx = add_art(b, "demand", "b", NULL);
    EXPECT_OK(herd_batch_set_alias(b, "demand", "a", "champion", 2, NULL));
    EXPECT_RC(herd_batch_commit(b), HERD_ENOTFOUND, NULL);
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 2);
    EXPECT_OK(herd_batch_commit(b));
    assert_int_equal(batch_version(b, idx, NULL), 1);
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "demand", "a", "champion"), 2);

    /* Several batches open at once on one handle. */
    herd_batch *b1 = begin(c->reg), *b2 = begin(c->reg);
    add_art(b1, "demand", "a", NULL);
    add_art(b2, "demand", "a", NULL);
    EXPECT_OK(herd_batch_commit(b2));
    EXPECT_OK(herd_batch_commit(b1));
    assert_int_equal(batch_version(b2, 0, NULL), 3);
    assert_int_equal(batch_version(b1, 0, NULL), 4);
    herd_batch_free(b1);
    herd_batch_free(b2);
}

/* ========================================================================
 * Bad arguments
 * ===================================================================== */

static void test_null_arguments(void **state)
{
    ctx *c = *state;
    herd_registry *reg = c->reg;
    assert_int_equal(add_one(reg, "demand", "a", NULL), 1);
    herd_registry *r = (herd_registry *)1;
    herd_batch *b = NULL;
    herd_frame *f = (herd_frame *)1;
    herd_artifact *a = (herd_artifact *)1;
    int64_t v = 0;
    int existed = 0;
    uint64_t rec = 0;

    EXPECT_ARG(herd_registry_open(NULL, NULL, &r), "herd_registry_open", "path");
    assert_null(r);
    EXPECT_ARG(herd_registry_open(c->path, NULL, NULL), "herd_registry_open", "out");
    herd_registry_options ro;
    herd_registry_options_init(&ro, HERD_REGISTRY_OPTIONS_VERSION);
    ro.version = 0;
    r = (herd_registry *)1;
    EXPECT_ARG(herd_registry_open(c->path, &ro, &r), "herd_registry_open", "herd_registry_options");
    assert_null(r);
    herd_registry_free(NULL);
    EXPECT_ARG(herd_registry_refresh(NULL), "herd_registry_refresh", "reg");
    EXPECT_ARG(herd_registry_check(NULL, NULL), "herd_registry_check", "reg");
    EXPECT_ARG(herd_registry_check(NULL, &f), "herd_registry_check", "reg");
    EXPECT_ARG(herd_registry_rebuild_index(NULL), "herd_registry_rebuild_index", "reg");
    EXPECT_ARG(herd_registry_begin(NULL, &b), "herd_registry_begin", "reg");
    assert_null(b);
    EXPECT_ARG(herd_registry_begin(reg, NULL), "herd_registry_begin", "out");

    b = begin(reg);
    herd_artifact *art = make_art("demand", "a", NULL);
    size_t len = 0;
    unsigned char *bytes = art_bytes(art, &len);
    EXPECT_ARG(herd_batch_add(NULL, art, NULL, NULL), "herd_batch_add", "batch");
    EXPECT_ARG(herd_batch_add(b, NULL, NULL, NULL), "herd_batch_add", "artifact");
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.version = 0;
    EXPECT_ARG(herd_batch_add(b, art, &vo, NULL), "herd_batch_add", "herd_version_options");
    EXPECT_ARG(herd_batch_add_bytes(NULL, bytes, len, NULL, NULL), "herd_batch_add_bytes",
               "batch");
    EXPECT_ARG(herd_batch_add_bytes(b, NULL, len, NULL, NULL), "herd_batch_add_bytes", "data");
    EXPECT_ARG(herd_batch_add_bytes(b, bytes, len, &vo, NULL), "herd_batch_add_bytes",
               "herd_version_options");
    herd_clear_error();
    int rc = herd_batch_add_bytes(b, bytes, 0, NULL, NULL);
    if (rc != HERD_EINVAL && rc != HERD_EFORMAT)
        fail_msg("0 bytes gave %s: %s", herd_status_str(rc), herd_last_error());

    EXPECT_ARG(herd_batch_set_alias(NULL, "demand", "a", "champion", 1, NULL),
               "herd_batch_set_alias", "batch");
    EXPECT_ARG(herd_batch_set_alias(b, NULL, "a", "champion", 1, NULL), "herd_batch_set_alias",
               "family");
    EXPECT_ARG(herd_batch_set_alias(b, "demand", NULL, "champion", 1, NULL),
               "herd_batch_set_alias", "group");
    EXPECT_ARG(herd_batch_set_alias(b, "demand", "a", NULL, 1, NULL), "herd_batch_set_alias",
               "alias");
    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.version = 0;
    EXPECT_ARG(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao),
               "herd_batch_set_alias", "herd_alias_options");
    EXPECT_ARG(herd_batch_archive(NULL, "demand", "a", 1, NULL), "herd_batch_archive", "batch");
    EXPECT_ARG(herd_batch_archive(b, NULL, "a", 1, NULL), "herd_batch_archive", "family");
    EXPECT_ARG(herd_batch_archive(b, "demand", NULL, 1, NULL), "herd_batch_archive", "group");
    EXPECT_ARG(herd_batch_set_run(NULL, "r1", NULL, NULL), "herd_batch_set_run", "batch");
    EXPECT_ARG(herd_batch_set_run(b, NULL, NULL, NULL), "herd_batch_set_run", "run_id");
    assert_int_equal(herd_batch_count(NULL), 0);
    EXPECT_ARG(herd_batch_commit(NULL), "herd_batch_commit", "batch");
    EXPECT_ARG(herd_batch_version(NULL, 0, &v, &existed), "herd_batch_version", "batch");
    /* Nothing of the above reached the batch. */
    assert_int_equal(herd_batch_count(b), 0);
    EXPECT_OK(herd_batch_add(b, art, NULL, NULL));
    EXPECT_OK(herd_batch_commit(b));
    EXPECT_ARG(herd_batch_version(b, 0, NULL, &existed), "herd_batch_version", "version");
    herd_clear_error();
    rc = herd_batch_version(b, 0, &v, NULL); /* existed may be NULL? the header does not say */
    if (rc == HERD_OK) assert_int_equal(v, 2);
    else {
        assert_int_equal(rc, HERD_EINVAL);
        if (!has_word(herd_last_error(), "existed"))
            fail_msg("\"%s\" does not name 'existed'", herd_last_error());
    }
    herd_batch_free(b);
    free(bytes);
    herd_artifact_free(art);

    EXPECT_ARG(herd_registry_resolve(NULL, "demand", "a", "latest", &v),
               "herd_registry_resolve", "reg");
    EXPECT_ARG(herd_registry_resolve(reg, NULL, "a", "latest", &v), "herd_registry_resolve",
               "family");
    EXPECT_ARG(herd_registry_resolve(reg, "demand", NULL, "latest", &v),
               "herd_registry_resolve", "group");
    EXPECT_ARG(herd_registry_resolve(reg, "demand", "a", NULL, &v), "herd_registry_resolve",
               "alias");
    EXPECT_ARG(herd_registry_resolve(reg, "demand", "a", "latest", NULL),
               "herd_registry_resolve", "version");

    EXPECT_ARG(herd_registry_load(NULL, "demand", "a", 1, &a), "herd_registry_load", "reg");
    assert_null(a);
    EXPECT_ARG(herd_registry_load(reg, NULL, "a", 1, &a), "herd_registry_load", "family");
    EXPECT_ARG(herd_registry_load(reg, "demand", NULL, 1, &a), "herd_registry_load", "group");
    EXPECT_ARG(herd_registry_load(reg, "demand", "a", 1, NULL), "herd_registry_load", "out");
    EXPECT_ARG(herd_registry_load_uri(NULL, "herd:demand/a", &a), "herd_registry_load_uri",
               "reg");
    EXPECT_ARG(herd_registry_load_uri(reg, NULL, &a), "herd_registry_load_uri", "uri");
    EXPECT_ARG(herd_registry_load_uri(reg, "herd:demand/a", NULL), "herd_registry_load_uri",
               "out");

    EXPECT_ARG(herd_registry_families(NULL, &f), "herd_registry_families", "reg");
    assert_null(f);
    EXPECT_ARG(herd_registry_families(reg, NULL), "herd_registry_families", "out");
    EXPECT_ARG(herd_registry_groups(NULL, "demand", &f), "herd_registry_groups", "reg");
    EXPECT_ARG(herd_registry_groups(reg, NULL, &f), "herd_registry_groups", "family");
    EXPECT_ARG(herd_registry_groups(reg, "demand", NULL), "herd_registry_groups", "out");
    EXPECT_ARG(herd_registry_versions(NULL, "demand", "a", &f), "herd_registry_versions", "reg");
    EXPECT_ARG(herd_registry_versions(reg, NULL, "a", &f), "herd_registry_versions", "family");
    EXPECT_ARG(herd_registry_versions(reg, "demand", NULL, &f), "herd_registry_versions",
               "group");
    EXPECT_ARG(herd_registry_versions(reg, "demand", "a", NULL), "herd_registry_versions",
               "out");
    EXPECT_ARG(herd_registry_search(NULL, NULL, &f), "herd_registry_search", "reg");
    EXPECT_ARG(herd_registry_search(reg, NULL, NULL), "herd_registry_search", "out");
    EXPECT_ARG(herd_registry_alias_history(NULL, "demand", NULL, NULL, &f),
               "herd_registry_alias_history", "reg");
    EXPECT_ARG(herd_registry_alias_history(reg, NULL, NULL, NULL, &f),
               "herd_registry_alias_history", "family");
    EXPECT_ARG(herd_registry_alias_history(reg, "demand", NULL, NULL, NULL),
               "herd_registry_alias_history", "out");
    EXPECT_ARG(herd_registry_runs(NULL, &f), "herd_registry_runs", "reg");
    EXPECT_ARG(herd_registry_runs(reg, NULL), "herd_registry_runs", "out");
    EXPECT_ARG(herd_registry_gc(NULL, &rec), "herd_registry_gc", "reg");
    EXPECT_ARG(herd_registry_gc(NULL, NULL), "herd_registry_gc", "reg");

    /* Nothing changed but the one version added above. */
    assert_int_equal(count_versions(reg, NULL, NULL), 2);
    soft_done();
}

/* The message names the bad byte of `name` at `pos`: by its offset ("byte
 * 3", "offset 3", "position 3") or by the byte itself ('/', 0x09, \x09). */
static int names_byte(const char *msg, const char *name, size_t pos)
{
    char cand[16][32];
    int n = 0;
    unsigned char ch = (unsigned char)name[pos];
    snprintf(cand[n++], 32, "byte %zu", pos);
    snprintf(cand[n++], 32, "offset %zu", pos);
    snprintf(cand[n++], 32, "position %zu", pos);
    snprintf(cand[n++], 32, "0x%02X", ch);
    snprintf(cand[n++], 32, "0x%02x", ch);
    snprintf(cand[n++], 32, "\\x%02X", ch);
    snprintf(cand[n++], 32, "\\x%02x", ch);
    if (ch > 0x20 && ch < 0x7F) {
        snprintf(cand[n++], 32, "'%c'", ch);
        snprintf(cand[n++], 32, "\"%c\"", ch);
        snprintf(cand[n++], 32, "`%c`", ch);
    }
    for (int i = 0; i < n; i++)
        if (strstr(msg, cand[i])) return 1;
    return 0;
}

/* A rejected name or key: `pos` >= 0 is the bad byte, -1 an empty one, -2
 * one over the limit `max`. */
static void check_rejection(const char *call, int rc, const char *what, const char *name, int pos,
                            size_t max)
{
    const char *msg = herd_last_error();
    if (rc != HERD_EINVAL)
        soft_fail("%s with \"%.40s\" gave %s: %s", call, name, herd_status_str(rc), msg);
    else if (!strstr(msg, what))
        soft_fail("%s with \"%.40s\": \"%s\" lacks \"%s\"", call, name, msg, what);
    else if (pos == -1) {
        if (!strstr(msg, "empty")) soft_fail("%s with \"\": \"%s\" does not say empty", call, msg);
    } else if (pos == -2) {
        char lim[32], len[32];
        snprintf(lim, sizeof lim, "%zu", max);
        snprintf(len, sizeof len, "%zu", max + 1);
        if (!strstr(msg, lim) && !strstr(msg, len))
            soft_fail("%s with a %zu-byte name: \"%s\" gives neither the length nor the limit",
                      call, max + 1, msg);
    } else if (!names_byte(msg, name, (size_t)pos)) {
        soft_fail("%s with \"%.40s\": \"%s\" does not name the bad byte (%d)", call, name, msg,
                  pos);
    }
}

#define REJECT(call, what, name, pos, max)                                                  \
    do {                                                                                    \
        herd_clear_error();                                                                 \
        int rc_ = (call);                                                                   \
        check_rejection(#call, rc_, (what), (name), (pos), (max));                          \
    } while (0)

/* The family / alias / run-id / tag name rules, wherever a name is taken. */
static void test_bad_names(void **state)
{
    ctx *c = *state;
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 1);
    char long_name[HERD_ID_MAX + 2];
    memset(long_name, 'f', HERD_ID_MAX + 1);
    long_name[HERD_ID_MAX + 1] = '\0';
    char max_name[HERD_ID_MAX + 1];
    memset(max_name, 'f', HERD_ID_MAX);
    max_name[HERD_ID_MAX] = '\0';
    static const struct {
        const char *name; /* NULL: the long name */
        int pos;          /* the bad byte; -1 empty, -2 too long */
    } bad[] = {
        {"", -1},          {"de/mand", 2},   {"de\\mand", 2}, {"..", 0},
        {".hidden", 0},    {"-dash", 0},     {"a b", 1},      {"tab\there", 3},
        {"nl\n", 2},       {"del\x7f", 3},   {"caf\xC3\xA9", 3}, {"a%2F", 1},
        {"a@b", 1},        {"a#b", 1},       {"a*", 1},       {NULL, -2},
    };
    herd_batch *b = begin(c->reg);
    herd_artifact *art = make_art("demand", "a", NULL);
    herd_version_options vo;
    herd_alias_options ao;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *name = bad[i].name ? bad[i].name : long_name;
        int pos = bad[i].pos;
        int64_t v = -7;
        herd_artifact *a = (herd_artifact *)1;
        herd_frame *f = (herd_frame *)1;
        /* The public validator. */
        REJECT(herd_name_validate(name, "family"), "family", name, pos, HERD_ID_MAX);
        REJECT(herd_name_validate(name, NULL), "name", name, pos, HERD_ID_MAX);
        /* Family. */
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.family = name;
        REJECT(herd_batch_add(b, art, &vo, NULL), "family", name, pos, HERD_ID_MAX);
        REJECT(herd_batch_set_alias(b, name, "a", "champion", 1, NULL), "family", name, pos,
               HERD_ID_MAX);
        REJECT(herd_batch_archive(b, name, "a", 1, NULL), "family", name, pos, HERD_ID_MAX);
        REJECT(herd_registry_resolve(c->reg, name, "a", "latest", &v), "family", name, pos,
               HERD_ID_MAX);
        REJECT(herd_registry_load(c->reg, name, "a", 1, &a), "family", name, pos, HERD_ID_MAX);
        assert_null(a);
        REJECT(herd_registry_groups(c->reg, name, &f), "family", name, pos, HERD_ID_MAX);
        assert_null(f);
        REJECT(herd_registry_versions(c->reg, name, "a", &f), "family", name, pos, HERD_ID_MAX);
        REJECT(herd_registry_alias_history(c->reg, name, NULL, NULL, &f), "family", name, pos,
               HERD_ID_MAX);
        herd_search_options so;
        herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
        so.family = name;
        REJECT(herd_registry_search(c->reg, &so, &f), "family", name, pos, HERD_ID_MAX);
        /* Alias. */
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.alias = name;
        REJECT(herd_batch_add(b, art, &vo, NULL), "alias", name, pos, HERD_ID_MAX);
        REJECT(herd_batch_set_alias(b, "demand", "a", name, 1, NULL), "alias", name, pos,
               HERD_ID_MAX);
        REJECT(herd_registry_resolve(c->reg, "demand", "a", name, &v), "alias", name, pos,
               HERD_ID_MAX);
        REJECT(herd_registry_alias_history(c->reg, "demand", NULL, name, &f), "alias", name, pos,
               HERD_ID_MAX);
        herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
        so.alias = name;
        REJECT(herd_registry_search(c->reg, &so, &f), "alias", name, pos, HERD_ID_MAX);
        /* Run ids. */
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.run_id = name;
        REJECT(herd_batch_add(b, art, &vo, NULL), "run", name, pos, HERD_ID_MAX);
        REJECT(herd_batch_set_run(b, name, NULL, NULL), "run", name, pos, HERD_ID_MAX);
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.run_id = name;
        REJECT(herd_batch_set_alias(b, "demand", "a", "champion", 1, &ao), "run", name, pos,
               HERD_ID_MAX);
        /* Tag names. */
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        const char *tn[] = {name}, *tv[] = {"x"};
        vo.tag_names = tn;
        vo.tag_values = tv;
        vo.n_tags = 1;
        REJECT(herd_batch_add(b, art, &vo, NULL), "tag", name, pos, HERD_ID_MAX);
        herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
        so.tag_name = name;
        REJECT(herd_registry_search(c->reg, &so, &f), "tag", name, pos, HERD_ID_MAX);
    }
    assert_int_equal(herd_batch_count(b), 0);
    /* The longest name is fine, everywhere. */
    assert_int_equal(herd_name_validate(max_name, NULL), HERD_OK);
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = max_name;
    vo.alias = max_name;
    vo.run_id = max_name;
    const char *tn[] = {max_name}, *tv[] = {"x"};
    vo.tag_names = tn;
    vo.tag_values = tv;
    vo.n_tags = 1;
    EXPECT_OK(herd_batch_add(b, art, &vo, NULL));
    EXPECT_OK(herd_batch_set_run(b, max_name, NULL, NULL));
    /* Every allowed character. */
    vo.family = "Az09._-:+x";
    vo.alias = "b:c+d";
    vo.run_id = "2024-06-11T10:00:00+run.1";
    vo.tag_names = NULL;
    vo.tag_values = NULL;
    vo.n_tags = 0;
    EXPECT_OK(herd_batch_add(b, art, &vo, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_artifact_free(art);
    assert_int_equal(resolve(c->reg, max_name, "a", max_name), 1);
    assert_int_equal(resolve(c->reg, "Az09._-:+x", "a", "b:c+d"), 1);
    herd_frame *f = versions(c->reg, max_name, "a");
    assert_string_equal(cell_s(f, "run_id", 0), max_name);
    herd_frame_free(f);
    /* The URI of such a family loads. */
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load_uri(c->reg, "herd:Az09._-:+x/a@b:c+d", &a));
    herd_artifact_free(a);
    soft_done();
}

/* Group keys: any UTF-8 without control characters, 1..HERD_KEY_MAX bytes;
 * keys that look like paths stay inside the registry. */
static void test_group_keys(void **state)
{
    ctx *c = *state;
    char *max_key = malloc(HERD_KEY_MAX + 2);
    assert_non_null(max_key);
    memset(max_key, 'k', HERD_KEY_MAX + 1);
    max_key[HERD_KEY_MAX] = '\0';
    static const char *const odd[] = {"..",        ".",          "../../etc",   "/abs",
                                      "a/../b",    "DE/Berlin",  "%2F",         "a%b",
                                      "Zürich",    "日本",       " space ",     "semi;colon",
                                      "back\\slash", "latest",   ".git",        "a|b"};
    herd_batch *b = begin(c->reg);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) add_art(b, "demand", odd[i], NULL);
    vo.group = max_key;
    add_art(b, "demand", NULL, &vo);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        assert_int_equal(resolve(c->reg, "demand", odd[i], "latest"), 1);
        herd_artifact *a = NULL;
        EXPECT_OK(herd_registry_load(c->reg, "demand", odd[i], 1, &a));
        assert_string_equal(art_field(a, "group"), odd[i]);
        herd_artifact_free(a);
        /* By URI too. */
        char *uri = NULL;
        EXPECT_OK(herd_uri_format("demand", odd[i], NULL, 1, &uri));
        a = NULL;
        EXPECT_OK(herd_registry_load_uri(c->reg, uri, &a));
        assert_string_equal(art_field(a, "group"), odd[i]);
        herd_artifact_free(a);
        herd_free(uri);
    }
    assert_int_equal(resolve(c->reg, "demand", max_key, "latest"), 1);
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_groups(c->reg, "demand", &f));
    assert_int_equal(herd_frame_row_count(f), sizeof odd / sizeof *odd + 1);
    herd_frame_free(f);
    /* Nothing was written beside the registry directory. */
    char listing[1024];
    list_dir(c->dir, listing, sizeof listing);
    assert_string_equal(listing, "reg;");

    /* Bad keys: EINVAL naming the group and the bad byte, in every function
     * that takes one. */
    max_key[HERD_KEY_MAX] = 'k';
    max_key[HERD_KEY_MAX + 1] = '\0';
    static const struct {
        const char *key; /* NULL: the long key */
        int pos;
    } bad[] = {
        {"", -1}, {"a\tb", 1}, {"a\nb", 1}, {"\x7f", 0}, {"bad\xC3(", 3},
        {"\xED\xA0\x80", 0}, /* a surrogate */
        {"\xC0\xAF", 0},     /* an overlong '/' */
        {NULL, -2},
    };
    herd_artifact *art = make_art("demand", "a", NULL);
    b = begin(c->reg);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *key = bad[i].key ? bad[i].key : max_key;
        int pos = bad[i].pos;
        int64_t v = -7;
        herd_artifact *a = (herd_artifact *)1;
        herd_frame *fr = (herd_frame *)1;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.group = key;
        REJECT(herd_batch_add(b, art, &vo, NULL), "group", key, pos, HERD_KEY_MAX);
        REJECT(herd_batch_set_alias(b, "demand", key, "champion", 1, NULL), "group", key, pos,
               HERD_KEY_MAX);
        REJECT(herd_batch_archive(b, "demand", key, 1, NULL), "group", key, pos, HERD_KEY_MAX);
        REJECT(herd_registry_resolve(c->reg, "demand", key, "latest", &v), "group", key, pos,
               HERD_KEY_MAX);
        REJECT(herd_registry_load(c->reg, "demand", key, 1, &a), "group", key, pos,
               HERD_KEY_MAX);
        assert_null(a);
        REJECT(herd_registry_versions(c->reg, "demand", key, &fr), "group", key, pos,
               HERD_KEY_MAX);
        assert_null(fr);
        REJECT(herd_registry_alias_history(c->reg, "demand", key, NULL, &fr), "group", key, pos,
               HERD_KEY_MAX);
        REJECT(herd_key_encode(key, (char **)&fr), "key", key, pos, HERD_KEY_MAX);
    }
    assert_int_equal(herd_batch_count(b), 0);
    herd_batch_free(b);
    herd_artifact_free(art);
    free(max_key);

    /* Idempotency keys: 1..2048 bytes of UTF-8 (herd.h), no control
     * characters; 2048 bytes fit a run id, '/' and the longest group key. */
    enum { IDEM_MAX = 2048 };
    char *long_key = malloc(IDEM_MAX + 2);
    assert_non_null(long_key);
    memset(long_key, 'i', IDEM_MAX + 1);
    long_key[IDEM_MAX + 1] = '\0';
    b = begin(c->reg);
    art = make_art("demand", "a", NULL);
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.idempotency_key = long_key;
    REJECT(herd_batch_add(b, art, &vo, NULL), "idempotency", long_key, -2, IDEM_MAX);
    vo.idempotency_key = "";
    REJECT(herd_batch_add(b, art, &vo, NULL), "idempotency", "", -1, IDEM_MAX);
    vo.idempotency_key = "a\nb";
    REJECT(herd_batch_add(b, art, &vo, NULL), "idempotency", "a\nb", 1, IDEM_MAX);
    long_key[255] = '\0';
    vo.idempotency_key = long_key;
    EXPECT_OK(herd_batch_add(b, art, &vo, NULL));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    herd_artifact_free(art);
    free(long_key);
    soft_done();
}

/* ========================================================================
 * Index checkpoint, reopen, check, rebuild
 * ===================================================================== */

#define N_SNAP 8
typedef struct snapshot {
    herd_frame *f[N_SNAP];
} snapshot;

static void snap_take(herd_registry *reg, snapshot *s)
{
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.include_archived = 1;
    s->f[0] = search(reg, &so);
    so.metric = "rmse";
    s->f[1] = search(reg, &so);
    EXPECT_OK(herd_registry_families(reg, &s->f[2]));
    EXPECT_OK(herd_registry_groups(reg, "demand", &s->f[3]));
    EXPECT_OK(herd_registry_alias_history(reg, "demand", NULL, NULL, &s->f[4]));
    EXPECT_OK(herd_registry_runs(reg, &s->f[5]));
    s->f[6] = versions(reg, "demand", "DE/Berlin");
    s->f[7] = search(reg, NULL);
}

static void snap_compare(const snapshot *a, const snapshot *b, const char *when)
{
    static const char *const what[N_SNAP] = {"search(all)",   "search(rmse)", "families",
                                             "groups",        "alias_history", "runs",
                                             "versions",      "search(active)"};
    for (int i = 0; i < N_SNAP; i++) {
        char label[128];
        snprintf(label, sizeof label, "%s, %s", when, what[i]);
        assert_frames_equal(a->f[i], b->f[i], label);
    }
}

static void snap_free(snapshot *s)
{
    for (int i = 0; i < N_SNAP; i++) herd_frame_free(s->f[i]);
}

/* Commits of every kind: versions, tags, metrics, aliases, runs, archive. */
static void populate(herd_registry *reg, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        herd_batch *b = begin(reg);
        char run[32], key[32];
        snprintf(run, sizeof run, "run%d", r);
        EXPECT_OK(herd_batch_set_run(b, run, "{\"eta\":0.3}", "{\"round\":1}"));
        for (int g = 0; g < 4; g++) {
            herd_version_options vo;
            herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
            snprintf(key, sizeof key, g == 3 ? "DE/Berlin" : "store_%d", g);
            const char *mn[] = {"rmse"};
            double mv[] = {g == 2 ? NAN : 1.0 + r + g / 10.0};
            const char *tn[] = {"round"};
            char tv0[16];
            snprintf(tv0, sizeof tv0, "%d", r);
            const char *tv[] = {tv0};
            char idem[64];
            snprintf(idem, sizeof idem, "%s:%s", run, key);
            vo.metric_names = mn;
            vo.metric_values = mv;
            vo.n_metrics = 1;
            vo.tag_names = tn;
            vo.tag_values = tv;
            vo.n_tags = 1;
            vo.run_id = run;
            vo.idempotency_key = idem;
            vo.alias = "challenger";
            add_art(b, "demand", key, &vo);
        }
        add_art(b, "other", "x", NULL);
        EXPECT_OK(herd_batch_commit(b));
        herd_batch_free(b);
        if (r >= 1) {
            herd_alias_options ao;
            herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
            ao.reason = "won";
            ao.details = "{\"delta\":0.1}";
            ao.run_id = run;
            b = begin(reg);
            EXPECT_OK(herd_batch_set_alias(b, "demand", "store_0", "champion", r + 1, &ao));
            EXPECT_OK(herd_batch_set_alias(b, "demand", "DE/Berlin", "champion", r, &ao));
            EXPECT_OK(herd_batch_archive(b, "other", "x", r, "old"));
            EXPECT_OK(herd_batch_commit(b));
            herd_batch_free(b);
        }
    }
}

static void test_checkpoint_and_reopen(void **state)
{
    ctx *c = *state;
    hd_registry_set_checkpoint_every(c->reg, 1);
    populate(c->reg, 4);
    /* An index was written (docs/registry.md: the file "index"). */
    char index_path[4096];
    snprintf(index_path, sizeof index_path, "%s/index", c->path);
    struct stat st;
    if (stat(index_path, &st) != 0 || st.st_size == 0)
        fail_msg("no index at %s after commits with checkpoint_every 1", index_path);
    snapshot before;
    snap_take(c->reg, &before);
    assert_int_equal(herd_frame_row_count(before.f[0]), 20);
    herd_registry_free(c->reg);
    c->reg = NULL;

    /* Reopened (from the index and the journal's tail), everything reads the
     * same. */
    c->reg = open_reg(c->path);
    snapshot after;
    snap_take(c->reg, &after);
    snap_compare(&before, &after, "reopened");
    snap_free(&after);
    herd_frame *problems = NULL;
    EXPECT_OK(herd_registry_check(c->reg, &problems));
    static const char *const pn[] = {"file", "offset", "problem"};
    static const int pt[] = {S, I, S};
    assert_columns(problems, pn, pt, 3);
    assert_int_equal(herd_frame_row_count(problems), 0);
    herd_frame_free(problems);

    /* Loads work after reopening. */
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load_uri(c->reg, "herd:demand/DE%2FBerlin@champion", &a));
    assert_same_model(a);
    herd_artifact_free(a);

    /* Idempotency keys survive the checkpoint. */
    herd_batch *b = begin(c->reg);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.idempotency_key = "run1:store_1";
    size_t i = add_art(b, "demand", "store_1", &vo);
    EXPECT_OK(herd_batch_commit(b));
    int existed = 0;
    assert_int_equal(batch_version(b, i, &existed), 2);
    assert_int_equal(existed, 1);
    herd_batch_free(b);

    /* Rebuilding the index changes nothing that reads. */
    EXPECT_OK(herd_registry_rebuild_index(c->reg));
    snap_take(c->reg, &after);
    snap_compare(&before, &after, "after rebuild_index");
    snap_free(&after);
    EXPECT_OK(herd_registry_check(c->reg, NULL));
    herd_registry_free(c->reg);
    c->reg = open_reg(c->path);
    snap_take(c->reg, &after);
    snap_compare(&before, &after, "reopened after rebuild_index");
    snap_free(&after);

    /* Numbering continues, gapless, after reopening. */
    assert_int_equal(add_one(c->reg, "demand", "store_0", NULL), 5);
    assert_int_equal(add_one(c->reg, "other", "x", NULL), 5);
    herd_registry_free(c->reg);
    c->reg = open_reg(c->path);
    assert_int_equal(resolve(c->reg, "demand", "store_0", "latest"), 5);
    assert_int_equal(resolve(c->reg, "other", "x", "latest"), 5);
    snap_free(&before);
}

/* The same without checkpoints: reopening replays the journal only. */
static void test_reopen_without_checkpoint(void **state)
{
    ctx *c = *state;
    hd_registry_set_checkpoint_every(c->reg, 0);
    populate(c->reg, 3);
    snapshot before, after;
    snap_take(c->reg, &before);
    herd_registry_free(c->reg);
    c->reg = open_reg(c->path);
    snap_take(c->reg, &after);
    snap_compare(&before, &after, "reopened without checkpoint");
    snap_free(&after);
    /* A second handle opened meanwhile agrees after a refresh. */
    herd_registry *r2 = open_reg(c->path);
    hd_registry_set_checkpoint_every(c->reg, 1);
    assert_int_equal(add_one(c->reg, "demand", "store_0", NULL), 4);
    EXPECT_OK(herd_registry_refresh(r2));
    snapshot s1, s2;
    snap_take(c->reg, &s1);
    snap_take(r2, &s2);
    snap_compare(&s1, &s2, "two handles");
    snap_free(&s1);
    snap_free(&s2);
    herd_registry_free(r2);
    EXPECT_OK(herd_registry_check(c->reg, NULL));
    snap_free(&before);
}

/* ---- The tiered index: a base and deltas (docs/registry.md, "index") ---- */

/* The index delta files ("index-S-E") of a registry, and the name of the
 * one of the lowest start (into low, may be NULL). */
static size_t count_deltas(const char *path, char *low, size_t size)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    if (low) *low = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "index-", 6)) continue;
        n++;
        if (low && (!*low || strcmp(e->d_name, low) < 0)) snprintf(low, size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* Round r adds new groups (so that checkpoints write deltas) and, every
 * few rounds, touches old ones: a version of DE/Berlin, a champion move,
 * an archive, a run's summary. */
static void tiered_round(herd_registry *reg, int r)
{
    herd_batch *b = begin(reg);
    char run[32], key[32], idem[64];
    snprintf(run, sizeof run, "run%d", r % 5);
    char summary[32];
    snprintf(summary, sizeof summary, "{\"round\":%d}", r);
    EXPECT_OK(herd_batch_set_run(b, run, r < 5 ? "{\"eta\":0.3}" : NULL, summary));
    for (int g = 0; g < 3; g++) {
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        snprintf(key, sizeof key, "g%03d", 3 * r + g);
        snprintf(idem, sizeof idem, "%s:%s", run, key);
        const char *mn[] = {"rmse"};
        double mv[] = {1.0 + r + g / 10.0};
        vo.metric_names = mn;
        vo.metric_values = mv;
        vo.n_metrics = 1;
        vo.idempotency_key = idem;
        vo.run_id = run;
        vo.alias = g == 0 ? "champion" : NULL;
        add_art(b, "demand", key, &vo);
    }
    if (r % 4 == 0) add_art(b, "demand", "DE/Berlin", NULL);
    if (r % 7 == 3) add_art(b, "other", "x", NULL);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    if (r % 6 == 5) { /* an old group's champion moves, one of "other" is archived */
        herd_alias_options ao;
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.reason = "won";
        b = begin(reg);
        EXPECT_OK(herd_batch_set_alias(b, "demand", "DE/Berlin", "champion", 1, &ao));
        EXPECT_OK(herd_batch_set_alias(b, "demand", "g000", "challenger", 1, &ao));
        EXPECT_OK(herd_batch_archive(b, "other", "x", 1, "old"));
        EXPECT_OK(herd_batch_commit(b));
        herd_batch_free(b);
    }
}

/* Commits of new groups with a checkpoint after each write deltas above
 * the base and merge them geometrically: the files stay few, and every
 * handle -- the writer's, a reopened one, one opened over the journal
 * alone, one after a rebuild -- reads the same. */
static void test_tiered_index(void **state)
{
    ctx *c = *state;
    hd_registry_set_checkpoint_every(c->reg, 1);
    size_t most = 0;
    int stacked = 0;
    for (int r = 0; r < 40; r++) {
        tiered_round(c->reg, r);
        size_t n = count_deltas(c->path, NULL, 0);
        if (n > most) most = n;
        stacked += n >= 2;
        if (r % 8 != 7) continue;
        /* Reopened from the base and its deltas, everything reads the same. */
        snapshot before, after;
        snap_take(c->reg, &before);
        herd_registry *fresh = open_reg(c->path);
        snap_take(fresh, &after);
        snap_compare(&before, &after, "reopened over the deltas");
        snap_free(&after);
        EXPECT_OK(herd_registry_check(fresh, NULL));
        herd_registry_free(fresh);
        snap_free(&before);
    }
    /* Deltas were stacked, and merged: about log2 of the checkpoints. */
    if (!stacked || most > 7)
        fail_msg("tiered index: at most %zu delta files at once (%d rounds with 2 or more); "
                 "expected 2 to 7", most, stacked);

    /* Idempotency keys are found in every segment. */
    herd_batch *b = begin(c->reg);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.idempotency_key = "run1:g003";
    size_t i = add_art(b, "demand", "g003", &vo);
    vo.idempotency_key = "run3:g114";
    size_t j = add_art(b, "demand", "g114", &vo);
    EXPECT_OK(herd_batch_commit(b));
    int existed = 0;
    assert_int_equal(batch_version(b, i, &existed), 1);
    assert_int_equal(existed, 1);
    assert_int_equal(batch_version(b, j, &existed), 1);
    assert_int_equal(existed, 1);
    herd_batch_free(b);

    /* The journal alone (every index file removed) gives the same. */
    snapshot before, after;
    snap_take(c->reg, &before);
    herd_registry_free(c->reg);
    c->reg = NULL;
    char copy[4200], cmd[20000];
    snprintf(copy, sizeof copy, "%s/journal-only", c->dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && rm -f '%s'/index*", c->path, copy, copy);
    assert_int_equal(system(cmd), 0);
    herd_registry *plain = open_reg(copy);
    snap_take(plain, &after);
    snap_compare(&before, &after, "the journal alone");
    snap_free(&after);
    herd_registry_free(plain);

    /* Rebuilding writes one base and removes every delta. */
    c->reg = open_reg(c->path);
    assert_true(count_deltas(c->path, NULL, 0) > 0);
    EXPECT_OK(herd_registry_rebuild_index(c->reg));
    assert_int_equal(count_deltas(c->path, NULL, 0), 0);
    snap_take(c->reg, &after);
    snap_compare(&before, &after, "after rebuild_index");
    snap_free(&after);
    snap_free(&before);
}

/* A delta that is missing, damaged or from another registry costs time,
 * never data: open reads the journal from where the chain ends, check
 * reports the damage, the next commit writes what replaces it. */
static void test_tiered_index_damage(void **state)
{
    ctx *c = *state;
    hd_registry_set_checkpoint_every(c->reg, 1);
    for (int r = 0; r < 10; r++) tiered_round(c->reg, r); /* a base and 2 deltas */
    snapshot before, after;
    snap_take(c->reg, &before);
    herd_registry_free(c->reg);
    c->reg = NULL;
    char low[256], path[4500], copy[4200], cmd[20000];
    assert_true(count_deltas(c->path, low, sizeof low) >= 2);
    snprintf(path, sizeof path, "%s/%s", c->path, low);

    for (int k = 0; k < 4; k++) {
        static const char *const what[] = {"missing", "header damaged", "data damaged",
                                           "another registry's"};
        snprintf(copy, sizeof copy, "%s/case%d", c->dir, k);
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", copy, c->path, copy);
        assert_int_equal(system(cmd), 0);
        char victim[4500];
        snprintf(victim, sizeof victim, "%s/%s", copy, low);
        if (k == 0) {
            assert_int_equal(unlink(victim), 0);
        } else if (k == 3) { /* the index of another journal under this name */
            snprintf(cmd, sizeof cmd, "cp '%s/index' '%s'", copy, victim);
            assert_int_equal(system(cmd), 0);
        } else {
            FILE *f = fopen(victim, "r+b");
            assert_non_null(f);
            long off = k == 1 ? 20 : 300;
            assert_int_equal(fseek(f, off, SEEK_SET), 0);
            int ch = fgetc(f);
            assert_int_equal(fseek(f, off, SEEK_SET), 0);
            fputc(ch ^ 0x5a, f);
            fclose(f);
        }
        herd_registry *reg = open_reg(copy);
        herd_frame *problems = NULL;
        int crc = herd_registry_check(reg, &problems);
        size_t np = herd_frame_row_count(problems);
        herd_frame_free(problems);
        if (k == 2) {
            /* Damage inside a chunk is found when read: check names it,
             * and the rebuilt index reads as before. */
            if (crc != HERD_ECORRUPT || np == 0 || !strstr(herd_last_error(), low))
                fail_msg("%s delta: herd_registry_check found %zu problems (%s)", what[k], np,
                         herd_last_error());
            EXPECT_OK(herd_registry_rebuild_index(reg));
        } else if (crc != HERD_OK && k != 1) {
            fail_msg("%s delta: herd_registry_check: %s", what[k], herd_last_error());
        }
        snap_take(reg, &after);
        char label[96];
        snprintf(label, sizeof label, "%s delta", what[k]);
        snap_compare(&before, &after, label);
        snap_free(&after);
        /* The next commit replaces what was set aside; then all is sound. */
        assert_int_equal(add_one(reg, "demand", "fresh", NULL), 1);
        herd_registry_free(reg);
        reg = open_reg(copy);
        EXPECT_OK(herd_registry_check(reg, NULL));
        assert_int_equal(resolve(reg, "demand", "fresh", "latest"), 1);
        assert_int_equal(resolve(reg, "demand", "g000", "champion"), 1);
        herd_registry_free(reg);
    }
    c->reg = open_reg(c->path);
    snap_free(&before);
    (void)path;
}

static void test_check_healthy(void **state)
{
    ctx *c = *state;
    /* Empty. */
    herd_frame *p = NULL;
    EXPECT_OK(herd_registry_check(c->reg, &p));
    assert_int_equal(herd_frame_row_count(p), 0);
    herd_frame_free(p);
    populate(c->reg, 2);
    uint64_t reclaimed = 0;
    EXPECT_OK(herd_registry_gc(c->reg, &reclaimed));
    p = NULL;
    EXPECT_OK(herd_registry_check(c->reg, &p));
    assert_int_equal(herd_frame_row_count(p), 0);
    herd_frame_free(p);
    EXPECT_OK(herd_registry_rebuild_index(c->reg));
    EXPECT_OK(herd_registry_check(c->reg, NULL));
}

/* gc over several packs: the live artifacts of a pack holding an archived
 * version move to a new pack, which must survive the deletion of the packs
 * it emptied (a regression: it was taken for an orphan and deleted). */
static void test_gc_several_packs(void **state)
{
    ctx *c = *state;
    hd_registry_set_pack_target(c->reg, 4000); /* about two artifacts a pack */
    const char *groups[] = {"g0", "g1", "g2"};
    for (int i = 0; i < 12; i++) add_one(c->reg, "f", groups[i % 3], NULL);
    size_t packs_before = count_packs(c->path);
    assert_true(packs_before >= 4);
    archive(c->reg, "f", "g0", 1);
    uint64_t reclaimed = 0;
    EXPECT_OK(herd_registry_gc(c->reg, &reclaimed));
    assert_true(reclaimed > 0);
    herd_registry *fresh = open_reg(c->path);
    herd_registry *handles[] = {c->reg, fresh};
    for (size_t h = 0; h < 2; h++) {
        for (int g = 0; g < 3; g++) {
            for (int64_t v = 1; v <= 4; v++) {
                herd_artifact *a = NULL;
                int rc = herd_registry_load(handles[h], "f", groups[g], v, &a);
                if (g == 0 && v == 1) {
                    assert_int_equal(rc, HERD_ENOTFOUND);
                    assert_non_null(strstr(herd_last_error(), "archived"));
                } else {
                    if (rc) fail_msg("f/%s v%lld after gc: %s", groups[g], (long long)v,
                                     herd_last_error());
                    assert_same_model(a);
                }
                herd_artifact_free(a);
            }
        }
    }
    EXPECT_OK(herd_registry_check(fresh, NULL));
    herd_registry_free(fresh);
}

/* One handle shared by threads: readers resolve and load while another
 * thread commits through the same handle; every read sees a whole commit
 * (the champion it resolves always loads, the count only grows). */
typedef struct shared_ctx {
    herd_registry *reg;
    int stop; /* read and written atomically: the readers poll it */
    int failures;
    int64_t reads;
} shared_ctx;

static void *shared_reader(void *arg)
{
    shared_ctx *s = arg;
    int64_t last = 0;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        int64_t v = 0;
        herd_artifact *a = NULL;
        if (herd_registry_resolve(s->reg, "f", "g", "champion", &v) ||
            herd_registry_load(s->reg, "f", "g", v, &a) || v < last)
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        herd_artifact_free(a);
        last = v;
        __atomic_add_fetch(&s->reads, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_shared_handle_threads(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    add_one(c->reg, "f", "g", &vo);
    shared_ctx s = {.reg = c->reg};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, shared_reader, &s), 0);
    for (int i = 0; i < 20; i++) add_one(c->reg, "f", "g", &vo);
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    assert_int_equal(s.failures, 0);
    assert_true(s.reads > 0);
    assert_int_equal(resolve(c->reg, "f", "g", "champion"), 21);
}

/* Listings on a shared handle beside commits through it, with checkpoints
 * swapping index segments in between: each frame shows whole commits.
 * Every commit adds a version to each of LISTED_GROUPS groups and points
 * their champion at it, so every frame of herd_registry_aliases or
 * herd_registry_groups holds one row per group, all at the same version,
 * and no later frame goes back. */
#define LISTED_GROUPS 4

static const char *const listed_keys[LISTED_GROUPS] = {"g0", "g1", "g2", "g3"};

typedef struct listing_ctx {
    herd_registry *reg;
    int which; /* 0: herd_registry_aliases; 1: herd_registry_groups */
    int stop;  /* read and written atomically */
    int failures;
    int64_t frames, last;
    char first_failure[256];
} listing_ctx;

/* The version every row of `f` shows in `col` (-1 when they differ, a
 * group is missing or a cell cannot be read). */
static int64_t listing_version(const herd_frame *f, const char *col)
{
    size_t c = 0, key = 0;
    if (herd_frame_find(f, col, &c) || herd_frame_find(f, "group", &key) ||
        herd_frame_row_count(f) != LISTED_GROUPS)
        return -1;
    int64_t v = -1;
    for (size_t r = 0; r < LISTED_GROUPS; r++) {
        int64_t x = 0;
        const char *k = NULL;
        if (herd_frame_get_int64(f, c, r, &x) || herd_frame_get_string(f, key, r, &k) ||
            strcmp(k, listed_keys[r]) || (r && x != v))
            return -1;
        v = x;
    }
    return v;
}

static void *listing_reader(void *arg)
{
    listing_ctx *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        herd_frame *f = NULL;
        int rc = s->which ? herd_registry_groups(s->reg, "f", &f)
                          : herd_registry_aliases(s->reg, "f", "champion", &f);
        int64_t v = rc ? -1 : listing_version(f, s->which ? "latest" : "version");
        if (v < s->last) {
            if (!s->failures++)
                snprintf(s->first_failure, sizeof s->first_failure, "%s: rc %d, %zu rows, "
                         "version %lld after %lld (%s)", s->which ? "groups" : "aliases", rc,
                         f ? herd_frame_row_count(f) : 0, (long long)v, (long long)s->last,
                         rc ? herd_last_error() : "rows differ");
        } else {
            s->last = v;
        }
        herd_frame_free(f);
        s->frames++;
    }
    return NULL;
}

static void commit_listed(herd_registry *reg, const herd_version_options *vo)
{
    herd_batch *b = begin(reg);
    herd_version_options o = *vo;
    for (size_t g = 0; g < LISTED_GROUPS; g++) {
        o.group = listed_keys[g];
        add_art(b, "f", listed_keys[g], &o);
    }
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
}

static void test_listings_beside_commits(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    commit_listed(c->reg, &vo);
    hd_registry_set_checkpoint_every(c->reg, 3 * LISTED_GROUPS);
    listing_ctx s[3] = {{.reg = c->reg, .which = 0}, {.reg = c->reg, .which = 1},
                        {.reg = c->reg, .which = 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, listing_reader, &s[i]), 0);
    for (int i = 0; i < 20; i++) commit_listed(c->reg, &vo);
    for (int i = 0; i < 3; i++) __atomic_store_n(&s[i].stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) {
        if (s[i].failures) fail_msg("%d torn listings, the first: %s", s[i].failures,
                                    s[i].first_failure);
        assert_true(s[i].frames > 0);
        assert_true(s[i].last >= 1 && s[i].last <= 21);
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_aliases(c->reg, "f", "champion", &f));
    assert_int_equal(listing_version(f, "version"), 21);
    herd_frame_free(f);
}

/* A reader on a shared handle takes none of the writer's locks when the
 * journal holds nothing new: herd_registry_refresh (which herd_compare and
 * herd_registry_predict call first) and herd_registry_resolve return while
 * a commit through the same handle waits in the journal's fdatasync.  The
 * layer below is the real one, with that fdatasync held at a gate. */
typedef struct gate_vfs {
    hd_vfs vfs;
    const hd_vfs *inner;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int armed, waiting, open; /* under mu */
} gate_vfs;

static gate_vfs g_gate = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int gate_fdatasync(hd_vfs_file *f)
{
    size_t n = strlen(f->path);
    pthread_mutex_lock(&g_gate.mu);
    if (g_gate.armed && n >= 8 && !strcmp(f->path + n - 8, "/journal")) {
        g_gate.armed = 0;
        g_gate.waiting = 1;
        pthread_cond_broadcast(&g_gate.cv);
        while (!g_gate.open) pthread_cond_wait(&g_gate.cv, &g_gate.mu);
    }
    pthread_mutex_unlock(&g_gate.mu);
    return g_gate.inner->fdatasync(f);
}

/* Resolves beside the held commit: 10 s of them if giving way slept for
 * even half a millisecond (the time allowed below). */
#define GATE_READS 20000

typedef struct gate_call {
    herd_registry *reg;
    int which; /* 0: commit one version; 1: refresh, then GATE_READS resolves */
    herd_artifact *art; /* which 0 commits it */
    int rc, done; /* done under g_gate.mu */
    int64_t version;
} gate_call;

static void *gate_thread(void *arg)
{
    gate_call *g = arg;
    if (g->which == 0) {
        herd_batch *b = NULL;
        g->rc = herd_registry_begin(g->reg, &b);
        if (!g->rc) g->rc = herd_batch_add(b, g->art, NULL, NULL);
        if (!g->rc) g->rc = herd_batch_commit(b);
        herd_batch_free(b);
    } else {
        /* Readers give way to the commit in flight (they yield the CPU now
         * and then), but never wait for it. */
        g->rc = herd_registry_refresh(g->reg);
        for (int i = 0; !g->rc && i < GATE_READS; i++)
            g->rc = herd_registry_resolve(g->reg, "f", "g", "latest", &g->version);
    }
    pthread_mutex_lock(&g_gate.mu);
    g->done = 1;
    pthread_cond_broadcast(&g_gate.cv);
    pthread_mutex_unlock(&g_gate.mu);
    return NULL;
}

/* Wait up to `secs` for *flag (under g_gate.mu); whether it was set. */
static int gate_wait(const int *flag, int secs)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += secs;
    pthread_mutex_lock(&g_gate.mu);
    int rc = 0;
    while (!*flag && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&g_gate.cv, &g_gate.mu, &until);
    int set = *flag;
    pthread_mutex_unlock(&g_gate.mu);
    return set;
}

static void test_refresh_beside_commit(void **state)
{
    ctx *c = *state;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    add_one(c->reg, "f", "g", &vo); /* the family and group exist */
    g_gate.inner = hd_vfs_posix();
    g_gate.vfs = *g_gate.inner;
    g_gate.vfs.fdatasync = gate_fdatasync;
    g_gate.armed = g_gate.waiting = g_gate.open = 0;
    herd_registry *reg = NULL;
    EXPECT_OK(hd_registry_open_vfs(&g_gate.vfs, c->path, NULL, &reg));
    /* Something new (another handle's commit) is read under the locks. */
    add_one(c->reg, "f", "g", &vo);
    EXPECT_OK(herd_registry_refresh(reg));
    assert_int_equal(resolve(reg, "f", "g", "latest"), 2);

    pthread_mutex_lock(&g_gate.mu);
    g_gate.armed = 1;
    pthread_mutex_unlock(&g_gate.mu);
    gate_call w = {.reg = reg, .which = 0, .art = make_art("f", "g", NULL)};
    gate_call r = {.reg = reg, .which = 1};
    pthread_t wt, rt;
    assert_int_equal(pthread_create(&wt, NULL, gate_thread, &w), 0);
    assert_true(gate_wait(&g_gate.waiting, 30)); /* the commit holds the writer's locks */
    assert_int_equal(pthread_create(&rt, NULL, gate_thread, &r), 0);
    int reader_done = gate_wait(&r.done, 10);
    pthread_mutex_lock(&g_gate.mu);
    g_gate.open = 1;
    pthread_cond_broadcast(&g_gate.cv);
    pthread_mutex_unlock(&g_gate.mu);
    pthread_join(wt, NULL);
    pthread_join(rt, NULL);
    if (!reader_done) fail_msg("herd_registry_refresh or %d resolves took over 10 s beside a "
                               "commit in flight on their handle: a reader waited for it",
                               GATE_READS);
    EXPECT_OK(r.rc);
    assert_int_equal(r.version, 2); /* the commit in flight is not acknowledged yet */
    EXPECT_OK(w.rc);
    herd_artifact_free(w.art);
    EXPECT_OK(herd_registry_refresh(reg));
    assert_int_equal(resolve(reg, "f", "g", "latest"), 3);
    herd_registry_free(reg);
    /* The other handle catches up with it. */
    EXPECT_OK(herd_registry_refresh(c->reg));
    assert_int_equal(resolve(c->reg, "f", "g", "latest"), 3);
}

/* Files of a registry directory whose names start with `prefix`. */
static size_t count_prefixed(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* Large batches write their artifacts to a pack of their own as they are
 * added; the commit puts it in place, an abandoned batch removes it, gc
 * removes one whose process died, and a live batch's survives gc. */
static void test_batch_spill(void **state)
{
    ctx *c = *state;
    hd_registry_set_spill_bytes(c->reg, 3000); /* about two artifacts */
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    herd_batch *b = begin(c->reg);
    char g[8][8];
    for (int i = 0; i < 8; i++) {
        snprintf(g[i], sizeof g[i], "s%d", i);
        add_art(b, "f", g[i], &vo);
    }
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 1);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 0);
    herd_registry *fresh = open_reg(c->path);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(resolve(fresh, "f", g[i], "champion"), 1);
        herd_artifact *a = NULL;
        EXPECT_OK(herd_registry_load(fresh, "f", g[i], 1, &a));
        assert_same_model(a);
        herd_artifact_free(a);
    }
    /* small commits after it append to the spilled pack or a new one */
    add_one(c->reg, "f", "s0", NULL);
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_refresh(fresh));
    EXPECT_OK(herd_registry_load(fresh, "f", "s0", 2, &a));
    herd_artifact_free(a);

    /* abandoned: nothing committed, its file removed */
    b = begin(c->reg);
    for (int i = 0; i < 4; i++) add_art(b, "f", "x", NULL);
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 1);
    herd_batch_free(b);
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 0);
    assert_int_equal(herd_registry_resolve(c->reg, "f", "x", "latest", &(int64_t){0}),
                     HERD_ENOTFOUND);

    /* a dead process's file (no lock) goes at gc, a live batch's stays */
    char dead[4200];
    snprintf(dead, sizeof dead, "%s/pack-tmp-dead", c->path);
    write_text_file(dead, "left by a crashed writer");
    b = begin(c->reg);
    for (int i = 0; i < 4; i++) add_art(b, "f", "y", NULL);
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 2);
    EXPECT_OK(herd_registry_gc(c->reg, NULL));
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 1);
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
    assert_int_equal(resolve(c->reg, "f", "y", "latest"), 4);
    EXPECT_OK(herd_registry_check(c->reg, NULL));
    herd_registry_free(fresh);
}

/* A streaming batch (hd_batch_stream, the cycle's) writes its artifacts
 * to its own pack once they pass the handle's stream size, where a plain
 * batch keeps them in memory; a smaller spill size still applies. */
static void test_batch_stream(void **state)
{
    ctx *c = *state;
    hd_registry_set_stream_bytes(c->reg, 3000); /* about two artifacts */
    herd_batch *plain = begin(c->reg), *stream = begin(c->reg);
    hd_batch_stream(stream);
    for (int i = 0; i < 4; i++) {
        add_art(plain, "f", "p", NULL);
        add_art(stream, "f", "s", NULL);
    }
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 1);
    EXPECT_OK(herd_batch_commit(stream));
    EXPECT_OK(herd_batch_commit(plain));
    herd_batch_free(stream);
    herd_batch_free(plain);
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 0);
    herd_registry *fresh = open_reg(c->path);
    for (int64_t v = 1; v <= 4; v++) {
        static const char *const groups[] = {"p", "s"};
        for (int k = 0; k < 2; k++) {
            herd_artifact *a = NULL;
            EXPECT_OK(herd_registry_load(fresh, "f", groups[k], v, &a));
            assert_same_model(a);
            herd_artifact_free(a);
        }
    }
    herd_registry_free(fresh);
    hd_registry_set_stream_bytes(c->reg, UINT64_MAX);
    hd_registry_set_spill_bytes(c->reg, 3000);
    stream = begin(c->reg);
    hd_batch_stream(stream);
    for (int i = 0; i < 4; i++) add_art(stream, "f", "t", NULL);
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 1);
    herd_batch_free(stream); /* abandoned: its pack goes with it */
    assert_int_equal(count_prefixed(c->path, "pack-tmp-"), 0);
}

/* herd_registry_aliases: every group's alias in one frame, from the index
 * and from commits after it alike. */
static void test_aliases_of_family(void **state)
{
    ctx *c = *state;
    hd_registry_set_checkpoint_every(c->reg, 1); /* the first groups go to the index */
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.alias = "champion";
    add_one(c->reg, "f", "a", &vo);
    add_one(c->reg, "f", "b", NULL);
    add_one(c->reg, "f", "c", &vo);
    add_one(c->reg, "other", "a", &vo);
    hd_registry_set_checkpoint_every(c->reg, 0); /* the rest stays in the journal */
    add_one(c->reg, "f", "c", &vo);  /* c: champion 2 */
    add_one(c->reg, "f", "b", NULL); /* b: 2 versions, no champion */
    add_one(c->reg, "f", "d", &vo);
    archive(c->reg, "f", "b", 2);
    herd_registry *fresh = open_reg(c->path);
    herd_registry *handles[] = {c->reg, fresh};
    for (int h = 0; h < 2; h++) {
        herd_frame *f = NULL;
        EXPECT_OK(herd_registry_aliases(handles[h], "f", "champion", &f));
        static const char *const names[] = {"family", "group", "version"};
        static const int types[] = {HERD_TYPE_STRING, HERD_TYPE_STRING, HERD_TYPE_INT64};
        assert_columns(f, names, types, 3);
        char rows[256];
        rows_text(f, rows, sizeof rows);
        assert_string_equal(rows, "f:a:1;f:c:2;f:d:1;");
        herd_frame_free(f);
        EXPECT_OK(herd_registry_aliases(handles[h], "f", "latest", &f));
        rows_text(f, rows, sizeof rows);
        assert_string_equal(rows, "f:a:1;f:b:1;f:c:2;f:d:1;");
        herd_frame_free(f);
        EXPECT_OK(herd_registry_aliases(handles[h], "f", "nobody", &f));
        assert_int_equal(herd_frame_row_count(f), 0);
        herd_frame_free(f);
    }
    herd_frame *f = (herd_frame *)1;
    assert_int_equal(herd_registry_aliases(c->reg, "f/x", "champion", &f), HERD_EINVAL);
    assert_null(f);
    assert_int_equal(herd_registry_aliases(c->reg, "f", NULL, &f), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "alias"));
    herd_registry_free(fresh);
}

/* The format file's version: a newer minor opens (it only adds what older
 * libraries can do without), a newer major is refused naming both
 * versions, and the file's checksum is checked before its version. */
static void rewrite_format(const char *path, unsigned major, unsigned minor, int fix_crc)
{
    char fp[4200];
    snprintf(fp, sizeof fp, "%s/HERD-REGISTRY", path);
    FILE *f = fopen(fp, "r+b");
    assert_non_null(f);
    unsigned char b[64];
    assert_int_equal(fread(b, 1, 64, f), 64);
    b[8] = (unsigned char)major;
    b[9] = (unsigned char)(major >> 8);
    b[10] = (unsigned char)minor;
    b[11] = (unsigned char)(minor >> 8);
    if (fix_crc) {
        uint32_t c = (uint32_t)crc32(0, b, 60);
        for (int i = 0; i < 4; i++) b[60 + i] = (unsigned char)(c >> (8 * i));
    }
    rewind(f);
    assert_int_equal(fwrite(b, 1, 64, f), 64);
    fclose(f);
}

static void test_format_versions(void **state)
{
    ctx *c = *state;
    assert_int_equal(add_one(c->reg, "demand", "a", NULL), 1);
    herd_registry_free(c->reg);
    c->reg = NULL;
    rewrite_format(c->path, 1, 7, 1);
    herd_registry *r = open_reg(c->path); /* a newer minor: opens, reads */
    assert_int_equal(resolve(r, "demand", "a", "latest"), 1);
    herd_registry_free(r);
    rewrite_format(c->path, 2, 0, 1);
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.create = 0;
    assert_int_equal(herd_registry_open(c->path, &o, &r), HERD_EFORMAT);
    assert_null(r);
    assert_non_null(strstr(herd_last_error(), "format 2.0"));
    assert_non_null(strstr(herd_last_error(), "upgrade"));
    rewrite_format(c->path, 1, 0, 0); /* a flipped byte, CRC not fixed */
    assert_int_equal(herd_registry_open(c->path, &o, &r), HERD_ECORRUPT);
    assert_non_null(strstr(herd_last_error(), "offset 60"));
    rewrite_format(c->path, 1, 0, 1);
    c->reg = open_reg(c->path);
    assert_int_equal(resolve(c->reg, "demand", "a", "latest"), 1);
}

/* Open descriptors of this process (Linux). */
static size_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Commits and loads through one handle do not accumulate descriptors, and
 * gc closes the packs it deletes (a regression: every commit kept one). */
static void test_no_descriptor_leak(void **state)
{
    ctx *c = *state;
    add_one(c->reg, "f", "g", NULL);
    size_t before = count_fds();
    for (int i = 0; i < 150; i++) {
        add_one(c->reg, "f", "g", NULL);
        herd_artifact *a = NULL;
        EXPECT_OK(herd_registry_load(c->reg, "f", "g", i + 1, &a));
        herd_artifact_free(a);
    }
    size_t after = count_fds();
    if (after > before + 2) fail_msg("%zu descriptors before 150 commits, %zu after", before, after);
    archive(c->reg, "f", "g", 1);
    EXPECT_OK(herd_registry_gc(c->reg, NULL));
    assert_true(count_fds() <= after + 1);
}

/* An alias may not point at a version the same batch archives. */
static void test_archive_then_alias(void **state)
{
    ctx *c = *state;
    add_one(c->reg, "f", "g", NULL);
    add_one(c->reg, "f", "g", NULL);
    herd_batch *b = begin(c->reg);
    EXPECT_OK(herd_batch_archive(b, "f", "g", 1, "old"));
    EXPECT_OK(herd_batch_set_alias(b, "f", "g", "champion", 1, NULL));
    assert_int_equal(herd_batch_commit(b), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "archived"));
    herd_batch_free(b);
    int64_t v = 0;
    assert_int_equal(herd_registry_resolve(c->reg, "f", "g", "champion", &v), HERD_ENOTFOUND);
    assert_int_equal(resolve(c->reg, "f", "g", "latest"), 2); /* nothing was archived */
    herd_frame *f = versions(c->reg, "f", "g");
    assert_string_equal(cell_s(f, "status", 0), "active");
    herd_frame_free(f);
}

/* An index whose journal position the journal does not have (a restored
 * journal, a damaged field with a valid checksum) is set aside: nothing
 * committed is cut off, and the next commit rewrites it. */
static void test_index_from_another_journal(void **state)
{
    ctx *c = *state;
    hd_registry_set_checkpoint_every(c->reg, 1);
    add_one(c->reg, "f", "g", NULL);
    add_one(c->reg, "f", "g", NULL);
    herd_registry_free(c->reg);
    c->reg = NULL;
    char ip[4200], jp[4200];
    snprintf(ip, sizeof ip, "%s/index", c->path);
    snprintf(jp, sizeof jp, "%s/journal", c->path);
    struct stat st;
    assert_int_equal(stat(jp, &st), 0);
    off_t journal_size = st.st_size;
    for (int shift = -30; shift <= 30; shift += 60) {
        FILE *f = fopen(ip, "r+b");
        assert_non_null(f);
        unsigned char h[256];
        assert_int_equal(fread(h, 1, 256, f), 256);
        uint64_t jend = 0;
        for (int i = 0; i < 8; i++) jend |= (uint64_t)h[24 + i] << (8 * i);
        jend += (uint64_t)(int64_t)shift;
        for (int i = 0; i < 8; i++) h[24 + i] = (unsigned char)(jend >> (8 * i));
        uint32_t crc = (uint32_t)crc32(0, h, 252);
        for (int i = 0; i < 4; i++) h[252 + i] = (unsigned char)(crc >> (8 * i));
        rewind(f);
        assert_int_equal(fwrite(h, 1, 256, f), 256);
        fclose(f);
        herd_registry *r = open_reg(c->path);
        assert_int_equal(resolve(r, "f", "g", "latest"), 2);
        herd_registry_free(r);
        assert_int_equal(stat(jp, &st), 0);
        assert_int_equal(st.st_size, journal_size);
        jend -= (uint64_t)(int64_t)shift; /* undo for the next round */
        f = fopen(ip, "r+b");
        assert_non_null(f);
        for (int i = 0; i < 8; i++) h[24 + i] = (unsigned char)(jend >> (8 * i));
        crc = (uint32_t)crc32(0, h, 252);
        for (int i = 0; i < 4; i++) h[252 + i] = (unsigned char)(crc >> (8 * i));
        assert_int_equal(fwrite(h, 1, 256, f), 256);
        fclose(f);
    }
    c->reg = open_reg(c->path);
    assert_int_equal(add_one(c->reg, "f", "g", NULL), 3);
    EXPECT_OK(herd_registry_check(c->reg, NULL));
}

/* ========================================================================
 * Records written in chunks (record.c)
 * ===================================================================== */

#define WIDE_GROUPS 120

/* One artifact per group, made once so that two registries receive the
 * same bytes (an artifact records when it was made). */
typedef struct wide_arts {
    herd_artifact *a[WIDE_GROUPS];
} wide_arts;

static void wide_arts_make(wide_arts *w)
{
    for (int i = 0; i < WIDE_GROUPS; i++) {
        char g[32];
        snprintf(g, sizeof g, "store_%03d", i);
        w->a[i] = make_art("demand", g, "run-1");
    }
}

static void wide_arts_free(wide_arts *w)
{
    for (int i = 0; i < WIDE_GROUPS; i++) herd_artifact_free(w->a[i]);
}

/* Version options: an idempotency key, tags, metrics, the champion alias. */
static void champion_options(herd_version_options *vo, const char *idem,
                             const char *const *tn, const char *const *tv, size_t ntags,
                             const char *const *mn, const double *mv, size_t nmetrics)
{
    herd_version_options_init(vo, HERD_VERSION_OPTIONS_VERSION);
    vo->idempotency_key = idem;
    vo->tag_names = tn;
    vo->tag_values = tv;
    vo->n_tags = ntags;
    vo->metric_names = mn;
    vo->metric_values = mv;
    vo->n_metrics = nmetrics;
    vo->alias = "champion";
}

/* Round `round` of a wide batch: a version with metrics and tags of
 * every group (the champion alias moved to it), from round 2 the
 * challenger alias moved to the previous version in every group (guarded
 * by expect_version), an archive in round 3, a run; with `conflict`, the
 * last alias move expects a version the alias is not at.  Returns the
 * commit's status. */
static int wide_commit(herd_registry *reg, const wide_arts *w, int round, int conflict)
{
    herd_batch *b = begin(reg);
    const char *tn[] = {"region", "note"};
    const char *mn[] = {"rmse", "mae", "coverage"};
    for (int i = 0; i < WIDE_GROUPS; i++) {
        char idem[64], note[96];
        snprintf(idem, sizeof idem, "run-%d/store_%03d", round, i);
        snprintf(note, sizeof note, "round %d of group %d, a tag long enough to matter", round,
                 i);
        const char *tv[] = {i % 2 ? "north" : "south", note};
        double mv[] = {1.0 + i / 100.0, 0.5 + round, (double)i};
        herd_version_options vo;
        champion_options(&vo, idem, tn, tv, 2, mn, mv, 3);
        EXPECT_OK(herd_batch_add(b, w->a[i], &vo, NULL));
    }
    for (int i = 0; i < WIDE_GROUPS && round > 1; i++) {
        char g[32];
        snprintf(g, sizeof g, "store_%03d", i);
        herd_alias_options ao;
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.reason = "the previous champion, kept as challenger";
        ao.details = "{\"rmse\": 1.25, \"delta\": -0.125}";
        ao.expect_version = round - 2;
        if (conflict && i == WIDE_GROUPS - 1) ao.expect_version = round + 5;
        EXPECT_OK(herd_batch_set_alias(b, "demand", g, "challenger", round - 1, &ao));
    }
    if (round == 3) EXPECT_OK(herd_batch_archive(b, "demand", "store_007", 1, "superseded"));
    char run[32];
    snprintf(run, sizeof run, "run-%d", round);
    EXPECT_OK(herd_batch_set_run(b, run, "{\"rounds\": 50}", "{\"groups\": 120}"));
    int rc = herd_batch_commit(b);
    herd_batch_free(b);
    return rc;
}

/* A file's bytes (malloc'd). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* The two journals hold the same records but for each record's commit
 * time (payload bytes 0..7, and so its checksums): frames, commit
 * numbers, pack positions, operation counts and operations, byte for
 * byte.  Each record's payload checksum is zlib's CRC32 of the whole
 * payload, however it was written.  Returns the number of records. */
static int same_records(const char *dir_a, const char *dir_b)
{
    char pa[2100], pb[2100];
    snprintf(pa, sizeof pa, "%s/journal", dir_a);
    snprintf(pb, sizeof pb, "%s/journal", dir_b);
    size_t na, nb;
    unsigned char *a = slurp(pa, &na), *b = slurp(pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, 32); /* the journal header */
    int records = 0;
    for (size_t pos = 32; pos < na; records++) {
        assert_true(pos + 24 <= na);
        uint32_t len = get32(a + pos + 4);
        assert_true(pos + 24 + len <= na);
        assert_int_equal(get32(a + pos), 0x43455248u);
        assert_memory_equal(a + pos + 4, b + pos + 4, 12); /* length, commit number */
        for (int k = 0; k < 2; k++) {
            const unsigned char *r = k ? b + pos : a + pos;
            assert_int_equal(get32(r + 16), (uint32_t)crc32(0, r + 24, len));
            assert_int_equal(get32(r + 20), (uint32_t)crc32(0, r, 20));
        }
        assert_memory_equal(a + pos + 24 + 8, b + pos + 24 + 8, len - 8);
        pos += 24 + len;
    }
    free(a);
    free(b);
    return records;
}

/* Everything a handle shows of the wide groups, as one string. */
static void wide_state(herd_registry *reg, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < WIDE_GROUPS; i++) {
        char g[32], line[160];
        snprintf(g, sizeof g, "store_%03d", i);
        int64_t ch = 0; /* no challenger before round 2 */
        int rc = herd_registry_resolve(reg, "demand", g, "challenger", &ch);
        if (rc != HERD_OK && rc != HERD_ENOTFOUND) EXPECT_OK(rc);
        snprintf(line, sizeof line, "%s:%lld/%lld/%lld;", g,
                 (long long)resolve(reg, "demand", g, "latest"),
                 (long long)resolve(reg, "demand", g, "champion"), (long long)ch);
        strncat(out, line, size - strlen(out) - 1);
    }
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_search(reg, NULL, &f));
    size_t rows = herd_frame_row_count(f);
    char line[64];
    snprintf(line, sizeof line, "search:%zu;", rows);
    strncat(out, line, size - strlen(out) - 1);
    herd_frame_free(f);
}

/* A record that spans many chunks (a chunk of 256 bytes: most operations
 * fill one alone, some are larger than it) is the record one write makes,
 * byte for byte but for the commit time; the writer's state is what a
 * fresh handle replays; its buffers stay about one chunk however large
 * the record; gc writes its record through the same code. */
static void test_record_chunks(void **state)
{
    ctx *c = *state;
    char path2[2100];
    snprintf(path2, sizeof path2, "%s/reg2", c->dir);
    herd_registry *big = open_reg(path2);
    hd_registry_set_record_chunk(c->reg, 256);
    wide_arts w;
    wide_arts_make(&w);
    for (int round = 1; round <= 3; round++) {
        EXPECT_OK(wide_commit(c->reg, &w, round, 0));
        EXPECT_OK(wide_commit(big, &w, round, 0));
    }
    /* Hundreds of operations of 70 to 300 bytes: ~200 chunks a record. */
    struct stat st;
    char jp[2100];
    snprintf(jp, sizeof jp, "%s/journal", c->path);
    assert_int_equal(stat(jp, &st), 0);
    assert_true(st.st_size > 3 * 80 * 256);
    size_t peak = hd_registry_record_peak(c->reg);
    if (peak > 256 + 52 + 1024)
        fail_msg("the record writer held %zu bytes at once; a chunk is 256", peak);
    assert_true(hd_registry_record_peak(big) > 40 * 1024); /* the record whole in one chunk */
    assert_int_equal(same_records(c->path, path2), 3);

    /* What the writer applied is what a fresh handle replays. */
    static char s1[64 * 1024], s2[64 * 1024], s3[64 * 1024];
    wide_state(c->reg, s1, sizeof s1);
    herd_registry *fresh = open_reg(c->path);
    wide_state(fresh, s2, sizeof s2);
    wide_state(big, s3, sizeof s3);
    assert_string_equal(s1, s2);
    assert_string_equal(s1, s3);
    assert_non_null(strstr(s1, "store_007:3/3/2;"));

    /* gc relocates every version of the pack holding the archived one. */
    hd_registry_set_record_chunk(big, 64);
    uint64_t freed = 0;
    EXPECT_OK(herd_registry_gc(c->reg, &freed));
    EXPECT_OK(herd_registry_gc(big, &freed));
    assert_true(hd_registry_record_peak(big) <= 64 + 52 + 256);
    assert_int_equal(same_records(c->path, path2), 4);
    EXPECT_OK(herd_registry_refresh(fresh));
    wide_state(c->reg, s1, sizeof s1);
    wide_state(fresh, s2, sizeof s2);
    assert_string_equal(s1, s2);
    herd_artifact *a = NULL;
    EXPECT_OK(herd_registry_load(fresh, "demand", "store_042", 2, &a));
    assert_same_model(a);
    herd_artifact_free(a);
    EXPECT_OK(herd_registry_check(big, NULL));
    herd_registry_free(fresh);
    herd_registry_free(big);
    wide_arts_free(&w);
}

/* The journal's length and bytes through the sim. */
static unsigned char *sim_journal(hd_vfs_sim *sim, size_t *len)
{
    hd_vfs_file *f = NULL;
    EXPECT_OK(hd_vfs_open(hd_vfs_sim_vfs(sim), "/reg/journal", HD_VFS_READ, &f));
    uint64_t size = 0;
    EXPECT_OK(hd_vfs_size(f, &size));
    unsigned char *b = malloc((size_t)size + 1);
    assert_non_null(b);
    size_t got = 0;
    EXPECT_OK(hd_vfs_pread(f, b, (size_t)size, 0, &got));
    assert_int_equal(got, size);
    hd_vfs_close(f);
    *len = (size_t)size;
    return b;
}

/* A write, sync or truncate failing at any point of a commit whose record
 * spans many chunks leaves the journal as it was, byte for byte, and the
 * handle's state too; the next commit succeeds.  So does an alias
 * conflict found at the batch's last operation, after most chunks went
 * out. */
static void test_record_chunk_faults(void **state)
{
    (void)state;
    wide_arts w;
    wide_arts_make(&w);
    int hits = 0;
    for (uint64_t n = 1;; n++) {
        hd_vfs_sim *sim = hd_vfs_sim_new(n, 0);
        assert_non_null(sim);
        herd_registry *reg = NULL;
        EXPECT_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(sim), "/reg", NULL, &reg));
        hd_registry_set_record_chunk(reg, 512);
        EXPECT_OK(wide_commit(reg, &w, 1, 0));
        size_t len0;
        unsigned char *j0 = sim_journal(sim, &len0);
        static char s0[64 * 1024], s1[64 * 1024];
        wide_state(reg, s0, sizeof s0);
        if (n == 1) { /* the conflict, found after the chunks went out */
            uint64_t writes = hd_vfs_sim_calls(sim, HD_VFS_OP_WRITE);
            EXPECT_RC(wide_commit(reg, &w, 2, 1), HERD_ECONFLICT, "expect_version");
            assert_true(hd_vfs_sim_calls(sim, HD_VFS_OP_WRITE) - writes > 20);
        } else {
            hd_vfs_sim_fail_at(sim, n - 1, HD_VFS_OP_WRITE | HD_VFS_OP_FSYNC |
                               HD_VFS_OP_TRUNCATE, EIO);
            int rc = wide_commit(reg, &w, 2, 0);
            hd_vfs_sim_fail_at(sim, 0, 0, 0);
            if (rc == HERD_OK) { /* past the commit's last fault point */
                herd_registry_free(reg);
                hd_vfs_sim_free(sim);
                free(j0);
                break;
            }
            hits++;
        }
        size_t len1;
        unsigned char *j1 = sim_journal(sim, &len1);
        if (len1 != len0) fail_msg("fault %llu: the journal is %zu bytes, was %zu",
                                   (unsigned long long)n, len1, len0);
        assert_memory_equal(j0, j1, len0);
        wide_state(reg, s1, sizeof s1);
        assert_string_equal(s0, s1);
        EXPECT_OK(wide_commit(reg, &w, 2, 0));
        herd_registry *fresh = NULL;
        EXPECT_OK(hd_registry_open_vfs(hd_vfs_sim_vfs(sim), "/reg", NULL, &fresh));
        wide_state(reg, s0, sizeof s0);
        wide_state(fresh, s1, sizeof s1);
        assert_string_equal(s0, s1);
        assert_non_null(strstr(s1, "store_000:2/2/1;"));
        herd_registry_free(fresh);
        herd_registry_free(reg);
        hd_vfs_sim_free(sim);
        free(j0);
        free(j1);
    }
    assert_true(hits > 40); /* every chunk write was a fault point */
    wide_arts_free(&w);
}

/* Journal writes that take a while, so that a reader polls in the middle
 * of a record's chunks. */
static const hd_vfs *g_slow_inner;

static int slow_pwrite(hd_vfs_file *f, const void *buf, size_t len, uint64_t off)
{
    size_t n = strlen(f->path);
    if (n >= 8 && !strcmp(f->path + n - 8, "/journal")) usleep(2000);
    return g_slow_inner->pwrite(f, buf, len, off);
}

typedef struct poller {
    const char *path;
    _Atomic int stop;
    int polls, partial, rc;
    char seen[64 * 1024];
} poller;

/* Another handle refreshing and reading all through a slow commit: every
 * group at version 1 (before) or all at 2 (after), never a mix. */
static void *poll_thread(void *arg)
{
    poller *p = arg;
    herd_registry *reg = NULL;
    if ((p->rc = herd_registry_open(p->path, NULL, &reg))) return NULL;
    while (!atomic_load(&p->stop) && !p->rc) {
        if ((p->rc = herd_registry_refresh(reg))) break;
        int at2 = 0;
        for (int i = 0; i < WIDE_GROUPS && !p->rc; i++) {
            char g[32];
            snprintf(g, sizeof g, "store_%03d", i);
            int64_t v = 0;
            p->rc = herd_registry_resolve(reg, "demand", g, "latest", &v);
            at2 += v == 2;
        }
        if (at2 != 0 && at2 != WIDE_GROUPS) p->partial++;
        p->polls++;
    }
    herd_registry_free(reg);
    return NULL;
}

static void test_record_chunks_reader(void **state)
{
    ctx *c = *state;
    wide_arts w;
    wide_arts_make(&w);
    EXPECT_OK(wide_commit(c->reg, &w, 1, 0));
    herd_registry_free(c->reg);
    c->reg = NULL;
    static hd_vfs slow;
    g_slow_inner = hd_vfs_posix();
    slow = *g_slow_inner;
    slow.pwrite = slow_pwrite;
    EXPECT_OK(hd_registry_open_vfs(&slow, c->path, NULL, &c->reg));
    hd_registry_set_record_chunk(c->reg, 512);
    static poller p;
    memset(&p, 0, sizeof p);
    p.path = c->path;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_thread, &p), 0);
    EXPECT_OK(wide_commit(c->reg, &w, 2, 0)); /* ~100 chunks, 2 ms each */
    usleep(20000);
    atomic_store(&p.stop, 1);
    pthread_join(t, NULL);
    EXPECT_OK(p.rc);
    assert_int_equal(p.partial, 0);
    assert_true(p.polls >= 2);
    /* The writer's own refresh does not wait for it either (its record
     * counts as applied): tested beside a held commit above. */
    wide_arts_free(&w);
}

/* ========================================================================
 * main
 * ===================================================================== */

/* ========================================================================
 * The index written in two passes (index_write.c)
 * ===================================================================== */

#define IXS_FAMILIES 3
#define IXS_GROUPS 700 /* per family */

/* Round `round` over every group of three families: a version with
 * metrics, tags (one unique) and an idempotency key, the champion alias
 * moved to it; from round 2 the challenger moved to the previous version
 * with a reason and details; in round 3 every tenth group's first version
 * archived; a run a round. */
static void ixs_commit(herd_registry *reg, int round)
{
    const char *fams[IXS_FAMILIES] = {"demand", "returns", "supply"};
    herd_batch *b = begin(reg);
    for (int f = 0; f < IXS_FAMILIES; f++)
        for (int i = 0; i < IXS_GROUPS; i++) {
            char g[32], idem[64], note[96];
            snprintf(g, sizeof g, "g%05d", i);
            snprintf(idem, sizeof idem, "r%d/%s/%s", round, fams[f], g);
            snprintf(note, sizeof note, "round %d of %s %s", round, fams[f], g);
            const char *tn[] = {"region", "note"}, *mn[] = {"rmse", "mae"};
            const char *tv[] = {i % 3 ? "north" : "south", note};
            double mv[] = {1.0 + i / 1000.0, 0.25 * round};
            herd_version_options vo;
            champion_options(&vo, idem, tn, tv, 2, mn, mv, 2);
            herd_artifact *a = make_art(fams[f], g, "run-x");
            EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
            herd_artifact_free(a);
            if (round > 1) {
                herd_alias_options ao;
                herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
                ao.reason = "kept as challenger";
                ao.details = "{\"rmse\": 1.5}";
                EXPECT_OK(herd_batch_set_alias(b, fams[f], g, "challenger", round - 1, &ao));
            }
            if (round == 3 && i % 10 == 0)
                EXPECT_OK(herd_batch_archive(b, fams[f], g, 1, "superseded"));
        }
    char run[32], params[64];
    snprintf(run, sizeof run, "run-%d", round);
    snprintf(params, sizeof params, "{\"round\": %d}", round);
    EXPECT_OK(herd_batch_set_run(b, run, params, "{\"groups\": 2100}"));
    EXPECT_OK(herd_batch_commit(b));
    herd_batch_free(b);
}

/* A frame as CSV text, appended to a growing buffer (malloc'd). */
static void ixs_append(char **out, size_t *len, herd_frame *f, const char *scratch)
{
    EXPECT_OK(herd_frame_write_csv(f, scratch, NULL));
    herd_frame_free(f);
    size_t n;
    unsigned char *b = slurp(scratch, &n);
    char *grown = realloc(*out, *len + n + 1);
    assert_non_null(grown);
    memcpy(grown + *len, b, n);
    *len += n;
    grown[*len] = 0;
    *out = grown;
    free(b);
}

/* Everything a handle shows of those groups: every version with its
 * metrics and tags, aliases, alias histories, runs, and an idempotent
 * retry of a round-1 key of a group in twenty. */
static char *ixs_listing(herd_registry *reg, const char *scratch)
{
    const char *fams[IXS_FAMILIES] = {"demand", "returns", "supply"};
    char *out = NULL;
    size_t len = 0;
    herd_frame *f = NULL;
    EXPECT_OK(herd_registry_search(reg, NULL, &f));
    ixs_append(&out, &len, f, scratch);
    EXPECT_OK(herd_registry_runs(reg, &f));
    ixs_append(&out, &len, f, scratch);
    for (int k = 0; k < IXS_FAMILIES; k++) {
        EXPECT_OK(herd_registry_aliases(reg, fams[k], "challenger", &f));
        ixs_append(&out, &len, f, scratch);
        for (int i = 0; i < IXS_GROUPS; i += 7) {
            char g[32];
            snprintf(g, sizeof g, "g%05d", i);
            EXPECT_OK(herd_registry_versions(reg, fams[k], g, &f));
            ixs_append(&out, &len, f, scratch);
            EXPECT_OK(herd_registry_alias_history(reg, fams[k], g, NULL, &f));
            ixs_append(&out, &len, f, scratch);
        }
    }
    herd_batch *b = begin(reg);
    for (int i = 0; i < IXS_GROUPS; i += 20) {
        char g[32], idem[64];
        snprintf(g, sizeof g, "g%05d", i);
        snprintf(idem, sizeof idem, "r1/returns/%s", g);
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.idempotency_key = idem;
        herd_artifact *a = make_art("returns", g, "run-x");
        EXPECT_OK(herd_batch_add(b, a, &vo, NULL));
        herd_artifact_free(a);
    }
    EXPECT_OK(herd_batch_commit(b));
    for (size_t i = 0; i * 20 < IXS_GROUPS; i++) {
        int64_t v = 0;
        int existed = 0;
        EXPECT_OK(herd_batch_version(b, i, &v, &existed));
        if (v != 1 || !existed) fail_msg("retry %zu: version %lld, existed %d", i, (long long)v, existed);
    }
    herd_batch_free(b);
    return out;
}

/* A base index of 2,100 groups (three families, 6,300 versions with
 * metrics and tags, alias moves with details, archived versions, runs)
 * written by the streaming writer: a handle opened from it shows exactly
 * what one replaying the journal alone shows, and the writer's buffers
 * stayed well under the file's size. */
static void test_index_streamed(void **state)
{
    ctx *c = *state;
    hd_registry_set_index_tiers(c->reg, 0);
    hd_registry_set_checkpoint_every(c->reg, 0);
    for (int round = 1; round <= 3; round++) ixs_commit(c->reg, round);
    EXPECT_OK(herd_registry_rebuild_index(c->reg));
    char ip[2100], scratch[2100];
    snprintf(ip, sizeof ip, "%s/index", c->path);
    snprintf(scratch, sizeof scratch, "%s/listing.csv", c->dir);
    struct stat st;
    assert_int_equal(stat(ip, &st), 0);
    size_t peak = hd_registry_index_peak(c->reg);
    if (peak == 0 || peak > 1024 * 1024 || (uint64_t)st.st_size < 2 * (uint64_t)peak)
        fail_msg("the index writer held %zu bytes at once for an index of %lld", peak,
                 (long long)st.st_size);

    herd_registry *from_index = open_reg(c->path);
    EXPECT_OK(herd_registry_check(from_index, NULL));
    char *a = ixs_listing(from_index, scratch);
    herd_registry_free(from_index);
    herd_registry_free(c->reg);
    c->reg = NULL;
    /* Without the index (the retries above are in the journal too). */
    assert_int_equal(unlink(ip), 0);
    herd_registry *replayed = open_reg(c->path);
    hd_registry_set_checkpoint_every(replayed, 0);
    char *b = ixs_listing(replayed, scratch);
    herd_registry_free(replayed);
    assert_true(strlen(a) > 500 * 1000);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* A write, sync, rename or read failing anywhere in an index rewrite
 * leaves the index as it was and no temporary file behind. */
static void test_index_write_faults(void **state)
{
    (void)state;
    wide_arts w;
    wide_arts_make(&w);
    hd_vfs_sim *sim = hd_vfs_sim_new(7, 0);
    assert_non_null(sim);
    const hd_vfs *vfs = hd_vfs_sim_vfs(sim);
    herd_registry *reg = NULL;
    EXPECT_OK(hd_registry_open_vfs(vfs, "/reg", NULL, &reg));
    hd_registry_set_checkpoint_every(reg, 0);
    for (int round = 1; round <= 2; round++) EXPECT_OK(wide_commit(reg, &w, round, 0));
    EXPECT_OK(herd_registry_rebuild_index(reg));
    EXPECT_OK(wide_commit(reg, &w, 3, 0));
    static char s0[64 * 1024], s1[64 * 1024];
    wide_state(reg, s0, sizeof s0);
    int hits = 0;
    for (uint64_t n = 1;; n++) {
        hd_vfs_sim_fail_at(sim, n, HD_VFS_OP_WRITE | HD_VFS_OP_FSYNC | HD_VFS_OP_RENAME |
                           HD_VFS_OP_READ | HD_VFS_OP_CLOSE, EIO);
        int rc = herd_registry_rebuild_index(reg);
        hd_vfs_sim_fail_at(sim, 0, 0, 0);
        hd_vfs_file *f = NULL;
        if (hd_vfs_open(vfs, "/reg/index.tmp", HD_VFS_READ, &f) == HERD_OK) {
            hd_vfs_close(f);
            fail_msg("fault %llu: index.tmp left behind", (unsigned long long)n);
        }
        herd_clear_error();
        herd_registry *fresh = NULL;
        EXPECT_OK(hd_registry_open_vfs(vfs, "/reg", NULL, &fresh));
        wide_state(fresh, s1, sizeof s1);
        assert_string_equal(s0, s1);
        EXPECT_OK(herd_registry_check(fresh, NULL));
        herd_registry_free(fresh);
        if (rc == HERD_OK) break;
        hits++;
    }
    assert_true(hits > 8);
    herd_registry_free(reg);
    hd_vfs_sim_free(sim);
    wide_arts_free(&w);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, reg_setup, reg_teardown)
#define TD(fn) cmocka_unit_test_setup_teardown(fn, dir_setup, reg_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_init),
        TD(test_open_create),
        TD(test_open_missing),
        TD(test_open_not_a_registry),
        T(test_read_only),
        T(test_version_numbers),
        T(test_add_bytes),
        T(test_add_bytes_checks_model),
        T(test_check_progress_may_write),
        T(test_family_and_group_sources),
        T(test_commit_progress_and_record),
        T(test_idempotency),
        T(test_tags_and_metrics),
        T(test_aliases),
        T(test_alias_expect_version),
        T(test_resolve),
        T(test_load_and_uris),
        T(test_archive_and_gc),
        T(test_gc_several_packs),
        T(test_shared_handle_threads),
        T(test_listings_beside_commits),
        T(test_refresh_beside_commit),
        T(test_batch_spill),
        T(test_batch_stream),
        T(test_aliases_of_family),
        T(test_format_versions),
        T(test_no_descriptor_leak),
        T(test_archive_then_alias),
        T(test_index_from_another_journal),
        T(test_record_chunks),
        TD(test_record_chunk_faults),
        T(test_record_chunks_reader),
        T(test_index_streamed),
        TD(test_index_write_faults),
        T(test_listings),
        T(test_search),
        T(test_alias_history),
        T(test_runs),
        T(test_refresh),
        T(test_batch_lifecycle),
        T(test_null_arguments),
        T(test_bad_names),
        T(test_group_keys),
        T(test_checkpoint_and_reopen),
        T(test_reopen_without_checkpoint),
        T(test_tiered_index),
        T(test_tiered_index_damage),
        T(test_check_healthy),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
