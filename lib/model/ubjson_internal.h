/* ubjson_internal.h -- a bounded reader for XGBoost's UBJSON and JSON.
 *
 * Both formats are read into one compact, read-only document (a "tape"):
 * every value is a node in one array, a container's members follow it and
 * `next` skips past them, so that the model checker walks either format
 * with the same calls.  Numeric arrays that UBJSON stores typed
 * ("[$d#L<n>" + n big-endian floats) stay in the input and are decoded on
 * demand, so a model costs a few nodes per tree, not one per tree node.
 *
 * The readers trust nothing: every length and count is checked against
 * the bytes left before it is used, container nesting is capped at
 * HD_MODEL_MAX_DEPTH_NESTING, neither reader recurses, strings and keys
 * must be UTF-8 without NUL bytes, and an object may not repeat a key.
 * Errors are HERD_ECORRUPT (malformed input, with the byte offset),
 * HERD_ELIMIT (nesting too deep) or HERD_ENOMEM, with the message recorded
 * by hd_error().
 *
 * UBJSON accepted: objects '{' and arrays '[' with optional '$' type and
 * '#' count markers (typed arrays of i U I l L d D), strings 'S', integers
 * i U I l L, floats d D, T F Z, and the no-op N; numbers are big-endian.
 * Not accepted: 'C', 'H', '$' with a non-numeric type other than 'S', and
 * bytes after the root value.  This is a superset of what XGBoost 1.7
 * writes; everything outside XGBoost's own subset makes XGBoost fail
 * cleanly, so accepting it never lets XGBoost see a different model than
 * the checker saw.
 *
 * JSON is parsed by cJSON, after a scan of the text that enforces what
 * cJSON does not: the nesting cap, UTF-8, no control bytes, and only the
 * escapes XGBoost 1.7's own JSON reader reads as cJSON does (\" \\ \n \r
 * \t): it refuses \/ \b \f, and keeps "\u0041" as six characters where
 * cJSON decodes "A", so an escaped key or value would be different text
 * for the two readers. */
#ifndef HERD_UBJSON_INTERNAL_H
#define HERD_UBJSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* The deepest container nesting either reader accepts (docs/format.md). */
#define HD_MODEL_MAX_DEPTH_NESTING 64u /* JSON/UBJSON container nesting */

typedef enum hd_jtype {
    HD_J_NULL = 0,
    HD_J_BOOL,   /* UBJSON T F, JSON true false */
    HD_J_INT,    /* UBJSON i U I l L */
    HD_J_FLOAT,  /* UBJSON d D; every JSON number */
    HD_J_STRING,
    HD_J_ARRAY,  /* members are nodes */
    HD_J_TYPED,  /* a UBJSON typed numeric array, decoded on demand */
    HD_J_OBJECT
} hd_jtype;

/* Nodes are named by their index in the document; the root is 0. */
#define HD_JNONE ((size_t)-1)

typedef struct hd_jdoc hd_jdoc;

/* Parse `len` bytes.  On success *out owns a document that refers to
 * `data` (UBJSON strings and typed arrays are not copied): keep the bytes
 * alive and unchanged until hd_jdoc_free. */
int hd_jdoc_parse_ubjson(const void *data, size_t len, hd_jdoc **out);
int hd_jdoc_parse_json(const void *data, size_t len, hd_jdoc **out);
void hd_jdoc_free(hd_jdoc *doc);

/* "an object", "a string"... for messages. */
const char *hd_jtype_name(hd_jtype type);

hd_jtype hd_jdoc_type(const hd_jdoc *doc, size_t v);

/* Members of an array, typed array or object; bytes of a string; else 0. */
size_t hd_jdoc_count(const hd_jdoc *doc, size_t v);

/* Byte offset of the value in the input, or SIZE_MAX when unknown (JSON:
 * cJSON keeps no positions). */
size_t hd_jdoc_offset(const hd_jdoc *doc, size_t v);

/* The member of object `obj` whose key is exactly `key` (bytes compared,
 * case-sensitive), or HD_JNONE (also when obj is not an object). */
size_t hd_jdoc_member(const hd_jdoc *doc, size_t obj, const char *key);

/* The first member of an array or object and the member after `v`, or
 * HD_JNONE.  Typed arrays have no member nodes: read them with hd_jiter. */
size_t hd_jdoc_first(const hd_jdoc *doc, size_t container);
size_t hd_jdoc_next(const hd_jdoc *doc, size_t container, size_t v);

/* A string's bytes (UTF-8, no NUL inside, NOT NUL-terminated) and length;
 * NULL if v is not a string.  hd_jdoc_key: the key of an object member. */
const char *hd_jdoc_string(const hd_jdoc *doc, size_t v, size_t *len);
const char *hd_jdoc_key(const hd_jdoc *doc, size_t v, size_t *len);

/* A number as the checker needs it.  `integral` says that `i` holds the
 * value exactly (integers, booleans as 0/1, and floats with an integral
 * value within int64); `f` always holds it as a double. */
typedef struct hd_jnum {
    hd_jtype type; /* HD_J_INT, HD_J_FLOAT, HD_J_BOOL, or what it was instead */
    int integral;
    int64_t i;
    double f;
    size_t offset; /* where it is in the input, or SIZE_MAX */
} hd_jnum;

/* Read the scalar v as a number; 0 if it is not a number or boolean. */
int hd_jdoc_number(const hd_jdoc *doc, size_t v, hd_jnum *out);

/* Walks the members of an array or typed array in order, as numbers, in
 * O(1) each.  Members that are not numbers come back with their type set
 * and integral 0, so that the caller can say which member is wrong. */
typedef struct hd_jiter {
    const hd_jdoc *doc;
    size_t array;
    size_t index; /* members returned so far */
    size_t node;  /* generic arrays: the next member's node */
} hd_jiter;

void hd_jiter_init(hd_jiter *it, const hd_jdoc *doc, size_t array);
int hd_jiter_next(hd_jiter *it, hd_jnum *out); /* 1: *out is member it->index - 1 */

/* Bulk reads of a typed array, as hd_jiter would read it member by member
 * but without a hd_jnum per member (a model holds hundreds of thousands).
 * hd_jdoc_typed_ints: 1 when `array` is a typed integer array whose every
 * element is in [lo, hi] (both within int32), each stored in out (may be
 * NULL: only the range is asked); else 0,
 * and the caller walks it with hd_jiter to say which member is wrong (out
 * may then hold part of it).  hd_jdoc_typed_floats: 1 when `array` is a
 * typed array (its elements are all numbers), each stored in out as
 * hd_jfloat makes it (out may be NULL: only the types are asked); else 0. */
int hd_jdoc_typed_ints(const hd_jdoc *doc, size_t array, int64_t lo, int64_t hi, int32_t *out);
int hd_jdoc_typed_floats(const hd_jdoc *doc, size_t array, float *out);

/* A number as the float XGBoost keeps: a finite double beyond the float
 * range becomes the infinity of its sign. */
float hd_jfloat(double f);

#endif
