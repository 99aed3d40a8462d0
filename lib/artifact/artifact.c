/* artifact.c -- one model and its metadata as one checksummed blob.
 *
 * Layout (docs/format.md is the specification; this file follows it):
 *
 *   header    56 bytes in format 1.0, little-endian; its last 4 bytes are
 *             the CRC32 of the bytes before them
 *   metadata  JSON text (UTF-8), with its CRC32 in the header
 *   payload   the model as XGBoost UBJSON, zlib-compressed when flag bit 0
 *             is set, with the CRC32 of the stored and of the raw bytes
 *
 * Reading trusts nothing.  Every length is checked against the caps and the
 * blob before anything is allocated; the declared inflated size is bounded
 * by deflate's maximum ratio before its buffer is allocated and inflation
 * stops at that size; the metadata is strict JSON checked against a schema;
 * the model's structure is validated (hd_model_check) before XGBoost ever
 * sees it.  Reading itself never calls XGBoost.
 *
 * Writing runs the same metadata parser and model check over what it is
 * about to write, so herd never writes an artifact it would refuse to read.
 *
 * Numbers are printed and parsed in the "C" locale of the calling thread
 * (uselocale), never the process's: a decimal comma would make the metadata
 * invalid JSON.
 */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "herd.h"
#include "common/bytes_internal.h"
#include "common/error_internal.h"
#include "common/fileio_internal.h"
#include "common/json_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/options_internal.h"
#include "common/text_internal.h"
#include "model/features_internal.h"
#include "model/model_internal.h"
#include "model/modelcheck_internal.h"
#include "model/xgb_internal.h"
#include "artifact/artifact_internal.h"

/* ------------------------------------------------------------------------
 * The format's constants (docs/format.md, "Header")
 * --------------------------------------------------------------------- */

/* Like PNG's: the high byte catches 7-bit transfers, CR LF and the lone LF
 * catch line-ending conversions in either direction. */
static const unsigned char hd_magic[8] = {0x89, 'H', 'E', 'R', 'D', '\r', '\n', '\n'};

enum {
    HD_OFF_MAJOR = 8,
    HD_OFF_MINOR = 10,
    HD_OFF_FLAGS = 12,
    HD_OFF_HEADER_LEN = 16,
    HD_OFF_META_LEN = 20,
    HD_OFF_STORED_LEN = 24,
    HD_OFF_RAW_LEN = 32,
    HD_OFF_META_CRC = 40,
    HD_OFF_STORED_CRC = 44,
    HD_OFF_RAW_CRC = 48,
    HD_HEADER_LEN_1_0 = 56 /* the header CRC32 is at 52, the header's last 4 bytes */
};

#define HD_FLAG_ZLIB 0x1u
#define HD_KNOWN_FLAGS HD_FLAG_ZLIB
/* A later minor may grow the header; beyond this it is not a header. */
#define HD_MAX_HEADER_LEN 65536u
/* Deflate codes at most 258 bytes in 2 bits, so 1 byte of compressed data
 * inflates to at most 1032 bytes: a larger declared size is a lie, caught
 * before its buffer is allocated. */
#define HD_MAX_INFLATE_RATIO 1032u
/* Chosen by measurement on herd-trained models (docs/performance.md).  On
 * 130 KB UBJSON models (200 rows, 50 rounds) level 1 stores 38% of the raw
 * bytes and level 6 32%: level 1 gets 90% of level 6's saving for a third of
 * its deflate time (115 vs 33 MB/s), and inflates about as fast.  Packaging
 * a small model costs a quarter to a third of the CPU that trained it at
 * level 6, about a tenth at level 1; levels 7-9 save 1-4% more at up to 10x
 * level 6's time.  Callers who store much and write little can pass 6. */
#define HD_DEFAULT_LEVEL 1

/* Metadata limits beyond the public caps (docs/format.md, "Metadata"). */
#define HD_META_MAX_TEXT (1024u * 1024u) /* group, parameter values */
#define HD_META_MAX_IDEM 2048u /* an idempotency key, as the registry bounds it */
#define HD_META_MAX_SHORT 63u            /* objective, versions */
#define HD_META_MAX_VALUES 1000000u
#define HD_META_MAX_DEPTH 32u
/* 2^53 - 1: the largest integer every double-based JSON reader holds
 * exactly (a text above it may round down to it); larger ones are strings. */
#define HD_META_EXACT_MAX 9007199254740991.0

static const char hd_payload_format[] = "ubj";

/* ------------------------------------------------------------------------
 * The parsed metadata
 * --------------------------------------------------------------------- */

/* String fields, by slot. */
enum {
    HD_S_FORMAT,
    HD_S_FAMILY,
    HD_S_GROUP,
    HD_S_OBJECTIVE,
    HD_S_FINGERPRINT,
    HD_S_RUN_ID,
    HD_S_IDEMPOTENCY_KEY,
    HD_S_CREATED,
    HD_S_HERD_VERSION,
    HD_S_XGBOOST_VERSION,
    HD_S_COUNT
};

/* Integer fields, by slot. */
enum {
    HD_U_VERSION,
    HD_U_NUM_CLASS,
    HD_U_ROWS,
    HD_U_TRAIN_ROWS,
    HD_U_VALID_ROWS,
    HD_U_BEST_ITERATION,
    HD_U_COUNT
};

typedef struct hd_meta {
    cJSON *root;
    const char *str[HD_S_COUNT]; /* into root; NULL when absent */
    uint64_t num[HD_U_COUNT];    /* 0 when absent */
    size_t nfeat;
    const char **fnames, **ftypes; /* into root */
    const cJSON *params, *metrics; /* objects in root, or NULL */
} hd_meta;

struct herd_artifact {
    unsigned char *blob; /* the whole serialised artifact */
    size_t blob_len;
    unsigned char *model; /* the payload inflated: XGBoost UBJSON */
    size_t model_len;
    char *metadata; /* the metadata section, NUL-terminated */
    hd_meta meta;
    size_t num_outputs;
};

static void hd_meta_free(hd_meta *m)
{
    cJSON_Delete(m->root);
    free(m->fnames);
    free(m->ftypes);
    memset(m, 0, sizeof *m);
}

void herd_artifact_free(herd_artifact *artifact)
{
    if (!artifact) return;
    free(artifact->blob);
    free(artifact->model);
    free(artifact->metadata);
    hd_meta_free(&artifact->meta);
    free(artifact);
}

/* ------------------------------------------------------------------------
 * The "C" locale for the calling thread only
 * --------------------------------------------------------------------- */

typedef struct hd_c_locale_scope {
    locale_t c, old;
} hd_c_locale_scope;

static int hd_c_locale_enter(hd_c_locale_scope *s)
{
    s->old = (locale_t)0;
    /* glibc returns its static C locale object here: no allocation. */
    s->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (s->c == (locale_t)0) return hd_oom();
    s->old = uselocale(s->c);
    return HERD_OK;
}

static void hd_c_locale_leave(hd_c_locale_scope *s)
{
    uselocale(s->old);
    freelocale(s->c);
}

/* ------------------------------------------------------------------------
 * Metadata: reading (strict)
 * --------------------------------------------------------------------- */

#define HD_META "artifact metadata"

static const char *hd_json_kind(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    return "an object";
}

/* ASCII-only case-insensitive equality: the locale must not matter. */
static int hd_ascii_case_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
        if (x != y) return 0;
        if (!x) return 1;
    }
}

/* Keys are case-sensitive and unknown keys are allowed (a newer minor may
 * add some), but an unknown key that differs from a known one only in case
 * ("Family") is rejected: a case-insensitive reader would take it for the
 * known key and see a different artifact than herd does. */
static int hd_case_clash(const char *key, const char *known, const char *where)
{
    if (!hd_ascii_case_equal(key, known)) return HERD_OK;
    char q[96];
    return hd_error(HERD_EFORMAT,
                    HD_META ": %skey %s differs from the key '%s' only in case; keys are "
                    "case-sensitive",
                    where, hd_quote(key, strlen(key), q, sizeof q), known);
}

/* A string of min..max bytes (UTF-8 was checked over the whole text). */
static int hd_meta_string(const cJSON *v, const char *key, size_t min, size_t max,
                          const char **out)
{
    if (!cJSON_IsString(v))
        return hd_error(HERD_EFORMAT, HD_META ": '%s' must be a string, not %s", key,
                        hd_json_kind(v));
    size_t len = strlen(v->valuestring);
    if (len < min || len > max)
        return hd_error(HERD_EFORMAT, HD_META ": '%s' is %zu bytes long; it must be %zu..%zu",
                        key, len, min, max);
    *out = v->valuestring;
    return HERD_OK;
}

/* A non-negative integer: a JSON number up to 2^53 - 1, or a string of
 * decimal digits (how larger integers are written, since readers that hold
 * numbers as doubles would round them). */
static int hd_meta_uint(const cJSON *v, const char *key, uint64_t *out)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d >= 0 && d <= HD_META_EXACT_MAX && d == floor(d)) {
            *out = (uint64_t)d;
            return HERD_OK;
        }
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t len = strlen(s);
        uint64_t x = 0;
        int ok = len > 0 && len <= 20 && !(s[0] == '0' && len > 1);
        for (size_t i = 0; ok && i < len; i++) {
            unsigned dgt = (unsigned)(s[i] - '0');
            ok = dgt <= 9 && x <= (UINT64_MAX - dgt) / 10;
            x = x * 10 + dgt;
        }
        if (ok) {
            *out = x;
            return HERD_OK;
        }
    }
    return hd_error(HERD_EFORMAT,
                    HD_META ": '%s' must be a non-negative integer (a number up to 2^53 - 1, or "
                    "a string of decimal digits), not %s",
                    key, hd_json_kind(v));
}

static int hd_is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Digits s[0..n) as a number, or -1. */
static long hd_digits(const char *s, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS, optional fraction, then Z. */
static int hd_rfc3339_utc(const char *s)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t len = strlen(s);
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[len - 1] != 'Z')
        return 0;
    long y = hd_digits(s, 4), mo = hd_digits(s + 5, 2), d = hd_digits(s + 8, 2);
    long h = hd_digits(s + 11, 2), mi = hd_digits(s + 14, 2), sec = hd_digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return 0;
    if (mo == 2 && d == 29 && !hd_is_leap((unsigned)y)) return 0;
    if (len == 20) return 1;
    /* ".d+" between the seconds and the Z */
    return s[19] == '.' && len > 21 && len <= 30 && hd_digits(s + 20, len - 21) >= 0;
}

static int hd_meta_features(const cJSON *v, hd_meta *m);
static int hd_meta_params(const cJSON *v, hd_meta *m);
static int hd_meta_metrics(const cJSON *v, hd_meta *m);

typedef enum hd_meta_kind {
    HD_K_STRING,      /* slot str[], min..max bytes */
    HD_K_UINT,        /* slot num[] */
    HD_K_FINGERPRINT, /* slot str[], 16 lowercase hex digits */
    HD_K_CREATED,     /* slot str[], RFC 3339 UTC */
    HD_K_FORMAT,      /* slot str[], "ubj" */
    HD_K_FEATURES,
    HD_K_PARAMS,
    HD_K_METRICS
} hd_meta_kind;

typedef struct hd_meta_key {
    const char *name;
    hd_meta_kind kind;
    int slot;
    size_t min, max; /* string length */
    int required;
} hd_meta_key;

/* Every key format 1.x defines (docs/format.md, "Metadata"). */
static const hd_meta_key hd_meta_keys[] = {
    {"format", HD_K_FORMAT, HD_S_FORMAT, 0, 0, 1},
    {"family", HD_K_STRING, HD_S_FAMILY, 1, HERD_NAME_MAX, 0},
    {"group", HD_K_STRING, HD_S_GROUP, 0, HD_META_MAX_TEXT, 0},
    {"version", HD_K_UINT, HD_U_VERSION, 0, 0, 0},
    {"objective", HD_K_STRING, HD_S_OBJECTIVE, 1, HD_META_MAX_SHORT, 1},
    {"num_class", HD_K_UINT, HD_U_NUM_CLASS, 0, 0, 1},
    {"features", HD_K_FEATURES, 0, 0, 0, 1},
    {"params", HD_K_PARAMS, 0, 0, 0, 0},
    {"metrics", HD_K_METRICS, 0, 0, 0, 0},
    {"rows", HD_K_UINT, HD_U_ROWS, 0, 0, 0},
    {"train_rows", HD_K_UINT, HD_U_TRAIN_ROWS, 0, 0, 0},
    {"valid_rows", HD_K_UINT, HD_U_VALID_ROWS, 0, 0, 0},
    {"best_iteration", HD_K_UINT, HD_U_BEST_ITERATION, 0, 0, 0},
    {"fingerprint", HD_K_FINGERPRINT, HD_S_FINGERPRINT, 0, 0, 0},
    {"run_id", HD_K_STRING, HD_S_RUN_ID, 1, HERD_NAME_MAX, 0},
    {"idempotency_key", HD_K_STRING, HD_S_IDEMPOTENCY_KEY, 1, HD_META_MAX_IDEM, 0},
    {"created", HD_K_CREATED, HD_S_CREATED, 0, 0, 1},
    {"herd_version", HD_K_STRING, HD_S_HERD_VERSION, 1, HD_META_MAX_SHORT, 1},
    {"xgboost_version", HD_K_STRING, HD_S_XGBOOST_VERSION, 1, HD_META_MAX_SHORT, 1},
};
#define HD_META_NKEYS (sizeof hd_meta_keys / sizeof *hd_meta_keys)

static int hd_meta_value(const hd_meta_key *k, const cJSON *v, hd_meta *m)
{
    const char **s = &m->str[k->slot];
    int rc;
    switch (k->kind) {
    case HD_K_STRING: return hd_meta_string(v, k->name, k->min, k->max, s);
    case HD_K_UINT: return hd_meta_uint(v, k->name, &m->num[k->slot]);
    case HD_K_FINGERPRINT:
        rc = hd_meta_string(v, k->name, 16, 16, s);
        if (!rc && strspn(*s, "0123456789abcdef") != 16)
            rc = hd_error(HERD_EFORMAT,
                          HD_META ": 'fingerprint' must be 16 lowercase hexadecimal digits");
        return rc;
    case HD_K_CREATED:
        rc = hd_meta_string(v, k->name, 20, 64, s);
        if (!rc && !hd_rfc3339_utc(*s))
            rc = hd_error(HERD_EFORMAT,
                          HD_META ": 'created' must be an RFC 3339 UTC time such as "
                          "2026-11-30T02:15:00Z");
        return rc;
    case HD_K_FORMAT:
        rc = hd_meta_string(v, k->name, 1, HD_META_MAX_SHORT, s);
        if (!rc && strcmp(*s, hd_payload_format) != 0)
            rc = hd_error(HERD_EFORMAT,
                          HD_META ": the payload format '%s' is not supported; this library "
                          "reads \"%s\" (XGBoost UBJSON)",
                          *s, hd_payload_format);
        return rc;
    case HD_K_FEATURES: return hd_meta_features(v, m);
    case HD_K_PARAMS: return hd_meta_params(v, m);
    case HD_K_METRICS: return hd_meta_metrics(v, m);
    }
    return hd_error(HERD_EINTERNAL, "unknown metadata kind %d", (int)k->kind);
}

static int hd_meta_feature(const cJSON *f, size_t i, hd_meta *m)
{
    char where[64];
    snprintf(where, sizeof where, "features[%zu]", i);
    if (!cJSON_IsObject(f))
        return hd_error(HERD_EFORMAT, HD_META ": %s must be an object {\"name\", \"type\"}, not %s",
                        where, hd_json_kind(f));
    const char *name = NULL, *type = NULL;
    for (const cJSON *c = f->child; c; c = c->next) {
        int rc = HERD_OK;
        if (strcmp(c->string, "name") == 0) {
            rc = hd_meta_string(c, "features[].name", 1, HERD_NAME_MAX, &name);
        } else if (strcmp(c->string, "type") == 0) {
            rc = hd_meta_string(c, "features[].type", 1, HD_META_MAX_SHORT, &type);
            if (!rc && !hd_feature_type_known(type))
                rc = hd_error(HERD_EFORMAT,
                              HD_META ": %s has type '%s'; XGBoost's feature types are float, "
                              "int, i, q and c",
                              where, type);
        } else {
            char at[80];
            snprintf(at, sizeof at, "%s: ", where);
            rc = hd_case_clash(c->string, "name", at);
            if (!rc) rc = hd_case_clash(c->string, "type", at);
        }
        if (rc) return rc;
    }
    if (!name || !type)
        return hd_error(HERD_EFORMAT, HD_META ": %s lacks its \"%s\"", where,
                        name ? "type" : "name");
    m->fnames[i] = name;
    m->ftypes[i] = type;
    return HERD_OK;
}

static int hd_meta_features(const cJSON *v, hd_meta *m)
{
    if (!cJSON_IsArray(v))
        return hd_error(HERD_EFORMAT,
                        HD_META ": 'features' must be an array of {\"name\", \"type\"} "
                        "objects, not %s",
                        hd_json_kind(v));
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next) n++;
    if (n == 0) return hd_error(HERD_EFORMAT, HD_META ": 'features' is empty");
    if (n > HERD_ARTIFACT_MAX_FEATURES)
        return hd_error(HERD_ELIMIT, HD_META ": %zu features; the limit is %u", n,
                        HERD_ARTIFACT_MAX_FEATURES);
    m->fnames = hd_malloc(n, sizeof *m->fnames);
    m->ftypes = hd_malloc(n, sizeof *m->ftypes);
    if (!m->fnames || !m->ftypes) return HERD_ENOMEM;
    m->nfeat = n;
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        int rc = hd_meta_feature(c, i, m);
        if (rc) return rc;
    }
    /* The rules of every feature list (names unique: features are bound
     * to columns by name). */
    return hd_features_check(m->fnames, m->ftypes, n, HD_META);
}

static int hd_meta_params(const cJSON *v, hd_meta *m)
{
    if (!cJSON_IsObject(v))
        return hd_error(HERD_EFORMAT,
                        HD_META ": 'params' must be an object of name: string value, not %s",
                        hd_json_kind(v));
    for (const cJSON *c = v->child; c; c = c->next) {
        size_t klen = strlen(c->string);
        if (klen < 1 || klen > HERD_NAME_MAX)
            return hd_error(HERD_EFORMAT, HD_META ": a parameter name is %zu bytes; it must be "
                            "1..%d", klen, HERD_NAME_MAX);
        if (!cJSON_IsString(c) || strlen(c->valuestring) > HD_META_MAX_TEXT)
            return hd_error(HERD_EFORMAT,
                            HD_META ": parameter '%.64s' must be a string of at most %u bytes, "
                            "not %s",
                            c->string, HD_META_MAX_TEXT, hd_json_kind(c));
    }
    m->params = v;
    return HERD_OK;
}

/* A metric's value: a finite number, or "NaN", "Infinity", "-Infinity"
 * (JSON has no such numbers and cJSON would print them as null). */
static int hd_metric_value(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        *out = v->valuedouble;
        return 1;
    }
    if (!cJSON_IsString(v)) return 0;
    if (strcmp(v->valuestring, "NaN") == 0) *out = NAN;
    else if (strcmp(v->valuestring, "Infinity") == 0) *out = INFINITY;
    else if (strcmp(v->valuestring, "-Infinity") == 0) *out = -INFINITY;
    else return 0;
    return 1;
}

static int hd_meta_metrics(const cJSON *v, hd_meta *m)
{
    if (!cJSON_IsObject(v))
        return hd_error(HERD_EFORMAT,
                        HD_META ": 'metrics' must be an object of name: number, not %s",
                        hd_json_kind(v));
    for (const cJSON *c = v->child; c; c = c->next) {
        size_t klen = strlen(c->string);
        double d;
        if (klen < 1 || klen > HERD_NAME_MAX)
            return hd_error(HERD_EFORMAT, HD_META ": a metric name is %zu bytes; it must be "
                            "1..%d", klen, HERD_NAME_MAX);
        if (!hd_metric_value(c, &d))
            return hd_error(HERD_EFORMAT,
                            HD_META ": metric '%.64s' must be a finite number or one of the "
                            "strings \"NaN\", \"Infinity\", \"-Infinity\", not %s",
                            c->string, hd_json_kind(c));
    }
    m->metrics = v;
    return HERD_OK;
}

static const hd_meta_key *hd_meta_key_find(const char *name)
{
    for (size_t i = 0; i < HD_META_NKEYS; i++)
        if (strcmp(name, hd_meta_keys[i].name) == 0) return &hd_meta_keys[i];
    return NULL;
}

/* Whether the key `name` (of the table) was present. */
static int hd_meta_has(unsigned seen, const char *name)
{
    return (int)((seen >> (hd_meta_key_find(name) - hd_meta_keys)) & 1u);
}

/* Values that contradict each other describe no model (docs/format.md,
 * section 10): a version 0, more rows trained on or held out than the
 * group has. */
static int hd_meta_consistent(const hd_meta *m, unsigned seen)
{
    if (hd_meta_has(seen, "version") && m->num[HD_U_VERSION] == 0)
        return hd_error(HERD_EFORMAT, HD_META ": 'version' is 0; registry versions start at 1");
    if (!hd_meta_has(seen, "rows")) return HERD_OK;
    static const struct {
        const char *name;
        int slot;
    } parts[] = {{"train_rows", HD_U_TRAIN_ROWS}, {"valid_rows", HD_U_VALID_ROWS}};
    for (size_t i = 0; i < 2; i++)
        if (hd_meta_has(seen, parts[i].name) && m->num[parts[i].slot] > m->num[HD_U_ROWS])
            return hd_error(HERD_EFORMAT, HD_META ": '%s' is %llu but 'rows' is %llu",
                            parts[i].name, (unsigned long long)m->num[parts[i].slot],
                            (unsigned long long)m->num[HD_U_ROWS]);
    return HERD_OK;
}

static int hd_meta_fields(hd_meta *m)
{
    const cJSON *root = m->root;
    if (!cJSON_IsObject(root))
        return hd_error(HERD_EFORMAT, HD_META ": must be a JSON object, not %s",
                        hd_json_kind(root));
    unsigned seen = 0; /* bit per hd_meta_keys entry; duplicates were rejected */
    for (const cJSON *c = root->child; c; c = c->next) {
        const hd_meta_key *k = hd_meta_key_find(c->string);
        int rc;
        if (k) {
            seen |= 1u << (k - hd_meta_keys);
            rc = hd_meta_value(k, c, m);
        } else {
            rc = HERD_OK;
            for (size_t i = 0; i < HD_META_NKEYS && !rc; i++)
                rc = hd_case_clash(c->string, hd_meta_keys[i].name, "");
        }
        if (rc) return rc;
    }
    for (size_t i = 0; i < HD_META_NKEYS; i++)
        if (hd_meta_keys[i].required && !(seen & (1u << i)))
            return hd_error(HERD_EFORMAT, HD_META ": the required key '%s' is missing",
                            hd_meta_keys[i].name);
    return hd_meta_consistent(m, seen);
}

/* Parse and check `len` bytes of metadata text into m (which owns the tree). */
static int hd_meta_parse(const char *text, size_t len, hd_meta *m)
{
    static const hd_json_limits lim = {HD_META_MAX_VALUES, HD_META_MAX_DEPTH};
    memset(m, 0, sizeof *m);
    hd_c_locale_scope loc;
    int rc = hd_c_locale_enter(&loc);
    if (rc) return rc;
    rc = hd_json_parse(text, len, HD_META, &lim, &m->root);
    hd_c_locale_leave(&loc);
    if (!rc) rc = hd_meta_fields(m);
    if (rc) hd_meta_free(m);
    return rc;
}

/* The metadata must describe the model it travels with. */
static int hd_meta_matches_model(const hd_meta *m, const hd_model_info *info)
{
    if (m->nfeat != info->num_feature)
        return hd_error(HERD_EFORMAT,
                        "artifact: the metadata lists %zu features but the model has %zu",
                        m->nfeat, info->num_feature);
    if (strcmp(m->str[HD_S_OBJECTIVE], info->objective) != 0)
        return hd_error(HERD_EFORMAT,
                        "artifact: the metadata's objective '%s' is not the model's '%s'",
                        m->str[HD_S_OBJECTIVE], info->objective);
    if (m->num[HD_U_NUM_CLASS] != info->num_class)
        return hd_error(HERD_EFORMAT,
                        "artifact: the metadata's num_class %llu is not the model's %zu",
                        (unsigned long long)m->num[HD_U_NUM_CLASS], info->num_class);
    return HERD_OK;
}

/* The metadata's features, which the payload's must equal. */
static hd_model_features hd_meta_features_want(const hd_meta *m)
{
    hd_model_features w = {.what = "the artifact's metadata", .names = m->fnames,
                           .types = m->ftypes, .n = m->nfeat, .required = 1};
    return w;
}

/* Predictions per row, as herd_model_output_count reports them. */
static size_t hd_meta_num_outputs(const hd_meta *m)
{
    uint64_t k = m->num[HD_U_NUM_CLASS];
    return k > 1 && strcmp(m->str[HD_S_OBJECTIVE], "multi:softprob") == 0 ? (size_t)k : 1;
}

/* ------------------------------------------------------------------------
 * The header
 * --------------------------------------------------------------------- */

typedef struct hd_header {
    unsigned major, minor;
    uint32_t flags, header_len, meta_len;
    uint64_t stored_len, raw_len;
    uint32_t meta_crc, stored_crc, raw_crc;
} hd_header;

static int hd_not_an_artifact(const unsigned char *b, size_t len)
{
    char hex[40] = "";
    for (size_t i = 0, o = 0; i < len && i < 8; i++)
        o += (size_t)snprintf(hex + o, sizeof hex - o, "%s%02X", i ? " " : "", b[i]);
    if (len == 0) return hd_error(HERD_EFORMAT, "not a herd artifact: it is empty (0 bytes)");
    if (len >= 5 && b[0] == 0x89 && memcmp(b + 1, "HERD", 4) == 0)
        return hd_error(HERD_EFORMAT,
                        "not a herd artifact as written: its signature ends %s instead of 0D "
                        "0A 0A, so line endings were converted (a text-mode transfer); copy "
                        "the file in binary mode",
                        hex + 15);
    if (len >= 5 && memcmp(b + 1, "HERD", 4) == 0)
        return hd_error(HERD_EFORMAT,
                        "not a herd artifact as written: its first byte is %02X instead of "
                        "89, so the high bit was stripped (a 7-bit transfer); copy the file "
                        "in binary mode",
                        b[0]);
    if (b[0] == '{')
        return hd_error(HERD_EFORMAT,
                        "not a herd artifact: it starts with '{' like an XGBoost JSON or "
                        "UBJSON model; load a model with herd_model_load() and package it "
                        "with herd_artifact_from_model()");
    return hd_error(HERD_EFORMAT,
                    "not a herd artifact: it starts with %s; an artifact starts with 89 48 45 "
                    "52 44 0D 0A 0A",
                    hex);
}

static int hd_header_magic_version(const unsigned char *b, size_t len, hd_header *h)
{
    size_t n = len < sizeof hd_magic ? len : sizeof hd_magic;
    if (len < sizeof hd_magic || memcmp(b, hd_magic, n) != 0) {
        if (len > 0 && memcmp(b, hd_magic, n) == 0)
            return hd_error(HERD_ECORRUPT,
                            "artifact truncated: %zu bytes, fewer than the %d-byte header",
                            len, HD_HEADER_LEN_1_0);
        return hd_not_an_artifact(b, len);
    }
    /* The major version decides the layout of everything after it. */
    if (len < HD_OFF_FLAGS)
        return hd_error(HERD_ECORRUPT,
                        "artifact truncated: %zu bytes, fewer than the %d-byte header", len,
                        HD_HEADER_LEN_1_0);
    h->major = hd_rd16(b + HD_OFF_MAJOR);
    h->minor = hd_rd16(b + HD_OFF_MINOR);
    if (h->major != HERD_ARTIFACT_FORMAT_MAJOR)
        return hd_error(HERD_EFORMAT,
                        "artifact format version %u.%u is not supported; this library (herd "
                        "%s) reads %d.x%s",
                        h->major, h->minor, herd_version_string(), HERD_ARTIFACT_FORMAT_MAJOR,
                        h->major > HERD_ARTIFACT_FORMAT_MAJOR
                            ? ": a newer herd wrote it, read it with that version"
                            : "");
    if (len < HD_HEADER_LEN_1_0)
        return hd_error(HERD_ECORRUPT,
                        "artifact truncated: %zu bytes, fewer than the %d-byte header", len,
                        HD_HEADER_LEN_1_0);
    if (len > HERD_ARTIFACT_MAX_BYTES)
        return hd_error(HERD_ELIMIT, "artifact is %zu bytes; the limit is %u bytes", len,
                        HERD_ARTIFACT_MAX_BYTES);
    return HERD_OK;
}

/* Header length and CRC.  The CRC is the header's last 4 bytes, wherever
 * a newer minor puts the end, so it covers fields this library skips. */
static int hd_header_crc(const unsigned char *b, size_t len, hd_header *h)
{
    h->header_len = hd_rd32(b + HD_OFF_HEADER_LEN);
    if (h->header_len < HD_HEADER_LEN_1_0 || h->header_len > HD_MAX_HEADER_LEN ||
        h->header_len > len)
        return hd_error(HERD_ECORRUPT,
                        "artifact header: its length field says %u bytes; it must be %d..%u "
                        "and within the %zu-byte blob: the artifact is corrupt or truncated",
                        h->header_len, HD_HEADER_LEN_1_0, HD_MAX_HEADER_LEN, len);
    uint32_t stored = hd_rd32(b + h->header_len - 4);
    uint32_t computed = hd_crc32(b, h->header_len - 4);
    if (stored != computed)
        return hd_error(HERD_ECORRUPT,
                        "artifact header (bytes 0..%u) fails its CRC32 check (stored 0x%08X, "
                        "computed 0x%08X): the artifact is corrupt",
                        h->header_len - 1, stored, computed);
    return HERD_OK;
}

/* Flags, caps and section lengths, all before anything is allocated. */
static int hd_header_lengths(const unsigned char *b, size_t len, hd_header *h)
{
    h->flags = hd_rd32(b + HD_OFF_FLAGS);
    h->meta_len = hd_rd32(b + HD_OFF_META_LEN);
    h->stored_len = hd_rd64(b + HD_OFF_STORED_LEN);
    h->raw_len = hd_rd64(b + HD_OFF_RAW_LEN);
    h->meta_crc = hd_rd32(b + HD_OFF_META_CRC);
    h->stored_crc = hd_rd32(b + HD_OFF_STORED_CRC);
    h->raw_crc = hd_rd32(b + HD_OFF_RAW_CRC);
    if (h->flags & ~HD_KNOWN_FLAGS)
        return hd_error(HERD_EFORMAT,
                        "artifact header: flags 0x%08X hold bits this library does not know "
                        "(it knows 0x%08X); a newer herd wrote it",
                        h->flags, HD_KNOWN_FLAGS);
    if (h->meta_len > HERD_ARTIFACT_MAX_METADATA)
        return hd_error(HERD_ELIMIT, "artifact metadata is %u bytes; the limit is %u bytes",
                        h->meta_len, HERD_ARTIFACT_MAX_METADATA);
    if (h->raw_len > HERD_ARTIFACT_MAX_MODEL)
        return hd_error(HERD_ELIMIT, "artifact model is %llu bytes; the limit is %u bytes",
                        (unsigned long long)h->raw_len, HERD_ARTIFACT_MAX_MODEL);
    if (h->stored_len > HERD_ARTIFACT_MAX_BYTES)
        return hd_error(HERD_ELIMIT, "artifact payload is %llu bytes; the limit is %u bytes",
                        (unsigned long long)h->stored_len, HERD_ARTIFACT_MAX_BYTES);
    if (h->meta_len == 0 || h->stored_len == 0 || h->raw_len == 0)
        return hd_error(HERD_ECORRUPT, "artifact header: the %s section is empty",
                        h->meta_len == 0 ? "metadata" : "payload");
    if (!(h->flags & HD_FLAG_ZLIB) &&
        (h->stored_len != h->raw_len || h->stored_crc != h->raw_crc))
        return hd_error(HERD_ECORRUPT,
                        "artifact header: the payload is stored uncompressed but its stored "
                        "and raw lengths or CRCs differ");
    if ((h->flags & HD_FLAG_ZLIB) && h->raw_len / HD_MAX_INFLATE_RATIO > h->stored_len)
        return hd_error(HERD_ECORRUPT,
                        "artifact header: %llu compressed bytes cannot inflate to the %llu "
                        "bytes declared (deflate expands at most %ux)",
                        (unsigned long long)h->stored_len, (unsigned long long)h->raw_len,
                        HD_MAX_INFLATE_RATIO);
    /* Each term is capped, so the sum cannot overflow. */
    uint64_t total = (uint64_t)h->header_len + h->meta_len + h->stored_len;
    if (total > len)
        return hd_error(HERD_ECORRUPT,
                        "artifact truncated: the header declares %llu bytes (header %u + "
                        "metadata %u + payload %llu) but there are %zu",
                        (unsigned long long)total, h->header_len, h->meta_len,
                        (unsigned long long)h->stored_len, len);
    if (total < len)
        return hd_error(HERD_ECORRUPT,
                        "artifact has %llu bytes of garbage after its end at offset %llu",
                        (unsigned long long)(len - total), (unsigned long long)total);
    return HERD_OK;
}

static int hd_section_crc(const char *name, const unsigned char *p, uint64_t off, uint64_t n,
                          uint32_t stored)
{
    uint32_t computed = hd_crc32(p, (size_t)n);
    if (computed == stored) return HERD_OK;
    return hd_error(HERD_ECORRUPT,
                    "artifact %s section (offset %llu, %llu bytes) fails its CRC32 check "
                    "(stored 0x%08X, computed 0x%08X): the artifact is corrupt",
                    name, (unsigned long long)off, (unsigned long long)n, stored, computed);
}

/* ------------------------------------------------------------------------
 * The payload
 * --------------------------------------------------------------------- */

/* Inflate exactly `out_len` bytes from exactly `in_len` bytes: a stream that
 * ends early, would produce more, or leaves input unread is corrupt.  The
 * output buffer is the declared size, so a bomb cannot make us allocate or
 * write more. */
/* zlib's allocations go through herd's, so that they count in the `oom`
 * suite's failure injection like every other allocation of an operation. */
static voidpf hd_zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return hd_malloc(items, size);
}

static void hd_zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

static int hd_inflate(const unsigned char *in, size_t in_len, unsigned char *out,
                      size_t out_len, uint64_t off)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = hd_zalloc;
    zs.zfree = hd_zfree;
    if (inflateInit(&zs) != Z_OK) return hd_oom();
    zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const */
    zs.avail_in = (uInt)in_len;
    zs.next_out = out;
    zs.avail_out = (uInt)out_len;
    int ret = inflate(&zs, Z_FINISH), too_long = 0;
    if ((ret == Z_OK || ret == Z_BUF_ERROR) && zs.avail_out == 0) {
        /* The buffer is full: the stream must end without another byte. */
        unsigned char extra;
        zs.next_out = &extra;
        zs.avail_out = 1;
        ret = inflate(&zs, Z_FINISH);
        too_long = zs.total_out > out_len;
    }
    size_t produced = (size_t)zs.total_out;
    int rc = HERD_OK;
    if (ret == Z_MEM_ERROR)
        rc = hd_oom();
    else if (too_long)
        rc = hd_error(HERD_ECORRUPT,
                      "artifact payload (offset %llu) inflates to more than the %zu bytes "
                      "declared: the artifact is corrupt or a decompression bomb",
                      (unsigned long long)off, out_len);
    else if (ret != Z_STREAM_END)
        rc = hd_error(HERD_ECORRUPT, "artifact payload (offset %llu) is not a valid zlib "
                      "stream: %s",
                      (unsigned long long)off,
                      ret == Z_BUF_ERROR ? "it ends early" : zs.msg ? zs.msg : "invalid data");
    else if (produced != out_len)
        rc = hd_error(HERD_ECORRUPT,
                      "artifact payload (offset %llu) inflates to %zu bytes, fewer than the "
                      "%zu declared",
                      (unsigned long long)off, produced, out_len);
    else if (zs.avail_in != 0)
        rc = hd_error(HERD_ECORRUPT,
                      "artifact payload (offset %llu): %u bytes follow the end of the zlib "
                      "stream",
                      (unsigned long long)off, zs.avail_in);
    inflateEnd(&zs);
    return rc;
}

/* The raw model of a checked blob, verified by its CRC and hd_model_check,
 * and its features by the metadata's (`want`). */
static int hd_payload_read(const unsigned char *b, const hd_header *h,
                           const hd_model_features *want, unsigned char **out,
                           hd_model_info *info)
{
    uint64_t off = (uint64_t)h->header_len + h->meta_len;
    size_t raw_len = (size_t)h->raw_len;
    unsigned char *raw = hd_malloc(raw_len, 1);
    if (!raw) return HERD_ENOMEM;
    int rc = HERD_OK;
    if (h->flags & HD_FLAG_ZLIB) rc = hd_inflate(b + off, (size_t)h->stored_len, raw, raw_len, off);
    else memcpy(raw, b + off, raw_len);
    if (!rc && hd_crc32(raw, raw_len) != h->raw_crc)
        rc = hd_error(HERD_ECORRUPT,
                      "artifact payload (offset %llu) inflates to bytes that fail the raw "
                      "CRC32 check: the artifact is corrupt",
                      (unsigned long long)off);
    if (!rc && (rc = hd_model_check_features(raw, raw_len, want, info)))
        hd_error_prefix("artifact payload (offset %llu): ", (unsigned long long)off);
    if (rc) {
        free(raw);
        return rc;
    }
    *out = raw;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Reading
 * --------------------------------------------------------------------- */

/* The header, its lengths and the three checksums: everything but the
 * metadata's content and the model. */
static int hd_blob_verify(const unsigned char *b, size_t len, hd_header *h)
{
    memset(h, 0, sizeof *h);
    int rc = hd_header_magic_version(b, len, h);
    if (!rc) rc = hd_header_crc(b, len, h);
    if (!rc) rc = hd_header_lengths(b, len, h);
    if (!rc) rc = hd_section_crc("metadata", b + h->header_len, h->header_len, h->meta_len,
                                 h->meta_crc);
    uint64_t payload_off = (uint64_t)h->header_len + h->meta_len;
    if (!rc) rc = hd_section_crc("payload", b + payload_off, payload_off, h->stored_len,
                                 h->stored_crc);
    return rc;
}

int herd_artifact_read(const void *data, size_t len, herd_artifact **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(data);
    const unsigned char *b = data;
    hd_header h;
    int rc = hd_blob_verify(b, len, &h);
    if (rc) return rc;
    herd_artifact *a = hd_calloc(1, sizeof *a);
    if (!a) return HERD_ENOMEM;
    hd_model_info info;
    /* The metadata first: it is small, and most errors show there. */
    rc = hd_meta_parse((const char *)b + h.header_len, h.meta_len, &a->meta);
    hd_model_features want = hd_meta_features_want(&a->meta);
    if (!rc) rc = hd_payload_read(b, &h, &want, &a->model, &info);
    if (!rc) rc = hd_meta_matches_model(&a->meta, &info);
    if (!rc) {
        a->model_len = (size_t)h.raw_len;
        a->num_outputs = hd_meta_num_outputs(&a->meta);
        a->blob = hd_malloc(len, 1);
        a->metadata = hd_strndup((const char *)b + h.header_len, h.meta_len);
        if (!a->blob || !a->metadata) rc = HERD_ENOMEM;
        else memcpy(a->blob, b, len);
        a->blob_len = len;
    }
    if (rc) {
        herd_artifact_free(a);
        return rc;
    }
    *out = a;
    return HERD_OK;
}

int herd_artifact_read_file(const char *path, herd_artifact **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(path);
    if (!*path) return hd_error(HERD_EINVAL, "%s: argument 'path' is empty", __func__);
    void *data = NULL;
    size_t len = 0;
    int rc = hd_file_read_all(path, HERD_ARTIFACT_MAX_BYTES, "artifact", &data, &len);
    if (rc) return rc;
    rc = herd_artifact_read(data, len, out);
    free(data);
    if (rc) hd_error_prefix("%s: ", path);
    return rc;
}

/* ------------------------------------------------------------------------
 * Metadata: writing
 * --------------------------------------------------------------------- */

/* Add `item` to `obj`; on any failure (now or before: *rc) free it. */
static void hd_jadd(int *rc, cJSON *obj, const char *key, cJSON *item)
{
    if (*rc) {
        cJSON_Delete(item);
        return;
    }
    if (!item || !(key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item))) {
        cJSON_Delete(item);
        *rc = hd_oom();
    }
}

static cJSON *hd_jstr(const char *s)
{
    return cJSON_CreateString(s);
}

/* Integers up to 2^53 - 1 as numbers, larger ones as decimal strings. */
static cJSON *hd_juint(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return v <= (uint64_t)HD_META_EXACT_MAX ? cJSON_CreateRaw(buf) : cJSON_CreateString(buf);
}

/* The shortest text that reads back as exactly `v` (cJSON's printer keeps
 * 15 digits when they are "close enough", which changes the value), from
 * the number module (any locale), or the strings "NaN", "Infinity",
 * "-Infinity" (cJSON would print null). */
static cJSON *hd_jdouble(double v)
{
    if (isnan(v)) return cJSON_CreateString("NaN");
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "Infinity" : "-Infinity");
    return cJSON_CreateRaw(HD_NUM_JSON(v));
}

static cJSON *hd_jfeatures(const herd_model *model)
{
    cJSON *arr = cJSON_CreateArray();
    int rc = arr ? HERD_OK : hd_oom();
    for (size_t j = 0; !rc && j < model->nfeat; j++) {
        cJSON *f = cJSON_CreateObject();
        hd_jadd(&rc, f, "name", hd_jstr(model->feature_names[j]));
        hd_jadd(&rc, f, "type", hd_jstr(model->feature_types[j]));
        hd_jadd(&rc, arr, NULL, f);
    }
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

/* The caller's parameters (the last value of a name given twice, as
 * XGBoost applies them), plus the tree_method and max_bin herd chose. */
static cJSON *hd_jparams(const hd_art_input *in)
{
    cJSON *obj = cJSON_CreateObject();
    int rc = obj ? HERD_OK : hd_oom(), has_tree_method = 0, has_max_bin = 0;
    for (size_t i = 0; !rc && i < in->n_params; i++) {
        const char *name = in->param_names[i];
        size_t later = i + 1;
        while (later < in->n_params && strcmp(in->param_names[later], name) != 0) later++;
        if (later < in->n_params) continue;
        if (strcmp(name, "tree_method") == 0) has_tree_method = 1;
        if (strcmp(name, "max_bin") == 0) has_max_bin = 1;
        hd_jadd(&rc, obj, name, hd_jstr(in->param_values[i]));
    }
    if (!rc && in->tree_method && !has_tree_method)
        hd_jadd(&rc, obj, "tree_method", hd_jstr(in->tree_method));
    if (!rc && in->max_bin && !has_max_bin) hd_jadd(&rc, obj, "max_bin", hd_jstr(in->max_bin));
    if (rc) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static cJSON *hd_jmetrics(const hd_art_input *in)
{
    cJSON *obj = cJSON_CreateObject();
    int rc = obj ? HERD_OK : hd_oom();
    for (size_t i = 0; !rc && i < in->n_metrics; i++)
        hd_jadd(&rc, obj, in->metric_names[i], hd_jdouble(in->metric_values[i]));
    if (rc) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static void hd_now_rfc3339(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, size, "1970-01-01T00:00:00Z");
}

/* The metadata tree of `in`, keys in the order docs/format.md lists them. */
static int hd_meta_build(const hd_art_input *in, const hd_model_info *info, cJSON **out)
{
    char created[40], xgb[32], fp[20];
    cJSON *root = cJSON_CreateObject();
    int rc = root ? HERD_OK : hd_oom();
    hd_jadd(&rc, root, "format", hd_jstr(hd_payload_format));
    if (in->family) hd_jadd(&rc, root, "family", hd_jstr(in->family));
    if (in->group) hd_jadd(&rc, root, "group", hd_jstr(in->group));
    hd_jadd(&rc, root, "objective", hd_jstr(in->model->objective));
    hd_jadd(&rc, root, "num_class", hd_juint(info->num_class));
    hd_jadd(&rc, root, "features", hd_jfeatures(in->model));
    hd_jadd(&rc, root, "params", hd_jparams(in));
    hd_jadd(&rc, root, "metrics", hd_jmetrics(in));
    if (in->has_data) {
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)in->fingerprint);
        hd_jadd(&rc, root, "rows", hd_juint(in->rows));
        hd_jadd(&rc, root, "train_rows", hd_juint(in->train_rows));
        hd_jadd(&rc, root, "valid_rows", hd_juint(in->valid_rows));
        hd_jadd(&rc, root, "best_iteration", hd_juint(in->best_iteration));
        hd_jadd(&rc, root, "fingerprint", hd_jstr(fp));
    }
    if (in->run_id) hd_jadd(&rc, root, "run_id", hd_jstr(in->run_id));
    if (in->idempotency_key)
        hd_jadd(&rc, root, "idempotency_key", hd_jstr(in->idempotency_key));
    hd_now_rfc3339(created, sizeof created);
    hd_jadd(&rc, root, "created", hd_jstr(created));
    hd_jadd(&rc, root, "herd_version", hd_jstr(herd_version_string()));
    hd_xgb_version(xgb, sizeof xgb);
    hd_jadd(&rc, root, "xgboost_version", hd_jstr(xgb));
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return HERD_OK;
}

/* The metadata text of `in`, printed in the C locale. */
static int hd_meta_text(const hd_art_input *in, const hd_model_info *info, char **text,
                        size_t *len)
{
    hd_c_locale_scope loc;
    int rc = hd_c_locale_enter(&loc);
    if (rc) return rc;
    cJSON *root = NULL;
    rc = hd_meta_build(in, info, &root);
    char *printed = rc ? NULL : cJSON_PrintUnformatted(root);
    hd_c_locale_leave(&loc);
    cJSON_Delete(root);
    if (rc) return rc;
    if (!printed) return hd_oom();
    /* Own the text with herd's allocator: cJSON's hooks may differ. */
    *len = strlen(printed);
    *text = hd_strndup(printed, *len);
    cJSON_free(printed);
    if (!*text) return HERD_ENOMEM;
    if (*len > HERD_ARTIFACT_MAX_METADATA) {
        free(*text);
        *text = NULL;
        return hd_error(HERD_ELIMIT, "the artifact's metadata would be %zu bytes; the limit "
                        "is %u bytes", *len, HERD_ARTIFACT_MAX_METADATA);
    }
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Writing
 * --------------------------------------------------------------------- */

/* Deflate `raw` into `out` (capacity `cap`); *n receives the stored size. */
static int hd_deflate(const unsigned char *raw, size_t raw_len, int level, unsigned char *out,
                      size_t cap, size_t *n)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = hd_zalloc;
    zs.zfree = hd_zfree;
    if (deflateInit(&zs, level) != Z_OK) return hd_oom();
    zs.next_in = (Bytef *)(uintptr_t)raw;
    zs.avail_in = (uInt)raw_len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int ret = deflate(&zs, Z_FINISH);
    *n = zs.total_out;
    deflateEnd(&zs);
    if (ret == Z_MEM_ERROR) return hd_oom();
    if (ret != Z_STREAM_END)
        return hd_error(HERD_EINTERNAL, "zlib deflate failed (%d) on %zu bytes", ret, raw_len);
    return HERD_OK;
}

static void hd_header_write(unsigned char *b, const hd_header *h)
{
    memset(b, 0, h->header_len);
    memcpy(b, hd_magic, sizeof hd_magic);
    hd_wr16(b + HD_OFF_MAJOR, (uint16_t)h->major);
    hd_wr16(b + HD_OFF_MINOR, (uint16_t)h->minor);
    hd_wr32(b + HD_OFF_FLAGS, h->flags);
    hd_wr32(b + HD_OFF_HEADER_LEN, h->header_len);
    hd_wr32(b + HD_OFF_META_LEN, h->meta_len);
    hd_wr64(b + HD_OFF_STORED_LEN, h->stored_len);
    hd_wr64(b + HD_OFF_RAW_LEN, h->raw_len);
    hd_wr32(b + HD_OFF_META_CRC, h->meta_crc);
    hd_wr32(b + HD_OFF_STORED_CRC, h->stored_crc);
    hd_wr32(b + HD_OFF_RAW_CRC, h->raw_crc);
    hd_wr32(b + h->header_len - 4, hd_crc32(b, h->header_len - 4));
}

/* Header + metadata + payload (compressed at `level`, stored at 0). */
static int hd_blob_build(const char *meta, size_t meta_len, const unsigned char *raw,
                         size_t raw_len, int level, unsigned char **out, size_t *out_len)
{
    hd_header h = {HERD_ARTIFACT_FORMAT_MAJOR, HERD_ARTIFACT_FORMAT_MINOR,
                   level ? HD_FLAG_ZLIB : 0, HD_HEADER_LEN_1_0, (uint32_t)meta_len, 0,
                   raw_len, 0, 0, 0};
    size_t cap = level ? (size_t)compressBound((uLong)raw_len) : raw_len;
    size_t off = HD_HEADER_LEN_1_0 + meta_len, stored = raw_len;
    unsigned char *b = hd_malloc(off + cap, 1);
    if (!b) return HERD_ENOMEM;
    memcpy(b + HD_HEADER_LEN_1_0, meta, meta_len);
    int rc = HERD_OK;
    if (level) rc = hd_deflate(raw, raw_len, level, b + off, cap, &stored);
    else memcpy(b + off, raw, raw_len);
    if (!rc && off + stored > HERD_ARTIFACT_MAX_BYTES)
        rc = hd_error(HERD_ELIMIT, "the artifact would be %zu bytes; the limit is %u bytes",
                      off + stored, HERD_ARTIFACT_MAX_BYTES);
    if (rc) {
        free(b);
        return rc;
    }
    h.stored_len = stored;
    h.meta_crc = hd_crc32(meta, meta_len);
    h.stored_crc = hd_crc32(b + off, stored);
    h.raw_crc = level ? hd_crc32(raw, raw_len) : h.stored_crc;
    hd_header_write(b, &h);
    /* Give back the bound's slack.  Plain realloc: shrinking may fail
     * harmlessly (b stays valid), and hd_realloc would record an error. */
    unsigned char *fit = realloc(b, off + stored);
    *out = fit ? fit : b;
    *out_len = off + stored;
    return HERD_OK;
}

/* Build the artifact of `in`: check the model, print the metadata and read
 * it back with the reader's parser, compress. */
int hd_artifact_build(const hd_art_input *in, herd_artifact **out)
{
    const herd_model *model = in->model;
    if (model->len > HERD_ARTIFACT_MAX_MODEL)
        return hd_error(HERD_ELIMIT, "the model is %zu bytes; artifacts hold models up to %u "
                        "bytes", model->len, HERD_ARTIFACT_MAX_MODEL);
    hd_model_info info;
    hd_model_features want = {.what = "the model's feature list",
                              .names = (const char *const *)model->feature_names,
                              .types = (const char *const *)model->feature_types,
                              .n = model->nfeat, .required = 1};
    int rc = hd_features_check(want.names, want.types, want.n, "the model's features");
    if (!rc) rc = hd_model_check_features(model->ubj, model->len, &want, &info);
    if (rc) return hd_error_prefix("the model cannot be packaged: ");
    herd_artifact *a = hd_calloc(1, sizeof *a);
    if (!a) return HERD_ENOMEM;
    size_t meta_len = 0;
    rc = hd_meta_text(in, &info, &a->metadata, &meta_len);
    if (!rc && (rc = hd_meta_parse(a->metadata, meta_len, &a->meta)))
        hd_error_prefix("the model cannot be packaged: ");
    if (!rc && (rc = hd_meta_matches_model(&a->meta, &info)))
        hd_error_prefix("the model cannot be packaged: ");
    if (!rc) {
        a->model = hd_malloc(model->len, 1);
        if (!a->model) rc = HERD_ENOMEM;
        else memcpy(a->model, model->ubj, model->len);
        a->model_len = model->len;
        a->num_outputs = hd_meta_num_outputs(&a->meta);
    }
    if (!rc)
        rc = hd_blob_build(a->metadata, meta_len, model->ubj, model->len, in->level, &a->blob,
                           &a->blob_len);
    if (rc) {
        herd_artifact_free(a);
        return rc;
    }
    *out = a;
    return HERD_OK;
}

/* The caller's options over the defaults, validated. */
int hd_art_options_read(const herd_artifact_options *in, const char *fn,
                        herd_artifact_options *o)
{
    int rc = hd_options_read(&hd_artifact_options_desc, in, o, fn);
    if (rc) return rc;
    if (o->compression_level == -1) o->compression_level = HD_DEFAULT_LEVEL;
    if (o->family && hd_name_check(o->family, HERD_NAME_MAX, "opt->family"))
        return hd_error_prefix("%s: ", fn);
    if (o->run_id && hd_name_check(o->run_id, HERD_NAME_MAX, "opt->run_id"))
        return hd_error_prefix("%s: ", fn);
    size_t bad = 0, klen = o->idempotency_key ? strlen(o->idempotency_key) : 0;
    if (o->idempotency_key && (!klen || klen > HD_META_MAX_IDEM ||
                               !hd_utf8_valid(o->idempotency_key, klen, &bad)))
        return hd_error(HERD_EINVAL, "%s: opt->idempotency_key is %s; give 1..%u bytes of "
                        "valid UTF-8", fn, !klen ? "empty" : klen > HD_META_MAX_IDEM ?
                        "too long" : "not valid UTF-8", HD_META_MAX_IDEM);
    for (size_t i = 0; i < klen; i++)
        if ((unsigned char)o->idempotency_key[i] < 0x20 || o->idempotency_key[i] == 0x7F)
            return hd_error(HERD_EINVAL, "%s: opt->idempotency_key contains a control "
                            "character at byte %zu", fn, i);
    size_t glen = o->group ? strlen(o->group) : 0;
    if (o->group && (glen > HD_META_MAX_TEXT || !hd_utf8_valid(o->group, glen, &bad)))
        return hd_error(HERD_EINVAL,
                        "%s: opt->group is %s; give valid UTF-8 of at most %u bytes", fn,
                        glen > HD_META_MAX_TEXT ? "too long" : "not valid UTF-8",
                        HD_META_MAX_TEXT);
    return HERD_OK;
}

int herd_artifact_from_model(const herd_model *model, const herd_artifact_options *opt,
                             herd_artifact **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(model);
    herd_artifact_options o;
    int rc = hd_art_options_read(opt, __func__, &o);
    if (rc) return rc;
    hd_art_input in = {.model = model, .family = o.family, .group = o.group,
                       .run_id = o.run_id, .idempotency_key = o.idempotency_key,
                       .level = o.compression_level};
    return hd_artifact_build(&in, out);
}

int herd_artifact_to_buffer(const herd_artifact *artifact, void **data, size_t *len)
{
    HD_CHECK_NOT_NULL(data);
    *data = NULL;
    HD_CHECK_NOT_NULL(len);
    *len = 0;
    HD_CHECK_NOT_NULL(artifact);
    void *copy = hd_malloc(artifact->blob_len, 1);
    if (!copy) return HERD_ENOMEM;
    memcpy(copy, artifact->blob, artifact->blob_len);
    *data = copy;
    *len = artifact->blob_len;
    return HERD_OK;
}

int herd_artifact_write_file(const herd_artifact *artifact, const char *path)
{
    HD_CHECK_NOT_NULL(artifact);
    HD_CHECK_NOT_NULL(path);
    if (!*path) return hd_error(HERD_EINVAL, "%s: argument 'path' is empty", __func__);
    return hd_file_write_atomic(path, artifact->blob, artifact->blob_len, "artifact");
}

/* ------------------------------------------------------------------------
 * Accessors
 * --------------------------------------------------------------------- */

/* "family, group, ..." : the string fields herd_artifact_get reads. */
static void hd_string_fields(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof hd_meta_keys / sizeof *hd_meta_keys; i++) {
        const hd_meta_key *k = &hd_meta_keys[i];
        if (k->kind == HD_K_UINT || k->kind >= HD_K_FEATURES) continue;
        int n = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", k->name);
        if (n < 0 || (size_t)n >= size - o) break;
        o += (size_t)n;
    }
}

int herd_artifact_get(const herd_artifact *artifact, const char *field, const char **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(artifact);
    HD_CHECK_NOT_NULL(field);
    const hd_meta_key *k = hd_meta_key_find(field);
    if (!k || k->kind == HD_K_UINT || k->kind >= HD_K_FEATURES) {
        char list[256];
        hd_string_fields(list, sizeof list);
        return hd_error(k ? HERD_ETYPE : HERD_EINVAL,
                        "%s: '%s' is not a string field of the metadata; they are: %s%s",
                        __func__, field, list,
                        k ? " (read the others from herd_artifact_metadata's JSON)" : "");
    }
    *out = artifact->meta.str[k->slot];
    return *out ? HERD_OK : HERD_MISSING;
}

const char *herd_artifact_metadata(const herd_artifact *artifact)
{
    return artifact ? artifact->metadata : NULL; /* the last error stays as it is */
}

int herd_artifact_metric(const herd_artifact *artifact, const char *name, double *value)
{
    HD_CHECK_NOT_NULL(artifact);
    HD_CHECK_NOT_NULL(name);
    HD_CHECK_NOT_NULL(value);
    const cJSON *metrics = artifact->meta.metrics;
    const cJSON *v = metrics ? cJSON_GetObjectItemCaseSensitive(metrics, name) : NULL;
    if (v && hd_metric_value(v, value)) return HERD_OK;
    *value = NAN; /* not recorded: missing, as a metric the fit never computed */
    return HERD_MISSING;
}

int herd_artifact_model(const herd_artifact *artifact, herd_model **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(artifact);
    const hd_meta *m = &artifact->meta;
    return hd_model_new(artifact->model, artifact->model_len, m->fnames, m->ftypes, m->nfeat,
                        m->str[HD_S_OBJECTIVE], artifact->num_outputs, out);
}

int hd_artifact_into_model(herd_artifact *a, herd_model **out)
{
    *out = NULL;
    if (!a) return HERD_OK;
    const hd_meta *m = &a->meta;
    unsigned char *ubj = a->model;
    a->model = NULL; /* the model's now, freed with it or by hd_model_adopt */
    int rc = hd_model_adopt(ubj, a->model_len, m->fnames, m->ftypes, m->nfeat,
                            m->str[HD_S_OBJECTIVE], a->num_outputs, out);
    herd_artifact_free(a);
    return rc;
}

/* ------------------------------------------------------------------------
 * For the registry (artifact_internal.h)
 * --------------------------------------------------------------------- */

static const char *hd_info_dup(hd_arena *ar, const char *s, int *oom)
{
    if (!s) return NULL;
    const char *d = hd_arena_strndup(ar, s, strlen(s));
    if (!d) *oom = 1;
    return d;
}

static int hd_info_from_meta(const hd_meta *m, hd_artifact_info *out)
{
    memset(out, 0, sizeof *out);
    if (!(out->arena = hd_arena_new())) return HERD_ENOMEM;
    int oom = 0;
    out->family = hd_info_dup(out->arena, m->str[HD_S_FAMILY], &oom);
    out->group = hd_info_dup(out->arena, m->str[HD_S_GROUP], &oom);
    out->run_id = hd_info_dup(out->arena, m->str[HD_S_RUN_ID], &oom);
    out->idempotency_key = hd_info_dup(out->arena, m->str[HD_S_IDEMPOTENCY_KEY], &oom);
    out->created = hd_info_dup(out->arena, m->str[HD_S_CREATED], &oom);
    out->fingerprint = hd_info_dup(out->arena, m->str[HD_S_FINGERPRINT], &oom);
    size_t n = 0;
    for (const cJSON *c = m->metrics ? m->metrics->child : NULL; c; c = c->next) n++;
    if (n) {
        out->metric_names = hd_arena_alloc(out->arena, n * sizeof *out->metric_names);
        out->metric_values = hd_arena_alloc(out->arena, n * sizeof *out->metric_values);
        if (!out->metric_names || !out->metric_values) oom = 1;
    }
    for (const cJSON *c = n && !oom ? m->metrics->child : NULL; c; c = c->next) {
        double v = NAN;
        (void)hd_metric_value(c, &v); /* checked when the metadata was parsed */
        out->metric_names[out->nmetrics] = hd_info_dup(out->arena, c->string, &oom);
        out->metric_values[out->nmetrics++] = v;
    }
    if (oom) {
        hd_artifact_info_free(out);
        return hd_oom();
    }
    return HERD_OK;
}

int hd_artifact_info_get(const herd_artifact *a, hd_artifact_info *out)
{
    return hd_info_from_meta(&a->meta, out);
}

/* The model of a checked blob, inflated, validated and compared with its
 * metadata as herd_artifact_read does, then dropped: at most the model's
 * raw size is held (HERD_ARTIFACT_MAX_BYTES bounds it). */
static int hd_model_verify(const unsigned char *b, const hd_header *h, const hd_meta *m)
{
    hd_model_features want = hd_meta_features_want(m);
    unsigned char *raw = NULL;
    hd_model_info info;
    int rc = hd_payload_read(b, h, &want, &raw, &info);
    if (!rc) rc = hd_meta_matches_model(m, &info);
    free(raw);
    return rc;
}

/* The blob's header, checksums and metadata; then the metadata's summary
 * into `out` (unless NULL) and, with `model`, the model (hd_model_verify):
 * one pass over the bytes whatever is asked. */
static int hd_blob_check(const void *data, size_t len, hd_artifact_info *out, int model)
{
    const unsigned char *b = data;
    hd_header h;
    int rc = hd_blob_verify(b, len, &h);
    if (rc) return rc;
    hd_meta m;
    memset(&m, 0, sizeof m);
    rc = hd_meta_parse((const char *)b + h.header_len, h.meta_len, &m);
    if (!rc && out) rc = hd_info_from_meta(&m, out);
    if (!rc && model) rc = hd_model_verify(b, &h, &m);
    hd_meta_free(&m);
    return rc;
}

int hd_artifact_check_bytes(const void *data, size_t len, hd_artifact_info *out)
{
    memset(out, 0, sizeof *out);
    return hd_blob_check(data, len, out, 0);
}

int hd_artifact_check_model(const void *data, size_t len, hd_artifact_info *out)
{
    if (out) memset(out, 0, sizeof *out);
    return hd_blob_check(data, len, out, 1);
}

void hd_artifact_info_free(hd_artifact_info *info)
{
    if (!info) return;
    hd_arena_free(info->arena);
    memset(info, 0, sizeof *info);
}

const unsigned char *hd_artifact_bytes(const herd_artifact *a, size_t *len)
{
    *len = a->blob_len;
    return a->blob;
}
