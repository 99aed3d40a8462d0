/* ubjson.c -- a bounded reader for XGBoost's UBJSON and JSON (see
 * ubjson_internal.h for what is accepted and why).
 *
 * The document is a tape: nodes in document order, each container followed
 * by its members, `next` pointing past the container's last descendant.
 * Parsing never recurses: an explicit stack of at most
 * HD_MODEL_MAX_DEPTH_NESTING frames tracks the open containers.
 *
 * Memory: one 48-byte node per value, and typed arrays are one node
 * whatever their length.  A hostile UBJSON input can still make one node
 * per input byte (an array of 'Z'), which is about what XGBoost's own
 * parser would allocate for the same bytes; the input length is the
 * caller's to cap (herd_model_load and the artifact reader do). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "model/ubjson_internal.h"

typedef struct hd_jnode {
    const char *key; /* object members: the key's bytes (not NUL-terminated) */
    union {
        int64_t i;                /* HD_J_INT, HD_J_BOOL */
        double f;                 /* HD_J_FLOAT */
        const char *s;            /* HD_J_STRING */
        const unsigned char *raw; /* HD_J_TYPED: the big-endian elements */
    } u;
    size_t offset; /* of the value's first byte, SIZE_MAX if unknown */
    size_t count;  /* members, string bytes or typed elements */
    size_t next;   /* the node after this value and all it contains */
    uint32_t keylen;
    unsigned char type; /* hd_jtype */
    unsigned char elem; /* HD_J_TYPED: the UBJSON marker of the elements */
} hd_jnode;

struct hd_jdoc {
    hd_jnode *v;
    size_t n, cap;
    cJSON *json; /* JSON documents: owns the keys and strings nodes point at */
    const unsigned char *base; /* UBJSON documents: the input, for offsets */
};

/* An object's keys, gathered to find a repeated one. */
typedef struct hd_jkey {
    const char *s;
    size_t len;
    size_t node;
} hd_jkey;

typedef struct hd_jkeys {
    hd_jkey *v;
    size_t cap;
} hd_jkeys;

/* ------------------------------------------------------------------------
 * The document
 * --------------------------------------------------------------------- */

void hd_jdoc_free(hd_jdoc *doc)
{
    if (!doc) return;
    free(doc->v);
    cJSON_Delete(doc->json);
    free(doc);
}

/* Append a node; HD_JNONE (HERD_ENOMEM recorded) when memory runs out. */
static size_t jdoc_push(hd_jdoc *doc, hd_jtype type, size_t offset)
{
    if (hd_grow((void **)&doc->v, &doc->cap, doc->n + 1, sizeof *doc->v)) return HD_JNONE;
    size_t k = doc->n++;
    hd_jnode *v = &doc->v[k];
    memset(v, 0, sizeof *v);
    v->type = (unsigned char)type;
    v->offset = offset;
    v->next = k + 1;
    return k;
}

static int jkey_cmp(const void *pa, const void *pb)
{
    const hd_jkey *a = pa, *b = pb;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    int c = memcmp(a->s, b->s, a->len);
    if (c) return c;
    return a->node < b->node ? -1 : a->node > b->node;
}

static int jkey_same(const hd_jkey *a, const hd_jkey *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* HERD_ECORRUPT naming a repeated key.  XGBoost would silently keep one of
 * the two values (the first from UBJSON, the last from JSON), so a checker
 * that kept the other would validate a model XGBoost never loads. */
static int jdoc_dup_key(const hd_jdoc *doc, const hd_jkey *k)
{
    char q[96];
    hd_quote(k->s, k->len, q, sizeof q);
    size_t off = doc->v[k->node].offset;
    /* only UBJSON nodes know their offsets */
    if (off == SIZE_MAX)
        return hd_error(HERD_ECORRUPT, "JSON: the key %s appears twice in one object", q);
    return hd_error(HERD_ECORRUPT, "UBJSON byte %zu: the key %s appears twice in one object", off,
                    q);
}

/* Reject an object that repeats a key: O(m log m) for m members, so that a
 * huge object cannot make the check quadratic. */
static int jdoc_check_keys(const hd_jdoc *doc, size_t obj, hd_jkeys *keys)
{
    size_t m = doc->v[obj].count;
    if (m < 2) return HERD_OK;
    if (hd_grow((void **)&keys->v, &keys->cap, m, sizeof *keys->v)) return HERD_ENOMEM;
    size_t k = 0;
    for (size_t c = obj + 1; c < doc->v[obj].next; c = doc->v[c].next) {
        keys->v[k].s = doc->v[c].key;
        keys->v[k].len = doc->v[c].keylen;
        keys->v[k].node = c;
        k++;
    }
    if (m <= 32) { /* XGBoost's objects (a tree has 16 keys) are small: no sort for them */
        for (size_t i = 1; i < m; i++)
            for (size_t j = 0; j < i; j++)
                if (jkey_same(&keys->v[i], &keys->v[j])) return jdoc_dup_key(doc, &keys->v[i]);
        return HERD_OK;
    }
    qsort(keys->v, m, sizeof *keys->v, jkey_cmp);
    for (size_t i = 1; i < m; i++)
        if (jkey_same(&keys->v[i], &keys->v[i - 1])) return jdoc_dup_key(doc, &keys->v[i]);
    return HERD_OK;
}

static hd_jdoc *jdoc_new(void)
{
    return hd_calloc(1, sizeof(hd_jdoc));
}

/* ------------------------------------------------------------------------
 * UBJSON
 * --------------------------------------------------------------------- */

typedef struct ubj_frame {
    size_t node;     /* the container's node */
    size_t members;  /* read so far */
    uint64_t left;   /* counted containers: members still to read */
    unsigned char counted, object;
    unsigned char type; /* '$' containers: the members' marker, else 0 */
} ubj_frame;

typedef struct ubj {
    const unsigned char *p;
    size_t len, pos;
    hd_jdoc *doc;
    hd_jkeys keys;
    ubj_frame stack[HD_MODEL_MAX_DEPTH_NESTING];
    size_t depth;
} ubj;

/* A parse error at byte `at` of a UBJSON or JSON document (`syntax`). */
static int doc_fail(const char *syntax, size_t at, const char *fmt, ...) HD_PRINTF(3, 4);

static int doc_fail(const char *syntax, size_t at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hd_error(HERD_ECORRUPT, "%s byte %zu: %s", syntax, at, msg);
}

static size_t ubj_left(const ubj *u)
{
    return u->len - u->pos;
}

/* Fail unless n more bytes are there, naming what needed them. */
static int ubj_need(const ubj *u, size_t n, const char *what)
{
    if (ubj_left(u) >= n) return HERD_OK;
    return doc_fail("UBJSON", u->pos, "%s needs %zu byte%s but only %zu remain", what, n,
                    n == 1 ? "" : "s", ubj_left(u));
}

/* Bytes of an integer marker's payload, 0 for a marker that is not one. */
static size_t ubj_int_size(unsigned char m)
{
    switch (m) {
    case 'i':
    case 'U': return 1;
    case 'I': return 2;
    case 'l': return 4;
    case 'L': return 8;
    default: return 0;
    }
}

/* Bytes of a numeric marker's payload (integers and floats), else 0. */
static size_t ubj_num_size(unsigned char m)
{
    if (m == 'd') return 4;
    if (m == 'D') return 8;
    return ubj_int_size(m);
}

static uint64_t ubj_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* The integer of marker m (ubj_int_size(m) > 0) stored big-endian at p. */
static int64_t ubj_int_at(unsigned char m, const unsigned char *p)
{
    uint64_t v = ubj_be(p, ubj_int_size(m));
    switch (m) {
    case 'i': return (int8_t)(uint8_t)v;
    case 'U': return (int64_t)v;
    case 'I': return (int16_t)(uint16_t)v;
    case 'l': return (int32_t)(uint32_t)v;
    default: return (int64_t)v; /* two's complement on every target herd supports */
    }
}

static double ubj_float_at(unsigned char m, const unsigned char *p)
{
    if (m == 'd') {
        uint32_t b = (uint32_t)ubj_be(p, 4);
        float f;
        memcpy(&f, &b, sizeof f);
        return f;
    }
    uint64_t b = ubj_be(p, 8);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* A length or count: an integer marker and its value, which must not be
 * negative. */
static int ubj_length(ubj *u, const char *what, uint64_t *out)
{
    size_t at = u->pos;
    int rc = ubj_need(u, 1, what);
    if (rc) return rc;
    unsigned char m = u->p[u->pos];
    size_t size = ubj_int_size(m);
    if (!size)
        return doc_fail("UBJSON", at, "%s must start with an integer marker (i U I l L), not 0x%02X",
                        what, m);
    u->pos++;
    if ((rc = ubj_need(u, size, what))) return rc;
    int64_t v = ubj_int_at(m, u->p + u->pos);
    u->pos += size;
    if (v < 0) return doc_fail("UBJSON", at, "%s is negative (%lld)", what, (long long)v);
    *out = (uint64_t)v;
    return HERD_OK;
}

/* Text of n bytes at the cursor (a key or a string): it must be there, be
 * UTF-8 and hold no NUL (names reach C strings, where a NUL would cut). */
static int ubj_text(ubj *u, uint64_t n, const char *what, const char **out)
{
    if (n > ubj_left(u))
        return doc_fail("UBJSON", u->pos, "%s of %llu bytes does not fit in the %zu bytes left", what,
                        (unsigned long long)n, ubj_left(u));
    const char *s = (const char *)u->p + u->pos;
    size_t bad;
    if (!hd_utf8_valid(s, (size_t)n, &bad))
        return doc_fail("UBJSON", u->pos + bad, "%s is not valid UTF-8", what);
    const char *nul = memchr(s, 0, (size_t)n);
    if (nul) return doc_fail("UBJSON", u->pos + (size_t)(nul - s), "%s contains a NUL byte", what);
    u->pos += (size_t)n;
    *out = s;
    return HERD_OK;
}

/* Skip no-op markers. */
static void ubj_skip_noops(ubj *u)
{
    while (u->pos < u->len && u->p[u->pos] == 'N') u->pos++;
}

/* Record a member's key on the node just pushed. */
static void ubj_set_key(ubj *u, size_t node, const char *key, size_t keylen)
{
    u->doc->v[node].key = key;
    u->doc->v[node].keylen = (uint32_t)keylen;
}

/* A scalar of marker m at the cursor (the marker itself already read). */
static int ubj_scalar(ubj *u, unsigned char m, size_t at, size_t *node)
{
    int rc;
    if (m == 'S') {
        uint64_t n = 0;
        const char *s = NULL;
        if ((rc = ubj_length(u, "a string's length", &n))) return rc;
        if ((rc = ubj_text(u, n, "a string", &s))) return rc;
        if ((*node = jdoc_push(u->doc, HD_J_STRING, at)) == HD_JNONE) return HERD_ENOMEM;
        u->doc->v[*node].u.s = s;
        u->doc->v[*node].count = (size_t)n;
        return HERD_OK;
    }
    size_t size = ubj_num_size(m);
    if (size) {
        if ((rc = ubj_need(u, size, "a number"))) return rc;
        int is_int = ubj_int_size(m) != 0;
        if ((*node = jdoc_push(u->doc, is_int ? HD_J_INT : HD_J_FLOAT, at)) == HD_JNONE)
            return HERD_ENOMEM;
        if (is_int)
            u->doc->v[*node].u.i = ubj_int_at(m, u->p + u->pos);
        else
            u->doc->v[*node].u.f = ubj_float_at(m, u->p + u->pos);
        u->pos += size;
        return HERD_OK;
    }
    if (m == 'Z' || m == 'T' || m == 'F') {
        if ((*node = jdoc_push(u->doc, m == 'Z' ? HD_J_NULL : HD_J_BOOL, at)) == HD_JNONE)
            return HERD_ENOMEM;
        u->doc->v[*node].u.i = m == 'T';
        return HERD_OK;
    }
    if (m == 'C' || m == 'H')
        return doc_fail("UBJSON", at, "marker '%c' is not supported (XGBoost does not write it)", m);
    if (m == ']' || m == '}') return doc_fail("UBJSON", at, "'%c' closes nothing here", m);
    if (m >= 0x21 && m < 0x7F) return doc_fail("UBJSON", at, "unknown marker '%c'", m);
    return doc_fail("UBJSON", at, "unknown marker 0x%02X", m);
}

/* The smallest number of bytes one member can take, to bound a count by
 * the bytes left before anything is believed. */
static size_t ubj_min_member(unsigned char type, int object)
{
    size_t value = type == 'S' ? 2 : type ? ubj_num_size(type) : 1;
    return value + (object ? 2 : 0); /* a key: length marker + length */
}

/* A typed numeric array "[$<m>#<n>": one node over the input bytes. */
static int ubj_typed(ubj *u, unsigned char m, uint64_t n, size_t at, size_t *node)
{
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)ubj_num_size(m), &bytes) || bytes > ubj_left(u))
        return doc_fail("UBJSON", at, "a typed array of %llu '%c' values does not fit in the %zu bytes "
                        "left", (unsigned long long)n, m, ubj_left(u));
    if ((*node = jdoc_push(u->doc, HD_J_TYPED, at)) == HD_JNONE) return HERD_ENOMEM;
    hd_jnode *v = &u->doc->v[*node];
    v->elem = m;
    v->count = (size_t)n;
    v->u.raw = u->p + u->pos;
    u->pos += (size_t)bytes;
    return HERD_OK;
}

/* After '[' or '{': the optional '$' type and '#' count, then either a
 * typed array (done) or a new open container on the stack. */
static int ubj_open(ubj *u, int object, size_t at, size_t *node)
{
    unsigned char type = 0;
    int counted = 0;
    uint64_t count = 0;
    int rc;
    if (u->depth >= HD_MODEL_MAX_DEPTH_NESTING)
        return hd_error(HERD_ELIMIT, "UBJSON byte %zu: containers are nested more than %u deep",
                        at, HD_MODEL_MAX_DEPTH_NESTING);
    if (u->pos < u->len && u->p[u->pos] == '$') {
        u->pos++;
        if ((rc = ubj_need(u, 1, "a container's '$' type"))) return rc;
        type = u->p[u->pos++];
        if (type != 'S' && !ubj_num_size(type))
            return doc_fail("UBJSON", u->pos - 1, "a container of '%c' values is not supported",
                            type >= 0x21 && type < 0x7F ? type : '?');
        if (u->pos >= u->len || u->p[u->pos] != '#')
            return doc_fail("UBJSON", u->pos, "a '$' type must be followed by a '#' count");
    }
    if (u->pos < u->len && u->p[u->pos] == '#') {
        u->pos++;
        if ((rc = ubj_length(u, "a container's count", &count))) return rc;
        counted = 1;
    }
    if (!object && type && type != 'S') return ubj_typed(u, type, count, at, node);
    if (count > ubj_left(u) / ubj_min_member(type, object))
        return doc_fail("UBJSON", at, "a count of %llu members does not fit in the %zu bytes left",
                        (unsigned long long)count, ubj_left(u));
    if ((*node = jdoc_push(u->doc, object ? HD_J_OBJECT : HD_J_ARRAY, at)) == HD_JNONE)
        return HERD_ENOMEM;
    ubj_frame *f = &u->stack[u->depth++];
    memset(f, 0, sizeof *f);
    f->node = *node;
    f->left = count;
    f->counted = (unsigned char)counted;
    f->object = (unsigned char)object;
    f->type = type;
    return HERD_OK;
}

/* One value: its marker (or the container's implicit one), then a scalar,
 * a typed array, or an opened container. */
static int ubj_value(ubj *u, unsigned char implicit, const char *key, size_t keylen)
{
    size_t at, node = HD_JNONE;
    unsigned char m;
    int rc;
    if (implicit) {
        at = u->pos;
        m = implicit;
    } else {
        ubj_skip_noops(u);
        at = u->pos;
        if ((rc = ubj_need(u, 1, "a value"))) return rc;
        m = u->p[u->pos++];
    }
    if (m == '[' || m == '{')
        rc = ubj_open(u, m == '{', at, &node);
    else
        rc = ubj_scalar(u, m, at, &node);
    if (rc) return rc;
    if (key) ubj_set_key(u, node, key, keylen);
    return HERD_OK;
}

/* An object member's key: a length (no 'S' marker) and the bytes. */
static int ubj_key(ubj *u, const char **key, size_t *keylen)
{
    uint64_t n = 0;
    int rc = ubj_length(u, "a key's length", &n);
    if (rc) return rc;
    if (n > UINT32_MAX)
        return doc_fail("UBJSON", u->pos, "a key of %llu bytes is too long", (unsigned long long)n);
    if ((rc = ubj_text(u, n, "a key", key))) return rc;
    *keylen = (size_t)n;
    return HERD_OK;
}

/* Whether the top container is complete; consumes its closing marker. */
static int ubj_at_end(ubj *u, const ubj_frame *f, int *done)
{
    if (f->counted) {
        *done = f->left == 0;
        return HERD_OK;
    }
    ubj_skip_noops(u);
    if (u->pos >= u->len) {
        const hd_jnode *c = &u->doc->v[f->node];
        return doc_fail("UBJSON", u->pos, "the input ends inside the %s opened at byte %zu",
                        f->object ? "object" : "array", c->offset);
    }
    *done = u->p[u->pos] == (f->object ? '}' : ']');
    if (*done) u->pos++;
    return HERD_OK;
}

static int ubj_close(ubj *u)
{
    ubj_frame *f = &u->stack[--u->depth];
    hd_jnode *c = &u->doc->v[f->node];
    c->count = f->members;
    c->next = u->doc->n;
    return f->object ? jdoc_check_keys(u->doc, f->node, &u->keys) : HERD_OK;
}

/* The next member of the top container, or its end. */
static int ubj_step(ubj *u)
{
    ubj_frame *f = &u->stack[u->depth - 1];
    int done = 0, rc = ubj_at_end(u, f, &done);
    if (rc) return rc;
    if (done) return ubj_close(u);
    const char *key = NULL;
    size_t keylen = 0;
    if (f->object && (rc = ubj_key(u, &key, &keylen))) return rc;
    if (f->counted) f->left--;
    f->members++;
    return ubj_value(u, f->type, key, keylen); /* may open a container above f */
}

int hd_jdoc_parse_ubjson(const void *data, size_t len, hd_jdoc **out)
{
    *out = NULL;
    ubj u;
    memset(&u, 0, sizeof u);
    u.p = data;
    u.len = len;
    u.doc = jdoc_new();
    if (!u.doc) return HERD_ENOMEM;
    u.doc->base = u.p;
    int rc = ubj_value(&u, 0, NULL, 0);
    while (!rc && u.depth > 0) rc = ubj_step(&u);
    if (!rc && u.pos != u.len)
        rc = doc_fail("UBJSON", u.pos, "%zu unexpected byte%s after the document", u.len - u.pos,
                      u.len - u.pos == 1 ? "" : "s");
    free(u.keys.v);
    if (rc) {
        hd_jdoc_free(u.doc);
        return rc;
    }
    *out = u.doc;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * JSON
 * --------------------------------------------------------------------- */


/* The string whose opening quote is at *i; leaves *i on the closing
 * quote.  XGBoost 1.7's JSON reader knows five escapes, \" \\ \n \r and
 * \t, and reads them as cJSON does; it refuses \/ \b \f, and keeps a \u
 * escape as its six characters where cJSON decodes it, so that herd
 * would check one text and XGBoost use another ("x\u0030" is "x0" to
 * herd, not to XGBoost).  Only the five are accepted. */
static int json_scan_string(const unsigned char *p, size_t len, size_t *i)
{
    size_t start = *i;
    for (size_t j = start + 1; j < len; j++) {
        unsigned char c = p[j];
        if (c == '"') {
            *i = j;
            return HERD_OK;
        }
        if (c < 0x20) return doc_fail("JSON", j, "control byte 0x%02X inside a string", c);
        if (c != '\\') continue;
        if (j + 1 >= len) break;
        unsigned char e = p[++j];
        if (e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't') continue;
        if (e == 'u')
            return doc_fail("JSON", j - 1, "a \\u escape inside a string: XGBoost 1.7 keeps it "
                            "as six characters where JSON decodes it, so XGBoost would read "
                            "other text than herd checked; write the character itself");
        if (e >= 0x20 && e < 0x7F)
            return doc_fail("JSON", j - 1, "the escape \\%c inside a string: XGBoost 1.7 reads "
                            "only \\\" \\\\ \\n \\r and \\t", e);
        return doc_fail("JSON", j - 1, "a backslash before byte 0x%02X inside a string", e);
    }
    return doc_fail("JSON", start, "the string starting here is not terminated");
}

/* What cJSON does not check, before cJSON sees the text: UTF-8, nesting
 * depth (cJSON recurses up to 1000 deep), control bytes, and the escapes
 * XGBoost reads otherwise (json_scan_string). */
static int json_scan(const unsigned char *p, size_t len)
{
    size_t bad;
    if (!hd_utf8_valid((const char *)p, len, &bad)) return doc_fail("JSON", bad, "invalid UTF-8");
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        switch (c) {
        case '"': {
            int rc = json_scan_string(p, len, &i);
            if (rc) return rc;
            continue;
        }
        case ' ':
        case '\t':
        case '\n':
        case '\r': continue;
        case '{':
        case '[':
            if (++depth > HD_MODEL_MAX_DEPTH_NESTING)
                return hd_error(HERD_ELIMIT, "JSON byte %zu: containers are nested more than %u "
                                "deep", i, HD_MODEL_MAX_DEPTH_NESTING);
            break;
        case '}':
        case ']':
            if (depth) depth--;
            break;
        default:
            if (c < 0x20) return doc_fail("JSON", i, "control byte 0x%02X outside a string", c);
        }
    }
    return HERD_OK;
}

typedef struct json_frame {
    const cJSON *next; /* the next member to convert */
    size_t node;
    size_t members;
    int object;
} json_frame;

/* One cJSON item as a node (containers get their members later). */
static int json_node(hd_jdoc *doc, const cJSON *item, int keyed, size_t *node)
{
    int t = item->type & 0xFF;
    hd_jtype type = t == cJSON_Object   ? HD_J_OBJECT
                    : t == cJSON_Array  ? HD_J_ARRAY
                    : t == cJSON_String ? HD_J_STRING
                    : t == cJSON_Number ? HD_J_FLOAT
                    : t == cJSON_NULL   ? HD_J_NULL
                                        : HD_J_BOOL;
    if (t == cJSON_Raw || t == cJSON_Invalid)
        return hd_error(HERD_EINTERNAL, "cJSON returned an item of type %d", t);
    if ((*node = jdoc_push(doc, type, SIZE_MAX)) == HD_JNONE) return HERD_ENOMEM;
    hd_jnode *v = &doc->v[*node];
    if (keyed) {
        if (!item->string) return hd_error(HERD_EINTERNAL, "cJSON returned a member without a key");
        size_t kl = strlen(item->string);
        if (kl > UINT32_MAX || !hd_utf8_valid(item->string, kl, NULL))
            return hd_error(HERD_ECORRUPT, "JSON: an object key is not valid UTF-8");
        v->key = item->string;
        v->keylen = (uint32_t)kl;
    }
    if (type == HD_J_STRING) {
        v->u.s = item->valuestring;
        v->count = strlen(item->valuestring);
        if (!hd_utf8_valid(v->u.s, v->count, NULL))
            return hd_error(HERD_ECORRUPT, "JSON: a string is not valid UTF-8 once unescaped");
    } else if (type == HD_J_FLOAT) {
        v->u.f = item->valuedouble;
        /* strtod turns 1e999 into infinity: no JSON number is infinite. */
        if (!isfinite(v->u.f))
            return hd_error(HERD_ECORRUPT, "JSON: a number is too large for a double");
    } else if (type == HD_J_BOOL) {
        v->u.i = t == cJSON_True;
    }
    return HERD_OK;
}

/* Copy cJSON's tree into the tape, without recursion. */
static int json_convert(hd_jdoc *doc, const cJSON *root)
{
    json_frame stack[HD_MODEL_MAX_DEPTH_NESTING + 1];
    size_t depth = 0;
    hd_jkeys keys = {NULL, 0};
    const cJSON *item = root;
    int keyed = 0, rc = HERD_OK;
    for (;;) {
        size_t node = HD_JNONE;
        if (item) {
            if ((rc = json_node(doc, item, keyed, &node))) break;
            if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
                /* json_scan bounded the depth; this guards the stack anyway */
                if (depth > HD_MODEL_MAX_DEPTH_NESTING) {
                    rc = hd_error(HERD_ELIMIT, "JSON: containers are nested more than %u deep",
                                  HD_MODEL_MAX_DEPTH_NESTING);
                    break;
                }
                json_frame *f = &stack[depth++];
                f->next = item->child;
                f->node = node;
                f->members = 0;
                f->object = cJSON_IsObject(item);
            }
        }
        if (depth == 0) break;
        json_frame *f = &stack[depth - 1];
        if (!f->next) { /* the container is complete */
            doc->v[f->node].count = f->members;
            doc->v[f->node].next = doc->n;
            if (f->object && (rc = jdoc_check_keys(doc, f->node, &keys))) break;
            depth--;
            item = NULL;
            continue;
        }
        item = f->next;
        f->next = item->next;
        f->members++;
        keyed = f->object;
    }
    free(keys.v);
    return rc;
}

int hd_jdoc_parse_json(const void *data, size_t len, hd_jdoc **out)
{
    *out = NULL;
    const unsigned char *p = data;
    int rc = json_scan(p, len);
    if (rc) return rc;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - (const char *)data) : 0;
        return doc_fail("JSON", at, "the JSON is malformed");
    }
    for (size_t i = (size_t)(end - (const char *)data); i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            cJSON_Delete(root);
            return doc_fail("JSON", i, "%zu unexpected byte%s after the document", len - i,
                             len - i == 1 ? "" : "s");
        }
    }
    hd_jdoc *doc = jdoc_new();
    if (!doc) {
        cJSON_Delete(root);
        return HERD_ENOMEM;
    }
    doc->json = root;
    if ((rc = json_convert(doc, root))) {
        hd_jdoc_free(doc);
        return rc;
    }
    *out = doc;
    return HERD_OK;
}

/* ------------------------------------------------------------------------
 * Reading the document
 * --------------------------------------------------------------------- */

const char *hd_jtype_name(hd_jtype type)
{
    switch (type) {
    case HD_J_NULL: return "null";
    case HD_J_BOOL: return "a boolean";
    case HD_J_INT: return "an integer";
    case HD_J_FLOAT: return "a number";
    case HD_J_STRING: return "a string";
    case HD_J_ARRAY:
    case HD_J_TYPED: return "an array";
    case HD_J_OBJECT: return "an object";
    }
    return "a value";
}

static const hd_jnode *jdoc_at(const hd_jdoc *doc, size_t v)
{
    return doc && v < doc->n ? &doc->v[v] : NULL;
}

hd_jtype hd_jdoc_type(const hd_jdoc *doc, size_t v)
{
    const hd_jnode *n = jdoc_at(doc, v);
    return n ? (hd_jtype)n->type : HD_J_NULL;
}

size_t hd_jdoc_count(const hd_jdoc *doc, size_t v)
{
    const hd_jnode *n = jdoc_at(doc, v);
    return n ? n->count : 0;
}

size_t hd_jdoc_offset(const hd_jdoc *doc, size_t v)
{
    const hd_jnode *n = jdoc_at(doc, v);
    return n ? n->offset : SIZE_MAX;
}

size_t hd_jdoc_first(const hd_jdoc *doc, size_t container)
{
    const hd_jnode *n = jdoc_at(doc, container);
    if (!n || (n->type != HD_J_ARRAY && n->type != HD_J_OBJECT) || n->next == container + 1)
        return HD_JNONE;
    return container + 1;
}

size_t hd_jdoc_next(const hd_jdoc *doc, size_t container, size_t v)
{
    const hd_jnode *c = jdoc_at(doc, container), *n = jdoc_at(doc, v);
    if (!c || !n || n->next >= c->next) return HD_JNONE;
    return n->next;
}

size_t hd_jdoc_member(const hd_jdoc *doc, size_t obj, const char *key)
{
    const hd_jnode *o = jdoc_at(doc, obj);
    if (!o || o->type != HD_J_OBJECT) return HD_JNONE;
    size_t kl = strlen(key);
    for (size_t c = obj + 1; c < o->next; c = doc->v[c].next)
        if (doc->v[c].keylen == kl && memcmp(doc->v[c].key, key, kl) == 0) return c;
    return HD_JNONE;
}

const char *hd_jdoc_string(const hd_jdoc *doc, size_t v, size_t *len)
{
    const hd_jnode *n = jdoc_at(doc, v);
    if (!n || n->type != HD_J_STRING) return NULL;
    if (len) *len = n->count;
    return n->u.s;
}

const char *hd_jdoc_key(const hd_jdoc *doc, size_t v, size_t *len)
{
    const hd_jnode *n = jdoc_at(doc, v);
    if (!n || !n->key) return NULL;
    if (len) *len = n->keylen;
    return n->key;
}

/* f as an exact int64 when it is integral and in range. */
static void jnum_from_double(hd_jnum *out, double f)
{
    out->f = f;
    out->integral = isfinite(f) && f == trunc(f) && f >= -9223372036854775808.0 &&
                    f < 9223372036854775808.0;
    out->i = out->integral ? (int64_t)f : 0;
}

int hd_jdoc_number(const hd_jdoc *doc, size_t v, hd_jnum *out)
{
    const hd_jnode *n = jdoc_at(doc, v);
    memset(out, 0, sizeof *out);
    out->offset = n ? n->offset : SIZE_MAX;
    out->type = n ? (hd_jtype)n->type : HD_J_NULL;
    if (!n) return 0;
    switch (n->type) {
    case HD_J_INT:
    case HD_J_BOOL:
        out->integral = 1;
        out->i = n->u.i;
        out->f = (double)n->u.i;
        return 1;
    case HD_J_FLOAT: jnum_from_double(out, n->u.f); return 1;
    default: return 0;
    }
}

void hd_jiter_init(hd_jiter *it, const hd_jdoc *doc, size_t array)
{
    it->doc = doc;
    it->array = array;
    it->index = 0;
    it->node = hd_jdoc_first(doc, array);
}

/* Element i of a typed array. */
static void jiter_typed(const hd_jdoc *doc, const hd_jnode *a, size_t i, hd_jnum *out)
{
    size_t size = ubj_num_size(a->elem);
    const unsigned char *p = a->u.raw + i * size;
    memset(out, 0, sizeof *out);
    out->offset = (size_t)(p - doc->base);
    if (ubj_int_size(a->elem)) {
        out->type = HD_J_INT;
        out->integral = 1;
        out->i = ubj_int_at(a->elem, p);
        out->f = (double)out->i;
    } else {
        out->type = HD_J_FLOAT;
        jnum_from_double(out, ubj_float_at(a->elem, p));
    }
}

int hd_jiter_next(hd_jiter *it, hd_jnum *out)
{
    const hd_jnode *a = jdoc_at(it->doc, it->array);
    if (!a) return 0;
    if (a->type == HD_J_TYPED) {
        if (it->index >= a->count) return 0;
        jiter_typed(it->doc, a, it->index++, out);
        return 1;
    }
    if (a->type != HD_J_ARRAY || it->node == HD_JNONE) return 0;
    hd_jdoc_number(it->doc, it->node, out);
    it->node = hd_jdoc_next(it->doc, it->array, it->node);
    it->index++;
    return 1;
}

/* ---- bulk reads of typed arrays ------------------------------------------ */

float hd_jfloat(double f)
{
    /* A double beyond the float range converts to infinity (and C leaves
     * the conversion undefined, so it is not done). */
    if (isfinite(f) && fabs(f) > FLT_MAX) return f > 0 ? INFINITY : -INFINITY;
    return (float)f;
}

int hd_jdoc_typed_ints(const hd_jdoc *doc, size_t array, int64_t lo, int64_t hi, int32_t *out)
{
    const hd_jnode *a = jdoc_at(doc, array);
    if (!a || a->type != HD_J_TYPED || !ubj_int_size(a->elem) || lo < INT32_MIN ||
        hi > INT32_MAX)
        return 0;
    const unsigned char *p = a->u.raw;
    size_t n = a->count, size = ubj_int_size(a->elem);
    /* XGBoost writes node indices as 'l' and flags as 'U': their loops
     * stay free of the per-element marker switch. */
    if (a->elem == 'l') {
        for (size_t i = 0; i < n; i++, p += 4) {
            int32_t v = (int32_t)(uint32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                                            (uint32_t)p[2] << 8 | p[3]);
            if (v < lo || v > hi) return 0;
            if (out) out[i] = v;
        }
    } else if (a->elem == 'U') {
        for (size_t i = 0; i < n; i++) {
            if (p[i] < lo || p[i] > hi) return 0;
            if (out) out[i] = p[i];
        }
    } else {
        for (size_t i = 0; i < n; i++, p += size) {
            int64_t v = ubj_int_at(a->elem, p);
            if (v < lo || v > hi) return 0;
            if (out) out[i] = (int32_t)v;
        }
    }
    return 1;
}

int hd_jdoc_typed_floats(const hd_jdoc *doc, size_t array, float *out)
{
    const hd_jnode *a = jdoc_at(doc, array);
    if (!a || a->type != HD_J_TYPED) return 0;
    if (!out) return 1; /* every element of a typed array is a number */
    const unsigned char *p = a->u.raw;
    size_t n = a->count, size = ubj_num_size(a->elem);
    if (a->elem == 'd') {
        for (size_t i = 0; i < n; i++, p += 4) out[i] = hd_jfloat(ubj_float_at('d', p));
    } else if (ubj_int_size(a->elem)) {
        for (size_t i = 0; i < n; i++, p += size)
            out[i] = hd_jfloat((double)ubj_int_at(a->elem, p));
    } else {
        for (size_t i = 0; i < n; i++, p += size) out[i] = hd_jfloat(ubj_float_at(a->elem, p));
    }
    return 1;
}
