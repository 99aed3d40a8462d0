/* uri.c -- names, group keys, their percent-encoding, registry URIs, and
 * the glob patterns that search keys.
 *
 * Names (families, aliases, tags, run ids) become directory and file names
 * in the registry, so their alphabet is small enough that no name can be a
 * path separator, "..", a hidden file or a control character.  Group keys
 * come from data and may hold anything printable; they are percent-encoded
 * wherever they become a file name or a URI, with exactly one encoding so
 * that a key always maps to the same file.
 *
 * Every message gives the byte offset of the problem in the text the caller
 * passed (for a URI: in the whole URI, not in the part being parsed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "registry/uri_internal.h"

#define HD_ID_ALPHABET "letters, digits and . _ - : +"
#define HD_URI_FORMS "herd:FAMILY/KEY@ALIAS, herd:FAMILY/KEY/N or herd:FAMILY/KEY"

struct herd_uri {
    char *family;
    char *group;     /* decoded */
    char *alias;     /* NULL when the URI names a version number */
    int64_t version; /* 0 when the URI names an alias */
};

/* A function name and the caller's whole text, quoted once, so that every
 * message about one input starts the same way. */
typedef struct hd_where {
    const char *who;
    char q[96];
} hd_where;

static void hd_where_init(hd_where *w, const char *who, const char *text)
{
    w->who = who;
    hd_quote(text, strlen(text), w->q, sizeof w->q);
}

/* Describe one byte for a message: 'x' when printable ASCII, else its hex
 * value, since a control or UTF-8 byte would be unreadable quoted. */
static const char *hd_byte_desc(unsigned char c, char *buf, size_t size)
{
    if (c == ' ') snprintf(buf, size, "a space");
    else if (c > 0x20 && c < 0x7F) snprintf(buf, size, "'%c'", c);
    else snprintf(buf, size, "byte 0x%02X", c);
    return buf;
}

/* ------------------------------------------------------------------------
 * Names
 * --------------------------------------------------------------------- */

static int hd_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == ':' || c == '+';
}

enum { HD_ID_OK, HD_ID_EMPTY, HD_ID_START, HD_ID_CHAR, HD_ID_LONG };

/* The first problem of s[0..len) as a name; *at is the offset of a bad
 * character.  Characters come before the length, so that a long name with
 * a '/' in it is told about the '/'. */
static int hd_id_problem(const char *s, size_t len, size_t *at)
{
    *at = 0;
    if (len == 0) return HD_ID_EMPTY;
    for (size_t i = 0; i < len; i++) {
        if (!hd_id_char((unsigned char)s[i])) {
            *at = i;
            return HD_ID_CHAR;
        }
    }
    /* A leading '.' would make a hidden file (or "." / ".."); a leading '-'
     * would read as an option to command-line tools. */
    if (s[0] == '.' || s[0] == '-') return HD_ID_START;
    return len > HERD_ID_MAX ? HD_ID_LONG : HD_ID_OK;
}

int hd_id_check(const char *name, const char *what)
{
    char q[96], b[16];
    size_t at;
    if (!what) what = "name";
    if (!name) return hd_error(HERD_EINVAL, "%s is NULL; give a name", what);
    size_t len = strlen(name);
    switch (hd_id_problem(name, len, &at)) {
    case HD_ID_OK: return HERD_OK;
    case HD_ID_EMPTY:
        return hd_error(HERD_EINVAL, "%s is empty; give 1 to %d bytes of " HD_ID_ALPHABET,
                        what, HERD_ID_MAX);
    case HD_ID_CHAR:
        return hd_error(HERD_EINVAL, "%s %s contains %s at byte %zu; names use " HD_ID_ALPHABET,
                        what, hd_quote(name, len, q, sizeof q),
                        hd_byte_desc((unsigned char)name[at], b, sizeof b), at);
    case HD_ID_START:
        return hd_error(HERD_EINVAL,
                        "%s %s starts with '%c' (byte 0); start it with a letter, a digit, "
                        "'_', ':' or '+'",
                        what, hd_quote(name, len, q, sizeof q), name[0]);
    default:
        return hd_error(HERD_EINVAL, "%s %s is %zu bytes long; the limit is %d (HERD_ID_MAX)",
                        what, hd_quote(name, len, q, sizeof q), len, HERD_ID_MAX);
    }
}

int herd_name_validate(const char *name, const char *what)
{
    HD_CHECK_NOT_NULL(name);
    return hd_id_check(name, what ? what : "name");
}

/* ------------------------------------------------------------------------
 * Group keys and their encoding
 * --------------------------------------------------------------------- */

int hd_key_check(const char *key, const char *what)
{
    /* The rules of a key are those of any data-borne name: text.c has them. */
    return hd_name_check(key, HERD_KEY_MAX, what ? what : "group key");
}

/* Bytes that stay themselves when encoded: RFC 3986's unreserved set, safe
 * in file names and URIs alike. */
static int hd_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '~' || c == '.' || c == '-';
}

/* Whether byte i of a key is written %HH: a leading '.' is, so that no
 * encoded key is ".", ".." or a hidden file name. */
static int hd_escaped(const char *key, size_t i)
{
    unsigned char c = (unsigned char)key[i];
    return !hd_unreserved(c) || (i == 0 && c == '.');
}

/* Encode a checked key into a new string (NULL + HERD_ENOMEM on failure). */
static char *hd_key_encode_new(const char *key)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(key), n = 0;
    for (size_t i = 0; i < len; i++) n += hd_escaped(key, i) ? 3 : 1;
    char *out = hd_malloc(n + 1, 1);
    if (!out) return NULL;
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (hd_escaped(key, i)) {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

int herd_key_encode(const char *key, char **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(key);
    int rc = hd_key_check(key, "herd_key_encode: group key");
    if (rc) return rc;
    *out = hd_key_encode_new(key);
    return *out ? HERD_OK : HERD_ENOMEM;
}

/* An upper-case hex digit's value; -1 for anything else, lower case
 * included: the one encoding writes upper case. */
static int hd_hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The offset in the encoded s of decoded byte `index` (s is well formed). */
static size_t hd_encoded_offset(const char *s, size_t index)
{
    size_t o = 0;
    for (size_t k = 0; k < index; k++) o += s[o] == '%' ? 3 : 1;
    return o;
}

/* An encoded key has exactly one spelling, herd_key_encode's: a byte is
 * written as itself when the encoder leaves it (unreserved, and not a
 * leading '.'), as %HH with upper-case hex otherwise.  Anything else (a raw
 * space, '?', '|' or UTF-8 byte, "%2f", "%41" for 'A') would let several
 * strings name one key, and is refused. */
static int hd_encoded_byte_check(const hd_where *w, const char *s, size_t len, size_t i,
                                 size_t base)
{
    char b[16];
    unsigned char c = (unsigned char)s[i];
    if (c != '%') {
        if (hd_unreserved(c) && !(i == 0 && c == '.')) return HERD_OK;
        return hd_error(HERD_EINVAL,
                        "%s: %s: %s at byte %zu must be percent-encoded as %%%02X; a group key "
                        "is written as herd_key_encode writes it (bytes outside "
                        "[A-Za-z0-9_~.-] and a leading '.' as %%HH, upper-case hex)",
                        w->who, w->q, hd_byte_desc(c, b, sizeof b), base + i, c);
    }
    if (len - i < 3 || hd_hex_value(s[i + 1]) < 0 || hd_hex_value(s[i + 2]) < 0) {
        int lower = len - i >= 3 && ((s[i + 1] >= 'a' && s[i + 1] <= 'f') ||
                                     (s[i + 2] >= 'a' && s[i + 2] <= 'f'));
        return hd_error(HERD_EINVAL,
                        lower ? "%s: %s: '%%' at byte %zu is followed by lower-case hex; the "
                                "one encoding writes upper case (%%2F, not %%2f)"
                              : "%s: %s: '%%' at byte %zu is not followed by two hex digits; "
                                "a '%%' in a group key is written %%25",
                        w->who, w->q, base + i);
    }
    unsigned char d = (unsigned char)(hd_hex_value(s[i + 1]) * 16 + hd_hex_value(s[i + 2]));
    if (hd_unreserved(d) && !(i == 0 && d == '.'))
        return hd_error(HERD_EINVAL,
                        "%s: %s: %.3s at byte %zu encodes '%c', which is written as itself; a "
                        "group key has one encoding (herd_key_encode's)",
                        w->who, w->q, s + i, base + i, d);
    return HERD_OK;
}

/* Check that s[0..len) is a key in its one encoding and count the decoded
 * bytes, before allocating anything. */
static int hd_decode_measure(const hd_where *w, const char *s, size_t len, size_t base,
                             size_t *dlen)
{
    size_t n = 0;
    if (len == 0) return hd_error(HERD_EINVAL, "%s: %s: expected a group key at byte %zu",
                                  w->who, w->q, base);
    for (size_t i = 0; i < len; i++, n++) {
        int rc = hd_encoded_byte_check(w, s, len, i, base);
        if (rc) return rc;
        if (s[i] == '%') i += 2;
    }
    if (n > HERD_KEY_MAX)
        return hd_error(HERD_EINVAL,
                        "%s: %s: the group key at byte %zu decodes to %zu bytes; the limit is "
                        "%d (HERD_KEY_MAX)",
                        w->who, w->q, base, n, HERD_KEY_MAX);
    *dlen = n;
    return HERD_OK;
}

/* Decode s[0..len) (measured) into d (dlen + 1 bytes). */
static void hd_decode_into(const char *s, size_t len, char *d)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            c = (unsigned char)(hd_hex_value(s[i + 1]) * 16 + hd_hex_value(s[i + 2]));
            i += 2;
        }
        *d++ = (char)c;
    }
    *d = '\0';
}

/* Decode the key s[0..len), found at offset `base` of the caller's text,
 * into a new string that is a valid key. */
static int hd_decode_span(const hd_where *w, const char *s, size_t len, size_t base, char **out)
{
    size_t dlen = 0, bad;
    *out = NULL;
    int rc = hd_decode_measure(w, s, len, base, &dlen);
    if (rc) return rc;
    char *d = hd_malloc(dlen + 1, 1);
    if (!d) return HERD_ENOMEM;
    hd_decode_into(s, len, d);
    unsigned cp;
    if (!hd_utf8_valid(d, dlen, &bad))
        rc = hd_error(HERD_EINVAL,
                      "%s: %s: the group key is not valid UTF-8 at byte %zu (byte %zu of the "
                      "decoded key); encode UTF-8 text byte by byte",
                      w->who, w->q, base + hd_encoded_offset(s, bad), bad);
    else if (hd_control_find(d, dlen, &bad, &cp))
        rc = hd_error(HERD_EINVAL,
                      "%s: %s: the group key holds the control character U+%04X at byte %zu; "
                      "group keys cannot contain control characters (U+0000..U+001F, "
                      "U+007F..U+009F)",
                      w->who, w->q, cp, base + hd_encoded_offset(s, bad));
    if (rc) {
        free(d);
        return rc;
    }
    *out = d;
    return HERD_OK;
}

int herd_key_decode(const char *text, char **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(text);
    hd_where w;
    hd_where_init(&w, __func__, text);
    return hd_decode_span(&w, text, strlen(text), 0, out);
}

/* ------------------------------------------------------------------------
 * URIs: parsing
 * --------------------------------------------------------------------- */

/* Check the name text[p..p + len), the URI's `part` ("family" or
 * "alias"), and copy it.  `expected` says what an empty one lacks. */
static int hd_uri_name(const hd_where *w, const char *text, size_t p, size_t len,
                       const char *part, const char *expected, char **out)
{
    char b[16];
    size_t at;
    switch (hd_id_problem(text + p, len, &at)) {
    case HD_ID_OK: break;
    case HD_ID_EMPTY:
        return hd_error(HERD_EINVAL, "%s: %s: expected %s at byte %zu; a URI is " HD_URI_FORMS,
                        w->who, w->q, expected, p);
    case HD_ID_CHAR:
        /* "herd:f/a@b@c": the key's '@' was not encoded. */
        return hd_error(HERD_EINVAL,
                        "%s: %s: the %s contains %s at byte %zu; names use " HD_ID_ALPHABET "%s",
                        w->who, w->q, part, hd_byte_desc((unsigned char)text[p + at], b, sizeof b),
                        p + at,
                        text[p + at] == '@' && strcmp(part, "alias") == 0
                            ? " (an '@' in a group key is written %40)"
                            : "");
    case HD_ID_START:
        return hd_error(HERD_EINVAL,
                        "%s: %s: the %s starts with '%c' at byte %zu; a name starts with a "
                        "letter, a digit, '_', ':' or '+'",
                        w->who, w->q, part, text[p], p);
    default:
        return hd_error(HERD_EINVAL,
                        "%s: %s: the %s at byte %zu is %zu bytes long; the limit is %d "
                        "(HERD_ID_MAX)",
                        w->who, w->q, part, p, len, HERD_ID_MAX);
    }
    *out = hd_strndup(text + p, len);
    return *out ? HERD_OK : HERD_ENOMEM;
}

/* The family: from byte 5 to the first '/', which *slash receives. */
static int hd_uri_family(const hd_where *w, const char *text, char **family, size_t *slash)
{
    const size_t p = 5;
    const char *s = strchr(text + p, '/');
    if (!s) {
        /* Point at where the '/' was due: after the run of name bytes. */
        size_t q = p;
        while (hd_id_char((unsigned char)text[q])) q++;
        if (q == p) return hd_uri_name(w, text, p, 0, "family", "a family name", family);
        return hd_error(HERD_EINVAL,
                        "%s: %s: expected '/' and a group key after the family at byte %zu",
                        w->who, w->q, q);
    }
    *slash = (size_t)(s - text);
    return hd_uri_name(w, text, p, *slash - p, "family", "a family name", family);
}

/* The alias: everything after the '@' at byte p - 1. */
static int hd_uri_alias(const hd_where *w, const char *text, size_t p, char **alias)
{
    return hd_uri_name(w, text, p, strlen(text + p), "alias", "an alias after '@'", alias);
}

/* Why a version number may be missing where one was expected. */
static const char *hd_version_hint(char c)
{
    if (c == '+' || c == '-') return "; versions are written without a sign";
    /* "herd:f/DE/Berlin": the key's '/' was not encoded. */
    if (c) return "; a '/' in a group key is written %2F";
    return "";
}

/* The version: decimal digits from byte p to the end, 1..INT64_MAX, with
 * no sign and no leading zero, so that each version has one spelling. */
static int hd_uri_version(const hd_where *w, const char *text, size_t p, int64_t *version)
{
    char b[16];
    size_t i = p;
    int64_t v = 0;
    while (text[i] >= '0' && text[i] <= '9') i++;
    if (i == p)
        return hd_error(HERD_EINVAL,
                        "%s: %s: expected a version number (1, 2, ...) at byte %zu, found %s%s",
                        w->who, w->q, p,
                        text[p] ? hd_byte_desc((unsigned char)text[p], b, sizeof b) : "the end",
                        hd_version_hint(text[p]));
    if (text[i])
        return hd_error(HERD_EINVAL,
                        "%s: %s: unexpected %s at byte %zu after the version number; nothing "
                        "may follow it",
                        w->who, w->q, hd_byte_desc((unsigned char)text[i], b, sizeof b), i);
    if (text[p] == '0')
        return hd_error(HERD_EINVAL,
                        i - p == 1 ? "%s: %s: version 0 at byte %zu; versions start at 1"
                                   : "%s: %s: the version number at byte %zu has a leading "
                                     "zero; write it without",
                        w->who, w->q, p);
    for (size_t k = p; k < i; k++) {
        int d = text[k] - '0';
        if (v > (INT64_MAX - d) / 10)
            return hd_error(HERD_EINVAL,
                            "%s: %s: the version number at byte %zu is larger than %lld, the "
                            "largest version",
                            w->who, w->q, p, (long long)INT64_MAX);
        v = v * 10 + d;
    }
    *version = v;
    return HERD_OK;
}

/* Everything after "herd:FAMILY/": the key, then the end, "@ALIAS" or
 * "/N".  The first '/' or '@' ends the key: inside it both are escaped. */
static int hd_uri_rest(const hd_where *w, const char *text, size_t p, herd_uri *u)
{
    size_t end = p + strcspn(text + p, "/@");
    int rc = hd_decode_span(w, text + p, end - p, p, &u->group);
    if (rc) return rc;
    if (text[end] == '@') return hd_uri_alias(w, text, end + 1, &u->alias);
    if (text[end] == '/') return hd_uri_version(w, text, end + 1, &u->version);
    u->alias = hd_strdup("latest");
    return u->alias ? HERD_OK : HERD_ENOMEM;
}

int herd_uri_parse(const char *text, herd_uri **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(text);
    hd_where w;
    hd_where_init(&w, __func__, text);
    if (strncmp(text, "herd:", 5) != 0)
        return hd_error(HERD_EINVAL, "%s: %s: expected \"herd:\" at byte 0; a URI is " HD_URI_FORMS,
                        w.who, w.q);
    herd_uri *u = hd_calloc(1, sizeof *u);
    if (!u) return HERD_ENOMEM;
    size_t slash = 0;
    int rc = hd_uri_family(&w, text, &u->family, &slash);
    if (!rc) rc = hd_uri_rest(&w, text, slash + 1, u);
    if (rc) {
        herd_uri_free(u);
        return rc;
    }
    *out = u;
    return HERD_OK;
}

void herd_uri_free(herd_uri *uri)
{
    if (!uri) return;
    free(uri->family);
    free(uri->group);
    free(uri->alias);
    free(uri);
}

const char *herd_uri_family(const herd_uri *uri)
{
    return uri ? uri->family : NULL;
}

const char *herd_uri_group(const herd_uri *uri)
{
    return uri ? uri->group : NULL;
}

/* A URI names its model by an alias or by a version number: the other is
 * missing. */
int herd_uri_alias(const herd_uri *uri, const char **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(uri);
    *out = uri->alias;
    return uri->alias ? HERD_OK : HERD_MISSING;
}

int herd_uri_version(const herd_uri *uri, int64_t *out)
{
    HD_CHECK_NOT_NULL(out);
    *out = 0;
    HD_CHECK_NOT_NULL(uri);
    *out = uri->version;
    return uri->version ? HERD_OK : HERD_MISSING;
}

/* ------------------------------------------------------------------------
 * URIs: formatting
 * --------------------------------------------------------------------- */

/* Refuse a version that is negative, or given together with an alias:
 * a URI names one model. */
static int hd_uri_target_check(const char *alias, int64_t version)
{
    char q[96];
    if (version < 0)
        return hd_error(HERD_EINVAL,
                        "herd_uri_format: version %lld is negative; give a version >= 1, or 0 "
                        "to name an alias",
                        (long long)version);
    if (alias && version > 0)
        return hd_error(HERD_EINVAL,
                        "herd_uri_format: both alias %s and version %lld are given; a URI names "
                        "one of them: pass alias NULL or version 0",
                        hd_quote(alias, strlen(alias), q, sizeof q), (long long)version);
    return HERD_OK;
}

int herd_uri_format(const char *family, const char *group, const char *alias, int64_t version,
                    char **out)
{
    HD_CHECK_NOT_NULL(out);
    *out = NULL;
    HD_CHECK_NOT_NULL(family);
    HD_CHECK_NOT_NULL(group);
    int rc = hd_uri_target_check(alias, version);
    if (!rc) rc = hd_id_check(family, "herd_uri_format: family");
    if (!rc) rc = hd_key_check(group, "herd_uri_format: group key");
    if (!rc && alias) rc = hd_id_check(alias, "herd_uri_format: alias");
    if (rc) return rc;
    char *key = hd_key_encode_new(group);
    if (!key) return HERD_ENOMEM;
    /* "herd:" + family + '/' + key + '@' alias or '/' 19 digits + NUL. */
    size_t size = 5 + strlen(family) + 1 + strlen(key) + 1 +
                  (alias ? strlen(alias) : 20) + 1;
    char *s = hd_malloc(size, 1);
    if (s) {
        if (alias) snprintf(s, size, "herd:%s/%s@%s", family, key, alias);
        else if (version > 0) snprintf(s, size, "herd:%s/%s/%lld", family, key, (long long)version);
        else snprintf(s, size, "herd:%s/%s", family, key);
    }
    free(key);
    *out = s;
    return s ? HERD_OK : HERD_ENOMEM;
}

/* ------------------------------------------------------------------------
 * Glob patterns over keys
 *
 * '*' any run of bytes, '?' one byte, "[...]" one byte of a class (ranges
 * "a-z", negated by a leading '!' or '^', a ']' first is a member), '\\'
 * takes the next byte literally (inside classes too).  Byte-wise: '?'
 * matches one byte of a multi-byte UTF-8 character, not the character.
 * --------------------------------------------------------------------- */

/* The ']' closing the class whose '[' is at p[-1], or NULL when there is
 * none (then the '[' is an ordinary byte to the matcher). */
static const char *hd_class_end(const char *p)
{
    if (*p == '!' || *p == '^') p++;
    if (*p == ']') p++;
    while (*p && *p != ']') p += (*p == '\\' && p[1]) ? 2 : 1;
    return *p == ']' ? p : NULL;
}

/* One member byte of a class at *pp (before end), unescaped. */
static unsigned char hd_class_byte(const char **pp, const char *end)
{
    const char *p = *pp;
    if (*p == '\\' && p + 1 < end) p++;
    *pp = p + 1;
    return (unsigned char)*p;
}

/* One member at *pp: a byte (lo == hi) or a range lo-hi.  A '-' that
 * cannot start a range (first, or last before ']') is a byte. */
static void hd_class_member(const char **pp, const char *end, unsigned char *lo, unsigned char *hi)
{
    *lo = *hi = hd_class_byte(pp, end);
    if (**pp == '-' && *pp + 1 < end) {
        (*pp)++;
        *hi = hd_class_byte(pp, end);
    }
}

/* Whether c is in the class between '[' (at p[-1]) and end. */
static int hd_class_match(const char *p, const char *end, unsigned char c)
{
    int negate = *p == '!' || *p == '^';
    int hit = 0;
    if (negate) p++;
    while (p < end) {
        unsigned char lo, hi;
        hd_class_member(&p, end, &lo, &hi);
        if (lo <= c && c <= hi) hit = 1;
    }
    return hit != negate;
}

int hd_glob_check(const char *pattern, const char *what)
{
    char q[96];
    if (!what) what = "pattern";
    if (!pattern) return hd_error(HERD_EINVAL, "%s is NULL; give a pattern", what);
    size_t len = strlen(pattern);
    for (size_t i = 0; i < len; i++) {
        const char *p = pattern + i;
        if (*p == '\\') {
            if (!p[1])
                return hd_error(HERD_EINVAL,
                                "%s %s ends with a lone '\\' at byte %zu; write a literal "
                                "backslash as \\\\",
                                what, hd_quote(pattern, len, q, sizeof q), i);
            i++;
        } else if (*p == '[') {
            const char *end = hd_class_end(p + 1);
            if (!end)
                return hd_error(HERD_EINVAL,
                                "%s %s has an unclosed '[' at byte %zu; close the class with "
                                "']' or write a literal '[' as \\[",
                                what, hd_quote(pattern, len, q, sizeof q), i);
            /* A reversed range matches nothing: surely a mistake. */
            const char *m = p + 1 + (p[1] == '!' || p[1] == '^');
            while (m < end) {
                const char *start = m;
                unsigned char lo, hi;
                hd_class_member(&m, end, &lo, &hi);
                if (lo > hi)
                    return hd_error(HERD_EINVAL,
                                    "%s %s has a reversed range at byte %zu; write the lower "
                                    "byte first",
                                    what, hd_quote(pattern, len, q, sizeof q),
                                    (size_t)(start - pattern));
            }
            i = (size_t)(end - pattern);
        }
    }
    return HERD_OK;
}

/* Whether the single-byte item at p (not '*', not the end) matches c;
 * *step is its length in the pattern. */
static int hd_glob_item(const char *p, unsigned char c, size_t *step)
{
    if (*p == '?') {
        *step = 1;
        return 1;
    }
    if (*p == '\\' && p[1]) {
        *step = 2;
        return (unsigned char)p[1] == c;
    }
    if (*p == '[') {
        const char *end = hd_class_end(p + 1);
        if (end) {
            *step = (size_t)(end - p) + 1;
            return hd_class_match(p + 1, end, c);
        }
    }
    *step = 1;
    return (unsigned char)*p == c;
}

int hd_glob_match(const char *pattern, const char *text)
{
    /* Greedy stars with one backtrack point: on a mismatch, let the last
     * '*' swallow one more byte and retry from just after it.  Earlier stars
     * never need revisiting (whatever they matched, the last one can absorb),
     * so the cost is O(len(pattern) * len(text)) at worst, never exponential. */
    const char *p = pattern, *t = text;
    const char *star_p = NULL, *star_t = NULL;
    while (*t) {
        if (*p == '*') {
            while (*p == '*') p++;
            if (!*p) return 1;
            star_p = p;
            star_t = t;
            continue;
        }
        size_t step;
        if (*p && hd_glob_item(p, (unsigned char)*t, &step)) {
            p += step;
            t++;
        } else if (star_p) {
            p = star_p;
            t = ++star_t;
        } else {
            return 0;
        }
    }
    while (*p == '*') p++;
    return *p == '\0';
}
