#!/usr/bin/python3
"""A model trained by herd and exported as UBJSON and JSON loads in the
xgboost Python package (Debian's python3-xgboost) and predicts the same
values as herd.

usage: check_xgboost.py EXPORT_MODEL_PROGRAM
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import xgboost


def main():
    program = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([program, d], check=True)
        data = pd.read_csv(os.path.join(d, "data.csv"))
        want = pd.read_csv(os.path.join(d, "herd_pred.csv"))["prediction"].to_numpy()
        for name in ("model.ubj", "model.json"):
            booster = xgboost.Booster(model_file=os.path.join(d, name))
            names_ok = booster.feature_names == ["x0", "x1", "promo"]
            types_ok = booster.feature_types == ["float", "float", "int"]
            dm = xgboost.DMatrix(data.astype(np.float32), feature_names=booster.feature_names,
                                 feature_types=booster.feature_types)
            got = booster.predict(dm).astype(np.float64)
            # Both sides compute in float32; herd widens to double exactly.
            same = np.array_equal(got, want.astype(np.float32).astype(np.float64))
            ok = names_ok and types_ok and same and len(got) == len(want) > 0
            print(f"{name}: xgboost {xgboost.__version__}, {len(got)} rows, feature names "
                  f"{'ok' if names_ok else booster.feature_names}, types "
                  f"{'ok' if types_ok else booster.feature_types}, predictions "
                  f"{'identical' if same else 'DIFFER: max abs diff %g' % np.max(np.abs(got - want))}")
            failures += not ok
    print(f"{2 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
