/* options.c -- an operation's options from R, by name.
 *
 * R code (R/options.R) turns arguments into a spec: for each option its
 * name, how to set it and its values as text.  Names, types, defaults and
 * bounds all stay the C table's: an unknown name or a value out of bounds
 * is herd's own error, naming the option and what to give.
 */
#include <string.h>

#include "glue.h"

static void free_options(void *p)
{
    herd_options_free(p);
}

/* One option: list(name, kind, values, keys). */
static int set_one(herd_options *opt, SEXP item)
{
    if (TYPEOF(item) != VECSXP || XLENGTH(item) != 4)
        Rf_error("herd: internal: an option spec is list(name, kind, values, keys)");
    const char *name = hr_string_arg(VECTOR_ELT(item, 0), "an option name");
    const char *kind = hr_string_arg(VECTOR_ELT(item, 1), "an option kind");
    SEXP values = VECTOR_ELT(item, 2), keys = VECTOR_ELT(item, 3);
    if (!name || !kind || TYPEOF(values) != STRSXP)
        Rf_error("herd: internal: malformed option spec");
    R_xlen_t n = XLENGTH(values);
    if (strcmp(kind, "text") == 0) {
        if (n != 1) Rf_error("herd: internal: option '%s' needs one value", name);
        SEXP v = STRING_ELT(values, 0);
        return herd_options_set(opt, name, v == NA_STRING ? NULL : Rf_translateCharUTF8(v));
    }
    if (strcmp(kind, "strings") == 0) {
        const char **texts = (const char **)R_alloc((size_t)n + 1, sizeof *texts);
        for (R_xlen_t i = 0; i < n; i++)
            texts[i] = Rf_translateCharUTF8(STRING_ELT(values, i));
        return herd_options_set_strings(opt, name, texts, (size_t)n);
    }
    if (strcmp(kind, "entries") == 0) {
        if (TYPEOF(keys) != STRSXP || XLENGTH(keys) != n)
            Rf_error("herd: internal: option '%s' needs one key per value", name);
        /* Start from an empty map: R passes the whole map. */
        int rc = herd_options_set(opt, name, NULL);
        for (R_xlen_t i = 0; rc == HERD_OK && i < n; i++)
            rc = herd_options_set_entry(opt, name, Rf_translateCharUTF8(STRING_ELT(keys, i)),
                                        Rf_translateCharUTF8(STRING_ELT(values, i)));
        return rc;
    }
    Rf_error("herd: internal: unknown option kind '%s'", kind);
    return HERD_EINTERNAL;
}

int hr_options_build(hr_scope *scope, const char *operation, SEXP spec, herd_options **out)
{
    *out = NULL;
    herd_options *opt = NULL;
    int rc = herd_options_new(operation, &opt);
    if (rc != HERD_OK) return rc;
    hr_scope_own(scope, opt, free_options);
    if (!Rf_isNull(spec) && TYPEOF(spec) != VECSXP)
        Rf_error("herd: internal: options of %s must come as a list", operation);
    for (R_xlen_t i = 0; !Rf_isNull(spec) && i < XLENGTH(spec); i++) {
        rc = set_one(opt, VECTOR_ELT(spec, i));
        if (rc != HERD_OK) return rc;
    }
    *out = opt;
    return HERD_OK;
}
