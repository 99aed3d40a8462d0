test_that("herd_fit trains one model per group and reports each", {
  df <- weekly_sales()
  fit <- quiet_fit(df)
  expect_s3_class(fit, "herd_fit")
  expect_s3_class(fit$report, "data.frame")
  expect_equal(sort(fit$report$group), sprintf("s%02d", 1:6))
  expect_true(all(fit$report$status == "ok"))
  expect_equal(sum(fit$report$rows), nrow(df))
  expect_type(fit$report$rows, "double")
  expect_output(print(fit), "6 groups by store \\(6 ok")
})

test_that("predict returns one value per input row, in the input's order", {
  df <- weekly_sales()
  fit <- quiet_fit(df)
  p <- predict(fit, df)
  expect_type(p, "double")
  expect_length(p, nrow(df))
  expect_gt(cor(p, df$demand), 0.9)
  shuffled <- df[sample(nrow(df)), ]
  expect_equal(predict(fit, shuffled), p[as.integer(rownames(shuffled))])
})

test_that("NA in numeric and integer columns is missing, not a value", {
  df <- weekly_sales()
  df$promo <- as.integer(df$promo)
  df$promo[seq(1, nrow(df), by = 7)] <- NA
  df$price[seq(3, nrow(df), by = 11)] <- NA
  fit <- quiet_fit(df)
  expect_true(all(fit$report$status == "ok"))
  p <- predict(fit, df)
  expect_false(anyNA(p))
  # NA_integer_ is INT_MIN to C: read as a value it would predict like a
  # very low promo, not like a missing one.
  one <- df[df$store == "s01", ][1:2, ]
  one$promo <- c(NA, NA)
  low <- one
  low$promo <- c(-2147483647L, -2147483647L)
  expect_false(isTRUE(all.equal(predict(fit, one), predict(fit, low))))
})

test_that("factor, character and integer keys group alike; NA keys predict NA", {
  df <- weekly_sales(stores = 3)
  by_chr <- predict(quiet_fit(df), df)
  df$store <- factor(df$store, levels = c("s03", "s01", "s02", "unused"))
  fit <- quiet_fit(df)
  expect_equal(sort(fit$report$group), c("s01", "s02", "s03"))
  expect_equal(predict(fit, df), by_chr)
  df$store[c(2, 5)] <- NA
  p <- predict(fit, df)
  expect_true(all(is.na(p[c(2, 5)])))
  expect_false(anyNA(p[-c(2, 5)]))
  df$store <- as.integer(df$store) # NA stays NA_integer_: a row without a group
  fit_int <- quiet_fit(df)
  expect_equal(sort(fit_int$report$group), c("1", "2", "3"))
  expect_equal(sum(fit_int$report$rows), nrow(df) - 2)
  expect_equal(which(is.na(predict(fit_int, df))), c(2L, 5L))
})

test_that("several key columns make composite keys", {
  df <- weekly_sales(stores = 2)
  df$region <- ifelse(df$week %% 2 == 0, "east", "west")
  fit <- herd_fit(df, by = c("store", "region"), features = "price", label = "demand",
                  rounds = 5, threads = 1)
  expect_setequal(fit$report$group, c("s01|east", "s01|west", "s02|east", "s02|west"))
})

test_that("double, integer and logical columns reach herd without a copy", {
  df <- data.frame(d = c(1.5, NA, 3), i = c(1L, NA, 3L), l = c(TRUE, NA, FALSE),
                   f = factor(c("a", "b", "a")), s = c("x", NA, "z"),
                   day = as.Date("2024-01-01") + 0:2)
  borrows <- herd:::herd_call(herd:::C_herd_r_frame_borrows, .subset(df, names(df)), nrow(df))
  expect_equal(borrows, c(TRUE, TRUE, TRUE, FALSE, FALSE, TRUE))
})

test_that("options beyond the named arguments pass by name", {
  df <- weekly_sales()
  fit <- quiet_fit(df, early_stopping_rounds = 3, split = "last", valid_order_by = "date",
                   params = list(max_depth = 2, eta = 0.3), min_rows = 30L)
  expect_true(all(fit$report$status == "ok"))
  fit <- quiet_fit(df, min_rows = 1000)
  expect_true(all(fit$report$status == "skipped"))
  expect_match(fit$report$message[1], "1000")
})

test_that("herd's log records become messages of class herd_message", {
  df <- weekly_sales(stores = 2)
  withr_level <- options(herd.log_level = "info")
  on.exit(options(withr_level))
  expect_message(quiet_fit(df), class = "herd_message")
  msgs <- character()
  withCallingHandlers(quiet_fit(df), herd_message = function(m) {
    msgs <<- c(msgs, conditionMessage(m))
    invokeRestart("muffleMessage")
  })
  expect_true(any(grepl("^herd info \\(fit\\): fit: 2 of 2 groups done", msgs)))
  options(herd.log_level = "none")
  expect_silent(quiet_fit(df))
})

test_that("a multi-class model predicts a matrix, one column per class", {
  df <- weekly_sales(stores = 2)
  df$class <- as.integer(cut(df$price, 3)) - 1L
  fit <- herd_fit(df, by = "store", features = "price", label = "class", rounds = 5,
                  threads = 1, params = list(objective = "multi:softprob", num_class = 3))
  p <- predict(fit, df)
  expect_equal(dim(p), c(nrow(df), 3L))
  expect_equal(unname(rowSums(p)), rep(1, nrow(df)), tolerance = 1e-5)
})
