#!/usr/bin/python3
"""Add up the results of every test run of `make test` and print the
closing line `N passed, N failed`.

usage: summarize.py LABEL=meson-testlog.json [LABEL=...]

A cmocka program counts as the number of test cases it ran (read from its
output), as does a program that prints `N passed, N failed`; any other test counts as one.  A program that failed beyond what
cmocka reported (a crash, a sanitizer or valgrind error, a timeout) adds
one failure.  A log that is missing counts as a failure: a run that did not
happen must not look green.
"""
import json
import re
import sys

PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
FAILED = re.compile(r"^\[  FAILED  \] (\d+) test\(s\), listed below", re.M)
SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) test\(s\), listed below", re.M)
PLAIN = re.compile(r"^(\d+) passed, (\d+) failed", re.M)
OK_RESULTS = {"OK", "EXPECTEDFAIL"}
SKIP_RESULTS = {"SKIP"}


def count_log(path):
    passed = failed = skipped = 0
    failures = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            # cmocka prints its closing counts on stderr
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            result = t.get("result", "FAIL")
            p = sum(int(n) for n in PASSED.findall(out))
            fl = sum(int(n) for n in FAILED.findall(out))
            skipped += sum(int(n) for n in SKIPPED.findall(out))
            for a, b in PLAIN.findall(out):
                p, fl = p + int(a), fl + int(b)
            if result in SKIP_RESULTS:
                skipped += 1
                continue
            if p or fl:
                passed += p
                failed += fl
                if result not in OK_RESULTS and fl == 0:
                    failed += 1
            elif result in OK_RESULTS:
                passed += 1
            else:
                failed += 1
            if result not in OK_RESULTS:
                failures.append(f"{t.get('name')} ({result})")
    return passed, failed, skipped, failures


def main(argv):
    total_p = total_f = total_s = 0
    for arg in argv:
        label, _, path = arg.partition("=")
        try:
            p, f, s, failures = count_log(path)
        except (OSError, ValueError) as e:
            p, f, s, failures = 0, 1, 0, [f"no usable test log ({e})"]
        print(f"{label:>10}: {p} passed, {f} failed, {s} skipped"
              + (f"  [{'; '.join(failures)}]" if failures else ""))
        total_p, total_f, total_s = total_p + p, total_f + f, total_s + s
    print(f"{total_p} passed, {total_f} failed" + (f", {total_s} skipped" if total_s else ""))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
