# options.R -- function arguments to herd options by name.
#
# herd has one table of every option of every operation (name, type,
# default, bounds, doc: herd_options_table()).  R does not repeat it: an
# argument becomes text that herd parses and checks, so R and C agree on
# names, defaults and bounds, and a wrong name or value is herd's own error
# ("did you mean", the bounds).  The Rd pages document the same table
# (options_rd(), written by tools/options-rd.R, checked by a test).

the <- new.env(parent = emptyenv())

# The table of herd's options
#
# operation An operation ("fit", "apply", "cycle", "compare",
#   "registry", "search", "registry_predict", ...), or NULL for all.
option_table <- function(operation) {
  key <- if (is.null(operation)) "(all)" else operation
  if (is.null(the$tables[[key]])) {
    the$tables[[key]] <- herd_call(C_herd_r_options_table, operation)
  }
  the$tables[[key]]
}

# A number as text that herd reads back to the same double.
number_text <- function(x) {
  if (is.infinite(x)) return(if (x > 0) "inf" else "-inf")
  if (x == trunc(x) && abs(x) < 2^63) return(sprintf("%.0f", x))
  short <- sprintf("%.15g", x)
  if (as.numeric(short) == x) short else sprintf("%.17g", x)
}

value_text <- function(value, what) {
  if (is.factor(value)) value <- as.character(value)
  if (length(value) != 1L || !(is.logical(value) || is.numeric(value) || is.character(value)))
    herd_abort(sprintf(
      "%s takes one value (a number, TRUE/FALSE or a string), not %s of length %d",
      what, class(value)[1L], length(value)), call = NULL)
  if (is.na(value))
    herd_abort(sprintf("%s: NA is not a value; leave the argument out (NULL) for the default", what),
               call = NULL)
  if (is.logical(value)) return(if (value) "true" else "false")
  if (is.numeric(value)) return(number_text(value))
  enc2utf8(value)
}

list_text <- function(value, what) {
  if (is.factor(value)) value <- as.character(value)
  if (!is.character(value) || anyNA(value))
    herd_abort(sprintf("%s takes a character vector without NA, not %s", what,
                       class(value)[1L]), call = NULL)
  enc2utf8(value)
}

map_text <- function(value, what) {
  keys <- names(value)
  if (length(value) && (is.null(keys) || any(is.na(keys) | keys == "")))
    herd_abort(sprintf("%s takes a named list (name = value, ...): every value needs a name",
                       what), call = NULL)
  texts <- vapply(seq_along(value), function(i)
    value_text(value[[i]], sprintf("%s entry '%s'", what, keys[i])), "")
  list(values = unname(texts), keys = enc2utf8(as.character(keys)))
}

# The spec of `args` (a named list; NULL elements keep the default) for
# `operation`: list(name, kind, values, keys) per option, as src/options.c
# reads it.  `prefix` names a nested struct's options ("compare.").
option_spec <- function(operation, args, prefix = "", table_of = operation) {
  args <- args[!vapply(args, is.null, NA)]
  if (!length(args)) return(list())
  names <- names(args)
  if (is.null(names) || any(names == ""))
    herd_abort(sprintf("options of %s must be named (name = value)", operation), call = NULL)
  table <- option_table(table_of)
  lapply(names, function(name) {
    value <- args[[name]]
    type <- table$type[match(name, table$name)]
    what <- sprintf("option '%s%s' of %s", prefix, name, operation)
    full <- paste0(prefix, name)
    if (is.na(type)) {
      # Not in the table: herd answers with the closest name.
      return(list(full, "text", "", NULL))
    }
    switch(type,
      string_list = list(full, "strings", list_text(value, what), NULL),
      string_map = , number_map = , type_map = {
        m <- map_text(value, what)
        list(full, "entries", m$values, m$keys)
      },
      list(full, "text", value_text(value, what), NULL))
  })
}

# `args` split into those of "apply" (threads, max_failed...: the worker
# pool's, whose names no other operation uses) and the others.
split_apply <- function(args, threads) {
  names <- names(args)
  is_apply <- if (is.null(names)) logical(length(args)) else
    names %in% option_table("apply")$name
  list(apply = c(list(threads = threads), args[is_apply]), rest = args[!is_apply])
}

# herd's options, as a data frame
#
# Every option of every operation, from the library's one table: name,
# type, default, bounds and a one-line description.  The arguments of
# [herd_fit()], [herd_cycle()] and the other functions are these names.
#
# operation An operation name ("fit", "apply", "cycle", "compare",
#   "registry", "search", "registry_predict", ...), or NULL for all.
# Returns A data.frame with columns operation, name, type, default, min,
#   max, doc, since, fields, values.
herd_options_table <- function(operation = NULL) {
  if (!is.null(operation) && (!is.character(operation) || length(operation) != 1L))
    herd_abort("operation must be one string, or NULL for every operation")
  option_table(operation)
}

# --- Rd text from the table ------------------------------------------------

rd_escape <- function(text) {
  text <- gsub("\\", "\\\\", text, fixed = TRUE)
  text <- gsub("%", "\\%", text, fixed = TRUE)
  text <- gsub("{", "\\{", text, fixed = TRUE)
  gsub("}", "\\}", text, fixed = TRUE)
}

# A bound as the table gives it: inclusive, an open end being the next
# double inside it (0.99999999999999989 for "below 1").
bound_text <- function(x) {
  if (is.infinite(x)) return(if (x > 0) "Inf" else "-Inf")
  if (abs(x) >= 2^53) return("the type's maximum")
  format(x, digits = 15)
}

interval_text <- function(min, max) {
  lo <- bound_text(min)
  hi <- bound_text(max)
  open_lo <- is.finite(min) && abs(min) < 2^53 && as.numeric(lo) != min
  open_hi <- is.finite(max) && abs(max) < 2^53 && as.numeric(hi) != max
  if (min > 0 && min < .Machine$double.xmin) { # (0, ...: the smallest double above 0
    lo <- "0"
    open_lo <- TRUE
  }
  sprintf("%s%s, %s%s", if (open_lo) "(" else "[", lo, hi, if (open_hi) ")" else "]")
}

numeric_types <- c("int", "int64", "uint64", "size", "double")

# One option's description: its doc, its type, default and bounds.
option_description <- function(row) {
  doc <- paste0(toupper(substr(row$doc, 1L, 1L)), substring(row$doc, 2L), ".")
  type <- switch(row$type,
    bool = "TRUE or FALSE", string = "a string", char = "one character",
    string_list = "a character vector", string_map = "a named list of strings or numbers",
    number_map = "a named list of numbers", type_map = "a named list of herd type names",
    enum = , flags = paste(if (row$type == "enum") "one of" else "names joined by | of",
                           paste0('"', strsplit(row$values, "|", fixed = TRUE)[[1L]], '"',
                                  collapse = ", ")),
    if (row$type %in% numeric_types) sprintf("a number in %s", interval_text(row$min, row$max))
    else row$type)
  default <- if (is.na(row$default) || row$default %in% c("[]", "{}")) "none"
    else if (row$type == "bool") toupper(row$default)
    else if (row$type %in% numeric_types) row$default
    else paste0('"', row$default, '"')
  rd_escape(sprintf("%s Type: %s; default: %s.", doc, type, default))
}

# The \item lines documenting `names` (NULL: every option R passes by name)
# of `operation`: in an \arguments section (style "arguments") or a
# \describe list ("describe").
options_rd <- function(operation, names = NULL, style = "describe") {
  table <- option_table(operation)
  passable <- !table$type %in% c("pointer", "progress", "options")
  table <- table[passable, , drop = FALSE]
  if (!is.null(names)) table <- table[match(names, table$name), , drop = FALSE]
  label <- if (style == "arguments") "%s" else "\\code{%s}"
  vapply(seq_len(nrow(table)), function(i) {
    row <- table[i, , drop = FALSE]
    sprintf("\\item{%s}{%s}", sprintf(label, row$name), option_description(row))
  }, "")
}

# The generated blocks of man/*.Rd, in their order in each file: which
# options of which operation.  tools/options-rd.R writes them between
# "% BEGIN options" and "% END options" lines; a test compares the
# installed pages with the table.
rd_blocks <- list(
  list(file = "herd_fit.Rd", operation = "fit", style = "arguments",
       names = c("features", "label", "params", "rounds")),
  list(file = "herd_fit.Rd", operation = "apply", style = "arguments", names = "threads"),
  list(file = "herd_options.Rd", operation = "fit"),
  list(file = "herd_options.Rd", operation = "apply",
       names = c("threads", "max_failed", "progress_interval_s", "parallel_group_rows")),
  list(file = "herd_options.Rd", operation = "cycle"),
  list(file = "herd_options.Rd", operation = "compare"),
  list(file = "herd_options.Rd", operation = "registry"),
  list(file = "herd_options.Rd", operation = "registry_predict"),
  list(file = "herd_options.Rd", operation = "search"))

rd_block_lines <- function(block) {
  options_rd(block$operation, block$names,
             if (is.null(block$style)) "describe" else block$style)
}
