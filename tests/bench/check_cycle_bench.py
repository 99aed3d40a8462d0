#!/usr/bin/python3
"""Run cycle_bench small and check its JSON line: every key the benchmark
promises is there, the figures are sane (positive times, promotions in week
2, every row predicted, memory measured), so that the full-size run in
docs/performance.md cannot silently lose a figure.

    check_cycle_bench.py CYCLE_BENCH [cycle_bench arguments...]
"""
import json
import subprocess
import sys

KEYS = [
    "groups", "week1_s", "week1_fit_s", "week1_register_s", "week1_compare_s",
    "week1_promote_s", "week2_s", "week2_split_s", "week2_fit_s", "week2_register_s",
    "week2_compare_s", "week2_promote_s", "week2_promoted", "predict_s", "fit_only_s",
    "peer_fit_only_s", "cycle_models_per_s", "cycle_vs_fit_only", "cycle_vs_peer_fit_only",
    "predict_vs_fit", "peak_rss_bytes", "work_rss_bytes", "work_rss_10k_vs_50k",
    "registry_bytes", "predict_rows_without_model",
]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = subprocess.run(argv[1:], check=True, capture_output=True, text=True).stdout
    print(out, end="")
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    missing = [k for k in KEYS if k not in r]
    if missing:
        print(f"check_cycle_bench: missing keys {missing}", file=sys.stderr)
        return 1
    problems = []
    for k in ("week1_s", "week2_s", "predict_s", "fit_only_s", "peer_fit_only_s",
              "cycle_models_per_s", "peak_rss_bytes", "registry_bytes"):
        if not r[k] > 0:
            problems.append(f"{k} is {r[k]}")
    if r["week2_promoted"] < 1:
        problems.append("week 2 promoted nothing: the drift did not show")
    if r["predict_rows_without_model"] != 0:
        problems.append(f"{r['predict_rows_without_model']} rows had no champion")
    if not r["work_rss_10k_vs_50k"] > 0:
        problems.append("the small run's memory was not measured")
    if problems:
        print("check_cycle_bench: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
