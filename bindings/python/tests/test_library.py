"""Finding and checking libherd; every ctypes declaration against the header."""

import os
import re
import subprocess
import sys

import pytest

import herd
from herd import _lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
HEADER = os.path.join(ROOT, "include", "herd.h")
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _header_functions():
    text = re.sub(r"/\*.*?\*/", "", open(HEADER).read(), flags=re.S)
    text = re.sub(r"#[^\n]*(\\\n[^\n]*)*", "", text)
    out = {}
    for ret, name, args in re.findall(r"HERD_API\s+([^;(]*?)\b(herd_\w+)\s*\(([^;]*?)\)\s*;",
                                       text, flags=re.S):
        args = " ".join(args.split())
        out[name] = (" ".join(ret.split()), 0 if args == "void" else args.count(",") + 1)
    return out


def test_every_declaration_matches_the_header():
    funcs = _header_functions()
    assert len(funcs) > 100
    for name, (restype, argtypes) in _lib._DECLARATIONS.items():
        assert name in funcs, "%s is declared for ctypes but not in include/herd.h" % name
        ret, nargs = funcs[name]
        assert len(argtypes) == nargs, "%s: %d argtypes, the header has %d arguments" % (
            name, len(argtypes), nargs)
        assert (restype is None) == (ret == "void"), "%s: restype %r vs %r" % (name, restype,
                                                                               ret)
        assert getattr(_lib.lib, name).argtypes == argtypes


def test_version_is_checked_naming_both():
    _lib.check_version(200, "0.2.0", "x.so")
    _lib.check_version(215, "0.2.15", "x.so")
    _lib.check_version(300, "0.3.0", "x.so")
    with pytest.raises(herd.LibraryError, match=r"old\.so is libherd 0\.1\.0.*needs libherd 0\.2"):
        _lib.check_version(100, "0.1.0", "old.so")
    with pytest.raises(herd.LibraryError, match=r"libherd 1\.2\.0.*needs libherd 0\.2"):
        _lib.check_version(10200, "1.2.0", "new.so")


def _import_with(env_update):
    env = dict(os.environ, **env_update)
    return subprocess.run([sys.executable, "-c", "import herd; print(herd.library_path)"],
                          cwd=PKG_PARENT, env=env, capture_output=True, text=True, timeout=60)


def test_herd_library_is_used_first():
    r = _import_with({"HERD_LIBRARY": herd.library_path})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == herd.library_path


def test_herd_library_that_does_not_exist_is_named():
    r = _import_with({"HERD_LIBRARY": "/nonexistent/libherd.so.0"})
    assert r.returncode != 0
    assert "LibraryError" in r.stderr and "/nonexistent/libherd.so.0" in r.stderr


def test_a_library_that_is_not_herd_is_refused():
    libm = None
    for cand in ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
                 "/lib64/libm.so.6"):
        if os.path.exists(cand):
            libm = cand
    if libm is None:
        import ctypes.util
        libm = ctypes.util.find_library("m")
    r = _import_with({"HERD_LIBRARY": libm})
    assert r.returncode != 0
    assert "LibraryError" in r.stderr or "herd_version" in r.stderr


def test_errors_carry_the_c_message_and_code():
    with pytest.raises(herd.InvalidError) as e:
        herd.metric("rmsee", [1.0], [1.0])
    assert e.value.code == -1 and e.value.status == "HERD_EINVAL"
    assert "rmsee" in str(e.value)
    assert isinstance(e.value, herd.Error) and isinstance(e.value, ValueError)


def test_lookup_order_beside_the_package_then_the_build_directory(tmp_path):
    # A source tree of its own: bindings/python/herd and build/lib.  Without
    # HERD_LIBRARY, a library beside the package wins over the build
    # directory's, which wins over the system loader; with none of them,
    # the error names every place tried.
    import shutil
    pkg = tmp_path / "bindings" / "python" / "herd"
    shutil.copytree(os.path.join(PKG_PARENT, "herd"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "build" / "lib").mkdir(parents=True)
    built = tmp_path / "build" / "lib" / "libherd.so.0"
    beside = pkg / "libherd.so.0"
    shutil.copy(herd.library_path, built)
    shutil.copy(herd.library_path, beside)
    env = {k: v for k, v in os.environ.items() if k != "HERD_LIBRARY"}

    def found():
        r = subprocess.run([sys.executable, "-c", "import herd; print(herd.library_path)"],
                           cwd=str(pkg.parent), env=env, capture_output=True, text=True,
                           timeout=60)
        return r.stdout.strip() if r.returncode == 0 else r.stderr

    assert found() == str(beside)
    beside.unlink()
    assert found() == str(built)
    built.unlink()
    import ctypes.util
    if ctypes.util.find_library("herd") is None:   # no libherd installed system-wide
        err = found()
        assert "libherd was not found" in err and "HERD_LIBRARY" in err
