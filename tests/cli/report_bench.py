#!/usr/bin/python3
"""The report at scale: its size, how long `herd report` takes, how long
Chromium takes to render it.

usage: report_bench.py HERD SOURCE_DIR WORK_DIR [GROUPS] [--fixture REPORT_FIXTURE]

Generates GROUPS groups (default 50000) of 14 weekly rows, runs two weekly
cycles through `herd cycle` (the second with drift in every second group) --
or, with --fixture, builds a registry of the same shape with
tests/bench/report_fixture (no training: one model stored 2 x GROUPS times,
the moves' details as herd_compare writes them) --
writes the report three times and renders it three times in headless
Chromium (tests/cli/chromium_check.py), and prints the medians.  A heavy
run: on a shared machine, run it when no other benchmark does (docs/cli.md,
"At 50,000 groups").
"""
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import time


def write(path, groups, weeks, drift, seed):
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["g", "week", "x", "y"])
        for g in range(groups):
            a = 1 + g % 7
            for week in range(1, weeks + 1):
                x = rng.uniform(0, 10)
                y = a * x + rng.gauss(0, 0.5)
                if drift and g % 2 == 0 and week > weeks - 4:
                    y = 0.5 * y + 10
                w.writerow([f"g{g:06d}", week, f"{x:.3f}", f"{y:.3f}"])


def run(*cmd):
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return time.time() - t0, r.stdout


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    fixture = None
    if "--fixture" in argv:
        i = argv.index("--fixture")
        fixture = os.path.abspath(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    herd, source, work = (os.path.abspath(a) for a in argv[1:4])
    groups = int(argv[4]) if len(argv) > 4 else 50000
    os.makedirs(work, exist_ok=True)
    reg = os.path.join(work, "registry")
    if fixture:
        dt, _ = run(fixture, reg, str(groups))
        print(f"fixture registry: {dt:.1f} s")
    for week, drift in () if fixture else ((1, False), (2, True)):
        data = os.path.join(work, f"week{week}.csv")
        write(data, groups, 10 + 4 * week, drift, seed=week)
        dt, _ = run(herd, "cycle", "--quiet", "--data", data, "--keys", "g", "--registry", reg,
                    "--family", "f", "--run-id", f"w{week}", "--features", "x", "--label", "y",
                    "--rounds", "5", "--params", "max_depth=2", "--valid_fraction", "0",
                    "--min_rows", "4", "--holdout_order_by", "week", "--holdout_periods", "2",
                    "--compare.max_promote_fraction", "1", "--out", os.path.join(work, "d.csv"))
        print(f"cycle week {week}: {dt:.1f} s")
    out = os.path.join(work, "report.html")
    writes, renders = [], []
    for _ in range(3):
        writes.append(run(herd, "report", "--quiet", "--registry", reg, "--family", "f",
                          "--out", out)[0])
    for i in range(3):
        _, text = run(sys.executable, os.path.join(source, "tests", "cli", "chromium_check.py"),
                      out, os.path.join(work, f"report-{i}.png"), "--expect-groups", str(groups),
                      "--search", "g000123")
        renders.append(float(re.search(r"rendered ([0-9.]+) s", text).group(1)))
    print(f"groups: {groups}")
    print(f"report size: {os.path.getsize(out)} bytes")
    print(f"herd report: median {statistics.median(writes):.2f} s of {writes}")
    print(f"render in Chromium: median {statistics.median(renders):.2f} s of {renders}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
