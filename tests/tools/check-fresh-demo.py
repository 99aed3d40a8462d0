#!/usr/bin/python3
"""`make demo` on a machine that has only the demo's packages.

usage: check-fresh-demo.py SOURCE_DIR

A fresh Debian machine gets exactly the `build:` packages of
debian-packages.txt from `make demo`.  This test rebuilds that situation on
a machine that has everything: pkg-config sees only the .pc files that those
packages install (PKG_CONFIG_LIBDIR names a temporary folder holding copies
of them), and meson's CMake fallback is switched off (Debian's -dev
packages also ship CMake files, cmocka's among them, which a fresh machine
would not have).  Then it runs `make demo` itself, with its own build
folder and the demo's data and registry in the temporary folder, and checks
that it configures, builds and runs.  Then the same `make demo` with the
tests switched on must fail and name cmocka: that proves the restricted
view really hides a package the build packages do not provide.

Prints `N passed, N failed` for the checks it made.
"""
import os
import shutil
import subprocess
import sys
import tempfile

# Variables a surrounding `make test` exports: an inner make must not try
# to join the outer one's jobserver.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def read_packages(source, label):
    names = []
    path = os.path.join(source, "debian-packages.txt")
    with open(path) as f:
        for line in f:
            head, sep, rest = line.partition(":")
            if sep and head.strip() == label and not line.startswith("#"):
                names += rest.split()
    if not names:
        sys.exit(f"check-fresh-demo: no '{label}:' line in {path}")
    return names


def pc_files_of(package):
    """The pkg-config files that an installed Debian package ships."""
    out = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"check-fresh-demo: the build package {package} is not installed "
                 f"(dpkg-query -L: {out.stderr.strip()}); run `make demo` first")
    return [p for p in out.stdout.split() if p.endswith(".pc") and "/pkgconfig/" in p]


def restricted_env(tmp, pc_dir):
    """The environment of a machine with only the build packages."""
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}
    env.pop("PKG_CONFIG_PATH", None)
    env.pop("PKG_CONFIG_SYSROOT_DIR", None)
    env["PKG_CONFIG_LIBDIR"] = pc_dir
    # meson falls back to CMake package files when pkg-config fails; those
    # of packages outside the build set are installed here.  A cmake that
    # does not run makes meson skip that method.
    shim_dir = os.path.join(tmp, "bin")
    os.mkdir(shim_dir)
    shim = os.path.join(shim_dir, "cmake")
    with open(shim, "w") as f:
        f.write("#!/bin/sh\necho 'cmake is hidden by check-fresh-demo.py' >&2\nexit 127\n")
    os.chmod(shim, 0o755)
    env["PATH"] = shim_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    return env


def run_make(source, env, *args):
    cmd = ["make", "--no-print-directory", "-C", source, "demo", *args]
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return r.returncode, r.stdout


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"FAILED: {what}\n{detail}")


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    source = os.path.abspath(argv[1])
    if not shutil.which("make") or not shutil.which("dpkg-query"):
        sys.exit("check-fresh-demo: needs make and dpkg-query (a Debian machine)")
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="herd-fresh-demo-") as tmp:
        pc_dir = os.path.join(tmp, "pkgconfig")
        os.mkdir(pc_dir)
        copied = []
        for package in read_packages(source, "build"):
            for pc in pc_files_of(package):
                shutil.copy(pc, pc_dir)
                copied.append(os.path.basename(pc))
        print("pkg-config sees only: " + " ".join(sorted(copied)))
        env = restricted_env(tmp, pc_dir)
        hidden = subprocess.run(["pkg-config", "--exists", "cmocka"], env=env).returncode
        checks.check(hidden != 0, "cmocka is hidden from pkg-config")

        data, registry = os.path.join(tmp, "demo-data"), os.path.join(tmp, "demo-registry")
        code, out = run_make(source, env, "DEMO_BUILD=" + os.path.join(tmp, "build-demo"),
                             f"DEMO_DIR={data}", f"DEMO_REGISTRY={registry}")
        checks.check(code == 0, "make demo configures, builds and runs with the build "
                     "packages only", out[-6000:])
        checks.check(code == 0 and "decisions" in out and "predicted" in out
                     and os.path.isdir(registry),
                     "the demo ran its cycle and wrote its registry", out[-3000:])
        checks.check(code == 0 and "herd: decisions: promote" in out
                     and os.path.isfile(os.path.join(data, "report.html")),
                     "the demo ran `herd job run` twice and wrote the report", out[-3000:])

        code, out = run_make(source, env, "DEMO_BUILD=" + os.path.join(tmp, "build-tests"),
                             "DEMO_OPTIONS=-Dtests=true")
        checks.check(code != 0 and "cmocka" in out,
                     "the same set-up with the tests switched on fails for lack of cmocka",
                     out[-3000:])
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
