"""The weekly cycle in two stages, for Dask, Spark or several machines.

Workers: herd.train_part(df, by=..., champions=bytes, **options) trains
their share of the groups, evaluates each model and each group's champion
on the group's holdout rows, and returns a CyclePart whose to_bytes() is
what a task sends back.  Committer: run = reg.cycle_begin(**options);
run.add(part_bytes) as parts arrive; run.commit() registers, decides and
promotes, with everything Registry.cycle guarantees (idempotent re-runs,
conditional promotions, the cap, rollbacks).  docs/python.md, "Dask and
Spark".
"""

import ctypes

from . import _errors, _options
from ._api import CycleResult, _as_list, _decided, _Job, _needed_fit_columns
from ._callbacks import sync_log_level
from ._frame import take_frame
from ._handle import Handle
from ._lib import (HERD_MISSING, ChampionsP, CyclePartP, CycleRunP, FrameP, c_char_p, c_size_t,
                   c_void_p, check, enc, lib, take_bytes)


class Champions(Handle):
    """Champion artifacts handed to workers: per group, a version and its
    artifact bytes (herd_champions).  Registry.champions() collects them;
    to_bytes() / from_bytes() carry them to a worker."""

    _free = lib.herd_champions_free
    _kind = "Champions"

    def __init__(self, ptr=None):
        if ptr is None:
            ptr = ChampionsP()
            check(lib.herd_champions_new(ctypes.byref(ptr)))
        self._adopt(ptr)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        ptr = ChampionsP()
        check(lib.herd_champions_read(data, len(data), ctypes.byref(ptr)))
        return cls(ptr)

    def add(self, group, version, artifact):
        data = bytes(artifact)
        check(lib.herd_champions_add(self._handle(), enc(str(group), "group"), int(version),
                                     data, len(data)))

    def to_bytes(self):
        data, n = c_void_p(), c_size_t()
        check(lib.herd_champions_to_buffer(self._handle(), ctypes.byref(data), ctypes.byref(n)))
        return take_bytes(data.value, n.value)

    def __len__(self):
        return lib.herd_champions_count(self._handle())


def registry_champions(reg, family, alias=None, groups=None):
    """The artifacts `alias` (default champion) points to in `family`, for
    the groups named (None: every group that has the alias)."""
    ptr = ChampionsP()
    if groups is None:
        check(lib.herd_registry_champions(reg._handle(), enc(family, "family"), enc(alias),
                                          None, 0, ctypes.byref(ptr)))
    else:
        keys = [enc(str(g), "group") for g in groups]
        arr = (c_char_p * len(keys))(*keys)
        check(lib.herd_registry_champions(reg._handle(), enc(family, "family"), enc(alias),
                                          arr, len(keys), ctypes.byref(ptr)))
    return Champions(ptr)


class CyclePart(Handle):
    """A worker's share of a cycle (herd_cycle_part): per group, the
    artifact bytes and the holdout evaluation of the model and of its
    champion.  .report is one row per group; to_bytes() is what a task
    returns to the committer."""

    _free = lib.herd_cycle_part_free
    _kind = "CyclePart"

    def __init__(self, ptr):
        self._adopt(ptr)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        ptr = CyclePartP()
        check(lib.herd_cycle_part_read(data, len(data), ctypes.byref(ptr)))
        return cls(ptr)

    def to_bytes(self):
        data, n = c_void_p(), c_size_t()
        check(lib.herd_cycle_part_to_buffer(self._handle(), ctypes.byref(data),
                                            ctypes.byref(n)))
        return take_bytes(data.value, n.value)

    def __len__(self):
        return lib.herd_cycle_part_count(self._handle())

    @property
    def report(self):
        out = FrameP()
        check(lib.herd_cycle_part_report(self._handle(), ctypes.byref(out)))
        return take_frame(out)

    def artifact(self, i):
        """The artifact bytes of the i-th group (None when it trained no
        model)."""
        data, n = c_void_p(), c_size_t()
        rc = check(lib.herd_cycle_part_artifact(self._handle(), i, ctypes.byref(data),
                                                ctypes.byref(n)))
        if rc == HERD_MISSING:
            return None
        return ctypes.string_at(data.value, n.value)  # owned by the part: copied


def train_part(df, *, by, champions=None, progress=False, **options):
    """The worker stage: train every group of `df` (whole groups: a group
    split across two workers would be two different models), evaluate each
    model and the group's champion (from `champions`: a Champions or its
    bytes) on the group's holdout rows, and package the artifacts.  No
    registry is needed.  Options: the cycle's, fit's and apply's, exactly
    those the committer's cycle_begin gets (models="groups" or "family"
    chooses what a task trains).  Returns a CyclePart."""
    owned = None
    if champions is not None and not isinstance(champions, Champions):
        champions = owned = Champions.from_bytes(champions)
    try:
        with _Job(df, by, _needed_fit_columns(options), ["cycle", "fit", "apply"], options,
                  "train_part", progress, "herd train") as job:
            out = CyclePartP()
            rc = lib.herd_cycle_train(job.groups._handle(), job.struct("fit"),
                                      job.struct("cycle"),
                                      None if champions is None else champions._handle(),
                                      job.struct("apply"), ctypes.byref(out))
            part = CyclePart(out) if out else None
            job.finish()
            if part is None:
                check(rc, "train_part")
            if rc < 0:
                err = _error(rc, "train_part")
                err.part = part
                raise err
            return part
    finally:
        if owned is not None:
            owned.close()


def _error(rc, what):
    try:
        check(rc, what)
    except _errors.Error as e:
        return e
    return _errors.Error(what)


class CycleRun(Handle):
    """The committer stage of one run (herd_cycle_run): add() each worker's
    part as it arrives (a part delivered twice adds nothing), then commit()
    once: register, decide, promote.  Returns a CycleResult."""

    _free = lib.herd_cycle_run_free
    _kind = "CycleRun"

    def __init__(self, registry, **options):
        self.registry = registry
        self._opts = []
        try:
            assigned = _options.split_kwargs(options, ["cycle", "fit"], "cycle_begin")
            fit = _options.build("fit", assigned["fit"])
            self._opts.append(fit)
            cycle = _options.build("cycle", assigned["cycle"])
            self._opts.append(cycle)
            ptr = CycleRunP()
            check(lib.herd_cycle_begin(registry._handle(), fit.struct(), cycle.struct(),
                                       ctypes.byref(ptr)))
        except BaseException:
            self._release()
            raise
        self._adopt(ptr)
        registry._batches.add(self)  # closed before the registry is
        self.added = 0

    def _release(self):
        for h in self._opts:
            h.close()
        self._opts = []
        if self.registry is not None:
            self.registry._batches.discard(self)
        self.registry = None

    def add(self, part):
        """Add a worker's part: a CyclePart or its bytes."""
        if isinstance(part, CyclePart):
            check(lib.herd_cycle_run_add(self._handle(), part._handle()))
        else:
            with CyclePart.from_bytes(part) as p:
                check(lib.herd_cycle_run_add(self._handle(), p._handle()))
        self.added += 1

    def commit(self):
        sync_log_level()
        d, s = FrameP(), FrameP()
        rc = lib.herd_cycle_run_commit(self._handle(), ctypes.byref(d), ctypes.byref(s))
        return _decided(rc, d, s, "cycle commit")


_options.document(train_part, ["cycle", "fit", "apply"])
_options.document(CycleRun.__init__, ["cycle", "fit"])

__all__ = ["Champions", "CyclePart", "CycleRun", "train_part", "registry_champions",
           "CycleResult", "_as_list"]
