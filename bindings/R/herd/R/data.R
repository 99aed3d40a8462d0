# data.R -- a data.frame's columns as the C glue takes them.
#
# Only the columns a call uses are passed (keys, features, label, weight,
# ordering columns), each as R holds it: src/frame.c borrows double,
# integer and logical vectors without copying them.

column_kind <- function(x) {
  if (is.factor(x)) return("factor")
  if (inherits(x, "POSIXlt")) return("POSIXlt")
  if (is.double(x) || is.integer(x) || is.logical(x) || is.character(x)) return("ok")
  class(x)[1L]
}

check_names <- function(x, what, allow_null = FALSE) {
  if (is.null(x) && allow_null) return(invisible())
  if (!is.character(x) || !length(x) || anyNA(x) || any(x == ""))
    herd_abort(sprintf("%s must be a character vector of column names", what),
               call = sys.call(-1L))
}

# The columns `needed` of `df`, checked, as a named list; `numeric` names
# those that must be numbers (features, label, weight).
frame_columns <- function(df, needed, numeric = character(), what = "df",
                          call = sys.call(-1L)) {
  if (!is.data.frame(df))
    herd_abort(sprintf("%s must be a data.frame, not %s", what, class(df)[1L]), call = call)
  needed <- unique(needed[!is.na(needed)])
  missing <- setdiff(needed, names(df))
  if (length(missing))
    herd_abort(sprintf("%s has no column %s (its columns: %s)", what,
                       paste0("'", missing, "'", collapse = ", "),
                       paste(names(df), collapse = ", ")),
               status = "HERD_ENOTFOUND", call = call)
  columns <- .subset(df, needed)
  for (name in needed) {
    x <- columns[[name]]
    kind <- column_kind(x)
    if (kind == "POSIXlt")
      herd_abort(sprintf("column '%s' is POSIXlt: convert it with as.POSIXct()", name),
                 status = "HERD_ETYPE", call = call)
    if (kind != "ok" && kind != "factor")
      herd_abort(sprintf(
        "column '%s' is of class %s: herd takes numeric, integer, logical, factor, character and Date columns",
        name, kind), status = "HERD_ETYPE", call = call)
    if (name %in% numeric && !(kind == "ok" && (is.double(x) || is.integer(x) || is.logical(x))))
      herd_abort(sprintf(
        "column '%s' is %s, but features, labels and weights must be numeric (convert it, e.g. with as.integer() or one column per level)",
        name, if (is.factor(x)) "a factor" else class(x)[1L]),
        status = "HERD_ETYPE", call = call)
  }
  columns
}

# The C handle of `x`, an object of `class` made by `maker`, checked to be
# open: a closed handle, or one restored by readRDS() (which cannot keep C
# memory), is an error saying how to get a live one.
live_handle <- function(x, class, maker, call = sys.call(-1L)) {
  if (!inherits(x, class))
    herd_abort(sprintf("expected a %s object (made by %s), not %s", class, maker,
                       class(x)[1L]), call = call)
  if (!.Call(C_herd_r_handle_alive, x$handle))
    herd_abort(sprintf(
      "this %s is closed (by close(), or restored from a saved session, which cannot keep C handles): make a new one with %s",
      class, maker), call = call)
  x$handle
}
