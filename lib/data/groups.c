/* groups.c -- partition the rows of a frame by key columns.
 *
 * herd_groups_new runs in O(rows) plus a sort of the distinct keys:
 *   1. resolve the key columns (names -> column indices, type checks);
 *   2. one pass over the rows hashes each row's key tuple into an
 *      open-addressing table that maps it to a dense group id, in order of
 *      first appearance; it keeps each group's first row, first key value
 *      and row count, and notes every row's group id;
 *   3. the G group ids are sorted by key value (G log G, G <= rows);
 *   4. a counting sort places every row in its group's slice of one array.
 *      It walks the rows in frame order, so rows stay ascending in a group;
 *   5. the keys are rendered as strings and indexed for herd_groups_find.
 *
 * Memory at the peak (step 4): 8 bytes per row for the result, 4 per row
 * for the group ids (8 from 4G rows up), and about 40 bytes per group; the
 * groups keep about 50 bytes per group plus the key text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/hash_internal.h"
#include "common/keyindex_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "data/frame_internal.h"
#include "data/groups_internal.h"

/* ------------------------------------------------------------------------
 * Key tuples
 * --------------------------------------------------------------------- */

typedef struct key_set {
    const hd_column **cols; /* the key columns, in the caller's order */
    size_t n;
    /* One integer key column.  Its hash (splitmix64 of the value) is a
     * bijection, so equal hashes mean equal keys; and its sort prefix is the
     * whole key. */
    int single_int;
} key_set;

/* The value of the first key column.  Each group keeps its own in a compact
 * array, so that most probes and comparisons never read the frame at the
 * group's representative row (a cache miss once the frame is large). */
typedef union key_val {
    int64_t i;
    const char *s;
} key_val;

static inline int is_string(const hd_column *c)
{
    return c->type == HERD_TYPE_STRING;
}

/* Hash the key tuple of `row` into *hash and its first value into *lead.
 * Returns 0 when a key value is missing (masked, or a NULL string): such a
 * row belongs to no group. */
static inline int key_hash(const key_set *ks, size_t row, uint64_t *hash, key_val *lead)
{
    uint64_t h = 0;
    for (size_t k = 0; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        uint64_t v;
        key_val val;
        if (c->mask && !c->mask[row]) return 0;
        if (is_string(c)) {
            val.s = hd_col_str(c, row);
            if (!val.s) return 0;
            v = hd_hash_bytes(val.s, strlen(val.s), 0);
        } else {
            val.i = hd_col_int(c, row);
            v = hd_hash_u64((uint64_t)val.i);
        }
        if (k == 0) *lead = val;
        h = k ? hd_hash_combine(h, v) : v;
    }
    *hash = h;
    return 1;
}

/* Equality of two strings.  The pointer test first: the CSV reader interns
 * strings, so equal ones usually share one pointer.  strcmp on
 * NUL-terminated strings is the same test as length + memcmp without
 * measuring either string. */
static inline int str_equal(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

/* Bytewise order of two strings: strcmp compares as unsigned char, and a
 * prefix sorts first. */
static inline int str_order(const char *a, const char *b)
{
    int d = a == b ? 0 : strcmp(a, b);
    return (d > 0) - (d < 0);
}

/* Whether rows a and b (every key present) agree on key columns from..n. */
static int key_equal_from(const key_set *ks, size_t a, size_t b, size_t from)
{
    for (size_t k = from; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        if (is_string(c) ? !str_equal(hd_col_str(c, a), hd_col_str(c, b))
                         : hd_col_int(c, a) != hd_col_int(c, b))
            return 0;
    }
    return 1;
}

/* Order of rows a and b on key columns from..n: integers numerically,
 * strings bytewise, column by column. */
static int key_compare_from(const key_set *ks, size_t a, size_t b, size_t from)
{
    for (size_t k = from; k < ks->n; k++) {
        const hd_column *c = ks->cols[k];
        int d;
        if (is_string(c)) {
            d = str_order(hd_col_str(c, a), hd_col_str(c, b));
        } else {
            int64_t va = hd_col_int(c, a), vb = hd_col_int(c, b);
            d = (va > vb) - (va < vb);
        }
        if (d) return d;
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
            const char *tail = i ? more : more + 2; /* no comma before the first */
            memcpy(buf + o, tail, strlen(tail) + 1);
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
    ks->single_int = ks->n == 1 && !is_string(ks->cols[0]);
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

/* A group id with an order-preserving prefix of its key, for the sort. */
typedef struct sort_rec {
    uint64_t abbrev;
    size_t group;
} sort_rec;

typedef struct partition {
    part_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t ngroups, cap;
    size_t *rep;   /* each group's first row: it stands for the group's key */
    key_val *lead; /* each group's first key value */
    /* Rows in each group during step 2; during step 4, the group's next
     * free place in the result array. */
    size_t *count;
    sort_rec *sorted; /* the groups in key order (step 3) */
    row_ids ids;
    size_t missing;
} partition;

static void partition_free(partition *p)
{
    free(p->slots);
    free(p->rep);
    free(p->lead);
    free(p->count);
    free(p->sorted);
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

/* Whether group g's key is the key of `row`, whose first value is lead. */
static inline int same_key(const partition *p, const key_set *ks, size_t g, size_t row,
                           key_val lead)
{
    if (ks->single_int) return 1; /* equal hashes: see key_set */
    if (is_string(ks->cols[0]) ? !str_equal(p->lead[g].s, lead.s) : p->lead[g].i != lead.i)
        return 0;
    return ks->n == 1 || key_equal_from(ks, p->rep[g], row, 1);
}

/* The group of `row`, whose key hashes to h, creating it if it is new.
 * The caller has made room for one more group (load stays <= 1/2, so the
 * probe always ends at an empty slot). */
static inline size_t table_lookup(partition *p, const key_set *ks, size_t row, uint64_t h,
                                  key_val lead)
{
    size_t i = h & p->mask;
    for (;;) {
        part_slot *s = &p->slots[i];
        if (!s->group1) {
            size_t g = p->ngroups++;
            s->hash = h;
            s->group1 = g + 1;
            p->rep[g] = row;
            p->lead[g] = lead;
            p->count[g] = 0;
            return g;
        }
        if (s->hash == h && same_key(p, ks, s->group1 - 1, row, lead)) return s->group1 - 1;
        i = (i + 1) & p->mask;
    }
}

/* Make sure one more group fits in the table and the per-group arrays. */
static int partition_reserve(partition *p)
{
    if ((p->ngroups + 1) * 2 > p->mask + 1) {
        int rc = table_grow(p);
        if (rc != HERD_OK) return rc;
    }
    if (p->ngroups + 1 > p->cap) {
        /* The three arrays grow in step: each from the same old capacity. */
        size_t need = p->ngroups + 1, c1 = p->cap, c2 = p->cap, c3 = p->cap;
        void *rep = p->rep, *lead = p->lead, *count = p->count;
        int rc = hd_grow(&rep, &c1, need, sizeof *p->rep);
        p->rep = rep;
        if (rc == HERD_OK) rc = hd_grow(&lead, &c2, need, sizeof *p->lead);
        p->lead = lead;
        if (rc == HERD_OK) rc = hd_grow(&count, &c3, need, sizeof *p->count);
        p->count = count;
        if (rc != HERD_OK) return rc;
        p->cap = c1;
    }
    return HERD_OK;
}

#if defined(__GNUC__)
#  define HD_PREFETCH(addr) __builtin_prefetch(addr)
#else
#  define HD_PREFETCH(addr) ((void)0)
#endif

/* Rows are hashed a batch at a time and their slots prefetched before the
 * batch is probed: once the table outgrows the caches, every probe is a
 * memory access, and issuing them together overlaps their latencies. */
#define HD_BATCH 32

static int partition_batch(partition *p, const key_set *ks, size_t base, size_t n)
{
    uint64_t h[HD_BATCH];
    key_val lead[HD_BATCH];
    unsigned char present[HD_BATCH];
    for (size_t i = 0; i < n; i++) {
        present[i] = (unsigned char)key_hash(ks, base + i, &h[i], &lead[i]);
        if (present[i]) HD_PREFETCH(&p->slots[h[i] & p->mask]);
    }
    for (size_t i = 0; i < n; i++) {
        if (!present[i]) {
            ids_set(&p->ids, base + i, HD_NO_GROUP);
            p->missing++;
            continue;
        }
        int rc = partition_reserve(p);
        if (rc != HERD_OK) return rc;
        size_t g = table_lookup(p, ks, base + i, h[i], lead[i]);
        p->count[g]++;
        ids_set(&p->ids, base + i, g);
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

    for (size_t base = 0; base < nrows; base += HD_BATCH) {
        size_t n = nrows - base < HD_BATCH ? nrows - base : HD_BATCH;
        int rc = partition_batch(p, ks, base, n);
        if (rc != HERD_OK) return rc;
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

/* A first key value as an unsigned number whose order is the key order
 * (PostgreSQL's "abbreviated keys"): an integer with its sign bit flipped,
 * or a string's first 8 bytes, big-endian, zero-padded (a string that ends
 * sooner is smaller, as in strcmp).  Most comparisons are decided by it, so
 * the sort walks a compact array instead of the frame's rows. */
static uint64_t abbrev_key(const hd_column *c, key_val v)
{
    if (!is_string(c)) return (uint64_t)v.i ^ (UINT64_C(1) << 63);
    const unsigned char *s = (const unsigned char *)v.s;
    uint64_t a = 0;
    unsigned live = 1;
    for (int i = 0; i < 8; i++) {
        unsigned b = live ? s[i] : 0; /* never read past the NUL */
        live = b != 0;
        a = a << 8 | b;
    }
    return a;
}

static inline int rec_less(const key_set *ks, const partition *p, const sort_rec *a,
                           const sort_rec *b)
{
    if (a->abbrev != b->abbrev) return a->abbrev < b->abbrev;
    /* A single integer key is all in the prefix, and keys are distinct: a
     * tie cannot happen.  Otherwise the full first value, then the rest. */
    if (ks->single_int) return 0;
    if (is_string(ks->cols[0])) {
        int d = str_order(p->lead[a->group].s, p->lead[b->group].s);
        if (d) return d < 0;
    }
    return ks->n > 1 && key_compare_from(ks, p->rep[a->group], p->rep[b->group], 1) < 0;
}

/* Merge the sorted runs src[lo..mid) and src[mid..hi) into dst[lo..hi). */
static void merge_runs(const key_set *ks, const partition *p, const sort_rec *src,
                       sort_rec *dst, size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, o = lo;
    while (i < mid && j < hi) dst[o++] = rec_less(ks, p, &src[j], &src[i]) ? src[j++] : src[i++];
    while (i < mid) dst[o++] = src[i++];
    while (j < hi) dst[o++] = src[j++];
}

/* Sort a[0..n): insertion sort of short runs, then bottom-up merges
 * through tmp.  A merge sort of our own rather than qsort because the
 * comparison needs context (the key columns) and qsort_r is not portable;
 * keys are distinct, so stability does not matter. */
static void sort_recs(const key_set *ks, const partition *p, sort_rec *a, sort_rec *tmp,
                      size_t n)
{
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = n - lo < run ? n : lo + run;
        for (size_t i = lo + 1; i < hi; i++) {
            sort_rec v = a[i];
            size_t j = i;
            for (; j > lo && rec_less(ks, p, &v, &a[j - 1]); j--) a[j] = a[j - 1];
            a[j] = v;
        }
    }
    sort_rec *src = a, *dst = tmp;
    for (size_t w = run; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = n - lo < w ? n : lo + w;
            size_t hi = n - lo < 2 * w ? n : lo + 2 * w;
            merge_runs(ks, p, src, dst, lo, mid, hi);
        }
        sort_rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

static int order_groups(partition *p, const key_set *ks)
{
    size_t n = p->ngroups;
    p->sorted = hd_malloc(n, sizeof *p->sorted);
    sort_rec *tmp = hd_malloc(n, sizeof *tmp);
    if (!p->sorted || !tmp) {
        free(tmp);
        return HERD_ENOMEM;
    }
    for (size_t g = 0; g < n; g++) {
        p->sorted[g].abbrev = abbrev_key(ks->cols[0], p->lead[g]);
        p->sorted[g].group = g;
    }
    sort_recs(ks, p, p->sorted, tmp, n);
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
        size_t id = p->sorted[k].group;
        g->offsets[k + 1] = g->offsets[k] + p->count[id];
        p->count[id] = g->offsets[k]; /* from now on: the next free place */
    }
    for (size_t row = 0; row < nrows; row++) {
        size_t id = ids_get(&p->ids, row);
        if (id != HD_NO_GROUP) g->rows[p->count[id]++] = row;
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
        if (is_string(c)) {
            const char *s = hd_col_str(c, row);
            rc = sb_put_escaped(b, s, strlen(s));
            if (rc != HERD_OK) return rc;
        } else {
            b->len += format_i64(hd_col_int(c, row), b->p + b->len);
        }
    }
    return HERD_OK;
}

/* Store the key of group id `id` in the arena as the key of group k. */
static int render_key(herd_groups *g, const key_set *ks, const partition *p, size_t id,
                      size_t k, strbuf *b)
{
    char num[24];
    const char *text;
    size_t len;
    if (ks->n > 1) {
        int rc = render_joined(ks, p->rep[id], b);
        if (rc != HERD_OK) return rc;
        text = b->p;
        len = b->len;
    } else if (is_string(ks->cols[0])) {
        text = p->lead[id].s;
        len = strlen(text);
    } else {
        len = format_i64(p->lead[id].i, num);
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
        rc = render_key(g, ks, p, p->sorted[k].group, k, &b);
    free(b.p);
    return rc;
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
    if (rc == HERD_OK) rc = hd_key_index_build(&g->find_index, g->keys, g->ngroups);
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
    hd_key_index_free(&groups->find_index);
    free(groups);
}

#define HD_GROUPS_CHECK(none)                                                      \
    HD_ACCESSOR_CHECK(groups, none)
#define HD_GROUP_INDEX_CHECK(none)                                                 \
    HD_ACCESSOR_CHECK(i < groups->ngroups, none)

size_t herd_groups_count(const herd_groups *groups)
{
    HD_GROUPS_CHECK(0);
    return groups->ngroups;
}

size_t herd_groups_missing_count(const herd_groups *groups)
{
    HD_GROUPS_CHECK(0);
    return groups->missing;
}

const herd_frame *herd_groups_frame(const herd_groups *groups)
{
    HD_GROUPS_CHECK(NULL);
    return groups->frame;
}

const char *herd_groups_key(const herd_groups *groups, size_t i)
{
    HD_GROUPS_CHECK(NULL);
    HD_GROUP_INDEX_CHECK(NULL);
    return groups->keys[i];
}

size_t herd_groups_row_count(const herd_groups *groups, size_t i)
{
    HD_GROUPS_CHECK(0);
    HD_GROUP_INDEX_CHECK(0);
    return hd_groups_size_of(groups, i);
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
    size_t i = hd_key_index_find(&groups->find_index, groups->keys, key);
    if (i != (size_t)-1) {
        *index = i;
        return HERD_OK;
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
