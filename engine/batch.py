"""Batch tables: columnar orders in, the ``allocations`` and ``orders`` tables out.

The router's ``route_many``, the optimizer and the simulation all speak these
tables; the helpers that build and read them live here so that none of them
reaches into another's module.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from sourcewise.models.decision import FLAG_SEP
from sourcewise.models.decision import Allocation
from sourcewise.models.decision import CostBreakdown
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Status
from sourcewise.models.errors import Collector
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from sourcewise.models.tables import OrderBatch


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Tables produced by :meth:`Router.route_many`.

    Attributes
    ----------
    allocations : DataFrame
        ``order_id, line_id, sku, node_id, qty, tier``.
    orders : DataFrame
        ``order_id, status, shipments, units, unfilled, cost, shipping,
        handling, vendor_fees, split_penalty, penalties, distance_km,
        promised_days``.
    """

    allocations: pd.DataFrame
    orders: pd.DataFrame



def decisions_to_tables(decisions: list[Decision]) -> BatchResult:
    """The batch tables for decision objects, in the same columns as :meth:`Router.route_many`."""
    alloc_rows = []
    for d in decisions:
        tier_of = {s.node_id: s.tier for s in d.shipments}
        alloc_rows.extend((d.order_id, a.line_id, a.sku, a.node_id, a.qty, tier_of.get(a.node_id, ""))
                          for a in d.allocations)
    alloc_df = pd.DataFrame(alloc_rows, columns=["order_id", "line_id", "sku", "node_id", "qty", "tier"])
    costs = np.array([[d.cost.shipping, d.cost.handling, d.cost.vendor_fees, d.cost.split_penalty,
                       d.cost.penalties] for d in decisions], np.float64).reshape(len(decisions), 5)
    filled = np.array([d.units for d in decisions], np.int64)
    unfilled = np.array([sum(q for _, q in d.unfilled) for d in decisions], np.int64)
    ships = np.array([sum(1 for s in d.shipments if s.method != "pickup") for d in decisions], np.int64)
    km = np.array([d.distance_km for d in decisions], np.float64)
    days = np.array([max((s.promised_days for s in d.shipments), default=-1.0) for d in decisions], np.float64)
    flags = np.array([FLAG_SEP.join(d.flags) for d in decisions] or [""], dtype=object)[:len(decisions)]
    return BatchResult(alloc_df, orders_frame(np.array([d.order_id for d in decisions], dtype=object),
                                               filled, filled + unfilled, ships, costs, km, days, flags))


# pandas' default string dtype for a column of Python str; with Arrow storage, a
# column decoded from Arrow dictionary codes costs a fraction of converting one
# str per row, and batch tables have hundreds of thousands of rows
_STR_DTYPE = pd.Series(np.array([""], dtype=object)).dtype
_ARROW_STR = isinstance(_STR_DTYPE, pd.StringDtype) and _STR_DTYPE.storage == "pyarrow"
STATUS_LABELS = np.array([Status.ROUTED.value, Status.PARTIAL.value, Status.UNROUTABLE.value], dtype=object)


# node and SKU id labels for batch tables, per network (immutable, like the network)
_NETWORK_LABELS: weakref.WeakKeyDictionary[Network, tuple] = weakref.WeakKeyDictionary()


def arrow_labels(labels: np.ndarray) -> np.ndarray | pa.Array:
    """``labels`` in the form :func:`take_str` reads fastest, to keep for repeated use."""
    return pa.array(labels.tolist(), pa.large_string()) if _ARROW_STR else np.asarray(labels, dtype=object)


def take_str(labels: np.ndarray | pa.Array, codes: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``labels[codes]`` as a column of pandas' default string dtype (the same column a
    DataFrame would make of the object array ``labels[codes]``)."""
    if not _ARROW_STR or len(codes) == 0:
        # pandas infers no string dtype for an empty object column: keep that
        return np.asarray(labels, dtype=object)[codes]
    dictionary = labels if isinstance(labels, pa.Array) else arrow_labels(labels)
    decoded = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int64()), dictionary).cast(pa.large_string())
    return pd.array(decoded, dtype=_STR_DTYPE)


def network_labels(network: Network) -> tuple:
    """Node and SKU id labels of ``network`` in the form :func:`take_str` reads fastest.

    Made once per network and shared by every router over it: sweeps and
    benchmarks make many routers, and labelling 10^5 SKUs costs tens of milliseconds.
    """
    labels = _NETWORK_LABELS.get(network)
    if labels is None:
        labels = _NETWORK_LABELS[network] = (
            arrow_labels(np.array([n.node_id for n in network.nodes], dtype=object)),
            arrow_labels(np.array([s.sku for s in network.skus], dtype=object)))
    return labels


def orders_frame(order_id, filled, ordered, ships, costs, km, days, flags=None) -> pd.DataFrame:
    status = np.where(filled == ordered, 0, np.where(filled == 0, 2, 1))
    return pd.DataFrame({
        "order_id": order_id,
        "status": take_str(STATUS_LABELS, status),
        "shipments": ships,
        "units": filled,
        "unfilled": ordered - filled,
        "cost": costs.sum(axis=1),
        "shipping": costs[:, 0],
        "handling": costs[:, 1],
        "vendor_fees": costs[:, 2],
        "split_penalty": costs[:, 3],
        "penalties": costs[:, 4],
        "distance_km": km,
        "promised_days": days,
        # geography flags (engine.geography), joined by FLAG_SEP; "" for the usual domestic order
        "flags": np.full(len(order_id), "", dtype=object) if flags is None else flags,
    })


def orders_from_batch(network: Network, batch: OrderBatch) -> list[Order]:
    """Order objects for a columnar batch (the slow path needs them)."""
    node_ids = [n.node_id for n in network.nodes]
    out = []
    for o in range(batch.n_orders):
        lo, hi = batch.line_ptr[o], batch.line_ptr[o + 1]
        lines = tuple(
            OrderLine(str(batch.line_id[i]), network.skus[batch.sku[i]].sku, int(batch.qty[i]),
                      str(batch.method[i]) if batch.method is not None else "ship",
                      node_ids[batch.pickup_node[i]] if batch.pickup_node is not None and batch.pickup_node[i] >= 0
                      else None)
            for i in range(lo, hi)
        )
        placed = None
        if batch.placed_at is not None and not np.isnat(batch.placed_at[o]):
            placed = pd.Timestamp(batch.placed_at[o]).to_pydatetime()
        out.append(Order(
            str(batch.order_id[o]), lines, float(batch.lat[o]), float(batch.lon[o]), bool(batch.allow_split[o]),
            int(batch.max_shipments[o]) if batch.max_shipments[o] > 0 else None,
            str(batch.service_level[o]) if batch.service_level is not None else "standard",
            str(batch.channel[o]) if batch.channel is not None else "web",
            placed,
            bool(batch.allow_substitutes[o]) if batch.allow_substitutes is not None else True,
        ))
    return out


def lines_for_groups(group_of_line: np.ndarray, line_qty: np.ndarray, out_g: np.ndarray,
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


def decision_from_rows(rec: dict, rows: pd.DataFrame, strategy: str) -> Decision:
    allocations = tuple(
        Allocation(lid, sku, nid, int(q))
        for lid, sku, nid, q in zip(rows["line_id"], rows["sku"], rows["node_id"], rows["qty"], strict=True)
    )
    return Decision(
        order_id=rec["order_id"],
        status=Status(rec["status"]),
        allocations=allocations,
        shipments=(),
        cost=CostBreakdown(rec["shipping"], rec["handling"], rec["vendor_fees"], rec["split_penalty"],
                           rec.get("penalties", 0.0)),
        strategy=strategy,
        flags=tuple(rec["flags"].split(FLAG_SEP)) if rec.get("flags") else (),
    )


def batch_from_orders(network: Network, orders: Iterable[Order]) -> OrderBatch:
    orders = list(orders)
    col = Collector()
    line_ptr = np.zeros(len(orders) + 1, np.int64)
    sku, qty, lid, method, pickup = [], [], [], [], []
    for o, order in enumerate(orders):
        for line in order.lines:
            s = network.sku_index.get(line.sku, -1)
            if s < 0:
                col.add("orders", f"{order.order_id}/{line.line_id}", "sku", f"unknown sku {line.sku!r}")
            p = network.node_index.get(line.pickup_node, -1) if line.pickup_node else -1
            if line.pickup_node and p < 0:
                col.add("orders", f"{order.order_id}/{line.line_id}", "pickup_node",
                        f"unknown node {line.pickup_node!r}")
            sku.append(s)
            qty.append(line.qty)
            lid.append(line.line_id)
            method.append(line.method)
            pickup.append(p)
        line_ptr[o + 1] = len(sku)
    col.raise_if_any()
    placed = np.array([np.datetime64(o.placed_at, "s") if o.placed_at is not None else np.datetime64("NaT", "s")
                       for o in orders], dtype="datetime64[s]")
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
        method=np.array(method, dtype=object),
        pickup_node=np.array(pickup, np.int64),
        service_level=np.array([o.service_level for o in orders], dtype=object),
        channel=np.array([o.channel for o in orders], dtype=object),
        placed_at=placed,
        allow_substitutes=np.array([o.allow_substitutes for o in orders], np.bool_),
    )


# what an absent optional column of an OrderBatch means, per order or per line
_ORDER_DEFAULTS = (("service_level", "standard"), ("channel", "web"), ("allow_substitutes", True))


def row_differences(a: OrderBatch, i: int, b: OrderBatch, j: int) -> list[str]:
    """The fields in which order ``i`` of batch ``a`` and order ``j`` of batch ``b`` differ.

    Compared as routing sees them (the columnar form): an absent optional
    column stands for its default, ``placed_at`` to the second. Any
    difference in the lines (count, ids, SKUs, units, methods or pickup
    stores) is reported as ``lines``. Empty when the two are the same order.
    """
    out = [name for name in ("order_id", "lat", "lon", "allow_split", "max_shipments")
           if getattr(a, name)[i] != getattr(b, name)[j]]
    for name, default in _ORDER_DEFAULTS:
        x, y = getattr(a, name), getattr(b, name)
        if (default if x is None else x[i]) != (default if y is None else y[j]):
            out.append(name)
    nat = np.datetime64("NaT", "s")
    pa_, pb = (nat if a.placed_at is None else a.placed_at[i]), (nat if b.placed_at is None else b.placed_at[j])
    if not (np.isnat(pa_) and np.isnat(pb)) and pa_ != pb:
        out.append("placed_at")
    la, lb = slice(int(a.line_ptr[i]), int(a.line_ptr[i + 1])), slice(int(b.line_ptr[j]), int(b.line_ptr[j + 1]))
    n = la.stop - la.start
    if n != lb.stop - lb.start:
        return [*out, "lines"]

    def lines(batch: OrderBatch, name: str, sl: slice, default: object) -> list:
        col = getattr(batch, name)
        return [default] * n if col is None else col[sl].tolist()

    for name, default in (("line_id", None), ("sku", None), ("qty", None), ("method", "ship"),
                          ("pickup_node", -1)):
        if lines(a, name, la, default) != lines(b, name, lb, default):
            return [*out, "lines"]
    return out
