# weekly_cycle.R -- the demo's two weeks (examples/demo.c, `make demo`) in R.
#
# A retailer with 400 products: weekly sales (price, promo, season, week,
# demand) are generated, written as CSV and read back, and the weekly cycle
# runs on a registry: each product's latest weeks are held out, one XGBoost
# model per product is trained on the rest and registered as its
# challenger, a family model is trained on all products as a fallback, and
# each challenger is compared with its champion.  Week 1 has no champions
# yet; by week 2 a competitor has opened next to a quarter of the products,
# whose new models win and are promoted.  Finally every row is predicted
# from the registry.  The data are the demo's, number for number (the same
# generator, below), so the decisions are the demo's too.
#
#   Rscript examples/R/weekly_cycle.R [DIR [REGISTRY]]
#   (defaults: a new temporary directory, and DIR/herd-registry)

suppressPackageStartupMessages(library(herd))

args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[[1]] else tempfile("herd-demo-")
registry_path <- if (length(args) >= 2) args[[2]] else file.path(dir, "herd-registry")
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

products <- 400
min_weeks <- 80
max_weeks <- 156
new_weeks <- 26    # between the two cycles
new_products <- 3  # launched between them

# The demo's generator: a 64-bit linear congruential generator per product
# (state * 6364136223846793005 + 1442695040888963407 mod 2^64, the top 53
# bits as a uniform number), here on 16-bit limbs held in doubles, one
# state per product, all products advancing together.
limbs <- function(x) {
  out <- matrix(0, length(x), 4)
  for (i in 1:4) {
    out[, i] <- x %% 65536
    x <- x %/% 65536
  }
  out
}
lcg_mul <- c(0x7f2d, 0x4c95, 0xf42d, 0x5851) # 6364136223846793005, low limb first
lcg_add <- c(0x814f, 0xf767, 0x7b7e, 0x1405) # 1442695040888963407

uniform <- function(state) {
  # state: a matrix of limbs, one row per generator.  Returns the new state
  # and the draws, as the C demo's uniform().
  s <- state
  c <- matrix(0, nrow(s), 4)
  for (k in 1:4) for (i in 1:k) c[, k] <- c[, k] + s[, i] * lcg_mul[k - i + 1]
  for (k in 1:4) c[, k] <- c[, k] + lcg_add[k]
  for (k in 1:3) {
    carry <- c[, k] %/% 65536
    c[, k] <- c[, k] %% 65536
    c[, k + 1] <- c[, k + 1] + carry
  }
  c[, 4] <- c[, 4] %% 65536
  draw <- (c[, 4] * 2^37 + c[, 3] * 2^21 + c[, 2] * 2^5 + c[, 1] %/% 2^11) / 2^53
  list(state = c, draw = draw)
}

generate <- function(extra) {
  p <- seq_len(products) - 1
  st <- limbs(42 + 7919 * p)
  draw <- function() {
    u <- uniform(st)
    st <<- u$state
    u$draw
  }
  weeks <- min_weeks + as.integer(draw() * (max_weeks - min_weeks))
  base <- 20 + 80 * draw()
  elasticity <- 0.5 + 1.5 * draw()
  drifts <- p %% 4 == 0
  rows <- vector("list", max_weeks + extra)
  for (w in seq_len(max(weeks) + extra) - 1) {
    price <- 5 + 5 * draw()
    promo <- ifelse(draw() < 0.15, 1, 0)
    noise <- draw()
    live <- w < weeks + extra
    season <- sin(2 * pi * w / 52)
    competitor <- ifelse(w >= weeks & drifts, 1, 0)
    level <- ifelse(competitor == 1, 0.6 * base, base)
    e <- ifelse(competitor == 1, 1.5 * elasticity, elasticity)
    demand <- level * (1 + 0.3 * season) * (price / 7.5)^(-e) * (1 + 0.5 * promo) *
      (0.9 + 0.2 * noise)
    rows[[w + 1]] <- data.frame(product = sprintf("sku_%04d", p), week = w, price = price,
                                promo = promo, season = season, competitor = competitor,
                                demand = demand)[live, ]
  }
  sales <- do.call(rbind, rows)
  sales <- sales[order(sales$product, sales$week), ]
  if (extra > 0) {
    # Products launched since week 1: too short a history for a model of
    # their own, so the family model predicts them.
    st <- limbs(4242 + seq_len(new_products) - 1)
    for (w in 0:4) {
      price <- 5 + 5 * draw()
      demand <- 50 * (price / 7.5)^(-1) * (0.9 + 0.2 * draw())
      sales <- rbind(sales, data.frame(
        product = sprintf("new_%02d", seq_len(new_products) - 1), week = w, price = price,
        promo = 0, season = sin(2 * pi * w / 52), competitor = 0, demand = demand))
    }
  }
  rownames(sales) <- NULL
  sales
}

# One week: the cycle, then its decisions, as the demo prints them.
run_week <- function(registry, sales, run_id) {
  started <- Sys.time()
  cycle <- herd_cycle(registry, sales, by = "product",
                      features = c("price", "promo", "season", "competitor"),
                      label = "demand", family = "demand", run_id = run_id,
                      holdout_order_by = "week", rounds = 200,
                      # early stopping on each product's latest training weeks
                      fit = list(early_stopping_rounds = 10, split = "last",
                                 valid_order_by = "week"),
                      # a challenger must be 5% better, and surely so
                      compare = list(min_rel_delta = 0.05, bootstrap = 1000),
                      holdout_fraction = 0.1, fallback = TRUE)
  cat(sprintf("\n%s: fit %d products and a family model, register, compare, promote: %.2f s\n",
              run_id, length(unique(sales$product)),
              as.numeric(Sys.time() - started, units = "secs")))
  d <- cycle$decisions
  s <- cycle$summary
  cat("decisions      ", paste0(" ", s$decision, " ", s$groups, collapse = ""), "\n", sep = "")
  for (kind in c("promote", "keep", "first", "skipped", "failed", "refused")) {
    i <- match(kind, d$decision)
    if (!is.na(i)) cat(sprintf("  e.g. %-8s %s: %s\n", kind, d$group[i], d$reason[i]))
  }
  promoted <- d$group[d$decision == "promote" & d$promoted == 1]
  if (length(promoted)) {
    number <- suppressWarnings(as.integer(sub("^sku_", "", promoted)))
    cat(sprintf("  %d of the %d promoted products have a new competitor\n",
                sum(number %% 4 == 0, na.rm = TRUE), length(promoted)))
  }
  for (i in which(!is.na(s$median_delta)))
    cat(sprintf("  median rmse change (%s): %.3f\n", s$decision[i], s$median_delta[i]))
  invisible(cycle)
}

cat(sprintf("herd %s: two weeks of demand models for %d products\n\n", herd_version(),
            products))

# Week 1 through CSV, as a job reading an export would (17 digits: every
# number reads back as the same double).
csv <- file.path(dir, "sales.csv")
week1 <- generate(0)
numeric <- vapply(week1, is.double, NA)
text <- week1
text[numeric] <- lapply(week1[numeric], function(x) sprintf("%.17g", x))
write.csv(text, csv, row.names = FALSE, quote = FALSE)
cat(sprintf("wrote %s\n", csv))
started <- Sys.time()
# Column types as the demo's: numbers that happen to be whole (promo,
# season at week 0) stay doubles.  A model trained on an integer column
# has an "int" feature and refuses a double column later (docs/r.md).
week1 <- read.csv(csv, colClasses = c(product = "character", week = "integer",
                                      price = "numeric", promo = "numeric",
                                      season = "numeric", competitor = "numeric",
                                      demand = "numeric"))
sizes <- table(week1$product)
cat(sprintf("rows            %d\n", nrow(week1)))
cat(sprintf("groups          %d (by product), %d to %d rows each\n", length(sizes),
            min(sizes), max(sizes)))
cat(sprintf("read CSV        %.3f s\n", as.numeric(Sys.time() - started, units = "secs")))

registry <- herd_registry(registry_path)
run_week(registry, week1, "demo-week-1")

week2 <- generate(new_weeks)
cat(sprintf("\n%d weeks later: a competitor opened next to a quarter of the products, which now sell 40%% less\n",
            new_weeks))
run_week(registry, week2, "demo-week-2")

# Every row of week 2 predicted from the champions (the family model for
# products without one).
started <- Sys.time()
predicted <- predict(registry, week2, family = "demand", by = "product", fallback = TRUE,
                     details = TRUE)
cat(sprintf("\npredicted       %d rows from the champions in %.2f s (%d by the family model, %d without a model)\n",
            nrow(predicted), as.numeric(Sys.time() - started, units = "secs"),
            sum(predicted$fallback == 1), sum(is.na(predicted$prediction))))

families <- herd_families(registry)
cat(sprintf("registry        %s: %d versions of %d groups in family 'demand'\n",
            registry$path, families$versions[1], families$groups[1]))
history <- herd_history(registry, "demand", "sku_0000", "champion")
cat(sprintf("  sku_0000 champion %d -> %d at %s: %s\n", history$from_version,
            history$to_version, history$time, history$reason), sep = "")
cat("  e.g. herd:demand/sku_0000@champion; re-running the example changes nothing\n")
close(registry)
