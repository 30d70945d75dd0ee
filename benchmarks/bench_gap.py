"""The full published GAP set: every Cattrysse (1994) and Chu & Beasley (1997)
type A, B and C instance must be solved to its proven optimum.

CI runs a sample of these in ``tests/engine/optimize/test_gap.py``; this file runs
them all (about 3 minutes here) and records each instance's time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sourcewise.engine.optimize.gap import load_gap
from sourcewise.engine.optimize.gap import read_optima
from sourcewise.engine.optimize.gap import solve_gap

GAP = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gap"
FILES = (sorted((GAP / "cattrysse1994").glob("gap*"))
         + sorted(p for p in (GAP / "chu1997").glob("[abc]*"))) if GAP.is_dir() else []


@pytest.mark.skipif(not FILES, reason="../shared/data/gap is not beside the repository")
def test_full_gap_set_reaches_every_published_optimum(benchmark):
    optima = read_optima(GAP / "optima.csv")
    instances = [inst for f in FILES for inst in load_gap(f)]

    def solve_all():
        return [solve_gap(inst, time_limit=600.0, optimum=optima.get(inst.name)) for inst in instances]

    results = benchmark.pedantic(solve_all, rounds=1, iterations=1)
    missed = [r.name for r in results if r.status != "optimal" or r.matched is False]
    benchmark.extra_info["instances"] = len(results)
    benchmark.extra_info["slowest"] = {r.name: round(r.seconds, 2)
                                       for r in sorted(results, key=lambda r: -r.seconds)[:5]}
    assert len(results) == 60 + sum(1 for f in FILES if f.parent.name == "chu1997")
    assert not missed, f"not proven at the published optimum: {missed}"
