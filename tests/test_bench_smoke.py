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


@pytest.mark.parametrize(("target", "n"), [("benchmarks/bench_router.py::test_route_many_throughput", 1),
                                           ("benchmarks/bench_router.py::test_promise_latency", 1),
                                           ("benchmarks/bench_ledger.py", 2),
                                           ("benchmarks/bench_shared.py", 3)])
def test_one_pytest_benchmark_at_smallest_size(target, n):
    env = dict(os.environ, SOURCEWISE_BENCH_SIZE="smoke")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-disable", target]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{n} passed" in proc.stdout


def test_memory_benchmark_runs_small():
    cmd = [sys.executable, "-m", "benchmarks.memory_ledger", "--orders", "60000", "--batch", "20000",
           "--every", "20000", "--max-growth", "10"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "60,000 orders" in proc.stdout and "growth" in proc.stdout


def test_scaling_chart_fits_only_three_points_or_more_and_labels_measured_sizes():
    def row(sweep, n_orders, n_nodes, n_skus, secs):
        return {"sweep": sweep, "n_orders": n_orders, "n_nodes": n_nodes, "n_skus": n_skus, "engine_s_median": secs}

    rows = [row("orders", n, 50, 1_000, n / 1e4) for n in (300, 1_000, 3_000)]
    rows += [row("skus", 1_000, 50, s, 0.1 + s / 1e6) for s in (1_000, 10_000)]
    assert bs.fit_exponent([1, 10], [2, 20]) == (pytest.approx(float("nan"), nan_ok=True),) * 2
    assert bs.exponents(rows)["skus"] != bs.exponents(rows)["skus"]  # nan: two sizes fit nothing
    fig = bs.scaling_figure(rows)
    orders_ax, _, skus_ax = fig.axes
    assert any(t.get_text().startswith("fit:") for t in orders_ax.get_legend().get_texts())
    assert not any(t.get_text().startswith("fit:") for t in skus_ax.get_legend().get_texts())
    assert any("too few to fit" in t.get_text() for t in skus_ax.texts)
    # ticks only at the measured sizes, with compact labels, and no labelled minor ticks
    assert [t for t in orders_ax.get_xticks()] == [300, 1_000, 3_000]
    labels = [orders_ax.xaxis.get_major_formatter()(v, i) for i, v in enumerate((300, 1_000, 3_000))]
    assert labels == ["300", "1k", "3k"]
    assert list(orders_ax.xaxis.get_minorticklocs()) == []


def test_wave_benchmarks_run_at_smoke_size():
    """The wave family and the online set-up of ``bench_optimize.py``, tiny, so their harness cannot rot."""
    env = dict(os.environ, SOURCEWISE_BENCH_SIZE="smoke")
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--benchmark-disable",
           "benchmarks/bench_optimize.py", "-k", "wave or online"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # four generated kinds x four methods, the report and the online benchmark (plus 4 per published wave)
    passed = int(proc.stdout.rsplit(" passed", 1)[0].rsplit(None, 1)[-1])
    assert passed >= 4 * 4 + 2 and (passed - 18) % 4 == 0
    assert "wave family (smoke)" in proc.stdout and "online set-up" in proc.stdout
