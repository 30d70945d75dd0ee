"""Scenario tests of the router: the behaviours the core issue names."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sourcewise.engine.router import ReservationError
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import Status
from sourcewise.models import StockRecord
from sourcewise.models import ValidationError
from tests.conftest import flat_policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.conftest import make_order


def _net(nodes, skus=("SKU-1", "SKU-2", "SKU-3", "SKU-4")):
    return Network.build(nodes, [Sku(s, 1.0, 10.0) for s in skus])


def test_priority_fill_across_three_sources_like_magento():
    # Magento MSI's priority algorithm test: SKU-1 x8 takes 5 from the first
    # source and 3 from the second; SKU-4 x4 comes from the second.
    net = _net([Node("eu-1", "warehouse", 48.8, 2.3, priority=1),
                Node("eu-2", "warehouse", 50.1, 8.7, priority=2),
                Node("eu-3", "warehouse", 52.5, 13.4, priority=3)])
    inv = Inventory.from_records(net, [
        StockRecord("eu-1", "SKU-1", 5), StockRecord("eu-2", "SKU-1", 3), StockRecord("eu-3", "SKU-1", 10),
        StockRecord("eu-2", "SKU-4", 20), StockRecord("eu-3", "SKU-4", 20),
    ])
    d = Router(net, inv, Policy(strategy="priority")).route(
        Order("o", (OrderLine("1", "SKU-1", 8), OrderLine("2", "SKU-4", 4)), 48.0, 2.0))
    got = sorted((a.sku, a.node_id, a.qty) for a in d.allocations)
    assert got == [("SKU-1", "eu-1", 5), ("SKU-1", "eu-2", 3), ("SKU-4", "eu-2", 4)]
    assert d.status is Status.ROUTED


def test_order_no_node_can_complete_is_partial_with_what_exists():
    net = _net([Node("A", "warehouse", 40, -75), Node("B", "warehouse", 41, -80)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 2), StockRecord("B", "SKU-2", 1)])
    d = Router(net, inv).route(Order("o", (OrderLine("1", "SKU-1", 5), OrderLine("2", "SKU-2", 1),
                                           OrderLine("3", "SKU-3", 1)), 40, -76))
    assert d.status is Status.PARTIAL
    assert sorted((a.node_id, a.qty) for a in d.allocations) == [("A", 2), ("B", 1)]
    assert dict(d.unfilled) == {"1": 3, "3": 1}


def test_unroutable_when_nothing_in_stock():
    net = _net([Node("A", "warehouse", 40, -75)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 0)])
    d = Router(net, inv).route(Order("o", (OrderLine("1", "SKU-1", 1),), 40, -76))
    assert d.status is Status.UNROUTABLE and d.allocations == () and d.cost.total == 0
    assert [c.reason for c in d.explanation.candidates] == ["no stock"]


def test_whole_order_consolidation_beats_per_line_nearest():
    # Two near nodes each hold one of the SKUs; a farther node holds both.
    # One parcel from the far node saves a shipment (8.76) for a few hundred miles.
    near1 = Node("near1", "warehouse", 40.0, -75.0)
    near2 = Node("near2", "warehouse", 40.1, -75.1)
    far = Node("far", "warehouse", 41.9, -87.6)  # ~660 miles away
    net = _net([near1, near2, far])
    inv = Inventory.from_records(net, [StockRecord("near1", "SKU-1", 5), StockRecord("near2", "SKU-2", 5),
                                       StockRecord("far", "SKU-1", 5), StockRecord("far", "SKU-2", 5)])
    order = Order("o", (OrderLine("1", "SKU-1", 1), OrderLine("2", "SKU-2", 1)), 40.05, -75.05)
    cost = Router(net, inv).route(order)
    nearest = Router(net, inv, Policy(strategy="nearest")).route(order)
    assert {s.node_id for s in cost.shipments} == {"far"}
    assert {s.node_id for s in nearest.shipments} == {"near1", "near2"}
    assert cost.cost.total < nearest.cost.total
    notes = {c.node_id: c for c in cost.explanation.candidates}
    assert notes["near1"].reason == "costlier" and notes["near1"].extra_cost > 0


def test_split_limit_of_one():
    net = _net([Node("A", "warehouse", 40, -75), Node("B", "warehouse", 41, -80)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5), StockRecord("B", "SKU-2", 5)])
    order = Order("o", (OrderLine("1", "SKU-1", 1), OrderLine("2", "SKU-2", 1)), 40, -76, max_shipments=1)
    d = Router(net, inv).route(order)
    assert len(d.shipments) == 1 and d.status is Status.PARTIAL
    unsplit = Order("p", order.lines, 40, -76, allow_split=False)
    assert len(Router(net, inv).route(unsplit).shipments) == 1
    assert len(Router(net, inv).route(Order("q", order.lines, 40, -76)).shipments) == 2
    reasons = {c.node_id: c.reason for c in d.explanation.candidates}
    assert "split limit" in reasons.values()


def test_idempotent_reroute_returns_same_decision_and_reserves_nothing():
    net = _net([Node("A", "warehouse", 40, -75)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 10)])
    r = Router(net, inv)
    order = Order("o", (OrderLine("1", "SKU-1", 3),), 40, -76)
    d1 = r.route(order)
    d2 = r.route(order)
    assert d1 is d2
    assert r.atp("A", "SKU-1") == 7


def test_release_restores_atp_and_commit_consumes():
    net = _net([Node("A", "warehouse", 40, -75)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 10, safety_stock=2)])
    r = Router(net, inv)
    r.route(Order("o", (OrderLine("1", "SKU-1", 3),), 40, -76))
    assert r.atp("A", "SKU-1") == 5
    r.release("o")
    assert r.atp("A", "SKU-1") == 8
    with pytest.raises(ReservationError):
        r.release("o")
    r.route(Order("o", (OrderLine("1", "SKU-1", 4),), 40, -76))
    r.commit("o")
    snap = r.snapshot()
    assert snap.on_hand[0] == 6 and snap.reserved[0] == 0 and r.atp("A", "SKU-1") == 4
    # a committed order is not routed again
    assert r.route(Order("o", (OrderLine("1", "SKU-1", 4),), 40, -76)).units == 4
    assert r.atp("A", "SKU-1") == 4


def test_safety_stock_is_never_allocated():
    net = _net([Node("A", "warehouse", 40, -75)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5, safety_stock=3)])
    r = Router(net, inv)
    d = r.route(Order("o", (OrderLine("1", "SKU-1", 5),), 40, -76))
    assert d.units == 2 and d.status is Status.PARTIAL
    d = r.route(Order("p", (OrderLine("1", "SKU-1", 1),), 40, -76))
    assert d.status is Status.UNROUTABLE


def test_disabled_node_is_reported_and_never_used():
    net = _net([Node("A", "warehouse", 40, -75, enabled=False), Node("B", "store", 45, -93)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5), StockRecord("B", "SKU-1", 5)])
    d = Router(net, inv).route(Order("o", (OrderLine("1", "SKU-1", 1),), 40, -75.1))
    assert [a.node_id for a in d.allocations] == ["B"]
    assert {c.node_id: c.reason for c in d.explanation.candidates} == {"B": "selected", "A": "disabled"}


def test_concurrent_routing_from_eight_threads_oversells_nothing():
    rng = np.random.default_rng(7)
    net = make_network(rng, 6, 5)
    inv = make_inventory(rng, net, density=0.8, max_qty=6)
    router = Router(net, inv)
    orders = [make_order(rng, net, f"O{i}", max_qty=3) for i in range(400)]
    barrier = threading.Barrier(8)
    results: list = []

    def worker(chunk):
        barrier.wait()
        for o in chunk:
            results.append(router.route(o))

    threads = [threading.Thread(target=worker, args=(orders[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken: dict = {}
    for d in results:
        for a in d.allocations:
            key = (a.node_id, a.sku)
            taken[key] = taken.get(key, 0) + a.qty
    for rec in inv.records():
        assert taken.get((rec.node_id, rec.sku), 0) <= rec.atp
    snap = router.snapshot()
    assert (snap.reserved <= np.maximum(snap.on_hand - snap.safety_stock, 0)).all()
    assert len(results) == 400


def test_unknown_sku_raises_and_reserves_nothing():
    net = _net([Node("A", "warehouse", 40, -75)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5)])
    r = Router(net, inv)
    with pytest.raises(ValidationError) as err:
        r.route(Order("o", (OrderLine("1", "SKU-1", 1), OrderLine("2", "NOPE", 1), OrderLine("3", "NADA", 1)),
                      40, -76))
    assert len(err.value.problems) == 2
    assert r.atp("A", "SKU-1") == 5 and r.open_orders == ()


def test_route_many_matches_route_one_by_one(rng):
    net = make_network(rng, 8, 6)
    inv = make_inventory(rng, net, density=0.6, max_qty=5)
    orders = [make_order(rng, net, f"O{i}", max_qty=3) for i in range(60)]
    for strategy in ("cost", "priority", "nearest", "high_stock"):
        seq = Router(net, inv, flat_policy(strategy=strategy))
        singles = [seq.route(o) for o in orders]
        batch = Router(net, inv, flat_policy(strategy=strategy)).route_many(orders)
        assert batch.orders["status"].tolist() == [d.status.value for d in singles]
        np.testing.assert_allclose(batch.orders["cost"], [d.cost.total for d in singles])
        got = sorted(map(tuple, batch.allocations[["order_id", "line_id", "node_id", "qty"]].values.tolist()))
        want = sorted((d.order_id, a.line_id, a.node_id, a.qty) for d in singles for a in d.allocations)
        assert got == want


def test_route_many_reservations_can_be_released(rng):
    net = make_network(rng, 5, 4)
    inv = make_inventory(rng, net, density=0.9, max_qty=5)
    r = Router(net, inv)
    orders = [make_order(rng, net, f"O{i}") for i in range(20)]
    r.route_many(orders)
    assert r.snapshot().reserved.sum() > 0
    for o in orders:
        d = r.release(o.order_id)
        assert d.order_id == o.order_id
    assert r.snapshot().reserved.sum() == 0
    with pytest.raises(ValidationError):
        r.route_many(orders + orders[:1])
    assert r.snapshot().reserved.sum() == 0


def test_batch_orders_answer_every_call_like_routed_ones(rng):
    """route_many keeps a light record per order until something asks: every call that
    reads it sees the batch's decision and reservation, and sees the same record each time."""
    net = make_network(rng, 6, 5)
    inv = make_inventory(rng, net, density=0.9, max_qty=6)
    r = Router(net, inv)
    orders = [make_order(rng, net, f"O{i}") for i in range(12)]
    res = r.route_many(orders)
    reserved = r.snapshot().reserved.copy()
    rows = res.allocations
    for o in orders[:4]:
        d = r.decision(o.order_id)
        mine = rows[rows["order_id"] == o.order_id]
        assert sorted((a.line_id, a.node_id, a.qty) for a in d.allocations) == sorted(
            zip(mine["line_id"], mine["node_id"], mine["qty"].tolist(), strict=True))
        assert r.route(o) == d  # idempotent: the batch's decision, nothing more reserved
        assert r._open_held(o.order_id) is r._open_held(o.order_id)
    np.testing.assert_array_equal(r.snapshot().reserved, reserved)
    with pytest.raises(ValidationError, match="batch"):
        r.reroute(orders[4].order_id, net.nodes[0].node_id)
    committed = r.commit(orders[5].order_id)
    assert r.decision(orders[5].order_id) == committed and orders[5].order_id not in r.open_orders
    assert r.commit_many([o.order_id for o in orders[6:9]]) == 3
    for o in orders[9:]:
        r.release(o.order_id)
    left = r.snapshot()
    assert (left.reserved <= reserved).all() and len(r.open_orders) == 5


def test_lines_with_the_same_sku_share_stock():
    net = _net([Node("A", "warehouse", 40, -75), Node("B", "warehouse", 35, -90)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 3), StockRecord("B", "SKU-1", 10)])
    order = Order("o", (OrderLine("1", "SKU-1", 2), OrderLine("2", "SKU-1", 2)), 40, -75.5)
    d = Router(net, inv).route(order)
    assert d.status is Status.ROUTED
    assert sum(a.qty for a in d.allocations if a.line_id == "1") == 2
    assert sum(a.qty for a in d.allocations if a.line_id == "2") == 2
    assert Router(net, inv).route_many([order]).allocations["qty"].sum() == 4


def test_dual_prices_steer_the_cost_strategy():
    net = _net([Node("A", "warehouse", 40, -75), Node("B", "warehouse", 41, -77)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5), StockRecord("B", "SKU-1", 5)])
    order = Order("o", (OrderLine("1", "SKU-1", 1),), 40, -75)
    r = Router(net, inv, Policy(strategy="dual"))
    r.set_dual_prices(np.array([50.0, 0.0]))  # entries sorted by node within the SKU: A then B
    d = r.route(order)
    assert d.shipments[0].node_id == "B"
    plain = Router(net, inv).route(order)
    assert plain.shipments[0].node_id == "A" and d.cost.total > plain.cost.total
    with pytest.raises(ValidationError):
        r.set_dual_prices(np.array([1.0]))


def test_decisions_do_not_keep_the_router_alive():
    # an OMS holds decisions for days: they must not pin the router in a reference cycle
    import gc
    import weakref

    net = _net([Node("A", "warehouse", 40, -75), Node("B", "warehouse", 41, -80)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5), StockRecord("B", "SKU-2", 5)])
    r = Router(net, inv)
    decisions = [r.route(Order("o", (OrderLine("1", "SKU-1", 1),), 40, -76)),
                 r.route(Order("p", (OrderLine("1", "SKU-1", 1), OrderLine("2", "SKU-2", 1)), 40, -76))]
    ref = weakref.ref(r)
    gc.disable()
    try:
        del r
        assert ref() is None
    finally:
        gc.enable()
    assert all(str(d.explanation) for d in decisions)


def test_route_many_output_grows_past_its_first_allocation():
    # every order splits over three nodes: far more allocation rows than groups + 16
    net = _net([Node(f"W{i}", "warehouse", 35 + i, -80 - i) for i in range(3)])
    inv = Inventory.from_records(net, [StockRecord(f"W{i}", f"SKU-{i + 1}", 100) for i in range(3)])
    orders = [Order(f"o{j}", tuple(OrderLine(str(i), f"SKU-{i + 1}", 1) for i in range(3)), 36, -81)
              for j in range(40)]
    res = Router(net, inv, flat_policy()).route_many(orders)
    assert len(res.allocations) == 120 and (res.orders["shipments"] == 3).all()
    singles = Router(net, inv, flat_policy())
    want = sorted((d.order_id, a.line_id, a.node_id, a.qty) for o in orders for d in [singles.route(o)]
                  for a in d.allocations)
    got = sorted(map(tuple, res.allocations[["order_id", "line_id", "node_id", "qty"]].values.tolist()))
    assert got == want


@pytest.mark.parametrize("seed", range(3))
def test_lean_split_path_decides_like_the_tier_machinery(seed, monkeypatch):
    # Orders one tier ships whole in several parcels take a lean path in route();
    # switched off, the general tier passes decide them. Both must agree exactly.
    from tests.conftest import make_inventory
    from tests.conftest import make_network
    from tests.conftest import make_order

    rng = np.random.default_rng(900 + seed)
    net = make_network(rng, 40, 12)
    inv = make_inventory(rng, net, density=0.5, max_qty=3)
    orders = [make_order(rng, net, f"o{i}", max_lines=4, max_qty=3) for i in range(120)]
    lean, full = Router(net, inv), Router(net, inv)
    monkeypatch.setattr(full, "_lean_splits", False)
    took = []
    real = Router._split_held

    def counting(self, *args):
        out = real(self, *args)
        took.append(not isinstance(out, str))
        return out

    monkeypatch.setattr(Router, "_split_held", counting)
    for o in orders:
        a, b = lean.route(o), full.route(o)
        assert a.status == b.status and a.allocations == b.allocations and a.shipments == b.shipments
        assert a.cost.total == pytest.approx(b.cost.total, rel=1e-9, abs=1e-9)
        for f in ("shipping", "handling", "vendor_fees", "split_penalty", "penalties"):
            assert getattr(a.cost, f) == pytest.approx(getattr(b.cost, f), rel=1e-9, abs=1e-9)
        assert [t.served for t in a.explanation.tiers] == [t.served for t in b.explanation.tiers]
        assert [str(c) for c in a.explanation.candidates] == [str(c) for c in b.explanation.candidates]
    np.testing.assert_array_equal(lean._reserved, full._reserved)
    np.testing.assert_array_equal(lean._cap_units, full._cap_units)
    assert sum(took) >= 10  # the lean path decided that many orders
    for o in orders[:20]:
        lean.release(o.order_id)
        full.release(o.order_id)
    np.testing.assert_array_equal(lean._reserved, full._reserved)


def test_dual_prices_set_later_do_not_change_earlier_explanations():
    # the router repacks its float arrays for new prices; decisions keep the old ones
    net = _net([Node("A", "warehouse", 40, -75), Node("B", "warehouse", 41, -77)])
    inv = Inventory.from_records(net, [StockRecord("A", "SKU-1", 5), StockRecord("B", "SKU-1", 5)])
    order = Order("o", (OrderLine("1", "SKU-1", 1),), 40, -75)
    before, after = Router(net, inv, Policy(strategy="dual")), Router(net, inv, Policy(strategy="dual"))
    d0, d1 = before.route(order), after.route(order)
    after.set_dual_prices(np.array([50.0, 0.0]))
    assert d1.explanation.candidates == d0.explanation.candidates
    # and new orders see the new prices
    assert after.route(Order("p", order.lines, 40, -75)).shipments[0].node_id == "B"


def test_batch_string_columns_match_a_frame_of_python_strings():
    # route_many decodes its id columns from Arrow dictionary codes; the columns must
    # be the ones pandas makes of the plain object arrays, dtype included
    import pandas as pd

    from sourcewise.engine.batch import arrow_labels
    from sourcewise.engine.batch import take_str

    rng = np.random.default_rng(7)
    labels = np.array([f"id-{i}" for i in range(50)], dtype=object)
    for n in (0, 1, 1000):
        codes = rng.integers(0, len(labels), n)
        want = pd.DataFrame({"x": labels[codes]})
        for source in (labels, arrow_labels(labels)):
            pd.testing.assert_frame_equal(pd.DataFrame({"x": take_str(source, codes)}), want)


def test_open_orders_keep_few_objects_for_the_cycle_collector(rng):
    # Every object an open order keeps tracked brings the next collection
    # nearer, and collections land on routing latency. After a collection
    # (which untracks most tuples of untracked values) an open order keeps
    # about two: its Decision and Explanation, as a decision may sit in a cycle
    # through its explanation; the router's own records (_Held, LazySnapshot)
    # cannot, and are untracked.
    import gc

    net = make_network(rng, 30, 12)
    router = Router(net, make_inventory(rng, net, density=0.6, max_qty=40), flat_policy())
    orders = [make_order(rng, net, f"T{i}", max_lines=3, max_qty=2) for i in range(300)]
    router.route(make_order(rng, net, "warm-up", max_lines=3))  # the router's lazy caches
    gc.collect()
    before = len(gc.get_objects())
    decisions = [router.route(o) for o in orders]
    gc.collect()
    per_order = (len(gc.get_objects()) - before) / len(orders)
    assert sum(len(d.shipments) > 1 for d in decisions) > 10  # splits keep the same records
    assert per_order <= 2.5, f"{per_order:.2f} tracked objects kept per open order"
    held = router._open[orders[0].order_id]
    assert not gc.is_tracked(held) and not gc.is_tracked(held.order) and gc.is_tracked(held.decision)


def test_atp_of_sku_matches_atp_per_source(rng):
    """The one-read ATP column of a SKU agrees, entry by entry, with the per-source lookup:
    on the loaded inventory, and on a router after orders reserved and released stock."""
    net = make_network(rng, 25, 15)
    inv = make_inventory(rng, net, density=0.5, max_qty=6)
    r = Router(net, inv)
    for i in range(30):
        r.route(make_order(rng, net, f"o{i}"))
    for i in range(0, 30, 3):
        r.release(f"o{i}")
    for s in net.skus:
        k = net.sku_index[s.sku]
        nodes = [net.nodes[n].node_id for n in inv.node[inv.sku_ptr[k]:inv.sku_ptr[k + 1]]]
        assert inv.atp_of_sku(s.sku).tolist() == [inv.atp(n, s.sku) for n in nodes]
        assert r.atp_of_sku(s.sku).tolist() == [r.atp(n, s.sku) for n in nodes]



# ---------------------------------------------------------------- what route_many takes, and orders of several days
def test_route_many_takes_an_orders_table_checked_as_the_file_is():
    import pandas as pd

    from sourcewise.engine.scenario import load_scenario
    from tests.conftest import SAMPLE

    sc = load_scenario(SAMPLE)
    day = sc.orders.slice(0, 150)  # the sample's first day
    frame = pd.read_csv(SAMPLE / "orders.csv", dtype={"order_id": str, "line_id": str})
    frame = frame[frame["order_id"].isin(set(day.order_id.tolist()))]
    by_frame = Router(sc.network, sc.inventory, sc.policy).route_many(frame)
    by_batch = Router(sc.network, sc.inventory, sc.policy).route_many(day)
    pd.testing.assert_frame_equal(by_frame.orders, by_batch.orders)
    pd.testing.assert_frame_equal(by_frame.allocations, by_batch.allocations)
    with pytest.raises(ValidationError, match="orders.qty: required column is missing"):
        Router(sc.network, sc.inventory, sc.policy).route_many(frame.drop(columns="qty"))


@pytest.mark.parametrize("given", ["O-1", [{"order_id": "O-1"}], 7])
def test_route_many_names_what_it_takes(given):
    net = Network.build([Node("W", "warehouse", 40.0, -75.0)], [Sku("A", 1.0, 1.0)])
    with pytest.raises(TypeError, match="Order objects, an OrderBatch or a DataFrame"):
        Router(net, Inventory.from_records(net, [StockRecord("W", "A", 1)])).route_many(given)


def _days_router(capacity):
    from datetime import date

    net = Network.build([Node("W", "warehouse", 40.0, -75.0, capacity_orders=capacity)], [Sku("A", 1.0, 1.0)])
    return Router(net, Inventory.from_records(net, [StockRecord("W", "A", 10)]), business_day=date(2024, 3, 4))


def _placed(oid, day):
    from datetime import datetime

    return Order(oid, (OrderLine("1", "A", 1),), 40.5, -75.0, placed_at=datetime(2024, 3, day, 9))


def test_route_many_warns_when_orders_of_several_days_share_one_days_capacity():
    import warnings

    from sourcewise.engine.router import SeveralDaysWarning

    with pytest.warns(SeveralDaysWarning, match=r"placed on 2 days \(2024-03-04 to 2024-03-05\).*set_business_day"):
        res = _days_router(1).route_many([_placed("a", 4), _placed("b", 5)])
    assert res.orders["status"].tolist() == ["routed", "unroutable"]  # what the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeveralDaysWarning)
        _days_router(1).route_many([_placed("a", 4), _placed("b", 4)])  # one day
        _days_router(None).route_many([_placed("a", 4), _placed("b", 5)])  # no capacity that days could share
        _days_router(1).route_many([_placed("a", 4), _placed("b", 5)], one_day=True)  # shared on purpose
        r = _days_router(1)
        r.route_many([_placed("a", 4)])
        r.set_business_day(_placed("b", 5).placed_at.date())
        assert r.route_many([_placed("b", 5)]).orders["status"].tolist() == ["routed"]
