"""The weekly cycle on a real dask.distributed.LocalCluster with 2 worker
processes: the same decisions, versions and model bytes as one process,
and a worker killed mid-run adds no duplicate version."""

import os
import signal

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster, as_completed, wait

import herd
import herd.dask
from conftest import make_sales

OPTIONS = dict(family="demand", features=["price", "promo"], label="sales",
               holdout_order_by="week", holdout_periods=8, rounds=10, threads=1,
               compare={"min_rel_delta": 0.01, "bootstrap": 200, "force": True})


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def _weeks(groups=12):
    return make_sales(groups=groups, weeks=60, seed=0), \
        make_sales(groups=groups, weeks=80, seed=1, shift=0.3)


def _registry_state(reg):
    """Every version with its aliases, metrics and model bytes."""
    found = reg.search(family="demand").sort_values(["group", "version"]).reset_index(drop=True)
    models = []
    for _, row in found.iterrows():
        with reg.load("demand", row["group"], row["version"]) as a, a.model() as m:
            models.append(m.save())
    return found[["group", "version", "aliases", "metrics", "fingerprint", "run_id",
                  "idempotency_key"]], models


def _same_decisions(a, b):
    cols = ["group", "decision", "reason", "champion_version", "challenger_version",
            "promoted"]
    pd.testing.assert_frame_equal(a.decisions[cols], b.decisions[cols])
    np.testing.assert_allclose(a.decisions["challenger_metric"], b.decisions["challenger_metric"])
    np.testing.assert_allclose(a.decisions["delta_ci_low"], b.decisions["delta_ci_low"])


def test_a_dask_cycle_equals_the_single_process_cycle(client, tmp_path):
    week1, week2 = _weeks()
    with herd.Registry(tmp_path / "one") as one, herd.Registry(tmp_path / "dask") as dist:
        for run_id, df in (("W1", week1), ("W2", week2)):
            a = one.cycle(df, by="store", run_id=run_id, **OPTIONS)
            b = herd.dask.cycle(client, df, dist, by="store", run_id=run_id, partitions=5,
                                **OPTIONS)
            _same_decisions(a, b)
        assert b.counts()["promote"] >= 1           # week 2 compared real champions
        frame_one, models_one = _registry_state(one)
        frame_dask, models_dask = _registry_state(dist)
        pd.testing.assert_frame_equal(frame_one, frame_dask)
        assert models_one == models_dask            # byte for byte
        moves = ["commit", "group", "alias", "from_version", "to_version", "reason"]
        pd.testing.assert_frame_equal(
            one.history("demand")[moves].sort_values(moves[:3]).reset_index(drop=True),
            dist.history("demand")[moves].sort_values(moves[:3]).reset_index(drop=True))


def test_the_family_fallback_and_a_dask_dataframe(client, tmp_path):
    import dask.dataframe as dd
    week1, _ = _weeks(groups=8)
    with herd.Registry(tmp_path / "one") as one, herd.Registry(tmp_path / "dask") as dist:
        a = one.cycle(week1, by="store", run_id="W1", fallback=True, **OPTIONS)
        b = herd.dask.cycle(client, week1, dist, by="store", run_id="W1", fallback=True,
                            **OPTIONS)
        _same_decisions(a, b)
        assert b.decisions["group"].iloc[-1] == herd.FALLBACK_GROUP
    with herd.Registry(tmp_path / "ddf") as reg:
        c = herd.dask.cycle(client, dd.from_pandas(week1, npartitions=3), reg, by="store",
                            run_id="W1", **OPTIONS)
        assert c.counts()["first"] == 8
        with pytest.raises(herd.InvalidError, match="fallback"):
            herd.dask.cycle(client, dd.from_pandas(week1, npartitions=3), reg, by="store",
                            run_id="W2", fallback=True, **OPTIONS)


def test_a_worker_killed_mid_run_adds_no_duplicate_version(client, tmp_path):
    week1, week2 = _weeks(groups=24)
    with herd.Registry(tmp_path / "one") as one:
        one.cycle(week1, by="store", run_id="W1", **OPTIONS)
        expect = one.cycle(week2, by="store", run_id="W2", **OPTIONS)
        expect_state = _registry_state(one)
    with herd.Registry(tmp_path / "dist") as reg:
        herd.dask.cycle(client, week1, reg, by="store", run_id="W1", **OPTIONS)
        opts = dict(OPTIONS, run_id="W2", models="groups")
        futures = []
        for keys, rows in herd.dask.split_groups(week2, "store", 8)[1]:
            with reg.champions("demand", groups=keys) as champs:
                futures.append(client.submit(herd.dask._train_task, week2.iloc[rows],
                                             ["store"], champs.to_bytes(), opts, pure=False))
        wait(futures, return_when="FIRST_COMPLETED")
        # Kill a worker process that holds results or is running tasks: Dask
        # runs its tasks again on the other one (or the nanny's new worker).
        pids = client.run(os.getpid)
        holders = {w for f in futures for w in client.who_has([f]).get(f.key, ())}
        assert holders, "a finished task's result is on a worker"
        victim = next(iter(holders))  # its results are lost: Dask runs those tasks again
        os.kill(pids[victim], signal.SIGKILL)
        parts = [f.result() for f in as_completed(futures)]
        assert pids[victim] not in client.run(os.getpid).values()  # it really died
        committer = {k: v for k, v in OPTIONS.items() if k != "threads"}
        with reg.cycle_begin(**dict(committer, run_id="W2")) as run:
            for p in parts:
                run.add(p)
            run.add(parts[0])                          # a task delivered twice
            got = run.commit()
        got.decisions = got.decisions.sort_values("group").reset_index(drop=True)
        _same_decisions(expect, got)
        state = _registry_state(reg)
        pd.testing.assert_frame_equal(state[0], expect_state[0])
        assert state[1] == expect_state[1]
        assert reg.families()["versions"].tolist() == [48]   # 24 groups x 2 runs

        # the whole run again, distributed: every version is already there
        again = herd.dask.cycle(client, week2, reg, by="store", run_id="W2", **OPTIONS)
        assert reg.families()["versions"].tolist() == [48]
        assert again.counts()["promote"] == 0


def test_parts_and_champions_as_bytes(tmp_path):
    week1, week2 = _weeks(groups=4)
    with herd.Registry(tmp_path / "reg") as reg:
        reg.cycle(week1, by="store", run_id="W1", **OPTIONS)
        with reg.champions("demand") as champs:
            assert len(champs) == 4
            blob = champs.to_bytes()
        with herd.train_part(week2, by="store", champions=blob,
                             **dict(OPTIONS, run_id="W2")) as part:
            report = part.report
            assert report["champion_version"].tolist() == [1, 1, 1, 1]
            with herd.Artifact.from_bytes(part.artifact(0)) as a:
                assert a.group == "S000" and a.run_id == "W2"
            data = part.to_bytes()
        with pytest.raises(herd.CorruptError):
            herd.CyclePart.from_bytes(data[:-5])
        with pytest.raises(herd.FormatError):
            herd.Champions.from_bytes(b"x" * 64)
        committer = {k: v for k, v in OPTIONS.items() if k != "threads"}
        with pytest.raises(herd.InvalidError):   # trained for another run
            with reg.cycle_begin(**dict(committer, run_id="W3")) as run:
                run.add(data)
