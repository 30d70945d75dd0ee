"""Plan search kernels (`_kernels.search`) against their twins in ``tests/naive.py``."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.router import Router
from tests import naive
from tests.conftest import flat_policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.conftest import make_order


@pytest.mark.parametrize("strategy", ["priority", "nearest", "high_stock"])
@pytest.mark.parametrize("seed", range(3))
def test_rule_strategies_match_reference(strategy, seed):
    rng = np.random.default_rng(100 + seed)
    net = make_network(rng, 10, 6)
    inv = make_inventory(rng, net, density=0.5)
    for i in range(40):
        k = int(rng.integers(1, 4))
        order = make_order(rng, net, f"O{i}", max_shipments=k)
        ref = naive.greedy(net, naive.atp_dict(inv), naive.demand(order, net), (order.lat, order.lon), k, strategy)
        d = Router(net, inv, flat_policy(strategy=strategy)).route(order)
        got: dict = {}
        for a in d.allocations:
            key = (net.node_index[a.node_id], net.sku_index[a.sku])
            got[key] = got.get(key, 0) + a.qty
        assert got == {key: q for key, q in ref.items() if q}


@pytest.mark.parametrize("seed", range(3))
def test_cost_kernel_matches_brute_force(seed):
    rng = np.random.default_rng(200 + seed)
    for trial in range(15):
        net = make_network(rng, 5, 4)
        inv = make_inventory(rng, net, density=0.7, max_qty=3)
        pol = flat_policy(split_penalty=float(rng.choice([0.0, 2.5])))
        k = int(rng.integers(1, 4))
        order = make_order(rng, net, f"O{trial}", max_lines=3, max_qty=3, max_shipments=k)
        fill, cost = naive.brute_force(net, pol, naive.atp_dict(inv), naive.demand(order, net), (order.lat, order.lon), k)
        d = Router(net, inv, pol).route(order)
        assert d.units == fill
        assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)


def test_more_than_three_parcels_extends_greedily_within_limits(rng):
    # every SKU sits at a different node: five lines need five parcels
    from sourcewise.models import Inventory
    from sourcewise.models import Network
    from sourcewise.models import Node
    from sourcewise.models import Order as O
    from sourcewise.models import OrderLine
    from sourcewise.models import Sku
    from sourcewise.models import StockRecord

    nodes = [Node(f"N{i}", "warehouse", 30 + i, -90 - i) for i in range(6)]
    net = Network.build(nodes, [Sku(f"S{i}", 1, 10) for i in range(6)])
    inv = Inventory.from_records(net, [StockRecord(f"N{i}", f"S{i}", 2) for i in range(6)])
    order = O("o", tuple(OrderLine(str(i), f"S{i}", 1) for i in range(5)), 35, -95, max_shipments=4)
    d = Router(net, inv, flat_policy()).route(order)
    assert len(d.shipments) == 4 and d.units == 4
    d = Router(net, inv, flat_policy()).route(O("p", order.lines, 35, -95, max_shipments=6))
    assert len(d.shipments) == 5 and d.units == 5


def test_split_pool_keeps_a_source_of_every_line():
    # Ten cheap nodes near the customer stock A and B; only one dear, far node
    # stocks C. With a pool of four split candidates chosen by key alone, all
    # four would be near nodes and no split could ship C; the pool keeps C's
    # source, so the order ships whole in two parcels.
    from sourcewise.models import Inventory
    from sourcewise.models import Network
    from sourcewise.models import Node
    from sourcewise.models import Order
    from sourcewise.models import OrderLine
    from sourcewise.models import Sku
    from sourcewise.models import StockRecord

    near = [Node(f"W{i}", "warehouse", 40.0 + 0.01 * i, -75.0, handling_per_shipment=0.5) for i in range(10)]
    far = Node("FAR", "warehouse", 34.0, -118.0, handling_per_shipment=6.0, handling_per_unit=2.0)
    net = Network.build(near + [far], [Sku(s, 1.0, 20.0) for s in "ABC"])
    records = [StockRecord(n.node_id, s, 5) for n in near for s in "AB"] + [StockRecord("FAR", "C", 5)]
    inv = Inventory.from_records(net, records)
    order = Order("o1", (OrderLine("1", "A", 1), OrderLine("2", "B", 1), OrderLine("3", "C", 1)), 40.0, -75.0)
    d = Router(net, inv, flat_policy(split_candidates=4)).route(order)
    assert d.status.value == "routed" and d.units == 3
    assert sorted(s.node_id for s in d.shipments)[0] == "FAR" and len(d.shipments) == 2


def _pool_case(nodes, records, lines, pool):
    """Route one order to (40, -75) with a split pool of ``pool`` nodes; also solve it by brute force."""
    from sourcewise.models import Inventory
    from sourcewise.models import Network
    from sourcewise.models import Order
    from sourcewise.models import OrderLine
    from sourcewise.models import Sku
    from sourcewise.models import StockRecord

    skus = sorted({s for _, s, _ in records})
    net = Network.build(nodes, [Sku(s, 1.0, 20.0) for s in skus])
    inv = Inventory.from_records(net, [StockRecord(n, s, q) for n, s, q in records])
    order = Order("o1", tuple(OrderLine(str(i), s, q) for i, (s, q) in enumerate(lines)), 40.0, -75.0)
    pol = flat_policy(split_candidates=pool)
    want = naive.brute_force(net, pol, naive.atp_dict(inv), naive.demand(order, net), (40.0, -75.0), 3)
    return Router(net, inv, pol).route(order), want


def test_split_pool_keeps_nodes_that_ship_two_lines_whole():
    # Four cheap nodes next to the customer for each of A, B and C fill a pool
    # of six with each line's cheapest sources, and no two of them ship the
    # order. One dearer node 300 miles away holds A and B: with C from next
    # door that is two parcels, not three, and the pool must hold it.
    from sourcewise.models import Node

    near = [Node(f"{s}{i}", "warehouse", 40.0 + 0.01 * i, -75.0, handling_per_shipment=0.5)
            for s in "ABC" for i in range(4)]
    ab = Node("AB", "warehouse", 44.0, -75.0, handling_per_shipment=1.0)
    records = [(n.node_id, n.node_id[0], 5) for n in near] + [("AB", "A", 5), ("AB", "B", 5)]
    d, (fill, cost) = _pool_case(near + [ab], records, [("A", 1), ("B", 1), ("C", 1)], pool=6)
    assert d.status.value == "routed" and d.units == fill == 3
    assert sorted(s.node_id for s in d.shipments) == ["AB", "C0"]
    assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)


def test_split_pool_ranks_sources_of_every_unit_first():
    # Three units of C: four cheap nodes next door hold one each, one dearer
    # node 300 miles away holds five. Ranked by price alone, the near ones
    # take both of C's places in a pool of four and the order cannot ship
    # whole; ranked by whole units first, the far node ships all three.
    from sourcewise.models import Node

    near = [Node(f"A{i}", "warehouse", 40.0 + 0.01 * i, -75.0, handling_per_shipment=0.5) for i in range(3)]
    near += [Node(f"C{i}", "warehouse", 40.0 - 0.01 * i, -75.0, handling_per_shipment=0.5) for i in range(4)]
    far = Node("CF", "warehouse", 44.0, -75.0, handling_per_shipment=1.0)
    records = [(n.node_id, n.node_id[0], 5 if n.node_id[0] == "A" else 1) for n in near] + [("CF", "C", 5)]
    d, (fill, cost) = _pool_case(near + [far], records, [("A", 1), ("C", 3)], pool=4)
    assert d.status.value == "routed" and d.units == fill == 4
    assert sorted(s.node_id for s in d.shipments) == ["A0", "CF"]
    assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)

