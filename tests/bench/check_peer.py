#!/usr/bin/python3
"""fit_bench drives the Python peer (tests/bench/peer.py) on a tiny workload,
and herd with the peer's XGBoost parameters trains the same models as the
peer and as the raw XGBoost C API loop: the three mean holdout RMSEs agree.

usage: check_peer.py FIT_BENCH [fit_bench arguments...]

Prints `N passed, N failed`.
"""
import json
import math
import subprocess
import sys

# Same rows, same parameters, same XGBoost: only float32 rounding of the
# features read back from CSV may differ.
RMSE_RELATIVE_TOLERANCE = 1e-3


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    run = subprocess.run(argv[1:], stdout=subprocess.PIPE, text=True)
    print(run.stdout)
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        passed, failed = passed + bool(ok), failed + (not ok)
        print(("ok: " if ok else "FAILED: ") + what)

    check(run.returncode == 0, f"fit_bench ran the peer (exit {run.returncode})")
    lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    check(bool(result), "fit_bench printed its JSON result")
    peer = result.get("baseline_rmse")
    check(isinstance(peer, (int, float)) and math.isfinite(peer) and peer > 0,
          f"the peer reported a holdout RMSE ({peer})")
    for name in ("herd_rmse", "raw_rmse"):
        mine = result.get(name)
        ok = (isinstance(mine, (int, float)) and isinstance(peer, (int, float))
              and math.isclose(mine, peer, rel_tol=RMSE_RELATIVE_TOLERANCE))
        check(ok, f"{name} {mine} equals the peer's {peer} (relative {RMSE_RELATIVE_TOLERANCE})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
