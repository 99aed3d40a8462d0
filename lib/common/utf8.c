/* utf8.c -- UTF-8 validation and escaping.  Below error.c (which escapes
 * every message with it), so it raises no errors itself. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8_internal.h"

/* Length of the UTF-8 sequence starting at s[0..n), 0 if invalid. */
static size_t hd_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

size_t hd_utf8_escape(char *dst, size_t size, const char *src)
{
    const unsigned char *u = (const unsigned char *)src;
    size_t o = 0, i = 0, n = strlen(src);
    size_t keep = 0; /* the last character boundary with room for "..." after it */
    if (size < 4) {
        if (size) dst[0] = '\0';
        return 0;
    }
    while (i < n) {
        size_t k = hd_utf8_seq(u + i, n - i);
        size_t need = k ? k : 4;
        if (o + need >= size) { /* it would not fit with the NUL: cut */
            memcpy(dst + keep, "...", 4);
            return keep + 3;
        }
        if (k) memcpy(dst + o, src + i, k);
        else snprintf(dst + o, size - o, "\\x%02X", u[i]);
        i += k ? k : 1;
        o += need;
        if (o + 4 <= size) keep = o;
    }
    dst[o] = '\0';
    return o;
}

int hd_utf8_valid(const char *str, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case: skip 8 bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= len) break;
        size_t k = hd_utf8_seq(s + i, len - i);
        if (!k) {
            if (bad_offset) *bad_offset = i;
            return 0;
        }
        i += k;
    }
    return 1;
}
