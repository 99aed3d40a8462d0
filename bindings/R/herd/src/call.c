/* call.c -- one R call into herd: its log records, interrupts and result.
 *
 * herd delivers log records and progress on the thread that called it,
 * which here is R's main thread; still, neither callback may run R code
 * that can raise (an R error longjmps, and herd holds locks and memory
 * across the callback).  So the log callback only copies records into C
 * memory, replayed as R messages by R code once herd has returned, and the
 * progress callback polls for an interrupt inside R_ToplevelExec, which
 * catches the jump, and answers "cancel".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"

/* Records kept per call; later ones are counted, not kept (a call that
 * logs a line per group of a million groups). */
#define HR_LOG_MAX 10000

typedef struct hr_record {
    int level;
    char *message, *phase, *group;
} hr_record;

struct hr_call {
    int cancel;      /* herd's cancel flag (apply option "cancel") */
    int interrupted; /* the user interrupted R while herd ran */
    int status;      /* the first failure's herd_status, or HERD_OK */
    char *message;   /* its herd_last_error(), copied at once */
    size_t n_records, cap_records, dropped;
    hr_record *records;
};

static char *copy_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void call_free(void *p)
{
    hr_call *call = p;
    for (size_t i = 0; i < call->n_records; i++) {
        free(call->records[i].message);
        free(call->records[i].phase);
        free(call->records[i].group);
    }
    free(call->records);
    free(call->message);
    free(call);
}

/* Runs on R's main thread while herd works: C only. */
static void collect_record(const herd_log_record *record, void *user)
{
    hr_call *call = user;
    if (call->n_records == HR_LOG_MAX) {
        call->dropped++;
        return;
    }
    if (call->n_records == call->cap_records) {
        size_t cap = call->cap_records ? call->cap_records * 2 : 32;
        hr_record *r = realloc(call->records, cap * sizeof *r);
        if (!r) {
            call->dropped++;
            return;
        }
        call->records = r;
        call->cap_records = cap;
    }
    hr_record *r = &call->records[call->n_records++];
    r->level = record->level;
    r->message = copy_or_null(record->message);
    r->phase = copy_or_null(record->phase);
    r->group = copy_or_null(record->group);
}

static void stop_collecting(void *unused)
{
    (void)unused;
    herd_log_set(NULL, NULL, HERD_LOG_ERROR);
}

/* hr_scope_own needs a non-NULL pointer for the log hook's entry. */
static char log_hook_token;

hr_call *hr_call_begin(hr_scope *scope, int log_level)
{
    hr_call *call = calloc(1, sizeof *call);
    if (!call) Rf_error("herd: out of memory starting a call");
    hr_scope_own(scope, call, call_free);
    /* herd_log_set only fails inside a log callback, which an R call
     * never runs in: then the call simply logs nothing. */
    if (log_level >= HERD_LOG_ERROR && log_level <= HERD_LOG_DEBUG &&
        herd_log_set(collect_record, call, log_level) == HERD_OK)
        hr_scope_own(scope, &log_hook_token, stop_collecting);
    return call;
}

static void check_interrupt(void *unused)
{
    (void)unused;
    R_CheckUserInterrupt();
}

/* herd's progress callback: on the calling thread, between herd's own
 * steps.  R_ToplevelExec returns FALSE when the poll jumped (an
 * interrupt), which becomes herd's cancel. */
static int poll_interrupt(const herd_progress *progress, void *user)
{
    (void)progress;
    hr_call *call = user;
    if (!call->interrupted && !R_ToplevelExec(check_interrupt, NULL)) {
        call->interrupted = 1;
        __atomic_store_n(&call->cancel, 1, __ATOMIC_RELAXED);
    }
    return call->interrupted;
}

int hr_call_watch(hr_call *call, herd_options *opt, int cancel_flag)
{
    int rc = herd_options_set_progress(opt, "progress", poll_interrupt, call);
    if (rc == HERD_OK && cancel_flag) rc = herd_options_set_pointer(opt, "cancel", &call->cancel);
    return rc;
}

static SEXP string_or_na(const char *s)
{
    return s ? Rf_mkCharCE(s, CE_UTF8) : NA_STRING;
}

/* The records as list(level, message, phase, group), plus one warning
 * record counting those not kept. */
static SEXP log_records(const hr_call *call)
{
    size_t n = call->n_records + (call->dropped ? 1 : 0);
    SEXP level = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    SEXP message = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    SEXP phase = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    SEXP group = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)n));
    for (size_t i = 0; i < call->n_records; i++) {
        const hr_record *r = &call->records[i];
        SET_STRING_ELT(level, (R_xlen_t)i, Rf_mkChar(herd_log_level_name(r->level)));
        SET_STRING_ELT(message, (R_xlen_t)i, string_or_na(r->message ? r->message : ""));
        SET_STRING_ELT(phase, (R_xlen_t)i, string_or_na(r->phase));
        SET_STRING_ELT(group, (R_xlen_t)i, string_or_na(r->group));
    }
    if (call->dropped) {
        char text[160];
        snprintf(text, sizeof text,
                 "%zu more log records were dropped (a call keeps at most %d)",
                 call->dropped, HR_LOG_MAX);
        R_xlen_t i = (R_xlen_t)call->n_records;
        SET_STRING_ELT(level, i, Rf_mkChar("warn"));
        SET_STRING_ELT(message, i, Rf_mkChar(text));
        SET_STRING_ELT(phase, i, NA_STRING);
        SET_STRING_ELT(group, i, NA_STRING);
    }
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 4));
    SET_VECTOR_ELT(out, 0, level);
    SET_VECTOR_ELT(out, 1, message);
    SET_VECTOR_ELT(out, 2, phase);
    SET_VECTOR_ELT(out, 3, group);
    SEXP names = PROTECT(Rf_allocVector(STRSXP, 4));
    const char *labels[] = {"level", "message", "phase", "group"};
    for (int i = 0; i < 4; i++) SET_STRING_ELT(names, i, Rf_mkChar(labels[i]));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(6);
    return out;
}

int hr_call_check(hr_call *call, int status)
{
    if (status >= 0 || call->status < 0) return status;
    call->status = status;
    call->message = strdup(herd_last_error());
    return status;
}

SEXP hr_call_result(hr_call *call, SEXP value)
{
    int status = call ? call->status : HERD_OK;
    const char *text = call && call->message ? call->message
                       : status < 0          ? "out of memory copying the error message"
                                             : "";
    SEXP message = PROTECT(Rf_mkCharCE(text, CE_UTF8));
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 6));
    SET_VECTOR_ELT(out, 0, value);
    SET_VECTOR_ELT(out, 1, Rf_ScalarInteger(status));
    SET_VECTOR_ELT(out, 2, Rf_mkString(herd_status_str(status)));
    SET_VECTOR_ELT(out, 3, Rf_ScalarString(message));
    SET_VECTOR_ELT(out, 4, Rf_ScalarLogical(call && call->interrupted));
    SET_VECTOR_ELT(out, 5, call ? log_records(call) : R_NilValue);
    SEXP names = PROTECT(Rf_allocVector(STRSXP, 6));
    const char *labels[] = {"value", "code", "status", "message", "interrupted", "log"};
    for (int i = 0; i < 6; i++) SET_STRING_ELT(names, i, Rf_mkChar(labels[i]));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(3);
    return out;
}
