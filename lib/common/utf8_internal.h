/* utf8_internal.h -- UTF-8 validation and escaping (utf8.c). */
#ifndef HERD_COMMON_UTF8_INTERNAL_H
#define HERD_COMMON_UTF8_INTERNAL_H

#include <stddef.h>

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF),
 * else 0 and *bad_offset (if not NULL) is the offset of the first bad byte. */
int hd_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Copy the NUL-terminated src into dst[0..size) as valid UTF-8: each byte
 * that does not start a valid character is written \xNN; a cut falls
 * between characters and ends in "...".  Returns the bytes written (no
 * NUL). */
size_t hd_utf8_escape(char *dst, size_t size, const char *src);

#endif
