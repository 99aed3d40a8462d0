/* uri_internal.h -- name, key and pattern checks shared by the registry. */
#ifndef HERD_URI_INTERNAL_H
#define HERD_URI_INTERNAL_H

#include <stddef.h>

/* herd_name_validate without the public argument checks: HERD_OK, or
 * HERD_EINVAL whose message starts with `what` and names the bad byte. */
int hd_id_check(const char *name, const char *what);

/* A group key: valid UTF-8, 1..HERD_KEY_MAX bytes, no control characters.
 * HERD_OK or HERD_EINVAL naming `what`, the problem and the byte. */
int hd_key_check(const char *key, const char *what);

/* A search pattern over keys (glob: '*', '?', "[abc]", "[a-z]", "[!x]",
 * '\\' escapes the next byte): HERD_OK or HERD_EINVAL naming the position of
 * the problem (an unclosed '['...). */
int hd_glob_check(const char *pattern, const char *what);

/* 1 when `text` matches the (checked) glob `pattern` as a whole, byte-wise;
 * linear-time in practice (no exponential backtracking). */
int hd_glob_match(const char *pattern, const char *text);

#endif
