# registry.R -- the model registry: open, read, the weekly cycle, predict.

herd_registry <- function(path, ...) {
  call <- sys.call()
  if (!is.character(path) || length(path) != 1L || is.na(path) || path == "")
    herd_abort("path must be one string: the registry's directory", call = call)
  path <- path.expand(path)
  handle <- herd_call(C_herd_r_registry_open, enc2utf8(path), option_spec("registry", list(...)),
                      log_level(), call = call)
  structure(list(path = path, handle = handle), class = "herd_registry")
}

print.herd_registry <- function(x, ...) {
  open <- .Call(C_herd_r_handle_alive, x$handle)
  cat(sprintf("herd registry at %s%s\n", x$path, if (open) "" else " (closed)"))
  invisible(x)
}

close.herd_registry <- function(con, ...) {
  .Call(C_herd_r_registry_close, con$handle)
  invisible(NULL)
}

one_string <- function(x, what, call, allow_null = TRUE) {
  if (is.null(x) && allow_null) return(NULL)
  if (!is.character(x) && !is.factor(x) || length(x) != 1L || is.na(x))
    herd_abort(sprintf("%s must be one string%s", what, if (allow_null) " (or NULL)" else ""),
               call = call)
  enc2utf8(as.character(x))
}

registry_table <- function(registry, what, family = NULL, group = NULL, alias = NULL,
                           call) {
  handle <- live_handle(registry, "herd_registry", "herd_registry(path)", call)
  herd_call(C_herd_r_registry_table, handle, what, family, group, alias, log_level(),
            call = call)
}

herd_families <- function(registry) {
  registry_table(registry, "families", call = sys.call())
}

herd_groups <- function(registry, family) {
  call <- sys.call()
  registry_table(registry, "groups", family = one_string(family, "family", call, FALSE),
                 call = call)
}

herd_versions <- function(registry, family, group) {
  call <- sys.call()
  registry_table(registry, "versions", family = one_string(family, "family", call, FALSE),
                 group = one_string(group, "group", call, FALSE), call = call)
}

herd_aliases <- function(registry, family, alias = "champion") {
  call <- sys.call()
  registry_table(registry, "aliases", family = one_string(family, "family", call, FALSE),
                 alias = one_string(alias, "alias", call, FALSE), call = call)
}

herd_history <- function(registry, family, group = NULL, alias = NULL) {
  call <- sys.call()
  registry_table(registry, "history", family = one_string(family, "family", call, FALSE),
                 group = one_string(group, "group", call),
                 alias = one_string(alias, "alias", call), call = call)
}

herd_runs <- function(registry) {
  registry_table(registry, "runs", call = sys.call())
}

herd_search <- function(registry, ...) {
  call <- sys.call()
  handle <- live_handle(registry, "herd_registry", "herd_registry(path)", call)
  herd_call(C_herd_r_registry_search, handle, option_spec("search", list(...)), log_level(),
            call = call)
}

herd_check <- function(registry, ...) {
  call <- sys.call()
  handle <- live_handle(registry, "herd_registry", "herd_registry(path)", call)
  herd_call(C_herd_r_registry_check, handle, option_spec("check", list(...)), log_level(),
            call = call)
}

herd_rollback <- function(registry, family, group = NULL, alias = NULL, reason = NULL) {
  call <- sys.call()
  handle <- live_handle(registry, "herd_registry", "herd_registry(path)", call)
  herd_call(C_herd_r_registry_rollback, handle,
            one_string(family, "family", call, FALSE), one_string(group, "group", call),
            one_string(alias, "alias", call), one_string(reason, "reason", call),
            log_level(), call = call)
}

herd_cycle <- function(registry, df, by, features, label, family, run_id, holdout_order_by,
                       params = list(), rounds = NULL, threads = NULL, fit = list(),
                       compare = list(), ...) {
  call <- sys.call()
  handle <- live_handle(registry, "herd_registry", "herd_registry(path)", call)
  check_names(by, "by")
  check_names(features, "features")
  check_names(label, "label")
  check_names(holdout_order_by, "holdout_order_by")
  if (!is.list(fit) || !is.list(compare))
    herd_abort("fit and compare must be named lists of options", call = call)
  fit_args <- c(list(features = features, label = label, params = params, rounds = rounds),
                fit)
  split <- split_apply(list(...), threads)
  cycle_args <- c(list(family = one_string(family, "family", call, FALSE),
                       run_id = one_string(run_id, "run_id", call, FALSE),
                       holdout_order_by = holdout_order_by), split$rest)
  columns <- frame_columns(df, c(by, features, label, holdout_order_by,
                                 unlist(fit[c("weight", "valid_order_by")]),
                                 unlist(compare["weight"])),
                           numeric = c(features, label, fit$weight, compare$weight),
                           call = call)
  spec <- c(option_spec("cycle", cycle_args),
            option_spec("cycle", compare, prefix = "compare.", table_of = "compare"))
  value <- herd_call(C_herd_r_cycle, handle, columns, nrow(df), by,
                     option_spec("fit", fit_args), spec,
                     option_spec("apply", split$apply), log_level(), call = call)
  structure(list(decisions = value[[1L]], summary = value[[2L]]), class = "herd_cycle")
}

print.herd_cycle <- function(x, ...) {
  counts <- if (nrow(x$summary)) paste(sprintf("%s %d", x$summary$decision, x$summary$groups),
                                       collapse = ", ") else "no groups"
  cat(sprintf("herd cycle: %s; %d champions moved\n", counts, sum(x$decisions$promoted)))
  invisible(x)
}

predict.herd_registry <- function(object, newdata, family, by, alias = NULL,
                                  fallback = NULL, threads = NULL, details = FALSE, ...) {
  call <- sys.call()
  handle <- live_handle(object, "herd_registry", "herd_registry(path)", call)
  check_names(by, "by")
  if (...length())
    herd_abort(sprintf("predict() of a herd registry does not take %s",
                       paste(names(list(...)), collapse = ", ")), call = call)
  frame_columns(newdata, by, what = "newdata", call = call)
  # The models' features are known only once loaded: pass every column of
  # a type herd takes (src/frame.c borrows numbers without copying).
  usable <- vapply(newdata, function(x) column_kind(x) %in% c("ok", "factor"), NA)
  columns <- frame_columns(newdata, c(by, names(newdata)[usable]), what = "newdata",
                           call = call)
  spec <- option_spec("registry_predict",
                      list(family = one_string(family, "family", call, FALSE),
                           alias = one_string(alias, "alias", call), fallback = fallback))
  predictions <- herd_call(C_herd_r_registry_predict, handle, columns, nrow(newdata), by,
                           spec, option_spec("apply", list(threads = threads)), log_level(),
                           call = call)
  if (isTRUE(details)) predictions else prediction_values(predictions)
}
