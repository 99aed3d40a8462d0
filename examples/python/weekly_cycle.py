#!/usr/bin/env python3
"""weekly_cycle.py -- the demo's two weeks (examples/demo.c), from Python.

Two weeks in the life of a retailer with 400 products.  Weekly sales (one
row per product and week: price, promo, season, competitor, demand) are
generated with the demo's own generator, written as CSV and read back with
herd's reader; then the weekly cycle runs on the registry: each product's
latest weeks are held out, one XGBoost model per product is trained on the
rest, every model is registered as its product's challenger in one batch, a
family model is trained on all products as a fallback, and each challenger
is compared with its champion on the held-out weeks.  Week 1 has no
champions yet; 26 weeks later a competitor has opened next to a quarter of
the products, their new models win and are promoted, most others keep their
champions.  Finally every row is predicted from the registry.  Running it
again changes nothing: each week's run is registered once.

usage: python3 examples/python/weekly_cycle.py [DIR [REGISTRY]]
       (defaults: ./herd-demo, created if missing; ./herd-registry)
"""

import logging
import math
import os
import sys
import time

import numpy as np
import pandas as pd

try:
    import herd
except ImportError:  # run from a source tree: use the package in place
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "bindings", "python"))
    import herd

PRODUCTS = 400
MIN_WEEKS, MAX_WEEKS = 80, 156
NEW_WEEKS = 26      # between the two cycles
NEW_PRODUCTS = 3    # launched between them
MASK = (1 << 64) - 1


class Uniform:
    """The demo's generator (a 64-bit LCG), so that the rows are the C demo's."""

    def __init__(self, seed):
        self.state = seed & MASK

    def __call__(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.state >> 11) / 9007199254740992.0


def drifts(product):
    return product % 4 == 0


def generate(extra):
    """Weekly sales; `extra` more weeks per product, in which a competitor
    opens next to every fourth product."""
    rows = []
    for p in range(PRODUCTS):
        u = Uniform(42 + 7919 * p)
        weeks = MIN_WEEKS + int(u() * (MAX_WEEKS - MIN_WEEKS))
        base, elasticity = 20 + 80 * u(), 0.5 + 1.5 * u()
        for w in range(weeks + extra):
            price = 5 + 5 * u()
            promo = 1.0 if u() < 0.15 else 0.0
            season = math.sin(2 * math.pi * w / 52.0)
            competitor = 1.0 if w >= weeks and drifts(p) else 0.0
            level = 0.6 * base if competitor else base
            e = 1.5 * elasticity if competitor else elasticity
            demand = (level * (1 + 0.3 * season) * (price / 7.5) ** -e * (1 + 0.5 * promo) *
                      (0.9 + 0.2 * u()))
            rows.append(("sku_%04d" % p, w, price, promo, season, competitor, demand))
    for p in range(NEW_PRODUCTS if extra else 0):
        u = Uniform(4242 + p)
        for w in range(5):
            price, season = 5 + 5 * u(), math.sin(2 * math.pi * w / 52.0)
            demand = 50 * (price / 7.5) ** -1 * (0.9 + 0.2 * u())
            rows.append(("new_%02d" % p, w, price, 0.0, season, 0.0, demand))
    return pd.DataFrame(rows, columns=["product", "week", "price", "promo", "season",
                                       "competitor", "demand"])


CYCLE = dict(
    family="demand", by="product",
    features=["price", "promo", "season", "competitor"], label="demand",
    rounds=200, early_stopping_rounds=10,
    split="last", valid_order_by="week",       # early stopping on the latest training weeks
    holdout_fraction=0.1, holdout_order_by="week",  # each product's latest 10% of rows
    fallback=True,                             # and a family model for new products
    compare={"min_rel_delta": 0.05,            # a challenger must be 5% better...
             "bootstrap": 1000},               # ... and surely so
)


def run_week(reg, df, run_id):
    t0 = time.time()
    try:
        result = reg.cycle(df, run_id=run_id, **CYCLE)
    except herd.RefusedError as e:  # the promotion cap: nothing moved
        print("%s: %s" % (run_id, e))
        result = e.result
    d = result.decisions
    print("\n%s: fit %d products and a family model, register, compare, promote: %.2f s"
          % (run_id, df["product"].nunique(), time.time() - t0))
    print("decisions       " + " ".join("%s %d" % kv for kv in result.counts().items()))
    for decision in ("promote", "keep", "first", "skipped", "failed", "refused"):
        rows = d[d["decision"] == decision]
        if len(rows):
            print("  e.g. %-8s %s: %s" % (decision, rows["group"].iloc[0], rows["reason"].iloc[0]))
    promoted = d[(d["decision"] == "promote") & (d["promoted"] == 1)]["group"]
    if len(promoted):
        competitor = sum(1 for g in promoted if g.startswith("sku_") and drifts(int(g[4:])))
        print("  %d of the %d promoted products have a new competitor"
              % (competitor, len(promoted)))
    for _, row in result.summary.dropna(subset=["median_delta"]).iterrows():
        print("  median rmse change (%s): %.3f" % (row["decision"], row["median_delta"]))


def main(argv):
    directory = argv[1] if len(argv) > 1 else "herd-demo"
    registry = argv[2] if len(argv) > 2 else "herd-registry"
    os.makedirs(directory, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="herd: %(message)s")
    print("herd %s (Python): two weeks of demand models for %d products\n"
          % (herd.library_version, PRODUCTS))

    csv = os.path.join(directory, "sales.csv")
    generate(0).to_csv(csv, index=False)
    print("wrote %s" % csv)
    t0 = time.time()
    week1 = herd.read_csv(csv)                 # herd's strict reader, into pandas
    print("rows            %d\nread CSV        %.3f s" % (len(week1), time.time() - t0))

    with herd.Registry(registry) as reg:
        run_week(reg, week1, "demo-week-1")
        week2 = generate(NEW_WEEKS)
        print("\n%d weeks later: a competitor opened next to a quarter of the products, "
              "which now sell 40%% less" % NEW_WEEKS)
        run_week(reg, week2, "demo-week-2")

        t0 = time.time()
        pred = reg.predict(week2, family="demand", fallback=True, return_frame=True)
        print("\npredicted       %d rows from the champions in %.2f s (%d by the family model, "
              "%d without a model)" % (len(pred), time.time() - t0, int(pred["fallback"].sum()),
                                       int(pred["prediction"].isna().sum())))
        fam = reg.families()
        print("registry        %s: %d versions of %d groups in family 'demand'"
              % (reg.path, fam["versions"][0], fam["groups"][0]))
        for _, h in reg.history("demand", "sku_0000", "champion").iterrows():
            print("  sku_0000 champion %d -> %d at %s: %s"
                  % (h["from_version"], h["to_version"], h["time"], h["reason"]))
        print("  e.g. herd:demand/sku_0000@champion; re-running changes nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
