/* glue.h -- what the files of the R binding share.
 *
 * Every entry point (api.c) follows one shape, so that no R error ever
 * jumps over C memory or a herd handle, and no C error ever becomes a
 * longjmp inside herd:
 *
 *   - the C objects a call creates are owned by a scope (an external
 *     pointer whose finalizer frees them), registered the moment they
 *     exist: if R raises an error while building a frame or a result,
 *     the garbage collector frees them later; on every other path the
 *     call closes its scope before returning;
 *   - herd's log records and the interrupt poll are collected into the
 *     call's state (hr_call) while herd runs, never turned into R code
 *     there;
 *   - a herd error is not raised from C: the entry point returns
 *     list(value, code, status, message, interrupted, log), and R code
 *     (R/call.R) replays the log as messages and signals a condition of
 *     class `herd_error`.
 */
#ifndef HERD_R_GLUE_H
#define HERD_R_GLUE_H

#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>

#include <herd.h>

/* --- Scopes: C objects owned until the call ends -------------------------- */

typedef void (*hr_free_fn)(void *p);
typedef struct hr_scope hr_scope;

/* A new empty scope, returned protected on the R stack (UNPROTECT it with
 * the entry point's other objects) and through *out. */
SEXP hr_scope_new(hr_scope **out);

/* Own `p` (freed with `free_fn` when the scope closes or is collected,
 * in the reverse order of registration).  `p` NULL is ignored.  When the
 * scope cannot grow, `p` is freed at once and an R error raised. */
void hr_scope_own(hr_scope *scope, void *p, hr_free_fn free_fn);

/* Give up ownership of `p` (it moves to a handle R keeps). */
void hr_scope_release(hr_scope *scope, void *p);

/* Free everything the scope owns, now. */
void hr_scope_close(SEXP scope);

/* --- One call's state: log records and interrupts ------------------------- */

typedef struct hr_call hr_call;

/* Begin a call: a state owned by `scope`, with herd's log callback
 * collecting records of level <= the R option herd.log_level (given by
 * R code as `log_level`) until the scope closes. */
hr_call *hr_call_begin(hr_scope *scope, int log_level);

/* Give `opt` (an options handle with a "progress" option) the call's
 * progress callback, which polls R for an interrupt on the calling thread
 * and cancels by its return value; with `cancel_flag` (the "apply"
 * options) also the cancel flag it sets, which herd's workers read. */
int hr_call_watch(hr_call *call, herd_options *opt, int cancel_flag);

/* Record `status` when it is the call's first failure, with
 * herd_last_error() copied at once (later herd calls may replace it), and
 * return it, so that `rc = hr_call_check(call, herd_x(...))` reads well. */
int hr_call_check(hr_call *call, int status);

/* The list R code receives: value, code (the first failure's herd_status,
 * or 0), status (its name), message, interrupted, log records. */
SEXP hr_call_result(hr_call *call, SEXP value);

/* --- Options from R ------------------------------------------------------- */

/* A handle for `operation` with the options of `spec`, a list of
 * list(name, kind, values, keys) made by R/options.R: kind "text" (one
 * value), "strings" (a string list) or "entries" (map keys and values).
 * Owned by `scope`.  Returns a herd status; *out NULL on error. */
int hr_options_build(hr_scope *scope, const char *operation, SEXP spec, herd_options **out);

/* --- Frames --------------------------------------------------------------- */

/* A frame of the columns of the named list `columns` (all of length
 * n_rows), owned by `scope`: doubles and Dates borrowed as float64,
 * integers and logicals borrowed as int32 (NA through a missing mask),
 * factors and character vectors as strings.  Only reads R objects, so
 * `columns` must stay protected while the frame is used. */
int hr_frame_from_columns(hr_scope *scope, SEXP columns, R_xlen_t n_rows, herd_frame **out);

/* Groups of `frame` by the key columns named in `by` (a character
 * vector), owned by `scope`. */
int hr_groups_by(hr_scope *scope, const herd_frame *frame, SEXP by, herd_groups **out);

/* A data.frame holding a copy of `frame`: float columns as double (NaN as
 * NA), int32 as integer, int64 as double, strings as UTF-8 character;
 * missing values as NA. */
SEXP hr_frame_to_data_frame(const herd_frame *frame);

/* --- Handles R keeps ------------------------------------------------------ */

/* An external pointer tagged `tag` whose finalizer calls `free_fn`. */
SEXP hr_handle_new(void *p, const char *tag, hr_free_fn free_fn);

/* The pointer of handle `x`, checked to carry `tag`; an R error saying
 * what the handle is and how to get a live one otherwise. */
void *hr_handle_get(SEXP x, const char *tag);

/* Free the handle's object now (idempotent). */
void hr_handle_close(SEXP x, const char *tag, hr_free_fn free_fn);

/* A one-element character argument as UTF-8, or NULL for NULL/NA. */
const char *hr_string_arg(SEXP x, const char *what);

/* Entry points (api.c), registered in init.c. */
SEXP herd_r_version(void);
SEXP herd_r_options_table(SEXP operation);
SEXP herd_r_fit(SEXP columns, SEXP n_rows, SEXP by, SEXP fit_spec, SEXP apply_spec,
                SEXP log_level);
SEXP herd_r_fit_predict(SEXP fit, SEXP columns, SEXP n_rows, SEXP by, SEXP apply_spec,
                        SEXP log_level);
SEXP herd_r_fit_close(SEXP fit);
SEXP herd_r_registry_open(SEXP path, SEXP spec, SEXP log_level);
SEXP herd_r_registry_close(SEXP reg);
SEXP herd_r_registry_table(SEXP reg, SEXP what, SEXP family, SEXP group, SEXP alias,
                           SEXP log_level);
SEXP herd_r_registry_search(SEXP reg, SEXP spec, SEXP log_level);
SEXP herd_r_registry_check(SEXP reg, SEXP spec, SEXP log_level);
SEXP herd_r_registry_rollback(SEXP reg, SEXP family, SEXP group, SEXP alias, SEXP reason,
                              SEXP log_level);
SEXP herd_r_cycle(SEXP reg, SEXP columns, SEXP n_rows, SEXP by, SEXP fit_spec,
                  SEXP cycle_spec, SEXP apply_spec, SEXP log_level);
SEXP herd_r_registry_predict(SEXP reg, SEXP columns, SEXP n_rows, SEXP by, SEXP spec,
                             SEXP apply_spec, SEXP log_level);
SEXP herd_r_frame_borrows(SEXP columns, SEXP n_rows);
SEXP herd_r_handle_alive(SEXP x);

#endif
