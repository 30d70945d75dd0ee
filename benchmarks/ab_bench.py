"""Before/after of pytest-benchmark figures: two checkouts, run in turn, compared pair by pair.

These machines are shared and their speed drifts within minutes, so two
revisions measured one after the other can differ by more than any change
between them. This runs the same benchmark selection in this checkout and
in another one (each with its own ``.venv``, so each imports its own code),
alternating ``other, this, other, this, ...``, and reports for every
benchmark the median of each side's medians and the median of the per-round
ratios this / other (below 1: this checkout is faster). Each run is a whole
pytest process, so numba's compiled-code cache and the warm-up are each
side's own.

Run::

    git worktree add /tmp/before HEAD~3 && make -C /tmp/before setup
    .venv/bin/python -m benchmarks.ab_bench /tmp/before benchmarks/bench_router.py \\
        -k "latency or throughput" --rounds 4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent.parent


def _python(checkout: Path) -> str:
    venv = checkout / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_once(checkout: Path, target: str, select: str | None, out: Path) -> dict[str, dict[str, float]]:
    """One pytest-benchmark run in ``checkout``: per benchmark, its statistics (seconds)."""
    cmd = [_python(checkout), "-m", "pytest", target, "--benchmark-only", "-q", "-p", "no:cacheprovider",
           f"--benchmark-json={out}"]
    if select:
        cmd += ["-k", select]
    done = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} in {checkout} failed ({done.returncode}):\n{done.stdout[-3000:]}")
    data = json.loads(out.read_text())
    return {b["name"]: {**b["stats"], **{f"extra.{k}": v for k, v in b.get("extra_info", {}).items()
                                         if isinstance(v, int | float)}}
            for b in data["benchmarks"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab_bench", description=__doc__.split("\n")[0])
    p.add_argument("other", type=Path, help="the other checkout (with its own .venv): 'before'")
    p.add_argument("target", help="benchmark file or folder, relative to each checkout")
    p.add_argument("-k", dest="select", help="pytest -k expression")
    p.add_argument("--rounds", type=int, default=4, help="runs of each side (default 4)")
    p.add_argument("--stat", default="median", help="statistic compared (default median)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    sides = {"before": args.other.resolve(), "after": HERE}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for side, checkout in sides.items():
                runs[side].append(run_once(checkout, args.target, args.select, Path(tmp) / f"{side}{r}.json"))
                print(f"round {r + 1}/{args.rounds} {side} done", file=sys.stderr, flush=True)
    names = sorted(set(runs["before"][0]) & set(runs["after"][0]))
    print(f"{'benchmark':60s} {'before':>12s} {'after':>12s} {'after/before':>13s}  (per-round ratios)")
    for name in names:
        keys = [args.stat] + sorted(k for k in runs["after"][0][name] if k.startswith("extra."))
        for key in keys:
            b = [run[name][key] for run in runs["before"] if key in run[name]]
            a = [run[name][key] for run in runs["after"] if key in run[name]]
            if not a or not b:
                continue
            ratios = [x / y for x, y in zip(a, b, strict=False) if y]
            label = name if key == args.stat else f"  {key}"
            print(f"{label:60s} {median(b):12.6g} {median(a):12.6g} {median(ratios):13.3f}  "
                  + " ".join(f"{x:.3f}" for x in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
