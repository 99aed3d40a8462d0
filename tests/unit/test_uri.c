/* Tests of names, group keys and their encoding, registry URIs, and the key
 * glob patterns (lib/registry/uri.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herd.h"
#include "common/error_internal.h"
#include "registry/uri_internal.h"

/* A sentinel that a failing call must replace with NULL. */
static char hd_sentinel_byte;
#define SENTINEL ((void *)&hd_sentinel_byte)

/* The call fails with `code`, records it, and its message holds `fragment`
 * (the detail a user needs: the byte, the position, the limit). */
#define assert_fails(call, code, fragment)                                          \
    do {                                                                            \
        herd_clear_error();                                                         \
        assert_int_equal((call), (code));                                           \
        assert_int_equal(herd_last_error_code(), (code));                           \
        if (!strstr(herd_last_error(), (fragment)))                                 \
            fail_msg("message \"%s\" does not mention \"%s\"", herd_last_error(),   \
                     (fragment));                                                   \
    } while (0)

/* A string of n copies of c (freed by the caller). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------------------------
 * Names
 * --------------------------------------------------------------------- */

static void test_name_valid(void **state)
{
    (void)state;
    const char *ok[] = {"demand", "a", "A.b_c-d:e+f", "_x", ":x", "+x", "x-", "x.", "v1.2.3",
                        "run:2024-01-01T00:00:00", "9"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(herd_name_validate(ok[i], "family"), HERD_OK);
        assert_int_equal(hd_id_check(ok[i], "family"), HERD_OK);
    }
    char *longest = repeat('n', HERD_ID_MAX);
    assert_int_equal(herd_name_validate(longest, NULL), HERD_OK);
    free(longest);
}

static void test_name_invalid(void **state)
{
    (void)state;
    herd_clear_error();
    assert_int_equal(hd_id_check("a/b", "family"), HERD_EINVAL);
    assert_string_equal(herd_last_error(), "family \"a/b\" contains '/' at byte 1; names use "
                                           "letters, digits and . _ - : +");
    assert_fails(herd_name_validate(NULL, "family"), HERD_EINVAL, "argument 'name' is NULL");
    assert_fails(herd_name_validate("", "alias"), HERD_EINVAL, "alias is empty");
    assert_fails(herd_name_validate("a/b", NULL), HERD_EINVAL, "name \"a/b\" contains '/' at byte 1");
    assert_fails(herd_name_validate("..", "family"), HERD_EINVAL, "starts with '.'");
    assert_fails(herd_name_validate(".", "family"), HERD_EINVAL, "starts with '.'");
    assert_fails(herd_name_validate(".hidden", "tag"), HERD_EINVAL, "tag \".hidden\" starts with '.'");
    assert_fails(herd_name_validate("-rf", "run id"), HERD_EINVAL, "run id \"-rf\" starts with '-'");
    assert_fails(herd_name_validate("../x", "family"), HERD_EINVAL, "'/' at byte 2");
    assert_fails(herd_name_validate("a\\b", "family"), HERD_EINVAL, "'\\' at byte 1");
    assert_fails(herd_name_validate("a b", "family"), HERD_EINVAL, "a space at byte 1");
    assert_fails(herd_name_validate("ab\x01", "family"), HERD_EINVAL, "byte 0x01 at byte 2");
    assert_fails(herd_name_validate("a\x7F", "family"), HERD_EINVAL, "byte 0x7F at byte 1");
    assert_fails(herd_name_validate("Z\xC3\xBCrich", "family"), HERD_EINVAL, "byte 0xC3 at byte 1");
    assert_fails(herd_name_validate("a@b", "alias"), HERD_EINVAL, "'@' at byte 1");
    assert_fails(herd_name_validate("a%b", "alias"), HERD_EINVAL, "'%' at byte 1");
    char *toolong = repeat('n', HERD_ID_MAX + 1);
    assert_fails(herd_name_validate(toolong, "family"), HERD_EINVAL,
                 "is 129 bytes long; the limit is 128");
    /* A bad character is reported before the length. */
    toolong[HERD_ID_MAX] = '/';
    assert_fails(herd_name_validate(toolong, "family"), HERD_EINVAL, "'/' at byte 128");
    free(toolong);
}

/* ------------------------------------------------------------------------
 * Keys
 * --------------------------------------------------------------------- */

static void test_key_check(void **state)
{
    (void)state;
    assert_int_equal(hd_key_check("DE/Berlin", "group key"), HERD_OK);
    assert_int_equal(hd_key_check("Z\xC3\xBCrich", "group key"), HERD_OK);
    assert_int_equal(hd_key_check("..", "group key"), HERD_OK);
    assert_int_equal(hd_key_check(" a b @ % / ", "group key"), HERD_OK);
    char *k = repeat('k', HERD_KEY_MAX);
    assert_int_equal(hd_key_check(k, "group key"), HERD_OK);
    free(k);
    assert_fails(hd_key_check(NULL, "group key"), HERD_EINVAL, "group key is NULL");
    assert_fails(hd_key_check("", "group key"), HERD_EINVAL, "group key is empty");
    assert_fails(hd_key_check("a\tb", "group key"), HERD_EINVAL, "control character U+0009 (byte 1)");
    assert_fails(hd_key_check("ab\x7F", "group key"), HERD_EINVAL,
                 "control character U+007F (byte 2)");
    /* One rule for C0 and C1 controls: U+0085 (NEL) and U+009F are refused
     * too, U+00A0 (no-break space) is text. */
    assert_fails(hd_key_check("a\xC2\x85", "group key"), HERD_EINVAL,
                 "control character U+0085 (byte 1)");
    assert_fails(hd_key_check("\xC2\x9F", "group key"), HERD_EINVAL,
                 "control character U+009F (byte 0)");
    assert_fails(hd_key_check("\xC2\x80x", "group key"), HERD_EINVAL,
                 "control character U+0080 (byte 0)");
    assert_int_equal(hd_key_check("a\xC2\xA0" "b", "group key"), HERD_OK);
    assert_fails(hd_key_check("ab\xC3(", "group key"), HERD_EINVAL, "not valid UTF-8 (byte 2)");
    k = repeat('k', HERD_KEY_MAX + 1);
    assert_fails(hd_key_check(k, "group key"), HERD_EINVAL, "1025 bytes long; the limit is 1024");
    free(k);
}

static void assert_encodes(const char *key, const char *expected)
{
    char *enc = SENTINEL;
    assert_int_equal(herd_key_encode(key, &enc), HERD_OK);
    assert_string_equal(enc, expected);
    char *dec = SENTINEL;
    assert_int_equal(herd_key_decode(enc, &dec), HERD_OK);
    assert_string_equal(dec, key);
    herd_free(dec);
    herd_free(enc);
}

static void test_key_encode_exact(void **state)
{
    (void)state;
    assert_encodes("store_17", "store_17");
    assert_encodes("DE/Berlin", "DE%2FBerlin");
    assert_encodes(".hidden", "%2Ehidden");
    assert_encodes(".", "%2E");
    assert_encodes("..", "%2E.");
    assert_encodes("...", "%2E..");
    assert_encodes("x.", "x.");
    assert_encodes("a.b", "a.b");
    assert_encodes("~", "~");
    assert_encodes("~user", "~user");
    assert_encodes("A-z.0~_9", "A-z.0~_9");
    assert_encodes("a b", "a%20b");
    assert_encodes("100%", "100%25");
    assert_encodes("a@b", "a%40b");
    assert_encodes("Z\xC3\xBCrich", "Z%C3%BCrich");
    assert_encodes("\\/:*?\"<>|", "%5C%2F%3A%2A%3F%22%3C%3E%7C");
    assert_encodes("+-", "%2B-");
    assert_encodes("\xF0\x9F\x90\x91", "%F0%9F%90%91"); /* U+1F411, a ram */
}

static void test_key_round_trips(void **state)
{
    (void)state;
    const char *keys[] = {"DE/Berlin", "a@b/c", "%", "%%25", "%2F", " ", "  x  ", "Z\xC3\xBCrich",
                          ".", "..", "./..", ".hidden", "~", "-", "a/../../etc/passwd",
                          "\xE6\x9D\xB1\xE4\xBA\xAC/\xE6\xB8\x8B\xE8\xB0\xB7"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *enc = NULL, *dec = NULL;
        assert_int_equal(herd_key_encode(keys[i], &enc), HERD_OK);
        /* An encoding is a safe file name: no '/', no '.' first. */
        assert_null(strchr(enc, '/'));
        assert_true(enc[0] != '.');
        assert_true(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_~.-%") == strlen(enc));
        assert_int_equal(herd_key_decode(enc, &dec), HERD_OK);
        assert_string_equal(dec, keys[i]);
        herd_free(enc);
        herd_free(dec);
    }
    /* Every printable ASCII byte alone, and every byte after a letter. */
    for (int c = 0x20; c < 0x7F; c++) {
        char key[3] = {'k', (char)c, '\0'};
        char *enc = NULL, *dec = NULL;
        assert_int_equal(herd_key_encode(key + 1, &enc), HERD_OK);
        assert_int_equal(herd_key_decode(enc, &dec), HERD_OK);
        assert_string_equal(dec, key + 1);
        herd_free(enc);
        herd_free(dec);
        assert_int_equal(herd_key_encode(key, &enc), HERD_OK);
        assert_int_equal(herd_key_decode(enc, &dec), HERD_OK);
        assert_string_equal(dec, key);
        herd_free(enc);
        herd_free(dec);
    }
    /* The longest key: every byte escaped triples it. */
    char *k = repeat('/', HERD_KEY_MAX);
    char *enc = NULL, *dec = NULL;
    assert_int_equal(herd_key_encode(k, &enc), HERD_OK);
    assert_int_equal(strlen(enc), 3 * HERD_KEY_MAX);
    assert_int_equal(herd_key_decode(enc, &dec), HERD_OK);
    assert_string_equal(dec, k);
    herd_free(enc);
    herd_free(dec);
    free(k);
}

/* A key has one encoding: every other spelling of it is refused, so that
 * one string names one key (and one URI one version). */
static void test_key_decode_canonical(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"z%c3%bcrich", "lower-case hex"},
        {"DE%2fBerlin", "lower-case hex"},
        {"%2e%2E", "lower-case hex"},
        {"a b", "a space at byte 1 must be percent-encoded as %20"},
        {"a?b", "'?' at byte 1 must be percent-encoded as %3F"},
        {"a|b", "'|' at byte 1 must be percent-encoded as %7C"},
        {"Z\xC3\xBCrich", "byte 0xC3 at byte 1 must be percent-encoded as %C3"},
        {".x", "'.' at byte 0 must be percent-encoded as %2E"},
        {"%41", "%41 at byte 0 encodes 'A', which is written as itself"},
        {"x%2E", "%2E at byte 1 encodes '.', which is written as itself"},
        {"a\tb", "byte 0x09 at byte 1 must be percent-encoded as %09"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dec = SENTINEL;
        assert_fails(herd_key_decode(cases[i][0], &dec), HERD_EINVAL, cases[i][1]);
        assert_null(dec);
    }
    /* The one encoding decodes, and encodes back to itself. */
    const char *good[] = {"z%C3%BCrich", "DE%2FBerlin", "%2E.", "a%20b", "%2Ex", "x.",
                          "A~_-.9"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *dec = NULL, *enc = NULL;
        assert_int_equal(herd_key_decode(good[i], &dec), HERD_OK);
        assert_int_equal(herd_key_encode(dec, &enc), HERD_OK);
        assert_string_equal(enc, good[i]);
        herd_free(dec);
        herd_free(enc);
    }
}

static void test_key_encode_errors(void **state)
{
    (void)state;
    char *out = SENTINEL;
    assert_fails(herd_key_encode("k", NULL), HERD_EINVAL, "argument 'out' is NULL");
    assert_fails(herd_key_encode(NULL, &out), HERD_EINVAL, "argument 'key' is NULL");
    assert_null(out);
    out = SENTINEL;
    assert_fails(herd_key_encode("", &out), HERD_EINVAL, "herd_key_encode: group key is empty");
    assert_null(out);
    out = SENTINEL;
    assert_fails(herd_key_encode("a\nb", &out), HERD_EINVAL,
                 "control character U+000A (byte 1)");
    assert_null(out);
    assert_fails(herd_key_encode("ab\xFF", &out), HERD_EINVAL, "not valid UTF-8 (byte 2)");
    assert_fails(herd_key_encode("\xED\xA0\x80", &out), HERD_EINVAL, "not valid UTF-8 (byte 0)");
    char *k = repeat('k', HERD_KEY_MAX + 1);
    assert_fails(herd_key_encode(k, &out), HERD_EINVAL, "1025 bytes long; the limit is 1024");
    assert_null(out);
    free(k);
}

static void test_key_decode_errors(void **state)
{
    (void)state;
    char *out = SENTINEL;
    assert_fails(herd_key_decode("k", NULL), HERD_EINVAL, "argument 'out' is NULL");
    assert_fails(herd_key_decode(NULL, &out), HERD_EINVAL, "argument 'text' is NULL");
    assert_null(out);
    out = SENTINEL;
    assert_fails(herd_key_decode("", &out), HERD_EINVAL, "expected a group key at byte 0");
    assert_null(out);
    out = SENTINEL;
    herd_clear_error();
    assert_int_equal(herd_key_decode("ab%zz", &out), HERD_EINVAL);
    assert_null(out);
    assert_string_equal(herd_last_error(),
                        "herd_key_decode: \"ab%zz\": '%' at byte 2 is not followed by two hex "
                        "digits; a '%' in a group key is written %25");
    assert_fails(herd_key_decode("%", &out), HERD_EINVAL, "'%' at byte 0 is not followed");
    assert_fails(herd_key_decode("a%4", &out), HERD_EINVAL, "'%' at byte 1 is not followed");
    assert_fails(herd_key_decode("%G0", &out), HERD_EINVAL, "'%' at byte 0 is not followed");
    assert_fails(herd_key_decode("%0G", &out), HERD_EINVAL, "'%' at byte 0 is not followed");
    assert_fails(herd_key_decode("ok%2F%", &out), HERD_EINVAL, "'%' at byte 5 is not followed");
    assert_fails(herd_key_decode("%+1F", &out), HERD_EINVAL, "'%' at byte 0 is not followed");
    /* Results that are not valid keys; the byte is the offset in the text. */
    assert_fails(herd_key_decode("%00", &out), HERD_EINVAL, "control character U+0000 at byte 0");
    assert_fails(herd_key_decode("ab%0A", &out), HERD_EINVAL, "control character U+000A at byte 2");
    assert_fails(herd_key_decode("AB%7F", &out), HERD_EINVAL, "control character U+007F at byte 2");
    assert_fails(herd_key_decode("a%C2%85", &out), HERD_EINVAL,
                 "control character U+0085 at byte 1");
    assert_fails(herd_key_decode("AB%C3%28", &out), HERD_EINVAL, "not valid UTF-8 at byte 2");
    assert_fails(herd_key_decode("x%FF", &out), HERD_EINVAL, "not valid UTF-8 at byte 1");
    assert_fails(herd_key_decode("%C0%AF", &out), HERD_EINVAL, "not valid UTF-8 at byte 0");
    assert_fails(herd_key_decode("ab%C3", &out), HERD_EINVAL, "not valid UTF-8 at byte 2");
    assert_null(out);
    char *k = repeat('k', HERD_KEY_MAX + 1);
    assert_fails(herd_key_decode(k, &out), HERD_EINVAL, "decodes to 1025 bytes; the limit is 1024");
    free(k);
    /* 1024 escapes decode to 1024 bytes: the limit is on the decoded key. */
    char *e = malloc(3 * (HERD_KEY_MAX + 1) + 1);
    assert_non_null(e);
    for (size_t i = 0; i < HERD_KEY_MAX + 1; i++) memcpy(e + 3 * i, "%20", 3);
    e[3 * HERD_KEY_MAX] = '\0';
    assert_int_equal(herd_key_decode(e, &out), HERD_OK);
    assert_int_equal(strlen(out), HERD_KEY_MAX);
    herd_free(out);
    e[3 * HERD_KEY_MAX] = '%';
    e[3 * (HERD_KEY_MAX + 1)] = '\0';
    assert_fails(herd_key_decode(e, &out), HERD_EINVAL, "decodes to 1025 bytes");
    assert_null(out);
    free(e);
}

/* ------------------------------------------------------------------------
 * URIs
 * --------------------------------------------------------------------- */

/* A URI names its model by alias or version: the other is HERD_MISSING,
 * which leaves the last error alone. */
static void expect_target(const herd_uri *u, const char *alias, int64_t version)
{
    const char *a = SENTINEL;
    int64_t v = -1;
    herd_error_set(HERD_EIO, "pending");
    if (alias) {
        assert_int_equal(herd_uri_alias(u, &a), HERD_OK);
        assert_string_equal(a, alias);
        assert_int_equal(herd_uri_version(u, &v), HERD_MISSING);
        assert_int_equal(v, 0);
    } else {
        assert_int_equal(herd_uri_alias(u, &a), HERD_MISSING);
        assert_null(a);
        assert_int_equal(herd_uri_version(u, &v), HERD_OK);
        assert_int_equal(v, version);
    }
    assert_string_equal(herd_last_error(), "pending");
    assert_int_equal(herd_last_error_code(), HERD_EIO);
}

static void assert_uri(const char *text, const char *family, const char *group,
                       const char *alias, int64_t version)
{
    herd_uri *u = SENTINEL;
    herd_clear_error();
    if (herd_uri_parse(text, &u) != HERD_OK) fail_msg("%s: %s", text, herd_last_error());
    assert_string_equal(herd_uri_family(u), family);
    assert_string_equal(herd_uri_group(u), group);
    expect_target(u, alias, version);
    herd_uri_free(u);
}

static void test_uri_parse_forms(void **state)
{
    (void)state;
    assert_uri("herd:demand/DE%2FBerlin@champion", "demand", "DE/Berlin", "champion", 0);
    assert_uri("herd:demand/store_17/7", "demand", "store_17", NULL, 7);
    assert_uri("herd:demand/store_17", "demand", "store_17", "latest", 0);
    assert_uri("herd:demand/store_17@latest", "demand", "store_17", "latest", 0);
    assert_uri("herd:demand/k/1", "demand", "k", NULL, 1);
    assert_uri("herd:demand/k/9223372036854775807", "demand", "k", NULL, INT64_MAX);
    assert_uri("herd:demand/k/1234567890", "demand", "k", NULL, 1234567890);
    assert_uri("herd:d.e_m-a:n+d/z%C3%BCrich@v1.2", "d.e_m-a:n+d", "z\xC3\xBCrich", "v1.2", 0);
    assert_uri("herd:f/%2E.", "f", "..", "latest", 0);
    assert_uri("herd:f/a%20b@x", "f", "a b", "x", 0);
    assert_uri("herd:f/a%40b%2F7@x", "f", "a@b/7", "x", 0);
    assert_uri("herd:f/%25/3", "f", "%", NULL, 3);
    /* Accessors of NULL: NULL, and the last error stays. */
    herd_error_set(HERD_EIO, "pending");
    assert_null(herd_uri_family(NULL));
    assert_null(herd_uri_group(NULL));
    assert_int_equal(herd_last_error_code(), HERD_EIO);
    const char *a = SENTINEL;
    int64_t v = -1;
    assert_int_equal(herd_uri_alias(NULL, &a), HERD_EINVAL);
    assert_null(a);
    assert_int_equal(herd_uri_version(NULL, &v), HERD_EINVAL);
    assert_int_equal(v, 0);
    herd_uri *u = NULL;
    assert_int_equal(herd_uri_parse("herd:f/g@a", &u), HERD_OK);
    assert_int_equal(herd_uri_alias(u, NULL), HERD_EINVAL);
    assert_int_equal(herd_uri_version(u, NULL), HERD_EINVAL);
    herd_uri_free(u);
    herd_uri_free(NULL);
}

/* herd_uri_parse(text) fails with HERD_EINVAL, *out NULL, and a message
 * holding `fragment`. */
static void assert_uri_fails(const char *text, const char *fragment)
{
    herd_uri *u = SENTINEL;
    herd_clear_error();
    if (herd_uri_parse(text, &u) != HERD_EINVAL) fail_msg("%s: parsed", text);
    assert_null(u);
    assert_int_equal(herd_last_error_code(), HERD_EINVAL);
    if (!strstr(herd_last_error(), fragment))
        fail_msg("%s: message \"%s\" does not mention \"%s\"", text, herd_last_error(), fragment);
}

static void test_uri_parse_errors(void **state)
{
    (void)state;
    herd_uri *u = SENTINEL;
    assert_fails(herd_uri_parse("herd:f/k", NULL), HERD_EINVAL, "argument 'out' is NULL");
    assert_fails(herd_uri_parse(NULL, &u), HERD_EINVAL, "argument 'text' is NULL");
    assert_null(u);

    herd_clear_error();
    assert_int_equal(herd_uri_parse("herd:demand", &u), HERD_EINVAL);
    assert_string_equal(herd_last_error(), "herd_uri_parse: \"herd:demand\": expected '/' and a "
                                           "group key after the family at byte 11");
    /* The scheme. */
    assert_uri_fails("demand/k@champion", "expected \"herd:\" at byte 0");
    assert_uri_fails("HERD:demand/k", "expected \"herd:\" at byte 0");
    assert_uri_fails("", "expected \"herd:\" at byte 0");
    assert_uri_fails("herd", "expected \"herd:\" at byte 0");
    /* The family. */
    assert_uri_fails("herd:", "expected a family name at byte 5");
    assert_uri_fails("herd:/k", "expected a family name at byte 5");
    assert_uri_fails("herd:@x", "expected a family name at byte 5");
    assert_uri_fails("herd:demand@champion", "expected '/' and a group key after the family at byte 11");
    assert_uri_fails("herd:de mand/k", "the family contains a space at byte 7");
    assert_uri_fails("herd:a@b/k", "the family contains '@' at byte 6");
    assert_uri_fails("herd:a%2Fb/k", "the family contains '%' at byte 6");
    assert_uri_fails("herd:Z\xC3\xBCrich/k", "the family contains byte 0xC3 at byte 6");
    assert_uri_fails("herd:.x/k", "the family starts with '.' at byte 5");
    assert_uri_fails("herd:../k", "the family starts with '.' at byte 5");
    assert_uri_fails("herd:-x/k", "the family starts with '-' at byte 5");
    char long_family[6 + HERD_ID_MAX + 1 + 3];
    snprintf(long_family, sizeof long_family, "herd:%0129d/k", 0);
    assert_uri_fails(long_family, "the family at byte 5 is 129 bytes long; the limit is 128");
    /* The key. */
    assert_uri_fails("herd:demand/", "expected a group key at byte 12");
    assert_uri_fails("herd:demand/@champion", "expected a group key at byte 12");
    assert_uri_fails("herd:demand//3", "expected a group key at byte 12");
    assert_uri_fails("herd:demand/a%2", "'%' at byte 13 is not followed by two hex digits");
    assert_uri_fails("herd:demand/a%zz@x", "'%' at byte 13 is not followed by two hex digits");
    assert_uri_fails("herd:demand/a%2@x", "'%' at byte 13 is not followed by two hex digits");
    assert_uri_fails("herd:demand/a%01", "control character U+0001 at byte 13");
    assert_uri_fails("herd:demand/a%7F@x", "control character U+007F at byte 13");
    /* One canonical form: anything herd_uri_format would not write is
     * refused (issue 16: "herd:fam/..", spaces, '?', '|', "%2f"). */
    assert_uri_fails("herd:demand/a\x7F@x", "byte 0x7F at byte 13 must be percent-encoded as %7F");
    assert_uri_fails("herd:fam/..", "'.' at byte 9 must be percent-encoded as %2E");
    assert_uri_fails("herd:fam/a b", "a space at byte 10 must be percent-encoded as %20");
    assert_uri_fails("herd:fam/a?b", "'?' at byte 10 must be percent-encoded as %3F");
    assert_uri_fails("herd:fam/a|b/2", "'|' at byte 10 must be percent-encoded as %7C");
    assert_uri_fails("herd:fam/DE%2fBerlin", "'%' at byte 11 is followed by lower-case hex");
    assert_uri_fails("herd:fam/%41", "%41 at byte 9 encodes 'A', which is written as itself");
    assert_uri_fails("herd:demand/ab%FF/3", "not valid UTF-8 at byte 14");
    char *long_key = malloc(12 + HERD_KEY_MAX + 2);
    assert_non_null(long_key);
    memcpy(long_key, "herd:demand/", 12);
    memset(long_key + 12, 'k', HERD_KEY_MAX + 1);
    long_key[12 + HERD_KEY_MAX + 1] = '\0';
    assert_uri_fails(long_key, "the group key at byte 12 decodes to 1025 bytes; the limit is 1024");
    free(long_key);
    /* The version. */
    assert_uri_fails("herd:demand/k/0", "version 0 at byte 14; versions start at 1");
    assert_uri_fails("herd:demand/k/007", "the version number at byte 14 has a leading zero");
    assert_uri_fails("herd:demand/k/99999999999999999999",
                     "the version number at byte 14 is larger than 9223372036854775807");
    assert_uri_fails("herd:demand/k/9223372036854775808", "is larger than 9223372036854775807");
    assert_uri_fails("herd:demand/k/7x", "unexpected 'x' at byte 15 after the version number");
    assert_uri_fails("herd:demand/k/7/", "unexpected '/' at byte 15 after the version number");
    assert_uri_fails("herd:demand/k/7@champion", "unexpected '@' at byte 15");
    assert_uri_fails("herd:demand/k/7 ", "unexpected a space at byte 15");
    assert_uri_fails("herd:demand/k/", "expected a version number (1, 2, ...) at byte 14, found the end");
    assert_uri_fails("herd:demand/k/-1", "found '-'; versions are written without a sign");
    assert_uri_fails("herd:demand/k/+1", "found '+'; versions are written without a sign");
    assert_uri_fails("herd:demand/DE/Berlin", "at byte 15, found 'B'; a '/' in a group key is written %2F");
    /* The alias. */
    assert_uri_fails("herd:demand/k@", "expected an alias after '@' at byte 14");
    assert_uri_fails("herd:demand/k@ch ampion", "the alias contains a space at byte 16");
    assert_uri_fails("herd:demand/k@champion ", "the alias contains a space at byte 22");
    assert_uri_fails("herd:demand/a@b@c", "the alias contains '@' at byte 15; names use letters, "
                                          "digits and . _ - : + (an '@' in a group key is written %40)");
    assert_uri_fails("herd:demand/k@a/b", "the alias contains '/' at byte 15");
    assert_uri_fails("herd:demand/k@.x", "the alias starts with '.' at byte 14");
    assert_uri_fails("herd:demand/k@-x", "the alias starts with '-' at byte 14");
    char long_alias[15 + HERD_ID_MAX + 2];
    snprintf(long_alias, sizeof long_alias, "herd:demand/k@%0129d", 0);
    assert_uri_fails(long_alias, "the alias at byte 14 is 129 bytes long; the limit is 128");
}

static void assert_formats(const char *family, const char *group, const char *alias,
                           int64_t version, const char *expected)
{
    char *s = SENTINEL;
    herd_clear_error();
    if (herd_uri_format(family, group, alias, version, &s) != HERD_OK)
        fail_msg("%s: %s", expected, herd_last_error());
    assert_string_equal(s, expected);
    /* And it parses back to the same fields. */
    herd_uri *u = NULL;
    assert_int_equal(herd_uri_parse(s, &u), HERD_OK);
    assert_string_equal(herd_uri_family(u), family);
    assert_string_equal(herd_uri_group(u), group);
    expect_target(u, version > 0 ? NULL : alias ? alias : "latest", version);
    herd_uri_free(u);
    herd_free(s);
}

static void test_uri_format(void **state)
{
    (void)state;
    assert_formats("demand", "DE/Berlin", "champion", 0, "herd:demand/DE%2FBerlin@champion");
    assert_formats("demand", "DE/Berlin", NULL, 7, "herd:demand/DE%2FBerlin/7");
    assert_formats("demand", "DE/Berlin", NULL, 0, "herd:demand/DE%2FBerlin");
    assert_formats("demand", "store_17", "latest", 0, "herd:demand/store_17@latest");
    assert_formats("demand", "k", NULL, INT64_MAX, "herd:demand/k/9223372036854775807");
    assert_formats("d", ".", NULL, 1, "herd:d/%2E/1");
    assert_formats("d", "..", "x", 0, "herd:d/%2E.@x");
    assert_formats("d", "a@b/7", NULL, 0, "herd:d/a%40b%2F7");
    assert_formats("d", "100% Z\xC3\xBCrich", "c:1", 0, "herd:d/100%25%20Z%C3%BCrich@c:1");
    assert_formats("d", "~", NULL, 0, "herd:d/~");
}

static void test_uri_format_errors(void **state)
{
    (void)state;
    char *s = SENTINEL;
    assert_fails(herd_uri_format("f", "k", NULL, 0, NULL), HERD_EINVAL, "argument 'out' is NULL");
    assert_fails(herd_uri_format(NULL, "k", NULL, 0, &s), HERD_EINVAL, "argument 'family' is NULL");
    assert_null(s);
    s = SENTINEL;
    assert_fails(herd_uri_format("f", NULL, NULL, 0, &s), HERD_EINVAL, "argument 'group' is NULL");
    assert_null(s);
    s = SENTINEL;
    assert_fails(herd_uri_format("f", "k", "champion", 3, &s), HERD_EINVAL,
                 "both alias \"champion\" and version 3 are given");
    assert_null(s);
    assert_fails(herd_uri_format("f", "k", NULL, -1, &s), HERD_EINVAL, "version -1 is negative");
    assert_fails(herd_uri_format("f", "k", "x", INT64_MIN, &s), HERD_EINVAL,
                 "version -9223372036854775808 is negative");
    assert_fails(herd_uri_format("a/b", "k", NULL, 0, &s), HERD_EINVAL,
                 "herd_uri_format: family \"a/b\" contains '/' at byte 1");
    assert_fails(herd_uri_format("", "k", NULL, 0, &s), HERD_EINVAL, "herd_uri_format: family is empty");
    assert_fails(herd_uri_format("..", "k", NULL, 0, &s), HERD_EINVAL, "starts with '.'");
    assert_fails(herd_uri_format("f", "", NULL, 0, &s), HERD_EINVAL, "herd_uri_format: group key is empty");
    assert_fails(herd_uri_format("f", "a\rb", NULL, 0, &s), HERD_EINVAL, "control character U+000D (byte 1)");
    assert_fails(herd_uri_format("f", "\xC3", NULL, 0, &s), HERD_EINVAL, "not valid UTF-8 (byte 0)");
    assert_fails(herd_uri_format("f", "k", "", 0, &s), HERD_EINVAL, "herd_uri_format: alias is empty");
    assert_fails(herd_uri_format("f", "k", "a b", 0, &s), HERD_EINVAL,
                 "herd_uri_format: alias \"a b\" contains a space at byte 1");
    assert_fails(herd_uri_format("f", "k", "-x", 0, &s), HERD_EINVAL, "starts with '-'");
    assert_null(s);
}

/* ------------------------------------------------------------------------
 * Globs
 * --------------------------------------------------------------------- */

static void test_glob_match_table(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *text;
        int match;
    } cases[] = {
        {"", "", 1},
        {"", "a", 0},
        {"a", "", 0},
        {"abc", "abc", 1},
        {"abc", "abcd", 0},
        {"abc", "ab", 0},
        {"*", "", 1},
        {"*", "anything/at all", 1},
        {"**", "x", 1},
        {"store_*", "store_17", 1},
        {"store_*", "store_", 1},
        {"store_*", "stor", 0},
        {"*_17", "store_17", 1},
        {"*_17", "store_171", 0},
        {"DE/*", "DE/Berlin", 1},
        {"DE/*", "FR/Paris", 0},
        {"*/*", "DE/Berlin", 1},
        {"*/*", "Berlin", 0},
        {"a*b*c", "abc", 1},
        {"a*b*c", "aXbYc", 1},
        {"a*b*c", "aXbYcZ", 0},
        {"a*b*c", "acb", 0},
        {"*a*", "bab", 1},
        {"*ab", "aab", 1},
        {"*ab", "abab", 1},
        {"*aab", "aaab", 1},
        {"?", "a", 1},
        {"?", "", 0},
        {"?", "ab", 0},
        {"??", "ab", 1},
        {"?*?", "ab", 1},
        {"?*?", "a", 0},
        {"Z?rich", "Zurich", 1},
        {"Z?rich", "Z\xC3\xBCrich", 0}, /* byte-wise: the u-umlaut is 2 bytes */
        {"Z??rich", "Z\xC3\xBCrich", 1},
        {"[abc]", "b", 1},
        {"[abc]", "d", 0},
        {"[abc]", "", 0},
        {"[a-c]x", "bx", 1},
        {"[a-c]x", "dx", 0},
        {"[!a-c]", "d", 1},
        {"[!a-c]", "a", 0},
        {"[^a-c]", "d", 1},
        {"[^a-c]", "c", 0},
        {"[]]", "]", 1},
        {"[]]", "a", 0},
        {"[!]]", "a", 1},
        {"[!]]", "]", 0},
        {"[a-]", "-", 1},
        {"[-a]", "-", 1},
        {"[a-]", "b", 0},
        {"[0-9][0-9]", "17", 1},
        {"[0-9][0-9]", "1x", 0},
        {"[\\]]", "]", 1},
        {"[\\-a]", "-", 1},
        {"[\\!a]", "!", 1},
        {"[*]", "*", 1},
        {"[*]", "x", 0},
        {"[?]", "?", 1},
        {"[\xC3][\xBC]", "\xC3\xBC", 1},
        {"[\x80-\xFF]*", "\xC3\xBC", 1},
        {"[\x80-\xFF]*", "u", 0},
        {"\\*", "*", 1},
        {"\\*", "x", 0},
        {"\\?", "?", 1},
        {"\\?", "a", 0},
        {"\\[a]", "[a]", 1},
        {"\\\\", "\\", 1},
        {"a\\*b", "a*b", 1},
        {"a\\*b", "aXb", 0},
        {"100%", "100%", 1},
        {"*.csv", ".csv", 1},
        {"*.csv", "a.csv.gz", 0},
        /* Unchecked patterns still match without reading past the end. */
        {"[ab", "[ab", 1},
        {"[ab", "a", 0},
        {"a\\", "a\\", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (hd_glob_match(cases[i].pattern, cases[i].text) != cases[i].match)
            fail_msg("pattern \"%s\" on \"%s\": expected %d", cases[i].pattern, cases[i].text,
                     cases[i].match);
    }
}

static void test_glob_pathological(void **state)
{
    (void)state;
    /* A recursive matcher takes exponential time here; the backtrack-point
     * matcher takes O(pattern * text). */
    char *t = repeat('a', 10000);
    clock_t start = clock();
    assert_int_equal(hd_glob_match("a*a*a*a*a*b", t), 0);
    assert_int_equal(hd_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", t), 0);
    assert_int_equal(hd_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", t), 1);
    assert_int_equal(hd_glob_match("a*?*?*?*?*?*?*?*c", t), 0);
    t[9999] = 'b';
    assert_int_equal(hd_glob_match("a*a*a*a*a*b", t), 1);
    assert_int_equal(hd_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", t), 1);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    /* About a millisecond natively; generous for valgrind and slow CI. */
    if (seconds > 5.0) fail_msg("glob matching took %.2f s", seconds);
    free(t);
}

static void test_glob_check(void **state)
{
    (void)state;
    const char *ok[] = {"", "*", "store_*", "[abc]", "[a-z]*", "[!x]", "[^x]", "[]]", "[!]]",
                        "\\[", "\\\\", "\\*", "[\\]]", "[a-]", "[-a]", "a?b", "[a-a]"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        herd_clear_error();
        if (hd_glob_check(ok[i], "pattern") != HERD_OK)
            fail_msg("\"%s\": %s", ok[i], herd_last_error());
    }
    herd_clear_error();
    assert_int_equal(hd_glob_check("x[abc", "pattern"), HERD_EINVAL);
    assert_string_equal(herd_last_error(),
                        "pattern \"x[abc\" has an unclosed '[' at byte 1; close the class with "
                        "']' or write a literal '[' as \\[");
    assert_fails(hd_glob_check("[", "pattern"), HERD_EINVAL, "unclosed '[' at byte 0");
    assert_fails(hd_glob_check("[]", "pattern"), HERD_EINVAL, "unclosed '[' at byte 0");
    assert_fails(hd_glob_check("[!]", "pattern"), HERD_EINVAL, "unclosed '[' at byte 0");
    assert_fails(hd_glob_check("ab[a\\]", "pattern"), HERD_EINVAL, "unclosed '[' at byte 2");
    assert_fails(hd_glob_check("[a][b", "pattern"), HERD_EINVAL, "unclosed '[' at byte 3");
    assert_fails(hd_glob_check("ab\\", "pattern"), HERD_EINVAL, "lone '\\' at byte 2");
    assert_fails(hd_glob_check("\\\\\\", "pattern"), HERD_EINVAL, "lone '\\' at byte 2");
    assert_fails(hd_glob_check("x[z-a]", "key pattern"), HERD_EINVAL,
                 "key pattern \"x[z-a]\" has a reversed range at byte 2");
    assert_fails(hd_glob_check("[ab9-0]", "pattern"), HERD_EINVAL, "reversed range at byte 3");
    assert_fails(hd_glob_check(NULL, "pattern"), HERD_EINVAL, "pattern is NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_name_invalid),
        cmocka_unit_test(test_key_check),
        cmocka_unit_test(test_key_encode_exact),
        cmocka_unit_test(test_key_round_trips),
        cmocka_unit_test(test_key_decode_canonical),
        cmocka_unit_test(test_key_encode_errors),
        cmocka_unit_test(test_key_decode_errors),
        cmocka_unit_test(test_uri_parse_forms),
        cmocka_unit_test(test_uri_parse_errors),
        cmocka_unit_test(test_uri_format),
        cmocka_unit_test(test_uri_format_errors),
        cmocka_unit_test(test_glob_match_table),
        cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_glob_check),
    };
    return cmocka_run_group_tests_name("uri", tests, NULL, NULL);
}
