# zzz.R -- loading: the library must be the one this package was built for.

.onLoad <- function(libname, pkgname) {
  loaded <- .Call(C_herd_r_version)
  # herd_version() is MAJOR * 10000 + MINOR * 100 + PATCH; a binding works
  # with a library of the same major whose minor is not older (docs/api.md).
  built <- 200L
  if (loaded[[2L]] %/% 10000L != built %/% 10000L || loaded[[2L]] %/% 100L < built %/% 100L)
    stop(sprintf("the R package herd needs libherd 0.2 or a newer 0.x, but loaded libherd %s: reinstall the package against the installed libherd",
                 loaded[[1L]]), call. = FALSE)
}

herd_version <- function() {
  .Call(C_herd_r_version)[[1L]]
}
