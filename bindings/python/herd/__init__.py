"""herd: one XGBoost model per group, trained in parallel, kept in an
embedded, crash-safe registry -- from pandas.

    import herd
    res = herd.fit(df, by=["store", "item"], features=["price", "promo"],
                   label="sales", params={"max_depth": 6}, rounds=200)
    res.report                              # one row per group
    reg = herd.Registry("models/")
    reg.cycle(df, family="demand", run_id="2026-W49", by=["store", "item"],
              features=["price", "promo"], label="sales",
              holdout_order_by="week", holdout_periods=8)
    pred = reg.predict(df, family="demand")  # aligned with df

A thin ctypes binding of libherd's public C API (include/herd.h).  The
library is found through $HERD_LIBRARY, beside this package, the source
tree's build directory, then the system loader.  Options are keyword
arguments named as in libherd's option table; help(herd.fit) lists them.
Log records go to the logger "herd"; progress shows with tqdm when it is
installed.  docs/python.md is the guide.
"""

from ._errors import (BudgetError, BusyError, CanceledError, ConflictError, CorruptError, Error,
                      ExistsError, FileIOError, FormatError, InternalError, InvalidError,
                      LimitError, NotFoundError, OutOfMemoryError, RefusedError,
                      WrongTypeError, XGBoostError)
from ._lib import LibraryError, lib as _cdll
from ._handle import live_handles
from ._frame import Frame
from ._options import table as options_table
from ._api import (Artifact, Batch, CycleResult, FitResult, Model, Predictor, Registry, Skip,
                   apply, default_threads, fit, metric, read_csv)
from ._stages import Champions, CyclePart, CycleRun, train_part

__version__ = "0.2.0"
library_version = _cdll.herd_version_string().decode()
library_path = _cdll.herd_path

FALLBACK_GROUP = "__all__"

__all__ = [
    "fit", "apply", "read_csv", "metric", "default_threads", "options_table", "live_handles",
    "Registry", "Batch", "FitResult", "Model", "Predictor", "Artifact", "CycleResult", "Frame",
    "Skip", "Champions", "CyclePart", "CycleRun", "train_part", "Error", "InvalidError", "OutOfMemoryError", "FileIOError", "FormatError",
    "NotFoundError", "ExistsError", "WrongTypeError", "LimitError", "XGBoostError",
    "CanceledError", "CorruptError", "BusyError", "BudgetError", "InternalError",
    "ConflictError", "RefusedError", "LibraryError", "FALLBACK_GROUP", "library_version",
    "library_path",
]
