#!/bin/sh
# run-tests.sh -- the `r` suite: the R package against the build tree's
# uninstalled libherd (meson writes its herd-uninstalled.pc, which
# pkg-config prefers, into BUILD_ROOT/meson-uninstalled).
#
#   run-tests.sh PACKAGE_DIR BUILD_ROOT test       install, run the testthat tests
#   run-tests.sh PACKAGE_DIR BUILD_ROOT check      R CMD build + check --no-manual:
#                                                  fails on any WARNING or ERROR
#   run-tests.sh PACKAGE_DIR BUILD_ROOT configure  without libherd, configure
#                                                  stops with what to do
#   run-tests.sh PACKAGE_DIR BUILD_ROOT example SCRIPT HERD_DEMO
#                                                  run examples/R/weekly_cycle.R
#                                                  and the C demo: the same decisions
#
# The package is copied to a temporary directory first: installing writes
# objects and src/Makevars into the package, never into the sources.
set -eu
pkg=$1 build=$2 mode=$3
shift 3
work=$(mktemp -d -t "herd-r-$mode.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp -R "$pkg" "$work/herd"
PKG_CONFIG_PATH="$build/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
# Each test process gets its own R temporary directory under $work.
TMPDIR=$work
export TMPDIR

case $mode in
test)
    mkdir "$work/lib"
    R CMD INSTALL --no-multiarch -l "$work/lib" "$work/herd"
    cd "$work/herd/tests"
    R_LIBS="$work/lib" Rscript testthat.R
    ;;
example)
    script=$1 demo=$2
    mkdir "$work/lib"
    R CMD INSTALL --no-multiarch --no-docs -l "$work/lib" "$work/herd" >"$work/install.log" 2>&1 ||
        { cat "$work/install.log" >&2; exit 1; }
    R_LIBS="$work/lib" Rscript "$script" "$work/r" | tee "$work/r.out"
    "$demo" "$work/c" "$work/c/herd-registry" >"$work/c.out"
    # The decisions and the prediction counts, without the timings.
    decisions() {
        grep -E '^(decisions|  e\.g\. [a-z]+ +[a-z_0-9]+:|  [0-9]+ of the|  median|predicted|registry)' "$1" |
            sed -e 's/ in [0-9.]* s / /' -e 's/^registry .*: /registry /'
    }
    decisions "$work/r.out" >"$work/r.decisions"
    decisions "$work/c.out" >"$work/c.decisions"
    if ! diff -u "$work/c.decisions" "$work/r.decisions"; then
        echo "run-tests.sh: the R example's decisions differ from herd-demo's (above: - C, + R)" >&2
        exit 1
    fi
    [ "$(grep -c '^decisions' "$work/r.decisions")" = 2 ] ||
        { echo "run-tests.sh: expected two weeks of decisions" >&2; exit 1; }
    echo "examples/R/weekly_cycle.R: the same decisions and predictions as herd-demo"
    # The timings of both, from this run, side by side.
    for side in c r; do
        grep -E '^(demo-week-[12]:|predicted)' "$work/$side.out" | sed "s/^/$side: /"
    done
    ;;
check)
    cd "$work"
    R CMD build --no-build-vignettes --no-manual herd
    # Tests run in the `test` mode already; check runs them again as part
    # of its own procedure (they must pass there too).
    _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual herd_*.tar.gz || true
    log=herd.Rcheck/00check.log
    [ -f "$log" ] || { echo "run-tests.sh: R CMD check wrote no $log" >&2; exit 1; }
    status=$(grep '^Status:' "$log" || echo "Status: unknown")
    echo "R CMD check: $status"
    case $status in
    *ERROR*|*WARNING*|*unknown*)
        grep -B2 -A12 -E '\.\.\. (ERROR|WARNING)' "$log" >&2 || true
        for f in herd.Rcheck/tests/*.Rout.fail; do [ -f "$f" ] && tail -40 "$f" >&2; done
        exit 1 ;;
    esac
    ;;
configure)
    # pkg-config with no search path at all: libherd is "missing".
    cd "$work/herd"
    if PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$work/none" ./configure >"$work/out" 2>&1; then
        echo "run-tests.sh: configure succeeded without libherd" >&2
        exit 1
    fi
    cat "$work/out"
    grep -q 'pkg-config does not know libherd' "$work/out"
    grep -q 'PKG_CONFIG_PATH=' "$work/out"
    [ ! -f src/Makevars ] || { echo "run-tests.sh: configure wrote src/Makevars" >&2; exit 1; }
    echo "configure: stops with a clear message when libherd is missing"
    ;;
*)
    echo "run-tests.sh: unknown mode '$mode' (test, check, configure, example)" >&2
    exit 2 ;;
esac
