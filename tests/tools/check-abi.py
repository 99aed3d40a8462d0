#!/usr/bin/python3
"""The ABI of libherd.so against the committed baseline (abi/libherd.abi).

usage: check-abi.py check BASELINE LIBRARY HEADERS_DIR
       check-abi.py write BASELINE LIBRARY HEADERS_DIR

check  runs abidiff (Debian's abigail-tools) between the baseline and the
       built library, restricted to the types of the public headers, and
       fails listing every change: a function added, removed or changed, a
       struct that grew, a changed enum value.  Every ABI change must be
       deliberate: regenerate the baseline (`make abi-baseline`) and say
       what changed in CHANGELOG.md.
write  regenerates the baseline from the built library (what
       `make abi-baseline` runs).

The library must be built with debug information (meson's default
debugoptimized build): abidw reads the types from it.  The baseline holds
no path of the machine it was written on.
"""
import os
import shutil
import subprocess
import sys

# What abidw keeps: the public types only, and nothing that depends on the
# machine or the build folder (paths, DT_NEEDED), with type ids that do
# not renumber when an unrelated type is added.
ABIDW_FLAGS = ["--drop-private-types", "--drop-undefined-syms", "--no-corpus-path",
               "--no-comp-dir-path", "--no-show-locs", "--no-elf-needed",
               "--type-id-style", "hash"]

# abidiff's exit status is a bit field (libabigail's abidiff_status).
ABIDIFF_ERROR, ABIDIFF_USAGE_ERROR = 1, 2
ABIDIFF_ABI_CHANGE, ABIDIFF_ABI_INCOMPATIBLE_CHANGE = 4, 8


def tool(name):
    path = shutil.which(name)
    if not path:
        sys.exit(f"check-abi: {name} not found: install Debian's abigail-tools "
                 f"(`make test` does)")
    return path


def write(baseline, library, headers):
    os.makedirs(os.path.dirname(os.path.abspath(baseline)), exist_ok=True)
    cmd = [tool("abidw"), "--headers-dir", headers, *ABIDW_FLAGS, "--out-file", baseline,
           library]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"check-abi: abidw failed (exit {r.returncode}):\n{r.stdout}")
    with open(baseline) as f:
        functions = f.read().count("<elf-symbol ")
    if functions == 0:
        sys.exit(f"check-abi: abidw wrote no exported symbol to {baseline}")
    print(f"wrote {baseline}: {functions} exported symbols with their types")
    return 0


def check(baseline, library, headers):
    if not os.path.exists(baseline):
        print(f"FAILED: no ABI baseline at {baseline}; write one with `make abi-baseline`")
        print("0 passed, 1 failed")
        return 1
    cmd = [tool("abidiff"), "--headers-dir2", headers, "--drop-private-types",
           "--no-show-locs", baseline, library]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode & (ABIDIFF_ERROR | ABIDIFF_USAGE_ERROR):
        print(f"FAILED: abidiff could not compare (exit {r.returncode}):\n{r.stdout}")
        print("0 passed, 1 failed")
        return 1
    if r.returncode:
        kind = ("incompatible" if r.returncode & ABIDIFF_ABI_INCOMPATIBLE_CHANGE
                else "compatible")
        print(f"FAILED: the ABI of {os.path.basename(library)} differs from {baseline} "
              f"({kind} change):\n")
        print(r.stdout)
        print("If every change above is deliberate: run `make abi-baseline`, commit "
              "abi/libherd.abi, and list the changes in CHANGELOG.md.")
        print("0 passed, 1 failed")
        return 1
    print(f"ok: the ABI of {os.path.basename(library)} is the baseline's")
    print("1 passed, 0 failed")
    return 0


def main(argv):
    if len(argv) != 5 or argv[1] not in ("check", "write"):
        sys.exit(__doc__)
    _, mode, baseline, library, headers = argv
    return (write if mode == "write" else check)(baseline, library, headers)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
