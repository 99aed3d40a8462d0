#!/usr/bin/python3
"""herd's Python peer: per-group XGBoost training the way a Python shop does it.

The benchmarks (fit_bench, csv_bench, registry_bench) measure herd against
this program in the same run, on the same rows and with the same XGBoost
parameters.  It does what a pandas user (or a Spark applyInPandas UDF on
each worker) writes: split the table with pandas groupby, train one booster
per group with the xgboost package, either in this process or in joblib
worker processes.

    /usr/bin/python3 tests/bench/peer.py --workload many --groups 5000 --jobs 2
    /usr/bin/python3 tests/bench/peer.py --workload seed --scale 0.1
    /usr/bin/python3 tests/bench/peer.py --workload skewed --groups 500 \\
        --write-csv data.csv --no-fit

Workloads (the data is synthetic, reproducible from --seed):
  many    --groups groups of exactly --rows rows each (many small models);
  skewed  Zipf-like group sizes, max(5, 20 * rows / rank^1.1): a few huge
          groups and a long tail of small ones;
  seed    10 groups over 10,000,000 * --scale rows with 2 features (few,
          large models: here XGBoost's own threads do the parallel work).
Every workload has a string key column `group` (g000000, g000001, ...),
float32 features f0..f{F-1} uniform in [0, 1) and a float32 `label` that is
a linear function of the features shared by all groups, plus a per-group
offset, plus Gaussian noise of standard deviation 0.1.

Each group trains on its first 80% of rows (in file order) and reports the
RMSE of its last 20%.  --write-csv saves the generated table first, so that
herd reads and trains on exactly these rows; --no-fit stops there.
--store DIR also writes each model the way a file-based model store (MLflow's
file store, for one) keeps registered versions: a folder per version with
the model file and a small meta.json, so end-to-end figures include
persistence.

The last line printed is one JSON object: impl, workload, groups, rows,
rounds, seconds (training only, from the groupby on), models_per_s and
rmse_mean (mean over the groups that had holdout rows).

Needs Debian's python3-numpy, python3-pandas, python3-xgboost and, for
--jobs above 1, python3-joblib.  Use /usr/bin/python3: another python3 on
PATH may not see Debian's packages.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

SEED_WORKLOAD_GROUPS = 10
SEED_WORKLOAD_ROWS = 10_000_000
SEED_WORKLOAD_FEATURES = 2
SKEW_EXPONENT = 1.1
SKEW_MIN_ROWS = 5
TRAIN_FRACTION = 0.8
NOISE_SD = 0.1

# The parameters herd's benchmarks pass to herd_fit as well (fit_bench's
# "baseline params" contender): keep the two in step.
XGB_PARAMS = {
    "objective": "reg:squarederror",
    "tree_method": "hist",
    "max_depth": 6,
    "eta": 0.3,
    "seed": 0,
}


def group_keys(workload, groups, rows, rng, scale):
    """Return (number of groups, the group index of every row)."""
    if workload == "seed":
        n = int(SEED_WORKLOAD_ROWS * scale)
        return SEED_WORKLOAD_GROUPS, rng.integers(0, SEED_WORKLOAD_GROUPS, n)
    if workload == "skewed":
        rank = np.arange(1, groups + 1)
        sizes = np.maximum(SKEW_MIN_ROWS, rows * 20 / rank ** SKEW_EXPONENT).astype(int)
        return groups, np.repeat(np.arange(groups), sizes)
    return groups, np.repeat(np.arange(groups), rows)


def generate(workload, groups, rows, features, seed, scale):
    """The benchmark table as a DataFrame, and the names of its features.

    The draws happen in a fixed order (keys, features, weights, offsets,
    noise) so that one seed always gives the same table."""
    rng = np.random.default_rng(seed)
    groups, key = group_keys(workload, groups, rows, rng, scale)
    if workload == "seed":
        features = SEED_WORKLOAD_FEATURES
    n = len(key)
    names = [f"f{j}" for j in range(features)]
    labels = np.array([f"g{k:06d}" for k in range(groups)])
    table = {"group": labels[key]}
    for name in names:
        table[name] = rng.random(n, dtype=np.float32)
    weights = rng.normal(size=features)
    offset = rng.normal(size=groups)[key]
    x = np.column_stack([table[name] for name in names])
    noise = NOISE_SD * rng.normal(size=n)
    table["label"] = (x @ weights + offset + noise).astype(np.float32)
    return pd.DataFrame(table), names


def store_model(root, group, raw, rmse, rows):
    """One registered version in a folder of its own, as a file store keeps it."""
    folder = os.path.join(root, "models", "demand", group, "version-1")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.ubj"), "wb") as f:
        f.write(raw)
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump({"name": group, "version": 1, "rmse": rmse, "rows": rows}, f)


def train_group(part, names, rounds, nthread, store):
    """Train one group's model; return (group, rows, model bytes, holdout RMSE)."""
    x = part[names].to_numpy(np.float32)
    y = part["label"].to_numpy(np.float32)
    n = len(part)
    cut = max(1, int(n * TRAIN_FRACTION))
    train = xgb.DMatrix(x[:cut], label=y[:cut], nthread=nthread)
    booster = xgb.train(dict(XGB_PARAMS, nthread=nthread), train, rounds)
    raw = booster.save_raw("ubj")
    rmse = float("nan")
    if cut < n:
        predicted = booster.predict(xgb.DMatrix(x[cut:], nthread=nthread))
        rmse = float(np.sqrt(np.mean((predicted - y[cut:]) ** 2)))
    group = part["group"].iloc[0]
    if store:
        store_model(store, group, raw, rmse, n)
    return group, n, len(raw), rmse


def train_all(parts, names, rounds, jobs, workload, store):
    """Train every group: joblib processes for many models, XGBoost threads
    for the few large models of the seed workload."""
    if workload != "seed" and jobs > 1:
        from joblib import Parallel, delayed
        work = (delayed(train_group)(p, names, rounds, 1, store) for p in parts)
        return Parallel(n_jobs=jobs, batch_size="auto")(work)
    nthread = max(1, jobs) if workload == "seed" else 1
    return [train_group(p, names, rounds, nthread, store) for p in parts]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=["many", "skewed", "seed"], default="many")
    ap.add_argument("--groups", type=int, default=5000, help="groups (not for seed)")
    ap.add_argument("--rows", type=int, default=200, help="rows per group (many) or the "
                    "size scale (skewed)")
    ap.add_argument("--features", type=int, default=5, help="feature columns (not for seed)")
    ap.add_argument("--rounds", type=int, default=50, help="boosting rounds per model")
    ap.add_argument("--jobs", type=int, default=1, help="joblib worker processes "
                    "(seed: XGBoost threads)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="seed workload: the fraction of 10,000,000 rows")
    ap.add_argument("--seed", type=int, default=42, help="random seed of the data")
    ap.add_argument("--write-csv", metavar="PATH", help="save the generated table as CSV")
    ap.add_argument("--no-fit", action="store_true", help="stop after --write-csv")
    ap.add_argument("--store", metavar="DIR", help="also persist every model under DIR")
    a = ap.parse_args(argv)
    for name in ("groups", "rows", "features", "rounds", "jobs"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be at least 1 (got {getattr(a, name)})")
    if not 0 < a.scale <= 100:
        ap.error(f"--scale must be in (0, 100] (got {a.scale})")
    if a.no_fit and not a.write_csv:
        ap.error("--no-fit only makes sense with --write-csv PATH")
    return a


def main(argv):
    a = parse_args(argv)
    table, names = generate(a.workload, a.groups, a.rows, a.features, a.seed, a.scale)
    if a.write_csv:
        table.to_csv(a.write_csv, index=False, float_format="%.9g")
    if a.no_fit:
        return 0
    start = time.perf_counter()
    parts = [part for _, part in table.groupby("group", sort=True)]
    results = train_all(parts, names, a.rounds, a.jobs, a.workload, a.store)
    seconds = time.perf_counter() - start
    rmses = [r[3] for r in results if not np.isnan(r[3])]
    impl = "pandas+xgboost" + (f"+joblib{a.jobs}" if a.jobs > 1 and a.workload != "seed"
                               else "")
    print(json.dumps({
        "impl": impl,
        "workload": a.workload,
        "groups": len(parts),
        "rows": len(table),
        "rounds": a.rounds,
        "seconds": round(seconds, 3),
        "models_per_s": round(len(parts) / seconds, 2),
        "rmse_mean": round(float(np.mean(rmses)), 5) if rmses else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
