"""pandas and numpy columns into herd frames: what is borrowed (zero-copy,
proved by the addresses herd reads), what is converted, what is refused."""

import ctypes

import numpy as np
import pandas as pd
import pytest

import herd
from herd._frame import column_data
from herd._lib import lib


def _address(frame, name):
    for col in range(lib.herd_frame_column_count(frame._handle())):
        if lib.herd_frame_column_name(frame._handle(), col).decode() == name:
            data, stride, mask = column_data(frame._handle(), col)
            return data, stride, bool(mask)
    raise KeyError(name)


def test_numeric_columns_are_borrowed_not_copied():
    df = pd.DataFrame({"f64": np.arange(5, dtype=np.float64),
                       "f32": np.arange(5, dtype=np.float32),
                       "i32": np.arange(5, dtype=np.int32),
                       "i64": np.arange(5, dtype=np.int64)})
    with herd.Frame(df) as f:
        for name in df.columns:
            arr = df[name].to_numpy()
            data, stride, _ = _address(f, name)
            assert data == arr.ctypes.data, name          # herd reads pandas' memory
            assert stride == arr.strides[0]
        # and a change made through pandas is what herd sees
        df["f64"].to_numpy()[2] = 42.0
        assert f.to_pandas()["f64"][2] == 42.0


def test_strided_columns_of_a_row_major_matrix_are_borrowed():
    m = np.arange(30, dtype=np.float64).reshape(10, 3)  # C order: a column is strided
    df = pd.DataFrame(m, columns=["a", "b", "c"], copy=False)
    with herd.Frame(df) as f:
        for j, name in enumerate("abc"):
            data, stride, _ = _address(f, name)
            assert stride == 24                            # every third double
            assert data == m[:, j].ctypes.data             # inside the matrix itself
        back = f.to_pandas()
    np.testing.assert_array_equal(back[["a", "b", "c"]].to_numpy(), m)


def test_numpy_views_with_steps_are_borrowed_and_reversed_ones_copied():
    base = np.arange(20, dtype=np.int64)
    with herd.Frame({"every_other": base[::2], "reversed": base[::-2]}) as f:
        data, stride, _ = _address(f, "every_other")
        assert data == base.ctypes.data and stride == 16
        data, stride, _ = _address(f, "reversed")
        assert stride == 8 and data != base.ctypes.data
        back = f.to_pandas()
    assert back["every_other"].tolist() == list(range(0, 20, 2))
    assert back["reversed"].tolist() == list(range(19, 0, -2))


def test_nullable_integers_lend_their_values_and_pass_the_mask():
    s = pd.Series([1, None, 3, None], dtype="Int64")
    df = pd.DataFrame({"k": s})
    with herd.Frame(df) as f:
        data, _, has_mask = _address(f, "k")
        assert data == df["k"].array._data.ctypes.data
        assert has_mask
        back = f.to_pandas()["k"]
    assert str(back.dtype) == "Int64"
    assert back.isna().tolist() == [False, True, False, True]
    assert back[0] == 1 and back[2] == 3


def test_nullable_floats_become_nan():
    df = pd.DataFrame({"x": pd.array([1.5, None, 2.5], dtype="Float64")})
    with herd.Frame(df) as f:
        back = f.to_pandas()["x"]
    assert np.isnan(back[1]) and back[0] == 1.5 and back[2] == 2.5


def test_strings_categories_and_missing_keys():
    df = pd.DataFrame({
        "s": ["a", None, "Zürich", "a"],
        "c": pd.Categorical(["x", "y", None, "x"]),
        "st": pd.array(["p", "q", None, "p"], dtype="string"),
        "ic": pd.Categorical([7, 8, 7, None]),
    })
    with herd.Frame(df) as f:
        back = f.to_pandas()
    assert back["s"].tolist() == ["a", None, "Zürich", "a"]
    assert back["c"].tolist() == ["x", "y", None, "x"]
    assert back["st"].tolist() == ["p", "q", None, "p"]
    assert back["ic"].isna().tolist() == [False, False, False, True]
    assert back["ic"][:3].tolist() == [7, 8, 7]


def test_datetimes_are_int64_nanoseconds_ordered_in_time():
    t = pd.to_datetime(["2026-01-05", "2026-01-12", None])
    with herd.Frame({"t": pd.Series(t)}) as f:
        back = f.to_pandas()["t"]
    assert back[0] < back[1] and back.isna()[2]


def test_bool_and_small_integers_are_converted():
    with herd.Frame({"b": np.array([True, False]), "u8": np.array([1, 2], dtype=np.uint8)}) as f:
        back = f.to_pandas()
    assert back["b"].tolist() == [1, 0] and back["u8"].tolist() == [1, 2]


def test_bad_columns_are_refused_naming_them():
    with pytest.raises(TypeError, match="'z'.*complex"):
        herd.Frame({"z": np.array([1j, 2j])})
    with pytest.raises(TypeError, match="'mixed'.*holds 1.5"):
        herd.Frame({"mixed": np.array(["a", 1.5], dtype=object)})
    with pytest.raises(OverflowError, match="'big'"):
        herd.Frame({"big": np.array([2 ** 64 - 1], dtype=np.uint64)})
    with pytest.raises(herd.NotFoundError, match="no column 'nope'.*'a'"):
        herd.Frame(pd.DataFrame({"a": [1.0]}), columns=["nope"])
    with pytest.raises(herd.InvalidError, match="rows"):
        herd.Frame({"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(TypeError, match="DataFrame"):
        herd.Frame([1, 2, 3])


def test_a_closed_frame_is_refused():
    f = herd.Frame({"a": np.zeros(3)})
    f.close()
    f.close()  # twice is fine
    with pytest.raises(herd.InvalidError, match="Frame is closed"):
        f.to_pandas()


def _strings_read_one_by_one(frame, name):
    """A string column of a C frame read pointer by pointer (the reference
    the bulk decoding must match)."""
    h = frame._handle()
    n = lib.herd_frame_row_count(h)
    for col in range(lib.herd_frame_column_count(h)):
        if lib.herd_frame_column_name(h, col).decode() == name:
            data, stride, mask = column_data(h, col)
            out = []
            for i in range(n):
                p = ctypes.c_void_p.from_address(data + i * stride).value
                out.append(ctypes.string_at(p).decode("utf-8") if p else None)
            return out
    raise KeyError(name)


def test_many_distinct_strings_are_lent_and_read_back_in_bulk():
    rng = np.random.default_rng(5)
    words = ["", "a", "Zürich", "東京", "naïve café", "x" * 300] + ["k%05d" % i for i in range(3000)]
    values = np.array([words[i] if i >= 0 else None
                       for i in rng.integers(-1, len(words), 20000)], dtype=object)
    values[:len(words)] = words          # every distinct value at least once
    with herd.Frame({"s": values}) as f:
        assert _strings_read_one_by_one(f, "s") == values.tolist()
        assert f.to_pandas()["s"].tolist() == values.tolist()


def test_strings_that_need_the_value_by_value_path():
    # bytes and integers among the strings are accepted (the bulk path
    # takes only str); a NUL or an unencodable value is named.
    values = np.array(["a", b"raw", 42, None, "a", "é"], dtype=object)
    with herd.Frame({"m": values}) as f:
        assert f.to_pandas()["m"].tolist() == ["a", "raw", "42", None, "a", "é"]
    with pytest.raises(ValueError, match="'nul'.*NUL"):
        herd.Frame({"nul": np.array(["ok", "a\0b"], dtype=object)})
    with pytest.raises(ValueError, match="'bad'.*not valid text"):
        herd.Frame({"bad": np.array(["ok", "\ud800"], dtype=object)})
    with herd.Frame({"none": np.array([None, None], dtype=object)}) as f:
        assert f.to_pandas()["none"].tolist() == [None, None]
    with herd.Frame({"empty": np.array([], dtype=object)}) as f:
        assert f.to_pandas()["empty"].tolist() == []
