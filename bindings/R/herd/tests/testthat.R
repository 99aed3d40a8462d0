library(testthat)
library(herd)

test_check("herd")
