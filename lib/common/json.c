/* json.c -- strict JSON parsing on top of cJSON.
 *
 * A small recursive-descent validator walks the text once (RFC 8259
 * grammar, herd's limits, the strings cJSON would silently get wrong);
 * only text it accepts reaches cJSON, which then cannot fail except for
 * memory.  The validator recurses at most max_depth levels and never
 * allocates, so hostile input costs one linear scan. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/json_internal.h"
#include "common/mem_internal.h"
#include "common/number_internal.h"
#include "common/text_internal.h"

typedef struct hd_lex {
    const unsigned char *s;
    size_t len, pos;
    size_t values;
    unsigned depth;
    const hd_json_limits *lim;
    const char *what;
} hd_lex;

static int lx_fail(const hd_lex *lx, const char *fmt, ...) HD_PRINTF(2, 3);

static int lx_fail(const hd_lex *lx, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return hd_error(HERD_EFORMAT, "%s: invalid JSON at byte %zu: %s", lx->what, lx->pos, why);
}

static void lx_ws(hd_lex *lx)
{
    while (lx->pos < lx->len) {
        unsigned char c = lx->s[lx->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        lx->pos++;
    }
}

static int lx_peek(const hd_lex *lx)
{
    return lx->pos < lx->len ? lx->s[lx->pos] : -1;
}

static int lx_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int lx_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits after "\u" at pos; -1 if they are not 4 hex digits. */
static long lx_u4(const hd_lex *lx, size_t pos)
{
    if (lx->len - pos < 4) return -1;
    long v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = lx_hex(lx->s[pos + i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* "\uXXXX" at pos (the backslash), with its low surrogate when it is a
 * high one; advances past it. */
static int lx_unicode_escape(hd_lex *lx)
{
    long v = lx_u4(lx, lx->pos + 2);
    if (v < 0) return lx_fail(lx, "\\u must be followed by 4 hex digits");
    if (v == 0)
        return lx_fail(lx, "\\u0000 is not allowed in a string (it would cut the string short)");
    if (v >= 0xDC00 && v <= 0xDFFF) return lx_fail(lx, "unpaired low surrogate \\u%04lX", v);
    lx->pos += 6;
    if (v < 0xD800 || v > 0xDBFF) return HERD_OK;
    long lo = lx->len - lx->pos >= 2 && lx->s[lx->pos] == '\\' && lx->s[lx->pos + 1] == 'u'
                  ? lx_u4(lx, lx->pos + 2)
                  : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return lx_fail(lx, "high surrogate \\u%04lX is not followed by a low surrogate", v);
    lx->pos += 6;
    return HERD_OK;
}

static int lx_string(hd_lex *lx)
{
    lx->pos++; /* the opening quote */
    for (;;) {
        int c = lx_peek(lx);
        if (c < 0) return lx_fail(lx, "unterminated string");
        if (c == '"') {
            lx->pos++;
            return HERD_OK;
        }
        if (c < 0x20) return lx_fail(lx, "control character 0x%02X in a string; escape it", c);
        if (c != '\\') {
            lx->pos++; /* UTF-8 was checked over the whole text */
            continue;
        }
        int e = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : -1;
        if (e == 'u') {
            int rc = lx_unicode_escape(lx);
            if (rc) return rc;
        } else if (e >= 0 && strchr("\"\\/bfnrt", e)) {
            lx->pos += 2;
        } else {
            return lx_fail(lx, "invalid escape in a string");
        }
    }
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int lx_number(hd_lex *lx)
{
    size_t start = lx->pos;
    if (lx_peek(lx) == '-') lx->pos++;
    if (lx_peek(lx) == '0') {
        lx->pos++;
    } else if (lx_is_digit(lx_peek(lx))) {
        while (lx_is_digit(lx_peek(lx))) lx->pos++;
    } else {
        return lx_fail(lx, "a number needs a digit here");
    }
    if (lx_peek(lx) == '.') {
        lx->pos++;
        if (!lx_is_digit(lx_peek(lx))) return lx_fail(lx, "a digit must follow the decimal point");
        while (lx_is_digit(lx_peek(lx))) lx->pos++;
    }
    if (lx_peek(lx) == 'e' || lx_peek(lx) == 'E') {
        lx->pos++;
        if (lx_peek(lx) == '+' || lx_peek(lx) == '-') lx->pos++;
        if (!lx_is_digit(lx_peek(lx))) return lx_fail(lx, "a digit must follow the exponent");
        while (lx_is_digit(lx_peek(lx))) lx->pos++;
    }
    if (lx_is_digit(lx_peek(lx))) return lx_fail(lx, "leading zeros are not allowed");
    /* A double is what every reader makes of a number: one beyond its
     * range (1e400) or that rounds to zero (1e-400) would be read as
     * another value, silently. */
    double v;
    int range = HD_NUM_IN_RANGE;
    int rc = hd_num_parse_f64((const char *)lx->s + start, lx->pos - start, &v, &range);
    if (rc == HERD_ENOMEM) return rc;
    if (range != HD_NUM_IN_RANGE)
        return lx_fail(lx, "the number %.*s is %s a double's range (it would read as %s)",
                       (int)(lx->pos - start < 40 ? lx->pos - start : 40),
                       (const char *)lx->s + start,
                       range == HD_NUM_OVERFLOW ? "beyond" : "below",
                       range == HD_NUM_OVERFLOW ? "infinity" : "0");
    return HERD_OK;
}

static int lx_literal(hd_lex *lx, const char *word)
{
    size_t n = strlen(word);
    if (lx->len - lx->pos < n || memcmp(lx->s + lx->pos, word, n) != 0)
        return lx_fail(lx, "unexpected character");
    lx->pos += n;
    return HERD_OK;
}

static int lx_value(hd_lex *lx);

/* The members of an object or the elements of an array, after the opening
 * bracket; `close` is '}' or ']'. */
static int lx_container(hd_lex *lx, int close)
{
    if (++lx->depth > lx->lim->max_depth)
        return hd_error(HERD_ELIMIT, "%s: JSON nested deeper than %u levels at byte %zu",
                        lx->what, lx->lim->max_depth, lx->pos);
    lx->pos++;
    lx_ws(lx);
    if (lx_peek(lx) == close) {
        lx->pos++;
        lx->depth--;
        return HERD_OK;
    }
    for (;;) {
        int rc;
        if (close == '}') {
            if (lx_peek(lx) != '"') return lx_fail(lx, "an object key must be a string");
            if ((rc = lx_string(lx))) return rc;
            lx_ws(lx);
            if (lx_peek(lx) != ':') return lx_fail(lx, "':' must follow an object key");
            lx->pos++;
            lx_ws(lx);
        }
        if ((rc = lx_value(lx))) return rc;
        lx_ws(lx);
        int c = lx_peek(lx);
        if (c == close) {
            lx->pos++;
            lx->depth--;
            return HERD_OK;
        }
        if (c != ',') return lx_fail(lx, "',' or '%c' expected", close);
        lx->pos++;
        lx_ws(lx);
    }
}

static int lx_value(hd_lex *lx)
{
    if (++lx->values > lx->lim->max_values)
        return hd_error(HERD_ELIMIT, "%s: more than %zu JSON values (at byte %zu)", lx->what,
                        lx->lim->max_values, lx->pos);
    int c = lx_peek(lx);
    switch (c) {
    case '{': return lx_container(lx, '}');
    case '[': return lx_container(lx, ']');
    case '"': return lx_string(lx);
    case 't': return lx_literal(lx, "true");
    case 'f': return lx_literal(lx, "false");
    case 'n': return lx_literal(lx, "null");
    default:
        if (c == '-' || lx_is_digit(c)) return lx_number(lx);
        return c < 0 ? lx_fail(lx, "a value is missing") : lx_fail(lx, "unexpected character");
    }
}

static int hd_json_validate(const char *text, size_t len, const char *what,
                            const hd_json_limits *lim)
{
    size_t bad = 0;
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return hd_error(HERD_EFORMAT, "%s: invalid JSON at byte %zu: a NUL byte", what,
                        (size_t)(nul - text));
    if (!hd_utf8_valid(text, len, &bad))
        return hd_error(HERD_EFORMAT, "%s: invalid UTF-8 at byte %zu", what, bad);
    hd_lex lx = {(const unsigned char *)text, len, 0, 0, 0, lim, what};
    lx_ws(&lx);
    int rc = lx_value(&lx);
    if (rc) return rc;
    lx_ws(&lx);
    if (lx.pos != len) return lx_fail(&lx, "data after the JSON value");
    return HERD_OK;
}

static int hd_cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reject an object that holds a key twice, at any depth.  Keys are sorted
 * (O(n log n)), so a huge object is no quadratic trap.  `keys` is scratch
 * space grown as needed. */
static int hd_json_unique_keys(const cJSON *node, const char *what, const char ***keys,
                               size_t *cap)
{
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return HERD_OK;
    if (cJSON_IsObject(node)) {
        size_t n = 0;
        for (const cJSON *c = node->child; c; c = c->next) {
            if (hd_grow((void **)keys, cap, n + 1, sizeof **keys)) return HERD_ENOMEM;
            (*keys)[n++] = c->string;
        }
        if (n > 1) qsort(*keys, n, sizeof **keys, hd_cmp_key); /* qsort(NULL, 0) is UB */
        for (size_t i = 1; i < n; i++)
            if (strcmp((*keys)[i - 1], (*keys)[i]) == 0) {
                char q[96];
                return hd_error(HERD_EFORMAT, "%s: the key %s appears twice in one object",
                                what, hd_quote((*keys)[i], strlen((*keys)[i]), q, sizeof q));
            }
    }
    for (const cJSON *c = node->child; c; c = c->next) {
        int rc = hd_json_unique_keys(c, what, keys, cap);
        if (rc) return rc;
    }
    return HERD_OK;
}

int hd_json_parse(const char *text, size_t len, const char *what, const hd_json_limits *lim,
                  cJSON **out)
{
    *out = NULL;
    int rc = hd_json_validate(text, len, what, lim);
    if (rc) return rc;
    /* cJSON with require_null_terminated wants the NUL inside its length. */
    char *z = hd_malloc(len + 1, 1);
    if (!z) return HERD_ENOMEM;
    memcpy(z, text, len);
    z[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(z, len + 1, &end, 1);
    size_t at = end ? (size_t)(end - z) : 0;
    free(z);
    if (!root || at != len) {
        cJSON_Delete(root);
        /* The text is valid: cJSON can only have run out of memory. */
        return hd_oom();
    }
    const char **keys = NULL;
    size_t cap = 0;
    rc = hd_json_unique_keys(root, what, &keys, &cap);
    free(keys);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return HERD_OK;
}

void hd_json_add(int *ok, cJSON *o, const char *key, cJSON *v)
{
    if (o && v && cJSON_AddItemToObject(o, key, v)) return;
    cJSON_Delete(v);
    *ok = 0;
}

cJSON *hd_json_number(double v)
{
    return isfinite(v) ? cJSON_CreateRaw(HD_NUM_JSON(v)) : cJSON_CreateNull();
}
