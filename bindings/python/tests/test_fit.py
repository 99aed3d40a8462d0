"""herd.fit, models, predictors and artifacts from Python; bad inputs."""

import inspect
import pydoc

import numpy as np
import pandas as pd
import pytest

import herd
from conftest import FIT, make_sales


def test_fit_reports_one_row_per_group_and_predicts_aligned(sales):
    res = herd.fit(sales, by="store", **FIT)
    with res:
        assert len(res) == 6
        assert res.report["status"].tolist() == ["ok"] * 6
        assert res.report["group"].tolist() == ["S%03d" % g for g in range(6)]
        shuffled = sales.sample(frac=1.0, random_state=1)
        pred = res.predict(shuffled)
        assert pred.shape == (len(sales),)
        # aligned with the rows given: each row predicted by its own group's model
        for g in ("S000", "S003"):
            rows = shuffled["store"] == g
            with res.model(g) as m:
                np.testing.assert_allclose(pred[rows.to_numpy()], m.predict(shuffled[rows]))
        assert np.corrcoef(pred, shuffled["sales"])[0, 1] > 0.9


def test_several_keys_and_integer_keys(sales):
    sales = sales.assign(region=np.where(sales["store"] < "S003", "north", "south"),
                         n=sales["store"].str[1:].astype(int))
    with herd.fit(sales, by=["region", "n"], **FIT) as res:
        assert res.report["group"].tolist()[0] == "north|0"
    with herd.fit(sales, by="n", **FIT) as res:
        assert res.report["group"].tolist() == [str(i) for i in range(6)]


def test_models_save_as_xgboost_loads_them_predicting_the_same(sales):
    xgb = pytest.importorskip("xgboost")
    with herd.fit(sales, by="store", **FIT) as res, res.model("S001") as m:
        raw = m.save("ubjson")
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        x = sales[["price", "promo"]]
        np.testing.assert_allclose(booster.inplace_predict(x), m.predict(sales), rtol=1e-6)
        with herd.Model.load(m.save("json")) as again:
            assert again.features == ["price", "promo"] and again.objective == m.objective


def test_the_prepared_predictor_predicts_what_the_model_does(sales):
    with herd.fit(sales, by="store", **FIT) as res, res.model("S002") as m, \
            m.predictor() as p:
        assert p.features == ["price", "promo"]
        expect = m.predict(sales)
        got = np.array([p.predict_row(row) for row in sales[["price", "promo"]].to_numpy()])
        np.testing.assert_allclose(got, expect)
        np.testing.assert_allclose(p.predict(sales), expect)
        np.testing.assert_allclose(p.predict(sales[["price", "promo"]].to_numpy()), expect)
        assert p.predict_row((7.0, float("nan"))) == p.predict_row([7.0, np.nan])
        with pytest.raises(herd.InvalidError, match="3 values for a model of 2 features"):
            p.predict_row([1.0, 2.0, 3.0])
    with pytest.raises(herd.InvalidError, match="Predictor is closed"):
        p.predict_row([1.0, 2.0])


def test_artifacts_round_trip_as_bytes(sales, tmp_path):
    with herd.fit(sales, by="store", **FIT) as res:
        with res.artifact("S004", family="demand", run_id="r1") as a:
            blob = a.to_bytes()
            a.write_file(tmp_path / "a.herd")
    with herd.Artifact.from_bytes(blob) as a, herd.Artifact.read_file(tmp_path / "a.herd") as b:
        assert a.family == "demand" and a.group == "S004" and a.run_id == "r1"
        assert a.metadata["features"] == b.metadata["features"]
        assert a.metric("rmse") is not None and a.metric("auc") is None
        with a.model() as m:
            assert m.features == ["price", "promo"]
    with pytest.raises(herd.CorruptError):
        herd.Artifact.from_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(herd.FormatError):
        herd.Artifact.from_bytes(b"not an artifact at all, clearly")


def test_a_group_without_a_model_reads_none(sales):
    tiny = pd.concat([sales, pd.DataFrame({"store": ["tiny"] * 3, "week": [0, 1, 2],
                                           "price": [1.0, 2.0, 3.0], "promo": [0.0] * 3,
                                           "sales": [1.0, 2.0, 3.0]})], ignore_index=True)
    with herd.fit(tiny, by="store", **FIT) as res:
        row = res.report.set_index("group").loc["tiny"]
        assert row["status"] == "skipped" and "rows" in row["message"]
        assert res.model("tiny") is None and res.artifact("tiny") is None
        with pytest.raises(herd.NotFoundError, match="never-there"):
            res.model("never-there")
        pred = res.predict(tiny)
        assert np.isnan(pred[-3:]).all() and not np.isnan(pred[:-3]).any()


def test_nan_labels_fail_their_group_naming_the_row(sales):
    sales.loc[5, "sales"] = np.nan
    with herd.fit(sales, by="store", **FIT) as res:
        row = res.report.set_index("group").loc["S000"]
        assert row["status"] == "failed" and "row 5" in row["message"]
        assert (res.report["status"] == "ok").sum() == 5


def test_bad_inputs_raise_clear_exceptions(sales):
    with pytest.raises(herd.NotFoundError, match="no column 'prce'"):
        herd.fit(sales, by="store", features=["prce"], label="sales")
    with pytest.raises(herd.NotFoundError, match="no column 'shop'"):
        herd.fit(sales, by="shop", **FIT)
    with pytest.raises(herd.WrongTypeError, match="store"):
        herd.fit(sales, by="week", features=["store"], label="sales")
    with pytest.raises(herd.InvalidError, match="rounds.*0.*1\\.\\.1000000"):
        herd.fit(sales, by="store", features=["price"], label="sales", rounds=0)
    with pytest.raises(herd.InvalidError, match="roundz.*did you mean 'rounds'"):
        herd.fit(sales, by="store", features=["price"], label="sales", roundz=3)
    with pytest.raises(herd.InvalidError, match="max_dept.*max_depth"):
        herd.fit(sales, by="store", features=["price"], label="sales", params={"max_dept": 3})
    with pytest.raises(herd.InvalidError, match="max_depth"):
        herd.fit(sales, by="store", features=["price"], label="sales", params={"max_depth": -3})
    with pytest.raises(TypeError, match="DataFrame"):
        herd.fit(sales.to_numpy(), by="store", **FIT)
    with pytest.raises(herd.InvalidError, match="NaN"):
        herd.fit(sales, by="store", features=["price"], label="sales", valid_fraction=np.nan)
    with pytest.raises(herd.InvalidError, match="by="):
        herd.fit(sales, by=[], **FIT)
    with pytest.raises(herd.WrongTypeError, match="price"):
        herd.fit(sales, by="price", **FIT)  # a float key column


def test_options_come_from_the_c_table():
    sig = inspect.signature(herd.fit)
    table = herd.options_table()
    fit_rows = table[table["operation"] == "fit"]
    for _, row in fit_rows.iterrows():
        assert row["name"] in sig.parameters, row["name"]
    assert sig.parameters["rounds"].default == 100
    assert sig.parameters["valid_fraction"].default == 0.2
    assert sig.parameters["threads"].default == 0
    text = pydoc.render_doc(herd.fit, renderer=pydoc.plaintext)
    doc = fit_rows.set_index("name").loc["rounds", "doc"]
    assert doc in text and "1..1000000" in text
    assert "holdout_periods" in inspect.signature(herd.Registry.cycle).parameters
    assert "compare" in inspect.signature(herd.Registry.cycle).parameters


def test_cancel_from_the_progress_callback(sales):
    big = make_sales(groups=40, weeks=200)
    seen = []

    def progress(p):
        seen.append(p)
        return True  # cancel at the first report

    # Reports come about every progress_interval_s: the fit must outlast the
    # first one by far (a fast machine finished 50 rounds before it), and
    # cancelling there makes the long fit short.
    with pytest.raises(herd.CanceledError) as e:
        herd.fit(big, by="store", features=["price", "promo"], label="sales", rounds=2000,
                 threads=1, progress=progress, progress_interval_s=0.02)
    assert seen and seen[0]["phase"] == "fit"
    with e.value.result as res:
        assert "not_run" in set(res.report["status"])


def test_apply_runs_python_per_group_and_turns_exceptions_into_failures(sales):
    def per_group(key, rows):
        if key == "S002":
            raise RuntimeError("no good " + key)
        if key == "S003":
            raise herd.Skip("not needed")
        return rows["sales"].mean()

    report, results = herd.apply(sales, "store", per_group, threads=2)
    rep = report.set_index("group")
    assert rep.loc["S002", "status"] == "failed"
    assert "RuntimeError: no good S002" in rep.loc["S002", "message"]
    assert "Traceback" in rep.loc["S002", "message"]
    assert rep.loc["S003", "status"] == "skipped" and rep.loc["S003", "message"] == "not needed"
    assert results["S000"] == pytest.approx(sales[sales.store == "S000"]["sales"].mean())
    assert set(results) == {"S000", "S001", "S004", "S005"}


def test_log_records_reach_the_herd_logger(sales, caplog):
    with caplog.at_level("DEBUG", logger="herd"):
        herd.fit(sales, by="store", **FIT).close()
    records = [r for r in caplog.records if r.name == "herd"]
    assert records, "no record from herd"
    assert any(getattr(r, "herd_phase", None) == "fit" for r in records)
    assert any("groups" in r.getMessage() for r in records)


def test_tqdm_progress_when_forced(sales, capsys):
    pytest.importorskip("tqdm")
    herd.fit(sales, by="store", progress=True, **FIT).close()
    assert "herd fit" in capsys.readouterr().err


def test_ctrl_c_cancels_the_call_then_raises_keyboard_interrupt():
    import os
    import signal
    big = make_sales(groups=40, weeks=200)

    def interrupt(p):
        os.kill(os.getpid(), signal.SIGINT)  # as a user pressing Ctrl-C during the fit

    with pytest.raises(KeyboardInterrupt):
        herd.fit(big, by="store", features=["price", "promo"], label="sales", rounds=50,
                 threads=1, progress=interrupt)


def test_one_predictor_serves_several_threads(sales):
    from concurrent.futures import ThreadPoolExecutor
    with herd.fit(sales, by="store", **FIT) as res, res.model("S000") as m, m.predictor() as p:
        rows = sales[["price", "promo"]].to_numpy()
        expect = m.predict(sales)
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(p.predict_row, rows))
        np.testing.assert_allclose(got, expect)


def test_predictions_arrive_as_arrays_single_and_multi_output(sales, tmp_path):
    # FitResult.predict and Registry.predict copy the prediction column(s)
    # straight from the C frame: the same values as the full frame's, and as
    # each group's model predicts, one column or (rows, classes).
    df = sales.copy()
    df["cls"] = (df["sales"].rank(pct=True) * 3).clip(upper=2.999).astype(int).astype(float)
    multi = dict(features=["price", "promo"], label="cls", rounds=5, threads=2,
                 params={"objective": "multi:softprob", "num_class": 3})
    with herd.fit(df, by="store", progress=False, **multi) as res:
        pred = res.predict(df)
        assert pred.shape == (len(df), 3) and pred.dtype == np.float64
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, rtol=1e-5)
        rows = (df["store"] == "S001").to_numpy()
        with res.model("S001") as model:
            np.testing.assert_array_equal(pred[rows], model.predict(df[rows]))
    with herd.fit(sales, by="store", progress=False, **FIT) as res, \
            herd.Registry(tmp_path / "reg") as reg:
        with reg.begin() as batch:
            for g in res.groups[:-1]:      # the last group gets no champion
                with res.artifact(g, family="f") as a:
                    batch.add(a, alias="champion")
            batch.commit()
        plain = reg.predict(sales, family="f", by="store")
        frame = reg.predict(sales, family="f", by="store", return_frame=True)
        assert plain.shape == (len(sales),) and plain.dtype == np.float64
        np.testing.assert_array_equal(plain, frame["prediction"].to_numpy())
        last = (sales["store"] == res.groups[-1]).to_numpy()
        assert np.isnan(plain[last]).all() and not np.isnan(plain[~last]).any()
        np.testing.assert_array_equal(plain[~last], res.predict(sales)[~last])


def test_nullable_category_and_string_keys_group_as_plain_keys(sales):
    # The same stores as nullable Int64, category and pandas' string dtype
    # keys, and a nullable Float64 feature: the same groups and models as
    # int64 and object keys and float64 features; a missing key leaves its
    # rows out of every group.
    sales = sales.assign(n=sales["store"].str[1:].astype(np.int64))
    variants = [("n", sales.assign(n=sales["n"].astype("Int64"))),
                ("store", sales.assign(store=sales["store"].astype("category"))),
                ("store", sales.assign(store=sales["store"].astype("string"))),
                ("store", sales.assign(price=sales["price"].astype("Float64")))]
    for by, df in variants:
        with herd.fit(sales, by=by, progress=False, **FIT) as plain, \
                herd.fit(df, by=by, progress=False, **FIT) as res:
            kind = str(df.dtypes[by if by == "n" else "store"]) + "/" + str(df.dtypes["price"])
            assert res.groups == plain.groups, kind
            np.testing.assert_array_equal(res.predict(df), plain.predict(sales), err_msg=kind)
    holed = sales.assign(n=sales["n"].astype("Int64"))
    holed.loc[:9, "n"] = pd.NA
    with herd.fit(holed, by="n", progress=False, **FIT) as res:
        assert res.report.set_index("group").loc["0", "rows"] == 50
        assert np.isnan(res.predict(holed)[:10]).all()


def test_log_records_arrive_on_the_calling_thread(sales, caplog):
    import threading
    sales.loc[5, "sales"] = np.nan    # a failed group: a record naming it
    with caplog.at_level("DEBUG", logger="herd"):
        herd.fit(sales, by="store", progress=False, **FIT).close()  # threads=2: two workers
    records = [r for r in caplog.records if r.name == "herd"]
    assert any(getattr(r, "herd_group", None) for r in records), "no per-group record"
    assert {r.thread for r in records} == {threading.get_ident()}


def test_without_tqdm_progress_shows_nothing(sales, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)       # import tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    herd.fit(sales, by="store", progress=True, **FIT).close()
    assert capsys.readouterr().err == ""
