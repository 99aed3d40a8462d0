#!/usr/bin/python3
"""Writes the small XGBoost 1.7 models that tests/unit/test_modelcheck.c and
the modelcheck fuzz corpus use.  Run once with Debian's python3-xgboost
(1.7.x) from this directory; the outputs are committed, so the tests need
neither Python nor XGBoost.  Deterministic: fixed data, nthread=1.

  reg3.ubj, reg3.json   3 trees of depth 2, regression, named features
  tiny.ubj              1 tree of 3 nodes (every-byte mutation tests)
  multiclass.ubj        multi:softprob, 3 classes x 2 rounds = 6 trees
  dart.ubj              booster=dart, 3 trees
  pruned.ubj            exact + gamma: the pruner leaves deleted nodes
"""
import numpy as np
import xgboost as xgb

assert xgb.__version__.startswith("1.7"), xgb.__version__

rng = np.random.default_rng(20240611)
X = rng.random((200, 3))
X[:, 2] = (X[:, 2] < 0.3).astype(float)
y = 2 * X[:, 0] - X[:, 1] + 3 * X[:, 2] + rng.normal(0, 0.3, 200)
names = ["x0", "x1", "promo"]
types = ["float", "float", "int"]


def dm(label):
    return xgb.DMatrix(X, label=label, feature_names=names, feature_types=types)


def train(params, label, rounds):
    p = {"nthread": 1, "seed": 1, "tree_method": "exact"}
    p.update(params)
    return xgb.train(p, dm(label), rounds)


def save(booster, name, fmt):
    with open(name, "wb") as f:
        f.write(booster.save_raw(fmt))


reg = train({"max_depth": 2}, y, 3)
save(reg, "reg3.ubj", "ubj")
save(reg, "reg3.json", "json")
save(train({"max_depth": 1}, y, 1), "tiny.ubj", "ubj")
cls = (X[:, 0] * 3).astype(int)
save(train({"max_depth": 2, "objective": "multi:softprob", "num_class": 3}, cls, 2),
     "multiclass.ubj", "ubj")
save(train({"max_depth": 2, "booster": "dart", "rate_drop": 0.3}, y, 3), "dart.ubj", "ubj")
save(train({"max_depth": 3, "gamma": 8.0}, y, 2), "pruned.ubj", "ubj")
