# An interrupt while herd trains: the progress callback polls R on the
# calling thread, cancels the groups not yet started, and the call ends
# with a herd_interrupt condition instead of running to the end.
interrupted_fit <- function(df) {
  # About 5 s of training on one thread; the interrupt comes at 0.5 s.
  system(sprintf("sh -c 'sleep 0.5; kill -INT %d'", Sys.getpid()), wait = FALSE)
  started <- Sys.time()
  e <- tryCatch(herd_fit(df, by = "g", features = "x", label = "y", rounds = 300, threads = 1),
                herd_interrupt = identity, interrupt = function(e) NULL)
  if (is.null(e)) Sys.sleep(1) # let a signal that came early be handled here, not later
  list(condition = e, seconds = as.numeric(Sys.time() - started, units = "secs"))
}

test_that("an interrupt cancels a long fit between progress reports", {
  set.seed(3)
  n <- 150000
  df <- data.frame(g = sample(1:150, n, TRUE), x = runif(n), y = runif(n))
  # On a machine so loaded that the signal lands before herd starts, R
  # itself takes it (a plain interrupt): try again, at most three times.
  for (attempt in 1:3) {
    run <- interrupted_fit(df)
    if (!is.null(run$condition)) break
  }
  e <- run$condition
  expect_s3_class(e, "herd_interrupt")
  expect_s3_class(e, "herd_error")
  expect_equal(e$status, "HERD_ECANCELED")
  report <- e$value[[2L]]
  expect_true(any(report$status == "not_run"))
  expect_lt(run$seconds, 3)
})
