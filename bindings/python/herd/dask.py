"""The weekly cycle on a Dask cluster.

    from dask.distributed import Client
    import herd, herd.dask

    client = Client("scheduler:8786")
    with herd.Registry("models/") as reg:
        result = herd.dask.cycle(client, df, reg, by=["store", "item"], family="demand",
                                 run_id="2026-W49", features=[...], label="sales",
                                 holdout_order_by="week", holdout_periods=8)

The driver splits the groups into tasks (whole groups, balanced by rows)
and hands each task the champions of its groups as bytes; each worker
trains and evaluates its share with herd.train_part and returns the part's
bytes; the driver adds each part to the run as it arrives and commits once
(register, decide, promote).  The decisions, versions and model bytes are
those of Registry.cycle on the same data, and a task Dask runs twice (a
worker lost and its task retried) adds nothing twice: versions carry the
idempotency key FAMILY/RUN_ID/GROUP.  Workers need the herd package and
libherd, not the registry.
"""

import numpy as np
import pandas as pd

from . import _errors, _options
from ._api import Groups, Registry, _as_list
from ._frame import Frame
from ._stages import CycleRun, registry_champions, train_part

FALLBACK_GROUP = "__all__"


def _train_task(df, by, champions, options):
    """What a worker runs: one share of the groups, returned as bytes."""
    with train_part(df, by=by, champions=champions, progress=False, **options) as part:
        return part.to_bytes()


def _keys_task(df, by):
    """herd's keys of the groups of one partition (a dask DataFrame's)."""
    with Frame(df, by) as frame, Groups(frame, by) as groups:
        return groups.keys()


def split_groups(df, by, n_parts):
    """Split the rows of `df` into at most n_parts shares of whole groups,
    balanced by rows (largest group first onto the lightest share).
    Returns (every key in herd's group order, [(keys, row positions)]);
    rows with a missing key are left out, as herd leaves them out of every
    group."""
    by = _as_list(by, "by")
    with Frame(df, by) as frame, Groups(frame, by) as groups:
        keys = groups.keys()
        sizes = np.array([len(groups.rows(i)) for i in range(len(keys))])
        n_parts = max(1, min(n_parts, len(keys)))
        load = np.zeros(n_parts, dtype=np.int64)
        members = [[] for _ in range(n_parts)]
        for i in np.argsort(-sizes, kind="stable"):
            j = int(np.argmin(load))
            members[j].append(int(i))
            load[j] += sizes[i]
        shares = []
        for m in members:
            if not m:
                continue
            m.sort()
            rows = np.sort(np.concatenate([groups.rows(i) for i in m]))
            shares.append(([keys[i] for i in m], rows))
    return keys, shares


def cycle(client, df, registry, *, by, family, run_id, partitions=None, fallback=False,
          **options):
    """Run the weekly cycle of `df` on the Dask cluster of `client`, and
    commit it to `registry` (a herd.Registry, or a path) from this process.

    df: a pandas DataFrame (the driver splits it into `partitions` shares of
    whole groups, default two per worker) or a dask DataFrame (shuffled by
    `by` so that each group lies in one partition; one task per partition;
    fallback needs a pandas DataFrame: the family model trains on every
    row).  Options are Registry.cycle's.  Returns a CycleResult; the
    promotion cap raises RefusedError with .result, as Registry.cycle."""
    by = _as_list(by, "by")
    own = not isinstance(registry, Registry)
    reg = Registry(registry) if own else registry
    try:
        options = dict(options, family=family, run_id=run_id, fallback=fallback)
        split = _options.split_kwargs(options, ["cycle", "fit", "apply"], "herd.dask.cycle")
        run = CycleRun(reg, **split["cycle"], **split["fit"])  # apply options: workers'

        with run:
            futures, order = _submit(client, df, reg, by, family, partitions, fallback, options)
            from distributed import as_completed
            for future in as_completed(futures):
                run.add(future.result())
            try:
                result = run.commit()
            except _errors.Error as e:
                if getattr(e, "result", None) is not None:
                    _in_group_order(e.result, order)
                raise
            return _in_group_order(result, order)
    finally:
        if own:
            reg.close()


def _in_group_order(result, order):
    """The decisions in herd's group order (the family model last), as
    Registry.cycle gives them, rather than in the order parts arrived."""
    if order is not None:
        pos = {k: i for i, k in enumerate(order)}
        rank = result.decisions["group"].map(lambda k: pos.get(k, len(pos)))
        result.decisions = result.decisions.iloc[np.argsort(rank.to_numpy(), kind="stable")] \
            .reset_index(drop=True)
    return result


def _submit(client, df, reg, by, family, partitions, fallback, options):
    """Submit the training tasks; returns (futures, herd's group order or
    None)."""
    group_opts = dict(options, models="groups")
    futures = []
    if isinstance(df, pd.DataFrame):
        if partitions is None:
            partitions = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        order, shares = split_groups(df, by, partitions)
        for keys, rows in shares:
            with registry_champions(reg, family, groups=keys) as champs:
                blob = champs.to_bytes()
            futures.append(client.submit(_train_task, df.iloc[rows], by, blob, group_opts,
                                         pure=False))
        if fallback:
            with registry_champions(reg, family, groups=[FALLBACK_GROUP]) as champs:
                blob = champs.to_bytes()
            futures.append(client.submit(_train_task, df, by, blob,
                                         dict(options, models="family"), pure=False))
        return futures, order
    if fallback:
        raise _errors.InvalidError(
            "herd.dask.cycle: fallback trains one family model on every row, which a dask "
            "DataFrame does not hold in one task; pass a pandas DataFrame, or run without "
            "fallback", -1, "HERD_EINVAL")
    ddf = df.shuffle(on=by, npartitions=partitions) if partitions else df.shuffle(on=by)
    parts = client.persist(ddf).to_delayed()
    key_lists = client.gather(client.compute([_delayed(_keys_task)(p, by) for p in parts]))
    for part, keys in zip(parts, key_lists):
        if not keys:
            continue
        with registry_champions(reg, family, groups=keys) as champs:
            blob = champs.to_bytes()
        futures.append(client.compute(_delayed(_train_task)(part, by, blob, group_opts)))
    return futures, None


def _delayed(fn):
    import dask
    return dask.delayed(fn, pure=True)


__all__ = ["cycle", "split_groups"]
