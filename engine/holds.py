"""What the router keeps per open order: the pieces of its plan and the stock it holds.

Records built once per routed order, so they are msgspec Structs (built by C
code) and untracked by the cycle collector: the router keeps one per open
order, and every tracked survivor brings the next collection nearer.
"""

from __future__ import annotations

import math
from datetime import date

import msgspec
import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.engine.batch import decision_from_rows
from sourcewise.models.decision import Decision
from sourcewise.models.order import Order


# The per-order records below are msgspec Structs: routing builds several per order
# (and route_many one Held per order), and a Struct is built by C code in a fraction
# of a dataclass's time. Piece holds only numbers and strings, so the cycle
# collector need not track it.
class Piece(msgspec.Struct, gc=False):
    """Units of one group allocated to one node by one kernel call."""

    group: int
    node: int
    entry: int  # inventory entry reserved; -1 for live vendor stock held outside our books
    qty: int
    lead: float
    km: float
    tier: str
    method: str
    free: bool = False  # the node already shipped for this order (re-routing)


# Untracked by the cycle collector (gc=False), as LazySnapshot: the router keeps one
# per open order, and every tracked survivor brings the next collection nearer; each
# gen-0 pass (tens of us) and gen-1 pass (hundreds) lands on some order's latency.
# Neither can be in a cycle: they reach the decision, the order and arrays, and
# nothing they reach refers back to them (see ExplainContext).
class Held(msgspec.Struct, gc=False):
    """Stock an open order holds: inventory entry positions and units."""

    decision: Decision | None
    entries: np.ndarray
    qty: np.ndarray
    source: tuple | None = None
    day: date | None = None
    cap_nodes: np.ndarray | None = None
    cap_units: np.ndarray | None = None
    pieces: list | None = None
    order: Order | None = None
    # (node, lead, km, tier) of an order one node ships whole, or (rows, floats,
    # tier) of a split from K.route_one: its pieces are built only when asked for
    whole: tuple | None = None
    # batch-routed orders: the tier of each reserved row, so that release can
    # give back the capacity the batch kernel took (one parcel per tier and node)
    batch_tiers: np.ndarray | None = None
    # batch-routed orders: the batch's (entries, qty, tiers) arrays, shared by all its
    # orders; an order's own rows (bounds at ``source[5:7]``) are cut out by rows()
    batch_rows: tuple | None = None
    # route_many-routed orders: (OrderBatch, position) of the order as it came in, so that routing
    # its id again can be compared with it (they keep no Order; see Router.route)
    origin: tuple | None = None

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The entries and units this order holds (``entries``, ``qty``), cut from its batch's on first use."""
        if self.entries is None and self.batch_rows is not None:
            e, q, t = self.batch_rows
            a, b = self.source[5], self.source[6]
            self.entries, self.qty, self.batch_tiers = e[a:b], q[a:b], t[a:b]
            self.batch_rows = None
        return self.entries, self.qty

    def piece_list(self) -> list | None:
        """The order's pieces; None for batch-routed orders, which keep none."""
        if self.pieces is None and self.whole is not None:
            if len(self.whole) == 4:
                node, lead, km, tier = self.whole
                self.pieces = [Piece(g, node, e, q, lead, km, tier, "ship")
                               for g, (e, q) in enumerate(zip(self.entries.tolist(), self.qty.tolist(), strict=True))]
            else:
                # a split the first tier ships: (node, group, units, entry) rows, then
                # (miles, lead) per row after the four costs, as _route_one returns them
                flat, fl, tier = self.whole
                self.pieces = [Piece(flat[4 * j + 1], flat[4 * j], flat[4 * j + 3], flat[4 * j + 2], fl[5 + 2 * j],
                                      fl[4 + 2 * j] * K.MILE_KM, tier, "ship") for j in range(len(flat) // 4)]
            self.whole = None
        return self.pieces

    def get(self) -> Decision:
        if self.decision is None:
            self.rows()  # its bounds live in ``source``, which is dropped below
            result, name, o, a, b = self.source[:5]
            rec = result.orders.iloc[o].to_dict()
            self.decision = decision_from_rows(rec, result.allocations.iloc[a:b], name,
                                                result.unfilled_of(rec["order_id"]))
            self.source = None
        return self.decision


def held_from_batch(lazy: tuple) -> Held:
    """The :class:`Held` of a batch-routed order from the tuple ``route_many`` stored for it:
    ``((result, strategy, day, (entries, qty, tiers), batch), order, a0, a1, b0, b1)``."""
    (result, name, day, rows, batch), o, a0, a1, b0, b1 = lazy
    return Held(None, None, None, (result, name, o, a0, a1, b0, b1), day, batch_rows=rows, origin=(batch, o))


def group_lines(sku_idx: list[int], qty: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
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


def point_vector(lat: float, lon: float) -> np.ndarray:
    la, lo = math.radians(lat), math.radians(lon)
    cl = math.cos(la)
    return np.array((cl * math.cos(lo), cl * math.sin(lo), math.sin(la)))

