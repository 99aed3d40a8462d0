#!/usr/bin/python3
"""The herd program: every subcommand, its exit codes and its bad inputs.

usage: test_cli.py HERD SOURCE_DIR OUT_DIR [--chromium]

HERD is the built program; OUT_DIR (the build folder) receives the report's
screenshot.  With --chromium, the report is also rendered in headless
Chromium (tests/cli/chromium_check.py).  Generates its data with the
standard library alone.  Prints `N passed, N failed`.
"""
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERD = SOURCE = OUT = TMP = None
PASSED = FAILED = 0


def check(ok, what, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"ok: {what}")
    else:
        FAILED += 1
        print(f"FAILED: {what}\n{detail}")


def herd(*args, timeout=300):
    r = subprocess.run([HERD, *args], capture_output=True, text=True, timeout=timeout,
                       cwd=TMP)
    return r.returncode, r.stdout, r.stderr


def expect(code, args, what, needle=None, where="stderr"):
    rc, out, err = herd(*args)
    text = err if where == "stderr" else out
    ok = rc == code and (needle is None or needle in text)
    check(ok, f"{what} (exit {code}" + (f", says '{needle}')" if needle else ")"),
          f"$ herd {' '.join(args)}\nexit {rc}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}")
    return out, err


def write_data(path, groups, weeks, drift=False, seed=1):
    """Weekly rows per store: y depends on x1, x2; with drift, every
    second store's level and slope change in its last weeks."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["store", "week", "x1", "x2", "y"])
        for g in range(groups):
            a, b = 1 + g % 5, 2 + g % 3
            for week in range(1, weeks + 1):
                x1, x2 = rng.uniform(0, 10), rng.uniform(0, 5)
                y = a * x1 + b * x2 + rng.gauss(0, 0.3)
                if drift and g % 2 == 0 and week > weeks - 30:
                    y = 0.3 * y + 20
                w.writerow([f"s{g:02d}", week, f"{x1:.4f}", f"{x2:.4f}", f"{y:.4f}"])


def job_file(name, data, registry_dir, **extra):
    job = {"family": "sales", "data": data, "keys": ["store"], "features": ["x1", "x2"],
           "label": "y", "params": {"max_depth": 3}, "rounds": 30,
           "holdout": {"order_by": "week", "periods": 10},
           "thresholds": {"metric": "rmse", "min_rel_delta": 0.02},
           "bootstrap": {"resamples": 50, "seed": 3}, "cap": {"max_promote_fraction": 1},
           "targets": {"dev": {"registry": registry_dir + "-dev"},
                       "staging": {"registry": registry_dir + "-staging",
                                   "overrides": {"rounds": 20}},
                       "prod": {"registry": registry_dir + "-prod"}}}
    job.update(extra)
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(job, f, indent=1)
    return path


def test_help():
    expect(2, [], "no command prints the overview to stderr", "usage: herd COMMAND")
    out, _ = expect(0, ["--help"], "--help lists the commands", "registry copy", where="stdout")
    expect(0, ["--version"], "--version", "herd 0.2.0", where="stdout")
    commands = ["fit", "cycle", "predict", "export", "import", "report"]
    commands += [["registry", c] for c in ("ls", "show", "history", "search", "runs", "gc",
                                            "check", "rollback", "copy")]
    commands += [["job", "validate"], ["job", "run"]]
    for c in commands:
        c = c if isinstance(c, list) else [c]
        expect(0, [*c, "--help"], f"herd {' '.join(c)} --help", "exit codes", where="stdout")
    expect(0, ["fit", "--help"], "fit --help documents the options from the C table",
           "--rounds int               boosting rounds (default 100)", where="stdout")
    expect(0, ["cycle", "--help"], "cycle --help documents nested compare options",
           "--compare.min_rel_delta", where="stdout")
    expect(2, ["fitt"], "an unknown command gets a suggestion", "did you mean 'fit'")
    expect(2, ["registry", "lss"], "an unknown registry command gets a suggestion",
           "did you mean 'registry ls'")
    expect(2, ["fit", "--roudns", "3"], "an unknown flag gets a suggestion",
           "did you mean --rounds?")
    expect(2, ["cycle", "--compare.metrc", "mae"], "a misspelt nested option gets a suggestion",
           "did you mean --compare.metric?")
    expect(2, ["cycle", "--fail-on-rejct"], "a misspelt command flag gets a suggestion",
           "did you mean --fail-on-reject?")
    expect(2, ["fit", "--keys", "store"], "a missing required flag is a usage error",
           "--data is required")


def test_fit(week1):
    expect(1, ["fit", "--data", "nope.csv", "--keys", "store", "--features", "x1",
               "--label", "y"], "fit: a missing data file names it", "nope.csv")
    expect(1, ["fit", "--data", week1, "--keys", "shop", "--features", "x1", "--label", "y"],
           "fit: an unknown key column names it", "shop")
    expect(1, ["fit", "--data", week1, "--keys", "store", "--features", "x1,x9",
               "--label", "y"], "fit: an unknown feature column names it", "x9")
    expect(2, ["fit", "--data", week1, "--keys", "store", "--features", "x1", "--label", "y",
               "--rounds", "-4"], "fit: an option out of bounds names the option", "rounds")
    out, _ = expect(0, ["fit", "--data", week1, "--keys", "store", "--features", "x1,x2",
                        "--label", "y", "--rounds", "20", "--params", "max_depth=3,eta=0.3"],
                    "fit prints its report as CSV")
    rows = list(csv.DictReader(out.splitlines()))
    check(len(rows) == 6 and all(r["status"] == "ok" for r in rows),
          "fit: one report row per group, all ok", out[:500])
    out, _ = expect(0, ["fit", "--json", "--data", week1, "--keys", "store", "--features",
                        "x1,x2", "--label", "y", "--rounds", "10", "--registry", "reg-fit",
                        "--family", "f", "--alias", "champion"],
                    "fit --json with --registry registers the models")
    check(len(json.loads(out)) == 6, "fit --json prints one object per group", out[:300])
    out, _ = expect(0, ["registry", "ls", "--registry", "reg-fit", "--family", "f"],
                    "registry ls --family lists the registered groups", where="stdout")
    check("champion=1" in out, "the fit's models carry the alias", out[:300])


def test_progress(week1):
    """A bar on a terminal (script(1) gives the program one), nothing otherwise."""
    cmd = [HERD, "fit", "--data", week1, "--keys", "store", "--features", "x1,x2", "--label",
           "y", "--rounds", "200", "--threads", "1", "--out", os.path.join(TMP, "r.csv")]
    r = subprocess.run(["script", "-qec", " ".join(cmd), "/dev/null"], capture_output=True,
                       text=True, timeout=300, cwd=TMP)
    check(r.returncode == 0 and "\x1b[K" in r.stdout and " fit " in r.stdout
          and "groups" in r.stdout and "[#" in r.stdout,
          "on a terminal: a progress bar with phase, bar and counts", repr(r.stdout[-600:]))
    rc, _, err = herd(*cmd[1:])
    check(rc == 0 and err == "", "not on a terminal: nothing on stderr", repr(err[-300:]))
    r = subprocess.run(["script", "-qec", " ".join(cmd + ["--quiet"]), "/dev/null"],
                       capture_output=True, text=True, timeout=300, cwd=TMP)
    check(r.returncode == 0 and "[" not in r.stdout, "--quiet: no bar on a terminal either",
          repr(r.stdout[-300:]))


def test_cycle(week1, week2):
    out, err = expect(0, ["cycle", "--data", week1, "--keys", "store", "--registry", "reg",
                          "--family", "sales", "--run-id", "w1", "--features", "x1,x2",
                          "--label", "y", "--rounds", "30", "--holdout_order_by", "week",
                          "--holdout_periods", "10", "--compare.max_promote_fraction", "1"],
                      "cycle week 1")
    rows = list(csv.DictReader(out.splitlines()))
    check(len(rows) == 6 and all(r["decision"] == "first" for r in rows),
          "cycle week 1: every group gets its first champion", out[:500])
    base = ["--keys", "store", "--registry", "reg", "--family", "sales", "--features", "x1,x2",
            "--label", "y", "--rounds", "30", "--holdout_order_by", "week",
            "--holdout_periods", "10", "--compare.min_rel_delta", "0.02"]
    expect(3, ["cycle", "--data", week1, "--run-id", "w1b", *base, "--fail-on-reject"],
           "cycle on the same data: no challenger wins, --fail-on-reject exits 3",
           "no challenger won")
    expect(3, ["cycle", "--data", week2, "--run-id", "w2", *base, "--fail-on-reject",
               "--compare.max_promote_fraction", "0.1"],
           "cycle past the promotion cap: refused, --fail-on-reject exits 3",
           "promotion refused")
    expect(0, ["cycle", "--data", week2, "--run-id", "w2", *base,
               "--compare.max_promote_fraction", "0.1"],
           "the same refusal without --fail-on-reject exits 0", "promotion refused")
    out, _ = expect(0, ["cycle", "--json", "--data", week2, "--run-id", "w3", *base,
                        "--compare.max_promote_fraction", "1", "--fail-on-reject"],
                    "cycle with drift promotes, --fail-on-reject exits 0")
    decisions = json.loads(out)
    check(sum(d["promoted"] for d in decisions) >= 2, "cycle --json: the drifted groups won",
          out[:600])
    expect(1, ["cycle", "--data", week2, "--run-id", "w4", *base[:-2], "--label", "yy"],
           "cycle: an unknown label column names it", "yy")


def test_predict(week2):
    out, err = expect(0, ["predict", "--data", week2, "--keys", "store", "--registry", "reg",
                          "--family", "sales"], "predict: CSV in, CSV out")
    rows = list(csv.DictReader(out.splitlines()))
    check(len(rows) == 6 * 80 and "prediction" in rows[0] and rows[0]["store"] == "s00"
          and rows[0]["prediction"] != "", "predict: every row with its columns and prediction",
          out[:300])
    expect(0, ["predict", "--data", week2, "--keys", "store", "--registry", "reg", "--family",
               "sales", "--out", "pred.csv"], "predict --out writes a file", "predicted 480 rows")
    check(os.path.getsize(os.path.join(TMP, "pred.csv")) > 1000, "predict: pred.csv written")
    expect(1, ["predict", "--data", week2, "--keys", "store", "--registry", "no-such-reg",
               "--family", "sales"], "predict: a missing registry is an error", "no-such-reg")


def test_registry():
    out, _ = expect(0, ["registry", "ls", "--registry", "reg"], "registry ls", where="stdout")
    check("sales" in out, "registry ls lists the family", out)
    out, _ = expect(0, ["registry", "show", "herd:sales/s01@champion", "--registry", "reg"],
                    "registry show", where="stdout")
    check(json.loads(out)["group"] == "s01", "registry show prints the metadata", out[:300])
    expect(1, ["registry", "show", "herd:sales/nope@champion", "--registry", "reg"],
           "registry show: an unknown group is an error", "nope")
    expect(1, ["registry", "show", "not-a-uri", "--registry", "reg"],
           "registry show: a malformed URI is an error", "not-a-uri")
    out, _ = expect(0, ["registry", "history", "--registry", "reg", "--family", "sales",
                        "--json"], "registry history --json", where="stdout")
    check(len(json.loads(out)) >= 6, "history lists the moves", out[:300])
    out, _ = expect(0, ["registry", "search", "--registry", "reg", "--family", "sales",
                        "--alias", "champion"], "registry search by options", where="stdout")
    check(len(out.splitlines()) == 7, "search: one champion per group", out[:400])
    expect(2, ["registry", "search", "--registry", "reg", "--famly", "sales"],
           "registry search: a misspelt option gets a suggestion", "did you mean --family?")
    out, _ = expect(0, ["registry", "runs", "--registry", "reg"], "registry runs", where="stdout")
    check("w1" in out and "w3" in out, "runs lists the cycles", out[:300])
    expect(0, ["registry", "check", "--registry", "reg"], "registry check", "no problems")
    expect(0, ["registry", "check", "--registry", "reg", "--deep"],
           "registry check --deep: every model validated", "no problems")
    expect(2, ["registry", "check", "--registry", "reg", "--dep"],
           "registry check: a misspelt option gets a suggestion", "did you mean --deep?")
    expect(0, ["registry", "gc", "--registry", "reg"], "registry gc", "reclaimed", "stdout")
    out, _ = expect(0, ["registry", "rollback", "--registry", "reg", "--family", "sales",
                        "--group", "s00", "--reason", "bad week"], "registry rollback",
                    where="stdout")
    check("s00,champion" in out, "rollback moved s00's champion", out)
    expect(1, ["registry", "rollback", "--registry", "reg", "--family", "nope"],
           "registry rollback: an unknown family is an error", "nope")
    expect(1, ["registry", "ls", "--registry", "missing-reg"],
           "registry ls: a missing registry is not created", "missing-reg")
    check(not os.path.exists(os.path.join(TMP, "missing-reg")), "... and was not created")


def test_copy():
    out, _ = expect(0, ["registry", "copy", "--from", "reg", "--to", "reg-prod", "--family",
                        "sales"], "registry copy", where="stdout")
    rows = list(csv.DictReader(out.splitlines()))
    check(len(rows) == 6 and all(r["status"] == "copied" for r in rows),
          "copy: every champion copied", out)
    out, _ = expect(0, ["registry", "copy", "--from", "reg", "--to", "reg-prod", "--family",
                        "sales", "--alias", "champion"], "registry copy again", where="stdout")
    check(all(r["status"] == "unchanged" for r in csv.DictReader(out.splitlines())),
          "copy is idempotent", out)
    out, _ = expect(0, ["registry", "history", "--registry", "reg-prod", "--family", "sales",
                        "--group", "s01", "--json"], "history of a copied group",
                    where="stdout")
    check(json.loads(out)[0]["details"]["source"]["group"] == "s01",
          "the copy's history carries its source", out[:400])
    expect(1, ["registry", "copy", "--from", "reg", "--to", "reg-prod", "--family", "nope"],
           "registry copy: nothing to copy is an error", "nothing to copy")
    expect(2, ["registry", "copy", "--from", "reg", "--family", "sales"],
           "registry copy without --to", "--to is required")


def test_export_import():
    expect(0, ["export", "herd:sales/s01@champion", "--registry", "reg", "--out", "m.herd"],
           "export an artifact")
    expect(0, ["export", "herd:sales/s01@champion", "--registry", "reg", "--out", "m.json",
               "--format", "json"], "export XGBoost JSON")
    with open(os.path.join(TMP, "m.json")) as f:
        check("learner" in json.load(f), "the exported JSON is an XGBoost model")
    expect(2, ["export", "herd:sales/s01@champion", "--registry", "reg", "--out", "m.x",
               "--format", "pickle"], "export: an unknown format is a usage error", "pickle")
    out, _ = expect(0, ["import", "m.json", "--registry", "reg-imp", "--family", "sales",
                        "--group", "s01", "--alias", "champion"], "import an XGBoost model",
                    where="stdout")
    check(out.startswith("herd:sales/s01/1"), "import prints the new version's URI", out)
    expect(0, ["import", "m.herd", "--registry", "reg-imp", "--family", "sales", "--group",
               "s01"], "import an artifact")
    with open(os.path.join(TMP, "garbage.bin"), "wb") as f:
        f.write(b"\x00garbage" * 10)
    expect(1, ["import", "garbage.bin", "--registry", "reg-imp", "--family", "sales",
               "--group", "s01"], "import: a file that is no model is an error", "garbage.bin")


def test_jobs(week1, week2):
    good = job_file("job.json", "week1.csv", "jreg")
    out, _ = expect(0, ["job", "validate", good], "job validate", "valid", "stdout")
    check("dev, staging, prod" in out, "validate lists the targets", out)
    for example in sorted(os.listdir(os.path.join(SOURCE, "examples", "jobs"))):
        expect(0, ["job", "validate", os.path.join(SOURCE, "examples", "jobs", example)],
               f"examples/jobs/{example} is valid")
    expect(1, ["job", "validate", "nope.json"], "job validate: a missing file", "nope.json")
    with open(os.path.join(TMP, "bad.json"), "w") as f:
        f.write('{"family": "sales",\n "data": }')
    expect(1, ["job", "validate", "bad.json"], "job validate: bad JSON names the line",
           "not valid JSON (line 2")
    bad_cases = [
        ({"featurs": ["x1"]}, "featurs: unknown key; did you mean 'features'?"),
        ({"holdout": {"order_by": "week", "perods": 3}},
         "holdout.perods: unknown key; did you mean 'periods'?"),
        ({"cap": {"max_promote_fraction": 2}}, "cap.max_promote_fraction"),
        ({"rounds": "many"}, "rounds"),
        ({"keys": []}, "keys: expected a non-empty array"),
        ({"targets": {"prod": {"overrides": {"rounds": 3}}}},
         "targets.prod.registry: missing"),
        ({"targets": {"prod": {"registry": "r", "overrides": {"cap": {"force": "maybe"}}}}},
         "targets.prod.overrides.cap.force"),
        ({"targets": {"prod": {"registry": 7}}}, "targets.prod.registry: expected"),
    ]
    for i, (extra, needle) in enumerate(bad_cases):
        path = job_file(f"bad{i}.json", "week1.csv", "jreg", **extra)
        expect(1, ["job", "validate", path], f"job validate refuses {list(extra)[0]}", needle)
    with open(os.path.join(TMP, "dup.json"), "w") as f:
        f.write('{"family": "a", "rounds": 3, "rounds": 4}')
    expect(1, ["job", "validate", "dup.json"], "job validate: a key twice is refused",
           "rounds: the key appears twice")
    with open(os.path.join(TMP, "big.json"), "w") as f:
        f.write('{"family": "' + "x" * (1024 * 1024 + 10) + '"}')
    expect(1, ["job", "validate", "big.json"], "job validate: the size limit", "at most")
    expect(1, ["job", "run", good, "--target", "prd"],
           "job run: an unknown target names it", "targets.prd: no such target; did you mean "
           "'prod'?")
    expect(2, ["job", "run", good], "job run without --target", "--target is required")
    expect(0, ["job", "run", good, "--target", "dev"], "job run week 1 on dev", "first 6")
    expect(0, ["job", "run", good, "--target", "dev"], "job run again: nothing new",
           "keep 6")
    _, err = expect(0, ["job", "run", good, "--target", "dev", "--data", week2, "--out",
                        "decisions.csv", "--fail-on-reject"], "job run with drift on dev",
                    "promote")
    check(os.path.exists(os.path.join(TMP, "decisions.csv")), "job run --out writes decisions")
    expect(0, ["job", "run", good, "--target", "staging"], "job run on staging (overrides)")
    nodata = job_file("nodata.json", "missing.csv", "jreg")
    expect(1, ["job", "run", nodata, "--target", "dev"], "job run: missing data names it",
           "missing.csv")
    badcol = job_file("badcol.json", "week1.csv", "jreg", features=["x1", "x7"])
    expect(1, ["job", "run", badcol, "--target", "dev"], "job run: an unknown column names it",
           "x7")
    # XGBoost parameter names are checked by the fit, before anything trains.
    badparam = job_file("badparam.json", "week1.csv", "jreg", params={"max_dept": 3})
    expect(1, ["job", "run", badparam, "--target", "dev"],
           "job run: an unknown XGBoost parameter names it", "max_dept")


def test_ctrl_c():
    """SIGINT during a long fit: the cycle stops and the registry is as before."""
    write_data(os.path.join(TMP, "big.csv"), groups=60, weeks=400, seed=9)
    before = herd("registry", "runs", "--registry", "reg")[1]
    p = subprocess.Popen([HERD, "cycle", "--data", "big.csv", "--keys", "store", "--registry",
                          "reg", "--family", "sales", "--run-id", "big", "--features", "x1,x2",
                          "--label", "y", "--rounds", "3000", "--holdout_order_by", "week",
                          "--threads", "1"],
                         cwd=TMP, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    running = p.poll() is None
    p.send_signal(signal.SIGINT)
    t0 = time.time()
    out, err = p.communicate(timeout=120)
    check(running, "the long cycle was still running when Ctrl-C came", err[-500:])
    check(p.returncode == 1 and "cancelled" in err, "Ctrl-C: exit 1, says cancelled",
          f"exit {p.returncode}: {err[-800:]}")
    check(time.time() - t0 < 30, "Ctrl-C: it stopped promptly")
    after = herd("registry", "runs", "--registry", "reg")[1]
    check(before == after, "Ctrl-C: the registry is as before the run", after[-500:])
    expect(0, ["registry", "check", "--registry", "reg"], "the registry checks clean after "
           "Ctrl-C", "no problems")


def test_report(chromium):
    expect(1, ["report", "--registry", "reg", "--family", "nope", "--out", "r.html"],
           "report: an unknown family is an error", "nope")
    expect(0, ["report", "--registry", "reg", "--family", "sales", "--out", "report.html"],
           "report", "report written")
    with open(os.path.join(TMP, "report.html")) as f:
        html = f.read()
    check("<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
          and "https://" not in html and "<link" not in html and " src=" not in html,
          "the report is self-contained (no URL but the SVG namespace)")
    if chromium:
        shot = os.path.join(OUT, "cli-report.png")
        r = subprocess.run([sys.executable, os.path.join(SOURCE, "tests", "cli",
                                                         "chromium_check.py"),
                            os.path.join(TMP, "report.html"), shot, "--expect-groups", "6",
                            "--search", "s03"], capture_output=True, text=True, timeout=180)
        print(r.stdout, end="")
        check(r.returncode == 0, "the report renders in headless Chromium", r.stdout + r.stderr)


def main(argv):
    global HERD, SOURCE, OUT, TMP
    if len(argv) < 4:
        sys.exit(__doc__)
    HERD, SOURCE, OUT = (os.path.abspath(a) for a in argv[1:4])
    chromium = "--chromium" in argv
    TMP = tempfile.mkdtemp(prefix="herd-cli-")
    try:
        week1, week2 = os.path.join(TMP, "week1.csv"), os.path.join(TMP, "week2.csv")
        write_data(week1, groups=6, weeks=50)
        write_data(week2, groups=6, weeks=80, drift=True)
        test_help()
        test_fit(week1)
        test_progress(week1)
        test_cycle(week1, week2)
        test_predict(week2)
        test_registry()
        test_copy()
        test_export_import()
        test_jobs(week1, week2)
        test_ctrl_c()
        test_report(chromium)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
