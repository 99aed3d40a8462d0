#!/usr/bin/python3
"""Check the status codes of include/herd.h against the library and the docs:

  - every error code (negative) is raised somewhere in the library's sources
    besides lib's error module: a code nothing returns is removed before the
    freeze, and its number retired (the header lists retired numbers);
  - no retired number is given to a code again;
  - herd_status_str names every code (its switch lists each one);
  - docs/api.md's table of codes lists exactly the header's codes, with
    their numbers.

usage: check-status-codes.py SOURCE_ROOT
"""
import os
import re
import sys


def header_codes(text):
    body = text.split("typedef enum herd_status {")[1].split("} herd_status;")[0]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"\b(HERD_[A-Z]+)\s*=\s*(-?\d+)", body)}


def retired_numbers(text):
    m = re.search(r"Retired:([^.]*)\.", text)
    return {int(n) for n in re.findall(r"(-\d+)", m.group(1))} if m else set()


def library_sources(root):
    for d, _, files in os.walk(os.path.join(root, "lib")):
        for f in files:
            if f.endswith((".c", ".h")):
                yield os.path.join(d, f)


def main():
    root = sys.argv[1]
    header = open(os.path.join(root, "include", "herd.h")).read()
    codes = header_codes(header)
    problems = []
    if not codes:
        problems.append("no codes found in herd.h's enum herd_status")

    used, status_str = set(), ""
    for path in library_sources(root):
        text = open(path, encoding="utf-8").read()
        if "herd_status_str(int status)" in text:
            status_str = text.split("herd_status_str(int status)")[1].split("\n}\n")[0]
            text = text.replace(status_str, "")
        used |= set(re.findall(r"\b(HERD_E[A-Z]+)\b", text))
    for name, value in sorted(codes.items(), key=lambda kv: -kv[1]):
        if value < 0 and name not in used:
            problems.append(f"{name} ({value}) is never raised by the library: remove it "
                            "and retire its number in herd.h")
        if f"case {name}: return \"{name}\";" not in status_str:
            problems.append(f"herd_status_str does not name {name}")

    retired = retired_numbers(header)
    for name, value in codes.items():
        if value in retired:
            problems.append(f"{name} reuses the retired number {value}")

    api = open(os.path.join(root, "docs", "api.md")).read()
    documented = {m.group(1): int(m.group(2))
                  for m in re.finditer(r"^\| `(HERD_[A-Z]+)` \((-?\d+)\) \|", api, flags=re.M)}
    for name, value in codes.items():
        if name == "HERD_OK":
            continue
        if name not in documented:
            problems.append(f"docs/api.md's table of codes lacks {name}")
        elif documented[name] != value:
            problems.append(f"docs/api.md gives {name} as {documented[name]}, herd.h as {value}")
    for name in documented:
        if name not in codes:
            problems.append(f"docs/api.md lists {name}, which herd.h does not have")

    for p in problems:
        print("check-status-codes:", p)
    if not problems:
        print(f"check-status-codes: {len(codes)} codes, each raised, named and documented; "
              f"retired: {sorted(retired)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
