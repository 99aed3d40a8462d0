/* scope.c -- C objects owned until an R call ends, and handles R keeps.
 *
 * R errors longjmp.  A herd handle held only in a C local would leak when
 * an allocation or a type check raises one, so every object a call
 * creates is registered with the call's scope at once: an external
 * pointer whose finalizer frees what it still owns.  The normal path
 * closes the scope before returning; after an R error the garbage
 * collector does it.  Finalizers only free memory: they never allocate R
 * objects and never raise.
 */
#include <stdlib.h>

#include "glue.h"

typedef struct hr_owned {
    void *p;
    hr_free_fn free_fn;
} hr_owned;

struct hr_scope {
    size_t n, cap;
    hr_owned *owned;
};

static void scope_free_all(hr_scope *scope)
{
    /* Reverse order: groups before their frame, the log hook before the
     * records it writes into. */
    while (scope->n > 0) {
        hr_owned o = scope->owned[--scope->n];
        o.free_fn(o.p);
    }
}

static void scope_finalize(SEXP ptr)
{
    hr_scope *scope = R_ExternalPtrAddr(ptr);
    if (!scope) return;
    R_ClearExternalPtr(ptr);
    scope_free_all(scope);
    free(scope->owned);
    free(scope);
}

SEXP hr_scope_new(hr_scope **out)
{
    hr_scope *scope = calloc(1, sizeof *scope);
    if (!scope) Rf_error("herd: out of memory starting a call");
    SEXP ptr = PROTECT(R_MakeExternalPtr(scope, R_NilValue, R_NilValue));
    R_RegisterCFinalizerEx(ptr, scope_finalize, TRUE);
    *out = scope;
    return ptr;
}

void hr_scope_own(hr_scope *scope, void *p, hr_free_fn free_fn)
{
    if (!p) return;
    if (scope->n == scope->cap) {
        size_t cap = scope->cap ? scope->cap * 2 : 16;
        hr_owned *owned = realloc(scope->owned, cap * sizeof *owned);
        if (!owned) {
            free_fn(p);
            Rf_error("herd: out of memory in a call's scope");
        }
        scope->owned = owned;
        scope->cap = cap;
    }
    scope->owned[scope->n++] = (hr_owned){p, free_fn};
}

void hr_scope_release(hr_scope *scope, void *p)
{
    for (size_t i = scope->n; i-- > 0;) {
        if (scope->owned[i].p != p) continue;
        for (size_t j = i + 1; j < scope->n; j++) scope->owned[j - 1] = scope->owned[j];
        scope->n--;
        return;
    }
}

void hr_scope_close(SEXP scope)
{
    scope_finalize(scope);
}

/* --- Handles -------------------------------------------------------------- */

/* The finalizer of every handle: the free function rides in the
 * pointer's protected slot as a raw vector (a function pointer cannot be
 * stored as a data pointer portably). */
typedef struct hr_handle_free {
    hr_free_fn free_fn;
} hr_handle_free;

static void handle_finalize(SEXP ptr)
{
    void *p = R_ExternalPtrAddr(ptr);
    SEXP prot = R_ExternalPtrProtected(ptr);
    if (!p || TYPEOF(prot) != RAWSXP) return;
    R_ClearExternalPtr(ptr);
    ((const hr_handle_free *)(const void *)RAW(prot))->free_fn(p);
}

SEXP hr_handle_new(void *p, const char *tag, hr_free_fn free_fn)
{
    SEXP prot = PROTECT(Rf_allocVector(RAWSXP, sizeof(hr_handle_free)));
    ((hr_handle_free *)(void *)RAW(prot))->free_fn = free_fn;
    SEXP ptr = PROTECT(R_MakeExternalPtr(p, Rf_install(tag), prot));
    R_RegisterCFinalizerEx(ptr, handle_finalize, TRUE);
    UNPROTECT(2);
    return ptr;
}

void *hr_handle_get(SEXP x, const char *tag)
{
    if (TYPEOF(x) != EXTPTRSXP || R_ExternalPtrTag(x) != Rf_install(tag))
        Rf_error("herd: expected a %s handle, got an object of type %s", tag,
                 Rf_type2char(TYPEOF(x)));
    void *p = R_ExternalPtrAddr(x);
    if (!p)
        Rf_error("herd: this %s handle is closed (closed with close(), or restored from a "
                 "saved session, which cannot keep C handles): create it again",
                 tag);
    return p;
}

void hr_handle_close(SEXP x, const char *tag, hr_free_fn free_fn)
{
    if (TYPEOF(x) != EXTPTRSXP || R_ExternalPtrTag(x) != Rf_install(tag))
        Rf_error("herd: expected a %s handle", tag);
    void *p = R_ExternalPtrAddr(x);
    if (!p) return;
    R_ClearExternalPtr(x);
    free_fn(p);
}

const char *hr_string_arg(SEXP x, const char *what)
{
    if (Rf_isNull(x)) return NULL;
    if (TYPEOF(x) != STRSXP || XLENGTH(x) != 1)
        Rf_error("herd: %s must be one string (a character vector of length 1)", what);
    SEXP s = STRING_ELT(x, 0);
    return s == NA_STRING ? NULL : Rf_translateCharUTF8(s);
}

SEXP herd_r_handle_alive(SEXP x)
{
    return Rf_ScalarLogical(TYPEOF(x) == EXTPTRSXP && R_ExternalPtrAddr(x) != NULL);
}
