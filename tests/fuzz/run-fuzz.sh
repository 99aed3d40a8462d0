#!/bin/sh
# Replay a fuzz target's committed corpus, then fuzz with a fixed seed for a
# fixed number of runs: deterministic, so CI is reproducible.  New inputs
# go to a scratch directory, never into the committed corpus (`make fuzz`
# is what grows the corpus).
#
# usage: run-fuzz.sh FUZZER CORPUS_DIR RUNS
set -eu
fuzzer=$1 corpus=$2 runs=$3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/herd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# -seed fixes the mutations; -rss_limit_mb bounds a runaway allocation.
"$fuzzer" -seed=1 -runs="$runs" -rss_limit_mb=2048 -timeout=30 \
  -print_final_stats=1 "$scratch" "$corpus"
