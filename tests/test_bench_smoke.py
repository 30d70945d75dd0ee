"""Smoke test of the benchmark harness, so it cannot rot (CI never runs the full benchmarks).

Runs the scaling study's smallest configuration end to end (CSV, PNG,
Markdown, JSON) and one pytest-benchmark function at the smallest size with
``--benchmark-disable``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sourcewise.engine import benchstudy as bs

REPO = Path(__file__).resolve().parent.parent


def test_study_smallest_configuration(tmp_path):
    rows = [bs.measure_point(bs.Point("orders", n, 10, 200, 1), log=lambda s: None) for n in (40, 80)]
    rows.append(bs.measure_point(bs.Point("nodes", 40, 12, 200, 1, naive_orders=10), log=lambda s: None))
    assert all(r["engine_s_median"] > 0 and r["orders_per_s"] > 0 for r in rows)
    assert rows[-1]["ratio_naive"] > 0
    extra = {"mode": "smoke", "machine": bs.machine_info(), "wall_s": 0.0}
    paths = bs.write_outputs(tmp_path, rows, extra)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert len(pd.read_csv(paths["csv"])) == 3
    assert "| orders |" in paths["md"].read_text()
    assert bs.fit_exponent([1, 10, 100], [2, 20, 200])[0] == pytest.approx(1.0)


def test_one_pytest_benchmark_at_smallest_size():
    env = dict(os.environ, SOURCEWISE_BENCH_SIZE="smoke")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-disable",
           "benchmarks/bench_router.py::test_route_many_throughput"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout
