#!/usr/bin/python3
"""A host program builds and runs from the link recipes of docs/linking.md.

usage: check-link.py SOURCE_DIR HOST_C

Runs the documentation's own shell blocks (the fenced blocks that follow a
`<!-- check-link: NAME -->` line), in order, as one bash script with
`set -e`: `install` (meson setup and install into a temporary prefix, from
SOURCE_DIR), `libdir` (finding the pkg-config folder), `shared` and
`static` (building HOST_C, copied as myjob.c, and running it).  Then it
checks what the recipes promise:

  - the shared program loads libherd.so.0 from the prefix (its RUNPATH);
  - the static program does not need libherd.so at all;
  - the installed libherd.a defines no global symbol but herd_* ones;
  - herd.pc lists -lm and -pthread in Libs.private.

Prints `N passed, N failed`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARK = re.compile(r"^<!-- check-link: (\w+) -->\s*$")
BLOCKS = ("install", "libdir", "shared", "static")
# Variables of a surrounding `make test` that a nested meson must not see.
DROP_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PKG_CONFIG_PATH", "DESTDIR")


def doc_blocks(path):
    """The shell blocks of the document, by their check-link name."""
    blocks, name, body, inside = {}, None, [], False
    with open(path) as f:
        for line in f:
            m = MARK.match(line)
            if m:
                name = m.group(1)
            elif name and not inside and line.startswith("```"):
                inside, body = True, []
            elif inside and line.startswith("```"):
                blocks[name], name, inside = "".join(body), None, False
            elif inside:
                body.append(line)
    missing = [b for b in BLOCKS if b not in blocks]
    if missing:
        sys.exit(f"check-link: {path} has no check-link block named {', '.join(missing)}")
    return blocks


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        self.passed += bool(ok)
        self.failed += not ok
        print(("ok: " if ok else "FAILED: ") + what + ("" if ok or not detail else "\n" + detail))


def output(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    return r.returncode, r.stdout


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    source, host = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    blocks = doc_blocks(os.path.join(source, "docs", "linking.md"))
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="herd-link-") as tmp:
        prefix, build, work = (os.path.join(tmp, d) for d in ("prefix", "build", "work"))
        os.mkdir(work)
        shutil.copy(host, os.path.join(work, "myjob.c"))
        # install runs in the source tree (meson setup's source), the rest
        # where myjob.c is; one script, so that libdir carries over.
        script = ("set -e\n" + f'cd "{source}"\n' + blocks["install"] + f'cd "{work}"\n'
                  + blocks["libdir"] + 'echo "libdir=$libdir"\n'
                  + "echo '--- shared'\n" + blocks["shared"]
                  + "echo '--- static'\n" + blocks["static"])
        print(script)
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        env.update(PREFIX=prefix, BUILD=build)
        code, out = output(["bash", "-c", script], env=env)
        print(out[-8000:])
        checks.check(code == 0, "the documented recipes install, build and run the host, "
                     "shared and static")
        checks.check(out.count("host: ok") == 2, "both programs computed their predictions")
        m = re.search(r"^libdir=(.*)$", out, re.M)
        libdir = m.group(1) if m else os.path.join(prefix, "lib")
        shared, static = os.path.join(work, "myjob"), os.path.join(work, "myjob-static")

        _, ldd = output(["ldd", shared]) if os.path.exists(shared) else (1, "")
        line = next((l for l in ldd.splitlines() if "libherd.so" in l), "")
        checks.check(prefix in line, "the shared program loads libherd.so.0 from the prefix",
                     line or ldd)
        _, ldd = output(["ldd", static]) if os.path.exists(static) else (1, "")
        checks.check(bool(ldd) and "libherd" not in ldd,
                     "the static program does not need libherd.so", ldd)

        archive = os.path.join(libdir, "libherd.a")
        code, nm = output(["nm", "-g", "--defined-only", archive])
        names = [l.split()[-1] for l in nm.splitlines() if len(l.split()) == 3]
        foreign = [n for n in names if not n.startswith("herd_")]
        checks.check(code == 0 and names and not foreign,
                     f"libherd.a defines only herd_ globals ({len(names)})",
                     f"{len(foreign)} others: {' '.join(foreign[:40])}" if code == 0 else nm)

        pcenv = dict(env, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"))
        code, libs = output(["pkg-config", "--static", "--libs", "herd"], env=pcenv)
        flags = libs.split()
        checks.check(code == 0 and "-lm" in flags and "-pthread" in flags,
                     "pkg-config --static herd lists -lm and -pthread", libs)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
