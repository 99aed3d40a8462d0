# Every item of an Rd page in order, as "name: text" with Rd markup and
# white space flattened.
rd_items <- function(rd) {
  flatten <- function(x) gsub("\\s+", " ", trimws(paste(unlist(x), collapse = "")))
  items <- character()
  walk <- function(x) {
    if (identical(attr(x, "Rd_tag"), "\\item") && length(x) == 2L)
      items <<- c(items, paste0(flatten(x[[1L]]), ": ", flatten(x[[2L]])))
    else if (is.list(x)) for (e in x) walk(e)
  }
  walk(rd)
  items
}

# Whether `part` appears in `whole` in order (other items may come between).
in_order <- function(part, whole) {
  at <- 0L
  for (p in part) {
    hit <- which(whole == p & seq_along(whole) > at)
    if (!length(hit)) return(p)
    at <- hit[1L]
  }
  TRUE
}

generated_items <- function(block) {
  lines <- herd:::rd_block_lines(block)
  wrap <- if (identical(block$style, "arguments")) c("\\arguments{", "}")
          else c("\\description{\\describe{", "}}")
  rd <- tools::parse_Rd(textConnection(c("\\name{x}", "\\title{x}", wrap[1], lines, wrap[2])))
  rd_items(rd)
}

test_that("the Rd pages document every option exactly as the C table has it", {
  db <- tools::Rd_db("herd")
  installed <- lapply(db, rd_items)
  for (file in unique(vapply(herd:::rd_blocks, `[[`, "", "file"))) {
    blocks <- Filter(function(b) b$file == file, herd:::rd_blocks)
    expected <- unlist(lapply(blocks, generated_items))
    expect_gt(length(expected), length(blocks) - 1L)
    # TRUE, or the first generated item the installed page lacks.
    expect_identical(in_order(expected, installed[[file]]), TRUE, info = file)
  }
  # Every option of fit that R passes by name is documented.
  fit <- herd_options_table("fit")
  documented <- sub(":.*", "", generated_items(herd:::rd_blocks[[3]]))
  expect_setequal(documented, fit$name)
})

test_that("the option table is the library's", {
  all <- herd_options_table()
  expect_true(all(c("fit", "apply", "cycle", "compare", "registry", "search",
                    "registry_predict") %in% all$operation))
  fit <- herd_options_table("fit")
  expect_equal(fit$default[fit$name == "rounds"], "100")
  expect_equal(fit$min[fit$name == "rounds"], 1)
  expect_error(herd_options_table("fitt"), "did you mean 'fit'", class = "herd_error")
  expect_error(herd_options_table(1), "one string", class = "herd_error")
  expect_match(herd_version(), "^0\\.[0-9]+\\.[0-9]+$")
})

test_that("numbers reach herd as the same doubles", {
  expect_equal(herd:::number_text(0.1), "0.1")
  expect_equal(herd:::number_text(1 / 3), sprintf("%.17g", 1 / 3))
  expect_equal(as.numeric(herd:::number_text(1 / 3)), 1 / 3)
  expect_equal(herd:::number_text(2^60), "1152921504606846976")
  expect_equal(herd:::number_text(-Inf), "-inf")
  expect_equal(herd:::value_text(TRUE, "x"), "true")
})
