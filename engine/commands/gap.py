"""``cli.py gap``: solve OR-Library generalized assignment instances on the optimizer's MIP machinery."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from sourcewise.models.errors import ValidationError

_SKIP = {".csv", ".md", ".txt.md"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gap", help="solve OR-Library GAP instances to proven optimality")
    p.add_argument("paths", nargs="+", help="instance files, or folders of them")
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per instance (default 300)")
    p.add_argument("--solver", choices=("highs", "cpsat"), default="highs")
    p.add_argument("--optima", help="optima.csv (default: found next to the instances)")
    p.set_defaults(func=run)


def _files(paths: list[str]) -> tuple[list[Path], list[str]]:
    files, missing = [], []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir()
                                if f.is_file() and f.suffix not in _SKIP and f.name not in ("LICENSE", "README")))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(raw)
    return files, missing


def _optima_for(files: list[Path], explicit: str | None) -> dict[str, float]:
    from sourcewise.engine.optimize.gap import read_optima

    candidates = [Path(explicit)] if explicit else sorted({f.parent.parent / "optima.csv" for f in files}
                                                         | {f.parent / "optima.csv" for f in files})
    out: dict[str, float] = {}
    for c in candidates:
        if c.is_file():
            out.update(read_optima(c))
    return out


def run(args: argparse.Namespace) -> int:
    """Solve every instance and print one table row each (the command's output, printed under
    ``--quiet`` too), then a summary line; returns 1 when a proof contradicts a published optimum."""
    from sourcewise.engine.optimize.gap import load_gap
    from sourcewise.engine.optimize.gap import solve_gap
    from sourcewise.engine.summary import say

    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        print(f"error: --time-limit must be a positive number of seconds, got {args.time_limit}", file=sys.stderr)
        return 2
    files, missing = _files(args.paths)
    if missing:
        print("error: no such file or folder: " + ", ".join(missing), file=sys.stderr)
        return 2
    if args.optima and not Path(args.optima).is_file():
        print(f"error: no such file: {args.optima}", file=sys.stderr)
        return 2
    instances = []
    problems = []
    for f in files:
        try:
            instances.extend(load_gap(f))
        except ValidationError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{f}: {exc}")
    if problems:
        print("error: unreadable instances\n" + "\n".join(problems), file=sys.stderr)
        return 2
    optima = _optima_for(files, args.optima)
    t0 = time.perf_counter()
    proved = matched = known = wrong = 0
    print(f"{'instance':<24}{'cost':>10}{'bound':>10}  {'status':<10}{'optimum':>9}  match  seconds")
    for inst in instances:
        r = solve_gap(inst, args.time_limit, args.solver, optima.get(inst.name))
        proved += r.status == "optimal"
        if r.optimum is not None:
            known += 1
            matched += bool(r.matched)
            # a proof that disagrees with a published optimum means a bug somewhere
            wrong += r.status == "optimal" and not r.matched
        opt = f"{r.optimum:>9.0f}" if r.optimum is not None else f"{'-':>9}"
        match = {True: "yes", False: "no", None: "-"}[r.matched]
        print(f"{r.name:<24}{r.cost:>10.0f}{r.bound:>10.0f}  {r.status:<10}{opt}  {match:<5}  {r.seconds:7.2f}",
              flush=True)
    elapsed = time.perf_counter() - t0
    say(f"{len(instances)} instances, {proved} proven optimal, {matched}/{known} match the published optimum, "
          f"{elapsed:.1f} s")
    return 1 if wrong else 0
