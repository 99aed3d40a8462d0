#!/usr/bin/python3
"""The public header compiles alone, strictly, in the dialects hosts use.

usage: check-header.py STD HEADERS_DIR LIBRARY COMPILER [ARGS...]

STD is c89, c11 or c++11.  A translation unit that includes herd.h (twice:
the include guard), uses its macros and types and calls one function is
compiled with -std=STD -Wall -Wextra -pedantic -Werror (C also with
-Wstrict-prototypes: a `()` declaration is not a prototype before C23).
C++ is also linked against LIBRARY (libherd.so) and run: a header
without its extern "C" block compiles but does not link.

Prints `N passed, N failed`.
"""
import os
import subprocess
import sys
import tempfile

UNIT = r'''
#include "herd.h"
#include "herd.h"

/* The macros a binding checks at compile time. */
#if !defined(HERD_VERSION_NUMBER) || HERD_VERSION_NUMBER < 1
#error "HERD_VERSION_NUMBER is missing"
#endif

int main(void)
{
    herd_frame *frame = 0;
    const char *version = herd_version_string();
    int ok = herd_version() == HERD_VERSION_NUMBER && version != 0;
    herd_frame_free(frame);
    return ok ? 0 : 1;
}
'''

WARNINGS = ["-Wall", "-Wextra", "-pedantic", "-Werror"]
C_WARNINGS = WARNINGS + ["-Wstrict-prototypes", "-Wmissing-prototypes",
                         "-Wdeclaration-after-statement"]


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    std, headers, compiler = argv[1], argv[2], argv[4:]
    libdir = os.path.dirname(os.path.abspath(argv[3]))
    cxx = std.startswith("c++")
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="herd-header-") as tmp:
        src = os.path.join(tmp, "unit.cpp" if cxx else "unit.c")
        with open(src, "w") as f:
            f.write(UNIT)
        out = os.path.join(tmp, "unit")
        flags = [f"-std={std}", *(WARNINGS if cxx else C_WARNINGS), "-I", headers]
        if cxx:
            cmd = [*compiler, *flags, src, "-o", out, "-L", libdir, "-lherd",
                   f"-Wl,-rpath,{os.path.abspath(libdir)}"]
        else:
            cmd = [*compiler, *flags, "-c", src, "-o", out + ".o"]
        print("$ " + " ".join(cmd))
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        except FileNotFoundError:
            r = subprocess.CompletedProcess(cmd, 127, f"{compiler[0]} not found: install "
                                            f"{'g++' if cxx else 'gcc'} (`make test` does)")
        if r.returncode == 0:
            passed += 1
            print(f"ok: herd.h compiles as {std} with {' '.join(flags[1:-2])}")
        else:
            failed += 1
            print(f"FAILED: herd.h does not compile as {std}:\n{r.stdout}")
        if cxx and r.returncode == 0:
            run = subprocess.run([out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
            if run.returncode == 0:
                passed += 1
                print("ok: a C++ program links herd's C functions and runs")
            else:
                failed += 1
                print(f"FAILED: the C++ program exited {run.returncode}:\n{run.stdout}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
