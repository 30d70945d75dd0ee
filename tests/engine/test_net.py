"""Direct guards for business rules that were only cross-checked between routing paths.

Every expected value here is computed from the documented cost model (README,
"Cost model": per shipment + per unit + per unit-mile, node handling per
shipment and per unit, vendor fee = fee rate x item price x units, split
penalty per extra shipment), from great-circle distances computed in this file,
and from the stock and capacity figures the test sets up; never by calling the
code under test for the expected value.

Each rule is checked on every routing path that decides it: ``route`` with
one node, the lean split path, the full tier machinery and ``route_many``.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from sourcewise.engine.router import Router
from sourcewise.engine.vendors import VendorOffers
from sourcewise.models import CostModel
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import Status
from sourcewise.models import StockRecord
from sourcewise.models import StorePolicy
from sourcewise.models import Tier
from sourcewise.models import VendorPolicy
from tests.conftest import flat_policy

# README "Cost model": 8.759 per shipment plus 0.423 + 0.000541 x miles per unit
README_PER_SHIPMENT = 8.759
README_PER_UNIT = 0.423
README_PER_UNIT_MILE = 0.000541

EARTH_RADIUS_MI = 3958.7613  # IUGG mean Earth radius, 6371.0088 km
KM_PER_MILE = 1.609344

NYC = (40.71, -74.01)
EDISON = (40.52, -74.41)
CHICAGO = (41.88, -87.63)
DALLAS = (32.78, -96.80)
ATLANTA = (33.75, -84.39)

DAY = date(2026, 5, 4)
README_COST = CostModel(per_shipment=README_PER_SHIPMENT, per_unit=README_PER_UNIT,
                        per_unit_mile=README_PER_UNIT_MILE)
# a cost model far from the defaults: every term weighs, the per-mile one above all
STEEP = CostModel(per_shipment=5.0, per_unit=1.0, per_unit_mile=0.01)
WAREHOUSES_THEN_STORES = (Tier("warehouses", ("warehouse",)), Tier("stores", ("store",)))


def _miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), in miles."""
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(math.sqrt(h))


def _parcel_shipping(cm: CostModel, units: int, miles: float) -> float:
    return cm.per_shipment + units * (cm.per_unit + cm.per_unit_mile * miles)


def _order(oid: str, *lines: tuple[str, int], at=NYC, **kw) -> Order:
    return Order(oid, tuple(OrderLine(str(i + 1), s, q) for i, (s, q) in enumerate(lines)), *at, **kw)


def _route(router: Router, order: Order, via: str):
    """The order's (allocations as (node, sku, qty) triples, cost row) through ``route`` or ``route_many``."""
    if via == "route_many":
        res = router.route_many([order])
        rows = res.allocations
        allocs = sorted(zip(rows["node_id"], rows["sku"], rows["qty"].tolist(), strict=True))
        return allocs, res.orders.iloc[0]
    d = router.route(order)
    c = d.cost
    row = {"shipping": c.shipping, "handling": c.handling, "vendor_fees": c.vendor_fees,
           "split_penalty": c.split_penalty, "shipments": len(d.shipments), "units": d.units}
    return sorted((a.node_id, a.sku, a.qty) for a in d.allocations), row


def test_readme_cost_model_is_the_default_policy():
    cm = Policy().cost
    assert (cm.per_shipment, cm.per_unit, cm.per_unit_mile) == (
        README_PER_SHIPMENT, README_PER_UNIT, README_PER_UNIT_MILE)


# ----------------------------------------------------------------- 1. vendor fees
def _vendor_net():
    nodes = [Node("WH", "warehouse", *EDISON), Node("VN", "vendor", *CHICAGO, fee_rate=0.15)]
    skus = [Sku("A", 1.0, 40.0), Sku("B", 0.5, 12.5)]
    return Network.build(nodes, skus)


@pytest.mark.parametrize("via", ["route", "route_many"])
def test_vendor_tier_fee_is_fee_rate_times_price_times_units(via):
    # own tier first (the warehouse's one unit of A), the vendor tier for the rest
    net = _vendor_net()
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 1), StockRecord("VN", "A", 50),
                                       StockRecord("VN", "B", 50)])
    allocs, row = _route(Router(net, inv), _order("o", ("A", 3), ("B", 2)), via)
    assert allocs == [("VN", "A", 2), ("VN", "B", 2), ("WH", "A", 1)]
    # the warehouse's unit carries no fee
    assert row["vendor_fees"] == pytest.approx(0.15 * (2 * 40.0 + 2 * 12.5), rel=1e-12)


@pytest.mark.parametrize("via", ["route", "route_many"])
def test_vendor_fee_when_one_tier_holds_every_kind(via):
    # a single tier over every kind: the order one vendor ships whole takes the one-call path
    net = _vendor_net()
    inv = Inventory.from_records(net, [StockRecord("VN", "A", 50), StockRecord("VN", "B", 50)])
    allocs, row = _route(Router(net, inv, flat_policy()), _order("o", ("A", 3), ("B", 2)), via)
    assert allocs == [("VN", "A", 3), ("VN", "B", 2)]
    assert row["vendor_fees"] == pytest.approx(0.15 * (3 * 40.0 + 2 * 12.5), rel=1e-12)


@pytest.mark.parametrize("via", ["route", "route_many"])
def test_vendor_offer_fee_replaces_the_node_fee_rate(via):
    # A has an offer (its own price and fee rate); B has none and pays the node's rate on its SKU price
    net = _vendor_net()
    inv = Inventory.from_records(net, [StockRecord("VN", "A", 50), StockRecord("VN", "B", 50)])
    offers = VendorOffers.from_frame(net, pd.DataFrame({
        "node_id": ["VN"], "sku": ["A"], "price": [30.0], "fee_rate": [0.1], "lead_days": [1]}))
    allocs, row = _route(Router(net, inv, vendor_offers=offers), _order("o", ("A", 3), ("B", 2)), via)
    assert allocs == [("VN", "A", 3), ("VN", "B", 2)]
    assert row["vendor_fees"] == pytest.approx(3 * 0.1 * 30.0 + 2 * 0.15 * 12.5, rel=1e-12)


class _FixedGateway:
    """Live vendor availability answered in-process."""

    def __init__(self, stock: dict[str, dict[str, int]]):
        self.stock = stock

    def availability(self, vendor_id, skus, timeout):
        have = self.stock.get(vendor_id, {})
        return {s: have.get(s, 0) for s in skus}


def test_live_vendor_fee_is_the_offers_fee_rate_times_its_price():
    net = _vendor_net()
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 0)])
    offers = VendorOffers.from_frame(net, pd.DataFrame({
        "node_id": ["VN", "VN"], "sku": ["A", "B"], "price": [30.0, 11.0], "fee_rate": [0.1, 0.2],
        "lead_days": [1, 1]}))
    # a generous timeout: the in-process gateway answers at once, but the box may be loaded
    r = Router(net, inv, Policy(vendors=VendorPolicy(gateway_timeout_s=10.0)), vendor_offers=offers,
               gateway=_FixedGateway({"VN": {"A": 9, "B": 9}}))
    d = r.route(_order("o", ("A", 3), ("B", 2)))
    assert sorted((a.node_id, a.sku, a.qty) for a in d.allocations) == [("VN", "A", 3), ("VN", "B", 2)]
    assert d.cost.vendor_fees == pytest.approx(3 * 0.1 * 30.0 + 2 * 0.2 * 11.0, rel=1e-12)


# ---------------------------------------------------------- 2. two-parcel shipping
def _split_net(kind_b: str = "warehouse"):
    # A only near the customer, B only in Chicago: every order for both ships in two parcels
    nodes = [Node("W1", "warehouse", *EDISON, handling_per_shipment=1.5, handling_per_unit=0.25),
             Node("W2", kind_b, *CHICAGO, handling_per_shipment=2.0, handling_per_unit=0.1)]
    net = Network.build(nodes, [Sku("A", 1.0, 20.0), Sku("B", 2.0, 30.0)])
    inv = Inventory.from_records(net, [StockRecord("W1", "A", 10), StockRecord("W2", "B", 10)])
    return net, inv


@pytest.mark.parametrize("cm", [None, STEEP], ids=["readme", "steep"])
@pytest.mark.parametrize("path", ["lean", "tier_machinery", "two_tiers", "route_many"])
def test_split_order_pays_two_parcels(path, cm, monkeypatch):
    # cm None: the policy's default cost model, priced here with the README's figures
    kw = {"cost": cm} if cm is not None else {}
    if path == "two_tiers":
        kw["tiers"] = WAREHOUSES_THEN_STORES
    pol = Policy(split_penalty=0.75, stores=StorePolicy(depletion_weight=0.0), **kw)
    cm = cm or README_COST
    net, inv = _split_net("store" if path == "two_tiers" else "warehouse")
    r = Router(net, inv, pol)
    if path == "tier_machinery":
        monkeypatch.setattr(r, "_lean_splits", False)
    order = _order("o", ("A", 2), ("B", 3))
    allocs, row = _route(r, order, "route_many" if path == "route_many" else "route")
    assert allocs == [("W1", "A", 2), ("W2", "B", 3)]
    assert row["shipments"] == 2
    m1, m2 = _miles(NYC, EDISON), _miles(NYC, CHICAGO)
    assert row["shipping"] == pytest.approx(_parcel_shipping(cm, 2, m1) + _parcel_shipping(cm, 3, m2), rel=1e-9)
    assert row["handling"] == pytest.approx((1.5 + 2 * 0.25) + (2.0 + 3 * 0.1), rel=1e-12)
    assert row["split_penalty"] == pytest.approx(0.75)
    if path != "route_many":
        d = r.decision("o")
        km = {s.node_id: s.distance_km for s in d.shipments}
        assert km == pytest.approx({"W1": m1 * KM_PER_MILE, "W2": m2 * KM_PER_MILE}, rel=1e-9)


def test_vendor_and_own_parcels_each_pay_the_parcel_charge():
    # the two parcels come from two tiers (own, then vendors) and are priced together
    net = _vendor_net()
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 1), StockRecord("VN", "A", 50)])
    d = Router(net, inv).route(_order("o", ("A", 3)))
    assert sorted((s.node_id, s.units) for s in d.shipments) == [("VN", 2), ("WH", 1)]
    cm = README_COST
    want = _parcel_shipping(cm, 1, _miles(NYC, EDISON)) + _parcel_shipping(cm, 2, _miles(NYC, CHICAGO))
    assert d.cost.shipping == pytest.approx(want, rel=1e-9)


# -------------------------------------------------------- 3. release gives capacity back
def _capacity_net():
    nodes = [Node("W1", "warehouse", *EDISON, capacity_orders=5, capacity_units=20),
             Node("W2", "warehouse", *CHICAGO, capacity_orders=4, capacity_units=9)]
    net = Network.build(nodes, [Sku("A", 1.0, 20.0), Sku("B", 1.0, 20.0)])
    inv = Inventory.from_records(net, [StockRecord("W1", "A", 50), StockRecord("W2", "B", 50)])
    return net, inv


FULL = {"W1": (5, 20), "W2": (4, 9)}


@pytest.mark.parametrize("path", ["route", "route_many"])
def test_release_restores_capacity_of_a_single_node_order(path):
    net, inv = _capacity_net()
    r = Router(net, inv, business_day=DAY)
    _route(r, _order("o", ("A", 3)), path)
    assert r.capacity_left("W1") == (5 - 1, 20 - 3) and r.capacity_left("W2") == FULL["W2"]
    r.release("o")
    assert {n: r.capacity_left(n) for n in FULL} == FULL
    assert r.snapshot().reserved.sum() == 0


@pytest.mark.parametrize("path", ["lean", "tier_machinery", "route_many"])
def test_release_restores_capacity_of_a_split_order(path, monkeypatch):
    net, inv = _capacity_net()
    r = Router(net, inv, business_day=DAY)
    if path == "tier_machinery":
        monkeypatch.setattr(r, "_lean_splits", False)
    allocs, _ = _route(r, _order("o", ("A", 2), ("B", 3)), "route_many" if path == "route_many" else "route")
    assert allocs == [("W1", "A", 2), ("W2", "B", 3)]
    assert r.capacity_left("W1") == (5 - 1, 20 - 2) and r.capacity_left("W2") == (4 - 1, 9 - 3)
    r.release("o")
    assert {n: r.capacity_left(n) for n in FULL} == FULL
    assert r.snapshot().reserved.sum() == 0


# ---------------------------------------------------------------- 4. store protection
def _store_router(nodes, stock, policy, walkin=None):
    net = Network.build(nodes, [Sku("A", 1.0, 20.0)])
    inv = Inventory.from_records(net, [StockRecord(n, "A", q) for n, q in stock.items()])
    return Router(net, inv, policy, walkin=walkin)


def _online_take(r: Router, via: str) -> tuple[dict[str, int], int]:
    """Units per store an online order for far more than the stores hold gets, and what a second order gets."""
    big, next_one = _order("big", ("A", 40)), _order("next", ("A", 1))
    if via == "route_many":
        res = r.route_many([big, next_one])
        rows = res.allocations
        first = rows[rows["order_id"] == "big"]
        return dict(zip(first["node_id"], first["qty"].tolist(), strict=True)), int(
            rows.loc[rows["order_id"] == "next", "qty"].sum())
    d = r.route(big)
    return {a.node_id: a.qty for a in d.allocations}, r.route(next_one).units


@pytest.mark.parametrize("via", ["route", "route_many"])
def test_node_protect_units_stay_in_the_store(via):
    # ST keeps its own 2 units; ST-DEF has no setting of its own and keeps the policy's 1
    nodes = [Node("ST", "store", *EDISON, protect_units=2), Node("ST-DEF", "store", 40.9, -74.2)]
    r = _store_router(nodes, {"ST": 5, "ST-DEF": 4},
                      Policy(stores=StorePolicy(protect_units=1, depletion_weight=0.0)))
    took, second = _online_take(r, via)
    assert took == {"ST": 5 - 2, "ST-DEF": 4 - 1}
    assert second == 0
    left = {rec.node_id: rec.on_hand - rec.reserved for rec in r.snapshot().records()}
    assert left == {"ST": 2, "ST-DEF": 1}
    # walk-in shoppers can still buy the protected units
    assert r.adjust_stock("ST", "A", -2) == -2


@pytest.mark.parametrize("via", ["route", "route_many"])
def test_walkin_days_of_demand_stay_in_the_store(via):
    # protect_days x walkin_daily_demand: 2 x 1.5 = 3 units at ST, 2 x 0.5 = 1 unit at ST2
    nodes = [Node("ST", "store", *EDISON), Node("ST2", "store", 40.9, -74.2)]
    walkin = pd.DataFrame({"node_id": ["ST", "ST2"], "sku": ["A", "A"], "walkin_daily_demand": [1.5, 0.5]})
    r = _store_router(nodes, {"ST": 7, "ST2": 2},
                      Policy(stores=StorePolicy(protect_days=2.0, depletion_weight=0.0)), walkin)
    took, second = _online_take(r, via)
    assert took == {"ST": 7 - 3, "ST2": 2 - 1}
    assert second == 0
    left = {rec.node_id: rec.on_hand - rec.reserved for rec in r.snapshot().records()}
    assert left == {"ST": 3, "ST2": 1}


@pytest.mark.parametrize("via", ["route", "route_many"])
def test_store_protection_does_not_hold_back_warehouse_stock(via):
    # protection is a store rule: the same settings leave a warehouse's stock whole
    nodes = [Node("WH", "warehouse", *EDISON, protect_units=2)]
    walkin = pd.DataFrame({"node_id": ["WH"], "sku": ["A"], "walkin_daily_demand": [1.5]})
    r = _store_router(nodes, {"WH": 6}, Policy(stores=StorePolicy(protect_units=1, protect_days=2.0)), walkin)
    took, second = _online_take(r, via)
    assert took == {"WH": 6} and second == 0


# -------------------------------------------------------- 5. re-routing reserves no more
def _reserved_by_pair(r: Router) -> dict[tuple[str, str], int]:
    return {(rec.node_id, rec.sku): rec.reserved for rec in r.snapshot().records() if rec.reserved}


def _allocated_by_pair(r: Router, *order_ids: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for oid in order_ids:
        for a in r.decision(oid).allocations:
            out[(a.node_id, a.sku)] = out.get((a.node_id, a.sku), 0) + a.qty
    return out


def _assert_reserved_is_allocated(r: Router, oid: str, units: int) -> None:
    d = r.decision(oid)
    assert d.units == units
    assert sum(_reserved_by_pair(r).values()) == units
    assert _reserved_by_pair(r) == _allocated_by_pair(r, oid)


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "tier_machinery"])
def test_reroute_of_a_split_order_reserves_only_what_it_allocates(lean, monkeypatch):
    nodes = [Node("W1", "warehouse", *EDISON), Node("W2", "warehouse", *CHICAGO),
             Node("W3", "warehouse", *ATLANTA), Node("W4", "warehouse", *DALLAS)]
    net = Network.build(nodes, [Sku("A", 1.0, 20.0), Sku("B", 1.0, 20.0)])
    inv = Inventory.from_records(net, [StockRecord("W1", "A", 5), StockRecord("W1", "B", 1),
                                       StockRecord("W2", "B", 5), StockRecord("W3", "B", 5),
                                       StockRecord("W4", "B", 5)])
    r = Router(net, inv)
    monkeypatch.setattr(r, "_lean_splits", lean)
    d = r.route(_order("o", ("A", 2), ("B", 3)))
    assert d.status is Status.ROUTED and len(d.shipments) == 2
    _assert_reserved_is_allocated(r, "o", 5)
    # reject the parcel that does not ship A: its units go elsewhere, the rest stays
    other = next(s.node_id for s in d.shipments if s.node_id != "W1")
    d2 = r.reroute("o", other)
    assert d2.status is Status.ROUTED and other not in {a.node_id for a in d2.allocations}
    _assert_reserved_is_allocated(r, "o", 5)
    # and again, from whichever node took them
    other2 = next(s.node_id for s in d2.shipments if s.node_id != "W1")
    d3 = r.reroute("o", other2)
    assert other2 not in {a.node_id for a in d3.allocations}
    _assert_reserved_is_allocated(r, "o", d3.units)
    r.release("o")
    assert r.snapshot().reserved.sum() == 0


def test_reroute_of_an_order_sourced_over_two_tiers_reserves_only_what_it_allocates():
    nodes = [Node("WH", "warehouse", *EDISON), Node("ST1", "store", 40.75, -73.99),
             Node("ST2", "store", 40.65, -74.2)]
    net = Network.build(nodes, [Sku("A", 1.0, 20.0), Sku("B", 1.0, 20.0)])
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 2), StockRecord("ST1", "A", 9),
                                       StockRecord("ST2", "A", 9), StockRecord("ST1", "B", 9),
                                       StockRecord("ST2", "B", 9)])
    r = Router(net, inv, Policy(tiers=WAREHOUSES_THEN_STORES, stores=StorePolicy(depletion_weight=0.0)))
    # someone else's order holds stock too: it must be left exactly as it is
    r.route(_order("bystander", ("B", 2)))
    held_by_other = _allocated_by_pair(r, "bystander")
    d = r.route(_order("o", ("A", 5), ("B", 1)))
    assert {s.tier for s in d.shipments} == {"warehouses", "stores"}
    assert sum(a.qty for a in d.allocations if a.node_id == "WH") == 2

    def check(units):
        d = r.decision("o")
        assert d.units == units
        want = _allocated_by_pair(r, "o", "bystander")
        assert _reserved_by_pair(r) == want
        assert sum(_reserved_by_pair(r).values()) == units + sum(held_by_other.values())

    check(6)
    store = next(s.node_id for s in d.shipments if s.tier == "stores")
    d2 = r.reroute("o", store)  # the store tier's parcel moves to the other store
    assert store not in {a.node_id for a in d2.allocations}
    check(6)
    d3 = r.reroute("o", "WH")  # the warehouse tier's units land on the store the order already uses
    assert "WH" not in {a.node_id for a in d3.allocations}
    check(6)
    r.release("o")
    assert _reserved_by_pair(r) == held_by_other
