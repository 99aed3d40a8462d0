/* api.c -- the .Call entry points of the R package.
 *
 * Each one: a scope for the C objects it makes, a call state for the log
 * and interrupts (glue.h), the herd calls with every status recorded by
 * hr_call_check, the R value built from herd's result, the scope closed,
 * and list(value, code, status, message, interrupted, log) returned for R code
 * to turn into a value, messages or a `herd_error` condition.
 */
#include <string.h>

#include "glue.h"

#define TAG_FIT "herd_fit_result"
#define TAG_REGISTRY "herd_registry"

static void free_fit_result(void *p)
{
    herd_fit_result_free(p);
}

static void free_registry(void *p)
{
    herd_registry_free(p);
}

static void free_frame(void *p)
{
    herd_frame_free(p);
}

static R_xlen_t row_count(SEXP n_rows)
{
    double n = Rf_asReal(n_rows);
    if (!(n >= 0) || n > (double)R_XLEN_T_MAX)
        Rf_error("herd: internal: the row count must be a non-negative number");
    return (R_xlen_t)n;
}

/* A frame herd returned, owned by the scope until it is copied out. */
static SEXP frame_value(hr_scope *scope, herd_frame *frame)
{
    if (!frame) return R_NilValue;
    hr_scope_own(scope, frame, free_frame);
    return hr_frame_to_data_frame(frame);
}

/* The frame of `columns` grouped by `by`, both owned by the scope. */
static int grouped(hr_call *call, hr_scope *scope, SEXP columns, SEXP n_rows, SEXP by,
                   herd_groups **groups)
{
    herd_frame *frame = NULL;
    *groups = NULL;
    int rc = hr_call_check(call, hr_frame_from_columns(scope, columns, row_count(n_rows), &frame));
    if (rc == HERD_OK) rc = hr_call_check(call, hr_groups_by(scope, frame, by, groups));
    return rc;
}

/* Options of `operation` from `spec`; for "apply", watched for interrupts. */
static int options(hr_call *call, hr_scope *scope, const char *operation, SEXP spec,
                   const void **out)
{
    herd_options *opt = NULL;
    *out = NULL;
    int rc = hr_call_check(call, hr_options_build(scope, operation, spec, &opt));
    int apply = strcmp(operation, "apply") == 0;
    if (rc == HERD_OK && (apply || strcmp(operation, "check") == 0))
        rc = hr_call_check(call, hr_call_watch(call, opt, apply));
    if (rc == HERD_OK) *out = herd_options_struct(opt, operation);
    return rc;
}

/* Every entry point's start: a scope, returned protected, and a call
 * state collecting log records of level <= log_level (-1: none). */
static SEXP begin(int log_level, hr_scope **scope, hr_call **call)
{
    SEXP sc = hr_scope_new(scope);
    *call = hr_call_begin(*scope, log_level);
    return sc;
}

/* Every entry point's end: the result list, built before the scope frees
 * what the value was copied from. */
static SEXP finish(SEXP scope, hr_call *call, SEXP value)
{
    PROTECT(value);
    SEXP out = PROTECT(hr_call_result(call, value));
    hr_scope_close(scope);
    UNPROTECT(2);
    return out;
}

SEXP herd_r_version(void)
{
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(out, 0, Rf_mkString(herd_version_string()));
    SET_VECTOR_ELT(out, 1, Rf_ScalarInteger((int)herd_version()));
    UNPROTECT(1);
    return out;
}

SEXP herd_r_options_table(SEXP operation)
{
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(-1, &scope, &call);
    herd_frame *table = NULL;
    hr_call_check(call, herd_options_table(hr_string_arg(operation, "operation"), &table));
    SEXP out = finish(sc, call, frame_value(scope, table));
    UNPROTECT(1);
    return out;
}

/* --- Fit and predict ------------------------------------------------------ */

SEXP herd_r_fit(SEXP columns, SEXP n_rows, SEXP by, SEXP fit_spec, SEXP apply_spec,
                SEXP log_level)
{
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    herd_groups *groups = NULL;
    const void *fit = NULL, *apply = NULL;
    herd_fit_result *result = NULL;
    int rc = grouped(call, scope, columns, n_rows, by, &groups);
    if (rc == HERD_OK) rc = options(call, scope, "fit", fit_spec, &fit);
    if (rc == HERD_OK) rc = options(call, scope, "apply", apply_spec, &apply);
    if (rc == HERD_OK) hr_call_check(call, herd_fit(groups, fit, apply, &result));
    /* A cancelled fit or one over its error budget still has a result. */
    SEXP value = R_NilValue;
    if (result) {
        hr_scope_own(scope, result, free_fit_result);
        herd_frame *report = NULL;
        hr_call_check(call, herd_fit_result_report(result, &report));
        value = PROTECT(Rf_allocVector(VECSXP, 2));
        SET_VECTOR_ELT(value, 1, frame_value(scope, report));
        SET_VECTOR_ELT(value, 0, hr_handle_new(result, TAG_FIT, free_fit_result));
        hr_scope_release(scope, result); /* the handle owns it now */
        UNPROTECT(1);
    }
    SEXP out = finish(sc, call, value);
    UNPROTECT(1);
    return out;
}

SEXP herd_r_fit_predict(SEXP fit, SEXP columns, SEXP n_rows, SEXP by, SEXP apply_spec,
                        SEXP log_level)
{
    const herd_fit_result *result = hr_handle_get(fit, TAG_FIT);
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    herd_groups *groups = NULL;
    const void *apply = NULL;
    herd_frame *predictions = NULL;
    int rc = grouped(call, scope, columns, n_rows, by, &groups);
    if (rc == HERD_OK) rc = options(call, scope, "apply", apply_spec, &apply);
    if (rc == HERD_OK) hr_call_check(call, herd_predict(groups, result, apply, &predictions, NULL));
    SEXP out = finish(sc, call, frame_value(scope, predictions));
    UNPROTECT(1);
    return out;
}

SEXP herd_r_fit_close(SEXP fit)
{
    hr_handle_close(fit, TAG_FIT, free_fit_result);
    return R_NilValue;
}

/* --- Registry ------------------------------------------------------------- */

SEXP herd_r_registry_open(SEXP path, SEXP spec, SEXP log_level)
{
    const char *dir = hr_string_arg(path, "path");
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    const void *opt = NULL;
    herd_registry *reg = NULL;
    int rc = options(call, scope, "registry", spec, &opt);
    if (rc == HERD_OK) rc = hr_call_check(call, herd_registry_open(dir, opt, &reg));
    SEXP value = R_NilValue;
    if (rc == HERD_OK) {
        hr_scope_own(scope, reg, free_registry);
        value = hr_handle_new(reg, TAG_REGISTRY, free_registry);
        hr_scope_release(scope, reg);
    }
    SEXP out = finish(sc, call, value);
    UNPROTECT(1);
    return out;
}

SEXP herd_r_registry_close(SEXP reg)
{
    hr_handle_close(reg, TAG_REGISTRY, free_registry);
    return R_NilValue;
}

/* The registry table `table` names, read into *out. */
static int read_table(herd_registry *reg, const char *table, const char *family,
                      const char *group, const char *alias, herd_frame **out)
{
    if (strcmp(table, "versions") == 0) return herd_registry_versions(reg, family, group, out);
    if (strcmp(table, "aliases") == 0) return herd_registry_aliases(reg, family, alias, out);
    if (strcmp(table, "history") == 0)
        return herd_registry_alias_history(reg, family, group, alias, out);
    if (strcmp(table, "families") == 0) return herd_registry_families(reg, out);
    if (strcmp(table, "groups") == 0) return herd_registry_groups(reg, family, out);
    if (strcmp(table, "runs") == 0) return herd_registry_runs(reg, out);
    return herd_error_set(HERD_EINTERNAL, "the R package asked for an unknown registry table");
}

SEXP herd_r_registry_table(SEXP reg_handle, SEXP what, SEXP family, SEXP group, SEXP alias,
                           SEXP log_level)
{
    herd_registry *reg = hr_handle_get(reg_handle, TAG_REGISTRY);
    const char *table = hr_string_arg(what, "what");
    const char *fam = hr_string_arg(family, "family");
    const char *grp = hr_string_arg(group, "group");
    const char *al = hr_string_arg(alias, "alias");
    if (!table) Rf_error("herd: internal: no table named");
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    herd_frame *out = NULL;
    /* Another process may have committed since the handle's snapshot. */
    int rc = hr_call_check(call, herd_registry_refresh(reg));
    if (rc == HERD_OK) hr_call_check(call, read_table(reg, table, fam, grp, al, &out));
    SEXP value = finish(sc, call, frame_value(scope, out));
    UNPROTECT(1);
    return value;
}

/* A registry call configured by an options handle of `operation`:
 * "search" (after a refresh: another process may have committed since the
 * handle's snapshot) or "check" (no refresh: the check reads the files
 * itself, and a damaged journal would stop a refresh; its frame of
 * problems comes back with HERD_ECORRUPT too, for R code to attach to the
 * condition). */
static SEXP registry_with_options(SEXP reg_handle, const char *operation, SEXP spec,
                                  SEXP log_level)
{
    herd_registry *reg = hr_handle_get(reg_handle, TAG_REGISTRY);
    int search = strcmp(operation, "search") == 0;
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    const void *opt = NULL;
    herd_frame *out = NULL;
    int rc = search ? hr_call_check(call, herd_registry_refresh(reg)) : HERD_OK;
    if (rc == HERD_OK) rc = options(call, scope, operation, spec, &opt);
    if (rc == HERD_OK)
        hr_call_check(call, search ? herd_registry_search(reg, opt, &out)
                                   : herd_registry_check_with(reg, opt, &out));
    SEXP value = finish(sc, call, frame_value(scope, out));
    UNPROTECT(1);
    return value;
}

SEXP herd_r_registry_search(SEXP reg_handle, SEXP spec, SEXP log_level)
{
    return registry_with_options(reg_handle, "search", spec, log_level);
}

SEXP herd_r_registry_check(SEXP reg_handle, SEXP spec, SEXP log_level)
{
    return registry_with_options(reg_handle, "check", spec, log_level);
}

SEXP herd_r_registry_rollback(SEXP reg_handle, SEXP family, SEXP group, SEXP alias,
                              SEXP reason, SEXP log_level)
{
    herd_registry *reg = hr_handle_get(reg_handle, TAG_REGISTRY);
    const char *fam = hr_string_arg(family, "family");
    const char *grp = hr_string_arg(group, "group");
    const char *al = hr_string_arg(alias, "alias");
    const char *why = hr_string_arg(reason, "reason");
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    herd_frame *moved = NULL;
    int rc = hr_call_check(call, herd_registry_refresh(reg));
    if (rc == HERD_OK)
        hr_call_check(call, herd_registry_rollback(reg, fam, grp, al, why, &moved));
    SEXP value = finish(sc, call, frame_value(scope, moved));
    UNPROTECT(1);
    return value;
}

/* --- The weekly cycle, and predicting from the registry -------------------- */

SEXP herd_r_cycle(SEXP reg_handle, SEXP columns, SEXP n_rows, SEXP by, SEXP fit_spec,
                  SEXP cycle_spec, SEXP apply_spec, SEXP log_level)
{
    herd_registry *reg = hr_handle_get(reg_handle, TAG_REGISTRY);
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    herd_groups *groups = NULL;
    const void *fit = NULL, *cycle = NULL, *apply = NULL;
    herd_frame *decisions = NULL, *summary = NULL;
    int rc = grouped(call, scope, columns, n_rows, by, &groups);
    if (rc == HERD_OK) rc = options(call, scope, "fit", fit_spec, &fit);
    if (rc == HERD_OK) rc = options(call, scope, "cycle", cycle_spec, &cycle);
    if (rc == HERD_OK) rc = options(call, scope, "apply", apply_spec, &apply);
    if (rc == HERD_OK) rc = hr_call_check(call, herd_registry_refresh(reg));
    if (rc == HERD_OK)
        hr_call_check(call, herd_cycle(reg, groups, fit, cycle, apply, &decisions, &summary));
    /* A refused or conflicting promotion still decided: keep the frames. */
    SEXP value = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(value, 0, frame_value(scope, decisions));
    SET_VECTOR_ELT(value, 1, frame_value(scope, summary));
    SEXP out = finish(sc, call, value);
    UNPROTECT(2);
    return out;
}

SEXP herd_r_registry_predict(SEXP reg_handle, SEXP columns, SEXP n_rows, SEXP by, SEXP spec,
                             SEXP apply_spec, SEXP log_level)
{
    herd_registry *reg = hr_handle_get(reg_handle, TAG_REGISTRY);
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(Rf_asInteger(log_level), &scope, &call);
    herd_groups *groups = NULL;
    const void *opt = NULL, *apply = NULL;
    herd_frame *predictions = NULL;
    int rc = grouped(call, scope, columns, n_rows, by, &groups);
    if (rc == HERD_OK) rc = options(call, scope, "registry_predict", spec, &opt);
    if (rc == HERD_OK) rc = options(call, scope, "apply", apply_spec, &apply);
    if (rc == HERD_OK) rc = hr_call_check(call, herd_registry_refresh(reg));
    if (rc == HERD_OK)
        hr_call_check(call, herd_registry_predict(reg, groups, opt, apply, &predictions, NULL));
    SEXP out = finish(sc, call, frame_value(scope, predictions));
    UNPROTECT(1);
    return out;
}

/* --- For the tests: which columns a frame borrows -------------------------- */

/* TRUE for each column whose frame data is the R vector's own memory. */
SEXP herd_r_frame_borrows(SEXP columns, SEXP n_rows)
{
    hr_scope *scope;
    hr_call *call;
    SEXP sc = begin(-1, &scope, &call);
    herd_frame *frame = NULL;
    int rc = hr_call_check(call, hr_frame_from_columns(scope, columns, row_count(n_rows), &frame));
    SEXP value = R_NilValue;
    if (rc == HERD_OK) {
        R_xlen_t n = XLENGTH(columns);
        value = PROTECT(Rf_allocVector(LGLSXP, n));
        for (R_xlen_t j = 0; j < n; j++) {
            SEXP x = VECTOR_ELT(columns, j);
            const void *data = NULL;
            size_t stride = 0;
            const uint8_t *mask = NULL;
            herd_frame_column_data(frame, (size_t)j, &data, &stride, &mask);
            const void *own = TYPEOF(x) == REALSXP                        ? (const void *)REAL(x)
                              : TYPEOF(x) == INTSXP && !Rf_isFactor(x) ? (const void *)INTEGER(x)
                              : TYPEOF(x) == LGLSXP                    ? (const void *)LOGICAL(x)
                                                                       : NULL;
            LOGICAL(value)[j] = own != NULL && data == own;
        }
        UNPROTECT(1);
    }
    SEXP out = finish(sc, call, value);
    UNPROTECT(1);
    return out;
}
