"""What a replayed day routed, read once into arrays: shipping and the day's sums read nothing else.

:class:`RoutedRows` holds one routed batch (from the router's result frames,
:func:`rows_from_result`, or from decisions routed one by one,
:func:`rows_from_decisions`); :class:`DayBook` gathers a day's batches and
the orders routed one by one until the day ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sourcewise.engine.router import BatchResult
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.engine.simulate.prepare import encode
from sourcewise.models.decision import Decision

#: Money columns of the orders table, summed per day in this order (row ``i`` of :attr:`RoutedRows.money`).
MONEY_COLUMNS: tuple[str, ...] = ("cost", "shipping", "handling", "vendor_fees", "split_penalty", "penalties",
                                  "distance_km")
_STATUS_CODES: tuple[str, ...] = ("routed", "partial", "unroutable")


@dataclass(eq=False)
class RoutedRows:
    """Result rows of one routed batch as arrays: what shipping and the day's sums read.

    The router's result frames are read once, when the batch is routed, so
    that shipping concatenates arrays instead of frames and never goes back
    to strings.
    """

    pos: np.ndarray              # order position of each order row
    ids: np.ndarray              # order id of each order row (object), for commit_many
    status: np.ndarray           # int8 index into _STATUS_CODES, -1 for any other status
    units: np.ndarray            # units routed per order
    unfilled: np.ndarray
    shipments: np.ndarray
    money: np.ndarray            # (len(MONEY_COLUMNS), n): each column contiguous, so sums match pandas'
    promised: np.ndarray         # promised days per order, -1 when nothing ships
    a_pos: np.ndarray            # order position of each allocation row
    a_node: np.ndarray
    a_sku: np.ndarray
    a_qty: np.ndarray
    a_ent: np.ndarray

    def without(self, gone: np.ndarray) -> RoutedRows:
        """These rows less those of the orders at positions ``gone``."""
        keep = ~np.isin(self.pos, gone)
        ak = ~np.isin(self.a_pos, gone)
        return RoutedRows(self.pos[keep], self.ids[keep], self.status[keep], self.units[keep],
                          self.unfilled[keep], self.shipments[keep], self.money[:, keep], self.promised[keep],
                          self.a_pos[ak], self.a_node[ak], self.a_sku[ak], self.a_qty[ak], self.a_ent[ak])


@dataclass
class DayBook:
    """Accumulators of one replayed day."""

    rows: list = field(default_factory=list)         # RoutedRows of every bulk-routed batch
    watched: dict = field(default_factory=dict)      # position -> Decision (routed one by one)
    replaced: set = field(default_factory=set)       # positions of bulk-routed orders routed again
    rerouted: set = field(default_factory=set)       # positions re-sourced after a failure
    sums: dict = field(default_factory=dict)


def codes(values: pd.Series, index: dict[str, int]) -> np.ndarray:
    """Integer code of each string of ``values`` (the router's node or SKU ids), each distinct one looked up once."""
    if not len(values):
        return np.zeros(0, np.int64)
    idx, uniq = encode(values)
    try:
        code = np.fromiter(map(index.__getitem__, uniq), np.int64, count=len(uniq))
    except KeyError as exc:
        raise AssertionError(f"a result row names {exc.args[0]!r}, which the network does not know") from exc
    if (idx < 0).any():
        raise AssertionError("a result row has no node or SKU")
    return code[idx]


def _arrow(values: pd.Series) -> pa.Array:
    """A string column as one Arrow array (zero-copy for the Arrow strings pandas keeps)."""
    arr = pa.array(values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _equal(arr: pa.Array, ids: np.ndarray) -> bool:
    """Whether the Arrow strings ``arr`` are exactly the ids ``ids``, in order."""
    if len(arr) != len(ids):
        return False
    if not len(ids):
        return True
    try:
        other = pa.array(ids, type=arr.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False  # ids that are not strings: let the caller look them up
    return bool(pc.all(pc.equal(arr, other)).as_py()) and arr.null_count == 0


_STATUS_SET = pa.array(_STATUS_CODES)


def _status_codes(status: pa.Array) -> np.ndarray:
    """Index of each status into ``_STATUS_CODES``, -1 for any other."""
    at = pc.index_in(status, value_set=_STATUS_SET)
    return pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int8)


def _run_positions(ids: np.ndarray, where: dict, pos: np.ndarray) -> np.ndarray:
    """Order position of each row; rows of one order come together, so only run heads are looked up."""
    if not len(ids):
        return np.zeros(0, np.int64)
    heads = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    try:
        at = np.fromiter((where[ids[h]] for h in heads), np.int64, count=len(heads))
    except KeyError as exc:
        raise AssertionError(f"a result row names order {exc.args[0]!r}, which was not in its batch") from exc
    return np.repeat(pos[at], np.diff(np.r_[heads, len(ids)]))


def rows_from_result(prep: Prepared, pos: np.ndarray, batch_ids: np.ndarray, res: BatchResult) -> RoutedRows:
    """The arrays of a batch result whose orders sit at positions ``pos`` (``batch_ids`` their ids).

    Parameters
    ----------
    prep : Prepared
        Gives the node, SKU and entry positions of the allocation rows.
    pos : ndarray of int64
        Position of each order of the routed batch in :attr:`Prepared.orders`.
    batch_ids : ndarray
        Order ids of the routed batch, in batch order.
    res : BatchResult
        What :meth:`Router.route_many` (or a wave's re-plan) returned for the batch.

    Returns
    -------
    RoutedRows
    """
    o, alloc = res.orders, res.allocations
    # Order ids are compared in Arrow, where the router's frames keep them: turning them into
    # Python strings cost more than the rest of this method.
    o_arr = _arrow(o["order_id"])
    a_arr = _arrow(alloc["order_id"])
    units = o["units"].to_numpy(np.int64)
    o_pos = a_pos = None
    if _equal(o_arr, batch_ids):
        o_pos = pos  # one row per order in batch order, as route_many writes them: nothing to look up
        ids = batch_ids
        if len(a_arr):
            heads = np.flatnonzero(np.r_[True, pc.not_equal(a_arr[1:], a_arr[:-1]).to_numpy(
                zero_copy_only=False)])
            shipped = np.flatnonzero(units > 0)
            # allocation rows come in runs per order, in the order of the orders table: check
            # that, and take positions from it
            if len(heads) == len(shipped) and pc.all(pc.equal(a_arr.take(heads), o_arr.take(shipped))).as_py():
                a_pos = np.repeat(pos[shipped], np.diff(np.r_[heads, len(a_arr)]))
        else:
            a_pos = np.zeros(0, np.int64)
    else:
        ids = o["order_id"].to_numpy(dtype=object)
    if o_pos is None or a_pos is None:
        # any other layout: each run of rows is looked up by its order id
        where = {str(x): i for i, x in enumerate(batch_ids.tolist())}
        if o_pos is None:
            o_pos = _run_positions(ids, where, pos)
        a_pos = _run_positions(alloc["order_id"].to_numpy(dtype=object), where, pos)
    node = codes(alloc["node_id"], prep.network.node_index)
    sku = codes(alloc["sku"], prep.network.sku_index)
    money = np.empty((len(MONEY_COLUMNS), len(ids)))
    for i, c in enumerate(MONEY_COLUMNS):
        money[i] = o[c].to_numpy(np.float64)
    return RoutedRows(o_pos, ids, _status_codes(_arrow(o["status"])), units,
                      o["unfilled"].to_numpy(np.int64), o["shipments"].to_numpy(np.int64), money,
                      o["promised_days"].to_numpy(np.float64), a_pos, node, sku, alloc["qty"].to_numpy(np.int64),
                      prep.entry_of(node, sku))


def rows_from_decisions(prep: Prepared, pos: np.ndarray, decs: list[Decision]) -> RoutedRows:
    """The arrays of decisions routed one by one, with the figures ``decisions_to_tables`` gives.

    Read straight from the objects: a frame per day would only be turned back into arrays.
    """
    n = len(decs)
    node_index, sku_index = prep.network.node_index, prep.network.sku_index
    costs = np.array([[d.cost.shipping, d.cost.handling, d.cost.vendor_fees, d.cost.split_penalty,
                       d.cost.penalties] for d in decs], np.float64).reshape(n, 5)
    filled = np.array([d.units for d in decs], np.int64)
    unfilled = np.array([sum(q for _, q in d.unfilled) for d in decs], np.int64)
    money = np.empty((len(MONEY_COLUMNS), n))
    money[0] = costs.sum(axis=1)
    money[1:6] = costs.T
    money[6] = [d.distance_km for d in decs]
    status = np.where(unfilled == 0, 0, np.where(filled == 0, 2, 1)).astype(np.int8)
    ships = np.array([sum(1 for sh in d.shipments if sh.method != "pickup") for d in decs], np.int64)
    days = np.array([max((sh.promised_days for sh in d.shipments), default=-1.0) for d in decs], np.float64)
    cnt = np.array([len(d.allocations) for d in decs], np.int64)
    node = np.array([node_index[a.node_id] for d in decs for a in d.allocations], np.int64)
    sku = np.array([sku_index[a.sku] for d in decs for a in d.allocations], np.int64)
    qty = np.array([a.qty for d in decs for a in d.allocations], np.int64)
    ids = np.array([d.order_id for d in decs], dtype=object)
    return RoutedRows(pos, ids, status, filled, unfilled, ships, money, days, np.repeat(pos, cnt), node, sku,
                      qty, prep.entry_of(node, sku))


__all__ = ["MONEY_COLUMNS", "DayBook", "RoutedRows", "codes", "rows_from_decisions", "rows_from_result"]
