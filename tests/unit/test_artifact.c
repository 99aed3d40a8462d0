/* Tests of artifacts (suite `fit`: they train models with XGBoost).
 *
 * The byte layout used to craft blobs here is written from docs/format.md,
 * not from lib/artifact/artifact.c, so these tests also check the specification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>
#include <zlib.h>

#include "herd.h"
#include "fit_fixture.h"
#include "model/model_internal.h" /* hd_model_new: models herd_model_load would not make */
#include "test_locale.h"

#define ERR_HAS(text)                                                              \
    do {                                                                           \
        if (!strstr(herd_last_error(), (text)))                                    \
            fail_msg("last error \"%s\" lacks \"%s\"", herd_last_error(), (text)); \
    } while (0)

/* ---- the layout, from docs/format.md ------------------------------------ */

#define H_MAJOR 8
#define H_MINOR 10
#define H_FLAGS 12
#define H_HEADER_LEN 16
#define H_META_LEN 20
#define H_STORED_LEN 24
#define H_RAW_LEN 32
#define H_META_CRC 40
#define H_STORED_CRC 44
#define H_RAW_CRC 48
#define H_LEN 56


#define SENTINEL_STR ((const char *)"sentinel")

/* A string field of an artifact's metadata that must be recorded. */
static const char *art_field(const herd_artifact *a, const char *field)
{
    const char *v = NULL;
    int rc = herd_artifact_get(a, field, &v);
    if (rc != HERD_OK) fail_msg("herd_artifact_get(%s): %d %s", field, rc, herd_last_error());
    return v;
}

static const unsigned char magic[8] = {0x89, 'H', 'E', 'R', 'D', '\r', '\n', '\n'};

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t crc(const void *p, size_t n)
{
    return (uint32_t)crc32(0, p, (uInt)n);
}

/* A blob's parts, to rebuild it with changes. */
typedef struct parts {
    unsigned major, minor;
    uint32_t flags;
    size_t extra;                /* header bytes beyond format 1.0's, before the CRC */
    const char *meta;
    size_t meta_len;
    const unsigned char *payload; /* stored bytes */
    size_t stored_len;
    uint64_t raw_len;
    uint32_t raw_crc;
} parts;

static void parts_of(const unsigned char *b, parts *p)
{
    uint32_t hl = get32(b + H_HEADER_LEN);
    p->major = b[H_MAJOR] | b[H_MAJOR + 1] << 8;
    p->minor = b[H_MINOR] | b[H_MINOR + 1] << 8;
    p->flags = get32(b + H_FLAGS);
    p->extra = 0;
    p->meta = (const char *)b + hl;
    p->meta_len = get32(b + H_META_LEN);
    p->payload = b + hl + p->meta_len;
    p->stored_len = (size_t)get64(b + H_STORED_LEN);
    p->raw_len = get64(b + H_RAW_LEN);
    p->raw_crc = get32(b + H_RAW_CRC);
}

/* Serialise parts with every CRC recomputed (the raw CRC is taken as is). */
static unsigned char *build(const parts *p, size_t *len)
{
    size_t hl = H_LEN + p->extra;
    *len = hl + p->meta_len + p->stored_len;
    unsigned char *b = calloc(1, *len);
    assert_non_null(b);
    memcpy(b, magic, 8);
    put16(b + H_MAJOR, p->major);
    put16(b + H_MINOR, p->minor);
    put32(b + H_FLAGS, p->flags);
    put32(b + H_HEADER_LEN, (uint32_t)hl);
    put32(b + H_META_LEN, (uint32_t)p->meta_len);
    put64(b + H_STORED_LEN, p->stored_len);
    put64(b + H_RAW_LEN, p->raw_len);
    put32(b + H_META_CRC, crc(p->meta, p->meta_len));
    put32(b + H_STORED_CRC, crc(p->payload, p->stored_len));
    put32(b + H_RAW_CRC, p->raw_crc);
    for (size_t i = 52; i < hl - 4; i++) b[i] = (unsigned char)(0xA0 + i); /* unknown fields */
    memcpy(b + hl, p->meta, p->meta_len);
    memcpy(b + hl + p->meta_len, p->payload, p->stored_len);
    put32(b + hl - 4, crc(b, hl - 4));
    return b;
}

/* Recompute the header CRC after editing header fields in place. */
static void fix_header_crc(unsigned char *b)
{
    uint32_t hl = get32(b + H_HEADER_LEN);
    put32(b + hl - 4, crc(b, hl - 4));
}

/* ---- models -------------------------------------------------------------- */

static void base_options(herd_fit_options *o)
{
    fixture_options(o, 20);
}

/* A small valid artifact (one tiny model) as bytes. */
static unsigned char *small_artifact(size_t *len)
{
    size_t sizes[1] = {30};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    o.rounds = 2;
    const char *n[] = {"max_depth"}, *v[] = {"2"};
    o.param_names = n;
    o.param_values = v;
    o.n_params = 1;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "demand";
    herd_artifact *a = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", &ao, &a), HERD_OK);
    void *buf = NULL;
    assert_int_equal(herd_artifact_to_buffer(a, &buf, len), HERD_OK);
    unsigned char *copy = malloc(*len);
    assert_non_null(copy);
    memcpy(copy, buf, *len);
    herd_free(buf);
    herd_artifact_free(a);
    herd_fit_result_free(set);
    fixture_free(&fx);
    return copy;
}

static int read_rc(const void *b, size_t len)
{
    herd_artifact *a = (herd_artifact *)1;
    int rc = herd_artifact_read(b, len, &a);
    if (rc) assert_null(a);
    herd_artifact_free(a);
    return rc;
}

/* The blob with its metadata replaced by `meta` (CRCs recomputed). */
static int read_with_meta(const unsigned char *valid, const char *meta)
{
    parts p;
    parts_of(valid, &p);
    p.meta = meta;
    p.meta_len = strlen(meta);
    size_t len;
    unsigned char *b = build(&p, &len);
    int rc = read_rc(b, len);
    free(b);
    return rc;
}

/* The metadata of `valid` with `from` replaced by `to` (once). */
static char *meta_edit(const unsigned char *valid, const char *from, const char *to)
{
    parts p;
    parts_of(valid, &p);
    char *m = malloc(p.meta_len + 1);
    assert_non_null(m);
    memcpy(m, p.meta, p.meta_len);
    m[p.meta_len] = '\0';
    char *at = strstr(m, from);
    if (!at) fail_msg("metadata lacks \"%s\"", from);
    size_t n = strlen(m) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - m), m, to, at + strlen(from));
    free(m);
    return out;
}

static int read_with_edit(const unsigned char *valid, const char *from, const char *to)
{
    char *m = meta_edit(valid, from, to);
    int rc = read_with_meta(valid, m);
    free(m);
    return rc;
}

/* ---- metadata against payload ------------------------------------------- */

/* Metadata whose features differ from the payload's in order, names or
 * types is refused naming both lists: herd binds columns by the metadata,
 * so a reversed list predicted from the wrong columns (issue 16). */
static void test_metadata_features_agree_with_payload(void **state)
{
    (void)state;
    size_t len;
    unsigned char *valid = small_artifact(&len);
    assert_int_equal(read_rc(valid, len), HERD_OK);
    const char *x0 = "{\"name\":\"x0\",\"type\":\"float\"}";
    const char *x1 = "{\"name\":\"x1\",\"type\":\"float\"}";
    const char *promo = "{\"name\":\"promo\",\"type\":\"int\"}";
    char from[200], to[200];
    snprintf(from, sizeof from, "[%s,%s,%s]", x0, x1, promo);
    /* Reversed. */
    snprintf(to, sizeof to, "[%s,%s,%s]", promo, x1, x0);
    assert_int_equal(read_with_edit(valid, from, to), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "the artifact's metadata lists the features "
                                              "[promo:int, x1:float, x0:float]"));
    assert_non_null(strstr(herd_last_error(), "the model payload has [x0:float, x1:float, "
                                              "promo:int]"));
    /* Two swapped, a type changed, a name changed. */
    snprintf(to, sizeof to, "[%s,%s,%s]", x1, x0, promo);
    assert_int_equal(read_with_edit(valid, from, to), HERD_EFORMAT);
    assert_int_equal(read_with_edit(valid, "{\"name\":\"promo\",\"type\":\"int\"}",
                                    "{\"name\":\"promo\",\"type\":\"float\"}"),
                     HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "promo:float"));
    assert_int_equal(read_with_edit(valid, "\"x1\"", "\"x9\""), HERD_EFORMAT);
    /* Fewer features: named as a count. */
    snprintf(to, sizeof to, "[%s,%s]", x0, x1);
    assert_int_equal(read_with_edit(valid, from, to), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "lists 2 features but the model has 3"));
    /* Numbers beyond a double's range, or rounding to 0, are refused. */
    assert_int_equal(read_with_edit(valid, "\"rows\":30", "\"rows\":1e-400"), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "below a double's range"));
    assert_int_equal(read_with_edit(valid, "\"rows\":30", "\"rows\":1e400"), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "beyond a double's range"));
    /* Counts that contradict each other (docs/format.md, section 10). */
    assert_int_equal(read_with_edit(valid, "\"train_rows\":24", "\"train_rows\":31"),
                     HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "'train_rows' is 31 but 'rows' is 30"));
    assert_int_equal(read_with_edit(valid, "\"rows\":30", "\"version\":0,\"rows\":30"),
                     HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "'version' is 0"));
    assert_int_equal(read_with_edit(valid, "\"rows\":30", "\"version\":1,\"rows\":30"),
                     HERD_OK);
    /* Duplicate names in the metadata: refused before the payload. */
    snprintf(to, sizeof to, "[%s,%s,%s]", x0, x0, promo);
    assert_int_equal(read_with_edit(valid, from, to), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "appears twice"));
    free(valid);
}

/* ---- round trip ---------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    size_t sizes[2] = {200, 120};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.2);
    herd_fit_options o;
    base_options(&o);
    o.cv_folds = 3;
    const char *n[] = {"max_depth", "eta"}, *v[] = {"3", "0.3"};
    o.param_names = n;
    o.param_values = v;
    o.n_params = 2;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_frame *rep = NULL;
    assert_int_equal(herd_fit_result_report(set, &rep), HERD_OK);
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "demand";
    ao.run_id = "run-2026-11-30";
    herd_artifact *a = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "1", &ao, &a), HERD_OK);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(herd_artifact_to_buffer(a, &buf, &len), HERD_OK);
    assert_memory_equal(buf, magic, 8);
    herd_artifact *b = NULL;
    assert_int_equal(herd_artifact_read(buf, len, &b), HERD_OK);

    /* String fields. */
    assert_string_equal(art_field(b, "family"), "demand");
    assert_string_equal(art_field(b, "group"), "1");
    assert_string_equal(art_field(b, "objective"), "reg:squarederror");
    assert_string_equal(art_field(b, "run_id"), "run-2026-11-30");
    assert_string_equal(art_field(b, "herd_version"), herd_version_string());
    int ma, mi, pa;
    XGBoostVersion(&ma, &mi, &pa);
    char xv[32];
    snprintf(xv, sizeof xv, "%d.%d.%d", ma, mi, pa);
    assert_string_equal(art_field(b, "xgboost_version"), xv);
    const char *created = art_field(b, "created");
    assert_int_equal(strlen(created), 20);
    assert_true(created[10] == 'T' && created[19] == 'Z');
    const char *fp = art_field(b, "fingerprint");
    assert_int_equal(strlen(fp), 16);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 16);
    const char *fv = SENTINEL_STR;
    assert_int_equal(herd_artifact_get(b, "no_such_field", &fv), HERD_EINVAL);
    assert_null(fv);
    ERR_HAS("'no_such_field' is not a string field of the metadata; they are: format, family");
    assert_int_equal(herd_artifact_get(b, "rows", &fv), HERD_ETYPE); /* not a string field */
    ERR_HAS("herd_artifact_metadata");
    assert_string_equal(herd_artifact_metadata(a), herd_artifact_metadata(b));

    /* Metrics, exactly as the report has them. */
    double m;
    assert_int_equal(herd_artifact_metric(b, "rmse", &m), HERD_OK);
    double want = cell_num(rep, "valid_metric", 1);
    assert_memory_equal(&m, &want, sizeof m);
    assert_int_equal(herd_artifact_metric(b, "rmse_cv_mean", &m), HERD_OK);
    want = cell_num(rep, "cv_mean", 1);
    assert_memory_equal(&m, &want, sizeof m);
    assert_int_equal(herd_artifact_metric(b, "rmse_cv_std", &m), HERD_OK);
    want = cell_num(rep, "cv_std", 1);
    assert_memory_equal(&m, &want, sizeof m);
    /* A metric the fit did not compute is missing: NaN, no error raised. */
    herd_error_set(HERD_EIO, "pending");
    m = 1;
    assert_int_equal(herd_artifact_metric(b, "mae", &m), HERD_MISSING);
    assert_true(isnan(m));
    assert_string_equal(herd_last_error(), "pending");

    /* Integer fields and params, in the JSON; tree_method is the one herd
     * chose for the group's size. */
    cJSON *meta = cJSON_Parse(herd_artifact_metadata(b));
    assert_non_null(meta);
    assert_true(cJSON_GetObjectItemCaseSensitive(meta, "rows")->valuedouble ==
                cell_num(rep, "rows", 1));
    assert_true(cJSON_GetObjectItemCaseSensitive(meta, "train_rows")->valuedouble ==
                cell_num(rep, "train_rows", 1));
    assert_true(cJSON_GetObjectItemCaseSensitive(meta, "valid_rows")->valuedouble ==
                cell_num(rep, "valid_rows", 1));
    assert_true(cJSON_GetObjectItemCaseSensitive(meta, "best_iteration")->valuedouble ==
                cell_num(rep, "best_iteration", 1));
    assert_true(cJSON_GetObjectItemCaseSensitive(meta, "num_class")->valuedouble == 0);
    cJSON *params = cJSON_GetObjectItemCaseSensitive(meta, "params");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "max_depth")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "eta")->valuestring, "0.3");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "tree_method")->valuestring,
                        "exact");
    assert_int_equal(cJSON_GetArraySize(params), 3);
    cJSON_Delete(meta);
    /* Group 0 trains on 160 rows: herd chose histograms with 32 bins, and
     * the artifact says so. */
    herd_artifact *a0 = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", &ao, &a0), HERD_OK);
    meta = cJSON_Parse(herd_artifact_metadata(a0));
    params = cJSON_GetObjectItemCaseSensitive(meta, "params");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "tree_method")->valuestring,
                        "hist");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "max_bin")->valuestring, "32");
    herd_artifact_free(a0);
    cJSON *feats = cJSON_GetObjectItemCaseSensitive(meta, "features");
    assert_int_equal(cJSON_GetArraySize(feats), 3);
    cJSON *f2 = cJSON_GetArrayItem(feats, 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(f2, "name")->valuestring, "promo");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(f2, "type")->valuestring, "int");
    cJSON_Delete(meta);

    /* The model predicts identically. */
    herd_model *orig = NULL, *back = NULL;
    assert_int_equal(herd_fit_result_model(set, "1", &orig), HERD_OK);
    assert_int_equal(herd_artifact_model(b, &back), HERD_OK);
    assert_string_equal(herd_model_feature_name(back, 1), "x1");
    assert_string_equal(herd_model_feature_type(back, 2), "int");
    assert_int_equal(herd_model_output_count(back), 1);
    size_t nr = fx.d.n;
    double *p1 = malloc(nr * sizeof *p1), *p2 = malloc(nr * sizeof *p2);
    assert_int_equal(herd_model_predict(orig, fx.frame, NULL, nr, 1, p1, nr), HERD_OK);
    assert_int_equal(herd_model_predict(back, fx.frame, NULL, nr, 1, p2, nr), HERD_OK);
    assert_memory_equal(p1, p2, nr * sizeof *p1);
    free(p1), free(p2);

    /* Re-serialising a read artifact gives the same bytes. */
    void *again = NULL;
    size_t again_len = 0;
    assert_int_equal(herd_artifact_to_buffer(b, &again, &again_len), HERD_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, buf, len);

    herd_free(again);
    herd_model_free(orig);
    herd_model_free(back);
    herd_artifact_free(a);
    herd_artifact_free(b);
    herd_free(buf);
    herd_frame_free(rep);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* NaN and infinite metrics read back as such; cJSON alone would print null. */
static void test_nonfinite_metrics(void **state)
{
    (void)state;
    size_t sizes[1] = {40};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    o.valid_fraction = 0; /* no validation rows: the metric is NaN */
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_artifact *a = NULL, *b = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, &a), HERD_OK);
    assert_non_null(strstr(herd_artifact_metadata(a), "\"rmse\":\"NaN\""));
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(herd_artifact_to_buffer(a, &buf, &len), HERD_OK);
    assert_int_equal(herd_artifact_read(buf, len, &b), HERD_OK);
    double m = 0;
    assert_int_equal(herd_artifact_metric(b, "rmse", &m), HERD_OK);
    assert_true(isnan(m));
    herd_artifact_free(b);

    /* Infinities, and exact doubles, through crafted metadata. */
    char *meta = meta_edit(buf, "\"rmse\":\"NaN\"",
                           "\"rmse\":\"Infinity\",\"neg\":\"-Infinity\",\"x\":0.30000000000000004,"
                           "\"tiny\":5e-324,\"big\":1.7976931348623157e308");
    parts p;
    parts_of(buf, &p);
    p.meta = meta;
    p.meta_len = strlen(meta);
    size_t blen;
    unsigned char *crafted = build(&p, &blen);
    assert_int_equal(herd_artifact_read(crafted, blen, &b), HERD_OK);
    assert_int_equal(herd_artifact_metric(b, "rmse", &m), HERD_OK);
    assert_true(isinf(m) && m > 0);
    assert_int_equal(herd_artifact_metric(b, "neg", &m), HERD_OK);
    assert_true(isinf(m) && m < 0);
    assert_int_equal(herd_artifact_metric(b, "x", &m), HERD_OK);
    assert_true(m == 0.1 + 0.2);
    assert_int_equal(herd_artifact_metric(b, "tiny", &m), HERD_OK);
    assert_true(m == 5e-324);
    assert_int_equal(herd_artifact_metric(b, "big", &m), HERD_OK);
    assert_true(m == 1.7976931348623157e308);
    herd_artifact_free(b);
    free(crafted);
    free(meta);

    /* Other spellings are not numbers. */
    assert_int_equal(read_with_edit(buf, "\"NaN\"", "\"nan\""), HERD_EFORMAT);
    ERR_HAS("metric 'rmse'");
    assert_int_equal(read_with_edit(buf, "\"NaN\"", "null"), HERD_EFORMAT);
    assert_int_equal(read_with_edit(buf, "\"NaN\"", "NaN"), HERD_EFORMAT);
    assert_int_equal(read_with_edit(buf, "\"NaN\"", "1e999"), HERD_EFORMAT); /* overflows */
    herd_free(buf);
    herd_artifact_free(a);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* The same data gives the same fingerprint whatever the threads; one
 * changed value changes it. */
static void test_fingerprint(void **state)
{
    (void)state;
    size_t sizes[3] = {60, 70, 80};
    fixture fx;
    fixture_make(&fx, 3, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    o.rounds = 3;
    char fps[3][3][17];
    for (int run = 0; run < 3; run++) {
        if (run == 2) fx.d.x1[61] += 1e-6; /* a row of group 1 */
        herd_apply_options ap;
        herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
        ap.threads = run == 0 ? 1 : 2;
        herd_fit_result *set = NULL;
        assert_int_equal(herd_fit(fx.groups, &o, &ap, &set), HERD_OK);
        for (int g = 0; g < 3; g++) {
            char key[4];
            snprintf(key, sizeof key, "%d", g);
            herd_artifact *a = NULL;
            assert_int_equal(herd_fit_result_artifact(set, key, NULL, &a), HERD_OK);
            snprintf(fps[run][g], 17, "%s", art_field(a, "fingerprint"));
            herd_artifact_free(a);
        }
        herd_fit_result_free(set);
    }
    for (int g = 0; g < 3; g++) assert_string_equal(fps[0][g], fps[1][g]);
    assert_string_not_equal(fps[0][0], fps[0][1]);
    assert_string_equal(fps[0][0], fps[2][0]);
    assert_string_not_equal(fps[0][1], fps[2][1]);
    assert_string_equal(fps[0][2], fps[2][2]);
    fixture_free(&fx);
}

/* Every level reads back; level 0 stores the model as it is. */
static void test_compression_levels(void **state)
{
    (void)state;
    size_t sizes[1] = {100};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *model = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &model), HERD_OK);
    void *ubj = NULL;
    size_t ubj_len = 0;
    assert_int_equal(herd_model_save(model, HERD_MODEL_UBJSON, &ubj, &ubj_len), HERD_OK);
    size_t prev = 0;
    for (int level = -1; level <= 9; level++) {
        herd_artifact_options ao;
        herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
        ao.compression_level = level;
        herd_artifact *a = NULL, *b = NULL;
        assert_int_equal(herd_fit_result_artifact(set, "0", &ao, &a), HERD_OK);
        void *buf = NULL;
        size_t len = 0;
        assert_int_equal(herd_artifact_to_buffer(a, &buf, &len), HERD_OK);
        const unsigned char *u = buf;
        uint32_t hl = get32(u + H_HEADER_LEN), ml = get32(u + H_META_LEN);
        assert_int_equal(get64(u + H_RAW_LEN), ubj_len);
        assert_int_equal(get32(u + H_RAW_CRC), crc(ubj, ubj_len));
        if (level == 0) {
            assert_int_equal(get32(u + H_FLAGS), 0);
            assert_int_equal(get64(u + H_STORED_LEN), ubj_len);
            assert_memory_equal(u + hl + ml, ubj, ubj_len);
        } else {
            assert_int_equal(get32(u + H_FLAGS), 1);
            assert_true(get64(u + H_STORED_LEN) < ubj_len / 2);
        }
        if (level == 1) prev = len;
        if (level == 9) assert_true(len <= prev);
        assert_int_equal(herd_artifact_read(buf, len, &b), HERD_OK);
        herd_model *m = NULL;
        assert_int_equal(herd_artifact_model(b, &m), HERD_OK);
        void *back = NULL;
        size_t back_len = 0;
        assert_int_equal(herd_model_save(m, HERD_MODEL_UBJSON, &back, &back_len), HERD_OK);
        assert_int_equal(back_len, ubj_len);
        assert_memory_equal(back, ubj, ubj_len);
        herd_free(back);
        herd_model_free(m);
        herd_artifact_free(a);
        herd_artifact_free(b);
        herd_free(buf);
    }
    herd_free(ubj);
    herd_model_free(model);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* A multiclass model keeps its outputs through an artifact. */
static void test_multiclass(void **state)
{
    (void)state;
    size_t sizes[1] = {150};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    for (size_t r = 0; r < fx.d.n; r++)
        fx.d.y[r] = fx.d.x0[r] < 0.33 ? 0 : fx.d.x0[r] < 0.66 ? 1 : 2;
    herd_fit_options o;
    base_options(&o);
    const char *n[] = {"objective", "num_class"}, *v[] = {"multi:softprob", "3"};
    o.param_names = n;
    o.param_values = v;
    o.n_params = 2;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_artifact *a = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, &a), HERD_OK);
    assert_non_null(strstr(herd_artifact_metadata(a), "\"num_class\":3"));
    double m;
    assert_int_equal(herd_artifact_metric(a, "mlogloss", &m), HERD_OK);
    herd_model *back = NULL;
    assert_int_equal(herd_artifact_model(a, &back), HERD_OK);
    assert_int_equal(herd_model_output_count(back), 3);
    assert_string_equal(herd_model_objective(back), "multi:softprob");
    herd_model_free(back);
    herd_artifact_free(a);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* herd never writes an artifact it would refuse to read: a model whose
 * names break the metadata rules is refused when packaged. */
static void test_writer_refuses_unreadable(void **state)
{
    (void)state;
    size_t sizes[1] = {40};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    o.rounds = 2;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *good = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &good), HERD_OK);
    char longname[300];
    memset(longname, 'f', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *types[] = {"float", "float", "int"};
    struct {
        const char *names[3];
        size_t nfeat;
        const char *objective;
        const char *msg;
    } cases[] = {
        {{"x0", longname, "promo"}, 3, "reg:squarederror", "is 299 bytes long; the limit is 255"},
        {{"x0", "x0", "promo"}, 3, "reg:squarederror",
         "the feature name \"x0\" appears twice (features 0 and 1)"},
        {{"x1", "x0", "promo"}, 3, "reg:squarederror",
         "lists the features [x1:float, x0:float, promo:int] but the model payload has "
         "[x0:float, x1:float, promo:int]"},
        {{"x0", "x1", "promo"}, 2, "reg:squarederror", "lists 2 features but the model has 3"},
        {{"x0", "x1", "promo"}, 3, "binary:logistic", "objective 'binary:logistic'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        herd_model *m = NULL;
        assert_int_equal(hd_model_new(good->ubj, good->len, cases[i].names, types,
                                      cases[i].nfeat, cases[i].objective, 1, &m),
                         HERD_OK);
        herd_artifact *a = (herd_artifact *)1;
        assert_int_equal(herd_artifact_from_model(m, NULL, &a), HERD_EFORMAT);
        assert_null(a);
        ERR_HAS("the model cannot be packaged");
        ERR_HAS(cases[i].msg);
        herd_model_free(m);
    }
    /* A payload that is not a valid model is refused too. */
    herd_model *m = NULL;
    const char *names[] = {"x0", "x1", "promo"};
    assert_int_equal(hd_model_new("{}", 2, names, types, 3, "reg:squarederror", 1, &m), HERD_OK);
    herd_artifact *a = NULL;
    assert_true(herd_artifact_from_model(m, NULL, &a) < 0);
    ERR_HAS("the model cannot be packaged");
    herd_model_free(m);
    herd_model_free(good);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* ---- damage: every byte, every length, tails, versions ------------------- */

static void test_every_byte_flip_rejected(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *blob = small_artifact(&len);
    assert_int_equal(read_rc(blob, len), HERD_OK);
    static const unsigned char masks[] = {0x01, 0x10, 0x80, 0xFF};
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            blob[i] ^= masks[k];
            int rc = read_rc(blob, len);
            if (rc != HERD_ECORRUPT && rc != HERD_EFORMAT)
                fail_msg("flipping byte %zu with 0x%02X gave %s: %s", i, masks[k],
                         herd_status_str(rc), herd_last_error());
            blob[i] ^= masks[k];
            n++;
        }
    }
    assert_int_equal(n, len * sizeof masks);
    assert_int_equal(read_rc(blob, len), HERD_OK);
    /* A flip in a section names the section and its offset. */
    uint32_t ml = get32(blob + H_META_LEN);
    blob[H_LEN + 3] ^= 1;
    assert_int_equal(read_rc(blob, len), HERD_ECORRUPT);
    ERR_HAS("metadata section (offset 56,");
    blob[H_LEN + 3] ^= 1;
    blob[len - 1] ^= 1;
    assert_int_equal(read_rc(blob, len), HERD_ECORRUPT);
    char want[64];
    snprintf(want, sizeof want, "payload section (offset %u,", H_LEN + ml);
    ERR_HAS(want);
    blob[len - 1] ^= 1;
    blob[20] ^= 1;
    assert_int_equal(read_rc(blob, len), HERD_ECORRUPT);
    ERR_HAS("header (bytes 0..55) fails its CRC32 check");
    blob[20] ^= 1;
    /* A text-mode transfer is named as such. */
    blob[6] = '\r';
    assert_int_equal(read_rc(blob, len), HERD_EFORMAT);
    ERR_HAS("text-mode transfer");
    blob[6] = '\n';
    blob[0] = 0x09;
    assert_int_equal(read_rc(blob, len), HERD_EFORMAT);
    ERR_HAS("high bit");
    free(blob);
}

static void test_truncation_and_tail_rejected(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *blob = small_artifact(&len);
    for (size_t n = 0; n < len; n++) {
        unsigned char *cut = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(cut, blob, n);
        int rc = read_rc(cut, n);
        if (rc != HERD_ECORRUPT && rc != HERD_EFORMAT)
            fail_msg("truncating to %zu bytes gave %s: %s", n, herd_status_str(rc),
                     herd_last_error());
        free(cut);
    }
    assert_int_equal(read_rc(blob, 0), HERD_EFORMAT);
    ERR_HAS("empty");
    assert_int_equal(read_rc(blob, 30), HERD_ECORRUPT);
    ERR_HAS("truncated");
    assert_int_equal(read_rc(blob, len - 1), HERD_ECORRUPT);
    ERR_HAS("truncated");
    unsigned char *longer = malloc(len + 100);
    memcpy(longer, blob, len);
    memset(longer + len, 0, 100);
    for (size_t extra = 1; extra <= 100; extra += 99) {
        assert_int_equal(read_rc(longer, len + extra), HERD_ECORRUPT);
        ERR_HAS("garbage");
    }
    free(longer);
    assert_int_equal(read_rc("{\"learner\": 1}", 14), HERD_EFORMAT);
    ERR_HAS("herd_artifact_from_model");
    assert_int_equal(read_rc("PK\3\4 a zip file, not an artifact", 34), HERD_EFORMAT);
    ERR_HAS("not a herd artifact");
    free(blob);
}

static void test_versions_and_flags(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *blob = small_artifact(&len);
    parts p;
    parts_of(blob, &p);
    assert_int_equal(p.major, 1);
    assert_int_equal(p.minor, 0);

    /* An unknown major: the message names the versions. */
    p.major = 7;
    size_t n;
    unsigned char *b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_EFORMAT);
    ERR_HAS("format version 7.0 is not supported");
    ERR_HAS("reads 1.x");
    free(b);
    p.major = 0;
    p.minor = 9;
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_EFORMAT);
    ERR_HAS("format version 0.9 is not supported");
    free(b);

    /* A newer minor with a longer header is read; its unknown fields are
     * skipped but covered by the header CRC, and kept when re-serialised. */
    p.major = 1;
    p.minor = 3;
    p.extra = 24;
    b = build(&p, &n);
    assert_int_equal(n, len + 24);
    herd_artifact *a = NULL;
    assert_int_equal(herd_artifact_read(b, n, &a), HERD_OK);
    assert_string_equal(art_field(a, "family"), "demand");
    void *again = NULL;
    size_t again_len = 0;
    assert_int_equal(herd_artifact_to_buffer(a, &again, &again_len), HERD_OK);
    assert_int_equal(again_len, n);
    assert_memory_equal(again, b, n);
    herd_free(again);
    herd_artifact_free(a);
    b[60] ^= 1; /* an unknown field: still covered */
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("header (bytes 0..79)");
    free(b);

    /* Header lengths out of range. */
    p.extra = 0;
    p.minor = 0;
    b = build(&p, &n);
    put32(b + H_HEADER_LEN, 52);
    fix_header_crc(b); /* writes at 48: the raw CRC; the length check comes first */
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("length field says 52");
    free(b);

    /* Unknown flag bits in a known major. */
    p.flags |= 0x4;
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_EFORMAT);
    ERR_HAS("flags 0x00000005");
    free(b);

    /* Stored uncompressed but the lengths differ. */
    p.flags = 0;
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("uncompressed");
    free(b);
    free(blob);
}

/* Caps are enforced from the declared lengths, before any allocation. */
static void test_caps(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *blob = small_artifact(&len);
    struct {
        int off;
        uint64_t value;
        const char *msg;
    } cases[] = {
        {H_META_LEN, HERD_ARTIFACT_MAX_METADATA + 1ull, "metadata is 16777217 bytes"},
        {H_META_LEN, 0xFFFFFFFFull, "the limit is 16777216"},
        {H_RAW_LEN, HERD_ARTIFACT_MAX_MODEL + 1ull, "model is 1073741825 bytes"},
        {H_RAW_LEN, UINT64_MAX, "the limit is 1073741824"},
        {H_STORED_LEN, HERD_ARTIFACT_MAX_BYTES + 1ull, "payload is 1073741825 bytes"},
        {H_STORED_LEN, UINT64_MAX, "payload is 18446744073709551615 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char *b = malloc(len);
        memcpy(b, blob, len);
        if (cases[i].off == H_META_LEN) put32(b + H_META_LEN, (uint32_t)cases[i].value);
        else put64(b + cases[i].off, cases[i].value);
        fix_header_crc(b);
        assert_int_equal(read_rc(b, len), HERD_ELIMIT);
        ERR_HAS(cases[i].msg);
        free(b);
    }
    /* A raw length deflate cannot reach from the stored bytes is refused
     * before its buffer is allocated. */
    unsigned char *b = malloc(len);
    memcpy(b, blob, len);
    put64(b + H_RAW_LEN, HERD_ARTIFACT_MAX_MODEL);
    fix_header_crc(b);
    assert_int_equal(read_rc(b, len), HERD_ECORRUPT);
    ERR_HAS("cannot inflate to the 1073741824 bytes declared");
    free(b);

    /* The whole blob: 1 GiB + 1 bytes of address space, never touched
     * beyond the header. */
    size_t big = HERD_ARTIFACT_MAX_BYTES + 1ull;
    void *map = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    assert_true(map != MAP_FAILED);
    memcpy(map, blob, H_LEN);
    assert_int_equal(read_rc(map, big), HERD_ELIMIT);
    ERR_HAS("the limit is 1073741824 bytes");
    munmap(map, big);

    /* A file over the cap is refused before it is read. */
    char path[] = "/tmp/herd-artifact-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)big), 0);
    close(fd);
    herd_artifact *a = NULL;
    assert_int_equal(herd_artifact_read_file(path, &a), HERD_ELIMIT);
    ERR_HAS(path);
    unlink(path);

    /* Features beyond HERD_ARTIFACT_MAX_FEATURES. */
    size_t nf = HERD_ARTIFACT_MAX_FEATURES + 1, cap = nf * 40 + 64;
    char *many = malloc(cap), *w = many;
    w += sprintf(w, "[");
    for (size_t j = 0; j < nf; j++)
        w += sprintf(w, "%s{\"name\":\"f%zu\",\"type\":\"float\"}", j ? "," : "", j);
    sprintf(w, "]");
    char *meta = meta_edit(blob, "\"features\":[", "\"features\":[");
    char *at = strstr(meta, "\"features\":[");
    char *end = strchr(at, ']');
    size_t mcap = strlen(meta) + strlen(many) + 1;
    char *big_meta = malloc(mcap);
    snprintf(big_meta, mcap, "%.*s\"features\":%s%s", (int)(at - meta), meta, many, end + 1);
    assert_int_equal(read_with_meta(blob, big_meta), HERD_ELIMIT);
    ERR_HAS("100001 features; the limit is 100000");
    free(big_meta);
    free(many);

    /* JSON values beyond the metadata's cap, in an unknown key. */
    size_t nv = 1000001;
    char *vals = malloc(nv * 2 + 64);
    w = vals;
    w += sprintf(w, "\"future\":[");
    for (size_t j = 0; j < nv; j++) {
        *w++ = '0';
        *w++ = j + 1 < nv ? ',' : ']';
    }
    sprintf(w, ",\"format\"");
    char *m2 = meta_edit(blob, "\"format\"", vals);
    assert_int_equal(read_with_meta(blob, m2), HERD_ELIMIT);
    ERR_HAS("more than 1000000 JSON values");
    free(m2);
    free(vals);
    free(meta);
    free(blob);
}

/* A payload that inflates to more than declared is refused. */
static void test_decompression_bomb(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *blob = small_artifact(&len);
    parts p;
    parts_of(blob, &p);
    size_t zeros_len = 1u << 20;
    unsigned char *zeros = calloc(1, zeros_len);
    uLongf zlen = compressBound(zeros_len);
    unsigned char *z = malloc(zlen);
    assert_int_equal(compress2(z, &zlen, zeros, zeros_len, 9), Z_OK);
    p.payload = z;
    p.stored_len = zlen;
    p.raw_len = 4096; /* small declared size, 1 MiB stream */
    p.raw_crc = crc(zeros, 4096);
    size_t n;
    unsigned char *b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("inflates to more than the 4096 bytes declared");
    free(b);

    /* Declared larger than the stream. */
    p.raw_len = zeros_len + 1;
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("fewer than the 1048577 declared");
    free(b);

    /* Bytes after the end of the zlib stream. */
    unsigned char *z2 = malloc(zlen + 3);
    memcpy(z2, z, zlen);
    memcpy(z2 + zlen, "abc", 3);
    p.payload = z2;
    p.stored_len = zlen + 3;
    p.raw_len = zeros_len;
    p.raw_crc = crc(zeros, zeros_len);
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("3 bytes follow the end of the zlib stream");
    free(b);

    /* Not a zlib stream at all. */
    p.payload = (const unsigned char *)"not zlib data at all";
    p.stored_len = 20;
    p.raw_len = 100;
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("not a valid zlib stream");
    free(b);

    /* A valid stream of the declared size whose raw CRC is wrong. */
    p.payload = z;
    p.stored_len = zlen;
    p.raw_crc = 0;
    p.raw_len = zeros_len;
    b = build(&p, &n);
    assert_int_equal(read_rc(b, n), HERD_ECORRUPT);
    ERR_HAS("raw CRC32");
    free(b);

    /* Valid sections whose payload is not a model. */
    p.raw_crc = crc(zeros, zeros_len);
    b = build(&p, &n);
    int rc = read_rc(b, n);
    assert_true(rc == HERD_ECORRUPT || rc == HERD_EFORMAT);
    ERR_HAS("artifact payload");
    free(b);
    free(z2);
    free(z);
    free(zeros);
    free(blob);
}

/* ---- strict metadata ------------------------------------------------------ */

static void test_metadata_strict(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *v = small_artifact(&len);
    struct {
        const char *from, *to, *msg;
        int code;
    } bad[] = {
        /* duplicate keys, at the top and deeper */
        {"\"family\":\"demand\"", "\"family\":\"demand\",\"family\":\"other\"", "appears twice",
         HERD_EFORMAT},
        {"\"max_depth\":\"2\"", "\"max_depth\":\"2\",\"max_depth\":\"9\"", "appears twice",
         HERD_EFORMAT},
        {"\"name\":\"x0\"", "\"name\":\"x0\",\"name\":\"x1\"", "appears twice", HERD_EFORMAT},
        /* cJSON's silent truncation, invalid UTF-8, lone surrogates, control bytes */
        {"\"demand\"", "\"dem\\u0000and\"", "\\u0000", HERD_EFORMAT},
        {"\"demand\"", "\"dem\xC3\x28nd\"", "invalid UTF-8", HERD_EFORMAT},
        {"\"demand\"", "\"dem\xED\xA0\x80nd\"", "invalid UTF-8", HERD_EFORMAT},
        {"\"demand\"", "\"dem\\ud800nd\"", "surrogate", HERD_EFORMAT},
        {"\"demand\"", "\"dem\\udc00nd\"", "surrogate", HERD_EFORMAT},
        {"\"demand\"", "\"dem\tnd\"", "control character", HERD_EFORMAT},
        {"\"demand\"", "\"dem\\xnd\"", "invalid escape", HERD_EFORMAT},
        /* case variants of known keys */
        {"\"family\"", "\"Family\"", "only in case", HERD_EFORMAT},
        {"\"format\":\"ubj\",", "\"format\":\"ubj\",\"FAMILY\":\"x\",", "only in case",
         HERD_EFORMAT},
        {"\"name\":\"x0\"", "\"name\":\"x0\",\"Type\":\"q\"", "only in case", HERD_EFORMAT},
        /* not RFC 8259 */
        {"\"best_iteration\":1", "\"best_iteration\":01", "leading zeros", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":1.", "decimal point", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":+1", "unexpected", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":1,", "object key", HERD_EFORMAT},
        {"\"best_iteration\":1", "'best_iteration':1", "object key", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":0x1", "expected", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":1}{\"a\":1", "after the JSON", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":1\f", "expected", HERD_EFORMAT},
        /* types and values */
        {"\"best_iteration\":1", "\"best_iteration\":-1", "non-negative integer", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":1.5", "non-negative integer", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":\"01\"", "non-negative integer",
         HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":\"18446744073709551616\"",
         "non-negative integer", HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":9007199254740993", "non-negative integer",
         HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":9007199254740992", "non-negative integer",
         HERD_EFORMAT},
        {"\"best_iteration\":1", "\"best_iteration\":true", "non-negative integer", HERD_EFORMAT},
        {"\"family\":\"demand\"", "\"family\":7", "'family' must be a string", HERD_EFORMAT},
        {"\"family\":\"demand\"", "\"family\":\"\"", "'family' is 0 bytes", HERD_EFORMAT},
        {"\"objective\":\"reg:squarederror\"", "\"objective\":\"reg:absoluteerror\"",
         "not the model's", HERD_EFORMAT},
        {"\"num_class\":0", "\"num_class\":3", "num_class 3 is not the model's 0", HERD_EFORMAT},
        {"\"format\":\"ubj\"", "\"format\":\"json\"", "payload format 'json'", HERD_EFORMAT},
        {"\"type\":\"float\"", "\"type\":\"double\"", "feature types", HERD_EFORMAT},
        {"\"name\":\"x1\"", "\"name\":\"x0\"", "appears twice", HERD_EFORMAT},
        {",{\"name\":\"promo\",\"type\":\"int\"}", "", "lists 2 features but the model has 3",
         HERD_EFORMAT},
        {"\"features\":[", "\"features\":[7,", "must be an object", HERD_EFORMAT},
        {"\"name\":\"x0\",", "", "lacks its \"name\"", HERD_EFORMAT},
        {"\"params\":{", "\"params\":{\"a\":1,", "parameter 'a'", HERD_EFORMAT},
        {"\"metrics\":{", "\"metrics\":{\"\":1,", "metric name is 0 bytes", HERD_EFORMAT},
        {"\"fingerprint\":\"", "\"fingerprint\":\"A", "'fingerprint' is 17 bytes", HERD_EFORMAT},
        {"\"created\":\"", "\"created\":\"2026-02-29T00:00:00Z\",\"x\":\"", "RFC 3339",
         HERD_EFORMAT},
        {"\"herd_version\"", "\"herd_versio\"", "required key 'herd_version'", HERD_EFORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = read_with_edit(v, bad[i].from, bad[i].to);
        if (rc != bad[i].code || !strstr(herd_last_error(), bad[i].msg))
            fail_msg("case %zu (%s -> %s): got %s \"%s\", want %s with \"%s\"", i, bad[i].from,
                     bad[i].to, herd_status_str(rc), herd_last_error(),
                     herd_status_str(bad[i].code), bad[i].msg);
    }
    /* A bad created time (in place of the real one). */
    cJSON *root = NULL;
    {
        parts p;
        parts_of(v, &p);
        root = cJSON_ParseWithLength(p.meta, p.meta_len);
    }
    assert_non_null(root);
    const char *times[] = {"2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z", "2025-02-29T00:00:00Z",
                           "2026-11-30 02:15:00Z", "2026-11-30T02:15:00+01:00",
                           "2026-11-30T24:00:00Z", "2026-11-30T02:15:00.Z"};
    const char *created = cJSON_GetObjectItemCaseSensitive(root, "created")->valuestring;
    char from[64];
    snprintf(from, sizeof from, "\"%s\"", created);
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        char to[64];
        snprintf(to, sizeof to, "\"%s\"", times[i]);
        assert_int_equal(read_with_edit(v, from, to), HERD_EFORMAT);
        ERR_HAS("RFC 3339");
    }
    /* Accepted: fractions, a leap day, unknown keys of any shape, big
     * integers as strings, whitespace. */
    const char *good[][2] = {
        {from, "\"2024-02-29T23:59:60.123456Z\""},
        {"\"format\":\"ubj\"", "\"format\" : \"ubj\" ,\n\t\"future\": {\"a\": [1, -2.5e-3, "
                               "true, null, {\"b\": \"\\u00e9\\ud83d\\ude00\"}]}"},
        {"\"best_iteration\":1", "\"best_iteration\":\"18446744073709551615\""},
        {"\"best_iteration\":1", "\"best_iteration\":1.0e0"},
        {"\"best_iteration\":1", "\"best_iteration\":9007199254740991"},
        {"\"family\":\"demand\"", "\"family\":\"d\xC3\xA9mand \\\"\\/\\\\\""},
        {"\"format\":\"ubj\",", "\"version\":7,\"format\":\"ubj\","},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int rc = read_with_edit(v, good[i][0], good[i][1]);
        if (rc) fail_msg("good case %zu: %s", i, herd_last_error());
    }
    /* The root must be an object; nesting is capped. */
    assert_int_equal(read_with_meta(v, "[1,2]"), HERD_EFORMAT);
    ERR_HAS("must be a JSON object");
    char deep[200] = "{\"format\":\"ubj\",\"x\":";
    for (int i = 0; i < 40; i++) strcat(deep, "[");
    assert_int_equal(read_with_meta(v, deep), HERD_ELIMIT);
    ERR_HAS("nested deeper than 32");
    cJSON_Delete(root);
    free(v);
}

/* ---- files ----------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_files(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *blob = small_artifact(&len);
    herd_artifact *a = NULL, *b = NULL;
    assert_int_equal(herd_artifact_read(blob, len, &a), HERD_OK);
    char dir[] = "/tmp/herd-artifact-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], missing[160];
    snprintf(path, sizeof path, "%s/model.herd", dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir/model.herd", dir);
    assert_int_equal(herd_artifact_write_file(a, path), HERD_OK);
    assert_int_equal(herd_artifact_write_file(a, path), HERD_OK); /* over the old one */
    assert_int_equal(herd_artifact_read_file(path, &b), HERD_OK);
    assert_string_equal(herd_artifact_metadata(a), herd_artifact_metadata(b));
    herd_artifact_free(b);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, len);

    /* A failing write names the path and leaves nothing behind. */
    assert_int_equal(herd_artifact_write_file(a, missing), HERD_EIO);
    ERR_HAS(missing);
    ERR_HAS("No such file or directory");
    assert_int_equal(herd_artifact_read_file(missing, &b), HERD_EIO);
    ERR_HAS(missing);
    assert_null(b);
    assert_int_equal(herd_artifact_read_file(dir, &b), HERD_EINVAL);
    ERR_HAS("it is a directory");

    /* A corrupt file: the message starts with its path. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 60, SEEK_SET);
    fputc('#', f);
    fclose(f);
    assert_int_equal(herd_artifact_read_file(path, &b), HERD_ECORRUPT);
    assert_true(strncmp(herd_last_error(), path, strlen(path)) == 0);
    ERR_HAS("metadata section");

    /* Anything but a regular file is refused before a byte is read
     * (issue 16: /dev/zero was read for 1 GiB first): a device that never
     * ends, and a FIFO, without waiting for a writer. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -f '%s'", path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(herd_artifact_write_file(a, path), HERD_OK);
    double t0 = now_s();
    assert_int_equal(herd_artifact_read_file("/dev/zero", &b), HERD_EINVAL);
    ERR_HAS("/dev/zero: cannot read the artifact: it is a character device");
    assert_null(b);
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(herd_artifact_read_file(fifo, &b), HERD_EINVAL);
    ERR_HAS("it is a FIFO");
    assert_true(now_s() - t0 < 1.0);
    /* A symbolic link to a regular file is followed. */
    char linked[160];
    snprintf(linked, sizeof linked, "%s/linked.herd", dir);
    assert_int_equal(symlink(path, linked), 0);
    assert_int_equal(herd_artifact_read_file(linked, &b), HERD_OK);
    herd_artifact_free(b);

    /* Writing: a FIFO with a reader is written through and stays a FIFO
     * (the reader above is gone: open one that reads it back)... */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    snprintf(cmd, sizeof cmd, "%s/copy.herd", dir);
    int wr = open(cmd, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(wr >= 0);
    assert_int_equal(herd_artifact_write_file(a, fifo), HERD_OK); /* fits the pipe */
    unsigned char chunk[4096];
    ssize_t got;
    while ((got = read(rd, chunk, sizeof chunk)) > 0) assert_int_equal(write(wr, chunk, (size_t)got), got);
    close(rd);
    close(wr);
    assert_int_equal(herd_artifact_read_file(cmd, &b), HERD_OK);
    assert_string_equal(herd_artifact_metadata(a), herd_artifact_metadata(b));
    herd_artifact_free(b);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    /* ... and without one is an error at once. */
    assert_int_equal(herd_artifact_write_file(a, fifo), HERD_EIO);
    ERR_HAS("no process has open for reading");
    /* A link to a character device is written through, the link kept. */
    char link[160], target[160];
    snprintf(link, sizeof link, "%s/null", dir);
    assert_int_equal(symlink("/dev/null", link), 0);
    assert_int_equal(herd_artifact_write_file(a, link), HERD_OK);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* A link to a regular file and a directory are refused, unchanged. */
    snprintf(link, sizeof link, "%s/link.herd", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(herd_artifact_write_file(a, link), HERD_EINVAL);
    ERR_HAS("a symbolic link to a regular file");
    ssize_t tn = readlink(link, target, sizeof target - 1);
    assert_true(tn > 0);
    target[tn] = '\0';
    assert_string_equal(target, path);
    assert_int_equal(herd_artifact_write_file(a, dir), HERD_EINVAL);
    ERR_HAS("the path is a directory");
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    herd_artifact_free(a);
    free(blob);
}

/* ---- arguments --------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    size_t sizes[2] = {40, 5};
    fixture fx;
    fixture_make(&fx, 2, sizes, 0.1);
    herd_fit_options o;
    base_options(&o);
    o.rounds = 2;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_model *model = NULL;
    assert_int_equal(herd_fit_result_model(set, "0", &model), HERD_OK);
    herd_artifact *a = NULL, *out = (herd_artifact *)1;
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, &a), HERD_OK);
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);

    assert_int_equal(herd_fit_result_artifact(NULL, "0", NULL, &out), HERD_EINVAL);
    ERR_HAS("'set'");
    assert_null(out);
    assert_int_equal(herd_fit_result_artifact(set, NULL, NULL, &out), HERD_EINVAL);
    ERR_HAS("'group'");
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, NULL), HERD_EINVAL);
    ERR_HAS("'out'");
    assert_int_equal(herd_fit_result_artifact(set, "9", NULL, &out), HERD_ENOTFOUND);
    ERR_HAS("no group '9'");
    herd_error_set(HERD_EIO, "pending");
    out = (herd_artifact *)1;
    assert_int_equal(herd_fit_result_artifact(set, "1", NULL, &out), HERD_MISSING); /* skipped */
    assert_null(out);
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_artifact_from_model(NULL, NULL, &out), HERD_EINVAL);
    ERR_HAS("'model'");
    assert_int_equal(herd_artifact_from_model(model, NULL, NULL), HERD_EINVAL);
    ERR_HAS("'out'");

    /* Options. */
    herd_artifact_options bad = ao;
    bad.version = 0;
    assert_int_equal(herd_artifact_from_model(model, &bad, &out), HERD_EINVAL);
    ERR_HAS("herd_artifact_options: version 0");
    bad = ao;
    bad.compression_level = 10;
    assert_int_equal(herd_artifact_from_model(model, &bad, &out), HERD_EINVAL);
    ERR_HAS("compression_level is 10");
    bad.compression_level = -2;
    assert_int_equal(herd_fit_result_artifact(set, "0", &bad, &out), HERD_EINVAL);
    ERR_HAS("compression_level is -2");
    bad = ao;
    bad.family = "";
    assert_int_equal(herd_artifact_from_model(model, &bad, &out), HERD_EINVAL);
    ERR_HAS("opt->family");
    bad.family = "a\nb";
    assert_int_equal(herd_artifact_from_model(model, &bad, &out), HERD_EINVAL);
    ERR_HAS("control character");
    bad = ao;
    char longname[300];
    memset(longname, 'r', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    bad.run_id = longname;
    assert_int_equal(herd_artifact_from_model(model, &bad, &out), HERD_EINVAL);
    ERR_HAS("opt->run_id");
    bad = ao;
    bad.group = "\xFF";
    assert_int_equal(herd_artifact_from_model(model, &bad, &out), HERD_EINVAL);
    ERR_HAS("opt->group");
    assert_null(out);
    assert_int_equal(herd_artifact_options_init(NULL, HERD_ARTIFACT_OPTIONS_VERSION),
                     HERD_EINVAL);
    ERR_HAS("'opt'");

    /* Serialising and files. */
    void *data = (void *)1;
    size_t len = 1;
    assert_int_equal(herd_artifact_to_buffer(NULL, &data, &len), HERD_EINVAL);
    ERR_HAS("'artifact'");
    assert_null(data);
    assert_int_equal(len, 0);
    assert_int_equal(herd_artifact_to_buffer(a, NULL, &len), HERD_EINVAL);
    ERR_HAS("'data'");
    assert_int_equal(herd_artifact_to_buffer(a, &data, NULL), HERD_EINVAL);
    ERR_HAS("'len'");
    assert_int_equal(herd_artifact_write_file(NULL, "/tmp/x"), HERD_EINVAL);
    ERR_HAS("'artifact'");
    assert_int_equal(herd_artifact_write_file(a, NULL), HERD_EINVAL);
    ERR_HAS("'path'");
    assert_int_equal(herd_artifact_write_file(a, ""), HERD_EINVAL);
    ERR_HAS("'path' is empty");
    assert_int_equal(herd_artifact_read(NULL, 10, &out), HERD_EINVAL);
    ERR_HAS("'data'");
    assert_int_equal(herd_artifact_read("x", 1, NULL), HERD_EINVAL);
    ERR_HAS("'out'");
    assert_int_equal(herd_artifact_read_file(NULL, &out), HERD_EINVAL);
    ERR_HAS("'path'");
    assert_int_equal(herd_artifact_read_file("", &out), HERD_EINVAL);
    ERR_HAS("'path' is empty");
    assert_int_equal(herd_artifact_read_file("/tmp/x", NULL), HERD_EINVAL);
    ERR_HAS("'out'");

    /* Accessors. */
    const char *field = SENTINEL_STR;
    assert_int_equal(herd_artifact_get(NULL, "family", &field), HERD_EINVAL);
    ERR_HAS("'artifact'");
    assert_null(field);
    assert_int_equal(herd_artifact_get(a, NULL, &field), HERD_EINVAL);
    ERR_HAS("'field'");
    assert_int_equal(herd_artifact_get(a, "family", NULL), HERD_EINVAL);
    ERR_HAS("'out'");
    /* None was given: missing, and the pending error stays. */
    herd_error_set(HERD_EIO, "pending");
    field = SENTINEL_STR;
    assert_int_equal(herd_artifact_get(a, "family", &field), HERD_MISSING);
    assert_null(field);
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_last_error_code(), HERD_EIO);
    herd_error_set(HERD_EIO, "pending");
    assert_null(herd_artifact_metadata(NULL));
    ERR_HAS("pending"); /* a direct accessor leaves the last error alone */
    double m;
    assert_int_equal(herd_artifact_metric(NULL, "rmse", &m), HERD_EINVAL);
    ERR_HAS("'artifact'");
    assert_int_equal(herd_artifact_metric(a, NULL, &m), HERD_EINVAL);
    ERR_HAS("'name'");
    assert_int_equal(herd_artifact_metric(a, "rmse", NULL), HERD_EINVAL);
    ERR_HAS("'value'");
    assert_int_equal(herd_artifact_metric(a, "RMSE", &m), HERD_MISSING); /* case-sensitive */
    herd_model *mo = (herd_model *)1;
    assert_int_equal(herd_artifact_model(NULL, &mo), HERD_EINVAL);
    ERR_HAS("'artifact'");
    assert_null(mo);
    assert_int_equal(herd_artifact_model(a, NULL), HERD_EINVAL);
    ERR_HAS("'out'");
    herd_artifact_free(NULL);

    herd_artifact_free(a);
    herd_model_free(model);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* ---- locale ------------------------------------------------------------------ */

/* A decimal-comma locale must not leak into the metadata. */
/* Blank out the value of "created" (a time) in metadata JSON text. */
static void mask_created(char *json)
{
    char *p = strstr(json, "\"created\":\"");
    if (!p) return;
    for (p += strlen("\"created\":\""); *p && *p != '"'; p++) *p = 'x';
}

static void test_decimal_comma_locale(void **state)
{
    (void)state;
    size_t sizes[1] = {60};
    fixture fx;
    fixture_make(&fx, 1, sizes, 0.3);
    herd_fit_options o;
    base_options(&o);
    const char *n[] = {"eta"}, *v[] = {"0.25"};
    o.param_names = n;
    o.param_values = v;
    o.n_params = 1;
    herd_fit_result *set = NULL;
    assert_int_equal(herd_fit(fx.groups, &o, NULL, &set), HERD_OK);
    herd_artifact *ref = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, &ref), HERD_OK);
    double want;
    assert_int_equal(herd_artifact_metric(ref, "rmse", &want), HERD_OK);
    test_locale loc;
    if (!test_locale_decimal_comma(&loc)) fail_msg("no decimal-comma locale could be made");
    herd_artifact *a = NULL, *b = NULL;
    assert_int_equal(herd_fit_result_artifact(set, "0", NULL, &a), HERD_OK);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(herd_artifact_to_buffer(a, &buf, &len), HERD_OK);
    assert_int_equal(herd_artifact_read(buf, len, &b), HERD_OK);
    double got;
    assert_int_equal(herd_artifact_metric(b, "rmse", &got), HERD_OK);
    test_locale_restore(&loc);
    assert_memory_equal(&got, &want, sizeof got);
    assert_non_null(strstr(herd_artifact_metadata(b), "\"rmse\":0."));
    /* the metadata is the C locale's, but for its creation time */
    char *m_ref = strdup(herd_artifact_metadata(ref)), *m_de = strdup(herd_artifact_metadata(b));
    mask_created(m_ref);
    mask_created(m_de);
    assert_string_equal(m_de, m_ref);
    free(m_ref);
    free(m_de);
    herd_free(buf);
    herd_artifact_free(a);
    herd_artifact_free(b);
    herd_artifact_free(ref);
    herd_fit_result_free(set);
    fixture_free(&fx);
}

/* ---- import ------------------------------------------------------------------ */

/* A model saved by the xgboost Python package (Debian's python3-xgboost)
 * becomes an artifact, validated, and predicts as Python did. */
static const char py_script[] =
    "import sys, numpy as np, xgboost as xgb\n"
    "d = sys.argv[1]\n"
    "rng = np.random.default_rng(7)\n"
    "X = rng.random((300, 3))\n"
    "X[:, 2] = (X[:, 2] < 0.3).astype(float)\n"
    "y = np.floor(X[:, 0] * 3).clip(0, 2) \n"
    "m = xgb.DMatrix(X, label=y, feature_names=['a', 'b', 'c'],\n"
    "                feature_types=['float', 'float', 'int'])\n"
    "bst = xgb.train({'objective': 'multi:softprob', 'num_class': 3, 'max_depth': 3,\n"
    "                 'nthread': 1, 'seed': 1}, m, 8)\n"
    "bst.save_model(d + '/py.ubj')\n"
    "np.savetxt(d + '/x.csv', X, delimiter=',', header='a,b,c', comments='', fmt='%.17g')\n"
    "np.savetxt(d + '/pred.txt', bst.predict(m).reshape(-1), fmt='%.9g')\n"
    "# Without feature names (a numpy array): XGBoost names them nothing.\n"
    "m2 = xgb.DMatrix(X, label=X[:, 0] * 2 + X[:, 2])\n"
    "bst2 = xgb.train({'max_depth': 3, 'nthread': 1, 'seed': 1}, m2, 6)\n"
    "bst2.save_model(d + '/noname.ubj')\n"
    "np.savetxt(d + '/noname_pred.txt', bst2.predict(m2), fmt='%.9g')\n"
    "# Two features of one name, which XGBoost's Python API refuses to make.\n"
    "import json\n"
    "bst.save_model(d + '/py.json')\n"
    "j = json.load(open(d + '/py.json'))\n"
    "j['learner']['feature_names'] = ['a', 'a', 'c']\n"
    "json.dump(j, open(d + '/dup.json', 'w'))\n";

/* The bytes of file dir/name (at most 1 MiB), in a static buffer. */
static const unsigned char *slurp_in(const char *dir, const char *name, size_t *n)
{
    static unsigned char bytes[1 << 20];
    char path[200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    *n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_true(*n > 100 && *n < sizeof bytes);
    return bytes;
}

/* A python-xgboost model trained on a numpy array names no feature:
 * herd_model_load refuses it, herd_model_load_with_features imports it
 * with the names and types given, its artifact round-trips, and it
 * predicts exactly what python-xgboost predicts (issue 16). */
static void import_without_names(const char *dir)
{
    size_t n;
    const unsigned char *bytes = slurp_in(dir, "noname.ubj", &n);
    herd_model *m = (herd_model *)1;
    assert_int_equal(herd_model_load(bytes, n, &m), HERD_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(herd_last_error(), "herd_model_load_with_features"));

    const char *names[] = {"a", "b", "c"}, *types[] = {"float", "float", "int"};
    /* Wrong counts, bad or repeated names, unknown types: refused. */
    assert_int_equal(herd_model_load_with_features(bytes, n, names, types, 2, &m), HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "lists 2 features but the model has 3"));
    const char *dup[] = {"a", "b", "a"};
    assert_int_equal(herd_model_load_with_features(bytes, n, dup, types, 3, &m), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "\"a\" appears twice (features 0 and 2)"));
    const char *badtype[] = {"float", "double", "int"};
    assert_int_equal(herd_model_load_with_features(bytes, n, names, badtype, 3, &m), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "\"double\""));
    const char *ctl[] = {"a", "b\tx", "c"};
    assert_int_equal(herd_model_load_with_features(bytes, n, ctl, types, 3, &m), HERD_EINVAL);
    assert_int_equal(herd_model_load_with_features(bytes, n, NULL, types, 3, &m), HERD_EINVAL);
    assert_int_equal(herd_model_load_with_features(bytes, n, names, types, 0, &m), HERD_EINVAL);
    assert_null(m);

    assert_int_equal(herd_model_load_with_features(bytes, n, names, types, 3, &m), HERD_OK);
    assert_int_equal(herd_model_feature_count(m), 3);
    assert_string_equal(herd_model_feature_name(m, 1), "b");
    assert_string_equal(herd_model_feature_type(m, 2), "int");
    /* The names are in the model now: its artifact reads back. */
    herd_artifact *a = NULL, *b = NULL;
    assert_int_equal(herd_artifact_from_model(m, NULL, &a), HERD_OK);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(herd_artifact_to_buffer(a, &buf, &len), HERD_OK);
    assert_int_equal(herd_artifact_read(buf, len, &b), HERD_OK);
    herd_free(buf);
    herd_model *back = NULL;
    assert_int_equal(herd_artifact_model(b, &back), HERD_OK);

    herd_frame *x = NULL;
    char path[200];
    snprintf(path, sizeof path, "%s/x.csv", dir);
    assert_int_equal(herd_frame_read_csv(path, NULL, &x), HERD_OK);
    size_t rows = herd_frame_row_count(x);
    double *pred = malloc(rows * sizeof *pred), *pred2 = malloc(rows * sizeof *pred2);
    assert_non_null(pred);
    assert_non_null(pred2);
    assert_int_equal(herd_model_predict(m, x, NULL, rows, 1, pred, rows), HERD_OK);
    assert_int_equal(herd_model_predict(back, x, NULL, rows, 1, pred2, rows), HERD_OK);
    snprintf(path, sizeof path, "%s/noname_pred.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    for (size_t i = 0; i < rows; i++) {
        double want;
        assert_int_equal(fscanf(f, "%lf", &want), 1);
        /* Both compute in float32 and %.9g round-trips a float: identical. */
        assert_true((float)pred[i] == (float)want);
        assert_true(pred2[i] == pred[i]);
    }
    fclose(f);
    free(pred);
    free(pred2);
    herd_frame_free(x);

    /* A model that names its features must be given the same names. */
    const unsigned char *named = slurp_in(dir, "py.ubj", &n);
    herd_model *same = NULL;
    assert_int_equal(herd_model_load_with_features(named, n, names, types, 3, &same), HERD_OK);
    herd_model_free(same);
    const char *other[] = {"b", "a", "c"};
    assert_int_equal(herd_model_load_with_features(named, n, other, types, 3, &same),
                     HERD_EFORMAT);
    assert_non_null(strstr(herd_last_error(), "[b:float, a:float, c:int]"));
    assert_non_null(strstr(herd_last_error(), "[a:float, b:float, c:int]"));
    herd_model_free(back);
    herd_artifact_free(a);
    herd_artifact_free(b);
    herd_model_free(m);
}

/* herd_model_load refuses a model with two features of one name, as
 * herd_artifact_from_model always did: it would feed one column into both
 * (issue 16). */
static void duplicate_names_refused(const char *dir)
{
    size_t n;
    const unsigned char *bytes = slurp_in(dir, "dup.json", &n);
    herd_model *m = (herd_model *)1;
    assert_int_equal(herd_model_load(bytes, n, &m), HERD_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(herd_last_error(), "\"a\" appears twice (features 0 and 1)"));
}

static void test_import_python_model(void **state)
{
    (void)state;
    char dir[] = "/tmp/herd-import-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[128], cmd[512], path[160];
    snprintf(script, sizeof script, "%s/make.py", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(py_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, dir);
    if (system(cmd) != 0)
        fail_msg("%s failed: python3-xgboost (a test dependency) must be installed", cmd);

    snprintf(path, sizeof path, "%s/py.ubj", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char bytes[1 << 20];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_true(n > 100 && n < sizeof bytes);
    herd_model *model = NULL;
    assert_int_equal(herd_model_load(bytes, n, &model), HERD_OK);
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "imported";
    ao.group = "DE/Berlin";
    herd_artifact *a = NULL, *b = NULL;
    assert_int_equal(herd_artifact_from_model(model, &ao, &a), HERD_OK);
    assert_non_null(strstr(herd_artifact_metadata(a), "\"metrics\":{}"));
    const char *fp = SENTINEL_STR;
    assert_int_equal(herd_artifact_get(a, "fingerprint", &fp), HERD_MISSING);
    assert_null(fp);
    snprintf(path, sizeof path, "%s/py.herd", dir);
    assert_int_equal(herd_artifact_write_file(a, path), HERD_OK);
    assert_int_equal(herd_artifact_read_file(path, &b), HERD_OK);
    assert_string_equal(art_field(b, "objective"), "multi:softprob");
    assert_string_equal(art_field(b, "group"), "DE/Berlin");
    assert_string_equal(art_field(b, "family"), "imported");

    herd_model *back = NULL;
    assert_int_equal(herd_artifact_model(b, &back), HERD_OK);
    assert_int_equal(herd_model_output_count(back), 3);
    assert_int_equal(herd_model_feature_count(back), 3);
    assert_string_equal(herd_model_feature_name(back, 2), "c");
    assert_string_equal(herd_model_feature_type(back, 2), "int");

    /* Predictions: herd's from the artifact against Python's. */
    herd_frame *x = NULL;
    snprintf(path, sizeof path, "%s/x.csv", dir);
    /* "c" holds 0 and 1 (%.17g prints 1.0 as 1): the CSV reader makes it
     * int64, as the model's int feature wants. */
    assert_int_equal(herd_frame_read_csv(path, NULL, &x), HERD_OK);
    size_t rows = herd_frame_row_count(x);
    assert_int_equal(rows, 300);
    assert_int_equal(herd_frame_column_type(x, 2), HERD_TYPE_INT64);
    double *pred = malloc(rows * 3 * sizeof *pred);
    assert_int_equal(herd_model_predict(back, x, NULL, rows, 1, pred, rows * 3), HERD_OK);
    snprintf(path, sizeof path, "%s/pred.txt", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    for (size_t i = 0; i < rows * 3; i++) {
        double want;
        assert_int_equal(fscanf(f, "%lf", &want), 1);
        assert_float_equal(pred[i], want, 1e-6);
    }
    fclose(f);
    free(pred);
    herd_frame_free(x);

    import_without_names(dir);
    duplicate_names_refused(dir);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    herd_model_free(back);
    herd_model_free(model);
    herd_artifact_free(a);
    herd_artifact_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_metadata_features_agree_with_payload),
        cmocka_unit_test(test_nonfinite_metrics),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_compression_levels),
        cmocka_unit_test(test_multiclass),
        cmocka_unit_test(test_writer_refuses_unreadable),
        cmocka_unit_test(test_every_byte_flip_rejected),
        cmocka_unit_test(test_truncation_and_tail_rejected),
        cmocka_unit_test(test_versions_and_flags),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_decompression_bomb),
        cmocka_unit_test(test_metadata_strict),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_decimal_comma_locale),
        cmocka_unit_test(test_import_python_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
