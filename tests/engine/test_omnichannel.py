"""Scenario tests for the omnichannel features: tiers, vendors, stores, methods,
service levels, capacity, re-sourcing and substitutes."""

from __future__ import annotations

import threading
import time
from datetime import date
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine.router import Router
from sourcewise.engine.substitutes import SubstituteIndex
from sourcewise.engine.vendors import HttpVendorGateway
from sourcewise.engine.vendors import VendorOffers
from sourcewise.models import Inventory
from sourcewise.models import MethodPolicy
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
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
from tests.conftest import make_network
from tests.conftest import make_order
from tests.engine.vendor_server import VendorServer
from tests.engine.vendor_server import hang
from tests.engine.vendor_server import ok
from tests.engine.vendor_server import slow

NYC = (40.71, -74.01)


def _line(sku="A", qty=1, lid="1", **kw):
    return OrderLine(lid, sku, qty, **kw)


def _skus(*names):
    return [Sku(n, 1.0, 50.0) for n in names]


def test_warehouse_stockout_falls_back_to_nearest_store_then_vendor():
    nodes = [Node("WH", "warehouse", 40.0, -75.5), Node("ST-near", "store", 40.7, -74.0),
             Node("ST-far", "store", 34.0, -118.2), Node("VN", "vendor", 39.0, -77.0, fee_rate=0.15)]
    net = Network.build(nodes, _skus("A"))
    stock = {"WH": 0, "ST-near": 2, "ST-far": 5, "VN": 50}
    inv = Inventory.from_records(net, [StockRecord(n, "A", q) for n, q in stock.items()])
    r = Router(net, inv, Policy(stores=StorePolicy(depletion_weight=0.0)))
    d = r.route(Order("o1", (_line(qty=1),), *NYC))
    assert [s.node_id for s in d.shipments] == ["ST-near"] and d.shipments[0].tier == "own"
    # the near store now has 1; an order for 3 takes it, the far store's... no: the vendor is
    # the backup only for what own nodes cannot cover within the split limit
    d = r.route(Order("o2", (_line(qty=7),), *NYC, max_shipments=2))
    by_node = {a.node_id: a.qty for a in d.allocations}
    assert by_node == {"ST-near": 1, "ST-far": 5} or by_node == {"ST-far": 5, "ST-near": 1}
    assert d.status is Status.PARTIAL
    d = r.route(Order("o3", (_line(qty=4),), *NYC))
    assert [a.node_id for a in d.allocations] == ["VN"]
    tiers = {t.tier: t for t in d.explanation.tiers}
    assert tiers["own"].served == () and "no eligible node" in tiers["own"].reason
    assert tiers["vendors"].served == (("1", 4),)
    assert d.cost.vendor_fees == pytest.approx(4 * 0.15 * 50.0)


def test_strict_warehouses_before_stores():
    nodes = [Node("WH", "warehouse", 34.0, -118.2), Node("ST", "store", 40.7, -74.0)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 5), StockRecord("ST", "A", 5)])
    order = Order("o", (_line(),), *NYC)
    assert Router(net, inv).route(order).shipments[0].node_id == "ST"
    strict = Policy(tiers=(Tier("wh", ("warehouse",)), Tier("st", ("store",))))
    assert Router(net, inv, strict).route(order).shipments[0].node_id == "WH"


def test_tier_restricted_by_distance_and_channel():
    nodes = [Node("WH", "warehouse", 34.0, -118.2), Node("ST", "store", 40.7, -74.0)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 5), StockRecord("ST", "A", 5)])
    pol = Policy(tiers=(Tier("stores-marketplace", ("store",), channels=("marketplace",)),
                        Tier("warehouses", ("warehouse",), max_distance_km=1000.0)))
    r = Router(net, inv, pol)
    web = r.route(Order("w", (_line(),), *NYC, channel="web"))
    assert web.status is Status.UNROUTABLE  # the only tier for web cannot reach 3,900 km away
    mk = r.route(Order("m", (_line(),), *NYC, channel="marketplace"))
    assert mk.shipments[0].node_id == "ST"


def _vendor_setup():
    nodes = [Node("WH", "warehouse", 40.0, -75.5), Node("VN-1", "vendor", 41.0, -80.0),
             Node("VN-2", "vendor", 39.0, -77.0)]
    net = Network.build(nodes, _skus("A", "B"))
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 1)])
    offers = VendorOffers.from_frame(net, pd.DataFrame({
        "node_id": ["VN-1", "VN-1", "VN-2"], "sku": ["A", "B", "B"], "price": [40.0, 45.0, 44.0],
        "fee_rate": [0.1, 0.1, 0.12], "lead_days": [2, 2, 3], "reliability": [0.95, 0.95, 0.9]}))
    return net, inv, offers


def test_vendor_gateway_timeout_is_skipped_and_order_still_routes():
    net, inv, offers = _vendor_setup()
    with VendorServer({"VN-1": slow(3.0, {"A": 9, "B": 9}), "VN-2": ok({"B": 4})}) as srv:
        pol = Policy(vendors=Policy().vendors.__class__(gateway_timeout_s=0.3))
        r = Router(net, inv, pol, vendor_offers=offers, gateway=HttpVendorGateway(srv.base_urls))
        d = r.route(Order("o", (_line("A", 1, "1"), _line("B", 2, "2")), *NYC))
    assert d.status is Status.ROUTED
    assert sorted((a.node_id, a.sku, a.qty) for a in d.allocations) == [("VN-2", "B", 2), ("WH", "A", 1)]
    failures = dict(d.explanation.vendor_failures)
    assert "VN-1" in failures and "timeout" in failures["VN-1"]
    assert d.cost.vendor_fees == pytest.approx(2 * 0.12 * 44.0)
    # live vendor stock is not held in our books: releasing touches only the warehouse
    r.release("o")
    assert r.atp("WH", "A") == 1


def test_a_hanging_vendor_does_not_delay_other_orders():
    """Vendors are asked outside the router's lock: while one order waits for a vendor that never
    answers, other threads route, release and commit without waiting; the waiting order still
    gets its answer by its deadline, no thread is left behind, and the books add up."""
    net, inv, offers = _vendor_setup()
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 500)])
    timeout = 0.8
    with VendorServer({"VN-1": hang(), "VN-2": hang()}) as srv:
        pol = Policy(vendors=Policy().vendors.__class__(gateway_timeout_s=timeout))
        r = Router(net, inv, pol, vendor_offers=offers, gateway=HttpVendorGateway(srv.base_urls))
        r.route(Order("warm", (_line("A", 1, "1"),), *NYC))  # compile before timing anything
        threads_before = set(threading.enumerate())
        started = threading.Event()
        waited: list[float] = []

        def needs_vendor():
            started.set()
            t0 = time.monotonic()
            d = r.route(Order("slow", (_line("B", 2, "1"),), *NYC))  # only vendors offer B
            waited.append(time.monotonic() - t0)
            assert d.status is Status.UNROUTABLE and set(dict(d.explanation.vendor_failures)) == {"VN-1", "VN-2"}

        t = threading.Thread(target=needs_vendor)
        t.start()
        started.wait()
        time.sleep(0.1)  # the vendor call is under way
        lat = []
        for k in range(40):
            t0 = time.monotonic()
            r.route(Order(f"p{k}", (_line("A", 1, "1"),), *NYC))
            if k % 2:
                r.commit(f"p{k}")
            else:
                r.release(f"p{k}")
            lat.append(time.monotonic() - t0)
        busy_while = t.is_alive()
        t.join(timeout=10)
    assert busy_while, "the vendor order should still be waiting while the others ran"
    assert max(lat) < 0.25, f"a plain order waited {max(lat):.2f} s behind the vendor call"
    assert waited and timeout - 0.05 < waited[0] < timeout + 0.5
    assert set(threading.enumerate()) <= threads_before | {threading.current_thread()}
    assert r.atp("WH", "A") == 500 - 1 - 20  # the warm-up order and the 20 commits
    assert r.open_orders == ("warm", "slow")


def test_a_reroute_waiting_on_a_vendor_does_not_delay_other_orders():
    """reroute() asks vendors outside the lock too: a re-route that falls to a hanging vendor lets
    other orders through, and ends with the vendor's failure recorded and the books whole."""
    net, inv, offers = _vendor_setup()
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 500)])
    with VendorServer({"VN-1": hang(), "VN-2": hang()}) as srv:
        pol = Policy(vendors=Policy().vendors.__class__(gateway_timeout_s=0.8))
        r = Router(net, inv, pol, vendor_offers=offers, gateway=HttpVendorGateway(srv.base_urls))
        r.route(Order("o", (_line("A", 2, "1"),), *NYC))
        done = threading.Event()

        def reroute():
            r.reroute("o", "WH", shortfall=0)  # only the vendors offer A elsewhere
            done.set()

        t = threading.Thread(target=reroute)
        t.start()
        time.sleep(0.15)
        t0 = time.monotonic()
        for k in range(20):
            r.route(Order(f"p{k}", (_line("A", 1, "1"),), *NYC))
        waited = time.monotonic() - t0
        busy_while = not done.is_set()
        t.join(timeout=10)
    assert busy_while and waited < 0.5, waited
    d = r.decision("o")
    assert d.status is not Status.ROUTED and r.atp("WH", "A") == 500 - 20
    assert set(dict(d.explanation.vendor_failures)) <= {"VN-1", "VN-2"}


def test_all_vendors_failing_leaves_the_order_partial_not_lost():
    net, inv, offers = _vendor_setup()
    with VendorServer({"VN-1": slow(3.0, {"B": 9}), "VN-2": slow(3.0, {"B": 9})}) as srv:
        pol = Policy(vendors=Policy().vendors.__class__(gateway_timeout_s=0.2))
        r = Router(net, inv, pol, vendor_offers=offers, gateway=HttpVendorGateway(srv.base_urls))
        d = r.route(Order("o", (_line("A", 1, "1"), _line("B", 2, "2")), *NYC))
    assert d.status is Status.PARTIAL and dict(d.unfilled) == {"2": 2}
    assert set(dict(d.explanation.vendor_failures)) == {"VN-1", "VN-2"}
    assert r.decision("o") is d


def test_equidistant_stores_draw_the_one_with_relatively_more_stock():
    # two stores at the same distance from the customer (mirror images across the meridian)
    nodes = [Node("S-lean", "store", 40.0, -75.2), Node("S-deep", "store", 40.0, -74.8)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("S-lean", "A", 6), StockRecord("S-deep", "A", 6)])
    walkin = pd.DataFrame({"node_id": ["S-lean", "S-deep"], "sku": ["A", "A"], "walkin_daily_demand": [5.0, 0.5]})
    d = Router(net, inv, walkin=walkin).route(Order("o", (_line(),), 40.0, -75.0))
    assert d.shipments[0].node_id == "S-deep"
    assert d.cost.penalties > 0
    # the other way round when the demand is swapped
    walkin["walkin_daily_demand"] = [0.5, 5.0]
    d = Router(net, inv, walkin=walkin).route(Order("o", (_line(),), 40.0, -75.0))
    assert d.shipments[0].node_id == "S-lean"


def test_store_protected_units_never_go_to_online_orders():
    nodes = [Node("ST", "store", 40.7, -74.0, protect_units=2), Node("ST2", "store", 40.8, -74.1)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("ST", "A", 5), StockRecord("ST2", "A", 6)])
    walkin = pd.DataFrame({"node_id": ["ST2"], "sku": ["A"], "walkin_daily_demand": [1.5]})
    r = Router(net, inv, Policy(stores=StorePolicy(protect_days=2.0)), walkin=walkin)
    assert r.atp("ST", "A") == 3 and r.atp("ST2", "A") == 3  # 2 units; ceil(2 days x 1.5)
    d = r.route(Order("o", (_line(qty=10),), *NYC))
    assert d.units == 6 and d.status is Status.PARTIAL
    assert r.route(Order("p", (_line(),), *NYC)).status is Status.UNROUTABLE
    # walk-in shoppers can still buy the protected units
    assert r.adjust_stock("ST", "A", -2) == -2


def test_pickup_is_sourced_at_the_named_store():
    nodes = [Node("WH", "warehouse", 40.7, -74.0), Node("ST-X", "store", 41.5, -73.0, pickup=True)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 50), StockRecord("ST-X", "A", 2)])
    d = Router(net, inv).route(Order("o", (_line(qty=2, method="pickup", pickup_node="ST-X"),), *NYC))
    assert [(s.node_id, s.method) for s in d.shipments] == [("ST-X", "pickup")]
    assert d.cost.shipping == 0
    # not enough at the store: refused with the reason, unless transfers are allowed
    big = Order("p", (_line(qty=5, method="pickup", pickup_node="ST-X"),), *NYC)
    d = Router(net, inv).route(big)
    assert d.status is Status.PARTIAL and dict(d.unfilled) == {"1": 3}
    assert any("lacks stock" in t.reason for t in d.explanation.tiers)
    r = Router(net, inv, Policy(methods=MethodPolicy(pickup_transfer=True, transfer_radius_km=200)))
    d = r.route(big)
    assert d.status is Status.ROUTED
    assert sorted((s.node_id, s.method, s.units) for s in d.shipments) == [("ST-X", "pickup", 2),
                                                                            ("WH", "transfer", 3)]


def test_same_day_outside_radius_is_refused_with_reason():
    nodes = [Node("FAR", "warehouse", 42.36, -71.06, cutoff_hour=20)]  # Boston, ~300 km away
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("FAR", "A", 5)])
    r = Router(net, inv)
    d = r.route(Order("o", (_line(method="same_day"),), *NYC, placed_at=datetime(2026, 5, 1, 9)))
    assert d.status is Status.UNROUTABLE
    assert [c.reason for c in d.explanation.candidates] == ["too far"]
    near = Router(net, inv, Policy(methods=MethodPolicy(same_day_radius_km=400)))
    d = near.route(Order("o", (_line(method="same_day"),), *NYC, placed_at=datetime(2026, 5, 1, 9)))
    assert d.status is Status.ROUTED
    late = near.route(Order("q", (_line(method="same_day"),), *NYC, placed_at=datetime(2026, 5, 1, 21)))
    assert late.status is Status.UNROUTABLE
    assert [c.reason for c in late.explanation.candidates] == ["past cutoff"]


def test_next_day_excludes_far_nodes_and_reports_promise_dates():
    nodes = [Node("LA", "warehouse", 34.05, -118.24, processing_days=0, cutoff_hour=15),
             Node("NJ", "store", 40.73, -74.17, processing_days=0, cutoff_hour=15)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("LA", "A", 9), StockRecord("NJ", "A", 1)])
    r = Router(net, inv, Policy(stores=StorePolicy(depletion_weight=0.0)))
    placed = datetime(2026, 5, 1, 10)
    d = r.route(Order("o", (_line(qty=3),), *NYC, service_level="next_day", placed_at=placed))
    assert [(s.node_id, s.units) for s in d.shipments] == [("NJ", 1)]
    assert d.shipments[0].promised_days == 1 and d.shipments[0].promised_date == date(2026, 5, 2)
    reasons = {c.node_id: c.reason for c in d.explanation.candidates}
    assert reasons["LA"] == "misses delivery date"
    std = r.route(Order("p", (_line(qty=3),), *NYC, placed_at=datetime(2026, 5, 1, 16)))
    assert std.shipments[0].node_id == "LA" and std.shipments[0].promised_days == 6  # 5 transit + cutoff
    pen = Router(net, inv, Policy(service=ServicePolicy(late="penalty", late_penalty_per_day=4.0)))
    d = pen.route(Order("q", (_line(qty=3),), *NYC, service_level="express", placed_at=placed))
    assert d.status is Status.ROUTED and d.cost.penalties == pytest.approx(4.0 * (5 - 3))


def test_full_node_receives_nothing_more_that_day_and_does_again_the_next():
    nodes = [Node("WH", "warehouse", 40.0, -75.0, capacity_orders=2),
             Node("WH2", "warehouse", 34.0, -118.0, capacity_units=3)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 100), StockRecord("WH2", "A", 100)])
    r = Router(net, inv, business_day=date(2026, 5, 1))
    got = [r.route(Order(f"o{i}", (_line(),), *NYC)).shipments for i in range(6)]
    nodes_used = [s[0].node_id if s else None for s in got]
    assert nodes_used == ["WH", "WH", "WH2", "WH2", "WH2", None]
    assert r.capacity_left("WH") == (0, (1 << 60) - 2)
    r.set_business_day(date(2026, 5, 2))
    assert r.route(Order("next", (_line(),), *NYC)).shipments[0].node_id == "WH"
    # releasing a same-day order gives its capacity back
    r.release("next")
    assert r.capacity_left("WH")[0] == 2


def test_explanation_sees_the_capacity_before_the_order_that_used_it_up():
    # WH2 takes exactly its last 3 units of capacity: its explanation must still show it selected
    nodes = [Node("WH", "warehouse", 40.0, -75.0, capacity_orders=1),
             Node("WH2", "warehouse", 34.0, -118.0, capacity_units=3)]
    net = Network.build(nodes, _skus("A", "B"))
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 100), StockRecord("WH2", "A", 100),
                                       StockRecord("WH2", "B", 100)])
    r = Router(net, inv, business_day=date(2026, 5, 1))
    r.route(Order("first", (_line(),), *NYC))  # WH's only order slot
    d = r.route(Order("o", (_line("A", 2, "1"), _line("B", 1, "2")), *NYC))
    assert [s.node_id for s in d.shipments] == ["WH2"]
    reasons = {c.node_id: c.reason for c in d.explanation.candidates}
    assert reasons["WH2"] == "selected"
    assert reasons["WH"] == "at capacity"


def test_reroute_after_store_rejection_moves_only_the_rejected_lines():
    nodes = [Node("ST", "store", 40.72, -74.0), Node("WH", "warehouse", 40.0, -75.5),
             Node("WH2", "warehouse", 41.8, -87.6)]
    net = Network.build(nodes, _skus("A", "B"))
    inv = Inventory.from_records(net, [StockRecord("ST", "A", 3), StockRecord("ST", "B", 3),
                                       StockRecord("WH", "A", 5), StockRecord("WH2", "B", 5)])
    r = Router(net, inv, Policy(stores=StorePolicy(depletion_weight=0.0)))
    d = r.route(Order("o", (_line("A", 1, "1"), _line("B", 1, "2")), *NYC))
    assert {s.node_id for s in d.shipments} == {"ST"}
    d2 = r.reroute("o", "ST", lines=["2"])
    by_line = {a.line_id: a.node_id for a in d2.allocations}
    assert by_line == {"1": "ST", "2": "WH2"}
    assert r.atp("ST", "B") == 0 and r.atp("ST", "A") == 2  # the rejected SKU's ATP is zeroed
    assert "re-routed" in str(d2.explanation)
    # and the whole order still releases cleanly
    r.release("o")
    assert r.atp("ST", "A") == 3 and r.atp("WH2", "B") == 5
    with pytest.raises(ValidationError):
        r.route(Order("x", (_line("A", 1, "1"),), *NYC))
        r.reroute("x", "WH2")


def test_reroute_with_shortfall_reduces_on_hand():
    nodes = [Node("ST", "store", 40.72, -74.0), Node("WH", "warehouse", 40.0, -75.5)]
    net = Network.build(nodes, _skus("A"))
    inv = Inventory.from_records(net, [StockRecord("ST", "A", 4), StockRecord("WH", "A", 5)])
    r = Router(net, inv, Policy(stores=StorePolicy(depletion_weight=0.0)))
    r.route(Order("o", (_line("A", 2, "1"),), *NYC))
    d = r.reroute("o", "ST", shortfall=3)
    assert [(a.node_id, a.qty) for a in d.allocations] == [("WH", 2)]
    assert r.snapshot().on_hand[0] == 1


def test_substitutes_are_proposed_for_an_item_out_of_stock_everywhere():
    net = Network.build([Node("WH", "warehouse", 40.0, -75.0)],
                        [Sku("RED-M", 1, 20), Sku("BLUE-M", 1, 21), Sku("RED-L", 1, 20), Sku("TV", 9, 900)])
    inv = Inventory.from_records(net, [StockRecord("WH", s, q) for s, q in
                                       (("RED-M", 0), ("BLUE-M", 4), ("RED-L", 2), ("TV", 5))])
    subs = SubstituteIndex.from_frame(net, pd.DataFrame({
        "sku": ["RED-M", "BLUE-M", "RED-L", "TV"], "category": ["shirt", "shirt", "shirt", "tv"],
        "brand": ["acme", "acme", "acme", "vizio"], "price": [20, 21, 20, 900],
        "substitutes": ["RED-L", "", "", ""]}))
    r = Router(net, inv, substitutes=subs)
    d = r.route(Order("o", (_line("RED-M", 1),), *NYC))
    assert d.status is Status.UNROUTABLE and d.allocations == ()
    proposed = dict(d.substitutes)["1"]
    assert [s for s, _ in proposed][:2] == ["RED-L", "BLUE-M"]
    assert "TV" not in [s for s, _ in proposed][:2]
    assert r.atp("WH", "RED-L") == 2  # proposals reserve nothing
    off = r.route(Order("p", (_line("RED-M", 1),), *NYC, allow_substitutes=False))
    assert off.substitutes == ()


def test_policy_toml_round_trip(tmp_path):
    from sourcewise.models.policy import load_policy

    (tmp_path / "policy.toml").write_text(
        'strategy = "cost"\n[[tiers]]\nname = "wh"\nkinds = ["warehouse"]\n[[tiers]]\nname = "st"\n'
        'kinds = ["store"]\nmax_distance_km = 300\n[stores]\nprotect_days = 1.5\n[service]\nlate = "penalty"\n'
        'transit_bands = [[500, 1], [20000, 4]]\n[methods]\npickup_transfer = true\n')
    pol = load_policy(tmp_path / "policy.toml")
    assert [t.name for t in pol.tiers] == ["wh", "st"] and pol.tiers[1].max_distance_km == 300
    assert pol.stores.protect_days == 1.5 and pol.service.late == "penalty" and pol.methods.pickup_transfer


@given(seed=st.integers(0, 2**32 - 1), strategy=st.sampled_from(["cost", "priority", "nearest", "high_stock"]))
def test_invariants_hold_with_every_feature_enabled(seed, strategy):
    rng = np.random.default_rng(seed)
    net = make_network(rng, int(rng.integers(2, 8)), int(rng.integers(3, 6)), disabled=0.1)
    inv = make_inventory(rng, net, density=0.6, max_qty=6)
    walkin = pd.DataFrame([(n.node_id, s.sku, float(rng.uniform(0, 3))) for n in net.nodes for s in net.skus
                           if n.kind.value == "store" and inv.entry(n.node_id, s.sku) >= 0],
                          columns=["node_id", "sku", "walkin_daily_demand"])
    pol = Policy(strategy=strategy, stores=StorePolicy(protect_units=1, protect_days=0.5),
                 service=ServicePolicy(standard_days=4.0, late=str(rng.choice(["exclude", "penalty"]))))
    r = Router(net, inv, pol, walkin=walkin)
    start = naive.atp_dict(r.snapshot())
    for i in range(12):
        order = make_order(rng, net, f"O{i}", max_qty=4, max_shipments=int(rng.integers(1, 4)))
        order = Order(order.order_id, order.lines, order.lat, order.lon, order.allow_split, order.max_shipments,
                      str(rng.choice(["standard", "express", "next_day"])), "web",
                      datetime(2026, 5, 1, int(rng.integers(0, 24))))
        d = r.route(order)
        per_line = {ln.line_id: 0 for ln in order.lines}
        for a in d.allocations:
            per_line[a.line_id] += a.qty
        for ln in order.lines:
            assert per_line[ln.line_id] + dict(d.unfilled).get(ln.line_id, 0) == ln.qty
    snap = r.snapshot()
    # never beyond ATP net of safety stock and store protection
    assert (snap.reserved <= np.maximum(0, snap.on_hand - r._safety)).all()
    taken = {}
    for oid in r.open_orders:
        for a in r.decision(oid).allocations:
            key = (net.node_index[a.node_id], net.sku_index[a.sku])
            taken[key] = taken.get(key, 0) + a.qty
    for key, q in taken.items():
        assert q <= start.get(key, 0)


def test_cached_substitute_ranking_still_follows_current_stock():
    net = Network.build([Node("WH", "warehouse", 40.0, -75.0)],
                        [Sku("RED-M", 1, 20), Sku("RED-L", 1, 20), Sku("BLUE-M", 1, 21)])
    inv = Inventory.from_records(net, [StockRecord("WH", s, q) for s, q in
                                       (("RED-M", 0), ("RED-L", 1), ("BLUE-M", 3))])
    subs = SubstituteIndex.from_frame(net, pd.DataFrame({"sku": ["RED-M", "RED-L", "BLUE-M"],
                                                         "category": ["shirt"] * 3, "substitutes": ["RED-L", "", ""]}))
    r = Router(net, inv, Policy(substitutes=Policy().substitutes.__class__(max_proposals=1)), substitutes=subs)
    first = r.route(Order("o", (_line("RED-M", 1),), *NYC))
    assert [s for s, _ in dict(first.substitutes)["1"]] == ["RED-L"]
    r.route(Order("buy", (_line("RED-L", 1),), *NYC))  # the explicit substitute sells out
    second = r.route(Order("p", (_line("RED-M", 1),), *NYC))
    assert [s for s, _ in dict(second.substitutes)["1"]] == ["BLUE-M"]


def test_releasing_batch_routed_orders_gives_back_their_capacity(rng):
    # capacity-limited nodes across two tiers; route_many takes capacity, release returns exactly it
    from tests.conftest import make_inventory
    from tests.conftest import make_network
    from tests.conftest import make_order

    net0 = make_network(rng, 12, 6)
    nodes = [Node(n.node_id, n.kind.value, n.lat, n.lon, capacity_orders=int(rng.integers(3, 9)),
                  capacity_units=int(rng.integers(5, 20))) for n in net0.nodes]
    net = Network.build(nodes, list(net0.skus))
    inv = make_inventory(rng, net, density=0.8, max_qty=6)
    r = Router(net, inv, business_day=date(2026, 5, 1))
    before = {n.node_id: r.capacity_left(n.node_id) for n in nodes}
    orders = [make_order(rng, net, f"b{i}", max_lines=3) for i in range(25)]
    r.route_many(orders)
    assert any(r.capacity_left(n.node_id) != before[n.node_id] for n in nodes)
    for o in orders:
        r.release(o.order_id)
    assert {n.node_id: r.capacity_left(n.node_id) for n in nodes} == before
    assert r.snapshot().reserved.sum() == 0
