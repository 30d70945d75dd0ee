"""Every state-changing router call, valid and adversarial, against an independent model of the stock.

A hypothesis :class:`RuleBasedStateMachine` drives ``route``, ``route_many``,
``release``, ``commit``, ``commit_many``, ``reroute``, ``adjust_stock``,
``adjust_stock_many``, ``set_business_day`` and the swaps that re-optimization
makes (``reoptimize`` -> ``swap_plans``) on a small random network. The test
keeps its own books: on-hand per (node, SKU) and the units each open order
holds, taken from the decisions the router returns (never from its internals).
It predicts which calls must be refused; after every step it checks that the
router's books equal the model's, that nothing is below zero (on-hand,
reservations, on-hand net of reservations, ATP), that capacity stays within
its limits, and that a call that raised changed nothing at all.
"""

from __future__ import annotations

import math
import os
import tempfile
from datetime import date
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule

from sourcewise.engine.durable import bare
from sourcewise.engine.optimize import reoptimize
from sourcewise.engine.router import ReservationError
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderConflict
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models import StorePolicy
from sourcewise.models import ValidationError
from sourcewise.models.inventory import MAX_STOCK
from sourcewise.models.network import UNLIMITED
from sourcewise.models.tables import OrderBatch
from tests.pg import fresh_database

DAY = date(2026, 5, 4)
NODES = ("WH", "ST", "VN")
SKUS = ("A", "B", "C")
DEST = (40.71, -74.01)

# arguments no call may accept as a number of units
NOT_UNITS = st.sampled_from([True, False, 0.5, -0.5, 2.0, math.nan, math.inf, "2", None, [1], np.float64(1.0)])
# integers at and past the bounds: refused as a delta or shortfall that big
HUGE = st.sampled_from([MAX_STOCK, MAX_STOCK + 1, -MAX_STOCK - 1, 2**63, -(2**63), 10**30])


def _alloc(decision) -> dict[tuple[str, str], int]:
    """Units per (node, SKU) a decision allocates: what the order holds while open."""
    out: dict[tuple[str, str], int] = {}
    for a in decision.allocations:
        out[(a.node_id, a.sku)] = out.get((a.node_id, a.sku), 0) + a.qty
    return out


class RouterMachine(RuleBasedStateMachine):
    """The router under every call, with the model's books beside it."""

    # with a SQLite ledger (DurableRouterMachine): the router may also crash and be recovered
    STORE = False
    PEERS = False  # a second router on the same (shared) ledger serves calls in turn

    @staticmethod
    def new_url() -> str:
        return f"sqlite:///{tempfile.mkdtemp()}/ledger.db"

    # ------------------------------------------------------------ set-up
    @initialize(data=st.data())
    def build(self, data: st.DataObject) -> None:
        cap = st.sampled_from([None, 1, 2, 3, 6])
        nodes = [Node("WH", "warehouse", 40.0, -75.5, capacity_orders=data.draw(cap, "wh_orders"),
                      capacity_units=data.draw(cap, "wh_units")),
                 Node("ST", "store", 40.72, -74.0, pickup=True, capacity_orders=data.draw(cap, "st_orders")),
                 Node("VN", "vendor", 41.88, -87.63, capacity_units=data.draw(cap, "vn_units"))]
        net = Network.build(nodes, [Sku(s, 1.0, 10.0) for s in SKUS])
        records = []
        for n in NODES:
            for s in SKUS:
                if data.draw(st.integers(0, 4), f"has {n}/{s}"):  # about one pair in five is not stocked
                    on_hand = data.draw(st.integers(0, 6), f"on_hand {n}/{s}")
                    safety = data.draw(st.integers(0, min(1, on_hand)), f"safety {n}/{s}")
                    records.append(StockRecord(n, s, on_hand, safety))
        if not records:
            records.append(StockRecord("WH", "A", 3))
        inv = Inventory.from_records(net, records)
        self.url = self.new_url() if self.STORE else None
        self.peer = None
        self.router = Router(net, inv, Policy(stores=StorePolicy(protect_units=0, depletion_weight=0.0)),
                             business_day=DAY, store=self.url)
        # the model's books
        self.on_hand = {(r.node_id, r.sku): r.on_hand for r in records}
        self.safety = {(r.node_id, r.sku): r.safety_stock for r in records}
        sku_of = np.repeat(np.arange(net.n_skus), np.diff(inv.sku_ptr))
        self.entry_key = [(net.nodes[n].node_id, net.skus[s].sku) for n, s in zip(inv.node, sku_of, strict=True)]
        self.limits = {n.node_id: (n.capacity_orders or UNLIMITED, n.capacity_units or UNLIMITED) for n in nodes}
        self.holds: dict[str, dict[tuple[str, str], int]] = {}  # open order -> units per (node, SKU)
        self.how: dict[str, str] = {}  # open order -> "route", "fast" or "slow" (route_many's paths)
        self.content: dict[str, Order] = {}  # every open or committed order as routed
        self.committed: set[str] = set()
        self.day = DAY
        self.next_id = 0

    # ------------------------------------------------------------ helpers
    def state(self) -> dict:
        """Everything a call may change, as the router reports it."""
        r = self.router
        snap = r.snapshot()
        return {
            "on_hand": snap.on_hand.tolist(),
            "reserved": snap.reserved.tolist(),
            "capacity": [r.capacity_left(n) for n in NODES],
            "day": r.business_day,
            "open": r.open_orders,
            "decisions": {oid: self.bare(r.decision(oid)) for oid in self.content},
        }

    def bare(self, decision):
        """With a ledger, decisions compare without their explanations (the ledger keeps none)."""
        return bare(decision) if self.STORE and decision is not None else decision

    def refused(self, errors, call, *args, **kwargs) -> None:
        """``call`` must raise one of ``errors`` and change nothing."""
        before = self.state()
        with pytest.raises(errors):
            call(*args, **kwargs)
        assert self.state() == before
        event(f"refused: {getattr(call, '__name__', call)}")

    def reserved(self) -> dict[tuple[str, str], int]:
        out = dict.fromkeys(self.on_hand, 0)
        for held in self.holds.values():
            for key, q in held.items():
                out[key] += q
        return out

    def new_id(self) -> str:
        self.next_id += 1
        return f"o{self.next_id}"

    def draw_lines(self, data: st.DataObject, oid: str) -> tuple[OrderLine, ...]:
        n = data.draw(st.integers(1, 3), "n_lines")
        lines = []
        for i in range(n):
            sku = data.draw(st.sampled_from(SKUS), "sku")
            qty = data.draw(st.integers(1, 4), "qty")
            if data.draw(st.integers(0, 5), "pickup?") == 0:
                lines.append(OrderLine(f"{oid}-{i}", sku, qty, "pickup", "ST"))
            else:
                lines.append(OrderLine(f"{oid}-{i}", sku, qty))
        return tuple(lines)

    def draw_new_order(self, data: st.DataObject) -> Order:
        oid = self.new_id()
        return Order(oid, self.draw_lines(data, oid), *DEST, max_shipments=data.draw(st.sampled_from([None, 1, 2])))

    def entry_free(self, key: tuple[str, str]) -> int:
        return self.on_hand[key] - self.reserved()[key]

    # ------------------------------------------------------------ routing
    @rule(data=st.data())
    def route_new(self, data: st.DataObject) -> None:
        order = self.draw_new_order(data)
        d = self.router.route(order)
        assert d.order_id == order.order_id
        assert order.order_id in self.router.open_orders
        self.holds[order.order_id] = _alloc(d)
        self.how[order.order_id] = "route"
        self.content[order.order_id] = order

    @precondition(lambda self: self.content)
    @rule(data=st.data())
    def route_again(self, data: st.DataObject) -> None:
        """An id that is open or committed: the same content answers, different content conflicts."""
        oid = data.draw(st.sampled_from(sorted(self.content)), "oid")
        old = self.content[oid]
        same = Order(oid, tuple(OrderLine(x.line_id, x.sku, x.qty, x.method, x.pickup_node) for x in old.lines),
                     old.lat, old.lon, max_shipments=old.max_shipments)
        before = self.state()
        assert self.bare(self.router.route(same)) == self.bare(self.router.decision(oid))
        assert self.state() == before
        first = old.lines[0]
        changed = data.draw(st.sampled_from([
            Order(oid, (OrderLine(first.line_id, first.sku, first.qty + 1, first.method, first.pickup_node),
                        *old.lines[1:]), old.lat, old.lon, max_shipments=old.max_shipments),
            Order(oid, old.lines, old.lat + 1.0, old.lon, max_shipments=old.max_shipments),
            Order(oid, (*old.lines, OrderLine("extra", "A", 1)), old.lat, old.lon, max_shipments=old.max_shipments),
            Order(oid, (OrderLine(first.line_id, "NOPE", 1),), old.lat, old.lon),
        ]), "changed")
        self.refused(OrderConflict, self.router.route, changed)

    @rule(data=st.data())
    def route_unknown_sku(self, data: st.DataObject) -> None:
        oid = self.new_id()
        order = Order(oid, (*self.draw_lines(data, oid), OrderLine("bad", "NOPE", 1)), *DEST)
        self.refused(ValidationError, self.router.route, order)

    @rule(data=st.data())
    def route_many(self, data: st.DataObject) -> None:
        orders = [self.draw_new_order(data) for _ in range(data.draw(st.integers(1, 3), "n_orders"))]
        spoil = data.draw(st.sampled_from(["none", "none", "repeat", "existing", "unknown_sku", "qty"]), "spoil")
        if spoil == "repeat":
            orders.append(orders[0])
        elif spoil == "existing" and self.content:
            old = self.content[data.draw(st.sampled_from(sorted(self.content)), "existing")]
            orders.append(old)
        elif spoil == "unknown_sku":
            orders.append(Order(self.new_id(), (OrderLine("x", "NOPE", 1),), *DEST))
        elif spoil == "qty":
            from sourcewise.engine.batch import batch_from_orders

            batch = batch_from_orders(self.router.network, orders)
            qty = batch.qty.copy()
            qty[data.draw(st.integers(0, len(qty) - 1), "line")] = data.draw(
                st.sampled_from([0, -1, 2**41, 2**62, 2**63 - 1]), "bad_qty")
            bad = OrderBatch(**{**batch.__dict__, "qty": qty})
            self.refused(ValidationError, self.router.route_many, bad)
            return
        if spoil in ("repeat", "existing", "unknown_sku") and (spoil != "existing" or self.content):
            self.refused(ValidationError, self.router.route_many, orders)
            return
        res = self.router.route_many(orders)
        slow = any(x.method != "ship" for o in orders for x in o.lines)
        rows = res.allocations
        for o in orders:
            mine = rows[rows["order_id"] == o.order_id]
            held: dict[tuple[str, str], int] = {}
            for n, s, q in zip(mine["node_id"], mine["sku"], mine["qty"].tolist(), strict=True):
                held[(n, s)] = held.get((n, s), 0) + q
            assert held == _alloc(self.router.decision(o.order_id))
            self.holds[o.order_id] = held
            self.how[o.order_id] = "slow" if slow else "fast"
            self.content[o.order_id] = o

    # ------------------------------------------------------------ reservations
    def pick_id(self, data: st.DataObject) -> str:
        pool = sorted(self.holds) + sorted(self.committed) + ["ghost"]
        return data.draw(st.sampled_from(pool), "oid")

    def pick_open(self, data: st.DataObject, call) -> str | None:
        """An id for ``call`` (release or commit): one that is not open must be refused, changing nothing."""
        oid = self.pick_id(data)
        if oid not in self.holds:
            self.refused(ReservationError, call, oid)
            return None
        return oid

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        oid = self.pick_open(data, self.router.release)
        if oid is None:
            return
        self.router.release(oid)
        del self.holds[oid], self.how[oid], self.content[oid]

    def _commit_model(self, oid: str) -> None:
        for key, q in self.holds.pop(oid).items():
            self.on_hand[key] -= q
        del self.how[oid]
        self.committed.add(oid)

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        oid = self.pick_open(data, self.router.commit)
        if oid is None:
            return
        d = self.router.commit(oid)
        assert self.bare(d) == self.bare(self.router.decision(oid))
        self._commit_model(oid)

    @rule(data=st.data())
    def commit_many(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.holds) or ["ghost"]), max_size=4, unique=True), "ids")
        spoil = data.draw(st.sampled_from(["none", "none", "repeat", "unknown", "committed"]), "spoil")
        if spoil == "repeat" and ids:
            ids = [*ids, ids[0]]
            self.refused(ValidationError, self.router.commit_many, ids)
            return
        if spoil == "unknown":
            ids = [*ids, "ghost-2"]
        elif spoil == "committed" and self.committed:
            ids = [*ids, sorted(self.committed)[0]]
        if any(oid not in self.holds for oid in ids):
            self.refused(ReservationError, self.router.commit_many, ids)
            return
        assert self.router.commit_many(ids) == len(ids)
        for oid in ids:
            self._commit_model(oid)

    @rule(data=st.data())
    def reroute(self, data: st.DataObject) -> None:
        # mostly a node that ships for a re-routable order (else nearly every call is refused)
        targets = sorted((o, n) for o in self.holds if self.how[o] != "fast" for (n, _), q in self.holds[o].items() if q)
        if targets and data.draw(st.integers(0, 3), "targeted?"):
            oid, node = data.draw(st.sampled_from(targets), "target")
            kinds = ["none", "int", "map", "map", "bad", "huge", "negative"]
        else:
            oid = self.pick_id(data)
            node = data.draw(st.sampled_from([*NODES, "NOPE"]), "node")
            kinds = ["none", "int", "map", "bad", "huge", "negative", "bad_key"]
        order = self.content.get(oid)
        line_ids = [x.line_id for x in order.lines] if order is not None else []
        choice = [*line_ids, "zz"]
        if kinds[-1] != "bad_key":  # targeted: the lines the node ships
            choice = [x.line_id for x in order.lines if self.holds[oid].get((node, x.sku))]
        lines = data.draw(st.none() | st.lists(st.sampled_from(choice), min_size=1, max_size=3), "lines")
        kind = data.draw(st.sampled_from(kinds), "kind")
        shortfall: object = None
        if kind == "int":
            shortfall = data.draw(st.integers(0, 4), "units")
        elif kind == "map":
            shortfall = data.draw(st.dictionaries(st.sampled_from(SKUS), st.integers(0, 4), max_size=3), "units")
        elif kind == "bad":
            shortfall = data.draw(NOT_UNITS | st.dictionaries(st.sampled_from(SKUS), NOT_UNITS, min_size=1), "bad")
        elif kind == "huge":
            shortfall = data.draw(HUGE, "huge")
        elif kind == "negative":
            shortfall = data.draw(st.integers(-10, -1), "neg")
        elif kind == "bad_key":
            shortfall = {"NOPE": 1}
        if oid not in self.holds:
            self.refused(ReservationError, self.router.reroute, oid, node, lines, shortfall)
            return
        # what the router must do, predicted from the model's books
        wanted = set(line_ids if lines is None else lines)
        wanted_skus = {x.sku for x in order.lines if x.line_id in wanted}
        held = self.holds[oid]
        hit = {s: q for (n, s), q in held.items() if n == node and s in wanted_skus}
        reserved = self.reserved()
        ok = self.how[oid] != "fast" and node in NODES and wanted <= set(line_ids) and bool(hit)
        miss: dict[str, int | None] = dict.fromkeys(hit)
        if ok and shortfall is not None:
            given = shortfall.items() if isinstance(shortfall, dict) else [(s, shortfall) for s in hit]
            for s, m in given:
                if s not in hit or isinstance(m, bool) or not isinstance(m, int) or m < 0:
                    ok = False
                    continue
                others = reserved[(node, s)] - hit[s]
                if m > self.on_hand[(node, s)] - others:
                    ok = False
                miss[s] = m
        if not ok:
            self.refused(ValidationError, self.router.reroute, oid, node, lines, shortfall)
            return
        d = self.router.reroute(oid, node, lines, shortfall)
        event(f"re-routed (shortfall {kind})")
        for s, m in miss.items():
            key = (node, s)
            others = reserved[key] - hit[s]
            self.on_hand[key] = min(self.on_hand[key], others + self.safety[key]) if m is None else self.on_hand[key] - m
        self.holds[oid] = _alloc(d)
        if all(x.method == "ship" for x in order.lines):
            # shipped lines move off the node (a pickup line is sourced at its store again)
            assert all(q == 0 for (n, s), q in _alloc(d).items() if n == node and s in hit)

    # ------------------------------------------------------------ stock
    @rule(data=st.data())
    def adjust_stock(self, data: st.DataObject) -> None:
        node = data.draw(st.sampled_from([*NODES, "NOPE"]), "node")
        sku = data.draw(st.sampled_from([*SKUS, "NOPE"]), "sku")
        delta = data.draw(st.integers(-8, 8) | st.integers(-8, 8).map(np.int64) | NOT_UNITS | HUGE
                          | st.sampled_from([MAX_STOCK // 2, MAX_STOCK - 6]), "delta")
        key = (node, sku)
        valid = not isinstance(delta, bool) and isinstance(delta, int | np.integer) and abs(int(delta)) <= MAX_STOCK
        if (key not in self.on_hand or not valid or int(delta) > MAX_STOCK - self.on_hand[key]
                or -int(delta) > self.on_hand[key]):  # below zero is refused, not floored
            self.refused(ValidationError, self.router.adjust_stock, node, sku, delta)
            return
        delta = int(delta)
        want = -min(-delta, max(0, self.entry_free(key))) if delta < 0 else delta
        assert self.router.adjust_stock(node, sku, delta) == want
        self.on_hand[key] += want

    @rule(data=st.data())
    def adjust_stock_many(self, data: st.DataObject) -> None:
        nnz = len(self.entry_key)
        entries = data.draw(st.lists(st.integers(0, nnz - 1), max_size=4), "entries")
        deltas = data.draw(st.lists(st.integers(-8, 8), min_size=len(entries), max_size=len(entries)), "deltas")
        spoil = data.draw(st.sampled_from(["none", "none", "float", "bool", "out_of_range", "ragged", "huge",
                                           "overflow"]), "spoil")
        e, d = np.array(entries, np.int64), np.array(deltas, np.int64)
        if spoil != "none" and entries:
            if spoil == "float":
                d = d.astype(np.float64) + 0.5
            elif spoil == "bool":
                d = d != 0
            elif spoil == "out_of_range":
                e[0] = data.draw(st.sampled_from([-1, nnz, 2**40]), "bad_entry")
            elif spoil == "ragged":
                d = d[1:]
            elif spoil == "huge":
                d = np.array([*deltas[1:], 0], np.int64)
                d[0] = data.draw(st.sampled_from([MAX_STOCK + 1, -MAX_STOCK - 1, 2**63 - 1]), "huge")
            elif spoil == "overflow":  # the same entry twice, each row within bounds, together past them
                e, d = np.array([e[0], e[0]]), np.array([MAX_STOCK // 2 + 1, MAX_STOCK // 2 + 1])
            self.refused(ValidationError, self.router.adjust_stock_many, e, d)
            return
        want = []
        now = dict(self.on_hand)
        res = self.reserved()
        for j, x in zip(entries, deltas, strict=True):
            key = self.entry_key[j]
            if x < 0:
                x = -min(-x, max(0, now[key] - res[key]))
            now[key] += x
            want.append(x)
        if any(v > MAX_STOCK for v in now.values()):  # after an adjust_stock near the bound
            self.refused(ValidationError, self.router.adjust_stock_many, e, d)
            return
        assert self.router.adjust_stock_many(e, d).tolist() == want
        self.on_hand = now

    # ------------------------------------------------------------ days and swaps
    @rule(data=st.data())
    def set_business_day(self, data: st.DataObject) -> None:
        step = data.draw(st.sampled_from([-1, 0, 1, 1, 2, "bad"]), "step")
        if step == "bad":
            bad = data.draw(st.sampled_from([None, "2026-05-05", 20260505, np.datetime64("2026-05-05")]), "bad")
            self.refused(ValidationError, self.router.set_business_day, bad)
            return
        day = self.day + timedelta(days=step)
        if step < 0:
            self.refused(ValidationError, self.router.set_business_day, day)
            return
        before = self.state()
        self.router.set_business_day(day)
        if step == 0:
            assert self.state() == before
            return
        self.day = day
        # a new day: every counter starts full
        assert {n: self.router.capacity_left(n) for n in NODES} == self.limits

    @precondition(lambda self: any(all(x.method == "ship" for x in self.content[o].lines) for o in self.holds))
    @rule(data=st.data())
    def reoptimize(self, data: st.DataObject) -> None:
        ship_only = [o for o in sorted(self.holds) if all(x.method == "ship" for x in self.content[o].lines)]
        ids = data.draw(st.lists(st.sampled_from(ship_only), min_size=1, max_size=4, unique=True), "ids")
        spoil = data.draw(st.sampled_from(["none", "none", "repeat", "unknown"]), "spoil")
        if spoil != "none":
            self.refused(ValidationError, reoptimize, self.router, [*ids, ids[0] if spoil == "repeat" else "ghost"],
                         time_limit=5.0, orders=[self.content[o] for o in ids])
            return
        before = self.state()
        out = reoptimize(self.router, ids, time_limit=5.0, orders=[self.content[o] for o in ids])
        if not out.applied:
            assert self.state() == before
            return
        event("re-optimization swapped plans")
        for oid in ids:
            self.holds[oid] = _alloc(self.router.decision(oid))

    @precondition(lambda self: self.STORE)
    @rule()
    def crash_and_recover(self) -> None:
        """The process dies after the last acknowledged call; a new one recovers from the ledger."""
        before = self.state()
        hist = {oid: [(e.kind, e.why, e.decision and e.decision.allocations) for e in self.router.history(oid)]
                for oid in before["decisions"]}
        self.router.close()
        self.router = Router.recover(self.url)
        after = self.state()
        for oid, d in before["decisions"].items():
            a = after["decisions"][oid]
            if d != a:
                raise AssertionError(f"{oid}: {hist[oid]} " + "; ".join(f"{f}: {getattr(d, f)!r} != {getattr(a, f)!r}"
                                                          for f in d.__struct_fields__ if getattr(d, f) != getattr(a, f)))
        assert after == before
        event("recovered from the ledger")

    @precondition(lambda self: self.PEERS)
    @rule()
    def another_process_serves(self) -> None:
        """From now on the other router on the shared ledger takes the calls (it sees every change)."""
        if self.peer is None:
            self.peer = Router.recover(self.url)
        self.router, self.peer = self.peer, self.router
        event("the other process serves")

    def teardown(self) -> None:
        if hasattr(self, "router"):
            self.router.close()
        if getattr(self, "peer", None) is not None:
            self.peer.close()

    # ------------------------------------------------------------ invariants
    @invariant()
    def books_agree_and_nothing_is_below_zero(self) -> None:
        if not hasattr(self, "router"):
            return
        r = self.router
        snap = r.snapshot()
        reserved = self.reserved()
        for j, key in enumerate(self.entry_key):
            assert snap.on_hand[j] == self.on_hand[key], key
            assert snap.reserved[j] == reserved[key], key
            assert snap.reserved[j] >= 0 and snap.on_hand[j] >= snap.reserved[j], key
            atp = r.atp(*key)
            assert atp >= 0 and atp == max(0, self.on_hand[key] - self.safety[key] - reserved[key]), key
        assert set(r.open_orders) == set(self.holds)
        for oid in self.committed:
            assert r.decision(oid) is not None

    @invariant()
    def capacity_stays_within_its_limits(self) -> None:
        if not hasattr(self, "router"):
            return
        for n in NODES:
            left_o, left_u = self.router.capacity_left(n)
            lim_o, lim_u = self.limits[n]
            if lim_o < UNLIMITED:
                assert 0 <= left_o <= lim_o, (n, left_o, lim_o)
            if lim_u < UNLIMITED:
                assert 0 <= left_u <= lim_u, (n, left_u, lim_u)


# CI runs 60 programs of 30 steps (a few seconds); SM_EXAMPLES=2000 searches harder (about a minute)
RouterMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("SM_EXAMPLES", "60")), stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_router_state_machine = RouterMachine.TestCase


class DurableRouterMachine(RouterMachine):
    """The same calls with a SQLite ledger behind the router, and crashes with recovery between them."""

    STORE = True


DurableRouterMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("SM_EXAMPLES", "40")), stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_durable_router_state_machine = DurableRouterMachine.TestCase


class PostgresRouterMachine(RouterMachine):
    """The same calls on a PostgreSQL ledger shared by two routers, as two processes would, served in
    turn; crashes and recovery between them."""

    STORE = True
    PEERS = True

    @staticmethod
    def new_url() -> str:
        return fresh_database()


PostgresRouterMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("SM_EXAMPLES", "30")), stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_postgres_router_state_machine = PostgresRouterMachine.TestCase
