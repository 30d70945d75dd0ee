"""All or nothing: a state-changing call that raises leaves the router exactly as it was.

One regression test per defect of issue 17 ("A failed call changes state"),
plus the idempotency rules (the same order id again: same content returns the
decision, different content is an :class:`OrderConflict`). Every test compares
the router's whole state before and after a refused call with :func:`state`.
"""

from __future__ import annotations

import json
import math
from datetime import date
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

import sourcewise
from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.router import MAX_STOCK
from sourcewise.engine.router import ReservationError
from sourcewise.engine.router import Router
from sourcewise.engine.vendors import VendorOffers
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models import StorePolicy
from sourcewise.models import ValidationError
from sourcewise.models import VendorPolicy
from sourcewise.models.errors import OrderConflict
from sourcewise.models.network import UNLIMITED_FROM
from sourcewise.models.order import MAX_QTY
from tests.engine.adapters import load
from tests.engine.adapters.test_fuzz import session_for

NYC = (40.71, -74.01)
DAY = date(2026, 5, 4)


def state(r: Router) -> dict:
    """Everything a call may change: stock, reservations, capacity, the day, open and committed decisions.

    Counters of nodes without a limit (from ``UNLIMITED_FROM`` up) count down and are never given
    back (nothing reads them); they compare as ``"unlimited"``.
    """
    snap = r.snapshot()
    return {
        "on_hand": snap.on_hand.tolist(),
        "reserved": snap.reserved.tolist(),
        "capacity": {n.node_id: tuple(c if c < UNLIMITED_FROM else "unlimited" for c in r.capacity_left(n.node_id))
                     for n in r.network.nodes},
        "day": r.business_day,
        "open": r.open_orders,
        "decisions": {oid: r.decision(oid) for oid in (*r.open_orders, *COMMITTED.get(id(r), ()))},
    }


# ids committed per router, so that state() also compares their decisions
COMMITTED: dict[int, tuple[str, ...]] = {}


def _order(oid: str, *lines: tuple[str, int], **kw) -> Order:
    return Order(oid, tuple(OrderLine(str(i + 1), s, q) for i, (s, q) in enumerate(lines)), *NYC, **kw)


def _store_router(**node_kw) -> Router:
    """A store near the customer (4 of A, 3 of B) and a warehouse (5 of A, 5 of B) behind it."""
    nodes = [Node("ST", "store", 40.72, -74.0, **node_kw), Node("WH", "warehouse", 40.0, -75.5, **node_kw)]
    net = Network.build(nodes, [Sku("A", 1.0, 10.0), Sku("B", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("ST", "A", 4), StockRecord("ST", "B", 3),
                                       StockRecord("WH", "A", 5), StockRecord("WH", "B", 5)])
    return Router(net, inv, Policy(stores=StorePolicy(depletion_weight=0.0, protect_units=0)), business_day=DAY)


# ------------------------------------------------------------------ reroute
@pytest.mark.parametrize("shortfall", [
    "x", "two", float("nan"), 1.5, 2.0, True, -1, -(2**62), 10**30, [1], {"C": 1}, {"B": 1}, {"A": "x"},
    {"A": -1}, {"A": 5}, {"A": float("nan")}, 5,
], ids=repr)
def test_reroute_with_a_bad_shortfall_changes_nothing(shortfall):
    # the order holds 2 of A at ST (on hand 4): 4 is the bound, B is not in the rejected lines
    r = _store_router()
    d = r.route(_order("o", ("A", 2)))
    assert [s.node_id for s in d.shipments] == ["ST"]
    r.route(_order("p", ("B", 1)))
    before = state(r)
    with pytest.raises(ValidationError, match="shortfall"):
        r.reroute("o", "ST", shortfall=shortfall)
    assert state(r) == before
    # the order's units are still its own: the next order cannot take them
    assert r.route(_order("q", ("A", 3))).allocations[0].node_id == "WH"


def test_reroute_shortfall_is_bounded_by_what_other_orders_hold_at_the_node():
    r = _store_router()
    r.route(_order("o", ("A", 2)))
    r.route(_order("p", ("A", 1)))  # also at ST: 3 of its 4 units reserved
    before = state(r)
    with pytest.raises(ValidationError, match="at most 3"):
        r.reroute("o", "ST", shortfall=4)  # would leave p holding a unit that no longer exists
    assert state(r) == before
    d = r.reroute("o", "ST", shortfall={"A": 3})
    assert [(a.node_id, a.qty) for a in d.allocations] == [("WH", 2)]
    snap = r.snapshot()
    assert snap.on_hand[0] == 1 and snap.reserved[0] == 1  # p's unit is still there
    r.commit("p")
    assert (r.snapshot().on_hand >= 0).all()


def test_negative_shortfall_creates_no_stock():
    r = _store_router()
    r.route(_order("o", ("A", 2)))
    before = state(r)
    with pytest.raises(ValidationError):
        r.reroute("o", "ST", shortfall=-1000)
    assert state(r) == before and r.snapshot().on_hand[0] == 4


def test_reroute_of_an_unknown_line_or_node_changes_nothing():
    r = _store_router()
    r.route(_order("o", ("A", 2)))
    before = state(r)
    for kw in ({"rejected_node": "NOPE"}, {"rejected_node": "WH"}, {"rejected_node": "ST", "lines": ["9"]}):
        with pytest.raises(ValidationError):
            r.reroute("o", **kw)
        assert state(r) == before
    with pytest.raises(ReservationError):
        r.reroute("nobody", "ST")
    assert state(r) == before


@pytest.mark.parametrize("where", ["route", "finish"])
def test_reroute_failing_part_way_restores_everything(where, monkeypatch):
    r = _store_router(capacity_orders=10, capacity_units=50)
    r.route(_order("o", ("A", 2), ("B", 1)))
    before = state(r)
    record = r._open["o"]
    real_route, real_finish = Router._route_locked, Router._finish

    def failing_route(self, *a, **kw):
        if kw.get("exclude") is not None:  # only the re-route's pass
            raise RuntimeError("boom")
        return real_route(self, *a, **kw)

    def failing_finish(self, *a):
        if any("re-routed" in m for m in a[10]):
            raise RuntimeError("boom")
        return real_finish(self, *a)

    if where == "route":
        monkeypatch.setattr(Router, "_route_locked", failing_route)
    else:
        monkeypatch.setattr(Router, "_finish", failing_finish)
    with pytest.raises(RuntimeError):
        r.reroute("o", "ST", lines=["1"], shortfall=1)
    assert state(r) == before and r._open["o"] is record


def test_session_reject_with_a_bad_shortfall_is_an_adapter_error_and_changes_nothing():
    s = session_for("generic")
    out = s.route(load("generic_order.json"))
    oid = "A-1001"
    d = s.router.decision(oid)
    node = d.allocations[0].node_id
    before = state(s.router)
    for bad in ("two", float("nan"), -1, 10**30):
        with pytest.raises(AdapterError, match="shortfall"):
            s.reject(oid, node, shortfall=bad)
        assert state(s.router) == before
    assert out


# --------------------------------------------------------------- commit_many
def test_commit_many_with_a_repeated_id_commits_nothing_and_loses_nothing():
    r = _store_router()
    r.route(_order("O-1", ("A", 4)))
    r.route(_order("O-2", ("B", 1)))
    before = state(r)
    with pytest.raises(ValidationError, match="repeated"):
        r.commit_many(["O-1", "O-2", "O-1"])
    assert state(r) == before
    with pytest.raises(ReservationError):
        r.commit_many(["O-2", "nobody"])
    assert state(r) == before
    assert r.commit_many(["O-1", "O-2"]) == 2
    snap = r.snapshot()
    assert snap.reserved.sum() == 0 and snap.on_hand.tolist() == [0, 5, 2, 5]  # entries by (sku, node)


def test_commit_many_of_batch_orders_with_a_repeated_id_changes_nothing():
    r = _store_router()
    r.route_many([_order("O-1", ("A", 1)), _order("O-2", ("A", 1))])
    before = state(r)
    with pytest.raises(ValidationError):
        r.commit_many(["O-1", "O-1"])
    assert state(r) == before


# -------------------------------------------------------- live vendor answers
class _FixedGateway:
    def __init__(self, stock):
        self.stock = stock

    def availability(self, vendor_id, skus, timeout):
        have = self.stock.get(vendor_id, {})
        return {s: have.get(s, 0) for s in skus}


def _vendor_router(answer: dict) -> Router:
    nodes = [Node("WH", "warehouse", 40.52, -74.41, capacity_orders=100, capacity_units=100),
             Node("VN", "vendor", 41.88, -87.63)]
    net = Network.build(nodes, [Sku("A", 1.0, 40.0)])
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 2)])
    offers = VendorOffers.from_frame(net, pd.DataFrame({
        "node_id": ["VN"], "sku": ["A"], "price": [30.0], "fee_rate": [0.1], "lead_days": [1]}))
    return Router(net, inv, Policy(vendors=VendorPolicy(gateway_timeout_s=10.0)), vendor_offers=offers,
                  gateway=_FixedGateway({"VN": answer}), business_day=DAY)


def test_an_absurd_vendor_quantity_is_a_vendor_failure_not_a_crash():
    r = _vendor_router({"A": 10**30})
    d = r.route(_order("o", ("A", 3)))
    assert [(a.node_id, a.qty) for a in d.allocations] == [("WH", 2)]
    assert "VN" in dict(d.explanation.vendor_failures)
    assert r.capacity_left("WH") == (99, 98)
    r.release("o")
    assert r.capacity_left("WH") == (100, 100) and r.snapshot().reserved.sum() == 0


def test_route_failing_after_reserving_gives_back_stock_and_capacity(monkeypatch):
    r = _vendor_router({"A": 5})
    before = state(r)

    def broken(*a, **kw):
        raise RuntimeError("vendor check blew up")

    monkeypatch.setattr(r, "_live_vendors", broken)
    with pytest.raises(RuntimeError):
        r.route(_order("o", ("A", 3)))
    assert state(r) == before


# ------------------------------------------------------------- route_json
def test_route_json_that_cannot_encode_its_reply_reserves_nothing():
    s = session_for("generic")
    payload = load("generic_order.json")
    payload["order_id"] = "X\ud800"
    text = json.dumps(payload)
    before = state(s.router)
    for _ in range(2):  # a retry fails the same way, and still reserves nothing
        with pytest.raises(AdapterError, match="encode"):
            s.route_json(text)
        assert state(s.router) == before and s.bound_of("X\ud800") is None
    # a plain order still routes after it
    assert json.loads(s.route_json(json.dumps(load("generic_order.json"))))


# ---------------------------------------------------------------- capacity
def test_capacity_never_exceeds_its_limit_after_a_reroute_on_a_later_day():
    r = _store_router(capacity_orders=5, capacity_units=50)
    r.route(_order("o", ("A", 2), ("B", 1)))
    r.set_business_day(DAY + timedelta(days=1))
    assert r.capacity_left("ST") == (5, 50)
    r.reroute("o", "ST", lines=["1"])
    r.release("o")
    for n in ("ST", "WH"):
        o, u = r.capacity_left(n)
        assert o <= 5 and u <= 50
    assert r.capacity_left("WH") == (5, 50)


def test_an_earlier_business_day_is_refused():
    r = _store_router(capacity_orders=5, capacity_units=50)
    r.route(_order("o", ("A", 2)))
    before = state(r)
    for bad in (DAY - timedelta(days=1), "2026-05-05", None, 20260505):
        with pytest.raises(ValidationError, match="business_day"):
            r.set_business_day(bad)
        assert state(r) == before
    r.set_business_day(DAY)  # the same day: nothing to do
    assert state(r) == before


# -------------------------------------------------------------- adjust_stock
@pytest.mark.parametrize("delta", [True, False, -0.5, 0.5, 2.0, float("nan"), "3", None, 2**62, -(2**62) - 1,
                                   10**30, np.float64(1.0)], ids=repr)
def test_adjust_stock_refuses_what_is_not_an_int_in_range(delta):
    r = _store_router()
    before = state(r)
    with pytest.raises(ValidationError, match="delta"):
        r.adjust_stock("ST", "A", delta)
    assert state(r) == before


def test_adjust_stock_never_overflows():
    r = _store_router()
    half = MAX_STOCK // 2
    assert r.adjust_stock("ST", "A", half) == half
    with pytest.raises(ValidationError, match="delta"):
        r.adjust_stock("ST", "A", half)  # 4 + 2 x half is past the bound
    assert r.snapshot().on_hand[0] == 4 + half
    assert r.adjust_stock("ST", "A", np.int64(-half)) == -half
    assert r.adjust_stock("ST", "A", np.int32(1)) == 1
    assert r.snapshot().on_hand[0] == 5
    for _ in range(2):
        with pytest.raises(ValidationError):
            r.adjust_stock("ST", "A", 2**62)
    assert r.snapshot().on_hand[0] == 5


@pytest.mark.parametrize("delta", [
    np.array([-0.5]), np.array([True]), np.array([np.nan]), np.array(["3"], dtype=object), [10**30],
    np.array([2**63 + 5], np.uint64), [2**62], [-(2**62) - 1], [1.0],
], ids=repr)
def test_adjust_stock_many_refuses_what_is_not_an_int_in_range(delta):
    r = _store_router()
    before = state(r)
    with pytest.raises(ValidationError, match="delta"):
        r.adjust_stock_many(np.array([0]), delta)
    assert state(r) == before


def test_adjust_stock_many_checks_every_row_before_applying_any():
    r = _store_router()
    half = MAX_STOCK // 2
    before = state(r)
    for entries in ([0, 0], [0, 1]):  # a repeated entry sees the rows before it
        d = [half, half] if entries == [0, 0] else [1, 2**62]
        with pytest.raises(ValidationError, match="delta"):
            r.adjust_stock_many(np.array(entries), np.array(d, np.int64))
        assert state(r) == before
    for bad in (np.array([0.0]), np.array([True]), np.array([2**63 + 1], np.uint64)):
        with pytest.raises(ValidationError, match="entr"):
            r.adjust_stock_many(bad, np.array([1]))
        assert state(r) == before
    assert r.adjust_stock_many(np.array([0, 0]), np.array([3, -10])).tolist() == [3, -7]
    assert r.adjust_stock_many(np.array([], np.int64), np.array([])).tolist() == []
    assert r.adjust_stock_many(np.array([1], np.int32), np.array([2], np.uint8)).tolist() == [2]


def test_order_quantities_that_would_overflow_are_refused():
    with pytest.raises(ValidationError, match="qty"):
        Order("o", (OrderLine("1", "A", 10**19),), *NYC)
    with pytest.raises(ValidationError, match="qty"):
        Order("o", (OrderLine("1", "A", MAX_QTY + 1),), *NYC)
    with pytest.raises(ValidationError, match="qty"):
        Order("o", (OrderLine("1", "A", 1e19),), *NYC)
    with pytest.raises(ValidationError, match="units"):
        Order("o", (OrderLine("1", "A", MAX_QTY), OrderLine("2", "B", MAX_QTY)), *NYC)
    assert Order("o", (OrderLine("1", "A", MAX_QTY),), *NYC).lines[0].qty == MAX_QTY


def test_route_many_refuses_batch_quantities_out_of_range():
    from sourcewise.engine.batch import batch_from_orders

    r = _store_router()
    batch = batch_from_orders(r.network, [_order("o", ("A", 1)), _order("p", ("B", 2))])
    before = state(r)
    for q in ([2**62, 1], [0, 1], [-3, 1], [MAX_QTY, MAX_QTY]):
        bad = batch.take(np.arange(2))
        object.__setattr__(bad, "qty", np.array(q if len(q) == 2 else q, np.int64))
        if q == [MAX_QTY, MAX_QTY]:  # one order of two lines past the bound together
            bad = batch_from_orders(r.network, [_order("o", ("A", 1), ("B", 1))])
            object.__setattr__(bad, "qty", np.array(q, np.int64))
        with pytest.raises(ValidationError, match="qty|units"):
            r.route_many(bad)
        assert state(r) == before


# ---------------------------------------------------------------- idempotent
def test_order_conflict_is_a_validation_error_at_the_front_door():
    assert sourcewise.OrderConflict is OrderConflict
    assert issubclass(OrderConflict, ValidationError)


@pytest.mark.parametrize("how", ["route", "route_many", "route_many_slow", "committed", "commit_many",
                                 "rerouted"])
def test_same_id_same_content_returns_the_decision_different_content_conflicts(how):
    r = _store_router()
    order = _order("o", ("A", 2), ("B", 1), max_shipments=2)
    if how == "route_many_slow":
        order = Order("o", (OrderLine("1", "A", 2), OrderLine("2", "B", 1, "pickup", "ST")), *NYC, max_shipments=2)
    if how in ("route_many", "route_many_slow"):
        r.route_many([order])
    else:
        r.route(order)
    if how == "committed":
        r.commit("o")
        COMMITTED[id(r)] = ("o",)
    elif how == "commit_many":
        r.commit_many(["o"])
        COMMITTED[id(r)] = ("o",)
    elif how == "rerouted":
        r.reroute("o", "ST", lines=["1"])
    before = state(r)
    want = r.decision("o")
    # the same content, built anew: the existing decision, nothing reserved
    same = Order("o", tuple(OrderLine(ln.line_id, ln.sku, ln.qty, ln.method, ln.pickup_node) for ln in order.lines),
                 NYC[0], NYC[1], max_shipments=2)
    assert r.route(same) == want
    assert state(r) == before
    others = [
        Order("o", (OrderLine("1", "A", 3), *order.lines[1:]), *NYC, max_shipments=2),
        Order("o", order.lines[:1], *NYC, max_shipments=2),
        Order("o", order.lines, 41.0, -74.01, max_shipments=2),
        Order("o", order.lines, *NYC),
        Order("o", order.lines, *NYC, max_shipments=2, channel="store"),
    ]
    for other in others:
        with pytest.raises(OrderConflict) as err:
            r.route(other)
        assert err.value.problems[0].row == "o" and "different" in str(err.value)
        assert state(r) == before
    COMMITTED.pop(id(r), None)


def test_conflict_check_runs_before_the_fast_membership_answer():
    # an id routed with route_many then asked for with different lines through route()
    r = _store_router()
    r.route_many([_order("o", ("A", 1))])
    with pytest.raises(OrderConflict):
        r.route(_order("o", ("A", 1), ("B", 1)))
    with pytest.raises(OrderConflict):
        r.route(Order("o", (OrderLine("x", "A", 1),), *NYC))
    assert math.isclose(r.route(_order("o", ("A", 1))).cost.total, r.decision("o").cost.total)


def test_session_answers_a_changed_payload_under_a_routed_id_with_an_adapter_conflict():
    from sourcewise.engine.adapters import AdapterConflict

    s = session_for("generic")
    payload = load("generic_order.json")
    first = s.route(payload)
    assert s.route(load("generic_order.json")) == first  # a retried request: the same answer
    before = state(s.router)
    payload["lines"][0]["qty"] = 1
    with pytest.raises(AdapterConflict) as err:
        s.route(payload)
    assert isinstance(err.value, OrderConflict) and isinstance(err.value, AdapterError)
    with pytest.raises(AdapterConflict):
        s.route_json(json.dumps(payload))
    assert state(s.router) == before


def test_an_order_the_optimizer_replanned_can_be_rerouted():
    # swapped plans carry the strategy "optimize", which the router cannot route with: it used
    # to raise KeyError part-way through reroute, after giving back the order's reservation
    import msgspec

    r = _store_router()
    d = r.route(_order("o", ("A", 2)))
    (h,), _ = r.holdings(["o"])
    plan = msgspec.structs.replace(d, strategy="optimize")
    assert r.swap_plans([h], {"o": (plan, h.entries, h.qty)}, DAY) == ""
    assert r.decision("o").strategy == "optimize"
    d2 = r.reroute("o", "ST", shortfall=0)
    assert [(a.node_id, a.qty) for a in d2.allocations] == [("WH", 2)]
    assert r.snapshot().reserved.tolist() == [0, 2, 0, 0]
