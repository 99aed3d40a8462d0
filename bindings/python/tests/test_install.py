"""pip installs the package offline into a venv that sees Debian's numpy,
pandas and setuptools, and the installed package finds libherd."""

import os
import shutil
import subprocess
import sys

import herd

PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=170, **kw)
    assert r.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(map(str, args)), r.stdout,
                                                        r.stderr)
    return r.stdout


def test_pip_install_offline_into_a_system_site_packages_venv(tmp_path):
    src = tmp_path / "src"  # pip builds in the tree: build a copy, keep the source clean
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build",
                                                            "*.egg-info"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--quiet",
          "--disable-pip-version-check", str(src)])
    check = ("import herd, numpy, pandas as pd\n"
             "df = pd.DataFrame({'g': ['a'] * 20 + ['b'] * 20, 'x': numpy.arange(40.0),\n"
             "                   'y': numpy.arange(40.0) * 2})\n"
             "with herd.fit(df, by='g', features=['x'], label='y', rounds=3) as r:\n"
             "    assert list(r.report.status) == ['ok', 'ok']\n"
             "print(herd.__file__)\n"
             "print(herd.library_path)\n")
    env = dict(os.environ, HERD_LIBRARY=herd.library_path)
    out = _run([py, "-c", check], cwd=str(tmp_path), env=env).split("\n")
    assert str(venv) in out[0] and out[1] == herd.library_path

    # Beside the package: the library copied next to the installed herd/.
    installed = os.path.dirname(out[0])
    shutil.copy(herd.library_path, os.path.join(installed, "libherd.so.0"))
    env.pop("HERD_LIBRARY")
    out = _run([py, "-c", "import herd; print(herd.library_path)"], cwd=str(tmp_path),
               env=env)
    assert out.strip() == os.path.join(installed, "libherd.so.0")
