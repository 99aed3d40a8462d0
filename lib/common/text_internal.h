/* text_internal.h -- UTF-8 checks and name validation. */
#ifndef HERD_TEXT_INTERNAL_H
#define HERD_TEXT_INTERNAL_H

#include <stddef.h>

#include "common/utf8_internal.h"

/* The one rule for control characters in names and keys: C0 (U+0000..
 * U+001F), DEL (U+007F) and C1 (U+0080..U+009F, bytes C2 80..C2 9F).  1
 * with the byte offset and code point of the first, else 0.  s is valid
 * UTF-8. */
int hd_control_find(const char *s, size_t len, size_t *at, unsigned *code_point);

/* Validate a name (column, family...): 1..max_len bytes of UTF-8 without
 * control characters (hd_control_find).  On failure records HERD_EINVAL
 * with a message that starts with `what` ("column name") and returns it. */
int hd_name_check(const char *name, size_t max_len, const char *what);

/* Render `s` for a message: at most 64 bytes, control bytes as \xNN, with an
 * ellipsis when cut.  Writes into buf (size >= 80) and returns buf. */
const char *hd_quote(const char *s, size_t len, char *buf, size_t size);

/* Levenshtein distance between two names, ASCII case-insensitive, for the
 * "did you mean" of unknown option and parameter names; SIZE_MAX when either
 * is longer than 64 bytes (no name worth suggesting is). */
size_t hd_edit_distance(const char *a, const char *b);

#endif
