"""Brute force optima and feasibility checks shared by the optimizer's tests."""

from __future__ import annotations

import math

import numpy as np

from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Order
from sourcewise.models import Policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.conftest import make_order
from tests.naive import allocations
from tests.naive import haversine_miles

PENALTY = 30.0


# ----------------------------------------------------------------------------- brute force
def plan_cost(net: Network, pol: Policy, alloc: dict, order: Order) -> float:
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


def order_plans(net, pol, atp: dict, order: Order, k: int):
    """Every plan of one order: ``(objective, {(node, sku): units})`` with at most ``k`` parcels."""
    demand: dict[int, int] = {}
    for line in order.lines:
        s = net.sku_index[line.sku]
        demand[s] = demand.get(s, 0) + line.qty
    usable = [n for n in range(net.n_nodes) if net.usable[n]]
    total = sum(demand.values())
    out = [(plan_cost(net, pol, alloc, order) + PENALTY * (total - sum(alloc.values())), alloc)
           for alloc in allocations(atp, demand, usable, k)]
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
        plans.append(order_plans(net, pol, atp, o, k))
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


def contested(seed: int, n_nodes: int = 3, n_skus: int = 3, n_orders: int = 3):
    """A tiny network where orders compete for a little stock."""
    rng = np.random.default_rng(seed)
    net = make_network(rng, n_nodes, n_skus)
    inv = make_inventory(rng, net, density=0.8, max_qty=3)
    orders = [make_order(rng, net, f"o{i}", max_lines=2, max_qty=2,
                         allow_split=bool(rng.random() < 0.8),
                         max_shipments=int(rng.integers(1, 4)) if rng.random() < 0.3 else None)
              for i in range(n_orders)]
    return net, inv, orders


def check_allocations(net, inv, a, cap_o=None, cap_u=None):
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


def check_feasible(net, inv, orders, plan, cap_o=None, cap_u=None, policy=None):
    pol = policy or Policy()
    a = plan.allocations
    check_allocations(net, inv, a, cap_o, cap_u)
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
                                         "distance_km", "promised_days", "flags"]
    assert list(a.columns) == ["order_id", "line_id", "sku", "node_id", "qty", "tier"]


def routed_badly(seed: int, n_orders: int = 6):
    net, inv, orders = contested(seed, n_nodes=4, n_orders=n_orders)
    router = Router(net, inv, Policy())
    for o in orders:
        router.route(o, strategy="nearest")
    return net, inv, orders, router


def reservations_consistent(router, inv):
    total = np.zeros(inv.nnz, np.int64)
    for oid in list(router._open):
        entries, qty = router._open_held(oid).rows()
        np.add.at(total, entries, qty)
    np.testing.assert_array_equal(router._reserved, inv.reserved + total)
    assert (router._on_hand - router._safety - router._reserved >= 0).all()
