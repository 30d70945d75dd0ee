"""The day's events (engine.simulate.events): pick rejections, vendor failures, walk-in shoppers."""

from __future__ import annotations

import shutil

import pandas as pd

from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import check_invariants
from sourcewise.engine.simulate import simulate
from tests.conftest import SAMPLE


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
