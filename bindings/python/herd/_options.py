"""Options by name, from libherd's one option table.

Keyword arguments of herd.fit, Registry.cycle... are the names of the C
option table (herd_options_table()): the signature and the docstring of
each function are generated from it at import, with the C defaults, bounds
and docs, and each value goes through herd_options_set(), which checks it
and names the option in its message.  Nothing about an option is repeated
in Python.
"""

import ctypes
import inspect
import math

from . import _errors
from ._handle import Handle
from ._lib import (OptionsP, c_char_p, c_void_p, check, dec, enc, lib, take_string)

# Options whose C type has no Python keyword form: the binding sets them
# itself (the cancel flag, the progress callback, a borrowed mask).
_INTERNAL_TYPES = {"pointer", "progress"}


class Options(Handle):
    """A herd_options handle of one operation ("fit", "cycle"...)."""

    _free = lib.herd_options_free
    _kind = "Options"

    def __init__(self, operation):
        self.operation = operation
        self._op = enc(operation)
        self._callbacks = []  # ctypes callbacks the struct points to
        ptr = OptionsP()
        check(lib.herd_options_new(self._op, ctypes.byref(ptr)))
        self._adopt(ptr)

    def _release(self):
        self._callbacks = []

    def set(self, name, value):
        """Set option `name` from a Python value (None: the default)."""
        h = self._handle()
        info = option_info(self.operation, name)
        kind = info["type"] if info else None
        key = enc(name, "option name")
        if value is None:
            check(lib.herd_options_set(h, key, None))
        elif kind == "string_list":
            if isinstance(value, str):
                value = [value]
            items = [enc(v, "option %r" % name) for v in value]
            arr = (c_char_p * len(items))(*items)
            check(lib.herd_options_set_strings(h, key, arr, len(items)))
        elif kind in ("string_map", "number_map", "type_map"):
            if not isinstance(value, dict):
                raise _errors.InvalidError("option %r of %s takes a dict, not %s"
                                           % (name, self.operation, type(value).__name__),
                                           -1, "HERD_EINVAL")
            check(lib.herd_options_set(h, key, None))
            for k, v in value.items():
                check(lib.herd_options_set_entry(h, key, enc(str(k), "option %r" % name),
                                                 None if v is None else enc(to_text(v))))
        elif kind == "options":
            if not isinstance(value, dict):
                raise _errors.InvalidError("option %r of %s takes a dict of %s options, not %s"
                                           % (name, self.operation, name,
                                              type(value).__name__), -1, "HERD_EINVAL")
            for k, v in value.items():
                self.set("%s.%s" % (name, k), v)
        elif kind == "flags" and isinstance(value, (list, tuple, set)):
            check(lib.herd_options_set(h, key, enc("|".join(value))))
        else:
            check(lib.herd_options_set(h, key, enc(to_text(value), "option %r" % name)))

    def set_pointer(self, name, address):
        check(lib.herd_options_set_pointer(self._handle(), enc(name), address))

    def set_progress(self, name, callback):
        """callback: a _lib.PROGRESS_FN (kept alive with the handle), or None."""
        if callback is None:
            check(lib.herd_options_set(self._handle(), enc(name), None))
            return
        self._callbacks.append(callback)
        check(lib.herd_options_set_progress(self._handle(), enc(name), callback, None))

    def get(self, name):
        out = c_void_p()
        check(lib.herd_options_get(self._handle(), enc(name), ctypes.byref(out)))
        return take_string(out.value)

    def struct(self):
        """The options struct, to pass to the operation's C function."""
        ptr = lib.herd_options_struct(self._handle(), self._op)
        if not ptr:
            check(-1)
        return ptr


def to_text(value):
    """A Python value as the text herd_options_set() reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            raise _errors.InvalidError("NaN is not a valid option value", -1, "HERD_EINVAL")
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return to_text(value.item())
    if isinstance(value, str):
        return value
    raise _errors.InvalidError("an option value must be a str, a number or a bool, not %s"
                               % type(value).__name__, -1, "HERD_EINVAL")


_TABLE = None


def table():
    """The C option table as a DataFrame (herd_options_table(NULL))."""
    global _TABLE
    if _TABLE is None:
        from ._frame import take_frame
        from ._lib import FrameP
        ptr = FrameP()
        check(lib.herd_options_table(None, ctypes.byref(ptr)))
        _TABLE = take_frame(ptr)
    return _TABLE


_INFO = {}


def option_info(operation, name):
    """The table row of `operation`'s option `name` as a dict (nested names
    such as "compare.metric" are looked up in the nested operation), or
    None for a name the table does not have (herd_options_set then says
    "did you mean")."""
    key = (operation, name)
    if key not in _INFO:
        if "." in name:
            parent, rest = name.split(".", 1)
            _INFO[key] = option_info(parent, rest) if option_info(operation, parent) else None
        else:
            t = table()
            rows = t[(t["operation"] == operation) & (t["name"] == name)]
            _INFO[key] = rows.iloc[0].to_dict() if len(rows) else None
    return _INFO[key]


def operation_options(operation):
    """Rows of the table for one operation, as dicts, in struct order,
    without the options the binding sets itself."""
    t = table()
    return [r for r in t[t["operation"] == operation].to_dict("records")
            if r["type"] not in _INTERNAL_TYPES]


def _python_default(row):
    text = row["default"]
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    kind = row["type"]
    try:
        if kind == "bool":
            return text in ("true", "1", "yes", "on")
        if kind in ("int", "int64", "uint64", "size"):
            return int(text)
        if kind == "double":
            return float(text)
        if kind in ("string_list", "string_map", "number_map", "type_map"):
            import json
            value = json.loads(text)
            return value if value else None
    except ValueError:
        return text
    return text


def _bounds_text(row):
    lo, hi = row["min"], row["max"]
    if row["type"] not in ("int", "int64", "uint64", "size", "double") or \
            lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    def fmt(v):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return "%d" % v if v == int(v) and abs(v) < 1e15 else "%g" % v
    return ", %s..%s" % (fmt(lo), fmt(hi))


def describe(operations, skip=()):
    """Parameters and docstring lines for the options of `operations`."""
    params, lines, seen = [], [], set(skip)
    for op in operations:
        rows = [r for r in operation_options(op) if r["name"] not in seen]
        if not rows:
            continue
        lines.append("")
        lines.append("Options of %r (libherd's option table):" % op)
        for r in rows:
            seen.add(r["name"])
            default = _python_default(r)
            kind = r["type"]
            if kind == "options":
                kind = "dict of %s options" % r["name"]
            elif kind in ("enum", "flags") and isinstance(r.get("values"), str):
                kind = "%s: %s" % (kind, r["values"])
            lines.append("    %s (%s, default %r%s): %s"
                         % (r["name"], kind, default, _bounds_text(r), r["doc"]))
            params.append(inspect.Parameter(r["name"], inspect.Parameter.KEYWORD_ONLY,
                                            default=default))
    return params, lines


def split_kwargs(kwargs, operations, function):
    """Assign each keyword argument to the first of `operations` that has an
    option of that name; an unknown name is InvalidError with the nearest
    names (herd's own "did you mean", from the first operation)."""
    assigned = {op: {} for op in operations}
    for name, value in kwargs.items():
        for op in operations:
            info = option_info(op, name)
            if info is not None and info["type"] not in _INTERNAL_TYPES:
                assigned[op][name] = value
                break
        else:
            # Let the library word the error (with its "did you mean").
            with Options(operations[0]) as probe:
                try:
                    probe.set(name, value)
                except _errors.Error as e:
                    raise type(e)("%s(): unknown keyword argument %r: %s"
                                  % (function, name, e), e.code, e.status) from None
            raise _errors.InvalidError("%s(): unknown keyword argument %r"
                                       % (function, name), -1, "HERD_EINVAL")
    return assigned


def build(operation, values):
    """An Options handle of `operation` with `values` set (the caller closes
    it)."""
    opt = Options(operation)
    try:
        for name, value in values.items():
            opt.set(name, value)
    except BaseException:
        opt.close()
        raise
    return opt


def document(function, operations, skip=()):
    """Give `function` (which takes **options) a signature and a docstring
    listing its options from the C table."""
    params, lines = describe(operations, skip)
    sig = inspect.signature(function)
    head = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    names = {p.name for p in head}
    params = [p for p in params if p.name not in names]
    function.__signature__ = sig.replace(parameters=head + params)
    function.__doc__ = (function.__doc__ or "").rstrip() + "\n" + "\n".join(lines) + "\n"
    function._herd_operations = tuple(operations)
    return function


__all__ = ["Options", "table", "option_info", "split_kwargs", "build", "document", "dec"]
