"""herd's exceptions: one class per C status code, all under herd.Error."""

__all__ = [
    "Error", "InvalidError", "OutOfMemoryError", "FileIOError", "FormatError", "NotFoundError",
    "ExistsError", "WrongTypeError", "LimitError", "XGBoostError", "CanceledError",
    "CorruptError", "BusyError", "BudgetError", "InternalError", "ConflictError",
    "RefusedError", "error_class",
]


class Error(Exception):
    """An error reported by libherd.

    ``code`` is the C status (a negative int), ``status`` its constant name
    ("HERD_EINVAL") and the message is herd_last_error()'s text, which names
    what was wrong (file, column, group, option, limit) and what to do.
    """

    code = None
    status = "HERD_UNKNOWN"

    def __init__(self, message, code=None, status=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self):
        # KeyError (NotFoundError's other base) would quote the message.
        return str(self.args[0]) if self.args else ""


def _subclass(name, code, status, doc, *bases):
    cls = type(name, (Error,) + bases, {"__doc__": doc, "code": code, "status": status,
                                        "__module__": "herd"})
    return cls


# Each also derives from the closest built-in exception, so that callers who
# catch ValueError, KeyError, MemoryError, OSError... keep working.
InvalidError = _subclass("InvalidError", -1, "HERD_EINVAL",
                         "An argument or option is invalid (HERD_EINVAL).", ValueError)
OutOfMemoryError = _subclass("OutOfMemoryError", -2, "HERD_ENOMEM", "Out of memory (HERD_ENOMEM).",
                         MemoryError)
FileIOError = _subclass("FileIOError", -3, "HERD_EIO", "An operating-system I/O call failed (HERD_EIO).",
                     OSError)
FormatError = _subclass("FormatError", -4, "HERD_EFORMAT",
                        "Malformed input: CSV, artifact, JSON (HERD_EFORMAT).", ValueError)
NotFoundError = _subclass("NotFoundError", -5, "HERD_ENOTFOUND",
                          "No such column, group, file, version or alias (HERD_ENOTFOUND).",
                          KeyError)
ExistsError = _subclass("ExistsError", -6, "HERD_EEXISTS", "Already exists (HERD_EEXISTS).",
                        ValueError)
WrongTypeError = _subclass("WrongTypeError", -7, "HERD_ETYPE",
                       "A value or column has the wrong type (HERD_ETYPE).", TypeError)
LimitError = _subclass("LimitError", -8, "HERD_ELIMIT",
                       "A documented size limit was exceeded (HERD_ELIMIT).", ValueError)
XGBoostError = _subclass("XGBoostError", -9, "HERD_EXGBOOST",
                         "XGBoost reported an error (HERD_EXGBOOST).")
CanceledError = _subclass("CanceledError", -10, "HERD_ECANCELED",
                          "The operation was cancelled (HERD_ECANCELED).")
CorruptError = _subclass("CorruptError", -11, "HERD_ECORRUPT",
                         "A checksum or structure check failed (HERD_ECORRUPT).")
BusyError = _subclass("BusyError", -12, "HERD_EBUSY",
                      "A lock is held by someone else (HERD_EBUSY).")
BudgetError = _subclass("BudgetError", -14, "HERD_EBUDGET",
                        "More groups failed than max_failed allows (HERD_EBUDGET).")
InternalError = _subclass("InternalError", -15, "HERD_EINTERNAL",
                          "A bug in herd: please report it (HERD_EINTERNAL).")
ConflictError = _subclass("ConflictError", -16, "HERD_ECONFLICT",
                          "The registry changed under a conditional update (HERD_ECONFLICT).")
RefusedError = _subclass("RefusedError", -17, "HERD_EREFUSED",
                         "A safety rule (the promotion cap) refused the operation "
                         "(HERD_EREFUSED).")

_BY_CODE = {cls.code: cls for cls in (
    InvalidError, OutOfMemoryError, FileIOError, FormatError, NotFoundError, ExistsError,
    WrongTypeError,
    LimitError, XGBoostError, CanceledError, CorruptError, BusyError, BudgetError,
    InternalError, ConflictError, RefusedError)}


def error_class(code):
    """The exception class of a negative status code (herd.Error for codes
    this binding does not know: new codes may be added)."""
    return _BY_CODE.get(code, Error)
