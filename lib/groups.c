/* groups.c -- partition the rows of a frame by key columns.
 *
 * herd_groups_new runs in O(rows) plus a sort of the distinct keys:
 *   1. resolve the key columns (names -> columns, type checks);
 *   2. one pass over the rows hashes each row's key tuple into an
 *      open-addressing table that maps it to a dense group id, in order of
 *      first appearance; it keeps one representative row and a row count
 *      per group and notes every row's group id;
 *   3. the G group ids are sorted by key value through their representative
 *      rows (G log G, with G <= rows);
 *   4. a counting sort places every row in its group's slice of one array.
 *      It walks the rows in frame order, so rows stay ascending in a group;
 *   5. the keys are rendered as strings and indexed for herd_groups_find.
 *
 * Memory at the peak (step 4): 8 bytes per row for the result, 4 per row
 * for the group ids (8 above 4G rows), and some 50 bytes per group. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "error_internal.h"
#include "frame_internal.h"
#include "groups_internal.h"
#include "hash_internal.h"
#include "mem_internal.h"
#include "text_internal.h"

/* ------------------------------------------------------------------------
 * Key tuples
 * --------------------------------------------------------------------- */

typedef struct key_set {
    const hd_column **cols; /* the key columns, in the caller's order */
    size_t n;
    /* One integer key column: its hash (splitmix64 of the value) is a
     * bijection, so equal hashes mean equal keys and the table can skip
     * reading the representative row back. */
    int exact_hash;
} key_set;

/* Hash the key tuple of `row` into *hash.  Returns 0 when a key value is
 * missing (masked, or a NULL string): such a row belongs to no group. */
static inline int key_hash(const key_set *ks, size_t row, uint64_t *hash)
{
    uint64_t h = 0;
    for (size_t k = 0; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        uint64_t v;
        if (c->mask && !c->mask[row]) return 0;
        if (c->type == HERD_TYPE_STRING) {
            const char *s = hd_col_str(c, row);
            if (!s) return 0;
            v = hd_hash_bytes(s, strlen(s), 0);
        } else {
            v = hd_hash_u64((uint64_t)hd_col_int(c, row));
        }
        h = k ? hd_hash_combine(h, v) : v;
    }
    *hash = h;
    return 1;
}

/* Whether rows a and b (both with every key present) have the same key.
 * Strings compare by pointer first: the CSV reader interns them, so equal
 * strings usually share one pointer.  strcmp on NUL-terminated strings is
 * the same test as length + memcmp without measuring the stored string. */
static int key_equal(const key_set *ks, size_t a, size_t b)
{
    for (size_t k = 0; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        if (c->type == HERD_TYPE_STRING) {
            const char *sa = hd_col_str(c, a), *sb = hd_col_str(c, b);
            if (sa != sb && strcmp(sa, sb) != 0) return 0;
        } else if (hd_col_int(c, a) != hd_col_int(c, b)) {
            return 0;
        }
    }
    return 1;
}

/* Order of the keys of rows a and b: integers numerically, strings bytewise
 * (strcmp compares as unsigned char, and a prefix sorts first), column by
 * column. */
static int key_compare(const key_set *ks, size_t a, size_t b)
{
    for (size_t k = 0; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        if (c->type == HERD_TYPE_STRING) {
            const char *sa = hd_col_str(c, a), *sb = hd_col_str(c, b);
            int d = sa == sb ? 0 : strcmp(sa, sb);
            if (d) return d < 0 ? -1 : 1;
        } else {
            int64_t va = hd_col_int(c, a), vb = hd_col_int(c, b);
            if (va != vb) return va < vb ? -1 : 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Resolving the key columns
 * --------------------------------------------------------------------- */

/* "a", "b", "c" -- the frame's column names for a message, cut with ", ..."
 * when they do not fit in buf. */
static const char *column_list(const herd_frame *f, char *buf, size_t size)
{
    static const char more[] = ", ...";
    size_t o = 0;
    if (f->ncols == 0) return "none (the frame has no columns)";
    buf[0] = '\0';
    for (size_t i = 0; i < f->ncols; i++) {
        char q[96];
        const char *name = f->cols[i].name;
        hd_quote(name, strlen(name), q, sizeof q);
        size_t sep = i ? 2 : 0, ql = strlen(q);
        if (o + sep + ql + sizeof more > size) {
            memcpy(buf + o, i ? more : more + 2, i ? sizeof more : sizeof more - 2);
            break;
        }
        if (sep) memcpy(buf + o, ", ", 2);
        memcpy(buf + o + sep, q, ql + 1);
        o += sep + ql;
    }
    return buf;
}

/* Find the column called `name` and check that it can be a key. */
static int resolve_key(const herd_frame *f, const char *name, size_t k, size_t *col)
{
    char q[96], list[512];
    if (!name) return hd_error(HERD_EINVAL, "herd_groups_new: keys[%zu] is NULL", k);
    size_t i = 0;
    while (i < f->ncols && strcmp(f->cols[i].name, name) != 0) i++;
    if (i == f->ncols)
        return hd_error(HERD_ENOTFOUND,
                        "herd_groups_new: key column %s is not in the frame; its columns "
                        "are: %s",
                        hd_quote(name, strlen(name), q, sizeof q),
                        column_list(f, list, sizeof list));
    int type = f->cols[i].type;
    if (type != HERD_TYPE_INT32 && type != HERD_TYPE_INT64 && type != HERD_TYPE_STRING)
        return hd_error(HERD_ETYPE,
                        "herd_groups_new: key column %s is %s; a key column must be int32, "
                        "int64 or string (convert it, or bin its values, first)",
                        hd_quote(name, strlen(name), q, sizeof q), herd_type_name(type));
    *col = i;
    return HERD_OK;
}

/* Resolve every key name into g->key_cols and ks->cols. */
static int resolve_keys(herd_groups *g, const char *const *keys, key_set *ks)
{
    for (size_t k = 0; k < ks->n; k++) {
        size_t col = 0;
        int rc = resolve_key(g->frame, keys[k], k, &col);
        if (rc != HERD_OK) return rc;
        for (size_t j = 0; j < k; j++) {
            if (g->key_cols[j] == col) {
                char q[96];
                return hd_error(HERD_EINVAL,
                                "herd_groups_new: key column %s is named twice (keys[%zu] "
                                "and keys[%zu]); name each key column once",
                                hd_quote(keys[k], strlen(keys[k]), q, sizeof q), j, k);
            }
        }
        g->key_cols[k] = col;
        ks->cols[k] = &g->frame->cols[col];
    }
    ks->exact_hash = ks->n == 1 && ks->cols[0]->type != HERD_TYPE_STRING;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Step 2: one hashing pass
 * --------------------------------------------------------------------- */

/* The group id of every row.  Ids fit in 32 bits below 4G rows, which
 * halves the largest temporary; UINT32_MAX / SIZE_MAX mark a missing key. */
typedef struct row_ids {
    uint32_t *narrow;
    size_t *wide;
} row_ids;

#define HD_NO_GROUP SIZE_MAX

static inline void ids_set(row_ids *ids, size_t row, size_t group)
{
    if (ids->narrow)
        ids->narrow[row] = group == HD_NO_GROUP ? UINT32_MAX : (uint32_t)group;
    else
        ids->wide[row] = group;
}

static inline size_t ids_get(const row_ids *ids, size_t row)
{
    if (ids->narrow) return ids->narrow[row] == UINT32_MAX ? HD_NO_GROUP : ids->narrow[row];
    return ids->wide[row];
}

/* A table slot: the key's hash (kept so that growing never rehashes keys
 * and most mismatches are rejected without touching the rows) and the
 * group id + 1, 0 for an empty slot. */
typedef struct part_slot {
    uint64_t hash;
    size_t group1;
} part_slot;

typedef struct group_info {
    size_t rep; /* the group's first row: stands for its key */
    /* Rows in the group during step 2; during step 4, the next free place
     * in the result array (so the hot loop needs no second lookup). */
    size_t n;
} group_info;

typedef struct partition {
    part_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    group_info *info;
    size_t ngroups, info_cap;
    size_t *order; /* group ids sorted by key (step 3) */
    row_ids ids;
    size_t missing;
} partition;

static void partition_free(partition *p)
{
    free(p->slots);
    free(p->info);
    free(p->order);
    free(p->ids.narrow);
    free(p->ids.wide);
    memset(p, 0, sizeof *p);
}

/* Double the table, placing every key by its stored hash. */
static int table_grow(partition *p)
{
    size_t cap = (p->mask + 1) * 2;
    part_slot *slots = hd_calloc(cap, sizeof *slots);
    if (!slots) return HERD_ENOMEM;
    for (size_t i = 0; i <= p->mask; i++) {
        if (!p->slots[i].group1) continue;
        size_t j = p->slots[i].hash & (cap - 1);
        while (slots[j].group1) j = (j + 1) & (cap - 1);
        slots[j] = p->slots[i];
    }
    free(p->slots);
    p->slots = slots;
    p->mask = cap - 1;
    return HERD_OK;
}

/* The group of `row`, whose key hashes to h, creating it if it is new.
 * The caller has made room for one more group (load stays <= 1/2, so the
 * probe always ends at an empty slot). */
static inline size_t table_lookup(partition *p, const key_set *ks, size_t row, uint64_t h)
{
    size_t i = h & p->mask;
    for (;;) {
        part_slot *s = &p->slots[i];
        if (!s->group1) {
            size_t g = p->ngroups++;
            s->hash = h;
            s->group1 = g + 1;
            p->info[g].rep = row;
            p->info[g].n = 0;
            return g;
        }
        if (s->hash == h && (ks->exact_hash || key_equal(ks, p->info[s->group1 - 1].rep, row)))
            return s->group1 - 1;
        i = (i + 1) & p->mask;
    }
}

/* Make sure one more group fits in the table and the info array. */
static int partition_reserve(partition *p)
{
    if ((p->ngroups + 1) * 2 > p->mask + 1) {
        int rc = table_grow(p);
        if (rc != HERD_OK) return rc;
    }
    if (p->ngroups + 1 > p->info_cap) {
        void *info = p->info;
        int rc = hd_grow(&info, &p->info_cap, p->ngroups + 1, sizeof *p->info);
        p->info = info;
        if (rc != HERD_OK) return rc;
    }
    return HERD_OK;
}

static int partition_rows(partition *p, const key_set *ks, size_t nrows)
{
    const size_t initial = 1024;
    if (nrows < UINT32_MAX)
        p->ids.narrow = hd_malloc(nrows, sizeof *p->ids.narrow);
    else
        p->ids.wide = hd_malloc(nrows, sizeof *p->ids.wide);
    p->slots = hd_calloc(initial, sizeof *p->slots);
    if ((!p->ids.narrow && !p->ids.wide) || !p->slots) return HERD_ENOMEM;
    p->mask = initial - 1;

    for (size_t row = 0; row < nrows; row++) {
        uint64_t h;
        if (!key_hash(ks, row, &h)) {
            ids_set(&p->ids, row, HD_NO_GROUP);
            p->missing++;
            continue;
        }
        int rc = partition_reserve(p);
        if (rc != HERD_OK) return rc;
        size_t g = table_lookup(p, ks, row, h);
        p->info[g].n++;
        ids_set(&p->ids, row, g);
    }
    /* The table is not needed any more: give its memory back before the
     * result array is allocated. */
    free(p->slots);
    p->slots = NULL;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Step 3: order the groups by key
 * --------------------------------------------------------------------- */

static inline int group_less(const key_set *ks, const group_info *info, size_t a, size_t b)
{
    return key_compare(ks, info[a].rep, info[b].rep) < 0;
}

/* Merge the sorted runs src[lo..mid) and src[mid..hi) into dst[lo..hi). */
static void merge_runs(const key_set *ks, const group_info *info, const size_t *src, size_t *dst,
                       size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, o = lo;
    while (i < mid && j < hi) dst[o++] = group_less(ks, info, src[j], src[i]) ? src[j++] : src[i++];
    while (i < mid) dst[o++] = src[i++];
    while (j < hi) dst[o++] = src[j++];
}

/* Sort group ids a[0..n) by key: insertion sort of short runs, then
 * bottom-up merges through tmp.  A merge sort of our own rather than qsort
 * because the comparison needs context (the key columns) and qsort_r is not
 * portable; keys are distinct, so stability does not matter. */
static void sort_groups(const key_set *ks, const group_info *info, size_t *a, size_t *tmp,
                        size_t n)
{
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = n - lo < run ? n : lo + run;
        for (size_t i = lo + 1; i < hi; i++) {
            size_t v = a[i], j = i;
            for (; j > lo && group_less(ks, info, v, a[j - 1]); j--) a[j] = a[j - 1];
            a[j] = v;
        }
    }
    size_t *src = a, *dst = tmp;
    for (size_t w = run; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = n - lo < w ? n : lo + w;
            size_t hi = n - lo < 2 * w ? n : lo + 2 * w;
            merge_runs(ks, info, src, dst, lo, mid, hi);
        }
        size_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

static int order_groups(partition *p, const key_set *ks)
{
    size_t n = p->ngroups;
    p->order = hd_malloc(n, sizeof *p->order);
    size_t *tmp = hd_malloc(n, sizeof *tmp);
    if (!p->order || !tmp) {
        free(tmp);
        return HERD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) p->order[i] = i;
    sort_groups(ks, p->info, p->order, tmp, n);
    free(tmp);
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Step 4: counting sort of the rows
 * --------------------------------------------------------------------- */

static int place_rows(partition *p, herd_groups *g, size_t nrows)
{
    size_t n = p->ngroups;
    g->offsets = hd_malloc(n + 1, sizeof *g->offsets);
    g->rows = hd_malloc(nrows - p->missing, sizeof *g->rows);
    if (!g->offsets || !g->rows) return HERD_ENOMEM;
    g->offsets[0] = 0;
    for (size_t k = 0; k < n; k++) {
        group_info *gi = &p->info[p->order[k]];
        g->offsets[k + 1] = g->offsets[k] + gi->n;
        gi->n = g->offsets[k]; /* from now on: the next free place */
    }
    for (size_t row = 0; row < nrows; row++) {
        size_t id = ids_get(&p->ids, row);
        if (id != HD_NO_GROUP) g->rows[p->info[id].n++] = row;
    }
    g->ngroups = n;
    g->missing = p->missing;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Step 5: keys
 * --------------------------------------------------------------------- */

/* Decimal text of v into buf (at least 21 bytes), NUL-terminated; returns
 * its length.  Runs once per group, where snprintf would dominate. */
static size_t format_i64(int64_t v, char *buf)
{
    char digits[20];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, len = 0;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[len++] = '-';
    while (n) buf[len++] = digits[--n];
    buf[len] = '\0';
    return len;
}

/* A growable byte buffer for keys of several columns. */
typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

static int sb_reserve(strbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) return hd_oom();
    void *p = b->p;
    int rc = hd_grow(&p, &b->cap, b->len + extra + 1, 1);
    b->p = p;
    return rc;
}

/* Append s[0..len) with '|' and '\' escaped by a '\', so that joining
 * values with '|' stays unambiguous. */
static int sb_put_escaped(strbuf *b, const char *s, size_t len)
{
    if (len > SIZE_MAX / 2) return hd_oom();
    int rc = sb_reserve(b, 2 * len);
    if (rc != HERD_OK) return rc;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '|' || s[i] == '\\') b->p[b->len++] = '\\';
        b->p[b->len++] = s[i];
    }
    return HERD_OK;
}

/* Render the key of `row` (every value present) into b, joined form. */
static int render_joined(const key_set *ks, size_t row, strbuf *b)
{
    b->len = 0;
    for (size_t k = 0; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        int rc = sb_reserve(b, 1 + 24);
        if (rc != HERD_OK) return rc;
        if (k) b->p[b->len++] = '|';
        if (c->type == HERD_TYPE_STRING) {
            const char *s = hd_col_str(c, row);
            rc = sb_put_escaped(b, s, strlen(s));
            if (rc != HERD_OK) return rc;
        } else {
            b->len += format_i64(hd_col_int(c, row), b->p + b->len);
        }
    }
    return HERD_OK;
}

/* Store the key of `row` in the arena as group k's key. */
static int render_key(herd_groups *g, const key_set *ks, size_t row, size_t k, strbuf *b)
{
    char num[24];
    const char *text;
    size_t len;
    if (ks->n > 1) {
        int rc = render_joined(ks, row, b);
        if (rc != HERD_OK) return rc;
        text = b->p;
        len = b->len;
    } else if (ks->cols[0]->type == HERD_TYPE_STRING) {
        text = hd_col_str(ks->cols[0], row);
        len = strlen(text);
    } else {
        len = format_i64(hd_col_int(ks->cols[0], row), num);
        text = num;
    }
    char *key = hd_arena_strndup(g->key_arena, text, len);
    if (!key) return HERD_ENOMEM;
    g->keys[k] = key;
    g->key_lens[k] = len;
    return HERD_OK;
}

static int render_keys(herd_groups *g, const key_set *ks, const partition *p)
{
    strbuf b = {NULL, 0, 0};
    int rc = HERD_OK;
    g->keys = hd_malloc(g->ngroups, sizeof *g->keys);
    g->key_lens = hd_malloc(g->ngroups, sizeof *g->key_lens);
    g->key_arena = hd_arena_new();
    if (!g->keys || !g->key_lens || !g->key_arena) return HERD_ENOMEM;
    for (size_t k = 0; k < g->ngroups && rc == HERD_OK; k++)
        rc = render_key(g, ks, p->info[p->order[k]].rep, k, &b);
    free(b.p);
    return rc;
}

static inline uint64_t key_text_hash(const char *key, size_t len)
{
    return hd_hash_bytes(key, len, 0);
}

/* Index the rendered keys.  They are distinct (decimal text and the
 * escaped join are both one-to-one), so no slot is ever a duplicate. */
static int build_find_index(herd_groups *g)
{
    size_t cap = 1;
    while (cap / 2 < g->ngroups) {
        if (cap > SIZE_MAX / 2) return hd_oom();
        cap *= 2;
    }
    g->find_slots = hd_calloc(cap, sizeof *g->find_slots);
    if (!g->find_slots) return HERD_ENOMEM;
    g->find_mask = cap - 1;
    for (size_t k = 0; k < g->ngroups; k++) {
        size_t i = key_text_hash(g->keys[k], g->key_lens[k]) & g->find_mask;
        while (g->find_slots[i]) i = (i + 1) & g->find_mask;
        g->find_slots[i] = k + 1;
    }
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Public API
 * --------------------------------------------------------------------- */

static int groups_build(herd_groups *g, const char *const *keys, size_t nrows)
{
    key_set ks = {NULL, g->nkeys, 0};
    partition p;
    memset(&p, 0, sizeof p);
    int rc = HERD_ENOMEM;
    g->key_cols = hd_malloc(g->nkeys, sizeof *g->key_cols);
    ks.cols = hd_malloc(g->nkeys, sizeof *ks.cols);
    if (g->key_cols && ks.cols) rc = resolve_keys(g, keys, &ks);
    if (rc == HERD_OK) rc = partition_rows(&p, &ks, nrows);
    if (rc == HERD_OK) rc = order_groups(&p, &ks);
    if (rc == HERD_OK) rc = place_rows(&p, g, nrows);
    if (rc == HERD_OK) {
        /* The row ids are the largest temporary: drop them before the keys
         * are rendered. */
        free(p.ids.narrow);
        free(p.ids.wide);
        p.ids.narrow = NULL;
        p.ids.wide = NULL;
        rc = render_keys(g, &ks, &p);
    }
    if (rc == HERD_OK) rc = build_find_index(g);
    partition_free(&p);
    free(ks.cols);
    return rc;
}

int herd_groups_new(const herd_frame *frame, const char *const *keys, size_t nkeys,
                    herd_groups **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(frame);
    HD_CHECK_NOT_NULL(keys);
    if (nkeys == 0)
        return hd_error(HERD_EINVAL,
                        "herd_groups_new: no key columns (nkeys is 0); name at least one");
    herd_groups *g = hd_calloc(1, sizeof *g);
    if (!g) return HERD_ENOMEM;
    g->frame = frame;
    g->nkeys = nkeys;
    int rc = groups_build(g, keys, frame->nrows);
    if (rc != HERD_OK) {
        herd_groups_free(g);
        return rc;
    }
    *out = g;
    return HERD_OK;
}

void herd_groups_free(herd_groups *groups)
{
    if (!groups) return;
    free(groups->key_cols);
    free(groups->offsets);
    free(groups->rows);
    free(groups->keys);
    free(groups->key_lens);
    hd_arena_free(groups->key_arena);
    free(groups->find_slots);
    free(groups);
}

size_t herd_groups_count(const herd_groups *groups)
{
    return groups ? groups->ngroups : 0;
}

size_t herd_groups_missing(const herd_groups *groups)
{
    return groups ? groups->missing : 0;
}

const herd_frame *herd_groups_frame(const herd_groups *groups)
{
    return groups ? groups->frame : NULL;
}

const char *herd_groups_key(const herd_groups *groups, size_t i)
{
    return groups && i < groups->ngroups ? groups->keys[i] : NULL;
}

size_t herd_groups_size(const herd_groups *groups, size_t i)
{
    return groups && i < groups->ngroups ? hd_groups_size_of(groups, i) : 0;
}

int herd_groups_rows(const herd_groups *groups, size_t i, const size_t **rows, size_t *nrows)
{
    HD_CHECK_NOT_NULL(rows);
    HD_CHECK_NOT_NULL(nrows);
    *rows = NULL;
    *nrows = 0;
    HD_CHECK_NOT_NULL(groups);
    if (i >= groups->ngroups)
        return hd_error(HERD_EINVAL,
                        "herd_groups_rows: group index %zu is out of range (there are %zu "
                        "groups)",
                        i, groups->ngroups);
    *rows = hd_groups_rows_of(groups, i);
    *nrows = hd_groups_size_of(groups, i);
    return HERD_OK;
}

int herd_groups_find(const herd_groups *groups, const char *key, size_t *index)
{
    HD_CHECK_NOT_NULL(index);
    HD_CHECK_NOT_NULL(groups);
    HD_CHECK_NOT_NULL(key);
    size_t len = strlen(key);
    size_t i = key_text_hash(key, len) & groups->find_mask;
    for (size_t s; (s = groups->find_slots[i]) != 0; i = (i + 1) & groups->find_mask) {
        if (groups->key_lens[s - 1] == len && memcmp(groups->keys[s - 1], key, len) == 0) {
            *index = s - 1;
            return HERD_OK;
        }
    }
    char q[96];
    return hd_error(HERD_ENOTFOUND, "herd_groups_find: no group has the key %s (%zu groups)",
                    hd_quote(key, len, q, sizeof q), groups->ngroups);
}

int herd_groups_summary(const herd_groups *groups, herd_frame **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(groups);
    size_t n = groups->ngroups;
    herd_frame *f = NULL;
    int64_t *sizes = hd_malloc(n, sizeof *sizes);
    int64_t *first = hd_malloc(n, sizeof *first);
    int rc = sizes && first ? herd_frame_new(&f) : HERD_ENOMEM;
    if (rc == HERD_OK) {
        for (size_t i = 0; i < n; i++) {
            sizes[i] = (int64_t)hd_groups_size_of(groups, i);
            first[i] = (int64_t)groups->rows[groups->offsets[i]];
        }
        rc = hd_frame_add_str(f, "group", groups->keys, n);
    }
    if (rc == HERD_OK) rc = hd_frame_add_i64(f, "rows", sizes, n);
    if (rc == HERD_OK) rc = hd_frame_add_i64(f, "first_row", first, n);
    free(sizes);
    free(first);
    if (rc != HERD_OK) {
        herd_frame_free(f);
        return rc;
    }
    *out = f;
    return HERD_OK;
}
