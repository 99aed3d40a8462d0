#!/usr/bin/python3
"""Check that libherd exports exactly the symbols of lib/herd.map, that every
one starts with herd_, and that include/herd.h declares exactly those.
With --absent, also that no symbol of the given libraries, local ones
included (nm reads the symbol table, not only the dynamic one), matches
REGEX: test-only code such as the simulated filesystem of the crash tests
must not ship in libherd.

usage: check-symbols.py LIBHERD.so herd.map herd.h [--absent REGEX LIB...]
"""
import re
import subprocess
import sys


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDBRVWiu":
            names.add(parts[2].split("@")[0])
    # The version node itself shows up as an absolute symbol.
    return {n for n in names if not re.fullmatch(r"HERD_[0-9_.]+", n)}


def all_symbols(lib):
    """Every symbol nm sees in `lib` (a .so or a .a), local ones included."""
    out = subprocess.run(["nm", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.endswith(":"):
            names.add(parts[-1].split("@")[0])
    return names


def absent(regex, libs):
    """Problems: symbols of `libs` that match `regex`, and a library without
    any symbol table (then the check would prove nothing)."""
    problems = []
    for lib in libs:
        names = all_symbols(lib)
        if not names:
            problems.append(f"{lib}: no symbol table to check (stripped?)")
        for name in sorted(n for n in names if re.search(regex, n)):
            problems.append(f"{name}: in {lib}, but it is test-only code (matches {regex})")
    return problems


def in_map(path):
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    glob = text.split("global:")[1].split("local:")[0]
    return set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*;", glob))


def in_header(path):
    text = open(path).read()
    return set(re.findall(r"^HERD_API\b[^(;]*?\b(herd_[a-z0-9_]+)\s*\(", text, flags=re.M))


def main():
    lib, mapfile, header = sys.argv[1:4]
    rest = sys.argv[4:]
    exp, mp, hdr = exported(lib), in_map(mapfile), in_header(header)
    problems = []
    for what, a, b in (("exported but not in herd.map", exp, mp),
                       ("in herd.map but not exported", mp, exp),
                       ("declared HERD_API in herd.h but not in herd.map", hdr, mp),
                       ("in herd.map but not declared HERD_API in herd.h", mp, hdr)):
        for name in sorted(a - b):
            problems.append(f"{name}: {what}")
    for name in sorted(exp):
        if not name.startswith("herd_"):
            problems.append(f"{name}: exported without the herd_ prefix")
    if not exp:
        problems.append(f"{lib}: exports no symbol at all")
    if rest:
        if rest[0] != "--absent" or len(rest) < 3:
            print(__doc__)
            return 2
        problems += absent(rest[1], rest[2:])
        print(f"no symbol matching {rest[1]} in {len(rest) - 2} libraries")
    for p in problems:
        print(p)
    print(f"{len(exp)} exported symbols, {len(mp)} in the map, {len(hdr)} in the header")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
