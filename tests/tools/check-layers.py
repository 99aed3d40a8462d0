#!/usr/bin/python3
"""Check that lib/ keeps its layers (docs/design.md, "Source layout").

Every source file sits in a layer folder; every #include "..." names its
folder ("common/mem_internal.h", or the public "herd.h") and points to the
same folder or to a layer below; and no two modules (a folder's X.c with
its X_internal.h) include each other, directly or through others.  Each
problem is printed as FILE:LINE: what is wrong; the exit status is 1 if
there is any.

usage: check-layers.py LIBDIR
       check-layers.py --self-test   (the checker finds what it must)
"""
import os
import re
import sys
import tempfile

# Each layer, bottom to top, with the layers it may include.  train and
# registry are side by side: neither includes the other.
LAYERS = {
    "common": set(),
    "data": {"common"},
    "model": {"common", "data"},
    "artifact": {"common", "data", "model"},
    "train": {"common", "data", "model", "artifact"},
    "registry": {"common", "data", "model", "artifact"},
    "decide": {"common", "data", "model", "artifact", "train", "registry"},
}
# Files of lib/ that are not sources.
NOT_SOURCES = {"herd.map", "meson.build"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module_of(rel):
    """'registry/index_internal.h' -> 'registry/index'."""
    base = re.sub(r"(_internal)?\.[ch]$", "", rel)
    return base


def sources(libdir):
    """Relative paths of every file under libdir, and problems of placement."""
    files, problems = [], []
    for root, dirs, names in os.walk(libdir):
        dirs.sort()
        for name in sorted(names):
            rel = os.path.relpath(os.path.join(root, name), libdir)
            if rel in NOT_SOURCES or rel.endswith("/meson.build"):
                continue
            parts = rel.split(os.sep)
            if not name.endswith((".c", ".h")):
                continue
            if len(parts) != 2 or parts[0] not in LAYERS:
                problems.append(f"{rel}:1: not in a layer folder "
                                f"({', '.join(LAYERS)}): move it into one")
                continue
            files.append("/".join(parts))
    return files, problems


def check(libdir):
    files, problems = sources(libdir)
    known = set(files)
    edges = {}  # module -> {module: (file, line)}
    for rel in files:
        layer = rel.split("/")[0]
        with open(os.path.join(libdir, rel), encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                where = f"{rel}:{lineno}"
                if inc == "herd.h":
                    continue
                if "/" not in inc:
                    problems.append(f'{where}: #include "{inc}" does not name its layer '
                                    f'(write "LAYER/{inc}", lib/ is the include root)')
                    continue
                if inc not in known:
                    problems.append(f'{where}: #include "{inc}": no such file under lib/')
                    continue
                if inc.endswith(".c"):
                    problems.append(f'{where}: #include "{inc}" includes a source file')
                    continue
                target = inc.split("/")[0]
                if target != layer and target not in LAYERS[layer]:
                    problems.append(f'{where}: #include "{inc}" points up or across: '
                                    f'{layer} may include only '
                                    f'{", ".join(sorted(LAYERS[layer] | {layer}))}')
                a, b = module_of(rel), module_of(inc)
                if a != b:
                    edges.setdefault(a, {}).setdefault(b, where)
    problems += cycles(edges)
    return problems


def cycles(edges):
    """One problem per cycle of the module graph, naming each include."""
    problems, seen_cycles = [], set()
    state = {}  # module -> 1 on the stack, 2 done
    stack = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, {})):
            if state.get(n) == 1:
                cyc = stack[stack.index(n):] + [n]
                key = frozenset(cyc)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    hops = ", ".join(f"{edges[x][y]} ({x} -> {y})"
                                     for x, y in zip(cyc, cyc[1:]))
                    problems.append(f"{edges[cyc[0]][cyc[1]]}: include cycle "
                                    f"{' -> '.join(cyc)}: {hops}")
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return problems


def self_test():
    """Build a small tree with one of each fault; each must be reported."""
    tree = {
        "common/a.c": '#include "common/a_internal.h"\n',
        "common/a_internal.h": "",
        "data/b.c": '#include "train/c_internal.h"\n',          # up
        "train/c_internal.h": "",
        "model/d.c": '#include "model/e_internal.h"\n',
        "model/d_internal.h": "",
        "model/e.c": '#include "model/d_internal.h"\n',         # cycle d <-> e
        "model/e_internal.h": "",
        "registry/f.c": '#include "train/c_internal.h"\n',      # across
        "artifact/g.c": '#include "a_internal.h"\n',            # no layer
        "loose.c": "",                                          # not in a layer
        "decide/h.c": '#include "common/a_internal.h"\n#include "herd.h"\n',  # fine
    }
    want = ["data/b.c:1: #include \"train/c_internal.h\" points up",
            "include cycle model/d -> model/e -> model/d",
            "registry/f.c:1: #include \"train/c_internal.h\" points up or across",
            "artifact/g.c:1: #include \"a_internal.h\" does not name its layer",
            "loose.c:1: not in a layer folder"]
    with tempfile.TemporaryDirectory() as d:
        for rel, text in tree.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        got = check(d)
    missing = [w for w in want if not any(w in p for p in got)]
    extra = [p for p in got if not any(w in p for w in want)]
    for p in got:
        print("found:", p)
    for w in missing:
        print("MISSED:", w)
    for p in extra:
        print("UNEXPECTED:", p)
    return 1 if missing or extra else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems = check(sys.argv[1])
    prefix = os.path.basename(os.path.normpath(sys.argv[1])) + "/"
    for p in problems:
        print(prefix + p)
    files, _ = sources(sys.argv[1])
    print(f"{len(files)} files in {len(LAYERS)} layers, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
