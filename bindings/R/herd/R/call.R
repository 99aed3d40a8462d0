# call.R -- every call into the C glue goes through herd_call(): it replays
# herd's log records as R messages and turns a herd status into a condition
# of class `herd_error` (the C code never raises while herd runs; see
# src/glue.h).

# The levels of herd_log_set(), by the names herd_log_level_name() gives.
log_levels <- c(none = -1L, error = 0L, warn = 1L, info = 2L, debug = 3L)

log_level <- function() {
  level <- getOption("herd.log_level", "warn")
  if (!is.character(level) || length(level) != 1L || !level %in% names(log_levels))
    herd_abort(sprintf(
      "option herd.log_level must be one of %s, not %s",
      paste0('"', names(log_levels), '"', collapse = ", "), deparse(level)[1]))
  log_levels[[level]]
}

# Signal an error of class herd_error, as the C library's errors are.
herd_abort <- function(message, status = "HERD_EINVAL", code = status_codes[[status]],
                       value = NULL, class = character(), call = sys.call(-1L)) {
  cond <- structure(
    class = c(class, "herd_error", "error", "condition"),
    list(message = message, call = call, status = status, code = code, value = value))
  stop(cond)
}

# The codes of the statuses R code raises itself (the C library's names).
status_codes <- c(HERD_EINVAL = -1L, HERD_ENOTFOUND = -5L, HERD_ETYPE = -7L,
                  HERD_ECANCELED = -10L)

emit_log <- function(log) {
  for (i in seq_along(log$level)) {
    where <- c(if (!is.na(log$phase[i])) log$phase[i],
               if (!is.na(log$group[i])) paste0("group ", log$group[i]))
    text <- paste0("herd ", log$level[i],
                   if (length(where)) paste0(" (", paste(where, collapse = ", "), ")"),
                   ": ", log$message[i], "\n")
    message(structure(
      class = c("herd_message", "message", "condition"),
      list(message = text, call = NULL, level = log$level[i],
           phase = log$phase[i], group = log$group[i])))
  }
}

# Call a registered routine; `call` is the user's call, named in errors.
herd_call <- function(routine, ..., call = sys.call(-1L)) {
  res <- .Call(routine, ...)
  emit_log(res$log)
  if (res$interrupted)
    herd_abort("interrupted: the call was cancelled between its steps, and what it had started finished first",
               status = "HERD_ECANCELED", code = res$code, value = res$value,
               class = c("herd_interrupt", "interrupt"), call = call)
  if (res$code < 0L)
    herd_abort(res$message, status = res$status, code = res$code, value = res$value,
               call = call)
  res$value
}

conditionMessage.herd_error <- function(c) {
  paste0(c$message, " [", c$status, "]")
}
