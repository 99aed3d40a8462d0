/* fuzz_registry.c -- libFuzzer target for every file of a registry: the
 * format file (HERD-REGISTRY), the journal's records, the index and the
 * pack entries, read by the registry itself on the simulated filesystem
 * (tests/support/vfs_sim.h), so that no input touches a real disk.
 *
 * At start-up a small registry is built on a sim: two families, versions
 * with tags, metrics and runs, alias moves, an archive, an index
 * checkpoint, and a commit after it (so opening reads the index and then
 * replays the journal's tail).  Each input damages one of its files:
 *
 *   byte 0, bits 0-1  the file: 0 HERD-REGISTRY, 1 journal, 2 index, 3 pack
 *   byte 0, bit 2     recompute the file's checksums after the damage, so
 *                     that it reaches the parsers behind them
 *   byte 0, bit 3     the rest of the input IS the file; otherwise the rest
 *                     is a list of edits of the built file, each
 *                       kind (1), offset (2, LE, modulo the file's size),
 *                       length (1), and for kind % 3 == 0 that many bytes
 *                       written over it, 1 the file cut at the offset,
 *                       2 that many bytes inserted (the next ones)
 *   byte 0, bit 4     after reading, open it for writing and commit
 *
 * Then the registry is opened read-only (bit 5: with allow_damaged),
 * checked (deep: every stored model validated), listed (families,
 * groups, versions, search, history, runs) and
 * every version loaded.  Any damage may be refused; none may crash, hang,
 * leak or give a failure without a message.  A commit that succeeds on a
 * damaged registry must be readable by the next open. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "herd.h"
#include "artifact_repair.h"
#include "registry/registry_internal.h"
#include "vfs_sim.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REG "/reg"
#define NFILES 4
static const char *const file_names[NFILES] = {"HERD-REGISTRY", "journal", "index",
                                                "pack-000001"};

/* The built registry: each file's bytes, and one artifact to commit. */
static struct {
    uint8_t *data[NFILES];
    size_t len[NFILES];
    void *artifact;
    size_t artifact_len;
} base;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_registry: %s: %s\n", what, herd_last_error());
    abort();
}

/* ---- building the registry once --------------------------------------- */

/* An artifact of family `family`, group `group` whose model predicts
 * `value` everywhere: one round, eta 0, base_score value. */
static void *const_artifact(const char *family, const char *group, double value, size_t *len)
{
    double x[8], y[8];
    const char *g[8];
    for (int i = 0; i < 8; i++) {
        x[i] = i;
        y[i] = i % 3;
        g[i] = group;
    }
    herd_frame *f = NULL;
    if (herd_frame_new(&f) || herd_frame_add_column(f, "x", HERD_TYPE_FLOAT64, x, 8, NULL) ||
        herd_frame_add_column(f, "y", HERD_TYPE_FLOAT64, y, 8, NULL) ||
        herd_frame_add_column(f, "g", HERD_TYPE_STRING, g, 8, NULL))
        die("frame");
    const char *keys[] = {"g"};
    herd_groups *gr = NULL;
    if (herd_groups_new(f, keys, 1, &gr)) die("groups");
    char bs[32];
    snprintf(bs, sizeof bs, "%g", value);
    const char *features[] = {"x"}, *pn[] = {"eta", "base_score"}, *pv[] = {"0", bs};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = features;
    fo.n_features = 1;
    fo.label = "y";
    fo.rounds = 1;
    fo.valid_fraction = 0;
    fo.min_rows = 2;
    fo.param_names = pn;
    fo.param_values = pv;
    fo.n_params = 2;
    herd_apply_options ap;
    herd_apply_options_init(&ap, HERD_APPLY_OPTIONS_VERSION);
    ap.threads = 1;
    herd_fit_result *res = NULL;
    if (herd_fit(gr, &fo, &ap, &res)) die("fit");
    herd_artifact_options ao;
    herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
    ao.family = family;
    ao.group = group;
    herd_artifact *a = NULL;
    if (herd_fit_result_artifact(res, group, &ao, &a)) die("artifact");
    void *buf = NULL;
    if (herd_artifact_to_buffer(a, &buf, len)) die("to_buffer");
    herd_artifact_free(a);
    herd_fit_result_free(res);
    herd_groups_free(gr);
    herd_frame_free(f);
    return buf;
}

static void add(herd_batch *b, const char *family, const char *group, const char *alias,
                const char *tag)
{
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = family;
    vo.group = group;
    vo.alias = alias;
    const char *tn[] = {"note"}, *tv[] = {tag};
    const char *mn[] = {"auc"};
    const double mv[] = {0.75};
    vo.tag_names = tn;
    vo.tag_values = tv;
    vo.n_tags = tag ? 1 : 0;
    vo.metric_names = mn;
    vo.metric_values = mv;
    vo.n_metrics = 1;
    vo.idempotency_key = tag;
    if (herd_batch_add_bytes(b, base.artifact, base.artifact_len, &vo, NULL)) die("add");
}

static void build_registry(hd_vfs_sim *sim)
{
    herd_registry *reg = NULL;
    if (hd_registry_open_vfs(hd_vfs_sim_vfs(sim), REG, NULL, &reg)) die("create");
    hd_registry_set_checkpoint_every(reg, 6); /* an index after the second commit */
    herd_batch *b = NULL;
    if (herd_registry_begin(reg, &b)) die("begin");
    add(b, "demand", "DE/Berlin", "champion", "first");
    add(b, "demand", "FR", "champion", NULL);
    add(b, "price", "g0", NULL, "p");
    if (herd_batch_set_run(b, "run-1", "{\"rounds\":1}", "{\"groups\":3}")) die("run");
    if (herd_batch_commit(b)) die("commit 1");
    herd_batch_free(b);
    if (herd_registry_begin(reg, &b)) die("begin");
    add(b, "demand", "DE/Berlin", "challenger", "second");
    add(b, "demand", "FR", NULL, NULL);
    herd_alias_options ao;
    herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
    ao.reason = "better";
    ao.details = "{\"rmse\":[1,0.5]}";
    if (herd_batch_set_alias(b, "demand", "FR", "champion", 1, &ao)) die("alias");
    if (herd_batch_commit(b)) die("commit 2");
    herd_batch_free(b);
    if (herd_registry_begin(reg, &b)) die("begin");
    add(b, "price", "g0", "champion", NULL);
    if (herd_batch_archive(b, "demand", "FR", 2, "replaced")) die("archive");
    if (herd_batch_commit(b)) die("commit 3");
    herd_batch_free(b);
    herd_registry_free(reg);
}

/* Read a whole file of the sim. */
static uint8_t *sim_read(const hd_vfs *v, const char *path, size_t *len)
{
    hd_vfs_file *f = NULL;
    uint64_t size = 0;
    if (hd_vfs_open(v, path, HD_VFS_READ, &f) || hd_vfs_size(f, &size)) die(path);
    uint8_t *p = malloc(size ? (size_t)size : 1);
    size_t got = 0;
    if (!p || hd_vfs_pread(f, p, (size_t)size, 0, &got) || got != size) die(path);
    hd_vfs_close(f);
    *len = (size_t)size;
    return p;
}

static void sim_write(const hd_vfs *v, const char *path, const uint8_t *p, size_t len)
{
    hd_vfs_file *f = NULL;
    if (hd_vfs_open(v, path, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_TRUNC, &f) ||
        (len && hd_vfs_pwrite(f, p, len, 0)) || hd_vfs_fsync(f) || hd_vfs_close(f))
        die(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    base.artifact = const_artifact("demand", "DE/Berlin", 0.5, &base.artifact_len);
    hd_vfs_sim *sim = hd_vfs_sim_new(1, 0);
    if (!sim) die("sim");
    build_registry(sim);
    char path[64];
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "%s/%s", REG, file_names[i]);
        base.data[i] = sim_read(hd_vfs_sim_vfs(sim), path, &base.len[i]);
    }
    hd_vfs_sim_free(sim);
    /* HERD_FUZZ_REGISTRY_SEEDS=DIR writes the built files as raw-mode seeds
     * (byte 0 = 8 + file), the committed corpus's registry/raw-*. */
    const char *seeds = getenv("HERD_FUZZ_REGISTRY_SEEDS");
    for (int i = 0; seeds && i < NFILES; i++) {
        snprintf(path, sizeof path, "%.40s/raw-%d", seeds, i);
        FILE *out = fopen(path, "wb");
        uint8_t sel = (uint8_t)(8 + i);
        if (!out || fwrite(&sel, 1, 1, out) != 1 ||
            fwrite(base.data[i], 1, base.len[i], out) != base.len[i] || fclose(out))
            die(path);
    }
    return 0;
}

/* ---- damaging a file ---------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static int buf_reserve(buf *b, size_t need)
{
    if (need <= b->cap) return 0;
    size_t cap = need * 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) return -1;
    b->p = q;
    b->cap = cap;
    return 0;
}

/* Apply the edit list [in, in + n) to b. */
static int apply_edits(buf *b, const uint8_t *in, size_t n)
{
    size_t i = 0;
    while (i + 4 <= n) {
        unsigned kind = in[i] % 3;
        size_t off = (size_t)(in[i + 1] | in[i + 2] << 8), len = in[i + 3];
        i += 4;
        off = b->len ? off % (b->len + 1) : 0;
        if (kind == 1) {
            b->len = off;
            continue;
        }
        if (len > n - i) len = n - i;
        if (kind == 0) {
            if (off + len > b->len) {
                if (buf_reserve(b, off + len)) return -1;
                b->len = off + len;
            }
            memcpy(b->p + off, in + i, len);
        } else {
            if (buf_reserve(b, b->len + len)) return -1;
            memmove(b->p + off + len, b->p + off, b->len - off);
            memcpy(b->p + off, in + i, len);
            b->len += len;
        }
        i += len;
    }
    return 0;
}

static void put_crc(uint8_t *p, size_t at, const uint8_t *from, size_t n)
{
    put32(p + at, (uint32_t)crc32(0, from, (uInt)n));
}

/* Recompute the checksums of one file as far as its (damaged) lengths allow
 * (docs/registry.md, "Files"). */
static void repair_format(buf *b)
{
    if (b->len >= 64) put_crc(b->p, 60, b->p, 60);
}

static void repair_journal(buf *b)
{
    if (b->len < 32) return;
    put_crc(b->p, 28, b->p, 28);
    uint64_t off = get32(b->p + 12);
    while (off + 24 <= b->len) {
        uint8_t *r = b->p + off;
        uint32_t n = get32(r + 4);
        if (n > b->len - off - 24) break;
        put_crc(r, 16, r + 24, n);
        put_crc(r, 20, r, 20);
        off += 24 + (uint64_t)n;
    }
}

static void repair_index(buf *b)
{
    enum { CHUNK = 65536, H_CRCS = 176, H_NCHUNKS = 184, H_CRCS_CRC = 224, H_CRC = 252 };
    if (b->len < 256) return;
    uint64_t crcs = get64(b->p + H_CRCS), nchunks = get64(b->p + H_NCHUNKS);
    if (crcs >= 256 && crcs <= b->len && nchunks <= (b->len - crcs) / 4) {
        for (uint64_t c = 0; c < nchunks; c++) {
            uint64_t from = 256 + c * CHUNK;
            if (from > crcs) break;
            uint64_t n = crcs - from < CHUNK ? crcs - from : CHUNK;
            put_crc(b->p, (size_t)(crcs + 4 * c), b->p + from, (size_t)n);
        }
        put_crc(b->p, H_CRCS_CRC, b->p + crcs, (size_t)(4 * nchunks));
    }
    put_crc(b->p, H_CRC, b->p, H_CRC);
}

static void repair_pack(buf *b)
{
    size_t off = 16;
    while (off + F_HEADER_1_0 <= b->len) {
        uint8_t *a = b->p + off;
        size_t room = b->len - off;
        uint64_t total = (uint64_t)get32(a + F_HEADER_LEN) + get32(a + F_META_LEN) +
                         get64(a + F_STORED_LEN);
        artifact_repair(a, total <= room ? (size_t)total : room);
        if (total == 0 || total > room) break;
        off += (size_t)total;
    }
}

/* ---- reading and writing the damaged registry --------------------------- */

/* A failure must come with a message. */
#define expect_said(call) expect_said_at((call), #call)

static void expect_said_at(int rc, const char *call)
{
    if (rc != HERD_OK && herd_last_error()[0] == '\0') {
        fprintf(stderr, "fuzz_registry: %s failed (%s) without a message\n", call,
                herd_status_str(rc));
        abort();
    }
}

static const char *cell(const herd_frame *f, const char *column, size_t row)
{
    size_t c;
    const char *s = NULL;
    if (herd_frame_find(f, column, &c) || herd_frame_get_string(f, c, row, &s)) return NULL;
    return s;
}

static void read_group(herd_registry *reg, const char *family, const char *group)
{
    herd_frame *v = NULL;
    int rc = herd_registry_versions(reg, family, group, &v);
    expect_said(rc);
    size_t vc;
    for (size_t r = 0; !rc && !herd_frame_find(v, "version", &vc) && r < herd_frame_row_count(v);
         r++) {
        int64_t n = 0;
        herd_artifact *a = NULL;
        if (herd_frame_get_int64(v, vc, r, &n)) continue;
        expect_said(herd_registry_load(reg, family, group, n, &a));
        herd_artifact_free(a);
    }
    herd_frame_free(v);
    int64_t n;
    expect_said(herd_registry_resolve(reg, family, group, "champion", &n));
    herd_frame *h = NULL;
    expect_said(herd_registry_alias_history(reg, family, group, NULL, &h));
    herd_frame_free(h);
}

static void read_everything(herd_registry *reg)
{
    herd_frame *problems = NULL, *fam = NULL, *f = NULL;
    herd_check_options co; /* deep: the pack's models reach the validator too */
    herd_check_options_init(&co, HERD_CHECK_OPTIONS_VERSION);
    co.deep = 1;
    expect_said(herd_registry_check_with(reg, &co, &problems));
    herd_frame_free(problems);
    expect_said(herd_registry_runs(reg, &f));
    herd_frame_free(f);
    f = NULL;
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.include_archived = 1;
    so.tag_name = "note";
    expect_said(herd_registry_search(reg, &so, &f));
    herd_frame_free(f);
    int rc = herd_registry_families(reg, &fam);
    if (rc) {
        expect_said(rc);
        return;
    }
    for (size_t i = 0; i < herd_frame_row_count(fam); i++) {
        const char *family = cell(fam, "family", i);
        herd_frame *g = NULL;
        if (!family || herd_registry_groups(reg, family, &g)) continue;
        for (size_t j = 0; j < herd_frame_row_count(g); j++) {
            const char *group = cell(g, "group", j);
            if (group) read_group(reg, family, group);
        }
        herd_frame_free(g);
        herd_frame *al = NULL;
        expect_said(herd_registry_aliases(reg, family, "champion", &al));
        herd_frame_free(al);
    }
    herd_frame_free(fam);
}

/* Commit one version; when it commits, a new handle must see it. */
static void write_and_reread(const hd_vfs *v)
{
    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.create = 0;
    o.lock_timeout_ms = 0;
    herd_registry *reg = NULL;
    int rc = hd_registry_open_vfs(v, REG, &o, &reg);
    if (rc) {
        expect_said(rc);
        return;
    }
    herd_batch *b = NULL;
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = "fresh";
    vo.group = "g";
    vo.alias = "champion";
    int64_t version = 0;
    rc = herd_registry_begin(reg, &b);
    if (!rc) rc = herd_batch_add_bytes(b, base.artifact, base.artifact_len, &vo, NULL);
    if (!rc) rc = herd_batch_commit(b);
    if (!rc && herd_batch_version(b, 0, &version, NULL)) abort();
    expect_said(rc);
    herd_batch_free(b);
    herd_registry_free(reg);
    if (rc) return;
    o.read_only = 1;
    reg = NULL;
    int64_t seen = 0;
    if (hd_registry_open_vfs(v, REG, &o, &reg) ||
        herd_registry_resolve(reg, "fresh", "g", "champion", &seen) || seen != version)
        die("a commit that succeeded is not there");
    herd_registry_free(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0], which = sel & 3;
    buf b = {0};
    if (sel & 8) {
        if (buf_reserve(&b, size)) return 0;
        memcpy(b.p, data + 1, size - 1);
        b.len = size - 1;
    } else {
        if (buf_reserve(&b, base.len[which] + 1)) return 0;
        memcpy(b.p, base.data[which], base.len[which]);
        b.len = base.len[which];
        if (apply_edits(&b, data + 1, size - 1)) {
            free(b.p);
            return 0;
        }
    }
    if (sel & 4) {
        static void (*const repairs[NFILES])(buf *) = {repair_format, repair_journal,
                                                       repair_index, repair_pack};
        repairs[which](&b);
    }
    hd_vfs_sim *sim = hd_vfs_sim_new(1, 0);
    if (!sim) die("sim");
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    if (hd_vfs_mkdir(v, REG)) die("mkdir");
    char path[64];
    for (unsigned i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "%s/%s", REG, file_names[i]);
        if (i == which)
            sim_write(v, path, b.p, b.len);
        else
            sim_write(v, path, base.data[i], base.len[i]);
    }
    free(b.p);

    herd_registry_options o;
    herd_registry_options_init(&o, HERD_REGISTRY_OPTIONS_VERSION);
    o.create = 0;
    o.read_only = 1;
    o.allow_damaged = (sel >> 5) & 1;
    herd_registry *reg = NULL;
    int rc = hd_registry_open_vfs(v, REG, &o, &reg);
    if (rc == HERD_OK) {
        read_everything(reg);
        herd_registry_free(reg);
    } else if (reg || herd_last_error()[0] == '\0') {
        abort();
    }
    if (sel & 16) write_and_reread(v);
    hd_vfs_sim_free(sim);
    return 0;
}
