"""Check that another checkout makes the same decisions as this one, through the CLI.

A restructuring must not change what the engine decides. This runs the same
``route``, ``optimize`` and ``simulate`` commands with two checkouts (each
with its own ``.venv``), on ``data/sample`` and on one generated scenario,
and compares every table they write: the same rows and text cells, numbers
equal to ``--rtol`` relative, in every column both write. Columns and files
only the checkout under test writes are listed as additions, not differences. Going through the command line keeps the check
independent of import names and internal APIs, so it holds across renames.

Run::

    git worktree add /tmp/before HEAD~5 && make -C /tmp/before setup
    .venv/bin/python -m benchmarks.ab_decisions /tmp/before
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent.parent

# (name, arguments after "cli.py"); {scenario} and {out} are filled in per run
RUNS = (
    ("route-cost", "route --scenario {scenario} --out {out}"),
    ("route-priority", "route --scenario {scenario} --out {out} --strategy priority"),
    ("route-nearest", "route --scenario {scenario} --out {out} --strategy nearest"),
    ("route-json", "route --scenario {scenario} --out {out} --format json"),
    ("optimize", "optimize --scenario {scenario} --out {out} --time-limit 60"),
    ("simulate", "simulate --scenario {scenario} --out {out} --strategies nearest,priority,cost,dual,batch15"),
)
GENERATE = "generate --out {out} --nodes 4 --stores 12 --vendors 2 --skus 120 --orders-per-day 150 --days 2 --seed 7"


def _run(checkout: Path, python: str, args: str, **fmt: Path) -> None:
    cmd = [python, str(checkout / "cli.py"), *args.format(**fmt).split()]
    done = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def _python(checkout: Path) -> str:
    venv = checkout / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


#: Notes that are not differences: what a table of ``after`` adds (a column, a file).
ADDED = "added in after"


def compare_tables(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> list[str]:
    """Differences between two tables (``a`` before, ``b`` after): row count, text cells and numbers
    beyond ``rtol`` in the columns both have, and a column ``b`` lacks. Columns only ``b`` has are
    a note (starting with :data:`ADDED`): new output is not a changed decision."""
    out = []
    gone = [c for c in a.columns if c not in b.columns]
    if gone:
        out.append(f"columns missing in after: {gone}")
    new = [c for c in b.columns if c not in a.columns]
    if new:
        out.append(f"{ADDED}: columns {new}")
    if len(a) != len(b):
        return out + [f"{len(a)} rows vs {len(b)}"]
    for c in (c for c in a.columns if c in b.columns):
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            same = np.isclose(xv, yv, rtol=rtol, atol=0.0, equal_nan=True)
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                out.append(f"{c}: {int((~same).sum())} cells differ, first at row {i}: {xv[i]!r} vs {yv[i]!r}")
        elif not x.astype(str).equals(y.astype(str)):
            i = int(np.flatnonzero(x.astype(str).to_numpy() != y.astype(str).to_numpy())[0])
            out.append(f"{c}: text differs, first at row {i}: {x.iloc[i]!r} vs {y.iloc[i]!r}")
    return out


def compare_folders(a: Path, b: Path, rtol: float) -> list[str]:
    """Differences between the CSV and JSON outputs of two runs."""
    problems = []
    names = sorted({p.relative_to(a) for p in a.rglob("*") if p.suffix in (".csv", ".json")}
                   | {p.relative_to(b) for p in b.rglob("*") if p.suffix in (".csv", ".json")})
    for name in names:
        pa_, pb_ = a / name, b / name
        if not pa_.exists():
            problems.append(f"{name}: {ADDED}: the file")
            continue
        if not pb_.exists():
            problems.append(f"{name}: only in before")
            continue
        if name.suffix == ".json":
            ta, tb = pd.read_json(pa_).astype(str), pd.read_json(pb_).astype(str)
        else:
            ta, tb = pd.read_csv(pa_), pd.read_csv(pb_)
        problems += [f"{name}: {p}" for p in compare_tables(ta, tb, rtol)]
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab_decisions", description=__doc__.split("\n")[0])
    p.add_argument("other", type=Path, help="the other checkout (with its own .venv)")
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance of numbers (default 1e-9)")
    p.add_argument("--keep", type=Path, help="write the outputs here instead of a temporary folder")
    args = p.parse_args(argv)
    sides = {"before": args.other.resolve(), "after": HERE}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        scenario = root / "generated"
        _run(HERE, _python(HERE), GENERATE, out=scenario)
        problems: list[str] = []
        notes: list[str] = []
        for label, scen in (("sample", HERE / "data" / "sample"), ("generated", scenario)):
            for name, run in RUNS:
                outs = {}
                for side, checkout in sides.items():
                    outs[side] = root / side / label / name
                    _run(checkout, _python(checkout), run, scenario=scen, out=outs[side])
                found = compare_folders(outs["before"], outs["after"], args.rtol)
                diff = [d for d in found if ADDED not in d]
                added = len(found) - len(diff)
                state = f"{len(diff)} differences" if diff else "same"
                print(f"{label:10s} {name:16s} {state}{f' ({added} additions)' if added else ''}", flush=True)
                problems += [f"{label}/{name}/{d}" for d in diff]
                notes += [f"{label}/{name}/{d}" for d in found if ADDED in d]
    for line in notes + problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
