"""What a Python user calls: fit, predict, the registry, the weekly cycle.

DataFrames in, DataFrames (or numpy arrays aligned with the input) out, one
call per job.  Keyword options come from libherd's option table (see
_options); the docstrings list them.
"""

import ctypes
import json
import traceback

import numpy as np
import pandas as pd

from . import _errors, _options
from ._callbacks import Progress, sync_log_level
from ._frame import Frame, take_columns, take_frame
from ._handle import Handle
from ._lib import (GROUP_FN, HERD_MISSING, HERD_OK, HERD_SKIP, MODEL_JSON, MODEL_UBJSON,
                   ArtifactP, BatchP, FitResultP, FrameP, GroupsP, ModelP, PredictorP,
                   RegistryP, c_char_p, c_double, c_int, c_int64, c_size_t, c_size_t_p,
                   c_uint64, c_void_p, check, dec, enc, lib, take_bytes, take_string)

# ---------------------------------------------------------------------------
# Frames and groups of a call
# ---------------------------------------------------------------------------


def _as_list(value, what):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError("%s must be a column name or a list of them, not %s"
                        % (what, type(value).__name__)) from None


def _columns_for(df, needed):
    """The columns a call passes to herd: every column it names, and every
    other numeric column (borrowed, so free) for predictions that look
    features up by name.  Object columns it does not name are left out, so
    an unrelated text column costs nothing and cannot fail the call."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError("herd needs a pandas DataFrame, not %s" % type(df).__name__)
    named = [c for c in needed if c is not None]
    missing = [c for c in named if c not in df.columns]
    if missing:
        raise _errors.NotFoundError(
            "no column %s in the DataFrame; its columns are %s"
            % (", ".join(repr(c) for c in dict.fromkeys(missing)),
               ", ".join(repr(str(c)) for c in df.columns)), -5, "HERD_ENOTFOUND")
    cols = list(dict.fromkeys(named))
    for c in df.columns:
        if c in cols or not isinstance(c, str):
            continue
        dt = df[c].dtype if df.columns.is_unique else None
        if dt is not None and (dt.kind in "fiub" or isinstance(dt, (pd.Int64Dtype,
                                                                    pd.Float64Dtype))):
            cols.append(c)
    if not df.columns.is_unique:
        dup = df.columns[df.columns.duplicated()].unique().tolist()
        raise _errors.ExistsError("the DataFrame has duplicate column names %s; herd needs "
                                  "unique names" % dup, -6, "HERD_EEXISTS")
    return cols


class Groups(Handle):
    """herd_groups over a Frame (which it keeps alive)."""

    _free = lib.herd_groups_free
    _kind = "Groups"

    def __init__(self, frame, by):
        self.frame = frame
        keys = [enc(k, "key column") for k in by]
        if not keys:
            raise _errors.InvalidError("give the key columns: by=[...] names at least one column",
                                       -1, "HERD_EINVAL")
        arr = (c_char_p * len(keys))(*keys)
        ptr = GroupsP()
        check(lib.herd_groups_new(frame._handle(), arr, len(keys), ctypes.byref(ptr)))
        self._adopt(ptr)

    def _release(self):
        self.frame = None

    def __len__(self):
        return lib.herd_groups_count(self._handle())

    def keys(self):
        h = self._handle()
        return [dec(lib.herd_groups_key(h, i)) for i in range(lib.herd_groups_count(h))]

    def rows(self, i):
        rows, n = c_size_t_p(), c_size_t()
        check(lib.herd_groups_rows(self._handle(), i, ctypes.byref(rows), ctypes.byref(n)))
        if not n.value:
            return np.empty(0, dtype=np.intp)
        return np.ctypeslib.as_array(rows, shape=(n.value,)).astype(np.intp)

    @property
    def missing(self):
        return lib.herd_groups_missing_count(self._handle())


class _Job:
    """The frame, groups and options handles of one call, closed together."""

    def __init__(self, df, by, needed, operations, kwargs, function, progress, what="herd"):
        self.handles = []
        self.progress = None
        by = _as_list(by, "by")
        try:
            assigned = _options.split_kwargs(kwargs, operations, function)
            self.options = {}
            for op in operations:
                self.options[op] = self._own(_options.build(op, assigned[op]))
            self.frame = self._own(Frame(df, _columns_for(df, by + list(needed))))
            self.groups = self._own(Groups(self.frame, by))
            if "apply" in self.options:
                self.progress = Progress(progress, what)
                self.options["apply"].set_progress("progress", self.progress.c_callback)
        except BaseException:
            self.close()
            raise
        sync_log_level()

    def _own(self, h):
        self.handles.append(h)
        return h

    def struct(self, op):
        return self.options[op].struct()

    def finish(self):
        if self.progress is not None:
            self.progress.finish()

    def close(self):
        if self.progress is not None:
            self.progress.close()
        for h in reversed(self.handles):
            h.close()
        self.handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _needed_fit_columns(kwargs):
    needed = _as_list(kwargs.get("features"), "features")
    for k in ("label", "weight", "valid_order_by", "holdout_order_by"):
        if kwargs.get(k) is not None:
            needed.append(kwargs[k])
    return needed


# ---------------------------------------------------------------------------
# Models, predictors, artifacts
# ---------------------------------------------------------------------------

_FORMATS = {"ubjson": MODEL_UBJSON, "ubj": MODEL_UBJSON, "json": MODEL_JSON}


class Model(Handle):
    """One XGBoost model with its feature names (herd_model).

    Model.load(bytes) reads XGBoost JSON or UBJSON (validated before
    XGBoost sees it); save("ubjson"|"json") writes bytes that
    xgboost.Booster loads and that predict the same values.
    """

    _free = lib.herd_model_free
    _kind = "Model"

    def __init__(self, ptr):
        self._adopt(ptr)

    @classmethod
    def load(cls, data):
        data = bytes(data)
        ptr = ModelP()
        check(lib.herd_model_load(data, len(data), ctypes.byref(ptr)))
        return cls(ptr)

    def save(self, format="ubjson"):
        fmt = _FORMATS.get(format)
        if fmt is None:
            raise _errors.InvalidError("model format %r: give 'ubjson' or 'json'" % (format,),
                                       -1, "HERD_EINVAL")
        data, n = c_void_p(), c_size_t()
        check(lib.herd_model_save(self._handle(), fmt, ctypes.byref(data), ctypes.byref(n)))
        return take_bytes(data.value, n.value)

    @property
    def features(self):
        h = self._handle()
        return [dec(lib.herd_model_feature_name(h, i))
                for i in range(lib.herd_model_feature_count(h))]

    @property
    def feature_types(self):
        h = self._handle()
        return [dec(lib.herd_model_feature_type(h, i))
                for i in range(lib.herd_model_feature_count(h))]

    @property
    def objective(self):
        return dec(lib.herd_model_objective(self._handle()))

    @property
    def n_outputs(self):
        return lib.herd_model_output_count(self._handle())

    def predict(self, df, threads=1):
        """Predictions for every row of `df` (features by name): a float64
        array, (rows, n_outputs) for multi-class models."""
        with Frame(df, _columns_for(df, self.features)) as frame:
            n = frame.n_rows
            k = self.n_outputs
            out = np.empty(n * k, dtype=np.float64)
            sync_log_level()
            check(lib.herd_model_predict(self._handle(), frame._handle(), None, n, threads,
                                         out.ctypes.data_as(ctypes.POINTER(c_double)), len(out)))
        return out if k == 1 else out.reshape(n, k)

    def predictor(self, nthread=1):
        """A prepared predictor of this model (loaded once, for serving)."""
        return Predictor(self, nthread=nthread)


class Predictor(Handle):
    """A model loaded once for fast repeated prediction (herd_predictor).

    predict_row(values) is the serving path: one row of feature values in
    the model's order (predictor.features), straight to
    herd_predictor_predict_dense with no frame, no lookup and no copy of a
    float64 array.  predict(df) takes rows of a DataFrame by feature name.
    Any number of threads may predict with one predictor at once.
    """

    _free = lib.herd_predictor_free
    _kind = "Predictor"

    def __init__(self, model, nthread=1):
        with _options.build("predictor", {"nthread": nthread}) as opt:
            ptr = PredictorP()
            check(lib.herd_predictor_new(model._handle(), opt.struct(), ctypes.byref(ptr)))
        self._adopt(ptr)
        self.features = [dec(lib.herd_predictor_feature_name(ptr, i))
                         for i in range(lib.herd_predictor_num_features(ptr))]
        self.n_features = len(self.features)
        self.n_outputs = lib.herd_predictor_num_outputs(ptr)
        self._dense = lib.herd_predictor_predict_dense

    def predict_row(self, values):
        """Predict one row: `values` in the model's feature order (a list,
        tuple or float64 array; NaN is missing).  Returns a float (or an
        array for multi-class models)."""
        if type(values) is not np.ndarray or values.dtype != np.float64 or \
                not values.flags.c_contiguous:
            values = np.ascontiguousarray(values, dtype=np.float64)
        if values.size != self.n_features:
            raise _errors.InvalidError(
                "predict_row: %d values for a model of %d features (%s)"
                % (values.size, self.n_features, ", ".join(self.features)), -1, "HERD_EINVAL")
        ptr = self._ptr
        if not ptr:
            self._handle()
        # One output buffer per call: threads share the predictor.
        if self.n_outputs == 1:
            out = c_double()
            rc = self._dense(ptr, values.__array_interface__["data"][0], 1, self.n_features,
                             ctypes.addressof(out), 1)
            if rc:
                check(rc)
            return out.value
        out = np.empty(self.n_outputs, dtype=np.float64)
        rc = self._dense(ptr, values.__array_interface__["data"][0], 1, self.n_features,
                         out.ctypes.data, self.n_outputs)
        if rc:
            check(rc)
        return out

    def predict(self, data):
        """Predict many rows: a DataFrame (features by name) or a 2-D array
        (rows x features in the model's order)."""
        if isinstance(data, pd.DataFrame):
            with Frame(data, _columns_for(data, self.features)) as frame:
                n = frame.n_rows
                out = np.empty(n * self.n_outputs, dtype=np.float64)
                check(lib.herd_predictor_predict(self._handle(), frame._handle(), None, n,
                                                 out.ctypes.data_as(ctypes.POINTER(c_double)),
                                                 len(out)))
        else:
            x = np.ascontiguousarray(data, dtype=np.float64)
            if x.ndim == 1:
                x = x.reshape(1, -1)
            if x.ndim != 2:
                raise _errors.InvalidError("predict: a 2-D array of rows is needed, got shape %s"
                                           % (x.shape,), -1, "HERD_EINVAL")
            n = x.shape[0]
            out = np.empty(n * self.n_outputs, dtype=np.float64)
            check(lib.herd_predictor_predict_dense(self._handle(), x.ctypes.data, n, x.shape[1],
                                                   out.ctypes.data, len(out)))
        return out if self.n_outputs == 1 else out.reshape(-1, self.n_outputs)


class Artifact(Handle):
    """A model and its metadata as one checksummed blob (herd_artifact).

    Artifact.from_bytes() validates everything (it never runs code: unlike a
    pickle, an artifact from elsewhere cannot execute anything)."""

    _free = lib.herd_artifact_free
    _kind = "Artifact"

    _FIELDS = ("format", "family", "group", "objective", "created", "herd_version",
               "xgboost_version", "run_id", "fingerprint")

    def __init__(self, ptr):
        self._adopt(ptr)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        ptr = ArtifactP()
        check(lib.herd_artifact_read(data, len(data), ctypes.byref(ptr)))
        return cls(ptr)

    @classmethod
    def read_file(cls, path):
        ptr = ArtifactP()
        check(lib.herd_artifact_read_file(enc(str(path), "path"), ctypes.byref(ptr)))
        return cls(ptr)

    @classmethod
    def from_model(cls, model, **options):
        with _options.build("artifact", options) as opt:
            ptr = ArtifactP()
            check(lib.herd_artifact_from_model(model._handle(), opt.struct(),
                                               ctypes.byref(ptr)))
        return cls(ptr)

    def to_bytes(self):
        data, n = c_void_p(), c_size_t()
        check(lib.herd_artifact_to_buffer(self._handle(), ctypes.byref(data), ctypes.byref(n)))
        return take_bytes(data.value, n.value)

    def write_file(self, path):
        check(lib.herd_artifact_write_file(self._handle(), enc(str(path), "path")))

    def get(self, field):
        """A string field of the metadata, or None when not recorded."""
        out = c_char_p()
        rc = check(lib.herd_artifact_get(self._handle(), enc(field, "field"), ctypes.byref(out)))
        return None if rc == HERD_MISSING else dec(out.value)

    def metric(self, name):
        """A recorded metric's value, or None when not recorded."""
        out = c_double()
        rc = check(lib.herd_artifact_metric(self._handle(), enc(name, "metric"),
                                            ctypes.byref(out)))
        return None if rc == HERD_MISSING else out.value

    @property
    def metadata(self):
        return json.loads(lib.herd_artifact_metadata(self._handle()).decode("utf-8"))

    def model(self):
        ptr = ModelP()
        check(lib.herd_artifact_model(self._handle(), ctypes.byref(ptr)))
        return Model(ptr)

    family = property(lambda self: self.get("family"))
    group = property(lambda self: self.get("group"))
    run_id = property(lambda self: self.get("run_id"))


# ---------------------------------------------------------------------------
# fit and grouped prediction
# ---------------------------------------------------------------------------


class FitResult(Handle):
    """The models of herd.fit, one per group, and their report.

    report: a DataFrame with one row per group (docs/results.md: group,
    status, message, rows, valid_metric, seconds, tree_method...).
    """

    _free = lib.herd_fit_result_free
    _kind = "FitResult"

    def __init__(self, ptr, by):
        self._adopt(ptr)
        self.by = by
        out = FrameP()
        check(lib.herd_fit_result_report(ptr, ctypes.byref(out)))
        self.report = take_frame(out)

    def __len__(self):
        return lib.herd_fit_result_count(self._handle())

    @property
    def groups(self):
        return list(self.report["group"])

    def model(self, group):
        """The model of `group` (None when the group trained none: the
        report says why); NotFoundError for a group the fit did not have."""
        ptr = ModelP()
        rc = check(lib.herd_fit_result_model(self._handle(), enc(str(group), "group"),
                                             ctypes.byref(ptr)))
        return None if rc == HERD_MISSING else Model(ptr)

    def artifact(self, group, **options):
        """The artifact of `group` (options: family, run_id, compression_level,
        group), or None when the group trained no model."""
        with _options.build("artifact", options) as opt:
            ptr = ArtifactP()
            rc = check(lib.herd_fit_result_artifact(self._handle(), enc(str(group), "group"),
                                                    opt.struct(), ctypes.byref(ptr)))
        return None if rc == HERD_MISSING else Artifact(ptr)

    def predict(self, df, by=None, *, progress=None, **options):
        """Predict every row of `df` with its group's model (NaN for rows of
        groups without one): a float64 array aligned with df."""
        by = by if by is not None else self.by
        with _Job(df, by, self._features(), ["apply"], options, "FitResult.predict",
                  progress) as job:
            out, without = FrameP(), c_size_t()
            rc = lib.herd_predict(job.groups._handle(), self._handle(), job.struct("apply"),
                                  ctypes.byref(out), ctypes.byref(without))
            pred = take_columns(out, "prediction")
            job.finish()
            check(rc)
        return pred

    def _features(self):
        for g in self.groups:
            m = self.model(g)
            if m is not None:
                with m:
                    return m.features
        return []


def fit(df, by, *, progress=None, **options):
    """Train one XGBoost model per group of `df` (a pandas DataFrame),
    grouped by the column(s) `by`.  Returns a FitResult: .report (one row
    per group), .model(key), .artifact(key), .predict(df).

        res = herd.fit(df, by=["store", "item"], features=["price", "promo"],
                       label="sales", params={"max_depth": 6}, rounds=200)

    progress: None shows tqdm bars on a terminal when tqdm is installed,
    False never, True always; a callable gets a dict per report and cancels
    by returning True.  Log records go to the logger "herd".
    """
    with _Job(df, by, _needed_fit_columns(options), ["fit", "apply"], options, "fit",
              progress, "herd fit") as job:
        out = FitResultP()
        rc = lib.herd_fit(job.groups._handle(), job.struct("fit"), job.struct("apply"),
                          ctypes.byref(out))
        result = FitResult(out, _as_list(by, "by")) if out else None
        job.finish()
        if result is None:
            check(rc, "fit")
        if rc < 0:
            err = _error_from(rc, "fit")
            err.result = result
            raise err
        return result


def _error_from(rc, what):
    try:
        check(rc, what)
    except _errors.Error as e:
        return e
    return _errors.Error(what)


def apply(df, by, fn, *, progress=None, **options):
    """Call fn(key, rows) for every group of `df` on herd's worker threads
    (rows: the group's sub-DataFrame, in frame order).  Returns (report,
    results): herd's report frame (group, rows, status, message, seconds,
    threads) and a dict key -> fn's return value.  An exception in fn fails
    that group only, with its traceback as the report's message; fn may
    return herd.SKIP (with a reason via raise herd.Skip("why")) to skip.
    fn runs with the GIL held, so it parallelises only what releases it
    (numpy, xgboost, herd itself)."""
    results = {}
    by_list = _as_list(by, "by")
    cols = list(df.columns)

    def call(task_p, _user):
        try:
            task = task_p.contents
            key = dec(task.key)
            rows = np.ctypeslib.as_array(task.rows, shape=(task.n_rows,)) if task.n_rows else []
            results[key] = fn(key, df.iloc[np.asarray(rows, dtype=np.intp)][cols])
            return HERD_OK
        except Skip as e:
            lib.herd_error_set(HERD_SKIP, enc(str(e) or "skipped by the callback"))
            return HERD_SKIP
        except BaseException:
            text = traceback.format_exc()
            lib.herd_error_set(-1, text.encode("utf-8", "replace")[-60000:])
            return -1

    c_fn = GROUP_FN(call)
    with _Job(df, by_list, [], ["apply"], options, "apply", progress, "herd apply") as job:
        out = FrameP()
        rc = lib.herd_apply(job.groups._handle(), c_fn, None, job.struct("apply"),
                            ctypes.byref(out))
        report = take_frame(out)
        job.finish()
        if rc < 0:
            err = _error_from(rc, "apply")
            err.report = report
            raise err
    return report, results


class Skip(Exception):
    """Raised by an apply() callback to skip its group (the message is the
    reason)."""


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------


class CycleResult:
    """What a cycle or a comparison decided: .decisions (one row per group:
    decision, reason, versions, metrics, promoted) and .summary (one row per
    decision)."""

    def __init__(self, decisions, summary):
        self.decisions = decisions
        self.summary = summary

    def counts(self):
        return dict(zip(self.summary["decision"], self.summary["groups"].astype(int)))

    def __repr__(self):
        return "<herd.CycleResult %s>" % ", ".join("%s=%d" % kv for kv in self.counts().items())


class Batch(Handle):
    """A registry write: add versions and alias moves, then commit() (all of
    it or nothing).  Use as a context manager; an uncommitted batch is
    abandoned when closed."""

    _free = lib.herd_batch_free
    _kind = "Batch"

    def __init__(self, registry):
        self.registry = registry
        ptr = BatchP()
        check(lib.herd_registry_begin(registry._handle(), ctypes.byref(ptr)))
        self._adopt(ptr)
        registry._batches.add(self)

    def _release(self):
        if self.registry is not None:
            self.registry._batches.discard(self)
        self.registry = None

    def add(self, artifact, **options):
        """Add a version holding `artifact` (an Artifact, or artifact bytes
        from a worker).  Options (family, group, run_id, idempotency_key,
        tags, metrics, alias) come from the C table.  Returns its index."""
        with _options.build("version", options) as opt:
            index = c_size_t()
            if isinstance(artifact, Artifact):
                check(lib.herd_batch_add(self._handle(), artifact._handle(), opt.struct(),
                                         ctypes.byref(index)))
            else:
                data = bytes(artifact)
                check(lib.herd_batch_add_bytes(self._handle(), data, len(data), opt.struct(),
                                               ctypes.byref(index)))
        return index.value

    def set_alias(self, family, group, alias, version, **options):
        with _options.build("alias", options) as opt:
            check(lib.herd_batch_set_alias(self._handle(), enc(family, "family"),
                                           enc(str(group), "group"), enc(alias, "alias"),
                                           int(version), opt.struct()))

    def archive(self, family, group, version, reason=None):
        check(lib.herd_batch_archive(self._handle(), enc(family, "family"),
                                     enc(str(group), "group"), int(version), enc(reason)))

    def set_run(self, run_id, params=None, summary=None):
        dump = lambda d: None if d is None else enc(d if isinstance(d, str) else json.dumps(d))
        check(lib.herd_batch_set_run(self._handle(), enc(run_id, "run_id"), dump(params),
                                     dump(summary)))

    def __len__(self):
        return lib.herd_batch_count(self._handle())

    def commit(self):
        sync_log_level()
        check(lib.herd_batch_commit(self._handle()), "commit")

    def version(self, index):
        """(version number, existed) of the index-th added version, after
        commit."""
        v, existed = c_int64(), c_int()
        check(lib.herd_batch_version(self._handle(), index, ctypes.byref(v),
                                     ctypes.byref(existed)))
        return v.value, bool(existed.value)


class Registry(Handle):
    """An embedded, crash-safe model registry in directory `path`.

        reg = herd.Registry("models/")
        reg.cycle(df, family="demand", run_id="2026-W49", by=["store", "item"],
                  features=[...], label="sales", holdout_order_by="week",
                  holdout_periods=8)
        reg.predict(df, family="demand")     # numpy array aligned with df

    Options (create, read_only, lock_timeout_ms, allow_damaged,
    predict_cache_bytes) come from the C table.
    """

    _free = lib.herd_registry_free
    _kind = "Registry"

    def __init__(self, path, **options):
        import weakref
        self._batches = weakref.WeakSet()
        with _options.build("registry", options) as opt:
            ptr = RegistryP()
            check(lib.herd_registry_open(enc(str(path), "path"), opt.struct(),
                                         ctypes.byref(ptr)))
        self._adopt(ptr)

    def close(self):
        """Close the registry (and any batch or cycle run still open on it)."""
        for batch in list(getattr(self, "_batches", ())):
            batch.close()
        super().close()

    @property
    def path(self):
        return dec(lib.herd_registry_path(self._handle()))

    def refresh(self):
        check(lib.herd_registry_refresh(self._handle()))

    def begin(self):
        return Batch(self)

    # --- the cycle in two stages (docs/python.md, "Dask and Spark") ------------

    def champions(self, family, alias=None, groups=None):
        """The artifacts `alias` (default champion) points to in `family`,
        for `groups` (None: every group that has it), to hand to workers:
        a herd.Champions, whose to_bytes() a task receives."""
        from ._stages import registry_champions
        return registry_champions(self, family, alias, groups)

    def cycle_begin(self, **options):
        """The committer stage of a distributed cycle: a herd.CycleRun taking
        the same cycle and fit options as the workers' train_part; add()
        their parts, then commit()."""
        from ._stages import CycleRun
        return CycleRun(self, **options)

    # --- the weekly cycle and champion / challenger -------------------------

    def cycle(self, df, *, by, progress=None, **options):
        """The weekly cycle in one call: hold out each group's latest rows,
        fit one model per group on the rest, register them as challengers
        (one batch, idempotent per run id), compare with the champions on
        the holdout and promote the winners (one commit).  Returns a
        CycleResult.  RefusedError (the promotion cap) and ConflictError
        carry the decisions in .result."""
        needed = _needed_fit_columns(options)
        with _Job(df, by, needed, ["cycle", "fit", "apply"], options, "cycle", progress,
                  "herd cycle") as job:
            d, s = FrameP(), FrameP()
            rc = lib.herd_cycle(self._handle(), job.groups._handle(), job.struct("fit"),
                                job.struct("cycle"), job.struct("apply"), ctypes.byref(d),
                                ctypes.byref(s))
            return _decided(rc, d, s, "cycle", job)

    def compare(self, df, *, by, progress=None, **options):
        """Compare every group's challenger with its champion on the rows of
        `df` and promote the winners (unless dry_run).  Returns a
        CycleResult."""
        needed = []
        for k in ("label", "weight", "holdout_order_by"):
            if options.get(k) is not None:
                needed.append(options[k])
        with _Job(df, by, needed, ["compare", "apply"], options, "compare", progress,
                  "herd compare") as job:
            d, s = FrameP(), FrameP()
            rc = lib.herd_compare(self._handle(), job.groups._handle(), job.struct("compare"),
                                  job.struct("apply"), ctypes.byref(d), ctypes.byref(s))
            return _decided(rc, d, s, "compare", job)

    def predict(self, df, *, family, by=None, alias="champion", fallback=False,
                return_frame=False, progress=None, **options):
        """Predict every row of `df` with its group's model at `alias`
        (fallback: the family model for groups without one).  Returns a
        float64 array aligned with df (NaN where no model), or with
        return_frame the frame with "version" and "fallback" per row.  `by`
        defaults to the key columns of the family's latest cycle run."""
        if by is None:
            by = self._key_columns(family)
        with _Job(df, by, [], ["registry_predict", "apply"],
                  dict(options, family=family, alias=alias, fallback=fallback),
                  "Registry.predict", progress, "herd predict") as job:
            out, without = FrameP(), c_size_t()
            rc = lib.herd_registry_predict(self._handle(), job.groups._handle(),
                                           job.struct("registry_predict"), job.struct("apply"),
                                           ctypes.byref(out), ctypes.byref(without))
            # The plain answer copies the prediction column(s) straight into
            # one array: no DataFrame of every column is built to drop it.
            frame = take_frame(out) if return_frame else take_columns(out, "prediction")
            job.finish()
            check(rc, "predict")
        if return_frame:
            frame.index = df.index
        return frame

    def _key_columns(self, family):
        runs = self.runs()
        for params in reversed(list(runs["params"])):
            try:
                p = json.loads(params) if params else {}
            except ValueError:
                continue
            if p.get("family") == family and p.get("data", {}).get("key_columns"):
                return p["data"]["key_columns"]
        raise _errors.InvalidError("predict: give by=[...]: family %r has no cycle run that "
                                   "records its key columns" % family, -1, "HERD_EINVAL")

    def rollback(self, family, group=None, alias=None, reason=None):
        """Move `alias` (default champion) of one group, or of every group
        of the family's last promotion, back.  Returns the groups moved."""
        out = FrameP()
        check(lib.herd_registry_rollback(self._handle(), enc(family, "family"),
                                         enc(None if group is None else str(group)),
                                         enc(alias), enc(reason), ctypes.byref(out)))
        return take_frame(out)

    # --- reading ---------------------------------------------------------------

    def _frame(self, fn, *args):
        out = FrameP()
        check(fn(self._handle(), *args, ctypes.byref(out)))
        return take_frame(out)

    def families(self):
        return self._frame(lib.herd_registry_families)

    def groups(self, family):
        return self._frame(lib.herd_registry_groups, enc(family, "family"))

    def versions(self, family, group):
        return self._frame(lib.herd_registry_versions, enc(family, "family"),
                           enc(str(group), "group"))

    def history(self, family, group=None, alias=None):
        """Alias moves, oldest first (group None: every group)."""
        return self._frame(lib.herd_registry_alias_history, enc(family, "family"),
                           enc(None if group is None else str(group)), enc(alias))

    def runs(self):
        return self._frame(lib.herd_registry_runs)

    def aliases(self, family, alias="champion"):
        return self._frame(lib.herd_registry_aliases, enc(family, "family"), enc(alias))

    def search(self, **options):
        """Versions matching every criterion given (family, group_pattern,
        tag_name, tag_value, metric, metric_min, metric_max, alias,
        include_archived, limit)."""
        with _options.build("search", options) as opt:
            return self._frame(lib.herd_registry_search, opt.struct())

    def resolve(self, family, group, alias="champion"):
        v = c_int64()
        check(lib.herd_registry_resolve(self._handle(), enc(family, "family"),
                                        enc(str(group), "group"), enc(alias, "alias"),
                                        ctypes.byref(v)))
        return v.value

    def load(self, family, group=None, version=None, alias=None):
        """An Artifact: by (family, group, version), by (family, group,
        alias), or by URI ("herd:demand/S001@champion") as the only
        argument."""
        ptr = ArtifactP()
        if group is None:
            check(lib.herd_registry_load_uri(self._handle(), enc(family, "uri"),
                                             ctypes.byref(ptr)))
        else:
            if version is None:
                version = self.resolve(family, group, alias or "champion")
            check(lib.herd_registry_load(self._handle(), enc(family, "family"),
                                         enc(str(group), "group"), int(version),
                                         ctypes.byref(ptr)))
        return Artifact(ptr)

    def check(self, *, progress=None, **options):
        """Verify every record, index chunk and artifact: the problems found
        (CorruptError naming the first, with .problems, when there are).

        deep=True also inflates and validates every stored model as loading
        would (a version added with check_model=False, or written by another
        program, may hold a model that never loads): one row per bad version.
        progress: as herd.fit's (phase "check"); a true return cancels
        (CanceledError)."""
        out = FrameP()
        prog = Progress(progress, "herd")
        try:
            with _options.build("check", options) as opt:
                opt.set_progress("progress", prog.c_callback)
                rc = lib.herd_registry_check_with(self._handle(), opt.struct(),
                                                  ctypes.byref(out))
            problems = take_frame(out)
            prog.finish()
        finally:
            prog.close()
        if rc < 0:
            err = _error_from(rc, "check")
            err.problems = problems
            raise err
        return problems

    def gc(self):
        """Reclaim archived versions' space; returns the bytes freed."""
        n = c_uint64()
        check(lib.herd_registry_gc(self._handle(), ctypes.byref(n)))
        return n.value


def _decided(rc, d, s, what, job=None):
    """The decisions of a cycle or comparison (frames converted and freed
    before anything is raised)."""
    result = CycleResult(take_frame(d), take_frame(s)) if d else None
    if job is not None:
        job.finish()
    if result is None:
        check(rc, what)
    if rc < 0:
        err = _error_from(rc, what)
        err.result = result
        raise err
    return result


# ---------------------------------------------------------------------------
# Small tools
# ---------------------------------------------------------------------------


def read_csv(path, **options):
    """Read a CSV file with herd's strict reader (RFC 4180, UTF-8; errors
    name the file, line and column) into a pandas DataFrame."""
    with _options.build("csv", options) as opt:
        out = FrameP()
        sync_log_level()
        check(lib.herd_frame_read_csv(enc(str(path), "path"), opt.struct(), ctypes.byref(out)))
    return take_frame(out)


def metric(name, label, pred, weight=None):
    """herd's value of metric `name` (rmse, mae, mape, auc, logloss...)."""
    y = np.ascontiguousarray(label, dtype=np.float64)
    p = np.ascontiguousarray(pred, dtype=np.float64)
    w = None if weight is None else np.ascontiguousarray(weight, dtype=np.float64)
    n = len(y)
    k = p.size // n if n else 1
    if p.size != n * k or (w is not None and len(w) != n):
        raise _errors.InvalidError("metric %r: %d labels, %d predictions%s" % (
            name, n, p.size, "" if w is None else ", %d weights" % len(w)), -1, "HERD_EINVAL")
    value = c_double()
    check(lib.herd_metric_eval(enc(name, "metric"), y.ctypes.data, p.ctypes.data,
                               None if w is None else w.ctypes.data, n, k,
                               ctypes.byref(value), None))
    return value.value


def default_threads():
    return lib.herd_default_threads()


_options.document(fit, ["fit", "apply"])
_options.document(apply, ["apply"])
_options.document(FitResult.predict, ["apply"])
_options.document(Registry.cycle, ["cycle", "fit", "apply"])
_options.document(Registry.compare, ["compare", "apply"])
_options.document(Registry.predict, ["registry_predict", "apply"],
                  skip=("family", "alias", "fallback"))
_options.document(Registry.search, ["search"])
_options.document(Registry.check, ["check"])
_options.document(Registry.__init__, ["registry"])
_options.document(Batch.add, ["version"])
_options.document(Batch.set_alias, ["alias"])
_options.document(read_csv, ["csv"])
