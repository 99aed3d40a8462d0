#!/usr/bin/env python3
"""seed_reproduction.py -- the case that started herd, from Python.

10 product groups over 10 million rows with 2 features: train one model
per group, register every model, predict every row with its group's model.
Done twice on the same data, each in a fresh process so that its peak
memory is its own: with herd (herd.fit, one registry batch,
Registry.predict) and as a pandas user does it with the xgboost package
(groupby, xgb.train per group, a folder per model, predict per group).
Both train the same models (hist, max_depth 6, eta 0.3, the same rounds,
the same XGBoost threads) and report the same RMSE.

usage: python3 examples/python/seed_reproduction.py [--scale 1.0] [--rounds 50]
                                                    [--threads 2] [--repeat 1]
Prints a table, then one JSON line.  At full size each side needs about
1.5 GB; run it alone (docs/performance.md has the figures).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROWS = 10_000_000
GROUPS = 10
PARAMS = {"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 6, "eta": 0.3,
          "seed": 0}


def generate(scale, seed=42):
    """10 groups, 2 float32 features, a linear label with a per-group offset."""
    rng = np.random.default_rng(seed)
    n = int(ROWS * scale)
    key = rng.integers(0, GROUPS, n)
    table = {"product": pd.Categorical.from_codes(key, ["p%02d" % g for g in range(GROUPS)])}
    table["f0"] = rng.random(n, dtype=np.float32)
    table["f1"] = rng.random(n, dtype=np.float32)
    w = rng.normal(size=2)
    offset = rng.normal(size=GROUPS)[key]
    table["label"] = (table["f0"] * w[0] + table["f1"] * w[1] + offset +
                      0.1 * rng.normal(size=n)).astype(np.float32)
    return pd.DataFrame(table)


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_herd(df, rounds, threads, where):
    try:
        import herd
    except ImportError:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "bindings", "python"))
        import herd
    times = {}
    t = time.perf_counter()
    res = herd.fit(df, by="product", features=["f0", "f1"], label="label", rounds=rounds,
                   params={k: v for k, v in PARAMS.items() if k != "seed"}, seed=0,
                   valid_fraction=0, threads=threads, progress=False)
    times["train"] = time.perf_counter() - t
    t = time.perf_counter()
    with herd.Registry(os.path.join(where, "registry")) as reg:
        with reg.begin() as batch:
            for g in res.groups:
                with res.artifact(g, family="seed", run_id="seed-1") as a:
                    batch.add(a, alias="champion")
            batch.commit()
        res.close()
        times["register"] = time.perf_counter() - t
        t = time.perf_counter()
        pred = reg.predict(df, family="seed", by="product", threads=threads, progress=False)
        times["predict"] = time.perf_counter() - t
    return times, pred


def run_pandas(df, rounds, threads, where):
    import xgboost as xgb
    times = {}
    t = time.perf_counter()
    boosters = {}
    for key, part in df.groupby("product", observed=True, sort=True):
        d = xgb.DMatrix(part[["f0", "f1"]], label=part["label"], nthread=threads)
        boosters[key] = xgb.train(dict(PARAMS, nthread=threads), d, rounds)
    times["train"] = time.perf_counter() - t
    t = time.perf_counter()
    for key, booster in boosters.items():  # a folder per model, durable, as a file store
        folder = os.path.join(where, "models", "seed", key, "version-1")
        os.makedirs(folder)
        path = os.path.join(folder, "model.ubj")
        booster.save_model(path)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        with open(os.path.join(folder, "meta.json"), "w") as f:
            json.dump({"name": key, "version": 1, "alias": "champion"}, f)
            f.flush()
            os.fsync(f.fileno())
    times["register"] = time.perf_counter() - t
    t = time.perf_counter()
    pred = np.full(len(df), np.nan)
    for key, idx in df.groupby("product", observed=True).indices.items():
        booster = xgb.Booster(model_file=os.path.join(where, "models", "seed", key,
                                                      "version-1", "model.ubj"))
        booster.set_param({"nthread": threads})
        pred[idx] = booster.inplace_predict(df[["f0", "f1"]].iloc[idx])
    times["predict"] = time.perf_counter() - t
    return times, pred


def child(args):
    df = generate(args.scale)
    data = rss_mib()
    with tempfile.TemporaryDirectory(prefix="seed-") as where:
        t = time.perf_counter()
        times, pred = (run_herd if args.side == "herd" else run_pandas)(
            df, args.rounds, args.threads, where)
        total = time.perf_counter() - t
    rmse = float(np.sqrt(np.mean((pred - df["label"].to_numpy(np.float64)) ** 2)))
    print(json.dumps(dict(side=args.side, total=total, rmse=rmse, data_mib=data,
                          peak_mib=peak_mib(), **times)))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of 10,000,000 rows")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side (median shown)")
    ap.add_argument("--side", choices=["herd", "pandas"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv[1:])
    if args.side:
        child(args)
        return 0
    runs = {"herd": [], "pandas": []}
    for r in range(args.repeat):
        for side in (("herd", "pandas") if r % 2 == 0 else ("pandas", "herd")):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--side", side,
                                  "--scale", str(args.scale), "--rounds", str(args.rounds),
                                  "--threads", str(args.threads)],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.stderr.write(out.stderr)
                return 1
            runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "side"}
           for side, rs in runs.items()}
    h, p = med["herd"], med["pandas"]
    print("%d rows, %d groups, 2 features, %d rounds, %d threads, median of %d"
          % (int(ROWS * args.scale), GROUPS, args.rounds, args.threads, args.repeat))
    print("%-28s %12s %16s %8s" % ("", "herd", "pandas+xgboost", "ratio"))
    for k, label in (("train", "train, s"), ("register", "register, s"),
                     ("predict", "predict, s"), ("total", "total, s")):
        print("%-28s %12.2f %16.2f %7.2fx" % (label, h[k], p[k], p[k] / h[k]))
    print("%-28s %12.0f %16.0f %7.2fx" % ("peak memory, MiB", h["peak_mib"], p["peak_mib"],
                                          p["peak_mib"] / h["peak_mib"]))
    ph, pp = h["peak_mib"] - h["data_mib"], p["peak_mib"] - p["data_mib"]
    print("%-28s %12.0f %16.0f %7.2fx" % ("peak above the data, MiB", ph, pp, pp / ph))
    print("%-28s %12.6f %16.6f" % ("RMSE of the predictions", h["rmse"], p["rmse"]))
    print(json.dumps({"rows": int(ROWS * args.scale), "rounds": args.rounds,
                      "threads": args.threads, "herd": h, "pandas_xgboost": p,
                      "speedup_total": p["total"] / h["total"],
                      "memory_ratio": p["peak_mib"] / h["peak_mib"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
