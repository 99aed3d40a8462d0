"""The registry and the weekly cycle from Python."""

import numpy as np
import pandas as pd
import pytest

import herd
from conftest import make_sales

CYCLE = dict(family="demand", by="store", features=["price", "promo"], label="sales",
             holdout_order_by="week", holdout_periods=8, rounds=10, threads=2)


def test_two_weeks_of_cycles(tmp_path):
    week1 = make_sales(seed=0)
    week2 = make_sales(seed=1, weeks=80, shift=0.5)
    with herd.Registry(tmp_path / "reg") as reg:
        r1 = reg.cycle(week1, run_id="2026-W01", **CYCLE)
        assert r1.counts()["first"] == 6
        assert r1.decisions["promoted"].tolist() == [1] * 6
        again = reg.cycle(week1, run_id="2026-W01", **CYCLE)  # a re-run adds nothing
        assert again.counts()["promote"] == 0
        assert reg.families()["versions"].tolist() == [6]
        r2 = reg.cycle(week2, run_id="2026-W02", compare={"min_rel_delta": 0.01, "force": True}, **CYCLE)
        assert set(r2.decisions["decision"]) <= {"promote", "keep"}
        assert r2.counts()["promote"] >= 1

        v = reg.versions("demand", "S000")
        assert v["version"].tolist() == [1, 2] and set(v["run_id"]) == {"2026-W01", "2026-W02"}
        hist = reg.history("demand", "S000", "champion")
        assert hist["to_version"].tolist()[0] == 1
        found = reg.search(family="demand", group_pattern="S00[0-2]", alias="champion")
        assert sorted(found["group"]) == ["S000", "S001", "S002"]
        runs = reg.runs()
        assert runs["run_id"].tolist() == ["2026-W01", "2026-W02"]

        pred = reg.predict(week2, family="demand")            # by: from the run
        assert pred.shape == (len(week2),) and not np.isnan(pred).any()
        frame = reg.predict(week2, family="demand", by="store", return_frame=True)
        assert (frame.index == week2.index).all() and set(frame["version"]) <= {1, 2}
        champions = reg.aliases("demand")
        for _, row in champions.iterrows():
            with reg.load("demand", row["group"], row["version"]) as a, a.model() as m:
                rows = (week2["store"] == row["group"]).to_numpy()
                np.testing.assert_allclose(pred[rows], m.predict(week2[rows]))

        promoted = r2.decisions[r2.decisions["promoted"] == 1]["group"].tolist()
        moved = reg.rollback("demand", reason="bad week")
        assert sorted(moved["group"]) == sorted(promoted)
        assert (moved["to_version"] == 1).all()
        assert reg.resolve("demand", promoted[0]) == 1
        with reg.load("herd:demand/S000@champion") as a:
            assert a.group == "S000"
        assert len(reg.check()) == 0


def test_batches_register_artifacts_and_bytes_idempotently(tmp_path):
    sales = make_sales()
    with herd.fit(sales, by="store", features=["price"], label="sales", rounds=5) as res, \
            herd.Registry(tmp_path / "reg") as reg:
        blobs = {}
        for g in res.groups:
            with res.artifact(g, family="f", run_id="r") as a:
                blobs[g] = a.to_bytes()
        for attempt in range(2):  # a retried task adds nothing the second time
            with reg.begin() as batch:
                idx = [batch.add(b, idempotency_key="r/" + g, alias="champion",
                                 tags={"source": "test"}) for g, b in blobs.items()]
                batch.set_run("r", params={"source": "test"})
                assert len(batch) == 6
                batch.commit()
                versions = [batch.version(i) for i in idx]
            assert all(v == (1, attempt == 1) for v in versions)
        assert reg.families()["versions"].tolist() == [6]
        with pytest.raises(herd.NotFoundError, match="nope"):
            reg.resolve("f", "nope")


def test_the_promotion_cap_raises_with_the_decisions(tmp_path):
    with herd.Registry(tmp_path / "reg") as reg:
        reg.cycle(make_sales(seed=0), run_id="w1", **CYCLE)
        with pytest.raises(herd.RefusedError, match="force") as e:
            reg.cycle(make_sales(seed=2, shift=3.0), run_id="w2", **CYCLE)
        assert set(e.value.result.decisions["decision"]) == {"refused"}


def test_check_deep_with_progress_and_cancel(tmp_path):
    with herd.Registry(tmp_path / "reg") as reg:
        reg.cycle(make_sales(seed=0), run_id="w1", **CYCLE)
        reports = []
        problems = reg.check(deep=True, progress=lambda d: reports.append(d) and False)
        assert len(problems) == 0
        assert reports and all(d["phase"] == "check" for d in reports)
        last = reports[-1]
        assert last["groups_done"] == last["groups_total"] > 0
        assert last["bytes_done"] == last["bytes_total"] > 0
        with pytest.raises(herd.CanceledError, match="cancelled by the progress callback"):
            reg.check(deep=True, progress=lambda d: True)
        with pytest.raises(herd.Error, match="deep"):
            reg.check(dep=True)   # an unknown option names the closest one
        assert "deep" in reg.check.__doc__


def test_registry_errors(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(herd.Error, match="file"):
        herd.Registry(tmp_path / "file")
    with pytest.raises(herd.NotFoundError):
        herd.Registry(tmp_path / "absent", create=False)
    with pytest.raises(herd.InvalidError, match="create"):
        herd.Registry(tmp_path / "x", create="perhaps")
    reg = herd.Registry(tmp_path / "reg")
    with pytest.raises(herd.InvalidError, match="family"):
        reg.cycle(make_sales(), run_id="w1", **dict(CYCLE, family="bad/name"))
    with pytest.raises(herd.InvalidError, match="group_patern.*group_pattern"):
        reg.search(group_patern="x")
    batch = reg.begin()
    reg.close()  # closes the batch it began too
    assert batch.closed and reg.closed
    with pytest.raises(herd.InvalidError, match="Registry is closed"):
        reg.versions("demand", "S000")
    with pytest.raises(herd.InvalidError, match="Batch is closed"):
        batch.commit()


def test_compare_alias_moves_archive_and_gc(tmp_path):
    week1 = make_sales(seed=0)
    with herd.Registry(tmp_path / "reg") as reg:
        reg.cycle(week1, run_id="w1", **CYCLE)
        dry = reg.compare(make_sales(seed=5), by="store", family="demand", label="sales",
                          dry_run=True)
        assert set(dry.decisions["decision"]) == {"keep"}  # the challenger is the champion
        with reg.begin() as batch:  # the champion must still be at version 1
            batch.set_alias("demand", "S000", "champion", 1, expect_version=2,
                            reason="test")
            with pytest.raises(herd.ConflictError, match="S000"):
                batch.commit()
        with reg.begin() as batch:
            batch.set_alias("demand", "S001", "champion", 0, reason="retire")
            batch.set_alias("demand", "S001", "challenger", 0, reason="retire")
            batch.commit()
        with reg.begin() as batch:
            batch.archive("demand", "S001", 1, reason="retired")
            batch.commit()
        assert reg.versions("demand", "S001")["status"].tolist() == ["archived"]
        assert reg.gc() > 0
        with pytest.raises(herd.NotFoundError):
            reg.load("demand", "S001", 1)


def test_read_csv_and_metric(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("store,x\nS1,1.5\nS2,abc\n")
    df = herd.read_csv(path)
    assert df["x"].tolist() == ["1.5", "abc"]
    forced = tmp_path / "f.csv"
    forced.write_text("store,x\nS1,1.5\nS2,abc\n")
    with pytest.raises(herd.FormatError, match=r"f\.csv:3.*'x'"):
        herd.read_csv(forced, types={"x": "float64"})
    assert herd.metric("rmse", [1.0, 2.0], [1.0, 4.0]) == pytest.approx(2 ** 0.5)
    with pytest.raises(herd.InvalidError, match="2 labels, 3 predictions"):
        herd.metric("rmse", [1.0, 2.0], [1.0, 4.0, 5.0])


def _read_value_by_value(ptr):
    """Every column of a C frame read row by row through the C API (the
    reference the binding's bulk conversion must match)."""
    import ctypes
    from herd._frame import column_data
    from herd._lib import TYPE_FLOAT32, TYPE_FLOAT64, TYPE_INT32, TYPE_INT64, TYPE_STRING, lib
    ctype = {TYPE_FLOAT64: ctypes.c_double, TYPE_FLOAT32: ctypes.c_float,
             TYPE_INT32: ctypes.c_int32, TYPE_INT64: ctypes.c_int64, TYPE_STRING: ctypes.c_void_p}
    n = lib.herd_frame_row_count(ptr)
    out = {}
    for col in range(lib.herd_frame_column_count(ptr)):
        htype = lib.herd_frame_column_type(ptr, col)
        data, stride, mask = column_data(ptr, col)
        values = []
        for i in range(n):
            v = ctype[htype].from_address(data + i * stride).value
            if htype == TYPE_STRING:
                v = ctypes.string_at(v).decode("utf-8") if v else None
            elif mask and not mask[i]:
                v = None
            values.append(v)
        out[lib.herd_frame_column_name(ptr, col).decode()] = values
    return out


def test_cycle_decisions_are_the_c_frames_values(tmp_path, monkeypatch):
    from herd import _api
    seen = []
    convert = _api.take_frame

    def take_frame_checked(ptr):
        reference = _read_value_by_value(ptr) if ptr else None
        frame = convert(ptr)
        seen.append((reference, frame))
        return frame

    monkeypatch.setattr(_api, "take_frame", take_frame_checked)
    week = make_sales(groups=40, seed=3)
    week["store"] = week["store"].str.replace("S0", "Zürich-")   # non-ASCII keys
    with herd.Registry(tmp_path / "reg") as reg:
        reg.cycle(week, run_id="W01", **CYCLE)
        reg.cycle(make_sales(groups=40, seed=4, shift=0.3).assign(
            store=week["store"]), run_id="W02", compare={"force": True}, **CYCLE)
    assert len(seen) == 4   # decisions and summary of each cycle
    for reference, frame in seen:
        assert list(frame.columns) == list(reference)
        for name, values in reference.items():
            got = [None if v is pd.NA else v for v in frame[name].tolist()]
            assert repr(got) == repr(values), name   # repr: NaN equals NaN, 1 differs from 1.0
    decisions = seen[2][1]
    assert len(decisions) == 40 and decisions["group"].str.startswith("Zürich-").all()
