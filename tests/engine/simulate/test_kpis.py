"""The KPI table and its invariants (engine.simulate.kpis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import KPI_COLUMNS
from sourcewise.engine.simulate import RECORDED_COLUMNS
from sourcewise.engine.simulate import SUM_COLUMNS
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import check_invariants
from sourcewise.engine.simulate import kpi_frame
from sourcewise.engine.simulate import simulate
from sourcewise.engine.simulate.config import KINDS
from sourcewise.engine.simulate.kpis import LEVEL_COLUMNS
from sourcewise.engine.simulate.kpis import MAX_COLUMNS
from tests.conftest import SAMPLE


def test_check_invariants_reports_broken_rows():
    row = dict.fromkeys(SUM_COLUMNS, 0)
    row.update(day=0, date="2024-03-04", units_ordered=5, units_routed=3, units_unfilled=1, cost=10.0,
               shipping=9.0, oversell=1)
    bad = check_invariants(kpi_frame({"x": pd.DataFrame([row])}))
    assert any("oversell" in b for b in bad)
    assert any("!= ordered" in b for b in bad)
    assert any("cost components" in b for b in bad)


# --------------------------------------------------------------------------- the planner's KPIs


#: The KPIs the issue names, each as the column(s) that hold it.
PLANNER_KPIS = (
    "cost_per_order", "cost_per_unit", *(f"{p}_per_{u}" for p in ("shipping", "handling", "vendor_fees",
                                                                  "penalties") for u in ("order", "unit")),
    "shipments_per_order", "split_rate", "fill_rate", "lost_sales_value", "perfect_order_rate", "processing_days",
    *(f"ending_units_{k}" for k in KINDS), *(f"days_of_supply_{k}" for k in KINDS),
    "stockout_sku_store_days", "store_sku_days", "walkin_lost_rate", "walkin_demand",
    *(f"util_{k}" for k in KINDS), *(f"peak_util_{k}" for k in KINDS), "backorder_age_days",
    "share_vendor", "spend_share_vendor", "on_time_rate", "unsourced_rate",
)


@pytest.fixture(scope="module")
def sample():
    return load_scenario(SAMPLE)


@pytest.fixture(scope="module")
def replay(sample):
    return simulate(sample, SimConfig(strategies=("nearest", "cost"), seed=2, pick_reject_rate=0.2))


def test_every_planner_kpi_is_a_column(replay):
    missing = [c for c in PLANNER_KPIS if c not in replay.kpis.columns]
    assert missing == []
    assert set(PLANNER_KPIS) <= set(KPI_COLUMNS) | set(RECORDED_COLUMNS)


def test_perfect_order_rate_and_cost_per_unit_recomputed_from_the_order_records(replay, sample):
    for name, r in replay.results.items():
        o, a = r.orders, r.allocations
        assert len(o) == sample.orders.n_orders  # one record per order
        # perfect: every unit routed, the one promise (plus the re-sourcing day) within the service level,
        # and no unit of a SKU the order did not ask for
        lines = sample.orders
        asked = {(oid, lines.sku[i]) for oid, lo, hi in zip(lines.order_id, lines.line_ptr[:-1], lines.line_ptr[1:],
                                                             strict=True) for i in range(lo, hi)}
        pos_id = dict(zip(o["pos"], o["order_id"], strict=True))
        substituted = {pos_id[p] for p, s in zip(a["pos"], a["sku"], strict=True) if (pos_id[p], s) not in asked}
        perfect = ((o["unfilled"] == 0) & (o["units"] == o["units_ordered"])
                   & (o["promised_days"] <= o["sla_days"] + 1e-9) & ~o["order_id"].isin(substituted))
        for day, g in o.assign(perfect_again=perfect).groupby("day"):
            row = replay.kpis[(replay.kpis["strategy"] == name) & (replay.kpis["day"] == day)].iloc[0]
            assert row["perfect_order_rate"] == pytest.approx(g["perfect_again"].mean())
        total = replay.totals.loc[name]
        assert total["perfect_order_rate"] == pytest.approx(perfect.mean())
        # cost per unit: every order's cost over the units its allocations carry
        assert total["cost_per_unit"] == pytest.approx(o["cost"].sum() / a["qty"].sum())
        assert total["shipping_per_unit"] == pytest.approx(o["shipping"].sum() / a["qty"].sum())
        price = sample.network.price
        lost = (o["value_ordered"].sum() - (a["qty"] * price[a["sku"]]).sum())
        assert total["lost_sales_value"] == pytest.approx(lost)


def test_days_of_supply_recomputed_from_starting_stock_receipts_and_allocations(sample):
    # without walk-in sales and failures, stock at a day's end is the start plus receipts less what shipped
    res = simulate(sample, SimConfig(strategies=("cost",), walkin=False, pick_reject_rate=0.0,
                                     vendor_failures=False))
    r = res.results["cost"]
    net = sample.network
    inv = sample.tables["inventory"]
    kind_of = {n.node_id: str(n.kind) for n in net.nodes}
    start = inv.groupby(inv["node_id"].map(kind_of))["on_hand"].sum()
    rep = sample.tables["replenishment"]
    rep_kind = rep.assign(kind=rep["node_id"].map(kind_of))
    alloc_kind = np.array(KINDS)[net.kind[r.allocations["node"].to_numpy()]]
    shipped = r.allocations.assign(kind=alloc_kind)
    daily = res.kpis[(res.kpis["strategy"] == "cost") & (res.kpis["date"] != "total")]
    for kind in ("warehouse", "store"):
        for _, row in daily.iterrows():
            d = int(row["day"])
            received = rep_kind[(rep_kind["kind"] == kind) & (rep_kind["day"] <= d)]["qty"].sum()
            out_today = shipped[(shipped["kind"] == kind) & (shipped["day"] == d)]["qty"].sum()
            out_so_far = shipped[(shipped["kind"] == kind) & (shipped["day"] <= d)]["qty"].sum()
            ending = start.get(kind, 0) + received - out_so_far
            assert row[f"ending_units_{kind}"] == ending, (kind, d)
            expect = ending / out_today if out_today else np.nan
            assert row[f"days_of_supply_{kind}"] == pytest.approx(expect, nan_ok=True), (kind, d)
        total = res.totals.loc["cost"]
        per_day = shipped[shipped["kind"] == kind]["qty"].sum() / len(daily)
        assert total[f"days_of_supply_{kind}"] == pytest.approx(total[f"ending_units_{kind}"] / per_day)


def test_node_days_add_up_to_the_horizon_and_respect_capacity(replay):
    nd = replay.node_days
    for name in replay.results:
        g = nd[nd["strategy"] == name]
        per_node = g.groupby("node_id", sort=False)[["parcels", "units"]].sum()
        nodes = replay.nodes[replay.nodes["strategy"] == name].set_index("node_id")
        assert (per_node["units"] == nodes.loc[per_node.index, "units"]).all()
        assert (per_node["parcels"] == nodes.loc[per_node.index, "parcels"]).all()
        limited = g[g["capacity_orders"] > 0]
        assert (limited["parcels"] <= limited["capacity_orders"]).all()
        assert limited["util_orders"].max() <= 1.0 + 1e-12


def _day(**values) -> dict:
    row = dict.fromkeys(RECORDED_COLUMNS, 0)
    row.update(values)
    return row


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 500), st.integers(1, 400)),
                min_size=1, max_size=6))
def test_totals_add_sums_take_last_levels_and_highest_peaks(days):
    rows = [_day(day=d, date=f"2024-03-{d + 1:02d}", units_warehouse=u, units_routed=u, units_ordered=u + lost,
                 units_unfilled=lost, ending_units_warehouse=end, backorder_units_open=lost,
                 peak_util_store=u / 50, orders=o, orders_perfect=min(o, u), orders_shipped=min(o, u))
            for d, (u, lost, end, o) in enumerate(days)]
    k = kpi_frame({"x": pd.DataFrame(rows)})
    total = k[k["date"] == "total"].iloc[0]
    assert total["days"] == len(days)
    assert total["units_routed"] == sum(u for u, _, _, _ in days)
    for c in LEVEL_COLUMNS:
        assert total[c] == rows[-1][c]
    assert total["peak_util_store"] == pytest.approx(max(r["peak_util_store"] for r in rows))
    assert set(MAX_COLUMNS) <= set(k.columns)
    assert total["perfect_order_rate"] == pytest.approx(sum(r["orders_perfect"] for r in rows)
                                                        / sum(r["orders"] for r in rows))
    used = total["units_warehouse"] / len(days)
    expect = total["ending_units_warehouse"] / used if used else np.nan
    assert total["days_of_supply_warehouse"] == pytest.approx(expect, nan_ok=True)
    assert check_invariants(k) == []
