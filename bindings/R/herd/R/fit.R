# fit.R -- herd_fit(): one XGBoost model per group, and predict().

herd_fit <- function(df, by, features, label, params = list(), rounds = NULL,
                     threads = NULL, ...) {
  call <- sys.call()
  check_names(by, "by")
  check_names(features, "features")
  check_names(label, "label")
  split <- split_apply(list(...), threads)
  extra <- split$rest
  fit_args <- c(list(features = features, label = label, params = params, rounds = rounds),
                extra)
  order_cols <- unlist(extra[c("weight", "valid_order_by")])
  columns <- frame_columns(df, c(by, features, label, order_cols),
                           numeric = c(features, label, extra$weight), call = call)
  value <- herd_call(C_herd_r_fit, columns, nrow(df), by, option_spec("fit", fit_args),
                     option_spec("apply", split$apply), log_level(), call = call)
  structure(list(report = value[[2L]], by = by, features = features, label = label,
                 handle = value[[1L]]),
            class = "herd_fit")
}

print.herd_fit <- function(x, ...) {
  status <- table(factor(x$report$status, c("ok", "failed", "skipped", "not_run")))
  cat(sprintf("herd fit: %d groups by %s (%s), label %s, %d features\n",
              nrow(x$report), paste(x$by, collapse = ", "),
              paste(sprintf("%d %s", status, names(status)), collapse = ", "),
              x$label, length(x$features)))
  invisible(x)
}

predict.herd_fit <- function(object, newdata, threads = NULL, ...) {
  call <- sys.call()
  handle <- live_handle(object, "herd_fit", "herd_fit()", call)
  if (...length())
    herd_abort(sprintf("predict() of a herd fit takes newdata and threads, not %s",
                       paste(names(list(...)), collapse = ", ")), call = call)
  columns <- frame_columns(newdata, c(object$by, object$features),
                           numeric = object$features, what = "newdata", call = call)
  predictions <- herd_call(C_herd_r_fit_predict, handle, columns, nrow(newdata),
                           object$by, option_spec("apply", list(threads = threads)),
                           log_level(), call = call)
  prediction_values(predictions)
}

# herd's prediction frame as a vector (one output) or a matrix (k classes),
# aligned with the rows of the data.
prediction_values <- function(predictions) {
  cols <- grep("^prediction(_[0-9]+)?$", names(predictions), value = TRUE)
  if (length(cols) == 1L) return(predictions[[cols]])
  matrix(unlist(predictions[cols], use.names = FALSE), ncol = length(cols),
         dimnames = list(NULL, cols))
}

close.herd_fit <- function(con, ...) {
  .Call(C_herd_r_fit_close, con$handle)
  invisible(NULL)
}
