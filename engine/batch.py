"""Batch tables: columnar orders in, the ``allocations`` and ``orders`` tables out.

The router's ``route_many``, the optimizer and the simulation all speak these
tables; the helpers that build and read them live here so that none of them
reaches into another's module.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

import numpy as np
import pandas as pd
import pyarrow as pa

from sourcewise.engine.reasons import order_reason
from sourcewise.models.decision import FLAG_SEP
from sourcewise.models.decision import Allocation
from sourcewise.models.decision import CostBreakdown
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Explanation
from sourcewise.models.decision import LineReason
from sourcewise.models.decision import Status
from sourcewise.models.decision import TierNote
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
        ``order_id, line_id, sku, node_id, qty, tier, promised_date`` (the
        date the row's parcel is promised for): the units placed at nodes.
        :func:`allocations_file` adds each line's reason and unfilled units,
        as ``route`` writes ``allocations.csv``.
    orders : DataFrame
        ``order_id, status, shipments, units, unfilled, cost, shipping,
        handling, vendor_fees, split_penalty, penalties, distance_km,
        promised_days, flags, reason, reason_text``: ``reason`` is the code
        of the line with the most unfilled units, ``""`` for a routed order.
    unfilled : DataFrame or None
        One row per line with unfilled units (:data:`UNFILLED_COLUMNS`):
        its reason and the substitutes proposed for it. None where the
        tables come from elsewhere (the optimizer, a ledger's record).
    """

    allocations: pd.DataFrame
    orders: pd.DataFrame
    unfilled: pd.DataFrame | None = None
    _by_order: dict = field(default_factory=dict, repr=False)

    def unfilled_of(self, order_id: str) -> pd.DataFrame | None:
        """The :attr:`unfilled` rows of one order (None without the table)."""
        if self.unfilled is None:
            return None
        if not self._by_order and len(self.unfilled):
            ids = self.unfilled["order_id"].astype(object).to_numpy()
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            ends = np.r_[starts[1:], len(ids)]
            self._by_order.update(zip(ids[starts].tolist(), zip(starts.tolist(), ends.tolist(), strict=True),
                                      strict=True))
        lo, hi = self._by_order.get(order_id, (0, 0))
        return self.unfilled.iloc[lo:hi]


#: Columns of :attr:`BatchResult.unfilled` (``unfilled.csv``): the line, its units left unrouted, the
#: reason code and sentence (:mod:`sourcewise.engine.reasons`), and the substitutes proposed, ``;``-separated.
UNFILLED_COLUMNS: tuple[str, ...] = ("order_id", "line_id", "sku", "unfilled", "reason", "reason_text", "substitutes")


def unfilled_frame(rows: list[tuple]) -> pd.DataFrame:
    """The :data:`UNFILLED_COLUMNS` table from ``(order_id, LineReason, proposals)`` triples, in order."""
    return pd.DataFrame([(oid, r.line_id, r.sku, r.units, r.code, r.text, ";".join(s for s, _ in props))
                         for oid, r, props in rows], columns=list(UNFILLED_COLUMNS))


#: Columns of ``allocations.csv`` as ``route`` writes it (:func:`allocations_file`): those of
#: :attr:`BatchResult.allocations`, then the reason for the line's units left unrouted.
ALLOCATION_FILE_COLUMNS: tuple[str, ...] = ("order_id", "line_id", "sku", "node_id", "qty", "tier", "promised_date",
                                            "reason", "reason_text")

#: ``tier`` of the ``allocations.csv`` row that holds a line's unrouted units.
UNFILLED_TIER = "unfilled"


def allocations_file(result: BatchResult, batch: OrderBatch) -> pd.DataFrame:
    """The ``allocations`` table ``route`` writes, in which every unit ordered has a row.

    The rows of ``result.allocations``, each with the reason code and
    sentence of its line's units left unrouted (empty for a line filled in
    full), and for each line with units left one more row: no ``node_id``,
    ``tier`` :data:`UNFILLED_TIER`, ``qty`` the units left, no
    ``promised_date``, and the line's reason. So a line's ``qty`` summed over
    its rows is the quantity ordered. Rows follow the lines of ``batch`` (the
    orders ``result`` routed), a line's unfilled row after its allocations.

    Raises
    ------
    ValueError
        If a row of ``result`` names a line that is not in ``batch``.
    """
    alloc = result.allocations
    short = result.unfilled
    if short is None or not len(short):
        return alloc.assign(reason="", reason_text="")[list(ALLOCATION_FILE_COLUMNS)]
    lines = pd.MultiIndex.from_arrays([np.repeat(np.asarray(batch.order_id, dtype=object), np.diff(batch.line_ptr)),
                                       np.asarray(batch.line_id, dtype=object)])

    def line_of(df: pd.DataFrame) -> np.ndarray:
        at = lines.get_indexer(pd.MultiIndex.from_arrays([df["order_id"].to_numpy(object),
                                                          df["line_id"].to_numpy(object)]))
        if (at < 0).any():
            raise ValueError(f"line {tuple(df.iloc[int(np.argmax(at < 0))][['order_id', 'line_id']])} is not in the "
                             "batch")
        return at

    left = pd.DataFrame({
        "order_id": short["order_id"].to_numpy(object), "line_id": short["line_id"].to_numpy(object),
        "sku": short["sku"].to_numpy(object), "node_id": "", "qty": short["unfilled"].to_numpy(np.int64),
        "tier": UNFILLED_TIER, "promised_date": np.full(len(short), np.datetime64("NaT"),
                                                         alloc["promised_date"].dtype)})
    at = line_of(short)
    line = np.concatenate([line_of(alloc), at])
    # stable: a line's allocation rows keep their order, and its unfilled row (concatenated after) comes last
    order = np.argsort(line, kind="stable")
    out = pd.concat([alloc, left], ignore_index=True).iloc[order].reset_index(drop=True)
    code = np.full(len(lines), "", dtype=object)
    text = np.full(len(lines), "", dtype=object)
    code[at] = short["reason"].to_numpy(object)
    text[at] = short["reason_text"].to_numpy(object)
    out["reason"] = code[line[order]]
    out["reason_text"] = text[line[order]]
    return out[list(ALLOCATION_FILE_COLUMNS)]



def decisions_to_tables(decisions: list[Decision]) -> BatchResult:
    """The batch tables for decision objects, in the same columns as :meth:`Router.route_many`."""
    alloc_rows = []
    for d in decisions:
        ship_of = {}
        for s in d.shipments:
            for lid, _ in s.lines:
                ship_of.setdefault((s.node_id, lid), s)
        for a in d.allocations:
            s = ship_of.get((a.node_id, a.line_id))
            alloc_rows.append((d.order_id, a.line_id, a.sku, a.node_id, a.qty, s.tier if s else "",
                               np.datetime64(s.promised_date, "D") if s and s.promised_date else np.datetime64("NaT")))
    alloc_df = pd.DataFrame(alloc_rows, columns=["order_id", "line_id", "sku", "node_id", "qty", "tier",
                                                 "promised_date"])
    alloc_df["promised_date"] = alloc_df["promised_date"].astype("datetime64[s]")
    costs = np.array([[d.cost.shipping, d.cost.handling, d.cost.vendor_fees, d.cost.split_penalty,
                       d.cost.penalties] for d in decisions], np.float64).reshape(len(decisions), 5)
    filled = np.array([d.units for d in decisions], np.int64)
    unfilled = np.array([sum(q for _, q in d.unfilled) for d in decisions], np.int64)
    ships = np.array([sum(1 for s in d.shipments if s.method != "pickup") for d in decisions], np.int64)
    km = np.array([d.distance_km for d in decisions], np.float64)
    days = np.array([max((s.promised_days for s in d.shipments), default=-1.0) for d in decisions], np.float64)
    flags = np.array([FLAG_SEP.join(d.flags) for d in decisions] or [""], dtype=object)[:len(decisions)]
    orders_df = orders_frame(np.array([d.order_id for d in decisions], dtype=object), filled, filled + unfilled,
                             ships, costs, km, days, flags)
    said = [order_reason(d.reasons) for d in decisions]
    orders_df["reason"] = np.array([c for c, _ in said] or [""], dtype=object)[:len(decisions)]
    orders_df["reason_text"] = np.array([t for _, t in said] or [""], dtype=object)[:len(decisions)]
    lines = []
    for d in decisions:
        props = dict(d.substitutes)
        lines.extend((d.order_id, r, props.get(r.line_id, ())) for r in d.reasons)
    return BatchResult(alloc_df, orders_df, unfilled_frame(lines))


# pandas' default string dtype for a column of Python str; with Arrow storage, a
# column decoded from Arrow dictionary codes costs a fraction of converting one
# str per row, and batch tables have hundreds of thousands of rows
_STR_DTYPE = pd.Series(np.array([""], dtype=object)).dtype
_ARROW_STR = isinstance(_STR_DTYPE, pd.StringDtype) and _STR_DTYPE.storage == "pyarrow"
_EMPTY_LABEL = np.array([""], dtype=object)
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
        "flags": sparse_str(flags, len(order_id)),
    })


def sparse_str(values: np.ndarray | None, n: int) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A string column of ``n`` rows, mostly ``""``: ``values`` (object, or None for all empty).

    Taken through :func:`take_str` from its few distinct non-empty values: pandas makes a
    string column of 10^5 Python strings one by one, which costs milliseconds per column.
    """
    at = np.zeros(n, np.int64)
    if values is None:
        return take_str(_EMPTY_LABEL, at)
    full = np.flatnonzero(values.astype(bool))
    labels, inverse = np.unique(values[full].astype(str), return_inverse=True) if len(full) else ((), ())
    at[full] = np.asarray(inverse, np.int64) + 1
    return take_str(np.array(["", *labels], dtype=object), at)


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


def decision_from_rows(rec: dict, rows: pd.DataFrame, strategy: str, lines: pd.DataFrame | None = None) -> Decision:
    """The decision a batch order's table rows describe.

    ``lines`` are its :attr:`BatchResult.unfilled` rows: with them the
    decision carries its unfilled lines, their reasons and substitute
    proposals, and an explanation saying which tier served what and why the
    rest was left (a batch keeps no candidate snapshots, so it lists no
    candidate nodes). Shipments are left out: the rows hold no distances.
    """
    allocations = tuple(
        Allocation(lid, sku, nid, int(q))
        for lid, sku, nid, q in zip(rows["line_id"], rows["sku"], rows["node_id"], rows["qty"], strict=True)
    )
    unfilled: tuple = ()
    reasons: tuple = ()
    substitutes: tuple = ()
    if lines is not None and len(lines):
        unfilled = tuple((str(lid), int(q)) for lid, q in zip(lines["line_id"], lines["unfilled"], strict=True))
        reasons = tuple(LineReason(str(lid), str(sku), int(q), str(c), str(t)) for lid, sku, q, c, t in zip(
            lines["line_id"], lines["sku"], lines["unfilled"], lines["reason"], lines["reason_text"], strict=True))
        substitutes = tuple((str(lid), tuple((x, 0.0) for x in str(subs).split(";")))
                            for lid, subs in zip(lines["line_id"], lines["substitutes"], strict=True) if subs)
    explanation = None
    if lines is not None:
        served: dict[str, list[tuple[str, int]]] = {}
        for lid, tier, q in zip(rows["line_id"], rows["tier"], rows["qty"], strict=True):
            served.setdefault(str(tier), []).append((str(lid), int(q)))
        tiers = tuple(TierNote(t, tuple(s)) for t, s in served.items())
        explanation = Explanation(strategy, tuple, tiers,
                                  messages=tuple(f"line {r.line_id} ({r.units} unit(s) of {r.sku}) not routed: "
                                                 f"{r.code}: {r.text}" for r in reasons))
    return Decision(
        order_id=rec["order_id"],
        status=Status(rec["status"]),
        allocations=allocations,
        shipments=(),
        cost=CostBreakdown(rec["shipping"], rec["handling"], rec["vendor_fees"], rec["split_penalty"],
                           rec.get("penalties", 0.0)),
        strategy=strategy,
        explanation=explanation,
        flags=tuple(rec["flags"].split(FLAG_SEP)) if rec.get("flags") else (),
        unfilled=unfilled,
        substitutes=substitutes,
        reasons=reasons,
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
