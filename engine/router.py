"""The stateful single-order router and its sequential batch form."""

from __future__ import annotations

import gc
import threading
import warnings
from collections.abc import Iterable
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from itertools import islice
from itertools import repeat
from typing import Any
from typing import NamedTuple

import msgspec
import numpy as np
import pandas as pd

from sourcewise.engine import _kernels as K
from sourcewise.engine.batch import BatchResult
from sourcewise.engine.batch import batch_from_orders
from sourcewise.engine.batch import decisions_to_tables
from sourcewise.engine.batch import lines_for_groups
from sourcewise.engine.batch import network_labels
from sourcewise.engine.batch import orders_frame
from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.batch import row_differences
from sourcewise.engine.batch import take_str
from sourcewise.engine.batch import unfilled_frame
from sourcewise.engine.clock import Clock
from sourcewise.engine.clock import SystemClock
from sourcewise.engine.durable import Durable
from sourcewise.engine.durable import bare
from sourcewise.engine.expiry import Holds
from sourcewise.engine.explain import ExplainContext
from sourcewise.engine.geography import GeoCheck
from sourcewise.engine.holds import Held
from sourcewise.engine.holds import Piece
from sourcewise.engine.holds import group_lines
from sourcewise.engine.holds import held_from_batch
from sourcewise.engine.ledger import Body
from sourcewise.engine.ledger import Store
from sourcewise.engine.ledger import column
from sourcewise.engine.passes import NO_LIMIT
from sourcewise.engine.passes import NeedVendors
from sourcewise.engine.passes import TierPasses
from sourcewise.engine.passes import VendorAnswers
from sourcewise.engine.promise import Promising
from sourcewise.engine.reasons import OrderMoment
from sourcewise.engine.reasons import order_reason
from sourcewise.engine.reasons import order_reasons
from sourcewise.models.decision import Decision
from sourcewise.models.errors import Collector
from sourcewise.models.errors import OrderConflict
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import MAX_STOCK
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import UNLIMITED
from sourcewise.models.network import UNLIMITED_FROM
from sourcewise.models.network import Network
from sourcewise.models.network import unit_vectors
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind
from sourcewise.models.order import MAX_QTY
from sourcewise.models.order import SERVICE_LEVELS
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from sourcewise.models.policy import STRATEGIES
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch
from sourcewise.models.tables import orders_from_frame

#: Rounds of asking vendors outside the lock per order before unanswered ones count as failed.
VENDOR_ROUNDS = 3


def _committed(decision: Decision | None) -> Decision | None:
    """``decision`` as a committed order's: with ``state`` ``committed``."""
    if decision is None or decision.state == "committed":
        return decision
    return msgspec.structs.replace(decision, state="committed")


class _BatchLine(NamedTuple):
    """A batch line as reasons and substitute proposals read it (a shipped line: the fast path's only kind)."""

    line_id: str
    sku: str
    method: str = "ship"
    pickup_node: str | None = None


class _SubstituteAsk(NamedTuple):
    """The one order field substitute proposals read, for a batch order (which has no Order)."""

    allow_substitutes: bool


class ReservationError(KeyError):
    """Raised when releasing, committing or re-routing an order that holds no reservation."""


class SeveralDaysWarning(UserWarning):
    """:meth:`Router.route_many` was given orders of several days: node capacities are daily, and the
    whole batch counts against one business day's."""


@dataclass(frozen=True, eq=False)
class StockView:
    """A consistent copy of a router's books, taken under its lock.

    Per inventory entry (the inventory's entry order): ``on_hand``,
    ``safety`` (the table's safety stock plus store protection),
    ``reserved``, ``entry_fee`` (vendor fee per unit: node fee rate or the
    vendor offer's) and ``entry_demand`` (store walk-in demand per day, which
    drives the depletion penalty). Per node: ``cap_orders`` and ``cap_units``,
    the parcels and units each can still take on ``business_day``.
    """

    on_hand: np.ndarray
    safety: np.ndarray
    reserved: np.ndarray
    entry_fee: np.ndarray
    entry_demand: np.ndarray
    cap_orders: np.ndarray
    cap_units: np.ndarray
    business_day: date


@dataclass(frozen=True, eq=False)
class Holding:
    """What one open order holds: inventory entries and units, as :meth:`Router.holdings` saw it.

    ``order`` is the routed order (``None`` for orders routed with
    ``route_many``, which keeps no lines); ``day`` the business day its
    capacity counts against. A holding is also a token: :meth:`Router.swap_plans`
    refuses to swap an order whose reservation changed since.
    """

    order_id: str
    order: Order | None
    entries: np.ndarray
    qty: np.ndarray
    day: date | None
    record: Any = field(repr=False)


def node_usage(network: Network, inventory: Inventory, entries: np.ndarray,
               qty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parcels (0 or 1) and units per node of a reservation over inventory ``entries``."""
    nodes = inventory.node[entries]
    units = np.bincount(nodes, weights=qty, minlength=network.n_nodes).astype(np.int64)
    parcels = np.zeros(network.n_nodes, np.int64)
    parcels[np.unique(nodes[qty > 0])] = 1
    return parcels, units


# the router's attributes behind K.PACKED_INTS and K.PACKED_FLOATS, in that order
_PACKED_INTS = ("_on_hand", "_safety", "_reserved", "_cap_orders", "_cap_units", "_mark")
_PACKED_FLOATS = ("_nodef", "_skuf", "_entry_fee", "_dual", "_entry_risk", "_entry_demand", "_sku_lb", "_bands")


class Router(TierPasses, Durable, Holds, Promising):
    """Routes orders one at a time against live available-to-promise stock.

    Parameters
    ----------
    network : Network
    inventory : Inventory
        Starting stock; the router keeps its own mutable copy.
    policy : Policy, optional
    walkin : DataFrame, optional
        ``node_id, sku, walkin_daily_demand`` for stores: drives store
        protection (``policy.stores.protect_days``) and the depletion penalty.
    vendor_offers : engine.vendors.VendorOffers, optional
        Per-SKU vendor price, fee rate, lead time and reliability.
    gateway : engine.vendors.VendorGateway, optional
        Live vendor availability; when given, vendor stock comes from it
        instead of the inventory table.
    substitutes : engine.substitutes.SubstituteIndex, optional
        SKU attributes for substitute proposals (price closeness alone when omitted).
    business_day : date, optional
        The day capacities count against; see :meth:`set_business_day`.
    store : str or Store, optional
        A durable ledger, e.g. ``"sqlite:///ledger.db"`` (see
        :mod:`sourcewise.engine.ledger`): every change is written there before
        the call returns, and :meth:`recover` rebuilds the router after a
        crash. The store must be new; committed orders then leave memory
        (their decisions are read back from the ledger). Without it the router
        lives in memory only. ``"postgresql://..."`` shares one ledger, and
        so one stock, among several processes: the others join it with
        :meth:`recover` (see :mod:`sourcewise.engine.pgstore`).
    clock : Clock, optional
        What holds expire by (:meth:`hold`); the wall clock by default, a
        :class:`~sourcewise.engine.clock.ManualClock` in tests and simulations.

    Notes
    -----
    ``route`` reserves what it allocates; ``release`` gives it back and
    ``commit`` consumes it (on-hand and reservation both drop). Every state
    change happens under one lock, so concurrent callers never oversell, and
    every state-changing call checks all of its input before it changes
    anything and rolls back what it changed if it fails part-way
    (reservations, on-hand and capacity alike): a call that raises leaves
    the router as it was. Quantities are bounded so the int64 books cannot
    overflow: :data:`~sourcewise.models.order.MAX_QTY` units per order,
    :data:`~sourcewise.models.inventory.MAX_STOCK` on hand per entry.
    """

    def __init__(self, network: Network, inventory: Inventory, policy: Policy | None = None, *,
                 walkin: pd.DataFrame | None = None, vendor_offers=None, gateway=None, substitutes=None,
                 business_day: date | None = None, store: str | Store | None = None, clock: Clock | None = None):
        if inventory.network is not network:
            raise ValueError("inventory was built for a different network")
        self.network = network
        self.policy = policy or Policy()
        self._inv = inventory
        self._on_hand = inventory.on_hand.copy()
        self._reserved = inventory.reserved.copy()
        self._mark = np.full(network.n_nodes, -1, np.int64)
        self._fout = np.empty(64)  # float scratch of K.route_one, used under the lock
        self._lock = threading.RLock()
        self._read_lock = self._lock  # for reads: with a shared store, a catch-up without the turn
        self._clock = clock if clock is not None else SystemClock()
        self._holds = {}  # held orders' expiry (see Holds)
        # open orders' reservation records; batch orders start as plain tuples (see held_from_batch)
        self._open: dict[str, Held | tuple] = {}
        # committed orders' records (Held): their decision, and the order or its batch row, which
        # routing the id again is compared with (see route)
        self._committed: dict[str, Held] = {}
        self._dual = np.zeros(inventory.nnz, np.float64)
        self._nodef = K.pack_nodes(network)
        self._skuf = K.pack_skus(network)
        self._no_free = np.zeros(network.n_nodes, np.bool_)
        self._sku_of_entry = np.repeat(np.arange(network.n_skus), np.diff(inventory.sku_ptr))
        self._node_ids = np.array([n.node_id for n in network.nodes], dtype=object)
        self._sku_ids = np.array([s.sku for s in network.skus], dtype=object)
        # entries are sorted by (sku, node): these keys ascend, so searchsorted finds any pair
        self._entry_key = self._sku_of_entry * np.int64(network.n_nodes) + inventory.node
        self._init_stores(walkin)
        self._init_vendors(vendor_offers, gateway)
        self._substitutes = substitutes
        self._sub_cache: dict[int, list[tuple[int, float]]] = {}
        self._init_tiers()
        self._sku_lb = self._sku_bounds()
        self._sku_bits = self._sku_bitsets()
        self._no_bits = np.zeros((0, 1), np.uint64)  # "no bitsets": for searches over a private index
        self._base_params = self._make_base_params()
        bands = self.policy.service.transit_bands
        self._bands = np.array(bands, np.float64).reshape(len(bands), 2)
        self.business_day = business_day or date.today()
        self._cap_orders = network.capacity_orders.copy()
        self._cap_units = network.capacity_units.copy()
        self._limited = bool((network.capacity_orders < UNLIMITED_FROM).any() or
                             (network.capacity_units < UNLIMITED_FROM).any())
        self._ibuf, views = K.pack_ints([getattr(self, a) for a in _PACKED_INTS])
        for a, v in zip(_PACKED_INTS, views, strict=True):
            setattr(self, a, v)
        self._pack_floats()
        self._geo = GeoCheck(network, self.policy)  # loads nothing until the first order is checked
        if store is not None:
            # the gateway is a live connection: Router.recover() takes it again
            self._attach_store(store, {"network": network, "inventory": inventory, "policy": self.policy,
                                       "walkin": walkin, "vendor_offers": vendor_offers,
                                       "substitutes": substitutes, "business_day": self.business_day})

    # ------------------------------------------------------------- set-up
    def _init_stores(self, walkin: pd.DataFrame | None) -> None:
        """Protected units fold into safety stock; walk-in demand feeds the depletion penalty."""
        net, inv, sp = self.network, self._inv, self.policy.stores
        demand = np.zeros(inv.nnz, np.float64)
        if walkin is not None and len(walkin):
            col = Collector()
            for name in ("node_id", "sku", "walkin_daily_demand"):
                if name not in walkin.columns:
                    col.add("walkin", None, name, "required column is missing")
            col.raise_if_any()
            d = pd.to_numeric(walkin["walkin_daily_demand"], errors="coerce").to_numpy(np.float64)
            for i in np.flatnonzero(~np.isfinite(d) | (d < 0)):
                col.add("walkin", int(i), "walkin_daily_demand", f"must be a number >= 0, got {walkin['walkin_daily_demand'].iloc[i]!r}")
            nodes = walkin["node_id"].astype(str).to_numpy()
            skus = walkin["sku"].astype(str).to_numpy()
            n_idx = pd.Index(self._node_ids).get_indexer(nodes)
            s_idx = pd.Index(self._sku_ids).get_indexer(skus)
            for i in np.flatnonzero(n_idx < 0):
                col.add("walkin", int(i), "node_id", f"unknown node {nodes[i]!r}")
            for i in np.flatnonzero(s_idx < 0):
                col.add("walkin", int(i), "sku", f"unknown sku {skus[i]!r}")
            col.raise_if_any()
            j = self._entries(n_idx, s_idx)
            hit = j >= 0
            demand[j[hit]] = d[hit]
        is_store = net.kind[inv.node] == KIND_CODES[NodeKind.STORE]
        demand[~is_store] = 0.0
        per_node = np.array([sp.protect_units if n.protect_units is None else n.protect_units
                             for n in net.nodes], np.int64)
        protect = np.where(is_store, per_node[inv.node] + np.ceil(sp.protect_days * demand).astype(np.int64), 0)
        self._protect = protect
        self._safety = inv.safety_stock + protect
        self._entry_demand = demand

    def _init_vendors(self, offers, gateway) -> None:
        """Per-entry vendor fee and planning risk; vendor offers override node fee rates."""
        net, inv, vp = self.network, self._inv, self.policy.vendors
        fee = net.fee_rate[inv.node] * net.price[self._sku_of_entry]
        risk = np.zeros(inv.nnz, np.float64)
        if offers is not None and len(offers):
            rows = offers.lookup_many(inv.node, self._sku_of_entry)
            hit = rows >= 0
            fee[hit] = offers.fee_rate[rows[hit]] * offers.price[rows[hit]]
            risk[hit] = vp.unreliability_penalty * (1.0 - offers.reliability[rows[hit]])
        self._entry_fee = fee
        self._entry_risk = risk
        self._offers = offers
        self._gateway = gateway

    # beyond this the per-SKU node bitsets of the single-node search are not worth their memory
    _BITSET_BYTES = 256 << 20

    def _sku_bitsets(self) -> np.ndarray:
        """Per SKU, the nodes holding an entry, as bitsets (zero rows when they would be too big)."""
        n_nodes, n_skus = self.network.n_nodes, self.network.n_skus
        if n_skus * ((n_nodes + 63) // 64) * 8 > self._BITSET_BYTES:
            return np.zeros((0, 1), np.uint64)
        return K.sku_bitsets(self._inv.sku_ptr, self._inv.node, n_nodes)

    def _sku_bounds(self) -> np.ndarray:
        """Least distance-free planning cost per unit of each SKU at any node, before per-unit and weight terms.

        Column 0 is handling per unit plus vendor fee plus risk, column 1 adds
        the dual price. The single-node fast path bounds every split with it;
        the minimum runs over all of a SKU's entries, stocked or not, so it
        stays valid as stock moves and only dual prices change it.
        """
        inv = self._inv
        base = self._nodef[inv.node, K.NF_HUNIT] + self._entry_fee + self._entry_risk
        out = np.full((self.network.n_skus, 2), np.inf)
        has = np.flatnonzero(np.diff(inv.sku_ptr) > 0)
        if len(has):
            starts = inv.sku_ptr[has]
            out[has, 0] = np.minimum.reduceat(base, starts)
            out[has, 1] = np.minimum.reduceat(base + self._dual, starts)
        return out

    def _init_tiers(self) -> None:
        net = self.network
        kinds = np.array([n.kind.value for n in net.nodes], dtype=object)
        masks, miles = [], []
        for t in self.policy.tiers:
            m = net.usable & np.isin(kinds, t.kinds)
            if t.regions:
                m &= np.isin(net.region, t.regions)
            if self._gateway is not None:
                # live vendors are asked directly, never served from the inventory table
                m &= kinds != "vendor"
            masks.append(m)
            miles.append(t.max_distance_km / K.MILE_KM)
        self._tier_masks = np.ascontiguousarray(np.array(masks, np.bool_).reshape(len(masks), net.n_nodes))
        self._tier_miles = np.array(miles, np.float64)
        self._tier_has_vendors = [("vendor" in t.kinds) for t in self.policy.tiers]
        self._tier_nonempty = [bool(m.any()) or (self._gateway is not None and "vendor" in t.kinds)
                               for m, t in zip(masks, self.policy.tiers, strict=True)]
        # what the single-call fast path checks per order, as plain Python values
        self._simple_tiers = [(t, self._tier_masks[i], miles[i] == NO_LIMIT)
                              for i, t in enumerate(self.policy.tiers) if self._tier_nonempty[i]]
        sv = self.policy.service
        self._deadlines = {level: sv.deadline(level) for level in SERVICE_LEVELS}
        self._default_strategy = self._strategy_code(None)
        self._due_cache: dict[tuple[date, float], date] = {}

    def _context(self) -> ExplainContext:
        return ExplainContext(self._inv, self._nodef, self._skuf, self._entry_fee, self._dual, self._entry_demand,
                        self._entry_risk, self._no_free, self._bands, self.network)

    # ------------------------------------------------------------------ state
    def on_hand(self, node_id: str, sku: str) -> int:
        """Units of ``sku`` on hand at ``node_id`` (reserved ones included; 0 for a pair with no entry).

        The most :meth:`adjust_stock` can take away.
        """
        self._look()
        j = self._inv.entry(node_id, sku)
        with self._read_lock:
            return int(self._on_hand[j]) if j >= 0 else 0

    def atp(self, node_id: str, sku: str) -> int:
        """Current available-to-promise units of ``sku`` at ``node_id`` for online orders."""
        net = self.network
        # adapters call this per source row when rendering: a compiled search,
        # not numpy's searchsorted on a slice (several microseconds of overhead)
        s, n = net.sku_index[sku], net.node_index[node_id]
        with self._read_lock:
            return K.entry_atp(self._inv.sku_ptr, self._inv.node, self._on_hand, self._safety, self._reserved, s, n)

    def atp_of_sku(self, sku: str) -> np.ndarray:
        """Current ATP of every stored entry of ``sku``, in the inventory's entry order (see
        :meth:`~sourcewise.models.inventory.Inventory.atp_of_sku`): one read for a render that lists
        every source of a SKU, where :meth:`atp` per source would cost a call each."""
        s = self.network.sku_index[sku]
        lo, hi = self._inv.sku_ptr[s], self._inv.sku_ptr[s + 1]
        with self._read_lock:
            a = self._on_hand[lo:hi] - self._safety[lo:hi] - self._reserved[lo:hi]
        return np.maximum(a, 0)

    def snapshot(self) -> Inventory:
        """The current stock, reservations included, as an immutable Inventory.

        Its ``safety_stock`` is the table's, without store protection.
        """
        with self._read_lock:
            on_hand, reserved = self._on_hand.copy(), self._reserved.copy()
        inv = self._inv
        return Inventory.from_arrays(self.network, inv.node, self._sku_of_entry, on_hand, inv.safety_stock, reserved)

    def _open_held(self, order_id: str) -> Held | None:
        """The reservation record of an open order (a batch order's made on first use)."""
        held = self._open.get(order_id)
        if type(held) is tuple:
            held = self._open[order_id] = held_from_batch(held)
        return held

    def _pop_held(self, order_id: str) -> Held | None:
        """Remove an open order (and its hold, if any) and return its reservation record."""
        held = self._open.pop(order_id, None)
        if self._holds:
            self._holds.pop(order_id, None)
        return held_from_batch(held) if type(held) is tuple else held

    def decision(self, order_id: str) -> Decision | None:
        """The open or committed decision for ``order_id``, if any."""
        self._look()
        held = self._open_held(order_id)
        if held is not None:
            return held.get()
        done = self._committed.get(order_id)
        if done is not None:
            # the record stays (it also answers whether a repeated id is the same order); get() caches
            d = done.get()
            if d.state != "committed":
                # commit_many builds no decision: say what became of it the first time it is asked for
                d = done.decision = msgspec.structs.replace(d, state="committed")
            return d
        if self._store is not None:
            # with a store, committed orders leave memory: the ledger answers for them
            stored = self._stored(order_id)
            if stored is not None and stored[0] in ("commit", "commit_many"):
                return _committed(stored[1])
        return None

    def _repeat(self, order: Order) -> Decision | None:
        """The decision of an order whose id is open or committed already, if the content is the same.

        Compared with what the router kept: the :class:`Order` that
        :meth:`route` routed, or the batch row :meth:`route_many` routed
        (compared in the batch's columnar form, ``placed_at`` to the second).
        ``None`` when the id holds nothing (any more).

        Raises
        ------
        OrderConflict
            When the id holds a decision for different content.
        """
        oid = order.order_id
        rec = self._open.get(oid)
        if rec is None:
            rec = self._committed.get(oid)
            if rec is None:
                return None
        # a batch order's plain tuple holds its batch and row (see held_from_batch)
        origin = (rec[0][4], rec[1]) if type(rec) is tuple else rec.origin
        if origin is not None:
            try:
                diff = row_differences(origin[0], origin[1], batch_from_orders(self.network, [order]), 0)
            except ValidationError:  # unknown SKUs or stores: not the order that was routed
                diff = ["lines"]
        elif rec.order is None or rec.order == order:
            diff = []
        else:
            diff = [f for f in rec.order.__struct_fields__ if getattr(rec.order, f) != getattr(order, f)]
        if diff:
            raise OrderConflict([Problem(
                "orders", oid, "order_id",
                f"already routed with different content ({', '.join(diff)}); release it or use a new order id")])
        return self.decision(oid)

    @property
    def open_orders(self) -> tuple[str, ...]:
        self._look()
        return tuple(self._open)

    def is_open(self, order_id: str) -> bool:
        """Whether ``order_id`` holds a reservation (routed, neither released nor committed)."""
        self._look()
        return order_id in self._open

    def set_business_day(self, day: date) -> None:
        """Start counting node capacity against ``day``; a new day resets it.

        Days only move forward: the same day changes nothing, a later one
        resets every node's capacity, an earlier one is refused (its counters
        are gone, and a reset would hand out a day's capacity twice).

        Raises
        ------
        ValidationError
            For a value that is not a ``date`` (a ``datetime`` included) or a
            day before the current business day; nothing changes.
        """
        seq = 0
        col = Collector()
        if not isinstance(day, date) or isinstance(day, datetime):
            col.add("router", None, "business_day", f"must be a date, got {day!r}")
        col.raise_if_any()
        with self._lock:
            if day < self.business_day:
                col.add("router", None, "business_day",
                        f"{day} is before the current business day {self.business_day}; days only move forward")
                col.raise_if_any()
            if day != self.business_day:
                if self._store is not None:
                    self._usable()
                caps = self._caps()
                self.business_day = day
                self._cap_orders[:] = self.network.capacity_orders
                self._cap_units[:] = self.network.capacity_units
                if self._store is not None:
                    seq = self._record("day", None, f"business day {day.isoformat()}: capacity counts afresh",
                                       Body(self._changes(caps), day=day))
        self._durable(seq)

    def capacity_left(self, node_id: str) -> tuple[int, int]:
        """Orders and units ``node_id`` can still take today."""
        n = self.network.node_index[node_id]
        self._look()
        return int(self._cap_orders[n]), int(self._cap_units[n])

    @property
    def inventory(self) -> Inventory:
        """The inventory the router was built with (its entries; the live stock is :meth:`snapshot`)."""
        return self._inv

    def stock_view(self) -> StockView:
        """A consistent copy of the stock, reservations, planning costs and capacity left today."""
        with self._read_lock:
            return self._stock_view()

    def _stock_view(self) -> StockView:
        return StockView(self._on_hand.copy(), self._safety.copy(), self._reserved.copy(),
                         self._entry_fee.copy(), self._entry_demand.copy(), self._cap_orders.copy(),
                         self._cap_units.copy(), self.business_day)

    def set_capacity_left(self, orders: np.ndarray, units: np.ndarray) -> None:
        """Set the parcels and units each node can still take today.

        For planning a batch against capacities of its own (the optimizer
        routes its greedy start this way). Values at or above
        :data:`~sourcewise.models.network.UNLIMITED` mean no limit.

        Raises
        ------
        ValidationError
            Wrong shape, or a negative value; nothing changes.
        """
        col = Collector()
        arrays = []
        for name, a in (("orders", orders), ("units", units)):
            a = np.asarray(a)
            if a.shape != (self.network.n_nodes,) or not np.issubdtype(a.dtype, np.integer):
                col.add("capacity", None, name, f"must be integers of shape ({self.network.n_nodes},), "
                        f"got {a.dtype} {a.shape}")
            elif (a < 0).any():
                n = int(np.flatnonzero(a < 0)[0])
                col.add("capacity", self.network.nodes[n].node_id, name, f"must be >= 0, got {int(a[n])}")
            arrays.append(a)
        col.raise_if_any()
        seq = 0
        with self._lock:
            if self._store is not None:
                self._usable()
            caps = self._caps()
            self._cap_orders[:] = np.minimum(arrays[0], UNLIMITED)
            self._cap_units[:] = np.minimum(arrays[1], UNLIMITED)
            if self._store is not None:
                seq = self._record("capacity", None, "capacity left set for planning", Body(self._changes(caps)))
        self._durable(seq)

    def holdings(self, order_ids: Iterable[str] | None = None, *,
                 collector: Collector | None = None) -> tuple[tuple[Holding, ...], StockView] | None:
        """What the open orders ``order_ids`` (default: all) hold, and the books at that moment.

        Both are read under one lock, so they agree. With ``collector``,
        problems (a repeated, unknown, released or committed id) are added to
        it and ``None`` is returned; without, they raise.

        Raises
        ------
        ValidationError
            Without ``collector``: every bad id, listed together.
        """
        col = collector if collector is not None else Collector()
        with self._lock:
            ids = list(self._open) if order_ids is None else [str(o) for o in order_ids]
            if len(set(ids)) != len(ids):
                col.add("reoptimize", None, "order_ids", "repeated order id")
            for oid in ids:
                if oid not in self._open:
                    col.add("reoptimize", oid, "order_id", "not an open order (unknown, released or committed)")
            if collector is None:
                col.raise_if_any()
            elif col.problems:
                return None
            out = []
            for oid in ids:
                held = self._open_held(oid)
                entries, qty = held.rows()
                out.append(Holding(oid, held.order, entries, qty, held.day, held))
            return tuple(out), self._stock_view()

    def swap_plans(self, holdings: Iterable[Holding], plans: Mapping[str, tuple[Decision, np.ndarray, np.ndarray]],
                   day: date) -> str:
        """Replace open orders' reservations with new plans, all or nothing.

        Parameters
        ----------
        holdings : iterable of Holding
            From :meth:`holdings`; an order whose reservation changed since
            (released, committed, re-routed) makes the swap refuse.
        plans : mapping of order id to (decision, entries, qty)
            The new decision and the inventory entries and units it reserves.
        day : date
            The business day the plans were made for.

        Returns
        -------
        str
            Why nothing changed, or ``""`` when every order was swapped.
            Stock: each entry's reservation changes by (new - old) units, and
            a rise is allowed only while ATP stays >= 0. Capacity: today's
            counters change by the difference in parcels and units per node.
        """
        holdings = list(holdings)
        net, inv = self.network, self._inv
        delta = np.zeros(inv.nnz, np.int64)
        d_o = np.zeros(net.n_nodes, np.int64)
        d_u = np.zeros(net.n_nodes, np.int64)
        for h in holdings:
            _, e, q = plans[h.order_id]
            np.subtract.at(delta, h.entries, h.qty)
            np.add.at(delta, e, q)
            po, pu = node_usage(net, inv, e, q)
            d_o += po
            d_u += pu
            if h.day == day:
                po, pu = node_usage(net, inv, h.entries, h.qty)
                d_o -= po
                d_u -= pu
        seq = 0
        with self._lock:
            if self._store is not None:
                self._usable()
            if self.business_day != day:
                return "the business day changed meanwhile; nothing changed"
            if any(self._open.get(h.order_id) is not h.record for h in holdings):
                return "an order was released, committed or re-routed meanwhile; nothing changed"
            free = self._on_hand - self._safety - (self._reserved + delta)
            if ((delta > 0) & (free < 0)).any():
                return "stock changed meanwhile; nothing changed"
            lim_o = self._cap_orders < UNLIMITED_FROM
            lim_u = self._cap_units < UNLIMITED_FROM
            if ((d_o > 0) & lim_o & (self._cap_orders - d_o < 0)).any() or \
                    ((d_u > 0) & lim_u & (self._cap_units - d_u < 0)).any():
                return "node capacity changed meanwhile; nothing changed"
            caps = self._caps()
            self._reserved += delta
            self._cap_orders[lim_o] -= d_o[lim_o]
            self._cap_units[lim_u] -= d_u[lim_u]
            swapped = []
            for h in holdings:
                decision, e, q = plans[h.order_id]
                new = self._open[h.order_id] = self._swapped(h.record, decision, e, q, day)
                swapped.append(new)
            if self._store is not None:
                moved = np.flatnonzero(delta)
                seq = self._record("swap", None, f"{len(holdings)} order(s) re-planned by the optimizer",
                                   Body(self._changes(caps, moved, delta[moved]),
                                        order_ids=[h.order_id for h in holdings],
                                        decisions=[bare(x.get()) for x in swapped],
                                        helds=[self._held_record(x) for x in swapped]),
                                   [h.order_id for h in holdings])
        self._durable(seq)
        return ""

    def _swapped(self, held: Held, decision: Decision, e: np.ndarray, q: np.ndarray, day: date) -> Held:
        """The reservation record of an order after :meth:`swap_plans` gave it a new plan."""
        net, inv = self.network, self._inv
        po, pu = node_usage(net, inv, e, q)
        used = np.flatnonzero(pu > 0)
        pieces = None
        if held.piece_list() is not None and held.order is not None:
            # keep the order re-routable: one piece per (group, node), as routing records them
            pos: dict[str, int] = {}
            for line in held.order.lines:
                pos.setdefault(line.sku, len(pos))
            ship = {s.node_id: s for s in decision.shipments}
            pieces = []
            for ent, units in zip(e.tolist(), q.tolist(), strict=True):
                n = int(inv.node[ent])
                s = ship[net.nodes[n].node_id]
                sku = net.skus[int(self._sku_of_entry[ent])].sku
                pieces.append(Piece(pos[sku], n, int(ent), int(units), s.promised_days, s.distance_km,
                                     s.tier, "ship"))
        return msgspec.structs.replace(held, decision=decision, entries=e, qty=q, source=None, day=day,
                                       cap_nodes=used, cap_units=np.stack([po[used], pu[used]]), pieces=pieces,
                                       whole=None)

    def set_dual_prices(self, prices: np.ndarray) -> None:
        """Shadow price per inventory entry, added to unit costs by the ``dual`` strategy.

        Parameters
        ----------
        prices : ndarray of float, shape (inventory.nnz,)
            Aligned with the inventory's entries (see :class:`sourcewise.models.Inventory`);
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
        seq = 0
        with self._lock:
            if self._store is not None:
                self._usable()
            self._set_prices(p)
            if self._store is not None:
                seq = self._record("prices", None, "dual prices set", Body(prices=column(p)))
        self._durable(seq)

    @property
    def dual_prices(self) -> np.ndarray:
        """A copy of the dual prices :meth:`set_dual_prices` set (zeros until then), one per inventory entry."""
        return self._dual.copy()

    def _set_prices(self, p: np.ndarray) -> None:
        self._dual = p.copy()
        self._sku_lb = self._sku_bounds()
        self._pack_floats()

    def _pack_floats(self) -> None:
        """Copy the float arrays into a new buffer for K.route_one, and point the router and
        a new explanation context at their views there. A new buffer, not an update in place:
        the decisions made so far keep explaining themselves with the old prices."""
        self._fbuf, views = K.pack_floats(self._ibuf, [getattr(self, a) for a in _PACKED_FLOATS])
        for a, v in zip(_PACKED_FLOATS, views, strict=True):
            setattr(self, a, v)
        self._ctx = self._context()

    def adjust_stock(self, node_id: str, sku: str, delta: int) -> int:
        """Change on-hand stock outside routing: receipts (``delta > 0``) or
        walk-in sales and shrink (``delta < 0``).

        A decrease takes at most the units not reserved for open orders, so it
        never invalidates a reservation; a decrease of more units than are on
        hand is a mistake (stock cannot go below zero) and is refused.
        Returns the change applied.

        ``delta`` is an integer (Python or numpy; not a bool or a float, even
        a whole one) within ``+-MAX_STOCK`` (2**62), and an increase may
        not take on-hand past :data:`MAX_STOCK`: stock stays exact in int64.

        Raises
        ------
        ValidationError
            For an unknown node or SKU, a pair with no stocked entry (add it
            to the inventory table first), or a ``delta`` of the wrong type
            or out of range, or a decrease of more than the units on hand;
            nothing changes.
        """
        col = Collector()
        if node_id not in self.network.node_index:
            col.add("stock", node_id, "node_id", f"unknown node {node_id!r}")
        if sku not in self.network.sku_index:
            col.add("stock", sku, "sku", f"unknown sku {sku!r}")
        # int(-0.5) is 0 and True is 1: anything but a true integer would change stock silently
        whole = not isinstance(delta, bool | np.bool_) and isinstance(delta, int | np.integer)
        if not whole or not -MAX_STOCK <= int(delta) <= MAX_STOCK:
            col.add("stock", f"{node_id}/{sku}", "delta", f"must be an integer within +-{MAX_STOCK}, got {delta!r}")
        col.raise_if_any()
        delta = int(delta)
        j = self._inv.entry(node_id, sku)
        if j < 0:
            col.add("stock", f"{node_id}/{sku}", "node_id/sku", "no inventory entry for this pair")
            col.raise_if_any()
        seq = 0
        with self._lock:
            if self._store is not None:
                self._usable()
            if delta < 0:
                if -delta > int(self._on_hand[j]):
                    col.add("stock", f"{node_id}/{sku}", "delta",
                            f"would take on-hand {int(self._on_hand[j])} below zero, got {delta}")
                    col.raise_if_any()
                free = max(0, int(self._on_hand[j] - self._reserved[j]))
                delta = -min(-delta, free)
            elif delta > MAX_STOCK - int(self._on_hand[j]):
                col.add("stock", f"{node_id}/{sku}", "delta",
                        f"would take on-hand {int(self._on_hand[j])} past {MAX_STOCK} units, got {delta}")
                col.raise_if_any()
            self._on_hand[j] += delta
            if self._store is not None:
                seq = self._record("adjust", None, f"stock of {sku} at {node_id} changed by {int(delta):+d}",
                                   Body(self._changes(None, [j], on_hand=[delta])))
        self._durable(seq)
        return int(delta)

    def _entries(self, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
        """Inventory entry of each (node, SKU) position pair, -1 where none is stored."""
        key = np.asarray(sku, np.int64) * np.int64(self.network.n_nodes) + np.asarray(node, np.int64)
        j = np.minimum(np.searchsorted(self._entry_key, key), max(len(self._entry_key) - 1, 0))
        ok = (len(self._entry_key) > 0) & (np.asarray(node) >= 0) & (np.asarray(sku) >= 0)
        return np.where(ok & (self._entry_key[j] == key), j, -1)

    def adjust_stock_many(self, entries: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """:meth:`adjust_stock` for many inventory entries at once (receipts, walk-in sales).

        Parameters
        ----------
        entries : ndarray of int
            Entry positions in the inventory (see :class:`sourcewise.models.Inventory`).
        delta : ndarray of int
            Change per row; rows apply in order, so a repeated entry sees
            the rows before it. Integers (any numpy integer dtype; not bool
            or float) within ``+-MAX_STOCK``; an increase may not take an
            entry's on-hand past :data:`MAX_STOCK`.

        Returns
        -------
        ndarray of int64
            The change applied per row (a decrease takes at most the units
            not reserved for open orders).

        Raises
        ------
        ValidationError
            For ragged input, an entry out of range, or a delta of the wrong
            type or out of range (every row is checked before any applies);
            nothing changes.
        """
        e_in, d_in = np.asarray(entries).ravel(), np.asarray(delta).ravel()
        col = Collector()
        # an empty list arrives as float64; anything else must be integers already: a cast
        # would turn -0.5 into 0, True into 1 and 2**63 into a negative number
        for name, a in (("entries", e_in), ("delta", d_in)):
            if len(a) and a.dtype.kind not in "iu":
                col.add("stock", None, name, f"must be integers, got {a.dtype}")
        col.raise_if_any()
        if e_in.shape != d_in.shape:
            col.add("stock", None, "delta", f"needs one delta per entry, got {d_in.shape} for {e_in.shape}")
        else:
            for i in np.flatnonzero((e_in < 0) | (e_in >= self._inv.nnz))[:100]:
                col.add("stock", int(i), "entry", f"no inventory entry {e_in[i]}")
            big = d_in > MAX_STOCK if d_in.dtype.kind == "u" else (d_in > MAX_STOCK) | (d_in < -MAX_STOCK)
            for i in np.flatnonzero(big)[:100]:
                col.add("stock", int(i), "delta", f"must be within +-{MAX_STOCK}, got {d_in[i]}")
        col.raise_if_any()
        e, d = e_in.astype(np.int64), d_in.astype(np.int64)
        with self._lock:
            if self._store is not None:
                self._usable()
            if len(np.unique(e)) == len(e):
                free = np.maximum(self._on_hand[e] - self._reserved[e], 0)
                applied = np.where(d < 0, -np.minimum(-d, free), d)
                # room left under the bound: subtracting cannot overflow, adding could
                for i in np.flatnonzero(applied > MAX_STOCK - self._on_hand[e])[:100]:
                    col.add("stock", int(i), "delta", f"would take entry {int(e[i])}'s on-hand "
                            f"{int(self._on_hand[e[i]])} past {MAX_STOCK} units, got {int(d[i])}")
                col.raise_if_any()
                self._on_hand[e] += applied
            else:
                # a repeated entry sees the rows before it: play them on Python ints first, apply after
                applied = np.empty_like(d)
                now: dict[int, int] = {}
                for i, (j, x) in enumerate(zip(e.tolist(), d.tolist(), strict=True)):
                    on_hand = now.get(j, int(self._on_hand[j]))
                    if x < 0:
                        x = -min(-x, max(0, on_hand - int(self._reserved[j])))
                    elif x > MAX_STOCK - on_hand:
                        col.add("stock", i, "delta", f"would take entry {j}'s on-hand {on_hand} past {MAX_STOCK} "
                                f"units, got {x}")
                    now[j] = on_hand + x
                    applied[i] = x
                col.raise_if_any()
                for j, v in now.items():
                    self._on_hand[j] = v
            seq = 0
            if self._store is not None:
                seq = self._record("adjust", None, f"stock of {len(e)} entr(ies) adjusted",
                                   Body(self._changes(None, e, on_hand=applied)))
        self._durable(seq)
        return applied

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

    def _params(self, order: Order | None, hour: float, max_days: float) -> np.ndarray:
        p = self._base_params.copy()
        p[K.P_HOUR] = hour
        p[K.P_MAX_DAYS] = max_days
        return p

    def _make_base_params(self) -> np.ndarray:
        """The per-call parameter vector, built once; calls copy it and set what varies."""
        return K.cost_params(self.policy, self._nodef)

    def _validate(self, order: Order) -> list[int]:
        get = self.network.sku_index.get
        sku_idx = []
        plain = True
        for line in order.lines:
            s = get(line.sku, -1)
            sku_idx.append(s)
            if s < 0 or line.pickup_node is not None:
                plain = False
        if plain:
            return sku_idx
        col = Collector()
        for line, s in zip(order.lines, sku_idx, strict=True):
            if s < 0:
                col.add("orders", f"{order.order_id}/{line.line_id}", "sku", f"unknown sku {line.sku!r}")
            if line.pickup_node is not None and line.pickup_node not in self.network.node_index:
                col.add("orders", f"{order.order_id}/{line.line_id}", "pickup_node",
                        f"unknown node {line.pickup_node!r}")
        col.raise_if_any()
        return sku_idx

    def route(self, order: Order, strategy: str | None = None) -> Decision:
        """Choose nodes for ``order`` and reserve the stock.

        Lines pass through the policy's sourcing tiers in order (by default
        own warehouses and stores, then vendors); what no tier can ship gets
        substitute proposals and is backordered. Pickup lines are sourced at
        their store, same-day lines only from nearby nodes before cutoff.
        Routing an ``order_id`` that already holds a decision (open or
        committed) with the same content returns that decision and reserves
        nothing more; with different content it raises :class:`OrderConflict`.
        Content is the order as routed: for ``route`` the whole
        :class:`Order` (ids, lines, destination, flags, ``placed_at``); for
        ``route_many`` its batch row (``placed_at`` to the second).

        Raises
        ------
        ValidationError
            If a line names an unknown SKU or pickup node; nothing is reserved.
        OrderConflict
            If the id holds a decision for different content; nothing changes.
        """
        name, code = self._default_strategy if strategy is None else self._strategy_code(strategy)
        oid = order.order_id
        # plain membership first: the usual order holds no decision yet, and pays for no comparison
        if oid in self._open or oid in self._committed:
            existing = self._repeat(order)
            if existing is not None:
                return existing
        store = self._store
        # with a store, a committed id (the ledger's) answers, or conflicts, before its content is
        # checked, as an open one does above: the check is made under the lock (see _route_round)
        sku_idx = self._validate(order) if store is None else None
        if self._gateway is None:
            # no live vendor: a single round (the hot path; the vendor rounds' bookkeeping measured
            # about 1 us of an order's 20 in memory)
            with self._lock:
                decision, seq, _ = self._route_round(order, sku_idx, name, code, None)
            self._durable(seq)
            return decision
        # with a live gateway, vendors are asked outside the lock (a slow vendor must not hold up
        # other orders): an attempt that needs them rolls back, they are asked, and it runs again;
        # everything else happens in the first round, under the lock
        answers = VendorAnswers()
        for attempt in range(VENDOR_ROUNDS):
            answers.final = attempt == VENDOR_ROUNDS - 1
            with self._lock:
                decision, seq, requests = self._route_round(order, sku_idx, name, code, answers)
            if decision is not None:
                self._durable(seq)
                return decision
            from sourcewise.engine.vendors import check_vendors

            answers.add(check_vendors(self._gateway, requests, self.policy.vendors.gateway_timeout_s))
        raise AssertionError("unreachable: the last round asks no vendor")

    def _route_round(self, order: Order, sku_idx: list[int] | None, name: str, code: int,
                     answers: VendorAnswers | None) -> tuple[Decision | None, int, list | None]:
        """One attempt at :meth:`route`, under the router's lock.

        Returns
        -------
        decision : Decision or None
            The order's decision (new, or the one its id already holds); None
            when live vendors must be asked first, with nothing changed.
        seq : int
            The ledger entry to wait for, outside the lock (0: none).
        requests : list or None
            What to ask the vendors, when ``decision`` is None.
        """
        oid = order.order_id
        if oid in self._open or oid in self._committed:
            existing = self._repeat(order)
            if existing is not None:
                return existing, 0, None
        store = self._store
        if store is not None:
            self._usable()
            # under the lock: a commit on another thread cannot slip in between; the
            # filter spares the store a query for the ids it certainly never saw (it
            # keeps the id even if routing fails below: that only costs a query later)
            if self._seen.check_add(oid):
                prior = self._prior(order)
                if prior is not None:
                    return prior, 0, None
            if sku_idx is None:
                sku_idx = self._validate(order)
                self._storable_order(order)
        caps = None  # the one-call path's capacity change is read off its plan (see _held_changes)
        held = self._route_simple(order, sku_idx, name, code)
        if not isinstance(held, Held):
            # ``held`` names the tier whose single-node search already declined, if any
            if store is not None:
                caps = self._caps()
            try:
                held = self._route_attempt(order, sku_idx, name, code, held, answers)
            except NeedVendors as need:
                # nothing changed: the caller asks the vendors outside the lock, then tries again
                return None, 0, need.requests
        # (its geography flags are set: by route_one's cell, or by _route_attempt)
        self._open[oid] = held
        if store is None:
            return held.decision, 0, None
        try:
            seq = self._record_held("route", held, order, caps, f"routed ({name}): {held.decision.status}")
        except BaseException:
            # not in the ledger: not made
            del self._open[oid]
            self._give_back(held)
            raise
        return held.decision, seq, None

    def _prior(self, order: Order) -> Decision | None:
        """With a store, the decision of an order the ledger holds as committed (None: route it).

        The same content gets the committed decision back; other content with
        the same id is refused, since the id is spent.
        """
        stored = self._stored(order.order_id)
        if stored is None or stored[0] not in ("commit", "commit_many"):
            return None
        _, decision, before = stored
        if before is not None and before != order:
            raise OrderConflict([Problem("orders", order.order_id, "order_id",
                                         "already committed with different content; an order id can be used once")])
        return _committed(decision)


    # ---------------------------------------------------------- reservations
    def _give_back(self, held: Held) -> None:
        entries, qty = held.rows()
        if len(entries):
            np.subtract.at(self._reserved, entries, qty)
        if held.day != self.business_day:
            return
        if held.cap_nodes is not None and len(held.cap_nodes):
            self._cap_orders[held.cap_nodes] += held.cap_units[0]
            self._cap_units[held.cap_nodes] += held.cap_units[1]
        elif held.cap_nodes is None and held.batch_tiers is not None and self._limited:
            parcels: dict[tuple[int, int], int] = {}
            for n, t, q in zip(self._inv.node[held.entries].tolist(), held.batch_tiers.tolist(),
                               held.qty.tolist(), strict=True):
                parcels[(t, n)] = parcels.get((t, n), 0) + q
            for (_, n), q in parcels.items():
                self._cap_orders[n] += 1
                self._cap_units[n] += q

    def _open_or_refuse(self, order_id: str) -> Held:
        """An open order's record (under the lock) for a change to it; refused when it holds
        nothing or the ledger cannot be written."""
        if self._store is not None:
            self._usable()
        held = self._open_held(order_id)
        if held is None:
            if self._is_committed(order_id):
                # its stock already left: nothing to release, nothing to commit twice
                raise ReservationError(f"order {order_id!r} is already committed")
            raise ReservationError(f"order {order_id!r} holds no reservation")
        return held

    def _is_committed(self, order_id: str) -> bool:
        """Whether ``order_id`` was committed (in memory, or by the ledger)."""
        if order_id in self._committed:
            return True
        stored = self._stored(order_id) if self._store is not None else None
        return stored is not None and stored[0] in ("commit", "commit_many")

    def _pop_open(self, order_id: str) -> Held:
        """Take an open order out (under the lock) to release or commit it."""
        held = self._open_or_refuse(order_id)
        self._pop_held(order_id)
        return held

    def release(self, order_id: str) -> Decision:
        """Give back the stock (and today's capacity) ``order_id`` reserved; it may be routed again.

        Returns its decision with ``state`` ``released``.

        Raises
        ------
        ReservationError
            If the order holds no reservation ("already committed" for a committed one).
        """
        return self._release(order_id, "release", "released: its stock and capacity given back")

    def _release(self, order_id: str, kind: str, why: str) -> Decision:
        seq = 0
        with self._lock:
            held = self._pop_open(order_id)
            caps = self._caps()
            self._give_back(held)
            if self._store is not None:
                e, q = held.rows()
                seq = self._record(kind, order_id, why, Body(self._changes(caps, e, -q)))
        self._durable(seq)
        return msgspec.structs.replace(held.get(), state="released")

    def commit(self, order_id: str) -> Decision:
        """Consume the reserved stock (the order shipped); routing it again returns this decision.

        In memory, the router keeps the committed order's record (its
        decision, and the order or its batch row) so that routing the id
        again is answered, or refused as a conflict, like an open order's;
        with a store, the ledger keeps it and memory does not. Returns the
        decision with ``state`` ``committed``, as :meth:`decision` gives it
        from then on.

        Raises
        ------
        ReservationError
            If the order holds no reservation; "already committed" when it
            was committed before (nothing changes).
        """
        seq = 0
        with self._lock:
            held = self._open_or_refuse(order_id)
            # what can fail comes first: the order leaves the open ones only once its decision exists
            decision = msgspec.structs.replace(held.get(), state="committed")
            entries, qty = held.rows()
            self._pop_held(order_id)
            np.subtract.at(self._reserved, entries, qty)
            np.subtract.at(self._on_hand, entries, qty)
            if self._store is None:
                # only what decision() and a repeated id need: the plan's pieces and arrays go
                self._committed[order_id] = Held(decision, None, None, order=held.order, origin=held.origin)
            else:
                # the ledger keeps it: committed orders leave memory
                seq = self._record("commit", order_id, "committed: shipped, its stock consumed",
                                   Body(self._changes(None, entries, -qty, -qty)))
        self._durable(seq)
        return decision

    def commit_many(self, order_ids: Iterable[str]) -> int:
        """:meth:`commit` many orders; their decisions are built only if asked for later.

        Raises
        ------
        ValidationError
            If an id repeats; nothing is committed.
        ReservationError
            If any order holds no reservation; nothing is committed.
        """
        ids = list(order_ids)
        with self._lock:
            if len(set(ids)) != len(ids):
                # the second pop of a repeated id would find nothing after the first had removed
                # the order: refuse before anything changes
                col = Collector()
                seen: set = set()
                for oid in ids:
                    if oid in seen:
                        col.add("orders", str(oid), "order_id", "repeated in commit_many; each order commits once")
                    seen.add(oid)
                col.raise_if_any()
            missing = [oid for oid in ids if oid not in self._open]
            if missing:
                raise ReservationError(f"{len(missing)} order(s) hold no reservation, e.g. {missing[0]!r}")
            if self._store is not None:
                self._usable()
            held = [self._pop_held(oid) for oid in ids]
            seq = 0
            if held:
                rows = [h.rows() for h in held]
                ent = np.concatenate([e for e, _ in rows])
                qty = np.concatenate([q for _, q in rows])
                np.subtract.at(self._reserved, ent, qty)
                np.subtract.at(self._on_hand, ent, qty)
                if self._store is not None:
                    seq = self._record("commit_many", None, f"{len(ids)} order(s) committed",
                                       Body(self._changes(None, ent, -qty, -qty), order_ids=ids), ids)
            if self._store is None:
                for oid, h in zip(ids, held, strict=True):
                    self._committed[oid] = h
        self._durable(seq)
        return len(ids)

    def reroute(self, order_id: str, rejected_node: str, lines: Iterable[str] | None = None,
                shortfall: int | Mapping[str, int] | None = None) -> Decision:
        """Re-source what ``rejected_node`` could not pick for an open order.

        The node's reservation for the affected lines is released and its
        stock corrected: ATP for those SKUs drops to zero, or on-hand drops
        by ``shortfall`` units (an int for every SKU, or a mapping per SKU).
        Only the affected units are routed again; the rest of the order stays
        where it is, and nodes it already ships from cost no new parcel.

        A shortfall is a whole number of units (an ``int`` or numpy integer;
        not a bool, float or string), at least 0 and at most what the node
        holds for this order: its on-hand of the SKU less what *other* open
        orders reserve there. So the correction can take the order's own
        units and the node's free stock (safety stock included), never units
        another order holds. Mapping keys must be SKUs of the rejected lines;
        a SKU the mapping leaves out has its ATP zeroed. For stock held
        outside the books (a live vendor's) the bound is the units the order
        had there, and nothing is corrected.

        Everything is checked before anything changes, and if re-routing
        fails part-way the order's reservation, the node's stock and today's
        capacity are restored: a call that raises changes nothing.

        Raises
        ------
        ReservationError
            If the order holds no open decision.
        ValidationError
            For an unknown node or line, a node the order does not use, or a
            bad shortfall; nothing changes.
        """
        # as route(): live vendors are asked outside the lock, between attempts that change nothing
        answers = VendorAnswers() if self._gateway is not None else None
        for attempt in range(VENDOR_ROUNDS):
            if answers is not None:
                answers.final = attempt == VENDOR_ROUNDS - 1
            try:
                return self._reroute(order_id, rejected_node, lines, shortfall, answers)
            except NeedVendors as need:
                from sourcewise.engine.vendors import check_vendors

                answers.add(check_vendors(self._gateway, need.requests, self.policy.vendors.gateway_timeout_s))
        raise AssertionError("unreachable: the last round asks no vendor")

    def _reroute(self, order_id: str, rejected_node: str, lines, shortfall, answers: VendorAnswers | None) -> Decision:
        """One attempt of :meth:`reroute`; raises :class:`NeedVendors` (nothing changed) when vendors must be asked."""
        col = Collector()
        # undo: what restores the books if re-routing fails part-way (emptied once it succeeded)
        with self._lock, ExitStack() as undo:
            self._answers = answers
            undo.callback(setattr, self, "_answers", None)
            held = self._open_or_refuse(order_id)
            caps_before = self._caps()
            old_rows = tuple(a.copy() for a in held.rows())
            held_pieces = held.piece_list()
            if held_pieces is None:
                col.add("reroute", order_id, "order_id", "orders routed in a batch cannot be re-routed; route() them")
                col.raise_if_any()
            n = self.network.node_index.get(rejected_node, -1)
            if n < 0:
                col.add("reroute", order_id, "rejected_node", f"unknown node {rejected_node!r}")
            order = held.order
            line_ids = {ln.line_id for ln in order.lines}
            wanted = set(lines) if lines is not None else None
            for lid in sorted(wanted - line_ids) if wanted else ():
                col.add("reroute", order_id, "lines", f"unknown line {lid!r}")
            col.raise_if_any()
            sku_idx = [self.network.sku_index[ln.sku] for ln in order.lines]
            _, _, line_group = group_lines(sku_idx, [ln.qty for ln in order.lines])
            groups = ({line_group[i] for i, ln in enumerate(order.lines) if ln.line_id in wanted}
                      if wanted is not None else set(line_group))
            hit = [pc for pc in held_pieces if pc.node == n and pc.group in groups]
            if not hit:
                col.add("reroute", order_id, "rejected_node", f"{rejected_node!r} ships none of those lines")
                col.raise_if_any()
            keep = [pc for pc in held_pieces if pc not in hit]
            # the shortfall, checked before anything changes
            sku_of_group = {line_group[i]: ln.sku for i, ln in enumerate(order.lines)}
            held_units: dict[str, int] = {}  # units the order holds at the node per rejected SKU
            entry_of: dict[str, int] = {}  # the node's inventory entry of each (-1: held outside the books)
            for pc in hit:
                sku = sku_of_group[pc.group]
                held_units[sku] = held_units.get(sku, 0) + pc.qty
                entry_of[sku] = max(entry_of.get(sku, -1), pc.entry)
            miss_of: dict[str, int | None] = dict.fromkeys(held_units)
            if shortfall is not None:
                given = shortfall.items() if isinstance(shortfall, Mapping) else [(s, shortfall) for s in held_units]
                for sku, miss in given:
                    where = f"shortfall[{sku!r}]" if isinstance(shortfall, Mapping) else "shortfall"
                    if sku not in held_units:
                        col.add("reroute", order_id, where, f"{rejected_node!r} ships no rejected line of sku {sku!r}")
                    elif isinstance(miss, bool | np.bool_) or not isinstance(miss, int | np.integer):
                        # int("x") used to raise only after the reservation was given back; int(1.5) is 1
                        col.add("reroute", order_id, where, f"must be a whole number of units, got {miss!r}")
                    elif miss < 0:
                        col.add("reroute", order_id, where, f"must be >= 0, got {int(miss)}")
                    else:
                        e = entry_of[sku]
                        # others' reservations at the node: units the correction must leave in place
                        others = int(self._reserved[e]) - sum(pc.qty for pc in hit if pc.entry == e) if e >= 0 else 0
                        bound = int(self._on_hand[e]) - others if e >= 0 else held_units[sku]
                        if miss > bound:
                            col.add("reroute", order_id, where,
                                    f"must be at most {bound}, the units {rejected_node} holds for this order of "
                                    f"sku {sku!r} (on hand less {others} reserved by other open orders), "
                                    f"got {int(miss)}")
                        miss_of[sku] = int(miss)
            col.raise_if_any()
            saved = {e: (int(self._on_hand[e]), int(self._reserved[e])) for e in entry_of.values() if e >= 0}
            cap_saved = (self._cap_orders.copy(), self._cap_units.copy())
            routed: list[Held] = []  # re-routed parts that hold a reservation

            def restore() -> None:
                for h in routed:
                    entries, qty = h.rows()
                    if len(entries):
                        np.subtract.at(self._reserved, entries, qty)
                for e, (on_hand, reserved) in saved.items():
                    self._on_hand[e] = on_hand
                    self._reserved[e] = reserved
                self._cap_orders[:] = cap_saved[0]
                self._cap_units[:] = cap_saved[1]
                self._open[order_id] = held

            undo.callback(restore)
            touched = np.array(sorted({pc.entry for pc in hit if pc.entry >= 0}), np.int64)
            on_hand_before = self._on_hand[touched].copy()
            # release the rejected share and correct the node's stock (once per entry: a SKU can sit
            # in two pieces at the node after an earlier re-route)
            for pc in hit:
                if pc.entry >= 0:
                    self._reserved[pc.entry] -= pc.qty
            for e in sorted({pc.entry for pc in hit if pc.entry >= 0}):
                sku = self.network.skus[self._sku_of_entry[e]].sku
                miss = miss_of[sku]
                if miss is None:
                    self._on_hand[e] = min(self._on_hand[e], self._reserved[e] + self._safety[e])
                else:
                    self._on_hand[e] = max(0, self._on_hand[e] - miss)
            # the units to place again, as an order of just those lines
            need: dict[int, int] = {}
            for pc in hit:
                need[pc.group] = need.get(pc.group, 0) + pc.qty
            sub_lines = []
            for g, q in need.items():
                first = next(ln for i, ln in enumerate(order.lines) if line_group[i] == g)
                sub_lines.append(OrderLine(first.line_id, first.sku, q, first.method, first.pickup_node))
            sub = Order(order.order_id, tuple(sub_lines), order.lat, order.lon, order.allow_split,
                        order.max_shipments, order.service_level, order.channel, order.placed_at, False)
            kept_nodes = {pc.node for pc in keep if pc.method in ("ship", "same_day")}
            free = np.zeros(self.network.n_nodes, np.bool_)
            free[list(kept_nodes)] = True
            k = self._limit(order.allow_split, order.max_shipments)
            name = held.get().strategy
            if name not in K.STRATEGY_CODES:
                # a plan the optimizer swapped in ("optimize"): re-route with the router's own strategy
                name = self._default_strategy[0]
            code = K.STRATEGY_CODES[name]
            sub_idx = [self.network.sku_index[ln.sku] for ln in sub_lines]
            part = self._route_locked(sub, sub_idx, name, code, free=free, exclude=n, k_override=k)
            routed.append(part)
            new_nodes = {pc.node for pc in part.pieces if pc.method in ("ship", "same_day")} - kept_nodes
            if len(kept_nodes) + len(new_nodes) > k:
                # the union broke the split limit: undo and place the units on new nodes only
                self._give_back(part)
                routed.clear()
                part = self._route_locked(sub, sub_idx, name, code, free=None, exclude=n,
                                          k_override=max(1, k - len(kept_nodes)))
                routed.append(part)
            # map the sub-order's groups back onto the original order's groups
            sub_to_orig = {j: g for j, g in enumerate(need)}
            for pc in part.pieces:
                pc.group = sub_to_orig[pc.group]
                pc.free = False
            pieces = keep + part.pieces
            g_sku, g_qty, _ = group_lines(sku_idx, [ln.qty for ln in order.lines])
            remaining = g_qty.copy()
            for pc in pieces:
                remaining[pc.group] -= pc.qty
            old_expl = held.get().explanation
            notes = [*old_expl.tiers, *part.decision.explanation.tiers] if old_expl else []
            merged = self._finish(order, name, k, g_sku, g_qty, line_group, remaining, pieces, [], notes,
                                  [f"re-routed after {rejected_node} rejected {sum(pc.qty for pc in hit)} unit(s)"],
                                  {}, None)
            # the capacity the old plan took counts only if it was taken today: release gives back
            # today's counters, and an earlier day's units would push them past the node's limit
            caps = [h for h in (held, part) if h.cap_nodes is not None and h.day == self.business_day]
            if caps:
                merged.cap_nodes = np.concatenate([h.cap_nodes for h in caps])
                merged.cap_units = np.concatenate([h.cap_units for h in caps], axis=1)
            merged.origin = held.origin
            self._open[order_id] = merged
            seq = 0
            if self._store is not None:
                seq = self._record_held("reroute", merged, order, caps_before,
                                        f"re-routed after {rejected_node} rejected {sum(pc.qty for pc in hit)} unit(s)",
                                        old_rows, (touched, self._on_hand[touched] - on_hand_before))
            undo.pop_all()  # done: nothing to restore
            self._answers = None
        self._durable(seq)
        return merged.decision

    # ------------------------------------------------------------------ batch
    def route_many(self, orders: OrderBatch | pd.DataFrame | Iterable[Order], strategy: str | None = None, *,
                   one_day: bool = False) -> BatchResult:
        """Route orders in sequence, each depleting stock for the next.

        The whole batch runs in one compiled loop through the sourcing tiers;
        decisions are returned as tables rather than objects. Every routed
        order holds a reservation that :meth:`release` and :meth:`commit`
        accept. Batches with pickup or same-day lines, or with a live vendor
        gateway, are routed order by order through :meth:`route` instead, with
        the same result tables.

        ``orders`` are :class:`Order` objects, an :class:`OrderBatch`, or a
        DataFrame with the columns of a scenario's ``orders`` table (one row
        per line), checked as that table is. Node capacities count against
        :attr:`business_day` for the whole batch: orders placed on several
        days (with some node's capacity limited) draw a :class:`SeveralDaysWarning`;
        route each day's orders after :meth:`set_business_day`, as the
        ``route`` command does, or pass ``one_day=True`` when the batch is
        meant to share one day's capacity (the optimizer plans whole batches
        so).

        Raises
        ------
        ValidationError
            If an order id repeats or already holds a decision, or a line's
            ``qty`` is not an integer from 1 to :data:`MAX_QTY` (nor an
            order's total), or a DataFrame's rows are not valid order lines;
            nothing is reserved.
        TypeError
            If ``orders`` is none of the above.
        """
        batch = self._as_batch(orders)
        name, code = self._strategy_code(strategy)
        col = Collector()
        # Orders check their units; a batch built by hand has not, and its sums would overflow
        qty = np.asarray(batch.qty)
        if len(qty) and (qty.dtype.kind not in "iu"):
            col.add("orders", None, "qty", f"must be integers, got {qty.dtype}")
            col.raise_if_any()
        for i in np.flatnonzero((qty < 1) | (qty > MAX_QTY))[:100]:
            col.add("orders", int(i), "qty", f"must be an integer from 1 to {MAX_QTY}, got {qty[i]}")
        # float sums: exact while they matter (up to 2**53), and they cannot wrap
        owner = np.repeat(np.arange(batch.n_orders), np.diff(batch.line_ptr))
        total = np.bincount(owner, weights=qty.astype(np.float64), minlength=batch.n_orders)
        for o in np.flatnonzero(total > MAX_QTY)[:100]:
            col.add("orders", str(batch.order_id[o]), "lines", f"add up to {int(total[o])} units, more than {MAX_QTY}")
        col.raise_if_any()
        ids = batch.order_id.tolist()
        if len(set(ids)) != len(ids):
            for i in np.flatnonzero(pd.Series(batch.order_id).duplicated().to_numpy()):
                col.add("orders", str(batch.order_id[i]), "order_id", "duplicate order_id in batch")
        with self._lock:
            # set operations first: the per-order loop only runs to name the offenders
            if not (self._open.keys().isdisjoint(ids) and self._committed.keys().isdisjoint(ids)):
                for oid in ids:
                    if oid in self._open or oid in self._committed:
                        col.add("orders", str(oid), "order_id", "already routed; use route() to fetch it")
            if self._store is not None and not col.problems:
                self._usable()
                self._storable(batch=batch)
                for oid in self._spent(ids):
                    col.add("orders", str(oid), "order_id", "already committed; use route() to fetch it")
            col.raise_if_any()
            special = batch.method is not None and bool((batch.method != "ship").any())
            channels = batch.channel is not None and any(t.channels for t in self.policy.tiers)
            if self._gateway is not None:
                # order by order through route(), which asks vendors outside the lock
                orders = orders_from_batch(self.network, batch)
                self._validate_all(orders)
            elif special or channels:
                result = self._route_many_slow(batch, name)
            else:
                result = self._route_many_fast(batch, name, code, ids)
            seq = self._last_seq
        if not one_day:
            self._warn_several_days(batch)
        if self._gateway is not None:
            return decisions_to_tables([self.route(order, name) for order in orders])
        if self._store is not None:
            self._durable(seq)
        return result

    def _as_batch(self, orders: OrderBatch | pd.DataFrame | Iterable[Order]) -> OrderBatch:
        """The :class:`OrderBatch` of what :meth:`route_many` was given."""
        if isinstance(orders, OrderBatch):
            return orders
        if isinstance(orders, pd.DataFrame):
            return orders_from_frame(self.network, orders)
        if isinstance(orders, str | bytes | Mapping) or not isinstance(orders, Iterable):
            raise TypeError(f"route_many takes Order objects, an OrderBatch or a DataFrame of order lines, not "
                            f"{type(orders).__name__}")
        orders = list(orders)
        for o in orders:
            if not isinstance(o, Order):
                raise TypeError(f"route_many takes Order objects, an OrderBatch or a DataFrame of order lines; got "
                                f"an iterable of {type(o).__name__}")
        return batch_from_orders(self.network, orders)

    def _warn_several_days(self, batch: OrderBatch) -> None:
        """Warn when ``batch`` holds orders of several days and some node's daily capacity is limited."""
        net = self.network
        if batch.placed_at is None or not ((net.capacity_orders < UNLIMITED_FROM).any()
                                           or (net.capacity_units < UNLIMITED_FROM).any()):
            return
        days = np.unique(batch.placed_at[~np.isnat(batch.placed_at)].astype("datetime64[D]"))
        if len(days) > 1:
            warnings.warn(f"route_many: these orders were placed on {len(days)} days ({days[0]} to {days[-1]}) but "
                          f"all count against one day's node capacity (business day {self.business_day}); route "
                          "each day's orders after set_business_day(day), as the route command does",
                          SeveralDaysWarning, stacklevel=3)

    def _validate_all(self, orders: list[Order]) -> None:
        """Check every order before any is routed; one error lists every problem."""
        col = Collector()
        for order in orders:
            try:
                self._validate(order)
            except ValidationError as exc:
                col.extend(exc.problems)
        col.raise_if_any()

    def _route_many_fast(self, batch: OrderBatch, name: str, code: int, ids: list[str]) -> BatchResult:
        net, pol = self.network, self.policy
        owner = np.repeat(np.arange(batch.n_orders), np.diff(batch.line_ptr))
        # lines of the same SKU in one order share stock: route them as one group
        key = owner * np.int64(net.n_skus + 1) + batch.sku
        starts = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        if len(key) and len(pd.unique(key)) == int(starts.sum()):
            group_of_line = np.cumsum(starts) - 1
            g_owner, g_sku = owner[starts], batch.sku[starts].astype(np.int64)
            g_qty = np.bincount(group_of_line, weights=batch.qty).astype(np.int64)
        else:
            group_of_line, uniq = pd.factorize(key)
            g_owner = uniq // np.int64(net.n_skus + 1)
            g_sku = (uniq % np.int64(net.n_skus + 1)).astype(np.int64)
            g_qty = np.bincount(group_of_line, weights=batch.qty, minlength=len(uniq)).astype(np.int64)
        g_ptr = np.searchsorted(g_owner, np.arange(batch.n_orders + 1)).astype(np.int64)
        k = np.where(batch.allow_split, np.where(batch.max_shipments > 0, batch.max_shipments,
                                                 pol.max_shipments), 1).astype(np.int64)
        dest = unit_vectors(batch.lat, batch.lon).reshape(batch.n_orders, 3)
        hour, max_days = self._batch_service(batch)
        params = self._params(None, 0.0, -1.0)
        caps = self._caps()
        # tiers with no node at all would only scan entries to reject them
        live = np.flatnonzero(self._tier_masks.any(axis=1))
        out_g, out_n, out_q, out_e, out_t, out_d, costs, ships, km, days = K.route_batch(
            dest, g_ptr, g_sku, g_qty, k, code, np.ascontiguousarray(self._tier_masks[live]),
            self._tier_miles[live], self._inv.sku_ptr, self._inv.node, self._sku_bits, self._no_free,
            self._ibuf, self._fbuf, params, hour, max_days)
        line_idx, row_idx, a_qty = lines_for_groups(group_of_line, batch.qty, out_g, out_q)
        a_node = out_n[row_idx]
        a_order = owner[line_idx]
        filled = np.bincount(a_order, weights=a_qty, minlength=batch.n_orders).astype(np.int64)
        ordered = np.bincount(owner, weights=batch.qty, minlength=batch.n_orders).astype(np.int64)
        tier_names = np.array([t.name for t in pol.tiers], dtype=object)
        arrow_nodes, arrow_skus = network_labels(net)
        alloc_df = pd.DataFrame({
            "order_id": take_str(batch.order_id, a_order),
            "line_id": take_str(batch.line_id, line_idx),
            "sku": take_str(arrow_skus, batch.sku[line_idx]),
            "node_id": take_str(arrow_nodes, a_node),
            "qty": a_qty,
            "tier": take_str(tier_names, live[out_t[row_idx]] if len(row_idx) else np.empty(0, np.int64)),
            "promised_date": self._batch_dates(batch, a_order, out_d[row_idx]),
        })
        orders_df = orders_frame(batch.order_id, filled, ordered, ships, costs, km, days,
                                 self._geo.flags_many(batch.lat, batch.lon))
        bounds = np.searchsorted(g_owner[out_g], np.arange(batch.n_orders + 1))
        short = np.flatnonzero(filled < ordered)
        # why the short orders are short: after the kernel, for them alone
        lines_df = self._batch_reasons(batch, short, orders_df, owner, line_idx, a_qty, bounds,
                                       (out_e, out_q, out_t, out_n), ships, k, dest, hour, max_days)
        result = BatchResult(alloc_df, orders_df, lines_df)
        # reservations, so that release and commit work for batch-routed orders
        a_bounds = np.searchsorted(a_order, np.arange(batch.n_orders + 1))
        # plain ints and one bound method: this loop runs once per order
        bl, al = bounds.tolist(), a_bounds.tolist()
        # one plain tuple per order, made by zip in C: held_from_batch() turns it into a Held
        # the first time anyone looks at the order (most batch orders are only committed)
        # (the batch itself is kept, by reference, to compare a repeated id with: see Router._repeat)
        batch_info = (result, name, self.business_day, (out_e, out_q, out_t), batch)
        # these records form no cycles; collections triggered by allocating them
        # would only rescan the whole heap (the network's objects included)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            lazy = zip(repeat(batch_info), range(len(ids)), al, islice(al, 1, None), bl, islice(bl, 1, None),
                       strict=False)  # repeat() never ends; the bounds lists have one extra item
            self._open.update(zip(ids, lazy, strict=False))
        finally:
            if was_enabled:
                gc.enable()
        if self._store is not None:
            self._record_batch(batch, result, name, (out_e, out_q, out_t), al, bl, caps)
            self._seen.add(ids)
        return result

    def _batch_dates(self, batch: OrderBatch, a_order: np.ndarray, lead: np.ndarray) -> np.ndarray:
        """The promised date of each allocation row's parcel: its order's day (placed, else the
        business day) plus the whole lead days the kernel counted for the row's node."""
        start = np.full(batch.n_orders, np.datetime64(self.business_day, "D"))
        if batch.placed_at is not None:
            placed = batch.placed_at.astype("datetime64[D]")
            start = np.where(np.isnat(placed), start, placed)
        return start[a_order] + lead.astype("timedelta64[D]")

    def _batch_reasons(self, batch: OrderBatch, short: np.ndarray, orders_df: pd.DataFrame, owner: np.ndarray,
                       line_idx: np.ndarray, a_qty: np.ndarray, bounds: np.ndarray, rows: tuple,
                       ships: np.ndarray, k: np.ndarray, dest: np.ndarray, hour: np.ndarray,
                       max_days: np.ndarray) -> pd.DataFrame:
        """Reasons of a batch's short orders (``orders_df`` gains ``reason`` and ``reason_text``) and the
        table of their short lines.

        Each order is diagnosed against the stock and capacity it left: the
        books now, plus what later orders of the batch took (given back in a
        sweep from the last order down, so the work is one pass over the rows).
        """
        n = batch.n_orders
        # the columns as labels taken by position (0: "", the short orders' own from 1): most orders
        # are routed, and a string column of n mostly empty objects costs several milliseconds to make
        at = np.zeros(n, np.int64)
        at[short] = np.arange(1, len(short) + 1)
        code_col = np.full(len(short) + 1, "", dtype=object)
        text_col = np.full(len(short) + 1, "", dtype=object)
        if not len(short):
            orders_df["reason"], orders_df["reason_text"] = take_str(code_col, at), take_str(text_col, at)
            return unfilled_frame([])
        out_e, out_q, out_t, out_n = rows
        line_filled = np.bincount(line_idx, weights=a_qty, minlength=len(batch.qty)).astype(np.int64)
        left = batch.qty - line_filled
        atp = self._on_hand - self._safety - self._reserved
        cap_o, cap_u = self._cap_orders.copy(), self._cap_units.copy()
        r_owner = np.repeat(np.arange(n), np.diff(bounds))
        net = self.network
        found: dict[int, tuple] = {}
        top = len(out_e)
        for o in short[::-1].tolist():
            lo = int(bounds[o + 1])
            if lo < top:
                # the rows of later orders: their units and parcels were still there for this one
                np.add.at(atp, out_e[lo:top], out_q[lo:top])
                if self._limited:
                    np.add.at(cap_u, out_n[lo:top], out_q[lo:top])
                    parcels = np.unique(np.stack([r_owner[lo:top], out_t[lo:top], out_n[lo:top]]), axis=1)
                    np.add.at(cap_o, parcels[2], 1)
                top = lo
            a, b = int(batch.line_ptr[o]), int(batch.line_ptr[o + 1])
            lines = [_BatchLine(str(batch.line_id[i]), net.skus[batch.sku[i]].sku) for i in range(a, b)]
            moment = OrderMoment(
                dest[o], float(hour[o]), float(max_days[o]),
                str(batch.service_level[o]) if batch.service_level is not None else "standard",
                str(batch.channel[o]) if batch.channel is not None else None, int(k[o]), int(ships[o]),
                set(out_n[bounds[o]:bounds[o + 1]].tolist()), atp, cap_o, cap_u)
            reasons = order_reasons(self, lines, left[a:b].tolist(), batch.sku[a:b].tolist(), moment)
            allow = batch.allow_substitutes is None or bool(batch.allow_substitutes[o])
            subs = dict(self._propose(_SubstituteAsk(allow), lines, left[a:b].tolist()))
            found[o] = (reasons, subs)
            code_col[at[o]], text_col[at[o]] = order_reason(reasons)
        orders_df["reason"], orders_df["reason_text"] = take_str(code_col, at), take_str(text_col, at)
        return unfilled_frame([(str(batch.order_id[o]), r, subs.get(r.line_id, ()))
                               for o in short.tolist() for r in found[o][0] for subs in (found[o][1],)])

    def _batch_service(self, batch: OrderBatch) -> tuple[np.ndarray, np.ndarray]:
        """Order hour and delivery deadline per order."""
        n = batch.n_orders
        if batch.placed_at is not None:
            ts = pd.DatetimeIndex(batch.placed_at)
            hour = np.where(ts.isna(), 0.0, ts.hour + ts.minute / 60.0).astype(np.float64)
        else:
            hour = np.zeros(n)
        svc = self.policy.service
        if batch.service_level is not None:
            table = {lvl: svc.deadline(lvl) for lvl in ("standard", "express", "next_day")}
            max_days = np.array([table[x] for x in batch.service_level], np.float64)
        else:
            max_days = np.full(n, svc.standard_days, np.float64)
        return hour, max_days

    def _route_many_slow(self, batch: OrderBatch, name: str) -> BatchResult:
        orders = orders_from_batch(self.network, batch)
        decisions = []
        pending = []
        try:
            for o, order in enumerate(orders):
                sku_idx = self._validate(order)
                caps = self._caps()
                held = self._route_locked(order, sku_idx, name, K.STRATEGY_CODES[name], free=None, exclude=None)
                held.origin = (batch, o)  # compared as a batch row, like the fast path's orders
                self._open[order.order_id] = held
                decisions.append(held.decision)
                if self._store is not None:
                    # each order's own deltas now (later orders move the same counters); written
                    # once the whole batch stands
                    pending.append((held, order, self._held_changes(held, caps)))
        except BaseException:
            # all or nothing: an order that fails gives back the batch's earlier ones too
            for d in decisions:
                self._give_back(self._open.pop(d.order_id))
            raise
        for k, (held, order, changes) in enumerate(pending, 1):
            # "of a batch": a replay routes these together, as this path did (engine.journal)
            self._record_held("route", held, order, None, f"routed ({name}): {held.decision.status}; "
                              f"order {k} of {len(pending)} of a batch", changes=changes)
            self._seen.add_one(order.order_id)
        return decisions_to_tables(decisions)


