""":func:`reoptimize`: re-plan a router's open orders jointly, and apply only if better."""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Mapping

import numpy as np

from sourcewise.engine.batch import batch_from_orders
from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.optimize.inputs import capacity
from sourcewise.engine.optimize.inputs import check_common
from sourcewise.engine.optimize.inputs import check_methods
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.results import ReoptResult
from sourcewise.engine.optimize.results import make_plan
from sourcewise.engine.optimize.results import tables
from sourcewise.engine.optimize.solve import solve
from sourcewise.engine.optimize.sourcing import warm_up
from sourcewise.engine.router import Holding
from sourcewise.engine.router import Router
from sourcewise.engine.router import node_usage
from sourcewise.models.errors import Collector
from sourcewise.models.network import UNLIMITED_FROM
from sourcewise.models.order import Order
from sourcewise.models.tables import OrderBatch


def reoptimize(router, order_ids: Iterable[str] | None = None, time_limit: float = 10.0, *,
               orders: OrderBatch | Iterable[Order] | None = None,
               node_capacity_orders: np.ndarray | Mapping[str, int | None] | None = None,
               node_capacity_units: np.ndarray | Mapping[str, int | None] | None = None,
               unfilled_penalty: float | None = None, solver: str = "highs") -> ReoptResult:
    """Re-plan open (reserved, not committed) orders jointly; apply only if better.

    The held plans are a feasible start, so the result is never worse. The
    router's lock is held only to take a snapshot and to swap reservations
    (stock and today's capacity); the swap is refused, changing nothing, if
    any of the orders or the stock they need changed meanwhile.

    Parameters
    ----------
    router : engine.router.Router
    order_ids : iterable of str, optional
        Open orders to re-plan; default every open order.
    time_limit : float
    orders : OrderBatch or iterable of Order, optional
        Lines and destinations of orders the router does not keep (those
        routed with ``route_many``).
    node_capacity_orders, node_capacity_units : optional
        Capacity for these orders together. Default: what the router has
        left today plus what these orders hold.
    unfilled_penalty, solver
        As for :func:`optimize`.

    Returns
    -------
    ReoptResult
    """
    warm_up()
    t0 = time.perf_counter()
    net, inv = router.network, router.inventory
    col = Collector()
    check_common(col, time_limit, solver, unfilled_penalty)
    taken = router.holdings(order_ids, collector=col)
    col.raise_if_any()
    holdings, view = taken
    held = {h.order_id: h for h in holdings}
    ids = list(held)
    on_hand, reserved = view.on_hand, view.reserved
    cap_left_o, cap_left_u = view.cap_orders, view.cap_units
    today = view.business_day
    if not ids:
        return ReoptResult(False, "no open orders", (), 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0, 0.0, None)
    batch = _open_batch(router, ids, held, orders)
    check_methods(batch, col)
    # what the orders hold goes back into the pool they are re-planned from
    back = np.zeros(inv.nnz, np.int64)
    back_o = np.zeros(net.n_nodes, np.int64)
    back_u = np.zeros(net.n_nodes, np.int64)
    for h in held.values():
        np.add.at(back, h.entries, h.qty)
        if h.day == today:
            po, pu = node_usage(net, inv, h.entries, h.qty)
            back_o += po
            back_u += pu
    free_o = np.where(cap_left_o >= UNLIMITED_FROM, cap_left_o, cap_left_o + back_o)
    free_u = np.where(cap_left_u >= UNLIMITED_FROM, cap_left_u, cap_left_u + back_u)
    cap_o = capacity(node_capacity_orders, net, "node_capacity_orders", col, free_o)
    cap_u = capacity(node_capacity_units, net, "node_capacity_units", col, free_u)
    col.raise_if_any()
    policy = router.policy
    pb = build_problem(batch, net, inv, policy, view, cap_o, cap_u, unfilled_penalty, 200_000, 4,
                  on_hand=on_hand, reserved=reserved - back)
    # the held plans as columns: the incumbent to beat
    groups = pb.G
    rows = []
    for o, oid in enumerate(ids):
        local = {int(s): j for j, s in enumerate(groups.g_sku[groups.g_ptr[o]:groups.g_ptr[o + 1]])}
        h = held[oid]
        for e, q in zip(h.entries.tolist(), h.qty.tolist(), strict=True):
            if q > 0:
                rows.append((o, local[int(pb.sku_of_ent[e])], int(inv.node[e]), int(q), int(e)))
    arr = np.array(rows, np.int64).reshape(-1, 5)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    current = pb.add_plans_by_order(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4])
    before = pb.master.objective_of(current)
    _, b_orders, _ = tables(pb, current)
    st = solve(pb, current, float(time_limit), solver, True, None, 0.5, 100_000, t0)
    plan = make_plan(pb, st, solver, t0)
    after = plan.objective
    b_ships = b_orders["shipments"].to_numpy()
    kw = dict(order_ids=tuple(ids), objective_before=before, cost_before=float(b_orders["cost"].sum()),
              shipments_before=int(b_ships.sum()), units_unfilled_before=int(b_orders["unfilled"].sum()),
              lower_bound=plan.lower_bound, plan=plan)

    def unchanged(reason: str) -> ReoptResult:
        return ReoptResult(False, reason, objective_after=before, cost_after=kw["cost_before"], saved=0.0,
                           shipments_after=kw["shipments_before"], splits_removed=0,
                           units_unfilled_after=kw["units_unfilled_before"], **kw)

    if not after < before - 1e-9 * max(1.0, abs(before)):
        return unchanged("no better plan found; nothing changed")
    _, cptr, (_, _, cq, ce) = pb.columns()
    decisions = plan.decisions
    new = {oid: (decisions[o], ce[cptr[j]:cptr[j + 1]].copy(), cq[cptr[j]:cptr[j + 1]].copy())
           for o, (oid, j) in enumerate(zip(ids, st.incumbent.tolist(), strict=True))}
    reason = router.swap_plans(holdings, new, today)
    if reason:
        return unchanged(reason)
    splits_b = int(np.maximum(b_ships - 1, 0).sum())
    splits_a = int(np.maximum(plan.orders["shipments"].to_numpy() - 1, 0).sum())
    return ReoptResult(True, "applied: lower objective", objective_after=after, cost_after=plan.cost,
                       saved=before - after, shipments_after=plan.shipments, splits_removed=splits_b - splits_a,
                       units_unfilled_after=plan.units_unfilled, **kw)


def _open_batch(router: Router, ids: list[str], held: dict[str, Holding], orders) -> OrderBatch:
    """Lines and destinations of the open orders, in ``ids`` order."""
    given: dict[str, Order] = {}
    batch = None
    if orders is not None:
        batch = orders if isinstance(orders, OrderBatch) else batch_from_orders(router.network, orders)
    where = {} if batch is None else {str(o): i for i, o in enumerate(batch.order_id)}
    col = Collector()
    for oid in ids:
        order = held[oid].order
        if order is not None:
            given[oid] = order
        elif oid not in where:
            col.add("reoptimize", oid, "order_id",
                    "the router keeps no lines for this order (routed with route_many); pass orders=...")
    col.raise_if_any()
    out = []
    for oid in ids:
        if oid in given:
            out.append(given[oid])
        else:
            i = where[oid]
            out.extend(orders_from_batch(router.network, batch.take(np.array([i]))))
    return batch_from_orders(router.network, out)
