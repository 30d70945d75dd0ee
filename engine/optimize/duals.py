""":func:`dual_prices`: opportunity costs of stock from the Lagrangian relaxation over a batch, checked by routing."""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sourcewise.engine.optimize.inputs import new_router
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.lagrange import relax
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.sourcing import greedy_columns
from sourcewise.engine.optimize.sourcing import route_fn
from sourcewise.engine.optimize.sourcing import warm_up
from sourcewise.engine.optimize.state import SolveState
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

PRICE_SCALES = (1.0, 0.75, 0.5, 0.25)
"""Scalings of the best bound's prices that :func:`dual_prices` also routes with."""


def dual_prices(orders: OrderBatch | Iterable[Order], network: Network, inventory: Inventory,
                policy: Policy | None = None, time_limit: float = 10.0, *,
                node_capacity_orders: np.ndarray | Mapping[str, int | None] | None = None,
                node_capacity_units: np.ndarray | Mapping[str, int | None] | None = None,
                walkin: pd.DataFrame | None = None, vendor_offers=None,
                unfilled_penalty: float | None = None) -> np.ndarray:
    """Opportunity cost of stock at every inventory entry, from the Lagrangian relaxation over a batch.

    Solve it over a demand forecast (or a recent wave) and pass the result to
    :meth:`sourcewise.engine.router.Router.set_dual_prices`: the ``dual`` strategy then
    charges each unit its opportunity cost, so stock that other orders need
    more is used less readily.

    The prices come from subgradient steps on the relaxation of every stock
    and capacity row (:mod:`~sourcewise.engine.optimize.lagrange`), which need no
    LP and scale to tens of thousands of orders; never from an unfinished
    solve. Every few steps, and at the end with the best bound's prices
    (scaled by each of :data:`PRICE_SCALES`), the batch is routed with the
    ``dual`` strategy; the prices returned are those whose routing cost
    least, and only if it cost less than routing the same batch with the
    ``cost`` strategy (myopic routing). Prices that do not pass that check
    on the batch they came from are refused.

    Parameters
    ----------
    orders, network, inventory, policy, node_capacity_orders, node_capacity_units, walkin, vendor_offers, unfilled_penalty
        As for :func:`optimize`.
    time_limit : float
        Seconds for the subgradient steps and the routing checks.

    Returns
    -------
    ndarray of float, shape (inventory.nnz,)
        Aligned with the inventory's entries, ``>= 0``. Includes the node's
        unit-capacity price where capacities bind. All zero when the
        batch's orders never compete for stock or capacity (then ``dual``
        routes as ``cost``).

    Raises
    ------
    ValidationError
        Bad inputs (as :func:`optimize`), or the prices failed the check:
        no routing at them beat myopic routing of the batch within the time.
    """
    warm_up()
    t0 = time.perf_counter()
    batch, policy, cap_o, cap_u = prepare(orders, network, inventory, policy, time_limit, "highs",
                                           unfilled_penalty, node_capacity_orders, node_capacity_units)
    router = new_router(network, inventory, policy, walkin, vendor_offers)
    pb = build_problem(batch, network, inventory, policy, router.stock_view(), cap_o, cap_u, unfilled_penalty,
                       200_000, 1)
    greedy = greedy_columns(pb, router, batch, cap_o, cap_u)
    pb.phase["greedy"] = time.perf_counter() - t0
    pb.add_empty()
    st = SolveState(greedy, pb.master.objective_of(greedy), "greedy")
    if pb.master.feasible(greedy) and np.all(pb.master.usage(pb.best_own_plans()) <= pb.master.rhs + 1e-9):
        # every order gets its own cheapest plan: nothing competes, so no stock has an opportunity cost
        return np.zeros(inventory.nnz)
    route = route_fn(pb, batch, network, inventory, policy, walkin, vendor_offers, cap_o, cap_u)
    # no SKU prices: they raise the bound, which nothing here reports, and change no routing choice
    # while steering the entries' own prices elsewhere
    rx = relax(pb, st, t0 + float(time_limit), route, every=2, sku_prices=False)
    # the best bound's prices, also scaled down: the router charges them on top of real costs one
    # order at a time, where the full relaxation prices can overstate what a unit of stock is worth
    best = rx.entry_prices(best=True)
    for scale in PRICE_SCALES:
        before = st.objective
        st.consider(pb, route(np.arange(pb.G.n), scale * best, None), "lagrangian routing")
        if st.objective < before:
            rx.routed_prices = scale * best
    if rx.routed_prices is None:
        raise ValidationError([Problem("orders", None, "dual prices",
                                       f"routing the batch at its Lagrangian prices ({rx.rounds} subgradient "
                                       f"rounds in {time.perf_counter() - t0:.1f} s) never cost less than "
                                       f"myopic routing ({st.objective:,.2f}); the prices would not help")],
                              title="dual prices refused")
    return rx.routed_prices
