"""The stateful single-order router and its sequential batch form."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import _kernels as K
from engine.explain import build_notes
from models.decision import Allocation, CostBreakdown, Decision, Explanation, Shipment, Status
from models.errors import Collector
from models.inventory import Inventory
from models.network import Network, unit_vectors
from models.order import Order
from models.policy import STRATEGIES, Policy
from models.tables import OrderBatch


class ReservationError(KeyError):
    """Raised when releasing or committing an order that holds no reservation."""


@dataclass(slots=True)
class _Held:
    """Stock an open order holds: inventory entry positions and units."""

    decision: Decision | None
    entries: np.ndarray
    qty: np.ndarray
    source: tuple | None = None

    def get(self) -> Decision:
        if self.decision is None:
            result, name, o, a, b = self.source
            self.decision = _decision_from_rows(result.orders.iloc[o].to_dict(),
                                                result.allocations.iloc[a:b], name)
            self.source = None
        return self.decision


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Tables produced by :meth:`Router.route_many`.

    Attributes
    ----------
    allocations : DataFrame
        ``order_id, line_id, sku, node_id, qty``.
    orders : DataFrame
        ``order_id, status, shipments, units, unfilled, cost, shipping,
        handling, vendor_fees, split_penalty, distance_km``.
    """

    allocations: pd.DataFrame
    orders: pd.DataFrame


def _group_lines(sku_idx: list[int], qty: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Merge lines of the same SKU: they share stock and cost the same per unit."""
    pos: dict[int, int] = {}
    g_sku: list[int] = []
    g_qty: list[int] = []
    line_group: list[int] = []
    for s, q in zip(sku_idx, qty, strict=True):
        g = pos.get(s)
        if g is None:
            g = pos[s] = len(g_sku)
            g_sku.append(s)
            g_qty.append(q)
        else:
            g_qty[g] += q
        line_group.append(g)
    return np.array(g_sku, np.int64), np.array(g_qty, np.int64), line_group


class Router:
    """Routes orders one at a time against live available-to-promise stock.

    Parameters
    ----------
    network : Network
    inventory : Inventory
        Starting stock; the router keeps its own mutable copy.
    policy : Policy, optional

    Notes
    -----
    ``route`` reserves what it allocates; ``release`` gives it back and
    ``commit`` consumes it (on-hand and reservation both drop). Every state
    change happens under one lock, so concurrent callers never oversell.
    """

    def __init__(self, network: Network, inventory: Inventory, policy: Policy | None = None):
        if inventory.network is not network:
            raise ValueError("inventory was built for a different network")
        self.network = network
        self.policy = policy or Policy()
        self._inv = inventory
        self._on_hand = inventory.on_hand.copy()
        self._safety = inventory.safety_stock.copy()
        self._reserved = inventory.reserved.copy()
        self._mark = np.full(network.n_nodes, -1, np.int64)
        self._lock = threading.RLock()
        self._open: dict[str, _Held] = {}
        self._committed: dict[str, Decision] = {}
        self._dual = np.zeros(inventory.nnz, np.float64)

    def set_dual_prices(self, prices: np.ndarray) -> None:
        """Shadow price per inventory entry, added to unit costs by the ``dual`` strategy.

        Parameters
        ----------
        prices : ndarray of float, shape (inventory.nnz,)
            Aligned with the inventory's entries (see :class:`models.Inventory`);
            finite and >= 0.
        """
        p = np.asarray(prices, dtype=np.float64)
        col = Collector()
        if p.shape != (self._inv.nnz,):
            col.add("dual_prices", None, "shape", f"must be ({self._inv.nnz},), got {p.shape}")
        else:
            for i in np.flatnonzero(~np.isfinite(p) | (p < 0))[:100]:
                col.add("dual_prices", int(i), "price", f"must be finite and >= 0, got {p[i]!r}")
        col.raise_if_any()
        with self._lock:
            self._dual = p.copy()

    # ------------------------------------------------------------------ state
    def atp(self, node_id: str, sku: str) -> int:
        """Current available-to-promise units of ``sku`` at ``node_id``."""
        j = self._inv.entry(node_id, sku)
        if j < 0:
            return 0
        with self._lock:
            return max(0, int(self._on_hand[j] - self._safety[j] - self._reserved[j]))

    def snapshot(self) -> Inventory:
        """The current stock, reservations included, as an immutable Inventory."""
        with self._lock:
            on_hand, reserved = self._on_hand.copy(), self._reserved.copy()
        inv = self._inv
        sku_of = np.repeat(np.arange(self.network.n_skus), np.diff(inv.sku_ptr))
        return Inventory.from_arrays(self.network, inv.node, sku_of, on_hand, inv.safety_stock, reserved)

    def decision(self, order_id: str) -> Decision | None:
        """The open or committed decision for ``order_id``, if any."""
        held = self._open.get(order_id)
        return held.get() if held is not None else self._committed.get(order_id)

    @property
    def open_orders(self) -> tuple[str, ...]:
        return tuple(self._open)

    def adjust_stock(self, node_id: str, sku: str, delta: int) -> int:
        """Change on-hand stock outside routing: receipts (``delta > 0``) or
        walk-in sales and shrink (``delta < 0``).

        A decrease takes at most the units not reserved for open orders, so it
        never invalidates a reservation. Returns the change applied.

        Raises
        ------
        ValidationError
            For an unknown node or SKU, or a pair with no stocked entry
            (add it to the inventory table first).
        """
        col = Collector()
        if node_id not in self.network.node_index:
            col.add("stock", node_id, "node_id", f"unknown node {node_id!r}")
        if sku not in self.network.sku_index:
            col.add("stock", sku, "sku", f"unknown sku {sku!r}")
        col.raise_if_any()
        j = self._inv.entry(node_id, sku)
        if j < 0:
            col.add("stock", f"{node_id}/{sku}", "node_id/sku", "no inventory entry for this pair")
            col.raise_if_any()
        with self._lock:
            if delta < 0:
                free = max(0, int(self._on_hand[j] - self._reserved[j]))
                delta = -min(-delta, free)
            self._on_hand[j] += delta
        return int(delta)

    # ---------------------------------------------------------------- routing
    def _strategy_code(self, strategy: str | None) -> tuple[str, int]:
        name = strategy or self.policy.strategy
        if name not in STRATEGIES:
            col = Collector()
            col.add("policy", None, "strategy", f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
            col.raise_if_any()
        return name, K.STRATEGY_CODES[name]

    def _limit(self, allow_split: bool, max_shipments: int | None) -> int:
        if not allow_split:
            return 1
        return int(max_shipments) if max_shipments is not None and max_shipments > 0 else self.policy.max_shipments

    def route(self, order: Order, strategy: str | None = None) -> Decision:
        """Choose nodes for ``order`` and reserve the stock.

        Routing an ``order_id`` that already holds a decision returns that
        decision and reserves nothing more.

        Raises
        ------
        ValidationError
            If a line names an unknown SKU; nothing is reserved.
        """
        name, code = self._strategy_code(strategy)
        existing = self.decision(order.order_id)
        if existing is not None:
            return existing
        index = self.network.sku_index
        sku_idx = [index.get(line.sku, -1) for line in order.lines]
        if -1 in sku_idx:
            col = Collector()
            for line, s in zip(order.lines, sku_idx, strict=True):
                if s < 0:
                    col.add("orders", f"{order.order_id}/{line.line_id}", "sku", f"unknown sku {line.sku!r}")
            col.raise_if_any()
        g_sku, g_qty, line_group = _group_lines(sku_idx, [line.qty for line in order.lines])
        la, lo = math.radians(order.lat), math.radians(order.lon)
        cl = math.cos(la)
        dest = np.array((cl * math.cos(lo), cl * math.sin(lo), math.sin(la)))
        k = self._limit(order.allow_split, order.max_shipments)
        net, pol, cm = self.network, self.policy, self.policy.cost
        with self._lock:
            existing = self.decision(order.order_id)
            if existing is not None:
                return existing
            cand, atp, ent, alloc, miles, fixed, unit, costs = K._route_core(
                dest, g_sku, g_qty, k, code,
                net.xyz, net.handling_per_shipment, net.handling_per_unit, net.fee_rate,
                net.priority_rank, net.usable, net.price, net.weight_kg,
                self._inv.sku_ptr, self._inv.node, self._on_hand, self._safety, self._reserved, self._mark,
                cm.per_shipment, cm.per_unit, cm.per_unit_mile, cm.per_kg, pol.split_penalty,
                pol.split_candidates, self._dual, True,
            )
            rows, cols = np.nonzero(alloc)
            decision = self._decision(order, name, k, g_sku, g_qty, line_group, cand, atp, alloc, miles,
                                      fixed, unit, costs, dest, rows, cols)
            self._open[order.order_id] = _Held(decision, ent[rows, cols], alloc[rows, cols])
        return decision

    def _decision(self, order, name, k, g_sku, g_qty, line_group, cand, atp, alloc, miles, fixed, unit,
                  costs, dest, rows, cols) -> Decision:
        net = self.network
        lines = order.lines
        allocations: list[Allocation] = []
        ship_lines: dict[int, list[tuple[str, int]]] = {}
        # units of a merged SKU group go to its lines in order, node by node
        left = [line.qty for line in lines]
        for c, g, units in zip(rows.tolist(), cols.tolist(), alloc[rows, cols].tolist(), strict=True):
            node_id = net.nodes[cand[c]].node_id
            for li, line in enumerate(lines):
                if units == 0:
                    break
                if line_group[li] != g or left[li] == 0:
                    continue
                take = units if units < left[li] else left[li]
                left[li] -= take
                units -= take
                allocations.append(Allocation(line.line_id, line.sku, node_id, take))
                ship_lines.setdefault(c, []).append((line.line_id, take))
        shipments = tuple(
            Shipment(net.nodes[cand[c]].node_id, sum(q for _, q in items), float(miles[c]) * K.MILE_KM,
                     tuple(items))
            for c, items in ship_lines.items()
        )
        filled = int(alloc.sum())
        total = int(g_qty.sum())
        status = Status.ROUTED if filled == total else (Status.UNROUTABLE if filled == 0 else Status.PARTIAL)
        unfilled = tuple((line.line_id, left[i]) for i, line in enumerate(lines) if left[i] > 0)
        pol = self.policy

        def build():
            return build_notes(net, self._inv, pol, name, k, g_sku, g_qty, cand, atp, alloc, miles, fixed, unit, dest)

        return Decision(
            order_id=order.order_id,
            status=status,
            allocations=tuple(allocations),
            shipments=shipments,
            cost=CostBreakdown(float(costs[0]), float(costs[1]), float(costs[2]), float(costs[3])),
            strategy=name,
            explanation=Explanation(name, build),
            unfilled=unfilled,
        )

    def release(self, order_id: str) -> Decision:
        """Give back the stock ``order_id`` reserved; it may be routed again."""
        with self._lock:
            held = self._open.pop(order_id, None)
            if held is None:
                raise ReservationError(f"order {order_id!r} holds no reservation")
            np.subtract.at(self._reserved, held.entries, held.qty)
        return held.get()

    def commit(self, order_id: str) -> Decision:
        """Consume the reserved stock (the order shipped); routing it again returns this decision."""
        with self._lock:
            held = self._open.pop(order_id, None)
            if held is None:
                raise ReservationError(f"order {order_id!r} holds no reservation")
            np.subtract.at(self._reserved, held.entries, held.qty)
            np.subtract.at(self._on_hand, held.entries, held.qty)
            self._committed[order_id] = held.get()
        return self._committed[order_id]

    # ------------------------------------------------------------------ batch
    def route_many(self, orders: OrderBatch | Iterable[Order], strategy: str | None = None) -> BatchResult:
        """Route orders in sequence, each depleting stock for the next.

        The whole batch runs in one compiled loop; decisions are returned as
        tables rather than objects. Every routed order holds a reservation
        that :meth:`release` and :meth:`commit` accept. Orders that already
        hold a decision are routed again by :meth:`route` only, not here.

        Raises
        ------
        ValidationError
            If an order id repeats or already holds a decision; nothing is reserved.
        """
        batch = orders if isinstance(orders, OrderBatch) else _batch_from_orders(self.network, orders)
        name, code = self._strategy_code(strategy)
        col = Collector()
        for i in np.flatnonzero(pd.Series(batch.order_id).duplicated().to_numpy()):
            col.add("orders", str(batch.order_id[i]), "order_id", "duplicate order_id in batch")
        net, pol, cm = self.network, self.policy, self.policy.cost
        # lines of the same SKU in one order share stock: route them as one group
        owner = np.repeat(np.arange(batch.n_orders), np.diff(batch.line_ptr))
        key = pd.MultiIndex.from_arrays([owner, batch.sku])
        group_of_line, uniq = pd.factorize(key)
        g_owner = uniq.get_level_values(0).to_numpy()
        g_sku = uniq.get_level_values(1).to_numpy().astype(np.int64)
        g_qty = np.bincount(group_of_line, weights=batch.qty, minlength=len(uniq)).astype(np.int64)
        g_ptr = np.searchsorted(g_owner, np.arange(batch.n_orders + 1)).astype(np.int64)
        k = np.where(batch.allow_split, np.where(batch.max_shipments > 0, batch.max_shipments,
                                                 pol.max_shipments), 1).astype(np.int64)
        dest = unit_vectors(batch.lat, batch.lon)
        with self._lock:
            for oid in batch.order_id:
                if oid in self._open or oid in self._committed:
                    col.add("orders", str(oid), "order_id", "already routed; use route() to fetch it")
            col.raise_if_any()
            out_g, out_n, out_q, out_e, costs, ships, km = K._route_batch(
                dest, g_ptr, g_sku, g_qty, k, code,
                net.xyz, net.handling_per_shipment, net.handling_per_unit, net.fee_rate,
                net.priority_rank, net.usable, net.price, net.weight_kg,
                self._inv.sku_ptr, self._inv.node, self._on_hand, self._safety, self._reserved, self._mark,
                cm.per_shipment, cm.per_unit, cm.per_unit_mile, cm.per_kg, pol.split_penalty, pol.split_candidates,
                self._dual,
            )
            # split group allocations back onto lines
            line_rows = _lines_for_groups(group_of_line, batch.qty, out_g, out_q)
            l_idx, a_node, a_qty = line_rows[0], out_n[line_rows[1]], line_rows[2]
            a_order = owner[l_idx]
            filled = np.bincount(a_order, weights=a_qty, minlength=batch.n_orders).astype(np.int64)
            ordered = np.bincount(owner, weights=batch.qty, minlength=batch.n_orders).astype(np.int64)
            status = np.where(filled == ordered, Status.ROUTED.value,
                              np.where(filled == 0, Status.UNROUTABLE.value, Status.PARTIAL.value))
            node_ids = np.array([n.node_id for n in net.nodes], dtype=object)
            sku_ids = np.array([s.sku for s in net.skus], dtype=object)
            alloc_df = pd.DataFrame({
                "order_id": batch.order_id[a_order],
                "line_id": batch.line_id[l_idx],
                "sku": sku_ids[batch.sku[l_idx]],
                "node_id": node_ids[a_node],
                "qty": a_qty,
            })
            orders_df = pd.DataFrame({
                "order_id": batch.order_id,
                "status": status,
                "shipments": ships,
                "units": filled,
                "unfilled": ordered - filled,
                "cost": costs.sum(axis=1),
                "shipping": costs[:, 0],
                "handling": costs[:, 1],
                "vendor_fees": costs[:, 2],
                "split_penalty": costs[:, 3],
                "distance_km": km,
            })
            result = BatchResult(alloc_df, orders_df)
            self._hold_batch(batch, name, result, a_order, out_g, out_e, out_q, g_owner)
        return result

    def _hold_batch(self, batch, name, result, a_order, out_g, out_e, out_q, g_owner) -> None:
        """Record each routed order's reservation so it can be released or committed.

        Decision objects are built only when asked for, so a million-order
        batch pays for a dictionary entry per order, not for its objects.
        """
        bounds = np.searchsorted(g_owner[out_g], np.arange(batch.n_orders + 1))
        a_bounds = np.searchsorted(a_order, np.arange(batch.n_orders + 1))
        for o, oid in enumerate(batch.order_id):
            a, b = bounds[o], bounds[o + 1]
            self._open[oid] = _Held(None, out_e[a:b], out_q[a:b], (result, name, o, a_bounds[o], a_bounds[o + 1]))

    # -------------------------------------------------------------- dataframe
    def route_frame(self, orders: pd.DataFrame, strategy: str | None = None) -> BatchResult:
        """Route a line-level orders DataFrame (see the README for its columns)."""
        from models.tables import orders_from_frame

        return self.route_many(orders_from_frame(self.network, orders), strategy)


def _lines_for_groups(group_of_line: np.ndarray, line_qty: np.ndarray, out_g: np.ndarray,
                      out_q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distribute each group's node allocations over its lines, in line order.

    Returns line index, allocation-row index and units for every (line, node) piece.
    """
    n_groups = int(group_of_line.max()) + 1 if len(group_of_line) else 0
    lines_per_group = np.bincount(group_of_line, minlength=n_groups)
    if len(out_g) == 0:
        e = np.empty(0, np.int64)
        return e, e, e
    single = lines_per_group[out_g] == 1
    first_line = np.full(n_groups, -1, np.int64)
    first_line[group_of_line[::-1]] = np.arange(len(group_of_line))[::-1]
    li = [first_line[out_g[single]]]
    ri = [np.flatnonzero(single)]
    qi = [out_q[single]]
    multi = np.flatnonzero(~single)
    if len(multi):
        members: dict[int, list[int]] = {}
        for idx in np.flatnonzero(lines_per_group[group_of_line] > 1):
            members.setdefault(int(group_of_line[idx]), []).append(int(idx))
        left = {i: int(line_qty[i]) for m in members.values() for i in m}
        extra_l, extra_r, extra_q = [], [], []
        for r in multi:
            units = int(out_q[r])
            for line in members[int(out_g[r])]:
                if units == 0:
                    break
                take = min(units, left[line])
                if take:
                    left[line] -= take
                    units -= take
                    extra_l.append(line)
                    extra_r.append(r)
                    extra_q.append(take)
        li.append(np.array(extra_l, np.int64))
        ri.append(np.array(extra_r, np.int64))
        qi.append(np.array(extra_q, np.int64))
    l_all = np.concatenate(li)
    order = np.argsort(l_all, kind="stable")
    return l_all[order], np.concatenate(ri)[order], np.concatenate(qi)[order]


def _decision_from_rows(rec: dict, rows: pd.DataFrame, strategy: str) -> Decision:
    allocations = tuple(
        Allocation(lid, sku, nid, int(q))
        for lid, sku, nid, q in zip(rows["line_id"], rows["sku"], rows["node_id"], rows["qty"], strict=True)
    )
    return Decision(
        order_id=rec["order_id"],
        status=Status(rec["status"]),
        allocations=allocations,
        shipments=(),
        cost=CostBreakdown(rec["shipping"], rec["handling"], rec["vendor_fees"], rec["split_penalty"]),
        strategy=strategy,
    )


def _batch_from_orders(network: Network, orders: Iterable[Order]) -> OrderBatch:
    orders = list(orders)
    col = Collector()
    line_ptr = np.zeros(len(orders) + 1, np.int64)
    sku, qty, lid = [], [], []
    for o, order in enumerate(orders):
        for line in order.lines:
            s = network.sku_index.get(line.sku, -1)
            if s < 0:
                col.add("orders", f"{order.order_id}/{line.line_id}", "sku", f"unknown sku {line.sku!r}")
            sku.append(s)
            qty.append(line.qty)
            lid.append(line.line_id)
        line_ptr[o + 1] = len(sku)
    col.raise_if_any()
    return OrderBatch(
        order_id=np.array([o.order_id for o in orders], dtype=object),
        line_ptr=line_ptr,
        line_id=np.array(lid, dtype=object),
        sku=np.array(sku, np.int64),
        qty=np.array(qty, np.int64),
        lat=np.array([o.lat for o in orders], np.float64),
        lon=np.array([o.lon for o in orders], np.float64),
        allow_split=np.array([o.allow_split for o in orders], np.bool_),
        max_shipments=np.array([o.max_shipments or -1 for o in orders], np.int64),
    )
