"""Invariants of routing, checked on random instances with hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine.router import Router
from sourcewise.models import Status
from tests import naive
from tests.conftest import flat_policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.conftest import make_order

STRATS = st.sampled_from(["cost", "priority", "nearest", "high_stock"])


@given(seed=st.integers(0, 2**32 - 1), strategy=STRATS, n_orders=st.integers(1, 25))
def test_never_allocates_more_than_atp(seed, strategy, n_orders):
    rng = np.random.default_rng(seed)
    net = make_network(rng, int(rng.integers(2, 9)), int(rng.integers(2, 7)), disabled=0.15)
    inv = make_inventory(rng, net, density=0.6, max_qty=5)
    router = Router(net, inv, flat_policy(strategy=strategy))
    for i in range(n_orders):
        order = make_order(rng, net, f"O{i}", max_qty=4, max_shipments=int(rng.integers(1, 4)))
        before = naive.atp_dict(router.snapshot())
        d = router.route(order)
        taken: dict = {}
        for a in d.allocations:
            n = net.node_index[a.node_id]
            assert net.usable[n], "allocated from a disabled node"
            key = (n, net.sku_index[a.sku])
            taken[key] = taken.get(key, 0) + a.qty
        for key, q in taken.items():
            assert q <= before.get(key, 0)
    snap = router.snapshot()
    # reservations never eat into safety stock
    assert (snap.on_hand - snap.safety_stock - snap.reserved >= np.minimum(0, inv.on_hand - inv.safety_stock)).all()


@given(seed=st.integers(0, 2**32 - 1), strategy=STRATS)
def test_allocations_add_up_to_ordered_quantities(seed, strategy):
    rng = np.random.default_rng(seed)
    net = make_network(rng, int(rng.integers(1, 8)), int(rng.integers(3, 7)))
    inv = make_inventory(rng, net, density=0.7, max_qty=6)
    router = Router(net, inv, flat_policy(strategy=strategy))
    for i in range(10):
        order = make_order(rng, net, f"O{i}", max_qty=4)
        d = router.route(order)
        per_line = {line.line_id: 0 for line in order.lines}
        for a in d.allocations:
            per_line[a.line_id] += a.qty
        unfilled = dict(d.unfilled)
        for line in order.lines:
            assert per_line[line.line_id] + unfilled.get(line.line_id, 0) == line.qty
        if d.status is Status.ROUTED:
            assert all(per_line[line.line_id] == line.qty for line in order.lines)
        assert len(d.shipments) <= 3


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3), split_penalty=st.sampled_from([0.0, 3.0]))
def test_cost_strategy_is_optimal_against_brute_force(seed, k, split_penalty):
    rng = np.random.default_rng(seed)
    net = make_network(rng, int(rng.integers(1, 6)), 4)
    inv = make_inventory(rng, net, density=0.7, max_qty=3)
    pol = flat_policy(split_penalty=split_penalty)
    order = make_order(rng, net, "O", max_lines=3, max_qty=3, max_shipments=k)
    fill, cost = naive.brute_force(net, pol, naive.atp_dict(inv), naive.demand(order, net), (order.lat, order.lon), k)
    d = Router(net, inv, pol).route(order)
    assert d.units == fill
    assert abs(d.cost.total - cost) <= 1e-7 * max(1.0, cost)
