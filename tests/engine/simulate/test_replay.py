"""The replay loop (engine.simulate.replay): strategies compared, seeds reproduced, the collector paused."""

from __future__ import annotations

import pandas as pd
import pytest

from sourcewise.data.generate import generate_scenario
from sourcewise.data.generate import write_scenario
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import check_invariants
from sourcewise.engine.simulate import simulate


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    write_scenario(generate_scenario(n_warehouses=4, n_stores=12, n_vendors=3, n_skus=200, orders_per_day=300,
                                     days=2, seed=3), folder)
    return load_scenario(folder)


def test_generated_scenario_cost_beats_nearest_and_batch_splits_less(generated):
    res = simulate(generated, SimConfig(strategies=("nearest", "cost", "batch"), seed=3))
    assert check_invariants(res.kpis) == []
    t = res.totals
    print("\n" + t[["orders", "cost_per_order", "shipments_per_order", "fill_rate"]].to_string())
    assert t.at["cost", "cost_per_order"] < t.at["nearest", "cost_per_order"]
    assert t.at["batch", "shipments_per_order"] < t.at["cost", "shipments_per_order"]


def test_deterministic_under_a_seed(generated):
    cfg = SimConfig(strategies=("cost",), seed=5, pick_reject_rate=0.2)
    a = simulate(generated, cfg).kpis
    b = simulate(generated, cfg).kpis
    pd.testing.assert_frame_equal(a, b)
    c = simulate(generated, cfg.replace(seed=6)).kpis
    assert not a[["walkin_demand", "pick_rejections"]].equals(c[["walkin_demand", "pick_rejections"]])


def test_replay_pauses_the_collector_and_restores_it(generated):
    import gc

    seen = []
    assert gc.isenabled()
    simulate(generated, SimConfig(strategies=("cost",), days=1), progress=lambda n: seen.append(gc.isenabled()))
    assert seen and not any(seen)
    assert gc.isenabled()
    gc.disable()
    try:
        simulate(generated, SimConfig(strategies=("cost",), days=1))
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()
