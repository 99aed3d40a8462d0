/* json_internal.h -- strict JSON parsing on top of cJSON.
 *
 * cJSON 1.7 is lenient where herd must be strict: it accepts duplicate
 * keys, truncates strings at \u0000, passes invalid UTF-8, reads numbers
 * such as "01" or "1." and control characters inside strings, and its
 * error position (cJSON_GetErrorPtr) is a process global.  hd_json_parse
 * first validates the text against RFC 8259 and herd's limits, then lets
 * cJSON build the tree, then rejects duplicate keys. */
#ifndef HERD_JSON_INTERNAL_H
#define HERD_JSON_INTERNAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct hd_json_limits {
    size_t max_values;  /* values of any kind (objects, arrays, scalars) */
    unsigned max_depth; /* nesting of objects and arrays; the root is depth 1 */
} hd_json_limits;

/* Parse `len` bytes of JSON text (no NUL needed) into a new cJSON tree.
 * Accepts exactly RFC 8259 JSON that is also valid UTF-8, whose strings
 * hold no U+0000 and no unpaired surrogate escape, whose objects hold no
 * key twice (compared byte for byte, at any depth), and that respects
 * `lim`; whitespace around the value is allowed, nothing else.  Errors:
 * HERD_EFORMAT naming `what` and the byte offset, HERD_ELIMIT for a limit,
 * HERD_ENOMEM.  Numbers keep cJSON's reading (a double; one too large for
 * a double is infinite): callers check the ranges they need. */
int hd_json_parse(const char *text, size_t len, const char *what, const hd_json_limits *lim,
                  cJSON **out);

/* Add `v` to object `o` as `key`; on any failure (either NULL: cJSON ran
 * out of memory) free `v` and clear *ok, so that the caller never writes
 * an object with a member silently missing (run params, alias details). */
void hd_json_add(int *ok, cJSON *o, const char *key, cJSON *v);

/* A JSON number written by the number module (the shortest text that reads
 * back exactly, in any locale), or null for NaN and infinities.  NULL: out
 * of memory. */
cJSON *hd_json_number(double v);

#endif
