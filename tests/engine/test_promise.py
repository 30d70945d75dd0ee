"""Promises and store availability: they change nothing, ``ship`` is route's decision, and the pickup and
same-day options agree with brute force over the nodes and with what routing those methods does."""

from __future__ import annotations

import math
from datetime import date
from datetime import datetime
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine import _kernels as K
from sourcewise.engine.durable import bare
from sourcewise.engine.promise import NOT_ASKED
from sourcewise.engine.router import Router
from sourcewise.engine.vendors import HttpVendorGateway
from sourcewise.models import STRATEGIES
from sourcewise.models import Inventory
from sourcewise.models import MethodPolicy
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderConflict
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import ServicePolicy
from sourcewise.models import Sku
from sourcewise.models import Status
from sourcewise.models import StockRecord
from sourcewise.models import StorePolicy
from sourcewise.models import Tier
from sourcewise.models import ValidationError
from tests import naive
from tests.conftest import make_inventory
from tests.conftest import warehouse_and_vendor
from tests.engine.vendor_server import VendorServer
from tests.engine.vendor_server import ok

DAY = date(2026, 5, 4)
NYC = (40.71, -74.01)
KM_PER_MILE = 1.609344


# ----------------------------------------------------------------------------- builders


def _cluster(rng, n_nodes, n_skus, *, limited=False, spread=0.3):
    """Nodes of every kind around New York (so that pickup and same-day radii matter), with random
    pickup flags, cutoffs, processing days and, when ``limited``, daily capacities."""
    kinds = ["warehouse", "store", "store", "vendor"]
    nodes = []
    for i in range(n_nodes):
        kind = kinds[int(rng.integers(len(kinds)))]
        cap = limited and rng.random() < 0.6
        nodes.append(Node(
            f"N{i}", kind, NYC[0] + float(rng.uniform(-spread, spread)), NYC[1] + float(rng.uniform(-spread, spread)),
            priority=int(rng.integers(3)), handling_per_shipment=float(rng.uniform(0, 3)),
            handling_per_unit=float(rng.uniform(0, 1)), fee_rate=float(rng.choice([0.0, 0.12])),
            pickup=kind == "store" and rng.random() < 0.8, enabled=bool(rng.random() >= 0.1),
            processing_days=int(rng.integers(0, 3)), cutoff_hour=float(rng.choice([24.0, 12.0, 17.0])),
            region=str(rng.choice(["east", "west"])),
            capacity_orders=int(rng.integers(0, 4)) if cap else None,
            capacity_units=int(rng.integers(0, 12)) if cap else None))
    skus = [Sku(f"S{j}", float(rng.uniform(0.1, 5)), float(rng.uniform(1, 200))) for j in range(n_skus)]
    return Network.build(nodes, skus)


def _policy(rng, strategy):
    tiers = [
        (Tier("all", ("warehouse", "store", "vendor")),),
        (Tier("own", ("warehouse", "store")), Tier("vendors", ("vendor",))),
        (Tier("near-stores", ("store",), max_distance_km=30.0, channels=("web",)),
         Tier("warehouses", ("warehouse",), regions=("east",)), Tier("rest", ("store", "vendor"))),
    ][int(rng.integers(3))]
    return Policy(strategy=strategy, tiers=tiers, max_shipments=int(rng.integers(1, 4)),
                  stores=StorePolicy(protect_units=int(rng.integers(0, 2))),
                  service=ServicePolicy(express_days=2.0, late=str(rng.choice(["exclude", "penalty"]))),
                  methods=MethodPolicy(same_day_radius_km=float(rng.choice([20.0, 50.0])),
                                       pickup_transfer=bool(rng.integers(2)), transfer_radius_km=60.0,
                                       pickup_radius_km=float(rng.choice([15.0, 40.0])),
                                       pickup_options=[0, 1, 2, 3, 3][int(rng.integers(5))]))


def _order(rng, net, oid, *, methods=True):
    """A random order near New York: 1-3 distinct SKUs, sometimes pickup or same-day lines, a random
    service level, channel, split limit and hour."""
    n_lines = int(rng.integers(1, min(3, net.n_skus) + 1))
    skus = rng.choice(net.n_skus, size=n_lines, replace=False)
    lines = []
    for i, s in enumerate(skus):
        method = str(rng.choice(["ship", "ship", "ship", "pickup", "same_day"])) if methods else "ship"
        node = net.nodes[int(rng.integers(net.n_nodes))].node_id if method == "pickup" else None
        lines.append(OrderLine(f"{oid}-{i}", net.skus[s].sku, int(rng.integers(1, 4)), method, node))
    placed = None if rng.random() < 0.3 else datetime(2026, 5, 4, int(rng.integers(0, 24)), int(rng.integers(60)))
    return Order(oid, tuple(lines), NYC[0] + float(rng.uniform(-0.3, 0.3)), NYC[1] + float(rng.uniform(-0.3, 0.3)),
                 allow_split=bool(rng.random() < 0.8), max_shipments=[None, 1, 2][int(rng.integers(3))],
                 service_level=str(rng.choice(["standard", "express", "next_day"])),
                 channel=str(rng.choice(["web", "app"])), placed_at=placed)


def _as(order, method, node=None, oid=None):
    """``order`` with every line collected at ``node`` (pickup) or delivered ``same_day``."""
    lines = tuple(OrderLine(ln.line_id, ln.sku, ln.qty, method, node) for ln in order.lines)
    return Order(oid or f"{order.order_id}-{method}-{node}", lines, order.lat, order.lon, order.allow_split,
                 order.max_shipments, order.service_level, order.channel, order.placed_at)


def _state(r: Router) -> dict:
    """Everything a promise must leave alone, comparable with ==."""
    snap = r.snapshot()
    opened = sorted(r.open_orders)
    out = {"on_hand": snap.on_hand.tolist(), "reserved": snap.reserved.tolist(),
           "caps": [r.capacity_left(n.node_id) for n in r.network.nodes],
           # the counters of unlimited nodes move too (from 2**60): promise must not move them either
           "raw_caps": (r._cap_orders.tolist(), r._cap_units.tolist()),
           "open": opened, "decisions": {oid: bare(r.decision(oid)) for oid in opened},
           "committed": sorted(r._committed), "day": r.business_day, "dual": r._dual.tolist(),
           "mark": r._mark.tolist()}
    if r._store is not None:
        out["ledger"] = [(e.seq, e.kind, e.order_id) for e in r._store.entries()]
        out["seen"] = bytes(r._seen._bytes)
    return out


def _start(order: Order) -> date:
    return order.placed_at.date() if order.placed_at is not None else DAY


def _hour(order: Order) -> float:
    return order.placed_at.hour + order.placed_at.minute / 60 if order.placed_at is not None else 0.0


def _km(net, n, lat, lon) -> float:
    return naive.haversine_miles(net.lat[n], net.lon[n], lat, lon) * KM_PER_MILE


def _need(order) -> dict[str, int]:
    need: dict[str, int] = {}
    for ln in order.lines:
        need[ln.sku] = need.get(ln.sku, 0) + ln.qty
    return need


def _holds_all(r, n, need) -> bool:
    """Whether node ``n`` could hand over every unit today, by the router's public reads."""
    node_id = r.network.nodes[n].node_id
    slots, units = r.capacity_left(node_id)
    return (slots >= 1 and units >= sum(need.values())
            and all(r.inventory.entry(node_id, s) >= 0 and r.atp(node_id, s) >= q for s, q in need.items()))


def brute_pickup(r: Router, order: Order) -> list[tuple[str, date]]:
    """Pickup options by brute force over every node: enabled pickup nodes within the radius holding
    everything, nearest first (ties by node order), at most the policy's count; with their ready dates."""
    net, m = r.network, r.policy.methods
    found = []
    for n, node in enumerate(net.nodes):
        km = _km(net, n, order.lat, order.lon)
        if node.pickup and node.enabled and km <= m.pickup_radius_km and _holds_all(r, n, _need(order)):
            found.append((km, n))
    found.sort()
    return [(net.nodes[n].node_id, _start(order) + timedelta(days=net.nodes[n].processing_days))
            for _, n in found[:m.pickup_options]]


def brute_same_day(r: Router, order: Order) -> str | None:
    """The node a same-day line of the order may come from that holds everything, soonest then nearest,
    by brute force over nodes and tiers (spelled out from the policy, not from the router's masks)."""
    net, pol = r.network, r.policy
    best = None
    for n, node in enumerate(net.nodes):
        if not (node.enabled and node.ships) or _hour(order) >= node.cutoff_hour:
            continue
        km = _km(net, n, order.lat, order.lon)
        reach = [min(t.max_distance_km, pol.methods.same_day_radius_km) for t in pol.tiers
                 if (not t.channels or order.channel in t.channels) and node.kind.value in t.kinds
                 and (not t.regions or node.region in t.regions)]
        key = (node.processing_days, km)
        if reach and km <= max(reach) and _holds_all(r, n, _need(order)) and (best is None or key < best[0]):
            best = (key, node.node_id)
    return None if best is None else best[1]


# ----------------------------------------------------------------------------- properties


@given(seed=st.integers(0, 2**32 - 1), strategy=st.sampled_from(STRATEGIES), limited=st.booleans())
def test_promise_changes_nothing_and_ships_as_route_would(seed, strategy, limited):
    rng = np.random.default_rng(seed)
    net = _cluster(rng, int(rng.integers(2, 10)), int(rng.integers(2, 6)), limited=limited)
    inv = make_inventory(rng, net, density=0.7, max_qty=5)
    r = Router(net, inv, _policy(rng, strategy), business_day=DAY)
    if strategy == "dual":
        r.set_dual_prices(rng.uniform(0, 3, inv.nnz))
    # some history: open, committed and released orders
    for i in range(int(rng.integers(0, 6))):
        d = r.route(_order(rng, net, f"h{i}"))
        if rng.random() < 0.3:
            r.commit(d.order_id)
        elif rng.random() < 0.3:
            r.release(d.order_id)
    for i in range(6):
        order = _order(rng, net, f"o{i}")
        before = _state(r)
        p = r.promise(order, strategy)
        assert _state(r) == before
        assert p.order_id == order.order_id and not p.existing
        d = r.route(order, strategy)
        assert bare(p.ship) == bare(d)
        assert p.ship.explanation is not None
        # an id that holds a decision: route returns it again, and so does promise
        before = _state(r)
        again = r.promise(order, strategy)
        assert _state(r) == before
        assert again.existing and bare(again.ship) == bare(r.route(order, strategy))


@given(seed=st.integers(0, 2**32 - 1), limited=st.booleans())
def test_pickup_options_are_the_stores_nearby_that_hold_everything(seed, limited):
    rng = np.random.default_rng(seed)
    net = _cluster(rng, int(rng.integers(3, 12)), int(rng.integers(2, 5)), limited=limited)
    inv = make_inventory(rng, net, density=0.8, max_qty=6)
    r = Router(net, inv, _policy(rng, "cost"), business_day=DAY)
    for i in range(int(rng.integers(0, 5))):
        r.route(_order(rng, net, f"h{i}"))
    for i in range(5):
        order = _order(rng, net, f"o{i}", methods=False)
        p = r.promise(order)
        assert [(o.node_id, o.ready_date) for o in p.pickup] == brute_pickup(r, order)
        for o in p.pickup:
            n = net.node_index[o.node_id]
            assert o.distance_km == pytest.approx(_km(net, n, order.lat, order.lon), rel=1e-9)
            assert o.ready_days == net.nodes[n].processing_days
        # routing the order as a pickup at each offered store collects it all there, ready that day;
        # any other store within the radius cannot (unless the list was cut at the policy's count)
        offered = {o.node_id: o for o in p.pickup}
        m = r.policy.methods
        for n, node in enumerate(net.nodes):
            if not (node.pickup and node.enabled and _km(net, n, order.lat, order.lon) <= m.pickup_radius_km):
                continue
            before = _state(r)
            d = r.route(_as(order, "pickup", node.node_id))
            if node.node_id in offered:
                assert d.status is Status.ROUTED
                assert [(s.node_id, s.method, s.promised_date) for s in d.shipments] == [
                    (node.node_id, "pickup", offered[node.node_id].ready_date)]
            elif len(p.pickup) < m.pickup_options:
                assert d.status is not Status.ROUTED or any(s.method == "transfer" for s in d.shipments)
            r.release(d.order_id)
            assert r.snapshot().reserved.tolist() == before["reserved"]


@given(seed=st.integers(0, 2**32 - 1), strategy=st.sampled_from(STRATEGIES))
def test_same_day_option_is_the_soonest_eligible_node_and_routing_agrees(seed, strategy):
    rng = np.random.default_rng(seed)
    net = _cluster(rng, int(rng.integers(2, 10)), int(rng.integers(2, 5)), limited=bool(rng.integers(2)))
    inv = make_inventory(rng, net, density=0.8, max_qty=6)
    r = Router(net, inv, _policy(rng, strategy), business_day=DAY)
    for i in range(5):
        order = _order(rng, net, f"o{i}", methods=False)
        p = r.promise(order, strategy)
        want = brute_same_day(r, order)
        assert (p.same_day.node_id if p.same_day else None) == want
        if p.same_day is not None:
            n = net.node_index[want]
            assert p.same_day.distance_km == pytest.approx(_km(net, n, order.lat, order.lon), rel=1e-9)
            assert p.same_day.promised_date == _start(order) + timedelta(days=net.nodes[n].processing_days)
        # one same-day parcel that route finds is from a node the option's rules admit
        single = _as(order, "same_day", oid=f"sd{i}")
        single = Order(single.order_id, single.lines, single.lat, single.lon, False, None, single.service_level,
                       single.channel, single.placed_at)
        d = r.route(single, strategy)
        if d.status is Status.ROUTED:
            assert p.same_day is not None
            (s,) = d.shipments
            assert s.method == "same_day" and s.promised_date >= p.same_day.promised_date
        elif strategy == "cost" and len(r.policy.tiers) == 1:
            # one tier: the cost search finds a node that holds everything whenever one exists
            assert p.same_day is None
        r.release(d.order_id)


def test_same_day_follows_the_radius_the_cutoff_and_the_stock():
    nodes = [Node("NEAR", "store", 40.75, -73.99, cutoff_hour=15, processing_days=0),   # ~5 km
             Node("MID", "warehouse", 41.0, -74.3, cutoff_hour=20, processing_days=1),  # ~40 km
             Node("FAR", "warehouse", 42.36, -71.06)]                                 # Boston, ~300 km
    net = Network.build(nodes, [Sku("A", 1.0, 10.0), Sku("B", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("NEAR", "A", 2), StockRecord("NEAR", "B", 1),
                                       StockRecord("MID", "A", 5), StockRecord("MID", "B", 5),
                                       StockRecord("FAR", "A", 50), StockRecord("FAR", "B", 50)])
    r = Router(net, inv, business_day=DAY)
    lines = (OrderLine("1", "A", 1), OrderLine("2", "B", 1))
    morning = Order("o", lines, *NYC, placed_at=datetime(2026, 5, 4, 9))
    p = r.promise(morning)
    assert p.same_day.node_id == "NEAR" and p.same_day.promised_date == date(2026, 5, 4)
    # after NEAR's cutoff the next nearest within 50 km takes over, a day of processing later
    p = r.promise(Order("o", lines, *NYC, placed_at=datetime(2026, 5, 4, 16)))
    assert p.same_day.node_id == "MID" and p.same_day.promised_date == date(2026, 5, 5)
    # NEAR lacks two of B; MID has them
    more = Order("o", (OrderLine("1", "A", 1), OrderLine("2", "B", 2)), *NYC, placed_at=datetime(2026, 5, 4, 9))
    assert r.promise(more).same_day.node_id == "MID"
    # after every nearby cutoff, or with a radius that reaches neither, none
    assert r.promise(Order("o", lines, *NYC, placed_at=datetime(2026, 5, 4, 21))).same_day is None
    tight = Router(net, inv, Policy(methods=MethodPolicy(same_day_radius_km=3.0)), business_day=DAY)
    assert tight.promise(morning).same_day is None
    # routing the same lines as same-day agrees
    d = r.route(Order("sd", tuple(OrderLine(ln.line_id, ln.sku, ln.qty, "same_day") for ln in lines), *NYC,
                      placed_at=datetime(2026, 5, 4, 16)))
    assert [(s.node_id, s.method, s.promised_date) for s in d.shipments] == [("MID", "same_day", date(2026, 5, 5))]


def test_pickup_lists_the_stores_nearby_that_hold_the_order():
    # stores at known places around the shopper in lower Manhattan
    nodes = [Node("WH", "warehouse", 40.0, -75.2),
             Node("ST-MIDTOWN", "store", 40.754, -73.984, pickup=True, processing_days=1),  # ~5 km
             Node("ST-BKLYN", "store", 40.678, -73.944, pickup=True),                       # ~7 km
             Node("ST-SHORT", "store", 40.72, -74.0, pickup=True),                          # ~1 km, lacks B
             Node("ST-NOPICK", "store", 40.73, -74.0),                                      # no pickup
             Node("ST-SHUT", "store", 40.715, -74.0, pickup=True, enabled=False),           # disabled
             Node("ST-FULL", "store", 40.70, -74.02, pickup=True, capacity_orders=0),       # no slot today
             Node("ST-NEWARK", "store", 40.735, -74.17, pickup=True),                       # ~14 km
             Node("ST-STAMFORD", "store", 41.05, -73.54, pickup=True)]                      # ~55 km
    net = Network.build(nodes, [Sku("A", 1.0, 10.0), Sku("B", 1.0, 10.0)])
    stock = [(n.node_id, s, 5) for n in nodes for s in ("A", "B")]
    stock[[i for i, x in enumerate(stock) if x[:2] == ("ST-SHORT", "B")][0]] = ("ST-SHORT", "B", 1)
    inv = Inventory.from_records(net, [StockRecord(*x) for x in stock])
    r = Router(net, inv, business_day=DAY)
    order = Order("o", (OrderLine("1", "A", 2), OrderLine("2", "B", 2)), *NYC)
    p = r.promise(order)
    assert [o.node_id for o in p.pickup] == ["ST-MIDTOWN", "ST-BKLYN", "ST-NEWARK"]
    assert [o.node_id for o in p.pickup] == [x for x, _ in brute_pickup(r, order)]
    assert [o.ready_date for o in p.pickup] == [date(2026, 5, 5), DAY, DAY]
    km = [o.distance_km for o in p.pickup]
    assert km == sorted(km) and km[0] == pytest.approx(_km(net, 1, *NYC), rel=1e-9)
    # one unit of B is all ST-SHORT has: an order for one is collected there first
    one = r.promise(Order("p", (OrderLine("1", "A", 2), OrderLine("2", "B", 1)), *NYC))
    assert one.pickup[0].node_id == "ST-SHORT"
    # the radius and the count come from the policy
    wide = Router(net, inv, Policy(methods=MethodPolicy(pickup_radius_km=100.0, pickup_options=10)), business_day=DAY)
    assert [o.node_id for o in wide.promise(order).pickup][-1] == "ST-STAMFORD"
    two = Router(net, inv, Policy(methods=MethodPolicy(pickup_options=2)), business_day=DAY)
    assert [o.node_id for o in two.promise(order).pickup] == ["ST-MIDTOWN", "ST-BKLYN"]
    # a reservation takes stock away from the options
    r.route(Order("take", (OrderLine("1", "B", 4, "pickup", "ST-BKLYN"),), *NYC))
    assert "ST-BKLYN" not in [o.node_id for o in r.promise(order).pickup]


# ----------------------------------------------------------------------------- availability


@given(seed=st.integers(0, 2**32 - 1))
def test_availability_is_every_store_nearby_with_stock_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    net = _cluster(rng, int(rng.integers(1, 15)), 3, limited=bool(rng.integers(2)))
    inv = make_inventory(rng, net, density=0.7, max_qty=5)
    walkin = pd.DataFrame([(n.node_id, s.sku, 1.0) for n in net.nodes for s in net.skus
                           if n.kind.value == "store" and inv.entry(n.node_id, s.sku) >= 0],
                          columns=["node_id", "sku", "walkin_daily_demand"])
    r = Router(net, inv, Policy(stores=StorePolicy(protect_days=float(rng.integers(0, 2)))), walkin=walkin,
               business_day=DAY)
    for i in range(3):
        r.route(_order(rng, net, f"h{i}", methods=False))
    for _ in range(5):
        sku = net.skus[int(rng.integers(net.n_skus))].sku
        lat, lon = NYC[0] + float(rng.uniform(-0.5, 0.5)), NYC[1] + float(rng.uniform(-0.5, 0.5))
        radius, limit = float(rng.choice([10.0, 30.0, np.inf])), int(rng.integers(0, 6))
        before = _state(r)
        rows = r.availability(sku, lat, lon, radius, limit)
        assert _state(r) == before
        want = []
        for n, node in enumerate(net.nodes):
            km = _km(net, n, lat, lon)
            slots, cap_units = r.capacity_left(node.node_id)
            units = min(r.atp(node.node_id, sku), cap_units) if r.inventory.entry(node.node_id, sku) >= 0 else 0
            if node.pickup and node.enabled and km <= radius and slots >= 1 and units >= 1:
                want.append((km, n, units))
        want.sort()
        assert [(x.node_id, x.units, x.ready_date) for x in rows] == [
            (net.nodes[n].node_id, u, DAY + timedelta(days=net.nodes[n].processing_days)) for _, n, u in want[:limit]]
        assert [x.distance_km for x in rows] == pytest.approx([km for km, _, _ in want[:limit]], rel=1e-9)


def test_availability_defaults_and_ready_day():
    nodes = [Node("ST-1", "store", 40.72, -74.0, pickup=True, processing_days=2),
             Node("ST-2", "store", 40.75, -73.99, pickup=True), Node("WH", "warehouse", 40.71, -74.0)]
    net = Network.build(nodes, [Sku("A", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("ST-1", "A", 3), StockRecord("ST-2", "A", 7, 2),
                                       StockRecord("WH", "A", 100)])
    r = Router(net, inv, business_day=DAY)
    rows = r.availability("A", *NYC)
    # the warehouse offers no pickup; ST-2's safety stock is not for sale
    assert [(x.node_id, x.units, x.ready_days) for x in rows] == [("ST-1", 3, 2.0), ("ST-2", 5, 0.0)]
    assert rows[0].ready_date == DAY + timedelta(days=2)
    late = r.availability("A", *NYC, placed_at=datetime(2026, 6, 1, 18))
    assert [x.ready_date for x in late] == [date(2026, 6, 3), date(2026, 6, 1)]
    assert r.availability("A", *NYC, limit=1)[0].node_id == "ST-1"
    assert r.availability("A", *NYC, radius_km=2.0)[0].node_id == "ST-1" and len(r.availability("A", *NYC, 2.0)) == 1
    assert r.availability("A", *NYC, limit=0) == ()


def test_availability_refuses_bad_input_listing_every_problem():
    net = Network.build([Node("ST", "store", 40.72, -74.0, pickup=True)], [Sku("A", 1.0, 10.0)])
    r = Router(net, Inventory.from_records(net, [StockRecord("ST", "A", 3)]))
    before = _state(r)
    with pytest.raises(ValidationError) as exc:
        r.availability("NOPE", 95.0, -74.0, -1.0, -2, placed_at="today")
    assert {p.field for p in exc.value.problems} == {"sku", "lat", "radius_km", "limit", "placed_at"}
    for bad in ({"radius_km": math.nan}, {"limit": 1.5}, {"limit": True}):
        with pytest.raises(ValidationError):
            r.availability("A", *NYC, **bad)
    assert _state(r) == before


# ----------------------------------------------------------------------------- errors, ids, vendors, ledger


def _small():
    nodes = [Node("WH", "warehouse", 40.0, -75.2), Node("ST", "store", 40.75, -73.99, pickup=True)]
    net = Network.build(nodes, [Sku("A", 1.0, 10.0), Sku("B", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 9), StockRecord("ST", "A", 2),
                                       StockRecord("WH", "B", 9)])
    return net, inv


def test_bad_input_raises_as_route_does_and_changes_nothing():
    net, inv = _small()
    r = Router(net, inv, business_day=DAY)
    r.route(Order("held", (OrderLine("1", "A", 1),), *NYC))
    before = _state(r)
    cases = [
        (Order("x", (OrderLine("1", "NOPE", 1), OrderLine("2", "A", 1, "pickup", "GONE")), *NYC), None),
        (Order("x", (OrderLine("1", "A", 1),), *NYC), "fastest"),
        (Order("held", (OrderLine("1", "A", 2),), *NYC), None),  # the id holds other content
    ]
    for order, strategy in cases:
        with pytest.raises(ValidationError) as promised:
            r.promise(order, strategy)
        assert _state(r) == before
        with pytest.raises(ValidationError) as routed:
            r.route(order, strategy)
        assert type(promised.value) is type(routed.value)
        assert promised.value.problems == routed.value.problems
    with pytest.raises(OrderConflict):
        r.promise(cases[2][0])
    assert _state(r) == before


def test_a_committed_or_batch_routed_id_promises_its_decision():
    net, inv = _small()
    r = Router(net, inv, business_day=DAY)
    order = Order("o", (OrderLine("1", "A", 3),), *NYC)
    r.route(order)
    d = r.commit("o")  # the decision as committed: what the id answers with from now on
    before = _state(r)
    p = r.promise(order)
    assert p.existing and bare(p.ship) == bare(d) and _state(r) == before
    r.route_many([Order("b", (OrderLine("1", "B", 1),), *NYC)])
    p = r.promise(Order("b", (OrderLine("1", "B", 1),), *NYC))
    assert p.existing and p.ship.allocations[0].node_id == "WH"


def test_with_a_ledger_nothing_is_written_and_a_spent_id_answers(tmp_path):
    net, inv = _small()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Router(net, inv, business_day=DAY, store=url) as r:
        done = Order("done", (OrderLine("1", "A", 1),), *NYC)
        r.route(done)
        first = r.commit("done")
        before = _state(r)
        fresh = Order("new", (OrderLine("1", "A", 2), OrderLine("2", "B", 1)), *NYC)
        p = r.promise(fresh)
        assert _state(r) == before
        assert bare(p.ship) == bare(r.route(fresh))
        before = _state(r)
        again = r.promise(done)
        assert again.existing and bare(again.ship) == bare(first)
        with pytest.raises(OrderConflict):
            r.promise(Order("done", (OrderLine("1", "A", 2),), *NYC))
        assert _state(r) == before


def test_live_vendors_are_asked_as_route_asks_them_unless_told_not_to():
    net, inv, offers = warehouse_and_vendor("VN", 45.0)
    order = Order("o", (OrderLine("1", "A", 1), OrderLine("2", "B", 2)), *NYC)
    with VendorServer({"VN": ok({"B": 4})}) as srv:
        r = Router(net, inv, vendor_offers=offers, gateway=HttpVendorGateway(srv.base_urls), business_day=DAY)
        before = _state(r)
        quiet = r.promise(order, ask_vendors=False)
        assert srv.requests == [] and _state(r) == before
        assert quiet.ship.status is Status.PARTIAL
        assert dict(quiet.ship.explanation.vendor_failures) == {"VN": NOT_ASKED}
        p = r.promise(order)
        assert len(srv.requests) == 1 and _state(r) == before
        d = r.route(order)
    assert p.ship.status is Status.ROUTED and bare(p.ship) == bare(d)


def test_every_strategy_name_is_accepted_and_the_default_is_the_policys():
    net, inv = _small()
    r = Router(net, inv, Policy(strategy="nearest"), business_day=DAY)
    order = Order("o", (OrderLine("1", "A", 1),), *NYC)
    assert r.promise(order).ship.strategy == "nearest"
    for name in STRATEGIES:
        assert r.promise(order, name).ship.strategy == name
    assert K.STRATEGY_CODES.keys() == set(STRATEGIES)


def test_policy_keys_for_pickup_are_validated():
    with pytest.raises(ValidationError):
        MethodPolicy(pickup_radius_km=-1.0)
    with pytest.raises(ValidationError):
        MethodPolicy(pickup_options=-1)
    with pytest.raises(ValidationError):
        MethodPolicy(pickup_options=2.5)
    pol = Policy.from_dict({"methods": {"pickup_radius_km": 10, "pickup_options": 2}})
    assert pol.methods.pickup_radius_km == 10 and pol.methods.pickup_options == 2


def test_the_random_worlds_offer_options_and_refuse_them():
    # the property tests above are only as good as their worlds: near enough for the radii to bite,
    # so that pickup and same-day are offered in some draws and refused in others
    offered = {"pickup": 0, "same_day": 0, "neither": 0}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        net = _cluster(rng, int(rng.integers(3, 12)), int(rng.integers(2, 5)))
        r = Router(net, make_inventory(rng, net, density=0.8, max_qty=6), _policy(rng, "cost"), business_day=DAY)
        for i in range(5):
            p = r.promise(_order(rng, net, f"o{i}", methods=False))
            offered["pickup"] += bool(p.pickup)
            offered["same_day"] += p.same_day is not None
            offered["neither"] += not p.pickup and p.same_day is None
    assert min(offered.values()) >= 10, offered
