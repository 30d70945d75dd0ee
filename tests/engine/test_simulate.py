"""Multi-day replay (engine.simulate), its report (engine.report) and the simulate/generate commands."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from sourcewise import cli
from sourcewise.data.generate import generate_scenario, write_scenario
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import (
    SUM_COLUMNS,
    SimConfig,
    check_invariants,
    kpi_frame,
    parse_strategy,
    simulate,
)
from sourcewise.engine.simulate.report import REPORT_FILES
from sourcewise.models.errors import ValidationError
from tests.conftest import SAMPLE

COST_PARTS = ["shipping", "handling", "vendor_fees", "split_penalty", "penalties"]


def _check_kpis(kpis: pd.DataFrame, strategies: list[str], n_days: int) -> None:
    """The invariants the issue names, read back from kpis.csv."""
    assert (kpis["oversell"] == 0).all()
    assert (kpis["units_routed"] + kpis["units_unfilled"] == kpis["units_ordered"]).all()
    np.testing.assert_allclose(kpis[COST_PARTS].sum(axis=1), kpis["cost"], rtol=1e-9, atol=1e-6)
    assert sorted(kpis["strategy"].unique()) == sorted(strategies)
    # one row per strategy x day plus one total row per strategy
    assert len(kpis) == len(strategies) * (n_days + 1)
    for name, g in kpis.groupby("strategy"):
        days, total = g[g["date"] != "total"], g[g["date"] == "total"].iloc[0]
        for c in ("orders", "units_ordered", "units_routed", "shipments", "walkin_lost_online"):
            assert days[c].sum() == total[c], (name, c)
        assert total["cost_per_order"] == pytest.approx(total["cost"] / total["orders_shipped"])


def test_sample_simulation_writes_every_report_file(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for word in ("cost per order", "shipments per order", "fill rate", "on-time rate", "nearest", "batch15"):
        assert word in printed
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    kpis = pd.read_csv(out / "kpis.csv")
    _check_kpis(kpis, ["nearest", "priority", "cost", "dual", "batch15"], n_days=2)
    assert kpis["orders"][kpis["date"] == "total"].eq(300).all()
    summary = (out / "summary.md").read_text()
    assert "| metric | nearest | priority | cost | dual | batch15 |" in summary
    assert "All hold" in summary
    assert (out / "ship_from_map.png").read_bytes()[:4] == b"\x89PNG"


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


def test_disruptions_are_rerouted_and_the_ledger_matches_the_router(tmp_path):
    folder = tmp_path / "sc"
    shutil.copytree(SAMPLE, folder)
    offers = pd.read_csv(folder / "vendor_offers.csv")
    offers["reliability"] = 0.01  # almost every vendor parcel fails
    offers.to_csv(folder / "vendor_offers.csv", index=False)
    nodes = pd.read_csv(folder / "nodes.csv")
    # warehouses closed: stores and vendors must serve, so both kinds of failure happen
    nodes.loc[nodes["kind"] == "warehouse", "enabled"] = False
    nodes.to_csv(folder / "nodes.csv", index=False)
    sc = load_scenario(folder)
    # verify_router compares the ledger with the router's stock every day (raises on any difference)
    res = simulate(sc, SimConfig(strategies=("cost",), pick_reject_rate=1.0, verify_router=True))
    t = res.totals.loc["cost"]
    assert t["pick_rejections"] > 0 and t["vendor_failures"] > 0
    assert t["written_off_units"] > 0 and t["rerouted_units"] >= t["written_off_units"]
    assert t["units_warehouse"] == 0
    assert check_invariants(res.kpis) == []


def _tiny_store_scenario(folder, protect: int):
    """One store with 2 units next to the customer, a far warehouse with plenty, strong walk-in demand."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "node_id": ["ST", "WH"], "kind": ["store", "warehouse"], "lat": [40.7, 34.0], "lon": [-74.0, -118.2],
        "handling_per_shipment": [0.0, 0.0],
    }).to_csv(folder / "nodes.csv", index=False)
    pd.DataFrame({"sku": ["A"], "weight_kg": [1.0], "price": [10.0]}).to_csv(folder / "skus.csv", index=False)
    pd.DataFrame({"node_id": ["ST", "WH"], "sku": ["A", "A"], "on_hand": [2, 50]}).to_csv(
        folder / "inventory.csv", index=False)
    pd.DataFrame({"order_id": ["O1"], "line_id": ["1"], "sku": ["A"], "qty": [2], "lat": [40.71],
                  "lon": [-74.01], "created_at": ["2024-03-04T01:00:00"]}).to_csv(folder / "orders.csv", index=False)
    pd.DataFrame({"node_id": ["ST"], "sku": ["A"], "walkin_daily_demand": [40.0]}).to_csv(
        folder / "walkin.csv", index=False)
    (folder / "policy.toml").write_text(f'strategy = "nearest"\n[stores]\nprotect_units = {protect}\n')
    return load_scenario(folder)


def test_walkin_stockouts_caused_by_online_orders(tmp_path):
    cfg = SimConfig(strategies=("nearest",), pick_reject_rate=0.0)
    open_store = simulate(_tiny_store_scenario(tmp_path / "a", 0), cfg).totals.loc["nearest"]
    assert open_store["units_store"] == 2  # the online order emptied the store at 1 am
    assert open_store["walkin_lost_online"] == 2  # two shoppers would have bought those units
    assert open_store["walkin_demand"] > 2 and open_store["walkin_sold"] == 0
    protected = simulate(_tiny_store_scenario(tmp_path / "b", 2), cfg).totals.loc["nearest"]
    assert protected["units_store"] == 0 and protected["units_warehouse"] == 2
    assert protected["walkin_lost_online"] == 0 and protected["walkin_sold"] == 2


def test_strategy_names_and_config_validation():
    assert parse_strategy("batch").window == 15
    assert parse_strategy("batch60").window == 60 and parse_strategy("batch60").route == "cost"
    assert parse_strategy("dual").dual
    with pytest.raises(ValidationError) as exc:
        SimConfig(strategies=("cheapest", "batch0", "cost", "cost"), pick_reject_rate=1.5, walkin_slices=0)
    text = str(exc.value)
    for part in ("cheapest", "batch0", "repeat", "pick_reject_rate", "walkin_slices"):
        assert part in text


def test_check_invariants_reports_broken_rows():
    row = dict.fromkeys(SUM_COLUMNS, 0)
    row.update(day=0, date="2024-03-04", units_ordered=5, units_routed=3, units_unfilled=1, cost=10.0,
               shipping=9.0, oversell=1)
    bad = check_invariants(kpi_frame({"x": pd.DataFrame([row])}))
    assert any("oversell" in b for b in bad)
    assert any("!= ordered" in b for b in bad)
    assert any("cost components" in b for b in bad)


def test_cli_rejects_bad_input_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out), "--strategies", "cost,fastest",
                     "--pick-reject-rate", "2"]) == 2
    err = capsys.readouterr().err
    assert "fastest" in err and "pick_reject_rate" in err
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE, bad)
    rep = pd.read_csv(bad / "replenishment.csv")
    rep.loc[2, "node_id"] = "NOWHERE"
    rep.loc[4, "qty"] = -3
    rep.to_csv(bad / "replenishment.csv", index=False)
    assert cli.main(["simulate", "--scenario", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "replenishment[2].node_id" in err and "replenishment[4].qty" in err
    assert not out.exists()


def test_generate_command_is_deterministic_and_validates(tmp_path, capsys):
    args = ["--stores", "3", "--vendors", "1", "--skus", "20", "--orders-per-day", "10", "--days", "1",
            "--seed", "4"]
    assert cli.main(["generate", "--out", str(tmp_path / "a"), "--nodes", "2", *args]) == 0
    assert cli.main(["generate", "--out", str(tmp_path / "b"), "--nodes", "2", *args]) == 0
    for name in ("nodes.csv", "orders.csv", "inventory.csv", "replenishment.csv", "policy.toml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert load_scenario(tmp_path / "a").orders.n_orders == 10
    assert cli.main(["generate", "--out", str(tmp_path / "c"), "--nodes", "-1", *args]) == 2
    assert "n_warehouses" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


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
