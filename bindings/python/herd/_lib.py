"""Loading libherd and declaring its C functions for ctypes.

Every function the package calls is declared here, once, with its argtypes
and restype, as xgboost's and LightGBM's packages do: ctypes then converts
and checks each argument, and an int64 or a size_t never goes through a C
int.  Nothing but the public header (include/herd.h) is used.
"""

import ctypes
import ctypes.util
import os

from . import _errors

# The library this package was written for: same major, minor not older.
REQUIRED_MAJOR = 0
REQUIRED_MINOR = 2

HERD_OK = 0
HERD_MISSING = 2
HERD_SKIP = 1

TYPE_FLOAT32, TYPE_FLOAT64, TYPE_INT32, TYPE_INT64, TYPE_STRING = 1, 2, 3, 4, 5
COLUMN_BORROW = 0x1
COLUMN_MASK_MISSING = 0x2
MODEL_UBJSON, MODEL_JSON = 1, 2

LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3

c_size_t = ctypes.c_size_t
c_size_t_p = ctypes.POINTER(ctypes.c_size_t)
c_char_p = ctypes.c_char_p
c_char_pp = ctypes.POINTER(ctypes.c_char_p)
c_void_p = ctypes.c_void_p
c_void_pp = ctypes.POINTER(ctypes.c_void_p)
c_int = ctypes.c_int
c_int_p = ctypes.POINTER(ctypes.c_int)
c_uint = ctypes.c_uint
c_int64 = ctypes.c_int64
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_uint64 = ctypes.c_uint64
c_uint64_p = ctypes.POINTER(ctypes.c_uint64)
c_double = ctypes.c_double
c_double_p = ctypes.POINTER(ctypes.c_double)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)
c_uint8_pp = ctypes.POINTER(c_uint8_p)


# Opaque handles: distinct pointer types, so that passing a groups handle
# where a frame is expected is a ctypes.ArgumentError, not a crash.
def _opaque(name):
    cls = type(name, (ctypes.Structure,), {})
    return cls, ctypes.POINTER(cls), ctypes.POINTER(ctypes.POINTER(cls))


Frame, FrameP, FramePP = _opaque("herd_frame")
Groups, GroupsP, GroupsPP = _opaque("herd_groups")
Model, ModelP, ModelPP = _opaque("herd_model")
Predictor, PredictorP, PredictorPP = _opaque("herd_predictor")
FitResult, FitResultP, FitResultPP = _opaque("herd_fit_result")
Artifact, ArtifactP, ArtifactPP = _opaque("herd_artifact")
Uri, UriP, UriPP = _opaque("herd_uri")
Registry, RegistryP, RegistryPP = _opaque("herd_registry")
Batch, BatchP, BatchPP = _opaque("herd_batch")
Options, OptionsP, OptionsPP = _opaque("herd_options")
Champions, ChampionsP, ChampionsPP = _opaque("herd_champions")
CyclePart, CyclePartP, CyclePartPP = _opaque("herd_cycle_part")
CycleRun, CycleRunP, CycleRunPP = _opaque("herd_cycle_run")


class LogRecord(ctypes.Structure):
    """herd_log_record (starts with struct_size; read a field only when it
    covers it)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("level", c_int),
        ("message", c_char_p),
        ("phase", c_char_p),
        ("group", c_char_p),
        ("family", c_char_p),
        ("run_id", c_char_p),
        ("elapsed_s", c_double),
        ("source", c_char_p),
    ]


class Progress(ctypes.Structure):
    """herd_progress (starts with struct_size)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("groups_total", c_size_t),
        ("groups_done", c_size_t),
        ("groups_failed", c_size_t),
        ("groups_skipped", c_size_t),
        ("rows_total", c_size_t),
        ("rows_done", c_size_t),
        ("elapsed_s", c_double),
        ("phase", c_char_p),
        ("phase_index", c_int),
        ("phase_total", c_int),
        ("bytes_total", ctypes.c_uint64),
        ("bytes_done", ctypes.c_uint64),
    ]


class GroupTask(ctypes.Structure):
    """herd_group_task (starts with struct_size)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("index", c_size_t),
        ("key", c_char_p),
        ("frame", FrameP),
        ("rows", c_size_t_p),
        ("n_rows", c_size_t),
        ("worker", c_int),
        ("n_threads", c_int),
    ]


def covers(struct, field):
    """Whether a callback struct filled by the library holds `field`."""
    f = getattr(type(struct), field)
    return struct.struct_size >= f.offset + f.size


LOG_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(LogRecord), c_void_p)
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(Progress), c_void_p)
GROUP_FN = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(GroupTask), c_void_p)

# name: (restype, [argtypes]).  One line per C function the package calls.
_DECLARATIONS = {
    # version, errors, logging, threads
    "herd_version": (c_uint, []),
    "herd_version_string": (c_char_p, []),
    "herd_status_str": (c_char_p, [c_int]),
    "herd_last_error": (c_char_p, []),
    "herd_last_error_code": (c_int, []),
    "herd_clear_error": (None, []),
    "herd_error_set": (c_int, [c_int, c_char_p]),
    "herd_log_set": (c_int, [LOG_FN, c_void_p, c_int]),
    "herd_log_level_name": (c_char_p, [c_int]),
    "herd_default_threads": (c_int, []),
    "herd_free": (None, [c_void_p]),
    # frames
    "herd_type_name": (c_char_p, [c_int]),
    "herd_frame_new": (c_int, [FramePP]),
    "herd_frame_free": (None, [FrameP]),
    "herd_frame_add_column": (c_int, [FrameP, c_char_p, c_int, c_void_p, c_size_t, c_void_p]),
    "herd_frame_row_count": (c_size_t, [FrameP]),
    "herd_frame_column_count": (c_size_t, [FrameP]),
    "herd_frame_find": (c_int, [FrameP, c_char_p, c_size_t_p]),
    "herd_frame_column_name": (c_char_p, [FrameP, c_size_t]),
    "herd_frame_column_type": (c_int, [FrameP, c_size_t]),
    "herd_frame_column_data": (c_int, [FrameP, c_size_t, c_void_pp, c_size_t_p, c_uint8_pp]),
    "herd_frame_read_csv": (c_int, [c_char_p, c_void_p, FramePP]),
    "herd_frame_write_csv": (c_int, [FrameP, c_char_p, c_void_p]),
    # groups and apply
    "herd_groups_new": (c_int, [FrameP, c_char_pp, c_size_t, GroupsPP]),
    "herd_groups_free": (None, [GroupsP]),
    "herd_groups_count": (c_size_t, [GroupsP]),
    "herd_groups_missing_count": (c_size_t, [GroupsP]),
    "herd_groups_key": (c_char_p, [GroupsP, c_size_t]),
    "herd_groups_row_count": (c_size_t, [GroupsP, c_size_t]),
    "herd_groups_rows": (c_int, [GroupsP, c_size_t, ctypes.POINTER(c_size_t_p), c_size_t_p]),
    "herd_groups_summary": (c_int, [GroupsP, FramePP]),
    "herd_apply": (c_int, [GroupsP, GROUP_FN, c_void_p, c_void_p, FramePP]),
    # models and prepared predictors
    "herd_model_load": (c_int, [c_void_p, c_size_t, ModelPP]),
    "herd_model_free": (None, [ModelP]),
    "herd_model_save": (c_int, [ModelP, c_int, c_void_pp, c_size_t_p]),
    "herd_model_feature_count": (c_size_t, [ModelP]),
    "herd_model_feature_name": (c_char_p, [ModelP, c_size_t]),
    "herd_model_feature_type": (c_char_p, [ModelP, c_size_t]),
    "herd_model_objective": (c_char_p, [ModelP]),
    "herd_model_output_count": (c_size_t, [ModelP]),
    "herd_model_predict": (c_int, [ModelP, FrameP, c_size_t_p, c_size_t, c_int, c_double_p,
                                   c_size_t]),
    "herd_predictor_new": (c_int, [ModelP, c_void_p, PredictorPP]),
    "herd_predictor_free": (None, [PredictorP]),
    "herd_predictor_num_features": (c_size_t, [PredictorP]),
    "herd_predictor_feature_name": (c_char_p, [PredictorP, c_size_t]),
    "herd_predictor_num_outputs": (c_size_t, [PredictorP]),
    "herd_predictor_predict": (c_int, [PredictorP, FrameP, c_size_t_p, c_size_t, c_double_p,
                                       c_size_t]),
    "herd_predictor_predict_dense": (c_int, [PredictorP, c_void_p, c_size_t, c_size_t,
                                             c_void_p, c_size_t]),
    # fit and grouped prediction
    "herd_fit": (c_int, [GroupsP, c_void_p, c_void_p, FitResultPP]),
    "herd_fit_result_free": (None, [FitResultP]),
    "herd_fit_result_count": (c_size_t, [FitResultP]),
    "herd_fit_result_report": (c_int, [FitResultP, FramePP]),
    "herd_fit_result_model": (c_int, [FitResultP, c_char_p, ModelPP]),
    "herd_fit_result_artifact": (c_int, [FitResultP, c_char_p, c_void_p, ArtifactPP]),
    "herd_predict": (c_int, [GroupsP, FitResultP, c_void_p, FramePP, c_size_t_p]),
    # artifacts
    "herd_artifact_from_model": (c_int, [ModelP, c_void_p, ArtifactPP]),
    "herd_artifact_free": (None, [ArtifactP]),
    "herd_artifact_to_buffer": (c_int, [ArtifactP, c_void_pp, c_size_t_p]),
    "herd_artifact_write_file": (c_int, [ArtifactP, c_char_p]),
    "herd_artifact_read": (c_int, [c_void_p, c_size_t, ArtifactPP]),
    "herd_artifact_read_file": (c_int, [c_char_p, ArtifactPP]),
    "herd_artifact_get": (c_int, [ArtifactP, c_char_p, c_char_pp]),
    "herd_artifact_metadata": (c_char_p, [ArtifactP]),
    "herd_artifact_metric": (c_int, [ArtifactP, c_char_p, c_double_p]),
    "herd_artifact_model": (c_int, [ArtifactP, ModelPP]),
    # metrics, names, URIs
    "herd_metric_eval": (c_int, [c_char_p, c_void_p, c_void_p, c_void_p, c_size_t, c_size_t,
                                 c_double_p, c_size_t_p]),
    "herd_name_validate": (c_int, [c_char_p, c_char_p]),
    "herd_key_encode": (c_int, [c_char_p, c_void_pp]),
    "herd_key_decode": (c_int, [c_char_p, c_void_pp]),
    "herd_uri_format": (c_int, [c_char_p, c_char_p, c_char_p, c_int64, c_void_pp]),
    # registry
    "herd_registry_open": (c_int, [c_char_p, c_void_p, RegistryPP]),
    "herd_registry_free": (None, [RegistryP]),
    "herd_registry_path": (c_char_p, [RegistryP]),
    "herd_registry_refresh": (c_int, [RegistryP]),
    "herd_registry_check": (c_int, [RegistryP, FramePP]),
    "herd_registry_check_with": (c_int, [RegistryP, c_void_p, FramePP]),
    "herd_registry_begin": (c_int, [RegistryP, BatchPP]),
    "herd_batch_add": (c_int, [BatchP, ArtifactP, c_void_p, c_size_t_p]),
    "herd_batch_add_bytes": (c_int, [BatchP, c_void_p, c_size_t, c_void_p, c_size_t_p]),
    "herd_batch_set_alias": (c_int, [BatchP, c_char_p, c_char_p, c_char_p, c_int64, c_void_p]),
    "herd_batch_archive": (c_int, [BatchP, c_char_p, c_char_p, c_int64, c_char_p]),
    "herd_batch_set_run": (c_int, [BatchP, c_char_p, c_char_p, c_char_p]),
    "herd_batch_set_progress": (c_int, [BatchP, PROGRESS_FN, c_void_p]),
    "herd_batch_count": (c_size_t, [BatchP]),
    "herd_batch_commit": (c_int, [BatchP]),
    "herd_batch_version": (c_int, [BatchP, c_size_t, c_int64_p, c_int_p]),
    "herd_batch_free": (None, [BatchP]),
    "herd_registry_resolve": (c_int, [RegistryP, c_char_p, c_char_p, c_char_p, c_int64_p]),
    "herd_registry_aliases": (c_int, [RegistryP, c_char_p, c_char_p, FramePP]),
    "herd_registry_load": (c_int, [RegistryP, c_char_p, c_char_p, c_int64, ArtifactPP]),
    "herd_registry_load_uri": (c_int, [RegistryP, c_char_p, ArtifactPP]),
    "herd_registry_families": (c_int, [RegistryP, FramePP]),
    "herd_registry_groups": (c_int, [RegistryP, c_char_p, FramePP]),
    "herd_registry_versions": (c_int, [RegistryP, c_char_p, c_char_p, FramePP]),
    "herd_registry_search": (c_int, [RegistryP, c_void_p, FramePP]),
    "herd_registry_alias_history": (c_int, [RegistryP, c_char_p, c_char_p, c_char_p, FramePP]),
    "herd_registry_runs": (c_int, [RegistryP, FramePP]),
    "herd_registry_gc": (c_int, [RegistryP, c_uint64_p]),
    # champion / challenger, the cycle, registry prediction
    "herd_compare": (c_int, [RegistryP, GroupsP, c_void_p, c_void_p, FramePP, FramePP]),
    "herd_registry_rollback": (c_int, [RegistryP, c_char_p, c_char_p, c_char_p, c_char_p,
                                       FramePP]),
    "herd_cycle": (c_int, [RegistryP, GroupsP, c_void_p, c_void_p, c_void_p, FramePP,
                           FramePP]),
    "herd_registry_predict": (c_int, [RegistryP, GroupsP, c_void_p, c_void_p, FramePP,
                                      c_size_t_p]),
    # the weekly cycle in two stages (distributed runs)
    "herd_champions_new": (c_int, [ChampionsPP]),
    "herd_champions_free": (None, [ChampionsP]),
    "herd_champions_add": (c_int, [ChampionsP, c_char_p, c_int64, c_void_p, c_size_t]),
    "herd_champions_count": (c_size_t, [ChampionsP]),
    "herd_registry_champions": (c_int, [RegistryP, c_char_p, c_char_p, c_char_pp, c_size_t,
                                        ChampionsPP]),
    "herd_champions_to_buffer": (c_int, [ChampionsP, c_void_pp, c_size_t_p]),
    "herd_champions_read": (c_int, [c_void_p, c_size_t, ChampionsPP]),
    "herd_cycle_train": (c_int, [GroupsP, c_void_p, c_void_p, ChampionsP, c_void_p,
                                 CyclePartPP]),
    "herd_cycle_part_free": (None, [CyclePartP]),
    "herd_cycle_part_count": (c_size_t, [CyclePartP]),
    "herd_cycle_part_report": (c_int, [CyclePartP, FramePP]),
    "herd_cycle_part_artifact": (c_int, [CyclePartP, c_size_t, c_void_pp, c_size_t_p]),
    "herd_cycle_part_to_buffer": (c_int, [CyclePartP, c_void_pp, c_size_t_p]),
    "herd_cycle_part_read": (c_int, [c_void_p, c_size_t, CyclePartPP]),
    "herd_cycle_begin": (c_int, [RegistryP, c_void_p, c_void_p, CycleRunPP]),
    "herd_cycle_run_add": (c_int, [CycleRunP, CyclePartP]),
    "herd_cycle_run_commit": (c_int, [CycleRunP, FramePP, FramePP]),
    "herd_cycle_run_free": (None, [CycleRunP]),
    # options by name
    "herd_options_new": (c_int, [c_char_p, OptionsPP]),
    "herd_options_free": (None, [OptionsP]),
    "herd_options_struct": (c_void_p, [OptionsP, c_char_p]),
    "herd_options_set": (c_int, [OptionsP, c_char_p, c_char_p]),
    "herd_options_set_strings": (c_int, [OptionsP, c_char_p, c_char_pp, c_size_t]),
    "herd_options_set_entry": (c_int, [OptionsP, c_char_p, c_char_p, c_char_p]),
    "herd_options_set_pointer": (c_int, [OptionsP, c_char_p, c_void_p]),
    "herd_options_set_progress": (c_int, [OptionsP, c_char_p, PROGRESS_FN, c_void_p]),
    "herd_options_get": (c_int, [OptionsP, c_char_p, c_void_pp]),
    "herd_options_table": (c_int, [c_char_p, FramePP]),
}

class LibraryError(ImportError):
    """libherd could not be found or is not a version this package supports."""


def _package_dir():
    return os.path.dirname(os.path.abspath(__file__))


def _candidates():
    """Where to look, in order: $HERD_LIBRARY, beside the package, the
    build directory of the source tree the package sits in, the system
    loader."""
    env = os.environ.get("HERD_LIBRARY")
    if env:
        yield "HERD_LIBRARY", env
        return
    here = _package_dir()
    for name in ("libherd.so.0", "libherd.so", "libherd.dylib", "herd.dll"):
        path = os.path.join(here, name)
        if os.path.exists(path):
            yield "beside the package", path
    # bindings/python/herd -> the source tree's root, then its meson build.
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    for build in ("build", "builddir"):
        path = os.path.join(root, build, "lib", "libherd.so.0")
        if os.path.exists(path):
            yield "the build directory", path
    found = ctypes.util.find_library("herd")
    yield "the system loader", found or "libherd.so.0"


def _version_of(lib):
    lib.herd_version.restype = c_uint
    lib.herd_version.argtypes = []
    lib.herd_version_string.restype = c_char_p
    lib.herd_version_string.argtypes = []
    return lib.herd_version(), lib.herd_version_string().decode()


def check_version(number, text, path):
    """Refuse a library of another major or an older minor, naming both."""
    major, minor = number // 10000, number // 100 % 100
    if major != REQUIRED_MAJOR or minor < REQUIRED_MINOR:
        raise LibraryError(
            "%s is libherd %s, but this herd Python package needs libherd %d.%d or a newer "
            "%d.x; install a matching library or point HERD_LIBRARY at one"
            % (path, text, REQUIRED_MAJOR, REQUIRED_MINOR, REQUIRED_MAJOR))


def _declare(lib):
    for name, (restype, argtypes) in _DECLARATIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryError("%s has no function %s: it is not the libherd this package was "
                               "written for" % (lib._name, name)) from None
        fn.restype = restype
        fn.argtypes = argtypes


def load():
    """Find, load, check and declare libherd (see _candidates)."""
    tried = []
    for where, path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s): %s" % (path, where, e))
            continue
        number, text = _version_of(lib)
        check_version(number, text, path)
        _declare(lib)
        lib.herd_path = path
        return lib
    raise LibraryError("libherd was not found; tried " + "; ".join(tried) +
                       ". Build it (meson setup build && meson compile -C build), install it, "
                       "or set HERD_LIBRARY to the path of libherd.so")


lib = load()


def last_error():
    return lib.herd_last_error().decode("utf-8", "replace")


def check(rc, what=None):
    """Raise the herd.Error subclass of a negative status, with the C
    message; return positive outcomes (HERD_MISSING) unchanged."""
    if rc >= 0:
        return rc
    message = last_error()
    if not message:
        message = lib.herd_status_str(rc).decode()
    if what:
        message = "%s: %s" % (what, message)
    cls = _errors.error_class(rc)
    raise cls(message, rc, lib.herd_status_str(rc).decode())


def enc(text, what="argument"):
    """A Python str as NUL-terminated UTF-8 (None stays NULL)."""
    if text is None:
        return None
    if isinstance(text, bytes):
        return text
    if not isinstance(text, str):
        raise TypeError("%s must be a str, not %s" % (what, type(text).__name__))
    if "\0" in text:
        raise ValueError("%s %r contains a NUL character" % (what, text))
    return text.encode("utf-8")


def dec(raw):
    return None if raw is None else raw.decode("utf-8", "replace")


def take_string(ptr):
    """Text the library allocated (freed with herd_free)."""
    try:
        return ctypes.string_at(ptr).decode("utf-8") if ptr else None
    finally:
        lib.herd_free(ptr)


def take_bytes(ptr, n):
    try:
        return ctypes.string_at(ptr, n) if ptr else b""
    finally:
        lib.herd_free(ptr)
