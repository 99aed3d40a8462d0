/* crash_common.h -- helpers shared by the `crash` suite: scratch
 * directories, file copies, fixture artifacts (made from the committed
 * models of tests/data/models, so no test trains with XGBoost), batches of
 * tagged versions, and a snapshot of a registry (every version with its
 * tags) with the invariants every test checks: version numbers per group
 * exactly 1..n, each batch all or nothing.
 *
 * The functions here never call cmocka asserts (forked children use them
 * too): they return 0 / a herd status and describe a failure in a caller
 * buffer.  The CR_OK / CR_RC macros are cmocka assertions, for the tests.
 * Include after <cmocka.h>. */
#ifndef HERD_TEST_CRASH_COMMON_H
#define HERD_TEST_CRASH_COMMON_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "herd.h"

/* assert rc == want, printing the library's message when it is not */
#define CR_OK(expr)                                                                   \
    do {                                                                              \
        int cr_rc_ = (expr);                                                          \
        if (cr_rc_ != HERD_OK)                                                        \
            fail_msg("%s: %s (%s)", #expr, herd_status_str(cr_rc_), herd_last_error()); \
    } while (0)

#define CR_RC(expr, want)                                                                  \
    do {                                                                                   \
        int cr_rc_ = (expr);                                                               \
        if (cr_rc_ != (want))                                                              \
            fail_msg("%s: got %s, want %s (%s)", #expr, herd_status_str(cr_rc_),           \
                     herd_status_str(want), herd_last_error());                            \
    } while (0)

/* snprintf whose truncation is acceptable (messages, long scratch paths
 * are not expected): using the result keeps -Wformat-truncation quiet. */
#define CR_SNPRINTF(buf, cap, ...)                                 \
    do {                                                           \
        if (snprintf((buf), (cap), __VA_ARGS__) < 0) (buf)[0] = 0; \
    } while (0)

static inline double cr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A small deterministic PRNG (splitmix64), so that plans are a pure
 * function of their seed. */
static inline uint64_t cr_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- scratch directories and files -------------------------------------- */

/* A new directory $TMPDIR/herd_<tag>_XXXXXX (or under /tmp). */
static inline int cr_mkdtemp(char *out, size_t cap, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    int n = snprintf(out, cap, "%s/herd_%s_XXXXXX", tmp, tag);
    if (n < 0 || (size_t)n >= cap) return -1;
    return mkdtemp(out) ? 0 : -1;
}

/* rm -rf */
static inline int cr_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st)) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        CR_SNPRINTF(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (cr_rmtree(sub)) rc = -1;
    }
    closedir(d);
    if (rmdir(path)) rc = -1;
    return rc;
}

/* Read a whole file; *data is malloc'd (NUL-terminated beyond len). */
static inline int cr_read_file(const char *path, unsigned char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    unsigned char *p = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            unsigned char *q = realloc(p, cap + 1);
            if (!q) {
                free(p);
                fclose(f);
                return -1;
            }
            p = q;
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(p);
        return -1;
    }
    p[n] = 0;
    *data = p;
    *len = n;
    return 0;
}

static inline int cr_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    return put == len && rc == 0 ? 0 : -1;
}

static inline int cr_append_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "ab");
    if (!f) return -1;
    size_t put = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return put == len && rc == 0 ? 0 : -1;
}

static inline int64_t cr_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st)) return -1;
    return (int64_t)st.st_size;
}

/* cp -r src dst (dst must not exist). */
static inline int cr_copytree(const char *src, const char *dst)
{
    struct stat st;
    if (lstat(src, &st)) return -1;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0777)) return -1;
        DIR *d = opendir(src);
        if (!d) return -1;
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char a[4096], b[4096];
            CR_SNPRINTF(a, sizeof a, "%s/%s", src, e->d_name);
            CR_SNPRINTF(b, sizeof b, "%s/%s", dst, e->d_name);
            if (cr_copytree(a, b)) rc = -1;
        }
        closedir(d);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) return 0; /* sockets, fifos: none expected */
    unsigned char *p;
    size_t n;
    if (cr_read_file(src, &p, &n)) return -1;
    int rc = cr_write_file(dst, p, n);
    free(p);
    return rc;
}

/* Flip (xor 0xFF) the byte at `off` of `path`. */
static inline int cr_flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) return -1;
    unsigned char c;
    int rc = -1;
    if (pread(fd, &c, 1, (off_t)off) == 1) {
        c ^= 0xFF;
        if (pwrite(fd, &c, 1, (off_t)off) == 1) rc = 0;
    }
    close(fd);
    return rc;
}

/* Names of the directory's entries starting with `prefix`, sorted; returns
 * the count (at most max), -1 when the directory cannot be read. */
static inline int cr_cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static inline int cr_list_prefix(const char *dir, const char *prefix, char names[][64],
                                 int max)
{
    DIR *d = opendir(dir);
    /* a directory not made yet (a child killed before it created the
     * registry) holds no such file */
    if (!d) return errno == ENOENT ? 0 : -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && n < max &&
            strlen(e->d_name) < 64)
            snprintf(names[n++], 64, "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, 64, cr_cmp_name);
    return n;
}

/* ---- fixture artifacts ---------------------------------------------------- */

/* The committed XGBoost models (tests/data/models): small, varied. */
#define CR_NMODELS 5
static const char *const cr_model_files[CR_NMODELS] = {"reg3.ubj", "tiny.ubj", "dart.ubj",
                                                       "pruned.ubj", "multiclass.ubj"};

typedef struct cr_models {
    herd_model *model[CR_NMODELS];
    void *ubj[CR_NMODELS]; /* herd_model_save(UBJSON): to compare loaded artifacts */
    size_t ubj_len[CR_NMODELS];
} cr_models;

static inline int cr_models_load(cr_models *m, char *err, size_t cap)
{
    memset(m, 0, sizeof *m);
    const char *src = getenv("HERD_TEST_SOURCE_DIR");
    if (!src) {
        snprintf(err, cap, "HERD_TEST_SOURCE_DIR is not set (run through meson test)");
        return -1;
    }
    for (int i = 0; i < CR_NMODELS; i++) {
        char path[4096];
        CR_SNPRINTF(path, sizeof path, "%s/tests/data/models/%s", src, cr_model_files[i]);
        unsigned char *data;
        size_t len;
        if (cr_read_file(path, &data, &len)) {
            CR_SNPRINTF(err, cap, "cannot read %s", path);
            return -1;
        }
        int rc = herd_model_load(data, len, &m->model[i]);
        free(data);
        if (!rc) rc = herd_model_save(m->model[i], HERD_MODEL_UBJSON, &m->ubj[i], &m->ubj_len[i]);
        if (rc) {
            CR_SNPRINTF(err, cap, "%s: %s", path, herd_last_error());
            return -1;
        }
    }
    return 0;
}

static inline void cr_models_free(cr_models *m)
{
    for (int i = 0; i < CR_NMODELS; i++) {
        herd_model_free(m->model[i]);
        herd_free(m->ubj[i]);
    }
    memset(m, 0, sizeof *m);
}

/* A serialised artifact of model `mi` whose metadata group is `label`
 * (distinct labels give distinct bytes).  *data is freed with herd_free. */
static inline int cr_blob(const cr_models *m, int mi, const char *label, void **data,
                          size_t *len)
{
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = "fixture";
    ao.group = label;
    herd_artifact *a = NULL;
    int rc = herd_artifact_from_model(m->model[mi], &ao, &a);
    if (!rc) rc = herd_artifact_to_buffer(a, data, len);
    herd_artifact_free(a);
    return rc;
}

/* Whether artifact `a` holds model `mi` (byte-identical UBJSON). */
static inline int cr_artifact_is_model(const cr_models *m, const herd_artifact *a, int mi)
{
    herd_model *model = NULL;
    void *ubj = NULL;
    size_t len = 0;
    int same = 0;
    if (!herd_artifact_model(a, &model) &&
        !herd_model_save(model, HERD_MODEL_UBJSON, &ubj, &len))
        same = len == m->ubj_len[mi] && !memcmp(ubj, m->ubj[mi], len);
    herd_free(ubj);
    herd_model_free(model);
    return same;
}

/* ---- adding tagged versions ----------------------------------------------- */

/* Add one version of (family, group) holding `blob`, tagged
 * batch=<batch>, item=<item> and, when proc >= 0, proc=<proc>. */
static inline int cr_add(herd_batch *b, const void *blob, size_t len, const char *family,
                         const char *group, long proc, long batch, long item, const char *idem,
                         const char *alias, size_t *index)
{
    char sb[32], si[32], sp[32];
    snprintf(sb, sizeof sb, "%ld", batch);
    snprintf(si, sizeof si, "%ld", item);
    snprintf(sp, sizeof sp, "%ld", proc);
    const char *names[3] = {"batch", "item", "proc"};
    const char *values[3] = {sb, si, sp};
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = family;
    vo.group = group;
    vo.idempotency_key = idem;
    vo.alias = alias;
    vo.tag_names = names;
    vo.tag_values = values;
    vo.n_tags = proc >= 0 ? 3 : 2;
    return herd_batch_add_bytes(b, blob, len, &vo, index);
}

/* ---- a snapshot of a registry ---------------------------------------------- */

typedef struct cr_row {
    char family[48];
    char group[64];
    int64_t version;
    int archived;
    long batch, item, proc; /* from the tags; -1 when absent */
    char idem[96];          /* "" when none */
    char aliases[128];
} cr_row;

typedef struct cr_snap {
    cr_row *rows;
    size_t n;
} cr_snap;

static inline void cr_snap_free(cr_snap *s)
{
    free(s->rows);
    s->rows = NULL;
    s->n = 0;
}

static inline long cr_tag_long(const cJSON *tags, const char *name)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(tags, name);
    if (cJSON_IsString(t) && t->valuestring[0]) return strtol(t->valuestring, NULL, 10);
    if (cJSON_IsNumber(t)) return (long)t->valuedouble;
    return -1;
}

static inline const char *cr_cell(const herd_frame *f, const char *col, size_t r)
{
    size_t c;
    const char *s = NULL;
    if (herd_frame_find(f, col, &c) || herd_frame_get_string(f, c, r, &s)) return NULL;
    return s;
}

/* Every version (archived too) with its tags.  Returns a herd status; on
 * failure herd_last_error() says why (or err, for a malformed frame). */
static inline int cr_snap_take(herd_registry *reg, cr_snap *s, char *err, size_t cap)
{
    s->rows = NULL;
    s->n = 0;
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.include_archived = 1;
    herd_frame *f = NULL;
    int rc = herd_registry_search(reg, &so, &f);
    if (rc) {
        snprintf(err, cap, "herd_registry_search: %s (%s)", herd_status_str(rc),
                 herd_last_error());
        return rc;
    }
    size_t n = herd_frame_row_count(f), cv;
    if (herd_frame_find(f, "version", &cv)) {
        snprintf(err, cap, "search frame has no version column");
        herd_frame_free(f);
        return HERD_EINTERNAL;
    }
    s->rows = calloc(n ? n : 1, sizeof *s->rows);
    for (size_t r = 0; r < n; r++) {
        cr_row *w = &s->rows[r];
        const char *fam = cr_cell(f, "family", r), *grp = cr_cell(f, "group", r);
        const char *st = cr_cell(f, "status", r), *tags = cr_cell(f, "tags", r);
        const char *idem = cr_cell(f, "idempotency_key", r), *al = cr_cell(f, "aliases", r);
        snprintf(w->family, sizeof w->family, "%s", fam ? fam : "?");
        snprintf(w->group, sizeof w->group, "%s", grp ? grp : "?");
        snprintf(w->idem, sizeof w->idem, "%s", idem ? idem : "");
        snprintf(w->aliases, sizeof w->aliases, "%s", al ? al : "");
        w->archived = st && !strcmp(st, "archived");
        herd_frame_get_int64(f, cv, r, &w->version);
        w->batch = w->item = w->proc = -1;
        cJSON *j = tags ? cJSON_Parse(tags) : NULL;
        if (j) {
            w->batch = cr_tag_long(j, "batch");
            w->item = cr_tag_long(j, "item");
            w->proc = cr_tag_long(j, "proc");
            cJSON_Delete(j);
        }
    }
    s->n = n;
    herd_frame_free(f);
    return HERD_OK;
}

static inline int cr_row_cmp(const void *a, const void *b)
{
    const cr_row *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    if (!c) c = strcmp(x->group, y->group);
    if (!c) c = (x->version > y->version) - (x->version < y->version);
    return c;
}

/* Versions of every (family, group) are exactly 1..n: unique and gapless.
 * Sorts the snapshot.  0, or -1 with a description. */
static inline int cr_check_gapless(cr_snap *s, char *err, size_t cap)
{
    qsort(s->rows, s->n, sizeof *s->rows, cr_row_cmp);
    for (size_t i = 0; i < s->n; i++) {
        const cr_row *w = &s->rows[i];
        int first = i == 0 || strcmp(w->family, s->rows[i - 1].family) ||
                    strcmp(w->group, s->rows[i - 1].group);
        int64_t want = first ? 1 : s->rows[i - 1].version + 1;
        if (w->version != want) {
            snprintf(err, cap, "%s/%s: version %" PRId64 " where %" PRId64 " was expected "
                     "(versions per group must be 1..n, unique and gapless)",
                     w->family, w->group, w->version, want);
            return -1;
        }
    }
    return 0;
}

/* The rows tagged batch=<batch> (and proc=<proc> when proc >= 0). */
static inline size_t cr_snap_batch(const cr_snap *s, long proc, long batch, const cr_row **out,
                                   size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].batch == batch && (proc < 0 || s->rows[i].proc == proc)) {
            if (n < max) out[n] = &s->rows[i];
            n++;
        }
    return n;
}

/* The row of (batch, item), or NULL. */
static inline const cr_row *cr_snap_item(const cr_snap *s, long proc, long batch, long item)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].batch == batch && s->rows[i].item == item &&
            (proc < 0 || s->rows[i].proc == proc))
            return &s->rows[i];
    return NULL;
}

/* Lower-cased copy contains `needle` (lower case). */
static inline int cr_icontains(const char *hay, const char *needle)
{
    size_t n = strlen(hay);
    char *low = malloc(n + 1);
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)hay[i]);
    int r = strstr(low, needle) != NULL;
    free(low);
    return r;
}

#endif
