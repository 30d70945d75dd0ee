"""Driver kernels (`_kernels.drivers`) against their twins in ``tests/naive.py``."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine.router import Router
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import flat_policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.engine.kernels import random_orders


def _skewed_inventory(rng, net, densities):
    """Stock where SKU ``j`` sits at a ``densities[j]`` share of the nodes: rare and popular SKUs mixed."""
    from sourcewise.models import Inventory
    from sourcewise.models import StockRecord

    records = []
    for j, s in enumerate(net.skus):
        for n in net.nodes:
            if rng.random() < densities[j]:
                on_hand = int(rng.integers(0, 6))
                records.append(StockRecord(n.node_id, s.sku, on_hand, min(int(rng.integers(0, 2)), on_hand)))
    return Inventory.from_records(net, records)


def _random_router(seed, n_nodes, n_skus, density, max_qty):
    """A generator seeded with ``seed``, a random network and stock on it, and a router over both (one tier)."""
    rng = np.random.default_rng(seed)
    net = make_network(rng, n_nodes, n_skus)
    inv = make_inventory(rng, net, density=density, max_qty=max_qty)
    return rng, net, inv, Router(net, inv, flat_policy())


def _route_core(r, inv, dest, skus, qty, k, strategy, *flags):
    """``K.route_core`` of one order over the router's first tier, stock, buffers and base parameters."""
    return K.route_core(dest, skus, qty, k, strategy, r._tier_masks[0], inv.sku_ptr, inv.node, r._no_free, r._ibuf,
                        r._fbuf, r._base_params, False, *flags)


@pytest.mark.parametrize("bitsets", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_fast_path_on_rare_and_popular_skus_matches_brute_force(seed, bitsets):
    # 300 nodes; SKU densities from 1% to 95%, so the intersection runs both its
    # binary-search branch (few survivors, long list) and its merge branch; with
    # bitsets the candidates come from ANDing the SKUs' node sets instead
    rng = np.random.default_rng(700 + seed)
    net = make_network(rng, 300, 12)
    densities = np.array([0.01, 0.03, 0.1, 0.3, 0.6, 0.95, 0.95, 0.9, 0.8, 0.5, 0.05, 0.2])
    inv = _skewed_inventory(rng, net, densities)
    r = Router(net, inv, flat_policy())
    mask = r._tier_masks[0]
    bits = r._sku_bits if bitsets else np.zeros((0, 1), np.uint64)
    assert len(r._sku_bits) == net.n_skus
    accepted = declined = 0
    for _ in range(150):
        skus = rng.choice(net.n_skus, size=int(rng.integers(1, 5)), replace=False).astype(np.int64)
        qty = rng.integers(1, 3, len(skus)).astype(np.int64)
        dest = unit_vectors(np.array([rng.uniform(26, 48)]), np.array([rng.uniform(-123, -70)]))[0]
        k = int(rng.integers(1, 4))
        before = r._reserved.copy()
        ok, node, ent, need, miles, lead, costs, snap = K.route_fast(
            dest, skus, qty, k, 0, mask, inv.sku_ptr, inv.node, bits, r._ibuf, r._fbuf, r._base_params, False, True)
        np.testing.assert_array_equal(r._reserved, before)  # reserve=False changes nothing
        twin_node, twin_cost = naive.route_fast(r, inv, dest, skus, qty, mask)
        if not ok:
            declined += 1
            if k == 1:
                assert twin_node < 0  # with one parcel allowed, only "no covering node" declines
            continue
        accepted += 1
        # the explanation's snapshot: ATP before this order of every entry of its SKUs
        want_snap = np.concatenate([(r._on_hand - r._safety - r._reserved)[inv.sku_ptr[s]:inv.sku_ptr[s + 1]]
                                    for s in skus])
        np.testing.assert_array_equal(snap, want_snap)
        assert node == twin_node
        np.testing.assert_array_equal(need, qty)
        for g, s in enumerate(skus):
            assert ent[g] == naive.entry_position(inv, s, node)
        # the real cost (no risk term here) equals the twin's planning cost
        assert costs.sum() == pytest.approx(twin_cost, rel=1e-9)
        # and no plan of any split beats it: the full search agrees
        full = _route_core(r, inv, dest, skus, qty, k, 0)
        assert full[8].sum() == pytest.approx(costs.sum(), rel=1e-9)
    assert accepted > 20 and declined > 5


@pytest.mark.parametrize("seed", range(3))
def test_fast_single_node_path_agrees_with_full_search(seed):
    rng, net, inv, r = _random_router(300 + seed, 30, 8, density=0.7, max_qty=5)
    taken = 0
    for skus, qty, dest, k in random_orders(rng, net, 60, 3, 3, 3):
        ok, node, ent, need, miles, lead, costs, _ = K.route_fast(
            dest, skus, qty, k, 0, r._tier_masks[0], inv.sku_ptr, inv.node, r._sku_bits, r._ibuf, r._fbuf,
            r._base_params, False, False)
        full = _route_core(r, inv, dest, skus, qty, k, 0)
        assert (r._mark == -1).all()
        if not ok:
            continue
        taken += 1
        alloc, fcosts = full[3], full[8]
        assert need.sum() == alloc.sum()
        assert costs.sum() == pytest.approx(fcosts.sum(), rel=1e-9, abs=1e-9)
        if node >= 0:
            assert miles == pytest.approx(naive.haversine_miles(net.lat[node], net.lon[node],
                                                                *np.degrees([np.arcsin(dest[2]),
                                                                             np.arctan2(dest[1], dest[0])])))
    assert taken > 10


def test_alloc_rows_match_numpy_nonzero(rng):
    for _ in range(20):
        alloc = rng.integers(0, 3, (int(rng.integers(0, 30)), int(rng.integers(1, 5)))) * (rng.random((1, 1)) < 0.9)
        alloc = np.ascontiguousarray(alloc, dtype=np.int64)
        ent = rng.integers(0, 1000, alloc.shape).astype(np.int64)
        rows, cols, qty, entries = K.alloc_rows(alloc, ent)
        want_r, want_c = np.nonzero(alloc)
        np.testing.assert_array_equal(rows, want_r)
        np.testing.assert_array_equal(cols, want_c)
        np.testing.assert_array_equal(qty, alloc[want_r, want_c])
        np.testing.assert_array_equal(entries, ent[want_r, want_c])


@pytest.mark.parametrize("seed", range(3))
def test_used_rows_are_the_rows_that_ship(seed):
    # _route_core's callers read only the rows it says ship: every strategy and
    # split limit must name exactly the candidates with units, ascending
    rng, net, inv, r = _random_router(900 + seed, 25, 10, density=0.5, max_qty=4)
    seen_split = 0
    for skus, qty, dest, k in random_orders(rng, net, 80, 5, 5, 5):
        strategy = int(rng.integers(0, 5))
        out = _route_core(r, inv, dest, skus, qty, k, strategy, bool(rng.integers(0, 2)))
        alloc, ent, used = out[3], out[2], out[9]
        np.testing.assert_array_equal(used, np.flatnonzero(alloc.any(axis=1)))
        seen_split += len(used) > 1
        for got, want in zip(K.rows_of(alloc, ent, used), K.alloc_rows(alloc, ent), strict=True):
            np.testing.assert_array_equal(got, want)
    assert seen_split > 5

