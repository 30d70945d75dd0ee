"""reoptimize(): never worse, keeps the router's books, applies only a better plan."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.optimize import reoptimize
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models.errors import ValidationError
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.conftest import make_order
from tests.engine.optimize.support import PENALTY
from tests.engine.optimize.support import contested
from tests.engine.optimize.support import reservations_consistent
from tests.engine.optimize.support import routed_badly


@pytest.mark.parametrize("seed", range(4))
def test_reoptimize_never_worsens_and_keeps_the_books(seed):
    net, inv, orders, router = routed_badly(seed)
    before = {o.order_id: router.decision(o.order_id).cost.total for o in orders}
    splits_before = sum(max(0, len(router.decision(o.order_id).shipments) - 1) for o in orders)
    r = reoptimize(router, time_limit=5, unfilled_penalty=PENALTY)
    assert r.objective_after <= r.objective_before + 1e-9
    assert r.lower_bound <= r.objective_after + 1e-9
    reservations_consistent(router, inv)
    after = {o.order_id: router.decision(o.order_id).cost.total for o in orders}
    if r.applied:
        assert r.saved == pytest.approx(r.objective_before - r.objective_after)
        assert r.splits_removed == splits_before - sum(max(0, len(router.decision(o.order_id).shipments) - 1)
                                                       for o in orders)
        assert sum(after.values()) == pytest.approx(r.cost_after)
        assert all(router.decision(o).strategy == "optimize" for o in after)
    else:
        assert after == before
    # a second pass has nothing left to gain
    again = reoptimize(router, time_limit=5, unfilled_penalty=PENALTY)
    assert not again.applied or again.objective_after < r.objective_after - 1e-9
    # released orders give back exactly what they now hold
    for o in orders:
        router.release(o.order_id)
    np.testing.assert_array_equal(router._reserved, inv.reserved)


def test_reoptimize_keeps_todays_capacity_counts():
    rng = np.random.default_rng(5)
    base = make_network(rng, 4, 3)
    nodes = [Node(n.node_id, n.kind, n.lat, n.lon, handling_per_shipment=n.handling_per_shipment,
                  handling_per_unit=n.handling_per_unit, fee_rate=n.fee_rate, capacity_orders=3, capacity_units=5)
             for n in base.nodes]
    net = Network.build(nodes, base.skus)
    inv = Inventory.from_records(net, [StockRecord(r.node_id, r.sku, r.on_hand, r.safety_stock)
                                       for r in make_inventory(rng, base, density=0.9, max_qty=4).records()])
    orders = [make_order(rng, net, f"o{i}", max_lines=2, max_qty=2) for i in range(6)]
    router = Router(net, inv, Policy())
    for o in orders:
        router.route(o, strategy="nearest")
    r = reoptimize(router, time_limit=5, unfilled_penalty=PENALTY)
    assert r.objective_after <= r.objective_before + 1e-9
    reservations_consistent(router, inv)
    parcels = np.zeros(net.n_nodes, int)
    units = np.zeros(net.n_nodes, int)
    for o in orders:
        for s in router.decision(o.order_id).shipments:
            parcels[net.node_index[s.node_id]] += 1
            units[net.node_index[s.node_id]] += s.units
    np.testing.assert_array_equal(router._cap_orders, 3 - parcels)
    np.testing.assert_array_equal(router._cap_units, 5 - units)
    for o in orders:
        router.release(o.order_id)
    np.testing.assert_array_equal(router._cap_orders, np.full(net.n_nodes, 3))


def test_reoptimize_needs_lines_of_batch_routed_orders():
    net, inv, orders = contested(2, n_orders=3)
    router = Router(net, inv, Policy())
    router.route_many(orders, strategy="nearest")
    with pytest.raises(ValidationError):
        reoptimize(router, time_limit=2)
    r = reoptimize(router, time_limit=5, orders=orders)
    assert r.objective_after <= r.objective_before + 1e-9
    reservations_consistent(router, inv)


def test_reoptimize_rejects_unknown_orders():
    net, inv, orders, router = routed_badly(1, n_orders=2)
    with pytest.raises(ValidationError, match="not an open order"):
        reoptimize(router, ["o0", "zzz"], time_limit=1)


def test_reoptimize_removes_a_split_that_contention_forced():
    # o1 is routed first and takes the only unit at the near warehouse, forcing o2 to split;
    # re-planning gives o1 the far warehouse's unit and keeps o2 in one parcel
    net = Network.build([Node("NEAR", "warehouse", 40.0, -75.0), Node("FAR", "warehouse", 34.0, -118.0)],
                        [Sku("A"), Sku("B")])
    inv = Inventory.from_records(net, [StockRecord("NEAR", "A", 1), StockRecord("NEAR", "B", 1),
                                       StockRecord("FAR", "A", 1)])
    router = Router(net, inv, Policy())
    o1 = Order("o1", (OrderLine("1", "A", 1),), 40.0, -75.1)
    o2 = Order("o2", (OrderLine("1", "A", 1), OrderLine("2", "B", 1)), 40.1, -75.0)
    router.route(o1)
    router.route(o2)
    assert len(router.decision("o2").shipments) == 2
    r = reoptimize(router, time_limit=5)
    assert r.applied and r.splits_removed == 1 and r.saved > 0
    assert {s.node_id for s in router.decision("o2").shipments} == {"NEAR"}
    reservations_consistent(router, inv)
