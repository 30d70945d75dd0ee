"""Routing one order through the sourcing tiers: the passes behind :meth:`Router.route`.

The router owns the state; these are its methods for one order, kept in a
module of their own because they are one job: try the single-call path
(one kernel call for the common order), else walk the tiers (each: a single
node when one provably wins, else the full search), live vendors, pickups
and substitutes, then price the pieces and build the decision. They read
and change the router's books only while :meth:`Router._route_locked`
holds its lock.
"""

from __future__ import annotations

import math
from datetime import date
from datetime import timedelta

import msgspec
import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.engine.explain import LazySnapshot
from sourcewise.engine.explain import build_notes
from sourcewise.engine.holds import Held
from sourcewise.engine.holds import Piece
from sourcewise.engine.holds import group_lines
from sourcewise.engine.holds import point_vector
from sourcewise.engine.reasons import OrderMoment
from sourcewise.engine.reasons import order_reasons
from sourcewise.models.decision import Allocation
from sourcewise.models.decision import CostBreakdown
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Explanation
from sourcewise.models.decision import Shipment
from sourcewise.models.decision import Status
from sourcewise.models.decision import TierNote
from sourcewise.models.inventory import MAX_STOCK
from sourcewise.models.order import Order

# no distance or deadline limit
NO_LIMIT = np.inf
# substitutes ranked and cached per SKU; stock is re-checked along this list
SUBSTITUTE_POOL = 24


class NeedVendors(Exception):  # noqa: N818 - a signal inside the router, not an error anyone sees
    """A routing attempt needs live vendor answers it was not given.

    Raised from the live-vendor pass; the router rolls the attempt back, asks
    the vendors outside its lock (so a slow vendor delays no other order) and
    routes the order again with the answers.
    """

    def __init__(self, requests: dict[str, list[str]]):
        super().__init__(requests)
        self.requests = requests


class VendorAnswers:
    """The live vendor answers one order's routing has gathered, round after round.

    ``final`` marks the last round: vendors it still lacks answers from (the
    stock changed while they were asked, so other SKUs went missing) count as
    failed rather than being asked again.
    """

    def __init__(self) -> None:
        self.available: dict[str, dict[str, int]] = {}
        self.failures: dict[str, str] = {}
        self.final = False

    def missing(self, requests: dict[str, list[str]]) -> dict[str, list[str]]:
        """Of ``requests``, what was never asked."""
        out = {}
        for v, skus in requests.items():
            if v in self.failures:
                continue
            got = self.available.get(v, {})
            miss = [s for s in skus if s not in got]
            if miss:
                out[v] = miss
        return out

    def add(self, check) -> None:
        """Fold in the outcome of one :func:`~sourcewise.engine.vendors.check_vendors`."""
        for v, units in check.available.items():
            self.available.setdefault(v, {}).update(units)
        for v, why in check.failures.items():
            if v not in self.available:
                self.failures[v] = why

    def check(self, requests: dict[str, list[str]]):
        """The :class:`~sourcewise.engine.vendors.VendorCheck` these answers give for ``requests``."""
        from sourcewise.engine.vendors import VendorCheck

        available = {v: {s: self.available[v].get(s, 0) for s in skus}
                     for v, skus in requests.items() if v in self.available}
        failures = {v: self.failures.get(v, "not asked: stock changed while vendors were being checked")
                    for v in requests if v not in available}
        return VendorCheck(available, failures)


class TierPasses:
    """The single-order routing passes of :class:`~sourcewise.engine.router.Router` (a mixin: the
    router's attributes are its state)."""

    def _route_simple(self, order: Order, sku_idx: list[int], name: str, code: int) -> Held | str | None:
        """The common case in one kernel call: shipped lines, no delivery
        deadline, and the first tier that applies fills everything from one
        node. Otherwise nothing changes and it returns the name of the tier
        whose single-node search declined (None when it never searched), so
        the full routing does not repeat that search."""
        if code not in (0, 4) or self._gateway is not None:
            return None
        if self._deadlines[order.service_level] >= 0:
            return None
        lines = order.lines
        qtys = []
        for line in lines:
            if line.method != "ship":
                return None
            qtys.append(line.qty)
        channel = order.channel
        for tier, mask, unlimited in self._simple_tiers:
            if tier.channels and channel not in tier.channels:
                continue
            if not unlimited:
                return None
            if len(set(sku_idx)) == len(sku_idx):
                g = np.array(sku_idx + qtys, np.int64)
                G = len(sku_idx)
            else:
                g_sku, g_qty, _ = group_lines(sku_idx, qtys)
                g = np.concatenate((g_sku, g_qty))
                G = len(g_sku)
            # the kernel computes the unit vector; explanations recompute it from these
            # (floats: an int coordinate would compile another kernel)
            dest = (float(order.lat), float(order.lon))
            placed = order.placed_at
            if placed is not None:
                p = self._base_params.copy()
                p[K.P_HOUR] = placed.hour + placed.minute / 60.0
            else:
                p = self._base_params  # the kernels only read it, and the snapshot keeps it as is
            k = self._limit(order.allow_split, order.max_shipments)
            cap_before = (self._cap_orders.copy(), self._cap_units.copy()) if self._limited else None
            fout = self._fout
            if len(fout) < 4 + 2 * G * max(k, 3):
                fout = self._fout = np.empty(4 + 2 * G * max(k, 3))
            # a split is tried here only when lines and groups coincide (the lean builder's premise)
            status, node, n_rows, out, cell = K.route_one(
                dest[0], dest[1], g, k, code, self._lean_splits and G == len(lines), mask, self._inv.sku_ptr,
                self._inv.node, self._sku_bits, self._no_free, self._ibuf, self._fbuf, p, fout, self._geo.cells)
            if status == 1:
                held = self._simple_held(order, name, code, tier.name, k, g[:G], g[G:], node, out, fout, dest,
                                         mask, p, cap_before, placed, sum(qtys))
            elif status == 2:
                held = self._split_held(order, name, code, tier.name, k, g[:G], g[G:], n_rows, out, fout, dest,
                                        mask, p, cap_before, placed)
            else:
                return tier.name
            if cell != 1:
                # the kernel read the destination's cell: only one not cleared whole needs the check
                self._flag_geography(held, order)
            return held
        return None

    # the lean path for orders one tier ships whole in several parcels (tests switch it off to compare)
    _lean_splits = True
    # live vendor answers for the routing attempt under way (see Router.route); None: ask in place
    _answers: VendorAnswers | None = None

    def _flag_geography(self, held: Held, order: Order) -> None:
        """Flag a decision whose destination lies outside every node's country or reach."""
        flags = self._geo.flags(order.lat, order.lon)
        if flags:
            # priced on the domestic model and transit bands: say so
            held.decision = msgspec.structs.replace(held.get(), flags=flags)

    def _route_attempt(self, order: Order, sku_idx: list[int], name: str, code: int, declined: str | None,
                       answers: VendorAnswers | None) -> Held:
        """:meth:`_route_locked` with the vendor answers gathered so far; all or nothing.

        Raises
        ------
        NeedVendors
            When vendors must be asked first; the books are as they were.
        """
        if answers is None:
            held = self._route_locked(order, sku_idx, name, code, free=None, exclude=None, declined=declined)
            self._flag_geography(held, order)
            return held
        caps = self._cap_orders.copy(), self._cap_units.copy()
        self._answers = answers
        try:
            held = self._route_locked(order, sku_idx, name, code, free=None, exclude=None, declined=declined)
            self._flag_geography(held, order)
            return held
        except NeedVendors:
            # _route_locked gave the reservations back; the capacity the attempt took comes back here
            self._cap_orders[:] = caps[0]
            self._cap_units[:] = caps[1]
            raise
        finally:
            self._answers = None

    def _split_held(self, order, name, code, tier_name, k, g_sku, g_qty, n_rows, out, fout, dest, mask, p,
                    cap_before, placed) -> Held:
        """The decision of an order the first tier ships whole in several parcels, reserved by
        :func:`~sourcewise.engine._kernels.route_one`, without the tier machinery: lines and groups coincide."""
        head = len(out) - 4 * n_rows  # the ATP snapshot, then the rows
        flat = out[head:].tolist()
        fl = fout[:4 + 2 * n_rows].tolist()
        lines = order.lines
        node_ids = self._node_ids
        start = placed.date() if placed is not None else self.business_day
        allocations = []
        shipments = []
        last = -1
        items: list = []
        for j in range(n_rows):
            n, g, q = flat[4 * j:4 * j + 3]
            line = lines[g]
            node_id = node_ids[n]
            allocations.append(Allocation(line.line_id, line.sku, node_id, q))
            # rows come node by node
            if n != last:
                items = []
                shipments.append([node_id, 0, fl[4 + 2 * j] * K.MILE_KM, items, fl[5 + 2 * j]])
                last = n
            items.append((line.line_id, q))
            shipments[-1][1] += q
        shipments = tuple([Shipment(nid, units, km, tuple(its), ld, self._due(start, ld), "ship", tier_name)
                           for nid, units, km, its, ld in shipments])
        snapshot = LazySnapshot(self._ctx, tier_name, name, k, g_sku, g_qty, -1, None, out[:head], dest,
                                 mask, p, cap_before[0] if cap_before is not None else None,
                                 cap_before[1] if cap_before is not None else None, code, flat, self.policy)
        split = self.policy.split_penalty * (len(shipments) - 1)
        served = tuple([(ln.line_id, ln.qty) for ln in lines])
        decision = Decision(order.order_id, Status.ROUTED, tuple(allocations), shipments,
                            CostBreakdown(fl[0], fl[1], fl[2], split, fl[3]), name,
                            Explanation(name, snapshot, (TierNote(tier_name, served),)))
        held = Held(decision, out[head + 3::4], out[head + 2::4], None, self.business_day, None, None, None,
                     order, (flat, fl, tier_name))
        self._note_capacity(held, cap_before)
        return held

    def _note_capacity(self, held: Held, cap_before) -> None:
        """Record on ``held`` the capacity this order took today, from the counters before it."""
        if cap_before is not None:
            used = np.flatnonzero((cap_before[0] != self._cap_orders) | (cap_before[1] != self._cap_units))
            held.cap_nodes = used
            held.cap_units = np.stack([cap_before[0][used] - self._cap_orders[used],
                                       cap_before[1][used] - self._cap_units[used]])

    def _simple_held(self, order, name, code, tier_name, k, g_sku, g_qty, node, out, fout, dest, mask, p,
                     cap_before, placed, units) -> Held:
        """The decision and reservation record of an order one node ships whole."""
        G = len(g_sku)
        c0, c1, c2, c3, miles, lead = fout[:6].tolist()
        node_id = self._node_ids[node]
        km = miles * K.MILE_KM
        lines = order.lines
        allocations = tuple([Allocation(line.line_id, line.sku, node_id, line.qty) for line in lines])
        items = tuple([(line.line_id, line.qty) for line in lines])
        start = placed.date() if placed is not None else self.business_day
        shipment = Shipment(node_id, units, km, items, lead, self._due(start, lead), "ship", tier_name)
        # out: the ATP snapshot, then one (node, group, units, entry) row per group, in group order
        head = len(out) - 4 * G
        snapshot = LazySnapshot(self._ctx, tier_name, name, k, g_sku, g_qty, node, g_qty, out[:head], dest, mask, p,
                                 cap_before[0] if cap_before is not None else None,
                                 cap_before[1] if cap_before is not None else None, code, None, self.policy)
        # positional arguments: this runs once per order
        decision = Decision(order.order_id, Status.ROUTED, allocations, (shipment,),
                            CostBreakdown(c0, c1, c2, 0.0, c3), name,
                            Explanation(name, snapshot, (TierNote(tier_name, items),)))
        held = Held(decision, out[head + 3::4], g_qty, None, self.business_day, None, None, None, order,
                     (node, lead, km, tier_name))
        if cap_before is not None:
            held.cap_nodes = np.array([node], np.int64)
            held.cap_units = np.array([[1], [units]], np.int64)
        return held

    def _due(self, start: date, lead: float) -> date:
        """``start`` plus ``lead`` days rounded up (memoised: few distinct pairs recur)."""
        key = (start, lead)
        due = self._due_cache.get(key)
        if due is None:
            if len(self._due_cache) > 4096:
                self._due_cache.clear()
            due = self._due_cache[key] = start + timedelta(days=math.ceil(lead))
        return due

    def _route_locked(self, order: Order, sku_idx: list[int], name: str, code: int, *,
                      free: np.ndarray | None, exclude: int | None, k_override: int | None = None,
                      declined: str | None = None) -> Held:
        """Route every pass of the order and build its decision; roll back on failure.

        The rollback gives back the reservations and today's capacity the
        passes took before the failure (kernels and live vendors both count
        capacity down), so a failed call leaves the books as they were.
        """
        pieces: list[Piece] = []
        # O(nodes) copies, on the full path only: the single-call path never gets here
        cap = (self._cap_orders.copy(), self._cap_units.copy())
        try:
            return self._route_passes(order, sku_idx, name, code, pieces, free, exclude, k_override, declined)
        except BaseException:
            for pc in pieces:
                if pc.entry >= 0:
                    self._reserved[pc.entry] -= pc.qty
            self._cap_orders[:] = cap[0]
            self._cap_units[:] = cap[1]
            raise

    def _route_passes(self, order, sku_idx, name, code, pieces, free, exclude, k_override, declined=None) -> Held:
        net, pol = self.network, self.policy
        lines = order.lines
        g_sku, g_qty, line_group = group_lines(sku_idx, [line.qty for line in lines])
        method_of_group: dict[int, tuple[str, str | None]] = {}
        for line, g in zip(lines, line_group, strict=True):
            method_of_group.setdefault(g, (line.method, line.pickup_node))
        remaining = g_qty.copy()
        dest = point_vector(order.lat, order.lon)
        placed = order.placed_at
        hour = placed.hour + placed.minute / 60.0 if placed is not None else 0.0
        deadline = pol.service.deadline(order.service_level)
        k_total = k_override if k_override is not None else self._limit(order.allow_split, order.max_shipments)
        free_mask = self._no_free if free is None else free
        n_free = 0 if free is None else int(free.sum())
        snapshots: list[LazySnapshot] = []
        tier_notes: list[TierNote] = []
        messages: list[str] = []
        vendor_failures: dict[str, str] = {}
        ships_used = 0
        cap_before = (self._cap_orders.copy(), self._cap_units.copy()) if self._limited else None

        def run(groups, mask, params, k, tier_name, method, dest_vec, cost_params=None):
            nonlocal ships_used
            sel = np.array([g for g in groups if remaining[g] > 0], np.int64)
            if len(sel) == 0 or k <= 0:
                return 0
            p = params if cost_params is None else cost_params
            skus = g_sku[sel]
            want = remaining[sel].copy()
            flags = K.T_RESERVE | K.T_FULL | K.T_SNAP
            if free is not None:
                # nodes already shipping for the order ship for free: no single-node proof holds
                flags |= K.T_NO_FAST
            elif tier_name == declined:
                # the simple path ran this very single-node search a moment ago (same stock, same order)
                flags |= K.T_FAST_TRIED
            # the capacity this call sees, for its explanation (earlier tiers may have taken some)
            caps = (self._cap_orders.copy(), self._cap_units.copy()) if cap_before is not None else (None, None)
            R = K.tier_rows_bound(len(sel), k + n_free, net.n_nodes)
            n_snap = K.snapshot_size(skus, self._inv.sku_ptr)
            out = np.empty(n_snap + 4 * R, np.int64)
            fout = np.empty(4 + 2 * R)
            n_rows, single = K.tier_step(dest_vec, skus, want, k, code, mask, self._inv.sku_ptr, self._inv.node,
                                         self._sku_bits, free_mask, self._ibuf, self._fbuf, p, flags, out, fout)
            rows = out[n_snap:]  # the ATP snapshot comes first
            step, new_ships = step_pieces(rows, fout, n_rows, sel, free_mask, tier_name, method)
            for pc in step:
                remaining[pc.group] -= pc.qty
            pieces.extend(step)
            snapshots.append(LazySnapshot(self._ctx, tier_name, name, k, skus, want, step[0].node if single else -1,
                                          want if single else None, out[:n_snap], dest_vec, mask, p, caps[0],
                                          caps[1], code, None if single else rows[:4 * n_rows].tolist(), None,
                                          None if free is None else free_mask))
            return new_ships

        # ---- shipped lines (ship and same_day) through the tiers
        for method in ("ship", "same_day"):
            groups = [g for g, (m, _) in method_of_group.items() if m == method]
            if not groups:
                continue
            groups = np.array(groups, np.int64)
            params = self._params(order, hour, deadline)
            if method == "same_day":
                # the radius and the cutoff are what make a node same-day; no transit band applies
                params[K.P_REQUIRE_CUTOFF] = 1.0
                params[K.P_MAX_DAYS] = -1.0
            for t, tier in enumerate(pol.tiers):
                if tier.channels and order.channel not in tier.channels:
                    continue
                if not self._tier_nonempty[t]:
                    continue
                if not remaining[groups].any():
                    break
                before = {g: int(remaining[g]) for g in groups}
                k_left = k_total - ships_used
                p = params.copy()
                radius = pol.methods.same_day_radius_km / K.MILE_KM if method == "same_day" else NO_LIMIT
                p[K.P_MAX_MILES] = min(self._tier_miles[t], radius)
                mask = self._tier_masks[t]
                if exclude is not None:
                    mask = mask.copy()
                    mask[exclude] = False
                if k_left <= 0:
                    tier_notes.append(TierNote(tier.name, (), "split limit reached before this tier"))
                    continue
                ships_used += run(groups, mask, p, k_left, tier.name, method, dest)
                if self._gateway is not None and self._tier_has_vendors[t]:
                    ships_used += self._live_vendors(order, groups, g_sku, remaining, pieces, p, dest,
                                                     k_total - ships_used, tier.name, method, vendor_failures,
                                                     code)
                served = served_units(lines, line_group, groups, before, remaining)
                left = sum(int(remaining[g]) for g in groups)
                reason = ""
                if left:
                    reason = (f"{left} unit(s) left: split limit reached" if k_total - ships_used <= 0
                              else f"{left} unit(s) left: no eligible node with enough stock")
                tier_notes.append(TierNote(tier.name, served, reason))

        # ---- pickup lines: sourced at their store, optionally topped up by a transfer
        pickup_nodes = sorted({pn for (m, pn) in method_of_group.values() if m == "pickup"})
        for pn in pickup_nodes:
            groups = [g for g, (m, node) in method_of_group.items() if m == "pickup" and node == pn]
            n = net.node_index[pn]
            store = net.nodes[n]
            node_dest = net.xyz[n].copy()
            before = {g: int(remaining[g]) for g in groups}
            params = self._params(order, hour, -1.0)
            collect = params.copy()
            # the customer collects: no parcel, only the store's handling
            collect[K.P_PER_SHIPMENT] = 0.0
            collect[K.P_PER_UNIT] = 0.0
            collect[K.P_PER_MILE] = 0.0
            if not (store.pickup and store.enabled):
                messages.append(f"pickup at {pn} refused: node does not offer pickup")
            else:
                mask = np.zeros(net.n_nodes, np.bool_)
                mask[n] = True
                run(groups, mask, params, 1, "pickup", "pickup", node_dest, collect)
            short = sum(int(remaining[g]) for g in groups)
            if short and pol.methods.pickup_transfer and store.pickup and store.enabled:
                mask = net.usable.copy()
                mask[n] = False
                if self._tier_masks.shape[0]:
                    mask &= self._tier_masks.any(axis=0)
                tp = params.copy()
                tp[K.P_MAX_MILES] = pol.methods.transfer_radius_km / K.MILE_KM
                run(groups, mask, tp, 1, "transfer", "transfer", node_dest)
            short = sum(int(remaining[g]) for g in groups)
            served = served_units(lines, line_group, groups, before, remaining)
            reason = ""
            if short:
                reason = (f"{short} unit(s) not routable: pickup store {pn} lacks stock"
                          + ("" if pol.methods.pickup_transfer else " and transfers are off"))
            tier_notes.append(TierNote(f"pickup@{pn}", served, reason))

        return self._finish(order, name, k_total, g_sku, g_qty, line_group, remaining, pieces, snapshots,
                            tier_notes, messages, vendor_failures, cap_before)

    def _live_vendors(self, order, groups, g_sku, remaining, pieces, params, dest, k_left, tier_name, method,
                      vendor_failures, code) -> int:
        """Ask vendors with offers for the still-missing SKUs, then route over their answers."""
        from sourcewise.engine.vendors import check_vendors

        if k_left <= 0 or self._offers is None:
            return 0
        net = self.network
        need = [g for g in groups if remaining[g] > 0]
        if not need:
            return 0
        requests: dict[str, list[str]] = {}
        for g in need:
            for v in self._offers.vendors_for(int(g_sku[g])):
                if net.usable[v]:
                    requests.setdefault(net.nodes[v].node_id, []).append(net.skus[g_sku[g]].sku)
        if not requests:
            return 0
        answers = self._answers
        if answers is None:
            # a call that holds the lock throughout (route_many, reroute) asks here
            check = check_vendors(self._gateway, requests, self.policy.vendors.gateway_timeout_s)
        else:
            missing = answers.missing(requests) if not answers.final else None
            if missing:
                raise NeedVendors(missing)
            check = answers.check(requests)
        vendor_failures.update(check.failures)
        # a vendor promising more than any stock entry may hold (int64 arrays below would overflow)
        # answered nonsense: a failed vendor, like any other bad payload, not a failed order
        absurd = {v: sku for v, units in check.available.items() for sku, q in units.items() if q > MAX_STOCK}
        for v, sku in absurd.items():
            vendor_failures[v] = f"bad payload: {sku!r} reported {check.units(v, sku)} units, more than {MAX_STOCK}"
        # a private CSR over the missing SKUs holding the vendors' live answers
        vendors = sorted(net.node_index[v] for v in check.available if v not in absurd)
        if not vendors:
            return 0
        ptr = [0]
        ent_node, on_hand, fee, risk = [], [], [], []
        for g in need:
            sku = net.skus[g_sku[g]].sku
            for v in vendors:
                units = check.units(net.nodes[v].node_id, sku)
                row = self._offers.lookup(v, int(g_sku[g]))
                if units > 0 and row >= 0:
                    ent_node.append(v)
                    on_hand.append(units)
                    fee.append(self._offers.fee_rate[row] * self._offers.price[row])
                    risk.append(self.policy.vendors.unreliability_penalty * (1 - self._offers.reliability[row]))
            ptr.append(len(ent_node))
        if not ent_node:
            return 0
        m = len(ent_node)
        mask = np.zeros(net.n_nodes, np.bool_)
        mask[vendors] = True
        skuf = np.ascontiguousarray(self._skuf[g_sku[need]])
        # the vendors' live stock as a packed state of its own: nothing reserved, no safety stock, and
        # copies of today's capacity and the scratch (this search reserves nothing)
        ibuf, _ = K.pack_ints([np.array(on_hand, np.int64), np.zeros(m, np.int64), np.zeros(m, np.int64),
                               self._cap_orders.copy(), self._cap_units.copy(), self._mark.copy()])
        fbuf, _ = K.pack_floats(ibuf, [self._nodef, skuf, np.array(fee), np.zeros(m), np.array(risk), np.zeros(m),
                                       np.zeros((len(need), 2)), self._bands])
        G = len(need)
        R = K.tier_rows_bound(G, k_left, net.n_nodes)
        out = np.empty(4 * R, np.int64)
        fout = np.empty(4 + 2 * R)
        # the vendors' answers are not the stock the single-node search indexes: the full search only
        n_rows, _ = K.tier_step(dest, np.arange(G, dtype=np.int64), remaining[need].copy(), k_left, code, mask,
                                np.array(ptr, np.int64), np.array(ent_node, np.int64), self._no_bits, self._no_free,
                                ibuf, fbuf, params, K.T_FULL | K.T_NO_FAST, out, fout)
        # vendor stock is held outside our books: the pieces reserve no entry, only capacity
        step, ships = step_pieces(out, fout, n_rows, need, self._no_free, tier_name, method, with_entries=False)
        for pc in step:
            remaining[pc.group] -= pc.qty
            self._cap_units[pc.node] -= pc.qty
        for n in dict.fromkeys(pc.node for pc in step):
            self._cap_orders[n] -= 1
        pieces.extend(step)
        return ships

    def _finish(self, order, name, k, g_sku, g_qty, line_group, remaining, pieces, snapshots, tier_notes,
                messages, vendor_failures, cap_before) -> Held:
        """Split pieces back onto lines, price the order and propose substitutes."""
        net, pol = self.network, self.policy
        lines = order.lines
        left = [line.qty for line in lines]
        allocations: list[Allocation] = []
        ship_lines: dict[tuple[int, str], list] = {}
        for pc in pieces:
            units = pc.qty
            node_id = net.nodes[pc.node].node_id
            for li, line in enumerate(lines):
                if units == 0:
                    break
                if line_group[li] != pc.group or left[li] == 0:
                    continue
                take = units if units < left[li] else left[li]
                left[li] -= take
                units -= take
                allocations.append(Allocation(line.line_id, line.sku, node_id, take))
                key = (pc.node, pc.method)
                if key not in ship_lines:
                    ship_lines[key] = [pc, []]
                ship_lines[key][1].append((line.line_id, take))
        start = order.placed_at.date() if order.placed_at is not None else self.business_day
        shipments = []
        for (n, method), (pc, items) in ship_lines.items():
            lead = max(p.lead for p in pieces if p.node == n and p.method == method)
            if method in ("pickup", "same_day"):
                lead = float(net.processing_days[n])
            shipments.append(Shipment(net.nodes[n].node_id, sum(q for _, q in items),
                                      0.0 if method == "pickup" else pc.km, tuple(items), lead,
                                      start + timedelta(days=math.ceil(lead)), method, pc.tier))
        costs = self._price(pieces, order)
        filled = sum(pc.qty for pc in pieces)
        total = int(g_qty.sum())
        status = Status.ROUTED if filled == total else (Status.UNROUTABLE if filled == 0 else Status.PARTIAL)
        unfilled = tuple((line.line_id, left[i]) for i, line in enumerate(lines) if left[i] > 0)
        substitutes = self._propose(order, lines, left) if unfilled else ()
        # why: only for orders with unfilled units, after the kernels (a routed order pays nothing)
        reasons = self._line_reasons(order, lines, left, k, pieces, vendor_failures) if unfilled else ()
        inv = self._inv

        def build():
            return build_notes(net, inv, pol, snapshots)

        decision = Decision(
            order_id=order.order_id, status=status, allocations=tuple(allocations), shipments=tuple(shipments),
            cost=costs, strategy=name,
            explanation=Explanation(name, build, tuple(tier_notes), tuple(vendor_failures.items()),
                                    tuple(messages)),
            unfilled=unfilled, substitutes=substitutes, reasons=reasons,
        )
        entries = np.array([pc.entry for pc in pieces if pc.entry >= 0], np.int64)
        qty = np.array([pc.qty for pc in pieces if pc.entry >= 0], np.int64)
        held = Held(decision, entries, qty, day=self.business_day, pieces=pieces, order=order)
        self._note_capacity(held, cap_before)
        return held

    def _line_reasons(self, order: Order, lines, left, k: int, pieces: list[Piece],
                      vendor_failures: dict[str, str]) -> tuple:
        """Why each line kept unfilled units, against the stock and capacity left now (this order's included)."""
        placed = order.placed_at
        ships = len({(pc.node, pc.method) for pc in pieces if not pc.free and pc.method != "pickup"})
        moment = OrderMoment(
            point_vector(order.lat, order.lon), placed.hour + placed.minute / 60.0 if placed is not None else 0.0,
            self.policy.service.deadline(order.service_level), order.service_level, order.channel, k, ships,
            {pc.node for pc in pieces}, self._on_hand - self._safety - self._reserved, self._cap_orders,
            self._cap_units, dict(vendor_failures))
        sku_idx = [self.network.sku_index[line.sku] for line in lines]
        return order_reasons(self, lines, left, sku_idx, moment)

    def _price(self, pieces: list[Piece], order: Order) -> CostBreakdown:
        """Real cost of the pieces, over every tier and pass: the kernels' own cost helpers
        (:mod:`sourcewise.engine._kernels.cost`), called from Python."""
        net, pol, params = self.network, self.policy, self._base_params
        shipping = handling = fees = penalties = 0.0
        parcels: dict[tuple[int, str], float] = {}
        deadline = pol.service.deadline(order.service_level)
        w = pol.stores.depletion_weight
        for pc in pieces:
            kg = 0.0
            if pc.entry >= 0:
                kg = net.weight_kg[self._sku_of_entry[pc.entry]]
                fees += pc.qty * self._entry_fee[pc.entry]
                # depletion priced at the ATP the kernel saw, before this order took its units
                atp_before = (self._on_hand[pc.entry] - self._safety[pc.entry] - self._reserved[pc.entry]
                              + pc.qty)
                penalties += pc.qty * K.depletion_cost(self._entry_demand[pc.entry], atp_before, w)
            elif self._offers is not None:
                row = self._offers.lookup(pc.node, self._sku_for_group(pc, order))
                if row >= 0:
                    fees += pc.qty * self._offers.fee_rate[row] * self._offers.price[row]
            if pc.method != "pickup":
                shipping += pc.qty * K.unit_shipping(pc.km / K.MILE_KM, kg, params)
            handling += pc.qty * net.handling_per_unit[pc.node]
            if not pc.free:
                parcels.setdefault((pc.node, pc.method), pc.lead)
        for (n, method), lead in parcels.items():
            handling += net.handling_per_shipment[n]
            if method != "pickup":
                shipping += params[K.P_PER_SHIPMENT]
            if method in ("ship", "same_day"):
                penalties += K.late_cost(lead, deadline, params)
        n_parcels = sum(1 for (_, m) in parcels if m != "pickup")
        split = pol.split_penalty * max(0, n_parcels - 1)
        return CostBreakdown(float(shipping), float(handling), float(fees), float(split), float(penalties))

    def _sku_for_group(self, pc: Piece, order: Order) -> int:
        # only live-vendor pieces reach here; their group indexes the order's merged SKUs
        seen: list[str] = []
        for line in order.lines:
            if line.sku not in seen:
                seen.append(line.sku)
        return self.network.sku_index[seen[pc.group]]

    def _propose(self, order: Order, lines, left) -> tuple:
        pol = self.policy
        if not (pol.substitutes.enabled and order.allow_substitutes and pol.substitutes.max_proposals):
            return ()
        from sourcewise.engine.substitutes import SubstituteIndex
        from sourcewise.engine.substitutes import propose

        if self._substitutes is None:
            self._substitutes = SubstituteIndex.empty(self.network)
        inv = self._inv
        own = self._tier_masks.any(axis=0)

        def has_stock(s: int) -> bool:
            lo, hi = inv.sku_ptr[s], inv.sku_ptr[s + 1]
            atp = self._on_hand[lo:hi] - self._safety[lo:hi] - self._reserved[lo:hi]
            return bool(((atp > 0) & own[inv.node[lo:hi]]).any())

        out = []
        k = pol.substitutes.max_proposals
        for i, line in enumerate(lines):
            if left[i] <= 0:
                continue
            s = self.network.sku_index[line.sku]
            # Similarity never changes, only stock does: rank once per SKU (scoring
            # the whole catalogue) and re-check stock along the cached ranking.
            ranked = self._sub_cache.get(s)
            if ranked is None:
                ranked = self._sub_cache[s] = propose(self._substitutes, s, lambda j: True, SUBSTITUTE_POOL)
            props = [(j, sc) for j, sc in ranked if has_stock(j)][:k]
            if len(props) < k and len(ranked) == SUBSTITUTE_POOL:
                props = propose(self._substitutes, s, has_stock, k)
            if props:
                out.append((line.line_id, tuple((self.network.skus[j].sku, float(sc)) for j, sc in props)))
        return tuple(out)


def step_pieces(out: np.ndarray, fout: np.ndarray, n_rows: int, groups, free: np.ndarray, tier: str, method: str,
                with_entries: bool = True) -> tuple[list[Piece], int]:
    """The pieces of the plan :func:`~sourcewise.engine._kernels.tier_step` wrote, and the parcels it adds.

    ``groups`` maps the step's group positions to the order's groups; a
    node in ``free`` already ships for the order, so it adds no parcel.
    Without ``with_entries`` the pieces hold no inventory entry (live vendor
    stock, outside our books).
    """
    rows = out[:4 * n_rows].tolist()
    fl = fout[4:4 + 2 * n_rows].tolist()
    pieces = []
    parcels = 0
    last = -1
    for j in range(n_rows):
        n, jj, q, e = rows[4 * j:4 * j + 4]
        is_free = bool(free[n])
        pieces.append(Piece(int(groups[jj]), n, e if with_entries else -1, q, fl[2 * j + 1], fl[2 * j] * K.MILE_KM,
                            tier, method, is_free))
        # rows come node by node: a new node is a new parcel unless it ships for free
        if n != last:
            last = n
            parcels += not is_free
    return pieces, parcels


def served_units(lines, line_group, groups, before, remaining) -> tuple[tuple[str, int], ...]:
    """Units a tier served, reported against the first line of each merged group."""
    out = []
    for g in groups:
        got = before[g] - int(remaining[g])
        if got:
            lid = next(line.line_id for line, lg in zip(lines, line_group, strict=True) if lg == g)
            out.append((lid, got))
    return tuple(out)
