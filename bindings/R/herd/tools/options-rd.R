# options-rd.R -- write the option lists of the Rd pages from herd's table.
#
#   Rscript tools/options-rd.R [MAN_DIR]     (from bindings/R/herd)
#
# The herd package must be installed (R_LIBS may point at it): the table
# comes from the libherd it loads.  Each "% BEGIN options" ... "% END
# options" block of man/*.Rd gets the \item lines of the block that
# R/options.R's rd_blocks lists for that file, in order.  The package's
# tests check that the installed pages match the table.
args <- commandArgs(trailingOnly = TRUE)
man <- if (length(args)) args[[1L]] else "man"
suppressPackageStartupMessages(library(herd))
blocks <- herd:::rd_blocks
for (file in unique(vapply(blocks, `[[`, "", "file"))) {
  path <- file.path(man, file)
  lines <- readLines(path)
  begins <- grep("^% BEGIN options", lines)
  ends <- grep("^% END options", lines)
  mine <- Filter(function(b) b$file == file, blocks)
  if (length(begins) != length(mine) || length(ends) != length(mine))
    stop(sprintf("%s has %d BEGIN and %d END options lines; rd_blocks lists %d blocks",
                 path, length(begins), length(ends), length(mine)))
  out <- character()
  from <- 1L
  for (i in seq_along(mine)) {
    out <- c(out, lines[from:begins[i]], herd:::rd_block_lines(mine[[i]]))
    from <- ends[i]
  }
  out <- c(out, lines[from:length(lines)])
  writeLines(out, path)
  cat(sprintf("wrote %s (%d blocks)\n", path, length(mine)))
}
