/* Tests of the UBJSON/JSON reader (ubjson.c) and the XGBoost model checker
 * (modelcheck.c).  No XGBoost: the valid models are committed fixtures
 * (tests/data/models, written by make_models.py) and every broken model
 * is made here by editing their bytes.  Inputs are copied into buffers of
 * exactly their length, so that valgrind and ASan see any read past the
 * end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "model/modelcheck_internal.h"
#include "model/ubjson_internal.h"

#define ERR_HAS(text)                                                              \
    do {                                                                           \
        if (!strstr(herd_last_error(), (text)))                                    \
            fail_msg("last error \"%s\" lacks \"%s\"", herd_last_error(), (text)); \
    } while (0)

/* ------------------------------------------------------------------------
 * Buffers and fixtures
 * --------------------------------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t len;
} buf;

static buf buf_dup(const void *p, size_t len)
{
    buf b = {malloc(len ? len : 1), len};
    assert_non_null(b.p);
    if (len) memcpy(b.p, p, len);
    return b;
}

static buf buf_str(const char *s)
{
    return buf_dup(s, strlen(s));
}

static void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
}

/* A committed model from tests/data/models. */
static buf fixture(const char *name)
{
    const char *root = getenv("HERD_TEST_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/models/%s", root ? root : "..", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (set HERD_TEST_SOURCE_DIR)", path);
    buf b = {NULL, 0};
    size_t cap = 0;
    for (;;) {
        if (b.len == cap) {
            cap = cap ? 2 * cap : 4096;
            b.p = realloc(b.p, cap);
            assert_non_null(b.p);
        }
        size_t n = fread(b.p + b.len, 1, cap - b.len, f);
        if (n == 0) break;
        b.len += n;
    }
    fclose(f);
    buf exact = buf_dup(b.p, b.len); /* no slack after the end */
    free(b.p);
    return exact;
}

/* hd_model_check on b, expecting `code` and (if not NULL) a message part. */
static void expect(const buf *b, int code, const char *text)
{
    hd_model_info info;
    int rc = hd_model_check(b->p, b->len, &info);
    if (rc != code)
        fail_msg("hd_model_check gave %s (%s), expected %s", herd_status_str(rc),
                 rc ? herd_last_error() : "", herd_status_str(code));
    if (text) ERR_HAS(text);
}

/* Replace the first `old` in a JSON model by `new`. */
static buf json_edit(const buf *b, const char *old, const char *new_text)
{
    unsigned char *at = memmem(b->p, b->len, old, strlen(old));
    if (!at) fail_msg("\"%s\" is not in the JSON model", old);
    size_t pre = (size_t)(at - b->p), ol = strlen(old), nl = strlen(new_text);
    buf r = {malloc(b->len - ol + nl), b->len - ol + nl};
    assert_non_null(r.p);
    memcpy(r.p, b->p, pre);
    memcpy(r.p + pre, new_text, nl);
    memcpy(r.p + pre + nl, at + ol, b->len - pre - ol);
    return r;
}

/* In a UBJSON model, the offset of the value of the nth (from 0)
 * occurrence of `key` ("L" + 8-byte big-endian length + key). */
static size_t ubj_value(const buf *b, const char *key, int nth)
{
    unsigned char pat[80];
    size_t kl = strlen(key);
    pat[0] = 'L';
    for (int i = 0; i < 8; i++) pat[1 + i] = (unsigned char)((uint64_t)kl >> (56 - 8 * i));
    memcpy(pat + 9, key, kl);
    const unsigned char *from = b->p;
    for (int k = 0;; k++) {
        const unsigned char *at = memmem(from, b->len - (size_t)(from - b->p), pat, kl + 9);
        if (!at) fail_msg("occurrence %d of key \"%s\" is not in the UBJSON model", nth, key);
        if (k == nth) return (size_t)(at - b->p) + kl + 9;
        from = at + 1;
    }
}

/* Element i of the typed array "[$x#L<8 bytes>" that is the value of the
 * nth `key`. */
static unsigned char *ubj_elem(const buf *b, const char *key, int nth, size_t i, size_t size)
{
    size_t off = ubj_value(b, key, nth);
    assert_int_equal(b->p[off], '[');
    assert_int_equal(b->p[off + 1], '$');
    return b->p + off + 13 + i * size;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_be32(p, v);
}

/* Set int32 element `node` of tree `t`'s array `key`. */
static void set_i32(const buf *b, int t, const char *key, size_t node, int32_t v)
{
    put_be32(ubj_elem(b, key, t, node, 4), (uint32_t)v);
}

static int32_t get_i32(const buf *b, int t, const char *key, size_t node)
{
    return (int32_t)get_be32(ubj_elem(b, key, t, node, 4));
}

/* ------------------------------------------------------------------------
 * Valid models
 * --------------------------------------------------------------------- */

static void check_info(const char *name, size_t trees, size_t num_class, size_t nodes,
                       const char *objective, const char *booster)
{
    buf b = fixture(name);
    hd_model_info info;
    memset(&info, 0xAB, sizeof info);
    if (hd_model_check(b.p, b.len, &info) != HERD_OK)
        fail_msg("%s: %s", name, herd_last_error());
    assert_int_equal(info.num_feature, 3);
    assert_int_equal(info.num_trees, trees);
    assert_int_equal(info.num_class, num_class);
    assert_int_equal(info.total_nodes, nodes);
    assert_string_equal(info.objective, objective);
    assert_string_equal(info.booster, booster);
    assert_int_equal(hd_model_check(b.p, b.len, NULL), HERD_OK); /* info is optional */
    buf_free(&b);
}

static void test_valid_models(void **state)
{
    (void)state;
    check_info("reg3.ubj", 3, 0, 21, "reg:squarederror", "gbtree");
    check_info("reg3.json", 3, 0, 21, "reg:squarederror", "gbtree");
    check_info("tiny.ubj", 1, 0, 3, "reg:squarederror", "gbtree");
    check_info("multiclass.ubj", 6, 3, 22, "multi:softprob", "gbtree");
    check_info("dart.ubj", 3, 0, 21, "reg:squarederror", "dart");
    check_info("pruned.ubj", 2, 0, 22, "reg:squarederror", "gbtree"); /* 12 deleted nodes */
}

/* Not models at all: HERD_EFORMAT before any parsing, saying why. */
static void test_not_a_model(void **state)
{
    (void)state;
    buf b = buf_str("");
    expect(&b, HERD_EFORMAT, "0 bytes cannot be an XGBoost model");
    buf_free(&b);
    b = buf_str("binf\x01\x02\x03");
    expect(&b, HERD_EFORMAT, "old binary format");
    buf_free(&b);
    b = buf_str("{ \"learner\": {}}"); /* XGBoost would take this for its binary format */
    expect(&b, HERD_EFORMAT, "'{' is followed by byte 0x20");
    buf_free(&b);
    b = buf_str("{\"not\": \"a model\"}");
    expect(&b, HERD_EFORMAT, "no \"learner\" object");
    buf_free(&b);
    b = buf_str("[1, 2]");
    expect(&b, HERD_EFORMAT, "not '{'");
    buf_free(&b);
    assert_int_equal(hd_model_check(NULL, 5, NULL), HERD_EINVAL);

    buf m = fixture("reg3.json");
    b = json_edit(&m, "\"version\":[1,7,4]", "\"version\":[2,0,3]");
    expect(&b, HERD_EFORMAT, "saved by XGBoost 2.0.3; herd reads models saved by XGBoost 1.x");
    buf_free(&b);
    b = json_edit(&m, "\"name\":\"gbtree\"", "\"name\":\"gblinear\"");
    expect(&b, HERD_EFORMAT, "\"gblinear\"");
    buf_free(&b);
    b = json_edit(&m, "\"version\":[1,7,4]", "\"version\":[1,7]");
    expect(&b, HERD_ECORRUPT, "version is not three non-negative integers");
    buf_free(&b);
    buf_free(&m);
}

/* ------------------------------------------------------------------------
 * Tree structure
 * --------------------------------------------------------------------- */

/* The crash XGBoost 1.7 does not prevent: a child index out of range. */
static void test_child_out_of_range(void **state)
{
    (void)state;
    buf b = fixture("reg3.ubj");
    set_i32(&b, 0, "right_children", 0, 99);
    char msg[160];
    snprintf(msg, sizeof msg,
             "model: tree 0, node 0: right child 99 is out of range (the tree has 7 nodes) "
             "(byte %zu)",
             (size_t)(ubj_elem(&b, "right_children", 0, 0, 4) - b.p));
    expect(&b, HERD_ECORRUPT, msg);
    assert_string_equal(herd_last_error(), msg);
    set_i32(&b, 0, "right_children", 0, 2);
    expect(&b, HERD_OK, NULL);

    set_i32(&b, 2, "left_children", 2, -7);
    expect(&b, HERD_ECORRUPT, "tree 2, node 2: left child -7 is out of range");
    set_i32(&b, 2, "left_children", 2, 0);
    expect(&b, HERD_ECORRUPT, "tree 2, node 2: left child is 0, the root");
    set_i32(&b, 2, "left_children", 2, 5);
    expect(&b, HERD_OK, NULL);
    buf_free(&b);

    /* the same in JSON, without byte offsets */
    buf j = fixture("reg3.json");
    b = json_edit(&j, "\"right_children\":[2,4,6", "\"right_children\":[2,4,99");
    expect(&b, HERD_ECORRUPT,
           "model: tree 0, node 2: right child 99 is out of range (the tree has 7 nodes)");
    assert_null(strstr(herd_last_error(), "byte"));
    buf_free(&b);
    b = json_edit(&j, "\"left_children\":[1,3,5", "\"left_children\":[1,3,4294967301");
    expect(&b, HERD_ECORRUPT, "node 2: left_children is 4294967301, not an integer");
    buf_free(&b);
    b = json_edit(&j, "\"left_children\":[1,3,5", "\"left_children\":[1,3,5.5");
    expect(&b, HERD_ECORRUPT, "node 2: left_children is 5.5, not an integer");
    buf_free(&b);
    b = json_edit(&j, "\"left_children\":[1,3,5", "\"left_children\":[1,3,\"5\"");
    expect(&b, HERD_ECORRUPT, "node 2: left_children is a string, not an integer");
    buf_free(&b);
    buf_free(&j);
}

/* Node 0 -> (1, 2), 1 -> (3, 4), 2 -> (5, 6) in every reg3 tree. */
static void test_cycles_and_parents(void **state)
{
    (void)state;
    buf b = fixture("reg3.ubj");
    /* node 3 becomes internal, pointing back at its ancestor 1 */
    set_i32(&b, 0, "left_children", 3, 1);
    set_i32(&b, 0, "right_children", 3, 2);
    expect(&b, HERD_ECORRUPT,
           "tree 0, node 1: it has two parents, nodes 0 and 3: the tree has a cycle");
    buf_free(&b);

    /* node 2 also claims nodes 3 and 4 */
    b = fixture("reg3.ubj");
    set_i32(&b, 1, "left_children", 2, 3);
    set_i32(&b, 1, "right_children", 2, 4);
    expect(&b, HERD_ECORRUPT, "tree 1, node 3: it has two parents, nodes 1 and 2");
    buf_free(&b);

    /* a cycle of its own, off the root: node 1 becomes a leaf, node 3
     * points at itself and at 4 */
    b = fixture("reg3.ubj");
    set_i32(&b, 0, "left_children", 1, -1);
    set_i32(&b, 0, "right_children", 1, -1);
    set_i32(&b, 0, "left_children", 3, 3);
    set_i32(&b, 0, "right_children", 3, 4);
    set_i32(&b, 0, "parents", 3, 3);
    set_i32(&b, 0, "parents", 4, 3);
    expect(&b, HERD_ECORRUPT, "tree 0, node 3: it is not reachable from the root");
    buf_free(&b);

    /* a disconnected node: node 1 becomes a leaf, 3 and 4 lose their parent */
    b = fixture("reg3.ubj");
    set_i32(&b, 0, "left_children", 1, -1);
    set_i32(&b, 0, "right_children", 1, -1);
    expect(&b, HERD_ECORRUPT, "tree 0, node 3: no node has it as a child");
    buf_free(&b);

    /* parents[] disagreeing, out of range, and a wrong root marker */
    b = fixture("reg3.ubj");
    set_i32(&b, 2, "parents", 3, 2);
    expect(&b, HERD_ECORRUPT, "tree 2, node 3: parents[] says 2 but node 1 has it as a child");
    set_i32(&b, 2, "parents", 3, 1000);
    expect(&b, HERD_ECORRUPT, "tree 2, node 3: parent 1000 is out of range");
    set_i32(&b, 2, "parents", 3, 1);
    set_i32(&b, 2, "parents", 0, 0);
    expect(&b, HERD_ECORRUPT, "tree 2, node 0: the root's parent is 0");
    set_i32(&b, 2, "parents", 0, 2147483647);
    expect(&b, HERD_OK, NULL);

    /* one child, the same child twice, children apart */
    set_i32(&b, 0, "right_children", 1, -1);
    expect(&b, HERD_ECORRUPT, "tree 0, node 1: left child is 3 but right child is -1");
    set_i32(&b, 0, "right_children", 1, 3);
    expect(&b, HERD_ECORRUPT, "tree 0, node 1: right child is 3 but XGBoost's predictor takes "
                              "it to be the left child + 1 (4)");
    set_i32(&b, 0, "right_children", 2, 4); /* 2 -> (5, 4): 4 also has two parents */
    set_i32(&b, 0, "right_children", 1, 4);
    expect(&b, HERD_ECORRUPT, "tree 0, node 2: right child is 4 but");
    buf_free(&b);

    /* the left child as the last node: XGBoost would go to node 7 of 7 */
    b = fixture("reg3.ubj");
    set_i32(&b, 2, "left_children", 2, 6);
    set_i32(&b, 2, "right_children", 2, 5);
    expect(&b, HERD_ECORRUPT, "tree 2, node 2: right child is 5 but XGBoost's predictor takes it "
                              "to be the left child + 1 (7)");
    buf_free(&b);
}

static void test_split_features_and_values(void **state)
{
    (void)state;
    buf b = fixture("reg3.ubj");
    set_i32(&b, 1, "split_indices", 0, 3);
    expect(&b, HERD_ECORRUPT,
           "tree 1, node 0: split feature 3 is out of range (the tree has 3 features)");
    set_i32(&b, 1, "split_indices", 0, -1);
    expect(&b, HERD_ECORRUPT, "tree 1, node 0: split_indices is -1, not an integer");
    set_i32(&b, 1, "split_indices", 0, 2);
    /* a leaf's split index is never used: any non-negative one passes */
    set_i32(&b, 1, "split_indices", 5, 1000);
    expect(&b, HERD_OK, NULL);

    unsigned char *cond = ubj_elem(&b, "split_conditions", 0, 1, 4);
    put_f32(cond, NAN);
    expect(&b, HERD_ECORRUPT, "tree 0, node 1: split condition is nan");
    put_f32(cond, 0.5f);
    cond = ubj_elem(&b, "split_conditions", 0, 6, 4);
    put_f32(cond, -INFINITY);
    expect(&b, HERD_ECORRUPT, "tree 0, node 6: leaf value is -inf");
    put_f32(cond, 1.0f);
    put_f32(ubj_elem(&b, "base_weights", 2, 4, 4), INFINITY);
    expect(&b, HERD_ECORRUPT, "tree 2, node 4: base weight is inf");
    put_f32(ubj_elem(&b, "base_weights", 2, 4, 4), 0.25f);
    ubj_elem(&b, "default_left", 0, 3, 1)[0] = 2;
    expect(&b, HERD_ECORRUPT, "tree 0, node 3: default_left is 2, not an integer from 0 to 1");
    ubj_elem(&b, "default_left", 0, 3, 1)[0] = 0;
    expect(&b, HERD_OK, NULL);
    buf_free(&b);

    /* JSON numbers beyond the float range are infinite for XGBoost */
    buf j = fixture("reg3.json");
    b = json_edit(&j, "\"split_conditions\":[5E-1", "\"split_conditions\":[5E38");
    expect(&b, HERD_ECORRUPT, "tree 0, node 0: split condition is inf");
    buf_free(&b);
    b = json_edit(&j, "\"split_conditions\":[5E-1", "\"split_conditions\":[5E999");
    expect(&b, HERD_ECORRUPT, "a number is too large for a double");
    buf_free(&b);
    b = json_edit(&j, "\"split_conditions\":[5E-1", "\"split_conditions\":[NaN");
    expect(&b, HERD_ECORRUPT, "the JSON is malformed");
    buf_free(&b);
    buf_free(&j);
}

static void test_array_lengths(void **state)
{
    (void)state;
    buf j = fixture("reg3.json");
    buf b = json_edit(&j, "\"num_nodes\":\"7\"", "\"num_nodes\":\"8\"");
    expect(&b, HERD_ECORRUPT, "tree 0: left_children has 7 entries but num_nodes is 8");
    buf_free(&b);
    b = json_edit(&j, "\"parents\":[2147483647,0,0,1,1,2,2]", "\"parents\":[2147483647,0,0,1,1,2]");
    expect(&b, HERD_ECORRUPT, "tree 0: parents has 6 entries but num_nodes is 7");
    buf_free(&b);
    b = json_edit(&j, "\"parents\":[2147483647,0,0,1,1,2,2]", "\"parents\":{}");
    expect(&b, HERD_ECORRUPT, "tree 0: parents is an object, not an array");
    buf_free(&b);
    b = json_edit(&j, "\"sum_hessian\":[2E2,", "\"sum_hessian\":[true,");
    expect(&b, HERD_ECORRUPT, "tree 0, node 0: sum_hessian is a boolean, not a number");
    buf_free(&b);
    b = json_edit(&j, "\"num_nodes\":\"7\"", "\"num_nodes\":\"0\"");
    expect(&b, HERD_ECORRUPT, "num_nodes is 0");
    buf_free(&b);
    b = json_edit(&j, "\"num_nodes\":\"7\"", "\"num_nodes\":\"+7\"");
    expect(&b, HERD_ECORRUPT, "tree 0: tree_param.num_nodes is \"+7\", not a non-negative integer");
    buf_free(&b);
    b = json_edit(&j, "\"num_nodes\":\"7\"", "\"num_nodes\":7");
    expect(&b, HERD_ECORRUPT, "tree_param.num_nodes is a number, not a string");
    buf_free(&b);
    b = json_edit(&j, "\"left_children\":[1,3,5,-1,-1,-1,-1],", "");
    expect(&b, HERD_ECORRUPT, "tree 0: left_children is missing");
    buf_free(&b);
    buf_free(&j);

    /* num_nodes in UBJSON: "S" "L" <8-byte length 1> "7" */
    b = fixture("reg3.ubj");
    size_t off = ubj_value(&b, "num_nodes", 1);
    assert_int_equal(b.p[off + 10], '7');
    b.p[off + 10] = '6';
    expect(&b, HERD_ECORRUPT, "tree 1: left_children has 7 entries but num_nodes is 6 (byte ");
    buf_free(&b);
}

/* reg3.json with `n` copies of its first tree (ids 0..n-1); tree `bad`
 * gets `bad_new` in place of `bad_old`. */
static buf many_trees(size_t n, size_t bad, const char *bad_old, const char *bad_new)
{
    buf j = fixture("reg3.json");
    char *text = calloc(1, j.len + 1);
    assert_non_null(text);
    memcpy(text, j.p, j.len);
    buf_free(&j);
    const char *head_end = strstr(text, "\"num_trees\":\"3\"");
    const char *ti = strstr(text, "\"tree_info\":[0,0,0],\"trees\":[");
    const char *tree0 = ti ? ti + strlen("\"tree_info\":[0,0,0],\"trees\":[") : NULL;
    const char *tree1 = tree0 ? strstr(tree0, "},{\"base_weights\"") : NULL;
    const char *tail = strstr(text, "}]},\"name\":\"gbtree\"");
    assert_true(head_end && ti && tree1 && tail);
    tree1++; /* the first tree ends with its '}' */
    size_t cap = j.len + n * ((size_t)(tree1 - tree0) + 64) + 64, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
#define MT_PUT(p, l) (assert_true(len + (size_t)(l) < cap), memcpy(out + len, p, l), len += (size_t)(l))
    MT_PUT(text, head_end - text);
    len += (size_t)snprintf(out + len, cap - len, "\"num_trees\":\"%zu\"", n);
    const char *after_nt = head_end + strlen("\"num_trees\":\"3\"");
    MT_PUT(after_nt, ti - after_nt);
    MT_PUT("\"tree_info\":[", 13);
    for (size_t t = 0; t < n; t++) MT_PUT(t ? ",0" : "0", t ? 2 : 1);
    MT_PUT("],\"trees\":[", 11);
    for (size_t t = 0; t < n; t++) {
        buf one = buf_dup(tree0, (size_t)(tree1 - tree0));
        char id[32];
        snprintf(id, sizeof id, "\"id\":%zu,", t);
        buf tr = json_edit(&one, "\"id\":0,", id);
        buf_free(&one);
        if (t == bad) {
            one = tr;
            tr = json_edit(&one, bad_old, bad_new);
            buf_free(&one);
        }
        if (t) MT_PUT(",", 1);
        MT_PUT(tr.p, tr.len);
        buf_free(&tr);
    }
    MT_PUT("]", 1); /* the tail starts with the last tree's closing brace */
    MT_PUT(tail + 2, strlen(tail + 2));
#undef MT_PUT
    free(text);
    return (buf){(unsigned char *)out, len};
}

/* Messages name trees past the first few by their whole number. */
static void test_tree_numbers(void **state)
{
    (void)state;
    buf b = many_trees(101, SIZE_MAX, "", "");
    hd_model_info info;
    if (hd_model_check(b.p, b.len, &info)) fail_msg("%s", herd_last_error());
    assert_int_equal(info.num_trees, 101);
    buf_free(&b);
    b = many_trees(101, 100, "\"num_nodes\":\"7\"", "\"num_nodes\":\"+7\"");
    expect(&b, HERD_ECORRUPT,
           "tree 100: tree_param.num_nodes is \"+7\", not a non-negative integer");
    buf_free(&b);
    b = many_trees(12, 10, "\"left_children\":[1,3,5,-1,-1,-1,-1],", "");
    expect(&b, HERD_ECORRUPT, "tree 10: left_children is missing");
    buf_free(&b);
}

/* Trees, tree_info and the learner's numbers must agree. */
static void test_model_level(void **state)
{
    (void)state;
    buf j = fixture("reg3.json");
    buf b = json_edit(&j, "\"num_trees\":\"3\"", "\"num_trees\":\"4\"");
    expect(&b, HERD_ECORRUPT, "num_trees is 4 but trees has 3 entries");
    buf_free(&b);
    b = json_edit(&j, "\"tree_info\":[0,0,0]", "\"tree_info\":[0,0]");
    expect(&b, HERD_ECORRUPT, "tree_info has 2 entries but the model has 3 trees");
    buf_free(&b);
    b = json_edit(&j, "\"tree_info\":[0,0,0]", "\"tree_info\":[0,1,0]");
    expect(&b, HERD_ECORRUPT, "tree_info[1] is 1; the model has 1 output group");
    buf_free(&b);
    b = json_edit(&j, "\"id\":1,", "\"id\":0,");
    expect(&b, HERD_ECORRUPT, "tree 1: id 0 is also the id of tree 0");
    buf_free(&b);
    b = json_edit(&j, "\"id\":1,", "\"id\":3,");
    expect(&b, HERD_ECORRUPT, "tree 1: id is 3; ids run from 0 to 2");
    buf_free(&b);
    b = json_edit(&j, "\"num_parallel_tree\":\"1\"", "\"num_parallel_tree\":\"0\"");
    expect(&b, HERD_ECORRUPT, "num_parallel_tree is 0");
    buf_free(&b);
    b = json_edit(&j, "\"num_feature\":\"3\",\"num_target\"", "\"num_feature\":\"2\",\"num_target\"");
    expect(&b, HERD_ECORRUPT, "learner.feature_names has 3 entries but num_feature is 2");
    buf_free(&b);
    b = json_edit(&j, "\"feature_names\":[\"x0\",\"x1\",\"promo\"]", "\"feature_names\":[]");
    expect(&b, HERD_OK, NULL); /* XGBoost writes [] for a model without names */
    buf_free(&b);
    b = json_edit(&j, "\"feature_types\":[\"float\",\"float\",\"int\"]",
                  "\"feature_types\":[\"float\",\"float\",3]");
    expect(&b, HERD_ECORRUPT, "learner.feature_types[2] is a number, not a string");
    buf_free(&b);
    b = json_edit(&j, "\"num_feature\":\"3\",\"num_target\"", "\"num_feature\":\"0\",\"num_target\"");
    expect(&b, HERD_ECORRUPT, "num_feature is 0");
    buf_free(&b);
    b = json_edit(&j, "\"base_score\":\"5E-1\"", "\"base_score\":\"0x1p3\"");
    expect(&b, HERD_ECORRUPT, "base_score is \"0x1p3\", not a number");
    buf_free(&b);
    b = json_edit(&j, "\"base_score\":\"5E-1\"", "\"base_score\":\"1e39\"");
    expect(&b, HERD_ECORRUPT, "which is not a finite float");
    buf_free(&b);
    b = json_edit(&j, "\"learner_model_param\"", "\"Learner_model_param\""); /* case matters */
    expect(&b, HERD_ECORRUPT, "learner.learner_model_param is missing");
    buf_free(&b);
    buf_free(&j);

    /* multiclass: the objective's num_class must be the learner's */
    b = fixture("multiclass.ubj");
    size_t off = ubj_value(&b, "num_class", 1); /* learner_model_param's, then softmax's */
    assert_int_equal(b.p[off + 10], '3');
    b.p[off + 10] = '4';
    expect(&b, HERD_ECORRUPT, "softmax_multiclass_param.num_class is 4 but "
                              "learner_model_param.num_class is 3");
    buf_free(&b);
    b = fixture("multiclass.ubj");
    off = ubj_value(&b, "tree_info", 0); /* "[#L<8>" then "i<byte>" per tree */
    assert_int_equal(b.p[off + 11 + 2 * 5], 'i');
    assert_int_equal(b.p[off + 12 + 2 * 5], 2);
    b.p[off + 12 + 2 * 5] = 3;
    expect(&b, HERD_ECORRUPT, "tree_info[5] is 3; the model has 3 output groups");
    buf_free(&b);

    /* DART: one finite weight per tree */
    b = fixture("dart.ubj");
    off = ubj_value(&b, "weight_drop", 0); /* "[#L<8>" then "d<4 bytes>" per tree */
    assert_int_equal(b.p[off + 11 + 5], 'd');
    put_f32(b.p + off + 12 + 5, NAN);
    expect(&b, HERD_ECORRUPT, "weight_drop[1] is nan, not a finite number");
    buf_free(&b);
}

/* The caps of modelcheck_internal.h and herd.h: HERD_ELIMIT. */
static void test_limits(void **state)
{
    (void)state;
    buf j = fixture("reg3.json");
    buf b = json_edit(&j, "\"num_nodes\":\"7\"", "\"num_nodes\":\"1000001\"");
    expect(&b, HERD_ELIMIT, "num_nodes is 1000001; herd's limit is 1000000 nodes per tree");
    buf_free(&b);
    b = json_edit(&j, "\"num_trees\":\"3\"", "\"num_trees\":\"18446744073709551615\"");
    expect(&b, HERD_ELIMIT, "herd's limit is 1000000 trees");
    buf_free(&b);
    b = json_edit(&j, "\"num_trees\":\"3\"", "\"num_trees\":\"18446744073709551616\"");
    expect(&b, HERD_ECORRUPT, "not a non-negative integer"); /* overflows uint64 */
    buf_free(&b);
    b = json_edit(&j, "\"num_feature\":\"3\",\"num_target\"",
                  "\"num_feature\":\"100001\",\"num_target\"");
    expect(&b, HERD_ELIMIT, "num_feature is 100001; herd's limit is 100000 features");
    buf_free(&b);
    b = json_edit(&j, "\"num_class\":\"0\"", "\"num_class\":\"1000000\"");
    expect(&b, HERD_ELIMIT, "outputs per row");
    buf_free(&b);
    buf_free(&j);
}

/* Nodes the pruner deleted are fine where XGBoost puts them, not
 * elsewhere. */
static void test_deleted_nodes(void **state)
{
    (void)state;
    buf b = fixture("pruned.ubj");
    size_t n = 11, deleted = 0, live_leaf = 0;
    for (size_t i = 1; i < n; i++) {
        int del = get_i32(&b, 0, "split_indices", i) == 2147483647 &&
                  ubj_elem(&b, "default_left", 0, i, 1)[0];
        deleted += (size_t)del;
        if (!del && get_i32(&b, 0, "left_children", i) == -1 && !live_leaf) live_leaf = i;
    }
    assert_int_equal(deleted, 6);
    assert_true(live_leaf > 0);
    /* a leaf that is still some node's child must not be marked deleted */
    set_i32(&b, 0, "split_indices", live_leaf, 2147483647);
    ubj_elem(&b, "default_left", 0, live_leaf, 1)[0] = 1;
    expect(&b, HERD_ECORRUPT, "is a deleted node");
    buf_free(&b);

    b = fixture("pruned.ubj");
    size_t off = ubj_value(&b, "num_deleted", 0);
    assert_int_equal(b.p[off + 10], '6');
    b.p[off + 10] = '5';
    expect(&b, HERD_ECORRUPT, "tree 0: tree_param.num_deleted is 5 but 6 nodes are marked deleted");
    buf_free(&b);
}

static void test_categorical(void **state)
{
    (void)state;
    buf b = fixture("reg3.ubj");
    ubj_elem(&b, "split_type", 1, 2, 1)[0] = 1;
    expect(&b, HERD_EFORMAT, "tree 1, node 2: a categorical split; herd does not support");
    ubj_elem(&b, "split_type", 1, 2, 1)[0] = 7;
    expect(&b, HERD_ECORRUPT, "split_type is 7");
    buf_free(&b);
    buf j = fixture("reg3.json");
    b = json_edit(&j, "\"categories\":[]", "\"categories\":[1,2]");
    expect(&b, HERD_ECORRUPT, "tree 0: categories has 2 entries but the tree has no categorical");
    buf_free(&b);
    b = json_edit(&j, "\"categories_sizes\":[],", "");
    expect(&b, HERD_ECORRUPT, "tree 0: categories_sizes is missing");
    buf_free(&b);
    b = json_edit(&j, "\"size_leaf_vector\":\"0\"}}", "\"size_leaf_vector\":\"3\"}}");
    expect(&b, HERD_EFORMAT, "multi-target trees are not supported");
    buf_free(&b);
    buf_free(&j);
}

/* ------------------------------------------------------------------------
 * Hostile encodings
 * --------------------------------------------------------------------- */

/* UBJSON bytes: "{" "L"<len> "learner" + tail. */
static buf ubj_learner(const unsigned char *tail, size_t tail_len)
{
    unsigned char head[17] = {'{', 'L', 0, 0, 0, 0, 0, 0, 0, 7, 'l', 'e', 'a', 'r', 'n', 'e', 'r'};
    buf b = {malloc(sizeof head + tail_len), sizeof head + tail_len};
    assert_non_null(b.p);
    memcpy(b.p, head, sizeof head);
    memcpy(b.p + sizeof head, tail, tail_len);
    return b;
}

/* Counts and lengths that could never fit are refused before anything is
 * allocated for them. */
static void test_huge_counts(void **state)
{
    (void)state;
    static const struct {
        unsigned char tail[16];
        size_t len;
        const char *msg;
    } cases[] = {
        {{'[', '#', 'L', 0x40, 0, 0, 0, 0, 0, 0, 0}, 11,
         "a count of 4611686018427387904 members does not fit in the 0 bytes left"},
        {{'[', '$', 'd', '#', 'L', 0x40, 0, 0, 0, 0, 0, 0, 0, 'x'}, 14,
         "a typed array of 4611686018427387904 'd' values does not fit"},
        {{'[', '$', 'L', '#', 'L', 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 13,
         "a typed array of 9223372036854775807 'L' values"}, /* count * 8 overflows */
        {{'S', 'L', 0x40, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'}, 12,
         "a string of 4611686018427387904 bytes does not fit in the 2 bytes left"},
        {{'{', 'L', 0x40, 0, 0, 0, 0, 0, 0, 0, 'k'}, 11, "a key of 4611686018427387904 bytes"},
        {{'{', '#', 'U', 200, 'U', 1, 'a', 'Z'}, 8, "a count of 200 members does not fit"},
        {{'[', '#', 'L', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 11,
         "a container's count is negative (-1)"},
        {{'S', 'i', 0xFF}, 3, "a string's length is negative"},
        {{'[', '$', 'd', '#', 'I', 0x00}, 6, "a container's count needs 2 bytes but only 1 remain"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        buf b = ubj_learner(cases[k].tail, cases[k].len);
        expect(&b, HERD_ECORRUPT, cases[k].msg);
        buf_free(&b);
    }
}

static buf repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    buf b = {malloc(hl + ul * n + tl), hl + ul * n + tl};
    assert_non_null(b.p);
    memcpy(b.p, head, hl);
    for (size_t i = 0; i < n; i++) memcpy(b.p + hl + i * ul, unit, ul);
    memcpy(b.p + hl + ul * n, tail, tl);
    return b;
}

/* 10,000 nested containers: HERD_ELIMIT at the cap, without recursion. */
static void test_nesting_bombs(void **state)
{
    (void)state;
    buf b = repeat("{\"learner\":", "[", 10000, "");
    expect(&b, HERD_ELIMIT, "nested more than 64 deep");
    buf_free(&b);
    b = repeat("{\"learner\":", "{\"a\":", 10000, "");
    expect(&b, HERD_ELIMIT, "JSON byte ");
    buf_free(&b);
    /* UBJSON: {"a": [[[[... ; '{' is level 1, the '[' at byte 74 level 65 */
    unsigned char head[11] = {'{', 'L', 0, 0, 0, 0, 0, 0, 0, 1, 'a'};
    b.len = sizeof head + 10000;
    b.p = malloc(b.len);
    assert_non_null(b.p);
    memcpy(b.p, head, sizeof head);
    memset(b.p + sizeof head, '[', 10000);
    expect(&b, HERD_ELIMIT, "UBJSON byte 74: containers are nested more than 64 deep");
    buf_free(&b);

    /* exactly at the cap is fine for both readers, one more is not */
    hd_jdoc *doc = NULL;
    size_t cap = HD_MODEL_MAX_DEPTH_NESTING;
    char *deep = malloc(2 * cap + 2);
    assert_non_null(deep);
    for (int extra = 0; extra <= 1; extra++) {
        size_t d = cap + (size_t)extra;
        memset(deep, '[', d);
        memset(deep + d, ']', d);
        int want = extra ? HERD_ELIMIT : HERD_OK;
        assert_int_equal(hd_jdoc_parse_json(deep, 2 * d, &doc), want);
        hd_jdoc_free(doc);
        assert_int_equal(hd_jdoc_parse_ubjson(deep, 2 * d, &doc), want);
        hd_jdoc_free(doc);
    }
    free(deep);
}

/* JSON text cJSON would take but herd must not. */
static void test_json_pitfalls(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"{\"a\":1,\"a\":2}", "the key \"a\" appears twice in one object"},
        {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
         "\"k9\":9,\"k3\":10}",
         "the key \"k3\" appears twice"}, /* the sorted path, past 8 keys */
        /* XGBoost 1.7 keeps \u escapes as six characters (herd would check
         * other text than XGBoost reads) and refuses \/ \b \f. */
        {"{\"a\":\"x\\u0000y\"}", "JSON byte 7: a \\u escape inside a string"},
        {"{\"\\u0061\":1}", "JSON byte 2: a \\u escape inside a string"},
        {"{\"a\":\"x\\u0030\"}", "XGBoost 1.7 keeps it as six characters"},
        {"{\"a\":\"x\\/y\"}", "the escape \\/ inside a string: XGBoost 1.7 reads only"},
        {"{\"a\":\"x\\by\"}", "the escape \\b inside a string"},
        {"{\"a\":\"x\\fy\"}", "the escape \\f inside a string"},
        {"{\"a\":\"x\\\xC3\xA9\"}", "a backslash before byte 0xC3"},
        {"{\"a\":\"\xC3\x28\"}", "JSON byte 6: invalid UTF-8"},
        {"{\"a\":\"\xED\xA0\x80\"}", "invalid UTF-8"}, /* a UTF-16 surrogate */
        {"{\"a\":\"tab\there\"}", "control byte 0x09 inside a string"},
        {"{\"a\":1}\x01", "control byte 0x01 outside a string"},
        {"{\"a\":1} x", "JSON byte 8: 1 unexpected byte after the document"},
        {"{\"a\":1,}", "the JSON is malformed"},
        {"{\"a\":\"unterminated}", "is not terminated"},
        {"{\"a\":\"\\ud800\"}", "a \\u escape"}, /* a lone surrogate escape */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        hd_jdoc *doc = (hd_jdoc *)&doc;
        buf b = buf_str(cases[k].text);
        int rc = hd_jdoc_parse_json(b.p, b.len, &doc);
        if (rc != HERD_ECORRUPT)
            fail_msg("case %zu (%s): %s", k, cases[k].text, herd_status_str(rc));
        assert_null(doc);
        ERR_HAS(cases[k].msg);
        buf_free(&b);
    }
    /* what is fine: the five escapes XGBoost reads alike, raw UTF-8, a
     * repeated key in another object */
    hd_jdoc *doc = NULL;
    buf b = buf_str(" {\"a\":\"\xC3\xA9\\n\\t\\r\\\"\\\\\",\"b\":{\"a\":[1,2.5,-3e2,true,null]}} \n");
    assert_int_equal(hd_jdoc_parse_json(b.p, b.len, &doc), HERD_OK);
    size_t len;
    assert_string_equal(hd_jdoc_string(doc, hd_jdoc_member(doc, 0, "a"), &len),
                        "\xC3\xA9\n\t\r\"\\");
    assert_int_equal(len, 7);
    size_t arr = hd_jdoc_member(doc, hd_jdoc_member(doc, 0, "b"), "a");
    assert_int_equal(hd_jdoc_count(doc, arr), 5);
    hd_jiter it;
    hd_jnum v;
    hd_jiter_init(&it, doc, arr);
    assert_true(hd_jiter_next(&it, &v) && v.integral && v.i == 1);
    assert_true(hd_jiter_next(&it, &v) && !v.integral && v.f == 2.5);
    assert_true(hd_jiter_next(&it, &v) && v.integral && v.i == -300);
    assert_true(hd_jiter_next(&it, &v) && v.type == HD_J_BOOL && v.i == 1);
    assert_true(hd_jiter_next(&it, &v) && v.type == HD_J_NULL && !v.integral);
    assert_false(hd_jiter_next(&it, &v));
    assert_int_equal(hd_jdoc_member(doc, 0, "A"), HD_JNONE); /* case-sensitive */
    hd_jdoc_free(doc);
    buf_free(&b);

    /* and in a model: a repeated "id" in tree 0 */
    buf j = fixture("reg3.json");
    b = json_edit(&j, "\"id\":0,", "\"id\":0,\"id\":1,");
    expect(&b, HERD_ECORRUPT, "model: JSON: the key \"id\" appears twice in one object");
    buf_free(&b);
    b = json_edit(&j, "\"x1\"", "\"x\\u0000\"");
    expect(&b, HERD_ECORRUPT, "a \\u escape inside a string");
    buf_free(&b);
    b = json_edit(&j, "\"x1\"", "\"x\\u0031\""); /* "x1" to cJSON, not to XGBoost */
    expect(&b, HERD_ECORRUPT, "a \\u escape inside a string");
    buf_free(&b);
    buf_free(&j);
}

/* The UBJSON reader on its own: every marker, typed arrays, and what it
 * refuses. */
static void test_ubjson_reader(void **state)
{
    (void)state;
    static const unsigned char ok[] = {
        '{', 'i', 1, 'a', '[', '$', 'i', '#', 'i', 2, 0xFF, 0x7F,            /* a: int8 */
        'i', 1, 'b', '[', '$', 'U', '#', 'i', 1, 0xFF,                       /* b: uint8 */
        'i', 1, 'c', '[', '$', 'I', '#', 'i', 1, 0x80, 0x00,                 /* c: int16 */
        'i', 1, 'd', '[', '$', 'l', '#', 'i', 1, 0xFF, 0xFF, 0xFF, 0xFE,     /* d: int32 */
        'i', 1, 'e', '[', '$', 'L', '#', 'i', 1, 0x80, 0, 0, 0, 0, 0, 0, 0,  /* e: int64 */
        'i', 1, 'f', '[', '$', 'd', '#', 'i', 1, 0x3F, 0xC0, 0, 0,           /* f: 1.5f */
        'i', 1, 'g', '[', '$', 'D', '#', 'i', 1, 0xC0, 0x04, 0, 0, 0, 0, 0, 0, /* -2.5 */
        'i', 1, 'h', '[', 'N', 'T', 'F', 'Z', 'S', 'i', 2, 'h', 'i', ']',    /* generic */
        'i', 1, 'o', '{', '$', 'S', '#', 'i', 1, 'i', 1, 'k', 'i', 1, 'v',  /* typed object */
        'N', '}'};
    hd_jdoc *doc = NULL;
    buf b = buf_dup(ok, sizeof ok);
    if (hd_jdoc_parse_ubjson(b.p, b.len, &doc)) fail_msg("%s", herd_last_error());
    hd_jiter it;
    hd_jnum v;
    const struct {
        const char *key;
        double value;
    } want[] = {{"a", -1}, {"b", 255}, {"c", -32768}, {"d", -2},
                {"e", -9223372036854775807.0 - 1}, {"f", 1.5}, {"g", -2.5}};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        size_t a = hd_jdoc_member(doc, 0, want[k].key);
        assert_int_equal(hd_jdoc_type(doc, a), HD_J_TYPED);
        hd_jiter_init(&it, doc, a);
        assert_true(hd_jiter_next(&it, &v));
        assert_true(v.f == want[k].value);
    }
    assert_true(hd_jiter_next(&it, &v) == 0); /* g has one element */
    hd_jiter_init(&it, doc, hd_jdoc_member(doc, 0, "a"));
    assert_true(hd_jiter_next(&it, &v) && hd_jiter_next(&it, &v) && v.i == 127);
    assert_int_equal(v.offset, 11);
    size_t h = hd_jdoc_member(doc, 0, "h");
    assert_int_equal(hd_jdoc_count(doc, h), 4);
    size_t e = hd_jdoc_first(doc, h);
    assert_int_equal(hd_jdoc_type(doc, e), HD_J_BOOL);
    e = hd_jdoc_next(doc, h, e);
    assert_int_equal(hd_jdoc_type(doc, e), HD_J_BOOL);
    e = hd_jdoc_next(doc, h, hd_jdoc_next(doc, h, e));
    size_t len;
    assert_memory_equal(hd_jdoc_string(doc, e, &len), "hi", 2);
    assert_int_equal(hd_jdoc_next(doc, h, e), HD_JNONE);
    size_t o = hd_jdoc_member(doc, 0, "o");
    assert_memory_equal(hd_jdoc_string(doc, hd_jdoc_member(doc, o, "k"), &len), "v", 1);
    assert_memory_equal(hd_jdoc_key(doc, hd_jdoc_first(doc, o), &len), "k", 1);

    /* The bulk reads give what hd_jiter gives, for every element type, and
     * decline what the checker must walk to name (so that its messages do
     * not change): a value out of range, an array that is not typed. */
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        size_t a = hd_jdoc_member(doc, 0, want[k].key);
        int32_t iv[2] = {0, 0};
        float fv[2] = {0, 0};
        hd_jiter_init(&it, doc, a);
        assert_true(hd_jiter_next(&it, &v));
        assert_true(hd_jdoc_typed_floats(doc, a, fv));
        assert_true(fv[0] == hd_jfloat(v.f));
        assert_true(hd_jdoc_typed_floats(doc, a, NULL));
        int fits = v.type == HD_J_INT && v.i >= INT32_MIN && v.i <= INT32_MAX;
        assert_int_equal(hd_jdoc_typed_ints(doc, a, INT32_MIN, INT32_MAX, iv), fits);
        if (fits) assert_true(iv[0] == v.i);
    }
    int32_t iv[2];
    size_t a8 = hd_jdoc_member(doc, 0, "a"), u8 = hd_jdoc_member(doc, 0, "b");
    assert_true(hd_jdoc_typed_ints(doc, a8, -1, 127, iv) && iv[0] == -1 && iv[1] == 127);
    assert_false(hd_jdoc_typed_ints(doc, a8, 0, 127, iv));    /* -1 below */
    assert_true(hd_jdoc_typed_ints(doc, a8, -1, 127, NULL));  /* the range alone */
    assert_false(hd_jdoc_typed_ints(doc, a8, 0, 127, NULL));
    assert_false(hd_jdoc_typed_ints(doc, a8, -1, 126, iv));   /* 127 above */
    assert_false(hd_jdoc_typed_ints(doc, u8, 0, 1, iv));      /* 255: not a flag */
    assert_true(hd_jdoc_typed_ints(doc, hd_jdoc_member(doc, 0, "d"), -2, -2, iv) && iv[0] == -2);
    assert_false(hd_jdoc_typed_ints(doc, hd_jdoc_member(doc, 0, "d"), -1, 0, iv));
    assert_false(hd_jdoc_typed_ints(doc, a8, INT64_MIN, 0, iv)); /* bounds beyond int32 */
    assert_false(hd_jdoc_typed_ints(doc, hd_jdoc_member(doc, 0, "f"), -10, 10, iv));
    assert_false(hd_jdoc_typed_ints(doc, h, 0, 1, iv));
    assert_false(hd_jdoc_typed_floats(doc, h, NULL));
    assert_false(hd_jdoc_typed_floats(doc, HD_JNONE, NULL));
    assert_true(isinf(hd_jfloat(1e39)) && hd_jfloat(1e39) > 0);
    assert_true(isinf(hd_jfloat(-1e39)) && hd_jfloat(-1e39) < 0);
    assert_true(isnan(hd_jfloat(NAN)) && hd_jfloat(0.1) == 0.1f);
    hd_jdoc_free(doc);
    buf_free(&b);

    static const struct {
        unsigned char in[16];
        size_t len;
        const char *msg;
    } bad[] = {
        {{'{', 'i', 1, 'a', 'C', 'x', '}'}, 7, "UBJSON byte 4: marker 'C' is not supported"},
        {{'{', 'i', 1, 'a', 'H', 'i', 1, '1', '}'}, 9, "marker 'H' is not supported"},
        {{'{', 'i', 1, 'a', 'Z', '}', 'Z'}, 7, "UBJSON byte 6: 1 unexpected byte after the document"},
        {{'[', '$', 'd', 'i', 1, 0, 0, 0, 0}, 9, "a '$' type must be followed by a '#' count"},
        {{'[', '$', 'Z', '#', 'i', 5}, 6, "a container of 'Z' values is not supported"},
        {{'{', 'S', 'i', 1, 'a', 'Z', '}'}, 7, "a key's length must start with an integer marker"},
        {{'{', 'i', 1, 'a', 'Z'}, 5, "the input ends inside the object opened at byte 0"},
        {{'[', 'Z', '}'}, 3, "UBJSON byte 2: '}' closes nothing here"},
        {{'[', 'q', ']'}, 3, "unknown marker 'q'"},
        {{'[', 'S', 'i', 2, 'a', 0, ']'}, 7, "UBJSON byte 5: a string contains a NUL byte"},
        {{'[', 'S', 'i', 1, 0xFF, ']'}, 6, "UBJSON byte 4: a string is not valid UTF-8"},
        {{'{', 'i', 1, 'a', 'Z', 'i', 1, 'a', 'T', '}'}, 10, "the key \"a\" appears twice"},
        {{'d', 0, 0}, 3, "a number needs 4 bytes but only 2 remain"},
        {{0}, 0, "a value needs 1 byte but only 0 remain"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        b = buf_dup(bad[k].in, bad[k].len);
        int rc = hd_jdoc_parse_ubjson(b.p, b.len, &doc);
        if (rc != HERD_ECORRUPT) fail_msg("case %zu: %s", k, herd_status_str(rc));
        ERR_HAS(bad[k].msg);
        buf_free(&b);
    }
}

/* Every prefix of a valid model is an error, never a crash. */
static void truncate_all(const char *name)
{
    buf m = fixture(name);
    for (size_t len = 0; len < m.len; len++) {
        buf b = buf_dup(m.p, len);
        hd_model_info info;
        int rc = hd_model_check(b.p, b.len, &info);
        if (rc != HERD_ECORRUPT && rc != HERD_EFORMAT)
            fail_msg("%s cut to %zu bytes: %s", name, len, herd_status_str(rc));
        assert_int_equal(info.num_trees, 0); /* info is cleared on failure */
        buf_free(&b);
    }
    buf_free(&m);
}

static void test_truncation(void **state)
{
    (void)state;
    truncate_all("reg3.ubj");
    truncate_all("tiny.ubj");
    truncate_all("reg3.json");
}

/* Every byte of a small model changed in several ways: any result, but no
 * crash (ASan, UBSan and valgrind watch), and a model that passes still
 * has sane info. */
static void test_byte_mutations(void **state)
{
    (void)state;
    static const unsigned char values[] = {0x00, 0xFF, 0x7F, 0x80, '[', '{', '$', '#', 'L', 'N'};
    buf m = fixture("tiny.ubj");
    buf b = buf_dup(m.p, m.len);
    size_t passed = 0, total = 0;
    for (size_t i = 0; i < m.len; i++) {
        unsigned char orig = m.p[i];
        for (size_t k = 0; k < 8 + sizeof values; k++) {
            unsigned char x = k < 8 ? (unsigned char)(orig ^ (1u << k)) : values[k - 8];
            if (x == orig) continue;
            b.p[i] = x;
            hd_model_info info;
            int rc = hd_model_check(b.p, b.len, &info);
            total++;
            if (rc == HERD_OK) {
                passed++;
                assert_true(info.num_feature >= 1 && info.num_trees == 1);
            } else {
                assert_true(rc == HERD_ECORRUPT || rc == HERD_EFORMAT || rc == HERD_ELIMIT);
            }
        }
        b.p[i] = orig;
    }
    /* flips in float payloads and some names pass; most are caught */
    assert_true(passed > 0 && passed < total / 2);
    buf_free(&b);
    buf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_models),
        cmocka_unit_test(test_not_a_model),
        cmocka_unit_test(test_child_out_of_range),
        cmocka_unit_test(test_cycles_and_parents),
        cmocka_unit_test(test_split_features_and_values),
        cmocka_unit_test(test_array_lengths),
        cmocka_unit_test(test_model_level),
        cmocka_unit_test(test_tree_numbers),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_deleted_nodes),
        cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_nesting_bombs),
        cmocka_unit_test(test_json_pitfalls),
        cmocka_unit_test(test_ubjson_reader),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_byte_mutations),
    };
    return cmocka_run_group_tests_name("modelcheck", tests, NULL, NULL);
}
