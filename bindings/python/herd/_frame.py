"""pandas and numpy columns in and out of herd frames.

In: numeric numpy columns are *borrowed* (HERD_COLUMN_BORROW with their
byte stride): herd reads pandas' own memory, a column of a row-major matrix
included, and nothing is copied.  The Frame object keeps a reference to
every array it lends, so the memory lives as long as the C frame.  Nullable
Int32/Int64 columns lend their values and pass pandas' mask (1 = missing,
HERD_COLUMN_MASK_MISSING); nullable floats lend their values when nothing
is missing (NaN-filled copy otherwise); string, object and category columns
become one array of `const char *` into a buffer holding each distinct
string once (pd.factorize); datetime64 columns lend their int64
nanoseconds, ordered in time, with NaT missing.  Other dtypes are converted
(bool and small integers to int32), never silently reinterpreted.

Out: every column of a C frame becomes a numpy or pandas column (int
columns with missing values as nullable Int64, strings as objects with
None), copied, so that the result outlives the C frame.
"""

import ctypes

import numpy as np
import pandas as pd

from . import _errors
from . import _options
from ._handle import Handle
from ._lib import (COLUMN_BORROW, COLUMN_MASK_MISSING, HERD_OK, TYPE_FLOAT32, TYPE_FLOAT64,
                   TYPE_INT32, TYPE_INT64, TYPE_STRING, FrameP, c_size_t, c_uint8_p, c_void_p,
                   check, enc, lib)

_NUMPY_TYPES = {
    np.dtype(np.float64): TYPE_FLOAT64,
    np.dtype(np.float32): TYPE_FLOAT32,
    np.dtype(np.int32): TYPE_INT32,
    np.dtype(np.int64): TYPE_INT64,
}
_HERD_DTYPES = {TYPE_FLOAT64: np.float64, TYPE_FLOAT32: np.float32, TYPE_INT32: np.int32,
                TYPE_INT64: np.int64}


class Frame(Handle):
    """A herd_frame built from a pandas DataFrame (or a dict of arrays).

    It borrows the caller's column memory where it can: keep the DataFrame
    unchanged while the Frame (and anything built from it) lives.  The Frame
    holds references to what it lends, so the memory itself cannot go away.
    """

    _free = lib.herd_frame_free
    _kind = "Frame"

    def __init__(self, data=None, columns=None):
        self._keep = []      # arrays and buffers the C frame borrows
        self.columns = []
        ptr = FrameP()
        check(lib.herd_frame_new(ctypes.byref(ptr)))
        self._adopt(ptr)
        if data is None:
            return
        if isinstance(data, pd.DataFrame):
            names = list(data.columns) if columns is None else list(columns)
            missing = [c for c in names if c not in data.columns]
            if missing:
                have = ", ".join(repr(str(c)) for c in data.columns)
                self.close()
                raise _errors.NotFoundError(
                    "no column %s in the DataFrame; its columns are %s"
                    % (", ".join(repr(str(c)) for c in missing), have), -5, "HERD_ENOTFOUND")
            get = data.__getitem__
        elif isinstance(data, dict):
            names = list(data) if columns is None else list(columns)
            get = data.__getitem__
        else:
            self.close()
            raise TypeError("herd needs a pandas DataFrame or a dict of columns, not %s"
                            % type(data).__name__)
        try:
            with _options.Options("column") as opt:
                for name in names:
                    self.add(name, get(name), opt)
        except BaseException:
            self.close()
            raise

    def _release(self):
        self._keep = []

    @property
    def n_rows(self):
        return lib.herd_frame_row_count(self._handle())

    def add(self, name, values, opt):
        """Add one column (see the module's doc for what is borrowed)."""
        if not isinstance(name, str):
            raise TypeError("column names must be str for herd; %r is a %s"
                            % (name, type(name).__name__))
        htype, data, stride, mask, keep = column_for_herd(name, values)
        opt.set("flags", "borrow|mask_missing" if mask is not None else "borrow")
        opt.set("stride", str(stride))
        opt.set_pointer("mask", None if mask is None else mask.ctypes.data)
        n = len(values)
        check(lib.herd_frame_add_column(self._handle(), enc(name, "column name"), htype,
                                        data, n, opt.struct()))
        self._keep.extend(keep)
        self.columns.append(name)

    def to_pandas(self):
        return frame_to_pandas(self._handle())


def _as_borrowable(name, arr):
    """A numpy array herd can borrow as it is, or a converted copy."""
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype in _NUMPY_TYPES:
        pass
    elif arr.dtype == np.bool_ or arr.dtype.kind in "iu" and arr.dtype.itemsize < 4:
        arr = arr.astype(np.int32)
    elif arr.dtype == np.uint32:
        arr = arr.astype(np.int64)
    elif arr.dtype == np.uint64:
        if len(arr) and arr.max() > np.iinfo(np.int64).max:
            raise OverflowError("column %r: uint64 value %d does not fit herd's int64 columns"
                                % (name, int(arr.max())))
        arr = arr.astype(np.int64)
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    else:
        raise TypeError("column %r has dtype %s, which herd cannot read; herd reads floats, "
                        "integers, bool, strings, categories and datetimes" % (name, arr.dtype))
    # A negative or unaligned stride cannot be borrowed.
    if arr.ndim != 1:
        raise ValueError("column %r is not one-dimensional (shape %s)" % (name, arr.shape))
    if len(arr) > 1 and (arr.strides[0] <= 0 or arr.strides[0] % arr.dtype.alignment):
        arr = np.ascontiguousarray(arr)
    return arr


def _strings_for_herd(name, values):
    """`const char *` per row into one buffer holding each distinct string
    once; missing values (None, NaN, pd.NA) are NULL."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True) if _FACTORIZE_NA else \
        pd.factorize(values)
    return _pointer_column(name, codes, uniques)


def _pointer_column(name, codes, uniques):
    buf, starts = _encode_all(uniques)
    if buf is None:
        buf, starts = _encode_each(name, uniques)
    table = np.empty(len(starts) + 1, dtype=np.uint64)
    table[:-1] = starts + np.uint64(buf.ctypes.data)
    table[-1] = 0  # code -1: missing, NULL
    pointers = table[np.asarray(codes, dtype=np.int64)]
    return pointers, buf


def _encode_all(uniques):
    """The common case in bulk: every distinct value a str, all valid
    UTF-8 with no NUL, encoded by one join and one encode (no Python loop
    over the values; 50,000 distinct keys take milliseconds).  Returns
    (buffer, start offset of each value) or (None, None) when a value is
    not such a str, for _encode_each to convert or name."""
    n = len(uniques)
    if n == 0:
        return np.zeros(1, dtype=np.uint8), np.zeros(0, dtype=np.uint64)
    if pd.api.types.infer_dtype(uniques, skipna=False) != "string":
        return None, None
    try:
        raw = "\0".join(uniques).encode("utf-8") + b"\0"
    except UnicodeEncodeError:
        return None, None
    buf = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(buf == 0)
    if len(ends) != n:   # a value holds a NUL: _encode_each names it
        return None, None
    starts = np.empty(n, dtype=np.uint64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    return buf, starts


def _encode_each(name, uniques):
    """Value by value: bytes and integers among the strings are accepted,
    and a value herd cannot take is named."""
    parts = []
    for u in uniques:
        if isinstance(u, str):
            try:
                parts.append(u.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise ValueError("column %r: %r is not valid text (%s)" % (name, u, e)) from None
        elif isinstance(u, bytes):
            parts.append(u)
        elif isinstance(u, (int, np.integer)) and not isinstance(u, bool):
            parts.append(str(int(u)).encode())
        else:
            raise TypeError("column %r holds %r (%s) among its strings; herd's string "
                            "columns hold str values (or None for missing)"
                            % (name, u, type(u).__name__))
    for p in parts:
        if b"\0" in p:
            raise ValueError("column %r: %r contains a NUL character" % (name, p))
    lengths = np.fromiter((len(p) + 1 for p in parts), dtype=np.int64, count=len(parts))
    buf = np.frombuffer(b"\0".join(parts) + b"\0", dtype=np.uint8) if parts else \
        np.zeros(1, dtype=np.uint8)
    starts = np.zeros(len(parts), dtype=np.uint64)
    if len(parts) > 1:
        np.cumsum(lengths[:-1], out=starts[1:].view(np.int64))
    return buf, starts


try:
    pd.factorize(np.array(["a"], dtype=object), use_na_sentinel=True)
    _FACTORIZE_NA = True
except TypeError:  # pandas < 1.5
    _FACTORIZE_NA = False


def column_for_herd(name, values):
    """(herd type, data pointer, stride, missing mask or None, objects to
    keep alive) for one column."""
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            cats = values.cat.categories
            if cats.dtype.kind in "iu":
                data = cats.to_numpy().astype(np.int64)[np.where(codes < 0, 0, codes)]
                mask = np.ascontiguousarray(codes < 0).view(np.uint8)
                return TYPE_INT64, data.ctypes.data, 8, mask, [data, mask]
            if cats.dtype.kind == "f":
                data = np.where(codes < 0, np.nan, cats.to_numpy(np.float64)[codes])
                return TYPE_FLOAT64, data.ctypes.data, 8, None, [data]
            pointers, buf = _pointer_column(name, codes, list(cats))
            return TYPE_STRING, pointers.ctypes.data, 8, None, [pointers, buf]
        if isinstance(dtype, pd.StringDtype) or dtype == object:
            pointers, buf = _strings_for_herd(name, values.to_numpy(dtype=object))
            return TYPE_STRING, pointers.ctypes.data, 8, None, [pointers, buf]
        if isinstance(values.array, pd.arrays.IntegerArray) or \
                isinstance(values.array, pd.arrays.BooleanArray):
            arr = values.array
            data = _as_borrowable(name, arr._data)   # pandas' own values ...
            mask = np.ascontiguousarray(arr._mask).view(np.uint8)  # ... and mask, 1 = missing
            return (_NUMPY_TYPES[data.dtype], data.ctypes.data, data.strides[0] or 1,
                    mask, [data, mask, arr])
        if isinstance(values.array, pd.arrays.FloatingArray):
            arr = values.array
            data = _as_borrowable(name, arr._data)
            if arr._mask.any():
                data = np.where(arr._mask, np.nan, data).astype(data.dtype)
            return _NUMPY_TYPES[data.dtype], data.ctypes.data, data.strides[0], None, [data, arr]
        if dtype.kind == "M":
            ns = values.to_numpy()
            data = ns.view(np.int64)
            mask = np.isnat(ns).view(np.uint8)
            return TYPE_INT64, data.ctypes.data, 8, mask if mask.any() else None, [data, mask]
        if not isinstance(dtype, np.dtype):
            raise TypeError("column %r has dtype %s, which herd cannot read; herd reads floats, "
                            "integers, bool, strings, categories and datetimes" % (name, dtype))
        values = values.to_numpy(copy=False)
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind in "US":
        pointers, buf = _strings_for_herd(name, arr.astype(object))
        return TYPE_STRING, pointers.ctypes.data, 8, None, [pointers, buf]
    if arr.dtype.kind == "M":
        return column_for_herd(name, pd.Series(arr))
    arr = _as_borrowable(name, arr)
    stride = arr.strides[0] if len(arr) > 1 else arr.dtype.itemsize
    return _NUMPY_TYPES[arr.dtype], arr.ctypes.data, stride, None, [arr]


def _view(data, stride, n, dtype):
    """A numpy view of n values at data with a byte stride (no copy)."""
    dtype = np.dtype(dtype)
    if n == 0:
        return np.empty(0, dtype=dtype)
    span = stride * (n - 1) + dtype.itemsize
    raw = (ctypes.c_char * span).from_address(data)
    return np.ndarray(shape=(n,), dtype=dtype, buffer=raw, offset=0, strides=(stride,))


def column_data(frame, col):
    data, stride, mask = c_void_p(), c_size_t(), c_uint8_p()
    check(lib.herd_frame_column_data(frame, col, ctypes.byref(data), ctypes.byref(stride),
                                     ctypes.byref(mask)))
    return data.value, stride.value, mask


def _decode_strings(pointers):
    """Python strings for an array of `const char *` (0: None).  Each
    distinct pointer is read once (keys and statuses repeat), and all of
    them are decoded together: ctypes reads the C strings into one list of
    bytes, joined with NUL (which no C string holds) and decoded and split
    in one go, with no Python loop over the values."""
    if not len(pointers):
        return np.empty(0, dtype=object)
    uniq, inverse = np.unique(pointers, return_inverse=True)
    missing = uniq[0] == 0          # sorted: NULL comes first when present
    present = uniq[1:] if missing else uniq
    texts = np.empty(len(uniq), dtype=object)
    if len(present):
        ptrs = np.ascontiguousarray(present, dtype=np.uint64)
        raw = (ctypes.c_char_p * len(ptrs)).from_buffer(ptrs)[:]
        texts[int(missing):] = b"\0".join(raw).decode("utf-8").split("\0")
    if missing:
        texts[0] = None
    return texts[inverse]


def column_to_numpy(frame, col, n):
    """Column `col` of a C frame as a numpy array or pandas extension array
    (a copy)."""
    htype = lib.herd_frame_column_type(frame, col)
    data, stride, mask = column_data(frame, col)
    present = None
    if mask:
        present = np.ctypeslib.as_array(mask, shape=(n,)).astype(bool) if n else \
            np.zeros(0, dtype=bool)
    if htype == TYPE_STRING:
        ptrs = _view(data, stride, n, np.uint64) if n else np.empty(0, dtype=np.uint64)
        out = _decode_strings(np.array(ptrs))
        if present is not None:
            out[~present] = None
        return out
    values = np.array(_view(data, stride, n, _HERD_DTYPES[htype]))
    if present is not None and htype in (TYPE_INT32, TYPE_INT64):
        return pd.arrays.IntegerArray(values.astype(np.int64), ~present)
    return values


def frame_to_pandas(frame):
    """A C frame as a new pandas DataFrame (every value copied)."""
    n = lib.herd_frame_row_count(frame)
    cols = {}
    for col in range(lib.herd_frame_column_count(frame)):
        name = lib.herd_frame_column_name(frame, col).decode("utf-8")
        cols[name] = column_to_numpy(frame, col, n)
    return pd.DataFrame(cols, index=pd.RangeIndex(n))


def take_columns(ptr, prefix):
    """The columns of a frame the library returned whose names start with
    `prefix`, as one float64 array (rows,) for one column or (rows, k) for
    k, the frame freed: the rest is never converted, and no DataFrame is
    built.  Registry.predict's plain answer uses it."""
    if not ptr:
        return None
    try:
        n = lib.herd_frame_row_count(ptr)
        wanted = [col for col in range(lib.herd_frame_column_count(ptr))
                  if lib.herd_frame_column_name(ptr, col).decode("utf-8").startswith(prefix)]
        out = np.empty((n, len(wanted)), dtype=np.float64)
        for j, col in enumerate(wanted):
            data, stride, _ = column_data(ptr, col)
            out[:, j] = _view(data, stride, n, _HERD_DTYPES[lib.herd_frame_column_type(ptr, col)])
        return out[:, 0].copy() if len(wanted) == 1 else out
    finally:
        lib.herd_frame_free(ptr)


def take_frame(ptr):
    """Convert a frame the library returned and free it."""
    if not ptr:
        return None
    try:
        return frame_to_pandas(ptr)
    finally:
        lib.herd_frame_free(ptr)


__all__ = ["Frame", "frame_to_pandas", "take_frame", "take_columns", "column_data", "HERD_OK"]
