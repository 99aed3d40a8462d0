/* Tests of version, status codes, the last error, logging, threads and the
 * small internal helpers everything else stands on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(herd_version(), HERD_VERSION_NUMBER);
    assert_int_equal(HERD_VERSION_NUMBER,
                     HERD_VERSION_MAJOR * 10000 + HERD_VERSION_MINOR * 100 + HERD_VERSION_PATCH);
    assert_string_equal(herd_version_string(), HERD_VERSION_STRING);
}

static void test_status_str(void **state)
{
    (void)state;
    assert_string_equal(herd_status_str(HERD_OK), "HERD_OK");
    assert_string_equal(herd_status_str(HERD_EINVAL), "HERD_EINVAL");
    assert_string_equal(herd_status_str(HERD_EINTERNAL), "HERD_EINTERNAL");
    assert_string_equal(herd_status_str(-999), "HERD_UNKNOWN");
    assert_string_equal(herd_status_str(5), "HERD_UNKNOWN");
    assert_string_equal(herd_status_str(HERD_EREFUSED), "HERD_EREFUSED");
    assert_string_equal(herd_status_str(HERD_ELIMIT), "HERD_ELIMIT");
    assert_string_equal(herd_status_str(HERD_MISSING), "HERD_MISSING");
    assert_string_equal(herd_status_str(HERD_SKIP), "HERD_SKIP");
    /* -13 (HERD_ECALLBACK, never returned) is retired: unknown, for good. */
    assert_string_equal(herd_status_str(-13), "HERD_UNKNOWN");
    /* Codes are part of the ABI: they must never be renumbered. */
    assert_int_equal(HERD_EINVAL, -1);
    assert_int_equal(HERD_ENOMEM, -2);
    assert_int_equal(HERD_EFORMAT, -4);
    assert_int_equal(HERD_ECORRUPT, -11);
    assert_int_equal(HERD_EINTERNAL, -15);
    assert_int_equal(HERD_ECONFLICT, -16);
    assert_int_equal(HERD_EREFUSED, -17);
    /* Outcomes that are not errors are positive, and distinct. */
    assert_int_equal(HERD_SKIP, 1);
    assert_int_equal(HERD_MISSING, 2);
}

static void test_last_error_basics(void **state)
{
    (void)state;
    herd_clear_error();
    assert_non_null(herd_last_error());
    assert_string_equal(herd_last_error(), "");
    assert_int_equal(herd_last_error_code(), HERD_OK);
    assert_int_equal(hd_error(HERD_ENOTFOUND, "no group '%s'", "store_17"), HERD_ENOTFOUND);
    assert_string_equal(herd_last_error(), "no group 'store_17'");
    assert_int_equal(herd_last_error_code(), HERD_ENOTFOUND);
    assert_int_equal(hd_error_prefix("%s: ", "data.csv"), HERD_ENOTFOUND);
    assert_string_equal(herd_last_error(), "data.csv: no group 'store_17'");
    herd_clear_error();
    assert_string_equal(herd_last_error(), "");
}

static void test_last_error_truncated(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hd_error(HERD_EINVAL, "%s", big);
    size_t len = strlen(herd_last_error());
    assert_true(len < sizeof big);
    assert_string_equal(herd_last_error() + len - 3, "...");
}

/* Every message is valid UTF-8 whatever bytes it quotes: invalid bytes are
 * written \xNN, valid characters stay, and a cut never splits a character
 * (issue 16: herd_last_error echoed invalid UTF-8 from the input). */
static void test_last_error_utf8(void **state)
{
    (void)state;
    hd_error(HERD_EINVAL, "key '%s' and '%s'", "a\xFF\xFE", "Z\xC3\xBCrich");
    assert_string_equal(herd_last_error(), "key 'a\\xFF\\xFE' and 'Z\xC3\xBCrich'");
    assert_true(hd_utf8_valid(herd_last_error(), strlen(herd_last_error()), NULL));
    /* A lone lead byte, a truncated sequence, an overlong, a surrogate. */
    hd_error(HERD_EINVAL, "%s|%s|%s|%s", "\xC3", "\xE2\x82", "\xC0\xAF", "\xED\xA0\x80");
    assert_string_equal(herd_last_error(),
                        "\\xC3|\\xE2\\x82|\\xC0\\xAF|\\xED\\xA0\\x80");
    /* The prefix (a path) is escaped too. */
    hd_error(HERD_EIO, "cannot open");
    hd_error_prefix("%s: ", "/tmp/\x80.csv");
    assert_string_equal(herd_last_error(), "/tmp/\\x80.csv: cannot open");
    /* Cut inside a run of 2-byte characters: the cut falls between two. */
    char big[3001];
    for (size_t i = 0; i + 1 < sizeof big; i += 2) memcpy(big + i, "\xC3\xBC", 2);
    big[sizeof big - 1] = '\0';
    for (size_t shift = 0; shift < 3; shift++) {
        hd_error(HERD_EINVAL, "%.*s%s", (int)shift, "xx", big);
        const char *m = herd_last_error();
        assert_true(hd_utf8_valid(m, strlen(m), NULL));
        assert_string_equal(m + strlen(m) - 3, "...");
    }
    /* Invalid bytes near the end of a long message: still valid. */
    memset(big, 0xFF, sizeof big - 1);
    hd_error(HERD_EINVAL, "%s", big);
    assert_true(hd_utf8_valid(herd_last_error(), strlen(herd_last_error()), NULL));
    /* Through the public API: a CSV path of invalid UTF-8. */
    herd_frame *f = NULL;
    assert_int_equal(herd_frame_read_csv("/nonexistent-dir/\xFF\xFE.csv", NULL, &f), HERD_EIO);
    assert_true(hd_utf8_valid(herd_last_error(), strlen(herd_last_error()), NULL));
    assert_non_null(strstr(herd_last_error(), "\\xFF\\xFE"));
    herd_clear_error();
}

static void test_oom_is_static(void **state)
{
    (void)state;
    assert_int_equal(hd_oom(), HERD_ENOMEM);
    assert_int_equal(herd_last_error_code(), HERD_ENOMEM);
    assert_non_null(strstr(herd_last_error(), "out of memory"));
    /* A prefix must not edit the static message. */
    hd_error_prefix("ctx: ");
    assert_null(strstr(herd_last_error(), "ctx: "));
    /* An impossible allocation reports out-of-memory instead of wrapping. */
    herd_clear_error();
    assert_null(hd_malloc(SIZE_MAX / 2, 4));
    assert_int_equal(herd_last_error_code(), HERD_ENOMEM);
}

static void *thread_sets_error(void *arg)
{
    (void)arg;
    hd_error(HERD_EIO, "worker error");
    return (void *)(intptr_t)(strcmp(herd_last_error(), "worker error") == 0);
}

static void test_last_error_is_thread_local(void **state)
{
    (void)state;
    hd_error(HERD_EINVAL, "main error");
    pthread_t t;
    void *ok = NULL;
    assert_int_equal(pthread_create(&t, NULL, thread_sets_error, NULL), 0);
    assert_int_equal(pthread_join(t, &ok), 0);
    assert_true((intptr_t)ok);
    assert_string_equal(herd_last_error(), "main error");
    assert_int_equal(herd_last_error_code(), HERD_EINVAL);
}

typedef struct log_capture {
    int count;
    int last_level;
    char last[256];
} log_capture;

static void capture_log(const herd_log_record *r, void *user)
{
    log_capture *c = user;
    c->count++;
    c->last_level = r->level;
    snprintf(c->last, sizeof c->last, "%s", r->message);
}

static void test_log_callback_and_levels(void **state)
{
    (void)state;
    log_capture cap = {0};
    assert_int_equal(herd_log_set(capture_log, &cap, HERD_LOG_INFO), HERD_OK);
    assert_true(hd_log_enabled(HERD_LOG_WARN));
    assert_false(hd_log_enabled(HERD_LOG_DEBUG));
    hd_log(HERD_LOG_WARN, "group %s: %d rows skipped", "g1", 3);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.last_level, HERD_LOG_WARN);
    assert_string_equal(cap.last, "group g1: 3 rows skipped");
    hd_log(HERD_LOG_DEBUG, "not delivered");
    assert_int_equal(cap.count, 1);
    assert_int_equal(herd_log_set(NULL, NULL, HERD_LOG_DEBUG), HERD_OK);
    hd_log(HERD_LOG_ERROR, "discarded");
    assert_int_equal(cap.count, 1);
    assert_false(hd_log_enabled(HERD_LOG_ERROR));
}

static void test_default_threads(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int n = herd_default_threads();
    assert_true(n >= 1);
    assert_true(n <= CPU_COUNT(&set));
}

static void test_default_threads_follow_affinity(void **state)
{
    (void)state;
    cpu_set_t old, one;
    assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &old)) {
            CPU_SET(c, &one);
            break;
        }
    }
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    int n = herd_default_threads();
    assert_int_equal(sched_setaffinity(0, sizeof old, &old), 0);
    assert_int_equal(n, 1);
}

static void test_utf8(void **state)
{
    (void)state;
    size_t bad = 99;
    assert_true(hd_utf8_valid("plain ascii text, long enough", 29, &bad));
    assert_true(hd_utf8_valid("K\xc3\xb6ln \xe2\x82\xac \xf0\x9f\x90\x91", 14, &bad));
    assert_false(hd_utf8_valid("ab\xc3", 3, &bad)); /* truncated sequence */
    assert_int_equal(bad, 2);
    assert_false(hd_utf8_valid("\xc0\xaf", 2, &bad)); /* overlong '/' */
    assert_int_equal(bad, 0);
    assert_false(hd_utf8_valid("x\xed\xa0\x80", 4, &bad)); /* surrogate */
    assert_int_equal(bad, 1);
    assert_false(hd_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
    assert_false(hd_utf8_valid("12345678\xff", 9, &bad));
    assert_int_equal(bad, 8);
    assert_true(hd_utf8_valid("", 0, &bad));
}

static void test_name_check(void **state)
{
    (void)state;
    assert_int_equal(hd_name_check("store_17", 255, "column name"), HERD_OK);
    assert_int_equal(hd_name_check("", 255, "column name"), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "column name is empty"));
    assert_int_equal(hd_name_check("a\tb", 255, "column name"), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "control character"));
    assert_non_null(strstr(herd_last_error(), "\\x09"));
    assert_int_equal(hd_name_check("abcdef", 5, "family"), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "limit is 5"));
    assert_int_equal(hd_name_check("a\xff", 255, "column name"), HERD_EINVAL);
    assert_non_null(strstr(herd_last_error(), "UTF-8"));
    assert_int_equal(hd_name_check(NULL, 255, "column name"), HERD_EINVAL);
}

static void test_quote(void **state)
{
    (void)state;
    char buf[96];
    assert_string_equal(hd_quote("ab\ncd", 5, buf, sizeof buf), "\"ab\\x0Acd\"");
    char longs[200];
    memset(longs, 'a', sizeof longs);
    const char *q = hd_quote(longs, sizeof longs, buf, sizeof buf);
    assert_true(strlen(q) < sizeof buf);
    assert_non_null(strstr(q, "...\""));
}

static void test_arena_and_grow(void **state)
{
    (void)state;
    hd_arena *a = hd_arena_new();
    assert_non_null(a);
    char *s1 = hd_arena_strndup(a, "hello world", 5);
    assert_string_equal(s1, "hello");
    static char big[200000];
    memset(big, 'b', sizeof big);
    char *s2 = hd_arena_strndup(a, big, sizeof big);
    char *s3 = hd_arena_strndup(a, "after", 5);
    assert_int_equal(strlen(s2), sizeof big);
    assert_string_equal(s1, "hello"); /* earlier strings never move */
    assert_string_equal(s3, "after");
    assert_true(hd_arena_bytes(a) >= sizeof big);
    /* cleared: the big block goes, one ordinary block stays for reuse */
    hd_arena_clear(a);
    assert_true(hd_arena_bytes(a) > 0 && hd_arena_bytes(a) < sizeof big);
    size_t kept = hd_arena_bytes(a);
    for (int i = 0; i < 100; i++) assert_non_null(hd_arena_strndup(a, "x", 1));
    assert_int_equal(hd_arena_bytes(a), kept); /* filled the kept block */
    hd_arena_free(a);
    hd_arena_free(NULL);
    hd_arena *only_big = hd_arena_new(); /* a first block bigger than ordinary: freed */
    {
        hd_arena *sa = hd_arena_new();
        hd_strcache sc;
        memset(&sc, 0, sizeof sc);
        const char *f1 = hd_arena_strndup_shared(sa, &sc, "demand", 6);
        const char *f2 = hd_arena_strndup_shared(sa, &sc, "demandX", 6); /* the same 6 bytes */
        const char *g1 = hd_arena_strndup_shared(sa, &sc, "demands", 7);
        assert_ptr_equal(f1, f2);
        assert_string_equal(f1, "demand");
        assert_ptr_not_equal(f1, g1);
        assert_string_equal(g1, "demands");
        assert_ptr_equal(hd_arena_strndup_shared(sa, &sc, "demand", 6), f1);
        char longer[80];
        memset(longer, 'x', sizeof longer - 1);
        longer[sizeof longer - 1] = '\0';
        const char *l1 = hd_arena_strndup_shared(sa, &sc, longer, 79);
        const char *l2 = hd_arena_strndup_shared(sa, &sc, longer, 79);
        assert_ptr_not_equal(l1, l2); /* long text is not looked for */
        assert_string_equal(l2, longer);
        hd_arena_free(sa);
    }
    assert_non_null(hd_arena_strndup(only_big, big, sizeof big));
    hd_arena_clear(only_big);
    assert_int_equal(hd_arena_bytes(only_big), 0);
    assert_string_equal(hd_arena_strndup(only_big, "again", 5), "again");
    hd_arena_free(only_big);

    int *v = NULL;
    size_t cap = 0;
    assert_int_equal(hd_grow((void **)&v, &cap, 100, sizeof *v), HERD_OK);
    assert_true(cap >= 100);
    v[99] = 7;
    assert_int_equal(hd_grow((void **)&v, &cap, 10, sizeof *v), HERD_OK);
    assert_int_equal(v[99], 7);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_last_error_basics),
        cmocka_unit_test(test_last_error_truncated),
        cmocka_unit_test(test_oom_is_static),
        cmocka_unit_test(test_last_error_is_thread_local),
        cmocka_unit_test(test_log_callback_and_levels),
        cmocka_unit_test(test_default_threads),
        cmocka_unit_test(test_default_threads_follow_affinity),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_name_check),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_last_error_utf8),
        cmocka_unit_test(test_arena_and_grow),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
