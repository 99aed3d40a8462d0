expect_herd_error <- function(expr, status, pattern) {
  e <- tryCatch(expr, herd_error = identity)
  expect_s3_class(e, "herd_error")
  expect_equal(e$status, status)
  expect_match(conditionMessage(e), pattern)
  invisible(e)
}

test_that("a misspelt or out-of-bounds option is herd's error, naming it", {
  df <- weekly_sales(stores = 2)
  e <- expect_herd_error(quiet_fit(df, roundz = 3), "HERD_EINVAL", "did you mean 'rounds'")
  expect_equal(e$code, -1L)
  expect_herd_error(quiet_fit(df, cv_folds = 101), "HERD_EINVAL",
                    "'cv_folds'.*out of bounds")
  expect_herd_error(quiet_fit(df, split = "sideways"), "HERD_EINVAL", "split")
  expect_herd_error(quiet_fit(df, params = list(max_dpth = 3)), "HERD_EINVAL", "max_dpth")
  expect_herd_error(quiet_fit(df, seed = NA), "HERD_EINVAL", "NA is not a value")
  expect_herd_error(quiet_fit(df, seed = 1:2), "HERD_EINVAL", "takes one value")
  expect_herd_error(quiet_fit(df, params = list(3)), "HERD_EINVAL", "named list")
  expect_herd_error(herd_fit(df, "store", "price", "demand", threads = 5000),
                    "HERD_EINVAL", "threads")
})

test_that("wrong inputs are clear errors before anything runs", {
  df <- weekly_sales(stores = 2)
  expect_herd_error(herd_fit(as.list(df), "store", "price", "demand"), "HERD_EINVAL",
                    "df must be a data.frame, not list")
  expect_herd_error(herd_fit(df, "store", c("price", "cost"), "demand"), "HERD_ENOTFOUND",
                    "no column 'cost' \\(its columns: week, store")
  expect_herd_error(herd_fit(df, "shop", "price", "demand"), "HERD_ENOTFOUND", "'shop'")
  expect_herd_error(herd_fit(df, "store", "store", "demand"), "HERD_ETYPE",
                    "features, labels and weights must be numeric")
  df$f <- factor(df$promo)
  expect_herd_error(herd_fit(df, "store", "f", "demand"), "HERD_ETYPE", "'f' is a factor")
  df$lt <- as.POSIXlt(df$date)
  expect_herd_error(herd_fit(df, "lt", "price", "demand"), "HERD_ETYPE", "as.POSIXct")
  df$cx <- complex(real = df$price)
  expect_herd_error(herd_fit(df, "store", "cx", "demand"), "HERD_ETYPE", "class complex")
  expect_herd_error(herd_fit(df, 1, "price", "demand"), "HERD_EINVAL", "by must be")
  expect_herd_error(herd_fit(df, "price", "promo", "demand"), "HERD_ETYPE", "price")
  fit <- quiet_fit(weekly_sales(stores = 2))
  expect_herd_error(predict(fit, df[, c("store", "price")]), "HERD_ENOTFOUND",
                    "newdata has no column 'promo'")
  expect_herd_error(predict(fit, df, type = "link"), "HERD_EINVAL", "not type")
  old <- options(herd.log_level = "loud")
  on.exit(options(old))
  expect_herd_error(quiet_fit(df), "HERD_EINVAL", "herd.log_level")
})

test_that("a closed or restored handle is an error, not a crash", {
  df <- weekly_sales(stores = 2)
  fit <- quiet_fit(df)
  close(fit)
  close(fit) # twice is fine
  expect_herd_error(predict(fit, df), "HERD_EINVAL", "herd_fit is closed")
  reg <- herd_registry(tempfile("herd-registry-"))
  path <- tempfile(fileext = ".rds")
  saveRDS(reg, path)
  restored <- readRDS(path)
  expect_herd_error(herd_families(restored), "HERD_EINVAL",
                    "restored from a saved session.*herd_registry\\(path\\)")
  expect_s3_class(herd_families(reg), "data.frame")
  close(reg)
  expect_output(print(reg), "\\(closed\\)")
  expect_herd_error(herd_versions(reg, "demand", "s01"), "HERD_EINVAL",
                    "herd_registry is closed")
  expect_herd_error(herd_versions(fit, "demand", "s01"), "HERD_EINVAL",
                    "expected a herd_registry object")
  # The C side checks too, whatever R code passes it.
  expect_error(.Call(herd:::C_herd_r_fit_predict, reg$handle, list(), 0, "store", list(), -1L),
               "expected a herd_fit_result handle")
})

test_that("the garbage collector frees handles and nothing raises", {
  for (i in 1:3) {
    reg <- herd_registry(tempfile("herd-registry-"))
    fit <- quiet_fit(weekly_sales(stores = 2))
  }
  rm(reg, fit)
  expect_silent(invisible(gc()))
})

test_that("the C glue checks its inputs too, and an R error there leaks nothing", {
  fit_c <- function(columns, n = 3)
    .Call(herd:::C_herd_r_fit, columns, n, "g", list(), list(), -1L)
  expect_error(fit_c(list(g = 1:3, x = complex(3))), "column 'x' is of type complex")
  expect_error(fit_c(list(g = 1:3, x = c(1, 2))), "column 'x' has 2 values, the data frame 3 rows")
  bad <- structure(c(1L, 7L, 2L), levels = c("a", "b"), class = "factor")
  expect_error(fit_c(list(g = bad)), "factor with code 7 at row 2, outside its 2 levels")
  # The frames those calls had built are freed by their scopes' finalizers.
  expect_silent(invisible(gc()))
})
