""":func:`optimize`: source a batch of orders jointly; the router-backed phases; :func:`warm_up`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sourcewise.engine.optimize.heuristics import Route
from sourcewise.engine.optimize.inputs import INF_CAPACITY
from sourcewise.engine.optimize.inputs import new_router
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.lns import one_opt
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.results import Plan
from sourcewise.engine.optimize.results import make_plan
from sourcewise.engine.optimize.solve import solve
from sourcewise.engine.optimize.state import SolveState
from sourcewise.engine.router import Router
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

_WARM = False


def warm_up() -> None:
    """Compile every kernel the optimizer uses (once per process; near-instant from numba's cache).

    :func:`optimize`, :func:`dual_prices` and :func:`reoptimize` call it
    before starting their clock, so ``time_limit`` is spent solving, not
    compiling.
    """
    global _WARM
    if _WARM:
        return
    from sourcewise.models.inventory import StockRecord
    from sourcewise.models.node import Node
    from sourcewise.models.order import OrderLine
    from sourcewise.models.sku import Sku

    net = Network.build([Node("a", "warehouse", 40.0, -75.0, capacity_orders=5),
                         Node("b", "store", 41.0, -74.0)], [Sku("x", 1.0, 10.0), Sku("y", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("a", "x", 1), StockRecord("b", "x", 2), StockRecord("b", "y", 1)])
    orders = [Order("o1", (OrderLine("1", "x", 2), OrderLine("2", "y", 1)), 40.5, -74.5),
              Order("o2", (OrderLine("1", "x", 1),), 40.2, -74.9)]
    policy = Policy()
    batch, _, cap_o, cap_u = prepare(orders, net, inv, policy, 1.0, "highs", None, None, None)
    router = new_router(net, inv, policy, None, None)
    pb = build_problem(batch, net, inv, policy, router.stock_view(), cap_o, cap_u, None, 1000, 1)
    pb.add_allocations(router.route_many(batch, strategy="cost").allocations)
    r2 = new_router(net, inv, policy, None, None)
    r2.set_dual_prices(np.zeros(inv.nnz))
    r2.route_many(batch, strategy="dual")
    z, zn = np.zeros(inv.nnz), np.zeros(net.n_nodes)
    pb.price(z, zn, zn, n_single=1)
    pb.price(z, zn, zn, budget=10, parallel=True)
    pb.enumerate(z, zn, zn, np.full(pb.G.n, 1e9), 1000, time.perf_counter() + 60.0)
    pb.add_empty()
    one_opt(pb, SolveState(pb.empty_cols, pb.master.objective_of(pb.empty_cols), "empty plans"))
    _WARM = True


def optimize(orders: OrderBatch | Iterable[Order], network: Network, inventory: Inventory,
             policy: Policy | None = None, time_limit: float = 10.0, *,
             node_capacity_orders: np.ndarray | Mapping[str, int | None] | None = None,
             node_capacity_units: np.ndarray | Mapping[str, int | None] | None = None,
             walkin: pd.DataFrame | None = None, vendor_offers=None,
             unfilled_penalty: float | None = None, solver: str = "highs", n_alternatives: int = 4,
             pricing_budget: int = 200_000, max_enumerate: int = 100_000) -> Plan:
    """Source a batch of shipped orders jointly at minimum total cost.

    Parameters
    ----------
    orders : OrderBatch or iterable of Order
        Every line must ship (``method == "ship"``).
    network : Network
    inventory : Inventory
        Stock to plan against: ATP is on hand - safety stock (plus store
        protection) - reserved, as the router sees it.
    policy : Policy, optional
        Cost model, split limits, split penalty, tiers, service deadlines and
        store policy (``strategy`` is ignored).
    time_limit : float
        Wall-clock seconds for the whole call; compiling the kernels on the
        first call in a process (:func:`warm_up`) comes on top.
    node_capacity_orders, node_capacity_units : array of shape (n_nodes,) or dict, optional
        Parcels and units each node may take in this batch. Default: the
        nodes' daily capacities (the batch counts as one day). A dict
        overrides the default for the nodes it names (``None`` = unlimited).
    walkin, vendor_offers : optional
        As for :class:`sourcewise.engine.router.Router`: store walk-in demand (store
        protection and depletion) and vendor offers (fees).
    unfilled_penalty : float, optional
        Objective cost of each unit left unfilled. Default, per order: one
        more than the costliest way to ship any single unit of that order
        alone (rounded up), so filling a unit always beats dropping it, as
        with the router's fill-first rule.
    solver : {"highs", "cpsat"}
        MIP solver of the integer phase (the LP is always HiGHS).
    n_alternatives : int
        Cheapest single-node plans seeded per order.
    pricing_budget : int
        Node sets each pricing search may evaluate per order and round before
        falling back to its bound (the bound stays valid, only weaker).
    max_enumerate : int
        Most plan rows listed when closing the gap (0 disables).

    Returns
    -------
    Plan

    Raises
    ------
    ValidationError
        Bad parameters, duplicate order ids, unknown nodes or non-shipped lines,
        all listed together.
    """
    warm_up()
    t0 = time.perf_counter()
    batch, policy, cap_o, cap_u = prepare(orders, network, inventory, policy, time_limit, solver,
                                           unfilled_penalty, node_capacity_orders, node_capacity_units)
    router = new_router(network, inventory, policy, walkin, vendor_offers)
    pb = build_problem(batch, network, inventory, policy, router.stock_view(), cap_o, cap_u, unfilled_penalty,
                  pricing_budget,
                  n_alternatives)
    t = time.perf_counter()
    greedy = greedy_columns(pb, router, batch, cap_o, cap_u)
    pb.phase["greedy"] = time.perf_counter() - t

    route = route_fn(pb, batch, network, inventory, policy, walkin, vendor_offers, cap_o, cap_u)
    st = solve(pb, greedy, float(time_limit), solver, True, None, 0.5, max_enumerate, t0, route)
    return make_plan(pb, st, solver, t0)


def greedy_columns(pb: Problem, router: Router, batch: OrderBatch, cap_o: np.ndarray, cap_u: np.ndarray,
                    strategy: str = "cost") -> np.ndarray:
    """The router's own sequential routing of the batch, on the same stock and capacities."""
    router.set_capacity_left(cap_o, cap_u)
    res = router.route_many(batch, strategy=strategy, one_day=True)  # the batch shares the capacities given
    return pb.add_allocations(res.allocations)


def route_fn(pb: Problem, batch: OrderBatch, network: Network, inventory: Inventory, policy: Policy, walkin,
              vendor_offers, cap_o: np.ndarray, cap_u: np.ndarray) -> Route:
    """``route(orders, prices, taken)``: columns of ``orders`` routed by a fresh router with the
    ``dual`` strategy, after the plans ``taken`` (column ids) have used their stock and capacity."""
    sku_of = pb.sku_of_ent

    def route(orders: np.ndarray, prices: np.ndarray, taken: np.ndarray | None) -> np.ndarray:
        inv, co, cu = inventory, cap_o, cap_u
        if taken is not None and len(taken):
            used, parcels, units = pb.use_of(taken)
            inv = Inventory.from_arrays(network, inventory.node, sku_of, inventory.on_hand, inventory.safety_stock,
                                        inventory.reserved + used)
            co = np.where(cap_o >= INF_CAPACITY, cap_o, np.maximum(cap_o - parcels, 0))
            cu = np.where(cap_u >= INF_CAPACITY, cap_u, np.maximum(cap_u - units, 0))
        r = new_router(network, inv, policy, walkin, vendor_offers)
        r.set_dual_prices(np.maximum(prices, 0.0))
        r.set_capacity_left(co, cu)
        res = r.route_many(batch.take(np.asarray(orders, np.int64)), strategy="dual", one_day=True)
        return pb.add_allocations(res.allocations, orders)

    return route
