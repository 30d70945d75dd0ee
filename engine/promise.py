"""Promises: what routing would decide for an order, and its pickup and same-day options, with nothing kept.

:meth:`Promising.promise` answers a checkout page: the decision
:meth:`~sourcewise.engine.router.Router.route` would make for the order at
this moment, the stores nearby where the shopper could collect it, and
whether it could come the same day. :meth:`Promising.availability` answers
a product page: which stores near an address hold a SKU, how many units and
when a pickup would be ready. Both leave the router exactly as they found it.

How "the decision route would make" is kept exact: ``promise`` runs route's
own passes (the single-call path, else the tier walk, live vendors, pickup
lines, substitutes, pricing) under the router's lock, and before it lets go
of the lock gives back every unit and capacity slot they set aside. There is
no second implementation of routing to drift from the first. Nothing is
recorded: no open order, no ledger entry, no id remembered.
"""

from __future__ import annotations

import math
from datetime import date
from datetime import datetime
from datetime import timedelta
from itertools import islice

import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.engine.holds import Held
from sourcewise.engine.holds import group_lines
from sourcewise.engine.passes import NeedVendors
from sourcewise.engine.passes import VendorAnswers
from sourcewise.models.decision import Decision
from sourcewise.models.errors import Collector
from sourcewise.models.node import check_coordinates
from sourcewise.models.order import Order
from sourcewise.models.promise import PickupOption
from sourcewise.models.promise import Promise
from sourcewise.models.promise import SameDayOption
from sourcewise.models.promise import StoreStock

#: Why a vendor is missing from a promise made with ``ask_vendors=False``.
NOT_ASKED = "not asked: promise made without live vendor checks"


class _NoVendors(VendorAnswers):
    """The vendor answers of a promise that asks no vendor: every vendor it would ask counts as failed."""

    def __init__(self) -> None:
        super().__init__()
        self.final = True

    def check(self, requests: dict[str, list[str]]):
        from sourcewise.engine.vendors import VendorCheck

        return VendorCheck({}, dict.fromkeys(requests, NOT_ASKED))


class Promising:
    """Promises and store availability of :class:`~sourcewise.engine.router.Router` (a mixin: the
    router's attributes are its state, and it changes none of them)."""

    # per channel (None: a channel no tier names), the candidate matrix of nearby_holders and its
    # reach; built on first use (tiers and policy never change)
    _candidate_cache: dict | None = None
    _named_channels: frozenset = frozenset()
    # scratch rows for nearby_holders, written under the lock
    _holder_rows: tuple[np.ndarray, np.ndarray] | None = None
    _days: list[int] | None = None

    # ------------------------------------------------------------------ public
    def promise(self, order: Order, strategy: str | None = None, *, ask_vendors: bool = True) -> Promise:
        """What the router can promise for ``order`` now, without reserving anything.

        Parameters
        ----------
        order : Order
            The order as it would be routed; its ``placed_at`` sets the hour
            that cutoffs are judged at and the day promised dates count from
            (``None``: the start of the business day), as for ``route``.
        strategy : str, optional
            As for :meth:`~sourcewise.engine.router.Router.route`.
        ask_vendors : bool
            With a live vendor gateway, ask the vendors as ``route`` would
            (outside the router's lock, within the policy's timeout), so
            that ``ship`` is route's decision. ``False`` asks none: the
            vendors count as failed in the explanation (reason
            :data:`NOT_ASKED`) and the vendor tier ships nothing, so the
            promise can differ from ``route`` exactly there. Without a
            gateway it changes nothing.

        Returns
        -------
        Promise
            ``ship``: the decision ``route(order, strategy)`` would return at
            this moment, its explanation included. ``pickup``: the nodes
            offering pickup within ``policy.methods.pickup_radius_km`` that
            hold every item (ATP net of safety stock, store protection and
            reservations, at least each line's units) and have an order slot
            and unit capacity left today, nearest first, at most
            ``policy.methods.pickup_options``; each is ready after its
            processing days. ``same_day``: a node that a
            ``same_day`` line may be sourced from (a sourcing tier for the
            order's channel, within ``policy.methods.same_day_radius_km``
            and the tier's distance, before its cutoff at the order's hour,
            with capacity left) that holds every item, or ``None``; one
            node ships it all in one parcel, promised as routing promises a
            same-day parcel (the order date plus the node's processing
            days). Of several, the earliest date wins, then the nearest.

        Raises
        ------
        ValidationError
            An unknown strategy, SKU or pickup node, as ``route`` raises it.
        OrderConflict
            The order id holds a decision for different content, as ``route`` raises it.

        Notes
        -----
        Nothing changes: stock, reservations, capacity, open and committed
        orders, dual prices, the ledger and the ids it has seen are as they
        were (only caches that change no result may fill). ``route``'s own
        passes run under the lock, and every unit and capacity slot they set
        aside is given back before the lock is released, so no caller that
        takes the lock sees them. An order id that already holds a decision
        with the same content gets that decision as ``ship`` (as ``route``
        returns it) and ``existing=True``; its pickup and same-day options
        are still those of the stock free now. A ledger the router could not
        write to does not stop a promise, which writes nothing.
        """
        name, code = self._default_strategy if strategy is None else self._strategy_code(strategy)
        answers, rounds = None, 1
        if self._gateway is not None and not ask_vendors:
            answers = _NoVendors()
        elif self._gateway is not None:
            from sourcewise.engine.router import VENDOR_ROUNDS

            answers, rounds = VendorAnswers(), VENDOR_ROUNDS
        for attempt in range(rounds):
            if answers is not None:
                answers.final = attempt == rounds - 1
            with self._lock:
                # the checks route makes, in its order: a repeated id first, then the lines
                existing = self._standing(order)
                sku_idx = self._validate(order)
                ship = existing
                if ship is None:
                    try:
                        ship = self._decide(order, sku_idx, name, code, answers)
                    except NeedVendors as need:
                        # nothing changed: ask the vendors outside the lock, then try again
                        requests = need.requests
                if ship is not None:
                    return self._options(order, sku_idx, ship, existing is not None)
            from sourcewise.engine.vendors import check_vendors

            answers.add(check_vendors(self._gateway, requests, self.policy.vendors.gateway_timeout_s))
        raise AssertionError("unreachable: the last round asks no vendor")

    def availability(self, sku: str, lat: float, lon: float, radius_km: float | None = None,
                     limit: int | None = None, *, placed_at: datetime | None = None) -> tuple[StoreStock, ...]:
        """Stores near an address that hold ``sku`` now, nearest first: a product page's list.

        Parameters
        ----------
        sku : str
        lat, lon : float
            The shopper's address.
        radius_km : float, optional
            How far to look (default ``policy.methods.pickup_radius_km``); ``inf`` for anywhere.
        limit : int, optional
            At most this many stores (default ``policy.methods.pickup_options``).
        placed_at : datetime, optional
            When a pickup would be ordered: ready dates count from its day
            (default: the business day).

        Returns
        -------
        tuple of StoreStock
            One row per node offering pickup within the radius that could
            hand over at least one unit today: its ATP (net of safety stock,
            store protection and reservations) capped by the units it can
            still take today, and an order slot left. Ties in distance go
            in the network's node order. Nothing changes.

        Raises
        ------
        ValidationError
            An unknown SKU, coordinates out of range, a negative or NaN
            radius, a limit that is not an integer >= 0, or a ``placed_at``
            that is not a datetime; every problem listed together.
        """
        col = Collector()
        s = self.network.sku_index.get(sku, -1) if isinstance(sku, str) else -1
        if s < 0:
            col.add("availability", None, "sku", f"unknown sku {sku!r}")
        check_coordinates(col, "availability", None, lat, lon)
        methods = self.policy.methods
        radius = methods.pickup_radius_km if radius_km is None else radius_km
        if isinstance(radius, bool) or not isinstance(radius, int | float) or not radius >= 0:
            col.add("availability", None, "radius_km", f"must be a number >= 0, got {radius_km!r}")
        count = methods.pickup_options if limit is None else limit
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            col.add("availability", None, "limit", f"must be an integer >= 0, got {limit!r}")
        if placed_at is not None and not isinstance(placed_at, datetime):
            col.add("availability", None, "placed_at", f"must be a datetime, got {placed_at!r}")
        col.raise_if_any()
        net = self.network
        nodes = np.flatnonzero(net.pickup)
        cand, reach = candidate_matrix(net, nodes, np.full(len(nodes), radius / K.MILE_KM), np.full(len(nodes), -1.0))
        g = np.array([s, 1], np.int64)
        with self._lock:
            start = placed_at.date() if placed_at is not None else self.business_day
            rows = self._holders(float(lat), float(lon), reach, -1.0, g, cand)
        out = []
        for n, units, _, miles in rows[:count]:
            node_id, km, days, ready = self._place(n, miles, start)
            out.append(StoreStock(node_id, km, units, days, ready))
        return tuple(out)

    # ------------------------------------------------------------------ the decision
    def _standing(self, order: Order) -> Decision | None:
        """The decision ``order``'s id already holds with the same content, as ``route`` finds it
        (read only: the ledger's id filter is asked, not told).

        Raises
        ------
        OrderConflict
            When the id holds a decision for different content.
        """
        oid = order.order_id
        if oid in self._open or oid in self._committed:
            existing = self._repeat(order)
            if existing is not None:
                return existing
        if self._store is not None and self._seen.maybe_one(oid):
            return self._prior(order)
        return None

    def _decide(self, order: Order, sku_idx: list[int], name: str, code: int,
                answers: VendorAnswers | None) -> Decision:
        """Route's decision for ``order`` (under the lock), with the books left as they were.

        Raises
        ------
        NeedVendors
            When live vendors must be asked first; nothing changed.
        """
        held = self._route_simple(order, sku_idx, name, code)
        if isinstance(held, Held):
            self._unreserve_simple(held)
            return held.decision
        # the full path: its passes count capacity down as they go, unlimited counters too, while its
        # record notes only what limited capacity took (see _note_capacity): the counters are saved whole
        caps = self._cap_orders.copy(), self._cap_units.copy()
        try:
            held = self._route_attempt(order, sku_idx, name, code, held, answers)
        finally:
            self._cap_orders[:] = caps[0]
            self._cap_units[:] = caps[1]
        entries, qty = held.rows()
        if len(entries):
            np.subtract.at(self._reserved, entries, qty)
        return held.decision

    def _unreserve_simple(self, held: Held) -> None:
        """Give back what :func:`~sourcewise.engine._kernels.route_one` reserved for ``held``:
        units at each entry, one order slot per node and the units' capacity."""
        reserved, cap_orders, cap_units = self._reserved, self._cap_orders, self._cap_units
        if len(held.whole) == 4:
            # one node ships every group (distinct SKUs: distinct entries)
            node = held.whole[0]
            units = 0
            for e, q in zip(held.entries.tolist(), held.qty.tolist(), strict=True):
                reserved[e] -= q
                units += q
            cap_orders[node] += 1
            cap_units[node] += units
            return
        # a split: (node, group, units, entry) rows, node by node, no node shipping for free
        flat = held.whole[0]
        last = -1
        for j in range(0, len(flat), 4):
            n, _, q, e = flat[j:j + 4]
            reserved[e] -= q
            cap_units[n] += q
            if n != last:
                cap_orders[n] += 1
                last = n

    # ------------------------------------------------------------------ the options
    def _options(self, order: Order, sku_idx: list[int], ship: Decision, existing: bool) -> Promise:
        """The promise around ``ship``: pickup and same-day options (under the lock)."""
        qtys = [line.qty for line in order.lines]
        if len(set(sku_idx)) == len(sku_idx):
            g = np.array(sku_idx + qtys, np.int64)
        else:
            g_sku, g_qty, _ = group_lines(sku_idx, qtys)
            g = np.concatenate((g_sku, g_qty))
        placed = order.placed_at
        start = placed.date() if placed is not None else self.business_day
        hour = placed.hour + placed.minute / 60.0 if placed is not None else 0.0
        cand, reach = self._candidates(order.channel)
        rows = self._holders(float(order.lat), float(order.lon), reach, hour, g, cand)
        if not rows:
            return Promise(order.order_id, ship, (), None, existing)
        limit = self.policy.methods.pickup_options
        pickup = [PickupOption(*self._place(n, miles, start)) for n, miles in
                  islice(((n, miles) for n, _, flags, miles in rows if flags & 1), limit)]
        # same-day: the earliest promised date wins (the fewest processing days, a whole number), then
        # the nearest (rows come nearest first)
        days = self._processing_days()
        best = None
        for n, _, flags, miles in rows:
            if flags & 2 and (best is None or days[n] < days[best[0]]):
                best = (n, miles)
        same_day = SameDayOption(*self._place(*best, start)) if best is not None else None
        return Promise(order.order_id, ship, tuple(pickup), same_day, existing)

    def _processing_days(self) -> list[int]:
        """Each node's processing days, as a list (read per option, where a numpy scalar costs more)."""
        days = self._days
        if days is None:
            days = self._days = self.network.processing_days.tolist()
        return days

    def _place(self, n: int, miles: float, start: date) -> tuple[str, float, float, date]:
        """Node id, distance (km), processing days and the date they end for node ``n``."""
        days = float(self._processing_days()[n])
        return self._node_ids[n], miles * K.MILE_KM, days, _after(start, days)

    def _holders(self, lat: float, lon: float, reach: float, hour: float, g: np.ndarray,
                 cand: np.ndarray) -> list[tuple[int, int, int, float]]:
        """(node, units, flags, miles) of the candidates that could hand over every group whole today
        (:func:`~sourcewise.engine._kernels.nearby_holders`), nearest first, ties by node. Under the lock."""
        if not len(cand) or reach < 0:
            return []
        rows = self._holder_rows
        if rows is None:
            rows = self._holder_rows = (np.empty((self.network.n_nodes, 3), np.int64), np.empty(self.network.n_nodes))
        k = K.nearby_holders(lat, lon, reach, hour, g, cand, self._inv.sku_ptr, self._inv.node, self._ibuf,
                             self._fbuf, rows[0], rows[1])
        if k == 0:
            return []
        return [(n, units, flags, miles) for (n, units, flags), miles
                in zip(rows[0][:k].tolist(), rows[1][:k].tolist(), strict=True)]

    def _candidates(self, channel: str) -> tuple[np.ndarray, float]:
        """The candidate matrix of :func:`~sourcewise.engine._kernels.nearby_holders` for an order of
        ``channel``, and the farthest any candidate may be (miles).

        Pickup: the nodes route accepts as a pickup store (enabled, ``pickup``), within
        ``methods.pickup_radius_km``. Same-day: the nodes route's same-day pass may source from, tier
        by tier (a tier for the channel, with nodes), within ``methods.same_day_radius_km`` and the
        tier's distance (the loosest over the node's tiers). Built once per channel: the policy and the
        tiers never change, and channels no tier names share one entry.
        """
        cache = self._candidate_cache
        tiers = self.policy.tiers
        if cache is None:
            cache = self._candidate_cache = {}
            # channels no tier names all see the same tiers: one entry (None) for them
            self._named_channels = frozenset(c for t in tiers for c in t.channels)
        key = channel if channel in self._named_channels else None
        hit = cache.get(key)
        if hit is None:
            net, methods = self.network, self.policy.methods
            pick = np.full(net.n_nodes, -1.0)
            if methods.pickup_options:
                pick[net.pickup] = methods.pickup_radius_km / K.MILE_KM
            radius = methods.same_day_radius_km / K.MILE_KM
            same = np.full(net.n_nodes, -1.0)
            for t, tier in enumerate(tiers):
                if (tier.channels and key not in tier.channels) or not self._tier_nonempty[t]:
                    continue
                m = self._tier_masks[t]
                same[m] = np.maximum(same[m], min(self._tier_miles[t], radius))
            nodes = np.flatnonzero((pick >= 0) | (same >= 0))
            hit = cache[key] = candidate_matrix(net, nodes, pick[nodes], same[nodes])
        return hit


def candidate_matrix(network, nodes: np.ndarray, pickup_miles: np.ndarray,
                     same_day_miles: np.ndarray) -> tuple[np.ndarray, float]:
    """The ``cand`` matrix of :func:`~sourcewise.engine._kernels.nearby_holders` (per node ``z, x, y``,
    node, pickup and same-day limits; rows ascending by ``z``) and its ``reach``, the largest limit in it
    (-1 when it has no rows)."""
    xyz = network.xyz[nodes]
    order = np.argsort(xyz[:, 2], kind="stable")
    cand = np.column_stack([xyz[:, 2], xyz[:, 0], xyz[:, 1], nodes.astype(np.float64), pickup_miles,
                            same_day_miles])[order]
    reach = float(max(pickup_miles.max(), same_day_miles.max())) if len(nodes) else -1.0
    return np.ascontiguousarray(cand, dtype=np.float64), reach


def _after(start: date, days: float) -> date:
    """``start`` plus ``days`` rounded up, as promised dates are counted."""
    return start + timedelta(days=math.ceil(days))
