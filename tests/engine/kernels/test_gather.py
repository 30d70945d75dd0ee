"""Gather kernels (`_kernels.gather`) against their twins in ``tests/naive.py``."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine.promise import candidate_matrix
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import flat_policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.engine.kernels import BANDS
from tests.engine.kernels import random_orders
from tests.engine.kernels import random_params


@pytest.mark.parametrize("seed", range(4))
def test_gather_matches_reference(seed):
    rng = np.random.default_rng(seed)
    net = make_network(rng, 12, 8, disabled=0.2)
    inv = make_inventory(rng, net)
    mark = np.full(net.n_nodes, -1, np.int64)
    nodef = K.pack_nodes(net)
    cutoff = rng.uniform(8, 24, net.n_nodes)
    pdays = rng.integers(0, 3, net.n_nodes)
    nodef[:, K.NF_CUTOFF] = cutoff
    nodef[:, K.NF_PDAYS] = pdays
    for _ in range(30):
        skus = rng.choice(net.n_skus, size=3, replace=False).astype(np.int64)
        mask = net.usable & (rng.random(net.n_nodes) < 0.8)
        cap_orders = rng.integers(0, 3, net.n_nodes)
        cap_units = rng.integers(0, 4, net.n_nodes)
        lat, lon = rng.uniform(26, 48), rng.uniform(-123, -70)
        p = random_params(rng)
        cand, atp, ent, miles, lead = K.gather(
            skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock, inv.reserved, mask, cap_orders,
            cap_units, mark, unit_vectors(np.array([lat]), np.array([lon]))[0], nodef, p, BANDS)
        d = naive.atp_dict(inv)
        ref = [n for n in naive.candidates(net, d, list(skus))
               if mask[n] and naive.gather_eligible(net, n, lat, lon, p, cap_orders, cap_units, cutoff, pdays, BANDS)]
        assert sorted(cand.tolist()) == sorted(ref)
        filtered = p[K.P_MAX_MILES] < np.inf or p[K.P_MAX_DAYS] >= 0
        # distances are computed here only when a filter needs them; otherwise left for the planner
        assert np.isnan(miles).all() != filtered or len(cand) == 0
        for c, n in enumerate(cand):
            if filtered:
                want = naive.haversine_miles(net.lat[n], net.lon[n], lat, lon)
                assert miles[c] == pytest.approx(want, rel=1e-9)
            for g, s in enumerate(skus):
                assert atp[c, g] == min(d.get((int(n), int(s)), 0), cap_units[n])
        assert (mark == -1).all()


def test_entry_atp_matches_the_inventory_lookup(rng):
    net = make_network(rng, 25, 15)
    inv = make_inventory(rng, net, density=0.5, max_qty=6)
    r = Router(net, inv)
    for n in net.nodes:
        for s in net.skus:
            want = inv.atp(n.node_id, s.sku)
            got = K.entry_atp(inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock, inv.reserved,
                               net.sku_index[s.sku], net.node_index[n.node_id])
            assert got == want
            assert r.atp(n.node_id, s.sku) == want


def test_sku_bitsets_match_the_entry_lists(rng):
    net = make_network(rng, 150, 20)  # three words per SKU, the last one partly used
    inv = make_inventory(rng, net, density=0.4)
    bits = K.sku_bitsets(inv.sku_ptr, inv.node, net.n_nodes)
    assert bits.shape == (net.n_skus, 3) and bits.dtype == np.uint64
    for s in range(net.n_skus):
        held = {n for n in range(net.n_nodes) if (int(bits[s, n // 64]) >> (n % 64)) & 1}
        assert held == set(inv.node[inv.sku_ptr[s]:inv.sku_ptr[s + 1]].tolist())
    for b in range(64):
        assert K.bit_index(np.uint64(1) << np.uint64(b)) == b


@pytest.mark.parametrize("strategy", [0, 4])
def test_priced_gather_matches_gather_then_pricing(rng, strategy):
    # the one-scan priced gather against the lazy path it replaces (gather, distances,
    # unit costs, risk), plus the per-group totals and cheapest unit costs it hands the plan
    net = make_network(rng, 30, 10)
    inv = make_inventory(rng, net, density=0.6, max_qty=6)
    r = Router(net, inv, flat_policy())
    p = r._base_params.copy()
    p[K.P_DEPLETION] = 2.0
    fee = rng.uniform(0, 3, inv.nnz) * (rng.random(inv.nnz) < 0.3)
    risk = rng.uniform(0, 1, inv.nnz) * (rng.random(inv.nnz) < 0.3)
    demand = rng.uniform(0, 5, inv.nnz) * (rng.random(inv.nnz) < 0.5)
    dual = rng.uniform(0, 2, inv.nnz)
    free = rng.random(net.n_nodes) < 0.2
    mark = np.full(net.n_nodes, -1, np.int64)
    for skus, _, dest, _ in random_orders(rng, net, 25, 4, 1, 1):
        cap_o = rng.integers(0, 3, net.n_nodes)
        cap_u = rng.integers(0, 8, net.n_nodes)
        ibuf, _ = K.pack_ints([inv.on_hand, inv.safety_stock, inv.reserved, cap_o, cap_u, mark])
        fbuf, _ = K.pack_floats(ibuf, [r._nodef, r._skuf, fee, dual, risk, demand, np.zeros((net.n_skus, 2)),
                                       r._bands])
        got = K.gather_priced(skus, inv.sku_ptr, inv.node, net.usable, free, dest, K.books_of(ibuf),
                              K.prices_of(ibuf, fbuf), p, strategy)
        mark[:] = K.books_of(ibuf)[5]  # the scan's scratch, as the packed state holds it (checked below)
        cand, atp, ent, miles, lead = K.gather(skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock,
                                                inv.reserved, net.usable, cap_o, cap_u, mark, dest, r._nodef, p,
                                                r._bands)
        K.fill_distances(cand, miles, lead, dest, r._nodef, p, r._bands, False)
        fixed, unit = K.unit_costs(cand, skus, ent, atp, miles, lead, r._nodef, r._skuf, fee, dual, demand, free,
                                    p, strategy)
        unit += np.where(ent >= 0, risk[np.maximum(ent, 0)], 0.0)
        assert (mark == -1).all()
        for x, y in zip(got[:3], (cand, atp, ent), strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(got[3], miles, rtol=1e-12)
        np.testing.assert_allclose(got[5], fixed, rtol=1e-12)
        np.testing.assert_allclose(got[6], unit, rtol=1e-12)
        total, cheapest = got[7], got[8]
        np.testing.assert_array_equal(total, atp.sum(axis=0))
        want = np.where(atp > 0, got[6], np.inf).min(axis=0) if len(cand) else np.full(len(skus), np.inf)
        np.testing.assert_array_equal(cheapest, want)



@pytest.mark.parametrize("seed", range(4))
def test_nearby_holders_matches_reference(seed):
    rng = np.random.default_rng(seed)
    net = make_network(rng, 60, 6, disabled=0.2)
    inv = make_inventory(rng, net, density=0.7, max_qty=6)
    r = Router(net, inv, flat_policy())
    nodef = r._nodef.copy()
    nodef[:, K.NF_CUTOFF] = rng.choice([24.0, 12.0, 8.0], net.n_nodes)
    out = np.empty((net.n_nodes, 3), np.int64), np.empty(net.n_nodes)
    found = 0
    for _ in range(40):
        skus = rng.choice(net.n_skus, size=int(rng.integers(1, 4)), replace=False).astype(np.int64)
        qty = rng.integers(1, 4, len(skus)).astype(np.int64)
        nodes = np.sort(rng.choice(net.n_nodes, size=int(rng.integers(0, net.n_nodes + 1)), replace=False))
        limits = [-1.0, 100.0, 400.0, 900.0] if rng.random() < 0.8 else [-1.0, np.inf]
        pick, same = rng.choice(limits, len(nodes)), rng.choice(limits, len(nodes))
        cand, reach = candidate_matrix(net, nodes, pick, same)
        cap_o = rng.integers(0, 3, net.n_nodes)
        cap_u = rng.integers(0, 10, net.n_nodes)
        reserved = np.minimum(rng.integers(0, 2, inv.nnz), inv.on_hand)
        ibuf, _ = K.pack_ints([inv.on_hand, inv.safety_stock, reserved, cap_o, cap_u, r._mark])
        fbuf, _ = K.pack_floats(ibuf, [nodef, r._skuf, r._entry_fee, r._dual, r._entry_risk, r._entry_demand,
                                       r._sku_lb, r._bands])
        lat, lon = rng.uniform(26, 48), rng.uniform(-123, -70)
        hour = float(rng.choice([0.0, 10.0, 20.0]))
        k = K.nearby_holders(lat, lon, reach, hour, np.concatenate((skus, qty)), cand, inv.sku_ptr, inv.node,
                             ibuf, fbuf, *out)
        atp = naive.atp_dict(Inventory.from_arrays(net, inv.node, r._sku_of_entry, inv.on_hand, inv.safety_stock,
                                                   reserved))
        want = naive.nearby_holders(net, atp, lat, lon, hour, skus, qty, cand, cap_o, cap_u, nodef[:, K.NF_CUTOFF])
        assert out[0][:k].tolist() == [[n, u, f] for n, u, f, _ in want]
        np.testing.assert_allclose(out[1][:k], [m for *_, m in want], rtol=1e-9)
        found += k
    assert found  # the draws do find holders
