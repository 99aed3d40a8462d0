#!/usr/bin/env python3
"""python_bench.py -- what the Python binding costs over C, on the weekly cycle.

    /usr/bin/python3 tests/bench/python_bench.py --cycle-from-c build/tests/bench/cycle_from_c \
        [--groups 50000] [--rows 30] [--rounds 10] [--threads 2] [--repeat 3] [--weeks 2]

Generates two weeks of data for --groups groups (week 2: 10 more rows per
group, a shift in a quarter of them; --weeks 1: week 1 only), writes them as
CSV, then, in the same
run, --repeat times each, alternating which goes first:

  C       cycle_from_c: reads the CSV files (not timed), then per week
          groups the frame and runs herd_cycle (timed);
  Python  the same CSV files read with herd.read_csv (not timed), then per
          week Registry.cycle on the DataFrame (timed: the DataFrame lent
          to a herd frame, the keys factorized, the options set by name,
          the call, the decisions converted to pandas).

Both use the same options, by the same names, and a fresh registry each
run; both are fresh processes.  The binding's cost is the Python side's
median time over the C side's; the target is at most 1.05.  The decisions
of the two sides must be equal (checked).  The last line is one JSON object.

    /usr/bin/python3 tests/bench/python_bench.py --serving [--repeat 7]

times one-row predictions instead: a model of 200 trees of depth 6 on 6
features (predict_bench's), then, interleaved, samples of 2,000 calls of
Predictor.predict_row (a list of floats, and a float64 array), of the bare
C call herd_predictor_predict_dense through ctypes with every argument
prepared (the floor a binding can reach from Python), and of xgboost's
Booster.inplace_predict on the same model.  Prints median microseconds per
call and the ratios to the bare call.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))


def options(args):
    """The options both sides pass, by operation and name."""
    return {
        "fit": {"features": ["price", "promo", "season"], "label": "demand",
                "rounds": args.rounds, "params": {"max_depth": 3}, "min_rows": 5},
        "cycle": {"family": "bench", "holdout_order_by": "week", "holdout_periods": 4},
        "compare": {"min_rel_delta": 0.02, "force": True},
        "apply": {"threads": args.threads},
    }


def generate(groups, rows, week, seed=7):
    """One week's table: `rows` weeks of history per group (10 more in week
    2, where every fourth group's demand shifts)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(20, 80, groups)
    elasticity = rng.uniform(0.5, 2.0, groups)
    n_weeks = rows + (10 if week == 2 else 0)
    g = np.repeat(np.arange(groups), n_weeks)
    w = np.tile(np.arange(n_weeks), groups)
    rng = np.random.default_rng(seed + week)
    price = rng.uniform(5, 10, len(g))
    promo = (rng.uniform(size=len(g)) < 0.15).astype(float)
    season = np.sin(2 * np.pi * w / 52.0)
    shifted = (week == 2) & (g % 4 == 0) & (w >= rows)
    level = np.where(shifted, 0.6, 1.0) * base[g]
    demand = level * (1 + 0.3 * season) * (price / 7.5) ** -elasticity[g] * (1 + 0.5 * promo) \
        * rng.uniform(0.9, 1.1, len(g))
    return pd.DataFrame({"store": np.char.add("s", g.astype(str)).astype(object), "week": w,
                         "price": price, "promo": promo, "season": season, "demand": demand})


def c_arguments(opts):
    out = []
    for op, values in opts.items():
        for name, value in values.items():
            if isinstance(value, list):
                out.append("%s.%s=%s" % (op, name, ",".join(value)))
            elif isinstance(value, dict):
                out += ["%s.%s.%s=%s" % (op, name, k, v) for k, v in value.items()]
            elif isinstance(value, bool):
                out.append("%s.%s=%s" % (op, name, "true" if value else "false"))
            else:
                out.append("%s.%s=%s" % (op, name, value))
    return out


class _Breakdown:
    """Where the Python side's time goes in one Registry.cycle call: before
    the C call (options, lending the DataFrame, factorizing the keys), the
    grouping (herd_groups_new: C's work, which cycle_from_c times too, so
    it is not the binding's), in herd_cycle (callbacks included), after it
    (the decisions converted to pandas), and inside the Python callbacks C
    made during the call (progress and log: their count and seconds).

    It wraps the binding's ctypes entry points in this process only: the
    C functions herd_groups_new and herd_cycle on the library object, and
    the progress and log callbacks' Python bodies."""

    def __init__(self, herd):
        from herd import _callbacks
        self.marks = {}
        self.calls = {"progress": 0, "log": 0}
        self.callback_s = 0.0
        lib = herd._lib.lib
        lib.herd_groups_new = self._timed(lib.herd_groups_new, "groups")
        lib.herd_cycle = self._timed(lib.herd_cycle, "c")  # _api calls lib.x by attribute
        progress_body = _callbacks.Progress._called

        def timed_progress(progress, *a):
            t = time.perf_counter()
            try:
                return progress_body(progress, *a)
            finally:
                self.calls["progress"] += 1
                self.callback_s += time.perf_counter() - t
        _callbacks.Progress._called = timed_progress
        logger = _callbacks.logger
        log_body = logger.log

        def timed_log(*a, **kw):
            t = time.perf_counter()
            try:
                return log_body(*a, **kw)
            finally:
                self.calls["log"] += 1
                self.callback_s += time.perf_counter() - t
        logger.log = timed_log   # reached only for records the "herd" logger wants

    def _timed(self, fn, mark):
        def timed(*a):
            self.marks[mark + "_start"] = time.perf_counter()
            try:
                return fn(*a)
            finally:
                self.marks[mark + "_end"] = time.perf_counter()
        return timed

    def around(self, call):
        """Run call() and return its result and this call's figures."""
        self.marks.clear()
        self.calls.update(progress=0, log=0)
        self.callback_s = 0.0
        t0 = time.perf_counter()
        result = call()
        t1 = time.perf_counter()
        m = self.marks
        groups_s = m["groups_end"] - m["groups_start"]
        return result, {"binding_before_s": m["c_start"] - t0 - groups_s, "c_groups_s": groups_s,
                        "c_call_s": m["c_end"] - m["c_start"],
                        "binding_after_s": t1 - m["c_end"], "callbacks_s": self.callback_s,
                        "progress_calls": self.calls["progress"], "log_calls": self.calls["log"]}


def run_python(args):
    import herd
    opts = options(args)
    frames = [herd.read_csv(path) for path in args.csv]
    kwargs = dict(opts["fit"], **opts["cycle"], **opts["apply"], compare=opts["compare"])
    seconds, cpu_seconds, decisions, breakdown = [], [], [], []
    probe = _Breakdown(herd)
    with herd.Registry(args.registry) as reg:
        for i, df in enumerate(frames):
            def week(df=df, run_id="week-%d" % (i + 1)):
                try:
                    return reg.cycle(df, by="store", run_id=run_id, progress=False, **kwargs)
                except herd.RefusedError as e:
                    return e.result
            t, c = time.perf_counter(), time.process_time()
            result, figures = probe.around(week)
            seconds.append(time.perf_counter() - t)
            cpu_seconds.append(time.process_time() - c)
            breakdown.append(figures)
            decisions.append(result.decisions[["group", "decision", "challenger_version"]]
                             .to_dict("list"))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                      "decisions": sum(len(d["group"]) for d in decisions),
                      "digest": _digest(decisions), "breakdown": breakdown}))


def _binding_figures(python_runs):
    """The Python side's breakdown (see _Breakdown), each figure summed over
    a run's weeks, then the median over runs; binding_s is the work the
    binding adds: before (grouping excluded) + after the C call, and the
    callbacks' bodies."""
    keys = ("binding_before_s", "binding_after_s", "callbacks_s", "progress_calls",
            "log_calls", "c_groups_s")
    out = {k: statistics.median(sum(week[k] for week in run["breakdown"])
                                for run in python_runs) for k in keys}
    out["binding_s"] = statistics.median(
        sum(week["binding_before_s"] + week["binding_after_s"] + week["callbacks_s"]
            for week in run["breakdown"]) for run in python_runs)
    return out


def _digest(decisions):
    import hashlib
    return hashlib.sha256(json.dumps(decisions, default=int).encode()).hexdigest()[:16]


def _same_registries(a, b):
    """Whether the C run and the Python run registered the same versions,
    with the same aliases, metrics and data fingerprints."""
    import herd
    cols = ["group", "version", "aliases", "metrics", "fingerprint", "run_id"]
    with herd.Registry(a, create=False) as ra, herd.Registry(b, create=False) as rb:
        fa = ra.search(family="bench")[cols].sort_values(["group", "version"])
        fb = rb.search(family="bench")[cols].sort_values(["group", "version"])
    return len(fa) > 0 and fa.reset_index(drop=True).equals(fb.reset_index(drop=True))


def serving(args):
    """One-row prediction latency from Python (see the module's doc)."""
    import ctypes
    import herd
    import xgboost as xgb
    rng = np.random.default_rng(3)
    n, nf = 20000, 6
    x = rng.normal(size=(n, nf))
    df = pd.DataFrame(x, columns=["f%d" % j for j in range(nf)])
    df["y"] = x @ rng.normal(size=nf) + np.sin(3 * x[:, 0]) + 0.1 * rng.normal(size=n)
    df["g"] = "all"
    with herd.fit(df, by="g", features=list(df.columns[:nf]), label="y", rounds=200,
                  valid_fraction=0, params={"max_depth": 6, "tree_method": "hist"},
                  progress=False) as res, res.model("all") as model:
        booster = xgb.Booster()
        booster.load_model(bytearray(model.save()))
        booster.set_param({"nthread": 1})
        pred = model.predictor()
    rows = [list(map(float, r)) for r in x[:2000]]
    arrays = [np.ascontiguousarray(r) for r in x[:2000]]
    out = np.empty(1)
    fn, h, out_p = herd._lib.lib.herd_predictor_predict_dense, pred._ptr, out.ctypes.data
    addrs = [a.ctypes.data for a in arrays]

    def bare():
        for a in addrs:
            fn(h, a, 1, nf, out_p, 1)

    def row_list():
        for r in rows:
            pred.predict_row(r)

    def row_array():
        for a in arrays:
            pred.predict_row(a)

    def xgboost():
        for a in arrays:
            booster.inplace_predict(a.reshape(1, -1))

    assert abs(pred.predict_row(rows[0]) - float(booster.inplace_predict(arrays[0].reshape(1, -1))[0])) < 1e-5
    contenders = {"bare C call": bare, "predict_row(list)": row_list,
                  "predict_row(array)": row_array, "xgboost inplace_predict": xgboost}
    wall = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    for r in range(args.repeat):
        order = list(contenders)[r % 4:] + list(contenders)[:r % 4]
        for name in order:
            t, c = time.perf_counter(), time.thread_time()
            contenders[name]()
            cpu[name].append((time.thread_time() - c) / len(rows) * 1e6)
            wall[name].append((time.perf_counter() - t) / len(rows) * 1e6)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print("one-row prediction, 200 trees of depth 6, 6 features, median of %d samples of %d "
          "calls (wall; the calling thread's CPU time)" % (args.repeat, len(rows)))
    for k in contenders:
        print("  %-26s %8.2f us %.3fx   cpu %8.2f us %.3fx the bare call"
              % (k, med[k], med[k] / med["bare C call"], med_cpu[k],
                 med_cpu[k] / med_cpu["bare C call"]))
    print(json.dumps({"serving_us": med, "serving_cpu_us": med_cpu,
                      "predict_row_vs_bare": med["predict_row(array)"] / med["bare C call"],
                      "predict_row_vs_bare_cpu": med_cpu["predict_row(array)"] /
                      med_cpu["bare C call"],
                      "predict_row_list_vs_bare_cpu": med_cpu["predict_row(list)"] /
                      med_cpu["bare C call"],
                      "xgboost_vs_predict_row_cpu": med_cpu["xgboost inplace_predict"] /
                      med_cpu["predict_row(array)"]}))
    pred.close()
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycle-from-c", help="the cycle_from_c program (build/tests/bench/)")
    ap.add_argument("--groups", type=int, default=50000)
    ap.add_argument("--rows", type=int, default=30, help="weeks of history per group, week 1")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--weeks", type=int, choices=[1, 2], default=2,
                    help="cycles per run: week 1 (every group's first model), then week 2")
    ap.add_argument("--serving", action="store_true", help="time one-row predictions instead")
    ap.add_argument("--side", choices=["python"], help=argparse.SUPPRESS)
    ap.add_argument("--registry", help=argparse.SUPPRESS)
    ap.add_argument("--csv", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv[1:])
    if args.side:
        run_python(args)
        return 0
    if args.serving:
        return serving(args)
    if not args.cycle_from_c:
        ap.error("--cycle-from-c is required (meson builds it in build/tests/bench/)")
    import herd
    with tempfile.TemporaryDirectory(prefix="python-bench-") as tmp:
        csv = []
        t = time.perf_counter()
        for week in range(1, args.weeks + 1):
            path = os.path.join(tmp, "week%d.csv" % week)
            generate(args.groups, args.rows, week).to_csv(path, index=False)
            csv.append(path)
        print("data: %d groups, %d week(s) (%d rows per group in week 1, %d in week 2), written "
              "in %.1f s" % (args.groups, args.weeks, args.rows, args.rows + 10,
                             time.perf_counter() - t), flush=True)
        opts = options(args)
        runs = {"c": [], "python": []}
        for r in range(args.repeat):
            for side in (("c", "python") if r % 2 == 0 else ("python", "c")):
                reg = os.path.join(tmp, "reg-%s-%d" % (side, r))
                if side == "c":
                    cmd = [args.cycle_from_c, reg, "store"] + csv + ["--"] + c_arguments(opts)
                else:
                    cmd = [sys.executable, os.path.abspath(__file__), "--side", "python",
                           "--registry", reg, "--rounds", str(args.rounds), "--threads",
                           str(args.threads), "--csv"] + csv
                out = subprocess.run(cmd, capture_output=True, text=True,
                                     env=dict(os.environ, HERD_LIBRARY=herd.library_path))
                if out.returncode:
                    sys.stderr.write(out.stderr)
                    return 1
                res = json.loads(out.stdout.strip().splitlines()[-1])
                res["total"] = sum(res["seconds"])
                runs[side].append(res)
                print("  %-6s run %d: %s s" % (side, r + 1,
                                              " + ".join("%.2f" % s for s in res["seconds"])),
                      flush=True)
        c = statistics.median(x["total"] for x in runs["c"])
        py = statistics.median(x["total"] for x in runs["python"])
        c_cpu = statistics.median(sum(x["cpu_seconds"]) for x in runs["c"])
        py_cpu = statistics.median(sum(x["cpu_seconds"]) for x in runs["python"])
        binding = _binding_figures(runs["python"])
        same = _same_registries(os.path.join(tmp, "reg-c-0"), os.path.join(tmp, "reg-python-0"))
        print("%d cycle(s) of %d groups, median of %d: C %.2f s, Python %.2f s: Python / C = %.3f "
              "(target <= 1.05); CPU time C %.2f s, Python %.2f s: %.3f"
              % (args.weeks, args.groups, args.repeat, c, py, py / c, c_cpu, py_cpu,
                 py_cpu / c_cpu))
        print("the binding's own work per run (median): %.3f s before the C calls, %.3f s after "
              "them, %.3f s in %d progress and %d log callbacks: %.2f%% of C's time (grouping, "
              "timed on both sides, %.3f s)"
              % (binding["binding_before_s"], binding["binding_after_s"],
                 binding["callbacks_s"], binding["progress_calls"], binding["log_calls"],
                 100 * binding["binding_s"] / c, binding["c_groups_s"]))
        print(json.dumps(dict({"groups": args.groups, "weeks": args.weeks, "rows": args.rows,
                               "rounds": args.rounds,
                               "threads": args.threads, "repeat": args.repeat, "c_s": c,
                               "python_s": py, "python_vs_c": py / c, "c_cpu_s": c_cpu,
                               "python_cpu_s": py_cpu, "python_vs_c_cpu": py_cpu / c_cpu,
                               "binding_vs_c": binding["binding_s"] / c},
                              **binding, same_decisions=same, runs=runs)))
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
