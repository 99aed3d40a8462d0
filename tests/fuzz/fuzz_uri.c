/* fuzz_uri.c -- libFuzzer target for the registry's text parsers: URIs
 * (herd_uri_parse), the percent-encoding of group keys (herd_key_decode,
 * herd_key_encode), names (herd_name_validate) and the glob patterns of
 * searches (hd_glob_check).
 *
 * Any text may be refused; none may crash, and what is accepted must
 * round-trip: a parsed URI formats to a URI that parses to the same
 * family, group, alias and version; a decoded key encodes to text that
 * decodes to the same key; an encoded key decodes back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "registry/uri_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

/* The parts of a URI; alias NULL when it names a version. */
static void parts(const herd_uri *u, const char **family, const char **group,
                  const char **alias, int64_t *version)
{
    *family = herd_uri_family(u);
    *group = herd_uri_group(u);
    int arc = herd_uri_alias(u, alias), vrc = herd_uri_version(u, version);
    if (!*family || !*group) abort(); /* every URI has both */
    if ((arc == HERD_OK) == (vrc == HERD_OK)) abort(); /* exactly one names it */
    if ((arc == HERD_OK) != (*alias != NULL) || (vrc == HERD_OK) != (*version > 0)) abort();
}

static void uri_round_trip(const char *text)
{
    herd_uri *u = NULL;
    if (herd_uri_parse(text, &u) != HERD_OK) {
        if (u || herd_last_error()[0] == '\0') abort();
        return;
    }
    const char *family, *group, *alias;
    int64_t version;
    parts(u, &family, &group, &alias, &version);
    char *again = NULL;
    if (herd_uri_format(family, group, alias, version, &again) != HERD_OK) abort();
    herd_uri *v = NULL;
    if (herd_uri_parse(again, &v) != HERD_OK) abort();
    const char *f2, *g2, *a2;
    int64_t v2;
    parts(v, &f2, &g2, &a2, &v2);
    /* "latest" and the short form are the same model */
    int same_alias = same(alias, a2) || (alias && a2 && !strcmp(alias, "latest") &&
                                         !strcmp(a2, "latest"));
    if (!same(family, f2) || !same(group, g2) || !same_alias || version != v2) abort();
    herd_uri_free(v);
    herd_free(again);
    herd_uri_free(u);
}

static void key_round_trip(const char *text)
{
    char *key = NULL, *enc = NULL, *back = NULL;
    if (herd_key_decode(text, &key) == HERD_OK) {
        if (herd_key_encode(key, &enc) != HERD_OK) abort();
        if (herd_key_decode(enc, &back) != HERD_OK || strcmp(back, key) != 0) abort();
        herd_free(back);
        back = NULL;
        herd_free(enc);
        enc = NULL;
    }
    herd_free(key);
    /* the text itself as a key */
    if (herd_key_encode(text, &enc) == HERD_OK) {
        if (herd_key_decode(enc, &back) != HERD_OK || strcmp(back, text) != 0) abort();
    }
    herd_free(back);
    herd_free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside ends the text, as for any C caller */
    uri_round_trip(text);
    key_round_trip(text);
    (void)herd_name_validate(text, "family");
    /* a pattern that checks matches in linear time (a slow input is a
     * timeout); matching it against itself exercises its every class */
    if (hd_glob_check(text, "pattern") == HERD_OK) (void)hd_glob_match(text, text);
    free(text);
    return 0;
}
