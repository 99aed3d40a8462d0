/* test_locale.h -- switch LC_NUMERIC to a locale whose decimal point is a
 * comma, building one with localedef (from Debian's `locales` package) in a
 * temporary directory when none is installed, so that the locale tests run
 * on any machine instead of skipping. */
#ifndef HERD_TEST_LOCALE_H
#define HERD_TEST_LOCALE_H

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_locale {
    char dir[256]; /* the temporary LOCPATH, or "" */
} test_locale;

static inline int test_locale_try(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (setlocale(LC_NUMERIC, names[i])) return 1;
    return 0;
}

/* 1 when LC_NUMERIC now uses a decimal comma. */
static inline int test_locale_decimal_comma(test_locale *t)
{
    t->dir[0] = '\0';
    if (test_locale_try()) return 1;
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/herd-locale-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t->dir)) {
        t->dir[0] = '\0';
        return 0;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1",
             t->dir);
    if (system(cmd) != 0) return 0;
    setenv("LOCPATH", t->dir, 1);
    return test_locale_try() && strcmp(localeconv()->decimal_point, ",") == 0;
}

/* Back to the C locale, and remove the temporary locale if one was built. */
static inline void test_locale_restore(test_locale *t)
{
    setlocale(LC_NUMERIC, "C");
    if (!t->dir[0]) return;
    unsetenv("LOCPATH");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", t->dir);
}

#endif
