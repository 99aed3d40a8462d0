cycle_week <- function(reg, df, run_id, ...) {
  herd_cycle(reg, df, by = "store", features = c("price", "promo", "competitor"),
             label = "demand",
             family = "demand", run_id = run_id, holdout_order_by = "date", rounds = 15,
             threads = 2, holdout_fraction = 0.1, ...)
}

test_that("the cycle registers, compares and promotes; re-running adds nothing", {
  reg <- herd_registry(tempfile("herd-registry-"))
  on.exit(close(reg))
  df <- weekly_sales()
  week1 <- cycle_week(reg, df, "week-1", fallback = TRUE)
  expect_s3_class(week1, "herd_cycle")
  expect_equal(sort(week1$decisions$group), c("__all__", sprintf("s%02d", 1:6)))
  expect_true(all(week1$decisions$decision == "first"))
  expect_equal(sum(week1$decisions$promoted), 7)
  expect_output(print(week1), "first 7")
  champions <- herd_aliases(reg, "demand")
  expect_equal(names(champions), c("family", "group", "version"))
  expect_equal(nrow(champions), 7)
  expect_true(all(champions$version == 1))

  again <- cycle_week(reg, df, "week-1", fallback = TRUE)
  expect_equal(sum(again$decisions$promoted), 0)
  expect_equal(herd_families(reg)$versions, 7)

  # Week 2: three stores change; Date ordering, compare options by name.
  df2 <- weekly_sales(weeks = 70, seed = 2)
  changed <- df2$store %in% c("s01", "s02", "s03") & df2$week > 50
  df2$competitor[changed] <- 1
  df2$demand[changed] <- df2$demand[changed] - 25
  week2 <- cycle_week(reg, df2, "week-2",
                      compare = list(min_rel_delta = 0.05, max_promote_fraction = 1))
  promoted <- week2$decisions$group[week2$decisions$promoted == 1]
  expect_true(all(c("s01", "s02", "s03") %in% promoted))
  expect_equal(herd_families(reg)$versions, 13)

  v <- herd_versions(reg, "demand", "s01")
  expect_equal(v$version, c(1, 2))
  expect_equal(v$run_id, c("week-1", "week-2"))
  expect_equal(v$uri, c("herd:demand/s01/1", "herd:demand/s01/2"))
  h <- herd_history(reg, "demand", "s01", "champion")
  expect_equal(h$to_version, c(1, 2))
  expect_equal(herd_runs(reg)$run_id, c("week-1", "week-2"))
  expect_equal(nrow(herd_groups(reg, "demand")), 7)
  s <- herd_search(reg, family = "demand", alias = "champion", metric = "rmse",
                   metric_max = Inf)
  expect_equal(nrow(s), 7)
  expect_true("rmse" %in% names(s))
  expect_equal(nrow(herd_search(reg, family = "demand", group_pattern = "s0[12]")), 4)

  moved <- herd_rollback(reg, "demand", "s01", reason = "a bad week")
  expect_equal(moved$from_version, 2)
  expect_equal(moved$to_version, 1)
  expect_equal(herd_aliases(reg, "demand")$version[herd_aliases(reg, "demand")$group == "s01"], 1)
  expect_equal(tail(herd_history(reg, "demand", "s01", "champion")$reason, 1), "a bad week")
})

test_that("predict on a registry follows the champions, with the family fallback", {
  reg <- herd_registry(tempfile("herd-registry-"))
  on.exit(close(reg))
  df <- weekly_sales(stores = 3)
  cycle_week(reg, df, "week-1", fallback = TRUE)
  newcomer <- df[df$store == "s01", ][1:4, ]
  newcomer$store <- "brand_new"
  both <- rbind(df, newcomer)
  p <- predict(reg, both, family = "demand", by = "store")
  expect_length(p, nrow(both))
  expect_true(all(is.na(tail(p, 4))))
  expect_false(anyNA(head(p, nrow(df))))
  p_fallback <- predict(reg, both, family = "demand", by = "store", fallback = TRUE)
  expect_false(anyNA(p_fallback))
  d <- predict(reg, both, family = "demand", by = "store", fallback = TRUE, details = TRUE)
  expect_equal(names(d), c("prediction", "version", "fallback"))
  expect_equal(tail(d$fallback, 4), rep(1, 4))
  expect_true(all(is.na(predict(reg, df, family = "other", by = "store"))))
  expect_error(predict(reg, df, family = "demand", by = "store", alias = "no such"),
               "alias", class = "herd_error")
  expect_error(predict(reg, df, family = "demand", by = "store", type = "link"),
               "does not take type", class = "herd_error")
})

test_that("a refused promotion is an error that still carries the decisions", {
  reg <- herd_registry(tempfile("herd-registry-"))
  on.exit(close(reg))
  df <- weekly_sales(stores = 4)
  cycle_week(reg, df, "week-1")
  df$demand <- df$demand + 30 # every store changes: more than half would be promoted
  expect_message(e <- tryCatch(cycle_week(reg, df, "week-2"), herd_error = identity),
                 "max_promote_fraction", class = "herd_message")
  expect_s3_class(e, "herd_error")
  expect_equal(e$status, "HERD_EREFUSED")
  expect_true(all(e$value[[1]]$decision == "refused"))
  expect_true(all(herd_aliases(reg, "demand")$version == 1))
})

test_that("registry errors name what is missing", {
  reg <- herd_registry(tempfile("herd-registry-"))
  on.exit(close(reg))
  e <- tryCatch(herd_versions(reg, "demand", "s01"), herd_error = identity)
  expect_equal(e$status, "HERD_ENOTFOUND")
  expect_match(conditionMessage(e), "demand")
  expect_error(herd_registry(tempfile(), create = FALSE), class = "herd_error")
  expect_error(herd_registry(tempfile(), creat = FALSE), "did you mean 'create'",
               class = "herd_error")
  expect_error(herd_versions(reg, c("a", "b"), "s01"), "family must be one string",
               class = "herd_error")
  expect_error(herd_cycle(reg, weekly_sales(), "store", "price", "demand", "demand",
                          "run-1", "date", compare = list(metrc = "mae")),
               "did you mean 'metric'", class = "herd_error")
})

test_that("herd_check finds nothing in a sound registry and names the damage in one", {
  dir <- tempfile("herd-registry-")
  reg <- herd_registry(dir)
  on.exit(close(reg))
  cycle_week(reg, weekly_sales(), "week-1")
  clean <- herd_check(reg)
  expect_s3_class(clean, "data.frame")
  expect_equal(names(clean), c("file", "offset", "problem"))
  expect_equal(nrow(clean), 0)
  expect_equal(nrow(herd_check(reg, deep = TRUE)), 0)
  expect_error(herd_check(reg, deeep = TRUE), "deep", class = "herd_error")

  # A flipped byte in the pack's header: reading is unaffected, the check sees it.
  pack <- file.path(dir, "pack-000001")
  con <- file(pack, "r+b")
  seek(con, 3, rw = "read")
  b <- readBin(con, "raw", 1L)
  seek(con, 3, rw = "write")
  writeBin(as.raw(bitwXor(as.integer(b), 0xFFL)), con)
  close(con)
  err <- tryCatch(herd_check(reg), herd_error = function(e) e)
  expect_s3_class(err, "herd_error")
  expect_equal(err$status, "HERD_ECORRUPT")
  expect_match(conditionMessage(err), "pack-000001")
  expect_true(nrow(err$value) >= 1)
  expect_true(any(grepl("pack-000001", err$value$file)))
  expect_equal(nrow(herd_aliases(reg, "demand")), 6)
})
