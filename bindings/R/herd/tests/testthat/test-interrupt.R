# An interrupt while herd trains: the progress callback polls R on the
# calling thread, cancels the groups not yet started, and the call ends
# with a herd_interrupt condition instead of running to the end.
test_that("an interrupt cancels a long fit between progress reports", {
  skip_on_os("windows") # SIGINT from a shell: POSIX only (herd is Linux-first)
  set.seed(3)
  n <- 150000
  df <- data.frame(g = sample(1:150, n, TRUE), x = runif(n), y = runif(n))
  # About 5 s of training on one thread; the interrupt comes at 0.5 s.
  system(sprintf("sh -c 'sleep 0.5; kill -INT %d'", Sys.getpid()), wait = FALSE)
  started <- Sys.time()
  e <- tryCatch(herd_fit(df, by = "g", features = "x", label = "y", rounds = 300, threads = 1),
                herd_interrupt = identity, interrupt = function(e) "plain interrupt")
  took <- as.numeric(Sys.time() - started, units = "secs")
  expect_s3_class(e, "herd_interrupt")
  expect_equal(e$status, "HERD_ECANCELED")
  report <- e$value[[2L]]
  expect_true(any(report$status == "not_run"))
  expect_lt(took, 3)
})
