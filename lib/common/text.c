/* text.c -- UTF-8 validation and names. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/text_internal.h"

int hd_control_find(const char *str, size_t len, size_t *at, unsigned *code_point)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len; i++) {
        unsigned cp = s[i];
        /* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
        if (s[i] == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) cp = s[i + 1];
        else if (cp >= 0x20 && cp != 0x7F) continue;
        *at = i;
        *code_point = cp;
        return 1;
    }
    return 0;
}

const char *hd_quote(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0, i = 0;
    const size_t show = 64;
    if (size < 8) {
        if (size) buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; i < len && i < show && o + 6 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        /* A C1 control (C2 80..C2 9F) shows as its two bytes. */
        int c1 = c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                 (unsigned char)s[i + 1] <= 0x9F;
        if (c1 && o + 10 < size) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02X\\x%02X", c,
                                  (unsigned char)s[i + 1]);
            i++;
        } else if (c1) {
            break;
        } else if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02X", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    if (i < len && o + 5 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

int hd_name_check(const char *name, size_t max_len, const char *what)
{
    char q[96];
    if (!name) return hd_error(HERD_EINVAL, "%s is NULL", what);
    size_t len = strlen(name);
    if (len == 0) return hd_error(HERD_EINVAL, "%s is empty; give it a name", what);
    if (len > max_len)
        return hd_error(HERD_EINVAL, "%s %s is %zu bytes long; the limit is %zu", what,
                        hd_quote(name, len, q, sizeof q), len, max_len);
    size_t bad;
    if (!hd_utf8_valid(name, len, &bad))
        return hd_error(HERD_EINVAL, "%s %s is not valid UTF-8 (byte %zu)", what,
                        hd_quote(name, len, q, sizeof q), bad);
    size_t at;
    unsigned cp;
    if (hd_control_find(name, len, &at, &cp))
        return hd_error(HERD_EINVAL,
                        "%s %s contains the control character U+%04X (byte %zu); control "
                        "characters (U+0000..U+001F, U+007F..U+009F) are not allowed: remove it",
                        what, hd_quote(name, len, q, sizeof q), cp, at);
    return HERD_OK;
}

size_t hd_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            int ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
            if (cb >= 'A' && cb <= 'Z') cb += 'a' - 'A';
            size_t best = diag + (ca != cb);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}
