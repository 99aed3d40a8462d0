# Small data sets, fast to fit (a few hundred rows per group, few rounds).

weekly_sales <- function(stores = 6, weeks = 60, seed = 1) {
  set.seed(seed)
  d <- expand.grid(week = seq_len(weeks), store = sprintf("s%02d", seq_len(stores)),
                   KEEP.OUT.ATTRS = FALSE, stringsAsFactors = FALSE)
  d$price <- runif(nrow(d), 5, 10)
  d$promo <- rbinom(nrow(d), 1, 0.2)
  level <- 40 + 10 * as.integer(factor(d$store))
  d$demand <- level - 3 * d$price + 8 * d$promo + rnorm(nrow(d))
  d$date <- as.Date("2024-01-01") + 7L * (d$week - 1L)
  d$competitor <- 0
  d
}

quiet_fit <- function(df, ...) {
  herd_fit(df, by = "store", features = c("price", "promo"), label = "demand",
           rounds = 15, threads = 2, ...)
}
