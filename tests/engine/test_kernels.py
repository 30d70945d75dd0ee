"""Each routing kernel against its slow reference twin on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from engine import _kernels as K
from engine.router import Router
from models import Policy
from models.network import unit_vectors
from tests import naive
from tests.conftest import make_inventory, make_network, make_order


def test_distance_matches_haversine(rng):
    lat = rng.uniform(-89, 89, 200)
    lon = rng.uniform(-180, 180, 200)
    xyz = unit_vectors(lat, lon)
    for i in range(50):
        got = K._distance_miles(xyz[i], xyz, np.arange(200))
        want = [naive.haversine_miles(lat[i], lon[i], lat[j], lon[j]) for j in range(200)]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_proximity_scores_rank_like_distance(rng):
    lat, lon = rng.uniform(25, 49, 30), rng.uniform(-124, -67, 30)
    nlat, nlon = rng.uniform(25, 49, 40), rng.uniform(-124, -67, 40)
    scores = K._proximity_scores(unit_vectors(lat, lon), unit_vectors(nlat, nlon))
    for i in range(30):
        d = [naive.haversine_miles(lat[i], lon[i], nlat[j], nlon[j]) for j in range(40)]
        np.testing.assert_array_equal(np.argsort(-scores[i]), np.argsort(d))


def _atp_dict(inv):
    sku_of = np.repeat(np.arange(inv.network.n_skus), np.diff(inv.sku_ptr))
    atp = inv.atp_array()
    return {(int(n), int(s)): int(a) for n, s, a in zip(inv.node, sku_of, atp, strict=True)}


@pytest.mark.parametrize("seed", range(4))
def test_gather_matches_reference(seed):
    rng = np.random.default_rng(seed)
    net = make_network(rng, 12, 8, disabled=0.2)
    inv = make_inventory(rng, net)
    mark = np.full(net.n_nodes, -1, np.int64)
    for _ in range(20):
        skus = rng.choice(net.n_skus, size=3, replace=False).astype(np.int64)
        cand, atp, ent = K._gather(skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock,
                                   inv.reserved, net.usable, mark)
        ref = naive.candidates(net, _atp_dict(inv), list(skus))
        assert sorted(cand.tolist()) == sorted(ref)
        d = _atp_dict(inv)
        for c, n in enumerate(cand):
            for g, s in enumerate(skus):
                assert atp[c, g] == d.get((int(n), int(s)), 0)
        assert (mark == -1).all()


def _demand(order, net):
    out: dict[int, int] = {}
    for line in order.lines:
        s = net.sku_index[line.sku]
        out[s] = out.get(s, 0) + line.qty
    return out


@pytest.mark.parametrize("strategy", ["priority", "nearest", "high_stock"])
@pytest.mark.parametrize("seed", range(3))
def test_rule_strategies_match_reference(strategy, seed):
    rng = np.random.default_rng(100 + seed)
    net = make_network(rng, 10, 6)
    inv = make_inventory(rng, net, density=0.5)
    for i in range(40):
        k = int(rng.integers(1, 4))
        order = make_order(rng, net, f"O{i}", max_shipments=k)
        ref = naive.greedy(net, _atp_dict(inv), _demand(order, net), (order.lat, order.lon), k, strategy)
        d = Router(net, inv, Policy(strategy=strategy)).route(order)
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
        pol = Policy(split_penalty=float(rng.choice([0.0, 2.5])))
        k = int(rng.integers(1, 4))
        order = make_order(rng, net, f"O{trial}", max_lines=3, max_qty=3, max_shipments=k)
        fill, cost = naive.brute_force(net, pol, _atp_dict(inv), _demand(order, net), (order.lat, order.lon), k)
        d = Router(net, inv, pol).route(order)
        assert d.units == fill
        assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)
