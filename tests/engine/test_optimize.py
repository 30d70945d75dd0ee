"""Batch optimization: exact on small instances, never infeasible, never worse than what it replaces."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sourcewise.engine.optimize as O
from sourcewise.cli import main
from sourcewise.engine.optimize import dual_prices, optimize, reoptimize
from sourcewise.engine.router import Router
from sourcewise.engine.scenario import load_scenario
from sourcewise.models import Inventory, Network, Node, Order, OrderLine, Policy, Sku, StockRecord
from sourcewise.models.errors import ValidationError
from tests.conftest import SAMPLE, make_inventory, make_network, make_order
from tests.naive import haversine_miles

PENALTY = 30.0


# ----------------------------------------------------------------------------- brute force
def _plan_cost(net: Network, pol: Policy, alloc: dict, order: Order) -> float:
    """Real cost of ``{(node, sku): units}`` by the router's cost model, written out longhand."""
    cm = pol.cost
    nodes = {n for (n, _), q in alloc.items() if q > 0}
    total = 0.0
    for (n, s), q in alloc.items():
        miles = haversine_miles(net.lat[n], net.lon[n], order.lat, order.lon)
        total += q * (cm.per_unit + cm.per_unit_mile * miles + cm.per_kg * net.weight_kg[s]
                      + net.handling_per_unit[n] + net.fee_rate[n] * net.price[s])
    total += sum(cm.per_shipment + net.handling_per_shipment[n] for n in nodes)
    return total + pol.split_penalty * max(0, len(nodes) - 1)


def _order_plans(net, pol, atp: dict, order: Order, k: int):
    """Every plan of one order: ``(objective, {(node, sku): units})`` with at most min(k, 3) parcels."""
    demand: dict[int, int] = {}
    for line in order.lines:
        s = net.sku_index[line.sku]
        demand[s] = demand.get(s, 0) + line.qty
    per_group = []
    for s, q in demand.items():
        holders = [n for n in range(net.n_nodes) if net.usable[n] and atp.get((n, s), 0) > 0]
        options = []
        for xs in itertools.product(*[range(min(q, atp[(n, s)]) + 1) for n in holders]):
            if sum(xs) <= q:
                options.append({(n, s): x for n, x in zip(holders, xs, strict=True) if x})
        per_group.append(options or [{}])
    total = sum(demand.values())
    out = []
    for combo in itertools.product(*per_group):
        alloc: dict = {}
        for part in combo:
            alloc.update(part)
        if len({n for n, _ in alloc}) > min(k, 3):
            continue
        filled = sum(alloc.values())
        out.append((_plan_cost(net, pol, alloc, order) + PENALTY * (total - filled), alloc))
    out.sort(key=lambda t: t[0])
    return out


def brute_force(net, pol, inv: Inventory, orders, cap_o=None, cap_u=None) -> float:
    """Minimum objective over every combination of plans that fits stock and capacities."""
    atp = {}
    for r in inv.records():
        a = r.atp
        if a > 0:
            atp[(net.node_index[r.node_id], net.sku_index[r.sku])] = a
    plans = []
    for o in orders:
        k = 1 if not o.allow_split else (o.max_shipments or pol.max_shipments)
        plans.append(_order_plans(net, pol, atp, o, k))
    rest_min = [sum(p[0][0] for p in plans[i:]) for i in range(len(plans))] + [0.0]
    best = math.inf
    used: dict = {}
    parcels = np.zeros(net.n_nodes, int)
    units = np.zeros(net.n_nodes, int)

    def fits(alloc) -> bool:
        for key, q in alloc.items():
            if used.get(key, 0) + q > atp[key]:
                return False
        for n in {n for n, _ in alloc}:
            if cap_o is not None and parcels[n] + 1 > cap_o[n]:
                return False
            u = sum(q for (m, _), q in alloc.items() if m == n)
            if cap_u is not None and units[n] + u > cap_u[n]:
                return False
        return True

    def apply(alloc, sign):
        for key, q in alloc.items():
            used[key] = used.get(key, 0) + sign * q
        for n in {n for n, _ in alloc}:
            parcels[n] += sign
            units[n] += sign * sum(q for (m, _), q in alloc.items() if m == n)

    def dfs(i: int, acc: float) -> None:
        nonlocal best
        if i == len(plans):
            best = min(best, acc)
            return
        for cost, alloc in plans[i]:
            if acc + cost + rest_min[i + 1] >= best - 1e-9:
                break
            if fits(alloc):
                apply(alloc, 1)
                dfs(i + 1, acc + cost)
                apply(alloc, -1)

    dfs(0, 0.0)
    return best


def _contested(seed: int, n_nodes: int = 3, n_skus: int = 3, n_orders: int = 3):
    """A tiny network where orders compete for a little stock."""
    rng = np.random.default_rng(seed)
    net = make_network(rng, n_nodes, n_skus)
    inv = make_inventory(rng, net, density=0.8, max_qty=3)
    orders = [make_order(rng, net, f"o{i}", max_lines=2, max_qty=2,
                         allow_split=bool(rng.random() < 0.8),
                         max_shipments=int(rng.integers(1, 4)) if rng.random() < 0.3 else None)
              for i in range(n_orders)]
    return net, inv, orders


# ------------------------------------------------------------------------------ exactness
@pytest.mark.parametrize("seed", range(8))
def test_small_instances_reach_the_brute_force_optimum(seed):
    net, inv, orders = _contested(seed)
    plan = optimize(orders, net, inv, Policy(), time_limit=20, unfilled_penalty=PENALTY)
    best = brute_force(net, Policy(), inv, orders)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.status == "optimal"
    assert plan.lower_bound <= best + 1e-6


@pytest.mark.parametrize(("seed", "solver"), [(0, "highs"), (1, "highs"), (2, "highs"), (3, "cpsat")])
def test_small_instances_with_capacities_reach_the_optimum(seed, solver):
    net, inv, orders = _contested(100 + seed, n_orders=4)
    cap_o = np.full(net.n_nodes, 2)
    cap_u = np.full(net.n_nodes, 3)
    plan = optimize(orders, net, inv, Policy(), time_limit=20, unfilled_penalty=PENALTY,
                    node_capacity_orders=cap_o, node_capacity_units=cap_u, solver=solver)
    best = brute_force(net, Policy(), inv, orders, cap_o, cap_u)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.lower_bound <= best + 1e-6


def test_lower_bound_is_below_every_feasible_plan_and_gap_is_consistent():
    net, inv, orders = _contested(7, n_nodes=4, n_orders=5)
    plan = optimize(orders, net, inv, Policy(), time_limit=10, unfilled_penalty=PENALTY)
    assert plan.lower_bound <= plan.objective + 1e-9
    assert plan.lower_bound <= plan.solve_log.greedy_objective + 1e-9
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-9
    assert plan.objective == pytest.approx(plan.cost + PENALTY * plan.units_unfilled)
    assert 0.0 <= plan.gap


# -------------------------------------------------------------------------- feasibility
def _check_allocations(net, inv, a, cap_o=None, cap_u=None):
    atp = {(r.node_id, r.sku): r.atp for r in inv.records()}
    per_entry = a.groupby(["node_id", "sku"])["qty"].sum()
    for (nid, sku), q in per_entry.items():
        assert q <= atp.get((nid, sku), 0), (nid, sku)
    parcels = a.groupby("node_id")["order_id"].nunique()
    units = a.groupby("node_id")["qty"].sum()
    for nid in parcels.index:
        n = net.node_index[nid]
        assert net.usable[n]
        if cap_o is not None:
            assert parcels[nid] <= cap_o[n]
        if cap_u is not None:
            assert units[nid] <= cap_u[n]


def _check_feasible(net, inv, orders, plan, cap_o=None, cap_u=None, policy=None):
    pol = policy or Policy()
    a = plan.allocations
    _check_allocations(net, inv, a, cap_o, cap_u)
    atp = {(r.node_id, r.sku): r.atp for r in inv.records()}
    per_entry = a.groupby(["node_id", "sku"])["qty"].sum()
    for (nid, sku), q in per_entry.items():
        assert q <= atp.get((nid, sku), 0), (nid, sku)
    parcels = a.groupby("node_id")["order_id"].nunique()
    units = a.groupby("node_id")["qty"].sum()
    for nid in parcels.index:
        n = net.node_index[nid]
        assert net.usable[n]
        if cap_o is not None:
            assert parcels[nid] <= cap_o[n]
        if cap_u is not None:
            assert units[nid] <= cap_u[n]
    lines = {(o.order_id, ln.line_id): ln.qty for o in orders for ln in o.lines}
    for key, q in a.groupby(["order_id", "line_id"])["qty"].sum().items():
        assert q <= lines[key]
    by_order = {o.order_id: o for o in orders}
    for row in plan.orders.itertuples():
        o = by_order[row.order_id]
        k = 1 if not o.allow_split else (o.max_shipments or pol.max_shipments)
        assert row.shipments <= k
        assert row.units + row.unfilled == sum(ln.qty for ln in o.lines)
    assert list(plan.orders.columns) == ["order_id", "status", "shipments", "units", "unfilled", "cost",
                                         "shipping", "handling", "vendor_fees", "split_penalty", "penalties",
                                         "distance_km", "promised_days"]
    assert list(a.columns) == ["order_id", "line_id", "sku", "node_id", "qty", "tier"]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_orders=st.integers(1, 8), caps=st.booleans())
def test_plans_never_exceed_stock_or_capacity(seed, n_orders, caps):
    rng = np.random.default_rng(seed)
    net = make_network(rng, int(rng.integers(2, 6)), int(rng.integers(1, 5)), disabled=0.2)
    inv = make_inventory(rng, net, density=0.7, max_qty=4)
    orders = [make_order(rng, net, f"o{i}", max_lines=3, max_qty=3, allow_split=bool(rng.random() < 0.8))
              for i in range(n_orders)]
    cap_o = rng.integers(0, 3, net.n_nodes) if caps else None
    cap_u = rng.integers(0, 5, net.n_nodes) if caps else None
    plan = optimize(orders, net, inv, Policy(), time_limit=3, node_capacity_orders=cap_o,
                    node_capacity_units=cap_u)
    _check_feasible(net, inv, orders, plan, cap_o, cap_u)
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-6
    assert plan.lower_bound <= plan.objective + 1e-6


def test_decisions_match_the_tables():
    net, inv, orders = _contested(3, n_orders=4)
    plan = optimize(orders, net, inv, Policy(), time_limit=5)
    assert len(plan.decisions) == len(orders)
    for d, row in zip(plan.decisions, plan.orders.itertuples(), strict=True):
        assert d.order_id == row.order_id
        assert d.strategy == "optimize"
        assert d.units == row.units
        assert d.cost.total == pytest.approx(row.cost)
        assert len(d.shipments) == row.shipments
        assert sum(q for _, q in d.unfilled) == row.unfilled


# ------------------------------------------------------------- the router's cost model
def test_costs_and_eligibility_match_the_router_on_the_sample():
    """The optimizer prices the router's own plans exactly as the router reports them
    (tiers, deadlines, vendor offers and capacities included; walk-in depletion left out
    because the router prices it at the stock left when each order is routed)."""
    from sourcewise.engine.vendors import VendorOffers

    sc = load_scenario(SAMPLE)
    offers = VendorOffers.from_frame(sc.network, sc.tables["vendor_offers"])
    router = Router(sc.network, sc.inventory, sc.policy, vendor_offers=offers)
    res = router.route_many(sc.orders, strategy="cost")
    batch, policy, cap_o, cap_u = O._prepare(sc.orders, sc.network, sc.inventory, sc.policy, 5, "highs", None,
                                             None, None)
    pb = O._problem(batch, sc.network, sc.inventory, policy,
                    Router(sc.network, sc.inventory, sc.policy, vendor_offers=offers).stock_view(), cap_o, cap_u, None,
                    1000, 2)
    cols = pb.add_allocations(res.allocations)
    assert pb.master.feasible(cols)
    _, ours, _ = O._tables(pb, cols)
    theirs = res.orders
    for c in ("shipments", "units", "unfilled", "shipping", "handling", "vendor_fees", "split_penalty",
              "penalties", "distance_km", "promised_days"):
        np.testing.assert_allclose(ours[c].to_numpy(float), theirs[c].to_numpy(float), rtol=1e-9, atol=1e-7,
                                   err_msg=c)


def test_sample_scenario_improves_on_greedy_with_a_proven_bound():
    sc = load_scenario(SAMPLE)
    plan = optimize(sc.orders, sc.network, sc.inventory, sc.policy, time_limit=8,
                    walkin=sc.tables.get("walkin"))
    net = sc.network
    _check_allocations(net, sc.inventory, plan.allocations, net.capacity_orders, net.capacity_units)
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-6
    assert plan.lower_bound <= plan.objective
    assert plan.gap < 0.10
    assert plan.objective < plan.solve_log.greedy_objective
    router = Router(sc.network, sc.inventory, sc.policy, walkin=sc.tables.get("walkin"))
    assert plan.units_unfilled <= router.route_many(sc.orders).orders["unfilled"].sum()


# ------------------------------------------------------------------------ validation
def test_bad_arguments_are_reported_together():
    net, inv, orders = _contested(1)
    with pytest.raises(ValidationError) as exc:
        optimize(orders + [orders[0]], net, inv, time_limit=-1, solver="gurobi", unfilled_penalty=0,
                 node_capacity_orders={"nope": 3}, node_capacity_units=np.ones(net.n_nodes + 1))
    msg = str(exc.value)
    for part in ("time_limit", "solver", "unfilled_penalty", "duplicate order_id", "unknown node", "shape"):
        assert part in msg


def test_capacity_dict_limits_named_nodes():
    net = Network.build([Node("A", "warehouse", 40.0, -75.0), Node("B", "warehouse", 34.0, -118.0)],
                        [Sku("S")])
    inv = Inventory.from_records(net, [StockRecord("A", "S", 10), StockRecord("B", "S", 10)])
    orders = [Order(f"o{i}", (OrderLine("1", "S", 1),), 40.1, -75.1) for i in range(3)]
    plan = optimize(orders, net, inv, time_limit=5, node_capacity_orders={"A": 1})
    assert (plan.allocations["node_id"] == "A").sum() == 1
    assert plan.units_unfilled == 0


# -------------------------------------------------------------------- re-optimization
def _routed_badly(seed: int, n_orders: int = 6):
    net, inv, orders = _contested(seed, n_nodes=4, n_orders=n_orders)
    router = Router(net, inv, Policy())
    for o in orders:
        router.route(o, strategy="nearest")
    return net, inv, orders, router


def _reservations_consistent(router, inv):
    total = np.zeros(inv.nnz, np.int64)
    for oid in list(router._open):
        entries, qty = router._open_held(oid).rows()
        np.add.at(total, entries, qty)
    np.testing.assert_array_equal(router._reserved, inv.reserved + total)
    assert (router._on_hand - router._safety - router._reserved >= 0).all()


@pytest.mark.parametrize("seed", range(4))
def test_reoptimize_never_worsens_and_keeps_the_books(seed):
    net, inv, orders, router = _routed_badly(seed)
    before = {o.order_id: router.decision(o.order_id).cost.total for o in orders}
    splits_before = sum(max(0, len(router.decision(o.order_id).shipments) - 1) for o in orders)
    r = reoptimize(router, time_limit=5, unfilled_penalty=PENALTY)
    assert r.objective_after <= r.objective_before + 1e-9
    assert r.lower_bound <= r.objective_after + 1e-9
    _reservations_consistent(router, inv)
    after = {o.order_id: router.decision(o.order_id).cost.total for o in orders}
    if r.applied:
        assert r.saved == pytest.approx(r.objective_before - r.objective_after)
        assert r.splits_removed == splits_before - sum(max(0, len(router.decision(o.order_id).shipments) - 1)
                                                       for o in orders)
        assert sum(after.values()) == pytest.approx(r.cost_after)
        assert all(router.decision(o).strategy == "optimize" for o in after)
    else:
        assert after == before
    # a second pass has nothing left to gain
    again = reoptimize(router, time_limit=5, unfilled_penalty=PENALTY)
    assert not again.applied or again.objective_after < r.objective_after - 1e-9
    # released orders give back exactly what they now hold
    for o in orders:
        router.release(o.order_id)
    np.testing.assert_array_equal(router._reserved, inv.reserved)


def test_reoptimize_keeps_todays_capacity_counts():
    rng = np.random.default_rng(5)
    base = make_network(rng, 4, 3)
    nodes = [Node(n.node_id, n.kind, n.lat, n.lon, handling_per_shipment=n.handling_per_shipment,
                  handling_per_unit=n.handling_per_unit, fee_rate=n.fee_rate, capacity_orders=3, capacity_units=5)
             for n in base.nodes]
    net = Network.build(nodes, base.skus)
    inv = Inventory.from_records(net, [StockRecord(r.node_id, r.sku, r.on_hand, r.safety_stock)
                                       for r in make_inventory(rng, base, density=0.9, max_qty=4).records()])
    orders = [make_order(rng, net, f"o{i}", max_lines=2, max_qty=2) for i in range(6)]
    router = Router(net, inv, Policy())
    for o in orders:
        router.route(o, strategy="nearest")
    r = reoptimize(router, time_limit=5, unfilled_penalty=PENALTY)
    assert r.objective_after <= r.objective_before + 1e-9
    _reservations_consistent(router, inv)
    parcels = np.zeros(net.n_nodes, int)
    units = np.zeros(net.n_nodes, int)
    for o in orders:
        for s in router.decision(o.order_id).shipments:
            parcels[net.node_index[s.node_id]] += 1
            units[net.node_index[s.node_id]] += s.units
    np.testing.assert_array_equal(router._cap_orders, 3 - parcels)
    np.testing.assert_array_equal(router._cap_units, 5 - units)
    for o in orders:
        router.release(o.order_id)
    np.testing.assert_array_equal(router._cap_orders, np.full(net.n_nodes, 3))


def test_reoptimize_needs_lines_of_batch_routed_orders():
    net, inv, orders = _contested(2, n_orders=3)
    router = Router(net, inv, Policy())
    router.route_many(orders, strategy="nearest")
    with pytest.raises(ValidationError):
        reoptimize(router, time_limit=2)
    r = reoptimize(router, time_limit=5, orders=orders)
    assert r.objective_after <= r.objective_before + 1e-9
    _reservations_consistent(router, inv)


def test_reoptimize_rejects_unknown_orders():
    net, inv, orders, router = _routed_badly(1, n_orders=2)
    with pytest.raises(ValidationError, match="not an open order"):
        reoptimize(router, ["o0", "zzz"], time_limit=1)


def test_reoptimize_removes_a_split_that_contention_forced():
    # o1 is routed first and takes the only unit at the near warehouse, forcing o2 to split;
    # re-planning gives o1 the far warehouse's unit and keeps o2 in one parcel
    net = Network.build([Node("NEAR", "warehouse", 40.0, -75.0), Node("FAR", "warehouse", 34.0, -118.0)],
                        [Sku("A"), Sku("B")])
    inv = Inventory.from_records(net, [StockRecord("NEAR", "A", 1), StockRecord("NEAR", "B", 1),
                                       StockRecord("FAR", "A", 1)])
    router = Router(net, inv, Policy())
    o1 = Order("o1", (OrderLine("1", "A", 1),), 40.0, -75.1)
    o2 = Order("o2", (OrderLine("1", "A", 1), OrderLine("2", "B", 1)), 40.1, -75.0)
    router.route(o1)
    router.route(o2)
    assert len(router.decision("o2").shipments) == 2
    r = reoptimize(router, time_limit=5)
    assert r.applied and r.splits_removed == 1 and r.saved > 0
    assert {s.node_id for s in router.decision("o2").shipments} == {"NEAR"}
    _reservations_consistent(router, inv)


# ----------------------------------------------------------------------- dual prices
def test_dual_strategy_runs_on_lp_prices_and_reports_real_costs():
    sc = load_scenario(SAMPLE)
    prices = dual_prices(sc.orders, sc.network, sc.inventory, sc.policy, time_limit=5)
    assert prices.shape == (sc.inventory.nnz,)
    assert np.isfinite(prices).all() and (prices >= 0).all()
    assert (prices > 0).any()  # the sample's stock is contested
    router = Router(sc.network, sc.inventory, sc.policy)
    router.set_dual_prices(prices)
    res = router.route_many(sc.orders, strategy="dual")
    # the reported costs are real ones: re-pricing the same allocations gives the same numbers
    batch, policy, cap_o, cap_u = O._prepare(sc.orders, sc.network, sc.inventory, sc.policy, 5, "highs", None,
                                             None, None)
    pb = O._problem(batch, sc.network, sc.inventory, policy, Router(sc.network, sc.inventory, sc.policy).stock_view(),
                    cap_o, cap_u, None, 1000, 2)
    _, ours, _ = O._tables(pb, pb.add_allocations(res.allocations))
    np.testing.assert_allclose(ours["cost"].to_numpy(), res.orders["cost"].to_numpy(), rtol=1e-9, atol=1e-7)


def test_dual_prices_are_zero_without_contention():
    net = Network.build([Node("A", "warehouse", 40.0, -75.0)], [Sku("S")])
    inv = Inventory.from_records(net, [StockRecord("A", "S", 100)])
    orders = [Order(f"o{i}", (OrderLine("1", "S", 1),), 40.1, -75.1) for i in range(3)]
    assert (dual_prices(orders, net, inv, time_limit=2) == 0).all()


# ------------------------------------------------------------------------------- CLI
def test_cli_optimize_writes_tables_and_prints_the_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(SAMPLE), "--out", str(out), "--time-limit", "3"]) == 0
    text = capsys.readouterr().out
    for word in ("cost", "lower bound", "gap", "shipments/order", "time"):
        assert word in text
    alloc = pd.read_csv(out / "allocations.csv")
    orders = pd.read_csv(out / "orders.csv")
    assert len(orders) == load_scenario(SAMPLE).orders.n_orders
    assert set(alloc["order_id"]) <= set(orders["order_id"])


def test_cli_optimize_writes_nothing_on_error(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "error" in capsys.readouterr().err
    assert not out.exists()
    assert main(["optimize", "--scenario", str(SAMPLE), "--out", str(out), "--time-limit", "-1"]) == 2
    assert not out.exists()
