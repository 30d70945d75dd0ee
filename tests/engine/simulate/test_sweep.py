"""Policy sweeps on a real Dask LocalCluster (2 worker processes) and grid validation.

The tests run one after the other and never have more than one cluster of
two workers alive.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from sourcewise import cli
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate.sweep import apply_params
from sourcewise.engine.simulate.sweep import run_variant
from sourcewise.engine.simulate.sweep import variants_from_grid
from sourcewise.models.errors import ValidationError
from tests.conftest import SAMPLE

GRID = """
[sweep]
strategy = "cost"
days = 1

[grid]
"stores.protect_units" = [0, 3]
vendors = [true]
"""


def test_sweep_runs_on_a_local_cluster_by_default(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "sweep"
    assert cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "LocalCluster of 2 worker processes" in captured.err
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 2
    assert (table["oversell"] == 0).all()
    # protecting store stock moves units away from stores, and fewer walk-in shoppers go without
    by = table.set_index("stores.protect_units")
    assert by.at[3, "share_store"] < by.at[0, "share_store"]
    assert by.at[3, "walkin_lost_online"] <= by.at[0, "walkin_lost_online"]
    per_day = pd.read_csv(out / "sweep_kpis.csv")
    assert len(per_day) == 2  # one day per variant: the totals are sweep.csv's rows (issue #22)
    assert (per_day["date"] != "total").all()
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "stores.protect_units=3, vendors=on" in captured.out


def _sweep_on_cluster(tmp_path, grid_text: str, n_workers: int, *extra: str) -> tuple[int, Path]:
    """``sweep`` of the sample on a fresh local cluster's scheduler; returns the exit code and the out folder."""
    from distributed import LocalCluster

    grid = tmp_path / "grid.toml"
    grid.write_text(grid_text)
    out = tmp_path / "sweep"
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        code = cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(out),
                         "--scheduler", cluster.scheduler_address, *extra])
    return code, out


def test_sweep_on_a_named_scheduler_matches_a_local_replay(tmp_path):
    code, out = _sweep_on_cluster(
        tmp_path, '[sweep]\ndays = 1\n[grid]\n"stores.protect_units" = [1]\nvendors = [true, false]\n', 2)
    assert code == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["vendors"]) == ["on", "off"]
    assert table.loc[1, "share_vendor"] == 0
    # a task is one whole replay: the worker's figures equal an in-process replay of the same variant
    sc = load_scenario(SAMPLE)
    variant = variants_from_grid({"sweep": {"days": 1}, "grid": {"stores.protect_units": [1]}}, sc.policy)[0]
    local = run_variant(sc, variant)
    total = local[local["date"] == "total"].iloc[0]
    for col in ("cost_per_order", "shipments_per_order", "fill_rate", "walkin_lost_online"):
        assert table.loc[0, col] == pytest.approx(total[col], rel=1e-12)


def test_grid_problems_are_reported_together_and_nothing_runs(tmp_path, capsys):
    sc_policy = load_scenario(SAMPLE).policy
    bad = {"sweep": {"strategy": "nearest", "colour": 1},
           "grid": {"stores.protect_units": [0, -1], "batch_window": [15], "stores.nope": [1], "speed": [2]}}
    with pytest.raises(ValidationError) as exc:
        variants_from_grid(bad, sc_policy)
    text = str(exc.value)
    for part in ("colour", "stores.nope", "speed"):
        assert part in text
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"stores.protect_units" = [-1]\nbatch_window = [15]\n[sweep]\nstrategy = "nearest"\n')
    out = tmp_path / "out"
    assert cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "protect_units" in err and "batch windows optimize by cost" in err
    assert not out.exists()
    assert cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(out),
                     "--workers", "8"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_policy_variants():
    policy = load_scenario(SAMPLE).policy
    no_vendors = apply_params(policy, {"vendors": False})
    assert all("vendor" not in t.kinds for t in no_vendors.tiers)
    no_stores = apply_params(policy, {"stores_ship": False, "stores.protect_days": 1.5, "max_shipments": 2})
    assert all("store" not in t.kinds for t in no_stores.tiers)
    assert no_stores.stores.protect_days == 1.5 and no_stores.max_shipments == 2
    vs = variants_from_grid({"grid": {"seed": [1, 2], "batch_window": [0, 15]}}, policy,
                            SimConfig(strategies=("cost",)))
    assert [(v.strategy, v.config.seed) for v in vs] == [("cost", 1), ("batch15", 1), ("cost", 2), ("batch15", 2)]


def test_strategy_as_a_grid_axis_writes_its_results(tmp_path):
    # one worker in the cluster, and --workers asks for it: past the local cap is fine on a cluster
    code, out = _sweep_on_cluster(tmp_path, '[sweep]\ndays = 1\n[grid]\nstrategy = ["cost", "nearest"]\n', 1,
                                  "--workers", "1")
    assert code == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["strategy"]) == ["cost", "nearest"]
    assert list(pd.read_csv(out / "sweep_kpis.csv").columns).count("strategy") == 1


def test_workers_follow_the_cluster_with_a_scheduler(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    # locally the cap holds; on a scheduler any number is a number of workers to wait for
    assert cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(tmp_path / "a"),
                     "--workers", "8"]) == 2
    assert "--workers: must be 1..2, got 8" in capsys.readouterr().err
    args = cli.build_parser().parse_args(["sweep", "--scenario", "s", "--grid", "g", "--out", "o",
                                          "--scheduler", "tcp://127.0.0.1:1", "--workers", "8"])
    assert args.workers == 8
    assert cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(tmp_path / "b"),
                     "--scheduler", "tcp://127.0.0.1:8786", "--workers", "0"]) == 2
    assert "--workers: must be at least 1, got 0" in capsys.readouterr().err
